#include "driver/shard.h"

#include <algorithm>
#include <string>
#include <utility>

namespace ws::driver {

uint64_t split_share(uint64_t total, uint64_t weight_before, uint64_t weight_including, uint64_t weight_total,
                     uint32_t index, uint32_t count) {
  if (weight_total == 0) return total / count + (index < total % count ? 1 : 0);
  // 128-bit products: --messages times --clients may pass 2^64.
  __extension__ using Wide = unsigned __int128;
  const auto part = [&](uint64_t weight) { return static_cast<uint64_t>(static_cast<Wide>(total) * weight / weight_total); };
  return part(weight_including) - part(weight_before);
}

namespace {

// Shard `index`'s part of `total` things split evenly, and how many the shards before it have.
struct EvenPart {
  uint32_t first = 0;
  uint32_t size = 0;
};
EvenPart even_part(uint32_t total, uint32_t count, uint32_t index) {
  const uint32_t base = total / count, extra = total % count;
  return {.first = base * index + std::min(index, extra), .size = base + (index < extra ? 1 : 0)};
}

}  // namespace

std::optional<ConfigError> validate_shard(const RunConfig& totals, uint32_t count, uint32_t index) {
  if (count < 1 || count > 100'000) return ConfigError{"--shards", std::to_string(count), "use 1 to 100000"};
  if (index >= count) {
    return ConfigError{"--shard", std::to_string(index),
                       "use 0 to " + std::to_string(count - 1) + " (one less than --shards; Kubernetes sets "
                       "JOB_COMPLETION_INDEX so in an Indexed Job)"};
  }
  // A shard without producers would be a consumer-only run, where --messages means something else.
  for (const auto& [flag, n] : {std::pair{"--clients", totals.clients}, std::pair{"--consumers", totals.consumers}}) {
    if (n > 0 && n < count) {
      return ConfigError{"--shards", std::to_string(count),
                         std::string("every shard needs a part of ") + flag + "=" + std::to_string(n) +
                             ": use at most " + std::to_string(n) + " shards, or more " + (flag + 2)};
    }
  }
  return std::nullopt;
}

void apply_shard(RunConfig& config, uint32_t count, uint32_t index) {
  ShardPlan& plan = config.shard;
  plan.count = count;
  plan.index = index;
  plan.clients_total = config.clients;
  plan.consumers_total = config.consumers;
  plan.rate_total = config.rate;
  plan.messages_total = config.messages;
  const EvenPart clients = even_part(config.clients, count, index);
  const EvenPart consumers = even_part(config.consumers, count, index);
  plan.first_client = clients.first;
  plan.first_consumer = consumers.first;
  config.clients = clients.size;
  config.consumers = consumers.size;
  if (plan.clients_total > 0) {
    config.rate = plan.rate_total * clients.size / plan.clients_total;
    config.messages = split_share(plan.messages_total, clients.first, clients.first + clients.size,
                                  plan.clients_total, index, count);
  }
}

uint32_t shared_run_id_base(int64_t start_at_unix_ms) {
  // splitmix64's finaliser: nearby instants give unrelated ids.
  uint64_t z = static_cast<uint64_t>(start_at_unix_ms) + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  const auto id = static_cast<uint32_t>(z);
  return id == 0 ? 1 : id;
}

}  // namespace ws::driver
