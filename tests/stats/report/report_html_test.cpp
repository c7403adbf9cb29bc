// The report page and its charts: the series a user expects, with the values of the result, in a
// page that needs nothing from the network.
#include "stats/report/report_html.h"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>

#include "driver/metrics.h"
#include "stats/hlog.h"

namespace ws::report {
namespace {

using Json = nlohmann::ordered_json;

Json run_result(int clients, double rate, double achieved_fraction, double p99) {
  Json j;
  j["config"] = {{"clients", clients}, {"rate", rate}, {"duration_s", 2.0}, {"warmup_s", 1.0}, {"acks", 1},
                 {"max_in_flight", 5}, {"consumers", 0}, {"topic", "t"}, {"bootstrap", "127.0.0.1:9092"}};
  const double acked = rate * achieved_fraction * 2;
  j["produce"] = {{"messages_sent", acked}, {"messages_acked", acked}, {"messages_failed", 0},
                  {"requests_acked", acked},
                  {"latency_ms", {{"p50", p99 / 4}, {"p90", p99 / 2}, {"p99", p99}, {"p999", p99 * 2}, {"max", p99 * 3}}},
                  {"service_latency_ms", {{"p99", 1.0}, {"mean", 0.5}}}};
  j["run"] = {{"elapsed_s", 2.01}, {"client_busy_fraction", 0.1}};
  j["intervals"] = Json::array();
  for (double t : {1.0, 2.0, 3.0}) {
    j["intervals"].push_back({{"elapsed_s", t},
                              {"interval_s", t == 2 ? 0.8 : t == 3 ? 1.25 : 1.0},  // ticks are never exact
                              {"phase", t <= 1 ? "warmup" : "measure"},
                              {"bytes_sent", rate * achieved_fraction * 100 * t},
                              {"throughput_msgs_per_s", rate * achieved_fraction},
                              {"latency_ms", {{"p50", p99 / 4}, {"p99", p99}, {"max", p99 * 3}, {"count", 100}}},
                              {"connections_open", clients},
                              {"client_busy", 0.1}});
  }
  return j;
}

Json sweep_result() {
  Json j;
  j["kind"] = "sweep";
  j["sweep"] = {{"clients", {10, 50}}, {"rate_per_client", {100, 200}}, {"step_duration_s", 2}, {"warmup_s", 1}};
  j["cells"] = Json::array();
  int index = 0;
  for (int clients : {10, 50}) {
    for (double rate : {100.0, 200.0}) {
      const double offered = clients * rate;
      // 50 clients at 200 msg/s each saturate the broker: 80% achieved, p99 of 400 ms.
      const bool saturated = clients == 50 && rate == 200;
      j["cells"].push_back({{"index", index},
                            {"clients", clients},
                            {"rate_per_client", rate},
                            {"offered_msgs_per_s", offered},
                            {"started_s", index * 4.0},
                            {"result", run_result(clients, offered, saturated ? 0.8 : 1.0, saturated ? 400 : 3)}});
      ++index;
    }
  }
  return j;
}

const Chart* find_chart(const std::vector<Chart>& charts, const std::string& id) {
  for (const auto& c : charts) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

std::vector<std::string> series_names(const Chart& chart) {
  std::vector<std::string> names;
  for (const auto& s : chart.series) names.push_back(s.name);
  return names;
}

// The plotted points (data-x, data-y) of one series of one chart, read back from the page.
std::vector<std::pair<double, double>> plotted(const std::string& html, const std::string& chart, const std::string& series) {
  std::vector<std::pair<double, double>> points;
  const size_t svg = html.find("data-chart=\"" + chart + "\"");
  if (svg == std::string::npos) return points;
  const size_t svg_end = html.find("</svg>", svg);
  const size_t group = html.find("data-series=\"" + series + "\"", svg);
  if (group == std::string::npos || group > svg_end) return points;
  const std::string body = html.substr(group, html.find("</g>", group) - group);
  const std::regex point("data-x=\"([^\"]+)\" data-y=\"([^\"]+)\"");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), point); it != std::sregex_iterator(); ++it) {
    points.emplace_back(std::stod((*it)[1].str()), std::stod((*it)[2].str()));
  }
  return points;
}

// A run with a real latency histogram (values in µs): 1..n ms, so every percentile differs.
Json run_with_histogram(double rate, int64_t n) {
  Json j = run_result(4, rate, 1.0, 5);
  stats::HdrHistogram h = driver::make_latency_histogram();
  for (int64_t v = 1; v <= n; ++v) h.record(v * 1000);
  j["produce"]["latency_histogram"] = stats::to_base64(stats::compress_v2(h));
  return j;
}

Json with_consumers(Json j, double e2e_p99) {
  j["config"]["consumers"] = 2;
  for (auto& iv : j["intervals"]) {
    iv["consume_msgs_per_s"] = 2 * iv["throughput_msgs_per_s"].get<double>();
    iv["e2e_latency_ms"] = {{"p50", e2e_p99 / 2}, {"p99", e2e_p99}, {"max", e2e_p99 * 2}, {"count", 50}};
  }
  return j;
}

// The seed study: one producer, 10 or 50 consumers (each reading everything), 1000 or 2000 msg/s
// in total. At 50 consumers and 2000 msg/s the slowest consumer gets 1200 msg/s, 3 consumers lose
// records and the consumers miss 5%.
Json seed_cell(int index, int consumers, double rate) {
  const bool overloaded = consumers == 50 && rate == 2000;
  Json r = run_result(1, rate, 1.0, overloaded ? 250 : 4);
  r["config"]["consumers"] = consumers;
  r["run"]["elapsed_s"] = 2.0;
  const double mean = overloaded ? 1800 : rate;
  r["consume"] = {{"messages_received", mean * 2 * consumers}, {"messages_measured", mean * 2 * consumers},
                  {"loss_pct", overloaded ? 5.0 : 0.0}, {"failing_clients", 0}};
  Json per = Json::array();
  for (int i = 0; i < consumers; ++i) {
    const bool slow = overloaded && i < 3;
    per.push_back({{"id", i}, {"throughput_msgs_per_s", slow ? 1200.0 : mean}, {"lost", slow ? 100 : 0}, {"failed", false}});
  }
  r["consume"]["per_consumer"] = per;
  for (auto& iv : r["intervals"]) iv["connections_open"] = consumers + 1;
  return {{"index", index}, {"clients", 1}, {"consumers", consumers}, {"rate_per_client", rate},
          {"offered_msgs_per_s", rate}, {"started_s", index * 4.0}, {"result", r}};
}

Json seed_sweep() {
  Json j;
  j["kind"] = "sweep";
  j["sweep"] = {{"axes", {"clients", "consumers", "rate"}}, {"clients", {1}}, {"consumers", {10, 50}},
                {"rate", {1000, 2000}}, {"step_duration_s", 2}, {"warmup_s", 1}};
  j["cells"] = Json::array();
  int index = 0;
  for (int consumers : {10, 50}) {
    for (double rate : {1000.0, 2000.0}) j["cells"].push_back(seed_cell(index++, consumers, rate));
  }
  return j;
}

const ChartSeries* find_series(const Chart& chart, const std::string& name) {
  for (const auto& s : chart.series) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::vector<std::pair<double, double>> xy(const ChartSeries& s) {
  std::vector<std::pair<double, double>> points;
  for (const auto& p : s.points) points.emplace_back(p.x, p.y);
  return points;
}

using Points = std::vector<std::pair<double, double>>;

TEST(ReportHtml, AConsumerSweepDrawsTheSeedStudysThreePlots) {
  const auto charts = report_charts(seed_sweep());
  for (const char* gone : {"achieved", "loss", "failing-clients"}) {
    EXPECT_EQ(find_chart(charts, gone), nullptr) << gone << ": the per-consumer charts replace it";
  }
  const Chart* rate = find_chart(charts, "consumer-receive-rate");
  const Chart* loss = find_chart(charts, "consumer-loss");
  const Chart* failing = find_chart(charts, "failing-consumers");
  ASSERT_TRUE(rate && loss && failing);
  EXPECT_EQ(series_names(*rate), (std::vector<std::string>{"10 consumers mean", "10 consumers slowest", "50 consumers mean",
                                                           "50 consumers slowest", "offered (ideal)"}));
  EXPECT_EQ(xy(*find_series(*rate, "50 consumers mean")), (Points{{1000, 1000}, {2000, 1800}}));
  EXPECT_EQ(xy(*find_series(*rate, "50 consumers slowest")), (Points{{1000, 1000}, {2000, 1200}}));
  EXPECT_TRUE(find_series(*rate, "50 consumers slowest")->dashed);
  EXPECT_EQ(xy(*find_series(*loss, "50 consumers")), (Points{{1000, 0}, {2000, 5}}));
  EXPECT_EQ(xy(*find_series(*failing, "50 consumers")), (Points{{1000, 0}, {2000, 3}}));
  EXPECT_EQ(xy(*find_series(*failing, "10 consumers")), (Points{{1000, 0}, {2000, 0}}));
  // 1000 to 2000 msg/s: linear on both axes, the x axis starting near the rates.
  for (const Chart* c : {rate, loss, failing}) {
    EXPECT_FALSE(c->log_x || c->log_y) << c->id;
    EXPECT_FALSE(c->x_from_zero) << c->id;
  }
  EXPECT_EQ(find_chart(charts, "group-stable"), nullptr) << "no groups ran";
  const std::string html = report_html(seed_sweep(), "seed.json");
  EXPECT_NE(html.find("clients 1 x consumers 10, 50 x total rate 1k, 2k msg/s"), std::string::npos);
  EXPECT_NE(html.find("<th>failing consumers</th>"), std::string::npos);
  EXPECT_EQ(plotted(html, "failing-consumers", "50 consumers"), (Points{{1000, 0}, {2000, 3}}));
}

TEST(ReportHtml, AConsumerSweepsCutShortCellIsMarkedNotFailed) {
  Json j = seed_sweep();
  j["cells"].back()["result"]["run"]["interrupted"] = true;
  const auto charts = report_charts(j);
  const Chart* rate = find_chart(charts, "consumer-receive-rate");
  ASSERT_NE(rate, nullptr);
  const ChartSeries* cut = find_series(*rate, "cut short by Ctrl-C (not a failure)");
  ASSERT_NE(cut, nullptr);
  EXPECT_EQ(xy(*cut), (Points{{2000, 1800}}));
  EXPECT_EQ(xy(*find_series(*find_chart(charts, "failing-consumers"), "50 consumers")), (Points{{1000, 0}}));
  // Interrupted within its first consumer count: still the plan's per-consumer plots.
  j["cells"].erase(j["cells"].begin() + 2, j["cells"].end());
  ASSERT_EQ(j["cells"].size(), 2u);
  EXPECT_NE(find_chart(report_charts(j), "consumer-receive-rate"), nullptr);
}

// --group-mode=own with 100, 1,000 and 5,000 members at one rate: the time to a stable group and
// the join latency against the number of members, on log axes (they span 50x).
TEST(ReportHtml, AGroupSweepChartsTimeToStableAndJoinLatencyAgainstMembers) {
  Json j;
  j["kind"] = "sweep";
  j["sweep"] = {{"clients", {1}}, {"consumers", {100, 1000, 5000}}, {"rate", {1000}}, {"group_mode", "own"}};
  j["cells"] = Json::array();
  int index = 0;
  for (int members : {100, 1000, 5000}) {
    Json cell = seed_cell(index++, members, 1000);
    const bool last = members == 5000;
    cell["result"]["groups"] = {{"mode", "own"}, {"groups", members}, {"members", members},
                                {"groups_stable", last ? members - 7 : members},
                                {"time_to_stable_s", {{"p50", members / 1000.0}, {"max", members / 250.0}, {"count", members}}},
                                {"join_latency_ms", {{"p50", members / 100.0}, {"p99", members / 10.0}}}};
    j["cells"].push_back(cell);
  }
  const auto charts = report_charts(j);
  const Chart* stable = find_chart(charts, "group-stable");
  const Chart* join = find_chart(charts, "group-join-latency");
  ASSERT_TRUE(stable && join);
  EXPECT_EQ(xy(*find_series(*stable, "last group")), (Points{{100, 0.4}, {1000, 4}, {5000, 20}}));
  EXPECT_EQ(xy(*find_series(*stable, "median group")), (Points{{100, 0.1}, {1000, 1}, {5000, 5}}));
  ASSERT_NE(find_series(*stable, "not every group stable"), nullptr);
  EXPECT_EQ(xy(*find_series(*stable, "not every group stable")), (Points{{5000, 20}}));
  EXPECT_EQ(xy(*find_series(*join, "join p99")), (Points{{100, 10}, {1000, 100}, {5000, 500}}));
  EXPECT_TRUE(stable->log_x && stable->log_y);
  EXPECT_TRUE(join->log_x && join->log_y);
  const std::string html = report_html(j, "groups.json");
  EXPECT_NE(html.find("<h2>Consumer groups against the number of members</h2>"), std::string::npos);
  EXPECT_NE(html.find("4993 of 5000"), std::string::npos) << "the table says how many groups were stable";
  EXPECT_NE(html.find("consumer groups: own"), std::string::npos);
}

TEST(ReportHtml, RecognisesEachKindOfResult) {
  EXPECT_EQ(result_kind(sweep_result()), ResultKind::kSweep);
  EXPECT_EQ(result_kind(run_result(1, 10, 1, 1)), ResultKind::kRun);
  EXPECT_EQ(result_kind(Json::parse(R"({"kind":"ceiling","ceiling":{},"steps":[]})")), ResultKind::kCeiling);
  EXPECT_EQ(result_kind(Json::parse(R"({"hello":1})")), ResultKind::kUnknown);
  EXPECT_EQ(result_kind(Json::parse("[1,2]")), ResultKind::kUnknown);
}

TEST(ReportHtml, SweepChartsHaveOneSeriesPerClientCountWithTheCellsValues) {
  const auto charts = report_charts(sweep_result());
  for (const char* id : {"achieved", "loss", "failing-clients", "latency", "timeline-throughput", "timeline-latency",
                         "timeline-connections", "timeline-client-busy"}) {
    EXPECT_NE(find_chart(charts, id), nullptr) << id;
  }
  const Chart* achieved = find_chart(charts, "achieved");
  ASSERT_NE(achieved, nullptr);
  ASSERT_GE(achieved->series.size(), 2u);
  EXPECT_EQ(achieved->series[0].name, "10 clients");
  EXPECT_EQ(achieved->series[1].name, "50 clients");
  ASSERT_EQ(achieved->series[1].points.size(), 2u);
  EXPECT_DOUBLE_EQ(achieved->series[1].points[0].x, 5000);
  EXPECT_DOUBLE_EQ(achieved->series[1].points[0].y, 5000);
  EXPECT_DOUBLE_EQ(achieved->series[1].points[1].x, 10000);
  EXPECT_DOUBLE_EQ(achieved->series[1].points[1].y, 8000);
  // p99 spans 3 to 400 ms: a log scale keeps the healthy cells readable.
  EXPECT_TRUE(find_chart(charts, "latency")->log_y);
}

TEST(ReportHtml, PageIsSelfContainedAndCarriesThePlottedValues) {
  const std::string html = report_html(sweep_result(), "sweep.json");
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  // Every http(s) URL is an XML namespace, never something to fetch.
  const std::regex url("https?://[^\"]*");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), url); it != std::sregex_iterator(); ++it) {
    EXPECT_EQ(it->str(), "http://www.w3.org/2000/svg");
  }
  EXPECT_NE(html.find("data-series=\"50 clients\""), std::string::npos);
  EXPECT_NE(html.find("data-x=\"10000\" data-y=\"8000\""), std::string::npos);
  EXPECT_EQ(html.find("nan"), std::string::npos);
  EXPECT_EQ(html.find("inf\""), std::string::npos);
}

// The cell a Ctrl-C cut short ran part of its time: drawn apart, not as a cell that failed.
TEST(ReportHtml, ACellCutShortIsMarkedApartNotPlottedAsAFailure) {
  Json j = sweep_result();
  Json& last = j["cells"].back()["result"];
  last["run"]["interrupted"] = true;
  last["produce"]["messages_acked"] = 100;  // what it did before Ctrl-C
  const auto charts = report_charts(j);
  const Chart* achieved = find_chart(charts, "achieved");
  ASSERT_NE(achieved, nullptr);
  const ChartSeries* cut = nullptr;
  for (const auto& series : achieved->series) {
    if (series.name.find("cut short") != std::string::npos) cut = &series;
    if (series.name == "50 clients") {
      EXPECT_EQ(series.points.size(), 1u) << "the cut cell is not one of its points";
    }
  }
  ASSERT_NE(cut, nullptr);
  ASSERT_EQ(cut->points.size(), 1u);
  EXPECT_DOUBLE_EQ(cut->points[0].x, 10000);
}

// Ceiling steps sit around the limit: the x axis starts near them, not at 0. Achieved vs offered
// uses one kind of axis on both sides.
TEST(ReportHtml, AMergesWarningsStandAboveTheCharts) {
  Json merged = run_result(30, 3000, 1.0, 5);
  merged["warnings"] = Json::array({"the measured windows differ by 0.700 s, more than 1% of the 60.000 s measured"});
  const std::string html = report_html(merged, "merged.json");
  const size_t warning = html.find("<p class=\"warning\">Warning: the measured windows differ by 0.700 s");
  ASSERT_NE(warning, std::string::npos);
  EXPECT_LT(warning, html.find("<svg")) << "above the first chart";
  EXPECT_EQ(report_html(run_result(30, 3000, 1.0, 5), "one.json").find("class=\"warning\""), std::string::npos);
}

TEST(ReportHtml, AxesFitTheData) {
  Json j = sweep_result();
  j["cells"][0]["offered_msgs_per_s"] = 10;  // offered now spans 10 to 10,000 msg/s
  const auto charts = report_charts(j);
  const Chart* achieved = find_chart(charts, "achieved");
  ASSERT_NE(achieved, nullptr);
  EXPECT_TRUE(achieved->log_x);
  EXPECT_EQ(achieved->log_y, achieved->log_x);
  Chart near("c", "ceiling", "offered", "msg/s");
  near.x_from_zero = false;
  ChartSeries s("achieved");
  s.points = {{18000, 18000}, {20000, 19500}, {22000, 19800}};
  near.series.push_back(s);
  const std::string svg = render_svg(near);
  EXPECT_EQ(svg.find("text-anchor=\"middle\">0</text>"), std::string::npos) << "no 0 tick on the x axis";
  EXPECT_NE(svg.find("text-anchor=\"middle\">18k</text>"), std::string::npos) << "the axis starts near 18k";
}

// A long series name fits in the picture: the legend grows, the plot gives up the room.
TEST(SvgChart, TheLegendIsWideEnoughForItsLongestName) {
  Chart chart("t", "title", "x", "y");
  ChartSeries s("received msg/s per consumer (mean of 300 consumers)");
  s.points = {{1, 1}, {2, 2}};
  chart.series.push_back(s);
  const int width = 820;
  const std::string svg = render_svg(chart, width);
  const std::regex legend_text("<text x=\"([0-9.]+)\"[^>]*>received msg/s per consumer");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m, legend_text));
  const double x = std::stod(m[1].str());
  EXPECT_LE(x + 7.0 * static_cast<double>(s.name.size()), width) << "the name runs past the right edge";
}

TEST(SvgChart, BreaksLinesAtNaNAndDrawsNothingOutsideALogScale) {
  Chart chart("t", "title", "x", "y");
  chart.log_y = true;
  ChartSeries s("s");
  s.points = {{1, 10}, {2, 100}, {3, kBreak}, {4, 1000}, {5, 0}, {6, 10000}};
  chart.series.push_back(s);
  const std::string svg = render_svg(chart);
  size_t polylines = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1)) ++polylines;
  EXPECT_EQ(polylines, 2u);  // 1-2, then 4-6 (the 0 cannot sit on a log axis and is skipped)
  EXPECT_EQ(svg.find("data-y=\"0\""), std::string::npos);
  EXPECT_NE(svg.find("data-y=\"10000\""), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
}

TEST(SvgChart, EscapesTextAndHandlesNoData) {
  Chart chart("t", "a < b & \"c\"", "x", "y");
  const std::string svg = render_svg(chart);
  EXPECT_NE(svg.find("a &lt; b &amp; &quot;c&quot;"), std::string::npos);
  EXPECT_NE(svg.find("no data"), std::string::npos);
  EXPECT_EQ(compact_number(20000), "20k");
  EXPECT_EQ(compact_number(1500000), "1.5M");
  EXPECT_EQ(compact_number(0.25), "0.25");
}

TEST(ReportHtml, TheSingleRunPageKeepsWhatItHadAndGainsMegabytesPerSecond) {
  const Json run = run_result(30, 3000, 1.0, 5);
  const auto charts = report_charts(run);
  std::vector<std::string> ids;
  for (const auto& c : charts) ids.push_back(c.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"timeline-throughput", "timeline-mb", "timeline-latency", "timeline-connections",
                                           "timeline-client-busy"}));
  const std::string html = report_html(run, "one.json");
  EXPECT_NE(html.find("<title>wirestress run: one.json</title>"), std::string::npos);
  EXPECT_NE(html.find("<p class=\"headline\">30 clients, 3,000 msg/s achieved, p99 5.00 ms"), std::string::npos);
  EXPECT_NE(html.find("<h2>Per interval</h2>"), std::string::npos);
  EXPECT_NE(html.find("<h2>Totals</h2>"), std::string::npos);
  EXPECT_EQ(html.find("MB/s sent</th>"), std::string::npos) << "the table's columns are as before";
  EXPECT_EQ(plotted(html, "timeline-throughput", "acknowledged msg/s"),
            (std::vector<std::pair<double, double>>{{1, 3000}, {2, 3000}, {3, 3000}}));
  // MB/s is each interval's bytes over its length.
  const Chart* mb = find_chart(charts, "timeline-mb");
  ASSERT_NE(mb, nullptr);
  ASSERT_FALSE(mb->series.empty());
  const auto& intervals = run["intervals"];
  size_t k = 0;
  for (const auto& p : mb->series[0].points) {
    if (std::isnan(p.y)) continue;
    ASSERT_LT(k, intervals.size());
    EXPECT_DOUBLE_EQ(p.x, intervals[k]["elapsed_s"].get<double>());
    EXPECT_DOUBLE_EQ(p.y, intervals[k]["bytes_sent"].get<double>() / intervals[k]["interval_s"].get<double>() / 1e6);
    ++k;
  }
  EXPECT_EQ(k, intervals.size());
  EXPECT_EQ(find_chart(charts, "timeline-e2e-latency"), nullptr) << "no consumers, no end-to-end chart";
}

TEST(ReportHtml, EndToEndLatencyIsChartedWhenConsumersRan) {
  const auto charts = report_charts(with_consumers(run_result(3, 1000, 1.0, 5), 40));
  const Chart* e2e = find_chart(charts, "timeline-e2e-latency");
  ASSERT_NE(e2e, nullptr);
  const ChartSeries* p99 = nullptr;
  for (const auto& s : e2e->series) {
    if (s.name == "p99") p99 = &s;
  }
  ASSERT_NE(p99, nullptr);
  ASSERT_GE(p99->points.size(), 3u);
  EXPECT_DOUBLE_EQ(p99->points[0].y, 40);
  // A sweep with consumers has it too, across its cells.
  Json sweep = sweep_result();
  for (auto& cell : sweep["cells"]) cell["result"] = with_consumers(cell["result"], 40);
  EXPECT_NE(find_chart(report_charts(sweep), "timeline-e2e-latency"), nullptr);
  EXPECT_NE(find_chart(report_charts(sweep), "timeline-mb"), nullptr);
}

// Connecting and warm-up intervals lie in a shaded band, so nobody reads them as the result.
TEST(ReportHtml, WarmUpIntervalsAreShaded) {
  const auto charts = report_charts(run_result(3, 1000, 1.0, 5));
  for (const auto& c : charts) {
    ASSERT_EQ(c.bands.size(), 1u) << c.id;
    EXPECT_DOUBLE_EQ(c.bands[0].from, 0);
    EXPECT_DOUBLE_EQ(c.bands[0].to, 1);  // the warm-up interval ends at 1 s; the measured ones at 2 and 3 s
    EXPECT_NE(c.bands[0].label.find("warm-up"), std::string::npos);
  }
  const std::string html = report_html(run_result(3, 1000, 1.0, 5), "r.json");
  EXPECT_NE(html.find("<rect class=\"band\" data-from=\"0\" data-to=\"1\""), std::string::npos);
  EXPECT_NE(html.find("1.0 s (warm-up): 1,000 msg/s"), std::string::npos) << "the point's tooltip says so";
  // In a sweep, each cell's own warm-up, at its start.
  const auto sweep = report_charts(sweep_result());
  const Chart* tput = find_chart(sweep, "timeline-throughput");
  ASSERT_NE(tput, nullptr);
  ASSERT_EQ(tput->bands.size(), 4u);
  EXPECT_DOUBLE_EQ(tput->bands[2].from, 8);
  EXPECT_DOUBLE_EQ(tput->bands[2].to, 9);
}

TEST(ReportHtml, AnOverlayHasOneSeriesPerRunWithItsOwnValuesInOrder) {
  const std::vector<LabelledRun> runs = {{"before", run_result(3, 1000, 1.0, 5)},
                                         {"after", run_result(3, 4000, 0.5, 80)},
                                         {"baseline", run_result(3, 2000, 1.0, 2)}};
  const auto charts = overlay_charts(runs);
  const std::vector<std::string> labels = {"before", "after", "baseline"};
  for (const char* id : {"overlay-throughput", "overlay-mb"}) {
    const Chart* c = find_chart(charts, id);
    ASSERT_NE(c, nullptr) << id;
    EXPECT_EQ(series_names(*c), labels) << id;
  }
  const Chart* lat = find_chart(charts, "overlay-latency");
  ASSERT_NE(lat, nullptr);
  EXPECT_EQ(series_names(*lat), (std::vector<std::string>{"before p99", "before p50", "after p99", "after p50",
                                                          "baseline p99", "baseline p50"}));
  EXPECT_TRUE(lat->log_y) << "p50 1.25 ms to p99 80 ms";
  EXPECT_EQ(find_chart(charts, "overlay-e2e-latency"), nullptr) << "no run had consumers";
  // The page carries each run's values, at seconds into its measured time (warm-up ended at 1 s).
  const std::string html = overlay_html(runs);
  EXPECT_EQ(plotted(html, "overlay-throughput", "after"),
            (std::vector<std::pair<double, double>>{{0, 2000}, {1, 2000}, {2, 2000}}));
  EXPECT_EQ(plotted(html, "overlay-throughput", "before"),
            (std::vector<std::pair<double, double>>{{0, 1000}, {1, 1000}, {2, 1000}}));
  EXPECT_EQ(plotted(html, "overlay-mb", "after"),  // bytes over the interval's length
            (std::vector<std::pair<double, double>>{{0, 0.2}, {1, 0.5}, {2, 0.48}}));
  EXPECT_EQ(plotted(html, "overlay-latency", "after p99"),
            (std::vector<std::pair<double, double>>{{0, 80}, {1, 80}, {2, 80}}));
  // The warm-up, before 0, is shaded; every run has the same colour in every chart.
  EXPECT_NE(html.find("<rect class=\"band\" data-from=\"-1\" data-to=\"0\""), std::string::npos);
  for (const auto& c : charts) {
    for (const auto& s : c.series) {
      const size_t run = s.name.starts_with("before") ? 0 : s.name.starts_with("after") ? 1 : 2;
      EXPECT_EQ(s.color, palette_color(run)) << c.id << " " << s.name;
    }
  }
  // The headline table: a row per run, in order.
  const size_t before = html.find("<td>before</td>"), after = html.find("<td>after</td>"),
               baseline = html.find("<td>baseline</td>");
  ASSERT_NE(before, std::string::npos);
  EXPECT_LT(before, after);
  EXPECT_LT(after, baseline);
  EXPECT_NE(html.find("<title>wirestress comparison: before vs after vs baseline</title>"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

TEST(ReportHtml, AnOverlayRowSaysTheExitCodeAndWhyItWasDegraded) {
  Json degraded = with_consumers(run_result(3, 1000, 1.0, 5), 30);
  degraded["run"]["exit_code"] = 3;
  degraded["run"]["degraded_reasons"] = Json::array({"every consumer failed", "no consumer received any"});
  const std::string html = overlay_html({{"ok", run_result(3, 1000, 1.0, 5)}, {"bad", degraded}});
  EXPECT_NE(html.find("<td>3: every consumer failed; no consumer received any</td>"), std::string::npos);
  EXPECT_NE(html.find("<tr class=\"bad\"><td>bad</td>"), std::string::npos);
  EXPECT_NE(html.find("<tr><td>ok</td>"), std::string::npos);
  EXPECT_NE(html.find("MB/s sent</th>"), std::string::npos);
  // One run had consumers: the end-to-end chart has its series, and only its.
  const auto charts = overlay_charts({{"ok", run_result(3, 1000, 1.0, 5)}, {"bad", degraded}});
  const Chart* e2e = find_chart(charts, "overlay-e2e-latency");
  ASSERT_NE(e2e, nullptr);
  EXPECT_EQ(series_names(*e2e), (std::vector<std::string>{"bad p99", "bad p50"}));
  EXPECT_EQ(plotted(html, "overlay-e2e-latency", "bad p99"),
            (std::vector<std::pair<double, double>>{{0, 30}, {1, 30}, {2, 30}}));
}

// The distribution chart's points are each run's whole histogram, at x = 1/(1-p).
TEST(ReportHtml, ThePercentileChartIsEachRunsHistogram) {
  const std::vector<LabelledRun> runs = {{"small", run_with_histogram(1000, 2000)}, {"large", run_with_histogram(1000, 50000)}};
  const auto charts = overlay_charts(runs);
  const Chart* dist = find_chart(charts, "latency-distribution");
  ASSERT_NE(dist, nullptr);
  EXPECT_TRUE(dist->log_x);
  EXPECT_EQ(series_names(*dist), (std::vector<std::string>{"small", "large"}));
  const std::string html = overlay_html(runs);
  for (size_t i = 0; i < runs.size(); ++i) {
    stats::HdrHistogram h = driver::make_latency_histogram();
    for (int64_t v = 1; v <= (i == 0 ? 2000 : 50000); ++v) h.record(v * 1000);
    const auto points = plotted(html, "latency-distribution", runs[i].label);
    // Percentiles finer than 1 in the sample count are the max again: left out.
    const std::vector<double> want = i == 0 ? std::vector<double>{50, 75, 90, 95, 99, 99.5, 99.9, 99.95}
                                            : std::vector<double>{50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.995};
    ASSERT_EQ(points.size(), want.size()) << runs[i].label;
    for (size_t k = 0; k < want.size(); ++k) {
      EXPECT_NEAR(points[k].first, 100 / (100 - want[k]), 1e-5 * points[k].first) << want[k];
      EXPECT_NEAR(points[k].second, static_cast<double>(h.value_at_percentile(want[k])) / 1000, 1e-5 * points[k].second)
          << runs[i].label << " p" << want[k];
    }
  }
  // The ticks read as percentiles.
  EXPECT_NE(html.find(">99.9%</text>"), std::string::npos);
  EXPECT_NE(html.find(">50%</text>"), std::string::npos);
  // A result without a histogram (an older version) says so, and has no series there.
  const std::string old = overlay_html({{"old", run_result(3, 1000, 1.0, 5)}, {"new", run_with_histogram(1000, 100)}});
  EXPECT_NE(old.find("No latency histogram in this result"), std::string::npos);
  EXPECT_NE(old.find("data-chart=\"latency-distribution\""), std::string::npos);
  EXPECT_TRUE(plotted(old, "latency-distribution", "old").empty());
}

TEST(SvgChart, ChosenTicksAndShadedBands) {
  Chart chart("t", "title", "percentile", "ms");
  chart.log_x = true;
  chart.x_ticks = {{2, "50%"}, {10, "90%"}, {100, "99%"}, {1e6, "99.9999%"}};
  chart.bands.push_back({2, 10, "shaded part"});
  ChartSeries s("s");
  s.points = {{2, 1}, {10, 2}, {100, 3}};
  chart.series.push_back(s);
  const std::string svg = render_svg(chart);
  EXPECT_NE(svg.find("text-anchor=\"middle\">90%</text>"), std::string::npos);
  EXPECT_EQ(svg.find("99.9999%"), std::string::npos) << "a tick off the axis is left out";
  EXPECT_EQ(svg.find("text-anchor=\"middle\">20</text>"), std::string::npos) << "no round ticks besides";
  EXPECT_NE(svg.find("<rect class=\"band\" data-from=\"2\" data-to=\"10\""), std::string::npos);
  EXPECT_NE(svg.find(">shaded part</text>"), std::string::npos) << "the band is in the legend";
}

}  // namespace
}  // namespace ws::report
