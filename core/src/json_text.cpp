// A JSON checker that accepts what CPython's json scanner accepts, and the
// json.dumps pieces JSONResponse needs. Iterative, so a deeply nested body
// cannot overflow a fiber's stack.
#include "asgisim/core/json_text.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "asgisim/core/datastructures.hpp"

namespace asgisim::core {

namespace {

constexpr std::size_t kNestingMax = 1000;

class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  void document() {
    std::vector<char> open;  // '{' or '[' for each container being read
    for (;;) {
      skip_whitespace();
      if (done()) fail("Expecting value");
      const char c = text_[at_];
      if (c == '{' || c == '[') {
        ++at_;
        skip_whitespace();
        const char close = c == '{' ? '}' : ']';
        if (!done() && text_[at_] == close) {
          ++at_;
        } else {
          open.push_back(c);
          if (open.size() > kNestingMax) fail("maximum recursion depth exceeded");
          if (c == '{') key();
          continue;  // read the first member's value
        }
      } else if (c == '"') {
        string();
      } else {
        scalar();
      }
      // A value is complete: close containers until one wants another member.
      for (;;) {
        if (open.empty()) {
          skip_whitespace();
          if (!done()) fail("Extra data");
          return;
        }
        skip_whitespace();
        const char container = open.back();
        if (done()) fail("Expecting ',' delimiter");
        const char c2 = text_[at_];
        if (c2 == ',') {
          ++at_;
          if (container == '{') key();
          break;
        }
        if ((container == '{' && c2 == '}') || (container == '[' && c2 == ']')) {
          ++at_;
          open.pop_back();
          continue;
        }
        fail("Expecting ',' delimiter");
      }
    }
  }

 private:
  bool done() const { return at_ >= text_.size(); }
  bool is_digit(std::size_t i) const { return i < text_.size() && text_[i] >= '0' && text_[i] <= '9'; }

  [[noreturn]] void fail(const char* what) const {
    throw JSONDecodeError(std::string(what) + ": char " + std::to_string(at_));
  }

  void skip_whitespace() {
    while (!done() && (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r'))
      ++at_;
  }

  // A member name and its ':'; the value follows.
  void key() {
    skip_whitespace();
    if (done() || text_[at_] != '"') fail("Expecting property name enclosed in double quotes");
    string();
    skip_whitespace();
    if (done() || text_[at_] != ':') fail("Expecting ':' delimiter");
    ++at_;
  }

  void string() {
    ++at_;  // the opening quote
    for (;;) {
      if (done()) fail("Unterminated string starting at");
      const auto c = static_cast<unsigned char>(text_[at_]);
      if (c == '"') {
        ++at_;
        return;
      }
      if (c == '\\') {
        if (at_ + 1 >= text_.size()) fail("Unterminated string starting at");
        const char escape = text_[at_ + 1];
        if (escape == 'u') {
          for (std::size_t i = at_ + 2; i < at_ + 6; ++i) {
            const char h = i < text_.size() ? text_[i] : '\0';
            const bool hex = (h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F');
            if (!hex) fail("Invalid \\uXXXX escape");
          }
          at_ += 6;
        } else if (std::string_view("\"\\/bfnrt").find(escape) != std::string_view::npos) {
          at_ += 2;
        } else {
          fail("Invalid \\escape");
        }
        continue;
      }
      if (c < 0x20) fail("Invalid control character at");
      ++at_;
    }
  }

  bool literal(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }

  void scalar() {
    if (literal("null") || literal("true") || literal("false") || literal("NaN") || literal("Infinity") ||
        literal("-Infinity")) {
      return;
    }
    std::size_t i = at_;
    if (i < text_.size() && text_[i] == '-') ++i;
    if (!is_digit(i)) fail("Expecting value");
    if (text_[i] == '0') {
      ++i;
    } else {
      while (is_digit(i)) ++i;
    }
    if (i < text_.size() && text_[i] == '.' && is_digit(i + 1)) {
      ++i;
      while (is_digit(i)) ++i;
    }
    if (i < text_.size() && (text_[i] == 'e' || text_[i] == 'E')) {
      std::size_t exponent = i + 1;
      if (exponent < text_.size() && (text_[exponent] == '+' || text_[exponent] == '-')) ++exponent;
      if (is_digit(exponent)) {
        while (is_digit(exponent)) ++exponent;
        i = exponent;
      }
    }
    at_ = i;
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

// bytes.decode("utf-8", "surrogatepass") succeeds: valid UTF-8, where the
// encoded surrogates ED A0..BF xx are allowed too.
bool decodes_with_surrogatepass(std::string_view bytes) {
  std::string masked(bytes);
  for (std::size_t i = 0; i + 2 < masked.size(); ++i) {
    const auto b0 = static_cast<unsigned char>(masked[i]);
    const auto b1 = static_cast<unsigned char>(masked[i + 1]);
    const auto b2 = static_cast<unsigned char>(masked[i + 2]);
    if (b0 == 0xED && b1 >= 0xA0 && b1 <= 0xBF && b2 >= 0x80 && b2 <= 0xBF) {
      masked[i] = masked[i + 1] = masked[i + 2] = '?';
      i += 2;
    }
  }
  return is_valid_utf8(masked);
}

}  // namespace

std::string check_json(std::string_view body) {
  constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
  if (body.substr(0, kByteOrderMark.size()) == kByteOrderMark) body.remove_prefix(kByteOrderMark.size());
  if (!decodes_with_surrogatepass(body)) throw JSONDecodeError("'utf-8' codec can't decode the body");
  Scanner(body).document();
  return std::string(body);
}

std::string json_string(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out.push_back(kHex[(c >> 4) & 0x0F]);
          out.push_back(kHex[c & 0x0F]);
        } else {
          out.push_back(c);
        }
    }
  }
  out += "\"";
  return out;
}

std::string json_float(double value) {
  if (std::isnan(value) || std::isinf(value)) {
    throw std::invalid_argument("Out of range float values are not JSON compliant");
  }
  return python_float_repr(value);
}

std::string json_integer(std::int64_t value) { return std::to_string(value); }

}  // namespace asgisim::core
