// Prometheus exposition: the text format a scraper parses (HELP/TYPE once per family, escaping,
// summary and histogram series), the wirestress metrics, and GET /metrics over real HTTP with curl.
#include "stats/prometheus.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "driver/metrics.h"
#include "driver/runner.h"
#include "protocol/errors.h"
#include "tools/metrics_server.h"

namespace ws {
namespace {

using stats::Labels;
using stats::PrometheusText;

// Series ("name{labels}") -> value text, for every sample line.
std::map<std::string, std::string> samples_of(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    start = end == std::string::npos ? text.size() : end + 1;
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

double value_of(const std::map<std::string, std::string>& samples, const std::string& series) {
  auto it = samples.find(series);
  if (it == samples.end()) throw std::runtime_error("no sample " + series);
  return std::stod(it->second);
}

// What a scraper checks: every line is a HELP, TYPE or sample line; TYPE comes once per family,
// before that family's samples, which are contiguous; each series appears once.
void expect_well_formed(const std::string& text) {
  static const std::regex kHelp(R"(# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*)");
  static const std::regex kType(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|summary|histogram|untyped))");
  static const std::regex kSample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? ([-+]?[0-9.e+-]+|NaN|[+-]Inf))");
  ASSERT_FALSE(text.empty());
  ASSERT_EQ(text.back(), '\n');
  std::set<std::string> families, series;
  std::string current;  // family whose samples may follow
  std::string current_type;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    std::smatch m;
    if (std::regex_match(line, kHelp)) continue;
    if (std::regex_match(line, m, kType)) {
      EXPECT_TRUE(families.insert(m[1]).second) << "second TYPE for " << m[1];
      current = m[1];
      current_type = m[2];
      continue;
    }
    ASSERT_TRUE(std::regex_match(line, m, kSample)) << "not a sample line: " << line;
    const std::string name = m[1];
    bool ok = name == current;
    for (const char* suffix : {"_sum", "_count", "_bucket"}) {
      if ((current_type == "summary" || current_type == "histogram") && name == current + suffix) ok = true;
    }
    EXPECT_TRUE(ok) << line << " is not in family " << current;
    EXPECT_TRUE(series.insert(line.substr(0, line.rfind(' '))).second) << "duplicate series: " << line;
  }
}

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
  const auto h = driver::make_latency_histogram();
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
  auto h = driver::make_latency_histogram();
  for (int64_t us = 1; us <= 1000; ++us) ASSERT_TRUE(h.record(us));  // exact below 2048 us
  PrometheusText p;
  p.summary("latency_seconds", "Latency.", h, 1e-6, {{"op", "produce"}});
  const std::string& text = p.text();
  EXPECT_EQ(text.find("# HELP latency_seconds Latency.\n# TYPE latency_seconds summary\n"), 0u) << text;
  const auto s = samples_of(text);
  EXPECT_EQ(s.size(), 6u);
  EXPECT_DOUBLE_EQ(value_of(s, R"(latency_seconds{op="produce",quantile="0.5"})"), 500e-6);
  EXPECT_DOUBLE_EQ(value_of(s, R"(latency_seconds{op="produce",quantile="0.9"})"), 900e-6);
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
  p.summary("latency_seconds", "Latency.", driver::make_latency_histogram(), 1e-6);
  const auto s = samples_of(p.text());
  for (const char* q : {"0.5", "0.9", "0.99", "0.999"}) {
    EXPECT_EQ(s.at(std::string("latency_seconds{quantile=\"") + q + "\"}"), "NaN");
  }
  EXPECT_EQ(s.at("latency_seconds_sum"), "0");
  EXPECT_EQ(s.at("latency_seconds_count"), "0");
}

TEST(PrometheusText, SummaryQuantilesFromRecentTotalsFromLifetime) {
  auto recent = driver::make_latency_histogram();
  auto lifetime = driver::make_latency_histogram();
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
  auto h = driver::make_latency_histogram();
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

// --- The wirestress metrics ---

driver::IntervalReport sample_report(driver::Metrics& interval) {
  driver::IntervalReport r;
  r.elapsed_s = 12.5;
  auto& t = r.total;
  t.messages_sent = 1000;
  t.messages_acked = 990;
  t.messages_failed = 7;
  t.bytes_sent = 123456789012;
  t.requests_sent = 100;
  t.requests_acked = 99;
  t.connections_attempted = 12;
  t.connections_established = 10;
  t.connections_failed = 2;
  t.reconnects = 1;
  t.connections_open = 9;
  t.clients_producing = 8;
  t.failures[static_cast<size_t>(driver::Failure::kDisconnected)] = 3;
  t.errors_by_code[protocol::error::kNotLeaderOrFollower] = 5;
  t.errors_by_code[protocol::error::kMessageTooLarge] = 2;
  for (int64_t us = 1; us <= 1000; ++us) {
    interval.latency_us.record(us * 10);  // 10 us .. 10 ms from the intended time
    interval.service_latency_us.record(us);
  }
  r.interval = &interval;
  return r;
}

TEST(RenderPrometheus, WirestressMetrics) {
  driver::Metrics interval;
  const auto report = sample_report(interval);
  driver::RunConfig config;
  config.topic = "load \"test\"";
  config.clients = 10;
  config.rate = 2500.5;
  const std::string text = tools::render_prometheus(report, config);
  SCOPED_TRACE(text);
  expect_well_formed(text);
  const auto s = samples_of(text);
  EXPECT_EQ(s.at("wirestress_produce_messages_sent_total"), "1000");
  EXPECT_EQ(s.at("wirestress_produce_messages_acked_total"), "990");
  EXPECT_EQ(s.at("wirestress_produce_messages_failed_total"), "7");
  EXPECT_EQ(s.at("wirestress_produce_bytes_sent_total"), "123456789012");
  EXPECT_EQ(s.at("wirestress_produce_requests_sent_total"), "100");
  EXPECT_EQ(s.at(R"(wirestress_produce_errors_total{code="NOT_LEADER_OR_FOLLOWER"})"), "5");
  EXPECT_EQ(s.at(R"(wirestress_produce_errors_total{code="MESSAGE_TOO_LARGE"})"), "2");
  EXPECT_EQ(s.at(R"(wirestress_failures_total{kind="disconnected"})"), "3");
  EXPECT_EQ(s.at(R"(wirestress_failures_total{kind="connect_failed"})"), "0");  // every kind, from the start
  EXPECT_EQ(s.at("wirestress_connections_attempted_total"), "12");
  EXPECT_EQ(s.at("wirestress_connections_established_total"), "10");
  EXPECT_EQ(s.at("wirestress_connections_failed_total"), "2");
  EXPECT_EQ(s.at("wirestress_connections_open"), "9");
  EXPECT_EQ(s.at("wirestress_clients_producing"), "8");
  EXPECT_EQ(s.at("wirestress_clients_configured"), "10");
  EXPECT_EQ(s.at("wirestress_produce_target_messages_per_second"), "2500.5");
  EXPECT_EQ(s.at("wirestress_elapsed_seconds"), "12.5");
  EXPECT_EQ(s.at(R"(wirestress_run_info{acks="1",batch="1",compression="none",message_size="100",topic="load \"test\""})"),
            "1");
  EXPECT_NE(text.find("# TYPE wirestress_produce_messages_sent_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE wirestress_connections_open gauge\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE wirestress_produce_latency_seconds summary\n"), std::string::npos);
  // Microseconds become seconds; within HdrHistogram's 3 significant figures.
  EXPECT_NEAR(value_of(s, R"(wirestress_produce_latency_seconds{quantile="0.5"})"), 5e-3, 5e-3 * 1e-3);
  EXPECT_NEAR(value_of(s, R"(wirestress_produce_latency_seconds{quantile="0.99"})"), 9.9e-3, 9.9e-3 * 1e-3);
  EXPECT_DOUBLE_EQ(value_of(s, R"(wirestress_produce_service_latency_seconds{quantile="0.5"})"), 500e-6);
  EXPECT_EQ(s.at("wirestress_produce_latency_seconds_count"), "1000");
  EXPECT_EQ(s.at("wirestress_produce_service_latency_seconds_count"), "1000");
}

TEST(RenderPrometheus, SummaryTotalsFromTheWholeRunWhenGiven) {
  driver::Metrics interval;
  const auto report = sample_report(interval);
  driver::Metrics run_so_far;
  run_so_far.latency_us.record_n(100, 4000);  // earlier intervals
  run_so_far.service_latency_us.record_n(100, 4000);
  run_so_far.add(interval);
  const auto s = samples_of(tools::render_prometheus(report, driver::RunConfig{}, &run_so_far));
  EXPECT_EQ(s.at("wirestress_produce_latency_seconds_count"), "5000");
  EXPECT_EQ(s.at("wirestress_produce_service_latency_seconds_count"), "5000");
  // Quantiles still describe the last interval only.
  EXPECT_NEAR(value_of(s, R"(wirestress_produce_latency_seconds{quantile="0.5"})"), 5e-3, 5e-3 * 1e-3);
}

TEST(RenderPrometheus, BeforeTheFirstIntervalQuantilesAreNaN) {
  driver::IntervalReport report;  // no interval yet
  const std::string text = tools::render_prometheus(report, driver::RunConfig{});
  expect_well_formed(text);
  const auto s = samples_of(text);
  EXPECT_EQ(s.at(R"(wirestress_produce_latency_seconds{quantile="0.99"})"), "NaN");
  EXPECT_EQ(s.at("wirestress_produce_latency_seconds_count"), "0");
  EXPECT_EQ(s.at("wirestress_produce_messages_sent_total"), "0");
  EXPECT_EQ(text.find("wirestress_produce_errors_total"), std::string::npos);  // no codes seen yet
}

// --- GET /metrics over HTTP ---

struct CommandResult {
  int exit_code = -1;
  std::string out;
};

CommandResult run(const std::string& command) {
  CommandResult r;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool have_curl() { return run("command -v curl >/dev/null 2>&1").exit_code == 0; }

// curl's response: headers (-D -), body, and a last line with the status code.
struct HttpReply {
  int curl_exit = -1;
  int status = 0;
  std::string headers;
  std::string body;
};

HttpReply curl(const std::string& url, const std::string& options = "") {
  const auto r = run("curl -sS -g --max-time 10 -D - -o - -w '\\n%{http_code}' " + options + " '" + url + "' 2>&1");
  HttpReply h;
  h.curl_exit = r.exit_code;
  const size_t last = r.out.rfind('\n');
  if (last == std::string::npos) return h;
  h.status = std::atoi(r.out.c_str() + last + 1);
  const std::string response = r.out.substr(0, last);
  const size_t split = response.find("\r\n\r\n");
  h.headers = response.substr(0, split);
  if (split != std::string::npos) h.body = response.substr(split + 4);
  return h;
}

std::string metrics_url(const tools::MetricsServer& server, const std::string& path = "/metrics") {
  return "http://127.0.0.1:" + std::to_string(server.port()) + path;
}

// A raw TCP connection, for what curl will not send: nothing at all, or garbage.
int connect_raw(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};  // a test that breaks fails instead of hanging
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

std::string raw_exchange(uint16_t port, const std::string& request) {
  const int fd = connect_raw(port);
  if (fd < 0) return "connect failed";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string reply = read_all(fd);
  ::close(fd);
  return reply;
}

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_curl()) GTEST_FAIL() << "curl is needed for the HTTP tests (tools/setup.sh installs it)";
  }
};

TEST_F(MetricsServerTest, ServesMetricsToCurlAndReflectsEachRender) {
  std::atomic<int> renders{0};
  tools::MetricsServer server;
  std::string error;
  ASSERT_TRUE(server.start(
      0,
      [&] {
        PrometheusText p;
        p.counter("scrapes_total", "Renders so far.", ++renders);
        return p.text();
      },
      error, "127.0.0.1"))
      << error;
  ASSERT_NE(server.port(), 0);

  auto first = curl(metrics_url(server));
  EXPECT_EQ(first.curl_exit, 0) << first.body;
  EXPECT_EQ(first.status, 200);
  EXPECT_NE(first.headers.find("HTTP/1.1 200 OK"), std::string::npos) << first.headers;
  EXPECT_NE(first.headers.find("Content-Type: text/plain; version=0.0.4; charset=utf-8"), std::string::npos);
  EXPECT_NE(first.headers.find("Connection: close"), std::string::npos);
  EXPECT_EQ(first.body, "# HELP scrapes_total Renders so far.\n# TYPE scrapes_total counter\nscrapes_total 1\n");

  auto second = curl(metrics_url(server, "/metrics?format=prometheus"));
  EXPECT_EQ(second.status, 200);
  EXPECT_NE(second.body.find("scrapes_total 2\n"), std::string::npos) << second.body;
  server.stop();
}

TEST_F(MetricsServerTest, AnswersOtherRequestsWithErrorStatuses) {
  tools::MetricsServer server;
  std::string error;
  ASSERT_TRUE(server.start(0, [] { return std::string("up 1\n"); }, error, "127.0.0.1")) << error;

  EXPECT_EQ(curl(metrics_url(server, "/other")).status, 404);
  EXPECT_EQ(curl(metrics_url(server, "/")).status, 404);
  EXPECT_EQ(curl(metrics_url(server, "/metricsx")).status, 404);
  auto post = curl(metrics_url(server), "-X POST -d x=1");
  EXPECT_EQ(post.status, 405);
  EXPECT_NE(post.headers.find("Allow: GET, HEAD"), std::string::npos) << post.headers;
  auto head = curl(metrics_url(server), "-I");
  EXPECT_EQ(head.status, 200);
  EXPECT_NE(head.headers.find("Content-Length: 5"), std::string::npos) << head.headers;

  EXPECT_EQ(raw_exchange(server.port(), "garbage\r\n\r\n").rfind("HTTP/1.1 400 ", 0), 0u);
  EXPECT_EQ(raw_exchange(server.port(), "GET /metrics HTTP/2.0\r\n\r\n").rfind("HTTP/1.1 400 ", 0), 0u);
  // Bare LF line endings are a valid request too.
  const std::string lf = raw_exchange(server.port(), "GET /metrics HTTP/1.0\n\n");
  EXPECT_EQ(lf.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << lf;
  EXPECT_TRUE(lf.ends_with("\r\n\r\nup 1\n")) << lf;
  // Still serving after all that.
  EXPECT_EQ(curl(metrics_url(server)).body, "up 1\n");
}

TEST_F(MetricsServerTest, RenderThatThrowsGives500AndTheServerCarriesOn) {
  std::atomic<int> calls{0};
  tools::MetricsServer server;
  std::string error;
  ASSERT_TRUE(server.start(
      0,
      [&]() -> std::string {
        if (calls++ == 0) throw std::runtime_error("snapshot missing");
        return "ok 1\n";
      },
      error, "127.0.0.1"));
  auto failed = curl(metrics_url(server));
  EXPECT_EQ(failed.status, 500);
  EXPECT_NE(failed.body.find("snapshot missing"), std::string::npos);
  EXPECT_EQ(curl(metrics_url(server)).body, "ok 1\n");
}

TEST_F(MetricsServerTest, SlowAndOversizedRequestsDoNotHoldTheServer) {
  tools::MetricsServer::Limits limits;
  limits.max_request_bytes = 256;
  limits.read_timeout = std::chrono::milliseconds(200);
  tools::MetricsServer server(limits);
  std::string error;
  ASSERT_TRUE(server.start(0, [] { return std::string("up 1\n"); }, error, "127.0.0.1")) << error;

  // A client that never finishes its request gets 408 once the read timeout passes.
  EXPECT_EQ(raw_exchange(server.port(), "GET /metrics HTTP/1.1\r\n").rfind("HTTP/1.1 408 ", 0), 0u);
  // One that never sends anything holds the server only until then, too: curl still gets through.
  const int silent = connect_raw(server.port());
  ASSERT_GE(silent, 0);
  EXPECT_EQ(curl(metrics_url(server)).body, "up 1\n");
  ::close(silent);
  // Headers beyond the limit: 431.
  const std::string huge = "GET /metrics HTTP/1.1\r\nX-Filler: " + std::string(1000, 'x') + "\r\n\r\n";
  EXPECT_EQ(raw_exchange(server.port(), huge).rfind("HTTP/1.1 431 ", 0), 0u);
  EXPECT_EQ(curl(metrics_url(server)).status, 200);
}

TEST_F(MetricsServerTest, StopReturnsPromptlyEvenWithAClientConnected) {
  tools::MetricsServer::Limits limits;
  limits.read_timeout = std::chrono::seconds(60);  // stop() must not wait for it
  tools::MetricsServer server(limits);
  std::string error;
  ASSERT_TRUE(server.start(0, [] { return std::string("up 1\n"); }, error, "127.0.0.1")) << error;
  const uint16_t port = server.port();
  EXPECT_EQ(curl(metrics_url(server)).status, 200);
  const int idle = connect_raw(port);  // the server thread now waits on this connection
  ASSERT_GE(idle, 0);
  ::usleep(50'000);

  const auto before = std::chrono::steady_clock::now();
  server.stop();
  const auto took = std::chrono::steady_clock::now() - before;
  EXPECT_LT(took, std::chrono::seconds(5));  // "not stuck in the 60 s timeout", not a speed test
  EXPECT_FALSE(server.running());
  EXPECT_EQ(server.port(), 0);
  ::close(idle);

  // Nothing listens any more; stop() again is harmless; the port can be bound again at once.
  EXPECT_NE(curl("http://127.0.0.1:" + std::to_string(port) + "/metrics").curl_exit, 0);
  server.stop();
  ASSERT_TRUE(server.start(port, [] { return std::string("again 1\n"); }, error, "127.0.0.1")) << error;
  EXPECT_EQ(server.port(), port);
  EXPECT_EQ(curl(metrics_url(server)).body, "again 1\n");
}

TEST_F(MetricsServerTest, StartFailuresSayWhy) {
  tools::MetricsServer first;
  std::string error;
  ASSERT_TRUE(first.start(0, [] { return std::string(); }, error, "127.0.0.1")) << error;

  EXPECT_FALSE(first.start(0, [] { return std::string(); }, error, "127.0.0.1"));
  EXPECT_NE(error.find("already running"), std::string::npos) << error;

  tools::MetricsServer second;
  EXPECT_FALSE(second.start(first.port(), [] { return std::string(); }, error, "127.0.0.1"));
  EXPECT_NE(error.find("127.0.0.1:" + std::to_string(first.port())), std::string::npos) << error;
  EXPECT_NE(error.find("in use"), std::string::npos) << error;
  EXPECT_FALSE(second.running());

  EXPECT_FALSE(second.start(0, [] { return std::string(); }, error, "192.0.2.1"));  // not ours
  EXPECT_NE(error.find("cannot listen on 192.0.2.1:0"), std::string::npos) << error;
  EXPECT_FALSE(second.start(0, {}, error, "127.0.0.1"));
  EXPECT_NE(error.find("render"), std::string::npos) << error;
}

TEST_F(MetricsServerTest, ServesOverIPv6WhenTheHostHasIt) {
  tools::MetricsServer server;
  std::string error;
  if (!server.start(0, [] { return std::string("up 1\n"); }, error, "::1")) {
    GTEST_SKIP() << "no IPv6 loopback here: " << error;
  }
  auto r = curl("http://[::1]:" + std::to_string(server.port()) + "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "up 1\n");
}

}  // namespace
}  // namespace ws
