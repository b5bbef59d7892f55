# cmake -P script: install xgrad into WORK_DIR/prefix, build the consumer against it, run it.
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()
run(${CMAKE_COMMAND} --install ${XGRAD_BUILD_DIR} --prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/build
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
# the reader helper is installed where the installed library looks for it (lib/io/isolate.hpp)
file(GLOB_RECURSE helper ${WORK_DIR}/prefix/*/xgrad-read)
if(NOT helper)
  message(FATAL_ERROR "xgrad-read was not installed under ${WORK_DIR}/prefix")
endif()
execute_process(COMMAND ${WORK_DIR}/build/consumer WORKING_DIRECTORY ${WORK_DIR}
  RESULT_VARIABLE rc OUTPUT_VARIABLE last_output ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "consumer failed (${rc}): ${last_output}\n${err}")
endif()
if(NOT last_output MATCHES "loaded w=-0.025000")
  message(FATAL_ERROR "consumer printed: ${last_output}")
endif()
if(NOT last_output MATCHES "dW=0.250000")
  message(FATAL_ERROR "consumer printed: ${last_output}")
endif()
message(STATUS "consumer built against the installed xgrad: ${last_output}")

# The engine alone: core_only links xgrad::core only (tests/consumer/CMakeLists.txt, which also
# checks that the package exports xgrad::core/nn/io/check/xgrad). It must run, print its checked
# value, and load (transitively: ldd lists every shared object the loader maps, the installed ones
# through the program's RUNPATH) no HDF5, no stb and no xgrad layer but core.
execute_process(COMMAND ${WORK_DIR}/build/core_only
  RESULT_VARIABLE rc OUTPUT_VARIABLE core_output ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT core_output MATCHES "^core only: loss=14 dW=\\[8,10\\]\n$")
  message(FATAL_ERROR "core_only (exit ${rc}) printed: ${core_output}\n${err}")
endif()
find_program(LDD ldd REQUIRED)
function(loaded file out_var)
  execute_process(COMMAND ${LDD} ${file}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR out MATCHES "not found")
    message(FATAL_ERROR "ldd ${file} (exit ${rc}):\n${out}\n${err}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()
loaded(${WORK_DIR}/build/core_only core_libs)
if(NOT core_libs MATCHES "libxgrad_core\\.so => ${WORK_DIR}/prefix/")
  message(FATAL_ERROR "core_only does not load the installed libxgrad_core:\n${core_libs}")
endif()
string(REGEX MATCHALL "[^\t\n /]*(libhdf5|libxgrad_nn|libxgrad_io|libxgrad_check|libstb)[^ \n]*"
       bad "${core_libs}")
list(REMOVE_DUPLICATES bad)
if(bad)
  message(FATAL_ERROR "core_only, linked to xgrad::core alone, loads ${bad}:\n${core_libs}")
endif()
# the same look finds HDF5 and the layers below check where they are, so it would find them above
file(GLOB check_lib ${WORK_DIR}/prefix/lib*/libxgrad_check.so)
loaded("${check_lib}" check_libs)
foreach(lib libhdf5 libxgrad_nn libxgrad_io libxgrad_core)
  if(NOT check_libs MATCHES "${lib}")
    message(FATAL_ERROR "ldd finds no ${lib} under the installed libxgrad_check:\n${check_libs}")
  endif()
endforeach()
message(STATUS "core_only (xgrad::core alone) loads no HDF5 and no other layer: ${core_output}")

# The dist layer (installed when xgrad was built with MPI): dist_only links xgrad::dist alone,
# with no MPI flags of its own, and runs.
file(GLOB dist_lib ${WORK_DIR}/prefix/lib*/libxgrad_dist.so)
if(dist_lib)
  execute_process(COMMAND ${WORK_DIR}/build/dist_only
    RESULT_VARIABLE rc OUTPUT_VARIABLE dist_output ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT dist_output MATCHES "^dist only: 2 columns, first 1, weight 0.4")
    message(FATAL_ERROR "dist_only (exit ${rc}) printed: ${dist_output}\n${err}")
  endif()
  message(STATUS "dist_only (xgrad::dist alone, no MPI flags): ${dist_output}")
endif()
