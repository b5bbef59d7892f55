#include <dlfcn.h>

#include <mutex>

#include "xgrad/core/blas.hpp"

#if XGRAD_BLAS_BLIS
#include "blis_kernels.hpp"
#endif

extern "C" void cblas_dgemm();  // only its address is taken

namespace xgrad {

#if XGRAD_BLAS_NEEDS_LOCK
namespace detail {
// The lock around every call of a BLAS that is not thread-safe (see gemm.hpp).
std::mutex& blas_lock() {
    static std::mutex m;
    return m;
}
}  // namespace detail
#endif

const char* blas_configured() { return XGRAD_BLAS_NAME; }

std::string blas_kernels() {
#if XGRAD_BLAS_BLIS
    const detail::BlisKernels& k = detail::blis_kernels();
    return k.arch + " (" + k.reason + ")";
#else
    return "";
#endif
}

std::string blas_loaded() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&cblas_dgemm), &info) == 0 || !info.dli_fname) return "";
    return info.dli_fname;
}

}  // namespace xgrad
