#define BOOST_TEST_MODULE alloc
#include <boost/test/unit_test.hpp>

// Proves that replaying a recorded graph allocates nothing: every operator new and every
// malloc/calloc/realloc in this binary (the library's and OpenBLAS's included, since the
// executable's definitions interpose glibc's) is counted while counting is on.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "xgrad/nn/mlp.hpp"
#include "xgrad/nn/layers.hpp"
#include "xgrad/nn/train.hpp"

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void __libc_free(void*);
}

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
inline void count() {
    if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1);
}
}  // namespace

extern "C" {
void* malloc(std::size_t n) {
    count();
    return __libc_malloc(n);
}
void* calloc(std::size_t a, std::size_t b) {
    count();
    return __libc_calloc(a, b);
}
void* realloc(void* p, std::size_t n) {
    count();
    return __libc_realloc(p, n);
}
void free(void* p) { __libc_free(p); }
}

void* operator new(std::size_t n) {
    count();
    if (void* p = __libc_malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { __libc_free(p); }
void operator delete[](void* p) noexcept { __libc_free(p); }
void operator delete(void* p, std::size_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::size_t) noexcept { __libc_free(p); }

using namespace xgrad;

namespace {
template <class T>
long allocations_per_step(const MlpSpec& spec, std::size_t m, int steps) {
    NumpyRandom rng(1);
    const Matrix<T> X = test::randn<T>(rng, spec.dims[0], m);
    const Matrix<T> Y = test::labels<T>(rng, 1, m);
    Mlp<T> net(spec, he_init<T>(spec, 3), X, Y);
    net.tape().set_threads(2);  // the split products and the pool must not allocate either
    // Warm-up. BLAS sets up its buffers once, and BLIS grows its packing-buffer pools the first
    // time two threads call it at the same moment (seen with a backtrace: malloc under
    // bli_gemm_ex, on a loaded machine, after warm-up steps whose two halves happened not to
    // overlap). Two threads training copies of the network side by side make that happen here.
    {
        std::vector<std::thread> side;
        for (int t = 0; t < 2; ++t)
            side.emplace_back([&] {
                Mlp<T> copy(spec, he_init<T>(spec, 3), X, Y);
                copy.tape().set_threads(1);
                for (int i = 0; i < 20; ++i) copy.train_step(T(0.01));
            });
        for (auto& t : side) t.join();
    }
    for (int i = 0; i < 8; ++i) net.train_step(T(0.01));
    allocations = 0;
    counting = true;
    for (int i = 0; i < steps; ++i) net.train_step(T(0.01));
    counting = false;
    return allocations.load();
}
}  // namespace

BOOST_AUTO_TEST_CASE(the_counter_sees_allocations) {
    allocations = 0;
    counting = true;
    auto* v = new std::vector<double>(100);
    void* p = std::malloc(64);
    counting = false;
    delete v;
    std::free(p);
    BOOST_TEST(allocations.load() >= 3);  // the vector, its buffer, the malloc
    // recording a tape allocates (so a zero below is not a blind counter)
    allocations = 0;
    counting = true;
    {
        Tape<double> t;
        t.relu(t.constant(Matrix<double>{{1.0, -1.0}}));
    }
    counting = false;
    BOOST_TEST(allocations.load() > 0);
}

BOOST_AUTO_TEST_CASE(replayed_iterations_allocate_nothing_double) {
    const MlpSpec seed_like({1200, 20, 7, 5, 1}, {"relu", "relu", "relu", "sigmoid"});
    const long n = allocations_per_step<double>(seed_like, 209, 20);
    BOOST_TEST_MESSAGE("double: " << n << " allocations in 20 replayed iterations");
    BOOST_TEST(n == 0);
}

BOOST_AUTO_TEST_CASE(replayed_iterations_allocate_nothing_float) {
    const MlpSpec spec({64, 8, 1}, {"sigmoid", "sigmoid"});
    const long n = allocations_per_step<float>(spec, 33, 20);
    BOOST_TEST(n == 0);
}

// A model of one's own written with Vars: broadcasting, the elementwise functions, reductions
// along axes, slices, concat and the losses replay without allocating too.
BOOST_AUTO_TEST_CASE(replayed_var_expressions_allocate_nothing) {
    NumpyRandom rng(4);
    Tape<double> t;
    auto x = t.constant(test::randn<double>(rng, 6, 40), "x");
    auto y = t.constant(test::labels<double>(rng, 1, 40), "y");
    auto W = t.parameter(test::randn<double>(rng, 5, 6, 0.3), "W");
    auto b = t.parameter(test::randn<double>(rng, 5, 1, 0.1), "b");
    auto v = t.parameter(test::randn<double>(rng, 1, 5, 0.3), "v");
    auto h = tanh(matmul(W, x) + b);                          // [5,40] + [5,1]
    auto g = concat(rows(h, 0, 2), exp(-square(rows(h, 2, 5))), 0);
    auto z = matmul(v, g / (1.0 + abs(g))) - mean(g, 0);       // [1,40] - [1,40]
    auto p = sigmoid(z);
    auto loss = mean(square(p - y)) + sigmoid_bce(z, y) + 0.01 * sum(square(W)) +
                sum(max(log_softmax(h), 0)) / 40.0 + mse(cols(p, 0, 10), cols(y, 0, 10)) +
                0.001 * sum(sqrt(pow(square(b), 1.5) + 1.0)) - 0.01 * sum(mean(transpose(h), 1)) +
                0.001 * sum(sum(softmax(h), 1)) + sq_norm(v);
    auto step = [&] {
        t.forward();
        t.zero_grad();
        t.backward(loss);
        for (NodeId q : t.parameters()) {
            auto& w = t.leaf_value(q);
            const auto& dw = t.param_grad(q);
            for (std::size_t i = 0; i < w.size(); ++i) w.data()[i] -= 0.01 * dw.data()[i];
        }
    };
    for (int i = 0; i < 3; ++i) step();
    allocations = 0;
    counting = true;
    for (int i = 0; i < 10; ++i) step();
    counting = false;
    BOOST_TEST(allocations.load() == 0);
}

// ---- one recorded graph, any batch width ---------------------------------------------------------
// A composed Var loss recorded at one width; Tape::set_value gives the data constants batches of
// other widths. Buffers grow only past the widest width seen: after one step at the widest, any
// mix of narrower batches and the widest again allocates nothing.
namespace {

template <class T>
struct Batch {
    Matrix<T> X, y, onehot;
};

template <class T>
Batch<T> make_batch(NumpyRandom& rng, std::size_t m) {
    Batch<T> b{test::randn<T>(rng, 6, m), test::labels<T>(rng, 1, m), Matrix<T>(xt::zeros<T>({std::size_t(3), m}))};
    for (std::size_t j = 0; j < m; ++j) b.onehot(std::size_t(rng.uniform() * 3) % 3, j) = T(1);
    return b;
}

template <class T>
struct WidthModel {
    Tape<T> t;
    Var<T> X, y, Tg, W1, b1, W2, b2, W3, h, z, pred, ce, loss;

    explicit WidthModel(const Batch<T>& first) {
        NumpyRandom rng(11);  // the same parameters in every WidthModel
        X = t.constant(first.X, "X");
        y = t.constant(first.y, "y");
        Tg = t.constant(first.onehot, "T");
        W1 = t.parameter(test::randn<T>(rng, 8, 6, 0.5), "W1");
        b1 = t.parameter(test::randn<T>(rng, 8, 1, 0.1), "b1");
        W2 = t.parameter(test::randn<T>(rng, 1, 8, 0.5), "W2");
        b2 = t.parameter(test::randn<T>(rng, 1, 1, 0.1), "b2");
        W3 = t.parameter(test::randn<T>(rng, 3, 8, 0.5), "W3");
        h = tanh(matmul(W1, X) + b1);
        z = add_bias(matmul(W2, h), b2);
        pred = sigmoid(z);
        ce = log_softmax(matmul(W3, h));
        loss = mean(square(pred - y)) + 0.5 * mean(sum(-(Tg * ce), 0)) + 0.25 * sigmoid_bce(z, y) +
               0.01 * sum(square(W1)) + softmax_ce(matmul(W3, h), Tg) + mse(pred, y) +
               0.1 * bce(pred, y) - 0.01 * sum(mean(transpose(h), 1));
    }
    WidthModel(const WidthModel&) = delete;
    WidthModel& operator=(const WidthModel&) = delete;

    void set_batch(const Batch<T>& b) {
        t.set_value(X, b.X);
        t.set_value(y, b.y);
        t.set_value(Tg, b.onehot);
    }
    // forward, zero_grad, backward and (update) a hand-written SGD step
    void step(bool update = true) {
        t.forward();
        t.zero_grad();
        t.backward(loss);
        if (!update) return;
        for (NodeId q : t.parameters()) {
            auto& w = t.leaf_value(q);
            const auto& dw = t.param_grad(q);
            for (std::size_t i = 0; i < w.size(); ++i) w.data()[i] -= T(0.01) * dw.data()[i];
        }
    }
};

template <class T>
std::vector<Batch<T>> make_batches(NumpyRandom& rng, const std::vector<std::size_t>& widths) {
    std::vector<Batch<T>> out;
    for (std::size_t m : widths) out.push_back(make_batch<T>(rng, m));
    return out;
}

// Allocations over set_batch + step for each batch (everything prepared before counting).
template <class T>
long count_steps(WidthModel<T>& model, const std::vector<Batch<T>>& batches) {
    allocations = 0;
    counting = true;
    for (const auto& b : batches) {
        model.set_batch(b);
        model.step();
    }
    counting = false;
    return allocations.load();
}

template <class T>
long narrower_widths_after_the_widest() {
    NumpyRandom rng(5);
    const auto first = make_batch<T>(rng, 64);
    const auto batches = make_batches<T>(rng, {64, 17, 64, 1, 33, 64});
    WidthModel<T> model(first);
    const std::size_t nodes = model.t.size();
    model.step();  // the one step at the widest width
    const long n = count_steps(model, batches);
    BOOST_TEST(model.t.size() == nodes);
    BOOST_TEST(shape_of(model.pred.value()) == (Shape{1, 64}));
    return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(any_width_up_to_the_widest_replays_without_allocating_double) {
    const long n = narrower_widths_after_the_widest<double>();
    BOOST_TEST_MESSAGE("double: " << n << " allocations in steps at widths 64, 17, 64, 1, 33, 64");
    BOOST_TEST(n == 0);
}

BOOST_AUTO_TEST_CASE(any_width_up_to_the_widest_replays_without_allocating_float) {
    const long n = narrower_widths_after_the_widest<float>();
    BOOST_TEST_MESSAGE("float: " << n << " allocations in steps at widths 64, 17, 64, 1, 33, 64");
    BOOST_TEST(n == 0);
}

// The zero above is not blind: a batch wider than any before grows the buffers; after it, every
// width up to the new widest allocates nothing again.
BOOST_AUTO_TEST_CASE(a_wider_batch_allocates_then_narrower_ones_do_not) {
    NumpyRandom rng(6);
    const auto first = make_batch<double>(rng, 17);
    const auto wider = make_batches<double>(rng, {64});
    const auto after = make_batches<double>(rng, {17, 64, 1, 33, 64, 17});
    WidthModel<double> model(first);
    model.step();
    model.step();
    const long grow = count_steps(model, wider);
    BOOST_TEST_MESSAGE("a step at width 64 after width 17: " << grow << " allocations");
    BOOST_TEST(grow > 0);
    const long n = count_steps(model, after);
    BOOST_TEST_MESSAGE("then widths 17, 64, 1, 33, 64, 17: " << n << " allocations");
    BOOST_TEST(n == 0);
}

// forward(node) computes only what the node depends on: the loss keeps its old value (the nodes
// of the loss are not run), the prediction follows the new data; at steady state it allocates
// nothing at any width up to the widest.
BOOST_AUTO_TEST_CASE(forward_of_a_node_runs_only_its_inputs_and_allocates_nothing) {
    NumpyRandom rng(8);
    const auto first = make_batch<double>(rng, 64);
    const auto next = make_batch<double>(rng, 33);
    WidthModel<double> model(first);
    model.step(false);
    const Matrix<double> old_loss = model.loss.value();
    const Matrix<double> old_pred = model.pred.value();
    const Matrix<double> old_ce = model.ce.value();

    model.set_batch(next);
    model.t.forward(model.pred);
    WidthModel<double> fresh(next);  // the same parameters, recorded on the new batch
    BOOST_TEST(shape_of(model.pred.value()) == (Shape{1, 33}));
    BOOST_TEST((model.pred.value() == fresh.pred.value()));
    BOOST_TEST(model.pred.value()(0, 0) != old_pred(0, 0));
    // not on the way to pred: untouched, still the width-64 values
    BOOST_TEST((model.loss.value() == old_loss));
    BOOST_TEST((model.ce.value() == old_ce));
    BOOST_TEST(shape_of(model.ce.value()) == (Shape{3, 64}));
    // the whole graph again: now the loss follows
    model.t.forward();
    BOOST_TEST((model.loss.value() == fresh.loss.value()));
    BOOST_TEST(!(model.loss.value() == old_loss));

    std::vector<Matrix<double>> xs;
    for (std::size_t m : {64, 17, 1, 33, 64, 2}) xs.push_back(test::randn<double>(rng, 6, m));
    allocations = 0;
    counting = true;
    for (const auto& x : xs) {
        model.t.set_value(model.X, x);
        model.t.forward(model.pred);
    }
    counting = false;
    const long n = allocations.load();
    BOOST_TEST_MESSAGE("forward(pred) at widths 64, 17, 1, 33, 64, 2: " << n << " allocations");
    BOOST_TEST(n == 0);
    BOOST_TEST(shape_of(model.pred.value()) == (Shape{1, 2}));
    BOOST_TEST((model.loss.value() == fresh.loss.value()));  // the loss still holds the width-33 value
}

// The digits_classifier loop: Linear layers (xgrad/nn.hpp), softmax_ce on class-index labels, Adam
// (Optimizer), and each mini-batch gathered in place into the data constants (Tape::leaf_value,
// resized to the batch's width: 64-wide batches and a short last one of 13). After the first epoch
// no step allocates, the short batch and the widest included.
template <class T>
long linear_adam_epochs_allocations() {
    NumpyRandom rng(12);
    const std::size_t n_x = 16, m = 141, B = 64;
    const Matrix<T> X = test::randn<T>(rng, n_x, m);
    const Matrix<T> Y = [&] {
        Matrix<T> labels = Matrix<T>::from_shape({1, m});
        for (std::size_t j = 0; j < m; ++j) labels(0, j) = T(j % 5);
        return labels;
    }();
    Tape<T> t;
    auto x = t.constant(Matrix<T>(xt::zeros<T>({n_x, B})), "x");
    auto y = t.constant(Matrix<T>(xt::zeros<T>({std::size_t(1), B})), "y");
    Sequential<T> net;
    net.add(Linear<T>(t, n_x, 32, "fc1", rng)).add(relu<T>).add(Linear<T>(t, 32, 5, "fc2", rng));
    auto loss = softmax_ce(net(x), y);
    Optimizer<T> opt(t, OptimizerConfig{OptimizerKind::adam, 1e-3});
    std::vector<std::size_t> order(m);
    auto epoch = [&] {
        for (std::size_t b = 0; b < m; b += B) {
            const std::size_t n = std::min(B, m - b);
            for (auto [leaf, all] : {std::make_pair(NodeId(x), &X), std::make_pair(NodeId(y), &Y)}) {
                Matrix<T>& dst = t.leaf_value(leaf);
                const std::size_t rows = all->shape()[0];
                dst.resize({rows, n});
                for (std::size_t i = 0; i < rows; ++i)
                    for (std::size_t j = 0; j < n; ++j) dst(i, j) = (*all)(i, order[b + j]);
            }
            t.forward();
            opt.zero_grad();
            t.backward(loss);
            opt.step();
        }
    };
    for (std::size_t j = 0; j < m; ++j) order[j] = (j * 37) % m;  // 37 and 141 are coprime
    epoch();
    std::reverse(order.begin(), order.end());
    allocations = 0;
    counting = true;
    epoch();
    epoch();
    counting = false;
    BOOST_TEST(std::isfinite(double(loss.value()(0, 0))));
    return allocations.load();
}

BOOST_AUTO_TEST_CASE(linear_layers_with_adam_on_mini_batches_allocate_nothing) {
    const long d = linear_adam_epochs_allocations<double>();
    BOOST_TEST_MESSAGE("double: " << d << " allocations in two epochs of batches 64, 64, 13");
    BOOST_TEST(d == 0);
    const long f = linear_adam_epochs_allocations<float>();
    BOOST_TEST(f == 0);
}
