#include "driver/connections.h"

#include <algorithm>

#include "net/tls.h"
#include "protocol/errors.h"
#include "protocol/sasl/kafka_framing.h"

namespace ws::driver {
namespace {

constexpr int64_t kMs = 1'000'000;
// Kafka 0.9 neither answers nor closes on ApiVersions; librdkafka waits 10 s
// (api.version.request.timeout.ms) before falling back. A broker on loopback or a LAN that has
// ApiVersions answers in milliseconds, so 3 s is ample and keeps start-up against 0.9 short.
constexpr int64_t kProbeTimeoutNs = 3000 * kMs;

uint64_t next_random(uint64_t& state) {  // xorshift64*: jitter needs no more
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1DULL;
}

}  // namespace

const char* link_state_name(LinkState s) {
  switch (s) {
    case LinkState::kIdle: return "idle";
    case LinkState::kWaiting: return "waiting";
    case LinkState::kConnecting: return "connecting";
    case LinkState::kHandshake: return "handshake";
    case LinkState::kReady: return "ready";
  }
  return "unknown";
}

ConnectionTable::ConnectionTable(const RunConfig& config, BrokerRegistry& brokers, RunCounters& counters,
                                 TimerQueue& timers, uint64_t seed)
    : config_(config), brokers_(brokers), counters_(counters), timers_(timers), rng_(seed | 1) {
  for (uint32_t i = 0; i < config.topics; ++i) handshake_topics_.push_back(config.topic_name(i));
  // RunConfig::validate() checked the name.
  protocol::sasl::parse_mechanism(config.security.sasl.mechanism, sasl_mechanism_);
  for (const auto& address : config.source_addresses) {
    net::Endpoint e;
    std::string error;
    // Numeric addresses (RunConfig::validate checked them): resolving does not block.
    const bool v6 = address.find(':') != std::string::npos;
    if (net::resolve((v6 ? "[" + address + "]" : address) + ":0", e, error, true)) sources_.push_back(std::move(e));
  }
}

LinkId ConnectionTable::open(uint32_t owner, uint32_t broker, const std::string* client_id, int64_t now,
                             OpenOptions options) {
  LinkId id;
  if (!free_links_.empty()) {
    id = free_links_.back();
    free_links_.pop_back();
  } else {
    id = static_cast<LinkId>(links_.size());
    links_.emplace_back();
  }
  Link& l = links_[id];
  // A reused slot keeps closed_in_batch and its generation: events of its previous connection
  // may still be in the batch being handled.
  l.owner = owner;
  l.broker = broker;
  l.client_id = client_id;
  l.priority = options.priority;
  l.acks0_producer = options.acks0_producer;
  l.source = sources_.empty() ? int16_t{-1} : static_cast<int16_t>(next_source_++ % sources_.size());
  l.failures = 0;
  l.probing = false;
  l.api_versions_version = protocol::ApiVersionsRequest::kMaxVersion;
  l.in_flight.reset_capacity(options.window);
  l.out.clear();
  l.later.clear();
  drop_borrowed(l);
  l.unflushed = 0;
  drop_partial(l);
  l.connect_started_ns = l.connected_ns = l.negotiated_ns = 0;
  l.state = LinkState::kWaiting;
  l.wake_ns = now;
  try_connect(id, now);
  return id;
}

void ConnectionTable::close(LinkId id, int64_t now) {
  Link& l = links_[id];
  if (l.state == LinkState::kIdle) return;
  if (l.probing) {
    brokers_.release_probe(l.broker);
    l.probing = false;
  }
  drop_connection(l, false, now);
  l.in_flight.clear();
  l.state = LinkState::kIdle;
  free_links_.push_back(id);
}

void ConnectionTable::retarget(LinkId id, uint32_t broker, int64_t now, int64_t not_before_ns) {
  Link& l = links_[id];
  if (l.broker == broker && l.state != LinkState::kWaiting) return;
  if (l.probing) {
    brokers_.release_probe(l.broker);
    l.probing = false;
  }
  const bool had_requests = !l.in_flight.empty();
  drop_connection(l, false, now);
  if (had_requests) report_lost(id, Failure::kDisconnected);
  l.broker = broker;
  l.failures = 0;
  l.state = LinkState::kWaiting;
  l.wake_ns = std::max(now, not_before_ns);
  try_connect(id, now);
}

void ConnectionTable::reconnect(LinkId id, int64_t now) {
  Link& l = links_[id];
  if (l.state != LinkState::kReady) return;
  ++counters_.connections_churned;
  const bool had_requests = !l.in_flight.empty();
  drop_connection(l, false, now);
  if (had_requests) report_lost(id, Failure::kDisconnected);
  l.failures = 0;
  l.state = LinkState::kWaiting;
  l.wake_ns = now;
  try_connect(id, now);
}

void ConnectionTable::retry_now(LinkId id, int64_t now) {
  Link& l = links_[id];
  if (l.state != LinkState::kWaiting || l.queued_for_slot) return;
  l.wake_ns = now;
  try_connect(id, now);
}

int64_t ConnectionTable::backoff_ns(uint8_t failures) {
  const int64_t base = config_.reconnect_backoff.count();
  const int64_t max = config_.reconnect_backoff_max.count();
  const int shift = std::min<int>(std::max<int>(failures, 1) - 1, 30);
  const int64_t exp = base > (max >> shift) ? max : std::min(max, base << shift);
  // +-20% jitter, so clients that failed together do not come back together.
  const double jitter = 0.8 + 0.4 * static_cast<double>(next_random(rng_) >> 11) / 9007199254740992.0;
  return std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(exp) * jitter));
}

void ConnectionTable::try_connect(LinkId id, int64_t now) {
  Link& l = links_[id];
  if (l.state != LinkState::kWaiting || l.queued_for_slot) return;
  if (now < l.wake_ns) return arm(id, l.wake_ns);
  net::Endpoint endpoint;
  switch (brokers_.address(l.broker, &endpoint)) {
    case BrokerRegistry::Address::kResolving:
      waiters_.push_back(id);  // re-tried by sweep()
      return;
    case BrokerRegistry::Address::kFailed:
      // An address that does not resolve is a failed connection, with its backoff.
      ++counters_.connections_attempted;
      reset(id, Failure::kConnectFailed, now, true);
      return;
    case BrokerRegistry::Address::kReady:
      if (endpoints_.size() <= l.broker) endpoints_.resize(l.broker + 1);
      if (endpoints_[l.broker].len == 0) endpoints_[l.broker] = std::move(endpoint);
      break;
  }
  if (!l.probing) {
    switch (brokers_.versions(l.broker, &l.versions)) {
      case BrokerRegistry::Versions::kKnown: break;
      case BrokerRegistry::Versions::kUnknown:
        if (brokers_.claim_probe(l.broker)) {
          l.probing = true;  // this connection finds out what the broker speaks
          break;
        }
        [[fallthrough]];
      case BrokerRegistry::Versions::kProbing:
        waiters_.push_back(id);  // another connection is finding out
        return;
    }
  }
  if (connecting_ >= config_.connect_slots_per_worker) {
    l.queued_for_slot = true;
    if (l.priority) {
      slot_queue_.push_front(id);
    } else {
      slot_queue_.push_back(id);
    }
    return;
  }
  start_connect(id, now);
}

void ConnectionTable::start_connect(LinkId id, int64_t now) {
  Link& l = links_[id];
  ++connecting_;
  l.holds_slot = true;
  l.state = LinkState::kConnecting;
  l.wake_ns = now + config_.connect_timeout.count();
  l.connect_started_ns = now;
  l.connected_ns = 0;
  l.negotiated_ns = 0;
  ++counters_.connections_attempted;
  queue_op(IoOp::kConnect, id);
}

void ConnectionTable::release_slot(Link& l, int64_t now) {
  if (!l.holds_slot) return;
  l.holds_slot = false;
  --connecting_;
  while (!slot_queue_.empty() && connecting_ < config_.connect_slots_per_worker) {
    const LinkId next = slot_queue_.front();
    slot_queue_.pop_front();
    Link& n = links_[next];
    if (!n.queued_for_slot) continue;  // closed while it waited
    n.queued_for_slot = false;
    try_connect(next, now);
  }
}

void ConnectionTable::drop_connection(Link& l, bool loop_closed_it, int64_t now) {
  const LinkId id = static_cast<LinkId>(&l - links_.data());
  const bool has_socket = l.state == LinkState::kConnecting || l.state == LinkState::kHandshake ||
                          l.state == LinkState::kReady;
  if (has_socket && !loop_closed_it) queue_op(IoOp::kClose, id);
  if (has_socket) l.closed_in_batch = batch_;
  if (l.state == LinkState::kHandshake || l.state == LinkState::kReady) --counters_.connections_open;
  l.queued_for_slot = false;  // its queue entry, if any, is skipped when reached
  ++l.generation;
  l.state = LinkState::kWaiting;  // so that the slot hand-over below does not pick this link
  release_slot(l, now);
  l.send_in_progress = false;
  l.out.clear();
  l.later.clear();
  drop_borrowed(l);
  l.unflushed = 0;
  drop_partial(l);
  if (!sasl_.empty()) sasl_.erase(id);  // an authentication in progress dies with its connection
}

void ConnectionTable::reset(LinkId id, Failure why, int64_t now, bool loop_closed_it) {
  Link& l = links_[id];
  const bool was_ready = l.state == LinkState::kReady;
  if (l.probing) {
    brokers_.release_probe(l.broker);  // the next connection to this broker probes again
    l.probing = false;
  }
  if (!was_ready) {
    // Never got usable: a failed connection. A close or a timeout is just that; what the broker's
    // bytes or the handshake said is kept (an HTTP port answers garbage, not silence).
    if (why == Failure::kDisconnected || why == Failure::kRequestTimeout) why = Failure::kConnectFailed;
    ++counters_.connections_failed;
    ++counters_.broker(l.broker).connections_failed;
  } else {
    ++counters_.reconnects;
  }
  ++counters_.failures[static_cast<size_t>(why)];
  drop_connection(l, loop_closed_it, now);
  report_lost(id, why);
  l.failures = static_cast<uint8_t>(std::min(l.failures + 1, 255));
  l.state = LinkState::kWaiting;
  l.wake_ns = now + backoff_ns(l.failures);
  arm(id, l.wake_ns);
  retry_waiters(now);  // a released probe lets a waiting connection take it
}

void ConnectionTable::report_lost(LinkId id, Failure why) {
  Link& l = links_[id];
  LinkEvent e = LinkEvent::make(LinkEvent::kLost, id, l.generation, why);
  e.lost_first = static_cast<uint32_t>(lost_.size());
  while (!l.in_flight.empty()) {
    lost_.push_back(l.in_flight.front());
    l.in_flight.pop();
  }
  e.lost_count = static_cast<uint32_t>(lost_.size()) - e.lost_first;
  events_.push_back(e);
}

void ConnectionTable::fail(LinkId id, Failure why, int64_t now) {
  const LinkState s = links_[id].state;
  if (s == LinkState::kIdle || s == LinkState::kWaiting) return;
  reset(id, why, now, false);
}

void ConnectionTable::on_connected(LinkId id, int error, int64_t now, std::string_view detail) {
  Link& l = links_[id];
  if (l.state != LinkState::kConnecting) return;
  if (error == net::kTlsCertificateVerifyFailed) {
    // Retrying cannot fix a certificate: end the run now, with OpenSSL's reason.
    fail_fatally(id, Failure::kCertificateVerifyFailed,
                 "certificate_verify_failed: " + brokers_.address_text(l.broker) + ": " + std::string(detail), now);
    return;
  }
  if (error == net::kTlsHandshakeFailed) {
    // Before any connection of this worker worked, a failed TLS handshake is a configuration
    // (a plaintext listener, no common protocol); after, it may be a broker under load.
    const std::string why = "tls_handshake_failed: " + brokers_.address_text(l.broker) + ": " + std::string(detail);
    if (!ever_ready_) return fail_fatally(id, Failure::kTlsHandshakeFailed, why, now);
    return reset(id, Failure::kTlsHandshakeFailed, now, true);
  }
  if (error != 0) return reset(id, Failure::kConnectFailed, now, true);  // the loop freed the slot
  ++counters_.connections_open;
  l.connected_ns = now;
  send_handshake(id, now);
}

void ConnectionTable::send_handshake(LinkId id, int64_t now) {
  Link& l = links_[id];
  l.state = LinkState::kHandshake;
  l.in_flight.clear();
  l.handshake_sent_ns = now;
  InFlight meta;
  meta.intended_ns = now;
  meta.handshake = true;
  // Like librdkafka and the Java client, every connection opens with ApiVersions where the broker
  // has it (librdkafka's mock even ignores requests on a connection that skipped it).
  if (l.probing || l.versions.has_api_versions) {
    protocol::ApiVersionsRequest request;
    request.client_software_name = "wirestress";
    request.client_software_version = "0.1.0";
    const int16_t version = l.probing || l.versions.api_versions < 0 ? l.api_versions_version : l.versions.api_versions;
    append(id, request, version, meta);
  } else {
    // Kafka 0.9 has no ApiVersions. Its answer to Metadata proves the connection works, and the
    // worker's metadata cache gets a free refresh.
    protocol::MetadataRequest request;
    request.topics.emplace(config_.topics);
    for (uint32_t i = 0; i < config_.topics; ++i) (*request.topics)[i].name = handshake_topics_[i];
    request.allow_auto_topic_creation = true;
    append(id, request, l.versions.metadata, meta);
  }
  flush(id, now);
}

void ConnectionTable::handshake_done(LinkId id, int64_t now) {
  Link& l = links_[id];
  l.state = LinkState::kReady;
  l.failures = 0;  // a good response: the backoff starts afresh
  ever_ready_ = true;
  ++counters_.connections_established;
  ++counters_.broker(l.broker).connections_established;
  release_slot(l, now);
  emit(LinkEvent::kReady, id);
}

void ConnectionTable::handle_api_versions(LinkId id, const InFlight& request, protocol::Bytes body, int64_t now) {
  Link& l = links_[id];
  protocol::ApiVersionsResponse response;
  protocol::Reader r(body);
  protocol::decode_api_versions_response(r, request.api_version, response);
  if (!r.ok()) return reset(id, Failure::kDecodeError, now, false);
  int16_t theirs_max = -1;
  for (const auto& api : response.api_keys) {
    if (api.api_key == protocol::ApiVersionsRequest::kApiKey) theirs_max = api.max_version;
  }
  if (response.error_code == protocol::error::kUnsupportedVersion && request.api_version > 0) {
    // The broker listed what it speaks (or at least said no): ask again in a version it knows.
    l.api_versions_version = static_cast<int16_t>(
        std::clamp<int>(theirs_max, 0, request.api_version - 1));
    InFlight meta;
    meta.intended_ns = now;
    meta.handshake = true;
    protocol::ApiVersionsRequest retry;
    retry.client_software_name = "wirestress";
    retry.client_software_version = "0.1.0";
    append(id, retry, l.api_versions_version, meta);
    return flush(id, now);  // after the first request's write completes, if it has not
  }
  if (response.error_code != protocol::error::kNone) ++counters_.errors_by_code[response.error_code];
  BrokerVersions v;
  v.has_api_versions = true;
  v.api_versions = -1;
  for (const auto& api : response.api_keys) {
    const int16_t n = protocol::negotiate_version(api.api_key, api.min_version, api.max_version);
    switch (api.api_key) {
      case protocol::ApiVersionsRequest::kApiKey: v.api_versions = n; break;
      case protocol::MetadataRequest::kApiKey: v.metadata = n; break;
      case protocol::ProduceRequest::kApiKey: v.produce = n; break;
      case protocol::FetchRequest::kApiKey: v.fetch = n; break;
      case protocol::ListOffsetsRequest::kApiKey: v.list_offsets = n; break;
      case protocol::SaslHandshakeRequest::kApiKey: v.sasl_handshake = n; break;
      case protocol::SaslAuthenticateRequest::kApiKey: v.sasl_authenticate = n; break;
      case protocol::FindCoordinatorRequest::kApiKey: v.find_coordinator = n; break;
      case protocol::JoinGroupRequest::kApiKey: v.join_group = n; break;
      case protocol::SyncGroupRequest::kApiKey: v.sync_group = n; break;
      case protocol::HeartbeatRequest::kApiKey: v.heartbeat = n; break;
      case protocol::LeaveGroupRequest::kApiKey: v.leave_group = n; break;
      case protocol::OffsetCommitRequest::kApiKey: v.offset_commit = n; break;
      case protocol::OffsetFetchRequest::kApiKey: v.offset_fetch = n; break;
      case protocol::InitProducerIdRequest::kApiKey: v.init_producer_id = n; break;
      default: break;
    }
  }
  if (v.api_versions < 0) v.api_versions = request.api_version;
  l.versions = v;
  if (l.probing) {
    brokers_.set_versions(l.broker, v);
    l.probing = false;
  }
  l.negotiated_ns = now;
  retry_waiters(now);
  if (config_.security.uses_sasl()) return start_sasl(id, now);
  handshake_done(id, now);
}

void ConnectionTable::start_sasl(LinkId id, int64_t now) {
  Link& l = links_[id];
  if (l.versions.sasl_handshake < 0) {
    return fail_fatally(id, Failure::kUnsupportedSaslMechanism,
                        "unsupported_sasl_mechanism: " + brokers_.address_text(l.broker) +
                            " has no SaslHandshake (a PLAINTEXT or SSL listener, or Kafka before 0.10)",
                        now);
  }
  protocol::SaslHandshakeRequest request;
  request.mechanism = protocol::sasl::mechanism_name(sasl_mechanism_);
  InFlight meta;
  meta.intended_ns = now;
  meta.handshake = true;
  // v1 when the broker has SaslAuthenticate (KIP-152), otherwise Kafka 0.10's v0 with bare frames.
  const int16_t version = l.versions.sasl_authenticate >= 0 ? std::min<int16_t>(1, l.versions.sasl_handshake) : 0;
  append(id, request, version, meta);
  flush(id, now);
}

void ConnectionTable::handle_sasl_handshake(LinkId id, const InFlight& request, protocol::Bytes body, int64_t now) {
  Link& l = links_[id];
  protocol::SaslHandshakeResponse response;
  protocol::Reader r(body);
  response.decode(r, request.api_version);
  if (!r.ok()) return reset(id, Failure::kDecodeError, now, false);
  if (response.error_code == protocol::error::kUnsupportedSaslMechanism) {
    std::string offered;
    for (const auto m : response.mechanisms) offered += (offered.empty() ? "" : ", ") + std::string(m);
    return fail_fatally(id, Failure::kUnsupportedSaslMechanism,
                        std::string("unsupported_sasl_mechanism: ") + brokers_.address_text(l.broker) + " does not offer " +
                            protocol::sasl::mechanism_name(sasl_mechanism_) + " (it offers: " +
                            (offered.empty() ? "none" : offered) + ")",
                        now);
  }
  if (response.error_code != protocol::error::kNone) {
    ++counters_.errors_by_code[response.error_code];
    return reset(id, Failure::kAuthenticationFailed, now, false);
  }
  const auto& s = config_.security.sasl;
  auto session = std::make_unique<SaslSession>(SaslSession{
      protocol::sasl::ClientExchange(sasl_mechanism_, protocol::sasl::Credentials{s.username, s.password, s.token}),
      request.api_version >= 1});
  const std::vector<uint8_t> first = session->exchange.initial();
  sasl_[id] = std::move(session);
  if (first.empty()) {
    std::vector<uint8_t> unused;
    std::string error;
    sasl_[id]->exchange.on_server({}, unused, error);
    return fail_fatally(id, Failure::kAuthenticationFailed, "authentication_failed: " + error, now);
  }
  send_sasl_token(id, first, now);
}

void ConnectionTable::send_sasl_token(LinkId id, std::span<const uint8_t> token, int64_t now) {
  Link& l = links_[id];
  InFlight meta;
  meta.intended_ns = now;
  meta.handshake = true;
  if (sasl_[id]->framed) {
    protocol::SaslAuthenticateRequest request;
    request.auth_bytes = protocol::Bytes(token.data(), token.size());
    append(id, request, l.versions.sasl_authenticate, meta);
  } else {
    // Kafka 0.10's flow: the token as a bare frame, and the answer comes back as one.
    protocol::sasl::append_token_frame(write_buffer(l), token);
    meta.api_key = kSaslTokenFrame;
    l.in_flight.push(meta);
    ++l.unflushed;
  }
  flush(id, now);
}

void ConnectionTable::handle_sasl_authenticate(LinkId id, const InFlight& request, protocol::Bytes body,
                                               int64_t now) {
  Link& l = links_[id];
  protocol::SaslAuthenticateResponse response;
  protocol::Reader r(body);
  response.decode(r, request.api_version);
  if (!r.ok()) return reset(id, Failure::kDecodeError, now, false);
  if (response.error_code != protocol::error::kNone) {
    ++counters_.errors_by_code[response.error_code];
    std::string why = response.error_message ? std::string(*response.error_message) : std::string();
    if (why.empty()) why = protocol::error_name(response.error_code);
    return fail_fatally(id, Failure::kAuthenticationFailed,
                        "authentication_failed: " + brokers_.address_text(l.broker) + ": " + why, now);
  }
  on_sasl_token(id, std::span<const uint8_t>(response.auth_bytes.data(), response.auth_bytes.size()), now);
}

void ConnectionTable::on_sasl_token(LinkId id, std::span<const uint8_t> token, int64_t now) {
  const auto it = sasl_.find(id);
  if (it == sasl_.end()) return reset(id, Failure::kCorrelationMismatch, now, false);
  std::vector<uint8_t> reply;
  std::string error;
  switch (it->second->exchange.on_server(token, reply, error)) {
    case protocol::sasl::ClientExchange::Step::kSend:
      return send_sasl_token(id, reply, now);
    case protocol::sasl::ClientExchange::Step::kDone:
      sasl_.erase(it);
      return handshake_done(id, now);
    case protocol::sasl::ClientExchange::Step::kFailed:
      return fail_fatally(id, Failure::kAuthenticationFailed,
                          "authentication_failed: " + brokers_.address_text(links_[id].broker) + ": " + error, now);
  }
}

void ConnectionTable::fail_fatally(LinkId id, Failure why, std::string message, int64_t now) {
  if (fatal_.empty()) fatal_ = std::move(message);
  const LinkState s = links_[id].state;
  // A failed connect was closed by the loop already; a handshake in progress is closed here.
  reset(id, why, now, s == LinkState::kConnecting);
}

void ConnectionTable::fall_back_to_0_9(LinkId id, int64_t now) {
  // Kafka before 0.10 has no ApiVersions: 0.9.0.1 drops the request and neither answers nor
  // closes. Remember that for this broker, and start this connection again in 0.9's versions
  // (librdkafka's broker.version.fallback). Not a failure: no backoff. (A broker that closes on
  // ApiVersions is a failed connection: a TLS listener or an overloaded broker closes too, and
  // taking them for 0.9 would stick for the whole process.)
  Link& l = links_[id];
  brokers_.set_versions(l.broker, kafka_0_9_versions());
  l.probing = false;
  l.versions = kafka_0_9_versions();
  --counters_.connections_attempted;  // the probe's connection is replaced, not an attempt of its own
  drop_connection(l, false, now);
  l.in_flight.clear();
  l.wake_ns = now;
  try_connect(id, now);
  retry_waiters(now);
}

std::vector<uint8_t>& ConnectionTable::write_buffer(Link& l) {
  if (l.send_in_progress) return l.later;
  if (l.out.capacity() == 0) {
    if (!spare_writes_.empty()) {
      l.out.swap(spare_writes_.back());
      spare_writes_.pop_back();
    } else {
      l.out.reserve(256);  // a handshake request fits; larger writes double from there
    }
  }
  return l.out;
}

void ConnectionTable::drop_borrowed(Link& l) {
  for (Link::Borrowed& b : l.borrowed) dropped_sends_.push_back(std::move(b.owner));
  l.borrowed.clear();
}

std::span<const iovec> ConnectionTable::send_parts(LinkId id) {
  const Link& l = links_[id];
  send_parts_.clear();
  const auto part = [&](const uint8_t* data, size_t size) {
    if (size > 0) send_parts_.push_back(iovec{const_cast<uint8_t*>(data), size});
  };
  size_t from = 0;
  for (const Link::Borrowed& b : l.borrowed) {
    part(l.out.data() + from, b.at - from);
    part(b.bytes.data(), b.bytes.size());
    from = b.at;
  }
  part(l.out.data() + from, l.out.size() - from);
  return send_parts_;
}

size_t ConnectionTable::append_produce(LinkId id, protocol::ProduceRequest& body, int16_t version, InFlight meta,
                                       const std::shared_ptr<std::vector<uint8_t>>* owner) {
  Link& l = links_[id];
  auto& set = body.topic_data.back().partition_data.back().records;
  if (!gathered_sends_ || !owner || l.send_in_progress || protocol::ProduceRequest::is_flexible(version) || !set ||
      set->size() < kLeastBorrowedBytes) {
    return append(id, body, version, meta);
  }
  // Encoded with an empty last set, which ends the request in these versions (its 4-byte length
  // last): then that length and the frame's size are made to count the set sent in its place.
  const protocol::Bytes borrowed = *set;
  set = protocol::Bytes();
  const size_t head = append(id, body, version, meta);  // into l.out: no send is in progress
  set = borrowed;
  protocol::Writer patch(l.out);
  patch.patch_i32(l.out.size() - 4, static_cast<int32_t>(borrowed.size()));
  patch.patch_i32(l.out.size() - head, static_cast<int32_t>(head - 4 + borrowed.size()));
  l.borrowed.push_back(Link::Borrowed{l.out.size(), borrowed, *owner});
  return head + borrowed.size();
}

void ConnectionTable::spare_write_buffer(Link& l) {
  l.out.clear();
  if (spare_writes_.size() < kSpareWriteBuffers && l.out.capacity() <= kLargestSpareWriteBuffer) {
    spare_writes_.emplace_back().swap(l.out);
  } else {
    std::vector<uint8_t>().swap(l.out);
  }
}

void ConnectionTable::flush(LinkId id, int64_t now) {
  Link& l = links_[id];
  if (l.out.empty() || l.send_in_progress) return;
  bytes_flushed_ += l.out.size();
  // The requests appended since the last flush are handed to the socket now.
  for (uint32_t i = l.in_flight.size() - std::min(l.unflushed, l.in_flight.size()); i < l.in_flight.size(); ++i) {
    l.in_flight.at(i).sent_ns = now;
  }
  l.unflushed = 0;
  l.send_in_progress = true;
  queue_op(IoOp::kSend, id);
}

void ConnectionTable::on_sent(LinkId id, int64_t now) {
  Link& l = links_[id];
  if (l.state != LinkState::kHandshake && l.state != LinkState::kReady) return;
  l.send_in_progress = false;
  l.borrowed.clear();  // written: the encoder may rewrite their buffers
  if (!l.later.empty()) {
    // A copy, not a swap: `later` stays small, and only `out` keeps the capacity of a write.
    l.out.assign(l.later.begin(), l.later.end());
    l.later.clear();
  } else {
    spare_write_buffer(l);  // the kernel is done with it (kSent)
  }
  // acks=0: a produce request is complete once written; the broker never answers it.
  while (!l.in_flight.empty() && !l.in_flight.front().expects_response &&
         l.in_flight.size() > l.unflushed) {
    LinkEvent e = LinkEvent::make(LinkEvent::kWritten, id, l.generation);
    e.request = l.in_flight.front();
    events_.push_back(e);
    l.in_flight.pop();
  }
  flush(id, now);  // what was queued meanwhile
  if (!l.send_in_progress) emit(LinkEvent::kWritable, id);
}

void ConnectionTable::on_closed(LinkId id, int error, int64_t now) {
  (void)error;
  Link& l = links_[id];
  if (l.state == LinkState::kIdle || l.state == LinkState::kWaiting) return;
  if (const auto it = sasl_.find(id); it != sasl_.end() && !it->second->framed) {
    // Kafka 0.10's bare-token flow has no error response: a broker that refuses the credentials
    // just closes the connection.
    if (fatal_.empty()) {
      fatal_ = "authentication_failed: " + brokers_.address_text(l.broker) +
               " closed the connection during SASL authentication (how Kafka 0.10 refuses credentials)";
    }
    return reset(id, Failure::kAuthenticationFailed, now, true);
  }
  reset(id, Failure::kDisconnected, now, true);
}

void ConnectionTable::on_data(LinkId id, protocol::Bytes data, int64_t now) {
  Link& l = links_[id];
  if (l.state != LinkState::kHandshake && l.state != LinkState::kReady) return;
  if (l.partial_consumed > 0) {
    // Frames handed out from the buffer last time have been handled by now.
    l.partial.erase(l.partial.begin(), l.partial.begin() + static_cast<ptrdiff_t>(l.partial_consumed));
    l.partial_consumed = 0;
    release_partial_capacity(l);
    account_partial(l);
  }
  // Usually a whole response arrives in one read and is parsed straight from the loop's buffer;
  // only a frame split across reads is copied into the link's own buffer.
  std::span<const uint8_t> pending = data;
  const bool buffered = !l.partial.empty();
  if (buffered) {
    if (!reserve_partial(l, data)) return reset(id, Failure::kReceiveMemoryExhausted, now, false);
    l.partial.insert(l.partial.end(), data.begin(), data.end());
    account_partial(l);
    pending = l.partial;
  }
  const uint32_t generation = l.generation;
  size_t consumed = 0;
  while (true) {
    const auto check = protocol::check_frame(pending.subspan(consumed),
                                             static_cast<int32_t>(config_.max_response_bytes));
    if (check.status == protocol::FrameStatus::kTooLarge) return reset(id, Failure::kResponseTooLarge, now, false);
    if (check.status == protocol::FrameStatus::kNeedMore) break;
    const auto frame = pending.subspan(consumed + 4, check.frame_size - 4);
    consumed += check.frame_size;
    if (!take_frame(id, frame, now) || l.generation != generation) return;
  }
  if (buffered) {
    l.partial_consumed = consumed;  // erased at the next receive: the frames point into it
  } else if (consumed < pending.size()) {
    const auto rest = pending.subspan(consumed);
    if (!reserve_partial(l, rest)) return reset(id, Failure::kReceiveMemoryExhausted, now, false);
    l.partial.assign(rest.begin(), rest.end());
    account_partial(l);
  }
}

bool ConnectionTable::reserve_partial(Link& l, std::span<const uint8_t> more) {
  const size_t wanted = l.partial.size() + more.size();
  if (wanted <= l.partial.capacity()) return true;
  // The frame's announced size is reserved at once: growing by doubling would hold up to twice
  // the frame (a 250 MiB answer cost ~500 MiB). Untouched pages of the reservation cost no RSS.
  // `partial` always starts at a frame boundary.
  uint8_t prefix[4];
  size_t known = 0;
  for (; known < 4 && known < l.partial.size(); ++known) prefix[known] = l.partial[known];
  for (size_t i = 0; known < 4 && i < more.size(); ++i, ++known) prefix[known] = more[i];
  size_t target = wanted;
  // Above the limit check_frame refuses the frame right after this (a prefix split across reads
  // is checked only once whole): reserve nothing for it.
  const auto announced = protocol::check_frame(std::span<const uint8_t>(prefix, known),
                                               static_cast<int32_t>(config_.max_response_bytes));
  if (announced.status != protocol::FrameStatus::kTooLarge) target = std::max(wanted, announced.frame_size);
  if (buffered_bytes_ - l.partial_accounted + target > config_.receive_budget_per_worker) return false;
  l.partial.reserve(target);
  return true;
}

void ConnectionTable::account_partial(Link& l) {
  // A buffer holding part of a frame counts with its whole capacity; an empty one kept for reuse
  // (at most kKeptPartialCapacity per link) does not: it is bounded by the number of links.
  const size_t held = l.partial.empty() ? 0 : l.partial.capacity();
  buffered_bytes_ = buffered_bytes_ - l.partial_accounted + held;
  l.partial_accounted = held;
}

void ConnectionTable::drop_partial(Link& l) {
  l.partial.clear();
  l.partial_consumed = 0;
  release_partial_capacity(l);
  account_partial(l);
}

void ConnectionTable::release_partial_capacity(Link& l) {
  // One large response must not pin its memory for the rest of the run on a long-lived link.
  if (l.partial.capacity() <= kKeptPartialCapacity) return;
  if (l.partial.empty()) {
    std::vector<uint8_t>().swap(l.partial);
  } else if (l.partial.size() * 4 < l.partial.capacity()) {
    l.partial.shrink_to_fit();  // the start of the next frame came with the end of a large one
  }
}

bool ConnectionTable::take_frame(LinkId id, std::span<const uint8_t> frame, int64_t now) {
  Link& l = links_[id];
  // Requests that expect no response (acks=0) and were written before the one answered here are
  // complete, even if the loop has not reported their send yet.
  while (!l.in_flight.empty() && !l.in_flight.front().expects_response && l.in_flight.size() > l.unflushed) {
    LinkEvent e = LinkEvent::make(LinkEvent::kWritten, id, l.generation);
    e.request = l.in_flight.front();
    events_.push_back(e);
    l.in_flight.pop();
  }
  if (l.in_flight.empty()) {
    // Real brokers never answer acks=0 produces, but librdkafka's mock cluster does: skip
    // unsolicited responses then, as librdkafka does. Otherwise the stream is out of step.
    if (l.acks0_producer) return true;
    reset(id, Failure::kCorrelationMismatch, now, false);
    return false;
  }
  const InFlight request = l.in_flight.front();
  if (request.api_key == kSaslTokenFrame) {
    // After SaslHandshake v0 the broker answers a token with a bare frame: no header.
    l.in_flight.pop();
    const uint32_t generation = l.generation;
    on_sasl_token(id, frame, now);
    return l.generation == generation;
  }
  auto response = protocol::read_response_header(frame, request.api_key, request.api_version);
  if (!response.body.ok()) {
    reset(id, Failure::kDecodeError, now, false);
    return false;
  }
  if (response.correlation_id != request.correlation_id) {
    if (l.acks0_producer) return true;  // an unsolicited produce answer (mock cluster): skip it
    reset(id, Failure::kCorrelationMismatch, now, false);
    return false;
  }
  l.in_flight.pop();
  const protocol::Bytes body(response.body.position(), response.body.remaining());
  if (request.handshake) {
    const uint32_t generation = l.generation;
    switch (request.api_key) {
      case protocol::ApiVersionsRequest::kApiKey:
        handle_api_versions(id, request, body, now);
        return l.generation == generation;
      case protocol::SaslHandshakeRequest::kApiKey:
        handle_sasl_handshake(id, request, body, now);
        return l.generation == generation;
      case protocol::SaslAuthenticateRequest::kApiKey:
        handle_sasl_authenticate(id, request, body, now);
        return l.generation == generation;
      default:  // Kafka 0.9: Metadata answered
        if (config_.security.uses_sasl()) {
          fail_fatally(id, Failure::kUnsupportedSaslMechanism,
                       "unsupported_sasl_mechanism: " + brokers_.address_text(l.broker) +
                           " is Kafka 0.9 (no ApiVersions), which has no SASL PLAIN, SCRAM or OAUTHBEARER",
                       now);
          return false;
        }
        handshake_done(id, now);
    }
  }
  LinkEvent e = LinkEvent::make(LinkEvent::kResponse, id, l.generation);
  e.request = request;
  e.body = body;
  events_.push_back(e);
  return true;
}

void ConnectionTable::on_timer(LinkId id, int64_t now) {
  if (id < links_.size() && links_[id].state == LinkState::kWaiting) try_connect(id, now);
}

void ConnectionTable::retry_waiters(int64_t now) {
  if (waiters_.empty()) return;
  std::vector<LinkId> waiting;
  waiting.swap(waiters_);
  for (const LinkId id : waiting) try_connect(id, now);  // those still blocked queue up again
}

void ConnectionTable::sweep(int64_t now) {
  const int64_t request_timeout = config_.request_timeout.count();
  // The coordinator holds a JoinGroup until every member has joined, up to the rebalance timeout
  // (the session timeout in v0): like the Java client, wait that long and 5 s more.
  const int64_t join_timeout =
      std::max(request_timeout, config_.group.session_timeout.count() + 5000 * kMs);
  const bool auto_mode = config_.broker_version == BrokerVersion::kAuto;
  for (LinkId id = 0; id < links_.size(); ++id) {
    Link& l = links_[id];
    switch (l.state) {
      case LinkState::kConnecting:
        if (now >= l.wake_ns) reset(id, Failure::kConnectFailed, now, false);
        break;
      case LinkState::kHandshake:
        if (l.probing && auto_mode) {
          // Kafka before 0.10 answers ApiVersions with silence: only the probe's own timeout
          // decides here, or a --request-timeout under it would fail every client of Kafka 0.9.
          if (now - l.handshake_sent_ns >= kProbeTimeoutNs) fall_back_to_0_9(id, now);
        } else if (now >= l.wake_ns) {
          reset(id, Failure::kConnectFailed, now, false);
        }
        break;
      case LinkState::kReady:
        if (!l.in_flight.empty() && l.in_flight.front().expects_response &&
            now - l.in_flight.front().sent_ns >
                (l.in_flight.front().api_key == protocol::JoinGroupRequest::kApiKey ? join_timeout
                                                                                    : request_timeout)) {
          reset(id, Failure::kRequestTimeout, now, false);
        }
        break;
      default:
        break;
    }
  }
  retry_waiters(now);
}

void ConnectionTable::count_unanswered(std::map<int16_t, uint64_t>& out) const {
  for (const Link& l : links_) {
    if (l.state != LinkState::kReady && l.state != LinkState::kHandshake) continue;
    for (uint32_t i = 0; i < l.in_flight.size(); ++i) {
      if (l.in_flight.at(i).expects_response) ++out[l.in_flight.at(i).api_key];
    }
  }
}

}  // namespace ws::driver
