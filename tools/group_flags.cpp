#include "tools/group_flags.h"

#include "driver/config.h"

namespace ws::tools {

void GroupFlags::add_to(CLI::App& app) {
  app.add_option("--group-mode", mode_,
                 "Consumer groups: none (each consumer reads every partition alone, no coordinator), own (each "
                 "consumer alone in a group of its own) or shared (the consumers split into --groups groups, each "
                 "member reading the partitions its group's leader assigns it)")
      ->capture_default_str();
  app.add_option("--groups", groups_,
                 "With --group-mode=shared: how many groups the consumers form (consumer i joins group i % N)")
      ->capture_default_str();
  app.add_option("--assignor", assignor_,
                 "How a group's leader assigns partitions: range or roundrobin (as the Java client's "
                 "RangeAssignor and RoundRobinAssignor)")
      ->capture_default_str();
  app.add_option("--session-timeout", session_timeout_,
                 "A member not heard from this long is dropped by the coordinator (also JoinGroup's rebalance "
                 "timeout; Kafka 0.9 accepts 6s to 30s)")
      ->capture_default_str();
  app.add_option("--heartbeat-interval", heartbeat_interval_,
                 "Time between a member's heartbeats; below --session-timeout")
      ->capture_default_str();
  app.add_option("--commit-interval", commit_interval_,
                 "Each member commits the offsets it has read this often (auto.commit.interval.ms); 0 = never")
      ->capture_default_str();
  app.add_option("--group-prefix", prefix_,
                 "Group ids are PREFIX-<n> (letters, digits, '.', '_', '-'); default: wirestress-<run id>, unique "
                 "to the run");
}

bool GroupFlags::finish(const CLI::App& app, driver::GroupSettings& settings, std::string& error) const {
  auto bad = [&](const std::string& flag, const std::string& value, const std::string& accepted) {
    error = flag + ": '" + value + "' is not valid; " + accepted;
    return false;
  };
  if (!driver::parse_group_mode(mode_, settings.mode)) return bad("--group-mode", mode_, "use none, own or shared");
  if (!driver::parse_assignor(assignor_, settings.assignor))
    return bad("--assignor", assignor_, "use range or roundrobin");
  const std::pair<const char*, std::pair<const std::string*, std::chrono::nanoseconds*>> durations[] = {
      {"--session-timeout", {&session_timeout_, &settings.session_timeout}},
      {"--heartbeat-interval", {&heartbeat_interval_, &settings.heartbeat_interval}},
      {"--commit-interval", {&commit_interval_, &settings.commit_interval}},
  };
  for (const auto& [flag, target] : durations) {
    if (!driver::parse_duration(*target.first, *target.second)) {
      return bad(flag, *target.first, "use a duration such as 500ms, 10s, 2m or 1h");
    }
  }
  settings.groups = groups_;
  settings.prefix = prefix_;
  // A group flag without the mode it belongs to would be ignored without a word.
  if (settings.mode != driver::GroupMode::kShared && app.count("--groups")) {
    return bad("--groups", std::to_string(groups_), "it splits shared groups: give --group-mode=shared too");
  }
  if (!settings.enabled()) {
    for (const char* flag :
         {"--assignor", "--session-timeout", "--heartbeat-interval", "--commit-interval", "--group-prefix"}) {
      if (app.count(flag)) {
        return bad(flag, app.get_option(flag)->as<std::string>(),
                   "it sets consumer groups: give --group-mode=own or shared too");
      }
    }
  }
  return true;
}

}  // namespace ws::tools
