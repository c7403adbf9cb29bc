// What sweep, ceiling and report compare across runs: the load figures of one run (read from its
// result JSON, so saved results and live runs are judged alike), the limits a ceiling search holds
// a run to, and the search itself (geometric ramp, then bisection). No I/O: tested on its own.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ws::capacity {

using Json = nlohmann::ordered_json;

// Lenient readers for result files (of this or older wirestress versions): a missing or mistyped
// key reads as `fallback`, a missing section as an empty object.
double json_number(const Json& j, const char* key, double fallback = 0);
const Json& json_section(const Json& j, const char* key);  // an object or array under `key`
std::string json_string(const Json& j, const char* key);

// One run's figures, producer-only or with consumers.
struct LoadFigures {
  uint32_t clients = 0;
  uint32_t consumers = 0;
  double offered_msgs_per_s = 0;   // the open-loop schedule's rate (config.rate); 0 = unpaced
  double sent_msgs_per_s = 0;
  double acked_msgs_per_s = 0;     // acknowledged records (acks=0: written ones)
  double received_msgs_per_s = 0;  // per consumer (each consumer reads every partition); 0 without consumers
  double received_min_msgs_per_s = 0;  // the slowest consumer's (the seed study's worst subscriber)
  // Consumers that failed, received nothing in the measured time, or lost records (with --verify).
  uint32_t failing_consumers = 0;
  double achieved_msgs_per_s = 0;  // received with consumers, acked without
  double error_rate = 0;           // records failed / records sent
  double loss = 0;                 // fraction: consumers' loss, or failed / sent without consumers
  bool loss_from_consumers = false;
  uint64_t failing_clients = 0;    // consumers that failed + clients without a connection while measuring
  double latency_ms[7] = {};       // by LatencyFigure, from the intended send time
  double service_p99_ms = 0;       // p99 from the actual send
  double e2e_p99_ms = -1;          // consumers' end-to-end p99; <0 when not measured
  double client_busy = 0;          // workers' event-loop busy share (run.client_busy_fraction)
  double behind_schedule = 0;      // share of the scheduled records the client did not send in time
  double window_use = -1;          // average in-flight requests / --max-in-flight (Little's law); <0: acks=0
  // Consumer groups (--group-mode; groups == 0 without): members, groups whose final generation
  // every member held, seconds from the run's start until the median and the last of them was
  // stable (<0: none was), and JoinGroup round trips.
  uint32_t groups = 0;
  uint32_t group_members = 0;
  uint32_t groups_stable = 0;
  uint32_t members_never_assigned = 0;
  double time_to_stable_p50_s = -1;
  double time_to_stable_max_s = -1;
  double join_p50_ms = 0;
  double join_p99_ms = 0;
};
// LoadFigures::latency_ms in the order tables show them; the names are the result JSON's keys.
enum LatencyFigure : int { kP50, kP90, kP95, kP99, kP999, kMax, kMean, kLatencyFigureCount };
constexpr const char* kLatencyNames[kLatencyFigureCount] = {"p50", "p90", "p95", "p99", "p999", "max", "mean"};

LoadFigures load_figures(const Json& result);
Json figures_json(const LoadFigures& f);

// What a step of a ceiling search must hold to. A step that breaks any of them is not sustainable.
struct CeilingLimits {
  double slo_p99_ms = 50;           // --slo-p99
  double max_error_rate = 0.001;    // --max-error-rate
  double max_loss = 0.001;          // --max-loss (fraction; only checked with consumers)
  uint64_t max_failing_clients = 0; // --max-failing-clients
  double min_achieved = 0.9;        // --min-achieved: achieved / offered below this is a plateau
  double client_busy_max = 0.9;     // --client-busy-max: the client itself is saturated
};

// Why a step failed: `reason` is one of latency, errors, loss, throughput_plateau, client.
struct Violation {
  std::string reason;
  std::string detail;  // e.g. "p99 73.1 ms > 50 ms"
};

// Every limit the figures break, most fundamental first: a saturated client makes every other
// figure its own doing; errors and loss come before a plateau, which comes before latency (an
// overloaded broker's queue makes latency grow without bound, but the cause is its capacity).
// The client is also blamed when it fell behind its schedule while its in-flight window was
// mostly empty: the broker was answering, so the client could not send fast enough.
std::vector<Violation> check_limits(const LoadFigures& f, const CeilingLimits& limits);

// Raise the load geometrically until a step fails, then bisect between the last good and the
// first bad load. Loads are rates (msg/s) or client counts (`whole_numbers`).
struct SearchSettings {
  double start = 1000;
  double max = 1e7;
  double factor = 2;
  double precision = 0.05;  // stop when (first bad - last good) <= precision x last good
  int max_steps = 30;
  bool whole_numbers = false;
};

class CeilingSearch {
 public:
  explicit CeilingSearch(const SearchSettings& settings) : s_(settings) {}

  // The load to run next; nothing when the search is over.
  std::optional<double> next() const;
  void record(double load, bool ok);

  bool bisecting() const { return have_bad_; }
  double best_ok() const { return good_; }  // 0 if no step passed
  std::optional<double> first_bad() const {
    return have_bad_ ? std::optional<double>(bad_) : std::nullopt;
  }
  bool reached_max() const { return !have_bad_ && good_ >= s_.max; }
  int steps() const { return steps_; }

 private:
  SearchSettings s_;
  double good_ = 0;
  double bad_ = 0;
  bool have_bad_ = false;
  int steps_ = 0;
};

// A round value strictly between lo and hi near their middle (24000 rather than 23871.5).
double round_between(double lo, double hi, bool whole_numbers);

// "10,50,300" -> {10, 50, 300}; false on anything else (empty items, signs, junk, zero or less).
bool parse_number_list(const std::string& text, std::vector<double>& out);

}  // namespace ws::capacity
