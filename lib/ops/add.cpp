// add: Y = A + B            same shapes (e.g. a data loss plus a penalty)
//   dA += dY,  dB += dY
#include "ops/ops.hpp"

namespace xgrad::ops {

Shape add_shape(Shape a, Shape b) {
    if (a != b) shape_error("add", "shapes differ", a, b);
    return a;
}

template <class T>
void add_forward(const Ctx<T>&, const M<T>& a, const M<T>* b, M<T>& out) {
    const T* pa = a.data();
    const T* pb = b->data();
    T* po = out.data();
    for (std::size_t i = 0, n = a.size(); i < n; ++i) po[i] = pa[i] + pb[i];
}

template <class T>
void add_backward(const Ctx<T>&, const M<T>&, const M<T>*, const M<T>&, const M<T>& gout, M<T>* ga,
                  M<T>* gb) {
    const T* pg = gout.data();
    for (M<T>* g : {ga, gb}) {
        if (!g) continue;
        T* p = g->data();
        for (std::size_t i = 0, n = gout.size(); i < n; ++i) p[i] += pg[i];
    }
}

XGRAD_INSTANTIATE_OP(add)

}  // namespace xgrad::ops
