# ctest fuzz_python_app_canary_finding: a crash input of the real-app canary
# (examples/python/fuzz_app.py's canary_app) must still be a finding, the
# replay program must write its decision log and confirm it in a fresh
# process, and the reproduce line it prints, run as printed, must fail the
# same way through `python3 -m asgisim replay`.
#
#   cmake -DREPLAY=fuzz_python_app_canary_replay -DCRASH_DIR=fuzz/corpus/python_app_canary_crash
#         -DWORK_DIR=/tmp/x -P python_app_canary_check.cmake
include(${CMAKE_CURRENT_LIST_DIR}/canary_check_common.cmake)
canary_crashes(_crashes REPLAY CRASH_DIR WORK_DIR)

foreach(_crash IN LISTS _crashes)
  canary_replay("${_crash}" _out)
  # The planted bug: a second http.response.start, blamed on the guard by class name.
  if(NOT _out MATCHES "start-once \\(SlowUploadGuard\\)")
    message(FATAL_ERROR "${_crash}: a finding, but not the canary's start-once\n${_out}")
  endif()
  if(NOT _out MATCHES "confirmation: a fresh process replays it to the same failure, the same trace hash")
    message(FATAL_ERROR "${_crash}: the finding was not confirmed in a fresh process\n${_out}")
  endif()
  if(NOT _out MATCHES "\nreproduce: ([^\n]+ --schedule ([^\n ]+))")
    message(FATAL_ERROR "${_crash}: no reproduce line\n${_out}")
  endif()
  set(_command "${CMAKE_MATCH_1}")
  set(_log "${CMAKE_MATCH_2}")
  if(NOT EXISTS "${_log}")
    message(FATAL_ERROR "${_crash}: the decision log ${_log} was not written")
  endif()

  # As printed (it starts with `cd <the app's directory> &&`).
  execute_process(COMMAND sh -c "${_command}" RESULT_VARIABLE _cli_status OUTPUT_VARIABLE _cli_out
                  ERROR_VARIABLE _cli_out)
  if(NOT _cli_status EQUAL 1)
    message(FATAL_ERROR "${_crash}: `${_command}` exited ${_cli_status}, not 1 (invariant)\n${_cli_out}")
  endif()
  if(NOT _cli_out MATCHES "start-once" OR NOT _cli_out MATCHES "SlowUploadGuard")
    message(FATAL_ERROR "${_crash}: the replay failed differently\n${_cli_out}")
  endif()
  message(STATUS "${_crash}: canary found and confirmed; `${_command}` fails with start-once in SlowUploadGuard")
endforeach()

# Bad input in the environment: one line naming the problem, exit 2, before any run.
foreach(_case "ASGISIM_FUZZ_APP=no_such_module:app;ASGISIM_FUZZ_SCENARIO=fuzz_app:scenario;cannot import module 'no_such_module'"
              "ASGISIM_FUZZ_APP=fuzz_app:app;ASGISIM_FUZZ_SCENARIO=;ASGISIM_FUZZ_APP is set but ASGISIM_FUZZ_SCENARIO is not"
              "ASGISIM_FUZZ_APP=fuzz_app:app;ASGISIM_FUZZ_SCENARIO=fuzz_app:scenario;ASGISIM_FUZZ_INVARIANTS=no-such-id;unknown invariant id 'no-such-id'")
  set(_env ${_case})
  list(POP_BACK _env _expected)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env ${_env} "${REPLAY}" "${_crash}" WORKING_DIRECTORY "${WORK_DIR}"
                  RESULT_VARIABLE _status OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
  if(NOT _status EQUAL 2 OR NOT _out MATCHES "python app fuzz target: error: [^\n]*${_expected}")
    message(FATAL_ERROR "${_env}: exit ${_status}, expected 2 and '${_expected}'\n${_out}")
  endif()
endforeach()
message(STATUS "bad ASGISIM_FUZZ_* settings: exit 2, each named")
