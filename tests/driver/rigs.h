// Test rigs for the driver's state machines, on the fake loop and a fake clock:
//  - TableRig: a ConnectionTable alone, its I/O executed on a FakeLoop, its events recorded;
//  - WorkerRig: a whole Worker<FakeLoop> (metadata cache, producers, consumers) as a run drives it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "driver/connections.h"
#include "driver/run_control.h"
#include "driver/worker.h"
#include "driver/worker_impl.h"
#include "tests/driver/fake_cluster.h"

namespace ws::testing {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSec = 1'000'000'000;

inline driver::RunConfig base_config(int port = 9092) {
  driver::RunConfig c;
  c.bootstrap = {"127.0.0.1:" + std::to_string(port)};
  c.topic = "t";
  c.threads = 1;
  c.report_interval = std::chrono::seconds(1);
  return c;
}

struct TableRig {
  FakeKafka kafka;
  driver::RunConfig config;
  driver::BrokerRegistry registry;
  driver::RunCounters counters;
  driver::TimerQueue timers;
  std::unique_ptr<driver::ConnectionTable> table;
  std::unique_ptr<FakeLoop> loop;
  int64_t now = 10 * kSec;
  uint64_t batch = 0;
  std::vector<driver::LinkEvent> seen;  // every event the table emitted, in order (bodies not kept)

  explicit TableRig(driver::RunConfig c, FakeKafka k = FakeKafka{}) : kafka(std::move(k)), config(std::move(c)),
                                                                      registry(config.broker_version) {
    config.derive();
    driver::BrokerRegistry::forget_process_cache();
    std::string error;
    registry.add_bootstrap(config.bootstrap, error);
    FakeLoop::cluster() = &kafka;
    loop = FakeLoop::create({}, error);
    table = std::make_unique<driver::ConnectionTable>(config, registry, counters, timers, 42);
  }

  driver::LinkId open(uint32_t owner = 0, uint32_t broker = 0, driver::ConnectionTable::OpenOptions o = {}) {
    static const std::string kId = "test-client";
    const driver::LinkId id = table->open(owner, broker, &kId, now, o);
    flush();
    return id;
  }

  // Executes the table's I/O on the loop and records its events.
  void flush() {
    for (const auto& op : table->io_ops()) {
      const driver::Link& l = table->link(op.link);
      switch (op.kind) {
        case driver::IoOp::kConnect: loop->connect(op.link, table->endpoint(op.link)); break;
        case driver::IoOp::kSend:
          if (op.generation == l.generation && l.send_in_progress) loop->send(op.link, l.out.data(), l.out.size());
          break;
        case driver::IoOp::kClose: loop->close(op.link); break;
      }
    }
    table->io_ops().clear();
    for (const auto& e : table->events()) seen.push_back(e);
    table->clear_events();
  }

  // One loop iteration at `now`: timers, then one poll batch.
  void step() {
    driver::TimerTarget t;
    while (timers.pop_due(now, t)) table->on_timer(t.index, now);
    flush();
    std::vector<net::Event> events(256);
    const size_t n = loop->poll(events, 0);
    table->set_batch(++batch);
    for (size_t i = 0; i < n; ++i) {
      const net::Event& e = events[i];
      if (table->closed_in_this_batch(e.conn)) continue;
      switch (e.type) {
        case net::Event::kConnected: table->on_connected(e.conn, e.error, now); break;
        case net::Event::kData: table->on_data(e.conn, e.data, now); break;
        case net::Event::kSent: table->on_sent(e.conn, now); break;
        case net::Event::kClosed: table->on_closed(e.conn, e.error, now); break;
        default: break;
      }
      flush();
    }
  }
  // Advances the clock in `tick` steps, sweeping every 100 ms as a worker does.
  void run_for(int64_t duration, int64_t tick = 10 * kMs) {
    const int64_t end = now + duration;
    int64_t next_sweep = now;
    while (now < end) {
      step();
      if (now >= next_sweep) {
        table->sweep(now);
        flush();
        next_sweep = now + 100 * kMs;
      }
      now += tick;
    }
    step();
  }
  int count(driver::LinkEvent::Kind kind, driver::LinkId link = UINT32_MAX) const {
    int n = 0;
    for (const auto& e : seen) n += e.kind == kind && (link == UINT32_MAX || e.link == link);
    return n;
  }
};

struct WorkerRig {
  FakeKafka kafka;
  driver::RunConfig config;
  std::unique_ptr<driver::RunControl> control;
  driver::Mailbox mailbox;
  std::unique_ptr<driver::Worker<FakeLoop>> worker;
  int64_t now = 100 * kSec;
  int64_t start = now;

  explicit WorkerRig(driver::RunConfig c, FakeKafka k = FakeKafka{}) : kafka(std::move(k)), config(std::move(c)) {
    config.threads = 1;
    config.derive();
    FakeLoop::cluster() = &kafka;
    driver::BrokerRegistry::forget_process_cache();
    control = std::make_unique<driver::RunControl>(config, 1);
    std::string error;
    control->brokers.add_bootstrap(config.bootstrap, error);
    driver::WorkerShare share;
    share.producers = config.clients;
    share.consumers = config.consumers;
    share.producer_quota = config.messages;
    worker = std::make_unique<driver::Worker<FakeLoop>>(config, *control, mailbox, net::LoopOptions{}, share);
    worker->open_loop(error);
    control->timeline.begin(now, config.warmup.count(), config.duration.count(), config.connect_deadline.count());
    worker->start(now);
  }

  FakeLoop& loop() { return worker->loop(); }
  driver::Phase phase() const { return control->timeline.phase(now); }

  // One iteration of the worker's loop at the current time.
  void step() {
    worker->advance(now);
    const size_t n = loop().poll(events, 0);
    worker->handle(std::span<const net::Event>(events.data(), n), now);
  }
  std::vector<net::Event> events = std::vector<net::Event>(1024);  // one poll batch, reused
  // Runs until `done` says so, the worker is done, or `limit` of fake time passed. True if `done`.
  bool run_until(const std::function<bool()>& done, int64_t limit, int64_t tick = kMs) {
    const int64_t end = now + limit;
    while (now < end) {
      step();
      if (done()) return true;
      if (worker->done(now)) return done();
      now += tick;
    }
    return done();
  }
  // Runs the whole run to its end (as Worker::run does) and finishes the worker.
  void run_to_end(int64_t limit = 600 * kSec, int64_t tick = kMs) {
    run_until([] { return false; }, limit, tick);
    worker->finish(now);
  }
  // The worker's live counters (the mailbox lags by up to 100 ms).
  const driver::RunCounters& counters() { return worker->context().metrics.counters; }
  // Since the start of the measured time (what the result reports).
  driver::RunCounters measured() {
    std::lock_guard lock(mailbox.mutex);
    return mailbox.measuring ? driver::counters_since(counters(), mailbox.baseline) : driver::RunCounters{};
  }
};

}  // namespace ws::testing
