// log_softmax: Y[:,j] = Z[:,j] - max_j - log Σ_i exp(Z[i,j] - max_j)     per column, Z [K,m]
//   dZ += dY - exp(Y) ⊙ Σ_rows dY           (exp(Y) is the softmax)
#include "ops/columns.hpp"

namespace xgrad::ops {

const OpInfo log_softmax_info = unary_info(OpKind::log_softmax);

Shape log_softmax_shape(Shape a, Shape, const Attr&) { return a; }

template <class T>
void log_softmax_forward(const Ctx<T>&, const M<T>& z, const M<T>*, M<T>& out) {
    const std::size_t K = z.shape()[0], m = z.shape()[1];
    const T* pz = z.data();
    T* po = out.data();
    for (std::size_t j = 0; j < m; ++j) {
        double mx, s;
        column_max_sum(pz, K, m, j, mx, s);
        const double log_s = std::log(s);
        for (std::size_t i = 0; i < K; ++i) po[i * m + j] = T((double(pz[i * m + j]) - mx) - log_s);
    }
}

template <class T>
void log_softmax_backward(const Ctx<T>&, const M<T>& z, const M<T>*, const M<T>& out, const M<T>& gout,
                          M<T>* gz, M<T>*) {
    if (!gz) return;
    const std::size_t K = z.shape()[0], m = z.shape()[1];
    const T* py = out.data();
    const T* pg = gout.data();
    T* p = gz->data();
    for (std::size_t j = 0; j < m; ++j) {
        double s = 0;
        for (std::size_t i = 0; i < K; ++i) s += double(pg[i * m + j]);
        for (std::size_t i = 0; i < K; ++i)
            p[i * m + j] += T(double(pg[i * m + j]) - std::exp(double(py[i * m + j])) * s);
    }
}

XGRAD_INSTANTIATE_OP(log_softmax)

}  // namespace xgrad::ops
