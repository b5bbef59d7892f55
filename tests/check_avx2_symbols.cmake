# Fails unless every global symbol the AVX2 object file defines is one of its kernels
# (xgrad::vmath::simd::...). A weak (inline, template) function defined there too would be built
# for AVX2, and the linker may keep that copy for callers elsewhere: an illegal instruction on a
# processor without AVX2. (DW.ref.__gxx_personality_v0 is a pointer to the C++ personality
# routine, data, not code.)
execute_process(COMMAND ${NM} -C --defined-only --extern-only ${OBJECTS}
  OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm failed on ${OBJECTS}")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(kernels 0)
foreach(line IN LISTS lines)
  if(line STREQUAL "" OR line MATCHES ":$")
    continue()
  endif()
  string(REGEX REPLACE "^[0-9a-f]* *[A-Za-z] " "" sym "${line}")
  if(sym MATCHES "^xgrad::vmath::simd::")
    math(EXPR kernels "${kernels} + 1")
  elseif(NOT sym STREQUAL "DW.ref.__gxx_personality_v0")
    message(FATAL_ERROR "the AVX2 object defines ${sym} (${line}): only xgrad::vmath::simd kernels may be defined there")
  endif()
endforeach()
if(kernels LESS 8)
  message(FATAL_ERROR "expected the 8 kernels in ${OBJECTS}, found ${kernels}")
endif()
message(STATUS "AVX2 object: ${kernels} kernels, nothing else")
