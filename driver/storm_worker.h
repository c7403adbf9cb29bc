// StormWorker<Loop>: one thread of a connection storm. One event loop, one ConnectionTable, one
// Storm; it polls, hands the loop's events to the table, the table's link events to the storm,
// executes the table's I/O, and leaves its numbers in a mailbox. A template over the loop type
// (UringLoop, AsioLoop, their TlsLoop, the tests' FakeLoop), as Worker is.
#pragma once

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "driver/brokers.h"
#include "driver/connections.h"
#include "driver/storm.h"
#include "driver/timers.h"
#include "net/event_loop.h"

namespace ws::driver {

// What a storm worker leaves for the reporting thread: counters a few times a second, the
// histograms once, at the end.
struct StormMailbox {
  std::mutex mutex;
  StormCounters counters;
  StormMetrics final;
  int64_t storm_start_ns = 0;
  int64_t storm_end_ns = 0;
  std::string fatal;
  bool finished = false;
};

// What the workers of one storm share.
struct StormControl {
  explicit StormControl(uint32_t workers, BrokerVersion mode) : start_barrier(workers + 1), brokers(mode) {}
  std::barrier<> start_barrier;
  BrokerRegistry brokers;
  std::atomic<bool> stop_requested{false};  // Ctrl-C (set from a signal handler)
};

template <typename Loop>
class StormWorker {
 public:
  StormWorker(const StormConfig& config, const RunConfig& table_config, StormControl& control, StormMailbox& mailbox,
              net::LoopOptions loop_options, double rate, uint32_t max_pending, int64_t offset_ns, uint32_t index)
      : table_config_(table_config),
        control_(control),
        mailbox_(mailbox),
        loop_options_(loop_options),
        table_(table_config, control.brokers, counters_, timers_, 0xD1B54A32D192ED03ULL * (index + 1)),
        storm_(config, table_config, table_, rate, max_pending, offset_ns) {
    events_.resize(1024);
  }

  bool open_loop(std::string& error) {
    loop_ = Loop::create(loop_options_, error);
    return loop_ != nullptr;
  }

  // Thread body, on the real clock.
  void run() {
    std::string error;
    const bool opened = open_loop(error);
    control_.start_barrier.arrive_and_wait();
    if (!opened) {
      std::lock_guard lock(mailbox_.mutex);
      mailbox_.fatal = "cannot create the event loop: " + error;
      mailbox_.finished = true;
      return;
    }
    start(now_ns());
    while (true) {
      int64_t now = now_ns();
      advance(now);
      if (done()) break;
      const int timeout_ms = static_cast<int>(std::clamp<int64_t>((next_wake() - now + kMs - 1) / kMs, 0, 50));
      const size_t n = loop_->poll(events_, timeout_ms);
      handle(std::span<const net::Event>(events_.data(), n), now_ns());
    }
    finish(now_ns());
  }

  void start(int64_t now) {
    next_sweep_ns_ = now + 100 * kMs;
    next_publish_ns_ = now + 100 * kMs;
    storm_.start(now);
    settle(now);
  }

  void advance(int64_t now) {
    if (control_.stop_requested.load(std::memory_order_relaxed)) storm_.stop(now);
    // What no retry fixes (a certificate, credentials) before anything worked ends the storm:
    // it is the configuration, not the load. Once handshakes complete, refusals are counted.
    if (!table_.fatal().empty() && storm_.metrics().counters.stage(StormStage::kTotal).completed == 0 &&
        storm_.phase() != Storm::Phase::kDone) {
      storm_.stop(now);
      storm_.finish(now);
    }
    TimerTarget t;
    while (timers_.pop_due(now, t)) {
      if (t.kind == TimerTarget::kLink) table_.on_timer(t.index, now);
    }
    if (now >= next_sweep_ns_) {
      table_.sweep(now);
      next_sweep_ns_ = now + 100 * kMs;
    }
    settle(now);
    storm_.tick(now);
    settle(now);
    if (now >= next_publish_ns_) {
      publish(false);
      next_publish_ns_ = now + 100 * kMs;
    }
  }

  void handle(std::span<const net::Event> events, int64_t now) {
    table_.set_batch(++batch_);
    for (const net::Event& e : events) {
      if (table_.closed_in_this_batch(e.conn)) continue;
      switch (e.type) {
        case net::Event::kConnected:
          if constexpr (requires(Loop& loop) { loop.tls_error(e.conn); }) {
            // TLS loops: TCP and TLS end at different times; a TLS failure comes after TCP worked.
            if (const int64_t tcp = loop_->tcp_connected_ns(e.conn); tcp != 0) storm_.on_tcp_connected(e.conn, tcp);
            if (e.error != 0) {
              table_.on_connected(e.conn, e.error, now, loop_->tls_error(e.conn));
              break;
            }
          }
          table_.on_connected(e.conn, e.error, now);
          break;
        case net::Event::kData: table_.on_data(e.conn, e.data, now); break;
        case net::Event::kSent: table_.on_sent(e.conn, now); break;
        case net::Event::kClosed: table_.on_closed(e.conn, e.error, now); break;
        default: break;
      }
      settle(now);  // frames point into this event's buffer
    }
  }

  bool done() const { return storm_.done(); }
  int64_t next_wake() const {
    return std::min({storm_.next_wake(), timers_.next_ns(), next_sweep_ns_, next_publish_ns_});
  }

  void finish(int64_t now) {
    storm_.finish(now);
    settle(now);
    publish(true);
  }

  Loop& loop() { return *loop_; }
  Storm& storm() { return storm_; }
  ConnectionTable& links() { return table_; }
  const RunCounters& connection_counters() const { return counters_; }

 private:
  static constexpr int64_t kMs = 1'000'000;
  static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  void settle(int64_t now) {
    for (int round = 0; round < 64; ++round) {
      auto& events = table_.events();
      for (size_t i = 0; i < events.size(); ++i) {
        const LinkEvent e = events[i];
        if (e.generation != table_.link(e.link).generation) continue;  // its connection is gone
        storm_.on_link_event(e, now);
      }
      table_.clear_events();
      if (table_.events().empty()) break;
    }
    for (const IoOp& op : table_.io_ops()) {
      const Link& l = table_.link(op.link);
      switch (op.kind) {
        case IoOp::kConnect: loop_->connect(op.link, table_.endpoint(op.link), table_.source(op.link)); break;
        case IoOp::kSend:
          if (op.generation == l.generation && l.send_in_progress) start_send(*loop_, table_, op.link);
          break;
        case IoOp::kClose: loop_->close(op.link); break;
      }
    }
    table_.io_ops().clear();
  }

  void publish(bool finished) {
    std::lock_guard lock(mailbox_.mutex);
    mailbox_.counters = storm_.metrics().counters;
    mailbox_.storm_start_ns = storm_.storm_start_ns();
    mailbox_.storm_end_ns = storm_.storm_end_ns();
    if (finished) {
      mailbox_.final = storm_.metrics();
      if (storm_.metrics().counters.stage(StormStage::kTotal).completed == 0) {
        mailbox_.fatal = !table_.fatal().empty() ? table_.fatal() : storm_.fatal();
      }
      mailbox_.finished = true;
    }
  }

  const RunConfig& table_config_;
  StormControl& control_;
  StormMailbox& mailbox_;
  net::LoopOptions loop_options_;
  std::unique_ptr<Loop> loop_;
  RunCounters counters_;
  TimerQueue timers_;
  ConnectionTable table_;
  Storm storm_;
  int64_t next_sweep_ns_ = 0;
  int64_t next_publish_ns_ = 0;
  uint64_t batch_ = 0;
  std::vector<net::Event> events_;
};

}  // namespace ws::driver
