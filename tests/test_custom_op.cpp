#define BOOST_TEST_MODULE custom_op
#include <boost/test/unit_test.hpp>

// Ops defined outside the library (xgrad/custom_op.hpp): recorded like built-ins, replayed at any
// batch width, printed under their names, differentiated through their own backward.

#include <cmath>
#include <sstream>

#include "test_util.hpp"
#include "xgrad/core/custom_op.hpp"
#include "xgrad/xgrad.hpp"

using namespace xgrad;
using M = Matrix<double>;

namespace {

// y = log(1 + e^x), computed stably; dy/dx = sigmoid(x)
struct Softplus {
    static constexpr const char* name = "softplus";
    static Shape shape(Shape x) { return x; }
    template <class T>
    static void forward(const Matrix<T>& x, Matrix<T>& y) {
        for (std::size_t i = 0; i < x.size(); ++i) {
            const T v = x.data()[i];
            y.data()[i] = std::max(v, T(0)) + std::log1p(std::exp(-std::abs(v)));
        }
    }
    template <class T>
    static void backward(const Matrix<T>& x, const Matrix<T>&, const Matrix<T>& gy, Matrix<T>& gx) {
        for (std::size_t i = 0; i < x.size(); ++i) gx.data()[i] += gy.data()[i] / (T(1) + std::exp(-x.data()[i]));
    }
};

// hinge(z, y) = max(0, 1 - y·z) entrywise, z and y of one shape (y = ±1)
struct Hinge {
    static constexpr const char* name = "hinge";
    static Shape shape(Shape z, Shape y) {
        if (z != y) throw ShapeError("hinge: scores " + to_string(z) + " and labels " + to_string(y) + " differ");
        return z;
    }
    template <class T>
    static void forward(const Matrix<T>& z, const Matrix<T>& y, Matrix<T>& out) {
        for (std::size_t i = 0; i < z.size(); ++i) out.data()[i] = std::max(T(0), T(1) - y.data()[i] * z.data()[i]);
    }
    template <class T>
    static void backward(const Matrix<T>& z, const Matrix<T>& y, const Matrix<T>& out, const Matrix<T>& g,
                         Matrix<T>* gz, Matrix<T>* gy) {
        for (std::size_t i = 0; i < z.size(); ++i) {
            if (!(out.data()[i] > T(0))) continue;
            if (gz) gz->data()[i] -= g.data()[i] * y.data()[i];
            if (gy) gy->data()[i] -= g.data()[i] * z.data()[i];
        }
    }
};

double softplus(double v) { return std::log1p(std::exp(v)); }
double sigm(double v) { return 1.0 / (1.0 + std::exp(-v)); }

}  // namespace

BOOST_AUTO_TEST_CASE(unary_custom_op_values_gradients_and_name) {
    Tape<double> t;
    auto x = t.parameter(M{{-2.0, 0.5, 3.0}}, "x");
    auto y = custom<Softplus>(x);
    auto loss = sum(y * 2.0);
    t.backward(loss);
    for (std::size_t j = 0; j < 3; ++j) {
        const double v = x.value()(0, j);
        BOOST_TEST(y.value()(0, j) == softplus(v), boost::test_tools::tolerance(1e-15));
        BOOST_TEST(x.grad()(0, j) == 2.0 * sigm(v), boost::test_tools::tolerance(1e-15));
    }
    std::ostringstream os;
    t.print(os);
    BOOST_TEST(os.str().find("= softplus %0") != std::string::npos, os.str());
    BOOST_TEST(t.to_dot().find(" softplus") != std::string::npos);
    BOOST_TEST(t.node(y).op == OpKind::custom);
}

BOOST_AUTO_TEST_CASE(binary_custom_op_with_one_input_needing_no_gradient) {
    Tape<double> t;
    auto z = t.parameter(M{{0.2, -1.5, 2.0, 0.9}}, "z");
    auto y = t.constant(M{{1.0, 1.0, 1.0, -1.0}}, "y");
    auto loss = mean(custom<Hinge>(z, y));
    t.backward(loss);
    // margins 1 - y z: 0.8, 2.5, -1 (inactive), 1.9
    BOOST_TEST(loss.value()(0, 0) == (0.8 + 2.5 + 1.9) / 4.0, boost::test_tools::tolerance(1e-15));
    const M expect{{-0.25, -0.25, 0.0, 0.25}};
    BOOST_TEST(z.grad() == expect);
    // the op's own shape rule runs when recorded
    BOOST_CHECK_THROW(custom<Hinge>(z, t.constant(M{{1.0, 1.0}})), ShapeError);
}

BOOST_AUTO_TEST_CASE(custom_ops_replay_at_any_batch_width) {
    NumpyRandom rng(5);
    Tape<double> t;
    auto x = t.constant(test::randn<double>(rng, 3, 8), "x");
    auto yl = t.constant(M(xt::ones<double>({1, 8})), "y");
    auto W = t.parameter(test::randn<double>(rng, 1, 3), "W");
    auto loss = mean(custom<Hinge>(custom<Softplus>(matmul(W, x)) - 1.0, yl));
    for (std::size_t width : {8u, 3u, 8u, 1u, 5u}) {
        const M xb = test::randn<double>(rng, 3, width);
        t.set_value(x, xb);
        t.set_value(yl, M(xt::ones<double>({std::size_t(1), width})));
        t.forward();
        t.zero_grad();
        t.backward(loss);
        // the same function recorded afresh at this width
        Tape<double> f;
        auto fx = f.constant(xb), fy = f.constant(M(xt::ones<double>({std::size_t(1), width})));
        auto fW = f.parameter(W.value());
        auto fl = mean(custom<Hinge>(custom<Softplus>(matmul(fW, fx)) - 1.0, fy));
        f.backward(fl);
        BOOST_TEST(loss.value() == fl.value());
        BOOST_TEST(W.grad() == fW.grad());
        // and by hand: mean over the width of max(0, 1 - (softplus(w·x) - 1))
        double expect = 0;
        for (std::size_t j = 0; j < width; ++j) {
            double s = 0;
            for (std::size_t i = 0; i < 3; ++i) s += W.value()(0, i) * xb(i, j);
            expect += std::max(0.0, 2.0 - softplus(s));
        }
        BOOST_TEST(loss.value()(0, 0) == expect / double(width), boost::test_tools::tolerance(1e-14));
    }
}

BOOST_AUTO_TEST_CASE(custom_ops_in_float_and_their_errors) {
    Tape<float> t;
    auto x = t.parameter(Matrix<float>{{-1.0f, 2.0f}});
    auto loss = sum(custom<Softplus>(x));
    t.backward(loss);
    BOOST_TEST(x.grad()(0, 1) == float(sigm(2.0)), boost::test_tools::tolerance(1e-6f));
    // operands from two tapes; arity mismatches through record()
    Tape<float> other;
    auto y = other.constant(Matrix<float>{{1.0f, 1.0f}});
    BOOST_CHECK_THROW(custom<Hinge>(x, y), UsageError);
    BOOST_CHECK_THROW(t.record(detail::CustomAdapter<Hinge, float>::binary(), x), UsageError);
    BOOST_CHECK_THROW(t.record(detail::CustomAdapter<Softplus, float>::unary(), x, x), UsageError);
    BOOST_CHECK_THROW(t.record(OpKind::custom, x), UsageError);
}

// The generic gradient check verifies a user's op like a built-in one (and would catch a wrong
// backward: the same op with its derivative off by a factor fails).
struct SoftplusWrong : Softplus {
    static constexpr const char* name = "softplus_wrong";
    template <class T>
    static void backward(const Matrix<T>& x, const Matrix<T>& y, const Matrix<T>& gy, Matrix<T>& gx) {
        Softplus::backward(x, y, gy, gx);
        for (std::size_t i = 0; i < x.size(); ++i) gx.data()[i] *= T(1.01);
    }
};

BOOST_AUTO_TEST_CASE(custom_ops_pass_the_generic_gradient_check) {
    NumpyRandom rng(9);
    Tape<double> t;
    auto x = t.constant(test::randn<double>(rng, 3, 7), "x");
    auto y = t.constant(M(2.0 * xt::cast<double>(xt::greater(rng.randn(1, 7), 0.0)) - 1.0), "y");
    auto W = t.parameter(test::randn<double>(rng, 1, 3), "W");
    auto b = t.parameter(M{{0.1}}, "b");
    auto loss = mean(custom<Hinge>(custom<Softplus>(matmul(W, x) + b) - 1.0, y));
    const GradcheckReport report = gradcheck(t, loss);
    std::ostringstream os;
    report.print(os);
    BOOST_TEST(report.pass(), os.str());
    BOOST_TEST(report.max_rel_err() < 1e-7);
    // a binary custom op with gradients to both inputs
    auto z = t.parameter(test::randn<double>(rng, 2, 4), "z");
    auto s = t.parameter(M(xt::ones<double>({std::size_t(2), std::size_t(4)})), "s");
    auto l2 = sum(custom<Hinge>(z * 0.3, s * 0.5));
    const GradcheckReport r2 = gradcheck(t, l2, {z, s});
    BOOST_TEST(r2.pass());
    // a wrong backward fails
    Tape<double> w;
    auto wx = w.parameter(test::randn<double>(rng, 2, 3), "x");
    auto wl = sum(custom<SoftplusWrong>(wx));
    BOOST_TEST(!gradcheck(w, wl).pass());
    BOOST_TEST(gradcheck(w, sum(custom<Softplus>(wx))).pass());
}
