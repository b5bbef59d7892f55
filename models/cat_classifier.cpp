// cat_classifier: the seed's program on xgrad's graph API.
//
//   cat_classifier train [options]            trains, prints the seed's lines, writes --out/model.h5,
//                                             --out/cost_curve.png and --out/mislabeled.png
//   cat_classifier predict --model M IMAGE... prints "IMAGE: cat (p(cat)=0.93)" per image
//   cat_classifier predict --model M [--data DIR]   prints the saved model's test accuracy
//
// Every error ends the program with one line "cat_classifier: <message>" on stderr and exit code 2.
//
// Under mpirun (mpirun -np N cat_classifier train ...) the N processes train one model together:
// each computes its share of every batch's columns and the gradients are summed (xgrad::dist); the
// process of rank 0 alone prints, writes the model, the pictures and the checkpoints. Without
// mpirun MPI is never initialised.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <csignal>

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "cat_classifier.hpp"
#include "cli.hpp"
#include "picture.hpp"
#include "xgrad/io/checkpoint.hpp"
#include "xgrad/io/io.hpp"
#include "xgrad/io/stream.hpp"
#include "xgrad/io/text.hpp"
#include "xgrad/nn/mlp.hpp"
#include "xgrad/nn/train.hpp"
#if defined(XGRAD_HAVE_DIST)
#include "xgrad/dist/dist.hpp"
#endif


namespace {

using namespace xgrad;
using namespace xgrad::cat;


struct TrainOptions {
    std::string data;
    std::vector<std::size_t> layers{12288, 20, 7, 5, 1};
    std::vector<std::string> activations{"relu", "relu", "relu", "sigmoid"};
    double learning_rate = 0.0075;
    long long iterations = 2500;  // epochs: with mini-batches, each is one pass over the data
    std::uint32_t seed = 3;
    std::string init = "he";
    double init_scale = 0.01;
    std::string optimizer = "gd";
    double beta = 0.9, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
    double decay = 0;
    long long decay_interval = 1;
    long long mini_batch_size = 0;
    std::uint32_t shuffle_seed = 11;
    double lambd = 0;
    std::vector<double> keep_prob;
    std::uint32_t dropout_seed = 1;
    long long checkpoint_every = 0;  // epochs; 0: never
    std::string resume;
    bool anomaly_check = true;
    std::string dtype = "f64";
    long long print_every = 100;
    std::string out = "out";
    bool quiet = false;
    bool stream = false;  // read the training examples from the file batch by batch
    int threads = 0;  // 0: all cores, or under mpirun the cores / processes on this machine
    // The job (set by main, not options): this process's rank among `processes`, and the sum
    // across them (a Collective<double> or Collective<float>, matching --dtype; null: alone).
    int rank = 0, processes = 1;
    int local_processes = 1;  // the job's processes on this machine (they share its memory)
    void* group = nullptr;
    bool under_mpirun = false;  // (mpirun gives every process a terminal: no progress line there)
    bool lead() const { return rank == 0; }
};

const CLI::Validator kPositive = cli::positive();
const CLI::Validator kNonNegative = cli::number_check([](double v) { return v >= 0; }, "a number >= 0");
const CLI::Validator kBeta = cli::number_check([](double v) { return v >= 0 && v < 1; }, "in [0, 1)");
const CLI::Validator kKeep = cli::number_check([](double v) { return v > 0 && v <= 1; }, "in (0, 1]");
const CLI::Validator kLayerSize = cli::layer_size();

// ---- train: options -> plan, load, train loop, save, pictures ------------------------------------

// A training run as the options decide it, before any work: the network, the trainer's
// configuration, the settings a resume must match, the files it writes.
struct Plan {
    MlpSpec spec;
    Init init = Init::he;
    TrainConfig config;
    io::Settings settings;
    std::string model, curve, mislabeled, checkpoint;
};

// The task has one output, p(cat): a single sigmoid unit (the labels are 0/1, and `predict`, the
// pictures and the saved model read p(cat) from it). A softmax output is refused as any other.
MlpSpec cat_network(const TrainOptions& o) {
    for (const auto& a : o.activations) parse_activation(a);  // an unknown name first
    if (!o.activations.empty() && o.activations.back() != "sigmoid")
        throw UsageError("--activations: the output layer of the cat classifier is sigmoid (one unit, "
                         "p(cat)), got " + o.activations.back());
    if (o.layers.back() != 1)
        throw UsageError("--layers: the output layer must have size 1 (one sigmoid unit, p(cat)), got " +
                         std::to_string(o.layers.back()));
    return MlpSpec(o.layers, o.activations);
}

// The options that decide a training run's numbers: a resume must use the same ones.
io::Settings identity_settings(const TrainOptions& o) {
    std::string acts, keep;
    for (std::size_t i = 0; i < o.activations.size(); ++i) acts += (i ? "," : "") + o.activations[i];
    for (std::size_t i = 0; i < o.keep_prob.size(); ++i) keep += (i ? "," : "") + cli::exact(o.keep_prob[i]);
    return {{"layers", cli::join(o.layers, ",")},
            {"activations", acts},
            {"dtype", o.dtype},
            {"seed", std::to_string(o.seed)},
            {"init", o.init},
            {"init-scale", cli::exact(o.init_scale)},
            {"optimizer", o.optimizer},
            {"learning-rate", cli::exact(o.learning_rate)},
            {"beta", cli::exact(o.beta)},
            {"beta1", cli::exact(o.beta1)},
            {"beta2", cli::exact(o.beta2)},
            {"epsilon", cli::exact(o.epsilon)},
            {"decay", cli::exact(o.decay)},
            {"decay-interval", std::to_string(o.decay_interval)},
            {"mini-batch-size", std::to_string(o.mini_batch_size)},
            {"shuffle-seed", std::to_string(o.shuffle_seed)},
            {"lambd", cli::exact(o.lambd)},
            {"keep-prob", keep},
            {"dropout-seed", std::to_string(o.dropout_seed)}};
}

Plan plan(const TrainOptions& o) {
    Plan p;
    p.spec = cat_network(o);
    const std::size_t hidden = p.spec.layers() - 1;
    if (!o.keep_prob.empty() && o.keep_prob.size() != 1 && o.keep_prob.size() != hidden)
        throw UsageError("--keep-prob: give one value or one per hidden layer (" +
                         std::to_string(hidden) + "), got " + std::to_string(o.keep_prob.size()));
    p.init = parse_init(o.init);
    TrainConfig& c = p.config;
    c.optimizer.kind = parse_optimizer(o.optimizer);
    c.optimizer.learning_rate = o.learning_rate;
    c.optimizer.beta = o.beta;
    c.optimizer.beta1 = o.beta1;
    c.optimizer.beta2 = o.beta2;
    c.optimizer.epsilon = o.epsilon;
    c.decay = o.decay;
    c.decay_interval = o.decay_interval;
    c.mini_batch_size = std::size_t(o.mini_batch_size);
    c.shuffle_seed = o.shuffle_seed;
    c.reg.lambd = o.lambd;
    c.reg.keep_prob = o.keep_prob;
    c.dropout_seed = o.dropout_seed;
    c.threads = o.threads;
    p.settings = identity_settings(o);
    p.model = cli::out_file(o.out, "model.h5");
    p.curve = cli::out_file(o.out, "cost_curve.png");
    p.mislabeled = cli::out_file(o.out, "mislabeled.png");
    p.checkpoint = cli::out_file(o.out, "checkpoint.h5");
    return p;
}

// The dataset, checked against the network and the memory. Only the test images are drawn
// later: the training pixels are dropped (the training data moves into the tape, no second copy).
template <class T>
io::CatData<T> load(const TrainOptions& o, const Plan& p) {
    const std::string dir = data_dir(o.data);
    io::CatData<T> data = io::load_catvnoncat<T>(dir);
    check_input_size(data.train, p.spec.dims[0], dir, "--layers: the input size");
    // parameter copies besides the tape's values and gradients: the initialiser's (computed in
    // double), the last good parameters kept for an anomaly stop, the saved model's, moments
    const int moments = o.optimizer == "adam" ? 2 : o.optimizer == "momentum" ? 1 : 0;
    const std::size_t m = data.train.X.shape()[1];
    const std::size_t batch = o.mini_batch_size > 0 ? std::min<std::size_t>(std::size_t(o.mini_batch_size), m) : m;
    require_memory(p.spec, batch, sizeof(T), 3 + moments, "--layers: training this network");
    std::vector<std::uint8_t>().swap(data.train.pixels);
    return data;
}

// The training set streamed from its file (--stream, or when it would not fit in memory: one
// line on stderr says so), or null to load it. Decided from the file's size: the in-memory matrix
// takes sizeof(T) per byte of uint8 pixels (plus the pixels while loading). The Trainer computes a
// full batch in the source's chunks of 256 columns, a mini-batch whole (as in memory: the same results).
template <class T>
std::shared_ptr<io::H5StreamSource<T>> streaming_source(const TrainOptions& o) {
    const std::string file = data_dir(o.data) + "/train_catvnoncat.h5";
    if (!o.stream) {
        std::error_code ec;
        const std::uint64_t bytes = std::filesystem::file_size(file, ec);
        const std::uint64_t have = available_memory();
        // every process of a job on this machine would hold a copy
        if (ec || have == 0 || bytes * (sizeof(T) + 1) * std::uint64_t(o.local_processes) <= have) return nullptr;
        if (o.lead())
            std::fprintf(stderr, "%s: the training set (%llu MiB as %s) does not fit in the available memory (%llu MiB), "
                             "streaming it from %s\n",
                     kProgram, (unsigned long long)((bytes * sizeof(T)) >> 20), o.dtype.c_str(),
                     (unsigned long long)(have >> 20), file.c_str());
    }
    return std::make_shared<io::H5StreamSource<T>>(file);
}

// With the training set streamed: only the test set is loaded; the training file gives the
// image shape, the test file the class names.
template <class T>
io::CatData<T> load_streamed(const TrainOptions& o, const Plan& p, const io::H5StreamSource<T>& train) {
    const std::string dir = data_dir(o.data);
    io::CatData<T> data;
    data.test = io::load_image_set<T>(dir + "/test_catvnoncat.h5", "test_set_x", "test_set_y");
    const std::vector<std::size_t> shape = train.example_shape();
    if (shape.size() != 3 || shape != std::vector<std::size_t>{data.test.height, data.test.width, data.test.channels})
        throw DataError(dir + ": the training images of " + train.file() + " and the test images differ in shape");
    data.train.height = shape[0], data.train.width = shape[1], data.train.channels = shape[2];
    data.train.classes = data.test.classes;
    check_input_size(data.test, p.spec.dims[0], dir, "--layers: the input size");
    const int moments = o.optimizer == "adam" ? 2 : o.optimizer == "momentum" ? 1 : 0;
    const std::size_t m = train.examples();
    const std::size_t batch = o.mini_batch_size > 0 ? std::min<std::size_t>(std::size_t(o.mini_batch_size), m)
                                                    : std::min(train.chunk_columns(), m);
    require_memory(p.spec, batch, sizeof(T), 3 + moments, "--layers: training this network");
    return data;
}

// A trainer over the training set, from the initialiser or from --resume (then `costs` holds the
// costs so far). Held by pointer so that the tape, and the training data it owns, can be freed
// before the pictures. A full-batch trainer takes the data without a copy.
template <class T>
std::unique_ptr<Trainer<T>> start(const TrainOptions& o, const Plan& p, io::CatData<T>& data,
                                  std::shared_ptr<io::H5StreamSource<T>> stream, std::vector<double>& costs) {
    const Params<T> init = init_params<T>(p.spec, p.init, o.seed, o.init_scale);
    std::unique_ptr<Trainer<T>> trainer;
    // several processes: each computes its share of every batch (the same source, streamed or not)
    auto* group = static_cast<Collective<T>*>(o.group);
    if (stream) {
        trainer = std::make_unique<Trainer<T>>(p.spec, init, std::move(stream), p.config, group);
    } else if (group) {
        auto source = std::make_shared<MemorySource<T>>(std::move(data.train.X), std::move(data.train.Y));
        trainer = std::make_unique<Trainer<T>>(p.spec, init, std::move(source), p.config, group);
    } else {
        trainer = std::make_unique<Trainer<T>>(p.spec, init, std::move(data.train.X), std::move(data.train.Y),
                                               p.config);
    }
    trainer->net().tape().set_check_finite(o.anomaly_check);
    costs.reserve(std::size_t(o.iterations));
    if (!o.resume.empty()) {
        io::Checkpoint<T> c = io::load_checkpoint<T>(o.resume);
        cli::check_same_settings(o.resume, c.settings, p.settings);
        if (c.state.epoch > o.iterations)  // the saved model would claim iterations it never ran
            throw UsageError("--iterations " + std::to_string(o.iterations) + ": the checkpoint " + o.resume +
                             " is after iteration " + std::to_string(c.state.epoch) +
                             " already (give at least that many, or start afresh)");
        // one optimiser step per batch: a count that does not fit was not written by such a run
        const std::size_t m = trainer->examples(), batch = o.mini_batch_size > 0 ? std::size_t(o.mini_batch_size) : m;
        const long long per_epoch = (long long)((m + batch - 1) / batch);
        if (c.state.steps != c.state.epoch * per_epoch)
            throw DataError(o.resume + ": the checkpoint is after iteration " + std::to_string(c.state.epoch) +
                            " with " + std::to_string(c.state.steps) + " optimiser steps; these options take " +
                            std::to_string(per_epoch) + " per iteration");
        try {
            trainer->restore(c.state);
        } catch (const Error& e) {  // the state does not fit this network: name the file
            throw DataError(o.resume + ": cannot resume from it: " + e.what());
        }
        costs = std::move(c.costs);
        if (!o.quiet && o.lead()) std::printf("resumed from %s after iteration %lld\n", o.resume.c_str(),
                                  (long long)costs.size() - 1);
    }
    return trainer;
}

template <class T>
bool all_finite(const Params<T>& p) {
    for (const auto* group : {&p.W, &p.b})
        for (const auto& m : *group)
            for (T v : m)
                if (!std::isfinite(v)) return false;
    return true;
}

// ---- SIGTERM and SIGINT: a final checkpoint and the shell's exit code ---------------------------

// The signal that asked a single-process training to stop (0: none). The handler only records it
// (and restores the default, so that a second one ends the program at once); the loop stops at the
// end of the epoch in progress, writes a checkpoint there and exits with 128 + the signal.
volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int signo) {
    g_stop_signal = signo;
    std::signal(signo, SIG_DFL);
}

void catch_stop_signals() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // reads and writes in progress carry on
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
}

// Thrown by the loop at the end of the epoch during which a stop signal came.
struct StopSignal {
    int signo;
};

// The epochs: the seed's "after iteration of N cost:X" lines, a checkpoint every
// --checkpoint-every, `good` the last parameters known to be finite. Stops at the first
// non-finite cost or parameter, or an anomaly the tape reports.
template <class T>
EpochLoopResult train_loop(const TrainOptions& o, const Plan& p, Trainer<T>& trainer, std::vector<double>& costs,
                           Params<T>& good) {
    good = trainer.net().params();
    EpochLoop loop;
    loop.epochs = o.iterations;
    loop.unit = "iteration";
    loop.progress = !o.under_mpirun && cli::show_progress(o.quiet);
    loop.print_every = o.quiet || !o.lead() ? 0 : o.print_every;
    loop.print = [](long long i, double cost) { std::printf("after iteration of %lld cost:%f\n", i, cost); };
    loop.after = [&](long long i, double cost) {
        const Params<T> now = trainer.net().params();
        if (!all_finite(now)) throw NumericError("the update made a parameter NaN or Inf");
        costs.push_back(cost);
        good = now;
        const bool stop = g_stop_signal != 0 && i + 1 < o.iterations;
        if (o.lead() && (stop || (o.checkpoint_every > 0 && (i + 1) % o.checkpoint_every == 0 && i + 1 < o.iterations))) {
            io::Checkpoint<T> c;
            c.state = trainer.state();
            c.settings = p.settings;
            c.costs = costs;
            io::save_checkpoint(p.checkpoint, c);
        }
        if (stop) throw StopSignal{int(g_stop_signal)};
    };
    // a long epoch (many batches or chunks) shows its progress within it too
    ProgressLine within(loop.progress, o.iterations, loop.unit);
    if (loop.progress)
        trainer.set_progress([&, partial = false](std::size_t done, std::size_t total) mutable {
            partial = partial || done < total;
            // at the epoch's end the loop's own line (and the printed lines) take its place
            if (partial && done < total) within.update_part(trainer.epochs_done(), done, total);
            if (done >= total) within.clear();
        });
    const EpochLoopResult r = run_epochs((long long)costs.size(), [&](long long) { return trainer.epoch(); }, loop);
    trainer.set_progress({});
    within.clear();
    return r;
}

// model.h5: the parameters with the settings and the dataset's image shape and classes; `stopped`
// says why a run ended early.
template <class T>
void save(const TrainOptions& o, const Plan& p, const io::CatData<T>& data, const Mlp<T>& net,
          const Params<T>& params, long long epochs, double cost, const std::string& stopped) {
    io::ModelInfo info;
    info.image_shape = {data.train.height, data.train.width, data.train.channels};
    info.classes = data.train.classes;
    info.texts = {{"init", o.init}, {"optimizer", o.optimizer}};
    if (!stopped.empty()) info.texts.push_back({"stopped", stopped});
    info.numbers = {{"init_scale", o.init_scale},       {"beta", o.beta},
                    {"beta1", o.beta1},                 {"beta2", o.beta2},
                    {"epsilon", o.epsilon},             {"decay", o.decay},
                    {"decay_interval", double(o.decay_interval)},
                    {"mini_batch_size", double(o.mini_batch_size)},
                    {"shuffle_seed", double(o.shuffle_seed)},
                    {"lambd", o.lambd},                 {"dropout_seed", double(o.dropout_seed)}};
    for (std::size_t l = 1; l < p.spec.layers(); ++l)
        info.numbers.push_back({"keep_prob_" + std::to_string(l), net.keep_prob(l)});
    io::save_model(p.model, p.spec, params, o.learning_rate, epochs, o.seed, cost, info);
}

// What the cost curve plots, in words: each epoch's training cost as the trainer computed it
// (the loss the optimiser saw, with the L2 penalty and the dropout masks, before each update).
// `with_batches` false leaves out how an epoch's batches are combined (the picture's axis has no
// room for it; its subtitle says it).
std::string curve_quantity(const TrainOptions& o, bool with_batches = true) {
    std::string q = o.lambd > 0 ? "cross-entropy + L2" : "cross-entropy";
    if (!o.keep_prob.empty()) q += ", dropout on";
    if (with_batches && o.mini_batch_size > 0) q += ", mean of the batches";
    return q;
}

// cost_curve.png: every epoch's cost, the quantity curve_quantity() names (the loop printed every
// --print-every-th); mislabeled.png: the seed's print_mislabeled_images, test images whose
// rounded prediction is not the label.
template <class T>
void draw(const TrainOptions& o, const Plan& p, const std::vector<double>& costs, const Matrix<T>& proba,
          const io::ImageSet<T>& test) {
    char lr_text[32], cost_text[32];
    std::snprintf(lr_text, sizeof lr_text, "%g", o.learning_rate);
    std::snprintf(cost_text, sizeof cost_text, "%.6f", costs.empty() ? NAN : costs.back());
    const std::string step = o.mini_batch_size > 0 ? "epoch" : "iteration";
    picture::plot_cost_curve(p.curve, costs, int(o.print_every), std::string("Learning rate = ") + lr_text,
                             "layers " + cli::join(p.spec.dims, "-") + ", " + o.dtype + ", seed " +
                                 std::to_string(o.seed) + ", last cost " + cost_text +
                                 (o.mini_batch_size > 0 ? ", epochs: mean of their batches" : ""),
                             step, "cost (" + curve_quantity(o, false) + ")");

    const std::size_t m = test.X.shape()[1];
    const std::size_t n_x = p.spec.dims[0];
    const auto& classes = test.classes;
    std::vector<picture::Tile> tiles;
    for (std::size_t j = 0; j < m; ++j) {
        const int predicted = proba(0, j) > T(0.5) ? 1 : 0;
        const int truth = int(test.Y(0, j));
        if (predicted == truth) continue;
        char pc[32];
        // three decimals: at two, a probability just under 0.5 would read "0.50" beside "non-cat"
        std::snprintf(pc, sizeof pc, "%.3f", double(proba(0, j)));
        tiles.push_back({test.pixels.data() + j * n_x, int(test.height), int(test.width), int(test.channels),
                         {"test #" + std::to_string(j) + "  p(cat)=" + pc,
                          "predicted: " + classes[std::size_t(predicted)],
                          "true: " + classes[std::size_t(truth)]},
                         picture::Rgb{214, 39, 40}});
    }
    picture::image_grid(p.mislabeled,
                        "Mislabeled test images: " + std::to_string(tiles.size()) + " of " + std::to_string(m),
                        tiles, 4, 5);
    if (!o.quiet) {
        std::printf("model: %s\n", p.model.c_str());
        std::printf("cost curve: %s (cost per %s: %s; last %s)\n", p.curve.c_str(), step.c_str(),
                    curve_quantity(o).c_str(), cost_text);
        std::printf("mislabeled test images: %s\n", p.mislabeled.c_str());
    }
}

// A run the loop stopped: model.h5 with the last parameters known to be finite (attribute
// `stopped` says why), one line on stderr, exit code 3.
template <class T>
int save_stopped(const TrainOptions& o, const Plan& p, const io::CatData<T>& data, const Trainer<T>& trainer,
                 const Params<T>& good, const std::vector<double>& costs, const EpochLoopResult& run) {
    const long long i = run.epochs_done;
    if (!o.lead()) return 3;  // (the same stop on every process: the costs are the job's)
    const std::string what = "iteration " + std::to_string(i) + ": " + run.error;
    save(o, p, data, trainer.net(), good, i, costs.empty() ? NAN : costs.back(), what);
    std::fflush(stdout);
    std::fprintf(stderr, "%s: %s; stopped, the last good model (after %lld iterations) is %s%s\n", kProgram,
                 what.c_str(), i, p.model.c_str(),
                 o.anomaly_check ? "" : " (--no-anomaly-check: the first bad node was not traced)");
    return 3;
}

// One pass over the training data with the trained parameters and dropout off: the final cost
// (not the last printed, pre-update one) and the train accuracy; then the test accuracy.
template <class T>
Evaluation report_accuracies(const TrainOptions& o, Trainer<T>& trainer, const io::ImageSet<T>& test) {
    const Evaluation fit = trainer.evaluate();  // (every process: a collective sum)
    if (!o.lead()) return fit;
    std::printf("train accuracy: %s\n", cli::py_float(fit.accuracy).c_str());
    std::printf("test accuracy: %s\n", cli::py_float(trainer.net().accuracy(test.X, test.Y)).c_str());
    std::fflush(stdout);
    return fit;
}

template <class T>
int train(const TrainOptions& o) {
    Plan p = plan(o);
    cli::OutLock out_lock;  // no other training writes into --out while this one runs
    if (o.lead()) out_lock = cli::prepare_out(o.out);
    std::shared_ptr<io::H5StreamSource<T>> stream = streaming_source<T>(o);
    io::CatData<T> data = stream ? load_streamed<T>(o, p, *stream) : load<T>(o, p);
    // which data this is, for a resume: a checkpoint of a run on other data is refused
    p.settings.emplace_back("dataset", stream ? data_identity(*stream) : data_identity(data.train.X, data.train.Y));
    std::vector<double> costs;
    auto trainer = start(o, p, data, std::move(stream), costs);

    Params<T> good;
    if (!o.under_mpirun) catch_stop_signals();  // (a job's processes are stopped by mpirun)
    EpochLoopResult run;
    try {
        run = train_loop(o, p, *trainer, costs, good);
    } catch (const StopSignal& s) {
        if (!o.under_mpirun && cli::show_progress(o.quiet)) std::printf("\r\033[K");  // a progress line
        std::fflush(stdout);
        std::fprintf(stderr, "%s: stopped by %s after iteration %lld of %lld; --resume %s continues from there\n",
                     kProgram, s.signo == SIGINT ? "SIGINT" : "SIGTERM", (long long)costs.size(), o.iterations,
                     io::printable(p.checkpoint).c_str());
        return 128 + s.signo;
    }
    if (run.stopped) return save_stopped(o, p, data, *trainer, good, costs, run);
    if (!o.quiet && o.lead()) std::printf("training seconds: %.3f\n", run.seconds);

    const Evaluation fit = report_accuracies(o, *trainer, data.test);
    if (!o.lead()) return 0;
    const Mlp<T>& net = trainer->net();
    save(o, p, data, net, net.params(), o.iterations, fit.cost, "");
    // the finished model supersedes the checkpoint
    if (o.checkpoint_every > 0 || !o.resume.empty()) std::filesystem::remove(p.checkpoint);

    // the tape and the training data it holds go before the pictures
    const Matrix<T> proba = net.predict_proba(data.test.X);
    trainer.reset();
    draw(o, p, costs, proba, data.test);
    return 0;
}

#if defined(XGRAD_HAVE_DIST)
// ---- a data-parallel job: how its processes end ---------------------------------------------

// mpirun ends the other processes with SIGTERM when one of them dies (kill -9, a crash) or aborts.
// The process of rank 0 then says so in one line (prepared beforehand: a handler may only write);
// the others leave quietly. Without --quiet mpirun adds its own banner.
char g_stop_line[1024];     // rank 0's line when mpirun stops the job
char g_stop_message[1024];  // ... or the line a failing process sent it (dist::Context::tell_stop)
volatile std::sig_atomic_t g_stop_quiet = 0;  // set by the process that aborts the job itself

extern "C" void on_sigterm(int) {
    if (!g_stop_quiet) {
        const char* line = g_stop_message[0] ? g_stop_message : g_stop_line;
        ssize_t n = ::write(2, line, std::strlen(line));
        if (g_stop_message[0]) n = ::write(2, "\n", 1);
        (void)n;
    }
    _exit(143);
}

void catch_job_stop(dist::Context& mpi, const std::string& out) {
    if (mpi.rank() == 0) {
        std::snprintf(g_stop_line, sizeof g_stop_line,
                      "%s: the job of %d processes was stopped: another process ended without finishing (killed, "
                      "crashed or aborted); --resume %s continues from the last checkpoint, if one was written\n",
                      kProgram, mpi.size(), cli::out_file(out, "checkpoint.h5").c_str());
        mpi.listen_for_stop(g_stop_message, sizeof g_stop_message);
    }
    struct sigaction sa {};
    sa.sa_handler = on_sigterm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
}

// The end of a process of a job, with exit code `rc` and the error line it would have printed.
// Finished normally: wait for the others, MPI_Finalize. An error: when every process ends within a
// few seconds (they all met the same error: bad options, a missing dataset) rank 0 prints its line
// and they finish together; otherwise the others wait in a collective that this one will never
// join, so it prints its line with its rank and aborts the job (mpirun stops them all).
int end_job(dist::Context& mpi, int rc, const std::string& error) {
    if (rc == 0) {
        mpi.finish(-1);
        return 0;
    }
    std::fflush(stdout);
    // A numeric stop reaches every process in the same step (the Trainer sums the anomaly flag), and
    // rank 0 then writes the stopped model, which may take a while: wait for it. Other errors may
    // be one process's alone: a few seconds tell.
    if (mpi.finish(rc == 3 ? 600.0 : 3.0)) {
        if (mpi.rank() == 0 && !error.empty()) std::fprintf(stderr, "%s\n", error.c_str());
        return rc;
    }
    std::string line = error.empty() ? std::string(kProgram) + ": stopped (exit code " + std::to_string(rc) + ")" : error;
    const std::string prefix = std::string(kProgram) + ": ";
    if (line.compare(0, prefix.size(), prefix) == 0) line = line.substr(prefix.size());
    g_stop_quiet = 1;
    line = prefix + "process " + std::to_string(mpi.rank()) + " of " + std::to_string(mpi.size()) + ": " + line +
           "; the job was stopped";
    // Rank 0 prints it when mpirun stops it (one line for the job); rank 0 itself prints it here.
    if (mpi.rank() == 0) {
        std::fprintf(stderr, "%s\n", line.c_str());
        std::fflush(stderr);
    } else {
        mpi.tell_stop(line);
    }
    mpi.abort(rc);
}
#endif

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Cat / non-cat image classifier: the seed's L-layer network trained with xgrad"};
    app.require_subcommand(1);

    TrainOptions t;
    CLI::App* tr = app.add_subcommand("train", "train on the cat/non-cat dataset (defaults reproduce the seed)");
    tr->add_option("--data", t.data,
                   "dataset directory (default: $XGRAD_DATA, then " XGRAD_DEFAULT_DATA_DIR ")");
    tr->add_option("--layers", t.layers, "layer sizes, input first")
        ->delimiter(',')
        ->capture_default_str()
        ->check(kLayerSize);
    tr->add_option("--activations", t.activations, "one per layer: relu, tanh or sigmoid; the output sigmoid (one unit, p(cat))")
        ->delimiter(',')
        ->capture_default_str();
    tr->add_option("--learning-rate", t.learning_rate, "step size (before decay)")
        ->capture_default_str()
        ->check(kPositive);
    tr->add_option("--iterations,--epochs", t.iterations,
                   "epochs (full batch: iterations); with mini-batches, passes over the data")
        ->capture_default_str()
        ->check(CLI::Range(1LL, 1000000000LL));
    tr->add_option("--seed", t.seed, "initialisation seed (numpy's np.random.seed)")->capture_default_str();
    tr->add_option("--init", t.init, "weight initialiser: " + kInitNames.accepted())
        ->capture_default_str()
        ->check(CLI::IsMember(kInitNames.names()));
    tr->add_option("--init-scale", t.init_scale, "standard deviation of --init normal")
        ->capture_default_str()
        ->check(kPositive);
    tr->add_option("--optimizer", t.optimizer, kOptimizerNames.accepted())
        ->capture_default_str()
        ->check(CLI::IsMember(kOptimizerNames.names()));
    tr->add_option("--beta", t.beta, "momentum: velocity decay, in [0,1)")
        ->capture_default_str()
        ->check(kBeta);
    tr->add_option("--beta1", t.beta1, "adam: first-moment decay, in [0,1)")
        ->capture_default_str()
        ->check(kBeta);
    tr->add_option("--beta2", t.beta2, "adam: second-moment decay, in [0,1)")
        ->capture_default_str()
        ->check(kBeta);
    tr->add_option("--epsilon", t.epsilon, "adam: added to the root of the second moment")
        ->capture_default_str()
        ->check(kPositive);
    tr->add_option("--decay", t.decay, "learning rate / (1 + decay * floor(epoch / interval))")
        ->capture_default_str()
        ->check(kNonNegative);
    tr->add_option("--decay-interval", t.decay_interval, "epochs between decay steps")
        ->capture_default_str()
        ->check(CLI::Range(1LL, 1000000000LL));
    tr->add_option("--mini-batch-size", t.mini_batch_size,
                   "examples per step, shuffled every epoch (0: full batch)")
        ->capture_default_str()
        ->check(CLI::Range(0LL, 1000000000LL));
    tr->add_option("--shuffle-seed", t.shuffle_seed,
                   "epoch e shuffles with np.random.seed(shuffle_seed + e)")
        ->capture_default_str();
    tr->add_option("--lambd", t.lambd, "L2: cost + lambd/(2m) * sum of squared weights")
        ->capture_default_str()
        ->check(kNonNegative);
    tr->add_option("--keep-prob", t.keep_prob,
                   "dropout: keep probability in (0,1], one value or one per hidden layer")
        ->delimiter(',')
        ->check(kKeep);
    tr->add_option("--dropout-seed", t.dropout_seed, "np.random.seed of the dropout masks")
        ->capture_default_str();
    tr->add_option("--checkpoint-every", t.checkpoint_every,
                   "write <out>/checkpoint.h5 every N iterations (0: never)")
        ->capture_default_str()
        ->check(CLI::Range(0LL, 1000000000LL));
    tr->add_option("--resume", t.resume, "continue from a checkpoint (same options as its run)");
    tr->add_flag("!--no-anomaly-check", t.anomaly_check,
                 "do not check every value and gradient for NaN/Inf (a non-finite cost still stops)");
    cli::add_dtype_option(*tr, t.dtype);
    tr->add_option("--print-every", t.print_every, "print the cost every N iterations (0: never)")
        ->capture_default_str()
        ->check(kNonNegative);
    tr->add_option("--out", t.out, "directory for model.h5, cost_curve.png, mislabeled.png")
        ->capture_default_str();
    tr->add_flag("--quiet", t.quiet, "print only the accuracies");
    tr->add_flag("--stream", t.stream,
                 "read the training examples from train_catvnoncat.h5 batch by batch instead of loading them "
                 "(automatic when they would not fit in memory)");
    tr->add_option("--threads", t.threads,
                   "threads per process (default: all cores; under mpirun the cores / processes on this machine)")
        ->check(CLI::Range(1, 4096));

    PredictOptions p;
    CLI::App* pr = app.add_subcommand(
        "predict", "classify images with a saved model, or print its test accuracy");
    pr->add_option("--model", p.model, "model file written by train")->required();
    pr->add_option("images", p.images, "JPEG/PNG/BMP images of any size (resized to the model's input)");
    pr->add_option("--data", p.data, "dataset directory: print the model's test accuracy on it");
    pr->add_option("--digits", p.digits, "decimals of the printed probability")
        ->capture_default_str()
        ->check(CLI::Range(0, 17));

    auto body = [&] {
        if (tr->parsed()) return t.dtype == "f32" ? train<float>(t) : train<double>(t);
        return predict(p);
    };
    const char* const hint = "(are --layers or the data far larger than meant?)";
#if defined(XGRAD_HAVE_DIST)
    // Only a process started by mpirun initialises MPI: plain runs (and valgrind) never do.
    if (dist::launched_by_mpirun()) {
        std::unique_ptr<dist::Context> mpi;
        try {
            mpi = std::make_unique<dist::Context>(&argc, &argv);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s: %s\n", kProgram, e.what());
            return 2;
        }
        std::string error;
        dist::MpiCollective<double> group64(*mpi);
        dist::MpiCollective<float> group32(*mpi);
        const int rc = cli::run(
            kProgram, app, argc, argv,
            [&] {
                if (tr->parsed()) {
                    t.under_mpirun = true;
                    t.rank = mpi->rank();
                    t.processes = mpi->size();
                    t.local_processes = mpi->local_size();
                    if (t.processes > 1)
                        t.group = t.dtype == "f32" ? static_cast<void*>(&group32) : static_cast<void*>(&group64);
                    if (t.threads == 0) t.threads = mpi->default_threads();
                    catch_job_stop(*mpi, t.out);
                } else if (mpi->rank() != 0) {
                    return 0;  // predict: one process is enough
                }
                return body();
            },
            hint, [&](const std::string& line) { error = line; });
        return end_job(*mpi, rc, error);
    }
#endif
    return cli::run(kProgram, app, argc, argv, body, hint);
}
