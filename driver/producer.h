// One simulated producer: a small plain state machine, driven by its worker.
//
//   WaitingMetadata -> Connecting -> Ready -> Producing -> (Flushing) -> Done
//                                                                      any state -> Failed
//
// Like the Java client, it keeps one connection to each leader broker of its topic (with
// --partitioner=fixed, to the one leader of its one partition) and sends each broker the records
// of the partitions it leads, one batch per partition in one request. Connecting lasts until every
// one of those connections is ready; Ready waits for the run's Connecting phase to end.
// Producing makes records due on an open-loop schedule (--rate) or as fast as the windows allow,
// lets the partitioner pick each record's partition (sticky and round-robin only among partitions
// whose leader can take records now), and records one latency sample per record from its
// intended send time (coordinated omission) and from the actual send. A leader error pauses that
// leader's connection until fresher metadata; a lost connection fails its records in flight (no
// retries) and reconnects. With acks=0 a request is done when written, and a Metadata request per
// connection ends the run as a flush barrier: its answer proves the broker read everything before.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "driver/client_context.h"
#include "driver/connections.h"
#include "driver/idempotence.h"
#include "driver/partitioner.h"
#include "driver/produce_encoder.h"

namespace ws::driver {

class Producer {
 public:
  enum class State : uint8_t {
    kWaitingMetadata,  // the worker's metadata does not know the topic's leaders yet
    kConnecting,       // a connection to a leader is connecting or backing off
    kReady,            // connected; waits for the Connecting phase to end
    kProducing,
    kFlushing,         // acks=0: waits for the answers that prove the last records arrived
    kDone,
    kFailed,
  };

  // `index`: in the worker (its links' owner id); `global_index`: across the run.
  Producer(const RunConfig& config, uint32_t index, uint32_t global_index, uint64_t quota);

  void start(ClientContext& ctx, int64_t now);
  void on_metadata(ClientContext& ctx, int64_t now);  // the worker's metadata changed or answered
  void on_link_event(ClientContext& ctx, const LinkEvent& e, int64_t now);
  void on_timer(ClientContext& ctx, int64_t now);     // a record falls due
  void on_phase(ClientContext& ctx, int64_t now);     // ctx.phase changed
  // Sends what is due and fits the windows (queued at the end of an event batch).
  void send_due(ClientContext& ctx, int64_t now);
  // Ends the producer where it stands: failed (the brokers are unreachable: the run says why), or
  // done (the drain deadline passed: its requests in flight stay unanswered).
  void give_up(ClientContext& ctx, bool failed, int64_t now);

  State state() const { return state_; }
  bool settled() const { return state_ == State::kDone || state_ == State::kFailed; }
  bool ever_ready() const { return ever_ready_; }
  uint32_t global_index() const { return global_index_; }
  uint32_t topic() const { return topic_; }
  size_t connections() const { return links_.size(); }
  LinkId link_to(uint32_t broker) const;  // UINT32_MAX if none
  LinkId link() const { return links_.empty() ? UINT32_MAX : links_.front().link; }
  uint64_t quota_left() const { return quota_left_; }
  bool send_queued = false;  // in ctx.send_queue

 private:
  // How many records of one partition a request carried, and their due times (first and last:
  // records in between fall evenly between them on an open-loop schedule).
  struct Part {
    int32_t partition;
    uint32_t records;
    int64_t first_intended_ns;
    int64_t last_intended_ns;
  };
  // The connection to one leader broker, and what its requests in flight carry.
  struct LeaderLink {
    uint32_t broker = 0;
    LinkId link = UINT32_MAX;
    bool ready = false;
    bool stale = false;      // a leader error: wait for fresher metadata before sending here
    bool unflushed = false;  // acks=0: records written since the last flush barrier
    bool flushing = false;   // acks=0: the flush barrier is in flight
    bool churning = false;   // --churn: sends nothing more; reconnects once its requests are done
    int16_t version = -1;    // Produce
    int8_t magic = 2;
    std::vector<Part> parts;  // a ring, in request order: each request's Part entries
    uint32_t parts_head = 0;
    uint32_t parts_size = 0;
  };

  void connect_to_leaders(ClientContext& ctx, int64_t now);
  void handle_link_event(ClientContext& ctx, LeaderLink& l, const LinkEvent& e, int64_t now);
  // --churn: the next reconnect is drawn (exponential, mean 1/churn) when producing starts and
  // after each one; at that time every link stops sending, and each reconnects once idle.
  void schedule_churn(ClientContext& ctx, int64_t now);
  void begin_churn(ClientContext& ctx, int64_t now);
  void finish_churn(ClientContext& ctx, int64_t now);
  void stop_churn();
  LeaderLink* find(LinkId link);
  LeaderLink* leader_of(const ClientContext& ctx, int32_t partition);
  bool can_send(const ClientContext& ctx, const LeaderLink& l) const;
  void link_ready(ClientContext& ctx, LeaderLink& l, int64_t now);
  void become_ready_if_connected(ClientContext& ctx, int64_t now);  // Connecting -> Ready/Producing
  bool all_ready() const;
  bool make_due(ClientContext& ctx, int64_t now);  // false: nothing (more) is due or can go now
  void arm_record_timer(ClientContext& ctx, int64_t at_ns);
  void refuse_too_large(ClientContext& ctx, int16_t code);  // MESSAGE_TOO_LARGE: the run ends, exit 2
  bool dispatch(ClientContext& ctx, int64_t now);  // false: no pending record could be sent
  void on_response(ClientContext& ctx, LeaderLink& l, const LinkEvent& e, int64_t now);
  // Settles the Part entries of one request: acked (or written), failed with its error, or lost.
  void complete(ClientContext& ctx, LeaderLink& l, const InFlight& request, const protocol::ProduceResponse* response,
                int16_t error_code, int64_t now);
  void record_unsent_backlog(ClientContext& ctx, int64_t now);
  void request_identity_if_needed(ClientContext& ctx, int64_t now);  // --idempotent
  void on_identity(ClientContext& ctx, const LinkEvent& e, int64_t now);
  void refuse_idempotence(ClientContext& ctx, LeaderLink& l, int64_t now);  // an older broker: exit 2
  bool in_flight(const ClientContext& ctx) const;  // any request of any link awaits its response
  void finish(ClientContext& ctx, int64_t now);  // nothing left to send: flush (acks=0), then done
  void settle(ClientContext& ctx, State final_state, int64_t now);
  void fail(ClientContext& ctx, Failure why, int64_t now);
  void queue_send(ClientContext& ctx);
  void push_part(LeaderLink& l, const Part& p);
  Part pop_part(LeaderLink& l);

  uint32_t index_;
  uint32_t global_index_;
  uint32_t number_;  // among every shard's producers (--shards): its client id, key and send phase
  uint32_t topic_;
  State state_ = State::kWaitingMetadata;
  bool ever_ready_ = false;
  bool measured_from_published_ = false;
  Partitioner partitioner_;
  std::vector<LeaderLink> links_;
  // Due, partition chosen, not sent yet (their leaders were busy). In the order made due, so
  // their intended times never decrease.
  std::vector<PendingRecord> pending_;
  // Every record in pending_ is of pending_.front()'s partition (a sticky or fixed producer's
  // batches): dispatch then sends them as they are, without a pass over them per leader.
  bool pending_one_partition_ = true;
  std::vector<PendingRecord> outgoing_;  // dispatch: one leader's share of pending_ (reused)
  PartitionGrouper grouper_;               // dispatch: orders a request's records by partition
  int64_t next_record_ns_ = 0;  // paced runs: intended time of the next record not yet made due
  int64_t record_timer_ns_ = INT64_MAX;  // paced runs: the record wake-up in the timer queue
  int64_t churn_at_ns_ = 0;     // --churn: when the next reconnect starts (0: none scheduled)
  bool churn_pending_ = false;  // some link is churning
  uint64_t churn_rng_;          // --churn: the interval draws (splitmix64 state)
  uint64_t quota_left_;         // records still to make due (UINT64_MAX: no --messages)
  uint64_t next_sequence_ = 0;  // sequence number of the next record (keys, --verify)
  std::string client_id_;
  // --idempotent: its producer id, epoch and sequences (driver/idempotence.h).
  bool idempotent_ = false;
  ProducerIdentity identity_;
  int64_t identity_requested_ns_ = 0;
  int64_t identity_retry_at_ns_ = 0;  // after a retriable InitProducerId error
};

const char* producer_state_name(Producer::State s);

}  // namespace ws::driver
