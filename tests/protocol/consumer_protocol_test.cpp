// The consumer protocol's embedded bytes (protocol/consumer_protocol.h): the subscription each
// member puts in JoinGroup's protocol metadata and the assignment the leader hands out through
// SyncGroup. Expected bytes are spelled out with golden_byte_builder.h from
// protocol/specs/ConsumerProtocol{Subscription,Assignment}.json: an int16 version, then the
// fields (never flexible: classic strings, int32 counts, no tagged fields).
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/consumer_protocol.h"
#include "golden_byte_builder.h"

namespace ws::protocol {
namespace {

constexpr int kMaxV = 3;  // both: "validVersions": "0-3", "flexibleVersions": "none"
const std::vector<uint8_t> kUserData = {0xde, 0xad, 0xbe, 0xef};

TEST(ConsumerProtocol, ConstantsMatchSpec) {
  EXPECT_EQ(ConsumerProtocolSubscription::kMinVersion, 0);
  EXPECT_EQ(ConsumerProtocolSubscription::kMaxVersion, kMaxV);
  EXPECT_EQ(ConsumerProtocolSubscription::kFirstFlexibleVersion, -1);
  EXPECT_EQ(ConsumerProtocolAssignment::kMinVersion, 0);
  EXPECT_EQ(ConsumerProtocolAssignment::kMaxVersion, kMaxV);
  EXPECT_EQ(ConsumerProtocolAssignment::kFirstFlexibleVersion, -1);
  EXPECT_EQ(kConsumerProtocolType, "consumer");
}

ConsumerProtocolSubscription FullSubscription() {
  ConsumerProtocolSubscription s;
  s.topics = {"orders", "payments"};
  s.user_data = kUserData;
  s.owned_partitions = {{"orders", {0, 3}}, {"payments", {}}};
  s.generation_id = 12;
  s.rack_id = "rack-a";
  return s;
}

ConsumerProtocolSubscription SubscriptionFor(int16_t v) {
  ConsumerProtocolSubscription s = FullSubscription();
  if (v < 1) s.owned_partitions.clear();  // OwnedPartitions "1+"
  if (v < 2) s.generation_id = -1;        // GenerationId "2+", default -1
  if (v < 3) s.rack_id.reset();           // RackId "3+"
  return s;
}

B SubscriptionBytes(int16_t v) {
  B e;
  e.i16(v);                                                   // version prefix
  e.arr(2).str("orders").str("payments");                     // Topics
  e.i32(4).raw(kUserData);                                    // UserData (nullable bytes)
  if (v >= 1) {
    e.arr(2).str("orders").arr(2).i32(0).i32(3);              // OwnedPartitions
    e.str("payments").arr(0);
  }
  if (v >= 2) e.i32(12);                                      // GenerationId
  if (v >= 3) e.str("rack-a");                                // RackId
  return e;
}

ConsumerProtocolAssignment FullAssignment() {
  ConsumerProtocolAssignment a;
  a.assigned_partitions = {{"orders", {1, 2, 5}}, {"payments", {0}}};
  a.user_data = std::nullopt;
  return a;
}

B AssignmentBytes(int16_t v) {
  B e;
  e.i16(v);
  e.arr(2).str("orders").arr(3).i32(1).i32(2).i32(5);  // AssignedPartitions
  e.str("payments").arr(1).i32(0);
  e.i32(-1);                                           // UserData: null
  return e;
}

std::vector<uint8_t> encoded_subscription(const ConsumerProtocolSubscription& s, int16_t v) {
  std::vector<uint8_t> out;
  encode_consumer_subscription(out, s, v);
  return out;
}

std::vector<uint8_t> encoded_assignment(const ConsumerProtocolAssignment& a, int16_t v) {
  std::vector<uint8_t> out;
  encode_consumer_assignment(out, a, v);
  return out;
}

TEST(ConsumerProtocol, SubscriptionEveryVersion) {
  for (int16_t v = 0; v <= kMaxV; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    const std::vector<uint8_t> bytes = SubscriptionBytes(v).b;
    EXPECT_BYTES(encoded_subscription(FullSubscription(), v), bytes);
    ConsumerProtocolSubscription got = FullSubscription();  // a used object
    const ConsumerProtocolDecode d = decode_consumer_subscription(bytes, got);
    ASSERT_TRUE(d.ok()) << to_string(d.error);
    EXPECT_EQ(d.version, v);
    EXPECT_TRUE(got == SubscriptionFor(v));
  }
}

TEST(ConsumerProtocol, AssignmentEveryVersion) {
  for (int16_t v = 0; v <= kMaxV; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    const std::vector<uint8_t> bytes = AssignmentBytes(v).b;
    EXPECT_BYTES(encoded_assignment(FullAssignment(), v), bytes);
    ConsumerProtocolAssignment got;
    got.user_data = kUserData;
    const ConsumerProtocolDecode d = decode_consumer_assignment(bytes, got);
    ASSERT_TRUE(d.ok()) << to_string(d.error);
    EXPECT_EQ(d.version, v);
    EXPECT_TRUE(got == FullAssignment());
  }
}

// The v0 subscription a Kafka 0.9 consumer sends for one topic and no user data, byte by byte.
TEST(ConsumerProtocol, SubscriptionV0Literal) {
  ConsumerProtocolSubscription s;
  s.topics = {"t"};
  const std::vector<uint8_t> want = {0x00, 0x00,              // version 0
                                     0x00, 0x00, 0x00, 0x01,  // 1 topic
                                     0x00, 0x01, 't',         // "t"
                                     0xff, 0xff, 0xff, 0xff}; // user data: null
  EXPECT_BYTES(encoded_subscription(s, 0), want);
}

// Kafka's consumers read a newer version with the newest layout they know and ignore the rest:
// versions only append fields.
TEST(ConsumerProtocol, NewerVersionReadWithNewestLayout) {
  B sub = SubscriptionBytes(kMaxV);
  sub.b[1] = 7;                         // version 7
  sub.str("a field from the future").i64(99);
  ConsumerProtocolSubscription s;
  ConsumerProtocolDecode d = decode_consumer_subscription(sub.b, s);
  ASSERT_TRUE(d.ok()) << to_string(d.error);
  EXPECT_EQ(d.version, 7);
  EXPECT_TRUE(s == SubscriptionFor(kMaxV));

  B asg = AssignmentBytes(kMaxV);
  asg.b[1] = 4;
  asg.i32(123);
  ConsumerProtocolAssignment a;
  d = decode_consumer_assignment(asg.b, a);
  ASSERT_TRUE(d.ok()) << to_string(d.error);
  EXPECT_EQ(d.version, 4);
  EXPECT_TRUE(a == FullAssignment());
}

TEST(ConsumerProtocol, MalformedBytesFail) {
  ConsumerProtocolSubscription s;
  ConsumerProtocolAssignment a;
  // A negative version.
  std::vector<uint8_t> negative = SubscriptionBytes(0).b;
  negative[0] = 0xff;
  EXPECT_EQ(decode_consumer_subscription(negative, s).error, DecodeError::kBadValue);
  // Bytes left over after a version this codec knows.
  std::vector<uint8_t> trailing = AssignmentBytes(1).b;
  trailing.push_back(0);
  EXPECT_EQ(decode_consumer_assignment(trailing, a).error, DecodeError::kTrailingBytes);
  // Every member sends a subscription: none at all is an error.
  EXPECT_EQ(decode_consumer_subscription({}, s).error, DecodeError::kTruncated);
  // A topic count the bytes cannot hold (each topic takes at least its 2-byte length).
  const std::vector<uint8_t> lying = B().i16(0).arr(1000).raw({0, 0, 0, 0}).b;
  EXPECT_EQ(decode_consumer_subscription(lying, s).error, DecodeError::kBadLength);
  EXPECT_TRUE(s.topics.capacity() < 1000);
  const std::vector<uint8_t> lying_partitions = B().i16(0).arr(1).str("t").arr(0x7fffffff).b;
  EXPECT_EQ(decode_consumer_assignment(lying_partitions, a).error, DecodeError::kBadLength);
}

// The coordinator gives a member the leader left out an empty assignment: no partitions.
TEST(ConsumerProtocol, EmptyAssignmentBytesMeanNoPartitions) {
  ConsumerProtocolAssignment a = FullAssignment();
  const ConsumerProtocolDecode d = decode_consumer_assignment({}, a);
  EXPECT_TRUE(d.ok());
  EXPECT_EQ(d.version, -1);
  EXPECT_TRUE(a.assigned_partitions.empty());
  EXPECT_FALSE(a.user_data.has_value());
}

// Every strict prefix fails (except the empty assignment, which is valid), never reading past it.
TEST(ConsumerProtocol, TruncatedFails) {
  for (int16_t v = 0; v <= kMaxV; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    const std::vector<uint8_t> sub = SubscriptionBytes(v).b;
    for (size_t len = 0; len < sub.size(); ++len) {
      const std::vector<uint8_t> cut(sub.begin(), sub.begin() + static_cast<ptrdiff_t>(len));
      ConsumerProtocolSubscription s;
      EXPECT_FALSE(decode_consumer_subscription(cut, s).ok()) << len << " bytes";
    }
    const std::vector<uint8_t> asg = AssignmentBytes(v).b;
    for (size_t len = 1; len < asg.size(); ++len) {
      const std::vector<uint8_t> cut(asg.begin(), asg.begin() + static_cast<ptrdiff_t>(len));
      ConsumerProtocolAssignment a;
      EXPECT_FALSE(decode_consumer_assignment(cut, a).ok()) << len << " bytes";
    }
  }
}

}  // namespace
}  // namespace ws::protocol
