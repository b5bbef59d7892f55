// softmax_ce: L = (1/m) Σ_j Σ_i y_ij · (lse_j - z_ij),  lse_j = log Σ_i exp(z_ij); computed as
//             lse_j - z_ij = log_s_j - (z_ij - max_j), log_s_j = log Σ_i exp(z_ij - max_j) (never
//             exp of a large positive number, and no rounding of max_j + log_s_j)
//   labels [K,m]: y as given (one-hot, or any probability columns)
//   labels [1,m]: class indices 0..K-1, y_ij = [i == label_j]
//   dZ += dL/m · (softmax(z)_ij · Σ_i y_ij - y_ij)
//   dY += dL/m · (lse_j - z_ij)                      ([K,m] labels that need a gradient only)
#include "ops/columns.hpp"

namespace xgrad::ops {

const OpInfo softmax_ce_info = loss_info(OpKind::softmax_ce);

Shape softmax_ce_shape(Shape a, Shape b, const Attr&) {
    if (a.rows < 2) shape_error("softmax_ce", "logits need at least 2 classes (rows)", a, b);
    if (b.cols != a.cols || (b.rows != a.rows && b.rows != 1))
        shape_error("softmax_ce", "labels must be [K,m] (one-hot) or [1,m] (class indices)", a, b);
    return {1, 1};
}

// Both passes go through blocks of up to kBlock columns, a row at a time (ops/columns.hpp): the exps
// of a row of a block are one vectorised call. Sums run in the order of a column-by-column loop.
template <class T>
void softmax_ce_forward(const Ctx<T>&, const M<T>& z, const M<T>* y, M<T>& out) {
    const std::size_t K = z.shape()[0], m = z.shape()[1];
    const bool indices = y->shape()[0] == 1;
    const T* pz = z.data();
    const T* py = y->data();
    double total = 0, mx[kBlock], log_s[kBlock];
    for (std::size_t j0 = 0; j0 < m; j0 += kBlock) {
        const std::size_t n = std::min(kBlock, m - j0);
        block_max_logsum(pz, K, m, j0, n, mx, log_s);
        for (std::size_t q = 0; q < n; ++q) {
            const std::size_t j = j0 + q;
            if (indices) {
                total += log_s[q] - (double(pz[class_index(py, j, K) * m + j]) - mx[q]);
            } else {
                for (std::size_t i = 0; i < K; ++i)
                    total += double(py[i * m + j]) * (log_s[q] - (double(pz[i * m + j]) - mx[q]));
            }
        }
    }
    out.data()[0] = T(total / double(m));
}

template <class T>
void softmax_ce_backward(const Ctx<T>&, const M<T>& z, const M<T>* y, const M<T>&, const M<T>& gout,
                         M<T>* gz, M<T>* gy) {
    const std::size_t K = z.shape()[0], m = z.shape()[1];
    const bool indices = y->shape()[0] == 1;
    const double scale = double(gout.data()[0]) / double(m);
    const T* pz = z.data();
    const T* py = y->data();
    double mx[kBlock], log_s[kBlock], e[kBlock], ysum[kBlock];
    std::size_t label[kBlock];
    for (std::size_t j0 = 0; j0 < m; j0 += kBlock) {
        const std::size_t n = std::min(kBlock, m - j0);
        block_max_logsum(pz, K, m, j0, n, mx, log_s);
        if (gz) {
            T* g = gz->data() + j0;
            if (indices) {
                for (std::size_t q = 0; q < n; ++q) label[q] = class_index(py, j0 + q, K);
            } else {
                for (std::size_t q = 0; q < n; ++q) ysum[q] = 0;
                for (std::size_t i = 0; i < K; ++i)
                    for (std::size_t q = 0; q < n; ++q) ysum[q] += double(py[i * m + j0 + q]);
            }
            // softmax(z)_ij = exp((z_ij - max_j) - log_s_j)
            for (std::size_t i = 0; i < K; ++i) {
                block_row_exp(pz, m, i, j0, n, mx, log_s, e);
                T* gi = g + i * m;
                if (indices) {
                    for (std::size_t q = 0; q < n; ++q) gi[q] += T(scale * (e[q] - (label[q] == i ? 1.0 : 0.0)));
                } else {
                    const T* yi = py + i * m + j0;
                    for (std::size_t q = 0; q < n; ++q) gi[q] += T(scale * (e[q] * ysum[q] - double(yi[q])));
                }
            }
        }
        if (gy && !indices) {
            for (std::size_t i = 0; i < K; ++i) {
                T* gi = gy->data() + i * m + j0;
                const T* zi = pz + i * m + j0;
                for (std::size_t q = 0; q < n; ++q) gi[q] += T(scale * (log_s[q] - (double(zi[q]) - mx[q])));
            }
        }
    }
}

XGRAD_INSTANTIATE_OP(softmax_ce)

}  // namespace xgrad::ops
