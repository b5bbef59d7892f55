// The AVX2 kernels of vmath.hpp: exp, log1p and tanh from glibc's vector math library (libmvec,
// its AVX2 variants _ZGVdN4v_* / _ZGVdN8v_*, within 4 ulp of libm), the arithmetic on xsimd
// batches. Measured on 400 doubles (2026-11-28, Intel Xeon, tools: see README "Speed"): exp 382 ns
// against libm's 2078 and xsimd's 1236; log 608 / 1981 / 1512; tanh 1186 / 4545 / 1825.
// This file alone is compiled with -mavx2 -mfma (lib/CMakeLists.txt); vmath.cpp calls it only on
// processors that have both. It defines nothing but the simd:: functions, so no inline function
// compiled here with AVX2 can stand in for one compiled for the baseline elsewhere
// (tests/check_avx2_symbols.cmake checks the object file).
#include "vmath.hpp"

#include <immintrin.h>
#include <xsimd/xsimd.hpp>

// glibc's vector ABI names (x86_64 "d" = AVX2, N4 = 4 doubles, N8 = 8 floats, v = one vector)
extern "C" {
__m256d _ZGVdN4v_exp(__m256d);
__m256d _ZGVdN4v_log1p(__m256d);
__m256d _ZGVdN4v_tanh(__m256d);
__m256 _ZGVdN8v_expf(__m256);
__m256 _ZGVdN8v_tanhf(__m256);
}

#include <type_traits>

namespace xgrad::vmath::simd {

namespace {

using Arch = xsimd::fma3<xsimd::avx2>;
template <class T>
using B = xsimd::batch<T, Arch>;

inline B<double> vexp(const B<double>& x) { return _ZGVdN4v_exp(x); }
inline B<float> vexp(const B<float>& x) { return _ZGVdN8v_expf(x); }
inline B<double> vtanh(const B<double>& x) { return _ZGVdN4v_tanh(x); }
inline B<float> vtanh(const B<float>& x) { return _ZGVdN8v_tanhf(x); }
inline B<double> vlog1p(const B<double>& x) { return _ZGVdN4v_log1p(x); }

// y = f(x) batch by batch; a short tail is padded (with zeros) into one more batch, so every
// element goes through the same code.
template <class T, class F>
inline void map(const T* x, T* y, std::size_t n, F f) {
    constexpr std::size_t W = B<T>::size;
    std::size_t i = 0;
    for (; i + W <= n; i += W) f(B<T>::load_unaligned(x + i)).store_unaligned(y + i);
    if (i < n) {
        alignas(64) T buf[W] = {};
        for (std::size_t k = 0; i + k < n; ++k) buf[k] = x[i + k];
        f(B<T>::load_aligned(buf)).store_aligned(buf);
        for (std::size_t k = 0; i + k < n; ++k) y[i + k] = buf[k];
    }
}

template <class T>
inline B<T> sigmoid_b(const B<T>& x) {
    return B<T>(T(1)) / (B<T>(T(1)) + vexp(-x));
}

inline B<double> bce_terms(const B<double>& z, const B<double>& y) {
    return xsimd::max(z, B<double>(0.0)) - z * y + vlog1p(vexp(-xsimd::abs(z)));
}

// W entries from p as doubles (a float array is widened through a small buffer)
template <class T>
inline B<double> load_double(const T* p) {
    if constexpr (std::is_same_v<T, double>) {
        return B<double>::load_unaligned(p);
    } else {
        alignas(64) double b[B<double>::size];
        for (std::size_t k = 0; k < B<double>::size; ++k) b[k] = double(p[k]);
        return B<double>::load_aligned(b);
    }
}

// the sum of bce_terms over n entries, in double
template <class T>
double bce_sum_t(const T* z, const T* y, std::size_t n) {
    constexpr std::size_t W = B<double>::size;
    B<double> acc(0.0);
    std::size_t i = 0;
    for (; i + W <= n; i += W) acc += bce_terms(load_double(z + i), load_double(y + i));
    double tail = 0;
    if (i < n) {
        alignas(64) double bz[W] = {}, by[W] = {};
        for (std::size_t k = 0; i + k < n; ++k) bz[k] = double(z[i + k]), by[k] = double(y[i + k]);
        bce_terms(B<double>::load_aligned(bz), B<double>::load_aligned(by)).store_aligned(bz);
        for (std::size_t k = 0; i + k < n; ++k) tail += bz[k];
    }
    return xsimd::hadd(acc) + tail;
}

template <class T>
inline B<T> bce_grad_b(const B<T>& z, const B<T>& y, const B<T>& g, const B<T>& scale) {
    const B<T> one(T(1)), e = vexp(-xsimd::abs(z));
    const B<T> num = xsimd::select(z >= B<T>(T(0)), one, e);  // never exp of a large positive
    return g + (num / (one + e) - y) * scale;
}

template <class T>
void bce_grad_t(const T* z, const T* y, T scale, T* g, std::size_t n) {
    constexpr std::size_t W = B<T>::size;
    const B<T> s(scale);
    std::size_t i = 0;
    for (; i + W <= n; i += W)
        bce_grad_b(B<T>::load_unaligned(z + i), B<T>::load_unaligned(y + i), B<T>::load_unaligned(g + i), s)
            .store_unaligned(g + i);
    if (i < n) {
        alignas(64) T bz[W] = {}, by[W] = {}, bg[W] = {};
        for (std::size_t k = 0; i + k < n; ++k) bz[k] = z[i + k], by[k] = y[i + k], bg[k] = g[i + k];
        bce_grad_b(B<T>::load_aligned(bz), B<T>::load_aligned(by), B<T>::load_aligned(bg), s).store_aligned(bg);
        for (std::size_t k = 0; i + k < n; ++k) g[i + k] = bg[k];
    }
}

}  // namespace

#define XGRAD_VMATH_SIMD(T)                                                                            \
    void exp(const T* x, T* y, std::size_t n) { map(x, y, n, [](const B<T>& v) { return vexp(v); }); } \
    void sigmoid(const T* x, T* y, std::size_t n) { map(x, y, n, [](const B<T>& v) { return sigmoid_b(v); }); } \
    void tanh(const T* x, T* y, std::size_t n) { map(x, y, n, [](const B<T>& v) { return vtanh(v); }); } \
    double bce_sum(const T* z, const T* y, std::size_t n) { return bce_sum_t(z, y, n); }               \
    void bce_grad(const T* z, const T* y, T scale, T* g, std::size_t n) { bce_grad_t(z, y, scale, g, n); }
XGRAD_VMATH_SIMD(float)
XGRAD_VMATH_SIMD(double)
#undef XGRAD_VMATH_SIMD

}  // namespace xgrad::vmath::simd
