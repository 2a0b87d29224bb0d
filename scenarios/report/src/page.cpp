// The report page: the template, its style and scripts (embedded at build
// time from web/), and the runs' JSON, escaped for a <script> element.
#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>
#include <stdexcept>
#include <utility>

#include "asgisim/report/report.hpp"
#include "asgisim/report/web_assets.hpp"  // generated from web/ by cmake/embed_files.cmake

namespace asgisim::report {
namespace {

// `text` with each character that has an entry in `replacements` replaced.
std::string replaced(std::string_view text,
                     std::initializer_list<std::pair<char, std::string_view>> replacements) {
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  for (const char c : text) {
    const auto* found = std::find_if(replacements.begin(), replacements.end(),
                                     [c](const auto& replacement) { return replacement.first == c; });
    if (found != replacements.end()) {
      out += found->second;
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_html(std::string_view text) {
  return replaced(text, {{'<', "&lt;"}, {'>', "&gt;"}, {'&', "&amp;"}, {'"', "&quot;"}});
}

// Replaces the one `marker` in `page` by `text`.
void fill(std::string& page, std::string_view marker, std::string_view text) {
  const std::size_t at = page.find(marker);
  if (at == std::string::npos) throw std::logic_error(fmt::format("the report template lacks {}", marker));
  page.replace(at, marker.size(), text);
}

}  // namespace

std::string escape_for_script(std::string_view json) {
  return replaced(json, {{'<', "\\u003c"}, {'>', "\\u003e"}, {'&', "\\u0026"}});
}

std::string html_page(const std::vector<std::string>& runs, const std::string& title,
                      const std::string& sweep, const std::string& compare) {
  // Appends, not "literal" + std::string: GCC 12's -Wrestrict misfires on
  // those at -O3 (GCC bug 105651) and a plain Release build has -Werror.
  std::string data = "{\"sweep\":";
  data += sweep.empty() ? std::string("null") : escape_for_script(sweep);
  data += ",\"runs\":[";
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (i > 0) data += ',';
    data += escape_for_script(runs[i]);
  }
  data += "],\"compare\":";
  data += compare.empty() ? std::string("null") : escape_for_script(compare);
  data += '}';
  // Filled from the last marker to the first: each marker is then the first
  // occurrence of its text, whatever the text inserted after it holds.
  std::string page(web::kReportHtml);
  fill(page, "/*@SCRIPT@*/",
       fmt::format("{}\n{}\n{}\n{}", web::kGraphJs, web::kLanesJs, web::kCompareJs, web::kReportJs));
  fill(page, "/*@LAYOUT@*/", web::kDagreJs);
  fill(page, "@DATA@", data);
  fill(page, "/*@STYLE@*/", web::kReportCss);
  fill(page, "@TITLE@", escape_html(title));
  return page;
}

}  // namespace asgisim::report
