// Shared by the SASL exchange targets: the input holds up to two tokens separated by the first
// '\n' (SCRAM messages never hold one), so one input drives a whole two-step exchange.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace ws::fuzz {

struct TwoTokens {
  std::span<const uint8_t> first, second;
};

inline TwoTokens split_tokens(std::span<const uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] == '\n') return {data.first(i), data.subspan(i + 1)};
  }
  return {data, {}};
}

inline std::string_view as_text(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace ws::fuzz
