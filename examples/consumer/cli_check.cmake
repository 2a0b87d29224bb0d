# ctest timing_cli: our own program is a full asgisim for our scenario. Runs
# the commands of docs/writing-a-scenario.md section 3 and the lines they print.
#   cmake -DPROGRAM=build/timing-sim -DWORK_DIR=/tmp/x -P cli_check.cmake
foreach(_var PROGRAM WORK_DIR)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "cli_check: -D${_var}=... is required")
  endif()
endforeach()
# PROGRAM as a regular expression (a path may hold '.', '+' and the like).
string(REGEX REPLACE "([][+.*()^$?|\\])" "\\\\\\1" _program_re "${PROGRAM}")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# Runs the command (a list), expects exit EXPECT; sets _out to stdout+stderr and _stdout.
macro(expect_exit EXPECT)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE _status
                  OUTPUT_VARIABLE _stdout ERROR_VARIABLE _stderr)
  set(_out "${_stdout}${_stderr}")
  if(NOT _status STREQUAL "${EXPECT}")
    message(FATAL_ERROR "`${ARGN}` exited ${_status}, expected ${EXPECT}\n${_out}")
  endif()
endmacro()

# Runs a printed command line as a shell would split it.
macro(run_printed EXPECT LINE)
  separate_arguments(_words UNIX_COMMAND "${LINE}")
  expect_exit(${EXPECT} ${_words})
endmacro()

expect_exit(0 "${PROGRAM}" list)
if(NOT _out MATCHES "timing-flush" OR NOT _out MATCHES "background-cancelled")
  message(FATAL_ERROR "list shows neither our scenario nor the built-in ones\n${_out}")
endif()

# The bug is found; the last line reproduces it, naming this program.
# The last line of _stdout must match PATTERN (after this program's name);
# running it as printed must fail request-latency again.
macro(replay_last_line PATTERN)
  string(REGEX MATCH "[^\n]+\n?$" _last "${_stdout}")
  string(STRIP "${_last}" _last)
  if(NOT _last MATCHES "^${_program_re} ${PATTERN}")
    message(FATAL_ERROR "the last line is not a line of ${PROGRAM} matching '${PATTERN}': '${_last}'\n${_out}")
  endif()
  set(_match "${CMAKE_MATCH_1}")
  run_printed(1 "${_last}")
  if(NOT _out MATCHES "request-latency")
    message(FATAL_ERROR "'${_last}' replays to another failure\n${_out}")
  endif()
endmacro()

expect_exit(1 "${PROGRAM}" run timing-flush --config buggy --seeds 100 --jobs 1)
if(NOT _out MATCHES "request-latency")
  message(FATAL_ERROR "the buggy sweep did not fail request-latency\n${_out}")
endif()
replay_last_line("replay timing-flush .*--seed ([0-9]+)")
set(_seed "${_match}")

# Shrink, then the printed replay line of the schedule.
expect_exit(0 "${PROGRAM}" shrink timing-flush --config buggy --seed ${_seed} -o min.decisions)
replay_last_line("replay timing-flush --config buggy --schedule (min.decisions)$")

expect_exit(1 "${PROGRAM}" trace timing-flush --config buggy --seed ${_seed} -o run.json)
if(NOT EXISTS "${WORK_DIR}/run.json")
  message(FATAL_ERROR "trace wrote no run.json\n${_out}")
endif()

# The fix holds.
expect_exit(0 "${PROGRAM}" run timing-flush --config fixed --seeds 300 --jobs 1)
message(STATUS "timing-sim: found at seed ${_seed}, replayed, shrunk, traced; the fixed configuration passed")
