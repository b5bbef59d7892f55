// cat_classifier: the seed's program on xgrad's graph API.
//
//   cat_classifier train [options]            trains, prints the seed's lines, writes --out/model.h5,
//                                             --out/cost_curve.png and --out/mislabeled.png
//   cat_classifier predict --model M IMAGE... prints "IMAGE: cat (p=0.93)" per image
//   cat_classifier predict --model M [--data DIR]   prints the saved model's test accuracy
//
// Every error ends the program with one line "cat_classifier: <message>" on stderr and exit code 2.

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

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "cli.hpp"
#include "picture.hpp"
#include "xgrad/io/checkpoint.hpp"
#include "xgrad/io/io.hpp"
#include "xgrad/nn/mlp.hpp"
#include "xgrad/nn/train.hpp"

#ifndef XGRAD_DEFAULT_DATA_DIR
#define XGRAD_DEFAULT_DATA_DIR "../shared/datasets/catvnoncat"
#endif

namespace {

using namespace xgrad;
using Clock = std::chrono::steady_clock;

const char* const kProgram = "cat_classifier";

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
};

struct PredictOptions {
    std::string model;
    std::vector<std::string> images;
    std::string data;
    int digits = 2;
};

std::string join(const std::vector<std::size_t>& v, const char* sep) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + std::to_string(v[i]);
    return s;
}

// A one-line status (iteration, cost, speed, time left) redrawn in place with a carriage return.
// Only for a terminal: in a pipe or a file it would be noise between the seed's lines.
class Progress {
public:
    Progress(bool enabled, long long total) : enabled_(enabled), total_(total), start_(Clock::now()) {}

    void update(long long done, double cost) {
        if (!enabled_) return;
        const auto now = Clock::now();
        if (done < total_ && now - last_ < std::chrono::milliseconds(100)) return;
        last_ = now;
        const double secs = std::chrono::duration<double>(now - start_).count();
        const double rate = secs > 0 ? double(done) / secs : 0;
        const double eta = rate > 0 ? double(total_ - done) / rate : 0;
        std::printf("\r  iteration %lld/%lld  cost %.6f  %.1f it/s  ETA %.1fs\033[K", done, total_,
                    cost, rate, eta);
        std::fflush(stdout);
        shown_ = true;
    }
    // Removes the status line so that a permanent line can be printed in its place.
    void clear() {
        if (!enabled_ || !shown_) return;
        std::printf("\r\033[K");
        shown_ = false;
    }

private:
    bool enabled_;
    long long total_;
    Clock::time_point start_, last_{};
    bool shown_ = false;
};

const CLI::Validator kPositive = cli::positive();
const CLI::Validator kNonNegative = cli::number_check([](double v) { return v >= 0; }, "a number >= 0");
const CLI::Validator kBeta = cli::number_check([](double v) { return v >= 0 && v < 1; }, "in [0, 1)");
const CLI::Validator kKeep = cli::number_check([](double v) { return v > 0 && v <= 1; }, "in (0, 1]");
const CLI::Validator kLayerSize = cli::layer_size();

template <class T>
bool all_finite(const Params<T>& p) {
    for (const auto* group : {&p.W, &p.b})
        for (const auto& m : *group)
            for (T v : m)
                if (!std::isfinite(v)) return false;
    return true;
}

std::string exact(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

// The options that decide a training run's numbers: a resume must use the same ones.
io::Settings identity_settings(const TrainOptions& o) {
    std::string layers, acts, keep;
    for (std::size_t i = 0; i < o.layers.size(); ++i) layers += (i ? "," : "") + std::to_string(o.layers[i]);
    for (std::size_t i = 0; i < o.activations.size(); ++i) acts += (i ? "," : "") + o.activations[i];
    for (std::size_t i = 0; i < o.keep_prob.size(); ++i) keep += (i ? "," : "") + exact(o.keep_prob[i]);
    return {{"layers", layers},
            {"activations", acts},
            {"dtype", o.dtype},
            {"seed", std::to_string(o.seed)},
            {"init", o.init},
            {"init-scale", exact(o.init_scale)},
            {"optimizer", o.optimizer},
            {"learning-rate", exact(o.learning_rate)},
            {"beta", exact(o.beta)},
            {"beta1", exact(o.beta1)},
            {"beta2", exact(o.beta2)},
            {"epsilon", exact(o.epsilon)},
            {"decay", exact(o.decay)},
            {"decay-interval", std::to_string(o.decay_interval)},
            {"mini-batch-size", std::to_string(o.mini_batch_size)},
            {"shuffle-seed", std::to_string(o.shuffle_seed)},
            {"lambd", exact(o.lambd)},
            {"keep-prob", keep},
            {"dropout-seed", std::to_string(o.dropout_seed)}};
}

void check_same_settings(const std::string& file, const io::Settings& saved, const io::Settings& now) {
    for (const auto& [name, value] : now) {
        auto it = std::find_if(saved.begin(), saved.end(), [&](const auto& kv) { return kv.first == name; });
        const std::string was = it == saved.end() ? "(not recorded)" : it->second;
        if (was != value)
            throw UsageError("--resume " + file + ": it was trained with --" + name + " " +
                             (was.empty() ? "(none)" : was) + ", this run has " +
                             (value.empty() ? "(none)" : value) + " (resume with the same options)");
    }
}

std::string data_dir(const std::string& option) {
    return io::find_data_dir(option, XGRAD_DEFAULT_DATA_DIR);
}

template <class T>
void check_input_size(const io::ImageSet<T>& set, std::size_t n_x, const std::string& dir,
                      const char* what) {
    const std::size_t n = set.height * set.width * set.channels;
    if (n != n_x)
        throw ShapeError(std::string(what) + " " + std::to_string(n_x) + " does not fit the images in " +
                         dir + ": " + std::to_string(set.height) + "x" + std::to_string(set.width) +
                         "x" + std::to_string(set.channels) + " = " + std::to_string(n) + " values");
}

template <class T>
int train(const TrainOptions& o) {
    const MlpSpec spec(o.layers, o.activations);
    if (o.layers.back() != 1)
        throw UsageError("--layers: the output layer must have size 1 (cat or non-cat), got " +
                         std::to_string(o.layers.back()));
    const std::size_t hidden = spec.layers() - 1;
    if (!o.keep_prob.empty() && o.keep_prob.size() != 1 && o.keep_prob.size() != hidden)
        throw UsageError("--keep-prob: give one value or one per hidden layer (" +
                         std::to_string(hidden) + "), got " + std::to_string(o.keep_prob.size()));
    cli::ensure_writable(o.out);
    cli::remove_stale_temporaries(o.out);
    const std::string dir = data_dir(o.data);
    io::CatData<T> data = io::load_catvnoncat<T>(dir);
    check_input_size(data.train, spec.dims[0], dir, "--layers: the input size");
    {
        // parameter copies besides the tape's values and gradients: the initialiser's (computed in
        // double), the last good parameters kept for an anomaly stop, the saved model's, moments
        const int moments = o.optimizer == "adam" ? 2 : o.optimizer == "momentum" ? 1 : 0;
        const std::size_t m = data.train.X.shape()[1];
        const std::size_t batch = o.mini_batch_size > 0 ? std::min<std::size_t>(std::size_t(o.mini_batch_size), m) : m;
        require_memory(spec, batch, sizeof(T), 3 + moments, "--layers: training this network");
    }
    // Only the test images are drawn; the training data moves into the tape (no second copy).
    std::vector<std::uint8_t>().swap(data.train.pixels);

    const std::string model_path = (std::filesystem::path(o.out) / "model.h5").string();
    const std::string curve_path = (std::filesystem::path(o.out) / "cost_curve.png").string();
    const std::string mislabeled_path = (std::filesystem::path(o.out) / "mislabeled.png").string();

    TrainConfig cfg;
    cfg.optimizer.kind = parse_optimizer(o.optimizer);
    cfg.optimizer.learning_rate = o.learning_rate;
    cfg.optimizer.beta = o.beta;
    cfg.optimizer.beta1 = o.beta1;
    cfg.optimizer.beta2 = o.beta2;
    cfg.optimizer.epsilon = o.epsilon;
    cfg.decay = o.decay;
    cfg.decay_interval = o.decay_interval;
    cfg.mini_batch_size = std::size_t(o.mini_batch_size);
    cfg.shuffle_seed = o.shuffle_seed;
    cfg.reg.lambd = o.lambd;
    cfg.reg.keep_prob = o.keep_prob;
    cfg.dropout_seed = o.dropout_seed;
    const Init init = parse_init(o.init);
    const io::Settings settings = identity_settings(o);
    // Held by pointer so the tape (and the training data it owns) is freed before the pictures.
    // A full-batch trainer takes the data without a copy.
    auto trainer = std::make_unique<Trainer<T>>(spec, init_params<T>(spec, init, o.seed, o.init_scale),
                                                std::move(data.train.X), std::move(data.train.Y), cfg);
    trainer->net().tape().set_check_finite(o.anomaly_check);
    std::vector<double> costs;
    costs.reserve(std::size_t(o.iterations));
    if (!o.resume.empty()) {
        io::Checkpoint<T> c = io::load_checkpoint<T>(o.resume);
        check_same_settings(o.resume, c.settings, settings);
        trainer->restore(c.state);
        costs = std::move(c.costs);
        if (!o.quiet) std::printf("resumed from %s after iteration %lld\n", o.resume.c_str(),
                                  (long long)costs.size() - 1);
    }
    const std::string checkpoint_path = (std::filesystem::path(o.out) / "checkpoint.h5").string();
    auto save = [&](const std::string& path, const Params<T>& params, long long epochs, double cost,
                    const std::string& stopped) {
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
        for (std::size_t l = 1; l < spec.layers(); ++l)
            info.numbers.push_back({"keep_prob_" + std::to_string(l), trainer->net().keep_prob(l)});
        io::save_model(path, spec, params, o.learning_rate, epochs, o.seed, cost, info);
    };

    Progress progress(!o.quiet && isatty(STDOUT_FILENO), o.iterations);
    const auto start = Clock::now();
    Params<T> good = trainer->net().params();  // the last parameters known to be finite
    for (long long i = (long long)costs.size(); i < o.iterations; ++i) {
        try {
            const double cost = trainer->epoch();
            if (!std::isfinite(cost))
                throw NumericError("the cost is " + std::string(std::isnan(cost) ? "nan" : "inf"));
            const Params<T> now = trainer->net().params();
            if (!all_finite(now)) throw NumericError("the update made a parameter NaN or Inf");
            costs.push_back(cost);
            good = now;
        } catch (const NumericError& e) {
            // Stop cleanly: the parameters before this iteration were finite; keep them.
            progress.clear();
            std::fflush(stdout);
            const std::string what = "iteration " + std::to_string(i) + ": " + e.what();
            save(model_path, good, i, costs.empty() ? NAN : costs.back(), what);
            std::fprintf(stderr, "%s: %s; stopped, the last good model (after %lld iterations) is %s%s\n",
                         kProgram, what.c_str(), i, model_path.c_str(),
                         o.anomaly_check ? "" : " (--no-anomaly-check: the first bad node was not traced)");
            return 3;
        }
        const double cost = costs.back();
        if (!o.quiet && o.print_every > 0 && i % o.print_every == 0) {
            progress.clear();
            std::printf("after iteration of %lld cost:%f\n", i, cost);
        }
        if (o.checkpoint_every > 0 && (i + 1) % o.checkpoint_every == 0 && i + 1 < o.iterations) {
            io::Checkpoint<T> c;
            c.state = trainer->state();
            c.settings = settings;
            c.costs = costs;
            io::save_checkpoint(checkpoint_path, c);
        }
        progress.update(i + 1, cost);
    }
    progress.clear();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!o.quiet) std::printf("training seconds: %.3f\n", seconds);

    // One pass over the training data with the trained parameters and dropout off: the final
    // cost (not the last printed, pre-update one) and the train accuracy.
    const Evaluation fit = trainer->evaluate();
    const Mlp<T>& net = trainer->net();
    std::printf("train accuracy: %s\n", cli::py_float(fit.accuracy).c_str());
    std::printf("test accuracy: %s\n", cli::py_float(net.accuracy(data.test.X, data.test.Y)).c_str());
    std::fflush(stdout);

    const double final_cost = fit.cost;
    save(model_path, net.params(), o.iterations, final_cost, "");
    // the finished model supersedes the checkpoint
    if (o.checkpoint_every > 0 || !o.resume.empty()) std::filesystem::remove(checkpoint_path);

    const Matrix<T> proba = net.predict_proba(data.test.X);
    trainer.reset();

    char lr_text[32], cost_text[32];
    std::snprintf(lr_text, sizeof lr_text, "%g", o.learning_rate);
    std::snprintf(cost_text, sizeof cost_text, "%.6f", final_cost);
    picture::plot_cost_curve(curve_path, costs, int(o.print_every),
                             std::string("Learning rate = ") + lr_text,
                             "layers " + join(spec.dims, "-") + ", " + o.dtype + ", seed " +
                                 std::to_string(o.seed) + ", final cost " + cost_text);

    // The seed's print_mislabeled_images: test images whose rounded prediction is not the label.
    const std::size_t m = data.test.X.shape()[1];
    const std::size_t n_x = spec.dims[0];
    const auto& classes = data.test.classes;
    std::vector<picture::Tile> tiles;
    for (std::size_t j = 0; j < m; ++j) {
        const int predicted = proba(0, j) > T(0.5) ? 1 : 0;
        const int truth = int(data.test.Y(0, j));
        if (predicted == truth) continue;
        char p[32];
        // three decimals: at two, a probability just under 0.5 would read "0.50" beside "non-cat"
        std::snprintf(p, sizeof p, "%.3f", double(proba(0, j)));
        tiles.push_back({data.test.pixels.data() + j * n_x, int(data.test.height),
                         int(data.test.width), int(data.test.channels),
                         {"test #" + std::to_string(j) + "  p(cat)=" + p,
                          "predicted: " + classes[std::size_t(predicted)],
                          "true: " + classes[std::size_t(truth)]},
                         picture::Rgb{214, 39, 40}});
    }
    picture::image_grid(mislabeled_path,
                        "Mislabeled test images: " + std::to_string(tiles.size()) + " of " +
                            std::to_string(m),
                        tiles, 4, 5);

    if (!o.quiet) {
        std::printf("model: %s\n", model_path.c_str());
        std::printf("cost curve: %s\n", curve_path.c_str());
        std::printf("mislabeled test images: %s\n", mislabeled_path.c_str());
    }
    return 0;
}

// The model's input image {h, w, c}: stored by `train`; for older files, a square RGB or gray image.
std::vector<std::size_t> model_image_shape(const io::ModelFile& mf, const std::string& path) {
    if (!mf.image_shape.empty()) return mf.image_shape;
    const std::size_t n = mf.spec.dims[0];
    for (std::size_t c : {std::size_t(3), std::size_t(1)}) {
        if (n % c) continue;
        const auto s = std::size_t(std::lround(std::sqrt(double(n / c))));
        if (s * s * c == n) return {s, s, c};
    }
    throw DataError(path + ": no 'image_shape' attribute, and the input size " + std::to_string(n) +
                    " is not a square RGB or gray image");
}

// Pixels of `file` converted to the model's channels and resized to h x w (io::load_image), flattened
// as the loader flattens the dataset (C order, /255). An image that already has the size is used as is.
std::vector<double> image_column(const std::string& file, const std::vector<std::size_t>& shape) {
    const std::vector<std::uint8_t> px = io::load_image(file, shape[0], shape[1], shape[2]);
    std::vector<double> col(px.size());
    for (std::size_t i = 0; i < px.size(); ++i) col[i] = double(px[i]) / 255.0;
    return col;
}

int predict(const PredictOptions& o) {
    const io::ModelFile mf = io::load_model(o.model);
    if (mf.spec.dims.back() != 1)
        throw DataError(o.model + ": the output layer has size " + std::to_string(mf.spec.dims.back()) +
                        ", a cat/non-cat model has 1");
    const std::size_t n_x = mf.spec.dims[0];
    std::vector<std::string> classes = mf.classes;
    if (classes.size() < 2) classes = {"non-cat", "cat"};
    int status = 0;

    if (!o.images.empty()) {
        const auto shape = model_image_shape(mf, o.model);
        // Read every image first: one unreadable file is reported without hiding the others.
        std::vector<std::string> names;
        std::vector<std::vector<double>> cols;
        for (const auto& f : o.images) {
            try {
                cols.push_back(image_column(f, shape));
                names.push_back(f);
            } catch (const Error& e) {
                std::fprintf(stderr, "%s: %s\n", kProgram, e.what());
                status = 2;
            }
        }
        if (!cols.empty()) {
            Matrix<double> X = Matrix<double>::from_shape({n_x, cols.size()});
            for (std::size_t j = 0; j < cols.size(); ++j)
                for (std::size_t i = 0; i < n_x; ++i) X(i, j) = cols[j][i];
            const Matrix<double> Y = xt::zeros<double>({std::size_t(1), cols.size()});
            Mlp<double> mlp(mf.spec, mf.params, std::move(X), Y);
            mlp.evaluate();
            const Matrix<double>& p = mlp.tape().value(mlp.A(mlp.layers()));
            for (std::size_t j = 0; j < cols.size(); ++j)
                std::printf("%s: %s (p=%.*f)\n", names[j].c_str(),
                            classes[p(0, j) > 0.5 ? 1 : 0].c_str(), o.digits, p(0, j));
        }
    }
    if (o.images.empty() || !o.data.empty()) {
        const std::string dir = data_dir(o.data);
        io::CatData<double> data = io::load_catvnoncat<double>(dir);
        check_input_size(data.test, n_x, dir, (o.model + ": the model's input size").c_str());
        Mlp<double> mlp(mf.spec, mf.params, std::move(data.test.X), std::move(data.test.Y));
        std::printf("test accuracy: %s\n", cli::py_float(mlp.accuracy()).c_str());
    }
    std::fflush(stdout);
    return status;
}

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
    tr->add_option("--activations", t.activations, "one per layer: relu, tanh or sigmoid (last: sigmoid)")
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
    tr->add_option("--init", t.init, "weight initialiser: zeros, normal, xavier, he")
        ->capture_default_str()
        ->check(CLI::IsMember({"zeros", "normal", "xavier", "he"}));
    tr->add_option("--init-scale", t.init_scale, "standard deviation of --init normal")
        ->capture_default_str()
        ->check(kPositive);
    tr->add_option("--optimizer", t.optimizer, "gd, momentum or adam")
        ->capture_default_str()
        ->check(CLI::IsMember({"gd", "momentum", "adam"}));
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
    tr->add_option("--dtype", t.dtype, "floating point type")
        ->capture_default_str()
        ->check(CLI::IsMember({"f64", "f32"}));
    tr->add_option("--print-every", t.print_every, "print the cost every N iterations (0: never)")
        ->capture_default_str()
        ->check(kNonNegative);
    tr->add_option("--out", t.out, "directory for model.h5, cost_curve.png, mislabeled.png")
        ->capture_default_str();
    tr->add_flag("--quiet", t.quiet, "print only the accuracies");

    PredictOptions p;
    CLI::App* pr = app.add_subcommand(
        "predict", "classify images with a saved model, or print its test accuracy");
    pr->add_option("--model", p.model, "model file written by train")->required();
    pr->add_option("images", p.images, "JPEG/PNG/BMP images of any size (resized to the model's input)");
    pr->add_option("--data", p.data, "dataset directory: print the model's test accuracy on it");
    pr->add_option("--digits", p.digits, "decimals of the printed probability")
        ->capture_default_str()
        ->check(CLI::Range(0, 17));

    return cli::run(
        kProgram, app, argc, argv,
        [&] {
            if (tr->parsed()) return t.dtype == "f32" ? train<float>(t) : train<double>(t);
            return predict(p);
        },
        "(are --layers or the data far larger than meant?)");
}
