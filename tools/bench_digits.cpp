// xgrad_bench_digits: the handwritten-digits model (models/digits_classifier) beside its peers,
// measured in the same run.
//
// Not a test: it prints a table of times, accuracies and ratios. Rows:
//   step      one optimiser step of the model [64,64,10] (Linear, relu, Linear; softmax_ce on
//             class indices) in f64 on batches of 64 of the training set (the 22 full batches of
//             one shuffle, taken in turn), Adam at 1e-3: the batch written into the data constants
//             (set_value), forward, zero_grad, backward, step. Timed one by one; the median over
//             --steps steps after a warm-up, half of them before the PyTorch peer runs and half
//             after. PyTorch: the same model, dtype, batches and optimiser
//             (tools/bench_digits_peers.py torch), at 1 and at 2 threads; the better median counts.
//   training  `digits_classifier train` with its default settings: its "training seconds" (the
//             training loop, without loading the data or drawing the pictures), the median of
//             --runs runs. scikit-learn: MLPClassifier(hidden_layer_sizes=(64,), random_state=1)
//             with its defaults, fit() timed (tools/bench_digits_peers.py sklearn) with numpy's
//             BLAS at its default threads and at one; the better median counts.
//   accuracy  the test and train accuracies of the same runs.
// Every peer is a child process with a time limit (--timeout); a peer that is missing, fails or
// runs out of time is reported in its row, and the rest of the table is still printed.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "bench_util.hpp"
#include "cli.hpp"
#include "xgrad/io/io.hpp"
#include "xgrad/xgrad.hpp"

using namespace xgrad;
using bench::fmt;
namespace fs = std::filesystem;

namespace {

struct Stats {
    double median = 0, min = 0;  // microseconds
};

Stats stats(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v.front()};
}

// The timed model: [64,64,10] on the batches, Adam; each call of run() times `n` more steps.
struct StepModel {
    Tape<double> t;
    Var<double> x, y, loss;
    std::unique_ptr<Optimizer<double>> opt;
    std::vector<std::pair<Matrix<double>, Matrix<double>>> batches;
    std::size_t next = 0;

    StepModel(const Matrix<double>& X, const Matrix<double>& Y) {
        const std::size_t m = X.shape()[1], n_x = X.shape()[0], B = 64;
        NumpyRandom rng(1);
        const std::vector<std::size_t> order = rng.permutation(m);
        for (std::size_t b = 0; b + B <= m; b += B) {
            Matrix<double> xb = Matrix<double>::from_shape({n_x, B}), yb = Matrix<double>::from_shape({1, B});
            for (std::size_t j = 0; j < B; ++j) {
                for (std::size_t i = 0; i < n_x; ++i) xb(i, j) = X(i, order[b + j]);
                yb(0, j) = Y(0, order[b + j]);
            }
            batches.emplace_back(std::move(xb), std::move(yb));
        }
        x = t.constant(batches[0].first, "x");
        y = t.constant(batches[0].second, "y");
        Sequential<double> net;
        net.add(Linear<double>(t, n_x, 64, "fc1", rng)).add(relu<double>).add(Linear<double>(t, 64, 10, "fc2", rng));
        loss = softmax_ce(net(x), y);
        opt = std::make_unique<Optimizer<double>>(t, OptimizerConfig{OptimizerKind::adam, 1e-3});
    }

    void run(int n, std::vector<double>* us) {
        for (int i = 0; i < n; ++i) {
            const auto& [xb, yb] = batches[next++ % batches.size()];
            const auto t0 = std::chrono::steady_clock::now();
            t.set_value(x, xb);
            t.set_value(y, yb);
            t.forward();
            opt->zero_grad();
            t.backward(loss);
            opt->step();
            const auto t1 = std::chrono::steady_clock::now();
            if (us) us->push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        }
    }
};

// Synthetic digits when the dataset is not there (the step's time does not depend on the values).
void synthetic(Matrix<double>& X, Matrix<double>& Y) {
    NumpyRandom rng(2);
    X = Matrix<double>::from_shape({64, 1437});
    for (auto& v : X) v = std::floor(rng.uniform() * 17) / 16;
    Y = Matrix<double>::from_shape({1, 1437});
    for (auto& v : Y) v = std::floor(rng.uniform() * 10);
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown processor";
}

std::string today() {
    char buf[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", std::localtime(&now));
    return buf;
}

// Why a peer has no number: not run, failed (exit status and its last line on stderr), timed out.
using bench::failure;

struct Row {
    std::string what, xgrad, peer, ratio;
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"xgrad_bench_digits: the digits model's step and training time beside PyTorch and scikit-learn"};
    int steps = 3000, runs = 3;
    double timeout = 600;
    std::string data_opt, python = "/usr/bin/python3";
    std::string peers_script = std::string(XGRAD_SOURCE_DIR) + "/tools/bench_digits_peers.py";
    const fs::path self_dir = fs::canonical("/proc/self/exe").parent_path();
    std::string classifier = (self_dir.parent_path() / "models" / "digits_classifier").string();
    bool no_peers = false, quick = false;
    app.add_option("--steps", steps, "timed optimiser steps (xgrad and PyTorch each)")->check(CLI::Range(10, 10000000));
    app.add_option("--runs", runs, "digits_classifier trainings and scikit-learn fits timed (medians)")
        ->check(CLI::Range(1, 1000));
    app.add_option("--data", data_opt, "digits dataset directory (default: $XGRAD_DIGITS_DATA, then the build's)");
    app.add_option("--python", python, "python with numpy, h5py, torch, scikit-learn (the peers)");
    app.add_option("--peers-script", peers_script, "tools/bench_digits_peers.py");
    app.add_option("--classifier", classifier, "the digits_classifier program");
    app.add_option("--timeout", timeout, "seconds each child process may take")->check(CLI::Range(1.0, 86400.0));
    app.add_flag("--no-peers", no_peers, "time xgrad only");
    app.add_flag("--quick", quick, "300 steps, one run each: to see that everything runs");
    return cli::run("xgrad_bench_digits", app, argc, argv, [&]() -> int {
        if (quick) {
            steps = std::min(steps, 300);
            runs = 1;
        }

        std::string data_dir;
        try {
            data_dir = io::find_digits_dir(data_opt, XGRAD_DEFAULT_DIGITS_DIR);
        } catch (const Error&) {
            if (!data_opt.empty()) throw;
        }
        Matrix<double> X, Y;
        if (!data_dir.empty()) {
            auto d = io::load_digits<double>(data_dir);
            X = std::move(d.train.X);
            Y = std::move(d.train.Y);
        } else {
            synthetic(X, Y);
        }
        std::cout << "xgrad_bench_digits: " << today() << ", " << cpu_model() << ", "
                  << std::thread::hardware_concurrency() << " cores, BLAS " << blas_configured() << " ("
                  << blas_loaded() << "), "
                  << (data_dir.empty() ? "synthetic data (dataset not found)" : "data " + data_dir) << "\n";
        std::cout.flush();
        const std::string no_data = "not run: the digits dataset was not found";
        const bool have_python = fs::exists(python) && fs::exists(peers_script);
        const std::string no_python = "not run: " + (fs::exists(python) ? peers_script : python) + " not found";

        // ---- one step: xgrad, PyTorch in the middle, xgrad again ----
        StepModel model(X, Y);
        const int warmup = std::max(50, steps / 10);
        std::vector<double> us;
        model.run(warmup, nullptr);
        model.run(steps / 2, &us);
        bench::Run torch;
        bool torch_ran = false;
        if (!no_peers && have_python && !data_dir.empty()) {
            torch = bench::run_command({python, peers_script, "torch", data_dir, std::to_string(steps),
                                        std::to_string(warmup)},
                                       timeout);
            torch_ran = true;
        }
        model.run(warmup / 2, nullptr);
        model.run(steps - steps / 2, &us);
        const Stats step = stats(us);

        std::vector<Row> rows;
        Row step_row{"step [64,64,10] f64, batch 64, Adam (µs, median)",
                     fmt(step.median, 1) + " (min " + fmt(step.min, 1) + ")", "", ""};
        if (no_peers) {
            step_row.peer = "not run (--no-peers)";
        } else if (data_dir.empty()) {
            step_row.peer = no_data;
        } else if (!have_python) {
            step_row.peer = no_python;
        } else if (torch_ran && torch.status == 0) {
            const auto kv = bench::parse_kv(torch.out);
            const auto text = bench::parse_lines(torch.out);
            auto get = [&](const std::string& k) {
                auto it = kv.find(k);
                return it == kv.end() ? NAN : it->second;
            };
            const double t1 = get("step_us_threads_1"), t2 = get("step_us_threads_2");
            const bool one = !(t2 < t1);
            const double best = one ? t1 : t2;
            const std::string version = text.count("torch_version") ? text.at("torch_version") : "?";
            step_row.peer = "PyTorch " + version + ": " + fmt(best, 1) + " (" + (one ? "1 thread" : "2 threads") +
                            "; " + (one ? "2 threads " + fmt(t2, 1) : "1 thread " + fmt(t1, 1)) + ")";
            step_row.ratio = fmt(best / step.median, 2) + "x";
        } else {
            step_row.peer = "PyTorch " + failure(torch, timeout);
        }
        rows.push_back(step_row);

        // ---- training: digits_classifier train (defaults) and scikit-learn's fit ----
        Row train_row{"training (s)", "", "", ""}, test_row{"test accuracy", "", "", ""},
            fit_row{"train accuracy", "", "", ""};
        double xgrad_seconds = NAN;
        if (data_dir.empty()) {
            train_row.xgrad = test_row.xgrad = fit_row.xgrad = no_data;
        } else if (!fs::exists(classifier)) {
            train_row.xgrad = test_row.xgrad = fit_row.xgrad = "not run: " + classifier + " not found";
        } else {
            const fs::path out = fs::temp_directory_path() / ("xgrad_bench_digits_" + std::to_string(getpid()));
            std::vector<double> seconds;
            std::string failed;
            std::map<std::string, std::string> last;
            for (int r = 0; r < runs && failed.empty(); ++r) {
                const bench::Run c = bench::run_command({classifier, "train", "--data", data_dir, "--out", out.string()},
                                                        timeout);
                auto lines = bench::parse_lines(c.out);
                if (c.status != 0 || !lines.count("training") || !lines.count("test")) {
                    failed = "digits_classifier " + failure(c, timeout);
                    break;
                }
                // "training seconds: S", "train accuracy: A", "test accuracy: A"
                seconds.push_back(std::stod(lines["training"].substr(lines["training"].find(':') + 2)));
                last = lines;
            }
            std::error_code ec;
            fs::remove_all(out, ec);
            if (!failed.empty()) {
                train_row.xgrad = test_row.xgrad = fit_row.xgrad = failed;
            } else {
                std::sort(seconds.begin(), seconds.end());
                xgrad_seconds = seconds[seconds.size() / 2];
                train_row.xgrad = fmt(xgrad_seconds, 3) + " (digits_classifier train, defaults; median of " +
                                  std::to_string(runs) + ", " + fmt(seconds.front(), 3) + "-" + fmt(seconds.back(), 3) + ")";
                test_row.xgrad = last["test"].substr(last["test"].find(':') + 2);
                fit_row.xgrad = last["train"].substr(last["train"].find(':') + 2);
            }
        }
        if (no_peers) {
            train_row.peer = test_row.peer = fit_row.peer = "not run (--no-peers)";
        } else if (data_dir.empty()) {
            train_row.peer = test_row.peer = fit_row.peer = no_data;
        } else if (!have_python) {
            train_row.peer = test_row.peer = fit_row.peer = no_python;
        } else {
            const bench::Run s = bench::run_command({python, peers_script, "sklearn", data_dir, std::to_string(runs)},
                                                    timeout);
            const auto kv = bench::parse_kv(s.out);
            const auto text = bench::parse_lines(s.out);
            if (s.status == 0 && kv.count("fit_seconds_threads_default") && kv.count("fit_seconds_threads_1")) {
                const double td = kv.at("fit_seconds_threads_default"), t1 = kv.at("fit_seconds_threads_1");
                const bool one = t1 <= td;
                const double best = one ? t1 : td;
                train_row.peer = "scikit-learn " + (text.count("sklearn_version") ? text.at("sklearn_version") : "?") +
                                 " MLPClassifier((64,)).fit: " + fmt(best, 3) + " (" +
                                 (one ? "1 BLAS thread; default " + fmt(td, 3) : "default BLAS threads; 1 thread " + fmt(t1, 3)) +
                                 "; " + fmt(kv.count("epochs") ? kv.at("epochs") : NAN, 0) + " epochs)";
                if (std::isfinite(xgrad_seconds)) train_row.ratio = fmt(best / xgrad_seconds, 1) + "x";
                test_row.peer = text.count("test_accuracy") ? text.at("test_accuracy") : "?";
                fit_row.peer = text.count("train_accuracy") ? text.at("train_accuracy") : "?";
            } else {
                train_row.peer = test_row.peer = fit_row.peer = "scikit-learn " + failure(s, timeout);
            }
        }
        rows.push_back(train_row);
        rows.push_back(test_row);
        rows.push_back(fit_row);

        std::cout << "\n| measurement | xgrad | peer | peer / xgrad |\n|---|---|---|---|\n";
        for (const auto& r : rows)
            std::cout << "| " << r.what << " | " << r.xgrad << " | " << r.peer << " | " << r.ratio << " |\n";
        return 0;
    });
}
