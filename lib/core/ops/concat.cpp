// concat: axis 0: Y = [A; B]  A [m1,n], B [m2,n] -> [m1+m2,n]  (B's rows below A's)
//         axis 1: Y = [A, B]  A [m,n1], B [m,n2] -> [m,n1+n2]  (B's columns right of A's)
//   dA += the part of dY that A filled, dB += the part B filled
#include <string>

#include "ops/ops.hpp"

namespace xgrad::ops {

const OpInfo concat_info = {OpKind::concat, 2, uses_axis, nullptr, false};

Shape concat_shape(Shape a, Shape b, const Attr& attr) {
    if (attr.axis == 0) {
        if (a.cols != b.cols) shape_error("concat", "axis 0 needs equal numbers of columns", a, b);
        return {a.rows + b.rows, a.cols};
    }
    if (attr.axis == 1) {
        if (a.rows != b.rows) shape_error("concat", "axis 1 needs equal numbers of rows", a, b);
        return {a.rows, a.cols + b.cols};
    }
    throw UsageError("concat: axis " + std::to_string(attr.axis) + " is not 0 (rows) or 1 (columns)");
}

namespace {
// Calls f(row of Y, row of A or B, its length, offset in Y's row) for every contiguous run.
template <class T, class F>
void runs(const Attr& attr, const M<T>& a, const M<T>& b, std::size_t ycols, F f) {
    const std::size_t ma = a.shape()[0], na = a.shape()[1], mb = b.shape()[0], nb = b.shape()[1];
    if (attr.axis == 0) {
        f(std::size_t(0), &a, std::size_t(0), ma * na);
        f(ma * na, &b, std::size_t(0), mb * nb);
        return;
    }
    for (std::size_t i = 0; i < ma; ++i) {
        f(i * ycols, &a, i * na, na);
        f(i * ycols + na, &b, i * nb, nb);
    }
}
}  // namespace

template <class T>
void concat_forward(const Ctx<T>& cx, const M<T>& a, const M<T>* b, M<T>& out) {
    T* po = out.data();
    runs(cx.attr, a, *b, out.shape()[1], [&](std::size_t yo, const M<T>* src, std::size_t so, std::size_t len) {
        const T* ps = src->data() + so;
        for (std::size_t k = 0; k < len; ++k) po[yo + k] = ps[k];
    });
}

template <class T>
void concat_backward(const Ctx<T>& cx, const M<T>& a, const M<T>* b, const M<T>&, const M<T>& gout, M<T>* ga,
                     M<T>* gb) {
    const T* pg = gout.data();
    runs(cx.attr, a, *b, gout.shape()[1], [&](std::size_t yo, const M<T>* src, std::size_t so, std::size_t len) {
        M<T>* g = src == &a ? ga : gb;
        if (!g) return;
        T* p = g->data() + so;
        for (std::size_t k = 0; k < len; ++k) p[k] += pg[yo + k];
    });
}

XGRAD_INSTANTIATE_OP(concat)

}  // namespace xgrad::ops
