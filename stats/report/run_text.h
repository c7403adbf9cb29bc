// What a run prints: the progress line of each report interval and the final summary. Takes the
// run's result and configuration, never the command line's options.
#pragma once

#include <string>

#include "driver/config.h"
#include "driver/reporting.h"

namespace ws::report {

// Process-wide figures for the report (getrusage, /proc).
struct ProcessFigures {
  double cpu_user_s = 0;
  double cpu_sys_s = 0;
  long peak_rss_kib = 0;
  long threads = 0;  // the most seen while the run lasted
  long voluntary_context_switches = 0;    // waits (a thread blocked and another ran)
  long involuntary_context_switches = 0;  // preemptions
};
ProcessFigures read_process_figures();
long current_thread_count();
long proc_status_value(const char* field);  // a numeric field of /proc/self/status, 0 if absent

// What the writers say about a run besides its numbers.
struct RunContext {
  std::string tool = "wirestress";
  std::string broker;        // the bootstrap list as given, or the embedded broker's address
  std::string command_line;  // as typed
  std::string version;
  driver::Verdict verdict;
};

// "[   12.0s] sent ... | conns 100/100"; while connecting, the connect ramp instead:
// "[    4.0s connecting] 4,210/10,000 clients ready (1,930/s) | conns 4,212 | failed 0".
std::string interval_line(const driver::IntervalReport& r, const driver::RunConfig& config);
std::string summary(const driver::RunResult& result, const driver::RunConfig& config, const RunContext& context,
                    const ProcessFigures& process);

// Consumers' figures added up.
struct ConsumeTotals {
  uint64_t lost = 0, duplicates = 0, out_of_order = 0, corrupt = 0, received = 0, failing = 0;
  uint64_t measured = 0;  // what the receive rates count (see ConsumerTally::received_measured)
};
ConsumeTotals consume_totals(const driver::RunResult& result);

// Helpers the JSON writer shares.
std::string with_commas(uint64_t v);
uint64_t delivered(const driver::RunCounters& c, const driver::RunConfig& config);  // acked, or written (acks=0)
double loss_pct(uint64_t lost, uint64_t received, uint64_t duplicates);
std::string versions_text(const driver::BrokerReport& b);  // "Produce v7, Fetch v11, ..." or "Kafka 0.9 ..."

}  // namespace ws::report
