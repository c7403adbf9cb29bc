// ConnectionTable: every TCP connection of one worker, as "links" (one client's connection to one
// broker, kept across reconnects). It owns what every client needs and none should repeat:
//  - connect slots: at most --max-connecting handshakes in progress per process (split over
//    workers), so the broker's listen backlog never overflows;
//  - the handshake: ApiVersions where the broker has it, Metadata on Kafka 0.9 (which has no
//    ApiVersions), with the broker's versions probed once per process (BrokerRegistry), then
//    SASL where security.protocol asks for it (SaslHandshake, then the mechanism's tokens in
//    SaslAuthenticate requests, or as bare frames after a v0 handshake). A slot is freed when the
//    handshake is done: the connection is usable then, whatever the client does next (an acks=0
//    producer never gets another answer);
//  - backoff: exponential from the first failure, with +-20% jitter, up to
//    --reconnect-backoff-max; reset only by a good response, not by a TCP connect;
//  - timeouts (connect, handshake, requests) and the response stream: frames reassembled,
//    matched to their requests by correlation id, headers read.
//
// It does no I/O itself (the sans-I/O model): it queues what the event loop must do (connect,
// send, close) in io_ops(), and what its owners must hear (ready, lost, a response, a request
// written) in events(). The worker executes the first and routes the second; a unit test reads
// both. No allocation per request once buffers have grown.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "driver/brokers.h"
#include "driver/config.h"
#include "driver/in_flight.h"
#include "driver/metrics.h"
#include "driver/timers.h"
#include "net/event_loop.h"
#include "protocol/framing.h"
#include "protocol/sasl/sasl.h"

namespace ws::driver {

using LinkId = uint32_t;  // also the event loop's connection id
inline constexpr uint32_t kWorkerOwner = UINT32_MAX;  // links of the worker itself (metadata)
// InFlight::api_key of a bare SASL token frame (after SaslHandshake v0): no Kafka header either way.
inline constexpr int16_t kSaslTokenFrame = -2;

enum class LinkState : uint8_t {
  kIdle,        // no connection, none wanted
  kWaiting,     // wanted: waits for its backoff, a connect slot, the broker's address or its probe
  kConnecting,  // TCP connect in progress (holds a connect slot)
  kHandshake,   // connected, first request in flight (holds a connect slot)
  kReady,       // usable
};
const char* link_state_name(LinkState s);

struct Link {
  uint32_t owner = kWorkerOwner;  // a client index in the worker, or kWorkerOwner
  uint32_t broker = BrokerRegistry::kNone;
  LinkState state = LinkState::kIdle;
  bool probing = false;           // this connection's ApiVersions decides the broker's versions
  bool holds_slot = false;
  bool queued_for_slot = false;
  bool send_in_progress = false;
  bool acks0_producer = false;    // unanswered produce responses (librdkafka's mock) are skipped
  bool priority = false;          // jumps the connect-slot queue (the worker's metadata link)
  uint8_t failures = 0;           // consecutive, reset by the first good response
  int16_t source = -1;            // --source-addresses: the local address it binds to (-1: none)
  int16_t api_versions_version = protocol::ApiVersionsRequest::kMaxVersion;
  int32_t next_correlation_id = 1;
  uint32_t generation = 0;        // bumped whenever the connection is dropped
  int64_t wake_ns = 0;            // kWaiting: not before; kConnecting/kHandshake: deadline
  int64_t handshake_sent_ns = 0;
  // Milestones of the current connection attempt (0: not reached), for per-stage handshake
  // latencies (driver/storm.h): connect issued, connected (TCP, and TLS over a TlsLoop), ApiVersions
  // answered.
  int64_t connect_started_ns = 0;
  int64_t connected_ns = 0;
  int64_t negotiated_ns = 0;
  uint64_t closed_in_batch = 0;   // the event batch in which its connection was last closed
  const std::string* client_id = nullptr;
  BrokerVersions versions;        // what this connection speaks (valid once kReady)
  InFlightRing in_flight;
  // Requests are appended to `out`, which flush() hands to the loop (one send() in flight per
  // connection). Requests appended while it is being written wait in `later` (rare: the owners
  // mostly append after kWritable), so only `out` grows to the size of a write. Once written,
  // `out` goes back to the table's spare buffers (ConnectionTable::write_buffer): an idle
  // connection holds none.
  std::vector<uint8_t> out;
  std::vector<uint8_t> later;
  // Large produce record sets sent from the encoder's buffers instead of copied into `out`
  // (ConnectionTable::append_produce), each after out's first `at` bytes, in one gathered send.
  // `owner` keeps its buffer from being rewritten or freed until the send is complete.
  struct Borrowed {
    size_t at;
    std::span<const uint8_t> bytes;
    std::shared_ptr<const std::vector<uint8_t>> owner;
  };
  std::vector<Borrowed> borrowed;
  uint32_t unflushed = 0;            // requests appended since the last flush (the last of in_flight)
  std::vector<uint8_t> partial;      // bytes of an incomplete response frame
  size_t partial_consumed = 0;       // front bytes of `partial` already handed out as frames
  size_t partial_accounted = 0;      // what `partial` counts against the receive budget now
};

// What the owner of a link must hear. Frames are views into the event loop's buffers or the
// link's own; they stay valid until the next receive on the link (the worker handles them first).
struct LinkEvent {
  enum Kind : uint8_t {
    kReady,     // handshake answered: send at will
    kLost,      // the connection failed or broke; lost() holds the requests it had in flight
    kResponse,  // a response to `request`, body in `body`
    kWritten,   // a request that expects no response (acks=0) is on the wire
    kWritable,  // a write completed: nothing of this link is being written now
  };
  Kind kind = kReady;
  LinkId link = 0;
  uint32_t generation = 0;
  Failure why = Failure::kCount;  // kLost
  InFlight request{};             // kResponse, kWritten
  protocol::Bytes body;           // kResponse: after the response header
  uint32_t lost_first = 0;        // kLost: range in lost_requests()
  uint32_t lost_count = 0;

  static LinkEvent make(Kind kind, LinkId link, uint32_t generation, Failure why = Failure::kCount) {
    LinkEvent e;
    e.kind = kind;
    e.link = link;
    e.generation = generation;
    e.why = why;
    return e;
  }
};

// What the loop must do, in order.
struct IoOp {
  enum Kind : uint8_t { kConnect, kSend, kClose };
  Kind kind;
  LinkId link;
  uint32_t generation;  // a send queued for a connection dropped since is not executed
};

class ConnectionTable {
 public:
  ConnectionTable(const RunConfig& config, BrokerRegistry& brokers, RunCounters& counters, TimerQueue& timers,
                  uint64_t seed);

  struct OpenOptions {
    uint32_t window = 2;          // requests in flight it expects (the ring's initial size)
    bool priority = false;        // jump the connect-slot queue
    bool acks0_producer = false;  // see Link::acks0_producer
  };
  // A new link from `owner` to `broker`; it connects as soon as a slot (and the broker's
  // address and versions) allow. `client_id` must outlive the link.
  LinkId open(uint32_t owner, uint32_t broker, const std::string* client_id, int64_t now, OpenOptions options);
  // Closes the connection and forgets the link; nothing is reported to the owner (it asked).
  void close(LinkId id, int64_t now);
  // Points the link at another broker: the old connection closes (its requests in flight are
  // reported lost, as kLost with Failure::kDisconnected), the new one connects, not before
  // `not_before_ns` (0: now).
  void retarget(LinkId id, uint32_t broker, int64_t now, int64_t not_before_ns = 0);
  // Connect again now if the link is waiting out a backoff (the owner learnt something new).
  void retry_now(LinkId id, int64_t now);
  // --churn: closes a ready connection and connects the link again at once, as a restarted client
  // would (counted as connections_churned). Requests still in flight are reported lost.
  void reconnect(LinkId id, int64_t now);

  // Bytes the links hold for split response frames (their buffers' capacity, against
  // receive_budget_per_worker).
  size_t buffered_bytes() const { return buffered_bytes_; }
  // Bytes of write buffers handed to the loop so far (it only grows; borrowed record sets are the
  // encoder's, not counted): the worker paces new writes by it.
  uint64_t bytes_flushed() const { return bytes_flushed_; }
  Link& link(LinkId id) { return links_[id]; }
  const Link& link(LinkId id) const { return links_[id]; }
  size_t size() const { return links_.size(); }

  // Sending. Requests are appended to the link's queue and go out together with one send() at
  // flush(). While a write is in progress the queue waits for it (kWritable says when it is done);
  // a request's sent_ns is the time it was handed to the loop.
  bool ready(LinkId id) const { return links_[id].state == LinkState::kReady; }
  bool writing(LinkId id) const { return links_[id].send_in_progress; }
  // Bytes appended and not yet handed to the loop.
  size_t queued_bytes(LinkId id) const {
    const Link& l = links_[id];
    if (l.send_in_progress) return l.later.size();
    size_t bytes = l.out.size();
    for (const Link::Borrowed& b : l.borrowed) bytes += b.bytes.size();
    return bytes;
  }
  template <typename Request>
  size_t append(LinkId id, const Request& body, int16_t version, InFlight meta);
  // A produce request whose last record set lives in `*owner`'s buffer (null: nowhere a send may
  // keep). When the loop gathers (allow_gathered_sends), nothing of the link is being written, the
  // version ends the request with that set (v0-8) and it is large, the set is not copied: it goes
  // out from that buffer after the rest of the request, which is held until then (a reference is
  // taken only then: requests that copy pay no reference count). Otherwise, as append().
  size_t append_produce(LinkId id, protocol::ProduceRequest& body, int16_t version, InFlight meta,
                        const std::shared_ptr<std::vector<uint8_t>>* owner);
  void allow_gathered_sends(bool allow) { gathered_sends_ = allow; }
  // A gathered send of link `id`'s queue: `out` with its borrowed sets in place. Valid until the
  // next call (the loop copies the array).
  std::span<const iovec> send_parts(LinkId id);
  // Sets borrowed by sends of connections closed since: held until the loop's poll() after the
  // close has returned (event_loop.h), which is when the worker calls this.
  void release_dropped_sends() { dropped_sends_.clear(); }
  // Below this, copying a record set costs less than a second part in the send.
  static constexpr size_t kLeastBorrowedBytes = 4096;
  void flush(LinkId id, int64_t now);

  // Event loop input. `detail` says why a connect failed where the loop knows (TLS: OpenSSL's
  // reason).
  void on_connected(LinkId id, int error, int64_t now, std::string_view detail = {});
  void on_sent(LinkId id, int64_t now);
  void on_closed(LinkId id, int error, int64_t now);
  void on_data(LinkId id, protocol::Bytes data, int64_t now);
  // Its timer fired (a backoff expired).
  void on_timer(LinkId id, int64_t now);
  // Every ~100 ms: connect and request timeouts, the Kafka 0.9 probe, links waiting on another
  // worker's probe or a host name lookup.
  void sweep(int64_t now);
  // The owner gives up the connection with an error of its own (a response it cannot decode).
  void fail(LinkId id, Failure why, int64_t now);

  // The event batch the worker is in (see Link::closed_in_batch).
  void set_batch(uint64_t batch) { batch_ = batch; }
  bool closed_in_this_batch(LinkId id) const { return links_[id].closed_in_batch == batch_; }

  // Outputs, drained by the worker.
  std::vector<IoOp>& io_ops() { return io_ops_; }
  std::vector<LinkEvent>& events() { return events_; }
  std::span<const InFlight> lost_requests(const LinkEvent& e) const {
    return {lost_.data() + e.lost_first, e.lost_count};
  }
  void clear_events() {
    events_.clear();
    lost_.clear();
  }
  // Where a link connects (valid when its connect op is executed), and from where (nullptr: any).
  const net::Endpoint& endpoint(LinkId id) const { return endpoints_[links_[id].broker]; }
  const net::Endpoint* source(LinkId id) const {
    return links_[id].source < 0 ? nullptr : &sources_[static_cast<size_t>(links_[id].source)];
  }

  // At the end: requests still waiting for a response, by API key.
  void count_unanswered(std::map<int16_t, uint64_t>& out) const;
  uint32_t connecting() const { return connecting_; }
  // Some connection of this worker completed a handshake (the brokers are reachable at all).
  bool has_ever_connected() const { return ever_ready_; }
  // What no retry can fix (credentials refused, a SASL mechanism the broker does not offer, a
  // certificate that does not verify), as one line: the worker ends the run with it. Empty: none.
  const std::string& fatal() const { return fatal_; }

  // Backoff before attempt `failures` + 1 (exposed for tests): base x 2^(failures-1), capped,
  // +-20% jitter.
  int64_t backoff_ns(uint8_t failures);

 private:
  void try_connect(LinkId id, int64_t now);
  void start_connect(LinkId id, int64_t now);
  void send_handshake(LinkId id, int64_t now);
  void handshake_done(LinkId id, int64_t now);
  void handle_api_versions(LinkId id, const InFlight& request, protocol::Bytes body, int64_t now);
  void fall_back_to_0_9(LinkId id, int64_t now);
  // Drops the connection: reports kLost (with the requests in flight) and waits out a backoff.
  void reset(LinkId id, Failure why, int64_t now, bool loop_closed_it);
  void drop_connection(Link& l, bool loop_closed_it, int64_t now);
  // Tells the owner the connection is gone, with the requests it had in flight.
  void report_lost(LinkId id, Failure why);
  void release_slot(Link& l, int64_t now);
  void queue_op(IoOp::Kind kind, LinkId id) { io_ops_.push_back({kind, id, links_[id].generation}); }
  void arm(LinkId id, int64_t at_ns) { timers_.arm(at_ns, TimerTarget{TimerTarget::kLink, id}); }
  bool take_frame(LinkId id, std::span<const uint8_t> frame, int64_t now);  // false: link reset
  // Split frames: the links' buffer capacity counts against config_.receive_budget_per_worker.
  bool reserve_partial(Link& l, std::span<const uint8_t> more);  // false: over the budget
  void drop_partial(Link& l);
  void account_partial(Link& l);  // buffered_bytes_ after l.partial changed
  void release_partial_capacity(Link& l);
  static constexpr size_t kKeptPartialCapacity = 64 * 1024;
  // Where a request for `l` is encoded: `later` while `out` is being written, else `out`, which
  // takes a spare buffer if it has none. Writes complete within a poll or two, so a few spare
  // buffers serve thousands of connections: the pages a run touches for its writes are those of
  // the writes in progress at once, not those of every connection's largest write (500 clients
  // growing their own buffers cost 2,400 page faults, 18 µs each on a VM with shadow paging).
  std::vector<uint8_t>& write_buffer(Link& l);
  void drop_borrowed(Link& l);  // its connection is closed: the sets go to dropped_sends_
  bool gathered_sends_ = false;
  std::vector<std::shared_ptr<const std::vector<uint8_t>>> dropped_sends_;
  std::vector<iovec> send_parts_;
  void spare_write_buffer(Link& l);  // l.out, written, back to the spare buffers
  static constexpr size_t kSpareWriteBuffers = 256;              // kept at most
  static constexpr size_t kLargestSpareWriteBuffer = 256 * 1024;  // larger ones are freed
  std::vector<std::vector<uint8_t>> spare_writes_;  // last in, first out: the warmest first
  uint64_t bytes_flushed_ = 0;
  void emit(LinkEvent::Kind kind, LinkId id) { events_.push_back(LinkEvent::make(kind, id, links_[id].generation)); }
  void retry_waiters(int64_t now);  // links waiting on a probe or a name lookup
  // SASL, after ApiVersions.
  void start_sasl(LinkId id, int64_t now);
  void handle_sasl_handshake(LinkId id, const InFlight& request, protocol::Bytes body, int64_t now);
  void handle_sasl_authenticate(LinkId id, const InFlight& request, protocol::Bytes body, int64_t now);
  void on_sasl_token(LinkId id, std::span<const uint8_t> token, int64_t now);
  void send_sasl_token(LinkId id, std::span<const uint8_t> token, int64_t now);
  // Counts `why`, keeps `message` as the run's fatal condition (the first one), drops the link.
  void fail_fatally(LinkId id, Failure why, std::string message, int64_t now);

  const RunConfig& config_;
  BrokerRegistry& brokers_;
  RunCounters& counters_;
  TimerQueue& timers_;
  size_t buffered_bytes_ = 0;  // sum of the links' partial_accounted
  std::vector<Link> links_;
  std::vector<LinkId> free_links_;
  std::vector<net::Endpoint> endpoints_;  // by broker index, copied from the registry once resolved
  std::vector<net::Endpoint> sources_;    // --source-addresses, port 0
  size_t next_source_ = 0;
  std::deque<LinkId> slot_queue_;
  uint32_t connecting_ = 0;
  uint64_t batch_ = 0;
  uint64_t rng_;
  bool ever_ready_ = false;
  std::vector<IoOp> io_ops_;
  std::vector<LinkEvent> events_;
  std::vector<InFlight> lost_;
  std::vector<LinkId> waiters_;  // waiting on another connection's probe or a host name lookup
  std::vector<std::string> handshake_topics_;  // what a Kafka 0.9 handshake asks Metadata for
  // SASL exchanges in progress, by link: only while a connection authenticates (a few at a time,
  // bounded by the connect slots), so 10,000 ready links carry none.
  struct SaslSession {
    protocol::sasl::ClientExchange exchange;
    bool framed;  // tokens in SaslAuthenticate requests (Handshake v1), or bare frames (v0)
  };
  std::unordered_map<LinkId, std::unique_ptr<SaslSession>> sasl_;
  protocol::sasl::Mechanism sasl_mechanism_ = protocol::sasl::Mechanism::kPlain;
  std::string fatal_;
};

template <typename Request>
size_t ConnectionTable::append(LinkId id, const Request& body, int16_t version, InFlight meta) {
  Link& l = links_[id];
  meta.correlation_id = l.next_correlation_id++;
  if (l.next_correlation_id == INT32_MAX) l.next_correlation_id = 1;
  meta.api_key = Request::kApiKey;
  meta.api_version = version;
  const size_t size = protocol::encode_request(write_buffer(l), body, version, meta.correlation_id,
                                               l.client_id ? std::optional<std::string_view>(*l.client_id)
                                                           : std::optional<std::string_view>("wirestress"));
  l.in_flight.push(meta);
  ++l.unflushed;
  return size;
}

// Whether `Loop` has the gathered send (net/event_loop.h): io_uring and Asio, not TLS.
template <typename Loop>
constexpr bool kLoopGathers = requires(Loop& loop, std::span<const iovec> parts) { loop.send(net::ConnId{}, parts); };

// Hands the bytes flush() queued for link `id` to `loop` (an IoOp::kSend): `out`, with the
// record sets it borrowed in their places, in one send.
template <typename Loop>
void start_send(Loop& loop, ConnectionTable& links, LinkId id) {
  const Link& l = links.link(id);
  if constexpr (kLoopGathers<Loop>) {
    if (!l.borrowed.empty()) return loop.send(id, links.send_parts(id));
  }
  loop.send(id, l.out.data(), l.out.size());
}

}  // namespace ws::driver
