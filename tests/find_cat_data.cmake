# Included by the ctest scripts that run a program on the real cat/non-cat dataset: looks for it as
# the programs do ($XGRAD_DATA, then DATA_DIR, the build's default) and sets `data` to its folder.
# Without it the including script prints "SKIPPED:" and returns (its test has
# SKIP_REGULAR_EXPRESSION "SKIPPED:", so ctest counts it skipped), or fails when
# XGRAD_REQUIRE_DATA=1. A macro, so that its return() ends the including script.
macro(find_cat_data_or_skip)
  set(data "${DATA_DIR}")
  if(DEFINED ENV{XGRAD_DATA} AND NOT "$ENV{XGRAD_DATA}" STREQUAL "")
    set(data "$ENV{XGRAD_DATA}")
  endif()
  if(NOT EXISTS "${data}/train_catvnoncat.h5" OR NOT EXISTS "${data}/test_catvnoncat.h5")
    if("$ENV{XGRAD_REQUIRE_DATA}" STREQUAL "1")
      message(FATAL_ERROR "the cat/non-cat dataset is missing and XGRAD_REQUIRE_DATA=1 "
                          "(looked in '${data}')")
    endif()
    message("SKIPPED: the cat/non-cat dataset is not in $XGRAD_DATA or ${DATA_DIR}")
    return()
  endif()
endmacro()
