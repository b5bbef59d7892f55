# Fails unless every global symbol the AVX2 object file defines is one of its kernels
# (xgrad::vmath::simd::...) or an xsimd template for the fma3<avx2> architecture (only the AVX2
# code can call those). A weak (inline, template) function of anything else defined there too
# would be built for AVX2, and the linker may keep that copy for callers elsewhere: an illegal
# instruction on a processor without AVX2. So would a static initialiser (run when the library
# loads, on every processor): the object must have no .init_array/.ctors section.
# (DW.ref.__gxx_personality_v0 is a pointer to the C++ personality routine, data, not code.)
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
  elseif(sym MATCHES "xsimd::fma3<xsimd::avx2>")
    # arch-specific: reachable only from the kernels
  elseif(NOT sym STREQUAL "DW.ref.__gxx_personality_v0")
    message(FATAL_ERROR "the AVX2 object defines ${sym} (${line}): only xgrad::vmath::simd kernels may be defined there")
  endif()
endforeach()
if(kernels LESS 8)
  message(FATAL_ERROR "expected the 8 kernels in ${OBJECTS}, found ${kernels}")
endif()
execute_process(COMMAND ${OBJDUMP} -h ${OBJECTS} OUTPUT_VARIABLE sections RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "objdump failed on ${OBJECTS}")
endif()
string(REGEX MATCHALL "\\.(init_array|ctors)[.0-9]*" initialisers "${sections}")
foreach(section IN LISTS initialisers)
  # the sanitizer build's own module constructor (GCC gives it priority 99): it registers the
  # file's globals with ASan; that build is for finding bugs, not for running everywhere
  if(SANITIZE AND section STREQUAL ".init_array.00099")
    continue()
  endif()
  message(FATAL_ERROR "the AVX2 object has a static initialiser (${section}): it would run on every processor")
endforeach()
message(STATUS "AVX2 object: ${kernels} kernels, nothing else")
