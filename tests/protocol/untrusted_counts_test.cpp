// Array counts from a broker are untrusted: a count must have, behind it, the bytes its elements
// take at least on the wire (min_encoded_size, worked out by the generator per element type and
// version), or decoding fails before anything is allocated for it. Elements take 20-140 bytes in
// memory, so checking a count against one byte per element let a 16 MiB Metadata response cost
// 1.45 GB. And decoded arrays kept for reuse keep their capacity only up to a cap.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <new>
#include <typeinfo>
#include <vector>

#include "protocol/consumer_protocol.h"
#include "protocol/framing.h"

// Every allocation of this test binary passes here: the tests below read how many bytes a decode
// asked for, and the largest single request (one thread: gtest runs tests on the main thread).
namespace {
size_t g_allocated = 0;
size_t g_largest = 0;
}  // namespace

// GCC cannot tell that this operator new is malloc underneath.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(size_t size) {
  g_allocated += size;
  if (size > g_largest) g_largest = size;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace ws::protocol {
namespace {

struct AllocationWatch {
  AllocationWatch() { g_allocated = g_largest = 0; }
  size_t allocated() const { return g_allocated; }
  size_t largest() const { return g_largest; }
};

// Kafka wire rules written out here (no protocol/ code): big-endian ints, classic array counts
// are int32, compact ones uvarint(count + 1).
struct Frame {
  std::vector<uint8_t> bytes;
  bool flexible = false;

  Frame& be(uint64_t v, int width) {
    for (int shift = 8 * (width - 1); shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(v >> shift));
    return *this;
  }
  Frame& zeros(size_t n) {
    bytes.resize(bytes.size() + n);
    return *this;
  }
  Frame& empty_string() {  // int16 length 0, or compact length+1 = 1
    if (flexible) return be(1, 1);
    return be(0, 2);
  }
  Frame& count(uint32_t n) {
    if (!flexible) return be(n, 4);
    uint64_t v = uint64_t{n} + 1;
    while (v >= 0x80) {
      bytes.push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    bytes.push_back(static_cast<uint8_t>(v));
    return *this;
  }
};

constexpr size_t kFewBytes = 4096;

// One response API: the bytes in front of its first top-level array (fixed-size fields only, from
// the JSON spec), and the array itself. Where strings come first, write_prefix writes them
// instead; where the array exists only from some version on, from_version says which.
template <typename Message>
struct FirstArray {
  size_t (*prefix)(int16_t version);
  size_t (*capacity)(const Message& m);
  void (*write_prefix)(Frame& f, int16_t version) = nullptr;
  int16_t from_version = Message::kMinVersion;
};

// Decodes [prefix][count][kFewBytes zero bytes] at every version of Message, for a count of 2^31-2
// and for one that the old check (a byte per element) let through, and expects a failed decode
// that allocated next to nothing.
template <typename Message>
void expect_lying_counts_fail(const char* name, FirstArray<Message> first) {
  for (int16_t v = first.from_version; v <= Message::kMaxVersion; ++v) {
    for (const uint32_t announced : {uint32_t{0x7ffffffe}, static_cast<uint32_t>(kFewBytes)}) {
      Frame f;
      f.flexible = Message::is_flexible(v);
      f.zeros(first.prefix(v));
      if (first.write_prefix) first.write_prefix(f, v);
      f.count(announced).zeros(kFewBytes);
      Message m;
      Reader r(f.bytes);
      AllocationWatch watch;
      m.decode(r, v);
      EXPECT_FALSE(r.ok()) << name << " v" << v << " count " << announced;
      EXPECT_EQ(r.error(), DecodeError::kBadLength) << name << " v" << v << " count " << announced;
      EXPECT_EQ(first.capacity(m), 0u) << name << " v" << v << " count " << announced;
      EXPECT_LT(watch.largest(), 1024u) << name << " v" << v << " count " << announced;
    }
  }
}

TEST(UntrustedCounts, EveryResponseRejectsACountItsBytesCannotHold) {
  expect_lying_counts_fail<ApiVersionsResponse>(
      "ApiVersions", {[](int16_t) -> size_t { return 2; },  // error_code
                      [](const ApiVersionsResponse& m) { return m.api_keys.capacity(); }});
  expect_lying_counts_fail<MetadataResponse>(
      "Metadata", {[](int16_t v) -> size_t { return v >= 3 ? 4 : 0; },  // throttle_time_ms
                   [](const MetadataResponse& m) { return m.brokers.capacity(); }});
  expect_lying_counts_fail<ProduceResponse>(
      "Produce", {[](int16_t) -> size_t { return 0; },
                  [](const ProduceResponse& m) { return m.responses.capacity(); }});
  expect_lying_counts_fail<FetchResponse>(
      "Fetch", {[](int16_t v) -> size_t { return (v >= 1 ? 4 : 0) + (v >= 7 ? 6 : 0); },  // throttle, error, session
                [](const FetchResponse& m) { return m.responses.capacity(); }});
  expect_lying_counts_fail<ListOffsetsResponse>(
      "ListOffsets", {[](int16_t v) -> size_t { return v >= 2 ? 4 : 0; },  // throttle_time_ms
                      [](const ListOffsetsResponse& m) { return m.topics.capacity(); }});
  expect_lying_counts_fail<SaslHandshakeResponse>(
      "SaslHandshake", {[](int16_t) -> size_t { return 2; },  // error_code
                        [](const SaslHandshakeResponse& m) { return m.mechanisms.capacity(); }});
  // SaslAuthenticateResponse and ResponseHeader have no arrays.
}

TEST(UntrustedCounts, EveryGroupResponseRejectsACountItsBytesCannotHold) {
  expect_lying_counts_fail<FindCoordinatorResponse>(
      "FindCoordinator", {[](int16_t) -> size_t { return 4; },  // throttle_time_ms
                          [](const FindCoordinatorResponse& m) { return m.coordinators.capacity(); },
                          nullptr, 4});  // coordinators "4+"
  expect_lying_counts_fail<JoinGroupResponse>(
      "JoinGroup", {[](int16_t v) -> size_t { return (v >= 2 ? 4 : 0) + 6; },  // throttle, error, generation
                    [](const JoinGroupResponse& m) { return m.members.capacity(); },
                    [](Frame& f, int16_t v) {
                      if (v >= 7) f.zeros(2);  // protocol_type and protocol_name null
                      else f.empty_string();  // protocol_name
                      f.empty_string();       // leader
                      if (v >= 9) f.zeros(1);  // skip_assignment
                      f.empty_string();       // member_id
                    }});
  expect_lying_counts_fail<LeaveGroupResponse>(
      "LeaveGroup", {[](int16_t) -> size_t { return 6; },  // throttle, error
                     [](const LeaveGroupResponse& m) { return m.members.capacity(); }, nullptr, 3});
  expect_lying_counts_fail<OffsetCommitResponse>(
      "OffsetCommit", {[](int16_t v) -> size_t { return v >= 3 ? 4 : 0; },  // throttle_time_ms
                       [](const OffsetCommitResponse& m) { return m.topics.capacity(); }});
  expect_lying_counts_fail<OffsetFetchResponse>(
      "OffsetFetch", {[](int16_t v) -> size_t { return v >= 3 ? 4 : 0; },  // then topics (v8+: groups)
                      [](const OffsetFetchResponse& m) { return m.topics.capacity() + m.groups.capacity(); }});
  // The consumer protocol's bytes: their first field is the array.
  expect_lying_counts_fail<ConsumerProtocolSubscription>(
      "ConsumerProtocolSubscription", {[](int16_t) -> size_t { return 0; },
                                       [](const ConsumerProtocolSubscription& m) { return m.topics.capacity(); }});
  expect_lying_counts_fail<ConsumerProtocolAssignment>(
      "ConsumerProtocolAssignment",
      {[](int16_t) -> size_t { return 0; },
       [](const ConsumerProtocolAssignment& m) { return m.assigned_partitions.capacity(); }});
  // SyncGroup, Heartbeat and InitProducerId responses have no arrays.
}

TEST(UntrustedCounts, ANestedCountIsCheckedAgainstTheBytesLeft) {
  // Metadata v1: no brokers, controller_id, one topic whose partition count lies.
  Frame f;
  f.count(0).be(1, 4).count(1).be(0, 2).be(1, 2).bytes.push_back('t');
  f.bytes.push_back(0);  // is_internal
  f.count(kFewBytes).zeros(kFewBytes);
  MetadataResponse m;
  Reader r(f.bytes);
  AllocationWatch watch;
  m.decode(r, 1);
  EXPECT_EQ(r.error(), DecodeError::kBadLength);
  EXPECT_LT(watch.allocated(), 1024u);
}

TEST(UntrustedCounts, ACountTheBytesCanHoldStillDecodes) {
  // Exactly as many minimal elements as the bytes hold: Metadata v0 topics of 8 bytes each
  // (error_code, empty name, no partitions).
  Frame f;
  f.count(0).count(512).zeros(512 * 8);
  MetadataResponse m;
  Reader r(f.bytes);
  m.decode(r, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(m.topics.size(), 512u);
}

// min_encoded_size worked out by hand from the JSON specs.
TEST(UntrustedCounts, MinimumEncodedSizesOfKnownStructs) {
  using Broker = MetadataResponse::MetadataResponseBroker;
  EXPECT_EQ(Broker::min_encoded_size(0), 10u);  // node_id, host (int16 length), port
  EXPECT_EQ(Broker::min_encoded_size(1), 12u);  // + rack (nullable int16 length)
  EXPECT_EQ(Broker::min_encoded_size(9), 11u);  // compact host and rack, tagged fields
  using Partition = MetadataResponse::MetadataResponsePartition;
  EXPECT_EQ(Partition::min_encoded_size(0), 18u);   // error, index, leader, 2 int32 counts
  EXPECT_EQ(Partition::min_encoded_size(5), 22u);   // + offline_replicas
  EXPECT_EQ(Partition::min_encoded_size(7), 26u);   // + leader_epoch
  EXPECT_EQ(Partition::min_encoded_size(12), 18u);  // 14 fixed, 3 compact counts, tagged fields
  using FetchPartition = FetchResponse::PartitionData;
  EXPECT_EQ(FetchPartition::min_encoded_size(0), 18u);   // index, error, hw, records length
  EXPECT_EQ(FetchPartition::min_encoded_size(4), 30u);   // + last_stable_offset, aborted count
  EXPECT_EQ(FetchPartition::min_encoded_size(5), 38u);   // + log_start_offset
  EXPECT_EQ(FetchPartition::min_encoded_size(11), 42u);  // + preferred_read_replica
  EXPECT_EQ(FetchPartition::min_encoded_size(12), 37u);  // compact counts, tagged fields
  EXPECT_EQ(FetchResponse::AbortedTransaction::min_encoded_size(4), 16u);
  EXPECT_EQ(FetchResponse::AbortedTransaction::min_encoded_size(12), 17u);
  EXPECT_EQ(ApiVersionsResponse::ApiVersion::min_encoded_size(0), 6u);
  EXPECT_EQ(ApiVersionsResponse::ApiVersion::min_encoded_size(3), 7u);
  using ProducePartition = ProduceResponse::PartitionProduceResponse;
  EXPECT_EQ(ProducePartition::min_encoded_size(0), 14u);  // index, error, base_offset
  EXPECT_EQ(ProducePartition::min_encoded_size(2), 22u);  // + log_append_time
  EXPECT_EQ(ProducePartition::min_encoded_size(5), 30u);  // + log_start_offset
  EXPECT_EQ(ProducePartition::min_encoded_size(8), 36u);  // + record_errors count, error_message
  EXPECT_EQ(ProducePartition::min_encoded_size(9), 33u);  // compact count and string, tagged fields
  EXPECT_EQ(ListOffsetsResponse::ListOffsetsPartitionResponse::min_encoded_size(0), 10u);
  EXPECT_EQ(ListOffsetsResponse::ListOffsetsPartitionResponse::min_encoded_size(1), 22u);
  using Member = JoinGroupResponse::JoinGroupResponseMember;
  EXPECT_EQ(Member::min_encoded_size(0), 6u);  // member_id, metadata (int32 length)
  EXPECT_EQ(Member::min_encoded_size(5), 8u);  // + group_instance_id
  EXPECT_EQ(Member::min_encoded_size(6), 4u);  // three compact lengths, tagged fields
  EXPECT_EQ(FindCoordinatorResponse::Coordinator::min_encoded_size(4), 14u);  // 10 fixed, 3 compact, tags
  EXPECT_EQ(LeaveGroupResponse::MemberResponse::min_encoded_size(3), 6u);
  EXPECT_EQ(LeaveGroupResponse::MemberResponse::min_encoded_size(4), 5u);
  EXPECT_EQ(OffsetCommitResponse::OffsetCommitResponsePartition::min_encoded_size(0), 6u);
  EXPECT_EQ(OffsetCommitResponse::OffsetCommitResponsePartition::min_encoded_size(8), 7u);
  using FetchedOffset = OffsetFetchResponse::OffsetFetchResponsePartition;
  EXPECT_EQ(FetchedOffset::min_encoded_size(0), 16u);  // index, offset, metadata, error
  EXPECT_EQ(FetchedOffset::min_encoded_size(5), 20u);  // + committed_leader_epoch
  EXPECT_EQ(FetchedOffset::min_encoded_size(6), 20u);  // compact metadata, tagged fields
  EXPECT_EQ(OffsetFetchResponse::OffsetFetchResponsePartitions::min_encoded_size(8), 20u);
  EXPECT_EQ(ConsumerProtocolAssignment::TopicPartition::min_encoded_size(0), 6u);  // topic, count
}

// An empty message (every array empty, every string empty or null, tagged fields at their
// defaults, so not written) encodes to exactly its minimum size, in every version.
// `Versions`: the message whose version range applies (nested structs have none of their own).
template <typename Message, typename Versions = Message>
void expect_empty_encodes_to_minimum() {
  for (int16_t v = Versions::kMinVersion; v <= Versions::kMaxVersion; ++v) {
    std::vector<uint8_t> out;
    Writer w(out);
    Message{}.encode(w, v);
    EXPECT_EQ(out.size(), Message::min_encoded_size(v)) << typeid(Message).name() << " v" << v;
  }
}

TEST(UntrustedCounts, AnEmptyMessageEncodesToItsMinimumSize) {
  expect_empty_encodes_to_minimum<ApiVersionsResponse>();
  expect_empty_encodes_to_minimum<MetadataResponse>();
  expect_empty_encodes_to_minimum<MetadataResponse::MetadataResponseTopic, MetadataResponse>();
  expect_empty_encodes_to_minimum<MetadataResponse::MetadataResponsePartition, MetadataResponse>();
  expect_empty_encodes_to_minimum<ProduceResponse>();
  expect_empty_encodes_to_minimum<ProduceResponse::TopicProduceResponse, ProduceResponse>();
  expect_empty_encodes_to_minimum<FetchResponse>();
  expect_empty_encodes_to_minimum<FetchResponse::FetchableTopicResponse, FetchResponse>();
  expect_empty_encodes_to_minimum<ListOffsetsResponse>();
  expect_empty_encodes_to_minimum<ListOffsetsResponse::ListOffsetsTopicResponse, ListOffsetsResponse>();
  expect_empty_encodes_to_minimum<SaslHandshakeResponse>();
  expect_empty_encodes_to_minimum<SaslAuthenticateResponse>();
  expect_empty_encodes_to_minimum<ResponseHeader>();
  expect_empty_encodes_to_minimum<MetadataRequest>();
  expect_empty_encodes_to_minimum<ProduceRequest>();
  expect_empty_encodes_to_minimum<ListOffsetsRequest>();
  expect_empty_encodes_to_minimum<FindCoordinatorResponse>();
  expect_empty_encodes_to_minimum<FindCoordinatorResponse::Coordinator, FindCoordinatorResponse>();
  expect_empty_encodes_to_minimum<JoinGroupResponse>();
  expect_empty_encodes_to_minimum<JoinGroupResponse::JoinGroupResponseMember, JoinGroupResponse>();
  expect_empty_encodes_to_minimum<SyncGroupResponse>();
  expect_empty_encodes_to_minimum<HeartbeatResponse>();
  expect_empty_encodes_to_minimum<LeaveGroupResponse>();
  expect_empty_encodes_to_minimum<LeaveGroupResponse::MemberResponse, LeaveGroupResponse>();
  expect_empty_encodes_to_minimum<OffsetCommitResponse>();
  expect_empty_encodes_to_minimum<OffsetCommitResponse::OffsetCommitResponseTopic, OffsetCommitResponse>();
  expect_empty_encodes_to_minimum<OffsetFetchResponse>();
  expect_empty_encodes_to_minimum<OffsetFetchResponse::OffsetFetchResponseTopic, OffsetFetchResponse>();
  expect_empty_encodes_to_minimum<OffsetFetchResponse::OffsetFetchResponseGroup, OffsetFetchResponse>();
  expect_empty_encodes_to_minimum<InitProducerIdResponse>();
  expect_empty_encodes_to_minimum<ConsumerProtocolSubscription>();
  expect_empty_encodes_to_minimum<ConsumerProtocolAssignment>();
  expect_empty_encodes_to_minimum<JoinGroupRequest>();
  expect_empty_encodes_to_minimum<SyncGroupRequest>();
  expect_empty_encodes_to_minimum<OffsetCommitRequest>();
  expect_empty_encodes_to_minimum<OffsetFetchRequest>();
}

// Metadata v0 with `topics` empty topics (8 bytes each).
std::vector<uint8_t> metadata_v0_with_topics(uint32_t topics) {
  Frame f;
  f.count(0).count(topics).zeros(size_t{topics} * 8);
  return f.bytes;
}

TEST(UntrustedCounts, ArraysKeepTheirCapacityUpToTheCapAndThenReleaseIt) {
  using Topic = MetadataResponse::MetadataResponseTopic;
  const uint32_t small = 1000;                                           // well under 1 MiB
  const uint32_t huge = 4 * kMaxRetainedArrayBytes / sizeof(Topic);      // 4 MiB of elements
  MetadataResponse m;
  const auto decode = [&](const std::vector<uint8_t>& bytes) {
    Reader r(bytes);
    m.decode(r, 0);
    ASSERT_TRUE(r.ok());
  };
  const auto small_frame = metadata_v0_with_topics(small);
  decode(small_frame);
  const Topic* const first = m.topics.data();
  decode(metadata_v0_with_topics(small / 2));
  EXPECT_EQ(m.topics.data(), first) << "capacity under the cap is reused";
  decode(metadata_v0_with_topics(huge));
  EXPECT_EQ(m.topics.size(), huge);
  decode(small_frame);
  EXPECT_EQ(m.topics.size(), small);
  EXPECT_LE(m.topics.capacity() * sizeof(Topic), kMaxRetainedArrayBytes) << "the huge one's capacity is released";

  // Or at once, after handling the huge one.
  decode(metadata_v0_with_topics(huge));
  m.release_if_large();
  EXPECT_EQ(m.topics.capacity(), 0u);
  decode(small_frame);
  const size_t kept = m.topics.capacity();
  m.release_if_large();
  EXPECT_EQ(m.topics.capacity(), kept) << "small arrays are kept";
}

TEST(UntrustedCounts, NestedArraysAreReleasedToo) {
  // Fetch v4: one topic, one partition with many aborted transactions (16 bytes each on the wire).
  const auto frame = [](uint32_t aborted) {
    Frame f;
    f.be(0, 4).count(1).be(1, 2).bytes.push_back('t');
    f.count(1).be(0, 4).be(0, 2).be(0, 8).be(0, 8).count(aborted).zeros(size_t{aborted} * 16).be(0, 4);
    return f.bytes;
  };
  using Aborted = FetchResponse::AbortedTransaction;
  const uint32_t huge = 2 * kMaxRetainedArrayBytes / sizeof(Aborted);
  FetchResponse m;
  for (const uint32_t n : {huge, 10u}) {
    const auto bytes = frame(n);
    Reader r(bytes);
    m.decode(r, 4);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(m.responses.at(0).partitions.at(0).aborted_transactions->size(), n);
  }
  EXPECT_LE(m.responses[0].partitions[0].aborted_transactions->capacity() * sizeof(Aborted), kMaxRetainedArrayBytes);
}

long max_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// The case that cost 1.45 GB: a 16 MiB Metadata response whose counts announce as many elements
// as there are bytes. ctest runs each test in a process of its own, so the peak RSS printed is
// this test's.
TEST(UntrustedCounts, A16MiBMetadataResponseWithLyingCountsStaysSmall) {
  const size_t body = 16u << 20;
  const long before = max_rss_kib();
  for (int16_t v : {int16_t{0}, int16_t{1}, int16_t{9}, int16_t{12}}) {
    Frame f;
    f.flexible = MetadataResponse::is_flexible(v);
    f.zeros(v >= 3 ? 4 : 0).count(static_cast<uint32_t>(body - 16)).zeros(body - 16);
    MetadataResponse m;
    Reader r(f.bytes);
    AllocationWatch watch;
    m.decode(r, v);
    EXPECT_FALSE(r.ok());
    EXPECT_LT(watch.allocated(), 1024u) << "v" << v;
  }
  std::printf("peak RSS: %ld KiB before the 16 MiB frames, %ld KiB after\n", before, max_rss_kib());
}

}  // namespace
}  // namespace ws::protocol
