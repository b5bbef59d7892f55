#define BOOST_TEST_MODULE widths
#include <boost/test/unit_test.hpp>

// One recorded graph serves every batch width (Tape::set_value on the data constants; forward()
// derives every op's shape again). A composed loss (elementary ops, a per-column log_softmax term
// and the built-in sigmoid_bce) is recorded ONCE at width 64 and replayed on the columns [0,64),
// [64,128), [128,145) and all 145, at the same parameters, against PyTorch's float64 autograd
// (tests/fixtures/make_widths_fixture.py -> widths_torch.h5). A loss that divides by a stale
// width, or a gradient that still sees columns of a wider batch, fails here.
//
// Tolerance, per tensor (the loss or one gradient): ‖xgrad − torch‖ ≤ 1e-12 · ‖torch‖, shapes equal.

#include <H5Cpp.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "xgrad/core/tape.hpp"

using namespace xgrad;

namespace {

const std::string kFixture = std::string(XGRAD_SOURCE_DIR) + "/tests/fixtures/widths_torch.h5";
const std::vector<std::string> kParams = {"W1", "b1", "W2", "b2", "W3"};

// ---- the fixture ------------------------------------------------------------------------------

Matrix<double> read_matrix(const H5::Group& g, const std::string& name) {
    const H5::DataSet d = g.openDataSet(name);
    const H5::DataSpace space = d.getSpace();
    BOOST_REQUIRE_MESSAGE(space.getSimpleExtentNdims() == 2, name << " is not 2-D");
    hsize_t dims[2] = {0, 0};
    space.getSimpleExtentDims(dims);
    Matrix<double> m = Matrix<double>::from_shape({std::size_t(dims[0]), std::size_t(dims[1])});
    d.read(m.data(), H5::PredType::NATIVE_DOUBLE);
    return m;
}

std::size_t attr_size(const H5::Group& g, const std::string& name) {
    std::int64_t v = -1;
    g.openAttribute(name).read(H5::PredType::NATIVE_INT64, &v);
    BOOST_REQUIRE(v >= 0);
    return std::size_t(v);
}

std::string attr_string(const H5::Group& g, const std::string& name) {
    const H5::Attribute a = g.openAttribute(name);
    std::string s;
    a.read(a.getStrType(), s);
    return s;
}

struct Expected {
    std::string name;
    std::size_t begin = 0, end = 0;
    Matrix<double> loss;
    std::vector<Matrix<double>> grads;  // in the order of kParams
};

struct Fixture {
    Matrix<double> X, y, T;
    std::map<std::string, Matrix<double>> init;
    std::vector<Expected> groups;  // batch0, batch1, batch2, all: the order of the replay
};

Fixture load() {
    const H5::H5File file(kFixture, H5F_ACC_RDONLY);
    const H5::Group root = file.openGroup("/");
    Fixture f;
    f.X = read_matrix(root, "X");
    f.y = read_matrix(root, "y");
    f.T = read_matrix(root, "T");
    const H5::Group init = file.openGroup("init");
    for (const auto& p : kParams) f.init[p] = read_matrix(init, p);
    std::stringstream names(attr_string(root, "groups"));
    for (std::string name; std::getline(names, name, ',');) {
        const H5::Group g = file.openGroup(name);
        Expected e;
        e.name = name;
        e.begin = attr_size(g, "begin");
        e.end = attr_size(g, "end");
        e.loss = read_matrix(g, "loss");
        const H5::Group grad = g.openGroup("grad");
        for (const auto& p : kParams) e.grads.push_back(read_matrix(grad, p));
        f.groups.push_back(std::move(e));
    }
    return f;
}

const Fixture& fixture() {
    static const Fixture f = load();
    return f;
}

// Columns [b, e) of a, as T.
template <class T>
Matrix<T> columns(const Matrix<double>& a, std::size_t b, std::size_t e) {
    const std::size_t r = a.shape()[0], n = a.shape()[1];
    Matrix<T> out = Matrix<T>::from_shape({r, e - b});
    for (std::size_t i = 0; i < r; ++i)
        for (std::size_t j = b; j < e; ++j) out(i, j - b) = T(a.data()[i * n + j]);
    return out;
}

template <class T>
Matrix<T> cast(const Matrix<double>& a) {
    return columns<T>(a, 0, a.shape()[1]);
}

// ‖a − b‖ / ‖b‖ (shapes must be equal; an all-zero b must be matched exactly).
template <class A>
double rel(const A& a, const Matrix<double>& b) {
    if (a.shape()[0] != b.shape()[0] || a.shape()[1] != b.shape()[1]) return 1e300;
    const double nb = test::norm(b), d = test::norm_diff(a, b);
    return nb == 0 ? (d == 0 ? 0.0 : 1e300) : d / nb;
}

// ---- the model --------------------------------------------------------------------------------

// The loss of make_widths_fixture.py, recorded on its own tape on the columns [b, e).
template <class T>
struct Model {
    Tape<T> t;
    Var<T> X, y, Tg, W1, b1, W2, b2, W3, h, z, loss;

    Model(const Fixture& f, std::size_t b, std::size_t e) {
        X = t.constant(columns<T>(f.X, b, e), "X");
        y = t.constant(columns<T>(f.y, b, e), "y");
        Tg = t.constant(columns<T>(f.T, b, e), "T");
        W1 = t.parameter(cast<T>(f.init.at("W1")), "W1");
        b1 = t.parameter(cast<T>(f.init.at("b1")), "b1");
        W2 = t.parameter(cast<T>(f.init.at("W2")), "W2");
        b2 = t.parameter(cast<T>(f.init.at("b2")), "b2");
        W3 = t.parameter(cast<T>(f.init.at("W3")), "W3");
        h = tanh(matmul(W1, X) + b1);
        z = add_bias(matmul(W2, h), b2);
        loss = mean(square(sigmoid(z) - y)) + 0.5 * mean(sum(-(Tg * log_softmax(matmul(W3, h))), 0)) +
               0.25 * sigmoid_bce(z, y) + 0.01 * sum(square(W1));
    }
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    std::vector<Var<T>> params() const { return {W1, b1, W2, b2, W3}; }

    // The data of columns [b, e), then forward, zero_grad, backward (no parameter update).
    void replay(const Fixture& f, std::size_t b, std::size_t e) {
        t.set_value(X, columns<T>(f.X, b, e));
        t.set_value(y, columns<T>(f.y, b, e));
        t.set_value(Tg, columns<T>(f.T, b, e));
        t.forward();
        t.zero_grad();
        t.backward(loss);
    }
    // A fresh recording already holds the forward values; it needs the backward pass.
    void gradients() {
        t.zero_grad();
        t.backward(loss);
    }
};

struct Result {
    Matrix<double> loss;
    std::vector<Matrix<double>> grads;  // in the order of kParams
};

template <class T>
Result result(const Model<T>& m) {
    Result r;
    r.loss = xt::cast<double>(m.loss.value());
    for (const auto& p : m.params()) r.grads.push_back(xt::cast<double>(p.grad()));
    return r;
}

// The fixture's groups in order, on one tape recorded at width 64 (columns [0,64)).
template <class T>
std::vector<Result> replay_groups() {
    const Fixture& f = fixture();
    Model<T> m(f, 0, 64);
    const std::size_t nodes = m.t.size();
    std::vector<Result> out;
    for (const auto& g : f.groups) {
        m.replay(f, g.begin, g.end);
        BOOST_TEST(m.t.size() == nodes);
        out.push_back(result(m));
    }
    return out;
}

// Every node's value and (where it has one) gradient, equal bit for bit.
template <class T>
bool same_bits(const Matrix<T>& a, const Matrix<T>& b) {
    return shape_of(a) == shape_of(b) && std::equal(a.begin(), a.end(), b.begin());
}

template <class T>
void check_replays_equal_fresh_recordings() {
    const Fixture& f = fixture();
    Model<T> m(f, 0, 64);
    const std::size_t nodes = m.t.size();
    for (const auto& g : f.groups) m.replay(f, g.begin, g.end);
    // widths 64, 17, 64, 145, 1 after the first pass (all buffers already at their widest)
    const std::size_t ranges[][2] = {{0, 64}, {128, 145}, {64, 128}, {0, 145}, {100, 101}};
    for (const auto& r : ranges) {
        m.replay(f, r[0], r[1]);
        Model<T> fresh(f, r[0], r[1]);
        fresh.gradients();
        BOOST_TEST_REQUIRE(m.t.size() == nodes);
        BOOST_TEST_REQUIRE(fresh.t.size() == nodes);
        std::size_t mismatches = 0;
        for (std::size_t i = 0; i < nodes; ++i) {
            const auto& a = m.t.node(NodeId(i));
            const auto& b = fresh.t.node(NodeId(i));
            BOOST_TEST_REQUIRE(a.op == b.op);
            if (!same_bits(a.value, b.value)) {
                ++mismatches;
                BOOST_TEST_MESSAGE("width " << r[1] - r[0] << ": value of node %" << i << " (" << a.op
                                            << ") differs from a fresh recording");
            }
            if (a.requires_grad && !same_bits(a.grad, b.grad)) {
                ++mismatches;
                BOOST_TEST_MESSAGE("width " << r[1] - r[0] << ": gradient of node %" << i << " (" << a.op
                                            << ") differs from a fresh recording");
            }
        }
        BOOST_TEST(mismatches == 0u, "width " << r[1] - r[0] << " [" << r[0] << "," << r[1] << ")");
        BOOST_TEST(shape_of(m.t.value(m.h)) == (Shape{8, r[1] - r[0]}));
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_fixture_is_what_the_test_expects) {
    const Fixture& f = fixture();
    BOOST_TEST(shape_of(f.X) == (Shape{6, 145}));
    BOOST_TEST(shape_of(f.y) == (Shape{1, 145}));
    BOOST_TEST(shape_of(f.T) == (Shape{3, 145}));
    BOOST_TEST_REQUIRE(f.groups.size() == 4u);
    const std::size_t want[][2] = {{0, 64}, {64, 128}, {128, 145}, {0, 145}};
    for (std::size_t k = 0; k < 4; ++k) {
        BOOST_TEST(f.groups[k].begin == want[k][0]);
        BOOST_TEST(f.groups[k].end == want[k][1]);
    }
}

// The check: widths 64, 64, 17, then the whole set, on one graph recorded at 64.
BOOST_AUTO_TEST_CASE(one_graph_at_widths_64_64_17_145_matches_torch) {
    const Fixture& f = fixture();
    Model<double> m(f, 0, 64);
    const std::size_t nodes = m.t.size();
    // the recording itself computed the loss on [0,64)
    BOOST_TEST(rel(m.loss.value(), f.groups[0].loss) <= 1e-12);

    double worst_loss = 0, worst_grad = 0;
    for (const auto& g : f.groups) {
        m.replay(f, g.begin, g.end);
        BOOST_TEST(m.t.size() == nodes);
        BOOST_TEST(shape_of(m.t.value(m.X)) == (Shape{6, g.end - g.begin}));
        BOOST_TEST(shape_of(m.t.value(m.z)) == (Shape{1, g.end - g.begin}));
        const double el = rel(m.loss.value(), g.loss);
        BOOST_TEST(el <= 1e-12, g.name << ": loss " << m.loss.value()(0, 0) << " vs torch " << g.loss(0, 0)
                                       << ", relative error " << el);
        worst_loss = std::max(worst_loss, el);
        const auto params = m.params();
        for (std::size_t k = 0; k < params.size(); ++k) {
            const double eg = rel(params[k].grad(), g.grads[k]);
            BOOST_TEST(eg <= 1e-12, g.name << ": gradient of " << kParams[k] << ", relative error " << eg);
            worst_grad = std::max(worst_grad, eg);
        }
    }
    BOOST_TEST_MESSAGE("double vs torch: largest relative error, loss " << worst_loss << ", gradients "
                                                                       << worst_grad);
}

BOOST_AUTO_TEST_CASE(float_agrees_with_double) {
    const std::vector<Result> d = replay_groups<double>();
    const std::vector<Result> s = replay_groups<float>();
    BOOST_TEST_REQUIRE(d.size() == s.size());
    double worst = 0;
    for (std::size_t g = 0; g < d.size(); ++g) {
        const double el = rel(s[g].loss, d[g].loss);
        BOOST_TEST(el <= 1e-4, fixture().groups[g].name << ": loss, relative error " << el);
        worst = std::max(worst, el);
        for (std::size_t k = 0; k < kParams.size(); ++k) {
            const double eg = rel(s[g].grads[k], d[g].grads[k]);
            BOOST_TEST(eg <= 1e-4, fixture().groups[g].name << ": gradient of " << kParams[k]
                                                           << ", relative error " << eg);
            worst = std::max(worst, eg);
        }
    }
    BOOST_TEST_MESSAGE("float vs double: largest relative error " << worst);
}

// After a first pass, the widths 64, 17, 64, 145, 1 on the replayed graph give exactly (==) what a
// tape recorded afresh at that width gives: every node's value and gradient.
BOOST_AUTO_TEST_CASE(a_replay_equals_a_fresh_recording_bit_for_bit_double) {
    check_replays_equal_fresh_recordings<double>();
}
BOOST_AUTO_TEST_CASE(a_replay_equals_a_fresh_recording_bit_for_bit_float) {
    check_replays_equal_fresh_recordings<float>();
}

BOOST_AUTO_TEST_CASE(data_that_does_not_fit_the_graph_is_a_shape_error_naming_the_op) {
    const Fixture& f = fixture();
    Model<double> m(f, 0, 64);
    m.replay(f, 0, 64);
    const Result before = result(m);

    // X with 5 rows: W1 [8,6] · X [5,64] no longer fits
    m.t.set_value(m.X, Matrix<double>(xt::ones<double>({5, 64})));
    try {
        m.t.forward();
        BOOST_FAIL("forward accepted X [5,64] for W1 [8,6]");
    } catch (const ShapeError& e) {
        const std::string msg = e.what();
        BOOST_TEST_MESSAGE("X [5,64]: " << msg);
        BOOST_TEST(msg.find("matmul") != std::string::npos, msg);
        BOOST_TEST(msg.find("[5,64]") != std::string::npos, msg);
    }
    // labels of another width than the data
    m.t.set_value(m.X, columns<double>(f.X, 0, 64));
    m.t.set_value(m.y, columns<double>(f.y, 0, 17));
    try {
        m.t.forward();
        BOOST_FAIL("forward accepted y [1,17] with X [6,64]");
    } catch (const ShapeError& e) {
        BOOST_TEST_MESSAGE("y [1,17] with X [6,64]: " << e.what());
    }
    // the right data again: the same numbers as before the errors
    m.replay(f, 0, 64);
    const Result after = result(m);
    BOOST_TEST(same_bits(after.loss, before.loss));
    for (std::size_t k = 0; k < kParams.size(); ++k) BOOST_TEST(same_bits(after.grads[k], before.grads[k]));
}

BOOST_AUTO_TEST_CASE(a_parameter_keeps_its_shape) {
    const Fixture& f = fixture();
    Model<double> m(f, 0, 64);
    const Matrix<double> W1 = m.W1.value();
    BOOST_CHECK_THROW(m.t.set_value(m.W1, Matrix<double>(xt::zeros<double>({8, 5}))), ShapeError);
    BOOST_CHECK_THROW(m.t.set_value(m.b1, Matrix<double>(xt::zeros<double>({8, 2}))), ShapeError);
    BOOST_TEST(same_bits(m.W1.value(), W1));  // untouched by the refused set_value
    // resized behind the tape's back: forward refuses it, naming the parameter
    m.t.leaf_value(m.W1).resize({8, 5});
    try {
        m.t.forward();
        BOOST_FAIL("forward accepted W1 [8,5]");
    } catch (const ShapeError& e) {
        const std::string msg = e.what();
        BOOST_TEST_MESSAGE("W1 [8,5]: " << msg);
        BOOST_TEST(msg.find("parameter") != std::string::npos, msg);
        BOOST_TEST(msg.find("W1") != std::string::npos, msg);
    }
    m.t.leaf_value(m.W1) = W1;
    m.replay(f, 0, 64);
    BOOST_TEST(rel(m.loss.value(), f.groups[0].loss) <= 1e-12);
}
