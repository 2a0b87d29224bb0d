# ctest fuzz_stack_canary_finding: a canary crash input must still be a
# finding, the replay program must turn it into a decision-log file, and the
# command line must replay that file to the same failure.
#
#   cmake -DREPLAY=fuzz_stack_canary_replay -DCLI=asgisim-canary -DSCENARIO=stack-canary
#         -DCRASH_DIR=fuzz/corpus/stack_canary_crash -DWORK_DIR=/tmp/x -P stack_canary_check.cmake
include(${CMAKE_CURRENT_LIST_DIR}/canary_check_common.cmake)
canary_crashes(_crashes REPLAY CLI SCENARIO CRASH_DIR WORK_DIR)

foreach(_crash IN LISTS _crashes)
  canary_replay("${_crash}" _out)
  # The planted bug shows as a second http.response.start from the canary.
  if(NOT _out MATCHES "invariant: start-once" OR NOT _out MATCHES "layer: +StackCanary")
    message(FATAL_ERROR "${_crash}: a finding, but not the canary's start-once\n${_out}")
  endif()
  if(NOT _out MATCHES "reproduce: asgisim replay ${SCENARIO} --schedule ([^\n]+)")
    message(FATAL_ERROR "${_crash}: no reproduce line\n${_out}")
  endif()
  set(_log "${CMAKE_MATCH_1}")
  if(NOT EXISTS "${_log}")
    message(FATAL_ERROR "${_crash}: the decision log ${_log} was not written")
  endif()

  execute_process(COMMAND "${CLI}" replay "${SCENARIO}" --schedule "${_log}"
                  RESULT_VARIABLE _cli_status OUTPUT_VARIABLE _cli_out ERROR_VARIABLE _cli_out)
  if(NOT _cli_status EQUAL 1)
    message(FATAL_ERROR "${_crash}: the CLI replay of ${_log} exited ${_cli_status}, not 1 (invariant)\n${_cli_out}")
  endif()
  if(NOT _cli_out MATCHES "start-once" OR NOT _cli_out MATCHES "StackCanary")
    message(FATAL_ERROR "${_crash}: the CLI replay failed differently\n${_cli_out}")
  endif()
  message(STATUS "${_crash}: canary found; ${_log} replays through the CLI to start-once in StackCanary")
endforeach()
