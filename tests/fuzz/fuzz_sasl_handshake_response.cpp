#include "fuzz_common.h"
#include "protocol/sasl_handshake.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ws::fuzz::round_trip<ws::protocol::SaslHandshakeResponse>(data, size);
  return 0;
}
