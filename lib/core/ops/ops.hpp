#pragma once
// Internal interface of the ops. Every built-in op is one file, lib/core/ops/<name>.cpp, with its line
// in the op table (include/xgrad/core/op_list.hpp) and these four definitions:
//   <op>_info                                  what the tape needs to know (OpInfo below)
//   <op>_shape(a, b, attr)                     the output shape, or a ShapeError naming the op
//   <op>_forward(cx, a, b, out)                out = f(a, b)      (b is null for unary ops)
//   <op>_backward(cx, a, b, out, gout, ga, gb) ga += df/da · gout, gb += df/db · gout; a null
//                                              ga/gb means that input needs no gradient
// cx is the tape's execution context (its thread pool and scratch) and the node's attribute. All
// buffers are preallocated by the tape; none of these functions allocates. The tape knows no op by
// name: what it does differently for one (a pool and scratch for large products, which attribute
// fields to print) is in the op's OpInfo.

#include "xgrad/core/tape.hpp"

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
    Attr attr;                           // the node's attribute
};

// What a recorded op needs from the tape beyond its output buffer.
struct Needs {
    bool pool = false;        // a thread pool (the op splits its work)
    std::size_t scratch = 0;  // scratch elements
};

// Which attribute fields an op uses (printed by Tape::print and to_dot).
enum AttrUse : unsigned { uses_none = 0, uses_scalar = 1, uses_axis = 2, uses_range = 4 };

struct OpInfo {
    OpKind kind;             // the op's own kind: an op file without a table line does not compile
    int arity;               // 1 or 2 inputs
    unsigned attrs;          // AttrUse bits
    // With threads `threads`, what a node of these input shapes needs (null: nothing).
    Needs (*needs)(Shape a, Shape b, const Attr& attr, int threads);
    // An op whose first input's gradient at some inputs is a one-sided choice (relu, abs, max):
    // finite differences across such a point are not comparable (the gradient check detects them).
    bool kinks;
};

#define XGRAD_DECLARE_OP(name, api)                                                             \
    extern const OpInfo name##_info;                                                            \
    Shape name##_shape(Shape a, Shape b, const Attr& attr);                                     \
    template <class T>                                                                          \
    void name##_forward(const Ctx<T>& cx, const M<T>& a, const M<T>* b, M<T>& out);             \
    template <class T>                                                                          \
    void name##_backward(const Ctx<T>& cx, const M<T>& a, const M<T>* b, const M<T>& out,       \
                         const M<T>& gout, M<T>* ga, M<T>* gb);

XGRAD_OPS(XGRAD_DECLARE_OP)

#undef XGRAD_DECLARE_OP

// Instantiates an op's forward and backward for float and double (used at the end of each op file).
#define XGRAD_INSTANTIATE_OP_T(name, T)                                                         \
    template void name##_forward<T>(const Ctx<T>&, const M<T>&, const M<T>*, M<T>&);            \
    template void name##_backward<T>(const Ctx<T>&, const M<T>&, const M<T>*, const M<T>&,      \
                                     const M<T>&, M<T>*, M<T>*);
#define XGRAD_INSTANTIATE_OP(name)     \
    XGRAD_INSTANTIATE_OP_T(name, float) \
    XGRAD_INSTANTIATE_OP_T(name, double)

// The OpInfo of an op (every op but the leaves; UsageError for those).
const OpInfo& info(OpKind op);

// Throws ShapeError "op: what: A is [..], B is [..]".
[[noreturn]] void shape_error(const char* op, const char* what, Shape a, Shape b);
// Throws ShapeError "op: what: A is [..]" (unary ops).
[[noreturn]] void shape_error(const char* op, const std::string& what, Shape a);

// OpInfo of the common kinds of op.
constexpr OpInfo unary_info(OpKind k, bool kinks = false) { return {k, 1, uses_none, nullptr, kinks}; }
constexpr OpInfo binary_info(OpKind k) { return {k, 2, uses_none, nullptr, false}; }
constexpr OpInfo loss_info(OpKind k) { return {k, 2, uses_none, nullptr, false}; }

// The output of a unary elementwise op: its input's shape.
inline Shape same_shape(Shape a, Shape, const Attr&) { return a; }

// out[i] = f(a[i]) over every entry.
template <class T, class F>
void map(const M<T>& a, M<T>& out, F f) {
    const T* pa = a.data();
    T* po = out.data();
    for (std::size_t i = 0, n = a.size(); i < n; ++i) po[i] = f(pa[i]);
}

// ga[i] += df(a[i], out[i]) · gout[i] over every entry (nothing when ga is null).
template <class T, class F>
void map_grad(const M<T>& a, const M<T>& out, const M<T>& gout, M<T>* ga, F df) {
    if (!ga) return;
    const T* pa = a.data();
    const T* py = out.data();
    const T* pg = gout.data();
    T* p = ga->data();
    for (std::size_t i = 0, n = a.size(); i < n; ++i) p[i] += df(pa[i], py[i]) * pg[i];
}

}  // namespace xgrad::ops
