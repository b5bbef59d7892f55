// softmax_ce: L = (1/c) Σ_{j<c} Σ_i y_ij · (lse_j - z_ij),  lse_j = log Σ_i exp(z_ij) computed as
//             max_j + log Σ_i exp(z_ij - max_j) (never exp of a large positive number)
//   labels [K,m]: y as given (one-hot, or any probability columns)
//   labels [1,m]: class indices 0..K-1, y_ij = [i == label_j]
//   dZ += dL/c · (softmax(z)_ij · Σ_i y_ij - y_ij)
//   dY += dL/c · (lse_j - z_ij)                      ([K,m] labels that need a gradient only)
#include "ops/columns.hpp"

namespace xgrad::ops {

const OpInfo softmax_ce_info = loss_info(OpKind::softmax_ce);

Shape softmax_ce_shape(Shape a, Shape b, const Attr&) {
    if (a.rows < 2) shape_error("softmax_ce", "logits need at least 2 classes (rows)", a, b);
    if (b.cols != a.cols || (b.rows != a.rows && b.rows != 1))
        shape_error("softmax_ce", "labels must be [K,m] (one-hot) or [1,m] (class indices)", a, b);
    return {1, 1};
}

template <class T>
void softmax_ce_forward(const Ctx<T>&, const M<T>& z, const M<T>* y, M<T>& out) {
    const std::size_t K = z.shape()[0], m = z.shape()[1], c = m;
    const bool indices = y->shape()[0] == 1;
    const T* pz = z.data();
    const T* py = y->data();
    double total = 0;
    for (std::size_t j = 0; j < c; ++j) {
        double mx, s;
        column_max_sum(pz, K, m, j, mx, s);
        const double log_s = std::log(s);  // lse_j - z_ij = log_s - (z_ij - mx)
        if (indices) {
            total += log_s - (double(pz[class_index(py, j, K) * m + j]) - mx);
        } else {
            for (std::size_t i = 0; i < K; ++i)
                total += double(py[i * m + j]) * (log_s - (double(pz[i * m + j]) - mx));
        }
    }
    out.data()[0] = T(total / double(c));
}

template <class T>
void softmax_ce_backward(const Ctx<T>&, const M<T>& z, const M<T>* y, const M<T>&, const M<T>& gout,
                         M<T>* gz, M<T>* gy) {
    const std::size_t K = z.shape()[0], m = z.shape()[1], c = m;
    const bool indices = y->shape()[0] == 1;
    const double scale = double(gout.data()[0]) / double(c);
    const T* pz = z.data();
    const T* py = y->data();
    for (std::size_t j = 0; j < c; ++j) {
        double mx, s;
        column_max_sum(pz, K, m, j, mx, s);
        const double log_s = std::log(s);
        if (gz) {
            T* g = gz->data();
            if (indices) {
                const std::size_t k = class_index(py, j, K);
                for (std::size_t i = 0; i < K; ++i)
                    g[i * m + j] += T(scale * ((std::exp(double(pz[i * m + j]) - mx) / s) - (i == k ? 1.0 : 0.0)));
            } else {
                double ysum = 0;
                for (std::size_t i = 0; i < K; ++i) ysum += double(py[i * m + j]);
                for (std::size_t i = 0; i < K; ++i)
                    g[i * m + j] += T(scale * ((std::exp(double(pz[i * m + j]) - mx) / s) * ysum -
                                               double(py[i * m + j])));
            }
        }
        if (gy && !indices) {
            T* g = gy->data();
            for (std::size_t i = 0; i < K; ++i) g[i * m + j] += T(scale * (log_s - (double(pz[i * m + j]) - mx)));
        }
    }
}

XGRAD_INSTANTIATE_OP(softmax_ce)

}  // namespace xgrad::ops
