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
  };
  for (const auto& [args, flag] : cases) {
    std::vector<const char*> argv{"wirestress"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto out = parse_options(static_cast<int>(argv.size()), argv.data());
    SCOPED_TRACE(args.back());
    EXPECT_FALSE(out.options);
    EXPECT_EQ(out.exit_code, 2);
    EXPECT_NE(out.output.find(flag), std::string::npos) << out.output;
    EXPECT_EQ(out.output.find('\n'), std::string::npos) << out.output;
  }
  const std::string long_prefix = "--group-prefix=" + std::string(300, 'p');
  const auto out = parse({"--consumers=2", "--group-mode=own", long_prefix.c_str()});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_LT(out.output.size(), 200u) << "the value is not echoed whole";
}

TEST(GroupOptions, HelpDocumentsEveryGroupFlag) {
  const auto out = parse({"--help"});
  EXPECT_EQ(out.exit_code, 0);
  for (const char* flag : {"--group-mode", "--groups", "--assignor", "--session-timeout", "--heartbeat-interval",
                           "--commit-interval", "--group-prefix"}) {
    EXPECT_NE(out.output.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace ws::tools
