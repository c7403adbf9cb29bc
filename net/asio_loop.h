// Boost.Asio backend (epoll): the fallback when io_uring is unavailable. Receiving uses readiness
// (async_wait) plus non-blocking reads into one shared arena per poll(), so an idle connection
// holds no receive buffer; accepting likewise waits on an acceptor's readiness and then accepts
// until the backlog is empty. See event_loop.h for the interface and its guarantees.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "net/event_loop.h"

namespace ws::net {

class AsioLoop {
 public:
  static std::unique_ptr<AsioLoop> create(const LoopOptions& options, std::string& error);
  ~AsioLoop();
  AsioLoop(const AsioLoop&) = delete;
  AsioLoop& operator=(const AsioLoop&) = delete;

  void connect(ConnId conn, const Endpoint& endpoint, const Endpoint* source = nullptr);
  bool listen(const Endpoint& where, const ListenOptions& options, std::string& error);
  uint16_t listen_port() const;
  void send(ConnId conn, const uint8_t* data, size_t size);
  void send(ConnId conn, std::span<const iovec> parts);  // gathered: see event_loop.h
  void pause_receive(ConnId conn);
  void resume_receive(ConnId conn);
  void close(ConnId conn);
  size_t poll(std::span<Event> out, int timeout_ms);
  const char* name() const { return "asio"; }
  const LoopStats& stats() const;

 private:
  struct Impl;  // keeps Boost headers out of the driver's translation units
  explicit AsioLoop(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ws::net
