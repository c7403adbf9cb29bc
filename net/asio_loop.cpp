#include "net/asio_loop.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

namespace ws::net {

namespace asio = boost::asio;
using boost::system::error_code;
using Socket = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;

struct AsioLoop::Impl {
  enum SlotState : uint8_t { kFree, kConnecting, kOpen };
  struct Slot {
    std::optional<Socket> socket;  // made on first use, then reopened for every connection
    const uint8_t* send_data = nullptr;  // non-null while a send() is unfinished
    size_t send_size = 0;
    size_t send_offset = 0;
    uint32_t gen = 0;  // bumped on close; handlers carry the generation they were started in
    SlotState state = kFree;
    bool readable = false;  // on the readable_ list: data left unread when the last poll filled up
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
    s.send_data = nullptr;
    s.readable = false;
    s.state = kFree;
    ++s.gen;
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
    s.socket->async_write_some(
        asio::buffer(s.send_data + s.send_offset, s.send_size - s.send_offset),
        [this, conn, gen](const error_code& ec, size_t written) { on_write(conn, gen, ec, written); });
  }

  void on_write(ConnId conn, uint32_t gen, const error_code& ec, size_t written) {
    if (stale(conn, gen, kOpen)) return;
    if (ec) {
      release(conn);
      return emit(Event::kClosed, conn, ec.value());
    }
    Slot& s = slots[conn];
    s.send_offset += written;
    if (s.send_offset < s.send_size) {
      ++stats.partial_sends;
      return start_write(conn);
    }
    s.send_data = nullptr;
    emit(Event::kSent, conn, 0);
  }

  void wait_readable(ConnId conn) {
    const uint32_t gen = slots[conn].gen;
    slots[conn].socket->async_wait(Socket::wait_read, [this, conn, gen](const error_code& ec) {
      if (stale(conn, gen, kOpen)) return;
      if (ec) {
        release(conn);
        return emit(Event::kClosed, conn, ec.value());
      }
      drain(conn);
    });
  }

  // Reads until the socket is empty (then waits for readiness again), the peer closes, or this
  // poll has no room left (then the connection goes on readable_ and is read first next poll).
  void drain(ConnId conn) {
    Slot& s = slots[conn];
    while (true) {
      if (n == cap || arena_used == arena_size) {
        if (arena_used == arena_size) ++stats.recv_no_buffers;
        if (!s.readable) {
          s.readable = true;
          readable.emplace_back(conn, s.gen);
        }
        return;
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
  std::vector<Slot> slots;  // after ctx: sockets are destroyed before their io_context
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

void AsioLoop::connect(ConnId conn, const Endpoint& endpoint) {
  Impl& m = *impl_;
  assert(conn < m.slots.size());
  if (conn >= m.slots.size()) return;
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
  if (ec) {
    // Reported from poll() like any other connect failure.
    asio::post(m.ctx, [&m, conn, gen, ec] { m.on_connect(conn, gen, ec); });
    return;
  }
  s.socket->async_connect(target, [&m, conn, gen](const error_code& e) { m.on_connect(conn, gen, e); });
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

  // Connections left with unread bytes go first; they have no wait armed.
  m.readable_now.swap(m.readable);
  for (const auto& [conn, gen] : m.readable_now) {
    Impl::Slot& s = m.slots[conn];
    if (s.gen != gen || s.state != Impl::kOpen) continue;
    s.readable = false;
    m.drain(conn);  // goes back on readable if this poll fills up too
  }
  m.readable_now.clear();

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
