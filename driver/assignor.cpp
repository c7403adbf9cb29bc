#include "driver/assignor.h"

#include <algorithm>
#include <numeric>

namespace ws::driver {
namespace {

int32_t partition_count(std::span<const TopicPartitionCount> counts, std::string_view topic) {
  for (const auto& c : counts) {
    if (c.topic == topic) return std::max(0, c.partitions);
  }
  return 0;
}

bool subscribes(const std::vector<std::string_view>& sorted_topics, std::string_view topic) {
  return std::binary_search(sorted_topics.begin(), sorted_topics.end(), topic);
}

// Where member `member` gets partitions of `topic` appended (its entry is created on first use).
std::vector<int32_t>& partitions_of(std::vector<AssignedTopic>& member, std::string_view topic) {
  for (auto& t : member) {
    if (t.topic == topic) return t.partitions;
  }
  member.push_back(AssignedTopic{topic, {}});
  return member.back().partitions;
}

}  // namespace

std::vector<std::vector<AssignedTopic>> assign_partitions(AssignorKind assignor,
                                                          std::span<const MemberSubscription> members,
                                                          std::span<const TopicPartitionCount> counts) {
  std::vector<std::vector<AssignedTopic>> out(members.size());
  // A subscription naming a topic twice is one subscription (it would otherwise take two shares).
  std::vector<std::vector<std::string_view>> topics_of(members.size());
  std::vector<std::string_view> all_topics;
  for (size_t m = 0; m < members.size(); ++m) {
    auto& t = topics_of[m];
    t = members[m].topics;
    std::sort(t.begin(), t.end());
    t.erase(std::unique(t.begin(), t.end()), t.end());
    all_topics.insert(all_topics.end(), t.begin(), t.end());
  }
  std::sort(all_topics.begin(), all_topics.end());
  all_topics.erase(std::unique(all_topics.begin(), all_topics.end()), all_topics.end());
  // Members by member id: the order both Java assignors work in.
  std::vector<size_t> by_id(members.size());
  std::iota(by_id.begin(), by_id.end(), size_t{0});
  std::stable_sort(by_id.begin(), by_id.end(),
                   [&](size_t a, size_t b) { return members[a].member_id < members[b].member_id; });

  if (assignor == AssignorKind::kRange) {
    std::vector<size_t> subscribed;
    for (const std::string_view topic : all_topics) {
      const int32_t partitions = partition_count(counts, topic);
      if (partitions == 0) continue;
      subscribed.clear();
      for (const size_t m : by_id) {
        if (subscribes(topics_of[m], topic)) subscribed.push_back(m);
      }
      const auto n = static_cast<int32_t>(subscribed.size());
      const int32_t per_member = partitions / n, longer = partitions % n;
      for (int32_t i = 0; i < n; ++i) {
        const int32_t start = per_member * i + std::min(i, longer);
        const int32_t length = per_member + (i < longer ? 1 : 0);
        if (length == 0) continue;
        auto& assigned = partitions_of(out[subscribed[static_cast<size_t>(i)]], topic);
        for (int32_t p = start; p < start + length; ++p) assigned.push_back(p);
      }
    }
    return out;
  }

  size_t next = 0;  // position in by_id of the member dealt to next
  for (const std::string_view topic : all_topics) {
    const int32_t partitions = partition_count(counts, topic);
    for (int32_t p = 0; p < partitions; ++p) {
      // Some member subscribes to every topic in all_topics: the search ends within one round.
      while (!subscribes(topics_of[by_id[next]], topic)) next = (next + 1) % by_id.size();
      partitions_of(out[by_id[next]], topic).push_back(p);
      next = (next + 1) % by_id.size();
    }
  }
  return out;
}

}  // namespace ws::driver
