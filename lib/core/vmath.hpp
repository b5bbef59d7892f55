#pragma once
// Internal: the elementwise transcendental loops of the ops (exp for the softmax family, sigmoid,
// tanh, the fused sigmoid + cross-entropy), plain and vectorised.
//
// `plain::` are the reference loops (libm, one element at a time). `simd::` are the same formulas
// on AVX2 batches (exp/log1p/tanh from glibc's libmvec, within a few ulp of libm's), compiled in
// their own file (vmath_avx2.cpp) with -mavx2 -mfma and called only when the processor has both. The
// unprefixed functions pick one: simd when available (and XGRAD_VMATH is not "plain"), else plain. Every element goes through the
// same batch code whatever n is (a short tail is padded into a batch), so results depend only on
// the values, not on where an element sits in the array. Tests compare simd with plain.

#include <cstddef>

namespace xgrad::vmath {

#define XGRAD_VMATH_KERNELS(T)                                                                    \
    /* y = exp(x) */                                                                             \
    void exp(const T* x, T* y, std::size_t n);                                                   \
    /* y = 1 / (1 + exp(-x)) (the seed's formula: exp overflow gives exactly 0) */               \
    void sigmoid(const T* x, T* y, std::size_t n);                                               \
    /* y = tanh(x) */                                                                            \
    void tanh(const T* x, T* y, std::size_t n);                                                  \
    /* sum over n of max(z,0) - z·y + log1p(exp(-|z|)), in double */                             \
    double bce_sum(const T* z, const T* y, std::size_t n);                                       \
    /* g += (sigmoid(z) - y) · scale, with the stable sigmoid (never exp of a large positive) */ \
    void bce_grad(const T* z, const T* y, T scale, T* g, std::size_t n);

namespace plain {
XGRAD_VMATH_KERNELS(float)
XGRAD_VMATH_KERNELS(double)
}  // namespace plain

namespace simd {
// whether this processor runs the simd kernels (AVX2 and FMA); calling them otherwise is an error
bool available();
XGRAD_VMATH_KERNELS(float)
XGRAD_VMATH_KERNELS(double)
}  // namespace simd

XGRAD_VMATH_KERNELS(float)
XGRAD_VMATH_KERNELS(double)

#undef XGRAD_VMATH_KERNELS

// "avx2" or "plain": what the unprefixed kernels use on this processor
const char* kernels();

}  // namespace xgrad::vmath
