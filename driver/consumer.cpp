#include "driver/consumer.h"

#include <algorithm>

#include "driver/group_report.h"
#include "protocol/errors.h"

namespace ws::driver {
namespace {

constexpr int64_t kRetryNs = 100'000'000;  // a fetch or ListOffsets answered with an error

bool is_leader_error(int16_t code) {
  return code == protocol::error::kNotLeaderOrFollower || code == protocol::error::kLeaderNotAvailable ||
         code == protocol::error::kUnknownTopicOrPartition;
}

}  // namespace

Consumer::Consumer(const RunConfig& config, uint32_t index, uint32_t global_index, std::optional<uint64_t> quota)
    : index_(index),
      topic_(config.consumer_topic(global_index)),
      client_id_(config.client_id_prefix + "-consumer-" + std::to_string(config.consumer_number(global_index))) {
  intake_.tally.id = config.consumer_number(global_index);
  intake_.quota_left = quota;
  if (config.group.enabled()) {
    group_ = std::make_unique<GroupMember>(config, index, config.consumer_number(global_index), topic_, &client_id_);
  }
}

void Consumer::start(ClientContext& ctx, int64_t now) { on_metadata(ctx, now); }

void Consumer::mark_failing(const char* why) {
  if (intake_.tally.failure.empty()) intake_.tally.failure = why;
}

Consumer::FetchLink* Consumer::find(LinkId link) {
  for (auto& l : links_) {
    if (l.link == link) return &l;
  }
  return nullptr;
}

bool Consumer::positioned(const FetchLink& l) {
  return std::all_of(l.partitions.begin(), l.partitions.end(), [&](int32_t p) {
    const PartitionCursor* c = intake_.cursor_for(p);
    return c && c->offset >= 0;
  });
}

void Consumer::on_metadata(ClientContext& ctx, int64_t now) {
  if (settled()) return;
  if (ctx.metadata.failed()) {
    mark_failing(failure_name(Failure::kMetadataFailed));
    ++ctx.metrics.counters.failures[static_cast<size_t>(Failure::kMetadataFailed)];
    return settle(ctx, State::kFailed, now);
  }
  const auto& partitions = ctx.metadata.topic(topic_).partitions;
  if (partitions.empty()) return;
  if (group_) return on_group_metadata(ctx, now);  // its partitions are the group's to assign
  // Keep the offsets of partitions already read (a reconnect or leader move resumes there);
  // partitions new to this consumer start from --consume-from. Sorted once, not per partition.
  auto& cursors = intake_.cursors;
  const size_t known = cursors.size();
  auto known_before = [&](int32_t id) {
    const auto end = cursors.begin() + static_cast<ptrdiff_t>(known);
    const auto it = std::lower_bound(cursors.begin(), end, id,
                                     [](const PartitionCursor& c, int32_t v) { return c.partition < v; });
    return it != end && it->partition == id;
  };
  for (const auto& p : partitions) {
    if (!known_before(p.id)) cursors.push_back(PartitionCursor{.partition = p.id});
  }
  if (cursors.size() != known) {
    std::sort(cursors.begin(), cursors.end(),
              [](const PartitionCursor& a, const PartitionCursor& b) { return a.partition < b.partition; });
  }
  for (auto& l : links_) l.stale = false;  // a fresher answer lifts a leader error's pause
  assign_partitions(ctx, now);
  update_state(ctx, now);
  for (auto& l : links_) next_request(ctx, l, now);
}

void Consumer::assign_partitions(ClientContext& ctx, int64_t now) {
  for (auto& l : links_) l.partitions.clear();
  for (const auto& p : ctx.metadata.topic(topic_).partitions) {
    if (p.leader == BrokerRegistry::kNone) continue;  // leaderless for now: waits for an election
    if (group_ && !intake_.cursor_for(p.id)) continue;  // assigned to another member
    FetchLink* link = nullptr;
    for (auto& l : links_) {
      if (l.broker == p.leader) link = &l;
    }
    if (!link) {
      FetchLink l;
      l.broker = p.leader;
      l.link = ctx.links.open(index_, p.leader, &client_id_, now, {.window = 2});
      links_.push_back(std::move(l));
      link = &links_.back();
    }
    link->partitions.push_back(p.id);  // in id order: the topic's partitions are sorted
  }
  // A leader that leads none of this consumer's partitions any more: its connection closes (a
  // group member keeps it, as the Java client does: the next rebalance may need it again).
  for (size_t i = 0; i < links_.size();) {
    if (!links_[i].partitions.empty() || group_) {
      ++i;
      continue;
    }
    ctx.links.close(links_[i].link, now);
    links_.erase(links_.begin() + static_cast<ptrdiff_t>(i));
  }
}

void Consumer::update_state(ClientContext& ctx, int64_t now) {
  if (settled()) return;
  if (group_ && !group_->has_assignment()) {
    state_ = State::kJoiningGroup;
    return;
  }
  // A member assigned no partition (more members than partitions) is ready with nothing to read.
  if (links_.empty() && !(group_ && intake_.cursors.empty())) return;
  const bool connected = std::all_of(links_.begin(), links_.end(), [](const FetchLink& l) { return l.ready; });
  size_t assigned = 0;
  for (const auto& l : links_) assigned += l.partitions.size();
  const bool all_positioned = assigned == intake_.cursors.size() && intake_.positioned();
  if (all_positioned && !ever_ready_) {
    ever_ready_ = true;
    ctx.client_ready(true, now);
  }
  state_ = all_positioned ? State::kFetching : (connected ? State::kPositioning : State::kConnecting);
}

void Consumer::on_link_event(ClientContext& ctx, const LinkEvent& e, int64_t now) {
  // The coordinator connection outlives the reading: a member stays in its group until the end.
  if (group_ && group_->owns(e.link)) {
    return on_group_change(ctx, group_->on_link_event(ctx, e, intake_.cursors, now), now);
  }
  if (settled()) return;
  FetchLink* l = find(e.link);
  if (!l) return;
  switch (e.kind) {
    case LinkEvent::kReady: {
      const Link& link = ctx.links.link(l->link);
      l->fetch_version = link.versions.fetch;
      l->list_offsets_version = link.versions.list_offsets;
      if (l->fetch_version < 0 || l->list_offsets_version < 0) {
        mark_failing(failure_name(Failure::kUnsupported));
        ++ctx.metrics.counters.failures[static_cast<size_t>(Failure::kUnsupported)];
        return settle(ctx, State::kFailed, now);
      }
      l->ready = true;
      update_state(ctx, now);
      return next_request(ctx, *l, now);
    }
    case LinkEvent::kResponse:
      l->in_flight = false;
      if (e.request.api_key == protocol::ListOffsetsRequest::kApiKey) return handle_list_offsets(ctx, *l, e, now);
      if (e.request.api_key == protocol::FetchRequest::kApiKey) return handle_fetch(ctx, *l, e, now);
      return;
    case LinkEvent::kLost:
      // Counted as the connection's failure; the consumer reconnects (after a backoff) and goes
      // on from its offsets, as a real one does. It fails only if it ends up behind.
      l->in_flight = false;
      l->ready = false;
      l->catch_up_in_flight = false;
      update_state(ctx, now);
      ctx.metadata.request_refresh(now);  // the leader may have moved
      return;
    case LinkEvent::kWritten:
    case LinkEvent::kWritable:
      return;
  }
}

void Consumer::next_request(ClientContext& ctx, FetchLink& l, int64_t now) {
  if (settled() || !l.ready || l.in_flight || l.stale || now < l.retry_at_ns || l.partitions.empty()) return;
  if (positioned(l)) return send_fetch(ctx, l, now);
  send_list_offsets(ctx, l, now);
}

void Consumer::send_list_offsets(ClientContext& ctx, FetchLink& l, int64_t now) {
  protocol::ListOffsetsRequest request;
  request.replica_id = -1;  // a consumer, not a follower broker
  request.topics.resize(1);
  request.topics[0].name = ctx.metadata.topic(topic_).name;
  // Kafka's special timestamps: -2 the first offset, -1 the next offset to be written.
  const int64_t timestamp = ctx.config.consume_from_earliest ? -2 : -1;
  for (const int32_t p : l.partitions) {
    const PartitionCursor* c = intake_.cursor_for(p);
    if (c && c->offset < 0) request.topics[0].partitions.push_back({.partition_index = p, .timestamp = timestamp});
  }
  InFlight meta;
  meta.intended_ns = now;
  ctx.links.append(l.link, request, l.list_offsets_version, meta);
  ctx.links.flush(l.link, now);
  l.in_flight = true;
}

void Consumer::handle_list_offsets(ClientContext& ctx, FetchLink& l, const LinkEvent& e, int64_t now) {
  auto& response = ctx.scratch.list_offsets;
  protocol::Reader r(e.body);
  response.decode(r, e.request.api_version);
  if (!r.ok()) return ctx.links.fail(l.link, Failure::kDecodeError, now);
  bool error = false;
  for (const auto& t : response.topics) {
    if (t.name != ctx.metadata.topic(topic_).name) continue;
    for (const auto& p : t.partitions) {
      PartitionCursor* cursor = intake_.cursor_for(p.partition_index);
      if (!cursor) continue;
      if (p.error_code != protocol::error::kNone) {
        ++ctx.metrics.counters.errors_by_code[p.error_code];
        if (is_leader_error(p.error_code)) l.stale = true;
        error = true;
        continue;
      }
      // v0 answers with a list of offsets (the first is the one asked for), v1+ with one.
      const int64_t offset = e.request.api_version == 0
                                 ? (p.old_style_offsets.empty() ? -1 : p.old_style_offsets.front())
                                 : p.offset;
      if (offset >= 0 && cursor->offset < 0) cursor->offset = offset;
    }
  }
  update_state(ctx, now);
  if (l.stale) {
    ctx.metadata_waiters.push_back(index_);
    return ctx.metadata.request_refresh(now);
  }
  if (!positioned(l)) {
    if (!error) ++ctx.metrics.counters.errors_by_code[protocol::error::kUnknownTopicOrPartition];
    return retry_later(ctx, l, now);
  }
  next_request(ctx, l, now);
}

void Consumer::send_fetch(ClientContext& ctx, FetchLink& l, int64_t now) {
  auto& request = ctx.scratch.fetch_request;
  request.replica_id = -1;
  request.max_wait_ms = static_cast<int32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(ctx.config.fetch_max_wait).count());
  request.min_bytes = static_cast<int32_t>(ctx.config.fetch_min_bytes);
  request.max_bytes = static_cast<int32_t>(ctx.config.fetch_max_bytes);  // v3+
  request.isolation_level = 0;
  request.session_id = 0;  // no incremental fetch session: every fetch names every partition
  request.session_epoch = -1;
  request.topics.resize(1);
  auto& topic = request.topics[0];
  topic.topic = ctx.metadata.topic(topic_).name;
  topic.partitions.resize(l.partitions.size());
  // Before v3 there is no response limit, only a per-partition one: share the budget, but not
  // below 64 KiB so one batch always fits (a partial one would stall the partition).
  const int32_t per_partition =
      l.fetch_version >= 3
          ? static_cast<int32_t>(ctx.config.fetch_max_bytes)
          : static_cast<int32_t>(std::max<uint64_t>(ctx.config.fetch_max_bytes / std::max<size_t>(1, l.partitions.size()),
                                                    64 * 1024));
  for (size_t i = 0; i < l.partitions.size(); ++i) {
    topic.partitions[i] = {.partition = l.partitions[i],
                           .fetch_offset = intake_.cursor_for(l.partitions[i])->offset,
                           .partition_max_bytes = per_partition};
  }
  // Once every producer is done, the high watermark this fetch reports is the end of what was
  // written: a consumer that reaches it on every connection has everything.
  l.catch_up_in_flight = ctx.producers_done;
  InFlight meta;
  meta.intended_ns = now;
  ctx.links.append(l.link, request, l.fetch_version, meta);
  ctx.links.flush(l.link, now);
  l.in_flight = true;
  ++ctx.metrics.counters.broker(l.broker).fetch_requests;
}

void Consumer::handle_fetch(ClientContext& ctx, FetchLink& l, const LinkEvent& e, int64_t now) {
  auto& counters = ctx.metrics.counters;
  auto& response = ctx.scratch.fetch;
  protocol::Reader r(e.body);
  response.decode(r, e.request.api_version);
  if (!r.ok()) return ctx.links.fail(l.link, Failure::kDecodeError, now);
  counters.consume_bytes += e.body.size() + 8;  // + size prefix and correlation id
  ++counters.consume_fetches;
  l.catch_up_answered = l.catch_up_in_flight;
  const IntakeContext intake{
      .verify = ctx.config.verify,
      .run_id = ctx.control.run_id,
      .shard = ctx.config.shard.index,
      .shard_count = ctx.config.shard.count,
      .now_unix_us = (now + ctx.wall_minus_steady_ns) / 1000,
      .measuring = now >= ctx.measure_start_ns,
      .measured_from = ctx.control.producer_measured_from
                           ? std::span<const std::atomic<uint64_t>>(ctx.control.producer_measured_from.get(),
                                                                     ctx.control.producer_count)
                           : std::span<const std::atomic<uint64_t>>(),
      .counters = &counters,
      .e2e_latency_us = &ctx.metrics.e2e_latency_us};
  bool retry = false, stuck = false;
  if (response.error_code != protocol::error::kNone) {
    ++counters.errors_by_code[response.error_code];
    retry = true;
  }
  for (const auto& t : response.responses) {
    if (t.topic != ctx.metadata.topic(topic_).name) continue;
    for (const auto& p : t.partitions) {
      PartitionCursor* cursor = intake_.cursor_for(p.partition_index);
      if (!cursor) continue;
      if (p.error_code != protocol::error::kNone) {
        ++counters.errors_by_code[p.error_code];
        ++counters.broker(l.broker).fetch_errors;
        if (p.error_code == protocol::error::kOffsetOutOfRange) {
          // Fell out of the retained log (or past its end): what it skips is lost, and the
          // consumer counts as failing. Start again from --consume-from (auto.offset.reset).
          mark_failing("offset_out_of_range");
          cursor->offset = -1;
        } else if (is_leader_error(p.error_code)) {
          l.stale = true;  // the partition moved: wait for metadata to say where
        } else {
          retry = true;
        }
        continue;
      }
      cursor->high_watermark = p.high_watermark;
      if (!p.records) continue;
      const int64_t before = cursor->offset;
      // Below what this member read before a rebalance moved its position back: what it
      // receives twice there is the rebalance's doing, counted apart.
      const bool rereading = group_ && before < read_mark(cursor->partition);
      const uint64_t duplicates_before = intake_.tally.duplicates;
      switch (intake_.take_records(*cursor, *p.records, intake)) {
        case RecordIntake::Intake::kOk: break;
        case RecordIntake::Intake::kMalformed:
          // What was readable was taken; the rest is fetched again, and if nothing moves, no
          // fetch will get past it: the consumer fails rather than stall without a word.
          if (cursor->offset != before) {
            retry = true;
            break;
          }
          mark_failing("malformed_record_set");
          ++counters.failures[static_cast<size_t>(Failure::kDecodeError)];
          stuck = true;
          break;
        case RecordIntake::Intake::kTooLarge:
          mark_failing("batch_larger_than_fetch_max_bytes");
          stuck = true;
          break;
      }
      if (rereading) {
        const uint64_t again = intake_.tally.duplicates - duplicates_before;
        intake_.tally.duplicates -= again;
        counters.consume_duplicates -= again;
        intake_.tally.group.rebalance_duplicates += again;
      }
    }
  }
  if (finished(ctx)) return settle(ctx, State::kDone, now);  // its --messages, or everything written
  if (stuck) return settle(ctx, State::kFailed, now);
  update_state(ctx, now);
  if (l.stale) {
    ctx.metadata_waiters.push_back(index_);
    return ctx.metadata.request_refresh(now);  // on_metadata resumes fetching
  }
  if (retry) return retry_later(ctx, l, now);
  next_request(ctx, l, now);
}

void Consumer::retry_later(ClientContext& ctx, FetchLink& l, int64_t now) {
  l.retry_at_ns = now + kRetryNs;
  ctx.timers.arm(l.retry_at_ns, TimerTarget{TimerTarget::kConsumer, index_});
}

void Consumer::on_timer(ClientContext& ctx, int64_t now) {
  if (group_) on_group_change(ctx, group_->on_timer(ctx, intake_.cursors, now), now);
  for (auto& l : links_) next_request(ctx, l, now);
}

bool Consumer::finished(const ClientContext& ctx) const {
  if (intake_.quota_reached()) return true;
  // A group member between assignments has nothing to judge by; one assigned no partition is
  // done once the producers are.
  if (group_ && !group_->has_assignment()) return false;
  if (group_ && intake_.cursors.empty()) return ctx.producers_done;
  if (ctx.producers_done && has_everything(ctx)) return true;
  // Every connection answered a fetch sent after every producer was done, and every partition
  // is at the high watermark those answers reported: the end of what was written.
  return !links_.empty() && intake_.caught_up() && std::all_of(links_.begin(), links_.end(), [](const FetchLink& l) {
           return l.partitions.empty() || l.catch_up_answered;  // a group member's idle links do not count
         });
}

bool Consumer::has_everything(const ClientContext& ctx) const {
  // Everything this run's producers had acknowledged when they finished. Exact with --verify
  // (this run's stamps, each counted once); without it, only from --consume-from=latest, where
  // the consumer sees nothing older (unless someone else writes to the topic meanwhile: then the
  // high watermark still ends it, later). With --topics, only the producers of its topic count.
  // A member of a shared group reads only part of its topic: only the high watermark ends it.
  if (ctx.config.group.mode == GroupMode::kShared) return false;
  const uint64_t acked = ctx.acked_by_topic.empty() ? 0 : ctx.acked_by_topic[topic_];
  if (acked == 0) return false;
  // Failed records may be in the log too: a count that includes them could reach `acked` while an
  // acknowledged record is still to come. Then only the high watermark ends it.
  if (!ctx.in_doubt_by_topic.empty() && ctx.in_doubt_by_topic[topic_] > 0) return false;
  if (ctx.config.verify) return intake_.this_run_distinct >= acked;
  // Other shards write the topic too (--shards): there, only the high watermark ends it.
  return !ctx.config.consume_from_earliest && ctx.config.shard.count == 1 && intake_.tally.received >= acked;
}

void Consumer::on_producers_done(ClientContext& ctx, int64_t now) {
  if (state_ == State::kFetching && finished(ctx)) settle(ctx, State::kDone, now);
}

void Consumer::stop(ClientContext& ctx, int64_t now) {
  if (!settled()) {
    if (!ever_ready_) {
      mark_failing("never_connected");
    } else if (ctx.config.clients > 0 || (intake_.quota_left && !intake_.quota_reached())) {
      // Still reading when the run ends: behind the producers, or short of its --messages.
      mark_failing("behind");
    }
    settle(ctx, State::kDone, now);
  }
  // The run is over for consumers: a group member leaves its group now.
  if (group_ && !released_) {
    on_group_change(ctx, group_->leave(ctx, intake_.cursors, now), now);
    if (!released_) intake_.tally.group = group_->tally();  // as it stands, should the worker finish first
  }
}

void Consumer::give_up(ClientContext& ctx, const char* why, int64_t now) {
  if (!settled()) {
    mark_failing(why);
    settle(ctx, State::kFailed, now);
  }
  if (group_ && !released_) {
    group_->close(ctx, now);  // no broker to say goodbye to
    release(ctx, now);
  }
}

void Consumer::settle(ClientContext& ctx, State final_state, int64_t now) {
  if (settled()) return;
  for (const auto& l : links_) ctx.links.close(l.link, now);
  state_ = final_state;
  if (group_) {
    // Done reading, still in its group: settled for the worker once it has left (release()).
    ctx.control.consumers_done_reading.fetch_add(1, std::memory_order_acq_rel);
    return on_group_change(ctx, group_->reading_done(ctx, intake_.cursors, now), now);
  }
  ctx.client_settled(true, ever_ready_, now);
}

void Consumer::on_group_metadata(ClientContext& ctx, int64_t now) {
  if (group_->state() == GroupMember::State::kIdle) group_->start(ctx, now);
  for (auto& l : links_) l.stale = false;  // a fresher answer lifts a leader error's pause
  assign_partitions(ctx, now);
  update_state(ctx, now);
  for (auto& l : links_) next_request(ctx, l, now);
}

void Consumer::on_group_change(ClientContext& ctx, GroupMember::Change change, int64_t now) {
  switch (change) {
    case GroupMember::Change::kNone:
    case GroupMember::Change::kLeft: break;
    case GroupMember::Change::kRevoked:
      if (!settled()) drop_assignment(ctx, now);
      break;
    case GroupMember::Change::kAssigned:
      // A member that has read all it will takes no new partitions: it leaves soon.
      if (!settled()) take_assignment(ctx, now);
      break;
    case GroupMember::Change::kFailed:
      if (!settled()) {
        mark_failing(group_->failure());
        settle(ctx, State::kFailed, now);
      }
      break;
  }
  // Out of its group, however that came about: settled for the worker.
  const GroupMember::State s = group_->state();
  if (s == GroupMember::State::kLeft || s == GroupMember::State::kFailed) release(ctx, now);
}

void Consumer::take_assignment(ClientContext& ctx, int64_t now) {
  // A partition it held in the generation just before goes on from where it stopped; the others
  // start at the group's committed offset, or per --consume-from (ListOffsets) where there is none.
  const bool next_generation = previous_generation_ >= 0 && group_->generation() == previous_generation_ + 1;
  std::vector<PartitionCursor> cursors;
  for (const auto& a : group_->assignment()) {
    PartitionCursor c{.partition = a.partition, .offset = a.committed_offset};
    const auto kept = std::lower_bound(previous_cursors_.begin(), previous_cursors_.end(), a.partition,
                                       [](const PartitionCursor& p, int32_t v) { return p.partition < v; });
    if (next_generation && kept != previous_cursors_.end() && kept->partition == a.partition && kept->offset >= 0) {
      c.offset = kept->offset;
    }
    cursors.push_back(c);  // the assignment is sorted, so are the cursors
  }
  intake_.cursors = std::move(cursors);
  previous_cursors_.clear();
  for (auto& l : links_) {
    // Fetches in flight were sent for the old assignment: they cannot end this one.
    l.catch_up_in_flight = l.catch_up_answered = false;
    l.stale = false;
  }
  assign_partitions(ctx, now);
  update_state(ctx, now);
  // A member given nothing (or an assignment already read) after every producer was done.
  if (state_ == State::kFetching && finished(ctx)) return settle(ctx, State::kDone, now);
  for (auto& l : links_) next_request(ctx, l, now);
}

void Consumer::drop_assignment(ClientContext& ctx, int64_t now) {
  for (const auto& c : intake_.cursors) {
    auto it = std::lower_bound(read_marks_.begin(), read_marks_.end(), c.partition,
                               [](const auto& mark, int32_t p) { return mark.first < p; });
    if (it == read_marks_.end() || it->first != c.partition) it = read_marks_.insert(it, {c.partition, -1});
    it->second = std::max(it->second, c.offset);
  }
  // Without cursors, what fetches in flight bring for these partitions is dropped: the next owner
  // reads it from the offsets committed as the rebalance began.
  previous_cursors_ = std::move(intake_.cursors);
  intake_.cursors.clear();
  previous_generation_ = group_->generation();
  assign_partitions(ctx, now);
  update_state(ctx, now);
}

int64_t Consumer::read_mark(int32_t partition) const {
  const auto it = std::lower_bound(read_marks_.begin(), read_marks_.end(), partition,
                                   [](const auto& mark, int32_t p) { return mark.first < p; });
  return it != read_marks_.end() && it->first == partition ? it->second : -1;
}

void Consumer::release(ClientContext& ctx, int64_t now) {
  if (released_) return;
  released_ = true;
  intake_.tally.group = group_->tally();
  if (ctx.config.verify && ctx.config.group.mode == GroupMode::kShared) {
    // The group is judged as a whole at the end: what this member received goes with its tally.
    intake_.tally.group.seen = seen_sequences(intake_, ctx.control.run_id);
  }
  ctx.client_settled(true, ever_ready_, now);
}

}  // namespace ws::driver
