#include "fuzz_common.h"
#include "protocol/framing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ws::protocol::ApiVersionsResponse;
  // Through the same entry point the client uses, with its UNSUPPORTED_VERSION fallback to v0.
  ws::fuzz::round_trip<ApiVersionsResponse>(
      data, size, [](ws::protocol::Reader& r, int16_t v, ApiVersionsResponse& m) {
        return ws::protocol::decode_api_versions_response(r, v, m);
      });
  return 0;
}
