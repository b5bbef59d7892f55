#pragma once
// Expressions on Vars: operators and functions in namespace xgrad, found by argument-dependent
// lookup, each recording one op (or two) on the operands' tape:
//
//     auto loss = mean(square(sigmoid(matmul(W, x) + b) - y)) + 0.01 * sum(square(W));
//
// Shapes: every tensor is 2-D, examples are columns. `+ - * /` are elementwise with numpy's
// broadcasting restricted to 2-D: an operand of shape [1,1], [n,1] or [1,m] stretches to the
// other's shape (on either side), and its gradient is summed back over the stretched axes; any
// other pair of different shapes is a ShapeError naming both. A scalar (any arithmetic type) may
// stand on either side: `2.0 * x`, `1.0 - p`, `x / 3.0`. Operands from two different tapes are a
// UsageError naming both.
//
// Gradients at the edges follow IEEE and PyTorch: d log a = 1/a (inf at 0), d √a = 1/(2√a) (inf at
// 0), a^p with non-integer p at a < 0 is NaN with a NaN gradient, x/0 is ±inf (0/0 NaN);
// d|a| = sign(a) with sign(0) = 0, relu'(0) = 0.
#include <type_traits>

#include "xgrad/core/tape.hpp"

namespace xgrad {

namespace detail {
template <class S>
using if_scalar = std::enable_if_t<std::is_arithmetic_v<S>, int>;
inline Attr scalar_attr(double c) {
    Attr a;
    a.scalar = c;
    return a;
}
inline Attr axis_attr(int axis) {
    Attr a;
    a.axis = axis;
    return a;
}
inline Attr range_attr(int axis, std::size_t begin, std::size_t end) {
    Attr a;
    a.axis = axis;
    a.begin = begin;
    a.end = end;
    return a;
}
}  // namespace detail

// ---- elementwise arithmetic (broadcasting) ----------------------------------------------------
template <class T>
Var<T> operator+(const Var<T>& a, const Var<T>& b) { return a.tape().record(OpKind::add, a, b); }
template <class T>
Var<T> operator-(const Var<T>& a, const Var<T>& b) { return a.tape().record(OpKind::sub, a, b); }
template <class T>
Var<T> operator*(const Var<T>& a, const Var<T>& b) { return a.tape().record(OpKind::mul, a, b); }
template <class T>
Var<T> operator/(const Var<T>& a, const Var<T>& b) { return a.tape().record(OpKind::div, a, b); }
template <class T>
Var<T> operator-(const Var<T>& a) { return a.tape().record(OpKind::scale, a, detail::scalar_attr(-1)); }

// Vars of two element types do not mix (without these, both would convert to NodeId and `a + b`
// would add two node ids).
template <class T, class U, std::enable_if_t<!std::is_same_v<T, U>, int> = 0>
void operator+(const Var<T>&, const Var<U>&) = delete;
template <class T, class U, std::enable_if_t<!std::is_same_v<T, U>, int> = 0>
void operator-(const Var<T>&, const Var<U>&) = delete;
template <class T, class U, std::enable_if_t<!std::is_same_v<T, U>, int> = 0>
void operator*(const Var<T>&, const Var<U>&) = delete;
template <class T, class U, std::enable_if_t<!std::is_same_v<T, U>, int> = 0>
void operator/(const Var<T>&, const Var<U>&) = delete;

// ---- with a scalar on either side -------------------------------------------------------------
// (an integer here is a number, never a node id: write the Var itself)
template <class T, class S, detail::if_scalar<S> = 0>
Var<T> operator+(const Var<T>& a, S c) { return a.tape().record(OpKind::add_scalar, a, detail::scalar_attr(double(c))); }
template <class T, class S, detail::if_scalar<S> = 0>
Var<T> operator+(S c, const Var<T>& a) { return a + c; }
template <class T, class S, detail::if_scalar<S> = 0>
Var<T> operator-(const Var<T>& a, S c) { return a + (-double(c)); }
template <class T, class S, detail::if_scalar<S> = 0>
Var<T> operator-(S c, const Var<T>& a) { return (-a) + c; }
template <class T, class S, detail::if_scalar<S> = 0>
Var<T> operator*(const Var<T>& a, S c) { return a.tape().record(OpKind::scale, a, detail::scalar_attr(double(c))); }
template <class T, class S, detail::if_scalar<S> = 0>
Var<T> operator*(S c, const Var<T>& a) { return a * c; }
// a / c is a · (1/c) rounded once more than a true division; a / Var of a [1,1] constant divides.
template <class T, class S, detail::if_scalar<S> = 0>
Var<T> operator/(const Var<T>& a, S c) { return a * (1.0 / double(c)); }
template <class T, class S, detail::if_scalar<S> = 0>
Var<T> operator/(S c, const Var<T>& a) { return a.tape().record(OpKind::pow, a, detail::scalar_attr(-1)) * c; }

// ---- unary elementwise functions (one per `unary` line of the op table) -----------------------
// exp, log, sqrt, square, abs, relu, sigmoid, tanh: same shape; softmax, log_softmax: per column,
// [K,m] -> [K,m], stable (shifted by the column's max); transpose: [m,n] -> [n,m]; sq_norm: Σ a²
// -> [1,1].
#define XGRAD_VAR_FN_unary(name) \
    template <class T>           \
    Var<T> name(const Var<T>& a) { return a.tape().record(OpKind::name, a); }
#define XGRAD_VAR_FN_custom(name)
#define XGRAD_VAR_FN(name, api) XGRAD_VAR_FN_##api(name)
XGRAD_OPS(XGRAD_VAR_FN)
#undef XGRAD_VAR_FN
#undef XGRAD_VAR_FN_custom
#undef XGRAD_VAR_FN_unary

// a^p elementwise, p a real number: a^p, d/da = p·a^(p-1).
template <class T>
Var<T> pow(const Var<T>& a, double p) { return a.tape().record(OpKind::pow, a, detail::scalar_attr(p)); }
// (a Var exponent would convert to its node id: not an op of the table; use exp(p * log(a)))
template <class T>
Var<T> pow(const Var<T>& a, const Var<T>& p) = delete;

// ---- products and reshaping -------------------------------------------------------------------
// [M,K] · [K,N] -> [M,N]
template <class T>
Var<T> matmul(const Var<T>& a, const Var<T>& b) { return a.tape().record(OpKind::matmul, a, b); }
// [n,m] + [n,1] (b added to every column): what a + b does too, kept as the seed's fast path.
template <class T>
Var<T> add_bias(const Var<T>& a, const Var<T>& b) { return a.tape().record(OpKind::add_bias, a, b); }
// axis 0: a [m1,n] over b [m2,n] -> [m1+m2,n]; axis 1: a [m,n1] beside b [m,n2] -> [m,n1+n2].
template <class T>
Var<T> concat(const Var<T>& a, const Var<T>& b, int axis) { return a.tape().record(OpKind::concat, a, b, detail::axis_attr(axis)); }
// Rows [begin, end) of a [m,n] -> [end-begin, n]; columns [begin, end) -> [m, end-begin].
template <class T>
Var<T> rows(const Var<T>& a, std::size_t begin, std::size_t end) { return a.tape().record(OpKind::slice, a, detail::range_attr(0, begin, end)); }
template <class T>
Var<T> cols(const Var<T>& a, std::size_t begin, std::size_t end) { return a.tape().record(OpKind::slice, a, detail::range_attr(1, begin, end)); }

// ---- reductions (numpy's keepdims=True) -------------------------------------------------------
// sum(a), mean(a): every entry -> [1,1]. With an axis: 0 reduces the rows, [m,n] -> [1,n];
// 1 reduces the columns, [m,n] -> [m,1]. max's gradient goes to the first maximum (numpy argmax).
template <class T>
Var<T> sum(const Var<T>& a) { return a.tape().record(OpKind::sum, a, detail::axis_attr(-1)); }
template <class T>
Var<T> sum(const Var<T>& a, int axis) { return a.tape().record(OpKind::sum, a, detail::axis_attr(axis)); }
template <class T>
Var<T> mean(const Var<T>& a) { return a.tape().record(OpKind::mean, a, detail::axis_attr(-1)); }
template <class T>
Var<T> mean(const Var<T>& a, int axis) { return a.tape().record(OpKind::mean, a, detail::axis_attr(axis)); }
template <class T>
Var<T> max(const Var<T>& a, int axis) { return a.tape().record(OpKind::max, a, detail::axis_attr(axis)); }
// (an elementwise maximum of two Vars is not an op of the table; a Var as the axis would be its id)
template <class T>
Var<T> max(const Var<T>& a, const Var<T>& b) = delete;
template <class T>
Var<T> sum(const Var<T>& a, const Var<T>& axis) = delete;
template <class T>
Var<T> mean(const Var<T>& a, const Var<T>& axis) = delete;

// ---- losses -> [1,1], averaged over the columns (examples) ----------------------------------------
// bce(p, y): -Σ(y log p + (1-y) log(1-p)) / m, p and y [k,m] (log 0 = -inf: use sigmoid_bce).
template <class T>
Var<T> bce(const Var<T>& p, const Var<T>& y) { return p.tape().record(OpKind::bce, p, y); }
// sigmoid_bce(z, y) = bce(sigmoid(z), y) from the logits z, finite however saturated.
template <class T>
Var<T> sigmoid_bce(const Var<T>& z, const Var<T>& y) { return z.tape().record(OpKind::sigmoid_bce, z, y); }
// softmax_ce(z, y): mean over columns of -log softmax(z)[label], z [K,m]; y [K,m] (one-hot or
// probabilities) or [1,m] class indices 0..K-1.
template <class T>
Var<T> softmax_ce(const Var<T>& z, const Var<T>& y) { return z.tape().record(OpKind::softmax_ce, z, y); }
// mse(a, y): mean of (a - y)² over all entries (torch.nn.MSELoss()), a and y of one shape.
template <class T>
Var<T> mse(const Var<T>& a, const Var<T>& y) { return a.tape().record(OpKind::mse, a, y); }

}  // namespace xgrad
