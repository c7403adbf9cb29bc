// One simulated consumer: a small plain state machine, driven by its worker. It reads every
// partition of the topic on its own, as if alone in its consumer group (no coordinator).
//
//   WaitingMetadata -> Connecting -> Positioning -> Fetching -> Done
//                          ^                          |
//                          +--- leader moved / lost --+        any state -> Failed
//
// Positioning asks ListOffsets where to start (--consume-from); a positioned consumer is ready,
// and the producers start only once every consumer is (so nothing the run writes is missed).
// Fetching keeps one Fetch in flight and hands every record set to its RecordIntake (offsets,
// --verify checks, end-to-end latency). It stops when it has read its --messages, or when every
// producer is done and it holds everything they had acknowledged (or reached the log end).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "driver/client_context.h"
#include "driver/connections.h"
#include "driver/record_intake.h"

namespace ws::driver {

class Consumer {
 public:
  enum class State : uint8_t {
    kWaitingMetadata,
    kConnecting,
    kPositioning,  // ListOffsets in flight, or waiting to retry it
    kFetching,     // a Fetch in flight, or waiting to retry one
    kDone,
    kFailed,
  };

  // `index`: in the worker (its links' owner id); `global_index`: among the run's consumers.
  Consumer(uint32_t index, uint32_t global_index, std::string client_id, std::optional<uint64_t> quota);

  void start(ClientContext& ctx, int64_t now);
  void on_metadata(ClientContext& ctx, int64_t now);
  void on_link_event(ClientContext& ctx, const LinkEvent& e, int64_t now);
  void on_timer(ClientContext& ctx, int64_t now);  // a held-back request's retry
  // Every producer is done: a consumer that already holds everything stops now.
  void on_producers_done(ClientContext& ctx, int64_t now);
  // The run is over for consumers: settle as it is ("behind" if it still expected records).
  void stop(ClientContext& ctx, int64_t now);
  // Fails with `why` (the brokers are unreachable: the run says so).
  void give_up(ClientContext& ctx, const char* why, int64_t now);

  State state() const { return state_; }
  bool settled() const { return state_ == State::kDone || state_ == State::kFailed; }
  bool ever_ready() const { return ever_ready_; }
  bool fetching() const { return state_ == State::kFetching; }
  RecordIntake& intake() { return intake_; }
  const RecordIntake& intake() const { return intake_; }
  LinkId link() const { return link_; }

 private:
  void became_connected(ClientContext& ctx, int64_t now);
  void send_list_offsets(ClientContext& ctx, int64_t now);
  void send_fetch(ClientContext& ctx, int64_t now);
  template <typename Request>
  void send(ClientContext& ctx, const Request& request, int16_t version, int64_t now);  // the one in flight
  void handle_list_offsets(ClientContext& ctx, const LinkEvent& e, int64_t now);
  void handle_fetch(ClientContext& ctx, const LinkEvent& e, int64_t now);
  void retry_later(ClientContext& ctx, int64_t now);
  bool has_everything(const ClientContext& ctx) const;
  void mark_failing(const char* why);  // the first failure is the one reported
  void settle(ClientContext& ctx, State final_state, int64_t now);

  uint32_t index_;
  State state_ = State::kWaitingMetadata;
  bool ever_ready_ = false;
  bool request_in_flight_ = false;
  bool catch_up_fetch_ = false;  // the fetch in flight was sent after every producer was done
  int16_t fetch_version_ = -1;
  int16_t list_offsets_version_ = -1;
  LinkId link_ = UINT32_MAX;
  int64_t retry_at_ns_ = 0;
  std::string client_id_;
  RecordIntake intake_;
};

}  // namespace ws::driver
