// ws_floor: the kernel floor under a wirestress scenario, for bench/compare.py --broker floor.
//
// The same socket pattern as wirestress over the same event loop (net/: io_uring, else Asio), but
// with the request encoded once at start-up and no Kafka logic at run time: no partitioner, no
// in-flight ring, no response decoding (responses are only counted by their size prefix), no
// histograms. What it spends per message is what any client over this loop and this kernel must
// spend; wirestress's CPU per message divided by this one is its overhead.
//
//   ws_floor --bootstrap=HOST:PORT --scenario=NAME [--seconds=5] [--io=uring|asio]
//     acks0    one connection writing one Produce request (--records x --record-size, acks=0) again
//              and again, as many copies per write as wirestress puts in one (--write-budget);
//              --connections=N: N connections doing it at once (bench/cost_growth.py)
//     acks1    the same with acks=1: at most --in-flight requests awaiting a response, each
//              response read (counted by its frame) before its slot is reused
//     paced    --connections connections, one-record requests at --rate requests/s over all of
//              them (round robin, as wirestress staggers its clients), acks --acks
//     connect  a bare TCP connect + close loop, --concurrency connects in progress at once
//
// Prints one JSON line: {"scenario", "io", "messages", "requests", "responses", "bytes",
// "connections", "failed", "elapsed_s", "cpu_user_s", "cpu_sys_s", "request_bytes"}. messages are
// records sent (acks=0) or acknowledged (acks>0), as wirestress counts them; CPU is getrusage of
// the whole process, as in wirestress's JSON.
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/asio_loop.h"
#include "net/event_loop.h"
#include "net/uring_loop.h"
#include "protocol/framing.h"
#include "protocol/produce.h"
#include "protocol/records.h"

namespace {

using ws::net::ConnId;
using ws::net::Event;

enum class Scenario { kAcks0, kAcks1, kPaced, kConnect };

struct FloorOptions {
  std::string bootstrap;
  Scenario scenario = Scenario::kAcks0;
  double seconds = 5;
  std::string io = "uring";
  std::string topic = "bench";
  uint32_t records = 1000;       // records per request (acks0, acks1; paced sends 1)
  uint32_t record_size = 100;    // value bytes
  uint32_t in_flight = 5;        // wirestress's --max-in-flight default
  uint32_t connections = 0;      // 0: 500 for paced, 1 for acks0 and acks1
  double rate = 10000;           // paced: requests/s over all connections
  int16_t acks = 1;              // paced
  uint32_t concurrency = 64;     // connect: connects in progress at once
  // Bytes one write may carry: wirestress gives each producer 16 MiB / producers, clamped to
  // 4-64 KiB (driver/worker_impl.h), and at most 64 requests (acks=0) or the in-flight window.
  uint32_t write_budget = 64 << 10;
};

constexpr uint32_t kAcks0RequestsPerWrite = 64;  // as driver/producer.cpp
constexpr int64_t kNsPerMs = 1'000'000;
// After the last request, how long responses still in flight may arrive (wirestress drains too).
constexpr int64_t kDrainNs = 1'000'000'000;

int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The Produce request wirestress sends to ws_kafka_sink: v8 (the sink's highest), one partition,
// one RecordBatch v2 of null-key records whose values are 'a'..'z' repeated, client.id
// "wirestress-0". Encoded by the same protocol/ codecs.
std::vector<uint8_t> encode_produce_request(const FloorOptions& o, uint32_t records, int16_t acks) {
  using namespace ws::protocol;
  std::vector<uint8_t> value(o.record_size);
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<uint8_t>('a' + i % 26);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  std::vector<uint8_t> record_set;
  RecordSetWriter writer;
  writer.begin(record_set, {.magic = 2, .codec = Codec::kNone});
  for (uint32_t i = 0; i < records; ++i) {
    writer.add({.key = std::nullopt, .value = Bytes(value), .timestamp_ms = now_ms});
  }
  writer.finish();

  ProduceRequest request;
  request.acks = acks;
  request.timeout_ms = 30'000;
  request.topic_data.resize(1);
  request.topic_data[0].name = o.topic;
  request.topic_data[0].partition_data.resize(1);
  request.topic_data[0].partition_data[0].records = Bytes(record_set);
  std::vector<uint8_t> frame;
  encode_request(frame, request, 8, /*correlation_id=*/1, "wirestress-0");
  return frame;
}

// Counts complete size-prefixed frames in a byte stream that arrives in arbitrary pieces: all a
// client must look at to know a response has arrived.
class FrameCounter {
 public:
  uint32_t feed(std::span<const uint8_t> data) {
    uint32_t complete = 0;
    size_t i = 0;
    while (i < data.size()) {
      if (body_left_ > 0) {
        const size_t take = std::min<uint64_t>(body_left_, data.size() - i);
        body_left_ -= take;
        i += take;
        if (body_left_ == 0) ++complete;
        continue;
      }
      prefix_ = (prefix_ << 8) | data[i++];
      if (++prefix_have_ == 4) {
        body_left_ = prefix_;
        prefix_ = 0;
        prefix_have_ = 0;
        if (body_left_ == 0) ++complete;
      }
    }
    return complete;
  }

 private:
  uint32_t prefix_ = 0;
  uint32_t prefix_have_ = 0;
  uint64_t body_left_ = 0;
};

struct Totals {
  uint64_t messages = 0;
  uint64_t requests = 0;
  uint64_t responses = 0;
  uint64_t bytes = 0;
  uint64_t connections = 0;
  uint64_t failed = 0;
  double elapsed_s = 0;
};

// One connection of the produce scenarios: the bytes it writes are always a prefix of the shared
// `wire` buffer (copies of the request back to back), so no connection owns a send buffer.
struct ProduceConnection {
  FrameCounter responses;
  uint32_t in_flight = 0;  // requests written or being written whose response has not arrived
  uint32_t due = 0;        // paced: requests due and not yet written
  uint32_t writing = 0;    // requests in the write in progress; 0: no write in progress
  bool open = false;
};

template <typename Loop>
class ProduceFloor {
 public:
  ProduceFloor(const FloorOptions& o, Loop& loop, const ws::net::Endpoint& broker)
      : o_(o), loop_(loop), broker_(broker) {
    const bool paced = o.scenario == Scenario::kPaced;
    acks_ = o.scenario == Scenario::kAcks0 ? 0 : (paced ? o.acks : 1);
    records_per_request_ = paced ? 1 : o.records;
    request_ = encode_produce_request(o, records_per_request_, acks_);
    const uint32_t request_cap = acks_ == 0 ? std::max(o.in_flight, kAcks0RequestsPerWrite) : o.in_flight;
    // wirestress adds requests to a write while it holds less than the budget: the last one may
    // cross it, so a write carries ceil(budget / size) requests at most.
    const size_t by_budget = (o.write_budget + request_.size() - 1) / request_.size();
    copies_per_write_ = static_cast<uint32_t>(std::clamp<size_t>(by_budget, 1, request_cap));
    wire_.reserve(request_.size() * copies_per_write_);
    for (uint32_t i = 0; i < copies_per_write_; ++i) wire_.insert(wire_.end(), request_.begin(), request_.end());
    connections_.resize(o.connections);
  }

  size_t request_bytes() const { return request_.size(); }

  Totals run() {
    std::vector<Event> events(1024);
    for (ConnId c = 0; c < connections_.size(); ++c) loop_.connect(c, broker_);
    // Connect everything first, as wirestress's measured time starts once every client is ready.
    size_t connected = 0;
    const int64_t connect_deadline = steady_now_ns() + 30'000 * kNsPerMs;
    while (connected + totals_.failed < connections_.size() && steady_now_ns() < connect_deadline) {
      const size_t n = loop_.poll(events, 50);
      for (size_t i = 0; i < n; ++i) {
        if (events[i].type != Event::kConnected) continue;
        if (events[i].error != 0) {
          ++totals_.failed;
          continue;
        }
        connections_[events[i].conn].open = true;
        ++connected;
      }
    }
    totals_.connections = connected;

    start_ns_ = steady_now_ns();
    const int64_t end_ns = start_ns_ + static_cast<int64_t>(o_.seconds * 1e9);
    interval_ns_ = o_.scenario == Scenario::kPaced ? 1e9 / o_.rate : 0;
    if (interval_ns_ == 0) {
      for (ConnId c = 0; c < connections_.size(); ++c) write_if_possible(c);
    }
    int64_t now = start_ns_;
    while (now < end_ns) {
      if (interval_ns_ > 0) release_due(now);
      const int64_t wake = interval_ns_ > 0 ? std::min(end_ns, next_due_ns()) : end_ns;
      // Rounded up to whole milliseconds and capped at 50 ms, as wirestress's worker waits.
      const int timeout_ms = static_cast<int>(std::clamp<int64_t>((wake - now + kNsPerMs - 1) / kNsPerMs, 0, 50));
      handle(events, loop_.poll(events, timeout_ms));
      now = steady_now_ns();
    }
    totals_.elapsed_s = static_cast<double>(now - start_ns_) / 1e9;
    stopping_ = true;
    // Responses to what was written before the end still count, as in wirestress's drain.
    const int64_t drain_end = now + kDrainNs;
    while (acks_ != 0 && outstanding() && steady_now_ns() < drain_end) handle(events, loop_.poll(events, 10));
    return totals_;
  }

 private:
  int64_t next_due_ns() const { return start_ns_ + static_cast<int64_t>(static_cast<double>(released_) * interval_ns_); }

  // Request k falls due at start + k * interval on connection k mod N: each connection sends every
  // N * interval, the connections evenly staggered.
  void release_due(int64_t now) {
    while (next_due_ns() <= now) {
      const ConnId c = static_cast<ConnId>(released_ % connections_.size());
      ++connections_[c].due;
      ++released_;
      write_if_possible(c);
    }
  }

  bool outstanding() const {
    return std::any_of(connections_.begin(), connections_.end(),
                       [](const ProduceConnection& c) { return c.open && (c.in_flight > 0 || c.writing > 0); });
  }

  void write_if_possible(ConnId c) {
    ProduceConnection& conn = connections_[c];
    if (!conn.open || conn.writing > 0 || stopping_) return;
    uint32_t copies = copies_per_write_;
    if (acks_ != 0) copies = std::min(copies, o_.in_flight - std::min(o_.in_flight, conn.in_flight));
    if (interval_ns_ > 0) copies = std::min(copies, conn.due);
    if (copies == 0) return;
    conn.writing = copies;
    if (interval_ns_ > 0) conn.due -= copies;
    if (acks_ != 0) conn.in_flight += copies;
    loop_.send(c, wire_.data(), request_.size() * copies);
  }

  void handle(std::span<Event> events, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const Event& e = events[i];
      ProduceConnection& conn = connections_[e.conn];
      if (!conn.open) continue;
      switch (e.type) {
        case Event::kSent:
          totals_.requests += conn.writing;
          totals_.bytes += request_.size() * conn.writing;
          if (acks_ == 0) totals_.messages += uint64_t{conn.writing} * records_per_request_;
          conn.writing = 0;
          write_if_possible(e.conn);
          break;
        case Event::kData: {
          const uint32_t answered = std::min(conn.responses.feed(e.data), conn.in_flight);
          conn.in_flight -= answered;
          totals_.responses += answered;
          totals_.messages += uint64_t{answered} * records_per_request_;
          write_if_possible(e.conn);
          break;
        }
        case Event::kClosed:
          // The sink never closes a healthy connection: a close here is a failure of the run.
          conn.open = false;
          ++totals_.failed;
          std::fprintf(stderr, "ws_floor: connection %u closed (%s)\n", e.conn, std::strerror(e.error));
          break;
        default: break;
      }
    }
  }

  const FloorOptions& o_;
  Loop& loop_;
  const ws::net::Endpoint& broker_;
  int16_t acks_ = 0;
  uint32_t records_per_request_ = 1;
  std::vector<uint8_t> request_;
  std::vector<uint8_t> wire_;  // copies_per_write_ requests back to back
  uint32_t copies_per_write_ = 1;
  std::vector<ProduceConnection> connections_;
  double interval_ns_ = 0;
  uint64_t released_ = 0;
  int64_t start_ns_ = 0;
  bool stopping_ = false;
  Totals totals_;
};

// Bare TCP connect + close, `concurrency` at a time, as fast as the loop and kernel allow: the
// floor under wirestress's handshake rate (TCP + ApiVersions + Metadata, `wirestress storm`).
template <typename Loop>
Totals run_connect_loop(const FloorOptions& o, Loop& loop, const ws::net::Endpoint& broker) {
  Totals totals;
  std::vector<Event> events(1024);
  std::vector<ConnId> reconnect;
  for (ConnId c = 0; c < o.concurrency; ++c) loop.connect(c, broker);
  const int64_t start = steady_now_ns();
  const int64_t end = start + static_cast<int64_t>(o.seconds * 1e9);
  int64_t now = start;
  while (now < end) {
    const size_t n = loop.poll(events, 50);
    for (size_t i = 0; i < n; ++i) {
      if (events[i].type != Event::kConnected) continue;
      if (events[i].error == 0) {
        ++totals.connections;
        loop.close(events[i].conn);
      } else {
        ++totals.failed;  // the loop closed the slot already
      }
      reconnect.push_back(events[i].conn);
    }
    // Slots are connected again only after the batch: events of this batch belong to the old one.
    for (const ConnId c : reconnect) loop.connect(c, broker);
    reconnect.clear();
    now = steady_now_ns();
  }
  totals.elapsed_s = static_cast<double>(now - start) / 1e9;
  return totals;
}

template <typename Loop>
int run_floor(const FloorOptions& o, const ws::net::Endpoint& broker, std::unique_ptr<Loop> loop,
              const char* scenario_name) {
  Totals totals;
  size_t request_bytes = 0;
  if (o.scenario == Scenario::kConnect) {
    totals = run_connect_loop(o, *loop, broker);
  } else {
    ProduceFloor<Loop> floor(o, *loop, broker);
    request_bytes = floor.request_bytes();
    totals = floor.run();
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  std::printf(
      "{\"scenario\":\"%s\",\"io\":\"%s\",\"messages\":%llu,\"requests\":%llu,\"responses\":%llu,\"bytes\":%llu,"
      "\"connections\":%llu,\"failed\":%llu,\"elapsed_s\":%.4f,\"cpu_user_s\":%.4f,\"cpu_sys_s\":%.4f,"
      "\"request_bytes\":%zu}\n",
      scenario_name, loop->name(), static_cast<unsigned long long>(totals.messages),
      static_cast<unsigned long long>(totals.requests), static_cast<unsigned long long>(totals.responses),
      static_cast<unsigned long long>(totals.bytes), static_cast<unsigned long long>(totals.connections),
      static_cast<unsigned long long>(totals.failed), totals.elapsed_s, seconds(usage.ru_utime),
      seconds(usage.ru_stime), request_bytes);
  return totals.failed > 0 && totals.connections == 0 ? 1 : 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: ws_floor --bootstrap=HOST:PORT --scenario=acks0|acks1|paced|connect [--seconds=5]\n"
               "                [--io=uring|asio] [--topic=bench] [--records=1000] [--record-size=100]\n"
               "                [--in-flight=5] [--write-budget=65536] [--connections=N] [--rate=10000]\n"
               "                [--acks=1] [--concurrency=64]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  FloorOptions o;
  std::string scenario;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const size_t eq = arg.find('=');
    if (arg.substr(0, 2) != "--" || eq == std::string_view::npos) return usage();
    const std::string_view name = arg.substr(2, eq - 2);
    const std::string value(arg.substr(eq + 1));
    if (name == "bootstrap") o.bootstrap = value;
    else if (name == "scenario") scenario = value;
    else if (name == "seconds") o.seconds = std::atof(value.c_str());
    else if (name == "io") o.io = value;
    else if (name == "topic") o.topic = value;
    else if (name == "records") o.records = static_cast<uint32_t>(std::atol(value.c_str()));
    else if (name == "record-size") o.record_size = static_cast<uint32_t>(std::atol(value.c_str()));
    else if (name == "in-flight") o.in_flight = static_cast<uint32_t>(std::atol(value.c_str()));
    else if (name == "write-budget") o.write_budget = static_cast<uint32_t>(std::atol(value.c_str()));
    else if (name == "connections") o.connections = static_cast<uint32_t>(std::atol(value.c_str()));
    else if (name == "rate") o.rate = std::atof(value.c_str());
    else if (name == "acks") o.acks = static_cast<int16_t>(std::atoi(value.c_str()));
    else if (name == "concurrency") o.concurrency = static_cast<uint32_t>(std::atol(value.c_str()));
    else return usage();
  }
  if (scenario == "acks0") o.scenario = Scenario::kAcks0;
  else if (scenario == "acks1") o.scenario = Scenario::kAcks1;
  else if (scenario == "paced") o.scenario = Scenario::kPaced;
  else if (scenario == "connect") o.scenario = Scenario::kConnect;
  else return usage();
  if (o.bootstrap.empty() || o.seconds <= 0 || o.records == 0 || o.in_flight == 0 || o.rate <= 0 || o.concurrency == 0 || o.write_budget == 0) {
    return usage();
  }
  signal(SIGPIPE, SIG_IGN);

  ws::net::Endpoint broker;
  std::string error;
  if (!ws::net::resolve(o.bootstrap, broker, error)) {
    std::fprintf(stderr, "ws_floor: %s\n", error.c_str());
    return 2;
  }
  if (o.connections == 0) o.connections = o.scenario == Scenario::kPaced ? 500 : 1;
  const uint32_t slots = o.scenario == Scenario::kConnect ? o.concurrency : o.connections;
  if (!ws::net::ensure_fd_limit(slots, error)) {
    std::fprintf(stderr, "ws_floor: %s\n", error.c_str());
    return 1;
  }
  ws::net::LoopOptions loop_options;
  loop_options.max_connections = slots + 1;  // as wirestress's runner sizes a worker's loop
  if (o.io == "uring") {
    if (auto loop = ws::net::UringLoop::create(loop_options, error)) {
      return run_floor(o, broker, std::move(loop), scenario.c_str());
    }
    std::fprintf(stderr, "ws_floor: io_uring unavailable (%s), using asio\n", error.c_str());
  } else if (o.io != "asio") {
    return usage();
  }
  auto loop = ws::net::AsioLoop::create(loop_options, error);
  if (!loop) {
    std::fprintf(stderr, "ws_floor: cannot create the event loop: %s\n", error.c_str());
    return 1;
  }
  return run_floor(o, broker, std::move(loop), scenario.c_str());
}
