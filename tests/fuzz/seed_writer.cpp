// Writes the seed inputs that need the codec itself to make (compressed frames, record sets with
// their CRCs, whole response streams), so fuzzing starts from valid input:
//   fuzz_decompress       [codec byte: 0 gzip, 1 snappy, 2 lz4, 3 zstd][compressed frame], both
//                         LZ4 header checksums (KIP-57), snappy raw and xerial-framed;
//   fuzz_record_set       record sets of magic 0, 1 and 2, uncompressed and with every codec;
//   fuzz_record_intake    those record sets (mode 1), and record descriptions (mode 0);
//   fuzz_response_stream  [cut byte][ApiVersions answer][answers to the harness's requests].
// The other targets' seeds come from captured frames (tools/scripts/make_fuzz_seeds.py) and
// tests/fuzz/make_sasl_seeds.py.
// Usage (built with the fuzz targets): ws_fuzz_seed_writer tests/fuzz/seeds
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "protocol/api_versions.h"
#include "protocol/compression.h"
#include "protocol/fetch.h"
#include "protocol/framing.h"
#include "protocol/list_offsets.h"
#include "protocol/metadata.h"
#include "protocol/produce.h"
#include "protocol/records.h"

namespace {

using namespace ws::protocol;
using ByteVec = std::vector<uint8_t>;

std::filesystem::path g_root;
int g_written = 0;

void write(const std::string& target, const std::string& name, const ByteVec& data) {
  const auto dir = g_root / target;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary).write(reinterpret_cast<const char*>(data.data()),
                                                    static_cast<std::streamsize>(data.size()));
  ++g_written;
}

Bytes bytes_of(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

ByteVec sample(size_t size) {
  ByteVec out;
  const std::string_view text = "wirestress record value, compressible enough to matter. ";
  while (out.size() < size) out.push_back(static_cast<uint8_t>(text[out.size() % text.size()]));
  return out;
}

void decompress_seeds() {
  const char* names[] = {"gzip", "snappy", "lz4", "zstd"};
  for (uint8_t i = 0; i < 4; ++i) {
    const auto codec = static_cast<Codec>(i + 1);
    for (const size_t size : {size_t{0}, size_t{100}, size_t{70000}}) {
      ByteVec out{i};
      if (!compress(codec, sample(size), out)) std::abort();
      write("fuzz_decompress", std::string(names[i]) + "_" + std::to_string(size), out);
    }
  }
  ByteVec legacy{2};  // LZ4 with Kafka 0.8/0.9's header checksum
  if (!compress(Codec::kLz4, sample(100), legacy, Lz4HeaderChecksum::kLegacyKafka)) std::abort();
  write("fuzz_decompress", "lz4_kafka08_header", legacy);
  // Raw snappy (no xerial framing), as some clients write it: a literal-only block.
  ByteVec raw{1, 100, 60 << 2, 99};  // length 100, then a literal of 99 + 1 bytes
  const ByteVec text = sample(100);
  raw.insert(raw.end(), text.begin(), text.end());
  write("fuzz_decompress", "snappy_raw", raw);
}

// A record set with three records (keys, a null value, headers in magic 2).
ByteVec record_set(int8_t magic, Codec codec, int64_t base_offset = 0) {
  static const RecordHeaderView headers[] = {{"h", bytes_of("v")}, {"null", std::nullopt}};
  ByteVec out;
  RecordSetWriter w;
  w.begin(out, {.magic = magic, .codec = codec, .base_offset = base_offset});
  w.add({.key = bytes_of("k0"), .value = bytes_of("first value"), .timestamp_ms = 1700000000000,
         .headers = magic == 2 ? std::span<const RecordHeaderView>(headers) : std::span<const RecordHeaderView>()});
  w.add({.key = std::nullopt, .value = std::nullopt, .timestamp_ms = 1700000000001});
  const ByteVec big = sample(2000);
  w.add({.key = bytes_of("k2"), .value = Bytes(big), .timestamp_ms = 1700000000002});
  if (!w.finish()) std::abort();
  return out;
}

void record_set_seeds() {
  const char* names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
  for (int8_t magic = 0; magic <= 2; ++magic) {
    for (uint8_t c = 0; c < 5; ++c) {
      if (c == 4 && magic < 2) continue;  // zstd needs magic 2
      const ByteVec set = record_set(magic, static_cast<Codec>(c));
      const std::string name = "magic" + std::to_string(magic) + "_" + names[c];
      write("fuzz_record_set", name, set);
      ByteVec raw{1};  // fuzz_record_intake, raw mode
      raw.insert(raw.end(), set.begin(), set.end());
      write("fuzz_record_intake", name, raw);
    }
  }
  // Two batches back to back, the second cut short (a fetch response cut at max_bytes).
  ByteVec two = record_set(2, Codec::kNone);
  const ByteVec second = record_set(2, Codec::kLz4, 3);
  two.insert(two.end(), second.begin(), second.end() - 10);
  write("fuzz_record_set", "magic2_two_batches_truncated", two);

  // fuzz_record_intake, built mode: [mode][flags producer seq(4) time(2)] per record.
  const auto describe = [](uint8_t mode, std::initializer_list<std::array<uint8_t, 8>> records) {
    ByteVec out{mode};
    for (const auto& r : records) out.insert(out.end(), r.begin(), r.end());
    return out;
  };
  write("fuzz_record_intake", "built_in_order",
        describe(0x04, {{0, 0, 0, 0, 0, 0, 0, 5}, {0, 0, 0, 0, 0, 1, 0, 4}, {0, 1, 0, 0, 0, 0, 0, 3}}));
  write("fuzz_record_intake", "built_gap_late_duplicate_lz4",
        describe(0x1c, {{0, 0, 0, 0, 0, 0, 0, 5}, {0, 0, 0, 0, 0, 3, 0, 4}, {0x10, 0, 0, 0, 0, 1, 0, 3},
                        {0, 0, 0, 0, 0, 1, 0, 2}, {0x30, 0, 0, 0, 0, 2, 0, 1}}));
  write("fuzz_record_intake", "built_other_run_corrupt_short_null_magic1_gzip",
        describe(0x0a, {{1, 2, 0, 0, 0, 0, 0, 5}, {2, 2, 0, 0, 0, 1, 0, 4}, {4, 2, 0, 0, 0, 2, 0, 3},
                        {8, 2, 0, 0, 0, 3, 0, 2}, {0, 9, 0xff, 0xff, 0xff, 0xff, 0, 1}}));
  write("fuzz_record_intake", "built_magic0_snappy", describe(0x10, {{0, 3, 0, 0, 3, 0xe8, 0, 9}}));
}

// A response frame: size, header (v1 adds an empty tagged-field section), body.
template <typename Message>
void frame(ByteVec& out, const Message& m, int16_t api_key, int16_t version, int32_t correlation_id) {
  Writer w(out);
  const size_t at = w.reserve(4);
  w.i32(correlation_id);
  if (response_header_version(api_key, version) == 1) w.uvarint(0);
  m.encode(w, version);
  w.patch_i32(at, static_cast<int32_t>(w.size() - at - 4));
}

struct Versions {
  const char* name;
  int16_t metadata, fetch, list_offsets, produce;
};

void stream_seeds() {
  static const ByteVec records_by_magic[] = {record_set(0, Codec::kNone), record_set(1, Codec::kGzip),
                                             record_set(2, Codec::kZstd)};
  for (const Versions v : {Versions{"kafka_0_10", 1, 2, 0, 2}, Versions{"classic", 4, 4, 1, 3},
                           Versions{"flexible", 12, 12, 3, 11}}) {
    for (const uint8_t cut : {uint8_t{0x0f}, uint8_t{0x00}, uint8_t{0x05}, uint8_t{0x1f}}) {
      const bool acks0 = (cut & 0x10) != 0;
      ByteVec out{cut};
      ApiVersionsResponse api;
      api.api_keys = {{ApiVersionsRequest::kApiKey, 0, 4},
                      {MetadataRequest::kApiKey, 0, v.metadata},
                      {FetchRequest::kApiKey, 0, v.fetch},
                      {ListOffsetsRequest::kApiKey, 0, v.list_offsets},
                      {ProduceRequest::kApiKey, 0, v.produce}};
      frame(out, api, ApiVersionsRequest::kApiKey, ApiVersionsRequest::kMaxVersion, 1);
      int32_t correlation_id = acks0 ? 3 : 2;  // an acks=0 produce (no answer) takes 2
      for (int round = 0; round < 2; ++round) {
        MetadataResponse md;
        md.brokers = {{.node_id = 1, .host = "localhost", .port = 9092, .rack = std::nullopt}};
        md.cluster_id = "cluster";
        md.controller_id = 1;
        MetadataResponse::MetadataResponseTopic topic;
        topic.name = "t";
        topic.partitions = {{.partition_index = 0, .leader_id = 1, .leader_epoch = 0, .replica_nodes = {1},
                             .isr_nodes = {1}}};
        md.topics = {topic};
        frame(out, md, MetadataRequest::kApiKey, v.metadata, correlation_id++);

        FetchResponse fetch;
        FetchResponse::FetchableTopicResponse ft;
        ft.topic = "t";
        FetchResponse::PartitionData part;
        part.high_watermark = 3;
        part.last_stable_offset = 3;
        part.log_start_offset = 0;
        const int magic = v.fetch >= 4 ? 2 : v.fetch >= 2 ? 1 : 0;
        part.records = Bytes(records_by_magic[magic]);
        ft.partitions = {part};
        fetch.responses = {ft};
        frame(out, fetch, FetchRequest::kApiKey, v.fetch, correlation_id++);

        ListOffsetsResponse lo;
        lo.topics = {{.name = "t", .partitions = {{.partition_index = 0, .old_style_offsets = {5}, .offset = 5}}}};
        if (v.list_offsets > 0) lo.topics[0].partitions[0].old_style_offsets.clear();
        frame(out, lo, ListOffsetsRequest::kApiKey, v.list_offsets, correlation_id++);

        ProduceResponse pr;
        pr.responses = {{.name = "t", .partition_responses = {{.index = 0, .base_offset = 7}}}};
        frame(out, pr, ProduceRequest::kApiKey, v.produce, correlation_id++);
      }
      char name[64];
      std::snprintf(name, sizeof name, "%s_cut%02x", v.name, cut);
      write("fuzz_response_stream", name, out);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SEED_DIR (tests/fuzz/seeds)\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  decompress_seeds();
  record_set_seeds();
  stream_seeds();
  std::printf("%d seeds written under %s\n", g_written, argv[1]);
  return 0;
}
