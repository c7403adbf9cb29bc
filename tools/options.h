// The flags of one run, shared by `wirestress`, the scenario flags of `sweep` and `ceiling`, and
// `rdkafka-baseline`: every flag, its default, and the check that turns bad input into one line
// naming the flag (exit code 2). The values land in a driver::RunConfig, which validates itself.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "driver/config.h"
#include "tools/client_properties.h"
#include "tools/group_flags.h"
#include "tools/omb_workload.h"

namespace ws::tools {

// A single run as the command line asks for it: the scenario and where its results go.
struct RunOptions {
  driver::RunConfig run;
  std::string json_path;        // --json=FILE
  std::string csv_path;         // --csv=FILE
  std::string hlog_path;        // --hlog=FILE
  std::string omb_result_path;  // --omb-result=FILE: the result as OpenMessaging Benchmark writes it
  std::optional<OmbWorkload> workload;  // --workload=FILE.yaml, as read (the run holds its mapping)
  int prometheus_port = -1;     // --prometheus=PORT; -1 = off
  std::string prometheus_bind = "127.0.0.1";
  int embedded_partitions = 8;  // --partitions: topic size when wirestress starts its own broker
  int embedded_brokers = 1;     // --brokers: its broker count (leaders spread over them)
  bool quiet = false;           // --quiet: no per-interval lines
  std::chrono::nanoseconds latency_max = std::chrono::hours(1);  // --latency-max
  int latency_digits = 3;                                        // --latency-digits
};

// The run flags on a CLI11 app. Values are parsed as text and checked in finish(), so every
// error names its flag and the accepted values the same way.
class RunFlags {
 public:
  // `tool` names the program in messages ("wirestress", "rdkafka-baseline").
  explicit RunFlags(std::string tool = "wirestress") : tool_(std::move(tool)) {}
  void add_to(CLI::App& app);
  // After app.parse(): the options, or nothing with `error` set to one line.
  std::optional<RunOptions> finish(const CLI::App& app, std::string& error) const;
  // What -X / --config said beyond flags (security settings, batch.size), from
  // expand_client_properties(); apply before finish().
  void set_properties(MappedProperties mapped) {
    properties_ = std::move(mapped);
    group_flags_.set_group_id_property(properties_.group_id);  // -X group.id
  }

 private:
  // --shards, --shard (or JOB_COMPLETION_INDEX) and --start-at, once the totals are checked.
  bool apply_sharding(const CLI::App& app, driver::RunConfig& r, std::string& error) const;

  std::string tool_;
  RunOptions o_;
  MappedProperties properties_;
  std::vector<std::string> x_properties_;  // -X key=value (read by expand_client_properties)
  std::string config_file_;                // --config=FILE (likewise)
  std::string workload_path_;              // --workload=FILE.yaml
  GroupFlags group_flags_;                 // --group-mode and the flags around it
  std::string bootstrap_, duration_ = "10s", warmup_ = "0", linger_ = "0", compression_ = "none", io_ = "uring",
              broker_version_ = "auto", request_timeout_ = "30s", connect_timeout_ = "10s",
              connect_deadline_ = "60s", reconnect_backoff_ = "100ms", reconnect_backoff_max_ = "5s",
              drain_timeout_ = "5s", stall_timeout_ = "30s", report_interval_ = "1s", acks_ = "1",
              latency_max_ = "1h", consume_from_ = "latest", fetch_max_wait_ = "500ms", partitioner_,
              source_addresses_, payload_ = "pattern", payload_compressibility_, shards_ = "1", shard_, start_at_;
};

// Client properties (-X key=value, --config=FILE) turned into flags placed before the command
// line's own arguments (so explicit flags win), plus what maps onto no flag.
struct ExpandedCommandLine {
  std::vector<std::string> args;  // argv[0], the properties' flags, then argv[1..]
  std::vector<const char*> argv;  // pointers into args
  MappedProperties mapped;
  int argc() const { return static_cast<int>(argv.size()); }
};
bool expand_client_properties(int argc, const char* const* argv, ExpandedCommandLine& out, std::string& error);

struct ParseOutcome {
  std::optional<RunOptions> options;  // set when the run should go ahead
  int exit_code = 0;                  // otherwise: 0 after --help or --version, 2 after bad input
  std::string output;                 // help text or the one-line error
};

// A single run's command line (argv[0] is the program). Used by rdkafka-baseline and the tests;
// `wirestress` itself adds its subcommands around the same RunFlags.
ParseOutcome parse_options(int argc, const char* const* argv, const std::string& tool = "wirestress");

// "--json=" (a flag with an empty value) would take the next argument as its value: find it
// before parsing. Returns the flag, or "".
std::string flag_with_empty_value(int argc, const char* const* argv);

// Checks, before a run, that a result file can be written (created or truncated). "" = fine.
std::string check_output_path(const std::string& flag, const std::string& path);

// The program's version line: version, git revision, I/O backends this machine has.
std::string version_text(const std::string& tool);

using driver::parse_duration;

}  // namespace ws::tools
