// The router fuzz target's fixture (router_fuzz.cpp): building a chosen route
// table into real Routers and Mounts, the plain reference dispatcher, and a
// request run through the real Router.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asgisim/core/convertors.hpp"
#include "asgisim/core/datastructures.hpp"
#include "asgisim/core/routing.hpp"
#include "asgisim/sim/choice.hpp"
#include "asgisim/sim/simulation.hpp"
#include "fuzz_support.hpp"
#include "router_table.hpp"

namespace asgisim::fuzz::router {

// ---- building the table ---------------------------------------------------------------

class Fixture {
 public:
  void build() { top_ = build_table(0, {}); }
  const std::vector<Leaf>& leaves() const { return leaves_; }
  const Table& top() const { return *top_; }
  Hit& hit() { return *hit_; }
  // Every (template, path) pair the reference matched, for the regex check.
  std::set<std::pair<std::string, std::string>>& matched_pairs() { return matched_pairs_; }

 private:
  std::shared_ptr<Table> build_table(int depth, Leaf prefix) {
    auto table = std::make_shared<Table>();
    table->redirect_slashes = pick("table.redirect_slashes", 4) != 0;
    core::Routes routes;
    const std::uint64_t count = pick("table.entries", depth == 0 ? 6 : 4);
    for (std::uint64_t i = 0; i < count; ++i) {
      const bool mount = depth < 2 && pick("entry.mount", 4) == 0;
      Entry entry{.mount = mount, .template_text = choose_template(mount)};
      Leaf here = prefix;
      here.chain.emplace_back(table.get(), table->entries.size());
      try {
        routes.push_back(mount ? make_mount(entry, depth, here) : make_route(entry, here));
      } catch (const std::invalid_argument&) {
        continue;  // a template compile_path refuses (checked by the regex oracle's own parse)
      }
      table->entries.push_back(std::move(entry));
    }
    table->router = std::make_shared<core::Router>(
        std::move(routes), core::RouterOptions{.redirect_slashes = table->redirect_slashes});
    return table;
  }

  core::AnyRoute make_route(Entry& entry, Leaf& here) {
    std::optional<std::vector<std::string>> methods;
    if (pick("route.any_method", 4) != 0) {
      constexpr std::array<std::string_view, 5> kMethods{"GET", "POST", "put", "DELETE", "HEAD"};
      methods.emplace();
      const std::uint64_t mask = 1 + pick("route.methods", 31);
      for (std::size_t m = 0; m < kMethods.size(); ++m) {
        if ((mask >> m) & 1U) methods->emplace_back(kMethods[m]);
      }
      for (std::string method : *methods) {
        for (char& c : method) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
        entry.allowed.insert(method);
      }
      if (entry.allowed.count("GET") != 0) entry.allowed.insert("HEAD");
    }
    const int id = static_cast<int>(leaves_.size());
    const std::string name = "r" + std::to_string(id);
    here.full_name += name;
    auto hit = hit_;
    core::App endpoint = [hit, id](core::Scope& scope, const core::Receive&, const core::Send& send) {
      hit->leaf = id;
      hit->params = scope.path_params;
      send(core::Message::start(200, {{"x-route", std::to_string(id)}}));
      send(core::Message::body_chunk(""));
    };
    core::Route route(entry.template_text, std::move(endpoint), {.methods = methods, .name = name});
    entry.leaf = id;
    entry.compiled_text = entry.template_text;
    leaves_.push_back(std::move(here));
    return route;
  }

  core::AnyRoute make_mount(Entry& entry, int depth, Leaf& here) {
    if (pick("mount.named", 3) != 0) entry.mount_name = "m" + std::to_string(mounts_++);
    // Refuse what Mount would refuse before any child is made (children point at this entry).
    if (!entry.template_text.empty() && entry.template_text.front() != '/') {
      throw std::invalid_argument("Routed paths must start with '/'");
    }
    entry.compiled_text = rstrip_slashes(entry.template_text) + "/{path:path}";
    core::compile_path(entry.compiled_text);  // throws before any child is made
    if (entry.mount_name) here.full_name += *entry.mount_name + ":";
    entry.table = build_table(depth + 1, here);
    return core::Mount(entry.template_text, entry.table->router, entry.mount_name);
  }

  std::vector<Leaf> leaves_;
  int mounts_ = 0;
  std::shared_ptr<Table> top_;
  std::shared_ptr<Hit> hit_ = std::make_shared<Hit>();
  std::set<std::pair<std::string, std::string>> matched_pairs_;
};

// ---- the reference dispatcher ---------------------------------------------------------

inline void apply(core::Scope& scope, core::ChildScope child) {
  scope.path_params = std::move(child.path_params);
  if (child.root_path) scope.root_path = std::move(*child.root_path);
  if (child.path) scope.path = std::move(*child.path);
}

// Starlette's Router.__call__ over the routes' own matches(), written out
// plainly; the real Router must answer the same.
inline Outcome reference(const Table& table, core::Scope scope, Fixture& fixture) {
  const Entry* partial = nullptr;
  try {
    for (std::size_t i = 0; i < table.entries.size(); ++i) {
      const Entry& entry = table.entries[i];
      core::ChildScope child;
      fixture.matched_pairs().emplace(entry.compiled_text, scope.path);
      const Match match = table.router->routes()[i]->matches(scope, child);
      if (match == Match::full) {
        if (entry.mount) {
          apply(scope, std::move(child));
          return reference(*entry.table, std::move(scope), fixture);
        }
        return Outcome{
            .kind = Outcome::Kind::endpoint, .leaf = entry.leaf, .params = std::move(child.path_params)};
      }
      if (match == Match::partial && partial == nullptr) partial = &entry;
    }
    if (partial != nullptr) {
      return Outcome{.kind = Outcome::Kind::not_allowed, .allow = join_methods(partial->allowed)};
    }
    if (table.redirect_slashes && scope.path != "/") {
      core::Scope other = scope;
      other.path =
          !scope.path.empty() && scope.path.back() == '/' ? rstrip_slashes(scope.path) : scope.path + "/";
      for (std::size_t i = 0; i < table.entries.size(); ++i) {
        core::ChildScope child;
        if (table.router->routes()[i]->matches(other, child) != Match::none) {
          return Outcome{.kind = Outcome::Kind::redirect,
                         .location = core::quote(other.root_path + other.path, kRedirectSafe)};
        }
      }
    }
  } catch (const core::PathParamOverflow&) {
    return Outcome{.kind = Outcome::Kind::overflow};
  }
  return Outcome{.kind = Outcome::Kind::not_found};
}

// ---- running a request through the real router ----------------------------------------

inline Outcome run_request(Fixture& fixture, const std::string& method, const std::string& path) {
  core::Scope scope;
  scope.method = method;
  scope.path = path;
  scope.raw_path = path;
  fixture.hit() = Hit{};
  int status = 0;
  core::Headers headers;
  bool complete = false;
  const core::Receive receive = [] { return core::Message::request(""); };
  const core::Send send = [&](core::Message message) {
    if (message.type == core::MessageType::http_response_start) {
      status = message.status;
      headers = message.headers;
    } else if (message.type == core::MessageType::http_response_body && !message.more_body) {
      complete = true;
    }
  };
  const std::string what = method + " " + printable(path);
  try {
    (*fixture.top().router)(scope, receive, send);
  } catch (const core::PathParamOverflow&) {
    return Outcome{.kind = Outcome::Kind::overflow};
  } catch (const std::exception& error) {
    property_failed(kTarget, "dispatch", what + ": the router raised " + error.what());
  }
  if (!complete) property_failed(kTarget, "dispatch", what + ": no complete response");
  const auto header = [&](std::string_view name) { return core::find_header(headers, name); };
  switch (status) {
    case 200: {
      if (fixture.hit().leaf < 0) property_failed(kTarget, "dispatch", what + ": 200 without an endpoint");
      return Outcome{
          .kind = Outcome::Kind::endpoint, .leaf = fixture.hit().leaf, .params = fixture.hit().params};
    }
    case 404:
      return Outcome{.kind = Outcome::Kind::not_found};
    case 405: {
      const auto allow = header("allow");
      if (!allow || allow->empty()) property_failed(kTarget, "405 Allow", what + ": 405 without Allow");
      std::string list(*allow);
      for (std::size_t at = 0; at <= list.size();) {
        const std::size_t end = std::min(list.find(", ", at), list.size());
        if (list.substr(at, end - at) == method) {
          property_failed(kTarget, "405 Allow", what + ": Allow has " + method);
        }
        at = end + 2;
      }
      return Outcome{.kind = Outcome::Kind::not_allowed, .allow = std::move(list)};
    }
    case 307: {
      const auto location = header("location");
      if (!location) property_failed(kTarget, "redirect", what + ": 307 without Location");
      return Outcome{.kind = Outcome::Kind::redirect, .location = std::string(*location)};
    }
    default:
      property_failed(kTarget, "dispatch", what + ": unexpected status " + std::to_string(status));
  }
}

inline bool same(const Outcome& a, const Outcome& b) {
  return a.kind == b.kind && a.leaf == b.leaf && a.params == b.params && a.allow == b.allow &&
         a.location == b.location;
}

}  // namespace asgisim::fuzz::router
