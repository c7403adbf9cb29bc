// TLS for the event loops: the options, the error codes, and TlsEngine, the non-template part of
// TlsLoop<Loop> (net/tls_loop.h). OpenSSL stays behind this header: the driver's translation
// units include it without OpenSSL's headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "net/event_loop.h"

namespace ws::net {

// Event.error values for TLS failures, above every errno (Linux's MAX_ERRNO is 4095), so that
// "0 or a positive errno" callers still see a positive number. tls_error(conn) says why.
// kTlsHandshakeFailed: the handshake did not finish (protocol or cipher mismatch, the peer sent
// an alert, the peer is not speaking TLS, the connection ended during the handshake).
inline constexpr int kTlsHandshakeFailed = 0x10001;
// kTlsCertificateVerifyFailed: the peer's certificate is not trusted, has expired, or does not
// name the host connected to.
inline constexpr int kTlsCertificateVerifyFailed = 0x10002;

// "TLS handshake failed" / "TLS certificate verify failed" for the codes above, nullptr for any
// other value (an errno: use strerror).
const char* tls_error_name(int error);

// A certificate chain and its private key: PEM files, or one PKCS12 file (keystore_file) instead.
struct TlsIdentity {
  std::string cert_file;     // PEM: the certificate first, then any intermediates
  std::string key_file;      // PEM private key
  std::string key_password;  // for an encrypted key_file
  std::string keystore_file;  // PKCS12 holding key, certificate and chain (Java's keystore.p12)
  std::string keystore_password;
  bool empty() const { return cert_file.empty() && key_file.empty() && keystore_file.empty(); }
};

// Whether a TLS server asks for client certificates (Kafka's ssl.client.auth).
enum class ClientAuth : uint8_t { kNone, kRequested, kRequired };

struct TlsServerOptions {
  TlsIdentity identity;  // required to listen()
  // Issuers trusted for client certificates; empty: the client-side trust settings below
  // (ca_file, ca_dir, truststore, else the system store).
  std::string ca_file;
  ClientAuth client_auth = ClientAuth::kNone;
};

struct TlsOptions {
  // Whether the caller wraps its loops in TlsLoop at all; TlsLoop itself always speaks TLS.
  bool enabled = false;

  // Whom a client trusts: any of a PEM bundle, a hashed directory (c_rehash) and the certificates
  // of a PKCS12 truststore (Java's client.truststore.p12); the system's default store when none
  // of them is given.
  std::string ca_file;
  std::string ca_dir;
  std::string truststore_file;
  std::string truststore_password;
  bool verify_peer = true;
  // Checks that the certificate names the host (or IP address) of the endpoint connected to,
  // or `sni` when that is set.
  bool verify_hostname = true;
  // Server name indication. Empty: the host part of Endpoint::text when it is a name (none for
  // an IP address). Set: this name for every connection (e.g. behind an SNI-routing proxy).
  std::string sni;

  TlsIdentity identity;  // the client's own certificate, for mutual TLS; empty: none

  std::string ciphers;       // TLS 1.2 and below, OpenSSL syntax; empty: OpenSSL's default
  std::string ciphersuites;  // TLS 1.3, e.g. "TLS_AES_128_GCM_SHA256"; empty: OpenSSL's default
  std::string min_version = "TLSv1.2";  // TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3
  std::string max_version;              // empty: the newest OpenSSL has

  // Keep the latest session per destination and offer it on the next connection there (a
  // resumed handshake skips the certificate exchange), as Java clients do.
  bool resume_sessions = true;

  TlsServerOptions server;
};

// The options TlsLoop<Loop>::create(LoopOptions, error) uses: the interface's create() has no
// room for them, and the driver makes its loops through that one. Set once at start-up, before
// any loop is made; loops made later are unaffected by a later change.
void set_default_tls_options(const TlsOptions& options);
TlsOptions default_tls_options();

// Run-time counters of one TlsLoop (next to the inner loop's LoopStats).
struct TlsStats {
  uint64_t handshakes = 0;          // finished, client and server side
  uint64_t resumed = 0;             // of those, client handshakes that resumed a cached session
  uint64_t handshake_failures = 0;  // kTlsHandshakeFailed and kTlsCertificateVerifyFailed
  uint64_t verify_failures = 0;     // of those, kTlsCertificateVerifyFailed
  uint64_t protocol_errors = 0;     // fatal TLS errors after the handshake: kClosed(EPROTO)
  uint64_t peer_close_notify = 0;   // connections the peer ended with a TLS close_notify
};

// Kernel TLS: whether the kernel has the "tls" TCP upper layer and OpenSSL was built to hand
// keys to it. TlsLoop never uses it (see ktls_status() in tls_loop.h); this is for the start-up
// line and for a future loop that owns its sockets.
struct KtlsSupport {
  bool kernel = false;   // setsockopt(TCP_ULP, "tls") works on a loopback connection
  bool openssl = false;  // OpenSSL built with kTLS
  std::string detail;    // one line, e.g. "kernel: no tls ULP (...); OpenSSL: built with kTLS"
};
KtlsSupport detect_ktls();

// What TlsEngine needs from the loop underneath; TlsLoop<Loop> implements it over Loop. A virtual
// call per ciphertext send is nothing next to the encryption; the plain loops never see it.
class CiphertextTransport {
 public:
  virtual void send(ConnId conn, const uint8_t* data, size_t size) = 0;
  virtual void close(ConnId conn) = 0;

 protected:
  ~CiphertextTransport() = default;
};

// Everything of TlsLoop that does not depend on the inner loop: one SSL_CTX per side, an SSL per
// connection reading and writing ciphertext through memory (never a socket), and the events the
// caller sees. TlsLoop feeds it the inner loop's events and runs its ciphertext sends and closes.
// Internal to net/: use TlsLoop.
class TlsEngine {
 public:
  // Builds the client context and, when options.server.identity is set, the server context;
  // nullptr with a message naming the file at fault (unreadable, wrong password, key not
  // matching its certificate) or the option (unknown version, no cipher matches).
  static std::unique_ptr<TlsEngine> create(const TlsOptions& options, uint32_t max_connections,
                                           std::string& error);
  ~TlsEngine();
  TlsEngine(const TlsEngine&) = delete;
  TlsEngine& operator=(const TlsEngine&) = delete;

  void set_transport(CiphertextTransport* transport);
  bool can_accept(const Endpoint& where, std::string& error) const;  // false: no server identity

  // The caller's calls, before TlsLoop passes them on to the inner loop.
  void connect(ConnId conn, const Endpoint& endpoint);
  void send(ConnId conn, const uint8_t* data, size_t size);
  void close(ConnId conn);

  // One TlsLoop::poll(): begin_poll() hands out events held back from the last poll; then, while
  // room() > 0, the inner loop is polled (between before_ and after_inner_poll()) and each of
  // its events goes to handle(); end_poll() says how many events `out` holds.
  void begin_poll(std::span<Event> out);
  size_t room() const;
  size_t delivered() const;
  void before_inner_poll();
  void after_inner_poll();
  void handle(const Event& inner);
  size_t end_poll();

  const std::string& error_text(ConnId conn) const;
  const TlsStats& stats() const;

 private:
  struct Impl;
  explicit TlsEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ws::net
