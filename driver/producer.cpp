#include "driver/producer.h"

#include <algorithm>
#include <cmath>

#include "protocol/errors.h"
#include "protocol/init_producer_id.h"

namespace ws::driver {
namespace {

constexpr uint32_t kAcks0RequestsPerWrite = 64;  // acks=0: requests one write may carry
constexpr int kMaxRoundsPerSend = 1024;           // one send_due never loops longer than this
// A record's error code when its request was lost with the connection (counted as the
// connection's failure, not as a Kafka error).
constexpr int16_t kLostWithConnection = -2;

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

Producer::Producer(const RunConfig& config, uint32_t index, uint32_t global_index, uint64_t quota)
    : index_(index),
      global_index_(global_index),
      number_(config.client_number(global_index)),
      topic_(config.producer_topic(global_index)),
      partitioner_(config.partitioner_kind(), number_, 0x5DEECE66DULL),
      churn_rng_(0x9E3779B97F4A7C15ULL * (number_ + 1)),
      quota_left_(quota),
      client_id_(config.client_id_prefix + "-" + std::to_string(number_)),
      idempotent_(config.idempotent) {}

LinkId Producer::link_to(uint32_t broker) const {
  for (const auto& l : links_) {
    if (l.broker == broker) return l.link;
  }
  return UINT32_MAX;
}

Producer::LeaderLink* Producer::find(LinkId link) {
  for (auto& l : links_) {
    if (l.link == link) return &l;
  }
  return nullptr;
}

Producer::LeaderLink* Producer::leader_of(const ClientContext& ctx, int32_t partition) {
  const MetadataCache::Partition* p = ctx.metadata.topic(topic_).partition(partition);
  if (!p || p->leader == BrokerRegistry::kNone) return nullptr;
  for (auto& l : links_) {
    if (l.broker == p->leader) return &l;
  }
  return nullptr;
}

bool Producer::all_ready() const {
  return !links_.empty() && std::all_of(links_.begin(), links_.end(), [](const LeaderLink& l) { return l.ready; }) &&
         (!idempotent_ || identity_.assigned());
}

bool Producer::can_send(const ClientContext& ctx, const LeaderLink& l) const {
  if (!l.ready || l.stale || l.flushing || l.churning || ctx.links.writing(l.link)) return false;
  // Every request that is due and fits the in-flight window goes out in one write. With acks=0
  // no request awaits a response, so the window does not apply; a write then carries up to
  // kAcks0RequestsPerWrite (most of the saving, while 10,000 clients' buffers stay small).
  const uint32_t window = ctx.config.acks == 0 ? std::max(ctx.config.max_in_flight, kAcks0RequestsPerWrite)
                                               : ctx.config.max_in_flight;
  return ctx.links.link(l.link).in_flight.size() < window && ctx.links.queued_bytes(l.link) < ctx.max_write_bytes;
}

bool Producer::in_flight(const ClientContext& ctx) const {
  return std::any_of(links_.begin(), links_.end(),
                     [&](const LeaderLink& l) { return !ctx.links.link(l.link).in_flight.empty(); });
}

void Producer::push_part(LeaderLink& l, const Part& p) {
  if (l.parts_size == l.parts.size()) {
    std::vector<Part> bigger(std::max<size_t>(8, l.parts.size() * 2));
    for (uint32_t i = 0; i < l.parts_size; ++i) bigger[i] = l.parts[(l.parts_head + i) % l.parts.size()];
    l.parts = std::move(bigger);
    l.parts_head = 0;
  }
  l.parts[(l.parts_head + l.parts_size) % l.parts.size()] = p;
  ++l.parts_size;
}

Producer::Part Producer::pop_part(LeaderLink& l) {
  if (l.parts_size == 0) return Part{0, 0, 0, 0};
  const Part p = l.parts[l.parts_head];
  l.parts_head = static_cast<uint32_t>((l.parts_head + 1) % l.parts.size());
  --l.parts_size;
  return p;
}

void Producer::start(ClientContext& ctx, int64_t now) {
  if (quota_left_ == 0) return settle(ctx, State::kDone, now);  // --messages left nothing for it
  on_metadata(ctx, now);
}

void Producer::on_metadata(ClientContext& ctx, int64_t now) {
  if (settled() || state_ == State::kFlushing) return;
  if (ctx.metadata.failed()) return fail(ctx, Failure::kMetadataFailed, now);
  if (ctx.metadata.topic(topic_).partitions.empty()) return;  // not known yet: the cache keeps asking
  for (auto& l : links_) l.stale = false;  // a fresher answer lifts a leader error's pause
  connect_to_leaders(ctx, now);
  if (state_ == State::kProducing) queue_send(ctx);
}

void Producer::connect_to_leaders(ClientContext& ctx, int64_t now) {
  const auto& partitions = ctx.metadata.topic(topic_).partitions;
  // The brokers this producer writes to: every leader of its topic, or its one partition's.
  std::vector<uint32_t> wanted;
  if (partitioner_.kind() == PartitionerKind::kFixed) {
    wanted.push_back(partitions[number_ % partitions.size()].leader);
  } else {
    for (const auto& p : partitions) wanted.push_back(p.leader);
  }
  std::erase(wanted, BrokerRegistry::kNone);  // leaderless for now (an election): asked again soon
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  // A leader no longer wanted (its partitions moved): its connection closes. Its requests in
  // flight are failed records: the new leader has the partitions now, and the old one would
  // answer NOT_LEADER.
  for (size_t i = 0; i < links_.size();) {
    LeaderLink& l = links_[i];
    if (std::binary_search(wanted.begin(), wanted.end(), l.broker)) {
      ++i;
      continue;
    }
    const InFlightRing& ring = ctx.links.link(l.link).in_flight;
    for (uint32_t k = 0; k < ring.size(); ++k) {
      const InFlight& r = ring.at(k);
      if (r.api_key != protocol::ProduceRequest::kApiKey) continue;
      complete(ctx, l, r, nullptr, kLostWithConnection, now);
    }
    ctx.links.close(l.link, now);
    links_.erase(links_.begin() + static_cast<ptrdiff_t>(i));
  }
  // +2: the flush barrier and the window's last request can be in flight together.
  const uint32_t window = ctx.config.max_in_flight + 2;
  for (const uint32_t broker : wanted) {
    if (link_to(broker) != UINT32_MAX) continue;
    LeaderLink l;
    l.broker = broker;
    l.link = ctx.links.open(index_, broker, &client_id_, now,
                            {.window = window, .acks0_producer = ctx.config.acks == 0});
    links_.push_back(std::move(l));
  }
  if (state_ == State::kWaitingMetadata) state_ = State::kConnecting;
  // A leader that died while connecting was dropped above: the links left may all be ready.
  become_ready_if_connected(ctx, now);
}

void Producer::on_link_event(ClientContext& ctx, const LinkEvent& e, int64_t now) {
  if (settled()) return;
  LeaderLink* l = find(e.link);
  if (!l) return;
  handle_link_event(ctx, *l, e, now);
  if (churn_pending_ && !settled()) finish_churn(ctx, now);  // a churning link may be idle now
}

void Producer::handle_link_event(ClientContext& ctx, LeaderLink& link, const LinkEvent& e, int64_t now) {
  LeaderLink* l = &link;
  switch (e.kind) {
    case LinkEvent::kReady: return link_ready(ctx, *l, now);
    case LinkEvent::kResponse: return on_response(ctx, *l, e, now);
    case LinkEvent::kWritten:
      if (e.request.api_key == protocol::ProduceRequest::kApiKey) {
        complete(ctx, *l, e.request, nullptr, protocol::error::kNone, now);
      }
      return;
    case LinkEvent::kWritable: return queue_send(ctx);
    case LinkEvent::kLost: {
      for (const InFlight& r : ctx.links.lost_requests(e)) {
        if (r.api_key == protocol::ProduceRequest::kApiKey) complete(ctx, *l, r, nullptr, kLostWithConnection, now);
        if (r.api_key == protocol::InitProducerIdRequest::kApiKey) identity_.request_lost();
      }
      l->ready = false;
      l->flushing = false;
      l->churning = false;   // it reconnects anyway
      l->unflushed = false;  // lost with the connection: already counted as failed above
      if (state_ == State::kFlushing || ctx.stopping()) {
        if (!in_flight(ctx)) settle(ctx, State::kDone, now);
        return;
      }
      // It reconnects by itself after its backoff; the leader may have moved meanwhile.
      ctx.metadata.request_refresh(now);
      return;
    }
  }
}

void Producer::link_ready(ClientContext& ctx, LeaderLink& l, int64_t now) {
  const Link& link = ctx.links.link(l.link);
  l.version = link.versions.produce;
  // zstd needs Produce v7 (Kafka 2.1); nothing this client can do about it. The flush barrier
  // needs Metadata.
  if (l.version < 0 || link.versions.metadata < 0 ||
      (ctx.config.compression == protocol::Codec::kZstd && l.version < 7)) {
    return fail(ctx, Failure::kUnsupported, now);
  }
  l.magic = magic_for_produce_version(l.version);
  if (idempotent_ && (link.versions.init_producer_id < 0 || l.magic != 2)) return refuse_idempotence(ctx, l, now);
  l.ready = true;
  request_identity_if_needed(ctx, now);
  if (state_ == State::kProducing) return queue_send(ctx);
  become_ready_if_connected(ctx, now);
}

void Producer::become_ready_if_connected(ClientContext& ctx, int64_t now) {
  if (state_ != State::kConnecting || !all_ready()) return;
  if (!ever_ready_) {
    ever_ready_ = true;
    ctx.client_ready(false, now);
  }
  if (ctx.stopping()) return settle(ctx, State::kDone, now);
  if (ctx.sending_allowed()) {
    state_ = State::kProducing;
    ++ctx.metrics.counters.clients_producing;
    schedule_churn(ctx, now);
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
    schedule_churn(ctx, now);
    return queue_send(ctx);  // with every other producer's, paced by the worker
  }
  if (!ctx.stopping()) return;
  stop_churn();  // the end of the run: what is sent is flushed on the connections there are
  if (state_ == State::kProducing) {
    record_unsent_backlog(ctx, now);
    return queue_send(ctx);  // finishes once its requests are answered
  }
  if (state_ != State::kFlushing) settle(ctx, State::kDone, now);  // never got to send
}

void Producer::on_timer(ClientContext& ctx, int64_t now) {
  if (now >= record_timer_ns_) record_timer_ns_ = INT64_MAX;  // the record wake-up has fired
  request_identity_if_needed(ctx, now);
  if (state_ != State::kProducing) return;
  if (churn_at_ns_ != 0 && now >= churn_at_ns_) begin_churn(ctx, now);
  queue_send(ctx);
}

void Producer::schedule_churn(ClientContext& ctx, int64_t now) {
  if (ctx.config.churn_per_s <= 0 || ctx.stopping()) return;
  // splitmix64, then an exponential interval: reconnects are a Poisson process per client, so
  // 10,000 clients do not all reconnect in the same millisecond.
  uint64_t z = (churn_rng_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  const double u = (static_cast<double>(z >> 11) + 1.0) / 9007199254740993.0;  // (0, 1]
  const double interval_s = -std::log(u) / ctx.config.churn_per_s;
  churn_at_ns_ = now + std::max<int64_t>(1, static_cast<int64_t>(interval_s * 1e9));
  ctx.timers.arm(churn_at_ns_, TimerTarget{TimerTarget::kProducer, index_});
}

void Producer::begin_churn(ClientContext& ctx, int64_t now) {
  churn_at_ns_ = 0;
  for (auto& l : links_) {
    if (l.ready) l.churning = churn_pending_ = true;
  }
  finish_churn(ctx, now);
}

void Producer::finish_churn(ClientContext& ctx, int64_t now) {
  bool waiting = false;
  for (auto& l : links_) {
    if (!l.churning) continue;
    if (!ctx.links.link(l.link).in_flight.empty() || ctx.links.writing(l.link) || l.flushing) {
      waiting = true;  // its answers first: a restarted client does not drop acknowledged work
      continue;
    }
    l.churning = false;
    l.ready = false;
    ctx.links.reconnect(l.link, now);  // kReady again once connected and negotiated
  }
  if (waiting) return;
  churn_pending_ = false;
  schedule_churn(ctx, now);
}

void Producer::stop_churn() {
  churn_at_ns_ = 0;
  churn_pending_ = false;
  for (auto& l : links_) l.churning = false;
}

void Producer::queue_send(ClientContext& ctx) {
  if (send_queued) return;
  send_queued = true;
  ctx.send_queue.push_back(index_);
}

void Producer::send_due(ClientContext& ctx, int64_t now) {
  send_queued = false;
  if (state_ != State::kProducing) return;
  if (ctx.stopping() || (quota_left_ == 0 && pending_.empty())) {
    if (!in_flight(ctx) && std::none_of(links_.begin(), links_.end(), [&](const LeaderLink& l) {
          return ctx.links.writing(l.link);
        })) {
      finish(ctx, now);
    }
    return;
  }
  // Records wait in pending_ while their leader cannot take them (murmur2 and fixed cannot pick
  // another partition); up to a window's worth, as the Java client's buffer holds them, while the
  // other leaders go on.
  if (idempotent_ && !identity_.assigned()) {
    request_identity_if_needed(ctx, now);  // its answer sends what is due
    return;
  }
  const size_t pending_cap = size_t{ctx.config.batch} * ctx.config.max_in_flight;
  for (int round = 0; round < kMaxRoundsPerSend; ++round) {
    if (pending_.size() < pending_cap) make_due(ctx, now);
    if (!dispatch(ctx, now)) break;
  }
  for (const auto& l : links_) ctx.links.flush(l.link, now);
}

bool Producer::make_due(ClientContext& ctx, int64_t now) {
  if (quota_left_ == 0) return false;
  const size_t before = pending_.size();
  const auto& partitions = ctx.metadata.topic(topic_).partitions;
  if (partitions.empty()) return false;
  uint32_t count = static_cast<uint32_t>(std::min<uint64_t>(ctx.config.batch, quota_left_));
  int64_t first = now;
  const int64_t interval = static_cast<int64_t>(ctx.config.record_interval_ns());
  if (interval > 0) {
    // Open loop: records fall due at a fixed rate; a request goes out when the batch is full or
    // its first record has lingered long enough. Latency counts from each record's due time.
    if (next_record_ns_ == 0) {
      // Each client's schedule starts at its own phase within one interval, so 10,000 clients at
      // one record per 100 s spread their records evenly instead of all sending at the start.
      const uint32_t clients = ctx.config.clients_in_run();
      const uint64_t offset = static_cast<uint64_t>(interval) * (number_ % clients) / clients;
      next_record_ns_ = now + static_cast<int64_t>(offset);
    }
    first = next_record_ns_;
    const int64_t fill_ns = static_cast<int64_t>(count - 1) * interval;
    const int64_t due = first + std::min<int64_t>(ctx.config.linger.count(), fill_ns);
    if (now < due) {
      arm_record_timer(ctx, due);
      return false;
    }
    count = static_cast<uint32_t>(std::min<int64_t>(count, (now - first) / interval + 1));
  }
  // Each record's partition, from the partitioner: sticky and round-robin only among partitions
  // whose leader can take a request now; murmur2 and fixed wherever the key or client says.
  // No link changes while records are made due, so the answer for a partition holds for the whole
  // call: one leader lookup per partition asked about in a row (sticky asks about its partition
  // for every record of a batch), not one per record.
  std::string key;
  int32_t asked = -1;
  bool asked_available = false;
  const auto available = [&](int32_t index) {
    if (index != asked) {
      const LeaderLink* l = leader_of(ctx, partitions[static_cast<size_t>(index)].id);
      asked = index;
      asked_available = l && can_send(ctx, *l);
    }
    return asked_available;
  };
  const PartitionerKind kind = partitioner_.kind();
  if (kind == PartitionerKind::kSticky || kind == PartitionerKind::kFixed) {
    // These pick one partition for every record made due at once (sticky keeps its choice while
    // the partition stays available, which it does during this call): asked once, not per record.
    const int32_t index = partitioner_.next(static_cast<int32_t>(partitions.size()), {}, available);
    if (index >= 0) {
      const int32_t partition = partitions[static_cast<size_t>(index)].id;
      pending_one_partition_ = before == 0 || (pending_one_partition_ && pending_.front().partition == partition);
      pending_.resize(before + count);  // filled through a pointer: a loop the compiler keeps in registers
      PendingRecord* made = pending_.data() + before;
      for (uint32_t j = 0; j < count; ++j) {
        made[j] = PendingRecord{.partition = partition,
                                .sequence = next_sequence_ + j,
                                .intended_ns = first + static_cast<int64_t>(j) * interval};
      }
      next_sequence_ += count;
    }
  } else {
    for (uint32_t j = 0; j < count; ++j) {
      const std::span<const uint8_t> k = ctx.config.key_size > 0
                                             ? record_key(key, number_, next_sequence_, ctx.config.key_size)
                                             : std::span<const uint8_t>();
      const int32_t index = partitioner_.next(static_cast<int32_t>(partitions.size()), k, available);
      if (index < 0) break;  // no partition can take records now: the rest stays due
      const int32_t partition = partitions[static_cast<size_t>(index)].id;
      pending_one_partition_ = pending_.empty() || (pending_one_partition_ && pending_.front().partition == partition);
      pending_.push_back(PendingRecord{.partition = partition,
                                       .sequence = next_sequence_++,
                                       .intended_ns = first + static_cast<int64_t>(j) * interval});
    }
  }
  partitioner_.batch_done();
  if (pending_.size() == before) return false;
  count = static_cast<uint32_t>(pending_.size() - before);
  quota_left_ -= count;
  if (interval > 0) {
    next_record_ns_ = first + static_cast<int64_t>(count) * interval;
    if (quota_left_ > 0) arm_record_timer(ctx, next_record_ns_);
  }
  if (ctx.config.verify && !measured_from_published_ && now >= ctx.measure_start_ns &&
      ctx.control.producer_measured_from) {
    // Released before the record can be sent, so a consumer that receives it sees the boundary.
    ctx.control.producer_measured_from[global_index_].store(pending_[before].sequence, std::memory_order_release);
    measured_from_published_ = true;
  }
  return true;
}

void Producer::refuse_too_large(ClientContext& ctx, int16_t code) {
  // No retry or reconnect changes the broker's message.max.bytes (or the topic's
  // max.message.bytes): every further record would fail the same way, so the run ends here and
  // names the flags to change, as bad input does (exit 2).
  if (ctx.control.has_fatal()) return;
  const RunConfig& c = ctx.config;
  const uint64_t batch_bytes = static_cast<uint64_t>(c.batch) * (c.message_size + c.key_size + 20);
  ctx.control.set_fatal("--message-size=" + std::to_string(c.message_size) + " with --batch=" + std::to_string(c.batch) +
                            ": the broker refused the records as too large (" + protocol::error_name(code) +
                            "); a batch is about " + std::to_string(batch_bytes) +
                            " bytes, above its message.max.bytes (Kafka's default: 1000012) or the topic's "
                            "max.message.bytes. Lower --message-size or --batch",
                        true);
}

void Producer::arm_record_timer(ClientContext& ctx, int64_t at_ns) {
  // make_due runs on every response and every wake-up: without this check each one queued another
  // wake-up for the same instant, the copies re-armed themselves at every record interval, and the
  // timer heap (and the CPU per message) grew with the run's length.
  if (at_ns == record_timer_ns_) return;
  record_timer_ns_ = at_ns;
  ctx.timers.arm(at_ns, TimerTarget{TimerTarget::kProducer, index_});
}

bool Producer::dispatch(ClientContext& ctx, int64_t now) {
  (void)now;
  bool sent = false;
  if (pending_.empty()) return false;
  const std::string& topic = ctx.metadata.topic(topic_).name;
  for (auto& l : links_) {
    if (!can_send(ctx, l)) continue;
    // This leader's records: one leader lookup per run of equal partitions (a sticky batch is
    // one run), not one per record.
    int32_t run_partition = 0;
    bool run_known = false;
    bool run_mine = false;
    const auto is_mine = [&](const PendingRecord& r) {
      if (!run_known || r.partition != run_partition) {
        run_partition = r.partition;
        run_known = true;
        run_mine = leader_of(ctx, r.partition) == &l;
      }
      return run_mine;
    };
    // Mostly all pending records are this leader's (one broker, or a batch on one partition):
    // they are sent from where they are. Otherwise this leader's move to outgoing_ and the others
    // stay in pending_, in order.
    std::span<const PendingRecord> mine(pending_);
    size_t kept = 0;
    if (pending_one_partition_) {
      if (!is_mine(pending_.front())) continue;
    } else if (!std::all_of(pending_.begin(), pending_.end(), is_mine)) {
      outgoing_.clear();
      for (size_t i = 0; i < pending_.size(); ++i) {
        if (is_mine(pending_[i])) {
          outgoing_.push_back(pending_[i]);
        } else {
          pending_[kept++] = pending_[i];
        }
      }
      if (outgoing_.empty()) continue;
      mine = outgoing_;
    }
    const std::span<const PendingRecord> records = pending_one_partition_ ? mine : grouper_.group(mine);
    InFlight meta;
    meta.intended_ns = records.front().intended_ns;
    if (pending_one_partition_) {
      // One partition, in the order made due: its first and last records bound its times.
      push_part(l, Part{records.front().partition, static_cast<uint32_t>(records.size()), records.front().intended_ns,
                        records.back().intended_ns});
      ++meta.parts;
    } else {
      for (size_t i = 0; i < records.size();) {
        Part p{records[i].partition, 0, records[i].intended_ns, records[i].intended_ns};
        for (; i < records.size() && records[i].partition == p.partition; ++i) {
          ++p.records;
          p.first_intended_ns = std::min(p.first_intended_ns, records[i].intended_ns);
          p.last_intended_ns = std::max(p.last_intended_ns, records[i].intended_ns);
        }
        push_part(l, p);
        ++meta.parts;
      }
    }
    const size_t bytes = ctx.encoder.append(ctx.links, l.link, topic, records, global_index_, l.magic, l.version, meta,
                                            idempotent_ ? &identity_ : nullptr);
    auto& counters = ctx.metrics.counters;
    ++counters.requests_sent;
    counters.messages_sent += records.size();
    counters.bytes_sent += bytes;
    ++counters.broker(l.broker).produce_requests;
    l.unflushed = ctx.config.acks == 0;
    pending_.resize(kept);
    // What stays is what other leaders lead: told apart again when it grows, so assume mixed.
    pending_one_partition_ = kept == 0;
    sent = true;
    if (pending_.empty()) break;
  }
  return sent;
}

void Producer::on_response(ClientContext& ctx, LeaderLink& l, const LinkEvent& e, int64_t now) {
  if (e.request.api_key == protocol::MetadataRequest::kApiKey) {
    // An acks=0 flush barrier came back: everything written before it on this connection was read.
    l.flushing = false;
    if (state_ == State::kFlushing &&
        std::none_of(links_.begin(), links_.end(), [](const LeaderLink& x) { return x.flushing; })) {
      settle(ctx, State::kDone, now);
    }
    return;
  }
  if (e.request.api_key == protocol::InitProducerIdRequest::kApiKey) return on_identity(ctx, e, now);
  if (e.request.api_key != protocol::ProduceRequest::kApiKey) return;
  auto& response = ctx.scratch.produce;
  protocol::Reader r(e.body);
  response.decode(r, e.request.api_version);
  if (!r.ok()) {
    complete(ctx, l, e.request, nullptr, kLostWithConnection, now);
    return ctx.links.fail(l.link, Failure::kDecodeError, now);  // kLost follows
  }
  complete(ctx, l, e.request, &response, protocol::error::kNone, now);
  queue_send(ctx);
}

void Producer::complete(ClientContext& ctx, LeaderLink& l, const InFlight& request,
                        const protocol::ProduceResponse* response, int16_t error_code, int64_t now) {
  auto& counters = ctx.metrics.counters;
  // A request sent during the warm-up belongs to it even when its response comes later: the
  // result counts the requests sent while measuring (with their responses in the drain), so the
  // requests in flight at either end are not counted twice.
  const bool counts = ctx.counts(request);
  const int64_t interval = static_cast<int64_t>(ctx.config.record_interval_ns());
  bool leader_moved = false;
  uint32_t acked = 0;
  for (uint16_t k = 0; k < request.parts; ++k) {
    const Part p = pop_part(l);
    int16_t code = error_code;
    if (response) {
      code = protocol::error::kUnknownServerError;  // if the partition is missing from the answer
      for (const auto& t : response->responses) {
        for (const auto& pr : t.partition_responses) {
          if (pr.index == p.partition) code = pr.error_code;
        }
      }
    }
    if (idempotent_ && code == protocol::error::kDuplicateSequenceNumber) {
      // The broker had written this batch already (an earlier copy): written once, as asked.
      ++counters.produce_duplicate_sequences;
      code = protocol::error::kNone;
    }
    // Not written, or not known to be: the broker's next sequence is not this producer's.
    if (idempotent_ && code != protocol::error::kNone) identity_.sequences_broken();
    if (code == protocol::error::kNone && ctx.control.producer_acked) {
      // What consumers of this run should find: one relaxed add per partition, only with consumers.
      ctx.control.producer_acked[global_index_].fetch_add(p.records, std::memory_order_relaxed);
    } else if (code != protocol::error::kNone && ctx.control.producer_in_doubt) {
      ctx.control.producer_in_doubt[global_index_].fetch_add(p.records, std::memory_order_relaxed);
    }
    leader_moved |= is_leader_error(code);
    if (code == protocol::error::kMessageTooLarge || code == protocol::error::kRecordListTooLarge) {
      refuse_too_large(ctx, code);
    }
    if (!counts) continue;
    if (code != protocol::error::kNone) {
      counters.messages_failed += p.records;
      counters.broker(l.broker).produce_records_failed += p.records;
      if (code != kLostWithConnection) ++counters.errors_by_code[code];
      continue;
    }
    acked += p.records;
    // One sample per record, each from its own due time: a request that carries a backlog of
    // records after a stall must weigh as many records as it carries (with one sample per
    // request, --batch=10 hid a 1 s stall from the corrected p99). Unpaced records were all due
    // at once; paced ones fall evenly between the partition's first and last.
    // The publish delay (the request's send less each record's intended time) is OMB's
    // publishDelayLatency, taken as OMB takes it: per acknowledged record, so that the records
    // held back behind a full window weigh as many as they are.
    bool ok = ctx.metrics.service_latency_us.record_n((now - request.sent_ns) / 1000, p.records);
    if (interval == 0 || p.records == 1) {
      ok &= ctx.metrics.latency_us.record_n((now - p.first_intended_ns) / 1000, p.records);
      ok &= ctx.metrics.publish_delay_us.record_n((request.sent_ns - p.first_intended_ns) / 1000, p.records);
    } else {
      const int64_t span = p.last_intended_ns - p.first_intended_ns;
      for (uint32_t j = 0; j < p.records; ++j) {
        const int64_t intended = p.first_intended_ns + span * j / (p.records - 1);
        ok &= ctx.metrics.latency_us.record((now - intended) / 1000);
        ok &= ctx.metrics.publish_delay_us.record((request.sent_ns - intended) / 1000);
      }
    }
    if (!ok) ++counters.latency_out_of_range;
  }
  if (counts && acked > 0 && request.expects_response) {
    counters.messages_acked += acked;
    ++counters.requests_acked;
  }
  if (leader_moved && !l.stale) {
    // Leadership moved: stop sending here until fresher metadata says where the partitions are.
    l.stale = true;
    ctx.metadata_waiters.push_back(index_);
    ctx.metadata.request_refresh(now);
  }
}

void Producer::request_identity_if_needed(ClientContext& ctx, int64_t now) {
  if (!idempotent_ || identity_.state() != ProducerIdentity::State::kNeedsId) return;
  if (settled() || now < identity_retry_at_ns_) return;
  // After a broken sequence, what is in flight settles first: its answers belong to the old epoch.
  if (identity_.producer_id() >= 0 && in_flight(ctx)) return;
  for (auto& l : links_) {
    if (!l.ready) continue;
    identity_requested_ns_ = now;
    identity_.request(ctx.links, l.link, ctx.links.link(l.link).versions.init_producer_id, now);
    ctx.links.flush(l.link, now);
    return;
  }
}

void Producer::on_identity(ClientContext& ctx, const LinkEvent& e, int64_t now) {
  int16_t code = 0;
  const auto outcome = identity_.on_response(e.body, e.request.api_version, code);
  auto& counters = ctx.metrics.counters;
  if (outcome == ProducerIdentity::Outcome::kAssigned) {
    ++counters.producer_ids_assigned;
    if (identity_.resets() > 0) ++counters.producer_id_resets;
    if (!ctx.metrics.init_producer_id_latency_us.record((now - identity_requested_ns_) / 1000)) {
      ++counters.latency_out_of_range;
    }
    if (state_ == State::kConnecting) return become_ready_if_connected(ctx, now);
    return queue_send(ctx);
  }
  ++counters.errors_by_code[code];
  if (outcome == ProducerIdentity::Outcome::kRefused) return fail(ctx, Failure::kUnsupported, now);
  // A coordinator loading or moving: ask again after the reconnect backoff.
  identity_retry_at_ns_ = now + ctx.config.reconnect_backoff.count();
  ctx.timers.arm(identity_retry_at_ns_, TimerTarget{TimerTarget::kProducer, index_});
}

void Producer::refuse_idempotence(ClientContext& ctx, LeaderLink& l, int64_t now) {
  // Nothing a retry changes: the broker predates idempotent producers. The run ends, exit 2.
  ctx.control.set_fatal("--idempotent: broker " + ctx.control.brokers.address_text(l.broker) +
                            " has no idempotent producers (InitProducerId and RecordBatch v2 came in Kafka 0.11); "
                            "run without --idempotent",
                        true);
  fail(ctx, Failure::kUnsupported, now);
}

void Producer::record_unsent_backlog(ClientContext& ctx, int64_t now) {
  // Records that fell due before the end but were never sent (the windows were full, a leader
  // was down, the broker stalled): the open-loop schedule says they waited at least until now.
  // Leaving them out would hide a stall at the end of a run entirely.
  for (const PendingRecord& r : pending_) {
    if (!ctx.metrics.latency_us.record((now - r.intended_ns) / 1000)) ++ctx.metrics.counters.latency_out_of_range;
    ++ctx.metrics.counters.messages_unsent_due;
  }
  pending_.clear();
  pending_one_partition_ = true;
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
  stop_churn();  // nothing more to send: the connections stay for the flush
  if (ctx.config.acks == 0 && state_ == State::kProducing) {
    // acks=0 gives no sign that the broker read the last requests, and closing now could lose
    // them. A broker handles one connection's requests in order, so the answer to a Metadata
    // request proves every produce before it was processed: that is each connection's flush.
    for (auto& l : links_) {
      if (!l.unflushed || !l.ready) continue;
      l.unflushed = false;
      l.flushing = true;
      protocol::MetadataRequest request;
      request.topics.emplace(1);
      (*request.topics)[0].name = ctx.metadata.topic(topic_).name;
      request.allow_auto_topic_creation = false;
      InFlight meta;
      meta.intended_ns = now;
      ctx.links.append(l.link, request, ctx.links.link(l.link).versions.metadata, meta);
      ctx.links.flush(l.link, now);
    }
    if (std::any_of(links_.begin(), links_.end(), [](const LeaderLink& l) { return l.flushing; })) {
      --ctx.metrics.counters.clients_producing;
      state_ = State::kFlushing;
      return;
    }
  }
  settle(ctx, State::kDone, now);
}

void Producer::settle(ClientContext& ctx, State final_state, int64_t now) {
  if (settled()) return;
  if (state_ == State::kProducing) --ctx.metrics.counters.clients_producing;
  for (const auto& l : links_) ctx.links.close(l.link, now);
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
