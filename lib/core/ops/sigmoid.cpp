// sigmoid: Y = 1 / (1 + exp(-X))   any shape (the seed's formula; exp overflow gives exactly 0)
//   dX += dY · Y · (1 - Y)          (uses the saved output)
#include "ops/ops.hpp"
#include "vmath.hpp"

namespace xgrad::ops {

const OpInfo sigmoid_info = unary_info(OpKind::sigmoid);

Shape sigmoid_shape(Shape a, Shape, const Attr&) { return a; }

template <class T>
void sigmoid_forward(const Ctx<T>&, const M<T>& a, const M<T>*, M<T>& out) {
    vmath::sigmoid(a.data(), out.data(), a.size());
}

template <class T>
void sigmoid_backward(const Ctx<T>&, const M<T>& a, const M<T>*, const M<T>& out, const M<T>& gout, M<T>* ga,
                      M<T>*) {
    if (!ga) return;
    const T* py = out.data();
    const T* pg = gout.data();
    T* p = ga->data();
    for (std::size_t i = 0, n = a.size(); i < n; ++i) p[i] += pg[i] * py[i] * (T(1) - py[i]);
}

XGRAD_INSTANTIATE_OP(sigmoid)

}  // namespace xgrad::ops
