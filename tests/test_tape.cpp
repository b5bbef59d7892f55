#define BOOST_TEST_MODULE tape
#include <boost/test/unit_test.hpp>

#include <sstream>

#include "test_util.hpp"
#include "xgrad/nn/mlp.hpp"
#include "xgrad/core/tape.hpp"

using namespace xgrad;
using test::rel_err;
using M = Matrix<double>;

namespace {
// A network small enough for finite differences on every parameter entry.
struct Small {
    NumpyRandom rng{5};
    M X = test::randn<double>(rng, 3, 6);
    M Y = test::labels<double>(rng, 1, 6);
};
}  // namespace

BOOST_AUTO_TEST_CASE(constants_get_no_gradient_and_parameters_do) {
    Small s;
    Tape<double> t;
    const NodeId x = t.constant(s.X), w = t.parameter(M(xt::ones<double>({2, 3}) * 0.1));
    const NodeId z = t.matmul(w, x);
    BOOST_TEST(!t.requires_grad(x));
    BOOST_TEST(t.requires_grad(w));
    BOOST_TEST(t.requires_grad(z));
    BOOST_TEST(t.node(x).grad.size() == 0u);  // no buffer at all for dA0
    BOOST_CHECK_THROW(t.grad(x), UsageError);
}

BOOST_AUTO_TEST_CASE(backward_refuses_a_non_scalar_loss) {
    Tape<double> t;
    const NodeId w = t.parameter(M{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
    const NodeId r = t.relu(w);
    try {
        t.backward(r);
        BOOST_ERROR("backward accepted a [2,3] loss");
    } catch (const ShapeError& e) {
        BOOST_TEST(std::string(e.what()).find("[2,3]") != std::string::npos, e.what());
        BOOST_TEST(std::string(e.what()).find("scalar") != std::string::npos, e.what());
    }
    // a loss that depends on no parameter has nothing to differentiate
    const NodeId c = t.constant(M{{0.3}});
    BOOST_CHECK_THROW(t.backward(t.bce(c, t.constant(M{{1.0}}))), UsageError);
    BOOST_CHECK_THROW(t.backward(99), UsageError);
}

// W is used twice (fan-out): its gradient is the sum of both paths; checked by finite differences.
BOOST_AUTO_TEST_CASE(fan_out_accumulates_and_matches_finite_differences) {
    NumpyRandom rng(8);
    M wv = test::randn<double>(rng, 3, 3, 0.7);
    const M xv = test::randn<double>(rng, 3, 5);
    const M yv = test::labels<double>(rng, 3, 5);
    auto build = [&](Tape<double>& t, NodeId& w, NodeId& loss) {
        w = t.parameter(wv);
        const NodeId h = t.sigmoid(t.matmul(w, t.constant(xv)));
        loss = t.sigmoid_bce(t.matmul(w, h), t.constant(yv));
    };
    Tape<double> t;
    NodeId w, loss;
    build(t, w, loss);
    t.backward(loss);
    auto cost = [&] {
        Tape<double> u;
        NodeId w2, l2;
        build(u, w2, l2);
        return u.value(l2)(0, 0);
    };
    const M numeric = test::numeric_grad(cost, wv);
    BOOST_TEST(test::norm(t.grad(w)) > 0.0);
    BOOST_TEST(rel_err(t.grad(w), numeric) < 1e-8);
}

BOOST_AUTO_TEST_CASE(whole_network_matches_finite_differences) {
    Small s;
    const MlpSpec spec({3, 4, 3, 1}, {"sigmoid", "relu", "sigmoid"});
    Params<double> p = he_init<double>(spec, 2);
    for (auto& b : p.b) b.fill(0.1);  // keep relu inputs off the kink
    Mlp<double> net(spec, p, s.X, s.Y);
    net.tape().backward(net.loss());
    for (std::size_t l = 1; l <= 3; ++l) {
        for (bool weight : {true, false}) {
            const NodeId id = weight ? net.W(l) : net.b(l);
            M& v = net.tape().leaf_value(id);
            auto cost = [&] {
                net.tape().forward();
                return double(net.cost());
            };
            const M numeric = test::numeric_grad(cost, v);
            BOOST_TEST(test::norm(net.tape().grad(id)) > 0.0);
            BOOST_TEST(rel_err(net.tape().grad(id), numeric) < 1e-7, "layer " << l);
        }
    }
}

BOOST_AUTO_TEST_CASE(parameter_gradients_accumulate_until_zero_grad) {
    Small s;
    const MlpSpec spec({3, 2, 1}, {"relu", "sigmoid"});
    Mlp<double> net(spec, he_init<double>(spec, 1), s.X, s.Y);
    Tape<double>& t = net.tape();
    t.backward(net.loss());
    const M once = t.grad(net.W(1));
    const M z_once = t.grad(net.Z(2));
    t.backward(net.loss());
    BOOST_TEST(rel_err(t.grad(net.W(1)), M(2.0 * once)) < 1e-15);
    // intermediate gradients are recomputed, not accumulated
    BOOST_TEST(t.grad(net.Z(2)) == z_once);
    t.zero_grad();
    for (NodeId p : t.parameters())
        for (double g : t.grad(p)) BOOST_TEST(g == 0.0);
}

BOOST_AUTO_TEST_CASE(replay_equals_a_freshly_recorded_tape) {
    NumpyRandom rng(4);
    const MlpSpec spec({5, 4, 3, 1}, {"relu", "relu", "sigmoid"});
    const M X = test::randn<double>(rng, 5, 9), Y = test::labels<double>(rng, 1, 9);
    Mlp<double> net(spec, he_init<double>(spec, 4), X, Y);
    for (int i = 0; i < 5; ++i) net.train_step(0.1);
    // the replayed tape now holds parameters it was not recorded with
    Mlp<double> fresh(spec, net.params(), X, Y);
    net.tape().forward();
    net.tape().zero_grad();
    net.tape().backward(net.loss());
    fresh.tape().backward(fresh.loss());
    BOOST_TEST(net.cost() == fresh.cost());
    for (std::size_t l = 1; l <= 3; ++l) {
        BOOST_TEST(net.tape().grad(net.W(l)) == fresh.tape().grad(fresh.W(l)));
        BOOST_TEST(net.tape().grad(net.b(l)) == fresh.tape().grad(fresh.b(l)));
        BOOST_TEST(net.tape().grad(net.A(l)) == fresh.tape().grad(fresh.A(l)));
        BOOST_TEST(net.tape().value(net.Z(l)) == fresh.tape().value(fresh.Z(l)));
    }
}

BOOST_AUTO_TEST_CASE(constants_change_width_parameters_keep_their_shape) {
    Tape<double> t;
    const NodeId x = t.constant(M{{1.0, 2.0}});
    const NodeId w = t.parameter(M{{2.0}});
    const NodeId r = t.relu(t.matmul(w, x));
    BOOST_CHECK_THROW(t.leaf_value(r), UsageError);
    // another batch width: every shape is derived again
    t.set_value(x, M{{-1.0, 4.0, 0.5}});
    t.forward();
    BOOST_TEST(t.value(r) == (M{{0.0, 8.0, 1.0}}));
    BOOST_TEST(t.shape(r) == (Shape{1, 3}));
    // a parameter keeps its shape, through set_value or behind the tape's back
    BOOST_CHECK_THROW(t.set_value(w, M{{1.0, 2.0}}), ShapeError);
    t.leaf_value(w) = M{{1.0, 2.0}};
    BOOST_CHECK_THROW(t.forward(), ShapeError);
    t.leaf_value(w) = M{{2.0}};
    // data that no longer fits the graph: the ShapeError names the node and the op
    t.set_value(x, M{{1.0}, {2.0}});
    try {
        t.forward();
        BOOST_ERROR("no ShapeError");
    } catch (const ShapeError& e) {
        BOOST_TEST(std::string(e.what()).find("matmul: inner dimensions differ") != std::string::npos, e.what());
        BOOST_TEST(std::string(e.what()).find("%2") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_CASE(prints_itself_and_exports_dot) {
    Small s;
    const MlpSpec spec({3, 2, 1}, {"relu", "sigmoid"});
    Mlp<double> net(spec, he_init<double>(spec, 1), s.X, s.Y);
    std::ostringstream os;
    net.tape().print(os);
    const std::string text = os.str();
    BOOST_TEST(text.find("matmul %2 %0  [2,6]  grad") != std::string::npos, text);
    BOOST_TEST(text.find("sigmoid_bce") != std::string::npos, text);
    BOOST_TEST(text.find("constant  [3,6]  \"X\"") != std::string::npos, text);
    const std::string dot = net.tape().to_dot();
    BOOST_TEST(dot.rfind("digraph", 0) == 0u);
    BOOST_TEST(dot.find("parameter W1\\n[2,3]\\nneeds grad") != std::string::npos, dot);
    BOOST_TEST(dot.find("constant X\\n[3,6]\"") != std::string::npos, dot);  // no "needs grad"
    BOOST_TEST(dot.find("n2 -> n4;") != std::string::npos, dot);
}

BOOST_AUTO_TEST_CASE(anomaly_check_names_the_first_non_finite_node) {
    auto expect = [](auto f, std::vector<std::string> parts) {
        try {
            f();
            BOOST_ERROR("no NumericError");
        } catch (const NumericError& e) {
            for (const auto& p : parts) BOOST_TEST(std::string(e.what()).find(p) != std::string::npos, e.what());
        }
    };
    // forward: a product that overflows; the loss after it would be inf too, the first node counts
    Tape<double> t;
    const NodeId w = t.parameter(M{{1e200, 1e200}}, "W");
    const NodeId x = t.constant(M{{1e200}, {1.0}}, "X");
    const NodeId z = t.matmul(w, x);
    t.set_name(z, "Z");
    const NodeId loss = t.sigmoid_bce(z, t.constant(M{{1.0}}));
    BOOST_TEST(!std::isfinite(t.value(z)(0, 0)));  // off by default: recorded without complaint
    t.set_check_finite(true);
    expect([&] { t.forward(); }, {"forward: the value of node %2 (matmul \"Z\") [1,1] is not finite",
                                  "1 inf", "inputs: %0 (parameter \"W\") [1,2] range [1e+200, 1e+200]",
                                  "%1 (constant \"X\") [2,1] range [1, 1e+200]"});
    (void)loss;

    // backward: a finite loss whose gradient is not (bce at a denormal probability)
    Tape<double> b;
    b.set_check_finite(true);
    const NodeId p = b.parameter(M{{1e-320, 0.5}}, "P");
    const NodeId l = b.bce(p, b.constant(M{{1.0, 1.0}}));
    BOOST_TEST(std::isfinite(b.value(l)(0, 0)));
    const M before = b.value(p);
    expect([&] { b.backward(l); }, {"backward: the gradient (from %2 (bce) [1,1]", "of node %0 (parameter \"P\") [1,2]",
                                    "1 inf"});
    BOOST_TEST(test::norm_diff(b.value(p), before) == 0.0);  // parameters untouched
    // with the check off the same pass runs through
    b.set_check_finite(false);
    b.backward(l);
    BOOST_TEST(!std::isfinite(b.grad(p)(0, 0)));
}

// Found in review: an op recorded after set_value sees the new width (it computed on the old
// shape and wrote past its buffer); backward() refuses a graph whose shapes a complete forward()
// has not derived since they changed (it read past the narrower labels).
BOOST_AUTO_TEST_CASE(recording_and_backward_after_a_change_of_width) {
    Tape<double> t;
    auto x = t.constant(M(xt::ones<double>({2, 2})));
    auto W = t.parameter(M(xt::ones<double>({3, 2})));
    auto y = t.constant(M(xt::zeros<double>({3, 2})));
    auto loss = mse(matmul(W, x), y);
    t.set_value(x, M(xt::ones<double>({2, 4096})));
    BOOST_TEST(x.shape() == (Shape{2, 4096}));
    auto z = matmul(W, x);  // recorded before any forward(): uses the new width
    BOOST_TEST(z.shape() == (Shape{3, 4096}));
    BOOST_TEST(z.value()(2, 4095) == 2.0);
    // the loss node still has the old width's labels: backward refuses until forward() ran
    BOOST_CHECK_THROW(t.backward(loss), UsageError);
    BOOST_CHECK_THROW(t.forward(), ShapeError);  // y is still [3,2]: mse's shapes differ
    BOOST_CHECK_THROW(t.backward(loss), UsageError);  // a forward that threw leaves it stale
    t.set_value(y, M(xt::zeros<double>({3, 4096})));
    t.forward();
    t.backward(loss);
    BOOST_TEST(loss.value()(0, 0) == 4.0);
    // forward(node) that changes a width leaves the rest behind
    t.set_value(x, M(xt::ones<double>({2, 3})));
    t.forward(z);
    BOOST_TEST(z.shape() == (Shape{3, 3}));
    BOOST_CHECK_THROW(t.backward(loss), UsageError);
    t.set_value(y, M(xt::zeros<double>({3, 3})));
    t.forward();
    t.zero_grad();
    t.backward(loss);
    BOOST_TEST(W.grad()(0, 0) == 2.0 * 2.0 * 3.0 / 9.0 * 1.0 * 1.0);  // 2(Wx - y)/N · x summed over 3 columns
    // a constant emptied behind the tape's back
    t.leaf_value(x).resize({2, 0});
    BOOST_CHECK_THROW(t.forward(), ShapeError);
}

BOOST_AUTO_TEST_CASE(a_parameter_as_the_loss_accumulates_its_gradient) {
    Tape<double> t;
    auto p = t.parameter(M{{3.0}});
    t.backward(p);
    t.backward(p);
    BOOST_TEST(p.grad()(0, 0) == 2.0);
}
