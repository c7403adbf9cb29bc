// Kafka error codes by name, so reports say NOT_LEADER_OR_FOLLOWER rather than 6.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ws::protocol {

// The name Kafka gives an error code ("NONE" for 0); "UNKNOWN_ERROR_CODE_<n>" for codes this
// table does not know, so a new broker's code is still counted separately.
std::string error_name(int16_t code);

// Errors after which retrying the same request (after a metadata refresh or backoff) can succeed.
bool is_retriable(int16_t code);

namespace error {
inline constexpr int16_t kNone = 0;
inline constexpr int16_t kUnknownServerError = -1;
inline constexpr int16_t kOffsetOutOfRange = 1;
inline constexpr int16_t kCorruptMessage = 2;
inline constexpr int16_t kUnknownTopicOrPartition = 3;
inline constexpr int16_t kLeaderNotAvailable = 5;
inline constexpr int16_t kNotLeaderOrFollower = 6;
inline constexpr int16_t kRequestTimedOut = 7;
inline constexpr int16_t kMessageTooLarge = 10;
inline constexpr int16_t kRecordListTooLarge = 18;
// Consumer groups. Kafka 0.9 called 14-16 GROUP_LOAD_IN_PROGRESS, GROUP_COORDINATOR_NOT_AVAILABLE
// and NOT_COORDINATOR_FOR_GROUP; the codes are the same.
inline constexpr int16_t kCoordinatorLoadInProgress = 14;
inline constexpr int16_t kCoordinatorNotAvailable = 15;
inline constexpr int16_t kNotCoordinator = 16;
inline constexpr int16_t kIllegalGeneration = 22;
inline constexpr int16_t kInconsistentGroupProtocol = 23;
inline constexpr int16_t kInvalidGroupId = 24;
inline constexpr int16_t kUnknownMemberId = 25;
inline constexpr int16_t kInvalidSessionTimeout = 26;
inline constexpr int16_t kRebalanceInProgress = 27;
inline constexpr int16_t kGroupAuthorizationFailed = 30;
inline constexpr int16_t kMemberIdRequired = 79;
inline constexpr int16_t kUnsupportedVersion = 35;
// Idempotent producers (KIP-98, Kafka 0.11).
inline constexpr int16_t kOutOfOrderSequenceNumber = 45;
inline constexpr int16_t kDuplicateSequenceNumber = 46;
inline constexpr int16_t kInvalidProducerEpoch = 47;
inline constexpr int16_t kConcurrentTransactions = 51;
inline constexpr int16_t kUnknownProducerId = 59;
}  // namespace error

}  // namespace ws::protocol
