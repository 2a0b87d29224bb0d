// One differential case (CASE_FORMAT.md section 1) as a C++ value, parsed from
// its JSON line. The model runner trusts the generator's validation
// (case_format.validate_case) for ranges and combinations, and checks only what
// it needs in order not to misread a case: kinds, enums and the disconnect point.
//
//   nlohmann::json line = nlohmann::json::parse(text);
//   differential::Case c = differential::parse_case(line);   // throws CaseError
//   if (c.client.disconnect.kind == DisconnectKind::mid_body) ...
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace asgisim::differential {

class CaseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class MiddlewareKind : std::uint8_t {
  base_http_passthrough,  // P
  base_http_reads_body,   // R
  pure_asgi_cm,           // C
  server_error,           // E
  exception,              // X
};

enum class ReadsBody : std::uint8_t { none, body, stream };
enum class Raises : std::uint8_t { never, before_start, in_stream, in_background };
enum class DisconnectKind : std::uint8_t { never, before_request, after_send, mid_body };

struct Background {
  bool sync = false;
  int pauses = 0;  // async: anyio.sleep(0) this many times
};

struct EndpointSpec {
  bool sync = false;
  bool streaming = false;
  int chunks = 0;
  int chunk_pause = 0;
  ReadsBody reads_body = ReadsBody::none;
  Raises raises = Raises::never;
  std::optional<Background> background{};
  // async streaming only: the body iterator has a `finally` that records
  // stream_closed (core::async_generator).
  bool cleanup = false;
};

struct Disconnect {
  DisconnectKind kind = DisconnectKind::never;
  int count = 0;     // K of after_send:K / mid_body:K
  std::string text;  // the case's own string, recorded in client_disconnected
};

struct Case {
  std::string id;
  std::vector<MiddlewareKind> middleware{};  // outermost first
  EndpointSpec endpoint{};
  std::vector<std::uint64_t> body_chunks{};
  Disconnect disconnect{};
  bool send_raises_after_disconnect = false;
  std::string spec_version = "2.3";
  std::int64_t timebox_ns = 2'000'000'000;
  std::uint64_t step_budget = 100'000;
};

Case parse_case(const nlohmann::json& json);

}  // namespace asgisim::differential
