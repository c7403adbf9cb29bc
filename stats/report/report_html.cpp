#include "stats/report/report_html.h"

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include "driver/capacity/figures.h"
#include "driver/metrics.h"
#include "stats/report/result_json.h"

extern char** environ;

namespace ws::report {

// The figures of each run or step are the capacity search's own (driver/capacity/figures.h).
using namespace ws::capacity;

namespace {

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}
std::string grouped(double v) {  // 1234567 -> "1,234,567"
  std::string s = fixed(std::round(v), 0);
  const size_t start = s[0] == '-' ? 1 : 0;
  for (int i = static_cast<int>(s.size()) - 3; i > static_cast<int>(start); i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

// One run inside a sweep or ceiling (or the run itself), placed on the command's time line.
struct RunView {
  std::string name;         // "cell 3" / "step 5" / "run"
  double started_s = 0;     // when it began, since the command started
  double offered = 0;       // msg/s
  double x = 0;             // where it sits on the x axis of the load charts
  bool ok = true;           // ceiling steps: within every limit; overlaid runs: exit code 0
  bool cut_short = false;   // Ctrl-C ended it: its figures say nothing about its load
  std::string verdict;      // ceiling steps: the reasons it failed; overlaid runs: exit code and why
  int exit_code = 0;        // the run's (0: all went well)
  double mb_per_s = 0;      // data sent
  const Json* result = nullptr;
  LoadFigures f;
};

// A single run's result as a RunView named `name`.
RunView run_view(const Json& j, std::string name) {
  RunView r;
  r.name = std::move(name);
  r.result = &j;
  r.f = load_figures(j);
  r.offered = r.x = r.f.offered_msgs_per_s;
  const Json& produce = json_section(j, "produce");
  const Json& run = json_section(j, "run");
  r.mb_per_s = json_number(produce, "throughput_mb_per_s",
                           json_number(produce, "bytes_sent") / std::max(json_number(run, "elapsed_s"), 1e-9) / 1e6);
  r.cut_short = run.value("interrupted", false);
  r.exit_code = static_cast<int>(json_number(run, "exit_code"));
  r.verdict = std::to_string(r.exit_code);
  std::string reasons;
  for (const auto& reason : json_section(run, "degraded_reasons")) {
    if (reason.is_string()) reasons += (reasons.empty() ? "" : "; ") + reason.get<std::string>();
  }
  if (!reasons.empty()) r.verdict += ": " + reasons;
  return r;
}

std::vector<RunView> runs_of(const Json& j, ResultKind kind) {
  std::vector<RunView> runs;
  if (kind == ResultKind::kRun) {
    runs.push_back(run_view(j, "run"));
    return runs;
  }
  const bool sweep = kind == ResultKind::kSweep;
  const bool by_connections = json_string(json_section(j, "ceiling"), "ramp") == "connections";
  for (const auto& item : json_section(j, sweep ? "cells" : "steps")) {
    RunView r;
    r.name = std::string(sweep ? "cell " : "step ") + std::to_string(static_cast<int>(json_number(item, "index")));
    r.started_s = json_number(item, "started_s");
    r.result = &json_section(item, "result");
    r.f = load_figures(*r.result);
    r.offered = json_number(item, "offered_msgs_per_s", r.f.offered_msgs_per_s);
    r.x = by_connections ? json_number(item, "clients", r.f.clients) : r.offered;
    r.cut_short = json_section(*r.result, "run").value("interrupted", false);
    if (!sweep) {
      r.ok = item.value("ok", true);
      for (const auto& v : json_section(item, "violations")) r.verdict += (r.verdict.empty() ? "" : ", ") + json_string(v, "reason");
    }
    runs.push_back(std::move(r));
  }
  return runs;
}

bool any_consumers(const std::vector<RunView>& runs) {
  return std::any_of(runs.begin(), runs.end(), [](const RunView& r) { return r.f.loss_from_consumers; });
}

// Logarithmic when the values span more than `ratio` (latency under overload, geometric ramps).
bool spans(const std::vector<double>& values, double ratio) {
  double lo = 1e300, hi = 0;
  for (double v : values) {
    if (v > 0) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  return hi > 0 && hi / lo > ratio;
}

std::string point_label(const RunView& r, const std::string& what) {
  return r.name + " (" + grouped(r.f.clients) + " clients, " + grouped(r.offered) + " msg/s offered): " + what;
}

// A sweep's series: one per (client count, consumer count), named by what the sweep varies.
struct SweepLine {
  uint32_t clients = 0;
  uint32_t consumers = 0;
  bool operator<(const SweepLine& o) const { return std::tie(clients, consumers) < std::tie(o.clients, o.consumers); }
};

std::map<SweepLine, std::vector<const RunView*>> sweep_lines(const std::vector<RunView>& runs) {
  std::map<SweepLine, std::vector<const RunView*>> lines;
  for (const auto& r : runs) lines[{r.f.clients, r.f.consumers}].push_back(&r);
  for (auto& [key, list] : lines) {
    std::stable_sort(list.begin(), list.end(), [](const RunView* a, const RunView* b) { return a->offered < b->offered; });
  }
  return lines;
}

template <typename Key>
size_t distinct(const std::vector<RunView>& runs, Key key) {
  std::set<uint32_t> values;
  for (const auto& r : runs) values.insert(key(r));
  return values.size();
}

// "10 clients", "50 consumers", "10 clients, 50 consumers": what tells the lines apart.
std::string line_name(const SweepLine& l, bool clients_vary, bool consumers_vary) {
  auto count = [](uint32_t n, const char* one, const char* many) { return grouped(n) + " " + (n == 1 ? one : many); };
  if (consumers_vary && !clients_vary) return count(l.consumers, "consumer", "consumers");
  if (consumers_vary) return count(l.clients, "client", "clients") + ", " + count(l.consumers, "consumer", "consumers");
  return count(l.clients, "client", "clients");
}

// A sweep of consumer counts: its cells have several, or its plan had several (a sweep
// interrupted in its first consumer count still draws the per-consumer plots).
bool varies_consumers(const Json& j, const std::vector<RunView>& runs) {
  return distinct(runs, [](const RunView& r) { return r.f.consumers; }) > 1 ||
         json_section(json_section(j, "sweep"), "consumers").size() > 1;
}

// Sweep: one series per client count (or consumer count: the seed study's plots), against the
// offered load.
std::vector<Chart> sweep_charts(const Json& j, const std::vector<RunView>& runs) {
  const auto lines = sweep_lines(runs);
  const bool consumers = any_consumers(runs);
  const bool consumers_vary = varies_consumers(j, runs);
  const bool clients_vary = distinct(runs, [](const RunView& r) { return r.f.clients; }) > 1;
  std::vector<double> offered;
  for (const auto& r : runs) offered.push_back(r.offered);
  const bool log_x = spans(offered, 50);
  auto chart = [&](const char* id, std::string title, std::string y_label) {
    Chart c(id, std::move(title),
            consumers_vary ? "offered load (msg/s, the producers' total)" : "offered load (msg/s, clients x rate per client)",
            std::move(y_label));
    c.log_x = log_x;
    // The consumer sweep's few rates sit close together (1000 to 3000): the axis starts near them.
    c.x_from_zero = !consumers_vary;
    return c;
  };
  const std::string rate_name = consumers ? "receive rate per consumer" : "acknowledged rate";
  Chart achieved = consumers_vary
                       ? chart("consumer-receive-rate", "Each consumer's receive rate: mean (solid), slowest consumer (dashed)",
                               "msg/s received per consumer")
                       : chart("achieved", "Achieved " + rate_name + " vs offered load", "msg/s");
  // Achieved against offered: the same kind of axis on both, so the ideal line stays a diagonal.
  achieved.log_y = log_x;
  ChartSeries cut("cut short by Ctrl-C (not a failure)", "#999999", false, false, true);
  Chart loss = consumers_vary ? chart("consumer-loss", "Loss per consumer count (records consumers missed)", "loss (%)")
                              : chart("loss", consumers ? "Loss vs offered load (records consumers missed)"
                                                        : "Loss vs offered load (records failed)",
                                      "loss (%)");
  Chart failing = consumers_vary
                      ? chart("failing-consumers", "Failing consumers (failed, received nothing or lost records)",
                              "consumers")
                      : chart("failing-clients", "Failing clients vs offered load", "clients");
  Chart latency = chart("latency", "Latency vs offered load: p99 (solid), p50 (dashed)", "ms from intended send");
  std::vector<double> latencies;
  ChartSeries ideal("offered (ideal)", "#999999", true, true, false);
  for (double o : offered) ideal.points.push_back({o, o, "offered " + grouped(o) + " msg/s"});
  std::sort(ideal.points.begin(), ideal.points.end(), [](const ChartPoint& a, const ChartPoint& b) { return a.x < b.x; });
  size_t color = 0;
  for (const auto& [key, list] : lines) {
    const std::string name = line_name(key, clients_vary, consumers_vary);
    const std::string c = palette_color(color++);
    ChartSeries a(consumers_vary ? name + " mean" : name, c), slowest(name + " slowest", c, true), l(name, c),
        fc(name, c), p99(name + " p99", c), p50(name + " p50", c, true);
    for (const RunView* r : list) {
      if (r->cut_short) {
        cut.points.push_back({r->offered, r->f.achieved_msgs_per_s, point_label(*r, "interrupted: not measured to its end")});
        continue;
      }
      a.points.push_back({r->offered, r->f.achieved_msgs_per_s,
                          point_label(*r, (consumers_vary ? "mean " : "achieved ") + grouped(r->f.achieved_msgs_per_s) +
                                              " msg/s")});
      slowest.points.push_back({r->offered, r->f.received_min_msgs_per_s,
                                point_label(*r, "slowest consumer " + grouped(r->f.received_min_msgs_per_s) + " msg/s")});
      l.points.push_back({r->offered, 100 * r->f.loss, point_label(*r, "loss " + fixed(100 * r->f.loss, 4) + "%")});
      const double failing_count =
          consumers_vary ? static_cast<double>(r->f.failing_consumers) : static_cast<double>(r->f.failing_clients);
      fc.points.push_back(
          {r->offered, failing_count,
           point_label(*r, grouped(failing_count) +
                               (consumers_vary ? " of " + grouped(r->f.consumers) + " consumers failing" : " failing clients"))});
      p99.points.push_back({r->offered, r->f.latency_ms[kP99], point_label(*r, "p99 " + fixed(r->f.latency_ms[kP99], 2) + " ms")});
      p50.points.push_back({r->offered, r->f.latency_ms[kP50], point_label(*r, "p50 " + fixed(r->f.latency_ms[kP50], 2) + " ms")});
      latencies.push_back(r->f.latency_ms[kP99]);
      latencies.push_back(r->f.latency_ms[kP50]);
    }
    achieved.series.push_back(std::move(a));
    if (consumers_vary) achieved.series.push_back(std::move(slowest));
    loss.series.push_back(std::move(l));
    failing.series.push_back(std::move(fc));
    latency.series.push_back(std::move(p99));
    latency.series.push_back(std::move(p50));
  }
  achieved.series.push_back(std::move(ideal));
  if (!cut.points.empty()) achieved.series.push_back(std::move(cut));
  latency.log_y = spans(latencies, 30);
  return {achieved, loss, failing, latency};
}

// Consumer groups (--group-mode), against the number of members: the time until the groups were
// stable (the last one, and the median one) and JoinGroup latency; a line per offered rate when
// the sweep has several. Cells cut short by Ctrl-C are left out.
std::vector<Chart> group_charts(const std::vector<RunView>& runs) {
  std::map<double, std::vector<const RunView*>> by_rate;
  std::vector<double> members, stable_s, join_ms;
  for (const auto& r : runs) {
    if (r.f.groups == 0 || r.cut_short) continue;
    by_rate[r.offered].push_back(&r);
    members.push_back(r.f.group_members);
  }
  if (by_rate.empty()) return {};
  const bool several_rates = by_rate.size() > 1;
  const char* x_label = "group members (all groups together)";
  Chart stable("group-stable", "Time to a stable group: last group (solid), median group (dashed)", x_label,
               "seconds from the run's start");
  Chart join("group-join-latency", "JoinGroup latency: p99 (solid), p50 (dashed)", x_label, "ms");
  ChartSeries unstable("not every group stable", "#d62728", false, false, true);
  for (Chart* c : {&stable, &join}) {
    c->log_x = spans(members, 20);
    c->x_from_zero = false;
  }
  size_t color = 0;
  for (auto& [rate, list] : by_rate) {
    std::stable_sort(list.begin(), list.end(),
                     [](const RunView* a, const RunView* b) { return a->f.group_members < b->f.group_members; });
    const std::string prefix = several_rates ? compact_number(rate) + " msg/s: " : "";
    const std::string c = palette_color(color++);
    ChartSeries last(prefix + "last group", c), median(prefix + "median group", c, true), p99(prefix + "join p99", c),
        p50(prefix + "join p50", c, true);
    for (const RunView* r : list) {
      const double x = r->f.group_members;
      const std::string who = r->name + " (" + grouped(x) + " members in " + grouped(r->f.groups) + " groups, " +
                              grouped(r->offered) + " msg/s): ";
      const std::string stable_text = grouped(r->f.groups_stable) + " of " + grouped(r->f.groups) + " groups stable";
      if (r->f.time_to_stable_max_s >= 0) {
        last.points.push_back(
            {x, r->f.time_to_stable_max_s, who + "last stable after " + fixed(r->f.time_to_stable_max_s, 2) + " s, " + stable_text});
        median.points.push_back({x, r->f.time_to_stable_p50_s, who + "median " + fixed(r->f.time_to_stable_p50_s, 2) + " s"});
        stable_s.push_back(r->f.time_to_stable_max_s);
        stable_s.push_back(r->f.time_to_stable_p50_s);
      }
      if (r->f.groups_stable < r->f.groups) {
        unstable.points.push_back({x, std::max(r->f.time_to_stable_max_s, 0.0), who + stable_text});
      }
      p99.points.push_back({x, r->f.join_p99_ms, who + "join p99 " + fixed(r->f.join_p99_ms, 1) + " ms"});
      p50.points.push_back({x, r->f.join_p50_ms, who + "join p50 " + fixed(r->f.join_p50_ms, 1) + " ms"});
      join_ms.push_back(r->f.join_p99_ms);
      join_ms.push_back(r->f.join_p50_ms);
    }
    stable.series.push_back(std::move(last));
    stable.series.push_back(std::move(median));
    join.series.push_back(std::move(p99));
    join.series.push_back(std::move(p50));
  }
  if (!unstable.points.empty()) stable.series.push_back(std::move(unstable));
  // Log-log or linear-linear: members spanning decades put both axes on a log scale.
  stable.log_y = stable.log_x || spans(stable_s, 30);
  join.log_y = join.log_x || spans(join_ms, 30);
  return {stable, join};
}

// Ceiling: one series per figure, steps sorted by load, failed steps marked, ceiling and SLO drawn.
std::vector<Chart> ceiling_charts(const Json& j, const std::vector<RunView>& runs) {
  const Json& ceiling = json_section(j, "ceiling");
  const bool by_connections = json_string(ceiling, "ramp") == "connections";
  std::vector<const RunView*> sorted;
  for (const auto& r : runs) sorted.push_back(&r);
  std::stable_sort(sorted.begin(), sorted.end(), [](const RunView* a, const RunView* b) { return a->x < b->x; });
  std::vector<double> xs;
  for (const auto& r : runs) xs.push_back(r.x);
  const bool log_x = spans(xs, 20);
  const std::string x_label = by_connections ? "clients (connections)" : "offered load (msg/s)";
  const double best = by_connections ? json_number(ceiling, "max_connections") : json_number(ceiling, "max_sustainable_msgs_per_s");
  const std::string best_label = "ceiling " + compact_number(best) + (by_connections ? " clients" : " msg/s");
  auto chart = [&](const char* id, std::string title, std::string y_label) {
    Chart c(id, std::move(title), x_label, std::move(y_label));
    c.log_x = log_x;
    c.x_from_zero = false;  // a ceiling's steps sit around the limit, far from 0
    if (best > 0) c.rules.push_back({true, best, best_label, "#2ca02c"});
    return c;
  };
  auto verdict = [](const RunView& r) { return r.ok ? std::string("ok") : "failed: " + r.verdict; };
  const bool consumers = any_consumers(runs);
  Chart achieved = chart("achieved", std::string("Achieved ") + (consumers ? "receive" : "acknowledged") +
                                         " rate per step",
                         "msg/s");
  achieved.log_y = log_x;  // the same kind of axis on both: the offered line stays a diagonal
  ChartSeries a("achieved", "#1f77b4"), ideal("offered", "#999999", true, true, false);
  ChartSeries failed("failed steps", "#d62728", false, false, true);
  for (const RunView* r : sorted) {
    a.points.push_back({r->x, r->f.achieved_msgs_per_s,
                        point_label(*r, "achieved " + grouped(r->f.achieved_msgs_per_s) + " msg/s, " + verdict(*r))});
    ideal.points.push_back({r->x, r->offered, "offered " + grouped(r->offered) + " msg/s"});
    if (!r->ok) failed.points.push_back({r->x, r->f.achieved_msgs_per_s, point_label(*r, verdict(*r))});
  }
  achieved.series = {a, ideal, failed};

  Chart latency = chart("latency", "Latency percentiles per step (from the intended send time)", "ms");
  std::vector<double> all;
  for (int i = kP50; i <= kP999; ++i) {
    ChartSeries s(kLatencyNames[i]);
    for (const RunView* r : sorted) {
      s.points.push_back({r->x, r->f.latency_ms[i],
                          point_label(*r, std::string(kLatencyNames[i]) + " " + fixed(r->f.latency_ms[i], 2) + " ms")});
      all.push_back(r->f.latency_ms[i]);
    }
    latency.series.push_back(std::move(s));
  }
  const double slo = json_number(json_section(j, "limits"), "slo_p99_ms");
  if (slo > 0) {
    latency.rules.push_back({false, slo, "SLO p99 " + compact_number(slo) + " ms", "#d62728"});
    all.push_back(slo);
  }
  latency.log_y = spans(all, 30);

  Chart loss = chart("loss", "Errors and loss per step", "% of records");
  ChartSeries e("failed records", "#d62728"), l("lost (consumers)", "#9467bd");
  for (const RunView* r : sorted) {
    e.points.push_back({r->x, 100 * r->f.error_rate, point_label(*r, fixed(100 * r->f.error_rate, 4) + "% failed")});
    if (r->f.loss_from_consumers) l.points.push_back({r->x, 100 * r->f.loss, point_label(*r, fixed(100 * r->f.loss, 4) + "% lost")});
  }
  loss.series.push_back(std::move(e));
  if (!l.points.empty()) loss.series.push_back(std::move(l));

  Chart failing = chart("failing-clients", "Failing clients per step", "clients");
  ChartSeries fc("failing clients", "#ff7f0e");
  for (const RunView* r : sorted) {
    fc.points.push_back({r->x, static_cast<double>(r->f.failing_clients),
                         point_label(*r, grouped(static_cast<double>(r->f.failing_clients)) + " failing clients")});
  }
  failing.series.push_back(std::move(fc));

  Chart client = chart("client", "Is the client the limit? Event-loop busy share and in-flight window use", "%");
  ChartSeries busy("client busy", "#8c564b"), window("in-flight window used", "#17becf"),
      behind("records sent late or never", "#e377c2");
  for (const RunView* r : sorted) {
    busy.points.push_back({r->x, 100 * r->f.client_busy, point_label(*r, fixed(100 * r->f.client_busy, 1) + "% busy")});
    if (r->f.window_use >= 0) {
      window.points.push_back({r->x, 100 * std::min(r->f.window_use, 1.5),
                               point_label(*r, fixed(100 * r->f.window_use, 1) + "% of the window in use")});
    }
    behind.points.push_back({r->x, 100 * r->f.behind_schedule,
                             point_label(*r, fixed(100 * r->f.behind_schedule, 2) + "% behind schedule")});
  }
  client.series = {busy, window, behind};
  const double busy_max = json_number(json_section(j, "limits"), "client_busy_max");
  if (busy_max > 0) client.rules.push_back({false, 100 * busy_max, "busy limit", "#8c564b"});
  return {achieved, latency, loss, failing, client};
}

// --- Per-interval series: one code path for the timelines of one command and for the overlay of
// several runs.

bool before_measuring(const Json& iv) {
  const std::string phase = json_string(iv, "phase");
  return phase == "connecting" || phase == "warmup";
}

// Where a run's measured time began, in seconds since the run started (connecting included): the
// end of its last connecting or warm-up interval. 0 for results without phases.
double measure_start_s(const Json& result) {
  double start = 0;
  for (const auto& iv : json_section(result, "intervals")) {
    if (!before_measuring(iv)) break;
    start = json_number(iv, "elapsed_s");
  }
  return start;
}

constexpr const char* kNotMeasured = "connecting and warm-up (not measured)";

// A figure of one interval record and how a tooltip says it; nothing where the record lacks it.
// `seconds` is the interval's length.
struct IntervalFigure {
  std::function<std::optional<double>(const Json& iv, double seconds)> read;
  std::function<std::string(double)> text;
};

IntervalFigure rate_figure(const char* key, double per, const std::string& unit) {
  return {[key, per](const Json& iv, double) -> std::optional<double> {
            if (!iv.contains(key)) return std::nullopt;
            return json_number(iv, key) / per;
          },
          [unit](double v) { return grouped(v) + " " + unit; }};
}

// MB/s sent: the interval's bytes over its length.
IntervalFigure mb_figure() {
  return {[](const Json& iv, double seconds) -> std::optional<double> {
            if (!iv.contains("bytes_sent") || !(seconds > 0)) return std::nullopt;
            return json_number(iv, "bytes_sent") / seconds / 1e6;
          },
          [](double v) { return fixed(v, 2) + " MB/s"; }};
}

// A percentile (or max, mean) of one latency view in ms. An interval without samples, or a result
// of an older version without the key (p95), has none: the line leaves it out rather than draw 0.
IntervalFigure latency_figure(const char* view, const std::string& key) {
  return {[view, key](const Json& iv, double) -> std::optional<double> {
            const Json& l = json_section(iv, view);
            if (!(json_number(l, "count") > 0) || !l.contains(key)) return std::nullopt;
            return json_number(l, key.c_str());
          },
          [key](double v) { return key + " " + fixed(v, 2) + " ms"; }};
}

// One point per interval of `result` that has the figure, at x = shift + the interval's end since
// the run started, then a break so that the next run's points start a new line.
void plot(ChartSeries& s, const Json& result, double shift, const std::string& who, const IntervalFigure& f) {
  double previous = 0;
  for (const auto& iv : json_section(result, "intervals")) {
    const double elapsed = json_number(iv, "elapsed_s");
    // Merged results carry no interval_s: their intervals follow one another.
    const double seconds = json_number(iv, "interval_s", elapsed - previous);
    previous = elapsed;
    const auto v = f.read(iv, seconds);
    if (!v) continue;
    const double t = shift + elapsed;
    const std::string phase = json_string(iv, "phase");
    const std::string note = phase == "warmup" ? " (warm-up)" : phase == "connecting" ? " (connecting)" : "";
    s.points.push_back({t, *v, who + fixed(std::abs(t) < 0.05 ? 0 : t, 1) + " s" + note + ": " + f.text(*v)});
  }
  s.points.push_back({shift, kBreak});
}

bool has_points(const ChartSeries& s) {
  return std::any_of(s.points.begin(), s.points.end(), [](const ChartPoint& p) { return std::isfinite(p.y); });
}

// Logarithmic y when the plotted values span more than `ratio` (latency with stalls).
bool log_y_for(const std::vector<ChartSeries>& series, double ratio) {
  std::vector<double> ys;
  for (const auto& s : series) {
    for (const auto& p : s.points) ys.push_back(p.y);
  }
  return spans(ys, ratio);
}

// Per-interval timelines over the whole command: each run's intervals at its start time, with a
// break in the lines between runs and each run's connecting and warm-up time shaded.
std::vector<Chart> timeline_charts(const std::vector<RunView>& runs, bool several) {
  Chart tput("timeline-throughput", "Throughput over time", "seconds", "msg/s");
  Chart mb("timeline-mb", "Data sent over time", "seconds", "MB/s");
  Chart lat("timeline-latency", "Latency over time (per interval, from the intended send time)", "seconds", "ms");
  Chart e2e("timeline-e2e-latency", "End-to-end latency over time (per interval, send to a consumer's receipt)",
            "seconds", "ms");
  Chart conn("timeline-connections", "Open connections over time", "seconds", "connections");
  Chart busy("timeline-client-busy", "Client event-loop busy share over time", "seconds", "%");
  ChartSeries acked("acknowledged msg/s", "#1f77b4"), offered("offered msg/s", "#999999", true, true, false),
      received("received msg/s per consumer", "#2ca02c"), sent_mb("MB/s sent", "#1f77b4"),
      open("connections open", "#9467bd"), wanted("clients + consumers", "#999999", true, true, false),
      b("client busy", "#8c564b");
  // The same lines for both latency views (from the intended send, and end to end), named as the
  // interval record's keys.
  auto latency_lines = [] {
    return std::vector<ChartSeries>{ChartSeries("p50", "#2ca02c"), ChartSeries("p95", "#bcbd22"),
                                    ChartSeries("p99", "#ff7f0e"), ChartSeries("max", "#d62728", true),
                                    ChartSeries("mean", "#17becf", true)};
  };
  std::vector<ChartSeries> produce_latency = latency_lines(), e2e_latency = latency_lines();
  for (const auto& r : runs) {
    const Json& cfg = json_section(*r.result, "config");
    const double n = json_number(cfg, "clients") + json_number(cfg, "consumers");
    const double nconsumers = json_number(cfg, "consumers");
    const double measure_end = json_number(cfg, "warmup_s") + json_number(cfg, "duration_s");
    const std::string who = several ? r.name + ", " : "";
    auto on = [&](ChartSeries& s, const IntervalFigure& f) { plot(s, *r.result, r.started_s, who, f); };
    on(acked, rate_figure("throughput_msgs_per_s", 1, "msg/s"));
    on(offered, {[&r](const Json&, double) -> std::optional<double> { return r.offered; },
                 [](double v) { return "offered " + grouped(v) + " msg/s"; }});
    if (nconsumers > 0) on(received, rate_figure("consume_msgs_per_s", nconsumers, "msg/s per consumer"));
    on(sent_mb, mb_figure());
    for (auto& s : produce_latency) on(s, latency_figure("latency_ms", s.name));
    if (nconsumers > 0) {
      for (auto& s : e2e_latency) on(s, latency_figure("e2e_latency_ms", s.name));
    }
    // At the end of the measured time clients finish and close: not a drop worth drawing (the
    // same ticks load_figures leaves out of failing clients).
    auto connected = [measure_end](const char* key, double fixed_value) {
      return [=](const Json& iv, double) -> std::optional<double> {
        if (measure_end > 0 && json_number(iv, "elapsed_s") > measure_end - 0.05) return std::nullopt;
        return key ? json_number(iv, key) : fixed_value;
      };
    };
    on(open, {connected("connections_open", 0), [](double v) { return grouped(v) + " open"; }});
    on(wanted, {connected(nullptr, n), [](double v) { return grouped(v) + " clients + consumers"; }});
    on(b, {[](const Json& iv, double) -> std::optional<double> { return 100 * json_number(iv, "client_busy"); },
           [](double v) { return fixed(v, 1) + "% busy"; }});
    const double measured_from = measure_start_s(*r.result);
    if (measured_from > 0) {
      for (Chart* c : {&tput, &mb, &lat, &e2e, &conn, &busy}) {
        c->bands.push_back({r.started_s, r.started_s + measured_from, kNotMeasured});
      }
    }
  }
  tput.series = {acked};
  if (has_points(received)) tput.series.push_back(received);
  if (std::any_of(offered.points.begin(), offered.points.end(), [](const ChartPoint& p) { return p.y > 0; })) {
    tput.series.push_back(offered);
  }
  mb.series = {sent_mb};
  lat.series = produce_latency;
  // The scale follows p50 and max (the other lines lie between them).
  lat.log_y = log_y_for({produce_latency[0], produce_latency[3]}, 30);
  conn.series = {open, wanted};
  busy.series = {b};
  std::vector<Chart> charts = {tput};
  if (has_points(sent_mb)) charts.push_back(mb);
  charts.push_back(lat);
  if (has_points(e2e_latency[2])) {
    e2e.series = e2e_latency;
    e2e.log_y = log_y_for({e2e_latency[0], e2e_latency[3]}, 30);
    charts.push_back(e2e);
  }
  charts.push_back(conn);
  charts.push_back(busy);
  if (several) {
    for (auto& c : charts) {
      for (const auto& r : runs) c.rules.push_back({true, r.started_s, r.name.substr(0, 1) + r.name.substr(r.name.find(' ') + 1), "#bbbbbb"});
    }
  }
  return charts;
}

// --- Several runs overlaid: x = seconds into each run's measured time.

// The distribution chart's percentiles, placed as HdrHistogram's plots place them: x = 1/(1-p).
constexpr double kDistributionPercentiles[] = {50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.995, 99.999};
double percentile_x(double percentile) { return 100.0 / (100.0 - percentile); }
std::string percent_text(double percentile) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g%%", percentile);
  return buf;
}

std::vector<Chart> overlay_chart_list(const std::vector<LabelledRun>& runs) {
  const std::string x_label = "seconds into the measured time";
  Chart tput("overlay-throughput", "Acknowledged msg/s per interval", x_label, "msg/s");
  Chart mb("overlay-mb", "Data sent per interval", x_label, "MB/s");
  Chart lat("overlay-latency", "Latency per interval from the intended send: p99 (solid), p50 (dashed)", x_label, "ms");
  Chart e2e("overlay-e2e-latency", "End-to-end latency per interval: p99 (solid), p50 (dashed)", x_label, "ms");
  Chart dist("latency-distribution", "Latency by percentile over the measured time (from the intended send)",
             "percentile", "ms");
  dist.log_x = true;
  for (double p : {50.0, 90.0, 99.0, 99.9, 99.99, 99.999, 99.9999}) {
    dist.x_ticks.push_back({percentile_x(p), percent_text(p)});
  }
  double earliest = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    const Json& result = runs[i].result;
    const std::string& name = runs[i].label;
    const std::string color = palette_color(i);
    const double shift = -measure_start_s(result);
    earliest = std::min(earliest, shift);
    auto series = [&](ChartSeries s, const IntervalFigure& f) {
      plot(s, result, shift, "", f);  // the series' name says whose
      return s;
    };
    tput.series.push_back(series(ChartSeries(name, color), rate_figure("throughput_msgs_per_s", 1, "msg/s")));
    mb.series.push_back(series(ChartSeries(name, color), mb_figure()));
    for (auto [chart, view] : {std::pair{&lat, "latency_ms"}, std::pair{&e2e, "e2e_latency_ms"}}) {
      if (chart == &e2e && !(json_number(json_section(result, "config"), "consumers") > 0)) continue;
      chart->series.push_back(series(ChartSeries(name + " p99", color), latency_figure(view, "p99")));
      chart->series.push_back(series(ChartSeries(name + " p50", color, true), latency_figure(view, "p50")));
    }
    stats::HdrHistogram h = driver::make_latency_histogram();
    std::string error;
    if (decode_histogram(json_section(result, "produce"), "latency_histogram", h, error)) {
      ChartSeries d(name, color);
      for (double p : kDistributionPercentiles) {
        if (percentile_x(p) > static_cast<double>(h.total_count()) * 1.0001) break;  // beyond it: the max again
        const double ms = static_cast<double>(h.value_at_percentile(p)) / 1000.0;
        d.points.push_back({percentile_x(p), ms, percent_text(p) + ": " + fixed(ms, 2) + " ms"});
      }
      dist.series.push_back(std::move(d));
    }
  }
  lat.log_y = log_y_for(lat.series, 30);
  e2e.log_y = log_y_for(e2e.series, 30);
  dist.log_y = log_y_for(dist.series, 30);
  std::vector<Chart> charts = {tput, mb, lat};
  if (std::any_of(e2e.series.begin(), e2e.series.end(), has_points)) charts.push_back(e2e);
  for (auto& c : charts) {
    if (earliest < 0) c.bands.push_back({earliest, 0, kNotMeasured});
  }
  charts.push_back(dist);
  return charts;
}

// The table of cells / steps (or the one run); `overlay`: the runs compared, with MB/s and exit codes.
std::string runs_table(const std::vector<RunView>& runs, ResultKind kind, bool overlay = false,
                       bool consumer_sweep = false) {
  const bool ceiling = kind == ResultKind::kCeiling;
  // A sweep of consumer counts or of group members: each consumer's figures, the groups' times.
  const bool consumers = !overlay && consumer_sweep;
  const bool groups = !overlay && std::any_of(runs.begin(), runs.end(), [](const RunView& r) { return r.f.groups > 0; });
  std::ostringstream t;
  t << "<table><thead><tr><th></th><th>clients</th>" << (consumers ? "<th>consumers</th>" : "")
    << "<th>offered msg/s</th><th>achieved msg/s</th>"
    << (consumers ? "<th>slowest consumer msg/s</th><th>failing consumers</th>" : "")
    << (groups ? "<th>members</th><th>groups stable</th><th>last stable s</th><th>join p99 ms</th>" : "")
    << (overlay ? "<th>MB/s sent</th>" : "")
    << "<th>sent msg/s</th><th>failed %</th><th>loss %</th><th>failing clients</th><th>p50 ms</th><th>p90 ms</th>"
       "<th>p95 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th><th>mean ms</th><th>client busy</th>"
    << (ceiling ? "<th>verdict</th>" : overlay ? "<th>exit code: degraded reasons</th>" : "")
    << "</tr></thead><tbody>\n";
  for (const auto& r : runs) {
    const auto& f = r.f;
    t << "<tr" << (r.ok ? "" : " class=\"bad\"") << "><td>" << xml_escape(r.name) << "</td><td>" << grouped(f.clients)
      << "</td><td>" << (consumers ? grouped(f.consumers) + "</td><td>" : "") << grouped(r.offered) << "</td><td>"
      << grouped(f.achieved_msgs_per_s) << "</td><td>";
    if (consumers) t << grouped(f.received_min_msgs_per_s) << "</td><td>" << f.failing_consumers << "</td><td>";
    if (groups) {
      t << grouped(f.group_members) << "</td><td>" << f.groups_stable << " of " << f.groups << "</td><td>"
        << (f.time_to_stable_max_s >= 0 ? fixed(f.time_to_stable_max_s, 2) : "-") << "</td><td>" << fixed(f.join_p99_ms, 1)
        << "</td><td>";
    }
    t
      << (overlay ? fixed(r.mb_per_s, 2) + "</td><td>" : "") << grouped(f.sent_msgs_per_s) << "</td><td>"
      << fixed(100 * f.error_rate, 3) << "</td><td>"
      << fixed(100 * f.loss, 3) << "</td><td>" << f.failing_clients << "</td>";
    for (int i = 0; i < kLatencyFigureCount; ++i) t << "<td>" << fixed(f.latency_ms[i], 2) << "</td>";
    t << "<td>" << fixed(100 * f.client_busy, 0) << "%</td>";
    if (ceiling) t << "<td>" << (r.ok ? "ok" : xml_escape(r.verdict)) << "</td>";
    if (overlay) t << "<td>" << xml_escape(r.verdict) << "</td>";
    t << "</tr>\n";
  }
  t << "</tbody></table>\n";
  return t.str();
}

std::string scenario_text(const Json& cfg) {
  std::ostringstream s;
  s << "broker " << json_string(cfg, "bootstrap") << ", topic " << json_string(cfg, "topic") << ", acks " << json_number(cfg, "acks")
    << ", " << json_number(cfg, "message_size") << "-byte values, batch " << json_number(cfg, "batch") << ", compression "
    << json_string(cfg, "compression") << ", " << json_number(cfg, "max_in_flight") << " requests in flight per connection, "
    << json_number(cfg, "threads") << " threads";
  if (json_number(cfg, "consumers") > 0) s << ", " << json_number(cfg, "consumers") << " consumers";
  return xml_escape(s.str());
}

// A merge's warnings (shards missing, measured windows apart): the sum may describe load that
// never ran at one time, so they stand above every chart.
std::string warnings_html(const Json& j, const std::string& whose) {
  std::string h;
  for (const auto& w : j.value("warnings", Json::array())) {
    if (w.is_string()) h += "<p class=\"warning\">Warning: " + xml_escape(whose + w.get<std::string>()) + "</p>\n";
  }
  return h;
}

std::string headline(const Json& j, ResultKind kind, const std::vector<RunView>& runs) {
  std::ostringstream h;
  if (kind == ResultKind::kCeiling) {
    const Json& c = json_section(j, "ceiling");
    const bool by_connections = json_string(c, "ramp") == "connections";
    h << "<p class=\"headline\">Ceiling: <b>";
    if (by_connections) {
      h << grouped(json_number(c, "max_connections")) << " connections</b> at " << compact_number(json_number(c, "rate_per_client"))
        << " msg/s each (" << grouped(json_number(c, "max_sustainable_msgs_per_s")) << " msg/s)";
    } else {
      h << grouped(json_number(c, "max_sustainable_msgs_per_s")) << " msg/s</b> over " << grouped(json_number(c, "clients"))
        << " clients";
    }
    h << ", limited by <b>" << xml_escape(json_string(c, "limited_by")) << "</b>";
    if (!json_string(c, "limit_detail").empty()) h << " (" << xml_escape(json_string(c, "limit_detail")) << ")";
    h << ".</p>\n";
    const Json& l = json_section(j, "limits");
    h << "<p>Limits: p99 &le; " << compact_number(json_number(l, "slo_p99_ms")) << " ms, failed records &le; "
      << compact_number(100 * json_number(l, "max_error_rate")) << "%, loss &le; " << compact_number(100 * json_number(l, "max_loss"))
      << "%, failing clients &le; " << json_number(l, "max_failing_clients") << ", achieved &ge; "
      << compact_number(100 * json_number(l, "min_achieved")) << "% of offered, client busy &lt; "
      << compact_number(100 * json_number(l, "client_busy_max")) << "%. " << runs.size() << " steps of "
      << compact_number(json_number(json_section(j, "search"), "step_duration_s")) << " s after a "
      << compact_number(json_number(json_section(j, "search"), "warmup_s")) << " s warm-up.</p>\n";
  } else if (kind == ResultKind::kSweep) {
    const Json& s = json_section(j, "sweep");
    auto list = [](const Json& values) {
      std::string text;
      for (const auto& v : values) text += (text.empty() ? "" : ", ") + (v.is_number() ? compact_number(v.get<double>()) : "?");
      return text;
    };
    h << "<p class=\"headline\">Sweep of " << runs.size() << " cells: clients " << list(json_section(s, "clients"));
    if (!json_section(s, "consumers").empty()) h << " x consumers " << list(json_section(s, "consumers"));
    if (!json_section(s, "rate").empty()) {
      h << " x total rate " << list(json_section(s, "rate"));
    } else {
      h << " x rate per client " << list(json_section(s, "rate_per_client"));
    }
    h << " msg/s";
    if (!json_string(s, "group_mode").empty()) h << ", consumer groups: " << xml_escape(json_string(s, "group_mode"));
    h << ", "
      << compact_number(json_number(s, "step_duration_s")) << " s per cell after a " << compact_number(json_number(s, "warmup_s"))
      << " s warm-up" << (s.value("interrupted", false) ? " (interrupted)" : "") << ".</p>\n";
  } else if (!runs.empty()) {
    const auto& f = runs.front().f;
    h << "<p class=\"headline\">" << grouped(f.clients) << " clients, " << grouped(f.achieved_msgs_per_s)
      << " msg/s achieved, p99 " << fixed(f.latency_ms[kP99], 2) << " ms, " << fixed(100 * f.error_rate, 3)
      << "% failed.</p>\n";
  }
  if (!runs.empty()) h << "<p>Scenario: " << scenario_text(json_section(*runs.front().result, "config")) << ".</p>\n";
  h << warnings_html(j, "");
  return h.str();
}

const char* page_kind(ResultKind kind) {
  return kind == ResultKind::kSweep ? "sweep" : kind == ResultKind::kCeiling ? "ceiling search" : "run";
}

// From <!DOCTYPE> to the title heading.
std::string page_start(const std::string& what, const std::string& name) {
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>wirestress " << what << ": "
       << xml_escape(name) << "</title>\n<style>\n"
       << "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1720px}\n"
       << "h1{font-size:22px}h2{font-size:18px;margin-top:28px}.headline{font-size:16px}\n"
       << ".charts{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;border:1px solid #ddd}\n"
       << "table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}\n"
       << "th{background:#f2f2f2}tr.bad td{background:#fdecea}td:first-child{text-align:left}\n"
       << ".warning{background:#fdecea;border-left:4px solid #c0392b;padding:6px 10px}\n"
       << "</style></head>\n<body data-kind=\"" << what << "\">\n"
       << "<h1>wirestress " << what << ": " << xml_escape(name) << "</h1>\n";
  return html.str();
}

// A heading and the charts whose id does (or, `matching` false, does not) start with `prefix`,
// inline; nothing when there are none.
std::string chart_section(const std::string& heading, const std::vector<Chart>& charts, const std::string& prefix,
                          bool matching = true) {
  std::string body;
  for (const auto& c : charts) {
    if (c.id.starts_with(prefix) == matching) body += "<figure id=\"chart-" + c.id + "\">\n" + render_svg(c) + "</figure>\n";
  }
  return body.empty() ? "" : "<h2>" + heading + "</h2>\n<div class=\"charts\">\n" + body + "</div>\n";
}

constexpr const char* kFigureNotes =
    "<p>Achieved: acknowledged records per second (acks=0: records written), or with consumers the records "
    "each consumer received per second. Loss: records consumers missed, or without consumers records that "
    "failed. Failing clients: clients without a connection during the measured time, plus failed consumers. "
    "Failing consumers (a sweep of consumer counts): consumers that failed, received nothing in the measured "
    "time or lost records (loss needs --verify). Time to a stable group: seconds from the run's start until "
    "every member of the group held its assignment of the group's final generation. "
    "Latency is measured from each record's intended send time (corrected for coordinated omission). Client "
    "busy: share of time wirestress's event loops were working rather than waiting.</p>\n";

}  // namespace

bool run_program(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return false;
  int status = 0;
  return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool program_exists(const std::string& name) {
  return run_program({"sh", "-c", "command -v " + name + " >/dev/null 2>&1"});
}

ResultKind result_kind(const Json& j) {
  if (!j.is_object()) return ResultKind::kUnknown;
  const std::string kind = json_string(j, "kind");
  if (kind == "sweep" || (j.contains("sweep") && j.contains("cells"))) return ResultKind::kSweep;
  if (kind == "ceiling" || (j.contains("ceiling") && j.contains("steps"))) return ResultKind::kCeiling;
  if (j.contains("produce") || j.contains("intervals")) return ResultKind::kRun;
  return ResultKind::kUnknown;
}

std::vector<Chart> report_charts(const Json& j) {
  const ResultKind kind = result_kind(j);
  const auto runs = runs_of(j, kind);
  std::vector<Chart> charts;
  if (kind == ResultKind::kSweep) charts = sweep_charts(j, runs);
  if (kind == ResultKind::kSweep) {
    for (auto& c : group_charts(runs)) charts.push_back(std::move(c));
  }
  if (kind == ResultKind::kCeiling) charts = ceiling_charts(j, runs);
  for (auto& c : timeline_charts(runs, kind != ResultKind::kRun)) charts.push_back(std::move(c));
  return charts;
}

std::string report_html(const Json& j, const std::string& source_name) {
  const ResultKind kind = result_kind(j);
  const auto runs = runs_of(j, kind);
  const auto charts = report_charts(j);
  std::ostringstream html;
  html << page_start(page_kind(kind), source_name) << headline(j, kind, runs);
  std::vector<Chart> load_charts, group_list;
  for (const auto& c : charts) {
    if (c.id.starts_with("group-")) group_list.push_back(c);
    if (!c.id.starts_with("group-") && !c.id.starts_with("timeline-")) load_charts.push_back(c);
  }
  html << chart_section("Against the offered load", load_charts, "")
       << chart_section("Consumer groups against the number of members", group_list, "")
       << chart_section("Per interval", charts, "timeline-")
       << "<h2>" << (kind == ResultKind::kSweep ? "Cells" : kind == ResultKind::kCeiling ? "Steps" : "Totals") << "</h2>\n"
       << runs_table(runs, kind, false, kind == ResultKind::kSweep && varies_consumers(j, runs)) << kFigureNotes
       << "</body></html>\n";
  return html.str();
}

std::vector<Chart> overlay_charts(const std::vector<LabelledRun>& runs) { return overlay_chart_list(runs); }

std::string overlay_html(const std::vector<LabelledRun>& runs) {
  std::vector<RunView> views;
  std::string names;
  for (const auto& r : runs) {
    views.push_back(run_view(r.result, r.label));
    views.back().ok = views.back().exit_code == 0;
    names += (names.empty() ? "" : " vs ") + r.label;
  }
  std::ostringstream html;
  html << page_start("comparison", names) << "<p class=\"headline\">" << runs.size()
       << " runs, each drawn from the start of its own measured time (0 s); its connecting and warm-up time is "
          "shaded.</p>\n"
       << runs_table(views, ResultKind::kRun, true) << "<ul>\n";
  for (const auto& v : views) {
    html << "<li><b>" << xml_escape(v.name) << "</b>: " << scenario_text(json_section(*v.result, "config")) << ".";
    if (!json_section(*v.result, "produce").contains("latency_histogram")) {
      html << " No latency histogram in this result (an older wirestress?): not in the percentile chart.";
    }
    html << "</li>\n";
  }
  html << "</ul>\n";
  for (const auto& v : views) html << warnings_html(*v.result, v.name + ": ");
  const auto charts = overlay_charts(runs);
  html << chart_section("Per interval, from each run's measured start", charts, "overlay-")
       << chart_section("Latency distribution", charts, "latency-distribution") << kFigureNotes << "</body></html>\n";
  return html.str();
}

}  // namespace ws::report
