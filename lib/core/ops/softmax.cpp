// softmax: Y[:,j] = exp(Z[:,j] - max) / Σ exp(Z[:,j] - max)      per column, Z [K,m]
//   dZ += Y ⊙ (dY - Σ_rows(dY ⊙ Y))
#include "ops/columns.hpp"

namespace xgrad::ops {

const OpInfo softmax_info = unary_info(OpKind::softmax);

Shape softmax_shape(Shape a, Shape, const Attr&) { return a; }

template <class T>
void softmax_forward(const Ctx<T>&, const M<T>& z, const M<T>*, M<T>& out) {
    const std::size_t K = z.shape()[0], m = z.shape()[1];
    const T* pz = z.data();
    T* po = out.data();
    for (std::size_t j = 0; j < m; ++j) {
        double mx, s;
        column_max_sum(pz, K, m, j, mx, s);
        for (std::size_t i = 0; i < K; ++i) po[i * m + j] = T(std::exp(double(pz[i * m + j]) - mx) / s);
    }
}

template <class T>
void softmax_backward(const Ctx<T>&, const M<T>& z, const M<T>*, const M<T>& out, const M<T>& gout,
                      M<T>* gz, M<T>*) {
    if (!gz) return;
    const std::size_t K = z.shape()[0], m = z.shape()[1];
    const T* py = out.data();
    const T* pg = gout.data();
    T* p = gz->data();
    for (std::size_t j = 0; j < m; ++j) {
        double dot = 0;
        for (std::size_t i = 0; i < K; ++i) dot += double(pg[i * m + j]) * double(py[i * m + j]);
        for (std::size_t i = 0; i < K; ++i)
            p[i * m + j] += T(double(py[i * m + j]) * (double(pg[i * m + j]) - dot));
    }
}

XGRAD_INSTANTIATE_OP(softmax)

}  // namespace xgrad::ops
