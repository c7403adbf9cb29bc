// What a worker counts while it runs. Each worker owns one Metrics and never shares it during a
// run; the runner merges copies at interval ticks and at the end (the Seastar map-reduce model).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "driver/group_metrics.h"
#include "stats/histogram.h"

namespace ws::driver {

// Latency histograms hold microseconds, from 1 us to `highest_us` with `significant_figures`
// (default 1 hour, 3 figures: 184 KiB each). Set once at start-up (--latency-max,
// --latency-digits) before any Metrics exists; every histogram of a run must share one layout
// so interval snapshots merge by adding counts.
struct LatencyHistogramSpec {
  int64_t highest_us = 3'600'000'000LL;
  int significant_figures = 3;
};
inline LatencyHistogramSpec& latency_histogram_spec() {
  static LatencyHistogramSpec spec;
  return spec;
}
inline stats::HdrHistogram make_latency_histogram() {
  const LatencyHistogramSpec& spec = latency_histogram_spec();
  return stats::HdrHistogram(1, spec.highest_us, spec.significant_figures);
}

// Failures that are not Kafka error codes, counted by kind.
enum class Failure : uint8_t {
  kConnectFailed,      // connect() refused, unreachable or timed out
  kDisconnected,       // connection lost with requests in flight
  kRequestTimeout,     // no response within --request-timeout
  kDecodeError,        // a response we could not parse (counted, connection reset)
  kCorrelationMismatch,  // response out of order: the connection is reset
  kMetadataFailed,     // topic never got a leader within the retry budget
  kUnsupported,        // broker lacks what the scenario needs (e.g. zstd before Kafka 2.1)
  kResponseTooLarge,   // a response frame above the size limit: the connection is reset
  kTlsHandshakeFailed,       // the TLS handshake failed (not a certificate problem)
  kCertificateVerifyFailed,  // the broker's certificate (or host name) did not verify
  kAuthenticationFailed,     // SASL: the broker refused the credentials
  kUnsupportedSaslMechanism,  // SASL: the broker does not offer the configured mechanism
  kReceiveMemoryExhausted,    // split frames held by the worker's connections passed its budget
  kCount
};
const char* failure_name(Failure f);

// Per broker (by BrokerRegistry index): what the clients of one worker did with it.
struct BrokerCounters {
  uint64_t connections_established = 0;
  uint64_t connections_failed = 0;  // connect refused or timed out, or the first request unanswered
  uint64_t produce_requests = 0;    // sent to this broker
  uint64_t produce_records_failed = 0;  // answered with an error, or lost with the connection
  uint64_t fetch_requests = 0;
  uint64_t fetch_errors = 0;        // partitions answered with an error
  void add(const BrokerCounters& o) {
    connections_established += o.connections_established;
    connections_failed += o.connections_failed;
    produce_requests += o.produce_requests;
    produce_records_failed += o.produce_records_failed;
    fetch_requests += o.fetch_requests;
    fetch_errors += o.fetch_errors;
  }
};

// Everything a worker counts, producers' side and (consume_*) consumers' side.
struct RunCounters {
  uint64_t messages_sent = 0;       // records written to the socket
  uint64_t bytes_sent = 0;          // request bytes on the wire
  uint64_t requests_sent = 0;
  uint64_t messages_acked = 0;      // records the broker confirmed (acks 1/-1)
  uint64_t requests_acked = 0;
  uint64_t messages_failed = 0;     // records the broker rejected or that were lost in flight
  uint64_t connections_attempted = 0;
  uint64_t connections_established = 0;
  uint64_t connections_failed = 0;
  uint64_t reconnects = 0;
  uint64_t connections_churned = 0;  // closed on purpose by --churn and connected again
  uint64_t connections_open = 0;    // gauge: established and not yet closed
  uint64_t clients_producing = 0;   // gauge: producers ready and not yet done
  // Clients that became ready (connected, negotiated, metadata known; consumers: positioned) at
  // least once, and of those the ones that got there only after the Connecting phase ended.
  uint64_t producers_connected = 0;
  uint64_t consumers_connected = 0;
  uint64_t clients_connected_late = 0;
  uint64_t metadata_refreshes = 0;  // metadata answers the workers' caches took in
  uint64_t leader_changes = 0;      // partitions whose leader moved between two answers
  uint64_t latency_out_of_range = 0;  // samples the histogram could not hold
  uint64_t messages_unsent_due = 0;   // paced records due before the end but never sent (backlog)
  // Time the workers' event loops spent working rather than waiting in poll(), summed over
  // workers. Divided by elapsed time x workers it says how close the client itself is to
  // saturation: near 1, the client, not the broker, limits the run.
  uint64_t loop_busy_ns = 0;

  uint64_t consume_received = 0;      // records delivered to consumers (each consumer counts its own)
  uint64_t consume_bytes = 0;         // fetch response bytes
  uint64_t consume_fetches = 0;       // fetch responses
  uint64_t consume_duplicates = 0;    // --verify: a record a consumer had already received
  uint64_t consume_out_of_order = 0;  // --verify: arrived after a later record of its producer
  uint64_t consume_corrupt = 0;       // --verify: hash mismatch or no stamp; any: failed batch CRCs
  uint64_t consume_other_runs = 0;    // --verify: stamped by another wirestress run (not checked)
  uint64_t consumers_fetching = 0;    // gauge: consumers positioned and fetching
  // --idempotent: ids (and new epochs) InitProducerId gave, how many of them replaced one after a
  // batch was lost or refused, and batches the broker had already written (DUPLICATE_SEQUENCE_NUMBER).
  uint64_t producer_ids_assigned = 0;
  uint64_t producer_id_resets = 0;
  uint64_t produce_duplicate_sequences = 0;
  std::array<uint64_t, static_cast<size_t>(Failure::kCount)> failures{};
  std::map<int16_t, uint64_t> errors_by_code;  // Kafka error code -> failed records (or requests)
  // Requests still unanswered when the run ended (the drain deadline), by API key.
  std::map<int16_t, uint64_t> unanswered_by_api;
  std::vector<BrokerCounters> brokers;  // by BrokerRegistry index
  GroupCounters groups;                 // consumer-group members (--group-mode)

  void add(const RunCounters& o);
  BrokerCounters& broker(size_t index) {
    if (brokers.size() <= index) brokers.resize(index + 1);
    return brokers[index];
  }
};

// Counters since `before`: cumulative values minus the earlier ones; gauges keep their current value.
RunCounters counters_since(const RunCounters& now, const RunCounters& before);

struct Metrics {
  RunCounters counters;
  stats::HdrHistogram latency_us = make_latency_histogram();          // from intended send time
  stats::HdrHistogram service_latency_us = make_latency_histogram();  // from actual send time
  // How late each acknowledged record's send started against its intended send time (OMB's
  // publishDelayLatency), per record: latency_us = publish_delay_us + service_latency_us.
  stats::HdrHistogram publish_delay_us = make_latency_histogram();
  stats::HdrHistogram e2e_latency_us = make_latency_histogram();  // send time to a consumer's receipt
  GroupLatencies group_latency;  // heartbeat and commit round trips of group members
  stats::HdrHistogram init_producer_id_latency_us = make_latency_histogram();  // --idempotent

  void add(const Metrics& o) {
    counters.add(o.counters);
    add_histograms(o);
  }
  void add_histograms(const Metrics& o) {
    latency_us.add(o.latency_us);
    service_latency_us.add(o.service_latency_us);
    publish_delay_us.add(o.publish_delay_us);
    e2e_latency_us.add(o.e2e_latency_us);
    group_latency.add(o.group_latency);
    init_producer_id_latency_us.add(o.init_producer_id_latency_us);
  }
  void reset_histograms() {
    latency_us.reset();
    service_latency_us.reset();
    publish_delay_us.reset();
    e2e_latency_us.reset();
    group_latency.reset();
    init_producer_id_latency_us.reset();
  }
};

}  // namespace ws::driver
