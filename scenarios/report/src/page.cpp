// The report page: the template, its style and scripts (embedded at build
// time from web/), and the runs' JSON, escaped for a <script> element.
#include <fmt/format.h>

#include <stdexcept>

#include "asgisim/report/report.hpp"
#include "asgisim/report/web_assets.hpp"  // generated from web/ by cmake/embed_files.cmake

namespace asgisim::report {
namespace {

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Replaces the one `marker` in `page` by `text`.
void fill(std::string& page, std::string_view marker, std::string_view text) {
  const std::size_t at = page.find(marker);
  if (at == std::string::npos) throw std::logic_error(fmt::format("the report template lacks {}", marker));
  page.replace(at, marker.size(), text);
}

}  // namespace

std::string escape_for_script(std::string_view json) {
  std::string out;
  out.reserve(json.size() + json.size() / 16);
  for (const char c : json) {
    switch (c) {
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string html_page(const std::vector<std::string>& runs, const std::string& title,
                      const std::string& sweep) {
  std::string data =
      "{\"sweep\":" + (sweep.empty() ? std::string("null") : escape_for_script(sweep)) + ",\"runs\":[";
  for (std::size_t i = 0; i < runs.size(); ++i) data += (i ? "," : "") + escape_for_script(runs[i]);
  data += "]}";
  // Filled in this order so that no inserted text is searched for a marker.
  std::string page(web::kReportHtml);
  fill(page, "@TITLE@", escape_html(title));
  fill(page, "/*@STYLE@*/", web::kReportCss);
  fill(page, "/*@LAYOUT@*/", web::kDagreJs);
  fill(page, "/*@SCRIPT@*/", fmt::format("{}\n{}\n{}", web::kGraphJs, web::kLanesJs, web::kReportJs));
  fill(page, "@DATA@", data);
  return page;
}

}  // namespace asgisim::report
