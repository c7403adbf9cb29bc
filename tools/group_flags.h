// The consumer-group flags of a run (--group-mode, --groups, --assignor, --session-timeout,
// --heartbeat-interval, --commit-interval, --group-prefix, --churn-members, --group-instance-id),
// parsed as text like the other run flags so that every bad value is one line naming its flag, and
// the client property group.id (-X group.id=G: one shared group named G). RunFlags
// (tools/options.h) holds one.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

#include "driver/group_config.h"

namespace ws::tools {

class GroupFlags {
 public:
  void add_to(CLI::App& app);
  // After app.parse(): fills `settings`, or says why not in `error` ("--flag: 'value' is not
  // valid; ..."). Ranges and combinations with other flags are RunConfig::validate()'s.
  // `workload_groups`: an OMB workload's subscriptions (tools/omb_workload.h) make that many shared
  // groups unless --group-mode, --groups or -X group.id choose otherwise; 0: no workload groups.
  bool finish(const CLI::App& app, driver::GroupSettings& settings, std::string& error,
              uint32_t workload_groups = 0) const;
  // -X group.id=G (tools/client_properties.h), before finish().
  void set_group_id_property(std::string group_id) { group_id_property_ = std::move(group_id); }

 private:
  std::string mode_ = "none", assignor_ = "range", session_timeout_ = "10s", heartbeat_interval_ = "3s",
              commit_interval_ = "5s", prefix_, churn_ = "0", instance_prefix_, group_id_property_;
  uint32_t groups_ = 1;
};

}  // namespace ws::tools
