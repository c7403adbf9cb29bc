// The consumer-group flags as a user types them: defaults, accepted values, --help, and one-line
// errors naming the flag with exit code 2.
#include <gtest/gtest.h>

#include <chrono>
#include <initializer_list>
#include <string>
#include <vector>

#include "tools/options.h"

namespace ws::tools {
namespace {

ParseOutcome parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"wirestress"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse_options(static_cast<int>(argv.size()), argv.data());
}

// The command line is refused with exit code 2 and one line holding every one of `needles`.
void expect_refused(const std::vector<const char*>& args, std::initializer_list<std::string> needles) {
  std::vector<const char*> argv{"wirestress"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto out = parse_options(static_cast<int>(argv.size()), argv.data());
  SCOPED_TRACE(args.back());
  EXPECT_FALSE(out.options);
  EXPECT_EQ(out.exit_code, 2);
  for (const auto& needle : needles) EXPECT_NE(out.output.find(needle), std::string::npos) << out.output;
  EXPECT_EQ(out.output.find('\n'), std::string::npos) << out.output;
}

TEST(GroupOptions, DefaultsAreNoGroupsAndTheJavaClientsTimings) {
  const auto out = parse({});
  ASSERT_TRUE(out.options) << out.output;
  const auto& g = out.options->run.group;
  EXPECT_EQ(g.mode, driver::GroupMode::kNone);
  EXPECT_EQ(g.groups, 1u);
  EXPECT_EQ(g.assignor, driver::AssignorKind::kRange);
  EXPECT_EQ(g.session_timeout, std::chrono::seconds(10));
  EXPECT_EQ(g.heartbeat_interval, std::chrono::seconds(3));
  EXPECT_EQ(g.commit_interval, std::chrono::seconds(5));
  EXPECT_TRUE(g.prefix.empty());
  // The default prefix is the run's, so two runs never meet in one group.
  EXPECT_NE(g.group_id(0, 1), g.group_id(0, 2));
}

TEST(GroupOptions, SharedGroupsWithEverySetting) {
  const auto out =
      parse({"--consumers=20", "--group-mode=shared", "--groups=2", "--assignor=roundrobin", "--session-timeout=6s",
             "--heartbeat-interval=500ms", "--commit-interval=0", "--group-prefix=load.test_1"});
  ASSERT_TRUE(out.options) << out.output;
  const auto& g = out.options->run.group;
  EXPECT_EQ(g.mode, driver::GroupMode::kShared);
  EXPECT_EQ(g.groups, 2u);
  EXPECT_EQ(g.assignor, driver::AssignorKind::kRoundRobin);
  EXPECT_EQ(g.session_timeout, std::chrono::seconds(6));
  EXPECT_EQ(g.heartbeat_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(g.commit_interval.count(), 0);
  EXPECT_EQ(g.group_id(1, 0), "load.test_1-1");
  EXPECT_EQ(g.group_of(7), 1u);  // consumer 7 of 2 groups
  const auto own = parse({"--consumers=3", "--group-mode=own"});
  ASSERT_TRUE(own.options) << own.output;
  EXPECT_EQ(own.options->run.group.group_of(2), 2u);  // each alone
}

TEST(GroupOptions, BadValuesNameTheFlagOnOneLine) {
  const std::pair<std::vector<const char*>, std::string> cases[] = {
      {{"--consumers=2", "--group-mode=together"}, "--group-mode"},
      {{"--group-mode=own"}, "--group-mode"},  // no consumers to form groups
      {{"--consumers=2", "--group-mode=shared", "--groups=3"}, "--groups"},
      {{"--consumers=2", "--group-mode=shared", "--groups=0"}, "--groups"},
      {{"--consumers=2", "--group-mode=own", "--groups=2"}, "--groups"},  // splits shared groups only
      {{"--consumers=2", "--groups=2"}, "--groups"},
      {{"--consumers=2", "--group-mode=own", "--assignor=sticky"}, "--assignor"},
      {{"--consumers=2", "--assignor=roundrobin"}, "--assignor"},  // without --group-mode
      {{"--consumers=2", "--group-mode=own", "--session-timeout=soon"}, "--session-timeout"},
      {{"--consumers=2", "--group-mode=own", "--session-timeout=0"}, "--session-timeout"},
      {{"--consumers=2", "--group-mode=own", "--session-timeout=2h"}, "--session-timeout"},
      {{"--consumers=2", "--group-mode=own", "--heartbeat-interval=10s"}, "--heartbeat-interval"},  // >= session
      {{"--consumers=2", "--group-mode=own", "--heartbeat-interval=0"}, "--heartbeat-interval"},
      {{"--consumers=2", "--group-mode=own", "--commit-interval=1ms"}, "--commit-interval"},
      {{"--consumers=2", "--group-mode=own", "--commit-interval=x"}, "--commit-interval"},
      {{"--consumers=2", "--session-timeout=6s"}, "--session-timeout"},  // without --group-mode
      {{"--consumers=2", "--group-mode=own", "--group-prefix=has space"}, "--group-prefix"},
      {{"--consumers=2", "--group-prefix=p"}, "--group-prefix"},
      {{"--consumers=2", "--group-mode=shared", "--churn-members=fast"}, "--churn-members"},
      {{"--consumers=2", "--group-mode=shared", "--churn-members=-1"}, "--churn-members"},
      {{"--consumers=2", "--group-mode=shared", "--churn-members=1e9"}, "--churn-members"},
      {{"--consumers=2", "--group-mode=shared", "--churn-members=200000"}, "--churn-members"},
      {{"--consumers=2", "--churn-members=1"}, "--churn-members"},  // without --group-mode
      {{"--consumers=2", "--group-mode=own", "--group-instance-id=a b"}, "--group-instance-id"},
      {{"--consumers=2", "--group-mode=own", "--group-instance-id="}, "--group-instance-id"},
      {{"--consumers=2", "--group-instance-id=c"}, "--group-instance-id"},  // without --group-mode
  };
  for (const auto& [args, flag] : cases) expect_refused(args, {flag});
  const std::string long_prefix = "--group-prefix=" + std::string(300, 'p');
  const auto out = parse({"--consumers=2", "--group-mode=own", long_prefix.c_str()});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_LT(out.output.size(), 200u) << "the value is not echoed whole";
}

TEST(GroupOptions, HelpDocumentsEveryGroupFlag) {
  const auto out = parse({"--help"});
  EXPECT_EQ(out.exit_code, 0);
  for (const char* flag : {"--group-mode", "--groups", "--assignor", "--session-timeout", "--heartbeat-interval",
                           "--commit-interval", "--group-prefix", "--churn-members", "--group-instance-id"}) {
    EXPECT_NE(out.output.find(flag), std::string::npos) << flag;
  }
}

TEST(GroupOptions, ChurnAndStaticMembership) {
  const auto out = parse({"--clients=2", "--consumers=10", "--shards=2", "--shard=1", "--group-mode=shared", "--groups=2",
                          "--churn-members=2.5", "--group-instance-id=svc.a"});
  ASSERT_TRUE(out.options) << out.output;
  const auto& g = out.options->run.group;
  EXPECT_DOUBLE_EQ(g.churn_rate, 2.5);
  EXPECT_TRUE(g.is_static());
  EXPECT_EQ(g.instance_id(7), "svc.a-7");  // numbered over the run's consumers, every shard's
  const auto plain = parse({"--consumers=2", "--group-mode=own"});
  ASSERT_TRUE(plain.options) << plain.output;
  EXPECT_EQ(plain.options->run.group.churn_rate, 0);
  EXPECT_FALSE(plain.options->run.group.is_static());
  EXPECT_EQ(plain.options->run.group.instance_id(1), "");
}

TEST(GroupOptions, ClientPropertyGroupIdIsOneSharedGroupNamedExactlySo) {
  const auto out = parse({"--consumers=4", "-X", "group.id=orders.readers"});
  ASSERT_TRUE(out.options) << out.output;
  const auto& g = out.options->run.group;
  EXPECT_EQ(g.mode, driver::GroupMode::kShared);
  EXPECT_EQ(g.groups, 1u);
  EXPECT_EQ(g.group_of(3), 0u);
  EXPECT_EQ(g.group_id(0, 1234), "orders.readers") << "no prefix, no number";
  // With the flags that agree with it.
  const auto agreeing = parse({"--consumers=4", "-X", "group.id=g", "--group-mode=shared", "--groups=1",
                               "--assignor=roundrobin"});
  ASSERT_TRUE(agreeing.options) << agreeing.output;
  EXPECT_EQ(agreeing.options->run.group.assignor, driver::AssignorKind::kRoundRobin);
  // Conflicts name both sides, on one line, exit 2.
  const std::pair<std::vector<const char*>, std::string> conflicts[] = {
      {{"--consumers=4", "-X", "group.id=g", "--group-mode=own"}, "--group-mode=own"},
      {{"--consumers=4", "-X", "group.id=g", "--group-mode=none"}, "--group-mode=none"},
      {{"--consumers=4", "-X", "group.id=g", "--group-mode=shared", "--groups=2"}, "--groups=2"},
      {{"--consumers=4", "-X", "group.id=g", "--group-prefix=p"}, "--group-prefix=p"},
  };
  for (const auto& [args, other] : conflicts) expect_refused(args, {"group.id=g", other});
  // Without consumers, a group has no members: the usual --group-mode message.
  const auto none = parse({"-X", "group.id=g"});
  EXPECT_EQ(none.exit_code, 2);
}

}  // namespace
}  // namespace ws::tools
