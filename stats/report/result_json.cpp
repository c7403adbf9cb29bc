#include "stats/report/result_json.h"

#include <algorithm>
#include <cstdio>

#include "driver/payload.h"
#include "protocol/compression.h"
#include "protocol/crc.h"
#include "protocol/errors.h"
#include "protocol/framing.h"
#include "stats/hlog.h"
#include "stats/report/group_output.h"

namespace ws::report {
namespace {

double ms(int64_t us) { return static_cast<double>(us) / 1000.0; }

}  // namespace

Json latency_json(const stats::HdrHistogram& h) {
  Json j;
  const std::pair<const char*, double> percentiles[] = {
      {"p50", 50}, {"p75", 75}, {"p90", 90}, {"p95", 95}, {"p99", 99}, {"p999", 99.9}, {"p9999", 99.99}};
  for (const auto& [name, p] : percentiles) j[name] = ms(h.value_at_percentile(p));
  j["max"] = ms(h.max());
  j["mean"] = h.mean() / 1000.0;
  j["count"] = h.total_count();
  return j;
}

bool decode_histogram(const Json& j, const char* key, stats::HdrHistogram& out, std::string& error) {
  if (!j.contains(key) || !j[key].is_string()) {
    error = std::string("no ") + key + " (made by an older wirestress?)";
    return false;
  }
  std::vector<uint8_t> bytes;
  if (!stats::from_base64(j[key].get<std::string>(), bytes)) {
    error = std::string(key) + " is not base64";
    return false;
  }
  return stats::decode_v2(bytes, out, error);
}

namespace {

// The CSV's columns, named as the interval's JSON keys (nested keys joined by '.'), in row order.
constexpr const char* kCsvColumns[] = {
    "time_unix_ms", "elapsed_s", "interval_s", "phase", "messages_sent", "messages_acked", "messages_failed",
    "bytes_sent", "requests_sent", "errors", "throughput_msgs_per_s", "latency_ms.p50", "latency_ms.p90",
    "latency_ms.p95", "latency_ms.p99", "latency_ms.p999", "latency_ms.max", "latency_ms.mean",
    "service_latency_ms.p50", "service_latency_ms.p95", "service_latency_ms.p99", "service_latency_ms.max",
    "service_latency_ms.mean", "publish_delay_ms.p50", "publish_delay_ms.p95", "publish_delay_ms.p99",
    "publish_delay_ms.max", "publish_delay_ms.mean", "connections_open", "consume_received", "consume_msgs_per_s",
    "consumers_fetching",
    "e2e_latency_ms.p50", "e2e_latency_ms.p95", "e2e_latency_ms.p99", "e2e_latency_ms.max", "e2e_latency_ms.mean",
    "client_busy"};

uint64_t interval_errors(const driver::RunCounters& d) {
  uint64_t errors = 0;
  for (const auto& [code, n] : d.errors_by_code) errors += n;
  for (uint64_t f : d.failures) errors += f;
  return errors;
}

// Share of the workers' time spent working, not waiting: near 1 the client is the bottleneck.
double client_busy(const driver::IntervalReport& r) {
  return static_cast<double>(r.delta.loop_busy_ns) / 1e9 / std::max(r.interval_s, 1e-9) / std::max(1U, r.workers);
}

}  // namespace

std::string csv_header() {
  std::string header;
  for (const char* name : kCsvColumns) header += std::string(header.empty() ? "" : ",") + name;
  return header + "\n";
}

std::string csv_row(const driver::IntervalReport& r, const driver::RunConfig& config) {
  const auto& d = r.delta;
  const double seconds = std::max(r.interval_s, 1e-9);
  std::string row;
  auto add = [&row](const std::string& field) { row += (row.empty() ? "" : ",") + field; };
  auto number = [](double v, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, v);
    return std::string(text);
  };
  auto count = [](uint64_t v) { return std::to_string(v); };
  auto latency = [&](const stats::HdrHistogram& h, std::initializer_list<double> percentiles) {
    for (double p : percentiles) add(number(ms(h.value_at_percentile(p)), 3));
    add(number(ms(h.max()), 3));
    add(number(h.mean() / 1000.0, 3));
  };
  add(std::to_string(r.start_unix_ms));
  add(number(r.elapsed_s, 3));
  add(number(r.interval_s, 3));
  add(driver::phase_name(r.phase));
  for (uint64_t v : {d.messages_sent, d.messages_acked, d.messages_failed, d.bytes_sent, d.requests_sent,
                     interval_errors(d)}) {
    add(count(v));
  }
  add(number(static_cast<double>(delivered(d, config)) / seconds, 1));
  latency(r.interval->latency_us, {50, 90, 95, 99, 99.9});
  latency(r.interval->service_latency_us, {50, 95, 99});
  latency(r.interval->publish_delay_us, {50, 95, 99});
  add(count(r.total.connections_open));
  if (config.consumers > 0) {
    add(count(d.consume_received));
    add(number(static_cast<double>(d.consume_received) / seconds, 1));
    add(count(r.total.consumers_fetching));
    latency(r.interval->e2e_latency_us, {50, 95, 99});
  } else {
    row += std::string(8, ',');  // no consumers: the consumer columns stay empty, not zero
  }
  add(number(client_busy(r), 4));
  return row + "\n";
}

Json consume_json(const driver::RunResult& result, const driver::RunConfig& config) {
  const auto& c = result.counters;
  const double elapsed = std::max(result.elapsed_s, 1e-9);
  const ConsumeTotals t = consume_totals(result);
  Json j;
  j["consumers"] = config.consumers;
  j["messages_received"] = c.consume_received;
  j["bytes_received"] = c.consume_bytes;
  j["fetches"] = c.consume_fetches;
  // The rate counts the window's records: with --verify and a warm-up, warm-up records still in
  // transit when it ended are received (above) but not part of the rate.
  j["messages_measured"] = t.measured;
  j["throughput_msgs_per_s"] = static_cast<double>(t.measured) / elapsed;
  j["lost"] = t.lost;
  j["loss_pct"] = loss_pct(t.lost, t.received, t.duplicates);
  j["duplicates"] = t.duplicates;
  j["out_of_order"] = t.out_of_order;
  j["corrupt"] = t.corrupt;
  j["other_runs"] = c.consume_other_runs;
  j["failing_clients"] = t.failing;
  j["verify"] = config.verify;
  j["e2e_latency_ms"] = latency_json(result.metrics.e2e_latency_us);
  j["e2e_latency_histogram"] = stats::to_base64(stats::compress_v2(result.metrics.e2e_latency_us));
  auto& per = j["per_consumer"] = Json::array();
  for (const auto& consumer : result.consumers) {
    per.push_back({{"id", consumer.id},
                   {"received", consumer.received},
                   {"throughput_msgs_per_s", static_cast<double>(consumer.received_measured) / elapsed},
                   {"lost", consumer.lost},
                   {"loss_pct", loss_pct(consumer.lost, consumer.received, consumer.duplicates)},
                   {"duplicates", consumer.duplicates},
                   {"out_of_order", consumer.out_of_order},
                   {"corrupt", consumer.corrupt},
                   {"failed", !consumer.failure.empty()},
                   {"failure", consumer.failure}});
  }
  return j;
}

Json interval_json(const driver::IntervalReport& r, const driver::RunConfig& config) {
  Json j;
  const double seconds = std::max(r.interval_s, 1e-9);
  j["time_unix_ms"] = r.start_unix_ms;  // wall-clock start: merge lines up hosts' series by it
  j["elapsed_s"] = r.elapsed_s;
  j["interval_s"] = r.interval_s;
  j["phase"] = driver::phase_name(r.phase);
  j["messages_sent"] = r.delta.messages_sent;
  j["messages_acked"] = r.delta.messages_acked;
  j["messages_failed"] = r.delta.messages_failed;
  j["bytes_sent"] = r.delta.bytes_sent;
  j["requests_sent"] = r.delta.requests_sent;
  j["errors"] = interval_errors(r.delta);
  j["throughput_msgs_per_s"] = static_cast<double>(delivered(r.delta, config)) / seconds;
  j["latency_ms"] = latency_json(r.interval->latency_us);
  j["service_latency_ms"] = latency_json(r.interval->service_latency_us);
  j["publish_delay_ms"] = latency_json(r.interval->publish_delay_us);
  j["connections_open"] = r.total.connections_open;
  if (config.consumers > 0) {
    j["consume_received"] = r.delta.consume_received;
    j["consume_msgs_per_s"] = static_cast<double>(r.delta.consume_received) / seconds;
    j["consumers_fetching"] = r.total.consumers_fetching;
    j["e2e_latency_ms"] = latency_json(r.interval->e2e_latency_us);
  }
  j["client_busy"] = client_busy(r);
  return j;
}

namespace {

// --shards: which part of the whole test this result is (merge checks every shard is there once).
Json shard_json(const driver::ShardPlan& plan) {
  if (plan.count <= 1) return nullptr;
  return {{"index", plan.index},
          {"count", plan.count},
          {"first_client", plan.first_client},
          {"first_consumer", plan.first_consumer},
          {"clients_total", plan.clients_total},
          {"consumers_total", plan.consumers_total},
          {"rate_total", plan.rate_total},
          {"messages_total", plan.messages_total}};
}

}  // namespace

Json result_json(const driver::RunResult& result, const driver::RunConfig& config, const RunContext& context,
                 const ProcessFigures& process, Json intervals) {
  const auto& c = result.counters;
  const auto& all = result.totals;
  const double elapsed = std::max(result.elapsed_s, 1e-9);
  Json j;
  auto& cfg = j["config"];
  cfg["bootstrap"] = context.broker;
  cfg["topic"] = config.topic;
  cfg["clients"] = config.clients;
  cfg["rate"] = config.rate;
  cfg["duration_s"] = std::chrono::duration<double>(config.duration).count();
  cfg["warmup_s"] = std::chrono::duration<double>(config.warmup).count();
  cfg["messages"] = config.messages;
  cfg["acks"] = config.acks;
  cfg["idempotent"] = config.idempotent;
  cfg["batch"] = config.batch;
  cfg["linger_ms"] = std::chrono::duration<double, std::milli>(config.linger).count();
  cfg["compression"] = protocol::codec_name(config.compression);
  // gzip's cost and ratio depend on the library and level (ISA-L igzip level 1 writes 15x faster
  // than zlib's default level 6 at 128 KiB, and compresses less): say which wrote these batches.
  cfg["compression_implementation"] = config.compression == protocol::Codec::kGzip
                                          ? Json(protocol::gzip_implementation())
                                          : Json(nullptr);
  cfg["message_size"] = config.message_size;
  cfg["key_size"] = config.key_size;
  // What the values were made of: compression results mean nothing without it.
  cfg["payload"] = driver::payload_name(config);
  if (config.payload_file.empty()) {
    cfg["payload_compressibility"] = config.random_share();
    cfg["payload_pool_size"] = driver::payload_pool_values(config);
  } else {
    cfg["payload_file"] = config.payload_file;
  }
  cfg["max_in_flight"] = config.max_in_flight;
  cfg["threads"] = config.threads;
  cfg["io"] = result.io_backend;
  cfg["max_connecting"] = config.max_connecting;
  cfg["connect_deadline_s"] = std::chrono::duration<double>(config.connect_deadline).count();
  cfg["consumers"] = config.consumers;
  cfg["consume_from"] = config.consume_from_earliest ? "earliest" : "latest";
  cfg["fetch_max_wait_ms"] = std::chrono::duration<double, std::milli>(config.fetch_max_wait).count();
  cfg["fetch_min_bytes"] = config.fetch_min_bytes;
  cfg["fetch_max_bytes"] = config.fetch_max_bytes;
  cfg["verify"] = config.verify;

  // Who got to run: clients (producers) and consumers configured, ready at least once, never.
  j["clients"] = {{"configured", result.clients},
                  {"connected", std::min<uint64_t>(all.producers_connected, result.clients)},
                  {"never_connected", result.producers_never_connected()},
                  {"connected_late", all.clients_connected_late}};
  j["consumers"] = {{"configured", result.consumer_count},
                    {"connected", std::min<uint64_t>(all.consumers_connected, result.consumer_count)},
                    {"never_connected", result.consumers_never_connected()}};
  const uint64_t ready = all.producers_connected + all.consumers_connected;
  j["connect"] = {{"duration_s", result.connect_duration_s},
                  {"rate_per_s", result.connect_duration_s >= 1e-3
                                     ? static_cast<double>(ready) / result.connect_duration_s
                                     : 0.0},
                  {"completed", result.connecting_completed}};
  auto& p = j["produce"];
  p["messages_sent"] = c.messages_sent;
  p["messages_acked"] = c.messages_acked;
  p["messages_failed"] = c.messages_failed;
  p["bytes_sent"] = c.bytes_sent;
  p["requests_sent"] = c.requests_sent;
  p["requests_acked"] = c.requests_acked;
  p["errors_by_code"] = Json::object();
  for (const auto& [code, n] : c.errors_by_code) p["errors_by_code"][protocol::error_name(code)] = n;
  p["throughput_msgs_per_s"] = static_cast<double>(delivered(c, config)) / elapsed;
  p["throughput_mb_per_s"] = static_cast<double>(c.bytes_sent) / elapsed / 1e6;
  p["latency_ms"] = latency_json(result.metrics.latency_us);
  p["service_latency_ms"] = latency_json(result.metrics.service_latency_us);
  // How late sends started against their intended time (OMB's publishDelayLatency).
  p["publish_delay_ms"] = latency_json(result.metrics.publish_delay_us);
  // The histograms themselves (HdrHistogram V2, compressed, base64; microseconds), so that
  // `wirestress merge` combines runs exactly and any HdrHistogram library can read them.
  p["latency_histogram"] = stats::to_base64(stats::compress_v2(result.metrics.latency_us));
  p["service_latency_histogram"] = stats::to_base64(stats::compress_v2(result.metrics.service_latency_us));
  p["publish_delay_histogram"] = stats::to_base64(stats::compress_v2(result.metrics.publish_delay_us));
  p["latency_out_of_range"] = c.latency_out_of_range;
  p["messages_unsent_due"] = c.messages_unsent_due;
  if (config.idempotent) {
    // Over the whole run: producers take their ids while connecting.
    p["idempotence"] = {{"producer_ids_assigned", all.producer_ids_assigned},
                        {"producer_id_resets", all.producer_id_resets},
                        {"duplicate_sequences", all.produce_duplicate_sequences},
                        {"init_producer_id_latency_ms", latency_json(result.init_producer_id_latency_us)}};
  }

  if (config.consumers > 0) j["consume"] = consume_json(result, config);
  if (result.groups) j["groups"] = groups_json(result, config);
  // Connections over the whole run: most are opened while connecting.
  auto& conn = j["connections"];
  conn["attempted"] = all.connections_attempted;
  conn["established"] = all.connections_established;
  conn["failed"] = all.connections_failed;
  conn["reconnects"] = all.reconnects;
  conn["churned"] = all.connections_churned;
  // How often the clients learnt the cluster again, and how many partition leaders moved.
  j["metadata"] = {{"refreshes", all.metadata_refreshes}, {"leader_changes", all.leader_changes}};
  auto& failures = j["failures"];
  failures = Json::object();
  for (size_t i = 0; i < all.failures.size(); ++i) {
    failures[driver::failure_name(static_cast<driver::Failure>(i))] = all.failures[i];
  }
  auto& unanswered = j["unanswered"];
  unanswered = Json::object();
  for (const auto& [api, n] : all.unanswered_by_api) {
    const auto* info = protocol::find_api(api);
    unanswered[info ? std::string(info->name) : std::to_string(api)] = n;
  }
  auto& brokers = j["brokers"];
  brokers = Json::array();
  for (const auto& b : result.brokers) {
    // The version used with each API; null where the broker lacks it or it was never learnt, so
    // every result has the same keys.
    auto version = [&](int16_t v) { return b.versions_known && v >= 0 ? Json(v) : Json(nullptr); };
    Json versions = {{"ApiVersions", version(b.versions.has_api_versions ? b.versions.api_versions : -1)},
                     {"Metadata", version(b.versions.metadata)},
                     {"Produce", version(b.versions.produce)},
                     {"Fetch", version(b.versions.fetch)},
                     {"ListOffsets", version(b.versions.list_offsets)}};
    brokers.push_back({{"node_id", b.node_id},
                       {"address", b.address},
                       {"has_api_versions", b.versions_known ? Json(b.versions.has_api_versions) : Json(nullptr)},
                       {"api_versions", versions},
                       {"connections_established", b.counters.connections_established},
                       {"connections_failed", b.counters.connections_failed},
                       {"produce_requests", b.counters.produce_requests},
                       {"produce_records_failed", b.counters.produce_records_failed},
                       {"fetch_requests", b.counters.fetch_requests},
                       {"fetch_errors", b.counters.fetch_errors}});
  }
  Json reasons = Json::array();
  for (const auto& r : context.verdict.reasons) reasons.push_back(r);
  char run_id[16];
  std::snprintf(run_id, sizeof run_id, "%08x", result.run_id);
  j["run"] = {{"tool", context.tool},
              {"version", context.version},
              {"run_id", result.run_id != 0 ? Json(run_id) : Json(nullptr)},
              {"command_line", context.command_line},
              {"start_time_unix_ms", result.start_time_unix_ms},
              {"start_at_unix_ms", config.start_at_unix_ms > 0 ? Json(config.start_at_unix_ms) : Json(nullptr)},
              {"start_late_s", result.start_late_s},
              {"measure_start_unix_ms", result.measure_start_unix_ms},
              {"measure_end_unix_ms", result.measure_end_unix_ms},
              {"clock", {{"source", result.clock.source},
                         {"synchronized", result.clock.synchronized},
                         {"max_error_ms", result.clock.max_error_ms}}},
              {"shard", shard_json(config.shard)},
              {"elapsed_s", result.elapsed_s},
              {"io_backend", result.io_backend},
              {"crc_implementation", protocol::crc_implementation()},
              {"threads", result.threads},
              {"client_busy_fraction", static_cast<double>(c.loop_busy_ns) / 1e9 /
                                           std::max(1e-9, result.elapsed_s) / std::max(1U, result.threads)},
              {"interrupted", result.interrupted},
              {"stalled", result.stalled},
              {"fatal", result.fatal},
              {"exit_code", static_cast<int>(context.verdict.status)},
              {"degraded_reasons", reasons}};
  // How connections were secured (never a secret: no user, password or file name).
  j["security"] = {{"protocol", result.security_protocol},
                   {"sasl_mechanism", result.sasl_mechanism.empty() ? Json(nullptr) : Json(result.sasl_mechanism)},
                   {"ktls", !result.ktls ? Json(nullptr)
                                         : Json{{"used", result.ktls->used},
                                                {"kernel", result.ktls->kernel},
                                                {"openssl", result.ktls->openssl},
                                                {"detail", result.ktls->detail}}}};
  j["process"] = {{"cpu_user_s", process.cpu_user_s},
                  {"cpu_sys_s", process.cpu_sys_s},
                  {"peak_rss_kib", process.peak_rss_kib},
                  {"threads", process.threads},
                  {"voluntary_context_switches", process.voluntary_context_switches},
                  {"involuntary_context_switches", process.involuntary_context_switches}};
  j["intervals"] = std::move(intervals);
  return j;
}

}  // namespace ws::report
