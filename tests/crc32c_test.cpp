#include "protocol/crc32c.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string_view>
#include <vector>

namespace ws::protocol {
namespace {

const uint8_t* bytes_of(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

// Runs a check against every implementation this machine can execute.
template <typename Check>
void for_each_crc32c(Check check) {
  check("dispatch", &crc32c);
  check("portable", &crc32c_portable);
  if (crc32c_hardware_available()) check("hardware", &crc32c_hardware);
}

TEST(Crc32c, CheckValue) {
  for_each_crc32c([](const char* name, auto fn) {
    EXPECT_EQ(fn(bytes_of("123456789"), 9, 0), 0xE3069283u) << name;
  });
}

// RFC 3720 (iSCSI) appendix B.4 test vectors.
TEST(Crc32c, Rfc3720Vectors) {
  std::vector<uint8_t> zeros(32, 0x00);
  std::vector<uint8_t> ones(32, 0xFF);
  std::vector<uint8_t> ascending(32);
  for (size_t i = 0; i < 32; ++i) ascending[i] = static_cast<uint8_t>(i);
  std::vector<uint8_t> descending(32);
  for (size_t i = 0; i < 32; ++i) descending[i] = static_cast<uint8_t>(31 - i);

  for_each_crc32c([&](const char* name, auto fn) {
    EXPECT_EQ(fn(zeros.data(), zeros.size(), 0), 0x8A9136AAu) << name;
    EXPECT_EQ(fn(ones.data(), ones.size(), 0), 0x62A8AB43u) << name;
    EXPECT_EQ(fn(ascending.data(), ascending.size(), 0), 0x46DD794Eu) << name;
    EXPECT_EQ(fn(descending.data(), descending.size(), 0), 0x113FDB5Cu) << name;
  });
}

TEST(Crc32c, EmptyInputKeepsPreviousValue) {
  for_each_crc32c([](const char* name, auto fn) {
    EXPECT_EQ(fn(nullptr, 0, 0), 0u) << name;
    EXPECT_EQ(fn(nullptr, 0, 0xDEADBEEF), 0xDEADBEEFu) << name;
  });
}

TEST(Crc32c, HardwareMatchesPortableForEveryLengthUpTo300) {
  if (!crc32c_hardware_available()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  auto data = random_bytes(300, 1);
  for (size_t n = 0; n <= data.size(); ++n) {
    ASSERT_EQ(crc32c_hardware(data.data(), n), crc32c_portable(data.data(), n)) << "length " << n;
  }
}

// Covers the three-lane path of the hardware code (rounds of 768 bytes) and its tail handling.
TEST(Crc32c, HardwareMatchesPortableOnLongBuffers) {
  if (!crc32c_hardware_available()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  auto data = random_bytes(1 << 20, 2);
  for (size_t n : {767u, 768u, 769u, 775u, 776u, 1024u, 1536u, 2311u, 4096u, 65537u, 1u << 20}) {
    ASSERT_EQ(crc32c_hardware(data.data(), n), crc32c_portable(data.data(), n)) << "length " << n;
  }
}

TEST(Crc32c, HardwareMatchesPortableOnUnalignedStarts) {
  if (!crc32c_hardware_available()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  auto data = random_bytes(4096, 3);
  for (size_t offset = 0; offset < 16; ++offset) {
    for (size_t n : {0u, 1u, 7u, 8u, 9u, 63u, 100u, 1000u, 3000u}) {
      ASSERT_EQ(crc32c_hardware(data.data() + offset, n), crc32c_portable(data.data() + offset, n))
          << "offset " << offset << " length " << n;
    }
  }
}

TEST(Crc32c, ExtendingEqualsChecksumOfConcatenation) {
  auto data = random_bytes(5000, 4);
  for_each_crc32c([&](const char* name, auto fn) {
    uint32_t whole = fn(data.data(), data.size(), 0);
    for (size_t split : {0u, 1u, 8u, 13u, 768u, 2500u, 4999u, 5000u}) {
      uint32_t first = fn(data.data(), split, 0);
      EXPECT_EQ(fn(data.data() + split, data.size() - split, first), whole)
          << name << " split at " << split;
    }
  });
}

TEST(Crc32Ieee, CheckValue) { EXPECT_EQ(crc32_ieee(bytes_of("123456789"), 9), 0xCBF43926u); }

TEST(Crc32Ieee, ExtendingEqualsChecksumOfConcatenation) {
  auto data = random_bytes(1000, 5);
  uint32_t first = crc32_ieee(data.data(), 400);
  EXPECT_EQ(crc32_ieee(data.data() + 400, 600, first), crc32_ieee(data.data(), 1000));
  EXPECT_EQ(crc32_ieee(nullptr, 0, first), first);
}

}  // namespace
}  // namespace ws::protocol
