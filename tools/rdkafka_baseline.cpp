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
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <algorithm>
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
#include <thread>
#include <vector>

#include "driver/runner.h"
#include "tools/options.h"
#include "tools/report.h"

namespace {

using ws::driver::Failure;
using ws::driver::Metrics;
using ws::driver::ProducerCounters;
using ws::driver::RunConfig;

std::atomic<bool> g_stop{false};
std::atomic<int> g_signals{0};

void on_signal(int) {
  if (++g_signals > 1) _exit(130);
  g_stop.store(true, std::memory_order_relaxed);
}

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
  uint64_t sequence = 0;     // records produced (for keys)
  bool first_report = true;  // the next delivery report is its first
};

// A driver thread's clients and numbers. Only that thread produces and polls its clients, so the
// slot pool needs no lock; the mutex guards the numbers the reporting thread takes.
struct Shard {
  std::vector<Client*> clients;
  uint64_t budget = 0;  // records to send; UINT64_MAX = until --duration
  double rate = 0;      // records/s over this shard's clients; 0 = as fast as possible

  std::deque<Slot> slots;
  uint32_t free_head = UINT32_MAX;

  std::mutex mutex;
  ProducerCounters counters;  // cumulative
  Metrics interval;           // since the reporting thread last took it
  bool finished = false;

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
    if (!shard.interval.latency_us.record(std::max<int64_t>(0, (t - slot.intended_ns) / 1000))) {
      ++c.latency_out_of_range;
    }
    shard.interval.service_latency_us.record(std::max<int64_t>(0, (t - slot.sent_ns) / 1000));
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
    } else {
      ++c.connections_failed;
    }
  }
}

std::string ms_string(std::chrono::nanoseconds d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

rd_kafka_t* make_producer(const RunConfig& config, const std::string& brokers, Client* client,
                          std::string& error) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
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
  rd_kafka_conf_set_opaque(conf, client);
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);  // owns conf on success
  if (!rk) {
    error = err;
    rd_kafka_conf_destroy(conf);
  }
  return rk;
}

// A driver thread: walks its clients' open-loop schedule, produces, serves delivery reports.
void drive(Shard& shard, const RunConfig& config, int64_t start_ns, const std::vector<char>& payload,
           std::atomic<long>& peak_threads) {
  const int64_t end_ns = config.duration.count() > 0
                             ? start_ns + config.warmup.count() + config.duration.count()
                             : INT64_MAX;
  const int64_t period_ns = shard.rate > 0 ? static_cast<int64_t>(1e9 / shard.rate) : 0;
  constexpr int64_t kPollEveryNs = 1'000'000;
  const size_t n = shard.clients.size();
  std::string key;
  uint64_t j = 0;  // this shard's records so far, in schedule order
  size_t cursor = 0;  // unpaced: the client to try next
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
    const uint32_t slot = shard.take_slot();
    shard.slots[slot].intended_ns = intended;
    shard.slots[slot].sent_ns = now_ns();
    // Flags 0: the payload is one constant buffer, never copied or freed by librdkafka.
    const int rc = rd_kafka_produce(c.rkt, RD_KAFKA_PARTITION_UA, 0,
                                    const_cast<char*>(payload.data()), payload.size(),
                                    config.key_size > 0 ? key.data() : nullptr, key.size(),
                                    reinterpret_cast<void*>(static_cast<uintptr_t>(slot)));
    if (rc != 0) {
      shard.give_slot(slot);
      return false;
    }
    ++c.sequence;
    std::lock_guard lock(shard.mutex);
    ++shard.counters.messages_sent;
    shard.counters.bytes_sent += payload.size() + key.size();  // no per-record wire bytes exist
    return true;
  };

  while (j < shard.budget && !g_stop.load(std::memory_order_relaxed)) {
    const int64_t now = now_ns();
    if (now >= end_ns) break;
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
        peak_threads.store(std::max(peak_threads.load(), ws::tools::current_thread_count()));
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
  std::lock_guard lock(shard.mutex);
  shard.finished = true;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = ws::tools::parse_options(argc, argv);
  if (!parsed.options) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.output << "\n";
    return parsed.exit_code;
  }
  ws::tools::Options options = std::move(*parsed.options);
  RunConfig& config = options.run;
  ws::driver::latency_histogram_spec() = {
      std::chrono::duration_cast<std::chrono::microseconds>(options.latency_max).count(), options.latency_digits};
  if (config.bootstrap.empty()) {
    std::cerr << "rdkafka-baseline: --bootstrap is required (no embedded broker here)\n";
    return 2;
  }
  std::string broker_list;
  for (const auto& b : config.bootstrap) broker_list += (broker_list.empty() ? "" : ",") + b;

  // Clients and driver threads.
  const uint32_t nthreads = std::max<uint32_t>(1, std::min(config.threads, config.clients));
  std::vector<std::unique_ptr<Shard>> shards;
  for (uint32_t t = 0; t < nthreads; ++t) shards.push_back(std::make_unique<Shard>());
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<char> payload(config.message_size);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);

  auto destroy_all = [&] {
    for (auto& c : clients) {
      if (c->rkt) rd_kafka_topic_destroy(c->rkt);
      if (c->rk) rd_kafka_destroy(c->rk);
    }
    clients.clear();
  };
  for (uint32_t i = 0; i < config.clients; ++i) {
    auto c = std::make_unique<Client>();
    c->index = i;
    c->shard = shards[i % nthreads].get();
    std::string error;
    c->rk = make_producer(config, broker_list, c.get(), error);
    if (!c->rk) {
      std::cerr << "rdkafka-baseline: client " << i << ": " << error << "\n";
      destroy_all();
      return 1;
    }
    c->rkt = rd_kafka_topic_new(c->rk, config.topic.c_str(), nullptr);
    c->shard->clients.push_back(c.get());
    clients.push_back(std::move(c));
  }
  for (uint32_t t = 0; t < nthreads; ++t) {
    Shard& s = *shards[t];
    const auto share = static_cast<double>(s.clients.size()) / config.clients;
    s.rate = config.rate * share;
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

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::atomic<long> peak_threads{ws::tools::current_thread_count()};
  const int64_t start = now_ns();
  const int64_t measure_start = start + config.warmup.count();
  std::vector<std::thread> threads;
  for (auto& s : shards) {
    threads.emplace_back([&, sp = s.get()] { drive(*sp, config, start, payload, peak_threads); });
  }

  // Reporting, from this thread, every --report-interval until every driver thread is done.
  nlohmann::ordered_json intervals = nlohmann::ordered_json::array();
  ProducerCounters previous, at_measure_start;
  int64_t previous_tick = start;
  Metrics interval_metrics, measured;
  bool measuring = config.warmup.count() == 0;
  int64_t measured_from = start;
  const int64_t tick = std::max<int64_t>(1'000'000, config.report_interval.count());
  int64_t next_tick = start + tick;
  bool done = false;
  while (!done) {
    // Wake often enough to notice the end, report on the tick.
    while (true) {
      bool all_finished = true;
      for (auto& s : shards) {
        std::lock_guard lock(s->mutex);
        all_finished = all_finished && s->finished;
      }
      if (all_finished) {
        done = true;
        break;
      }
      if (now_ns() >= next_tick) break;
      sleep_until_ns(std::min(next_tick, now_ns() + 50'000'000));
    }
    peak_threads.store(std::max(peak_threads.load(), ws::tools::current_thread_count()));
    ProducerCounters total;
    interval_metrics.counters = {};
    interval_metrics.latency_us.reset();
    interval_metrics.service_latency_us.reset();
    for (auto& s : shards) {
      std::lock_guard lock(s->mutex);
      total.add(s->counters);
      interval_metrics.add(s->interval);
      s->interval.latency_us.reset();
      s->interval.service_latency_us.reset();
    }
    total.connections_open = 0;
    total.clients_producing = 0;
    for (auto& s : shards) {
      std::lock_guard lock(s->mutex);
      total.connections_open += s->counters.connections_open;
      total.clients_producing += s->counters.clients_producing;
    }
    const int64_t now = now_ns();
    ws::driver::IntervalReport r;
    r.elapsed_s = static_cast<double>(now - start) / 1e9;
    r.interval_s = static_cast<double>(now - previous_tick) / 1e9;
    previous_tick = now;
    r.warmup = !measuring;
    r.total = total;
    r.delta = counters_since(total, previous);
    r.interval = &interval_metrics;
    previous = total;
    if (!options.quiet) std::cout << ws::tools::interval_line(r, config) << std::endl;
    if (!options.json_path.empty()) intervals.push_back(ws::tools::interval_json(r, config));
    if (measuring) {
      measured.latency_us.add(interval_metrics.latency_us);
      measured.service_latency_us.add(interval_metrics.service_latency_us);
    } else if (now >= measure_start) {
      measuring = true;
      at_measure_start = total;
      measured_from = now;
    }
    next_tick += tick;
  }
  for (auto& t : threads) t.join();
  const int64_t end = now_ns();

  ws::driver::RunResult result;
  result.counters = counters_since(previous, at_measure_start);
  result.metrics.latency_us = measured.latency_us;
  result.metrics.service_latency_us = measured.service_latency_us;
  result.elapsed_s = static_cast<double>(end - measured_from) / 1e9;
  result.io_backend = "librdkafka";
  result.threads = nthreads;

  destroy_all();

  auto process = ws::tools::read_process_figures();
  process.threads = std::max(process.threads, peak_threads.load());
  std::cout << ws::tools::summary(result, config, process, "rdkafka-baseline") << std::flush;
  if (!options.json_path.empty()) {
    std::ofstream out(options.json_path);
    out << ws::tools::result_json(result, options, broker_list, process, std::move(intervals)).dump(2) << "\n";
    if (!out) {
      std::cerr << "rdkafka-baseline: --json: cannot write " << options.json_path << "\n";
      return 1;
    }
  }
  return 0;
}
