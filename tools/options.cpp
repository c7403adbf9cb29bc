#include "tools/options.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sched.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "driver/payload.h"
#include "driver/shard.h"
#include "net/event_loop.h"
#include "net/uring_loop.h"
#include "ws_version.h"

namespace ws::tools {
namespace {

const char* const kDurationHint = "use a duration such as 500ms, 10s, 2m or 1h";

// The CPUs this process may use: its affinity mask and, in a container, the cgroup v2 quota
// (cpu.max "200000 100000" is 2 CPUs). hardware_concurrency() counts the node's cores: 64 worker
// threads in a pod limited to 2 CPUs would be throttled, not faster.
uint32_t usable_cpus() {
  uint32_t n = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) n = std::max(1, CPU_COUNT(&set));
  std::ifstream cpu_max("/sys/fs/cgroup/cpu.max");
  std::string quota;
  double period = 0;
  if (cpu_max >> quota >> period && quota != "max" && period > 0) {
    const double cpus = std::ceil(std::strtod(quota.c_str(), nullptr) / period);
    if (cpus >= 1 && cpus < n) n = static_cast<uint32_t>(cpus);
  }
  return n;
}

}  // namespace

void RunFlags::add_to(CLI::App& app) {
  driver::RunConfig& r = o_.run;
  r.threads = usable_cpus();
  app.get_formatter()->column_width(36);
  // Client properties come first on the (expanded) command line and the user's own flags after
  // them: the last value of a flag wins.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--bootstrap", bootstrap_,
                 "Brokers to start from, HOST:PORT[,HOST:PORT...] (default: an embedded mock broker)");
  app.add_option("--topic", r.topic, "Topic to produce to and consume from; auto-created where the broker allows")
      ->capture_default_str();
  app.add_option("--topics", r.topics,
                 "Number of topics: 1 uses --topic itself, N > 1 uses <topic>-0 .. <topic>-(N-1), client i "
                 "writing and consumer i reading topic i % N")
      ->capture_default_str();
  app.add_option("--clients", r.clients,
                 "Simulated producers, each with one connection per broker that leads a partition it writes "
                 "(0: consumers only)")
      ->capture_default_str();
  app.add_option("--partitioner", partitioner_,
                 "sticky (a partition per batch, the Java client's default without keys), round-robin, murmur2 "
                 "(the Java client's key hash; default with --key-size) or fixed (client i: partition i % N)");
  app.add_option("--rate", r.rate, "Target messages/s over all clients (open loop); 0 = as fast as possible")
      ->capture_default_str();
  app.add_option("--duration", duration_,
                 "Measured time: 500ms, 10s, 2m, 1h; 0 = until --messages are sent or Ctrl-C (default 10s, "
                 "or 0 when --messages is given)");
  app.add_option("--warmup", warmup_,
                 "Run this long after every client is ready and leave it out of the result (e.g. 10s)")
      ->capture_default_str();
  app.add_option("--messages", r.messages,
                 "Total messages over all clients (with --clients=0: records each consumer reads); without "
                 "--duration the run lasts until they are sent")
      ->capture_default_str();
  app.add_option("--acks", acks_, "0 (no response), 1 (leader) or -1/all (all in-sync replicas)")->capture_default_str();
  app.add_option("--batch", r.batch, "Records per produce request")->capture_default_str();
  app.add_option("--linger", linger_, "With --rate: how long a batch's first record may wait for the batch to fill")
      ->capture_default_str();
  app.add_option("--compression", compression_, "none, gzip, snappy, lz4 or zstd (zstd needs Kafka 2.1+)")
      ->capture_default_str();
  app.add_option("--message-size", r.message_size, "Value bytes per record")->capture_default_str();
  app.add_option("--key-size", r.key_size, "Key bytes per record; 0 = null keys")->capture_default_str();
  app.add_option("--payload", payload_,
                 "What fills each value: pattern ('a'..'z' repeated; gzip shrinks it ~6x), zeros, or random "
                 "(incompressible). Values are made before the run")
      ->capture_default_str();
  app.add_option("--payload-compressibility", payload_compressibility_,
                 "Share of random bytes at the start of each value, 0 to 1 (OMB's randomBytesRatio): the rest is "
                 "the --payload filler (pattern or zeros); 1 = all random");
  app.add_option("--payload-file", r.payload_file,
                 "Send the values of FILE in turn instead of generated ones (not with --message-size): a text file "
                 "is one value per line (kafka-producer-perf-test's --payload-file), a binary file (one with a NUL "
                 "byte) one value as it is (OMB's payloadFile); empty values are skipped");
  app.add_option("--payload-delimiter", r.payload_delimiter,
                 "Split --payload-file on this text (\\n, \\r\\n, \\t or any string; none = the whole file is one "
                 "value) rather than by the file's kind");
  app.add_option("--payload-pool-size", r.payload_pool_size,
                 "Distinct generated values sent in turn (OMB's randomizedPayloadPoolSize); 0 = enough that no "
                 "batch repeats one (1024 or --batch, at most 64 MiB of values)")
      ->capture_default_str();
  app.add_option("--max-in-flight", r.max_in_flight,
                 "Produce requests awaiting a response, per connection (acks=0: none awaits one; a write "
                 "carries up to 64 due requests, or this many if more)")
      ->capture_default_str();
  app.add_option("--churn", r.churn_per_s,
                 "Reconnects per second per producer while producing (e.g. 0.1: every ~10 s, exponential "
                 "intervals): each closes its connections once its requests are answered and connects again "
                 "through the full handshake, as restarted clients do; 0 = never")
      ->capture_default_str();
  app.add_option("--threads", r.threads,
                 "Worker threads (default: the CPUs this process may use, by its affinity and cgroup quota)")
      ->capture_default_str();
  app.add_option("--io", io_, "I/O backend: uring (falls back to asio if unavailable) or asio")->capture_default_str();
  app.add_option("--broker-version", broker_version_,
                 "auto (ask with ApiVersions once per broker; fall back to 0.9 if it does not answer within "
                 "3 s), 0.9 (never ask), or 0.10 and later (negotiate, never fall back)")
      ->capture_default_str();
  app.add_option("--request-timeout", request_timeout_, "A request without response this long resets its connection")
      ->capture_default_str();
  app.add_option("--connect-timeout", connect_timeout_,
                 "One connection attempt: TCP connect and the broker's answer to its first request")
      ->capture_default_str();
  app.add_option("--connect-deadline", connect_deadline_,
                 "The Connecting phase ends when every client is ready or at this deadline; clients not ready "
                 "then are reported (exit code 3) and keep trying")
      ->capture_default_str();
  app.add_option("--reconnect-backoff", reconnect_backoff_, "Wait after a connection's first failure")
      ->capture_default_str();
  app.add_option("--reconnect-backoff-max", reconnect_backoff_max_,
                 "The wait doubles per failure (+-20% jitter) up to this; a good response resets it")
      ->capture_default_str();
  app.add_option("--drain-timeout", drain_timeout_, "After the measured time (or Ctrl-C), wait this long for responses")
      ->capture_default_str();
  app.add_option("--stall-timeout", stall_timeout_,
                 "Without --duration: end the run (degraded, exit code 3) when nothing moved for this long")
      ->capture_default_str();
  app.add_option("--report-interval", report_interval_, "Time between progress lines")->capture_default_str();
  app.add_option("--max-connecting", r.max_connecting,
                 "Connection handshakes in progress at once (keep below the broker's listen backlog)")
      ->capture_default_str();
  app.add_option("--source-addresses", source_addresses_,
                 "Local IPs to bind connections to, in turn, ADDR[,ADDR...] (past a broker's "
                 "max.connections.per.ip or one address's ephemeral ports)");
  app.add_option("--client-id", r.client_id_prefix, "client.id prefix; each client appends -N")->capture_default_str();
  app.add_option("--brokers", o_.embedded_brokers,
                 "Brokers of the embedded mock cluster, leaders spread over them (without --bootstrap only)")
      ->capture_default_str();
  app.add_option("--partitions", o_.embedded_partitions, "Partitions of the topic on the embedded broker")
      ->capture_default_str();
  app.add_option("--json", o_.json_path,
                 "Write the result (config, per-interval series, totals, histograms) to FILE; '-' prints it on "
                 "stdout after the summary, between '----- BEGIN WIRESTRESS RESULT -----' and '----- END "
                 "WIRESTRESS RESULT -----' lines (for kubectl logs)");
  app.add_option("--shards", shards_,
                 "Load hosts running this one test together (e.g. a Kubernetes Indexed Job; README: Many load "
                 "hosts): --clients, --consumers, --rate and --messages are the totals, split exactly over the "
                 "shards, and this process runs the part of --shard")
      ->capture_default_str();
  app.add_option("--shard", shard_,
                 "Which of the --shards this process is, 0 to N-1 (default: $JOB_COMPLETION_INDEX, which "
                 "Kubernetes sets in Indexed Jobs)");
  app.add_option("--start-at", start_at_,
                 "Begin the load at this wall-clock time, once every client is connected: Unix milliseconds "
                 "(date +%s%3N) or +DURATION from now (+30s). Shards given the same milliseconds line up their "
                 "measured windows and check each other's --verify records; a load that begins late is reported "
                 "(exit 3)");
  app.add_option("--hlog", o_.hlog_path,
                 "Write an HdrHistogram interval log (tags latency_us, service_latency_us) to FILE");
  app.add_option("--csv", o_.csv_path, "Write one row per report interval to FILE (for plotting)");
  app.add_option("--workload", workload_path_,
                 "Run an OpenMessaging Benchmark workload FILE.yaml (topics, partitionsPerTopic, producersPerTopic, "
                 "subscriptionsPerTopic x consumerPerSubscription, producerRate, messageSize, payloads, keys, "
                 "durations); flags given beside it override it");
  app.add_option("--omb-result", o_.omb_result_path,
                 "Write the result as OpenMessaging Benchmark's TestResult JSON to FILE (for OMB's charts)");
  app.add_option("--prometheus", o_.prometheus_port,
                 "Serve /metrics in the Prometheus text format on this port while the run lasts (0 = any free port)");
  app.add_option("--prometheus-bind", o_.prometheus_bind,
                 "Local IP address the /metrics server listens on (0.0.0.0 or :: for a Prometheus on another host)")
      ->capture_default_str();
  app.add_option("--latency-max", latency_max_,
                 "Highest latency the histograms hold (larger samples are counted as out of range)")
      ->capture_default_str();
  app.add_option("--latency-digits", o_.latency_digits,
                 "Significant figures the histograms keep (1-5; 3 = 0.1% resolution, 184 KiB per histogram)")
      ->capture_default_str();
  app.add_flag("--quiet", o_.quiet, "No per-interval lines, only the summary");
  app.add_option("--consumers", r.consumers,
                 "Simulated consumers, each reading every partition of its topic on its own connection (with "
                 "--group-mode=shared, only the partitions its group assigns it)")
      ->capture_default_str();
  app.add_option("--consume-from", consume_from_, "latest (the end of the log, taken before any producer starts) or earliest")
      ->capture_default_str();
  app.add_option("--fetch-max-wait", fetch_max_wait_, "How long the broker may hold a fetch to gather --fetch-min-bytes")
      ->capture_default_str();
  app.add_option("--fetch-min-bytes", r.fetch_min_bytes, "Bytes the broker waits for before answering a fetch")
      ->capture_default_str();
  app.add_option("--fetch-max-bytes", r.fetch_max_bytes, "Bytes per fetch response (Fetch v3+; per partition on older brokers)")
      ->capture_default_str();
  app.add_option("--max-response-bytes", r.max_response_bytes,
                 "Largest response frame accepted from a broker; a larger one is refused before it is read "
                 "(response_too_large, the connection reset). 65536 to 268435456")
      ->capture_default_str();
  app.add_option("--max-receive-memory", r.max_receive_memory,
                 "Bytes of split response frames all connections may hold at once; past it a connection is "
                 "reset (receive_memory_exhausted). 0: 2 x --max-response-bytes, at least 1 GiB")
      ->capture_default_str();
  app.add_option("-X", x_properties_,
                 "A client property as for the Java client or librdkafka, KEY=VALUE, repeatable: security.protocol "
                 "(PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), sasl.mechanism(s) (PLAIN, SCRAM-SHA-256, "
                 "SCRAM-SHA-512, OAUTHBEARER), sasl.username, sasl.password, sasl.jaas.config, "
                 "sasl.oauthbearer.token(.file), ssl.ca.location, ssl.truststore.location/.password (PKCS12), "
                 "ssl.keystore.location/.password, ssl.certificate.location, ssl.key.location, ssl.key.password, "
                 "ssl.endpoint.identification.algorithm, enable.ssl.certificate.verification, ssl.cipher.suites, "
                 "ssl.enabled.protocols, and flags' equivalents: bootstrap.servers, client.id, acks, linger.ms, "
                 "batch.size (bytes), compression.type, request.timeout.ms, "
                 "max.in.flight.requests.per.connection, reconnect.backoff(.max).ms, fetch.*, auto.offset.reset. "
                 "Flags given on the command line win")
      ->take_all();
  app.add_option("--config", config_file_, "A client.properties file with the same keys as -X (read first)");
  group_flags_.add_to(app);
  app.add_flag("--idempotent", r.idempotent,
               "Idempotent producers, as the Java client's default since Kafka 3.0: each takes a producer id "
               "(InitProducerId) and numbers its batches; Kafka 0.11+, --acks=all (its default here), --max-in-flight "
               "at most 5 (-X enable.idempotence=true does the same)");
  app.add_flag("--verify", r.verify,
               "Producers stamp every record (run, producer, sequence, send time, xxHash); consumers count "
               "lost, duplicated, out-of-order and corrupt records and end-to-end latency");
}

bool RunFlags::apply_sharding(const CLI::App& app, driver::RunConfig& r, std::string& error) const {
  auto bad = [&](const std::string& flag, const std::string& value, const std::string& accepted) {
    error = tool_ + ": " + flag + ": '" + value + "' is not valid; " + accepted;
    return false;
  };
  auto count_of = [](const std::string& text, uint32_t& out) {
    if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) return false;
    out = static_cast<uint32_t>(std::stoul(text));
    return true;
  };
  uint32_t shards = 0, shard = 0;
  if (!count_of(shards_, shards)) return bad("--shards", shards_, "use 1 to 100000");
  // Kubernetes gives every pod of an Indexed Job the same arguments and its index in this variable.
  std::string shard_text = shard_, shard_source = "--shard";
  const char* job_index = std::getenv("JOB_COMPLETION_INDEX");
  if (app.count("--shard") == 0 && shards > 1) {
    if (!job_index) {
      return bad("--shard", "", "give --shard=I (0 to " + std::to_string(shards - 1) +
                                    ") with --shards, or run in a Kubernetes Indexed Job, which sets "
                                    "JOB_COMPLETION_INDEX");
    }
    shard_text = job_index;
    shard_source = "JOB_COMPLETION_INDEX";
  }
  if (!shard_text.empty() && !count_of(shard_text, shard)) {
    return bad(shard_source, shard_text, "use 0 to " + std::to_string(std::max(1u, shards) - 1));
  }
  if (auto e = driver::validate_shard(r, shards, shard)) {
    if (shard_source != "--shard" && e->flag == "--shard") e->flag = shard_source;
    error = tool_ + ": " + e->message();
    return false;
  }
  if (shards > 1) driver::apply_shard(r, shards, shard);

  if (start_at_.empty()) return true;
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  constexpr int64_t kDayMs = 24 * 3600 * 1000;
  const std::string accepted = "use Unix milliseconds within the next 24 hours (date +%s%3N) or +DURATION (+30s)";
  if (start_at_[0] == '+') {
    std::chrono::nanoseconds after{};
    if (!driver::parse_duration(start_at_.substr(1), after) || after > std::chrono::hours(24)) {
      return bad("--start-at", start_at_, accepted);
    }
    r.start_at_unix_ms = now_ms + std::chrono::duration_cast<std::chrono::milliseconds>(after).count();
    return true;
  }
  if (start_at_.size() > 18 || start_at_.find_first_not_of("0123456789") != std::string::npos) {
    return bad("--start-at", start_at_, accepted);
  }
  const int64_t at = std::stoll(start_at_);
  if (at < 100'000'000'000) {  // before 1973 in ms, but 5138 in s: seconds were given
    return bad("--start-at", start_at_, "that looks like seconds; " + accepted);
  }
  // A pod scheduled late still runs (and reports how late it began); an hour is a mistake.
  if (at < now_ms - 3600 * 1000 || at > now_ms + kDayMs) return bad("--start-at", start_at_, accepted);
  r.start_at_unix_ms = at;
  return true;
}

std::optional<RunOptions> RunFlags::finish(const CLI::App& app, std::string& error) const {
  RunOptions o = o_;
  driver::RunConfig& r = o.run;
  auto bad = [&](const std::string& flag, const std::string& value, const std::string& accepted) {
    error = tool_ + ": " + flag + ": '" + value + "' is not valid; " + accepted;
    return std::nullopt;
  };
  const std::pair<const char*, std::pair<const std::string*, std::chrono::nanoseconds*>> durations[] = {
      {"--duration", {&duration_, &r.duration}},
      {"--warmup", {&warmup_, &r.warmup}},
      {"--latency-max", {&latency_max_, &o.latency_max}},
      {"--linger", {&linger_, &r.linger}},
      {"--request-timeout", {&request_timeout_, &r.request_timeout}},
      {"--connect-timeout", {&connect_timeout_, &r.connect_timeout}},
      {"--connect-deadline", {&connect_deadline_, &r.connect_deadline}},
      {"--reconnect-backoff", {&reconnect_backoff_, &r.reconnect_backoff}},
      {"--reconnect-backoff-max", {&reconnect_backoff_max_, &r.reconnect_backoff_max}},
      {"--drain-timeout", {&drain_timeout_, &r.drain_timeout}},
      {"--stall-timeout", {&stall_timeout_, &r.stall_timeout}},
      {"--report-interval", {&report_interval_, &r.report_interval}},
      {"--fetch-max-wait", {&fetch_max_wait_, &r.fetch_max_wait}},
  };
  for (const auto& [flag, target] : durations) {
    if (!parse_duration(*target.first, *target.second)) return bad(flag, *target.first, kDurationHint);
  }
  // --messages alone: the run lasts until they are sent (guarded by --stall-timeout).
  if (r.messages > 0 && app.count("--duration") == 0) r.duration = std::chrono::nanoseconds(0);

  if (acks_ == "0" || acks_ == "1" || acks_ == "-1" || acks_ == "all") {
    r.acks = acks_ == "all" ? -1 : static_cast<int16_t>(std::stoi(acks_));
  } else {
    return bad("--acks", acks_, "use 0, 1, -1 or all");
  }
  // As the Java client, where enable.idempotence=true makes acks default to all.
  if (r.idempotent && app.count("--acks") == 0) r.acks = -1;
  const auto codec = protocol::parse_codec(compression_);
  if (!codec) return bad("--compression", compression_, "use none, gzip, snappy, lz4 or zstd");
  r.compression = *codec;
  if (io_ != "uring" && io_ != "asio") return bad("--io", io_, "use uring or asio");
  r.io = io_ == "asio" ? driver::IoBackend::kAsio : driver::IoBackend::kUring;
  if (consume_from_ != "latest" && consume_from_ != "earliest") {
    return bad("--consume-from", consume_from_, "use latest or earliest");
  }
  r.consume_from_earliest = consume_from_ == "earliest";
  if (broker_version_ == "auto") {
    r.broker_version = driver::BrokerVersion::kAuto;
  } else if (broker_version_ == "0.9" || broker_version_.starts_with("0.9.")) {
    r.broker_version = driver::BrokerVersion::kV0_9;
  } else {
    // Any release from 0.10 on answers ApiVersions, so the exact number changes nothing here.
    int major = -1, minor = -1;
    char dot = 0;
    std::istringstream in(broker_version_);
    if (!(in >> major >> dot >> minor) || dot != '.' || (major == 0 && minor < 10) || major < 0) {
      return bad("--broker-version", broker_version_, "use auto, 0.9, 0.10, 0.11, 1.0, 2.8, 3.7 ...");
    }
    r.broker_version = driver::BrokerVersion::kV0_10;
  }
  // What -X / --config said that no flag carries.
  if (properties_.security_given) r.security = properties_.security;
  // A certificate or store that cannot be read fails every connection: say so now, by its key.
  const auto& tls = r.security.tls;
  for (const auto& [key, path] : {std::pair{"ssl.ca.location", &tls.ca_location},
                                  std::pair{"ssl.truststore.location", &tls.truststore_location},
                                  std::pair{"ssl.certificate.location", &tls.certificate_location},
                                  std::pair{"ssl.key.location", &tls.key_location},
                                  std::pair{"ssl.keystore.location", &tls.keystore_location}}) {
    if (!path->empty() && ::access(path->c_str(), R_OK) != 0) {
      error = tool_ + ": " + key + ": cannot read '" + *path + "' (" + std::strerror(errno) + ")";
      return std::nullopt;
    }
  }
  if (properties_.batch_bytes > 0 && app.count("--batch") == 0) {
    // batch.size is bytes for the Java client; --batch counts records.
    const uint64_t record = std::max<uint64_t>(1, uint64_t{r.message_size} + r.key_size);
    r.batch = static_cast<uint32_t>(std::clamp<uint64_t>(properties_.batch_bytes / record, 1, 1'000'000));
  }
  if (payload_ == "pattern" || payload_ == "zeros" || payload_ == "random") {
    r.payload = payload_ == "zeros"    ? driver::PayloadKind::kZeros
                : payload_ == "random" ? driver::PayloadKind::kRandom
                                       : driver::PayloadKind::kPattern;
  } else {
    return bad("--payload", payload_, "use pattern, zeros or random");
  }
  // Before the checks below: the workload fills what no flag gave, then everything is checked
  // alike. The payload flags are parsed just above, so a workload's payload is not overwritten.
  if (!workload_path_.empty()) {
    OmbWorkload workload;
    if (!load_omb_workload(workload_path_, workload, error)) {
      error = tool_ + ": " + error;
      return std::nullopt;
    }
    apply_omb_workload(workload, [&](const char* flag) { return app.count(flag) > 0; }, r, o.embedded_partitions);
    o.workload = std::move(workload);
  }
  if (!payload_compressibility_.empty()) {
    char* end = nullptr;
    r.payload_random_share = std::strtod(payload_compressibility_.c_str(), &end);
    if (end != payload_compressibility_.c_str() + payload_compressibility_.size() || !(r.payload_random_share >= 0) ||
        r.payload_random_share > 1) {
      return bad("--payload-compressibility", payload_compressibility_,
                 "use a share of random bytes from 0 (none) to 1 (all), e.g. 0.5");
    }
    if (r.payload == driver::PayloadKind::kRandom && r.payload_random_share < 1) {
      return bad("--payload-compressibility", payload_compressibility_,
                 "--payload=random makes every byte random: use it with --payload=pattern or zeros");
    }
  }
  if (!r.payload_file.empty()) {
    // As kafka-producer-perf-test: the file's values have their own sizes.
    for (const char* flag : {"--message-size", "--payload", "--payload-compressibility", "--payload-pool-size"}) {
      if (app.count(flag)) {
        error = tool_ + ": " + flag + ": not with --payload-file, whose values are sent as they are";
        return std::nullopt;
      }
    }
    // Read now, so that a missing file or a value too short for --verify is a usage error.
    if (!driver::PayloadPool::load(r, error)) {
      error = tool_ + ": " + error;
      return std::nullopt;
    }
  } else if (app.count("--payload-delimiter")) {
    return bad("--payload-delimiter", r.payload_delimiter, "it splits --payload-file: give that too");
  }
  if (!partitioner_.empty()) {
    driver::PartitionerKind kind{};
    if (!driver::parse_partitioner(partitioner_, kind)) {
      return bad("--partitioner", partitioner_, "use sticky, round-robin, murmur2 or fixed");
    }
    r.partitioner = kind;
  }
  if (!source_addresses_.empty()) {
    // Empty items stay (and fail validation): "a,,b" or "a," is a typo, not two addresses.
    for (size_t start = 0;;) {
      const size_t comma = source_addresses_.find(',', start);
      r.source_addresses.push_back(source_addresses_.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (!bootstrap_.empty()) {
    std::stringstream list(bootstrap_);
    std::string item;
    while (std::getline(list, item, ',')) {
      const auto colon = item.rfind(':');
      if (item.empty() || colon == std::string::npos || colon == 0 || colon + 1 == item.size()) {
        return bad("--bootstrap", bootstrap_, "use HOST:PORT[,HOST:PORT...]");
      }
      r.bootstrap.push_back(item);
    }
  }
  if (o.latency_digits < 1 || o.latency_digits > 5) {
    return bad("--latency-digits", std::to_string(o.latency_digits), "use 1 to 5");
  }
  if (o.latency_max < std::chrono::milliseconds(1)) {
    return bad("--latency-max", latency_max_, "use 1ms or more (e.g. 10s, 1h)");
  }
  if (o.prometheus_port < -1 || o.prometheus_port > 65535) {
    return bad("--prometheus", std::to_string(o.prometheus_port), "use a port from 0 (any free one) to 65535");
  }
  // A numeric address of this host: a host name could resolve elsewhere between runs, and an
  // address the host does not have would only fail once the run has started.
  {
    sockaddr_storage bind_address{};
    auto* v4 = reinterpret_cast<sockaddr_in*>(&bind_address);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&bind_address);
    socklen_t length = 0;
    if (::inet_pton(AF_INET, o.prometheus_bind.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      length = sizeof *v4;
    } else if (::inet_pton(AF_INET6, o.prometheus_bind.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      length = sizeof *v6;
    } else {
      return bad("--prometheus-bind", o.prometheus_bind,
                 "use an IP address of this host: 127.0.0.1 (default), 0.0.0.0 (every interface), ::1 or ::");
    }
    if (o.prometheus_port >= 0) {
      const int fd = ::socket(bind_address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      const int err =
          fd < 0 ? errno : (::bind(fd, reinterpret_cast<sockaddr*>(&bind_address), length) == 0 ? 0 : errno);
      if (fd >= 0) ::close(fd);
      if (err != 0) {
        return bad("--prometheus-bind", o.prometheus_bind,
                   std::string("this host cannot listen on it (") + std::strerror(err) +
                       "); use an address of this host");
      }
    }
  }
  if (o.embedded_partitions < 1 || o.embedded_partitions > 10'000) {
    return bad("--partitions", std::to_string(o.embedded_partitions), "use 1 to 10000");
  }
  if (o.embedded_brokers < 1 || o.embedded_brokers > 100) {
    return bad("--brokers", std::to_string(o.embedded_brokers), "use 1 to 100");
  }
  // wirestress does not create topics on a real cluster (Kafka 0.9 has no CreateTopics): saying
  // nothing would run against whatever partition count the topic has.
  for (const char* flag : {"--partitions", "--brokers"}) {
    if (!bootstrap_.empty() && app.count(flag)) {
      error = tool_ + ": " + flag + ": sizes the embedded broker only; with --bootstrap, create the topic on the "
              "cluster (kafka-topics.sh --create --partitions N --replication-factor R)";
      return std::nullopt;
    }
  }
  if (!group_flags_.finish(app, r.group, error, o.workload ? omb_subscription_groups(*o.workload, r) : 0)) {
    error = tool_ + ": " + error;
    return std::nullopt;
  }
  // The scenario's own rules (ranges and combinations) are RunConfig's: sweep and ceiling, which
  // build configs without flags, get the same checks. The bootstrap may still be empty here (the
  // embedded broker fills it in), so check a copy with a placeholder.
  driver::RunConfig check = r;
  if (check.bootstrap.empty()) check.bootstrap = {"embedded:0"};
  if (auto e = check.validate()) {
    error = tool_ + ": " + e->message();
    return std::nullopt;
  }
  if (!apply_sharding(app, r, error)) return std::nullopt;
  // An address this host does not have would fail every connection bound to it: say so now.
  for (const auto& address : r.source_addresses) {
    const bool v6 = address.find(':') != std::string::npos;
    net::Endpoint source;
    std::string why;
    if (!net::resolve((v6 ? "[" + address + "]" : address) + ":0", source, why, true)) {
      return bad("--source-addresses", address, why);
    }
    const int fd = ::socket(source.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int err = fd < 0 ? errno : net::bind_source(fd, source);
    if (fd >= 0) ::close(fd);
    if (err != 0) {
      return bad("--source-addresses", address,
                 std::string("this host cannot bind it (") + std::strerror(err) + "); use addresses of this host");
    }
  }
  for (const auto& [flag, path] : {std::pair{"--json", &o.json_path}, std::pair{"--csv", &o.csv_path},
                                   std::pair{"--hlog", &o.hlog_path}, std::pair{"--omb-result", &o.omb_result_path}}) {
    if (app.count(flag) && path->empty()) return bad(flag, "", "give a file name, e.g. " + std::string(flag) + "=out");
  }
  return o;
}

bool expand_client_properties(int argc, const char* const* argv, ExpandedCommandLine& out, std::string& error) {
  std::vector<Property> properties;
  if (!collect_properties(argc, argv, properties, error) || !map_properties(properties, out.mapped, error)) {
    return false;
  }
  out.args.clear();
  out.args.push_back(argc > 0 ? argv[0] : "wirestress");
  out.args.insert(out.args.end(), out.mapped.flag_args.begin(), out.mapped.flag_args.end());
  for (int i = 1; i < argc; ++i) out.args.push_back(argv[i]);
  out.argv.clear();
  for (const auto& a : out.args) out.argv.push_back(a.c_str());
  return true;
}

std::string flag_with_empty_value(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.size() > 3 && a.starts_with("--") && a.back() == '=') return a.substr(0, a.size() - 1);
  }
  return "";
}

std::string check_output_path(const std::string& flag, const std::string& path) {
  if (path.empty()) return "";
  std::ofstream probe(path, std::ios::app);  // create it if need be, but do not truncate yet
  if (!probe) return flag + ": cannot write '" + path + "'";
  return "";
}

std::string version_text(const std::string& tool) {
  std::string net = "io_uring";
  std::string why;
  if (!net::UringLoop::create(net::LoopOptions{}, why)) net = "asio (io_uring unavailable: " + why + ")";
  return tool + " " + WS_VERSION + " (git " + WS_GIT_REVISION + "), I/O: " + net + ", asio";
}

ParseOutcome parse_options(int argc, const char* const* argv, const std::string& tool) {
  ParseOutcome outcome;
  if (const std::string flag = flag_with_empty_value(argc, argv); !flag.empty()) {
    outcome.exit_code = 2;
    outcome.output = tool + ": " + flag + ": '' is not valid; give a value (" + flag + "=VALUE)";
    return outcome;
  }
  ExpandedCommandLine expanded;
  std::string error;
  if (!expand_client_properties(argc, argv, expanded, error)) {
    outcome.exit_code = 2;
    outcome.output = tool + ": " + error;
    return outcome;
  }
  CLI::App app{tool + ": drive thousands of simulated Kafka clients per core against a broker.", tool};
  RunFlags flags(tool);
  flags.add_to(app);
  flags.set_properties(expanded.mapped);
  bool version = false;
  app.add_flag("--version", version, "Print the version and exit");
  try {
    app.parse(expanded.argc(), expanded.argv.data());
  } catch (const CLI::CallForHelp&) {
    outcome.output = app.help();
    return outcome;
  } catch (const CLI::ParseError& e) {
    outcome.exit_code = 2;
    outcome.output = tool + ": " + e.what() + " (see --help)";
    return outcome;
  }
  if (version) {
    outcome.output = version_text(tool);
    return outcome;
  }
  outcome.options = flags.finish(app, error);
  if (!outcome.options) {
    outcome.exit_code = 2;
    outcome.output = error;
  }
  return outcome;
}

}  // namespace ws::tools
