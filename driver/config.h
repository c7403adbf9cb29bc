// What one wirestress run does: the scenario, as the command line gave it. Plain data; tools/
// parses flags into it and driver/ runs it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/compression.h"

namespace ws::driver {

enum class IoBackend : uint8_t { kUring, kAsio };

// What the client assumes about the broker before talking to it.
enum class BrokerVersion : uint8_t {
  kAuto,    // ask with ApiVersions; if the broker closes or ignores it (Kafka < 0.10), fall back to 0.9
  kV0_9,    // never send ApiVersions: Produce v1, Metadata v0 (magic 0 messages)
  kV0_10,   // the broker has ApiVersions (0.10.0+): negotiate, never fall back
};

struct RunConfig {
  std::vector<std::string> bootstrap;  // host:port, at least one
  std::string topic = "wirestress";
  uint32_t clients = 1;
  double rate = 0;                       // aggregate messages/s over all clients; 0 = as fast as possible
  std::chrono::nanoseconds duration = std::chrono::seconds(10);  // 0 = until --messages or Ctrl-C
  std::chrono::nanoseconds warmup{0};    // run this long first, excluded from the result
  uint64_t messages = 0;                 // total over all clients; 0 = until --duration
  int16_t acks = 1;                      // 0, 1 or -1
  uint32_t batch = 1;                    // records per produce request
  std::chrono::nanoseconds linger{0};    // wait up to this long to fill a batch when unpaced
  protocol::Codec compression = protocol::Codec::kNone;
  uint32_t message_size = 100;           // value bytes
  uint32_t key_size = 0;                 // 0 = null keys
  uint32_t max_in_flight = 5;            // requests awaiting a response, per connection
  uint32_t threads = 1;
  IoBackend io = IoBackend::kUring;
  BrokerVersion broker_version = BrokerVersion::kAuto;
  std::string client_id_prefix = "wirestress";
  std::chrono::nanoseconds request_timeout = std::chrono::seconds(30);
  std::chrono::nanoseconds connect_timeout = std::chrono::seconds(10);
  std::chrono::nanoseconds drain_timeout = std::chrono::seconds(5);  // after stop: wait for acks
  std::chrono::nanoseconds report_interval = std::chrono::seconds(1);
  // Connection handshakes (TCP connect until the broker's first response) in progress per worker.
  // Kept below the broker's listen backlog (Kafka's default is 50): past it, the kernel answers
  // with SYN cookies, the client believes it is connected and the broker never sees it.
  uint32_t connect_concurrency = 16;

  // Consumers: simulated fetch clients, each reading every partition of the topic on its own (as
  // if each were alone in its consumer group). With clients == 0, --messages is per consumer.
  uint32_t consumers = 0;
  bool consume_from_earliest = false;  // false: start at the end of the log, before producing begins
  std::chrono::nanoseconds fetch_max_wait = std::chrono::milliseconds(500);
  uint32_t fetch_min_bytes = 1;
  uint32_t fetch_max_bytes = 1024 * 1024;  // per response (Fetch v3+), per partition before that
  // Producers write (run, producer, sequence, send time, hash) into every value; consumers check
  // it and count lost, duplicated, reordered and corrupt records, and end-to-end latency.
  bool verify = false;
};

}  // namespace ws::driver
