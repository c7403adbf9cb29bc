// What both loops share for the server side: opening the listening socket, and the ids they give
// accepted connections. Internal to net/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/event_loop.h"

namespace ws::net {

// A non-blocking listening socket (SO_REUSEADDR, and SO_REUSEPORT if asked) bound to `where`;
// -1 with a message on failure. `port` is the bound port, so port 0 can ask for any.
int open_listener(const Endpoint& where, const ListenOptions& options, uint16_t& port, std::string& error);

// Prepares an accepted socket like a connect()ed one: TCP_NODELAY.
void set_accepted_options(int fd);

// The ConnIds of accepted connections (see "Accepted ids" in event_loop.h): freed ids first, else
// the next unused one. A freed id waits for recycle(), called at the start of every poll().
class AcceptedIds {
 public:
  void start(ConnId first) { next_ = first; }
  ConnId take() {
    if (free_.empty()) return next_++;
    const ConnId id = free_.back();
    free_.pop_back();
    return id;
  }
  void give_back(ConnId id) { freed_.push_back(id); }
  void recycle() {
    free_.insert(free_.end(), freed_.begin(), freed_.end());
    freed_.clear();
  }

 private:
  ConnId next_ = 0;
  std::vector<ConnId> free_;
  std::vector<ConnId> freed_;
};

}  // namespace ws::net
