// A worker: one thread, one event loop, a share of the simulated clients, its own metrics.
// A template over the loop type, so the I/O backend is chosen once and every I/O call is direct.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "driver/config.h"
#include "driver/metrics.h"
#include "driver/producer_client.h"
#include "driver/runner.h"
#include "net/event_loop.h"
#include "protocol/framing.h"
#include "protocol/records.h"

namespace ws::driver {

// A broker this worker talks to: a bootstrap address or a partition leader from Metadata.
struct BrokerEndpoint {
  net::Endpoint address;
  int32_t node_id = -1;  // -1 until Metadata names it
  // What the broker speaks, learnt once per worker and shared by its clients.
  bool versions_known = false;
  bool has_api_versions = true;
  int16_t produce_max = -1;
  int16_t metadata_max = -1;
  int16_t api_versions_max = -1;
};

template <typename Loop>
class Worker {
 public:
  Worker(const RunConfig& config, RunControl& control, Mailbox& mailbox, net::LoopOptions loop_options,
         std::vector<net::Endpoint> bootstrap, uint32_t first_client, uint32_t client_count,
         uint64_t message_quota);

  // Thread body. The event loop is created here, on the thread that uses it: io_uring rings are
  // set up single-issuer, so they must be created by their one submitting thread.
  void run();

 private:
  using Clock = std::chrono::steady_clock;
  struct Wake {
    int64_t at_ns;
    uint32_t client;
    bool operator>(const Wake& o) const { return at_ns > o.at_ns; }
  };

  // Life cycle of one client.
  void start_connect(uint32_t c, int64_t now);
  void on_connected(uint32_t c, int error, int64_t now);
  void release_connect_slot(uint32_t c, int64_t now);
  void on_data(uint32_t c, std::span<const uint8_t> data, int64_t now);
  void on_sent(uint32_t c, int error, int64_t now);
  void on_closed(uint32_t c, int error, int64_t now);
  void reset_connection(uint32_t c, Failure why, int64_t now, bool loop_already_closed);
  bool awaiting_unknown_api_versions(uint32_t c) const;
  void fall_back_to_0_9(uint16_t endpoint, int64_t now);
  void begin_session(uint32_t c, int64_t now);  // connected: negotiate, learn leader, produce
  void tick(uint32_t c, int64_t now);

  // Requests.
  void send_api_versions(uint32_t c, int64_t now);
  void send_metadata(uint32_t c, int64_t now);
  void maybe_send_produce(uint32_t c, int64_t now);
  bool append_produce(uint32_t c, int64_t now);  // false: nothing due yet
  // Requests are appended to the client's send buffer, then written with one send().
  template <typename Request>
  void append_request(uint32_t c, const Request& body, int16_t version, uint32_t records,
                      int64_t intended_ns, int64_t now, bool expects_response);
  void flush_sends(uint32_t c);

  // Responses.
  bool handle_frame(uint32_t c, std::span<const uint8_t> frame, int64_t now);
  bool handle_api_versions(uint32_t c, protocol::Reader& body, const InFlight& req, int64_t now);
  bool handle_metadata(uint32_t c, protocol::Reader& body, const InFlight& req, int64_t now);
  bool handle_produce(uint32_t c, protocol::Reader& body, const InFlight& req, int64_t now);
  void complete_produce(const InFlight& req, int16_t error_code, int64_t now);
  void record_unsent_backlog(int64_t now);

  void close_connection(uint32_t c);
  void queue_send(uint32_t c);  // maybe_send_produce once the current event batch is handled  // every close goes through here (see closed_in_batch)
  void schedule(uint32_t c, int64_t at_ns) { wakes_.push({at_ns, c}); }
  void use_fallback_versions(BrokerEndpoint& b);
  void finish(uint32_t c, int64_t now);  // nothing left to send: flush (acks=0), then settle
  void settle(uint32_t c);  // the client is done: close and count it
  void sweep_timeouts(int64_t now);
  void publish(bool finished);
  bool all_settled() const { return settled_ == clients_.size(); }
  int64_t backoff_ns(uint8_t attempts) const;
  uint16_t endpoint_for_node(int32_t node_id, std::string_view host, int32_t port);
  static int64_t now_ns();

  const RunConfig& config_;
  RunControl& control_;
  Mailbox& mailbox_;
  net::LoopOptions loop_options_;
  std::unique_ptr<Loop> loop_;
  std::vector<BrokerEndpoint> brokers_;
  std::vector<ProducerClient> clients_;
  size_t settled_ = 0;  // clients in kDone or kFailed
  bool stopping_ = false;
  int64_t end_ns_ = 0;  // --duration deadline (0 = none)
  int64_t drain_deadline_ns_ = 0;
  int64_t record_interval_ns_ = 0;  // paced runs: time between two records of one client
  uint32_t connecting_ = 0;
  uint64_t batch_ = 0;  // poll() batches so far
  std::deque<uint32_t> connect_queue_;  // clients waiting for a connect slot
  std::priority_queue<Wake, std::vector<Wake>, std::greater<>> wakes_;

  Metrics metrics_;
  // Reused for every request, so steady-state sending does not allocate.
  protocol::RecordSetWriter record_writer_;
  std::vector<uint8_t> record_buffer_;
  std::vector<uint8_t> payload_;
  std::string key_scratch_;
  protocol::ProduceRequest produce_request_;
  protocol::ProduceResponse produce_response_;
  protocol::MetadataResponse metadata_response_;
  protocol::ApiVersionsResponse api_versions_response_;
  std::vector<net::Event> events_;
  std::vector<uint32_t> send_queue_;
};

}  // namespace ws::driver
