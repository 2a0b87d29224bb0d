// Python's int() and float() on a path parameter (str, int or float), and
// the decimal parsing behind them, for the convertors (convertors.cpp).
#pragma once

#include <cstdint>
#include <string_view>

#include "asgisim/core/asgi.hpp"

namespace asgisim::core::detail {

// The value of a run of decimal digits; throws PathParamOverflow past 64 bits.
std::int64_t parse_int64(std::string_view digits, bool negative);
// Python's int(value).
std::int64_t python_int(const PathParam& value);
// A decimal such as "1.5" or "2e3" (infinity on overflow, 0.0 on underflow,
// as Python); throws std::invalid_argument for anything else.
double decimal_to_double(std::string_view text);
// Python's float(value).
double python_float(const PathParam& value);

}  // namespace asgisim::core::detail
