// stack.py in C++: each function below is the twin of the one of the same
// name there.
#include "case_stack.hpp"

#include <memory>
#include <string>
#include <utility>

#include "asgisim/core/async_generator.hpp"
#include "asgisim/core/endpoints.hpp"
#include "asgisim/core/middleware/errors.hpp"
#include "asgisim/core/middleware/pure_asgi.hpp"
#include "asgisim/core/request.hpp"
#include "asgisim/core/response.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::differential {

namespace {

// `except BaseException as exc: record(...); raise` for everything a Python
// coroutine could see; the simulation's teardown passes unrecorded.
template <class Record>
[[noreturn]] void record_and_rethrow(Record&& record) {
  const std::exception_ptr error = std::current_exception();
  if (std::optional<std::string> name = exception_name(error)) record(*name);
  std::rethrow_exception(error);
}

// anyio.sleep(0): a bare yield, cancellable.
void sleep_zero() { sim::checkpoint(); }

core::App base_http(core::App app, int index, bool reads_body, core::BaseHttpBehaviour behaviour,
                    Recorder& record) {
  core::DispatchFunction dispatch = [index, reads_body, &record](core::Request& request,
                                                                 const core::CallNext& call_next) {
    record("dispatch_started", {{"mw", index}});
    std::optional<core::Response> response;
    try {
      if (reads_body) {
        const core::Bytes body = request.body();
        record("dispatch_body_read", {{"mw", index}, {"bytes", body.size()}});
      }
      response.emplace(call_next(request));
    } catch (...) {
      record_and_rethrow([&](const std::string& name) {
        record("dispatch_raised", {{"mw", index}, {"exception", name}});
      });
    }
    record("call_next_returned", {{"mw", index}, {"status", response->status_code()}});
    return std::move(*response);
  };
  return core::base_http_middleware(
      std::move(app), std::move(dispatch),
      {.behaviour = behaviour, .name = "BaseHTTPMiddleware[" + std::to_string(index) + "]"});
}

// _PureAsgiContextMiddleware: `async with ctx: await app(...)` through the
// model's context_manager_middleware. __aenter__ records and returns without
// awaiting, so recording at the start of the body is the same point;
// __aexit__ gets the body's exception from the body's wrapper.
core::App pure_asgi_cm(core::App app, int index, Recorder& record) {
  struct Exit {
    std::exception_ptr body_error{};
  };
  auto exit = std::make_shared<Exit>();
  core::App body = [app = std::move(app), index, exit, &record](
                       core::Scope& scope, const core::Receive& receive, const core::Send& send) {
    record("context_entered", {{"mw", index}});
    exit->body_error = nullptr;
    try {
      app(scope, receive, send);
    } catch (...) {
      exit->body_error = std::current_exception();
      throw;
    }
  };
  core::ContextManagerMiddlewareOptions options{
      .name = "ContextManagerMiddleware[" + std::to_string(index) + "]",
      .exit = core::ContextExit::async_awaits,
      .exit_work =
          [index, exit, &record] {
            record("context_exit_started", {{"mw", index}, {"exception", exception_json(exit->body_error)}});
            exit->body_error = nullptr;
            try {
              sleep_zero();
            } catch (...) {
              record_and_rethrow([&](const std::string& name) {
                record("context_exit_cancelled", {{"mw", index}, {"exception", name}});
              });
            }
            record("context_exited", {{"mw", index}});
          },
  };
  return core::context_manager_middleware(std::move(body), std::move(options));
}

core::BackgroundTask background(const Background& spec, bool raises, core::ThreadPoolRunner& pool,
                                Recorder& record) {
  if (spec.sync) {
    return core::BackgroundTask("work_in_thread",
                                [raises, &record] {
                                  record("background_started");
                                  if (raises) {
                                    record("background_raised", {{"exception", "AppError"}});
                                    throw AppError();
                                  }
                                  record("background_finished");
                                },
                                {.sync = true, .threadpool = &pool});
  }
  return core::BackgroundTask("work", [pauses = spec.pauses, raises, &record] {
    record("background_started");
    try {
      for (int pause = 0; pause < pauses; ++pause) sleep_zero();
    } catch (...) {
      record_and_rethrow([&](const std::string& name) {
        record("background_cancelled", {{"exception", name}});
      });
    }
    if (raises) {
      record("background_raised", {{"exception", "AppError"}});
      throw AppError();
    }
    record("background_finished");
  });
}

// The body iterator: for each chunk, `chunk_pause` sleeps (async only), then
// stream_chunk and the chunk; after the last one, in_stream raises.
core::BodyIterator body_iterator(const EndpointSpec& spec, Recorder& record) {
  struct State {
    int next = 0;
    bool finished = false;
  };
  auto state = std::make_shared<State>();
  const bool raises = spec.raises == Raises::in_stream;
  const int pause = spec.sync ? 0 : spec.chunk_pause;
  return [state, chunks = spec.chunks, pause, raises, &record]() -> std::optional<core::Bytes> {
    if (state->finished) return std::nullopt;  // an exhausted generator stays exhausted
    if (state->next >= chunks) {
      state->finished = true;
      if (raises) throw AppError();
      return std::nullopt;
    }
    const int index = state->next++;
    for (int step = 0; step < pause; ++step) sleep_zero();
    record("stream_chunk", {{"index", index}});
    return "chunk-" + std::to_string(index);
  };
}

// cleanup: the iterator's `finally` records stream_closed, how (exhausted,
// the exception's name, GeneratorExit) and by whom (inline, finalizer,
// shutdown).
core::BodyIterator with_cleanup(core::BodyIterator body, Recorder& record) {
  return core::async_generator(std::move(body), [&record](const core::GeneratorClose& close) {
    std::string how(core::to_string(close.kind));
    if (close.kind == core::GeneratorExitKind::raised) how = exception_name(close.error).value_or(how);
    record("stream_closed", {{"how", how}, {"by", std::string(core::to_string(close.by))}});
  });
}

core::Response make_response(const EndpointSpec& spec, core::StreamingBehaviour streaming,
                             core::ThreadPoolRunner& pool, Recorder& record) {
  core::BackgroundTasks tasks;
  if (spec.background)
    tasks = background(*spec.background, spec.raises == Raises::in_background, pool, record);
  if (!spec.streaming) return core::PlainTextResponse("hello", {.background = std::move(tasks)});
  core::BodyIterator content = body_iterator(spec, record);
  if (spec.cleanup) content = with_cleanup(std::move(content), record);
  if (spec.sync) content = core::iterate_in_threadpool(std::move(content), pool);
  return core::StreamingResponse(std::move(content),
                                 {.media_type = "text/plain", .background = std::move(tasks)}, streaming);
}

core::Endpoint endpoint(const EndpointSpec& spec, core::StreamingBehaviour streaming,
                        core::ThreadPoolRunner& pool, Recorder& record) {
  if (spec.sync) {
    return core::Endpoint::sync(
        [spec, streaming, &pool, &record](core::Request&) {
          record("endpoint_started");
          if (spec.raises == Raises::before_start) {
            record("endpoint_raised", {{"exception", "AppError"}});
            throw AppError();
          }
          core::Response response = make_response(spec, streaming, pool, record);
          record("endpoint_returned");
          return response;
        },
        pool);
  }
  return core::Endpoint([spec, streaming, &pool, &record](core::Request& request) {
    record("endpoint_started");
    try {
      if (spec.reads_body == ReadsBody::body) {
        const core::Bytes body = request.body();
        record("endpoint_body_read", {{"bytes", body.size()}});
      } else if (spec.reads_body == ReadsBody::stream) {
        std::size_t size = 0;
        for (auto stream = request.stream(); auto part = stream.next();) size += part->size();
        record("endpoint_body_read", {{"bytes", size}});
      }
      if (spec.raises == Raises::before_start) throw AppError();
    } catch (...) {
      record_and_rethrow([&](const std::string& name) { record("endpoint_raised", {{"exception", name}}); });
    }
    core::Response response = make_response(spec, streaming, pool, record);
    record("endpoint_returned");
    return response;
  });
}

}  // namespace

core::App build_case_app(const Case& the_case, core::BaseHttpBehaviour behaviour,
                         core::ThreadPoolRunner& pool, Recorder& record, core::StreamingBehaviour streaming) {
  core::App app = core::request_response(endpoint(the_case.endpoint, streaming, pool, record));
  for (int index = static_cast<int>(the_case.middleware.size()) - 1; index >= 0; --index) {
    switch (the_case.middleware[static_cast<std::size_t>(index)]) {
      case MiddlewareKind::base_http_passthrough:
        app = base_http(std::move(app), index, /*reads_body=*/false, behaviour, record);
        break;
      case MiddlewareKind::base_http_reads_body:
        app = base_http(std::move(app), index, /*reads_body=*/true, behaviour, record);
        break;
      case MiddlewareKind::pure_asgi_cm:
        app = pure_asgi_cm(std::move(app), index, record);
        break;
      case MiddlewareKind::server_error:
        app = core::server_error_middleware(std::move(app));
        break;
      case MiddlewareKind::exception:
        app = core::exception_middleware(std::move(app));
        break;
    }
  }
  return app;
}

}  // namespace asgisim::differential
