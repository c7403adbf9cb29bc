#include "stats/hlog.h"

#include <zlib.h>

#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <istream>
#include <limits>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <utility>

namespace ws::stats {
namespace {

// Cookie bases as in HdrHistogram; bits 4-7 carry the word size (1 for zig-zag varints) and
// readers mask them off.
constexpr uint32_t kCookieWordSizeMask = 0xf0;
constexpr uint32_t kV2EncodingCookieBase = 0x1c849303;
constexpr uint32_t kV2CompressedCookieBase = 0x1c849304;
constexpr uint32_t kV2EncodingCookie = kV2EncodingCookieBase | 0x10;
constexpr uint32_t kV2CompressedCookie = kV2CompressedCookieBase | 0x10;
constexpr uint32_t kV0CompressedCookieBase = 0x1c849309;
constexpr uint32_t kV1CompressedCookieBase = 0x1c849302;

constexpr size_t kEncodingHeaderSize = 40;
constexpr size_t kCompressionHeaderSize = 8;
constexpr size_t kMaxVarintBytes = 9;

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}
void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}
void patch_u32(std::vector<uint8_t>& out, size_t at, uint32_t v) {
  for (size_t i = 0; i < 4; ++i) out[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
uint32_t get_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
uint64_t get_u64(const uint8_t* p) { return (uint64_t{get_u32(p)} << 32) | get_u32(p + 4); }

// ZigZagEncoding.putLong: 7 bits per byte with a continuation bit for the first 8 bytes; a 9th
// byte, when needed, carries the remaining 8 bits whole.
void put_zig_zag(std::vector<uint8_t>& out, int64_t value) {
  uint64_t z = (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
  for (int i = 0; i < 8; ++i) {
    if ((z >> 7) == 0) {
      out.push_back(static_cast<uint8_t>(z));
      return;
    }
    out.push_back(static_cast<uint8_t>((z & 0x7f) | 0x80));
    z >>= 7;
  }
  out.push_back(static_cast<uint8_t>(z));
}

// Returns false if the varint runs past `end`.
bool get_zig_zag(const uint8_t*& p, const uint8_t* end, int64_t& value) {
  uint64_t z = 0;
  for (size_t i = 0; i < kMaxVarintBytes; ++i) {
    if (p == end) return false;
    const uint8_t b = *p++;
    if (i == 8) {
      z |= uint64_t{b} << 56;
      break;
    }
    z |= uint64_t{b & 0x7fu} << (7 * i);
    if ((b & 0x80) == 0) break;
  }
  value = static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
  return true;
}

std::string hex32(uint32_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) s += kDigits[(v >> shift) & 0xf];
  return s;
}

// Inflates exactly `n` bytes into dst. Sets `ended` if the zlib stream ended (possibly early).
bool inflate_into(z_stream& zs, uint8_t* dst, size_t n, bool& ended, std::string& error) {
  zs.next_out = dst;
  zs.avail_out = static_cast<uInt>(n);
  ended = false;
  while (zs.avail_out > 0) {
    const int rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) {
      ended = true;
      break;
    }
    if (rc == Z_BUF_ERROR) {
      error = "zlib data is truncated";
      return false;
    }
    if (rc != Z_OK) {
      error = std::string("zlib data is corrupt") + (zs.msg != nullptr ? ": " : "") +
              (zs.msg != nullptr ? zs.msg : "");
      return false;
    }
  }
  if (zs.avail_out != 0) {
    error = "inflated data is shorter than its header declares";
    return false;
  }
  return true;
}

struct Inflater {
  z_stream zs{};
  bool initialised = false;
  ~Inflater() {
    if (initialised) inflateEnd(&zs);
  }
};

std::optional<HdrHistogram> decode(std::span<const uint8_t> in, std::string& error) {
  if (in.size() < kCompressionHeaderSize) {
    error = "too short for a compressed histogram header";
    return std::nullopt;
  }
  const uint32_t cookie = get_u32(in.data());
  const uint32_t cookie_base = cookie & ~kCookieWordSizeMask;
  if (cookie_base != kV2CompressedCookieBase) {
    error = cookie_base == kV0CompressedCookieBase || cookie_base == kV1CompressedCookieBase
                ? "unsupported V0/V1 histogram encoding"
                : "not a compressed V2 HdrHistogram (cookie " + hex32(cookie) + ")";
    return std::nullopt;
  }
  const auto compressed_length = static_cast<int32_t>(get_u32(in.data() + 4));
  if (compressed_length < 0 ||
      static_cast<size_t>(compressed_length) != in.size() - kCompressionHeaderSize) {
    error = "compressed length " + std::to_string(compressed_length) + " but " +
            std::to_string(in.size() - kCompressionHeaderSize) + " bytes follow";
    return std::nullopt;
  }

  Inflater inflater;
  if (inflateInit(&inflater.zs) != Z_OK) {
    error = "zlib inflateInit failed";
    return std::nullopt;
  }
  inflater.initialised = true;
  // zlib never writes through next_in; its API just predates const.
  inflater.zs.next_in = const_cast<Bytef*>(in.data() + kCompressionHeaderSize);
  inflater.zs.avail_in = static_cast<uInt>(compressed_length);

  std::array<uint8_t, kEncodingHeaderSize> header{};
  bool ended = false;
  if (!inflate_into(inflater.zs, header.data(), header.size(), ended, error)) return std::nullopt;

  const uint32_t encoding_cookie = get_u32(header.data());
  if ((encoding_cookie & ~kCookieWordSizeMask) != kV2EncodingCookieBase) {
    error = "not a V2 histogram encoding (cookie " + hex32(encoding_cookie) + ")";
    return std::nullopt;
  }
  const auto payload_length = static_cast<int32_t>(get_u32(header.data() + 4));
  const auto normalizing_index_offset = static_cast<int32_t>(get_u32(header.data() + 8));
  const auto significant_figures = static_cast<int32_t>(get_u32(header.data() + 12));
  const auto lowest = static_cast<int64_t>(get_u64(header.data() + 16));
  const auto highest = static_cast<int64_t>(get_u64(header.data() + 24));
  // Bytes 32..39: the integer-to-double conversion ratio, which only DoubleHistogram views use;
  // integer counts mean the same whatever it is.
  if (normalizing_index_offset != 0) {
    error = "unsupported normalizing index offset " + std::to_string(normalizing_index_offset);
    return std::nullopt;
  }
  if (payload_length < 0) {
    error = "negative payload length";
    return std::nullopt;
  }

  std::optional<HdrHistogram> h;
  try {
    h.emplace(lowest, highest, significant_figures);
  } catch (const std::exception& e) {
    error = std::string("invalid histogram configuration: ") + e.what();
    return std::nullopt;
  }
  const auto counts_len = static_cast<size_t>(h->counts_len());
  if (static_cast<size_t>(payload_length) > kMaxVarintBytes * counts_len) {
    error = "payload length " + std::to_string(payload_length) + " exceeds what " +
            std::to_string(counts_len) + " counts can take";
    return std::nullopt;
  }

  std::vector<uint8_t> payload(static_cast<size_t>(payload_length));
  if (payload_length > 0) {
    if (ended) {
      error = "inflated data is shorter than its header declares";
      return std::nullopt;
    }
    if (!inflate_into(inflater.zs, payload.data(), payload.size(), ended, error)) {
      return std::nullopt;
    }
  }
  if (!ended) {
    // The stream must end here: one more byte of output means the payload is longer than declared.
    uint8_t extra = 0;
    inflater.zs.next_out = &extra;
    inflater.zs.avail_out = 1;
    const int rc = inflate(&inflater.zs, Z_FINISH);
    if (rc != Z_STREAM_END || inflater.zs.avail_out == 0) {
      error = inflater.zs.avail_out == 0 ? "inflated data is longer than its header declares"
                                         : "zlib data is truncated or corrupt";
      return std::nullopt;
    }
  }
  if (inflater.zs.avail_in != 0) {
    error = "bytes after the end of the zlib stream";
    return std::nullopt;
  }

  const uint8_t* p = payload.data();
  const uint8_t* const end = p + payload.size();
  size_t index = 0;
  int64_t total = 0;
  while (p != end) {
    int64_t value = 0;
    if (!get_zig_zag(p, end, value)) {
      error = "truncated count at index " + std::to_string(index);
      return std::nullopt;
    }
    if (value < 0) {
      // A run of empty slots.
      if (value == std::numeric_limits<int64_t>::min() ||
          static_cast<uint64_t>(-value) > counts_len - index) {
        error = "run of empty slots passes the end of the counts array";
        return std::nullopt;
      }
      index += static_cast<size_t>(-value);
      continue;
    }
    if (index >= counts_len) {
      error = "more counts than the histogram has slots (" + std::to_string(counts_len) + ")";
      return std::nullopt;
    }
    if (value > std::numeric_limits<int64_t>::max() - total) {
      error = "total count overflows int64";
      return std::nullopt;
    }
    total += value;
    h->add_count_at_index(static_cast<int32_t>(index), value);
    ++index;
  }
  return h;
}

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Base64 digit value, or -1.
int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Java's "%.3f" (Locale.US), without depending on the C locale.
std::string fixed3(double value) {
  char buf[400];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::fixed, 3);
  return std::string(buf, result.ptr);
}

// java.util.Date.toString() in UTC: "Tue Nov 14 22:13:20 UTC 2023".
std::string java_date_utc(double epoch_s) {
  if (!std::isfinite(epoch_s) || std::fabs(epoch_s) > 1e12) return "unknown date";
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto seconds = static_cast<std::time_t>(std::floor(epoch_s));
  std::tm tm{};
  if (gmtime_r(&seconds, &tm) == nullptr) return "unknown date";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s %s %02d %02d:%02d:%02d UTC %d", kDays[tm.tm_wday % 7],
                kMonths[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                tm.tm_year + 1900);
  return buf;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parse_double(std::string_view s, double& value) {
  s = trim(s);
  if (s.empty()) return false;
  const auto result = std::from_chars(s.data(), s.data() + s.size(), value);
  return result.ec == std::errc() && result.ptr == s.data() + s.size();
}

// "#[StartTime: 1700000000.000 (seconds since epoch), ...]": the number after the prefix.
std::optional<double> header_number(std::string_view line, std::string_view prefix) {
  if (!line.starts_with(prefix)) return std::nullopt;
  line.remove_prefix(prefix.size());
  line = trim(line);
  const size_t end = line.find_first_of(" ,]");
  double value = 0;
  if (!parse_double(line.substr(0, end), value)) return std::nullopt;
  return value;
}

bool parse_interval(std::string_view line, std::vector<HlogInterval>& out, std::string& error) {
  std::string tag;
  if (line.starts_with("Tag=")) {
    const size_t comma = line.find(',');
    if (comma == std::string_view::npos) {
      error = "tag without interval fields";
      return false;
    }
    tag = std::string(line.substr(4, comma - 4));
    line.remove_prefix(comma + 1);
  }
  std::array<std::string_view, 4> fields;
  size_t n = 0;
  while (true) {
    const size_t comma = line.find(',');
    if (n == fields.size()) {
      error = "more than 4 interval fields";
      return false;
    }
    fields[n++] = trim(line.substr(0, comma));
    if (comma == std::string_view::npos) break;
    line.remove_prefix(comma + 1);
  }
  if (n != fields.size()) {
    error =
        "expected 4 interval fields (start, length, max, histogram), found " + std::to_string(n);
    return false;
  }
  double start = 0;
  double length = 0;
  double max = 0;
  if (!parse_double(fields[0], start) || !parse_double(fields[1], length) ||
      !parse_double(fields[2], max)) {
    error = "start, length or max is not a number";
    return false;
  }
  std::vector<uint8_t> bytes;
  if (!from_base64(fields[3], bytes)) {
    error = "histogram is not valid base64";
    return false;
  }
  std::string why;
  std::optional<HdrHistogram> h = decode(bytes, why);
  if (!h) {
    error = "histogram: " + why;
    return false;
  }
  out.push_back(HlogInterval{std::move(tag), start, length, std::move(*h)});
  return true;
}

}  // namespace

std::vector<uint8_t> encode_v2(const HdrHistogram& h) {
  // As Java's fillBufferFromCountsArray: slots up to the max's, a single empty slot as 0 and a
  // run of n >= 2 empty slots as -n. (HdrHistogram_c writes a single empty slot as -1; both
  // decode the same.)
  const int32_t limit = h.counts_index_for(h.lowest_equivalent_value(h.max())) + 1;
  const std::span<const int64_t> counts = h.counts().first(static_cast<size_t>(limit));

  std::vector<uint8_t> out;
  out.reserve(kEncodingHeaderSize + counts.size() + 16);
  put_u32(out, kV2EncodingCookie);
  put_u32(out, 0);  // payload length, patched below
  put_u32(out, 0);  // normalizing index offset
  put_u32(out, static_cast<uint32_t>(h.significant_figures()));
  put_u64(out, static_cast<uint64_t>(h.lowest_discernible_value()));
  put_u64(out, static_cast<uint64_t>(h.highest_trackable_value()));
  put_u64(out, std::bit_cast<uint64_t>(1.0));

  for (size_t i = 0; i < counts.size();) {
    const int64_t count = counts[i++];
    if (count != 0) {
      put_zig_zag(out, count);
      continue;
    }
    int64_t zeros = 1;
    while (i < counts.size() && counts[i] == 0) {
      ++zeros;
      ++i;
    }
    put_zig_zag(out, zeros > 1 ? -zeros : 0);
  }
  patch_u32(out, 4, static_cast<uint32_t>(out.size() - kEncodingHeaderSize));
  return out;
}

std::vector<uint8_t> compress_v2(const HdrHistogram& h) {
  const std::vector<uint8_t> encoded = encode_v2(h);
  uLongf compressed_size = compressBound(static_cast<uLong>(encoded.size()));
  std::vector<uint8_t> out(kCompressionHeaderSize + compressed_size);
  const int rc = compress2(out.data() + kCompressionHeaderSize, &compressed_size, encoded.data(),
                           static_cast<uLong>(encoded.size()), Z_BEST_COMPRESSION);
  if (rc != Z_OK) throw std::runtime_error("compress_v2: zlib compress2 failed");
  out.resize(kCompressionHeaderSize + compressed_size);
  patch_u32(out, 0, kV2CompressedCookie);
  patch_u32(out, 4, static_cast<uint32_t>(compressed_size));
  return out;
}

std::string to_base64(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += kBase64Alphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{bytes[i]} << 16;
    if (rest == 2) v |= uint32_t{bytes[i + 1]} << 8;
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool from_base64(std::string_view text, std::vector<uint8_t>& out) {
  size_t padding = 0;
  while (padding < 2 && !text.empty() && text.back() == '=') {
    text.remove_suffix(1);
    ++padding;
  }
  // A padded text is a whole number of quads; an unpadded one cannot end with a lone digit.
  if ((padding > 0 && (text.size() + padding) % 4 != 0) || text.size() % 4 == 1) return false;
  std::vector<uint8_t> bytes;
  bytes.reserve(text.size() / 4 * 3 + 2);
  uint32_t accumulator = 0;
  int bits = 0;
  for (const char c : text) {
    const int v = base64_value(c);
    if (v < 0) return false;
    accumulator = (accumulator << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<uint8_t>(accumulator >> bits));
      accumulator &= (uint32_t{1} << bits) - 1;
    }
  }
  out = std::move(bytes);
  return true;
}

bool decode_v2(std::span<const uint8_t> compressed, HdrHistogram& out, std::string& error) {
  std::optional<HdrHistogram> h = decode(compressed, error);
  if (!h) return false;
  out = std::move(*h);
  return true;
}

void HlogWriter::write_header(double start_time_epoch_s, const std::string& comment) {
  if (!comment.empty()) {
    std::string line = comment;
    for (char& c : line) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    out_ << "#[" << line << "]\n";
  }
  const std::string start = fixed3(start_time_epoch_s);
  out_ << "#[Histogram log format version 1.3]\n"
       << "#[StartTime: " << start << " (seconds since epoch), "
       << java_date_utc(start_time_epoch_s) << "]\n"
       << "#[BaseTime: " << start << " (seconds since epoch)]\n"
       << "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
          "\"Interval_Compressed_Histogram\"\n";
}

void HlogWriter::write_interval(const std::string& tag, double start_offset_s, double length_s,
                                const HdrHistogram& h, double max_value_divisor) {
  if (tag.find_first_of(", \r\n") != std::string::npos) {
    throw std::invalid_argument("HlogWriter: tag cannot contain commas, spaces or line breaks");
  }
  if (!(max_value_divisor > 0)) {
    throw std::invalid_argument("HlogWriter: max_value_divisor must be positive");
  }
  if (!tag.empty()) out_ << "Tag=" << tag << ',';
  out_ << fixed3(start_offset_s) << ',' << fixed3(length_s) << ','
       << fixed3(static_cast<double>(h.max()) / max_value_divisor) << ','
       << to_base64(compress_v2(h)) << '\n';
}

bool read_hlog(std::istream& in, std::vector<HlogInterval>& out, std::string& error,
               HlogHeader* header) {
  std::string line;
  size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    std::string_view v = line;
    if (!v.empty() && v.back() == '\r') v.remove_suffix(1);
    if (trim(v).empty()) continue;
    if (v.front() == '#') {
      if (header != nullptr) {
        if (auto t = header_number(v, "#[StartTime:")) header->start_time_s = t;
        if (auto t = header_number(v, "#[BaseTime:")) header->base_time_s = t;
      }
      continue;
    }
    if (v.front() == '"') continue;  // the legend ("StartTimestamp",...)
    std::string why;
    if (!parse_interval(v, out, why)) {
      error = "line " + std::to_string(line_number) + ": " + why;
      return false;
    }
  }
  if (in.bad()) {
    error = "read error after line " + std::to_string(line_number);
    return false;
  }
  return true;
}

}  // namespace ws::stats
