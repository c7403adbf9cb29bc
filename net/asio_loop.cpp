#include "net/asio_loop.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "net/listener.h"

namespace ws::net {

namespace asio = boost::asio;
using boost::system::error_code;
using Socket = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;
using Acceptor = asio::basic_socket_acceptor<asio::ip::tcp, asio::io_context::executor_type>;

namespace {
// Drops the first `written` bytes of a gathered send's parts; true once none is left.
bool advance(std::vector<asio::const_buffer>& parts, size_t written) {
  size_t done = 0;
  while (done < parts.size() && written >= parts[done].size()) written -= parts[done++].size();
  parts.erase(parts.begin(), parts.begin() + static_cast<ptrdiff_t>(done));
  if (!parts.empty()) parts.front() += written;
  return parts.empty();
}
}  // namespace

struct AsioLoop::Impl {
  enum SlotState : uint8_t { kFree, kConnecting, kOpen };
  struct Slot {
    std::optional<Socket> socket;  // made on first use, then reopened for every connection
    const uint8_t* send_data = nullptr;  // non-null while a send() is unfinished
    size_t send_size = 0;
    size_t send_offset = 0;
    std::vector<asio::const_buffer> parts;  // a gathered send's parts not yet written
    uint32_t gen = 0;  // bumped on close; handlers carry the generation they were started in
    SlotState state = kFree;
    bool readable = false;    // on the readable list: to be read first at the next poll
    bool wait_armed = false;  // an async_wait for readability is outstanding
    bool paused = false;      // pause_receive(): not read until resume_receive()
    bool accepted = false;    // the id came from accepted_ids and goes back there on release
  };

  explicit Impl(const LoopOptions& options)
      : slots(options.max_connections),
        read_size(std::max<uint32_t>(options.receive_buffer_size, 64)),
        arena_size(size_t{read_size} * std::max<uint32_t>(options.receive_buffer_count, 1)),
        arena(new uint8_t[arena_size]) {}

  ~Impl() {
    for (ConnId c = 0; c < slots.size(); ++c) release(c);
  }

  void emit(Event::Type type, ConnId conn, int error, std::span<const uint8_t> data = {}) {
    assert(n < cap);
    out[n++] = Event{type, conn, error, data};
  }

  bool stale(ConnId conn, uint32_t gen, SlotState want) {
    const Slot& s = slots[conn];
    if (s.gen == gen && s.state == want) return false;
    ++stats.stale_completions;
    return true;
  }

  void release(ConnId conn) {
    Slot& s = slots[conn];
    if (s.state == kFree) return;
    error_code ignored;
    // Pending handlers still run, with operation_aborted, and are dropped by the generation check.
    s.socket->close(ignored);
    if (s.accepted) accepted_ids.give_back(conn);
    s.send_data = nullptr;
    s.parts.clear();
    s.readable = false;
    s.wait_armed = false;
    s.paused = false;
    s.accepted = false;
    s.state = kFree;
    ++s.gen;
  }

  void grow(ConnId conn) {
    if (conn >= slots.size()) slots.resize(std::max<size_t>(size_t{conn} + 1, slots.size() * 2));
  }

  // Puts a connection on the list read first at the next poll (no wait is armed for it then).
  void read_next_poll(ConnId conn) {
    Slot& s = slots[conn];
    if (s.readable) return;
    s.readable = true;
    readable.emplace_back(conn, s.gen);
  }

  void on_connect(ConnId conn, uint32_t gen, const error_code& ec) {
    if (stale(conn, gen, kConnecting)) return;
    if (ec) {
      release(conn);
      return emit(Event::kConnected, conn, ec.value());
    }
    Slot& s = slots[conn];
    s.state = kOpen;
    emit(Event::kConnected, conn, 0);
    if (s.send_data != nullptr) start_write(conn);
    // Read before waiting: epoll is edge-triggered in Asio and async_wait never checks first, so
    // bytes or a FIN that came with the handshake would otherwise go unnoticed.
    drain(conn);
  }

  void start_write(ConnId conn) {
    Slot& s = slots[conn];
    const uint32_t gen = s.gen;
    const auto done = [this, conn, gen](const error_code& ec, size_t written) { on_write(conn, gen, ec, written); };
    if (!s.parts.empty()) return s.socket->async_write_some(s.parts, done);  // one writev
    s.socket->async_write_some(asio::buffer(s.send_data + s.send_offset, s.send_size - s.send_offset), done);
  }

  void on_write(ConnId conn, uint32_t gen, const error_code& ec, size_t written) {
    if (stale(conn, gen, kOpen)) return;
    if (ec) {
      release(conn);
      return emit(Event::kClosed, conn, ec.value());
    }
    Slot& s = slots[conn];
    if (s.parts.empty() ? (s.send_offset += written) < s.send_size : !advance(s.parts, written)) {
      ++stats.partial_sends;
      return start_write(conn);
    }
    s.send_data = nullptr;
    emit(Event::kSent, conn, 0);
  }

  void wait_readable(ConnId conn) {
    Slot& s = slots[conn];
    if (s.wait_armed) return;  // resumed while a wait from before the pause is still out
    s.wait_armed = true;
    const uint32_t gen = s.gen;
    s.socket->async_wait(Socket::wait_read, [this, conn, gen](const error_code& ec) {
      if (stale(conn, gen, kOpen)) return;
      slots[conn].wait_armed = false;
      if (ec) {
        release(conn);
        return emit(Event::kClosed, conn, ec.value());
      }
      drain(conn);
    });
  }

  // Accepts until the backlog is empty (then waits for readiness again) or this poll has no room
  // left; a failed accept (EMFILE, ...) is tried again at the next poll.
  void accept_all() {
    while (true) {
      if (n == cap) {
        accept_next_poll = true;
        return;
      }
      const int fd = ::accept4(acceptor->native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return wait_acceptable();
        ++stats.accept_errors;
        accept_next_poll = true;
        return;
      }
      set_accepted_options(fd);
      const ConnId conn = accepted_ids.take();
      grow(conn);
      Slot& s = slots[conn];
      assert(s.state == kFree && "an accepted id is handed out only when free");
      if (!s.socket) s.socket.emplace(ctx.get_executor());
      error_code ec;
      s.socket->assign(listen_protocol, fd, ec);
      if (!ec) s.socket->non_blocking(true, ec);  // read_some reports would_block instead of waiting
      if (ec) {
        ++stats.accept_errors;
        error_code ignored;
        if (s.socket->is_open()) s.socket->close(ignored);
        else ::close(fd);
        accepted_ids.give_back(conn);
        continue;
      }
      s.state = kOpen;
      s.accepted = true;
      emit(Event::kAccepted, conn, 0);
      drain(conn);  // bytes may have come with the handshake (see on_connect)
    }
  }

  void wait_acceptable() {
    acceptor->async_wait(Acceptor::wait_read, [this](const error_code& ec) {
      if (ec == asio::error::operation_aborted) return;  // the loop is going away
      accept_all();
    });
  }

  // Reads until the socket is empty (then waits for readiness again), the peer closes, or this
  // poll has no room left (then the connection goes on readable_ and is read first next poll).
  void drain(ConnId conn) {
    Slot& s = slots[conn];
    if (s.paused) return;  // resume_receive() puts it on the readable list
    while (true) {
      if (n == cap || arena_used == arena_size) {
        if (arena_used == arena_size) ++stats.recv_no_buffers;
        return read_next_poll(conn);
      }
      const size_t room = std::min<size_t>(read_size, arena_size - arena_used);
      error_code ec;
      const size_t got = s.socket->read_some(asio::buffer(arena.get() + arena_used, room), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) return wait_readable(conn);
      if (ec == asio::error::interrupted) continue;
      if (ec) {
        const int error = ec == asio::error::eof ? 0 : ec.value();
        release(conn);
        return emit(Event::kClosed, conn, error);
      }
      emit(Event::kData, conn, 0, {arena.get() + arena_used, got});
      arena_used += got;
    }
  }

  asio::io_context ctx{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{ctx.get_executor()};
  // After ctx: sockets are destroyed before their io_context. A deque, so growing never moves a
  // socket that has operations outstanding.
  std::deque<Slot> slots;
  std::optional<Acceptor> acceptor;
  asio::ip::tcp listen_protocol = asio::ip::tcp::v4();
  uint16_t listen_port = 0;
  AcceptedIds accepted_ids;
  bool accept_next_poll = false;  // accept first at the next poll (no wait armed meanwhile)
  uint32_t read_size;
  size_t arena_size;
  std::unique_ptr<uint8_t[]> arena;  // this poll's received bytes, handed out front to back
  size_t arena_used = 0;
  std::vector<std::pair<ConnId, uint32_t>> readable;  // (conn, gen) with bytes left unread
  std::vector<std::pair<ConnId, uint32_t>> readable_now;
  Event* out = nullptr;  // the current poll()'s output
  size_t cap = 0;
  size_t n = 0;
  LoopStats stats;
};

AsioLoop::AsioLoop(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AsioLoop::~AsioLoop() = default;

std::unique_ptr<AsioLoop> AsioLoop::create(const LoopOptions& options, std::string& error) {
  try {
    return std::unique_ptr<AsioLoop>(new AsioLoop(std::make_unique<Impl>(options)));
  } catch (const std::exception& e) {
    error = std::string("asio: ") + e.what();
    return nullptr;
  }
}

const LoopStats& AsioLoop::stats() const { return impl_->stats; }

void AsioLoop::connect(ConnId conn, const Endpoint& endpoint, const Endpoint* source) {
  Impl& m = *impl_;
  m.grow(conn);
  m.release(conn);
  Impl::Slot& s = m.slots[conn];
  if (!s.socket) s.socket.emplace(m.ctx.get_executor());
  s.state = Impl::kConnecting;
  const uint32_t gen = s.gen;

  asio::ip::tcp::endpoint target;
  const size_t len = std::min<size_t>(endpoint.len, target.capacity());
  std::memcpy(target.data(), &endpoint.addr, len);
  target.resize(len);
  error_code ec;
  s.socket->open(target.protocol(), ec);
  if (!ec) s.socket->set_option(asio::ip::tcp::no_delay(true), ec);
  if (!ec) s.socket->non_blocking(true, ec);  // read_some reports would_block instead of waiting
  if (!ec && source) {
    if (const int err = bind_source(s.socket->native_handle(), *source)) ec = error_code(err, asio::error::get_system_category());
  }
  if (ec) {
    // Reported from poll() like any other connect failure.
    asio::post(m.ctx, [&m, conn, gen, ec] { m.on_connect(conn, gen, ec); });
    return;
  }
  s.socket->async_connect(target, [&m, conn, gen](const error_code& e) { m.on_connect(conn, gen, e); });
}

bool AsioLoop::listen(const Endpoint& where, const ListenOptions& options, std::string& error) {
  Impl& m = *impl_;
  if (m.acceptor) {
    error = "cannot listen on " + where.text + ": this loop listens already";
    return false;
  }
  const int fd = open_listener(where, options, m.listen_port, error);
  if (fd < 0) return false;
  m.listen_protocol = where.addr.ss_family == AF_INET6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4();
  m.acceptor.emplace(m.ctx.get_executor());
  error_code ec;
  m.acceptor->assign(m.listen_protocol, fd, ec);
  if (ec) {
    ::close(fd);
    m.acceptor.reset();
    m.listen_port = 0;
    error = "cannot listen on " + where.text + ": " + ec.message();
    return false;
  }
  m.accepted_ids.start(options.first_accepted);
  m.accept_next_poll = true;  // connections may be waiting already
  return true;
}

uint16_t AsioLoop::listen_port() const { return impl_->listen_port; }

void AsioLoop::pause_receive(ConnId conn) {
  Impl& m = *impl_;
  if (conn >= m.slots.size() || m.slots[conn].state == Impl::kFree) return;
  m.slots[conn].paused = true;  // a wait still armed finds it paused and reads nothing
}

void AsioLoop::resume_receive(ConnId conn) {
  Impl& m = *impl_;
  if (conn >= m.slots.size()) return;
  Impl::Slot& s = m.slots[conn];
  if (!s.paused) return;
  s.paused = false;
  if (s.state == Impl::kOpen) m.read_next_poll(conn);  // while connecting, on_connect reads
}

void AsioLoop::send(ConnId conn, const uint8_t* data, size_t size) {
  Impl& m = *impl_;
  if (conn >= m.slots.size()) return;
  Impl::Slot& s = m.slots[conn];
  if (s.state == Impl::kFree) return;
  assert(s.send_data == nullptr && "one send in flight per connection");
  s.send_data = data;
  s.send_size = size;
  s.send_offset = 0;
  if (s.state == Impl::kOpen) m.start_write(conn);  // while connecting, on_connect starts it
}

void AsioLoop::send(ConnId conn, std::span<const iovec> parts) {
  Impl& m = *impl_;
  if (conn >= m.slots.size() || parts.empty()) return;
  Impl::Slot& s = m.slots[conn];
  if (s.state == Impl::kFree) return;
  assert(s.send_data == nullptr && "one send in flight per connection");
  s.parts.clear();
  for (const iovec& p : parts) s.parts.emplace_back(p.iov_base, p.iov_len);
  s.send_data = static_cast<const uint8_t*>(parts.front().iov_base);  // marks a send unfinished
  if (s.state == Impl::kOpen) m.start_write(conn);
}

void AsioLoop::close(ConnId conn) {
  if (conn < impl_->slots.size()) impl_->release(conn);
}

size_t AsioLoop::poll(std::span<Event> out, int timeout_ms) {
  Impl& m = *impl_;
  if (out.empty()) return 0;
  m.out = out.data();
  m.cap = out.size();
  m.n = 0;
  m.arena_used = 0;  // the caller is done with the previous poll's views
  m.accepted_ids.recycle();

  // Connections left with unread bytes (or just resumed) go first; they have no wait armed.
  m.readable_now.swap(m.readable);
  for (const auto& [conn, gen] : m.readable_now) {
    Impl::Slot& s = m.slots[conn];
    if (s.gen != gen || s.state != Impl::kOpen) continue;
    s.readable = false;
    m.drain(conn);  // goes back on readable if this poll fills up too
  }
  m.readable_now.clear();
  if (m.accept_next_poll) {
    m.accept_next_poll = false;
    m.accept_all();
  }

  // Each handler makes at most one event, except drain(), which checks for room itself.
  if (m.n == 0 && timeout_ms < 0) {
    while (m.n == 0) m.ctx.run_one();
  } else if (m.n == 0 && timeout_ms > 0) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (m.n == 0 && m.ctx.run_one_until(deadline) > 0) {
    }
  }
  while (m.n < m.cap && m.ctx.poll_one() > 0) {
  }
  m.out = nullptr;
  m.cap = 0;
  return m.n;
}

}  // namespace ws::net
