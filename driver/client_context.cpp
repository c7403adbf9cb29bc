#include "driver/client_context.h"

namespace ws::driver {

void ClientContext::client_ready(bool consumer, int64_t now) {
  ++(consumer ? metrics.counters.consumers_connected : metrics.counters.producers_connected);
  if (phase != Phase::kConnecting) ++metrics.counters.clients_connected_late;
  if (control.clients_not_ready.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    control.timeline.end_connecting(now);
  }
}

void ClientContext::client_settled(bool consumer, bool ever_ready, int64_t now) {
  ++(consumer ? consumers_settled : producers_settled);
  if (!ever_ready && control.clients_not_ready.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    control.timeline.end_connecting(now);
  }
  if (!consumer && control.producers_active.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    // Every producer sent its --messages (or gave up): no more records will come.
    control.timeline.stop(now);
  }
}

}  // namespace ws::driver
