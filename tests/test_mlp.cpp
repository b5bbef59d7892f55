#define BOOST_TEST_MODULE mlp
#include <boost/test/unit_test.hpp>

#include "test_util.hpp"
#include "xgrad/nn/mlp.hpp"

using namespace xgrad;
using M = Matrix<double>;

namespace {
template <class F>
void expect_usage_error(F f, const std::string& part) {
    try {
        f();
        BOOST_ERROR("no error; expected one mentioning '" + part + "'");
    } catch (const UsageError& e) {
        BOOST_TEST(std::string(e.what()).find(part) != std::string::npos, e.what());
    }
}
}  // namespace

BOOST_AUTO_TEST_CASE(spec_errors_are_clear) {
    expect_usage_error([] { MlpSpec({4, 1}, {"tanhh"}); }, "unknown activation 'tanhh'");
    expect_usage_error([] { MlpSpec({4}, std::vector<std::string>{}); }, "at least two");
    expect_usage_error([] { MlpSpec({4, 0, 1}, {"relu", "sigmoid"}); }, "size 1 is zero");
    expect_usage_error([] { MlpSpec({4, 3, 1}, {"sigmoid"}); }, "need 2 activations, got 1");
    expect_usage_error([] { MlpSpec({4, 3, 1}, {"sigmoid", "relu"}); }, "output layer must be sigmoid");
    // sizes no machine trains: refused before anything is allocated
    expect_usage_error([] { MlpSpec({4, (std::size_t(1) << 24) + 1, 1}, {"relu", "sigmoid"}); },
                       "size 1 is 16777217, more than 16777216");
    expect_usage_error([] { MlpSpec({std::size_t(1) << 24, 200, 1}, {"relu", "sigmoid"}); },
                       "layer 1 would have 200 x 16777216 weights, more than 2147483648");
    BOOST_CHECK_NO_THROW(MlpSpec({std::size_t(1) << 24, 128, 1}, {"relu", "sigmoid"}));  // exactly 2^31
    const MlpSpec ok({12288, 20, 7, 5, 1}, {"relu", "relu", "relu", "sigmoid"});
    BOOST_TEST(ok.layers() == 4u);
    BOOST_TEST(activation_name(ok.activations[0]) == std::string("relu"));
}

BOOST_AUTO_TEST_CASE(layer_sizes_parse_as_positive_integers_only) {
    BOOST_TEST(parse_layer_size("12288") == 12288u);
    BOOST_TEST(parse_layer_size("007") == 7u);
    for (const char* bad : {"-3", "0", "1.5", "", " 5", "5 ", "x", "+4", "1e3", "0x10", "99999999999999999999"})
        expect_usage_error([bad] { parse_layer_size(bad); }, "'" + std::string(bad) + "' is not a layer size");
}

BOOST_AUTO_TEST_CASE(training_memory_is_counted_before_allocating) {
    // [3,4,1]: 4·(3+1) + 1·(4+1) = 21 parameters, 5 units; doubles, 2 moment copies, 10 examples:
    // (21·(2+2) + 4·5·10)·8 bytes
    const MlpSpec spec({3, 4, 1}, {"relu", "sigmoid"});
    BOOST_TEST(training_bytes(spec, 10, 8, 2) == (21u * 4 + 4 * 5 * 10) * 8);
    BOOST_TEST(training_bytes(spec, 10, 4, 0) == (21u * 2 + 4 * 5 * 10) * 4);
    // the seed network on the cat images fits in any machine this runs on
    const std::uint64_t have = available_memory();
    BOOST_TEST(have > 0u);
    const MlpSpec seed({12288, 20, 7, 5, 1}, {"relu", "relu", "relu", "sigmoid"});
    BOOST_TEST(training_bytes(seed, 209, 8, 5) < have);
    BOOST_CHECK_NO_THROW(require_memory(seed, 209, 8, 5, "seed"));
    // the largest network MlpSpec allows (2^31 weights in a layer, ~86 GB with 5 copies) is refused
    // unless this machine has that much available
    const MlpSpec huge({std::size_t(1) << 24, 128, 1}, {"relu", "sigmoid"});
    if (training_bytes(huge, 209, 8, 5) > have)
        expect_usage_error([&] { require_memory(huge, 209, 8, 5, "--layers: huge"); },
                           "--layers: huge needs at least");
}

BOOST_AUTO_TEST_CASE(network_shape_errors_are_clear) {
    NumpyRandom rng(1);
    const MlpSpec spec({4, 3, 1}, {"relu", "sigmoid"});
    const auto p = he_init<double>(spec, 3);
    const M X = test::randn<double>(rng, 4, 5), Y = test::labels<double>(rng, 1, 5);
    BOOST_CHECK_THROW(Mlp<double>(spec, p, test::randn<double>(rng, 5, 5), Y), ShapeError);
    BOOST_CHECK_THROW(Mlp<double>(spec, p, X, test::labels<double>(rng, 1, 4)), ShapeError);
    Params<double> wrong = p;
    wrong.W[1] = M::from_shape({1, 2});
    try {
        Mlp<double>(spec, wrong, X, Y);
        BOOST_ERROR("accepted a wrong W2");
    } catch (const ShapeError& e) {
        BOOST_TEST(std::string(e.what()).find("layer 2 needs W [1,3]") != std::string::npos,
                   e.what());
    }
    Mlp<double> net(spec, p, X, Y);
    BOOST_CHECK_THROW(net.W(0), UsageError);
    BOOST_CHECK_THROW(net.Z(3), UsageError);
    BOOST_CHECK_THROW(net.predict(test::randn<double>(rng, 3, 2)), ShapeError);
}

BOOST_AUTO_TEST_CASE(exposes_every_layer) {
    NumpyRandom rng(2);
    const MlpSpec spec({6, 4, 3, 1}, {"relu", "sigmoid", "sigmoid"});
    const M X = test::randn<double>(rng, 6, 10), Y = test::labels<double>(rng, 1, 10);
    Mlp<double> net(spec, he_init<double>(spec, 3), X, Y);
    const Tape<double>& t = net.tape();
    BOOST_TEST(net.A(0) == net.X());
    BOOST_TEST(t.value(net.X()) == X);
    for (std::size_t l = 1; l <= 3; ++l) {
        BOOST_TEST(t.shape(net.W(l)) == (Shape{spec.dims[l], spec.dims[l - 1]}));
        BOOST_TEST(t.shape(net.b(l)) == (Shape{spec.dims[l], 1}));
        BOOST_TEST(t.shape(net.Z(l)) == (Shape{spec.dims[l], 10}));
        BOOST_TEST(t.shape(net.A(l)) == (Shape{spec.dims[l], 10}));
        BOOST_TEST(t.node(net.W(l)).op == OpKind::parameter);
    }
    BOOST_TEST(t.node(net.A(1)).op == OpKind::relu);
    BOOST_TEST(t.node(net.A(2)).op == OpKind::sigmoid);
    BOOST_TEST(t.node(net.loss()).op == OpKind::sigmoid_bce);
    Mlp<double> sep(spec, he_init<double>(spec, 3), X, Y, LossForm::separate);
    BOOST_TEST(sep.tape().node(sep.loss()).op == OpKind::bce);
    BOOST_TEST(sep.tape().node(sep.loss()).in0 == sep.A(3));
    BOOST_TEST(sep.cost() == net.cost(), boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(train_step_is_gradient_descent) {
    NumpyRandom rng(3);
    const MlpSpec spec({5, 3, 1}, {"relu", "sigmoid"});
    const M X = test::randn<double>(rng, 5, 8), Y = test::labels<double>(rng, 1, 8);
    const auto p0 = he_init<double>(spec, 3);
    Mlp<double> net(spec, p0, X, Y);
    Mlp<double> probe(spec, p0, X, Y);
    probe.tape().backward(probe.loss());
    const double cost0 = net.train_step(0.5);
    BOOST_TEST(cost0 == probe.cost());  // the cost before the update, as the seed prints it
    const auto p1 = net.params();
    for (std::size_t l = 1; l <= 2; ++l) {
        const M expected_w = p0.W[l - 1] - 0.5 * probe.tape().grad(probe.W(l));
        const M expected_b = p0.b[l - 1] - 0.5 * probe.tape().grad(probe.b(l));
        BOOST_TEST(test::norm_diff(p1.W[l - 1], expected_w) == 0.0);
        BOOST_TEST(test::norm_diff(p1.b[l - 1], expected_b) == 0.0);
    }
    // the update was not a no-op
    BOOST_TEST(test::norm_diff(p1.W[0], p0.W[0]) > 0.0);
}

BOOST_AUTO_TEST_CASE(predict_rounds_like_numpy) {
    // W = 0, b = 0: every probability is exactly sigmoid(0) = 0.5, which numpy rounds to 0
    const MlpSpec spec({2, 1}, {"sigmoid"});
    Params<double> p{{M{{0.0, 0.0}}}, {M{{0.0}}}};
    const M X{{1.0, -2.0, 3.0}, {0.5, 0.5, 0.5}};
    const M Y{{0.0, 1.0, 0.0}};
    Mlp<double> net(spec, p, X, Y);
    BOOST_TEST(net.predict_proba(X) == (M{{0.5, 0.5, 0.5}}));
    BOOST_TEST(net.predict(X) == (M{{0.0, 0.0, 0.0}}));
    BOOST_TEST(net.accuracy(X, Y) == 2.0 / 3.0);
    // w = (1, 0): p = sigmoid(x1) -> 1, 0, 1
    Mlp<double> net2(spec, Params<double>{{M{{1.0, 0.0}}}, {M{{0.0}}}}, X, Y);
    BOOST_TEST(net2.predict(X) == (M{{1.0, 0.0, 1.0}}));
    BOOST_TEST(net2.accuracy(X, Y) == 0.0);
    // on the tape's own data
    BOOST_TEST(net.accuracy() == 2.0 / 3.0);
    BOOST_TEST(net2.accuracy() == 0.0);
}

BOOST_AUTO_TEST_CASE(evaluate_gives_the_cost_of_the_current_parameters) {
    NumpyRandom rng(4);
    const MlpSpec spec({3, 4, 1}, {"relu", "sigmoid"});
    const M X = test::randn<double>(rng, 3, 10), Y = test::labels<double>(rng, 1, 10);
    Mlp<double> net(spec, he_init<double>(spec, 2), X, Y);
    const double before = net.train_step(0.3);
    const double after = net.evaluate();
    const Mlp<double> fresh(spec, net.params(), X, Y);
    BOOST_TEST(after == fresh.cost());
    BOOST_TEST(after != before);  // the step changed the parameters
    BOOST_TEST(net.cost() == after);
    BOOST_TEST(net.accuracy() == fresh.accuracy(X, Y));
}

BOOST_AUTO_TEST_CASE(predict_on_other_data_equals_the_tapes_output) {
    NumpyRandom rng(9);
    const MlpSpec spec({4, 6, 2, 1}, {"relu", "relu", "sigmoid"});
    const M X = test::randn<double>(rng, 4, 12), Y = test::labels<double>(rng, 1, 12);
    Mlp<double> net(spec, he_init<double>(spec, 5), X, Y);
    for (int i = 0; i < 3; ++i) net.train_step(0.05);
    net.tape().forward();
    BOOST_TEST(net.predict_proba(X) == net.tape().value(net.A(3)));
    // and on data of another width
    const M X2 = test::randn<double>(rng, 4, 3);
    Mlp<double> other(spec, net.params(), X2, test::labels<double>(rng, 1, 3));
    BOOST_TEST(net.predict_proba(X2) == other.tape().value(other.A(3)));
}
