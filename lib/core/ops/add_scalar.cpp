// add_scalar: Y = X + c      any shape; c is the node's attribute (`x + 1.0`, `1.0 - p`)
//   dX += dY
#include "ops/ops.hpp"

namespace xgrad::ops {

const OpInfo add_scalar_info = {OpKind::add_scalar, 1, uses_scalar, nullptr, false};

Shape add_scalar_shape(Shape a, Shape b, const Attr& attr) { return same_shape(a, b, attr); }

template <class T>
void add_scalar_forward(const Ctx<T>& cx, const M<T>& a, const M<T>*, M<T>& out) {
    const T c = T(cx.attr.scalar);
    map(a, out, [c](T x) { return x + c; });
}

template <class T>
void add_scalar_backward(const Ctx<T>&, const M<T>& a, const M<T>*, const M<T>& out, const M<T>& gout, M<T>* ga,
                         M<T>*) {
    map_grad(a, out, gout, ga, [](T, T) { return T(1); });
}

XGRAD_INSTANTIATE_OP(add_scalar)

}  // namespace xgrad::ops
