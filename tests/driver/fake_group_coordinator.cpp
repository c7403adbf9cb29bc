#include "tests/driver/fake_group_coordinator.h"

#include <algorithm>

#include "protocol/consumer_protocol.h"
#include "protocol/errors.h"
#include "protocol/find_coordinator.h"
#include "protocol/heartbeat.h"
#include "protocol/join_group.h"
#include "protocol/leave_group.h"
#include "protocol/offset_commit.h"
#include "protocol/offset_fetch.h"
#include "protocol/sync_group.h"

namespace ws::testing {

using namespace protocol;

FakeGroupCoordinator::Member* FakeGroupCoordinator::Group::find(const std::string& id) {
  for (auto& m : members) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

void FakeGroupCoordinator::install(FakeKafka& kafka) {
  brokers_ = kafka.brokers;
  topic_ = kafka.topic;
  kafka.other_api = [this](FakeLoop& loop, const SeenRequest& request, Reader& body) {
    return answer(loop, request, body);
  };
  kafka.on_poll = [this](FakeLoop& loop) { tick(loop); };
  for (const int16_t key : {FindCoordinatorRequest::kApiKey, JoinGroupRequest::kApiKey, SyncGroupRequest::kApiKey,
                            HeartbeatRequest::kApiKey, LeaveGroupRequest::kApiKey, OffsetCommitRequest::kApiKey,
                            OffsetFetchRequest::kApiKey}) {
    kafka.other_api_versions.emplace_back(key, find_api(key)->max_version);
  }
}

bool FakeGroupCoordinator::is_coordinator(int port) const {
  for (const auto& b : brokers_) {
    if (b.node_id == coordinator_node) return b.port == port;
  }
  return false;
}

template <typename Response>
void FakeGroupCoordinator::reply(FakeLoop& loop, const Pending& to, int16_t api_key, const Response& body) {
  if (!loop.is_open(to.conn)) return;  // the member's connection is gone: so is the answer
  loop.inject(to.conn, response_frame(to.correlation_id, api_key, to.version, body));
}

void FakeGroupCoordinator::expire_member(const std::string& client_id) {
  for (auto& [id, g] : groups_) {
    const auto gone =
        std::remove_if(g.members.begin(), g.members.end(), [&](const Member& m) { return m.client_id == client_id; });
    if (gone == g.members.end()) continue;
    g.members.erase(gone, g.members.end());
    if (g.members.empty()) {
      g.state = State::kEmpty;
    } else {
      prepare_rebalance(g);  // the others are made to rejoin
    }
  }
}

void FakeGroupCoordinator::prepare_rebalance(Group& g) {
  if (g.state == State::kPreparingRebalance) return;
  g.state = State::kPreparingRebalance;
  g.rebalance_deadline_ns = now() + 10'000'000'000LL;
  for (auto& m : g.members) {
    m.rejoined = m.join.has_value();
    if (m.sync && loop_) {
      // A follower waiting for the leader's assignments hears that there will be none.
      SyncGroupResponse response;
      response.error_code = error::kRebalanceInProgress;
      reply(*loop_, *m.sync, SyncGroupRequest::kApiKey, response);
    }
    m.sync.reset();
  }
}

void FakeGroupCoordinator::try_complete_join(FakeLoop& loop, const std::string& group_id, Group& g, bool timed_out) {
  if (g.state != State::kPreparingRebalance) return;
  const auto joined = static_cast<int>(
      std::count_if(g.members.begin(), g.members.end(), [](const Member& m) { return m.join.has_value(); }));
  const bool all_rejoined = joined == static_cast<int>(g.members.size());
  if (!timed_out && (!all_rejoined || (g.generation == 0 && joined < expected_members))) return;
  // Members that did not rejoin in time are out (Kafka's DelayedJoin).
  std::erase_if(g.members, [](const Member& m) { return !m.join.has_value(); });
  if (g.members.empty()) {
    g.state = State::kEmpty;
    return;
  }
  ++g.generation;
  if (!g.find(g.leader)) g.leader = g.members.front().id;
  g.state = State::kAwaitingSync;
  g.rebalance_deadline_ns = INT64_MAX;
  for (auto& m : g.members) {
    JoinGroupResponse response;
    response.generation_id = g.generation;
    response.protocol_type = kConsumerProtocolType;
    response.protocol_name = m.protocol;
    response.leader = g.leader;
    response.member_id = m.id;
    if (m.id == g.leader) {
      for (const auto& other : g.members) {
        JoinGroupResponse::JoinGroupResponseMember entry;
        entry.member_id = other.id;
        entry.metadata = other.metadata;
        response.members.push_back(entry);
      }
    }
    reply(loop, *m.join, JoinGroupRequest::kApiKey, response);
    m.join.reset();
  }
  (void)group_id;
}

void FakeGroupCoordinator::tick(FakeLoop& loop) {
  loop_ = &loop;
  for (auto& [id, g] : groups_) {
    if (g.state == State::kPreparingRebalance && now() >= g.rebalance_deadline_ns) try_complete_join(loop, id, g, true);
  }
}

bool FakeGroupCoordinator::answer(FakeLoop& loop, const SeenRequest& request, Reader& body) {
  loop_ = &loop;
  const Pending here{request.conn, request.correlation_id, request.api_version};
  const int16_t version = request.api_version;
  const bool refuse = !is_coordinator(request.port) || not_coordinator_answers > 0;
  auto refused = [&]() {
    if (not_coordinator_answers > 0 && is_coordinator(request.port)) --not_coordinator_answers;
    return error::kNotCoordinator;
  };
  switch (request.api_key) {
    case FindCoordinatorRequest::kApiKey: {
      FindCoordinatorRequest req;
      req.decode(body, version);
      ++finds;
      FindCoordinatorResponse response;
      const FakeKafka::Broker* coordinator = nullptr;
      for (const auto& b : brokers_) {
        if (b.node_id == coordinator_node) coordinator = &b;
      }
      FindCoordinatorResponse::Coordinator c;
      c.key = version >= 4 && !req.coordinator_keys.empty() ? req.coordinator_keys[0] : req.key;
      if (int& refusals = not_available_for[request.client_id]; refusals > 0 || !coordinator) {
        if (refusals > 0) --refusals;
        c.error_code = error::kCoordinatorNotAvailable;
      } else {
        c.node_id = coordinator->node_id;
        c.host = "127.0.0.1";
        c.port = coordinator->port;
      }
      response.error_code = c.error_code;
      response.node_id = c.node_id;
      response.host = c.host;
      response.port = c.port;
      if (version >= 4) response.coordinators.push_back(c);
      reply(loop, here, request.api_key, response);
      return true;
    }
    case JoinGroupRequest::kApiKey: {
      JoinGroupRequest req;
      req.decode(body, version);
      const std::string group_id(req.group_id);
      const std::string instance_id(version >= 5 && req.group_instance_id ? *req.group_instance_id : "");
      joins.push_back({group_id, std::string(req.member_id), request.client_id, request.port, instance_id});
      JoinGroupResponse response;
      response.member_id = req.member_id;
      auto& scripted = join_errors_for[request.client_id];
      if (refuse || !scripted.empty()) {
        response.error_code = refuse ? refused() : scripted.front();
        if (!refuse) scripted.pop_front();
        reply(loop, here, request.api_key, response);
        return true;
      }
      Group& g = groups_[group_id];
      std::string id(req.member_id);
      Member* known = nullptr;
      for (auto& m : g.members) {
        if (!instance_id.empty() && m.instance_id == instance_id) known = &m;
      }
      if (id.empty() && known) {
        // A static member restarted: the same place under a new member id, no MEMBER_ID_REQUIRED.
        id = known->id = request.client_id + "-" + std::to_string(next_member_++);
        if (g.leader.empty() || !g.find(g.leader)) g.leader = id;
      } else if (id.empty()) {
        id = request.client_id + "-" + std::to_string(next_member_++);
        if (version >= 4) {
          // KIP-394: a new member is named first, and joins again with that name.
          g.pending_ids.push_back(id);
          response.error_code = error::kMemberIdRequired;
          response.member_id = id;
          reply(loop, here, request.api_key, response);
          return true;
        }
        g.members.push_back(Member{.id = id});
      } else if (const auto it = std::find(g.pending_ids.begin(), g.pending_ids.end(), id); it != g.pending_ids.end()) {
        g.pending_ids.erase(it);
        g.members.push_back(Member{.id = id});
      }
      Member* m = g.find(id);
      if (!m) {
        response.error_code = error::kUnknownMemberId;
        reply(loop, here, request.api_key, response);
        return true;
      }
      m->client_id = request.client_id;
      m->instance_id = instance_id;
      m->protocol = req.protocols.empty() ? "" : std::string(req.protocols[0].name);
      m->metadata.assign(
          req.protocols.empty() ? nullptr : req.protocols[0].metadata.data(),
          req.protocols.empty() ? nullptr : req.protocols[0].metadata.data() + req.protocols[0].metadata.size());
      m->join = here;
      prepare_rebalance(g);
      m->rejoined = true;
      try_complete_join(loop, group_id, g, false);
      return true;
    }
    case SyncGroupRequest::kApiKey: {
      SyncGroupRequest req;
      req.decode(body, version);
      const std::string group_id(req.group_id);
      SyncGroupResponse response;
      Group& g = groups_[group_id];
      Member* m = g.find(std::string(req.member_id));
      if (refuse) {
        response.error_code = refused();
      } else if (!m) {
        response.error_code = error::kUnknownMemberId;
      } else if (req.generation_id != g.generation) {
        response.error_code = error::kIllegalGeneration;
      } else if (g.state == State::kPreparingRebalance) {
        response.error_code = error::kRebalanceInProgress;
      }
      if (response.error_code != error::kNone) {
        reply(loop, here, request.api_key, response);
        return true;
      }
      auto deliver = [&](Member& member, const Pending& to) {
        std::vector<uint8_t> bytes = member.assignment;
        if (assignment_override) {
          if (auto replaced = assignment_override(member.client_id)) bytes = std::move(*replaced);
        }
        Assignment seen{group_id, g.generation, member.id, member.client_id, {}};
        ConsumerProtocolAssignment decoded;
        if (decode_consumer_assignment(bytes, decoded).ok()) {
          for (const auto& t : decoded.assigned_partitions) {
            if (t.topic == topic_)
              seen.partitions.insert(seen.partitions.end(), t.partitions.begin(), t.partitions.end());
          }
        }
        assignments.push_back(std::move(seen));
        SyncGroupResponse answer;
        answer.protocol_type = kConsumerProtocolType;
        answer.protocol_name = member.protocol;
        answer.assignment = bytes;
        reply(loop, to, SyncGroupRequest::kApiKey, answer);
      };
      if (g.state == State::kStable) {
        deliver(*m, here);
        return true;
      }
      if (m->id != g.leader) {
        m->sync = here;  // a follower waits for the leader's assignments
        return true;
      }
      for (const auto& a : req.assignments) {
        if (Member* target = g.find(std::string(a.member_id)))
          target->assignment.assign(a.assignment.begin(), a.assignment.end());
      }
      g.state = State::kStable;
      for (auto& member : g.members) {
        if (member.sync) deliver(member, *member.sync);
        member.sync.reset();
      }
      deliver(*m, here);
      return true;
    }
    case HeartbeatRequest::kApiKey: {
      HeartbeatRequest req;
      req.decode(body, version);
      HeartbeatResponse response;
      Group& g = groups_[std::string(req.group_id)];
      if (refuse) {
        response.error_code = refused();
      } else if (!heartbeat_errors.empty()) {
        response.error_code = heartbeat_errors.front();
        heartbeat_errors.pop_front();
        if (response.error_code == error::kRebalanceInProgress) prepare_rebalance(g);
      } else if (!g.find(std::string(req.member_id))) {
        response.error_code = error::kUnknownMemberId;
      } else if (req.generation_id != g.generation) {
        response.error_code = error::kIllegalGeneration;
      } else if (g.state != State::kStable) {
        response.error_code = error::kRebalanceInProgress;
      }
      heartbeats.emplace_back(request.port, response.error_code);
      reply(loop, here, request.api_key, response);
      return true;
    }
    case LeaveGroupRequest::kApiKey: {
      LeaveGroupRequest req;
      req.decode(body, version);
      const std::string group_id(req.group_id);
      Group& g = groups_[group_id];
      std::vector<std::string> leaving;
      if (version >= 3) {
        for (const auto& m : req.members) leaving.emplace_back(m.member_id);
      } else {
        leaving.emplace_back(req.member_id);
      }
      LeaveGroupResponse response;
      for (const auto& id : leaving) {
        leaves.emplace_back(group_id, id);
        leave_times.push_back(now());
        std::erase_if(g.members, [&](const Member& m) { return m.id == id; });
        LeaveGroupResponse::MemberResponse r;
        r.member_id = id;
        response.members.push_back(r);
      }
      if (g.members.empty()) {
        g.state = State::kEmpty;
      } else {
        prepare_rebalance(g);
        try_complete_join(loop, group_id, g, false);
      }
      reply(loop, here, request.api_key, response);
      return true;
    }
    case OffsetCommitRequest::kApiKey: {
      OffsetCommitRequest req;
      req.decode(body, version);
      const std::string group_id(req.group_id);
      Group& g = groups_[group_id];
      int16_t code = error::kNone;
      const int32_t generation = version >= 1 ? req.generation_id_or_member_epoch : -1;
      if (refuse) {
        code = refused();
      } else if (generation >= 0 && !g.find(std::string(req.member_id))) {
        code = error::kUnknownMemberId;
      } else if (generation >= 0 && generation != g.generation) {
        code = error::kIllegalGeneration;
      } else if (generation >= 0 && g.state == State::kAwaitingSync) {
        code = error::kRebalanceInProgress;
      }
      OffsetCommitResponse response;
      for (const auto& t : req.topics) {
        OffsetCommitResponse::OffsetCommitResponseTopic rt;
        rt.name = t.name;
        for (const auto& p : t.partitions) {
          if (code == error::kNone) {
            g.offsets[p.partition_index] = p.committed_offset;
            commits.push_back(
                {group_id, generation, std::string(req.member_id), p.partition_index, p.committed_offset, now()});
          }
          rt.partitions.push_back({.partition_index = p.partition_index, .error_code = code});
        }
        response.topics.push_back(std::move(rt));
      }
      reply(loop, here, request.api_key, response);
      return true;
    }
    case OffsetFetchRequest::kApiKey: {
      OffsetFetchRequest req;
      req.decode(body, version);
      const std::string group_id(version >= 8 && !req.groups.empty() ? req.groups[0].group_id : req.group_id);
      Group& g = groups_[group_id];
      OffsetFetchResponse response;
      const int16_t code = refuse ? refused() : error::kNone;
      response.error_code = code;
      auto committed_of = [&](int32_t p) {
        const auto it = g.offsets.find(p);
        return it == g.offsets.end() ? int64_t{-1} : it->second;
      };
      if (version >= 8) {
        OffsetFetchResponse::OffsetFetchResponseGroup rg;
        rg.group_id = req.groups.empty() ? std::string_view() : req.groups[0].group_id;
        rg.error_code = code;
        if (!req.groups.empty() && req.groups[0].topics) {
          for (const auto& t : *req.groups[0].topics) {
            OffsetFetchResponse::OffsetFetchResponseTopics rt;
            rt.name = t.name;
            for (const int32_t p : t.partition_indexes) {
              rt.partitions.push_back({.partition_index = p, .committed_offset = committed_of(p), .metadata = ""});
            }
            rg.topics.push_back(std::move(rt));
          }
        }
        response.groups.push_back(std::move(rg));
      } else if (req.topics) {
        for (const auto& t : *req.topics) {
          OffsetFetchResponse::OffsetFetchResponseTopic rt;
          rt.name = t.name;
          for (const int32_t p : t.partition_indexes) {
            // Before v2 the error is per partition only.
            rt.partitions.push_back({.partition_index = p,
                                     .committed_offset = committed_of(p),
                                     .metadata = "",
                                     .error_code = version < 2 ? code : error::kNone});
          }
          response.topics.push_back(std::move(rt));
        }
      }
      reply(loop, here, request.api_key, response);
      return true;
    }
    default: return false;
  }
}

std::vector<const FakeGroupCoordinator::Assignment*> FakeGroupCoordinator::assignments_of(
    const std::string& client_id) const {
  std::vector<const Assignment*> out;
  for (const auto& a : assignments) {
    if (a.client_id == client_id) out.push_back(&a);
  }
  return out;
}

int64_t FakeGroupCoordinator::committed(const std::string& group, int32_t partition) const {
  const auto g = groups_.find(group);
  if (g == groups_.end()) return -1;
  const auto it = g->second.offsets.find(partition);
  return it == g->second.offsets.end() ? -1 : it->second;
}

std::vector<std::string> FakeGroupCoordinator::group_ids() const {
  std::vector<std::string> out;
  for (const auto& [id, g] : groups_) out.push_back(id);
  return out;
}

}  // namespace ws::testing
