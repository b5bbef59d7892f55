// xgrad_bench_torch: the libtorch peer of xgrad_bench (built only when CMake finds Torch).
//
// The same workloads, data and initial parameters as xgrad_bench, written the way a libtorch user
// would: parameters with requires_grad, autograd's backward, an in-place update under NoGradGuard.
//   W1 = [12288,20,7,5,1] relu,relu,relu,sigmoid, the real training set (or synthetic), He init seed 3
//   W2 = [2,4,1] relu,sigmoid, 400 synthetic examples
// libtorch's intra-op threading is tried at 1 and 2 threads (and its default); the best median is
// reported, since its default setting is not its fastest on these shapes.
// Output: "key value" lines that xgrad_bench reads.
#include <sys/resource.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <thread>

#include "cli.hpp"
#include "xgrad/io/io.hpp"
#include "xgrad/xgrad.hpp"

namespace {

template <class T>
torch::Tensor to_torch(const xgrad::Matrix<T>& m, torch::Dtype dtype) {
    const auto r = std::int64_t(m.shape()[0]), c = std::int64_t(m.shape()[1]);
    // from_blob does not own the memory; clone() gives torch its own contiguous copy.
    return torch::from_blob(const_cast<T*>(m.data()), {r, c},
                            torch::TensorOptions().dtype(torch::CppTypeToScalarType<T>::value))
        .to(dtype)
        .clone();
}

struct Result {
    double median_ms = 0;
    bool finite = true;
};

// Full-batch gradient descent on an MLP given as layer sizes and activations (true = relu).
Result time_training(const xgrad::MlpSpec& spec, const torch::Tensor& X, const torch::Tensor& Y,
                     int warmup, int iters, double lr) {
    const auto dtype = X.scalar_type();
    const xgrad::Params<double> init = xgrad::he_init<double>(spec, 3);
    std::vector<torch::Tensor> W, b;
    for (std::size_t l = 0; l < init.W.size(); ++l) {
        W.push_back(to_torch(init.W[l], dtype).requires_grad_(true));
        b.push_back(to_torch(init.b[l], dtype).requires_grad_(true));
    }
    Result res;
    std::vector<double> ms;
    for (int i = 0; i < warmup + iters; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        torch::Tensor A = X;
        for (std::size_t l = 0; l < W.size(); ++l) {
            const torch::Tensor Z = torch::addmm(b[l], W[l], A);
            A = spec.activations[l] == xgrad::Activation::relu ? torch::relu(Z) : torch::sigmoid(Z);
        }
        const torch::Tensor cost = torch::binary_cross_entropy(A, Y);
        cost.backward();
        {
            torch::NoGradGuard no_grad;
            for (std::size_t l = 0; l < W.size(); ++l) {
                W[l].sub_(W[l].grad(), lr);
                b[l].sub_(b[l].grad(), lr);
                W[l].mutable_grad().zero_();
                b[l].mutable_grad().zero_();
            }
        }
        const double c = cost.item<double>();
        const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (i >= warmup) {
            ms.push_back(t);
            res.finite &= std::isfinite(c);
        }
    }
    std::sort(ms.begin(), ms.end());
    res.median_ms = ms[ms.size() / 2];
    return res;
}

// Best median over libtorch thread settings; `finite` is that of every setting's run.
Result best_over_threads(const xgrad::MlpSpec& spec, const torch::Tensor& X, const torch::Tensor& Y,
                         int warmup, int iters, double lr) {
    const int hw = int(std::max(1u, std::thread::hardware_concurrency()));
    Result best;
    best.median_ms = INFINITY;
    for (int threads : {1, hw}) {
        torch::set_num_threads(threads);
        const Result r = time_training(spec, X, Y, warmup, iters, lr);
        best.finite &= r.finite;
        best.median_ms = std::min(best.median_ms, r.median_ms);
        if (threads == hw) break;
    }
    return best;
}

double peak_mib() {
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"xgrad_bench_torch: the seed's workloads in libtorch, for xgrad_bench"};
    int iters = 100;
    std::string data_opt;
    app.add_option("--iterations", iters, "timed training steps per W1 measurement")
        ->check(CLI::Range(1, 1000000));
    app.add_option("--data", data_opt, "cat/non-cat dataset directory (else synthetic data)");
    return xgrad::cli::run("xgrad_bench_torch", app, argc, argv, [&]() -> int {
        using namespace xgrad;
        const MlpSpec w1({12288, 20, 7, 5, 1}, {"relu", "relu", "relu", "sigmoid"});
        const MlpSpec w2({2, 4, 1}, {"relu", "sigmoid"});
        Matrix<double> X, Y;
        std::string data_dir;
        try {
            data_dir = io::find_data_dir(data_opt, XGRAD_DEFAULT_DATA_DIR);
        } catch (const Error&) {
            if (!data_opt.empty()) throw;
        }
        if (!data_dir.empty()) {
            auto d = io::load_catvnoncat<double>(data_dir);
            X = std::move(d.train.X);
            Y = std::move(d.train.Y);
        } else {
            NumpyRandom rng(1);
            X = Matrix<double>::from_shape({12288, 209});
            for (auto& v : X) v = rng.uniform();
            Y = Matrix<double>::from_shape({1, 209});
            for (auto& v : Y) v = rng.uniform() < 0.5 ? 0.0 : 1.0;
        }
        {
            const torch::Tensor X64 = to_torch(X, torch::kFloat64), Y64 = to_torch(Y, torch::kFloat64);
            const Result r = best_over_threads(w1, X64, Y64, 5, iters, 0.0075);
            std::cout << "w1_f64_best_ms " << r.median_ms << "\nw1_f64_finite " << r.finite << "\n";
            std::cout << "w1_peak_mib " << peak_mib() << "\n";
        }
        {
            const torch::Tensor X32 = to_torch(X, torch::kFloat32), Y32 = to_torch(Y, torch::kFloat32);
            const Result r = best_over_threads(w1, X32, Y32, 5, iters, 0.0075);
            std::cout << "w1_f32_best_ms " << r.median_ms << "\nw1_f32_finite " << r.finite << "\n";
        }
        {
            NumpyRandom rng(2);
            Matrix<double> X2 = Matrix<double>::from_shape({2, 400}), Y2 = Matrix<double>::from_shape({1, 400});
            for (auto& v : X2) v = rng.uniform();
            for (auto& v : Y2) v = rng.uniform() < 0.5 ? 0.0 : 1.0;
            const Result r = best_over_threads(w2, to_torch(X2, torch::kFloat64),
                                               to_torch(Y2, torch::kFloat64), 100, 2000, 0.0075);
            std::cout << "w2_best_us " << r.median_ms * 1000.0 << "\n";
        }
        return 0;
    });
}
