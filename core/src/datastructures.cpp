// Python text semantics for Starlette's datastructures and urllib.parse
// (CPython 3.11), over UTF-8 strings.
#include "asgisim/core/datastructures.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <system_error>

#include "asgisim/sim/assert.hpp"

namespace asgisim::core {

namespace {

void append_code_point(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    ASGISIM_ASSERT(code_point <= 0xFFFF);
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

constexpr std::uint32_t kReplacementCharacter = 0xFFFD;

// Length of the valid UTF-8 sequence at `at`, or 0 with `consumed` set to the
// length of the maximal invalid subpart (what one U+FFFD replaces).
std::size_t utf8_sequence_length(std::string_view bytes, std::size_t at, std::size_t& consumed) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
  const unsigned char lead = byte(at);
  consumed = 1;
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;  // no UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  for (std::size_t i = 1; i < length; ++i) {
    if (at + i >= bytes.size()) return 0;
    const unsigned char next = byte(at + i);
    const unsigned char lower = i == 1 ? low : 0x80;
    const unsigned char upper = i == 1 ? high : 0xBF;
    if (next < lower || next > upper) return 0;
    consumed = i + 1;
  }
  return length;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '-' || c == '~';
}

}  // namespace

std::string latin1_to_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) append_code_point(out, static_cast<unsigned char>(c));
  return out;
}

std::string utf8_decode_replace(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t at = 0;
  while (at < bytes.size()) {
    std::size_t consumed = 0;
    const std::size_t length = utf8_sequence_length(bytes, at, consumed);
    if (length == 0) {
      append_code_point(out, kReplacementCharacter);
      at += consumed;
    } else {
      out.append(bytes.substr(at, length));
      at += length;
    }
  }
  return out;
}

bool is_valid_utf8(std::string_view bytes) {
  std::size_t at = 0;
  while (at < bytes.size()) {
    std::size_t consumed = 0;
    const std::size_t length = utf8_sequence_length(bytes, at, consumed);
    if (length == 0) return false;
    at += length;
  }
  return true;
}

std::string unquote_to_bytes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::string unquote(std::string_view text) {
  if (text.find('%') == std::string_view::npos) return std::string(text);
  // CPython splits the str into ASCII and non-ASCII runs and decodes only the
  // ASCII runs (after unquote_to_bytes) as UTF-8 with replacement. In UTF-8
  // every byte of a non-ASCII code point is >= 0x80, so runs split the same.
  std::string out;
  out.reserve(text.size());
  std::size_t at = 0;
  while (at < text.size()) {
    const bool ascii = static_cast<unsigned char>(text[at]) < 0x80;
    std::size_t end = at;
    while (end < text.size() && (static_cast<unsigned char>(text[end]) < 0x80) == ascii) ++end;
    const std::string_view run = text.substr(at, end - at);
    if (ascii) {
      out += utf8_decode_replace(unquote_to_bytes(run));
    } else {
      out.append(run);
    }
    at = end;
  }
  return out;
}

std::string quote(std::string_view text, std::string_view safe) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (is_unreserved(byte) || (byte < 0x80 && safe.find(c) != std::string_view::npos)) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0F]);
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_qsl(std::string_view text, bool keep_blank_values) {
  std::vector<std::pair<std::string, std::string>> result;
  const auto plus_to_space = [](std::string_view part) {
    std::string out(part);
    for (char& c : out) {
      if (c == '+') c = ' ';
    }
    return out;
  };
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('&', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view name_value = text.substr(start, end - start);
    start = end + 1;
    if (name_value.empty()) continue;
    const std::size_t equals = name_value.find('=');
    std::string_view name = name_value;
    std::string_view value;
    if (equals == std::string_view::npos) {
      if (!keep_blank_values) continue;
    } else {
      name = name_value.substr(0, equals);
      value = name_value.substr(equals + 1);
    }
    if (!value.empty() || keep_blank_values) {
      result.emplace_back(unquote(plus_to_space(name)), unquote(plus_to_space(value)));
    }
  }
  return result;
}

QueryParams::QueryParams(std::string_view query_string)
    : items_(parse_qsl(latin1_to_utf8(query_string), /*keep_blank_values=*/true)) {}

std::optional<std::string> QueryParams::get(std::string_view key) const {
  std::optional<std::string> found;
  for (const auto& [name, value] : items_) {
    if (name == key) found = value;
  }
  return found;
}

std::vector<std::string> QueryParams::getlist(std::string_view key) const {
  std::vector<std::string> values;
  for (const auto& [name, value] : items_) {
    if (name == key) values.push_back(value);
  }
  return values;
}

std::vector<std::pair<std::string, std::string>> QueryParams::items() const {
  std::vector<std::pair<std::string, std::string>> unique;
  for (const auto& [name, value] : items_) {
    bool replaced = false;
    for (auto& entry : unique) {
      if (entry.first == name) {
        entry.second = value;
        replaced = true;
        break;
      }
    }
    if (!replaced) unique.emplace_back(name, value);
  }
  return unique;
}

namespace {
std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}
}  // namespace

std::optional<std::string> get_header(const Headers& headers, std::string_view name) {
  const std::string wanted = ascii_lower(name);
  for (const auto& [key, value] : headers) {
    if (ascii_lower(key) == wanted) return value;
  }
  return std::nullopt;
}

void set_header(Headers& headers, std::string_view name, std::string value) {
  const std::string key = ascii_lower(name);
  bool found = false;
  for (std::size_t i = 0; i < headers.size();) {
    if (headers[i].first != key) {
      ++i;
    } else if (!found) {
      headers[i].second = std::move(value);
      found = true;
      ++i;
    } else {
      headers.erase(headers.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  if (!found) headers.emplace_back(key, std::move(value));
}

std::string url_from_scope(const Scope& scope) {
  const std::string path = scope.root_path + scope.path;
  std::string url;
  if (auto host = find_header(scope.headers, "host")) {
    url = scope.scheme + "://" + latin1_to_utf8(*host) + path;
  } else {
    url = path;
  }
  if (!scope.query_string.empty()) {
    if (!is_valid_utf8(scope.query_string)) {
      throw UnicodeDecodeError("'utf-8' codec can't decode the query string");
    }
    url += "?" + scope.query_string;
  }
  return url;
}

std::string python_float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  char buffer[64];
  const auto [end, error] =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  ASGISIM_ASSERT(error == std::errc());
  const std::string_view text(buffer, static_cast<std::size_t>(end - buffer));
  // text is "[-]d[.ddd]e[+-]XX": split into sign, digits and exponent.
  const std::size_t e = text.find('e');
  std::string_view mantissa = text.substr(0, e);
  std::string sign;
  if (!mantissa.empty() && mantissa.front() == '-') {
    sign = "-";
    mantissa.remove_prefix(1);
  }
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = 0;
  std::string_view exponent_text = text.substr(e + 1);
  if (!exponent_text.empty() && exponent_text.front() == '+') exponent_text.remove_prefix(1);
  std::from_chars(exponent_text.data(), exponent_text.data() + exponent_text.size(), exponent);
  const int point = exponent + 1;  // digits are 0.DIGITS x 10^point
  const int count = static_cast<int>(digits.size());
  if (point > -4 && point <= 16) {
    if (point <= 0) return sign + "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
    if (point >= count)
      return sign + digits + std::string(static_cast<std::size_t>(point - count), '0') + ".0";
    return sign + digits.substr(0, static_cast<std::size_t>(point)) + "." +
           digits.substr(static_cast<std::size_t>(point));
  }
  std::string out = sign + digits.substr(0, 1);
  if (count > 1) out += "." + digits.substr(1);
  const int magnitude = exponent < 0 ? -exponent : exponent;
  out += exponent < 0 ? "e-" : "e+";
  if (magnitude < 10) out += "0";
  out += std::to_string(magnitude);
  return out;
}

}  // namespace asgisim::core
