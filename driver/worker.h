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
#include "driver/client.h"
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
  int16_t fetch_max = -1;
  int16_t list_offsets_max = -1;
};

// Which clients a worker runs: producers [first_producer, +producers) and consumers
// [first_consumer, +consumers), numbered across all workers per role.
struct WorkerShare {
  uint32_t first_producer = 0;
  uint32_t producers = 0;
  uint64_t producer_quota = 0;  // --messages share of these producers (0 with --messages=0)
  uint32_t first_consumer = 0;
  uint32_t consumers = 0;
};

template <typename Loop>
class Worker {
 public:
  Worker(const RunConfig& config, RunControl& control, Mailbox& mailbox, net::LoopOptions loop_options,
         std::vector<net::Endpoint> bootstrap, const WorkerShare& share);

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
  bool retry_metadata(uint32_t c, int16_t error_code, int64_t now);  // false: gave up (client failed)
  // Reconnects to the leader if it is another broker; true if it did (the connection is gone).
  bool move_to_leader(uint32_t c, const protocol::MetadataResponse::MetadataResponseBroker& leader, int64_t now);
  bool handle_produce(uint32_t c, protocol::Reader& body, const InFlight& req, int64_t now);
  void complete_produce(uint32_t c, const InFlight& req, int16_t error_code, int64_t now);
  void record_unsent_backlog(int64_t now);
  void fill_values(Client& cl, uint32_t count, int64_t first_intended_ns, int64_t now);  // --verify stamps

  // Consumers: Metadata -> ListOffsets (where to start) -> Fetch, Fetch, ...
  bool consumer_metadata(uint32_t c, const protocol::MetadataResponse& response, int64_t now);
  void send_list_offsets(uint32_t c, int64_t now);
  void send_fetch(uint32_t c, int64_t now);
  bool handle_list_offsets(uint32_t c, protocol::Reader& body, const InFlight& req, int64_t now);
  bool handle_fetch(uint32_t c, protocol::Reader& body, const InFlight& req, int64_t now);
  void mark_failing(uint32_t c, const char* why);  // a consumer's first failure is the one reported
  void consumers_stop(int64_t now);                // the run ended: settle consumers as they are
  bool producers_may_start(int64_t now) const;
  bool has_everything(const ConsumerState& cs) const;  // every record the producers acknowledged
  void publish_consumer_tallies();

  void close_connection(uint32_t c);  // every close goes through here (see closed_in_batch)
  void queue_send(uint32_t c);  // maybe_send_produce once the current event batch is handled
  void schedule(uint32_t c, int64_t at_ns) { wakes_.push({at_ns, c}); }
  void use_fallback_versions(BrokerEndpoint& b);
  void finish(uint32_t c, int64_t now);  // nothing left to send: flush (acks=0), then settle
  void settle(uint32_t c);  // the client is done: close and count it
  void count_settled(uint32_t c);  // kDone or kFailed reached: tell the worker and the run
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
  std::vector<Client> clients_;
  size_t settled_ = 0;  // clients in kDone or kFailed
  uint32_t producer_count_ = 0;  // clients_[0, producer_count_) produce, the rest consume
  bool producers_done_ = false;  // every producer of the run (all workers) finished or timed out
  int64_t consumer_deadline_ns_ = 0;  // consumers still catching up by then count as behind
  uint64_t acked_total_ = 0;  // records all producers had acknowledged when they were done
  int64_t gate_deadline_ns_ = 0;  // producers stop waiting for unpositioned consumers then
  int64_t measure_start_ns_ = 0;
  bool past_warmup_ = false;  // published the warm-up's numbers (Mailbox::measuring)
  std::span<const std::atomic<uint64_t>> measured_from_;  // RunControl::producer_measured_from (--verify)
  int64_t wall_minus_steady_ns_ = 0;  // Unix time = steady time + this (for --verify stamps)
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
  protocol::FetchRequest fetch_request_;
  protocol::FetchResponse fetch_response_;
  protocol::ListOffsetsResponse list_offsets_response_;
  std::vector<uint8_t> values_;  // --verify: one stamped value per record of the request being built
  std::vector<net::Event> events_;
  std::vector<uint32_t> send_queue_;
};

}  // namespace ws::driver
