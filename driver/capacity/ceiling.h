// `wirestress ceiling`: the highest load a broker sustains within a latency SLO and an error and
// loss budget, found by a geometric ramp and a bisection, and what stopped it (latency, errors,
// loss, throughput_plateau, or the client itself).
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "driver/capacity/figures.h"
#include "driver/capacity/scenario.h"
#include "stats/report/omb_result.h"

namespace ws::capacity {

struct CeilingPlan {
  CeilingLimits limits;
  SearchSettings settings;   // start, max, factor, precision, max steps (whole numbers by connections)
  bool by_connections = false;  // --ramp=connections: the load is a client count
  uint32_t clients = 10;        // --ramp=rate: producers sharing the rate
  double rate_per_client = 10;  // --ramp=connections: messages/s each client offers
  std::chrono::nanoseconds step_duration = std::chrono::seconds(10);
  std::chrono::nanoseconds warmup = std::chrono::seconds(2);
  std::chrono::nanoseconds pause = std::chrono::seconds(1);
  std::string topic = "wirestress";
  bool topic_per_step = false;
  bool progress = false;
  std::string json_path;
  report::OmbResultFiles omb_result;  // --omb-result: PREFIX-sNN.json, one per step
};

// The configuration of the step at `load`; `error` (one line) if it is not a valid run.
driver::RunConfig ceiling_step(const CeilingPlan& plan, const ScenarioBase& base, double load, size_t index,
                               std::string& error);

// Runs the search (until Ctrl-C sets `interrupted`), prints a table row per step and the answer,
// writes the JSON after every step. Returns the exit code.
int run_ceiling(const CeilingPlan& plan, const ScenarioBase& base, std::atomic<bool>& interrupted);

}  // namespace ws::capacity
