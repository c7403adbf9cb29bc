// net/: TlsLoop over both event loops. A throwaway CA and its certificates are made at start-up
// (net/tls_certs.h); peers are a TlsLoop server in the same thread, a plain loop, a blocking
// OpenSSL server on its own thread, and `openssl s_server` when installed. Every wait is bounded.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <concepts>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "net/asio_loop.h"
#include "net/event_loop.h"
#include "net/tls.h"
#include "net/tls_certs.h"
#include "net/tls_context.h"
#include "net/tls_loop.h"
#include "net/uring_loop.h"
#include "tests/net/loop_test_support.h"

namespace ws::net {
namespace {

using namespace ws::net::test;

// The interface the driver's Worker<Loop> compiles against (event_loop.h), checked for all loops.
template <typename L>
concept EventLoopInterface = requires(L& loop, const L& const_loop, ConnId conn, const Endpoint& endpoint,
                                      const uint8_t* data, std::span<Event> out, std::string& error) {
  { L::create(LoopOptions{}, error) } -> std::same_as<std::unique_ptr<L>>;
  loop.connect(conn, endpoint);
  loop.connect(conn, endpoint, &endpoint);
  { loop.listen(endpoint, ListenOptions{}, error) } -> std::same_as<bool>;
  { const_loop.listen_port() } -> std::same_as<uint16_t>;
  loop.send(conn, data, size_t{1});
  loop.pause_receive(conn);
  loop.resume_receive(conn);
  loop.close(conn);
  { loop.poll(out, 0) } -> std::same_as<size_t>;
  { const_loop.name() } -> std::same_as<const char*>;
  { const_loop.stats() } -> std::same_as<const LoopStats&>;
};
static_assert(EventLoopInterface<UringLoop> && EventLoopInterface<AsioLoop>);
static_assert(EventLoopInterface<TlsLoop<UringLoop>> && EventLoopInterface<TlsLoop<AsioLoop>>);

constexpr char kKeyPassword[] = "key-secret";
constexpr char kStorePassword[] = "store-secret";

// The test binary's certificates, as files in a temporary directory removed at exit.
struct Pki {
  std::string dir;
  std::string ca, other_ca;              // CA certificates
  std::string server_cert, server_key;   // localhost and 127.0.0.1, issued by `ca`
  std::string named_cert, named_key;     // broker.example only, by `ca`
  std::string client_cert, client_key;   // by `ca`
  std::string locked_cert, locked_key;   // by `ca`, the key encrypted with kKeyPassword
  std::string stranger_cert, stranger_key;  // by `other_ca`
  std::string truststore;  // PKCS12 holding `ca`
  std::string keystore;    // PKCS12 holding the client's key, certificate and `ca`

  ~Pki() {
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }

  static const Pki& get() {
    static const std::unique_ptr<Pki> pki = make();
    return *pki;
  }

 private:
  static std::unique_ptr<Pki> make() {
    auto pki = std::make_unique<Pki>();
    char dir[] = "/tmp/ws_tls_test.XXXXXX";
    if (::mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp failed");
    pki->dir = dir;
    std::string error;
    auto ca = ThrowawayCa::create("wirestress test CA", error);
    auto other_ca = ThrowawayCa::create("some other CA", error);
    if (!ca || !other_ca) throw std::runtime_error(error);
    auto write = [&](const std::string& name, const std::string& contents) {
      const std::string path = pki->dir + "/" + name;
      std::ofstream(path, std::ios::binary) << contents;
      return path;
    };
    auto issue = [&](const ThrowawayCa& issuer, const std::string& name, const std::vector<std::string>& names,
                     std::string& cert, std::string& key, const std::string& password = "") {
      PemIdentity id;
      if (!issuer.issue(name, names, id, error, password)) throw std::runtime_error(error);
      cert = write(name + ".pem", id.cert);
      key = write(name + ".key", id.key);
      return id;
    };
    pki->ca = write("ca.pem", ca->cert_pem());
    pki->other_ca = write("other-ca.pem", other_ca->cert_pem());
    issue(*ca, "localhost", {"localhost", "127.0.0.1"}, pki->server_cert, pki->server_key);
    issue(*ca, "broker.example", {"broker.example"}, pki->named_cert, pki->named_key);
    const PemIdentity client = issue(*ca, "client", {}, pki->client_cert, pki->client_key);
    issue(*ca, "locked", {}, pki->locked_cert, pki->locked_key, kKeyPassword);
    issue(*other_ca, "stranger", {}, pki->stranger_cert, pki->stranger_key);
    std::string p12;
    if (!make_pkcs12(nullptr, {ca->cert_pem()}, kStorePassword, p12, error)) throw std::runtime_error(error);
    pki->truststore = write("truststore.p12", p12);
    if (!make_pkcs12(&client, {ca->cert_pem()}, kStorePassword, p12, error)) throw std::runtime_error(error);
    pki->keystore = write("keystore.p12", p12);
    return pki;
  }
};

TlsOptions trusting(const std::string& ca_file) {
  TlsOptions options;
  options.ca_file = ca_file;
  return options;
}

TlsOptions serving(const std::string& cert, const std::string& key) {
  TlsOptions options;
  options.server.identity.cert_file = cert;
  options.server.identity.key_file = key;
  return options;
}

TlsOptions client_options() { return trusting(Pki::get().ca); }
TlsOptions server_options() { return serving(Pki::get().server_cert, Pki::get().server_key); }

template <typename Loop>
std::unique_ptr<Loop> make_tls_loop(const TlsOptions& tls, const LoopOptions& options = LoopOptions{}) {
  std::string error;
  auto loop = Loop::create(options, tls, error);
  EXPECT_TRUE(loop) << error;
  return loop;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A client loop and a server loop, both polled by this thread. The server echoes what it
// receives unless told not to; either side may be a plain loop.
template <typename ClientLoop, typename ServerLoop>
class LoopPair {
 public:
  LoopPair(std::unique_ptr<ClientLoop> client_loop, std::unique_ptr<ServerLoop> server_loop, bool echo = true)
      : client(std::move(client_loop)), server(std::move(server_loop)), echo_(echo) {
    std::string error;
    if (client && server) {
      EXPECT_TRUE(server->listen(any_port(), ListenOptions{}, error)) << error;
    }
  }
  bool ok() const { return client && server && server->listen_port() != 0; }
  Endpoint endpoint(const std::string& host = "127.0.0.1") const {
    Endpoint e = local(server->listen_port());
    e.text = host + ":" + std::to_string(server->listen_port());  // names for SNI and verification
    return e;
  }
  void connect(ConnId conn, const Endpoint& where) {
    client_log.expect_connect(conn);
    client->connect(conn, where);
  }

  ::testing::AssertionResult poll_until(const std::function<bool()>& done, size_t batch = 64) {
    std::vector<Event> events(batch);
    const auto deadline = Clock::now() + kDeadline;
    while (!done()) {
      if (Clock::now() > deadline) return ::testing::AssertionFailure() << "timed out";
      poll_once(events);
    }
    return ::testing::AssertionSuccess();
  }
  void poll_for(std::chrono::milliseconds how_long) {
    std::vector<Event> events(64);
    const auto end = Clock::now() + how_long;
    while (Clock::now() < end) poll_once(events);
  }

  // Whether the server's first accepted connection has ended (kClosed).
  bool server_ended() {
    const std::optional<ConnId> conn = first_accepted();
    return conn && server_log[*conn].state == ConnLog::kDone;
  }

  // The accepted connection the server saw first, once there is one.
  std::optional<ConnId> first_accepted() {
    for (ConnId c = 0; c < 64; ++c) {
      if (server_log[c].accepted) return c;
    }
    return std::nullopt;
  }

  std::unique_ptr<ClientLoop> client;
  std::unique_ptr<ServerLoop> server;
  Recorder client_log{1024};
  Recorder server_log{1024};
  std::function<void(ServerLoop&, const Event&)> on_server_event;  // besides recording / echoing

 private:
  void poll_once(std::vector<Event>& events) {
    size_t n = client->poll(events, 1);
    for (size_t i = 0; i < n; ++i) client_log.add(events[i]);
    n = server->poll(events, 1);
    for (size_t i = 0; i < n; ++i) {
      if (echo_) {
        server_echo_.on(*server, events[i]);
      } else {
        server_log.add(events[i]);
      }
      if (on_server_event) on_server_event(*server, events[i]);
    }
  }

  bool echo_;
  LoopEcho server_echo_{server_log};
};

template <typename Inner>
class TlsLoopTest : public ::testing::Test {
 protected:
  using Tls = TlsLoop<Inner>;
  using TlsPair = LoopPair<Tls, Tls>;

  void SetUp() override {
    std::string error;
    if (std::is_same_v<Inner, UringLoop> && !UringLoop::create(LoopOptions{}, error)) {
      GTEST_SKIP() << "io_uring unavailable here: " << error;
    }
  }

  std::unique_ptr<TlsPair> pair(const TlsOptions& client, const TlsOptions& server, bool echo = true,
                                const LoopOptions& options = LoopOptions{}) {
    auto p = std::make_unique<TlsPair>(make_tls_loop<Tls>(client, options), make_tls_loop<Tls>(server, options), echo);
    EXPECT_TRUE(p->ok());
    return p;
  }
};
TYPED_TEST_SUITE(TlsLoopTest, Backends, BackendName);

// Sends a payload in pieces of odd sizes, one send at a time (the next after the last kSent).
class PieceSender {
 public:
  explicit PieceSender(std::vector<uint8_t> payload) : payload_(std::move(payload)) {}
  template <typename Loop>
  void step(Loop& loop, ConnId conn, int sent) {
    if (sent < pieces_ || offset_ == payload_.size()) return;
    static constexpr size_t kSizes[] = {1, 3, 17, 1000, 4095, 16383, 16385, 65537, 100003, 333333};
    const size_t size = std::min(kSizes[pieces_ % std::size(kSizes)], payload_.size() - offset_);
    loop.send(conn, payload_.data() + offset_, size);
    offset_ += size;
    ++pieces_;
  }
  bool done(int sent) const { return offset_ == payload_.size() && sent == pieces_; }
  const std::vector<uint8_t>& payload() const { return payload_; }
  int pieces() const { return pieces_; }

 private:
  std::vector<uint8_t> payload_;
  size_t offset_ = 0;
  int pieces_ = 0;
};

// `conns` connections each echo a payload sent in odd pieces; events in batches of `batch`.
template <typename Pair>
void echo_in_pieces(Pair& p, ConnId conns, size_t size, size_t batch) {
  std::vector<PieceSender> senders;
  for (ConnId c = 0; c < conns; ++c) {
    senders.emplace_back(pattern(size, c + 1));
    p.connect(c, p.endpoint());
    senders[c].step(*p.client, c, 0);  // before kConnected: goes out after the handshake
  }
  ASSERT_TRUE(p.poll_until([&] {
    bool all = true;
    for (ConnId c = 0; c < conns; ++c) {
      const ConnLog& log = p.client_log[c];
      if (log.state == ConnLog::kDone) return true;  // failed: reported below
      if (log.state == ConnLog::kOpen) senders[c].step(*p.client, c, log.sent);
      all = all && senders[c].done(log.sent) && log.data.size() >= size;
    }
    return all;
  }, batch));
  for (ConnId c = 0; c < conns; ++c) {
    const ConnLog& log = p.client_log[c];
    ASSERT_EQ(log.connect_error, 0) << "conn " << c << ": " << p.client->tls_error(c);
    EXPECT_EQ(log.close_error, -1) << "conn " << c;
    EXPECT_EQ(log.sent, senders[c].pieces());
    EXPECT_TRUE(log.data == as_string(senders[c].payload())) << "conn " << c << ": echoed bytes differ";
  }
}

TYPED_TEST(TlsLoopTest, EchoesAMebibyteInOddPiecesOnSeveralConnections) {
  auto p = this->pair(client_options(), server_options());
  echo_in_pieces(*p, 4, 1 << 20, 64);
  EXPECT_EQ(p->client->tls_stats().handshakes, 4u);
  EXPECT_EQ(p->server->tls_stats().handshakes, 4u);
  EXPECT_EQ(p->client->tls_stats().handshake_failures + p->server->tls_stats().handshake_failures, 0u);
  EXPECT_EQ(std::string(p->client->name()), std::string("tls+") + p->client->inner().name());
}

TYPED_TEST(TlsLoopTest, OneEventPerPollLosesNothing) {
  // A batch of one: handshake ends, data and sends that finish together wait for later polls.
  auto p = this->pair(client_options(), server_options());
  echo_in_pieces(*p, 3, 256 << 10, 1);
}

TYPED_TEST(TlsLoopTest, TwoHundredConnectionsAtOnce) {
  constexpr ConnId kConns = 200;
  std::string error;
  ASSERT_TRUE(ensure_fd_limit(2 * kConns + 100, error)) << error;
  auto p = this->pair(client_options(), server_options());
  std::vector<std::string> messages(kConns);
  for (ConnId c = 0; c < kConns; ++c) {
    messages[c] = "client " + std::to_string(c) + " " + std::string(c * 7, 'x');
    p->connect(c, p->endpoint());
    p->client->send(c, reinterpret_cast<const uint8_t*>(messages[c].data()), messages[c].size());
  }
  ASSERT_TRUE(p->poll_until([&] {
    for (ConnId c = 0; c < kConns; ++c) {
      const ConnLog& log = p->client_log[c];
      if (log.state == ConnLog::kDone) return true;
      if (log.data.size() < messages[c].size() || log.sent == 0) return false;
    }
    return true;
  }));
  for (ConnId c = 0; c < kConns; ++c) {
    ASSERT_EQ(p->client_log[c].connect_error, 0) << "conn " << c << ": " << p->client->tls_error(c);
    EXPECT_EQ(p->client_log[c].data, messages[c]);
  }
  EXPECT_EQ(p->server->tls_stats().handshakes, kConns);
}

TYPED_TEST(TlsLoopTest, PausedReceiveHoldsThePeerBack) {
  auto p = this->pair(client_options(), server_options(), /*echo=*/false);
  // Bytes numbered by position, sent 1 MiB at a time, so what arrives can be checked without
  // keeping a copy of what was sent.
  auto byte_at = [](size_t i) { return static_cast<uint8_t>((i * 131 + (i >> 11)) & 0xFF); };
  std::vector<uint8_t> piece(1 << 20);
  size_t handed = 0;  // bytes given to send()
  int pieces = 0;
  auto send_more = [&] {
    if (p->client_log[0].state != ConnLog::kOpen || p->client_log[0].sent < pieces) return;
    for (size_t i = 0; i < piece.size(); ++i) piece[i] = byte_at(handed + i);
    p->client->send(0, piece.data(), piece.size());
    handed += piece.size();
    ++pieces;
  };
  p->connect(0, p->endpoint());
  std::optional<ConnId> server_conn;
  ASSERT_TRUE(p->poll_until([&] {
    send_more();
    server_conn = p->first_accepted();
    return server_conn && !p->server_log[*server_conn].data.empty();
  }));
  p->server->pause_receive(*server_conn);

  // Send and poll until the sender has been held back for a while with nothing arriving.
  const std::string& received = p->server_log[*server_conn].data;
  auto quiet_since = Clock::now();
  size_t received_before = received.size();
  int sent_before = p->client_log[0].sent;
  while (Clock::now() - quiet_since < std::chrono::milliseconds(300)) {
    send_more();
    ASSERT_LE(handed, size_t{256} << 20) << "a paused connection kept reading";
    p->poll_for(std::chrono::milliseconds(5));
    if (p->client_log[0].sent != sent_before || received.size() != received_before) quiet_since = Clock::now();
    sent_before = p->client_log[0].sent;
    received_before = received.size();
  }
  EXPECT_LT(received.size(), handed);
  EXPECT_EQ(p->client_log[0].sent, pieces - 1) << "the last send finished while paused";

  p->server->resume_receive(*server_conn);
  const size_t stalled_at = handed;
  ASSERT_TRUE(p->poll_until([&] {
    if (handed < stalled_at + (2u << 20)) send_more();
    return handed >= stalled_at + (2u << 20) && received.size() == handed && p->client_log[0].sent == pieces;
  }));
  size_t mismatch = 0;
  while (mismatch < received.size() && static_cast<uint8_t>(received[mismatch]) == byte_at(mismatch)) ++mismatch;
  EXPECT_EQ(mismatch, received.size()) << "received bytes differ from byte " << mismatch;
}

TYPED_TEST(TlsLoopTest, CloseFromEitherSideIsAPlainClose) {
  auto p = this->pair(client_options(), server_options());
  const std::string hello = "hello";
  auto send_hello = [&](ConnId c) { p->client->send(c, reinterpret_cast<const uint8_t*>(hello.data()), hello.size()); };

  // The server closes: the client sees the end of the stream (close() sends no close_notify).
  p->connect(0, p->endpoint());
  send_hello(0);
  ASSERT_TRUE(p->poll_until([&] { return p->client_log[0].data == hello; }));
  const ConnId first = *p->first_accepted();
  p->server->close(first);
  p->server_log.forget(first);
  ASSERT_TRUE(p->poll_until([&] { return p->client_log[0].state == ConnLog::kDone; }));
  EXPECT_EQ(p->client_log[0].close_error, 0);
  EXPECT_TRUE(p->client->tls_error(0).empty()) << p->client->tls_error(0);

  // The client closes: the server sees kClosed(0).
  p->connect(1, p->endpoint());
  send_hello(1);
  ASSERT_TRUE(p->poll_until([&] { return p->client_log[1].data == hello; }));
  p->client->close(1);
  p->client_log.forget(1);
  ASSERT_TRUE(p->poll_until([&] {
    for (ConnId c = 0; c < 8; ++c) {
      if (p->server_log[c].accepted && p->server_log[c].state == ConnLog::kDone) return true;
    }
    return false;
  }));

  // Closed while connecting and reused at once: only the new connection's events appear.
  p->connect(2, p->endpoint());
  p->client->close(2);
  p->connect(2, p->endpoint());
  send_hello(2);
  ASSERT_TRUE(p->poll_until([&] { return p->client_log[2].data == hello && p->client_log[2].sent == 1; }));

  // Closed with a large send under way, reused at once.
  const std::vector<uint8_t> big = pattern(8 << 20, 3);
  p->client->send(2, big.data(), big.size());
  p->poll_for(std::chrono::milliseconds(5));
  p->client->close(2);
  p->connect(2, p->endpoint());
  send_hello(2);
  ASSERT_TRUE(p->poll_until([&] { return p->client_log[2].data == hello && p->client_log[2].sent == 1; }));
  p->poll_for(std::chrono::milliseconds(20));  // the Recorder fails on any stray event
}

TYPED_TEST(TlsLoopTest, AnUntrustedServerFailsVerificationWithTheReason) {
  auto p = this->pair(trusting(Pki::get().other_ca), server_options());
  p->connect(0, p->endpoint());
  ASSERT_TRUE(p->poll_until([&] { return p->client_log[0].state == ConnLog::kDone; }));
  EXPECT_EQ(p->client_log[0].connect_error, kTlsCertificateVerifyFailed);
  const std::string& why = p->client->tls_error(0);
  EXPECT_TRUE(contains(why, "certificate verify failed: unable to get local issuer certificate")) << why;
  EXPECT_EQ(p->client->tls_stats().verify_failures, 1u);
  EXPECT_STREQ(tls_error_name(kTlsCertificateVerifyFailed), "TLS certificate verify failed");

  // Our alert reaches the server, which reports the handshake failed and why.
  ASSERT_TRUE(p->poll_until([&] { return p->server_ended(); }));
  const ConnId server_conn = *p->first_accepted();
  EXPECT_EQ(p->server_log[server_conn].close_error, kTlsHandshakeFailed);
  EXPECT_TRUE(contains(p->server->tls_error(server_conn), "unknown ca")) << p->server->tls_error(server_conn);

  // The slot is free: the same loop connects it again (and fails the same way).
  p->connect(0, p->endpoint());
  ASSERT_TRUE(p->poll_until([&] { return p->client_log[0].state == ConnLog::kDone; }));
  EXPECT_EQ(p->client_log[0].connect_error, kTlsCertificateVerifyFailed);
}

TYPED_TEST(TlsLoopTest, TheCertificateMustNameTheHostConnectedTo) {
  // The server's certificate names broker.example only; every connection goes to 127.0.0.1.
  auto p = this->pair(client_options(), serving(Pki::get().named_cert, Pki::get().named_key));
  p->connect(0, p->endpoint("broker.example"));
  p->connect(1, p->endpoint("other.example"));
  p->connect(2, p->endpoint("127.0.0.1"));
  ASSERT_TRUE(p->poll_until([&] {
    return p->client_log[0].state != ConnLog::kConnecting && p->client_log[1].state == ConnLog::kDone &&
           p->client_log[2].state == ConnLog::kDone;
  }));
  EXPECT_EQ(p->client_log[0].connect_error, 0) << p->client->tls_error(0);
  EXPECT_EQ(p->client_log[1].connect_error, kTlsCertificateVerifyFailed);
  EXPECT_TRUE(contains(p->client->tls_error(1), "hostname mismatch")) << p->client->tls_error(1);
  EXPECT_EQ(p->client_log[2].connect_error, kTlsCertificateVerifyFailed);
  EXPECT_TRUE(contains(p->client->tls_error(2), "IP address mismatch")) << p->client->tls_error(2);

  // Without the host check, the chain alone decides.
  TlsOptions unchecked = client_options();
  unchecked.verify_hostname = false;
  auto q = this->pair(unchecked, serving(Pki::get().named_cert, Pki::get().named_key));
  q->connect(0, q->endpoint("other.example"));
  ASSERT_TRUE(q->poll_until([&] { return q->client_log[0].state != ConnLog::kConnecting; }));
  EXPECT_EQ(q->client_log[0].connect_error, 0) << q->client->tls_error(0);

  // A set SNI names the server for every connection, and is what is verified.
  TlsOptions by_sni = client_options();
  by_sni.sni = "broker.example";
  auto r = this->pair(by_sni, serving(Pki::get().named_cert, Pki::get().named_key));
  r->connect(0, r->endpoint("127.0.0.1"));
  ASSERT_TRUE(r->poll_until([&] { return r->client_log[0].state != ConnLog::kConnecting; }));
  EXPECT_EQ(r->client_log[0].connect_error, 0) << r->client->tls_error(0);
}

// The server requires a client certificate from `ca`.
TlsOptions server_requiring_client_certificates() {
  TlsOptions options = server_options();
  options.server.client_auth = ClientAuth::kRequired;
  options.server.ca_file = Pki::get().ca;
  return options;
}

TYPED_TEST(TlsLoopTest, MutualTlsWithEachKindOfClientIdentity) {
  const Pki& pki = Pki::get();
  TlsOptions pem = client_options();
  pem.identity.cert_file = pki.client_cert;
  pem.identity.key_file = pki.client_key;
  TlsOptions encrypted = client_options();
  encrypted.identity.cert_file = pki.locked_cert;
  encrypted.identity.key_file = pki.locked_key;
  encrypted.identity.key_password = kKeyPassword;
  TlsOptions java_stores;  // what a Java client is handed: client.keystore.p12, client.truststore.p12
  java_stores.truststore_file = pki.truststore;
  java_stores.truststore_password = kStorePassword;
  java_stores.identity.keystore_file = pki.keystore;
  java_stores.identity.keystore_password = kStorePassword;
  for (const TlsOptions* client : {&pem, &encrypted, &java_stores}) {
    auto p = this->pair(*client, server_requiring_client_certificates());
    echo_in_pieces(*p, 1, 100000, 64);
    EXPECT_EQ(p->server->tls_stats().handshakes, 1u);
  }
}

TYPED_TEST(TlsLoopTest, MutualTlsFailsWithoutAClientCertificate) {
  // TLS 1.2: the server refuses before the client's handshake is done.
  TlsOptions tls12 = client_options();
  tls12.max_version = "TLSv1.2";
  auto p = this->pair(tls12, server_requiring_client_certificates());
  p->connect(0, p->endpoint());
  ASSERT_TRUE(p->poll_until([&] { return p->client_log[0].state == ConnLog::kDone; }));
  EXPECT_EQ(p->client_log[0].connect_error, kTlsHandshakeFailed);
  EXPECT_TRUE(contains(p->client->tls_error(0), "handshake failure")) << p->client->tls_error(0);
  ASSERT_TRUE(p->poll_until([&] { return p->server_ended(); }));
  const ConnId server_conn = *p->first_accepted();
  EXPECT_EQ(p->server_log[server_conn].close_error, kTlsHandshakeFailed);
  EXPECT_TRUE(contains(p->server->tls_error(server_conn), "peer did not return a certificate"))
      << p->server->tls_error(server_conn);

  // TLS 1.3: the client's handshake ends before the server checks the certificate, so the
  // client sees the server's alert as the first thing after kConnected.
  auto q = this->pair(client_options(), server_requiring_client_certificates());
  q->connect(0, q->endpoint());
  ASSERT_TRUE(q->poll_until([&] { return q->client_log[0].state == ConnLog::kDone; }));
  const ConnLog& log = q->client_log[0];
  if (log.connect_error == 0) {
    EXPECT_EQ(log.close_error, EPROTO);
    EXPECT_EQ(q->client->tls_stats().protocol_errors, 1u);
  } else {
    EXPECT_EQ(log.connect_error, kTlsHandshakeFailed);
  }
  EXPECT_TRUE(contains(q->client->tls_error(0), "certificate required")) << q->client->tls_error(0);

  // A certificate from a CA the server does not trust.
  TlsOptions stranger = client_options();
  stranger.identity.cert_file = Pki::get().stranger_cert;
  stranger.identity.key_file = Pki::get().stranger_key;
  auto r = this->pair(stranger, server_requiring_client_certificates());
  r->connect(0, r->endpoint());
  ASSERT_TRUE(r->poll_until([&] { return r->server_ended(); }));
  EXPECT_EQ(r->server_log[*r->first_accepted()].close_error, kTlsCertificateVerifyFailed);
  EXPECT_TRUE(contains(r->server->tls_error(*r->first_accepted()), "certificate verify failed"));

  // Requested rather than required: no certificate is fine.
  TlsOptions requested = server_requiring_client_certificates();
  requested.server.client_auth = ClientAuth::kRequested;
  auto s = this->pair(client_options(), requested);
  echo_in_pieces(*s, 1, 1000, 64);
}

TYPED_TEST(TlsLoopTest, APlaintextServerFailsTheHandshake) {
  using Secure = typename TestFixture::Tls;
  // An echo server: the ClientHello comes back, which is no ServerHello.
  {
    LoopPair<Secure, TypeParam> p(make_tls_loop<Secure>(client_options()), make_loop<TypeParam>(LoopOptions{}));
    ASSERT_TRUE(p.ok());
    p.connect(0, p.endpoint());
    ASSERT_TRUE(p.poll_until([&] { return p.client_log[0].state == ConnLog::kDone; }));
    EXPECT_EQ(p.client_log[0].connect_error, kTlsHandshakeFailed);
    EXPECT_FALSE(p.client->tls_error(0).empty());
  }
  // A server that closes on bytes it does not understand (as a Kafka broker does).
  {
    LoopPair<Secure, TypeParam> p(make_tls_loop<Secure>(client_options()), make_loop<TypeParam>(LoopOptions{}), false);
    ASSERT_TRUE(p.ok());
    p.on_server_event = [](TypeParam& server, const Event& e) {
      if (e.type == Event::kData) server.close(e.conn);
    };
    p.connect(0, p.endpoint());
    ASSERT_TRUE(p.poll_until([&] { return p.client_log[0].state == ConnLog::kDone; }));
    EXPECT_EQ(p.client_log[0].connect_error, kTlsHandshakeFailed);
    EXPECT_TRUE(contains(p.client->tls_error(0), "ended during the TLS handshake")) << p.client->tls_error(0);
  }
  // A plaintext client at a TLS server: the server reports the failed handshake.
  {
    LoopPair<TypeParam, Secure> p(make_loop<TypeParam>(LoopOptions{}), make_tls_loop<Secure>(server_options()), false);
    ASSERT_TRUE(p.ok());
    const std::string request = "GET / HTTP/1.0\r\n\r\n";
    p.connect(0, p.endpoint());
    p.client->send(0, reinterpret_cast<const uint8_t*>(request.data()), request.size());
    ASSERT_TRUE(p.poll_until([&] { return p.server_ended(); }));
    EXPECT_EQ(p.server_log[*p.first_accepted()].close_error, kTlsHandshakeFailed);
    EXPECT_FALSE(p.server->tls_error(*p.first_accepted()).empty());
    ASSERT_TRUE(p.poll_until([&] { return p.client_log[0].state == ConnLog::kDone; }));
  }
}

TYPED_TEST(TlsLoopTest, SessionsAreResumedPerDestination) {
  for (const char* version : {"TLSv1.2", "TLSv1.3"}) {
    SCOPED_TRACE(version);
    TlsOptions client = client_options();
    client.max_version = version;
    auto p = this->pair(client, server_options());
    const std::string hello = "hello";
    for (ConnId c = 0; c < 3; ++c) {
      p->connect(c, p->endpoint());
      p->client->send(c, reinterpret_cast<const uint8_t*>(hello.data()), hello.size());
      // The echo comes after the session ticket, so the session is cached by then.
      ASSERT_TRUE(p->poll_until(
          [&] { return p->client_log[c].data == hello || p->client_log[c].state == ConnLog::kDone; }));
      ASSERT_EQ(p->client_log[c].connect_error, 0) << p->client->tls_error(c);
      // Closed before the next one starts (without a close_notify), as a reconnect does.
      p->client->close(c);
      p->client_log.forget(c);
    }
    EXPECT_EQ(p->client->tls_stats().resumed, 2u);

    client.resume_sessions = false;
    auto q = this->pair(client, server_options());
    for (ConnId c = 0; c < 2; ++c) {
      q->connect(c, q->endpoint());
      q->client->send(c, reinterpret_cast<const uint8_t*>(hello.data()), hello.size());
      ASSERT_TRUE(q->poll_until(
          [&] { return q->client_log[c].data == hello || q->client_log[c].state == ConnLog::kDone; }));
    }
    EXPECT_EQ(q->client->tls_stats().resumed, 0u);
    EXPECT_EQ(q->client->tls_stats().handshakes, 2u);
  }
}

// A TLS server written straight against OpenSSL with blocking sockets, on its own thread: an
// independent peer for what comes after the handshake. It serves one connection: echoes `first`
// bytes, then sends a key update (TLS 1.3) or starts a renegotiation (TLS 1.2), echoes `second`
// bytes, and ends with close_notify.
class OpensslPeer {
 public:
  enum class Then { kKeyUpdate, kRenegotiate };

  OpensslPeer(const TlsOptions& options, Then then, size_t first, size_t second)
      : then_(then), first_(first), second_(second) {
    std::string error;
    ctx_ = make_server_context(options, error);
    EXPECT_TRUE(ctx_) << error;
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const Endpoint any = any_port();
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    if (!ctx_ || ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&any.addr), any.len) != 0 ||
        ::listen(listen_fd_, 1) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "openssl peer: " << std::strerror(errno);
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~OpensslPeer() {
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }

  Endpoint endpoint(const std::string& host) const {
    Endpoint e = local(port_);
    e.text = host + ":" + std::to_string(port_);
    return e;
  }
  bool finished() const { return finished_; }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  // After join():
  std::string failure;      // empty if everything went as planned
  std::string server_name;  // the SNI the client sent
  bool got_close_notify = false;

 private:
  void run() {
    pollfd waiting{listen_fd_, POLLIN, 0};
    if (::poll(&waiting, 1, 20000) != 1) {
      failure = "no connection";
      finished_ = true;
      return;
    }
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    timeval timeout{20, 0};  // a stuck client fails the test instead of hanging it
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    SSL* ssl = SSL_new(ctx_.get());
    SSL_set_fd(ssl, fd);
    SSL_clear_options(ssl, SSL_OP_NO_RENEGOTIATION);  // this server starts one itself
    if (SSL_accept(ssl) != 1) {
      failure = "handshake: " + take_openssl_errors();
    } else {
      const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
      server_name = name != nullptr ? name : "";
      if (!echo(ssl, first_)) {
        failure = "first echo: " + take_openssl_errors();
      } else if (then_ == Then::kKeyUpdate && SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) != 1) {
        failure = "key update: " + take_openssl_errors();
      } else if (then_ == Then::kRenegotiate && (SSL_renegotiate(ssl) != 1 || SSL_do_handshake(ssl) != 1)) {
        failure = "renegotiate: " + take_openssl_errors();
      } else if (!echo(ssl, second_)) {
        failure = "second echo: " + take_openssl_errors();
      } else if (then_ == Then::kRenegotiate && SSL_renegotiate_pending(ssl) != 0) {
        failure = "the renegotiation did not finish";
      } else {
        // 0: ours is sent; then 1 once the client's close_notify came back.
        const int first_call = SSL_shutdown(ssl);
        got_close_notify = first_call == 1 || (first_call == 0 && SSL_shutdown(ssl) == 1);
      }
    }
    SSL_free(ssl);
    ::close(fd);
    finished_ = true;
  }

  bool echo(SSL* ssl, size_t size) {
    std::vector<char> buffer(64 * 1024);
    for (size_t done = 0; done < size;) {
      const int got = SSL_read(ssl, buffer.data(), static_cast<int>(std::min(buffer.size(), size - done)));
      if (got <= 0 || SSL_write(ssl, buffer.data(), got) != got) return false;
      done += static_cast<size_t>(got);
    }
    return true;
  }

  SslCtxPtr ctx_;
  Then then_;
  size_t first_;
  size_t second_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

// Echo of two payloads through OpensslPeer, then its close_notify.
template <typename Tls>
void talk_to_openssl_peer(const TlsOptions& client, OpensslPeer::Then then, const std::string& host) {
  const std::vector<uint8_t> first = pattern(300000, 1), second = pattern(200000, 2);
  OpensslPeer peer(server_options(), then, first.size(), second.size());
  auto loop = make_tls_loop<Tls>(client);
  ASSERT_TRUE(loop);
  Recorder rec(1);
  rec.expect_connect(0);
  loop->connect(0, peer.endpoint(host));
  loop->send(0, first.data(), first.size());
  // Once: until that send completes, `sent` stays 1 and the echo of `first` is all there is, so
  // a second look would send `second` again (under load it did, and the peer, done after one
  // copy, saw application data after its close_notify and reset the connection).
  bool second_sent = false;
  ASSERT_TRUE(poll_until(*loop, rec, [&] {
    if (!second_sent && rec[0].data.size() == first.size() && rec[0].sent == 1) {
      loop->send(0, second.data(), second.size());
      second_sent = true;
    }
    return rec[0].state == ConnLog::kDone;
  }));
  // Our close_notify in answer goes out from a later poll (io_uring submits there).
  ASSERT_TRUE(poll_until(*loop, rec, [&] { return peer.finished(); }));
  peer.join();
  EXPECT_EQ(peer.failure, "");
  EXPECT_EQ(rec[0].connect_error, 0) << loop->tls_error(0);
  EXPECT_EQ(rec[0].close_error, 0) << loop->tls_error(0);
  EXPECT_EQ(rec[0].sent, 2);
  EXPECT_TRUE(rec[0].data == as_string(first) + as_string(second)) << "echoed bytes differ";
  EXPECT_EQ(loop->tls_stats().peer_close_notify, 1u);
  EXPECT_TRUE(peer.got_close_notify) << "no close_notify in answer";
  EXPECT_EQ(peer.server_name, host == "127.0.0.1" ? "" : host) << "SNI";
}

TYPED_TEST(TlsLoopTest, KeyUpdateAndCloseNotifyFromAnOpensslServer) {
  talk_to_openssl_peer<TlsLoop<TypeParam>>(client_options(), OpensslPeer::Then::kKeyUpdate, "localhost");
}

TYPED_TEST(TlsLoopTest, RenegotiationFromAnOpensslServer) {
  TlsOptions tls12 = client_options();
  tls12.max_version = "TLSv1.2";
  talk_to_openssl_peer<TlsLoop<TypeParam>>(tls12, OpensslPeer::Then::kRenegotiate, "127.0.0.1");
}

// `openssl s_server -rev` on a free port: sends every line back reversed.
class OpensslServerProcess {
 public:
  OpensslServerProcess() {
    const Pki& pki = Pki::get();
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(out[1], STDERR_FILENO);
      ::execlp("openssl", "openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", pki.server_cert.c_str(), "-key",
               pki.server_key.c_str(), "-rev", "-naccept", "1", "-ign_eof", nullptr);
      ::_exit(127);
    }
    ::close(out[1]);
    // "ACCEPT 127.0.0.1:<port>" once it listens.
    std::string text;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (port_ == 0 && Clock::now() < deadline) {
      pollfd readable{out[0], POLLIN, 0};
      if (::poll(&readable, 1, 100) != 1) continue;
      char buffer[256];
      const ssize_t got = ::read(out[0], buffer, sizeof buffer);
      if (got <= 0) break;
      text.append(buffer, static_cast<size_t>(got));
      const size_t at = text.find("ACCEPT 127.0.0.1:");
      const size_t end = at == std::string::npos ? at : text.find('\n', at);
      if (end != std::string::npos) port_ = static_cast<uint16_t>(std::stoi(text.substr(at + 17, end - at - 17)));
    }
    output_fd_ = out[0];
  }
  ~OpensslServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (output_fd_ >= 0) ::close(output_fd_);
  }
  uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int output_fd_ = -1;
  uint16_t port_ = 0;
};

bool have_openssl_binary() { return std::system("openssl version >/dev/null 2>&1") == 0; }

TYPED_TEST(TlsLoopTest, TalksToOpensslSServer) {
  if (!have_openssl_binary()) GTEST_SKIP() << "no openssl command";
  OpensslServerProcess server;
  ASSERT_NE(server.port(), 0) << "openssl s_server did not start";
  auto loop = make_tls_loop<TlsLoop<TypeParam>>(client_options());
  ASSERT_TRUE(loop);
  Recorder rec(1);
  rec.expect_connect(0);
  Endpoint endpoint = local(server.port());
  const std::string line = "hello from wirestress\n";
  loop->connect(0, endpoint);
  loop->send(0, reinterpret_cast<const uint8_t*>(line.data()), line.size());
  ASSERT_TRUE(poll_until(*loop, rec,
                         [&] { return rec[0].data.size() >= line.size() || rec[0].state == ConnLog::kDone; }));
  EXPECT_EQ(rec[0].connect_error, 0) << loop->tls_error(0);
  EXPECT_EQ(rec[0].data, std::string(line.rbegin() + 1, line.rend()) + "\n");
  loop->close(0);
}

TEST(TlsOptions, BadOptionsFailCreateNamingTheFile) {
  const Pki& pki = Pki::get();
  auto error_of = [](const TlsOptions& options) {
    std::string error;
    auto loop = TlsLoop<AsioLoop>::create(LoopOptions{}, options, error);
    EXPECT_FALSE(loop);
    return error;
  };
  EXPECT_EQ(error_of(trusting("/nonexistent/ca.pem")),
            "tls: cannot read CA file '/nonexistent/ca.pem': No such file or directory");
  std::string error = error_of(trusting(pki.client_key));  // a key is no CA certificate
  EXPECT_TRUE(contains(error, "cannot load CA file '" + pki.client_key + "'")) << error;

  TlsOptions encrypted = client_options();
  encrypted.identity.cert_file = pki.locked_cert;
  encrypted.identity.key_file = pki.locked_key;
  error = error_of(encrypted);
  EXPECT_TRUE(contains(error, "cannot load private key '" + pki.locked_key + "'") &&
              contains(error, "the key is encrypted: give its password"))
      << error;
  encrypted.identity.key_password = "wrong";
  error = error_of(encrypted);
  EXPECT_TRUE(contains(error, "'" + pki.locked_key + "'") && contains(error, "wrong key password?")) << error;

  TlsOptions mismatch = client_options();
  mismatch.identity.cert_file = pki.server_cert;
  mismatch.identity.key_file = pki.client_key;
  error = error_of(mismatch);
  EXPECT_TRUE(contains(error, "private key '" + pki.client_key + "' does not fit certificate '" +
                                  pki.server_cert + "'"))
      << error;

  TlsOptions half = client_options();
  half.identity.cert_file = pki.client_cert;
  EXPECT_TRUE(contains(error_of(half), "needs its key file"));

  TlsOptions store = client_options();
  store.truststore_file = pki.truststore;
  store.truststore_password = "wrong";
  error = error_of(store);
  EXPECT_TRUE(contains(error, "truststore '" + pki.truststore + "'") && contains(error, "wrong password?")) << error;
  TlsOptions keystore = client_options();
  keystore.identity.keystore_file = pki.keystore;
  keystore.identity.keystore_password = "wrong";
  EXPECT_TRUE(contains(error_of(keystore), "keystore '" + pki.keystore + "'"));

  TlsOptions server = server_options();
  server.server.identity.key_file = "/nonexistent/server.key";
  EXPECT_EQ(error_of(server), "tls: cannot read key file '/nonexistent/server.key': No such file or directory");

  TlsOptions version = client_options();
  version.min_version = "TLSv9";
  EXPECT_TRUE(contains(error_of(version), "unknown TLS version 'TLSv9'"));
  TlsOptions ciphers = client_options();
  ciphers.ciphers = "NO-SUCH-CIPHER";
  EXPECT_TRUE(contains(error_of(ciphers), "no cipher matches ciphers 'NO-SUCH-CIPHER'"));

  // A loop without a server identity connects but cannot listen.
  auto loop = make_tls_loop<TlsLoop<AsioLoop>>(client_options());
  ASSERT_TRUE(loop);
  EXPECT_FALSE(loop->listen(any_port(), ListenOptions{}, error));
  EXPECT_TRUE(contains(error, "no server certificate")) << error;
}

TEST(TlsOptions, TheInterfaceCreateUsesTheDefaultOptions) {
  // One loop is both ends: ids below 100 connect to its own listener, which echoes.
  TlsOptions both = server_options();
  both.ca_file = Pki::get().ca;
  set_default_tls_options(both);
  std::string error;
  auto loop = TlsLoop<AsioLoop>::create(LoopOptions{}, error);
  set_default_tls_options(TlsOptions{});
  ASSERT_TRUE(loop) << error;
  ASSERT_TRUE(loop->listen(any_port(), ListenOptions{100}, error)) << error;
  Recorder rec(200);
  LoopEcho echo(rec);
  const std::string hello = "hello myself";
  rec.expect_connect(0);
  loop->connect(0, local(loop->listen_port()));
  loop->send(0, reinterpret_cast<const uint8_t*>(hello.data()), hello.size());
  ASSERT_TRUE(poll_echo(*loop, echo, [&] { return rec[0].data == hello || rec[0].state == ConnLog::kDone; }));
  EXPECT_EQ(rec[0].connect_error, 0) << loop->tls_error(0);
  EXPECT_TRUE(rec[100].accepted);
}

TEST(TlsOptions, ErrorNamesAndKernelTlsStatus) {
  EXPECT_STREQ(tls_error_name(kTlsHandshakeFailed), "TLS handshake failed");
  EXPECT_EQ(tls_error_name(ECONNRESET), nullptr);
  EXPECT_GT(kTlsHandshakeFailed, 4095);  // beyond every errno
  auto loop = make_tls_loop<TlsLoop<AsioLoop>>(client_options());
  ASSERT_TRUE(loop);
  EXPECT_FALSE(loop->ktls_active());
  const KtlsSupport ktls = detect_ktls();
  EXPECT_TRUE(contains(loop->ktls_status(), "kTLS not used")) << loop->ktls_status();
  EXPECT_TRUE(contains(loop->ktls_status(), ktls.detail)) << loop->ktls_status();
  std::cout << "kernel TLS: " << ktls.detail << "\n";
}

// Heap bytes in use (glibc), mmapped chunks included.
size_t heap_in_use() {
  const struct mallinfo2 info = ::mallinfo2();
  return info.uordblks + info.hblkhd;
}

TYPED_TEST(TlsLoopTest, IdleConnectionsKeepLittleMemory) {
  // Both ends in this process: what the heap grows by per connection pair once the handshakes
  // are done and a message has gone each way; then the server ends closed, leaving the clients'.
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's allocator is invisible to mallinfo2()";
#endif
  constexpr ConnId kConns = 500;
  std::string error;
  ASSERT_TRUE(ensure_fd_limit(2 * kConns + 100, error)) << error;
  LoopOptions options;
  options.max_connections = kConns;
  auto p = this->pair(client_options(), server_options(), true, options);
  const std::string hello = "hello";
  // Warm up: one connection, so the loops' shared buffers exist before the measurement.
  p->connect(kConns, p->endpoint());
  p->client->send(kConns, reinterpret_cast<const uint8_t*>(hello.data()), hello.size());
  ASSERT_TRUE(p->poll_until([&] { return p->client_log[kConns].data == hello; }));
  ::malloc_trim(0);
  const size_t before = heap_in_use();
  for (ConnId c = 0; c < kConns; ++c) {
    p->connect(c, p->endpoint());
    p->client->send(c, reinterpret_cast<const uint8_t*>(hello.data()), hello.size());
  }
  ASSERT_TRUE(p->poll_until([&] {
    for (ConnId c = 0; c < kConns; ++c) {
      if (p->client_log[c].data != hello || p->client_log[c].sent != 1) return false;
    }
    return true;
  }));
  p->poll_for(std::chrono::milliseconds(50));  // the last echoes' kSent
  const size_t pairs = heap_in_use() - before;
  for (ConnId c = 0; c < 1024; ++c) {
    if (p->server_log[c].accepted && p->server_log[c].state == ConnLog::kOpen) p->server->close(c);
  }
  const size_t clients = heap_in_use() - before;  // the client loop has not been polled since
  const size_t per_client = clients / kConns;
  const size_t per_server = (pairs - std::min(pairs, clients)) / kConns;
  std::cout << "idle TLS connection heap: client " << per_client << " B, server " << per_server << " B ("
            << p->client->name() << ", " << kConns << " connections)\n";
  // OpenSSL 3.0's SSL object alone is about 9 KiB, with the session, peer certificate and cipher
  // state about 14-16 KiB. A 16 KiB record buffer or a memory BIO's high-water mark kept per idle
  // connection would break this.
  EXPECT_LT(per_client, 24u << 10);
  EXPECT_LT(per_server, 24u << 10);
}

}  // namespace
}  // namespace ws::net
