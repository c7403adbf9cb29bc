#include "driver/worker.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "net/asio_loop.h"
#include "net/uring_loop.h"
#include "protocol/errors.h"

namespace ws::driver {
namespace {

using protocol::ApiVersionsRequest;
using protocol::MetadataRequest;
using protocol::ProduceRequest;

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kPublishEveryNs = 100 * kMs;
constexpr int64_t kTimeoutSweepEveryNs = 100 * kMs;
constexpr int64_t kMetadataRetryNs = 250 * kMs;
constexpr uint8_t kMetadataAttempts = 120;  // 30 s of LEADER_NOT_AVAILABLE before giving up
constexpr size_t kEventBatch = 1024;
constexpr size_t kCoalesceBytes = 64 * 1024;  // stop adding requests to one write past this
constexpr uint32_t kAcks0RequestsPerWrite = 64;  // acks=0: requests one write may carry
// Kafka 0.9 neither answers nor closes on ApiVersions; librdkafka waits 10 s
// (api.version.request.timeout.ms) before falling back. A broker on loopback or a LAN that has
// ApiVersions answers in milliseconds, so 3 s is ample and keeps start-up against 0.9 short.
constexpr int64_t kApiVersionsTimeoutNs = 3000 * kMs;

bool is_connected(ClientState s) {
  return s == ClientState::kApiVersions || s == ClientState::kMetadata || s == ClientState::kProducing ||
         s == ClientState::kPositioning || s == ClientState::kConsuming;
}

// Kafka 0.9 (no ApiVersions) speaks Produce v0-1, Fetch v0-1, ListOffsets v0 and Metadata v0.
constexpr int16_t kFallbackProduceMax = 1;
constexpr int16_t kFallbackMetadataMax = 0;
constexpr int16_t kFallbackFetchMax = 1;
constexpr int16_t kFallbackListOffsetsMax = 0;
// Fetch v13 names topics by id, which needs Metadata v10+; v12 is the last that names them.
constexpr int16_t kFetchMaxByName = 12;
// ListOffsets v4+ adds only leader epochs (and v8+ tiered-storage lookups) that a stress consumer
// does not use, and librdkafka 2.0.2's mock cluster writes v4+ responses with 4 extra bytes per
// partition (librdkafka itself asks for v2 at most). v3 is understood by every broker since 2.0.
constexpr int16_t kListOffsetsMax = 3;
// A fetch answered with an error (leader moving, offset out of range) is retried after this.
constexpr int64_t kFetchRetryNs = 100 * kMs;

// The highest version both sides speak, or -1 if the ranges do not overlap.
int16_t negotiate(int16_t ours_min, int16_t ours_max, int16_t theirs_min, int16_t theirs_max) {
  const int16_t v = std::min(ours_max, theirs_max);
  return v >= std::max(ours_min, theirs_min) ? v : -1;
}

// Record format per Produce version: v0-1 magic 0, v2 magic 1, v3+ RecordBatch v2.
int8_t magic_for_produce_version(int16_t v) { return v >= 3 ? 2 : (v == 2 ? 1 : 0); }

}  // namespace

template <typename Loop>
Worker<Loop>::Worker(const RunConfig& config, RunControl& control, Mailbox& mailbox,
                     net::LoopOptions loop_options, std::vector<net::Endpoint> bootstrap,
                     const WorkerShare& share)
    : config_(config), control_(control), mailbox_(mailbox), loop_options_(loop_options) {
  for (auto& ep : bootstrap) brokers_.push_back(BrokerEndpoint{.address = std::move(ep)});
  producer_count_ = share.producers;
  clients_.resize(share.producers + share.consumers);
  for (uint32_t i = 0; i < share.producers; ++i) {
    Client& cl = clients_[i];
    cl.global_index = share.first_producer + i;
    cl.endpoint = static_cast<uint16_t>(cl.global_index % brokers_.size());
    cl.client_id = config_.client_id_prefix + "-" + std::to_string(cl.global_index);
    // Spread the worker's quota evenly; the first clients take the remainder.
    cl.quota_left = config_.messages == 0 ? UINT64_MAX
                                          : share.producer_quota / share.producers +
                                                (i < share.producer_quota % share.producers ? 1 : 0);
    // +1: a Metadata or ApiVersions request can be in flight besides the produce window.
    cl.in_flight.reset_capacity(config_.max_in_flight + 1);
  }
  for (uint32_t i = 0; i < share.consumers; ++i) {
    Client& cl = clients_[share.producers + i];
    cl.global_index = share.first_consumer + i;
    cl.endpoint = static_cast<uint16_t>(cl.global_index % brokers_.size());
    cl.client_id = config_.client_id_prefix + "-consumer-" + std::to_string(cl.global_index);
    cl.consumer = std::make_unique<ConsumerState>();
    cl.consumer->tally.id = cl.global_index;
    // Consumer-only runs: --messages is what each consumer reads before it stops.
    if (config_.clients == 0 && config_.messages > 0) cl.consumer->quota_left = config_.messages;
    cl.in_flight.reset_capacity(2);  // one fetch (or set-up request) at a time, as Kafka consumers do
  }
  if (config_.rate > 0 && config_.clients > 0) {
    const double per_client = config_.rate / config_.clients;
    record_interval_ns_ = std::max<int64_t>(1, static_cast<int64_t>(1e9 / per_client));
  }
  payload_.resize(config_.message_size);
  for (size_t i = 0; i < payload_.size(); ++i) payload_[i] = static_cast<uint8_t>('a' + i % 26);
  produce_request_.topic_data.resize(1);
  produce_request_.topic_data[0].partition_data.resize(1);
  events_.resize(kEventBatch);
  // Producers with nothing to send are settled from the start.
  for (uint32_t i = 0; i < producer_count_; ++i) {
    if (clients_[i].quota_left == 0) settle(i);
  }
}

template <typename Loop>
int64_t Worker<Loop>::now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

template <typename Loop>
int64_t Worker<Loop>::backoff_ns(uint8_t attempts) const {
  // 100 ms doubling to 5 s, so a restarting broker is not hammered by every client at once.
  const int shift = std::min<int>(attempts, 7);
  return std::min<int64_t>(100 * kMs << shift, 5000 * kMs);
}

template <typename Loop>
void Worker<Loop>::run() {
  std::string error;
  loop_ = Loop::create(loop_options_, error);
  control_.start_barrier.arrive_and_wait();
  if (!loop_) {
    // prepare() probed this backend on another thread, so this is unexpected (e.g. out of memory
    // for the ring): the clients of this worker count as failed rather than the process dying.
    metrics_.counters.failures[static_cast<size_t>(Failure::kConnectFailed)] += clients_.size();
    return publish(true);
  }
  const int64_t start = control_.start_ns.load();
  if (config_.duration.count() > 0) end_ns_ = start + config_.warmup.count() + config_.duration.count();
  measure_start_ns_ = start + config_.warmup.count();
  if (config_.warmup.count() == 0) {
    // Measuring from the very start: the first connection attempts below count, from zero.
    past_warmup_ = true;
    std::lock_guard lock(mailbox_.mutex);
    mailbox_.measuring = true;
  }
  if (config_.verify && control_.producer_measured_from) {
    measured_from_ = {control_.producer_measured_from.get(), control_.producer_count};
  }
  // Producers wait for consumers to take their start offsets, but not for ever: a consumer that
  // cannot connect must not stop the run. Connecting is paced (--max-connecting), hence the
  // allowance per consumer.
  gate_deadline_ns_ = start + config_.connect_timeout.count() + int64_t{config_.consumers} * 2 * kMs;
  wall_minus_steady_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count() - now_ns();
  for (uint32_t c = 0; c < clients_.size(); ++c) {
    if (clients_[c].state == ClientState::kWaiting) start_connect(c, start);
  }
  int64_t next_publish = start + kPublishEveryNs;
  int64_t next_sweep = start + kTimeoutSweepEveryNs;
  int64_t busy_since = now_ns();
  while (true) {
    int64_t now = now_ns();
    if (!past_warmup_ && now >= measure_start_ns_) {
      // The end of the warm-up: hand over what was recorded before it, then count from here.
      publish(false);
      past_warmup_ = true;
      std::lock_guard lock(mailbox_.mutex);
      mailbox_.measuring = true;
      mailbox_.baseline = metrics_.counters;
    }
    if (!stopping_ && (control_.stop.load(std::memory_order_relaxed) || (end_ns_ && now >= end_ns_))) {
      stopping_ = true;
      drain_deadline_ns_ = now + config_.drain_timeout.count();
      record_unsent_backlog(now);
      for (uint32_t c = 0; c < producer_count_; ++c) {
        if (clients_[c].in_flight.empty() && !clients_[c].send_in_progress) finish(c, now);
      }
      // Without producers there is nothing to catch up with: consumers stop with the run.
      if (config_.clients == 0) consumers_stop(now);
    }
    if (!producers_done_ && producer_count_ < clients_.size() && config_.clients > 0 &&
        (control_.producers_active.load(std::memory_order_relaxed) == 0 ||
         (stopping_ && now >= drain_deadline_ns_))) {
      // Every producer of the run is done: consumers now read up to the end of the log (the
      // high watermark of a fetch sent from now on) and stop there, or are behind at the deadline.
      producers_done_ = true;
      consumer_deadline_ns_ = now + config_.drain_timeout.count();
      if (control_.producer_acked) {
        for (uint32_t p = 0; p < control_.producer_count; ++p) {
          acked_total_ += control_.producer_acked[p].load(std::memory_order_relaxed);
        }
      }
      // Consumers that already have everything stop now rather than after their held fetch.
      for (uint32_t c = producer_count_; c < clients_.size(); ++c) {
        if (clients_[c].state == ClientState::kConsuming && has_everything(*clients_[c].consumer)) settle(c);
      }
    }
    if (all_settled()) break;
    if (producers_done_ && now >= consumer_deadline_ns_) break;
    if (stopping_ && now >= drain_deadline_ns_ && producer_count_ == clients_.size()) break;

    while (!wakes_.empty() && wakes_.top().at_ns <= now) {
      const Wake w = wakes_.top();
      wakes_.pop();
      tick(w.client, now);
    }
    if (now >= next_sweep) {
      sweep_timeouts(now);
      next_sweep = now + kTimeoutSweepEveryNs;
    }
    if (now >= next_publish) {
      publish(false);
      next_publish = now + kPublishEveryNs;
    }

    int64_t next = next_publish;
    if (!past_warmup_) next = std::min(next, measure_start_ns_);
    if (!wakes_.empty()) next = std::min(next, wakes_.top().at_ns);
    if (end_ns_ && !stopping_) next = std::min(next, end_ns_);
    // Round up: waking up to 1 ms late costs accuracy that the intended-time latency records
    // honestly; rounding down would spin on poll(0) whenever the next wake is under 1 ms away.
    const int timeout_ms = static_cast<int>(std::clamp<int64_t>((next - now + kMs - 1) / kMs, 0, 50));
    const int64_t poll_start = now_ns();
    metrics_.counters.loop_busy_ns += static_cast<uint64_t>(poll_start - busy_since);
    const size_t n = loop_->poll(events_, timeout_ms);
    ++batch_;
    now = now_ns();
    // A poll that returned at once (within 50 us) was work (submitting and reaping), not waiting.
    busy_since = now - poll_start < 50'000 ? poll_start : now;
    for (size_t i = 0; i < n; ++i) {
      const net::Event& e = events_[i];
      // A close does not retract events already in this batch: they belong to the old connection.
      if (clients_[e.conn].closed_in_batch == batch_) continue;
      switch (e.type) {
        case net::Event::kConnected: on_connected(e.conn, e.error, now); break;
        case net::Event::kData: on_data(e.conn, e.data, now); break;
        case net::Event::kSent: on_sent(e.conn, e.error, now); break;
        case net::Event::kClosed:
          if (is_connected(clients_[e.conn].state)) on_closed(e.conn, e.error, now);
          break;
      }
    }
    // Sends deferred to the end of the batch, so several responses free one write, not several.
    for (const uint32_t c : send_queue_) {
      clients_[c].send_queued = false;
      maybe_send_produce(c, now);
    }
    send_queue_.clear();
  }
  consumers_stop(now_ns());
  // Whatever is still in flight after the drain deadline stays "sent, not acknowledged".
  for (uint32_t c = 0; c < clients_.size(); ++c) {
    if (is_connected(clients_[c].state) || clients_[c].state == ClientState::kConnecting) {
      close_connection(c);
    }
  }
  metrics_.counters.connections_open = 0;
  metrics_.counters.clients_producing = 0;
  publish_consumer_tallies();
  publish(true);
}

template <typename Loop>
void Worker<Loop>::queue_send(uint32_t c) {
  if (clients_[c].send_queued) return;
  clients_[c].send_queued = true;
  send_queue_.push_back(c);
}

template <typename Loop>
void Worker<Loop>::close_connection(uint32_t c) {
  loop_->close(c);
  clients_[c].closed_in_batch = batch_;
}

template <typename Loop>
void Worker<Loop>::tick(uint32_t c, int64_t now) {
  Client& cl = clients_[c];
  switch (cl.state) {
    case ClientState::kWaiting:
      if (now >= cl.wake_ns && !stopping_) start_connect(c, now);
      break;
    case ClientState::kConnecting:
      if (now >= cl.wake_ns) {  // connect timeout
        close_connection(c);
        on_connected(c, ETIMEDOUT, now);
      }
      break;
    case ClientState::kMetadata:
      if (now >= cl.wake_ns && cl.in_flight.empty() && !cl.send_in_progress) {
        if (stopping_ && !cl.consumer) return settle(c);
        send_metadata(c, now);
      }
      break;
    case ClientState::kProducing:
      maybe_send_produce(c, now);
      break;
    case ClientState::kPositioning:  // ListOffsets held back after an error
      if (now >= cl.wake_ns && cl.in_flight.empty() && !cl.send_in_progress) send_list_offsets(c, now);
      break;
    case ClientState::kConsuming:  // a fetch held back after an error
      if (now >= cl.wake_ns && cl.in_flight.empty() && !cl.send_in_progress) send_fetch(c, now);
      break;
    default:
      break;
  }
}

template <typename Loop>
void Worker<Loop>::start_connect(uint32_t c, int64_t now) {
  Client& cl = clients_[c];
  if (connecting_ >= config_.connect_concurrency) {
    if (!cl.awaiting_connect_slot) {
      cl.awaiting_connect_slot = true;
      connect_queue_.push_back(c);
    }
    return;
  }
  ++connecting_;
  cl.holds_connect_slot = true;
  cl.state = ClientState::kConnecting;
  cl.wake_ns = now + config_.connect_timeout.count();
  schedule(c, cl.wake_ns);
  ++metrics_.counters.connections_attempted;
  loop_->connect(c, brokers_[cl.endpoint].address);
}

template <typename Loop>
void Worker<Loop>::release_connect_slot(uint32_t c, int64_t now) {
  Client& cl = clients_[c];
  if (!cl.holds_connect_slot) return;
  cl.holds_connect_slot = false;
  --connecting_;
  while (!connect_queue_.empty() && connecting_ < config_.connect_concurrency) {
    const uint32_t next = connect_queue_.front();
    connect_queue_.pop_front();
    clients_[next].awaiting_connect_slot = false;
    if (clients_[next].state == ClientState::kWaiting && !stopping_) start_connect(next, now);
  }
}

template <typename Loop>
void Worker<Loop>::on_connected(uint32_t c, int error, int64_t now) {
  Client& cl = clients_[c];
  if (cl.state != ClientState::kConnecting) return;
  if (error != 0) {
    release_connect_slot(c, now);
    ++metrics_.counters.connections_failed;
    ++metrics_.counters.failures[static_cast<size_t>(Failure::kConnectFailed)];
    if (stopping_) return settle(c);
    cl.state = ClientState::kWaiting;
    cl.wake_ns = now + backoff_ns(cl.connect_attempts);
    cl.connect_attempts = static_cast<uint8_t>(std::min(cl.connect_attempts + 1, 255));
    schedule(c, cl.wake_ns);
    return;
  }
  ++metrics_.counters.connections_established;
  ++metrics_.counters.connections_open;
  cl.connect_attempts = 0;
  begin_session(c, now);
}

template <typename Loop>
void Worker<Loop>::use_fallback_versions(BrokerEndpoint& b) {
  b.versions_known = true;
  b.has_api_versions = false;
  b.produce_max = kFallbackProduceMax;
  b.metadata_max = kFallbackMetadataMax;
  b.fetch_max = kFallbackFetchMax;
  b.list_offsets_max = kFallbackListOffsetsMax;
}

template <typename Loop>
void Worker<Loop>::begin_session(uint32_t c, int64_t now) {
  Client& cl = clients_[c];
  BrokerEndpoint& b = brokers_[cl.endpoint];
  if (stopping_) return settle(c);  // connected after the end of the run: nothing to do
  if (config_.broker_version == BrokerVersion::kV0_9 && !b.versions_known) use_fallback_versions(b);
  // Like librdkafka and the Java client, every new connection opens with ApiVersions where the
  // broker has it (librdkafka's mock even ignores requests on a connection that skipped it).
  if (b.has_api_versions && !cl.versions_negotiated) return send_api_versions(c, now);
  cl.versions_negotiated = false;  // the next connection asks again

  cl.produce_version = b.produce_max;
  cl.metadata_version = b.metadata_max;
  cl.fetch_version = std::min(b.fetch_max, kFetchMaxByName);
  cl.list_offsets_version = std::min(b.list_offsets_max, kListOffsetsMax);
  const bool unsupported =
      cl.metadata_version < 0 ||
      (cl.consumer ? cl.fetch_version < 0 || cl.list_offsets_version < 0
                   : cl.produce_version < 0 ||
                         // zstd needs Produce v7 (Kafka 2.1); nothing this client can do about it.
                         (config_.compression == protocol::Codec::kZstd && cl.produce_version < 7));
  if (unsupported) {
    if (cl.consumer) mark_failing(c, "unsupported_by_broker");
    ++metrics_.counters.failures[static_cast<size_t>(Failure::kUnsupported)];
    cl.state = ClientState::kFailed;
    close_connection(c);
    --metrics_.counters.connections_open;
    count_settled(c);
    return;
  }
  cl.magic = magic_for_produce_version(cl.produce_version);
  if (cl.needs_metadata) return send_metadata(c, now);
  if (cl.consumer) return cl.consumer->positioned ? send_fetch(c, now) : send_list_offsets(c, now);
  cl.state = ClientState::kProducing;
  maybe_send_produce(c, now);
}

template <typename Loop>
template <typename Request>
void Worker<Loop>::append_request(uint32_t c, const Request& body, int16_t version, uint32_t records,
                                  int64_t intended_ns, int64_t now, bool expects_response) {
  Client& cl = clients_[c];
  const int32_t correlation_id = cl.next_correlation_id++;
  const size_t size =
      protocol::encode_request(cl.send_buffer, body, version, correlation_id, cl.client_id);
  cl.in_flight.push(InFlight{.intended_ns = intended_ns,
                             .sent_ns = now,
                             .correlation_id = correlation_id,
                             .records = records,
                             .api_key = Request::kApiKey,
                             .api_version = version,
                             .expects_response = expects_response});
  if constexpr (Request::kApiKey == ProduceRequest::kApiKey) {
    ++metrics_.counters.requests_sent;
    metrics_.counters.messages_sent += records;
    metrics_.counters.bytes_sent += size;
  }
}

template <typename Loop>
void Worker<Loop>::flush_sends(uint32_t c) {
  Client& cl = clients_[c];
  if (cl.send_buffer.empty()) return;
  cl.send_in_progress = true;
  loop_->send(c, cl.send_buffer.data(), cl.send_buffer.size());
}

template <typename Loop>
void Worker<Loop>::send_api_versions(uint32_t c, int64_t now) {
  Client& cl = clients_[c];
  ApiVersionsRequest request;
  request.client_software_name = "wirestress";
  request.client_software_version = "0.1.0";
  cl.state = ClientState::kApiVersions;
  cl.send_buffer.clear();
  append_request(c, request, cl.api_versions_version, 0, now, now, true);
  flush_sends(c);
}

template <typename Loop>
void Worker<Loop>::send_metadata(uint32_t c, int64_t now) {
  Client& cl = clients_[c];
  MetadataRequest request;
  request.topics.emplace(1);
  (*request.topics)[0].name = config_.topic;
  request.allow_auto_topic_creation = true;
  cl.state = ClientState::kMetadata;
  cl.send_buffer.clear();
  append_request(c, request, cl.metadata_version, 0, now, now, true);
  flush_sends(c);
}

template <typename Loop>
void Worker<Loop>::maybe_send_produce(uint32_t c, int64_t now) {
  Client& cl = clients_[c];
  if (cl.state != ClientState::kProducing || cl.send_in_progress) return;
  if (stopping_ || cl.quota_left == 0) {
    if (cl.in_flight.empty()) finish(c, now);  // drained: this client is finished
    return;
  }
  if (cl.needs_metadata) {
    if (cl.in_flight.empty()) send_metadata(c, now);
    return;
  }
  if (!producers_may_start(now)) {
    schedule(c, now + 50 * kMs);
    return;
  }
  // Every request that is due and fits the in-flight window goes out in one write: one system
  // call for several requests, where one each made the kernel the client's main cost. With
  // acks=0 no request awaits a response, so the window does not apply; a write then takes up to
  // kAcks0RequestsPerWrite (most of the saving, while 10,000 clients' buffers stay small).
  cl.send_buffer.clear();
  const uint32_t window = config_.acks == 0 ? std::max(config_.max_in_flight, kAcks0RequestsPerWrite)
                                            : config_.max_in_flight;
  while (cl.in_flight.size() < window && cl.quota_left > 0 && cl.send_buffer.size() < kCoalesceBytes) {
    if (!append_produce(c, now)) break;
  }
  flush_sends(c);
}

template <typename Loop>
bool Worker<Loop>::append_produce(uint32_t c, int64_t now) {
  Client& cl = clients_[c];
  uint32_t count = static_cast<uint32_t>(std::min<uint64_t>(config_.batch, cl.quota_left));
  int64_t intended = now;
  if (record_interval_ns_ > 0) {
    // Open loop: records fall due at a fixed rate; a request goes out when the batch is full or
    // the first record has lingered long enough. Latency counts from the first record's due time.
    if (cl.next_record_ns == 0) {
      // Each client's schedule starts at its own phase within one interval, so 10,000 clients at
      // one record per 100 s spread their records evenly instead of all sending on connect.
      const uint64_t phase = static_cast<uint64_t>(record_interval_ns_) * (cl.global_index % config_.clients) /
                             config_.clients;
      cl.next_record_ns = now + static_cast<int64_t>(phase);
    }
    const int64_t first = cl.next_record_ns;
    const int64_t fill_ns = static_cast<int64_t>(count - 1) * record_interval_ns_;
    const int64_t due = first + std::min<int64_t>(config_.linger.count(), fill_ns);
    if (now < due) {
      schedule(c, due);
      return false;
    }
    count = static_cast<uint32_t>(
        std::min<int64_t>(count, (now - first) / record_interval_ns_ + 1));
    intended = first;
    cl.next_record_ns = first + static_cast<int64_t>(count) * record_interval_ns_;
  }

  // Build the record set, then the request around it; every buffer here is reused.
  record_buffer_.clear();
  record_writer_.begin(record_buffer_, {.magic = cl.magic, .codec = config_.compression});
  const int64_t timestamp_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
  const uint64_t first_sequence = metrics_.counters.messages_sent;
  if (config_.verify) fill_values(cl, count, intended, now);
  for (uint32_t i = 0; i < count; ++i) {
    protocol::RecordToWrite record;
    record.value = config_.verify ? protocol::Bytes(values_.data() + i * payload_.size(), payload_.size())
                                  : protocol::Bytes(payload_);
    record.timestamp_ms = timestamp_ms;
    if (config_.key_size > 0) {
      // Keys differ per client and record: "<client>-<sequence>", padded or cut to --key-size.
      char key[48];
      const int n = std::snprintf(key, sizeof key, "%u-%llu", cl.global_index,
                                  static_cast<unsigned long long>(first_sequence + i));
      key_scratch_.assign(key, static_cast<size_t>(n));
      key_scratch_.resize(config_.key_size, '.');
      record.key = protocol::Bytes(reinterpret_cast<const uint8_t*>(key_scratch_.data()), key_scratch_.size());
    }
    record_writer_.add(record);
  }
  record_writer_.finish();

  auto& topic = produce_request_.topic_data[0];
  topic.name = config_.topic;
  topic.partition_data[0].index = cl.partition;
  topic.partition_data[0].records = protocol::Bytes(record_buffer_);
  produce_request_.acks = config_.acks;
  produce_request_.timeout_ms =
      static_cast<int32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(config_.request_timeout).count());
  append_request(c, produce_request_, cl.produce_version, count, intended, now, config_.acks != 0);
  cl.quota_left -= count;
  cl.unflushed_records = config_.acks == 0;
  if (record_interval_ns_ > 0 && cl.quota_left > 0) schedule(c, cl.next_record_ns);
  return true;
}

template <typename Loop>
void Worker<Loop>::on_sent(uint32_t c, int error, int64_t now) {
  Client& cl = clients_[c];
  cl.send_in_progress = false;
  if (error != 0) return reset_connection(c, Failure::kDisconnected, now, false);  // (loop reports kClosed instead)
  // With acks=0 a produce request is complete once written: the broker never answers it.
  while (!cl.in_flight.empty() && !cl.in_flight.front().expects_response) {
    complete_produce(c, cl.in_flight.front(), protocol::error::kNone, now);
    cl.in_flight.pop();
  }
  queue_send(c);
}

template <typename Loop>
void Worker<Loop>::on_data(uint32_t c, std::span<const uint8_t> data, int64_t now) {
  Client& cl = clients_[c];
  // Usually a whole response arrives in one read and is parsed straight from the loop's buffer;
  // only a frame split across reads is copied into the client's own buffer.
  std::span<const uint8_t> pending = data;
  const bool buffered = !cl.partial.empty();
  if (buffered) {
    cl.partial.insert(cl.partial.end(), data.begin(), data.end());
    pending = cl.partial;
  }
  size_t consumed = 0;
  while (true) {
    const auto check = protocol::check_frame(pending.subspan(consumed));
    if (check.status == protocol::FrameStatus::kTooLarge) {
      return reset_connection(c, Failure::kDecodeError, now, false);
    }
    if (check.status == protocol::FrameStatus::kNeedMore) break;
    const auto frame = pending.subspan(consumed + 4, check.frame_size - 4);
    consumed += check.frame_size;
    if (!handle_frame(c, frame, now)) return;  // the connection was reset or moved
  }
  if (buffered) {
    cl.partial.erase(cl.partial.begin(), cl.partial.begin() + static_cast<ptrdiff_t>(consumed));
  } else if (consumed < pending.size()) {
    cl.partial.assign(pending.begin() + static_cast<ptrdiff_t>(consumed), pending.end());
  }
}

template <typename Loop>
bool Worker<Loop>::handle_frame(uint32_t c, std::span<const uint8_t> frame, int64_t now) {
  Client& cl = clients_[c];
  const bool producer_acks0 = config_.acks == 0 && !cl.consumer;
  if (cl.in_flight.empty() || !cl.in_flight.front().expects_response) {
    // Real brokers never answer acks=0 produces, but librdkafka's mock cluster does: ignore
    // unsolicited responses then, as librdkafka does. Otherwise the stream is out of step.
    if (producer_acks0) return true;
    reset_connection(c, Failure::kCorrelationMismatch, now, false);
    return false;
  }
  const InFlight request = cl.in_flight.front();
  auto response = protocol::read_response_header(frame, request.api_key, request.api_version);
  if (!response.body.ok()) {
    reset_connection(c, Failure::kDecodeError, now, false);
    return false;
  }
  if (response.correlation_id != request.correlation_id) {
    if (producer_acks0) return true;  // an unsolicited produce answer (mock cluster): skip it
    reset_connection(c, Failure::kCorrelationMismatch, now, false);
    return false;
  }
  cl.in_flight.pop();
  // The broker answered: this connection is really established (TCP connect alone proves little
  // when the broker's accept queue overflowed), so the next client may start connecting.
  release_connect_slot(c, now);
  switch (request.api_key) {
    case ApiVersionsRequest::kApiKey: return handle_api_versions(c, response.body, request, now);
    case MetadataRequest::kApiKey: return handle_metadata(c, response.body, request, now);
    case ProduceRequest::kApiKey: return handle_produce(c, response.body, request, now);
    case protocol::FetchRequest::kApiKey:
      metrics_.counters.consume_bytes += frame.size() + 4;
      return handle_fetch(c, response.body, request, now);
    case protocol::ListOffsetsRequest::kApiKey: return handle_list_offsets(c, response.body, request, now);
    default: return true;
  }
}

template <typename Loop>
bool Worker<Loop>::handle_api_versions(uint32_t c, protocol::Reader& body, const InFlight& request,
                                       int64_t now) {
  Client& cl = clients_[c];
  auto& response = api_versions_response_;
  protocol::decode_api_versions_response(body, request.api_version, response);
  if (!body.ok()) {
    reset_connection(c, Failure::kDecodeError, now, false);
    return false;
  }
  BrokerEndpoint& b = brokers_[cl.endpoint];
  b.produce_max = b.metadata_max = b.api_versions_max = b.fetch_max = b.list_offsets_max = -1;
  for (const auto& api : response.api_keys) {
    const auto* ours = protocol::find_api(api.api_key);
    if (!ours) continue;
    const int16_t v = negotiate(ours->min_version, ours->max_version, api.min_version, api.max_version);
    if (api.api_key == ProduceRequest::kApiKey) b.produce_max = v;
    if (api.api_key == MetadataRequest::kApiKey) b.metadata_max = v;
    if (api.api_key == ApiVersionsRequest::kApiKey) b.api_versions_max = v;
    if (api.api_key == protocol::FetchRequest::kApiKey) b.fetch_max = v;
    if (api.api_key == protocol::ListOffsetsRequest::kApiKey) b.list_offsets_max = v;
  }
  if (response.error_code == protocol::error::kUnsupportedVersion && request.api_version > 0) {
    // The broker listed what it speaks: ask again in a version it knows.
    cl.api_versions_version = std::max<int16_t>(0, b.api_versions_max);
    send_api_versions(c, now);
    return true;
  }
  if (response.error_code != protocol::error::kNone) {
    ++metrics_.counters.errors_by_code[response.error_code];
  }
  b.versions_known = true;
  cl.versions_negotiated = true;
  begin_session(c, now);
  return is_connected(cl.state);
}

template <typename Loop>
uint16_t Worker<Loop>::endpoint_for_node(int32_t node_id, std::string_view host, int32_t port) {
  for (size_t i = 0; i < brokers_.size(); ++i) {
    if (brokers_[i].node_id == node_id) return static_cast<uint16_t>(i);
  }
  const std::string text = std::string(host) + ":" + std::to_string(port);
  for (size_t i = 0; i < brokers_.size(); ++i) {
    if (brokers_[i].node_id < 0 && brokers_[i].address.text == text) {
      brokers_[i].node_id = node_id;
      return static_cast<uint16_t>(i);
    }
  }
  // A leader we have not met: resolve once per worker (numeric addresses do not block).
  BrokerEndpoint b;
  std::string error;
  if (!net::resolve(text, b.address, error)) return UINT16_MAX;
  b.node_id = node_id;
  brokers_.push_back(std::move(b));
  return static_cast<uint16_t>(brokers_.size() - 1);
}

template <typename Loop>
bool Worker<Loop>::handle_metadata(uint32_t c, protocol::Reader& body, const InFlight& request,
                                   int64_t now) {
  Client& cl = clients_[c];
  if (cl.flush_pending) {  // the acks=0 flush barrier came back: everything before it landed
    cl.flush_pending = false;
    settle(c);
    return false;
  }
  auto& response = metadata_response_;
  response.decode(body, request.api_version);
  if (!body.ok()) {
    reset_connection(c, Failure::kDecodeError, now, false);
    return false;
  }
  if (cl.consumer) return consumer_metadata(c, response, now);
  const protocol::MetadataResponse::MetadataResponseTopic* topic = nullptr;
  for (const auto& t : response.topics) {
    if (t.name && *t.name == config_.topic) topic = &t;
  }
  // Pick this client's partition: round-robin over clients by global index.
  std::vector<const protocol::MetadataResponse::MetadataResponsePartition*> partitions;
  if (topic && topic->error_code == protocol::error::kNone) {
    for (const auto& p : topic->partitions) partitions.push_back(&p);
    std::sort(partitions.begin(), partitions.end(),
              [](auto* a, auto* b) { return a->partition_index < b->partition_index; });
  }
  const auto* partition = partitions.empty() ? nullptr : partitions[cl.global_index % partitions.size()];
  const protocol::MetadataResponse::MetadataResponseBroker* leader = nullptr;
  if (partition && partition->leader_id >= 0) {
    for (const auto& b : response.brokers) {
      if (b.node_id == partition->leader_id) leader = &b;
    }
  }
  if (!leader) return retry_metadata(c, topic ? topic->error_code : protocol::error::kUnknownTopicOrPartition, now);
  cl.metadata_attempts = 0;
  cl.needs_metadata = false;
  cl.partition = partition->partition_index;
  // Produce goes to the partition leader.
  if (move_to_leader(c, *leader, now)) return false;
  if (cl.state != ClientState::kProducing) ++metrics_.counters.clients_producing;
  cl.state = ClientState::kProducing;
  maybe_send_produce(c, now);
  return true;
}

template <typename Loop>
bool Worker<Loop>::retry_metadata(uint32_t c, int16_t code, int64_t now) {
  // A new topic answers LEADER_NOT_AVAILABLE while the broker creates it: retry with backoff.
  Client& cl = clients_[c];
  const bool retriable = code == protocol::error::kNone || protocol::is_retriable(code);
  if (!retriable || ++cl.metadata_attempts >= kMetadataAttempts) {
    ++metrics_.counters.failures[static_cast<size_t>(Failure::kMetadataFailed)];
    if (code != protocol::error::kNone) ++metrics_.counters.errors_by_code[code];
    if (cl.consumer) mark_failing(c, failure_name(Failure::kMetadataFailed));
    cl.state = ClientState::kFailed;
    close_connection(c);
    --metrics_.counters.connections_open;
    count_settled(c);
    return false;
  }
  cl.state = ClientState::kMetadata;
  cl.wake_ns = now + kMetadataRetryNs;
  schedule(c, cl.wake_ns);
  return true;
}

template <typename Loop>
bool Worker<Loop>::move_to_leader(uint32_t c, const protocol::MetadataResponse::MetadataResponseBroker& leader,
                                  int64_t now) {
  Client& cl = clients_[c];
  const uint16_t endpoint = endpoint_for_node(leader.node_id, leader.host, leader.port);
  if (endpoint == UINT16_MAX || endpoint == cl.endpoint) return false;
  close_connection(c);
  --metrics_.counters.connections_open;
  cl.endpoint = endpoint;
  cl.state = ClientState::kWaiting;
  cl.in_flight.clear();
  cl.partial.clear();
  cl.send_in_progress = false;
  start_connect(c, now);
  return true;
}

template <typename Loop>
bool Worker<Loop>::handle_produce(uint32_t c, protocol::Reader& body, const InFlight& request,
                                  int64_t now) {
  Client& cl = clients_[c];
  auto& response = produce_response_;
  response.decode(body, request.api_version);
  if (!body.ok()) {
    metrics_.counters.messages_failed += request.records;
    reset_connection(c, Failure::kDecodeError, now, false);
    return false;
  }
  int16_t code = protocol::error::kUnknownServerError;  // if our partition is missing
  for (const auto& t : response.responses) {
    for (const auto& p : t.partition_responses) {
      if (p.index == cl.partition) code = p.error_code;
    }
  }
  complete_produce(c, request, code, now);
  if (code == protocol::error::kNotLeaderOrFollower || code == protocol::error::kLeaderNotAvailable ||
      code == protocol::error::kUnknownTopicOrPartition) {
    cl.needs_metadata = true;  // leadership moved: re-learn it once the window drains
  }
  queue_send(c);
  return cl.state == ClientState::kProducing || cl.state == ClientState::kMetadata;
}

template <typename Loop>
void Worker<Loop>::complete_produce(uint32_t c, const InFlight& request, int16_t error_code, int64_t now) {
  auto& counters = metrics_.counters;
  // What consumers of this run should find: one relaxed add per request, only with consumers.
  if (error_code == protocol::error::kNone && control_.producer_acked) {
    control_.producer_acked[clients_[c].global_index].fetch_add(request.records, std::memory_order_relaxed);
  }
  // A request sent during the warm-up belongs to it even when its response comes later: the
  // result counts the requests sent while measuring (with their responses in the drain), so the
  // requests in flight at either end are not counted twice.
  if (past_warmup_ && request.sent_ns < measure_start_ns_) return;
  if (error_code != protocol::error::kNone) {
    counters.messages_failed += request.records;
    ++counters.errors_by_code[error_code];
    return;
  }
  if (request.expects_response) {
    counters.messages_acked += request.records;
    ++counters.requests_acked;
  }
  // One sample per record, each from its own due time: a request that carries a backlog of
  // records after a stall must weigh as many records as it carries (with one sample per request,
  // --batch=10 hid a 1 s stall from the corrected p99). Unpaced records were all due at once.
  bool ok = metrics_.service_latency_us.record_n((now - request.sent_ns) / 1000, request.records);
  if (record_interval_ns_ == 0) {
    ok &= metrics_.latency_us.record_n((now - request.intended_ns) / 1000, request.records);
  } else {
    for (uint32_t k = 0; k < request.records; ++k) {
      ok &= metrics_.latency_us.record((now - request.intended_ns - k * record_interval_ns_) / 1000);
    }
  }
  if (!ok) ++counters.latency_out_of_range;
}

template <typename Loop>
void Worker<Loop>::record_unsent_backlog(int64_t now) {
  // Records that fell due before the end but were never sent (the window was full, the broker
  // stalled): the open-loop schedule says they waited at least until now. Leaving them out would
  // hide a stall at the end of a run entirely.
  if (record_interval_ns_ == 0) return;
  // Records due within the last few milliseconds are timer slack (the loop wakes up to 1 ms
  // late), not a client that fell behind.
  constexpr int64_t kGraceNs = 5 * kMs;
  for (auto& cl : clients_) {
    if (cl.state != ClientState::kProducing || cl.next_record_ns == 0) continue;
    for (int64_t due = cl.next_record_ns; due <= now - kGraceNs && cl.quota_left > 0;
         due += record_interval_ns_) {
      if (!metrics_.latency_us.record((now - due) / 1000)) ++metrics_.counters.latency_out_of_range;
      ++metrics_.counters.messages_unsent_due;
      --cl.quota_left;
    }
  }
}

template <typename Loop>
void Worker<Loop>::on_closed(uint32_t c, int error, int64_t now) {
  (void)error;
  if (awaiting_unknown_api_versions(c)) return fall_back_to_0_9(clients_[c].endpoint, now);
  reset_connection(c, Failure::kDisconnected, now, true);
}

template <typename Loop>
bool Worker<Loop>::awaiting_unknown_api_versions(uint32_t c) const {
  const Client& cl = clients_[c];
  return cl.state == ClientState::kApiVersions && config_.broker_version == BrokerVersion::kAuto &&
         !brokers_[cl.endpoint].versions_known;
}

template <typename Loop>
void Worker<Loop>::fall_back_to_0_9(uint16_t endpoint, int64_t now) {
  // Kafka before 0.10 has no ApiVersions: it drops the request (0.9.0.1 neither answers nor
  // closes). Remember that for this broker, and move every client still waiting for an answer
  // onto a fresh connection with the 0.9 versions (librdkafka's broker.version.fallback).
  use_fallback_versions(brokers_[endpoint]);
  for (uint32_t c = 0; c < clients_.size(); ++c) {
    Client& cl = clients_[c];
    if (cl.endpoint != endpoint || cl.state != ClientState::kApiVersions) continue;
    close_connection(c);
    --metrics_.counters.connections_open;
    cl.in_flight.clear();
    cl.partial.clear();
    cl.send_in_progress = false;
    cl.state = ClientState::kWaiting;
    release_connect_slot(c, now);
    start_connect(c, now);
  }
}

template <typename Loop>
void Worker<Loop>::reset_connection(uint32_t c, Failure why, int64_t now, bool loop_already_closed) {
  Client& cl = clients_[c];
  if (!loop_already_closed) close_connection(c);
  release_connect_slot(c, now);
  if (is_connected(cl.state)) --metrics_.counters.connections_open;
  if (cl.state == ClientState::kProducing) --metrics_.counters.clients_producing;
  ++metrics_.counters.failures[static_cast<size_t>(why)];
  if (cl.consumer) mark_failing(c, failure_name(why));
  while (!cl.in_flight.empty()) {
    if (cl.in_flight.front().api_key == ProduceRequest::kApiKey) {
      metrics_.counters.messages_failed += cl.in_flight.front().records;
    }
    cl.in_flight.pop();
  }
  cl.partial.clear();
  cl.send_in_progress = false;
  cl.needs_metadata = true;
  cl.flush_pending = false;
  cl.unflushed_records = false;  // lost with the connection: already counted as failed above
  if (stopping_) {
    cl.state = ClientState::kWaiting;
    return settle(c);
  }
  ++metrics_.counters.reconnects;
  cl.state = ClientState::kWaiting;
  cl.wake_ns = now + backoff_ns(cl.connect_attempts);
  cl.connect_attempts = static_cast<uint8_t>(std::min(cl.connect_attempts + 1, 255));
  schedule(c, cl.wake_ns);
}

template <typename Loop>
void Worker<Loop>::finish(uint32_t c, int64_t now) {
  Client& cl = clients_[c];
  if (config_.acks == 0 && cl.state == ClientState::kProducing && cl.unflushed_records) {
    // acks=0 gives no sign that the broker read the last requests, and closing now could lose
    // them. A broker handles one connection's requests in order, so the answer to a Metadata
    // request proves every produce before it was processed: that is this client's flush.
    cl.unflushed_records = false;
    cl.flush_pending = true;
    return send_metadata(c, now);
  }
  settle(c);
}

template <typename Loop>
void Worker<Loop>::settle(uint32_t c) {
  Client& cl = clients_[c];
  if (cl.state == ClientState::kDone || cl.state == ClientState::kFailed) return;
  if (is_connected(cl.state)) {
    close_connection(c);
    --metrics_.counters.connections_open;
  } else if (cl.state == ClientState::kConnecting) {
    close_connection(c);
  }
  if (cl.holds_connect_slot) {
    cl.holds_connect_slot = false;
    --connecting_;  // no queue hand-over: the run is ending or this client is finished
  }
  if (cl.state == ClientState::kProducing) --metrics_.counters.clients_producing;
  cl.state = ClientState::kDone;
  count_settled(c);
}

template <typename Loop>
void Worker<Loop>::count_settled(uint32_t c) {
  ++settled_;
  Client& cl = clients_[c];
  if (!cl.consumer) {
    control_.producers_active.fetch_sub(1, std::memory_order_relaxed);
  } else if (!cl.consumer->counted_positioned) {
    // It will never be positioned: producers must not wait for it.
    cl.consumer->counted_positioned = true;
    control_.consumers_unpositioned.fetch_sub(1, std::memory_order_relaxed);
  }
}

template <typename Loop>
void Worker<Loop>::sweep_timeouts(int64_t now) {
  const int64_t timeout = config_.request_timeout.count();
  for (uint32_t c = 0; c < clients_.size(); ++c) {
    Client& cl = clients_[c];
    if (cl.holds_connect_slot && is_connected(cl.state) && now >= cl.wake_ns) {
      // Connected, but the broker never answered the first request within --connect-timeout.
      reset_connection(c, Failure::kConnectFailed, now, false);
      continue;
    }
    if (cl.in_flight.empty()) continue;
    if (awaiting_unknown_api_versions(c) && now - cl.in_flight.front().sent_ns > kApiVersionsTimeoutNs) {
      fall_back_to_0_9(cl.endpoint, now);
      continue;
    }
    if (now - cl.in_flight.front().sent_ns > timeout) {
      reset_connection(c, Failure::kRequestTimeout, now, false);
    }
  }
}

template <typename Loop>
void Worker<Loop>::publish(bool finished) {
  uint64_t fetching = 0;
  for (uint32_t c = producer_count_; c < clients_.size(); ++c) {
    fetching += clients_[c].state == ClientState::kConsuming;
  }
  metrics_.counters.consumers_fetching = fetching;
  std::lock_guard lock(mailbox_.mutex);
  mailbox_.counters = metrics_.counters;
  (mailbox_.measuring ? mailbox_.measured_interval : mailbox_.interval).add_histograms(metrics_);
  mailbox_.finished = finished;
  metrics_.reset_histograms();
}

// ---- Consumers ---------------------------------------------------------------------------------

template <typename Loop>
bool Worker<Loop>::consumer_metadata(uint32_t c, const protocol::MetadataResponse& response, int64_t now) {
  Client& cl = clients_[c];
  ConsumerState& cs = *cl.consumer;
  const protocol::MetadataResponse::MetadataResponseTopic* topic = nullptr;
  for (const auto& t : response.topics) {
    if (t.name && *t.name == config_.topic) topic = &t;
  }
  if (!topic || topic->error_code != protocol::error::kNone || topic->partitions.empty()) {
    return retry_metadata(c, topic ? topic->error_code : protocol::error::kUnknownTopicOrPartition, now);
  }
  // A consumer reads every partition over its one connection, so they must share a leader.
  int32_t leader_id = -1;
  for (const auto& p : topic->partitions) {
    if (p.leader_id < 0) return retry_metadata(c, protocol::error::kLeaderNotAvailable, now);
    if (leader_id >= 0 && p.leader_id != leader_id) {
      mark_failing(c, "partitions_on_several_leaders");
      ++metrics_.counters.failures[static_cast<size_t>(Failure::kUnsupported)];
      cl.state = ClientState::kFailed;
      close_connection(c);
      --metrics_.counters.connections_open;
      count_settled(c);
      return false;
    }
    leader_id = p.leader_id;
  }
  const protocol::MetadataResponse::MetadataResponseBroker* leader = nullptr;
  for (const auto& b : response.brokers) {
    if (b.node_id == leader_id) leader = &b;
  }
  if (!leader) return retry_metadata(c, protocol::error::kLeaderNotAvailable, now);
  cl.metadata_attempts = 0;
  cl.needs_metadata = false;
  // Keep the offsets of partitions already read (a reconnect or leader move resumes there);
  // partitions new to this consumer start from --consume-from.
  for (const auto& p : topic->partitions) {
    if (cs.cursor_for(p.partition_index)) continue;
    cs.cursors.push_back(PartitionCursor{.partition = p.partition_index});
    std::sort(cs.cursors.begin(), cs.cursors.end(),
              [](const PartitionCursor& a, const PartitionCursor& b) { return a.partition < b.partition; });
    cs.positioned = false;
  }
  if (move_to_leader(c, *leader, now)) return false;
  if (cs.positioned) {
    send_fetch(c, now);
  } else {
    send_list_offsets(c, now);
  }
  return true;
}

template <typename Loop>
void Worker<Loop>::send_list_offsets(uint32_t c, int64_t now) {
  Client& cl = clients_[c];
  protocol::ListOffsetsRequest request;
  request.replica_id = -1;  // a consumer, not a follower broker
  request.topics.resize(1);
  request.topics[0].name = config_.topic;
  // Kafka's special timestamps: -2 the first offset, -1 the next offset to be written.
  const int64_t timestamp = config_.consume_from_earliest ? -2 : -1;
  for (const auto& cursor : cl.consumer->cursors) {
    if (cursor.offset >= 0) continue;
    request.topics[0].partitions.push_back({.partition_index = cursor.partition, .timestamp = timestamp});
  }
  cl.state = ClientState::kPositioning;
  cl.send_buffer.clear();
  append_request(c, request, cl.list_offsets_version, 0, now, now, true);
  flush_sends(c);
}

template <typename Loop>
bool Worker<Loop>::handle_list_offsets(uint32_t c, protocol::Reader& body, const InFlight& request, int64_t now) {
  Client& cl = clients_[c];
  ConsumerState& cs = *cl.consumer;
  auto& response = list_offsets_response_;
  response.decode(body, request.api_version);
  if (!body.ok()) {
    reset_connection(c, Failure::kDecodeError, now, false);
    return false;
  }
  bool retry = false;
  for (const auto& t : response.topics) {
    if (t.name != config_.topic) continue;
    for (const auto& p : t.partitions) {
      PartitionCursor* cursor = cs.cursor_for(p.partition_index);
      if (!cursor) continue;
      if (p.error_code != protocol::error::kNone) {
        ++metrics_.counters.errors_by_code[p.error_code];
        retry = true;
        continue;
      }
      // v0 answers with a list of offsets (the first is the one asked for), v1+ with one.
      const int64_t offset = request.api_version == 0
                                 ? (p.old_style_offsets.empty() ? -1 : p.old_style_offsets.front())
                                 : p.offset;
      if (offset >= 0) cursor->offset = offset;
    }
  }
  cs.positioned = std::all_of(cs.cursors.begin(), cs.cursors.end(),
                              [](const PartitionCursor& cur) { return cur.offset >= 0; });
  if (!cs.positioned) {
    if (!retry) ++metrics_.counters.errors_by_code[protocol::error::kUnknownTopicOrPartition];
    cl.wake_ns = now + kFetchRetryNs;
    schedule(c, cl.wake_ns);
    return true;
  }
  if (!cs.counted_positioned) {
    cs.counted_positioned = true;
    control_.consumers_unpositioned.fetch_sub(1, std::memory_order_relaxed);
  }
  send_fetch(c, now);
  return true;
}

template <typename Loop>
void Worker<Loop>::send_fetch(uint32_t c, int64_t now) {
  Client& cl = clients_[c];
  ConsumerState& cs = *cl.consumer;
  auto& request = fetch_request_;
  request.replica_id = -1;
  request.max_wait_ms = static_cast<int32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(config_.fetch_max_wait).count());
  request.min_bytes = static_cast<int32_t>(config_.fetch_min_bytes);
  request.max_bytes = static_cast<int32_t>(config_.fetch_max_bytes);  // v3+
  request.isolation_level = 0;
  request.session_id = 0;  // no incremental fetch session: every fetch names every partition
  request.session_epoch = -1;
  request.topics.resize(1);
  auto& topic = request.topics[0];
  topic.topic = config_.topic;
  topic.partitions.resize(cs.cursors.size());
  // Before v3 there is no response limit, only a per-partition one: share the budget, but not
  // below 64 KiB so one batch always fits (a partial one would stall the partition).
  const int32_t per_partition =
      cl.fetch_version >= 3
          ? static_cast<int32_t>(config_.fetch_max_bytes)
          : static_cast<int32_t>(std::max<uint64_t>(config_.fetch_max_bytes / cs.cursors.size(), 64 * 1024));
  for (size_t i = 0; i < cs.cursors.size(); ++i) {
    topic.partitions[i] = {.partition = cs.cursors[i].partition,
                           .fetch_offset = cs.cursors[i].offset,
                           .partition_max_bytes = per_partition};
  }
  // Once every producer is done, the high watermark this fetch reports is the end of what was
  // written: a consumer that reaches it has everything.
  cs.catch_up_fetch = producers_done_;
  cl.state = ClientState::kConsuming;
  cl.send_buffer.clear();
  append_request(c, request, cl.fetch_version, 0, now, now, true);
  flush_sends(c);
}

template <typename Loop>
bool Worker<Loop>::handle_fetch(uint32_t c, protocol::Reader& body, const InFlight& request, int64_t now) {
  Client& cl = clients_[c];
  ConsumerState& cs = *cl.consumer;
  auto& response = fetch_response_;
  response.decode(body, request.api_version);
  if (!body.ok()) {
    reset_connection(c, Failure::kDecodeError, now, false);
    return false;
  }
  ++metrics_.counters.consume_fetches;
  const IntakeContext intake{.verify = config_.verify,
                             .run_id = control_.run_id,
                             .now_unix_us = (now + wall_minus_steady_ns_) / 1000,
                             .measuring = now >= measure_start_ns_,
                             .measured_from = measured_from_,
                             .counters = &metrics_.counters,
                             .e2e_latency_us = &metrics_.e2e_latency_us};
  bool retry_later = false, refresh_metadata = false, reposition = false;
  if (response.error_code != protocol::error::kNone) {
    ++metrics_.counters.errors_by_code[response.error_code];
    retry_later = true;
  }
  for (const auto& t : response.responses) {
    if (t.topic != config_.topic) continue;
    for (const auto& p : t.partitions) {
      PartitionCursor* cursor = cs.cursor_for(p.partition_index);
      if (!cursor) continue;
      if (p.error_code != protocol::error::kNone) {
        ++metrics_.counters.errors_by_code[p.error_code];
        if (p.error_code == protocol::error::kOffsetOutOfRange) {
          // Fell out of the retained log (or past its end): what it skips is lost, and the
          // consumer counts as failing. Start again from --consume-from (auto.offset.reset).
          mark_failing(c, "offset_out_of_range");
          cursor->offset = -1;
          reposition = true;
        } else if (p.error_code == protocol::error::kNotLeaderOrFollower ||
                   p.error_code == protocol::error::kLeaderNotAvailable ||
                   p.error_code == protocol::error::kUnknownTopicOrPartition) {
          refresh_metadata = true;
        } else {
          retry_later = true;
        }
        continue;
      }
      cursor->high_watermark = p.high_watermark;
      if (p.records && !cs.take_records(*cursor, *p.records, intake)) retry_later = true;
    }
  }
  if (cs.quota_left == 0 || (cs.catch_up_fetch && cs.caught_up()) || (producers_done_ && has_everything(cs))) {
    settle(c);  // read its --messages, or everything the producers wrote
    return false;
  }
  if (reposition) {
    cs.positioned = false;
    send_list_offsets(c, now);
  } else if (refresh_metadata) {
    cl.needs_metadata = true;
    send_metadata(c, now);
  } else if (retry_later) {
    cl.wake_ns = now + kFetchRetryNs;
    schedule(c, cl.wake_ns);
  } else {
    send_fetch(c, now);
  }
  return true;
}

template <typename Loop>
bool Worker<Loop>::has_everything(const ConsumerState& cs) const {
  // Everything this run's producers had acknowledged when they finished. Exact with --verify
  // (this run's stamps, each counted once); without it, only from --consume-from=latest, where
  // the consumer sees nothing older (unless someone else writes to the topic meanwhile: then the
  // high watermark still ends it, later).
  if (acked_total_ == 0) return false;
  if (config_.verify) return cs.this_run_distinct >= acked_total_;
  return !config_.consume_from_earliest && cs.tally.received >= acked_total_;
}

template <typename Loop>
void Worker<Loop>::mark_failing(uint32_t c, const char* why) {
  ConsumerTally& tally = clients_[c].consumer->tally;
  if (tally.failure.empty()) tally.failure = why;
}

template <typename Loop>
void Worker<Loop>::consumers_stop(int64_t now) {
  (void)now;
  for (uint32_t c = producer_count_; c < clients_.size(); ++c) {
    Client& cl = clients_[c];
    if (cl.state == ClientState::kDone || cl.state == ClientState::kFailed) continue;
    // Still reading when the run ends: behind the producers, or short of its --messages.
    if (config_.clients > 0 || cl.consumer->quota_left != UINT64_MAX) mark_failing(c, "behind");
    settle(c);
  }
}

template <typename Loop>
bool Worker<Loop>::producers_may_start(int64_t now) const {
  // --consume-from=latest: consumers take the end of the log first, or they would miss the start.
  return config_.consumers == 0 || now >= gate_deadline_ns_ ||
         control_.consumers_unpositioned.load(std::memory_order_relaxed) == 0;
}

template <typename Loop>
void Worker<Loop>::publish_consumer_tallies() {
  if (producer_count_ == clients_.size()) return;
  std::vector<uint64_t> acked(control_.producer_acked ? control_.producer_count : 0);
  for (size_t p = 0; p < acked.size(); ++p) acked[p] = control_.producer_acked[p].load(std::memory_order_relaxed);
  std::vector<ConsumerTally> tallies;
  for (uint32_t c = producer_count_; c < clients_.size(); ++c) {
    ConsumerState& cs = *clients_[c].consumer;
    cs.tally.lost = cs.count_lost(config_.verify, control_.run_id, acked);
    tallies.push_back(cs.tally);
  }
  std::lock_guard lock(mailbox_.mutex);
  mailbox_.consumers = std::move(tallies);
}

template <typename Loop>
void Worker<Loop>::fill_values(Client& cl, uint32_t count, int64_t first_intended_ns, int64_t now) {
  if (!cl.measured_from_published && now >= measure_start_ns_ && control_.producer_measured_from) {
    // Released before the record can be sent, so a consumer that receives it sees the boundary.
    control_.producer_measured_from[cl.global_index].store(cl.next_sequence, std::memory_order_release);
    cl.measured_from_published = true;
  }
  // One stamped copy of the payload per record: the record writer takes views until finish().
  const size_t size = payload_.size();
  if (values_.size() < count * size) {
    const size_t old = values_.size() / size;
    values_.resize(count * size);
    for (size_t i = old; i < count; ++i) std::copy(payload_.begin(), payload_.end(), values_.begin() + i * size);
  }
  for (uint32_t i = 0; i < count; ++i) {
    const int64_t intended = first_intended_ns + (record_interval_ns_ > 0 ? i * record_interval_ns_ : 0);
    stamp_value(std::span<uint8_t>(values_.data() + i * size, size),
                VerifyStamp{.run = control_.run_id,
                            .producer = cl.global_index,
                            .sequence = cl.next_sequence++,
                            .send_time_us = (intended + wall_minus_steady_ns_) / 1000});
  }
}

template class Worker<net::UringLoop>;
template class Worker<net::AsioLoop>;

}  // namespace ws::driver
