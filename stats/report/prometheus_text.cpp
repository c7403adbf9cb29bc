#include "stats/report/prometheus_text.h"

#include <limits>

#include "protocol/compression.h"
#include "protocol/errors.h"
#include "stats/prometheus.h"
#include "stats/report/group_output.h"
#include "ws_version.h"

namespace ws::report {
namespace {

// Histogram bucket bounds in seconds, the same on every load host so that Prometheus can add the
// hosts' buckets up (histogram_quantile over sum by (le)): 100 us to 1 min, about 1-2.5-5 a decade.
constexpr double kLatencyBucketsSeconds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                             0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};

// Seconds; NaN for no samples, as the summaries' quantiles are then.
double latency_mean(const stats::HdrHistogram* h_us) {
  if (h_us == nullptr || h_us->total_count() == 0) return std::numeric_limits<double>::quiet_NaN();
  return h_us->mean() * 1e-6;
}

}  // namespace

std::string render_prometheus(const driver::IntervalReport& latest, const driver::RunConfig& config,
                              const driver::Metrics* run_so_far) {
  stats::PrometheusText out;
  const driver::RunCounters& t = latest.total;

  out.gauge("wirestress_build_info", "The wirestress build as labels; the value is always 1.", 1,
            {{"version", WS_VERSION}, {"revision", WS_GIT_REVISION}});
  out.counter("wirestress_produce_messages_sent_total", "Records written to the socket.", t.messages_sent);
  out.counter("wirestress_produce_messages_acked_total", "Records the broker confirmed (acks 1 or -1).",
              t.messages_acked);
  out.counter("wirestress_produce_messages_failed_total",
              "Records the broker rejected or that were lost in flight.", t.messages_failed);
  out.counter("wirestress_produce_bytes_sent_total", "Produce request bytes written to the socket.",
              t.bytes_sent);
  out.counter("wirestress_produce_requests_sent_total", "Produce requests written to the socket.",
              t.requests_sent);
  out.counter("wirestress_produce_requests_acked_total", "Produce requests the broker answered.",
              t.requests_acked);
  for (const auto& [code, count] : t.errors_by_code) {
    out.counter("wirestress_produce_errors_total", "Records (or requests) the broker rejected, by Kafka error code.",
                count, {{"code", protocol::error_name(code)}});
  }
  for (size_t i = 0; i < t.failures.size(); ++i) {
    out.counter("wirestress_failures_total", "Failures that are not Kafka error codes, by kind.", t.failures[i],
                {{"kind", driver::failure_name(static_cast<driver::Failure>(i))}});
  }
  out.counter("wirestress_connections_attempted_total", "TCP connections attempted.", t.connections_attempted);
  out.counter("wirestress_connections_established_total", "TCP connections established.",
              t.connections_established);
  out.counter("wirestress_connections_failed_total", "TCP connection attempts that failed.",
              t.connections_failed);
  out.counter("wirestress_reconnects_total", "Connections opened again after one was lost or reset.",
              t.reconnects);
  out.counter("wirestress_metadata_refreshes_total", "Metadata responses the clients took in.", t.metadata_refreshes);
  out.counter("wirestress_leader_changes_total", "Partition leaders that moved between two metadata responses.",
              t.leader_changes);
  out.counter("wirestress_latency_out_of_range_total",
              "Latency samples outside the histogram's range (1 us to 1 h), not in the summaries.",
              t.latency_out_of_range);

  out.gauge("wirestress_connections_open", "Connections established and not yet closed.", t.connections_open);
  out.gauge("wirestress_clients_producing", "Producers ready and sending.", t.clients_producing);
  out.counter("wirestress_clients_connected_total", "Producers that became ready (connected, negotiated, metadata known).",
              t.producers_connected);
  out.counter("wirestress_consumers_connected_total", "Consumers that became ready (positioned).",
              t.consumers_connected);
  out.gauge("wirestress_phase", "The run's phase at the latest report, as a label; the value is always 1.", 1,
            {{"phase", driver::phase_name(latest.phase)}});
  out.gauge("wirestress_clients_configured", "Simulated clients the run was asked for.", config.clients);
  out.gauge("wirestress_produce_target_messages_per_second",
            "Aggregate send rate the run was asked for; 0 means as fast as possible.", config.rate);
  out.gauge("wirestress_elapsed_seconds", "Seconds since the run started, at the latest report.",
            latest.elapsed_s);
  out.gauge("wirestress_run_info", "The run's settings as labels; the value is always 1.", 1,
            {{"topic", config.topic},
             {"acks", std::to_string(config.acks)},
             {"compression", protocol::codec_name(config.compression)},
             {"batch", std::to_string(config.batch)},
             {"message_size", std::to_string(config.message_size)}});

  // Before the first tick there is no interval: an empty histogram gives NaN quantiles and 0 counts.
  static const stats::HdrHistogram kEmpty(1, 2, 1);
  const driver::Metrics* recent = latest.interval;
  const driver::Metrics* lifetime = run_so_far != nullptr ? run_so_far : recent;
  constexpr double kMicrosToSeconds = 1e-6;
  out.summary("wirestress_produce_latency_seconds",
              "Produce latency from the intended send time (corrected for coordinated omission); "
              "quantiles over the last report interval.",
              recent != nullptr ? recent->latency_us : kEmpty, lifetime != nullptr ? lifetime->latency_us : kEmpty,
              kMicrosToSeconds);
  out.summary("wirestress_produce_service_latency_seconds",
              "Produce latency from the actual send time; quantiles over the last report interval.",
              recent != nullptr ? recent->service_latency_us : kEmpty,
              lifetime != nullptr ? lifetime->service_latency_us : kEmpty, kMicrosToSeconds);
  out.summary("wirestress_produce_publish_delay_seconds",
              "How late sends started against their intended send time (OMB's publish delay); quantiles over the "
              "last report interval.",
              recent != nullptr ? recent->publish_delay_us : kEmpty,
              lifetime != nullptr ? lifetime->publish_delay_us : kEmpty, kMicrosToSeconds);
  // The same latencies as cumulative buckets, which (unlike quantiles) add up across load hosts.
  out.histogram("wirestress_produce_latency_histogram_seconds",
                "Produce latency from the intended send time (corrected for coordinated omission), since the start.",
                lifetime != nullptr ? lifetime->latency_us : kEmpty, kMicrosToSeconds, kLatencyBucketsSeconds);
  out.histogram("wirestress_produce_service_latency_histogram_seconds",
                "Produce latency from the actual send time, since the start.",
                lifetime != nullptr ? lifetime->service_latency_us : kEmpty, kMicrosToSeconds, kLatencyBucketsSeconds);
  out.histogram("wirestress_produce_publish_delay_histogram_seconds",
                "How late sends started against their intended send time, since the start.",
                lifetime != nullptr ? lifetime->publish_delay_us : kEmpty, kMicrosToSeconds, kLatencyBucketsSeconds);
  // The mean over the last interval, beside its quantiles (over the whole run it is _sum / _count).
  out.gauge("wirestress_produce_latency_mean_seconds",
            "Mean produce latency from the intended send time over the last report interval; NaN before the first.",
            latency_mean(recent != nullptr ? &recent->latency_us : nullptr));
  out.gauge("wirestress_produce_service_latency_mean_seconds",
            "Mean produce latency from the actual send time over the last report interval; NaN before the first.",
            latency_mean(recent != nullptr ? &recent->service_latency_us : nullptr));
  out.gauge("wirestress_produce_publish_delay_mean_seconds",
            "Mean delay of sends against their intended send time over the last report interval; NaN before the first.",
            latency_mean(recent != nullptr ? &recent->publish_delay_us : nullptr));
  if (config.consumers > 0) {
    out.counter("wirestress_consume_messages_received_total", "Records delivered to consumers (each counts its own).",
                t.consume_received);
    out.counter("wirestress_consume_bytes_total", "Fetch response bytes received.", t.consume_bytes);
    out.counter("wirestress_consume_fetches_total", "Fetch responses received.", t.consume_fetches);
    out.counter("wirestress_consume_duplicates_total", "--verify: records a consumer had received before.",
                t.consume_duplicates);
    out.counter("wirestress_consume_out_of_order_total",
                "--verify: records that arrived after a later record of their producer.", t.consume_out_of_order);
    out.counter("wirestress_consume_corrupt_total", "--verify: records whose stamp or hash did not check; failed batch CRCs.",
                t.consume_corrupt);
    out.gauge("wirestress_consumers_fetching", "Consumers positioned and fetching.", t.consumers_fetching);
    out.gauge("wirestress_consumers_configured", "Simulated consumers the run was asked for.", config.consumers);
    out.summary("wirestress_consume_e2e_latency_seconds",
                "From a record's send time to its receipt by a consumer; quantiles over the last report interval.",
                recent != nullptr ? recent->e2e_latency_us : kEmpty,
                lifetime != nullptr ? lifetime->e2e_latency_us : kEmpty, kMicrosToSeconds);
    out.gauge("wirestress_consume_e2e_latency_mean_seconds",
              "Mean end-to-end latency over the last report interval; NaN before the first.",
              latency_mean(recent != nullptr ? &recent->e2e_latency_us : nullptr));
    out.histogram("wirestress_consume_e2e_latency_histogram_seconds",
                  "From a record's send time to its receipt by a consumer, since the start.",
                  lifetime != nullptr ? lifetime->e2e_latency_us : kEmpty, kMicrosToSeconds, kLatencyBucketsSeconds);
  }
  if (config.group.enabled()) append_group_metrics(out, latest, run_so_far);
  return out.text();
}

}  // namespace ws::report
