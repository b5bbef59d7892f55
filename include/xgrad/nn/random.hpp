#pragma once
// numpy's legacy global generator (np.random.seed / rand / randn), reproduced bit for bit.
//
// MT19937 seeded with init_genrand(seed) — the same stream as std::mt19937(seed);
// a uniform double in [0,1) from two 32-bit draws: ((a >> 5) * 2^26 + (b >> 6)) / 2^53;
// a gaussian by the polar method, returning f·x2 and keeping f·x1 for the next call.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "xgrad/core/tensor.hpp"

namespace xgrad {

class NumpyRandom {
public:
    explicit NumpyRandom(std::uint32_t seed = 0) { this->seed(seed); }

    // np.random.seed(s): also forgets a kept gaussian.
    void seed(std::uint32_t s);
    // np.random.random_sample() / rand(): uniform in [0, 1).
    double uniform();
    // np.random.randn(): standard normal.
    double randn();
    // np.random.randn(rows, cols), filled row-major.
    Matrix<double> randn(std::size_t rows, std::size_t cols);
    // np.random.rand(rows, cols), filled row-major.
    Matrix<double> rand(std::size_t rows, std::size_t cols);
    // np.random.permutation(n) of the legacy generator: Fisher-Yates from the end, each index
    // drawn by masked rejection sampling of 32-bit draws (n < 2^32).
    std::vector<std::size_t> permutation(std::size_t n);
    // k distinct indices of 0..n-1 in increasing order, drawn by a partial Fisher-Yates shuffle
    // with uniform(); all n when k is 0 or k >= n (nothing drawn). The gradient checks' samples.
    std::vector<std::size_t> sample(std::size_t n, std::size_t k);

    // The whole generator state as text (MT19937's 624 words and position, and a kept gaussian),
    // for checkpoints: set_state(state()) continues the same stream exactly. set_state throws
    // DataError on text that is not such a state.
    std::string state() const;
    void set_state(const std::string& text);

private:
    std::mt19937 mt_;
    bool has_gauss_ = false;
    double gauss_ = 0.0;
};

}  // namespace xgrad
