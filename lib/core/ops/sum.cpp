// sum: Y = Σ A over every entry -> [1,1] (axis -1, accumulated in double), over the rows -> [1,n]
//      (axis 0) or over the columns -> [m,1] (axis 1)
//   dA[i,j] += dY[the entry (i,j) went into]
#include "ops/reduce.hpp"

namespace xgrad::ops {

const OpInfo sum_info = {OpKind::sum, 1, uses_axis, nullptr, false};

Shape sum_shape(Shape a, Shape, const Attr& attr) { return reduce_shape("sum", a, attr); }

template <class T>
void sum_forward(const Ctx<T>& cx, const M<T>& a, const M<T>*, M<T>& out) {
    const std::size_t m = a.shape()[0], n = a.shape()[1];
    const T* pa = a.data();
    if (cx.attr.axis == 0) {
        T* po = out.data();
        for (std::size_t j = 0; j < n; ++j) po[j] = T(0);
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j) po[j] += pa[i * n + j];
        return;
    }
    const std::size_t rows = cx.attr.axis == 1 ? m : 1, len = cx.attr.axis == 1 ? n : m * n;
    for (std::size_t r = 0; r < rows; ++r) {
        double s = 0;
        for (std::size_t k = 0; k < len; ++k) s += double(pa[r * len + k]);
        out.data()[r] = T(s);
    }
}

template <class T>
void sum_backward(const Ctx<T>& cx, const M<T>& a, const M<T>*, const M<T>&, const M<T>& gout, M<T>* ga, M<T>*) {
    if (!ga) return;
    const std::size_t m = a.shape()[0], n = a.shape()[1];
    const ReduceIndex r{cx.attr.axis};
    const T* pg = gout.data();
    T* p = ga->data();
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) p[i * n + j] += pg[r.at(i, j)];
}

XGRAD_INSTANTIATE_OP(sum)

}  // namespace xgrad::ops
