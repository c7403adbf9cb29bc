// io_uring backend: one ring per loop, multishot receives that take buffers from one provided
// buffer ring shared by every connection, multishot accept, and batched submission (one
// io_uring_enter per poll() in the steady state). See event_loop.h for the interface and its
// guarantees.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "net/event_loop.h"
#include "net/listener.h"

struct io_uring;
struct io_uring_cqe;
struct io_uring_sqe;
struct io_uring_buf_ring;

namespace ws::net {

class UringLoop {
 public:
  // nullptr with a one-line reason when io_uring is unusable here (disabled by sysctl or seccomp,
  // kernel too old for fast poll or provided buffer rings): the caller falls back to AsioLoop.
  static std::unique_ptr<UringLoop> create(const LoopOptions& options, std::string& error);
  ~UringLoop();
  UringLoop(const UringLoop&) = delete;
  UringLoop& operator=(const UringLoop&) = delete;

  void connect(ConnId conn, const Endpoint& endpoint, const Endpoint* source = nullptr);
  bool listen(const Endpoint& where, const ListenOptions& options, std::string& error);
  uint16_t listen_port() const { return listen_port_; }
  void send(ConnId conn, const uint8_t* data, size_t size);
  void send(ConnId conn, std::span<const iovec> parts);  // gathered: see event_loop.h
  void pause_receive(ConnId conn);
  void resume_receive(ConnId conn);
  void close(ConnId conn);
  size_t poll(std::span<Event> out, int timeout_ms);
  const char* name() const { return "io_uring"; }
  const LoopStats& stats() const { return stats_; }
  // What create() found and uses, for the start-up line, e.g.
  // "fast poll, multishot recv, buffer ring 1024 x 16384 B, single issuer + deferred task run".
  const std::string& features() const { return features_; }

 private:
  enum SlotState : uint8_t { kFree, kConnecting, kOpen };
  // 40 bytes per connection; everything else is shared by the loop.
  struct Slot {
    const uint8_t* send_data = nullptr;  // non-null while a send() is unfinished
    size_t send_size = 0;
    size_t send_offset = 0;
    int fd = -1;
    uint32_t gen = 0;       // bumped on every close; completions carry the generation they began in
    SlotState state = kFree;
    uint8_t in_kernel = 0;  // bit per op kind submitted whose last completion has not arrived
    bool paused = false;    // pause_receive(): no receive armed until resume_receive()
    bool accepted = false;  // the id came from accepted_ids_ and goes back there on release
    bool gathered = false;  // the unfinished send is gathers_[conn]'s parts, not send_data
  };
  // An operation waiting to become an SQE at the next flush (connect/send/close only record
  // intent, so the ring is touched only from poll(), and an op for a closed slot is dropped).
  // Accept ops have conn 0 and generation 0 (one listener per loop, for the loop's lifetime).
  struct Op {
    ConnId conn;
    uint32_t gen;
    uint32_t aux;  // connect: address index; failed connect: errno
    uint8_t kind;
    uint8_t target;  // cancel: the op kind to cancel
  };
  // A gathered send's parts not yet written (from `first` on) and the message its SQE points to,
  // kept per connection from its first gathered send on: the kernel reads them when the SQE is
  // submitted, which may be after the next prep.
  struct Gather {
    std::vector<iovec> parts;
    size_t first = 0;
    msghdr message{};
  };
  Gather& gather(ConnId conn);
  struct Address {
    sockaddr_storage addr;
    socklen_t len;
  };

  UringLoop() = default;
  void enable();
  void queue(uint8_t kind, ConnId conn);
  void grow(ConnId conn);  // the tables reach `conn`
  bool handle_accept(const io_uring_cqe& cqe, Event& event);
  void prep_send(io_uring_sqe* sqe, ConnId conn);
  bool flush_pending();  // false if the SQ stayed full (the rest waits for the next poll)
  bool handle(const io_uring_cqe& cqe, Event& event);  // true if it produced an event
  size_t reap(std::span<Event> out, size_t n);
  void release(ConnId conn);  // cancel what is in the kernel, close the fd, new generation
  void recycle_buffers();
  void give_buffers(uint32_t count);  // the next `count` never-used buffers into the ring
  bool drain_for_exit();
  uint32_t address_index(const Endpoint& endpoint);

  std::unique_ptr<io_uring> ring_;
  bool ring_ready_ = false;
  bool needs_enable_ = false;   // created disabled: bound to the thread of the first poll()
  bool single_issuer_ = false;
  bool enabled_ = false;
  bool multishot_recv_ = false;
  bool multishot_accept_ = false;
  bool cqe_skip_ = false;
  std::thread::id owner_;

  io_uring_buf_ring* buf_ring_ = nullptr;
  size_t buf_ring_bytes_ = 0;
  uint8_t* buffers_ = nullptr;
  size_t buffers_bytes_ = 0;
  uint32_t buffer_size_ = 0;
  uint32_t buffer_count_ = 0;   // the ring's capacity (LoopOptions::receive_buffer_count)
  uint32_t buffers_given_ = 0;  // buffers put in the ring so far: doubled while receives run out
  bool grow_buffers_ = false;   // a receive ran out of buffers: give the ring more at next poll()
  std::vector<uint16_t> to_recycle_;  // buffer ids handed out; back to the ring at the next poll()

  std::vector<Slot> slots_;
  std::vector<std::unique_ptr<Gather>> gathers_;  // by connection, for gathered sends
  // The listener: accepts run in the kernel while accept_in_kernel_; a failed accept is armed
  // again at the next poll() (accept_retry_), so an fd shortage cannot spin the loop.
  int listen_fd_ = -1;
  uint16_t listen_port_ = 0;
  bool accept_in_kernel_ = false;
  bool accept_retry_ = false;
  AcceptedIds accepted_ids_;
  std::vector<Op> pending_;
  std::vector<Op> failed_connects_;  // socket() failed: reported as kConnected at the next poll()
  std::vector<Op> rearm_after_recycle_;  // receives that hit ENOBUFS
  std::deque<Address> addresses_;    // connect targets; deque: stable while SQEs point into it
  uint64_t in_kernel_ops_ = 0;       // submitted ops whose last completion has not arrived
  LoopStats stats_;
  std::string features_;
};

}  // namespace ws::net
