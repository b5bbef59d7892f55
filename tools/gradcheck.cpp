// gradcheck: checks the tape's gradients against the seed's hand-derived formulas and against
// centered finite differences of the cost, per quantity (dW, db, dZ, dA) and layer.
//
//   gradcheck                                   a small default network and the seed's network
//   gradcheck --layers 5,4,3,1 --activations relu,relu,sigmoid [--examples m] [--seed s]
//   gradcheck --model out/model.h5 [--data DIR] [--examples m]
//   ... [--lambd L] [--keep-prob P[,P...]] [--mask-seed S]   L2 and dropout with fixed masks
//   gradcheck --ops [--dtype f32|f64]           every op of the library (xgrad::op_cases), one row
//                                               per op, by the generic xgrad::gradcheck
//                                               (the network check above is f64 only)
//
// Exit code: 0 every row passes, 1 a row fails, 2 bad input (one line "gradcheck: <message>").

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <xtensor/xview.hpp>

#include "cli.hpp"
#include "gradcheck_tool.hpp"
#include "xgrad/check/gradcheck.hpp"
#include "xgrad/core/blas.hpp"
#include "xgrad/io/io.hpp"
#include "xgrad/io/text.hpp"
#include "xgrad/check/mlp_check.hpp"
#include "xgrad/nn/random.hpp"

#ifndef XGRAD_DEFAULT_DATA_DIR
#define XGRAD_DEFAULT_DATA_DIR "../shared/datasets/catvnoncat"
#endif

namespace {

using namespace xgrad;
namespace gc = xgrad::mlp_check;
using namespace xgrad::gradcheck_tool;

// The check's memory for m examples of `spec`, before allocating: besides what training_bytes
// counts (parameters, each layer's values and gradients), the data is held three times (the case,
// the tape, the hand-derived reference) and the reference keeps its own four values per unit.
std::uint64_t check_bytes(const MlpSpec& spec, std::size_t m) {
    std::uint64_t units = 0;
    for (std::size_t l = 1; l < spec.dims.size(); ++l) units += spec.dims[l];
    const std::uint64_t extra = 8ull * m * (3ull * (spec.dims[0] + spec.dims.back()) + 4ull * units);
    return training_bytes(spec, m, sizeof(double), 4) + extra;
}

// Refuses a check that cannot fit in the machine's memory, naming the option at fault: the
// network (`network`, e.g. "--layers 3,2,1") when even one example does not fit, else --examples.
void require_check_memory(const MlpSpec& spec, std::size_t m, const std::string& network, bool examples_given) {
    const std::uint64_t have = available_memory();
    if (have == 0) return;
    const std::string available = "the machine has " + std::to_string(have >> 20) + " MiB available";
    if (const std::uint64_t one = check_bytes(spec, 1); one > have)
        throw UsageError(network + ": checking this network needs at least " + std::to_string(one >> 20) +
                         " MiB even for one example; " + available);
    if (const std::uint64_t need = check_bytes(spec, m); need > have)
        throw UsageError("--examples " + std::to_string(m) + (examples_given ? "" : " (the default)") +
                         ": checking this network on " + std::to_string(m) +
                         " examples needs at least " + std::to_string(need >> 20) + " MiB; " + available);
}

// One network with its data, ready to check.
struct Case {
    std::string label;     // group name in the dump, "default", "seed", "model", "layers"
    std::string network;   // "[5,4,3,1] relu,relu,sigmoid"
    std::string data;      // where X and Y come from
    MlpSpec spec;
    Params<double> params;
    Matrix<double> X, Y;
    gc::Regime regime;     // L2 and the fixed dropout masks (none by default)
};

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    std::istringstream in(s);
    while (std::getline(in, cur, sep)) out.push_back(cur);
    if (!s.empty() && s.back() == sep) out.push_back("");
    return out;
}

std::vector<std::size_t> parse_layers(const std::string& s) {
    std::vector<std::size_t> dims;
    for (const std::string& t : split(s, ',')) {
        try {
            dims.push_back(parse_layer_size(t));
        } catch (const UsageError& e) {
            throw UsageError(std::string("--layers: ") + e.what());
        }
    }
    return dims;
}

// --keep-prob: one value or a comma list, each a number in (0, 1].
std::vector<double> parse_keep(const std::string& s) {
    std::vector<double> keep;
    for (const std::string& t : split(s, ',')) {
        std::size_t used = 0;
        double v = 0;
        bool ok = !t.empty() && t.find_first_of(" \t") == std::string::npos;
        if (ok) {
            try {
                v = std::stod(t, &used);
            } catch (const std::exception&) {
                ok = false;
            }
        }
        if (!ok || used != t.size())
            throw UsageError("--keep-prob: '" + t + "' is not a number");
        if (!(v > 0 && v <= 1))
            throw UsageError("--keep-prob: " + t + " is not in (0, 1] (the probability of keeping "
                             "a unit)");
        keep.push_back(v);
    }
    return keep;
}

std::string describe(const MlpSpec& spec) {
    std::string s = "[";
    for (std::size_t i = 0; i < spec.dims.size(); ++i)
        s += (i ? "," : "") + std::to_string(spec.dims[i]);
    s += "] ";
    for (std::size_t i = 0; i < spec.activations.size(); ++i)
        s += std::string(i ? "," : "") + activation_name(spec.activations[i]);
    return s;
}

Matrix<double> first_columns(const Matrix<double>& M, std::size_t m) {
    return xt::view(M, xt::all(), xt::range(std::size_t(0), m));
}

// The first m training examples of the cat dataset (m = 0: all). Throws when m exceeds the dataset.
void real_data(const std::string& dir, std::size_t m, Case& c) {
    const auto data = io::load_catvnoncat<double>(dir);
    const std::size_t have = data.train.X.shape()[1];
    if (m == 0) m = have;
    if (m > have)
        throw UsageError("--examples " + std::to_string(m) + " is larger than the dataset (" +
                         std::to_string(have) + " training examples in " + dir + ")");
    if (data.train.X.shape()[0] != c.spec.dims[0])
        throw UsageError("size mismatch: the network's input size is " +
                         std::to_string(c.spec.dims[0]) + ", the dataset's examples have " +
                         std::to_string(data.train.X.shape()[0]) + " values");
    c.X = first_columns(data.train.X, m);
    c.Y = first_columns(data.train.Y, m);
    c.data = std::to_string(m) + " real examples (the first of " + dir + "/train_catvnoncat.h5)";
}

// Gaussian inputs (or uniform [0,1) "pixels") and 0/1 labels (softmax output: [1,m] class indices
// 0..K-1), reproducible from the seed.
void random_data(std::size_t m, std::uint32_t seed, bool pixels, Case& c) {
    NumpyRandom rng(seed);
    c.X = Matrix<double>::from_shape({c.spec.dims[0], m});
    for (auto& v : c.X) v = pixels ? rng.uniform() : rng.randn();
    if (c.spec.softmax_output()) {
        const std::size_t K = c.spec.dims.back();
        c.Y = Matrix<double>::from_shape({1, m});
        for (auto& v : c.Y) v = double(std::min(K - 1, std::size_t(rng.uniform() * double(K))));
    } else {
        c.Y = Matrix<double>::from_shape({c.spec.dims.back(), m});
        for (auto& v : c.Y) v = rng.uniform() < 0.5 ? 0.0 : 1.0;
    }
    c.data = std::to_string(m) + " random examples (" + (pixels ? "uniform [0,1)" : "gaussian") +
             " inputs, seed " + std::to_string(seed) + ")";
}

// He-initialised weights (the seed's initialize_parameters) and small non-zero biases, so a bias
// that the forward pass adds wrongly would show.
Params<double> random_params(const MlpSpec& spec, std::uint32_t seed) {
    Params<double> p = he_init<double>(spec, seed);
    NumpyRandom rng(seed + 1);
    for (auto& b : p.b)
        for (auto& v : b) v = 0.1 * rng.randn();
    return p;
}

std::vector<Case> build_cases(const Options& o) {
    std::vector<Case> cases;
    if (!o.model.empty()) {
        if (!o.layers.empty() || !o.activations.empty())
            throw UsageError("--model gives the architecture: do not combine it with --layers or "
                             "--activations");
        const io::ModelFile mf = io::load_model(o.model);
        Case c;
        c.label = "model";
        c.spec = mf.spec;
        c.params = mf.params;
        c.network = describe(c.spec) + " from " + o.model;
        const std::string dir = io::find_data_dir(o.data, XGRAD_DEFAULT_DATA_DIR);
        real_data(dir, o.examples_given ? o.examples : 0, c);  // default: the whole training set
        cases.push_back(std::move(c));
        return cases;
    }
    if (!o.layers.empty()) {
        const std::vector<std::size_t> dims = parse_layers(o.layers);
        std::vector<std::string> acts;
        if (!o.activations.empty()) {
            acts = split(o.activations, ',');
        } else if (dims.size() >= 2) {
            // Without --activations: relu hidden layers and the sigmoid output BCE needs.
            acts.assign(dims.size() - 2, "relu");
            acts.push_back("sigmoid");
        }
        Case c;
        c.label = "layers";
        c.spec = MlpSpec(dims, acts);
        c.network = describe(c.spec);
        const std::size_t m = o.examples_given ? o.examples : 10;
        // the tape's, the hand formulas' and the finite differences' copies of every parameter
        require_check_memory(c.spec, m, "--layers " + o.layers, o.examples_given);
        c.params = random_params(c.spec, o.seed);
        if (o.data_given)
            real_data(io::find_data_dir(o.data, XGRAD_DEFAULT_DATA_DIR), m, c);
        else
            random_data(m, o.seed, false, c);
        cases.push_back(std::move(c));
        return cases;
    }
    if (!o.activations.empty()) throw UsageError("--activations needs --layers");

    // The default run: a small network on random data, then the seed's network.
    Case small;
    small.label = "default";
    small.spec = MlpSpec({5, 4, 3, 1}, {"relu", "relu", "sigmoid"});
    small.network = describe(small.spec);
    small.params = random_params(small.spec, o.seed);
    require_check_memory(small.spec, o.examples_given ? o.examples : 10, "the default network", o.examples_given);
    random_data(o.examples_given ? o.examples : 10, o.seed, false, small);
    cases.push_back(std::move(small));

    // The seed's network with the seed's initialisation (np.random.seed(3)), on the first 8
    // training images when the dataset is found, else on random pixels: the check must not
    // depend on files being present, but real images are the better test when they are.
    Case seed;
    seed.label = "seed";
    seed.spec = MlpSpec({12288, 20, 7, 5, 1}, {"relu", "relu", "relu", "sigmoid"});
    seed.network = describe(seed.spec) + ", the seed's He initialisation";
    seed.params = he_init<double>(seed.spec, 3);
    const std::size_t m = o.examples_given ? o.examples : 8;
    require_check_memory(seed.spec, m, "the seed's network", o.examples_given);
    std::string dir;
    try {
        dir = io::find_data_dir(o.data, XGRAD_DEFAULT_DATA_DIR);
    } catch (const DataError&) {
        if (o.data_given) throw;  // a directory the user named must exist
    }
    if (!dir.empty())
        real_data(dir, m, seed);
    else
        random_data(m, o.seed, true, seed);
    cases.push_back(std::move(seed));
    return cases;
}

// ---- output ---------------------------------------------------------------------------------

// PASS / FAIL, with the reason when the numbers alone do not show it.
std::string verdict(const gc::Comparison& c) {
    if (!c.finite) return "FAIL(nan)";
    if (c.compared == 0) return "FAIL(none)";
    if (c.both_zero) return c.pass ? "ZERO(ok)" : "FAIL(zero)";
    return c.pass ? "PASS" : "FAIL";
}

// The regime of each case: --lambd and --keep-prob, the masks drawn once for its m examples with
// NumpyRandom(--mask-seed). A --keep-prob list must fit every network that is checked.
void attach_regimes(const Options& o, std::vector<Case>& cases) {
    const std::vector<double> keep = o.keep_given ? parse_keep(o.keep_prob) : std::vector<double>{};
    for (Case& c : cases) {
        const std::size_t hidden = c.spec.layers() - 1;
        if (o.keep_given && hidden == 0)
            throw UsageError("--keep-prob: " + describe(c.spec) + " has no hidden layer to drop out");
        if (keep.size() > 1 && keep.size() != hidden)
            throw UsageError("--keep-prob: " + std::to_string(keep.size()) + " values, but " +
                             describe(c.spec) + " has " + std::to_string(hidden) +
                             " hidden layers: give one value, or one per hidden layer");
        Regularization reg;
        reg.lambd = o.lambd;
        reg.keep_prob = keep;
        c.regime = gc::make_regime(c.spec, reg, c.X.shape()[1], o.mask_seed);
    }
}

std::string fd_sample_text(const gc::CheckOptions& co) {
    return co.fd.sample == 0 ? std::string("every entry")
                             : "up to " + std::to_string(co.fd.sample) + " random entries per "
                               "tensor (seed " + std::to_string(co.fd.sample_seed) + ")";
}

std::string keep_text(const std::vector<double>& keep) {
    std::string s;
    for (std::size_t i = 0; i < keep.size(); ++i) s += (i ? "," : "") + gnum(keep[i]);
    return s;
}

// Zeros in the masks, and mask entries.
std::pair<std::size_t, std::size_t> dropped(const gc::Regime& r) {
    std::size_t zeros = 0, total = 0;
    for (const auto& d : r.masks)
        for (double v : d) {
            zeros += v == 0 ? 1 : 0;
            ++total;
        }
    return {zeros, total};
}

void print_table(const Case& c, const Options& o, const gc::CheckOptions& co,
                 const gc::Report& r) {
    std::printf("== %s: %s\n", c.label.c_str(), c.network.c_str());
    std::printf("   data: %s\n", c.data.c_str());
    if (c.regime.l2())
        std::printf("   L2: lambd %g, cost = cross-entropy + lambd/(2m)·Σ‖W_l‖²\n",
                    c.regime.reg.lambd);
    if (o.keep_given) {
        const auto [zeros, total] = dropped(c.regime);
        const std::string keep = keep_text(gc::keep_probs(c.spec, c.regime.reg));
        if (c.regime.dropout())
            std::printf("   dropout: keep_prob %s, mask seed %u: masks drawn once by "
                        "draw_masks(NumpyRandom(%u)), fixed for tape, hand and FD; %zu of %zu "
                        "entries dropped\n",
                        keep.c_str(), o.mask_seed, o.mask_seed, zeros, total);
        else
            std::printf("   dropout: keep_prob %s: none\n", keep.c_str());
    }
    std::printf("   finite differences: eps %g, %s; %zu entries evaluated, %zu excluded at relu "
                "kinks\n",
                co.fd.eps, fd_sample_text(co).c_str(), r.fd_evaluated(), r.fd_kinks());
    std::printf("   thresholds: tape vs hand %g, tape vs FD %g%s\n", co.tol_hand, co.tol_fd,
                co.allow_zero ? ", all-zero rows allowed" : "");
    // Two header lines: the groups, then the columns; widths match the rows below.
    std::printf("   %-5s %8s | %-31s | %-31s | %s\n", "", "", "tape vs hand", "tape vs finite diff.",
                "FD entries");
    std::printf("   %-5s %8s | %9s %9s  %-10s | %9s %9s  %-10s | %7s %6s\n", "row", "entries",
                "max abs", "rel err", "result", "max abs", "rel err", "result", "sampled", "kinks");
    for (const gc::Row& row : r.rows) {
        std::printf("   %-5s %8zu | %9s %9s  %-10s | ", row.name().c_str(), row.entries,
                    sci(row.hand.max_abs).c_str(), sci(row.hand.rel_err).c_str(),
                    verdict(row.hand).c_str());
        if (row.has_fd)
            std::printf("%9s %9s  %-10s | %7zu %6zu\n", sci(row.fd.max_abs).c_str(),
                        sci(row.fd.rel_err).c_str(), verdict(row.fd).c_str(), row.fd_evaluated,
                        row.fd_kinks);
        else
            std::printf("%9s %9s  %-10s |\n", "-", "-", "-");
    }
    std::size_t failed = 0;
    std::string names;
    for (const gc::Row& row : r.rows)
        if (!row.pass()) ++failed, names += (names.empty() ? "" : ", ") + row.name();
    std::printf("   largest relative error: tape vs hand %s, tape vs FD %s\n",
                sci(r.max_rel_hand()).c_str(), sci(r.max_rel_fd()).c_str());
    if (failed == 0)
        std::printf("   result: PASS (%zu rows)\n\n", r.rows.size());
    else
        std::printf("   result: FAIL (%zu of %zu rows: %s)\n\n", failed, r.rows.size(),
                    names.c_str());
}

// A tiny JSON writer: numbers at full precision, NaN as null, strings escaped.
std::string jnum(double v) {
    if (!std::isfinite(v)) return "null";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

std::string jstr(const std::string& s) {
    std::string out = "\"";
    for (unsigned char ch : s) {
        switch (ch) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            default:
                if (ch < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", ch);
                    out += buf;
                } else {
                    out += char(ch);
                }
        }
    }
    return out + "\"";
}

const char* jbool(bool b) { return b ? "true" : "false"; }

std::string jcomparison(const gc::Comparison& c) {
    return std::string("{\"max_abs\": ") + jnum(c.max_abs) + ", \"rel_err\": " + jnum(c.rel_err) +
           ", \"compared\": " + std::to_string(c.compared) + ", \"both_zero\": " +
           jbool(c.both_zero) + ", \"finite\": " + jbool(c.finite) + ", \"result\": " +
           jstr(verdict(c)) + ", \"pass\": " + jbool(c.pass) + "}";
}

void print_json(const std::vector<Case>& cases, const gc::CheckOptions& co,
                const std::vector<gc::Report>& reports, bool all_pass) {
    std::ostringstream o;
    o << "{\"pass\": " << jbool(all_pass) << ", \"checks\": [";
    for (std::size_t k = 0; k < cases.size(); ++k) {
        const Case& c = cases[k];
        const gc::Report& r = reports[k];
        o << (k ? ", " : "") << "\n  {\"label\": " << jstr(c.label) << ", \"network\": "
          << jstr(c.network) << ", \"dims\": [";
        for (std::size_t i = 0; i < c.spec.dims.size(); ++i) o << (i ? ", " : "") << c.spec.dims[i];
        o << "], \"activations\": [";
        for (std::size_t i = 0; i < c.spec.activations.size(); ++i)
            o << (i ? ", " : "") << jstr(activation_name(c.spec.activations[i]));
        o << "], \"examples\": " << c.X.shape()[1] << ", \"data\": " << jstr(c.data)
          << ", \"lambd\": " << jnum(c.regime.reg.lambd) << ", \"keep_prob\": [";
        const std::vector<double> keep = gc::keep_probs(c.spec, c.regime.reg);
        for (std::size_t i = 0; i < keep.size(); ++i) o << (i ? ", " : "") << jnum(keep[i]);
        o << "], \"mask_seed\": ";
        if (c.regime.mask_seed >= 0)
            o << c.regime.mask_seed;
        else
            o << "null";
        o << ", \"mask_dropped\": " << dropped(c.regime).first
          << ", \"eps\": " << jnum(co.fd.eps) << ", \"sample\": " << co.fd.sample
          << ", \"sample_seed\": " << co.fd.sample_seed << ", \"tol_hand\": " << jnum(co.tol_hand)
          << ", \"tol_fd\": " << jnum(co.tol_fd) << ", \"allow_zero\": " << jbool(co.allow_zero)
          << ", \"fd_evaluated\": " << r.fd_evaluated() << ", \"fd_kinks\": " << r.fd_kinks()
          << ", \"max_rel_hand\": " << jnum(r.max_rel_hand())
          << ", \"max_rel_fd\": " << jnum(r.max_rel_fd()) << ", \"pass\": " << jbool(r.pass())
          << ", \"rows\": [";
        for (std::size_t i = 0; i < r.rows.size(); ++i) {
            const gc::Row& row = r.rows[i];
            o << (i ? "," : "") << "\n    {\"name\": " << jstr(row.name()) << ", \"quantity\": "
              << jstr(gc::quantity_name(row.quantity)) << ", \"layer\": " << row.layer
              << ", \"entries\": " << row.entries << ", \"hand\": " << jcomparison(row.hand)
              << ", \"fd\": ";
            if (row.has_fd)
                o << jcomparison(row.fd) << ", \"fd_evaluated\": " << row.fd_evaluated
                  << ", \"fd_kinks\": " << row.fd_kinks;
            else
                o << "null";
            o << ", \"pass\": " << jbool(row.pass()) << "}";
        }
        o << "]}";
    }
    o << "]}\n";
    std::cout << o.str();
}

int run(const Options& o) {
    if (o.ops) return run_ops_mode(o);
    // The network check compares with the seed's formulas in double (xgrad::mlp_check is double
    // only; a float model given with --model is read into double): f64 is what it does anyway.
    if (o.dtype != "f32" && o.dtype != "f64") throw UsageError("--dtype: '" + o.dtype + "' is not f32 or f64");
    if (o.dtype_given && o.dtype != "f64")
        throw UsageError("--dtype " + o.dtype +
                         ": the network check (tape vs the seed's formulas vs finite differences) runs in "
                         "f64 only, and checks a float model (--model) in f64; --dtype f32 is for --ops, "
                         "every op of the library in float");
    if (o.examples_given && o.examples == 0) throw UsageError("--examples must be at least 1");
    if (!(o.eps > 0) || !std::isfinite(o.eps)) throw UsageError("--eps must be a positive number");
    if (!(o.tol_hand >= 0) || !(o.tol_fd >= 0))
        throw UsageError("--tol-hand and --tol-fd must be non-negative numbers");
    if (!(o.lambd >= 0) || !std::isfinite(o.lambd))
        throw UsageError("--lambd must be a non-negative number (the L2 factor), got " +
                         gnum(o.lambd));
    if (o.keep_given) parse_keep(o.keep_prob);  // the values, before any file is read
    if (o.mask_seed_given && !o.keep_given)
        throw UsageError("--mask-seed needs --keep-prob (the masks are for dropout)");

    gc::CheckOptions co;
    co.fd.eps = o.eps;
    co.fd.sample = o.sample;
    co.fd.sample_seed = o.seed;
    co.tol_hand = o.tol_hand;
    co.tol_fd = o.tol_fd;
    co.allow_zero = o.allow_zero;

    // Every input is read and validated before any check runs, so bad input never costs a check.
    std::vector<Case> cases = build_cases(o);
    attach_regimes(o, cases);
    std::vector<gc::CheckResult> results;
    std::vector<gc::Report> reports;
    bool all_pass = true;
    for (const Case& c : cases) {
        results.push_back(gc::run_check(c.spec, c.params, c.X, c.Y, co, c.regime));
        reports.push_back(results.back().report);
        all_pass = all_pass && results.back().report.pass();
        if (!o.json) {
            print_table(c, o, co, results.back().report);
            std::fflush(stdout);
        }
    }
    if (o.json)
        print_json(cases, co, reports, all_pass);
    else
        std::printf("gradcheck: %s\n", all_pass ? "every row passes" : "FAILED");
    if (!o.dump.empty()) {
        std::vector<std::string> labels;
        std::vector<const gc::CheckResult*> ptrs;
        for (std::size_t k = 0; k < cases.size(); ++k) {
            labels.push_back(cases[k].label);
            ptrs.push_back(&results[k]);
        }
        gc::write_dump(o.dump, labels, ptrs);
        if (!o.json) std::printf("gradcheck: gradients written to %s\n", o.dump.c_str());
    }
    return all_pass ? 0 : 1;
}

}  // namespace

// A whole number >= 0 (CLI11 alone reads "-1" into an unsigned option as 2^64 - 1).
CLI::Validator whole_number() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
                return "must be a whole number >= 0, got '" + text + "'";
            return {};
        },
        "N");
}

int main(int argc, char** argv) {
    CLI::App app{"gradcheck: the tape's gradients vs the seed's hand-derived formulas vs finite "
                 "differences, per quantity and layer; with --ops, every op of the library vs "
                 "finite differences. Exit 0: every row passes; 1: a row fails; 2: bad input."};
    Options o;
    app.add_option("--layers", o.layers, "layer sizes n_x,n_1,...,n_L, e.g. 5,4,3,1 (random data)");
    app.add_option("--activations", o.activations,
                   "one per layer: hidden relu, sigmoid or tanh; the output sigmoid or softmax "
                   "(default: relu...,sigmoid)");
    auto* ex = app.add_option("--examples", o.examples,
                              "examples m (default: 10 random; 8 for the seed's network; the whole "
                              "training set for --model)")
                  ->check(whole_number());
    app.add_option("--seed", o.seed, "seeds the random data, weights and FD sample (default 1)")->check(whole_number());
    app.add_option("--model", o.model, "a saved model (model.h5), checked on the real dataset");
    auto* data = app.add_option("--data", o.data,
                                "dataset directory (default: $XGRAD_DATA, then " +
                                    std::string(XGRAD_DEFAULT_DATA_DIR) + ")");
    app.add_option("--eps", o.eps, "finite-difference step (default 1e-7; --ops: 1e-6 for f64, 1e-3 for f32)");
    app.add_option("--sample", o.sample,
                   "FD entries per tensor; smaller tensors are done whole; 0 = every entry "
                   "(default 200; --ops: every entry)")
        ->check(whole_number());
    app.add_option("--tol-hand", o.tol_hand, "threshold, tape vs hand (default 1e-12)");
    app.add_option("--tol-fd", o.tol_fd,
                   "threshold, tape vs finite differences (default 2e-7; --ops: 1e-6 for f64, "
                   "2e-2 for f32)");
    app.add_flag("--allow-zero", o.allow_zero, "let rows where both gradients are zero pass");
    app.add_option("--lambd", o.lambd,
                   "L2 factor: cost = cross-entropy + lambd/(2m)·Σ‖W‖² (default 0, >= 0)");
    auto* keep = app.add_option("--keep-prob", o.keep_prob,
                                "dropout after the hidden layers: one keep probability or one per "
                                "hidden layer, comma separated, each in (0,1]");
    auto* mseed = app.add_option("--mask-seed", o.mask_seed,
                                 "the dropout masks are drawn once with NumpyRandom(S) and held "
                                 "fixed (default 1)")
                      ->check(whole_number());
    auto* json = app.add_flag("--json", o.json, "print the results as JSON");
    auto* dump = app.add_option("--dump", o.dump, "write every gradient (tape, hand, FD) to this HDF5 file");
    app.add_flag("--ops", o.ops,
                 "check every op of the library on random inputs of several shapes (the generic "
                 "xgrad::gradcheck), one row per op; takes --dtype, --eps, --tol-fd, --sample, "
                 "--seed, --allow-zero");
    auto* dtype = app.add_option("--dtype", o.dtype,
                                 "--ops: f64 (default; eps 1e-6, tolerance 1e-6) or f32 (eps 1e-3, "
                                 "tolerance 2e-2); the network check is f64 only");
    return cli::run("gradcheck", app, argc, argv, [&] {
        o.examples_given = ex->count() > 0;
        o.data_given = data->count() > 0;
        o.keep_given = keep->count() > 0;
        o.mask_seed_given = mseed->count() > 0;
        o.dtype_given = dtype->count() > 0;
        o.eps_given = app.get_option("--eps")->count() > 0;
        o.tol_fd_given = app.get_option("--tol-fd")->count() > 0;
        o.sample_given = app.get_option("--sample")->count() > 0;
        for (const char* name : {"--layers", "--activations", "--examples", "--model", "--data",
                                 "--tol-hand", "--lambd", "--keep-prob", "--mask-seed"})
            if (app.get_option(name)->count() > 0) o.network_only.push_back(name);
        if (json->count() > 0) o.network_only.push_back("--json");
        if (dump->count() > 0) o.network_only.push_back("--dump");
        return run(o);
    }, "(are --layers or --examples far larger than meant?)");
}
