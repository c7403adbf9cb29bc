// TlsLoop<Loop>: TLS over either event loop, with exactly their interface (event_loop.h), so the
// driver's Worker<TlsLoop<UringLoop>> or Worker<TlsLoop<AsioLoop>> needs nothing else. The inner
// loop still moves the bytes (now ciphertext); OpenSSL encrypts and decrypts in user space on
// the loop's thread, through memory (TlsEngine, tls_engine.cpp). The plain loops carry no TLS code.
//
// What changes for the caller:
//  - kConnected comes once the TLS handshake is done (error 0), or with the failure: an errno
//    for TCP, kTlsHandshakeFailed or kTlsCertificateVerifyFailed (net/tls.h) for TLS, with the
//    reason in tls_error(conn). A send() before kConnected goes out after the handshake.
//  - kAccepted comes when TCP accepts; the server handshake runs next. Its failure is kClosed
//    with one of the two TLS codes; kData only ever carries plaintext after the handshake.
//  - kSent comes once all of the caller's bytes are encrypted and their ciphertext was sent.
//  - A fatal TLS error after the handshake (a bad record, an alert) is kClosed(EPROTO), with
//    tls_error(conn) saying which; the peer's close_notify is kClosed(0). In TLS 1.3 a server
//    refuses a client certificate after the client's handshake is done: kConnected(0), then
//    kClosed(EPROTO) with "tlsv13 alert certificate required".
//  - close() ends the connection without a close_notify: the slot must be free at once, and the
//    alert would need the socket to stay open. TLS failures do send their alert (see
//    close_after_alert in tls_engine.cpp).
//  - pause_receive() holds the ciphertext in the socket as before; what was received is still
//    decrypted and delivered, as "kData already received may still arrive" allows.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "net/event_loop.h"
#include "net/tls.h"

namespace ws::net {

template <typename Loop>
class TlsLoop {
 public:
  // The interface's create(): TLS settings from default_tls_options() (net/tls.h).
  static std::unique_ptr<TlsLoop> create(const LoopOptions& options, std::string& error) {
    return create(options, default_tls_options(), error);
  }
  // One SSL_CTX per side per loop (a loop is one worker thread), built here: a bad file or
  // option fails create() with a message naming it.
  static std::unique_ptr<TlsLoop> create(const LoopOptions& options, const TlsOptions& tls, std::string& error) {
    auto engine = TlsEngine::create(tls, options.max_connections, error);
    if (!engine) return nullptr;
    auto inner = Loop::create(options, error);
    if (!inner) return nullptr;
    return std::unique_ptr<TlsLoop>(new TlsLoop(std::move(engine), std::move(inner)));
  }
  TlsLoop(const TlsLoop&) = delete;
  TlsLoop& operator=(const TlsLoop&) = delete;

  // Endpoint::text gives the host name for SNI and certificate verification (TlsOptions).
  void connect(ConnId conn, const Endpoint& endpoint, const Endpoint* source = nullptr) {
    if (conn < tcp_connected_ns_.size()) tcp_connected_ns_[conn] = 0;
    engine_->connect(conn, endpoint);
    inner_->connect(conn, endpoint, source);
  }
  // Needs TlsOptions::server.identity; false with a message without it.
  bool listen(const Endpoint& where, const ListenOptions& options, std::string& error) {
    return engine_->can_accept(where, error) && inner_->listen(where, options, error);
  }
  uint16_t listen_port() const { return inner_->listen_port(); }
  void send(ConnId conn, const uint8_t* data, size_t size) { engine_->send(conn, data, size); }
  void pause_receive(ConnId conn) { inner_->pause_receive(conn); }
  void resume_receive(ConnId conn) { inner_->resume_receive(conn); }
  void close(ConnId conn) {
    engine_->close(conn);
    inner_->close(conn);
  }

  size_t poll(std::span<Event> out, int timeout_ms) {
    if (out.empty()) return 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
    engine_->begin_poll(out);
    // Inner events that make no event of ours (a handshake step, a chunk of a large send) do not
    // end the wait: poll the inner loop again until something is delivered or time is up.
    while (const size_t room = engine_->room()) {
      if (inner_events_.size() < room) inner_events_.resize(room);
      const int wait = engine_->delivered() > 0 ? 0 : remaining_ms(deadline, timeout_ms);
      engine_->before_inner_poll();
      const size_t n = inner_->poll(std::span<Event>(inner_events_.data(), room), wait);
      engine_->after_inner_poll();
      for (size_t i = 0; i < n; ++i) {
        const Event& e = inner_events_[i];
        if (e.type == Event::kConnected && e.error == 0) note_tcp_connected(e.conn);
        engine_->handle(e);
      }
      if (engine_->delivered() > 0 || wait == 0) break;
      if (timeout_ms > 0 && std::chrono::steady_clock::now() >= deadline) break;
    }
    return engine_->end_poll();
  }

  const char* name() const { return name_.c_str(); }  // "tls+io_uring" / "tls+asio"
  const LoopStats& stats() const { return inner_->stats(); }

  // Why TLS ended or failed the connection (OpenSSL's reason, e.g. "certificate verify failed:
  // unable to get local issuer certificate"), after a TLS error code or kClosed(EPROTO); empty
  // for TCP errors. Valid until the slot is connected again or accepts a new connection.
  const std::string& tls_error(ConnId conn) const { return engine_->error_text(conn); }
  const TlsStats& tls_stats() const { return engine_->stats(); }

  // Kernel TLS is never active: the inner loop owns the sockets and moves ciphertext with its own
  // sends and receives, and OpenSSL can only hand keys to the kernel for a socket BIO it owns.
  // ktls_status() says so, with what this machine would offer (detect_ktls()).
  bool ktls_active() const { return false; }
  const std::string& ktls_status() const {
    if (ktls_status_.empty()) ktls_status_ = "kTLS not used (TlsLoop encrypts in user space); " + detect_ktls().detail;
    return ktls_status_;
  }

  Loop& inner() { return *inner_; }  // e.g. UringLoop::features()

  // When the connection's TCP connect completed (steady_clock ns; 0: not yet), before its TLS
  // handshake: lets a caller time the two apart (the connection storm's tcp and tls stages).
  int64_t tcp_connected_ns(ConnId conn) const { return conn < tcp_connected_ns_.size() ? tcp_connected_ns_[conn] : 0; }

 private:
  // The engine's ciphertext goes out through the inner loop.
  class InnerTransport final : public CiphertextTransport {
   public:
    explicit InnerTransport(Loop& loop) : loop_(loop) {}
    void send(ConnId conn, const uint8_t* data, size_t size) override { loop_.send(conn, data, size); }
    void close(ConnId conn) override { loop_.close(conn); }

   private:
    Loop& loop_;
  };

  TlsLoop(std::unique_ptr<TlsEngine> engine, std::unique_ptr<Loop> inner)
      : engine_(std::move(engine)), inner_(std::move(inner)), transport_(*inner_),
        name_(std::string("tls+") + inner_->name()) {
    engine_->set_transport(&transport_);
  }

  void note_tcp_connected(ConnId conn) {
    if (tcp_connected_ns_.size() <= conn) tcp_connected_ns_.resize(conn + 1, 0);
    tcp_connected_ns_[conn] = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::steady_clock::now().time_since_epoch())
                                  .count();
  }

  static int remaining_ms(std::chrono::steady_clock::time_point deadline, int timeout_ms) {
    if (timeout_ms <= 0) return timeout_ms;
    const auto left = deadline - std::chrono::steady_clock::now();
    // Rounded up, so a wait shorter than a millisecond does not become a busy poll(0).
    return static_cast<int>(std::max<int64_t>(
        0, std::chrono::ceil<std::chrono::milliseconds>(left).count()));
  }

  // The engine outlives the inner loop: the inner loop's last sends may still read the engine's
  // ciphertext buffers until the inner loop is gone.
  std::unique_ptr<TlsEngine> engine_;
  std::unique_ptr<Loop> inner_;
  InnerTransport transport_;
  std::vector<Event> inner_events_;
  std::vector<int64_t> tcp_connected_ns_;  // by connection, see tcp_connected_ns()
  std::string name_;
  mutable std::string ktls_status_;
};

}  // namespace ws::net
