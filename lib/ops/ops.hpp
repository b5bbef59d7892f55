#pragma once
// Internal interface of the ops. Every op is one file in lib/ops/ with three functions:
//   <op>_shape(a, b)                      the output shape, or a ShapeError naming the op and shapes
//   <op>_forward(cx, a, b, out)               out = f(a, b)      (b is null for unary ops)
//   <op>_backward(cx, a, b, out, gout, ga, gb) ga += df/da · gout, gb += df/db · gout; a null
//                                              ga/gb means that input needs no gradient
// cx is the tape's execution context (its thread pool and scratch). All buffers are preallocated
// by the tape; none of these functions allocates.

#include "xgrad/tensor.hpp"

namespace xgrad::detail {
class ThreadPool;
}

namespace xgrad::ops {

template <class T>
using M = Matrix<T>;

template <class T>
struct Ctx {
    detail::ThreadPool* pool = nullptr;  // null: run on the calling thread only
    T* scratch = nullptr;                // sized by the tape for its largest split gemm
    double attr = 0;                     // the node's scalar attribute (scale factor; a loss's
                                         // number of counted columns, 0 = all)
};

// The columns a loss averages over: the first `attr` (a padded last mini-batch), else all m.
inline std::size_t counted_columns(double attr, std::size_t m) {
    return attr > 0 && std::size_t(attr) < m ? std::size_t(attr) : m;
}

#define XGRAD_DECLARE_OP(name)                                                                  \
    Shape name##_shape(Shape a, Shape b);                                                       \
    template <class T>                                                                          \
    void name##_forward(const Ctx<T>& cx, const M<T>& a, const M<T>* b, M<T>& out);             \
    template <class T>                                                                          \
    void name##_backward(const Ctx<T>& cx, const M<T>& a, const M<T>* b, const M<T>& out,       \
                         const M<T>& gout, M<T>* ga, M<T>* gb);

XGRAD_DECLARE_OP(matmul)
XGRAD_DECLARE_OP(add_bias)
XGRAD_DECLARE_OP(relu)
XGRAD_DECLARE_OP(sigmoid)
XGRAD_DECLARE_OP(bce)
XGRAD_DECLARE_OP(sigmoid_bce)
XGRAD_DECLARE_OP(add)
XGRAD_DECLARE_OP(mul)
XGRAD_DECLARE_OP(tanh)
XGRAD_DECLARE_OP(scale)
XGRAD_DECLARE_OP(sum)
XGRAD_DECLARE_OP(mean)
XGRAD_DECLARE_OP(sq_norm)
XGRAD_DECLARE_OP(softmax)
XGRAD_DECLARE_OP(softmax_ce)

#undef XGRAD_DECLARE_OP

// Instantiates an op's forward and backward for float and double (used at the end of each op file).
#define XGRAD_INSTANTIATE_OP_T(name, T)                                                         \
    template void name##_forward<T>(const Ctx<T>&, const M<T>&, const M<T>*, M<T>&);            \
    template void name##_backward<T>(const Ctx<T>&, const M<T>&, const M<T>*, const M<T>&,      \
                                     const M<T>&, M<T>*, M<T>*);
#define XGRAD_INSTANTIATE_OP(name)     \
    XGRAD_INSTANTIATE_OP_T(name, float) \
    XGRAD_INSTANTIATE_OP_T(name, double)

// What the tape must provide for a matmul of these shapes with `threads` threads: whether it
// splits at all (then the tape needs a pool) and how many scratch elements it needs.
bool matmul_splits(Shape a, Shape b, int threads);
std::size_t matmul_scratch(Shape a, Shape b, int threads);

// Throws ShapeError "op: what: A is [..], B is [..]".
[[noreturn]] void shape_error(const char* op, const char* what, Shape a, Shape b);

}  // namespace xgrad::ops
