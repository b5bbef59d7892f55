// mul: Y = A ⊙ B            elementwise, same shapes (e.g. an activation times a dropout mask)
//   dA += dY ⊙ B,  dB += dY ⊙ A
#include "ops/ops.hpp"

namespace xgrad::ops {

Shape mul_shape(Shape a, Shape b) {
    if (a != b) shape_error("mul", "shapes differ", a, b);
    return a;
}

template <class T>
void mul_forward(const Ctx<T>&, const M<T>& a, const M<T>* b, M<T>& out) {
    const T* pa = a.data();
    const T* pb = b->data();
    T* po = out.data();
    for (std::size_t i = 0, n = a.size(); i < n; ++i) po[i] = pa[i] * pb[i];
}

template <class T>
void mul_backward(const Ctx<T>&, const M<T>& a, const M<T>* b, const M<T>&, const M<T>& gout, M<T>* ga,
                  M<T>* gb) {
    const T* pg = gout.data();
    const std::size_t n = gout.size();
    if (ga) {
        T* p = ga->data();
        const T* pb = b->data();
        for (std::size_t i = 0; i < n; ++i) p[i] += pg[i] * pb[i];
    }
    if (gb) {
        T* p = gb->data();
        const T* pa = a.data();
        for (std::size_t i = 0; i < n; ++i) p[i] += pg[i] * pa[i];
    }
}

XGRAD_INSTANTIATE_OP(mul)

}  // namespace xgrad::ops
