// sigmoid_bce: L[1,1] = bce(sigmoid(Z), Y), from logits Z, Y [k,m], m = columns.
//   per entry: max(z,0) - z·y + log1p(exp(-|z|))    (finite for every finite z)
//   dZ += dL · (sigmoid(z) - y) / m
//   dY += dL · (-z) / m                              (only if the labels need a gradient)
#include <cmath>

#include "ops/ops.hpp"

namespace xgrad::ops {

namespace {
// log1p(e) for e in [0, 1], as accurate as std::log1p (within an ulp or two) but through the faster
// std::log: with u = 1 + e rounded, log(u) is exact for the number u, and the rounding error of u,
// (u - 1) - e, is corrected to first order (Goldberg's trick). e = 0 gives u = 1 and 0 exactly.
inline double log1p_small(double e) {
    const double u = 1.0 + e;
    return u == 1.0 ? e : std::log(u) * (e / (u - 1.0));
}
}  // namespace

Shape sigmoid_bce_shape(Shape a, Shape b) {
    if (a != b) shape_error("sigmoid_bce", "logits and labels differ in shape", a, b);
    return {1, 1};
}

template <class T>
void sigmoid_bce_forward(const Ctx<T>&, const M<T>& z, const M<T>* y, M<T>& out) {
    const T* pz = z.data();
    const T* py = y->data();
    double s = 0;
    for (std::size_t i = 0, n = z.size(); i < n; ++i) {
        const double zi = pz[i];
        s += (zi > 0 ? zi : 0.0) - zi * double(py[i]) + log1p_small(std::exp(-std::fabs(zi)));
    }
    out.data()[0] = T(s / double(z.shape()[1]));
}

template <class T>
void sigmoid_bce_backward(const Ctx<T>&, const M<T>& z, const M<T>* y, const M<T>&, const M<T>& gout, M<T>* gz,
                          M<T>* gy) {
    const T scale = gout.data()[0] / T(z.shape()[1]);
    const T* pz = z.data();
    const T* py = y->data();
    const std::size_t n = z.size();
    if (gz) {
        T* g = gz->data();
        for (std::size_t i = 0; i < n; ++i) {
            // the stable sigmoid: never exp of a large positive number
            const T e = std::exp(-std::fabs(pz[i]));
            const T num = pz[i] >= 0 ? T(1) : e;  // a select, not a branch on the sign
            const T s = num / (T(1) + e);
            g[i] += (s - py[i]) * scale;
        }
    }
    if (gy) {
        T* g = gy->data();
        for (std::size_t i = 0; i < n; ++i) g[i] -= pz[i] * scale;
    }
}

XGRAD_INSTANTIATE_OP(sigmoid_bce)

}  // namespace xgrad::ops
