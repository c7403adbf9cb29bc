// Kafka record formats: MessageSet magic 0 and 1 (CRC-32) and RecordBatch magic 2 (CRC-32C), with
// compression. A writer that appends a record set to a request buffer, and a reader that walks
// any mix of formats in a Fetch response and stops cleanly at a truncated trailing batch.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "protocol/compression.h"
#include "protocol/wire.h"

namespace ws::protocol {

struct RecordHeaderView {
  std::string_view key;
  std::optional<Bytes> value;
};

// One record to write. Views only: the caller keeps the bytes alive until finish().
struct RecordToWrite {
  std::optional<Bytes> key;
  std::optional<Bytes> value;
  int64_t timestamp_ms = 0;                       // ignored by magic 0
  std::span<const RecordHeaderView> headers = {};  // magic 2 only; magic 0/1 have no headers
};

struct RecordSetOptions {
  int8_t magic = 2;
  Codec codec = Codec::kNone;
  int64_t base_offset = 0;  // producers send 0; the broker assigns offsets
  // Idempotent-producer fields of RecordBatch v2; -1 means "not idempotent".
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int32_t partition_leader_epoch = -1;
};

// Builds one record set at the end of a caller-owned buffer:
//   magic 2: one RecordBatch; magic 0/1: a MessageSet, compressed sets as one wrapper message.
// Reusable: begin() again after finish(); its scratch buffers keep their capacity, so a client that
// owns one writer allocates nothing per request once warmed up.
class RecordSetWriter {
 public:
  void begin(std::vector<uint8_t>& out, const RecordSetOptions& options);
  void add(const RecordToWrite& record);
  // Compresses (if asked), writes lengths and CRCs. Returns false if the compression library
  // fails or the codec does not exist for the magic (zstd needs magic 2). The set occupies out[start, out.size()) afterwards; returns its size via size().
  bool finish();
  size_t size() const { return finished_size_; }
  int32_t record_count() const { return count_; }

 private:
  void add_v2(const RecordToWrite& record, std::vector<uint8_t>& dst);
  void add_legacy(const RecordToWrite& record, std::vector<uint8_t>& dst, int64_t offset,
                  int8_t attributes);
  void add_v2_headers(const RecordToWrite& record, std::vector<uint8_t>& dst, int64_t timestamp_delta);
  bool finish_v2();
  bool finish_legacy();

  std::vector<uint8_t>* out_ = nullptr;
  RecordSetOptions options_;
  size_t start_ = 0;
  int32_t count_ = 0;
  int64_t first_timestamp_ = 0;
  int64_t max_timestamp_ = 0;
  size_t finished_size_ = 0;
  std::vector<uint8_t> uncompressed_;  // records waiting to be compressed
  std::vector<uint8_t> record_scratch_;
};

// Gives a finished, uncompressed or compressed RecordBatch v2 (from its base offset on) whose
// records all carry the batch's base timestamp (every timestamp delta 0: a producer's records
// stamped at once) a new timestamp: its base and max timestamps and its CRC. The result is the
// bytes RecordSetWriter writes for the same records at `timestamp_ms`. The batch's CRC must be
// right on entry: it is patched for the changed header bytes (crc32c_patch), not computed again, so
// a restamp costs the same at 100 B as at 1 MB.
void restamp_record_batch_v2(std::span<uint8_t> batch, int64_t timestamp_ms);

// An idempotent producer's fields of a RecordBatch v2 header (KIP-98).
struct BatchProducer {
  int64_t id = -1;
  int16_t epoch = -1;
  int32_t base_sequence = -1;
};
// The same, and the batch's producer id, epoch and base sequence set as well (one CRC patch): the
// bytes RecordSetWriter writes for the same records with those options.
void restamp_record_batch_v2(std::span<uint8_t> batch, int64_t timestamp_ms, const BatchProducer& producer);
// Whether that restamp would leave `batch` as it is (it carries this timestamp and these fields
// already): then a batch being sent can serve the next request as it is.
bool record_batch_v2_stamped(std::span<const uint8_t> batch, int64_t timestamp_ms, const BatchProducer& producer);

// One decoded record. Views into the Fetch response or into the reader's decompression buffer:
// valid until the next call to RecordSetReader::next().
struct RecordView {
  int64_t offset = 0;
  int64_t timestamp_ms = -1;  // -1 for magic 0
  int8_t magic = 0;
  Codec codec = Codec::kNone;  // of the batch or wrapper message that carried it
  std::optional<Bytes> key;
  std::optional<Bytes> value;
  std::span<const RecordHeaderView> headers;
  // RecordBatch v2 producer fields (-1 for magic 0/1).
  int64_t producer_id = -1;
  int32_t sequence = -1;
};

struct RecordReaderOptions {
  bool verify_crc = true;
  // Upper bound on one batch's decompressed size (decompression-bomb guard).
  size_t max_decompressed_batch = 64 * 1024 * 1024;
};

class RecordSetReader {
 public:
  explicit RecordSetReader(Bytes record_set, RecordReaderOptions options = {});

  // The next record; false at the end of the set or on an error (see error()).
  bool next(RecordView& out);

  // Stopped at a partial batch at the end: normal for Fetch responses cut at max_bytes.
  bool truncated() const { return truncated_; }
  // kNone unless the set is malformed. A batch whose CRC does not match is skipped and counted in
  // corrupt_batches() instead, so one bad batch does not hide the rest.
  DecodeError error() const { return error_; }
  uint64_t corrupt_batches() const { return corrupt_batches_; }
  // The highest offset a skipped (corrupt) batch or message covered, or -1: a consumer moves
  // past it, so the same bad batch is neither fetched nor counted again.
  int64_t skipped_through() const { return skipped_through_; }
  uint64_t batches() const { return batches_; }
  // Byte offset just past the last complete batch consumed (where a follow-up fetch resumes).
  size_t consumed_bytes() const { return static_cast<size_t>(outer_.position() - set_start_); }

 private:
  enum class Mode : uint8_t { kOuter, kLegacyInner, kBatchRecords };

  bool open_v2_batch(int64_t base_offset, Reader batch, Bytes whole);
  bool open_legacy_message(int64_t offset, Reader message, RecordView& out, bool& yielded);
  bool read_legacy_inner(RecordView& out);
  bool read_v2_record(RecordView& out);
  bool fail(DecodeError e);

  RecordReaderOptions options_;
  const uint8_t* set_start_;
  Reader outer_;
  Mode mode_ = Mode::kOuter;
  bool truncated_ = false;
  DecodeError error_ = DecodeError::kNone;
  uint64_t corrupt_batches_ = 0;
  uint64_t batches_ = 0;
  int64_t skipped_through_ = -1;
  void skipped(int64_t last_offset) { skipped_through_ = std::max(skipped_through_, last_offset); }

  // Current RecordBatch v2.
  Reader records_;
  int32_t records_left_ = 0;
  int64_t base_offset_ = 0;
  int64_t base_timestamp_ = 0;
  int64_t producer_id_ = -1;
  int32_t base_sequence_ = -1;
  Codec codec_ = Codec::kNone;
  bool control_batch_ = false;
  bool log_append_time_ = false;  // the broker stamped the batch: every record has maxTimestamp
  std::vector<RecordHeaderView> headers_;

  // Current compressed magic 0/1 wrapper.
  Reader inner_;
  int64_t wrapper_offset_ = 0;
  int64_t inner_last_offset_ = 0;
  int8_t wrapper_magic_ = 0;
  int64_t wrapper_timestamp_ = -1;  // >= 0 when the broker stamped the wrapper (LogAppendTime)

  std::vector<uint8_t> decompressed_;
};

}  // namespace ws::protocol
