// A worker's view of the run's topics: their partitions and leaders, shared by the worker's clients.
// It is learnt over one connection of the worker's own (as each real client would over its own,
// but once per worker), starting at a bootstrap broker and moving on to the next known broker
// when one does not answer, and refreshed when a client asks (a leader error, a lost leader),
// while the topic is still being created, and every --metadata-max-age.
//
// Kafka 0.9 connections open with a Metadata request (ConnectionTable): their answers land here too.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "driver/brokers.h"
#include "driver/config.h"
#include "driver/connections.h"
#include "driver/metrics.h"
#include "driver/timers.h"
#include "protocol/metadata.h"

namespace ws::driver {

class MetadataCache {
 public:
  struct Partition {
    int32_t id = 0;
    int32_t leader_node = -1;
    uint32_t leader = BrokerRegistry::kNone;  // registry index of the leader, kNone if leaderless
  };
  struct Topic {
    std::string name;
    bool known = false;                 // has partitions, each with a leader
    std::vector<Partition> partitions;  // sorted by id
    const Partition* partition(int32_t id) const;
  };

  MetadataCache(const RunConfig& config, BrokerRegistry& brokers, RunCounters& counters, ConnectionTable& links,
                TimerQueue& timers, uint32_t worker_index);

  // Opens the worker's metadata connection.
  void start(int64_t now);
  // A client saw a sign that leadership moved: refresh soon (at most every 100 ms).
  void request_refresh(int64_t now);
  // The metadata connection's events, and Metadata responses of any connection's handshake.
  void on_link_event(const LinkEvent& e, int64_t now);
  void on_handshake_metadata(const LinkEvent& e, int64_t now);
  void on_timer(int64_t now);
  // The worker is finishing: close the connection, stop refreshing.
  void stop(int64_t now);

  // Every topic has partitions and every partition a leader.
  bool known() const { return known_; }
  // A non-retriable error (the topic is invalid or not ours to use): clients give up.
  bool failed() const { return failed_; }
  // No broker of the bootstrap list ever answered, after each was tried a few times.
  bool unreachable() const { return unreachable_; }
  const std::string& failure() const { return failure_; }
  // Bumped whenever partitions or leaders change: clients compare it to their last look.
  uint64_t generation() const { return generation_; }
  const Topic& topic(uint32_t index) const { return topics_[index]; }
  size_t topic_count() const { return topics_.size(); }

  uint64_t refreshes() const { return refreshes_; }
  uint64_t leader_changes() const { return leader_changes_; }
  LinkId link() const { return link_; }

 private:
  void send_request(int64_t now);
  void take_response(protocol::Bytes body, int16_t version, int64_t now);
  void schedule(int64_t at_ns);
  void next_broker(int64_t now);  // the current one failed: try the next known broker

  const RunConfig& config_;
  BrokerRegistry& brokers_;
  RunCounters& counters_;
  ConnectionTable& links_;
  TimerQueue& timers_;
  LinkId link_ = UINT32_MAX;
  uint32_t broker_ = 0;         // registry index the connection goes to
  uint32_t failed_connects_ = 0;  // consecutive, over all brokers tried
  bool in_flight_ = false;
  bool refresh_wanted_ = true;
  bool known_ = false;
  bool failed_ = false;
  bool unreachable_ = false;
  bool stopped_ = false;
  std::string failure_;
  int64_t last_request_ns_ = INT64_MIN / 2;
  int64_t next_refresh_ns_ = INT64_MAX;
  uint64_t generation_ = 0;
  uint64_t refreshes_ = 0;
  uint64_t leader_changes_ = 0;
  std::vector<Topic> topics_;  // in --topics order
  protocol::MetadataResponse response_;  // reused
};

}  // namespace ws::driver
