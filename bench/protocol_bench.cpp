// Protocol hot paths: building a RecordBatch, a whole produce request, and decoding a Fetch response.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "protocol/framing.h"
#include "protocol/records.h"

namespace {

using namespace ws::protocol;

// 100-byte values that compress like typical JSON-ish payloads, not like zeros or noise.
std::vector<std::string> make_values(int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) {
    std::string s = "{\"id\":" + std::to_string(i * 7919) + ",\"user\":\"user-" + std::to_string(i % 37) +
                    "\",\"event\":\"click\",\"ts\":" + std::to_string(1700000000000LL + i);
    s.resize(100, ' ');
    v.push_back(std::move(s));
  }
  return v;
}

Bytes as_bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

void BM_EncodeRecordBatch100x100(benchmark::State& state) {
  const auto codec = static_cast<Codec>(state.range(0));
  const auto values = make_values(100);
  RecordSetWriter writer;
  std::vector<uint8_t> out;
  for (auto _ : state) {
    out.clear();
    writer.begin(out, {.magic = 2, .codec = codec});
    for (const auto& v : values) writer.add({.key = std::nullopt, .value = as_bytes(v), .timestamp_ms = 1700000000000});
    writer.finish();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(codec_name(codec));
  state.SetItemsProcessed(state.iterations() * 100);
  state.SetBytesProcessed(state.iterations() * 100 * 100);
  state.counters["batch_bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_EncodeRecordBatch100x100)->DenseRange(0, 4);

// One produce request as a simulated client builds it: 1 record of 100 bytes, acks=1.
void BM_EncodeProduceRequest1x100(benchmark::State& state) {
  const std::string value(100, 'x');
  RecordSetWriter writer;
  std::vector<uint8_t> records, frame;
  ProduceRequest request;
  request.acks = 1;
  request.timeout_ms = 30000;
  request.topic_data.resize(1);
  request.topic_data[0].name = "bench";
  request.topic_data[0].partition_data.resize(1);
  int32_t correlation = 0;
  for (auto _ : state) {
    records.clear();
    writer.begin(records, {.magic = 2});
    writer.add({.key = std::nullopt, .value = as_bytes(value), .timestamp_ms = 1700000000000});
    writer.finish();
    request.topic_data[0].partition_data[0].records = Bytes(records);
    frame.clear();
    encode_request(frame, request, 7, ++correlation, std::string_view("wirestress-1"));
    benchmark::DoNotOptimize(frame.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeProduceRequest1x100);

// Completing a request: split the frame, read the response header, decode a Produce v7 response
// for one partition, as a client does for every acknowledgement.
void BM_CompleteProduceResponse(benchmark::State& state) {
  ProduceResponse response;
  response.responses.resize(1);
  response.responses[0].name = "bench";
  response.responses[0].partition_responses.resize(1);
  response.responses[0].partition_responses[0].base_offset = 123456;
  std::vector<uint8_t> frame;
  Writer w(frame);
  const size_t at = w.reserve(4);
  w.i32(42);  // correlation id (response header v0)
  response.encode(w, 7);
  w.patch_i32(at, static_cast<int32_t>(frame.size() - 4));
  ProduceResponse decoded;
  for (auto _ : state) {
    const auto check = check_frame(frame);
    auto r = read_response_header(std::span<const uint8_t>(frame).subspan(4, check.frame_size - 4),
                                  ProduceRequest::kApiKey, 7);
    decoded.decode(r.body, 7);
    benchmark::DoNotOptimize(decoded.responses[0].partition_responses[0].error_code);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CompleteProduceResponse);

// A 1 MiB Fetch v11 response: 4 partitions of ~256 KiB of 1 KiB-record batches, uncompressed or
// lz4. Decoding walks every record, as a consumer does.
void BM_DecodeFetchResponse1MiB(benchmark::State& state) {
  const auto codec = static_cast<Codec>(state.range(0));
  // 1 KiB records built from the JSON-like values, so lz4 compresses ~2-3x as on real data,
  // not 100x as on a constant.
  const auto pieces = make_values(100);
  std::vector<std::string> values;
  for (int i = 0; i < 64; ++i) {
    std::string v;
    for (int j = 0; j < 10; ++j) v += pieces[static_cast<size_t>((i * 7 + j * 13) % 100)];
    values.push_back(v.substr(0, 1000));
  }
  std::vector<std::vector<uint8_t>> sets(4);
  RecordSetWriter writer;
  size_t next = 0;
  for (auto& set : sets) {
    while (set.size() < 256 * 1024) {
      writer.begin(set, {.magic = 2, .codec = codec});
      for (int i = 0; i < 16; ++i) {
        writer.add({.key = std::nullopt, .value = as_bytes(values[next++ % values.size()]), .timestamp_ms = 1});
      }
      writer.finish();
    }
  }
  FetchResponse response;
  response.responses.resize(1);
  response.responses[0].topic = "bench";
  for (int p = 0; p < 4; ++p) {
    FetchResponse::PartitionData pd;
    pd.partition_index = p;
    pd.records = Bytes(sets[static_cast<size_t>(p)]);
    response.responses[0].partitions.push_back(pd);
  }
  std::vector<uint8_t> body;
  Writer w(body);
  response.encode(w, 11);
  FetchResponse decoded;
  uint64_t records = 0;
  for (auto _ : state) {
    Reader r(body);
    decoded.decode(r, 11);
    for (const auto& t : decoded.responses) {
      for (const auto& p : t.partitions) {
        RecordSetReader reader(*p.records);
        RecordView rec;
        while (reader.next(rec)) ++records;
      }
    }
  }
  benchmark::DoNotOptimize(records);
  state.SetLabel(codec_name(codec));
  state.counters["records_per_response"] = static_cast<double>(records) / static_cast<double>(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
  state.counters["response_bytes"] = static_cast<double>(body.size());
}
BENCHMARK(BM_DecodeFetchResponse1MiB)->Arg(0)->Arg(3);

}  // namespace
