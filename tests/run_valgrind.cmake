# cmake -P script (ctest: valgrind_cat_classifier): a short `cat_classifier train` on the real dataset
# under valgrind memcheck must show no error and no definitely lost byte.
# Inputs: -DVALGRIND=<valgrind or VALGRIND-NOTFOUND> -DPROGRAM=<cat_classifier> -DDATA_DIR=<fallback
# dataset dir, may be missing> -DWORK_DIR=<scratch> [-DSUPPRESSIONS=<valgrind .supp file>].
# The dataset is looked for as the program does ($XGRAD_DATA, then DATA_DIR); without it the test
# prints "SKIPPED:" (ctest counts it skipped), or fails when XGRAD_REQUIRE_DATA=1.
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

include(${CMAKE_CURRENT_LIST_DIR}/find_cat_data.cmake)
find_cat_data_or_skip()
if(NOT VALGRIND)
  message(FATAL_ERROR "valgrind is not installed (tools/setup.sh installs it)")
endif()

set(log "${WORK_DIR}/valgrind.log")
set(vg_args --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
            --log-file=${log})
if(SUPPRESSIONS)
  list(APPEND vg_args --suppressions=${SUPPRESSIONS})
endif()
# 3 iterations of a small network (matmul, add_bias, relu, sigmoid, the loss: forward and backward),
# the loader, the model writer and the pictures, in about 35 s (most of it the fixed cost of
# loading and writing, under valgrind).
string(TIMESTAMP t0 "%s")
execute_process(
  COMMAND "${VALGRIND}" ${vg_args} "${PROGRAM}" train --data "${data}"
          --layers 12288,7,1 --activations relu,sigmoid --iterations 3 --quiet
          --out "${WORK_DIR}/out"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(TIMESTAMP t1 "%s")
math(EXPR seconds "${t1} - ${t0}")
file(READ "${log}" report)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "valgrind cat_classifier train: exit ${rc} (99: memcheck errors)\n"
                      "stdout:\n${out}\nstderr:\n${err}\nvalgrind log:\n${report}")
endif()
if(NOT out MATCHES "train accuracy: [0-9.]+\ntest accuracy: [0-9.]+")
  message(FATAL_ERROR "cat_classifier printed no accuracies:\n${out}\n${err}")
endif()
if(NOT EXISTS "${WORK_DIR}/out/model.h5")
  message(FATAL_ERROR "cat_classifier wrote no ${WORK_DIR}/out/model.h5")
endif()

string(REGEX MATCH "ERROR SUMMARY: [0-9,]+ errors from [0-9,]+ contexts[^\n]*" errors "${report}")
if(NOT errors MATCHES "^ERROR SUMMARY: 0 errors")
  message(FATAL_ERROR "memcheck: '${errors}'\n${report}")
endif()
# With no block left at exit valgrind prints no LEAK SUMMARY, only "All heap blocks were freed".
string(REGEX MATCH "definitely lost: [0-9,]+ bytes in [0-9,]+ blocks" lost "${report}")
if(lost STREQUAL "")
  if(NOT report MATCHES "All heap blocks were freed")
    message(FATAL_ERROR "memcheck printed no leak summary:\n${report}")
  endif()
  set(lost "definitely lost: 0 bytes (all heap blocks were freed)")
elseif(NOT lost MATCHES "^definitely lost: 0 bytes")
  message(FATAL_ERROR "memcheck: '${lost}'\n${report}")
endif()
string(REGEX MATCH "possibly lost: [0-9,]+ bytes in [0-9,]+ blocks" possibly "${report}")
message(STATUS "valgrind memcheck, cat_classifier train (3 iterations), ${seconds} s: ${errors}; "
               "${lost}; ${possibly}")
