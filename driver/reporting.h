// The reporting side of a run, shared by wirestress and rdkafka-baseline so that both compute
// their numbers the same way: every report interval it empties the workers' mailboxes into one
// interval report (the progress line, the JSON series, /metrics), watches for a stalled run, and
// at the end assembles the result: the measured window's counters and histograms (split exactly
// at the start of the measured time by each worker), the whole run's connection figures, the
// phases' times and the brokers.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "driver/brokers.h"
#include "driver/config.h"
#include "driver/group_report.h"
#include "driver/metrics.h"
#include "driver/phase.h"
#include "driver/record_intake.h"
#include "driver/run_control.h"

namespace ws::driver {

// One report tick, as the reporting thread sees it.
struct IntervalReport {
  double elapsed_s = 0;   // since the start of the run, connecting included
  double interval_s = 0;  // this interval's actual length (the last one is usually shorter)
  Phase phase = Phase::kMeasuring;  // the phase the interval belongs to (where it began)
  uint32_t workers = 1;   // worker threads (for per-worker figures such as loop busy time)
  uint32_t clients = 0;   // configured producers + consumers (for the connect ramp)
  RunCounters total;      // cumulative
  RunCounters delta;      // this interval only (gauges are current values)
  const Metrics* interval = nullptr;  // this interval's histograms
  // `interval` split where the result splits it: the part recorded in the measured time (and its
  // drain), which is what the result counts, and the rest (connecting and warm-up).
  const Metrics* measured = nullptr;
  const Metrics* before_measured = nullptr;
  int64_t start_unix_ms = 0;  // wall-clock time the interval began (merge lines hosts up by it)
  bool warmup() const { return phase == Phase::kConnecting || phase == Phase::kWarmUp; }
};

// What the wall clock of this host is worth for lining up hosts: CLOCK_REALTIME, and whether the
// kernel holds it synchronised (NTP or chrony) with its estimated maximum error.
struct ClockReport {
  std::string source = "CLOCK_REALTIME";
  bool synchronized = false;
  double max_error_ms = -1;  // -1: unknown
};
ClockReport clock_report();

// A broker as the run met it.
struct BrokerReport {
  uint32_t index = 0;
  int32_t node_id = -1;
  std::string address;
  bool versions_known = false;
  BrokerVersions versions;
  BrokerCounters counters;
};

struct RunResult {
  RunCounters counters;  // the measured time (and its drain) only: connecting and warm-up excluded
  RunCounters totals;    // the whole run: what the connection figures report
  Metrics metrics;       // histograms of the measured time
  std::vector<ConsumerTally> consumers;  // per consumer, ordered by id (loss covers the whole run)
  double elapsed_s = 0;  // length of the measured time, with its drain
  std::string io_backend;  // what actually ran ("io_uring", "asio", "tls+io_uring", "librdkafka")
  std::string security_protocol = "PLAINTEXT";  // security.protocol of every connection
  std::string sasl_mechanism;  // SASL_*: the mechanism
  // SSL, SASL_SSL: kernel TLS. The loops keep TLS in user space (memory BIOs under io_uring), so
  // `used` is false; what the machine would offer is reported for whoever compares hosts.
  struct Ktls {
    bool used = false;
    bool kernel = false;   // the kernel has the "tls" TCP upper layer
    bool openssl = false;  // OpenSSL was built with kTLS
    std::string detail;    // one line: why not, and what is missing
  };
  std::optional<Ktls> ktls;
  uint32_t threads = 0;
  uint32_t clients = 0;    // configured producers
  uint32_t consumer_count = 0;
  uint32_t run_id = 0;  // random per run (stamped into --verify records): merge tells runs apart by it
  // Phases.
  int64_t start_time_unix_ms = 0;
  // Wall-clock bounds of the measured time (0: it never began): shards of one test are lined up
  // and checked by them.
  int64_t measure_start_unix_ms = 0;
  int64_t measure_end_unix_ms = 0;
  // --start-at: how long after it the load began (clients still connecting, or the process started
  // late); 0 when on time or not asked.
  double start_late_s = 0;
  ClockReport clock;
  // --idempotent: InitProducerId round trips over the whole run (most while connecting).
  stats::HdrHistogram init_producer_id_latency_us = make_latency_histogram();
  double connect_duration_s = 0;  // from the start to the end of Connecting (or of the run)
  bool connecting_completed = false;  // every client got ready before --connect-deadline
  bool interrupted = false;   // Ctrl-C
  bool stalled = false;       // --stall-timeout ended it
  std::string fatal;          // a condition that ended the whole run ("" = none)
  bool fatal_is_bad_flag = false;  // ... caused by a flag's value: exit 2
  std::vector<BrokerReport> brokers;
  std::optional<GroupReport> groups;  // --group-mode: the groups judged as groups

  uint64_t producers_never_connected() const { return clients - std::min<uint64_t>(clients, totals.producers_connected); }
  uint64_t consumers_never_connected() const {
    return consumer_count - std::min<uint64_t>(consumer_count, totals.consumers_connected);
  }
};

// How the run went, in one word for the summary and one number for the process.
enum class ExitStatus : int { kOk = 0, kRuntimeError = 1, kUsage = 2, kDegraded = 3 };
struct Verdict {
  ExitStatus status = ExitStatus::kOk;
  std::vector<std::string> reasons;  // why it is degraded, one line each
};
// 3 (degraded): some client or consumer never connected, every consumer failed, nothing was
// sent, every record sent failed, the run stalled, or a fatal condition ended it.
Verdict judge(const RunResult& result, const RunConfig& config);

class ReportCollector {
 public:
  ReportCollector(const RunConfig& config, RunControl& control, std::vector<Mailbox*> mailboxes, uint32_t threads);
  // Runs until every mailbox is finished; calls on_interval every --report-interval and at the
  // phase boundaries, from the calling thread. The run must have started (timeline.begin()).
  RunResult collect(const std::function<void(const IntervalReport&)>& on_interval);

 private:
  const RunConfig& config_;
  RunControl& control_;
  std::vector<Mailbox*> mailboxes_;
  uint32_t threads_;
};

// The brokers of the registry with the run's per-broker counters.
std::vector<BrokerReport> broker_reports(BrokerRegistry& registry, const RunCounters& totals);

int64_t steady_clock_ns();
// The steady-clock instant (as steady_clock_ns(), `now_steady_ns` being now) of a wall-clock time in
// Unix ms; 0 stays 0.
int64_t steady_ns_of_unix_ms(int64_t unix_ms, int64_t now_steady_ns);


}  // namespace ws::driver
