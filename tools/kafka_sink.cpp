// ws_kafka_sink: a minimal Kafka broker stand-in on 127.0.0.1 that accepts Produce requests and
// throws the records away, so wirestress can be measured without a broker's cost in the numbers.
// One epoll loop per thread (shard-per-core: no mutable state shared between threads; counters are
// published with relaxed stores and summed by the main thread at each tick).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "protocol/api_versions.h"
#include "protocol/errors.h"
#include "protocol/framing.h"
#include "protocol/header.h"
#include "protocol/metadata.h"
#include "protocol/produce.h"
#include "protocol/records.h"

namespace {

using namespace ws::protocol;

struct SinkOptions {
  int port = 0;
  int32_t partitions = 8;
  int threads = 1;
  bool validate = false;
  double stats_interval_s = 1.0;
  double duration_s = 0.0;
  // --max-rate: records/s the sink accepts at most (0 = no limit), a broker of known capacity for
  // testing capacity searches. Beyond it, produce requests wait unread in the socket, as they do
  // in front of a saturated broker.
  double max_rate = 0;
};

// Versions the sink answers. Metadata stops at 4: enough for every client wirestress emulates and
// no fields the sink would have to invent.
constexpr int16_t kApiVersionsMax = 3;
constexpr int16_t kMetadataMax = 4;
constexpr int16_t kProduceMax = 8;
constexpr const char* kHost = "127.0.0.1";
// Stop reading from a connection whose client does not read its responses.
constexpr size_t kMaxPendingOutput = 64u << 20;
constexpr size_t kReadChunk = 256u << 10;

// Counters one worker owns; the main thread reads them (relaxed) for interval lines and totals.
struct ShardCounters {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> records{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> closed{0};
  std::atomic<uint64_t> crc_errors{0};
  std::atomic<uint64_t> decode_errors{0};
};

struct Totals {
  uint64_t requests = 0, records = 0, bytes = 0, accepted = 0, closed = 0, crc_errors = 0,
           decode_errors = 0;
};

std::atomic<bool> g_stop{false};

struct Connection {
  int fd = -1;
  bool throttled = false;  // holds unanswered produce requests until the rate budget refills
  std::vector<uint8_t> in;
  size_t in_len = 0;
  std::vector<uint8_t> out;
  size_t out_off = 0;
};

class SinkShard {
 public:
  SinkShard(const SinkOptions& options, int listen_fd, ShardCounters& counters)
      : options_(options), listen_fd_(listen_fd), counters_(counters),
        offsets_(static_cast<size_t>(options.partitions), 0) {
    metadata_.brokers.resize(1);
    metadata_.brokers[0].node_id = 0;
    metadata_.brokers[0].host = kHost;
    metadata_.controller_id = 0;
    metadata_.cluster_id = "ws-kafka-sink";
    partition_template_.resize(static_cast<size_t>(options.partitions));
    for (int32_t p = 0; p < options.partitions; ++p) {
      auto& part = partition_template_[static_cast<size_t>(p)];
      part.partition_index = p;
      part.leader_id = 0;
      part.replica_nodes = {0};
      part.isr_nodes = {0};
    }
    const std::pair<int16_t, int16_t> ranges[] = {
        {ProduceRequest::kApiKey, kProduceMax},
        {MetadataRequest::kApiKey, kMetadataMax},
        {ApiVersionsRequest::kApiKey, kApiVersionsMax}};
    for (auto [key, max] : ranges) {
      ApiVersionsResponse::ApiVersion v;
      v.api_key = key;
      v.min_version = 0;
      v.max_version = max;
      api_versions_.api_keys.push_back(v);
    }
  }

  void set_port(int port) { metadata_.brokers[0].port = port; }

  bool run() {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) return false;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.ptr = nullptr;  // nullptr = the listening socket
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, listen_fd_, &ev) != 0) return false;
    std::vector<epoll_event> events(256);
    while (!g_stop.load(std::memory_order_relaxed)) {
      // Throttled connections are resumed by the clock, not by socket events: wake every ms.
      const int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), throttled_.empty() ? 50 : 1);
      for (int i = 0; i < n; ++i) {
        auto* conn = static_cast<Connection*>(events[static_cast<size_t>(i)].data.ptr);
        if (conn == nullptr) {
          accept_all();
        } else {
          service(conn);
        }
      }
      resume_throttled();
      publish();
    }
    for (auto& c : connections_) {
      if (c) ::close(c->fd);
    }
    ::close(epfd_);
    publish();
    return true;
  }

 private:
  void publish() {
    counters_.requests.store(local_.requests, std::memory_order_relaxed);
    counters_.records.store(local_.records, std::memory_order_relaxed);
    counters_.bytes.store(local_.bytes, std::memory_order_relaxed);
    counters_.accepted.store(local_.accepted, std::memory_order_relaxed);
    counters_.closed.store(local_.closed, std::memory_order_relaxed);
    counters_.crc_errors.store(local_.crc_errors, std::memory_order_relaxed);
    counters_.decode_errors.store(local_.decode_errors, std::memory_order_relaxed);
  }

  void accept_all() {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN (another shard took it) or a transient error
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto conn = std::make_unique<Connection>();
      conn->fd = fd;
      conn->in.resize(kReadChunk);
      epoll_event ev{};
      // Edge-triggered both ways: a backed-up connection resumes reading on EPOLLOUT.
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.ptr = conn.get();
      if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ::close(fd);
        continue;
      }
      ++local_.accepted;
      connections_.push_back(std::move(conn));
    }
  }

  // Token bucket of --max-rate / threads records per second, 10 ms deep. A request is answered
  // while the budget is positive and then charged its records (the budget may go below zero).
  bool rate_budget_left() {
    if (options_.max_rate <= 0) return true;
    const double rate = options_.max_rate / options_.threads;
    const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch()).count();
    if (budget_at_ns_ == 0) budget_at_ns_ = now;
    budget_ = std::min(rate * 0.010, budget_ + rate * static_cast<double>(now - budget_at_ns_) / 1e9);
    budget_at_ns_ = now;
    return budget_ > 0;
  }

  void resume_throttled() {
    if (throttled_.empty() || !rate_budget_left()) return;
    std::vector<Connection*> resume;
    resume.swap(throttled_);
    for (Connection* conn : resume) {
      conn->throttled = false;
      service(conn);
    }
  }

  void close_connection(Connection* conn) {
    ::close(conn->fd);  // also removes it from the epoll set
    ++local_.closed;
    if (conn->throttled) throttled_.erase(std::find(throttled_.begin(), throttled_.end(), conn));
    auto it = std::find_if(connections_.begin(), connections_.end(),
                           [conn](const auto& c) { return c.get() == conn; });
    if (it != connections_.end()) {
      std::swap(*it, connections_.back());
      connections_.pop_back();
    }
  }

  // Reads everything available, answers every complete request in order, writes what it can.
  void service(Connection* conn) {
    if (!flush(conn)) return close_connection(conn);
    if (conn->throttled) return;  // resume_throttled() picks it up; meanwhile the socket fills
    if (conn->in_len > 0 && !handle_frames(conn)) return close_connection(conn);  // held frames first
    for (;;) {
      if (conn->throttled) break;
      if (conn->out.size() - conn->out_off > kMaxPendingOutput) return;  // resumes on EPOLLOUT
      if (conn->in.size() - conn->in_len < kReadChunk / 4) conn->in.resize(conn->in.size() * 2);
      const ssize_t n = ::read(conn->fd, conn->in.data() + conn->in_len,
                               conn->in.size() - conn->in_len);
      if (n == 0) return close_connection(conn);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return close_connection(conn);
      }
      conn->in_len += static_cast<size_t>(n);
      if (!handle_frames(conn)) return close_connection(conn);
    }
    if (!flush(conn)) close_connection(conn);
  }

  // Answers every complete frame at the front of the buffer; keeps a partial one for later.
  bool handle_frames(Connection* conn) {
    size_t pos = 0;
    for (;;) {
      const FrameCheck check =
          check_frame(std::span<const uint8_t>(conn->in.data() + pos, conn->in_len - pos));
      if (check.status == FrameStatus::kTooLarge) return false;
      if (check.status == FrameStatus::kNeedMore) {
        if (check.frame_size > conn->in.size()) conn->in.resize(check.frame_size + kReadChunk);
        break;
      }
      const bool produce = check.frame_size >= 6 && conn->in[pos + 4] == 0 && conn->in[pos + 5] == ProduceRequest::kApiKey;
      if (produce && !rate_budget_left()) {
        conn->throttled = true;
        throttled_.push_back(conn);
        break;
      }
      local_.bytes += check.frame_size;
      ++local_.requests;
      if (!handle_request(conn, Bytes(conn->in.data() + pos + 4, check.frame_size - 4))) {
        return false;
      }
      pos += check.frame_size;
    }
    if (pos > 0) {
      std::memmove(conn->in.data(), conn->in.data() + pos, conn->in_len - pos);
      conn->in_len -= pos;
    }
    // Batch writes: one write per read, not one per response.
    return flush(conn);
  }

  bool flush(Connection* conn) {
    while (conn->out_off < conn->out.size()) {
      const ssize_t n = ::write(conn->fd, conn->out.data() + conn->out_off,
                                conn->out.size() - conn->out_off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK;
      }
      conn->out_off += static_cast<size_t>(n);
    }
    conn->out.clear();
    conn->out_off = 0;
    return true;
  }

  bool handle_request(Connection* conn, Bytes frame) {
    Reader peek(frame);
    const int16_t api_key = peek.i16();
    const int16_t version = peek.i16();
    if (!peek.ok() || version < 0) return false;
    const bool known = api_key == ApiVersionsRequest::kApiKey ||
                       api_key == MetadataRequest::kApiKey || api_key == ProduceRequest::kApiKey;
    if (!known) return false;
    Reader r(frame);
    header_.decode(r, request_header_version(api_key, version));
    if (!r.ok()) return false;
    switch (api_key) {
      case ApiVersionsRequest::kApiKey: return answer_api_versions(conn, version);
      case MetadataRequest::kApiKey: return answer_metadata(conn, r, version);
      default: return answer_produce(conn, r, version);
    }
  }

  // Starts a response frame; finish_response() patches its size.
  size_t begin_response(Connection* conn, int16_t api_key, int16_t version) {
    Writer w(conn->out);
    const size_t start = w.reserve(4);
    ResponseHeader h;
    h.correlation_id = header_.correlation_id;
    h.encode(w, response_header_version(api_key, version));
    return start;
  }
  static void finish_response(Connection* conn, size_t start) {
    Writer w(conn->out);
    w.patch_i32(start, static_cast<int32_t>(conn->out.size() - start - 4));
  }

  bool answer_api_versions(Connection* conn, int16_t version) {
    // The request body (client software name in v3) is not needed to answer.
    const bool supported = version <= kApiVersionsMax;
    const int16_t layout = supported ? version : int16_t{0};
    api_versions_.error_code = supported ? error::kNone : error::kUnsupportedVersion;
    const size_t start = begin_response(conn, ApiVersionsRequest::kApiKey, layout);
    Writer w(conn->out);
    api_versions_.encode(w, layout);
    finish_response(conn, start);
    return true;
  }

  bool answer_metadata(Connection* conn, Reader& r, int16_t version) {
    if (version > MetadataRequest::kMaxVersion) return false;
    metadata_request_.decode(r, version);
    if (!r.ok()) {
      ++local_.decode_errors;
      return false;
    }
    // Every named topic exists with P partitions led by this sink; "all topics" lists none.
    const auto& topics = metadata_request_.topics;
    const size_t n = topics ? topics->size() : 0;
    metadata_.topics.resize(n);
    for (size_t i = 0; i < n; ++i) {
      auto& t = metadata_.topics[i];
      t.error_code = error::kNone;
      t.name = (*topics)[i].name;
      if (t.partitions.size() != partition_template_.size()) t.partitions = partition_template_;
    }
    const size_t start = begin_response(conn, MetadataRequest::kApiKey, version);
    Writer w(conn->out);
    metadata_.encode(w, version);
    finish_response(conn, start);
    return true;
  }

  bool answer_produce(Connection* conn, Reader& r, int16_t version) {
    if (version > ProduceRequest::kMaxVersion) return false;
    produce_request_.decode(r, version);
    if (!r.ok()) {
      ++local_.decode_errors;
      return false;
    }
    const bool respond = produce_request_.acks != 0;
    if (respond) produce_response_.responses.resize(produce_request_.topic_data.size());
    for (size_t t = 0; t < produce_request_.topic_data.size(); ++t) {
      const auto& topic = produce_request_.topic_data[t];
      if (respond) {
        produce_response_.responses[t].name = topic.name;
        produce_response_.responses[t].partition_responses.resize(topic.partition_data.size());
      }
      for (size_t p = 0; p < topic.partition_data.size(); ++p) {
        const auto& part = topic.partition_data[p];
        const int64_t count = part.records ? count_records(*part.records) : 0;
        local_.records += static_cast<uint64_t>(count);
        budget_ -= static_cast<double>(count);
        if (!respond) continue;
        auto& resp = produce_response_.responses[t].partition_responses[p];
        resp.index = part.index;
        if (part.index >= 0 && part.index < options_.partitions) {
          // Offsets run per partition within this shard (one shard: exactly Kafka's numbering).
          int64_t& next = offsets_[static_cast<size_t>(part.index)];
          resp.error_code = error::kNone;
          resp.base_offset = next;
          next += count;
        } else {
          resp.error_code = error::kUnknownTopicOrPartition;
          resp.base_offset = -1;
        }
      }
    }
    if (!respond) return true;
    const size_t start = begin_response(conn, ProduceRequest::kApiKey, version);
    Writer w(conn->out);
    produce_response_.encode(w, version);
    finish_response(conn, start);
    return true;
  }

  int64_t count_records(Bytes set) {
    if (options_.validate) return count_validated(set);
    // Cheap path: read counts from headers. Offset 16 holds the magic in every format; a magic 2
    // batch carries its record count at 57. Compressed magic 0/1 wrappers need decompressing.
    int64_t count = 0;
    Reader outer(set);
    while (outer.remaining() >= 12) {
      outer.i64();  // offset
      const int32_t size = outer.i32();
      if (size < 0 || static_cast<size_t>(size) > outer.remaining()) {
        ++local_.decode_errors;
        return count;
      }
      Bytes entry = outer.raw(static_cast<size_t>(size));
      if (entry.size() < 6) {
        ++local_.decode_errors;
        return count;
      }
      const int8_t magic = static_cast<int8_t>(entry[4]);
      if (magic == 2) {
        if (entry.size() < 49) {
          ++local_.decode_errors;
          return count;
        }
        Reader c(entry.subspan(45, 4));
        count += c.i32();
      } else {
        const uint8_t attributes = entry[5];
        if ((attributes & 0x07) != 0) {
          // Count this wrapper's inner messages by decoding it (whole entry incl. its 12-byte head).
          const size_t entry_start = static_cast<size_t>(entry.data() - set.data()) - 12;
          count += count_validated(set.subspan(entry_start, entry.size() + 12));
        } else {
          ++count;
        }
      }
    }
    return count;
  }

  int64_t count_validated(Bytes set) {
    RecordSetReader reader(set);
    RecordView view;
    int64_t count = 0;
    while (reader.next(view)) ++count;
    local_.crc_errors += reader.corrupt_batches();
    if (reader.error() != DecodeError::kNone || reader.truncated()) ++local_.decode_errors;
    return count;
  }

  const SinkOptions& options_;
  int listen_fd_;
  ShardCounters& counters_;
  int epfd_ = -1;
  Totals local_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<int64_t> offsets_;
  std::vector<Connection*> throttled_;  // connections waiting for the --max-rate budget
  double budget_ = 0;                   // records that may still be accepted now
  int64_t budget_at_ns_ = 0;

  // Decoded requests and prepared responses, reused: their vectors keep their capacity.
  RequestHeader header_;
  ApiVersionsResponse api_versions_;
  MetadataRequest metadata_request_;
  MetadataResponse metadata_;
  std::vector<MetadataResponse::MetadataResponsePartition> partition_template_;
  ProduceRequest produce_request_;
  ProduceResponse produce_response_;
};

// "500ms", "2s", "1m", "0" -> seconds; negative on a bad value.
double parse_duration(std::string_view s) {
  if (s.empty()) return -1;
  double scale = 1.0;
  std::string num(s);
  auto ends = [&](std::string_view suffix) {
    return num.size() > suffix.size() && num.compare(num.size() - suffix.size(), suffix.size(),
                                                     suffix) == 0;
  };
  if (ends("ms")) {
    scale = 0.001;
    num.resize(num.size() - 2);
  } else if (ends("s")) {
    num.resize(num.size() - 1);
  } else if (ends("m")) {
    scale = 60;
    num.resize(num.size() - 1);
  } else if (ends("h")) {
    scale = 3600;
    num.resize(num.size() - 1);
  }
  char* end = nullptr;
  const double v = std::strtod(num.c_str(), &end);
  if (end == num.c_str() || *end != '\0' || v < 0) return -1;
  return v * scale;
}

bool parse_int(std::string_view s, long lo, long hi, long& out) {
  std::string str(s);
  char* end = nullptr;
  const long v = std::strtol(str.c_str(), &end, 10);
  if (str.empty() || *end != '\0' || v < lo || v > hi) return false;
  out = v;
  return true;
}

constexpr const char* kUsage =
    "Usage: ws_kafka_sink [--port=N] [--partitions=P] [--threads=T] [--validate]\n"
    "                     [--stats-interval=1s] [--duration=0] [--max-rate=0]\n"
    "A Kafka broker stand-in on 127.0.0.1 that answers ApiVersions, Metadata and Produce and\n"
    "discards the records. --port=0 picks a free port; --duration=0 runs until SIGINT/SIGTERM.\n"
    "--max-rate=N accepts at most N records/s (0: no limit); requests beyond it wait unread, like\n"
    "in front of a saturated broker: a broker of known capacity for testing capacity searches.\n";

bool parse_options(int argc, char** argv, SinkOptions& o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (arg != "--validate" && arg != "--help" && arg != "-h" && i + 1 < argc) {
      value = argv[++i];
    }
    long v = 0;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--validate") {
      o.validate = true;
    } else if (arg == "--port" && parse_int(value, 0, 65535, v)) {
      o.port = static_cast<int>(v);
    } else if (arg == "--partitions" && parse_int(value, 1, 100000, v)) {
      o.partitions = static_cast<int32_t>(v);
    } else if (arg == "--threads" && parse_int(value, 1, 1024, v)) {
      o.threads = static_cast<int>(v);
    } else if (arg == "--stats-interval" && (o.stats_interval_s = parse_duration(value)) > 0) {
    } else if (arg == "--duration" && (o.duration_s = parse_duration(value)) >= 0) {
    } else if (arg == "--max-rate" && parse_int(value, 0, 1'000'000'000, v)) {
      o.max_rate = static_cast<double>(v);
    } else {
      std::fprintf(stderr, "ws_kafka_sink: bad option %s\n%s", argv[i], kUsage);
      return false;
    }
  }
  return true;
}

Totals sum(const std::vector<std::unique_ptr<ShardCounters>>& shards) {
  Totals t;
  for (const auto& s : shards) {
    t.requests += s->requests.load(std::memory_order_relaxed);
    t.records += s->records.load(std::memory_order_relaxed);
    t.bytes += s->bytes.load(std::memory_order_relaxed);
    t.accepted += s->accepted.load(std::memory_order_relaxed);
    t.closed += s->closed.load(std::memory_order_relaxed);
    t.crc_errors += s->crc_errors.load(std::memory_order_relaxed);
    t.decode_errors += s->decode_errors.load(std::memory_order_relaxed);
  }
  return t;
}

double seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  SinkOptions options;
  if (!parse_options(argc, argv, options)) return 2;

  // SIGINT/SIGTERM are taken synchronously by the main thread (sigtimedwait), never by workers.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const int listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(options.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listen_fd < 0 || ::bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd, 4096) != 0) {
    std::fprintf(stderr, "ws_kafka_sink: cannot listen on 127.0.0.1:%d: %s\n", options.port,
                 std::strerror(errno));
    return 1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  std::printf("listening on %s:%d\n", kHost, port);
  std::fflush(stdout);

  std::vector<std::unique_ptr<ShardCounters>> counters;
  std::vector<std::unique_ptr<SinkShard>> shards;
  std::vector<std::thread> threads;
  for (int i = 0; i < options.threads; ++i) {
    counters.push_back(std::make_unique<ShardCounters>());
    shards.push_back(std::make_unique<SinkShard>(options, listen_fd, *counters.back()));
    shards.back()->set_port(port);
  }
  for (auto& shard : shards) {
    threads.emplace_back([s = shard.get()] {
      if (!s->run()) {
        std::fprintf(stderr, "ws_kafka_sink: epoll setup failed: %s\n", std::strerror(errno));
        g_stop = true;
      }
    });
  }

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto interval = std::chrono::duration<double>(options.stats_interval_s);
  auto next_tick = start + std::chrono::duration_cast<Clock::duration>(interval);
  Totals last;
  auto last_time = start;
  while (!g_stop.load()) {
    auto wake = next_tick;
    if (options.duration_s > 0) {
      wake = std::min(wake, start + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(options.duration_s)));
    }
    const auto wait = std::max(Clock::duration::zero(), wake - Clock::now());
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
    timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    if (sigtimedwait(&stop_signals, nullptr, &ts) > 0) break;
    const auto now = Clock::now();
    if (options.duration_s > 0 &&
        now - start >= std::chrono::duration<double>(options.duration_s)) {
      break;
    }
    if (now >= next_tick) {
      const Totals t = sum(counters);
      const double dt = std::chrono::duration<double>(now - last_time).count();
      std::fprintf(stderr,
                   "sink: %.0f req/s %.0f records/s %.1f MB/s connections=%llu crc_errors=%llu\n",
                   static_cast<double>(t.requests - last.requests) / dt,
                   static_cast<double>(t.records - last.records) / dt,
                   static_cast<double>(t.bytes - last.bytes) / dt / 1e6,
                   static_cast<unsigned long long>(t.accepted - t.closed),
                   static_cast<unsigned long long>(t.crc_errors));
      last = t;
      last_time = now;
      next_tick += std::chrono::duration_cast<Clock::duration>(interval);
      if (next_tick < now) next_tick = now + std::chrono::duration_cast<Clock::duration>(interval);
    }
  }
  g_stop = true;
  for (auto& t : threads) t.join();
  ::close(listen_fd);

  const Totals t = sum(counters);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf(
      "{\"requests\":%llu,\"records\":%llu,\"bytes\":%llu,\"connections_accepted\":%llu,"
      "\"crc_errors\":%llu,\"decode_errors\":%llu,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f}\n",
      static_cast<unsigned long long>(t.requests), static_cast<unsigned long long>(t.records),
      static_cast<unsigned long long>(t.bytes), static_cast<unsigned long long>(t.accepted),
      static_cast<unsigned long long>(t.crc_errors),
      static_cast<unsigned long long>(t.decode_errors), seconds(usage.ru_utime),
      seconds(usage.ru_stime));
  std::fflush(stdout);
  return 0;
}
