// Every CRC implementation runs the same vectors: crc32c() and crc32_ieee(), which the codec calls
// (ISA-L in a default build), and the built-in ones that a -DWS_PORTABLE_CRC=ON
// build calls instead. Every build compiles the built-in ones into ws_protocol, so one run of these
// tests checks both paths; lengths on both sides of 256 B cover both halves of crc32c().
#include "protocol/crc.h"

#include <gtest/gtest.h>

#include <random>
#include <string_view>
#include <vector>

namespace ws::protocol {
namespace {

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

using CrcFunction = uint32_t (*)(const uint8_t*, size_t, uint32_t);

struct Implementation {
  const char* name;
  CrcFunction crc;
};

// Each CRC-32C this machine can execute; the table code comes first, as the reference.
std::vector<Implementation> crc32c_implementations() {
  std::vector<Implementation> all = {
      {"table", &crc32c_portable}, {"crc32c", &crc32c}, {"builtin", &crc32c_builtin}};
  if (crc32c_hardware_available()) all.push_back({"sse4.2", &crc32c_hardware});
  return all;
}

std::vector<Implementation> crc32_implementations() {
  return {{"zlib", &crc32_zlib}, {"crc32_ieee", &crc32_ieee}};
}

struct Vector {
  std::vector<uint8_t> data;
  uint32_t crc32c;
  uint32_t crc32;
};

// The check values of both CRCs, RFC 3720 appendix B.4 (CRC-32C), and the same inputs' CRC-32 from
// Python's zlib.crc32.
std::vector<Vector> known_vectors() {
  std::vector<uint8_t> ascending(32);
  for (size_t i = 0; i < 32; ++i) ascending[i] = static_cast<uint8_t>(i);
  std::vector<uint8_t> descending(ascending.rbegin(), ascending.rend());
  const std::string_view check = "123456789";
  return {
      {{check.begin(), check.end()}, 0xE3069283, 0xCBF43926},
      {std::vector<uint8_t>(32, 0x00), 0x8A9136AA, 0x190A55AD},
      {std::vector<uint8_t>(32, 0xFF), 0x62A8AB43, 0xFF6CAB0B},
      {ascending, 0x46DD794E, 0x91267E8A},
      {descending, 0x113FDB5C, 0x9AB0EF72},
  };
}

// Runs `check` for every (implementation, expected-value selector) of one CRC.
template <typename Check>
void for_each_crc(Check check) {
  for (const auto& impl : crc32c_implementations()) check("crc32c", impl, &Vector::crc32c);
  for (const auto& impl : crc32_implementations()) check("crc32", impl, &Vector::crc32);
}

TEST(Crc, KnownVectors) {
  for_each_crc([](const char* kind, const Implementation& impl, uint32_t Vector::*expected) {
    for (const Vector& v : known_vectors()) {
      EXPECT_EQ(impl.crc(v.data.data(), v.data.size(), 0), v.*expected)
          << kind << " " << impl.name << " over " << v.data.size() << " bytes";
    }
  });
}

TEST(Crc, EmptyInputKeepsPreviousValue) {
  for_each_crc([](const char* kind, const Implementation& impl, auto) {
    EXPECT_EQ(impl.crc(nullptr, 0, 0), 0u) << kind << " " << impl.name;
    EXPECT_EQ(impl.crc(nullptr, 0, 0xDEADBEEF), 0xDEADBEEFu) << kind << " " << impl.name;
  });
}

TEST(Crc, ExtendingEqualsChecksumOfConcatenation) {
  const auto data = random_bytes(5000, 4);
  for_each_crc([&](const char* kind, const Implementation& impl, auto) {
    const uint32_t whole = impl.crc(data.data(), data.size(), 0);
    for (size_t split : {0u, 1u, 8u, 13u, 768u, 2500u, 4999u, 5000u}) {
      const uint32_t first = impl.crc(data.data(), split, 0);
      EXPECT_EQ(impl.crc(data.data() + split, data.size() - split, first), whole)
          << kind << " " << impl.name << " split at " << split;
    }
  });
}

// Lengths and start offsets that reach every code path: byte tails, 8-byte words, the built-in
// code's three 256-byte lanes (768-byte rounds), and ISA-L's folding loops.
void expect_all_agree(const std::vector<Implementation>& impls, const char* kind) {
  const auto data = random_bytes((1 << 20) + 16, 1);
  const Implementation& reference = impls.front();
  auto agree = [&](size_t offset, size_t n) {
    const uint32_t expected = reference.crc(data.data() + offset, n, 0);
    for (const auto& impl : impls) {
      ASSERT_EQ(impl.crc(data.data() + offset, n, 0), expected)
          << kind << " " << impl.name << " vs " << reference.name << ", offset " << offset
          << " length " << n;
    }
  };
  for (size_t n = 0; n <= 300; ++n) agree(0, n);
  for (size_t n : {511u, 512u, 767u, 768u, 769u, 775u, 776u, 1024u, 1536u, 2311u, 4096u, 65537u,
                   131072u, 1u << 20}) {
    agree(0, n);
  }
  for (size_t offset = 1; offset < 16; ++offset) {
    for (size_t n : {1u, 7u, 8u, 9u, 63u, 100u, 122u, 1000u, 3000u}) agree(offset, n);
  }
}

// Patching the CRC for changed bytes gives what checksumming the changed message gives, wherever the
// change sits (first byte, middle, last byte), however long it is, and for message lengths on both
// sides of the thread's cached zero-bytes operator.
TEST(Crc32c, PatchEqualsChecksumOfChangedMessage) {
  const auto replacement = random_bytes(200, 7);
  for (size_t size : {1u, 61u, 110054u, 3000u, 110054u}) {
    auto message = random_bytes(size, static_cast<uint32_t>(size));
    for (size_t changed : {1u, 16u, 30u, 64u, 65u, 200u}) {
      for (size_t at : {size_t{0}, size / 2, size - 1}) {
        if (at + changed > size) continue;
        const uint32_t before_crc = crc32c(message.data(), message.size());
        std::vector<uint8_t> before(message.begin() + at, message.begin() + at + changed);
        std::copy_n(replacement.begin(), changed, message.begin() + at);
        const uint32_t patched =
            crc32c_patch(before_crc, before.data(), message.data() + at, changed, size - at - changed);
        ASSERT_EQ(patched, crc32c(message.data(), message.size()))
            << "message " << size << " B, " << changed << " B changed at " << at;
      }
    }
  }
}

TEST(Crc32c, PatchWithNothingChangedKeepsTheChecksum) {
  const auto message = random_bytes(5000, 9);
  const uint32_t crc = crc32c(message.data(), message.size());
  EXPECT_EQ(crc32c_patch(crc, message.data() + 100, message.data() + 100, 40, 4860), crc);
}

TEST(Crc32c, EveryImplementationAgrees) { expect_all_agree(crc32c_implementations(), "crc32c"); }
TEST(Crc32, EveryImplementationAgrees) { expect_all_agree(crc32_implementations(), "crc32"); }

}  // namespace
}  // namespace ws::protocol
