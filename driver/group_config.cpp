#include "driver/group_config.h"

#include <cstdio>

#include "driver/config.h"

namespace ws::driver {

const char* group_mode_name(GroupMode mode) {
  switch (mode) {
    case GroupMode::kNone: return "none";
    case GroupMode::kOwn: return "own";
    case GroupMode::kShared: return "shared";
  }
  return "none";
}

const char* assignor_name(AssignorKind assignor) {
  return assignor == AssignorKind::kRoundRobin ? "roundrobin" : "range";
}

bool parse_group_mode(std::string_view text, GroupMode& out) {
  for (const GroupMode m : {GroupMode::kNone, GroupMode::kOwn, GroupMode::kShared}) {
    if (text == group_mode_name(m)) {
      out = m;
      return true;
    }
  }
  return false;
}

bool parse_assignor(std::string_view text, AssignorKind& out) {
  for (const AssignorKind a : {AssignorKind::kRange, AssignorKind::kRoundRobin}) {
    if (text == assignor_name(a)) {
      out = a;
      return true;
    }
  }
  return false;
}

std::string GroupSettings::group_id(uint32_t group, uint32_t run_base) const {
  if (!exact_group_id.empty()) return exact_group_id;
  if (!prefix.empty()) return prefix + "-" + std::to_string(group);
  char name[32];
  std::snprintf(name, sizeof name, "wirestress-%08x-", run_base);
  return name + std::to_string(group);
}

std::string GroupSettings::instance_id(uint32_t consumer) const {
  return instance_prefix.empty() ? std::string() : instance_prefix + "-" + std::to_string(consumer);
}

std::optional<ConfigError> validate_group_settings(const RunConfig& config) {
  const GroupSettings& g = config.group;
  auto bad = [](std::string flag, std::string value, std::string accepted) {
    return std::optional<ConfigError>(ConfigError{std::move(flag), std::move(value), std::move(accepted)});
  };
  auto dur = [](std::chrono::nanoseconds d) { return format_duration(d); };
  // Only what reaches the wire is checked here; that a group flag without --group-mode is
  // pointless is the command line's business (tools/group_flags.cpp).
  if (g.prefix.size() > GroupSettings::kMaxPrefixLength ||
      g.prefix.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
          std::string::npos) {
    return bad("--group-prefix", g.prefix.size() > 60 ? g.prefix.substr(0, 40) + "..." : g.prefix,
               "use 1 to 200 letters, digits, '.', '_' and '-'");
  }
  if (g.instance_prefix.size() > GroupSettings::kMaxPrefixLength ||
      g.instance_prefix.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != std::string::npos) {
    return bad("--group-instance-id",
               g.instance_prefix.size() > 60 ? g.instance_prefix.substr(0, 40) + "..." : g.instance_prefix,
               "use 1 to 200 letters, digits, '.', '_' and '-'");
  }
  if (g.exact_group_id.size() > GroupSettings::kMaxGroupIdLength) {
    return bad("-X group.id", g.exact_group_id.substr(0, 40) + "...", "use at most 249 characters");
  }
  if (!(g.churn_rate >= 0 && g.churn_rate <= GroupSettings::kMaxChurnRate)) {
    return bad("--churn-members", std::to_string(g.churn_rate), "use 0 (none) to 100000 members per second");
  }
  if (!g.enabled()) return std::nullopt;
  const uint32_t consumers = config.shard.count > 1 ? config.shard.consumers_total : config.consumers;
  if (consumers == 0) {
    return bad("--group-mode", group_mode_name(g.mode), "groups are made of consumers: give --consumers too");
  }
  if (g.mode == GroupMode::kShared && (g.groups < 1 || g.groups > consumers)) {
    return bad("--groups", std::to_string(g.groups),
               "use 1 to --consumers (" + std::to_string(consumers) + "): every group needs a member");
  }
  // Both go to the broker as int32 milliseconds.
  if (g.session_timeout < std::chrono::milliseconds(1) || g.session_timeout > std::chrono::hours(1)) {
    return bad("--session-timeout", dur(g.session_timeout),
               "use 1ms to 1h (Kafka accepts group.min.session.timeout.ms, 6s, to group.max.session.timeout.ms)");
  }
  if (g.heartbeat_interval < std::chrono::milliseconds(1) || g.heartbeat_interval >= g.session_timeout) {
    return bad("--heartbeat-interval", dur(g.heartbeat_interval),
               "use 1ms or more, below --session-timeout (" + dur(g.session_timeout) + ")");
  }
  if (g.commit_interval.count() != 0 &&
      (g.commit_interval < std::chrono::milliseconds(10) || g.commit_interval > std::chrono::hours(24))) {
    return bad("--commit-interval", dur(g.commit_interval), "use 0 (never) or 10ms to 24h");
  }
  return std::nullopt;
}

}  // namespace ws::driver
