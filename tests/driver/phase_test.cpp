// RunTimeline (the phases every thread agrees on), the verdict behind the exit code, and
// RunConfig's own checks.
#include <gtest/gtest.h>

#include "driver/config.h"
#include "driver/phase.h"
#include "driver/reporting.h"

namespace ws::driver {
namespace {

constexpr int64_t kSec = 1'000'000'000;

TEST(RunTimeline, PhasesFollowConnectingWarmUpMeasuringDrainingDone) {
  RunTimeline t;
  t.begin(100 * kSec, 2 * kSec, 10 * kSec, 60 * kSec);
  EXPECT_EQ(t.phase(100 * kSec), Phase::kConnecting);
  EXPECT_EQ(t.measure_start_ns(), RunTimeline::kNever) << "unknown until every client is ready";
  EXPECT_TRUE(t.end_connecting(105 * kSec));
  EXPECT_FALSE(t.end_connecting(106 * kSec)) << "the first one wins";
  EXPECT_EQ(t.phase(104 * kSec), Phase::kConnecting);
  EXPECT_EQ(t.phase(105 * kSec), Phase::kWarmUp);
  EXPECT_EQ(t.measure_start_ns(), 107 * kSec);
  EXPECT_EQ(t.phase(107 * kSec), Phase::kMeasuring);
  EXPECT_EQ(t.measure_end_ns(), 117 * kSec);
  EXPECT_EQ(t.phase(117 * kSec), Phase::kDraining);
  t.finish(118 * kSec);
  EXPECT_EQ(t.phase(118 * kSec), Phase::kDone);
}

TEST(RunTimeline, StopEndsTheMeasuredTimeEarlyAndWithoutADurationItIsTheOnlyEnd) {
  RunTimeline t;
  t.begin(0, 0, 0, 60 * kSec);
  t.end_connecting(1 * kSec);
  EXPECT_EQ(t.phase(1000 * kSec), Phase::kMeasuring) << "no --duration: until stopped";
  t.stop(1001 * kSec);
  EXPECT_EQ(t.measure_end_ns(), 1001 * kSec);
  EXPECT_EQ(t.phase(1001 * kSec), Phase::kDraining);
}

TEST(RunTimeline, StoppingWhileConnectingDrainsWithoutEverMeasuring) {
  RunTimeline t;
  t.begin(0, 0, 10 * kSec, 60 * kSec);
  t.stop(3 * kSec);
  EXPECT_FALSE(t.end_connecting(4 * kSec));
  EXPECT_EQ(t.phase(3 * kSec), Phase::kDraining);
  EXPECT_TRUE(t.stopped_during_connecting());
  EXPECT_EQ(t.measure_start_ns(), RunTimeline::kNever);
}

RunResult healthy() {
  RunResult r;
  r.clients = 10;
  r.totals.producers_connected = 10;
  r.counters.messages_sent = r.totals.messages_sent = 1000;
  r.counters.messages_acked = 1000;
  return r;
}

TEST(Verdict, AHealthyRunExitsZero) {
  RunConfig config;
  config.clients = 10;
  EXPECT_EQ(judge(healthy(), config).status, ExitStatus::kOk);
}

TEST(Verdict, EachDegradationExitsThreeAndSaysWhy) {
  RunConfig config;
  config.clients = 10;
  {
    auto r = healthy();
    r.totals.producers_connected = 4;
    const auto v = judge(r, config);
    EXPECT_EQ(v.status, ExitStatus::kDegraded);
    EXPECT_EQ(v.reasons.at(0), "6 of 10 clients never connected");
  }
  {
    auto r = healthy();
    r.counters.messages_acked = 0;
    r.counters.messages_failed = 1000;
    r.counters.errors_by_code[35] = 1000;
    const auto v = judge(r, config);
    EXPECT_EQ(v.status, ExitStatus::kDegraded);
    EXPECT_EQ(v.reasons.at(0), "every record sent failed (UNSUPPORTED_VERSION x1000)");
  }
  {
    auto r = healthy();
    r.counters = {};
    r.totals.messages_sent = 0;
    EXPECT_EQ(judge(r, config).reasons.at(0), "nothing was sent");
  }
  {
    auto r = healthy();
    r.stalled = true;
    EXPECT_EQ(judge(r, config).status, ExitStatus::kDegraded);
  }
  {
    auto r = healthy();
    r.fatal = "no broker of --bootstrap answered";
    EXPECT_EQ(judge(r, config).reasons.at(0), "no broker of --bootstrap answered");
  }
  {
    RunConfig with_consumers = config;
    with_consumers.consumers = 2;
    auto r = healthy();
    r.consumer_count = 2;
    r.totals.consumers_connected = 2;
    r.consumers.resize(2);
    r.totals.consume_received = 2000;
    r.consumers[0].failure = "behind";
    EXPECT_EQ(judge(r, with_consumers).status, ExitStatus::kOk) << "one failing consumer is a finding, not a failed run";
    r.consumers[1].failure = "offset_out_of_range";
    EXPECT_EQ(judge(r, with_consumers).reasons.at(0), "every consumer failed");
  }
}

// A consumer whose every fetch failed used to leave the run at exit 0.
TEST(Verdict, ConsumersThatNeverReceivedARecordMakeTheRunDegraded) {
  RunConfig config;
  config.clients = 10;
  config.consumers = 3;
  auto r = healthy();
  r.consumer_count = 3;
  r.totals.consumers_connected = 3;
  r.consumers.resize(3);
  {
    const auto v = judge(r, config);
    EXPECT_EQ(v.status, ExitStatus::kDegraded);
    EXPECT_EQ(v.reasons.at(0), "no consumer received any of the 1000 records produced");
  }
  {
    auto failing = r;
    failing.totals.brokers.resize(2);
    failing.totals.brokers[1].fetch_errors = 40;
    failing.totals.failures[static_cast<size_t>(Failure::kDecodeError)] = 2;
    const auto v = judge(failing, config);
    EXPECT_EQ(v.status, ExitStatus::kDegraded);
    EXPECT_NE(v.reasons.at(0).find("40 fetched partitions answered with an error, 2 answers could not be decoded"),
              std::string::npos) << v.reasons.at(0);
  }
  r.totals.consume_received = 1;
  EXPECT_EQ(judge(r, config).status, ExitStatus::kOk);
  auto consume_only = r;
  consume_only.totals.consume_received = 0;
  consume_only.counters.messages_acked = 0;
  consume_only.interrupted = true;
  EXPECT_EQ(judge(consume_only, config).status, ExitStatus::kOk) << "Ctrl-C before anything arrived";
}

TEST(Verdict, CtrlCIsNotADegradedRunEvenIfNothingWasSentYet) {
  RunConfig config;
  config.clients = 10;
  auto r = healthy();
  r.counters = {};
  r.totals.messages_sent = 0;
  r.interrupted = true;
  EXPECT_EQ(judge(r, config).status, ExitStatus::kOk);
}

TEST(RunConfig, ValidateNamesTheFlagAndTheAcceptedValues) {
  RunConfig c;
  c.bootstrap = {"127.0.0.1:9092"};
  EXPECT_FALSE(c.validate());
  auto bad = c;
  bad.clients = 0;
  EXPECT_EQ(bad.validate()->flag, "--clients");
  bad = c;
  bad.bootstrap = {"nohostport"};
  EXPECT_EQ(bad.validate()->flag, "--bootstrap");
  bad = c;
  bad.consumers = 1;
  bad.fetch_max_wait = bad.request_timeout;
  EXPECT_EQ(bad.validate()->flag, "--fetch-max-wait");
  bad = c;
  bad.reconnect_backoff_max = std::chrono::milliseconds(10);
  EXPECT_EQ(bad.validate()->flag, "--reconnect-backoff-max");
  EXPECT_EQ(bad.validate()->message(), "--reconnect-backoff-max: '10ms' is not valid; use at least --reconnect-backoff (100ms)");
}

TEST(RunConfig, DeriveSplitsTheConnectSlotsOverTheWorkersItUses) {
  RunConfig c;
  c.clients = 3;
  c.threads = 8;
  c.max_connecting = 32;
  c.derive();
  EXPECT_EQ(c.workers, 3u) << "no empty workers";
  EXPECT_EQ(c.connect_slots_per_worker, 10u);
}

}  // namespace
}  // namespace ws::driver
