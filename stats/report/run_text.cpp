#include "stats/report/run_text.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "protocol/errors.h"
#include "protocol/framing.h"
#include "stats/report/group_output.h"

namespace ws::report {
namespace {

double ms(int64_t us) { return static_cast<double>(us) / 1000.0; }

uint64_t errors_of(const driver::RunCounters& d) {
  uint64_t errors = 0;
  for (const auto& [code, n] : d.errors_by_code) errors += n;
  for (uint64_t f : d.failures) errors += f;
  return errors;
}

}  // namespace

ConsumeTotals consume_totals(const driver::RunResult& result) {
  ConsumeTotals t;
  for (const auto& c : result.consumers) {
    t.lost += c.lost;
    t.duplicates += c.duplicates;
    t.out_of_order += c.out_of_order;
    t.corrupt += c.corrupt;
    t.received += c.received;
    t.measured += c.received_measured;
    t.failing += !c.failure.empty();
  }
  return t;
}

std::string with_commas(uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

uint64_t delivered(const driver::RunCounters& c, const driver::RunConfig& config) {
  return config.acks == 0 ? c.messages_sent : c.messages_acked;
}

double loss_pct(uint64_t lost, uint64_t received, uint64_t duplicates) {
  const uint64_t distinct = received > duplicates ? received - duplicates : 0;
  return lost + distinct == 0 ? 0.0 : 100.0 * static_cast<double>(lost) / static_cast<double>(lost + distinct);
}

std::string versions_text(const driver::BrokerReport& b) {
  if (!b.versions_known) return "versions not learnt";
  const auto& v = b.versions;
  std::string text = v.has_api_versions ? "ApiVersions v" + std::to_string(v.api_versions)
                                        : std::string("no ApiVersions (Kafka 0.9 versions)");
  const std::pair<const char*, int16_t> apis[] = {
      {"Metadata", v.metadata}, {"Produce", v.produce}, {"Fetch", v.fetch}, {"ListOffsets", v.list_offsets}};
  for (const auto& [name, version] : apis) {
    text += std::string(", ") + name + (version < 0 ? " unsupported" : " v" + std::to_string(version));
  }
  return text;
}

ProcessFigures read_process_figures() {
  ProcessFigures p;
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  p.cpu_user_s = static_cast<double>(u.ru_utime.tv_sec) + static_cast<double>(u.ru_utime.tv_usec) / 1e6;
  p.cpu_sys_s = static_cast<double>(u.ru_stime.tv_sec) + static_cast<double>(u.ru_stime.tv_usec) / 1e6;
  // VmHWM, not ru_maxrss: after exec, ru_maxrss can still hold the launching process's peak.
  p.peak_rss_kib = proc_status_value("VmHWM:");
  if (p.peak_rss_kib == 0) p.peak_rss_kib = u.ru_maxrss;
  p.threads = current_thread_count();
  p.voluntary_context_switches = u.ru_nvcsw;
  p.involuntary_context_switches = u.ru_nivcsw;
  return p;
}

long proc_status_value(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(field);
  while (std::getline(status, line)) {
    if (line.compare(0, n, field) == 0) return std::stol(line.substr(n));
  }
  return 0;
}

long current_thread_count() { return proc_status_value("Threads:"); }

namespace {

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace

std::string interval_line(const driver::IntervalReport& r, const driver::RunConfig& config) {
  const auto& d = r.delta;
  const double seconds = std::max(r.interval_s, 1e-9);
  char line[384];
  if (r.phase == driver::Phase::kConnecting) {
    // The connect ramp: how many clients are ready, and how fast they get there.
    const uint64_t ready = r.total.producers_connected + r.total.consumers_connected;
    const uint64_t delta = d.producers_connected + d.consumers_connected;
    std::snprintf(line, sizeof line, "[%7.1fs connecting] %s/%s clients ready (%s/s) | conns %s | failed %s",
                  r.elapsed_s, with_commas(ready).c_str(), with_commas(r.clients).c_str(),
                  with_commas(static_cast<uint64_t>(static_cast<double>(delta) / seconds)).c_str(),
                  with_commas(r.total.connections_open).c_str(), with_commas(d.connections_failed).c_str());
    std::string text = line;
    if (config.start_at_unix_ms > 0 && ready >= r.clients) {
      // Every client is ready and waits for --start-at with the other shards.
      const double left_s =
          static_cast<double>(config.start_at_unix_ms - r.start_unix_ms) / 1000.0 - r.interval_s;
      std::snprintf(line, sizeof line, " | waiting for --start-at: %.1f s", std::max(0.0, left_s));
      text += line;
    }
    return text;
  }
  const auto& h = r.interval->latency_us;
  const char* phase = r.phase == driver::Phase::kWarmUp ? " warm-up" : (r.phase == driver::Phase::kDraining ? " drain" : "");
  std::snprintf(line, sizeof line,
                "[%7.1fs%s] sent %9s acked %9s err %5s | %10.0f msg/s %7.2f MB/s | p50 %8.2f p95 %8.2f p99 %8.2f "
                "mean %8.2f ms | conns %s, ready %s/%s",
                r.elapsed_s, phase, with_commas(d.messages_sent).c_str(), with_commas(d.messages_acked).c_str(),
                with_commas(errors_of(d)).c_str(), static_cast<double>(delivered(d, config)) / seconds,
                static_cast<double>(d.bytes_sent) / seconds / 1e6, ms(h.value_at_percentile(50)),
                ms(h.value_at_percentile(95)), ms(h.value_at_percentile(99)), h.mean() / 1000.0,
                with_commas(r.total.connections_open).c_str(),
                with_commas(r.total.producers_connected + r.total.consumers_connected).c_str(),
                with_commas(r.clients).c_str());
  std::string text = line;
  if (config.consumers > 0) {
    std::snprintf(line, sizeof line, " | recv %10.0f msg/s e2e p99 %8.2f ms",
                  static_cast<double>(d.consume_received) / seconds,
                  ms(r.interval->e2e_latency_us.value_at_percentile(99)));
    text += line;
  }
  return text;
}

std::string summary(const driver::RunResult& result, const driver::RunConfig& config, const RunContext& context,
                    const ProcessFigures& process) {
  const auto& c = result.counters;
  const auto& all = result.totals;
  const double elapsed = std::max(result.elapsed_s, 1e-9);
  std::ostringstream out;
  char buf[320];
  out << "\n== " << context.tool << " summary (" << result.io_backend << ", " << result.threads << " threads) ==\n";
  const uint64_t ready = all.producers_connected + all.consumers_connected;
  const uint64_t configured = uint64_t{result.clients} + result.consumer_count;
  const double connect_rate =
      result.connect_duration_s >= 1e-3 ? static_cast<double>(ready) / result.connect_duration_s : 0;
  std::snprintf(buf, sizeof buf, "  connecting         %.2f s: %s of %s clients ready (%s/s)%s\n",
                result.connect_duration_s, with_commas(std::min(ready, configured)).c_str(),
                with_commas(configured).c_str(), with_commas(static_cast<uint64_t>(connect_rate)).c_str(),
                result.connecting_completed ? "" : ", not all by --connect-deadline");
  out << buf;
  if (config.shard.count > 1) {
    const driver::ShardPlan& s = config.shard;
    std::snprintf(buf, sizeof buf, "  shard              %u of %u (0-based): clients %s of %s, consumers %s of %s", s.index,
                  s.count, with_commas(config.clients).c_str(), with_commas(s.clients_total).c_str(),
                  with_commas(config.consumers).c_str(), with_commas(s.consumers_total).c_str());
    out << buf << (s.rate_total > 0 ? ", " + with_commas(static_cast<uint64_t>(config.rate)) + " of " +
                                          with_commas(static_cast<uint64_t>(s.rate_total)) + " msg/s"
                                    : std::string())
        << "\n";
  }
  if (config.start_at_unix_ms > 0) {
    const std::string clock = result.clock.synchronized
                                  ? "clock synchronised, max error " + fixed(result.clock.max_error_ms, 1) + " ms"
                                  : "clock NOT synchronised (no NTP/chrony): hosts may not line up";
    out << "  start              "
        << (result.start_late_s > 0.0005 ? fixed(result.start_late_s, 3) + " s after --start-at" : "at --start-at")
        << ", measured from Unix ms " << result.measure_start_unix_ms << "; " << clock << "\n";
  }
  if (const uint64_t n = result.producers_never_connected()) {
    out << "  never connected    " << with_commas(n) << " of " << with_commas(result.clients)
        << " clients (no connection to their partition's leader was ever ready)\n";
  }
  if (const uint64_t n = result.consumers_never_connected()) {
    out << "  never connected    " << with_commas(n) << " of " << with_commas(result.consumer_count) << " consumers\n";
  }
  if (all.clients_connected_late) {
    out << "  connected late     " << with_commas(all.clients_connected_late)
        << " clients got ready only after the Connecting phase ended\n";
  }
  std::snprintf(buf, sizeof buf, "  measured           %.2f s%s\n", elapsed,
                config.warmup.count() ? " (after the warm-up, which is not counted here)" : "");
  out << buf;
  out << "  messages sent      " << with_commas(c.messages_sent) << " in " << with_commas(c.requests_sent)
      << " requests, " << with_commas(c.bytes_sent) << " bytes\n";
  out << "  messages acked     " << with_commas(c.messages_acked)
      << (config.acks == 0 ? "   (acks=0: the broker sends no acknowledgement)" : "") << "\n";
  out << "  messages failed    " << with_commas(c.messages_failed) << "\n";
  if (c.messages_unsent_due) {
    out << "  messages not sent  " << with_commas(c.messages_unsent_due)
        << " (due before the end but never sent: the client or broker fell behind the schedule)\n";
  }
  if (config.idempotent) {
    const auto& init = result.init_producer_id_latency_us;
    std::snprintf(buf, sizeof buf,
                  "  idempotence        %s producer ids (%s new after a lost batch), %s batches already written; "
                  "InitProducerId p50 %.2f p99 %.2f max %.2f ms\n",
                  with_commas(all.producer_ids_assigned).c_str(), with_commas(all.producer_id_resets).c_str(),
                  with_commas(all.produce_duplicate_sequences).c_str(), init.value_at_percentile(50) / 1000.0,
                  init.value_at_percentile(99) / 1000.0, init.max() / 1000.0);
    out << buf;
  }
  std::snprintf(buf, sizeof buf, "  throughput         %.0f msg/s, %.2f MB/s\n",
                static_cast<double>(delivered(c, config)) / elapsed, static_cast<double>(c.bytes_sent) / elapsed / 1e6);
  out << buf;
  const auto& lat = result.metrics.latency_us;
  const auto& svc = result.metrics.service_latency_us;
  const auto& delay = result.metrics.publish_delay_us;  // intended send to actual send
  out << "  latency (ms)           p50       p90       p95       p99     p99.9       max      mean\n";
  for (const auto& [name, h] : {std::pair{"  from intended send", &lat}, std::pair{"  from actual send  ", &svc},
                                std::pair{"  publish delay     ", &delay}}) {
    std::snprintf(buf, sizeof buf, "%s %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f\n", name,
                  ms(h->value_at_percentile(50)), ms(h->value_at_percentile(90)), ms(h->value_at_percentile(95)),
                  ms(h->value_at_percentile(99)), ms(h->value_at_percentile(99.9)), ms(h->max()), h->mean() / 1000.0);
    out << buf;
  }
  if (c.latency_out_of_range) {
    out << "  latency overflow   " << with_commas(c.latency_out_of_range)
        << " samples above --latency-max: not in the percentiles above\n";
  }
  if (config.consumers > 0) {
    const ConsumeTotals t = consume_totals(result);
    std::vector<double> rates;
    for (const auto& consumer : result.consumers) rates.push_back(static_cast<double>(consumer.received_measured) / elapsed);
    std::sort(rates.begin(), rates.end());
    out << "  consumers          " << config.consumers << ", failing " << t.failing << "\n";
    std::snprintf(buf, sizeof buf, "  received           %s records, %.0f msg/s over all consumers%s\n",
                  with_commas(c.consume_received).c_str(), static_cast<double>(t.measured) / elapsed,
                  config.verify && config.warmup.count() > 0 ? " (records sent after the warm-up)" : "");
    out << buf;
    if (!rates.empty()) {
      std::snprintf(buf, sizeof buf, "  per consumer       min %.0f, median %.0f, max %.0f msg/s\n", rates.front(),
                    rates[rates.size() / 2], rates.back());
      out << buf;
    }
    if (config.verify || config.clients > 0) {
      std::snprintf(buf, sizeof buf, "  lost               %s (%.4f%%)%s\n", with_commas(t.lost).c_str(),
                    loss_pct(t.lost, t.received, t.duplicates),
                    config.verify ? "" : "   (without --verify: acknowledged minus received, per consumer)");
      out << buf;
    }
    if (config.verify) {
      out << "  duplicates         " << with_commas(t.duplicates) << ", out of order " << with_commas(t.out_of_order)
          << ", corrupt " << with_commas(t.corrupt) << "\n";
      if (c.consume_other_runs) {
        out << "  other runs         " << with_commas(c.consume_other_runs)
            << " records stamped by earlier runs (checked for gaps, no end-to-end latency)\n";
      }
    }
    const auto& e2e = result.metrics.e2e_latency_us;
    if (e2e.total_count() > 0) {
      std::snprintf(buf, sizeof buf, "  end-to-end (ms)    p50 %.2f  p95 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  mean %.2f%s\n",
                    ms(e2e.value_at_percentile(50)), ms(e2e.value_at_percentile(95)), ms(e2e.value_at_percentile(99)),
                    ms(e2e.value_at_percentile(99.9)), ms(e2e.max()), e2e.mean() / 1000.0,
                    config.verify ? "" : "   (from the record timestamp: millisecond resolution)");
      out << buf;
    }
    int shown = 0;
    for (const auto& consumer : result.consumers) {
      if (consumer.failure.empty() || ++shown > 10) continue;
      out << "  failing consumer   " << consumer.id << ": " << consumer.failure << ", received "
          << with_commas(consumer.received) << ", lost " << with_commas(consumer.lost) << "\n";
    }
    if (shown > 10) out << "  failing consumer   ... and " << shown - 10 << " more (see --json)\n";
  }
  if (result.groups) write_groups_summary(out, result, config);
  if (result.security_protocol != "PLAINTEXT" && !result.security_protocol.empty()) {
    out << "  security           " << result.security_protocol
        << (result.sasl_mechanism.empty() ? "" : " (" + result.sasl_mechanism + ")")
        << (!result.ktls ? "" : std::string("; kTLS ") + (result.ktls->used ? "used" : "not used") + " (" +
                                   result.ktls->detail + ")")
        << "\n";
  }
  // Connections are counted over the whole run: most are opened while connecting.
  out << "  connections        attempted " << with_commas(all.connections_attempted) << ", established "
      << with_commas(all.connections_established) << ", failed " << with_commas(all.connections_failed)
      << ", lost after ready " << with_commas(all.reconnects)
      << (all.connections_churned ? ", churned " + with_commas(all.connections_churned) : std::string()) << "\n";
  for (const auto& b : result.brokers) {
    out << "  broker             " << (b.node_id >= 0 ? "node " + std::to_string(b.node_id) : std::string("bootstrap"))
        << " at " << b.address << ": " << versions_text(b) << "; connections " << with_commas(b.counters.connections_established)
        << " established, " << with_commas(b.counters.connections_failed) << " failed";
    if (b.counters.produce_requests) {
      out << "; produce requests " << with_commas(b.counters.produce_requests) << ", records failed "
          << with_commas(b.counters.produce_records_failed);
    }
    if (b.counters.fetch_requests) {
      out << "; fetches " << with_commas(b.counters.fetch_requests) << ", partition errors "
          << with_commas(b.counters.fetch_errors);
    }
    out << "\n";
  }
  if (all.leader_changes) {
    out << "  metadata           " << with_commas(all.metadata_refreshes) << " refreshes, "
        << with_commas(all.leader_changes) << " partition leader changes seen\n";
  }
  for (const auto& [code, n] : c.errors_by_code) {
    if (n) out << "  kafka error        " << protocol::error_name(code) << " x" << with_commas(n) << "\n";
  }
  for (size_t i = 0; i < c.failures.size(); ++i) {
    const uint64_t n = all.failures[i];
    if (n) out << "  failure            " << driver::failure_name(static_cast<driver::Failure>(i)) << " x" << with_commas(n) << "\n";
  }
  for (const auto& [api, n] : all.unanswered_by_api) {
    const auto* info = protocol::find_api(api);
    out << "  unanswered         " << with_commas(n) << " " << (info ? std::string(info->name) : std::to_string(api))
        << " requests at the end of the drain\n";
  }
  std::snprintf(buf, sizeof buf, "  process            cpu %.2fs user + %.2fs sys, peak RSS %.1f MiB, %ld threads\n",
                process.cpu_user_s, process.cpu_sys_s, static_cast<double>(process.peak_rss_kib) / 1024.0,
                process.threads);
  out << buf;
  if (result.interrupted) out << "  interrupted        by Ctrl-C (the figures cover the run until then)\n";
  if (context.verdict.status == driver::ExitStatus::kDegraded) {
    for (const auto& reason : context.verdict.reasons) out << "  DEGRADED           " << reason << "\n";
    out << "  exit code          3 (the run finished, but not as asked)\n";
  } else if (context.verdict.status == driver::ExitStatus::kUsage) {
    for (const auto& reason : context.verdict.reasons) out << "  STOPPED            " << reason << "\n";
    out << "  exit code          2 (a flag's value does not fit this broker)\n";
  }
  return out.str();
}

}  // namespace ws::report
