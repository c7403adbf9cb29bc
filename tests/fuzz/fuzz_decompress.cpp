// Every codec's decompressor on untrusted bytes: first byte picks the codec.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "protocol/compression.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ws::protocol;
  if (size < 1) return 0;
  const auto codec = static_cast<Codec>(1 + data[0] % 4);
  constexpr size_t kLimit = 1 << 20;
  std::vector<uint8_t> out{0x42};
  const bool ok = decompress(codec, Bytes(data + 1, size - 1), out, kLimit);
  if (out.empty() || out[0] != 0x42) std::abort();        // must append, never overwrite
  if (ok && out.size() - 1 > kLimit) std::abort();          // bomb guard honoured
  if (!ok && out.size() != 1) std::abort();                 // failure leaves out as it was
  return 0;
}
