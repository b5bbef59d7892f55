#define BOOST_TEST_MODULE train
#include <boost/test/unit_test.hpp>

// Optimisers, schedules, mini-batches, dropout and initialisers against golden trajectories that
// an independent NumPy program computed (tests/fixtures/make_golden.py -> golden.h5), at 1e-10
// relative in f64; plus the optimiser API on a hand-made tape and a K = 3 softmax model.

#include <H5Cpp.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include "test_util.hpp"
#include "thread_group.hpp"
#include "xgrad/nn/train.hpp"

using namespace xgrad;
using M = Matrix<double>;
using test::rel_err;
using test::ThreadCollective;
using test::ThreadGroup;

namespace {

const std::string kGolden = std::string(XGRAD_SOURCE_DIR) + "/tests/fixtures/golden.h5";

// ---- reading the fixture ----------------------------------------------------------------------

std::vector<double> read_doubles(const H5::DataSet& d, std::vector<hsize_t>* dims = nullptr) {
    const H5::DataSpace space = d.getSpace();
    std::vector<hsize_t> dd(std::size_t(space.getSimpleExtentNdims()));
    space.getSimpleExtentDims(dd.data());
    if (dims) *dims = dd;
    std::vector<double> v(std::size_t(space.getSimpleExtentNpoints()));
    d.read(v.data(), H5::PredType::NATIVE_DOUBLE);
    return v;
}

M read_matrix(const H5::Group& g, const std::string& name) {
    std::vector<hsize_t> dims;
    const std::vector<double> v = read_doubles(g.openDataSet(name), &dims);
    const std::size_t rows = dims.at(0), cols = dims.size() > 1 ? dims[1] : 1;
    M m = M::from_shape({rows, cols});
    std::copy(v.begin(), v.end(), m.begin());
    return m;
}

std::vector<double> attr_doubles(const H5::Group& g, const std::string& name) {
    const H5::Attribute a = g.openAttribute(name);
    std::vector<double> v(std::size_t(a.getSpace().getSimpleExtentNpoints()));
    if (!v.empty()) a.read(H5::PredType::NATIVE_DOUBLE, v.data());
    return v;
}
double attr_double(const H5::Group& g, const std::string& name) { return attr_doubles(g, name).at(0); }

std::vector<std::string> attr_strings(const H5::Group& g, const std::string& name) {
    const H5::Attribute a = g.openAttribute(name);
    const std::size_t n = std::size_t(a.getSpace().getSimpleExtentNpoints());
    H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
    type.setCset(H5T_CSET_UTF8);
    std::vector<char*> raw(n, nullptr);
    a.read(type, raw.data());
    std::vector<std::string> out;
    for (char* s : raw) {
        out.emplace_back(s ? s : "");
        H5free_memory(s);
    }
    return out;
}

struct Case {
    std::string name;
    MlpSpec spec;
    Init init = Init::he;
    double init_scale = 0.01;
    std::uint32_t seed = 0;
    TrainConfig config;
    long long epochs = 0;
    M X, Y;
    std::vector<double> costs;
    Params<double> final;
    std::map<std::size_t, M> mask0;  // hidden layer -> 0/1 mask of the first step
};

Case read_case(const H5::H5File& f, const std::string& name) {
    const H5::Group g = f.openGroup("/cases/" + name);
    Case c;
    c.name = name;
    std::vector<std::size_t> dims;
    for (double d : attr_doubles(g, "dims")) dims.push_back(std::size_t(d));
    c.spec = MlpSpec(dims, attr_strings(g, "activations"));
    c.init = parse_init(attr_strings(g, "init").at(0));
    c.init_scale = attr_double(g, "init_scale");
    c.seed = std::uint32_t(attr_double(g, "seed"));
    OptimizerConfig& o = c.config.optimizer;
    o.kind = parse_optimizer(attr_strings(g, "optimizer").at(0));
    o.learning_rate = attr_double(g, "learning_rate");
    o.beta = attr_double(g, "beta");
    o.beta1 = attr_double(g, "beta1");
    o.beta2 = attr_double(g, "beta2");
    o.epsilon = attr_double(g, "epsilon");
    c.config.decay = attr_double(g, "decay");
    c.config.decay_interval = (long long)attr_double(g, "decay_interval");
    c.config.mini_batch_size = std::size_t(attr_double(g, "mini_batch_size"));
    c.config.shuffle_seed = std::uint32_t(attr_double(g, "shuffle_seed"));
    c.config.reg.lambd = attr_double(g, "lambd");
    c.config.reg.keep_prob = attr_doubles(g, "keep_prob");
    if (std::all_of(c.config.reg.keep_prob.begin(), c.config.reg.keep_prob.end(),
                    [](double k) { return k == 1.0; }))
        c.config.reg.keep_prob.clear();
    c.config.dropout_seed = std::uint32_t(attr_double(g, "dropout_seed"));
    c.epochs = (long long)attr_double(g, "epochs");
    c.X = read_matrix(g, "X");
    c.Y = read_matrix(g, "Y");
    c.costs = read_doubles(g.openDataSet("costs"));
    for (std::size_t l = 1; l <= c.spec.layers(); ++l) {
        c.final.W.push_back(read_matrix(g, "W" + std::to_string(l)));
        c.final.b.push_back(read_matrix(g, "b" + std::to_string(l)));
        const std::string mask = "mask" + std::to_string(l) + "_step0";
        if (g.nameExists(mask)) c.mask0[l] = read_matrix(g, mask);
    }
    return c;
}

std::vector<std::string> case_names(const H5::H5File& f) {
    const H5::Group g = f.openGroup("/cases");
    std::vector<std::string> names;
    for (hsize_t i = 0; i < g.getNumObjs(); ++i) names.push_back(g.getObjnameByIdx(i));
    return names;
}

// Largest elementwise relative difference, with values below 1e-12 compared absolutely.
double max_rel(const M& a, const M& b) {
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double d = std::fabs(a.data()[i] - b.data()[i]);
        worst = std::max(worst, d / std::max(std::fabs(b.data()[i]), 1e-12));
    }
    return worst;
}

template <class T>
struct Run {
    std::vector<double> costs;
    Params<T> final;
    std::map<std::size_t, M> mask0;
};

template <class T>
Run<T> train_case(const Case& c) {
    Trainer<T> tr(c.spec, init_params<T>(c.spec, c.init, c.seed, c.init_scale),
                  Matrix<T>(xt::cast<T>(c.X)), Matrix<T>(xt::cast<T>(c.Y)), c.config);
    Run<T> r;
    for (long long e = 0; e < c.epochs; ++e)
        tr.epoch([&](double cost) {
            if (r.costs.empty()) {  // the first step's masks, as 0/1, over the batch's columns
                const std::size_t n = tr.net().batch_columns();
                for (std::size_t l = 1; l < c.spec.layers(); ++l) {
                    if (tr.net().mask(l) < 0) continue;
                    const auto& D = tr.net().tape().value(tr.net().mask(l));
                    M d = M::from_shape({D.shape()[0], n});
                    for (std::size_t i = 0; i < d.shape()[0]; ++i)
                        for (std::size_t j = 0; j < n; ++j) d(i, j) = D(i, j) > 0 ? 1.0 : 0.0;
                    r.mask0[l] = d;
                }
            }
            r.costs.push_back(cost);
        });
    r.final = tr.net().params();
    return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(permutation_and_rand_match_numpy) {
    const H5::H5File f(kGolden, H5F_ACC_RDONLY);
    const H5::Group g = f.openGroup("/rng");
    int checked = 0;
    for (hsize_t i = 0; i < g.getNumObjs(); ++i) {
        const std::string name = g.getObjnameByIdx(i);
        unsigned seed = 0, n = 0;
        if (std::sscanf(name.c_str(), "perm_seed%u_n%u", &seed, &n) != 2) continue;
        const std::vector<double> want = read_doubles(g.openDataSet(name));
        NumpyRandom rng(seed);
        const std::vector<std::size_t> got = rng.permutation(n);
        BOOST_REQUIRE_EQUAL(got.size(), want.size());
        for (std::size_t k = 0; k < n; ++k) BOOST_TEST(double(got[k]) == want[k], name << " at " << k);
        ++checked;
    }
    BOOST_TEST(checked == 4);
    NumpyRandom rng(1);
    BOOST_TEST(max_rel(rng.rand(3, 5), read_matrix(g, "rand_seed1_3x5")) == 0.0);  // bit for bit
}

BOOST_AUTO_TEST_CASE(golden_trajectories_f64) {
    const H5::H5File f(kGolden, H5F_ACC_RDONLY);
    const auto names = case_names(f);
    BOOST_TEST(names.size() >= 7u);
    std::map<std::string, bool> seen;
    for (const std::string& name : names) {
        BOOST_TEST_CONTEXT("case " << name) {
            const Case c = read_case(f, name);
            const Run<double> r = train_case<double>(c);
            BOOST_REQUIRE_EQUAL(r.costs.size(), c.costs.size());
            double worst_cost = 0, worst_param = 0;
            for (std::size_t k = 0; k < c.costs.size(); ++k)
                worst_cost = std::max(worst_cost, std::fabs(r.costs[k] - c.costs[k]) / std::fabs(c.costs[k]));
            for (std::size_t l = 0; l < c.spec.layers(); ++l)
                worst_param = std::max({worst_param, max_rel(r.final.W[l], c.final.W[l]),
                                        max_rel(r.final.b[l], c.final.b[l])});
            BOOST_TEST_MESSAGE(name << ": " << c.costs.size() << " steps, max rel diff cost "
                                    << worst_cost << ", parameters " << worst_param);
            BOOST_TEST(worst_cost < 1e-10);
            BOOST_TEST(worst_param < 1e-10);
            BOOST_TEST(r.mask0.size() == c.mask0.size());
            for (const auto& [l, m0] : c.mask0) {
                BOOST_REQUIRE(r.mask0.count(l));
                BOOST_TEST(max_rel(r.mask0.at(l), m0) == 0.0, "mask of layer " << l);
            }
            seen[c.config.optimizer.kind == OptimizerKind::adam       ? "adam"
                 : c.config.optimizer.kind == OptimizerKind::momentum ? "momentum"
                                                                       : "gd"] = true;
            if (c.config.mini_batch_size) seen["mini-batches"] = true;
            if (!c.config.reg.keep_prob.empty()) seen["dropout"] = true;
            if (c.config.reg.lambd > 0) seen["l2"] = true;
            if (c.config.decay > 0) seen["decay"] = true;
            seen[init_name(c.init)] = true;
        }
    }
    // the fixture covers every optimiser, schedule, regulariser and initialiser
    for (const char* what : {"gd", "momentum", "adam", "mini-batches", "dropout", "l2", "decay",
                             "zeros", "normal", "xavier", "he"})
        BOOST_TEST(seen[what], what);
}

BOOST_AUTO_TEST_CASE(golden_trajectories_f32_follow_f64) {
    const H5::H5File f(kGolden, H5F_ACC_RDONLY);
    for (const std::string& name : case_names(f)) {
        const Case c = read_case(f, name);
        const Run<float> r = train_case<float>(c);
        BOOST_REQUIRE_EQUAL(r.costs.size(), c.costs.size());
        for (std::size_t k = 0; k < c.costs.size(); ++k)
            BOOST_TEST(std::fabs(r.costs[k] - c.costs[k]) / c.costs[k] < 1e-4, name << " step " << k);
    }
}

BOOST_AUTO_TEST_CASE(full_batch_gd_trainer_is_the_seeds_loop) {
    NumpyRandom rng(5);
    const MlpSpec spec({6, 4, 3, 1}, {"relu", "relu", "sigmoid"});
    const M X = test::randn<double>(rng, 6, 20), Y = test::labels<double>(rng, 1, 20);
    Mlp<double> plain(spec, he_init<double>(spec, 3), X, Y);
    TrainConfig cfg;
    cfg.optimizer.learning_rate = 0.05;
    Trainer<double> tr(spec, he_init<double>(spec, 3), X, Y, cfg);
    for (int i = 0; i < 30; ++i) {
        const double a = plain.train_step(0.05);
        const double b = tr.epoch();
        BOOST_TEST(a == b);  // bit for bit
    }
    BOOST_TEST(test::norm_diff(plain.params().W[0], tr.net().params().W[0]) == 0.0);
    const Evaluation e = tr.evaluate();
    BOOST_TEST(e.cost == plain.evaluate());
    BOOST_TEST(e.accuracy == plain.accuracy());
}

BOOST_AUTO_TEST_CASE(mini_batches_reuse_one_recorded_graph) {
    NumpyRandom rng(6);
    const MlpSpec spec({5, 4, 1}, {"tanh", "sigmoid"});
    const M X = test::randn<double>(rng, 5, 23), Y = test::labels<double>(rng, 1, 23);
    TrainConfig cfg;
    cfg.mini_batch_size = 8;  // 8, 8, 7
    cfg.optimizer.kind = OptimizerKind::adam;
    cfg.optimizer.learning_rate = 0.01;
    cfg.reg.keep_prob = {0.9};
    Trainer<double> tr(spec, he_init<double>(spec, 1), X, Y, cfg);
    const std::size_t nodes = tr.net().tape().size();
    const double* x_buffer = tr.net().tape().value(tr.net().X()).data();
    int steps = 0;
    std::vector<std::size_t> widths;
    for (int e = 0; e < 3; ++e)
        tr.epoch([&](double) {
            ++steps;
            widths.push_back(tr.net().batch_columns());
        });
    BOOST_TEST(steps == 9);
    BOOST_TEST(widths == (std::vector<std::size_t>{8, 8, 7, 8, 8, 7, 8, 8, 7}));
    BOOST_TEST(tr.net().tape().size() == nodes);
    BOOST_TEST(tr.net().tape().value(tr.net().X()).data() == x_buffer);
    BOOST_TEST(tr.net().capacity() == 8u);
    BOOST_TEST(tr.optimizer().steps() == 9);
}

BOOST_AUTO_TEST_CASE(learning_rate_decay) {
    BOOST_TEST(decayed_learning_rate(0.1, 0.0, 7) == 0.1);
    BOOST_TEST(decayed_learning_rate(0.1, 1.0, 0) == 0.1);
    BOOST_TEST(decayed_learning_rate(0.1, 1.0, 3) == 0.1 / 4.0);
    BOOST_TEST(decayed_learning_rate(0.1, 0.5, 5, 2) == 0.1 / 2.0);  // floor(5/2) = 2 decays
    BOOST_TEST(decayed_learning_rate(0.1, 0.5, 1, 2) == 0.1);
}

BOOST_AUTO_TEST_CASE(optimizer_on_any_tape) {
    // f(p) = ||p - c||²: gradient 2(p - c)
    const M c{{1.0, -2.0, 3.0}};
    Tape<double> t;
    const NodeId p = t.parameter(M{{0.0, 0.0, 0.0}}, "p");
    const NodeId q = t.parameter(M{{5.0}}, "q");  // not handed to the optimiser
    const NodeId loss = t.add(t.sq_norm(t.add(p, t.scale(t.constant(c), -1.0))), t.sq_norm(q));
    Optimizer<double> gd(t, {p}, OptimizerConfig{OptimizerKind::gd, 0.1});
    BOOST_TEST(gd.parameters() == std::vector<NodeId>{p});
    gd.zero_grad();
    t.backward(loss);
    gd.step();
    BOOST_TEST(max_rel(t.value(p), M(0.2 * c)) < 1e-15);  // 0 - 0.1 · 2(0 - c)
    BOOST_TEST(t.value(q)(0, 0) == 5.0);

    OptimizerConfig adam_cfg{OptimizerKind::adam, 0.1};
    Optimizer<double> adam(t, adam_cfg);  // every parameter
    BOOST_TEST(adam.parameters().size() == 2u);
    for (int i = 0; i < 500; ++i) {
        t.forward();
        adam.zero_grad();
        t.backward(loss);
        adam.step();
    }
    BOOST_TEST(max_rel(t.value(p), c) < 1e-3);
    BOOST_TEST(std::fabs(t.value(q)(0, 0)) < 1e-2);
    BOOST_TEST(adam.steps() == 500);
    // the first Adam step moves every coordinate by about lr, whatever the gradient's size
    Tape<double> t2;
    const NodeId p2 = t2.parameter(M{{0.0, 0.0}});
    const NodeId l2 = t2.sq_norm(t2.add(p2, t2.constant(M{{-1e-3, -1e3}})));
    Optimizer<double> a2(t2, adam_cfg);
    a2.zero_grad();
    t2.backward(l2);
    a2.step();
    BOOST_TEST(t2.value(p2)(0, 0) == 0.1, boost::test_tools::tolerance(1e-4));  // |g| = 2e-3 vs epsilon 1e-8
    BOOST_TEST(t2.value(p2)(0, 1) == 0.1, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(bad_settings_are_clear_errors) {
    auto expect = [](auto f, const std::string& part) {
        try {
            f();
            BOOST_ERROR("no error for " + part);
        } catch (const UsageError& e) {
            BOOST_TEST(std::string(e.what()).find(part) != std::string::npos, e.what());
        }
    };
    expect([] { parse_optimizer("sgd"); }, "unknown optimiser 'sgd'");
    expect([] { parse_init("glorot"); }, "unknown initialiser 'glorot'");
    expect([] { validate(OptimizerConfig{OptimizerKind::gd, 0.0}); }, "learning rate");
    expect([] { validate(OptimizerConfig{OptimizerKind::gd, NAN}); }, "learning rate");
    OptimizerConfig o;
    o.beta2 = 1.0;
    expect([&] { validate(o); }, "beta2");
    TrainConfig t;
    t.decay_interval = 0;
    expect([&] { validate(t); }, "decay interval");
    const MlpSpec spec({2, 3, 1}, {"relu", "sigmoid"});
    const M X{{1, 2}, {3, 4}}, Y{{0, 1}};
    for (double k : {0.0, 1.5, -0.1}) {
        Regularization r;
        r.keep_prob = {k};
        expect([&] { Mlp<double>(spec, he_init<double>(spec), X, Y, r); }, "keep_prob");
    }
    Regularization r;
    r.lambd = -1;
    expect([&] { Mlp<double>(spec, he_init<double>(spec), X, Y, r); }, "lambd");
    expect([] { MlpSpec({2, 3, 1}, {"softmax", "sigmoid"}); }, "softmax is for the output layer");
    expect([] { MlpSpec({2, 1}, {"softmax"}); }, "at least 2 units");
}

// run_epochs: the epochs from `first` on, print every N, `after` each, and a clean stop (no throw)
// at a non-finite cost or a NumericError, saying which epoch and why.
BOOST_AUTO_TEST_CASE(run_epochs_prints_stops_and_reports) {
    std::vector<long long> ran, printed, after;
    EpochLoop loop;
    loop.epochs = 7;
    loop.print_every = 3;
    loop.print = [&](long long e, double) { printed.push_back(e); };
    loop.after = [&](long long e, double) { after.push_back(e); };
    EpochLoopResult r = run_epochs(2, [&](long long e) { ran.push_back(e); return 1.0 / double(e + 1); }, loop);
    BOOST_TEST(!r.stopped);
    BOOST_TEST(r.epochs_done == 7);
    BOOST_TEST(ran == (std::vector<long long>{2, 3, 4, 5, 6}), boost::test_tools::per_element());
    BOOST_TEST(after == ran, boost::test_tools::per_element());
    BOOST_TEST(printed == (std::vector<long long>{3, 6}), boost::test_tools::per_element());

    // a nan cost at epoch 4: epochs 0..3 done, no print or `after` for 4, the loop ends there
    ran.clear(), printed.clear(), after.clear();
    loop.print_every = 1;
    loop.cost_name = "the loss";
    r = run_epochs(0, [&](long long e) { ran.push_back(e); return e == 4 ? NAN : 0.5; }, loop);
    BOOST_TEST(r.stopped);
    BOOST_TEST(r.epochs_done == 4);
    BOOST_TEST(r.error == "the loss is nan");
    BOOST_TEST(ran.size() == 5u);
    BOOST_TEST(printed.size() == 4u);
    BOOST_TEST(after.size() == 4u);
    // a NumericError from `after` (a check of one's own) stops it the same way
    loop.after = [](long long e, double) {
        if (e == 1) throw NumericError("a parameter is inf");
    };
    r = run_epochs(0, [](long long) { return 0.5; }, loop);
    BOOST_TEST(r.stopped);
    BOOST_TEST(r.epochs_done == 1);
    BOOST_TEST(r.error == "a parameter is inf");
    // other errors are not the loop's to swallow
    BOOST_CHECK_THROW(run_epochs(0, [](long long) -> double { throw DataError("disk"); }, loop), DataError);
}

// minibatch_epoch on a graph of one's own: the same steps and losses as the loop written out
// (gather_columns into x and y, forward, zero_grad, backward, step), a short last batch included.
BOOST_AUTO_TEST_CASE(minibatch_epoch_is_the_loop_written_out) {
    NumpyRandom data_rng(5);
    const M X = test::randn<double>(data_rng, 3, 10), Y = test::randn<double>(data_rng, 1, 10);
    auto build = [&](Tape<double>& t, Var<double>& x, Var<double>& y, Var<double>& loss) {
        NumpyRandom rng(2);
        x = t.constant(M(xt::view(X, xt::all(), xt::range(0, 4))), "x");
        y = t.constant(M(xt::view(Y, xt::all(), xt::range(0, 4))), "y");
        const Var<double> w = t.parameter(test::randn<double>(rng, 1, 3), "w");
        loss = mean(square(matmul(w, x) - y));
    };
    Tape<double> a, b;
    Var<double> xa, ya, la, xb, yb, lb;
    build(a, xa, ya, la);
    build(b, xb, yb, lb);
    Optimizer<double> oa(a, OptimizerConfig{OptimizerKind::adam, 0.01}), ob(b, OptimizerConfig{OptimizerKind::adam, 0.01});
    NumpyRandom ra(9), rb(9);
    for (int epoch = 0; epoch < 3; ++epoch) {
        const double got = minibatch_epoch(a, xa, ya, la, oa, X, Y, ra.permutation(10), 4);
        const std::vector<std::size_t> order = rb.permutation(10);
        double total = 0;
        for (std::size_t s = 0; s < 10; s += 4) {
            const std::size_t n = std::min<std::size_t>(4, 10 - s);
            gather_columns(b, xb, X, order, s, n);
            gather_columns(b, yb, Y, order, s, n);
            b.forward();
            ob.zero_grad();
            b.backward(lb);
            ob.step();
            total += lb.value()(0, 0) * double(n);
        }
        BOOST_TEST(got == total / 10.0);  // bit for bit
        BOOST_TEST(a.value(oa.parameters()[0]) == b.value(ob.parameters()[0]));
    }
    BOOST_TEST(xa.shape() == (Shape{3, 2}));  // the last batch of 10 = 4 + 4 + 2

    // an order from a bigger set, X and Y of different widths, an empty order: UsageErrors, not
    // reads past the matrices
    BOOST_CHECK_THROW(gather_columns(a, xa, X, std::vector<std::size_t>{0, 10}, 0, 2), UsageError);
    BOOST_CHECK_THROW(gather_columns(a, xa, X, std::vector<std::size_t>{0, 1}, 1, std::size_t(-1)), UsageError);
    const M Y9 = xt::view(Y, xt::all(), xt::range(0, 9));
    BOOST_CHECK_THROW(minibatch_epoch(a, xa, ya, la, oa, X, Y9, ra.permutation(10), 4), UsageError);
    BOOST_CHECK_THROW(minibatch_epoch(a, xa, ya, la, oa, X, Y, std::vector<std::size_t>{}, 4), UsageError);
}

// What the README says of momentum vs PyTorch's SGD: ours, v = beta·v + (1-beta)·g, p -= lr·v, takes
// the steps of PyTorch's u = mu·u + g, p -= lr_torch·u with mu = beta and lr_torch = lr·(1-beta).
BOOST_AUTO_TEST_CASE(momentum_is_pytorchs_sgd_with_a_scaled_learning_rate) {
    const double beta = 0.9, lr = 0.05;
    Tape<double> t;
    const Var<double> p = t.parameter(M{{1.5, -0.7, 0.2}}, "p");
    const Var<double> loss = sum(p * p * p * p) + sum(p * p);  // a gradient that changes with p
    OptimizerConfig c{OptimizerKind::momentum, lr};
    c.beta = beta;
    Optimizer<double> opt(t, c);
    std::vector<double> q{1.5, -0.7, 0.2}, u(3, 0.0);  // PyTorch's arithmetic, by hand
    for (int step = 0; step < 20; ++step) {
        t.forward();
        opt.zero_grad();
        t.backward(loss.id());
        opt.step();
        for (std::size_t i = 0; i < 3; ++i) {
            const double g = 4 * q[i] * q[i] * q[i] + 2 * q[i];
            u[i] = beta * u[i] + g;
            q[i] -= lr * (1 - beta) * u[i];
        }
        for (std::size_t i = 0; i < 3; ++i)
            BOOST_TEST(p.value()(0, i) == q[i], boost::test_tools::tolerance(1e-12));
    }
}

// An Optimizer keeps its tape's address: after the tape is moved, using it says what happened
// instead of "node 0 is not on this tape (it has 0 nodes)"; one made after the move works.
BOOST_AUTO_TEST_CASE(an_optimizer_on_a_moved_tape_says_so) {
    Tape<double> t;
    const Var<double> p = t.parameter(M{{1.0, 2.0}}, "p");
    const Var<double> loss = sum(p * p);
    Optimizer<double> opt(t, OptimizerConfig{OptimizerKind::gd, 0.1});
    Tape<double> moved = std::move(t);
    BOOST_TEST(t.moved_from());
    BOOST_TEST(!moved.moved_from());
    for (int k = 0; k < 2; ++k) {
        try {
            k == 0 ? opt.zero_grad() : opt.step();
            BOOST_ERROR("no error from an optimiser on a moved-from tape");
        } catch (const UsageError& e) {
            const std::string what = e.what();
            BOOST_TEST(what.find("Optimizer: the tape it was made on has been moved from") == 0u, what);
        }
    }
    // a Var of the old tape says the same, not "it has 0 nodes"
    try {
        (void)p.value();
        BOOST_ERROR("no error from a Var of a moved-from tape");
    } catch (const UsageError& e) {
        BOOST_TEST(std::string(e.what()).find("moved from") != std::string::npos, e.what());
    }
    // the tape moved into works, and an Optimizer made on it after the move
    Optimizer<double> after(moved, OptimizerConfig{OptimizerKind::gd, 0.1});
    moved.forward();
    after.zero_grad();
    moved.backward(loss.id());
    after.step();
    BOOST_TEST(moved.value(p.id())(0, 0) == 0.8, boost::test_tools::tolerance(1e-15));
    // a moved-from tape that another is moved into is a tape again
    t = std::move(moved);
    BOOST_TEST(!t.moved_from());
    BOOST_TEST(moved.moved_from());
}

// The three enums spelled as text are each one table: every name parses to its value and back,
// and an unknown name is refused with the table's names, in order.
BOOST_AUTO_TEST_CASE(enum_names_come_from_one_table) {
    auto round_trip = [](const auto& names, auto parse, auto name_of) {
        for (const auto& e : names.table) {
            BOOST_TEST((parse(e.name) == e.value), e.name);
            BOOST_TEST(std::string(name_of(e.value)) == e.name);
        }
    };
    round_trip(kActivationNames, parse_activation, activation_name);
    round_trip(kInitNames, parse_init, init_name);
    round_trip(kOptimizerNames, parse_optimizer, optimizer_name);
    BOOST_TEST(kOptimizerNames.names() == (std::vector<std::string>{"gd", "momentum", "adam"}),
               boost::test_tools::per_element());
    auto message = [](auto f) {
        try {
            f();
        } catch (const UsageError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    BOOST_TEST(message([] { parse_activation("gelu"); }) ==
               "unknown activation 'gelu' (expected relu, sigmoid, tanh or softmax)");
    BOOST_TEST(message([] { parse_init("glorot"); }) ==
               "unknown initialiser 'glorot' (expected zeros, normal, xavier or he)");
    BOOST_TEST(message([] { parse_optimizer("sgd"); }) == "unknown optimiser 'sgd' (expected gd, momentum or adam)");
    // a table of one or two names reads as English too
    enum class Two { a, b };
    constexpr EnumNames<Two, 2> two{"thing", {{{Two::a, "a"}, {Two::b, "b"}}}};
    constexpr EnumNames<Two, 1> one{"thing", {{{Two::a, "a"}}}};
    BOOST_TEST(two.accepted() == "a or b");
    BOOST_TEST(one.accepted() == "a");
    BOOST_TEST(std::string(two.name(Two(7))) == "?");
}

BOOST_AUTO_TEST_CASE(initialisers_are_numpys_arithmetic) {
    const MlpSpec spec({7, 5, 3}, {"relu", "softmax"});
    NumpyRandom rng(4);
    const M r1 = rng.randn(5, 7), r2 = rng.randn(3, 5);  // one stream across layers
    const auto he = init_params<double>(spec, Init::he, 4);
    const auto xa = init_params<double>(spec, Init::xavier, 4);
    const auto no = init_params<double>(spec, Init::normal, 4, 0.3);
    const auto ze = init_params<double>(spec, Init::zeros, 4);
    BOOST_TEST(max_rel(he.W[0], M(r1 * std::sqrt(2.0 / 7.0))) == 0.0);
    BOOST_TEST(max_rel(he.W[1], M(r2 * std::sqrt(2.0 / 5.0))) == 0.0);
    BOOST_TEST(max_rel(xa.W[1], M(r2 / std::sqrt(5.0))) == 0.0);
    BOOST_TEST(max_rel(no.W[1], M(r2 * 0.3)) == 0.0);
    BOOST_TEST(test::norm(ze.W[0]) == 0.0);
    BOOST_TEST(test::norm(he.b[1]) == 0.0);
}

BOOST_AUTO_TEST_CASE(softmax_model_learns_three_classes) {
    // three Gaussian blobs in 2-D, 300 examples; labels as class indices
    NumpyRandom rng(12);
    const std::size_t m = 300;
    M X = M::from_shape({2, m}), Y = M::from_shape({1, m});
    const double centres[3][2] = {{0, 2}, {2, -1}, {-2, -1}};
    for (std::size_t j = 0; j < m; ++j) {
        const std::size_t k = j % 3;
        X(0, j) = centres[k][0] + 0.6 * rng.randn();
        X(1, j) = centres[k][1] + 0.6 * rng.randn();
        Y(0, j) = double(k);
    }
    const MlpSpec spec({2, 8, 3}, {"tanh", "softmax"});
    TrainConfig cfg;
    cfg.optimizer.kind = OptimizerKind::adam;
    cfg.optimizer.learning_rate = 0.02;
    cfg.mini_batch_size = 32;
    auto run = [&](auto tag) {
        using T = decltype(tag);
        Trainer<T> tr(spec, init_params<T>(spec, Init::xavier, 1), Matrix<T>(xt::cast<T>(X)),
                      Matrix<T>(xt::cast<T>(Y)), cfg);
        const double before = tr.evaluate().accuracy;
        for (int e = 0; e < 60; ++e) tr.epoch();
        const Evaluation after = tr.evaluate();
        BOOST_TEST_MESSAGE("K=3 softmax (" << sizeof(T) * 8 << "-bit): accuracy " << before << " -> "
                                           << after.accuracy << ", cost " << after.cost);
        BOOST_TEST(after.accuracy > 0.95);
        BOOST_TEST(after.accuracy > before);
        // the same data with one-hot labels predicts the same classes
        M onehot = xt::zeros<double>({std::size_t(3), m});
        for (std::size_t j = 0; j < m; ++j) onehot(std::size_t(Y(0, j)), j) = 1.0;
        BOOST_TEST(tr.net().accuracy(xt::cast<T>(X), xt::cast<T>(onehot)) == after.accuracy);
        BOOST_TEST(tr.net().predict(xt::cast<T>(X)).shape()[0] == 1u);
    };
    run(float{});
    run(double{});
}

BOOST_AUTO_TEST_CASE(generator_state_round_trips) {
    NumpyRandom a(5);
    for (int i = 0; i < 3; ++i) a.randn();  // odd: a gaussian is kept
    const std::string s = a.state();
    NumpyRandom b(99);
    b.set_state(s);
    for (int i = 0; i < 10; ++i) BOOST_TEST(a.randn() == b.randn());
    BOOST_TEST(a.uniform() == b.uniform());
    BOOST_CHECK_THROW(b.set_state("not a state"), DataError);
    BOOST_CHECK_THROW(b.set_state(""), DataError);
}

namespace {
TrainConfig busy_config() {
    TrainConfig cfg;
    cfg.optimizer.kind = OptimizerKind::adam;
    cfg.optimizer.learning_rate = 0.01;
    cfg.mini_batch_size = 7;
    cfg.reg.keep_prob = {0.8};  // every hidden layer
    cfg.reg.lambd = 0.3;
    cfg.decay = 0.2;
    return cfg;
}
}  // namespace

BOOST_AUTO_TEST_CASE(restored_trainer_continues_bit_for_bit) {
    NumpyRandom rng(8);
    const MlpSpec spec({6, 5, 4, 1}, {"relu", "tanh", "sigmoid"});
    const M X = test::randn<double>(rng, 6, 30), Y = test::labels<double>(rng, 1, 30);
    Trainer<double> a(spec, he_init<double>(spec, 2), X, Y, busy_config());
    for (int e = 0; e < 3; ++e) a.epoch();
    const TrainerState<double> snap = a.state();
    for (int e = 0; e < 4; ++e) a.epoch();

    Trainer<double> b(spec, he_init<double>(spec, 77), X, Y, busy_config());  // other init
    b.restore(snap);
    BOOST_TEST(b.epochs_done() == 3);
    for (int e = 0; e < 4; ++e) b.epoch();
    const auto pa = a.net().params(), pb = b.net().params();
    for (std::size_t l = 0; l < 3; ++l) {
        BOOST_TEST(test::norm_diff(pa.W[l], pb.W[l]) == 0.0);
        BOOST_TEST(test::norm_diff(pa.b[l], pb.b[l]) == 0.0);
    }
    BOOST_TEST(a.optimizer().steps() == b.optimizer().steps());

    // a state that does not fit is refused before anything changes
    const MlpSpec other({6, 3, 1}, {"relu", "sigmoid"});
    Trainer<double> c(other, he_init<double>(other, 2), X, Y, busy_config());
    BOOST_CHECK_THROW(c.restore(snap), ShapeError);
    TrainConfig gd = busy_config();
    gd.optimizer.kind = OptimizerKind::gd;
    Trainer<double> d(spec, he_init<double>(spec, 2), X, Y, gd);
    const M w_before = d.net().params().W[0];
    BOOST_CHECK_THROW(d.restore(snap), ShapeError);  // Adam moments into plain gradient descent
    BOOST_TEST(test::norm_diff(d.net().params().W[0], w_before) == 0.0);
}

BOOST_AUTO_TEST_CASE(two_trainers_in_two_threads_equal_running_them_in_turn) {
    NumpyRandom rng(9);
    const MlpSpec spec({300, 16, 1}, {"relu", "sigmoid"});
    const M X = test::randn<double>(rng, 300, 400), Y = test::labels<double>(rng, 1, 400);
    auto train = [&](std::uint32_t seed, int threads) {
        Trainer<double> t(spec, he_init<double>(spec, seed), X, Y, busy_config());
        t.net().tape().set_threads(threads);
        for (int e = 0; e < 5; ++e) t.epoch();
        return t.net().params();
    };
    for (int threads : {1, 2}) {
        const auto a1 = train(1, threads), b1 = train(2, threads);  // one after the other
        Params<double> a2, b2;
        std::thread ta([&] { a2 = train(1, threads); }), tb([&] { b2 = train(2, threads); });
        ta.join();
        tb.join();
        for (std::size_t l = 0; l < 2; ++l) {
            BOOST_TEST(test::norm_diff(a1.W[l], a2.W[l]) == 0.0, "threads " << threads);
            BOOST_TEST(test::norm_diff(b1.W[l], b2.W[l]) == 0.0, "threads " << threads);
        }
        BOOST_TEST(test::norm_diff(a1.W[0], b1.W[0]) > 0.0);  // different runs really differ
    }
}

// ---- a Trainer over a DataSource, in chunks, and split across processes ------------------------

namespace {

struct Problem {
    MlpSpec spec{{6, 5, 4, 1}, {"relu", "tanh", "sigmoid"}};
    M X, Y;
    Problem(std::size_t m = 23) {
        NumpyRandom rng(21);
        X = test::randn<double>(rng, 6, m);
        Y = test::labels<double>(rng, 1, m);
    }
};

// The parameters after `epochs` epochs of `processes` Trainers in threads over one MemorySource,
// and the epochs' costs (rank 0's; every rank's must be the same).
Params<double> train_in_group(const Problem& p, const TrainConfig& cfg, int processes, int epochs,
                              std::vector<double>* costs = nullptr, int* sums = nullptr,
                              Evaluation* eval = nullptr) {
    auto source = std::make_shared<MemorySource<double>>(p.X, p.Y);
    ThreadGroup group(processes);
    std::vector<Params<double>> out(static_cast<std::size_t>(processes));
    std::vector<std::vector<double>> cost(static_cast<std::size_t>(processes));
    std::vector<Evaluation> evals(static_cast<std::size_t>(processes));
    std::vector<std::thread> threads;
    for (int r = 0; r < processes; ++r)
        threads.emplace_back([&, r] {
            ThreadCollective<double> c(group, r);
            Trainer<double> tr(p.spec, he_init<double>(p.spec, 4), source, cfg, &c);
            for (int e = 0; e < epochs; ++e) cost[std::size_t(r)].push_back(tr.epoch());
            evals[std::size_t(r)] = tr.evaluate();
            out[std::size_t(r)] = tr.net().params();
        });
    for (auto& t : threads) t.join();
    for (int r = 1; r < processes; ++r) {  // every process took the same steps
        for (std::size_t l = 0; l < out[0].W.size(); ++l) {
            BOOST_TEST((out[std::size_t(r)].W[l] == out[0].W[l]));
            BOOST_TEST((out[std::size_t(r)].b[l] == out[0].b[l]));
        }
        BOOST_TEST(cost[std::size_t(r)] == cost[0]);
        BOOST_TEST(evals[std::size_t(r)].cost == evals[0].cost);
    }
    if (costs) *costs = cost[0];
    if (sums) *sums = group.calls();
    if (eval) *eval = evals[0];
    return out[0];
}

double max_rel(const Params<double>& a, const Params<double>& b) {
    double worst = 0;
    for (std::size_t l = 0; l < a.W.size(); ++l) {
        worst = std::max(worst, rel_err(a.W[l], b.W[l]));
        worst = std::max(worst, rel_err(a.b[l], b.b[l]));
    }
    return worst;
}

TrainConfig busy_config(std::size_t batch) {
    TrainConfig cfg;
    cfg.mini_batch_size = batch;
    cfg.optimizer.kind = OptimizerKind::adam;
    cfg.optimizer.learning_rate = 0.01;
    cfg.reg.lambd = 0.7;
    cfg.reg.keep_prob = {0.8, 0.9};
    return cfg;
}

}  // namespace

BOOST_AUTO_TEST_CASE(share_of_splits_a_batch_once_in_rank_order) {
    for (std::size_t n : {0u, 1u, 2u, 5u, 209u, 1024u})
        for (int size = 1; size <= 5; ++size) {
            std::size_t next = 0;
            for (int r = 0; r < size; ++r) {
                const Share s = share_of(n, r, size);
                BOOST_TEST(s.begin == next);
                BOOST_TEST(s.count + 1 >= (n + std::size_t(size) - 1) / std::size_t(size));  // balanced
                BOOST_TEST(s.count <= share_of(n, 0, size).count);
                next += s.count;
            }
            BOOST_TEST(next == n);
            if (n > 0) BOOST_TEST(share_of(n, 0, size).count >= 1u);
        }
    BOOST_CHECK_THROW(share_of(4, 2, 2), UsageError);
    BOOST_CHECK_THROW(share_of(4, 0, 0), UsageError);
}

BOOST_AUTO_TEST_CASE(backward_seed_scales_the_accumulated_gradient) {
    Tape<double> t;
    NumpyRandom rng(3);
    const NodeId w = t.parameter(test::randn<double>(rng, 2, 3));
    const NodeId loss = t.sq_norm(t.matmul(w, t.constant(test::randn<double>(rng, 3, 4))));
    t.forward();
    t.zero_grad();
    t.backward(loss);
    const M plain = t.grad(w);
    t.zero_grad();
    t.backward(loss, 0.25);
    BOOST_TEST((t.grad(w) == plain * 0.25));
    t.backward(loss, 0.75);  // accumulates
    BOOST_TEST(rel_err(t.grad(w), plain) < 1e-15);
}

BOOST_AUTO_TEST_CASE(a_memory_source_trains_bit_for_bit_as_the_matrices) {
    const Problem p;
    for (std::size_t batch : {std::size_t(5), std::size_t(0)}) {
        const TrainConfig cfg = busy_config(batch);
        Trainer<double> direct(p.spec, he_init<double>(p.spec, 4), p.X, p.Y, cfg);
        Trainer<double> sourced(p.spec, he_init<double>(p.spec, 4), std::make_shared<MemorySource<double>>(p.X, p.Y),
                                cfg);
        for (int e = 0; e < 4; ++e) BOOST_TEST(direct.epoch() == sourced.epoch());
        BOOST_TEST(max_rel(direct.net().params(), sourced.net().params()) == 0.0);
        BOOST_TEST(direct.evaluate().cost == sourced.evaluate().cost);
    }
}

BOOST_AUTO_TEST_CASE(a_batch_in_chunks_is_the_batch) {
    // full batch (and mini-batches of 10) computed 7 (or 3) columns at a time: the same steps
    // within rounding, dropout masks and L2 included, and the same draws afterwards
    const Problem p;
    for (std::size_t batch : {std::size_t(0), std::size_t(10)}) {
        const TrainConfig whole = busy_config(batch);
        for (std::size_t chunk : {std::size_t(7), std::size_t(3)}) {
            TrainConfig parts = whole;
            parts.chunk_columns = chunk;
            Trainer<double> a(p.spec, he_init<double>(p.spec, 4), p.X, p.Y, whole);
            Trainer<double> b(p.spec, he_init<double>(p.spec, 4), p.X, p.Y, parts);
            int steps = 0;
            for (int e = 0; e < 5; ++e) {
                const double ca = a.epoch(), cb = b.epoch([&](double) { ++steps; });
                BOOST_TEST(std::abs(ca - cb) <= 1e-12 * std::abs(ca));
            }
            BOOST_TEST(steps == (batch == 0 ? 5 : 5 * 3));  // one step per batch, not per chunk
            BOOST_TEST(max_rel(a.net().params(), b.net().params()) < 1e-12);
            BOOST_TEST(a.dropout_rng().state() == b.dropout_rng().state());
            BOOST_TEST(std::abs(a.evaluate().cost - b.evaluate().cost) < 1e-12);
            BOOST_TEST(b.net().capacity() <= chunk);  // memory: a chunk's columns, not the batch's
        }
    }
}

BOOST_AUTO_TEST_CASE(processes_in_a_group_train_as_one) {
    // 1, 2, 3 and 4 processes (threads here; MPI in the program's tests): the single process's
    // parameters within 1e-10, one sum per step, the same costs and evaluation
    const Problem p;
    for (std::size_t batch : {std::size_t(0), std::size_t(5), std::size_t(10)}) {
        const TrainConfig cfg = busy_config(batch);
        Trainer<double> alone(p.spec, he_init<double>(p.spec, 4), p.X, p.Y, cfg);
        std::vector<double> alone_costs;
        for (int e = 0; e < 6; ++e) alone_costs.push_back(alone.epoch());
        const Evaluation alone_eval = alone.evaluate();
        for (int n : {1, 2, 3, 4}) {
            BOOST_TEST_CONTEXT("batch " << batch << ", " << n << " processes") {
                std::vector<double> costs;
                int sums = 0;
                Evaluation eval;
                const Params<double> got = train_in_group(p, cfg, n, 6, &costs, &sums, &eval);
                BOOST_TEST(max_rel(got, alone.net().params()) < 1e-10);
                const int steps_per_epoch = batch == 0 ? 1 : int((p.X.shape()[1] + batch - 1) / batch);
                BOOST_TEST(sums == 1 + 6 * steps_per_epoch + 1);  // + the agreement check's and the evaluation's
                for (std::size_t e = 0; e < costs.size(); ++e)
                    BOOST_TEST(std::abs(costs[e] - alone_costs[e]) < 1e-12 * std::abs(alone_costs[e]));
                BOOST_TEST(std::abs(eval.cost - alone_eval.cost) < 1e-10);
                BOOST_TEST(eval.accuracy == alone_eval.accuracy);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(a_batch_narrower_than_the_group_leaves_processes_idle) {
    // 5 processes, mini-batches of 3 (and a last batch of 2): ranks without columns add zeros
    const Problem p(8);
    TrainConfig cfg = busy_config(3);
    Trainer<double> alone(p.spec, he_init<double>(p.spec, 4), p.X, p.Y, cfg);
    for (int e = 0; e < 3; ++e) alone.epoch();
    BOOST_TEST(max_rel(train_in_group(p, cfg, 5, 3), alone.net().params()) < 1e-10);
}

namespace {
// A source that records what it is asked for.
struct Recording final : DataSource<double> {
    MemorySource<double> inner;
    std::vector<std::vector<std::size_t>> fetched, announced;
    Recording(const M& X, const M& Y) : inner(X, Y) {}
    std::size_t examples() const override { return inner.examples(); }
    std::size_t features() const override { return inner.features(); }
    std::size_t label_rows() const override { return inner.label_rows(); }
    void fetch(const std::size_t* idx, std::size_t n, M& X, M& Y) override {
        fetched.emplace_back(idx, idx + n);
        inner.fetch(idx, n, X, Y);
    }
    void prefetch(const std::size_t* idx, std::size_t n) override { announced.emplace_back(idx, idx + n); }
};
}  // namespace

BOOST_AUTO_TEST_CASE(minibatch_epoch_from_a_source_announces_each_next_batch) {
    // a source that records what it is asked: every prefetch names exactly the next fetch, and
    // the epoch is the matrices' epoch bit for bit
    NumpyRandom data_rng(5);
    const M X = test::randn<double>(data_rng, 3, 11), Y = test::randn<double>(data_rng, 1, 11);
    auto build = [&](Tape<double>& t, Var<double>& x, Var<double>& y, Var<double>& loss) {
        NumpyRandom rng(2);
        x = t.constant(M(xt::view(X, xt::all(), xt::range(0, 4))), "x");
        y = t.constant(M(xt::view(Y, xt::all(), xt::range(0, 4))), "y");
        loss = mean(square(matmul(t.parameter(test::randn<double>(rng, 1, 3), "w"), x) - y));
    };
    Tape<double> a, b;
    Var<double> xa, ya, la, xb, yb, lb;
    build(a, xa, ya, la);
    build(b, xb, yb, lb);
    Optimizer<double> oa(a, OptimizerConfig{OptimizerKind::adam, 0.01}), ob(b, OptimizerConfig{OptimizerKind::adam, 0.01});
    Recording src(X, Y);
    NumpyRandom ra(9), rb(9);
    for (int epoch = 0; epoch < 2; ++epoch) {
        const std::vector<std::size_t> order = ra.permutation(11);
        BOOST_TEST(minibatch_epoch(a, xa, ya, la, oa, X, Y, order, 4) ==
                   minibatch_epoch(b, xb, yb, lb, ob, src, rb.permutation(11), 4));
        BOOST_TEST(a.value(oa.parameters()[0]) == b.value(ob.parameters()[0]));
    }
    BOOST_TEST(src.fetched.size() == 6u);  // 4 + 4 + 3, twice
    BOOST_TEST(src.announced.size() == 4u);  // the second and third batch of each epoch
    BOOST_TEST(src.announced[0] == src.fetched[1]);
    BOOST_TEST(src.announced[1] == src.fetched[2]);
    BOOST_TEST(src.announced[3] == src.fetched[5]);
}

BOOST_AUTO_TEST_CASE(a_trainer_announces_every_next_part) {
    // mini-batches in chunks from a recording source: each prefetch names the next fetch, across
    // batches and into the next epoch's first batch (its shuffled order drawn ahead)
    const Problem p;
    TrainConfig cfg = busy_config(10);
    cfg.chunk_columns = 4;  // batches 10, 10, 3 -> parts 4 4 2 | 4 4 2 | 3
    auto src = std::make_shared<Recording>(p.X, p.Y);
    Trainer<double> tr(p.spec, he_init<double>(p.spec, 4), src, cfg);
    for (int e = 0; e < 3; ++e) tr.epoch();
    BOOST_TEST(src->fetched.size() == 21u);
    BOOST_TEST(src->announced.size() == 21u);
    for (std::size_t i = 0; i + 1 < src->fetched.size(); ++i) BOOST_TEST(src->announced[i] == src->fetched[i + 1]);
}

BOOST_AUTO_TEST_CASE(processes_that_differ_or_meet_an_anomaly_stop_together) {
    // different data sizes, options or starting points: every process refuses, naming what
    // differs, instead of calling its collectives differently or stepping from other weights
    const Problem p;
    const TrainConfig cfg = busy_config(5);
    auto differing = [&](const std::function<void(int, TrainConfig&, M&)>& tweak) {
        ThreadGroup group(2);
        std::vector<std::string> errors(2);
        std::vector<std::thread> threads;
        for (int r = 0; r < 2; ++r)
            threads.emplace_back([&, r] {
                TrainConfig c = cfg;
                M X = p.X;
                tweak(r, c, X);
                ThreadCollective<double> coll(group, r);
                try {
                    Trainer<double> tr(p.spec, he_init<double>(p.spec, 4),
                                       std::make_shared<MemorySource<double>>(X, M(xt::view(p.Y, xt::all(), xt::range(0, X.shape()[1])))), c, &coll);
                } catch (const UsageError& e) {
                    errors[std::size_t(r)] = e.what();
                }
            });
        for (auto& t : threads) t.join();
        return errors;
    };
    auto e = differing([](int r, TrainConfig& c, M&) { c.mini_batch_size = r == 0 ? 5 : 6; });
    BOOST_TEST(e[0].find("differ in their batch") != std::string::npos, e[0]);
    BOOST_TEST(e[1].find("differ in their batch") != std::string::npos, e[1]);
    e = differing([](int r, TrainConfig&, M& X) {
        if (r == 1) X = M(xt::view(X, xt::all(), xt::range(0, 20)));
    });
    BOOST_TEST(e[0].find("differ in their examples") != std::string::npos, e[0]);
    e = differing([](int r, TrainConfig& c, M&) { c.optimizer.learning_rate = r == 0 ? 0.01 : 0.02; });
    BOOST_TEST(e[1].find("differ in their learning rate") != std::string::npos, e[1]);
    e = differing([](int, TrainConfig&, M&) {});
    BOOST_TEST((e[0].empty() && e[1].empty()));

    // restored from different states: refused as well
    {
        ThreadGroup group(2);
        std::vector<std::string> errors(2);
        std::vector<std::thread> threads;
        Trainer<double> other(p.spec, he_init<double>(p.spec, 4), p.X, p.Y, cfg);
        other.epoch();
        const TrainerState<double> later = other.state();
        for (int r = 0; r < 2; ++r)
            threads.emplace_back([&, r] {
                ThreadCollective<double> coll(group, r);
                Trainer<double> tr(p.spec, he_init<double>(p.spec, 4), std::make_shared<MemorySource<double>>(p.X, p.Y),
                                   cfg, &coll);
                TrainerState<double> s = later;
                if (r == 1) s.params.W[0](0, 0) += 1e-9;  // one weight differs slightly
                try {
                    tr.restore(s);
                } catch (const UsageError& e) {
                    errors[std::size_t(r)] = e.what();
                }
            });
        for (auto& t : threads) t.join();
        BOOST_TEST(errors[0].find("differ in their parameters") != std::string::npos, errors[0]);
        BOOST_TEST(errors[1].find("differ in their parameters") != std::string::npos, errors[1]);
    }

    // a non-finite value in one process's columns only (an infinite input there): every process throws
    // a NumericError after the step's sum, and none takes the step
    {
        M X = p.X;
        X(0, 22) = std::numeric_limits<double>::infinity();  // column 22: process 1's share (12..22)
        ThreadGroup group(2);
        std::vector<std::string> errors(2);
        std::vector<Params<double>> before(2), after(2);
        std::vector<std::thread> threads;
        TrainConfig c = busy_config(0);  // full batch: one step, columns 0..11 and 12..22
        for (int r = 0; r < 2; ++r)
            threads.emplace_back([&, r] {
                ThreadCollective<double> coll(group, r);
                Trainer<double> tr(p.spec, he_init<double>(p.spec, 4), std::make_shared<MemorySource<double>>(X, p.Y),
                                   c, &coll);
                tr.net().tape().set_check_finite(true);
                before[std::size_t(r)] = tr.net().params();
                try {
                    tr.epoch();
                } catch (const NumericError& e) {
                    errors[std::size_t(r)] = e.what();
                }
                after[std::size_t(r)] = tr.net().params();
            });
        for (auto& t : threads) t.join();
        BOOST_TEST(errors[0].find("another process of the job met a non-finite value") != std::string::npos, errors[0]);
        BOOST_TEST(errors[1].find("not finite") != std::string::npos, errors[1]);
        for (int r = 0; r < 2; ++r) BOOST_TEST(max_rel(before[std::size_t(r)], after[std::size_t(r)]) == 0.0);
    }
}
