// slice: axis 0: Y = A[begin:end, :]   rows [begin, end) of A [m,n] -> [end-begin, n]   (`rows`)
//        axis 1: Y = A[:, begin:end]   columns [begin, end) -> [m, end-begin]           (`cols`)
//   dA[the slice] += dY, 0 elsewhere
#include <string>

#include "ops/ops.hpp"

namespace xgrad::ops {

const OpInfo slice_info = {OpKind::slice, 1, uses_axis | uses_range, nullptr, false};

Shape slice_shape(Shape a, Shape, const Attr& attr) {
    if (attr.axis != 0 && attr.axis != 1)
        throw UsageError("slice: axis " + std::to_string(attr.axis) + " is not 0 (rows) or 1 (columns)");
    const char* op = attr.axis == 0 ? "rows" : "cols";
    const std::size_t n = attr.axis == 0 ? a.rows : a.cols;
    if (!(attr.begin < attr.end && attr.end <= n))
        shape_error(op,
                    "[" + std::to_string(attr.begin) + ", " + std::to_string(attr.end) + ") is not a non-empty range within [0, " +
                        std::to_string(n) + ")",
                    a);
    return attr.axis == 0 ? Shape{attr.end - attr.begin, a.cols} : Shape{a.rows, attr.end - attr.begin};
}

template <class T>
void slice_forward(const Ctx<T>& cx, const M<T>& a, const M<T>*, M<T>& out) {
    const std::size_t n = a.shape()[1], ro = out.shape()[0], co = out.shape()[1];
    const std::size_t r0 = cx.attr.axis == 0 ? cx.attr.begin : 0, c0 = cx.attr.axis == 1 ? cx.attr.begin : 0;
    const T* pa = a.data();
    T* po = out.data();
    for (std::size_t i = 0; i < ro; ++i)
        for (std::size_t j = 0; j < co; ++j) po[i * co + j] = pa[(r0 + i) * n + c0 + j];
}

template <class T>
void slice_backward(const Ctx<T>& cx, const M<T>& a, const M<T>*, const M<T>& out, const M<T>& gout, M<T>* ga,
                    M<T>*) {
    if (!ga) return;
    const std::size_t n = a.shape()[1], ro = out.shape()[0], co = out.shape()[1];
    const std::size_t r0 = cx.attr.axis == 0 ? cx.attr.begin : 0, c0 = cx.attr.axis == 1 ? cx.attr.begin : 0;
    const T* pg = gout.data();
    T* p = ga->data();
    for (std::size_t i = 0; i < ro; ++i)
        for (std::size_t j = 0; j < co; ++j) p[(r0 + i) * n + c0 + j] += pg[i * co + j];
}

XGRAD_INSTANTIATE_OP(slice)

}  // namespace xgrad::ops
