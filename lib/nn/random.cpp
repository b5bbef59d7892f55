#include "xgrad/nn/random.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <sstream>
#include <string>
#include <utility>

namespace xgrad {

void NumpyRandom::seed(std::uint32_t s) {
    mt_.seed(s);
    has_gauss_ = false;
    gauss_ = 0.0;
}

double NumpyRandom::uniform() {
    const std::uint32_t a = std::uint32_t(mt_()) >> 5;
    const std::uint32_t b = std::uint32_t(mt_()) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
}

double NumpyRandom::randn() {
    if (has_gauss_) {
        has_gauss_ = false;
        return gauss_;
    }
    double x1, x2, r2;
    do {
        x1 = 2.0 * uniform() - 1.0;
        x2 = 2.0 * uniform() - 1.0;
        r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    const double f = std::sqrt(-2.0 * std::log(r2) / r2);
    gauss_ = f * x1;
    has_gauss_ = true;
    return f * x2;
}

Matrix<double> NumpyRandom::randn(std::size_t rows, std::size_t cols) {
    Matrix<double> m = Matrix<double>::from_shape({rows, cols});
    for (auto& v : m) v = randn();
    return m;
}

Matrix<double> NumpyRandom::rand(std::size_t rows, std::size_t cols) {
    Matrix<double> m = Matrix<double>::from_shape({rows, cols});
    for (auto& v : m) v = uniform();
    return m;
}

std::string NumpyRandom::state() const {
    std::ostringstream os;
    os << mt_ << ' ' << (has_gauss_ ? 1 : 0) << ' ';
    os << std::hexfloat << gauss_;
    return os.str();
}

void NumpyRandom::set_state(const std::string& text) {
    std::istringstream is(text);
    std::mt19937 mt;
    int has = 0;
    std::string g;
    is >> mt >> has >> g;
    char* end = nullptr;
    const double gauss = g.empty() ? 0.0 : std::strtod(g.c_str(), &end);
    if (!is || (has != 0 && has != 1) || g.empty() || *end != '\0')
        throw DataError("random generator state: not a saved MT19937 state");
    mt_ = mt;
    has_gauss_ = has == 1;
    gauss_ = gauss;
}

std::vector<std::size_t> NumpyRandom::sample(std::size_t n, std::size_t k) {
    std::vector<std::size_t> idx(n);
    std::iota(idx.begin(), idx.end(), std::size_t(0));
    if (k == 0 || k >= n) return idx;
    for (std::size_t i = 0; i < k; ++i) {
        const std::size_t j = i + std::min(n - i - 1, std::size_t(uniform() * double(n - i)));
        std::swap(idx[i], idx[j]);
    }
    idx.resize(k);
    std::sort(idx.begin(), idx.end());
    return idx;
}

std::vector<std::size_t> NumpyRandom::permutation(std::size_t n) {
    if (n > 0xffffffffu)
        throw UsageError("permutation: n = " + std::to_string(n) + " is too large (at most 2^32 - 1)");
    std::vector<std::size_t> p(n);
    for (std::size_t i = 0; i < n; ++i) p[i] = i;
    for (std::size_t i = n; i-- > 1;) {
        // a uniform integer in [0, i]: draw under the smallest all-ones mask >= i, reject above i
        std::uint32_t mask = std::uint32_t(i);
        mask |= mask >> 1;
        mask |= mask >> 2;
        mask |= mask >> 4;
        mask |= mask >> 8;
        mask |= mask >> 16;
        std::uint32_t j;
        do j = std::uint32_t(mt_()) & mask;
        while (j > i);
        std::swap(p[i], p[j]);
    }
    return p;
}

}  // namespace xgrad
