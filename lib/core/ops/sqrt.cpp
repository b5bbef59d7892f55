// sqrt: Y = √X             any shape; IEEE: √x<0 = nan
//   dX += dY / (2 Y)          (inf at 0, as PyTorch)
#include <cmath>

#include "ops/ops.hpp"

namespace xgrad::ops {

const OpInfo sqrt_info = unary_info(OpKind::sqrt);

Shape sqrt_shape(Shape a, Shape b, const Attr& attr) { return same_shape(a, b, attr); }

template <class T>
void sqrt_forward(const Ctx<T>&, const M<T>& a, const M<T>*, M<T>& out) {
    map(a, out, [](T x) { return std::sqrt(x); });
}

template <class T>
void sqrt_backward(const Ctx<T>&, const M<T>& a, const M<T>*, const M<T>& out, const M<T>& gout, M<T>* ga, M<T>*) {
    map_grad(a, out, gout, ga, [](T, T y) { return T(0.5) / y; });
}

XGRAD_INSTANTIATE_OP(sqrt)

}  // namespace xgrad::ops
