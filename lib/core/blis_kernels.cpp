// BLIS builds only: the engine's products through BLIS's typed expert API (bli_?gemm_ex), with the
// kernel set chosen once and passed explicitly (blis_kernels.hpp says which and why).
//
// Measured on an AMD family 0x1A machine, the seed's two big products took 8.6 + 7.6 ms with BLIS's
// 'generic' kernels and 2.7 + 2.3 ms with 'zen3' (tools/bench.cpp, README).
//
// How the 'zen3' kernels are obtained: Debian's BLIS 0.9 exports no way to ask for a given
// architecture's context — bli_gks_lookup_id() is declared in blis.h but not exported by
// libblis.so.4, nor is any per-architecture kernel or context initialiser (`nm -D`). Its only
// switch is BLIS_ARCH_TYPE, read once, while BLIS initialises. So, only where the user has not set
// it and only on a Zen 4 or later, the choice sets it for that one moment (the first product of the
// process, before any BLIS call of the engine), initialises BLIS and removes it again: the process
// environment afterwards is what it was, child processes do not inherit it, and a value the user
// set (before the first product) is never overwritten. The context BLIS then holds is passed to
// every call. If something else initialised BLIS first, BLIS's own choice stands. The one moment
// the environment holds a value nobody set is inside that first product: another thread of the
// program reading or changing the environment just then (getenv/setenv are not synchronised with
// each other) could see it; a program that cares sets BLIS_ARCH_TYPE itself before starting threads.
#include "blis_kernels.hpp"

#include <blis.h>
#include <cpuid.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>

#include "xgrad/core/tensor.hpp"

namespace xgrad::detail {

namespace {

bool amd_zen4_or_later_with_avx2() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return false;
    char vendor[13] = {};
    std::memcpy(vendor, &ebx, 4);
    std::memcpy(vendor + 4, &edx, 4);
    std::memcpy(vendor + 8, &ecx, 4);
    if (std::strcmp(vendor, "AuthenticAMD") != 0) return false;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
    const unsigned base_family = (eax >> 8) & 0xf;
    const unsigned family = base_family == 0xf ? base_family + ((eax >> 20) & 0xff) : base_family;
    const bool fma = ecx & (1u << 12);
    unsigned a7 = 0, b7 = 0, c7 = 0, d7 = 0;
    if (!__get_cpuid_count(7, 0, &a7, &b7, &c7, &d7)) return false;
    const bool avx2 = b7 & (1u << 5);
    const bool avx512f = b7 & (1u << 16);
    // Zen 3 (family 0x19 without AVX-512) is recognised by BLIS itself.
    return fma && avx2 && (family > 0x19 || (family == 0x19 && avx512f));
}

const char* arch_name(arch_t id) {
    const char* name = bli_arch_string(id);
    return name ? name : "?";
}

// The x86-64 architectures of BLIS 0.9 and what their kernels need (configured: in this build of
// BLIS, blis.h's BLIS_CONFIG_* list).
struct ArchNeed {
    arch_t id;
    bool configured;
    bool (*runs)();
    const char* needs;
};

#if defined(BLIS_CONFIG_SKX)
constexpr bool kSkx = true;
#else
constexpr bool kSkx = false;
#endif
#if defined(BLIS_CONFIG_KNL)
constexpr bool kKnl = true;
#else
constexpr bool kKnl = false;
#endif
#if defined(BLIS_CONFIG_HASWELL)
constexpr bool kHaswell = true;
#else
constexpr bool kHaswell = false;
#endif
#if defined(BLIS_CONFIG_SANDYBRIDGE)
constexpr bool kSandybridge = true;
#else
constexpr bool kSandybridge = false;
#endif
#if defined(BLIS_CONFIG_PENRYN)
constexpr bool kPenryn = true;
#else
constexpr bool kPenryn = false;
#endif
#if defined(BLIS_CONFIG_ZEN3)
constexpr bool kZen3 = true;
#else
constexpr bool kZen3 = false;
#endif
#if defined(BLIS_CONFIG_ZEN2)
constexpr bool kZen2 = true;
#else
constexpr bool kZen2 = false;
#endif
#if defined(BLIS_CONFIG_ZEN)
constexpr bool kZen = true;
#else
constexpr bool kZen = false;
#endif
#if defined(BLIS_CONFIG_EXCAVATOR)
constexpr bool kExcavator = true;
#else
constexpr bool kExcavator = false;
#endif
#if defined(BLIS_CONFIG_STEAMROLLER)
constexpr bool kSteamroller = true;
#else
constexpr bool kSteamroller = false;
#endif
#if defined(BLIS_CONFIG_PILEDRIVER)
constexpr bool kPiledriver = true;
#else
constexpr bool kPiledriver = false;
#endif
#if defined(BLIS_CONFIG_BULLDOZER)
constexpr bool kBulldozer = true;
#else
constexpr bool kBulldozer = false;
#endif
#if defined(BLIS_CONFIG_GENERIC)
constexpr bool kGeneric = true;
#else
constexpr bool kGeneric = false;
#endif

bool has_avx512() { return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"); }
bool has_avx2_fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
bool has_avx_fma() { return __builtin_cpu_supports("avx") && __builtin_cpu_supports("fma"); }
bool has_avx_fma4() { return __builtin_cpu_supports("avx") && __builtin_cpu_supports("fma4"); }
bool has_avx() { return __builtin_cpu_supports("avx"); }
bool has_ssse3() { return __builtin_cpu_supports("ssse3"); }
bool always() { return true; }

const ArchNeed kArchNeeds[] = {
    {BLIS_ARCH_SKX, kSkx, has_avx512, "AVX-512"},
    {BLIS_ARCH_KNL, kKnl, [] { return has_avx512() && __builtin_cpu_supports("avx512pf"); }, "AVX-512PF (Xeon Phi)"},
    {BLIS_ARCH_HASWELL, kHaswell, has_avx2_fma, "AVX2 and FMA"},
    {BLIS_ARCH_SANDYBRIDGE, kSandybridge, has_avx, "AVX"},
    {BLIS_ARCH_PENRYN, kPenryn, has_ssse3, "SSSE3"},
    {BLIS_ARCH_ZEN3, kZen3, has_avx2_fma, "AVX2 and FMA"},
    {BLIS_ARCH_ZEN2, kZen2, has_avx2_fma, "AVX2 and FMA"},
    {BLIS_ARCH_ZEN, kZen, has_avx2_fma, "AVX2 and FMA"},
    {BLIS_ARCH_EXCAVATOR, kExcavator, has_avx_fma, "AVX and FMA"},
    {BLIS_ARCH_STEAMROLLER, kSteamroller, has_avx_fma, "AVX and FMA"},
    {BLIS_ARCH_PILEDRIVER, kPiledriver, has_avx_fma, "AVX and FMA"},
    {BLIS_ARCH_BULLDOZER, kBulldozer, has_avx_fma4, "AVX and FMA4"},
    {BLIS_ARCH_GENERIC, kGeneric, always, ""},
};

// "3 (haswell), 6 (zen3), ..., 25 (generic)": the ids that run here
std::string usable_ids() {
    std::string s;
    for (const ArchNeed& a : kArchNeeds)
        if (a.configured && a.runs()) s += (s.empty() ? "" : ", ") + std::to_string(int(a.id)) + " (" + arch_name(a.id) + ")";
    return s;
}

}  // namespace

std::string blis_arch_problem(const std::string& value) {
    const bool digits = !value.empty() && value.size() <= 3 && value.find_first_not_of("0123456789") == std::string::npos;
    const std::string usable = "; usable here: " + usable_ids() + ", or unset it for BLIS's choice";
    if (!digits) return "not an architecture id (BLIS reads it as a number" + usable + ")";
    const int id = std::stoi(value);
    for (const ArchNeed& a : kArchNeeds) {
        if (int(a.id) != id) continue;
        if (!a.configured) return std::string("'") + arch_name(a.id) + "' is not built into this BLIS" + usable;
        if (!a.runs())
            return std::string("'") + arch_name(a.id) + "' needs " + a.needs + ", which this processor lacks" + usable;
        return "";
    }
    return (id < BLIS_NUM_ARCHS ? std::string("'") + arch_name(arch_t(id)) + "' is not an x86-64 architecture"
                                : "no such architecture id") + usable;
}

BlisKernels choose_blis_kernels(const std::string& wanted) {
    BlisKernels k;
    if (const char* user = std::getenv("BLIS_ARCH_TYPE")) {
        // BLIS would abort, or die of an illegal instruction, on a value that does not fit
        if (const std::string problem = blis_arch_problem(user); !problem.empty())
            throw UsageError(std::string("environment variable BLIS_ARCH_TYPE=") + user + ": " + problem);
        bli_init();  // reads the user's value
        k.arch = arch_name(bli_arch_query_id());
        k.reason = std::string("BLIS_ARCH_TYPE=") + user + ", set by the user";
        return k;  // no context: BLIS decides, as the user asked it to
    }
    int id = -1;
    for (int i = 0; i < BLIS_NUM_ARCHS && !wanted.empty(); ++i)
        if (wanted == arch_name(arch_t(i))) id = i;
    if (id >= 0) {
        setenv("BLIS_ARCH_TYPE", std::to_string(id).c_str(), 0);
        bli_init();
        (void)bli_arch_query_id();  // BLIS has read the variable now (once per process)
        unsetenv("BLIS_ARCH_TYPE");
    } else {
        bli_init();
    }
    k.arch = arch_name(bli_arch_query_id());
    k.cntx = bli_gks_query_cntx();
    if (id < 0)
        k.reason = "BLIS's choice from cpuid";
    else if (k.arch == wanted)
        k.reason = "asked for " + wanted;
    else
        k.reason = "asked for " + wanted + ", but BLIS was initialised before";
    return k;
}

const BlisKernels& blis_kernels() {
    static const BlisKernels k =
        choose_blis_kernels(amd_zen4_or_later_with_avx2() ? "zen3" : "");
    return k;
}

// Row-major operands: element (i, j) of a stored matrix with leading dimension ld is at i·ld + j,
// i.e. row stride ld and column stride 1; BLIS applies the transposition to the stored matrix.
// A product with one row or one column goes to gemv, as BLIS's cblas_?gemm does (through its BLAS
// layer, which sees the column-major transpose of the same product): the same gemv with the same
// strides, so the results are the same bits as the cblas calls the engine made before (compared
// over random shapes, transpositions and padded leading dimensions, m = 1 and n = 1 included).
namespace {

template <class T>
void gemm_ex(bool ta, bool tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b,
             int ldb, T beta, T* c, int ldc) {
    cntx_t* cntx = static_cast<cntx_t*>(blis_kernels().cntx);
    const trans_t ta_ = ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
    const trans_t tb_ = tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
    T* A = const_cast<T*>(a);
    T* B = const_cast<T*>(b);
    if (m == 1) {  // C[0,:] = op(B)ᵀ · op(A)[0,:]: B seen column-major, the row of op(A) as x
        const int rows = tb ? k : n, cols = tb ? n : k, incx = ta ? lda : 1;
        if constexpr (std::is_same_v<T, double>)
            bli_dgemv_ex(tb_, BLIS_NO_CONJUGATE, rows, cols, &alpha, B, 1, ldb, A, incx, &beta, c, 1,
                         cntx, nullptr);
        else
            bli_sgemv_ex(tb_, BLIS_NO_CONJUGATE, rows, cols, &alpha, B, 1, ldb, A, incx, &beta, c, 1,
                         cntx, nullptr);
    } else if (n == 1) {  // C[:,0] = op(A) · op(B)[:,0]
        const int rows = ta ? k : m, cols = ta ? m : k, incx = tb ? 1 : ldb;
        if constexpr (std::is_same_v<T, double>)
            bli_dgemv_ex(ta_, BLIS_NO_CONJUGATE, rows, cols, &alpha, A, lda, 1, B, incx, &beta, c,
                         ldc, cntx, nullptr);
        else
            bli_sgemv_ex(ta_, BLIS_NO_CONJUGATE, rows, cols, &alpha, A, lda, 1, B, incx, &beta, c,
                         ldc, cntx, nullptr);
    } else if constexpr (std::is_same_v<T, double>) {
        bli_dgemm_ex(ta_, tb_, m, n, k, &alpha, A, lda, 1, B, ldb, 1, &beta, c, ldc, 1, cntx, nullptr);
    } else {
        bli_sgemm_ex(ta_, tb_, m, n, k, &alpha, A, lda, 1, B, ldb, 1, &beta, c, ldc, 1, cntx, nullptr);
    }
}

}  // namespace

void blis_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
               const float* b, int ldb, float beta, float* c, int ldc) {
    gemm_ex(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void blis_gemm(bool ta, bool tb, int m, int n, int k, double alpha, const double* a, int lda,
               const double* b, int ldb, double beta, double* c, int ldc) {
    gemm_ex(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace xgrad::detail
