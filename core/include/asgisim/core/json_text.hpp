// JSON text as Python's json module reads and writes it (CPython 3.11), for
// Request.json() and JSONResponse (Starlette 0.26.1). The model keeps JSON
// as text: it checks what json.loads would accept and writes the pieces that
// json.dumps(..., ensure_ascii=False, allow_nan=False, separators=(",", ":"))
// would produce, without building a document tree.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace asgisim::core {

// json.JSONDecodeError (a ValueError); the message names the position.
class JSONDecodeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// json.loads(body) on bytes: skips a UTF-8 byte-order mark, requires valid
// UTF-8 (encoded surrogates pass, as with "surrogatepass") and one JSON value
// with optional surrounding whitespace. Accepts NaN, Infinity and -Infinity
// as Python does. Returns the text without the byte-order mark; throws
// JSONDecodeError otherwise. Not modelled: UTF-16/32 bodies (treated as
// UTF-8) and Python's recursion limit (nesting deeper than 1000 is rejected).
std::string check_json(std::string_view body);

// json.dumps(text, ensure_ascii=False) for a str held as UTF-8.
std::string json_string(std::string_view text);
// json.dumps(number): repr() of a float; ValueError (std::invalid_argument)
// for NaN and infinities because JSONResponse passes allow_nan=False.
std::string json_float(double value);
std::string json_integer(std::int64_t value);

}  // namespace asgisim::core
