#define BOOST_TEST_MODULE reference
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <set>

#include <xtensor/xmath.hpp>

#include "test_util.hpp"
#include "xgrad/check/reference.hpp"

using namespace xgrad;
using test::rel_err;

namespace {

struct Worst {
    double rel = 0;
    std::string where;
    void see(double r, const std::string& w) {
        if (r > rel) rel = r, where = w;
    }
};

// A random architecture: 1-5 layers, widths 1-8 (input up to 12), relu/sigmoid hidden layers, a
// sigmoid output, m from 1 to 64; all drawn from a NumpyRandom seeded with `k`.
struct Case {
    MlpSpec spec;
    std::uint32_t seed;
    std::size_t m;
};
Case random_case(std::uint32_t k) {
    NumpyRandom rng(1000 + k);
    const std::size_t L = 1 + k % 5;
    std::vector<std::size_t> dims{2 + std::size_t(rng.uniform() * 11)};
    std::vector<std::string> acts;
    for (std::size_t l = 1; l <= L; ++l) {
        dims.push_back(l == L ? 1 : 1 + std::size_t(rng.uniform() * 8));
        acts.push_back(l == L ? "sigmoid" : (rng.uniform() < 0.6 ? "relu" : "sigmoid"));
    }
    const std::size_t ms[] = {1, 2, 7, 16, 33, 64};
    return {MlpSpec(dims, acts), 7 * k + 1, ms[k % 6]};
}

// Runs the tape (in T) and the seed's formulas (in T) on the same case and compares every dW, db,
// dA·m, dZ·m and the cost. Returns the worst relative error.
template <class T>
Worst compare(const Case& c, LossForm form, double tol) {
    NumpyRandom rng(c.seed);
    const Matrix<T> X = test::randn<T>(rng, c.spec.dims[0], c.m);
    const Matrix<T> Y = test::labels<T>(rng, 1, c.m);
    Params<T> p = he_init<T>(c.spec, c.seed);
    for (auto& b : p.b)
        for (auto& v : b) v = T(0.1 * rng.randn());

    Mlp<T> net(c.spec, p, X, Y, form);
    net.tape().backward(net.loss());
    const auto ref = reference::propagate(c.spec, p, X, Y);
    const Tape<T>& t = net.tape();
    const T m = T(c.m);

    Worst w;
    double nonzero = 0;
    auto check = [&](const Matrix<T>& tape_grad, const Matrix<T>& ref_grad, const std::string& q) {
        const double r = rel_err(tape_grad, ref_grad);
        BOOST_TEST(r <= tol, q << " rel err " << r);
        nonzero += test::norm(ref_grad);
        w.see(r, q);
    };
    const std::size_t L = c.spec.layers();
    for (std::size_t l = 1; l <= L; ++l) {
        const std::string s = std::to_string(l);
        check(t.grad(net.W(l)), ref.dW[l], "dW" + s);
        check(t.grad(net.b(l)), ref.db[l], "db" + s);
        check(Matrix<T>(t.grad(net.Z(l)) * m), ref.dZ[l], "dZ" + s);
        // dA_L exists on the tape only when the loss is recorded on A_L (the separate form)
        if (l < L || form == LossForm::separate)
            check(Matrix<T>(t.grad(net.A(l)) * m), ref.dA[l], "dA" + s);
    }
    const double cost_rel = std::abs(double(net.cost()) - double(ref.cost)) / double(ref.cost);
    BOOST_TEST(cost_rel <= tol);
    BOOST_TEST(nonzero > 0.0);  // never a comparison of zeros with zeros only
    return w;
}

template <class T>
void run_all(LossForm form, double tol, const char* label) {
    Worst worst;
    for (std::uint32_t k = 0; k < 24; ++k) {
        const Case c = random_case(k);
        BOOST_TEST_CONTEXT("case " << k << " dims " << c.spec.dims.size() << " m " << c.m) {
            const Worst w = compare<T>(c, form, tol);
            worst.see(w.rel, "case " + std::to_string(k) + " " + w.where);
        }
    }
    BOOST_TEST_MESSAGE(label << ": largest tape-vs-reference relative error " << worst.rel << " ("
                             << worst.where << ")");
}

}  // namespace

BOOST_AUTO_TEST_CASE(tape_equals_the_seeds_formulas_double) {
    run_all<double>(LossForm::separate, 1e-12, "double, separate loss");
}
BOOST_AUTO_TEST_CASE(tape_equals_the_seeds_formulas_double_fused_loss) {
    run_all<double>(LossForm::fused, 1e-12, "double, fused loss");
}
BOOST_AUTO_TEST_CASE(tape_equals_the_seeds_formulas_float) {
    run_all<float>(LossForm::separate, 1e-4, "float, separate loss");
}
BOOST_AUTO_TEST_CASE(tape_equals_the_seeds_formulas_float_fused_loss) {
    run_all<float>(LossForm::fused, 1e-4, "float, fused loss");
}

// The cases really vary: layer counts 1..5, both activations, several m.
BOOST_AUTO_TEST_CASE(the_cases_cover_the_space) {
    std::set<std::size_t> layers, ms;
    int relu = 0, sigmoid_hidden = 0;
    for (std::uint32_t k = 0; k < 24; ++k) {
        const Case c = random_case(k);
        layers.insert(c.spec.layers());
        ms.insert(c.m);
        for (std::size_t l = 0; l + 1 < c.spec.layers(); ++l)
            (c.spec.activations[l] == Activation::relu ? relu : sigmoid_hidden)++;
    }
    BOOST_TEST(layers.size() == 5u);
    BOOST_TEST(ms.size() == 6u);
    BOOST_TEST(relu > 5);
    BOOST_TEST(sigmoid_hidden > 2);
}

// ---- tanh, softmax, L2 and dropout (fixed masks) -------------------------------------------------

namespace {

// Aᵀ·B (transA) or A·B with plain loops, independent of the reference's BLAS calls.
Matrix<double> product(const Matrix<double>& A, const Matrix<double>& B, bool transA) {
    const std::size_t n = transA ? A.shape()[1] : A.shape()[0];
    const std::size_t k = transA ? A.shape()[0] : A.shape()[1];
    Matrix<double> C = xt::zeros<double>({n, B.shape()[1]});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < B.shape()[1]; ++j)
            for (std::size_t q = 0; q < k; ++q)
                C(i, j) += (transA ? A(q, i) : A(i, q)) * B(q, j);
    return C;
}

// A random network with the additions: relu/sigmoid/tanh hidden layers, a sigmoid or softmax
// output, lambd in {0, 0.7, 2.5}, and no dropout, one keep_prob, or one per hidden layer.
struct RegCase {
    MlpSpec spec;
    Regularization reg;
    std::uint32_t seed;
    std::size_t m;
    bool onehot;  // softmax labels as [K,m] one-hot columns rather than [1,m] class indices
};
RegCase random_reg_case(std::uint32_t k) {
    NumpyRandom rng(5000 + k);
    const std::size_t L = 1 + k % 4;
    const bool softmax = k % 3 == 1;
    std::vector<std::size_t> dims{2 + std::size_t(rng.uniform() * 9)};
    std::vector<std::string> acts;
    const char* hidden[] = {"relu", "sigmoid", "tanh"};
    for (std::size_t l = 1; l <= L; ++l) {
        if (l == L) {
            dims.push_back(softmax ? 2 + std::size_t(rng.uniform() * 3) : 1 + k % 2);
            acts.push_back(softmax ? "softmax" : "sigmoid");
        } else {
            dims.push_back(1 + std::size_t(rng.uniform() * 7));
            acts.push_back(hidden[(k + l) % 3]);
        }
    }
    Regularization reg;
    const double lambds[] = {0.0, 0.7, 2.5};
    reg.lambd = lambds[k % 3 == 0 ? 1 : (k / 3) % 3];
    const std::uint32_t dropout = (k / 4) % 3;  // 0: none, 1: one value, 2: one per hidden layer
    if (L > 1 && dropout == 1) reg.keep_prob = {0.8};
    if (L > 1 && dropout == 2)
        for (std::size_t l = 1; l < L; ++l) reg.keep_prob.push_back(l % 2 ? 0.5 : 0.75);
    const std::size_t ms[] = {1, 3, 8, 20};
    return {MlpSpec(dims, acts), reg, 11 * k + 2, ms[k % 4], k % 2 == 1};
}

// The tape (Mlp with reg, masks drawn by draw_masks) against reference::propagate with the same
// lambd and masks, both in T. Returns the worst relative error.
template <class T>
Worst compare_reg(const RegCase& c, double tol) {
    NumpyRandom rng(c.seed);
    const std::size_t L = c.spec.layers(), K = c.spec.dims[L];
    const bool softmax = c.spec.softmax_output();
    const Matrix<T> X = test::randn<T>(rng, c.spec.dims[0], c.m);
    Matrix<T> Y;
    if (!softmax) {
        Y = test::labels<T>(rng, K, c.m);
    } else {
        Y = xt::zeros<T>({c.onehot ? K : std::size_t(1), c.m});
        for (std::size_t j = 0; j < c.m; ++j) {
            const std::size_t cls = std::min(K - 1, std::size_t(rng.uniform() * double(K)));
            if (c.onehot)
                Y(cls, j) = T(1);
            else
                Y(0, j) = T(cls);
        }
    }
    Params<T> p = he_init<T>(c.spec, c.seed);
    for (auto& b : p.b)
        for (auto& v : b) v = T(0.1 * rng.randn());

    Mlp<T> net(c.spec, p, X, Y, c.reg, softmax ? LossForm::fused : LossForm::separate);
    NumpyRandom mask_rng(c.seed + 1);
    net.draw_masks(mask_rng);
    net.tape().forward();
    net.tape().backward(net.loss());
    std::vector<Matrix<T>> masks(L + 1);
    bool any_mask = false;
    for (std::size_t l = 1; l < L; ++l)
        if (net.mask(l) >= 0) masks[l] = net.tape().value(net.mask(l)), any_mask = true;
    if (!any_mask) masks.clear();
    const auto ref = reference::propagate(c.spec, p, X, Y, c.reg.lambd, masks);
    const Tape<T>& t = net.tape();
    const T m = T(c.m);

    Worst w;
    double nonzero = 0;
    auto check = [&](const Matrix<T>& tape_grad, const Matrix<T>& ref_grad, const std::string& q) {
        const double r = rel_err(tape_grad, ref_grad);
        BOOST_TEST(r <= tol, q << " rel err " << r);
        nonzero += test::norm(ref_grad);
        w.see(r, q);
    };
    for (std::size_t l = 1; l <= L; ++l) {
        const std::string s = std::to_string(l);
        check(t.grad(net.W(l)), ref.dW[l], "dW" + s);
        check(t.grad(net.b(l)), ref.db[l], "db" + s);
        check(Matrix<T>(t.grad(net.Z(l)) * m), ref.dZ[l], "dZ" + s);
        if (l < L || !softmax) check(Matrix<T>(t.grad(net.A(l)) * m), ref.dA[l], "dA" + s);
        check(t.value(net.A(l)), ref.A[l], "A" + s);  // the forward values, before any mask
    }
    auto rel = [](double a, double b) { return std::abs(a - b) / std::abs(b); };
    BOOST_TEST(rel(double(net.cost()), double(ref.cost)) <= tol);
    BOOST_TEST(rel(double(t.value(net.data_loss())(0, 0)), double(ref.data_cost)) <= tol);
    if (c.reg.lambd == 0) BOOST_TEST(ref.cost == ref.data_cost);
    else BOOST_TEST(ref.cost > ref.data_cost);
    BOOST_TEST(nonzero > 0.0);
    return w;
}

template <class T>
void run_all_reg(double tol, const char* label) {
    Worst worst;
    for (std::uint32_t k = 0; k < 36; ++k) {
        const RegCase c = random_reg_case(k);
        BOOST_TEST_CONTEXT("case " << k << " layers " << c.spec.layers() << " lambd " << c.reg.lambd
                                   << " keep values " << c.reg.keep_prob.size() << " m " << c.m) {
            const Worst w = compare_reg<T>(c, tol);
            worst.see(w.rel, "case " + std::to_string(k) + " " + w.where);
        }
    }
    BOOST_TEST_MESSAGE(label << ": largest tape-vs-reference relative error " << worst.rel << " ("
                             << worst.where << ")");
}

}  // namespace

BOOST_AUTO_TEST_CASE(tape_equals_the_formulas_with_tanh_softmax_l2_and_dropout_double) {
    run_all_reg<double>(1e-12, "double, tanh/softmax/L2/dropout");
}
BOOST_AUTO_TEST_CASE(tape_equals_the_formulas_with_tanh_softmax_l2_and_dropout_float) {
    run_all_reg<float>(1e-4, "float, tanh/softmax/L2/dropout");
}

BOOST_AUTO_TEST_CASE(the_regularised_cases_cover_the_space) {
    int tanh_hidden = 0, softmax = 0, onehot = 0, sigm = 0, l2 = 0;
    int one_keep = 0, per_layer = 0, hidden_no_dropout = 0;
    for (std::uint32_t k = 0; k < 36; ++k) {
        const RegCase c = random_reg_case(k);
        for (std::size_t l = 0; l + 1 < c.spec.layers(); ++l)
            tanh_hidden += c.spec.activations[l] == Activation::tanh;
        softmax += c.spec.softmax_output();
        sigm += !c.spec.softmax_output();
        onehot += c.spec.softmax_output() && c.onehot;
        l2 += c.reg.lambd > 0;
        one_keep += c.reg.keep_prob.size() == 1;
        per_layer += c.reg.keep_prob.size() > 1;
        hidden_no_dropout += c.spec.layers() > 1 && c.reg.keep_prob.empty();
    }
    BOOST_TEST(tanh_hidden > 5);
    BOOST_TEST(softmax > 5);
    BOOST_TEST(onehot > 2);
    BOOST_TEST(sigm > 5);
    BOOST_TEST(l2 > 10);
    BOOST_TEST(one_keep > 5);
    BOOST_TEST(per_layer > 2);
    BOOST_TEST(hidden_no_dropout > 2);
}

// tanh is tanh, not sigmoid (the reference once treated every non-relu activation as sigmoid).
BOOST_AUTO_TEST_CASE(tanh_layers_use_tanh_and_its_derivative_from_A) {
    const MlpSpec spec({3, 2, 1}, {"tanh", "sigmoid"});
    NumpyRandom rng(3);
    const Matrix<double> X = test::randn<double>(rng, 3, 4);
    const Matrix<double> Y = test::labels<double>(rng, 1, 4);
    const auto p = he_init<double>(spec, 3);
    const auto r = reference::propagate(spec, p, X, Y);
    BOOST_TEST(test::norm_diff(r.A[1], Matrix<double>(xt::tanh(r.Z[1]))) == 0.0);
    const Matrix<double> dA1 = product(p.W[1], r.dZ[2], true);
    BOOST_TEST(test::norm_diff(r.dA[1], dA1) < 1e-15);
    BOOST_TEST(test::norm_diff(r.dZ[1], Matrix<double>(r.dA[1] * (1.0 - r.A[1] * r.A[1]))) == 0.0);
    // not sigmoid's derivative
    const Matrix<double> s = 1.0 / (1.0 + xt::exp(-r.Z[1]));
    BOOST_TEST(test::norm_diff(r.dZ[1], Matrix<double>(r.dA[1] * s * (1.0 - s))) > 1e-3);
}

// With dropout after layer l, dA[l] is the gradient of A_l before the mask: Wᵀ dZ ⊙ D, zero
// where a unit was dropped; dW of the next layer sees A ⊙ D.
BOOST_AUTO_TEST_CASE(dropout_dA_is_the_gradient_before_the_mask) {
    const MlpSpec spec({4, 5, 1}, {"tanh", "sigmoid"});
    NumpyRandom rng(8);
    const Matrix<double> X = test::randn<double>(rng, 4, 6);
    const Matrix<double> Y = test::labels<double>(rng, 1, 6);
    const auto p = he_init<double>(spec, 8);
    std::vector<Matrix<double>> masks(3);
    masks[1] = xt::ones<double>({5, 6}) * 1.25;
    masks[1](0, 0) = masks[1](3, 2) = masks[1](4, 5) = 0.0;
    const auto r = reference::propagate(spec, p, X, Y, 0.0, masks);
    const Matrix<double> through = product(p.W[1], r.dZ[2], true);
    BOOST_TEST(test::norm_diff(r.dA[1], Matrix<double>(through * masks[1])) < 1e-15);
    BOOST_TEST(r.dA[1](0, 0) == 0.0);
    BOOST_TEST(r.dA[1](3, 2) == 0.0);
    BOOST_TEST(r.dA[1](4, 5) == 0.0);
    const Matrix<double> ADT = xt::transpose(Matrix<double>(r.A[1] * masks[1]));
    const Matrix<double> dW2 = product(r.dZ[2], ADT, false) / 6.0;
    BOOST_TEST(test::norm_diff(r.dW[2], dW2) < 1e-15);
    // The same without masks is a different network.
    const auto plain = reference::propagate(spec, p, X, Y);
    BOOST_TEST(test::norm_diff(plain.dW[2], r.dW[2]) > 0.0);
}

BOOST_AUTO_TEST_CASE(l2_adds_lambd_over_m_times_W_and_the_penalty) {
    const MlpSpec spec({4, 3, 1}, {"relu", "sigmoid"});
    NumpyRandom rng(9);
    const Matrix<double> X = test::randn<double>(rng, 4, 5);
    const Matrix<double> Y = test::labels<double>(rng, 1, 5);
    const auto p = he_init<double>(spec, 9);
    const auto a = reference::propagate(spec, p, X, Y);
    const auto b = reference::propagate(spec, p, X, Y, 0.7, {});
    double sq = 0;
    for (const auto& W : p.W) sq += xt::sum(W * W)();
    BOOST_TEST(b.cost == a.cost + 0.7 / 10.0 * sq, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(b.data_cost == a.cost);
    for (std::size_t l = 1; l <= 2; ++l) {
        BOOST_TEST(test::norm_diff(b.dW[l], Matrix<double>(a.dW[l] + 0.7 / 5.0 * p.W[l - 1])) <
                   1e-15);
        BOOST_TEST(test::norm_diff(b.db[l], a.db[l]) == 0.0);
        BOOST_TEST(test::norm_diff(b.dZ[l], a.dZ[l]) == 0.0);
    }
}

BOOST_AUTO_TEST_CASE(softmax_labels_as_indices_or_one_hot_agree) {
    const MlpSpec spec({3, 4, 3}, {"tanh", "softmax"});
    NumpyRandom rng(10);
    const Matrix<double> X = test::randn<double>(rng, 3, 4);
    const Matrix<double> idx = {{2.0, 0.0, 1.0, 2.0}};
    Matrix<double> onehot = xt::zeros<double>({3, 4});
    for (std::size_t j = 0; j < 4; ++j) onehot(std::size_t(idx(0, j)), j) = 1.0;
    const auto p = he_init<double>(spec, 10);
    const auto a = reference::propagate(spec, p, X, idx);
    const auto b = reference::propagate(spec, p, X, onehot);
    BOOST_TEST(a.cost == b.cost);
    BOOST_TEST(test::norm_diff(a.dZ[2], Matrix<double>(a.A[2] - onehot)) == 0.0);
    BOOST_TEST(test::norm_diff(a.dW[1], b.dW[1]) == 0.0);
    // Columns of the output sum to 1.
    for (std::size_t j = 0; j < 4; ++j)
        BOOST_TEST(a.A[2](0, j) + a.A[2](1, j) + a.A[2](2, j) == 1.0,
                   boost::test_tools::tolerance(1e-15));
    BOOST_CHECK_THROW(reference::propagate(spec, p, X, Matrix<double>{{0.0, 3.0, 1.0, 2.0}}),
                      DataError);
    BOOST_CHECK_THROW(reference::propagate(spec, p, X, Matrix<double>(xt::zeros<double>({2, 4}))),
                      ShapeError);
}

BOOST_AUTO_TEST_CASE(bad_lambd_and_masks_are_errors) {
    const MlpSpec spec({3, 2, 2, 1}, {"relu", "tanh", "sigmoid"});
    NumpyRandom rng(11);
    const Matrix<double> X = test::randn<double>(rng, 3, 4);
    const Matrix<double> Y = test::labels<double>(rng, 1, 4);
    const auto p = he_init<double>(spec, 11);
    BOOST_CHECK_THROW(reference::propagate(spec, p, X, Y, -0.1, {}), UsageError);
    std::vector<Matrix<double>> masks(4);
    masks[1] = xt::ones<double>({2, 3});  // m is 4
    BOOST_CHECK_THROW(reference::propagate(spec, p, X, Y, 0.0, masks), ShapeError);
    masks[1] = xt::ones<double>({2, 4});
    BOOST_CHECK_NO_THROW(reference::propagate(spec, p, X, Y, 0.0, masks));
    masks[3] = xt::ones<double>({1, 4});  // no dropout on the output
    BOOST_CHECK_THROW(reference::propagate(spec, p, X, Y, 0.0, masks), UsageError);
    masks.resize(3);  // not indexed by layer 0..L
    BOOST_CHECK_THROW(reference::propagate(spec, p, X, Y, 0.0, masks), UsageError);
}
