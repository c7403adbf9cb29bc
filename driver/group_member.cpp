#include "driver/group_member.h"

#include <algorithm>
#include <cmath>

#include "driver/assignor.h"
#include "protocol/consumer_protocol.h"
#include "protocol/errors.h"
#include "protocol/find_coordinator.h"
#include "protocol/heartbeat.h"
#include "protocol/join_group.h"
#include "protocol/leave_group.h"
#include "protocol/offset_fetch.h"
#include "protocol/sync_group.h"

namespace ws::driver {
namespace {

constexpr int64_t kMs = 1'000'000;
// After a retriable error (the coordinator loading, not yet elected): the Java client's
// retry.backoff.ms.
constexpr int64_t kRetryNs = 100 * kMs;
// A member done reading looks this often whether every consumer of the run is (then it leaves).
constexpr int64_t kLeaveCheckNs = 100 * kMs;
// LeaveGroup is a courtesy (the coordinator would expire the member after its session timeout):
// the end of a run does not wait longer than this for its answer.
constexpr int64_t kLeaveTimeoutNs = 2000 * kMs;

int32_t milliseconds(std::chrono::nanoseconds d) {
  return static_cast<int32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

// Another member holds this member's group.instance.id (KIP-345): nothing a retry changes.
constexpr int16_t kFencedInstanceId = 82;

bool is_coordinator_error(int16_t code) {
  return code == protocol::error::kCoordinatorNotAvailable || code == protocol::error::kNotCoordinator;
}

}  // namespace

GroupMember::GroupMember(const RunConfig& config, uint32_t owner, uint32_t consumer_number, uint32_t topic,
                         const std::string* client_id)
    : config_(config),
      owner_(owner),
      topic_(topic),
      consumer_number_(consumer_number),
      client_id_(client_id),
      instance_id_(config.group.instance_id(consumer_number)) {
  tally_.in_group = true;
  tally_.group = config.group.group_of(consumer_number);
  tally_.topic = topic;
  // Version 0, as Kafka 0.9's consumers write it: every broker's coordinator passes it on
  // unread, and the leader (which may be any member) reads every version.
  const std::string topic_name = config.topic_name(topic);
  protocol::ConsumerProtocolSubscription subscription;
  subscription.topics = {topic_name};
  protocol::encode_consumer_subscription(subscription_, subscription, 0);
}

uint32_t GroupMember::lookup_broker(const ClientContext& ctx) const {
  for (const auto& p : ctx.metadata.topic(topic_).partitions) {
    if (p.leader != BrokerRegistry::kNone) return p.leader;
  }
  return 0;  // the first bootstrap broker
}

void GroupMember::start(ClientContext& ctx, int64_t now) {
  if (started_) return;
  started_ = true;
  // The shards of one run (--shards) share the run id's base, so they form the same groups.
  group_id_ = config_.group.group_id(tally_.group, ctx.control.run_id - config_.shard.index);
  link_ = ctx.links.open(owner_, lookup_broker(ctx), client_id_, now, {.window = 4});
  state_ = State::kJoining;
  join_started_ns_ = now;
}

double GroupMember::since_start_s(const ClientContext& ctx, int64_t now) const {
  return static_cast<double>(now - ctx.control.timeline.start_ns()) / 1e9;
}

void GroupMember::wake_at(ClientContext& ctx, int64_t at_ns) {
  // One timer armed at a time for the earliest deadline; a later one is armed when it fires.
  if (at_ns == INT64_MAX || at_ns >= armed_ns_) return;
  armed_ns_ = at_ns;
  ctx.timers.arm(at_ns, TimerTarget{TimerTarget::kConsumer, owner_});
}

void GroupMember::set_assigned(ClientContext& ctx, bool assigned) {
  if (assigned == counted_assigned_) return;
  counted_assigned_ = assigned;
  if (assigned && churned_) {
    // A churned member holds an assignment again: its restart is over.
    churned_ = false;
    ++ctx.metrics.counters.groups.churn_rejoins;
    ++tally_.churn_rejoins;
  }
  uint64_t& gauge = ctx.metrics.counters.groups.members_assigned;
  gauge = assigned ? gauge + 1 : gauge - 1;
}

void GroupMember::count_error(ClientContext& ctx, GroupApi api, int16_t code) {
  ++ctx.metrics.counters.groups.errors[{api, code}];
  ++ctx.metrics.counters.errors_by_code[code];
}

template <typename Response>
bool GroupMember::decode(ClientContext& ctx, const LinkEvent& e, Response& response, int64_t now) {
  protocol::Reader r(e.body);
  response.decode(r, e.request.api_version);
  if (r.ok()) return true;
  ctx.links.fail(link_, Failure::kDecodeError, now);  // its kLost starts the group's part again
  return false;
}

template <typename Request>
void GroupMember::send(ClientContext& ctx, Request& request, int16_t version, int64_t now) {
  InFlight meta;
  meta.intended_ns = now;
  ctx.links.append(link_, request, version, meta);
  ctx.links.flush(link_, now);
}

GroupMember::Change GroupMember::on_timer(ClientContext& ctx, std::span<const PartitionCursor> positions, int64_t now) {
  if (now >= armed_ns_) armed_ns_ = INT64_MAX;
  const Change next = advance(ctx, positions, now);
  // A churn turn is taken from a timer only: never inside the answer that brought an assignment
  // (the consumer has not taken it yet, so there would be nothing read to commit).
  if (next != Change::kNone || config_.group.churn_rate <= 0 || reading_done_) return next;
  return churn_if_due(ctx, positions, now);
}

GroupMember::Change GroupMember::advance(ClientContext& ctx, std::span<const PartitionCursor> positions, int64_t now) {
  if (!started_ || state_ == State::kLeft || state_ == State::kFailed) return Change::kNone;
  if (state_ == State::kRestarting) {
    // Its commit (and LeaveGroup) unanswered so long: it restarts anyway, as a closed client would.
    if (now < leave_deadline_ns_) {
      wake_at(ctx, leave_deadline_ns_);
      return Change::kNone;
    }
    restart(ctx, now);
  }
  if (state_ == State::kLeaving) {
    if (now >= leave_deadline_ns_) return finish_leaving(ctx, now);
    wake_at(ctx, leave_deadline_ns_);
  } else if (reading_done_) {
    // Every member stays until every consumer of the run is done: one leaving earlier would
    // rebalance the others while they still read.
    if (ctx.control.consumers_done_reading.load(std::memory_order_acquire) >= ctx.control.consumer_count) {
      return leave(ctx, positions, now);
    }
    wake_at(ctx, now + kLeaveCheckNs);
  }
  if (!ctx.links.ready(link_)) return Change::kNone;  // its kReady carries on
  if (!coordinator_ready_) {
    if (state_ != State::kLeaving) send_unless_pending(ctx, kFindPending, &GroupMember::send_find_coordinator, now);
    return Change::kNone;
  }
  switch (state_) {
    case State::kJoining: send_unless_pending(ctx, kJoinPending, &GroupMember::send_join, now); break;
    case State::kFetchingOffsets:
      send_unless_pending(ctx, kOffsetFetchPending, &GroupMember::send_offset_fetch, now);
      break;
    case State::kLeaving:
      if (!(pending_ & kLeavePending)) send_leave(ctx, now, "the wirestress run ended");
      break;
    default: break;  // kSyncing waits for its answer; kStable for its deadlines below
  }
  // Like the Java client, heartbeats run once the member has its assignment, not while joining.
  if (state_ == State::kStable || state_ == State::kFetchingOffsets) {
    if (now >= next_heartbeat_ns_ && !(pending_ & kHeartbeatPending)) send_heartbeat(ctx, now);
    // One overdue behind a heartbeat still unanswered goes when that answer comes (or its
    // connection is lost), not from a timer: one armed in the past would fire again and again.
    if (!(pending_ & kHeartbeatPending) || next_heartbeat_ns_ > now) wake_at(ctx, next_heartbeat_ns_);
  }
  if (state_ == State::kStable && config_.group.commit_interval.count() > 0 && !reading_done_) {
    if (now >= next_commit_ns_) {
      // One periodic commit in flight at a time: a coordinator slower than the interval is not
      // sent a queue of them.
      if (commits_in_flight_ == 0) send_commit(ctx, positions, now);
      next_commit_ns_ = now + config_.group.commit_interval.count();
    }
    wake_at(ctx, next_commit_ns_);
  }
  if (config_.group.churn_rate > 0 && !reading_done_ && state_ == State::kStable) {
    const int64_t start = ctx.control.timeline.measure_start_ns();
    if (next_churn_ns_ == INT64_MAX && start != RunTimeline::kNever) {
      next_churn_ns_ = next_churn_after(ctx, std::max(start, now) - 1);
    }
    // Only a turn that can still be taken: one past the measured time would fire at once, again
    // and again, and never be taken.
    const int64_t end = ctx.control.timeline.measure_end_ns();
    if (now < end && next_churn_ns_ < end) wake_at(ctx, next_churn_ns_);
  }
  return Change::kNone;
}

int64_t GroupMember::next_churn_after(const ClientContext& ctx, int64_t after_ns) const {
  // Slot k of the run falls at measure start + (k + 1) / rate; member n takes slots n + j * N, so
  // that every member's turn comes once per N / rate seconds, whichever shard or worker it is on.
  const int64_t start = ctx.control.timeline.measure_start_ns();
  const double members = static_cast<double>(std::max<uint32_t>(
      1, config_.shard.count > 1 ? config_.shard.consumers_total : config_.consumers));
  const double period_ns = 1e9 / config_.group.churn_rate;
  const double first = static_cast<double>(consumer_number_) + 1;
  // The first j whose slot lies after `after_ns`.
  const double j = std::max(0.0, std::floor((static_cast<double>(after_ns - start) / period_ns - first) / members) + 1);
  const double at = static_cast<double>(start) + (first + j * members) * period_ns;
  return at >= 9e18 ? INT64_MAX : static_cast<int64_t>(at);
}

GroupMember::Change GroupMember::churn_if_due(ClientContext& ctx, std::span<const PartitionCursor> positions,
                                              int64_t now) {
  const RunTimeline& timeline = ctx.control.timeline;
  const int64_t start = timeline.measure_start_ns();
  // Only in the measured time: the warm-up and the drain see no churn.
  if (start == RunTimeline::kNever || now >= timeline.measure_end_ns()) return Change::kNone;
  // A turn that comes while it joins waits until it holds an assignment (what it read to commit);
  // advance() schedules the turns and arms their timers.
  if (next_churn_ns_ == INT64_MAX || now < next_churn_ns_ || state_ != State::kStable) return Change::kNone;
  next_churn_ns_ = next_churn_after(ctx, now);
  ++ctx.metrics.counters.groups.churn_leaves;
  ++tally_.churns;
  const bool can_talk = coordinator_ready_ && ctx.links.ready(link_) && !member_id_.empty();
  // Where it stopped is where the next owner of its partitions starts: like the Java consumer
  // closing with auto-commit on, it commits first. The LeaveGroup after it on the same
  // connection is answered after it, and only then does the group rebalance.
  if (can_talk && config_.group.commit_interval.count() > 0) send_commit(ctx, positions, now);
  assignment_.clear();
  set_assigned(ctx, false);
  churned_ = true;
  next_heartbeat_ns_ = next_commit_ns_ = INT64_MAX;
  state_ = State::kRestarting;
  leave_deadline_ns_ = now + kLeaveTimeoutNs;
  // A static member says nothing: the coordinator keeps its place under its instance id.
  if (can_talk && !config_.group.is_static()) send_leave(ctx, now, "churned by wirestress --churn-members");
  if (!(pending_ & kLeavePending) && commits_in_flight_ == 0) {
    restart(ctx, now);
    advance(ctx, positions, now);
  } else {
    wake_at(ctx, leave_deadline_ns_);
  }
  return Change::kRevoked;
}

void GroupMember::restart(ClientContext& ctx, int64_t now) {
  // As a restarted consumer: a new connection, FindCoordinator, and JoinGroup without a member id
  // (a static member is known again by its group.instance.id).
  ctx.links.close(link_, now);
  link_ = ctx.links.open(owner_, lookup_broker(ctx), client_id_, now, {.window = 4});
  pending_ = 0;
  commits_in_flight_ = 0;
  coordinator_ready_ = false;
  coordinator_ = BrokerRegistry::kNone;
  member_id_.clear();
  retry_at_ns_ = 0;
  leave_deadline_ns_ = INT64_MAX;
  state_ = State::kJoining;
  join_started_ns_ = now;
}

void GroupMember::send_unless_pending(ClientContext& ctx, PendingRequest request,
                                      void (GroupMember::*send_request)(ClientContext&, int64_t), int64_t now) {
  if (pending_ & request) return;
  if (now < retry_at_ns_) return wake_at(ctx, retry_at_ns_);
  (this->*send_request)(ctx, now);
}

GroupMember::Change GroupMember::on_link_event(ClientContext& ctx, const LinkEvent& e,
                                               std::span<const PartitionCursor> positions, int64_t now) {
  switch (e.kind) {
    case LinkEvent::kReady: {
      const Link& link = ctx.links.link(link_);
      const BrokerVersions& v = link.versions;
      if (v.find_coordinator < 0 || v.join_group < 0 || v.sync_group < 0 || v.heartbeat < 0 || v.leave_group < 0 ||
          v.offset_commit < 0 || v.offset_fetch < 0) {
        ++ctx.metrics.counters.failures[static_cast<size_t>(Failure::kUnsupported)];
        return fail(ctx, "group_apis_unsupported_by_broker", now);
      }
      if (config_.group.is_static() && v.join_group < 5) {
        // Nothing a retry changes: the broker predates static membership. The run ends, exit 2.
        ++ctx.metrics.counters.failures[static_cast<size_t>(Failure::kUnsupported)];
        ctx.control.set_fatal("--group-instance-id: broker " + ctx.control.brokers.address_text(link.broker) +
                                  " has no static membership (JoinGroup v5, KIP-345, came in Kafka 2.3); run "
                                  "without --group-instance-id",
                              true);
        return fail(ctx, "static_membership_unsupported_by_broker", now);
      }
      coordinator_ready_ = coordinator_ != BrokerRegistry::kNone && link.broker == coordinator_;
      return advance(ctx, positions, now);
    }
    case LinkEvent::kLost: {
      pending_ = 0;
      commits_in_flight_ = 0;
      if (state_ == State::kLeaving) return finish_leaving(ctx, now);
      if (state_ == State::kRestarting) {
        restart(ctx, now);
        return Change::kNone;
      }
      if (state_ == State::kSyncing) state_ = State::kJoining;  // its SyncGroup is lost: join again
      // The coordinator may have moved or died: look it up again, from a broker the metadata
      // says is alive (the link reconnects after its backoff either way).
      coordinator_ready_ = false;
      coordinator_ = BrokerRegistry::kNone;
      const uint32_t lookup = lookup_broker(ctx);
      const Link& link = ctx.links.link(link_);
      if (link.broker != lookup) ctx.links.retarget(link_, lookup, now, link.wake_ns);
      return Change::kNone;
    }
    case LinkEvent::kResponse: break;
    case LinkEvent::kWritten:
    case LinkEvent::kWritable: return Change::kNone;
  }
  switch (e.request.api_key) {
    case protocol::FindCoordinatorRequest::kApiKey: return handle_find_coordinator(ctx, e, now);
    case protocol::JoinGroupRequest::kApiKey: return handle_join(ctx, e, positions, now);
    case protocol::SyncGroupRequest::kApiKey: return handle_sync(ctx, e, positions, now);
    case protocol::OffsetFetchRequest::kApiKey: return handle_offset_fetch(ctx, e, now);
    case protocol::HeartbeatRequest::kApiKey: return handle_heartbeat(ctx, e, positions, now);
    case protocol::OffsetCommitRequest::kApiKey: return handle_commit(ctx, e, positions, now);
    case protocol::LeaveGroupRequest::kApiKey: {
      pending_ &= ~kLeavePending;
      protocol::LeaveGroupResponse response;
      protocol::Reader r(e.body);
      response.decode(r, e.request.api_version);
      count_answer(ctx, GroupApi::kLeaveGroup);
      if (r.ok() && response.error_code != protocol::error::kNone) {
        count_error(ctx, GroupApi::kLeaveGroup, response.error_code);
      }
      if (state_ == State::kRestarting) {  // churned: whatever it says, it joins again anew
        restart(ctx, now);
        return advance(ctx, positions, now);
      }
      return finish_leaving(ctx, now);  // whatever it says: the member is done with the group
    }
    default: return Change::kNone;
  }
}

void GroupMember::send_find_coordinator(ClientContext& ctx, int64_t now) {
  const int16_t version = ctx.links.link(link_).versions.find_coordinator;
  protocol::FindCoordinatorRequest request;
  request.key = group_id_;
  request.key_type = 0;                                      // a group
  if (version >= 4) request.coordinator_keys = {group_id_};  // v4+ asks for a batch of keys
  send(ctx, request, version, now);
  pending_ |= kFindPending;
}

GroupMember::Change GroupMember::handle_find_coordinator(ClientContext& ctx, const LinkEvent& e, int64_t now) {
  pending_ &= ~kFindPending;
  protocol::FindCoordinatorResponse response;
  if (!decode(ctx, e, response, now)) return Change::kNone;
  count_answer(ctx, GroupApi::kFindCoordinator);
  int16_t code = response.error_code;
  int32_t node = response.node_id, port = response.port;
  std::string_view host = response.host;
  if (e.request.api_version >= 4) {
    // One key asked, so one answer; anything else is the broker's mistake, retried.
    const auto* c = response.coordinators.empty() ? nullptr : &response.coordinators.front();
    code = c ? c->error_code : protocol::error::kCoordinatorNotAvailable;
    if (c) {
      node = c->node_id;
      host = c->host;
      port = c->port;
    }
  }
  // An address that cannot be one is no coordinator either (untrusted bytes).
  if (code == protocol::error::kNone && (node < 0 || port <= 0 || port > 65535 || host.empty() || host.size() > 255)) {
    code = protocol::error::kCoordinatorNotAvailable;
  }
  if (code != protocol::error::kNone) {
    // Kafka 0.9 answers GROUP_COORDINATOR_NOT_AVAILABLE until its offsets topic exists.
    count_error(ctx, GroupApi::kFindCoordinator, code);
    retry_at_ns_ = now + kRetryNs;
    wake_at(ctx, retry_at_ns_);
    return Change::kNone;
  }
  ++ctx.metrics.counters.groups.coordinator_lookups;
  coordinator_ = ctx.control.brokers.learn(node, host, port);
  if (ctx.links.link(link_).broker == coordinator_) {
    coordinator_ready_ = true;
    return advance(ctx, {}, now);
  }
  ctx.links.retarget(link_, coordinator_, now);  // its kReady carries on
  return Change::kNone;
}

void GroupMember::send_join(ClientContext& ctx, int64_t now) {
  const int16_t version = ctx.links.link(link_).versions.join_group;
  protocol::JoinGroupRequest request;
  request.group_id = group_id_;
  request.session_timeout_ms = milliseconds(config_.group.session_timeout);
  // v1+: how long the coordinator waits for members to rejoin; v0 uses the session timeout.
  request.rebalance_timeout_ms = request.session_timeout_ms;
  request.member_id = member_id_;
  if (!instance_id_.empty()) request.group_instance_id = instance_id_;  // v5+ (refused below v5)
  request.protocol_type = protocol::kConsumerProtocolType;
  request.protocols.push_back({.name = assignor_name(config_.group.assignor), .metadata = subscription_});
  send(ctx, request, version, now);
  pending_ |= kJoinPending;
}

GroupMember::Change GroupMember::handle_join(ClientContext& ctx, const LinkEvent& e,
                                             std::span<const PartitionCursor> positions, int64_t now) {
  pending_ &= ~kJoinPending;
  protocol::JoinGroupResponse response;
  if (!decode(ctx, e, response, now)) return Change::kNone;
  count_answer(ctx, GroupApi::kJoinGroup);
  if (state_ != State::kJoining) return Change::kNone;  // leaving meanwhile
  const int16_t code = response.error_code;
  if (code != protocol::error::kNone) count_error(ctx, GroupApi::kJoinGroup, code);
  switch (code) {
    case protocol::error::kNone: break;
    case protocol::error::kMemberIdRequired:
      // JoinGroup v4+ (KIP-394): the coordinator names the member first, then it joins with it.
      member_id_.assign(response.member_id);
      return advance(ctx, positions, now);
    case protocol::error::kUnknownMemberId: member_id_.clear(); return advance(ctx, positions, now);
    case protocol::error::kIllegalGeneration:
    case protocol::error::kRebalanceInProgress: return advance(ctx, positions, now);
    case protocol::error::kCoordinatorNotAvailable:
    case protocol::error::kNotCoordinator: coordinator_lost(); return advance(ctx, positions, now);
    case protocol::error::kInvalidSessionTimeout:
      ctx.control.set_fatal("--session-timeout: the broker refuses " + format_duration(config_.group.session_timeout) +
                                " (INVALID_SESSION_TIMEOUT): use a value between its group.min.session.timeout.ms "
                                "and group.max.session.timeout.ms (6s and 30s on Kafka 0.9)",
                            true);
      return fail(ctx, "invalid_session_timeout", now);
    case protocol::error::kGroupAuthorizationFailed:
      ctx.control.set_fatal("group_authorization_failed: the broker refuses group " + group_id_);
      return fail(ctx, "group_authorization_failed", now);
    case protocol::error::kInconsistentGroupProtocol:
    case protocol::error::kInvalidGroupId: return fail(ctx, "join_group_refused", now);
    case kFencedInstanceId: return fail(ctx, "fenced_instance_id", now);
    default: retry_at_ns_ = now + kRetryNs; return advance(ctx, positions, now);
  }
  generation_ = response.generation_id;
  member_id_.assign(response.member_id);
  join_latency_us_ = (now - e.request.sent_ns) / 1000;
  state_ = State::kSyncing;
  if (response.leader == response.member_id) {
    send_leader_sync(ctx, response, now);
  } else {
    send_sync(ctx, {}, now);  // a follower's SyncGroup carries no assignment
  }
  return Change::kNone;
}

void GroupMember::send_leader_sync(ClientContext& ctx, const protocol::JoinGroupResponse& joined, int64_t now) {
  std::vector<MemberSubscription> members(joined.members.size());
  std::vector<protocol::ConsumerProtocolSubscription> subscriptions(joined.members.size());
  for (size_t i = 0; i < joined.members.size(); ++i) {
    members[i].member_id = joined.members[i].member_id;
    // A subscription the leader cannot read subscribes to nothing: that member gets nothing.
    if (protocol::decode_consumer_subscription(joined.members[i].metadata, subscriptions[i]).ok()) {
      members[i].topics = subscriptions[i].topics;
    } else {
      ++ctx.metrics.counters.failures[static_cast<size_t>(Failure::kDecodeError)];
    }
  }
  std::vector<TopicPartitionCount> counts;
  for (size_t t = 0; t < ctx.metadata.topic_count(); ++t) {
    const auto& topic = ctx.metadata.topic(static_cast<uint32_t>(t));
    counts.push_back({topic.name, static_cast<int32_t>(topic.partitions.size())});
  }
  const auto plan = assign_partitions(config_.group.assignor, members, counts);
  leader_assignments_.resize(plan.size());
  std::vector<protocol::SyncGroupRequest::SyncGroupRequestAssignment> assignments(plan.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    protocol::ConsumerProtocolAssignment assignment;
    for (const auto& topic : plan[i]) assignment.assigned_partitions.push_back({topic.topic, topic.partitions});
    leader_assignments_[i].clear();
    protocol::encode_consumer_assignment(leader_assignments_[i], assignment, 0);
    assignments[i] = {.member_id = members[i].member_id, .assignment = leader_assignments_[i]};
  }
  send_sync(ctx, assignments, now);
}

void GroupMember::send_sync(ClientContext& ctx,
                            std::span<const protocol::SyncGroupRequest::SyncGroupRequestAssignment> plan, int64_t now) {
  protocol::SyncGroupRequest request;
  request.group_id = group_id_;
  request.generation_id = generation_;
  request.member_id = member_id_;
  if (!instance_id_.empty()) request.group_instance_id = instance_id_;  // v3+
  request.protocol_type = protocol::kConsumerProtocolType;  // v5+ must name them
  request.protocol_name = assignor_name(config_.group.assignor);
  request.assignments.assign(plan.begin(), plan.end());
  send(ctx, request, ctx.links.link(link_).versions.sync_group, now);
  pending_ |= kSyncPending;
}

GroupMember::Change GroupMember::handle_sync(ClientContext& ctx, const LinkEvent& e,
                                             std::span<const PartitionCursor> positions, int64_t now) {
  pending_ &= ~kSyncPending;
  protocol::SyncGroupResponse response;
  protocol::Reader r(e.body);
  response.decode(r, e.request.api_version);
  if (!r.ok()) {
    // librdkafka's mock cluster answers an error with a null assignment, which the schema does
    // not allow: the error code before it still says what happened.
    protocol::Reader head(e.body);
    if (e.request.api_version >= 1) head.i32();  // throttle_time_ms
    response.error_code = head.i16();
    if (!head.ok() || response.error_code == protocol::error::kNone) {
      ctx.links.fail(link_, Failure::kDecodeError, now);
      return Change::kNone;
    }
  }
  count_answer(ctx, GroupApi::kSyncGroup);
  if (state_ != State::kSyncing) return Change::kNone;
  if (const int16_t code = response.error_code; code != protocol::error::kNone) {
    count_error(ctx, GroupApi::kSyncGroup, code);
    if (code == kFencedInstanceId) return fail(ctx, "fenced_instance_id", now);
    state_ = State::kJoining;  // no assignment this generation: join again
    if (code == protocol::error::kUnknownMemberId) member_id_.clear();
    if (is_coordinator_error(code)) coordinator_lost();
    if (code != protocol::error::kRebalanceInProgress && code != protocol::error::kIllegalGeneration &&
        code != protocol::error::kUnknownMemberId && !is_coordinator_error(code)) {
      retry_at_ns_ = now + kRetryNs;
    }
    return advance(ctx, positions, now);
  }
  take_assignment(ctx, response.assignment);
  GenerationRecord record;
  record.generation = generation_;
  record.join_started_s = since_start_s(ctx, join_started_ns_);
  record.assigned_s = since_start_s(ctx, now);
  record.join_latency_us = join_latency_us_;
  record.sync_latency_us = (now - e.request.sent_ns) / 1000;
  record.rejoined = held_assignment_;
  for (const auto& a : assignment_) record.partitions.push_back(a.partition);
  tally_.generations.push_back(std::move(record));
  held_assignment_ = true;
  next_heartbeat_ns_ = now + config_.group.heartbeat_interval.count();
  next_commit_ns_ = now + config_.group.commit_interval.count();
  retry_at_ns_ = 0;
  if (!assignment_.empty()) {
    state_ = State::kFetchingOffsets;
    return advance(ctx, positions, now);  // OffsetFetch: where the group's reading stands
  }
  // More members than partitions: this one has nothing to read, and is ready as it is.
  state_ = State::kStable;
  set_assigned(ctx, true);
  const Change next = advance(ctx, positions, now);
  return next == Change::kNone ? Change::kAssigned : next;
}

void GroupMember::take_assignment(ClientContext& ctx, protocol::Bytes bytes) {
  assignment_.clear();
  const auto& topic = ctx.metadata.topic(topic_);
  tally_.topic_partitions = static_cast<int32_t>(topic.partitions.size());
  protocol::ConsumerProtocolAssignment decoded;
  if (!protocol::decode_consumer_assignment(bytes, decoded).ok()) {
    ++ctx.metrics.counters.failures[static_cast<size_t>(Failure::kDecodeError)];
    return;  // read as empty: this member reads nothing this generation
  }
  for (const auto& assigned : decoded.assigned_partitions) {
    if (assigned.topic != topic.name) continue;
    for (const int32_t p : assigned.partitions) {
      if (topic.partition(p)) assignment_.push_back({.partition = p});  // only partitions that exist
    }
  }
  std::sort(assignment_.begin(), assignment_.end(),
            [](const AssignedPartition& a, const AssignedPartition& b) { return a.partition < b.partition; });
  assignment_.erase(
      std::unique(assignment_.begin(), assignment_.end(),
                  [](const AssignedPartition& a, const AssignedPartition& b) { return a.partition == b.partition; }),
      assignment_.end());
}

void GroupMember::send_offset_fetch(ClientContext& ctx, int64_t now) {
  const int16_t version = ctx.links.link(link_).versions.offset_fetch;
  std::vector<int32_t> partitions;
  partitions.reserve(assignment_.size());
  for (const auto& a : assignment_) partitions.push_back(a.partition);
  const std::string_view topic = ctx.metadata.topic(topic_).name;
  protocol::OffsetFetchRequest request;
  if (version >= 8) {
    // v8+ asks for a batch of groups; a classic group's member has no member epoch (-1).
    auto& group = request.groups.emplace_back();
    group.group_id = group_id_;
    group.topics.emplace().push_back({.name = topic, .partition_indexes = std::move(partitions)});
  } else {
    request.group_id = group_id_;
    request.topics.emplace().push_back({.name = topic, .partition_indexes = std::move(partitions)});
  }
  send(ctx, request, version, now);
  pending_ |= kOffsetFetchPending;
}

GroupMember::Change GroupMember::handle_offset_fetch(ClientContext& ctx, const LinkEvent& e, int64_t now) {
  pending_ &= ~kOffsetFetchPending;
  const int16_t version = e.request.api_version;
  protocol::OffsetFetchResponse response;
  if (!decode(ctx, e, response, now)) return Change::kNone;
  count_answer(ctx, GroupApi::kOffsetFetch);
  if (state_ != State::kFetchingOffsets) return Change::kNone;
  int16_t code = version >= 2 ? response.error_code : protocol::error::kNone;
  if (version >= 8)
    code = response.groups.empty() ? protocol::error::kCoordinatorNotAvailable : response.groups[0].error_code;
  if (code != protocol::error::kNone) {
    count_error(ctx, GroupApi::kOffsetFetch, code);
    if (is_coordinator_error(code)) {
      coordinator_lost();
    } else {
      retry_at_ns_ = now + kRetryNs;
    }
    return advance(ctx, {}, now);
  }
  const std::string_view topic = ctx.metadata.topic(topic_).name;
  auto take = [&](const auto& topics) {
    for (const auto& t : topics) {
      if (t.name != topic) continue;
      for (const auto& p : t.partitions) {
        const auto it =
            std::lower_bound(assignment_.begin(), assignment_.end(), p.partition_index,
                             [](const AssignedPartition& a, int32_t partition) { return a.partition < partition; });
        if (it == assignment_.end() || it->partition != p.partition_index) continue;  // not asked for
        if (p.error_code != protocol::error::kNone) {
          count_error(ctx, GroupApi::kOffsetFetch, p.error_code);
          continue;  // no committed offset then: --consume-from decides
        }
        it->committed_offset = p.committed_offset >= 0 ? p.committed_offset : -1;
      }
    }
  };
  if (version >= 8) {
    take(response.groups[0].topics);
  } else {
    take(response.topics);
  }
  state_ = State::kStable;
  set_assigned(ctx, true);
  const Change next = advance(ctx, {}, now);
  return next == Change::kNone ? Change::kAssigned : next;
}

void GroupMember::send_heartbeat(ClientContext& ctx, int64_t now) {
  protocol::HeartbeatRequest request;
  request.group_id = group_id_;
  request.generation_id = generation_;
  request.member_id = member_id_;
  if (!instance_id_.empty()) request.group_instance_id = instance_id_;  // v3+
  send(ctx, request, ctx.links.link(link_).versions.heartbeat, now);
  pending_ |= kHeartbeatPending;
  heartbeat_generation_ = generation_;
  next_heartbeat_ns_ = now + config_.group.heartbeat_interval.count();
}

GroupMember::Change GroupMember::handle_heartbeat(ClientContext& ctx, const LinkEvent& e,
                                                  std::span<const PartitionCursor> positions, int64_t now) {
  pending_ &= ~kHeartbeatPending;
  protocol::HeartbeatResponse response;
  if (!decode(ctx, e, response, now)) return Change::kNone;
  count_round_trip(ctx, GroupApi::kHeartbeat, e, now);
  const int16_t code = response.error_code;
  if (code == protocol::error::kNone) {
    // Answered later than the interval: the next one is due already.
    return now >= next_heartbeat_ns_ ? advance(ctx, positions, now) : Change::kNone;
  }
  count_error(ctx, GroupApi::kHeartbeat, code);
  // An answer about a generation this member has left already changes nothing.
  if (heartbeat_generation_ != generation_ || (state_ != State::kStable && state_ != State::kFetchingOffsets)) {
    return Change::kNone;
  }
  return follow_group_error(ctx, code, positions, now);
}

GroupMember::Change GroupMember::follow_group_error(ClientContext& ctx, int16_t code,
                                                    std::span<const PartitionCursor> positions, int64_t now) {
  switch (code) {
    case protocol::error::kRebalanceInProgress:
    case protocol::error::kIllegalGeneration: return rejoin(ctx, positions, false, now);
    case protocol::error::kUnknownMemberId: return rejoin(ctx, positions, true, now);
    case protocol::error::kCoordinatorNotAvailable:
    case protocol::error::kNotCoordinator: coordinator_lost(); return advance(ctx, positions, now);
    case kFencedInstanceId: return fail(ctx, "fenced_instance_id", now);
    default: return Change::kNone;  // the next heartbeat or commit tries again
  }
}

void GroupMember::count_round_trip(ClientContext& ctx, GroupApi api, const LinkEvent& e, int64_t now) {
  count_answer(ctx, api);
  GroupLatencies& latency = ctx.metrics.group_latency;
  const int64_t us = (now - e.request.sent_ns) / 1000;
  if (!(api == GroupApi::kHeartbeat ? latency.record_heartbeat(us) : latency.record_commit(us))) {
    ++ctx.metrics.counters.latency_out_of_range;
  }
}

void GroupMember::send_commit(ClientContext& ctx, std::span<const PartitionCursor> positions, int64_t now) {
  auto& request = commit_request_;
  request.group_id = group_id_;
  request.generation_id_or_member_epoch = generation_;
  request.member_id = member_id_;
  request.group_instance_id = instance_id_.empty() ? std::nullopt : std::optional<std::string_view>(instance_id_);
  request.retention_time_ms = -1;  // v2-4: the broker's offsets.retention.minutes
  request.topics.resize(1);
  auto& topic = request.topics[0];
  topic.name = ctx.metadata.topic(topic_).name;
  topic.partitions.clear();
  for (const auto& cursor : positions) {
    if (cursor.offset < 0) continue;  // not positioned yet: nothing read to commit
    // Metadata "" rather than null: Kafka 0.9 reads it as a non-nullable string.
    topic.partitions.push_back({.partition_index = cursor.partition,
                                .committed_offset = cursor.offset,
                                .committed_metadata = std::string_view()});
  }
  if (topic.partitions.empty()) return;
  send(ctx, request, ctx.links.link(link_).versions.offset_commit, now);
  ++commits_in_flight_;
  commit_generation_ = generation_;
}

GroupMember::Change GroupMember::handle_commit(ClientContext& ctx, const LinkEvent& e,
                                               std::span<const PartitionCursor> positions, int64_t now) {
  if (commits_in_flight_ > 0) --commits_in_flight_;
  protocol::OffsetCommitResponse response;
  if (!decode(ctx, e, response, now)) return Change::kNone;
  count_round_trip(ctx, GroupApi::kOffsetCommit, e, now);
  if (state_ == State::kRestarting && commits_in_flight_ == 0 && !(pending_ & kLeavePending)) {
    // A churned static member's commit is in: now it closes and joins again. (Its errors, if
    // any, are counted below; it is out of its generation either way.)
    for (const auto& t : response.topics) {
      for (const auto& p : t.partitions) {
        if (p.error_code != protocol::error::kNone) count_error(ctx, GroupApi::kOffsetCommit, p.error_code);
      }
    }
    restart(ctx, now);
    return advance(ctx, positions, now);
  }
  int16_t refused = protocol::error::kNone;
  for (const auto& t : response.topics) {
    for (const auto& p : t.partitions) {
      if (p.error_code == protocol::error::kNone) continue;
      count_error(ctx, GroupApi::kOffsetCommit, p.error_code);  // per partition, as produce errors per record
      refused = p.error_code;
    }
  }
  if (refused == protocol::error::kNone || commit_generation_ != generation_ || state_ != State::kStable) {
    return Change::kNone;
  }
  // The group may have moved on without this member's knowing (the Java client's
  // CommitFailedException): it follows as after a heartbeat.
  return follow_group_error(ctx, refused, positions, now);
}

GroupMember::Change GroupMember::rejoin(ClientContext& ctx, std::span<const PartitionCursor> positions,
                                        bool forget_member_id, int64_t now) {
  const bool revoke = state_ == State::kStable;  // the consumer reads an assignment: it must stop
  if (state_ == State::kStable || state_ == State::kFetchingOffsets) ++ctx.metrics.counters.groups.rebalances;
  // What it read is where the partitions' next owners start (the Java client commits before
  // rejoining too). A member the coordinator forgot cannot commit any more.
  if (revoke && !forget_member_id && config_.group.commit_interval.count() > 0 && coordinator_ready_) {
    send_commit(ctx, positions, now);
  }
  if (forget_member_id) member_id_.clear();
  state_ = State::kJoining;
  join_started_ns_ = now;
  assignment_.clear();
  set_assigned(ctx, false);
  next_heartbeat_ns_ = next_commit_ns_ = INT64_MAX;
  retry_at_ns_ = 0;
  const Change next = advance(ctx, positions, now);
  return revoke ? Change::kRevoked : next;
}

void GroupMember::coordinator_lost() {
  // The broker on this link is alive (it just answered): ask it where the coordinator is now.
  coordinator_ready_ = false;
  coordinator_ = BrokerRegistry::kNone;
  retry_at_ns_ = 0;
  if (state_ == State::kSyncing) state_ = State::kJoining;
}

GroupMember::Change GroupMember::reading_done(ClientContext& ctx, std::span<const PartitionCursor> positions,
                                              int64_t now) {
  if (reading_done_) return Change::kNone;
  reading_done_ = true;
  // Where it stopped is where a later owner of its partitions would start.
  if (state_ == State::kStable && config_.group.commit_interval.count() > 0 && coordinator_ready_ &&
      ctx.links.ready(link_)) {
    send_commit(ctx, positions, now);
  }
  return advance(ctx, positions, now);
}

GroupMember::Change GroupMember::leave(ClientContext& ctx, std::span<const PartitionCursor> positions, int64_t now) {
  if (state_ == State::kLeaving) return Change::kNone;
  if (state_ == State::kRestarting) return finish_leaving(ctx, now);  // it left already (or closes)
  if (state_ == State::kLeft) return Change::kLeft;
  if (state_ == State::kFailed) return Change::kFailed;
  // A member done reading committed then already; its positions have not moved since.
  const bool commit = state_ == State::kStable && config_.group.commit_interval.count() > 0 && !reading_done_;
  reading_done_ = true;
  set_assigned(ctx, false);
  // Never named by the coordinator, or no coordinator to tell: nothing to leave.
  if (!started_ || member_id_.empty() || !coordinator_ready_ || !ctx.links.ready(link_)) {
    return finish_leaving(ctx, now);
  }
  if (commit) send_commit(ctx, positions, now);
  state_ = State::kLeaving;
  leave_deadline_ns_ = now + kLeaveTimeoutNs;
  return advance(ctx, positions, now);
}

void GroupMember::send_leave(ClientContext& ctx, int64_t now, std::string_view reason) {
  const int16_t version = ctx.links.link(link_).versions.leave_group;
  protocol::LeaveGroupRequest request;
  request.group_id = group_id_;
  request.member_id = member_id_;
  if (version >= 3) {
    // v3+ leaves a batch of members (KIP-345); v5+ says why.
    request.members.push_back(
        {.member_id = member_id_,
         .group_instance_id = instance_id_.empty() ? std::nullopt : std::optional<std::string_view>(instance_id_),
         .reason = reason});
  }
  send(ctx, request, version, now);
  pending_ |= kLeavePending;
}

GroupMember::Change GroupMember::finish_leaving(ClientContext& ctx, int64_t now) {
  state_ = State::kLeft;
  pending_ = 0;
  set_assigned(ctx, false);
  if (started_) ctx.links.close(link_, now);
  return Change::kLeft;
}

GroupMember::Change GroupMember::fail(ClientContext& ctx, const char* why, int64_t now) {
  failure_ = why;
  state_ = State::kFailed;
  pending_ = 0;
  set_assigned(ctx, false);
  if (started_) ctx.links.close(link_, now);
  return Change::kFailed;
}

void GroupMember::close(ClientContext& ctx, int64_t now) {
  if (state_ == State::kLeft || state_ == State::kFailed) return;
  finish_leaving(ctx, now);
}

}  // namespace ws::driver
