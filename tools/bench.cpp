// xgrad_bench: how fast xgrad trains the seed's network, measured beside its peers in the same run.
//
// Not a test: it prints milliseconds (median, min, max over timed iterations after a warm-up) and
// ratios. Peers, when present: the seed NumPy program (Debian python3-numpy/h5py) and a libtorch
// version of the same workloads (xgrad_bench_torch, built only when CMake finds Torch).
//
//   W1 = [12288,20,7,5,1] relu,relu,relu,sigmoid, 209 examples (the real training set if found),
//        full batch, one training step = forward + backward + update
//   W2 = [2,4,1] relu,sigmoid, 400 synthetic examples

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "bench_util.hpp"
#include "cli.hpp"
#include "xgrad/io/io.hpp"
#include "xgrad/xgrad.hpp"

using namespace xgrad;
using bench::fmt;
using bench::parse_kv;
using bench::Run;
using bench::run_command;
namespace fs = std::filesystem;

namespace {

struct Stats {
    double median = 0, min = 0, max = 0;  // milliseconds
    bool finite = true;                   // every cost of the timed run was finite
};

// Trains `iters` steps after `warmup` steps and returns per-step times.
template <class T>
Stats time_training(const MlpSpec& spec, const Matrix<T>& X, const Matrix<T>& Y, int threads,
                    int warmup, int iters) {
    Mlp<T> net(spec, he_init<T>(spec, 3), X, Y, Regularization{}, LossForm::fused, threads);
    Stats s;
    for (int i = 0; i < warmup; ++i) s.finite &= std::isfinite(double(net.train_step(T(0.0075))));
    std::vector<double> ms;
    ms.reserve(std::size_t(iters));
    for (int i = 0; i < iters; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        const T c = net.train_step(T(0.0075));
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                         .count());
        s.finite &= std::isfinite(double(c));
    }
    std::sort(ms.begin(), ms.end());
    s.median = ms[ms.size() / 2];
    s.min = ms.front();
    s.max = ms.back();
    return s;
}

template <class T>
void synthetic(std::size_t n, std::size_t m, Matrix<T>& X, Matrix<T>& Y, std::uint32_t seed = 1) {
    NumpyRandom rng(seed);
    X = Matrix<T>::from_shape({n, m});
    for (auto& v : X) v = T(rng.uniform());
    Y = Matrix<T>::from_shape({1, m});
    for (auto& v : Y) v = rng.uniform() < 0.5 ? T(0) : T(1);
}

struct Row {
    std::string what, value, note;
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"xgrad_bench: training speed of the seed's network, beside NumPy and libtorch"};
    int iters = 100, threads = int(std::max(1u, std::thread::hardware_concurrency()));
    std::string data_opt, python = "/usr/bin/python3";
    std::string seed_script = std::string(XGRAD_SOURCE_DIR) + "/../shared/seed/seed_runnable.py";
    const fs::path self_dir = fs::canonical("/proc/self/exe").parent_path();
    std::string torch_bench = (self_dir / "xgrad_bench_torch").string();
    std::string classifier = (self_dir.parent_path() / "models" / "cat_classifier").string();
    bool no_peers = false, quick = false;
    double peer_timeout = 600;  // seconds: a hung peer is reported in its row, never hangs the bench
    app.add_option("--iterations", iters, "timed training steps per W1 measurement")
        ->check(CLI::Range(1, 1000000));
    app.add_option("--threads", threads, "threads for the main measurements")
        ->check(CLI::Range(1, 1024));
    app.add_option("--data", data_opt, "cat/non-cat dataset directory (else synthetic data)");
    app.add_option("--python", python, "python with numpy and h5py, for the seed program");
    app.add_option("--seed-script", seed_script, "the seed NumPy program");
    app.add_option("--torch-bench", torch_bench, "the libtorch peer program");
    app.add_option("--classifier", classifier, "cat_classifier, for its peak memory");
    app.add_flag("--no-peers", no_peers, "time xgrad only");
    app.add_option("--peer-timeout", peer_timeout, "seconds a peer program may take before it is killed and reported")
        ->check(CLI::PositiveNumber);
    app.add_flag("--quick", quick, "fewer iterations and no scaling sweeps");
    return cli::run("xgrad_bench", app, argc, argv, [&]() -> int {
        if (quick) iters = std::max(10, iters / 5);

        std::vector<Row> rows;
        const MlpSpec w1({12288, 20, 7, 5, 1}, {"relu", "relu", "relu", "sigmoid"});
        const MlpSpec w2({2, 4, 1}, {"relu", "sigmoid"});
        Matrix<double> X, Y;
        Matrix<float> Xf, Yf;
        std::string data_dir;
        try {
            data_dir = io::find_data_dir(data_opt, XGRAD_DEFAULT_DATA_DIR);
        } catch (const Error&) {
            if (!data_opt.empty()) throw;
        }
        // The other programs run first, while this process is still small: a forked child's
        // peak resident memory (wait4) includes what it inherited before exec.
        Run classifier_run, seed_run, torch_run;
        const int seed_iters = quick ? 30 : 100;
        const bool have_classifier = fs::exists(classifier) && !data_dir.empty();
        const bool have_seed = !no_peers && fs::exists(seed_script) && fs::exists(python) && !data_dir.empty();
        const bool have_torch = !no_peers && fs::exists(torch_bench);
        if (have_classifier) {
            // the default f64 run, shortened: the peak is reached at once
            const fs::path out = fs::temp_directory_path() / ("xgrad_bench_" + std::to_string(getpid()));
            classifier_run = run_command({classifier, "train", "--data", data_dir, "--iterations", "200",
                                          "--quiet", "--out", out.string()},
                                         peer_timeout);
            fs::remove_all(out);
        }
        if (have_seed) seed_run = run_command({python, seed_script, std::to_string(seed_iters), data_dir}, peer_timeout);
        if (have_torch) {
            std::vector<std::string> args{torch_bench, "--iterations", std::to_string(iters)};
            if (!data_dir.empty()) args.insert(args.end(), {"--data", data_dir});
            torch_run = run_command(args, peer_timeout);
        }

        if (!data_dir.empty()) {
            auto d = io::load_catvnoncat<double>(data_dir);
            X = std::move(d.train.X);
            Y = std::move(d.train.Y);
        } else {
            synthetic(12288, 209, X, Y);
        }
        Xf = xt::cast<float>(X);
        Yf = xt::cast<float>(Y);
        const std::string kernels = blas_kernels();
        std::cout << "xgrad_bench: BLAS " << blas_configured() << " (" << blas_loaded() << ")"
                  << (kernels.empty() ? "" : ", kernels " + kernels) << ", exp/log loops " << vector_kernels() << ", " << threads << " threads, "
                  << (data_dir.empty() ? "synthetic data" : "data " + data_dir) << "\n";

        const Stats f64 = time_training(w1, X, Y, threads, 5, iters);
        const Stats f32 = time_training(w1, Xf, Yf, threads, 5, iters);
        auto ms_row = [](const std::string& what, const Stats& s, const std::string& note = {}) {
            return Row{what, fmt(s.median) + " ms (min " + fmt(s.min) + ", max " + fmt(s.max) + ")",
                       note};
        };
        rows.push_back(ms_row("W1 f64, ms/iteration", f64));
        rows.push_back(ms_row("W1 f32, ms/iteration", f32, f32.finite ? "finite" : "NOT FINITE"));

        const Stats f64_1 = time_training(w1, X, Y, 1, 3, iters / 2);
        const Stats f32_1 = time_training(w1, Xf, Yf, 1, 3, iters / 2);
        rows.push_back({"W1 f64, 1 thread / " + std::to_string(threads) + " threads",
                        fmt(f64_1.median / f64.median, 2) + "x", fmt(f64_1.median) + " ms at 1 thread"});
        rows.push_back({"W1 f32, 1 thread / " + std::to_string(threads) + " threads",
                        fmt(f32_1.median / f32.median, 2) + "x", fmt(f32_1.median) + " ms at 1 thread"});

        Matrix<double> X2, Y2;
        synthetic(2, 400, X2, Y2, 2);
        const Stats tiny = time_training(w2, X2, Y2, threads, 100, 2000);
        rows.push_back({"W2 f64, µs/iteration", fmt(tiny.median * 1000, 2) + " µs",
                        "min " + fmt(tiny.min * 1000, 2)});

        if (!quick) {
            for (std::size_t m : {209, 1000, 4000}) {
                Matrix<double> Xm, Ym;
                synthetic(12288, m, Xm, Ym);
                const Stats s = time_training(w1, Xm, Ym, threads, 2, std::max(5, iters / 5));
                rows.push_back({"W1 f64, m = " + std::to_string(m) + " (synthetic)",
                                fmt(s.median) + " ms", fmt(s.median / double(m) * 1000, 2) + " µs/example"});
            }
            for (std::size_t n : {3072, 12288, 49152}) {
                Matrix<double> Xn, Yn;
                synthetic(n, 209, Xn, Yn);
                const MlpSpec spec({n, 20, 7, 5, 1}, {"relu", "relu", "relu", "sigmoid"});
                const Stats s = time_training(spec, Xn, Yn, threads, 2, std::max(5, iters / 5));
                rows.push_back({"first layer " + std::to_string(n) + " wide, f64", fmt(s.median) + " ms",
                                fmt(2.0 * 2 * 20 * double(n) * 209 / (s.median * 1e6), 1) +
                                    " GFLOP/s in the two big products"});
            }
        }

        if (!no_peers) {
            // The seed NumPy program, as shipped: its own "training seconds" line.
            const auto pos = seed_run.out.find("training seconds: ");
            if (!have_seed) {
                rows.push_back({"seed NumPy program", "not run", "needs python3-numpy, h5py and the dataset"});
            } else if (seed_run.status == 0 && pos != std::string::npos) {
                const double ms = std::stod(seed_run.out.substr(pos + 18)) * 1000.0 / seed_iters;
                rows.push_back({"seed NumPy program, ms/iteration", fmt(ms) + " ms",
                                "peak memory " + fmt(seed_run.max_rss_kib / 1024.0, 1) + " MiB"});
                rows.push_back({"W1 f64: NumPy / xgrad", fmt(ms / f64.median, 2) + "x", ""});
            } else {
                rows.push_back({"seed NumPy program", "no result", failure(seed_run, peer_timeout)});
            }
            if (!have_torch) {
                rows.push_back({"libtorch", "not run", "built only when CMake finds Torch (libtorch-dev)"});
            } else if (torch_run.status != 0) {
                rows.push_back({"libtorch", "no result", failure(torch_run, peer_timeout)});
            } else {
                const auto kv = parse_kv(torch_run.out);
                auto get = [&](const std::string& k) {
                    auto it = kv.find(k);
                    return it == kv.end() ? NAN : it->second;
                };
                const double t64 = get("w1_f64_best_ms"), t32 = get("w1_f32_best_ms"),
                             tw2 = get("w2_best_us");
                rows.push_back({"libtorch W1 f64 (best threads)", fmt(t64) + " ms",
                                "xgrad is " + fmt(t64 / f64.median, 2) + "x faster"});
                rows.push_back({"libtorch W1 f32 (best threads)", fmt(t32) + " ms",
                                "xgrad is " + fmt(t32 / f32.median, 2) + "x faster; torch f32 " +
                                    (get("w1_f32_finite") == 1 ? "finite" : "reached NaN/Inf")});
                rows.push_back({"libtorch W2 (best threads)", fmt(tw2, 2) + " µs",
                                "xgrad is " + fmt(tw2 / (tiny.median * 1000), 1) + "x faster"});
                rows.push_back({"libtorch peak memory (W1 f64 run)", fmt(get("w1_peak_mib"), 1) + " MiB", ""});
            }
        }
        if (have_classifier)
            rows.push_back({"cat_classifier train f64, peak memory",
                            classifier_run.status == 0 ? fmt(classifier_run.max_rss_kib / 1024.0, 1) + " MiB"
                                                       : failure(classifier_run, peer_timeout),
                            "200 iterations"});

        std::cout << "\n| workload | result | note |\n|---|---|---|\n";
        for (const auto& r : rows) std::cout << "| " << r.what << " | " << r.value << " | " << r.note << " |\n";
        return 0;
    });
}
