#pragma once
// Which BLAS this build of xgrad multiplies with, and which loops compute its exp/log/tanh.

#include <string>

namespace xgrad {

// The library chosen at configure time (-DXGRAD_BLAS=...): "BLIS" or "OpenBLAS".
const char* blas_configured();

// The file of the shared library that actually provides cblas_dgemm in this process (the
// dynamic loader may resolve a soname elsewhere than the build meant); "" if it cannot be told.
std::string blas_loaded();

// The elementwise exp/log/tanh loops of sigmoid, tanh and the fused sigmoid cross-entropy on this
// processor: "avx2" (glibc's libmvec, when it has AVX2 and FMA) or "plain" (libm).
const char* vector_kernels();

}  // namespace xgrad
