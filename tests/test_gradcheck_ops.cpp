#define BOOST_TEST_MODULE gradcheck_ops
#include <boost/test/unit_test.hpp>

// The generic gradient check (xgrad::gradcheck, include/xgrad/check/gradcheck.hpp): every op of the table
// through its cases (xgrad::op_cases, the same list `gradcheck --ops` runs), in double and float,
// float against double on the same inputs, and the check's own failure modes.

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "ops/ops.hpp"  // OpInfo: each op's arity
#include "test_util.hpp"
#include "xgrad/check/gradcheck.hpp"

using namespace xgrad;

namespace {

constexpr std::size_t first_op = kFirstBuiltinOp;
constexpr std::size_t n_kinds = std::size_t(OpKind::count_);

std::vector<const OpCase*> cases_of(OpKind op) {
    std::vector<const OpCase*> v;
    for (const OpCase& c : op_cases())
        if (c.op == op) v.push_back(&c);
    return v;
}

// How an operand of a broadcasting op stretches: "full" (the output's shape), "scalar" [1,1],
// "col" [n,1], "row" [1,m].
std::string stretch(Shape s) {
    if (s.rows == 1 && s.cols == 1) return "scalar";
    if (s.cols == 1) return "col";
    if (s.rows == 1) return "row";
    return "full";
}

std::string printed(const GradcheckReport& r) {
    std::ostringstream os;
    r.print(os);
    return os.str();
}

// ‖a − b‖ / ‖b‖ (b the double reference), and 0 when both are zero.
template <class A>
double rel_to(const A& a, const Matrix<double>& b) {
    const double nb = test::norm(b), d = test::norm_diff(a, b);
    return nb == 0 ? d : d / nb;
}

}  // namespace

// ---- the list of cases --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(every_op_kind_has_a_case) {
    // A new op in the table without a case in xgrad::op_cases fails here.
    for (std::size_t k = first_op; k < n_kinds; ++k) {
        const OpKind op = OpKind(k);
        BOOST_TEST(!cases_of(op).empty(), "op " << op_name(op) << " has no gradient-check case in "
                                                   "op_cases() (lib/check/gradcheck.cpp)");
    }
    std::set<std::string> labels;
    for (const OpCase& c : op_cases()) {
        BOOST_TEST(std::size_t(c.op) >= first_op);
        BOOST_TEST(std::size_t(c.op) < n_kinds);
        BOOST_TEST(c.label.rfind(op_name(c.op), 0) == 0u, c.label);  // starts with the op's name
        BOOST_TEST(int(c.inputs.size()) == ops::info(c.op).arity, c.label);
        BOOST_TEST(labels.insert(c.label).second, "label twice: " << c.label);
        bool any_param = false;
        for (const OpCaseInput& in : c.inputs) any_param = any_param || in.parameter;
        BOOST_TEST(any_param, c.label << " has no parameter to check");
    }
}

BOOST_AUTO_TEST_CASE(cases_cover_every_broadcast_pair_axis_and_label_form) {
    // add, sub, mul, div: [n,m] with [1,1], [n,1], [1,m] on either side, [n,1] with [1,m] both
    // ways, and equal shapes.
    const std::set<std::pair<std::string, std::string>> want = {
        {"full", "full"}, {"full", "scalar"}, {"scalar", "full"}, {"full", "col"},  {"col", "full"},
        {"full", "row"},  {"row", "full"},    {"col", "row"},     {"row", "col"}, {"scalar", "scalar"}};
    for (OpKind op : {OpKind::add, OpKind::sub, OpKind::mul, OpKind::div}) {
        std::set<std::pair<std::string, std::string>> have;
        for (const OpCase* c : cases_of(op))
            have.insert({stretch(c->inputs[0].shape), stretch(c->inputs[1].shape)});
        for (const auto& p : want)
            BOOST_TEST(have.count(p) == 1u, op_name(op) << ": no case " << p.first << " with " << p.second);
    }
    // sum, mean, max along -1, 0 and 1; concat and slice along 0 and 1.
    for (OpKind op : {OpKind::sum, OpKind::mean, OpKind::max}) {
        std::set<int> axes;
        for (const OpCase* c : cases_of(op)) axes.insert(c->attr.axis);
        BOOST_TEST((axes == std::set<int>{-1, 0, 1}), op_name(op));
    }
    for (OpKind op : {OpKind::concat, OpKind::slice}) {
        std::set<int> axes;
        for (const OpCase* c : cases_of(op)) axes.insert(c->attr.axis);
        BOOST_TEST((axes == std::set<int>{0, 1}), op_name(op));
    }
    // softmax_ce with one-hot [K,m] and class-index [1,m] labels.
    bool one_hot = false, index = false;
    for (const OpCase* c : cases_of(OpKind::softmax_ce)) {
        one_hot = one_hot || (c->inputs[1].kind == OpInput::one_hot && c->inputs[1].shape == c->inputs[0].shape);
        index = index || (c->inputs[1].kind == OpInput::class_index && c->inputs[1].shape.rows == 1);
    }
    BOOST_TEST(one_hot);
    BOOST_TEST(index);
    // pow with integer and non-integer exponents.
    bool integer = false, fraction = false;
    for (const OpCase* c : cases_of(OpKind::pow)) {
        const double p = c->attr.scalar;
        (p == std::floor(p) ? integer : fraction) = true;
    }
    BOOST_TEST(integer);
    BOOST_TEST(fraction);
    // The ops with kinks have a case at their kink too.
    for (OpKind op : {OpKind::relu, OpKind::abs, OpKind::max}) {
        BOOST_TEST(ops::info(op).kinks);
        bool at_kink = false;
        for (const OpCase* c : cases_of(op)) at_kink = at_kink || c->kinks;
        BOOST_TEST(at_kink, op_name(op));
    }
}

// ---- every case passes ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(every_op_case_passes_in_double) {
    double worst = 0;
    for (const OpCase& c : op_cases()) {
        const OpCheckRow row = check_op<double>(c);
        BOOST_TEST(row.pass(), c.label << ":\n" << printed(row.report));
        BOOST_TEST(row.report.dtype == "double");
        BOOST_TEST(row.report.eps == 1e-6);
        BOOST_TEST(row.report.tolerance == 1e-6);
        // kinks exactly where the case put them
        if (c.kinks)
            BOOST_TEST(row.report.kinks() > 0u, c.label);
        else
            BOOST_TEST(row.report.kinks() == 0u, c.label << ":\n" << printed(row.report));
        for (const ParamReport& p : row.report.params) {
            BOOST_TEST(p.checked == p.entries, c.label);  // every entry
            BOOST_TEST(!p.all_zero, c.label);
        }
        worst = std::max(worst, row.report.max_rel_err());
    }
    BOOST_TEST_MESSAGE("largest relative error over every op case (double): " << worst);
    BOOST_TEST(worst < 1e-7);  // far inside the tolerance 1e-6
}

BOOST_AUTO_TEST_CASE(every_op_case_passes_in_float) {
    double worst = 0;
    for (const OpCase& c : op_cases()) {
        const OpCheckRow row = check_op<float>(c);
        BOOST_TEST(row.pass(), c.label << ":\n" << printed(row.report));
        BOOST_TEST(row.report.dtype == "float");
        BOOST_TEST(row.report.eps == 1e-3);
        BOOST_TEST(row.report.tolerance == 2e-2);
        BOOST_TEST((row.report.kinks() > 0u) == c.kinks, c.label << ":\n" << printed(row.report));
        worst = std::max(worst, row.report.max_rel_err());
    }
    BOOST_TEST_MESSAGE("largest relative error over every op case (float): " << worst);
    BOOST_TEST(worst < 2e-3);
}

BOOST_AUTO_TEST_CASE(float_values_and_gradients_agree_with_double) {
    double worst_value = 0, worst_grad = 0;
    for (const OpCase& c : op_cases()) {
        Tape<float> tf;
        Tape<double> td;
        const OpCaseTape<float> f = record_op_case(tf, c);
        const OpCaseTape<double> d = record_op_case(td, c);
        // the same inputs and weights, exactly (they are drawn as float-representable values)
        BOOST_TEST_REQUIRE(f.inputs.size() == d.inputs.size());
        for (std::size_t k = 0; k < f.inputs.size(); ++k)
            BOOST_TEST(test::norm_diff(f.inputs[k].value(), d.inputs[k].value()) == 0.0, c.label);
        BOOST_TEST(test::norm_diff(f.weights.value(), d.weights.value()) == 0.0, c.label);
        tf.backward(f.loss);
        td.backward(d.loss);
        const double ev = rel_to(f.out.value(), d.out.value());
        const double el = rel_to(f.loss.value(), d.loss.value());
        BOOST_TEST(ev <= 1e-5, c.label << ": op values differ by " << ev);
        BOOST_TEST(el <= 1e-5, c.label << ": losses differ by " << el);
        worst_value = std::max({worst_value, ev, el});
        BOOST_TEST_REQUIRE(f.params.size() == d.params.size());
        for (std::size_t k = 0; k < d.params.size(); ++k) {
            const double eg = rel_to(tf.grad(f.params[k]), td.grad(d.params[k]));
            BOOST_TEST(eg <= 1e-4, c.label << ": gradient of input " << k << " differs by " << eg);
            worst_grad = std::max(worst_grad, eg);
        }
    }
    BOOST_TEST_MESSAGE("float vs double, largest relative difference: values " << worst_value
                                                                              << ", gradients " << worst_grad);
}

// ---- the check on its own: it passes, restores, samples ----------------------------------------

namespace {

// loss = sum(tanh(W·x) ⊙ G) with W [2,3], x [3,4] parameters.
struct Small {
    Tape<double> t;
    Var<double> W, x, G, z, h, loss;
    explicit Small(std::uint32_t seed = 5) {
        NumpyRandom rng(seed);
        W = t.parameter(test::randn<double>(rng, 2, 3), "W");
        x = t.parameter(test::randn<double>(rng, 3, 4), "x");
        G = t.constant(test::randn<double>(rng, 2, 4), "G");
        z = matmul(W, x);
        h = tanh(z);
        loss = sum(h * G);
    }
    // The hand-derived gradients, with tanh' given by `dtanh` of the output.
    template <class D>
    std::vector<Matrix<double>> hand(D dtanh) {
        const Matrix<double>& H = h.value();
        Matrix<double> dz = Matrix<double>::from_shape(H.shape());
        for (std::size_t i = 0; i < H.size(); ++i)
            dz.data()[i] = G.value().data()[i] * dtanh(H.data()[i]);
        const Matrix<double>& Wv = W.value();
        const Matrix<double>& xv = x.value();
        Matrix<double> dW = xt::zeros<double>({2, 3}), dx = xt::zeros<double>({3, 4});
        for (std::size_t i = 0; i < 2; ++i)
            for (std::size_t j = 0; j < 4; ++j)
                for (std::size_t k = 0; k < 3; ++k) {
                    dW(i, k) += dz(i, j) * xv(k, j);
                    dx(k, j) += Wv(i, k) * dz(i, j);
                }
        return {dW, dx};
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(passes_and_leaves_values_and_accumulated_gradients_as_they_were) {
    Small s;
    // a caller's gradients, accumulated over two passes
    s.t.backward(s.loss);
    s.t.backward(s.loss);
    const Matrix<double> gW = s.W.grad(), gx = s.x.grad();
    const Matrix<double> W0 = s.W.value(), x0 = s.x.value(), h0 = s.h.value();
    const double l0 = s.loss.value()(0, 0);
    s.t.set_check_finite(true);

    const GradcheckReport r = gradcheck(s.t, s.loss);  // every parameter of the tape
    BOOST_TEST(r.pass(), printed(r));
    BOOST_TEST_REQUIRE(r.params.size() == 2u);
    BOOST_TEST(r.params[0].id == s.W.id());
    BOOST_TEST(r.params[0].name == "W");
    BOOST_TEST(r.params[1].label() == "%1 x");
    BOOST_TEST(r.params[0].entries == 6u);
    BOOST_TEST(r.params[0].checked == 6u);
    BOOST_TEST(r.params[0].compared == 6u);
    BOOST_TEST(r.params[1].checked == 12u);
    BOOST_TEST(r.checked() == 18u);
    BOOST_TEST(r.kinks() == 0u);
    BOOST_TEST(r.max_rel_err() < 1e-8);
    // the analytic gradient is one pass (the caller's accumulated two), and they are untouched
    BOOST_TEST(test::norm_diff(r.params[0].analytic, Matrix<double>(gW / 2.0)) == 0.0);
    BOOST_TEST(test::norm_diff(s.W.grad(), gW) == 0.0);
    BOOST_TEST(test::norm_diff(s.x.grad(), gx) == 0.0);
    // values bit for bit, anomaly detection still on
    BOOST_TEST(test::norm_diff(s.W.value(), W0) == 0.0);
    BOOST_TEST(test::norm_diff(s.x.value(), x0) == 0.0);
    BOOST_TEST(test::norm_diff(s.h.value(), h0) == 0.0);
    BOOST_TEST(s.loss.value()(0, 0) == l0);
    BOOST_TEST(s.t.check_finite());

    const std::string text = printed(r);
    BOOST_TEST(text.find("gradcheck (double): central differences, eps 1e-06, every entry") == 0u, text);
    BOOST_TEST(text.find("\n   %0 W ") != std::string::npos, text);
    BOOST_TEST(text.find("  PASS\n") != std::string::npos, text);
    BOOST_TEST(text.find("   result: PASS (2 parameters, 18 entries compared, 0 kinks") != std::string::npos, text);

    // float: the same function, its own defaults
    Tape<float> tf;
    NumpyRandom rng(5);
    auto W = tf.parameter(test::randn<float>(rng, 2, 3));
    auto x = tf.parameter(test::randn<float>(rng, 3, 4));
    auto G = tf.constant(test::randn<float>(rng, 2, 4));
    const GradcheckReport rf = gradcheck(tf, sum(tanh(matmul(W, x)) * G), {x});
    BOOST_TEST(rf.pass(), printed(rf));
    BOOST_TEST(rf.params.size() == 1u);
    BOOST_TEST(rf.eps == 1e-3);
    BOOST_TEST(rf.max_rel_err() < 1e-3);
}

BOOST_AUTO_TEST_CASE(a_sample_of_entries_is_reproducible) {
    Small s;
    GradcheckOptions o;
    o.max_entries = 4;
    o.seed = 7;
    const GradcheckReport a = gradcheck(s.t, s.loss, {s.x, s.W}, o);
    const GradcheckReport b = gradcheck(s.t, s.loss, {s.x, s.W}, o);
    BOOST_TEST(a.pass(), printed(a));
    BOOST_TEST(a.params[0].id == s.x.id());  // in the order given
    BOOST_TEST(a.params[0].checked == 4u);
    BOOST_TEST(a.params[1].checked == 4u);
    std::size_t nan = 0;
    for (double v : a.params[0].numeric) nan += std::isnan(v) ? 1 : 0;
    BOOST_TEST(nan == 8u);  // 12 entries, 4 checked
    for (std::size_t i = 0; i < 12; ++i)
        BOOST_TEST(std::isnan(a.params[0].numeric.data()[i]) == std::isnan(b.params[0].numeric.data()[i]));
    BOOST_TEST(printed(a).find("up to 4 entries per parameter (seed 7)") != std::string::npos);
}

// ---- the check fails when it should ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_wrong_gradient_fails) {
    Small s;
    // The correct hand derivation (tanh' = 1 − tanh²) passes...
    const auto right = s.hand([](double y) { return 1 - y * y; });
    const GradcheckReport ok = gradcheck_given(s.t, s.loss, {s.W, s.x}, right);
    BOOST_TEST(ok.pass(), printed(ok));
    // ...and agrees with the tape's own.
    const GradcheckReport tape = gradcheck(s.t, s.loss, {s.W, s.x});
    BOOST_TEST(test::rel_err(tape.params[0].analytic, right[0]) < 1e-14);
    BOOST_TEST(test::rel_err(tape.params[1].analytic, right[1]) < 1e-14);

    // A classic slip, tanh' = 1 − tanh, fails on both parameters.
    const auto slip = s.hand([](double y) { return 1 - y; });
    const GradcheckReport bad = gradcheck_given(s.t, s.loss, {s.W, s.x}, slip);
    BOOST_TEST(!bad.pass());
    for (const ParamReport& p : bad.params) {
        BOOST_TEST(!p.pass);
        BOOST_TEST(p.verdict() == "FAIL");
        BOOST_TEST(p.rel_err > 1e-2);
        BOOST_TEST(p.finite);
        BOOST_TEST(!p.all_zero);
    }
    const std::string text = printed(bad);
    BOOST_TEST(text.find("largest difference at (") != std::string::npos, text);
    BOOST_TEST(text.find("result: FAIL (2 of 2 parameters: %0 W, %1 x)") != std::string::npos, text);

    // One entry off by 1e-4 of the gradient's norm fails the default tolerance (1e-6), with the
    // largest difference where it was put.
    auto off = right;
    off[1](2, 3) += 1e-4 * test::norm(right[1]);
    const GradcheckReport near = gradcheck_given(s.t, s.loss, {s.W, s.x}, off);
    BOOST_TEST(near.params[0].pass);
    BOOST_TEST(!near.params[1].pass);
    BOOST_TEST(near.params[1].worst == 2 * 4 + 3u);
    BOOST_TEST(near.params[1].rel_err > 1e-6);

    // gradients of the wrong shape or number
    BOOST_CHECK_THROW(gradcheck_given(s.t, s.loss, {s.x, s.W}, right), ShapeError);
    BOOST_CHECK_THROW(gradcheck_given(s.t, s.loss, {s.W}, right), UsageError);
}

BOOST_AUTO_TEST_CASE(all_zero_gradients_fail_unless_allowed) {
    // relu of entries that are all negative: both gradients exactly zero
    Tape<double> t;
    auto x = t.parameter(Matrix<double>{{-1.0, -0.5, -2.0}, {-0.3, -4.0, -0.1}}, "x");
    auto loss = sum(relu(x));
    const GradcheckReport r = gradcheck(t, loss);
    BOOST_TEST(!r.pass());
    BOOST_TEST(r.params[0].all_zero);
    BOOST_TEST(r.params[0].compared == 6u);
    BOOST_TEST(r.params[0].verdict() == "FAIL(zero)");
    BOOST_TEST(printed(r).find("FAIL(zero)") != std::string::npos);
    GradcheckOptions o;
    o.allow_zero = true;
    const GradcheckReport a = gradcheck(t, loss, {}, o);
    BOOST_TEST(a.pass());
    BOOST_TEST(a.params[0].verdict() == "ZERO(ok)");

    // A parameter the loss does not depend on at all (no path): zero too.
    Tape<double> u;
    auto p = u.parameter(Matrix<double>{{1.0, 2.0}}, "p");
    auto q = u.parameter(Matrix<double>{{3.0}}, "q");
    auto l = sum(square(p));
    const GradcheckReport r2 = gradcheck(u, l, {p, q});
    BOOST_TEST(r2.params[0].pass);
    BOOST_TEST(r2.params[1].verdict() == "FAIL(zero)");
    BOOST_TEST(!r2.pass());
}

BOOST_AUTO_TEST_CASE(kinks_are_detected_counted_and_left_out) {
    // abs at an entry exactly 0
    {
        Tape<double> t;
        auto x = t.parameter(Matrix<double>{{0.0, 1.5, -2.0, 0.7}});
        const GradcheckReport r = gradcheck(t, sum(abs(x) * 3.0));
        BOOST_TEST(r.pass(), printed(r));
        BOOST_TEST(r.params[0].kinks == 1u);
        BOOST_TEST((r.params[0].kink_at == std::vector<std::size_t>{0}));
        BOOST_TEST(r.params[0].compared == 3u);
        // the FD straddling the kink is 0 here (|x| is even); the tape says sign(0) = 0 too — but a
        // kink is left out whatever the two say
        BOOST_TEST(printed(r).find("      kinks at (0,0)\n") != std::string::npos, printed(r));
    }
    // relu at 0
    {
        Tape<double> t;
        auto x = t.parameter(Matrix<double>{{0.5, 0.0}, {-1.0, 0.0}, {2.0, -0.25}});
        auto G = t.constant(Matrix<double>{{1.0, -2.0}, {0.5, 1.5}, {-1.0, 1.0}});
        const GradcheckReport r = gradcheck(t, sum(relu(x) * G));
        BOOST_TEST(r.pass(), printed(r));
        BOOST_TEST((r.params[0].kink_at == std::vector<std::size_t>{1, 3}));
        BOOST_TEST(r.kinks() == 2u);
        // the one-sided difference there is (G/2), the tape's relu'(0) = 0: compared, it would fail
        BOOST_TEST(std::abs(r.params[0].numeric(0, 1) - -1.0) < 1e-6);
        BOOST_TEST(r.params[0].analytic(0, 1) == 0.0);
    }
    // max with a tie: row 0 has its maximum 3 twice; row 1 a single maximum
    {
        Tape<double> t;
        auto x = t.parameter(Matrix<double>{{1.0, 3.0, 3.0, 2.0}, {0.5, 2.0, -1.0, 4.0}});
        const GradcheckReport r = gradcheck(t, sum(max(x, 1) * 2.0));
        BOOST_TEST(r.pass(), printed(r));
        BOOST_TEST((r.params[0].kink_at == std::vector<std::size_t>{1, 2}));
        BOOST_TEST(r.params[0].compared == 6u);
        // and in float
        Tape<float> tf;
        auto xf = tf.parameter(Matrix<float>{{1.0f, 3.0f, 3.0f, 2.0f}, {0.5f, 2.0f, -1.0f, 4.0f}});
        const GradcheckReport rf = gradcheck(tf, sum(max(xf, 1) * 2.0));
        BOOST_TEST(rf.pass(), printed(rf));
        BOOST_TEST((rf.params[0].kink_at == std::vector<std::size_t>{1, 2}));
    }
    // every checked entry a kink: nothing compared, a failure
    {
        Tape<double> t;
        auto x = t.parameter(Matrix<double>{{0.0}});
        const GradcheckReport r = gradcheck(t, sum(abs(x)));
        BOOST_TEST(!r.pass());
        BOOST_TEST(r.params[0].compared == 0u);
        BOOST_TEST(r.params[0].verdict() == "FAIL(none)");
    }
    // a stationary point is not a kink: the one-sided slopes there have opposite signs (the
    // relative test fires), but halving the step halves their gap and keeps the central difference
    {
        Tape<double> t;
        auto x = t.parameter(Matrix<double>{{1e-7, 1.0, -0.5}});
        const GradcheckReport r = gradcheck(t, sum(square(x)));
        BOOST_TEST(r.pass(), printed(r));
        BOOST_TEST(r.kinks() == 0u);
        BOOST_TEST(r.params[0].compared == 3u);
        Tape<float> tf;
        auto xf = tf.parameter(Matrix<float>{{1e-4f}});
        const GradcheckReport rf = gradcheck(tf, sum(square(xf)));
        BOOST_TEST(rf.pass(), printed(rf));
        BOOST_TEST(rf.kinks() == 0u);
    }
    // a smooth function is not a kink, even with a large second derivative
    {
        Tape<double> t;
        auto x = t.parameter(Matrix<double>{{0.3, -0.2, 1.5}});
        const GradcheckReport r = gradcheck(t, sum(exp(x * 4.0)) + sum(pow(x, 4.0)));
        BOOST_TEST(r.pass(), printed(r));
        BOOST_TEST(r.kinks() == 0u);
    }
}

BOOST_AUTO_TEST_CASE(non_finite_gradients_fail) {
    // sqrt at 0: the tape's gradient is inf (and sqrt(0 - eps) is NaN)
    Tape<double> t;
    auto x = t.parameter(Matrix<double>{{0.0, 1.0, 4.0}});
    t.set_check_finite(true);  // the check turns it off while it perturbs, and back on
    const GradcheckReport r = gradcheck(t, sum(sqrt(x)));
    BOOST_TEST(!r.pass());
    BOOST_TEST(!r.params[0].finite);
    BOOST_TEST(r.params[0].verdict() == "FAIL(nan)");
    BOOST_TEST(std::isnan(r.max_rel_err()));
    BOOST_TEST(t.check_finite());
}

BOOST_AUTO_TEST_CASE(usage_errors) {
    Small s;
    BOOST_CHECK_THROW(gradcheck(s.t, s.h), UsageError);          // [2,4], not [1,1]
    BOOST_CHECK_THROW(gradcheck(s.t, s.loss, {s.G}), UsageError);  // a constant
    BOOST_CHECK_THROW(gradcheck(s.t, s.loss, {s.z}), UsageError);  // an op
    BOOST_CHECK_THROW(gradcheck(s.t, s.loss, {s.W, s.W}), UsageError);
    BOOST_CHECK_THROW(gradcheck(s.t, s.loss, {NodeId(999)}), UsageError);
    BOOST_CHECK_THROW(gradcheck(s.t, NodeId(-1)), UsageError);
    GradcheckOptions o;
    o.eps = -1;
    BOOST_CHECK_THROW(gradcheck(s.t, s.loss, {}, o), UsageError);
    o.eps = 0;
    o.tolerance = std::numeric_limits<double>::quiet_NaN();
    BOOST_CHECK_THROW(gradcheck(s.t, s.loss, {}, o), UsageError);
    Tape<double> none;
    auto c = none.constant(Matrix<double>{{1.0}});
    BOOST_CHECK_THROW(gradcheck(none, c), UsageError);  // no parameters
    // the message names the node
    try {
        gradcheck(s.t, s.loss, {s.G});
    } catch (const UsageError& e) {
        BOOST_TEST(std::string(e.what()).find("(constant \"G\") is not a parameter") != std::string::npos,
                   e.what());
    }
    // nothing changed by the refused calls
    BOOST_TEST(gradcheck(s.t, s.loss).pass());
}
