// Starlette's router (starlette/routing.py, 0.26.1): Route and Mount with
// typed path parameters, 404 / 405 with Allow, redirect_slashes, reverse
// lookup with url_path_for, and the lifespan protocol with startup and
// shutdown hooks. Used as a plain ASGI app (no Starlette application around
// it), so 404 and 405 are PlainTextResponses, not HTTPExceptions.
//
//   auto users = std::make_shared<Router>(Routes{
//       Route("/", list_users, {.name = "users"}),
//       Route("/{id:int}", show_user, {.methods = {{"GET", "PUT"}}, .name = "user"}),
//   });
//   auto router = std::make_shared<Router>(Routes{Route("/", home, {.name = "home"}),
//                                                 Mount("/users", users, "users")});
//   App app = as_app(router);
//   router->url_path_for("users:user", {{"id", std::int64_t{7}}});   // "/users/7"
//
// Not modelled: Host and WebSocketRoute, lifespan context managers and
// lifespan state, scope["router"], include_in_schema, Mount middleware
// (wrap the mounted app instead).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/convertors.hpp"
#include "asgisim/core/endpoints.hpp"

namespace asgisim::core {

// No route has this name with exactly these parameters. The message is
// Starlette's: No route exists for name "x" and params "a, b".
class NoMatchFound : public std::runtime_error {
 public:
  NoMatchFound(std::string_view name, const PathParams& params);
};

enum class Match : std::uint8_t { none, partial, full };

// What a match adds to the scope (Starlette's child_scope).
struct ChildScope {
  std::map<std::string, PathParam> path_params{};
  std::string endpoint_name{};
  std::optional<std::string> root_path{};  // Mount only
  std::optional<std::string> path{};       // Mount only: the remaining path
};

// A reverse-looked-up path; protocol is "http" for a Route, "" for a Mount's own path.
struct URLPath {
  std::string path{};
  std::string protocol{};
  friend bool operator==(const URLPath& url, std::string_view text) { return url.path == text; }
};

class BaseRoute {
 public:
  virtual ~BaseRoute() = default;
  virtual Match matches(const Scope& scope, ChildScope& child) const = 0;
  // Takes the parameters by value: Python mutates its kwargs dict.
  virtual URLPath url_path_for(std::string_view name, PathParams params) const = 0;
  virtual void handle(Scope& scope, const Receive& receive, const Send& send) const = 0;
  // A route used on its own as an app: 404 unless it matches.
  void operator()(Scope& scope, const Receive& receive, const Send& send) const;
};

struct RouteOptions {
  // nullopt: ["GET"] for an endpoint, any method for an ASGI app. "GET"
  // implies "HEAD". Upper-cased.
  std::optional<std::vector<std::string>> methods{};
  // For url_path_for (Python defaults to the endpoint's __name__).
  std::string name{};
};

class Route : public BaseRoute {
 public:
  // An endpoint function, wrapped with request_response().
  Route(std::string path, Endpoint endpoint, RouteOptions options = {});
  // An ASGI app, called as is.
  Route(std::string path, App app, RouteOptions options = {});

  Match matches(const Scope& scope, ChildScope& child) const override;
  URLPath url_path_for(std::string_view name, PathParams params) const override;
  void handle(Scope& scope, const Receive& receive, const Send& send) const override;

  const std::string& path() const { return path_; }
  const std::string& name() const { return name_; }
  // Empty: any method.
  const std::set<std::string>& methods() const { return methods_; }

 private:
  Route(std::string path, App app, std::optional<std::vector<std::string>> methods, std::string name);

  std::string path_;
  std::string name_;
  App app_;
  std::set<std::string> methods_;
  CompiledPath compiled_;
};

class Router;

// A handle to any route, so that a route list reads like Python's.
class AnyRoute {
 public:
  template <class R>
  requires std::is_base_of_v<BaseRoute, std::decay_t<R>> AnyRoute(R&& route)
      : route_(std::make_shared<std::decay_t<R>>(std::forward<R>(route))) {}  // NOLINT
  const BaseRoute& operator*() const { return *route_; }
  const BaseRoute* operator->() const { return route_.get(); }

 private:
  std::shared_ptr<const BaseRoute> route_;
};
using Routes = std::vector<AnyRoute>;

class Mount : public BaseRoute {
 public:
  // `name` nullopt (Python's None) lets url_path_for look through the mount
  // by the child's plain name; "" is a real (empty) name.
  Mount(std::string path, App app, std::optional<std::string> name = std::nullopt);
  // A router whose routes url_path_for can see (routes added later included).
  Mount(std::string path, std::shared_ptr<Router> router, std::optional<std::string> name = std::nullopt);
  Mount(std::string path, Routes routes, std::optional<std::string> name = std::nullopt);

  Match matches(const Scope& scope, ChildScope& child) const override;
  URLPath url_path_for(std::string_view name, PathParams params) const override;
  void handle(Scope& scope, const Receive& receive, const Send& send) const override;

  const std::string& path() const { return path_; }

 private:
  std::string path_;  // without its trailing '/'
  std::optional<std::string> name_;
  App app_;
  std::shared_ptr<Router> router_;  // null when mounting an opaque app
  CompiledPath compiled_;
};

using LifespanHook = std::function<void()>;

struct RouterOptions {
  // 307 to the same path with the trailing slash added or removed, when
  // that path would match and this one does not.
  bool redirect_slashes = true;
  // Called when nothing matches (default: PlainTextResponse "Not Found", 404).
  App default_app{};
  // Run in order on lifespan.startup / lifespan.shutdown, on the loop (sync
  // hooks too, as Starlette calls them directly).
  std::vector<LifespanHook> on_startup{};
  std::vector<LifespanHook> on_shutdown{};
};

class Router {
 public:
  explicit Router(Routes routes = {}, RouterOptions options = {});

  // The ASGI app: "http" is routed, "lifespan" runs the hooks; any other
  // scope type raises std::invalid_argument.
  void operator()(Scope& scope, const Receive& receive, const Send& send) const;
  URLPath url_path_for(std::string_view name, PathParams params = {}) const;

  void add_route(AnyRoute route) { routes_.push_back(std::move(route)); }
  const Routes& routes() const { return routes_; }
  const RouterOptions& options() const { return options_; }
  RouterOptions& options() { return options_; }

  void startup() const;
  void shutdown() const;
  void lifespan(Scope& scope, const Receive& receive, const Send& send) const;

 private:
  void not_found(Scope& scope, const Receive& receive, const Send& send) const;

  Routes routes_;
  RouterOptions options_;
};

// The router as an App (it keeps the router alive).
App as_app(std::shared_ptr<Router> router);

}  // namespace asgisim::core
