#define BOOST_TEST_MODULE parallel
#include <boost/test/unit_test.hpp>

// The split products are a fast path: every result is checked against the plain single-threaded
// path (same tape, set_threads(1)).

#include <atomic>
#include <memory>

#include "gemm.hpp"  // internal: the split planner
#include "test_util.hpp"
#include "thread_pool.hpp"
#include "xgrad/core/blas.hpp"
#include "xgrad/nn/mlp.hpp"

using namespace xgrad;
using detail::GemmPlan;
using detail::plan_gemm;
using test::rel_err;

BOOST_AUTO_TEST_CASE(the_loaded_blas_is_the_configured_serial_build) {
    // Each thread calls a single-threaded BLAS; a threaded one (which the system's alternatives
    // may point the soname at) would oversubscribe the cores.
    const std::string configured = blas_configured();
    const std::string loaded = blas_loaded();
    BOOST_TEST_MESSAGE("configured " << configured << ", loaded " << loaded);
    BOOST_TEST((configured == "BLIS" || configured == "OpenBLAS"));
    const std::string expect = configured == "BLIS" ? "/blis-serial/libblis" : "/openblas-serial/libopenblas";
    BOOST_TEST(loaded.find(expect) != std::string::npos, loaded << " is not " << expect);
}

BOOST_AUTO_TEST_CASE(planner_splits_the_seeds_products_along_the_long_dimension) {
    // W1·X: [20,12288]·[12288,209] -> split the reduction (k), partial sums in scratch
    BOOST_TEST(plan_gemm(20, 209, 12288, 2).dim == GemmPlan::k);
    BOOST_TEST(detail::gemm_scratch(plan_gemm(20, 209, 12288, 2), 20, 209) == 20u * 209u);
    // dW1 = dZ1·Xᵀ: [20,209]·[209,12288] -> split the output columns (n), no scratch
    BOOST_TEST(plan_gemm(20, 12288, 209, 2).dim == GemmPlan::n);
    BOOST_TEST(detail::gemm_scratch(plan_gemm(20, 12288, 209, 2), 20, 12288) == 0u);
    // small products and one thread: no split
    BOOST_TEST(plan_gemm(7, 209, 20, 2).dim == GemmPlan::none);
    BOOST_TEST(plan_gemm(20, 209, 12288, 1).dim == GemmPlan::none);
    BOOST_TEST(plan_gemm(3000, 40, 40, 4).dim == GemmPlan::m);
}

BOOST_AUTO_TEST_CASE(pool_runs_every_part_exactly_once) {
    for (int size : {1, 2, 3, 5}) {
        detail::ThreadPool pool(size);
        std::unique_ptr<std::atomic<int>[]> hits(new std::atomic<int>[std::size_t(size)]());
        for (int round = 0; round < 200; ++round) {
            auto f = [&](int i) { hits[std::size_t(i)].fetch_add(1); };
            pool.for_each(f);
        }
        for (int i = 0; i < size; ++i) BOOST_TEST(hits[std::size_t(i)].load() == 200);
    }
}

namespace {
// A product of the given shapes, differentiated with respect to both inputs, with `threads`.
template <class T>
struct Product {
    Tape<T> t;
    NodeId a, b, loss;
    Product(const Matrix<T>& av, const Matrix<T>& bv, const Matrix<T>& y, int threads) {
        t.set_threads(threads);
        a = t.parameter(av);
        b = t.parameter(bv);
        loss = t.sigmoid_bce(t.matmul(a, b), t.constant(y));
        t.backward(loss);
    }
};

template <class T>
void compare_split(std::size_t m, std::size_t k, std::size_t n, double tol) {
    NumpyRandom rng(std::uint32_t(m * 7 + k * 3 + n));
    const Matrix<T> av = test::randn<T>(rng, m, k, 0.05), bv = test::randn<T>(rng, k, n);
    const Matrix<T> y = test::labels<T>(rng, m, n);
    Product<T> plain(av, bv, y, 1);
    for (int threads : {2, 3, 4}) {
        Product<T> split(av, bv, y, threads);
        const NodeId z = split.t.node(split.loss).in0;
        BOOST_TEST(rel_err(split.t.value(z), plain.t.value(z)) <= tol);
        BOOST_TEST(rel_err(split.t.grad(split.a), plain.t.grad(plain.a)) <= tol);
        BOOST_TEST(rel_err(split.t.grad(split.b), plain.t.grad(plain.b)) <= tol);
        BOOST_TEST(test::norm(plain.t.grad(plain.a)) > 0.0);
        // replay on the split tape gives the same again
        split.t.forward();
        split.t.zero_grad();
        split.t.backward(split.loss);
        BOOST_TEST(rel_err(split.t.grad(split.a), plain.t.grad(plain.a)) <= tol);
    }
}
}  // namespace

BOOST_AUTO_TEST_CASE(split_products_equal_the_plain_path_double) {
    compare_split<double>(20, 3001, 37, 1e-12);  // k split (odd sizes: uneven slices)
    compare_split<double>(9, 45, 2501, 1e-12);   // n split
    compare_split<double>(2999, 41, 23, 1e-12);  // m split
}

BOOST_AUTO_TEST_CASE(split_products_equal_the_plain_path_float) {
    compare_split<float>(20, 3001, 37, 1e-5);
    compare_split<float>(9, 45, 2501, 1e-5);
    compare_split<float>(2999, 41, 23, 1e-5);
}

// The seed's network at full width: every gradient and the cost with 2 threads vs 1.
BOOST_AUTO_TEST_CASE(seed_network_split_equals_plain) {
    NumpyRandom rng(3);
    const MlpSpec spec({12288, 20, 7, 5, 1}, {"relu", "relu", "relu", "sigmoid"});
    Matrix<double> X = Matrix<double>::from_shape({12288, 64});
    for (auto& v : X) v = rng.uniform();
    const Matrix<double> Y = test::labels<double>(rng, 1, 64);
    Mlp<double> plain(spec, he_init<double>(spec, 3), X, Y), split(spec, he_init<double>(spec, 3), X, Y);
    plain.tape().set_threads(1);
    split.tape().set_threads(2);
    for (int i = 0; i < 3; ++i) {
        const double c1 = plain.train_step(0.0075), c2 = split.train_step(0.0075);
        BOOST_TEST(std::abs(c1 - c2) <= 1e-12 * c1);
    }
    for (std::size_t l = 1; l <= 4; ++l) {
        BOOST_TEST(rel_err(split.tape().grad(split.W(l)), plain.tape().grad(plain.W(l))) <= 1e-12);
        BOOST_TEST(rel_err(split.tape().grad(split.b(l)), plain.tape().grad(plain.b(l))) <= 1e-12);
        BOOST_TEST(rel_err(split.tape().grad(split.Z(l)), plain.tape().grad(plain.Z(l))) <= 1e-12);
    }
}

BOOST_AUTO_TEST_CASE(thread_count_is_validated_and_a_tape_moves_with_its_pool) {
    Tape<double> t;
    BOOST_CHECK_THROW(t.set_threads(0), UsageError);
    t.set_threads(2);
    NumpyRandom rng(1);
    const NodeId a = t.parameter(test::randn<double>(rng, 10, 4000));
    const NodeId b = t.constant(test::randn<double>(rng, 4000, 30));
    const NodeId c = t.matmul(a, b);
    Tape<double> moved = std::move(t);
    const Matrix<double> before = moved.value(c);
    moved.forward();
    BOOST_TEST(moved.value(c) == before);
    BOOST_TEST(moved.threads() == 2);
}
