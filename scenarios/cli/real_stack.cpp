#include "real_stack.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "options.hpp"

namespace asgisim::cli {

namespace {

// The command word quoted for sh -c (a path with spaces stays one word).
std::string shell_quoted(const std::string& word) {
  std::string quoted = "'";
  for (const char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

RealRun parse_line(const std::string& text) {
  const nlohmann::json line = nlohmann::json::parse(text);
  RealRun run;
  run.line = text;
  run.scenario = line.at("scenario").get<std::string>();
  run.config = line.at("config").get<std::string>();
  run.starlette = line.at("starlette").get<std::string>();
  if (line.contains("skipped")) {
    run.skipped = line.at("skipped").get<std::string>();
    return run;
  }
  run.seeds_run = line.at("seeds_run").get<std::uint64_t>();
  run.failed = line.at("failed").get<bool>();
  if (run.failed) {
    run.seed = line.at("seed").get<std::uint64_t>();
    run.failure = line.at("failure").get<std::string>();
    run.invariant = line.at("invariant").get<std::string>();
    run.deterministic = line.at("deterministic").get<bool>();
  }
  return run;
}

}  // namespace

std::map<std::string, std::vector<RealRun>> run_real_catalogue(const std::string& python,
                                                               std::uint64_t buggy_seeds) {
  const std::string command =
      shell_quoted(python) + " -m asgisim catalogue --buggy-seeds " + std::to_string(buggy_seeds);
  std::fflush(stdout);
  std::fflush(stderr);
  struct Closer {
    void operator()(std::FILE* file) const {
      if (file != nullptr) pclose(file);
    }
  };
  std::unique_ptr<std::FILE, Closer> pipe(popen(command.c_str(), "r"));
  if (!pipe) throw UsageError("--python " + python + ": cannot start `" + command + "`");
  std::string output;
  char buffer[4096];
  while (const std::size_t got = std::fread(buffer, 1, sizeof buffer, pipe.get())) output.append(buffer, got);
  const int status = pclose(pipe.release());
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw UsageError("--python " + python + ": `" + command + "` failed (exit status " +
                     std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : status) +
                     "; a python3 with this build's asgisim package, e.g. <build>/python/asgisim-python?)");
  }
  std::map<std::string, std::vector<RealRun>> runs;
  std::size_t start = 0;
  while (start < output.size()) {
    std::size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    const std::string text = output.substr(start, end - start);
    start = end + 1;
    if (text.empty()) continue;
    try {
      RealRun run = parse_line(text);
      runs[run.scenario].push_back(std::move(run));
    } catch (const nlohmann::json::exception& error) {
      throw UsageError("--python " + python + ": unexpected answer line '" + text + "': " + error.what());
    }
  }
  return runs;
}

}  // namespace asgisim::cli
