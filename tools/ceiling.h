// `wirestress ceiling`: the highest load a broker sustains within a latency SLO and an error and
// loss budget, found by a geometric ramp and a bisection, and what stopped it (latency, errors,
// loss, throughput_plateau, or the client itself).
#pragma once

namespace ws::tools {

// argv[0] is "ceiling". Returns the process exit code (2 for bad usage).
int run_ceiling(int argc, const char* const* argv);

}  // namespace ws::tools
