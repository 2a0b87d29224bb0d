// --stack parsing and the version -> behaviour mapping.
#include "asgisim/scenarios/stack.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace asgisim::scenarios {
namespace {

std::string usage_error(std::string_view spec) {
  try {
    parse_stack_spec(spec);
  } catch (const UsageError& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(StackSpec, ParsesEveryPackage) {
  const StackVersions v =
      parse_stack_spec("starlette==0.20.4,uvicorn==0.28.0,python==3.7,anyio==4.2,fastapi==0.81.0");
  EXPECT_EQ(v.starlette, "0.20.4");
  EXPECT_EQ(v.uvicorn, "0.28.0");
  EXPECT_EQ(v.python, "3.7");
  EXPECT_EQ(v.anyio, "4.2");
  EXPECT_EQ(v.fastapi, "0.81.0");
  EXPECT_EQ(to_string(v), "starlette==0.20.4,uvicorn==0.28.0,python==3.7,anyio==4.2,fastapi==0.81.0");
}

TEST(StackSpec, RoundTripsAndLeavesUnsetOut) {
  EXPECT_EQ(to_string(parse_stack_spec("python==3.8, starlette==0.29.0")), "starlette==0.29.0,python==3.8");
  EXPECT_EQ(to_string(StackVersions{}), "");
}

TEST(StackSpec, NamesTheBadPart) {
  EXPECT_NE(usage_error("django==4.0").find("unknown package 'django'"), std::string::npos);
  EXPECT_NE(usage_error("starlette=0.20.4").find("'starlette=0.20.4' has no '=='"), std::string::npos);
  EXPECT_NE(usage_error("starlette==0.x").find("malformed version '0.x' for starlette"), std::string::npos);
  EXPECT_NE(usage_error("starlette==0.1.2.3").find("malformed version"), std::string::npos);
  EXPECT_NE(usage_error("starlette==").find("malformed version"), std::string::npos);
  EXPECT_NE(usage_error("python==3.7,python==3.8").find("python given twice"), std::string::npos);
  EXPECT_NE(usage_error("").find("empty"), std::string::npos);
  EXPECT_NE(usage_error("starlette==0.29.0,").find("has no '=='"), std::string::npos);
}

TEST(StackSpec, MergeOverridesOnlySetFields) {
  const StackVersions merged =
      merge({.starlette = "0.20.4", .python = "3.7"}, {.starlette = "0.29.0", .uvicorn = "0.32.1"});
  EXPECT_EQ(to_string(merged), "starlette==0.29.0,uvicorn==0.32.1,python==3.7");
}

TEST(Resolve, StarletteBaseHttpBehaviours) {
  EXPECT_EQ(resolve({.starlette = "0.20.0"}).base_http, core::BaseHttpBehaviour::cancel_drain);
  EXPECT_EQ(resolve({.starlette = "0.20.4"}).base_http, core::BaseHttpBehaviour::cancel);
  EXPECT_EQ(resolve({.starlette = "0.21.0"}).base_http, core::BaseHttpBehaviour::disconnect);
  EXPECT_EQ(resolve({.starlette = "0.23.1"}).base_http, core::BaseHttpBehaviour::no_break);
  EXPECT_EQ(resolve({.starlette = "0.28.0"}).base_http, core::BaseHttpBehaviour::cached_body);
  EXPECT_EQ(resolve({.starlette = "0.29.0"}).base_http, core::BaseHttpBehaviour::fixed);
  EXPECT_THROW(resolve({.starlette = "0.14.2"}), UsageError);
}

TEST(Resolve, StreamingListenerDependsOnStarlette042) {
  EXPECT_EQ(resolve({.starlette = "0.41.3"}).streaming, core::StreamingBehaviour::listen);
  EXPECT_EQ(resolve({.starlette = "0.42.0"}).streaming, core::StreamingBehaviour::by_spec_version);
}

TEST(Resolve, UvicornSpecVersionAndSendAfterDisconnect) {
  EXPECT_EQ(resolve({.uvicorn = "0.27.1"}).server.spec_version, "2.3");
  EXPECT_EQ(resolve({.uvicorn = "0.28.0"}).server.send_after_disconnect, core::SendAfterDisconnect::raise);
  EXPECT_EQ(resolve({.uvicorn = "0.32.0"}).server.spec_version, "2.4");
  EXPECT_EQ(resolve({.uvicorn = "0.32.0"}).server.send_after_disconnect, core::SendAfterDisconnect::drop);
  EXPECT_EQ(resolve({.uvicorn = "0.32.1"}).server.spec_version, "2.3");
}

TEST(StackSpec, ALocalLabelAppliesAnUnreleasedPullRequest) {
  EXPECT_EQ(parse_stack_spec("uvicorn==0.51.0+pr3156").uvicorn, "0.51.0+pr3156");
  EXPECT_EQ(resolve({.uvicorn = "0.51.0"}).server.close_on_error, core::ErrorClose::always);
  EXPECT_EQ(resolve({.uvicorn = "0.51.0+pr3156"}).server.close_on_error,
            core::ErrorClose::incomplete_or_protocol_error);
  EXPECT_EQ(resolve({.uvicorn = "0.51.0+pr3156"}).server.spec_version, "2.3");  // the release's own
  EXPECT_NE(usage_error("uvicorn==0.51.0+pr1").find("unknown local label '+pr1'"), std::string::npos);
  EXPECT_NE(usage_error("uvicorn==0.51.0+pr1").find("+pr3156"), std::string::npos);  // names the known ones
  EXPECT_NE(usage_error("starlette==0.46.2+pr3156").find("starlette has none"), std::string::npos);
  EXPECT_NE(usage_error("uvicorn==0.51+pr3156").find("not a full release"), std::string::npos);
  EXPECT_THROW(resolve({.uvicorn = "0.51.0+nope"}), UsageError);
  EXPECT_NE(describe_behaviours(resolve({.uvicorn = "0.51.0+pr3156"}))
                .find("uvicorn 0.51.0+pr3156 (ASGI spec 2.3, send after disconnect dropped, close on an app "
                      "error incomplete_or_protocol_error)"),
            std::string::npos);
}

TEST(Resolve, PythonAnyioFastapi) {
  EXPECT_EQ(resolve({.python = "3.7"}).python, core::PythonVersion::py37);
  EXPECT_EQ(resolve({.python = "3.8"}).python, core::PythonVersion::py38);
  EXPECT_EQ(resolve({.python = "3.12"}).python, core::PythonVersion::py38);
  EXPECT_THROW(resolve({.python = "2.7"}), UsageError);
  EXPECT_EQ(resolve({.anyio = "3.7.1"}).task_group_errors, sim::TaskGroupErrors::anyio3);
  EXPECT_EQ(resolve({.anyio = "4.2"}).task_group_errors, sim::TaskGroupErrors::anyio4);
  EXPECT_THROW(resolve({.anyio = "2.0"}), UsageError);
  // anyio #538, fixed in 3.7: release() wakes the oldest waiter.
  EXPECT_EQ(resolve({.anyio = "3.6.2"}).limiter_wake_order, sim::LimiterWakeOrder::newest_first);
  EXPECT_EQ(resolve({.anyio = "3.7.1"}).limiter_wake_order, sim::LimiterWakeOrder::oldest_first);
  EXPECT_EQ(resolve({.anyio = "4.14.2"}).limiter_wake_order, sim::LimiterWakeOrder::oldest_first);
  EXPECT_EQ(resolve({}).limiter_wake_order, sim::LimiterWakeOrder::newest_first);
  EXPECT_EQ(resolve({.fastapi = "0.81.0"}).yield_exit, core::YieldExitBehaviour::shared_pool);
  EXPECT_EQ(resolve({.fastapi = "0.82.0"}).yield_exit, core::YieldExitBehaviour::own_limiter);
  // The exits' timing: #10831 (0.106.0), #14099 (0.118.0), #14262 (0.121.0).
  for (const auto& [version, timing] : std::vector<std::pair<std::string, core::YieldExitTiming>>{
           {"0.105.0", core::YieldExitTiming::after_response},
           {"0.106.0", core::YieldExitTiming::before_response},
           {"0.117.1", core::YieldExitTiming::before_response},
           {"0.118.0", core::YieldExitTiming::after_response},
           {"0.120.4", core::YieldExitTiming::after_response},
           {"0.121.0", core::YieldExitTiming::by_scope},
           {"0.141.1", core::YieldExitTiming::by_scope}})
    EXPECT_EQ(resolve({.fastapi = version}).yield_exit_timing, timing) << version;
  EXPECT_EQ(resolve({.fastapi = "0.68.0"}).base_http,
            core::BaseHttpBehaviour::fixed);  // starlette unset: default
}

TEST(Resolve, UnsetVersionsKeepDefaults) {
  const Stack stack = resolve({});
  EXPECT_EQ(stack.base_http, core::BaseHttpBehaviour::fixed);
  EXPECT_EQ(stack.server.spec_version, "2.3");
  EXPECT_EQ(stack.python, core::PythonVersion::py38);
}

}  // namespace
}  // namespace asgisim::scenarios
