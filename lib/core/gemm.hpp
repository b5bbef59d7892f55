#pragma once
// gemm on the tape's row-major buffers, split across the tape's threads when the product is large.
//
// Each thread calls the single-threaded BLAS on one slice (one threading layer, no
// oversubscription). The slice is taken along the largest of the three dimensions:
//   m or n: every thread writes its own rows/columns of C, no reduction needed;
//   k (the reduction, e.g. W1·X where k = 12288 and C is only [20,209]): every thread computes a
//       partial C into scratch, and the partials are summed afterwards.
// The plan depends only on the shapes and the thread count, so the tape can size the scratch when
// the op is recorded and a replay allocates nothing.

#include <algorithm>
#include <cstddef>
#include <mutex>

#include "thread_pool.hpp"

#if XGRAD_BLAS_BLIS
#include "blis_kernels.hpp"
#else
#include <cblas.h>
#endif

namespace xgrad::detail {

#if XGRAD_BLAS_BLIS
// BLIS: its typed expert API with the kernel set chosen once for the process (blis_kernels.hpp).
// BLIS is thread-safe and takes no lock.
inline void blas_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
                      const float* b, int ldb, float beta, float* c, int ldc) {
    blis_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
inline void blas_gemm(bool ta, bool tb, int m, int n, int k, double alpha, const double* a,
                      int lda, const double* b, int ldb, double beta, double* c, int ldc) {
    blis_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
#else
// Debian's serial OpenBLAS (0.3.21, built with USE_THREAD=0 and without USE_LOCKING) is not safe
// to call from two threads at once (OpenBLAS issues #2126/#2164, fixed upstream by USE_LOCKING):
// two trainers in two threads gave wrong parameters in 5 of 6 runs of test_train. In OpenBLAS
// builds every BLAS call therefore holds one process-wide lock (the split products then run one
// part after another: correct, not faster).
#if XGRAD_BLAS_NEEDS_LOCK
std::mutex& blas_lock();
#define XGRAD_BLAS_GUARD std::lock_guard<std::mutex> blas_guard(blas_lock())
#else
#define XGRAD_BLAS_GUARD (void)0
#endif

inline void blas_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
                      const float* b, int ldb, float beta, float* c, int ldc) {
    XGRAD_BLAS_GUARD;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, alpha, a, lda, b, ldb, beta, c, ldc);
}
inline void blas_gemm(bool ta, bool tb, int m, int n, int k, double alpha, const double* a,
                      int lda, const double* b, int ldb, double beta, double* c, int ldc) {
    XGRAD_BLAS_GUARD;
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, alpha, a, lda, b, ldb, beta, c, ldc);
}

#endif

struct GemmPlan {
    enum Dim { none, m, n, k } dim = none;
    int parts = 1;
};

// Below this many multiply-adds a split costs more in wake-ups than it saves.
constexpr double kMinSplitWork = 1.0e6;

inline GemmPlan plan_gemm(int m, int n, int k, int threads) {
    GemmPlan p;
    if (threads < 2 || double(m) * n * k < kMinSplitWork) return p;
    const int largest = std::max({m, n, k});
    if (largest < 16 * threads) return p;
    p.parts = threads;
    p.dim = largest == n ? GemmPlan::n : largest == m ? GemmPlan::m : GemmPlan::k;
    return p;
}

// Scratch elements a plan needs: the partial products of a k-split (part 0 writes into C).
inline std::size_t gemm_scratch(const GemmPlan& p, int m, int n) {
    return p.dim == GemmPlan::k ? std::size_t(p.parts - 1) * std::size_t(m) * std::size_t(n) : 0;
}

// Slice [begin, end) of part i out of `len`, in chunks rounded up to 16 elements.
inline void slice(int len, int parts, int i, int& begin, int& end) {
    int chunk = (len + parts - 1) / parts;
    chunk = (chunk + 15) / 16 * 16;
    begin = std::min(len, i * chunk);
    end = std::min(len, begin + chunk);
}

// C[m,n] = op(A)[m,k] · op(B)[k,n] + beta · C, split per plan_gemm(m, n, k, pool size).
template <class T>
void gemm(ThreadPool* pool, T* scratch, bool ta, bool tb, int m, int n, int k, const T* a, int lda,
          const T* b, int ldb, T beta, T* c, int ldc) {
    const GemmPlan plan = plan_gemm(m, n, k, pool ? pool->size() : 1);
    if (plan.dim == GemmPlan::none) {
        blas_gemm(ta, tb, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc);
        return;
    }
    const int parts = plan.parts;
    auto part = [&](int i) {
        int lo, hi;
        switch (plan.dim) {
            case GemmPlan::m:
                slice(m, parts, i, lo, hi);
                if (hi > lo)
                    blas_gemm(ta, tb, hi - lo, n, k, T(1), ta ? a + lo : a + std::size_t(lo) * lda,
                              lda, b, ldb, beta, c + std::size_t(lo) * ldc, ldc);
                break;
            case GemmPlan::n:
                slice(n, parts, i, lo, hi);
                if (hi > lo)
                    blas_gemm(ta, tb, m, hi - lo, k, T(1), a, lda,
                              tb ? b + std::size_t(lo) * ldb : b + lo, ldb, beta, c + lo, ldc);
                break;
            case GemmPlan::k: {
                slice(k, parts, i, lo, hi);
                const T* as = ta ? a + std::size_t(lo) * lda : a + lo;
                const T* bs = tb ? b + lo : b + std::size_t(lo) * ldb;
                if (i == 0) {
                    blas_gemm(ta, tb, m, n, hi - lo, T(1), as, lda, bs, ldb, beta, c, ldc);
                } else {
                    T* part_c = scratch + std::size_t(i - 1) * m * n;
                    if (hi > lo)
                        blas_gemm(ta, tb, m, n, hi - lo, T(1), as, lda, bs, ldb, T(0), part_c, n);
                    else
                        std::fill(part_c, part_c + std::size_t(m) * n, T(0));
                }
                break;
            }
            case GemmPlan::none:
                break;
        }
    };
    pool->for_each(part);
    if (plan.dim == GemmPlan::k)
        for (int i = 1; i < parts; ++i) {
            const T* part_c = scratch + std::size_t(i - 1) * m * n;
            for (int r = 0; r < m; ++r)
                for (int col = 0; col < n; ++col)
                    c[std::size_t(r) * ldc + col] += part_c[std::size_t(r) * n + col];
        }
}

}  // namespace xgrad::detail
