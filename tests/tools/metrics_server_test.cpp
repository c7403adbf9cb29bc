// GET /metrics over real HTTP with curl: statuses, limits, the bind address, a render that throws,
// stopping, and the wirestress metrics as a scraper sees them.
#include "tools/metrics_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "driver/metrics.h"
#include "driver/reporting.h"
#include "stats/prometheus.h"
#include "stats/report/prometheus_text.h"
#include "tests/stats/prometheus_samples.h"

namespace ws {
namespace {

using stats::PrometheusText;
using testing::samples_of;

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
    if (!have_curl()) GTEST_FAIL() << "curl is needed for the HTTP tests (tools/scripts/setup.sh installs it)";
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
  // httplib wants CRLF line endings (RFC 9112 lets a server refuse bare LF): answered at once.
  const std::string lf = raw_exchange(server.port(), "GET /metrics HTTP/1.0\n\n");
  EXPECT_EQ(lf.rfind("HTTP/1.1 400 ", 0), 0u) << lf;
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

TEST_F(MetricsServerTest, ListensOnlyOnTheBindAddress) {
  // Every 127/8 address is loopback on Linux: a server bound to one is not reachable on another.
  tools::MetricsServer local;
  std::string error;
  ASSERT_TRUE(local.start(0, [] { return std::string("up 1\n"); }, error, "127.0.0.1")) << error;
  const std::string port = std::to_string(local.port());
  EXPECT_EQ(curl("http://127.0.0.1:" + port + "/metrics").body, "up 1\n");
  const auto elsewhere = curl("http://127.0.0.2:" + port + "/metrics");
  EXPECT_NE(elsewhere.curl_exit, 0) << "reachable on 127.0.0.2: " << elsewhere.headers << elsewhere.body;
  EXPECT_EQ(elsewhere.status, 0);

  tools::MetricsServer other;
  ASSERT_TRUE(other.start(0, [] { return std::string("other 1\n"); }, error, "127.0.0.2")) << error;
  const std::string other_port = std::to_string(other.port());
  EXPECT_EQ(curl("http://127.0.0.2:" + other_port + "/metrics").body, "other 1\n");
  EXPECT_NE(curl("http://127.0.0.1:" + other_port + "/metrics").curl_exit, 0);
}

TEST_F(MetricsServerTest, ABusyPoolDoesNotStopTheNextScrape) {
  // Both pool threads held by clients that send nothing; the next scrape waits for at most the
  // read timeout, and connections queued meanwhile do not each get a full timeout again. A client
  // that sent nothing is closed without an answer.
  tools::MetricsServer::Limits limits;
  limits.read_timeout = std::chrono::milliseconds(300);
  limits.threads = 2;
  tools::MetricsServer server(limits);
  std::string error;
  ASSERT_TRUE(server.start(0, [] { return std::string("up 1\n"); }, error, "127.0.0.1")) << error;
  std::vector<int> silent;
  for (int i = 0; i < 6; ++i) silent.push_back(connect_raw(server.port()));
  const auto r = curl(metrics_url(server), "--max-time 5");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "up 1\n");
  for (int fd : silent) {
    ASSERT_GE(fd, 0);
    EXPECT_EQ(read_all(fd), "");  // closed (not the 10 s receive timeout of connect_raw)
    ::close(fd);
  }
}

TEST_F(MetricsServerTest, ServesTheWirestressMetricsWithHistogramsAndBuildInfo) {
  driver::Metrics run_so_far;
  for (int64_t us = 1; us <= 1000; ++us) run_so_far.latency_us.record(us * 10);
  driver::IntervalReport report;
  report.interval = &run_so_far;
  driver::RunConfig config;
  config.security.protocol = driver::SecurityProtocol::kSaslPlaintext;
  config.security.sasl.username = "loadtest";
  config.security.sasl.password = "hunter2-DO-NOT-LEAK";
  config.security.sasl.token = "eyJ-DO-NOT-LEAK";
  config.security.tls.key_password = "key-DO-NOT-LEAK";
  const std::string text = report::render_prometheus(report, config, &run_so_far);
  tools::MetricsServer server;
  std::string error;
  ASSERT_TRUE(server.start(0, [&] { return text; }, error, "127.0.0.1")) << error;

  const auto r = curl(metrics_url(server));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, text);
  EXPECT_EQ(r.body.find("DO-NOT-LEAK"), std::string::npos) << "a secret in /metrics";
  EXPECT_EQ(r.body.find("hunter2"), std::string::npos);
  const auto s = samples_of(r.body);
  bool build_info = false;
  for (const auto& [series, value] : s) build_info |= series.starts_with("wirestress_build_info{") && value == "1";
  EXPECT_TRUE(build_info) << r.body;
  // Cumulative buckets, ending with +Inf equal to _count.
  int64_t previous = 0;
  size_t buckets = 0;
  for (const auto& [series, value] : s) {
    if (!series.starts_with("wirestress_produce_latency_histogram_seconds_bucket{")) continue;
    ++buckets;
    if (series.ends_with("le=\"+Inf\"}")) continue;
    EXPECT_GE(std::stoll(value), 0);
    EXPECT_LE(std::stoll(value), 1000) << series;
  }
  EXPECT_GT(buckets, 10u);
  // The map sorts le as text: walk the bounds in numeric order instead.
  for (const char* le : {"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "+Inf"}) {
    const std::string series = std::string("wirestress_produce_latency_histogram_seconds_bucket{le=\"") + le + "\"}";
    const int64_t count = std::stoll(s.at(series));
    EXPECT_GE(count, previous) << le;
    previous = count;
  }
  EXPECT_EQ(s.at(R"(wirestress_produce_latency_histogram_seconds_bucket{le="+Inf"})"), "1000");
  EXPECT_EQ(s.at("wirestress_produce_latency_histogram_seconds_count"), "1000");
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
