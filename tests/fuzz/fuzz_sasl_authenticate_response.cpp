#include "fuzz_common.h"
#include "protocol/sasl_authenticate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ws::fuzz::round_trip<ws::protocol::SaslAuthenticateResponse>(data, size);
  return 0;
}
