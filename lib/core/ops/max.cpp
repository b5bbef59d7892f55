// max: Y = max A over every entry -> [1,1] (axis -1), over the rows -> [1,n] (axis 0) or over the
//      columns -> [m,1] (axis 1). A NaN in a group is its maximum (numpy's max).
//   dA[k] += dY for the first entry k of each group equal to its maximum (numpy's argmax order:
//   row-major), 0 for the others
#include <cmath>

#include "ops/reduce.hpp"

namespace xgrad::ops {

const OpInfo max_info = {OpKind::max, 1, uses_axis, nullptr, true};

Shape max_shape(Shape a, Shape, const Attr& attr) { return reduce_shape("max", a, attr); }

namespace {
template <class T>
bool greater(T v, T best) {
    return v > best || (std::isnan(v) && !std::isnan(best));
}
}  // namespace

template <class T>
void max_forward(const Ctx<T>& cx, const M<T>& a, const M<T>*, M<T>& out) {
    const std::size_t m = a.shape()[0], n = a.shape()[1];
    const ReduceIndex r{cx.attr.axis};
    const T* pa = a.data();
    T* po = out.data();
    // the first entry of each group seeds it: row 0 (axis 0), column 0 (axis 1), entry 0 (all)
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            const bool first = cx.attr.axis < 0 ? i == 0 && j == 0 : cx.attr.axis == 0 ? i == 0 : j == 0;
            T& best = po[r.at(i, j)];
            if (first || greater(pa[i * n + j], best)) best = pa[i * n + j];
        }
}

template <class T>
void max_backward(const Ctx<T>& cx, const M<T>& a, const M<T>*, const M<T>& out, const M<T>& gout, M<T>* ga,
                  M<T>*) {
    if (!ga) return;
    const std::size_t n = a.shape()[1];
    const T* pa = a.data();
    const T* py = out.data();
    const T* pg = gout.data();
    T* p = ga->data();
    // Each group's gradient goes to its first maximum: walk the groups' entries in order and give
    // it to the first that equals the maximum (NaN matches a NaN maximum).
    const std::size_t groups = out.size();
    const std::size_t per = reduce_count(shape_of(a), cx.attr.axis);
    for (std::size_t g = 0; g < groups; ++g) {
        const T y = py[g];
        for (std::size_t k = 0; k < per; ++k) {
            // entry k of group g, in row-major order within the group
            const std::size_t i = cx.attr.axis < 0 ? k / n : cx.attr.axis == 0 ? k : g;
            const std::size_t j = cx.attr.axis < 0 ? k % n : cx.attr.axis == 0 ? g : k;
            const T v = pa[i * n + j];
            if (v == y || (std::isnan(y) && std::isnan(v))) {
                p[i * n + j] += pg[g];
                break;
            }
        }
    }
}

XGRAD_INSTANTIATE_OP(max)

}  // namespace xgrad::ops
