// digits_classifier: handwritten digits (8x8 grey images, 10 classes) with Linear layers on xgrad's
// Var API.
//
//   digits_classifier train [options]   trains a softmax classifier (Linear layers, relu between
//                                       them) with Adam on shuffled mini-batches, prints
//                                       "train accuracy: X" and "test accuracy: Y", writes
//                                       --out/model.h5 (xgrad::save), --out/confusion.png and
//                                       --out/misclassified.png
//   digits_classifier predict --model M [--data DIR] [--out DIR]
//                                       the saved model's "test accuracy: Y" and the same pictures
//
// One graph serves everything: logits = net(x) and loss = softmax_ce(logits, y) are recorded once
// with the data x and the class-index labels y as constants; each mini-batch is written into x and
// y (the short last one is just narrower), and the accuracies are the same graph's logits with all
// the training or test columns in x (forward(logits): no loss work).
//
// model.h5 holds only the parameters, fc1.W, fc1.b, ..., fcL.W, fcL.b (xgrad::save): `predict`
// rebuilds the layers from their shapes.
//
// Every error ends the program with one line "digits_classifier: <message>" on stderr and exit
// code 2; a loss that is no longer finite stops training with exit code 3.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli.hpp"
#include "picture.hpp"
#include "xgrad/io/io.hpp"
#include "xgrad/io/text.hpp"
#include "xgrad/io/parameters.hpp"
#include "xgrad/nn/layers.hpp"
#include "xgrad/nn/train.hpp"

#ifndef XGRAD_DEFAULT_DIGITS_DIR
#define XGRAD_DEFAULT_DIGITS_DIR "../shared/datasets/digits"
#endif

namespace {

using namespace xgrad;

const char* const kProgram = "digits_classifier";

struct TrainOptions {
    std::string data;
    std::vector<std::size_t> hidden{128};
    long long epochs = 20;
    long long batch_size = 64;
    double learning_rate = 0.003;
    std::uint32_t seed = 1;
    std::string dtype = "f64";
    std::string out = "out";
    bool quiet = false;
};

struct PredictOptions {
    std::string model;
    std::string data;
    std::string out = "out";
};

std::string data_dir(const std::string& option) {
    return io::find_digits_dir(option, XGRAD_DEFAULT_DIGITS_DIR);
}

// Refuses (UsageError "<who>: ...") a network no machine could hold or this one has no memory for:
// parameters, gradients, Adam's two moments, and the values and gradients of a graph m columns wide
// (the whole training set, for its accuracy).
void check_network(const std::vector<std::size_t>& sizes, std::size_t m, std::size_t value_size,
                   const std::string& who) {
    std::vector<std::string> acts(sizes.size() - 1, "relu");
    acts.back() = "softmax";
    MlpSpec spec;
    try {
        spec = MlpSpec(sizes, acts);
    } catch (const UsageError& e) {
        throw UsageError(who + ": " + e.what());
    }
    require_memory(spec, m, value_size, 2, who + ": this network");
}

// The network {n_x, hidden..., K}: Linear layers fc1..fcL with relu between them, recorded on one
// tape over the constants x (a batch of images, a column each) and y (their class indices).
template <class T>
struct Classifier {
    Tape<T> tape;
    Var<T> x, y, logits, loss;
    NamedParameters<T> params;

    // He initialisation (numpy's randn from rng, layer by layer) for training; zeros to load a model
    Classifier(const std::vector<std::size_t>& sizes, Init init, NumpyRandom& rng, const Matrix<T>& x0,
               const Matrix<T>& y0) {
        x = tape.constant(x0, "x");
        y = tape.constant(y0, "y");
        Sequential<T> net;
        const std::size_t L = sizes.size() - 1;
        for (std::size_t l = 1; l <= L; ++l) {
            net.add(Linear<T>(tape, sizes[l - 1], sizes[l], "fc" + std::to_string(l), rng, init));
            if (l < L) net.add(relu<T>);
        }
        logits = net(x);
        loss = softmax_ce(logits, y);
        params = net.named_parameters();
    }
};

// The first n columns of `a` (a batch to record the graph with).
template <class T>
Matrix<T> first_columns(const Matrix<T>& a, std::size_t n) {
    const std::size_t rows = a.shape()[0], m = a.shape()[1];
    Matrix<T> out = Matrix<T>::from_shape({rows, n});
    for (std::size_t i = 0; i < rows; ++i) std::copy_n(a.data() + i * m, n, out.data() + i * n);
    return out;
}

// The class of every column of X (the largest logit; the first on a tie) and its softmax
// probability, from the classifier's graph: X goes into x, and only the logits are computed.
template <class T>
void classify(Classifier<T>& c, const Matrix<T>& X, std::vector<std::size_t>& predicted,
              std::vector<double>& probability) {
    c.tape.set_value(c.x, X);
    c.tape.forward(c.logits);
    const Matrix<T>& z = c.logits.value();
    const std::size_t K = z.shape()[0], m = z.shape()[1];
    predicted.assign(m, 0);
    probability.assign(m, 0.0);
    for (std::size_t j = 0; j < m; ++j) {
        std::size_t best = 0;
        for (std::size_t i = 1; i < K; ++i)
            if (z(i, j) > z(best, j)) best = i;
        double s = 0;
        for (std::size_t i = 0; i < K; ++i) s += std::exp(double(z(i, j)) - double(z(best, j)));
        predicted[j] = best;
        probability[j] = 1.0 / s;
    }
}

template <class T>
double accuracy(const std::vector<std::size_t>& predicted, const Matrix<T>& Y) {
    std::size_t right = 0;
    for (std::size_t j = 0; j < predicted.size(); ++j) right += predicted[j] == std::size_t(Y(0, j));
    return double(right) / double(predicted.size());
}

// The test set through the classifier: prints "test accuracy: Y", draws the confusion matrix and
// the misclassified digits into `out`.
template <class T>
void test_report(Classifier<T>& c, const io::LabeledSet<T>& test, const std::string& about,
                 const std::string& out, bool quiet) {
    std::vector<std::size_t> predicted;
    std::vector<double> probability;
    classify(c, test.X, predicted, probability);
    const double acc = accuracy(predicted, test.Y);
    std::printf("test accuracy: %s\n", cli::py_float(acc).c_str());
    std::fflush(stdout);

    const std::size_t K = test.classes.size(), m = predicted.size();
    std::vector<std::vector<std::size_t>> counts(K, std::vector<std::size_t>(K, 0));
    std::size_t right = 0;
    for (std::size_t j = 0; j < m; ++j) {
        ++counts[std::size_t(test.Y(0, j))][predicted[j]];
        right += predicted[j] == std::size_t(test.Y(0, j));
    }
    char acc_text[64];
    std::snprintf(acc_text, sizeof acc_text, "test accuracy %.4f (%zu of %zu)", acc, right, m);
    const std::string confusion_path = (std::filesystem::path(out) / "confusion.png").string();
    const std::string misclassified_path = (std::filesystem::path(out) / "misclassified.png").string();
    picture::confusion_matrix(confusion_path, "Confusion matrix, test set", about + ", " + acc_text,
                              test.classes, counts);

    // the misclassified test digits, ink dark on white as they were written (level 16 = black)
    const std::size_t h = test.height, w = test.width, n_x = h * w;
    std::vector<std::uint8_t> grey(test.pixels.size());
    for (std::size_t k = 0; k < grey.size(); ++k)
        grey[k] = std::uint8_t(255 - std::lround(255.0 * std::min<double>(test.pixels[k], 16) / 16.0));
    std::vector<picture::Tile> tiles;
    for (std::size_t j = 0; j < m; ++j) {
        const std::size_t truth = std::size_t(test.Y(0, j));
        if (predicted[j] == truth) continue;
        char p[32];
        std::snprintf(p, sizeof p, "%.2f", probability[j]);
        tiles.push_back({grey.data() + j * n_x, int(h), int(w), 1,
                         {"test #" + std::to_string(j), "predicted " + test.classes[predicted[j]] + " (" + p + ")",
                          "true " + test.classes[truth]},
                         picture::Rgb{214, 39, 40}});
    }
    picture::image_grid(misclassified_path,
                        "Misclassified test digits: " + std::to_string(tiles.size()) + " of " + std::to_string(m),
                        tiles, 12, 6);
    if (!quiet) {
        std::printf("confusion matrix: %s\n", io::printable(confusion_path).c_str());
        std::printf("misclassified test digits: %s\n", io::printable(misclassified_path).c_str());
    }
}

// ---- train: options -> network, load, train loop, save, pictures --------------------------------

// The dataset and the layer sizes {n_x, hidden..., K} it gives the network, checked against the
// memory; the output directory, ready.
template <class T>
io::DigitsData<T> load(const TrainOptions& o, std::vector<std::size_t>& sizes) {
    io::DigitsData<T> data = io::load_digits<T>(data_dir(o.data));
    const std::size_t n_x = data.train.X.shape()[0], m = data.train.X.shape()[1];
    sizes = {n_x};
    sizes.insert(sizes.end(), o.hidden.begin(), o.hidden.end());
    sizes.push_back(data.train.classes.size());
    check_network(sizes, m, sizeof(T), "--hidden");
    const cli::OutLock out_lock = cli::prepare_out(o.out);  // no other training writes into --out meanwhile
    return data;
}

// The epochs: Adam over shuffled mini-batches of the one graph, "epoch E/N loss L" each. Everything
// random comes from `rng`, after the weights: one permutation of the training examples per epoch.
template <class T>
EpochLoopResult train_loop(const TrainOptions& o, Classifier<T>& c, Optimizer<T>& opt, NumpyRandom& rng,
                           const io::LabeledSet<T>& train) {
    const std::size_t m = train.X.shape()[1], B = std::min<std::size_t>(std::size_t(o.batch_size), m);
    EpochLoop loop;
    loop.epochs = o.epochs;
    loop.progress = cli::show_progress(o.quiet);
    loop.print_every = o.quiet ? 0 : 1;
    loop.print = [&](long long e, double loss) { std::printf("epoch %lld/%lld loss %.6f\n", e + 1, o.epochs, loss); };
    loop.cost_name = "the training loss";
    return run_epochs(
        0, [&](long long) { return minibatch_epoch(c.tape, c.x, c.y, c.loss, opt, train.X, train.Y, rng.permutation(m), B); },
        loop);
}

template <class T>
int train(const TrainOptions& o) {
    std::vector<std::size_t> sizes;
    io::DigitsData<T> data = load<T>(o, sizes);
    const std::size_t B = std::min<std::size_t>(std::size_t(o.batch_size), data.train.X.shape()[1]);
    // the layers' weights are numpy's randn from the run's one stream, in order
    NumpyRandom rng(o.seed);
    auto c = std::make_unique<Classifier<T>>(sizes, Init::he, rng, first_columns(data.train.X, B),
                                             first_columns(data.train.Y, B));
    Optimizer<T> opt(c->tape, OptimizerConfig{OptimizerKind::adam, o.learning_rate});

    const EpochLoopResult run = train_loop(o, *c, opt, rng, data.train);
    if (run.stopped) {
        std::fflush(stdout);
        std::fprintf(stderr, "%s: epoch %lld: %s; stopped, no model written (try a smaller --learning-rate)\n",
                     kProgram, run.epochs_done + 1, run.error.c_str());
        return 3;
    }
    if (!o.quiet) std::printf("training seconds: %.3f\n", run.seconds);

    std::vector<std::size_t> predicted;
    std::vector<double> probability;
    classify(*c, data.train.X, predicted, probability);
    std::printf("train accuracy: %s\n", cli::py_float(accuracy(predicted, data.train.Y)).c_str());

    const std::string model_path = cli::out_file(o.out, "model.h5");
    save(model_path, c->params);
    test_report(*c, data.test,
                "layers " + cli::join(sizes, "-") + ", " + o.dtype + ", seed " + std::to_string(o.seed), o.out,
                o.quiet);
    if (!o.quiet) std::printf("model: %s\n", io::printable(model_path).c_str());
    return 0;
}

// The layer sizes {n_x, n_1, ..., K} of a file of parameters fc1.W, fc1.b, ..., fcL.W, fcL.b as
// xgrad::save writes them for this program's network; anything else is a DataError naming the file.
std::vector<std::size_t> layer_sizes(const io::SavedParameters& saved, const std::string& path) {
    const std::string expected = "a digits model has parameters fc1.W, fc1.b, ..., fcL.W, fcL.b";
    std::map<std::size_t, std::pair<const Shape*, const Shape*>> layers;  // l -> (W, b)
    for (const auto& [name, shape] : saved.shapes) {
        // "fc<l>.W" or "fc<l>.b", l = 1, 2, ... (no leading zero)
        const std::string number = name.size() > 4 ? name.substr(2, name.size() - 4) : "";
        const std::string tail = name.size() > 4 ? name.substr(name.size() - 2) : "";
        const bool ok = name.compare(0, 2, "fc") == 0 && (tail == ".W" || tail == ".b") && !number.empty() &&
                        number.size() <= 4 && number[0] != '0' &&
                        number.find_first_not_of("0123456789") == std::string::npos;
        if (!ok)
            throw DataError(path + ": '" + io::printable(name) + "' is not a parameter of this program's network (" +
                            expected + ")");
        auto& layer = layers[std::stoul(number)];
        (tail == ".W" ? layer.first : layer.second) = &shape;
    }
    if (layers.empty()) throw DataError(path + ": no parameters (" + expected + ")");
    const std::size_t L = layers.rbegin()->first;
    std::vector<std::size_t> sizes;
    for (std::size_t l = 1; l <= L; ++l) {
        const std::string fc = "fc" + std::to_string(l);
        const auto it = layers.find(l);
        if (it == layers.end() || !it->second.first) throw DataError(path + ": parameter '" + fc + ".W' missing");
        if (!it->second.second) throw DataError(path + ": parameter '" + fc + ".b' missing");
        const Shape w = *it->second.first, b = *it->second.second;
        if (l == 1) sizes.push_back(w.cols);
        if (w.cols != sizes.back())
            throw DataError(path + ": parameter '" + fc + ".W' is " + to_string(w) + ", expected " +
                            std::to_string(sizes.back()) + " columns (the outputs of fc" + std::to_string(l - 1) + ")");
        if (b != Shape{w.rows, 1})
            throw DataError(path + ": parameter '" + fc + ".b' is " + to_string(b) + ", expected " +
                            to_string(Shape{w.rows, 1}) + " (one per row of " + fc + ".W)");
        sizes.push_back(w.rows);
    }
    return sizes;
}

template <class T>
int predict(const PredictOptions& o, const io::SavedParameters& saved) {
    const std::vector<std::size_t> sizes = layer_sizes(saved, o.model);
    const std::string dir = data_dir(o.data);
    io::DigitsData<T> data = io::load_digits<T>(dir);
    const io::LabeledSet<T>& test = data.test;
    const std::size_t n_x = test.height * test.width, K = test.classes.size();
    if (sizes.front() != n_x)
        throw DataError(o.model + ": the model's input size " + std::to_string(sizes.front()) + " does not fit the " +
                        std::to_string(test.height) + "x" + std::to_string(test.width) + " images of " + dir +
                        " (" + std::to_string(n_x) + " values)");
    if (sizes.back() != K)
        throw DataError(o.model + ": the model has " + std::to_string(sizes.back()) + " outputs, the dataset " +
                        std::to_string(K) + " classes");
    check_network(sizes, test.X.shape()[1], sizeof(T), o.model);
    cli::ensure_writable(o.out);
    NumpyRandom rng(0);  // not drawn from: zeros until the file's values are loaded
    Classifier<T> c(sizes, Init::zeros, rng, first_columns(test.X, 1), first_columns(test.Y, 1));
    load(o.model, c.params);
    test_report(c, test, std::filesystem::path(o.model).filename().string() + ": layers " + cli::join(sizes, "-") +
                             ", " + saved.dtype,
                o.out, true);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Handwritten digits (8x8, 10 classes): a softmax classifier of Linear layers trained with xgrad"};
    app.require_subcommand(1);

    TrainOptions t;
    CLI::App* tr = app.add_subcommand("train", "train on the digits dataset, print the accuracies, save the model");
    tr->add_option("--data", t.data,
                   "dataset directory (default: $XGRAD_DIGITS_DATA, then " XGRAD_DEFAULT_DIGITS_DIR ")");
    tr->add_option("--hidden", t.hidden, "hidden layer sizes, e.g. 128 or 128,64 (relu after each)")
        ->delimiter(',')
        ->capture_default_str()
        ->check(cli::layer_size());
    tr->add_option("--epochs", t.epochs, "passes over the training set")
        ->capture_default_str()
        ->check(CLI::Range(1LL, 1000000000LL));
    tr->add_option("--batch-size", t.batch_size, "examples per Adam step (the last batch of an epoch is smaller)")
        ->capture_default_str()
        ->check(CLI::Range(1LL, 1000000000LL));
    tr->add_option("--learning-rate", t.learning_rate, "Adam's step size")
        ->capture_default_str()
        ->check(cli::positive());
    tr->add_option("--seed", t.seed, "numpy seed of the initial weights and the epochs' shuffles")
        ->capture_default_str();
    cli::add_dtype_option(*tr, t.dtype);
    tr->add_option("--out", t.out, "directory for model.h5, confusion.png, misclassified.png")
        ->capture_default_str();
    tr->add_flag("--quiet", t.quiet, "print only the accuracies");

    PredictOptions p;
    CLI::App* pr = app.add_subcommand("predict", "the test accuracy of a saved model, with its pictures");
    pr->add_option("--model", p.model, "model.h5 written by train")->required();
    pr->add_option("--data", p.data,
                   "dataset directory (default: $XGRAD_DIGITS_DATA, then " XGRAD_DEFAULT_DIGITS_DIR ")");
    pr->add_option("--out", p.out, "directory for confusion.png and misclassified.png")->capture_default_str();

    return cli::run(
        kProgram, app, argc, argv,
        [&] {
            if (tr->parsed()) return t.dtype == "f32" ? train<float>(t) : train<double>(t);
            // a model predicts in the type it was trained in: the accuracy train printed
            const io::SavedParameters saved = io::inspect_parameters(p.model);
            return saved.dtype == "f32" ? predict<float>(p, saved) : predict<double>(p, saved);
        },
        "(is --hidden far larger than meant?)");
}
