// Compression at Kafka batch sizes (1 KiB, 16 KiB, 128 KiB, 1 MiB of record-like JSON): every codec
// through the codec's compress()/decompress(), and the gzip libraries side by side, which is how
// gzip's library and level were chosen (protocol/compression.cpp).
// Bytes/s are of uncompressed data in both directions, so compress and decompress compare directly.
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "protocol/compression.h"

#if WS_BENCH_ISAL
#include <isa-l/igzip_lib.h>
#endif
#if WS_BENCH_LIBDEFLATE
#include <libdeflate.h>
#endif

namespace ws::protocol {
namespace {

// Record values shaped like typical JSON events: repeated keys, varying ids, timestamps and paths.
std::vector<uint8_t> record_like_bytes(size_t n) {
  std::mt19937 rng(42);
  static const char* const kEvents[] = {"page_view", "click", "add_to_cart", "search", "login"};
  std::string text;
  while (text.size() < n) {
    text += R"({"user_id":)" + std::to_string(rng() % 100000) + R"(,"session":")" +
            std::to_string(rng()) + R"(","event":")" + kEvents[rng() % 5] + R"(","ts":)" +
            std::to_string(1700000000000ull + rng() % 1000000) + R"(,"path":"/item/)" +
            std::to_string(rng() % 5000) + "\"}\n";
  }
  text.resize(n);
  return {text.begin(), text.end()};
}

void batch_sizes(benchmark::internal::Benchmark* b, std::initializer_list<int64_t> variants) {
  for (int64_t variant : variants) {
    for (int64_t size : {1 << 10, 16 << 10, 128 << 10, 1 << 20}) b->Args({variant, size});
  }
}

// ---- every codec, through the codec ---------------------------------------------------------------

void BM_Compress(benchmark::State& state) {
  const auto codec = static_cast<Codec>(state.range(0));
  const auto input = record_like_bytes(static_cast<size_t>(state.range(1)));
  std::vector<uint8_t> out;
  for (auto _ : state) {
    out.clear();
    if (!compress(codec, input, out)) state.SkipWithError("compress failed");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(codec == Codec::kGzip ? gzip_implementation() : codec_name(codec));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  state.counters["ratio"] = static_cast<double>(input.size()) / static_cast<double>(out.size());
}

void BM_Decompress(benchmark::State& state) {
  const auto codec = static_cast<Codec>(state.range(0));
  const auto input = record_like_bytes(static_cast<size_t>(state.range(1)));
  std::vector<uint8_t> packed;
  compress(codec, input, packed);
  std::vector<uint8_t> out;
  for (auto _ : state) {
    out.clear();
    if (!decompress(codec, packed, out, input.size())) state.SkipWithError("decompress failed");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(codec == Codec::kGzip ? gzip_implementation() : codec_name(codec));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}

void each_codec(benchmark::internal::Benchmark* b) {
  batch_sizes(b, {static_cast<int64_t>(Codec::kGzip), static_cast<int64_t>(Codec::kSnappy),
                  static_cast<int64_t>(Codec::kLz4), static_cast<int64_t>(Codec::kZstd)});
}

BENCHMARK(BM_Compress)->Apply(each_codec);
BENCHMARK(BM_Decompress)->Apply(each_codec);

// ---- gzip libraries side by side ------------------------------------------------------------------
// Each keeps its state per thread where the library allows it, as the codec would.

size_t zlib_gzip(const std::vector<uint8_t>& in, std::vector<uint8_t>& out, int level) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
  out.resize(deflateBound(&zs, static_cast<uLong>(in.size())));
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  return rc == Z_STREAM_END ? zs.total_out : 0;
}

size_t zlib_gunzip(const std::vector<uint8_t>& in, std::vector<uint8_t>& out) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return 0;
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&zs, Z_FINISH);
  inflateEnd(&zs);
  return rc == Z_STREAM_END ? zs.total_out : 0;
}

#if WS_BENCH_ISAL
size_t igzip_gzip(const std::vector<uint8_t>& in, std::vector<uint8_t>& out, uint32_t level) {
  struct Compressor {
    isal_zstream stream;
    uint8_t level_buf[ISAL_DEF_LVL3_DEFAULT];
  };
  thread_local auto compressor = std::make_unique<Compressor>();
  isal_zstream& zs = compressor->stream;
  isal_deflate_init(&zs);
  zs.level = level;
  zs.level_buf = compressor->level_buf;
  zs.level_buf_size = sizeof(compressor->level_buf);
  zs.gzip_flag = IGZIP_GZIP;
  zs.end_of_stream = 1;
  out.resize(in.size() + in.size() / 16 + 1024);  // more than stored blocks need
  zs.next_in = const_cast<uint8_t*>(in.data());
  zs.avail_in = static_cast<uint32_t>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uint32_t>(out.size());
  if (isal_deflate(&zs) != COMP_OK || zs.internal_state.state != ZSTATE_END) return 0;
  return zs.total_out;
}

size_t igzip_gunzip(const std::vector<uint8_t>& in, std::vector<uint8_t>& out) {
  thread_local auto state = std::make_unique<inflate_state>();
  isal_inflate_init(state.get());
  state->crc_flag = ISAL_GZIP;
  state->next_in = const_cast<uint8_t*>(in.data());
  state->avail_in = static_cast<uint32_t>(in.size());
  state->next_out = out.data();
  state->avail_out = static_cast<uint32_t>(out.size());
  if (isal_inflate(state.get()) != ISAL_DECOMP_OK || state->block_state != ISAL_BLOCK_FINISH) return 0;
  return state->total_out;
}
#endif

#if WS_BENCH_LIBDEFLATE
size_t libdeflate_gzip(const std::vector<uint8_t>& in, std::vector<uint8_t>& out, int level) {
  thread_local libdeflate_compressor* compressors[13] = {};
  if (compressors[level] == nullptr) compressors[level] = libdeflate_alloc_compressor(level);
  libdeflate_compressor* c = compressors[level];
  out.resize(libdeflate_gzip_compress_bound(c, in.size()));
  return libdeflate_gzip_compress(c, in.data(), in.size(), out.data(), out.size());
}

// Needs the output size up front (a real decoder would read it from the gzip trailer).
size_t libdeflate_gunzip(const std::vector<uint8_t>& in, std::vector<uint8_t>& out) {
  thread_local libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  size_t n = 0;
  const auto rc = libdeflate_gzip_decompress(d, in.data(), in.size(), out.data(), out.size(), &n);
  return rc == LIBDEFLATE_SUCCESS ? n : 0;
}
#endif

enum class GzipLibrary : int64_t { kZlib, kIgzip, kLibdeflate };

const char* library_name(GzipLibrary library) {
  switch (library) {
    case GzipLibrary::kZlib: return "zlib";
    case GzipLibrary::kIgzip: return "isa-l igzip";
    case GzipLibrary::kLibdeflate: return "libdeflate";
  }
  return "?";
}

// 0 when this build lacks the library.
size_t gzip_with(GzipLibrary library, int level, const std::vector<uint8_t>& in,
                 std::vector<uint8_t>& out) {
  switch (library) {
    case GzipLibrary::kZlib: return zlib_gzip(in, out, level);
#if WS_BENCH_ISAL
    case GzipLibrary::kIgzip: return igzip_gzip(in, out, static_cast<uint32_t>(level));
#endif
#if WS_BENCH_LIBDEFLATE
    case GzipLibrary::kLibdeflate: return libdeflate_gzip(in, out, level);
#endif
    default: return 0;
  }
}

size_t gunzip_with(GzipLibrary library, const std::vector<uint8_t>& in, std::vector<uint8_t>& out) {
  switch (library) {
    case GzipLibrary::kZlib: return zlib_gunzip(in, out);
#if WS_BENCH_ISAL
    case GzipLibrary::kIgzip: return igzip_gunzip(in, out);
#endif
#if WS_BENCH_LIBDEFLATE
    case GzipLibrary::kLibdeflate: return libdeflate_gunzip(in, out);
#endif
    default: return 0;
  }
}

// range(0) = library * 100 + level.
void BM_GzipLibraryCompress(benchmark::State& state) {
  const auto library = static_cast<GzipLibrary>(state.range(0) / 100);
  const auto level = static_cast<int>(state.range(0) % 100);
  const auto input = record_like_bytes(static_cast<size_t>(state.range(1)));
  std::vector<uint8_t> out;
  size_t written = 0;
  for (auto _ : state) {
    written = gzip_with(library, level, input, out);
    if (written == 0) {
      state.SkipWithError("library not in this build, or it failed");
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string(library_name(library)) + " level " + std::to_string(level));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  state.counters["ratio"] = static_cast<double>(input.size()) / static_cast<double>(written);
}

// Input from zlib's default level, as the Java client and librdkafka write it.
void BM_GzipLibraryDecompress(benchmark::State& state) {
  const auto library = static_cast<GzipLibrary>(state.range(0));
  const auto input = record_like_bytes(static_cast<size_t>(state.range(1)));
  std::vector<uint8_t> packed;
  packed.resize(zlib_gzip(input, packed, Z_DEFAULT_COMPRESSION));
  std::vector<uint8_t> out(input.size());
  for (auto _ : state) {
    if (gunzip_with(library, packed, out) != input.size()) {
      state.SkipWithError("library not in this build, or it failed");
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(library_name(library));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}

constexpr int64_t library_level(GzipLibrary library, int level) {
  return static_cast<int64_t>(library) * 100 + level;
}

BENCHMARK(BM_GzipLibraryCompress)->Apply([](benchmark::internal::Benchmark* b) {
  batch_sizes(b, {library_level(GzipLibrary::kZlib, 6), library_level(GzipLibrary::kZlib, 1),
                  library_level(GzipLibrary::kIgzip, 0), library_level(GzipLibrary::kIgzip, 1),
                  library_level(GzipLibrary::kIgzip, 3), library_level(GzipLibrary::kLibdeflate, 1),
                  library_level(GzipLibrary::kLibdeflate, 6)});
});
BENCHMARK(BM_GzipLibraryDecompress)->Apply([](benchmark::internal::Benchmark* b) {
  batch_sizes(b, {static_cast<int64_t>(GzipLibrary::kZlib), static_cast<int64_t>(GzipLibrary::kIgzip),
                  static_cast<int64_t>(GzipLibrary::kLibdeflate)});
});

}  // namespace
}  // namespace ws::protocol
