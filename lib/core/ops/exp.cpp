// exp: Y = e^X              any shape
//   dX += dY · Y
#include <cmath>

#include "ops/ops.hpp"

namespace xgrad::ops {

const OpInfo exp_info = unary_info(OpKind::exp);

Shape exp_shape(Shape a, Shape b, const Attr& attr) { return same_shape(a, b, attr); }

template <class T>
void exp_forward(const Ctx<T>&, const M<T>& a, const M<T>*, M<T>& out) {
    map(a, out, [](T x) { return std::exp(x); });
}

template <class T>
void exp_backward(const Ctx<T>&, const M<T>& a, const M<T>*, const M<T>& out, const M<T>& gout, M<T>* ga, M<T>*) {
    map_grad(a, out, gout, ga, [](T, T y) { return y; });
}

XGRAD_INSTANTIATE_OP(exp)

}  // namespace xgrad::ops
