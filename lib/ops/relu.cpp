// relu: Y = max(X, 0)          any shape
//   dX += dY · [X > 0]         (the seed's relu_backward: 0 where Z <= 0; uses Y > 0 <=> X > 0)
#include "ops/ops.hpp"

namespace xgrad::ops {

Shape relu_shape(Shape a, Shape) { return a; }

template <class T>
void relu_forward(const Ctx<T>&, const M<T>& a, const M<T>*, M<T>& out) {
    const T* pa = a.data();
    T* po = out.data();
    for (std::size_t i = 0, n = a.size(); i < n; ++i) po[i] = pa[i] > T(0) ? pa[i] : T(0);
}

template <class T>
void relu_backward(const Ctx<T>&, const M<T>& a, const M<T>*, const M<T>& out, const M<T>& gout, M<T>* ga, M<T>*) {
    if (!ga) return;
    const T* py = out.data();
    const T* pg = gout.data();
    T* p = ga->data();
    for (std::size_t i = 0, n = a.size(); i < n; ++i)
        p[i] += py[i] > T(0) ? pg[i] : T(0);  // branch-free, so it vectorises
}

XGRAD_INSTANTIATE_OP(relu)

}  // namespace xgrad::ops
