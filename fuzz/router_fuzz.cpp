// libFuzzer target for the router (core/routing.hpp, core/convertors.hpp).
// The input bytes are the run's choice stream (sim::ByteChoiceSource, lenient:
// any byte string is a run). They choose a route table (templates with
// {name:convertor} parameters, methods, nested Mounts, redirect_slashes) and
// a few requests: paths made by url_path_for() from chosen parameter values,
// the same with the trailing slash toggled, and free-form paths. Each request
// runs through the real Router inside a Simulation, and these must hold
// (a violation aborts with the property's name):
//
//   dispatch       the Router answers what a plain reference dispatcher built
//                  on each route's own matches() says: the first full match
//                  (descending into Mounts), else 405 from the first partial
//                  match with its methods in Allow, else a 307 to the path
//                  with the slash toggled when that path matches, else 404
//   405 Allow      a 405 carries a non-empty Allow without the request's method
//   redirect       a 307 happens only with redirect_slashes, only when the
//                  original path matches nothing, and names the toggled path
//   url_path_for   with distinct parameter names and renderable values it
//                  succeeds, and prints each piece through the convertors
//   reach          each route of the chain that url_path_for() went through
//                  fully matches the path it produced (so the request reaches
//                  that route, or an earlier route that also matches it)
//   round trip     on an unambiguous template, the scope's path parameters
//                  are the given values after to_string() and convert()
//   regex          match_path() captures what Python's regex (std::regex in
//                  ECMAScript mode, which backtracks in the same order) does
//
// Replay a finding with any build: fuzz_router_replay CRASH_FILE.
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

namespace asgisim::fuzz {
namespace {

using core::ConvertorType;
using core::Match;
using core::PathParam;

constexpr std::string_view kTarget = "router";
constexpr std::string_view kRedirectSafe = ":/%#?=@[]!$&'()*+,;";

// ---- the route table ------------------------------------------------------------------

struct Table;

// One route or mount as built, next to what the reference needs to know.
struct Entry {
  bool mount = false;
  std::string template_text{};      // as given to Route / Mount
  std::string compiled_text{};      // what its regex is built from
  int leaf = -1;                    // Route: index into Fixture::leaves
  std::set<std::string> allowed{};  // Route: upper-cased methods (+HEAD for GET); empty = any
  std::optional<std::string> mount_name{};
  std::shared_ptr<Table> table{};  // Mount: what it mounts
};

struct Table {
  std::shared_ptr<core::Router> router{};
  std::vector<Entry> entries{};  // parallel to router->routes()
  bool redirect_slashes = true;
};

// How a route is reached from the top: the entries' indices per level.
struct Leaf {
  std::vector<std::pair<const Table*, std::size_t>> chain{};
  std::string full_name{};
};

// What the endpoint of a leaf saw.
struct Hit {
  int leaf = -1;
  std::map<std::string, PathParam> params{};
};

struct Outcome {
  enum class Kind { endpoint, not_found, not_allowed, redirect, overflow } kind = Kind::not_found;
  int leaf = -1;
  std::map<std::string, PathParam> params{};
  std::string allow{};
  std::string location{};
};

std::string describe(const Outcome& outcome) {
  switch (outcome.kind) {
    case Outcome::Kind::endpoint:
      return "endpoint of route r" + std::to_string(outcome.leaf);
    case Outcome::Kind::not_found:
      return "404";
    case Outcome::Kind::not_allowed:
      return "405 Allow: " + outcome.allow;
    case Outcome::Kind::redirect:
      return "307 to " + outcome.location;
    case Outcome::Kind::overflow:
      return "PathParamOverflow";
  }
  return "?";
}

std::string printable(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') {
      out += "\\x" + std::string(1, "0123456789abcdef"[(c >> 4) & 0xf]) + "0123456789abcdef"[c & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string rstrip_slashes(std::string text) {
  while (!text.empty() && text.back() == '/') text.pop_back();
  return text;
}

std::string join_methods(const std::set<std::string>& methods) {
  std::string out;
  for (const auto& method : methods) out += (out.empty() ? "" : ", ") + method;
  return out;
}

// ---- choosing templates and values ----------------------------------------------------

constexpr std::array<std::string_view, 12> kWords{"users", "a", "me",    "x.y", "0",   "12",
                                                  "%20",   " ", "items", "é",   "1.5", ""};
constexpr std::array<std::string_view, 7> kNames{"id", "a", "b", "path", "name", "x_1", "id"};
constexpr std::array<std::string_view, 8> kConvertors{"",       ":str",  ":path", ":int",
                                                      ":float", ":uuid", ":int",  ":nope"};
constexpr std::array<std::string_view, 9> kRaw{"/", "-", ".", ":", "{", "}", "\n", "{}", "{a:}"};

std::string choose_template(bool mount) {
  std::string text = rarely("template.no_slash", 24) ? "" : "/";
  const std::uint64_t pieces = pick("template.pieces", mount ? 3 : 5);
  for (std::uint64_t i = 0; i < pieces; ++i) {
    switch (pick("template.piece", 4)) {
      case 0:
      case 1:
        text += std::string(pick_from("template.word", kWords)) + "/";
        break;
      case 2:
        text += "{" + std::string(pick_from("template.name", kNames)) +
                std::string(pick_from("template.convertor", kConvertors)) + "}";
        break;
      default:
        text += pick_from("template.raw", kRaw);
        break;
    }
  }
  // A trailing "/" on about half of the templates.
  if (text.size() > 1 && text.back() == '/' && pick("template.keep_slash", 2) == 0) text.pop_back();
  return text;
}

constexpr std::array<std::string_view, 12> kTextPieces{"a",   "b",   "me", "0",    "7", "1.5",
                                                       "x-y", "%2F", " ",  "{id}", "é", "/"};

std::string choose_text(std::string_view label, std::uint64_t max_pieces) {
  std::string text;
  const std::uint64_t pieces = pick(label, max_pieces + 1);
  for (std::uint64_t i = 0; i < pieces; ++i) text += pick_from("value.piece", kTextPieces);
  if (rarely("value.newline", 16)) text += "\n";
  return text;
}

PathParam choose_value(ConvertorType type) {
  switch (type) {
    case ConvertorType::str:
    case ConvertorType::path:
      return choose_text("value.text", type == ConvertorType::path ? 4 : 2);
    case ConvertorType::integer: {
      constexpr std::array<std::int64_t, 7> kInts{0, 1, 7, 42, 100, 9'223'372'036'854'775'807, -1};
      switch (pick("value.int_kind", 8)) {
        case 0:
          return std::string(
              pick_from("value.int_text", std::array<std::string_view, 4>{"5", " 12 ", "1_000", "x"}));
        case 1:
          return 2.75;
        default:
          return pick_from("value.int", kInts);
      }
    }
    case ConvertorType::floating: {
      constexpr std::array<double, 9> kFloats{
          0.0, 0.5, 1.5, 3.0, 1e-25, 1e300, -1.0, std::numeric_limits<double>::infinity(), 0.1};
      switch (pick("value.float_kind", 8)) {
        case 0:
          return std::int64_t{5};
        case 1:
          return std::string("2.5");
        default:
          return pick_from("value.float", kFloats);
      }
    }
    case ConvertorType::uuid:
      return std::string(pick_from("value.uuid", std::array<std::string_view, 3>{
                                                     "123e4567-e89b-12d3-a456-426614174000",
                                                     "123E4567-E89B-12D3-A456-426614174000", "not-a-uuid"}));
  }
  return std::string("?");
}

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

void apply(core::Scope& scope, core::ChildScope child) {
  scope.path_params = std::move(child.path_params);
  if (child.root_path) scope.root_path = std::move(*child.root_path);
  if (child.path) scope.path = std::move(*child.path);
}

// Starlette's Router.__call__ over the routes' own matches(), written out
// plainly; the real Router must answer the same.
Outcome reference(const Table& table, core::Scope scope, Fixture& fixture) {
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

Outcome run_request(Fixture& fixture, const std::string& method, const std::string& path) {
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

bool same(const Outcome& a, const Outcome& b) {
  return a.kind == b.kind && a.leaf == b.leaf && a.params == b.params && a.allow == b.allow &&
         a.location == b.location;
}

// ---- requests made by url_path_for ----------------------------------------------------

struct GivenParam {
  std::string name{};
  ConvertorType type = ConvertorType::str;
  PathParam value{};
  bool renderable = false;  // convertor_to_string accepts it
  bool matchable = false;   // ... and its text is what the convertor's regex accepts
};

// The chain's templates in order (Mounts without their "/{path:path}").
std::vector<std::pair<const Entry*, core::CompiledPath>> chain_templates(const Leaf& leaf) {
  std::vector<std::pair<const Entry*, core::CompiledPath>> out;
  for (const auto& [table, index] : leaf.chain) {
    const Entry& entry = table->entries[index];
    out.emplace_back(
        &entry, core::compile_path(entry.mount ? rstrip_slashes(entry.template_text) : entry.template_text));
  }
  return out;
}

// Whether the concatenated pieces split only one way: each parameter but the
// last is followed by a literal its convertor cannot run into.
bool unambiguous(const std::vector<core::CompiledPath::Piece>& pieces) {
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const auto& piece = pieces[i];
    if (piece.param.empty() || i + 1 == pieces.size()) continue;
    const auto& next = pieces[i + 1];
    if (!next.param.empty() || next.literal.empty()) return false;
    const char c = next.literal.front();
    const bool digit = c >= '0' && c <= '9';
    switch (piece.type) {
      case ConvertorType::str:
        if (c != '/') return false;
        break;
      case ConvertorType::path:
        return false;
      case ConvertorType::integer:
        if (digit) return false;
        break;
      case ConvertorType::floating:
        if (digit || c == '.') return false;
        break;
      case ConvertorType::uuid:
        break;
    }
  }
  return true;
}

bool unnamed_mount_with_params(const Table& table) {
  for (const Entry& entry : table.entries) {
    if (!entry.mount) continue;
    if (!entry.mount_name && !core::compile_path(rstrip_slashes(entry.template_text)).params.empty()) {
      return true;
    }
    if (unnamed_mount_with_params(*entry.table)) return true;
  }
  return false;
}

struct Generated {
  std::string path{};
  std::string method{};
};

constexpr std::array<std::string_view, 7> kRequestMethods{"GET",    "HEAD",    "POST", "PUT",
                                                          "DELETE", "OPTIONS", "get"};

// The values url_path_for() is called with, one per parameter of the chain,
// and what is known about them.
struct Call {
  const Leaf* leaf = nullptr;
  std::vector<std::pair<const Entry*, core::CompiledPath>> templates{};
  std::vector<GivenParam> given{};
  core::PathParams params{};
  bool distinct = true;        // no parameter name repeats along the chain
  bool all_renderable = true;  // every value passes its convertor's to_string()
  bool all_matchable = true;   // ... and prints as text its regex accepts
  bool braces = false;         // a value holds '{' (replace_params may then substitute inside it)
  std::string what{};          // the call, for messages
};

Call choose_call(const Leaf& leaf) {
  Call call{.leaf = &leaf, .templates = chain_templates(leaf)};
  std::set<std::string> names;
  for (const auto& [entry, compiled] : call.templates) {
    for (const auto& [name, type] : compiled.params) {
      GivenParam param{.name = name, .type = type, .value = choose_value(type)};
      try {
        param.matchable = core::convertor_accepts(type, core::convertor_to_string(type, param.value));
        param.renderable = true;
      } catch (const std::exception&) {
      }
      call.distinct = names.insert(name).second && call.distinct;
      call.all_renderable = call.all_renderable && param.renderable;
      call.all_matchable = call.all_matchable && param.matchable;
      call.braces = call.braces || core::python_str(param.value).find('{') != std::string::npos;
      call.params.emplace_back(name, param.value);
      call.given.push_back(std::move(param));
    }
  }
  call.what = "url_path_for(\"" + leaf.full_name + "\"";
  for (const GivenParam& param : call.given) {
    call.what += ", " + param.name + "=" + printable(core::python_str(param.value));
  }
  call.what += ")";
  return call;
}

// url_path_for: each piece printed, parameters through to_string(), a
// Mount's part without its trailing slashes.
void check_printed(const Call& call, const std::string& path) {
  if (!call.distinct || call.braces) return;
  std::string expected;
  for (const auto& [entry, compiled] : call.templates) {
    std::string part;
    for (const auto& piece : compiled.pieces) {
      if (piece.param.empty()) {
        part += piece.literal;
        continue;
      }
      for (const GivenParam& param : call.given) {
        if (param.name == piece.param) part += core::convertor_to_string(piece.type, param.value);
      }
    }
    expected += entry->mount ? rstrip_slashes(part) : part;
  }
  if (expected != path) {
    property_failed(kTarget, "url_path_for",
                    call.what + " gave " + printable(path) + ", expected " + printable(expected));
  }
}

// Whether the reach and round-trip properties apply to this call's path.
bool reach_applies(const Call& call, const std::string& path, const std::string& method) {
  const Entry& route = *call.templates.back().first;
  const bool accepted = route.allowed.empty() || route.allowed.count(method) != 0;
  bool mount_has_path_param = false;  // it would swallow the route's part of the path
  for (const auto& [entry, compiled] : call.templates) {
    for (const auto& [name, type] : compiled.params) {
      mount_has_path_param |= entry->mount && type == ConvertorType::path;
    }
  }
  // A '\n' lets Python's "$" end a Mount's {path:path} early (Starlette's behaviour, kept).
  const bool newline = path.find('\n') != std::string::npos;
  return call.distinct && call.all_matchable && accepted && !mount_has_path_param && !newline;
}

// reach: every route of the chain fully matches what remains of the path;
// round trip: on an unambiguous chain the scope holds the given values after
// to_string() and convert().
void check_reach(const Call& call, const std::string& path, const std::string& method) {
  count("reach checked");
  core::Scope scope;
  scope.method = method;
  scope.path = path;
  for (const auto& [table, index] : call.leaf->chain) {
    core::ChildScope child;
    Match match = Match::none;
    try {
      match = table->router->routes()[index]->matches(scope, child);
    } catch (const core::PathParamOverflow&) {
      return;  // the model's documented departure from Python's unbounded ints
    }
    if (match != Match::full) {
      property_failed(kTarget, "reach",
                      call.what + " gave " + printable(path) + ", which " +
                          printable(table->entries[index].template_text) + " does not match at " +
                          printable(scope.path));
    }
    apply(scope, std::move(child));
  }
  std::vector<core::CompiledPath::Piece> pieces;
  for (const auto& [entry, compiled] : call.templates) {
    pieces.insert(pieces.end(), compiled.pieces.begin(), compiled.pieces.end());
  }
  if (!unambiguous(pieces)) return;
  if (!call.given.empty()) count("round trip checked");
  for (const GivenParam& param : call.given) {
    const PathParam expected =
        core::convertor_convert(param.type, core::convertor_to_string(param.type, param.value));
    const auto found = scope.path_params.find(param.name);
    if (found == scope.path_params.end() || found->second != expected) {
      property_failed(
          kTarget, "round trip",
          call.what + " -> " + printable(path) + ": scope has " + param.name + "=" +
              (found == scope.path_params.end() ? "nothing" : printable(core::python_str(found->second))) +
              ", expected " + printable(core::python_str(expected)));
    }
  }
}

// A method for a request to `route`: mostly one it allows.
std::string choose_method(const Entry& route) {
  if (!route.allowed.empty() && pick("request.allowed_method", 4) != 0) {
    auto it = route.allowed.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(pick("request.allowed_index", route.allowed.size())));
    return *it;
  }
  return std::string(pick_from("request.method", kRequestMethods));
}

// Picks a route and values, calls url_path_for and checks what it printed
// and that the route's chain matches it; returns the request to send.
std::optional<Generated> url_path_for_request(Fixture& fixture) {
  if (fixture.leaves().empty()) return std::nullopt;
  const Call call = choose_call(fixture.leaves()[pick("request.leaf", fixture.leaves().size())]);
  std::string path;
  try {
    path = fixture.top().router->url_path_for(call.leaf->full_name, call.params).path;
  } catch (const std::exception& error) {
    count("url_path_for raised");
    // Unnamed Mounts print their own parameters from the same arguments (as in Python).
    if (call.distinct && call.all_renderable && !unnamed_mount_with_params(fixture.top())) {
      property_failed(kTarget, "url_path_for", call.what + " raised: " + error.what());
    }
    return std::nullopt;
  }
  count("url_path_for succeeded");
  check_printed(call, path);
  const std::string method = choose_method(*call.templates.back().first);
  if (reach_applies(call, path, method)) check_reach(call, path, method);
  return Generated{path, method};
}

std::string free_form_path() {
  std::string path = rarely("path.no_slash", 16) ? "" : "/";
  const std::uint64_t pieces = pick("path.pieces", 5);
  for (std::uint64_t i = 0; i < pieces; ++i) {
    if (pick("path.kind", 2) == 0) {
      path += std::string(pick_from("path.word", kWords)) + "/";
    } else {
      path += pick_from("path.text", kTextPieces);
    }
  }
  if (path.size() > 1 && pick("path.keep_slash", 2) == 0 && path.back() == '/') path.pop_back();
  return path;
}

void check_request(Fixture& fixture, const std::string& method, const std::string& path) {
  core::Scope scope;
  scope.method = method;
  scope.path = path;
  const Outcome expected = reference(fixture.top(), scope, fixture);
  const Outcome actual = run_request(fixture, method, path);
  count("request: " + describe(expected).substr(0, describe(expected).find(' ')));
  if (!same(expected, actual)) {
    property_failed(kTarget, actual.kind == Outcome::Kind::redirect ? "redirect" : "dispatch",
                    method + " " + printable(path) + ": the router answered " + describe(actual) +
                        ", the reference " + describe(expected));
  }
}

// ---- the regex oracle -----------------------------------------------------------------

// Starlette's compile_path, with std::regex doing what Python's re does.
std::optional<std::regex> python_regex(const std::string& template_text, std::size_t& groups) {
  static const std::regex kParam("\\{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_][a-zA-Z0-9_]*)?\\}");
  std::string pattern = "^";
  std::set<std::string> seen;
  std::size_t literal_start = 0;
  const auto escape = [&pattern](std::string_view literal) {
    for (const char c : literal) {
      const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (plain) {
        pattern += c;
      } else {
        pattern += "\\x";
        pattern += "0123456789abcdef"[(c >> 4) & 0xf];
        pattern += "0123456789abcdef"[c & 0xf];
      }
    }
  };
  groups = 0;
  for (auto it = std::sregex_iterator(template_text.begin(), template_text.end(), kParam);
       it != std::sregex_iterator(); ++it) {
    const std::smatch& match = *it;
    const std::string type = match[2].matched ? match[2].str().substr(1) : "str";
    static const std::map<std::string, std::string> kRegexes{
        {"str", "[^/]+"},
        {"path", "[^\\n]*"},  // Python's "." (no DOTALL); ECMAScript's "." also refuses '\r'
        {"int", "[0-9]+"},
        {"float", "[0-9]+(?:\\.[0-9]+)?"},
        {"uuid", "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"}};
    const auto regex = kRegexes.find(type);
    if (regex == kRegexes.end() || !seen.insert(match[1].str()).second) return std::nullopt;
    escape(std::string_view(template_text)
               .substr(literal_start, static_cast<std::size_t>(match.position(0)) - literal_start));
    pattern += "(" + regex->second + ")";
    ++groups;
    literal_start = static_cast<std::size_t>(match.position(0) + match.length(0));
  }
  escape(std::string_view(template_text).substr(literal_start));
  pattern += "\\n?$";  // Python's "$" also matches before a final newline
  return std::regex(pattern, std::regex::ECMAScript);
}

bool ascii(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

struct PythonRegex {
  std::optional<std::regex> regex{};
  std::size_t groups = 0;
};
// Templates repeat across requests; compiling a std::regex is the costly part.
using RegexCache = std::map<std::string, PythonRegex>;

void check_regex(const std::string& template_text, const std::string& path, RegexCache& cache) {
  if (!ascii(template_text) || !ascii(path)) return;  // std::regex works on chars, not UTF-8
  auto cached = cache.find(template_text);
  if (cached == cache.end()) {
    PythonRegex compiled;
    compiled.regex = python_regex(template_text, compiled.groups);
    cached = cache.emplace(template_text, std::move(compiled)).first;
  }
  const auto& regex = cached->second.regex;
  const std::size_t groups = cached->second.groups;
  if (!regex) return;
  std::smatch match;
  const bool expected = std::regex_search(path, match, *regex);
  const auto actual = core::match_path(core::compile_path(template_text), path);
  std::string detail = printable(template_text) + " against " + printable(path);
  if (expected != actual.has_value()) {
    property_failed(kTarget, "regex",
                    detail + (expected ? ": Python's regex matches, match_path does not"
                                       : ": match_path matches, Python's regex does not"));
  }
  count(expected ? "regex: match" : "regex: no match");
  if (!expected) return;
  if (actual->size() != groups) property_failed(kTarget, "regex", detail + ": different numbers of captures");
  for (std::size_t i = 0; i < groups; ++i) {
    if (match[static_cast<int>(i) + 1].str() != (*actual)[i].second) {
      property_failed(kTarget, "regex",
                      detail + ": " + (*actual)[i].first + " is " + printable((*actual)[i].second) +
                          ", Python's regex captures " + printable(match[static_cast<int>(i) + 1].str()));
    }
  }
}

// ---- one run --------------------------------------------------------------------------

void fuzz_one(Fixture& fixture) {
  fixture.build();
  const std::uint64_t requests = 1 + pick("requests", 6);
  for (std::uint64_t i = 0; i < requests; ++i) {
    const std::uint64_t kind = pick("request.kind", 3);
    if (kind == 2) {
      check_request(fixture, std::string(pick_from("request.method", kRequestMethods)), free_form_path());
      continue;
    }
    const auto generated = url_path_for_request(fixture);
    if (!generated) continue;
    std::string path = generated->path;
    if (kind == 1) path = !path.empty() && path.back() == '/' ? rstrip_slashes(path) : path + "/";
    check_request(fixture, generated->method, path);
  }
}

}  // namespace
}  // namespace asgisim::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace sim = asgisim::sim;
  sim::ByteChoiceSource source(std::span<const std::uint8_t>(data, size));
  sim::Simulation simulation({.trace = {.records_max = 0}, .record_decisions = false}, source);
  asgisim::fuzz::Fixture fixture;
  simulation.spawn("router-fuzz", [&fixture] { asgisim::fuzz::fuzz_one(fixture); });
  const sim::RunResult result = simulation.run();
  if (!result.ok()) {
    asgisim::fuzz::property_failed("router", "run completes",
                                   std::string(sim::to_string(result.status)) + ": " + result.report);
  }
  // Python's regex semantics, checked outside the fiber (std::regex recurses deeply).
  asgisim::fuzz::RegexCache cache;
  for (const auto& [template_text, path] : fixture.matched_pairs()) {
    asgisim::fuzz::check_regex(template_text, path, cache);
  }
  return 0;
}
