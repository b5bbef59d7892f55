// sq_norm: Y = Σ A² -> [1,1]   (the squared Frobenius norm, for L2 penalties; accumulated in double)
//   dA += 2 A · dY
#include "ops/ops.hpp"

namespace xgrad::ops {

const OpInfo sq_norm_info = unary_info(OpKind::sq_norm);

Shape sq_norm_shape(Shape, Shape, const Attr&) { return {1, 1}; }

template <class T>
void sq_norm_forward(const Ctx<T>&, const M<T>& a, const M<T>*, M<T>& out) {
    double s = 0;
    for (std::size_t i = 0, n = a.size(); i < n; ++i) s += double(a.data()[i]) * double(a.data()[i]);
    out.data()[0] = T(s);
}

template <class T>
void sq_norm_backward(const Ctx<T>&, const M<T>& a, const M<T>*, const M<T>&, const M<T>& gout, M<T>* ga,
                      M<T>*) {
    if (!ga) return;
    const T c = T(2) * gout.data()[0];
    const T* pa = a.data();
    T* p = ga->data();
    for (std::size_t i = 0, n = a.size(); i < n; ++i) p[i] += c * pa[i];
}

XGRAD_INSTANTIATE_OP(sq_norm)

}  // namespace xgrad::ops
