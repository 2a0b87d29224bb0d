// A run as one self-contained HTML page (`asgisim replay ... --html FILE`):
// swimlanes per task on the virtual-time axis, the ASGI messages as arrows
// between the layers they cross, blocked intervals with what each task waits
// on, cancellations and disconnects, the violation, and for a deadlock the
// wait-for graph with its cycle. Built from the same trace records as the
// Chrome trace JSON (sim/chrome_trace.hpp); nothing is recorded twice.
//
//   std::string trace = trace_data(sim.trace(), sim.task_names());     // while the Simulation lives
//   RunInfo info{.title = "background-cancelled [buggy] seed 0", .failure = "invariant", ...};
//   std::string page = html_page({run_data(info, trace)});
//
// The page carries the runs as JSON in a <script type="application/json">
// element, escaped so that no text from a run (task names, headers, bodies,
// exception messages) can end the element, and renders them with its own
// inline script: no network, no external file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "asgisim/sim/run_result.hpp"
#include "asgisim/sim/trace.hpp"

namespace asgisim::report {

// One violation a checker reported.
struct ViolationInfo {
  std::string invariant{};
  std::string layer{};
  std::uint64_t request = 0;
  std::int64_t time_ns = 0;
  std::string detail{};
  bool warning = false;
  // Records in the trace when it was reported (0: at the end of the run).
  std::uint64_t trace_records = 0;
};

// What the page says about a run besides its trace.
struct RunInfo {
  std::string title{};                            // "background-cancelled [buggy] seed 0"
  std::map<std::string, std::string> metadata{};  // scenario, config, seed, strategy, ... shown as a table
  std::string failure{};                          // the failure class; empty when the run passed
  std::string invariant{};                        // the invariant that failed
  std::string layer{};                            // the layer to blame
  std::string explanation{};                      // the failure report
  std::string reproduce{};                        // the command that reproduces the run
  std::vector<ViolationInfo> violations{};        // every violation, warnings included
  std::vector<sim::BlockedTask> blocked{};        // who waits on what at the end (deadlock, liveness)
};

// The run's retained trace records as the JSON the page draws (its format
// is the page's business; see web/lanes.js). `task_names[id]` names task `id`.
// Call it while the run's Simulation lives; keep the string.
std::string trace_data(const sim::Trace& trace, const std::vector<std::string>& task_names);

// One run for html_page(): `info` and a trace_data() string (empty: no trace).
std::string run_data(const RunInfo& info, const std::string& trace);

// One scenario and configuration of a sweep, for the sweep view.
struct SweepRow {
  std::string scenario{};
  std::string config{};
  std::uint64_t seeds = 0;  // seeds run
  double seconds = 0;       // wall time
  std::uint64_t failures = 0;
  // Per failure class and invariant ("invariant background-complete"): failing seeds.
  std::map<std::string, std::uint64_t> failures_by{};
  // The lowest failing seed of each class and invariant.
  struct Example {
    std::string failure{};
    std::string invariant{};
    std::uint64_t seed = 0;
    std::string reproduce{};
    int run = -1;  // its index among html_page()'s runs, when embedded
  };
  std::vector<Example> first_failures{};
};

// The sweep view's data: a table of `rows`.
std::string sweep_data(const std::vector<SweepRow>& rows);

// Two runs of one seed (`--compare fixed`: the buggy and the fixed
// configuration), each a trace_data() string, aligned on their clients'
// events: the k-th event of a client (by task name) in one run is matched
// with its k-th in the other while both are of the same kind (request sent,
// response start, body bytes, response end, disconnect); the pairs in the same
// order in both runs anchor the page's shared axis; and the first place where
// the runs part is named: the first client event that differs or that one
// run never has, else the first observation of a request (a note, an ASGI
// message) that differs. `label_a` and `label_b` name the runs ("buggy").
// The JSON for html_page()'s `compare`: {"labels", "pairs": flat [record a,
// record b, anchor 0/1, kind], "summary", "divergence": null or {"kind":
// "client"|"stack", "a", "b" (records, -1: none in that run), "text"}}.
std::string compare_data(const std::string& trace_a, const std::string& trace_b, const std::string& label_a,
                         const std::string& label_b);

// The page for one or more runs (each a run_data() string), shown one after
// the other, after a sweep's table when `sweep` (a sweep_data() string) is
// given; `title` names the page. With `compare` (a compare_data() string of
// the first two runs), their swimlanes are drawn one above the other on the
// shared axis, the matched client events connected, the parting marked.
std::string html_page(const std::vector<std::string>& runs, const std::string& title = "asgisim run",
                      const std::string& sweep = "", const std::string& compare = "");

// `text` made safe inside a <script> element of an HTML page: '<', '>' and
// '&' as JSON's \u escapes (valid only inside JSON strings, where a run's
// text always is).
std::string escape_for_script(std::string_view json);

}  // namespace asgisim::report
