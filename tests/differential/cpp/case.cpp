// Parsing a case line; the names are those of CASE_FORMAT.md section 1.
#include "case.hpp"

#include <array>
#include <charconv>
#include <string_view>
#include <utility>

namespace asgisim::differential {

namespace {

template <class Enum, std::size_t N>
Enum parse_enum(const nlohmann::json& value, const std::array<std::pair<std::string_view, Enum>, N>& names,
                std::string_view path) {
  const std::string text = value.get<std::string>();
  for (const auto& [name, parsed] : names) {
    if (name == text) return parsed;
  }
  throw CaseError(std::string(path) + ": unknown value '" + text + "'");
}

int parse_count(std::string_view text, std::string_view path) {
  int value = -1;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) {
    throw CaseError(std::string(path) + ": bad count '" + std::string(text) + "'");
  }
  return value;
}

Disconnect parse_disconnect(const std::string& text) {
  Disconnect disconnect{.text = text};
  const std::string_view view(text);
  if (view == "never") return disconnect;
  if (view == "before_request") {
    disconnect.kind = DisconnectKind::before_request;
    return disconnect;
  }
  for (const auto& [prefix, kind] :
       {std::pair<std::string_view, DisconnectKind>{"after_send:", DisconnectKind::after_send},
        std::pair<std::string_view, DisconnectKind>{"mid_body:", DisconnectKind::mid_body}}) {
    if (view.substr(0, prefix.size()) == prefix) {
      disconnect.kind = kind;
      disconnect.count = parse_count(view.substr(prefix.size()), "client.disconnect");
      return disconnect;
    }
  }
  throw CaseError("client.disconnect: unknown point '" + text + "'");
}

constexpr std::array<std::pair<std::string_view, MiddlewareKind>, 5> kMiddleware{{
    {"base_http_passthrough", MiddlewareKind::base_http_passthrough},
    {"base_http_reads_body", MiddlewareKind::base_http_reads_body},
    {"pure_asgi_cm", MiddlewareKind::pure_asgi_cm},
    {"server_error", MiddlewareKind::server_error},
    {"exception", MiddlewareKind::exception},
}};
constexpr std::array<std::pair<std::string_view, ReadsBody>, 3> kReadsBody{
    {{"none", ReadsBody::none}, {"body", ReadsBody::body}, {"stream", ReadsBody::stream}}};
constexpr std::array<std::pair<std::string_view, Raises>, 4> kRaises{
    {{"never", Raises::never},
     {"before_start", Raises::before_start},
     {"in_stream", Raises::in_stream},
     {"in_background", Raises::in_background}}};
constexpr std::array<std::pair<std::string_view, bool>, 2> kSync{{{"async", false}, {"sync", true}}};
constexpr std::array<std::pair<std::string_view, bool>, 2> kStreaming{
    {{"plain", false}, {"streaming", true}}};
constexpr std::array<std::pair<std::string_view, bool>, 2> kRaise{{{"drop", false}, {"raise", true}}};

EndpointSpec parse_endpoint(const nlohmann::json& json) {
  EndpointSpec endpoint{
      .sync = parse_enum(json.at("kind"), kSync, "stack.endpoint.kind"),
      .streaming = parse_enum(json.at("response"), kStreaming, "stack.endpoint.response"),
      .chunks = json.at("chunks").get<int>(),
      .chunk_pause = json.at("chunk_pause").get<int>(),
      .reads_body = parse_enum(json.at("reads_body"), kReadsBody, "stack.endpoint.reads_body"),
      .raises = parse_enum(json.at("raises"), kRaises, "stack.endpoint.raises"),
  };
  if (const nlohmann::json& background = json.at("background"); !background.is_null()) {
    endpoint.background =
        Background{.sync = parse_enum(background.at("kind"), kSync, "stack.endpoint.background.kind"),
                   .pauses = background.at("pauses").get<int>()};
  }
  if (endpoint.chunks < 0 || endpoint.chunk_pause < 0) throw CaseError("stack.endpoint: negative count");
  if (json.contains("cleanup")) {
    endpoint.cleanup = json.at("cleanup").get<bool>();
    if (endpoint.cleanup && (endpoint.sync || !endpoint.streaming))
      throw CaseError(
          "stack.endpoint.cleanup: only an async streaming endpoint's body iterator has a finally");
  }
  return endpoint;
}

}  // namespace

Case parse_case(const nlohmann::json& json) {
  if (json.at("format").get<int>() != 1) throw CaseError("format: not 1");
  Case parsed{.id = json.at("id").get<std::string>()};
  for (const nlohmann::json& entry : json.at("stack").at("middleware")) {
    parsed.middleware.push_back(parse_enum(entry.at("kind"), kMiddleware, "stack.middleware.kind"));
  }
  parsed.endpoint = parse_endpoint(json.at("stack").at("endpoint"));
  const nlohmann::json& client = json.at("client");
  parsed.body_chunks = client.at("body_chunks").get<std::vector<std::uint64_t>>();
  parsed.disconnect = parse_disconnect(client.at("disconnect").get<std::string>());
  const nlohmann::json& server = json.at("server");
  parsed.send_raises_after_disconnect =
      parse_enum(server.at("send_after_disconnect"), kRaise, "server.send_after_disconnect");
  parsed.spec_version = server.at("spec_version").get<std::string>();
  if (json.contains("limits")) {
    const nlohmann::json& limits = json.at("limits");
    if (limits.contains("timebox_s")) {
      parsed.timebox_ns = static_cast<std::int64_t>(limits.at("timebox_s").get<double>() * 1e9);
    }
    if (limits.contains("step_budget")) parsed.step_budget = limits.at("step_budget").get<std::uint64_t>();
  }
  return parsed;
}

}  // namespace asgisim::differential
