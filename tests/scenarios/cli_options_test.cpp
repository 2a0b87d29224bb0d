// Option values that are fine alone but wrong or surprising together, and
// versions the model cannot honour, are bad input (exit 2) or a warning that
// says how they run (issue 16).
#include <gtest/gtest.h>

#include <string>

#include "asgisim/scenarios/stack.hpp"
#include "options.hpp"  // scenarios/cli

namespace asgisim::cli {
namespace {

std::string usage_error(const RawOptions& raw) {
  try {
    (void)resolve(raw, ConfigChoice::both);
  } catch (const UsageError& error) {
    return error.what();
  }
  return {};
}

TEST(CliOptions, PctDepthWithoutPctIsBadInput) {
  EXPECT_NE(usage_error({.pct_depth = "4"}).find("--pct-depth only applies to --strategy pct"),
            std::string::npos);
  EXPECT_NE(usage_error({.strategy = "random", .pct_depth = "4"}).find("--strategy pct"), std::string::npos);
  EXPECT_EQ(usage_error({.strategy = "pct", .pct_depth = "4"}), "");
}

TEST(CliOptions, AShardWithNoSeedIsBadInput) {
  EXPECT_NE(usage_error({.seeds = "3", .shard = "4/4"}).find("gets no seed"), std::string::npos);
  EXPECT_EQ(usage_error({.seeds = "3", .shard = "3/4"}), "");  // index 2 is shard 3's
  EXPECT_NE(usage_error({.shard = "150/200"}).find("--seeds 100"), std::string::npos);  // default 100
  EXPECT_EQ(usage_error({.shard = "100/200"}), "");                                     // index 99
}

TEST(CliOptions, PartialVersionsAreBadInput) {
  for (const char* spec : {"starlette==0.20", "uvicorn==0.28", "fastapi==0"}) {
    EXPECT_THROW(scenarios::parse_stack_spec(spec), scenarios::UsageError) << spec;
  }
  EXPECT_NO_THROW(scenarios::parse_stack_spec("starlette==0.20.4,python==3.7,anyio==4.2"));
  EXPECT_NE(usage_error({.stack = "starlette==0.20"}).find("not a full release"), std::string::npos);
}

TEST(CliOptions, VersionsBeforeTheModelAreBadInput) {
  EXPECT_NE(usage_error({.stack = "fastapi==0.1.0"}).find("fastapi==0.1.0 is not modelled"),
            std::string::npos);
  EXPECT_NE(usage_error({.stack = "starlette==0.14.2"}).find("not modelled"), std::string::npos);
}

TEST(CliOptions, VersionsPastTheModelWarnWithTheBehaviourTheyGet) {
  const std::vector<std::string> warnings =
      scenarios::stack_warnings(scenarios::parse_stack_spec("starlette==1.10.0,fastapi==0.82.0"));
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_NE(
      warnings[0].find("starlette==1.10.0 is newer than 1.3.1, the newest release the model was checked "
                       "against, which behaves as 0.46.2"),
      std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[0].find("BaseHTTPMiddleware reraise_once"), std::string::npos) << warnings[0];
  EXPECT_TRUE(scenarios::stack_warnings(scenarios::parse_stack_spec("starlette==0.46.2")).empty());
}

TEST(CliOptions, Anyio4IsRead4142) {
  for (const char* read : {"anyio==3.6.2", "anyio==4.14.2", "anyio==4.14"})
    EXPECT_TRUE(scenarios::stack_warnings(scenarios::parse_stack_spec(read)).empty()) << read;
  std::vector<std::string> warnings = scenarios::stack_warnings(scenarios::parse_stack_spec("anyio==4.2"));
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_NE(warnings[0].find("read at 4.14.2 and runs so"), std::string::npos) << warnings[0];
  warnings = scenarios::stack_warnings(scenarios::parse_stack_spec("anyio==4.16.0"));
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_NE(warnings[0].find("anyio==4.16.0 is newer than 4.14.2"), std::string::npos) << warnings[0];
}

TEST(CliOptions, VersionsTheModelWasCheckedAgainstDoNotWarn) {
  // uvicorn's HTTP protocols were read up to 0.51.0 and behave as 0.32.1 there.
  for (const char* read : {"uvicorn==0.40.0", "uvicorn==0.51.0", "uvicorn==0.51.0+pr3156", "starlette==1.3.1",
                           "fastapi==0.141.1"})
    EXPECT_TRUE(scenarios::stack_warnings(scenarios::parse_stack_spec(read)).empty()) << read;
  const std::vector<std::string> warnings =
      scenarios::stack_warnings(scenarios::parse_stack_spec("uvicorn==0.54.0"));
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_NE(warnings[0].find("uvicorn==0.54.0 is newer than 0.51.0, the newest release the model was checked "
                             "against, which behaves as 0.32.1"),
            std::string::npos)
      << warnings[0];
}

TEST(CliOptions, DescribeBehavioursNamesEveryLayer) {
  const std::string line =
      scenarios::describe_behaviours(scenarios::resolve(scenarios::parse_stack_spec("starlette==0.20.4")));
  for (const char* part : {"starlette 0.20.4 (BaseHTTPMiddleware cancel", "uvicorn default (ASGI spec 2.3",
                           "python default", "anyio default", "fastapi default"}) {
    EXPECT_NE(line.find(part), std::string::npos) << part << " in " << line;
  }
}

}  // namespace
}  // namespace asgisim::cli
