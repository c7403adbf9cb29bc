// One simulated producer: a small plain state machine, driven by its worker.
//
//   WaitingMetadata -> Connecting -> Ready -> Producing -> (Flushing) -> Done
//        ^                  |                   |
//        +---- leader moved, connection lost ---+            any state -> Failed
//
// It writes partition (global index % partitions) through one connection to that partition's
// leader. Ready waits for the Connecting phase to end; Producing sends on an open-loop schedule
// (--rate) or as fast as the in-flight window allows, and records one latency sample per record
// from its intended send time (coordinated omission) and from the actual send. With acks=0 a
// request is done when written, and a Metadata request ends the run as a flush barrier: its answer
// proves the broker read everything before it.
#pragma once

#include <cstdint>
#include <string>

#include "driver/client_context.h"
#include "driver/connections.h"

namespace ws::driver {

class Producer {
 public:
  enum class State : uint8_t {
    kWaitingMetadata,  // the worker's metadata does not know the partition's leader yet
    kConnecting,       // its connection to the leader is connecting or backing off
    kReady,            // connected; waits for the Connecting phase to end
    kProducing,
    kFlushing,         // acks=0: waits for the answer that proves the last records arrived
    kDone,
    kFailed,
  };

  // `index`: in the worker (its links' owner id); `global_index`: across the run.
  Producer(uint32_t index, uint32_t global_index, uint64_t quota, std::string client_id);

  void start(ClientContext& ctx, int64_t now);
  void on_metadata(ClientContext& ctx, int64_t now);  // the worker's metadata changed
  void on_link_event(ClientContext& ctx, const LinkEvent& e, int64_t now);
  void on_timer(ClientContext& ctx, int64_t now);     // a record falls due
  void on_phase(ClientContext& ctx, int64_t now);     // ctx.phase changed
  // Sends what is due and fits the window (queued at the end of an event batch).
  void send_due(ClientContext& ctx, int64_t now);
  // Ends the producer where it stands: failed (the brokers are unreachable: the run says why), or
  // done (the drain deadline passed: its requests in flight stay unanswered).
  void give_up(ClientContext& ctx, bool failed, int64_t now);

  State state() const { return state_; }
  bool settled() const { return state_ == State::kDone || state_ == State::kFailed; }
  bool ever_ready() const { return ever_ready_; }
  uint32_t global_index() const { return global_index_; }
  int32_t partition() const { return partition_; }
  LinkId link() const { return link_; }
  uint64_t quota_left() const { return quota_left_; }
  bool send_queued = false;  // in ctx.send_queue

 private:
  void connect_to_leader(ClientContext& ctx, int64_t now);
  void became_ready(ClientContext& ctx, int64_t now);
  bool append_due(ClientContext& ctx, int64_t now);  // false: nothing (more) is due yet
  void on_response(ClientContext& ctx, const LinkEvent& e, int64_t now);
  void complete(ClientContext& ctx, const InFlight& request, int16_t error_code, int64_t now);
  void record_unsent_backlog(ClientContext& ctx, int64_t now);
  void finish(ClientContext& ctx, int64_t now);  // nothing left to send: flush (acks=0), then done
  void settle(ClientContext& ctx, State final_state, int64_t now);
  void fail(ClientContext& ctx, Failure why, int64_t now);
  void queue_send(ClientContext& ctx);

  uint32_t index_;
  uint32_t global_index_;
  State state_ = State::kWaitingMetadata;
  bool ever_ready_ = false;
  bool sending_started_ = false;
  bool needs_metadata_ = false;     // a leader error: wait for fresher metadata before sending
  bool unflushed_records_ = false;  // acks=0: records written since the last flush barrier
  bool measured_from_published_ = false;
  int8_t magic_ = 2;
  int16_t produce_version_ = -1;
  int32_t partition_ = -1;
  LinkId link_ = UINT32_MAX;
  uint64_t metadata_generation_ = 0;
  int64_t next_record_ns_ = 0;   // paced runs: intended time of the next record not yet sent
  uint64_t quota_left_;          // records still to send (UINT64_MAX: no --messages)
  uint64_t next_sequence_ = 0;   // sequence number of the next record (keys, --verify)
  std::string client_id_;
};

const char* producer_state_name(Producer::State s);

}  // namespace ws::driver
