// mean: Y = Σ A / k over every entry -> [1,1] (axis -1, accumulated in double), over the rows
//       -> [1,n] (axis 0) or over the columns -> [m,1] (axis 1); k = the entries each output reduces
//   dA[i,j] += dY[the entry (i,j) went into] / k
#include "ops/reduce.hpp"

namespace xgrad::ops {

const OpInfo mean_info = {OpKind::mean, 1, uses_axis, nullptr, false};

Shape mean_shape(Shape a, Shape, const Attr& attr) { return reduce_shape("mean", a, attr); }

template <class T>
void mean_forward(const Ctx<T>& cx, const M<T>& a, const M<T>* b, M<T>& out) {
    sum_forward(cx, a, b, out);
    const double k = double(reduce_count(shape_of(a), cx.attr.axis));
    for (T& v : out) v = T(double(v) / k);
}

template <class T>
void mean_backward(const Ctx<T>& cx, const M<T>& a, const M<T>*, const M<T>&, const M<T>& gout, M<T>* ga,
                   M<T>*) {
    if (!ga) return;
    const std::size_t m = a.shape()[0], n = a.shape()[1];
    const double k = double(reduce_count(shape_of(a), cx.attr.axis));
    const ReduceIndex r{cx.attr.axis};
    const T* pg = gout.data();
    T* p = ga->data();
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) p[i * n + j] += T(double(pg[r.at(i, j)]) / k);
}

XGRAD_INSTANTIATE_OP(mean)

}  // namespace xgrad::ops
