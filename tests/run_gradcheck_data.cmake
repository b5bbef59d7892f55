# The gradcheck program on the real dataset (ctest: gradcheck_program_data): --examples larger than
# the dataset and a network whose input size is not the images' are one-line errors with exit 2.
# Inputs: -DGRADCHECK=<program> -DDATA_DIR=<the build's default cat dataset, may be missing>.
# The dataset is looked for as the program does ($XGRAD_DATA, then DATA_DIR); without it the test
# prints "SKIPPED:" (ctest counts it skipped), or fails when XGRAD_REQUIRE_DATA=1.
include(${CMAKE_CURRENT_LIST_DIR}/find_cat_data.cmake)
find_cat_data_or_skip()

function(bad regex)
  execute_process(COMMAND "${GRADCHECK}" ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 2 OR NOT "${out}" STREQUAL "" OR NOT "${err}" MATCHES "^gradcheck: [^\n]+\n$"
     OR NOT "${err}" MATCHES "${regex}")
    message(FATAL_ERROR "gradcheck ${ARGN}: exit ${rc}, expected 2 and one line matching '${regex}' "
                        "on stderr\nstdout:\n${out}\nstderr:\n${err}")
  endif()
endfunction()

bad("--examples 1000 is larger than the dataset \\(209" --layers 12288,2,1 --data "${data}" --examples 1000)
bad("size mismatch" --layers 7,3,1 --data "${data}")
message(STATUS "gradcheck program on the dataset ${data}: all cases as expected")
