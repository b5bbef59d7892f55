#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "xgrad/core/tensor.hpp"

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

namespace {
// A thread count: a positive integer of at most 6 digits.
bool thread_count(const std::string& v) {
    return !v.empty() && v.size() <= 6 && v.find_first_not_of("0123456789") == std::string::npos && std::stol(v) > 0;
}

[[noreturn]] void bad_variable(const char* name, const std::string& value, const std::string& why) {
    std::string shown;
    for (char c : value) shown += (c >= 32 && c < 127) ? std::string(1, c) : "?";
    throw UsageError(std::string("environment variable ") + name + "=" + shown + ": " + why);
}
}  // namespace

void check_environment() {
    auto get = [](const char* name) -> const char* { return std::getenv(name); };
#if XGRAD_BLAS_BLIS
    if (const char* v = get("BLIS_ARCH_TYPE")) {
        // (set but empty is no exception: BLIS reads it as 0)
        if (const std::string problem = detail::blis_arch_problem(v); !problem.empty())
            bad_variable("BLIS_ARCH_TYPE", v, problem);
    }
#endif
    if (const char* v = get("XGRAD_VMATH"); v && *v && std::string(v) != "plain" && std::string(v) != "auto")
        bad_variable("XGRAD_VMATH", v, "expected 'plain' (the plain loops) or 'auto' (the processor's best)");
    for (const char* name : {"OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS", "OMP_NUM_THREADS"}) {
        const char* v = get(name);
        if (!v || !*v) continue;
        std::string list = v;  // OMP_NUM_THREADS: one count per nesting level, "4,2"
        std::size_t start = 0;
        for (;;) {
            const std::size_t comma = std::string(name) == "OMP_NUM_THREADS" ? list.find(',', start) : std::string::npos;
            if (!thread_count(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start)))
                bad_variable(name, v, "expected a positive number of threads");
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
    }
}

std::string blas_loaded() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&cblas_dgemm), &info) == 0 || !info.dli_fname) return "";
    return info.dli_fname;
}

}  // namespace xgrad
