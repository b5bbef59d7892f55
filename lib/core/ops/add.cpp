// add: Y = A + B            numpy broadcasting in 2-D (ops/broadcast.hpp)
//   dA += dY,  dB += dY     each summed over the axes its operand was stretched along
#include "ops/broadcast.hpp"

namespace xgrad::ops {

const OpInfo add_info = binary_info(OpKind::add);

Shape add_shape(Shape a, Shape b, const Attr&) { return broadcast_shape("add", a, b); }

template <class T>
void add_forward(const Ctx<T>&, const M<T>& a, const M<T>* b, M<T>& out) {
    broadcast_forward(a, *b, out, [](T x, T y) { return x + y; });
}

template <class T>
void add_backward(const Ctx<T>&, const M<T>& a, const M<T>* b, const M<T>& out, const M<T>& gout, M<T>* ga,
                  M<T>* gb) {
    const auto one = [](T, T, T) { return T(1); };
    broadcast_backward(a, *b, out, gout, ga, gb, one, one);
}

XGRAD_INSTANTIATE_OP(add)

}  // namespace xgrad::ops
