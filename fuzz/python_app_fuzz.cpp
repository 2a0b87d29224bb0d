// libFuzzer target for a real Python ASGI app: the program embeds the
// interpreter, and each input's bytes are the choice stream (lenient) of one
// bridge run of the app, as `python3 -m asgisim run` would make from a seed:
// the scenario's chosen parts (body chunking and pauses, where clients
// leave, what the scenario itself draws with s.choose), every scheduling
// decision the strategy leaves open, and the values random/uuid/os.urandom
// answer. Any failure (an invariant, a deadlock, liveness, an escape) is a
// finding. The app's own Python lines feed libFuzzer's coverage
// (asgisim/fuzzing.py), so a branch in the user's code is progress too.
//
// The app and scenario come from the environment (fuzzing.py's docstring
// has the whole list):
//
//   export ASGISIM_FUZZ_APP=myapp.main:app ASGISIM_FUZZ_SCENARIO=myapp.sim:uploads
//   build/fuzz/python/fuzz_python_app -max_total_time=60 corpus/
//
// Unset, they name this build's default: examples/python/fuzz_app.py's clean
// app, or its planted-bug canary in fuzz_python_app_canary. A finding is
// written as a decision log, replayed once in a fresh process to confirm it,
// and printed with the command that replays it:
//
//   reproduce: cd examples/python && asgisim-python -m asgisim replay --app fuzz_app:canary_app
//              --scenario fuzz_app:scenario --schedule python-finding-0123456789abcdef.log
//
// The runs share one process (a fork per input would hide the coverage), so
// state the app keeps between requests carries from one input to the next;
// the confirmation in a fresh process says when a finding needs it.
#include <pybind11/embed.h>
#include <pybind11/stl.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>

#include "fuzz_support.hpp"
#include "native_module.hpp"

#ifndef ASGISIM_FUZZ_PYTHON_APP
#define ASGISIM_FUZZ_PYTHON_APP "fuzz_app:app"
#endif

namespace py = pybind11;

// libFuzzer's hooks for counters it did not compile in (weak: the replay
// programs have none, and then nothing is traced).
extern "C" {
__attribute__((weak)) void __sanitizer_cov_8bit_counters_init(std::uint8_t* begin, std::uint8_t* end);
__attribute__((weak)) void __sanitizer_cov_pcs_init(const std::uintptr_t* begin, const std::uintptr_t* end);
}

// No leak check at exit: Python keeps its objects in arenas it maps itself,
// which LeakSanitizer does not scan, so every object referenced only from an
// arena looks leaked. PYTHONMALLOC=malloc makes them visible, at a sixth of
// the speed (12 against 69 exec/s). The C++ code under this target is
// leak-checked by the other targets and the asan preset; to check this one:
//   PYTHONMALLOC=malloc ASAN_OPTIONS=detect_leaks=1 build/fuzz/fuzz/fuzz_python_app ...
// (clean at the last count: 387 runs, no leak). ASAN_OPTIONS overrides this.
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }

PYBIND11_EMBEDDED_MODULE(_asgisim_native, m) { asgisim::python::define_native_module(m); }

namespace asgisim::fuzz {
namespace {

// ---- the app's Python lines as coverage --------------------------------------------
//
// A C trace function (PyEval_SetTrace, per thread) sees every frame; a frame
// whose file lies under one of the covered directories counts each line it
// runs, as the edge (previous line, line) of its code object, into one of
// kPythonEdges 8-bit counters registered with libFuzzer as a module of their
// own. Other frames have their line events switched off at their call.
// Edges hash to counters by file name and line numbers, never by address.
constexpr std::size_t kPythonEdges = 1 << 14;
std::array<std::uint8_t, kPythonEdges> g_edges{};
// libFuzzer's PC table for those counters: one (pc, flags) pair each; the
// "pcs" are the counters' indexes plus a base no real code uses.
std::array<std::uintptr_t, 2 * kPythonEdges> g_edge_pcs{};
std::vector<std::string> g_cover_dirs;
// Per code object: 0 = not covered, else the hash of its file and first line.
std::unordered_map<const PyCodeObject*, std::uint64_t> g_code_keys;
std::uint64_t g_previous_line = 0;

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

std::uint64_t code_key(PyCodeObject* code) {
  const auto found = g_code_keys.find(code);
  if (found != g_code_keys.end()) return found->second;
  std::uint64_t key = 0;
  Py_ssize_t size = 0;
  const char* file = PyUnicode_AsUTF8AndSize(code->co_filename, &size);
  if (file == nullptr) {
    PyErr_Clear();
  } else {
    const std::string_view name(file, static_cast<std::size_t>(size));
    for (const std::string& dir : g_cover_dirs) {
      if (name.substr(0, dir.size()) != dir) continue;
      key = 0xcbf29ce484222325ULL;
      for (const char c : name) key = (key ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
      key = mix(key ^ static_cast<std::uint64_t>(code->co_firstlineno)) | 1;
      break;
    }
  }
  g_code_keys.emplace(code, key);
  return key;
}

int trace_lines(PyObject* /*self*/, PyFrameObject* frame, int what, PyObject* /*arg*/) {
  if (what != PyTrace_CALL && what != PyTrace_LINE) return 0;
  PyCodeObject* code = PyFrame_GetCode(frame);
  const std::uint64_t key = code_key(code);
  Py_DECREF(code);
  if (key == 0) {
    // Not the app's: no line events from this frame.
    if (what == PyTrace_CALL &&
        PyObject_SetAttrString(reinterpret_cast<PyObject*>(frame), "f_trace_lines", Py_False) != 0) {
      PyErr_Clear();
    }
    return 0;
  }
  const auto line = static_cast<std::uint64_t>(PyFrame_GetLineNumber(frame));
  if (what == PyTrace_CALL) g_previous_line = 0;
  const std::uint64_t edge = mix(key ^ (g_previous_line << 20) ^ line);
  g_previous_line = line;
  std::uint8_t& counter = g_edges[edge % kPythonEdges];
  counter = static_cast<std::uint8_t>(counter + 1);
  return 0;
}

bool coverage_enabled() { return __sanitizer_cov_8bit_counters_init != nullptr; }

void register_coverage() {
  if (!coverage_enabled()) return;
  constexpr std::uintptr_t kBase = 0x7a5a0000;
  for (std::size_t i = 0; i < kPythonEdges; ++i) g_edge_pcs[2 * i] = kBase + i;
  __sanitizer_cov_8bit_counters_init(g_edges.data(), g_edges.data() + g_edges.size());
  if (__sanitizer_cov_pcs_init != nullptr)
    __sanitizer_cov_pcs_init(g_edge_pcs.data(), g_edge_pcs.data() + g_edge_pcs.size());
}

}  // namespace
}  // namespace asgisim::fuzz

PYBIND11_EMBEDDED_MODULE(_asgisim_fuzz_coverage, m) {
  using namespace asgisim::fuzz;
  m.doc() = "The fuzz target's coverage of the app's Python lines (asgisim/fuzzing.py)";
  m.def("enabled", &coverage_enabled, "True under libFuzzer (a replay program counts nothing)");
  m.def("cover", [](std::vector<std::string> dirs) {
    g_cover_dirs = std::move(dirs);
    g_code_keys.clear();
  });
  m.def("trace_this_thread", [] { PyEval_SetTrace(trace_lines, nullptr); });
}

namespace asgisim::fuzz {
namespace {

constexpr std::string_view kTarget = "python app";

// asgisim.fuzzing.FuzzTarget, made once: the app is imported once.
py::object& fuzz_target() {
  static py::object target;
  return target;
}

void start_interpreter() {
  // Before the interpreter starts: str and bytes hashes (set iteration
  // order) must be the command line's, which replays the findings.
  setenv("PYTHONHASHSEED", "0", 1);
  setenv("PYTHONDONTWRITEBYTECODE", "1", 0);  // nothing written into the source tree
  register_coverage();
  py::initialize_interpreter();
  try {
    py::module_ sys = py::module_::import("sys");
    py::list path = sys.attr("path");
    // This build's asgisim package (the pure-Python half, then nothing else:
    // _native is the module registered above) and the default apps.
    path.insert(0, ASGISIM_FUZZ_PACKAGE_DIR);
    path.insert(1, ASGISIM_FUZZ_EXAMPLES_DIR);
    sys.attr("modules")["asgisim._native"] = py::module_::import("_asgisim_native");
    py::module_ fuzzing = py::module_::import("asgisim.fuzzing");
    if (std::getenv("ASGISIM_FUZZ_CONFIRM") != nullptr) {
      // The fresh process that confirms a finding (fuzzing.py): one strict
      // replay, its answer on stdout, and out before any fuzzing.
      std::fflush(stderr);
      std::exit(fuzzing.attr("confirm_main")(ASGISIM_FUZZ_PYTHON_APP).cast<int>());
    }
    fuzz_target() = fuzzing.attr("FuzzTarget")
                        .attr("from_environment")(ASGISIM_FUZZ_PYTHON_APP, ASGISIM_FUZZ_PYTHON_HELPER);
  } catch (py::error_already_set& error) {
    // Bad input (the app does not import, an unknown invariant): its one
    // line; anything else with its Python traceback.
    const bool usage = error.matches(py::module_::import("asgisim.spec").attr("UsageError"));
    const std::string text = usage ? "error: " + py::str(error.value()).cast<std::string>() : error.what();
    std::fprintf(stderr, "python app fuzz target: %s\n", text.c_str());
    std::exit(2);
  }
}

}  // namespace
}  // namespace asgisim::fuzz

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  asgisim::fuzz::start_interpreter();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace asgisim::fuzz;
  std::string finding;
  try {
    const py::object result =
        fuzz_target().attr("run_input")(py::bytes(reinterpret_cast<const char*>(data), size));
    if (result.is_none()) {
      count("run passed");
      return 0;
    }
    finding = result.cast<std::string>();
  } catch (const py::error_already_set& error) {
    // The bridge itself failed (not the app: the app's exceptions are the
    // server model's to report): a finding too, in asgisim.
    property_failed(kTarget, "the bridge ran the input", error.what());
  }
  count("run failed");
  std::fprintf(stderr, "\n%s", finding.c_str());
  property_failed(kTarget, "every invariant holds", "(the finding above)");
}
