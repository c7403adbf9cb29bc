// --workload=FILE.yaml: an OpenMessaging Benchmark (OMB) workload file, read with OMB's field
// names and meanings (io.openmessaging.benchmark.Workload), and mapped onto a RunConfig. Flags given
// beside it win: the mapping only fills what the command line left alone.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "driver/config.h"

namespace ws::tools {

// The workload as OMB defines it. Defaults are OMB's where it has one.
struct OmbWorkload {
  std::string path;  // the file it was read from (relative payloadFile paths start here too)
  std::string name;
  uint32_t topics = 1;
  uint32_t partitions_per_topic = 1;
  std::string key_distributor = "NO_KEY";  // NO_KEY, KEY_ROUND_ROBIN, RANDOM_NANO
  std::optional<uint32_t> message_size;
  bool use_randomized_payloads = false;
  double random_bytes_ratio = 0;
  uint32_t randomized_payload_pool_size = 0;
  std::string payload_file;
  uint32_t subscriptions_per_topic = 1;
  uint32_t consumer_per_subscription = 1;
  uint32_t producers_per_topic = 1;
  double producer_rate = 0;  // messages/s over all producers of all topics; 0: as fast as possible
  uint64_t consumer_backlog_size_gb = 0;
  std::optional<double> test_duration_minutes;  // absent: wirestress's --duration default
  double warmup_duration_minutes = 1;           // OMB's default

  uint32_t consumers_per_topic() const { return subscriptions_per_topic * consumer_per_subscription; }
};

// Reads FILE. False with `error` (one line naming the key) on a file that cannot be read, a key OMB
// does not have, a value of the wrong kind, or a workload wirestress cannot run
// (consumerBacklogSizeGB > 0).
bool load_omb_workload(const std::string& path, OmbWorkload& out, std::string& error);

// Where OMB's payloadFile is: as written when that exists (OMB resolves it from its working
// directory), else next to the workload file, so the shipped examples run from anywhere.
std::string resolve_payload_file(const OmbWorkload& workload);

// Fills `config` (and the embedded broker's partition count) from the workload, leaving every
// setting whose flag `given` reports as typed on the command line.
void apply_omb_workload(const OmbWorkload& workload, const std::function<bool(const char* flag)>& given,
                        driver::RunConfig& config, int& embedded_partitions);

// How many shared consumer groups the workload's subscriptions make: topics x
// subscriptionsPerTopic (at most one per consumer), 0 without consumers. Each subscription is one
// group whose members split their topic's partitions, so it receives every record once, as in
// OMB. (--group-mode, --groups or -X group.id beside the workload choose otherwise: GroupFlags.)
uint32_t omb_subscription_groups(const OmbWorkload& workload, const driver::RunConfig& config);

}  // namespace ws::tools
