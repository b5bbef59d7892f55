#define BOOST_TEST_MODULE expressions
#include <boost/test/unit_test.hpp>

// The expression API (xgrad::Var, include/xgrad/core/var.hpp) against independent expected values:
// PyTorch's autograd in float64 (tests/fixtures/make_ops_fixture.py -> ops_torch.h5) gives the
// value and the gradients of named expressions covering every op of xgrad/op_list.hpp and every
// broadcast case of + - * /. Here each name has a builder writing the same expression on a
// Tape<double>; the objective is sum(out * G) with the fixture's fixed G as a constant.
//
// Tolerance, per tensor (a value or one gradient): the relative Frobenius-norm error
//     ‖xgrad − torch‖ ≤ 1e-12 · ‖torch‖      (an all-zero expected tensor must be matched exactly)
// and the shapes must be equal.

#include <H5Cpp.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "xgrad/core/tape.hpp"

using namespace xgrad;
using M = Matrix<double>;
using V = Var<double>;

namespace {

const std::string kFixture = std::string(XGRAD_SOURCE_DIR) + "/tests/fixtures/ops_torch.h5";
constexpr double kTol = 1e-12;

// ---- reading the fixture ----------------------------------------------------------------------

M read_matrix(const H5::Group& g, const std::string& name) {
    const H5::DataSet d = g.openDataSet(name);
    const H5::DataSpace space = d.getSpace();
    BOOST_REQUIRE_MESSAGE(space.getSimpleExtentNdims() == 2, name << " is not 2-D");
    hsize_t dims[2] = {0, 0};
    space.getSimpleExtentDims(dims);
    M m = M::from_shape({std::size_t(dims[0]), std::size_t(dims[1])});
    d.read(m.data(), H5::PredType::NATIVE_DOUBLE);
    return m;
}

std::string attr_string(const H5::Group& g, const std::string& name) {
    const H5::Attribute a = g.openAttribute(name);
    std::string s;
    a.read(a.getStrType(), s);
    return s;
}

std::vector<std::string> split_names(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    for (std::string item; std::getline(in, item, ',');)
        if (!item.empty()) out.push_back(item);
    return out;
}

std::vector<std::string> member_names(const H5::Group& g) {
    std::vector<std::string> out;
    for (hsize_t i = 0; i < g.getNumObjs(); ++i) out.push_back(g.getObjnameByIdx(i));
    return out;
}

bool has_member(const H5::Group& g, const std::string& name) { return g.nameExists(name); }

// ---- the expressions --------------------------------------------------------------------------

// The inputs of one expression on its tape, by the fixture's names; records which were asked for.
struct In {
    std::map<std::string, V> vars;
    mutable std::set<std::string> used;
    V operator()(const std::string& name) const {
        used.insert(name);
        const auto it = vars.find(name);
        if (it == vars.end()) throw std::runtime_error("the fixture has no input '" + name + "'");
        return it->second;
    }
};

using Build = V (*)(const In&);

// One builder per expression of make_ops_fixture.py, written as its `xgrad` attribute says.
const std::map<std::string, Build>& builders() {
    static const std::map<std::string, Build> b = {
        // products
        {"matmul", [](const In& v) { return matmul(v("a"), v("b")); }},
        {"add_bias", [](const In& v) { return add_bias(v("a"), v("b")); }},
        // + - * / with broadcasting
        {"add_same", [](const In& v) { return v("a") + v("b"); }},
        {"add_nm_11", [](const In& v) { return v("a") + v("s"); }},
        {"add_n1_nm", [](const In& v) { return v("c") + v("a"); }},
        {"add_nm_1m", [](const In& v) { return v("a") + v("r"); }},
        {"add_n1_1m", [](const In& v) { return v("c") + v("r"); }},
        {"sub_same", [](const In& v) { return v("a") - v("b"); }},
        {"sub_11_nm", [](const In& v) { return v("s") - v("a"); }},
        {"sub_nm_n1", [](const In& v) { return v("a") - v("c"); }},
        {"sub_1m_nm", [](const In& v) { return v("r") - v("a"); }},
        {"sub_1m_n1", [](const In& v) { return v("r") - v("c"); }},
        {"mul_same", [](const In& v) { return v("a") * v("b"); }},
        {"mul_nm_11", [](const In& v) { return v("a") * v("s"); }},
        {"mul_11_nm", [](const In& v) { return v("s") * v("a"); }},
        {"mul_nm_n1", [](const In& v) { return v("a") * v("c"); }},
        {"mul_1m_nm", [](const In& v) { return v("r") * v("a"); }},
        {"mul_n1_1m", [](const In& v) { return v("c") * v("r"); }},
        {"div_same", [](const In& v) { return v("a") / v("b"); }},
        {"div_11_nm", [](const In& v) { return v("s") / v("b"); }},
        {"div_nm_11", [](const In& v) { return v("a") / v("s"); }},
        {"div_nm_n1", [](const In& v) { return v("a") / v("c"); }},
        {"div_n1_nm", [](const In& v) { return v("c") / v("b"); }},
        {"div_nm_1m", [](const In& v) { return v("a") / v("r"); }},
        {"div_1m_nm", [](const In& v) { return v("r") / v("b"); }},
        {"div_n1_1m", [](const In& v) { return v("c") / v("r"); }},
        // scalars (scale, add_scalar; 3.0 / x is pow(x, -1) scaled)
        {"scalar_mul_left", [](const In& v) { return 2.0 * v("x"); }},
        {"scalar_mul_right", [](const In& v) { return v("x") * 0.5; }},
        {"scalar_rsub", [](const In& v) { return 1.0 - v("p"); }},
        {"scalar_add_right", [](const In& v) { return v("x") + 1.5; }},
        {"scalar_add_left", [](const In& v) { return 2.5 + v("x"); }},
        {"scalar_sub", [](const In& v) { return v("x") - 2.0; }},
        {"scalar_div", [](const In& v) { return v("x") / 4.0; }},
        {"scalar_rdiv", [](const In& v) { return 3.0 / v("x"); }},
        {"neg", [](const In& v) { return -v("x"); }},
        // pow
        {"pow_2", [](const In& v) { return pow(v("x"), 2.0); }},
        {"pow_3", [](const In& v) { return pow(v("x"), 3.0); }},
        {"pow_m1_5", [](const In& v) { return pow(v("x"), -1.5); }},
        {"pow_0_5", [](const In& v) { return pow(v("x"), 0.5); }},
        // unary
        {"exp", [](const In& v) { return exp(v("x")); }},
        {"log", [](const In& v) { return log(v("x")); }},
        {"sqrt", [](const In& v) { return sqrt(v("x")); }},
        {"square", [](const In& v) { return square(v("x")); }},
        {"abs", [](const In& v) { return abs(v("x")); }},
        {"relu", [](const In& v) { return relu(v("x")); }},
        {"sigmoid", [](const In& v) { return sigmoid(v("x")); }},
        {"tanh", [](const In& v) { return tanh(v("x")); }},
        {"softmax", [](const In& v) { return softmax(v("x")); }},
        {"log_softmax", [](const In& v) { return log_softmax(v("x")); }},
        {"transpose", [](const In& v) { return transpose(v("x")); }},
        // reductions
        {"sum_all", [](const In& v) { return sum(v("x")); }},
        {"sum_axis0", [](const In& v) { return sum(v("x"), 0); }},
        {"sum_axis1", [](const In& v) { return sum(v("x"), 1); }},
        {"mean_all", [](const In& v) { return mean(v("x")); }},
        {"mean_axis0", [](const In& v) { return mean(v("x"), 0); }},
        {"mean_axis1", [](const In& v) { return mean(v("x"), 1); }},
        {"max_all", [](const In& v) { return max(v("x"), -1); }},
        {"max_axis0", [](const In& v) { return max(v("x"), 0); }},
        {"max_axis1", [](const In& v) { return max(v("x"), 1); }},
        {"sq_norm", [](const In& v) { return sq_norm(v("x")); }},
        // reshaping
        {"concat_axis0", [](const In& v) { return concat(v("a"), v("b"), 0); }},
        {"concat_axis1", [](const In& v) { return concat(v("a"), v("b"), 1); }},
        {"rows", [](const In& v) { return rows(v("x"), 1, 4); }},
        {"cols", [](const In& v) { return cols(v("x"), 2, 5); }},
        // losses
        {"bce", [](const In& v) { return bce(v("p"), v("y")); }},
        {"bce_label_grad", [](const In& v) { return bce(v("p"), v("y")); }},
        {"sigmoid_bce", [](const In& v) { return sigmoid_bce(v("z"), v("y")); }},
        {"sigmoid_bce_label_grad", [](const In& v) { return sigmoid_bce(v("z"), v("y")); }},
        {"softmax_ce_onehot", [](const In& v) { return softmax_ce(v("z"), v("y")); }},
        {"softmax_ce_index", [](const In& v) { return softmax_ce(v("z"), v("y")); }},
        {"softmax_ce_prob_grad", [](const In& v) { return softmax_ce(v("z"), v("y")); }},
        {"mse", [](const In& v) { return mse(v("a"), v("y")); }},
        {"mse_target_grad", [](const In& v) { return mse(v("a"), v("y")); }},
        // composites
        {"issue_example",
         [](const In& v) {
             const V W = v("W"), x = v("x"), b = v("b"), y = v("y");
             return mean(square(sigmoid(matmul(W, x) + b) - y)) + 0.01 * sum(square(W));
         }},
        {"issue_example_all_grads",
         [](const In& v) {
             const V W = v("W"), x = v("x"), b = v("b"), y = v("y");
             return mean(square(sigmoid(matmul(W, x) + b) - y)) + 0.01 * sum(square(W));
         }},
        {"two_layer_softmax",
         [](const In& v) {
             const V W1 = v("W1"), b1 = v("b1"), W2 = v("W2"), b2 = v("b2"), x = v("x"), y = v("y");
             const V logits = add_bias(matmul(W2, relu(matmul(W1, x) + b1)), b2);
             return -mean(sum(y * log_softmax(logits), 0)) + 0.001 * (sq_norm(W1) + sq_norm(W2));
         }},
        {"hinge", [](const In& v) { return mean(relu(1.0 - v("y") * v("z"))); }},
        {"logistic_l2",
         [](const In& v) {
             const V w = v("w");
             return sigmoid_bce(matmul(w, v("x")) + v("b"), v("y")) + 0.05 * sq_norm(w);
         }},
        {"softmax_index_classifier",
         [](const In& v) { return softmax_ce(transpose(matmul(transpose(v("x")), v("W"))) + v("b"), v("y")); }},
        {"attention",
         [](const In& v) { return matmul(v("V"), softmax(matmul(transpose(v("K")), v("Q")) * 0.5)); }},
        {"layer_norm",
         [](const In& v) {
             const V x = v("x");
             const V d = x - mean(x, 0);
             return d / sqrt(mean(square(d), 0) + 1e-5) * v("g") + v("beta");
         }},
        {"logsumexp",
         [](const In& v) {
             const V x = v("x"), mx = max(x, 0);
             return mx + log(sum(exp(x - mx), 0));
         }},
        {"reuse",
         [](const In& v) {
             const V x = v("x");
             return x * x + sigmoid(x) - tanh(x) / 2.0;
         }},
        {"pseudo_huber",
         [](const In& v) {
             const V a = v("a"), y = v("y");
             return mean(sqrt(square(a - y) + 1.0) - 1.0) + mean(abs(a - y), 1);
         }},
        {"max_margin",
         [](const In& v) {
             return sum(max(concat(v("a"), rows(v("b"), 0, 2), 0), 0) * cols(v("c"), 1, 5) -
                        pow(v("c2"), 3.0) / 3.0);
         }},
    };
    return b;
}

// ---- comparing --------------------------------------------------------------------------------

// ‖got − want‖ / ‖want‖ (Frobenius); for an all-zero `want`, ‖got‖ (so only exact zeros pass).
double rel_norm_err(const M& got, const M& want) {
    const double den = test::norm(want);
    const double num = test::norm_diff(got, want);
    return den == 0 ? num : num / den;
}

struct Worst {
    double err = 0;
    std::string where;
    void note(double e, const std::string& w) {
        if (e > err || where.empty()) {
            err = e;
            where = w;
        }
    }
};

Worst worst_value, worst_grad;

// Checks shape and relative error; returns whether it matched.
bool matches(const std::string& what, const M& got, const M& want, Worst& worst) {
    if (shape_of(got) != shape_of(want)) {
        BOOST_ERROR(what << ": shape " << shape_of(got).rows << "x" << shape_of(got).cols << ", torch "
                         << shape_of(want).rows << "x" << shape_of(want).cols);
        return false;
    }
    const double e = rel_norm_err(got, want);
    worst.note(e, what);
    BOOST_TEST(e <= kTol, what << ": relative error " << e << " > " << kTol);
    return e <= kTol;
}

struct Expected {
    std::map<std::string, M> inputs;
    std::vector<std::string> params, constants;
    M value, G;
    std::map<std::string, M> grads;
};

Expected read_expected(const H5::H5File& f, const std::string& name) {
    const H5::Group g = f.openGroup(name);
    Expected e;
    e.params = split_names(attr_string(g, "params"));
    e.constants = split_names(attr_string(g, "constants"));
    const H5::Group in = g.openGroup("in");
    for (const std::string& n : member_names(in)) e.inputs[n] = read_matrix(in, n);
    e.value = read_matrix(g, "value");
    e.G = read_matrix(g, "G");
    if (has_member(g, "grad")) {
        const H5::Group gr = g.openGroup("grad");
        for (const std::string& n : member_names(gr)) e.grads[n] = read_matrix(gr, n);
    }
    return e;
}

std::vector<std::string> expression_names(const H5::H5File& f) {
    std::vector<std::string> names;
    for (hsize_t i = 0; i < f.getNumObjs(); ++i)
        if (f.getObjTypeByIdx(i) == H5G_GROUP) names.push_back(f.getObjnameByIdx(i));
    return names;
}

// Builds `name` on a fresh tape from the fixture and checks value and gradients.
void check_expression(const std::string& name, const Expected& e, Build build) {
    BOOST_TEST_CONTEXT("expression " << name) {
        // the fixture's bookkeeping is consistent: inputs = params ∪ constants, grads = params
        std::set<std::string> declared(e.params.begin(), e.params.end());
        declared.insert(e.constants.begin(), e.constants.end());
        std::set<std::string> stored;
        for (const auto& kv : e.inputs) stored.insert(kv.first);
        BOOST_TEST((declared == stored), "params+constants differ from in/");
        std::set<std::string> with_grad;
        for (const auto& kv : e.grads) with_grad.insert(kv.first);
        BOOST_TEST((with_grad == std::set<std::string>(e.params.begin(), e.params.end())),
                   "grad/ differs from params");

        Tape<double> t;
        In in;
        for (const std::string& p : e.params) in.vars[p] = t.parameter(e.inputs.at(p), p);
        for (const std::string& c : e.constants) in.vars[c] = t.constant(e.inputs.at(c), c);
        const V out = build(in);
        BOOST_TEST((in.used == stored), "the builder does not use exactly the fixture's inputs");
        const V G = t.constant(e.G, "G");
        const V objective = sum(out * G);
        t.backward(objective);

        matches(name + " value", out.value(), e.value, worst_value);
        for (const std::string& p : e.params)
            matches(name + " d/d" + p, in.vars.at(p).grad(), e.grads.at(p), worst_grad);
        for (const std::string& c : e.constants)
            BOOST_TEST(!t.requires_grad(in.vars.at(c)), c << " is a constant but requires a gradient");

        // replaying the recorded tape gives the same numbers, bit for bit
        std::map<std::string, M> first;
        for (const std::string& p : e.params) first[p] = in.vars.at(p).grad();
        const M first_value = out.value();
        t.forward();
        t.zero_grad();
        t.backward(objective);
        BOOST_TEST((out.value() == first_value), "replayed value differs");
        for (const std::string& p : e.params)
            BOOST_TEST((in.vars.at(p).grad() == first.at(p)), "replayed d/d" << p << " differs");
        // and a second backward without zero_grad accumulates: twice the gradient
        t.backward(objective);
        for (const std::string& p : e.params)
            BOOST_TEST(test::rel_err(in.vars.at(p).grad(), M(2.0 * first.at(p))) < 1e-15,
                       "d/d" << p << " does not accumulate");
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(fixture_has_at_least_30_expressions) {
    const H5::H5File f(kFixture, H5F_ACC_RDONLY);
    const std::vector<std::string> names = expression_names(f);
    BOOST_TEST_MESSAGE(names.size() << " expressions in " << kFixture);
    BOOST_TEST(names.size() >= 30u);
}

// The fixture's list and the builders' list are the same: neither can gain an expression alone.
BOOST_AUTO_TEST_CASE(every_expression_has_a_builder_and_every_builder_an_expression) {
    const H5::H5File f(kFixture, H5F_ACC_RDONLY);
    const std::vector<std::string> names = expression_names(f);
    const std::set<std::string> in_file(names.begin(), names.end());
    for (const std::string& n : names)
        BOOST_TEST(builders().count(n) == 1u, "expression '" << n << "' of the fixture has no C++ builder");
    for (const auto& kv : builders())
        BOOST_TEST(in_file.count(kv.first) == 1u, "builder '" << kv.first << "' has no expression in the fixture");
}

BOOST_AUTO_TEST_CASE(expressions_match_pytorch) {
    const H5::H5File f(kFixture, H5F_ACC_RDONLY);
    std::size_t checked = 0;
    for (const std::string& name : expression_names(f)) {
        const auto it = builders().find(name);
        if (it == builders().end()) continue;  // reported by the test above
        check_expression(name, read_expected(f, name), it->second);
        ++checked;
    }
    BOOST_TEST(checked >= 30u);
    BOOST_TEST_MESSAGE(checked << " expressions; largest relative error: values " << worst_value.err << " ("
                               << worst_value.where << "), gradients " << worst_grad.err << " ("
                               << worst_grad.where << ")");
}

// The issue's example compiles and runs exactly as written, and matches the fixture's numbers.
BOOST_AUTO_TEST_CASE(issue_example_as_written) {
    const H5::H5File f(kFixture, H5F_ACC_RDONLY);
    const Expected e = read_expected(f, "issue_example");
    const M w = e.inputs.at("W"), bm = e.inputs.at("b"), xm = e.inputs.at("x"), ym = e.inputs.at("y");

    Tape<double> t;
    auto W = t.parameter(w, "W");
    auto b = t.parameter(bm, "b");
    auto x = t.constant(xm);
    auto y = t.constant(ym);
    auto loss = mean(square(sigmoid(matmul(W, x) + b) - y)) + 0.01 * sum(square(W));
    t.backward(loss);

    // the fixture's objective is sum(out * G) with G [1,1]: scale torch's gradients back by G
    const double g = e.G.data()[0];
    BOOST_TEST(rel_norm_err(loss.value(), e.value) <= kTol);
    BOOST_TEST(rel_norm_err(W.grad(), M(e.grads.at("W") / g)) <= 1e-12);
    BOOST_TEST(rel_norm_err(b.grad(), M(e.grads.at("b") / g)) <= 1e-12);
}
