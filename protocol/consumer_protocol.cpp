#include "protocol/consumer_protocol.h"

#include <algorithm>

namespace ws::protocol {
namespace {

template <typename Message>
void encode_prefixed(std::vector<uint8_t>& out, const Message& m, int16_t version) {
  Writer w(out);
  w.i16(version);
  m.encode(w, version);
}

template <typename Message>
ConsumerProtocolDecode decode_prefixed(Bytes bytes, Message& out) {
  Reader r(bytes);
  ConsumerProtocolDecode result;
  result.version = r.i16();
  if (r.ok() && result.version < 0) r.fail(DecodeError::kBadValue);
  const auto layout = std::min(result.version, Message::kMaxVersion);
  if (r.ok()) out.decode(r, layout);
  if (r.ok() && result.version <= Message::kMaxVersion && !r.empty()) {
    r.fail(DecodeError::kTrailingBytes);
  }
  result.error = r.error();
  return result;
}

}  // namespace

void encode_consumer_subscription(std::vector<uint8_t>& out, const ConsumerProtocolSubscription& s,
                                  int16_t version) {
  encode_prefixed(out, s, version);
}

void encode_consumer_assignment(std::vector<uint8_t>& out, const ConsumerProtocolAssignment& a,
                                int16_t version) {
  encode_prefixed(out, a, version);
}

ConsumerProtocolDecode decode_consumer_subscription(Bytes bytes, ConsumerProtocolSubscription& out) {
  return decode_prefixed(bytes, out);
}

ConsumerProtocolDecode decode_consumer_assignment(Bytes bytes, ConsumerProtocolAssignment& out) {
  if (bytes.empty()) {
    out = ConsumerProtocolAssignment{};
    return {};
  }
  return decode_prefixed(bytes, out);
}

}  // namespace ws::protocol
