#include "protocol/records.h"

#include <algorithm>
#include <array>

#include "protocol/crc.h"

namespace ws::protocol {
namespace {

// RecordBatch v2 header: baseOffset(8) batchLength(4) partitionLeaderEpoch(4) magic(1) crc(4)
// attributes(2) lastOffsetDelta(4) baseTimestamp(8) maxTimestamp(8) producerId(8)
// producerEpoch(2) baseSequence(4) recordCount(4).
constexpr size_t kBatchHeaderSize = 61;
constexpr size_t kBatchCrcOffset = 17;       // from the start of the batch
constexpr size_t kBatchCrcCoverStart = 21;   // CRC-32C covers attributes .. end
constexpr size_t kLogOverhead = 12;          // offset + size, in front of every batch/message
constexpr uint8_t kCodecMask = 0x07;
constexpr uint8_t kTimestampTypeLogAppend = 0x08;
constexpr uint16_t kControlBatch = 0x20;

size_t varint_size(uint64_t zigzagged) {
  size_t n = 1;
  while (zigzagged >= 0x80) {
    zigzagged >>= 7;
    ++n;
  }
  return n;
}
uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
size_t svarint_size(int64_t v) { return varint_size(zigzag(v)); }

// The most bytes a headerless record's fields before its key or value take: length (5),
// attributes (1), timestamp delta (10), offset delta (5), key or value length (5).
constexpr size_t kMaxRecordFieldsSize = 26;

// Writes `v` as an unsigned LEB128 varint at `p`; returns the byte after it.
uint8_t* put_uvarint(uint8_t* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}

void put_big_endian(uint8_t* p, uint64_t v, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(v >> (8 * (bytes - 1 - i)));
}

uint64_t get_big_endian(const uint8_t* p, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v = v << 8 | p[i];
  return v;
}

size_t optional_bytes_v2_size(const std::optional<Bytes>& b) {
  return b ? svarint_size(static_cast<int64_t>(b->size())) + b->size() : svarint_size(-1);
}

void write_optional_bytes_v2(Writer& w, const std::optional<Bytes>& b) {
  if (!b) return w.varint(-1);
  w.varint(static_cast<int32_t>(b->size()));
  w.raw(*b);
}

std::optional<Bytes> read_optional_bytes_v2(Reader& r) {
  const int32_t n = r.varint();
  if (n == -1) return std::nullopt;
  if (n < 0) {
    r.fail(DecodeError::kBadLength);
    return std::nullopt;
  }
  return r.raw(static_cast<size_t>(n));
}

// Writes the CRC-32 of each magic 0/1 message in buf[from, end), all written before. One pass at
// the end rather than one CRC per add(): reading back bytes just stored one field at a time waits
// on store forwarding, which tripled the cost of a 122-byte message's CRC (bench/crc_bench.cpp,
// BM_RecordsOfABatch against BM_RecordsJustWritten).
void fill_legacy_crcs(std::vector<uint8_t>& buf, size_t from) {
  constexpr size_t kSizeOffset = 8;  // after the offset
  constexpr size_t kCrcSize = 4;
  Writer w(buf);
  for (size_t at = from; at < buf.size();) {
    const uint8_t* size_field = buf.data() + at + kSizeOffset;
    const size_t size = static_cast<size_t>(size_field[0]) << 24 | size_t{size_field[1]} << 16 |
                        size_t{size_field[2]} << 8 | size_t{size_field[3]};
    const size_t crc_at = at + kLogOverhead;
    w.patch_u32(crc_at, crc32_ieee(buf.data() + crc_at + kCrcSize, size - kCrcSize));
    at = crc_at + size;
  }
}

// Offsets, timestamps and sequences from the wire are untrusted: hostile values must wrap, not
// overflow (signed overflow is undefined behaviour).
int64_t wrapping_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
int64_t wrapping_sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}

}  // namespace

// ----------------------------------------------------------------------------------------------
// Writer

void RecordSetWriter::begin(std::vector<uint8_t>& out, const RecordSetOptions& options) {
  out_ = &out;
  options_ = options;
  start_ = out.size();
  count_ = 0;
  finished_size_ = 0;
  uncompressed_.clear();
  if (options_.magic == 2) out.resize(out.size() + kBatchHeaderSize);
}

void RecordSetWriter::add(const RecordToWrite& record) {
  if (count_ == 0) {
    first_timestamp_ = record.timestamp_ms;
    max_timestamp_ = record.timestamp_ms;
  }
  max_timestamp_ = std::max(max_timestamp_, record.timestamp_ms);
  const bool compressed = options_.codec != Codec::kNone;
  std::vector<uint8_t>& dst = compressed ? uncompressed_ : *out_;
  if (options_.magic == 2) {
    add_v2(record, dst);
  } else {
    // Inside a compressed wrapper, offsets are relative (0..n-1); the broker rewrites them.
    const int64_t offset = compressed ? count_ : options_.base_offset + count_;
    add_legacy(record, dst, offset, 0);
  }
  ++count_;
}

void RecordSetWriter::add_v2(const RecordToWrite& record, std::vector<uint8_t>& dst) {
  const int64_t timestamp_delta = record.timestamp_ms - first_timestamp_;
  if (!record.headers.empty()) return add_v2_headers(record, dst, timestamp_delta);
  // A producer's records have no headers. Their fields before the value are varints of at most
  // 5 + 1 + 10 + 5 + 5 bytes: they go through a small buffer, and the key and value are copied
  // once each, instead of one vector append per varint byte.
  const size_t body_size = 1 + svarint_size(timestamp_delta) + svarint_size(count_) +
                           optional_bytes_v2_size(record.key) + optional_bytes_v2_size(record.value) +
                           1;  // the header count, 0
  uint8_t fields[kMaxRecordFieldsSize];
  uint8_t* p = put_uvarint(fields, zigzag(static_cast<int64_t>(body_size)));
  *p++ = 0;  // record attributes: unused
  p = put_uvarint(p, zigzag(timestamp_delta));
  p = put_uvarint(p, zigzag(count_));
  p = put_uvarint(p, zigzag(record.key ? static_cast<int64_t>(record.key->size()) : -1));
  const size_t value_size = record.value ? record.value->size() : 0;
  const size_t key_size = record.key ? record.key->size() : 0;
  const size_t total = static_cast<size_t>(p - fields) + key_size + body_size;  // >= what follows
  if (dst.capacity() - dst.size() < total) dst.reserve(std::max(dst.size() + total, dst.capacity() * 2));
  if (key_size > 0) {
    dst.insert(dst.end(), fields, p);
    dst.insert(dst.end(), record.key->data(), record.key->data() + key_size);
    p = fields;
  }
  p = put_uvarint(p, zigzag(record.value ? static_cast<int64_t>(value_size) : -1));
  dst.insert(dst.end(), fields, p);
  if (value_size > 0) dst.insert(dst.end(), record.value->data(), record.value->data() + value_size);
  dst.push_back(0);  // no headers
}

void RecordSetWriter::add_v2_headers(const RecordToWrite& record, std::vector<uint8_t>& dst,
                                     int64_t timestamp_delta) {
  size_t headers_size = svarint_size(static_cast<int64_t>(record.headers.size()));
  for (const auto& h : record.headers) {
    headers_size += svarint_size(static_cast<int64_t>(h.key.size())) + h.key.size() +
                    optional_bytes_v2_size(h.value);
  }
  const size_t body_size = 1 + svarint_size(timestamp_delta) + svarint_size(count_) +
                           optional_bytes_v2_size(record.key) +
                           optional_bytes_v2_size(record.value) + headers_size;
  Writer w(dst);
  w.varint(static_cast<int32_t>(body_size));
  w.i8(0);  // record attributes: unused
  w.varlong(timestamp_delta);
  w.varint(count_);
  write_optional_bytes_v2(w, record.key);
  write_optional_bytes_v2(w, record.value);
  w.varint(static_cast<int32_t>(record.headers.size()));
  for (const auto& h : record.headers) {
    w.varint(static_cast<int32_t>(h.key.size()));
    w.raw(h.key.data(), h.key.size());
    write_optional_bytes_v2(w, h.value);
  }
}

void RecordSetWriter::add_legacy(const RecordToWrite& record, std::vector<uint8_t>& dst,
                                 int64_t offset, int8_t attributes) {
  Writer w(dst);
  w.i64(offset);
  const size_t size_at = w.reserve(4);
  w.reserve(4);  // CRC, filled by fill_legacy_crcs() in finish()
  w.i8(options_.magic);
  w.i8(attributes);
  if (options_.magic == 1) w.i64(record.timestamp_ms);
  w.nullable_bytes(record.key);
  w.nullable_bytes(record.value);
  w.patch_i32(size_at, static_cast<int32_t>(dst.size() - size_at - 4));
}

bool RecordSetWriter::finish() {
  // Kafka defines zstd only for RecordBatch v2 (KIP-110); a magic 0/1 wrapper cannot carry it.
  if (options_.codec == Codec::kZstd && options_.magic < 2) return false;
  const bool ok = options_.magic == 2 ? finish_v2() : finish_legacy();
  finished_size_ = out_->size() - start_;
  return ok;
}

bool RecordSetWriter::finish_v2() {
  std::vector<uint8_t>& out = *out_;
  if (options_.codec != Codec::kNone &&
      !compress(options_.codec, uncompressed_, out, Lz4HeaderChecksum::kStandard)) {
    return false;
  }
  // Fill the header reserved by begin(); written through a scratch buffer so Writer stays append-only.
  record_scratch_.clear();
  Writer h(record_scratch_);
  h.i64(options_.base_offset);
  h.i32(static_cast<int32_t>(out.size() - start_ - kLogOverhead));
  h.i32(options_.partition_leader_epoch);
  h.i8(2);
  h.u32(0);  // CRC, patched below once the header is in place
  h.i16(static_cast<int16_t>(static_cast<uint8_t>(options_.codec)));
  h.i32(count_ - 1);
  h.i64(first_timestamp_);
  h.i64(max_timestamp_);
  h.i64(options_.producer_id);
  h.i16(options_.producer_epoch);
  h.i32(options_.base_sequence);
  h.i32(count_);
  std::copy(record_scratch_.begin(), record_scratch_.end(), out.begin() + static_cast<ptrdiff_t>(start_));
  const uint32_t crc = crc32c(out.data() + start_ + kBatchCrcCoverStart,
                              out.size() - start_ - kBatchCrcCoverStart);
  Writer(out).patch_u32(start_ + kBatchCrcOffset, crc);
  return true;
}

namespace {
constexpr size_t kBaseTimestampOffset = 27;  // after attributes and lastOffsetDelta
constexpr size_t kMaxTimestampOffset = 35;
constexpr size_t kProducerIdOffset = 43;
constexpr size_t kProducerEpochOffset = 51;
constexpr size_t kBaseSequenceOffset = 53;

// Restamping changes only header fields, all of them inside [kBaseTimestampOffset,
// kRestampedEnd), so the CRC is patched for those bytes instead of computed again over the batch.
constexpr size_t kRestampedEnd = kBaseSequenceOffset + 4;
// Below this a batch is checksummed anew: faster than the patch's fixed ~35 ns
// (bench/crc_bench.cpp, BM_RestampBatch: 27 ns at 200 B, about even at 500 B).
constexpr size_t kPatchFromBytes = 512;

template <typename Change>
void restamp_header(std::span<uint8_t> batch, Change&& change) {
  if (batch.size() < kBatchHeaderSize) return;
  uint8_t* fields = batch.data() + kBaseTimestampOffset;
  constexpr size_t kFieldBytes = kRestampedEnd - kBaseTimestampOffset;
  std::array<uint8_t, kFieldBytes> before;
  std::copy_n(fields, kFieldBytes, before.begin());
  change(batch.data());
  uint32_t crc;
  if (batch.size() < kPatchFromBytes) {
    crc = crc32c(batch.data() + kBatchCrcCoverStart, batch.size() - kBatchCrcCoverStart);
  } else {
    const auto old_crc = static_cast<uint32_t>(get_big_endian(batch.data() + kBatchCrcOffset, 4));
    crc = crc32c_patch(old_crc, before.data(), fields, kFieldBytes, batch.size() - kRestampedEnd);
  }
  put_big_endian(batch.data() + kBatchCrcOffset, crc, 4);
}

void put_timestamps(uint8_t* batch, int64_t timestamp_ms) {
  put_big_endian(batch + kBaseTimestampOffset, static_cast<uint64_t>(timestamp_ms), 8);
  put_big_endian(batch + kMaxTimestampOffset, static_cast<uint64_t>(timestamp_ms), 8);
}

void put_stamp(uint8_t* batch, int64_t timestamp_ms, const BatchProducer& producer) {
  put_big_endian(batch + kProducerIdOffset, static_cast<uint64_t>(producer.id), 8);
  put_big_endian(batch + kProducerEpochOffset, static_cast<uint16_t>(producer.epoch), 2);
  put_big_endian(batch + kBaseSequenceOffset, static_cast<uint32_t>(producer.base_sequence), 4);
  put_timestamps(batch, timestamp_ms);
}
}  // namespace

void restamp_record_batch_v2(std::span<uint8_t> batch, int64_t timestamp_ms, const BatchProducer& producer) {
  restamp_header(batch, [&](uint8_t* b) { put_stamp(b, timestamp_ms, producer); });
}

bool record_batch_v2_stamped(std::span<const uint8_t> batch, int64_t timestamp_ms, const BatchProducer& producer) {
  if (batch.size() < kBatchHeaderSize) return true;  // restamp leaves it alone too
  std::array<uint8_t, kRestampedEnd> header;
  std::copy_n(batch.data(), kRestampedEnd, header.begin());
  put_stamp(header.data(), timestamp_ms, producer);
  return std::equal(header.begin(), header.end(), batch.begin());
}

void restamp_record_batch_v2(std::span<uint8_t> batch, int64_t timestamp_ms) {
  restamp_header(batch, [&](uint8_t* b) { put_timestamps(b, timestamp_ms); });
}

bool RecordSetWriter::finish_legacy() {
  if (options_.codec == Codec::kNone) {
    fill_legacy_crcs(*out_, start_);
    return true;
  }
  fill_legacy_crcs(uncompressed_, 0);
  // Kafka before 0.10 (magic 0) expects the KIP-57 variant of the LZ4 frame header checksum.
  const auto lz4 = options_.magic == 0 ? Lz4HeaderChecksum::kLegacyKafka : Lz4HeaderChecksum::kStandard;
  record_scratch_.clear();
  if (!compress(options_.codec, uncompressed_, record_scratch_, lz4)) return false;
  RecordToWrite wrapper;
  wrapper.value = Bytes(record_scratch_);
  wrapper.timestamp_ms = max_timestamp_;
  // The wrapper carries the offset of its last inner message.
  const size_t wrapper_at = out_->size();
  add_legacy(wrapper, *out_, options_.base_offset + count_ - 1,
             static_cast<int8_t>(options_.codec));
  fill_legacy_crcs(*out_, wrapper_at);
  return true;
}

// ----------------------------------------------------------------------------------------------
// Reader

RecordSetReader::RecordSetReader(Bytes record_set, RecordReaderOptions options)
    : options_(options), set_start_(record_set.data()), outer_(record_set) {}

bool RecordSetReader::fail(DecodeError e) {
  if (error_ == DecodeError::kNone) error_ = e;
  return false;
}

bool RecordSetReader::next(RecordView& out) {
  while (error_ == DecodeError::kNone) {
    if (mode_ == Mode::kBatchRecords) {
      if (records_left_ > 0) {
        if (!read_v2_record(out)) return false;
        if (control_batch_) continue;  // transaction markers are not user records
        return true;
      }
      mode_ = Mode::kOuter;
    }
    if (mode_ == Mode::kLegacyInner) {
      if (!inner_.empty()) {
        if (read_legacy_inner(out)) return true;
        continue;  // a corrupt inner message ends the wrapper, or error_ is set
      }
      mode_ = Mode::kOuter;
    }

    // Next batch (magic 2) or message (magic 0/1); both start with offset and size.
    if (outer_.remaining() < kLogOverhead) {
      truncated_ = !outer_.empty();
      return false;
    }
    Reader peek = outer_;
    const int64_t offset = peek.i64();
    const int32_t size = peek.i32();
    if (size < 0) return fail(DecodeError::kBadLength);
    if (static_cast<size_t>(size) > peek.remaining()) {
      truncated_ = true;  // cut at the fetch's max_bytes: not an error
      return false;
    }
    outer_.skip(kLogOverhead);
    const Bytes whole(outer_.position(), static_cast<size_t>(size));
    Reader batch = outer_.sub(static_cast<size_t>(size));
    // The magic byte is at the same place in every format: after 4 bytes of leader epoch (v2)
    // or of CRC (v0/v1).
    if (size < 5) return fail(DecodeError::kTruncated);
    const uint8_t magic = whole[4];
    ++batches_;
    if (magic == 2) {
      if (!open_v2_batch(offset, batch, whole)) return false;
    } else if (magic <= 1) {
      bool yielded = false;
      if (!open_legacy_message(offset, batch, out, yielded)) return false;
      if (yielded) return true;
    } else {
      return fail(DecodeError::kBadValue);
    }
  }
  return false;
}

bool RecordSetReader::open_v2_batch(int64_t base_offset, Reader batch, Bytes whole) {
  batch.i32();  // partition leader epoch
  batch.i8();   // magic
  const uint32_t crc = batch.u32();
  if (!batch.ok()) return fail(DecodeError::kTruncated);
  const size_t cover_from = kBatchCrcCoverStart - kLogOverhead;
  // The batch's length is sound (it was checked against the set), so its last offset says where
  // the next batch starts even when the rest of it is not to be trusted.
  Reader header = batch;
  header.i16();
  const int32_t last_offset_delta = header.i32();
  const int64_t last_offset = wrapping_add(base_offset, std::max(0, last_offset_delta));
  if (options_.verify_crc && crc32c(whole.data() + cover_from, whole.size() - cover_from) != crc) {
    ++corrupt_batches_;
    skipped(last_offset);
    return true;  // skip this batch, keep reading
  }
  const auto attributes = static_cast<uint16_t>(batch.i16());
  batch.i32();  // last offset delta
  base_timestamp_ = batch.i64();
  const int64_t max_timestamp = batch.i64();
  producer_id_ = batch.i64();
  batch.i16();  // producer epoch
  base_sequence_ = batch.i32();
  records_left_ = batch.i32();
  if (!batch.ok()) return fail(DecodeError::kTruncated);
  if (records_left_ < 0) return fail(DecodeError::kBadLength);
  const auto codec_bits = static_cast<uint8_t>(attributes & kCodecMask);
  if (codec_bits > static_cast<uint8_t>(Codec::kZstd)) return fail(DecodeError::kBadValue);
  if (attributes & kTimestampTypeLogAppend) base_timestamp_ = max_timestamp;
  log_append_time_ = (attributes & kTimestampTypeLogAppend) != 0;
  codec_ = static_cast<Codec>(codec_bits);
  control_batch_ = (attributes & kControlBatch) != 0;
  base_offset_ = base_offset;
  if (codec_ == Codec::kNone) {
    records_ = batch;
  } else {
    decompressed_.clear();
    if (!decompress(codec_, batch.raw(batch.remaining()), decompressed_,
                    options_.max_decompressed_batch)) {
      ++corrupt_batches_;
      skipped(last_offset);
      return true;
    }
    records_ = Reader(decompressed_);
  }
  mode_ = Mode::kBatchRecords;
  return true;
}

bool RecordSetReader::read_v2_record(RecordView& out) {
  const int32_t length = records_.varint();
  if (length < 0) return fail(DecodeError::kBadLength);
  Reader rec = records_.sub(static_cast<size_t>(length));
  if (!records_.ok()) return fail(records_.error());
  rec.i8();  // record attributes: unused by Kafka so far
  const int64_t timestamp_delta = rec.varlong();
  const int32_t offset_delta = rec.varint();
  out.key = read_optional_bytes_v2(rec);
  out.value = read_optional_bytes_v2(rec);
  const int32_t header_count = rec.varint();
  // A header takes at least two bytes (key and value lengths), and 40 in memory: a count is
  // checked against what its headers need before headers_ grows for it.
  if (header_count < 0 || static_cast<size_t>(header_count) > rec.remaining() / 2) {
    return fail(DecodeError::kBadLength);
  }
  headers_.resize(static_cast<size_t>(header_count));
  for (auto& h : headers_) {
    const int32_t key_length = rec.varint();
    if (key_length < 0) return fail(DecodeError::kBadLength);
    const Bytes key = rec.raw(static_cast<size_t>(key_length));
    h.key = std::string_view(reinterpret_cast<const char*>(key.data()), key.size());
    h.value = read_optional_bytes_v2(rec);
  }
  if (!rec.ok()) return fail(rec.error());
  --records_left_;
  out.offset = wrapping_add(base_offset_, offset_delta);
  out.timestamp_ms = log_append_time_ ? base_timestamp_ : wrapping_add(base_timestamp_, timestamp_delta);
  out.magic = 2;
  out.codec = codec_;
  out.headers = headers_;
  out.producer_id = producer_id_;
  out.sequence = base_sequence_ < 0 ? -1 : static_cast<int32_t>(wrapping_add(base_sequence_, offset_delta));
  return true;
}

bool RecordSetReader::open_legacy_message(int64_t offset, Reader message, RecordView& out,
                                          bool& yielded) {
  const Bytes covered(message.position() + 4, message.remaining() - 4);
  const uint32_t crc = message.u32();
  if (options_.verify_crc && crc32_ieee(covered.data(), covered.size()) != crc) {
    ++corrupt_batches_;
    skipped(offset);  // a message's offset (a compressed wrapper's is its last inner one)
    return true;
  }
  const int8_t magic = message.i8();
  const auto attributes = static_cast<uint8_t>(message.i8());
  const int64_t timestamp = magic == 1 ? message.i64() : -1;
  const std::optional<Bytes> key = message.nullable_bytes();
  const std::optional<Bytes> value = message.nullable_bytes();
  if (!message.ok()) return fail(message.error());
  const auto codec_bits = static_cast<uint8_t>(attributes & kCodecMask);
  if (codec_bits > static_cast<uint8_t>(Codec::kZstd)) return fail(DecodeError::kBadValue);
  if (codec_bits == 0) {
    out = RecordView{};
    out.offset = offset;
    out.timestamp_ms = timestamp;
    out.magic = magic;
    out.key = key;
    out.value = value;
    yielded = true;
    return true;
  }
  decompressed_.clear();
  if (!value || !decompress(static_cast<Codec>(codec_bits), *value, decompressed_,
                            options_.max_decompressed_batch)) {
    ++corrupt_batches_;
    skipped(offset);
    return true;
  }
  inner_ = Reader(decompressed_);
  wrapper_offset_ = offset;
  wrapper_magic_ = magic;
  wrapper_timestamp_ = (attributes & kTimestampTypeLogAppend) ? timestamp : -1;
  codec_ = static_cast<Codec>(codec_bits);
  // Magic 1 inner offsets are relative; the wrapper holds the absolute offset of the last one,
  // so find the last inner offset first.
  inner_last_offset_ = 0;
  for (Reader scan = inner_; scan.remaining() >= kLogOverhead;) {
    const int64_t inner_offset = scan.i64();
    const int32_t inner_size = scan.i32();
    if (inner_size < 0 || static_cast<size_t>(inner_size) > scan.remaining()) break;
    scan.skip(static_cast<size_t>(inner_size));
    inner_last_offset_ = inner_offset;
  }
  mode_ = Mode::kLegacyInner;
  return true;
}

bool RecordSetReader::read_legacy_inner(RecordView& out) {
  const int64_t inner_offset = inner_.i64();
  const int32_t size = inner_.i32();
  constexpr int32_t kMinMessageSize = 14;  // crc, magic, attributes, key and value lengths
  if (!inner_.ok() || size < kMinMessageSize || static_cast<size_t>(size) > inner_.remaining()) {
    // A broken inner set behind a valid CRC: drop the rest of this wrapper, keep the outer set.
    ++corrupt_batches_;
    skipped(wrapper_offset_);
    mode_ = Mode::kOuter;
    return false;
  }
  Reader message = inner_.sub(static_cast<size_t>(size));
  const Bytes covered(message.position() + 4, message.remaining() - 4);
  const uint32_t crc = message.u32();
  const int8_t magic = message.i8();
  const auto attributes = static_cast<uint8_t>(message.i8());
  const int64_t timestamp = magic == 1 ? message.i64() : -1;
  out = RecordView{};
  out.key = message.nullable_bytes();
  out.value = message.nullable_bytes();
  if (!message.ok() || (attributes & kCodecMask) != 0 ||
      (options_.verify_crc && crc32_ieee(covered.data(), covered.size()) != crc)) {
    ++corrupt_batches_;
    skipped(wrapper_offset_);
    mode_ = Mode::kOuter;
    return false;
  }
  out.offset = wrapper_magic_ == 0
                   ? inner_offset
                   : wrapping_add(wrapping_sub(wrapper_offset_, inner_last_offset_), inner_offset);
  out.timestamp_ms = wrapper_timestamp_ >= 0 ? wrapper_timestamp_ : timestamp;
  out.magic = magic;
  out.codec = codec_;
  return true;
}

}  // namespace ws::protocol
