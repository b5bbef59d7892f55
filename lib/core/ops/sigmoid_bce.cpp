// sigmoid_bce: L[1,1] = bce(sigmoid(Z), Y), from logits Z, Y [k,m], m = columns.
//   per entry: max(z,0) - z·y + log1p(exp(-|z|))    (finite for every finite z)
//   dZ += dL · (sigmoid(z) - y) / m
//   dY += dL · (-z) / m                              (only if the labels need a gradient)
#include "ops/ops.hpp"
#include "vmath.hpp"

namespace xgrad::ops {

const OpInfo sigmoid_bce_info = loss_info(OpKind::sigmoid_bce);

Shape sigmoid_bce_shape(Shape a, Shape b, const Attr&) {
    if (a != b) shape_error("sigmoid_bce", "logits and labels differ in shape", a, b);
    return {1, 1};
}

template <class T>
void sigmoid_bce_forward(const Ctx<T>&, const M<T>& z, const M<T>* y, M<T>& out) {
    const std::size_t k = z.shape()[0], m = z.shape()[1], c = m;
    double s = 0;
    for (std::size_t r = 0; r < k; ++r) s += vmath::bce_sum(z.data() + r * m, y->data() + r * m, c);
    out.data()[0] = T(s / double(c));
}

template <class T>
void sigmoid_bce_backward(const Ctx<T>&, const M<T>& z, const M<T>* y, const M<T>&, const M<T>& gout,
                          M<T>* gz, M<T>* gy) {
    const std::size_t k = z.shape()[0], m = z.shape()[1], c = m;
    const T scale = gout.data()[0] / T(c);
    for (std::size_t r = 0; r < k; ++r) {
        const T* pz = z.data() + r * m;
        const T* py = y->data() + r * m;
        if (gz) vmath::bce_grad(pz, py, scale, gz->data() + r * m, c);
        if (gy) {
            T* g = gy->data() + r * m;
            for (std::size_t j = 0; j < c; ++j) g[j] -= pz[j] * scale;
        }
    }
}

XGRAD_INSTANTIATE_OP(sigmoid_bce)

}  // namespace xgrad::ops
