#define BOOST_TEST_MODULE vmath
#include <boost/test/unit_test.hpp>

// The vectorised kernels of exp, sigmoid, tanh and the fused sigmoid + cross-entropy (lib/core/vmath.hpp)
// against the plain libm loops they replace: same values within a few ulp, same special cases
// (overflow to exactly 0 or 1, NaN stays NaN), every length (the tails), and results that do not
// depend on where an element sits in the array.

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "needs.hpp"
#include "vmath.hpp"

using namespace xgrad;

namespace {

template <class T>
std::vector<T> logits(std::size_t n, std::uint32_t seed, double spread) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<double> u(-spread, spread);
    std::vector<T> v(n);
    for (auto& x : v) x = T(u(gen));
    // the edges: zero, tiny, where exp overflows or underflows in float and in double
    const double edges[] = {0.0, -0.0, 1e-300, -1e-30, 15, -15, 37, -37, 88, -88, 89, -89, 104, -104,
                            700, -700, 709, -709, 710, -710, 745, -745, 746, -746, 1000, -1000};
    for (std::size_t i = 0; i < std::size(edges) && i < n; ++i) v[i * 7 % n] = T(edges[i]);
    return v;
}

template <class T>
std::vector<T> labels(std::size_t n, std::uint32_t seed) {
    std::mt19937 gen(seed);
    std::vector<T> v(n);
    for (auto& y : v) y = T(gen() % 2);
    return v;
}

template <class T>
constexpr double eps() {
    return std::numeric_limits<T>::epsilon();
}

// |a - b| <= ulps·eps·max(|a|, |b|) (ulps to 2·ulps units in the last place), or both the same
// non-finite value, or both below the smallest normal number
template <class T>
bool close(T a, T b, double ulps) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
    if (std::isinf(a) || std::isinf(b)) return a == b;
    const double scale = std::max(std::fabs(double(a)), std::fabs(double(b)));
    return std::fabs(double(a) - double(b)) <= ulps * eps<T>() * scale ||
           std::fabs(double(a) - double(b)) <= std::numeric_limits<T>::min();
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// simd vs plain for one type, every length 0..40 and a long array, returns the worst ulps seen
template <class T>
void compare_elementwise(void (*simd)(const T*, T*, std::size_t), void (*plain)(const T*, T*, std::size_t),
                         const char* what, double ulps) {
    for (std::size_t n : {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 40, 1000}) {
        const auto x = logits<T>(n, 11 + std::uint32_t(n), 40);
        std::vector<T> a(n), b(n);
        simd(x.data(), a.data(), n);
        plain(x.data(), b.data(), n);
        for (std::size_t i = 0; i < n; ++i)
            BOOST_TEST(close(a[i], b[i], ulps), what << " n=" << n << " x=" << x[i] << ": simd " << a[i]
                                                     << " plain " << b[i]);
    }
}

template <class T>
void check_kernels(double ulps) {
    compare_elementwise<T>(vmath::simd::exp, vmath::plain::exp, "exp", ulps);
    compare_elementwise<T>(vmath::simd::sigmoid, vmath::plain::sigmoid, "sigmoid", ulps);
    compare_elementwise<T>(vmath::simd::tanh, vmath::plain::tanh, "tanh", ulps);

    // the saturations the seed's formula relies on: exactly 0 and 1, and NaN stays NaN (the
    // anomaly check must see it)
    const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
    const std::vector<T> x = {T(-1000), T(1000), nan, T(0), -inf, inf};
    std::vector<T> y(x.size()), t(x.size()), e(x.size());
    vmath::simd::exp(x.data(), e.data(), x.size());
    BOOST_TEST(e[0] == T(0));  // exp(-1000) underflows to exactly 0, exp(1000) overflows to inf
    BOOST_TEST(std::isinf(e[1]));
    BOOST_TEST(std::isnan(e[2]));
    BOOST_TEST(e[3] == T(1));
    BOOST_TEST(e[4] == T(0));
    BOOST_TEST(std::isinf(e[5]));
    vmath::simd::sigmoid(x.data(), y.data(), x.size());
    vmath::simd::tanh(x.data(), t.data(), x.size());
    BOOST_TEST(y[0] == T(0));
    BOOST_TEST(y[1] == T(1));
    BOOST_TEST(std::isnan(y[2]));
    BOOST_TEST(y[3] == T(0.5));
    BOOST_TEST(y[4] == T(0));
    BOOST_TEST(y[5] == T(1));
    BOOST_TEST(t[0] == T(-1));
    BOOST_TEST(t[1] == T(1));
    BOOST_TEST(std::isnan(t[2]));
    BOOST_TEST(t[4] == T(-1));
    BOOST_TEST(t[5] == T(1));
    // a NaN logit makes the loss and its gradient NaN, as in the plain loops
    const std::vector<T> zn = {T(0.5), nan, T(-2)}, yn = {T(1), T(0), T(1)};
    BOOST_TEST(std::isnan(vmath::simd::bce_sum(zn.data(), yn.data(), 3)));
    BOOST_TEST(std::isnan(vmath::plain::bce_sum(zn.data(), yn.data(), 3)));
    std::vector<T> gn(3, T(0));
    vmath::simd::bce_grad(zn.data(), yn.data(), T(1), gn.data(), 3);
    BOOST_TEST(std::isfinite(gn[0]));
    BOOST_TEST(std::isnan(gn[1]));
    BOOST_TEST(std::isfinite(gn[2]));

    for (std::size_t n : {1, 2, 3, 5, 8, 13, 16, 17, 40, 1000}) {
        const auto z = logits<T>(n, 5 + std::uint32_t(n), 30);
        const auto lab = labels<T>(n, 9 + std::uint32_t(n));
        // the loss sum: another summation order, so relative to the sum of magnitudes
        const double s = vmath::simd::bce_sum(z.data(), lab.data(), n);
        const double p = vmath::plain::bce_sum(z.data(), lab.data(), n);
        double mag = 0;
        for (std::size_t i = 0; i < n; ++i) mag += std::fabs(double(z[i])) + 1;
        BOOST_TEST(std::fabs(s - p) <= 8 * eps<double>() * mag, "bce_sum n=" << n << ": " << s << " vs " << p);
        // the gradient accumulates into g
        std::vector<T> g0(n);
        for (std::size_t i = 0; i < n; ++i) g0[i] = T(0.25) * T(i % 5);
        std::vector<T> ga = g0, gb = g0;
        vmath::simd::bce_grad(z.data(), lab.data(), T(0.125), ga.data(), n);
        vmath::plain::bce_grad(z.data(), lab.data(), T(0.125), gb.data(), n);
        for (std::size_t i = 0; i < n; ++i)
            BOOST_TEST(std::fabs(double(ga[i]) - double(gb[i])) <= ulps * eps<T>() * (std::fabs(double(gb[i])) + 0.125),
                       "bce_grad n=" << n << " z=" << z[i] << ": " << ga[i] << " vs " << gb[i]);
    }

    // the loss stays finite for every finite logit, and its gradient at ±1000 is exactly ±0/-1·scale
    const std::vector<T> big = {T(1000), T(-1000)}, ones = {T(1), T(1)};
    BOOST_TEST(std::isfinite(vmath::simd::bce_sum(big.data(), ones.data(), 2)));
    std::vector<T> g(2, T(0));
    vmath::simd::bce_grad(big.data(), ones.data(), T(1), g.data(), 2);
    BOOST_TEST(g[0] == T(0));
    BOOST_TEST(g[1] == T(-1));
}

}  // namespace

// The kernels picked: the plain loops when forced (ctest test_vmath_plain_loops) or without AVX2.
BOOST_AUTO_TEST_CASE(picked_kernels_match_the_processor) {
    const char* env = std::getenv("XGRAD_VMATH");
    const bool forced = env && std::string(env) == "plain";
    if (forced || !vmath::simd::available()) {
        // the picked kernels must then be the plain ones, bit for bit
        BOOST_TEST(std::string(vmath::kernels()) == "plain");
        const auto x = logits<double>(100, 1, 40);
        std::vector<double> a(100), b(100), c(100), d(100), e(100), f(100);
        vmath::exp(x.data(), e.data(), 100);
        vmath::plain::exp(x.data(), f.data(), 100);
        BOOST_TEST(same_bits(e, f));
        vmath::sigmoid(x.data(), a.data(), 100);
        vmath::plain::sigmoid(x.data(), b.data(), 100);
        vmath::tanh(x.data(), c.data(), 100);
        vmath::plain::tanh(x.data(), d.data(), 100);
        BOOST_TEST(same_bits(a, b));
        BOOST_TEST(same_bits(c, d));
    }
    if (!forced && vmath::simd::available()) BOOST_TEST(std::string(vmath::kernels()) == "avx2");
}

// Without AVX2 and FMA there is nothing to compare: skipped (ctest test_vmath_avx2).
BOOST_AUTO_TEST_CASE(simd_kernels_match_the_plain_loops,
                     test::needs(test::Need::avx2, [] { return vmath::simd::available(); },
                                 "this processor (or glibc's libmvec) has no AVX2 + FMA kernels")) {
    check_kernels<double>(4);
    check_kernels<float>(4);
}

template <class T>
void check_position_independent(std::size_t n) {
    const auto x = logits<T>(n, 21 + std::uint32_t(n), 20);
    const auto lab = labels<T>(n, 3 + std::uint32_t(n));
    std::vector<T> s(n), t(n), g(n, T(0)), ex(n), one(1);
    vmath::exp(x.data(), ex.data(), n);
    vmath::sigmoid(x.data(), s.data(), n);
    vmath::tanh(x.data(), t.data(), n);
    vmath::bce_grad(x.data(), lab.data(), T(0.5), g.data(), n);
    for (std::size_t i = 0; i < n; ++i) {
        vmath::exp(x.data() + i, one.data(), 1);
        BOOST_TEST(std::memcmp(&one[0], &ex[i], sizeof(T)) == 0, "exp n=" << n << " i=" << i);
        vmath::sigmoid(x.data() + i, one.data(), 1);
        BOOST_TEST(std::memcmp(&one[0], &s[i], sizeof(T)) == 0, "sigmoid n=" << n << " i=" << i);
        vmath::tanh(x.data() + i, one.data(), 1);
        BOOST_TEST(std::memcmp(&one[0], &t[i], sizeof(T)) == 0, "tanh n=" << n << " i=" << i);
        one[0] = T(0);
        vmath::bce_grad(x.data() + i, lab.data() + i, T(0.5), one.data(), 1);
        BOOST_TEST(std::memcmp(&one[0], &g[i], sizeof(T)) == 0, "bce_grad n=" << n << " i=" << i);
    }
}

BOOST_AUTO_TEST_CASE(results_do_not_depend_on_the_position_in_the_array) {
    // every element goes through the same code whatever the length and offset: the value for
    // element i of a long array equals the value computed for it alone, bit for bit (so a padded
    // mini-batch or another split of the data changes nothing)
    for (std::size_t n : {1, 3, 4, 7, 9, 64, 257}) {
        check_position_independent<double>(n);
        check_position_independent<float>(n);
    }
}
