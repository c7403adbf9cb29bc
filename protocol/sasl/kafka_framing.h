// How Kafka carries SASL tokens, next to the codecs in sasl_handshake.h / sasl_authenticate.h:
// after SaslHandshake v0 (Kafka 0.10's flow) each token is a bare frame, an int32 length and the
// bytes, with no Kafka header; after v1 (KIP-152) tokens ride in SaslAuthenticate requests.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "protocol/wire.h"

namespace ws::protocol {

// The SASL error codes (protocol/errors.cpp has their names).
namespace error {
inline constexpr int16_t kUnsupportedSaslMechanism = 33;
inline constexpr int16_t kIllegalSaslState = 34;
inline constexpr int16_t kSaslAuthenticationFailed = 58;
}  // namespace error

namespace sasl {

// Largest token frame a server reads before the client is authenticated: Kafka's default
// sasl.server.max.receive.size, so an unauthenticated peer cannot make it buffer more.
inline constexpr int32_t kMaxTokenFrameSize = 512 * 1024;

// Appends one bare token frame (SaslHandshake v0 flow): int32 length, then the token.
inline void append_token_frame(std::vector<uint8_t>& out, std::span<const uint8_t> token) {
  Writer w(out);
  w.i32(static_cast<int32_t>(token.size()));
  w.raw(token);
}

}  // namespace sasl
}  // namespace ws::protocol
