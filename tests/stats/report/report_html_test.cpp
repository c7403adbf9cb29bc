// The report page and its charts: the series a user expects, with the values of the result, in a
// page that needs nothing from the network.
#include "stats/report/report_html.h"

#include <gtest/gtest.h>

#include <regex>

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
                              {"phase", t <= 1 ? "warmup" : "measure"},
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

}  // namespace
}  // namespace ws::report
