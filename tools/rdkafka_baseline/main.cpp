// rdkafka-baseline: the same scenario as wirestress, driven through librdkafka the way users run
// many clients today (one rd_kafka_t producer per simulated client). Same flags (tools/options.h),
// same report and JSON keys (tools/report.h), so the two compare field by field.
//
// Differences that the numbers carry (librdkafka exposes no per-message wire figures):
//  - bytes_sent counts value + key bytes of each produced record, not request bytes on the wire;
//  - requests_sent / requests_acked stay 0 (librdkafka batches internally and does not say which
//    request carried a record);
//  - a connection counts as established when its client's first delivery report succeeds, and
//    as failed when that first report is an error;
//  - delivery reports are served by rd_kafka_poll() from the driver thread(s) about every
//    millisecond, so latencies include up to ~1 ms of polling delay.
//
// Consumers (--consumers=N): one rd_kafka_t each, reading every partition of the topic on its own
// through the legacy (simple) consumer API: no group, no coordinator. Start offsets are looked up
// once before the run (ListOffsets), so with --consume-from=latest nothing the producers write
// is missed. Each consumer's queue is polled by a driver thread about every millisecond (that
// delay is in the end-to-end latency). End-to-end latency runs from the record's CreateTime
// (millisecond resolution; Kafka 0.9's magic-0 records have none) or, with --verify, from the
// send time stamped into the value (the producers stamp values as wirestress does), to receipt.
// consume.bytes_received counts key + value bytes, not fetch responses; consume.fetches stays 0.
// When consumers run, producer i writes to partition i % P as wirestress's producers do (without
// consumers librdkafka's partitioner picks), so one producer's records stay in order.
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <random>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "driver/payload.h"
#include "driver/reporting.h"
#include "driver/run_control.h"
#include "driver/verify.h"
#include "stats/report/run_text.h"
#include "tools/options.h"
#include "tools/run_command.h"

namespace {

using ws::driver::ConsumerTally;
using ws::driver::Failure;
using ws::driver::Metrics;
using ws::driver::RunCounters;
using ws::driver::RunConfig;

std::atomic<bool> g_stop{false};  // Ctrl-C (set by the engine's request_stop, from a signal handler)

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void sleep_until_ns(int64_t t) {
  const int64_t d = t - now_ns();
  if (d > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(d));
}

// librdkafka's local (negative) errors, as wirestress's failure kinds.
Failure failure_of(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:     // still queued when --drain-timeout ran out
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:  // still in flight when --drain-timeout ran out
      return Failure::kRequestTimeout;
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
      return Failure::kConnectFailed;
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR__BAD_COMPRESSION:
      return Failure::kDecodeError;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return Failure::kMetadataFailed;
    case RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
      return Failure::kUnsupported;
    default:
      return Failure::kDisconnected;
  }
}

struct Shard;

// One in-flight record's timestamps, passed to librdkafka as the message opaque.
struct Slot {
  int64_t intended_ns = 0;
  int64_t sent_ns = 0;
  uint32_t next_free = 0;
};

struct Client {
  rd_kafka_t* rk = nullptr;
  rd_kafka_topic_t* rkt = nullptr;
  Shard* shard = nullptr;
  uint32_t index = 0;
  int32_t partition = RD_KAFKA_PARTITION_UA;  // with consumers: fixed, as wirestress does
  uint64_t sequence = 0;     // records produced (for keys and --verify stamps)
  uint64_t acked = 0;        // records acknowledged (acks=0: written), for the consumers' loss count
  bool first_report = true;  // the next delivery report is its first
};

// A driver thread's numbers, in a wirestress Mailbox: the same ReportCollector reads both tools,
// so their intervals, their warm-up split and their results are computed the same way.
struct ShardNumbers {
  ws::driver::Mailbox box;
  std::mutex& mutex = box.mutex;          // guards what the reporting thread takes
  RunCounters& counters = box.counters;   // cumulative
  // Where latency samples go: before or after the start of the measured time (hold `mutex`).
  Metrics& histograms() { return box.measuring ? box.measured_interval : box.interval; }
  // The driver thread passes the start of the measured time: from here on it counts.
  void mark_measuring(int64_t now, int64_t measure_start) {
    if (box.measuring || now < measure_start) return;
    std::lock_guard lock(mutex);
    box.measuring = true;
    box.baseline = box.counters;
  }
  void finish() {
    std::lock_guard lock(mutex);
    box.finished = true;
  }
};

// A producer driver thread's clients. Only that thread produces and polls its clients, so the
// slot pool needs no lock.
struct Shard : ShardNumbers {
  std::vector<Client*> clients;
  uint64_t budget = 0;  // records to send; UINT64_MAX = until --duration
  double rate = 0;      // records/s over this shard's clients; 0 = as fast as possible

  std::deque<Slot> slots;
  uint32_t free_head = UINT32_MAX;
  std::vector<uint8_t> stamped;  // --verify: the value being produced (librdkafka copies it)

  uint32_t take_slot() {
    if (free_head != UINT32_MAX) {
      const uint32_t i = free_head;
      free_head = slots[i].next_free;
      return i;
    }
    slots.emplace_back();
    return static_cast<uint32_t>(slots.size() - 1);
  }
  void give_slot(uint32_t i) {
    slots[i].next_free = free_head;
    free_head = i;
  }
};

// What producers and consumers share: the run id (--verify stamps) and, once every producer is
// done, the end of the log, which the consumers read up to before they stop.
struct RunShared {
  uint32_t run_id = 0;
  int64_t wall_minus_steady_ns = 0;  // system clock minus steady clock, for stamps and CreateTime
  std::vector<int32_t> partitions;   // of the topic, when consumers run
  std::atomic<uint32_t> producer_shards_running{0};
  std::vector<int64_t> end_offsets;  // per partition (-1: unknown); written before the deadline
  std::atomic<int64_t> catch_up_deadline_ns{0};  // 0 while producers run
  ws::driver::RunControl* control = nullptr;     // the run's timeline (phases) and Ctrl-C
};

int64_t wall_minus_steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count() -
         now_ns();
}

// Low and high watermark of every partition (ListOffsets), retried until `deadline_ns`.
bool query_watermarks(rd_kafka_t* rk, const std::string& topic, const std::vector<int32_t>& partitions,
                      int64_t deadline_ns, std::vector<int64_t>& low, std::vector<int64_t>& high) {
  low.assign(partitions.size(), -1);
  high.assign(partitions.size(), -1);
  for (size_t i = 0; i < partitions.size(); ++i) {
    while (true) {
      const int timeout_ms = static_cast<int>(std::clamp<int64_t>((deadline_ns - now_ns()) / 1'000'000, 1, 5000));
      if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), partitions[i], &low[i], &high[i], timeout_ms) ==
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        break;
      }
      if (now_ns() >= deadline_ns || g_stop.load(std::memory_order_relaxed)) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return true;
}

// The last producer thread to finish: takes the end of the log for the consumers to catch up to.
void producers_done(RunShared& shared, rd_kafka_t* rk, const RunConfig& config) {
  std::vector<int64_t> low, high;
  if (!shared.partitions.empty() &&
      !query_watermarks(rk, config.topic, shared.partitions, now_ns() + config.drain_timeout.count(), low, high)) {
    std::cerr << "rdkafka-baseline: cannot read the end of the log after producing: consumers stop after "
                 "--drain-timeout\n";
  }
  shared.end_offsets = high;
  shared.catch_up_deadline_ns.store(now_ns() + config.drain_timeout.count(), std::memory_order_release);
}

// Delivery report: runs inside rd_kafka_poll()/rd_kafka_flush() on the client's driver thread.
void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* client = static_cast<Client*>(opaque);
  Shard& shard = *client->shard;
  const auto slot_index = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(m->_private));
  const Slot slot = shard.slots[slot_index];
  shard.give_slot(slot_index);
  const int64_t t = now_ns();
  std::lock_guard lock(shard.mutex);
  auto& c = shard.counters;
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++c.messages_acked;
    ++client->acked;
    if (!shard.histograms().latency_us.record(std::max<int64_t>(0, (t - slot.intended_ns) / 1000))) {
      ++c.latency_out_of_range;
    }
    shard.histograms().service_latency_us.record(std::max<int64_t>(0, (t - slot.sent_ns) / 1000));
  } else {
    ++c.messages_failed;
    if (m->err > 0) {
      ++c.errors_by_code[static_cast<int16_t>(m->err)];  // broker codes are Kafka's codes
    } else {
      ++c.failures[static_cast<size_t>(failure_of(m->err))];
    }
  }
  if (client->first_report) {
    client->first_report = false;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++c.connections_established;
      ++c.connections_open;
      ++c.producers_connected;  // librdkafka connects lazily: its first delivery says it is
    } else {
      ++c.connections_failed;
    }
  }
}

std::string ms_string(std::chrono::nanoseconds d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

using Settings = std::span<const std::pair<std::string, std::string>>;

// librdkafka's settings for wirestress's security settings. librdkafka takes CA certificates as
// PEM only: a PKCS12 truststore is refused (ssl.ca.location instead).
std::vector<std::pair<std::string, std::string>> security_settings(const ws::driver::SecuritySettings& s) {
  std::vector<std::pair<std::string, std::string>> out;
  if (s.protocol == ws::driver::SecurityProtocol::kPlaintext) return out;
  out.emplace_back("security.protocol", ws::driver::security_protocol_name(s.protocol));
  if (s.uses_sasl()) {
    out.emplace_back("sasl.mechanisms", s.sasl.mechanism);
    out.emplace_back("sasl.username", s.sasl.username);
    out.emplace_back("sasl.password", s.sasl.password);
  }
  if (s.uses_tls()) {
    const auto& t = s.tls;
    if (!t.ca_location.empty()) out.emplace_back("ssl.ca.location", t.ca_location);
    if (!t.truststore_location.empty()) out.emplace_back("ssl.truststore.location", t.truststore_location);
    if (!t.certificate_location.empty()) out.emplace_back("ssl.certificate.location", t.certificate_location);
    if (!t.key_location.empty()) out.emplace_back("ssl.key.location", t.key_location);
    if (!t.key_password.empty()) out.emplace_back("ssl.key.password", t.key_password);
    if (!t.keystore_location.empty()) out.emplace_back("ssl.keystore.location", t.keystore_location);
    if (!t.keystore_password.empty()) out.emplace_back("ssl.keystore.password", t.keystore_password);
    if (!t.cipher_suites.empty()) out.emplace_back("ssl.cipher.suites", t.cipher_suites);
    out.emplace_back("enable.ssl.certificate.verification", t.verify_certificate ? "true" : "false");
    out.emplace_back("ssl.endpoint.identification.algorithm", t.verify_hostname ? "https" : "none");
  }
  return out;
}

// A librdkafka instance of `type` with `settings`, plus what Kafka 0.9 needs (it has no
// ApiVersions); `prepare` adds callbacks to the configuration. nullptr and `error` on failure.
template <typename Prepare>
rd_kafka_t* make_instance(rd_kafka_type_t type, const RunConfig& config, Settings settings, std::string& error,
                          Prepare prepare) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      error = k + "=" + v + ": " + err;
      rd_kafka_conf_destroy(conf);
      return nullptr;
    }
  }
  if (config.broker_version == ws::driver::BrokerVersion::kV0_9) {
    rd_kafka_conf_set(conf, "api.version.request", "false", err, sizeof err);
    rd_kafka_conf_set(conf, "broker.version.fallback", "0.9.0.1", err, sizeof err);
  }
  // The same security as wirestress's clients (-X / --config), in librdkafka's names.
  if (config.security.uses_sasl() && config.security.sasl.mechanism == "OAUTHBEARER") {
    // librdkafka wants a token refresh callback, not a static token.
    error = "sasl.mechanism=OAUTHBEARER: not supported by rdkafka-baseline (a static token needs a refresh callback)";
    rd_kafka_conf_destroy(conf);
    return nullptr;
  }
  for (const auto& [k, v] : security_settings(config.security)) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      error = k + ": " + err;  // never the value: it may be a secret
      rd_kafka_conf_destroy(conf);
      return nullptr;
    }
  }
  prepare(conf);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);  // owns conf on success
  if (!rk) {
    error = err;
    rd_kafka_conf_destroy(conf);
  }
  return rk;
}

rd_kafka_t* make_producer(const RunConfig& config, const std::string& brokers, Client* client,
                          std::string& error) {
  const std::pair<std::string, std::string> settings[] = {
      {"client.id", config.client_id_prefix + "-" + std::to_string(client->index)},
      {"bootstrap.servers", brokers},
      {"acks", std::to_string(config.acks)},
      {"linger.ms", std::to_string(std::chrono::duration<double, std::milli>(config.linger).count())},
      {"batch.num.messages", std::to_string(std::max<uint32_t>(1, config.batch))},
      {"compression.type", ws::protocol::codec_name(config.compression)},
      {"max.in.flight", std::to_string(std::max<uint32_t>(1, config.max_in_flight))},
      {"request.timeout.ms", ms_string(config.request_timeout)},
      {"socket.connection.setup.timeout.ms", ms_string(config.connect_timeout)},
  };
  return make_instance(RD_KAFKA_PRODUCER, config, settings, error, [client](rd_kafka_conf_t* conf) {
    rd_kafka_conf_set_opaque(conf, client);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  });
}

// A driver thread: walks its clients' open-loop schedule, produces, serves delivery reports.
void drive(Shard& shard, const RunConfig& config, int64_t start_ns, const ws::driver::PayloadPool& payloads,
           std::atomic<long>& peak_threads, RunShared& shared) {
  const int64_t end_ns = config.duration.count() > 0
                             ? start_ns + config.warmup.count() + config.duration.count()
                             : INT64_MAX;
  const int64_t period_ns = shard.rate > 0 ? static_cast<int64_t>(1e9 / shard.rate) : 0;
  constexpr int64_t kPollEveryNs = 1'000'000;
  const size_t n = shard.clients.size();
  std::string key;
  uint64_t j = 0;  // this shard's records so far, in schedule order
  size_t cursor = 0;  // unpaced: the client to try next
  size_t next_value = 0;  // the pool's values in turn, as wirestress's producers send them
  int64_t next_poll = 0;

  auto poll_all = [&] {
    for (Client* c : shard.clients) rd_kafka_poll(c->rk, 0);
  };
  // Produces record j for its client; false when that client's queue is full.
  auto produce_one = [&](Client& c, int64_t intended) {
    if (config.key_size > 0) {
      // Keys as wirestress writes them: "<client>-<sequence>", padded or cut to --key-size.
      char buf[48];
      const int len = std::snprintf(buf, sizeof buf, "%u-%llu", c.index,
                                    static_cast<unsigned long long>(c.sequence));
      key.assign(buf, static_cast<size_t>(len));
      key.resize(config.key_size, '.');
    }
    std::span<const uint8_t> value = payloads.value(next_value);
    next_value = next_value + 1 == payloads.size() ? 0 : next_value + 1;
    int flags = 0;  // the pool's values stay put for the whole run: never copied or freed by librdkafka
    if (config.verify) {
      // Stamped as wirestress stamps it (driver/verify.h); librdkafka copies it.
      shard.stamped.assign(value.begin(), value.end());
      ws::driver::stamp_value(
          std::span<uint8_t>(shard.stamped),
          {.run = shared.run_id,
           .producer = c.index,
           .sequence = c.sequence,
           .send_time_us = (intended + shared.wall_minus_steady_ns) / 1000});
      value = shard.stamped;
      flags = RD_KAFKA_MSG_F_COPY;
    }
    const uint32_t slot = shard.take_slot();
    shard.slots[slot].intended_ns = intended;
    shard.slots[slot].sent_ns = now_ns();
    const int rc = rd_kafka_produce(c.rkt, c.partition, flags, const_cast<uint8_t*>(value.data()), value.size(),
                                    config.key_size > 0 ? key.data() : nullptr, key.size(),
                                    reinterpret_cast<void*>(static_cast<uintptr_t>(slot)));
    if (rc != 0) {
      shard.give_slot(slot);
      return false;
    }
    ++c.sequence;
    std::lock_guard lock(shard.mutex);
    ++shard.counters.messages_sent;
    shard.counters.bytes_sent += value.size() + key.size();  // no per-record wire bytes exist
    return true;
  };

  const int64_t measure_start = start_ns + config.warmup.count();
  while (j < shard.budget && !g_stop.load(std::memory_order_relaxed)) {
    const int64_t now = now_ns();
    if (now >= end_ns) break;
    shard.mark_measuring(now, measure_start);
    if (period_ns > 0) {
      // Open loop: everything due by now goes out, stamped with when it was due.
      const int64_t due = start_ns + static_cast<int64_t>(j) * period_ns;
      if (due <= now) {
        if (!produce_one(*shard.clients[j % n], due)) {
          rd_kafka_poll(shard.clients[j % n]->rk, 1);  // queue full: let it drain, keep the due time
          continue;
        }
        ++j;
        if (now_ns() < next_poll) continue;
      }
      if (now_ns() >= next_poll) {
        poll_all();
        next_poll = now_ns() + kPollEveryNs;
        peak_threads.store(std::max(peak_threads.load(), ws::report::current_thread_count()));
      }
      if (j < shard.budget) sleep_until_ns(std::min(start_ns + static_cast<int64_t>(j) * period_ns, next_poll));
    } else {
      // As fast as possible: each client until its queue is full.
      Client& c = *shard.clients[cursor++ % n];  // the next client either way
      if (produce_one(c, now)) {
        ++j;
      } else {
        rd_kafka_poll(c.rk, 0);
      }
      if (now >= next_poll) {
        poll_all();
        next_poll = now + kPollEveryNs;
      }
    }
  }
  if (period_ns > 0 && config.messages == 0 && end_ns != INT64_MAX) {
    // Paced records that were due before the end but never went out.
    const int64_t due_total = (end_ns - start_ns + period_ns - 1) / period_ns;
    if (static_cast<int64_t>(j) < due_total) {
      std::lock_guard lock(shard.mutex);
      shard.counters.messages_unsent_due += static_cast<uint64_t>(due_total) - j;
    }
  }

  // Drain: flush every client within --drain-timeout in all; what is left is purged and counted.
  const int64_t drain_end = now_ns() + config.drain_timeout.count();
  for (Client* c : shard.clients) {
    const int64_t left_ms = std::max<int64_t>(0, (drain_end - now_ns()) / 1'000'000);
    rd_kafka_flush(c->rk, static_cast<int>(left_ms));
  }
  for (Client* c : shard.clients) {
    if (rd_kafka_outq_len(c->rk) > 0) {
      rd_kafka_purge(c->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll(c->rk, 0);  // serves the purged records' delivery reports
    }
  }
  shard.finish();
  if (shared.producer_shards_running.fetch_sub(1) == 1) {
    shared.control->timeline.stop(now_ns());  // every producer is done: no more records
    if (!shard.clients.empty()) producers_done(shared, shard.clients.front()->rk, config);
  }
}

// ---- Consumers ------------------------------------------------------------------------------

struct Consumer {
  rd_kafka_t* rk = nullptr;
  rd_kafka_topic_t* rkt = nullptr;
  rd_kafka_queue_t* queue = nullptr;  // every partition's messages
  std::vector<int64_t> next_offset;   // per partition (as in RunShared::partitions)
  uint64_t quota_left = UINT64_MAX;   // consumer-only runs: records still to read
  bool started = false;               // fetching every partition
  bool done = false;
  ConsumerTally tally;
  std::unordered_map<uint64_t, ws::driver::SequenceTracker> sequences;  // --verify: run << 32 | producer
};

struct ConsumerShard : ShardNumbers {
  std::vector<Consumer*> consumers;
};

rd_kafka_t* make_consumer(const RunConfig& config, const std::string& brokers, uint32_t index, std::string& error) {
  const std::pair<std::string, std::string> settings[] = {
      {"client.id", config.client_id_prefix + "-consumer-" + std::to_string(index)},
      {"bootstrap.servers", brokers},
      {"fetch.wait.max.ms", ms_string(config.fetch_max_wait)},
      {"fetch.min.bytes", std::to_string(config.fetch_min_bytes)},
      // wirestress's --fetch-max-bytes caps a response (Fetch v3+) and, before v3, each partition.
      {"fetch.max.bytes", std::to_string(config.fetch_max_bytes)},
      {"max.partition.fetch.bytes", std::to_string(config.fetch_max_bytes)},
      {"message.max.bytes", std::to_string(std::min<uint32_t>(1'000'000, config.fetch_max_bytes))},
      {"check.crcs", "true"},  // wirestress checks every batch's CRC too
      {"enable.partition.eof", "false"},
      {"allow.auto.create.topics", "true"},
      {"socket.connection.setup.timeout.ms", ms_string(config.connect_timeout)},
  };
  return make_instance(RD_KAFKA_CONSUMER, config, settings, error, [](rd_kafka_conf_t*) {});
}

// The topic's partitions, asking until the broker has a leader for each (a topic created by this
// request may answer LEADER_NOT_AVAILABLE first) or `deadline_ns` passes.
std::vector<int32_t> topic_partitions(rd_kafka_t* rk, rd_kafka_topic_t* rkt, int64_t deadline_ns) {
  while (!g_stop.load(std::memory_order_relaxed)) {
    const rd_kafka_metadata_t* md = nullptr;
    std::vector<int32_t> out;
    bool ready = false;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
        md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[0].partition_cnt > 0) {
      ready = true;
      for (int i = 0; i < md->topics[0].partition_cnt; ++i) {
        out.push_back(md->topics[0].partitions[i].id);
        ready = ready && md->topics[0].partitions[i].leader >= 0;
      }
    }
    if (md) rd_kafka_metadata_destroy(md);
    if (ready) {
      std::sort(out.begin(), out.end());
      return out;
    }
    if (now_ns() >= deadline_ns) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return {};
}

void mark_failing(Consumer& c, const char* why) {
  if (c.tally.failure.empty()) c.tally.failure = why;
}

// Consumers stop fetching once done (their --messages read, caught up, or out of time).
void stop_consumer(Consumer& c, ShardNumbers& shard, const RunShared& shared) {
  if (c.done) return;
  c.done = true;
  if (!c.started) return;
  for (const int32_t p : shared.partitions) rd_kafka_consume_stop(c.rkt, p);
  std::lock_guard lock(shard.mutex);
  --shard.counters.consumers_fetching;
}

// Counts one received record: totals, --verify checks, end-to-end latency.
void take_record(Consumer& c, const rd_kafka_message_t& m, size_t partition_slot, const RunConfig& config,
                 const RunShared& shared, int64_t now_unix_us, bool measuring, RunCounters& counters,
                 ws::stats::HdrHistogram& e2e_latency_us) {
  c.next_offset[partition_slot] = std::max(c.next_offset[partition_slot], m.offset + 1);
  ++c.tally.received;
  ++counters.consume_received;
  counters.consume_bytes += m.len + m.key_len;
  if (measuring) ++c.tally.received_measured;
  if (c.quota_left != UINT64_MAX) --c.quota_left;

  int64_t sent_us = -1;
  if (config.verify) {
    ws::driver::VerifyStamp stamp;
    const std::span<const uint8_t> value(static_cast<const uint8_t*>(m.payload), m.payload ? m.len : 0);
    if (ws::driver::read_stamp(value, stamp) != ws::driver::StampCheck::kOk) {
      ++c.tally.corrupt;
      ++counters.consume_corrupt;
      return;
    }
    if (stamp.run != shared.run_id) ++counters.consume_other_runs;
    using Outcome = ws::driver::SequenceTracker::Outcome;
    switch (c.sequences[static_cast<uint64_t>(stamp.run) << 32 | stamp.producer].observe(stamp.sequence)) {
      case Outcome::kInOrder:
      case Outcome::kJumped: break;
      case Outcome::kLate:
        ++c.tally.out_of_order;
        ++counters.consume_out_of_order;
        break;
      case Outcome::kDuplicate:
        ++c.tally.duplicates;
        ++counters.consume_duplicates;
        break;
    }
    // Only this run's records: older ones would measure how old the topic is, not the broker.
    if (stamp.run == shared.run_id) sent_us = stamp.send_time_us;
  } else {
    rd_kafka_timestamp_type_t type;
    const int64_t ts_ms = rd_kafka_message_timestamp(&m, &type);
    if (type == RD_KAFKA_TIMESTAMP_CREATE_TIME && ts_ms >= 0) sent_us = ts_ms * 1000;
  }
  if (sent_us >= 0 && !e2e_latency_us.record(std::max<int64_t>(0, now_unix_us - sent_us))) {
    ++counters.latency_out_of_range;
  }
}

// A consume error: counted; the ones a consumer does not recover from make it failing.
void take_error(Consumer& c, rd_kafka_resp_err_t err, RunCounters& counters) {
  if (err > 0) {
    ++counters.errors_by_code[static_cast<int16_t>(err)];
  } else {
    ++counters.failures[static_cast<size_t>(failure_of(err))];
  }
  switch (err) {
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE: mark_failing(c, "offset_out_of_range"); break;
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR__BAD_COMPRESSION:
      ++c.tally.corrupt;
      ++counters.consume_corrupt;
      break;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      mark_failing(c, ws::driver::failure_name(Failure::kMetadataFailed));
      break;
    default: break;
  }
}

// Done when every partition is read up to the end of the log the producers left (-1: unknown).
bool caught_up(const Consumer& c, const std::vector<int64_t>& end_offsets) {
  for (size_t i = 0; i < c.next_offset.size() && i < end_offsets.size(); ++i) {
    if (end_offsets[i] >= 0 && c.next_offset[i] < end_offsets[i]) return false;
  }
  return true;
}

// A consumer driver thread: serves its consumers' queues until they are done.
void consume(ConsumerShard& shard, const RunConfig& config, int64_t start_ns, RunShared& shared,
             std::atomic<long>& peak_threads) {
  const int64_t end_ns = config.duration.count() > 0
                             ? start_ns + config.warmup.count() + config.duration.count()
                             : INT64_MAX;
  const int64_t measure_start = start_ns + config.warmup.count();
  std::unordered_map<int32_t, size_t> slot_of;  // partition id -> index in next_offset
  for (size_t i = 0; i < shared.partitions.size(); ++i) slot_of[shared.partitions[i]] = i;
  std::array<rd_kafka_message_t*, 1000> batch{};
  int64_t next_thread_count = 0;

  auto stop_all = [&](bool behind) {
    for (Consumer* c : shard.consumers) {
      // Still reading when the run ends: behind the producers, or short of its --messages.
      if (behind && !c->done && c->started && (config.clients > 0 || c->quota_left != UINT64_MAX)) {
        mark_failing(*c, "behind");
      }
      stop_consumer(*c, shard, shared);
    }
  };
  while (true) {
    const int64_t now = now_ns();
    if (config.clients == 0) {
      // Without producers there is nothing to catch up with: consumers stop with the run.
      if (g_stop.load(std::memory_order_relaxed) || now >= end_ns) {
        stop_all(true);
        break;
      }
    } else if (const int64_t deadline = shared.catch_up_deadline_ns.load(std::memory_order_acquire)) {
      for (Consumer* c : shard.consumers) {
        if (!c->done && caught_up(*c, shared.end_offsets)) stop_consumer(*c, shard, shared);
      }
      if (now >= deadline) {
        stop_all(true);
        break;
      }
    }
    if (std::all_of(shard.consumers.begin(), shard.consumers.end(), [](const Consumer* c) { return c->done; })) break;

    size_t got = 0;
    const int64_t now_unix_us = (now_ns() + shared.wall_minus_steady_ns) / 1000;
    const bool measuring = now >= measure_start;
    shard.mark_measuring(now, measure_start);
    for (Consumer* c : shard.consumers) {
      if (c->done) continue;
      const ssize_t n = rd_kafka_consume_batch_queue(c->queue, 0, batch.data(), batch.size());
      if (n <= 0) continue;
      got += static_cast<size_t>(n);
      {
        std::lock_guard lock(shard.mutex);
        for (ssize_t i = 0; i < n; ++i) {
          const rd_kafka_message_t& m = *batch[static_cast<size_t>(i)];
          if (m.err) {
            if (m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF) take_error(*c, m.err, shard.counters);
          } else if (c->quota_left > 0) {
            const auto slot = slot_of.find(m.partition);
            if (slot != slot_of.end()) {
              take_record(*c, m, slot->second, config, shared, now_unix_us, measuring, shard.counters,
                          shard.histograms().e2e_latency_us);
            }
          }
        }
      }
      for (ssize_t i = 0; i < n; ++i) rd_kafka_message_destroy(batch[static_cast<size_t>(i)]);
      if (c->quota_left == 0) stop_consumer(*c, shard, shared);  // read its --messages
    }
    if (now >= next_thread_count) {
      peak_threads.store(std::max(peak_threads.load(), ws::report::current_thread_count()));
      next_thread_count = now + 100'000'000;
    }
    if (got == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  shard.finish();
}

// Creates every consumer and starts it on every partition at --consume-from, looked up once
// (ListOffsets) before any producer starts. Consumers that cannot start count as failing.
bool start_consumers(const RunConfig& config, const std::string& brokers, RunShared& shared,
                     std::vector<std::unique_ptr<Consumer>>& consumers) {
  for (uint32_t i = 0; i < config.consumers; ++i) {
    auto c = std::make_unique<Consumer>();
    c->tally.id = i;
    if (config.clients == 0 && config.messages > 0) c->quota_left = config.messages;
    std::string error;
    c->rk = make_consumer(config, brokers, i, error);
    if (!c->rk) {
      std::cerr << "rdkafka-baseline: consumer " << i << ": " << error << "\n";
      return false;
    }
    c->rkt = rd_kafka_topic_new(c->rk, config.topic.c_str(), nullptr);
    c->queue = rd_kafka_queue_new(c->rk);
    consumers.push_back(std::move(c));
  }
  const int64_t deadline = now_ns() + std::max<int64_t>(config.connect_timeout.count(), 5'000'000'000);
  std::vector<int64_t> low, high;
  const char* failure = nullptr;
  shared.partitions = topic_partitions(consumers[0]->rk, consumers[0]->rkt, deadline);
  if (shared.partitions.empty()) {
    failure = ws::driver::failure_name(Failure::kMetadataFailed);
  } else if (!query_watermarks(consumers[0]->rk, config.topic, shared.partitions, deadline, low, high)) {
    failure = "list_offsets_failed";
  }
  for (auto& c : consumers) {
    if (failure) {
      mark_failing(*c, failure);
      c->done = true;
      continue;
    }
    c->next_offset = config.consume_from_earliest ? low : high;
    bool ok = true;
    for (size_t i = 0; i < shared.partitions.size() && ok; ++i) {
      ok = rd_kafka_consume_start_queue(c->rkt, shared.partitions[i], c->next_offset[i], c->queue) == 0;
    }
    if (!ok) {
      mark_failing(*c, ws::driver::failure_name(failure_of(rd_kafka_last_error())));
      for (const int32_t p : shared.partitions) rd_kafka_consume_stop(c->rkt, p);
      c->done = true;
      continue;
    }
    c->started = true;
  }
  return true;
}

// What each consumer missed of what this run's producers had acknowledged (see
// driver::ConsumerState::count_lost, which this mirrors).
uint64_t count_lost(const Consumer& c, const RunConfig& config, uint32_t run_id, const std::vector<uint64_t>& acked) {
  if (!config.verify) {
    uint64_t total = 0;
    for (const uint64_t n : acked) total += n;
    return total > c.tally.received ? total - c.tally.received : 0;
  }
  uint64_t lost = 0;
  for (uint32_t p = 0; p < acked.size(); ++p) {
    const auto it = c.sequences.find(static_cast<uint64_t>(run_id) << 32 | p);
    const uint64_t distinct = it == c.sequences.end() ? 0 : it->second.distinct();
    if (acked[p] > distinct) lost += acked[p] - distinct;
  }
  for (const auto& [key, tracker] : c.sequences) {
    if (static_cast<uint32_t>(key >> 32) != run_id) lost += tracker.missing();
  }
  return lost;
}

void destroy_consumer(Consumer& c) {
  if (c.queue) rd_kafka_queue_destroy(c.queue);
  if (c.rkt) rd_kafka_topic_destroy(c.rkt);
  if (c.rk) rd_kafka_destroy(c.rk);
  c.queue = nullptr;
  c.rkt = nullptr;
  c.rk = nullptr;
}

// The baseline on wirestress's run path (tools/run_command.h): the same flags, interval lines,
// summary, JSON and exit codes. librdkafka connects lazily, so its Connecting phase ends at once.
class BaselineEngine : public ws::tools::RunEngine {
 public:
  BaselineEngine(const RunConfig& config, std::string brokers) : config_(config), brokers_(std::move(brokers)) {}
  ~BaselineEngine() override { destroy_all(); }

  bool prepare(std::string& error, std::string& notice) override {
    (void)notice;
    const RunConfig& config = config_;
    // Producers and consumers each on their own driver threads.
    nthreads_ = config.clients == 0 ? 0 : std::max<uint32_t>(1, std::min(config.threads, config.clients));
    consumer_threads_ = config.consumers == 0 ? 0 : std::max<uint32_t>(1, std::min(config.threads, config.consumers));
    for (uint32_t t = 0; t < nthreads_; ++t) shards_.push_back(std::make_unique<Shard>());
    for (uint32_t t = 0; t < consumer_threads_; ++t) consumer_shards_.push_back(std::make_unique<ConsumerShard>());
    shared_.run_id = static_cast<uint32_t>(std::random_device{}());
    auto payloads = ws::driver::PayloadPool::prepare(config, shared_.run_id, error);
    if (!payloads) return false;
    payloads_ = std::move(*payloads);
    shared_.wall_minus_steady_ns = wall_minus_steady_ns();
    shared_.producer_shards_running = nthreads_;
    for (uint32_t i = 0; i < config.clients; ++i) {
      auto c = std::make_unique<Client>();
      c->index = i;
      c->shard = shards_[i % nthreads_].get();
      c->rk = make_producer(config, brokers_, c.get(), error);
      if (!c->rk) {
        error = "client " + std::to_string(i) + ": " + error;
        return false;
      }
      c->rkt = rd_kafka_topic_new(c->rk, config.topic.c_str(), nullptr);
      c->shard->clients.push_back(c.get());
      clients_.push_back(std::move(c));
    }
    for (uint32_t t = 0; t < nthreads_; ++t) {
      Shard& s = *shards_[t];
      s.rate = config.rate * static_cast<double>(s.clients.size()) / config.clients;
      if (config.messages == 0) {
        s.budget = UINT64_MAX;
      } else {
        // --messages split over clients as evenly as possible.
        s.budget = 0;
        for (Client* c : s.clients) {
          s.budget += config.messages / config.clients + (c->index < config.messages % config.clients ? 1 : 0);
        }
      }
      std::lock_guard lock(s.mutex);
      s.counters.connections_attempted = s.clients.size();
      s.counters.clients_producing = s.clients.size();
    }
    // Consumers start (at --consume-from, looked up now) before any record is produced.
    if (config.consumers > 0) {
      if (!start_consumers(config, brokers_, shared_, consumers_)) {
        error = "cannot create the consumers";
        return false;
      }
      // Producer i writes to partition i % P, as wirestress's producers do: each producer's
      // records then stay in order in one partition, which --verify's order check relies on.
      for (auto& c : clients_) {
        if (!shared_.partitions.empty()) c->partition = shared_.partitions[c->index % shared_.partitions.size()];
      }
      for (auto& c : consumers_) {
        ConsumerShard& s = *consumer_shards_[c->tally.id % consumer_threads_];
        s.consumers.push_back(c.get());
        std::lock_guard lock(s.mutex);
        ++s.counters.connections_attempted;
        ++(c->started ? s.counters.connections_established : s.counters.connections_failed);
        s.counters.connections_open += c->started;
        s.counters.consumers_fetching += c->started;
        s.counters.consumers_connected += c->started;
      }
      if (shared_.partitions.empty()) {
        std::cerr << "rdkafka-baseline: consumers: no partitions of " << config.topic
                  << " found: they count as failing\n";
      }
    }
    return true;
  }

  ws::driver::RunResult run(const std::function<void(const ws::driver::IntervalReport&)>& on_interval) override {
    const RunConfig& config = config_;
    const uint32_t workers = std::max<uint32_t>(1, nthreads_ + consumer_threads_);
    control_ = std::make_unique<ws::driver::RunControl>(config, workers);
    shared_.control = control_.get();
    std::atomic<long> peak_threads{ws::report::current_thread_count()};
    const int64_t start = now_ns();
    control_->timeline.begin(start, config.warmup.count(), config.duration.count(), config.connect_deadline.count());
    control_->timeline.end_connecting(start);
    if (g_stop.load()) control_->stop_requested.store(true);
    std::vector<std::thread> threads;
    for (auto& s : shards_) {
      threads.emplace_back([&, sp = s.get()] { drive(*sp, config, start, payloads_, peak_threads, shared_); });
    }
    for (auto& s : consumer_shards_) {
      threads.emplace_back([&, sp = s.get()] { consume(*sp, config, start, shared_, peak_threads); });
    }
    std::vector<ws::driver::Mailbox*> mailboxes;
    for (auto& s : shards_) mailboxes.push_back(&s->box);
    for (auto& s : consumer_shards_) mailboxes.push_back(&s->box);
    if (mailboxes.empty()) {
      // Nothing to drive (cannot happen after validation); keep the collector's contract.
      static ws::driver::Mailbox idle;
      idle.finished = true;
      mailboxes.push_back(&idle);
    }
    ws::driver::ReportCollector collector(config, *control_, mailboxes, workers);
    ws::driver::RunResult result = collector.collect(on_interval);
    for (auto& t : threads) t.join();
    // Loss per consumer: against what this run's producers had acknowledged (0 without producers).
    std::vector<uint64_t> acked;
    for (const auto& c : clients_) acked.push_back(c->acked);
    result.consumers.clear();
    for (auto& c : consumers_) {
      c->tally.lost = count_lost(*c, config, shared_.run_id, acked);
      result.consumers.push_back(c->tally);
    }
    result.io_backend = "librdkafka";
    // librdkafka does not say which versions it negotiated: the brokers are listed as given.
    std::string error;
    control_->brokers.add_bootstrap(config.bootstrap, error);
    result.brokers = ws::driver::broker_reports(control_->brokers, result.totals);
    destroy_all();
    return result;
  }

  void request_stop() override {
    g_stop.store(true, std::memory_order_relaxed);
    if (ws::driver::RunControl* control = control_.get()) control->stop_requested.store(true, std::memory_order_relaxed);
  }

 private:
  void destroy_all() {
    for (auto& c : clients_) {
      if (c->rkt) rd_kafka_topic_destroy(c->rkt);
      if (c->rk) rd_kafka_destroy(c->rk);
    }
    clients_.clear();
    for (auto& c : consumers_) destroy_consumer(*c);
    consumers_.clear();
  }

  const RunConfig& config_;
  std::string brokers_;
  uint32_t nthreads_ = 0;
  uint32_t consumer_threads_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::unique_ptr<ConsumerShard>> consumer_shards_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<std::unique_ptr<Consumer>> consumers_;
  ws::driver::PayloadPool payloads_;
  RunShared shared_;
  std::unique_ptr<ws::driver::RunControl> control_;
};

}  // namespace

int main(int argc, char** argv) {
  auto parsed = ws::tools::parse_options(argc, argv, "rdkafka-baseline");
  if (!parsed.options) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.output << "\n";
    return parsed.exit_code;
  }
  ws::tools::RunOptions options = std::move(*parsed.options);
  if (options.run.bootstrap.empty()) {
    std::cerr << "rdkafka-baseline: --bootstrap: '' is not valid; give HOST:PORT (no embedded broker here)\n";
    return 2;
  }
  if (options.run.group.enabled()) {
    // Its consumers are librdkafka instances reading every partition alone (assign(), no group).
    std::cerr << "rdkafka-baseline: --group-mode: '" << ws::driver::group_mode_name(options.run.group.mode)
              << "' is not valid; the baseline's consumers read alone: use none\n";
    return 2;
  }
  std::string broker_list;
  for (const auto& b : options.run.bootstrap) broker_list += (broker_list.empty() ? "" : ",") + b;
  options.run.command_line = ws::tools::masked_command_line(argc, argv);
  BaselineEngine engine(options.run, broker_list);
  return ws::tools::run_and_report(options, engine, {"rdkafka-baseline", broker_list, options.run.command_line});
}
