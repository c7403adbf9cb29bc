// The portable checksums: hand-written CRC-32C and zlib's CRC-32. Built in every configuration.
#include "protocol/crc.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define WS_CRC32C_HAVE_X86_64 1
#endif

namespace ws::protocol {
namespace {

// CRC-32C polynomial 0x1EDC6F41, bit-reflected (bit 31 = x^0), as the crc32 instruction uses it.
constexpr uint32_t kCastagnoli = 0x82F63B78;

// Multiplies two polynomials mod the Castagnoli polynomial, both in reflected form.
constexpr uint32_t multiply_mod_castagnoli(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t bit = 1u << 31; bit != 0; bit >>= 1) {
    if (a & bit) product ^= b;
    b = (b & 1) ? (b >> 1) ^ kCastagnoli : b >> 1;
  }
  return product;
}

// Slicing-by-8: table[k][b] is the CRC register contribution of byte b followed by k zero bytes,
// so eight input bytes are folded with eight independent lookups instead of eight serial ones.
using SliceTables = std::array<std::array<uint32_t, 256>, 8>;

constexpr SliceTables make_slice_tables() {
  SliceTables tables{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t reg = b;
    for (int bit = 0; bit < 8; ++bit) reg = (reg & 1) ? (reg >> 1) ^ kCastagnoli : reg >> 1;
    tables[0][b] = reg;
  }
  for (size_t k = 1; k < 8; ++k) {
    for (size_t b = 0; b < 256; ++b) {
      uint32_t prev = tables[k - 1][b];
      tables[k][b] = (prev >> 8) ^ tables[0][prev & 0xFF];
    }
  }
  return tables;
}

constexpr SliceTables kSliceTables = make_slice_tables();

inline uint32_t load_le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

#ifdef WS_CRC32C_HAVE_X86_64

// The crc32 instruction has a latency of 3 cycles but issues once per cycle, so one dependent
// chain uses a third of it. Three lanes of kLaneBytes are checksummed side by side, then joined:
// crc(A ++ B) = crc(A) * x^(8 * |B|) ^ crc(B), where crc(B) starts from a zero register.
constexpr size_t kLaneBytes = 256;

// table[k][b] = (b << 8k) * x^(8 * kLaneBytes) mod P: moves a register past kLaneBytes zero bytes
// with four lookups.
using ShiftTable = std::array<std::array<uint32_t, 256>, 4>;

constexpr ShiftTable make_lane_shift_table() {
  uint32_t x_pow = 1u << 31;  // x^0 in reflected form
  for (size_t i = 0; i < 8 * kLaneBytes; ++i) {
    x_pow = (x_pow & 1) ? (x_pow >> 1) ^ kCastagnoli : x_pow >> 1;  // multiply by x
  }
  ShiftTable table{};
  for (uint32_t k = 0; k < 4; ++k) {
    for (uint32_t b = 0; b < 256; ++b) table[k][b] = multiply_mod_castagnoli(x_pow, b << (8 * k));
  }
  return table;
}

constexpr ShiftTable kLaneShift = make_lane_shift_table();

inline uint64_t shift_past_lane(uint64_t reg) {
  return kLaneShift[0][reg & 0xFF] ^ kLaneShift[1][(reg >> 8) & 0xFF] ^
         kLaneShift[2][(reg >> 16) & 0xFF] ^ kLaneShift[3][(reg >> 24) & 0xFF];
}

inline uint64_t load_u64(const uint8_t* p) {
  uint64_t word;
  std::memcpy(&word, p, sizeof(word));  // unaligned-safe; compiles to one load
  return word;
}

#endif  // WS_CRC32C_HAVE_X86_64

}  // namespace

uint32_t crc32c_portable(const uint8_t* data, size_t n, uint32_t crc) {
  const auto& t = kSliceTables;
  uint32_t reg = ~crc;
  while (n >= 8) {
    uint32_t lo = load_le32(data) ^ reg;
    uint32_t hi = load_le32(data + 4);
    reg = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
          t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    data += 8;
    n -= 8;
  }
  for (; n > 0; --n) reg = (reg >> 8) ^ t[0][(reg ^ *data++) & 0xFF];
  return ~reg;
}

#ifdef WS_CRC32C_HAVE_X86_64

// Compiled for SSE4.2 on its own so the rest of the project needs no -msse4.2; callers check
// crc32c_hardware_available() first.
__attribute__((target("sse4.2"))) uint32_t crc32c_hardware(const uint8_t* data, size_t n,
                                                           uint32_t crc) {
  uint64_t reg = static_cast<uint32_t>(~crc);
  while (n >= 3 * kLaneBytes) {
    const uint8_t* lane_b = data + kLaneBytes;
    const uint8_t* lane_c = data + 2 * kLaneBytes;
    uint64_t reg_b = 0;
    uint64_t reg_c = 0;
    for (size_t i = 0; i < kLaneBytes; i += 8) {
      reg = _mm_crc32_u64(reg, load_u64(data + i));
      reg_b = _mm_crc32_u64(reg_b, load_u64(lane_b + i));
      reg_c = _mm_crc32_u64(reg_c, load_u64(lane_c + i));
    }
    reg = shift_past_lane(shift_past_lane(reg) ^ reg_b) ^ reg_c;
    data += 3 * kLaneBytes;
    n -= 3 * kLaneBytes;
  }
  for (; n >= 8; n -= 8, data += 8) reg = _mm_crc32_u64(reg, load_u64(data));
  auto reg32 = static_cast<uint32_t>(reg);
  for (; n > 0; --n) reg32 = _mm_crc32_u8(reg32, *data++);
  return ~reg32;
}

bool crc32c_hardware_available() {
  __builtin_cpu_init();  // needed if we are first called from a static initializer
  return __builtin_cpu_supports("sse4.2");
}

#else

uint32_t crc32c_hardware(const uint8_t* data, size_t n, uint32_t crc) {
  return crc32c_portable(data, n, crc);
}

bool crc32c_hardware_available() { return false; }

#endif  // WS_CRC32C_HAVE_X86_64

uint32_t crc32c_builtin(const uint8_t* data, size_t n, uint32_t crc) {
  using Implementation = uint32_t (*)(const uint8_t*, size_t, uint32_t);
  static const Implementation implementation =
      crc32c_hardware_available() ? &crc32c_hardware : &crc32c_portable;
  return implementation(data, n, crc);
}

namespace {

// kPowersOfX[k] = x^(2^k) mod P, reflected: the operator that moves a register past 2^k zero bits.
using PowerTable = std::array<uint32_t, 64>;

constexpr PowerTable make_powers_of_x() {
  PowerTable powers{};
  powers[0] = 1u << 30;  // x^1 (x^0 is bit 31)
  for (size_t k = 1; k < powers.size(); ++k) powers[k] = multiply_mod_castagnoli(powers[k - 1], powers[k - 1]);
  return powers;
}

constexpr PowerTable kPowersOfX = make_powers_of_x();

// x^(8 * zero_bytes) mod P: multiplying a register by it is the same as feeding it that many zeros.
uint32_t zero_bytes_operator(size_t zero_bytes) {
  // A sender restamps batches of one size again and again: keep the last operator per thread.
  thread_local size_t cached_bytes = 0;
  thread_local uint32_t cached_operator = 1u << 31;
  if (zero_bytes == cached_bytes) return cached_operator;
  uint32_t op = 1u << 31;  // x^0
  uint64_t bits = static_cast<uint64_t>(zero_bytes) * 8;
  for (size_t k = 0; bits != 0; ++k, bits >>= 1) {
    if (bits & 1) op = multiply_mod_castagnoli(op, kPowersOfX[k]);
  }
  cached_bytes = zero_bytes;
  cached_operator = op;
  return op;
}

}  // namespace

uint32_t crc32c_patch(uint32_t crc, const uint8_t* before, const uint8_t* after, size_t n,
                      size_t bytes_following) {
  // For two messages of one length, crc(M) ^ crc(M') is the CRC of M ^ M' computed from a zero
  // register without the final inversion: the start and end inversions cancel. M ^ M' is zero but
  // for the n changed bytes, and leading zeros leave a zero register as it is.
  constexpr size_t kPiece = 64;
  std::array<uint8_t, kPiece> difference{};
  uint32_t reg = 0;
  for (size_t done = 0; done < n; done += kPiece) {
    const size_t piece = std::min(kPiece, n - done);
    for (size_t i = 0; i < piece; ++i) difference[i] = before[done + i] ^ after[done + i];
    // crc32c_builtin inverts on entry and exit; undo both to get the raw register.
    reg = ~crc32c_builtin(difference.data(), piece, ~reg);
  }
  return crc ^ multiply_mod_castagnoli(reg, zero_bytes_operator(bytes_following));
}

uint32_t crc32_zlib(const uint8_t* data, size_t n, uint32_t crc) {
  // zlib treats a null buffer as "return the initial value", which would drop `crc`.
  if (n == 0) return crc;
  return static_cast<uint32_t>(crc32_z(crc, data, n));
}

}  // namespace ws::protocol
