// sigmoid_bce: L[1,1] = bce(sigmoid(Z), Y), from logits Z, Y [k,m], m = columns.
//   per entry: max(z,0) - z·y + log1p(exp(-|z|))    (finite for every finite z)
//   dZ += dL · (sigmoid(z) - y) / m
//   dY += dL · (-z) / m                              (only if the labels need a gradient)
//   m = the counted columns: all, or the first m of a padded last mini-batch (the rest get 0)
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
void sigmoid_bce_forward(const Ctx<T>& cx, const M<T>& z, const M<T>* y, M<T>& out) {
    const std::size_t k = z.shape()[0], m = z.shape()[1], c = counted_columns(cx.attr, m);
    double s = 0;
    for (std::size_t r = 0; r < k; ++r) {
        const T* pz = z.data() + r * m;
        const T* py = y->data() + r * m;
        for (std::size_t j = 0; j < c; ++j) {
            const double zj = pz[j];
            s += (zj > 0 ? zj : 0.0) - zj * double(py[j]) + log1p_small(std::exp(-std::fabs(zj)));
        }
    }
    out.data()[0] = T(s / double(c));
}

template <class T>
void sigmoid_bce_backward(const Ctx<T>& cx, const M<T>& z, const M<T>* y, const M<T>&, const M<T>& gout,
                          M<T>* gz, M<T>* gy) {
    const std::size_t k = z.shape()[0], m = z.shape()[1], c = counted_columns(cx.attr, m);
    const T scale = gout.data()[0] / T(c);
    for (std::size_t r = 0; r < k; ++r) {
        const T* pz = z.data() + r * m;
        const T* py = y->data() + r * m;
        if (gz) {
            T* g = gz->data() + r * m;
            for (std::size_t j = 0; j < c; ++j) {
                // the stable sigmoid: never exp of a large positive number
                const T e = std::exp(-std::fabs(pz[j]));
                const T num = pz[j] >= 0 ? T(1) : e;  // a select, not a branch on the sign
                g[j] += (num / (T(1) + e) - py[j]) * scale;
            }
        }
        if (gy) {
            T* g = gy->data() + r * m;
            for (std::size_t j = 0; j < c; ++j) g[j] -= pz[j] * scale;
        }
    }
}

XGRAD_INSTANTIATE_OP(sigmoid_bce)

}  // namespace xgrad::ops
