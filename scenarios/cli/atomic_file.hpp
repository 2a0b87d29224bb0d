// Files that survive a crash: written to a temporary file in the same
// directory, flushed to disk, then renamed over the target, so a reader
// sees the old file or the whole new one, never a truncated one.
//
//   write_file_atomically("out/report.xml", xml);   // throws OutputError naming the path
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace asgisim::cli {

// A file the command could not write (disk full, directory removed, file
// size limit, permissions): what() names the path and the reason.
struct OutputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Writes `text` to `path` atomically. On failure the target is untouched,
// the temporary file removed, and OutputError thrown.
void write_file_atomically(const std::filesystem::path& path, std::string_view text);

// The prefix of the temporary files write_file_atomically leaves behind
// when the process dies mid-write (".asgisim-tmp-").
inline constexpr std::string_view kTemporaryPrefix = ".asgisim-tmp-";

}  // namespace asgisim::cli
