#include "driver/capacity/figures.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>

namespace ws::capacity {
namespace {

// A client counted as failing had no connection open at some tick of the measured time (the
// connecting phase before it and the drain after it are phases of their own), or never connected.
uint64_t clients_without_connection(const Json& result, uint32_t expected) {
  const uint64_t never = static_cast<uint64_t>(json_number(json_section(result, "clients"), "never_connected") +
                                               json_number(json_section(result, "consumers"), "never_connected"));
  const auto it = result.find("intervals");
  if (it == result.end() || !it->is_array() || expected == 0) return never;
  const Json& cfg = json_section(result, "config");
  // The measured time ends at connecting + warm-up + duration (older results had no connecting
  // phase). A tick just after it may already see clients closing: it does not count.
  const double measure_end = json_number(json_section(result, "connect"), "duration_s") +
                             json_number(cfg, "warmup_s") + json_number(cfg, "duration_s");
  double min_open = std::numeric_limits<double>::infinity();
  for (const auto& iv : *it) {
    if (iv.value("phase", "") != "measure") continue;
    if (json_number(cfg, "duration_s") > 0 && json_number(iv, "elapsed_s") > measure_end - 0.05) continue;
    min_open = std::min(min_open, json_number(iv, "connections_open"));
  }
  if (!std::isfinite(min_open)) return never;
  return std::max(never, min_open >= expected ? 0 : static_cast<uint64_t>(expected - min_open));
}

// Each consumer's own figures (consume.per_consumer): the slowest one's rate over the measured
// time, and the consumers that failed, received nothing or lost records. The per-consumer rates
// in the JSON are over the whole run (measured time and drain): rescaled to the measured time.
void consumer_figures(const Json& result, double measured_s, LoadFigures& f) {
  const Json& consume = json_section(result, "consume");
  const Json& per = json_section(consume, "per_consumer");
  if (!per.is_array() || per.empty()) {
    f.received_min_msgs_per_s = f.received_msgs_per_s;
    f.failing_consumers = static_cast<uint32_t>(json_number(consume, "failing_clients"));
    return;
  }
  const double scale = std::max(json_number(json_section(result, "run"), "elapsed_s"), 1e-9) / measured_s;
  double slowest = std::numeric_limits<double>::infinity();
  uint32_t failing = 0;
  for (const auto& c : per) {
    const double rate = json_number(c, "throughput_msgs_per_s") * scale;
    slowest = std::min(slowest, rate);
    failing += c.value("failed", false) || rate <= 0 || json_number(c, "lost") > 0;
  }
  // Consumers that never got as far as a report are failing too.
  failing += f.consumers > per.size() ? static_cast<uint32_t>(f.consumers - per.size()) : 0;
  f.received_min_msgs_per_s = f.consumers > per.size() ? 0 : slowest;
  f.failing_consumers = failing;
}

void group_figures(const Json& groups, LoadFigures& f) {
  if (groups.empty()) return;
  f.groups = static_cast<uint32_t>(json_number(groups, "groups"));
  f.group_members = static_cast<uint32_t>(json_number(groups, "members"));
  f.groups_stable = static_cast<uint32_t>(json_number(groups, "groups_stable"));
  f.members_never_assigned = static_cast<uint32_t>(json_number(groups, "members_never_assigned"));
  const Json& stable = json_section(groups, "time_to_stable_s");
  if (json_number(stable, "count") > 0) {
    f.time_to_stable_p50_s = json_number(stable, "p50", -1);
    f.time_to_stable_max_s = json_number(stable, "max", -1);
  }
  const Json& join = json_section(groups, "join_latency_ms");
  f.join_p50_ms = json_number(join, "p50");
  f.join_p99_ms = json_number(join, "p99");
}

std::string format(const char* fmt, double a, double b = 0, double c = 0) {
  char buf[200];
  std::snprintf(buf, sizeof buf, fmt, a, b, c);
  return buf;
}

}  // namespace

double json_number(const Json& j, const char* key, double fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

const Json& json_section(const Json& j, const char* key) {
  static const Json kEmpty = Json::object();
  if (!j.is_object()) return kEmpty;
  const auto it = j.find(key);
  return it != j.end() && (it->is_object() || it->is_array()) ? *it : kEmpty;
}

std::string json_string(const Json& j, const char* key) {
  if (!j.is_object()) return "";
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

LoadFigures load_figures(const Json& result) {
  LoadFigures f;
  const Json& cfg = json_section(result, "config");
  const Json& produce = json_section(result, "produce");
  const Json& run = json_section(result, "run");
  f.clients = static_cast<uint32_t>(json_number(cfg, "clients"));
  f.consumers = static_cast<uint32_t>(json_number(cfg, "consumers"));
  f.offered_msgs_per_s = json_number(cfg, "rate");
  // Rates over the measured time, not the measured time plus the drain (the JSON's own rates):
  // a run that kept up exactly should read as achieving its offered rate.
  double elapsed = std::max(json_number(run, "elapsed_s"), 1e-9);
  if (json_number(cfg, "duration_s") > 0) elapsed = std::min(elapsed, json_number(cfg, "duration_s"));
  const double sent = json_number(produce, "messages_sent");
  const double failed = json_number(produce, "messages_failed");
  const double unsent = json_number(produce, "messages_unsent_due");
  f.sent_msgs_per_s = sent / elapsed;
  f.acked_msgs_per_s = (json_number(cfg, "acks", 1) == 0 ? sent : json_number(produce, "messages_acked")) / elapsed;
  f.error_rate = sent > 0 ? failed / sent : 0;
  f.loss = f.error_rate;
  f.achieved_msgs_per_s = f.acked_msgs_per_s;
  const Json& consume = json_section(result, "consume");
  if (f.consumers > 0 && !consume.empty()) {
    // messages_measured leaves out warm-up records still in transit when the warm-up ended
    // (with --verify); older JSON has only messages_received.
    const double received = consume.contains("messages_measured") ? json_number(consume, "messages_measured")
                                                                   : json_number(consume, "messages_received");
    f.received_msgs_per_s = received / elapsed / f.consumers;
    f.achieved_msgs_per_s = f.received_msgs_per_s;
    f.loss = json_number(consume, "loss_pct") / 100.0;
    f.loss_from_consumers = true;
    const Json& e2e = json_section(consume, "e2e_latency_ms");
    if (json_number(e2e, "count") > 0) f.e2e_p99_ms = json_number(e2e, "p99");
    consumer_figures(result, elapsed, f);
  }
  f.failing_clients = std::max<uint64_t>(clients_without_connection(result, f.clients + f.consumers),
                                         static_cast<uint64_t>(json_number(consume, "failing_clients")));
  group_figures(json_section(result, "groups"), f);
  const Json& latency = json_section(produce, "latency_ms");
  for (int i = 0; i < kLatencyFigureCount; ++i) f.latency_ms[i] = json_number(latency, kLatencyNames[i]);
  const Json& service = json_section(produce, "service_latency_ms");
  f.service_p99_ms = json_number(service, "p99");
  f.client_busy = json_number(run, "client_busy_fraction");
  f.behind_schedule = sent + unsent > 0 ? unsent / (sent + unsent) : 0;
  // Little's law: requests in flight = request completion rate x mean time in flight.
  const double max_in_flight = json_number(cfg, "max_in_flight", 5);
  if (json_number(cfg, "acks", 1) != 0 && f.clients > 0) {
    const double requests_per_s = json_number(produce, "requests_acked") / elapsed;
    f.window_use = requests_per_s * json_number(service, "mean") / 1000.0 / (f.clients * max_in_flight);
  }
  return f;
}

Json figures_json(const LoadFigures& f) {
  Json j;
  j["clients"] = f.clients;
  j["consumers"] = f.consumers;
  j["offered_msgs_per_s"] = f.offered_msgs_per_s;
  j["achieved_msgs_per_s"] = f.achieved_msgs_per_s;
  j["sent_msgs_per_s"] = f.sent_msgs_per_s;
  j["acked_msgs_per_s"] = f.acked_msgs_per_s;
  if (f.consumers > 0) {
    j["received_msgs_per_s"] = f.received_msgs_per_s;
    j["received_min_msgs_per_s"] = f.received_min_msgs_per_s;
    j["failing_consumers"] = f.failing_consumers;
  }
  j["error_rate"] = f.error_rate;
  j["loss_pct"] = 100.0 * f.loss;
  j["loss_from"] = f.loss_from_consumers ? "consumers" : "producer failures";
  j["failing_clients"] = f.failing_clients;
  auto& lat = j["latency_ms"];
  for (int i = 0; i < kLatencyFigureCount; ++i) lat[kLatencyNames[i]] = f.latency_ms[i];
  j["service_latency_p99_ms"] = f.service_p99_ms;
  if (f.e2e_p99_ms >= 0) j["e2e_latency_p99_ms"] = f.e2e_p99_ms;
  j["client_busy"] = f.client_busy;
  j["behind_schedule"] = f.behind_schedule;
  if (f.window_use >= 0) j["in_flight_window_use"] = f.window_use;
  if (f.groups > 0) {
    j["groups"] = {{"groups", f.groups},
                   {"members", f.group_members},
                   {"groups_stable", f.groups_stable},
                   {"members_never_assigned", f.members_never_assigned},
                   {"time_to_stable_p50_s", f.time_to_stable_p50_s >= 0 ? Json(f.time_to_stable_p50_s) : Json(nullptr)},
                   {"time_to_stable_max_s", f.time_to_stable_max_s >= 0 ? Json(f.time_to_stable_max_s) : Json(nullptr)},
                   {"join_latency_p50_ms", f.join_p50_ms},
                   {"join_latency_p99_ms", f.join_p99_ms}};
  }
  return j;
}

std::vector<Violation> check_limits(const LoadFigures& f, const CeilingLimits& limits) {
  std::vector<Violation> out;
  const bool client_saturated = f.client_busy >= limits.client_busy_max;
  if (client_saturated) {
    out.push_back({"client", format("client event loops busy %.0f%% of the time (limit %.0f%%)",
                                    100 * f.client_busy, 100 * limits.client_busy_max)});
  }
  std::string errors;
  if (f.error_rate > limits.max_error_rate) {
    errors = format("%.3g%% of records failed (limit %.3g%%)", 100 * f.error_rate, 100 * limits.max_error_rate);
  }
  if (f.failing_clients > limits.max_failing_clients) {
    if (!errors.empty()) errors += "; ";
    errors += std::to_string(f.failing_clients) + " failing clients (limit " +
              std::to_string(limits.max_failing_clients) + ")";
  }
  if (!errors.empty()) out.push_back({"errors", errors});
  if (f.loss_from_consumers && f.loss > limits.max_loss) {
    out.push_back({"loss", format("consumers lost %.3g%% of records (limit %.3g%%)", 100 * f.loss, 100 * limits.max_loss)});
  }
  // Behind schedule while the broker was not holding the client back: the in-flight window was
  // mostly free and no request waited on the broker long (a broker stall fills the window for a
  // moment, which the run's average window use hides, but it shows in the service-time tail).
  constexpr double kBehindLimit = 0.05, kWindowFree = 0.5;
  if (!client_saturated && f.failing_clients == 0 && f.behind_schedule > kBehindLimit && f.window_use >= 0 &&
      f.window_use < kWindowFree && f.service_p99_ms <= limits.slo_p99_ms) {
    out.push_back({"client", format("the client sent %.1f%% of its schedule late or never while using %.0f%% "
                                    "of its in-flight window: it could not keep up",
                                    100 * f.behind_schedule, 100 * f.window_use)});
  }
  if (f.offered_msgs_per_s > 0 && f.achieved_msgs_per_s < limits.min_achieved * f.offered_msgs_per_s) {
    out.push_back({"throughput_plateau", format("achieved %.0f msg/s of %.0f offered (%.0f%%)", f.achieved_msgs_per_s,
                                                f.offered_msgs_per_s,
                                                100 * f.achieved_msgs_per_s / f.offered_msgs_per_s)});
  }
  if (f.latency_ms[kP99] > limits.slo_p99_ms) {
    out.push_back({"latency", format("p99 %.1f ms > %.1f ms", f.latency_ms[kP99], limits.slo_p99_ms)});
  }
  return out;
}

std::optional<double> CeilingSearch::next() const {
  if (steps_ >= s_.max_steps) return std::nullopt;
  if (!have_bad_) {
    if (steps_ == 0) return s_.whole_numbers ? std::ceil(s_.start) : s_.start;
    if (good_ >= s_.max) return std::nullopt;
    double load = std::min(good_ * s_.factor, s_.max);
    if (s_.whole_numbers) load = std::max(std::ceil(load), good_ + 1);
    return std::min(load, s_.max);
  }
  if (good_ <= 0) return std::nullopt;  // even the first load failed
  const double gap = bad_ - good_;
  if (gap <= s_.precision * good_ || (s_.whole_numbers && gap <= 1)) return std::nullopt;
  return round_between(good_, bad_, s_.whole_numbers);
}

void CeilingSearch::record(double load, bool ok) {
  ++steps_;
  if (ok) {
    good_ = std::max(good_, load);
  } else if (!have_bad_ || load < bad_) {
    bad_ = load;
    have_bad_ = true;
  }
}

double round_between(double lo, double hi, bool whole_numbers) {
  const double mid = (lo + hi) / 2;
  double step = std::pow(10.0, std::floor(std::log10(std::max(hi - lo, 1e-9))) - 1);
  if (whole_numbers) step = std::max(step, 1.0);
  const double rounded = std::round(mid / step) * step;
  if (rounded > lo && rounded < hi) return rounded;
  return whole_numbers ? std::floor(mid) : mid;
}

bool parse_number_list(const std::string& text, std::vector<double>& out) {
  out.clear();
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty() || !(std::isdigit(static_cast<unsigned char>(item[0])) || item[0] == '.')) return false;
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (end != item.c_str() + item.size() || !std::isfinite(v) || v <= 0) return false;
    out.push_back(v);
  }
  return !out.empty() && (text.empty() || text.back() != ',');
}

}  // namespace ws::capacity
