// log: Y = ln X             any shape; IEEE: ln 0 = -inf, ln x<0 = nan
//   dX += dY / X              (inf at 0)
#include <cmath>

#include "ops/ops.hpp"

namespace xgrad::ops {

const OpInfo log_info = unary_info(OpKind::log);

Shape log_shape(Shape a, Shape b, const Attr& attr) { return same_shape(a, b, attr); }

template <class T>
void log_forward(const Ctx<T>&, const M<T>& a, const M<T>*, M<T>& out) {
    map(a, out, [](T x) { return std::log(x); });
}

template <class T>
void log_backward(const Ctx<T>&, const M<T>& a, const M<T>*, const M<T>& out, const M<T>& gout, M<T>* ga, M<T>*) {
    map_grad(a, out, gout, ga, [](T x, T) { return T(1) / x; });
}

XGRAD_INSTANTIATE_OP(log)

}  // namespace xgrad::ops
