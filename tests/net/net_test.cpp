// net/: both event loops against a small loopback server running on its own thread. Every wait is
// "poll until the condition holds, or fail after a deadline"; no result depends on timing.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "net/asio_loop.h"
#include "net/event_loop.h"
#include "net/uring_loop.h"
#include "tests/net/loop_test_support.h"

namespace ws::net {
namespace {

using namespace ws::net::test;

// A loopback TCP server: one thread, one poll() over the listening socket and every accepted
// connection, blocking reads and writes. Echo mode writes back what it reads; close mode closes
// every connection as soon as it is accepted.
class TestServer {
 public:
  enum class Mode { kEcho, kCloseOnAccept };

  explicit TestServer(Mode mode) : mode_(mode) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listen_fd_, 4096) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "test server: " << std::strerror(errno);
      return;
    }
    port_ = ntohs(addr.sin_port);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
    thread_ = std::thread([this] { run(); });
  }

  ~TestServer() {
    if (thread_.joinable()) {
      const uint64_t one = 1;
      EXPECT_EQ(::write(wake_fd_, &one, sizeof one), static_cast<ssize_t>(sizeof one));
      thread_.join();
    }
    if (wake_fd_ >= 0) ::close(wake_fd_);
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }

  Endpoint endpoint() const {
    Endpoint e;
    std::string error;
    EXPECT_TRUE(resolve("127.0.0.1:" + std::to_string(port_), e, error)) << error;
    return e;
  }

 private:
  void run() {
    std::vector<pollfd> fds{{wake_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    std::vector<uint8_t> buffer(64 * 1024);
    while (true) {
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[0].revents != 0) break;
      if (fds[1].revents & POLLIN) {
        while (true) {
          const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);  // blocking socket
          if (c < 0) break;
          if (mode_ == Mode::kCloseOnAccept) {
            ::close(c);
          } else {
            fds.push_back({c, POLLIN, 0});
          }
        }
      }
      for (size_t i = 2; i < fds.size();) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
          ++i;
          continue;
        }
        const ssize_t got = ::read(fds[i].fd, buffer.data(), buffer.size());
        bool ok = got > 0;
        for (ssize_t off = 0; ok && off < got;) {
          const ssize_t w = ::send(fds[i].fd, buffer.data() + off, static_cast<size_t>(got - off),
                                   MSG_NOSIGNAL);  // the client may have closed already
          ok = w > 0;
          off += w;
        }
        if (!ok) {
          ::close(fds[i].fd);
          fds[i] = fds.back();  // the moved entry's revents are handled in this same pass
          fds.pop_back();
          continue;
        }
        ++i;
      }
    }
    for (size_t i = 2; i < fds.size(); ++i) ::close(fds[i].fd);
  }

  Mode mode_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

// The largest send buffer the kernel will give a TCP socket (tcp_wmem's maximum).
size_t max_tcp_send_buffer() {
  std::ifstream f("/proc/sys/net/ipv4/tcp_wmem");
  size_t lo = 0, def = 0, hi = 0;
  f >> lo >> def >> hi;
  return hi;
}

template <typename Loop>
class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = make_loop<Loop>(LoopOptions{});
    if (!loop_ && std::is_same_v<Loop, UringLoop>) GTEST_SKIP() << "io_uring unavailable here";
    ASSERT_TRUE(loop_);
  }
  std::unique_ptr<Loop> loop_;
};

TYPED_TEST_SUITE(LoopTest, Backends, BackendName);

TYPED_TEST(LoopTest, EchoesSixteenMegabytesSentInOneCall) {
  TestServer server(TestServer::Mode::kEcho);
  auto& loop = *this->loop_;
  // Larger than any send buffer the kernel allows, so the write is necessarily partial.
  const size_t size = 16u << 20;
  const std::vector<uint8_t> payload = pattern(size, 1);
  Recorder rec(1);
  rec.expect_connect(0);
  loop.connect(0, server.endpoint());
  ASSERT_TRUE(poll_until(loop, rec, [&] { return rec[0].state != ConnLog::kConnecting; }));
  ASSERT_EQ(rec[0].connect_error, 0);
  loop.send(0, payload.data(), payload.size());
  ASSERT_TRUE(poll_until(loop, rec, [&] {
    return (rec[0].data.size() >= size && rec[0].sent > 0) || rec[0].state == ConnLog::kDone;
  }));
  EXPECT_EQ(rec[0].sent, 1);
  EXPECT_EQ(rec[0].close_error, -1);
  ASSERT_EQ(rec[0].data.size(), size);
  EXPECT_TRUE(rec[0].data == as_string(payload)) << "echoed bytes differ";
  if (size > max_tcp_send_buffer()) {
    EXPECT_GT(loop.stats().partial_sends, 0u);
  }
  EXPECT_TRUE(std::string(loop.name()) == "io_uring" || std::string(loop.name()) == "asio");
}

// The producer's gathered send: requests' first bytes from a write buffer and their record sets
// from the encoder's (one set can serve two requests), 16 MB in all, written in many pieces,
// arrive as one stream in order; then a plain send follows.
TYPED_TEST(LoopTest, AGatheredSendArrivesAsOneStreamInOrder) {
  TestServer server(TestServer::Mode::kEcho);
  auto& loop = *this->loop_;
  const std::vector<uint8_t> heads = pattern(61 + 13, 7);
  const std::vector<uint8_t> set = pattern(8u << 20, 3);
  const std::vector<uint8_t> after = pattern(1000, 5);
  const auto part = [](const uint8_t* p, size_t n) { return iovec{const_cast<uint8_t*>(p), n}; };
  const std::vector<iovec> parts = {part(heads.data(), 61), part(set.data(), set.size()),
                                    part(heads.data() + 61, 13), part(set.data(), set.size())};
  Recorder rec(1);
  rec.expect_connect(0);
  loop.connect(0, server.endpoint());
  ASSERT_TRUE(poll_until(loop, rec, [&] { return rec[0].state != ConnLog::kConnecting; }));
  ASSERT_EQ(rec[0].connect_error, 0);
  loop.send(0, parts);
  ASSERT_TRUE(poll_until(loop, rec, [&] { return rec[0].sent > 0 || rec[0].state == ConnLog::kDone; }));
  EXPECT_EQ(rec[0].sent, 1) << "one kSent for all the parts";
  loop.send(0, after.data(), after.size());
  const std::string expected = as_string(heads).substr(0, 61) + as_string(set) + as_string(heads).substr(61) +
                               as_string(set) + as_string(after);
  ASSERT_TRUE(poll_until(loop, rec, [&] {
    return (rec[0].data.size() >= expected.size() && rec[0].sent > 1) || rec[0].state == ConnLog::kDone;
  }));
  EXPECT_EQ(rec[0].close_error, -1);
  ASSERT_EQ(rec[0].data.size(), expected.size());
  EXPECT_TRUE(rec[0].data == expected) << "echoed bytes differ";
  if (set.size() > max_tcp_send_buffer()) {
    EXPECT_GT(loop.stats().partial_sends, 0u);
  }
}

TYPED_TEST(LoopTest, ConnectionRefusedIsReportedAndTheSlotIsFree) {
  // A bound port with no listener refuses connections, and nobody else can take it meanwhile.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  Endpoint refused;
  std::string error;
  ASSERT_TRUE(resolve("127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), refused, error)) << error;

  auto& loop = *this->loop_;
  Recorder rec(1);
  rec.expect_connect(0);
  loop.connect(0, refused);
  ASSERT_TRUE(poll_until(loop, rec, [&] { return rec[0].state == ConnLog::kDone; }));
  EXPECT_EQ(rec[0].connect_error, ECONNREFUSED);
  ::close(fd);

  // The failed slot is free: connect it again, to a server that answers.
  TestServer server(TestServer::Mode::kEcho);
  rec.expect_connect(0);
  loop.connect(0, server.endpoint());
  const std::string hello = "hello";
  loop.send(0, reinterpret_cast<const uint8_t*>(hello.data()), hello.size());
  ASSERT_TRUE(poll_until(loop, rec, [&] { return rec[0].data.size() >= hello.size(); }));
  EXPECT_EQ(rec[0].connect_error, 0);
  EXPECT_EQ(rec[0].data, hello);
}

// --source-addresses: a connection leaves from the address it is given (one host can then open
// more connections than a broker's max.connections.per.ip, or one address's ephemeral ports).
TYPED_TEST(LoopTest, AConnectionLeavesFromItsSourceAddress) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  Endpoint server, source, foreign;
  std::string error;
  ASSERT_TRUE(resolve("127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), server, error)) << error;
  ASSERT_TRUE(resolve("127.0.0.2:0", source, error, true)) << error;
  ASSERT_TRUE(resolve("192.0.2.1:0", foreign, error, true)) << error;  // TEST-NET-1: not this host's

  auto& loop = *this->loop_;
  Recorder rec(2);
  rec.expect_connect(0);
  loop.connect(0, server, &source);
  ASSERT_TRUE(poll_until(loop, rec, [&] { return rec[0].state != ConnLog::kConnecting; }));
  EXPECT_EQ(rec[0].connect_error, 0);
  sockaddr_in peer{};
  socklen_t peer_len = sizeof peer;
  const int accepted = ::accept4(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len, SOCK_CLOEXEC);
  ASSERT_GE(accepted, 0);
  char text[INET_ADDRSTRLEN];
  EXPECT_STREQ(::inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text), "127.0.0.2");
  ::close(accepted);

  // An address this host does not have cannot be bound: the connect fails, from poll().
  rec.expect_connect(1);
  loop.connect(1, server, &foreign);
  ASSERT_TRUE(poll_until(loop, rec, [&] { return rec[1].state == ConnLog::kDone; }));
  EXPECT_EQ(rec[1].connect_error, EADDRNOTAVAIL);
  loop.close(0);
  ::close(fd);
}

TYPED_TEST(LoopTest, PeerCloseIsClosedWithoutError) {
  TestServer server(TestServer::Mode::kCloseOnAccept);
  auto& loop = *this->loop_;
  Recorder rec(1);
  rec.expect_connect(0);
  loop.connect(0, server.endpoint());
  ASSERT_TRUE(poll_until(loop, rec, [&] { return rec[0].state == ConnLog::kDone; }));
  EXPECT_EQ(rec[0].connect_error, 0);
  EXPECT_EQ(rec[0].close_error, 0);
  // Closing an already closed slot is harmless.
  loop.close(0);
  poll_for(loop, rec, std::chrono::milliseconds(20));
}

TYPED_TEST(LoopTest, CloseSuppressesEventsAndTheSlotIsReusableAtOnce) {
  TestServer server(TestServer::Mode::kEcho);
  auto& loop = *this->loop_;
  Recorder rec(3);
  const std::string first = "first", second = "second-never-seen", third = "third";
  auto bytes = [](const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); };

  // Slot 0: a working connection.
  rec.expect_connect(0);
  loop.connect(0, server.endpoint());
  loop.send(0, bytes(first), first.size());
  ASSERT_TRUE(poll_until(loop, rec, [&] { return rec[0].data.size() >= first.size(); }));
  ASSERT_EQ(rec[0].data, first);

  // Send, close before the loop runs, reconnect the same slot at once and send again: only the
  // new connection's events may appear.
  loop.send(0, bytes(second), second.size());
  loop.close(0);
  rec.expect_connect(0);
  loop.connect(0, server.endpoint());
  loop.send(0, bytes(third), third.size());

  // Slot 1: echoed bytes are (very likely) waiting in the loop when it is closed.
  rec.expect_connect(1);
  loop.connect(1, server.endpoint());
  loop.send(1, bytes(first), first.size());
  ASSERT_TRUE(poll_until(loop, rec, [&] { return rec[1].sent == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // only makes the case likelier
  loop.close(1);
  rec.forget(1);

  // Slot 2: closed while connecting.
  rec.expect_connect(2);
  loop.connect(2, server.endpoint());
  loop.close(2);
  rec.forget(2);

  ASSERT_TRUE(poll_until(loop, rec, [&] { return rec[0].data.size() >= third.size() && rec[0].sent > 0; }));
  poll_for(loop, rec, std::chrono::milliseconds(50));
  EXPECT_EQ(rec[0].connect_error, 0);
  EXPECT_EQ(rec[0].sent, 1);
  EXPECT_EQ(rec[0].data, third);
  EXPECT_EQ(rec[0].close_error, -1);
  // Recorder::add already failed on any event for slots 1 and 2 (state kIdle).
}

TYPED_TEST(LoopTest, ThousandConnectionsEachExchangeAMessage) {
  constexpr uint32_t kConns = 1000;
  std::string error;
  ASSERT_TRUE(ensure_fd_limit(2 * kConns + 100, error)) << error;  // client and server ends
  LoopOptions options;
  options.max_connections = kConns;
  auto loop = make_loop<TypeParam>(options);
  ASSERT_TRUE(loop);
  TestServer server(TestServer::Mode::kEcho);
  const Endpoint endpoint = server.endpoint();

  std::vector<std::string> messages(kConns);
  Recorder rec(kConns);
  for (ConnId c = 0; c < kConns; ++c) {
    messages[c] = "client " + std::to_string(c) + " " + std::string(c % 200, 'x');
    rec.expect_connect(c);
    loop->connect(c, endpoint);
    // Before kConnected: goes out once the connection is up.
    loop->send(c, reinterpret_cast<const uint8_t*>(messages[c].data()), messages[c].size());
  }
  ASSERT_TRUE(poll_until(*loop, rec, [&] {
    for (ConnId c = 0; c < kConns; ++c) {
      if (rec[c].state == ConnLog::kDone) return true;  // failed: stop and report below
      if (rec[c].data.size() < messages[c].size() || rec[c].sent == 0) return false;
    }
    return true;
  }));
  for (ConnId c = 0; c < kConns; ++c) {
    ASSERT_EQ(rec[c].connect_error, 0) << "conn " << c;
    ASSERT_EQ(rec[c].close_error, -1) << "conn " << c;
    ASSERT_EQ(rec[c].sent, 1) << "conn " << c;
    ASSERT_EQ(rec[c].data, messages[c]) << "conn " << c;
  }
  for (ConnId c = 0; c < kConns; ++c) loop->close(c);
}

TYPED_TEST(LoopTest, TinyReceivePoolAndEventBatchLoseNothing) {
  // 4 KiB of shared receive buffers and 3 events per poll for 8 connections echoing 64 KiB each:
  // receives run out of buffers and completions wait for later polls.
  LoopOptions options;
  options.max_connections = 8;
  options.receive_buffer_count = 4;
  options.receive_buffer_size = 1024;
  auto loop = make_loop<TypeParam>(options);
  ASSERT_TRUE(loop);
  TestServer server(TestServer::Mode::kEcho);
  std::vector<std::vector<uint8_t>> payloads;
  Recorder rec(8);
  for (ConnId c = 0; c < 8; ++c) payloads.push_back(pattern(64 * 1024, c + 10));
  for (ConnId c = 0; c < 8; ++c) {
    rec.expect_connect(c);
    loop->connect(c, server.endpoint());
    loop->send(c, payloads[c].data(), payloads[c].size());
  }
  ASSERT_TRUE(poll_until(*loop, rec, [&] {
    for (ConnId c = 0; c < 8; ++c) {
      if (rec[c].state == ConnLog::kDone) return true;
      // kSent may come after the echo: the loop promises no order between them.
      if (rec[c].data.size() < payloads[c].size() || rec[c].sent == 0) return false;
    }
    return true;
  }, 3));
  for (ConnId c = 0; c < 8; ++c) {
    EXPECT_EQ(rec[c].close_error, -1);
    EXPECT_EQ(rec[c].sent, 1);
    EXPECT_TRUE(rec[c].data == as_string(payloads[c])) << "conn " << c;
  }
}

TYPED_TEST(LoopTest, UnusableAddressFailsTheConnectFromPoll) {
  // An unresolved Endpoint (address family 0): the socket or the connect fails, and the failure
  // arrives as an event like any other, never from connect() itself.
  auto& loop = *this->loop_;
  Recorder rec(1);
  rec.expect_connect(0);
  loop.connect(0, Endpoint{});
  ASSERT_TRUE(poll_until(loop, rec, [&] { return rec[0].state == ConnLog::kDone; }));
  EXPECT_GT(rec[0].connect_error, 0);
  EXPECT_EQ(rec[0].close_error, -1);
}

TYPED_TEST(LoopTest, PollWithoutConnectionsReturnsNothing) {
  std::vector<Event> events(8);
  EXPECT_EQ(this->loop_->poll(events, 0), 0u);
  EXPECT_EQ(this->loop_->poll(events, 5), 0u);
  EXPECT_EQ(this->loop_->poll(std::span<Event>(), 0), 0u);
}

TYPED_TEST(LoopTest, CreatedOnOneThreadPolledOnAnother) {
  // The driver creates loops before starting its workers and destroys them after.
  TestServer server(TestServer::Mode::kEcho);
  auto loop = make_loop<TypeParam>(LoopOptions{});
  ASSERT_TRUE(loop);
  const std::string hello = "hello from a worker";
  Recorder rec(1);
  std::thread worker([&] {
    rec.expect_connect(0);
    loop->connect(0, server.endpoint());
    loop->send(0, reinterpret_cast<const uint8_t*>(hello.data()), hello.size());
    EXPECT_TRUE(poll_until(*loop, rec, [&] { return rec[0].data.size() >= hello.size(); }));
  });
  worker.join();
  EXPECT_EQ(rec[0].data, hello);
  loop.reset();  // on this thread, with the connection still open
}

// ---- The server side: listen(), kAccepted, accepted ids, growth, pause/resume. ----

// One loop is both ends: ids below kFirstAccepted connect to its own listener, which echoes.
// The tables start at 1 slot and must grow past 2 * kConns + kFirstAccepted.
template <typename Loop>
void accept_and_echo(const LoopOptions& base) {
  constexpr ConnId kConns = 40;
  constexpr ConnId kFirstAccepted = 300;
  std::string error;
  ASSERT_TRUE(ensure_fd_limit(4 * kConns + 100, error)) << error;
  LoopOptions options = base;
  options.max_connections = 1;
  auto loop = make_loop<Loop>(options);
  if (!loop && std::is_same_v<Loop, UringLoop>) GTEST_SKIP() << "io_uring unavailable here";
  ASSERT_TRUE(loop);
  EXPECT_EQ(loop->listen_port(), 0);
  ASSERT_TRUE(loop->listen(any_port(), ListenOptions{kFirstAccepted}, error)) << error;
  ASSERT_NE(loop->listen_port(), 0);
  const Endpoint server = local(loop->listen_port());

  Recorder rec(kFirstAccepted + 2 * kConns);
  LoopEcho echo(rec);
  std::vector<std::string> messages(kConns);
  for (ConnId c = 0; c < kConns; ++c) {
    messages[c] = "client " + std::to_string(c) + " " + std::string(c * 37, 'y');
    // Every 8th client takes an id far beyond the table, the rest are dense.
    const ConnId id = c % 8 == 7 ? 200 + c : c;
    rec.expect_connect(id);
    loop->connect(id, server);
    loop->send(id, reinterpret_cast<const uint8_t*>(messages[c].data()), messages[c].size());
  }
  auto id_of = [](ConnId c) { return c % 8 == 7 ? 200 + c : c; };
  ASSERT_TRUE(poll_echo(*loop, echo, [&] {
    for (ConnId c = 0; c < kConns; ++c) {
      const ConnLog& log = rec[id_of(c)];
      if (log.state == ConnLog::kDone) return true;
      if (log.data.size() < messages[c].size() || log.sent == 0) return false;
    }
    return true;
  }));
  for (ConnId c = 0; c < kConns; ++c) {
    const ConnLog& log = rec[id_of(c)];
    ASSERT_EQ(log.connect_error, 0) << "conn " << id_of(c);
    ASSERT_EQ(log.close_error, -1) << "conn " << id_of(c);
    EXPECT_EQ(log.data, messages[c]) << "conn " << id_of(c);
  }
  // The loop numbered the accepted connections densely from kFirstAccepted.
  const std::vector<ConnId> accepted = accepted_ids(rec, 0, kFirstAccepted + 2 * kConns);
  ASSERT_EQ(accepted.size(), kConns);
  EXPECT_EQ(accepted.front(), kFirstAccepted);
  EXPECT_EQ(accepted.back(), kFirstAccepted + kConns - 1);
  EXPECT_EQ(loop->stats().accept_errors, 0u);
}

TYPED_TEST(LoopTest, AcceptsAndEchoesBeyondTheInitialCapacity) {
  accept_and_echo<TypeParam>(LoopOptions{});
}

TEST(UringLoop, SingleShotAcceptAndReceiveWork) {
  // The forms used where the kernel lacks multishot accept/recv.
  LoopOptions options;
  options.multishot = false;
  std::string error;
  auto loop = UringLoop::create(options, error);
  if (!loop) GTEST_SKIP() << "io_uring unavailable: " << error;
  EXPECT_NE(loop->features().find("single-shot recv"), std::string::npos) << loop->features();
  EXPECT_NE(loop->features().find("single-shot accept"), std::string::npos) << loop->features();
  accept_and_echo<UringLoop>(options);
}

TYPED_TEST(LoopTest, CloseFromEitherSideAndAcceptedIdsAreReused) {
  auto& loop = *this->loop_;
  constexpr ConnId kFirstAccepted = 10;
  std::string error;
  ASSERT_TRUE(loop.listen(any_port(), ListenOptions{kFirstAccepted}, error)) << error;
  const Endpoint server = local(loop.listen_port());
  Recorder rec(kFirstAccepted + 4);
  LoopEcho echo(rec);
  const std::string hello = "hello";
  auto hello_bytes = reinterpret_cast<const uint8_t*>(hello.data());

  // The client closes: the server sees kClosed without error.
  rec.expect_connect(0);
  loop.connect(0, server);
  loop.send(0, hello_bytes, hello.size());
  ASSERT_TRUE(poll_echo(loop, echo, [&] { return rec[0].data == hello; }));
  ASSERT_TRUE(rec[kFirstAccepted].accepted);
  loop.close(0);
  rec.forget(0);
  ASSERT_TRUE(poll_echo(loop, echo, [&] { return rec[kFirstAccepted].state == ConnLog::kDone; }));
  EXPECT_EQ(rec[kFirstAccepted].close_error, 0);

  // The freed id is handed out again; now the server closes, and the client sees kClosed(0).
  rec.expect_connect(1);
  loop.connect(1, server);
  loop.send(1, hello_bytes, hello.size());
  ASSERT_TRUE(poll_echo(loop, echo, [&] { return rec[1].data == hello; }));
  EXPECT_EQ(rec[kFirstAccepted].state, ConnLog::kOpen);
  EXPECT_TRUE(rec[kFirstAccepted].accepted);
  EXPECT_EQ(rec[kFirstAccepted + 1].state, ConnLog::kIdle);
  loop.close(kFirstAccepted);
  rec.forget(kFirstAccepted);
  ASSERT_TRUE(poll_echo(loop, echo, [&] { return rec[1].state == ConnLog::kDone; }));
  EXPECT_EQ(rec[1].close_error, 0);

  // A plain client sees the loop's close as end of stream.
  rec.expect_connect(2);
  loop.connect(2, server);
  ASSERT_TRUE(poll_echo(loop, echo, [&] { return rec[2].state == ConnLog::kOpen && rec[kFirstAccepted].accepted &&
                                                  rec[kFirstAccepted].state == ConnLog::kOpen; }));
  loop.close(2);
  rec.forget(2);
  ASSERT_TRUE(poll_echo(loop, echo, [&] { return rec[kFirstAccepted].state == ConnLog::kDone; }));
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<const sockaddr*>(&server.addr), server.len), 0);
  ASSERT_TRUE(poll_echo(loop, echo, [&] { return rec[kFirstAccepted].state == ConnLog::kOpen; }));
  EXPECT_TRUE(accepted_ids(rec, kFirstAccepted + 1, kFirstAccepted + 4).empty());
  loop.close(kFirstAccepted);
  rec.forget(kFirstAccepted);
  // io_uring closes the socket for good once the next poll() has cancelled its receive.
  poll_for(loop, rec, std::chrono::milliseconds(20));
  timeval tv{5, 0};
  ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char byte = 0;
  ssize_t got = -1;
  do {
    got = ::read(client, &byte, 1);  // EINTR: io_uring task work for this thread can interrupt
  } while (got < 0 && errno == EINTR);
  EXPECT_EQ(got, 0) << std::strerror(errno);
  ::close(client);
  poll_for(loop, rec, std::chrono::milliseconds(20));
}

TYPED_TEST(LoopTest, PausedReceiveHoldsThePeerBack) {
  auto& loop = *this->loop_;
  std::string error;
  ASSERT_TRUE(loop.listen(any_port(), ListenOptions{}, error)) << error;
  const Endpoint server = local(loop.listen_port());
  Recorder rec(4);
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<const sockaddr*>(&server.addr), server.len), 0);
  ASSERT_EQ(::fcntl(client, F_SETFL, O_NONBLOCK), 0);
  ASSERT_TRUE(poll_until(loop, rec, [&] { return rec[0].accepted; }));
  loop.pause_receive(0);

  // Bytes numbered by position, so what arrives can be checked without keeping a copy.
  auto byte_at = [](size_t i) { return static_cast<char>((i * 131 + (i >> 11)) & 0xFF); };
  std::vector<char> chunk(64 * 1024);
  size_t written = 0;
  auto write_some = [&] {
    while (true) {
      for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = byte_at(written + i);
      const ssize_t w = ::write(client, chunk.data(), chunk.size());
      if (w <= 0) return;
      written += static_cast<size_t>(w);
      if (written > (256u << 20)) return;
    }
  };
  // Write and poll until the writer has been blocked for a while with nothing arriving.
  auto quiet_since = Clock::now();
  size_t received_before = 0;  // what had arrived at the last progress check
  while (Clock::now() - quiet_since < std::chrono::milliseconds(300)) {
    const size_t before = written;
    write_some();
    ASSERT_LE(written, 256u << 20) << "a paused connection kept reading";
    poll_for(loop, rec, std::chrono::milliseconds(5));
    if (written != before || rec[0].data.size() != received_before) quiet_since = Clock::now();
    received_before = rec[0].data.size();
  }
  const size_t held = written - rec[0].data.size();
  EXPECT_GT(held, 0u) << "nothing waits in the socket";
  EXPECT_EQ(rec[0].state, ConnLog::kOpen);

  // Resumed: everything held arrives, and the writer can go on (by 1 MiB more).
  const size_t stalled_at = written;
  loop.resume_receive(0);
  ASSERT_TRUE(poll_until(loop, rec, [&] {
    if (written < stalled_at + (1u << 20)) write_some();
    return written >= stalled_at + (1u << 20) && rec[0].data.size() == written;
  }));
  size_t mismatch = 0;
  while (mismatch < written && rec[0].data[mismatch] == byte_at(mismatch)) ++mismatch;
  EXPECT_EQ(mismatch, written) << "received bytes differ from byte " << mismatch;
  ::close(client);
  ASSERT_TRUE(poll_until(loop, rec, [&] { return rec[0].state == ConnLog::kDone; }));
  EXPECT_EQ(rec[0].close_error, 0);
}

TYPED_TEST(LoopTest, ListenErrorsAndSharedPorts) {
  auto& loop = *this->loop_;
  std::string error;
  ASSERT_TRUE(loop.listen(any_port(), ListenOptions{0, true}, error)) << error;
  const uint16_t port = loop.listen_port();
  // One listener per loop.
  EXPECT_FALSE(loop.listen(any_port(), ListenOptions{}, error));
  EXPECT_NE(error.find("listens already"), std::string::npos) << error;

  // Without SO_REUSEPORT the port is taken; with it, a second loop shares it.
  auto other = make_loop<TypeParam>(LoopOptions{});
  ASSERT_TRUE(other);
  error.clear();
  EXPECT_FALSE(other->listen(local(port), ListenOptions{}, error));
  EXPECT_NE(error.find("cannot listen on 127.0.0.1:" + std::to_string(port)), std::string::npos) << error;
  EXPECT_NE(error.find("in use"), std::string::npos) << error;
  ASSERT_TRUE(other->listen(local(port), ListenOptions{0, true}, error)) << error;
  EXPECT_EQ(other->listen_port(), port);

  // Every connection is accepted by one of the two.
  constexpr int kClients = 30;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const Endpoint e = local(port);
    ASSERT_EQ(::connect(clients.back(), reinterpret_cast<const sockaddr*>(&e.addr), e.len), 0);
  }
  Recorder rec_a(kClients), rec_b(kClients);
  auto count = [](Recorder& r) { return accepted_ids(r, 0, kClients).size(); };
  std::vector<Event> events(16);  // small batches: accepting goes on over several polls
  const auto deadline = Clock::now() + kDeadline;
  while (count(rec_a) + count(rec_b) < kClients && Clock::now() < deadline) {
    size_t n = loop.poll(events, 1);
    for (size_t i = 0; i < n; ++i) rec_a.add(events[i]);
    n = other->poll(events, 1);
    for (size_t i = 0; i < n; ++i) rec_b.add(events[i]);
  }
  EXPECT_EQ(count(rec_a) + count(rec_b), static_cast<size_t>(kClients));
  for (int fd : clients) ::close(fd);
}

TEST(Resolve, PortZeroOnlyWhenAskedFor) {
  Endpoint e;
  std::string error;
  EXPECT_FALSE(resolve("127.0.0.1:0", e, error));
  EXPECT_NE(error.find("port must be 1-65535"), std::string::npos) << error;
  ASSERT_TRUE(resolve("127.0.0.1:0", e, error, true)) << error;
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in&>(e.addr).sin_port), 0);
}

TEST(Resolve, AcceptsHostPortAndBracketedIpv6) {
  Endpoint e;
  std::string error;
  ASSERT_TRUE(resolve("127.0.0.1:9092", e, error)) << error;
  EXPECT_EQ(e.addr.ss_family, AF_INET);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in&>(e.addr).sin_port), 9092);
  EXPECT_EQ(e.len, sizeof(sockaddr_in));
  EXPECT_EQ(e.text, "127.0.0.1:9092");
  ASSERT_TRUE(resolve("[::1]:19092", e, error)) << error;
  EXPECT_EQ(e.addr.ss_family, AF_INET6);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in6&>(e.addr).sin6_port), 19092);
  ASSERT_TRUE(resolve("localhost:1", e, error)) << error;
}

TEST(Resolve, RejectsBadInputWithAMessage) {
  for (const char* bad : {"", "localhost", "localhost:", ":9092", "host:0", "host:65536", "host:12ab",
                          "[::1", "[::1]9092", "::1:9092", "[]:9092"}) {
    Endpoint e;
    std::string error;
    EXPECT_FALSE(resolve(bad, e, error)) << bad;
    EXPECT_NE(error.find("bad address"), std::string::npos) << bad << " -> " << error;
  }
}

TEST(Resolve, UnknownHostFailsWithAMessage) {
  Endpoint e;
  std::string error;
  // .invalid never resolves (RFC 6761).
  EXPECT_FALSE(resolve("no-such-host.invalid:9092", e, error));
  EXPECT_NE(error.find("cannot resolve 'no-such-host.invalid'"), std::string::npos) << error;
}

TEST(FdLimit, RaisesTheSoftLimitWhenTheHardLimitAllows) {
  std::string error;
  EXPECT_TRUE(ensure_fd_limit(2000, error)) << error;
}

TEST(FdLimit, TheSoftLimitGoesToTheHardOneEvenWhenTheFloorIsMet) {
  // One connection per client is a floor: clients writing to several leaders need more, and only
  // the metadata says how many, so the soft limit (1,024 in many containers) is raised anyway.
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  if (before.rlim_max == RLIM_INFINITY || before.rlim_max <= 1024) GTEST_SKIP() << "no finite hard limit above 1024";
  rlimit low = before;
  low.rlim_cur = 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::string error;
  EXPECT_TRUE(ensure_fd_limit(100, error)) << error;
  rlimit after{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(after.rlim_cur, before.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &before);
}

TEST(FdLimit, ImpossibleRequestFailsWithAMessage) {
  std::string error;
  // Above fs.nr_open: not even root can have this many.
  EXPECT_FALSE(ensure_fd_limit(uint64_t{1} << 40, error));
  EXPECT_NE(error.find("hard limit"), std::string::npos) << error;
}

TEST(UringLoop, LightTrafficReusesAFewReceiveBuffers) {
  // The buffer ring is first in, first out: with all 1,024 buffers in it from the start, 300
  // round trips on one connection wrote 300 different buffers (a fresh page each, 18 µs per page
  // fault on a VM with shadow paging). The ring starts small and grows only when receives run out.
  std::string error;
  auto loop = UringLoop::create(LoopOptions{}, error);
  if (!loop) GTEST_SKIP() << "io_uring unavailable: " << error;
  TestServer server(TestServer::Mode::kEcho);
  loop->connect(0, server.endpoint());
  const std::vector<uint8_t> ping = pattern(100, 1);
  std::set<const uint8_t*> buffers_seen;
  Event events[16];
  for (int trip = 0; trip < 300; ++trip) {
    loop->send(0, ping.data(), ping.size());
    size_t echoed = 0;
    bool sent = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while ((echoed < ping.size() || !sent) && std::chrono::steady_clock::now() < deadline) {
      const size_t n = loop->poll(events, 100);
      for (size_t i = 0; i < n; ++i) {
        ASSERT_NE(events[i].type, Event::kClosed) << "trip " << trip;
        if (events[i].type == Event::kSent) sent = true;
        if (events[i].type == Event::kData) {
          buffers_seen.insert(events[i].data.data());
          echoed += events[i].data.size();
        }
      }
    }
    ASSERT_EQ(echoed, ping.size()) << "trip " << trip;
  }
  EXPECT_LE(buffers_seen.size(), 32u) << "distinct receive buffers written in 300 round trips";
  EXPECT_EQ(loop->stats().recv_no_buffers, 0u);
  loop->close(0);
}

TEST(UringLoop, ReceiveBufferRingGrowsWhenManyConnectionsReceiveAtOnce) {
  // 200 connections echo 40 KiB each with the buffers of 4 KiB: far more receives per poll than
  // the 32 buffers the ring starts with. It grows instead of starving: every byte arrives.
  LoopOptions options;
  options.max_connections = 200;
  options.receive_buffer_size = 4096;
  std::string error;
  auto loop = UringLoop::create(options, error);
  if (!loop) GTEST_SKIP() << "io_uring unavailable: " << error;
  TestServer server(TestServer::Mode::kEcho);
  std::vector<std::vector<uint8_t>> payloads;
  std::vector<size_t> received(200, 0);
  for (ConnId c = 0; c < 200; ++c) payloads.push_back(pattern(40 * 1024, c));
  for (ConnId c = 0; c < 200; ++c) {
    loop->connect(c, server.endpoint());
    loop->send(c, payloads[c].data(), payloads[c].size());
  }
  std::vector<Event> events(4096);
  size_t done = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (done < 200 && std::chrono::steady_clock::now() < deadline) {
    const size_t n = loop->poll(events, 100);
    for (size_t i = 0; i < n; ++i) {
      const Event& e = events[i];
      ASSERT_NE(e.type, Event::kClosed) << "conn " << e.conn;
      if (e.type != Event::kData) continue;
      ASSERT_LE(received[e.conn] + e.data.size(), payloads[e.conn].size());
      ASSERT_EQ(std::memcmp(e.data.data(), payloads[e.conn].data() + received[e.conn], e.data.size()), 0);
      received[e.conn] += e.data.size();
      if (received[e.conn] == payloads[e.conn].size()) ++done;
    }
  }
  EXPECT_EQ(done, 200u) << "connections whose echo arrived whole";
  EXPECT_GT(loop->stats().recv_no_buffers, 0u) << "the test must make the ring run out to test its growth";
  for (ConnId c = 0; c < 200; ++c) loop->close(c);
}

TEST(UringLoop, ReportsFeaturesOrWhyNot) {
  std::string error;
  auto loop = UringLoop::create(LoopOptions{}, error);
  if (!loop) {
    EXPECT_FALSE(error.empty());
    GTEST_SKIP() << "io_uring unavailable: " << error;
  }
  EXPECT_NE(loop->features().find("buffer ring up to 1024 x 16384 B"), std::string::npos) << loop->features();
  std::cout << "io_uring features: " << loop->features() << "\n";
}

}  // namespace
}  // namespace ws::net
