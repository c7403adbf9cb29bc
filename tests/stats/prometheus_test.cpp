// Prometheus exposition: the text format a scraper parses (HELP/TYPE once per family, escaping,
// summary and histogram series).
#include "stats/prometheus.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "stats/histogram.h"
#include "tests/stats/prometheus_samples.h"

namespace ws {
namespace {

using stats::Labels;
using stats::PrometheusText;
using testing::expect_well_formed;
using testing::samples_of;
using testing::value_of;

// --- Text format ---

TEST(PrometheusText, CounterAndGaugeLines) {
  PrometheusText p;
  p.counter("requests_total", "Requests sent.", uint64_t{42});
  p.gauge("temperature_celsius", "Room temperature.", -3.5, {{"room", "kitchen"}});
  EXPECT_EQ(p.text(),
            "# HELP requests_total Requests sent.\n"
            "# TYPE requests_total counter\n"
            "requests_total 42\n"
            "# HELP temperature_celsius Room temperature.\n"
            "# TYPE temperature_celsius gauge\n"
            "temperature_celsius{room=\"kitchen\"} -3.5\n");
  EXPECT_TRUE(p.errors().empty());
}

TEST(PrometheusText, HelpAndTypeOncePerFamilyWithItsSamplesTogether) {
  PrometheusText p;
  p.counter("errors_total", "Errors by code.", 1, {{"code", "A"}});
  p.gauge("open", "Open connections.", 7);
  p.counter("errors_total", "Errors by code.", 2, {{"code", "B"}});
  p.counter("errors_total", "Errors by code.", 3, {{"code", "C"}});
  EXPECT_EQ(p.text(),
            "# HELP errors_total Errors by code.\n"
            "# TYPE errors_total counter\n"
            "errors_total{code=\"A\"} 1\n"
            "errors_total{code=\"B\"} 2\n"
            "errors_total{code=\"C\"} 3\n"
            "# HELP open Open connections.\n"
            "# TYPE open gauge\n"
            "open 7\n");
  expect_well_formed(p.text());
}

TEST(PrometheusText, EscapesLabelValuesAndHelp) {
  PrometheusText p;
  p.gauge("g", "Back\\slash and\nnew line, \"quotes\" kept.", 1, {{"path", "C:\\dir \"x\"\nnext"}});
  EXPECT_EQ(p.text(),
            "# HELP g Back\\\\slash and\\nnew line, \"quotes\" kept.\n"
            "# TYPE g gauge\n"
            "g{path=\"C:\\\\dir \\\"x\\\"\\nnext\"} 1\n");
  expect_well_formed(p.text());
}

TEST(PrometheusText, LabelsAreSortedSoOneSetHasOneSpelling) {
  PrometheusText p;
  p.gauge("g", "h", 1, {{"b", "2"}, {"a", "1"}});
  p.gauge("g", "h", 2, {{"a", "1"}, {"b", "2"}});  // the same series again
  EXPECT_NE(p.text().find("g{a=\"1\",b=\"2\"} 1\n"), std::string::npos) << p.text();
  ASSERT_EQ(p.errors().size(), 1u);
  EXPECT_NE(p.errors()[0].find("duplicate series"), std::string::npos);
}

TEST(PrometheusText, ValuesExactForIntegersShortestForDoubles) {
  EXPECT_EQ(stats::SampleValue(std::numeric_limits<uint64_t>::max()).text(), "18446744073709551615");
  EXPECT_EQ(stats::SampleValue(int64_t{-5}).text(), "-5");
  EXPECT_EQ(stats::SampleValue(0.25).text(), "0.25");
  EXPECT_EQ(stats::SampleValue(1e-6).text(), "1e-06");
  EXPECT_EQ(stats::SampleValue(3.0).text(), "3");
  EXPECT_EQ(stats::SampleValue(std::numeric_limits<double>::quiet_NaN()).text(), "NaN");
  EXPECT_EQ(stats::SampleValue(std::numeric_limits<double>::infinity()).text(), "+Inf");
  EXPECT_EQ(stats::SampleValue(-std::numeric_limits<double>::infinity()).text(), "-Inf");
  EXPECT_EQ(std::stod(std::string(stats::SampleValue(0.1 + 0.2).text())), 0.1 + 0.2);  // round-trips
}

TEST(PrometheusText, NameRules) {
  EXPECT_TRUE(PrometheusText::valid_metric_name("a"));
  EXPECT_TRUE(PrometheusText::valid_metric_name("_a:b_c9"));
  EXPECT_TRUE(PrometheusText::valid_metric_name(":recording:rule"));
  EXPECT_FALSE(PrometheusText::valid_metric_name(""));
  EXPECT_FALSE(PrometheusText::valid_metric_name("9a"));
  EXPECT_FALSE(PrometheusText::valid_metric_name("a-b"));
  EXPECT_FALSE(PrometheusText::valid_metric_name("a b"));
  EXPECT_FALSE(PrometheusText::valid_metric_name("é"));
  EXPECT_TRUE(PrometheusText::valid_label_name("code"));
  EXPECT_TRUE(PrometheusText::valid_label_name("_x9"));
  EXPECT_FALSE(PrometheusText::valid_label_name("a:b"));  // colons are for metric names only
  EXPECT_FALSE(PrometheusText::valid_label_name("__name__"));
  EXPECT_FALSE(PrometheusText::valid_label_name("9"));
  EXPECT_FALSE(PrometheusText::valid_label_name(""));
}

TEST(PrometheusText, MalformedCallsAreDroppedAndListed) {
  PrometheusText p;
  p.counter("good_total", "Good.", 1);
  p.counter("bad-name", "x", 1);                           // invalid metric name
  p.counter("good_total", "Good.", 2, {{"__x", "y"}});     // reserved label name
  p.counter("good_total", "Good.", 3, {{"k", "1"}, {"k", "2"}});  // label twice
  p.gauge("good_total", "Now a gauge?", 4);                // type clash
  p.counter("good_total", "Good.", 5);                     // duplicate series
  const auto h = stats::HdrHistogram(1, 3'600'000'000LL, 3);
  p.summary("lat", "Latency.", h, 1e-6);
  p.counter("lat_count", "Clashes with the summary's _count.", 1);
  p.counter("hist_sum", "Taken first.", 1);
  p.summary("hist", "Would own hist_sum.", h, 1e-6);
  p.summary("lat2", "Bad label.", h, 1e-6, {{"quantile", "x"}});
  p.summary("lat3", "Bad scale.", h, 0);
  const double bad_bounds[] = {1, 1};
  p.histogram("h_seconds", "Bounds not ascending.", h, 1e-6, bad_bounds);
  std::string listed;
  for (const auto& e : p.errors()) listed += e + "\n";
  EXPECT_EQ(p.errors().size(), 10u) << listed;
  const auto samples = samples_of(p.text());
  EXPECT_EQ(samples.at("good_total"), "1");
  EXPECT_EQ(samples.count("lat_count"), 1u);  // the summary's own
  EXPECT_EQ(samples.at("hist_sum"), "1");
  EXPECT_EQ(p.text().find("bad-name"), std::string::npos);
  EXPECT_EQ(p.text().find("lat2"), std::string::npos);
  EXPECT_EQ(p.text().find("# TYPE hist "), std::string::npos);
  EXPECT_EQ(p.text().find("h_seconds"), std::string::npos);
  expect_well_formed(p.text());
}

TEST(PrometheusText, SummaryQuantilesSumAndCount) {
  auto h = stats::HdrHistogram(1, 3'600'000'000LL, 3);
  for (int64_t us = 1; us <= 1000; ++us) ASSERT_TRUE(h.record(us));  // exact below 2048 us
  PrometheusText p;
  p.summary("latency_seconds", "Latency.", h, 1e-6, {{"op", "produce"}});
  const std::string& text = p.text();
  EXPECT_EQ(text.find("# HELP latency_seconds Latency.\n# TYPE latency_seconds summary\n"), 0u) << text;
  const auto s = samples_of(text);
  EXPECT_EQ(s.size(), 7u);
  EXPECT_DOUBLE_EQ(value_of(s, R"(latency_seconds{op="produce",quantile="0.5"})"), 500e-6);
  EXPECT_DOUBLE_EQ(value_of(s, R"(latency_seconds{op="produce",quantile="0.9"})"), 900e-6);
  EXPECT_DOUBLE_EQ(value_of(s, R"(latency_seconds{op="produce",quantile="0.95"})"), 950e-6);
  EXPECT_DOUBLE_EQ(value_of(s, R"(latency_seconds{op="produce",quantile="0.99"})"), 990e-6);
  EXPECT_DOUBLE_EQ(value_of(s, R"(latency_seconds{op="produce",quantile="0.999"})"), 999e-6);
  EXPECT_DOUBLE_EQ(value_of(s, R"(latency_seconds_sum{op="produce"})"), 500500e-6);
  EXPECT_EQ(s.at(R"(latency_seconds_count{op="produce"})"), "1000");
  // 1e-6 divides by a million rather than multiplying, so values print as people write them.
  EXPECT_EQ(s.at(R"(latency_seconds{op="produce",quantile="0.999"})"), "0.000999");
  EXPECT_EQ(s.at(R"(latency_seconds_sum{op="produce"})"), "0.5005");
  expect_well_formed(text);
}

TEST(PrometheusText, SummaryOfEmptyHistogramHasNaNQuantiles) {
  PrometheusText p;
  p.summary("latency_seconds", "Latency.", stats::HdrHistogram(1, 3'600'000'000LL, 3), 1e-6);
  const auto s = samples_of(p.text());
  for (const char* q : {"0.5", "0.9", "0.95", "0.99", "0.999"}) {
    EXPECT_EQ(s.at(std::string("latency_seconds{quantile=\"") + q + "\"}"), "NaN");
  }
  EXPECT_EQ(s.at("latency_seconds_sum"), "0");
  EXPECT_EQ(s.at("latency_seconds_count"), "0");
}

TEST(PrometheusText, SummaryQuantilesFromRecentTotalsFromLifetime) {
  auto recent = stats::HdrHistogram(1, 3'600'000'000LL, 3);
  auto lifetime = stats::HdrHistogram(1, 3'600'000'000LL, 3);
  recent.record_n(2000, 10);     // this interval: 2 ms
  lifetime.record_n(1000, 90);   // earlier intervals: 1 ms
  lifetime.add(recent);
  PrometheusText p;
  p.summary("latency_seconds", "Latency.", recent, lifetime, 1e-6);
  const auto s = samples_of(p.text());
  EXPECT_NEAR(value_of(s, R"(latency_seconds{quantile="0.5"})"), 2e-3, 2e-3 * 1e-3);
  EXPECT_EQ(s.at("latency_seconds_count"), "100");
  EXPECT_NEAR(value_of(s, "latency_seconds_sum"), 90 * 1e-3 + 10 * 2e-3, 0.11 * 1e-3);
}

TEST(PrometheusText, HistogramCumulativeBuckets) {
  auto h = stats::HdrHistogram(1, 3'600'000'000LL, 3);
  for (int64_t us : {100, 200, 300, 5000}) h.record(us);
  const double bounds[] = {0.00025, 0.001, 0.01};
  PrometheusText p;
  p.histogram("latency_seconds", "Latency.", h, 1e-6, bounds, {{"op", "p"}});
  const auto s = samples_of(p.text());
  EXPECT_EQ(s.at(R"(latency_seconds_bucket{op="p",le="0.00025"})"), "2");
  EXPECT_EQ(s.at(R"(latency_seconds_bucket{op="p",le="0.001"})"), "3");
  EXPECT_EQ(s.at(R"(latency_seconds_bucket{op="p",le="0.01"})"), "4");
  EXPECT_EQ(s.at(R"(latency_seconds_bucket{op="p",le="+Inf"})"), "4");
  EXPECT_EQ(s.at(R"(latency_seconds_count{op="p"})"), "4");
  EXPECT_NEAR(value_of(s, R"(latency_seconds_sum{op="p"})"), 5600e-6, 5e-6);
  EXPECT_NE(p.text().find("# TYPE latency_seconds histogram\n"), std::string::npos);
  expect_well_formed(p.text());
}

TEST(PrometheusText, BucketBoundsAreSpeltAsTheGoClientSpellsThem) {
  auto h = stats::HdrHistogram(1, 3'600'000'000LL, 3);
  h.record(50);
  const double bounds[] = {0.00001, 0.0001, 0.0005, 1, 60, 1e6};
  PrometheusText p;
  p.histogram("latency_seconds", "Latency.", h, 1e-6, bounds);
  const std::string& text = p.text();
  for (const char* le : {"1e-05", "0.0001", "0.0005", "1", "60", "1e+06", "+Inf"}) {
    EXPECT_NE(text.find(std::string("latency_seconds_bucket{le=\"") + le + "\"}"), std::string::npos)
        << le << "\n" << text;
  }
}

TEST(PrometheusText, ClearStartsOver) {
  PrometheusText p;
  p.counter("a_total", "A.", 1);
  p.counter("bad name", "x", 1);
  p.clear();
  EXPECT_EQ(p.text(), "");
  EXPECT_TRUE(p.errors().empty());
  p.gauge("a_total", "Now a gauge is fine.", 2);
  EXPECT_EQ(p.text(), "# HELP a_total Now a gauge is fine.\n# TYPE a_total gauge\na_total 2\n");
}

}  // namespace
}  // namespace ws
