// One load host of several (--shards=N, --shard=I): how a run's totals split over the shards so
// that their sums are the totals, and where this shard's clients sit among all of them. Shards
// never talk to each other (a Kubernetes Indexed Job starts them; `wirestress merge` combines
// their results), so everything here is computed alike from the same flags in every shard.
#pragma once

#include <cstdint>
#include <optional>

#include "driver/config.h"

namespace ws::driver {

// Cuts `total` into `count` parts weighted by `weights` (cumulative: before(i) is the weight of the
// parts before part i, `weight_total` all of them): part i gets floor(total * before(i+1) / W) -
// floor(total * before(i) / W), so the parts sum to `total` exactly and follow the weights. With
// no weight at all, equal parts (the first take the remainder).
uint64_t split_share(uint64_t total, uint64_t weight_before, uint64_t weight_including, uint64_t weight_total,
                     uint32_t index, uint32_t count);

// Turns a config holding the run's totals into shard `index` of `count`: clients, consumers,
// --rate and --messages become this shard's share, and config.shard records the totals and
// where this shard's clients start. Clients and consumers split evenly (the first shards take
// the remainder); --rate and --messages follow the clients, so every client of every shard has
// the same rate and quota as in one process. Consumer-only runs keep --messages (per consumer).
// Call after validate(); validate_shard() first.
void apply_shard(RunConfig& config, uint32_t count, uint32_t index);

// --shards and --shard as given: a ConfigError naming the flag, or nothing.
std::optional<ConfigError> validate_shard(const RunConfig& totals, uint32_t count, uint32_t index);

// The run id every shard of one sharded run derives alike from the instant they all start at
// (--start-at as an absolute time), so that a --verify consumer recognises the other shards'
// records as the run's own. Shard i's run id is this plus i. Never 0.
uint32_t shared_run_id_base(int64_t start_at_unix_ms);

}  // namespace ws::driver
