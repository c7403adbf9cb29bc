// The line a sweep or a ceiling prints about once a second while a cell (or step) runs: which one,
// how far into it, what it achieves, and when the whole will end. On stderr, so the table on
// stdout stays as it is; on a terminal the line is rewritten in place and cleared before the
// cell's row is printed.
#pragma once

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "driver/config.h"
#include "driver/reporting.h"

namespace ws::capacity {

class CapacityProgress {
 public:
  // `cells`: how many there are (a sweep), or none when the search decides as it goes (a
  // ceiling: no ETA then). `cell_s` = warm-up + step duration; `pause_s` between cells.
  CapacityProgress(std::string what, std::optional<size_t> cells, double cell_s, double pause_s,
                   std::FILE* out = stderr);

  void begin_cell(size_t index, std::string label);
  void on_interval(const driver::IntervalReport& r, const driver::RunConfig& cell);
  void end_cell();  // clears the line on a terminal; remembers how long the cell really took

  // A cell took `seconds` from begin to end: connecting (hundreds of consumers, thousands of
  // group members) and draining come on top of warm-up + step, so later ETAs add the mean excess.
  void record_cell_time(double seconds);

  // The text of one progress line (tested alone). `received_per_consumer` < 0: no consumers;
  // `phase`: shown when not empty (e.g. "connecting").
  std::string line(double cell_elapsed_s, double achieved_per_s, double p99_ms, double received_per_consumer = -1,
                   const std::string& phase = {}) const;

 private:
  std::string what_;
  std::optional<size_t> cells_;
  double cell_s_, pause_s_;
  std::FILE* out_;
  bool terminal_;
  size_t index_ = 0;
  std::string label_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point cell_started_ = started_;
  std::chrono::steady_clock::time_point last_print_{};
  bool shown_ = false;
  double excess_s_ = 0;   // over the cells done: time beyond warm-up + step
  size_t cells_done_ = 0;
};

}  // namespace ws::capacity
