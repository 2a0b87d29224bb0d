// differential_model_runner: the model side of the differential test. Reads
// cases (CASE_FORMAT.md, one JSON document per line), runs each in asgisim
// with the fifo strategy and the BaseHTTPMiddleware behaviour of the Starlette
// release compared, and prints one observation per line, in input order, in
// the real runner's canonical JSON (sorted keys, no spaces, ASCII).
//
//   differential_model_runner --cases small.jsonl -o small.model.jsonl [--starlette 0.26.1] [--no-meta]
//   differential_model_runner --cases - < cases.jsonl
//
// Exit status (as starlette_runner.py): 0 every case ran, 1 a case could not
// be run (its line carries "error"), 2 bad usage or a malformed case.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "asgisim/core/middleware/base_http.hpp"
#include "asgisim/core/response.hpp"
#include "case.hpp"
#include "observation.hpp"

namespace {

using asgisim::differential::RunOptions;

struct Arguments {
  std::string cases{};
  std::string output{};
  RunOptions run{};
};

constexpr std::string_view kUsage =
    "usage: differential_model_runner --cases FILE|- [-o OUT] [--starlette VERSION] [--anyio 3|4[.x]] "
    "[--no-meta] "
    "[--trace]\n";

std::optional<Arguments> parse_arguments(int argc, char** argv) {
  Arguments arguments;
  for (int index = 1; index < argc; ++index) {
    const std::string_view argument = argv[index];
    const bool has_value = index + 1 < argc;
    if (argument == "--cases" && has_value) {
      arguments.cases = argv[++index];
    } else if ((argument == "-o" || argument == "--output") && has_value) {
      arguments.output = argv[++index];
    } else if (argument == "--starlette" && has_value) {
      arguments.run.starlette = argv[++index];
    } else if (argument == "--anyio" && has_value) {
      const std::string_view version = argv[++index];
      if (version.empty() || (version[0] != '3' && version[0] != '4') ||
          (version.size() > 1 && version[1] != '.'))
        return std::nullopt;
      arguments.run.anyio_major = version[0] - '0';
    } else if (argument == "--trace") {
      arguments.run.trace = true;
    } else if (argument == "--no-meta") {
      arguments.run.meta = false;
    } else {
      return std::nullopt;
    }
  }
  if (arguments.cases.empty()) return std::nullopt;
  const auto behaviour = asgisim::core::base_http_behaviour_for_starlette(arguments.run.starlette);
  if (!behaviour) {
    std::cerr << "differential_model_runner: no modelled behaviour for Starlette " << arguments.run.starlette
              << "\n";
    return std::nullopt;
  }
  arguments.run.behaviour = *behaviour;
  int major = 0;
  int minor = 0;
  if (std::sscanf(arguments.run.starlette.c_str(), "%d.%d", &major, &minor) == 2)
    arguments.run.streaming = asgisim::core::streaming_behaviour_for_starlette(major, minor);
  return arguments;
}

// 0, 1 or 2 as the exit status; one observation line per case line.
int run_lines(std::istream& in, std::ostream& out, const RunOptions& options) {
  int status = 0;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    asgisim::differential::Case the_case;
    try {
      the_case = asgisim::differential::parse_case(nlohmann::json::parse(line));
    } catch (const std::exception& error) {
      std::cerr << "line " << number << ": " << error.what() << "\n";
      return 2;
    }
    nlohmann::json observation;
    try {
      observation = asgisim::differential::run_case(the_case, options);
    } catch (const std::exception& error) {
      observation = {{"format", 1}, {"id", the_case.id}, {"error", std::string("model: ") + error.what()}};
    }
    if (observation.contains("error")) status = 1;
    out << observation.dump(-1, ' ', /*ensure_ascii=*/true) << '\n';
  }
  out.flush();
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Arguments> arguments = parse_arguments(argc, argv);
  if (!arguments) {
    std::cerr << kUsage;
    return 2;
  }
  std::ifstream file;
  if (arguments->cases != "-") {
    file.open(arguments->cases);
    if (!file) {
      std::cerr << "differential_model_runner: cannot read " << arguments->cases << "\n";
      return 2;
    }
  }
  std::istream& in = arguments->cases == "-" ? std::cin : file;
  if (arguments->output.empty()) return run_lines(in, std::cout, arguments->run);
  std::ofstream out(arguments->output);
  if (!out) {
    std::cerr << "differential_model_runner: cannot write " << arguments->output << "\n";
    return 2;
  }
  return run_lines(in, out, arguments->run);
}
