// The ASGI messages of a trace, read from the observer's notes ("sent
// BaseHTTPMiddleware->ExceptionMiddleware http.response.body", "received
// server->ServerErrorMiddleware http.request"), and the layers they cross,
// ordered from the server inwards.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace asgisim::report {

class MessageLayers {
 public:
  // Takes the note `text` when it is a message: a received message goes from
  // the outer layer to the inner, a sent one from the inner to the outer.
  // `intern` gives the page's string id of a text.
  bool add(std::string_view text, std::int64_t record, std::int64_t task, std::int64_t content,
           std::uint64_t request, const std::function<std::int64_t(std::string_view)>& intern);

  // The layers, outermost first: an order in which every message's outer
  // layer comes before its inner one where the messages allow it, else by
  // first appearance.
  std::vector<std::string> layers() const;
  // Per message: record, task, from layer, to layer (indices into layers()),
  // type string, content string, request.
  std::vector<std::int64_t> flat() const;

 private:
  std::size_t layer(std::string_view name);
  std::vector<std::size_t> order() const;  // position of each layer (by first appearance) in layers()

  std::vector<std::string> names_;  // by first appearance
  std::map<std::string, std::size_t, std::less<>> ids_;
  std::map<std::size_t, std::vector<std::size_t>> inner_of_;  // outer -> inner layers
  std::vector<std::int64_t> messages_;                        // as flat(), with layers by first appearance
};

}  // namespace asgisim::report
