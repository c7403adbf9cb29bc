// The response stream of one broker connection, through the driver's public API (ConnectionTable,
// driver/connections.h; nothing in driver/ is changed for it): the broker's bytes arrive in reads
// cut where the input says, are reassembled into frames (the size check), matched to requests by
// correlation id, their response headers read, and each body is decoded as the clients decode it.
//
// Input: [cut byte][stream]. The stream starts with the answer to ApiVersions (correlation id 1,
// version ApiVersionsRequest::kMaxVersion); once the connection is ready the harness sends, in
// this order, Metadata, Fetch, ListOffsets and Produce (acks=1) at the versions negotiated, twice
// (correlation ids 2-9), once the answer has made the connection ready. Cut byte: bits 0-3 pick the largest read (1 << n bytes; 15: the whole
// stream at once), bit 4 makes the link an acks=0 producer's (an acks=0 produce goes first, and
// unsolicited answers are skipped). Seeds: tests/fuzz/make_stream_seeds.py.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "driver/brokers.h"
#include "driver/config.h"
#include "driver/connections.h"
#include "driver/metrics.h"
#include "driver/timers.h"
#include "protocol/fetch.h"
#include "protocol/list_offsets.h"
#include "protocol/metadata.h"
#include "protocol/produce.h"
#include "protocol/records.h"

namespace {

using namespace ws;

struct Setup {
  driver::RunConfig config;
  Setup() {
    config.bootstrap = {"127.0.0.1:9092"};
    config.topic = "t";
    config.threads = 1;
    config.derive();
  }
};

// What the clients do with a response body (driver/producer.cpp, consumer.cpp, metadata.cpp).
void decode_body(const driver::LinkEvent& e) {
  protocol::Reader r(e.body);
  switch (e.request.api_key) {
    case protocol::MetadataRequest::kApiKey: {
      protocol::MetadataResponse m;
      m.decode(r, e.request.api_version);
      break;
    }
    case protocol::ProduceRequest::kApiKey: {
      protocol::ProduceResponse m;
      m.decode(r, e.request.api_version);
      break;
    }
    case protocol::ListOffsetsRequest::kApiKey: {
      protocol::ListOffsetsResponse m;
      m.decode(r, e.request.api_version);
      break;
    }
    case protocol::FetchRequest::kApiKey: {
      protocol::FetchResponse m;
      m.decode(r, e.request.api_version);
      if (!r.ok()) break;
      for (const auto& topic : m.responses) {
        for (const auto& p : topic.partitions) {
          if (!p.records) continue;
          protocol::RecordSetReader records(*p.records, {.verify_crc = true, .max_decompressed_batch = 1 << 20});
          protocol::RecordView rec;
          while (records.next(rec)) {
          }
        }
      }
      break;
    }
    default: std::abort();  // the table handed out a response to a request never sent
  }
}

template <typename Request>
void send(driver::ConnectionTable& table, driver::LinkId id, int16_t version, bool expects_response = true) {
  if (version < 0) return;
  driver::InFlight meta;
  meta.expects_response = expects_response;
  table.append(id, Request{}, version, meta);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Setup setup;
  static const std::string client_id = "fuzz";
  if (size < 1) return 0;
  const uint8_t cut = data[0];
  const size_t max_read = (cut & 0x0f) == 15 ? SIZE_MAX : size_t{1} << (cut & 0x0f);
  const bool acks0 = (cut & 0x10) != 0;
  const protocol::Bytes stream(data + 1, size - 1);

  driver::BrokerRegistry::forget_process_cache();
  driver::BrokerRegistry registry(setup.config.broker_version);
  std::string error;
  if (!registry.add_bootstrap(setup.config.bootstrap, error)) std::abort();
  driver::RunCounters counters;
  driver::TimerQueue timers;
  driver::ConnectionTable table(setup.config, registry, counters, timers, 42);
  int64_t now = 1'000'000'000;
  const driver::LinkId id = table.open(0, 0, &client_id, now, {.window = 16, .acks0_producer = acks0});
  table.on_connected(id, 0, now);
  if (table.link(id).state != driver::LinkState::kHandshake) std::abort();
  table.on_sent(id, now);
  table.clear_events();
  table.io_ops().clear();

  // No read holds answers to requests not sent yet: the first frame (the handshake's answer) comes
  // in reads of its own, and the requests go out when it has made the connection ready.
  size_t handshake_end = stream.size();
  if (stream.size() >= 4) {
    const uint32_t frame_size = uint32_t{stream[0]} << 24 | uint32_t{stream[1]} << 16 | uint32_t{stream[2]} << 8 | stream[3];
    handshake_end = std::min<size_t>(stream.size(), size_t{4} + frame_size);
  }
  size_t at = 0;
  uint32_t seed = cut;
  bool lost = false;
  while (at < stream.size() && !lost) {
    // Read sizes vary within [1, max_read], as a socket's would.
    seed = seed * 1103515245u + 12345u;
    const size_t end = at < handshake_end ? handshake_end : stream.size();
    const size_t n = std::min(end - at, max_read == SIZE_MAX ? SIZE_MAX : 1 + (seed >> 8) % max_read);
    table.set_batch(at + 1);
    table.on_data(id, stream.subspan(at, n), ++now);
    at += n;
    // The events, as a worker handles them: right after the read (the bodies are views into it).
    for (size_t i = 0; i < table.events().size(); ++i) {
      const driver::LinkEvent e = table.events()[i];
      switch (e.kind) {
        case driver::LinkEvent::kReady: {
          const driver::BrokerVersions& v = table.link(id).versions;
          if (acks0) send<protocol::ProduceRequest>(table, id, v.produce, false);
          for (int round = 0; round < 2; ++round) {
            send<protocol::MetadataRequest>(table, id, v.metadata);
            send<protocol::FetchRequest>(table, id, v.fetch);
            send<protocol::ListOffsetsRequest>(table, id, v.list_offsets);
            send<protocol::ProduceRequest>(table, id, v.produce);
          }
          table.flush(id, now);
          table.on_sent(id, now);
          break;
        }
        case driver::LinkEvent::kResponse: decode_body(e); break;
        case driver::LinkEvent::kLost: lost = true; break;
        default: break;
      }
    }
    table.clear_events();
    table.io_ops().clear();
  }
  return 0;
}
