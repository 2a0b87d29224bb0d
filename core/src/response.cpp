// Responses (Starlette 0.26.1; StreamingResponse's 0.42+ branch) and
// background tasks, with their observations.
#include "asgisim/core/response.hpp"

#include <boost/context/fiber.hpp>

#include <charconv>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "anyio_task_group.hpp"
#include "asgisim/core/async_generator.hpp"
#include "asgisim/core/datastructures.hpp"
#include "asgisim/core/json_text.hpp"
#include "asgisim/core/request.hpp"
#include "asgisim/core/run_in_threadpool.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::core {

// ---- background tasks ----------------------------------------------------------

BackgroundTask::BackgroundTask(std::string name, std::function<void()> function, BackgroundOptions options)
    : name_(std::move(name)), function_(std::move(function)), options_(options) {
  if (!function_) throw std::invalid_argument("BackgroundTask '" + name_ + "' has no function");
  report(ObservationKind::background_scheduled);
}

void BackgroundTask::report(ObservationKind kind, std::string detail) const {
  observe({.kind = kind,
           .request = options_.request,
           .layer = "BackgroundTask",
           .detail = detail.empty() ? name_ : name_ + ": " + detail,
           .reporter = Reporter::background_task});
}

void BackgroundTask::operator()() const {
  report(ObservationKind::background_started);
  try {
    if (options_.sync) {
      if (options_.threadpool == nullptr) {
        throw std::logic_error("sync BackgroundTask '" + name_ + "' needs a ThreadPoolRunner");
      }
      options_.threadpool->run_sync(function_);
    } else {
      function_();
    }
  } catch (const sim::Cancelled&) {
    report(ObservationKind::background_cancelled);
    throw;
  } catch (const sim::TaskUnwound&) {
    throw;  // the run is being torn down; nothing to report
  } catch (const boost::context::detail::forced_unwind&) {
    throw;
  } catch (...) {
    report(ObservationKind::error_raised, sim::describe(std::current_exception()));
    throw;
  }
  report(ObservationKind::background_finished);
}

void BackgroundTasks::operator()() const {
  for (const BackgroundTask& task : tasks_) task();
}

// ---- Response --------------------------------------------------------------------

StreamingBehaviour streaming_behaviour_for_starlette(int major, int minor) {
  // 0.42 dropped the disconnect listener when the server advertises ASGI 2.4.
  return major > 0 || minor >= 42 ? StreamingBehaviour::by_spec_version : StreamingBehaviour::listen;
}

std::string_view to_string(StreamingBehaviour behaviour) {
  switch (behaviour) {
    case StreamingBehaviour::listen:
      return "listen";
    case StreamingBehaviour::no_listen:
      return "no_listen";
    case StreamingBehaviour::by_spec_version:
      return "by_spec_version";
    case StreamingBehaviour::send_only:
      return "send_only";
  }
  return "?";
}

Response::Response(Bytes content, ResponseInit init)
    : Response(std::move(content), std::move(init), std::nullopt) {}

Response::Response(std::optional<Bytes> body, ResponseInit init, std::optional<std::string> class_media_type)
    : status_code_(init.status_code),
      body_(std::move(body)),
      media_type_(init.media_type ? std::move(init.media_type) : std::move(class_media_type)),
      background_(std::move(init.background)) {
  init_headers(std::move(init.headers));
}

void Response::init_headers(std::optional<Headers> headers) {
  bool populate_content_length = true;
  bool populate_content_type = true;
  Headers raw;
  if (headers) {
    for (auto& [name, value] : *headers) {
      std::string lower = name;
      for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      if (lower == "content-length") populate_content_length = false;
      if (lower == "content-type") populate_content_type = false;
      raw.emplace_back(std::move(lower), std::move(value));
    }
  }
  const bool bodiless_status = status_code_ < 200 || status_code_ == 204 || status_code_ == 304;
  if (body_ && populate_content_length && !bodiless_status) {
    raw.emplace_back("content-length", std::to_string(body_->size()));
  }
  if (media_type_ && populate_content_type) {
    std::string content_type = *media_type_;
    if (content_type.rfind("text/", 0) == 0) content_type += "; charset=" + charset_;
    raw.emplace_back("content-type", std::move(content_type));
  }
  headers_ = std::move(raw);
}

void Response::set_header(std::string_view name, std::string value) {
  core::set_header(headers_, name, std::move(value));
}

void Response::set_streaming(BodyIterator body_iterator, StreamingBehaviour behaviour) {
  if (!body_iterator) throw std::invalid_argument("StreamingResponse needs a body iterator");
  body_iterator_ = std::move(body_iterator);
  behaviour_ = behaviour;
}

void Response::operator()(Scope& scope, const Receive& receive, const Send& send) const {
  if (body_iterator_) {
    call_streaming(scope, receive, send);
  } else {
    send(Message::start(status_code_, headers_));
    send(Message::body_chunk(body_.value_or(Bytes{})));
  }
  if (!background_.empty()) background_();
}

void Response::stream_response(const Send& send) const {
  send(Message::start(status_code_, headers_));
  while (std::optional<Bytes> chunk = body_iterator_()) {
    try {
      send(Message::body_chunk(std::move(*chunk), /*more_body=*/true));
    } catch (...) {
      // `async for chunk in self.body_iterator` left by an exception: the
      // generator stays at its yield, held by the exception (until the loop's
      // shutdown inside a task group, else until the server drops it).
      abandoned_by_exception(body_iterator_);
      throw;
    }
  }
  send(Message::body_chunk(Bytes{}, /*more_body=*/false));
}

namespace {

// tuple(map(int, spec_version.split("."))) >= (2, 4)
bool spec_at_least_2_4(const std::string& spec_version) {
  std::vector<long> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = std::min(spec_version.find('.', start), spec_version.size());
    const std::string_view part = std::string_view(spec_version).substr(start, dot - start);
    long value = 0;
    const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || error != std::errc() || end != part.data() + part.size() || value < 0) {
      throw std::invalid_argument("invalid literal for int() in spec_version '" + spec_version + "'");
    }
    parts.push_back(value);
    if (dot == spec_version.size()) break;
    start = dot + 1;
  }
  const std::vector<long> threshold{2, 4};
  return parts >= threshold;
}

}  // namespace

void Response::call_streaming(Scope& scope, const Receive& receive, const Send& send) const {
  if (behaviour_ == StreamingBehaviour::send_only) {
    stream_response(send);
    return;
  }
  bool listen = behaviour_ == StreamingBehaviour::listen;
  if (behaviour_ == StreamingBehaviour::by_spec_version) listen = !spec_at_least_2_4(scope.spec_version);
  if (!listen) {
    try {
      stream_response(send);
    } catch (const ClientDisconnected&) {
      throw ClientDisconnect();
    }
    return;
  }
  detail::anyio_task_group(
      [&](auto& group) {
        group.start_soon("StreamingResponse.stream_response", [&] {
          stream_response(send);
          group.cancel();
        });
        // listen_for_disconnect, in the task group's own body. Its receive is
        // cancelled as a matter of course once the body is out: read as a
        // value, the group takes it as the CancelledError it stands for.
        for (;;) {
          const std::optional<Message> message = receive_or_cancelled(receive);
          if (!message) return sim::BodyEnd::cancelled;
          if (message->type == MessageType::http_disconnect) break;
        }
        group.cancel();
        return sim::BodyEnd::returned;
      },
      detail::Collapse::single);
}

PlainTextResponse::PlainTextResponse(Bytes content, ResponseInit init)
    : Response(std::move(content), std::move(init), "text/plain") {}

HTMLResponse::HTMLResponse(Bytes content, ResponseInit init)
    : Response(std::move(content), std::move(init), "text/html") {}

JSONResponse::JSONResponse(std::string json_text, ResponseInit init)
    : Response(check_json(json_text), std::move(init), "application/json") {}

RedirectResponse::RedirectResponse(std::string_view url, int status_code, std::optional<Headers> headers,
                                   BackgroundTasks background)
    : Response(Bytes{}, ResponseInit{.status_code = status_code,
                                     .headers = std::move(headers),
                                     .background = std::move(background)}) {
  set_header("location", quote(url, ":/%#?=@[]!$&'()*+,;"));
}

StreamingResponse::StreamingResponse(BodyIterator content, ResponseInit init, StreamingBehaviour behaviour)
    : Response(std::nullopt, std::move(init), std::nullopt) {
  set_streaming(std::move(content), behaviour);
}

BodyIterator iterate_in_threadpool(BodyIterator sync_iterator, ThreadPoolRunner& pool) {
  if (!sync_iterator) throw std::invalid_argument("iterate_in_threadpool needs an iterator");
  return [iterator = std::move(sync_iterator), &pool]() -> std::optional<Bytes> {
    return run_in_threadpool<std::optional<Bytes>>(pool, [&] { return iterator(); });
  };
}

static_assert(sizeof(PlainTextResponse) == sizeof(Response), "subclasses only choose defaults");
static_assert(sizeof(StreamingResponse) == sizeof(Response), "subclasses only choose defaults");

}  // namespace asgisim::core
