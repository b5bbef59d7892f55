#define BOOST_TEST_MODULE gradcheck
#include <boost/test/unit_test.hpp>

#include <H5Cpp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <string>

#include <xtensor/xview.hpp>

#include "needs.hpp"
#include "test_util.hpp"
#include "xgrad/check/mlp_check.hpp"
#include "xgrad/io/io.hpp"
#include "xgrad/check/reference.hpp"

using namespace xgrad;
namespace gc = xgrad::mlp_check;

namespace {

struct Net {
    MlpSpec spec;
    Params<double> params;
    Matrix<double> X, Y;
};

// He weights, small random biases (so a wrongly added bias would show), gaussian inputs, 0/1 labels.
Net make_net(std::vector<std::size_t> dims, std::vector<std::string> acts, std::size_t m,
             std::uint32_t seed) {
    Net n{MlpSpec(dims, acts), {}, {}, {}};
    n.params = he_init<double>(n.spec, seed);
    NumpyRandom rng(seed + 100);
    for (auto& b : n.params.b)
        for (auto& v : b) v = 0.1 * rng.randn();
    n.X = test::randn<double>(rng, dims.front(), m);
    n.Y = test::labels<double>(rng, dims.back(), m);
    return n;
}

const gc::Row& row(const gc::Report& r, const std::string& name) {
    for (const gc::Row& x : r.rows)
        if (x.name() == name) return x;
    BOOST_FAIL("no row " << name);
    return r.rows.front();
}

// Names of the rows that fail, in order, e.g. "dW2 dZ3".
std::string failing(const gc::Report& r) {
    std::string s;
    for (const gc::Row& x : r.rows)
        if (!x.pass()) s += (s.empty() ? "" : " ") + x.name();
    return s;
}

Matrix<double>& tensor(gc::Gradients& g, gc::Quantity q, std::size_t l) {
    switch (q) {
        case gc::Quantity::dW: return g.dW[l];
        case gc::Quantity::db: return g.db[l];
        case gc::Quantity::dZ: return g.dZ[l];
        case gc::Quantity::dA: break;
    }
    return g.dA[l];
}

// The cat dataset as the programs find it ($XGRAD_DATA, then beside the repository), or "".
std::string data_dir() {
    try {
        return io::find_data_dir("", XGRAD_SOURCE_DIR "/../shared/datasets/catvnoncat");
    } catch (const DataError&) {
        return "";
    }
}

}  // namespace

// ---- compare ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(compare_reports_max_abs_and_relative_error) {
    const Matrix<double> a = {{3.0, 0.0}, {0.0, 4.0}};
    const Matrix<double> b = {{3.0, 0.0}, {0.0, 4.0 + 1e-6}};
    const auto c = gc::compare(a, b, 2e-7);
    BOOST_TEST(c.max_abs == 1e-6, boost::test_tools::tolerance(1e-9));
    // ‖a−b‖ / (‖a‖+‖b‖) = 1e-6 / (5 + ~5)
    BOOST_TEST(c.rel_err == 1e-6 / (5.0 + std::sqrt(9.0 + (4.0 + 1e-6) * (4.0 + 1e-6))),
               boost::test_tools::tolerance(1e-9));
    BOOST_TEST(c.compared == 4u);
    BOOST_TEST(c.pass);
    BOOST_TEST(!gc::compare(a, b, 5e-8).pass);  // the same numbers against a tighter threshold
    BOOST_TEST(gc::compare(a, a, 0.0).pass);    // identical non-zero gradients pass even at 0
}

BOOST_AUTO_TEST_CASE(two_zero_gradients_fail_unless_allowed) {
    const Matrix<double> z = xt::zeros<double>({3, 2});
    const auto c = gc::compare(z, z, 1e-12);
    BOOST_TEST(c.both_zero);
    BOOST_TEST(c.rel_err == 0.0);
    BOOST_TEST(!c.pass);
    BOOST_TEST(gc::compare(z, z, 1e-12, true).pass);
    // One zero and one not is not "both zero": it is a 100% error.
    Matrix<double> nz = z;
    nz(1, 1) = 1e-30;
    const auto d = gc::compare(z, nz, 1e-12, true);
    BOOST_TEST(!d.both_zero);
    BOOST_TEST(d.rel_err == 1.0);
    BOOST_TEST(!d.pass);
}

BOOST_AUTO_TEST_CASE(nan_empty_mask_and_shape_mismatch_never_pass) {
    Matrix<double> a = {{1.0, 2.0}};
    Matrix<double> n = a;
    n(0, 1) = std::numeric_limits<double>::quiet_NaN();
    const auto c = gc::compare(a, n, 1.0);
    BOOST_TEST(!c.finite);
    BOOST_TEST(!c.pass);
    // A mask that selects nothing compares nothing: not a pass, even with allow_zero.
    const Matrix<std::uint8_t> none = xt::zeros<std::uint8_t>({1, 2});
    const auto e = gc::compare(a, a, none, 1.0, true);
    BOOST_TEST(e.compared == 0u);
    BOOST_TEST(!e.pass);
    // A mask that hides the NaN compares the rest.
    const Matrix<std::uint8_t> first = {{1, 0}};
    BOOST_TEST(gc::compare(a, n, first, 1e-12).pass);
    BOOST_CHECK_THROW(gc::compare(a, Matrix<double>(xt::zeros<double>({2, 1})), 1.0), ShapeError);
}

// ---- the check passes on correct gradients -----------------------------------------------------

BOOST_AUTO_TEST_CASE(check_passes_on_many_architectures_with_every_fd_entry) {
    struct Arch {
        std::vector<std::size_t> dims;
        std::vector<std::string> acts;
        std::size_t m;
        std::uint32_t seed;
    };
    const std::vector<Arch> archs = {
        {{3, 1}, {"sigmoid"}, 1, 1},
        {{12, 1}, {"sigmoid"}, 50, 2},
        {{5, 3, 1}, {"relu", "sigmoid"}, 10, 3},
        {{5, 3, 1}, {"sigmoid", "sigmoid"}, 2, 4},
        {{4, 3, 2}, {"relu", "sigmoid"}, 6, 5},  // two outputs: Y is [2,m]
        {{6, 4, 3, 1}, {"relu", "relu", "sigmoid"}, 16, 6},
        {{6, 4, 3, 1}, {"sigmoid", "relu", "sigmoid"}, 5, 7},
        {{8, 6, 5, 4, 1}, {"relu", "relu", "relu", "sigmoid"}, 33, 8},
        {{8, 6, 5, 4, 1}, {"relu", "sigmoid", "relu", "sigmoid"}, 9, 9},
        {{10, 8, 6, 4, 3, 1}, {"relu", "relu", "relu", "relu", "sigmoid"}, 64, 10},
        {{7, 5, 5, 5, 5, 1}, {"sigmoid", "relu", "sigmoid", "relu", "sigmoid"}, 12, 11},
    };
    double worst_hand = 0, worst_fd = 0;
    for (const Arch& a : archs) {
        const Net n = make_net(a.dims, a.acts, a.m, a.seed);
        const auto r = gc::run_check(n.spec, n.params, n.X, n.Y);
        BOOST_TEST_CONTEXT("architecture with " << a.dims.size() - 1 << " layers, seed " << a.seed) {
            BOOST_TEST(r.report.pass(), "failing rows: " << failing(r.report));
            BOOST_TEST(r.report.rows.size() == 4 * n.spec.layers());
            // Every parameter entry was perturbed (sample 0 = all).
            std::size_t params = 0;
            for (std::size_t l = 0; l < n.spec.layers(); ++l)
                params += n.params.W[l].size() + n.params.b[l].size();
            BOOST_TEST(r.report.fd_evaluated() == params);
            for (const gc::Row& x : r.report.rows) BOOST_TEST(!x.hand.both_zero);
        }
        worst_hand = std::max(worst_hand, r.report.max_rel_hand());
        worst_fd = std::max(worst_fd, r.report.max_rel_fd());
    }
    BOOST_TEST_MESSAGE("largest rel err: tape vs hand " << worst_hand << ", tape vs FD " << worst_fd);
}

// A confident network (|z_L| of 5 to 12, every prediction right) on one or two examples, where
// nothing averages the finite differences' rounding out: they must still agree with the tape well
// inside the default 2e-7 (from the probabilities: up to 5e-5 here). Not more confident than
// p = 1 - 1e-5 or so: beyond, the tape's own p - y (as every framework computes it) has lost
// digits too. (Computed from the probabilities p = sigmoid(z), the cross-entropy of
// such a network loses about |log(1 - p)| of its digits: 2.3e-7 on a trained cat model with
// --examples 1, which the threshold then blamed on the tape.)
BOOST_AUTO_TEST_CASE(finite_differences_keep_their_digits_on_a_confident_network) {
    for (const char* out : {"sigmoid", "softmax"}) {
        const bool softmax = std::string(out) == "softmax";
        for (std::size_t m : {1u, 2u}) {
            Net n = make_net({6, 5, softmax ? 3u : 1u}, {"tanh", out}, m, 12);
            Params<double>& p = n.params;
            // logits of +-5..9 in the labels' direction: make the output layer read tanh's
            // outputs (each of size ~1) with large weights pointing at the label
            // W·A + b, small enough for plain loops
            auto affine = [](const Matrix<double>& W, const Matrix<double>& A, const Matrix<double>& b) {
                Matrix<double> z = Matrix<double>::from_shape({W.shape()[0], A.shape()[1]});
                for (std::size_t i = 0; i < z.shape()[0]; ++i)
                    for (std::size_t j = 0; j < z.shape()[1]; ++j) {
                        z(i, j) = b(i, 0);
                        for (std::size_t k = 0; k < W.shape()[1]; ++k) z(i, j) += W(i, k) * A(k, j);
                    }
                return z;
            };
            Matrix<double> A1 = affine(p.W[0], n.X, p.b[0]);
            for (double& v : A1) v = std::tanh(v);
            for (std::size_t j = 0; j < m; ++j) {
                const std::size_t k_right = softmax ? j % 3 : 0;
                if (softmax) {
                    for (std::size_t k = 0; k < 3; ++k) n.Y(k, j) = k == k_right ? 1.0 : 0.0;
                } else {
                    n.Y(0, j) = j % 2 ? 0.0 : 1.0;
                }
            }
            for (std::size_t k = 0; k < p.W[1].shape()[0]; ++k)
                for (std::size_t i = 0; i < 5; ++i) {
                    // the sign that pushes example 0's logit the labelled way; all outputs the same
                    const double toward = softmax ? (k == 0 ? 1.0 : -1.0) : (n.Y(0, 0) > 0.5 ? 1.0 : -1.0);
                    p.W[1](k, i) = (softmax ? 1.5 : 3.0) * toward * (A1(i, 0) > 0 ? 1.0 : -1.0);
                }
            if (m == 2) {  // the second example: its own label is the one the network predicts
                const Matrix<double> z = affine(p.W[1], A1, p.b[1]);
                for (std::size_t k = 0; k < n.Y.shape()[0]; ++k) {
                    if (softmax) {
                        std::size_t best = 0;
                        for (std::size_t r = 1; r < 3; ++r)
                            if (z(r, 1) > z(best, 1)) best = r;
                        n.Y(k, 1) = k == best ? 1.0 : 0.0;
                    } else {
                        n.Y(0, 1) = z(0, 1) > 0 ? 1.0 : 0.0;
                    }
                }
            }
            const Matrix<double> z = affine(p.W[1], A1, p.b[1]);
            double largest = 0;
            for (double v : z) largest = std::max(largest, std::abs(v));
            BOOST_TEST_CONTEXT(out << ", m = " << m << ", largest logit " << largest) {
                BOOST_TEST(largest > 4.0);
                const auto r = gc::run_check(n.spec, n.params, n.X, n.Y);
                BOOST_TEST(r.report.pass(), "failing rows: " << failing(r.report));
                BOOST_TEST(r.report.max_rel_fd() < 5e-8);  // a quarter of the threshold
            }
        }
    }
}

// Labelled "data" (tests/needs.hpp): ctest runs it as test_gradcheck_data, skipped without the
// dataset unless XGRAD_REQUIRE_DATA=1 makes that a failure.
BOOST_AUTO_TEST_CASE(check_passes_on_the_seed_network_with_8_real_examples,
                     test::needs(test::Need::data, [] { return !data_dir().empty(); },
                                 "the cat/non-cat dataset is not in $XGRAD_DATA or beside the repository")) {
    const std::string dir = data_dir();
    BOOST_TEST_REQUIRE(!dir.empty(), "the cat/non-cat dataset is missing and XGRAD_REQUIRE_DATA=1");
    const auto data = io::load_catvnoncat<double>(dir);
    const Matrix<double> X = xt::view(data.train.X, xt::all(), xt::range(0, 8));
    const Matrix<double> Y = xt::view(data.train.Y, xt::all(), xt::range(0, 8));
    const MlpSpec spec({12288, 20, 7, 5, 1}, {"relu", "relu", "relu", "sigmoid"});
    gc::CheckOptions o;
    o.fd.sample = 60;
    const auto r = gc::run_check(spec, he_init<double>(spec, 3), X, Y, o);
    BOOST_TEST(r.report.pass(), "failing rows: " << failing(r.report));
    BOOST_TEST(row(r.report, "dW1").fd_evaluated == 60u);     // sampled, 245760 entries
    BOOST_TEST(row(r.report, "dW1").fd.compared + row(r.report, "dW1").fd_kinks == 60u);
    BOOST_TEST(row(r.report, "dW4").fd_evaluated == 5u);      // small tensors whole
    BOOST_TEST(row(r.report, "dW1").entries == 245760u);      // tape vs hand: every entry
    BOOST_TEST_MESSAGE("seed network: tape vs hand " << r.report.max_rel_hand() << ", tape vs FD "
                                                     << r.report.max_rel_fd());
}

BOOST_AUTO_TEST_CASE(check_passes_on_every_layer_of_a_trained_model_and_its_saved_copy) {
    Net n = make_net({6, 5, 4, 1}, {"relu", "relu", "sigmoid"}, 40, 21);
    Mlp<double> net(n.spec, n.params, n.X, n.Y);
    const double first = net.train_step(0.1);
    double last = first;
    for (int i = 0; i < 300; ++i) last = net.train_step(0.1);
    BOOST_TEST(last < 0.8 * first);  // it did train: the parameters moved away from the init
    const Params<double> trained = net.params();

    const auto r = gc::run_check(n.spec, trained, n.X, n.Y);
    BOOST_TEST(r.report.pass(), "failing rows: " << failing(r.report));
    for (std::size_t l = 1; l <= 3; ++l)
        for (const char* q : {"dW", "db", "dZ", "dA"})
            BOOST_TEST(row(r.report, q + std::to_string(l)).pass());

    // The same through a model file, as `gradcheck --model` reads it.
    const std::string path = "/tmp/xgrad_test_gradcheck_" + std::to_string(::getpid()) + ".h5";
    io::save_model(path, n.spec, trained, 0.1, 301, 21, last);
    const io::ModelFile mf = io::load_model(path);
    std::remove(path.c_str());
    const auto s = gc::run_check(mf.spec, mf.params, n.X, n.Y);
    BOOST_TEST(s.report.pass(), "failing rows: " << failing(s.report));
    BOOST_TEST(test::norm_diff(s.tape.dW[1], r.tape.dW[1]) == 0.0);
}

// ---- the check catches wrong gradients ---------------------------------------------------------

BOOST_AUTO_TEST_CASE(one_entry_off_by_1e_4_relative_fails_exactly_its_row) {
    const Net n = make_net({5, 4, 3, 1}, {"relu", "relu", "sigmoid"}, 10, 31);
    const auto base = gc::run_check(n.spec, n.params, n.X, n.Y);
    BOOST_REQUIRE(base.report.pass());
    gc::CheckOptions o;
    for (const gc::Row& target : base.report.rows) {
        BOOST_TEST_CONTEXT("perturbed " << target.name()) {
            // In the hand set: only that row's tape-vs-hand comparison fails.
            gc::Gradients hand = base.hand;
            Matrix<double>& t = tensor(hand, target.quantity, target.layer);
            std::size_t big = 0;  // the largest entry, so 1e-4 of it is 1e-4 of something
            for (std::size_t i = 0; i < t.size(); ++i)
                if (std::abs(t.data()[i]) > std::abs(t.data()[big])) big = i;
            t.data()[big] *= 1 + 1e-4;
            const auto r = gc::compare_all(base.tape, hand, base.fd, o);
            BOOST_TEST(failing(r) == target.name());
            BOOST_TEST(!row(r, target.name()).hand.pass);

            // In the tape set (W and b): the row fails against the hand formulas and against FD.
            if (target.has_fd) {
                gc::Gradients tape = base.tape;
                tensor(tape, target.quantity, target.layer).data()[big] *= 1 + 1e-4;
                const auto s = gc::compare_all(tape, base.hand, base.fd, o);
                BOOST_TEST(failing(s) == target.name());
                BOOST_TEST(!row(s, target.name()).fd.pass);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(a_transposed_dW_fails) {
    // Layer 2 is square (3x3), so a transposed dW2 has the right shape and only its values are off.
    const Net n = make_net({4, 3, 3, 1}, {"relu", "sigmoid", "sigmoid"}, 8, 41);
    const auto base = gc::run_check(n.spec, n.params, n.X, n.Y);
    BOOST_REQUIRE(base.report.pass());
    gc::Gradients hand = base.hand;
    hand.dW[2] = xt::transpose(base.hand.dW[2]);
    BOOST_REQUIRE(test::norm_diff(hand.dW[2], base.hand.dW[2]) > 0);  // not symmetric
    const auto r = gc::compare_all(base.tape, hand, base.fd, {});
    BOOST_TEST(failing(r) == "dW2");
    gc::Gradients tape = base.tape;
    tape.dW[2] = xt::transpose(base.tape.dW[2]);
    const auto s = gc::compare_all(tape, base.hand, base.fd, {});
    BOOST_TEST(failing(s) == "dW2");
    BOOST_TEST(!row(s, "dW2").fd.pass);
}

namespace {
// The seed's backward with a classic mistake: sigmoid' = s instead of s(1-s).
gc::Gradients hand_without_one_minus_s(const MlpSpec& spec, const Params<double>& p,
                                       const Matrix<double>& X, const Matrix<double>& Y) {
    const auto r = reference::propagate(spec, p, X, Y);  // for the forward values
    const std::size_t L = spec.layers();
    const double m = double(X.shape()[1]);
    gc::Gradients g;
    g.dW.resize(L + 1), g.db.resize(L + 1), g.dZ.resize(L + 1), g.dA.resize(L + 1);
    Matrix<double> dA = r.dA[L];  // the seed's dA_L, which does not involve sigmoid'
    for (std::size_t l = L; l >= 1; --l) {
        const Matrix<double> dZ = spec.activations[l - 1] == Activation::relu
                                      ? reference::relu_backward(dA, r.Z[l])
                                      : Matrix<double>(dA * reference::sigmoid_forward(r.Z[l]));
        Matrix<double> dW, db, dA_prev;
        reference::linear_backward(dZ, r.A[l - 1], p.W[l - 1], dW, db, dA_prev);
        g.dW[l] = dW, g.db[l] = db, g.dZ[l] = dZ / m, g.dA[l] = dA / m;
        dA = dA_prev;
    }
    return g;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_wrong_hand_formula_fails) {
    const Net n = make_net({5, 4, 3, 1}, {"relu", "relu", "sigmoid"}, 10, 51);
    const auto base = gc::run_check(n.spec, n.params, n.X, n.Y);
    const auto wrong = hand_without_one_minus_s(n.spec, n.params, n.X, n.Y);
    const auto r = gc::compare_all(base.tape, wrong, base.fd, {});
    BOOST_TEST(!r.pass());
    // dA_3 comes before sigmoid' and stays right; everything after it in the backward pass is wrong.
    for (const gc::Row& x : r.rows) {
        BOOST_TEST_CONTEXT(x.name()) {
            BOOST_TEST(x.hand.pass == (x.name() == "dA3"));
            if (x.has_fd) BOOST_TEST(x.fd.pass);  // the tape itself is still right
        }
    }
}

// ---- the zero rule and the kink ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_dead_layer_is_reported_as_zero_and_fails_unless_allowed) {
    Net n = make_net({4, 3, 2, 1}, {"relu", "relu", "sigmoid"}, 6, 61);
    n.params.b[0].fill(-100.0);  // every Z1 < 0: layer 1 is dead, A1 = 0
    const auto r = gc::run_check(n.spec, n.params, n.X, n.Y);
    // Zero in tape, hand and FD: dW1, db1, dZ1 (nothing flows back), dW2 = dZ2 A1ᵀ = 0.
    BOOST_TEST(failing(r.report) == "dW1 db1 dZ1 dW2");
    for (const char* name : {"dW1", "db1", "dZ1", "dW2"}) {
        BOOST_TEST_CONTEXT(name) {
            BOOST_TEST(row(r.report, name).hand.both_zero);
            BOOST_TEST(!row(r.report, name).hand.pass);
        }
    }
    BOOST_TEST(row(r.report, "dW1").fd.both_zero);
    BOOST_TEST(!row(r.report, "dA1").hand.both_zero);  // W2ᵀ dZ2 is not zero

    gc::CheckOptions o;
    o.allow_zero = true;
    const auto a = gc::compare_all(r.tape, r.hand, r.fd, o);
    BOOST_TEST(a.pass(), "failing rows: " << failing(a));
}

BOOST_AUTO_TEST_CASE(entries_straddling_the_relu_kink_are_excluded_and_counted) {
    Net n = make_net({3, 2, 1}, {"relu", "sigmoid"}, 4, 71);
    // Put Z1[0,0] (unit 0, example 0) a hair above 0: b1[0] = 1e-9 - W1[0,:]·X[:,0].
    double dot = 0;
    for (std::size_t j = 0; j < 3; ++j) dot += n.params.W[0](0, j) * n.X(j, 0);
    n.params.b[0](0, 0) = 1e-9 - dot;
    const auto z = reference::propagate(n.spec, n.params, n.X, n.Y).Z[1];
    BOOST_REQUIRE(std::abs(z(0, 0)) < 1e-8);
    for (std::size_t i = 1; i < 4; ++i) BOOST_REQUIRE(std::abs(z(0, i)) > 1e-3);
    for (std::size_t i = 0; i < 4; ++i) BOOST_REQUIRE(std::abs(z(1, i)) > 1e-3);

    const auto r = gc::run_check(n.spec, n.params, n.X, n.Y);
    const auto kink = std::uint8_t(gc::FdStatus::kink);
    const auto compared = std::uint8_t(gc::FdStatus::compared);
    // b1[0] moves Z1[0,0] by ±1e-7 across 0: excluded. Unit 1 and layer 2 are untouched by it.
    BOOST_TEST(r.fd.db[1].status(0, 0) == kink);
    BOOST_TEST(r.fd.db[1].status(1, 0) == compared);
    for (std::size_t j = 0; j < 3; ++j) BOOST_TEST(r.fd.dW[1].status(1, j) == compared);
    for (auto s : r.fd.dW[2].status) BOOST_TEST(s == compared);
    BOOST_TEST(r.fd.db[1].kinks == 1u);
    BOOST_TEST(row(r.report, "db1").fd_kinks == 1u);
    BOOST_TEST(row(r.report, "db1").fd.compared == 1u);
    std::size_t w_kinks = 0;
    for (std::size_t j = 0; j < 3; ++j) w_kinks += r.fd.dW[1].status(0, j) == kink;
    BOOST_TEST(r.fd.dW[1].kinks == w_kinks);
    BOOST_TEST(r.report.fd_kinks() == w_kinks + 1);
    // Why: at the kink the centered difference sees half a relu slope, far from the tape's value.
    const double fd = r.fd.db[1].grad(0, 0), tape = r.tape.db[1](0, 0);
    BOOST_TEST(std::abs(fd - tape) > 1e-3 * std::abs(tape));
    // With those entries out, the rest passes.
    BOOST_TEST(r.report.pass(), "failing rows: " << failing(r.report));
}

// ---- sampling and the dump ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(sampling_is_reproducible_and_small_tensors_are_done_whole) {
    const Net n = make_net({10, 6, 1}, {"relu", "sigmoid"}, 5, 81);
    gc::FdOptions o;
    o.sample = 7;
    const auto a = gc::finite_differences(n.spec, n.params, n.X, n.Y, o);
    const auto b = gc::finite_differences(n.spec, n.params, n.X, n.Y, o);
    BOOST_TEST(a.dW[1].evaluated == 7u);  // 60 entries, 7 drawn
    std::size_t not_skipped = 0;
    for (auto s : a.dW[1].status) not_skipped += s != std::uint8_t(gc::FdStatus::skipped);
    BOOST_TEST(not_skipped == 7u);
    BOOST_TEST(a.db[1].evaluated == 6u);  // 6 <= 7: whole
    BOOST_TEST(a.dW[2].evaluated == 6u);
    BOOST_TEST(a.dW[1].status == b.dW[1].status);
    o.sample_seed = 2;
    const auto c = gc::finite_differences(n.spec, n.params, n.X, n.Y, o);
    BOOST_TEST(!(a.dW[1].status == c.dW[1].status));  // another seed, another sample
    for (std::size_t i = 0; i < a.dW[1].grad.size(); ++i)
        BOOST_TEST(std::isnan(a.dW[1].grad.data()[i]) ==
                   (a.dW[1].status.data()[i] == std::uint8_t(gc::FdStatus::skipped)));
    BOOST_CHECK_THROW(gc::finite_differences(n.spec, n.params, n.X, n.Y, gc::FdOptions{0.0}),
                      UsageError);
}

BOOST_AUTO_TEST_CASE(dump_writes_every_gradient_atomically) {
    const Net n = make_net({4, 3, 1}, {"relu", "sigmoid"}, 5, 91);
    gc::CheckOptions o;
    o.fd.sample = 5;
    const auto r = gc::run_check(n.spec, n.params, n.X, n.Y, o);
    const std::string path = "/tmp/xgrad_test_gcdump_" + std::to_string(::getpid()) + ".h5";
    gc::write_dump(path, {"net"}, {&r});
    {
        H5::H5File f(path, H5F_ACC_RDONLY);
        auto read = [&](const std::string& name, std::size_t rows, std::size_t cols) {
            H5::DataSet d = f.openDataSet(name);
            hsize_t dims[2] = {0, 0};
            BOOST_TEST(d.getSpace().getSimpleExtentDims(dims) == 2);
            BOOST_TEST(dims[0] == rows);
            BOOST_TEST(dims[1] == cols);
            Matrix<double> m = Matrix<double>::from_shape({rows, cols});
            d.read(m.data(), H5::PredType::NATIVE_DOUBLE);
            return m;
        };
        BOOST_TEST(test::norm_diff(read("net/tape/dW1", 3, 4), r.tape.dW[1]) == 0.0);
        BOOST_TEST(test::norm_diff(read("net/hand/dZ2", 1, 5), r.hand.dZ[2]) == 0.0);
        BOOST_TEST(test::norm_diff(read("net/tape/dA1", 3, 5), r.tape.dA[1]) == 0.0);
        const Matrix<double> fd = read("net/fd/dW1", 3, 4);
        const Matrix<double> st = read("net/fd_status/dW1", 3, 4);
        std::size_t sampled = 0;
        for (std::size_t i = 0; i < fd.size(); ++i) {
            const bool skipped = st.data()[i] == 0;
            sampled += !skipped;
            BOOST_TEST(std::isnan(fd.data()[i]) == skipped);
            if (!skipped) BOOST_TEST(fd.data()[i] == r.fd.dW[1].grad.data()[i]);
        }
        BOOST_TEST(sampled == 5u);
    }
    std::remove(path.c_str());
    // No temporary is left behind, and an unwritable place is a DataError.
    BOOST_TEST(!std::ifstream(path + ".tmp." + std::to_string(::getpid())).good());
    BOOST_CHECK_THROW(gc::write_dump("/nonexistent-dir/x.h5", {"net"}, {&r}), DataError);
}

// ---- tanh, L2 and dropout with fixed masks (and softmax outputs) -------------------------------

namespace {

gc::Regime regime_for(const Net& n, double lambd, std::vector<double> keep, std::uint32_t seed = 1) {
    Regularization reg;
    reg.lambd = lambd;
    reg.keep_prob = std::move(keep);
    return gc::make_regime(n.spec, reg, n.X.shape()[1], seed);
}

std::size_t zeros_in(const gc::Regime& r) {
    std::size_t z = 0;
    for (const auto& d : r.masks)
        for (double v : d) z += v == 0;
    return z;
}

// Class-index labels [1,m] for a softmax network.
void class_labels(Net& n, std::uint32_t seed) {
    NumpyRandom rng(seed);
    const std::size_t K = n.spec.dims.back(), m = n.X.shape()[1];
    n.Y = Matrix<double>::from_shape({1, m});
    for (auto& v : n.Y) v = double(std::min(K - 1, std::size_t(rng.uniform() * double(K))));
}

}  // namespace

BOOST_AUTO_TEST_CASE(check_passes_with_tanh_l2_and_dropout_with_every_fd_entry) {
    struct Arch {
        const char* what;
        std::vector<std::size_t> dims;
        std::vector<std::string> acts;
        std::size_t m;
        std::uint32_t seed;
        double lambd;
        std::vector<double> keep;
    };
    const std::vector<Arch> archs = {
        // tanh
        {"tanh", {5, 4, 1}, {"tanh", "sigmoid"}, 10, 101, 0, {}},
        {"tanh", {6, 5, 4, 1}, {"tanh", "tanh", "sigmoid"}, 16, 102, 0, {}},
        {"tanh", {6, 5, 4, 3, 1}, {"tanh", "relu", "sigmoid", "sigmoid"}, 12, 103, 0, {}},
        // L2
        {"L2", {5, 4, 3, 1}, {"relu", "relu", "sigmoid"}, 10, 111, 0.7, {}},
        {"L2", {5, 4, 3, 1}, {"tanh", "relu", "sigmoid"}, 10, 112, 0.7, {}},
        {"L2", {12, 1}, {"sigmoid"}, 30, 113, 0.7, {}},
        // dropout, fixed masks
        {"dropout", {5, 4, 3, 1}, {"relu", "relu", "sigmoid"}, 10, 121, 0, {0.8}},
        {"dropout", {6, 6, 5, 1}, {"sigmoid", "tanh", "sigmoid"}, 16, 122, 0, {0.8}},
        {"dropout", {6, 6, 5, 4, 2}, {"relu", "tanh", "relu", "sigmoid"}, 9, 123, 0, {0.8, 0.5, 0.9}},
        // all three
        {"all", {5, 4, 3, 1}, {"tanh", "relu", "sigmoid"}, 10, 131, 0.7, {0.8}},
        {"all", {8, 6, 5, 4, 1}, {"tanh", "tanh", "relu", "sigmoid"}, 33, 132, 0.7, {0.8}},
        {"all", {7, 5, 5, 1}, {"relu", "tanh", "sigmoid"}, 20, 133, 0.7, {0.6, 0.8}},
        // softmax outputs: no dA_L row
        {"softmax", {5, 4, 3}, {"tanh", "softmax"}, 12, 141, 0, {}},
        {"softmax", {6, 5, 4, 4}, {"tanh", "relu", "softmax"}, 15, 142, 0.7, {0.8}},
    };
    struct Worst {
        double hand = 0, fd = 0;
    };
    std::map<std::string, Worst> worst;
    for (const Arch& a : archs) {
        Net n = make_net(a.dims, a.acts, a.m, a.seed);
        if (n.spec.softmax_output()) class_labels(n, a.seed + 7);
        const gc::Regime g = regime_for(n, a.lambd, a.keep, a.seed);
        const auto r = gc::run_check(n.spec, n.params, n.X, n.Y, {}, g);
        const std::size_t L = n.spec.layers();
        BOOST_TEST_CONTEXT(a.what << " " << L << " layers, seed " << a.seed) {
            BOOST_TEST(r.report.pass(), "failing rows: " << failing(r.report));
            BOOST_TEST(r.report.max_rel_hand() <= 1e-12);
            BOOST_TEST(r.report.max_rel_fd() <= 2e-7);  // the tool's default --tol-fd
            BOOST_TEST(r.report.rows.size() == 4 * L - (n.spec.softmax_output() ? 1 : 0));
            std::size_t params = 0;
            for (std::size_t l = 0; l < L; ++l)
                params += n.params.W[l].size() + n.params.b[l].size();
            BOOST_TEST(r.report.fd_evaluated() == params);
            for (const gc::Row& x : r.report.rows) BOOST_TEST(!x.hand.both_zero);
            BOOST_TEST(r.regime.reg.lambd == a.lambd);
            if (!a.keep.empty()) {
                BOOST_TEST(g.dropout());
                BOOST_TEST(zeros_in(g) > 0u);  // the masks really drop units
            }
        }
        Worst& w = worst[a.what];
        w.hand = std::max(w.hand, r.report.max_rel_hand());
        w.fd = std::max(w.fd, r.report.max_rel_fd());
    }
    for (const auto& [what, w] : worst)
        BOOST_TEST_MESSAGE(what << ": largest rel err tape vs hand " << w.hand << ", tape vs FD "
                                << w.fd);
}

BOOST_AUTO_TEST_CASE(the_regime_changes_the_gradients_as_it_should) {
    const Net n = make_net({5, 4, 3, 1}, {"tanh", "relu", "sigmoid"}, 10, 151);
    const auto plain = gc::tape_gradients(n.spec, n.params, n.X, n.Y);
    // L2: dW_l grows by exactly (lambd/m) W_l, nothing else moves.
    const auto l2 = gc::tape_gradients(n.spec, n.params, n.X, n.Y, regime_for(n, 0.7, {}));
    for (std::size_t l = 1; l <= 3; ++l) {
        const Matrix<double> want = plain.dW[l] + 0.7 / 10.0 * n.params.W[l - 1];
        BOOST_TEST(test::norm_diff(l2.dW[l], want) <= 1e-15 * test::norm(want));
        BOOST_TEST(test::norm_diff(l2.db[l], plain.db[l]) == 0.0);
        BOOST_TEST(test::norm_diff(l2.dA[l], plain.dA[l]) == 0.0);
    }
    // Dropout: the dA_l row is the gradient of A_l before the mask, zero where a unit is dropped,
    // and W_{l+1}ᵀ dZ_{l+1} ⊙ D_l (dZ is of the cost, so no m here).
    const gc::Regime g = regime_for(n, 0, {0.8}, 4);
    BOOST_REQUIRE(zeros_in(g) > 0u);
    const auto d = gc::tape_gradients(n.spec, n.params, n.X, n.Y, g);
    for (std::size_t l = 1; l <= 2; ++l) {
        const Matrix<double>& D = g.masks[l];
        const Matrix<double> WT = xt::transpose(n.params.W[l]);
        Matrix<double> through = xt::zeros<double>({WT.shape()[0], d.dZ[l + 1].shape()[1]});
        for (std::size_t i = 0; i < through.shape()[0]; ++i)
            for (std::size_t j = 0; j < through.shape()[1]; ++j)
                for (std::size_t k = 0; k < WT.shape()[1]; ++k)
                    through(i, j) += WT(i, k) * d.dZ[l + 1](k, j);
        const Matrix<double> want = through * D;
        BOOST_TEST(test::norm_diff(d.dA[l], want) <= 1e-14 * test::norm(want));
        for (std::size_t i = 0; i < D.size(); ++i)
            if (D.data()[i] == 0) BOOST_TEST(d.dA[l].data()[i] == 0.0);
        BOOST_TEST(test::norm_diff(d.dA[l], plain.dA[l]) > 0.0);
    }
    // The masks are those Mlp::draw_masks draws from the same seed, 0 or 1/keep.
    Regularization reg;
    reg.keep_prob = {0.8};
    Mlp<double> net(n.spec, n.params, n.X, n.Y, reg);
    NumpyRandom rng(4);
    net.draw_masks(rng);
    for (std::size_t l = 1; l <= 2; ++l) {
        BOOST_TEST(test::norm_diff(net.tape().value(net.mask(l)), g.masks[l]) == 0.0);
        for (double v : g.masks[l]) BOOST_TEST((v == 0.0 || v == 1.0 / 0.8));
    }
    BOOST_TEST(g.masks[0].size() == 0u);
    BOOST_TEST(g.masks[3].size() == 0u);
    BOOST_TEST(g.mask_seed == 4);
    // keep_prob 1 everywhere is no dropout: no masks.
    BOOST_TEST(!regime_for(n, 0, {1.0}).dropout());
}

namespace {
// The hand-derived backward pass written out again with switchable mistakes; the forward values
// come from reference::propagate. With no mistake it must equal hand_gradients.
struct Mistakes {
    bool tanh_from_z = false;       // tanh' = 1 - Z² instead of 1 - A²
    bool no_l2_in_dW = false;       // dW_l without (lambd/m) W_l
    bool mask_forward_only = false; // dA_l not multiplied by D_l on the way back
};
gc::Gradients hand_with(const Net& n, const gc::Regime& g, Mistakes mk) {
    const auto r = reference::propagate(n.spec, n.params, n.X, n.Y, g.reg.lambd, g.masks);
    const std::size_t L = n.spec.layers();
    const double m = double(n.X.shape()[1]);
    auto mask = [&](std::size_t l) -> const Matrix<double>* {
        return l >= 1 && l < g.masks.size() && g.masks[l].size() != 0 ? &g.masks[l] : nullptr;
    };
    gc::Gradients out;
    out.dW.resize(L + 1), out.db.resize(L + 1), out.dZ.resize(L + 1), out.dA.resize(L + 1);
    Matrix<double> dZ = r.dZ[L];  // the output layer is not where the mistakes are
    out.dA[L] = r.dA[L] / m;
    for (std::size_t l = L; l >= 1; --l) {
        if (l < L) {
            if (mask(l) && !mk.mask_forward_only) out.dA[l] = out.dA[l] * *mask(l);
            const Matrix<double> dA = out.dA[l] * m;
            switch (n.spec.activations[l - 1]) {
                case Activation::relu: dZ = reference::relu_backward(dA, r.Z[l]); break;
                case Activation::sigmoid: dZ = reference::sigmoid_backward(dA, r.Z[l]); break;
                case Activation::tanh:
                    dZ = reference::tanh_backward(dA, mk.tanh_from_z ? r.Z[l] : r.A[l]);
                    break;
                case Activation::softmax: BOOST_FAIL("softmax is not hidden"); break;
            }
        }
        const Matrix<double> in = mask(l - 1) ? Matrix<double>(r.A[l - 1] * *mask(l - 1)) : r.A[l - 1];
        Matrix<double> dW, db, dA_prev;
        reference::linear_backward(dZ, in, n.params.W[l - 1], dW, db, dA_prev);
        if (!mk.no_l2_in_dW && g.reg.lambd > 0) dW += (g.reg.lambd / m) * n.params.W[l - 1];
        out.dW[l] = dW, out.db[l] = db, out.dZ[l] = dZ / m;
        if (l > 1) out.dA[l - 1] = dA_prev / m;  // the gradient of what layer l read; masked above
        dZ = Matrix<double>();
    }
    return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_tanh_derivative_from_Z_fails_exactly_the_affected_rows) {
    struct Case {
        std::vector<std::string> acts;
        const char* failing;
    };
    // tanh in layer 1: its dZ and what comes from it (dW1, db1); dA1 is before tanh' and right.
    // tanh in layer 2: dZ2, dW2, db2, then dA1 = W2ᵀ dZ2 ⊙ D1 and all of layer 1.
    const std::vector<Case> cases = {
        {{"tanh", "relu", "sigmoid"}, "dW1 db1 dZ1"},
        {{"relu", "tanh", "sigmoid"}, "dW1 db1 dZ1 dA1 dW2 db2 dZ2"},
    };
    for (const Case& c : cases) {
        for (const bool regularised : {false, true}) {
            BOOST_TEST_CONTEXT(c.acts[0] << "," << c.acts[1] << (regularised ? ", L2 + dropout" : "")) {
                const Net n = make_net({5, 4, 3, 1}, c.acts, 10, 161);
                const gc::Regime g = regularised ? regime_for(n, 0.7, {0.8}) : gc::Regime{};
                const auto base = gc::run_check(n.spec, n.params, n.X, n.Y, {}, g);
                BOOST_REQUIRE(base.report.pass());
                // The test's own backward, without mistakes, is the hand formulas.
                const auto right = gc::compare_all(base.tape, hand_with(n, g, {}), base.fd, {});
                BOOST_TEST(right.pass(), "failing rows: " << failing(right));
                Mistakes mk;
                mk.tanh_from_z = true;
                const auto r = gc::compare_all(base.tape, hand_with(n, g, mk), base.fd, {});
                BOOST_TEST(failing(r) == c.failing);
                for (const gc::Row& x : r.rows)
                    if (x.has_fd) BOOST_TEST(x.fd.pass);  // the tape itself is still right
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(an_l2_gradient_without_lambd_over_m_W_fails_exactly_the_dW_rows) {
    const Net n = make_net({5, 4, 3, 1}, {"tanh", "relu", "sigmoid"}, 10, 171);
    for (const bool dropout : {false, true}) {
        BOOST_TEST_CONTEXT(std::string(dropout ? "with dropout" : "L2 alone")) {
            const gc::Regime g = regime_for(n, 0.7, dropout ? std::vector<double>{0.8} : std::vector<double>{});
            const auto base = gc::run_check(n.spec, n.params, n.X, n.Y, {}, g);
            BOOST_REQUIRE(base.report.pass());
            Mistakes mk;
            mk.no_l2_in_dW = true;
            // In the hand set: the dW rows against the tape, nothing else.
            const auto r = gc::compare_all(base.tape, hand_with(n, g, mk), base.fd, {});
            BOOST_TEST(failing(r) == "dW1 dW2 dW3");
            for (const char* name : {"dW1", "dW2", "dW3"}) {
                BOOST_TEST(!row(r, name).hand.pass);
                BOOST_TEST(row(r, name).fd.pass);
            }
            // A tape that forgot the penalty (recorded with lambd 0, same masks): its dW rows fail
            // against the hand formulas and against the finite differences of the full cost.
            gc::Regime no_l2 = g;
            no_l2.reg.lambd = 0;
            const auto tape = gc::tape_gradients(n.spec, n.params, n.X, n.Y, no_l2);
            const auto s = gc::compare_all(tape, base.hand, base.fd, {});
            BOOST_TEST(failing(s) == "dW1 dW2 dW3");
            for (const char* name : {"dW1", "dW2", "dW3"}) BOOST_TEST(!row(s, name).fd.pass);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_mask_applied_only_forward_fails_the_rows_behind_it) {
    const Net n = make_net({5, 4, 3, 1}, {"relu", "tanh", "sigmoid"}, 10, 181);
    const gc::Regime g = regime_for(n, 0, {0.8});
    BOOST_REQUIRE(zeros_in(g) > 0u);
    const auto base = gc::run_check(n.spec, n.params, n.X, n.Y, {}, g);
    BOOST_REQUIRE(base.report.pass());
    Mistakes mk;
    mk.mask_forward_only = true;
    const auto r = gc::compare_all(base.tape, hand_with(n, g, mk), base.fd, {});
    // Layer 3 is before the first mask on the way back; from dA2 on everything is off.
    BOOST_TEST(failing(r) == "dW1 db1 dZ1 dA1 dW2 db2 dZ2 dA2");
}

BOOST_AUTO_TEST_CASE(a_regime_that_does_not_fit_is_an_error) {
    const Net n = make_net({5, 4, 3, 1}, {"tanh", "relu", "sigmoid"}, 6, 191);
    auto run = [&](const gc::Regime& g) { return gc::run_check(n.spec, n.params, n.X, n.Y, {}, g); };
    gc::Regime g;
    g.reg.keep_prob = {0.8};  // dropout without masks
    BOOST_CHECK_THROW(run(g), UsageError);
    BOOST_CHECK_THROW(gc::tape_gradients(n.spec, n.params, n.X, n.Y, g), UsageError);
    BOOST_CHECK_THROW(gc::hand_gradients(n.spec, n.params, n.X, n.Y, g), UsageError);
    BOOST_CHECK_THROW(gc::finite_differences(n.spec, n.params, n.X, n.Y, {}, g), UsageError);
    g = regime_for(n, 0, {0.8});
    g.masks[1] = xt::ones<double>({4, 5});  // m is 6
    BOOST_CHECK_THROW(run(g), ShapeError);
    g = regime_for(n, 0, {0.8});
    g.masks[3] = xt::ones<double>({1, 6});  // the output has no dropout
    BOOST_CHECK_THROW(run(g), UsageError);
    g = regime_for(n, 0, {1.0, 0.8});  // layer 1 keeps everything: no mask there
    BOOST_TEST(g.masks[1].size() == 0u);
    BOOST_TEST(g.masks[2].size() != 0u);
    g.masks[1] = xt::ones<double>({4, 6});
    BOOST_CHECK_THROW(run(g), UsageError);
    Regularization bad;
    bad.keep_prob = {0.8, 0.8, 0.8};  // 2 hidden layers
    BOOST_CHECK_THROW(gc::make_regime(n.spec, bad, 6, 1), UsageError);
    bad.keep_prob = {0.0};
    BOOST_CHECK_THROW(gc::make_regime(n.spec, bad, 6, 1), UsageError);
    bad.keep_prob = {1.5};
    BOOST_CHECK_THROW(gc::make_regime(n.spec, bad, 6, 1), UsageError);
    bad.keep_prob = {};
    bad.lambd = -1;
    BOOST_CHECK_THROW(gc::make_regime(n.spec, bad, 6, 1), UsageError);
    const MlpSpec one({3, 1}, {"sigmoid"});
    Regularization k;
    k.keep_prob = {0.8};
    BOOST_CHECK_THROW(gc::make_regime(one, k, 6, 1), UsageError);  // no hidden layer
}

BOOST_AUTO_TEST_CASE(a_softmax_check_has_no_dA_L_row_and_a_one_sided_dA_L_is_an_error) {
    Net n = make_net({4, 3, 3}, {"tanh", "softmax"}, 8, 201);
    class_labels(n, 5);
    const auto r = gc::run_check(n.spec, n.params, n.X, n.Y);
    BOOST_TEST(r.report.pass(), "failing rows: " << failing(r.report));
    BOOST_TEST(r.report.rows.size() == 7u);
    BOOST_TEST(r.report.rows.back().name() == "dZ2");
    BOOST_TEST(r.tape.dA[2].size() == 0u);
    BOOST_TEST(r.hand.dA[2].size() == 0u);
    gc::Gradients hand = r.hand;
    hand.dA[2] = xt::zeros<double>({3, 8});
    BOOST_CHECK_THROW(gc::compare_all(r.tape, hand, r.fd, {}), ShapeError);
    // One-hot labels give the same gradients as class indices.
    Matrix<double> onehot = xt::zeros<double>({3, 8});
    for (std::size_t j = 0; j < 8; ++j) onehot(std::size_t(n.Y(0, j)), j) = 1.0;
    const auto s = gc::run_check(n.spec, n.params, n.X, onehot);
    BOOST_TEST(s.report.pass(), "failing rows: " << failing(s.report));
    BOOST_TEST(test::norm_diff(s.tape.dW[1], r.tape.dW[1]) == 0.0);
}

BOOST_AUTO_TEST_CASE(dump_records_lambd_keep_prob_mask_seed_and_the_masks) {
    const Net n = make_net({4, 3, 2, 1}, {"tanh", "relu", "sigmoid"}, 5, 211);
    const gc::Regime g = regime_for(n, 0.7, {0.5, 0.8}, 9);
    gc::CheckOptions o;
    o.fd.sample = 3;
    const auto r = gc::run_check(n.spec, n.params, n.X, n.Y, o, g);
    Net s = make_net({4, 3, 3}, {"tanh", "softmax"}, 5, 212);
    class_labels(s, 3);
    const auto q = gc::run_check(s.spec, s.params, s.X, s.Y, o);
    const std::string path = "/tmp/xgrad_test_gcdump_reg_" + std::to_string(::getpid()) + ".h5";
    gc::write_dump(path, {"reg", "softmax"}, {&r, &q});
    {
        H5::Exception::dontPrint();
        H5::H5File f(path, H5F_ACC_RDONLY);
        H5::Group grp = f.openGroup("reg");
        double lambd = 0;
        grp.openAttribute("lambd").read(H5::PredType::NATIVE_DOUBLE, &lambd);
        BOOST_TEST(lambd == 0.7);
        double keep[2] = {0, 0};
        H5::Attribute ka = grp.openAttribute("keep_prob");
        BOOST_TEST(ka.getSpace().getSimpleExtentNpoints() == 2);
        ka.read(H5::PredType::NATIVE_DOUBLE, keep);
        BOOST_TEST(keep[0] == 0.5);
        BOOST_TEST(keep[1] == 0.8);
        std::int64_t seed = 0;
        grp.openAttribute("mask_seed").read(H5::PredType::NATIVE_INT64, &seed);
        BOOST_TEST(seed == 9);
        for (std::size_t l = 1; l <= 2; ++l) {
            H5::DataSet d = f.openDataSet("reg/masks/D" + std::to_string(l));
            Matrix<double> D = Matrix<double>::from_shape(g.masks[l].shape());
            d.read(D.data(), H5::PredType::NATIVE_DOUBLE);
            BOOST_TEST(test::norm_diff(D, g.masks[l]) == 0.0);
        }
        // No regime: lambd 0, keep_prob 1, no seed, no masks; softmax: no dA2.
        H5::Group sg = f.openGroup("softmax");
        sg.openAttribute("lambd").read(H5::PredType::NATIVE_DOUBLE, &lambd);
        BOOST_TEST(lambd == 0.0);
        sg.openAttribute("keep_prob").read(H5::PredType::NATIVE_DOUBLE, keep);
        BOOST_TEST(keep[0] == 1.0);
        BOOST_TEST(!sg.attrExists("mask_seed"));
        BOOST_TEST(!f.nameExists("softmax/masks"));
        BOOST_TEST(f.nameExists("softmax/tape/dA1"));
        BOOST_TEST(!f.nameExists("softmax/tape/dA2"));
        BOOST_TEST(f.nameExists("softmax/tape/dZ2"));
    }
    std::remove(path.c_str());
}
