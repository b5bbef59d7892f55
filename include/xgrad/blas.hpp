#pragma once
// Which BLAS this build of xgrad multiplies with.

#include <string>

namespace xgrad {

// The library chosen at configure time (-DXGRAD_BLAS=...): "BLIS" or "OpenBLAS".
const char* blas_configured();

// The file of the shared library that actually provides cblas_dgemm in this process (the
// dynamic loader may resolve a soname elsewhere than the build meant); "" if it cannot be told.
std::string blas_loaded();

}  // namespace xgrad
