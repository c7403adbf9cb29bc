// TlsEngine: one SSL per connection, reading and writing ciphertext through a memory BIO of our
// own, and the events TlsLoop delivers. See tls.h and tls_loop.h.
//
// Ciphertext in: the inner loop's kData view is the BIO's input while SSL_do_handshake/SSL_read
// run, so OpenSSL copies it straight into its record buffer and nothing is kept per connection
// (a partial record waits inside OpenSSL). Ciphertext out: the BIO appends to the connection's
// `pending` buffer; flush() hands it to the inner loop as `in_flight` (one inner send at a time),
// and new ciphertext (the next chunk, a handshake answer, an alert) collects in `pending`
// meanwhile. Both buffers go back to a shared pool when empty, so an idle connection owns no
// buffer; OpenSSL's own 16 KiB record buffers are freed when idle (SSL_MODE_RELEASE_BUFFERS and
// SSL_free_buffers), which leaves OpenSSL's session state: about 15 KiB per idle connection.
//
// Why not BIO_s_mem, as the OpenSSL examples do: a mem BIO keeps its largest buffer for the
// connection's life (it never shrinks), and each direction costs one more copy.
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <vector>

#include "net/tls.h"
#include "net/tls_context.h"

namespace ws::net {
namespace {

constexpr size_t kRecordPlaintext = 16384;  // the most one TLS record carries
// How far encryption runs ahead of the inner loop's sends: a 1 MiB send() is encrypted in 64 KiB
// steps, so a busy connection holds at most about twice that in ciphertext.
constexpr size_t kEncryptAhead = 64 * 1024;
constexpr size_t kSpareBuffers = 64;                  // emptied ciphertext buffers kept for reuse
constexpr size_t kLargestSpare = 2 * kEncryptAhead;  // larger ones (a big handshake) are freed
constexpr size_t kArenaBlock = 256 * 1024;
constexpr uint64_t kNotYet = UINT64_MAX;
constexpr ConnId kNoConn = UINT32_MAX;

// "host" from "host:port" or "[v6 address]:port" (Endpoint::text).
std::string host_of(const std::string& text) {
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    return close == std::string::npos ? std::string() : text.substr(1, close - 1);
  }
  const size_t colon = text.rfind(':');
  return colon == std::string::npos ? text : text.substr(0, colon);
}

bool is_ip_address(const std::string& host) {
  in6_addr addr{};
  return ::inet_pton(AF_INET, host.c_str(), &addr) == 1 || ::inet_pton(AF_INET6, host.c_str(), &addr) == 1;
}

// Decrypted bytes of the current poll, in blocks that never move, so the views handed out stay
// valid until reset(). Blocks are kept for later polls: the arena grows to the most plaintext one
// poll has delivered (bounded by the inner loop's receive buffers).
class PlaintextArena {
 public:
  // Free space in the current block, for at least one full record.
  std::span<uint8_t> room() {
    if (current_ < blocks_.size() && kArenaBlock - used_ >= kRecordPlaintext) {
      return {blocks_[current_].get() + used_, kArenaBlock - used_};
    }
    if (current_ < blocks_.size()) {
      ++current_;
      used_ = 0;
    }
    if (current_ == blocks_.size()) blocks_.emplace_back(new uint8_t[kArenaBlock]);
    return {blocks_[current_].get(), kArenaBlock};
  }
  void commit(size_t n) { used_ += n; }
  void reset() {
    current_ = 0;
    used_ = 0;
  }

 private:
  std::vector<std::unique_ptr<uint8_t[]>> blocks_;
  size_t current_ = 0;
  size_t used_ = 0;
};

}  // namespace

struct TlsEngine::Impl {
  enum class Phase : uint8_t {
    kFree,
    kConnecting,   // TCP connect under way
    kHandshaking,  // client: kConnected not delivered yet; server: kAccepted delivered
    kOpen,
    kLingering,  // over for the caller; the inner connection still sends our last alert
  };

  struct Conn {
    SSL* ssl = nullptr;
    const uint8_t* send_data = nullptr;  // the caller's send(), until its kSent
    size_t send_size = 0;
    size_t send_encrypted = 0;  // bytes of it SSL_write took
    // Ciphertext positions: the send is done once everything up to send_done_at was sent.
    uint64_t send_done_at = kNotYet;
    uint64_t cipher_made = 0;
    uint64_t cipher_sent = 0;
    std::vector<uint8_t> pending;    // ciphertext not yet given to the inner loop
    std::vector<uint8_t> in_flight;  // ciphertext the inner loop is sending
    std::string error;               // why TLS ended the connection, for tls_error()
    uint32_t gen = 0;  // bumped by the caller's connect() and close() and by kAccepted
    uint32_t destination = 0;
    Phase phase = Phase::kFree;
    bool accepted = false;
  };

  // A "host:port" connected to: what to send as SNI, what to verify, and its latest session.
  struct Destination {
    std::string text;
    std::string sni;          // empty: none (an IP address)
    std::string verify_name;  // host name or IP address the certificate must name
    bool verify_ip = false;
    SSL_SESSION* session = nullptr;
  };

  // An event for a full `out`, delivered at the next poll unless the caller closed (or
  // connected again) the slot meanwhile.
  struct Deferred {
    Event event;
    uint32_t gen;
  };

  // Routes the BIO to one connection (and its received ciphertext) for the SSL calls made while
  // it lives, and starts them with an empty error queue, so that errors are this connection's.
  class IoScope {
   public:
    IoScope(Impl& impl, ConnId conn, std::span<const uint8_t> input = {}) : impl_(impl), conn_(conn) {
      assert(impl.current == kNoConn && "one connection at a time");
      impl.current = conn;
      impl.input = input;
      ERR_clear_error();
    }
    ~IoScope() {
      // A live connection leaves nothing unread: a partial record waits inside OpenSSL.
      assert((impl_.input.empty() || impl_.conns[conn_].ssl == nullptr) && "received ciphertext left over");
      impl_.current = kNoConn;
      impl_.input = {};
    }
    IoScope(const IoScope&) = delete;
    IoScope& operator=(const IoScope&) = delete;

   private:
    Impl& impl_;
    ConnId conn_;
  };

  ~Impl() {
    for (Conn& c : conns) SSL_free(c.ssl);
    for (Destination& d : destinations) SSL_SESSION_free(d.session);
  }

  // ---- the BIO ----

  static BIO_METHOD* bio_method() {
    static BIO_METHOD* const method = [] {
      BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "wirestress ciphertext");
      BIO_meth_set_write(m, bio_write);
      BIO_meth_set_read(m, bio_read);
      BIO_meth_set_ctrl(m, bio_ctrl);
      BIO_meth_set_create(m, [](BIO* bio) {
        BIO_set_init(bio, 1);
        return 1;
      });
      return m;
    }();
    return method;
  }

  static int bio_write(BIO* bio, const char* data, int size) {
    Impl& self = *static_cast<Impl*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    if (self.current == kNoConn || size < 0) return -1;
    Conn& c = self.conns[self.current];
    try {
      if (c.pending.capacity() == 0) self.take_spare(c.pending);
      const auto* bytes = reinterpret_cast<const uint8_t*>(data);  // same type: one memmove
      c.pending.insert(c.pending.end(), bytes, bytes + size);
    } catch (const std::bad_alloc&) {
      return -1;  // OpenSSL reports the write failed; the connection fails
    }
    c.cipher_made += static_cast<uint64_t>(size);
    return size;
  }

  static int bio_read(BIO* bio, char* out, int size) {
    Impl& self = *static_cast<Impl*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    if (self.input.empty()) {
      BIO_set_retry_read(bio);  // not an end of file: more may come with the next kData
      return -1;
    }
    const size_t n = std::min(self.input.size(), static_cast<size_t>(std::max(size, 0)));
    std::memcpy(out, self.input.data(), n);
    self.input = self.input.subspan(n);
    return static_cast<int>(n);
  }

  static long bio_ctrl(BIO* bio, int command, long /*number*/, void* /*pointer*/) {
    switch (command) {
      case BIO_CTRL_FLUSH: return 1;  // ciphertext is in `pending` already
      case BIO_CTRL_PENDING: return static_cast<long>(static_cast<Impl*>(BIO_get_data(bio))->input.size());
      default: return 0;  // includes BIO_CTRL_GET_KTLS_SEND/RECV: no kernel TLS through memory
    }
  }

  static int on_new_session(SSL* ssl, SSL_SESSION* session) {
    Impl& self = *static_cast<Impl*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    if (self.current == kNoConn || SSL_SESSION_is_resumable(session) != 1) return 0;
    Destination& d = self.destinations[self.conns[self.current].destination];
    SSL_SESSION_free(d.session);
    d.session = session;  // the latest ticket wins
    return 1;             // we keep the reference
  }

  // ---- buffers ----

  void take_spare(std::vector<uint8_t>& buffer) {
    if (spare.empty()) return;
    buffer = std::move(spare.back());
    spare.pop_back();
  }

  void give_back(std::vector<uint8_t>& buffer) {
    if (buffer.capacity() > 0 && buffer.capacity() <= kLargestSpare && spare.size() < kSpareBuffers) {
      buffer.clear();
      spare.push_back(std::move(buffer));
    }
    buffer = std::vector<uint8_t>();
  }

  // ---- connection slots ----

  void grow(ConnId conn) {
    if (conn >= conns.size()) conns.resize(std::max<size_t>(size_t{conn} + 1, conns.size() * 2));
  }

  // Frees the slot's TLS state (not its generation, error text or role).
  void release(ConnId conn) {
    Conn& c = conns[conn];
    // OpenSSL drops the session of a connection freed without a close_notify sent, and with it
    // our cached copy (the same object). An open connection ending here is healthy (TLS errors
    // free their SSL in close_after_alert), so its session stays resumable.
    if (c.ssl != nullptr && c.phase == Phase::kOpen) SSL_set_shutdown(c.ssl, SSL_SENT_SHUTDOWN);
    SSL_free(c.ssl);
    c.ssl = nullptr;
    // The inner loop may read an unfinished send's buffer until its next poll() returns.
    if (c.in_flight.capacity() > 0) retired.push_back(std::move(c.in_flight));
    c.in_flight = std::vector<uint8_t>();
    give_back(c.pending);
    c.send_data = nullptr;
    c.send_size = c.send_encrypted = 0;
    c.send_done_at = kNotYet;
    c.cipher_made = c.cipher_sent = 0;
    c.phase = Phase::kFree;
  }

  uint32_t destination_index(const std::string& text) {
    // A run talks to a handful of brokers: a linear search is enough.
    for (size_t i = 0; i < destinations.size(); ++i) {
      if (destinations[i].text == text) return static_cast<uint32_t>(i);
    }
    Destination d;
    d.text = text;
    const std::string host = host_of(text);
    d.sni = !sni.empty() ? sni : (is_ip_address(host) ? "" : host);
    d.verify_name = !sni.empty() ? sni : host;
    d.verify_ip = is_ip_address(d.verify_name);
    destinations.push_back(std::move(d));
    return static_cast<uint32_t>(destinations.size() - 1);
  }

  // An SSL for the slot, as client (to its destination) or server. 0, or the error to report
  // with the reason in the slot's error text.
  int start_session(ConnId conn, bool server) {
    Conn& c = conns[conn];
    SSL* ssl = SSL_new(server ? server_ctx.get() : client_ctx.get());
    BIO* bio = ssl != nullptr ? BIO_new(bio_method()) : nullptr;
    if (bio == nullptr) {
      SSL_free(ssl);
      c.error = "cannot make a TLS session: " + take_openssl_errors();
      return ENOMEM;
    }
    BIO_set_data(bio, this);
    SSL_set_bio(ssl, bio, bio);  // one reference, for both directions
    c.ssl = ssl;
    if (server) {
      SSL_set_accept_state(ssl);
      return 0;
    }
    const Destination& d = destinations[c.destination];
    if (!d.sni.empty()) SSL_set_tlsext_host_name(ssl, d.sni.c_str());
    if (verify_peer && verify_hostname) {
      if (d.verify_name.empty()) {
        c.error = "no host name to verify the certificate against (Endpoint::text '" + d.text + "')";
        return kTlsHandshakeFailed;
      }
      const bool named = d.verify_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), d.verify_name.c_str()) == 1
                                     : SSL_set1_host(ssl, d.verify_name.c_str()) == 1;
      if (!named) {
        c.error = "cannot verify against '" + d.verify_name + "': " + take_openssl_errors();
        return kTlsHandshakeFailed;
      }
    }
    if (resume_sessions && d.session != nullptr) SSL_set_session(ssl, d.session);
    SSL_set_connect_state(ssl);
    return 0;
  }

  // ---- events ----

  void emit(Event::Type type, ConnId conn, int error, std::span<const uint8_t> data = {}) {
    const Event event{type, conn, error, data};
    if (n < cap) {
      out[n++] = event;
    } else {
      deferred.push_back(Deferred{event, conns[conn].gen});
    }
  }

  // Plaintext right after the last event's, for the same connection, extends that event.
  void emit_data(ConnId conn, const uint8_t* data, size_t size) {
    Event* last = !deferred.empty() ? &deferred.back().event : (n > 0 ? &out[n - 1] : nullptr);
    if (last != nullptr && last->type == Event::kData && last->conn == conn &&
        last->data.data() + last->data.size() == data) {
      last->data = {last->data.data(), last->data.size() + size};
      return;
    }
    emit(Event::kData, conn, 0, {data, size});
  }

  // ---- TLS steps; each runs inside an IoScope for the connection ----

  // Hands `pending` to the inner loop unless a send is under way there.
  void flush(ConnId conn) {
    Conn& c = conns[conn];
    if (!c.in_flight.empty() || c.pending.empty()) return;
    c.in_flight.swap(c.pending);
    transport->send(conn, c.in_flight.data(), c.in_flight.size());
  }

  // Encrypts more of the caller's send (once open), sends what is ready, and delivers kSent when
  // the last of the caller's bytes have left.
  void pump(ConnId conn) {
    Conn& c = conns[conn];
    if (c.phase == Phase::kOpen) {
      while (c.send_data != nullptr && c.send_encrypted < c.send_size && c.pending.size() < kEncryptAhead) {
        const size_t step = std::min(c.send_size - c.send_encrypted, kEncryptAhead - c.pending.size());
        const int written = SSL_write(c.ssl, c.send_data + c.send_encrypted, static_cast<int>(step));
        if (written <= 0) {
          // WANT_READ: a renegotiation waits for the peer; its answer (kData) calls pump() again.
          if (SSL_get_error(c.ssl, written) == SSL_ERROR_WANT_READ) break;
          return fail_open(conn);
        }
        c.send_encrypted += static_cast<size_t>(written);
      }
      if (c.send_data != nullptr && c.send_encrypted == c.send_size && c.send_done_at == kNotYet) {
        c.send_done_at = c.cipher_made;
      }
    }
    flush(conn);
    if (c.send_data != nullptr && c.cipher_sent >= c.send_done_at) {
      c.send_data = nullptr;
      emit(Event::kSent, conn, 0);
    }
  }

  // One handshake step; true once the handshake is done (the connection is then open).
  bool continue_handshake(ConnId conn) {
    Conn& c = conns[conn];
    const int result = SSL_do_handshake(c.ssl);
    if (result == 1) {
      c.phase = Phase::kOpen;
      ++stats.handshakes;
      if (!c.accepted) {
        if (SSL_session_reused(c.ssl) == 1) ++stats.resumed;
        emit(Event::kConnected, conn, 0);
      }
      return true;
    }
    if (SSL_get_error(c.ssl, result) == SSL_ERROR_WANT_READ) {
      flush(conn);  // our next flight, if this step made one
      return false;
    }
    fail_handshake(conn);
    return false;
  }

  // Decrypts all received ciphertext; false if that ended the connection.
  bool read_plaintext(ConnId conn) {
    Conn& c = conns[conn];
    while (true) {
      const std::span<uint8_t> room = arena.room();
      const size_t input_before = input.size();
      const int got = SSL_read(c.ssl, room.data(), static_cast<int>(std::min<size_t>(room.size(), INT_MAX)));
      if (got > 0) {
        arena.commit(static_cast<size_t>(got));
        emit_data(conn, room.data(), static_cast<size_t>(got));
        continue;
      }
      switch (SSL_get_error(c.ssl, got)) {
        case SSL_ERROR_WANT_READ:
          // A partial record waits inside OpenSSL. Records without application data (a session
          // ticket, a key update) can also end a read: go on while ciphertext is left.
          if (input.empty() || input.size() == input_before) return true;
          continue;
        case SSL_ERROR_ZERO_RETURN:  // the peer's close_notify
          ++stats.peer_close_notify;
          emit(Event::kClosed, conn, 0);
          SSL_shutdown(c.ssl);  // answer with ours
          close_after_alert(conn);
          return false;
        default:
          fail_open(conn);
          return false;
      }
    }
  }

  void fail_handshake(ConnId conn) {
    Conn& c = conns[conn];
    int code = kTlsHandshakeFailed;
    c.error = take_openssl_errors();
    const long verify = SSL_get_verify_result(c.ssl);
    if ((SSL_get_verify_mode(c.ssl) & SSL_VERIFY_PEER) != 0 && verify != X509_V_OK) {
      code = kTlsCertificateVerifyFailed;
      ++stats.verify_failures;
      c.error = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    }
    ++stats.handshake_failures;
    emit(c.accepted ? Event::kClosed : Event::kConnected, conn, code);
    close_after_alert(conn);
  }

  // A fatal TLS error on an open connection (bad record, unexpected message): kClosed(EPROTO).
  void fail_open(ConnId conn) {
    ++stats.protocol_errors;
    conns[conn].error = take_openssl_errors();
    emit(Event::kClosed, conn, EPROTO);
    close_after_alert(conn);
  }

  // Ends a connection the caller has been told is over. What OpenSSL wrote last (the alert that
  // says why, or our close_notify) is still sent, so the peer logs a reason rather than a reset:
  // the slot is free for the caller at once, while the inner connection lingers until that send
  // completes (or the peer closes, or the caller reuses the slot).
  void close_after_alert(ConnId conn) {
    Conn& c = conns[conn];
    SSL_free(c.ssl);
    c.ssl = nullptr;
    if (c.pending.empty() || !c.in_flight.empty()) {
      transport->close(conn);
      release(conn);
      return;
    }
    c.phase = Phase::kLingering;
    flush(conn);
  }

  // ---- the inner loop's events ----

  void on_connected(ConnId conn, int error) {
    if (conn >= conns.size() || conns[conn].phase != Phase::kConnecting) return;
    if (error != 0) {
      release(conn);  // the inner loop has freed its slot
      return emit(Event::kConnected, conn, error);
    }
    if (const int failure = start_session(conn, false)) {
      ++stats.handshake_failures;
      transport->close(conn);
      release(conn);
      return emit(Event::kConnected, conn, failure);
    }
    conns[conn].phase = Phase::kHandshaking;
    IoScope io(*this, conn);
    continue_handshake(conn);  // writes the ClientHello
  }

  void on_accepted(ConnId conn) {
    grow(conn);
    Conn& c = conns[conn];
    assert(c.phase == Phase::kFree && "the inner loop hands out free ids only");
    ++c.gen;
    c.accepted = true;
    c.error.clear();
    emit(Event::kAccepted, conn, 0);
    if (const int failure = start_session(conn, true)) {
      transport->close(conn);
      release(conn);
      return emit(Event::kClosed, conn, failure);
    }
    c.phase = Phase::kHandshaking;  // the client speaks first
  }

  void on_data(ConnId conn, std::span<const uint8_t> data) {
    if (conn >= conns.size()) return;
    const Phase phase = conns[conn].phase;
    if (phase != Phase::kHandshaking && phase != Phase::kOpen) return;  // lingering: not wanted
    IoScope io(*this, conn, data);
    if (phase == Phase::kHandshaking && !continue_handshake(conn)) return;
    if (!read_plaintext(conn)) return;
    pump(conn);
    // SSL_MODE_RELEASE_BUFFERS misses some (a TLS 1.3 client keeps its 17 KiB read buffer after
    // the session ticket): free what is idle now. Does nothing while a record is half read.
    if (conns[conn].phase == Phase::kOpen) SSL_free_buffers(conns[conn].ssl);
  }

  void on_sent(ConnId conn) {
    if (conn >= conns.size()) return;
    Conn& c = conns[conn];
    if (c.phase == Phase::kLingering) {
      transport->close(conn);
      return release(conn);
    }
    if (c.phase != Phase::kHandshaking && c.phase != Phase::kOpen) return;
    c.cipher_sent += c.in_flight.size();
    give_back(c.in_flight);
    IoScope io(*this, conn);
    pump(conn);
  }

  void on_closed(ConnId conn, int error) {
    if (conn >= conns.size()) return;
    Conn& c = conns[conn];
    switch (c.phase) {
      case Phase::kFree: return;
      case Phase::kLingering: return release(conn);
      case Phase::kHandshaking:
        ++stats.handshake_failures;
        c.error = "the connection ended during the TLS handshake";
        c.error += error != 0 ? std::string(": ") + std::strerror(error) : " (is the peer speaking TLS?)";
        emit(c.accepted ? Event::kClosed : Event::kConnected, conn, kTlsHandshakeFailed);
        return release(conn);
      case Phase::kOpen:
        emit(Event::kClosed, conn, error);
        return release(conn);
      case Phase::kConnecting:  // not expected: the inner loops report connect failures as kConnected
        emit(Event::kConnected, conn, error != 0 ? error : ECONNRESET);
        return release(conn);
    }
  }

  // ---- state ----

  SslCtxPtr client_ctx;
  SslCtxPtr server_ctx;  // null without a server identity
  bool verify_peer = true;
  bool verify_hostname = true;
  bool resume_sessions = true;
  std::string sni;
  CiphertextTransport* transport = nullptr;

  std::vector<Conn> conns;
  std::vector<Destination> destinations;
  ConnId current = kNoConn;         // the connection the BIO serves (IoScope)
  std::span<const uint8_t> input;  // its received ciphertext not yet taken by OpenSSL

  Event* out = nullptr;  // the current poll's events
  size_t cap = 0;
  size_t n = 0;
  std::deque<Deferred> deferred;
  PlaintextArena arena;

  std::vector<std::vector<uint8_t>> spare;    // empty ciphertext buffers
  std::vector<std::vector<uint8_t>> retired;  // of closed connections; see release()
  size_t retired_before_inner_poll = 0;
  TlsStats stats;
};

std::unique_ptr<TlsEngine> TlsEngine::create(const TlsOptions& options, uint32_t max_connections, std::string& error) {
  auto impl = std::make_unique<Impl>();
  impl->client_ctx = make_client_context(options, error);
  if (!impl->client_ctx) return nullptr;
  if (!options.server.identity.empty()) {
    impl->server_ctx = make_server_context(options, error);
    if (!impl->server_ctx) return nullptr;
  }
  SSL_CTX_set_app_data(impl->client_ctx.get(), impl.get());
  if (options.resume_sessions) SSL_CTX_sess_set_new_cb(impl->client_ctx.get(), Impl::on_new_session);
  impl->verify_peer = options.verify_peer;
  impl->verify_hostname = options.verify_hostname;
  impl->resume_sessions = options.resume_sessions;
  impl->sni = options.sni;
  impl->conns.resize(max_connections);
  return std::unique_ptr<TlsEngine>(new TlsEngine(std::move(impl)));
}

TlsEngine::TlsEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsEngine::~TlsEngine() = default;

void TlsEngine::set_transport(CiphertextTransport* transport) { impl_->transport = transport; }

bool TlsEngine::can_accept(const Endpoint& where, std::string& error) const {
  if (impl_->server_ctx) return true;
  error = "cannot listen on " + where.text + " with TLS: no server certificate and key (TlsOptions::server)";
  return false;
}

void TlsEngine::connect(ConnId conn, const Endpoint& endpoint) {
  Impl& m = *impl_;
  m.grow(conn);
  m.release(conn);  // the inner connect() closes the old connection itself
  Impl::Conn& c = m.conns[conn];
  ++c.gen;
  c.phase = Impl::Phase::kConnecting;
  c.accepted = false;
  c.error.clear();
  c.destination = m.destination_index(endpoint.text);
}

void TlsEngine::send(ConnId conn, const uint8_t* data, size_t size) {
  Impl& m = *impl_;
  if (conn >= m.conns.size()) return;
  Impl::Conn& c = m.conns[conn];
  if (c.phase == Impl::Phase::kFree || c.phase == Impl::Phase::kLingering) return;
  assert(c.send_data == nullptr && "one send in flight per connection");
  c.send_data = data;
  c.send_size = size;
  c.send_encrypted = 0;
  c.send_done_at = kNotYet;
  if (c.phase != Impl::Phase::kOpen) return;  // the end of the handshake starts it
  Impl::IoScope io(m, conn);
  m.pump(conn);
}

void TlsEngine::close(ConnId conn) {
  Impl& m = *impl_;
  if (conn >= m.conns.size()) return;
  m.release(conn);
  ++m.conns[conn].gen;  // drops its deferred events
}

void TlsEngine::begin_poll(std::span<Event> out) {
  Impl& m = *impl_;
  m.out = out.data();
  m.cap = out.size();
  m.n = 0;
  if (m.deferred.empty()) m.arena.reset();  // the caller is done with the last poll's views
  while (m.n < m.cap && !m.deferred.empty()) {
    const Impl::Deferred d = m.deferred.front();
    m.deferred.pop_front();
    if (m.conns[d.event.conn].gen == d.gen) m.out[m.n++] = d.event;
  }
}

size_t TlsEngine::room() const { return impl_->deferred.empty() ? impl_->cap - impl_->n : 0; }
size_t TlsEngine::delivered() const { return impl_->n; }

void TlsEngine::before_inner_poll() { impl_->retired_before_inner_poll = impl_->retired.size(); }

void TlsEngine::after_inner_poll() {
  Impl& m = *impl_;
  const auto done = m.retired.begin() + static_cast<ptrdiff_t>(m.retired_before_inner_poll);
  for (auto it = m.retired.begin(); it != done; ++it) m.give_back(*it);
  m.retired.erase(m.retired.begin(), done);
  m.retired_before_inner_poll = 0;
}

void TlsEngine::handle(const Event& inner) {
  Impl& m = *impl_;
  switch (inner.type) {
    case Event::kConnected: return m.on_connected(inner.conn, inner.error);
    case Event::kAccepted: return m.on_accepted(inner.conn);
    case Event::kData: return m.on_data(inner.conn, inner.data);
    case Event::kSent: return m.on_sent(inner.conn);
    case Event::kClosed: return m.on_closed(inner.conn, inner.error);
  }
}

size_t TlsEngine::end_poll() {
  Impl& m = *impl_;
  const size_t delivered = m.n;
  m.out = nullptr;
  m.cap = 0;
  m.n = 0;
  return delivered;
}

const std::string& TlsEngine::error_text(ConnId conn) const {
  static const std::string kNone;
  return conn < impl_->conns.size() ? impl_->conns[conn].error : kNone;
}

const TlsStats& TlsEngine::stats() const { return impl_->stats; }

}  // namespace ws::net
