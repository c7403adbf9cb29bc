#include "tools/report.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "protocol/errors.h"
#include "stats/hlog.h"

namespace ws::tools {
namespace {

double ms(int64_t us) { return static_cast<double>(us) / 1000.0; }

// Throughput that counts: acknowledged records, or written records when nothing is acknowledged.
uint64_t delivered(const driver::ProducerCounters& c, const driver::RunConfig& config) {
  return config.acks == 0 ? c.messages_sent : c.messages_acked;
}

nlohmann::ordered_json latency_json(const stats::HdrHistogram& h) {
  nlohmann::ordered_json j;
  const std::pair<const char*, double> percentiles[] = {
      {"p50", 50}, {"p75", 75}, {"p90", 90}, {"p99", 99}, {"p999", 99.9}, {"p9999", 99.99}};
  for (const auto& [name, p] : percentiles) j[name] = ms(h.value_at_percentile(p));
  j["max"] = ms(h.max());
  j["mean"] = h.mean() / 1000.0;
  j["count"] = h.total_count();
  return j;
}

std::string with_commas(uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

// Share of the records a consumer should have had that it did not get, in percent.
double loss_pct(uint64_t lost, uint64_t received, uint64_t duplicates) {
  const uint64_t distinct = received > duplicates ? received - duplicates : 0;
  return lost + distinct == 0 ? 0.0 : 100.0 * static_cast<double>(lost) / static_cast<double>(lost + distinct);
}

struct ConsumeTotals {
  uint64_t lost = 0, duplicates = 0, out_of_order = 0, corrupt = 0, received = 0, failing = 0;
  uint64_t measured = 0;  // what the receive rates count (see ConsumerTally::received_measured)
};
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

}  // namespace

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

std::string interval_line(const driver::IntervalReport& r, const driver::RunConfig& config) {
  const auto& d = r.delta;
  const auto& h = r.interval->latency_us;
  const double seconds = std::max(r.interval_s, 1e-9);
  uint64_t errors = 0;
  for (const auto& [code, n] : d.errors_by_code) errors += n;
  for (uint64_t f : d.failures) errors += f;
  char line[256];
  std::snprintf(line, sizeof line,
                "[%7.1fs%s] sent %9s acked %9s err %5s | %10.0f msg/s %7.2f MB/s | p50 %8.2f ms p99 %8.2f ms | conns %u/%u",
                r.elapsed_s, r.warmup ? " warm-up" : "", with_commas(d.messages_sent).c_str(),
                with_commas(d.messages_acked).c_str(),
                with_commas(errors).c_str(), static_cast<double>(delivered(d, config)) / seconds,
                static_cast<double>(d.bytes_sent) / seconds / 1e6, ms(h.value_at_percentile(50)),
                ms(h.value_at_percentile(99)), static_cast<unsigned>(r.total.connections_open),
                config.clients + config.consumers);
  std::string text = line;
  if (config.consumers > 0) {
    std::snprintf(line, sizeof line, " | recv %10.0f msg/s e2e p99 %8.2f ms",
                  static_cast<double>(d.consume_received) / seconds,
                  ms(r.interval->e2e_latency_us.value_at_percentile(99)));
    text += line;
  }
  return text;
}

std::string summary(const driver::RunResult& result, const driver::RunConfig& config,
                    const ProcessFigures& process, const char* tool) {
  const auto& c = result.counters;
  const double elapsed = std::max(result.elapsed_s, 1e-9);
  std::ostringstream out;
  char buf[256];
  out << "\n== " << tool << " summary (" << result.io_backend << ", " << result.threads << " threads) ==\n";
  std::snprintf(buf, sizeof buf, "  elapsed            %.2f s%s\n", elapsed,
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
  std::snprintf(buf, sizeof buf, "  throughput         %.0f msg/s, %.2f MB/s\n",
                static_cast<double>(delivered(c, config)) / elapsed,
                static_cast<double>(c.bytes_sent) / elapsed / 1e6);
  out << buf;
  const auto& lat = result.metrics.latency_us;
  const auto& svc = result.metrics.service_latency_us;
  out << "  latency (ms)           p50       p90       p99     p99.9       max\n";
  for (const auto& [name, h] : {std::pair{"  from intended send", &lat}, std::pair{"  from actual send  ", &svc}}) {
    std::snprintf(buf, sizeof buf, "%s %9.2f %9.2f %9.2f %9.2f %9.2f\n", name, ms(h->value_at_percentile(50)),
                  ms(h->value_at_percentile(90)), ms(h->value_at_percentile(99)),
                  ms(h->value_at_percentile(99.9)), ms(h->max()));
    out << buf;
  }
  if (c.latency_out_of_range) {
    out << "  latency overflow   " << with_commas(c.latency_out_of_range)
        << " requests had a record above --latency-max: not in the percentiles above\n";
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
      std::snprintf(buf, sizeof buf, "  end-to-end (ms)    p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f%s\n",
                    ms(e2e.value_at_percentile(50)), ms(e2e.value_at_percentile(99)),
                    ms(e2e.value_at_percentile(99.9)), ms(e2e.max()),
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
  out << "  connections        attempted " << c.connections_attempted << ", established "
      << c.connections_established << ", failed " << c.connections_failed << ", reconnects "
      << c.reconnects << (config.warmup.count() > 0 ? "   (after the warm-up: those it opened are not counted)" : "")
      << "\n";
  for (const auto& [code, n] : c.errors_by_code) {
    out << "  kafka error        " << protocol::error_name(code) << " x" << n << "\n";
  }
  for (size_t i = 0; i < c.failures.size(); ++i) {
    if (c.failures[i]) {
      out << "  failure            " << driver::failure_name(static_cast<driver::Failure>(i)) << " x"
          << c.failures[i] << "\n";
    }
  }
  std::snprintf(buf, sizeof buf, "  process            cpu %.2fs user + %.2fs sys, peak RSS %.1f MiB, %ld threads\n",
                process.cpu_user_s, process.cpu_sys_s, static_cast<double>(process.peak_rss_kib) / 1024.0,
                process.threads);
  out << buf;
  return out.str();
}

std::string csv_header() {
  return "elapsed_s,phase,messages_sent,messages_acked,messages_failed,bytes_sent,requests_sent,errors,"
         "throughput_msgs_per_s,latency_p50_ms,latency_p90_ms,latency_p99_ms,latency_p999_ms,latency_max_ms,"
         "service_p50_ms,service_p99_ms,service_max_ms,connections_open\n";
}

std::string csv_row(const driver::IntervalReport& r, const driver::RunConfig& config) {
  const auto& d = r.delta;
  const auto& h = r.interval->latency_us;
  const auto& s = r.interval->service_latency_us;
  const double seconds = std::max(r.interval_s, 1e-9);
  uint64_t errors = 0;
  for (const auto& [code, n] : d.errors_by_code) errors += n;
  for (uint64_t f : d.failures) errors += f;
  char row[512];
  std::snprintf(row, sizeof row, "%.3f,%s,%llu,%llu,%llu,%llu,%llu,%llu,%.1f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%llu\n",
                r.elapsed_s, r.warmup ? "warmup" : "measure", static_cast<unsigned long long>(d.messages_sent),
                static_cast<unsigned long long>(d.messages_acked), static_cast<unsigned long long>(d.messages_failed),
                static_cast<unsigned long long>(d.bytes_sent), static_cast<unsigned long long>(d.requests_sent),
                static_cast<unsigned long long>(errors), static_cast<double>(delivered(d, config)) / seconds,
                ms(h.value_at_percentile(50)), ms(h.value_at_percentile(90)), ms(h.value_at_percentile(99)),
                ms(h.value_at_percentile(99.9)), ms(h.max()), ms(s.value_at_percentile(50)),
                ms(s.value_at_percentile(99)), ms(s.max()), static_cast<unsigned long long>(r.total.connections_open));
  return row;
}

nlohmann::ordered_json consume_json(const driver::RunResult& result, const driver::RunConfig& config) {
  const auto& c = result.counters;
  const double elapsed = std::max(result.elapsed_s, 1e-9);
  const ConsumeTotals t = consume_totals(result);
  nlohmann::ordered_json j;
  j["consumers"] = config.consumers;
  j["messages_received"] = c.consume_received;
  j["bytes_received"] = c.consume_bytes;
  j["fetches"] = c.consume_fetches;
  // The rate counts the window's records: with --verify and a warm-up, warm-up records still in
  // transit when it ended are received (above) but not part of the rate.
  j["messages_measured"] = t.measured;
  j["throughput_msgs_per_s"] = static_cast<double>(t.measured) / elapsed;
  j["lost"] = t.lost;
  j["loss_pct"] = loss_pct(t.lost, t.received, t.duplicates);
  j["duplicates"] = t.duplicates;
  j["out_of_order"] = t.out_of_order;
  j["corrupt"] = t.corrupt;
  j["other_runs"] = c.consume_other_runs;
  j["failing_clients"] = t.failing;
  j["verify"] = config.verify;
  j["e2e_latency_ms"] = latency_json(result.metrics.e2e_latency_us);
  j["e2e_latency_histogram"] = stats::to_base64(stats::compress_v2(result.metrics.e2e_latency_us));
  auto& per = j["per_consumer"] = nlohmann::ordered_json::array();
  for (const auto& consumer : result.consumers) {
    per.push_back({{"id", consumer.id},
                   {"received", consumer.received},
                   {"throughput_msgs_per_s", static_cast<double>(consumer.received_measured) / elapsed},
                   {"lost", consumer.lost},
                   {"loss_pct", loss_pct(consumer.lost, consumer.received, consumer.duplicates)},
                   {"duplicates", consumer.duplicates},
                   {"out_of_order", consumer.out_of_order},
                   {"corrupt", consumer.corrupt},
                   {"failed", !consumer.failure.empty()},
                   {"failure", consumer.failure}});
  }
  return j;
}

nlohmann::ordered_json interval_json(const driver::IntervalReport& r, const driver::RunConfig& config) {
  nlohmann::ordered_json j;
  const double seconds = std::max(r.interval_s, 1e-9);
  j["elapsed_s"] = r.elapsed_s;
  j["phase"] = r.warmup ? "warmup" : "measure";
  j["messages_sent"] = r.delta.messages_sent;
  j["messages_acked"] = r.delta.messages_acked;
  j["messages_failed"] = r.delta.messages_failed;
  j["bytes_sent"] = r.delta.bytes_sent;
  j["throughput_msgs_per_s"] = static_cast<double>(delivered(r.delta, config)) / seconds;
  j["latency_ms"] = latency_json(r.interval->latency_us);
  j["service_latency_ms"] = latency_json(r.interval->service_latency_us);
  j["connections_open"] = r.total.connections_open;
  if (config.consumers > 0) {
    j["consume_received"] = r.delta.consume_received;
    j["consume_msgs_per_s"] = static_cast<double>(r.delta.consume_received) / seconds;
    j["consumers_fetching"] = r.total.consumers_fetching;
    j["e2e_latency_ms"] = latency_json(r.interval->e2e_latency_us);
  }
  // Share of the workers' time spent working, not waiting: near 1 the client is the bottleneck.
  j["client_busy"] = static_cast<double>(r.delta.loop_busy_ns) / 1e9 / seconds / std::max(1U, r.workers);
  return j;
}

nlohmann::ordered_json result_json(const driver::RunResult& result, const Options& options,
                                   const std::string& broker, const ProcessFigures& process,
                                   nlohmann::ordered_json intervals) {
  const auto& config = options.run;
  const auto& c = result.counters;
  const double elapsed = std::max(result.elapsed_s, 1e-9);
  nlohmann::ordered_json j;
  auto& cfg = j["config"];
  cfg["bootstrap"] = broker;
  cfg["topic"] = config.topic;
  cfg["clients"] = config.clients;
  cfg["rate"] = config.rate;
  cfg["duration_s"] = std::chrono::duration<double>(config.duration).count();
  cfg["warmup_s"] = std::chrono::duration<double>(config.warmup).count();
  cfg["messages"] = config.messages;
  cfg["acks"] = config.acks;
  cfg["batch"] = config.batch;
  cfg["linger_ms"] = std::chrono::duration<double, std::milli>(config.linger).count();
  cfg["compression"] = protocol::codec_name(config.compression);
  cfg["message_size"] = config.message_size;
  cfg["key_size"] = config.key_size;
  cfg["max_in_flight"] = config.max_in_flight;
  cfg["threads"] = config.threads;
  cfg["io"] = result.io_backend;
  cfg["consumers"] = config.consumers;
  cfg["consume_from"] = config.consume_from_earliest ? "earliest" : "latest";
  cfg["fetch_max_wait_ms"] = std::chrono::duration<double, std::milli>(config.fetch_max_wait).count();
  cfg["fetch_min_bytes"] = config.fetch_min_bytes;
  cfg["fetch_max_bytes"] = config.fetch_max_bytes;
  cfg["verify"] = config.verify;

  auto& p = j["produce"];
  p["messages_sent"] = c.messages_sent;
  p["messages_acked"] = c.messages_acked;
  p["messages_failed"] = c.messages_failed;
  p["bytes_sent"] = c.bytes_sent;
  p["requests_sent"] = c.requests_sent;
  p["requests_acked"] = c.requests_acked;
  p["errors_by_code"] = nlohmann::ordered_json::object();
  for (const auto& [code, n] : c.errors_by_code) p["errors_by_code"][protocol::error_name(code)] = n;
  p["throughput_msgs_per_s"] = static_cast<double>(delivered(c, config)) / elapsed;
  p["throughput_mb_per_s"] = static_cast<double>(c.bytes_sent) / elapsed / 1e6;
  p["latency_ms"] = latency_json(result.metrics.latency_us);
  p["service_latency_ms"] = latency_json(result.metrics.service_latency_us);
  // The histograms themselves (HdrHistogram V2, compressed, base64; microseconds), so that
  // `wirestress merge` combines runs exactly and any HdrHistogram library can read them.
  p["latency_histogram"] = stats::to_base64(stats::compress_v2(result.metrics.latency_us));
  p["service_latency_histogram"] = stats::to_base64(stats::compress_v2(result.metrics.service_latency_us));
  p["latency_out_of_range"] = c.latency_out_of_range;
  p["messages_unsent_due"] = c.messages_unsent_due;

  if (config.consumers > 0) j["consume"] = consume_json(result, config);
  auto& conn = j["connections"];
  conn["attempted"] = c.connections_attempted;
  conn["established"] = c.connections_established;
  conn["failed"] = c.connections_failed;
  conn["reconnects"] = c.reconnects;
  auto& failures = j["failures"];
  failures = nlohmann::ordered_json::object();
  for (size_t i = 0; i < c.failures.size(); ++i) {
    failures[driver::failure_name(static_cast<driver::Failure>(i))] = c.failures[i];
  }
  j["run"] = {{"elapsed_s", result.elapsed_s},
              {"io_backend", result.io_backend},
              {"threads", result.threads},
              {"client_busy_fraction", static_cast<double>(c.loop_busy_ns) / 1e9 /
                                           std::max(1e-9, result.elapsed_s) / std::max(1U, result.threads)}};
  j["process"] = {{"cpu_user_s", process.cpu_user_s},
                  {"cpu_sys_s", process.cpu_sys_s},
                  {"peak_rss_kib", process.peak_rss_kib},
                  {"threads", process.threads},
                  {"voluntary_context_switches", process.voluntary_context_switches},
                  {"involuntary_context_switches", process.involuntary_context_switches}};
  j["intervals"] = std::move(intervals);
  return j;
}

}  // namespace ws::tools
