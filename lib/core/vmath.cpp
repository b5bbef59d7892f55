// The plain loops (libm) and the choice between them and the AVX2 kernels (vmath_avx2.cpp).
#include "vmath.hpp"
#include "xgrad/core/blas.hpp"

#include <cmath>
#include <cstdlib>
#include <string>

namespace xgrad::vmath {

namespace plain {

namespace {
// log1p(e) for e in [0, 1], as accurate as std::log1p (within an ulp or two) but through the faster
// std::log: with u = 1 + e rounded, log(u) is exact for the number u, and the rounding error of u,
// (u - 1) - e, is corrected to first order (Goldberg's trick). e = 0 gives u = 1 and 0 exactly.
inline double log1p_small(double e) {
    const double u = 1.0 + e;
    return u == 1.0 ? e : std::log(u) * (e / (u - 1.0));
}

template <class T>
void exp_t(const T* x, T* y, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}

template <class T>
void sigmoid_t(const T* x, T* y, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) y[i] = T(1) / (T(1) + std::exp(-x[i]));
}

template <class T>
void tanh_t(const T* x, T* y, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

template <class T>
double bce_sum_t(const T* z, const T* y, std::size_t n) {
    double s = 0;
    for (std::size_t j = 0; j < n; ++j) {
        const double zj = z[j];
        s += (zj > 0 ? zj : 0.0) - zj * double(y[j]) + log1p_small(std::exp(-std::fabs(zj)));
    }
    return s;
}

template <class T>
void bce_grad_t(const T* z, const T* y, T scale, T* g, std::size_t n) {
    for (std::size_t j = 0; j < n; ++j) {
        const T e = std::exp(-std::fabs(z[j]));
        const T num = z[j] >= 0 ? T(1) : e;  // a select, not a branch on the sign
        g[j] += (num / (T(1) + e) - y[j]) * scale;
    }
}
}  // namespace

#define XGRAD_VMATH_PLAIN(T)                                                                           \
    void exp(const T* x, T* y, std::size_t n) { exp_t(x, y, n); }                                      \
    void sigmoid(const T* x, T* y, std::size_t n) { sigmoid_t(x, y, n); }                              \
    void tanh(const T* x, T* y, std::size_t n) { tanh_t(x, y, n); }                                    \
    double bce_sum(const T* z, const T* y, std::size_t n) { return bce_sum_t(z, y, n); }               \
    void bce_grad(const T* z, const T* y, T scale, T* g, std::size_t n) { bce_grad_t(z, y, scale, g, n); }
XGRAD_VMATH_PLAIN(float)
XGRAD_VMATH_PLAIN(double)
#undef XGRAD_VMATH_PLAIN

}  // namespace plain

namespace simd {
#ifdef XGRAD_VMATH_AVX2
// (compiled for the baseline: it runs before anything AVX2 does)
bool available() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
#else
// built without the AVX2 kernels (not x86-64): the plain loops everywhere
bool available() { return false; }
#define XGRAD_VMATH_SAME(T)                                                                            \
    void exp(const T* x, T* y, std::size_t n) { plain::exp(x, y, n); }                                 \
    void sigmoid(const T* x, T* y, std::size_t n) { plain::sigmoid(x, y, n); }                         \
    void tanh(const T* x, T* y, std::size_t n) { plain::tanh(x, y, n); }                               \
    double bce_sum(const T* z, const T* y, std::size_t n) { return plain::bce_sum(z, y, n); }          \
    void bce_grad(const T* z, const T* y, T scale, T* g, std::size_t n) { plain::bce_grad(z, y, scale, g, n); }
XGRAD_VMATH_SAME(float)
XGRAD_VMATH_SAME(double)
#undef XGRAD_VMATH_SAME
#endif
}  // namespace simd

namespace {
// decided once per process: the processor does not change. XGRAD_VMATH=plain forces the plain
// loops (to compare, or to get the same bits as a processor without AVX2).
bool use_simd() {
    static const bool yes = [] {
        const char* env = std::getenv("XGRAD_VMATH");
        return simd::available() && !(env && std::string(env) == "plain");
    }();
    return yes;
}
}  // namespace

const char* kernels() { return use_simd() ? "avx2" : "plain"; }

}  // namespace xgrad::vmath

const char* xgrad::vector_kernels() { return vmath::kernels(); }

namespace xgrad::vmath {

#define XGRAD_VMATH_PICK(T)                                                                            \
    void exp(const T* x, T* y, std::size_t n) { use_simd() ? simd::exp(x, y, n) : plain::exp(x, y, n); } \
    void sigmoid(const T* x, T* y, std::size_t n) {                                                    \
        use_simd() ? simd::sigmoid(x, y, n) : plain::sigmoid(x, y, n);                                 \
    }                                                                                                  \
    void tanh(const T* x, T* y, std::size_t n) { use_simd() ? simd::tanh(x, y, n) : plain::tanh(x, y, n); } \
    double bce_sum(const T* z, const T* y, std::size_t n) {                                            \
        return use_simd() ? simd::bce_sum(z, y, n) : plain::bce_sum(z, y, n);                          \
    }                                                                                                  \
    void bce_grad(const T* z, const T* y, T scale, T* g, std::size_t n) {                              \
        use_simd() ? simd::bce_grad(z, y, scale, g, n) : plain::bce_grad(z, y, scale, g, n);           \
    }
XGRAD_VMATH_PICK(float)
XGRAD_VMATH_PICK(double)
#undef XGRAD_VMATH_PICK

}  // namespace xgrad::vmath
