#include <dlfcn.h>

#include "xgrad/blas.hpp"

extern "C" void cblas_dgemm();  // only its address is taken

namespace xgrad {

const char* blas_configured() { return XGRAD_BLAS_NAME; }

std::string blas_loaded() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&cblas_dgemm), &info) == 0 || !info.dli_fname) return "";
    return info.dli_fname;
}

}  // namespace xgrad
