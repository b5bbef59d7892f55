// abs: Y = |X|              any shape
//   dX += sign(X) · dY        sign(0) = 0 (PyTorch), sign(nan) = nan
#include <cmath>

#include "ops/ops.hpp"

namespace xgrad::ops {

const OpInfo abs_info = unary_info(OpKind::abs, true);

Shape abs_shape(Shape a, Shape b, const Attr& attr) { return same_shape(a, b, attr); }

template <class T>
void abs_forward(const Ctx<T>&, const M<T>& a, const M<T>*, M<T>& out) {
    map(a, out, [](T x) { return std::abs(x); });
}

template <class T>
void abs_backward(const Ctx<T>&, const M<T>& a, const M<T>*, const M<T>& out, const M<T>& gout, M<T>* ga, M<T>*) {
    map_grad(a, out, gout, ga, [](T x, T) { return x > T(0) ? T(1) : x < T(0) ? T(-1) : x * T(0); });
}

XGRAD_INSTANTIATE_OP(abs)

}  // namespace xgrad::ops
