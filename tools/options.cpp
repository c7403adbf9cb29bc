#include "tools/options.h"

#include "driver/verify.h"

#include <CLI/CLI.hpp>

#include <cctype>
#include <cstdlib>
#include <map>
#include <sstream>
#include <thread>

namespace ws::tools {

bool parse_duration(const std::string& text, std::chrono::nanoseconds& out) {
  size_t digits = 0;
  while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) {
    ++digits;
  }
  if (digits == 0) return false;
  char* end = nullptr;
  const std::string number = text.substr(0, digits);
  const double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || value < 0) return false;
  static const std::map<std::string, double> kUnitNs = {
      {"", 1e9}, {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  const auto unit = kUnitNs.find(text.substr(digits));
  if (unit == kUnitNs.end()) return false;
  out = std::chrono::nanoseconds(static_cast<int64_t>(value * unit->second));
  return true;
}

ParseOutcome parse_options(int argc, const char* const* argv) {
  Options o;
  driver::RunConfig& r = o.run;
  r.threads = std::max(1u, std::thread::hardware_concurrency());

  CLI::App app{
      "wirestress: drive thousands of simulated Kafka producer and consumer clients per core against a broker.\n"
      "Without --bootstrap it starts an embedded broker (librdkafka's mock cluster) and says so.\n"
      "Subcommands (each has its own --help):\n"
      "  wirestress sweep     run a (clients x rate per client) matrix, one JSON with every cell\n"
      "  wirestress ceiling   raise the load until the broker breaks its SLO; says what limited it\n"
      "  wirestress report    turn a run, sweep or ceiling JSON into an HTML page and SVG/PNG charts\n"
      "  wirestress merge     combine the JSON of runs made on several machines, exactly",
      "wirestress"};
  app.get_formatter()->column_width(34);
  std::string warmup = "0", latency_max = "1h";
  std::string bootstrap, duration = "10s", linger = "0", compression = "none", io = "uring",
              broker_version = "auto", request_timeout = "30s", connect_timeout = "10s",
              drain_timeout = "5s", report_interval = "1s";
  std::string acks = "1";

  app.add_option("--bootstrap", bootstrap,
                 "Brokers to start from, HOST:PORT[,HOST:PORT...] (default: embedded mock broker)");
  app.add_option("--topic", r.topic, "Topic to produce to; auto-created where the broker allows")
      ->capture_default_str();
  app.add_option("--clients", r.clients, "Simulated producer clients, one TCP connection each (0: consumers only)")
      ->check(CLI::Range(0u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--rate", r.rate, "Target messages/s over all clients (open loop); 0 = as fast as possible")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  app.add_option("--duration", duration, "Run time: 500ms, 10s, 2m, 1h; 0 = until --messages or Ctrl-C")
      ->capture_default_str();
  app.add_option("--warmup", warmup,
                 "Run this long first and leave it out of the final numbers (e.g. 10s); --duration follows it")
      ->capture_default_str();
  app.add_option("--messages", r.messages,
                 "Total messages over all clients; with --clients=0, records each consumer reads before it "
                 "stops; 0 = bounded by --duration only")
      ->capture_default_str();
  app.add_option("--acks", acks, "0 (no response), 1 (leader) or -1 (all in-sync replicas)")
      ->check(CLI::IsMember({"0", "1", "-1", "all"}))
      ->capture_default_str();
  app.add_option("--batch", r.batch, "Records per produce request")
      ->check(CLI::Range(1u, 100'000u))
      ->capture_default_str();
  app.add_option("--linger", linger, "With --rate: wait up to this long to fill a batch (e.g. 5ms)")
      ->capture_default_str();
  app.add_option("--compression", compression, "none, gzip, snappy, lz4 or zstd (zstd needs Kafka 2.1+)")
      ->check(CLI::IsMember({"none", "gzip", "snappy", "lz4", "zstd"}))
      ->capture_default_str();
  app.add_option("--message-size", r.message_size, "Value bytes per record")
      ->check(CLI::Range(0u, 64u * 1024 * 1024))
      ->capture_default_str();
  app.add_option("--key-size", r.key_size, "Key bytes per record; 0 = null keys")
      ->check(CLI::Range(0u, 1024u * 1024))
      ->capture_default_str();
  app.add_option("--max-in-flight", r.max_in_flight, "Produce requests awaiting a response, per connection (acks=0: none awaits one; a write carries up to 64 due requests, or this many if more)")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  app.add_option("--threads", r.threads, "Worker threads (default: number of cores)")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  app.add_option("--io", io, "I/O backend: uring (falls back to asio if unavailable) or asio")
      ->check(CLI::IsMember({"uring", "asio"}))
      ->capture_default_str();
  app.add_option("--broker-version", broker_version,
                 "auto (ask with ApiVersions; fall back to 0.9 if the broker closes or does not answer "
                 "within 3 s), 0.9 (never ask), or 0.10 and later (negotiate, never fall back)")
      ->capture_default_str();
  app.add_option("--request-timeout", request_timeout, "A request without response this long resets its connection")
      ->capture_default_str();
  app.add_option("--connect-timeout", connect_timeout, "Give up a connection the broker has not answered (TCP connect and first request) after this long")
      ->capture_default_str();
  app.add_option("--drain-timeout", drain_timeout, "After the run (or Ctrl-C), wait this long for responses")
      ->capture_default_str();
  app.add_option("--report-interval", report_interval, "Time between progress lines")
      ->capture_default_str();
  uint32_t max_connecting = 32;
  app.add_option("--max-connecting", max_connecting,
                 "Connection handshakes in progress at once (keep below the broker's listen backlog)")
      ->check(CLI::Range(1u, 100'000u))
      ->capture_default_str();
  app.add_option("--client-id", r.client_id_prefix, "client.id prefix; each client appends -N")
      ->capture_default_str();
  app.add_option("--partitions", o.embedded_partitions, "Partitions of the topic on the embedded broker")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  app.add_option("--json", o.json_path, "Write the result (config, per-interval series, totals) to FILE");
  app.add_option("--hlog", o.hlog_path,
                 "Write an HdrHistogram interval log (tags latency_us, service_latency_us) to FILE");
  app.add_option("--csv", o.csv_path, "Write one row per report interval to FILE (for plotting)");
  app.add_option("--prometheus", o.prometheus_port,
                 "Serve /metrics in the Prometheus text format on this port while the run lasts (0 = any free port)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--latency-max", latency_max,
                 "Highest latency the histograms hold (larger samples are counted as out of range)")
      ->capture_default_str();
  app.add_option("--latency-digits", o.latency_digits,
                 "Significant figures the histograms keep (1-5; 3 = 0.1% resolution, 184 KiB per histogram)")
      ->check(CLI::Range(1, 5))
      ->capture_default_str();
  app.add_flag("--quiet", o.quiet, "No per-interval lines, only the summary");
  std::string consume_from = "latest", fetch_max_wait = "500ms";
  app.add_option("--consumers", r.consumers,
                 "Simulated consumers, each reading every partition of the topic on its own connection")
      ->check(CLI::Range(0u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--consume-from", consume_from,
                 "latest (the end of the log, taken before any producer starts) or earliest")
      ->check(CLI::IsMember({"latest", "earliest"}))
      ->capture_default_str();
  app.add_option("--fetch-max-wait", fetch_max_wait, "How long the broker may hold a fetch to gather --fetch-min-bytes")
      ->capture_default_str();
  app.add_option("--fetch-min-bytes", r.fetch_min_bytes, "Bytes the broker waits for before answering a fetch")
      ->check(CLI::Range(1u, 1u << 30))
      ->capture_default_str();
  app.add_option("--fetch-max-bytes", r.fetch_max_bytes,
                 "Bytes per fetch response (Fetch v3+; per partition on older brokers)")
      ->check(CLI::Range(1024u, 1u << 30))
      ->capture_default_str();
  app.add_flag("--verify", r.verify,
               "Producers stamp every record (run, producer, sequence, send time, xxHash); consumers count "
               "lost, duplicated, out-of-order and corrupt records and end-to-end latency");

  ParseOutcome outcome;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    outcome.output = app.help();
    return outcome;
  } catch (const CLI::ParseError& e) {
    outcome.exit_code = 2;
    outcome.output = std::string("wirestress: ") + e.what() + " (see --help)";
    return outcome;
  }

  auto bad = [&](const std::string& flag, const std::string& value, const std::string& accepted) {
    outcome.exit_code = 2;
    outcome.output = "wirestress: " + flag + ": '" + value + "' is not valid; " + accepted;
    return outcome;
  };
  const std::string kDurations = "use a duration such as 500ms, 10s, 2m or 1h";
  const std::pair<const char*, std::pair<std::string*, std::chrono::nanoseconds*>> durations[] = {
      {"--duration", {&duration, &r.duration}},
      {"--warmup", {&warmup, &r.warmup}},
      {"--latency-max", {&latency_max, &o.latency_max}},
      {"--linger", {&linger, &r.linger}},
      {"--request-timeout", {&request_timeout, &r.request_timeout}},
      {"--connect-timeout", {&connect_timeout, &r.connect_timeout}},
      {"--drain-timeout", {&drain_timeout, &r.drain_timeout}},
      {"--report-interval", {&report_interval, &r.report_interval}},
      {"--fetch-max-wait", {&fetch_max_wait, &r.fetch_max_wait}},
  };
  for (const auto& [flag, target] : durations) {
    if (!parse_duration(*target.first, *target.second)) return bad(flag, *target.first, kDurations);
  }
  if (r.report_interval < std::chrono::milliseconds(100)) {
    return bad("--report-interval", report_interval, "use 100ms or more");
  }
  if (o.latency_max < std::chrono::milliseconds(1)) {
    return bad("--latency-max", latency_max, "use 1ms or more (e.g. 10s, 1h)");
  }
  if (r.request_timeout.count() == 0) return bad("--request-timeout", request_timeout, "use more than 0");
  if (r.connect_timeout.count() == 0) return bad("--connect-timeout", connect_timeout, "use more than 0");

  if (r.consumers > 0 && r.fetch_max_wait >= r.request_timeout) {
    return bad("--fetch-max-wait", fetch_max_wait, "use less than --request-timeout (a held fetch would time out)");
  }
  if (r.clients == 0 && r.consumers == 0) {
    return bad("--clients", "0", "use 1 or more, or give --consumers for a consumer-only run");
  }
  if (r.verify && r.message_size < driver::kVerifyHeaderSize) {
    return bad("--message-size", std::to_string(r.message_size),
               "--verify needs " + std::to_string(driver::kVerifyHeaderSize) + " bytes or more");
  }
  r.consume_from_earliest = consume_from == "earliest";
  // Split over the worker threads (at least one each).
  r.connect_concurrency =
      std::max(1u, max_connecting / std::max(1u, std::min(r.threads, r.clients + r.consumers)));
  r.acks = acks == "all" ? -1 : static_cast<int16_t>(std::stoi(acks));
  r.compression = *protocol::parse_codec(compression);
  r.io = io == "asio" ? driver::IoBackend::kAsio : driver::IoBackend::kUring;
  if (broker_version == "auto") {
    r.broker_version = driver::BrokerVersion::kAuto;
  } else if (broker_version == "0.9" || broker_version.starts_with("0.9.")) {
    r.broker_version = driver::BrokerVersion::kV0_9;
  } else {
    // Any release from 0.10 on answers ApiVersions, so the exact number changes nothing here.
    int major = -1, minor = -1;
    char dot = 0;
    std::istringstream in(broker_version);
    if (!(in >> major >> dot >> minor) || dot != '.' || (major == 0 && minor < 10) || major < 0) {
      return bad("--broker-version", broker_version, "use auto, 0.9, 0.10, 0.11, 1.0, 2.8, 3.7 ...");
    }
    r.broker_version = driver::BrokerVersion::kV0_10;
  }
  if (!bootstrap.empty()) {
    std::stringstream list(bootstrap);
    std::string item;
    while (std::getline(list, item, ',')) {
      if (item.empty() || item.find(':') == std::string::npos) {
        return bad("--bootstrap", bootstrap, "use HOST:PORT[,HOST:PORT...]");
      }
      r.bootstrap.push_back(item);
    }
  }
  if (r.topic.empty()) return bad("--topic", r.topic, "use a non-empty topic name");
  outcome.options = std::move(o);
  return outcome;
}

}  // namespace ws::tools
