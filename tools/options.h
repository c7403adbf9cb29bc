// The wirestress command line: every flag, its default, its validation. Kept apart from main so
// tests can check that bad input gets a one-line error naming the flag and exit code 2.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "driver/config.h"

namespace ws::tools {

struct Options {
  driver::RunConfig run;
  std::string json_path;        // --json=FILE
  std::string csv_path;         // --csv=FILE
  std::string hlog_path;        // --hlog=FILE
  int prometheus_port = -1;     // --prometheus=PORT; -1 = off
  int embedded_partitions = 8;  // --partitions: topic size when wirestress starts its own broker
  bool quiet = false;           // --quiet: no per-interval lines
  std::chrono::nanoseconds latency_max = std::chrono::hours(1);  // --latency-max
  int latency_digits = 3;                                        // --latency-digits
};

struct ParseOutcome {
  std::optional<Options> options;  // set when the run should go ahead
  int exit_code = 0;               // otherwise: 0 after --help, 2 after bad input
  std::string output;              // help text or the one-line error
};

ParseOutcome parse_options(int argc, const char* const* argv);

// "500ms", "10s", "2m", "1h", "0" (plain numbers are seconds). False on anything else.
bool parse_duration(const std::string& text, std::chrono::nanoseconds& out);

}  // namespace ws::tools
