// A worker: one thread, one event loop, a share of the simulated clients, its own metrics. It
// polls, dispatches, fires timers and publishes numbers; everything else belongs to the parts it
// wires together: ConnectionTable (connections), MetadataCache, Producer and Consumer state
// machines. A template over the loop type, so the I/O backend is chosen once and every I/O call
// is direct (UringLoop, AsioLoop, and a scripted fake loop in the unit tests).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "driver/client_context.h"
#include "driver/config.h"
#include "driver/connections.h"
#include "driver/consumer.h"
#include "driver/metadata.h"
#include "driver/metrics.h"
#include "driver/produce_encoder.h"
#include "driver/producer.h"
#include "driver/run_control.h"
#include "driver/timers.h"
#include "net/event_loop.h"

namespace ws::driver {

// Which clients a worker runs: producers [first_producer, +producers) and consumers
// [first_consumer, +consumers), numbered across all workers per role.
struct WorkerShare {
  uint32_t index = 0;           // the worker's own number
  uint32_t first_producer = 0;
  uint32_t producers = 0;
  uint64_t producer_quota = 0;  // --messages share of these producers (0 with --messages=0)
  uint32_t first_consumer = 0;
  uint32_t consumers = 0;
  std::shared_ptr<const PayloadPool> payloads;  // the run's values, made once; null: from the config
};

template <typename Loop>
class Worker {
 public:
  Worker(const RunConfig& config, RunControl& control, Mailbox& mailbox, net::LoopOptions loop_options,
         const WorkerShare& share);

  // Thread body: waits on the start barrier, then runs the steps below on the real clock. The
  // event loop is created here, on the thread that uses it (io_uring rings are single-issuer).
  void run();

  // The steps of run(), public so that tests drive a worker on a fake loop and a fake clock.
  bool open_loop(std::string& error);
  void start(int64_t now);
  void advance(int64_t now);                               // phases, timers, sweeps, publishing
  void handle(std::span<const net::Event> events, int64_t now);  // one poll() batch
  bool done(int64_t now) const;
  int64_t next_wake() const;
  void finish(int64_t now);                                // counts what is left, publishes

  Loop& loop() { return *loop_; }
  ClientContext& context() { return ctx_; }
  ConnectionTable& links() { return links_; }
  MetadataCache& metadata() { return metadata_; }
  std::vector<Producer>& producers() { return producers_; }
  std::vector<Consumer>& consumers() { return consumers_; }
  Phase phase() const { return phase_; }

 private:
  void update_phase(int64_t now);
  void end_consumers_if_due(int64_t now);
  void give_up_if_unreachable(int64_t now);
  void on_timer(const TimerTarget& t, int64_t now);
  void route(const LinkEvent& e, int64_t now);
  void settle_events(int64_t now);  // routes link events, metadata changes and deferred sends
  void execute_io();
  void publish(bool finished);
  void publish_consumer_tallies();

  const RunConfig& config_;
  RunControl& control_;
  Mailbox& mailbox_;
  net::LoopOptions loop_options_;
  std::unique_ptr<Loop> loop_;
  Metrics metrics_;
  TimerQueue timers_;
  ConnectionTable links_;
  MetadataCache metadata_;
  ProduceEncoder encoder_;
  DecodeScratch scratch_;
  ClientContext ctx_;
  std::vector<Producer> producers_;
  std::vector<Consumer> consumers_;

  Phase phase_ = Phase::kConnecting;
  bool gave_up_ = false;
  int64_t drain_deadline_ns_ = INT64_MAX;
  int64_t consumer_deadline_ns_ = INT64_MAX;
  int64_t next_publish_ns_ = 0;
  // Memory new writes take: write buffers handed to the loop and record sets the encoder left to
  // sends still reading them (borrowed sets a send shares with others take none).
  uint64_t new_write_bytes() const { return links_.bytes_flushed() + encoder_.bytes_set_aside(); }
  uint64_t flushed_at_poll_ = 0;  // new_write_bytes() when the last poll() submitted the writes
  int64_t next_sweep_ns_ = 0;
  uint64_t batch_ = 0;
  uint64_t metadata_generation_seen_ = 0;
  uint64_t metadata_refreshes_seen_ = 0;
  std::vector<net::Event> events_;
};

}  // namespace ws::driver
