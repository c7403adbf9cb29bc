// `wirestress sweep`: every (client count, rate per client) cell of a matrix, in order, against
// one broker, with a pause and a fresh topic between cells, into one JSON.
#pragma once

namespace ws::tools {

// argv[0] is "sweep". Returns the process exit code (2 for bad usage).
int run_sweep(int argc, const char* const* argv);

}  // namespace ws::tools
