// Kafka wire primitives: a bounds-checked Reader with a sticky error flag and a Writer that appends
// into a caller-owned buffer. Everything in protocol/ is built from these two.
//
// Decoding untrusted broker bytes must never read out of bounds: every Reader method checks the
// remaining length, and on failure sets the error flag, returns a zero value and reads nothing
// more. Callers decode a whole message and check ok() once at the end (the franz-go kmsg model).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace ws::protocol {

using Bytes = std::span<const uint8_t>;
using Uuid = std::array<uint8_t, 16>;

// Why a Reader stopped. Kept small: callers count these per kind, they never format them per byte.
enum class DecodeError : uint8_t {
  kNone = 0,
  kTruncated,       // fewer bytes than a field needs
  kBadLength,       // negative length where none is allowed, or count larger than the bytes left
  kBadVarint,       // varint longer than its type allows
  kTrailingBytes,   // a frame that should be consumed exactly had bytes left over
  kBadValue,        // a field holds a value the format does not allow (bad magic, CRC mismatch...)
};

const char* to_string(DecodeError e);

class Reader {
 public:
  Reader() = default;
  explicit Reader(Bytes data) : p_(data.data()), end_(data.data() + data.size()) {}
  Reader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}

  bool ok() const { return error_ == DecodeError::kNone; }
  DecodeError error() const { return error_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool empty() const { return p_ == end_; }
  const uint8_t* position() const { return p_; }

  // Marks the reader failed (first error wins) and makes every later read return zero.
  void fail(DecodeError e) {
    if (error_ == DecodeError::kNone) error_ = e;
    p_ = end_;
  }

  int8_t i8() { return static_cast<int8_t>(fixed<uint8_t>()); }
  int16_t i16() { return static_cast<int16_t>(fixed<uint16_t>()); }
  int32_t i32() { return static_cast<int32_t>(fixed<uint32_t>()); }
  int64_t i64() { return static_cast<int64_t>(fixed<uint64_t>()); }
  uint8_t u8() { return fixed<uint8_t>(); }
  uint16_t u16() { return fixed<uint16_t>(); }
  uint32_t u32() { return fixed<uint32_t>(); }
  bool boolean() { return u8() != 0; }
  double f64() {
    uint64_t bits = fixed<uint64_t>();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  Uuid uuid() {
    Uuid u{};
    if (need(16)) {
      std::memcpy(u.data(), p_, 16);
      p_ += 16;
    }
    return u;
  }

  // Unsigned LEB128, at most 5 bytes for 32 bits.
  uint32_t uvarint() {
    uint32_t value = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      if (!need(1)) return 0;
      uint8_t b = *p_++;
      if (shift == 28 && (b & 0xf0) != 0) {
        fail(DecodeError::kBadVarint);
        return 0;
      }
      value |= static_cast<uint32_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return value;
    }
    fail(DecodeError::kBadVarint);
    return 0;
  }
  uint64_t uvarlong() {
    uint64_t value = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (!need(1)) return 0;
      uint8_t b = *p_++;
      if (shift == 63 && (b & 0xfe) != 0) {
        fail(DecodeError::kBadVarint);
        return 0;
      }
      value |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return value;
    }
    fail(DecodeError::kBadVarint);
    return 0;
  }
  // Zig-zag signed varints, as used inside RecordBatch v2.
  int32_t varint() {
    uint32_t u = uvarint();
    return static_cast<int32_t>((u >> 1) ^ (~(u & 1) + 1));
  }
  int64_t varlong() {
    uint64_t u = uvarlong();
    return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  }

  // Raw bytes, borrowed from the input buffer (no copy).
  Bytes raw(size_t n) {
    if (!need(n)) return {};
    Bytes out(p_, n);
    p_ += n;
    return out;
  }
  void skip(size_t n) { raw(n); }

  // Classic (non-flexible) strings: int16 length, -1 = null.
  std::string_view string() { return as_view(raw(checked_length(i16(), false))); }
  std::optional<std::string_view> nullable_string() {
    int16_t n = i16();
    if (n == -1) return std::nullopt;
    return as_view(raw(checked_length(n, false)));
  }
  // Flexible (compact) strings: uvarint length+1, 0 = null.
  std::string_view compact_string() { return as_view(raw(compact_length(false))); }
  std::optional<std::string_view> compact_nullable_string() {
    uint32_t n = uvarint();
    if (ok() && n == 0) return std::nullopt;
    return as_view(raw(checked_length(static_cast<int64_t>(n) - 1, false)));
  }
  Bytes bytes() { return raw(checked_length(i32(), false)); }
  std::optional<Bytes> nullable_bytes() {
    int32_t n = i32();
    if (n == -1) return std::nullopt;
    return raw(checked_length(n, false));
  }
  Bytes compact_bytes() { return raw(compact_length(false)); }
  std::optional<Bytes> compact_nullable_bytes() {
    uint32_t n = uvarint();
    if (ok() && n == 0) return std::nullopt;
    return raw(checked_length(static_cast<int64_t>(n) - 1, false));
  }

  // Array element counts. A count whose elements cannot fit in the bytes left cannot be honest:
  // each element takes at least `min_element_size` bytes on the wire (the generator works it out
  // per element type and version), so a larger count is rejected before anyone allocates for it.
  // Elements take several times their wire size in memory; checking against one byte each let a
  // 16 MiB response announce 16 million of them.
  // Returns -1 for a null array (and for errors, with ok() false).
  int32_t array_length(size_t min_element_size = 1) { return array_count(i32(), min_element_size); }
  int32_t compact_array_length(size_t min_element_size = 1) {
    return array_count(static_cast<int64_t>(uvarint()) - 1, min_element_size);
  }

  // Skips a tagged-field section entirely (unknown tags are skipped, never rejected).
  void skip_tagged_fields() {
    uint32_t count = uvarint();
    for (uint32_t i = 0; i < count && ok(); ++i) {
      uvarint();  // tag
      skip(uvarint());
    }
  }

  // A sub-reader over the next n bytes; this reader moves past them.
  Reader sub(size_t n) {
    Bytes b = raw(n);
    Reader r(b);
    if (!ok()) r.fail(error_);
    return r;
  }

 private:
  template <typename T>
  T fixed() {
    if (!need(sizeof(T))) return 0;
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | p_[i]);
    p_ += sizeof(T);
    return v;
  }
  bool need(size_t n) {
    if (remaining() >= n) return true;
    fail(DecodeError::kTruncated);
    return false;
  }
  size_t checked_length(int64_t n, bool allow_null) {
    if (n < 0 && !(allow_null && n == -1)) {
      fail(DecodeError::kBadLength);
      return 0;
    }
    return n < 0 ? 0 : static_cast<size_t>(n);
  }
  size_t compact_length(bool allow_null) {
    uint32_t n = uvarint();
    if (!ok()) return 0;
    return checked_length(static_cast<int64_t>(n) - 1, allow_null);
  }
  int32_t array_count(int64_t n, size_t min_element_size) {
    if (!ok()) return -1;
    const size_t fits = remaining() / (min_element_size == 0 ? 1 : min_element_size);
    if (n < -1 || (n > 0 && static_cast<uint64_t>(n) > fits)) {
      fail(DecodeError::kBadLength);
      return -1;
    }
    return static_cast<int32_t>(n);
  }
  static std::string_view as_view(Bytes b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }

  const uint8_t* p_ = nullptr;
  const uint8_t* end_ = nullptr;
  DecodeError error_ = DecodeError::kNone;
};

// Decoded arrays keep their capacity from one message to the next (steady-state decoding then
// allocates nothing), but only up to this many bytes of elements each: past it, a one-off huge
// response would pin its memory in a long-lived response struct for the rest of a run.
inline constexpr size_t kMaxRetainedArrayBytes = size_t{1} << 20;

// Frees `vec` (and its elements) when its capacity is above kMaxRetainedArrayBytes.
template <typename T>
void release_large_array(std::vector<T>& vec) {
  if (vec.capacity() > kMaxRetainedArrayBytes / sizeof(T)) std::vector<T>().swap(vec);
}

// Sizes an array for `count` decoded elements (count < 0: null or failed, so none). Reuses the
// capacity it has, unless that is above the cap and `count` needs less than the cap.
template <typename T>
void resize_decoded(std::vector<T>& vec, int32_t count) {
  const size_t n = count < 0 ? 0 : static_cast<size_t>(count);
  if (n <= kMaxRetainedArrayBytes / sizeof(T)) release_large_array(vec);
  vec.resize(n);
}

// Field comparison for the generated operator==: Bytes compare by content (std::span has no ==).
template <typename T>
bool field_equal(const T& a, const T& b) {
  return a == b;
}
inline bool field_equal(Bytes a, Bytes b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}
inline bool field_equal(const std::optional<Bytes>& a, const std::optional<Bytes>& b) {
  return a.has_value() == b.has_value() && (!a || field_equal(*a, *b));
}

// Appends big-endian Kafka primitives to a std::vector<uint8_t> the caller owns and reuses, so a
// client that keeps one buffer per connection allocates nothing once the buffer has grown.
class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}

  size_t size() const { return out_.size(); }
  std::vector<uint8_t>& buffer() { return out_; }

  void i8(int8_t v) { out_.push_back(static_cast<uint8_t>(v)); }
  void i16(int16_t v) { fixed(static_cast<uint16_t>(v)); }
  void i32(int32_t v) { fixed(static_cast<uint32_t>(v)); }
  void i64(int64_t v) { fixed(static_cast<uint64_t>(v)); }
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) { fixed(v); }
  void u32(uint32_t v) { fixed(v); }
  void boolean(bool v) { out_.push_back(v ? 1 : 0); }
  void f64(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    fixed(bits);
  }
  void uuid(const Uuid& u) { raw(u.data(), u.size()); }

  void uvarint(uint32_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<uint8_t>(v));
  }
  void uvarlong(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<uint8_t>(v));
  }
  void varint(int32_t v) {
    uvarint((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
  }
  void varlong(int64_t v) {
    uvarlong((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }

  void raw(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    out_.insert(out_.end(), p, p + n);
  }
  void raw(Bytes b) { raw(b.data(), b.size()); }

  void string(std::string_view s) {
    i16(static_cast<int16_t>(s.size()));
    raw(s.data(), s.size());
  }
  void nullable_string(const std::optional<std::string_view>& s) {
    if (!s) return i16(-1);
    string(*s);
  }
  void compact_string(std::string_view s) {
    uvarint(static_cast<uint32_t>(s.size() + 1));
    raw(s.data(), s.size());
  }
  void compact_nullable_string(const std::optional<std::string_view>& s) {
    if (!s) return uvarint(0);
    compact_string(*s);
  }
  void bytes(Bytes b) {
    i32(static_cast<int32_t>(b.size()));
    raw(b);
  }
  void nullable_bytes(const std::optional<Bytes>& b) {
    if (!b) return i32(-1);
    bytes(*b);
  }
  void compact_bytes(Bytes b) {
    uvarint(static_cast<uint32_t>(b.size() + 1));
    raw(b);
  }
  void compact_nullable_bytes(const std::optional<Bytes>& b) {
    if (!b) return uvarint(0);
    compact_bytes(*b);
  }
  void array_length(int32_t n) { i32(n); }
  void compact_array_length(int32_t n) { uvarint(static_cast<uint32_t>(n + 1)); }

  // Placeholders patched later, for length and CRC fields whose value is known only at the end.
  size_t reserve(size_t n) {
    size_t at = out_.size();
    out_.resize(at + n);
    return at;
  }
  void patch_i32(size_t at, int32_t v) { put_be(&out_[at], static_cast<uint32_t>(v)); }
  void patch_u32(size_t at, uint32_t v) { put_be(&out_[at], v); }

 private:
  template <typename T>
  void fixed(T v) {
    uint8_t b[sizeof(T)];
    put_be(b, v);
    out_.insert(out_.end(), b, b + sizeof(T));
  }
  template <typename T>
  static void put_be(uint8_t* p, T v) {
    for (size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<uint8_t>(v >> (8 * (sizeof(T) - 1 - i)));
  }

  std::vector<uint8_t>& out_;
};

}  // namespace ws::protocol
