// The versions the codec claims for each message must be exactly the ones Kafka's JSON specs
// list. Read with an independent JSON parser, so a stale generator output cannot agree with itself.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "protocol/consumer_protocol.h"
#include "protocol/framing.h"

namespace ws::protocol {
namespace {

struct SpecRange {
  int min = -1, max = -1, first_flexible = -1, api_key = -1;
};

int parse_lower(const std::string& s) { return s == "none" ? -1 : std::stoi(s); }

SpecRange load(const std::string& name) {
  std::ifstream in(std::string(WS_SOURCE_DIR) + "/protocol/specs/" + name + ".json");
  EXPECT_TRUE(in.good()) << name;
  std::stringstream text;
  text << in.rdbuf();
  // Kafka's spec files carry // comments.
  auto j = nlohmann::json::parse(text.str(), nullptr, true, /*ignore_comments=*/true);
  SpecRange r;
  const std::string valid = j.at("validVersions");
  const auto dash = valid.find('-');
  r.min = std::stoi(valid.substr(0, dash));
  r.max = dash == std::string::npos ? r.min : std::stoi(valid.substr(dash + 1));
  std::string flex = j.value("flexibleVersions", "none");
  if (!flex.empty() && flex.back() == '+') flex.pop_back();
  r.first_flexible = parse_lower(flex);
  r.api_key = j.value("apiKey", -1);
  return r;
}

template <typename Message>
void expect_matches(const std::string& name) {
  SCOPED_TRACE(name);
  const SpecRange spec = load(name);
  EXPECT_EQ(Message::kMinVersion, spec.min);
  EXPECT_EQ(Message::kMaxVersion, spec.max);
  EXPECT_EQ(Message::kFirstFlexibleVersion, spec.first_flexible);
}

TEST(SpecVersions, EveryMessageMatchesItsJsonSpec) {
  expect_matches<ApiVersionsRequest>("ApiVersionsRequest");
  expect_matches<ApiVersionsResponse>("ApiVersionsResponse");
  expect_matches<MetadataRequest>("MetadataRequest");
  expect_matches<MetadataResponse>("MetadataResponse");
  expect_matches<ProduceRequest>("ProduceRequest");
  expect_matches<ProduceResponse>("ProduceResponse");
  expect_matches<FetchRequest>("FetchRequest");
  expect_matches<FetchResponse>("FetchResponse");
  expect_matches<ListOffsetsRequest>("ListOffsetsRequest");
  expect_matches<ListOffsetsResponse>("ListOffsetsResponse");
  expect_matches<SaslHandshakeRequest>("SaslHandshakeRequest");
  expect_matches<SaslHandshakeResponse>("SaslHandshakeResponse");
  expect_matches<SaslAuthenticateRequest>("SaslAuthenticateRequest");
  expect_matches<SaslAuthenticateResponse>("SaslAuthenticateResponse");
  expect_matches<FindCoordinatorRequest>("FindCoordinatorRequest");
  expect_matches<FindCoordinatorResponse>("FindCoordinatorResponse");
  expect_matches<JoinGroupRequest>("JoinGroupRequest");
  expect_matches<JoinGroupResponse>("JoinGroupResponse");
  expect_matches<SyncGroupRequest>("SyncGroupRequest");
  expect_matches<SyncGroupResponse>("SyncGroupResponse");
  expect_matches<HeartbeatRequest>("HeartbeatRequest");
  expect_matches<HeartbeatResponse>("HeartbeatResponse");
  expect_matches<LeaveGroupRequest>("LeaveGroupRequest");
  expect_matches<LeaveGroupResponse>("LeaveGroupResponse");
  expect_matches<OffsetCommitRequest>("OffsetCommitRequest");
  expect_matches<OffsetCommitResponse>("OffsetCommitResponse");
  expect_matches<OffsetFetchRequest>("OffsetFetchRequest");
  expect_matches<OffsetFetchResponse>("OffsetFetchResponse");
  expect_matches<InitProducerIdRequest>("InitProducerIdRequest");
  expect_matches<InitProducerIdResponse>("InitProducerIdResponse");
  expect_matches<ConsumerProtocolSubscription>("ConsumerProtocolSubscription");
  expect_matches<ConsumerProtocolAssignment>("ConsumerProtocolAssignment");
  expect_matches<RequestHeader>("RequestHeader");
  expect_matches<ResponseHeader>("ResponseHeader");
}

TEST(SpecVersions, SupportedApiTableMatchesSpecs) {
  const std::pair<int16_t, const char*> apis[] = {
      {0, "ProduceRequest"}, {1, "FetchRequest"}, {2, "ListOffsetsRequest"}, {3, "MetadataRequest"},
      {18, "ApiVersionsRequest"}, {17, "SaslHandshakeRequest"}, {36, "SaslAuthenticateRequest"},
      {10, "FindCoordinatorRequest"}, {11, "JoinGroupRequest"}, {14, "SyncGroupRequest"},
      {12, "HeartbeatRequest"}, {13, "LeaveGroupRequest"}, {8, "OffsetCommitRequest"},
      {9, "OffsetFetchRequest"}, {22, "InitProducerIdRequest"}};
  for (auto [key, file] : apis) {
    SCOPED_TRACE(file);
    const SpecRange spec = load(file);
    const ApiSupport* api = find_api(key);
    ASSERT_NE(api, nullptr);
    EXPECT_EQ(api->api_key, spec.api_key);
    EXPECT_EQ(api->min_version, spec.min);
    EXPECT_EQ(api->max_version, spec.max);
    EXPECT_EQ(api->first_flexible, spec.first_flexible);
  }
}

TEST(SpecVersions, HeaderVersionRules) {
  EXPECT_EQ(request_header_version(0, 8), 1);
  EXPECT_EQ(request_header_version(0, 9), 2);
  EXPECT_EQ(response_header_version(0, 9), 1);
  EXPECT_EQ(response_header_version(1, 11), 0);
  EXPECT_EQ(response_header_version(1, 12), 1);
  // ApiVersionsResponse always uses header v0, even for flexible request versions.
  EXPECT_EQ(request_header_version(18, 3), 2);
  EXPECT_EQ(response_header_version(18, 3), 0);
  EXPECT_EQ(response_header_version(18, 4), 0);
}

}  // namespace
}  // namespace ws::protocol
