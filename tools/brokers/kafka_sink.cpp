// ws_kafka_sink: a minimal Kafka broker stand-in on 127.0.0.1 that accepts Produce requests and
// throws the records away, so wirestress can be measured without a broker's cost in the numbers.
//
// Shard-per-core: one thread = one net/ event loop (io_uring, else Asio) with its own listener on
// the shared port (SO_REUSEPORT), so the kernel spreads connections over the threads and no
// connection, buffer or counter is ever handed between them. (One listener on one thread would
// need a hand-off of accepted sockets between loops.) Counters are published with relaxed stores
// and summed by the main thread at each tick.
//
// With --sasl-users the sink is a SASL server (PLAIN, SCRAM-SHA-256/512): a connection may send
// only ApiVersions and SaslHandshake until it has authenticated, by bare token frames after
// SaslHandshake v0 (Kafka 0.10's flow) or by SaslAuthenticate requests after v1.
//
// With --tls-cert and --tls-key the listener speaks TLS (SSL, or SASL_SSL with --sasl-users): each
// shard's loop is wrapped in net/'s TlsLoop, which decrypts on the shard's own thread, so the
// shard code is the same with and without TLS. No client certificates are asked for.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "net/asio_loop.h"
#include "net/event_loop.h"
#include "net/tls.h"
#include "net/tls_loop.h"
#include "net/uring_loop.h"
#include "protocol/api_versions.h"
#include "protocol/errors.h"
#include "protocol/framing.h"
#include "protocol/header.h"
#include "protocol/metadata.h"
#include "protocol/produce.h"
#include "protocol/records.h"
#include "protocol/sasl/kafka_framing.h"
#include "protocol/sasl/sasl.h"
#include "protocol/sasl_authenticate.h"
#include "protocol/sasl_handshake.h"

namespace {

using namespace ws::protocol;
using ws::net::ConnId;
using sasl::Mechanism;

enum class Io { kUring, kAsio };

struct SinkOptions {
  int port = 0;
  int32_t partitions = 8;
  int threads = 1;
  bool validate = false;
  double stats_interval_s = 1.0;
  double duration_s = 0.0;
  // --max-rate: records/s the sink accepts at most (0 = no limit), a broker of known capacity for
  // testing capacity searches. Beyond it, produce requests wait unread in the socket, as they do
  // in front of a saturated broker.
  double max_rate = 0;
  Io io = Io::kUring;
  // --sasl-users: SASL on, with these users; --sasl-mechanisms: what SaslHandshake accepts.
  sasl::UserStore::Passwords sasl_users;
  std::vector<Mechanism> sasl_mechanisms;
  bool sasl() const { return !sasl_users.empty(); }
  // --tls-cert, --tls-key: PEM files; with them the listener speaks TLS.
  std::string tls_cert;
  std::string tls_key;
  bool tls() const { return !tls_cert.empty(); }
};

// The versions the sink answers are sink_max in protocol/framing.h's table.
int16_t sink_max(int16_t api_key) { return find_api(api_key)->sink_max; }
bool is_sasl_api(int16_t api_key) {
  return api_key == SaslHandshakeRequest::kApiKey || api_key == SaslAuthenticateRequest::kApiKey;
}

constexpr const char* kHost = "127.0.0.1";
// Stop reading from a connection whose client does not read its responses.
constexpr size_t kMaxPendingOutput = 64u << 20;
// Buffers kept by a slot for its next connection; larger ones are given back.
constexpr size_t kKeepBuffer = 1u << 20;

// Counters one worker owns; the main thread reads them (relaxed) for interval lines and totals.
struct ShardCounters {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> records{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> closed{0};
  std::atomic<uint64_t> crc_errors{0};
  std::atomic<uint64_t> decode_errors{0};
  std::atomic<uint64_t> sasl_ok{0};
  std::atomic<uint64_t> sasl_failed{0};
  std::atomic<uint64_t> tls_handshakes{0};
  std::atomic<uint64_t> tls_handshake_failures{0};
};

struct Totals {
  uint64_t requests = 0, records = 0, bytes = 0, accepted = 0, closed = 0, crc_errors = 0,
           decode_errors = 0, sasl_ok = 0, sasl_failed = 0, tls_handshakes = 0, tls_handshake_failures = 0;
};

std::atomic<bool> g_stop{false};

// Where a connection stands with SASL (always kOpen when SASL is off).
enum class Auth : uint8_t {
  kOpen,                  // authenticated: every API the sink knows
  kNeedHandshake,         // ApiVersions and SaslHandshake only
  kAuthenticateRequests,  // after SaslHandshake v1: SaslAuthenticate requests only
  kBareTokens,            // after SaslHandshake v0: frames are bare tokens, no Kafka header
};

// One client connection, indexed by the ConnId the loop gave it. In the steady state `in` is
// empty: requests are answered straight from the loop's receive buffers.
struct Connection {
  bool open = false;
  bool throttled = false;   // holds an unanswered produce request until the rate budget refills
  bool backlogged = false;  // the client does not read its responses: receiving paused
  bool dirty = false;       // on the to-send list
  bool closing = false;     // closes once its last response is sent (a refused authentication)
  Auth auth = Auth::kOpen;
  std::optional<sasl::ServerExchange> exchange;  // between SaslHandshake and the end of the login
  std::vector<uint8_t> in;       // an incomplete request, or those held while throttled
  std::vector<uint8_t> out;      // responses not yet handed to the loop
  std::vector<uint8_t> sending;  // handed to loop.send(), until kSent
};

template <typename Loop>
class SinkShard {
 public:
  SinkShard(const SinkOptions& options, std::unique_ptr<Loop> loop, ShardCounters& counters)
      : options_(options), loop_(std::move(loop)), counters_(counters),
        offsets_(static_cast<size_t>(options.partitions), 0), users_(options.sasl_users) {
    metadata_.brokers.resize(1);
    metadata_.brokers[0].node_id = 0;
    metadata_.brokers[0].host = kHost;
    metadata_.controller_id = 0;
    metadata_.cluster_id = "ws-kafka-sink";
    partition_template_.resize(static_cast<size_t>(options.partitions));
    for (int32_t p = 0; p < options.partitions; ++p) {
      auto& part = partition_template_[static_cast<size_t>(p)];
      part.partition_index = p;
      part.leader_id = 0;
      part.replica_nodes = {0};
      part.isr_nodes = {0};
    }
    for (const ApiSupport& api : kSupportedApis) {
      if (api.sink_max < 0 || (is_sasl_api(api.api_key) && !options.sasl())) continue;
      ApiVersionsResponse::ApiVersion v;
      v.api_key = api.api_key;
      v.min_version = api.min_version;
      v.max_version = api.sink_max;
      api_versions_.api_keys.push_back(v);
    }
    for (Mechanism m : options.sasl_mechanisms) {
      sasl_handshake_response_.mechanisms.push_back(sasl::mechanism_name(m));
    }
  }

  bool listen(const ws::net::Endpoint& where, bool shared_port, std::string& error) {
    ws::net::ListenOptions listen_options;
    listen_options.reuse_port = shared_port;
    return loop_->listen(where, listen_options, error);
  }
  uint16_t port() const { return loop_->listen_port(); }
  void set_port(int port) { metadata_.brokers[0].port = port; }

  void run() {
    std::vector<ws::net::Event> events(512);
    while (!g_stop.load(std::memory_order_relaxed)) {
      // Throttled connections are resumed by the clock, not by socket events: wake every ms.
      const size_t n = loop_->poll(events, throttled_.empty() ? 50 : 1);
      for (size_t i = 0; i < n; ++i) handle(events[i]);
      resume_throttled();
      send_dirty();
      publish();
    }
    loop_.reset();  // closes every connection
    publish();
  }

 private:
  void publish() {
    counters_.requests.store(local_.requests, std::memory_order_relaxed);
    counters_.records.store(local_.records, std::memory_order_relaxed);
    counters_.bytes.store(local_.bytes, std::memory_order_relaxed);
    counters_.accepted.store(local_.accepted, std::memory_order_relaxed);
    counters_.closed.store(local_.closed, std::memory_order_relaxed);
    counters_.crc_errors.store(local_.crc_errors, std::memory_order_relaxed);
    counters_.decode_errors.store(local_.decode_errors, std::memory_order_relaxed);
    counters_.sasl_ok.store(local_.sasl_ok, std::memory_order_relaxed);
    counters_.sasl_failed.store(local_.sasl_failed, std::memory_order_relaxed);
    if constexpr (requires { loop_->tls_stats(); }) {
      if (!loop_) return;  // after run(): the last values were published before the reset
      const ws::net::TlsStats& tls = loop_->tls_stats();
      counters_.tls_handshakes.store(tls.handshakes, std::memory_order_relaxed);
      counters_.tls_handshake_failures.store(tls.handshake_failures, std::memory_order_relaxed);
    }
  }

  void handle(const ws::net::Event& e) {
    if (e.type == ws::net::Event::kAccepted) return on_accepted(e.conn);
    if (e.conn >= connections_.size() || !connections_[e.conn].open) return;  // closed in this batch
    Connection& c = connections_[e.conn];
    switch (e.type) {
      case ws::net::Event::kData: return on_data(e.conn, e.data);
      case ws::net::Event::kSent:
        c.sending.clear();
        if (c.closing && c.out.empty()) return close_connection(e.conn, true);
        if (c.backlogged && c.out.size() <= kMaxPendingOutput) {
          c.backlogged = false;
          if (!c.throttled) loop_->resume_receive(e.conn);
        }
        return mark_dirty(e.conn);
      case ws::net::Event::kClosed: return close_connection(e.conn, false);
      default: return;
    }
  }

  void on_accepted(ConnId id) {
    if (id >= connections_.size()) connections_.resize(std::max<size_t>(id + 1, connections_.size() * 2));
    Connection& c = connections_[id];
    // The previous poll() is over, so a send buffer of the slot's last connection is free now.
    for (auto* buffer : {&c.in, &c.out, &c.sending}) {
      if (buffer->capacity() > kKeepBuffer) std::vector<uint8_t>().swap(*buffer);
      buffer->clear();
    }
    c.open = true;
    c.throttled = c.backlogged = c.dirty = c.closing = false;
    c.auth = options_.sasl() ? Auth::kNeedHandshake : Auth::kOpen;
    c.exchange.reset();
    ++local_.accepted;
  }

  // By the peer (kClosed: the loop has closed it) or by the sink (a protocol error).
  void close_connection(ConnId id, bool by_sink) {
    Connection& c = connections_[id];
    if (by_sink) loop_->close(id);
    ++local_.closed;
    c.open = false;
    c.throttled = false;  // its entry on throttled_ is skipped
    c.exchange.reset();
    c.in.clear();
    c.out.clear();
    // `sending` stays allocated: the loop may read it until the next poll() returns.
  }

  void on_data(ConnId id, std::span<const uint8_t> data) {
    Connection& c = connections_[id];
    if (c.closing) return;  // nothing more is answered; receiving is paused
    if (!c.in.empty() || c.throttled) {
      c.in.insert(c.in.end(), data.begin(), data.end());
      if (!c.throttled && !answer_held(id)) return close_connection(id, true);
    } else {
      const long used = answer_frames(id, data);
      if (used < 0) return close_connection(id, true);
      c.in.assign(data.begin() + used, data.end());
    }
    if (c.out.size() > kMaxPendingOutput && !c.backlogged) {
      c.backlogged = true;  // resumes on kSent
      loop_->pause_receive(id);
    }
    mark_dirty(id);
  }

  // Answers what `in` holds; false on a protocol error.
  bool answer_held(ConnId id) {
    Connection& c = connections_[id];
    const long used = answer_frames(id, c.in);
    if (used < 0) return false;
    c.in.erase(c.in.begin(), c.in.begin() + used);
    return true;
  }

  // Answers every complete request at the front of `bytes` (responses go to `out`); stops at a
  // partial one or when the rate budget runs out. Returns the bytes used, -1 on a protocol error.
  long answer_frames(ConnId id, std::span<const uint8_t> bytes) {
    Connection& c = connections_[id];
    size_t pos = 0;
    while (!c.closing) {
      // Before authentication a peer may make the sink buffer no more than Kafka would.
      const int32_t max_frame = c.auth == Auth::kOpen ? kMaxFrameSize : sasl::kMaxTokenFrameSize;
      const FrameCheck check = check_frame(bytes.subspan(pos), max_frame);
      if (check.status == FrameStatus::kTooLarge) return -1;
      if (check.status == FrameStatus::kNeedMore) break;
      const bool produce = c.auth == Auth::kOpen && check.frame_size >= 6 && bytes[pos + 4] == 0 &&
                           bytes[pos + 5] == ProduceRequest::kApiKey;
      if (produce && !rate_budget_left()) {
        c.throttled = true;
        throttled_.push_back(id);
        loop_->pause_receive(id);  // requests beyond the rate wait unread, in the socket
        break;
      }
      local_.bytes += check.frame_size;
      ++local_.requests;
      if (!handle_request(c, Bytes(bytes.data() + pos + 4, check.frame_size - 4))) return -1;
      pos += check.frame_size;
    }
    if (c.closing) loop_->pause_receive(id);
    return static_cast<long>(pos);
  }

  // Token bucket of --max-rate / threads records per second, 10 ms deep. A request is answered
  // while the budget is positive and then charged its records (the budget may go below zero).
  bool rate_budget_left() {
    if (options_.max_rate <= 0) return true;
    const double rate = options_.max_rate / options_.threads;
    const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch()).count();
    if (budget_at_ns_ == 0) budget_at_ns_ = now;
    budget_ = std::min(rate * 0.010, budget_ + rate * static_cast<double>(now - budget_at_ns_) / 1e9);
    budget_at_ns_ = now;
    return budget_ > 0;
  }

  void resume_throttled() {
    if (throttled_.empty() || !rate_budget_left()) return;
    resume_.swap(throttled_);
    for (ConnId id : resume_) {
      Connection& c = connections_[id];
      if (!c.open || !c.throttled) continue;  // closed meanwhile
      c.throttled = false;
      if (!answer_held(id)) {
        close_connection(id, true);
        continue;
      }
      if (!c.throttled && !c.backlogged) loop_->resume_receive(id);
      mark_dirty(id);
    }
    resume_.clear();
  }

  void mark_dirty(ConnId id) {
    Connection& c = connections_[id];
    if (c.dirty || c.out.empty()) return;
    c.dirty = true;
    dirty_.push_back(id);
  }

  // One send per connection per poll: everything answered since the last one goes out together.
  void send_dirty() {
    for (ConnId id : dirty_) {
      Connection& c = connections_[id];
      c.dirty = false;
      if (!c.open || !c.sending.empty() || c.out.empty()) continue;  // kSent marks it again
      c.sending.swap(c.out);
      loop_->send(id, c.sending.data(), c.sending.size());
    }
    dirty_.clear();
  }

  // False: close the connection (a protocol error, or a request its SASL state does not allow).
  bool handle_request(Connection& c, Bytes frame) {
    if (c.auth == Auth::kBareTokens) return answer_bare_token(c, frame);
    Reader peek(frame);
    const int16_t api_key = peek.i16();
    const int16_t version = peek.i16();
    if (!peek.ok() || version < 0) return false;
    const bool known = api_key == ApiVersionsRequest::kApiKey ||
                       api_key == MetadataRequest::kApiKey || api_key == ProduceRequest::kApiKey ||
                       (options_.sasl() && is_sasl_api(api_key));
    if (!known || !allowed(c.auth, api_key)) return false;
    Reader r(frame);
    header_.decode(r, request_header_version(api_key, version));
    if (!r.ok()) return false;
    switch (api_key) {
      case ApiVersionsRequest::kApiKey: return answer_api_versions(c, version);
      case MetadataRequest::kApiKey: return answer_metadata(c, r, version);
      case SaslHandshakeRequest::kApiKey: return answer_sasl_handshake(c, r, version);
      case SaslAuthenticateRequest::kApiKey: return answer_sasl_authenticate(c, r, version);
      default: return answer_produce(c, r, version);
    }
  }

  // As Kafka does: nothing but ApiVersions and the handshake before authentication, nothing but
  // the exchange during it. No re-authentication (responses say session lifetime 0).
  static bool allowed(Auth auth, int16_t api_key) {
    switch (auth) {
      case Auth::kOpen: return !is_sasl_api(api_key);
      case Auth::kNeedHandshake:
        return api_key == ApiVersionsRequest::kApiKey || api_key == SaslHandshakeRequest::kApiKey;
      case Auth::kAuthenticateRequests: return api_key == SaslAuthenticateRequest::kApiKey;
      case Auth::kBareTokens: return false;
    }
    return false;
  }

  bool answer_sasl_handshake(Connection& c, Reader& r, int16_t version) {
    if (version > sink_max(SaslHandshakeRequest::kApiKey)) return false;
    sasl_handshake_request_.decode(r, version);
    if (!r.ok()) {
      ++local_.decode_errors;
      return false;
    }
    Mechanism m;
    const bool enabled = sasl::parse_mechanism(sasl_handshake_request_.mechanism, m) &&
                         std::find(options_.sasl_mechanisms.begin(), options_.sasl_mechanisms.end(), m) !=
                             options_.sasl_mechanisms.end();
    sasl_handshake_response_.error_code = enabled ? error::kNone : error::kUnsupportedSaslMechanism;
    const size_t start = begin_response(c, SaslHandshakeRequest::kApiKey, version);
    Writer w(c.out);
    sasl_handshake_response_.encode(w, version);
    finish_response(c, start);
    if (!enabled) {
      // The answer lists what is enabled; then the connection ends, as Kafka ends it.
      ++local_.sasl_failed;
      c.closing = true;
      return true;
    }
    c.exchange.emplace(m, users_);
    c.auth = version == 0 ? Auth::kBareTokens : Auth::kAuthenticateRequests;
    return true;
  }

  bool answer_sasl_authenticate(Connection& c, Reader& r, int16_t version) {
    if (version > sink_max(SaslAuthenticateRequest::kApiKey)) return false;
    sasl_authenticate_request_.decode(r, version);
    if (!r.ok()) {
      ++local_.decode_errors;
      return false;
    }
    const auto step = c.exchange->on_client(sasl_authenticate_request_.auth_bytes, sasl_reply_, sasl_error_);
    SaslAuthenticateResponse response;
    if (step == sasl::ServerExchange::Step::kFailed) {
      // Kafka's answer to a failed login: error 58 with the reason, then the connection closes.
      sasl_error_.insert(0, "Authentication failed: ");
      response.error_code = error::kSaslAuthenticationFailed;
      response.error_message = sasl_error_;
      c.closing = true;
    } else {
      response.auth_bytes = sasl_reply_;
    }
    const size_t start = begin_response(c, SaslAuthenticateRequest::kApiKey, version);
    Writer w(c.out);
    response.encode(w, version);
    finish_response(c, start);
    end_exchange_if_over(c, step);
    return true;
  }

  // A token after SaslHandshake v0: the answer is a bare token too. That flow has no way to say
  // why a login failed: the connection just closes.
  bool answer_bare_token(Connection& c, Bytes token) {
    const auto step = c.exchange->on_client(token, sasl_reply_, sasl_error_);
    end_exchange_if_over(c, step);
    if (step == sasl::ServerExchange::Step::kFailed) return false;
    sasl::append_token_frame(c.out, sasl_reply_);
    return true;
  }

  void end_exchange_if_over(Connection& c, sasl::ServerExchange::Step step) {
    if (step == sasl::ServerExchange::Step::kSend) return;
    if (step == sasl::ServerExchange::Step::kDone) {
      ++local_.sasl_ok;
      c.auth = Auth::kOpen;
    } else {
      ++local_.sasl_failed;
    }
    c.exchange.reset();
  }

  // Starts a response frame; finish_response() patches its size.
  size_t begin_response(Connection& c, int16_t api_key, int16_t version) {
    Writer w(c.out);
    const size_t start = w.reserve(4);
    ResponseHeader h;
    h.correlation_id = header_.correlation_id;
    h.encode(w, response_header_version(api_key, version));
    return start;
  }
  static void finish_response(Connection& c, size_t start) {
    Writer w(c.out);
    w.patch_i32(start, static_cast<int32_t>(c.out.size() - start - 4));
  }

  bool answer_api_versions(Connection& c, int16_t version) {
    // The request body (client software name in v3) is not needed to answer.
    const bool supported = version <= sink_max(ApiVersionsRequest::kApiKey);
    const int16_t layout = supported ? version : int16_t{0};
    api_versions_.error_code = supported ? error::kNone : error::kUnsupportedVersion;
    const size_t start = begin_response(c, ApiVersionsRequest::kApiKey, layout);
    Writer w(c.out);
    api_versions_.encode(w, layout);
    finish_response(c, start);
    return true;
  }

  bool answer_metadata(Connection& c, Reader& r, int16_t version) {
    if (version > MetadataRequest::kMaxVersion) return false;
    metadata_request_.decode(r, version);
    if (!r.ok()) {
      ++local_.decode_errors;
      return false;
    }
    // Every named topic exists with P partitions led by this sink; "all topics" lists none.
    const auto& topics = metadata_request_.topics;
    const size_t n = topics ? topics->size() : 0;
    metadata_.topics.resize(n);
    for (size_t i = 0; i < n; ++i) {
      auto& t = metadata_.topics[i];
      t.error_code = error::kNone;
      t.name = (*topics)[i].name;
      if (t.partitions.size() != partition_template_.size()) t.partitions = partition_template_;
    }
    const size_t start = begin_response(c, MetadataRequest::kApiKey, version);
    Writer w(c.out);
    metadata_.encode(w, version);
    finish_response(c, start);
    return true;
  }

  bool answer_produce(Connection& c, Reader& r, int16_t version) {
    if (version > ProduceRequest::kMaxVersion) return false;
    produce_request_.decode(r, version);
    if (!r.ok()) {
      ++local_.decode_errors;
      return false;
    }
    const bool respond = produce_request_.acks != 0;
    if (respond) produce_response_.responses.resize(produce_request_.topic_data.size());
    for (size_t t = 0; t < produce_request_.topic_data.size(); ++t) {
      const auto& topic = produce_request_.topic_data[t];
      if (respond) {
        produce_response_.responses[t].name = topic.name;
        produce_response_.responses[t].partition_responses.resize(topic.partition_data.size());
      }
      for (size_t p = 0; p < topic.partition_data.size(); ++p) {
        const auto& part = topic.partition_data[p];
        const int64_t count = part.records ? count_records(*part.records) : 0;
        local_.records += static_cast<uint64_t>(count);
        budget_ -= static_cast<double>(count);
        if (!respond) continue;
        auto& resp = produce_response_.responses[t].partition_responses[p];
        resp.index = part.index;
        if (part.index >= 0 && part.index < options_.partitions) {
          // Offsets run per partition within this shard (one shard: exactly Kafka's numbering).
          int64_t& next = offsets_[static_cast<size_t>(part.index)];
          resp.error_code = error::kNone;
          resp.base_offset = next;
          next += count;
        } else {
          resp.error_code = error::kUnknownTopicOrPartition;
          resp.base_offset = -1;
        }
      }
    }
    if (!respond) return true;
    const size_t start = begin_response(c, ProduceRequest::kApiKey, version);
    Writer w(c.out);
    produce_response_.encode(w, version);
    finish_response(c, start);
    return true;
  }

  int64_t count_records(Bytes set) {
    if (options_.validate) return count_validated(set);
    // Cheap path: read counts from headers. Offset 16 holds the magic in every format; a magic 2
    // batch carries its record count at 57. Compressed magic 0/1 wrappers need decompressing.
    int64_t count = 0;
    Reader outer(set);
    while (outer.remaining() >= 12) {
      outer.i64();  // offset
      const int32_t size = outer.i32();
      if (size < 0 || static_cast<size_t>(size) > outer.remaining()) {
        ++local_.decode_errors;
        return count;
      }
      Bytes entry = outer.raw(static_cast<size_t>(size));
      if (entry.size() < 6) {
        ++local_.decode_errors;
        return count;
      }
      const int8_t magic = static_cast<int8_t>(entry[4]);
      if (magic == 2) {
        if (entry.size() < 49) {
          ++local_.decode_errors;
          return count;
        }
        Reader c(entry.subspan(45, 4));
        count += c.i32();
      } else {
        const uint8_t attributes = entry[5];
        if ((attributes & 0x07) != 0) {
          // Count this wrapper's inner messages by decoding it (whole entry incl. its 12-byte head).
          const size_t entry_start = static_cast<size_t>(entry.data() - set.data()) - 12;
          count += count_validated(set.subspan(entry_start, entry.size() + 12));
        } else {
          ++count;
        }
      }
    }
    return count;
  }

  int64_t count_validated(Bytes set) {
    RecordSetReader reader(set);
    RecordView view;
    int64_t count = 0;
    while (reader.next(view)) ++count;
    local_.crc_errors += reader.corrupt_batches();
    if (reader.error() != DecodeError::kNone || reader.truncated()) ++local_.decode_errors;
    return count;
  }

  const SinkOptions& options_;
  std::unique_ptr<Loop> loop_;
  ShardCounters& counters_;
  Totals local_;
  std::vector<Connection> connections_;  // by ConnId; moving one keeps its buffers in place
  std::vector<int64_t> offsets_;
  std::vector<ConnId> throttled_;  // connections waiting for the --max-rate budget
  std::vector<ConnId> resume_;
  std::vector<ConnId> dirty_;      // connections with responses to send
  double budget_ = 0;              // records that may still be accepted now
  int64_t budget_at_ns_ = 0;

  // Decoded requests and prepared responses, reused: their vectors keep their capacity.
  RequestHeader header_;
  ApiVersionsResponse api_versions_;
  MetadataRequest metadata_request_;
  MetadataResponse metadata_;
  std::vector<MetadataResponse::MetadataResponsePartition> partition_template_;
  ProduceRequest produce_request_;
  ProduceResponse produce_response_;

  // SASL: this shard's users (their SCRAM credentials are cached per shard), and scratch space.
  sasl::UserStore users_;
  SaslHandshakeRequest sasl_handshake_request_;
  SaslHandshakeResponse sasl_handshake_response_;  // its mechanisms: the enabled ones
  SaslAuthenticateRequest sasl_authenticate_request_;
  std::vector<uint8_t> sasl_reply_;
  std::string sasl_error_;
};

// "500ms", "2s", "1m", "0" -> seconds; negative on a bad value.
double parse_duration(std::string_view s) {
  if (s.empty()) return -1;
  double scale = 1.0;
  std::string num(s);
  auto ends = [&](std::string_view suffix) {
    return num.size() > suffix.size() && num.compare(num.size() - suffix.size(), suffix.size(),
                                                     suffix) == 0;
  };
  if (ends("ms")) {
    scale = 0.001;
    num.resize(num.size() - 2);
  } else if (ends("s")) {
    num.resize(num.size() - 1);
  } else if (ends("m")) {
    scale = 60;
    num.resize(num.size() - 1);
  } else if (ends("h")) {
    scale = 3600;
    num.resize(num.size() - 1);
  }
  char* end = nullptr;
  const double v = std::strtod(num.c_str(), &end);
  if (end == num.c_str() || *end != '\0' || v < 0) return -1;
  return v * scale;
}

bool parse_int(std::string_view s, long lo, long hi, long& out) {
  std::string str(s);
  char* end = nullptr;
  const long v = std::strtol(str.c_str(), &end, 10);
  if (str.empty() || *end != '\0' || v < lo || v > hi) return false;
  out = v;
  return true;
}

constexpr const char* kUsage =
    "Usage: ws_kafka_sink [--port=N] [--partitions=P] [--threads=T] [--validate]\n"
    "                     [--stats-interval=1s] [--duration=0] [--max-rate=0] [--io=uring]\n"
    "                     [--sasl-users=user:password[,user:password...]]\n"
    "                     [--sasl-mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512]\n"
    "                     [--tls-cert=FILE --tls-key=FILE]\n"
    "A Kafka broker stand-in on 127.0.0.1 that answers ApiVersions, Metadata and Produce and\n"
    "discards the records. --port=0 picks a free port; --duration=0 runs until SIGINT/SIGTERM.\n"
    "--max-rate=N accepts at most N records/s (0: no limit); requests beyond it wait unread, like\n"
    "in front of a saturated broker: a broker of known capacity for testing capacity searches.\n"
    "--io=uring|asio: the event loop (uring falls back to asio where io_uring is unavailable).\n"
    "--sasl-users: SASL on (SASL_PLAINTEXT, or SASL_SSL with TLS): connections must log in as one\n"
    "of these users before Metadata or Produce, after SaslHandshake v0 (bare tokens) or v1\n"
    "(SaslAuthenticate). The password is everything after the first ':'. --sasl-mechanisms: those\n"
    "SaslHandshake accepts (default: all three). The final JSON counts sasl_authentications_ok and\n"
    "_failed.\n"
    "--tls-cert=FILE --tls-key=FILE: TLS on (SSL, or SASL_SSL with --sasl-users), with this PEM\n"
    "certificate (chain) and its unencrypted PEM private key; no client certificates are asked for.\n"
    "Give both or neither. The final JSON counts tls_handshakes and tls_handshake_failures.\n";

// "a,b,c" -> {"a", "b", "c"}; empty items are kept, for the callers to reject.
std::vector<std::string_view> split_list(std::string_view list) {
  std::vector<std::string_view> items;
  while (true) {
    const size_t comma = list.find(',');
    items.push_back(list.substr(0, comma));
    if (comma == std::string_view::npos) return items;
    list.remove_prefix(comma + 1);
  }
}

bool parse_sasl_users(std::string_view list, sasl::UserStore::Passwords& out, std::string& error) {
  for (std::string_view item : split_list(list)) {
    const size_t colon = item.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == item.size()) {
      error = "want user:password[,user:password...], with neither empty";
      return false;
    }
    const std::string user(item.substr(0, colon));
    if (!out.emplace(user, std::string(item.substr(colon + 1))).second) {
      error = "user \"" + user + "\" given twice";
      return false;
    }
  }
  return true;
}

bool parse_sasl_mechanisms(std::string_view list, std::vector<Mechanism>& out, std::string& error) {
  out.clear();
  for (std::string_view name : split_list(list)) {
    Mechanism m;
    if (!sasl::parse_mechanism(name, m) || m == Mechanism::kOAuthBearer) {
      error = "\"" + std::string(name) + "\" is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512";
      return false;
    }
    if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  }
  return true;
}

bool readable_file(std::string_view path, std::string& error) {
  if (path.empty()) {
    error = "want a file name";
    return false;
  }
  FILE* f = std::fopen(std::string(path).c_str(), "rb");
  if (f == nullptr) {
    error = "cannot read '" + std::string(path) + "': " + std::strerror(errno);
    return false;
  }
  std::fclose(f);
  return true;
}

bool parse_options(int argc, char** argv, SinkOptions& o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (arg != "--validate" && arg != "--help" && arg != "-h" && i + 1 < argc) {
      value = argv[++i];
    }
    long v = 0;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--validate") {
      o.validate = true;
    } else if (arg == "--port" && parse_int(value, 0, 65535, v)) {
      o.port = static_cast<int>(v);
    } else if (arg == "--partitions" && parse_int(value, 1, 100000, v)) {
      o.partitions = static_cast<int32_t>(v);
    } else if (arg == "--threads" && parse_int(value, 1, 1024, v)) {
      o.threads = static_cast<int>(v);
    } else if (arg == "--stats-interval" && (o.stats_interval_s = parse_duration(value)) > 0) {
    } else if (arg == "--duration" && (o.duration_s = parse_duration(value)) >= 0) {
    } else if (arg == "--max-rate" && parse_int(value, 0, 1'000'000'000, v)) {
      o.max_rate = static_cast<double>(v);
    } else if (arg == "--io" && (value == "uring" || value == "asio")) {
      o.io = value == "uring" ? Io::kUring : Io::kAsio;
    } else if (arg == "--tls-cert" || arg == "--tls-key") {
      // Read now, so that a wrong path is reported with its flag; the contents are checked by
      // check_tls_files() once both are known.
      std::string error;
      if (!readable_file(value, error)) {
        std::fprintf(stderr, "ws_kafka_sink: %s: %s\n", std::string(arg).c_str(), error.c_str());
        return false;
      }
      (arg == "--tls-cert" ? o.tls_cert : o.tls_key) = std::string(value);
    } else if (arg == "--sasl-users" || arg == "--sasl-mechanisms") {
      std::string error;
      const bool ok = arg == "--sasl-users" ? parse_sasl_users(value, o.sasl_users, error)
                                            : parse_sasl_mechanisms(value, o.sasl_mechanisms, error);
      if (!ok) {
        std::fprintf(stderr, "ws_kafka_sink: %s: %s\n", std::string(arg).c_str(), error.c_str());
        return false;
      }
    } else {
      std::fprintf(stderr, "ws_kafka_sink: bad option %s\n%s", argv[i], kUsage);
      return false;
    }
  }
  if (!o.sasl_mechanisms.empty() && !o.sasl()) {
    std::fprintf(stderr, "ws_kafka_sink: --sasl-mechanisms: needs --sasl-users\n");
    return false;
  }
  if (o.sasl() && o.sasl_mechanisms.empty()) {
    o.sasl_mechanisms = {Mechanism::kPlain, Mechanism::kScramSha256, Mechanism::kScramSha512};
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    std::fprintf(stderr, "ws_kafka_sink: %s: needs %s too\n", o.tls_cert.empty() ? "--tls-key" : "--tls-cert",
                 o.tls_cert.empty() ? "--tls-cert" : "--tls-key");
    return false;
  }
  return true;
}

ws::net::TlsOptions tls_options(const SinkOptions& o) {
  ws::net::TlsOptions tls;
  tls.enabled = true;
  tls.server.identity.cert_file = o.tls_cert;
  tls.server.identity.key_file = o.tls_key;
  return tls;
}

// Builds one TLS loop to find out whether OpenSSL takes the certificate and key (PEM, the key
// fitting the certificate), so that a bad file is reported with its flag before anything starts.
bool check_tls_files(const SinkOptions& o, std::string& error) {
  ws::net::LoopOptions small;
  small.max_connections = 1;
  small.receive_buffer_count = 1;
  if (ws::net::TlsLoop<ws::net::AsioLoop>::create(small, tls_options(o), error)) return true;
  // net/ names the file at fault: the flag is the one whose file the message names first.
  const size_t cert_at = error.find("'" + o.tls_cert + "'");
  const size_t key_at = error.find("'" + o.tls_key + "'");
  const char* flag = "--tls-cert/--tls-key";
  if (o.tls_cert != o.tls_key && (cert_at != std::string::npos || key_at != std::string::npos)) {
    flag = cert_at < key_at ? "--tls-cert" : "--tls-key";
  }
  error = std::string(flag) + ": " + error;
  return false;
}

Totals sum(const std::vector<std::unique_ptr<ShardCounters>>& shards) {
  Totals t;
  for (const auto& s : shards) {
    t.requests += s->requests.load(std::memory_order_relaxed);
    t.records += s->records.load(std::memory_order_relaxed);
    t.bytes += s->bytes.load(std::memory_order_relaxed);
    t.accepted += s->accepted.load(std::memory_order_relaxed);
    t.closed += s->closed.load(std::memory_order_relaxed);
    t.crc_errors += s->crc_errors.load(std::memory_order_relaxed);
    t.decode_errors += s->decode_errors.load(std::memory_order_relaxed);
    t.sasl_ok += s->sasl_ok.load(std::memory_order_relaxed);
    t.sasl_failed += s->sasl_failed.load(std::memory_order_relaxed);
    t.tls_handshakes += s->tls_handshakes.load(std::memory_order_relaxed);
    t.tls_handshake_failures += s->tls_handshake_failures.load(std::memory_order_relaxed);
  }
  return t;
}

double seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

// With several threads the port is shared (SO_REUSEPORT), and a reuse-port bind would quietly
// join another sink already on an explicit port: make sure nobody has it first.
bool port_is_free(int port, std::string& error) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (!ok) error = "cannot listen on 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno);
  if (fd >= 0) ::close(fd);
  return ok;
}

// Prints interval lines to stderr until SIGINT/SIGTERM or --duration.
void report_until_stopped(const SinkOptions& options, sigset_t& stop_signals,
                          const std::vector<std::unique_ptr<ShardCounters>>& counters) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto interval = std::chrono::duration<double>(options.stats_interval_s);
  auto next_tick = start + std::chrono::duration_cast<Clock::duration>(interval);
  Totals last;
  auto last_time = start;
  while (!g_stop.load()) {
    auto wake = next_tick;
    if (options.duration_s > 0) {
      wake = std::min(wake, start + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(options.duration_s)));
    }
    const auto wait = std::max(Clock::duration::zero(), wake - Clock::now());
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
    timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    if (sigtimedwait(&stop_signals, nullptr, &ts) > 0) break;
    const auto now = Clock::now();
    if (options.duration_s > 0 &&
        now - start >= std::chrono::duration<double>(options.duration_s)) {
      break;
    }
    if (now >= next_tick) {
      const Totals t = sum(counters);
      const double dt = std::chrono::duration<double>(now - last_time).count();
      std::fprintf(stderr,
                   "sink: %.0f req/s %.0f records/s %.1f MB/s connections=%llu crc_errors=%llu\n",
                   static_cast<double>(t.requests - last.requests) / dt,
                   static_cast<double>(t.records - last.records) / dt,
                   static_cast<double>(t.bytes - last.bytes) / dt / 1e6,
                   static_cast<unsigned long long>(t.accepted - t.closed),
                   static_cast<unsigned long long>(t.crc_errors));
      last = t;
      last_time = now;
      next_tick += std::chrono::duration_cast<Clock::duration>(interval);
      if (next_tick < now) next_tick = now + std::chrono::duration_cast<Clock::duration>(interval);
    }
  }
}

void print_totals(const std::vector<std::unique_ptr<ShardCounters>>& counters) {
  const Totals t = sum(counters);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf(
      "{\"requests\":%llu,\"records\":%llu,\"bytes\":%llu,\"connections_accepted\":%llu,"
      "\"crc_errors\":%llu,\"decode_errors\":%llu,\"sasl_authentications_ok\":%llu,"
      "\"sasl_authentications_failed\":%llu,\"tls_handshakes\":%llu,\"tls_handshake_failures\":%llu,"
      "\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f}\n",
      static_cast<unsigned long long>(t.requests), static_cast<unsigned long long>(t.records),
      static_cast<unsigned long long>(t.bytes), static_cast<unsigned long long>(t.accepted),
      static_cast<unsigned long long>(t.crc_errors),
      static_cast<unsigned long long>(t.decode_errors), static_cast<unsigned long long>(t.sasl_ok),
      static_cast<unsigned long long>(t.sasl_failed), static_cast<unsigned long long>(t.tls_handshakes),
      static_cast<unsigned long long>(t.tls_handshake_failures), seconds(usage.ru_utime),
      seconds(usage.ru_stime));
  std::fflush(stdout);
}

// The loop's default receive buffers (16 KiB x 1024) measured as well as 64 KiB or 256 KiB ones
// for both small requests and 1 MiB batches; a large request is copied out of them once.
ws::net::LoopOptions sink_loop_options() {
  ws::net::LoopOptions o;
  o.max_connections = 1024;  // grows with the connections
  return o;
}

// Loops are made and listening before any thread starts, so "listening on" means every shard
// accepts. Returns the exit code.
template <typename Loop>
int serve(const SinkOptions& options, std::vector<std::unique_ptr<Loop>> loops, sigset_t& stop_signals) {
  const bool shared_port = options.threads > 1;
  std::string error;
  if (shared_port && options.port != 0 && !port_is_free(options.port, error)) {
    std::fprintf(stderr, "ws_kafka_sink: %s\n", error.c_str());
    return 1;
  }
  std::vector<std::unique_ptr<ShardCounters>> counters;
  std::vector<std::unique_ptr<SinkShard<Loop>>> shards;
  int port = options.port;
  for (auto& loop : loops) {
    counters.push_back(std::make_unique<ShardCounters>());
    shards.push_back(std::make_unique<SinkShard<Loop>>(options, std::move(loop), *counters.back()));
    ws::net::Endpoint where;
    if (!ws::net::resolve(std::string(kHost) + ":" + std::to_string(port), where, error, true) ||
        !shards.back()->listen(where, shared_port, error)) {
      std::fprintf(stderr, "ws_kafka_sink: %s\n", error.c_str());
      return 1;
    }
    port = shards.back()->port();  // the first shard's, for every later one
  }
  for (auto& shard : shards) shard->set_port(port);
  std::printf("listening on %s:%d\n", kHost, port);
  std::fflush(stdout);

  std::vector<std::thread> threads;
  for (auto& shard : shards) threads.emplace_back([s = shard.get()] { s->run(); });
  report_until_stopped(options, stop_signals, counters);
  g_stop = true;
  for (auto& t : threads) t.join();
  print_totals(counters);
  return 0;
}

template <typename Loop>
std::vector<std::unique_ptr<Loop>> make_loops(int count, std::string& error) {
  std::vector<std::unique_ptr<Loop>> loops;
  for (int i = 0; i < count; ++i) {
    auto loop = Loop::create(sink_loop_options(), error);
    if (!loop) return {};
    loops.push_back(std::move(loop));
  }
  return loops;
}

// io_uring where the kernel has it, else Asio; both plain or both in a TlsLoop.
template <typename OnUring, typename OnAsio>
int start(const SinkOptions& options, sigset_t& stop_signals) {
  std::string error;
  if (options.io == Io::kUring) {
    auto loops = make_loops<OnUring>(options.threads, error);
    if (!loops.empty()) return serve(options, std::move(loops), stop_signals);
    std::fprintf(stderr, "ws_kafka_sink: io_uring unavailable (%s): using asio\n", error.c_str());
  }
  auto loops = make_loops<OnAsio>(options.threads, error);
  if (loops.empty()) {
    std::fprintf(stderr, "ws_kafka_sink: %s\n", error.c_str());
    return 1;
  }
  return serve(options, std::move(loops), stop_signals);
}

}  // namespace

int main(int argc, char** argv) {
  SinkOptions options;
  if (!parse_options(argc, argv, options)) return 2;

  // SIGINT/SIGTERM are taken synchronously by the main thread (sigtimedwait), never by workers.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // As many connections as the hard limit allows (the soft limit is often 1024).
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  if (!options.tls()) return start<ws::net::UringLoop, ws::net::AsioLoop>(options, stop_signals);
  std::string error;
  if (!check_tls_files(options, error)) {
    std::fprintf(stderr, "ws_kafka_sink: %s\n", error.c_str());
    return 2;
  }
  // TlsLoop's create(LoopOptions, error), which make_loops() calls, takes these.
  ws::net::set_default_tls_options(tls_options(options));
  return start<ws::net::TlsLoop<ws::net::UringLoop>, ws::net::TlsLoop<ws::net::AsioLoop>>(options, stop_signals);
}
