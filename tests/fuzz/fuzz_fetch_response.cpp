#include "fuzz_common.h"
#include "protocol/fetch.h"
#include "protocol/records.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ws::protocol;
  ws::fuzz::round_trip<FetchResponse>(data, size);
  // And what a consumer does next: walk every partition's records.
  if (size < 1) return 0;
  const auto version = static_cast<int16_t>(data[0] % (FetchResponse::kMaxVersion + 1));
  Reader r(data + 1, size - 1);
  FetchResponse response;
  response.decode(r, version);
  if (!r.ok()) return 0;
  for (const auto& topic : response.responses) {
    for (const auto& partition : topic.partitions) {
      if (!partition.records) continue;
      RecordSetReader records(*partition.records, {.verify_crc = true, .max_decompressed_batch = 1 << 20});
      RecordView rec;
      while (records.next(rec)) {
      }
    }
  }
  return 0;
}
