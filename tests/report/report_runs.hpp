// Runs made for the report tests: one whose app sends markup everywhere a
// run's text can go, and one of about 100,000 steps.
#pragma once

#include <string>

#include "asgisim/report/report.hpp"

namespace asgisim::report::testing {

// The markup a hostile app puts in its task name, headers, body, layer name
// and exception: were it parsed as HTML, it would set the page's title to
// "PWNED" and an attribute "data-pwned" on <body>.
inline const std::string kInjection =
    "</script></style><script>document.title='PWNED';document.body.setAttribute('data-pw'+'ned','1')</script>"
    "<img src=x onerror=\"document.body.setAttribute('data-pw'+'ned','2')\">";

struct MadeRun {
  std::string trace;  // trace_data()
  RunInfo info;
};

// A run whose app sends kInjection in a header, a body, a layer's name and
// its task's name, then raises it as an exception nobody receives.
MadeRun injection_run();

// Two tasks taking two locks in opposite orders: a deadlock whose wait-for
// graph is a cycle.
MadeRun deadlock_run();

// A run of `tasks` tasks taking turns for `steps_each` checkpoints each
// (random strategy), with an ASGI message every 100 steps.
MadeRun long_run(int tasks, int steps_each);

}  // namespace asgisim::report::testing
