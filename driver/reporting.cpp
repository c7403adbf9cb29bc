#include "driver/reporting.h"

#include <sys/timex.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "protocol/errors.h"

namespace ws::driver {

int64_t steady_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t steady_ns_of_unix_ms(int64_t unix_ms, int64_t now_steady_ns) {
  if (unix_ms == 0) return 0;
  const int64_t now_unix_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return now_steady_ns + (unix_ms * 1'000'000 - now_unix_ns);
}

ClockReport clock_report() {
  ClockReport report;
  timex tx{};  // modes 0: read only
  const int state = ::adjtimex(&tx);
  if (state == -1) return report;
  report.synchronized = state != TIME_ERROR && (tx.status & STA_UNSYNC) == 0;
  report.max_error_ms = static_cast<double>(tx.maxerror) / 1000.0;  // microseconds
  return report;
}

namespace {

// What moved since the last look: anything sent, acknowledged, failed or received.
uint64_t progress_of(const RunCounters& c) {
  return c.messages_sent + c.messages_acked + c.messages_failed + c.consume_received + c.consume_fetches;
}

}  // namespace

ReportCollector::ReportCollector(const RunConfig& config, RunControl& control, std::vector<Mailbox*> mailboxes,
                                 uint32_t threads)
    : config_(config), control_(control), mailboxes_(std::move(mailboxes)), threads_(threads) {}

RunResult ReportCollector::collect(const std::function<void(const IntervalReport&)>& on_interval) {
  RunResult result;
  result.threads = threads_;
  result.clients = config_.clients;
  result.consumer_count = config_.consumers;
  result.run_id = control_.run_id;
  const RunTimeline& timeline = control_.timeline;
  const int64_t start = timeline.start_ns();
  result.start_time_unix_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count() -
      (steady_clock_ns() - start) / 1'000'000;

  // Ticks fall every report interval and at every phase change (as soon as it is noticed, and
  // exactly at the start of the measured time), so no interval line straddles two phases. The
  // result itself is split exactly by each worker (see Mailbox), not by when these ticks fall.
  RunCounters previous;
  Metrics tick;           // this interval line's histograms
  Metrics measured_tick;  // the part of them recorded in the measured time
  Metrics before_measured_tick;  // the rest: recorded while connecting and in the warm-up
  int64_t previous_tick = start;
  Phase interval_phase = timeline.phase(start);
  const int64_t interval = config_.report_interval.count();
  int64_t next_tick = start + interval;
  uint64_t last_progress = 0;
  int64_t last_progress_ns = start;
  bool all_finished = false;
  while (!all_finished) {
    // Wake often enough to notice phase changes and the end of the run promptly.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const int64_t now = steady_clock_ns();
    const Phase phase = timeline.phase(now);
    all_finished = true;
    RunCounters total;
    RunCounters measured_total;  // since each worker's start of the measured time
    const bool boundary = phase != interval_phase;  // every interval belongs to one phase
    const bool report = now >= next_tick || boundary;
    for (Mailbox* m : mailboxes_) {
      std::lock_guard lock(m->mutex);
      all_finished &= m->finished;
      total.add(m->counters);
      if (m->measuring) measured_total.add(counters_since(m->counters, m->baseline));
      if (report || m->finished) {
        tick.add_histograms(m->interval);
        tick.add_histograms(m->measured_interval);
        measured_tick.add_histograms(m->measured_interval);
        before_measured_tick.add_histograms(m->interval);
        m->interval.reset_histograms();
        m->measured_interval.reset_histograms();
      }
    }
    // A run without --duration ends, degraded, when nothing moves for --stall-timeout.
    if (config_.duration.count() == 0 && (phase == Phase::kWarmUp || phase == Phase::kMeasuring)) {
      const uint64_t progress = progress_of(total);
      if (progress != last_progress) {
        last_progress = progress;
        last_progress_ns = now;
      } else if (now - last_progress_ns >= config_.stall_timeout.count()) {
        control_.stalled.store(true);
        control_.timeline.stop(now);
      }
    } else {
      last_progress_ns = now;
    }
    if (!report && !all_finished) continue;
    IntervalReport r;
    r.elapsed_s = static_cast<double>(now - start) / 1e9;
    r.interval_s = static_cast<double>(now - previous_tick) / 1e9;
    r.phase = interval_phase;
    r.workers = threads_;
    r.clients = config_.clients + config_.consumers;
    r.total = total;
    r.delta = counters_since(total, previous);
    r.interval = &tick;
    r.measured = &measured_tick;
    r.before_measured = &before_measured_tick;
    r.start_unix_ms = result.start_time_unix_ms + (previous_tick - start) / 1'000'000;
    // The last, usually shorter, interval is reported too (its rates use its real length), and
    // always when it holds samples: the .hlog and the series must add up to the result.
    const bool holds_samples = tick.latency_us.total_count() + tick.service_latency_us.total_count() +
                                   tick.e2e_latency_us.total_count() > 0 ||
                               progress_of(r.delta) > 0;
    if (on_interval && (report || r.interval_s >= 0.05 || holds_samples)) on_interval(r);
    result.metrics.add_histograms(measured_tick);
    result.init_producer_id_latency_us.add(tick.init_producer_id_latency_us);
    result.counters = measured_total;
    result.totals = total;
    // The measured time is the sending window (its responses may come in the drain after it).
    const int64_t measure_start = timeline.measure_start_ns();
    if (now >= measure_start) {
      result.elapsed_s = static_cast<double>(std::min(now, timeline.measure_end_ns()) - measure_start) / 1e9;
    }
    tick.reset_histograms();
    measured_tick.reset_histograms();
    before_measured_tick.reset_histograms();
    previous = total;
    previous_tick = now;
    interval_phase = phase;
    if (now >= next_tick) {
      next_tick += interval;
      if (next_tick <= now) next_tick = now + interval;  // a slow tick must not cause a burst
    }
    // The start and the end of the measured time get a tick of their own, at the exact instant.
    for (const int64_t boundary_ns : {measure_start, timeline.measure_end_ns()}) {
      if (boundary_ns > now && boundary_ns < next_tick) next_tick = boundary_ns;
    }
  }
  const int64_t end = steady_clock_ns();
  const int64_t connected = timeline.connected_ns();
  result.connecting_completed = connected != RunTimeline::kNever && connected < timeline.connect_deadline_ns() &&
                                !timeline.stopped_during_connecting();
  const int64_t connect_end = std::min({connected, timeline.stopped_ns(), end});
  const auto unix_ms_of = [&](int64_t steady_ns) { return result.start_time_unix_ms + (steady_ns - start) / 1'000'000; };
  if (const int64_t measure_start = timeline.measure_start_ns(); measure_start <= end &&
                                                                 measure_start < timeline.measure_end_ns()) {
    result.measure_start_unix_ms = unix_ms_of(measure_start);
    result.measure_end_unix_ms = unix_ms_of(std::min(end, timeline.measure_end_ns()));
  }
  if (const int64_t load = timeline.load_start_ns(); timeline.not_before_ns() > 0 && load != RunTimeline::kNever) {
    result.start_late_s = static_cast<double>(std::max<int64_t>(0, load - timeline.not_before_ns())) / 1e9;
  }
  result.clock = clock_report();
  result.connect_duration_s = static_cast<double>(connect_end - start) / 1e9;
  result.interrupted = control_.stop_requested.load();
  result.stalled = control_.stalled.load();
  result.fatal = control_.fatal();
  result.fatal_is_bad_flag = control_.fatal_is_bad_flag();
  for (Mailbox* m : mailboxes_) {
    std::lock_guard lock(m->mutex);
    for (auto& tally : m->consumers) result.consumers.push_back(std::move(tally));
  }
  std::sort(result.consumers.begin(), result.consumers.end(),
            [](const ConsumerTally& a, const ConsumerTally& b) { return a.id < b.id; });
  result.metrics.counters = result.counters;
  return result;
}

std::vector<BrokerReport> broker_reports(BrokerRegistry& registry, const RunCounters& totals) {
  std::vector<BrokerReport> out;
  for (uint32_t i = 0; i < registry.size(); ++i) {
    BrokerReport b;
    b.index = i;
    b.node_id = registry.node_id(i);
    b.address = registry.address_text(i);
    b.versions_known = registry.versions(i, &b.versions) == BrokerRegistry::Versions::kKnown;
    if (i < totals.brokers.size()) b.counters = totals.brokers[i];
    out.push_back(std::move(b));
  }
  return out;
}

Verdict judge(const RunResult& result, const RunConfig& config) {
  Verdict v;
  auto degraded = [&](std::string why) {
    v.status = ExitStatus::kDegraded;
    v.reasons.push_back(std::move(why));
  };
  if (!result.fatal.empty()) degraded(result.fatal);
  if (const uint64_t n = result.producers_never_connected()) {
    degraded(std::to_string(n) + " of " + std::to_string(result.clients) + " clients never connected");
  }
  if (const uint64_t n = result.consumers_never_connected()) {
    degraded(std::to_string(n) + " of " + std::to_string(result.consumer_count) + " consumers never connected");
  }
  if (result.consumer_count > 0 && !result.consumers.empty() &&
      std::all_of(result.consumers.begin(), result.consumers.end(),
                  [](const ConsumerTally& c) { return !c.failure.empty(); })) {
    degraded("every consumer failed");
  }
  const RunCounters& c = result.counters;
  if (result.consumer_count > 0 && !result.interrupted && result.totals.consume_received == 0) {
    // Consumers that ran and never got a record: a run about reading must not pass (fetches
    // answered with errors, or answers it could not decode, or records that never arrived).
    uint64_t fetch_errors = 0;
    for (const BrokerCounters& b : result.totals.brokers) fetch_errors += b.fetch_errors;
    const uint64_t decode_errors = result.totals.failures[static_cast<size_t>(Failure::kDecodeError)];
    const uint64_t produced = config.acks == 0 ? c.messages_sent : c.messages_acked;
    if (fetch_errors > 0 || decode_errors > 0) {
      degraded("no consumer received a record: " + std::to_string(fetch_errors) +
               " fetched partitions answered with an error, " + std::to_string(decode_errors) +
               " answers could not be decoded (errors_by_code and failures in the JSON)");
    } else if (produced > 0) {
      degraded("no consumer received any of the " + std::to_string(produced) + " records produced");
    }
  }
  if (config.clients > 0 && !result.interrupted && c.messages_sent == 0 && result.totals.messages_sent == 0) {
    degraded("nothing was sent");
  } else if (config.clients > 0 && c.messages_sent > 0 && c.messages_failed >= c.messages_sent &&
             c.messages_acked == 0) {
    std::string codes;
    for (const auto& [code, n] : c.errors_by_code) {
      codes += (codes.empty() ? "" : ", ") + protocol::error_name(code) + " x" + std::to_string(n);
    }
    degraded("every record sent failed" + (codes.empty() ? std::string() : " (" + codes + ")"));
  }
  // Shards lined up by --start-at: one that began late measured another window than the others.
  const double late_allowed_s = std::max(0.1, 0.01 * std::chrono::duration<double>(config.duration).count());
  if (config.start_at_unix_ms > 0 && result.start_late_s > late_allowed_s) {
    char why[160];
    std::snprintf(why, sizeof why, "the load began %.2f s after --start-at (allowed: %.2f s, 1%% of --duration)",
                  result.start_late_s, late_allowed_s);
    degraded(why);
  }
  if (result.stalled) {
    degraded("nothing moved for " + format_duration(config.stall_timeout) + " (--stall-timeout): the run was ended");
  }
  if (result.fatal_is_bad_flag) v.status = ExitStatus::kUsage;
  return v;
}

}  // namespace ws::driver
