// `wirestress sweep`: every (client count, rate per client) cell of a matrix, in order, against
// one broker, with a pause and a fresh topic between cells, into one JSON.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "driver/capacity/scenario.h"

namespace ws::capacity {

struct SweepPlan {
  std::vector<uint32_t> clients;          // outer loop
  std::vector<double> rates_per_client;   // inner loop
  std::chrono::nanoseconds step_duration = std::chrono::seconds(30);
  std::chrono::nanoseconds warmup = std::chrono::seconds(2);
  std::chrono::nanoseconds pause = std::chrono::seconds(2);
  std::string topic = "wirestress";
  bool topic_per_cell = true;  // cell N writes to TOPIC-cN
  bool progress = false;       // print every cell's per-interval lines
  std::string json_path;
};

// The configuration of each cell, in order; the first invalid one gives `error` (one line).
std::vector<driver::RunConfig> sweep_cells(const SweepPlan& plan, const ScenarioBase& base, std::string& error);

// Runs every cell (until Ctrl-C sets `interrupted`), prints a table row per cell, writes the JSON
// after every cell. Returns the exit code: 0, 1 when a cell could not start or the JSON not be
// written.
int run_sweep(const SweepPlan& plan, const ScenarioBase& base, std::atomic<bool>& interrupted);

}  // namespace ws::capacity
