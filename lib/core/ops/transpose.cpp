// transpose: Y[n,m] = X[m,n]ᵀ
//   dX += dYᵀ
#include "ops/ops.hpp"

namespace xgrad::ops {

const OpInfo transpose_info = unary_info(OpKind::transpose);

Shape transpose_shape(Shape a, Shape, const Attr&) { return {a.cols, a.rows}; }

template <class T>
void transpose_forward(const Ctx<T>&, const M<T>& a, const M<T>*, M<T>& out) {
    const std::size_t m = a.shape()[0], n = a.shape()[1];
    const T* pa = a.data();
    T* po = out.data();
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) po[j * m + i] = pa[i * n + j];
}

template <class T>
void transpose_backward(const Ctx<T>&, const M<T>& a, const M<T>*, const M<T>&, const M<T>& gout, M<T>* ga, M<T>*) {
    if (!ga) return;
    const std::size_t m = a.shape()[0], n = a.shape()[1];
    const T* pg = gout.data();
    T* p = ga->data();
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) p[i * n + j] += pg[j * m + i];
}

XGRAD_INSTANTIATE_OP(transpose)

}  // namespace xgrad::ops
