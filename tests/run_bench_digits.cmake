# Runs the digits benchmark (ctest: bench_digits_program) in its quick mode: it must print every row
# of its table, with a number or the reason a peer has none (no timing is checked); bad options exit
# 2 with one line "xgrad_bench_digits: <message>" on stderr. Inputs: -DBENCH=<program>.
function(bench expect_rc out_var err_var)
  execute_process(COMMAND "${BENCH}" ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT "${rc}" STREQUAL "${expect_rc}")
    message(FATAL_ERROR "xgrad_bench_digits ${ARGN}: exit ${rc}, expected ${expect_rc}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
  set(${err_var} "${err}" PARENT_SCOPE)
endfunction()

bench(0 out err --quick)
message(STATUS "xgrad_bench_digits --quick:\n${out}")
set(peer "[^|]*(PyTorch|scikit-learn|not run)[^|]*")
foreach(row
    "\\| step \\[64,64,10\\] f64, batch 64, Adam \\(µs, median\\) \\| [0-9.]+ \\(min [0-9.]+\\) \\|${peer}\\|"
    "\\| training \\(s\\) \\| ([0-9.]+ \\(digits_classifier train|not run)[^|]*\\|${peer}\\|"
    "\\| test accuracy \\| ([0-9.]+|not run[^|]*) \\| ([0-9.]+|[^|]*not run[^|]*|[^|]*failed[^|]*) \\|"
    "\\| train accuracy \\| ([0-9.]+|not run[^|]*) \\| ([0-9.]+|[^|]*not run[^|]*|[^|]*failed[^|]*) \\|")
  if(NOT "${out}" MATCHES "${row}")
    message(FATAL_ERROR "no row '${row}' in:\n${out}")
  endif()
endforeach()

foreach(bad "--steps;0" "--runs;-1" "--steps;abc" "--bogus" "--data;/nonexistent/xgrad" "--timeout;0")
  bench(2 out err ${bad})
  string(REGEX MATCHALL "\n" lines "${err}")
  list(LENGTH lines n)
  if(NOT n EQUAL 1 OR NOT "${err}" MATCHES "^xgrad_bench_digits: ")
    message(FATAL_ERROR "xgrad_bench_digits ${bad}: expected one line 'xgrad_bench_digits: ...', got:\n${err}")
  endif()
  if(NOT "${out}" STREQUAL "")
    message(FATAL_ERROR "xgrad_bench_digits ${bad}: printed to stdout:\n${out}")
  endif()
endforeach()
