#pragma once
// Ops defined outside the library, in the spirit of torch.autograd.Function: a struct with a name,
// a shape rule, a forward and a backward as static functions, recorded like a built-in op with
// xgrad::custom<Op>(a) or xgrad::custom<Op>(a, b). The node replays, works at any batch width (its
// shape rule runs again on every forward), prints under its name and is verified by
// xgrad::gradcheck like any other.
//
//     struct Softplus {                                   // y = log(1 + e^x), dy/dx = sigmoid(x)
//         static constexpr const char* name = "softplus";
//         static xgrad::Shape shape(xgrad::Shape x) { return x; }
//         template <class T>
//         static void forward(const xgrad::Matrix<T>& x, xgrad::Matrix<T>& y) {
//             for (std::size_t i = 0; i < x.size(); ++i) y.data()[i] = std::log1p(std::exp(x.data()[i]));
//         }
//         template <class T>  // adds (+=) d loss / dx into gx
//         static void backward(const xgrad::Matrix<T>& x, const xgrad::Matrix<T>& y,
//                              const xgrad::Matrix<T>& gy, xgrad::Matrix<T>& gx) { ... }
//     };
//     auto h = xgrad::custom<Softplus>(matmul(W, x) + b);
//
// forward/backward may also be plain functions of Matrix<double> (or float) for an op of one type.
// A binary op has `static Shape shape(Shape a, Shape b)`, `forward(a, b, y)` and
// `backward(a, b, y, gy, Matrix<T>* ga, Matrix<T>* gb)`, where ga or gb is null when that input
// needs no gradient. The output buffer has the shape the rule gave; shape() throws ShapeError for
// inputs it does not accept. forward and backward must not keep pointers to the matrices (buffers
// move when a wider batch makes them grow), and should not allocate if the training loop is to
// allocate nothing. The op is stateless: data it needs goes in as a second input or a template
// parameter.
#include "xgrad/core/tape.hpp"

namespace xgrad {

namespace detail {

template <class Op, class T>
struct CustomAdapter {
    static Shape shape1(Shape a, Shape) { return Op::shape(a); }
    static Shape shape2(Shape a, Shape b) { return Op::shape(a, b); }
    static void forward1(const Matrix<T>& a, const Matrix<T>*, Matrix<T>& out) { Op::forward(a, out); }
    static void forward2(const Matrix<T>& a, const Matrix<T>* b, Matrix<T>& out) { Op::forward(a, *b, out); }
    static void backward1(const Matrix<T>& a, const Matrix<T>*, const Matrix<T>& out, const Matrix<T>& gout,
                          Matrix<T>* ga, Matrix<T>*) {
        if (ga) Op::backward(a, out, gout, *ga);
    }
    static void backward2(const Matrix<T>& a, const Matrix<T>* b, const Matrix<T>& out, const Matrix<T>& gout,
                          Matrix<T>* ga, Matrix<T>* gb) {
        Op::backward(a, *b, out, gout, ga, gb);
    }
    // One immutable definition per op and element type, for the program's lifetime.
    static const CustomOp<T>& unary() {
        static const CustomOp<T> def{Op::name, 1, shape1, forward1, backward1};
        return def;
    }
    static const CustomOp<T>& binary() {
        static const CustomOp<T> def{Op::name, 2, shape2, forward2, backward2};
        return def;
    }
};

}  // namespace detail

// Records the user-defined unary op Op on a's tape.
template <class Op, class T>
Var<T> custom(const Var<T>& a) {
    return a.tape().record(detail::CustomAdapter<Op, T>::unary(), a);
}

// Records the user-defined binary op Op on the operands' tape (UsageError if they differ).
template <class Op, class T>
Var<T> custom(const Var<T>& a, const Var<T>& b) {
    return a.tape().record(detail::CustomAdapter<Op, T>::binary(), a, b);
}

}  // namespace xgrad
