// BaseHTTPMiddleware.__call__ and call_next, 0.15.0 to 0.46.2+, one code path
// with the behaviours' differences as BaseHttpTraits flags at the lines
// where upstream differs. Python names are kept (body_stream, coro,
// receive_or_disconnect, send_no_error, close_recv_stream_on_response_sent).
// Which release has which behaviour: base_http_behaviour.cpp.
#include "asgisim/core/middleware/base_http.hpp"

#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../anyio_task_group.hpp"
#include "../python_exceptions.hpp"
#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/stream.hpp"
#include "asgisim/sim/task_group.hpp"
#include "cached_request.hpp"

namespace asgisim::core {

namespace {

// `request.wrapped_receive` of the middleware's _CachedRequest, as a Receive
// with a value form (receive_or_cancelled()).
class WrappedReceive final : public detail::ReceiveSource {
 public:
  explicit WrappedReceive(CachedRequest& request) : request_(request) {}
  std::optional<Message> receive_or_cancelled() const override {
    return request_.wrapped_receive_or_cancelled();
  }

 private:
  CachedRequest& request_;
};

// The zero-buffer stream between the downstream app and body_stream, and
// the downstream exception (`app_exc`): one per call_next, or (#2813) one
// per middleware call.
struct CallNextStreams {
  sim::MemoryObjectSendStream<Message> send_stream{};
  sim::MemoryObjectReceiveStream<Message> recv_stream{};
  std::exception_ptr app_exc{};
  bool app_exc_raised = false;  // call_next raised it (#2911's exception_already_raised)
};

std::shared_ptr<CallNextStreams> create_streams(const std::string& name) {
  auto streams = std::make_shared<CallNextStreams>();
  auto [send_stream, recv_stream] = sim::create_memory_object_stream<Message>(0, name + " call_next");
  streams->send_stream = std::move(send_stream);
  streams->recv_stream = std::move(recv_stream);
  return streams;
}

// call_next's body_stream() async generator: `async with recv_stream:
// async for message in recv_stream: ...`, then `raise app_exc`; from 0.46.0
// (raise_app_exc_after_group) only the `async for`.
class BodyStream {
 public:
  BodyStream(std::shared_ptr<CallNextStreams> streams, BaseHttpTraits traits)
      : streams_(std::move(streams)), traits_(traits) {}

  std::optional<Bytes> next() {
    if (done_) return std::nullopt;
    if (break_after_yield_) return finish();
    for (;;) {
      std::optional<Message> received;
      try {
        // The end of the stream (EndOfStream in Python) comes as nullopt.
        received = streams_->recv_stream.receive_or_end();
      } catch (...) {
        // Cancelled (the outer response was cut short) or teardown: leaving
        // `async with recv_stream` closes it all the same.
        close();
        throw;
      }
      if (!received) return finish();
      Message& message = *received;
      if (message.type != MessageType::http_response_body) {
        close();
        throw std::logic_error("assert message['type'] == 'http.response.body'");
      }
      const bool stop = traits_.stop_at_final_body && !message.more_body;
      if (!traits_.skip_empty_chunks || !message.body.empty()) {
        break_after_yield_ = stop;
        return std::move(message.body);
      }
      if (stop) return finish();
    }
  }

 private:
  std::optional<Bytes> finish() {
    close();
    if (streams_->app_exc && !traits_.raise_app_exc_after_group) std::rethrow_exception(streams_->app_exc);
    return std::nullopt;
  }
  void close() {
    done_ = true;
    if (!traits_.raise_app_exc_after_group) streams_->recv_stream.close();
  }

  std::shared_ptr<CallNextStreams> streams_;
  BaseHttpTraits traits_;
  bool break_after_yield_ = false;  // yielded the final body; the next step breaks
  bool done_ = false;
};

struct Middleware {
  App app{};
  DispatchFunction dispatch{};
  BaseHttpOptions options{};
  BaseHttpTraits traits{};
};

// One BaseHTTPMiddleware.__call__ for an http scope.
class MiddlewareCall {
 public:
  MiddlewareCall(const Middleware& middleware, Scope& scope, const Receive& receive, const Send& send)
      : middleware_(middleware),
        traits_(middleware.traits),
        scope_(scope),
        receive_(receive),
        send_(send),
        response_sent_(middleware.options.name + " response_sent") {
    if (traits_.cache_request_body) {
      cached_request_.emplace(scope, receive, /*remembers_disconnect=*/traits_.no_response_listener);
    } else {
      request_.emplace(scope, receive);
    }
    // The versions' flags only combine as upstream's code did (see traits()).
    ASGISIM_ASSERT(!traits_.raise_app_exc_after_group || !traits_.cancel_downstream);
    ASGISIM_ASSERT(!traits_.raise_app_exc_once || traits_.raise_app_exc_after_group);
    ASGISIM_ASSERT(!traits_.drop_dispatch_background || traits_.no_response_listener);
  }

  void run() {
    // `with recv_stream, send_stream:` around the task group (#2813).
    if (traits_.raise_app_exc_after_group) shared_streams_ = create_streams(middleware_.options.name);
    detail::anyio_task_group(
        [&](auto& task_group) {
          const CallNext call_next = [this, &task_group](Request& request) {
            return this->call_next(task_group, request);
          };
          Response response = middleware_.dispatch(cached_request_ ? *cached_request_ : *request_, call_next);
          if (traits_.drop_dispatch_background &&
              response.streaming_behaviour() == StreamingBehaviour::send_only) {
            response.background() = {};  // call_next's _StreamingResponse.__call__ never looked at it
          }
          if (traits_.cache_request_body) {
            const Receive wrapped_receive =
                detail::SourcedReceive{std::make_shared<WrappedReceive>(*cached_request_)};
            response(scope_, wrapped_receive, send_);
          } else {
            response(scope_, receive_, send_);
          }
          if (traits_.cancel_downstream) {
            sim::note(middleware_.options.name + ": response sent, cancelling the task group",
                      scope_.request_id);
            task_group.cancel();
          } else {
            sim::note(middleware_.options.name + ": response sent, response_sent.set()", scope_.request_id);
            response_sent_.set();
            if (shared_streams_) shared_streams_->recv_stream.close();
          }
        },
        detail::Collapse::single);
    // The body ran to its end: the response went out and the downstream
    // app was told (cancelled, or response_sent set).
    ASGISIM_ASSERT(traits_.cancel_downstream || response_sent_.is_set());
    // `if app_exc is not None [and not exception_already_raised]: raise app_exc` (#2812, #2911).
    if (shared_streams_ && shared_streams_->app_exc &&
        !(traits_.raise_app_exc_once && shared_streams_->app_exc_raised)) {
      std::rethrow_exception(shared_streams_->app_exc);
    }
  }

 private:
  template <class TaskGroup>
  Response call_next(TaskGroup& task_group, Request& request) {
    const std::string& name = middleware_.options.name;
    std::shared_ptr<CallNextStreams> streams = shared_streams_;
    if (!streams) {
      streams = create_streams(name);
      // Python's closures keep the receive end open (never closed by garbage
      // collection); so does this call, until it ends.
      streams_.push_back(streams);
    }

    Receive downstream_receive;
    Send downstream_send;
    if (traits_.cancel_downstream) {
      downstream_receive = request.receive();
      downstream_send = [streams](Message message) { streams->send_stream.send(std::move(message)); };
    } else {
      // 0.28 reads the middleware's own _CachedRequest whatever request
      // call_next was given; before, request.receive.
      Receive inner =
          traits_.cache_request_body
              ? Receive(detail::SourcedReceive{std::make_shared<WrappedReceive>(*cached_request_)})
              : request.receive();
      downstream_receive = [this, inner = std::move(inner)] { return receive_or_disconnect(inner); };
      downstream_send = [streams](Message message) {  // send_no_error
        try {
          streams->send_stream.send(std::move(message));
        } catch (const sim::BrokenResourceError&) {
          // "recv_stream has been closed, i.e. response_sent has been set."
        }
      };
      if (!shared_streams_) {  // #2813 closes the shared stream in the task group's body instead
        task_group.start_soon(name + " close_recv_stream_on_response_sent", [this, streams] {
          response_sent_.wait();
          streams->recv_stream.close();
        });
      }
    }
    task_group.start_soon(name + " coro", [this, streams, downstream_receive, downstream_send] {
      // async with send_stream: try: await self.app(...) except Exception as exc: app_exc = exc
      // (closed by a guard: a Cancelled goes on without being caught and rethrown).
      struct CloseSendStream {
        CallNextStreams& streams;
        ~CloseSendStream() { streams.send_stream.close(); }
      } close_send_stream{*streams};
      try {
        middleware_.app(scope_, downstream_receive, downstream_send);
      } catch (const sim::ExceptionGroup& group) {
        if (!detail::caught_by_except_exception(group)) throw;  // a BaseException in Python
        streams->app_exc = std::current_exception();
      } catch (const std::exception&) {
        streams->app_exc = std::current_exception();
      }
    });

    // `except anyio.EndOfStream:` comes as nullopt.
    std::optional<Message> received = streams->recv_stream.receive_or_end();
    if (!received) {
      if (streams->app_exc) {
        streams->app_exc_raised = true;
        std::rethrow_exception(streams->app_exc);
      }
      report_error("No response returned.");
      throw std::runtime_error("No response returned.");
    }
    Message& message = *received;
    if (message.type != MessageType::http_response_start) {
      throw std::logic_error("assert message['type'] == 'http.response.start'");
    }
    auto body_stream = std::make_shared<BodyStream>(streams, traits_);
    StreamingResponse response(
        [body_stream] { return body_stream->next(); }, {.status_code = message.status},
        traits_.no_response_listener ? StreamingBehaviour::send_only : StreamingBehaviour::listen);
    response.headers() = std::move(message.headers);  // response.raw_headers = message["headers"]
    return response;
  }

  // receive_or_disconnect (0.21+): whichever comes first, the next message
  // of `inner` or response_sent; once the response is sent, http.disconnect.
  Message receive_or_disconnect(const Receive& inner) {
    if (response_sent_.is_set()) return Message::disconnect();
    Message message;
    detail::anyio_task_group([&](auto& task_group) {
      task_group.start_soon(middleware_.options.name + " response_sent.wait", [&] {
        task_group.cancelled_wait_hop();
        response_sent_.wait();
        task_group.cancel();
      });
      message = inner();
      task_group.cancel();
    });
    if (response_sent_.is_set()) return Message::disconnect();
    return message;
  }

  void report_error(const std::string& what) {
    observe(Observation{.kind = ObservationKind::error_raised,
                        .request = scope_.request_id,
                        .layer = middleware_.options.name,
                        .message = std::nullopt,
                        .detail = what,
                        .reporter = Reporter::middleware});
  }

  const Middleware& middleware_;
  const BaseHttpTraits traits_;
  Scope& scope_;
  const Receive& receive_;
  const Send& send_;
  std::optional<Request> request_;               // dispatch's `Request(scope, receive=receive)` up to 0.27
  std::optional<CachedRequest> cached_request_;  // `_CachedRequest(scope, receive)` from 0.28
  sim::Event response_sent_;
  std::vector<std::shared_ptr<CallNextStreams>> streams_;
  std::shared_ptr<CallNextStreams> shared_streams_;  // raise_app_exc_after_group: the call's one pair
};

}  // namespace

App base_http_middleware(App app, DispatchFunction dispatch, BaseHttpOptions options) {
  if (!app || !dispatch)
    throw std::invalid_argument("base_http_middleware needs an app and a dispatch function");
  auto middleware = std::make_shared<const Middleware>(Middleware{.app = std::move(app),
                                                                  .dispatch = std::move(dispatch),
                                                                  .options = options,
                                                                  .traits = traits(options.behaviour)});
  return [middleware](Scope& scope, const Receive& receive, const Send& send) {
    if (scope.type != "http") {
      middleware->app(scope, receive, send);
      return;
    }
    MiddlewareCall call(*middleware, scope, receive, send);
    call.run();
  };
}

DispatchFunction passthrough_dispatch() {
  return [](Request& request, const CallNext& call_next) { return call_next(request); };
}

}  // namespace asgisim::core
