// bce: L[1,1] = -sum(Y log P + (1-Y) log(1-P)) / m     P, Y [k,m], m = columns (the seed's cost)
//   dP += dL · (-(Y/P) + (1-Y)/(1-P)) / m
//   dY += dL · (log(1-P) - log P) / m                  (only if the labels need a gradient)
// Gives log(0) = -inf once P saturates at 0 or 1; sigmoid_bce is the stable form.
#include <cmath>

#include "ops/ops.hpp"

namespace xgrad::ops {

Shape bce_shape(Shape a, Shape b) {
    if (a != b) shape_error("bce", "probabilities and labels differ in shape", a, b);
    return {1, 1};
}

template <class T>
void bce_forward(const Ctx<T>&, const M<T>& p, const M<T>* y, M<T>& out) {
    const T* pp = p.data();
    const T* py = y->data();
    double s = 0;
    for (std::size_t i = 0, n = p.size(); i < n; ++i)
        s += double(py[i]) * std::log(double(pp[i])) +
             (1.0 - double(py[i])) * std::log(1.0 - double(pp[i]));
    out.data()[0] = T(-s / double(p.shape()[1]));
}

template <class T>
void bce_backward(const Ctx<T>&, const M<T>& p, const M<T>* y, const M<T>&, const M<T>& gout, M<T>* gp,
                  M<T>* gy) {
    const T scale = gout.data()[0] / T(p.shape()[1]);
    const T* pp = p.data();
    const T* py = y->data();
    const std::size_t n = p.size();
    if (gp) {
        T* g = gp->data();
        for (std::size_t i = 0; i < n; ++i)
            g[i] += (-(py[i] / pp[i]) + (T(1) - py[i]) / (T(1) - pp[i])) * scale;
    }
    if (gy) {
        T* g = gy->data();
        for (std::size_t i = 0; i < n; ++i)
            g[i] += (std::log(T(1) - pp[i]) - std::log(pp[i])) * scale;
    }
}

XGRAD_INSTANTIATE_OP(bce)

}  // namespace xgrad::ops
