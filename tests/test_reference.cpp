#define BOOST_TEST_MODULE reference
#include <boost/test/unit_test.hpp>

#include <set>

#include "test_util.hpp"
#include "xgrad/reference.hpp"

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
