#include "tests/driver/fake_cluster.h"

#include <netinet/in.h>

#include <algorithm>
#include <cerrno>

#include "protocol/errors.h"

namespace ws::testing {
namespace {

int port_of(const net::Endpoint& e) {
  if (e.addr.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(e.addr).sin_port);
  return ntohs(reinterpret_cast<const sockaddr_in6&>(e.addr).sin6_port);
}

}  // namespace

int FakeKafka::count(int16_t api_key) const {
  return static_cast<int>(std::count_if(requests.begin(), requests.end(),
                                        [&](const SeenRequest& r) { return r.api_key == api_key; }));
}

size_t FakeKafka::stored_records() const {
  size_t n = 0;
  for (const auto& [partition, values] : records) n += values.size();
  return n;
}

const FakeKafka::Broker* FakeKafka::broker_at(int port) const {
  for (const auto& b : brokers) {
    if (b.port == port) return &b;
  }
  return nullptr;
}

int32_t FakeKafka::leader_of(int32_t partition) const {
  if (leaders.empty()) return brokers.front().node_id;
  return leaders[static_cast<size_t>(partition) % leaders.size()];
}

FakeKafka*& FakeLoop::cluster() {
  static FakeKafka* current = nullptr;
  return current;
}

std::unique_ptr<FakeLoop> FakeLoop::create(const net::LoopOptions&, std::string&) {
  auto loop = std::make_unique<FakeLoop>();
  loop->kafka_ = cluster();
  return loop;
}

int FakeLoop::open_connections() const {
  return static_cast<int>(std::count_if(conns_.begin(), conns_.end(), [](const auto& c) { return c.second.open; }));
}

void FakeLoop::connect(net::ConnId conn, const net::Endpoint& endpoint, const net::Endpoint* source) {
  if (source) sources.push_back(source->text);
  Conn& c = conns_[conn];
  c = Conn{};
  c.port = port_of(endpoint);
  ++kafka_->connects;
  const FakeKafka::Broker* b = kafka_->broker_at(c.port);
  if (!b || b->refuse) {
    queue_.push_back(net::Event{net::Event::kConnected, conn, ECONNREFUSED, {}});
    return;
  }
  if (b->blackhole) {
    c.open = true;  // a SYN nobody answers: no event until the driver gives up
    return;
  }
  c.open = true;
  c.connected = true;
  queue_.push_back(net::Event{net::Event::kConnected, conn, 0, {}});
  if (b->close_after_connect) {
    c.open = false;
    queue_.push_back(net::Event{net::Event::kClosed, conn, 0, {}});
  }
}

void FakeLoop::send(net::ConnId conn, const uint8_t* data, size_t size) {
  Conn& c = conns_[conn];
  if (!c.open || !c.connected) return;
  bytes_since_poll_ += size;
  most_bytes_between_polls = std::max(most_bytes_between_polls, bytes_since_poll_);
  // The whole write is taken at once.
  if (hold_sends_) {
    held_sends_.push_back(conn);
  } else {
    queue_.push_back(net::Event{net::Event::kSent, conn, 0, {}});
  }
  receive(conn, data, size);
}

void FakeLoop::send(net::ConnId conn, std::span<const iovec> parts) {
  Conn& c = conns_[conn];
  if (!c.open || !c.connected) return;
  ++gathered_sends;
  for (const iovec& p : parts) bytes_since_poll_ += p.iov_len;
  most_bytes_between_polls = std::max(most_bytes_between_polls, bytes_since_poll_);
  if (hold_sends_) {
    // As a kernel short of socket buffer would: the bytes are read when the send completes, so
    // a caller that changed them before kSent is caught.
    held_sends_.push_back(conn);
    held_gathers_.push_back({conn, std::vector<iovec>(parts.begin(), parts.end())});
    return;
  }
  queue_.push_back(net::Event{net::Event::kSent, conn, 0, {}});
  receive_parts(conn, parts);
}

void FakeLoop::receive_parts(net::ConnId conn, std::span<const iovec> parts) {
  for (const iovec& p : parts) {
    if (conns_[conn].open) receive(conn, static_cast<const uint8_t*>(p.iov_base), p.iov_len);
  }
}

void FakeLoop::receive(net::ConnId conn, const uint8_t* data, size_t size) {
  Conn& c = conns_[conn];
  c.inbound.insert(c.inbound.end(), data, data + size);
  size_t used = 0;
  while (true) {
    const auto check = protocol::check_frame(std::span<const uint8_t>(c.inbound).subspan(used));
    if (check.status != protocol::FrameStatus::kComplete) break;
    answer(conn, std::span<const uint8_t>(c.inbound).subspan(used + 4, check.frame_size - 4));
    used += check.frame_size;
    if (!conns_[conn].open) return;
  }
  conns_[conn].inbound.erase(conns_[conn].inbound.begin(), conns_[conn].inbound.begin() + static_cast<ptrdiff_t>(used));
}

void FakeLoop::release_sends() {
  for (const HeldGather& g : held_gathers_) receive_parts(g.conn, g.parts);
  held_gathers_.clear();
  for (const net::ConnId conn : held_sends_) {
    if (conns_[conn].open) queue_.push_back(net::Event{net::Event::kSent, conn, 0, {}});
  }
  held_sends_.clear();
}

void FakeLoop::close(net::ConnId conn) {
  closed.push_back(conn);
  conns_[conn].open = false;
  // No event of this connection is delivered after close() returns.
  std::erase_if(queue_, [&](const net::Event& e) { return e.conn == conn; });
  std::erase(held_sends_, conn);
  std::erase_if(held_gathers_, [&](const HeldGather& g) { return g.conn == conn; });
}

void FakeLoop::close_from_broker(net::ConnId conn) {
  if (!conns_[conn].open) return;
  conns_[conn].open = false;
  queue_.push_back(net::Event{net::Event::kClosed, conn, 0, {}});
}

void FakeLoop::kill_broker(int port) {
  for (auto& b : kafka_->brokers) {
    if (b.port == port) b.refuse = true;
  }
  for (auto& [conn, c] : conns_) {
    if (c.open && c.port == port) close_from_broker(conn);
  }
}

void FakeLoop::queue_data(net::ConnId conn, std::vector<uint8_t> bytes) {
  if (answering_ && kafka_->answer_filter) {
    const SeenRequest request = *answering_;
    answering_ = nullptr;  // the filter's reads are delivered as they are
    FakeKafka::AnswerEdit edit = kafka_->answer_filter(request, std::move(bytes));
    for (auto& read : edit.reads) queue_data(conn, std::move(read));
    if (edit.close_after) close_from_broker(conn);
    return;
  }
  // Kept for the whole test: a deque's elements never move, so the event's view stays valid.
  store_.push_back(std::move(bytes));
  const auto& data = store_.back();
  queue_.push_back(net::Event{net::Event::kData, conn, 0, std::span<const uint8_t>(data.data(), data.size())});
}

void FakeLoop::inject(net::ConnId conn, std::vector<uint8_t> bytes) { queue_data(conn, std::move(bytes)); }

size_t FakeLoop::poll(std::span<net::Event> out, int) {
  bytes_since_poll_ = 0;
  if (kafka_ && kafka_->on_poll) kafka_->on_poll(*this);
  size_t n = 0;
  while (n < out.size() && !queue_.empty()) {
    out[n++] = queue_.front();
    queue_.pop_front();
  }
  return n;
}

void FakeLoop::answer_sasl_token(net::ConnId conn, std::span<const uint8_t> token, int32_t corr, int16_t version) {
  using namespace protocol;
  FakeKafka& k = *kafka_;
  Conn& c = conns_[conn];
  std::vector<uint8_t> reply;
  std::string error;
  const auto step = c.sasl ? c.sasl->on_client(token, reply, error) : sasl::ServerExchange::Step::kFailed;
  if (step == sasl::ServerExchange::Step::kDone) {
    c.authenticated = true;
    ++k.sasl_logins;
  }
  if (c.bare_tokens) {
    if (step == sasl::ServerExchange::Step::kFailed) return close_from_broker(conn);  // as Kafka 0.10 does
    if (step == sasl::ServerExchange::Step::kDone) c.bare_tokens = false;  // Kafka requests from here on
    std::vector<uint8_t> out;
    sasl::append_token_frame(out, reply);
    return queue_data(conn, std::move(out));
  }
  SaslAuthenticateResponse resp;
  if (step == sasl::ServerExchange::Step::kFailed) {
    resp.error_code = error::kSaslAuthenticationFailed;
    resp.error_message = error;
    auto frame = response_frame(corr, SaslAuthenticateRequest::kApiKey, version, resp);
    return queue_data(conn, std::move(frame));  // (Kafka closes after this; the client gives up first)
  }
  resp.auth_bytes = Bytes(reply.data(), reply.size());
  queue_data(conn, response_frame(corr, SaslAuthenticateRequest::kApiKey, version, resp));
}

void FakeLoop::answer(net::ConnId conn, std::span<const uint8_t> frame) {
  using namespace protocol;
  FakeKafka& k = *kafka_;
  Conn& c = conns_[conn];
  const FakeKafka::Broker* broker = k.broker_at(c.port);
  if (c.bare_tokens) {  // a SASL token after SaslHandshake v0: no header
    return answer_sasl_token(conn, frame, 0, 0);
  }
  Reader r(frame);
  // Request header v1 (v2 for flexible versions): peek at key and version first.
  Reader peek(frame);
  const int16_t api_key = peek.i16();
  const int16_t version = peek.i16();
  RequestHeader header;
  header.decode(r, request_header_version(api_key, version));
  SeenRequest seen{conn, c.port, api_key, version, header.correlation_id,
                   header.client_id ? std::string(*header.client_id) : std::string()};
  k.requests.push_back(seen);
  if (broker && broker->silent) return;
  answering_ = &k.requests.back();
  struct Done {
    const SeenRequest*& answering;
    ~Done() { answering = nullptr; }
  } done{answering_};
  const int32_t corr = header.correlation_id;
  const bool sasl_on = !k.sasl_users.empty();
  if (sasl_on && !c.authenticated && api_key != ApiVersionsRequest::kApiKey &&
      api_key != SaslHandshakeRequest::kApiKey && api_key != SaslAuthenticateRequest::kApiKey) {
    return close_from_broker(conn);  // Kafka closes a connection that skips authentication
  }

  switch (api_key) {
    case ApiVersionsRequest::kApiKey: {
      if (k.kind == FakeKafka::Kind::kKafka09) return;  // dropped, connection left open
      if (k.kind == FakeKafka::Kind::kClosesOnApiVersions) {
        c.open = false;
        queue_.push_back(net::Event{net::Event::kClosed, conn, 0, {}});
        return;
      }
      ApiVersionsResponse resp;
      const std::pair<int16_t, int16_t> ranges[] = {{ProduceRequest::kApiKey, 8},
                                                    {FetchRequest::kApiKey, 11},
                                                    {ListOffsetsRequest::kApiKey, 5},
                                                    {MetadataRequest::kApiKey, 8},
                                                    {ApiVersionsRequest::kApiKey, 3},
                                                    {SaslHandshakeRequest::kApiKey, k.sasl_v0_only ? 0 : 1},
                                                    {SaslAuthenticateRequest::kApiKey, k.sasl_v0_only ? -1 : 2},
                                                    {InitProducerIdRequest::kApiKey, k.idempotence ? 4 : -1}};
      if (version > 3) {
        resp.error_code = error::kUnsupportedVersion;
        ApiVersionsResponse::ApiVersion v;
        v.api_key = ApiVersionsRequest::kApiKey;
        v.max_version = 3;
        resp.api_keys.push_back(v);
        return queue_data(conn, response_frame(corr, api_key, 0, resp));
      }
      std::vector<std::pair<int16_t, int16_t>> advertised(std::begin(ranges), std::end(ranges));
      advertised.insert(advertised.end(), k.other_api_versions.begin(), k.other_api_versions.end());
      for (auto [key, max] : advertised) {
        if (max < 0 || (!sasl_on && (key == SaslHandshakeRequest::kApiKey || key == SaslAuthenticateRequest::kApiKey))) {
          continue;
        }
        ApiVersionsResponse::ApiVersion v;
        v.api_key = key;
        v.min_version = 0;
        v.max_version = max;
        resp.api_keys.push_back(v);
      }
      return queue_data(conn, response_frame(corr, api_key, version, resp));
    }
    case SaslHandshakeRequest::kApiKey: {
      SaslHandshakeRequest req;
      req.decode(r, version);
      SaslHandshakeResponse resp;
      for (const auto& m : k.sasl_mechanisms) resp.mechanisms.push_back(m);
      sasl::Mechanism mechanism{};
      const bool offered = std::find(k.sasl_mechanisms.begin(), k.sasl_mechanisms.end(), std::string(req.mechanism)) !=
                           k.sasl_mechanisms.end();
      if (!offered || !sasl::parse_mechanism(req.mechanism, mechanism)) {
        resp.error_code = error::kUnsupportedSaslMechanism;
      } else {
        if (sasl_store_.empty()) {
          for (const auto& [user, password] : k.sasl_users) sasl_store_.add(user, password);
        }
        c.sasl = std::make_shared<sasl::ServerExchange>(mechanism, sasl_store_);
        c.bare_tokens = version == 0;
      }
      return queue_data(conn, response_frame(corr, api_key, version, resp));
    }
    case SaslAuthenticateRequest::kApiKey: {
      SaslAuthenticateRequest req;
      req.decode(r, version);
      return answer_sasl_token(conn, std::span<const uint8_t>(req.auth_bytes.data(), req.auth_bytes.size()), corr,
                               version);
    }
    case MetadataRequest::kApiKey: {
      MetadataRequest req;
      req.decode(r, version);
      MetadataResponse resp;
      for (const auto& b : k.brokers) {
        MetadataResponse::MetadataResponseBroker mb;
        mb.node_id = b.node_id;
        mb.host = "127.0.0.1";
        mb.port = b.port;
        resp.brokers.push_back(mb);
      }
      resp.topics.resize(1);
      auto& t = resp.topics[0];
      t.name = k.topic;
      t.error_code = k.topic_error;
      if (k.topic_error == 0) {
        for (int32_t p = 0; p < k.partitions; ++p) {
          MetadataResponse::MetadataResponsePartition mp;
          mp.partition_index = p;
          mp.leader_id = k.leader_of(p);
          mp.replica_nodes = {mp.leader_id};
          mp.isr_nodes = {mp.leader_id};
          t.partitions.push_back(mp);
        }
      }
      return queue_data(conn, response_frame(corr, api_key, version, resp));
    }
    case ProduceRequest::kApiKey: {
      ProduceRequest req;
      req.decode(r, version);
      int16_t code = k.produce_error;
      if (k.produce_hook) code = k.produce_hook(seen);
      ProduceResponse resp;
      size_t carried = 0;
      for (const auto& t : req.topic_data) carried += t.partition_data.size();
      ++k.produce_partitions_per_request[static_cast<int>(carried)];
      for (const auto& t : req.topic_data) {
        ProduceResponse::TopicProduceResponse tr;
        tr.name = t.name;
        for (const auto& p : t.partition_data) {
          ProduceResponse::PartitionProduceResponse pr;
          pr.index = p.index;
          auto& log = k.records[p.index];
          auto& keys = k.keys[p.index];
          pr.base_offset = static_cast<int64_t>(log.size());
          // A broker that does not lead the partition refuses it, as Kafka does.
          int16_t partition_code = code;
          if (code == 0 && broker && k.leader_of(p.index) != broker->node_id) {
            partition_code = error::kNotLeaderOrFollower;
          }
          pr.error_code = partition_code;
          // REQUEST_TIMED_OUT (acks=-1: the replicas did not confirm in time) comes after the
          // leader wrote the records: they are in the log all the same.
          bool written = partition_code == 0 || partition_code == error::kRequestTimedOut;
          if (written && p.records && k.idempotence) {
            // The batch's producer id and base sequence are its first record's.
            RecordSetReader first(*p.records);
            RecordView rec;
            int32_t count = 0;
            int64_t producer_id = -1;
            int32_t base = -1;
            while (first.next(rec)) {
              if (count++ == 0) {
                producer_id = rec.producer_id;
                base = rec.sequence;
              }
            }
            if (producer_id >= 0) {
              int32_t& expected = k.next_sequence[{producer_id, p.index}];
              if (base == expected) {
                expected += count;
              } else {
                pr.error_code = base < expected ? error::kDuplicateSequenceNumber : error::kOutOfOrderSequenceNumber;
                written = false;
              }
            }
          }
          if (written && p.records) {
            RecordSetReader reader(*p.records);
            RecordView rec;
            while (reader.next(rec)) {
              log.emplace_back(rec.value ? std::string(rec.value->begin(), rec.value->end()) : std::string());
              keys.emplace_back(rec.key ? std::string(rec.key->begin(), rec.key->end()) : std::string());
            }
          }
          tr.partition_responses.push_back(pr);
        }
        resp.responses.push_back(tr);
      }
      if (req.acks == 0 && !k.answer_acks0) return;
      return queue_data(conn, response_frame(corr, api_key, version, resp));
    }
    case InitProducerIdRequest::kApiKey: {
      if (!k.idempotence) return;
      InitProducerIdRequest req;
      req.decode(r, version);
      InitProducerIdResponse resp;
      resp.error_code = k.init_producer_id_error;
      if (resp.error_code == 0) {
        const auto known = k.producer_epochs.find(req.producer_id);
        if (req.producer_id >= 0 && known != k.producer_epochs.end() && known->second == req.producer_epoch) {
          resp.producer_id = req.producer_id;
          resp.producer_epoch = ++known->second;
          for (auto it = k.next_sequence.begin(); it != k.next_sequence.end();) {
            it = it->first.first == req.producer_id ? k.next_sequence.erase(it) : std::next(it);
          }
        } else {
          resp.producer_id = k.next_producer_id++;
          resp.producer_epoch = 0;
          k.producer_epochs[resp.producer_id] = 0;
        }
      }
      return queue_data(conn, response_frame(corr, api_key, version, resp));
    }
    case ListOffsetsRequest::kApiKey: {
      ListOffsetsRequest req;
      req.decode(r, version);
      ListOffsetsResponse resp;
      for (const auto& t : req.topics) {
        ListOffsetsResponse::ListOffsetsTopicResponse tr;
        tr.name = t.name;
        for (const auto& p : t.partitions) {
          ListOffsetsResponse::ListOffsetsPartitionResponse pr;
          pr.partition_index = p.partition_index;
          const int64_t start = k.log_start.count(p.partition_index) ? k.log_start[p.partition_index] : 0;
          const int64_t end = static_cast<int64_t>(k.records[p.partition_index].size());
          pr.offset = p.timestamp == -2 ? start : end;
          pr.old_style_offsets = {pr.offset};
          tr.partitions.push_back(pr);
        }
        resp.topics.push_back(tr);
      }
      return queue_data(conn, response_frame(corr, api_key, version, resp));
    }
    case FetchRequest::kApiKey: {
      FetchRequest req;
      req.decode(r, version);
      FetchResponse resp;
      std::vector<std::vector<uint8_t>> sets;  // keep record sets alive until encoded
      sets.reserve(64);
      for (const auto& t : req.topics) {
        FetchResponse::FetchableTopicResponse tr;
        tr.topic = t.topic;
        for (const auto& p : t.partitions) {
          FetchResponse::PartitionData pd;
          pd.partition_index = p.partition;
          const auto& log = k.records[p.partition];
          pd.high_watermark = static_cast<int64_t>(log.size());
          const int64_t start = k.log_start.count(p.partition) ? k.log_start[p.partition] : 0;
          if (broker && k.leader_of(p.partition) != broker->node_id) {
            pd.error_code = error::kNotLeaderOrFollower;
          } else if (p.fetch_offset < start || p.fetch_offset > pd.high_watermark) {
            pd.error_code = error::kOffsetOutOfRange;
          } else if (p.fetch_offset < pd.high_watermark) {
            sets.emplace_back();
            RecordSetWriter w;
            w.begin(sets.back(), {.magic = static_cast<int8_t>(version >= 4 ? 2 : 0), .base_offset = p.fetch_offset});
            const int64_t end = k.fetch_max_records > 0 ? std::min(pd.high_watermark, p.fetch_offset + k.fetch_max_records)
                                                        : pd.high_watermark;
            for (int64_t o = p.fetch_offset; o < end; ++o) {
              RecordToWrite rec;
              rec.value = Bytes(reinterpret_cast<const uint8_t*>(log[static_cast<size_t>(o)].data()),
                                log[static_cast<size_t>(o)].size());
              w.add(rec);
            }
            w.finish();
            pd.records = Bytes(sets.back());
          } else {
            pd.records = Bytes();
          }
          tr.partitions.push_back(pd);
        }
        resp.responses.push_back(tr);
      }
      return queue_data(conn, response_frame(corr, api_key, version, resp));
    }
    default:
      if (k.other_api) k.other_api(*this, seen, r);
      return;
  }
}

}  // namespace ws::testing
