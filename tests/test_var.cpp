#define BOOST_TEST_MODULE var
#include <boost/test/unit_test.hpp>

// Var<T> handles and the expression API of xgrad/var.hpp: the handle itself, operands from two
// tapes, the operators with scalars, 2-D broadcasting, every free function, the losses, the IEEE
// edges of the gradients, the anomaly check at record time, print/to_dot of the attributes, and
// the example trained by hand. Every expected value is computed here in closed form.

#include <algorithm>
#include <cmath>
#include <functional>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xview.hpp>

#include "test_util.hpp"
#include "xgrad/core/tape.hpp"

using namespace xgrad;
using M = Matrix<double>;
using V = Var<double>;

namespace {

const double kInf = std::numeric_limits<double>::infinity();

// Entrywise comparison: NaN expects NaN, ±inf expects exactly that infinity, finite values agree
// within tol relative to max(1, |expected|).
template <class A>
void check_matrix(const A& got, const M& want, double tol, const std::string& what) {
    BOOST_CHECK_MESSAGE(shape_of(got) == shape_of(want),
                        what << ": shape " << shape_of(got) << ", expected " << shape_of(want));
    if (shape_of(got) != shape_of(want)) return;
    const std::size_t n = want.shape()[1];
    for (std::size_t k = 0; k < want.size(); ++k) {
        const double g = double(got.data()[k]), w = want.data()[k];
        const bool ok = std::isnan(w)   ? std::isnan(g)
                        : std::isinf(w) ? g == w
                                        : std::abs(g - w) <= tol * std::max(1.0, std::abs(w));
        BOOST_CHECK_MESSAGE(ok, what << " (" << k / n << "," << k % n << "): got " << g << ", expected " << w);
    }
}

// f() throws E whose message contains every part; returns the message.
template <class E, class F>
std::string expect_throw(F f, const std::vector<std::string>& parts, const std::string& what) {
    try {
        f();
    } catch (const E& e) {
        const std::string msg = e.what();
        for (const auto& p : parts)
            BOOST_CHECK_MESSAGE(msg.find(p) != std::string::npos, what << ": '" << p << "' not in: " << msg);
        return msg;
    } catch (const std::exception& e) {
        BOOST_ERROR(what << ": wrong exception type: " << e.what());
        return {};
    }
    BOOST_ERROR(what << ": nothing thrown");
    return {};
}

std::size_t count_of(const std::string& s, const std::string& sub) {
    std::size_t n = 0;
    for (std::size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + 1)) ++n;
    return n;
}

// d loss / d x after one fresh backward pass (parameter gradients accumulate: zeroed first).
M grad_of(Tape<double>& t, NodeId loss, NodeId x) {
    t.zero_grad();
    t.backward(loss);
    return t.grad(x);
}

M filled(std::size_t r, std::size_t c, double v) { return M(xt::ones<double>({r, c}) * v); }

// Distinct weights of either sign for a weighted sum: a gradient that is a plain count would not
// notice entries routed to the wrong place.
M weights(Shape s) {
    M g = M::from_shape({s.rows, s.cols});
    for (std::size_t i = 0; i < s.rows; ++i)
        for (std::size_t j = 0; j < s.cols; ++j)
            g(i, j) = ((i + j) % 2 ? -1.0 : 1.0) * (1.0 + 0.25 * double(3 * i + j));
    return g;
}

template <class F>
M map_m(const M& a, F f) {
    M out = M::from_shape(a.shape());
    for (std::size_t k = 0; k < a.size(); ++k) out.data()[k] = f(a.data()[k]);
    return out;
}

double sigm(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

// ---- the handle ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(var_is_a_copyable_handle_that_converts_to_node_id) {
    static_assert(std::is_copy_constructible_v<V> && std::is_copy_assignable_v<V>);
    static_assert(std::is_trivially_copyable_v<V>, "a handle: tape pointer and id");
    static_assert(std::is_convertible_v<V, NodeId>);
    Tape<double> t;
    auto x = t.constant(M{{1.0, -2.0, 3.0}, {0.5, 0.0, -1.5}}, "x");
    auto w = t.parameter(M{{2.0, -1.0}}, "w");
    static_assert(std::is_same_v<decltype(x), V> && std::is_same_v<decltype(w), V>);
    BOOST_TEST(x.valid());
    BOOST_TEST(x.id() == 0);
    BOOST_TEST(w.id() == 1);
    BOOST_TEST(&x.tape() == &t);
    const NodeId xid = x;  // the implicit conversion of the old API
    BOOST_TEST(xid == 0);
    V copy = w;
    BOOST_TEST(copy.id() == w.id());
    BOOST_TEST(&copy.tape() == &t);
    copy = x;
    BOOST_TEST(copy.id() == 0);
    std::vector<NodeId> ids = {x, w};  // Vars where NodeIds were expected
    BOOST_TEST(ids[1] == 1);

    // value / shape / grad read the tape
    BOOST_TEST((x.shape() == Shape{2, 3}));
    BOOST_TEST((w.shape() == Shape{1, 2}));
    check_matrix(x.value(), M{{1.0, -2.0, 3.0}, {0.5, 0.0, -1.5}}, 0, "x.value()");
    BOOST_TEST(&x.value() == &t.value(x));
    BOOST_CHECK_THROW(x.grad(), UsageError);  // a constant has no gradient

    // the old id-based methods take Vars or NodeIds (mixed) and return Vars
    static_assert(std::is_same_v<decltype(t.matmul(w, xid)), V>);
    static_assert(std::is_same_v<decltype(t.relu(xid)), V>);
    const NodeId wid = w;
    auto z1 = t.matmul(w, x);
    auto z2 = t.matmul(wid, xid);
    auto z3 = t.matmul(w, xid);
    const M zexp{{2.0 * 1.0 - 0.5, 2.0 * -2.0 - 0.0, 2.0 * 3.0 + 1.5}};
    check_matrix(z1.value(), zexp, 0, "matmul(Var, Var)");
    check_matrix(z2.value(), zexp, 0, "matmul(id, id)");
    check_matrix(z3.value(), zexp, 0, "matmul(Var, id)");
    auto r = t.relu(NodeId(z1));
    check_matrix(r.value(), M{{1.5, 0.0, 7.5}}, 0, "relu(id)");
    // a Var from the old API is usable in expressions, and an expression's result in the old API
    auto loss = t.sum(r * 2.0);
    static_assert(std::is_same_v<decltype(loss), V>);
    BOOST_TEST(loss.value()(0, 0) == 18.0);
    t.backward(loss);
    // d/dw sum(2 relu(w x)) = 2 Σ_j [z_j > 0] x[:, j]ᵀ over columns 0 and 2
    check_matrix(w.grad(), M{{2.0 * (1.0 + 3.0), 2.0 * (0.5 - 1.5)}}, 0, "w.grad()");
    BOOST_TEST(&w.grad() == &t.grad(w));
    t.set_name(loss, "loss");
    BOOST_TEST(t.node(loss).name == "loss");
}

BOOST_AUTO_TEST_CASE(an_empty_var_is_a_usage_error) {
    Tape<double> t;
    auto x = t.parameter(M{{1.0, 2.0}});
    const V empty;
    BOOST_TEST(!empty.valid());
    const std::size_t n = t.size();
    BOOST_CHECK_THROW(t.relu(empty), UsageError);
    BOOST_CHECK_THROW(t.matmul(empty, x), UsageError);
    BOOST_CHECK_THROW(t.add(x, empty), UsageError);
    BOOST_CHECK_THROW(empty + x, UsageError);
    BOOST_CHECK_THROW(x + empty, UsageError);
    BOOST_CHECK_THROW(x * empty, UsageError);
    BOOST_CHECK_THROW(2.0 * empty, UsageError);
    BOOST_CHECK_THROW(-empty, UsageError);
    BOOST_CHECK_THROW(exp(empty), UsageError);
    BOOST_CHECK_THROW(sum(empty, 0), UsageError);
    BOOST_CHECK_THROW(empty.value(), UsageError);
    BOOST_CHECK_THROW(empty.tape(), UsageError);
    BOOST_CHECK_THROW(empty.shape(), UsageError);
    BOOST_TEST(t.size() == n);
}

// ---- operands from two tapes ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(operands_from_two_tapes_are_a_usage_error_naming_both) {
    Tape<double> t1, t2;
    t1.constant(M{{0.0}});
    auto a = t1.parameter(M{{1.0, 2.0}, {3.0, 4.0}}, "a");  // %1 on t1
    t2.constant(M{{0.0}});
    t2.constant(M{{0.0}});
    auto b = t2.parameter(M{{5.0, 6.0}, {7.0, 8.0}}, "b");  // %2 on t2
    BOOST_TEST(a.id() == 1);
    BOOST_TEST(b.id() == 2);
    const std::size_t n1 = t1.size(), n2 = t2.size();

    auto both = [&](const std::string& msg, const std::string& what) {
        BOOST_CHECK_MESSAGE(msg.find("%1") != std::string::npos, what << ": %1 not in " << msg);
        BOOST_CHECK_MESSAGE(msg.find("%2") != std::string::npos, what << ": %2 not in " << msg);
        BOOST_CHECK_MESSAGE(count_of(msg, "tape") >= 2, what << ": both tapes not named in " << msg);
    };
    both(expect_throw<UsageError>([&] { a + b; }, {"add", "tape"}, "a + b"), "a + b");
    both(expect_throw<UsageError>([&] { b + a; }, {"add", "tape"}, "b + a"), "b + a");
    both(expect_throw<UsageError>([&] { a - b; }, {"sub", "tape"}, "a - b"), "a - b");
    both(expect_throw<UsageError>([&] { a * b; }, {"mul", "tape"}, "a * b"), "a * b");
    both(expect_throw<UsageError>([&] { b / a; }, {"div", "tape"}, "b / a"), "b / a");
    both(expect_throw<UsageError>([&] { t2.matmul(a, b); }, {"matmul", "tape"}, "t2.matmul(a, b)"),
         "t2.matmul(a, b)");
    both(expect_throw<UsageError>([&] { t2.matmul(b, a); }, {"matmul", "tape"}, "t2.matmul(b, a)"),
         "t2.matmul(b, a)");
    both(expect_throw<UsageError>([&] { matmul(a, b); }, {"matmul", "tape"}, "matmul(a, b)"), "matmul(a, b)");
    both(expect_throw<UsageError>([&] { concat(a, b, 0); }, {"concat", "tape"}, "concat"), "concat");
    both(expect_throw<UsageError>([&] { mse(b, a); }, {"mse", "tape"}, "mse"), "mse");
    // a unary op recorded on the other tape
    expect_throw<UsageError>([&] { t2.relu(a); }, {"relu", "%1", "tape"}, "t2.relu(a)");
    expect_throw<UsageError>([&] { t2.record(OpKind::exp, a); }, {"exp", "%1", "tape"}, "t2.record(exp, a)");

    // a bare id that is not on the tape
    expect_throw<UsageError>([&] { t2.matmul(NodeId(7), b); }, {"matmul", "%7", "tape"}, "matmul(7, b)");
    expect_throw<UsageError>([&] { t2.matmul(b, NodeId(3)); }, {"matmul", "%3", "tape"}, "matmul(b, 3)");
    expect_throw<UsageError>([&] { t2.relu(NodeId(-1)); }, {"relu", "-1"}, "relu(-1)");
    expect_throw<UsageError>([&] { t2.add(b, NodeId(99)); }, {"add", "%99"}, "add(b, 99)");
    // a bare id that exists on the tape is fine (it means that tape's node)
    BOOST_TEST(t1.size() == n1);
    BOOST_TEST(t2.size() == n2);  // nothing recorded by any failed call
    auto ok = t2.add(b, NodeId(2));
    check_matrix(ok.value(), M{{10.0, 12.0}, {14.0, 16.0}}, 0, "b + %2");
    BOOST_TEST(t2.size() == n2 + 1);
    BOOST_TEST(t1.size() == n1);
}

// ---- operators with scalars ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(operators_with_a_scalar_on_either_side) {
    const M xv{{1.0, 2.0}, {-3.0, 0.5}};
    struct Case {
        const char* what;
        std::function<V(const V&)> f;
        std::function<double(double)> value, grad;
    };
    const std::vector<Case> cases = {
        {"2.0*x", [](const V& x) { return 2.0 * x; }, [](double v) { return 2 * v; }, [](double) { return 2.0; }},
        {"x*2", [](const V& x) { return x * 2; }, [](double v) { return 2 * v; }, [](double) { return 2.0; }},
        {"1.0-x", [](const V& x) { return 1.0 - x; }, [](double v) { return 1 - v; }, [](double) { return -1.0; }},
        {"x-1.0", [](const V& x) { return x - 1.0; }, [](double v) { return v - 1; }, [](double) { return 1.0; }},
        {"x+1", [](const V& x) { return x + 1; }, [](double v) { return v + 1; }, [](double) { return 1.0; }},
        {"1+x", [](const V& x) { return 1 + x; }, [](double v) { return 1 + v; }, [](double) { return 1.0; }},
        {"x/4.0", [](const V& x) { return x / 4.0; }, [](double v) { return v / 4; }, [](double) { return 0.25; }},
        {"3.0/x", [](const V& x) { return 3.0 / x; }, [](double v) { return 3 / v; },
         [](double v) { return -3 / (v * v); }},
        {"-x", [](const V& x) { return -x; }, [](double v) { return -v; }, [](double) { return -1.0; }},
        {"(2.0*x-1.0)/4.0+0.5", [](const V& x) { return (2.0 * x - 1.0) / 4.0 + 0.5; },
         [](double v) { return (2 * v - 1) / 4 + 0.5; }, [](double) { return 0.5; }},
        {"x*x+x", [](const V& x) { return x * x + x; }, [](double v) { return v * v + v; },
         [](double v) { return 2 * v + 1; }},
    };
    for (const auto& c : cases) {
        Tape<double> t;
        auto x = t.parameter(xv, "x");
        auto y = c.f(x);
        BOOST_TEST(&y.tape() == &t);
        check_matrix(y.value(), map_m(xv, c.value), 1e-15, std::string(c.what) + " value");
        check_matrix(grad_of(t, sum(y), x), map_m(xv, c.grad), 1e-15, std::string(c.what) + " gradient");
    }
    // a scalar is an attribute, never a node id: x + 1 is add_scalar, x * 2 is scale (not add / mul
    // with node %1 / %2)
    Tape<double> t;
    auto x = t.parameter(xv);
    t.constant(M{{100.0, 100.0}, {100.0, 100.0}});
    t.constant(M{{100.0, 100.0}, {100.0, 100.0}});
    BOOST_TEST(t.node(x + 1).op == OpKind::add_scalar);
    BOOST_TEST(t.node(x * 2).op == OpKind::scale);
    BOOST_TEST(t.node(2 * x).op == OpKind::scale);
    BOOST_TEST(t.node(-x).op == OpKind::scale);
    BOOST_TEST(t.node(x / 2).op == OpKind::scale);
    BOOST_TEST(t.node(x * 2).attr.scalar == 2.0);
    BOOST_TEST(t.node(x - 3).attr.scalar == -3.0);
}

BOOST_AUTO_TEST_CASE(float_tapes_take_double_scalars) {
    Tape<float> t;
    auto x = t.parameter(Matrix<float>{{1.0f, -2.0f}, {4.0f, 0.5f}});
    auto y = 1.0 - 2.0 * x / 4.0 + 0.5f;
    static_assert(std::is_same_v<decltype(y), Var<float>>);
    check_matrix(y.value(), M{{1.0, 2.5}, {-0.5, 1.25}}, 0, "float value");  // 1.5 - x/2
    t.backward(sum(y));
    check_matrix(t.grad(x), filled(2, 2, -0.5), 0, "float gradient");
    // broadcasting on floats
    auto r = t.constant(Matrix<float>{{10.0f, 20.0f}});
    check_matrix((x + r).value(), M{{11.0, 18.0}, {14.0, 20.5}}, 0, "float [2,2] + [1,2]");
}

// ---- broadcasting ---------------------------------------------------------------------------------

namespace {
struct BinOp {
    const char* name;
    std::function<V(const V&, const V&)> f;
    double (*value)(double, double);
    double (*da)(double, double);
    double (*db)(double, double);
};
const std::vector<BinOp>& bin_ops() {
    static const std::vector<BinOp> ops = {
        {"add", [](const V& a, const V& b) { return a + b; }, [](double x, double y) { return x + y; },
         [](double, double) { return 1.0; }, [](double, double) { return 1.0; }},
        {"sub", [](const V& a, const V& b) { return a - b; }, [](double x, double y) { return x - y; },
         [](double, double) { return 1.0; }, [](double, double) { return -1.0; }},
        {"mul", [](const V& a, const V& b) { return a * b; }, [](double x, double y) { return x * y; },
         [](double, double y) { return y; }, [](double x, double) { return x; }},
        {"div", [](const V& a, const V& b) { return a / b; }, [](double x, double y) { return x / y; },
         [](double, double y) { return 1.0 / y; }, [](double x, double y) { return -x / (y * y); }},
    };
    return ops;
}

// The entry of an operand of shape [r,c] that output entry (i, j) reads: a size-1 axis stretches.
std::size_t at_row(const M& m, std::size_t i) { return m.shape()[0] == 1 ? 0 : i; }
std::size_t at_col(const M& m, std::size_t j) { return m.shape()[1] == 1 ? 0 : j; }

// a op b and its gradients through sum(G ⊙ (a op b)): the value entry by entry, and each operand's
// gradient summed over the output entries that read it.
void check_broadcast(const BinOp& op, const M& av, const M& bv) {
    std::ostringstream label;
    label << op.name << " " << shape_of(av) << " with " << shape_of(bv);
    const std::string what = label.str();
    const Shape so{std::max(av.shape()[0], bv.shape()[0]), std::max(av.shape()[1], bv.shape()[1])};
    Tape<double> t;
    auto a = t.parameter(av, "a");
    auto b = t.parameter(bv, "b");
    auto y = op.f(a, b);
    BOOST_CHECK_MESSAGE(std::string(op_name(t.node(y).op)) == op.name, what << ": recorded as " << t.node(y).op);
    const M G = weights(so);
    t.backward(sum(t.constant(G) * y));
    M want = M::from_shape({so.rows, so.cols});
    M ga = xt::zeros<double>(av.shape()), gb = xt::zeros<double>(bv.shape());
    for (std::size_t i = 0; i < so.rows; ++i)
        for (std::size_t j = 0; j < so.cols; ++j) {
            const double x = av(at_row(av, i), at_col(av, j)), z = bv(at_row(bv, i), at_col(bv, j));
            want(i, j) = op.value(x, z);
            ga(at_row(av, i), at_col(av, j)) += G(i, j) * op.da(x, z);
            gb(at_row(bv, i), at_col(bv, j)) += G(i, j) * op.db(x, z);
        }
    check_matrix(y.value(), want, 1e-15, what + " value");
    check_matrix(t.grad(a), ga, 1e-14, what + " d/da");
    check_matrix(t.grad(b), gb, 1e-14, what + " d/db");
}
}  // namespace

BOOST_AUTO_TEST_CASE(broadcasting_values_and_gradients_for_every_operator) {
    const M A{{1.0, 2.0, -3.0}, {4.0, -5.0, 6.0}};  // [2,3]
    const M S{{-2.5}};                               // [1,1]
    const M C{{0.5}, {-4.0}};                        // [2,1]
    const M R{{2.0, -0.25, 8.0}};                    // [1,3]
    const M A2{{0.5, -1.5, 2.0}, {3.0, 1.0, -0.5}};  // [2,3], the same shape
    for (const auto& op : bin_ops()) {
        for (const M* b : {&S, &C, &R, &A2}) {
            check_broadcast(op, A, *b);
            check_broadcast(op, *b, A);
        }
        check_broadcast(op, C, R);  // [2,1] with [1,3] -> [2,3]: both stretch
        check_broadcast(op, R, C);
        check_broadcast(op, S, S);
        check_broadcast(op, S, C);
        check_broadcast(op, R, S);
    }
}

BOOST_AUTO_TEST_CASE(broadcast_gradients_in_closed_form) {
    const M A{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};
    Tape<double> t;
    auto a = t.parameter(A, "a");
    auto r = t.parameter(M{{1.0, 2.0, 4.0}}, "r");  // [1,3]
    auto c = t.parameter(M{{2.0}, {-1.0}}, "c");    // [2,1]
    auto s = t.parameter(M{{0.5}}, "s");            // [1,1]

    // values
    check_matrix((a + r).value(), M{{2.0, 4.0, 7.0}, {5.0, 7.0, 10.0}}, 0, "a + r");
    check_matrix((r - a).value(), M{{0.0, 0.0, 1.0}, {-3.0, -3.0, -2.0}}, 0, "r - a");
    check_matrix((c * a).value(), M{{2.0, 4.0, 6.0}, {-4.0, -5.0, -6.0}}, 0, "c * a");
    check_matrix((a / s).value(), M{{2.0, 4.0, 6.0}, {8.0, 10.0, 12.0}}, 0, "a / s");
    check_matrix((c + r).value(), M{{3.0, 4.0, 6.0}, {0.0, 1.0, 3.0}}, 0, "c + r");
    check_matrix((r * c).value(), M{{2.0, 4.0, 8.0}, {-1.0, -2.0, -4.0}}, 0, "r * c");

    // d sum(a ⊙ r) / dr = the column sums of a; / da = r in every row
    auto l1 = sum(a * r);
    check_matrix(grad_of(t, l1, r), M{{5.0, 7.0, 9.0}}, 0, "d sum(a*r)/dr");
    check_matrix(t.grad(a), M{{1.0, 2.0, 4.0}, {1.0, 2.0, 4.0}}, 0, "d sum(a*r)/da");
    // d sum(a + c) / dc = the number of columns; d sum(c * a) / dc = the row sums of a
    check_matrix(grad_of(t, sum(a + c), c), M{{3.0}, {3.0}}, 0, "d sum(a+c)/dc");
    check_matrix(grad_of(t, sum(c * a), c), M{{6.0}, {15.0}}, 0, "d sum(c*a)/dc");
    // d sum(a - s) / ds = -6 (every entry); d sum(s * a) / ds = Σ a = 21
    check_matrix(grad_of(t, sum(a - s), s), M{{-6.0}}, 0, "d sum(a-s)/ds");
    check_matrix(grad_of(t, sum(s * a), s), M{{21.0}}, 0, "d sum(s*a)/ds");
    // d sum(a / s) / ds = -Σ a / s² = -84
    check_matrix(grad_of(t, sum(a / s), s), M{{-84.0}}, 0, "d sum(a/s)/ds");
    // d sum(a / r) / dr_j = -Σ_i a_ij / r_j²
    check_matrix(grad_of(t, sum(a / r), r), M{{-5.0, -7.0 / 4.0, -9.0 / 16.0}}, 0, "d sum(a/r)/dr");
    // [2,1] times [1,3]: d/dc = Σ r = 7 in each row, d/dr = Σ c = 1 in each column
    auto l2 = sum(c * r);
    check_matrix(grad_of(t, l2, c), M{{7.0}, {7.0}}, 0, "d sum(c*r)/dc");
    check_matrix(t.grad(r), M{{1.0, 1.0, 1.0}}, 0, "d sum(c*r)/dr");
}

BOOST_AUTO_TEST_CASE(shapes_that_do_not_broadcast_are_a_shape_error_naming_both) {
    Tape<double> t;
    auto a = t.parameter(filled(2, 3, 1.0));
    auto b32 = t.parameter(filled(3, 2, 1.0));
    auto b22 = t.parameter(filled(2, 2, 1.0));
    auto b31 = t.parameter(filled(3, 1, 1.0));
    auto b13 = t.parameter(filled(1, 3, 1.0));
    auto b12 = t.parameter(filled(1, 2, 1.0));
    const std::size_t n = t.size();
    for (const auto& op : bin_ops()) {
        for (const V& b : {b32, b22, b31}) {
            const std::string bs = to_string(b.shape());
            expect_throw<ShapeError>([&] { op.f(a, b); }, {op.name, "[2,3]", bs},
                                     std::string(op.name) + " [2,3] with " + bs);
            expect_throw<ShapeError>([&] { op.f(b, a); }, {op.name, "[2,3]", bs},
                                     std::string(op.name) + " " + bs + " with [2,3]");
        }
        // [1,2] stretches along the rows but 2 != 3 columns
        expect_throw<ShapeError>([&] { op.f(b12, a); }, {op.name, "[1,2]", "[2,3]"}, std::string(op.name) + " [1,2]");
        // [1,3] with [3,1] broadcasts to [3,3]: fine
        BOOST_CHECK_NO_THROW(op.f(b13, b31));
    }
    BOOST_TEST(t.size() == n + bin_ops().size());
    BOOST_TEST((t.shape(NodeId(t.size() - 1)) == Shape{3, 3}));
    // the id-based methods broadcast and refuse the same way
    expect_throw<ShapeError>([&] { t.add(a, b32); }, {"add", "[2,3]", "[3,2]"}, "t.add");
    expect_throw<ShapeError>([&] { t.mul(b22, a); }, {"mul", "[2,2]", "[2,3]"}, "t.mul");
    check_matrix(t.mul(a, t.constant(M{{2.0}, {3.0}})).value(), M{{2.0, 2.0, 2.0}, {3.0, 3.0, 3.0}}, 0,
                 "t.mul [2,3] [2,1]");
}

// ---- the free functions -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(elementwise_functions_values_and_gradients) {
    const M xv{{0.25, 1.0, 2.0}, {0.5, 3.0, 4.0}};  // positive, for log / sqrt / pow 0.5
    const M sv{{-1.5, 0.0, 2.0}, {0.75, -3.0, 4.0}};  // signed
    struct Case {
        const char* name;
        OpKind op;
        const M* in;
        std::function<V(const V&)> f;
        std::function<double(double)> value, grad;
        double tol;
    };
    const std::vector<Case> cases = {
        {"exp", OpKind::exp, &sv, [](const V& a) { return exp(a); }, [](double v) { return std::exp(v); },
         [](double v) { return std::exp(v); }, 1e-15},
        {"log", OpKind::log, &xv, [](const V& a) { return log(a); }, [](double v) { return std::log(v); },
         [](double v) { return 1 / v; }, 1e-15},
        {"sqrt", OpKind::sqrt, &xv, [](const V& a) { return sqrt(a); }, [](double v) { return std::sqrt(v); },
         [](double v) { return 0.5 / std::sqrt(v); }, 1e-15},
        {"square", OpKind::square, &sv, [](const V& a) { return square(a); }, [](double v) { return v * v; },
         [](double v) { return 2 * v; }, 0},
        {"pow 2", OpKind::pow, &sv, [](const V& a) { return pow(a, 2.0); }, [](double v) { return v * v; },
         [](double v) { return 2 * v; }, 1e-15},
        {"pow 3", OpKind::pow, &sv, [](const V& a) { return pow(a, 3); }, [](double v) { return v * v * v; },
         [](double v) { return 3 * v * v; }, 1e-15},
        {"pow 0.5", OpKind::pow, &xv, [](const V& a) { return pow(a, 0.5); }, [](double v) { return std::sqrt(v); },
         [](double v) { return 0.5 / std::sqrt(v); }, 1e-15},
        {"pow -2", OpKind::pow, &xv, [](const V& a) { return pow(a, -2.0); }, [](double v) { return 1 / (v * v); },
         [](double v) { return -2 / (v * v * v); }, 1e-15},
        {"abs", OpKind::abs, &sv, [](const V& a) { return abs(a); }, [](double v) { return std::fabs(v); },
         [](double v) { return v > 0 ? 1.0 : v < 0 ? -1.0 : 0.0; }, 0},
        {"relu", OpKind::relu, &sv, [](const V& a) { return relu(a); }, [](double v) { return v > 0 ? v : 0.0; },
         [](double v) { return v > 0 ? 1.0 : 0.0; }, 0},
        {"sigmoid", OpKind::sigmoid, &sv, [](const V& a) { return sigmoid(a); }, [](double v) { return sigm(v); },
         [](double v) { return sigm(v) * (1 - sigm(v)); }, 1e-13},
        {"tanh", OpKind::tanh, &sv, [](const V& a) { return tanh(a); }, [](double v) { return std::tanh(v); },
         [](double v) { return 1 - std::tanh(v) * std::tanh(v); }, 1e-13},
    };
    for (const auto& c : cases) {
        Tape<double> t;
        auto x = t.parameter(*c.in);
        auto y = c.f(x);
        BOOST_CHECK_MESSAGE(t.node(y).op == c.op, c.name << " recorded as " << t.node(y).op);
        BOOST_TEST((y.shape() == Shape{2, 3}));
        check_matrix(y.value(), map_m(*c.in, c.value), c.tol, std::string(c.name) + " value");
        // weighted, so an entry routed to the wrong place shows
        const M G = weights({2, 3});
        M want = map_m(*c.in, c.grad);
        for (std::size_t k = 0; k < want.size(); ++k) want.data()[k] *= G.data()[k];
        check_matrix(grad_of(t, sum(t.constant(G) * y), x), want, c.tol, std::string(c.name) + " gradient");
    }
}

BOOST_AUTO_TEST_CASE(transpose_and_matmul) {
    Tape<double> t;
    auto a = t.parameter(M{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
    auto at = transpose(a);
    BOOST_TEST((at.shape() == Shape{3, 2}));
    check_matrix(at.value(), M{{1.0, 4.0}, {2.0, 5.0}, {3.0, 6.0}}, 0, "transpose");
    const M G{{1.0, -2.0}, {3.0, 0.5}, {-1.0, 4.0}};
    check_matrix(grad_of(t, sum(t.constant(G) * at), a), M{{1.0, 3.0, -1.0}, {-2.0, 0.5, 4.0}}, 0,
                 "d/da sum(G ⊙ aᵀ) = Gᵀ");
    // matmul(a, aᵀ) = [[14, 32], [32, 77]]; sum(a aᵀ) = Σ_j (Σ_i a_ij)², so d/da_ij = 2 · column sum j
    auto p = matmul(a, at);
    check_matrix(p.value(), M{{14.0, 32.0}, {32.0, 77.0}}, 0, "a aᵀ");
    check_matrix(grad_of(t, sum(p), a), M{{10.0, 14.0, 18.0}, {10.0, 14.0, 18.0}}, 0, "d sum(a aᵀ)/da");
    expect_throw<ShapeError>([&] { matmul(a, a); }, {"matmul", "[2,3]"}, "matmul [2,3][2,3]");
}

BOOST_AUTO_TEST_CASE(softmax_and_log_softmax_per_column) {
    // column 2 is column 0 of [0, 1, -1] shifted by 1000: exp would overflow without the shift by
    // the column's max, and forming z - (max + log Σ) instead of (z - max) - log Σ would cost an
    // ulp of 1000 (1.1e-13): all columns are checked to 1e-14.
    const M zv{{1.0, -2.0, 1000.0}, {2.0, 0.0, 1001.0}, {3.0, 2.0, 999.0}};
    auto check = [](const M& got, const M& want, const std::string& what) {
        check_matrix(M(xt::view(got, xt::all(), xt::range(0, 2))), M(xt::view(want, xt::all(), xt::range(0, 2))),
                     1e-14, what + " (columns 0-1)");
        check_matrix(M(xt::view(got, xt::all(), xt::range(2, 3))), M(xt::view(want, xt::all(), xt::range(2, 3))),
                     1e-14, what + " (column 2, logits ~1000)");
    };
    Tape<double> t;
    auto z = t.parameter(zv);
    auto s = softmax(z);
    auto ls = log_softmax(z);
    BOOST_TEST((s.shape() == Shape{3, 3}));
    BOOST_TEST((ls.shape() == Shape{3, 3}));
    BOOST_TEST(t.node(ls).op == OpKind::log_softmax);
    M want = M::from_shape({3, 3}), wantlog = M::from_shape({3, 3});
    for (std::size_t j = 0; j < 3; ++j) {
        const double mx = std::max({zv(0, j), zv(1, j), zv(2, j)});
        double den = 0;
        for (std::size_t i = 0; i < 3; ++i) den += std::exp(zv(i, j) - mx);
        double colsum = 0;
        for (std::size_t i = 0; i < 3; ++i) {
            want(i, j) = std::exp(zv(i, j) - mx) / den;
            wantlog(i, j) = (zv(i, j) - mx) - std::log(den);
            colsum += s.value()(i, j);
        }
        BOOST_TEST(colsum == 1.0, boost::test_tools::tolerance(1e-15));
    }
    // by hand: column 0 is e^k / (e + e² + e³), column 2 the same as [0, 1, -1]
    const double d0 = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
    BOOST_TEST(s.value()(2, 0) == std::exp(3.0) / d0, boost::test_tools::tolerance(1e-14));
    const double d2 = 1.0 + std::exp(1.0) + std::exp(-1.0);
    BOOST_TEST(s.value()(1, 2) == std::exp(1.0) / d2, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(ls.value()(1, 2) == 1.0 - std::log(d2), boost::test_tools::tolerance(1e-14));
    check(s.value(), want, "softmax");
    check(ls.value(), wantlog, "log_softmax");
    check(ls.value(), map_m(M(s.value()), [](double v) { return std::log(v); }), "log_softmax = log(softmax)");

    // d Σ_i G_i s_i / dz_k = s_k (G_k - Σ_i G_i s_i), per column
    const M G = weights({3, 3});
    M gs = M::from_shape({3, 3}), gls = M::from_shape({3, 3});
    for (std::size_t j = 0; j < 3; ++j) {
        double dot = 0, gsum = 0;
        for (std::size_t i = 0; i < 3; ++i) dot += G(i, j) * want(i, j), gsum += G(i, j);
        for (std::size_t i = 0; i < 3; ++i) {
            gs(i, j) = want(i, j) * (G(i, j) - dot);
            gls(i, j) = G(i, j) - want(i, j) * gsum;  // d Σ G log s / dz = G - s Σ G
        }
    }
    auto g = t.constant(G);
    check(grad_of(t, sum(g * s), z), gs, "softmax gradient");
    check(grad_of(t, sum(g * ls), z), gls, "log_softmax gradient");
    // the columns of softmax sum to 1 whatever z: the gradient of their total is 0
    check(grad_of(t, sum(s), z), M(xt::zeros<double>({3, 3})), "d sum(softmax)/dz");
    // d Σ log_softmax / dz = 1 - K softmax
    check(grad_of(t, sum(ls), z), M(1.0 - 3.0 * want), "d sum(log_softmax)/dz");
    // the id-based softmax is the same op
    check(t.softmax(z).value(), want, "t.softmax");
}

BOOST_AUTO_TEST_CASE(sum_mean_max_along_every_axis) {
    const M A{{1.0, 5.0, 3.0}, {4.0, 2.0, 6.0}};
    Tape<double> t;
    auto a = t.parameter(A);
    struct Case {
        const char* what;
        V y;
        Shape shape;
        M value;
        M grad;  // d sum(G ⊙ y) / da with G = weights(shape)
    };
    const M G11 = weights({1, 1}), G13 = weights({1, 3}), G21 = weights({2, 1});  // 1 | 1 -1.25 1.5 | 1 -1.75
    BOOST_TEST(G13(0, 1) == -1.25);
    BOOST_TEST(G21(1, 0) == -1.75);
    const std::vector<Case> cases = {
        {"sum", sum(a), {1, 1}, M{{21.0}}, filled(2, 3, 1.0)},
        {"sum -1", sum(a, -1), {1, 1}, M{{21.0}}, filled(2, 3, 1.0)},
        {"sum 0", sum(a, 0), {1, 3}, M{{5.0, 7.0, 9.0}}, M{{1.0, -1.25, 1.5}, {1.0, -1.25, 1.5}}},
        {"sum 1", sum(a, 1), {2, 1}, M{{9.0}, {12.0}}, M{{1.0, 1.0, 1.0}, {-1.75, -1.75, -1.75}}},
        {"mean", mean(a), {1, 1}, M{{3.5}}, filled(2, 3, 1.0 / 6.0)},
        {"mean -1", mean(a, -1), {1, 1}, M{{3.5}}, filled(2, 3, 1.0 / 6.0)},
        {"mean 0", mean(a, 0), {1, 3}, M{{2.5, 3.5, 4.5}}, M{{0.5, -0.625, 0.75}, {0.5, -0.625, 0.75}}},
        {"mean 1", mean(a, 1), {2, 1}, M{{3.0}, {4.0}},
         M{{1.0 / 3, 1.0 / 3, 1.0 / 3}, {-1.75 / 3, -1.75 / 3, -1.75 / 3}}},
        {"max -1", max(a, -1), {1, 1}, M{{6.0}}, M{{0.0, 0.0, 0.0}, {0.0, 0.0, 1.0}}},
        {"max 0", max(a, 0), {1, 3}, M{{4.0, 5.0, 6.0}}, M{{0.0, -1.25, 0.0}, {1.0, 0.0, 1.5}}},
        {"max 1", max(a, 1), {2, 1}, M{{5.0}, {6.0}}, M{{0.0, 1.0, 0.0}, {0.0, 0.0, -1.75}}},
        {"t.sum", t.sum(a), {1, 1}, M{{21.0}}, filled(2, 3, 1.0)},
        {"t.mean", t.mean(a), {1, 1}, M{{3.5}}, filled(2, 3, 1.0 / 6.0)},
    };
    for (const auto& c : cases) {
        BOOST_CHECK_MESSAGE(c.y.shape() == c.shape, c.what << ": shape " << c.y.shape());
        check_matrix(c.y.value(), c.value, 1e-15, std::string(c.what) + " value");
        const M& G = c.shape.cols == 3 ? G13 : c.shape.rows == 2 ? G21 : G11;
        check_matrix(grad_of(t, sum(t.constant(G) * c.y), a), c.grad, 1e-15, std::string(c.what) + " gradient");
    }
}

BOOST_AUTO_TEST_CASE(max_gradient_goes_to_the_first_maximum) {
    Tape<double> t;
    // column 0 is [3, 3, 1]: the maximum twice, rows 0 and 1; column 1 is [0, 5, 5]
    auto a = t.parameter(M{{3.0, 0.0}, {3.0, 5.0}, {1.0, 5.0}});
    auto m0 = max(a, 0);
    check_matrix(m0.value(), M{{3.0, 5.0}}, 0, "max axis 0 with ties");
    check_matrix(grad_of(t, sum(m0), a), M{{1.0, 0.0}, {0.0, 1.0}, {0.0, 0.0}}, 0, "first maximum along the rows");
    // along the columns: row [2, 7, 7] -> [0, 1, 0]
    auto b = t.parameter(M{{2.0, 7.0, 7.0}, {-1.0, -1.0, -1.0}});
    auto m1 = max(b, 1);
    check_matrix(m1.value(), M{{7.0}, {-1.0}}, 0, "max axis 1 with ties");
    check_matrix(grad_of(t, sum(m1), b), M{{0.0, 1.0, 0.0}, {1.0, 0.0, 0.0}}, 0, "first maximum along the columns");
    // over every entry: the first in row-major order (numpy's argmax)
    auto c = t.parameter(M{{1.0, 4.0}, {4.0, 4.0}});
    check_matrix(grad_of(t, max(c, -1), c), M{{0.0, 1.0}, {0.0, 0.0}}, 0, "first maximum of every entry");
}

BOOST_AUTO_TEST_CASE(concat_along_both_axes) {
    Tape<double> t;
    auto a = t.parameter(M{{1.0, 2.0}});                // [1,2]
    auto b = t.parameter(M{{3.0, 4.0}, {5.0, 6.0}});    // [2,2]
    auto c = t.parameter(M{{7.0}, {8.0}});              // [2,1]
    auto v = concat(a, b, 0);
    BOOST_TEST((v.shape() == Shape{3, 2}));
    check_matrix(v.value(), M{{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}}, 0, "concat axis 0");
    const M Gv = weights({3, 2});  // 1 -1.25 | -1.75 2 | 2.5 -2.75
    t.backward(sum(t.constant(Gv) * v));
    check_matrix(t.grad(a), M{{1.0, -1.25}}, 0, "concat axis 0: d/da");
    check_matrix(t.grad(b), M{{-1.75, 2.0}, {2.5, -2.75}}, 0, "concat axis 0: d/db");

    auto h = concat(c, b, 1);
    BOOST_TEST((h.shape() == Shape{2, 3}));
    check_matrix(h.value(), M{{7.0, 3.0, 4.0}, {8.0, 5.0, 6.0}}, 0, "concat axis 1");
    const M Gh = weights({2, 3});  // 1 -1.25 1.5 | -1.75 2 -2.25
    t.zero_grad();
    t.backward(sum(t.constant(Gh) * h));
    check_matrix(t.grad(c), M{{1.0}, {-1.75}}, 0, "concat axis 1: d/dc");
    check_matrix(t.grad(b), M{{-1.25, 1.5}, {2.0, -2.25}}, 0, "concat axis 1: d/db");
    // a Var with itself
    check_matrix(concat(b, b, 1).value(), M{{3.0, 4.0, 3.0, 4.0}, {5.0, 6.0, 5.0, 6.0}}, 0, "concat(b, b, 1)");
    check_matrix(grad_of(t, sum(concat(b, b, 0)), b), filled(2, 2, 2.0), 0, "d sum(concat(b, b))/db");

    const std::size_t n = t.size();
    expect_throw<ShapeError>([&] { concat(a, c, 0); }, {"concat", "[1,2]", "[2,1]"}, "concat axis 0 mismatch");
    expect_throw<ShapeError>([&] { concat(a, b, 1); }, {"concat", "[1,2]", "[2,2]"}, "concat axis 1 mismatch");
    expect_throw<UsageError>([&] { concat(b, b, 2); }, {"concat", "axis 2"}, "concat axis 2");
    expect_throw<UsageError>([&] { concat(b, b, -1); }, {"concat", "axis -1"}, "concat axis -1");
    BOOST_TEST(t.size() == n);
}

BOOST_AUTO_TEST_CASE(rows_and_cols_slices) {
    Tape<double> t;
    const M A{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}, {7.0, 8.0, 9.0}, {10.0, 11.0, 12.0}};  // [4,3]
    auto a = t.parameter(A);
    auto r = rows(a, 1, 3);
    BOOST_TEST((r.shape() == Shape{2, 3}));
    check_matrix(r.value(), M{{4.0, 5.0, 6.0}, {7.0, 8.0, 9.0}}, 0, "rows 1..3");
    const M Gr = weights({2, 3});
    check_matrix(grad_of(t, sum(t.constant(Gr) * r), a),
                 M{{0.0, 0.0, 0.0}, {1.0, -1.25, 1.5}, {-1.75, 2.0, -2.25}, {0.0, 0.0, 0.0}}, 0, "d rows/da");
    auto c = cols(a, 2, 3);
    BOOST_TEST((c.shape() == Shape{4, 1}));
    check_matrix(c.value(), M{{3.0}, {6.0}, {9.0}, {12.0}}, 0, "cols 2..3");
    check_matrix(grad_of(t, sum(c * 2.0), a),
                 M{{0.0, 0.0, 2.0}, {0.0, 0.0, 2.0}, {0.0, 0.0, 2.0}, {0.0, 0.0, 2.0}}, 0, "d cols/da");
    auto c01 = cols(a, 0, 2);
    check_matrix(c01.value(), M{{1.0, 2.0}, {4.0, 5.0}, {7.0, 8.0}, {10.0, 11.0}}, 0, "cols 0..2");
    // whole range, and a slice of a slice
    check_matrix(rows(a, 0, 4).value(), A, 0, "rows 0..4");
    check_matrix(cols(rows(a, 3, 4), 1, 2).value(), M{{11.0}}, 0, "a[3:4, 1:2]");
    // two overlapping slices add up in the gradient
    check_matrix(grad_of(t, sum(rows(a, 0, 2)) + sum(rows(a, 1, 4)), a),
                 M{{1.0, 1.0, 1.0}, {2.0, 2.0, 2.0}, {1.0, 1.0, 1.0}, {1.0, 1.0, 1.0}}, 0, "overlapping slices");

    const std::size_t n = t.size();
    expect_throw<ShapeError>([&] { rows(a, 2, 5); }, {"rows", "[4,3]"}, "rows end > rows");
    expect_throw<ShapeError>([&] { rows(a, 2, 2); }, {"rows", "[4,3]"}, "rows empty");
    expect_throw<ShapeError>([&] { rows(a, 3, 1); }, {"rows", "[4,3]"}, "rows begin > end");
    expect_throw<ShapeError>([&] { rows(a, 4, 5); }, {"rows", "[4,3]"}, "rows begin = rows");
    expect_throw<ShapeError>([&] { cols(a, 1, 4); }, {"cols", "[4,3]"}, "cols end > cols");
    expect_throw<ShapeError>([&] { cols(a, 3, 3); }, {"cols", "[4,3]"}, "cols empty");
    expect_throw<ShapeError>([&] { cols(a, 2, 0); }, {"cols", "[4,3]"}, "cols begin > end");
    BOOST_TEST(t.size() == n);
}

BOOST_AUTO_TEST_CASE(a_bad_axis_is_a_usage_error) {
    Tape<double> t;
    auto a = t.parameter(filled(2, 3, 1.0));
    const std::size_t n = t.size();
    expect_throw<UsageError>([&] { sum(a, 2); }, {"sum", "axis 2"}, "sum axis 2");
    expect_throw<UsageError>([&] { mean(a, -2); }, {"mean", "axis -2"}, "mean axis -2");
    expect_throw<UsageError>([&] { max(a, 5); }, {"max", "axis 5"}, "max axis 5");
    expect_throw<UsageError>([&] { concat(a, a, 3); }, {"concat", "axis 3"}, "concat axis 3");
    Attr bad;
    bad.axis = 2;
    bad.begin = 0;
    bad.end = 1;
    expect_throw<UsageError>([&] { t.record(OpKind::slice, a, bad); }, {"slice", "axis 2"}, "slice axis 2");
    BOOST_TEST(t.size() == n);
}

// ---- losses ---------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(mse_is_the_mean_of_squared_differences) {
    Tape<double> t;
    auto a = t.parameter(M{{1.0, 2.0, 0.0}, {3.0, 4.0, -1.0}});
    auto y = t.parameter(M{{0.5, 2.5, 1.0}, {3.0, 2.0, -1.5}});  // a target that needs a gradient too
    auto l = mse(a, y);
    BOOST_TEST((l.shape() == Shape{1, 1}));
    BOOST_TEST(t.node(l).op == OpKind::mse);
    // (0.25 + 0.25 + 1 + 0 + 4 + 0.25) / 6, over every entry (not per column)
    BOOST_TEST(l.value()(0, 0) == 5.75 / 6.0, boost::test_tools::tolerance(1e-15));
    t.backward(l);
    // d/da = 2 (a - y) / 6, d/dy = -2 (a - y) / 6
    const M d{{0.5, -0.5, -1.0}, {0.0, 2.0, 0.5}};
    check_matrix(t.grad(a), M(d * (2.0 / 6.0)), 1e-15, "mse d/da");
    check_matrix(t.grad(y), M(d * (-2.0 / 6.0)), 1e-15, "mse d/dy");
    // the same as mean(square(a - y))
    auto l2 = mean(square(a - y));
    BOOST_TEST(l2.value()(0, 0) == l.value()(0, 0), boost::test_tools::tolerance(1e-15));
    check_matrix(grad_of(t, l2, a), M(d * (2.0 / 6.0)), 1e-15, "mean(square(a - y)) d/da");
    expect_throw<ShapeError>([&] { mse(a, t.constant(filled(3, 2, 0.0))); }, {"mse", "[2,3]", "[3,2]"}, "mse shapes");
}

BOOST_AUTO_TEST_CASE(losses_on_vars_equal_the_tape_methods) {
    const M pv{{0.2, 0.9, 0.6}, {0.7, 0.1, 0.35}};
    const M yv{{0.0, 1.0, 1.0}, {1.0, 0.0, 0.0}};
    const M zv{{-1.0, 2.0, 0.5}, {3.0, -0.5, 1.5}};
    const M ci{{1.0, 0.0, 1.0}};  // class indices of the 3 columns
    Tape<double> t;
    auto p = t.parameter(pv), y = t.constant(yv), z = t.parameter(zv), c = t.constant(ci);
    struct Pair {
        const char* what;
        V fn, method;
        NodeId wrt;
    };
    const std::vector<Pair> pairs = {
        {"bce", bce(p, y), t.bce(p, y), p},
        {"sigmoid_bce", sigmoid_bce(z, y), t.sigmoid_bce(z, y), z},
        {"softmax_ce one-hot", softmax_ce(z, y), t.softmax_ce(z, y), z},
        {"softmax_ce indices", softmax_ce(z, c), t.softmax_ce(z, c), z},
    };
    for (const auto& pr : pairs) {
        BOOST_CHECK_MESSAGE(t.node(pr.fn).op == t.node(pr.method).op, pr.what);
        BOOST_CHECK_MESSAGE(pr.fn.value()(0, 0) == pr.method.value()(0, 0), pr.what);
        const M g1 = grad_of(t, pr.fn, pr.wrt);
        const M g2 = grad_of(t, pr.method, pr.wrt);
        check_matrix(g1, g2, 0, std::string(pr.what) + " gradients");
    }
    // and the closed forms
    double b = 0, sb = 0, ce = 0;
    for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t j = 0; j < 3; ++j) {
            b -= yv(i, j) * std::log(pv(i, j)) + (1 - yv(i, j)) * std::log(1 - pv(i, j));
            const double s = sigm(zv(i, j));
            sb -= yv(i, j) * std::log(s) + (1 - yv(i, j)) * std::log(1 - s);
        }
    for (std::size_t j = 0; j < 3; ++j) {
        const double lse = std::log(std::exp(zv(0, j)) + std::exp(zv(1, j)));
        ce += lse - zv(std::size_t(ci(0, j)), j);
    }
    BOOST_TEST(pairs[0].fn.value()(0, 0) == b / 3, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(pairs[1].fn.value()(0, 0) == sb / 3, boost::test_tools::tolerance(1e-13));
    BOOST_TEST(pairs[3].fn.value()(0, 0) == ce / 3, boost::test_tools::tolerance(1e-14));
    // yv as one-hot labels: its columns are [0,1] [1,0] [1,0] (classes 1 0 0, not ci's 1 0 1)
    double ce_onehot = 0;
    for (std::size_t j = 0; j < 3; ++j) {
        const double lse = std::log(std::exp(zv(0, j)) + std::exp(zv(1, j)));
        ce_onehot += yv(0, j) * (lse - zv(0, j)) + yv(1, j) * (lse - zv(1, j));
    }
    BOOST_TEST(pairs[2].fn.value()(0, 0) == ce_onehot / 3, boost::test_tools::tolerance(1e-14));
    // d bce / dp = (-(y/p) + (1-y)/(1-p)) / m
    M gb = M::from_shape({2, 3});
    for (std::size_t k = 0; k < 6; ++k)
        gb.data()[k] = (-(yv.data()[k] / pv.data()[k]) + (1 - yv.data()[k]) / (1 - pv.data()[k])) / 3;
    check_matrix(grad_of(t, pairs[0].fn, p), gb, 1e-14, "bce d/dp");
}

// ---- IEEE edges -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(gradients_at_the_edges_follow_ieee) {
    Tape<double> t;  // the anomaly check is off by default
    BOOST_TEST(!t.check_finite());
    // log at 0: value -inf, gradient +inf
    auto x0 = t.parameter(M{{0.0, 1.0}});
    auto lg = log(x0);
    BOOST_TEST(std::isinf(lg.value()(0, 0)));
    BOOST_TEST(lg.value()(0, 0) < 0);
    M g = grad_of(t, sum(lg), x0);
    BOOST_TEST(std::isinf(g(0, 0)));
    BOOST_TEST(g(0, 0) > 0);
    BOOST_TEST(g(0, 1) == 1.0);
    // sqrt at 0: value 0, gradient +inf
    auto sq = sqrt(x0);
    BOOST_TEST(sq.value()(0, 0) == 0.0);
    g = grad_of(t, sum(sq), x0);
    BOOST_TEST(std::isinf(g(0, 0)));
    BOOST_TEST(g(0, 0) > 0);
    BOOST_TEST(g(0, 1) == 0.5);
    // a non-integer power of a negative number: NaN value and NaN gradient
    auto xn = t.parameter(M{{-1.0, 4.0}});
    auto ph = pow(xn, 0.5);
    BOOST_TEST(std::isnan(ph.value()(0, 0)));
    BOOST_TEST(ph.value()(0, 1) == 2.0);
    g = grad_of(t, sum(ph), xn);
    BOOST_TEST(std::isnan(g(0, 0)));
    BOOST_TEST(g(0, 1) == 0.25);
    // an integer power of a negative number is fine: (-1)^3 = -1, d = 3
    auto p3 = pow(xn, 3.0);
    BOOST_TEST(p3.value()(0, 0) == -1.0);
    BOOST_TEST(grad_of(t, sum(p3), xn)(0, 0) == 3.0);
    // pow 0: value 1 everywhere (0^0 = 1), gradient 0 even at 0 (not 0 · 0^-1 = NaN)
    auto pz = pow(x0, 0.0);
    check_matrix(pz.value(), M{{1.0, 1.0}}, 0, "x^0");
    g = grad_of(t, sum(pz), x0);
    BOOST_TEST(g(0, 0) == 0.0);
    BOOST_TEST(g(0, 1) == 0.0);
    // pow -1 at 0: +inf, gradient -1 · 0^-2 = -inf; 3.0 / x likewise
    auto pm = pow(x0, -1.0);
    BOOST_TEST(pm.value()(0, 0) == kInf);
    BOOST_TEST(grad_of(t, sum(pm), x0)(0, 0) == -kInf);
    auto q = 3.0 / x0;
    BOOST_TEST(q.value()(0, 0) == kInf);
    BOOST_TEST(q.value()(0, 1) == 3.0);
    BOOST_TEST(grad_of(t, sum(q), x0)(0, 0) == -kInf);

    // division by zero: 1/0 = +inf, -1/0 = -inf, 0/0 = NaN; d/dnum = 1/0 = +inf;
    // d/dden = -num/0² = -inf, +inf, NaN
    auto num = t.parameter(M{{1.0, -1.0, 0.0, 6.0}});
    auto den = t.parameter(M{{0.0, 0.0, 0.0, 2.0}});
    auto dv = num / den;
    BOOST_TEST(dv.value()(0, 0) == kInf);
    BOOST_TEST(dv.value()(0, 1) == -kInf);
    BOOST_TEST(std::isnan(dv.value()(0, 2)));
    BOOST_TEST(dv.value()(0, 3) == 3.0);
    t.zero_grad();
    t.backward(sum(dv));  // the loss is NaN; with the check off the pass still runs
    check_matrix(t.grad(num), M{{kInf, kInf, kInf, 0.5}}, 0, "d(num/den)/dnum");
    check_matrix(t.grad(den), M{{-kInf, kInf, NAN, -1.5}}, 0, "d(num/den)/dden");
    // dividing by a negative zero flips the signs
    auto nz = t.constant(M{{-0.0}});
    auto dn = num / nz;
    BOOST_TEST(dn.value()(0, 0) == -kInf);
    BOOST_TEST(dn.value()(0, 1) == kInf);
    check_matrix(grad_of(t, sum(dn), num), M{{-kInf, -kInf, -kInf, -kInf}}, 0, "d(num/-0)/dnum");

    // abs'(0) = 0 and relu'(0) = 0 (PyTorch), at both signs of zero
    auto s = t.parameter(M{{0.0, -0.0, 2.0, -3.0}});
    check_matrix(grad_of(t, sum(abs(s)), s), M{{0.0, 0.0, 1.0, -1.0}}, 0, "abs'");
    check_matrix(grad_of(t, sum(relu(s)), s), M{{0.0, 0.0, 1.0, 0.0}}, 0, "relu'");
    check_matrix(abs(s).value(), M{{0.0, 0.0, 2.0, 3.0}}, 0, "abs");
    BOOST_TEST(!std::signbit(abs(s).value()(0, 1)));
}

// ---- the anomaly check at record time ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(anomaly_check_names_the_op_when_it_is_recorded) {
    Tape<double> t;
    t.set_check_finite(true);
    auto p = t.parameter(M{{0.0, 0.5}}, "p");
    auto y = t.constant(M{{1.0, 1.0}}, "y");
    std::size_t n = t.size();
    // bce with p = 0 where y = 1: -log 0 = inf, caught when recorded (not first by backward)
    expect_throw<NumericError>([&] { bce(p, y); },
                               {"record", "%" + std::to_string(n) + " (bce)", "not finite", "inf",
                                "%0 (parameter \"p\")", "%1 (constant \"y\")"},
                               "bce(p = 0, y = 1)");
    BOOST_TEST(t.size() == n);  // no half-recorded node
    expect_throw<NumericError>([&] { t.bce(p, y); }, {"(bce)"}, "t.bce(p = 0, y = 1)");
    BOOST_TEST(t.size() == n);
    // log at 0
    expect_throw<NumericError>([&] { log(p); }, {"record", "%" + std::to_string(n) + " (log)", "-inf"}, "log(0)");
    BOOST_TEST(t.size() == n);
    // the others name themselves too
    auto zero = t.constant(M{{0.0, 0.0}});
    auto big = t.parameter(M{{1e200, 1000.0}});
    n = t.size();
    expect_throw<NumericError>([&] { p / zero; }, {"(div)"}, "p / 0");
    expect_throw<NumericError>([&] { 1.0 / zero; }, {"(pow)"}, "1 / 0");
    expect_throw<NumericError>([&] { exp(big); }, {"(exp)"}, "exp(1000)");
    expect_throw<NumericError>([&] { square(big); }, {"(square)"}, "square(1e200)");
    expect_throw<NumericError>([&] { sqrt(-big); }, {"(sqrt)", "nan"}, "sqrt(-1e200)");
    n = t.size();  // -big was recorded (it is finite); the sqrt was not
    expect_throw<NumericError>([&] { mse(big, zero); }, {"(mse)"}, "mse overflow");
    expect_throw<NumericError>([&] { sum(big * big); }, {"(mul)"}, "the product, not the sum after it");
    BOOST_TEST(t.size() == n);
    // the tape stays usable: the next op takes the next id
    auto ok = p + 1.0;
    BOOST_TEST(std::size_t(ok.id()) == n);
    BOOST_TEST(t.size() == n + 1);

    // with the check off the same records give the IEEE values without throwing
    t.set_check_finite(false);
    auto l = bce(p, y);
    BOOST_TEST(l.value()(0, 0) == kInf);
    auto lg = log(p);
    BOOST_TEST(lg.value()(0, 0) == -kInf);
}

BOOST_AUTO_TEST_CASE(anomaly_check_in_forward_names_the_first_non_finite_op) {
    Tape<double> t;
    auto x = t.parameter(M{{1.0, 2.0}}, "x");
    auto l1 = log(x);
    auto loss = sum(l1 * 3.0);
    t.set_check_finite(true);
    t.forward();  // finite: no complaint
    t.set_value(x, M{{0.0, 2.0}});
    const std::string msg = expect_throw<NumericError>(
        [&] { t.forward(); }, {"forward", "%" + std::to_string(l1.id()) + " (log)", "-inf", "%0 (parameter \"x\")"},
        "forward with log(0)");
    // the first non-finite op only: not the scale or the sum after it
    BOOST_TEST(msg.find("(scale)") == std::string::npos, msg);
    BOOST_TEST(msg.find("(sum)") == std::string::npos, msg);
    // a loss whose value overflows in forward
    Tape<double> u;
    auto p = u.parameter(M{{0.5, 0.25}});
    auto lab = u.constant(M{{1.0, 0.0}});
    auto lb = bce(p, lab);
    u.set_check_finite(true);
    u.set_value(p, M{{0.5, 1.0}});  // log(1 - 1) where the label is 0
    expect_throw<NumericError>([&] { u.forward(); }, {"forward", "%" + std::to_string(lb.id()) + " (bce)"},
                               "forward with bce at p = 1");
    (void)loss;
}

// ---- print and to_dot -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(print_and_dot_show_the_attributes) {
    Tape<double> t;
    auto x = t.parameter(filled(4, 3, 1.0), "x");  // %0
    auto s = 2.0 * x;                              // %1 scale c=2
    auto a = sum(x, 0);                            // %2 sum axis=0
    auto r = rows(x, 1, 3);                        // %3 slice axis=0 [1,3)
    auto ls = log_softmax(x);                      // %4
    auto c = concat(x, s, 0);                      // %5 concat axis=0
    auto p = pow(x, 0.5);                          // %6 pow c=0.5
    auto k = cols(x, 0, 2);                        // %7 slice axis=1 [0,2)
    auto e = exp(x);                               // %8 no attribute
    auto m = mean(x);                              // %9 mean axis=-1
    BOOST_TEST(e.id() == 8);
    std::ostringstream os;
    t.print(os);
    const std::string text = os.str();
    for (const std::string& line :
         {"%1 = scale %0  [4,3]  grad  c=2\n", "%2 = sum %0  [1,3]  grad  axis=0\n",
          "%3 = slice %0  [2,3]  grad  axis=0  [1,3)\n", "%4 = log_softmax %0  [4,3]  grad\n",
          "%5 = concat %0 %1  [8,3]  grad  axis=0\n", "%6 = pow %0  [4,3]  grad  c=0.5\n",
          "%7 = slice %0  [4,2]  grad  axis=1  [0,2)\n", "%8 = exp %0  [4,3]  grad\n",
          "%9 = mean %0  [1,1]  grad  axis=-1\n"})
        BOOST_CHECK_MESSAGE(text.find(line) != std::string::npos, line << " not in\n" << text);
    const std::string dot = t.to_dot();
    for (const std::string& label : {"%1 scale c=2\\n[4,3]", "%2 sum axis=0\\n[1,3]", "%3 slice axis=0 [1,3)\\n[2,3]",
                                     "%4 log_softmax\\n[4,3]", "%5 concat axis=0\\n[8,3]", "%6 pow c=0.5\\n",
                                     "%8 exp\\n[4,3]"})
        BOOST_CHECK_MESSAGE(dot.find(label) != std::string::npos, label << " not in\n" << dot);
    BOOST_TEST(dot.find("n1 -> n5;") != std::string::npos, dot);
    (void)a, (void)r, (void)ls, (void)c, (void)p, (void)k, (void)m;
}

// ---- the example ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_example_expression_compiles_and_trains) {
    // 8 points in the plane, label 1 where x0 + x1 > 0
    const M X{{1.0, 2.0, -1.0, -2.0, 0.5, -0.5, 1.5, -1.5}, {0.5, -0.5, -0.5, 0.5, 1.0, -1.0, 1.0, -1.0}};
    const M Y{{1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0}};
    Tape<double> t;
    auto W = t.parameter(M{{0.1, -0.2}}, "W");
    auto b = t.parameter(M{{0.0}}, "b");  // [1,1], broadcast over the 8 columns
    auto x = t.constant(X, "x");
    auto y = t.constant(Y, "y");
    auto loss = mean(square(sigmoid(matmul(W, x) + b) - y)) + 0.01 * sum(square(W));
    static_assert(std::is_same_v<decltype(loss), V>);
    BOOST_TEST((loss.shape() == Shape{1, 1}));

    // the initial value in closed form
    auto closed = [&](const M& w, double bias) {
        double s = 0;
        for (std::size_t j = 0; j < 8; ++j) {
            const double d = sigm(w(0, 0) * X(0, j) + w(0, 1) * X(1, j) + bias) - Y(0, j);
            s += d * d;
        }
        return s / 8 + 0.01 * (w(0, 0) * w(0, 0) + w(0, 1) * w(0, 1));
    };
    const double initial = loss.value()(0, 0);
    BOOST_TEST(initial == closed(M{{0.1, -0.2}}, 0.0), boost::test_tools::tolerance(1e-13));

    // the gradient against centered differences of the closed form
    t.backward(loss);
    M wv = M{{0.1, -0.2}};
    const M num = test::numeric_grad([&] { return closed(wv, 0.0); }, wv);
    check_matrix(t.grad(W), num, 1e-7, "d loss / dW");
    M bv{{0.0}};
    const M numb = test::numeric_grad([&] { return closed(M{{0.1, -0.2}}, bv(0, 0)); }, bv);
    check_matrix(t.grad(b), numb, 1e-7, "d loss / db");

    // 200 steps of plain gradient descent by hand
    const double lr = 2.0;
    for (int step = 0; step < 200; ++step) {
        t.forward();
        t.zero_grad();
        t.backward(loss);
        for (NodeId p : {NodeId(W), NodeId(b)}) t.leaf_value(p) -= lr * t.param_grad(p);
    }
    t.forward();
    const double final_loss = loss.value()(0, 0);
    BOOST_TEST(final_loss == closed(t.value(W), t.value(b)(0, 0)), boost::test_tools::tolerance(1e-13));
    BOOST_TEST_MESSAGE(std::setprecision(10) << "example: loss " << initial << " -> " << final_loss);
    // measured: 0.2461459 -> 0.0415540, a factor 5.92 (lr 2, 200 steps)
    BOOST_TEST(final_loss < initial / 5.5);
    BOOST_TEST(final_loss < 0.045);
    // every training point classified right
    auto pred = sigmoid(matmul(W, x) + b);
    for (std::size_t j = 0; j < 8; ++j)
        BOOST_CHECK_MESSAGE((pred.value()(0, j) > 0.5) == (Y(0, j) == 1.0), "column " << j);
}

// Found in review: a Var or a double where a node id, an axis or an exponent is expected must not
// compile into a silent conversion (Var -> NodeId -> int/double, double -> NodeId).
namespace {
template <class A, class B, class = void>
struct can_pow : std::false_type {};
template <class A, class B>
struct can_pow<A, B, std::void_t<decltype(pow(std::declval<A>(), std::declval<B>()))>> : std::true_type {};
template <class A, class B, class = void>
struct can_max : std::false_type {};
template <class A, class B>
struct can_max<A, B, std::void_t<decltype(max(std::declval<A>(), std::declval<B>()))>> : std::true_type {};
template <class A, class B, class = void>
struct can_add : std::false_type {};
template <class A, class B>
struct can_add<A, B, std::void_t<decltype(std::declval<A>() + std::declval<B>())>> : std::true_type {};
template <class B, class = void>
struct tape_mul_takes : std::false_type {};
template <class B>
struct tape_mul_takes<B, std::void_t<decltype(std::declval<Tape<double>&>().mul(std::declval<Var<double>>(), std::declval<B>()))>>
    : std::true_type {};
}  // namespace

static_assert(can_pow<Var<double>, double>::value && !can_pow<Var<double>, Var<double>>::value);
static_assert(can_max<Var<double>, int>::value && !can_max<Var<double>, Var<double>>::value);
static_assert(can_add<Var<double>, Var<double>>::value && can_add<Var<double>, double>::value);
static_assert(!can_add<Var<float>, Var<double>>::value);
static_assert(tape_mul_takes<NodeId>::value && tape_mul_takes<Var<double>>::value && !tape_mul_takes<double>::value);

BOOST_AUTO_TEST_CASE(conversions_that_would_be_silent_do_not_compile) {
    BOOST_TEST(true);  // the static_asserts above are the test
}
