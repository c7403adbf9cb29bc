#include "fuzz_common.h"
#include "protocol/list_offsets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ws::fuzz::round_trip<ws::protocol::ListOffsetsResponse>(data, size);
  return 0;
}
