// HdrHistogram's V2 histogram encoding and its interval log (.hlog) format, byte for byte as the
// Java reference (org.HdrHistogram 2.1.x) writes them, so HistogramLogProcessor, HdrHistogram_c
// and the other ports read our logs, and we read theirs.
//
// V2 encoding (all integers big-endian):
//   int32  cookie 0x1c849313            (V2 base 0x1c849303 | word-size nibble 0x10)
//   int32  payload length               (bytes of counts data that follow the header)
//   int32  normalizing index offset     (always 0 here)
//   int32  significant figures
//   int64  lowest discernible value
//   int64  highest trackable value
//   double integer-to-double conversion ratio (1.0)
//   counts[0 .. index of max], each a zig-zag LEB128 varint (at most 9 bytes, the 9th holding 8
//   bits); a run of n >= 2 empty slots is written as the single count -n.
// Compressed form: int32 cookie 0x1c849314 (base 0x1c849304 | 0x10), int32 length of what
// follows, then the V2 encoding deflated with a zlib header at level 9 (Deflater.BEST_COMPRESSION).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stats/histogram.h"

namespace ws::stats {

// The uncompressed V2 encoding (Java's encodeIntoByteBuffer).
std::vector<uint8_t> encode_v2(const HdrHistogram& h);
// The compressed V2 form that .hlog lines carry in base64 (encodeIntoCompressedByteBuffer).
std::vector<uint8_t> compress_v2(const HdrHistogram& h);

// Standard base64 (RFC 4648 alphabet, '=' padding), as .hlog lines use.
std::string to_base64(std::span<const uint8_t> bytes);
// Accepts padded or unpadded input; returns false on any other character or a bad length.
bool from_base64(std::string_view text, std::vector<uint8_t>& out);

// Inverse of compress_v2, for untrusted input: every length, varint and index is bounds-checked,
// the zlib stream must end exactly at the declared payload, counts must fit the declared layout
// and their total must fit int64. On success `out` is a histogram built from the decoded
// configuration and holding the decoded counts; on failure `out` is untouched and `error` says why.
// Also accepts the C encoder's variant that writes a single empty slot as -1.
// Rejects V0/V1 encodings, DoubleHistogram encodings and a non-zero normalizing index offset.
bool decode_v2(std::span<const uint8_t> compressed, HdrHistogram& out, std::string& error);

// Writes a histogram log as HistogramLogWriter does (format version 1.3, the version that added
// tags): a comment, the format version, start time, base time and legend, then one line per
// interval. Interval timestamps are offsets from the start time, which the header also records
// as the base time, so readers compute absolute time = BaseTime + offset.
class HlogWriter {
 public:
  explicit HlogWriter(std::ostream& out) : out_(out) {}

  // `comment` becomes the first line, "#[comment]" (omitted when empty; CR/LF become spaces).
  void write_header(double start_time_epoch_s, const std::string& comment);

  // "Tag=<tag>,<start>,<length>,<max / max_value_divisor>,<base64 of compress_v2(h)>" with
  // three decimals (an empty tag writes an untagged line). Throws std::invalid_argument if the
  // tag holds a comma, space, CR or LF (HistogramLogWriter rejects those too) or if
  // max_value_divisor is not positive.
  void write_interval(const std::string& tag, double start_offset_s, double length_s,
                      const HdrHistogram& h, double max_value_divisor);

 private:
  std::ostream& out_;
};

struct HlogInterval {
  std::string tag;  // empty for untagged lines
  double start_s;   // the line's timestamp as written (seconds after BaseTime if the log has one)
  double length_s;
  HdrHistogram histogram;
};

// What the comment lines said, when they said it.
struct HlogHeader {
  std::optional<double> start_time_s;  // "#[StartTime: ..."
  std::optional<double> base_time_s;   // "#[BaseTime: ..."
};

// Reads every interval of a histogram log (any writer's: Java, HdrHistogram_c, ours). Comment
// lines, the legend and blank lines are skipped; any other line must be a valid interval. On
// failure returns false with "line N: reason" in `error`; `out` then holds the intervals before
// line N. The Interval_Max column is not used: the histogram carries its max.
bool read_hlog(std::istream& in, std::vector<HlogInterval>& out, std::string& error,
               HlogHeader* header = nullptr);

}  // namespace ws::stats
