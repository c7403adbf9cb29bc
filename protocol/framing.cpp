#include "protocol/framing.h"

#include <algorithm>

namespace ws::protocol {

const char* to_string(DecodeError e) {
  switch (e) {
    case DecodeError::kNone: return "ok";
    case DecodeError::kTruncated: return "truncated";
    case DecodeError::kBadLength: return "bad length";
    case DecodeError::kBadVarint: return "bad varint";
    case DecodeError::kTrailingBytes: return "trailing bytes";
    case DecodeError::kBadValue: return "bad value";
  }
  return "unknown";
}

const ApiSupport* find_api(int16_t api_key) {
  for (const auto& api : kSupportedApis) {
    if (api.api_key == api_key) return &api;
  }
  return nullptr;
}

int16_t negotiate_version(int16_t api_key, int16_t their_min, int16_t their_max) {
  const ApiSupport* api = find_api(api_key);
  if (!api) return -1;
  const int16_t v = std::min(api->client_max, their_max);
  return v >= std::max(api->min_version, their_min) ? v : static_cast<int16_t>(-1);
}

int16_t kafka_0_9_version(int16_t api_key) {
  const ApiSupport* api = find_api(api_key);
  return api ? api->kafka_0_9_max : static_cast<int16_t>(-1);
}

bool is_flexible(int16_t api_key, int16_t api_version) {
  const ApiSupport* api = find_api(api_key);
  return api && api->first_flexible >= 0 && api_version >= api->first_flexible;
}

int16_t request_header_version(int16_t api_key, int16_t api_version) {
  return is_flexible(api_key, api_version) ? 2 : 1;
}

int16_t response_header_version(int16_t api_key, int16_t api_version) {
  if (api_key == ApiVersionsRequest::kApiKey) return 0;
  return is_flexible(api_key, api_version) ? 1 : 0;
}

FrameCheck check_frame(std::span<const uint8_t> buffered, int32_t max_frame) {
  if (buffered.size() < 4) return {FrameStatus::kNeedMore, 0};
  Reader r(buffered.first(4));
  const int32_t size = r.i32();
  if (size < 0 || size > max_frame) return {FrameStatus::kTooLarge, 0};
  const size_t total = static_cast<size_t>(size) + 4;
  if (buffered.size() < total) return {FrameStatus::kNeedMore, total};
  return {FrameStatus::kComplete, total};
}

ResponseFrame read_response_header(std::span<const uint8_t> frame, int16_t api_key,
                                   int16_t api_version) {
  ResponseFrame out;
  out.body = Reader(frame);
  ResponseHeader header;
  header.decode(out.body, response_header_version(api_key, api_version));
  out.correlation_id = header.correlation_id;
  return out;
}

int16_t decode_api_versions_response(Reader& r, int16_t version, ApiVersionsResponse& out) {
  // The error code is the first field in every version, so peek at it without consuming.
  Reader peek = r;
  const int16_t error_code = peek.i16();
  if (!peek.ok() || error_code != kUnsupportedVersion || version == 0) {
    out.decode(r, version);
    return version;
  }
  // Brokers answer in the v0 layout. Not all do: librdkafka 2.0.2's mock cluster sends a body that
  // fits no layout (tests/data/captures/rdkafka_mock/api_versions_v3). Only the error code is
  // certain then; report it alone, and the client retries with v0, as librdkafka does.
  Reader v0 = r;
  out.decode(v0, 0);
  if (v0.ok()) {
    r = v0;
  } else {
    out = ApiVersionsResponse{};
    out.error_code = error_code;
    r.skip(r.remaining());
  }
  return 0;
}

}  // namespace ws::protocol
