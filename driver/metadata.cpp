#include "driver/metadata.h"

#include <algorithm>

#include "protocol/errors.h"

namespace ws::driver {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kMinRefreshGapNs = 100 * kMs;    // the Java client's retry.backoff.ms
constexpr int64_t kIncompleteRetryNs = 250 * kMs;  // a topic being created, a partition without leader
constexpr int64_t kMaxAgeNs = 300'000 * kMs;       // the Java client's metadata.max.age.ms
// A bootstrap list none of whose brokers ever accepted a connection is given up after each was
// tried this many times (with backoff between rounds): a typo in --bootstrap fails in about a
// second, not at the end of --connect-deadline.
constexpr uint32_t kUnreachableRounds = 3;

}  // namespace

MetadataCache::MetadataCache(const RunConfig& config, BrokerRegistry& brokers, RunCounters& counters,
                             ConnectionTable& links, TimerQueue& timers, uint32_t worker_index)
    : config_(config), brokers_(brokers), counters_(counters), links_(links), timers_(timers) {
  topics_.resize(config.topics);
  for (uint32_t i = 0; i < config.topics; ++i) topics_[i].name = config.topic_name(i);
  // Workers start at different bootstrap brokers, as independent clients would.
  const size_t n = std::max<size_t>(1, brokers_.bootstrap_count());
  broker_ = static_cast<uint32_t>(worker_index % n);
}

void MetadataCache::start(int64_t now) {
  static const std::string kClientId = "wirestress-metadata";
  link_ = links_.open(kWorkerOwner, broker_, &kClientId, now, {.window = 2, .priority = true});
}

void MetadataCache::stop(int64_t now) {
  stopped_ = true;
  if (link_ != UINT32_MAX) links_.close(link_, now);
}

const MetadataCache::Partition* MetadataCache::Topic::partition(int32_t id) const {
  auto it = std::lower_bound(partitions.begin(), partitions.end(), id,
                             [](const Partition& p, int32_t v) { return p.id < v; });
  return it != partitions.end() && it->id == id ? &*it : nullptr;
}

void MetadataCache::schedule(int64_t at_ns) {
  timers_.arm(at_ns, TimerTarget{TimerTarget::kMetadata, 0});
}

void MetadataCache::request_refresh(int64_t now) {
  if (stopped_) return;
  refresh_wanted_ = true;
  if (in_flight_ || !links_.ready(link_)) return;  // the answer in flight, or the next ready link, serves it
  const int64_t earliest = last_request_ns_ + kMinRefreshGapNs;
  if (now >= earliest) return send_request(now);
  schedule(earliest);
}

void MetadataCache::on_timer(int64_t now) {
  if (stopped_ || in_flight_ || !links_.ready(link_)) return;
  if (now >= next_refresh_ns_) refresh_wanted_ = true;
  if (refresh_wanted_ && now >= last_request_ns_ + kMinRefreshGapNs) send_request(now);
}

void MetadataCache::send_request(int64_t now) {
  const Link& l = links_.link(link_);
  protocol::MetadataRequest request;
  request.topics.emplace(topics_.size());
  for (size_t i = 0; i < topics_.size(); ++i) (*request.topics)[i].name = topics_[i].name;
  request.allow_auto_topic_creation = true;
  InFlight meta;
  meta.intended_ns = now;
  links_.append(link_, request, l.versions.metadata, meta);
  links_.flush(link_, now);
  in_flight_ = true;
  refresh_wanted_ = false;
  last_request_ns_ = now;
}

void MetadataCache::on_link_event(const LinkEvent& e, int64_t now) {
  if (stopped_) return;
  switch (e.kind) {
    case LinkEvent::kReady:
      failed_connects_ = 0;
      // A Kafka 0.9 connection's handshake was a Metadata request: its answer may already be in.
      if (refresh_wanted_ || !known_) {
        if (links_.link(link_).versions.has_api_versions) send_request(now);
      }
      break;
    case LinkEvent::kLost:
      in_flight_ = false;
      refresh_wanted_ = true;
      next_broker(now);
      break;
    case LinkEvent::kResponse:
      if (e.request.api_key != protocol::MetadataRequest::kApiKey) break;
      in_flight_ = false;
      take_response(e.body, e.request.api_version, now);
      break;
    case LinkEvent::kWritten:
    case LinkEvent::kWritable:
      break;
  }
}

void MetadataCache::on_handshake_metadata(const LinkEvent& e, int64_t now) {
  if (stopped_) return;
  if (e.link == link_) in_flight_ = false;
  take_response(e.body, e.request.api_version, now);
}

void MetadataCache::next_broker(int64_t now) {
  ++failed_connects_;
  const size_t bootstrap = std::max<size_t>(1, brokers_.bootstrap_count());
  if (!known_ && !links_.has_ever_connected() && failed_connects_ >= kUnreachableRounds * bootstrap) {
    unreachable_ = true;
    failure_ = "no broker of --bootstrap answered (" + std::to_string(failed_connects_) +
               " connection attempts, last to " + brokers_.address_text(broker_) + ")";
    return;
  }
  // Round-robin over every broker the worker knows, bootstrap ones first; after a whole round
  // without an answer, wait a backoff before the next one.
  const size_t known = std::max<size_t>(1, brokers_.size());
  broker_ = static_cast<uint32_t>((broker_ + 1) % known);
  const bool round_done = failed_connects_ % known == 0;
  const int64_t not_before = round_done ? now + links_.backoff_ns(static_cast<uint8_t>(
                                                    std::min<size_t>(failed_connects_ / known, 255)))
                                        : now;
  links_.retarget(link_, broker_, now, not_before);
}

void MetadataCache::take_response(protocol::Bytes body, int16_t version, int64_t now) {
  // Metadata comes rarely: a huge answer's arrays would otherwise stay held until the next one.
  struct ReleaseWhenDone {
    protocol::MetadataResponse& response;
    ~ReleaseWhenDone() { response.release_if_large(); }
  } release{response_};
  protocol::Reader r(body);
  response_.decode(r, version);
  if (!r.ok()) {
    ++counters_.failures[static_cast<size_t>(Failure::kDecodeError)];
    refresh_wanted_ = true;
    schedule(now + kIncompleteRetryNs);
    return;
  }
  ++refreshes_;
  ++counters_.metadata_refreshes;
  bool complete = true, changed = false;
  for (Topic& mine : topics_) {
    const protocol::MetadataResponse::MetadataResponseTopic* topic = nullptr;
    for (const auto& t : response_.topics) {
      if (t.name && *t.name == mine.name) topic = &t;
    }
    const int16_t topic_error = topic ? topic->error_code : protocol::error::kUnknownTopicOrPartition;
    if (topic_error != protocol::error::kNone) {
      ++counters_.errors_by_code[topic_error];
      if (!protocol::is_retriable(topic_error) && topic_error != protocol::error::kUnknownTopicOrPartition) {
        failed_ = true;
        failure_ = "topic " + mine.name + ": " + protocol::error_name(topic_error);
        ++generation_;
        return;
      }
      // Being created (auto-create answers LEADER_NOT_AVAILABLE first), or not there yet.
      complete = false;
      continue;
    }
    std::vector<Partition> fresh;
    fresh.reserve(topic->partitions.size());
    bool topic_complete = !topic->partitions.empty();
    for (const auto& p : topic->partitions) {
      Partition part{p.partition_index, p.leader_id, BrokerRegistry::kNone};
      for (const auto& b : response_.brokers) {
        if (b.node_id == p.leader_id && p.leader_id >= 0) part.leader = brokers_.learn(b.node_id, b.host, b.port);
      }
      topic_complete &= part.leader != BrokerRegistry::kNone;
      fresh.push_back(part);
    }
    std::sort(fresh.begin(), fresh.end(), [](const Partition& a, const Partition& b) { return a.id < b.id; });
    fresh.erase(std::unique(fresh.begin(), fresh.end(),
                            [](const Partition& a, const Partition& b) { return a.id == b.id; }),
                fresh.end());
    const bool topic_changed =
        fresh.size() != mine.partitions.size() ||
        !std::equal(fresh.begin(), fresh.end(), mine.partitions.begin(),
                    [](const Partition& a, const Partition& b) { return a.id == b.id && a.leader == b.leader; });
    if (topic_changed) {
      if (mine.known) {
        for (const auto& p : fresh) {
          const Partition* old = mine.partition(p.id);
          if (old && old->leader != p.leader) {
            ++leader_changes_;
            ++counters_.leader_changes;
          }
        }
      }
      mine.partitions = std::move(fresh);
      changed = true;
    }
    mine.known = topic_complete;
    complete &= topic_complete;
  }
  if (changed) ++generation_;
  known_ = complete;
  if (!complete) {
    refresh_wanted_ = true;
    schedule(now + kIncompleteRetryNs);
  } else {
    next_refresh_ns_ = now + kMaxAgeNs;
    schedule(next_refresh_ns_);
  }
}

}  // namespace ws::driver
