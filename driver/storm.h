// The connection storm (`wirestress storm`): how many reconnects per second a broker survives.
// Connections are opened at a fixed offered rate (open-loop, as wrk2 sends: a slow broker does not
// slow the schedule), each runs the whole handshake its security.protocol needs, then closes:
//
//   tcp -> tls (SSL, SASL_SSL) -> api_versions (brokers that have it) -> sasl (SASL_*) -> metadata (--topic)
//
// The handshake itself is the ConnectionTable's (the same code every producer connects with);
// Storm only paces, times the stages from the link's milestones and closes. At most
// `max_pending` attempts are in progress per worker: an attempt due while the cap is reached is
// dropped and counted, never queued (a queue would turn the open loop into a closed one).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "driver/config.h"
#include "driver/connections.h"
#include "driver/metrics.h"

namespace ws::driver {

enum class StormStage : uint8_t { kTcp, kTls, kApiVersions, kSasl, kMetadata, kTotal, kCount };
inline constexpr size_t kStormStages = static_cast<size_t>(StormStage::kCount);
const char* storm_stage_name(StormStage s);  // "tcp", "tls", "api_versions", "sasl", "metadata", "total"

struct StormConfig {
  using Duration = std::chrono::nanoseconds;
  // What the ConnectionTable reads: bootstrap, security, connect/request timeouts, broker version,
  // io backend, threads. `connection.topic` is only used with `metadata`.
  RunConfig connection;
  double rate = 100;                              // connection attempts per second, all workers
  Duration duration = std::chrono::seconds(10);   // how long attempts are started
  uint32_t max_pending = 1000;                    // attempts in progress at once, all workers
  bool metadata = false;                          // ask Metadata for connection.topic, then close
  // After the last attempt was started: how long the ones in progress may still finish.
  Duration drain_timeout = std::chrono::seconds(5);

  std::optional<ConfigError> validate() const;
  // Per worker: the connection settings the table needs (threads, slots) and the rate's share.
  RunConfig table_config(uint32_t workers) const;
};

// Counts of one stage. A stage is attempted when the previous one completed.
struct StormStageCounts {
  uint64_t attempted = 0;
  uint64_t completed = 0;
  uint64_t failed = 0;
  std::array<uint64_t, static_cast<size_t>(Failure::kCount)> failures{};  // failed, by kind
  void add(const StormStageCounts& o) {
    attempted += o.attempted;
    completed += o.completed;
    failed += o.failed;
    for (size_t i = 0; i < failures.size(); ++i) failures[i] += o.failures[i];
  }
};

struct StormCounters {
  uint64_t scheduled = 0;    // attempts due by the schedule
  uint64_t dropped = 0;      // due while max_pending were in progress: never started
  uint64_t unfinished = 0;   // still in progress when the drain ended (counted failed in total)
  uint64_t api_versions_skipped = 0;  // handshakes without ApiVersions (Kafka 0.9)
  uint64_t pending = 0;      // gauge: attempts in progress
  std::map<int16_t, uint64_t> metadata_errors;  // the topic's error code in Metadata answers
  std::array<StormStageCounts, kStormStages> stages{};
  void add(const StormCounters& o);
  const StormStageCounts& stage(StormStage s) const { return stages[static_cast<size_t>(s)]; }
};

struct StormMetrics {
  StormCounters counters;
  // Per stage, microseconds. total runs from the attempt's scheduled start (so a late start of
  // the client is in it, the coordinated-omission view) to the connection being ready to close.
  std::array<stats::HdrHistogram, kStormStages> latency_us = {
      make_latency_histogram(), make_latency_histogram(), make_latency_histogram(),
      make_latency_histogram(), make_latency_histogram(), make_latency_histogram()};
  // How late attempts started against their schedule (the client's own lag, up to a poll's
  // 1 ms rounding when all is well): total minus this is the broker's share.
  stats::HdrHistogram start_lag_us = make_latency_histogram();
  uint64_t latency_out_of_range = 0;
  void add(const StormMetrics& o);
};

// One worker's storm, over its ConnectionTable. The worker routes the table's link events here
// and calls tick() on every loop iteration; the table does the I/O-free protocol work.
class Storm {
 public:
  enum class Phase : uint8_t {
    kProbe,    // one connection completes a handshake first, unmeasured: it learns the broker's
               // versions (Kafka 0.9 costs 3 s), which every attempt then starts from
    kStorm,    // attempts started on schedule
    kDrain,    // no new attempts; those in progress may finish until the drain timeout
    kDone,
  };

  // `rate` and `max_pending` are this worker's share. `offset_ns` staggers the workers' schedules.
  Storm(const StormConfig& config, const RunConfig& table_config, ConnectionTable& table, double rate,
        uint32_t max_pending, int64_t offset_ns = 0);

  void start(int64_t now);
  // Opens the attempts due at `now`, moves between phases.
  void tick(int64_t now);
  // The event loop reported the TCP connect of a TLS connection done (before its TLS handshake).
  void on_tcp_connected(LinkId id, int64_t at_ns);
  void on_link_event(const LinkEvent& e, int64_t now);
  // Ctrl-C: start no more attempts; those in progress may finish within the drain timeout.
  // (Before the storm started: it ends at once.)
  void stop(int64_t now);
  // Counts what is still in progress as unfinished and closes it.
  void finish(int64_t now);

  Phase phase() const { return phase_; }
  bool done() const { return phase_ == Phase::kDone; }
  int64_t next_wake() const;
  // When the measured storm began and ended (the ending of its last attempt, or now).
  int64_t storm_start_ns() const { return storm_start_ns_; }
  int64_t storm_end_ns() const { return storm_end_ns_; }
  // Why the storm never started: no probe handshake completed ("" = it started).
  const std::string& fatal() const { return fatal_; }
  StormMetrics& metrics() { return metrics_; }
  const StormMetrics& metrics() const { return metrics_; }

 private:
  struct Attempt {
    bool active = false;
    bool probe = false;       // the unmeasured probe connection
    bool metadata_sent = false;
    int64_t scheduled_ns = 0;
    int64_t tcp_ns = 0;       // TCP connected (TLS loops only)
    int64_t ready_ns = 0;     // the table's handshake done (after SASL, if any)
    int64_t metadata_ns = 0;  // Metadata answered
  };
  void open_attempt(int64_t scheduled, int64_t now, bool probe);
  void on_ready(LinkId id, int64_t now);
  void complete(LinkId id, int64_t now);
  void fail(LinkId id, Failure why, int64_t now);
  void end_attempt(LinkId id, int64_t now);
  // Counts and times the stages the attempt went through; `why` names the failure of the first
  // stage it did not reach (Failure::kCount: it completed).
  void account(LinkId id, int64_t now, Failure why);
  void record(StormStage s, int64_t from_ns, int64_t to_ns);
  StormStageCounts& stage(StormStage s) { return metrics_.counters.stages[static_cast<size_t>(s)]; }
  void begin_storm(int64_t now);

  const StormConfig& config_;
  const RunConfig& table_config_;
  ConnectionTable& table_;
  const double period_ns_;  // between two attempts; due times are computed, never summed (no drift)
  const uint32_t max_pending_;
  const int64_t offset_ns_;
  const int64_t duration_ns_;
  Phase phase_ = Phase::kProbe;
  int64_t next_due_ns_ = INT64_MAX;
  uint64_t next_index_ = 0;  // of the attempt due at next_due_ns_
  int64_t storm_start_ns_ = 0;
  int64_t storm_end_ns_ = 0;
  int64_t schedule_end_ns_ = INT64_MAX;
  int64_t drain_deadline_ns_ = INT64_MAX;
  int64_t probe_deadline_ns_ = INT64_MAX;
  int64_t probe_retry_ns_ = INT64_MAX;  // the next probe after a failed one
  std::string fatal_;
  uint32_t pending_ = 0;
  std::vector<Attempt> attempts_;  // by LinkId
  StormMetrics metrics_;
  const std::string client_id_;
};

// What a storm run produced, merged over its workers.
struct StormResult {
  StormMetrics metrics;
  double elapsed_s = 0;        // from the first scheduled attempt to the end of the last one
  double offered_rate = 0;     // attempts/s asked for
  uint32_t threads = 1;
  std::string io_backend;
  std::string security_protocol = "PLAINTEXT";
  std::string sasl_mechanism;
  int64_t start_time_unix_ms = 0;
  bool interrupted = false;
  std::string fatal;           // what ended the run early (credentials, a certificate), "" = none
  // Handshakes completed per second of the measured storm.
  double completed_per_s() const {
    return elapsed_s > 0 ? static_cast<double>(metrics.counters.stage(StormStage::kTotal).completed) / elapsed_s : 0;
  }
};

// One line of progress, once a second.
struct StormProgress {
  double elapsed_s = 0;
  StormCounters total;
};

}  // namespace ws::driver
