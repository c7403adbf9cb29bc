// One consumer's membership of its consumer group: a small plain state machine the Consumer owns
// (--group-mode own or shared). It talks to the group coordinator over a connection of its own
// (as the Java client keeps one apart from its fetch connections, even to the same broker) and
// tells its consumer, through the Change each call returns, when its assignment is gone and when a
// new one, with the group's committed offsets, is there.
//
//   FindCoordinator -> (connect to the coordinator) -> JoinGroup -> SyncGroup -> OffsetFetch -> Stable
//   Stable: Heartbeat every --heartbeat-interval, OffsetCommit every --commit-interval
//   REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION -> JoinGroup again (UNKNOWN_MEMBER_ID: as a new member)
//   COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, a lost connection -> FindCoordinator again
//   the end of the run -> OffsetCommit, LeaveGroup
//   --churn-members, its turn come while Stable -> OffsetCommit, LeaveGroup (a static member:
//     none) -> Restarting -> a new connection, FindCoordinator, JoinGroup as a new member
//
// The leader of a generation (the coordinator says who) assigns every member's partitions with
// --assignor from the subscriptions the coordinator hands it and the topic's partition counts in
// the worker's metadata. Everything the broker sends is untrusted: an assignment only ever names
// partitions that exist in the metadata, and a malformed subscription or assignment counts as
// empty. A heartbeat allocates nothing; joins, syncs and commits reuse their buffers.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "driver/client_context.h"
#include "driver/connections.h"
#include "driver/group_metrics.h"
#include "driver/record_intake.h"
#include "protocol/offset_commit.h"

namespace ws::driver {

class GroupMember {
 public:
  enum class State : uint8_t {
    kIdle,             // not started (its consumer waits for metadata)
    kJoining,          // JoinGroup to send or in flight (the coordinator holds it until all joined)
    kSyncing,          // SyncGroup in flight
    kFetchingOffsets,  // assignment known; OffsetFetch in flight for the committed offsets
    kStable,           // assigned and positioned: heartbeats and commits
    kLeaving,          // LeaveGroup sent
    kRestarting,       // churned: its commit (and LeaveGroup) in flight, then it joins again anew
    kLeft,             // out of the group (or never in it)
    kFailed,           // the broker refused the group for good (see failure())
  };
  // What a call changed for the consumer.
  enum class Change : uint8_t {
    kNone,
    kRevoked,   // the assignment is gone (a rebalance): stop reading it
    kAssigned,  // a new assignment with its committed offsets: read it (assignment())
    kLeft,      // out of the group: the consumer is finished
    kFailed,    // the group cannot be joined: the consumer fails with failure()
  };
  struct AssignedPartition {
    int32_t partition = 0;
    int64_t committed_offset = -1;  // -1: the group has none (start per --consume-from)
  };

  // `owner`: the consumer's index in its worker (its links' and timers' owner id);
  // `consumer_number`: among the run's consumers (which group it is in); `topic`: its topic's
  // index; `client_id` outlives the member.
  GroupMember(const RunConfig& config, uint32_t owner, uint32_t consumer_number, uint32_t topic,
              const std::string* client_id);

  // Opens the coordinator connection (once the metadata names its topic's leaders: any live
  // broker answers FindCoordinator).
  void start(ClientContext& ctx, int64_t now);
  bool owns(LinkId link) const { return started_ && link == link_; }
  // `positions`: the consumer's cursors, committed when a rebalance or the end calls for it.
  Change on_link_event(ClientContext& ctx, const LinkEvent& e, std::span<const PartitionCursor> positions, int64_t now);
  Change on_timer(ClientContext& ctx, std::span<const PartitionCursor> positions, int64_t now);
  // The consumer has read all it will: commit where it stopped, and stay in the group (so the
  // others are not rebalanced) until every consumer of the run is done, then leave.
  Change reading_done(ClientContext& ctx, std::span<const PartitionCursor> positions, int64_t now);
  // The run is over for consumers: commit and leave now. kLeft at once when not in a group.
  Change leave(ClientContext& ctx, std::span<const PartitionCursor> positions, int64_t now);
  // Drops the coordinator connection without a word (the brokers are unreachable).
  void close(ClientContext& ctx, int64_t now);

  State state() const { return state_; }
  bool has_assignment() const { return state_ == State::kStable; }
  std::span<const AssignedPartition> assignment() const { return assignment_; }
  int32_t generation() const { return generation_; }
  const char* failure() const { return failure_; }
  uint32_t group() const { return tally_.group; }
  const std::string& group_id() const { return group_id_; }
  GroupMemberTally& tally() { return tally_; }
  const std::string& instance_id() const { return instance_id_; }

 private:
  enum PendingRequest : uint8_t {
    kFindPending = 1,
    kJoinPending = 2,
    kSyncPending = 4,
    kOffsetFetchPending = 8,
    kHeartbeatPending = 16,
    kLeavePending = 32,
  };

  Change advance(ClientContext& ctx, std::span<const PartitionCursor> positions, int64_t now);
  // The request a step waits on, unless it is in flight or held back after an error.
  void send_unless_pending(ClientContext& ctx, PendingRequest request,
                           void (GroupMember::*send_request)(ClientContext&, int64_t), int64_t now);
  void send_find_coordinator(ClientContext& ctx, int64_t now);
  void send_join(ClientContext& ctx, int64_t now);
  void send_offset_fetch(ClientContext& ctx, int64_t now);
  void send_heartbeat(ClientContext& ctx, int64_t now);
  void send_commit(ClientContext& ctx, std::span<const PartitionCursor> positions, int64_t now);
  void send_leave(ClientContext& ctx, int64_t now, std::string_view reason);
  void send(ClientContext& ctx, auto& request, int16_t version, int64_t now);
  // Decodes a response; one that does not decode resets the connection (false).
  template <typename Response>
  bool decode(ClientContext& ctx, const LinkEvent& e, Response& response, int64_t now);

  Change handle_find_coordinator(ClientContext& ctx, const LinkEvent& e, int64_t now);
  Change handle_join(ClientContext& ctx, const LinkEvent& e, std::span<const PartitionCursor> positions, int64_t now);
  Change handle_sync(ClientContext& ctx, const LinkEvent& e, std::span<const PartitionCursor> positions, int64_t now);
  Change handle_offset_fetch(ClientContext& ctx, const LinkEvent& e, int64_t now);
  Change handle_heartbeat(ClientContext& ctx, const LinkEvent& e, std::span<const PartitionCursor> positions,
                          int64_t now);
  Change handle_commit(ClientContext& ctx, const LinkEvent& e, std::span<const PartitionCursor> positions, int64_t now);

  // The leader's SyncGroup: assignments for every member the JoinGroup answer lists.
  void send_leader_sync(ClientContext& ctx, const protocol::JoinGroupResponse& joined, int64_t now);
  void send_sync(ClientContext& ctx, std::span<const protocol::SyncGroupRequest::SyncGroupRequestAssignment> plan,
                 int64_t now);
  // Keeps the partitions of the member's topic that exist in the metadata, sorted, once each.
  void take_assignment(ClientContext& ctx, protocol::Bytes bytes);

  // A reason to join again: gives up the assignment (committing it first) and sends JoinGroup.
  Change rejoin(ClientContext& ctx, std::span<const PartitionCursor> positions, bool forget_member_id, int64_t now);
  // The coordinator moved or is gone: look it up again (on the same connection, a live broker).
  void coordinator_lost();
  // An error of a group API: counted by API and name (and with the run's Kafka errors).
  void count_error(ClientContext& ctx, GroupApi api, int16_t code);
  void count_answer(ClientContext& ctx, GroupApi api) {
    ++ctx.metrics.counters.groups.answered[static_cast<size_t>(api)];
  }
  // A heartbeat's or commit's answer: counted, its round trip into the latency histogram.
  void count_round_trip(ClientContext& ctx, GroupApi api, const LinkEvent& e, int64_t now);
  // What a heartbeat's or commit's error says about the member's standing: rejoin, look the
  // coordinator up again, or nothing (the next one tries again).
  Change follow_group_error(ClientContext& ctx, int16_t code, std::span<const PartitionCursor> positions, int64_t now);
  Change fail(ClientContext& ctx, const char* why, int64_t now);
  Change finish_leaving(ClientContext& ctx, int64_t now);
  // --churn-members: the time of this member's next turn (its slots are n, n + N, n + 2N, ... of
  // the run's churn schedule), a turn come due, and the restart that follows it.
  int64_t next_churn_after(const ClientContext& ctx, int64_t after_ns) const;
  Change churn_if_due(ClientContext& ctx, std::span<const PartitionCursor> positions, int64_t now);
  void restart(ClientContext& ctx, int64_t now);
  void set_assigned(ClientContext& ctx, bool assigned);
  void wake_at(ClientContext& ctx, int64_t at_ns);
  double since_start_s(const ClientContext& ctx, int64_t now) const;
  // Where to ask FindCoordinator: a leader of its topic (alive as far as the metadata knows).
  uint32_t lookup_broker(const ClientContext& ctx) const;

  const RunConfig& config_;
  uint32_t owner_;
  uint32_t topic_;
  uint32_t consumer_number_;
  const std::string* client_id_;
  std::string instance_id_;            // --group-instance-id: <prefix>-<consumer number>
  std::string group_id_;
  std::string member_id_;              // "" until the coordinator names it
  std::vector<uint8_t> subscription_;  // ConsumerProtocolSubscription bytes, made once
  LinkId link_ = UINT32_MAX;
  bool started_ = false;
  State state_ = State::kIdle;
  uint8_t pending_ = 0;  // PendingRequest bits: requests in flight on the coordinator link
  uint32_t commits_in_flight_ = 0;
  uint32_t coordinator_ = BrokerRegistry::kNone;  // registry index; kNone until FindCoordinator says
  bool coordinator_ready_ = false;                // the link is connected to the coordinator
  bool reading_done_ = false;
  bool counted_assigned_ = false;  // in GroupCounters::members_assigned
  int32_t generation_ = -1;
  int32_t heartbeat_generation_ = -1;  // the generation the heartbeat in flight was sent in
  int32_t commit_generation_ = -1;
  int64_t retry_at_ns_ = 0;  // a request held back after an error, until then
  int64_t next_heartbeat_ns_ = INT64_MAX;
  int64_t next_commit_ns_ = INT64_MAX;
  int64_t leave_deadline_ns_ = INT64_MAX;
  int64_t armed_ns_ = INT64_MAX;  // the earliest timer armed and not yet fired
  int64_t join_started_ns_ = 0;   // this round of joining began
  int64_t join_latency_us_ = 0;   // of the JoinGroup that led to the sync in flight
  bool held_assignment_ = false;  // had an assignment before this round (a rebalance)
  bool churned_ = false;          // left by --churn-members, not assigned again yet
  int64_t next_churn_ns_ = INT64_MAX;  // INT64_MAX: not scheduled (yet)
  const char* failure_ = nullptr;
  std::vector<AssignedPartition> assignment_;
  protocol::OffsetCommitRequest commit_request_;          // reused: its vectors keep their capacity
  std::vector<std::vector<uint8_t>> leader_assignments_;  // the leader's encoded assignments, reused
  GroupMemberTally tally_;
};

}  // namespace ws::driver
