#include "net/uring_loop.h"

#include <liburing.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace ws::net {
namespace {

constexpr uint16_t kBufferGroup = 0;
constexpr uint32_t kFirstReceiveBuffers = 32;  // in the ring at first; doubled when they run out
constexpr uint32_t kGenMask = 0xFFFFFF;
constexpr unsigned kReapBatch = 256;
constexpr size_t kMaxSendChunk = size_t{1} << 30;  // an SQE length is 32 bits
constexpr size_t kMaxSendParts = 1024;               // IOV_MAX

enum OpKind : uint8_t { kConnect = 1, kRecv = 2, kSend = 3, kCancel = 4, kAccept = 5 };
constexpr int kAcceptFlags = SOCK_NONBLOCK | SOCK_CLOEXEC;

constexpr uint8_t bit(uint8_t kind) { return static_cast<uint8_t>(1u << kind); }

// Moves a gathered send past `written` bytes of its parts (from `first` on); true once all are.
bool advance(std::vector<iovec>& parts, size_t& first, size_t written) {
  while (first < parts.size() && written >= parts[first].iov_len) {
    written -= parts[first].iov_len;
    ++first;
  }
  if (first < parts.size()) {
    parts[first].iov_base = static_cast<uint8_t*>(parts[first].iov_base) + written;
    parts[first].iov_len -= written;
  }
  return first == parts.size();
}

// user_data: op kind (8 bits) | generation (24 bits) | connection (32 bits).
uint64_t pack(uint8_t kind, ConnId conn, uint32_t gen) {
  return uint64_t{kind} << 56 | uint64_t{gen & kGenMask} << 32 | conn;
}

uint32_t round_up_pow2(uint32_t v) {
  uint32_t p = 1;
  while (p < v && p < (1u << 31)) p <<= 1;
  return p;
}

void* map_anonymous(size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

size_t page_round(size_t bytes) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

std::string setup_error(int err) {
  std::string why = "io_uring_setup: ";
  why += std::strerror(err);
  if (err == EPERM) why += " (disabled by kernel.io_uring_disabled or a seccomp/container profile)";
  if (err == ENOSYS) why += " (kernel built without io_uring)";
  if (err == ENOMEM) why += " (locked-memory limit too low? raise ulimit -l)";
  return why;
}

// Multishot recv (Linux 6.0) cannot be told apart by the opcode probe: try it on a socket pair
// with a throwaway ring. A kernel without it rejects the flag with EINVAL.
bool probe_multishot_recv() {
  io_uring ring{};
  if (io_uring_queue_init(4, &ring, 0) < 0) return false;
  bool ok = false;
  int sv[2] = {-1, -1};
  // Static: the kernel may still hold the buffer for a moment after the ring is gone.
  static uint8_t buffer[64];
  const size_t ring_bytes = page_round(sizeof(io_uring_buf));
  auto* br = static_cast<io_uring_buf_ring*>(map_anonymous(ring_bytes));
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(br);
  reg.ring_entries = 1;
  reg.bgid = 1;
  if (br != nullptr && io_uring_register_buf_ring(&ring, &reg, 0) == 0 &&
      ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0) {
    io_uring_buf_ring_init(br);
    io_uring_buf_ring_add(br, buffer, sizeof buffer, 0, io_uring_buf_ring_mask(1), 0);
    io_uring_buf_ring_advance(br, 1);
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_recv_multishot(sqe, sv[0], nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 1;
    const uint8_t byte = 1;
    if (::write(sv[1], &byte, 1) == 1 && io_uring_submit(&ring) == 1) {
      io_uring_cqe* cqe = nullptr;
      __kernel_timespec ts{1, 0};
      if (io_uring_wait_cqe_timeout(&ring, &cqe, &ts) == 0) {
        ok = cqe->res == 1 && (cqe->flags & IORING_CQE_F_MORE) != 0;
      }
    }
  }
  if (sv[0] >= 0) ::close(sv[0]);
  if (sv[1] >= 0) ::close(sv[1]);
  io_uring_queue_exit(&ring);
  if (br != nullptr) ::munmap(br, ring_bytes);  // the kernel pinned the pages it uses
  return ok;
}

}  // namespace

std::unique_ptr<UringLoop> UringLoop::create(const LoopOptions& options, std::string& error) {
  std::unique_ptr<UringLoop> loop(new UringLoop());
  loop->ring_ = std::make_unique<io_uring>();
  io_uring* ring = loop->ring_.get();

  const uint32_t sq_entries = std::clamp<uint32_t>(options.queue_depth, 64, 32768);
  // Room for a completion from every connection plus a full SQ's worth, so the CQ rarely
  // overflows into the kernel's (slower, allocating) overflow list.
  const uint32_t cq_entries = round_up_pow2(
      std::max(2 * sq_entries, 2 * std::max<uint32_t>(options.max_connections, 1)));
  constexpr unsigned kBase = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
  // Newest first. Single issuer + deferred task run (6.1): completions are posted only when this
  // thread enters the kernel, in batches, with no interrupting task work. R_DISABLED defers
  // binding the ring to a thread until the first poll(), so the loop can be created elsewhere.
  const unsigned attempts[] = {
      kBase | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
          IORING_SETUP_R_DISABLED,
      kBase | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
      kBase,
  };
  io_uring_params params{};
  int rc = -EINVAL;
  for (unsigned flags : attempts) {
    params = io_uring_params{};
    params.flags = flags;
    params.cq_entries = cq_entries;
    rc = io_uring_queue_init_params(sq_entries, ring, &params);
    if (rc == 0 || rc != -EINVAL) break;  // EINVAL: flags too new for this kernel, try older
  }
  if (rc < 0) {
    error = setup_error(-rc);
    return nullptr;
  }
  loop->ring_ready_ = true;
  loop->needs_enable_ = (params.flags & IORING_SETUP_R_DISABLED) != 0;
  loop->single_issuer_ = (params.flags & IORING_SETUP_SINGLE_ISSUER) != 0;
  loop->cqe_skip_ = (params.features & IORING_FEAT_CQE_SKIP) != 0;

  if ((params.features & IORING_FEAT_FAST_POLL) == 0) {
    error = "io_uring lacks IORING_FEAT_FAST_POLL (needs Linux 5.7+): socket I/O would block workers";
    return nullptr;
  }
  if (io_uring_probe* probe = io_uring_get_probe_ring(ring)) {
    const bool ops = io_uring_opcode_supported(probe, IORING_OP_CONNECT) &&
                     io_uring_opcode_supported(probe, IORING_OP_SEND) &&
                     io_uring_opcode_supported(probe, IORING_OP_RECV) &&
                     io_uring_opcode_supported(probe, IORING_OP_ASYNC_CANCEL);
    io_uring_free_probe(probe);
    if (!ops) {
      error = "io_uring lacks connect/send/recv/cancel operations";
      return nullptr;
    }
  }

  // The shared receive buffers: one provided buffer ring (Linux 5.19) for all connections.
  // Pages are touched only when the kernel first fills a buffer.
  loop->buffer_count_ = std::min<uint32_t>(round_up_pow2(std::max<uint32_t>(options.receive_buffer_count, 1)), 32768);
  loop->buffer_size_ = std::max<uint32_t>(options.receive_buffer_size, 64);
  loop->buf_ring_bytes_ = page_round(sizeof(io_uring_buf) * loop->buffer_count_);
  loop->buffers_bytes_ = page_round(size_t{loop->buffer_size_} * loop->buffer_count_);
  loop->buf_ring_ = static_cast<io_uring_buf_ring*>(map_anonymous(loop->buf_ring_bytes_));
  loop->buffers_ = static_cast<uint8_t*>(map_anonymous(loop->buffers_bytes_));
  if (loop->buf_ring_ == nullptr || loop->buffers_ == nullptr) {
    error = std::string("cannot map receive buffers: ") + std::strerror(errno);
    return nullptr;
  }
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(loop->buf_ring_);
  reg.ring_entries = loop->buffer_count_;
  reg.bgid = kBufferGroup;
  rc = io_uring_register_buf_ring(ring, &reg, 0);
  if (rc < 0) {
    error = std::string("io_uring provided buffer rings unavailable (needs Linux 5.19+): ") +
            std::strerror(-rc);
    return nullptr;
  }
  io_uring_buf_ring_init(loop->buf_ring_);
  // The ring hands buffers out first in, first out, so every buffer in it is written before any is
  // reused: with all 1,024 in from the start, 500 clients' handshakes touched 1,000 fresh pages
  // (18 µs each on this project's VM). It starts with a few and doubles whenever a receive finds
  // it empty, so the buffers in use are the ones a poll's receives need.
  loop->to_recycle_.reserve(loop->buffer_count_);
  loop->give_buffers(std::min(loop->buffer_count_, kFirstReceiveBuffers));

  loop->multishot_recv_ = options.multishot && probe_multishot_recv();
  // Multishot accept came in 5.19 with the buffer rings required above; should a kernel still
  // refuse it (EINVAL), the first accept completion switches to single-shot.
  loop->multishot_accept_ = options.multishot;
  loop->slots_.resize(options.max_connections);
  loop->pending_.reserve(std::min<uint32_t>(options.max_connections, 65536) * 2);

  std::string& f = loop->features_;
  f = "fast poll";
  f += loop->multishot_recv_ ? ", multishot recv" : ", single-shot recv (multishot needs Linux 6.0)";
  f += loop->multishot_accept_ ? ", multishot accept" : ", single-shot accept";
  f += ", buffer ring up to " + std::to_string(loop->buffer_count_) + " x " +
       std::to_string(loop->buffer_size_) + " B";
  if (loop->single_issuer_) f += ", single issuer + deferred task run";
  else if (params.flags & IORING_SETUP_COOP_TASKRUN) f += ", cooperative task run";
  f += ", sq " + std::to_string(params.sq_entries) + " cq " + std::to_string(params.cq_entries);
  return loop;
}

UringLoop::~UringLoop() {
  if (!ring_ready_) {
    if (buf_ring_ != nullptr) ::munmap(buf_ring_, buf_ring_bytes_);
    if (buffers_ != nullptr) ::munmap(buffers_, buffers_bytes_);
    return;
  }
  for (ConnId c = 0; c < slots_.size(); ++c) release(c);
  if (accept_in_kernel_) pending_.push_back(Op{0, 0, 0, kCancel, kAccept});
  const bool quiet = drain_for_exit();
  io_uring_queue_exit(ring_.get());
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (buf_ring_ != nullptr) ::munmap(buf_ring_, buf_ring_bytes_);  // pinned by the kernel
  if (buffers_ == nullptr) return;
  if (quiet) {
    ::munmap(buffers_, buffers_bytes_);
  } else {
    // A receive may still be live in the kernel (the ring's owner thread is elsewhere): keep the
    // address range reserved but inaccessible, so a late write faults instead of landing in
    // memory that malloc has handed out again. Costs address space only.
    ::mmap(buffers_, buffers_bytes_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
           -1, 0);
  }
}

// Cancels everything still in the kernel and waits for the last completions, so no receive can
// write into the buffers after they are unmapped. Only the thread bound to the ring may do this.
bool UringLoop::drain_for_exit() {
  if (!enabled_) return true;  // nothing was ever submitted
  if (single_issuer_ && owner_ != std::this_thread::get_id()) return in_kernel_ops_ == 0;
  io_uring* ring = ring_.get();
  std::erase_if(pending_, [](const Op& op) { return op.kind != kCancel; });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (in_kernel_ops_ > 0 && std::chrono::steady_clock::now() < deadline) {
    flush_pending();
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec ts{0, 50'000'000};
    io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, nullptr);
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(ring, head, cqe) {
      ++seen;
      const auto kind = static_cast<uint8_t>(cqe->user_data >> 56);
      if (cqe->user_data == LIBURING_UDATA_TIMEOUT || kind == kCancel) continue;
      if (kind == kAccept && cqe->res >= 0) ::close(cqe->res);  // accepted too late to report
      if ((cqe->flags & IORING_CQE_F_MORE) == 0) --in_kernel_ops_;
    }
    io_uring_cq_advance(ring, seen);
  }
  return in_kernel_ops_ == 0;
}

void UringLoop::enable() {
  io_uring* ring = ring_.get();
  if (needs_enable_) {
    // liburing 2.3 declares io_uring_enable_rings() but does not export it.
    ::syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
  }
  // A registered ring fd is per thread: only worth it when the ring is bound to one anyway.
  if (single_issuer_) io_uring_register_ring_fd(ring);
  owner_ = std::this_thread::get_id();
  enabled_ = true;
}

uint32_t UringLoop::address_index(const Endpoint& endpoint) {
  // A run talks to a handful of brokers: a linear search over distinct addresses is enough.
  for (size_t i = 0; i < addresses_.size(); ++i) {
    const Address& a = addresses_[i];
    if (a.len == endpoint.len && std::memcmp(&a.addr, &endpoint.addr, a.len) == 0) {
      return static_cast<uint32_t>(i);
    }
  }
  Address a{};
  std::memcpy(&a.addr, &endpoint.addr, std::min<size_t>(endpoint.len, sizeof a.addr));
  a.len = endpoint.len;
  addresses_.push_back(a);
  return static_cast<uint32_t>(addresses_.size() - 1);
}

void UringLoop::queue(uint8_t kind, ConnId conn) {
  pending_.push_back(Op{conn, slots_[conn].gen, 0, kind, 0});
}

void UringLoop::grow(ConnId conn) {
  if (conn >= slots_.size()) slots_.resize(std::max<size_t>(size_t{conn} + 1, slots_.size() * 2));
}

void UringLoop::connect(ConnId conn, const Endpoint& endpoint, const Endpoint* source) {
  grow(conn);
  if (slots_[conn].state != kFree) release(conn);
  Slot& s = slots_[conn];
  s.state = kConnecting;
  const int fd = ::socket(endpoint.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    failed_connects_.push_back(Op{conn, s.gen, static_cast<uint32_t>(errno), kConnect, 0});
    return;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  s.fd = fd;
  if (source) {
    if (const int err = bind_source(fd, *source)) {
      failed_connects_.push_back(Op{conn, s.gen, static_cast<uint32_t>(err), kConnect, 0});
      return;
    }
  }
  pending_.push_back(Op{conn, s.gen, address_index(endpoint), kConnect, 0});
}

bool UringLoop::listen(const Endpoint& where, const ListenOptions& options, std::string& error) {
  if (listen_fd_ >= 0) {
    error = "cannot listen on " + where.text + ": this loop listens already";
    return false;
  }
  listen_fd_ = open_listener(where, options, listen_port_, error);
  if (listen_fd_ < 0) return false;
  accepted_ids_.start(options.first_accepted);
  pending_.push_back(Op{0, 0, 0, kAccept, 0});
  return true;
}

void UringLoop::pause_receive(ConnId conn) {
  if (conn >= slots_.size()) return;
  Slot& s = slots_[conn];
  if (s.state == kFree || s.paused) return;
  s.paused = true;
  // The receive ends with ECANCELED (handle() then does not arm it again); what it read before
  // the cancel still arrives as kData.
  if (s.in_kernel & bit(kRecv)) pending_.push_back(Op{conn, s.gen, 0, kCancel, kRecv});
}

void UringLoop::resume_receive(ConnId conn) {
  if (conn >= slots_.size()) return;
  Slot& s = slots_[conn];
  if (!s.paused) return;
  s.paused = false;
  // Still in the kernel: its cancel is on the way, and its ECANCELED arms the receive again.
  if (s.state == kOpen && (s.in_kernel & bit(kRecv)) == 0) queue(kRecv, conn);
}

void UringLoop::send(ConnId conn, const uint8_t* data, size_t size) {
  if (conn >= slots_.size()) return;
  Slot& s = slots_[conn];
  if (s.state == kFree) return;
  assert(s.send_data == nullptr && "one send in flight per connection");
  s.send_data = data;
  s.send_size = size;
  s.send_offset = 0;
  s.gathered = false;
  if (s.state == kOpen) queue(kSend, conn);  // while connecting, the connect completion sends it
}

void UringLoop::send(ConnId conn, std::span<const iovec> parts) {
  if (conn >= slots_.size() || parts.empty()) return;
  Slot& s = slots_[conn];
  if (s.state == kFree) return;
  assert(s.send_data == nullptr && "one send in flight per connection");
  Gather& g = gather(conn);
  g.parts.assign(parts.begin(), parts.end());
  g.first = 0;
  s.send_data = static_cast<const uint8_t*>(parts.front().iov_base);  // marks a send unfinished
  s.gathered = true;
  if (s.state == kOpen) queue(kSend, conn);
}

UringLoop::Gather& UringLoop::gather(ConnId conn) {
  if (gathers_.size() <= conn) gathers_.resize(slots_.size());
  if (!gathers_[conn]) gathers_[conn] = std::make_unique<Gather>();
  return *gathers_[conn];
}

void UringLoop::close(ConnId conn) {
  if (conn < slots_.size()) release(conn);
}

void UringLoop::release(ConnId conn) {
  Slot& s = slots_[conn];
  if (s.state == kFree) return;
  io_uring* ring = ring_.get();
  // SQEs still in the SQ name the fd by number; they must reach the kernel before the number
  // can be reused. (Normally the SQ is empty between polls.)
  if (enabled_ && io_uring_sq_ready(ring) > 0) io_uring_submit(ring);
  // What is already in the kernel holds the socket open until cancelled; the cancels go out
  // with the next submission and their results, like every late completion, carry the old
  // generation and are dropped.
  for (uint8_t kind : {kConnect, kRecv, kSend}) {
    if (s.in_kernel & bit(kind)) pending_.push_back(Op{conn, s.gen, 0, kCancel, kind});
  }
  if (s.fd >= 0) ::close(s.fd);
  if (s.accepted) accepted_ids_.give_back(conn);
  const uint32_t gen = s.gen + 1;
  s = Slot{};
  s.gen = gen;
}

void UringLoop::prep_send(io_uring_sqe* sqe, ConnId conn) {
  const Slot& s = slots_[conn];
  if (!s.gathered) {
    io_uring_prep_send(sqe, s.fd, s.send_data + s.send_offset, std::min(s.send_size - s.send_offset, kMaxSendChunk),
                       MSG_NOSIGNAL);
    return;
  }
  // The parts left, as many as one sendmsg takes (IOV_MAX) and its result can count.
  Gather& g = *gathers_[conn];
  size_t count = 0;
  size_t bytes = 0;
  while (g.first + count < g.parts.size() && count < kMaxSendParts &&
         (count == 0 || bytes + g.parts[g.first + count].iov_len <= kMaxSendChunk)) {
    bytes += g.parts[g.first + count].iov_len;
    ++count;
  }
  g.message = msghdr{};
  g.message.msg_iov = g.parts.data() + g.first;
  g.message.msg_iovlen = count;
  io_uring_prep_sendmsg(sqe, s.fd, &g.message, MSG_NOSIGNAL);
}

bool UringLoop::flush_pending() {
  io_uring* ring = ring_.get();
  size_t i = 0;
  bool room = true;
  for (; i < pending_.size(); ++i) {
    const Op op = pending_[i];
    if (op.kind == kAccept && (accept_in_kernel_ || listen_fd_ < 0)) continue;
    Slot* slot = op.kind == kAccept || op.kind == kCancel ? nullptr : &slots_[op.conn];
    if (slot != nullptr) {
      Slot& s = *slot;
      // Dropped if the slot was closed (new generation) or the op is already in the kernel.
      if (s.gen != op.gen || (s.in_kernel & bit(op.kind)) != 0) continue;
      if (op.kind == kConnect && s.state != kConnecting) continue;
      if (op.kind == kRecv && (s.state != kOpen || s.paused)) continue;
      if (op.kind == kSend && (s.state != kOpen || s.send_data == nullptr)) continue;
    }
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    if (sqe == nullptr) {
      io_uring_submit(ring);
      sqe = io_uring_get_sqe(ring);
      if (sqe == nullptr) {
        room = false;
        break;
      }
    }
    switch (op.kind) {
      case kConnect: {
        const Address& a = addresses_[op.aux];
        io_uring_prep_connect(sqe, slot->fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len);
        break;
      }
      case kRecv:
        if (multishot_recv_) {
          io_uring_prep_recv_multishot(sqe, slot->fd, nullptr, 0, 0);
        } else {
          io_uring_prep_recv(sqe, slot->fd, nullptr, buffer_size_, 0);
        }
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = kBufferGroup;
        break;
      case kSend:
        prep_send(sqe, op.conn);
        break;
      case kCancel:
        io_uring_prep_cancel64(sqe, pack(op.target, op.conn, op.gen), 0);
        if (cqe_skip_) sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
        break;
      case kAccept:
        if (multishot_accept_) {
          io_uring_prep_multishot_accept(sqe, listen_fd_, nullptr, nullptr, kAcceptFlags);
        } else {
          io_uring_prep_accept(sqe, listen_fd_, nullptr, nullptr, kAcceptFlags);
        }
        accept_in_kernel_ = true;
        break;
    }
    io_uring_sqe_set_data64(sqe, pack(op.kind, op.conn, op.gen));
    if (op.kind != kCancel) {
      if (slot != nullptr) slot->in_kernel |= bit(op.kind);
      ++in_kernel_ops_;
    }
  }
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(i));
  return room;
}

void UringLoop::give_buffers(uint32_t count) {
  for (uint32_t i = 0; i < count; ++i) to_recycle_.push_back(static_cast<uint16_t>(buffers_given_ + i));
  buffers_given_ += count;
  recycle_buffers();
}

void UringLoop::recycle_buffers() {
  if (grow_buffers_) {
    grow_buffers_ = false;
    give_buffers(std::min(buffers_given_, buffer_count_ - buffers_given_));  // recycles them all
    return;
  }
  if (to_recycle_.empty()) return;
  const int mask = io_uring_buf_ring_mask(buffer_count_);
  int i = 0;
  for (uint16_t bid : to_recycle_) {
    io_uring_buf_ring_add(buf_ring_, buffers_ + size_t{bid} * buffer_size_, buffer_size_, bid, mask, i++);
  }
  io_uring_buf_ring_advance(buf_ring_, i);
  to_recycle_.clear();
}

bool UringLoop::handle(const io_uring_cqe& cqe, Event& event) {
  if (cqe.user_data == LIBURING_UDATA_TIMEOUT) return false;  // liburing's own wait timeout
  const auto kind = static_cast<uint8_t>(cqe.user_data >> 56);
  const auto conn = static_cast<ConnId>(cqe.user_data);
  const auto gen = static_cast<uint32_t>(cqe.user_data >> 32) & kGenMask;
  const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  if (kind == kCancel) return false;
  if (!more) --in_kernel_ops_;
  if (kind == kAccept) return handle_accept(cqe, event);
  const bool has_buffer = (cqe.flags & IORING_CQE_F_BUFFER) != 0;
  const auto bid = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
  if (has_buffer) to_recycle_.push_back(bid);  // back to the ring at the next poll()
  if (conn >= slots_.size()) return false;
  Slot& s = slots_[conn];
  if ((s.gen & kGenMask) != gen || s.state == kFree) {
    ++stats_.stale_completions;
    return false;
  }
  const int res = cqe.res;
  switch (kind) {
    case kConnect:
      s.in_kernel &= static_cast<uint8_t>(~bit(kConnect));
      if (res < 0) {
        release(conn);
        event = Event{Event::kConnected, conn, -res, {}};
        return true;
      }
      s.state = kOpen;
      queue(kRecv, conn);
      if (s.send_data != nullptr) queue(kSend, conn);
      event = Event{Event::kConnected, conn, 0, {}};
      return true;

    case kRecv:
      if (!more) s.in_kernel &= static_cast<uint8_t>(~bit(kRecv));
      if (res > 0 && has_buffer) {
        if (!more && !s.paused) {
          ++stats_.recv_rearms;
          queue(kRecv, conn);
        }
        event = Event{Event::kData, conn, 0,
                      {buffers_ + size_t{bid} * buffer_size_, static_cast<size_t>(res)}};
        return true;
      }
      if (res == -ENOBUFS) {
        // Every shared buffer is out (held by the caller or queued in the CQ). Data stays in the
        // socket; receive again once this poll's buffers are back in the ring.
        ++stats_.recv_no_buffers;
        if (buffers_given_ < buffer_count_) grow_buffers_ = true;
        rearm_after_recycle_.push_back(Op{conn, s.gen, 0, kRecv, 0});
        return false;
      }
      if (res == -ECANCELED) {
        // Only pause_receive() cancels a receive of a live connection (close() makes it stale).
        if (!s.paused) queue(kRecv, conn);  // resumed while the cancel was on its way
        return false;
      }
      release(conn);
      event = Event{Event::kClosed, conn, res < 0 ? -res : (res == 0 ? 0 : EIO), {}};
      return true;

    case kSend:
      s.in_kernel &= static_cast<uint8_t>(~bit(kSend));
      if (res < 0) {
        release(conn);
        event = Event{Event::kClosed, conn, -res, {}};
        return true;
      }
      if (s.gathered ? !advance(gathers_[conn]->parts, gathers_[conn]->first, static_cast<size_t>(res))
                     : (s.send_offset += static_cast<size_t>(res)) < s.send_size) {
        ++stats_.partial_sends;
        queue(kSend, conn);
        return false;
      }
      s.send_data = nullptr;
      s.gathered = false;
      event = Event{Event::kSent, conn, 0, {}};
      return true;
  }
  return false;
}

bool UringLoop::handle_accept(const io_uring_cqe& cqe, Event& event) {
  const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  const int res = cqe.res;
  if (!more) {
    accept_in_kernel_ = false;
    if (res == -EINVAL && multishot_accept_) {
      multishot_accept_ = false;  // a kernel without multishot accept: one accept at a time
      pending_.push_back(Op{0, 0, 0, kAccept, 0});
      return false;
    }
    // After an error, wait for the next poll(): EMFILE would otherwise fail again at once.
    if (res >= 0) {
      pending_.push_back(Op{0, 0, 0, kAccept, 0});
    } else {
      accept_retry_ = true;
    }
  }
  if (res < 0) {
    ++stats_.accept_errors;
    return false;
  }
  set_accepted_options(res);
  const ConnId conn = accepted_ids_.take();
  grow(conn);
  Slot& s = slots_[conn];
  assert(s.state == kFree && "an accepted id is handed out only when free");
  s.fd = res;
  s.state = kOpen;
  s.accepted = true;
  queue(kRecv, conn);
  event = Event{Event::kAccepted, conn, 0, {}};
  return true;
}

size_t UringLoop::reap(std::span<Event> out, size_t n) {
  io_uring* ring = ring_.get();
  io_uring_cqe* cqes[kReapBatch];
  while (n < out.size()) {
    // Every completion makes at most one event, so taking no more than there is room for keeps
    // the rest in the CQ for the next poll().
    const auto want = static_cast<unsigned>(std::min<size_t>(kReapBatch, out.size() - n));
    const unsigned got = io_uring_peek_batch_cqe(ring, cqes, want);
    if (got == 0) break;
    for (unsigned i = 0; i < got; ++i) {
      if (handle(*cqes[i], out[n])) ++n;
    }
    io_uring_cq_advance(ring, got);
  }
  return n;
}

size_t UringLoop::poll(std::span<Event> out, int timeout_ms) {
  if (!enabled_) enable();
  // A single-issuer ring refuses every other thread (EEXIST): events would never come.
  assert(!single_issuer_ || owner_ == std::this_thread::get_id());
  io_uring* ring = ring_.get();

  // The caller is done with the views returned by the previous poll().
  recycle_buffers();
  accepted_ids_.recycle();
  if (accept_retry_) {
    accept_retry_ = false;
    pending_.push_back(Op{0, 0, 0, kAccept, 0});
  }
  for (const Op& op : rearm_after_recycle_) pending_.push_back(op);
  rearm_after_recycle_.clear();

  size_t n = 0;
  size_t used = 0;
  for (; used < failed_connects_.size() && n < out.size(); ++used) {
    const Op& op = failed_connects_[used];
    Slot& s = slots_[op.conn];
    if (s.gen != op.gen || s.state != kConnecting) continue;  // closed meanwhile
    release(op.conn);
    out[n++] = Event{Event::kConnected, op.conn, static_cast<int>(op.aux), {}};
  }
  failed_connects_.erase(failed_connects_.begin(), failed_connects_.begin() + static_cast<ptrdiff_t>(used));

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  while (true) {
    flush_pending();
    io_uring_cqe* cqe = nullptr;
    const bool wait = n == 0 && timeout_ms != 0 && io_uring_cq_ready(ring) == 0;
    if (wait && timeout_ms < 0) {
      io_uring_submit_and_wait(ring, 1);
    } else if (wait) {
      const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - std::chrono::steady_clock::now()).count();
      __kernel_timespec ts{left / 1'000'000'000, left % 1'000'000'000};
      if (left > 0) {
        io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, nullptr);
      } else {
        io_uring_submit_and_get_events(ring);
      }
    } else {
      // Also runs deferred task work, which is what posts completions on a DEFER_TASKRUN ring.
      io_uring_submit_and_get_events(ring);
    }
    n = reap(out, n);
    // Keep waiting only if nothing was delivered but completions queued more work (a partial
    // send's remainder, a re-armed receive) and there is time left.
    if (n > 0 || timeout_ms == 0 || pending_.empty()) break;
    if (timeout_ms > 0 && std::chrono::steady_clock::now() >= deadline) break;
  }
  // Re-arms and send remainders found while reaping go out now rather than at the next poll().
  if (!pending_.empty()) {
    flush_pending();
    io_uring_submit(ring);
  }
  return n;
}

}  // namespace ws::net
