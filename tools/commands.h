// The subcommands of `wirestress` (each parses its own flags; argv[0] is the subcommand's name)
// and what they share: the embedded broker for runs without --bootstrap, Ctrl-C handling.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "tools/brokers/mock_cluster_process.h"
#include "tools/options.h"

namespace ws::tools {

int run_sweep_command(int argc, const char* const* argv);
int run_ceiling_command(int argc, const char* const* argv);
int run_report(int argc, const char* const* argv);
int run_merge(int argc, const char* const* argv);
int run_storm_command(int argc, const char* const* argv);  // tools/storm_command.cpp

// Without --bootstrap, wirestress runs against librdkafka's mock cluster in a child process:
// starts it, points `options.run.bootstrap` at it and says so on stderr. nullptr with `error` set
// on failure. Call before any thread starts (it forks).
std::unique_ptr<brokers::MockClusterProcess> start_embedded_broker(RunOptions& options, const std::string& who,
                                                                   std::string& error);

// First Ctrl-C (or SIGTERM) during a sweep or ceiling: end the current run as a single run would
// and set `interrupted`, so no further runs start. Second: exit at once.
void install_capacity_interrupt_handlers(std::atomic<bool>* interrupted);

}  // namespace ws::tools
