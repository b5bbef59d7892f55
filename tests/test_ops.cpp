#define BOOST_TEST_MODULE ops
#include <boost/test/unit_test.hpp>

#include <cmath>

#include <xtensor/xview.hpp>
#include <xtensor/xmath.hpp>

#include "ops/ops.hpp"  // the ops' own forward/backward, tested one by one
#include "test_util.hpp"
#include "xgrad/core/tape.hpp"

using namespace xgrad;
using xgrad::test::numeric_grad;
using xgrad::test::rel_err;
namespace tt = boost::test_tools;

using M = Matrix<double>;
using Cx = ops::Ctx<double>;
using Fwd = void (*)(const Cx&, const M&, const M*, M&);
using Bwd = void (*)(const Cx&, const M&, const M*, const M&, const M&, M*, M*);

namespace {

// Checks an op's backward against centered finite differences of s = Σ G ⊙ f(a, b) for a random
// upstream gradient G, with respect to a and (when given) b. Both gradients must be non-zero.
// `attr` is the node attribute (scale factor, counted columns); grad_b = false for an input with no
// gradient (class indices).
void check_op(Shape (*shape)(Shape, Shape, const Attr&), Fwd fwd, Bwd bwd, M a, M* b_in, std::uint32_t seed,
              double tol = 1e-8, const Attr& attr = {}, bool grad_b = true) {
    NumpyRandom rng(seed);
    Cx cx;  // no pool: the split products are tested against this plain path elsewhere
    cx.attr = attr;
    M b = b_in ? *b_in : M();
    const Shape so = shape(shape_of(a), b_in ? shape_of(b) : Shape{}, attr);
    const M G = test::randn<double>(rng, so.rows, so.cols);
    M out = M::from_shape({so.rows, so.cols});
    auto s = [&] {
        fwd(cx, a, b_in ? &b : nullptr, out);
        double acc = 0;
        for (std::size_t i = 0; i < out.size(); ++i) acc += G.data()[i] * out.data()[i];
        return acc;
    };
    fwd(cx, a, b_in ? &b : nullptr, out);
    M ga = xt::zeros<double>(a.shape());
    M gb = xt::zeros<double>(b.shape());
    bwd(cx, a, b_in ? &b : nullptr, out, G, &ga, b_in && grad_b ? &gb : nullptr);
    const M na = numeric_grad(s, a);
    BOOST_TEST(test::norm(ga) > 0.0);
    BOOST_TEST(rel_err(ga, na) < tol);
    if (b_in && grad_b) {
        const M nb = numeric_grad(s, b);
        BOOST_TEST(test::norm(gb) > 0.0);
        BOOST_TEST(rel_err(gb, nb) < tol);
    }
    // backward accumulates: a second call adds the same amount again
    fwd(cx, a, b_in ? &b : nullptr, out);  // the finite differences left a perturbed output behind
    M ga2 = ga;
    bwd(cx, a, b_in ? &b : nullptr, out, G, &ga2, nullptr);
    BOOST_TEST(rel_err(ga2, M(2.0 * ga)) < 1e-15);
}

Attr scalar(double c) {
    Attr a;
    a.scalar = c;
    return a;
}

template <class F>
void expect_shape_error(F f, const std::string& op, const std::string& sa, const std::string& sb) {
    try {
        f();
        BOOST_ERROR("no ShapeError for " + op);
    } catch (const ShapeError& e) {
        const std::string msg = e.what();
        BOOST_TEST(msg.find(op + ":") == 0, msg);
        BOOST_TEST(msg.find(sa) != std::string::npos, msg);
        BOOST_TEST(msg.find(sb) != std::string::npos, msg);
    }
}

}  // namespace

// ---- finite differences in double ------------------------------------------------------------

BOOST_AUTO_TEST_CASE(matmul_fd) {
    NumpyRandom rng(11);
    M a = test::randn<double>(rng, 3, 4), b = test::randn<double>(rng, 4, 5);
    check_op(ops::matmul_shape, ops::matmul_forward<double>, ops::matmul_backward<double>, a, &b, 1);
}

BOOST_AUTO_TEST_CASE(add_bias_fd) {
    NumpyRandom rng(12);
    M a = test::randn<double>(rng, 3, 6), b = test::randn<double>(rng, 3, 1);
    check_op(ops::add_bias_shape, ops::add_bias_forward<double>, ops::add_bias_backward<double>, a,
             &b, 2);
}

BOOST_AUTO_TEST_CASE(relu_fd_away_from_kink) {
    NumpyRandom rng(13);
    M a = test::away_from_zero(rng, 4, 5);
    check_op(ops::relu_shape, ops::relu_forward<double>, ops::relu_backward<double>, a, nullptr, 3);
}

BOOST_AUTO_TEST_CASE(sigmoid_fd) {
    NumpyRandom rng(14);
    M a = test::randn<double>(rng, 4, 5, 2.0);
    check_op(ops::sigmoid_shape, ops::sigmoid_forward<double>, ops::sigmoid_backward<double>, a,
             nullptr, 4);
}

BOOST_AUTO_TEST_CASE(bce_fd_wrt_probabilities_and_labels) {
    NumpyRandom rng(15);
    M p = M::from_shape({1, 7});
    for (auto& v : p) v = 0.1 + 0.8 * rng.uniform();
    M y = test::labels<double>(rng, 1, 7);
    check_op(ops::bce_shape, ops::bce_forward<double>, ops::bce_backward<double>, p, &y, 5, 1e-7);
}

BOOST_AUTO_TEST_CASE(sigmoid_bce_fd_wrt_logits_and_labels) {
    NumpyRandom rng(16);
    M z = test::randn<double>(rng, 2, 6, 3.0);
    M y = test::labels<double>(rng, 2, 6);
    check_op(ops::sigmoid_bce_shape, ops::sigmoid_bce_forward<double>,
             ops::sigmoid_bce_backward<double>, z, &y, 6, 1e-7);
}

BOOST_AUTO_TEST_CASE(add_and_mul_fd) {
    NumpyRandom rng(17);
    M a = test::randn<double>(rng, 3, 5), b = test::randn<double>(rng, 3, 5);
    check_op(ops::add_shape, ops::add_forward<double>, ops::add_backward<double>, a, &b, 7);
    check_op(ops::mul_shape, ops::mul_forward<double>, ops::mul_backward<double>, a, &b, 8);
}

BOOST_AUTO_TEST_CASE(tanh_fd) {
    NumpyRandom rng(18);
    M a = test::randn<double>(rng, 4, 5, 1.5);
    check_op(ops::tanh_shape, ops::tanh_forward<double>, ops::tanh_backward<double>, a, nullptr, 9);
}

BOOST_AUTO_TEST_CASE(scale_fd) {
    NumpyRandom rng(19);
    M a = test::randn<double>(rng, 2, 3);
    check_op(ops::scale_shape, ops::scale_forward<double>, ops::scale_backward<double>, a, nullptr,
             10, 1e-8, scalar(-1.7));
}

BOOST_AUTO_TEST_CASE(reductions_fd) {
    NumpyRandom rng(20);
    M a = test::randn<double>(rng, 3, 4);
    check_op(ops::sum_shape, ops::sum_forward<double>, ops::sum_backward<double>, a, nullptr, 11);
    check_op(ops::mean_shape, ops::mean_forward<double>, ops::mean_backward<double>, a, nullptr, 12);
    check_op(ops::sq_norm_shape, ops::sq_norm_forward<double>, ops::sq_norm_backward<double>, a,
             nullptr, 13);
}

BOOST_AUTO_TEST_CASE(softmax_fd) {
    NumpyRandom rng(22);
    M z = test::randn<double>(rng, 4, 6, 2.0);
    check_op(ops::softmax_shape, ops::softmax_forward<double>, ops::softmax_backward<double>, z,
             nullptr, 14);
}

BOOST_AUTO_TEST_CASE(softmax_ce_fd_one_hot_and_class_indices) {
    NumpyRandom rng(23);
    M z = test::randn<double>(rng, 3, 7, 2.0);
    M idx = M::from_shape({1, 7});
    M onehot = xt::zeros<double>({3, 7});
    for (std::size_t j = 0; j < 7; ++j) {
        idx(0, j) = double(j % 3);
        onehot(j % 3, j) = 1.0;
    }
    // with one-hot labels, also the gradient with respect to the labels
    check_op(ops::softmax_ce_shape, ops::softmax_ce_forward<double>, ops::softmax_ce_backward<double>,
             z, &onehot, 15, 1e-7);
    check_op(ops::softmax_ce_shape, ops::softmax_ce_forward<double>, ops::softmax_ce_backward<double>,
             z, &idx, 16, 1e-7, {}, false);
    // both label forms give the same loss and logit gradient
    const Cx cx;
    M l1 = M::from_shape({1, 1}), l2 = M::from_shape({1, 1});
    ops::softmax_ce_forward<double>(cx, z, &onehot, l1);
    ops::softmax_ce_forward<double>(cx, z, &idx, l2);
    BOOST_TEST(l1(0, 0) == l2(0, 0), tt::tolerance(1e-14));
    M g1 = xt::zeros<double>({3, 7}), g2 = xt::zeros<double>({3, 7});
    const M one{{1.0}};
    ops::softmax_ce_backward<double>(cx, z, &onehot, l1, one, &g1, nullptr);
    ops::softmax_ce_backward<double>(cx, z, &idx, l2, one, &g2, nullptr);
    BOOST_TEST(rel_err(g1, g2) < 1e-15);
}

BOOST_AUTO_TEST_CASE(softmax_ce_is_stable_and_checks_its_labels) {
    Tape<double> t;
    const NodeId z = t.parameter(M{{1000.0, -1000.0}, {0.0, 0.0}, {-1000.0, 1000.0}});
    const NodeId loss = t.softmax_ce(z, t.constant(M{{0.0, 2.0}}));
    BOOST_TEST(t.value(loss)(0, 0) == 0.0);  // exp(1000) would overflow without the shift
    const NodeId wrong = t.softmax_ce(z, t.constant(M{{1.0, 2.0}}));
    t.backward(wrong);
    BOOST_TEST(std::isfinite(t.value(wrong)(0, 0)));
    BOOST_TEST(t.value(wrong)(0, 0) == 500.0, tt::tolerance(1e-12));  // (1000 + 0) / 2
    for (double bad : {3.0, -1.0, 0.5}) {
        try {
            t.softmax_ce(z, t.constant(M{{0.0, bad}}));
            BOOST_ERROR("no DataError for label " << bad);
        } catch (const DataError& e) {
            BOOST_TEST(std::string(e.what()).find("softmax_ce: label of column 1") == 0, e.what());
        }
    }
    expect_shape_error([&] { t.softmax_ce(t.parameter(M{{1.0, 2.0}}), t.constant(M{{0.0, 1.0}})); },
                       "softmax_ce", "[1,2]", "[1,2]");
    expect_shape_error([&] { t.softmax_ce(z, t.constant(M{{0.0, 1.0, 0.0}})); }, "softmax_ce",
                       "[3,2]", "[1,3]");
}

BOOST_AUTO_TEST_CASE(losses_count_only_the_first_columns_when_told) {
    // A short last mini-batch is a narrower batch: a loss recorded at m columns and replayed on the
    // first c averages over exactly those c columns, as a loss recorded at c columns does.
    NumpyRandom rng(24);
    const std::size_t m = 9, c = 5;
    const M x = test::randn<double>(rng, 2, m), w = test::randn<double>(rng, 3, 2);
    const M y = test::labels<double>(rng, 1, m);
    M y3 = M::from_shape({1, m});
    for (std::size_t j = 0; j < m; ++j) y3(0, j) = double(j % 3);
    auto first = [&](const M& a) { return M(xt::view(a, xt::all(), xt::range(0, c))); };
    for (OpKind op : {OpKind::sigmoid_bce, OpKind::bce, OpKind::softmax_ce, OpKind::mse}) {
        const M& lab = op == OpKind::softmax_ce ? y3 : y;
        auto record = [&](Tape<double>& t, const M& data, const M& l) {
            auto X = t.constant(data), Y = t.constant(l), W = t.parameter(w);
            auto z = matmul(W, X);
            auto one = rows(z, 0, 1);
            auto loss = op == OpKind::bce           ? bce(sigmoid(one), Y)
                        : op == OpKind::sigmoid_bce ? sigmoid_bce(one, Y)
                        : op == OpKind::softmax_ce  ? softmax_ce(z, Y)
                                                    : mse(one, Y);
            return std::make_tuple(X, Y, W, loss);
        };
        Tape<double> full, part;
        auto [xf, yf, wf, lf] = record(full, x, lab);
        auto [xp, yp, wp, lp] = record(part, first(x), first(lab));
        full.set_value(xf, first(x));
        full.set_value(yf, first(lab));
        full.forward();
        full.backward(lf);
        part.backward(lp);
        BOOST_TEST(lf.value()(0, 0) == lp.value()(0, 0));
        BOOST_TEST(wf.grad() == wp.grad());
        BOOST_TEST(full.shape(lf) == (Shape{1, 1}));
    }
    Tape<double> t;
    const NodeId p = t.parameter(M{{1.0, 2.0}});
    BOOST_CHECK_THROW(t.set_scale(p, 2.0), UsageError);
}

BOOST_AUTO_TEST_CASE(float_ops_agree_with_double) {
    NumpyRandom rng(25);
    const M a = test::randn<double>(rng, 3, 4), b = test::randn<double>(rng, 3, 4);
    auto run = [&](auto tag) {
        using T = decltype(tag);
        Tape<T> t;
        const NodeId x = t.parameter(xt::cast<T>(a)), w = t.parameter(xt::cast<T>(b));
        const NodeId h = t.tanh(t.add(t.mul(x, w), t.scale(x, 0.5)));
        const NodeId loss = t.add(t.add(t.mean(h), t.sum(t.softmax(h))),
                                  t.add(t.sq_norm(w), t.softmax_ce(h, t.constant(Matrix<T>{{0, 1, 2, 1}}))));
        t.backward(loss);
        return std::make_tuple(double(t.value(loss)(0, 0)), M(xt::cast<double>(t.grad(x))),
                               M(xt::cast<double>(t.grad(w))));
    };
    const auto [ld, gxd, gwd] = run(double{});
    const auto [lf, gxf, gwf] = run(float{});
    BOOST_TEST(lf == ld, tt::tolerance(1e-5));
    BOOST_TEST(rel_err(gxf, gxd) < 1e-5);
    BOOST_TEST(rel_err(gwf, gwd) < 1e-5);
}

// ---- closed forms -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(closed_forms_through_the_tape) {
    NumpyRandom rng(21);
    Tape<double> t;
    const M xv = test::away_from_zero(rng, 3, 4);
    const NodeId x = t.parameter(xv);
    const NodeId s = t.sigmoid(x);
    const NodeId r = t.relu(x);
    for (std::size_t i = 0; i < xv.size(); ++i) {
        const double z = xv.data()[i];
        BOOST_TEST(t.value(s).data()[i] == 1.0 / (1.0 + std::exp(-z)), tt::tolerance(1e-15));
        BOOST_TEST(t.value(r).data()[i] == (z > 0 ? z : 0.0));
    }
    // sigmoid' = y(1-y): d/dx of bce(sigmoid(x), y) is (sigmoid(x) - y)/m
    const M yv = test::labels<double>(rng, 3, 4);
    const NodeId y = t.constant(yv);
    const NodeId loss = t.bce(s, y);
    t.backward(loss);
    double expected_loss = 0;
    for (std::size_t i = 0; i < xv.size(); ++i) {
        const double p = t.value(s).data()[i], l = yv.data()[i];
        expected_loss -= l * std::log(p) + (1 - l) * std::log(1 - p);
        BOOST_TEST(t.grad(x).data()[i] == (p - l) / 4.0, tt::tolerance(1e-12));
    }
    BOOST_TEST(t.value(loss)(0, 0) == expected_loss / 4.0, tt::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(matmul_matches_explicit_loops) {
    NumpyRandom rng(22);
    Tape<double> t;
    const M av = test::randn<double>(rng, 3, 5), bv = test::randn<double>(rng, 5, 2);
    const NodeId c = t.matmul(t.constant(av), t.constant(bv));
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t j = 0; j < 2; ++j) {
            double s = 0;
            for (std::size_t k = 0; k < 5; ++k) s += av(i, k) * bv(k, j);
            BOOST_TEST(t.value(c)(i, j) == s, tt::tolerance(1e-14));
        }
}

BOOST_AUTO_TEST_CASE(add_bias_adds_the_column_to_every_column) {
    Tape<float> t;
    const NodeId z = t.add_bias(t.constant(Matrix<float>{{1, 2, 3}, {4, 5, 6}}),
                                t.constant(Matrix<float>{{10}, {20}}));
    BOOST_TEST(t.value(z) == (Matrix<float>{{11, 12, 13}, {24, 25, 26}}));
}

// ---- shape errors name the op and both shapes -------------------------------------------------

BOOST_AUTO_TEST_CASE(shape_errors_name_the_op_and_both_shapes) {
    Tape<double> t;
    const NodeId a = t.constant(xt::zeros<double>({20, 12288}));
    const NodeId b = t.constant(xt::zeros<double>({12287, 9}));
    const NodeId c = t.constant(xt::zeros<double>({3, 2}));
    const NodeId d = t.constant(xt::zeros<double>({2, 3}));
    expect_shape_error([&] { t.matmul(a, b); }, "matmul", "[20,12288]", "[12287,9]");
    expect_shape_error([&] { t.add_bias(c, d); }, "add_bias", "[3,2]", "[2,3]");
    expect_shape_error([&] { t.add_bias(c, c); }, "add_bias", "[3,2]", "[3,2]");
    expect_shape_error([&] { t.bce(c, d); }, "bce", "[3,2]", "[2,3]");
    expect_shape_error([&] { t.sigmoid_bce(c, d); }, "sigmoid_bce", "[3,2]", "[2,3]");
    // a failed op records nothing
    BOOST_TEST(t.size() == 4u);
}

// ---- the stable loss ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(sigmoid_bce_is_finite_for_saturated_float_logits) {
    for (float big : {50.0f, 500.0f}) {
        Tape<float> t;
        const NodeId z = t.parameter(Matrix<float>{{big, -big, big, -big}});
        const NodeId y = t.constant(Matrix<float>{{1, 0, 0, 1}});
        const NodeId loss = t.sigmoid_bce(z, y);
        t.backward(loss);
        const float l = t.value(loss)(0, 0);
        BOOST_TEST(std::isfinite(l));
        // two right with ~0 loss, two wrong by |z| each: mean = 2·big/4
        BOOST_TEST(l == big / 2, tt::tolerance(1e-5f));
        for (float g : t.grad(z)) BOOST_TEST(std::isfinite(g));
        BOOST_TEST(t.grad(z)(0, 0) == 0.0f, tt::tolerance(1e-6f));
        BOOST_TEST(t.grad(z)(0, 2) == 0.25f, tt::tolerance(1e-6f));   // (1 - 0)/4
        BOOST_TEST(t.grad(z)(0, 3) == -0.25f, tt::tolerance(1e-6f));  // (0 - 1)/4
    }
    // the separate form really does break there: that is what the fused op is for
    Tape<float> t;
    const NodeId z = t.parameter(Matrix<float>{{500.0f}});
    const NodeId loss = t.bce(t.sigmoid(z), t.constant(Matrix<float>{{0.0f}}));
    BOOST_TEST(!std::isfinite(t.value(loss)(0, 0)));
}

BOOST_AUTO_TEST_CASE(bce_of_sigmoid_agrees_with_sigmoid_bce_where_finite) {
    NumpyRandom rng(31);
    for (auto scale : {0.5, 2.0, 4.0}) {
        const Matrix<float> zv = test::randn<float>(rng, 1, 16, scale);
        const Matrix<float> yv = test::labels<float>(rng, 1, 16);
        Tape<float> a, b;
        const NodeId za = a.parameter(zv), zb = b.parameter(zv);
        const NodeId la = a.bce(a.sigmoid(za), a.constant(yv));
        const NodeId lb = b.sigmoid_bce(zb, b.constant(yv));
        a.backward(la);
        b.backward(lb);
        BOOST_REQUIRE(std::isfinite(a.value(la)(0, 0)));
        BOOST_TEST(a.value(la)(0, 0) == b.value(lb)(0, 0), tt::tolerance(1e-4f));
        BOOST_TEST(rel_err(a.grad(za), b.grad(zb)) < 1e-4);
    }
}
