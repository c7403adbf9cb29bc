#include "driver/producer.h"

#include <algorithm>

#include "protocol/errors.h"

namespace ws::driver {
namespace {

constexpr uint32_t kAcks0RequestsPerWrite = 64;  // acks=0: requests one write may carry

// Record format per Produce version: v0-1 magic 0, v2 magic 1, v3+ RecordBatch v2.
int8_t magic_for_produce_version(int16_t v) { return v >= 3 ? 2 : (v == 2 ? 1 : 0); }

bool is_leader_error(int16_t code) {
  return code == protocol::error::kNotLeaderOrFollower || code == protocol::error::kLeaderNotAvailable ||
         code == protocol::error::kUnknownTopicOrPartition;
}

}  // namespace

const char* producer_state_name(Producer::State s) {
  switch (s) {
    case Producer::State::kWaitingMetadata: return "waiting_metadata";
    case Producer::State::kConnecting: return "connecting";
    case Producer::State::kReady: return "ready";
    case Producer::State::kProducing: return "producing";
    case Producer::State::kFlushing: return "flushing";
    case Producer::State::kDone: return "done";
    case Producer::State::kFailed: return "failed";
  }
  return "unknown";
}

Producer::Producer(uint32_t index, uint32_t global_index, uint64_t quota, std::string client_id)
    : index_(index), global_index_(global_index), quota_left_(quota), client_id_(std::move(client_id)) {}

void Producer::start(ClientContext& ctx, int64_t now) {
  if (quota_left_ == 0) return settle(ctx, State::kDone, now);  // --messages left nothing for it
  on_metadata(ctx, now);
}

void Producer::on_metadata(ClientContext& ctx, int64_t now) {
  if (settled() || state_ == State::kFlushing) return;
  if (ctx.metadata.failed()) return fail(ctx, Failure::kMetadataFailed, now);
  const auto& partitions = ctx.metadata.partitions();
  if (partitions.empty()) return;  // not known yet: the cache keeps asking
  if (partition_ < 0) partition_ = partitions[global_index_ % partitions.size()].id;
  const MetadataCache::Partition* p = ctx.metadata.partition(partition_);
  if (!p || p->leader == BrokerRegistry::kNone) {
    needs_metadata_ = true;  // leaderless for now (an election): the cache asks again soon
    return;
  }
  metadata_generation_ = ctx.metadata.generation();
  needs_metadata_ = false;
  if (link_ == UINT32_MAX) return connect_to_leader(ctx, now);
  if (ctx.links.link(link_).broker != p->leader) {
    // Leadership moved: requests in flight to the old leader are reported lost (kLost).
    if (state_ == State::kProducing) --ctx.metrics.counters.clients_producing;
    state_ = State::kConnecting;
    ctx.links.retarget(link_, p->leader, now);
    return;
  }
  if (state_ == State::kProducing) queue_send(ctx);
}

void Producer::connect_to_leader(ClientContext& ctx, int64_t now) {
  const MetadataCache::Partition* p = ctx.metadata.partition(partition_);
  // +2: the flush barrier and the window's last request can be in flight together.
  const uint32_t window = ctx.config.max_in_flight + 2;
  link_ = ctx.links.open(index_, p->leader, &client_id_, now,
                         {.window = window, .acks0_producer = ctx.config.acks == 0});
  state_ = State::kConnecting;
}

void Producer::on_link_event(ClientContext& ctx, const LinkEvent& e, int64_t now) {
  if (settled()) return;
  switch (e.kind) {
    case LinkEvent::kReady: return became_ready(ctx, now);
    case LinkEvent::kResponse: return on_response(ctx, e, now);
    case LinkEvent::kWritten:
      if (e.request.api_key == protocol::ProduceRequest::kApiKey) complete(ctx, e.request, protocol::error::kNone, now);
      return;
    case LinkEvent::kWritable: return queue_send(ctx);
    case LinkEvent::kLost: {
      for (const InFlight& r : ctx.links.lost_requests(e)) {
        if (r.api_key == protocol::ProduceRequest::kApiKey && ctx.counts(r)) {
          ctx.metrics.counters.messages_failed += r.records;
        }
      }
      if (state_ == State::kProducing) --ctx.metrics.counters.clients_producing;
      if (ctx.stopping() || state_ == State::kFlushing) return settle(ctx, State::kDone, now);
      // The connection reconnects by itself after its backoff; the leader may have moved.
      state_ = State::kConnecting;
      ctx.metadata.request_refresh(now);
      return;
    }
  }
}

void Producer::became_ready(ClientContext& ctx, int64_t now) {
  const Link& l = ctx.links.link(link_);
  produce_version_ = l.versions.produce;
  // zstd needs Produce v7 (Kafka 2.1); nothing this client can do about it. The flush barrier
  // needs Metadata.
  if (produce_version_ < 0 || l.versions.metadata < 0 ||
      (ctx.config.compression == protocol::Codec::kZstd && produce_version_ < 7)) {
    return fail(ctx, Failure::kUnsupported, now);
  }
  magic_ = magic_for_produce_version(produce_version_);
  if (!ever_ready_) {
    ever_ready_ = true;
    ctx.client_ready(false, now);
  }
  if (ctx.stopping()) return settle(ctx, State::kDone, now);
  if (ctx.sending_allowed()) {
    state_ = State::kProducing;
    ++ctx.metrics.counters.clients_producing;
    queue_send(ctx);
  } else {
    state_ = State::kReady;  // the Connecting phase is not over
  }
}

void Producer::on_phase(ClientContext& ctx, int64_t now) {
  if (settled()) return;
  if (ctx.sending_allowed() && state_ == State::kReady) {
    state_ = State::kProducing;
    ++ctx.metrics.counters.clients_producing;
    return send_due(ctx, now);
  }
  if (!ctx.stopping()) return;
  if (state_ == State::kProducing) {
    record_unsent_backlog(ctx, now);
    return queue_send(ctx);  // finishes once its requests are answered
  }
  if (state_ != State::kFlushing) settle(ctx, State::kDone, now);  // never got to send
}

void Producer::on_timer(ClientContext& ctx, int64_t now) {
  if (state_ == State::kProducing) send_due(ctx, now);
}

void Producer::queue_send(ClientContext& ctx) {
  if (send_queued) return;
  send_queued = true;
  ctx.send_queue.push_back(index_);
}

void Producer::send_due(ClientContext& ctx, int64_t now) {
  send_queued = false;
  if (state_ != State::kProducing || ctx.links.writing(link_)) return;  // kWritable follows the write
  const Link& l = ctx.links.link(link_);
  if (ctx.stopping() || quota_left_ == 0) {
    if (l.in_flight.empty()) finish(ctx, now);
    return;
  }
  if (needs_metadata_) return;
  // Every request that is due and fits the in-flight window goes out in one write: one system
  // call for several requests. With acks=0 no request awaits a response, so the window does not
  // apply; a write then takes up to kAcks0RequestsPerWrite (most of the saving, while 10,000
  // clients' buffers stay small).
  const uint32_t window = ctx.config.acks == 0 ? std::max(ctx.config.max_in_flight, kAcks0RequestsPerWrite)
                                               : ctx.config.max_in_flight;
  while (l.in_flight.size() < window && quota_left_ > 0 && ctx.links.queued_bytes(link_) < ctx.max_write_bytes) {
    if (!append_due(ctx, now)) break;
  }
  ctx.links.flush(link_, now);
}

bool Producer::append_due(ClientContext& ctx, int64_t now) {
  uint32_t count = static_cast<uint32_t>(std::min<uint64_t>(ctx.config.batch, quota_left_));
  int64_t intended = now;
  const int64_t interval = static_cast<int64_t>(ctx.config.record_interval_ns());
  if (interval > 0) {
    // Open loop: records fall due at a fixed rate; a request goes out when the batch is full or
    // its first record has lingered long enough. Latency counts from each record's due time.
    if (next_record_ns_ == 0) {
      // Each client's schedule starts at its own phase within one interval, so 10,000 clients at
      // one record per 100 s spread their records evenly instead of all sending at the start.
      const uint64_t offset = static_cast<uint64_t>(interval) * (global_index_ % ctx.config.clients) / ctx.config.clients;
      next_record_ns_ = now + static_cast<int64_t>(offset);
    }
    const int64_t first = next_record_ns_;
    const int64_t fill_ns = static_cast<int64_t>(count - 1) * interval;
    const int64_t due = first + std::min<int64_t>(ctx.config.linger.count(), fill_ns);
    if (now < due) {
      ctx.timers.arm(due, TimerTarget{TimerTarget::kProducer, index_});
      return false;
    }
    count = static_cast<uint32_t>(std::min<int64_t>(count, (now - first) / interval + 1));
    intended = first;
    next_record_ns_ = first + static_cast<int64_t>(count) * interval;
  }
  if (ctx.config.verify && !measured_from_published_ && now >= ctx.measure_start_ns &&
      ctx.control.producer_measured_from) {
    // Released before the record can be sent, so a consumer that receives it sees the boundary.
    ctx.control.producer_measured_from[global_index_].store(next_sequence_, std::memory_order_release);
    measured_from_published_ = true;
  }
  const ProduceBatch batch{.partition = partition_,
                           .records = count,
                           .magic = magic_,
                           .version = produce_version_,
                           .producer = global_index_,
                           .first_sequence = next_sequence_,
                           .first_intended_ns = intended,
                           .interval_ns = interval};
  InFlight meta;
  meta.intended_ns = intended;
  const size_t bytes = ctx.encoder.append(ctx.links, link_, batch, meta);
  auto& counters = ctx.metrics.counters;
  ++counters.requests_sent;
  counters.messages_sent += count;
  counters.bytes_sent += bytes;
  next_sequence_ += count;
  quota_left_ -= count;
  unflushed_records_ = ctx.config.acks == 0;
  if (interval > 0 && quota_left_ > 0) ctx.timers.arm(next_record_ns_, TimerTarget{TimerTarget::kProducer, index_});
  return true;
}

void Producer::on_response(ClientContext& ctx, const LinkEvent& e, int64_t now) {
  if (e.request.api_key == protocol::MetadataRequest::kApiKey) {
    // The acks=0 flush barrier came back: everything written before it was read.
    if (state_ == State::kFlushing) settle(ctx, State::kDone, now);
    return;
  }
  if (e.request.api_key != protocol::ProduceRequest::kApiKey) return;
  auto& response = ctx.scratch.produce;
  protocol::Reader r(e.body);
  response.decode(r, e.request.api_version);
  if (!r.ok()) {
    if (ctx.counts(e.request)) ctx.metrics.counters.messages_failed += e.request.records;
    return ctx.links.fail(link_, Failure::kDecodeError, now);  // kLost follows
  }
  int16_t code = protocol::error::kUnknownServerError;  // if our partition is missing
  for (const auto& t : response.responses) {
    for (const auto& p : t.partition_responses) {
      if (p.index == partition_) code = p.error_code;
    }
  }
  complete(ctx, e.request, code, now);
  if (is_leader_error(code) && !needs_metadata_) {
    // Leadership moved: stop sending until fresher metadata says where the partition is now.
    needs_metadata_ = true;
    ctx.metadata_waiters.push_back(index_);
    ctx.metadata.request_refresh(now);
  }
  queue_send(ctx);
}

void Producer::complete(ClientContext& ctx, const InFlight& request, int16_t error_code, int64_t now) {
  auto& counters = ctx.metrics.counters;
  // What consumers of this run should find: one relaxed add per request, only with consumers.
  if (error_code == protocol::error::kNone && ctx.control.producer_acked) {
    ctx.control.producer_acked[global_index_].fetch_add(request.records, std::memory_order_relaxed);
  }
  // A request sent during the warm-up belongs to it even when its response comes later: the
  // result counts the requests sent while measuring (with their responses in the drain), so the
  // requests in flight at either end are not counted twice.
  if (!ctx.counts(request)) return;
  if (error_code != protocol::error::kNone) {
    counters.messages_failed += request.records;
    ++counters.errors_by_code[error_code];
    return;
  }
  if (request.expects_response) {
    counters.messages_acked += request.records;
    ++counters.requests_acked;
  }
  // One sample per record, each from its own due time: a request that carries a backlog of
  // records after a stall must weigh as many records as it carries (with one sample per request,
  // --batch=10 hid a 1 s stall from the corrected p99). Unpaced records were all due at once.
  bool ok = ctx.metrics.service_latency_us.record_n((now - request.sent_ns) / 1000, request.records);
  const int64_t interval = static_cast<int64_t>(ctx.config.record_interval_ns());
  if (interval == 0) {
    ok &= ctx.metrics.latency_us.record_n((now - request.intended_ns) / 1000, request.records);
  } else {
    for (uint32_t k = 0; k < request.records; ++k) {
      ok &= ctx.metrics.latency_us.record((now - request.intended_ns - k * interval) / 1000);
    }
  }
  if (!ok) ++counters.latency_out_of_range;
}

void Producer::record_unsent_backlog(ClientContext& ctx, int64_t now) {
  // Records that fell due before the end but were never sent (the window was full, the broker
  // stalled): the open-loop schedule says they waited at least until now. Leaving them out would
  // hide a stall at the end of a run entirely.
  const int64_t interval = static_cast<int64_t>(ctx.config.record_interval_ns());
  if (interval == 0 || next_record_ns_ == 0) return;
  // Records due within the last few milliseconds are timer slack (the loop wakes up to 1 ms
  // late), not a client that fell behind.
  constexpr int64_t kGraceNs = 5'000'000;
  for (int64_t due = next_record_ns_; due <= now - kGraceNs && quota_left_ > 0; due += interval) {
    if (!ctx.metrics.latency_us.record((now - due) / 1000)) ++ctx.metrics.counters.latency_out_of_range;
    ++ctx.metrics.counters.messages_unsent_due;
    --quota_left_;
  }
}

void Producer::finish(ClientContext& ctx, int64_t now) {
  if (ctx.config.acks == 0 && state_ == State::kProducing && unflushed_records_) {
    // acks=0 gives no sign that the broker read the last requests, and closing now could lose
    // them. A broker handles one connection's requests in order, so the answer to a Metadata
    // request proves every produce before it was processed: that is this client's flush.
    unflushed_records_ = false;
    --ctx.metrics.counters.clients_producing;
    state_ = State::kFlushing;
    protocol::MetadataRequest request;
    request.topics.emplace(1);
    (*request.topics)[0].name = ctx.config.topic;
    request.allow_auto_topic_creation = false;
    InFlight meta;
    meta.intended_ns = now;
    ctx.links.append(link_, request, ctx.links.link(link_).versions.metadata, meta);
    ctx.links.flush(link_, now);
    return;
  }
  settle(ctx, State::kDone, now);
}

void Producer::settle(ClientContext& ctx, State final_state, int64_t now) {
  if (settled()) return;
  if (state_ == State::kProducing) --ctx.metrics.counters.clients_producing;
  if (link_ != UINT32_MAX) ctx.links.close(link_, now);
  state_ = final_state;
  ctx.client_settled(false, ever_ready_, now);
}

void Producer::give_up(ClientContext& ctx, bool failed, int64_t now) {
  settle(ctx, failed ? State::kFailed : State::kDone, now);
}

void Producer::fail(ClientContext& ctx, Failure why, int64_t now) {
  ++ctx.metrics.counters.failures[static_cast<size_t>(why)];
  settle(ctx, State::kFailed, now);
}

}  // namespace ws::driver
