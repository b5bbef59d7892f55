// scale: Y = c · X           any shape; c is the node's attribute (Tape::set_scale changes it)
//   dX += c · dY
#include "ops/ops.hpp"

namespace xgrad::ops {

const OpInfo scale_info = {OpKind::scale, 1, uses_scalar, nullptr, false};

Shape scale_shape(Shape a, Shape, const Attr&) { return a; }

template <class T>
void scale_forward(const Ctx<T>& cx, const M<T>& a, const M<T>*, M<T>& out) {
    const T c = T(cx.attr.scalar);
    const T* pa = a.data();
    T* po = out.data();
    for (std::size_t i = 0, n = a.size(); i < n; ++i) po[i] = c * pa[i];
}

template <class T>
void scale_backward(const Ctx<T>& cx, const M<T>& a, const M<T>*, const M<T>&, const M<T>& gout, M<T>* ga,
                    M<T>*) {
    if (!ga) return;
    const T c = T(cx.attr.scalar);
    const T* pg = gout.data();
    T* p = ga->data();
    for (std::size_t i = 0, n = a.size(); i < n; ++i) p[i] += c * pg[i];
}

XGRAD_INSTANTIATE_OP(scale)

}  // namespace xgrad::ops
