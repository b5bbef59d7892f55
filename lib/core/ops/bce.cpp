// bce: L[1,1] = -sum(Y log P + (1-Y) log(1-P)) / m     P, Y [k,m], m = columns (the seed's cost)
//   dP += dL · (-(Y/P) + (1-Y)/(1-P)) / m
//   dY += dL · (log(1-P) - log P) / m                  (only if the labels need a gradient)
// Gives log(0) = -inf once P saturates at 0 or 1; sigmoid_bce is the stable form.
#include <cmath>

#include "ops/ops.hpp"

namespace xgrad::ops {

const OpInfo bce_info = loss_info(OpKind::bce);

Shape bce_shape(Shape a, Shape b, const Attr&) {
    if (a != b) shape_error("bce", "probabilities and labels differ in shape", a, b);
    return {1, 1};
}

template <class T>
void bce_forward(const Ctx<T>&, const M<T>& p, const M<T>* y, M<T>& out) {
    const std::size_t k = p.shape()[0], m = p.shape()[1], c = m;
    double s = 0;
    for (std::size_t r = 0; r < k; ++r) {
        const T* pp = p.data() + r * m;
        const T* py = y->data() + r * m;
        for (std::size_t j = 0; j < c; ++j)
            s += double(py[j]) * std::log(double(pp[j])) +
                 (1.0 - double(py[j])) * std::log(1.0 - double(pp[j]));
    }
    out.data()[0] = T(-s / double(c));
}

template <class T>
void bce_backward(const Ctx<T>&, const M<T>& p, const M<T>* y, const M<T>&, const M<T>& gout, M<T>* gp,
                  M<T>* gy) {
    const std::size_t k = p.shape()[0], m = p.shape()[1], c = m;
    const T scale = gout.data()[0] / T(c);
    for (std::size_t r = 0; r < k; ++r) {
        const T* pp = p.data() + r * m;
        const T* py = y->data() + r * m;
        if (gp) {
            T* g = gp->data() + r * m;
            for (std::size_t j = 0; j < c; ++j)
                g[j] += (-(py[j] / pp[j]) + (T(1) - py[j]) / (T(1) - pp[j])) * scale;
        }
        if (gy) {
            T* g = gy->data() + r * m;
            for (std::size_t j = 0; j < c; ++j) g[j] += (std::log(T(1) - pp[j]) - std::log(pp[j])) * scale;
        }
    }
}

XGRAD_INSTANTIATE_OP(bce)

}  // namespace xgrad::ops
