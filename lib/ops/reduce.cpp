// The reductions to a scalar [1,1], accumulated in double:
//   sum:     Y = Σ x          dX += dY
//   mean:    Y = Σ x / n      dX += dY / n
//   sq_norm: Y = Σ x²         dX += 2 x · dY      (the squared Frobenius norm, for L2 penalties)
#include "ops/ops.hpp"

namespace xgrad::ops {

Shape sum_shape(Shape, Shape) { return {1, 1}; }
Shape mean_shape(Shape, Shape) { return {1, 1}; }
Shape sq_norm_shape(Shape, Shape) { return {1, 1}; }

namespace {
template <class T>
double total(const M<T>& a) {
    double s = 0;
    for (std::size_t i = 0, n = a.size(); i < n; ++i) s += double(a.data()[i]);
    return s;
}
template <class T>
void add_constant(M<T>* g, T c) {
    T* p = g->data();
    for (std::size_t i = 0, n = g->size(); i < n; ++i) p[i] += c;
}
}  // namespace

template <class T>
void sum_forward(const Ctx<T>&, const M<T>& a, const M<T>*, M<T>& out) {
    out.data()[0] = T(total(a));
}
template <class T>
void sum_backward(const Ctx<T>&, const M<T>&, const M<T>*, const M<T>&, const M<T>& gout, M<T>* ga, M<T>*) {
    if (ga) add_constant(ga, gout.data()[0]);
}

template <class T>
void mean_forward(const Ctx<T>&, const M<T>& a, const M<T>*, M<T>& out) {
    out.data()[0] = T(total(a) / double(a.size()));
}
template <class T>
void mean_backward(const Ctx<T>&, const M<T>& a, const M<T>*, const M<T>&, const M<T>& gout, M<T>* ga,
                   M<T>*) {
    if (ga) add_constant(ga, T(double(gout.data()[0]) / double(a.size())));
}

template <class T>
void sq_norm_forward(const Ctx<T>&, const M<T>& a, const M<T>*, M<T>& out) {
    double s = 0;
    for (std::size_t i = 0, n = a.size(); i < n; ++i) s += double(a.data()[i]) * double(a.data()[i]);
    out.data()[0] = T(s);
}
template <class T>
void sq_norm_backward(const Ctx<T>&, const M<T>& a, const M<T>*, const M<T>&, const M<T>& gout, M<T>* ga,
                      M<T>*) {
    if (!ga) return;
    const T c = T(2) * gout.data()[0];
    const T* pa = a.data();
    T* p = ga->data();
    for (std::size_t i = 0, n = a.size(); i < n; ++i) p[i] += c * pa[i];
}

XGRAD_INSTANTIATE_OP(sum)
XGRAD_INSTANTIATE_OP(mean)
XGRAD_INSTANTIATE_OP(sq_norm)

}  // namespace xgrad::ops
