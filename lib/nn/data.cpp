// Data sources (xgrad/nn/data.hpp): examples in memory, a process's share of a batch, the
// identity of a dataset.
#include "xgrad/nn/data.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace xgrad {

template <class T>
MemorySource<T>::MemorySource(Matrix<T> X, Matrix<T> Y) : X_(std::move(X)), Y_(std::move(Y)) {
    if (X_.shape()[1] != Y_.shape()[1])
        throw ShapeError("MemorySource: " + std::to_string(X_.shape()[1]) + " examples but " +
                         std::to_string(Y_.shape()[1]) + " label columns");
}

template <class T>
void MemorySource<T>::fetch(const std::size_t* idx, std::size_t n, Matrix<T>& X, Matrix<T>& Y) {
    if (n == 0) throw UsageError("MemorySource::fetch: no examples asked for");
    gather_columns(X_, idx, n, X);
    gather_columns(Y_, idx, n, Y);
}

Share share_of(std::size_t n, int rank, int size) {
    if (size < 1 || rank < 0 || rank >= size)
        throw UsageError("share_of: rank " + std::to_string(rank) + " of " + std::to_string(size) + " processes");
    const std::size_t N = std::size_t(size), r = std::size_t(rank), q = n / N, extra = n % N;
    return {r * q + std::min(r, extra), q + (r < extra ? 1 : 0)};
}

template <class T>
void gather_columns(const Matrix<T>& all, const std::size_t* cols, std::size_t n, Matrix<T>& dst) {
    const std::size_t rows = all.shape()[0], m = all.shape()[1];
    for (std::size_t j = 0; j < n; ++j)
        if (cols[j] >= m)
            throw UsageError("gather_columns: column " + std::to_string(cols[j]) + " of a matrix of " +
                             std::to_string(m) + " columns");
    if (dst.shape()[0] != rows || dst.shape()[1] != n) dst.resize({rows, n});
    for (std::size_t i = 0; i < rows; ++i) {
        const T* src = all.data() + i * m;
        T* d = dst.data() + i * n;
        for (std::size_t j = 0; j < n; ++j) d[j] = src[cols[j]];
    }
}

namespace {
// The examples data_identity looks at: 64 evenly spaced, or all.
std::vector<std::size_t> identity_sample(std::size_t m) {
    const std::size_t k = std::min<std::size_t>(m, 64);
    std::vector<std::size_t> idx(k);
    for (std::size_t i = 0; i < k; ++i) idx[i] = k == m ? i : i * (m - 1) / (k - 1);
    return idx;
}

template <class T>
std::string identity_text(std::size_t m, const Matrix<T>& x, const Matrix<T>& y) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a
    auto add = [&](const Matrix<T>& a) {
        for (T v : a) {
            const double d = double(v);
            unsigned char bytes[sizeof d];
            std::memcpy(bytes, &d, sizeof d);
            for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
        }
    };
    add(x);
    add(y);
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    return "m=" + std::to_string(m) + " features=" + std::to_string(x.shape()[0]) +
           " labels=" + std::to_string(y.shape()[0]) + " sample=" + hex;
}
}  // namespace

template <class T>
std::string data_identity(DataSource<T>& source) {
    const std::vector<std::size_t> idx = identity_sample(source.examples());
    Matrix<T> x = Matrix<T>::from_shape({source.features(), std::size_t(0)});
    Matrix<T> y = Matrix<T>::from_shape({source.label_rows(), std::size_t(0)});
    if (!idx.empty()) source.fetch(idx.data(), idx.size(), x, y);
    return identity_text(source.examples(), x, y);
}

template <class T>
std::string data_identity(const Matrix<T>& X, const Matrix<T>& Y) {
    const std::vector<std::size_t> idx = identity_sample(X.shape()[1]);
    Matrix<T> x, y;
    gather_columns(X, idx.data(), idx.size(), x);
    gather_columns(Y, idx.data(), idx.size(), y);
    return identity_text(X.shape()[1], x, y);
}

template void gather_columns(const Matrix<float>&, const std::size_t*, std::size_t, Matrix<float>&);
template void gather_columns(const Matrix<double>&, const std::size_t*, std::size_t, Matrix<double>&);
template std::string data_identity(DataSource<float>&);
template std::string data_identity(DataSource<double>&);
template std::string data_identity(const Matrix<float>&, const Matrix<float>&);
template std::string data_identity(const Matrix<double>&, const Matrix<double>&);
template class MemorySource<float>;
template class MemorySource<double>;

}  // namespace xgrad
