#include "fuzz_common.h"
#include "protocol/produce.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ws::fuzz::round_trip<ws::protocol::ProduceResponse>(data, size);
  return 0;
}
