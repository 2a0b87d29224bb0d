// Starlette's path templates and convertors (starlette/convertors.py and
// routing.compile_path, 0.26.1; unchanged in later releases that matter
// here). A template like "/users/{id:int}/{rest:path}" compiles to literal
// pieces and typed parameters; matching follows Python's `re.match` on the
// compiled regex exactly, backtracking included:
//
//   str   [^/]+                      -> the text
//   path  .*     (not across '\n')   -> the text
//   int   [0-9]+                     -> int(text)
//   float [0-9]+(\.[0-9]+)?          -> float(text)
//   uuid  [0-9a-f]{8}-...-[0-9a-f]{12} (lower-case only) -> canonical text
//
// and the template's final `$` also matches before one trailing '\n', as
// Python's does. The model's only departure: an int beyond 64 bits (Python
// ints are unbounded) raises PathParamOverflow instead of converting.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asgisim/core/asgi.hpp"

namespace asgisim::core {

enum class ConvertorType : std::uint8_t { str, path, integer, floating, uuid };

// "str", "path", "int", "float", "uuid"; nullopt for any other name.
std::optional<ConvertorType> parse_convertor_type(std::string_view name);
std::string_view to_string(ConvertorType type);

// A convertor's to_string() refused a value (Python's AssertionError:
// "Negative integers are not supported", "May not contain path separators", ...).
class ConvertorError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// An {x:int} segment whose digits do not fit in 64 bits.
class PathParamOverflow : public std::out_of_range {
 public:
  using std::out_of_range::out_of_range;
};

// Path parameters as url_path_for() receives them: Python keyword arguments,
// in the order given.
using PathParams = std::vector<std::pair<std::string, PathParam>>;

// str(value) in Python: text as is, integers in decimal, floats as repr().
std::string python_str(const PathParam& value);

// Whether all of `text` matches the convertor's regex.
bool convertor_accepts(ConvertorType type, std::string_view text);
// convert(): the value for a segment the regex accepted.
PathParam convertor_convert(ConvertorType type, std::string_view text);
// to_string(): the text url_path_for() puts in the path. Python's int() or
// float() run first, so "5" works for an int parameter; their ValueError is
// std::invalid_argument, the convertor's assertions are ConvertorError.
std::string convertor_to_string(ConvertorType type, const PathParam& value);

struct CompiledPath {
  struct Piece {
    std::string literal{};  // text to match exactly (empty for a parameter)
    std::string param{};    // parameter name (empty for a literal)
    ConvertorType type = ConvertorType::str;
  };
  std::vector<Piece> pieces{};
  // "/users/{id}/{rest}": what url_path_for fills in.
  std::string format{};
  // Every parameter with its convertor, in template order.
  std::vector<std::pair<std::string, ConvertorType>> params{};

  std::optional<ConvertorType> convertor_of(std::string_view name) const;
};

// compile_path(path) for a path template (starting with '/' or empty).
// Throws std::invalid_argument for an unknown convertor ("Unknown path
// convertor 'x'") or a repeated name ("Duplicated param name id at path
// /{id}/{id}"), with Starlette's messages.
CompiledPath compile_path(std::string_view path);

// re.match of the compiled template against `path`: the raw text captured
// for each parameter, in template order, or nullopt.
std::optional<std::vector<std::pair<std::string, std::string>>> match_path(const CompiledPath& compiled,
                                                                           std::string_view path);

// Python's KeyError out of replace_params (below): a value put "{name}" into
// the path and `name`, a later parameter, has no convertor in this template.
class PlaceholderKeyError : public std::out_of_range {
 public:
  explicit PlaceholderKeyError(const std::string& name) : std::out_of_range("KeyError: '" + name + "'") {}
};

// routing.replace_params: substitutes every "{name}" of the path being built
// whose name is in `params`, one parameter at a time in the order of
// `params`, removing those entries from `params` (Python mutates the dict it
// was given); returns the new text. As in Python, a value holding another
// parameter's "{name}" is substituted into by that later parameter, and raises
// PlaceholderKeyError when that name has no convertor here (Kludex/starlette#3478).
std::string replace_params(std::string_view format, const CompiledPath& compiled, PathParams& params);

}  // namespace asgisim::core
