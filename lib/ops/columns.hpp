#pragma once
// Per-column helpers of the softmax family (softmax, log_softmax, softmax_ce): each column of a
// [K,m] matrix is one example's K logits.
#include <algorithm>
#include <cmath>
#include <string>

#include "ops/ops.hpp"
#include "vmath.hpp"

namespace xgrad::ops {

// Column j of a row-major [K,m] matrix: max and log Σ exp(z - max).
template <class T>
inline void column_lse(const T* z, std::size_t K, std::size_t m, std::size_t j, double& mx, double& lse) {
    mx = double(z[j]);
    for (std::size_t i = 1; i < K; ++i) mx = std::max(mx, double(z[i * m + j]));
    double s = 0;
    for (std::size_t i = 0; i < K; ++i) s += std::exp(double(z[i * m + j]) - mx);
    lse = mx + std::log(s);
}

// ---- blocks of columns, a row at a time (softmax_ce) ----
// Up to kBlock neighbouring columns j0 .. j0+n-1 are handled together, a row at a time: each row's
// n entries are contiguous, so their exps are one call of vmath::exp (AVX2 libmvec where it runs,
// within a few ulp of libm; the plain loops are libm's exp, in the same order as column by column).
// The buffers are on the stack: nothing is allocated.
constexpr std::size_t kBlock = 64;

// e[q] = exp(z[i, j0+q] - shift[q]), q < n, in double.
template <class T>
inline void block_row_exp(const T* z, std::size_t m, std::size_t i, std::size_t j0, std::size_t n,
                          const double* shift, double* e) {
    const T* row = z + i * m + j0;
    for (std::size_t q = 0; q < n; ++q) e[q] = double(row[q]) - shift[q];
    vmath::exp(e, e, n);
}

// For the columns j0 .. j0+n-1 (n <= kBlock) of a row-major [K,m] matrix: lse[q] = log Σ_i
// exp(z[i, j0+q]), computed as max + log Σ_i exp(z - max) (never exp of a large positive number).
template <class T>
inline void block_lse(const T* z, std::size_t K, std::size_t m, std::size_t j0, std::size_t n, double* lse) {
    double mx[kBlock], s[kBlock], e[kBlock];
    for (std::size_t q = 0; q < n; ++q) mx[q] = double(z[j0 + q]);
    for (std::size_t i = 1; i < K; ++i)
        for (std::size_t q = 0; q < n; ++q) mx[q] = std::max(mx[q], double(z[i * m + j0 + q]));
    for (std::size_t q = 0; q < n; ++q) s[q] = 0;
    for (std::size_t i = 0; i < K; ++i) {
        block_row_exp(z, m, i, j0, n, mx, e);
        for (std::size_t q = 0; q < n; ++q) s[q] += e[q];
    }
    for (std::size_t q = 0; q < n; ++q) lse[q] = mx[q] + std::log(s[q]);
}

// The class index stored in a [1,m] label row, checked.
template <class T>
inline std::size_t class_index(const T* y, std::size_t j, std::size_t K) {
    const double v = double(y[j]);
    if (!(v >= 0 && v < double(K) && v == std::floor(v)))
        throw DataError("softmax_ce: label of column " + std::to_string(j) + " is " +
                        std::to_string(v) + ", expected a class index 0.." + std::to_string(K - 1));
    return std::size_t(v);
}

}  // namespace xgrad::ops
