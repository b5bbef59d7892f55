#pragma once
// Internal interface of the ops. Every op is one file in lib/ops/ with three functions:
//   <op>_shape(a, b)                      the output shape, or a ShapeError naming the op and shapes
//   <op>_forward(a, b, out)               out = f(a, b)          (b is null for unary ops)
//   <op>_backward(a, b, out, gout, ga, gb) ga += df/da · gout, gb += df/db · gout; a null ga/gb means
//                                          that input needs no gradient and nothing is computed for it
// All buffers are preallocated by the tape; none of these functions allocates.

#include "xgrad/tensor.hpp"

namespace xgrad::ops {

template <class T>
using M = Matrix<T>;

#define XGRAD_DECLARE_OP(name)                                                                  \
    Shape name##_shape(Shape a, Shape b);                                                       \
    template <class T>                                                                          \
    void name##_forward(const M<T>& a, const M<T>* b, M<T>& out);                               \
    template <class T>                                                                          \
    void name##_backward(const M<T>& a, const M<T>* b, const M<T>& out, const M<T>& gout,       \
                         M<T>* ga, M<T>* gb);

XGRAD_DECLARE_OP(matmul)
XGRAD_DECLARE_OP(add_bias)
XGRAD_DECLARE_OP(relu)
XGRAD_DECLARE_OP(sigmoid)
XGRAD_DECLARE_OP(bce)
XGRAD_DECLARE_OP(sigmoid_bce)

#undef XGRAD_DECLARE_OP

// Instantiates an op's forward and backward for float and double (used at the end of each op file).
#define XGRAD_INSTANTIATE_OP(name)                                                              \
    template void name##_forward<float>(const M<float>&, const M<float>*, M<float>&);           \
    template void name##_forward<double>(const M<double>&, const M<double>*, M<double>&);       \
    template void name##_backward<float>(const M<float>&, const M<float>*, const M<float>&,     \
                                         const M<float>&, M<float>*, M<float>*);                \
    template void name##_backward<double>(const M<double>&, const M<double>*, const M<double>&, \
                                          const M<double>&, M<double>*, M<double>*);

// Throws ShapeError "op: what: A is [..], B is [..]".
[[noreturn]] void shape_error(const char* op, const char* what, Shape a, Shape b);

}  // namespace xgrad::ops
