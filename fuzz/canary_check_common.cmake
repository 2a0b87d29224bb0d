# What the canary checks (stack_canary_check.cmake, python_app_canary_check.cmake)
# share: the -D variables they need, the committed crash inputs, and one
# replay of a crash that must be a finding.
#
#   include(${CMAKE_CURRENT_LIST_DIR}/canary_check_common.cmake)
#   canary_crashes(_crashes REPLAY CRASH_DIR WORK_DIR)   # fails without a -D or a crash
#   canary_replay("${_crash}" _out)                      # fails unless the replay found it

macro(canary_crashes out)
  foreach(_var ${ARGN})
    if(NOT DEFINED ${_var})
      message(FATAL_ERROR "${CMAKE_SCRIPT_MODE_FILE}: -D${_var}=... is required")
    endif()
  endforeach()
  file(GLOB ${out} "${CRASH_DIR}/*")
  if(NOT ${out})
    message(FATAL_ERROR "no crash input in ${CRASH_DIR}")
  endif()
endmacro()

# Replays `crash` with ${REPLAY} in a fresh ${WORK_DIR}, where the finding's
# decision log goes; its output (stdout and stderr) into `out`.
function(canary_replay crash out)
  file(REMOVE_RECURSE "${WORK_DIR}")
  file(MAKE_DIRECTORY "${WORK_DIR}")
  set(ENV{ASGISIM_FUZZ_FINDINGS} "${WORK_DIR}")
  execute_process(COMMAND "${REPLAY}" "${crash}" WORKING_DIRECTORY "${WORK_DIR}"
                  RESULT_VARIABLE _status OUTPUT_VARIABLE _output ERROR_VARIABLE _output)
  if(_status EQUAL 0)
    message(FATAL_ERROR "${crash}: the canary was not found (the replay exited 0)\n${_output}")
  endif()
  set(${out} "${_output}" PARENT_SCOPE)
endfunction()
