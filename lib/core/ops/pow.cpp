// pow: Y = X^p               any shape, p real (the node's attribute); IEEE: a non-integer p at
//                            X < 0 gives nan, 0^p with p < 0 gives inf
//   dX += p · X^(p-1) · dY    (0 for p = 0, as PyTorch: not 0 · 0^-1 = nan at X = 0)
#include <cmath>

#include "ops/ops.hpp"

namespace xgrad::ops {

const OpInfo pow_info = {OpKind::pow, 1, uses_scalar, nullptr, false};

Shape pow_shape(Shape a, Shape b, const Attr& attr) { return same_shape(a, b, attr); }

template <class T>
void pow_forward(const Ctx<T>& cx, const M<T>& a, const M<T>*, M<T>& out) {
    const T p = T(cx.attr.scalar);
    map(a, out, [p](T x) { return std::pow(x, p); });
}

template <class T>
void pow_backward(const Ctx<T>& cx, const M<T>& a, const M<T>*, const M<T>& out, const M<T>& gout, M<T>* ga, M<T>*) {
    const T p = T(cx.attr.scalar);
    map_grad(a, out, gout, ga, [p](T x, T) { return p == T(0) ? T(0) : p * std::pow(x, p - T(1)); });
}

XGRAD_INSTANTIATE_OP(pow)

}  // namespace xgrad::ops
