// tanh: Y = tanh(X)          any shape
//   dX += dY · (1 - Y²)       (uses the saved output)
#include "ops/ops.hpp"
#include "vmath.hpp"

namespace xgrad::ops {

const OpInfo tanh_info = unary_info(OpKind::tanh);

Shape tanh_shape(Shape a, Shape, const Attr&) { return a; }

template <class T>
void tanh_forward(const Ctx<T>&, const M<T>& a, const M<T>*, M<T>& out) {
    vmath::tanh(a.data(), out.data(), a.size());
}

template <class T>
void tanh_backward(const Ctx<T>&, const M<T>& a, const M<T>*, const M<T>& out, const M<T>& gout, M<T>* ga,
                   M<T>*) {
    if (!ga) return;
    const T* py = out.data();
    const T* pg = gout.data();
    T* p = ga->data();
    for (std::size_t i = 0, n = a.size(); i < n; ++i) p[i] += pg[i] * (T(1) - py[i] * py[i]);
}

XGRAD_INSTANTIATE_OP(tanh)

}  // namespace xgrad::ops
