#pragma once
// numpy's broadcasting restricted to 2-D, shared by the elementwise binary ops (add, sub, mul,
// div): along each axis the two sizes are equal or one of them is 1, which stretches. The backward
// of a stretched operand is a reduction: every output entry adds into the one input entry it read,
// so the gradient is summed over the stretched axes (PyTorch's sum_to_size, flashlight's sumAs).
// Same-shape operands take a plain contiguous loop.
#include "ops/ops.hpp"

namespace xgrad::ops {

// The output shape of a broadcast op, or a ShapeError "op: shapes do not broadcast: A is .., B is ..".
Shape broadcast_shape(const char* op, Shape a, Shape b);

// Flat index of the entry of an operand of shape s that output entry (i, j) reads.
struct Stride {
    std::size_t row, col;  // 0 along a stretched axis
    explicit Stride(Shape s) : row(s.rows == 1 ? 0 : s.cols), col(s.cols == 1 ? 0 : 1) {}
    std::size_t at(std::size_t i, std::size_t j) const { return i * row + j * col; }
};

// Calls f(ia, ib, io) for every output entry io with the flat indices of the entries of a and b it
// reads.
template <class T, class F>
void broadcast_each(const M<T>& a, const M<T>& b, const M<T>& out, F f) {
    const Shape so = shape_of(out);
    if (shape_of(a) == so && shape_of(b) == so) {
        for (std::size_t k = 0, n = out.size(); k < n; ++k) f(k, k, k);
        return;
    }
    const Stride sa(shape_of(a)), sb(shape_of(b));
    for (std::size_t i = 0; i < so.rows; ++i)
        for (std::size_t j = 0; j < so.cols; ++j) f(sa.at(i, j), sb.at(i, j), i * so.cols + j);
}

// out = f(a, b) entrywise with broadcasting.
template <class T, class F>
void broadcast_forward(const M<T>& a, const M<T>& b, M<T>& out, F f) {
    const T* pa = a.data();
    const T* pb = b.data();
    T* po = out.data();
    broadcast_each(a, b, out, [&](std::size_t ia, std::size_t ib, std::size_t io) { po[io] = f(pa[ia], pb[ib]); });
}

// ga += Σ_stretched da(a, b, y) · gout and gb += Σ_stretched db(a, b, y) · gout (each when non-null).
template <class T, class DA, class DB>
void broadcast_backward(const M<T>& a, const M<T>& b, const M<T>& out, const M<T>& gout, M<T>* ga,
                        M<T>* gb, DA da, DB db) {
    const T* pa = a.data();
    const T* pb = b.data();
    const T* py = out.data();
    const T* pg = gout.data();
    if (ga) {
        T* g = ga->data();
        broadcast_each(a, b, out, [&](std::size_t ia, std::size_t ib, std::size_t io) {
            g[ia] += da(pa[ia], pb[ib], py[io]) * pg[io];
        });
    }
    if (gb) {
        T* g = gb->data();
        broadcast_each(a, b, out, [&](std::size_t ia, std::size_t ib, std::size_t io) {
            g[ib] += db(pa[ia], pb[ib], py[io]) * pg[io];
        });
    }
}

}  // namespace xgrad::ops
