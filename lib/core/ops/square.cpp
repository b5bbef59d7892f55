// square: Y = X²           any shape
//   dX += 2 X · dY
#include <cmath>

#include "ops/ops.hpp"

namespace xgrad::ops {

const OpInfo square_info = unary_info(OpKind::square);

Shape square_shape(Shape a, Shape b, const Attr& attr) { return same_shape(a, b, attr); }

template <class T>
void square_forward(const Ctx<T>&, const M<T>& a, const M<T>*, M<T>& out) {
    map(a, out, [](T x) { return x * x; });
}

template <class T>
void square_backward(const Ctx<T>&, const M<T>& a, const M<T>*, const M<T>& out, const M<T>& gout, M<T>* ga, M<T>*) {
    map_grad(a, out, gout, ga, [](T x, T) { return T(2) * x; });
}

XGRAD_INSTANTIATE_OP(square)

}  // namespace xgrad::ops
