# Writes build_info.hpp (version, git commit, build date) at build time, rewriting it only when a
# value changed, so an unchanged tree relinks nothing. Run by the mlnetpol_build_info target.
# In: SOURCE_DIR, OUTPUT, VERSION, optional GIT_COMMIT (an override, e.g. for builds without .git).
if(NOT GIT_COMMIT)
  execute_process(COMMAND git -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
    OUTPUT_VARIABLE GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE git_rc)
  if(git_rc EQUAL 0 AND GIT_COMMIT)
    execute_process(COMMAND git -C "${SOURCE_DIR}" diff --quiet HEAD -- RESULT_VARIABLE dirty_rc
      ERROR_QUIET)
    if(NOT dirty_rc EQUAL 0)
      string(APPEND GIT_COMMIT "-dirty")
    endif()
  else()
    set(GIT_COMMIT "unknown")
  endif()
endif()
# The day only (UTC; SOURCE_DATE_EPOCH when set, for reproducible builds): a timestamp to the second
# would rebuild the binary on every build.
string(TIMESTAMP BUILD_DATE "%Y-%m-%d" UTC)
configure_file("${CMAKE_CURRENT_LIST_DIR}/build_info.hpp.in" "${OUTPUT}" @ONLY)
