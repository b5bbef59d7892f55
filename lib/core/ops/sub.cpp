// sub: Y = A - B            numpy broadcasting in 2-D (ops/broadcast.hpp)
//   dA += dY,  dB -= dY     each summed over the axes its operand was stretched along
#include "ops/broadcast.hpp"

namespace xgrad::ops {

const OpInfo sub_info = binary_info(OpKind::sub);

Shape sub_shape(Shape a, Shape b, const Attr&) { return broadcast_shape("sub", a, b); }

template <class T>
void sub_forward(const Ctx<T>&, const M<T>& a, const M<T>* b, M<T>& out) {
    broadcast_forward(a, *b, out, [](T x, T y) { return x - y; });
}

template <class T>
void sub_backward(const Ctx<T>&, const M<T>& a, const M<T>* b, const M<T>& out, const M<T>& gout, M<T>* ga,
                  M<T>* gb) {
    broadcast_backward(a, *b, out, gout, ga, gb, [](T, T, T) { return T(1); }, [](T, T, T) { return T(-1); });
}

XGRAD_INSTANTIATE_OP(sub)

}  // namespace xgrad::ops
