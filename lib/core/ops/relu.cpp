// relu: Y = max(X, 0)          any shape; NaN stays NaN
//   dX += dY · [X > 0]         (the seed's relu_backward: 0 where Z <= 0; uses Y > 0 <=> X > 0)
#include "ops/ops.hpp"

namespace xgrad::ops {

const OpInfo relu_info = unary_info(OpKind::relu, true);

Shape relu_shape(Shape a, Shape, const Attr&) { return a; }

template <class T>
void relu_forward(const Ctx<T>&, const M<T>& a, const M<T>*, M<T>& out) {
    const T* pa = a.data();
    T* po = out.data();
    for (std::size_t i = 0, n = a.size(); i < n; ++i) {
        const T v = pa[i];
        po[i] = v < T(0) ? T(0) : v;  // NaN stays NaN (numpy's maximum, PyTorch)
    }
}

template <class T>
void relu_backward(const Ctx<T>&, const M<T>& a, const M<T>*, const M<T>& out, const M<T>& gout, M<T>* ga, M<T>*) {
    if (!ga) return;
    const T* py = out.data();
    const T* pg = gout.data();
    T* p = ga->data();
    for (std::size_t i = 0, n = a.size(); i < n; ++i) {
        // both loaded whatever the sign: a select instead of a conditional load, so it vectorises
        const T g = pg[i];
        p[i] += py[i] > T(0) ? g : T(0);
    }
}

XGRAD_INSTANTIATE_OP(relu)

}  // namespace xgrad::ops
