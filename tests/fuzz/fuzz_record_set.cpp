// The record-set reader on raw bytes, with CRC checks off so the fuzzer reaches the record and
// decompression code behind them (with checks on, almost every mutation stops at the CRC).
#include <cstdint>
#include <cstdlib>

#include "protocol/records.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ws::protocol;
  for (bool verify : {false, true}) {
    RecordSetReader reader(Bytes(data, size), {.verify_crc = verify, .max_decompressed_batch = 1 << 20});
    RecordView rec;
    size_t total = 0;
    while (reader.next(rec)) {
      total += rec.key ? rec.key->size() : 0;
      total += rec.value ? rec.value->size() : 0;
      for (const auto& h : rec.headers) total += h.key.size();
    }
    if (reader.consumed_bytes() > size) std::abort();
    (void)total;
  }
  return 0;
}
