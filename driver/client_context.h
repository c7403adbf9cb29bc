// What a client state machine (Producer, Consumer) may use besides itself: the worker's links,
// timers, metadata cache and metrics, the run's shared state, and the phase the worker is in.
// Plain references and a few non-virtual calls: unit tests build one around a ConnectionTable and
// drive the state machines with scripted events, without a worker or an event loop.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "driver/config.h"
#include "driver/connections.h"
#include "driver/metadata.h"
#include "driver/metrics.h"
#include "driver/phase.h"
#include "driver/produce_encoder.h"
#include "driver/run_control.h"
#include "driver/timers.h"
#include "protocol/fetch.h"
#include "protocol/list_offsets.h"
#include "protocol/produce.h"

namespace ws::driver {

// Decoded responses and request bodies reused by every client of a worker (their vectors keep
// their capacity, so steady-state decoding allocates nothing).
struct DecodeScratch {
  protocol::ProduceResponse produce;
  protocol::FetchRequest fetch_request;
  protocol::FetchResponse fetch;
  protocol::ListOffsetsResponse list_offsets;
};

struct ClientContext {
  ClientContext(const RunConfig& config_, RunControl& control_, ConnectionTable& links_, TimerQueue& timers_,
                MetadataCache& metadata_, Metrics& metrics_, ProduceEncoder& encoder_, DecodeScratch& scratch_)
      : config(config_), control(control_), links(links_), timers(timers_), metadata(metadata_), metrics(metrics_),
        encoder(encoder_), scratch(scratch_) {}

  const RunConfig& config;
  RunControl& control;
  ConnectionTable& links;
  TimerQueue& timers;
  MetadataCache& metadata;
  Metrics& metrics;
  ProduceEncoder& encoder;
  DecodeScratch& scratch;

  // The worker's view of the run, updated by the worker as it moves on.
  Phase phase = Phase::kConnecting;
  int64_t measure_start_ns = RunTimeline::kNever;
  bool past_warmup = false;  // the worker has split its numbers at the start of the measured time
  int64_t wall_minus_steady_ns = 0;  // Unix time = steady time + this
  // Consumers: every producer of the run is done (or its drain timed out), and how many records
  // they had acknowledged by then, per topic.
  bool producers_done = false;
  std::vector<uint64_t> acked_by_topic;
  std::vector<uint64_t> in_doubt_by_topic;  // failed records, which may or may not be in the log
  // Producers whose sending waits for the end of the current event batch (several responses in
  // one batch then free one write, not several).
  std::vector<uint32_t> send_queue;
  // Clients waiting for the next metadata answer, changed or not (a leader error asked for it).
  std::vector<uint32_t> metadata_waiters;
  uint32_t producers_settled = 0;  // clients of this worker in a final state
  uint32_t consumers_settled = 0;

  // Stop adding requests to one write past this many bytes (see Worker: a per-worker budget
  // keeps 10,000 unpaced acks=0 clients' buffers small).
  size_t max_write_bytes = 64 * 1024;

  bool sending_allowed() const { return phase == Phase::kWarmUp || phase == Phase::kMeasuring; }
  bool stopping() const { return phase == Phase::kDraining || phase == Phase::kDone; }
  // A request sent before the measured time belongs to the warm-up, even if answered later.
  bool counts(const InFlight& request) const { return !past_warmup || request.sent_ns >= measure_start_ns; }

  // A client became ready for the first time (connected, negotiated, metadata known; consumers:
  // positioned). The last one of the run ends the Connecting phase.
  void client_ready(bool consumer, int64_t now);
  // A client reached a final state (done or failed). One that was never ready never will be:
  // Connecting stops waiting for it. The last producer of the run stops sending.
  void client_settled(bool consumer, bool ever_ready, int64_t now);
};

}  // namespace ws::driver
