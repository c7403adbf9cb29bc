// Checksum and compression throughput: what one core spends per produced or fetched batch.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "protocol/compression.h"
#include "protocol/crc32c.h"

namespace ws::protocol {
namespace {

std::vector<uint8_t> random_bytes(size_t n) {
  std::mt19937 rng(1);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

// Record values shaped like typical JSON events: repeated keys, varying ids and timestamps.
std::vector<uint8_t> record_like_bytes(size_t n) {
  std::mt19937 rng(42);
  std::string text;
  while (text.size() < n) {
    text += R"({"user_id":)" + std::to_string(rng() % 100000) + R"(,"session":")" +
            std::to_string(rng()) + R"(","event":"page_view","ts":)" +
            std::to_string(1700000000000ull + rng() % 1000000) + R"(,"path":"/item/)" +
            std::to_string(rng() % 5000) + "\"}\n";
  }
  text.resize(n);
  return {text.begin(), text.end()};
}

using Crc32cFunction = uint32_t (*)(const uint8_t*, size_t, uint32_t);

void run_crc32c(benchmark::State& state, Crc32cFunction crc) {
  const auto data = random_bytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(crc(data.data(), data.size(), 0));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_Crc32cHardware(benchmark::State& state) {
  if (!crc32c_hardware_available()) {
    state.SkipWithError("CPU has no SSE4.2");
    return;
  }
  run_crc32c(state, &crc32c_hardware);
}
void BM_Crc32cPortable(benchmark::State& state) { run_crc32c(state, &crc32c_portable); }
void BM_Crc32Ieee(benchmark::State& state) { run_crc32c(state, &crc32_ieee); }

BENCHMARK(BM_Crc32cHardware)->Arg(1 << 10)->Arg(1 << 20);
BENCHMARK(BM_Crc32cPortable)->Arg(1 << 10)->Arg(1 << 20);
BENCHMARK(BM_Crc32Ieee)->Arg(1 << 10)->Arg(1 << 20);

constexpr size_t kRecordDataBytes = 10 * 1000;

// Bytes/s are of uncompressed data in both directions, so compress and decompress compare directly.
void BM_Compress(benchmark::State& state) {
  const auto codec = static_cast<Codec>(state.range(0));
  const auto input = record_like_bytes(kRecordDataBytes);
  std::vector<uint8_t> out;
  for (auto _ : state) {
    out.clear();
    if (!compress(codec, input, out)) state.SkipWithError("compress failed");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(codec_name(codec));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  state.counters["ratio"] = static_cast<double>(input.size()) / static_cast<double>(out.size());
}

void BM_Decompress(benchmark::State& state) {
  const auto codec = static_cast<Codec>(state.range(0));
  const auto input = record_like_bytes(kRecordDataBytes);
  std::vector<uint8_t> packed;
  compress(codec, input, packed);
  std::vector<uint8_t> out;
  for (auto _ : state) {
    out.clear();
    if (!decompress(codec, packed, out, input.size())) state.SkipWithError("decompress failed");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(codec_name(codec));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}

void each_codec(benchmark::internal::Benchmark* b) {
  for (Codec codec : {Codec::kGzip, Codec::kSnappy, Codec::kLz4, Codec::kZstd}) {
    b->Arg(static_cast<int64_t>(codec));
  }
}

BENCHMARK(BM_Compress)->Apply(each_codec);
BENCHMARK(BM_Decompress)->Apply(each_codec);

}  // namespace
}  // namespace ws::protocol
