// A fake Kafka group coordinator for the driver's unit tests, behind the fake cluster
// (fake_cluster.h): FindCoordinator, JoinGroup (held until the group's expected members have all
// joined, or its rebalance timeout passed), SyncGroup (followers wait for the leader), Heartbeat,
// OffsetCommit, OffsetFetch and LeaveGroup, in every version the codecs have, as Kafka's
// GroupCoordinator answers them. A test scripts errors (heartbeat answers, NOT_COORDINATOR, a member
// forgotten as if its session expired, a coordinator that moves) and checks what it saw: who was
// assigned what in which generation, the commits, the leaves. A static member (KIP-345) joining
// again without a member id under a known group.instance.id takes its old place under a new id.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/driver/fake_cluster.h"

namespace ws::testing {

class FakeGroupCoordinator {
 public:
  // What one member was handed in one generation (decoded from the leader's assignment).
  struct Assignment {
    std::string group;
    int32_t generation = 0;
    std::string member;
    std::string client_id;
    std::vector<int32_t> partitions;  // of the cluster's topic
  };
  struct Commit {
    std::string group;
    int32_t generation = 0;
    std::string member;
    int32_t partition = 0;
    int64_t offset = 0;
    int64_t at_ns = 0;
  };
  struct Join {
    std::string group;
    std::string member_id;  // as the request named it ("" for a new member)
    std::string client_id;
    int port = 0;
    std::string instance_id;  // group.instance.id (JoinGroup v5+), "" for a dynamic member
  };

  // Answers the group APIs of `kafka` (call before the rig copies it; this object must outlive it)
  // and advertises them up to these versions (a Kafka 0.9 cluster ignores that: no ApiVersions).
  void install(FakeKafka& kafka);
  // The test's clock (rebalance timeouts, commit times): the rig's `now`.
  const int64_t* clock = nullptr;
  int64_t now() const { return clock ? *clock : 0; }

  // Script.
  int32_t coordinator_node = 0;          // FindCoordinator names this broker; requests elsewhere: NOT_COORDINATOR
  int expected_members = 1;              // a group's first generation waits for this many members
  std::deque<int16_t> heartbeat_errors;  // the next heartbeats answer these first (of any member)
  int not_coordinator_answers = 0;       // the next N group requests answer NOT_COORDINATOR
  // The next N FindCoordinator answers to a client: COORDINATOR_NOT_AVAILABLE (it joins later).
  std::map<std::string, int> not_available_for;
  // The next JoinGroup answers to a client (COORDINATOR_LOAD_IN_PROGRESS: it retries later).
  std::map<std::string, std::deque<int16_t>> join_errors_for;
  // Replaces the assignment bytes SyncGroup hands a member (a hostile coordinator).
  std::function<std::optional<std::vector<uint8_t>>(const std::string& client_id)> assignment_override;
  // The coordinator forgets `client_id`'s member (its session expired): its next request answers
  // UNKNOWN_MEMBER_ID, and the others rebalance.
  void expire_member(const std::string& client_id);

  // What was seen.
  std::vector<Assignment> assignments;
  std::vector<Commit> commits;
  std::vector<Join> joins;
  std::vector<std::pair<std::string, std::string>> leaves;  // (group, member)
  std::vector<int64_t> leave_times;                         // when each of `leaves` came
  std::vector<std::pair<int, int16_t>> heartbeats;          // (broker port, error answered)
  int finds = 0;

  std::vector<const Assignment*> assignments_of(const std::string& client_id) const;
  int64_t committed(const std::string& group, int32_t partition) const;  // -1: none
  std::vector<std::string> group_ids() const;

 private:
  struct Pending {
    net::ConnId conn = 0;
    int32_t correlation_id = 0;
    int16_t version = 0;
  };
  struct Member {
    std::string id;
    std::string client_id;
    std::string instance_id;
    std::string protocol;
    std::vector<uint8_t> metadata;
    std::optional<Pending> join;  // its JoinGroup, held
    std::optional<Pending> sync;  // its SyncGroup, held for the leader's
    std::vector<uint8_t> assignment;
    bool rejoined = false;  // joined in the rebalance under way
  };
  enum class State : uint8_t { kEmpty, kPreparingRebalance, kAwaitingSync, kStable };
  struct Group {
    State state = State::kEmpty;
    int32_t generation = 0;
    std::string leader;
    std::vector<Member> members;
    std::vector<std::string> pending_ids;  // named by MEMBER_ID_REQUIRED, not members yet
    int64_t rebalance_deadline_ns = INT64_MAX;
    std::map<int32_t, int64_t> offsets;
    Member* find(const std::string& id);
  };

  bool answer(FakeLoop& loop, const SeenRequest& request, protocol::Reader& body);
  void tick(FakeLoop& loop);
  void prepare_rebalance(Group& g);
  void try_complete_join(FakeLoop& loop, const std::string& group_id, Group& g, bool timed_out);
  bool is_coordinator(int port) const;
  template <typename Response>
  void reply(FakeLoop& loop, const Pending& to, int16_t api_key, const Response& body);

  std::map<std::string, Group> groups_;
  std::vector<FakeKafka::Broker> brokers_;
  std::string topic_;
  int next_member_ = 0;
  FakeLoop* loop_ = nullptr;  // the loop it last answered on (for answers it owes when scripted)
};

}  // namespace ws::testing
