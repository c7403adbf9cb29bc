// The checksums the codec calls: ISA-L, or the built-in ones in a -DWS_PORTABLE_CRC=ON build.
#include "protocol/crc.h"

#if !WS_PORTABLE_CRC
#include <isa-l/crc.h>

#include <algorithm>
#include <climits>
#endif

namespace ws::protocol {

#if !WS_PORTABLE_CRC

namespace {

// ISA-L's CRC-32C folds 64 bytes at a time from 256 bytes on, 1.5-2.5x the SSE4.2 code from 1 KiB
// on. Below, its code for short buffers is about 2x slower than the SSE4.2 code: per record of a
// batch at 64-200 B it takes 7-22 ns against 4-9 (bench/crc_bench.cpp, BM_RecordsOfABatch).
constexpr size_t kIsalFromBytes = 256;

}  // namespace

uint32_t crc32c(const uint8_t* data, size_t n, uint32_t crc) {
  if (n < kIsalFromBytes) return crc32c_builtin(data, n, crc);
  // crc32_iscsi neither inverts the register on entry nor on exit, and counts in int.
  uint32_t reg = ~crc;
  while (n > 0) {
    const size_t piece = std::min<size_t>(n, INT_MAX);
    // Not const-correct: it only reads the buffer.
    reg = crc32_iscsi(const_cast<uint8_t*>(data), static_cast<int>(piece), reg);
    data += piece;
    n -= piece;
  }
  return ~reg;
}

uint32_t crc32_ieee(const uint8_t* data, size_t n, uint32_t crc) {
  // The reflected CRC-32 with zlib's conventions. (ISA-L's own crc32_ieee is the unreflected one.)
  // libdeflate's is as fast below 256 bytes and 2-4x slower above, so it is not worth a second
  // library.
  return n == 0 ? crc : crc32_gzip_refl(crc, data, n);
}

const char* crc_implementation() { return "isa-l (crc32c below 256 B: built-in sse4.2)"; }

#else

uint32_t crc32c(const uint8_t* data, size_t n, uint32_t crc) { return crc32c_builtin(data, n, crc); }

uint32_t crc32_ieee(const uint8_t* data, size_t n, uint32_t crc) { return crc32_zlib(data, n, crc); }

const char* crc_implementation() { return "built-in crc32c, zlib crc32"; }

#endif

}  // namespace ws::protocol
