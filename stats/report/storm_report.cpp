#include "stats/report/storm_report.h"

#include <cstdio>

#include "protocol/errors.h"
#include "stats/hlog.h"

namespace ws::report {
namespace {

using driver::StormStage;

double ms(int64_t us) { return static_cast<double>(us) / 1000.0; }

std::string grouped(uint64_t n) {  // 12,345
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

std::string format(const char* fmt, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

// The stages this storm's handshakes go through (tls, sasl, metadata only where asked for).
bool stage_applies(StormStage s, const driver::StormResult& r, const driver::StormConfig& config) {
  const auto& sec = config.connection.security;
  switch (s) {
    case StormStage::kTls: return sec.uses_tls();
    case StormStage::kSasl: return sec.uses_sasl();
    case StormStage::kApiVersions: return r.metrics.counters.stage(s).attempted > 0 || r.metrics.counters.api_versions_skipped == 0;
    case StormStage::kMetadata: return config.metadata || r.metrics.counters.stage(s).attempted > 0;
    default: return true;
  }
}

std::string failures_text(const driver::StormStageCounts& c) {
  std::string out;
  for (size_t i = 0; i < c.failures.size(); ++i) {
    if (c.failures[i] == 0) continue;
    out += (out.empty() ? "" : ", ") + std::string(driver::failure_name(static_cast<driver::Failure>(i))) + " " +
           grouped(c.failures[i]);
  }
  return out;
}

}  // namespace

driver::Verdict judge_storm(const driver::StormResult& result) {
  driver::Verdict v;
  const auto& total = result.metrics.counters.stage(StormStage::kTotal);
  if (!result.fatal.empty()) v.reasons.push_back(result.fatal);
  if (total.completed == 0) v.reasons.push_back("no handshake completed (" + grouped(total.attempted) + " attempted)");
  if (!v.reasons.empty()) v.status = driver::ExitStatus::kDegraded;
  return v;
}

std::string storm_progress_line(const driver::StormProgress& p, double offered_rate) {
  const auto& c = p.total;
  const auto& total = c.stage(StormStage::kTotal);
  return format("[%7.1fs] %s scheduled (%s/s offered) | %s completed | %s failed | %s dropped | %s pending",
                p.elapsed_s, grouped(c.scheduled).c_str(), grouped(static_cast<uint64_t>(offered_rate)).c_str(),
                grouped(total.completed).c_str(), grouped(total.failed).c_str(), grouped(c.dropped).c_str(),
                grouped(c.pending).c_str());
}

std::string storm_summary(const driver::StormResult& result, const driver::StormConfig& config,
                          const RunContext& context, const ProcessFigures& process) {
  const auto& c = result.metrics.counters;
  const auto& total = c.stage(StormStage::kTotal);
  std::string s;
  s += "\n" + context.tool + " storm against " + context.broker + " (" + result.security_protocol +
       (result.sasl_mechanism.empty() ? "" : " " + result.sasl_mechanism) + ", " + result.io_backend + ", " +
       std::to_string(result.threads) + (result.threads == 1 ? " thread" : " threads") + ")\n";
  s += format("  offered      %s connections/s for %s (max %s pending)\n",
              grouped(static_cast<uint64_t>(result.offered_rate)).c_str(),
              driver::format_duration(config.duration).c_str(), grouped(config.max_pending).c_str());
  s += format("  achieved     %.1f completed handshakes/s over %.2fs\n", result.completed_per_s(), result.elapsed_s);
  s += format("  attempts     %s scheduled, %s started, %s completed, %s failed, %s dropped (over --max-pending)",
              grouped(c.scheduled).c_str(), grouped(total.attempted).c_str(), grouped(total.completed).c_str(),
              grouped(total.failed).c_str(), grouped(c.dropped).c_str());
  if (c.unfinished > 0) s += ", " + grouped(c.unfinished) + " unfinished at the end";
  s += "\n";
  if (c.api_versions_skipped > 0) {
    s += "  api_versions skipped on " + grouped(c.api_versions_skipped) + " handshakes (Kafka 0.9: Metadata instead)\n";
  }
  if (!c.metadata_errors.empty()) {
    s += "  metadata answered with topic errors:";
    for (const auto& [code, n] : c.metadata_errors) s += " " + std::string(protocol::error_name(code)) + " " + grouped(n);
    s += "\n";
  }
  s += "\n  stage            attempted   completed      failed     p50 ms     p90 ms     p95 ms     p99 ms   p99.9 ms     max ms"
       "    mean ms\n";
  for (size_t i = 0; i < driver::kStormStages; ++i) {
    const auto stage = static_cast<StormStage>(i);
    if (!stage_applies(stage, result, config)) continue;
    const auto& sc = c.stages[i];
    const auto& h = result.metrics.latency_us[i];
    s += format("  %-13s %12s %11s %11s %10.3f %10.3f %10.3f %10.3f %10.3f %10.3f %10.3f\n",
                driver::storm_stage_name(stage), grouped(sc.attempted).c_str(), grouped(sc.completed).c_str(),
                grouped(sc.failed).c_str(), ms(h.value_at_percentile(50)), ms(h.value_at_percentile(90)),
                ms(h.value_at_percentile(95)), ms(h.value_at_percentile(99)), ms(h.value_at_percentile(99.9)),
                ms(h.max()), h.mean() / 1000.0);
    if (sc.failed > 0) s += "                failures: " + failures_text(sc) + "\n";
  }
  const auto& lag = result.metrics.start_lag_us;
  s += format("  (total: from the attempt's scheduled start to its last stage, so a late start counts; starts were\n"
              "   late by p50 %.3f ms, p99 %.3f ms, max %.3f ms)\n",
              ms(lag.value_at_percentile(50)), ms(lag.value_at_percentile(99)), ms(lag.max()));
  s += format("\n  process      cpu %.2fs user %.2fs sys, peak RSS %ld MiB\n", process.cpu_user_s, process.cpu_sys_s,
              process.peak_rss_kib / 1024);
  if (result.interrupted) s += "  interrupted (Ctrl-C): results up to then\n";
  const char* verdict = context.verdict.status == driver::ExitStatus::kOk ? "ok" : "DEGRADED";
  s += std::string("  result       ") + verdict + " (exit " + std::to_string(static_cast<int>(context.verdict.status)) +
       ")\n";
  for (const auto& r : context.verdict.reasons) s += "               " + r + "\n";
  return s;
}

Json storm_json(const driver::StormResult& result, const driver::StormConfig& config, const RunContext& context,
                const ProcessFigures& process) {
  const auto& c = result.metrics.counters;
  Json j;
  j["config"] = {{"bootstrap", context.broker},
                 {"rate", config.rate},
                 {"duration_s", std::chrono::duration<double>(config.duration).count()},
                 {"max_pending", config.max_pending},
                 {"topic", config.metadata ? Json(config.connection.topic) : Json(nullptr)},
                 {"threads", result.threads},
                 {"connect_timeout_s", std::chrono::duration<double>(config.connection.connect_timeout).count()},
                 {"drain_timeout_s", std::chrono::duration<double>(config.drain_timeout).count()}};
  const auto& total = c.stage(StormStage::kTotal);
  j["storm"] = {{"offered_rate_per_s", result.offered_rate},
                {"completed_per_s", result.completed_per_s()},
                {"elapsed_s", result.elapsed_s},
                {"scheduled", c.scheduled},
                {"attempted", total.attempted},
                {"completed", total.completed},
                {"failed", total.failed},
                {"dropped", c.dropped},
                {"unfinished", c.unfinished},
                {"api_versions_skipped", c.api_versions_skipped},
                {"latency_out_of_range", result.metrics.latency_out_of_range}};
  Json meta_errors = Json::object();
  for (const auto& [code, n] : c.metadata_errors) meta_errors[protocol::error_name(code)] = n;
  j["storm"]["metadata_errors_by_code"] = meta_errors;
  j["storm"]["start_lag_ms"] = latency_json(result.metrics.start_lag_us);
  // Every stage, always (a stage the handshake skips has zero counts), so results compare.
  Json stages = Json::object();
  for (size_t i = 0; i < driver::kStormStages; ++i) {
    const auto& sc = c.stages[i];
    Json failures = Json::object();
    for (size_t f = 0; f < sc.failures.size(); ++f) {
      if (sc.failures[f] > 0) failures[driver::failure_name(static_cast<driver::Failure>(f))] = sc.failures[f];
    }
    const auto& h = result.metrics.latency_us[i];
    stages[driver::storm_stage_name(static_cast<StormStage>(i))] = {
        {"attempted", sc.attempted},
        {"completed", sc.completed},
        {"failed", sc.failed},
        {"failures", failures},
        {"latency_ms", latency_json(h)},
        {"latency_histogram", stats::to_base64(stats::compress_v2(h))}};
  }
  j["stages"] = stages;
  Json reasons = Json::array();
  for (const auto& r : context.verdict.reasons) reasons.push_back(r);
  j["run"] = {{"tool", context.tool},
              {"command", "storm"},
              {"version", context.version},
              {"command_line", context.command_line},
              {"start_time_unix_ms", result.start_time_unix_ms},
              {"elapsed_s", result.elapsed_s},
              {"io_backend", result.io_backend},
              {"threads", result.threads},
              {"interrupted", result.interrupted},
              {"fatal", result.fatal},
              {"exit_code", static_cast<int>(context.verdict.status)},
              {"degraded_reasons", reasons}};
  j["security"] = {{"protocol", result.security_protocol},
                   {"sasl_mechanism", result.sasl_mechanism.empty() ? Json(nullptr) : Json(result.sasl_mechanism)}};
  j["process"] = {{"cpu_user_s", process.cpu_user_s},
                  {"cpu_sys_s", process.cpu_sys_s},
                  {"peak_rss_kib", process.peak_rss_kib},
                  {"threads", process.threads}};
  return j;
}

}  // namespace ws::report
