#pragma once
// Per-column helpers of the softmax family (softmax, log_softmax, softmax_ce): each column of a
// [K,m] matrix is one example's K logits.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "ops/ops.hpp"
#include "vmath.hpp"

namespace xgrad::ops {

// Column j of a row-major [K,m] matrix: its max and s = Σ exp(z - max) (1 <= s <= K). The
// results are then formed from z - max, never from z - (max + log s): that difference would carry
// the rounding of a large max into every entry (1e-13 relative at logits near 1000).
template <class T>
inline void column_max_sum(const T* z, std::size_t K, std::size_t m, std::size_t j, double& mx, double& s) {
    mx = double(z[j]);
    for (std::size_t i = 1; i < K; ++i) mx = std::max(mx, double(z[i * m + j]));
    s = 0;
    for (std::size_t i = 0; i < K; ++i) s += std::exp(double(z[i * m + j]) - mx);
}

// ---- blocks of columns, a row at a time (softmax_ce) ----
// Up to kBlock neighbouring columns j0 .. j0+n-1 are handled together, a row at a time: each row's
// n entries are contiguous, so their exps are one call of vmath::exp (AVX2 libmvec where it runs,
// within a few ulp of libm; the plain loops are libm's exp, in the same order as column by column).
// The buffers are on the stack: nothing is allocated.
constexpr std::size_t kBlock = 64;

// e[q] = exp((z[i, j0+q] - mx[q]) - log_s[q]), q < n, in double (log_s may be null: 0).
template <class T>
inline void block_row_exp(const T* z, std::size_t m, std::size_t i, std::size_t j0, std::size_t n,
                          const double* mx, const double* log_s, double* e) {
    const T* row = z + i * m + j0;
    for (std::size_t q = 0; q < n; ++q) e[q] = double(row[q]) - mx[q];
    if (log_s)
        for (std::size_t q = 0; q < n; ++q) e[q] -= log_s[q];
    vmath::exp(e, e, n);
}

// For the columns j0 .. j0+n-1 (n <= kBlock) of a row-major [K,m] matrix: each column's max and
// log_s = log Σ_i exp(z - max), so that log Σ_i exp(z) = max + log_s (never exp of a large positive
// number); the block form of column_max_sum.
template <class T>
inline void block_max_logsum(const T* z, std::size_t K, std::size_t m, std::size_t j0, std::size_t n, double* mx,
                             double* log_s) {
    double s[kBlock], e[kBlock];
    for (std::size_t q = 0; q < n; ++q) mx[q] = double(z[j0 + q]);
    for (std::size_t i = 1; i < K; ++i)
        for (std::size_t q = 0; q < n; ++q) mx[q] = std::max(mx[q], double(z[i * m + j0 + q]));
    for (std::size_t q = 0; q < n; ++q) s[q] = 0;
    for (std::size_t i = 0; i < K; ++i) {
        block_row_exp(z, m, i, j0, n, mx, static_cast<const double*>(nullptr), e);
        for (std::size_t q = 0; q < n; ++q) s[q] += e[q];
    }
    for (std::size_t q = 0; q < n; ++q) log_s[q] = std::log(s[q]);
}

// The class index stored in a [1,m] label row, checked.
template <class T>
inline std::size_t class_index(const T* y, std::size_t j, std::size_t K) {
    const double v = double(y[j]);
    if (!(v >= 0 && v < double(K) && v == std::floor(v)))
    {
        char text[32];
        std::snprintf(text, sizeof text, "%.17g", v);  // (std::to_string would print 1e-300 as 0.000000)
        throw DataError("softmax_ce: label of column " + std::to_string(j) + " is " + text +
                        ", expected a class index 0.." + std::to_string(K - 1));
    }
    return std::size_t(v);
}

}  // namespace xgrad::ops
