// ASGI messages and their layers, from the observer's notes.
#include "message_layers.hpp"

#include <algorithm>

namespace asgisim::report {

namespace {
constexpr std::size_t kFields = 7;
}

std::size_t MessageLayers::layer(std::string_view name) {
  const auto found = ids_.find(name);
  if (found != ids_.end()) return found->second;
  names_.emplace_back(name);
  ids_.emplace(std::string(name), names_.size() - 1);
  return names_.size() - 1;
}

bool MessageLayers::add(std::string_view text, std::int64_t record, std::int64_t task, std::int64_t content,
                        std::uint64_t request, const std::function<std::int64_t(std::string_view)>& intern) {
  bool sent = false;
  if (text.starts_with("sent ")) {
    sent = true;
    text.remove_prefix(5);
  } else if (text.starts_with("received ")) {
    text.remove_prefix(9);
  } else {
    return false;
  }
  const std::size_t space = text.rfind(' ');
  if (space == std::string_view::npos) return false;
  const std::string_view boundary = text.substr(0, space);
  const std::string_view type = text.substr(space + 1);
  const std::size_t arrow = boundary.find("->");
  if (arrow == std::string_view::npos) return false;
  const std::size_t outer = layer(boundary.substr(0, arrow));
  const std::size_t inner = layer(boundary.substr(arrow + 2));
  std::vector<std::size_t>& inners = inner_of_[outer];
  if (std::find(inners.begin(), inners.end(), inner) == inners.end()) inners.push_back(inner);
  const auto from = static_cast<std::int64_t>(sent ? inner : outer);
  const auto to = static_cast<std::int64_t>(sent ? outer : inner);
  messages_.insert(messages_.end(),
                   {record, task, from, to, intern(type), content, static_cast<std::int64_t>(request)});
  return true;
}

std::vector<std::size_t> MessageLayers::order() const {
  // Kahn's algorithm, always taking the earliest-seen layer with no outer
  // layer left; a cycle (not expected) is broken by first appearance.
  std::vector<std::size_t> outer_count(names_.size(), 0);
  for (const auto& [outer, inners] : inner_of_) {
    for (const std::size_t inner : inners) outer_count[inner] += inner == outer ? 0 : 1;
  }
  std::vector<bool> placed(names_.size(), false);
  std::vector<std::size_t> position(names_.size(), 0);
  for (std::size_t next = 0; next < names_.size(); ++next) {
    std::size_t pick = names_.size();
    for (std::size_t id = 0; id < names_.size() && pick == names_.size(); ++id) {
      if (!placed[id] && outer_count[id] == 0) pick = id;
    }
    for (std::size_t id = 0; id < names_.size() && pick == names_.size(); ++id) {
      if (!placed[id]) pick = id;
    }
    placed[pick] = true;
    position[pick] = next;
    const auto found = inner_of_.find(pick);
    if (found == inner_of_.end()) continue;
    for (const std::size_t inner : found->second) {
      if (inner != pick && outer_count[inner] > 0) --outer_count[inner];
    }
  }
  return position;
}

std::vector<std::string> MessageLayers::layers() const {
  const std::vector<std::size_t> position = order();
  std::vector<std::string> out(names_.size());
  for (std::size_t id = 0; id < names_.size(); ++id) out[position[id]] = names_[id];
  return out;
}

std::vector<std::int64_t> MessageLayers::flat() const {
  const std::vector<std::size_t> position = order();
  std::vector<std::int64_t> out = messages_;
  for (std::size_t i = 0; i < out.size(); i += kFields) {
    out[i + 2] = static_cast<std::int64_t>(position[static_cast<std::size_t>(out[i + 2])]);
    out[i + 3] = static_cast<std::int64_t>(position[static_cast<std::size_t>(out[i + 3])]);
  }
  return out;
}

}  // namespace asgisim::report
