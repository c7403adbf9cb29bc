#include "tools/omb_workload.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "driver/verify.h"

namespace ws::tools {
namespace {

// OMB's KeyDistributor hands out 7-byte keys (from a fixed pool); wirestress's keys are
// `<client>-<sequence>` padded or cut to --key-size, so only their length and hashing match.
constexpr uint32_t kOmbKeyBytes = 7;

std::chrono::nanoseconds minutes(double m) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double, std::ratio<60>>(m));
}

}  // namespace

bool load_omb_workload(const std::string& path, OmbWorkload& out, std::string& error) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    error = "--workload: cannot read '" + path + "'";
    return false;
  } catch (const YAML::Exception& e) {
    error = "--workload: '" + path + "' is not valid YAML (" + e.what() + ")";
    return false;
  }
  if (!root.IsMap()) {
    error = "--workload: '" + path + "' is not an OMB workload (a map of key: value)";
    return false;
  }
  OmbWorkload w;
  w.path = path;
  std::string key;
  try {
    for (const auto& item : root) {
      key = item.first.as<std::string>();
      const YAML::Node& value = item.second;
      if (key == "name") {
        w.name = value.as<std::string>();
      } else if (key == "topics") {
        w.topics = value.as<uint32_t>();
      } else if (key == "partitionsPerTopic") {
        w.partitions_per_topic = value.as<uint32_t>();
      } else if (key == "keyDistributor") {
        w.key_distributor = value.as<std::string>();
        if (w.key_distributor != "NO_KEY" && w.key_distributor != "KEY_ROUND_ROBIN" &&
            w.key_distributor != "RANDOM_NANO") {
          error = "--workload: keyDistributor: '" + w.key_distributor +
                  "' is not valid; use NO_KEY, KEY_ROUND_ROBIN or RANDOM_NANO";
          return false;
        }
      } else if (key == "messageSize") {
        w.message_size = value.as<uint32_t>();
      } else if (key == "useRandomizedPayloads") {
        w.use_randomized_payloads = value.as<bool>();
      } else if (key == "randomBytesRatio") {
        w.random_bytes_ratio = value.as<double>();
        if (!(w.random_bytes_ratio >= 0 && w.random_bytes_ratio <= 1)) {
          error = "--workload: randomBytesRatio: '" + value.as<std::string>() + "' is not valid; use 0 to 1";
          return false;
        }
      } else if (key == "randomizedPayloadPoolSize") {
        w.randomized_payload_pool_size = value.as<uint32_t>();
      } else if (key == "payloadFile") {
        w.payload_file = value.as<std::string>();
      } else if (key == "subscriptionsPerTopic") {
        w.subscriptions_per_topic = value.as<uint32_t>();
      } else if (key == "consumerPerSubscription") {
        w.consumer_per_subscription = value.as<uint32_t>();
      } else if (key == "producersPerTopic") {
        w.producers_per_topic = value.as<uint32_t>();
      } else if (key == "producerRate") {
        w.producer_rate = value.as<double>();
      } else if (key == "consumerBacklogSizeGB") {
        w.consumer_backlog_size_gb = value.as<uint64_t>();
      } else if (key == "testDurationMinutes") {
        w.test_duration_minutes = value.as<double>();
      } else if (key == "warmupDurationMinutes") {
        w.warmup_duration_minutes = value.as<double>();
      } else if (key == "backlogDrainRatio") {
        // Only meaningful with a consumer backlog, which is refused below.
      } else {
        error = "--workload: '" + key + "' is not an OMB workload key this version knows";
        return false;
      }
    }
  } catch (const YAML::Exception&) {
    error = "--workload: " + key + ": the value in '" + path + "' is not of the kind OMB expects";
    return false;
  }
  if (w.consumer_backlog_size_gb != 0) {
    // OMB then stops the consumers, builds up that much backlog and times its drain: a different
    // run shape from wirestress's, so refuse rather than run something else under the same name.
    error = "--workload: consumerBacklogSizeGB: " + std::to_string(w.consumer_backlog_size_gb) +
            " is unsupported (wirestress has no backlog-drain phase); use 0";
    return false;
  }
  if (w.producer_rate < 0 || (w.test_duration_minutes && *w.test_duration_minutes < 0) ||
      w.warmup_duration_minutes < 0) {
    error = "--workload: producerRate, testDurationMinutes and warmupDurationMinutes must not be negative";
    return false;
  }
  out = std::move(w);
  return true;
}

std::string resolve_payload_file(const OmbWorkload& workload) {
  namespace fs = std::filesystem;
  const fs::path file(workload.payload_file);
  if (file.is_absolute() || fs::exists(file)) return workload.payload_file;
  const fs::path beside = fs::path(workload.path).parent_path() / file;
  return fs::exists(beside) ? beside.string() : workload.payload_file;
}

void apply_omb_workload(const OmbWorkload& w, const std::function<bool(const char*)>& given,
                        driver::RunConfig& config, int& embedded_partitions) {
  if (!given("--topics")) config.topics = w.topics;
  // With --bootstrap this sizes nothing (wirestress creates no topics); it still names the
  // partition count in the OMB result.
  if (!given("--partitions")) embedded_partitions = static_cast<int>(w.partitions_per_topic);
  // Per topic in OMB, so per topic of the run's topic count (which --topics may have changed).
  // Producer i writes topic i % topics, as OMB spreads producers evenly.
  if (!given("--clients")) config.clients = config.topics * w.producers_per_topic;
  // consumers = subscriptions x consumers per subscription per topic; apply_omb_subscriptions
  // puts each subscription's consumers in one group.
  if (!given("--consumers")) config.consumers = config.topics * w.consumers_per_topic();
  // OMB's producerRate is the total over all producers, as --rate is. 0 in OMB searches for the
  // highest sustainable rate; here it means as fast as possible (a `ceiling` run finds the limit).
  if (!given("--rate")) config.rate = w.producer_rate;
  if (w.test_duration_minutes && !given("--duration") && !given("--messages")) {
    config.duration = minutes(*w.test_duration_minutes);
  }
  if (!given("--warmup")) config.warmup = minutes(w.warmup_duration_minutes);
  // Approximate: OMB draws keys from a pool (in turn, or at random); wirestress makes a distinct
  // key per record of the same length. Both spread records over partitions with the Java
  // client's murmur2 hash (the partitioner wirestress picks when there are keys).
  if (!given("--key-size")) config.key_size = w.key_distributor == "NO_KEY" ? 0 : kOmbKeyBytes;
  if (w.message_size && !given("--message-size")) config.message_size = *w.message_size;

  // The values: any payload flag replaces the workload's payload settings as a whole.
  const bool payload_given = given("--payload") || given("--payload-file") || given("--payload-compressibility");
  if (!payload_given) {
    if (w.use_randomized_payloads) {
      // OMB puts randomBytesRatio of random bytes first and zeros after them.
      config.payload = driver::PayloadKind::kZeros;
      config.payload_random_share = w.random_bytes_ratio;
      if (!given("--payload-pool-size")) config.payload_pool_size = w.randomized_payload_pool_size;
    } else if (!w.payload_file.empty() && !given("--message-size") && !given("--payload-pool-size")) {
      // OMB sends the whole file as every value, whatever it holds.
      config.payload_file = resolve_payload_file(w);
      if (!given("--payload-delimiter")) config.payload_delimiter = "none";
    }
  }
  // OMB always measures end-to-end latency; wirestress needs the --verify stamp for it, which
  // takes the first bytes of every value (a value too short for it keeps the run unstamped).
  const bool stamp_fits = !config.payload_file.empty() || config.message_size >= driver::kVerifyHeaderSize;
  if (config.consumers > 0 && stamp_fits) config.verify = true;
}

uint32_t omb_subscription_groups(const OmbWorkload& w, const driver::RunConfig& config) {
  if (config.consumers == 0 || w.subscriptions_per_topic == 0) return 0;
  // Consumer j reads topic j % topics and joins group j % groups. With groups = topics x
  // subscriptions (a multiple of topics), every member of a group reads the group's one topic, and
  // each group gets consumerPerSubscription members, as OMB's subscription does.
  const uint64_t subscriptions = uint64_t{std::max(1u, config.topics)} * w.subscriptions_per_topic;
  return static_cast<uint32_t>(std::min<uint64_t>(subscriptions, config.consumers));
}

}  // namespace ws::tools
