// The record values a run sends (--payload, --payload-compressibility, --payload-file): made once
// before the run into a pool of values, so the hot path only picks the next one and copies it.
// Plain code, no sockets or clocks: unit-tested alone.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "driver/config.h"

namespace ws::driver {

// How many values a pool of generated values holds, from --payload-pool-size or, when that is 0,
// chosen here: enough that a record set of --batch records never repeats a value (a repeat would
// let the codec compress what was meant to be random), within kMaxPoolBytes.
uint32_t payload_pool_values(const RunConfig& config);

// "pattern", "zeros", "random" for --payload; "file" when --payload-file gave the values.
const char* payload_name(const RunConfig& config);

class PayloadPool {
 public:
  static constexpr uint32_t kDefaultValues = 1024;         // OMB's examples use 10,000 1 KiB values
  static constexpr uint64_t kMaxPoolBytes = 64ull << 20;   // the automatic size stays below this
  static constexpr uint64_t kMaxFileBytes = 1ull << 30;    // --payload-file

  // Values generated from the config: --message-size bytes each, the first
  // round(--payload-compressibility x size) of them random (every byte with --payload=random),
  // the rest the --payload filler ('a'..'z' repeated, or zeros), as OMB's randomBytesRatio puts
  // random bytes before zeros. `seed` makes the random bytes reproducible. With --payload-file
  // set, this still generates (the file is load()'s); test rigs use it without a runner.
  static PayloadPool generate(const RunConfig& config, uint64_t seed);

  // --payload-file's values: the file split on --payload-delimiter, empty values skipped; by
  // default ("") a text file is split on "\n" (kafka-producer-perf-test's --payload-file) and a
  // binary one, holding a NUL byte, is one value as it is (OMB's payloadFile). "none" never splits.
  // Nothing, with `error` set to one line naming the flag, when the file cannot be read, has no
  // value, or (with --verify) a value is too short for the stamp.
  static std::optional<PayloadPool> load(const RunConfig& config, std::string& error);

  // load() with --payload-file, generate() without.
  static std::optional<PayloadPool> prepare(const RunConfig& config, uint64_t seed, std::string& error);

  size_t size() const { return ranges_.size(); }
  std::span<const uint8_t> value(size_t index) const {
    return {bytes_.data() + ranges_[index].first, ranges_[index].second};
  }
  size_t total_bytes() const { return bytes_.size(); }

 private:
  void add(std::span<const uint8_t> value);

  std::vector<uint8_t> bytes_;                       // every value, one after another
  std::vector<std::pair<size_t, size_t>> ranges_;    // (offset, size) of each value in bytes_
};

// "\n", "\r\n", "\t", "\\", "\0" in --payload-delimiter as typed on a shell; other text as it is.
std::string unescape_delimiter(const std::string& text);

}  // namespace ws::driver
