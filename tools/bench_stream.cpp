// xgrad_bench_stream: one mini-batch epoch of the seed's network trained from a file streamed by
// H5StreamSource beside the same epoch from the data in memory (load_image_set), on the same
// generated file (tools/make_dataset), for each batch size; prints both, the ratio, and the peak
// memory of the program and of its reader process. Not a test (README "Streaming from HDF5").
//
//   make_dataset --out DIR --examples 8192 --random
//   xgrad_bench_stream --file DIR/train_catvnoncat.h5 [--batch 1024,256] [--epochs 2] [--dtype f64]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <dirent.h>
#include <fstream>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli.hpp"
#include "xgrad/io/io.hpp"
#include "xgrad/io/stream.hpp"
#include "xgrad/nn/train.hpp"

namespace {
using namespace xgrad;
using Clock = std::chrono::steady_clock;

double max_rss_mib(int who) {
    rusage u{};
    ::getrusage(who, &u);
    return double(u.ru_maxrss) / 1024.0;
}

// The peak resident set (VmHWM) of this process's live xgrad-read children, in MiB. (getrusage's
// RUSAGE_CHILDREN would not do: a child started by posix_spawn (vfork) inherits its parent's peak.)
double reader_hwm_mib() {
    double most = 0;
    DIR* d = ::opendir("/proc");
    if (!d) return 0;
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        std::ifstream st(std::string("/proc/") + e->d_name + "/status");
        std::string line, name;
        long ppid = -1, hwm_kib = 0;
        while (std::getline(st, line)) {
            if (line.rfind("Name:", 0) == 0) name = line.substr(line.find_first_not_of(" \t", 5));
            if (line.rfind("PPid:", 0) == 0) ppid = std::stol(line.substr(5));
            if (line.rfind("VmHWM:", 0) == 0) hwm_kib = std::stol(line.substr(6));
        }
        if (ppid == long(::getpid()) && name == "xgrad-read") most = std::max(most, double(hwm_kib) / 1024.0);
    }
    ::closedir(d);
    return most;
}

// Seconds per epoch, over `epochs` epochs after one that warms the tape's buffers up.
template <class T>
double time_epochs(Trainer<T>& t, int epochs) {
    t.epoch();
    const auto t0 = Clock::now();
    for (int e = 0; e < epochs; ++e) t.epoch();
    return std::chrono::duration<double>(Clock::now() - t0).count() / epochs;
}

template <class T>
int run(const std::string& file, const std::vector<std::size_t>& batches, int epochs) {
    const MlpSpec spec({12288, 20, 7, 5, 1}, {"relu", "relu", "relu", "sigmoid"});
    const Params<T> init = init_params<T>(spec, Init::he, 3, 0.01);
    std::vector<double> streamed;
    double rss_reader = 0;
    std::size_t m = 0;
    for (std::size_t b : batches) {  // streamed first: its peak memory is not the in-memory one's
        TrainConfig cfg;
        cfg.mini_batch_size = b;
        auto src = std::make_shared<io::H5StreamSource<T>>(file);  // a mini-batch is computed whole
        m = src->examples();
        Trainer<T> t(spec, init, src, cfg);
        streamed.push_back(time_epochs(t, epochs));
        rss_reader = std::max(rss_reader, reader_hwm_mib());
    }
    const double rss_streamed = max_rss_mib(RUSAGE_SELF);
    io::ImageSet<T> mem = io::load_image_set<T>(file, "train_set_x", "train_set_y");
    std::vector<std::uint8_t>().swap(mem.pixels);
    std::printf("%s: m = %zu, network 12288-20-7-5-1, %s, %d timed epoch(s) after a warm-up\n", file.c_str(), m,
                sizeof(T) == 8 ? "f64" : "f32", epochs);
    std::printf("%8s %14s %14s %14s %14s %8s\n", "batch", "memory s/ep", "memory ex/s", "stream s/ep", "stream ex/s",
                "ratio");
    for (std::size_t k = 0; k < batches.size(); ++k) {
        TrainConfig cfg;
        cfg.mini_batch_size = batches[k];
        Trainer<T> t(spec, init, mem.X, mem.Y, cfg);
        const double in_memory = time_epochs(t, epochs);
        std::printf("%8zu %14.3f %14.0f %14.3f %14.0f %8.3f\n", batches[k], in_memory, double(m) / in_memory,
                    streamed[k], double(m) / streamed[k], in_memory / streamed[k]);
    }
    std::printf("peak RSS: streamed runs %.0f MiB (this process), reader process %.0f MiB; with the data in "
                "memory %.0f MiB\n",
                rss_streamed, rss_reader, max_rss_mib(RUSAGE_SELF));
    return 0;
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Streamed vs in-memory mini-batch epochs on one generated file"};
    std::string file, dtype = "f64";
    std::vector<std::size_t> batches{1024, 256};
    int epochs = 2;
    app.add_option("--file", file, "a training file (tools/make_dataset)")->required();
    app.add_option("--batch", batches, "mini-batch sizes")->delimiter(',')->capture_default_str();
    app.add_option("--epochs", epochs, "timed epochs per run")->capture_default_str()->check(CLI::Range(1, 1000));
    app.add_option("--dtype", dtype, "f64 or f32")->capture_default_str()->check(CLI::IsMember({"f64", "f32"}));
    return cli::run("xgrad_bench_stream", app, argc, argv, [&] {
        return dtype == "f32" ? run<float>(file, batches, epochs) : run<double>(file, batches, epochs);
    });
}
