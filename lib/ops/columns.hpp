#pragma once
// Per-column helpers of the softmax family (softmax, log_softmax, softmax_ce): each column of a
// [K,m] matrix is one example's K logits.
#include <cmath>
#include <cstdio>
#include <string>

#include "ops/ops.hpp"

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
