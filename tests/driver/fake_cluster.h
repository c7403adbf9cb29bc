// A fake event loop with a scripted Kafka cluster behind it, for the driver's unit tests: a
// worker (or a ConnectionTable) runs on it with a fake clock, and every byte it writes is a
// request this file decodes and answers the way the script says (a modern broker, Kafka 0.9
// that ignores ApiVersions, a broker that refuses connections or never answers...). Tests assert
// on what went over the wire and on the driver's counters.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "net/event_loop.h"
#include "protocol/api_versions.h"
#include "protocol/fetch.h"
#include "protocol/framing.h"
#include "protocol/header.h"
#include "protocol/list_offsets.h"
#include "protocol/metadata.h"
#include "protocol/produce.h"
#include "protocol/records.h"
#include "protocol/sasl/kafka_framing.h"
#include "protocol/sasl/sasl.h"

namespace ws::testing {

class FakeLoop;

// One request as the fake broker saw it.
struct SeenRequest {
  net::ConnId conn;
  int port;
  int16_t api_key;
  int16_t api_version;
  int32_t correlation_id;
  std::string client_id;
};

// The scripted cluster: what each broker does, the topic, and what was seen.
struct FakeKafka {
  enum class Kind : uint8_t {
    kModern,             // answers ApiVersions (Produce 0-8, Fetch 0-11, Metadata 0-8, ListOffsets 0-5)
    kKafka09,            // no ApiVersions: drops the request without answering (Kafka 0.9.0.1)
    kClosesOnApiVersions,  // no ApiVersions: closes the connection (Kafka before 0.9)
  };
  struct Broker {
    int32_t node_id = 0;
    int port = 9092;
    bool refuse = false;          // connect fails with ECONNREFUSED
    bool blackhole = false;       // connect never completes
    bool close_after_connect = false;  // accepts, then closes at once (before any answer)
    bool silent = false;          // accepts and reads, never answers anything
  };

  Kind kind = Kind::kModern;
  std::vector<Broker> brokers{Broker{}};
  std::string topic = "t";
  int32_t partitions = 4;
  std::vector<int32_t> leaders;       // node id per partition; empty: broker 0 leads all
  int16_t topic_error = 0;            // Metadata answers this topic error
  int16_t produce_error = 0;          // every produce partition answers this error
  bool answer_acks0 = false;          // answer acks=0 produces anyway (librdkafka's mock does)
  int fetch_max_records = 0;          // records per partition in one fetch answer; 0: all
  // SASL: with users, every connection must authenticate after ApiVersions (mechanisms PLAIN,
  // SCRAM-SHA-256 and -512 unless `sasl_mechanisms` says otherwise). `sasl_v0_only`: no
  // SaslAuthenticate, so tokens go as bare frames (Kafka 0.10.0).
  std::map<std::string, std::string> sasl_users;
  std::vector<std::string> sasl_mechanisms{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"};
  bool sasl_v0_only = false;
  int sasl_logins = 0;  // exchanges that ended authenticated
  // Called for every produce request before it is answered: return an error code to answer with.
  std::function<int16_t(const SeenRequest&)> produce_hook;
  // Every answer passes through this before it is delivered (the driver fuzz target's hook): it
  // may change the bytes, cut them into several reads, drop them, or close the connection.
  struct AnswerEdit {
    std::vector<std::vector<uint8_t>> reads;  // delivered in this order; empty: nothing delivered
    bool close_after = false;                 // then the broker closes the connection
  };
  std::function<AnswerEdit(const SeenRequest& request, std::vector<uint8_t> frame)> answer_filter;
  // APIs beyond the ones above (a fake group coordinator, tests/driver/fake_group_coordinator.h):
  // asked for every request this file does not answer itself (true: handled), advertised in
  // ApiVersions with these (key, max version) ranges, and woken at every poll (to answer later).
  std::function<bool(FakeLoop& loop, const SeenRequest& request, protocol::Reader& body)> other_api;
  std::vector<std::pair<int16_t, int16_t>> other_api_versions;
  std::function<void(FakeLoop& loop)> on_poll;
  // Idempotent producers (KIP-98): with `idempotence`, InitProducerId is advertised and answered
  // (a new id, or with v3+ and a known id the next epoch, which starts its sequences at 0), and a
  // batch carrying a producer id must start at the next sequence of its (id, partition): one
  // below is DUPLICATE_SEQUENCE_NUMBER, one above OUT_OF_ORDER_SEQUENCE_NUMBER, neither written.
  bool idempotence = false;
  int64_t next_producer_id = 1000;
  std::map<int64_t, int16_t> producer_epochs;
  std::map<std::pair<int64_t, int32_t>, int32_t> next_sequence;  // (producer id, partition) -> expected
  int16_t init_producer_id_error = 0;  // answer InitProducerId with this error (0: none)

  // What was seen.
  std::vector<SeenRequest> requests;
  std::map<int32_t, std::vector<std::string>> records;  // partition -> values, in offset order
  std::map<int32_t, std::vector<std::string>> keys;     // partition -> keys ("" for null), the same order
  std::map<int, int> produce_partitions_per_request;    // partitions a produce request carried -> requests
  std::map<int32_t, int64_t> log_start;                 // partition -> first offset kept (default 0)
  int connects = 0;

  int count(int16_t api_key) const;
  size_t stored_records() const;  // in every partition's log
  const Broker* broker_at(int port) const;
  int32_t leader_of(int32_t partition) const;
};

// The net/ loop interface (see net/event_loop.h), in memory. Connects, sends and closes are
// recorded; the fake broker answers at once, and every answer and completion is an event of the
// next poll(). Time does not pass here: the test's clock does.
class FakeLoop {
 public:
  // The cluster every FakeLoop created afterwards talks to (tests set it before the worker opens
  // its loop).
  static FakeKafka*& cluster();
  static std::unique_ptr<FakeLoop> create(const net::LoopOptions& options, std::string& error);

  void connect(net::ConnId conn, const net::Endpoint& endpoint, const net::Endpoint* source = nullptr);
  void send(net::ConnId conn, const uint8_t* data, size_t size);
  void send(net::ConnId conn, std::span<const iovec> parts);
  void close(net::ConnId conn);
  size_t poll(std::span<net::Event> out, int timeout_ms);
  const char* name() const { return "fake"; }
  const net::LoopStats& stats() const { return stats_; }

  // Test controls.
  void hold_sends(bool hold) { hold_sends_ = hold; }  // kSent only when released
  void release_sends();
  void close_from_broker(net::ConnId conn);           // the broker closes this connection
  // The broker at `port` dies: its connections close, new ones are refused.
  void kill_broker(int port);
  void inject(net::ConnId conn, std::vector<uint8_t> bytes);  // raw bytes from the broker
  size_t pending_events() const { return queue_.size(); }
  int open_connections() const;
  bool is_open(net::ConnId conn) const {
    const auto it = conns_.find(conn);
    return it != conns_.end() && it->second.open;
  }
  std::vector<net::ConnId> closed;  // close() calls, in order
  size_t most_bytes_between_polls = 0;    // the most bytes passed to send() between two polls
  size_t gathered_sends = 0;              // gathered send() calls
  std::vector<std::string> sources;  // the source address of each connect() that had one

 private:
  struct Conn {
    bool open = false;
    int port = 0;
    bool connected = false;
    std::vector<uint8_t> inbound;  // request bytes not yet a whole frame
    bool authenticated = false;
    bool bare_tokens = false;  // after SaslHandshake v0: the next frame is a bare token
    std::shared_ptr<protocol::sasl::ServerExchange> sasl;
  };
  void answer_sasl_token(net::ConnId conn, std::span<const uint8_t> token, int32_t corr, int16_t version);
  protocol::sasl::UserStore sasl_store_;
  void answer(net::ConnId conn, std::span<const uint8_t> frame);
  void receive(net::ConnId conn, const uint8_t* data, size_t size);  // the broker reads written bytes
  void receive_parts(net::ConnId conn, std::span<const iovec> parts);
  void queue_data(net::ConnId conn, std::vector<uint8_t> bytes);

  FakeKafka* kafka_ = nullptr;
  const SeenRequest* answering_ = nullptr;  // the request answer() is answering, for answer_filter
  std::map<net::ConnId, Conn> conns_;
  std::deque<net::Event> queue_;
  std::deque<std::vector<uint8_t>> store_;  // data of every kData event
  std::vector<net::ConnId> held_sends_;
  struct HeldGather {
    net::ConnId conn;
    std::vector<iovec> parts;
  };
  std::vector<HeldGather> held_gathers_;  // read by the broker only when released
  bool hold_sends_ = false;
  size_t bytes_since_poll_ = 0;
  net::LoopStats stats_;
};

// A response frame (size prefix, header, body) as a broker writes it.
template <typename Response>
std::vector<uint8_t> response_frame(int32_t correlation_id, int16_t api_key, int16_t version, const Response& body) {
  std::vector<uint8_t> out;
  protocol::Writer w(out);
  const size_t start = w.reserve(4);
  protocol::ResponseHeader header;
  header.correlation_id = correlation_id;
  header.encode(w, protocol::response_header_version(api_key, version));
  body.encode(w, version);
  w.patch_i32(start, static_cast<int32_t>(out.size() - start - 4));
  return out;
}

}  // namespace ws::testing
