// Record-set compression for every codec Kafka speaks, in the exact framing the Java client writes
// and every framing a broker may send back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "protocol/wire.h"

namespace ws::protocol {

// Values are the codec field of the record attributes (bits 0-2).
enum class Codec : uint8_t { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };

// "none", "gzip", "snappy", "lz4", "zstd" ("unknown" for a value outside the enum).
const char* codec_name(Codec codec);
// Inverse of codec_name: the exact lower-case name, as in Kafka's compression.type.
std::optional<Codec> parse_codec(std::string_view name);

// Kafka before 0.10 (message magic 0) computed the LZ4 frame header checksum over the magic bytes
// too (KIP-57). Writers must use kLegacyKafka for magic 0 and kStandard for magic 1+.
enum class Lz4HeaderChecksum : uint8_t { kStandard, kLegacyKafka };

// The library and level that compress gzip, for reports: "isa-l igzip level 1", or "zlib level 6"
// in a -DWS_PORTABLE_CRC=ON build. Both decompress through the same library.
const char* gzip_implementation();

// Appends the compressed form of `in` to `out`. Returns false only on an internal library error
// (then `out` is left as it was).
//   gzip:   one gzip member with the standard 10-byte header, as gzip_implementation() says.
//   snappy: xerial framing, as the Java client writes it: "\x82SNAPPY\0", int32 BE version 1,
//           int32 BE min-compatible version 1, then per block of at most 32 KiB input an int32 BE
//           compressed length and a raw snappy block.
//   lz4:    LZ4 frame, 64 KiB independent blocks, no checksums but the header's (as Java writes).
//   zstd:   one zstd frame, default level.
bool compress(Codec codec, Bytes in, std::vector<uint8_t>& out,
              Lz4HeaderChecksum lz4 = Lz4HeaderChecksum::kStandard);

// Appends the decompressed form of untrusted `in` to `out`. Returns false, leaving `out` as it
// was, if the input is malformed or truncated or would decompress to more than `max_output` bytes.
// Accepts gzip or zlib streams, raw or xerial-framed snappy, LZ4 frames with either header
// checksum variant, and zstd frames with or without a content size.
bool decompress(Codec codec, Bytes in, std::vector<uint8_t>& out, size_t max_output);

}  // namespace ws::protocol
