// xgrad_bench_dist: time per training step of the seed's network with N processes (run it under
// mpirun -np N; alone it is N = 1), split into compute (forward + backward of this process's
// columns, the optimiser's step) and the allreduce (MPI_Allreduce of all gradients + the cost in
// one buffer, waiting for the slowest process included), and the bytes reduced per step.
//
//   seed:   [12288,20,7,5,1], m = 209 random examples, full batch (one step per epoch)
//   large:  the same network, m = 16384 random examples, mini-batches of 1024 (16 steps per epoch),
//           the examples stored one after another (ExampleMajorSource)
//   large-mem: the same from a MemorySource ([features, m]: a strided gather per batch)
//
// Random data (a fast generator: the numbers do not matter for the time), f64. Rank 0 prints one
// line per case: "case N threads ms/step compute_ms allreduce_ms bytes/step".
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli.hpp"
#include "xgrad/dist/dist.hpp"
#include "xgrad/nn/mlp.hpp"
#include "xgrad/nn/train.hpp"

using namespace xgrad;

namespace {

Matrix<double> random_matrix(std::size_t rows, std::size_t cols, std::uint64_t seed, bool labels) {
    Matrix<double> a = Matrix<double>::from_shape({rows, cols});
    std::uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (double& v : a) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        const double u = double(s >> 11) * (1.0 / 9007199254740992.0);
        v = labels ? (u < 0.5 ? 0.0 : 1.0) : u;
    }
    return a;
}

// Examples stored one after another ([m, features], row-major): fetching a batch reads each
// example's features contiguously. MemorySource keeps X as [features, m], so its gather of a
// mini-batch reads one value per cache line of a 16384-wide matrix: with 12288 features that
// gather is bound by memory bandwidth, which the processes of one machine share (the "large-mem"
// row).
class ExampleMajorSource final : public DataSource<double> {
public:
    ExampleMajorSource(std::size_t features, std::size_t m)
        : n_x_(features), m_(m), X_(random_matrix(m, features, 1, false)), Y_(random_matrix(1, m, 2, true)) {}
    std::size_t examples() const override { return m_; }
    std::size_t features() const override { return n_x_; }
    std::size_t label_rows() const override { return 1; }
    void fetch(const std::size_t* idx, std::size_t n, Matrix<double>& X, Matrix<double>& Y) override {
        if (X.shape()[0] != n_x_ || X.shape()[1] != n) X.resize({n_x_, n});
        if (Y.shape()[0] != 1 || Y.shape()[1] != n) Y.resize({std::size_t(1), n});
        // in blocks of 64 features, so that the writes into [features, n] stay in cache
        for (std::size_t i0 = 0; i0 < n_x_; i0 += 64) {
            const std::size_t i1 = std::min(n_x_, i0 + 64);
            for (std::size_t j = 0; j < n; ++j) {
                const double* src = X_.data() + idx[j] * n_x_;
                for (std::size_t i = i0; i < i1; ++i) X.data()[i * n + j] = src[i];
            }
        }
        for (std::size_t j = 0; j < n; ++j) Y.data()[j] = Y_.data()[idx[j]];
    }

private:
    std::size_t n_x_, m_;
    Matrix<double> X_, Y_;
};

struct Result {
    double step_ms = 0, allreduce_ms = 0;
    double bytes = 0;
};

Result time_case(dist::Context& mpi, std::size_t m, std::size_t batch, int epochs, int threads,
                 bool example_major = false) {
    MlpSpec spec({12288, 20, 7, 5, 1}, {"relu", "relu", "relu", "sigmoid"});
    std::shared_ptr<DataSource<double>> source;
    if (example_major)
        source = std::make_shared<ExampleMajorSource>(12288, m);
    else
        source = std::make_shared<MemorySource<double>>(random_matrix(12288, m, 1, false),
                                                        random_matrix(1, m, 2, true));
    TrainConfig cfg;
    cfg.mini_batch_size = batch;
    cfg.threads = threads;
    dist::MpiCollective<double> group(mpi);
    Trainer<double> trainer(spec, init_params<double>(spec, Init::he, 3), source, cfg,
                            mpi.size() > 1 ? &group : nullptr);
    const std::size_t per_step = batch == 0 ? m : batch;
    const std::size_t steps_per_epoch = (m + per_step - 1) / per_step;
    trainer.epoch();  // warm-up: buffers, the first products
    double barrier = 0;
    group.sum(&barrier, 1);
    group.reset_counters();
    const auto t0 = std::chrono::steady_clock::now();
    for (int e = 0; e < epochs; ++e) trainer.epoch();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double steps = double(epochs) * double(steps_per_epoch);
    Result r;
    r.step_ms = 1e3 * secs / steps;
    r.allreduce_ms = 1e3 * group.seconds() / steps;
    r.bytes = group.calls() ? double(group.bytes()) / double(group.calls()) : 0;
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"xgrad_bench_dist: data-parallel step time, compute and allreduce (run under mpirun -np N)"};
    int threads = 0, seed_epochs = 40, large_epochs = 2;
    std::string which = "both";
    app.add_option("--threads", threads, "threads per process (default: cores / processes on this machine)");
    app.add_option("--case", which, "seed, large or both")->check(CLI::IsMember({"seed", "large", "both"}));
    app.add_option("--seed-epochs", seed_epochs, "timed steps of the seed case")->check(CLI::PositiveNumber);
    app.add_option("--large-epochs", large_epochs, "timed epochs (16 steps each) of the large case")
        ->check(CLI::PositiveNumber);
    return cli::run("xgrad_bench_dist", app, argc, argv, [&] {
        dist::Context mpi(&argc, &argv);
        if (threads <= 0) threads = mpi.default_threads();
        if (mpi.rank() == 0)
            std::printf("%-9s %3s %8s %10s %11s %13s %12s\n", "case", "N", "threads", "ms/step", "compute_ms",
                        "allreduce_ms", "bytes/step");
        auto row = [&](const char* name, const Result& r) {
            if (mpi.rank() == 0)
                std::printf("%-9s %3d %8d %10.3f %11.3f %13.3f %12.0f\n", name, mpi.size(), threads, r.step_ms,
                            r.step_ms - r.allreduce_ms, r.allreduce_ms, r.bytes);
            std::fflush(stdout);
        };
        if (which != "large") row("seed", time_case(mpi, 209, 0, seed_epochs, threads));
        if (which != "seed") {
            row("large", time_case(mpi, 16384, 1024, large_epochs, threads, true));
            row("large-mem", time_case(mpi, 16384, 1024, large_epochs, threads));
        }
        mpi.finish(-1);
        return 0;
    });
}
