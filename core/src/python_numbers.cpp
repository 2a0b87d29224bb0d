// Python's int() and float() on a path parameter, as url_path_for()'s
// convertors call them (see python_numbers.hpp).
#include "python_numbers.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include "asgisim/core/convertors.hpp"
#include "asgisim/core/datastructures.hpp"

namespace asgisim::core::detail {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view strip_whitespace(std::string_view text) {
  const std::string_view blanks = " \t\n\r\f\v";
  const std::size_t first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(blanks) - first + 1);
}

// Digits with single underscores between them (Python numeric literals);
// returns the digits alone, or nullopt.
std::optional<std::string> digits_without_underscores(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '_' && i > 0 && i + 1 < text.size() && is_digit(text[i - 1]) && is_digit(text[i + 1]))
      continue;
    if (!is_digit(text[i])) return std::nullopt;
    out.push_back(text[i]);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

}  // namespace

std::int64_t parse_int64(std::string_view digits, bool negative) {
  std::uint64_t magnitude = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude);
  const std::uint64_t limit = negative ? std::uint64_t{1} << 63 : (std::uint64_t{1} << 63) - 1;
  if (error != std::errc() || end != digits.data() + digits.size() || magnitude > limit) {
    throw PathParamOverflow("integer " + std::string(negative ? "-" : "") + std::string(digits) +
                            " does not fit in 64 bits");
  }
  if (negative)
    return magnitude == (std::uint64_t{1} << 63) ? std::numeric_limits<std::int64_t>::min()
                                                 : -static_cast<std::int64_t>(magnitude);
  return static_cast<std::int64_t>(magnitude);
}

// Python's int(value).
std::int64_t python_int(const PathParam& value) {
  if (const auto* integer = std::get_if<std::int64_t>(&value)) return *integer;
  if (const auto* number = std::get_if<double>(&value)) {
    if (std::isnan(*number)) throw std::invalid_argument("cannot convert float NaN to integer");
    if (std::isinf(*number)) throw std::invalid_argument("cannot convert float infinity to integer");
    const double truncated = std::trunc(*number);
    if (truncated < -9.2233720368547758e18 || truncated >= 9.2233720368547758e18) {
      throw PathParamOverflow("integer " + python_float_repr(truncated) + " does not fit in 64 bits");
    }
    return static_cast<std::int64_t>(truncated);
  }
  const std::string& text = std::get<std::string>(value);
  std::string_view body = strip_whitespace(text);
  bool negative = false;
  if (!body.empty() && (body.front() == '+' || body.front() == '-')) {
    negative = body.front() == '-';
    body.remove_prefix(1);
  }
  const auto digits = digits_without_underscores(body);
  if (!digits) throw std::invalid_argument("invalid literal for int() with base 10: '" + text + "'");
  return parse_int64(*digits, negative);
}

double decimal_to_double(std::string_view text) {
  double result = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), result);
  if (error == std::errc::result_out_of_range) {
    // Overflow gives inf in Python, underflow 0.0; only a huge integer part overflows.
    const std::size_t point = std::min(text.find('.'), text.size());
    const bool large = text.substr(0, point).find_first_not_of("0+-") != std::string_view::npos;
    return large ? std::numeric_limits<double>::infinity() : 0.0;
  }
  if (error != std::errc() || end != text.data() + text.size()) throw std::invalid_argument("bad float");
  return result;
}

// Python's float(value).
double python_float(const PathParam& value) {
  if (const auto* integer = std::get_if<std::int64_t>(&value)) return static_cast<double>(*integer);
  if (const auto* number = std::get_if<double>(&value)) return *number;
  const std::string& text = std::get<std::string>(value);
  const std::string error = "could not convert string to float: '" + text + "'";
  std::string_view body = strip_whitespace(text);
  bool negative = false;
  if (!body.empty() && (body.front() == '+' || body.front() == '-')) {
    negative = body.front() == '-';
    body.remove_prefix(1);
  }
  std::string lower(body);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  double result = 0;
  if (lower == "inf" || lower == "infinity") {
    result = std::numeric_limits<double>::infinity();
  } else if (lower == "nan") {
    result = std::numeric_limits<double>::quiet_NaN();
  } else {
    // Drop the underscores Python allows between digits, then parse.
    std::string cleaned;
    for (std::size_t i = 0; i < lower.size(); ++i) {
      if (lower[i] == '_') {
        if (i == 0 || i + 1 == lower.size() || !is_digit(lower[i - 1]) || !is_digit(lower[i + 1])) {
          throw std::invalid_argument(error);
        }
        continue;
      }
      cleaned.push_back(lower[i]);
    }
    if (cleaned.empty() || cleaned.front() == '+' || cleaned.front() == '-' ||
        cleaned.find_first_of("0123456789") == std::string::npos ||
        cleaned.find_first_not_of("0123456789.e+-") != std::string::npos) {
      throw std::invalid_argument(error);
    }
    try {
      result = decimal_to_double(cleaned);
    } catch (const std::invalid_argument&) {
      throw std::invalid_argument(error);
    }
  }
  return negative ? -result : result;
}

}  // namespace asgisim::core::detail
