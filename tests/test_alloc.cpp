#define BOOST_TEST_MODULE alloc
#include <boost/test/unit_test.hpp>

// Proves that replaying a recorded graph allocates nothing: every operator new and every
// malloc/calloc/realloc in this binary (the library's and OpenBLAS's included, since the
// executable's definitions interpose glibc's) is counted while counting is on.

#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "xgrad/mlp.hpp"

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
