#include "driver/payload.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "driver/verify.h"

namespace ws::driver {
namespace {

// splitmix64: fast, and every seed gives a different stream; these bytes only have to defeat a
// compressor, not an adversary.
uint64_t next_random(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

bool has_random_bytes(const RunConfig& config) { return config.random_share() > 0 && config.message_size > 0; }

}  // namespace

uint32_t payload_pool_values(const RunConfig& config) {
  if (config.payload_pool_size > 0) return config.payload_pool_size;
  // Without random bytes every value would be the same: one is enough.
  if (!has_random_bytes(config)) return 1;
  const uint64_t fit = PayloadPool::kMaxPoolBytes / std::max<uint32_t>(1, config.message_size);
  const uint64_t wanted = std::max<uint64_t>(PayloadPool::kDefaultValues, config.batch);
  return static_cast<uint32_t>(std::clamp<uint64_t>(std::min(wanted, fit), 1, wanted));
}

const char* payload_name(const RunConfig& config) {
  if (!config.payload_file.empty()) return "file";
  switch (config.payload) {
    case PayloadKind::kPattern: return "pattern";
    case PayloadKind::kZeros: return "zeros";
    case PayloadKind::kRandom: return "random";
  }
  return "pattern";
}

std::string unescape_delimiter(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    switch (text[++i]) {
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case '0': out += '\0'; break;
      case '\\': out += '\\'; break;
      default: out += '\\'; out += text[i];
    }
  }
  return out;
}

void PayloadPool::add(std::span<const uint8_t> value) {
  ranges_.emplace_back(bytes_.size(), value.size());
  bytes_.insert(bytes_.end(), value.begin(), value.end());
}

PayloadPool PayloadPool::generate(const RunConfig& config, uint64_t seed) {
  PayloadPool pool;
  const size_t size = config.message_size;
  const uint32_t count = payload_pool_values(config);
  const auto random_bytes = static_cast<size_t>(std::llround(config.random_share() * static_cast<double>(size)));
  std::vector<uint8_t> value(size);
  // The filler is the same in every value; at R = 0 it is exactly the payload of earlier versions.
  for (size_t i = random_bytes; i < size; ++i) {
    value[i] = config.payload == PayloadKind::kZeros ? 0 : static_cast<uint8_t>('a' + i % 26);
  }
  pool.bytes_.reserve(size * count);
  uint64_t state = seed;
  for (uint32_t v = 0; v < count; ++v) {
    for (size_t i = 0; i < random_bytes; i += 8) {
      const uint64_t r = next_random(state);
      std::memcpy(value.data() + i, &r, std::min<size_t>(8, random_bytes - i));
    }
    pool.add(value);
  }
  return pool;
}

std::optional<PayloadPool> PayloadPool::load(const RunConfig& config, std::string& error) {
  const std::string& path = config.payload_file;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "--payload-file: cannot read '" + path + "' (" + std::strerror(errno) + ")";
    return std::nullopt;
  }
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<uint64_t>(std::max<std::streamoff>(0, in.tellg()));
  if (file_size > kMaxFileBytes) {
    error = "--payload-file: '" + path + "' is " + std::to_string(file_size) + " bytes; use a file of at most 1 GiB";
    return std::nullopt;
  }
  in.seekg(0);
  const std::vector<uint8_t> file{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (!in.eof() && in.fail()) {
    error = "--payload-file: cannot read '" + path + "'";
    return std::nullopt;
  }
  std::string delimiter = unescape_delimiter(config.payload_delimiter);
  if (config.payload_delimiter.empty()) {
    // A NUL byte marks a binary file, as git and grep decide: its "lines" mean nothing.
    const bool binary = std::find(file.begin(), file.end(), uint8_t{0}) != file.end();
    delimiter = binary ? "" : "\n";
  } else if (config.payload_delimiter == "none") {
    delimiter.clear();
  }

  PayloadPool pool;
  pool.bytes_.reserve(file.size());
  size_t number = 0;  // the value's place in the file, 1-based, empty ones included (a line number)
  auto take = [&](size_t begin, size_t end) {
    ++number;
    if (begin == end) return true;  // empty lines, and the end of a file ending in a delimiter
    const size_t size = end - begin;
    if (size > 64u * 1024 * 1024) {
      error = "--payload-file: value " + std::to_string(number) + " of '" + path + "' is " + std::to_string(size) +
              " bytes; use values of at most 67108864 bytes (or another --payload-delimiter)";
      return false;
    }
    if (config.verify && size < kVerifyHeaderSize) {
      error = "--payload-file: value " + std::to_string(number) + " of '" + path + "' is " + std::to_string(size) +
              " bytes; --verify stamps the first " + std::to_string(kVerifyHeaderSize) +
              ", so use values of at least that many bytes";
      return false;
    }
    pool.add(std::span<const uint8_t>(file.data() + begin, size));
    return true;
  };
  if (delimiter.empty()) {
    if (!take(0, file.size())) return std::nullopt;
  } else {
    const std::vector<uint8_t> needle(delimiter.begin(), delimiter.end());
    size_t begin = 0;
    while (true) {
      const auto hit =
          std::search(file.begin() + static_cast<std::ptrdiff_t>(begin), file.end(), needle.begin(), needle.end());
      const auto end = static_cast<size_t>(hit - file.begin());
      if (!take(begin, end)) return std::nullopt;
      if (hit == file.end()) break;
      begin = end + delimiter.size();
    }
  }
  if (pool.size() == 0) {
    error = "--payload-file: '" + path + "' holds no value; use a file with at least one non-empty value";
    return std::nullopt;
  }
  return pool;
}

std::optional<PayloadPool> PayloadPool::prepare(const RunConfig& config, uint64_t seed, std::string& error) {
  if (!config.payload_file.empty()) return load(config, error);
  return generate(config, seed);
}

}  // namespace ws::driver
