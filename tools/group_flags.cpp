#include "tools/group_flags.h"

#include <cmath>
#include <cstdlib>

#include "driver/config.h"

namespace ws::tools {
namespace {

// A finite number, 0 or more ("2", "0.5"), the whole text.
bool parse_rate(const std::string& text, double& out) {
  if (text.empty() || text.find_first_not_of("0123456789.") != std::string::npos) return false;
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && std::isfinite(out);
}

}  // namespace

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
  app.add_option("--churn-members", churn_,
                 "Rebalance storm: members leave (committing first, then LeaveGroup) and join again as new members "
                 "at R per second in total over the measured time, each member in turn; 0 = none")
      ->capture_default_str();
  app.add_option("--group-instance-id", instance_prefix_,
                 "Static membership (KIP-345, JoinGroup v5+, Kafka 2.3+): member n is PREFIX-<n>, numbered over all "
                 "shards; a churned static member sends no LeaveGroup and joins again under the same id");
}

bool GroupFlags::finish(const CLI::App& app, driver::GroupSettings& settings, std::string& error,
                        uint32_t workload_groups) const {
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
  if (workload_groups > 0 && !app.count("--group-mode") && !app.count("--groups") && group_id_property_.empty()) {
    settings.mode = driver::GroupMode::kShared;
    settings.groups = workload_groups;
  }
  settings.prefix = prefix_;
  settings.instance_prefix = instance_prefix_;
  if (!parse_rate(churn_, settings.churn_rate)) {
    return bad("--churn-members", churn_, "use a number of members per second, 0 (none) or more, e.g. 2 or 0.5");
  }
  if (app.count("--group-instance-id") && instance_prefix_.empty()) {
    return bad("--group-instance-id", "", "give a prefix, e.g. --group-instance-id=consumer");
  }
  if (!group_id_property_.empty()) {
    // -X group.id=G: what a librdkafka user means, every consumer in the one group G.
    const std::string given = "-X group.id=" + group_id_property_;
    if (app.count("--group-mode") && settings.mode != driver::GroupMode::kShared) {
      error = given + " and --group-mode=" + mode_ +
              " conflict: group.id puts every consumer in one shared group; drop one of them";
      return false;
    }
    if (app.count("--groups") && groups_ != 1) {
      error = given + " and --groups=" + std::to_string(groups_) +
              " conflict: group.id names one group; drop one of them";
      return false;
    }
    if (app.count("--group-prefix")) {
      error = given + " and --group-prefix=" + prefix_ + " conflict: group.id names the group; drop one of them";
      return false;
    }
    settings.mode = driver::GroupMode::kShared;
    settings.groups = 1;
    settings.exact_group_id = group_id_property_;
  }
  // A group flag without the mode it belongs to would be ignored without a word.
  if (settings.mode != driver::GroupMode::kShared && app.count("--groups")) {
    return bad("--groups", std::to_string(groups_), "it splits shared groups: give --group-mode=shared too");
  }
  if (!settings.enabled()) {
    for (const char* flag :
         {"--assignor", "--session-timeout", "--heartbeat-interval", "--commit-interval", "--group-prefix",
          "--churn-members", "--group-instance-id"}) {
      if (app.count(flag)) {
        return bad(flag, app.get_option(flag)->as<std::string>(),
                   "it sets consumer groups: give --group-mode=own or shared too");
      }
    }
  }
  return true;
}

}  // namespace ws::tools
