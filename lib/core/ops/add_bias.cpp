// add_bias: Z[n,m] = A[n,m] + b[n,1]   (b added to every column)
//   dA += dZ
//   db += sum over columns of dZ        [n,1]
#include "ops/ops.hpp"

namespace xgrad::ops {

const OpInfo add_bias_info = binary_info(OpKind::add_bias);

Shape add_bias_shape(Shape a, Shape b, const Attr&) {
    if (b.cols != 1 || b.rows != a.rows)
        shape_error("add_bias", "bias must be [rows of A,1]", a, b);
    return a;
}

template <class T>
void add_bias_forward(const Ctx<T>&, const M<T>& a, const M<T>* b, M<T>& out) {
    const std::size_t n = a.shape()[0], m = a.shape()[1];
    const T* pa = a.data();
    const T* pb = b->data();
    T* po = out.data();
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < m; ++j) po[i * m + j] = pa[i * m + j] + pb[i];
}

template <class T>
void add_bias_backward(const Ctx<T>&, const M<T>& a, const M<T>*, const M<T>&, const M<T>& gout, M<T>* ga,
                       M<T>* gb) {
    const std::size_t n = a.shape()[0], m = a.shape()[1];
    const T* pg = gout.data();
    if (ga) {
        T* p = ga->data();
        for (std::size_t i = 0; i < n * m; ++i) p[i] += pg[i];
    }
    if (gb) {
        T* p = gb->data();
        for (std::size_t i = 0; i < n; ++i) {
            // four running sums: the adds overlap instead of waiting for each other
            const T* row = pg + i * m;
            T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            std::size_t j = 0;
            for (; j + 4 <= m; j += 4) {
                s0 += row[j];
                s1 += row[j + 1];
                s2 += row[j + 2];
                s3 += row[j + 3];
            }
            for (; j < m; ++j) s0 += row[j];
            p[i] += (s0 + s1) + (s2 + s3);
        }
    }
}

XGRAD_INSTANTIATE_OP(add_bias)

}  // namespace xgrad::ops
