#define BOOST_TEST_MODULE dist
#include <boost/test/unit_test.hpp>

// Data-parallel training without MPI: share_of, and the Trainer's group path (Collective) with
// N "processes" that are N threads of this test, each with its own Trainer, summing through a
// Collective made of a barrier. The parameters must equal one Trainer's within 1e-10 relative for
// full batch, Adam + mini-batches + dropout + L2, chunks, and more processes than columns. With
// the dist layer built: ShardedSource's columns and weights, and allreduce_gradients on a loop of
// one's own. (The MPI programs themselves: tests/run_dist.py.)

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "thread_group.hpp"
#include "xgrad/nn/train.hpp"
#if defined(XGRAD_HAVE_DIST)
#include "xgrad/dist/dist.hpp"
#endif

using namespace xgrad;

using test::ThreadCollective;
using test::ThreadGroup;

namespace {

struct Data {
    Matrix<double> X, Y;
};

Data make_data(std::size_t n_x, std::size_t m) {
    NumpyRandom rng(5);
    Data d{test::randn<double>(rng, n_x, m), Matrix<double>::from_shape({1, m})};
    for (std::size_t j = 0; j < m; ++j) d.Y(0, j) = d.X(0, j) + 0.5 * d.X(1, j) > 0 ? 1.0 : 0.0;
    return d;
}

double worst_rel(const Params<double>& a, const Params<double>& b) {
    double worst = 0;
    for (std::size_t l = 0; l < a.W.size(); ++l)
        for (const auto* pair : {&a.W, &a.b}) {
            const auto& x = (*pair)[l];
            const auto& y = (pair == &a.W ? b.W : b.b)[l];
            BOOST_REQUIRE(x.shape() == y.shape());
            double scale = 1e-300, diff = 0;
            for (std::size_t i = 0; i < x.size(); ++i) {
                scale = std::max(scale, std::abs(x.data()[i]));
                diff = std::max(diff, std::abs(x.data()[i] - y.data()[i]));
            }
            worst = std::max(worst, diff / scale);
        }
    return worst;
}

struct Run {
    Params<double> params;
    std::vector<double> costs;
    Evaluation fit;
    long long sums = 0;
};

// `processes` == 0: one Trainer without a group (the reference).
Run train(const MlpSpec& spec, const Data& d, const TrainConfig& cfg, int processes, int epochs) {
    const Params<double> init = init_params<double>(spec, Init::he, 3);
    auto source = std::make_shared<MemorySource<double>>(d.X, d.Y);
    if (processes == 0) {
        Trainer<double> t(spec, init, source, cfg);
        t.net().tape().set_threads(1);
        Run r;
        for (int e = 0; e < epochs; ++e) r.costs.push_back(t.epoch());
        r.fit = t.evaluate();
        r.params = t.net().params();
        return r;
    }
    ThreadGroup job(processes);
    std::vector<Run> runs(static_cast<std::size_t>(processes));
    std::vector<std::thread> threads;
    for (int rank = 0; rank < processes; ++rank)
        threads.emplace_back([&, rank] {
            ThreadCollective<double> group(job, rank);
            Trainer<double> t(spec, init, source, cfg, &group);
            t.net().tape().set_threads(1);
            Run& r = runs[std::size_t(rank)];
            for (int e = 0; e < epochs; ++e) r.costs.push_back(t.epoch());
            r.fit = t.evaluate();
            r.params = t.net().params();
        });
    for (auto& th : threads) th.join();
    for (int rank = 1; rank < processes; ++rank) {  // every process holds the same model
        BOOST_TEST(worst_rel(runs[0].params, runs[std::size_t(rank)].params) == 0.0);
        BOOST_TEST(runs[0].costs == runs[std::size_t(rank)].costs);
    }
    runs[0].sums = job.calls();
    return runs[0];
}

void expect_same(const Run& ref, const Run& got, int processes) {
    BOOST_TEST_CONTEXT(processes << " processes") {
        const double w = worst_rel(ref.params, got.params);
        BOOST_TEST(w <= 1e-10, "parameters differ by " << w << " relative");
        BOOST_REQUIRE_EQUAL(ref.costs.size(), got.costs.size());
        for (std::size_t e = 0; e < ref.costs.size(); ++e)
            BOOST_TEST(std::abs(ref.costs[e] - got.costs[e]) <= 1e-10 * std::abs(ref.costs[e]));
        BOOST_TEST(std::abs(ref.fit.cost - got.fit.cost) <= 1e-10 * ref.fit.cost);
        BOOST_TEST(std::abs(ref.fit.accuracy - got.fit.accuracy) <= 1e-12);
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(share_of_covers_a_batch_once_in_rank_order) {
    for (std::size_t n : {0u, 1u, 2u, 7u, 209u, 1024u})
        for (int size = 1; size <= 9; ++size) {
            std::size_t next = 0, largest = 0;
            for (int r = 0; r < size; ++r) {
                const Share s = share_of(n, r, size);
                BOOST_TEST(s.begin == next);
                next += s.count;
                largest = std::max(largest, s.count);
                BOOST_TEST(s.count + 1 >= n / std::size_t(size));
                BOOST_TEST(s.count <= n / std::size_t(size) + 1);
            }
            BOOST_TEST(next == n);
            BOOST_TEST(share_of(n, 0, size).count == largest);  // rank 0 the larger share
        }
    BOOST_CHECK_THROW(share_of(10, 2, 2), UsageError);
    BOOST_CHECK_THROW(share_of(10, -1, 2), UsageError);
    BOOST_CHECK_THROW(share_of(10, 0, 0), UsageError);
}

BOOST_AUTO_TEST_CASE(full_batch_gd_in_a_group_equals_one_trainer) {
    const MlpSpec spec({20, 8, 4, 1}, {"relu", "relu", "sigmoid"});
    const Data d = make_data(20, 53);
    TrainConfig cfg;
    cfg.optimizer.learning_rate = 0.05;
    const Run ref = train(spec, d, cfg, 0, 30);
    for (int n : {1, 2, 3, 4}) {
        const Run got = train(spec, d, cfg, n, 30);
        expect_same(ref, got, n);
        BOOST_TEST(got.sums == 1 + 30 + 1);  // the agreement check, one sum per step, the evaluation
    }
}

BOOST_AUTO_TEST_CASE(adam_minibatches_dropout_l2_in_a_group_equal_one_trainer) {
    const MlpSpec spec({20, 8, 4, 1}, {"relu", "tanh", "sigmoid"});
    const Data d = make_data(20, 53);
    TrainConfig cfg;
    cfg.optimizer = {OptimizerKind::adam, 0.01};
    cfg.mini_batch_size = 16;  // 53 = 3 * 16 + 5: the last batch is 5 wide
    cfg.reg.keep_prob = {0.8, 0.9};
    cfg.reg.lambd = 0.3;
    const Run ref = train(spec, d, cfg, 0, 8);
    for (int n : {2, 3, 7}) {  // 7 processes: the 5-column batch leaves two of them without a column
        const Run got = train(spec, d, cfg, n, 8);
        expect_same(ref, got, n);
        BOOST_TEST(got.sums == 1 + 8 * 4 + 1);  // the agreement check, the steps, the evaluation
    }
}

BOOST_AUTO_TEST_CASE(chunks_within_each_process_change_nothing) {
    const MlpSpec spec({20, 8, 1}, {"relu", "sigmoid"});
    const Data d = make_data(20, 40);
    TrainConfig cfg;
    cfg.optimizer = {OptimizerKind::momentum, 0.02};
    cfg.reg.keep_prob = {0.7};
    cfg.reg.lambd = 0.1;
    const Run ref = train(spec, d, cfg, 0, 10);
    cfg.chunk_columns = 3;  // each process works through its share 3 columns at a time
    expect_same(ref, train(spec, d, cfg, 3, 10), 3);
}

#if defined(XGRAD_HAVE_DIST)
BOOST_AUTO_TEST_CASE(sharded_source_fetches_its_share) {
    const Data d = make_data(4, 11);
    auto all = std::make_shared<MemorySource<double>>(d.X, d.Y);
    std::vector<std::size_t> batch = {10, 3, 5, 0, 7, 2, 9};  // 7 columns: shares 3, 2, 2
    std::size_t covered = 0;
    double weights = 0;
    for (int r = 0; r < 3; ++r) {
        dist::ShardedSource<double> mine(all, r, 3);
        BOOST_TEST(mine.examples() == 11u);
        BOOST_TEST(mine.features() == 4u);
        Matrix<double> X, Y;
        mine.fetch(batch.data(), batch.size(), X, Y);
        const Share s = share_of(batch.size(), r, 3);
        BOOST_REQUIRE(X.shape()[1] == s.count);
        for (std::size_t j = 0; j < s.count; ++j) {
            BOOST_TEST(X(1, j) == d.X(1, batch[s.begin + j]));
            BOOST_TEST(Y(0, j) == d.Y(0, batch[s.begin + j]));
        }
        covered += X.shape()[1];
        weights += mine.weight(batch.size());
    }
    BOOST_TEST(covered == batch.size());
    BOOST_TEST(std::abs(weights - 1.0) < 1e-15);
    dist::ShardedSource<double> last(all, 2, 3);
    Matrix<double> X, Y;
    BOOST_TEST(last.count(2) == 0u);  // a batch of 2 leaves rank 2 of 3 without a column
    BOOST_CHECK_THROW(last.fetch(batch.data(), 2, X, Y), UsageError);
    BOOST_CHECK_THROW(dist::ShardedSource<double>(all, 3, 3), UsageError);
    BOOST_CHECK_THROW(dist::ShardedSource<double>(nullptr, 0, 1), UsageError);
}

BOOST_AUTO_TEST_CASE(allreduce_gradients_sums_gradients_and_extras_in_one_call) {
    ThreadGroup job(2);
    std::vector<double> got(2);
    std::vector<std::thread> threads;
    for (int rank = 0; rank < 2; ++rank)
        threads.emplace_back([&, rank] {
            ThreadCollective<double> group(job, rank);
            Tape<double> t;
            auto x = t.constant(Matrix<double>{{double(rank + 1)}});
            auto w = t.parameter(Matrix<double>{{2.0}}, "w");
            auto loss = sum(w * x);  // d/dw = x = rank + 1
            t.backward(loss);
            double extra = 10.0 * (rank + 1);
            std::vector<double> buffer;
            dist::allreduce_gradients(group, t, {w}, buffer, &extra, 1);
            got[std::size_t(rank)] = t.grad(w)(0, 0) + extra;
        });
    for (auto& th : threads) th.join();
    BOOST_TEST(job.calls() == 1);
    BOOST_TEST(got[0] == 3.0 + 30.0);
    BOOST_TEST(got[1] == 3.0 + 30.0);
}

BOOST_AUTO_TEST_CASE(no_mpi_state_is_asked_for_before_a_context) {
    BOOST_CHECK_THROW(dist::rank(), UsageError);
    BOOST_CHECK_THROW(dist::size(), UsageError);
}
#endif
