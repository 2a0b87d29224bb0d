// Running headless Chromium as a child process (popen) for the report tests.
#include "report/browser.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace asgisim::report::testing {
namespace {

std::string quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool executable(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error) &&
         (std::filesystem::status(path, error).permissions() & std::filesystem::perms::owner_exec) !=
             std::filesystem::perms::none;
}

}  // namespace

std::optional<std::string> find_chromium() {
  if (const char* chosen = std::getenv("ASGISIM_CHROMIUM"); chosen != nullptr && *chosen != '\0') {
    if (executable(chosen)) return std::string(chosen);
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    for (const char* name : {"chromium", "chromium-browser"}) {
      const std::filesystem::path candidate = std::filesystem::path(dirs.substr(start, end - start)) / name;
      if (executable(candidate)) return candidate.string();
    }
    start = end + 1;
  }
  return std::nullopt;
}

Loaded load(const std::string& chromium, const std::filesystem::path& page,
            const std::optional<std::filesystem::path>& screenshot) {
  // No network: every host name fails to resolve, no proxy; the page's own
  // Content-Security-Policy forbids any load besides inline code. A profile
  // per page, so that tests running at once do not share one.
  std::string command = fmt::format(
      "{} --headless --disable-gpu --no-sandbox --no-first-run --no-default-browser-check "
      "--disable-extensions --disable-background-networking --no-proxy-server "
      "--host-resolver-rules='MAP * ~NOTFOUND' --user-data-dir={} --window-size=1400,1000 ",
      quoted(chromium),
      quoted((page.parent_path() / (".chromium-profile-" + page.stem().string())).string()));
  command += screenshot ? fmt::format("--screenshot={} ", quoted(screenshot->string())) : "--dump-dom ";
  command += quoted("file://" + std::filesystem::absolute(page).string()) + " 2>/dev/null";
  Loaded loaded;
  // nondeterminism-ok: a test measuring the browser's load time, outside any run
  const auto started = std::chrono::steady_clock::now();
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return loaded;
  char buffer[65536];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) loaded.dom.append(buffer, got);
  const int status = ::pclose(pipe);
  loaded.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
                       .count();  // nondeterminism-ok: as above
  loaded.ok = status == 0;
  return loaded;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

}  // namespace asgisim::report::testing
