#pragma once
// Internal, BLIS builds only: the products of the engine through BLIS's typed expert API, with the
// kernel set (BLIS's "context") chosen once, explicitly, and passed to every call.
//
// Debian's BLIS 0.9 picks its kernels from cpuid and knows AMD processors up to Zen 3: on Zen 4/5
// (family 0x19 with AVX-512, 0x1A) it falls back to its portable 'generic' kernels, 3x slower here
// than its 'zen3' ones (README, "BLAS"). The choice, made at the first product of the process:
//   - BLIS_ARCH_TYPE set by the user: BLIS's own choice, which honours it; the engine passes no
//     context (BLIS decides) and never reads or writes the variable otherwise;
//   - an AMD Zen 4 or later with AVX2 and FMA: BLIS's 'zen3' kernels;
//   - anything else: what BLIS picks from cpuid.
// The process environment is the same after the choice as before it (see blis_kernels.cpp for how
// the 'zen3' kernels are obtained from a BLIS that exports no per-architecture context).
#include <string>

namespace xgrad::detail {

struct BlisKernels {
    void* cntx = nullptr;  // the cntx_t* passed to bli_?gemm_ex; null: BLIS decides
    std::string arch;      // BLIS's name of the kernel set in use: "zen3", "haswell", "generic", ...
    std::string reason;    // why: "BLIS_ARCH_TYPE=5 (the user's)", "cpuid", "AMD Zen 4 or later: zen3"
};

// What is wrong with `value` as BLIS_ARCH_TYPE on this processor ("" if nothing): not a number,
// out of range, an architecture this BLIS was not built with, or one whose instructions the
// processor lacks (BLIS would abort, or die of an illegal instruction).
std::string blis_arch_problem(const std::string& value);

// The choice of this process, made once (thread-safe) at the first call.
const BlisKernels& blis_kernels();

// The choice itself, for tests in a fresh process (BLIS not yet initialised): `wanted` is the
// kernel set to ask for when BLIS_ARCH_TYPE is unset ("" = BLIS's cpuid choice).
BlisKernels choose_blis_kernels(const std::string& wanted);

void blis_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
               const float* b, int ldb, float beta, float* c, int ldc);
void blis_gemm(bool ta, bool tb, int m, int n, int k, double alpha, const double* a, int lda,
               const double* b, int ldb, double beta, double* c, int ldc);

}  // namespace xgrad::detail
