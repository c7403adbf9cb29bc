// A whole worker (producers, consumers, the metadata cache, the connection table) on the driver
// tests' fake event loop and fake clock, against the scripted fake cluster, with every answer the
// cluster gives edited by the fuzzer on its way back: bodies replaced or bytes overwritten, answers
// cut into several reads, dropped, duplicated, sent under a wrong correlation id or a lying size
// prefix, followed by garbage, or cut short by a close. The run goes to its end (connecting,
// producing, draining) in fake time, and must then hold what a user reads in the summary:
//  - no crash, no sanitizer report, memory within libFuzzer's limits;
//  - records acknowledged + records failed <= records sent, per the worker's own counters;
//  - no connection left open after the worker finished, and the open-connection gauge at 0.
//
// Input: [shape: 5 bytes][edits...]. The shape picks the cluster and the run (Kafka 0.9 or a
// modern broker, 1-3 brokers, 1-8 partitions and their leaders, 1-4 producers, 0-3 consumers,
// acks, --idempotent, codec, batch, keys, --verify) and, in its fifth byte, consumer groups
// (--group-mode own or shared, groups, assignor, --churn-members, --group-instance-id, commits):
// the cluster then has the fake group coordinator, so that the group member's decoding and state
// machine meet edited FindCoordinator, JoinGroup, SyncGroup, Heartbeat, OffsetCommit, OffsetFetch
// and LeaveGroup answers. Then each answer takes the next edit; when the input runs out, answers go
// through unchanged. Seeds (tests/fuzz/seeds/fuzz_worker): a few shapes, some with edits.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "tests/driver/fake_group_coordinator.h"
#include "tests/driver/rigs.h"

namespace {

using namespace ws;
using testing::FakeKafka;

// Reads the fuzzer's bytes in order; past the end it reads zeros.
struct Input {
  std::span<const uint8_t> bytes;
  size_t pos = 0;
  bool empty() const { return pos >= bytes.size(); }
  uint8_t u8() { return empty() ? 0 : bytes[pos++]; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() { return u16() | (static_cast<uint32_t>(u16()) << 16); }
  std::vector<uint8_t> take(size_t n) {
    n = std::min(n, bytes.size() - std::min(pos, bytes.size()));
    std::vector<uint8_t> out(bytes.begin() + static_cast<ptrdiff_t>(pos), bytes.begin() + static_cast<ptrdiff_t>(pos + n));
    pos += n;
    return out;
  }
};

enum Edit : uint8_t {
  kReplaceBody = 6,   // keep the size prefix right and the correlation id, the rest from the input
  kOverwriteByte,     // one byte anywhere, the size prefix included
  kSplit,             // the same bytes in 2-5 reads
  kDrop,              // never answered
  kCloseInstead,      // the broker closes the connection instead of answering
  kTruncateAndClose,  // part of the answer, then a close
  kWrongCorrelation,  // an answer to a request never sent
  kLyingSize,         // a size prefix from the input
  kTrailingGarbage,   // the answer, then bytes from the input
  kTwice,             // the same answer twice
};

void put_i32(std::vector<uint8_t>& frame, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) frame[at + static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

FakeKafka::AnswerEdit edit_answer(Input& in, std::vector<uint8_t> frame) {
  FakeKafka::AnswerEdit out;
  if (in.empty() || frame.size() < 8) {
    out.reads.push_back(std::move(frame));
    return out;
  }
  switch (in.u8() % 16) {
    case kReplaceBody: {
      frame.resize(8);  // size prefix and correlation id
      const std::vector<uint8_t> body = in.take(in.u16());
      frame.insert(frame.end(), body.begin(), body.end());
      put_i32(frame, 0, static_cast<uint32_t>(frame.size() - 4));
      out.reads.push_back(std::move(frame));
      break;
    }
    case kOverwriteByte: {
      const size_t at = in.u16() % frame.size();
      frame[at] = in.u8();
      out.reads.push_back(std::move(frame));
      break;
    }
    case kSplit: {
      const int pieces = 2 + in.u8() % 4;
      size_t start = 0;
      for (int i = 1; i < pieces && start < frame.size(); ++i) {
        const size_t cut = start + in.u16() % (frame.size() - start);
        out.reads.emplace_back(frame.begin() + static_cast<ptrdiff_t>(start), frame.begin() + static_cast<ptrdiff_t>(cut));
        start = cut;
      }
      out.reads.emplace_back(frame.begin() + static_cast<ptrdiff_t>(start), frame.end());
      std::erase_if(out.reads, [](const std::vector<uint8_t>& r) { return r.empty(); });
      break;
    }
    case kDrop: break;
    case kCloseInstead: out.close_after = true; break;
    case kTruncateAndClose:
      frame.resize(in.u16() % frame.size());
      out.reads.push_back(std::move(frame));
      out.close_after = true;
      break;
    case kWrongCorrelation:
      put_i32(frame, 4, in.u32());
      out.reads.push_back(std::move(frame));
      break;
    case kLyingSize:
      put_i32(frame, 0, in.u32());
      out.reads.push_back(std::move(frame));
      break;
    case kTrailingGarbage:
      out.reads.push_back(std::move(frame));
      out.reads.push_back(in.take(in.u8()));
      break;
    case kTwice:
      out.reads.push_back(frame);
      out.reads.push_back(std::move(frame));
      break;
    default: out.reads.push_back(std::move(frame)); break;  // most answers go through unchanged
  }
  return out;
}

driver::RunConfig run_config(Input& in, FakeKafka& kafka) {
  const uint8_t b0 = in.u8(), b1 = in.u8(), b2 = in.u8(), b3 = in.u8();
  driver::RunConfig c = testing::base_config(9092);
  kafka.kind = (b0 & 1) ? FakeKafka::Kind::kKafka09 : FakeKafka::Kind::kModern;
  // The fourth choice: idempotent producers (acks=all), against a broker that has them.
  const int16_t acks_choice[] = {0, 1, -1, -1};
  c.acks = acks_choice[(b0 >> 1) & 3];
  c.idempotent = ((b0 >> 1) & 3) == 3;
  kafka.idempotence = c.idempotent;
  c.verify = (b0 >> 3) & 1;
  c.compression = static_cast<protocol::Codec>(((b0 >> 4) & 7) % 5);
  c.consume_from_earliest = (b0 >> 7) & 1;
  c.clients = 1 + (b1 & 3);
  c.consumers = (b1 >> 2) & 3;
  const int brokers = 1 + ((b1 >> 4) & 3) % 3;
  const uint32_t batches[] = {1, 5, 20, 100};
  c.batch = batches[(b1 >> 6) & 3];
  // Batch 5 with 5 KB records: every set is large enough to go out from the encoder's buffer in a
  // gathered send (ConnectionTable::append_produce), shared between requests or copied aside.
  if (c.batch == 5) c.message_size = 5000;
  kafka.partitions = 1 + (b2 & 7);
  c.key_size = (b2 >> 3) & 1 ? 8 : 0;
  c.max_in_flight = (b2 >> 4) & 1 ? 5 : 1;
  if ((b2 >> 5) & 1) c.broker_version = driver::BrokerVersion::kV0_9;
  kafka.fetch_max_records = (b2 >> 6) & 1 ? 3 : 0;
  kafka.answer_acks0 = (b2 >> 7) & 1;
  kafka.brokers.clear();
  for (int i = 0; i < brokers; ++i) kafka.brokers.push_back(FakeKafka::Broker{.node_id = i, .port = 9092 + i});
  for (int32_t p = 0; p < kafka.partitions; ++p) kafka.leaders.push_back(((b3 >> (p % 4 * 2)) & 3) % brokers);
  // A short run in fake time: bounded, and long enough for every phase and a timeout or two.
  c.rate = 400;
  c.messages = 200;
  c.duration = std::chrono::seconds(1);
  c.connect_deadline = std::chrono::seconds(5);  // past the 3 s ApiVersions probe of Kafka 0.9
  c.request_timeout = std::chrono::milliseconds(500);
  c.connect_timeout = std::chrono::milliseconds(300);
  c.drain_timeout = std::chrono::milliseconds(500);
  c.fetch_max_wait = std::chrono::milliseconds(50);
  c.max_response_bytes = 1 << 20;
  c.max_receive_memory = 4 << 20;
  // Consumer groups: none (half the shapes), own or shared.
  const uint8_t b4 = in.u8();
  const driver::GroupMode modes[] = {driver::GroupMode::kNone, driver::GroupMode::kOwn, driver::GroupMode::kShared,
                                     driver::GroupMode::kNone};
  c.group.mode = modes[b4 & 3];
  if (c.group.enabled()) {
    c.consumers = std::max<uint32_t>(c.consumers, 1);
    c.group.prefix = "fuzz";
    c.group.groups = c.group.mode == driver::GroupMode::kShared ? 1 + ((b4 >> 5) & 3) % c.consumers : 1;
    c.group.assignor = (b4 >> 4) & 1 ? driver::AssignorKind::kRoundRobin : driver::AssignorKind::kRange;
    c.group.churn_rate = (b4 >> 2) & 1 ? 8 : 0;  // a few churns in the measured half second
    if ((b4 >> 3) & 1) c.group.instance_prefix = "fuzz-member";
    c.group.session_timeout = std::chrono::seconds(1);
    c.group.heartbeat_interval = std::chrono::milliseconds(100);
    c.group.commit_interval = (b4 >> 7) & 1 ? std::chrono::nanoseconds(0) : std::chrono::milliseconds(100);
  }
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Small latency histograms (as --latency-max=60s --latency-digits=2): a run allocates a few
  // dozen, and at the default 184 KiB each, zeroing them took most of each execution.
  driver::latency_histogram_spec() = {.highest_us = 60'000'000, .significant_figures = 2};
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in{std::span<const uint8_t>(data, size)};
  FakeKafka kafka;
  driver::RunConfig config = run_config(in, kafka);
  kafka.answer_filter = [&in](const testing::SeenRequest&, std::vector<uint8_t> frame) {
    return edit_answer(in, std::move(frame));
  };
  testing::FakeGroupCoordinator coordinator;  // outlives the rig, which calls it
  if (config.group.enabled()) {
    coordinator.expected_members = 1;
    coordinator.install(kafka);
  }
  testing::WorkerRig rig(config, kafka);  // (the rig's copy of the cluster keeps the filter)
  coordinator.clock = &rig.now;
  rig.run_to_end(60 * testing::kSec, 20 * testing::kMs);

  const driver::RunCounters& counters = rig.counters();
  if (std::getenv("WS_FUZZ_VERBOSE")) {  // to see what a seed reaches
    std::fprintf(stderr, "sent %llu acked %llu failed %llu received %llu connects %d requests %zu\n",
                 static_cast<unsigned long long>(counters.messages_sent),
                 static_cast<unsigned long long>(counters.messages_acked),
                 static_cast<unsigned long long>(counters.messages_failed),
                 static_cast<unsigned long long>(counters.consume_received), rig.kafka.connects,
                 rig.kafka.requests.size());
    for (size_t f = 0; f < counters.failures.size(); ++f) {
      if (counters.failures[f]) {
        std::fprintf(stderr, "  %s %llu\n", driver::failure_name(static_cast<driver::Failure>(f)),
                     static_cast<unsigned long long>(counters.failures[f]));
      }
    }
    for (const auto& r : rig.kafka.requests) std::fprintf(stderr, "  request %d v%d\n", r.api_key, r.api_version);
  }
  if (counters.messages_acked + counters.messages_failed > counters.messages_sent) std::abort();
  if (counters.connections_open != 0) std::abort();
  if (rig.loop().open_connections() != 0) std::abort();
  return 0;
}
