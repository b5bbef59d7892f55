#pragma once
// Which BLAS this build of xgrad multiplies with, and which loops compute its exp/log/tanh.

#include <string>

namespace xgrad {

// The library chosen at configure time (-DXGRAD_BLAS=...): "BLIS" or "OpenBLAS".
const char* blas_configured();

// The file of the shared library that actually provides cblas_dgemm in this process (the
// dynamic loader may resolve a soname elsewhere than the build meant); "" if it cannot be told.
std::string blas_loaded();

// The kernel set the engine's products use, and why: in BLIS builds BLIS's name for it and the
// reason, e.g. "zen3 (BLIS's choice from cpuid)", "zen3 (asked for zen3)" on an AMD Zen 4 or later,
// "haswell (BLIS_ARCH_TYPE=3, set by the user)"; "" in OpenBLAS builds. The first call (or the first
// product) makes the choice, once per process; it leaves the environment as it found it.
std::string blas_kernels();

// The elementwise exp/log/tanh loops of sigmoid, tanh and the fused sigmoid cross-entropy on this
// processor: "avx2" (glibc's libmvec, when it has AVX2 and FMA) or "plain" (libm).
const char* vector_kernels();

// Checks the environment variables the engine and its BLAS read, so that a bad value is one clear
// error instead of an abort (or an illegal instruction) inside a library: BLIS_ARCH_TYPE (BLIS
// builds: an architecture id BLIS was built with and this processor can run; BLIS itself reads
// any other text as 0, 'skx', and dies on a processor without AVX-512), XGRAD_VMATH ('plain' or
// 'auto'), and the thread counts OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, BLIS_NUM_THREADS (positive
// integers; OMP_NUM_THREADS may be a comma-separated list of them). Unset (or empty, but for
// BLIS_ARCH_TYPE, which BLIS reads as 0) is fine.
// Throws UsageError "environment variable NAME=VALUE: <what is wrong>". The programs call it first;
// the first product of a process checks BLIS_ARCH_TYPE too.
void check_environment();

}  // namespace xgrad
