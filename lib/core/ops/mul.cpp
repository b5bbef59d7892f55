// mul: Y = A ⊙ B            elementwise, numpy broadcasting in 2-D (e.g. an activation times a
//                           dropout mask, or a column of weights times every column)
//   dA += dY ⊙ B,  dB += dY ⊙ A     each summed over the axes its operand was stretched along
#include "ops/broadcast.hpp"

namespace xgrad::ops {

const OpInfo mul_info = binary_info(OpKind::mul);

Shape mul_shape(Shape a, Shape b, const Attr&) { return broadcast_shape("mul", a, b); }

template <class T>
void mul_forward(const Ctx<T>&, const M<T>& a, const M<T>* b, M<T>& out) {
    broadcast_forward(a, *b, out, [](T x, T y) { return x * y; });
}

template <class T>
void mul_backward(const Ctx<T>&, const M<T>& a, const M<T>* b, const M<T>& out, const M<T>& gout, M<T>* ga,
                  M<T>* gb) {
    broadcast_backward(a, *b, out, gout, ga, gb, [](T, T y, T) { return y; }, [](T x, T, T) { return x; });
}

XGRAD_INSTANTIATE_OP(mul)

}  // namespace xgrad::ops
