// Shared shape of the response fuzz targets: the first input byte picks the version, the rest is
// the response body. Decoding must never crash; and whatever decodes cleanly must survive an
// encode/decode round trip unchanged (a decoder and encoder that disagree are a bug too).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "protocol/wire.h"

namespace ws::fuzz {

// `decode` returns the layout version it decoded with (ApiVersions may fall back to v0).
template <typename Message, typename Decode>
void round_trip(const uint8_t* data, size_t size, Decode decode) {
  if (size < 1) return;
  const auto span = Message::kMaxVersion - Message::kMinVersion + 1;
  const auto version = static_cast<int16_t>(Message::kMinVersion + data[0] % span);
  protocol::Reader r(data + 1, size - 1);
  Message first;
  const int16_t layout = decode(r, version, first);
  if (!r.ok()) return;
  std::vector<uint8_t> encoded;
  protocol::Writer w(encoded);
  first.encode(w, layout);
  protocol::Reader r2(encoded);
  Message second;
  decode(r2, layout, second);
  if (!r2.ok() || !r2.empty() || !(first == second)) std::abort();
}

template <typename Message>
void round_trip(const uint8_t* data, size_t size) {
  round_trip<Message>(data, size, [](protocol::Reader& r, int16_t v, Message& m) {
    m.decode(r, v);
    return v;
  });
}

}  // namespace ws::fuzz
