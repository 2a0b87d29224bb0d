// BaseHTTPMiddleware's behaviours by Starlette release: their names, the
// releases each stands for, and the traits (flags) the middleware reads
// (base_http.cpp).
#include <array>
#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include "asgisim/core/middleware/base_http.hpp"

namespace asgisim::core {

namespace {

constexpr std::array<std::pair<BaseHttpBehaviour, std::string_view>, 10> kNames{{
    {BaseHttpBehaviour::cancel_drain, "cancel_drain"},
    {BaseHttpBehaviour::cancel, "cancel"},
    {BaseHttpBehaviour::disconnect, "disconnect"},
    {BaseHttpBehaviour::no_break, "no_break"},
    {BaseHttpBehaviour::cached_body, "cached_body"},
    {BaseHttpBehaviour::fixed, "fixed"},
    {BaseHttpBehaviour::no_listener, "no_listener"},
    {BaseHttpBehaviour::dispatch_background, "dispatch_background"},
    {BaseHttpBehaviour::reraise, "reraise"},
    {BaseHttpBehaviour::reraise_once, "reraise_once"},
}};

}  // namespace

std::string_view to_string(BaseHttpBehaviour behaviour) {
  for (const auto& [value, name] : kNames) {
    if (value == behaviour) return name;
  }
  return "?";
}

bool parse_base_http_behaviour(std::string_view text, BaseHttpBehaviour& out) {
  for (const auto& [value, name] : kNames) {
    if (name == text) {
      out = value;
      return true;
    }
  }
  return false;
}

std::string_view starlette_versions(BaseHttpBehaviour behaviour) {
  switch (behaviour) {
    case BaseHttpBehaviour::cancel_drain:
      return "0.15.0 to 0.20.0";
    case BaseHttpBehaviour::cancel:
      return "0.20.1 to 0.20.4";
    case BaseHttpBehaviour::disconnect:
      return "0.21.0 to 0.23.0";
    case BaseHttpBehaviour::no_break:
      return "0.23.1 to 0.27.x";
    case BaseHttpBehaviour::cached_body:
      return "0.28.0";
    case BaseHttpBehaviour::fixed:
      return "0.29.0 to 0.38.2";
    case BaseHttpBehaviour::no_listener:
      return "0.38.3 to 0.38.4";
    case BaseHttpBehaviour::dispatch_background:
      return "0.38.5 to 0.45.x";
    case BaseHttpBehaviour::reraise:
      return "0.46.0 to 0.46.1";
    case BaseHttpBehaviour::reraise_once:
      return "0.46.2 and later";
  }
  return "?";
}

std::optional<BaseHttpBehaviour> base_http_behaviour_for_starlette(std::string_view version) {
  std::array<int, 3> parts{0, 0, 0};
  std::size_t count = 0;
  const char* cursor = version.data();
  const char* const end = version.data() + version.size();
  while (count < parts.size()) {
    const auto [next, error] = std::from_chars(cursor, end, parts[count]);
    if (error != std::errc() || parts[count] < 0) return std::nullopt;
    ++count;
    cursor = next;
    if (cursor == end) break;
    if (*cursor != '.') return std::nullopt;
    ++cursor;
  }
  if (cursor != end || count < 2) return std::nullopt;
  const auto at_least = [&](int major, int minor, int patch) {
    return parts >= std::array<int, 3>{major, minor, patch};
  };
  if (!at_least(0, 15, 0)) return std::nullopt;
  if (at_least(0, 46, 2)) return BaseHttpBehaviour::reraise_once;
  if (at_least(0, 46, 0)) return BaseHttpBehaviour::reraise;
  if (at_least(0, 38, 5)) return BaseHttpBehaviour::dispatch_background;
  if (at_least(0, 38, 3)) return BaseHttpBehaviour::no_listener;
  if (at_least(0, 29, 0)) return BaseHttpBehaviour::fixed;
  if (at_least(0, 28, 0)) return BaseHttpBehaviour::cached_body;
  if (at_least(0, 23, 1)) return BaseHttpBehaviour::no_break;
  if (at_least(0, 21, 0)) return BaseHttpBehaviour::disconnect;
  if (at_least(0, 20, 1)) return BaseHttpBehaviour::cancel;
  return BaseHttpBehaviour::cancel_drain;
}

BaseHttpTraits traits(BaseHttpBehaviour behaviour) {
  switch (behaviour) {
    case BaseHttpBehaviour::cancel_drain:
      return {.cancel_downstream = true};
    case BaseHttpBehaviour::cancel:
      return {.cancel_downstream = true, .stop_at_final_body = true, .skip_empty_chunks = true};
    case BaseHttpBehaviour::disconnect:
      return {.stop_at_final_body = true, .skip_empty_chunks = true};
    case BaseHttpBehaviour::no_break:
      return {.skip_empty_chunks = true};
    case BaseHttpBehaviour::cached_body:
      return {.skip_empty_chunks = true, .cache_request_body = true};
    case BaseHttpBehaviour::fixed:
      return {.stop_at_final_body = true, .skip_empty_chunks = true, .cache_request_body = true};
    case BaseHttpBehaviour::no_listener:
      return {.stop_at_final_body = true,
              .skip_empty_chunks = true,
              .cache_request_body = true,
              .no_response_listener = true,
              .drop_dispatch_background = true};
    case BaseHttpBehaviour::dispatch_background:
      return {.stop_at_final_body = true,
              .skip_empty_chunks = true,
              .cache_request_body = true,
              .no_response_listener = true};
    case BaseHttpBehaviour::reraise:
      return {.stop_at_final_body = true,
              .skip_empty_chunks = true,
              .cache_request_body = true,
              .no_response_listener = true,
              .raise_app_exc_after_group = true};
    case BaseHttpBehaviour::reraise_once:
      return {.stop_at_final_body = true,
              .skip_empty_chunks = true,
              .cache_request_body = true,
              .no_response_listener = true,
              .raise_app_exc_after_group = true,
              .raise_app_exc_once = true};
  }
  return {};
}

}  // namespace asgisim::core
