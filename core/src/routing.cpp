// Route, Mount and Router as starlette/routing.py (0.26.1) has them.
#include "asgisim/core/routing.hpp"

#include <boost/context/fiber.hpp>

#include <algorithm>
#include <exception>

#include "asgisim/core/datastructures.hpp"
#include "asgisim/core/response.hpp"
#include "asgisim/sim/errors.hpp"

namespace asgisim::core {

namespace {

std::string join_keys(const PathParams& params) {
  std::string keys;
  for (const auto& [key, value] : params) keys += (keys.empty() ? "" : ", ") + key;
  return keys;
}

// Python keyword arguments cannot repeat; a C++ caller could.
void require_unique(const PathParams& params) {
  std::set<std::string> seen;
  for (const auto& [key, value] : params) {
    if (!seen.insert(key).second) throw std::invalid_argument("path parameter '" + key + "' given twice");
  }
}

const PathParam* find_param(const PathParams& params, std::string_view key) {
  for (const auto& [name, value] : params) {
    if (name == key) return &value;
  }
  return nullptr;
}

// path_params[key] = value: in place if present, else appended.
void assign_param(PathParams& params, const std::string& key, PathParam value) {
  for (auto& [name, existing] : params) {
    if (name == key) {
      existing = std::move(value);
      return;
    }
  }
  params.emplace_back(key, std::move(value));
}

std::string rstrip_slashes(std::string text) {
  while (!text.empty() && text.back() == '/') text.pop_back();
  return text;
}

void apply_child_scope(Scope& scope, ChildScope child) {
  scope.path_params = std::move(child.path_params);
  scope.endpoint_name = std::move(child.endpoint_name);
  if (child.root_path) scope.root_path = std::move(*child.root_path);
  if (child.path) scope.path = std::move(*child.path);
}

// Matched segments converted and merged over the scope's existing params.
std::map<std::string, PathParam> merged_params(const Scope& scope, const CompiledPath& compiled,
                                               const std::vector<std::pair<std::string, std::string>>& raw) {
  std::map<std::string, PathParam> params = scope.path_params;
  for (const auto& [name, text] : raw) params[name] = convertor_convert(*compiled.convertor_of(name), text);
  return params;
}

void respond_not_found(Scope& scope, const Receive& receive, const Send& send) {
  PlainTextResponse("Not Found", {.status_code = 404})(scope, receive, send);
}

}  // namespace

NoMatchFound::NoMatchFound(std::string_view name, const PathParams& params)
    : std::runtime_error("No route exists for name \"" + std::string(name) + "\" and params \"" +
                         join_keys(params) + "\".") {}

void BaseRoute::operator()(Scope& scope, const Receive& receive, const Send& send) const {
  ChildScope child;
  if (matches(scope, child) == Match::none) {
    if (scope.type == "http") respond_not_found(scope, receive, send);
    return;
  }
  apply_child_scope(scope, std::move(child));
  handle(scope, receive, send);
}

// ---- Route -------------------------------------------------------------------------

Route::Route(std::string path, Endpoint endpoint, RouteOptions options)
    : Route(std::move(path), request_response(std::move(endpoint)),
            options.methods ? std::move(options.methods) : std::vector<std::string>{"GET"},
            std::move(options.name)) {}

Route::Route(std::string path, App app, RouteOptions options)
    : Route(std::move(path), std::move(app), std::move(options.methods), std::move(options.name)) {}

Route::Route(std::string path, App app, std::optional<std::vector<std::string>> methods, std::string name)
    : path_(std::move(path)), name_(std::move(name)), app_(std::move(app)) {
  if (path_.empty() || path_.front() != '/') throw std::invalid_argument("Routed paths must start with '/'");
  if (!app_) throw std::invalid_argument("Route '" + path_ + "' has no app");
  if (methods) {
    for (std::string method : *methods) {
      for (char& c : method) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
      methods_.insert(std::move(method));
    }
    if (methods_.count("GET") != 0) methods_.insert("HEAD");
  }
  compiled_ = compile_path(path_);
}

Match Route::matches(const Scope& scope, ChildScope& child) const {
  if (scope.type != "http") return Match::none;
  const auto raw = match_path(compiled_, scope.path);
  if (!raw) return Match::none;
  child.path_params = merged_params(scope, compiled_, *raw);
  child.endpoint_name = name_;
  if (!methods_.empty() && methods_.count(scope.method) == 0) return Match::partial;
  return Match::full;
}

URLPath Route::url_path_for(std::string_view name, PathParams params) const {
  require_unique(params);
  std::set<std::string> seen;
  for (const auto& [key, value] : params) seen.insert(key);
  std::set<std::string> expected;
  for (const auto& [key, type] : compiled_.params) expected.insert(key);
  if (name != name_ || seen != expected) throw NoMatchFound(name, params);
  std::string path = replace_params(compiled_.format, compiled_, params);
  if (!params.empty()) throw std::logic_error("url_path_for left parameters unused: " + join_keys(params));
  return URLPath{.path = std::move(path), .protocol = "http"};
}

void Route::handle(Scope& scope, const Receive& receive, const Send& send) const {
  if (!methods_.empty() && methods_.count(scope.method) == 0) {
    std::string allow;
    for (const auto& method : methods_) allow += (allow.empty() ? "" : ", ") + method;
    PlainTextResponse response("Method Not Allowed",
                               {.status_code = 405, .headers = Headers{{"Allow", std::move(allow)}}});
    response(scope, receive, send);
    return;
  }
  app_(scope, receive, send);
}

// ---- Mount -------------------------------------------------------------------------

Mount::Mount(std::string path, App app, std::optional<std::string> name)
    : path_(rstrip_slashes(path)), name_(std::move(name)), app_(std::move(app)) {
  if (!path.empty() && path.front() != '/') throw std::invalid_argument("Routed paths must start with '/'");
  if (!app_) throw std::invalid_argument("Mount '" + path + "' has no app");
  compiled_ = compile_path(path_ + "/{path:path}");
}

Mount::Mount(std::string path, std::shared_ptr<Router> router, std::optional<std::string> name)
    : Mount(std::move(path), router ? as_app(router) : App{}, std::move(name)) {
  router_ = std::move(router);
}

Mount::Mount(std::string path, Routes routes, std::optional<std::string> name)
    : Mount(std::move(path), std::make_shared<Router>(std::move(routes)), std::move(name)) {}

Match Mount::matches(const Scope& scope, ChildScope& child) const {
  if (scope.type != "http") return Match::none;
  const auto raw = match_path(compiled_, scope.path);
  if (!raw) return Match::none;
  std::map<std::string, PathParam> params = merged_params(scope, compiled_, *raw);
  std::string remaining_path;
  for (const auto& [name, text] : *raw) {
    if (name == "path") remaining_path = "/" + text;
  }
  // The "path" parameter is the remaining path, not a parameter of the app.
  if (scope.path_params.count("path") != 0) {
    params["path"] = scope.path_params.at("path");
  } else {
    params.erase("path");
  }
  const std::string matched_path = scope.path.substr(0, scope.path.size() - remaining_path.size());
  child.path_params = std::move(params);
  child.endpoint_name = name_.value_or("");
  child.root_path = scope.root_path + matched_path;
  child.path = std::move(remaining_path);
  return Match::full;
}

URLPath Mount::url_path_for(std::string_view name, PathParams params) const {
  require_unique(params);
  if (name_ && name == *name_ && find_param(params, "path") != nullptr) {
    std::string path = python_str(*find_param(params, "path"));
    const std::size_t first_kept = path.find_first_not_of('/');
    path.erase(0, first_kept == std::string::npos ? path.size() : first_kept);  // lstrip("/")
    assign_param(params, "path", std::move(path));
    std::string url = replace_params(compiled_.format, compiled_, params);
    if (params.empty()) return URLPath{.path = std::move(url), .protocol = ""};
  } else if (!name_ || name.substr(0, name_->size() + 1) == *name_ + ":") {
    const std::string_view remaining_name = name_ ? name.substr(name_->size() + 1) : name;
    std::optional<PathParam> path_kwarg;
    if (const PathParam* given = find_param(params, "path")) path_kwarg = *given;
    assign_param(params, "path", std::string());
    const std::string path_prefix = rstrip_slashes(replace_params(compiled_.format, compiled_, params));
    if (path_kwarg) assign_param(params, "path", std::move(*path_kwarg));
    if (router_) {
      for (const AnyRoute& route : router_->routes()) {
        try {
          URLPath url = route->url_path_for(remaining_name, params);
          return URLPath{.path = path_prefix + url.path, .protocol = url.protocol};
        } catch (const NoMatchFound&) {
        }
      }
    }
  }
  throw NoMatchFound(name, params);
}

void Mount::handle(Scope& scope, const Receive& receive, const Send& send) const {
  app_(scope, receive, send);
}

// ---- Router ------------------------------------------------------------------------

Router::Router(Routes routes, RouterOptions options)
    : routes_(std::move(routes)), options_(std::move(options)) {}

void Router::operator()(Scope& scope, const Receive& receive, const Send& send) const {
  if (scope.type == "lifespan") {
    lifespan(scope, receive, send);
    return;
  }
  if (scope.type != "http")
    throw std::invalid_argument("Router cannot handle scope type '" + scope.type + "'");

  const BaseRoute* partial = nullptr;
  ChildScope partial_scope;
  for (const AnyRoute& route : routes_) {
    ChildScope child;
    const Match match = route->matches(scope, child);
    if (match == Match::full) {
      apply_child_scope(scope, std::move(child));
      route->handle(scope, receive, send);
      return;
    }
    if (match == Match::partial && partial == nullptr) {
      partial = &*route;
      partial_scope = std::move(child);
    }
  }
  if (partial != nullptr) {
    // The path matched but not the method: the route answers 405.
    apply_child_scope(scope, std::move(partial_scope));
    partial->handle(scope, receive, send);
    return;
  }
  if (options_.redirect_slashes && scope.path != "/") {
    Scope redirect_scope = scope;
    redirect_scope.path =
        !scope.path.empty() && scope.path.back() == '/' ? rstrip_slashes(scope.path) : scope.path + "/";
    for (const AnyRoute& route : routes_) {
      ChildScope child;
      if (route->matches(redirect_scope, child) != Match::none) {
        RedirectResponse(url_from_scope(redirect_scope))(scope, receive, send);
        return;
      }
    }
  }
  not_found(scope, receive, send);
}

void Router::not_found(Scope& scope, const Receive& receive, const Send& send) const {
  if (options_.default_app) {
    options_.default_app(scope, receive, send);
  } else {
    respond_not_found(scope, receive, send);
  }
}

URLPath Router::url_path_for(std::string_view name, PathParams params) const {
  require_unique(params);
  for (const AnyRoute& route : routes_) {
    try {
      return route->url_path_for(name, params);
    } catch (const NoMatchFound&) {
    }
  }
  throw NoMatchFound(name, params);
}

void Router::startup() const {
  for (const LifespanHook& hook : options_.on_startup) hook();
}

void Router::shutdown() const {
  for (const LifespanHook& hook : options_.on_shutdown) hook();
}

void Router::lifespan(Scope& scope, const Receive& receive, const Send& send) const {
  (void)scope;
  bool started = false;
  receive();
  try {
    startup();  // `async with self.lifespan_context(app):` enters
    try {
      send(Message{.type = MessageType::lifespan_startup_complete});
      started = true;
      receive();
    } catch (const sim::TaskUnwound&) {
      throw;
    } catch (const boost::context::detail::forced_unwind&) {
      throw;
    } catch (...) {
      shutdown();  // __aexit__ runs the shutdown hooks on the way out
      throw;
    }
    shutdown();
  } catch (const sim::TaskUnwound&) {
    throw;
  } catch (const boost::context::detail::forced_unwind&) {
    throw;
  } catch (...) {
    const std::string text = sim::describe(std::current_exception());
    send(Message{
        .type = started ? MessageType::lifespan_shutdown_failed : MessageType::lifespan_startup_failed,
        .text = text});
    throw;
  }
  send(Message{.type = MessageType::lifespan_shutdown_complete});
}

App as_app(std::shared_ptr<Router> router) {
  if (!router) throw std::invalid_argument("as_app needs a router");
  return [router = std::move(router)](Scope& scope, const Receive& receive, const Send& send) {
    (*router)(scope, receive, send);
  };
}

}  // namespace asgisim::core
