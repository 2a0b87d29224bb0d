// Headless Chromium for the report tests: loads a page from disk with the
// network off and returns the DOM after its scripts ran.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace asgisim::report::testing {

// The browser to use: $ASGISIM_CHROMIUM, else chromium on the PATH; nullopt
// when there is none (the browser tests skip).
std::optional<std::string> find_chromium();

struct Loaded {
  std::string dom;     // the DOM after the page's scripts ran
  double seconds = 0;  // wall time of the browser process
  bool ok = false;     // the browser exited normally
};

// Loads `page` (a file) and dumps its DOM; with `screenshot`, also writes a
// PNG of the window there.
Loaded load(const std::string& chromium, const std::filesystem::path& page,
            const std::optional<std::filesystem::path>& screenshot = std::nullopt);

// The browser's window, and so the size of a screenshot.
inline constexpr int kWindowWidth = 1400;
inline constexpr int kWindowHeight = 1000;

// What is wrong with `png` as a screenshot of a drawn page: not a PNG file
// (signature, IHDR chunk), not kWindowWidth x kWindowHeight, or too small to
// hold more than a blank page; empty when nothing is.
std::string png_problem(const std::filesystem::path& png);

// How often `needle` occurs in `text`.
std::size_t count(const std::string& text, const std::string& needle);

}  // namespace asgisim::report::testing
