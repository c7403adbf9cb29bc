// `wirestress sweep`: every cell of a (client count x consumer count x rate) matrix, in order,
// against one broker, with a pause and a fresh topic between cells, into one JSON. The rate axis is
// either each client's rate (--rate-per-client) or the cell's total offered rate (--rate); the
// seed study is one publisher, N consumers, a total rate: --clients=1 --consumers=... --rate=...
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "driver/capacity/scenario.h"
#include "stats/report/omb_result.h"

namespace ws::capacity {

struct SweepPlan {
  std::vector<uint32_t> clients;          // outer loop
  std::vector<uint32_t> consumers;        // middle loop; empty: the scenario's --consumers in every cell
  std::vector<double> rates;              // inner loop, read as `rate_is_total` says
  bool rate_is_total = false;             // true: --rate (the cell's total); false: --rate-per-client
  std::chrono::nanoseconds step_duration = std::chrono::seconds(30);
  std::chrono::nanoseconds warmup = std::chrono::seconds(2);
  std::chrono::nanoseconds pause = std::chrono::seconds(2);
  std::string topic = "wirestress";
  bool topic_per_cell = true;  // cell N writes to TOPIC-cN (and a --group-prefix P becomes P-cN)
  bool progress = false;       // print every cell's per-interval lines
  std::string json_path;
  report::OmbResultFiles omb_result;  // --omb-result: PREFIX-cNN.json, one per cell
};

// The configuration of each cell, in order (clients, then consumers, then rate, each in the
// order given); the first invalid one gives `error` (one line).
std::vector<driver::RunConfig> sweep_cells(const SweepPlan& plan, const ScenarioBase& base, std::string& error);

// What a cell is, for the progress line and the table: "1 client, 300 consumers at 2000 msg/s".
std::string cell_label(const driver::RunConfig& cell);

// Runs every cell (until Ctrl-C sets `interrupted`), prints a table row per cell, writes the JSON
// after every cell. Returns the exit code: 0, 1 when a cell could not start or the JSON not be
// written.
int run_sweep(const SweepPlan& plan, const ScenarioBase& base, std::atomic<bool>& interrupted);

}  // namespace ws::capacity
