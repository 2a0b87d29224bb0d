// Running headless Chromium as a child process (popen) for the report tests.
#include "report/browser.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

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
      "--host-resolver-rules='MAP * ~NOTFOUND' --user-data-dir={} --window-size={},{} ",
      quoted(chromium), quoted((page.parent_path() / (".chromium-profile-" + page.stem().string())).string()),
      kWindowWidth, kWindowHeight);
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

std::string png_problem(const std::filesystem::path& png) {
  std::ifstream in(png, std::ios::binary);
  if (!in) return fmt::format("{} is missing", png.string());
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The signature, then the IHDR chunk: length 13, "IHDR", width, height (big-endian).
  if (bytes.size() < 24 || bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0 || bytes.compare(12, 4, "IHDR") != 0)
    return fmt::format("{} is not a PNG file ({} bytes)", png.string(), bytes.size());
  const auto be32 = [&bytes](std::size_t at) {
    std::uint32_t value = 0;
    for (std::size_t k = 0; k < 4; ++k) value = (value << 8) | static_cast<unsigned char>(bytes[at + k]);
    return value;
  };
  if (be32(16) != kWindowWidth || be32(20) != kWindowHeight)
    return fmt::format("{} is {}x{}, not the window's {}x{}", png.string(), be32(16), be32(20), kWindowWidth,
                       kWindowHeight);
  // A blank window compresses to a few kilobytes; a drawn report to tens.
  if (bytes.size() < 20'000) return fmt::format("{} is nearly blank ({} bytes)", png.string(), bytes.size());
  return {};
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

}  // namespace asgisim::report::testing
