// Worker<Loop>'s definitions. Included by worker.cpp (which instantiates the real loops) and by
// the driver's unit tests (which instantiate a scripted fake loop).
#pragma once

#include <algorithm>
#include <chrono>

#include "driver/worker.h"
#include "protocol/errors.h"

namespace ws::driver {
namespace worker_detail {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kPublishEveryNs = 100 * kMs;
constexpr int64_t kSweepEveryNs = 100 * kMs;
constexpr size_t kEventBatch = 1024;
// Unpaced acks=0 producers write as much as a write may carry: with 10,000 of them, 64 KiB each
// would be 640 MB of buffers (and, on a VM, seconds of page faults before the first write). The
// worker's producers share this budget, between 4 KiB and 64 KiB each.
constexpr size_t kWriteBudgetBytes = 16 << 20;
// New writes made between two polls. Producers due beyond it wait for the next poll, which submits
// the writes before (on loopback they are complete when it returns, and their buffers serve the
// next producers): 500 clients starting at once otherwise each filled a write buffer of their
// own first, 3.2 MB of fresh pages at 18 µs a page on a VM with shadow paging. Counted in memory
// the writes take (Worker::new_write_bytes), not bytes sent: record sets sent from the encoder's
// shared buffer take none, so 10,000 clients' requests are not held to a few per poll.
constexpr uint64_t kNewWriteBytesPerPoll = 128 << 10;

inline int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline int64_t wall_minus_steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
             .count() -
         steady_now_ns();
}

}  // namespace worker_detail

template <typename Loop>
Worker<Loop>::Worker(const RunConfig& config, RunControl& control, Mailbox& mailbox, net::LoopOptions loop_options,
                     const WorkerShare& share)
    : config_(config),
      control_(control),
      mailbox_(mailbox),
      loop_options_(loop_options),
      links_(config, control.brokers, metrics_.counters, timers_, 0x9E3779B97F4A7C15ULL * (share.index + 1)),
      metadata_(config, control.brokers, metrics_.counters, links_, timers_, share.index),
      encoder_(config, control.run_id, worker_detail::wall_minus_steady_ns(), share.payloads),
      ctx_(config, control, links_, timers_, metadata_, metrics_, encoder_, scratch_) {
  ctx_.wall_minus_steady_ns = worker_detail::wall_minus_steady_ns();
  links_.allow_gathered_sends(kLoopGathers<Loop>);
  ctx_.max_write_bytes = std::clamp<size_t>(worker_detail::kWriteBudgetBytes / std::max<uint32_t>(1, share.producers),
                                            4 << 10, 64 << 10);
  producers_.reserve(share.producers);
  for (uint32_t i = 0; i < share.producers; ++i) {
    const uint32_t global = share.first_producer + i;
    // Spread the worker's quota evenly; the first producers take the remainder.
    const uint64_t quota = config.messages == 0 ? UINT64_MAX
                                                : share.producer_quota / share.producers +
                                                      (i < share.producer_quota % share.producers ? 1 : 0);
    producers_.emplace_back(config, i, global, quota);
  }
  consumers_.reserve(share.consumers);
  for (uint32_t i = 0; i < share.consumers; ++i) {
    const uint32_t global = share.first_consumer + i;
    // Consumer-only runs: --messages is what each consumer reads before it stops.
    const std::optional<uint64_t> quota =
        config.clients == 0 && config.messages > 0 ? std::optional<uint64_t>(config.messages) : std::nullopt;
    consumers_.emplace_back(config, share.producers + i, global, quota);
  }
  events_.resize(worker_detail::kEventBatch);
}

template <typename Loop>
bool Worker<Loop>::open_loop(std::string& error) {
  loop_ = Loop::create(loop_options_, error);
  return loop_ != nullptr;
}

template <typename Loop>
void Worker<Loop>::run() {
  using worker_detail::steady_now_ns;
  std::string error;
  const bool opened = open_loop(error);
  control_.start_barrier.arrive_and_wait();
  if (!opened) {
    // prepare() probed this backend on another thread, so this is unexpected (out of memory for
    // the ring): this worker's clients count as failed rather than the process dying.
    control_.set_fatal("cannot create the event loop: " + error);
    metrics_.counters.failures[static_cast<size_t>(Failure::kConnectFailed)] += producers_.size() + consumers_.size();
    for (size_t i = 0; i < producers_.size() + consumers_.size(); ++i) {
      control_.clients_not_ready.fetch_sub(1);
    }
    control_.producers_active.fetch_sub(static_cast<uint32_t>(producers_.size()));
    return publish(true);
  }
  start(control_.timeline.start_ns());
  int64_t busy_since = steady_now_ns();
  while (true) {
    int64_t now = steady_now_ns();
    advance(now);
    if (done(now)) break;
    // Round up: waking up to 1 ms late costs accuracy that the intended-time latency records
    // honestly; rounding down would spin on poll(0) whenever the next wake is under 1 ms away.
    // While connecting, wake often: another worker may end the phase.
    const int64_t cap = phase_ == Phase::kConnecting ? 5 : 50;
    const int timeout_ms = static_cast<int>(
        std::clamp<int64_t>((next_wake() - now + worker_detail::kMs - 1) / worker_detail::kMs, 0, cap));
    const int64_t poll_start = steady_now_ns();
    metrics_.counters.loop_busy_ns += static_cast<uint64_t>(poll_start - busy_since);
    const size_t n = loop_->poll(events_, timeout_ms);
    now = steady_now_ns();
    // A poll that returned at once (within 50 us) was work (submitting and reaping), not waiting.
    busy_since = now - poll_start < 50'000 ? poll_start : now;
    handle(std::span<const net::Event>(events_.data(), n), now);
  }
  finish(steady_now_ns());
}

template <typename Loop>
void Worker<Loop>::start(int64_t now) {
  phase_ = control_.timeline.phase(now);
  ctx_.phase = phase_;
  next_publish_ns_ = now + worker_detail::kPublishEveryNs;
  next_sweep_ns_ = now + worker_detail::kSweepEveryNs;
  metadata_.start(now);
  for (auto& p : producers_) p.start(ctx_, now);
  for (auto& c : consumers_) c.start(ctx_, now);
  settle_events(now);
}

template <typename Loop>
void Worker<Loop>::advance(int64_t now) {
  RunTimeline& timeline = control_.timeline;
  if (control_.stop_requested.load(std::memory_order_relaxed)) timeline.stop(now);
  if (now >= timeline.connect_deadline_ns()) timeline.end_connecting(timeline.connect_deadline_ns());
  give_up_if_unreachable(now);
  update_phase(now);
  TimerTarget t;
  while (timers_.pop_due(now, t)) on_timer(t, now);
  if (now >= next_sweep_ns_) {
    links_.sweep(now);
    next_sweep_ns_ = now + worker_detail::kSweepEveryNs;
  }
  end_consumers_if_due(now);
  settle_events(now);
  if (now >= next_publish_ns_) {
    publish(false);
    next_publish_ns_ = now + worker_detail::kPublishEveryNs;
  }
}

template <typename Loop>
void Worker<Loop>::give_up_if_unreachable(int64_t now) {
  if (gave_up_ || (!metadata_.unreachable() && links_.fatal().empty() && !control_.has_fatal())) return;
  // No bootstrap broker ever answered, or one refused what no retry can change (credentials, a
  // SASL mechanism, a certificate, records too large): every client of the run fails now, not at
  // the deadline, in every worker.
  gave_up_ = true;
  const bool unreachable = metadata_.unreachable();
  const bool refused = !links_.fatal().empty();
  if (unreachable || refused) control_.set_fatal(unreachable ? metadata_.failure() : links_.fatal());
  control_.timeline.stop(now);
  for (auto& p : producers_) p.give_up(ctx_, true, now);
  for (auto& c : consumers_) {
    c.give_up(ctx_, unreachable ? "no_broker_reachable" : refused ? "handshake_refused" : "run_ended", now);
  }
}

template <typename Loop>
void Worker<Loop>::update_phase(int64_t now) {
  const RunTimeline& timeline = control_.timeline;
  const Phase p = timeline.phase(now);
  if (p == phase_) return;
  ctx_.measure_start_ns = timeline.measure_start_ns();
  if (!ctx_.past_warmup && ctx_.measure_start_ns <= now) {
    // The start of the measured time: hand over what was recorded before it, then count from here.
    publish(false);
    ctx_.past_warmup = true;
    std::lock_guard lock(mailbox_.mutex);
    mailbox_.measuring = true;
    mailbox_.baseline = metrics_.counters;
  }
  phase_ = p;
  ctx_.phase = p;
  if (p >= Phase::kDraining && drain_deadline_ns_ == INT64_MAX) drain_deadline_ns_ = now + config_.drain_timeout.count();
  for (auto& producer : producers_) producer.on_phase(ctx_, now);
  // Without producers there is nothing to catch up with: consumers stop with the run.
  if (p >= Phase::kDraining && config_.clients == 0) {
    for (auto& c : consumers_) c.stop(ctx_, now);
  }
}

template <typename Loop>
void Worker<Loop>::end_consumers_if_due(int64_t now) {
  if (consumers_.empty() || config_.clients == 0) return;
  if (!ctx_.producers_done &&
      (control_.producers_active.load(std::memory_order_acquire) == 0 ||
       (phase_ >= Phase::kDraining && now >= drain_deadline_ns_))) {
    // Every producer of the run is done: consumers now read up to the end of the log (the high
    // watermark of a fetch sent from now on) and stop there, or are behind at the deadline.
    ctx_.producers_done = true;
    consumer_deadline_ns_ = now + config_.drain_timeout.count();
    ctx_.acked_by_topic.assign(config_.topics, 0);
    ctx_.in_doubt_by_topic.assign(config_.topics, 0);
    if (control_.producer_acked) {
      for (uint32_t p = 0; p < control_.producer_count; ++p) {
        const uint32_t topic = config_.producer_topic(p);
        ctx_.acked_by_topic[topic] += control_.producer_acked[p].load(std::memory_order_relaxed);
        ctx_.in_doubt_by_topic[topic] += control_.producer_in_doubt[p].load(std::memory_order_relaxed);
      }
    }
    for (auto& c : consumers_) c.on_producers_done(ctx_, now);
  }
  if (ctx_.producers_done && now >= consumer_deadline_ns_) {
    for (auto& c : consumers_) c.stop(ctx_, now);
  }
}

template <typename Loop>
bool Worker<Loop>::done(int64_t now) const {
  const bool producers_over = ctx_.producers_settled == producers_.size() ||
                              (phase_ >= Phase::kDraining && now >= drain_deadline_ns_);
  return producers_over && ctx_.consumers_settled == consumers_.size();
}

template <typename Loop>
int64_t Worker<Loop>::next_wake() const {
  const RunTimeline& timeline = control_.timeline;
  int64_t next = std::min({next_publish_ns_, next_sweep_ns_, timers_.next_ns(), drain_deadline_ns_,
                           consumer_deadline_ns_});
  if (phase_ == Phase::kConnecting) {
    next = std::min({next, timeline.connect_deadline_ns(), timeline.load_start_ns()});
  }
  if (!ctx_.past_warmup) next = std::min(next, timeline.measure_start_ns());
  if (phase_ < Phase::kDraining) next = std::min(next, timeline.measure_end_ns());
  if (!ctx_.send_queue.empty()) return 0;  // at once: producers wait for the poll to submit writes
  return next;
}

template <typename Loop>
void Worker<Loop>::on_timer(const TimerTarget& t, int64_t now) {
  switch (t.kind) {
    case TimerTarget::kLink: return links_.on_timer(t.index, now);
    case TimerTarget::kProducer: return producers_[t.index].on_timer(ctx_, now);
    case TimerTarget::kConsumer: return consumers_[t.index - producers_.size()].on_timer(ctx_, now);
    case TimerTarget::kMetadata: return metadata_.on_timer(now);
  }
}

template <typename Loop>
void Worker<Loop>::handle(std::span<const net::Event> events, int64_t now) {
  flushed_at_poll_ = new_write_bytes();  // the poll that returned these submitted the writes
  links_.release_dropped_sends();
  // The poll may have returned past a phase boundary: move first, so that nothing done at `now`
  // is counted in the phase before it (a request sent after the warm-up counted in it).
  update_phase(now);
  links_.set_batch(++batch_);
  for (const net::Event& e : events) {
    // A close does not retract events already in this batch: they belong to the old connection.
    if (links_.closed_in_this_batch(e.conn)) continue;
    switch (e.type) {
      case net::Event::kConnected:
        if constexpr (requires(Loop& loop) { loop.tls_error(e.conn); }) {
          // A TLS loop says why a handshake failed (OpenSSL's reason).
          if (e.error != 0) {
            links_.on_connected(e.conn, e.error, now, loop_->tls_error(e.conn));
            break;
          }
        }
        links_.on_connected(e.conn, e.error, now);
        break;
      case net::Event::kData: links_.on_data(e.conn, e.data, now); break;
      case net::Event::kSent: links_.on_sent(e.conn, now); break;
      case net::Event::kClosed: links_.on_closed(e.conn, e.error, now); break;
      default: break;
    }
    // Frames point into this event's buffer: their owners read them before the next event.
    settle_events(now);
  }
}

template <typename Loop>
void Worker<Loop>::route(const LinkEvent& e, int64_t now) {
  const uint32_t owner = links_.link(e.link).owner;
  if (e.kind == LinkEvent::kResponse && e.request.handshake) {
    // Kafka 0.9 connections open with Metadata: the answer refreshes the worker's cache.
    if (e.request.api_key == protocol::MetadataRequest::kApiKey) metadata_.on_handshake_metadata(e, now);
    return;
  }
  if (owner == kWorkerOwner) return metadata_.on_link_event(e, now);
  if (owner < producers_.size()) return producers_[owner].on_link_event(ctx_, e, now);
  consumers_[owner - producers_.size()].on_link_event(ctx_, e, now);
}

template <typename Loop>
void Worker<Loop>::settle_events(int64_t now) {
  // Handlers may cause more events (a decode error drops a link), metadata changes and sends:
  // go round until nothing is left.
  for (int round = 0; round < 64; ++round) {
    auto& events = links_.events();
    for (size_t i = 0; i < events.size(); ++i) {
      const LinkEvent e = events[i];  // a copy: handlers may add events
      if (e.generation != links_.link(e.link).generation) continue;  // its connection is gone
      route(e, now);
    }
    links_.clear_events();
    if (metadata_.generation() != metadata_generation_seen_) {
      // Partitions or leaders changed: every client looks again.
      metadata_generation_seen_ = metadata_.generation();
      metadata_refreshes_seen_ = metadata_.refreshes();
      ctx_.metadata_waiters.clear();
      for (auto& p : producers_) p.on_metadata(ctx_, now);
      for (auto& c : consumers_) c.on_metadata(ctx_, now);
    } else if (metadata_.refreshes() != metadata_refreshes_seen_) {
      // A refresh that changed nothing still answers the clients that asked for it.
      metadata_refreshes_seen_ = metadata_.refreshes();
      std::vector<uint32_t> waiting;
      waiting.swap(ctx_.metadata_waiters);
      for (const uint32_t owner : waiting) {
        if (owner < producers_.size()) {
          producers_[owner].on_metadata(ctx_, now);
        } else {
          consumers_[owner - producers_.size()].on_metadata(ctx_, now);
        }
      }
    }
    // Sends deferred to the end of the batch, so several responses free one write, not several.
    // Past kNewWriteBytesPerPoll the rest of the queue waits, in order, for the next poll.
    std::vector<uint32_t>& queue = ctx_.send_queue;
    size_t sent = 0;
    while (sent < queue.size() && new_write_bytes() - flushed_at_poll_ < worker_detail::kNewWriteBytesPerPoll) {
      producers_[queue[sent++]].send_due(ctx_, now);
    }
    queue.erase(queue.begin(), queue.begin() + static_cast<ptrdiff_t>(sent));
    if (links_.events().empty()) break;
  }
  execute_io();
}

template <typename Loop>
void Worker<Loop>::execute_io() {
  for (const IoOp& op : links_.io_ops()) {
    const Link& l = links_.link(op.link);
    switch (op.kind) {
      case IoOp::kConnect: loop_->connect(op.link, links_.endpoint(op.link), links_.source(op.link)); break;
      case IoOp::kSend:
        if (op.generation == l.generation && l.send_in_progress) start_send(*loop_, links_, op.link);
        break;
      case IoOp::kClose: loop_->close(op.link); break;
    }
  }
  links_.io_ops().clear();
}

template <typename Loop>
void Worker<Loop>::finish(int64_t now) {
  // Whatever is still in flight after the drain deadline stays "sent, not acknowledged".
  links_.count_unanswered(metrics_.counters.unanswered_by_api);
  for (auto& p : producers_) p.give_up(ctx_, false, now);
  for (auto& c : consumers_) c.stop(ctx_, now);
  metadata_.stop(now);
  settle_events(now);
  metrics_.counters.clients_producing = 0;
  publish_consumer_tallies();
  publish(true);
}

template <typename Loop>
void Worker<Loop>::publish(bool finished) {
  uint64_t fetching = 0;
  for (const auto& c : consumers_) fetching += c.fetching();
  metrics_.counters.consumers_fetching = fetching;
  std::lock_guard lock(mailbox_.mutex);
  mailbox_.counters = metrics_.counters;
  (mailbox_.measuring ? mailbox_.measured_interval : mailbox_.interval).add_histograms(metrics_);
  mailbox_.finished = finished;
  metrics_.reset_histograms();
}

template <typename Loop>
void Worker<Loop>::publish_consumer_tallies() {
  if (consumers_.empty()) return;
  std::vector<uint64_t> acked(control_.producer_acked ? control_.producer_count : 0);
  for (size_t p = 0; p < acked.size(); ++p) acked[p] = control_.producer_acked[p].load(std::memory_order_relaxed);
  std::vector<ConsumerTally> tallies;
  std::vector<uint64_t> acked_here(acked.size());
  for (auto& c : consumers_) {
    // Only the producers of the consumer's topic count (producer p writes topic p % topics).
    for (size_t p = 0; p < acked.size(); ++p) acked_here[p] = config_.producer_topic(static_cast<uint32_t>(p)) == c.topic() ? acked[p] : 0;
    RecordIntake& intake = c.intake();
    intake.tally.lost = intake.count_lost(config_.verify, control_.run_id, acked_here);
    tallies.push_back(intake.tally);
  }
  std::lock_guard lock(mailbox_.mutex);
  mailbox_.consumers = std::move(tallies);
}

}  // namespace ws::driver
