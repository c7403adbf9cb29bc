// What one wirestress run does: the scenario as plain data. The command line (tools/options.cpp),
// sweep and ceiling (driver/capacity/) fill it; validate() checks it; derive() fills in the
// settings that follow from the others; driver/ runs it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "driver/group_config.h"
#include "driver/partitioner.h"
#include "protocol/compression.h"

namespace ws::driver {

enum class IoBackend : uint8_t { kUring, kAsio };

// What fills the record values (--payload): 'a'..'z' repeated, zero bytes, or random bytes.
enum class PayloadKind : uint8_t { kPattern, kZeros, kRandom };

// What the client assumes about the broker before talking to it.
enum class BrokerVersion : uint8_t {
  kAuto,    // ask with ApiVersions; if the broker closes or ignores it (Kafka < 0.10), fall back to 0.9
  kV0_9,    // never send ApiVersions: Produce v1, Metadata v0 (magic 0 messages)
  kV0_10,   // the broker has ApiVersions (0.10.0+): negotiate, never fall back
};

// A value the run cannot use: the flag it came from, the value, and what is accepted instead.
// The command line prints it as one line and exits 2.
struct ConfigError {
  std::string flag;
  std::string value;
  std::string accepted;
  std::string message() const { return flag + ": '" + value + "' is not valid; " + accepted; }
};

// How connections are secured: Kafka's security.protocol and what it needs. Set from client
// properties (-X key=value, --config=FILE; see tools/client_properties.h) as users write them for
// the Java client or librdkafka. Secrets live here and nowhere else: never in the JSON or output.
enum class SecurityProtocol : uint8_t { kPlaintext, kSsl, kSaslPlaintext, kSaslSsl };
const char* security_protocol_name(SecurityProtocol p);  // "PLAINTEXT", "SSL", ...

struct TlsSettings {
  std::string ca_location;          // ssl.ca.location: PEM file or directory; empty: the system store
  std::string truststore_location;  // ssl.truststore.location (PKCS12), with its password
  std::string truststore_password;
  std::string certificate_location;  // ssl.certificate.location (PEM), for mutual TLS
  std::string key_location;          // ssl.key.location (PEM)
  std::string key_password;          // ssl.key.password
  std::string keystore_location;     // ssl.keystore.location (PKCS12: certificate and key)
  std::string keystore_password;
  bool verify_certificate = true;    // enable.ssl.certificate.verification
  bool verify_hostname = true;       // ssl.endpoint.identification.algorithm=https (default) or none
  std::string cipher_suites;         // ssl.cipher.suites
  std::string min_protocol;          // from ssl.enabled.protocols: "TLSv1.2" or "TLSv1.3"; empty: OpenSSL's
};

struct SaslSettings {
  std::string mechanism = "PLAIN";  // sasl.mechanism(s): PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER
  std::string username;
  std::string password;
  std::string token;  // OAUTHBEARER: sasl.oauthbearer.token (or .token.file)
};

struct SecuritySettings {
  SecurityProtocol protocol = SecurityProtocol::kPlaintext;
  TlsSettings tls;
  SaslSettings sasl;
  bool uses_tls() const { return protocol == SecurityProtocol::kSsl || protocol == SecurityProtocol::kSaslSsl; }
  bool uses_sasl() const {
    return protocol == SecurityProtocol::kSaslPlaintext || protocol == SecurityProtocol::kSaslSsl;
  }
};

// --shards/--shard: this process is shard `index` of `count` load hosts running one test. The
// run's totals are kept here; RunConfig's own clients, consumers, rate and messages are this
// shard's share (driver/shard.h splits them). first_client and first_consumer place this shard's
// clients among all: client ids, keys, topics and send phases follow that index, so that N
// shards behave on the wire as one process with every client would.
struct ShardPlan {
  uint32_t count = 1;
  uint32_t index = 0;
  uint32_t first_client = 0;
  uint32_t first_consumer = 0;
  uint32_t clients_total = 0;
  uint32_t consumers_total = 0;
  double rate_total = 0;
  uint64_t messages_total = 0;
};

struct RunConfig {
  using Duration = std::chrono::nanoseconds;

  std::vector<std::string> bootstrap;  // host:port, at least one
  std::string topic = "wirestress";
  // --topics=N: the topics are <topic>-0 .. <topic>-(N-1); client i writes topic i % N and
  // consumer j reads topic j % N (OMB's producersPerTopic / consumers per topic). 1: just <topic>.
  uint32_t topics = 1;
  uint32_t clients = 1;
  double rate = 0;                      // aggregate messages/s over all clients; 0 = as fast as possible
  // Measured time. 0 = until --messages are sent (guarded by stall_timeout) or Ctrl-C.
  Duration duration = std::chrono::seconds(10);
  Duration warmup{0};                   // after Connecting, before the measured time; excluded from it
  uint64_t messages = 0;                // total over all clients; 0 = until --duration
  int16_t acks = 1;                     // 0, 1 or -1
  uint32_t batch = 1;                   // records per produce request
  Duration linger{0};                   // paced runs: how long a batch's first record may wait
  protocol::Codec compression = protocol::Codec::kNone;
  uint32_t message_size = 100;          // value bytes
  uint32_t key_size = 0;                // 0 = null keys
  // The values (see driver/payload.h): --payload's filler, the share of random bytes in each value
  // (--payload-compressibility, OMB's randomBytesRatio; 1 with PayloadKind::kRandom), or the values
  // of --payload-file, split on --payload-delimiter ("": by the file's kind, "none": never).
  PayloadKind payload = PayloadKind::kPattern;
  double payload_random_share = 0;
  std::string payload_file;
  std::string payload_delimiter;
  uint32_t payload_pool_size = 0;       // distinct generated values; 0 = chosen by the run
  uint32_t max_in_flight = 5;           // requests awaiting a response, per connection
  // --churn: reconnects per second per producer while producing (0: none). Each producer closes
  // and reopens all its connections at exponential intervals of mean 1/churn, once nothing it
  // sent is waiting for an answer, as a restarted client would.
  double churn_per_s = 0;
  uint32_t threads = 1;
  IoBackend io = IoBackend::kUring;
  BrokerVersion broker_version = BrokerVersion::kAuto;
  std::string client_id_prefix = "wirestress";
  // Limits the wire imposes (checked by validate()): Kafka's topic names, and client.id's int16
  // length less the "-consumer-NNNNNNNNNN" a client appends.
  static constexpr size_t kMaxTopicNameLength = 249;
  static constexpr size_t kMaxClientIdPrefixLength = 32'767 - 30;
  Duration request_timeout = std::chrono::seconds(30);
  // One connection attempt: TCP connect and the broker's answer to the first request.
  Duration connect_timeout = std::chrono::seconds(10);
  // The Connecting phase ends when every client is ready or at this deadline; clients not ready
  // then are reported and the run goes on without them (they keep trying).
  Duration connect_deadline = std::chrono::seconds(60);
  Duration reconnect_backoff = std::chrono::milliseconds(100);    // after the first failure
  Duration reconnect_backoff_max = std::chrono::seconds(5);       // doubling up to this
  Duration drain_timeout = std::chrono::seconds(5);  // after the measured time: wait for responses
  // A run without --duration ends, degraded, when nothing was sent, acknowledged or received for
  // this long.
  Duration stall_timeout = std::chrono::seconds(30);
  Duration report_interval = std::chrono::seconds(1);
  // Connection handshakes in progress at once over all workers (TCP connect until the broker's
  // answer to the first request). Kept below the broker's listen backlog (Kafka's default is 50):
  // past it, the kernel answers with SYN cookies and the broker sees the connection late.
  uint32_t max_connecting = 32;

  // Consumers: simulated fetch clients, each reading every partition of the topic on its own (as
  // if each were alone in its consumer group). With clients == 0, --messages is per consumer.
  uint32_t consumers = 0;
  bool consume_from_earliest = false;  // false: start at the end of the log, before producing begins
  Duration fetch_max_wait = std::chrono::milliseconds(500);
  uint32_t fetch_min_bytes = 1;
  uint32_t fetch_max_bytes = 1024 * 1024;  // per response (Fetch v3+), per partition before that
  // Untrusted bytes: a response frame announcing more is refused before it is read
  // (response_too_large, the connection reset). Kafka's own cap is 256 MiB; a fetch asks for less.
  uint32_t max_response_bytes = 100 * 1024 * 1024;
  // Bytes of split response frames all connections of the process may hold at once (a frame read
  // in one piece is parsed in place and costs nothing here). 0: 2 x max_response_bytes, at least
  // 1 GiB. Past it a connection is reset (receive_memory_exhausted) rather than the process dying.
  uint64_t max_receive_memory = 0;
  // Which partition a producer's records go to; sticky without keys and murmur2 with keys unless
  // given (see driver/partitioner.h).
  std::optional<PartitionerKind> partitioner;
  // Local addresses connections are bound to, in turn (one host past a broker's
  // max.connections.per.ip, or past one address's ephemeral ports). Empty: the kernel picks.
  std::vector<std::string> source_addresses;
  // Producers write (run, producer, sequence, send time, hash) into every value; consumers check
  // it and count lost, duplicated, reordered and corrupt records, and end-to-end latency.
  bool verify = false;
  // --idempotent: producers take a producer id (InitProducerId) and number their batches, as the
  // Java producer does by default since Kafka 3.0 (driver/idempotence.h). Kafka 0.11+, acks=all.
  bool idempotent = false;
  // Consumer groups: --group-mode, --groups, --assignor, --session-timeout, --heartbeat-interval,
  // --commit-interval, --group-prefix (see driver/group_config.h).
  GroupSettings group;

  ShardPlan shard;
  // --start-at: the wall-clock instant (Unix ms) the load begins, once every client is connected;
  // shards given the same instant line up their measured windows. 0: as soon as all are connected.
  int64_t start_at_unix_ms = 0;

  SecuritySettings security;
  // The command that asked for this run, for the JSON (run.command_line), secrets masked.
  std::string command_line;

  // Derived by derive(); not set by hand.
  uint32_t workers = 1;                    // worker threads actually used (no empty ones)
  uint32_t connect_slots_per_worker = 32;  // max_connecting split over the workers
  uint64_t receive_budget_per_worker = 1ull << 30;  // max_receive_memory split over the workers (>= one frame)

  // The first value the run cannot use, or nothing. Checks ranges and combinations.
  std::optional<ConfigError> validate() const;
  // Fills the derived fields. Call after validate().
  void derive();

  // Helpers the workers share.
  uint64_t record_interval_ns() const;  // paced runs: time between two records of one client; 0 unpaced
  std::string topic_name(uint32_t index) const;  // index < topics
  // Producer or consumer `global` of this process, numbered among every shard's (see ShardPlan).
  uint32_t client_number(uint32_t global) const { return shard.first_client + global; }
  uint32_t consumer_number(uint32_t global) const { return shard.first_consumer + global; }
  uint32_t clients_in_run() const { return shard.count > 1 ? shard.clients_total : clients; }
  // Client i writes topic i % topics and consumer j reads topic j % topics, counted over all shards.
  uint32_t producer_topic(uint32_t global) const { return client_number(global) % std::max(1u, topics); }
  uint32_t consumer_topic(uint32_t global) const { return consumer_number(global) % std::max(1u, topics); }
  double random_share() const { return payload == PayloadKind::kRandom ? 1.0 : payload_random_share; }
  PartitionerKind partitioner_kind() const {
    return partitioner ? *partitioner : (key_size > 0 ? PartitionerKind::kMurmur2 : PartitionerKind::kSticky);
  }
};

// "500ms", "10s", "2m", "1h", "0" (plain numbers are seconds). False on anything else.
bool parse_duration(const std::string& text, std::chrono::nanoseconds& out);
// The same, for messages: "1.5s", "250ms".
std::string format_duration(std::chrono::nanoseconds d);

}  // namespace ws::driver
