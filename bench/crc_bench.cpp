// Record checksums: the codec's crc32c() and crc32_ieee() beside every candidate they were chosen
// from (CRC-32C: ISA-L crc32_iscsi, the built-in SSE4.2 and table code; CRC-32: ISA-L
// crc32_gzip_refl, libdeflate, zlib).
//   BM_OneBuffer:          one buffer checksummed again and again, at 64 B, 122 B (a magic 0/1
//                          message with a 100-byte value), 1 KiB and 128 KiB (a RecordBatch v2).
//   BM_RecordsOfABatch:    one checksum per record over 1,000 records laid out as in a batch.
//   BM_RecordsJustWritten: the same, each record's first byte written just before its checksum.
//   BM_RestampBatch:       a RecordBatch v2's 16 timestamp bytes changed and its CRC made right
//                          again, by checksumming the batch anew (`full`) or by crc32c_patch.
// Short checksums cost more over a batch than in a loop over one buffer, and ISA-L's code for
// buffers under 256 bytes ranks lower there.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "protocol/crc.h"

#if WS_BENCH_ISAL
#include <isa-l/crc.h>
#endif
#if WS_BENCH_LIBDEFLATE
#include <libdeflate.h>
#endif

namespace ws::protocol {
namespace {

using CrcFunction = uint32_t (*)(const uint8_t*, size_t, uint32_t);

#if WS_BENCH_ISAL
uint32_t isal_crc32c(const uint8_t* data, size_t n, uint32_t crc) {
  return ~crc32_iscsi(const_cast<uint8_t*>(data), static_cast<int>(n), ~crc);
}
uint32_t isal_crc32(const uint8_t* data, size_t n, uint32_t crc) {
  return crc32_gzip_refl(crc, data, n);
}
#endif
#if WS_BENCH_LIBDEFLATE
uint32_t libdeflate_crc32(const uint8_t* data, size_t n, uint32_t crc) {
  return ::libdeflate_crc32(crc, data, n);
}
#endif

std::vector<uint8_t> random_bytes(size_t n) {
  std::mt19937 rng(1);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

template <CrcFunction Crc>
void BM_OneBuffer(benchmark::State& state) {
  const auto data = random_bytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(Crc(data.data(), data.size(), 0));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

// One checksum per record over 1,000 records laid out as in a MessageSet. With `store_first`, a
// byte of each record is written just before its checksum, as when a writer checksums each record
// as it adds it.
template <CrcFunction Crc>
void run_records(benchmark::State& state, bool store_first) {
  constexpr size_t kRecords = 1000;
  constexpr size_t kLogOverhead = 12;  // offset and size between one message's CRC cover and the next
  const auto size = static_cast<size_t>(state.range(0));
  const size_t stride = size + kLogOverhead;
  auto batch = random_bytes(stride * kRecords);
  uint32_t sum = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < kRecords; ++i) {
      if (store_first) batch[i * stride] = static_cast<uint8_t>(i);
      sum ^= Crc(batch.data() + i * stride, size, 0);
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kRecords));
}

// What RecordSetWriter::finish() does for magic 0/1: one pass over the records written before.
template <CrcFunction Crc>
void BM_RecordsOfABatch(benchmark::State& state) {
  run_records<Crc>(state, false);
}

// Bytes just stored are read back through store forwarding, which narrow stores followed by wide
// loads defeat: this is why finish() checksums in a pass of its own.
template <CrcFunction Crc>
void BM_RecordsJustWritten(benchmark::State& state) {
  run_records<Crc>(state, true);
}

void one_buffer_sizes(benchmark::internal::Benchmark* b) {
  for (int64_t size : {64, 122, 1024, 128 * 1024}) b->Arg(size);
}
void record_sizes(benchmark::internal::Benchmark* b) {
  for (int64_t size : {64, 122, 200, 256, 512, 1034}) b->Arg(size);
}

#define WS_CRC_BENCHMARKS(fn)                                          \
  BENCHMARK_TEMPLATE(BM_OneBuffer, fn)->Apply(one_buffer_sizes);       \
  BENCHMARK_TEMPLATE(BM_RecordsOfABatch, fn)->Apply(record_sizes);     \
  BENCHMARK_TEMPLATE(BM_RecordsJustWritten, fn)->Apply(record_sizes)

// Restamping: change bytes 6..21 of a batch (its timestamps, after the CRC's start), then make the
// CRC right again. The timestamps change from one iteration to the next, as from send to send.
void BM_RestampBatch(benchmark::State& state) {
  auto batch = random_bytes(static_cast<size_t>(state.range(0)));
  const bool patch = state.range(1) != 0;
  uint32_t crc = crc32c(batch.data(), batch.size());
  uint8_t stamp = 0;
  for (auto _ : state) {
    uint8_t before[16];
    std::copy_n(batch.data() + 6, 16, before);
    std::fill_n(batch.data() + 6, 16, ++stamp);
    crc = patch ? crc32c_patch(crc, before, batch.data() + 6, 16, batch.size() - 22)
                : crc32c(batch.data(), batch.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetLabel(patch ? "crc32c_patch" : "full");
}
BENCHMARK(BM_RestampBatch)->ArgsProduct({{200, 500, 1100, 110054}, {0, 1}});

// CRC-32C
WS_CRC_BENCHMARKS(crc32c);
#if WS_BENCH_ISAL
WS_CRC_BENCHMARKS(isal_crc32c);
#endif
WS_CRC_BENCHMARKS(crc32c_builtin);
WS_CRC_BENCHMARKS(crc32c_portable);

// CRC-32
WS_CRC_BENCHMARKS(crc32_ieee);
#if WS_BENCH_ISAL
WS_CRC_BENCHMARKS(isal_crc32);
#endif
#if WS_BENCH_LIBDEFLATE
WS_CRC_BENCHMARKS(libdeflate_crc32);
#endif
WS_CRC_BENCHMARKS(crc32_zlib);

}  // namespace
}  // namespace ws::protocol
