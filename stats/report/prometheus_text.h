// The wirestress metrics in the Prometheus text format, rendered from the latest report tick.
#pragma once

#include <string>

#include "driver/config.h"
#include "driver/reporting.h"

namespace ws::report {

// The wirestress metrics in the Prometheus text format, from the latest report tick:
// counters (wirestress_produce_*_total, wirestress_produce_errors_total{code}, wirestress_failures_total{kind},
// wirestress_connections_*_total) from latest.total; gauges (wirestress_connections_open,
// wirestress_clients_producing, wirestress_elapsed_seconds, the run's settings); and the summaries
// wirestress_produce_latency_seconds (from the intended send time) and
// wirestress_produce_service_latency_seconds (from the actual send) and
// wirestress_produce_publish_delay_seconds (the actual send less the intended one, OMB's publish
// delay), whose quantiles cover the last interval (latest.interval; NaN before the first tick).
// Their _sum and _count come from `run_so_far` when given: histograms the caller accumulates from
// every interval (Prometheus treats _sum and _count as counters that never go down); without it,
// from the last interval as well.
// The same latencies are also histograms (wirestress_*_latency_histogram_seconds: buckets
// from 100 us to 60 s, _sum, _count) from `run_so_far`, so that several load hosts add up in
// Prometheus. wirestress_build_info{version,revision} names the build. Nothing from the client's
// security settings (passwords, tokens, key files) is ever rendered.
std::string render_prometheus(const driver::IntervalReport& latest, const driver::RunConfig& config,
                              const driver::Metrics* run_so_far = nullptr);

}  // namespace ws::report
