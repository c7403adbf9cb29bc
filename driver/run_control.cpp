#include "driver/run_control.h"

#include <random>

#include "driver/shard.h"

namespace ws::driver {

RunControl::RunControl(const RunConfig& config, uint32_t workers)
    : start_barrier(static_cast<std::ptrdiff_t>(workers) + 1),
      brokers(config.broker_version),
      // Shards given one absolute --start-at share a base, so their consumers know each other's
      // records; each shard's own id stays unique (merge tells inputs apart by it).
      run_id((config.shard.count > 1 && config.start_at_unix_ms > 0 ? shared_run_id_base(config.start_at_unix_ms)
                                                                    : static_cast<uint32_t>(std::random_device{}())) +
             config.shard.index),
      producer_count(config.clients),
      consumer_count(config.consumers),
      clients_not_ready(config.clients + config.consumers),
      producers_active(config.clients),
      producer_acked(config.consumers > 0 ? new std::atomic<uint64_t>[config.clients]() : nullptr),
      producer_in_doubt(config.consumers > 0 ? new std::atomic<uint64_t>[config.clients]() : nullptr),
      producer_measured_from(config.consumers > 0 ? new std::atomic<uint64_t>[config.clients] : nullptr) {
  if (producer_measured_from) {
    for (uint32_t p = 0; p < config.clients; ++p) producer_measured_from[p].store(UINT64_MAX, std::memory_order_relaxed);
  }
}

void RunControl::set_fatal(const std::string& message, bool bad_flag) {
  std::lock_guard lock(fatal_mutex_);
  if (has_fatal_.load()) return;
  fatal_ = message;
  fatal_bad_flag_ = bad_flag;
  has_fatal_.store(true, std::memory_order_release);
}

bool RunControl::fatal_is_bad_flag() const {
  std::lock_guard lock(fatal_mutex_);
  return fatal_bad_flag_;
}

std::string RunControl::fatal() const {
  std::lock_guard lock(fatal_mutex_);
  return fatal_;
}

}  // namespace ws::driver
