// Writes a sample .hlog (three tags, known distributions, one empty interval) for
// tests/hlog_java_check.sh, and prints what HlogCheck.java must find when HdrHistogram's Java
// reader reads it back, computed from the histograms as recorded here:
//   <tag> count=N p50=V p90=V p99=V p999=V max=V    one line per tag (sorted), all its intervals
//   interval <tag> start_ms=T bytes=N crc32=C        one line per interval, in log order
// (bytes and CRC-32 of encode_v2: HlogCheck prints those of Java's re-encoding of what it read).
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "stats/histogram.h"
#include "stats/hlog.h"

namespace {

using ws::stats::HdrHistogram;

constexpr double kStartTimeS = 1700000000.0;

// Uniform in [0, 1) from the raw generator (std::*_distribution differ between libraries).
double uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Log-uniform in [low, high].
int64_t log_uniform(std::mt19937_64& rng, double low, double high) {
  return std::llround(std::exp(std::log(low) + uniform(rng) * (std::log(high) - std::log(low))));
}

std::string size_and_crc32(const std::vector<uint8_t>& bytes) {
  const uLong crc = crc32(0, bytes.data(), static_cast<uInt>(bytes.size()));
  char buf[64];
  std::snprintf(buf, sizeof(buf), "bytes=%zu crc32=%08lx", bytes.size(), crc);
  return buf;
}

struct Interval {
  std::string tag;
  double offset_s;
  HdrHistogram histogram;
};

std::vector<Interval> sample_intervals() {
  std::mt19937_64 rng(20240601);
  std::vector<Interval> out;

  // Microsecond latencies, 3 significant figures up to an hour: broad, empty, then bimodal with
  // stalls of seconds.
  const HdrHistogram latency(1, int64_t{3600} * 1000 * 1000, 3);
  HdrHistogram h = latency;
  for (int i = 0; i < 5000; ++i) h.record(log_uniform(rng, 20, 2e6));
  out.push_back({"latency_us", 0.0, h});
  out.push_back({"latency_us", 1.0, latency});
  h = latency;
  for (int i = 0; i < 6930; ++i) h.record(300 + static_cast<int64_t>(rng() % 100));
  for (int i = 0; i < 70; ++i) h.record(log_uniform(rng, 1.5e6, 3.5e6));
  out.push_back({"latency_us", 2.0, h});

  // Nanoseconds with a coarse unit (lowest discernible 1000, so unit magnitude 9) and 2 figures,
  // including zeros, values below the unit and values at the top of the range.
  const HdrHistogram service(1000, int64_t{1000} * 1000 * 1000 * 1000, 2);
  for (int tick = 0; tick < 3; ++tick) {
    h = service;
    const int n = 1000 * (tick == 0 ? 2 : tick == 1 ? 3 : 5);
    for (int i = 0; i < n; ++i) {
      if (i % 500 == 0) {
        h.record(i % 1000 == 0 ? 0 : 999);
      } else if (i % 997 == 0) {
        h.record(service.highest_trackable_value() - static_cast<int64_t>(rng() % 1000));
      } else {
        h.record(log_uniform(rng, 1e3, 1e10));
      }
    }
    out.push_back({"service_ns", tick + 0.25, h});
  }

  // A count just above 2^62 (and a multiple of 1000) zig-zags above 2^63: a 9-byte varint whose
  // last byte uses all 8 bits. Every percentile up to 99.9 lands in its slot whatever the rank
  // rule, and max in the other.
  h = HdrHistogram(1, int64_t{1} << 62, 3);
  h.record_n(123456, 4611686018427388000);
  h.record_n(int64_t{1} << 61, 1000);
  out.push_back({"huge_counts", 3.0, h});
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: ws_write_sample_hlog <out.hlog>\n";
    return 2;
  }
  const std::vector<Interval> intervals = sample_intervals();

  std::ofstream file(argv[1]);
  ws::stats::HlogWriter writer(file);
  writer.write_header(kStartTimeS, "wirestress sample for hlog_java_check.sh");
  for (const Interval& i : intervals) {
    writer.write_interval(i.tag, i.offset_s, 1.0, i.histogram, 1000.0);
  }
  file.close();
  if (!file) {
    std::cerr << "ws_write_sample_hlog: cannot write " << argv[1] << "\n";
    return 1;
  }

  std::map<std::string, HdrHistogram> sums;
  for (const Interval& i : intervals) {
    auto [it, inserted] = sums.try_emplace(i.tag, i.histogram);
    if (!inserted) it->second.add(i.histogram);
  }
  for (const auto& [tag, h] : sums) {
    // Java ranks a percentile as ceil(p/100 * total) (after nudging p down one ulp), the C
    // histogram as round(p/100 * total): the same rank only when p/100 * total is a whole
    // number, which every percentile here is when the total is a multiple of 1000.
    if (h.total_count() % 1000 != 0) {
      std::cerr << "ws_write_sample_hlog: " << tag << " total " << h.total_count()
                << " is not a multiple of 1000, so Java's percentile ranks would differ\n";
      return 1;
    }
    std::cout << tag << " count=" << h.total_count() << " p50=" << h.value_at_percentile(50.0)
              << " p90=" << h.value_at_percentile(90.0) << " p99=" << h.value_at_percentile(99.0)
              << " p999=" << h.value_at_percentile(99.9) << " max=" << h.max() << "\n";
  }
  for (const Interval& i : intervals) {
    // The absolute start Java derives: BaseTime + the line's offset, in whole milliseconds.
    const auto start_ms = static_cast<int64_t>((kStartTimeS + i.offset_s) * 1000.0);
    std::cout << "interval " << i.tag << " start_ms=" << start_ms << " "
              << size_and_crc32(ws::stats::encode_v2(i.histogram)) << "\n";
  }
  return 0;
}
