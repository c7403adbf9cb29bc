#include "driver/consumer.h"

#include <algorithm>

#include "protocol/errors.h"

namespace ws::driver {
namespace {

constexpr int64_t kRetryNs = 100'000'000;  // a fetch or ListOffsets answered with an error

}  // namespace

Consumer::Consumer(uint32_t index, uint32_t global_index, std::string client_id, std::optional<uint64_t> quota)
    : index_(index), client_id_(std::move(client_id)) {
  intake_.tally.id = global_index;
  intake_.quota_left = quota;
}

void Consumer::start(ClientContext& ctx, int64_t now) { on_metadata(ctx, now); }

void Consumer::mark_failing(const char* why) {
  if (intake_.tally.failure.empty()) intake_.tally.failure = why;
}

void Consumer::on_metadata(ClientContext& ctx, int64_t now) {
  if (settled()) return;
  if (ctx.metadata.failed()) {
    mark_failing(failure_name(Failure::kMetadataFailed));
    ++ctx.metrics.counters.failures[static_cast<size_t>(Failure::kMetadataFailed)];
    return settle(ctx, State::kFailed, now);
  }
  if (!ctx.metadata.known()) return;
  const auto& partitions = ctx.metadata.partitions();
  // A consumer reads every partition over its one connection, so they must share a leader.
  const uint32_t leader = partitions.front().leader;
  for (const auto& p : partitions) {
    if (p.leader != leader) {
      mark_failing("partitions_on_several_leaders");
      ++ctx.metrics.counters.failures[static_cast<size_t>(Failure::kUnsupported)];
      return settle(ctx, State::kFailed, now);
    }
  }
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
  if (link_ == UINT32_MAX) {
    link_ = ctx.links.open(index_, leader, &client_id_, now, {.window = 2});
    state_ = State::kConnecting;
    return;
  }
  if (ctx.links.link(link_).broker != leader) {
    request_in_flight_ = false;
    state_ = State::kConnecting;
    ctx.links.retarget(link_, leader, now);
    return;
  }
  // Same leader: a fetch held back for fresher metadata goes out now.
  if (!request_in_flight_ && ctx.links.ready(link_) && state_ != State::kConnecting) became_connected(ctx, now);
}

void Consumer::on_link_event(ClientContext& ctx, const LinkEvent& e, int64_t now) {
  if (settled()) return;
  switch (e.kind) {
    case LinkEvent::kReady: return became_connected(ctx, now);
    case LinkEvent::kResponse:
      request_in_flight_ = false;
      if (e.request.api_key == protocol::ListOffsetsRequest::kApiKey) return handle_list_offsets(ctx, e, now);
      if (e.request.api_key == protocol::FetchRequest::kApiKey) return handle_fetch(ctx, e, now);
      return;
    case LinkEvent::kLost:
      request_in_flight_ = false;
      mark_failing(failure_name(e.why));
      if (ctx.stopping()) return settle(ctx, State::kDone, now);
      state_ = State::kConnecting;  // reconnects by itself after its backoff
      ctx.metadata.request_refresh(now);
      return;
    case LinkEvent::kWritten:
    case LinkEvent::kWritable:
      return;
  }
}

void Consumer::became_connected(ClientContext& ctx, int64_t now) {
  const Link& l = ctx.links.link(link_);
  fetch_version_ = l.versions.fetch;
  list_offsets_version_ = l.versions.list_offsets;
  if (fetch_version_ < 0 || list_offsets_version_ < 0) {
    mark_failing(failure_name(Failure::kUnsupported));
    ++ctx.metrics.counters.failures[static_cast<size_t>(Failure::kUnsupported)];
    return settle(ctx, State::kFailed, now);
  }
  if (intake_.positioned()) return send_fetch(ctx, now);
  send_list_offsets(ctx, now);
}

void Consumer::send_list_offsets(ClientContext& ctx, int64_t now) {
  protocol::ListOffsetsRequest request;
  request.replica_id = -1;  // a consumer, not a follower broker
  request.topics.resize(1);
  request.topics[0].name = ctx.config.topic;
  // Kafka's special timestamps: -2 the first offset, -1 the next offset to be written.
  const int64_t timestamp = ctx.config.consume_from_earliest ? -2 : -1;
  for (const auto& cursor : intake_.cursors) {
    if (cursor.offset >= 0) continue;
    request.topics[0].partitions.push_back({.partition_index = cursor.partition, .timestamp = timestamp});
  }
  state_ = State::kPositioning;
  send(ctx, request, list_offsets_version_, now);
}

template <typename Request>
void Consumer::send(ClientContext& ctx, const Request& request, int16_t version, int64_t now) {
  InFlight meta;
  meta.intended_ns = now;
  ctx.links.append(link_, request, version, meta);
  ctx.links.flush(link_, now);
  request_in_flight_ = true;
}

void Consumer::handle_list_offsets(ClientContext& ctx, const LinkEvent& e, int64_t now) {
  auto& response = ctx.scratch.list_offsets;
  protocol::Reader r(e.body);
  response.decode(r, e.request.api_version);
  if (!r.ok()) return ctx.links.fail(link_, Failure::kDecodeError, now);
  bool error = false;
  for (const auto& t : response.topics) {
    if (t.name != ctx.config.topic) continue;
    for (const auto& p : t.partitions) {
      PartitionCursor* cursor = intake_.cursor_for(p.partition_index);
      if (!cursor) continue;
      if (p.error_code != protocol::error::kNone) {
        ++ctx.metrics.counters.errors_by_code[p.error_code];
        error = true;
        continue;
      }
      // v0 answers with a list of offsets (the first is the one asked for), v1+ with one.
      const int64_t offset = e.request.api_version == 0
                                 ? (p.old_style_offsets.empty() ? -1 : p.old_style_offsets.front())
                                 : p.offset;
      if (offset >= 0) cursor->offset = offset;
    }
  }
  if (!intake_.positioned()) {
    if (!error) ++ctx.metrics.counters.errors_by_code[protocol::error::kUnknownTopicOrPartition];
    return retry_later(ctx, now);
  }
  if (!ever_ready_) {
    ever_ready_ = true;
    ctx.client_ready(true, now);
  }
  send_fetch(ctx, now);
}

void Consumer::send_fetch(ClientContext& ctx, int64_t now) {
  auto& request = ctx.scratch.fetch_request;
  const auto& cursors = intake_.cursors;
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
  topic.topic = ctx.config.topic;
  topic.partitions.resize(cursors.size());
  // Before v3 there is no response limit, only a per-partition one: share the budget, but not
  // below 64 KiB so one batch always fits (a partial one would stall the partition).
  const int32_t per_partition =
      fetch_version_ >= 3
          ? static_cast<int32_t>(ctx.config.fetch_max_bytes)
          : static_cast<int32_t>(std::max<uint64_t>(ctx.config.fetch_max_bytes / std::max<size_t>(1, cursors.size()),
                                                    64 * 1024));
  for (size_t i = 0; i < cursors.size(); ++i) {
    topic.partitions[i] = {.partition = cursors[i].partition,
                           .fetch_offset = cursors[i].offset,
                           .partition_max_bytes = per_partition};
  }
  // Once every producer is done, the high watermark this fetch reports is the end of what was
  // written: a consumer that reaches it has everything.
  catch_up_fetch_ = ctx.producers_done;
  state_ = State::kFetching;
  send(ctx, request, fetch_version_, now);
}

void Consumer::handle_fetch(ClientContext& ctx, const LinkEvent& e, int64_t now) {
  auto& counters = ctx.metrics.counters;
  auto& response = ctx.scratch.fetch;
  protocol::Reader r(e.body);
  response.decode(r, e.request.api_version);
  if (!r.ok()) return ctx.links.fail(link_, Failure::kDecodeError, now);
  counters.consume_bytes += e.body.size() + 8;  // + size prefix and correlation id
  ++counters.consume_fetches;
  const IntakeContext intake{
      .verify = ctx.config.verify,
      .run_id = ctx.control.run_id,
      .now_unix_us = (now + ctx.wall_minus_steady_ns) / 1000,
      .measuring = now >= ctx.measure_start_ns,
      .measured_from = ctx.control.producer_measured_from
                           ? std::span<const std::atomic<uint64_t>>(ctx.control.producer_measured_from.get(),
                                                                     ctx.control.producer_count)
                           : std::span<const std::atomic<uint64_t>>(),
      .counters = &counters,
      .e2e_latency_us = &ctx.metrics.e2e_latency_us};
  bool retry = false, refresh_metadata = false, stuck = false;
  if (response.error_code != protocol::error::kNone) {
    ++counters.errors_by_code[response.error_code];
    retry = true;
  }
  for (const auto& t : response.responses) {
    if (t.topic != ctx.config.topic) continue;
    for (const auto& p : t.partitions) {
      PartitionCursor* cursor = intake_.cursor_for(p.partition_index);
      if (!cursor) continue;
      if (p.error_code != protocol::error::kNone) {
        ++counters.errors_by_code[p.error_code];
        if (p.error_code == protocol::error::kOffsetOutOfRange) {
          // Fell out of the retained log (or past its end): what it skips is lost, and the
          // consumer counts as failing. Start again from --consume-from (auto.offset.reset).
          mark_failing("offset_out_of_range");
          cursor->offset = -1;
        } else if (p.error_code == protocol::error::kNotLeaderOrFollower ||
                   p.error_code == protocol::error::kLeaderNotAvailable ||
                   p.error_code == protocol::error::kUnknownTopicOrPartition) {
          refresh_metadata = true;
        } else {
          retry = true;
        }
        continue;
      }
      cursor->high_watermark = p.high_watermark;
      if (!p.records) continue;
      const int64_t before = cursor->offset;
      switch (intake_.take_records(*cursor, *p.records, intake)) {
        case RecordIntake::Intake::kOk: break;
        case RecordIntake::Intake::kMalformed:
          // What was readable was taken; the rest is fetched again, and if nothing moves, no fetch
          // will get past it: the consumer fails rather than stall without a word.
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
    }
  }
  if (intake_.quota_reached() || (catch_up_fetch_ && intake_.caught_up()) ||
      (ctx.producers_done && has_everything(ctx))) {
    return settle(ctx, State::kDone, now);  // read its --messages, or everything the producers wrote
  }
  if (stuck) return settle(ctx, State::kFailed, now);
  if (!intake_.positioned()) return send_list_offsets(ctx, now);
  if (refresh_metadata) {
    ctx.metadata_waiters.push_back(index_);
    ctx.metadata.request_refresh(now);  // on_metadata resumes fetching
    return;
  }
  if (retry) return retry_later(ctx, now);
  send_fetch(ctx, now);
}

void Consumer::retry_later(ClientContext& ctx, int64_t now) {
  retry_at_ns_ = now + kRetryNs;
  ctx.timers.arm(retry_at_ns_, TimerTarget{TimerTarget::kConsumer, index_});
}

void Consumer::on_timer(ClientContext& ctx, int64_t now) {
  if (settled() || request_in_flight_ || now < retry_at_ns_ || !ctx.links.ready(link_)) return;
  if (state_ == State::kPositioning) return send_list_offsets(ctx, now);
  if (state_ == State::kFetching) send_fetch(ctx, now);
}

bool Consumer::has_everything(const ClientContext& ctx) const {
  // Everything this run's producers had acknowledged when they finished. Exact with --verify
  // (this run's stamps, each counted once); without it, only from --consume-from=latest, where
  // the consumer sees nothing older (unless someone else writes to the topic meanwhile: then the
  // high watermark still ends it, later).
  if (ctx.acked_total == 0) return false;
  if (ctx.config.verify) return intake_.this_run_distinct >= ctx.acked_total;
  return !ctx.config.consume_from_earliest && intake_.tally.received >= ctx.acked_total;
}

void Consumer::on_producers_done(ClientContext& ctx, int64_t now) {
  if (state_ == State::kFetching && has_everything(ctx)) settle(ctx, State::kDone, now);
}

void Consumer::stop(ClientContext& ctx, int64_t now) {
  if (settled()) return;
  if (!ever_ready_) {
    mark_failing("never_connected");
  } else if (ctx.config.clients > 0 || (intake_.quota_left && !intake_.quota_reached())) {
    // Still reading when the run ends: behind the producers, or short of its --messages.
    mark_failing("behind");
  }
  settle(ctx, State::kDone, now);
}

void Consumer::give_up(ClientContext& ctx, const char* why, int64_t now) {
  if (settled()) return;
  mark_failing(why);
  settle(ctx, State::kFailed, now);
}

void Consumer::settle(ClientContext& ctx, State final_state, int64_t now) {
  if (settled()) return;
  if (link_ != UINT32_MAX) ctx.links.close(link_, now);
  state_ = final_state;
  ctx.client_settled(true, ever_ready_, now);
}

}  // namespace ws::driver
