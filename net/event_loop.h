// net/: moves bytes over TCP for thousands of connections on one thread, and knows nothing about
// Kafka. Two backends with the same non-virtual interface, UringLoop (io_uring) and AsioLoop
// (Boost.Asio, epoll); the driver is a template over the loop type, so the backend is chosen once
// at start-up and no I/O call goes through a virtual function. TlsLoop<UringLoop> and
// TlsLoop<AsioLoop> (net/tls_loop.h) add TLS with the same interface.
//
// Completion model: the caller issues connect/listen/send/close, then calls poll(), which submits
// what is pending, waits up to a timeout, and returns a batch of events. Received bytes are views
// into the loop's shared receive buffers (no per-connection receive buffer, so 10,000 idle
// connections cost almost nothing) and stay valid until the next poll().
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace ws::net {

// A connection slot. The caller numbers the connections it makes (connect()); a listening loop
// numbers the ones it accepts, from ListenOptions::first_accepted up (see listen() below). Keep
// ids dense: the loop's per-connection tables are as long as the highest id used.
using ConnId = uint32_t;

struct LoopOptions {
  // Initial capacity only: connect() on a higher ConnId, or more accepted connections, grow the
  // tables. io_uring also sizes its completion queue for it; beyond that, completions may spill
  // into the kernel's (slower) overflow list.
  uint32_t max_connections = 1024;
  uint32_t queue_depth = 4096;          // io_uring submission queue entries
  uint32_t receive_buffer_size = 16384;  // bytes per shared receive buffer
  uint32_t receive_buffer_count = 1024;  // shared receive buffers (io_uring rounds up to a power
                                         // of two, at most 32768)
  // io_uring: use multishot receive and accept where the kernel has them. false forces the
  // single-shot forms (the fallback on older kernels), for tests and comparisons.
  bool multishot = true;
};

struct ListenOptions {
  // Accepted connections get ConnIds from first_accepted up (the loop picks them; see "Accepted
  // ids" below). The caller must not connect() ids at or above it once listening.
  ConnId first_accepted = 0;
  // SO_REUSEPORT: several loops (one per thread) listen on the same port and the kernel spreads
  // incoming connections over them. Without it a second listener on the port fails.
  bool reuse_port = false;
  int backlog = 4096;
};

struct Event {
  enum Type : uint8_t {
    kConnected,  // connect() finished; error != 0 means it failed (then the slot is closed)
    kData,       // bytes arrived; `data` valid until the next poll()
    kSent,       // the whole buffer passed to send() was written (error is always 0)
    kClosed,     // peer closed (error 0) or an I/O error (errno); the slot is free again
    kAccepted,   // the listener accepted a connection; `conn` is the id the loop gave it
  };
  // Both loops: a failed send is reported as kClosed(errno), not kSent, so kSent always has
  // error 0 and kClosed / failed kConnected is the one last event of a connection. Per
  // connection: kConnected or kAccepted first, kData in byte order, kClosed last; kData of a
  // response may come before the kSent of its request. Events already returned by poll() are not taken back by a
  // later close(): skip the rest of the batch for a connection you closed (and do not connect
  // that slot again before the batch is done, or its old events look like the new connection's).

  Type type;
  ConnId conn;
  // 0 or a positive errno value. TlsLoop adds two codes beyond the errno range (net/tls.h):
  // kTlsHandshakeFailed and kTlsCertificateVerifyFailed, on kConnected (client) or kClosed
  // (accepted connection), with the reason in TlsLoop::tls_error(conn); and kClosed(EPROTO) for
  // a fatal TLS error after the handshake.
  int error;
  std::span<const uint8_t> data;
};

// Endpoint resolution for "host:port"; numeric IPv4/IPv6 and names (getaddrinfo). Blocking: call at
// start-up, never on the hot path. Returns false and sets `error` on failure.
struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string text;  // as given, for messages; TlsLoop takes the host name from it (SNI, verification)
};
// allow_port_zero: "host:0" means any free port, for listen().
bool resolve(const std::string& host_port, Endpoint& out, std::string& error, bool allow_port_zero = false);

// Raises RLIMIT_NOFILE so `needed` descriptors fit. Returns false with a message when the hard
// limit is too low and cannot be raised.
bool ensure_fd_limit(uint64_t needed, std::string& error);

// Binds a new client socket to `source`'s address before it connects, with the port chosen at
// connect time (IP_BIND_ADDRESS_NO_PORT), so that one source address serves as many connections
// as it has ports per destination. 0 or an errno value.
int bind_source(int fd, const Endpoint& source);

// Run-time counters of one loop (loop.stats()); nothing here is an error by itself.
struct LoopStats {
  uint64_t partial_sends = 0;      // sends that needed more than one write
  uint64_t recv_rearms = 0;        // io_uring: receives armed again after their multishot ended
  uint64_t recv_no_buffers = 0;    // shared receive buffers ran out (io_uring ENOBUFS, Asio reads
                                   // put off to the next poll). io_uring's ring grows to
                                   // receive_buffer_count on them; beyond it, raise that
  uint64_t stale_completions = 0;  // completions for connections already closed, dropped
  uint64_t accept_errors = 0;      // accepts that failed (EMFILE, ENOMEM, ...): retried at the next
                                   // poll(); the connection waits in the listen backlog meanwhile
};

// Every loop implements exactly this interface (see UringLoop / AsioLoop / TlsLoop):
//
//   static std::unique_ptr<Loop> create(const LoopOptions&, std::string& error);  // nullptr on failure
//                                            // (TlsLoop: TLS settings from default_tls_options(),
//                                            // or its create(LoopOptions, TlsOptions, error))
//   void connect(ConnId, const Endpoint&, const Endpoint* source = nullptr);
//                                            // new non-blocking TCP socket, TCP_NODELAY, bound to
//                                            // `source`'s address if given (port 0: the kernel picks
//                                            // it at connect, per destination); at most one
//                                            // connection per slot; receiving starts by itself;
//                                            // a ConnId beyond the tables grows them
//   bool listen(const Endpoint& where, const ListenOptions&, std::string& error);
//                                            // bind (SO_REUSEADDR) + listen, at most once per
//                                            // loop; false with a message (e.g. port in use).
//                                            // Accepting runs by itself from then on: each new
//                                            // connection is a kAccepted event (TCP_NODELAY,
//                                            // receiving started), then kData/kSent/kClosed exactly
//                                            // as for a connect()ed one
//   uint16_t listen_port() const;            // the bound port (port 0 asked for any), 0 before
//   void send(ConnId, const uint8_t* data, size_t size);  // the caller keeps `data` alive and
//                                            // unchanged until kSent; at most one send in flight
//                                            // per connection; partial writes are finished inside
//   void send(ConnId, std::span<const iovec> parts);
//                                            // io_uring and Asio only: a gathered send, the parts'
//                                            // bytes in order as one stream write (sendmsg/writev),
//                                            // so parts prepared in several places are not copied
//                                            // together first; one kSent for all. The iovec array
//                                            // is copied; the bytes are kept as for send()
//   void pause_receive(ConnId);              // stop reading: bytes wait in the socket and TCP
//   void resume_receive(ConnId);             // flow control holds the peer back (a broker that
//                                            // cannot keep up). kData already received may still
//                                            // arrive after pause_receive(); a paused connection
//                                            // also sees no peer close until resumed
//   void close(ConnId);                      // immediate for the caller: no event for this
//                                            // connection is delivered after close() returns, and
//                                            // the slot can be connected again at once (io_uring:
//                                            // the peer sees the close once the next poll() has
//                                            // cancelled what the kernel still holds)
//   size_t poll(std::span<Event> out, int timeout_ms);  // 0 = do not wait, < 0 = no limit
//   const char* name() const;                // "io_uring" / "asio"
//   const LoopStats& stats() const;
//
// Accepted ids: the loop takes them from its own free list (ids of closed accepted connections)
// or the next unused id. An id freed by kClosed or close() is handed out again only from the next
// poll() on, so within one batch a kAccepted is never preceded by an event of an earlier
// connection with the same id, and "skip the rest of the batch for a connection you closed" stays
// safe for accepted connections too.
//
// A loop is used by one thread at a time: create it anywhere, then call everything else from
// the worker thread (io_uring binds to the thread of the first poll()). send() before kConnected
// is allowed: the bytes go out once the connection is up. The buffer passed to send() must also
// stay allocated until the next poll() returns if the connection is closed before kSent.

}  // namespace ws::net
