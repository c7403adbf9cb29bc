// What the event-loop tests share: a recorder that checks the per-connection event order the
// interface promises, bounded polling helpers, and an echo server running inside a loop. Every
// wait is "poll until the condition holds, or fail after a deadline".
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "net/asio_loop.h"
#include "net/event_loop.h"
#include "net/uring_loop.h"

namespace ws::net::test {

using Clock = std::chrono::steady_clock;
constexpr auto kDeadline = std::chrono::seconds(20);  // generous for sanitizer builds

// What one connection slot has seen since its last connect(); flags events that break the
// per-connection order the interface promises.
struct ConnLog {
  enum State { kIdle, kConnecting, kOpen, kDone };
  State state = kIdle;
  bool accepted = false;
  int connect_error = -1;  // -1: no kConnected yet
  int close_error = -1;    // -1: no kClosed yet
  int sent = 0;
  std::string data;
};

class Recorder {
 public:
  explicit Recorder(size_t conns) : logs_(conns) {}
  ConnLog& operator[](ConnId c) { return logs_[c]; }
  void expect_connect(ConnId c) {
    logs_[c] = ConnLog{};
    logs_[c].state = ConnLog::kConnecting;
  }
  void forget(ConnId c) { logs_[c] = ConnLog{}; }  // after close(): any further event is an error

  void add(const Event& e) {
    ASSERT_LT(e.conn, logs_.size());
    ConnLog& log = logs_[e.conn];
    switch (e.type) {
      case Event::kConnected:
        EXPECT_EQ(log.state, ConnLog::kConnecting) << "conn " << e.conn << ": unexpected kConnected";
        log.connect_error = e.error;
        log.state = e.error == 0 ? ConnLog::kOpen : ConnLog::kDone;
        break;
      case Event::kAccepted:
        // A fresh id, or one whose connection ended (kClosed, or close() then forget()).
        EXPECT_TRUE(log.state == ConnLog::kIdle || log.state == ConnLog::kDone)
            << "conn " << e.conn << ": kAccepted on a slot in use";
        EXPECT_EQ(e.error, 0);
        log = ConnLog{};
        log.state = ConnLog::kOpen;
        log.accepted = true;
        log.connect_error = 0;
        break;
      case Event::kData:
        EXPECT_EQ(log.state, ConnLog::kOpen) << "conn " << e.conn << ": kData when not open";
        EXPECT_FALSE(e.data.empty());
        log.data.append(reinterpret_cast<const char*>(e.data.data()), e.data.size());
        break;
      case Event::kSent:
        EXPECT_EQ(log.state, ConnLog::kOpen) << "conn " << e.conn << ": kSent when not open";
        EXPECT_EQ(e.error, 0);
        ++log.sent;
        break;
      case Event::kClosed:
        EXPECT_EQ(log.state, ConnLog::kOpen) << "conn " << e.conn << ": kClosed when not open";
        log.close_error = e.error;
        log.state = ConnLog::kDone;
        break;
    }
  }

 private:
  std::vector<ConnLog> logs_;
};

template <typename Loop>
std::unique_ptr<Loop> make_loop(const LoopOptions& options) {
  std::string error;
  auto loop = Loop::create(options, error);
  if (!loop) std::cerr << "cannot create " << typeid(Loop).name() << ": " << error << "\n";
  return loop;
}

// Polls until done() or the deadline; every event goes to the recorder.
template <typename Loop>
::testing::AssertionResult poll_until(Loop& loop, Recorder& rec, const std::function<bool()>& done,
                                      size_t batch = 64) {
  std::vector<Event> events(batch);
  const auto deadline = Clock::now() + kDeadline;
  while (!done()) {
    if (Clock::now() > deadline) return ::testing::AssertionFailure() << "timed out";
    const size_t n = loop.poll(events, 10);
    if (n > events.size()) return ::testing::AssertionFailure() << "poll returned " << n;
    for (size_t i = 0; i < n; ++i) rec.add(events[i]);
  }
  return ::testing::AssertionSuccess();
}

// Polls for a while and records whatever comes (to show that nothing does).
template <typename Loop>
void poll_for(Loop& loop, Recorder& rec, std::chrono::milliseconds how_long) {
  std::vector<Event> events(64);
  const auto end = Clock::now() + how_long;
  while (Clock::now() < end) {
    const size_t n = loop.poll(events, 5);
    for (size_t i = 0; i < n; ++i) rec.add(events[i]);
  }
}

inline std::vector<uint8_t> pattern(size_t size, uint32_t seed) {
  std::vector<uint8_t> v(size);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<uint8_t>(x >> 24);
  }
  return v;
}

inline std::string as_string(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }


struct BackendName {
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, UringLoop> ? "Uring" : "Asio";
  }
};
using Backends = ::testing::Types<UringLoop, AsioLoop>;

inline Endpoint any_port() {
  Endpoint e;
  std::string error;
  EXPECT_TRUE(resolve("127.0.0.1:0", e, error, true)) << error;
  return e;
}

inline Endpoint local(uint16_t port) {
  Endpoint e;
  std::string error;
  EXPECT_TRUE(resolve("127.0.0.1:" + std::to_string(port), e, error)) << error;
  return e;
}

// An echo server inside the loop under test: every accepted connection sends back what it
// receives (one send in flight, the rest queued). Events of connect()ed ids go to the recorder.
class LoopEcho {
 public:
  explicit LoopEcho(Recorder& rec) : rec_(rec) {}

  template <typename Loop>
  void on(Loop& loop, const Event& e) {
    rec_.add(e);
    ConnLog& log = rec_[e.conn];
    if (!log.accepted) return;
    Pending& p = pending_[e.conn];
    switch (e.type) {
      case Event::kAccepted: p = Pending{}; break;
      case Event::kData:
        p.queued.append(reinterpret_cast<const char*>(e.data.data()), e.data.size());
        break;
      case Event::kSent: p.in_flight.clear(); break;
      default: return;
    }
    if (p.in_flight.empty() && !p.queued.empty()) {
      p.in_flight.swap(p.queued);
      loop.send(e.conn, reinterpret_cast<const uint8_t*>(p.in_flight.data()), p.in_flight.size());
    }
  }

 private:
  struct Pending {
    std::string in_flight;
    std::string queued;
  };
  Recorder& rec_;
  std::map<ConnId, Pending> pending_;  // node-based: in-flight buffers never move
};

template <typename Loop>
::testing::AssertionResult poll_echo(Loop& loop, LoopEcho& echo, const std::function<bool()>& done) {
  std::vector<Event> events(64);
  const auto deadline = Clock::now() + kDeadline;
  while (!done()) {
    if (Clock::now() > deadline) return ::testing::AssertionFailure() << "timed out";
    const size_t n = loop.poll(events, 10);
    for (size_t i = 0; i < n; ++i) echo.on(loop, events[i]);
  }
  return ::testing::AssertionSuccess();
}

// The ids of the open accepted connections the recorder knows, lowest first.
inline std::vector<ConnId> accepted_ids(Recorder& rec, ConnId from, ConnId to) {
  std::vector<ConnId> ids;
  for (ConnId c = from; c < to; ++c) {
    if (rec[c].accepted && rec[c].state == ConnLog::kOpen) ids.push_back(c);
  }
  return ids;
}

}  // namespace ws::net::test
