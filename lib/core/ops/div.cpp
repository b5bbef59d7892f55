// div: Y = A / B            numpy broadcasting in 2-D (ops/broadcast.hpp); IEEE: x/0 = ±inf, 0/0 = nan
//   dA += dY / B
//   dB -= dY · A / B²       each summed over the axes its operand was stretched along
#include "ops/broadcast.hpp"

namespace xgrad::ops {

const OpInfo div_info = binary_info(OpKind::div);

Shape div_shape(Shape a, Shape b, const Attr&) { return broadcast_shape("div", a, b); }

template <class T>
void div_forward(const Ctx<T>&, const M<T>& a, const M<T>* b, M<T>& out) {
    broadcast_forward(a, *b, out, [](T x, T y) { return x / y; });
}

template <class T>
void div_backward(const Ctx<T>&, const M<T>& a, const M<T>* b, const M<T>& out, const M<T>& gout, M<T>* ga,
                  M<T>* gb) {
    broadcast_backward(
        a, *b, out, gout, ga, gb, [](T, T y, T) { return T(1) / y; }, [](T x, T y, T) { return -x / (y * y); });
}

XGRAD_INSTANTIATE_OP(div)

}  // namespace xgrad::ops
