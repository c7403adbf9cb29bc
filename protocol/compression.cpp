#include "protocol/compression.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zstd.h>

#if WS_PORTABLE_CRC
#include <zlib.h>
#else
#include <isa-l/igzip_lib.h>
#endif

// Header-only use of libxxhash (only XXH32 of a few header bytes is needed): nothing to link.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <memory>
#include <span>

namespace ws::protocol {
namespace {

// Appends into `out` for decoders that produce output piecemeal, and never reserves more than
// `limit` + 1 bytes: a decoder that fills the extra byte has proven the output is over the limit
// without us allocating for the rest of a decompression bomb.
class CappedOutput {
 public:
  CappedOutput(std::vector<uint8_t>& out, size_t limit)
      : out_(out), start_(out.size()), limit_(limit) {}

  // Writable space of at least `want` bytes, fewer only near the cap, empty once the cap is hit.
  // Grows geometrically so a long stream costs amortised O(1) per byte.
  std::span<uint8_t> room(size_t want) {
    const size_t cap = limit_ == SIZE_MAX ? SIZE_MAX : limit_ + 1;
    size_t free = out_.size() - start_ - written_;
    if (free == 0 || free < want) {
      size_t grow_to = std::max({want, written_, kMinRoom});
      grow_to = std::min(grow_to, cap - written_);
      out_.resize(start_ + written_ + grow_to);
    }
    return {out_.data() + start_ + written_, out_.size() - start_ - written_};
  }
  void commit(size_t n) { written_ += n; }

  bool over_limit() const { return written_ > limit_; }
  size_t limit() const { return limit_; }
  bool can_take(size_t n) const { return !over_limit() && n <= limit_ - written_; }

  // Trims the unused room; returns true for convenience at the end of a successful decode.
  bool finish() {
    out_.resize(start_ + written_);
    return true;
  }
  // Drops everything appended, so a failed call leaves `out` as it was.
  bool fail() {
    out_.resize(start_);
    return false;
  }

 private:
  static constexpr size_t kMinRoom = 16 * 1024;

  std::vector<uint8_t>& out_;
  size_t start_;
  size_t limit_;
  size_t written_ = 0;
};

// A first guess at the decompressed size; CappedOutput grows past it when needed.
size_t initial_room(Bytes in) { return in.size() * 4; }

// zlib and ISA-L count bytes in 32 bits.
uint32_t clamp_to_u32(size_t n) { return static_cast<uint32_t>(std::min<size_t>(n, UINT32_MAX)); }

void append_be32(std::vector<uint8_t>& out, uint32_t v) {
  const uint8_t bytes[4] = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                            static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  out.insert(out.end(), bytes, bytes + 4);
}

void store_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

uint32_t load_le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// ---- gzip ----------------------------------------------------------------------------------

#if !WS_PORTABLE_CRC

// igzip level 1 (of 0-3): from 16 KiB on 5-19x faster than zlib's default level 6 and 1.4-3x
// libdeflate's level 1, for output 4-12% larger than zlib's; level 0 gives up too much ratio on
// small batches (bench/compression_bench.cpp). Its inflate is 1.5-3x zlib's.
constexpr uint32_t kIgzipLevel = 1;

bool is_gzip_member(Bytes in) { return in.size() >= 2 && in[0] == 0x1f && in[1] == 0x8b; }

// The stream state and level-1 hash tables, ~350 KiB: one per thread, reused, allocated on the
// first gzip batch.
struct IgzipCompressor {
  isal_zstream stream;
  std::array<uint8_t, ISAL_DEF_LVL1_DEFAULT> level_buf;
};

IgzipCompressor& thread_igzip_compressor() {
  thread_local auto compressor = std::make_unique<IgzipCompressor>();
  return *compressor;
}

// ~85 KiB of decoding tables and window.
inflate_state& thread_igzip_decompressor() {
  thread_local auto state = std::make_unique<inflate_state>();
  return *state;
}

bool gzip_compress(Bytes in, std::vector<uint8_t>& out) {
  IgzipCompressor& compressor = thread_igzip_compressor();
  isal_zstream& zs = compressor.stream;
  isal_deflate_init(&zs);
  zs.level = kIgzipLevel;
  zs.level_buf = compressor.level_buf.data();
  zs.level_buf_size = static_cast<uint32_t>(compressor.level_buf.size());
  zs.gzip_flag = IGZIP_GZIP;  // the standard 10-byte header (no name, OS unknown) and trailer
  zs.flush = NO_FLUSH;

  // Half the input covers record-like data in one go; incompressible input grows the room.
  CappedOutput sink(out, SIZE_MAX);
  const size_t first_room = in.size() / 2 + 1024;
  zs.next_in = const_cast<uint8_t*>(in.data());  // ISA-L's API is not const-correct; it never writes
  size_t not_yet_fed = in.size();
  for (;;) {
    if (zs.avail_in == 0 && not_yet_fed > 0) {
      zs.avail_in = clamp_to_u32(not_yet_fed);
      not_yet_fed -= zs.avail_in;
    }
    zs.end_of_stream = static_cast<uint16_t>(not_yet_fed == 0);
    std::span<uint8_t> room = sink.room(first_room);
    zs.next_out = room.data();
    zs.avail_out = clamp_to_u32(room.size());
    const uint32_t avail_before = zs.avail_out;
    if (isal_deflate(&zs) != COMP_OK) return sink.fail();
    sink.commit(avail_before - zs.avail_out);
    if (zs.internal_state.state == ZSTATE_END) return sink.finish();
  }
}

// Room for the whole output in one piece when the input is one gzip member: its trailer holds the
// size (mod 2^32). Untrusted, so never more than deflate's best ratio (1032:1) allows.
size_t gzip_size_hint(Bytes in) {
  constexpr size_t kTrailerSize = 8;
  constexpr size_t kMaxDeflateRatio = 1032;
  if (!is_gzip_member(in) || in.size() < 10 + kTrailerSize) return initial_room(in);
  const size_t declared = load_le32(in.data() + in.size() - 4);
  return std::min(declared, in.size() * kMaxDeflateRatio) + 1;  // + 1: room left over is the end
}

bool gzip_decompress(Bytes in, CappedOutput& sink) {
  inflate_state& st = thread_igzip_decompressor();
  auto start_member = [&](Bytes rest) {
    isal_inflate_init(&st);
    // Like zlib's automatic detection: gzip members, or a zlib stream.
    st.crc_flag = is_gzip_member(rest) ? ISAL_GZIP : ISAL_ZLIB;  // both verify the checksum
  };
  start_member(in);
  st.next_in = const_cast<uint8_t*>(in.data());
  size_t not_yet_fed = in.size();
  size_t want = gzip_size_hint(in);
  for (;;) {
    if (st.avail_in == 0 && not_yet_fed > 0) {
      st.avail_in = clamp_to_u32(not_yet_fed);
      not_yet_fed -= st.avail_in;
    }
    std::span<uint8_t> room = sink.room(want);
    if (room.empty()) return false;  // output would exceed max_output
    want = 1;                        // from now on: whatever is free, or grow geometrically
    st.next_out = room.data();
    st.avail_out = clamp_to_u32(room.size());
    const uint32_t avail_out_before = st.avail_out;
    const uint32_t avail_in_before = st.avail_in;
    if (isal_inflate(&st) != ISAL_DECOMP_OK) return false;  // bad data, checksum, or dictionary
    sink.commit(avail_out_before - st.avail_out);
    if (sink.over_limit()) return false;

    const size_t unread = st.avail_in + not_yet_fed;
    if (st.block_state == ISAL_BLOCK_FINISH) {
      if (unread == 0) return true;
      // Concatenated gzip members decode to the concatenation of their contents (RFC 1952).
      uint8_t* next = st.next_in;
      const uint32_t avail = st.avail_in;
      start_member(Bytes(next, unread));
      st.next_in = next;
      st.avail_in = avail;
      continue;
    }
    // Input used up with room to spare and no end: truncated. No progress at all: stuck.
    if (unread == 0 && st.avail_out > 0) return false;
    if (st.avail_in == avail_in_before && st.avail_out == avail_out_before) return false;
  }
}

#else  // -DWS_PORTABLE_CRC=ON: zlib


bool gzip_compress(Bytes in, std::vector<uint8_t>& out) {
  z_stream zs{};
  constexpr int kGzipWrapper = 15 + 16;  // 32 KiB window, gzip header and trailer
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWrapper, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return false;
  }
  std::unique_ptr<z_stream, decltype(&deflateEnd)> cleanup(&zs, &deflateEnd);

  CappedOutput sink(out, SIZE_MAX);
  const size_t bound = deflateBound(&zs, in.size());
  zs.next_in = const_cast<Bytef*>(in.data());  // zlib's API is not const-correct; it never writes
  size_t not_yet_fed = in.size();
  for (;;) {
    if (zs.avail_in == 0 && not_yet_fed > 0) {
      zs.avail_in = clamp_to_u32(not_yet_fed);
      not_yet_fed -= zs.avail_in;
    }
    std::span<uint8_t> room = sink.room(bound);
    zs.next_out = room.data();
    zs.avail_out = clamp_to_u32(room.size());
    const uInt avail_before = zs.avail_out;
    int rc = deflate(&zs, not_yet_fed == 0 ? Z_FINISH : Z_NO_FLUSH);
    sink.commit(avail_before - zs.avail_out);
    if (rc == Z_STREAM_END) return sink.finish();
    if (rc != Z_OK && rc != Z_BUF_ERROR) return sink.fail();
  }
}

bool gzip_decompress(Bytes in, CappedOutput& sink) {
  z_stream zs{};
  constexpr int kDetectGzipOrZlib = 15 + 32;
  if (inflateInit2(&zs, kDetectGzipOrZlib) != Z_OK) return false;
  std::unique_ptr<z_stream, decltype(&inflateEnd)> cleanup(&zs, &inflateEnd);

  zs.next_in = const_cast<Bytef*>(in.data());
  size_t not_yet_fed = in.size();
  for (;;) {
    if (zs.avail_in == 0 && not_yet_fed > 0) {
      zs.avail_in = clamp_to_u32(not_yet_fed);
      not_yet_fed -= zs.avail_in;
    }
    std::span<uint8_t> room = sink.room(initial_room(in));
    if (room.empty()) return false;  // output would exceed max_output
    zs.next_out = room.data();
    zs.avail_out = clamp_to_u32(room.size());
    const uInt avail_before = zs.avail_out;
    int rc = inflate(&zs, Z_NO_FLUSH);
    sink.commit(avail_before - zs.avail_out);
    if (sink.over_limit()) return false;

    const bool all_input_used = zs.avail_in == 0 && not_yet_fed == 0;
    if (rc == Z_STREAM_END) {
      if (all_input_used) return true;
      // Concatenated gzip members decode to the concatenation of their contents (RFC 1952).
      if (inflateReset(&zs) != Z_OK) return false;
      continue;
    }
    // Z_BUF_ERROR with input left just means "more room please"; with none left, it is truncated.
    if (rc == Z_BUF_ERROR && !all_input_used) continue;
    if (rc != Z_OK) return false;
  }
}

#endif  // WS_PORTABLE_CRC

// ---- snappy ----------------------------------------------------------------------------------

// snappy-java's stream header. A raw snappy block cannot start with these bytes (the varint
// 0x82 0x53 would be followed by a copy tag 'N', and a raw block must begin with a literal).
constexpr std::array<uint8_t, 8> kXerialMagic = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0x00};
constexpr uint32_t kXerialVersion = 1;
constexpr uint32_t kXerialMinCompatibleVersion = 1;
constexpr size_t kXerialBlockSize = 32 * 1024;  // snappy-java's default, used by Kafka

bool snappy_compress_xerial(Bytes in, std::vector<uint8_t>& out) {
  out.insert(out.end(), kXerialMagic.begin(), kXerialMagic.end());
  append_be32(out, kXerialVersion);
  append_be32(out, kXerialMinCompatibleVersion);
  for (size_t pos = 0; pos < in.size(); pos += kXerialBlockSize) {
    const size_t block_size = std::min(kXerialBlockSize, in.size() - pos);
    const size_t length_at = out.size();
    out.resize(length_at + 4 + snappy::MaxCompressedLength(block_size));
    size_t compressed_size = 0;
    snappy::RawCompress(reinterpret_cast<const char*>(in.data() + pos), block_size,
                        reinterpret_cast<char*>(out.data() + length_at + 4), &compressed_size);
    store_be32(out.data() + length_at, static_cast<uint32_t>(compressed_size));
    out.resize(length_at + 4 + compressed_size);
  }
  return true;
}

bool snappy_decompress_raw_block(Bytes block, CappedOutput& sink) {
  const auto* src = reinterpret_cast<const char*>(block.data());
  size_t size = 0;
  if (!snappy::GetUncompressedLength(src, block.size(), &size)) return false;
  // Checked against the cap before allocating: the length prefix is attacker-controlled.
  if (!sink.can_take(size)) return false;
  if (size == 0) return block.size() == 1;  // just the varint 0
  std::span<uint8_t> room = sink.room(size);
  if (!snappy::RawUncompress(src, block.size(), reinterpret_cast<char*>(room.data()))) {
    return false;
  }
  sink.commit(size);
  return true;
}

bool snappy_decompress(Bytes in, CappedOutput& sink) {
  if (in.size() < kXerialMagic.size() ||
      !std::equal(kXerialMagic.begin(), kXerialMagic.end(), in.begin())) {
    return snappy_decompress_raw_block(in, sink);
  }
  Reader reader(in);
  reader.skip(kXerialMagic.size());
  reader.u32();  // version and min-compatible version: snappy-java writes 1, 1 and never
  reader.u32();  // changed the format, so other values are accepted as well
  if (!reader.ok()) return false;
  while (!reader.empty()) {
    Bytes block = reader.bytes();  // int32 BE length, checked against the bytes left
    if (!reader.ok() || !snappy_decompress_raw_block(block, sink)) return false;
  }
  return true;
}

// ---- lz4 ---------------------------------------------------------------------------------------

constexpr uint32_t kLz4FrameMagic = 0x184D2204;
constexpr size_t kLz4MagicSize = 4;

// Bytes from FLG up to (not including) the header checksum: FLG, BD, optional 8-byte content
// size, optional 4-byte dictionary id.
size_t lz4_descriptor_size(uint8_t flg) {
  constexpr uint8_t kContentSizeFlag = 0x08;
  constexpr uint8_t kDictionaryIdFlag = 0x01;
  return 2 + ((flg & kContentSizeFlag) ? 8 : 0) + ((flg & kDictionaryIdFlag) ? 4 : 0);
}

// The LZ4 frame header checksum is the second byte of XXH32 (seed 0) over the descriptor; Kafka's
// legacy variant hashed from the start of the magic number instead.
uint8_t lz4_header_checksum(const uint8_t* frame, size_t descriptor_size, Lz4HeaderChecksum kind) {
  const bool legacy = kind == Lz4HeaderChecksum::kLegacyKafka;
  const uint8_t* from = legacy ? frame : frame + kLz4MagicSize;
  const size_t length = legacy ? kLz4MagicSize + descriptor_size : descriptor_size;
  return static_cast<uint8_t>((XXH32(from, length, 0) >> 8) & 0xFF);
}

bool lz4_compress(Bytes in, std::vector<uint8_t>& out, Lz4HeaderChecksum checksum_kind) {
  // What Kafka's Java KafkaLZ4BlockOutputStream writes; older brokers reject dependent blocks.
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;

  const size_t start = out.size();
  const size_t bound = LZ4F_compressFrameBound(in.size(), &prefs);
  out.resize(start + bound);
  const size_t written =
      LZ4F_compressFrame(out.data() + start, bound, in.data(), in.size(), &prefs);
  if (LZ4F_isError(written)) {
    out.resize(start);
    return false;
  }
  out.resize(start + written);

  if (checksum_kind == Lz4HeaderChecksum::kLegacyKafka) {
    uint8_t* frame = out.data() + start;
    const size_t descriptor_size = lz4_descriptor_size(frame[kLz4MagicSize]);
    frame[kLz4MagicSize + descriptor_size] =
        lz4_header_checksum(frame, descriptor_size, Lz4HeaderChecksum::kLegacyKafka);
  }
  return true;
}

struct Lz4DecompressionContextFree {
  void operator()(LZ4F_dctx* dctx) const { LZ4F_freeDecompressionContext(dctx); }
};

// One context per thread, reused: creating one per batch would allocate its block buffers anew.
LZ4F_dctx* thread_lz4_decompression_context() {
  thread_local std::unique_ptr<LZ4F_dctx, Lz4DecompressionContextFree> context = [] {
    LZ4F_dctx* dctx = nullptr;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) dctx = nullptr;
    return std::unique_ptr<LZ4F_dctx, Lz4DecompressionContextFree>(dctx);
  }();
  if (context) LZ4F_resetDecompressionContext(context.get());  // forget any failed frame
  return context.get();
}

bool lz4_decompress_frame(Bytes frame, CappedOutput& sink) {
  LZ4F_dctx* dctx = thread_lz4_decompression_context();
  if (dctx == nullptr) return false;
  const uint8_t* src = frame.data();
  size_t src_left = frame.size();
  size_t status = 0;
  do {
    std::span<uint8_t> room = sink.room(initial_room(frame));
    if (room.empty()) return false;  // output would exceed max_output
    size_t produced = room.size();
    size_t consumed = src_left;
    status = LZ4F_decompress(dctx, room.data(), &produced, src, &consumed, nullptr);
    if (LZ4F_isError(status)) return false;
    sink.commit(produced);
    src += consumed;
    src_left -= consumed;
    if (sink.over_limit()) return false;
    const bool output_full = produced == room.size();
    if (status != 0 && !output_full && (src_left == 0 || (consumed == 0 && produced == 0))) {
      return false;  // truncated, or stuck on bytes that are not a frame
    }
  } while (status != 0);
  return src_left == 0;  // exactly one frame, as Kafka writes
}

bool lz4_decompress(Bytes in, CappedOutput& sink) {
  if (in.size() < kLz4MagicSize + 3 || load_le32(in.data()) != kLz4FrameMagic) return false;
  const size_t descriptor_size = lz4_descriptor_size(in[kLz4MagicSize]);
  const size_t checksum_at = kLz4MagicSize + descriptor_size;
  if (in.size() <= checksum_at) return false;

  const uint8_t standard =
      lz4_header_checksum(in.data(), descriptor_size, Lz4HeaderChecksum::kStandard);
  if (in[checksum_at] == standard) return lz4_decompress_frame(in, sink);
  if (in[checksum_at] !=
      lz4_header_checksum(in.data(), descriptor_size, Lz4HeaderChecksum::kLegacyKafka)) {
    return false;
  }
  // liblz4 only knows the standard checksum: decode a copy with the checksum byte corrected.
  // Only pre-0.10 brokers send these, so the copy is off the common path.
  std::vector<uint8_t> corrected(in.begin(), in.end());
  corrected[checksum_at] = standard;
  return lz4_decompress_frame(corrected, sink);
}

// ---- zstd --------------------------------------------------------------------------------------

struct ZstdContextFree {
  void operator()(ZSTD_CCtx* cctx) const { ZSTD_freeCCtx(cctx); }
  void operator()(ZSTD_DCtx* dctx) const { ZSTD_freeDCtx(dctx); }
};

// Contexts hold megabytes of tables and windows; one per thread, reused, avoids allocating them per
// batch. Threads never share them.
ZSTD_CCtx* thread_zstd_compression_context() {
  thread_local std::unique_ptr<ZSTD_CCtx, ZstdContextFree> context(ZSTD_createCCtx());
  return context.get();
}

ZSTD_DCtx* thread_zstd_decompression_context() {
  thread_local std::unique_ptr<ZSTD_DCtx, ZstdContextFree> context(ZSTD_createDCtx());
  if (context) ZSTD_DCtx_reset(context.get(), ZSTD_reset_session_only);  // forget a failed frame
  return context.get();
}

bool zstd_compress(Bytes in, std::vector<uint8_t>& out) {
  ZSTD_CCtx* cctx = thread_zstd_compression_context();
  if (cctx == nullptr) return false;
  const size_t start = out.size();
  const size_t bound = ZSTD_compressBound(in.size());
  out.resize(start + bound);
  const size_t written =
      ZSTD_compressCCtx(cctx, out.data() + start, bound, in.data(), in.size(), ZSTD_CLEVEL_DEFAULT);
  if (ZSTD_isError(written)) {
    out.resize(start);
    return false;
  }
  out.resize(start + written);
  return true;
}

// Debian's libzstd also decodes the legacy formats of zstd before 1.0 (magic 0xFD2FB522..27),
// whose decoders size their buffers from the frame header and ignore ZSTD_d_windowLogMax: an
// 18-byte fuzzed frame made it allocate 84 MB. No Kafka client ever wrote them (Kafka took zstd in 2.1),
// so every frame must be a zstd 1.x frame or a skippable one.
bool only_current_zstd_frames(Bytes in) {
  while (!in.empty()) {
    if (in.size() < 4) return false;
    const uint32_t magic = uint32_t{in[0]} | uint32_t{in[1]} << 8 | uint32_t{in[2]} << 16 |
                           uint32_t{in[3]} << 24;
    const bool skippable = (magic & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START;
    if (magic != ZSTD_MAGICNUMBER && !skippable) return false;
    const size_t frame = ZSTD_findFrameCompressedSize(in.data(), in.size());
    if (ZSTD_isError(frame) || frame == 0 || frame > in.size()) return false;
    in = in.subspan(frame);
  }
  return true;
}

// Streaming, because the Java client's frames do not declare their content size.
bool zstd_decompress(Bytes in, CappedOutput& sink) {
  if (in.empty()) return false;
  ZSTD_DCtx* dctx = thread_zstd_decompression_context();
  if (dctx == nullptr) return false;
  // A frame header may ask for a window of up to 128 MiB (more with the limit lifted), which the
  // decoder allocates before it reads a byte of data and keeps in the thread's context: a few
  // untrusted bytes must not get more than the output cap needs. At least 8 MiB (window log 23),
  // what the Java client's levels up to 19 use.
  constexpr int kZstdDefaultWindowLogLimit = 27;  // ZSTD_WINDOWLOG_LIMIT_DEFAULT (an unstable API)
  int window_log = 23;
  while (window_log < kZstdDefaultWindowLogLimit && (size_t{1} << window_log) < sink.limit()) ++window_log;
  if (ZSTD_isError(ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, window_log))) return false;

  if (!only_current_zstd_frames(in)) return false;

  size_t size_hint = initial_room(in);
  const unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR) {
    if (!sink.can_take(declared)) return false;
    size_hint = static_cast<size_t>(declared) + 1;  // + 1: room left over ends the loop below
  }

  ZSTD_inBuffer input{in.data(), in.size(), 0};
  size_t status = 0;
  for (;;) {
    std::span<uint8_t> room = sink.room(size_hint);
    if (room.empty()) return false;  // output would exceed max_output
    ZSTD_outBuffer output{room.data(), room.size(), 0};
    status = ZSTD_decompressStream(dctx, &output, &input);
    if (ZSTD_isError(status)) return false;
    sink.commit(output.pos);
    if (sink.over_limit()) return false;
    // With room left over, the decoder has flushed all it can from the input given so far.
    if (input.pos == input.size && output.pos < output.size) break;
  }
  return status == 0;  // 0: the last frame is complete (concatenated frames are all decoded)
}

}  // namespace

const char* gzip_implementation() {
#if WS_PORTABLE_CRC
  return "zlib level 6";
#else
  return "isa-l igzip level 1";
#endif
}

const char* codec_name(Codec codec) {
  switch (codec) {
    case Codec::kNone: return "none";
    case Codec::kGzip: return "gzip";
    case Codec::kSnappy: return "snappy";
    case Codec::kLz4: return "lz4";
    case Codec::kZstd: return "zstd";
  }
  return "unknown";
}

std::optional<Codec> parse_codec(std::string_view name) {
  for (Codec codec : {Codec::kNone, Codec::kGzip, Codec::kSnappy, Codec::kLz4, Codec::kZstd}) {
    if (name == codec_name(codec)) return codec;
  }
  return std::nullopt;
}

bool compress(Codec codec, Bytes in, std::vector<uint8_t>& out, Lz4HeaderChecksum lz4) {
  switch (codec) {
    case Codec::kNone:
      out.insert(out.end(), in.begin(), in.end());
      return true;
    case Codec::kGzip: return gzip_compress(in, out);
    case Codec::kSnappy: return snappy_compress_xerial(in, out);
    case Codec::kLz4: return lz4_compress(in, out, lz4);
    case Codec::kZstd: return zstd_compress(in, out);
  }
  return false;
}

bool decompress(Codec codec, Bytes in, std::vector<uint8_t>& out, size_t max_output) {
  CappedOutput sink(out, max_output);
  bool ok = false;
  switch (codec) {
    case Codec::kNone:
      ok = sink.can_take(in.size());
      if (ok && !in.empty()) {
        std::memcpy(sink.room(in.size()).data(), in.data(), in.size());
        sink.commit(in.size());
      }
      break;
    case Codec::kGzip: ok = gzip_decompress(in, sink); break;
    case Codec::kSnappy: ok = snappy_decompress(in, sink); break;
    case Codec::kLz4: ok = lz4_decompress(in, sink); break;
    case Codec::kZstd: ok = zstd_decompress(in, sink); break;
  }
  return ok ? sink.finish() : sink.fail();
}

}  // namespace ws::protocol
