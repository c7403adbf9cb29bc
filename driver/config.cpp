#include "driver/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "driver/verify.h"
#include "protocol/framing.h"
#include "protocol/sasl/sasl.h"

namespace ws::driver {
namespace {

std::string text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

}  // namespace

bool parse_duration(const std::string& text_in, std::chrono::nanoseconds& out) {
  size_t digits = 0;
  while (digits < text_in.size() &&
         (std::isdigit(static_cast<unsigned char>(text_in[digits])) || text_in[digits] == '.')) {
    ++digits;
  }
  if (digits == 0) return false;
  char* end = nullptr;
  const std::string number = text_in.substr(0, digits);
  const double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || value < 0) return false;
  static const std::map<std::string, double> kUnitNs = {
      {"", 1e9}, {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  const auto unit = kUnitNs.find(text_in.substr(digits));
  if (unit == kUnitNs.end()) return false;
  const double ns = value * unit->second;
  if (ns > 9e18) return false;  // beyond int64 nanoseconds (292 years)
  out = std::chrono::nanoseconds(static_cast<int64_t>(ns));
  return true;
}

std::string format_duration(std::chrono::nanoseconds d) {
  const double ns = static_cast<double>(d.count());
  if (ns == 0) return "0";
  if (ns < 1e6) return text(ns / 1e3) + "us";
  if (ns < 1e9) return text(ns / 1e6) + "ms";
  return text(ns / 1e9) + "s";
}

std::optional<ConfigError> RunConfig::validate() const {
  auto bad = [](std::string flag, std::string value, std::string accepted) {
    return std::optional<ConfigError>(ConfigError{std::move(flag), std::move(value), std::move(accepted)});
  };
  auto dur = [](Duration d) { return format_duration(d); };
  if (bootstrap.empty()) return bad("--bootstrap", "", "use HOST:PORT[,HOST:PORT...]");
  for (const auto& b : bootstrap) {
    const auto colon = b.rfind(':');
    if (b.empty() || colon == std::string::npos || colon == 0 || colon + 1 == b.size()) {
      return bad("--bootstrap", b, "use HOST:PORT[,HOST:PORT...]");
    }
  }
  // What the user typed, cut to a readable length (a 40,000-character --topic must not fill the screen).
  auto shown = [](const std::string& v) {
    return v.size() <= 60 ? v : v.substr(0, 40) + "... (" + std::to_string(v.size()) + " characters)";
  };
  if (topics < 1 || topics > 100'000) return bad("--topics", std::to_string(topics), "use 1 to 100000");
  // Kafka's rules for topic names (kafka.common.Topic): the broker refuses anything else, and a
  // name longer than int16 would wrap its length field on the wire.
  if (topic.empty() || topic == "." || topic == ".." ||
      topic.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
          std::string::npos) {
    return bad("--topic", shown(topic), "use letters, digits, '.', '_' and '-' (not \".\" or \"..\")");
  }
  if (const size_t longest = topic_name(topics - 1).size(); longest > kMaxTopicNameLength) {
    return bad("--topic", shown(topic),
               "use at most " + std::to_string(kMaxTopicNameLength) + " characters" +
                   (topics > 1 ? " including the -N suffix of --topics (" + std::to_string(longest) + " here)" : ""));
  }
  // client.id is an int16-length string in every request header; each client appends
  // "-consumer-N" at most (see Producer and Consumer).
  if (client_id_prefix.size() > kMaxClientIdPrefixLength) {
    return bad("--client-id", shown(client_id_prefix),
               "use at most " + std::to_string(kMaxClientIdPrefixLength) + " bytes");
  }
  for (const auto& a : source_addresses) {
    unsigned char buf[sizeof(in6_addr)];
    if (inet_pton(AF_INET, a.c_str(), buf) != 1 && inet_pton(AF_INET6, a.c_str(), buf) != 1) {
      return bad("--source-addresses", a, "use local IP addresses, e.g. 127.0.0.2,127.0.0.3 (no names, no ports)");
    }
  }
  if (source_addresses.size() > 1000) {
    return bad("--source-addresses", std::to_string(source_addresses.size()) + " addresses", "use at most 1000");
  }
  if (security.uses_sasl()) {
    protocol::sasl::Mechanism m{};
    if (!protocol::sasl::parse_mechanism(security.sasl.mechanism, m)) {
      return bad("sasl.mechanism", security.sasl.mechanism, "use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER");
    }
    std::string why;
    if (!protocol::sasl::validate_credentials(
            m, {security.sasl.username, security.sasl.password, security.sasl.token}, why)) {
      return bad("sasl.username", security.sasl.username, why);
    }
  }
  if (partitioner == PartitionerKind::kMurmur2 && key_size == 0) {
    return bad("--partitioner", "murmur2", "murmur2 hashes keys: give --key-size too, or use sticky or round-robin");
  }
  if (clients > 1'000'000) return bad("--clients", std::to_string(clients), "use 0 to 1000000");
  if (consumers > 1'000'000) return bad("--consumers", std::to_string(consumers), "use 0 to 1000000");
  if (clients == 0 && consumers == 0) {
    return bad("--clients", "0", "use 1 or more, or give --consumers for a consumer-only run");
  }
  if (!(rate >= 0) || rate > 1e9) return bad("--rate", text(rate), "use 0 (unpaced) to 1e9 messages/s");
  if (acks != 0 && acks != 1 && acks != -1) return bad("--acks", std::to_string(acks), "use 0, 1, -1 or all");
  if (batch < 1 || batch > 100'000) return bad("--batch", std::to_string(batch), "use 1 to 100000");
  if (message_size > 64u * 1024 * 1024) return bad("--message-size", std::to_string(message_size), "use 0 to 67108864");
  if (key_size > 1024u * 1024) return bad("--key-size", std::to_string(key_size), "use 0 to 1048576");
  if (max_in_flight < 1 || max_in_flight > 1024) {
    return bad("--max-in-flight", std::to_string(max_in_flight), "use 1 to 1024");
  }
  if (threads < 1 || threads > 1024) return bad("--threads", std::to_string(threads), "use 1 to 1024");
  // The Java client's rules for enable.idempotence: written once needs every replica's word, and
  // the broker keeps the last 5 batches per producer and partition to spot duplicates.
  if (idempotent && acks != -1) {
    return bad("--acks", std::to_string(acks), "--idempotent needs --acks=all (-1), as the Java client does");
  }
  if (idempotent && max_in_flight > 5) {
    return bad("--max-in-flight", std::to_string(max_in_flight),
               "use 1 to 5 with --idempotent (the broker checks the last 5 batches for duplicates)");
  }
  if (max_connecting < 1 || max_connecting > 100'000) {
    return bad("--max-connecting", std::to_string(max_connecting), "use 1 to 100000");
  }
  if (report_interval < std::chrono::milliseconds(100)) {
    return bad("--report-interval", dur(report_interval), "use 100ms or more");
  }
  if (request_timeout.count() == 0) return bad("--request-timeout", "0", "use more than 0");
  if (connect_timeout.count() == 0) return bad("--connect-timeout", "0", "use more than 0");
  if (connect_deadline.count() == 0) return bad("--connect-deadline", "0", "use more than 0");
  if (stall_timeout.count() == 0) return bad("--stall-timeout", "0", "use more than 0");
  if (reconnect_backoff.count() == 0) return bad("--reconnect-backoff", "0", "use more than 0");
  if (reconnect_backoff_max < reconnect_backoff) {
    return bad("--reconnect-backoff-max", dur(reconnect_backoff_max),
               "use at least --reconnect-backoff (" + dur(reconnect_backoff) + ")");
  }
  if (consumers > 0 && fetch_max_wait >= request_timeout) {
    return bad("--fetch-max-wait", dur(fetch_max_wait), "use less than --request-timeout (a held fetch would time out)");
  }
  if (fetch_min_bytes < 1 || fetch_min_bytes > (1u << 30)) {
    return bad("--fetch-min-bytes", std::to_string(fetch_min_bytes), "use 1 to 1073741824");
  }
  if (fetch_max_bytes < 1024 || fetch_max_bytes > (1u << 30)) {
    return bad("--fetch-max-bytes", std::to_string(fetch_max_bytes), "use 1024 to 1073741824");
  }
  if (!(churn_per_s >= 0 && churn_per_s <= 100)) {
    return bad("--churn", text(churn_per_s), "use 0 (none) to 100 reconnects per second per client");
  }
  if (max_response_bytes < 64 * 1024 || max_response_bytes > static_cast<uint32_t>(protocol::kMaxFrameSize)) {
    return bad("--max-response-bytes", std::to_string(max_response_bytes), "use 65536 to 268435456 (256 MiB)");
  }
  if (consumers > 0 && fetch_max_bytes > max_response_bytes) {
    return bad("--fetch-max-bytes", std::to_string(fetch_max_bytes),
               "use at most --max-response-bytes (" + std::to_string(max_response_bytes) + ")");
  }
  if (max_receive_memory != 0 && max_receive_memory < max_response_bytes) {
    return bad("--max-receive-memory", std::to_string(max_receive_memory),
               "use 0 (automatic) or at least --max-response-bytes (" + std::to_string(max_response_bytes) + ")");
  }
  if (!(payload_random_share >= 0 && payload_random_share <= 1)) {
    return bad("--payload-compressibility", text(payload_random_share),
               "use 0 (no random bytes) to 1 (every byte random)");
  }
  if (payload_pool_size > 1'000'000) {
    return bad("--payload-pool-size", std::to_string(payload_pool_size), "use 0 (automatic) to 1000000");
  }
  if (payload_file.empty() && uint64_t{payload_pool_size} * message_size > (1ull << 30)) {
    return bad("--payload-pool-size", std::to_string(payload_pool_size),
               "use at most 1 GiB of values (--payload-pool-size x --message-size)");
  }
  if (auto group_error = validate_group_settings(*this)) return group_error;
  if (verify && payload_file.empty() && message_size < kVerifyHeaderSize) {
    return bad("--message-size", std::to_string(message_size),
               "--verify needs " + std::to_string(kVerifyHeaderSize) + " bytes or more");
  }
  return std::nullopt;
}

void RunConfig::derive() {
  // No empty workers: a thread without clients would only cost a core.
  workers = std::max<uint32_t>(1, std::min(threads, clients + consumers));
  connect_slots_per_worker = std::max(1u, max_connecting / workers);
  const uint64_t total = max_receive_memory != 0
                             ? max_receive_memory
                             : std::max<uint64_t>(2ull * max_response_bytes, 1ull << 30);
  // Every worker can always take one frame of the largest size allowed.
  receive_budget_per_worker = std::max<uint64_t>(total / workers, max_response_bytes);
}

const char* security_protocol_name(SecurityProtocol p) {
  switch (p) {
    case SecurityProtocol::kPlaintext: return "PLAINTEXT";
    case SecurityProtocol::kSsl: return "SSL";
    case SecurityProtocol::kSaslPlaintext: return "SASL_PLAINTEXT";
    case SecurityProtocol::kSaslSsl: return "SASL_SSL";
  }
  return "PLAINTEXT";
}

std::string RunConfig::topic_name(uint32_t index) const {
  return topics <= 1 ? topic : topic + "-" + std::to_string(index);
}

uint64_t RunConfig::record_interval_ns() const {
  if (rate <= 0 || clients == 0) return 0;
  const double per_client = rate / clients;
  return std::max<uint64_t>(1, static_cast<uint64_t>(1e9 / per_client));
}

}  // namespace ws::driver
