#include "driver/storm.h"

#include <algorithm>
#include <cmath>

#include "protocol/metadata.h"
#include "protocol/wire.h"

namespace ws::driver {
namespace {

constexpr int64_t kMs = 1'000'000;
// The probe connection may meet a Kafka 0.9 broker: 3 s of silence before the fallback.
constexpr int64_t kProbeAllowanceNs = 4000 * kMs;

}  // namespace

const char* storm_stage_name(StormStage s) {
  switch (s) {
    case StormStage::kTcp: return "tcp";
    case StormStage::kTls: return "tls";
    case StormStage::kApiVersions: return "api_versions";
    case StormStage::kSasl: return "sasl";
    case StormStage::kMetadata: return "metadata";
    case StormStage::kTotal: return "total";
    case StormStage::kCount: break;
  }
  return "unknown";
}

std::optional<ConfigError> StormConfig::validate() const {
  if (connection.bootstrap.empty()) return ConfigError{"--bootstrap", "", "give at least one HOST:PORT"};
  if (!(rate > 0) || !std::isfinite(rate) || rate > 10'000'000) {
    return ConfigError{"--rate", std::to_string(rate), "connections per second, > 0 and at most 10,000,000"};
  }
  if (duration.count() <= 0) return ConfigError{"--duration", format_duration(duration), "a positive duration, e.g. 10s"};
  if (max_pending == 0 || max_pending > 1'000'000) {
    return ConfigError{"--max-pending", std::to_string(max_pending), "an integer from 1 to 1000000"};
  }
  if (connection.threads == 0 || connection.threads > 256) {
    return ConfigError{"--threads", std::to_string(connection.threads), "an integer from 1 to 256"};
  }
  if (max_pending < connection.threads) {
    return ConfigError{"--max-pending", std::to_string(max_pending), "at least --threads (each worker needs one)"};
  }
  if (drain_timeout.count() < 0) return ConfigError{"--drain-timeout", format_duration(drain_timeout), "0 or more"};
  if (connection.connect_timeout.count() <= 0) {
    return ConfigError{"--connect-timeout", format_duration(connection.connect_timeout), "a positive duration"};
  }
  return std::nullopt;
}

RunConfig StormConfig::table_config(uint32_t workers) const {
  RunConfig c = connection;
  c.threads = workers;
  c.clients = workers;  // one worker per thread: derive() fills what the table reads (workers, budgets)
  c.derive();
  c.clients = 0;
  c.topics = metadata ? 1 : 0;  // Kafka 0.9's handshake Metadata: the topic, or every topic
  // The storm caps attempts itself (and drops what is over): the table must never queue them.
  c.connect_slots_per_worker = UINT32_MAX;
  // A failed attempt is closed by the storm, never retried: backoff does not apply.
  return c;
}

void StormCounters::add(const StormCounters& o) {
  scheduled += o.scheduled;
  dropped += o.dropped;
  unfinished += o.unfinished;
  api_versions_skipped += o.api_versions_skipped;
  pending += o.pending;
  for (const auto& [code, n] : o.metadata_errors) metadata_errors[code] += n;
  for (size_t i = 0; i < stages.size(); ++i) stages[i].add(o.stages[i]);
}

void StormMetrics::add(const StormMetrics& o) {
  counters.add(o.counters);
  for (size_t i = 0; i < latency_us.size(); ++i) latency_us[i].add(o.latency_us[i]);
  start_lag_us.add(o.start_lag_us);
  latency_out_of_range += o.latency_out_of_range;
}

Storm::Storm(const StormConfig& config, const RunConfig& table_config, ConnectionTable& table, double rate,
             uint32_t max_pending, int64_t offset_ns)
    : config_(config),
      table_config_(table_config),
      table_(table),
      period_ns_(1e9 / rate),
      max_pending_(std::max<uint32_t>(1, max_pending)),
      offset_ns_(offset_ns),
      duration_ns_(config.duration.count()),
      client_id_(config.connection.client_id_prefix + "-storm") {}

void Storm::start(int64_t now) {
  phase_ = Phase::kProbe;
  probe_deadline_ns_ = now + table_config_.connect_timeout.count() + kProbeAllowanceNs;
  open_attempt(now, now, true);
}

void Storm::begin_storm(int64_t now) {
  phase_ = Phase::kStorm;
  fatal_.clear();  // an earlier probe's failure
  storm_start_ns_ = now;
  storm_end_ns_ = now;
  next_index_ = 0;
  next_due_ns_ = now + offset_ns_;
  schedule_end_ns_ = now + duration_ns_;
}

void Storm::tick(int64_t now) {
  if (phase_ == Phase::kProbe) {
    if (now >= probe_deadline_ns_) {
      // Without one handshake there is no storm to measure, only a broker that is not there.
      if (fatal_.empty()) fatal_ = "no handshake completed with " + table_config_.bootstrap[0] + " before the storm";
      return finish(now);
    }
    if (now >= probe_retry_ns_) {
      probe_retry_ns_ = INT64_MAX;
      open_attempt(now, now, true);
    }
  }
  if (phase_ == Phase::kStorm) {
    // Open loop: every attempt due by now starts now, however late the loop woke up; its total
    // still counts from when it was due.
    while (next_due_ns_ <= now && next_due_ns_ < schedule_end_ns_) {
      ++metrics_.counters.scheduled;
      if (pending_ >= max_pending_) {
        ++metrics_.counters.dropped;
      } else {
        open_attempt(next_due_ns_, now, false);
      }
      ++next_index_;
      next_due_ns_ = storm_start_ns_ + offset_ns_ +
                     static_cast<int64_t>(std::llround(static_cast<double>(next_index_) * period_ns_));
    }
    if (now >= schedule_end_ns_ || next_due_ns_ >= schedule_end_ns_) {
      phase_ = Phase::kDrain;
      storm_end_ns_ = std::max(storm_end_ns_, std::min(now, schedule_end_ns_));
      drain_deadline_ns_ = std::max(now, schedule_end_ns_) + config_.drain_timeout.count();
    }
  }
  if (phase_ == Phase::kDrain && (pending_ == 0 || now >= drain_deadline_ns_)) finish(now);
}

void Storm::stop(int64_t now) {
  if (phase_ == Phase::kDone || phase_ == Phase::kDrain) return;
  if (phase_ == Phase::kProbe) return finish(now);
  schedule_end_ns_ = std::min(schedule_end_ns_, now);
  phase_ = Phase::kDrain;
  storm_end_ns_ = std::max(storm_end_ns_, now);
  drain_deadline_ns_ = now + config_.drain_timeout.count();
}

void Storm::finish(int64_t now) {
  if (phase_ == Phase::kDone) return;
  for (LinkId id = 0; id < attempts_.size(); ++id) {
    if (!attempts_[id].active) continue;
    if (!attempts_[id].probe) {
      ++metrics_.counters.unfinished;
      account(id, now, Failure::kRequestTimeout);
    }
    end_attempt(id, now);
  }
  if (storm_start_ns_ == 0) storm_start_ns_ = now;
  storm_end_ns_ = std::max(storm_end_ns_, storm_start_ns_);
  phase_ = Phase::kDone;
}

int64_t Storm::next_wake() const {
  switch (phase_) {
    case Phase::kProbe: return std::min(probe_deadline_ns_, probe_retry_ns_);
    case Phase::kStorm: return std::min(next_due_ns_, schedule_end_ns_);
    case Phase::kDrain: return drain_deadline_ns_;
    case Phase::kDone: break;
  }
  return INT64_MAX;
}

void Storm::open_attempt(int64_t scheduled, int64_t now, bool probe) {
  ConnectionTable::OpenOptions options;
  options.window = 2;
  const LinkId id = table_.open(0, 0, &client_id_, now, options);
  if (attempts_.size() <= id) attempts_.resize(id + 1);
  Attempt& a = attempts_[id];
  a = Attempt{};
  a.active = true;
  a.probe = probe;
  a.scheduled_ns = scheduled;
  if (!probe && !metrics_.start_lag_us.record(std::max<int64_t>(0, (now - scheduled + 500) / 1000))) {
    ++metrics_.latency_out_of_range;
  }
  ++pending_;
  metrics_.counters.pending = pending_;
}

void Storm::on_tcp_connected(LinkId id, int64_t at_ns) {
  if (id < attempts_.size() && attempts_[id].active) attempts_[id].tcp_ns = at_ns;
}

void Storm::on_link_event(const LinkEvent& e, int64_t now) {
  if (e.link >= attempts_.size() || !attempts_[e.link].active) return;
  switch (e.kind) {
    case LinkEvent::kReady: return on_ready(e.link, now);
    case LinkEvent::kLost: return fail(e.link, e.why, now);
    case LinkEvent::kResponse: {
      Attempt& a = attempts_[e.link];
      if (e.request.handshake || e.request.api_key != protocol::MetadataRequest::kApiKey || !a.metadata_sent) return;
      protocol::MetadataResponse response;
      protocol::Reader r(e.body);
      response.decode(r, e.request.api_version);
      if (!r.ok()) return table_.fail(e.link, Failure::kDecodeError, now);  // comes back as kLost
      for (const auto& t : response.topics) {
        if (t.error_code != 0) ++metrics_.counters.metadata_errors[t.error_code];
      }
      a.metadata_ns = now;
      return complete(e.link, now);
    }
    default: return;
  }
}

void Storm::on_ready(LinkId id, int64_t now) {
  Attempt& a = attempts_[id];
  a.ready_ns = now;
  if (a.probe) {
    end_attempt(id, now);
    if (phase_ == Phase::kProbe) begin_storm(now);
    return;
  }
  const Link& l = table_.link(id);
  if (!config_.metadata || !l.versions.has_api_versions) {
    // Kafka 0.9's handshake was a Metadata request already.
    if (!l.versions.has_api_versions) a.metadata_ns = now;
    return complete(id, now);
  }
  protocol::MetadataRequest request;
  request.topics.emplace(1);
  (*request.topics)[0].name = table_config_.topic;
  request.allow_auto_topic_creation = false;  // a storm creates nothing
  InFlight meta;
  meta.intended_ns = now;
  table_.append(id, request, l.versions.metadata, meta);
  table_.flush(id, now);
  a.metadata_sent = true;
}

void Storm::complete(LinkId id, int64_t now) {
  account(id, now, Failure::kCount);
  end_attempt(id, now);
}

void Storm::fail(LinkId id, Failure why, int64_t now) {
  Attempt& a = attempts_[id];
  if (a.probe) {
    end_attempt(id, now);
    if (phase_ == Phase::kProbe) {
      fatal_ = std::string("no handshake completed with ") + table_config_.bootstrap[0] + " before the storm (" +
               failure_name(why) + ")";
      probe_retry_ns_ = now + 100 * kMs;
    }
    return;
  }
  account(id, now, why);
  end_attempt(id, now);
}

void Storm::account(LinkId id, int64_t now, Failure why) {
  const Link& l = table_.link(id);
  const Attempt& a = attempts_[id];
  const bool tls = table_config_.security.uses_tls();
  const bool kafka09 = !l.versions.has_api_versions;
  if (kafka09 && why == Failure::kCount) ++metrics_.counters.api_versions_skipped;
  struct Step {
    StormStage stage;
    bool applies;
    int64_t end_ns;  // 0: not reached
  };
  const Step steps[] = {
      {StormStage::kTcp, true, tls ? a.tcp_ns : l.connected_ns},
      {StormStage::kTls, tls, l.connected_ns},
      {StormStage::kApiVersions, !kafka09, l.negotiated_ns},
      {StormStage::kSasl, table_config_.security.uses_sasl(), a.ready_ns},
      {StormStage::kMetadata, kafka09 || config_.metadata, a.metadata_ns},
  };
  // Each stage starts where the one before it ended; the first at the connect.
  int64_t from = l.connect_started_ns;
  for (const Step& s : steps) {
    if (!s.applies) continue;
    StormStageCounts& c = stage(s.stage);
    ++c.attempted;
    if (from == 0 || s.end_ns == 0) {
      ++c.failed;
      ++c.failures[static_cast<size_t>(why == Failure::kCount ? Failure::kDisconnected : why)];
      StormStageCounts& t = stage(StormStage::kTotal);
      ++t.attempted;
      ++t.failed;
      ++t.failures[static_cast<size_t>(why == Failure::kCount ? Failure::kDisconnected : why)];
      return;
    }
    ++c.completed;
    record(s.stage, from, s.end_ns);
    from = s.end_ns;
  }
  StormStageCounts& t = stage(StormStage::kTotal);
  ++t.attempted;
  if (why != Failure::kCount) {
    // Every stage done, yet it failed (a decode error after the last answer): still a failure.
    ++t.failed;
    ++t.failures[static_cast<size_t>(why)];
    return;
  }
  ++t.completed;
  (void)now;
  record(StormStage::kTotal, a.scheduled_ns, from);
}

void Storm::end_attempt(LinkId id, int64_t now) {
  Attempt& a = attempts_[id];
  const bool probe = a.probe;
  a.active = false;
  table_.close(id, now);
  --pending_;
  metrics_.counters.pending = pending_;
  if (!probe && phase_ != Phase::kProbe) storm_end_ns_ = std::max(storm_end_ns_, now);
}

void Storm::record(StormStage s, int64_t from_ns, int64_t to_ns) {
  const int64_t us = std::max<int64_t>(1, (to_ns - from_ns + 500) / 1000);
  if (!metrics_.latency_us[static_cast<size_t>(s)].record(us)) ++metrics_.latency_out_of_range;
}

}  // namespace ws::driver
