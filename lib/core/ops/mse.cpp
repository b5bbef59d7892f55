// mse: L[1,1] = Σ (A - Y)² / N     A, Y [k,m], N = k · c entries (torch.nn.MSELoss(), mean)
//   dA += dL · 2 (A - Y) / N
//   dY -= dL · 2 (A - Y) / N        (only if the targets need a gradient)
#include "ops/ops.hpp"

namespace xgrad::ops {

const OpInfo mse_info = loss_info(OpKind::mse);

Shape mse_shape(Shape a, Shape b, const Attr&) {
    if (a != b) shape_error("mse", "predictions and targets differ in shape", a, b);
    return {1, 1};
}

template <class T>
void mse_forward(const Ctx<T>&, const M<T>& a, const M<T>* y, M<T>& out) {
    const std::size_t k = a.shape()[0], m = a.shape()[1], c = m;
    double s = 0;
    for (std::size_t r = 0; r < k; ++r)
        for (std::size_t j = 0; j < c; ++j) {
            const double d = double(a.data()[r * m + j]) - double(y->data()[r * m + j]);
            s += d * d;
        }
    out.data()[0] = T(s / double(k * c));
}

template <class T>
void mse_backward(const Ctx<T>&, const M<T>& a, const M<T>* y, const M<T>&, const M<T>& gout, M<T>* ga,
                  M<T>* gy) {
    const std::size_t k = a.shape()[0], m = a.shape()[1], c = m;
    const double scale = 2.0 * double(gout.data()[0]) / double(k * c);
    for (std::size_t r = 0; r < k; ++r)
        for (std::size_t j = 0; j < c; ++j) {
            const std::size_t i = r * m + j;
            const T g = T(scale * (double(a.data()[i]) - double(y->data()[i])));
            if (ga) ga->data()[i] += g;
            if (gy) gy->data()[i] -= g;
        }
}

XGRAD_INSTANTIATE_OP(mse)

}  // namespace xgrad::ops
