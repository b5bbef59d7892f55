#include "xgrad/io/checkpoint.hpp"

#include "h5.hpp"
#include "xgrad/io/text.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace xgrad::io {

using namespace h5;

namespace {

constexpr const char* kFormat = "xgrad-checkpoint-1";

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}
const char* const kNotACheckpoint = "expected a checkpoint written by --checkpoint-every";

// A checkpoint's contents as the isolated reader sent them, whose 'format' attribute says it is one.
struct Reader {
    std::string path;
    Contents c;

    Reader(const std::string& p, bool datasets) : path(p), c(isolated::read_h5(p, {true, false, datasets, false, {}})) {
        if (!find_attr(c, "format") || text("format") != kFormat)
            fail("not an xgrad checkpoint (no format attribute '" + std::string(kFormat) + "')");
    }

    [[noreturn]] void fail(const std::string& what) const { throw DataError(path + ": " + what); }

    std::string text(const char* name) {
        const auto v = read_attr_strings(c, name, kNotACheckpoint);
        if (v.size() != 1) fail(std::string("attribute '") + name + "': expected one string, found " + std::to_string(v.size()));
        return v[0];
    }
    std::vector<std::string> texts(const char* name) { return read_attr_strings(c, name, kNotACheckpoint); }
    long long integer(const char* name) {
        const auto v = read_attr_ints(c, name, kNotACheckpoint);
        if (v.size() != 1) fail(std::string("attribute '") + name + "': expected one integer, found " + std::to_string(v.size()));
        return v[0];
    }
    template <class T>
    Matrix<T> matrix(const std::string& name, std::vector<std::uint64_t> want) {
        return read_matrix<T>(c, name, want, sizeof(T), "");
    }
};

}  // namespace

template <class T>
void save_checkpoint(const std::string& path, const Checkpoint<T>& c) {
    write_atomically(path, "checkpoint", [&](H5::H5File& f) {
        H5::Group root = f.openGroup("/");
        write_attr_string(root, "format", kFormat);
        write_attr_string(root, "dtype", Stored<T>::name);
        write_attr_int(root, "epoch", c.state.epoch);
        write_attr_int(root, "steps", c.state.steps);
        write_attr_string(root, "dropout_rng", c.state.dropout_rng);
        std::vector<std::string> settings;
        for (const auto& [k, v] : c.settings) settings.push_back(k + "=" + v);
        write_attr_strings(root, "settings", settings);
        write_attr_int(root, "layers", (long long)c.state.params.W.size());
        write_attr_int(root, "moments", (long long)c.state.first_moments.size());
        write_attr_int(root, "second_moments", (long long)c.state.second_moments.size());
        for (std::size_t l = 0; l < c.state.params.W.size(); ++l) {
            write_matrix(f, "W" + std::to_string(l + 1), c.state.params.W[l]);
            write_matrix(f, "b" + std::to_string(l + 1), c.state.params.b[l]);
        }
        for (std::size_t k = 0; k < c.state.first_moments.size(); ++k)
            write_matrix(f, "moment1_" + std::to_string(k), c.state.first_moments[k]);
        for (std::size_t k = 0; k < c.state.second_moments.size(); ++k)
            write_matrix(f, "moment2_" + std::to_string(k), c.state.second_moments[k]);
        write_numbers(f, "costs", c.costs);
    });
}

std::string checkpoint_dtype(const std::string& path) {
    Reader r(path, false);
    const std::string d = r.text("dtype");
    if (d != "f32" && d != "f64") r.fail("dtype '" + printable(d) + "' is neither f32 nor f64");
    return d;
}

namespace {

template <class T>
Checkpoint<T> read_checkpoint(const std::string& path) {
    Reader r(path, true);
    if (r.text("dtype") != Stored<T>::name)
        r.fail("the checkpoint holds " + printable(r.text("dtype")) + " values, not " + Stored<T>::name);
    Checkpoint<T> c;
    c.state.epoch = r.integer("epoch");
    c.state.steps = r.integer("steps");
    // (an optimiser counts steps in a long long: a damaged count near its end would overflow)
    const long long epoch = c.state.epoch, steps = c.state.steps;
    if (epoch < 0 || steps < 0 || steps > (1LL << 53))
        r.fail("epoch " + std::to_string(c.state.epoch) + " or step count " + std::to_string(c.state.steps) +
               " out of range");
    c.state.dropout_rng = r.text("dropout_rng");
    for (const std::string& line : r.texts("settings")) {
        const auto eq = line.find('=');
        if (eq == std::string::npos) r.fail("setting '" + printable(line) + "' is not name=value");
        c.settings.emplace_back(line.substr(0, eq), line.substr(eq + 1));
    }
    const long long layers = r.integer("layers"), m1 = r.integer("moments"), m2 = r.integer("second_moments");
    if (layers < 1 || layers > 1000)
        r.fail("layers " + std::to_string(layers) + " out of range (1 to 1000)");
    // gd keeps no moments, momentum a velocity per parameter, adam also a second moment each
    const bool counts_fit = (m1 == 0 || m1 == 2 * layers) && (m2 == 0 || m2 == 2 * layers) && !(m2 > 0 && m1 == 0);
    if (!counts_fit)
        r.fail(std::to_string(m1) + " first and " + std::to_string(m2) + " second moments for " + std::to_string(layers) +
               " layers: an optimiser keeps none or one of each per parameter (" + std::to_string(2 * layers) + ")");
    // each layer's input is the previous layer's output; moments are checked against the
    // optimiser's parameters when a Trainer restores them
    std::uint64_t inputs = 0;
    for (long long l = 1; l <= layers; ++l) {
        c.state.params.W.push_back(r.template matrix<T>("W" + std::to_string(l), {0, inputs}));
        const std::uint64_t outputs = c.state.params.W.back().shape()[0];
        c.state.params.b.push_back(r.template matrix<T>("b" + std::to_string(l), {outputs, 1}));
        inputs = outputs;
    }
    for (long long k = 0; k < m1; ++k) c.state.first_moments.push_back(r.template matrix<T>("moment1_" + std::to_string(k), {0, 0}));
    for (long long k = 0; k < m2; ++k) {
        c.state.second_moments.push_back(r.template matrix<T>("moment2_" + std::to_string(k), {0, 0}));
        // Adam's second moments are averages of squares: a negative one would make its step NaN
        for (const T v : c.state.second_moments.back())
            if (!(v >= 0))
                r.fail("'moment2_" + std::to_string(k) + "' holds " + number(double(v)) +
                       ": a second moment (an average of squares) is never negative");
    }
    c.costs = read_numbers(r.c, "costs");
    if ((long long)c.costs.size() != c.state.epoch)
        r.fail("holds " + std::to_string(c.costs.size()) + " costs for " + std::to_string(c.state.epoch) + " epochs");
    // a cost is a cross-entropy plus an L2 penalty: finite and >= 0
    for (std::size_t i = 0; i < c.costs.size(); ++i)
        if (!(c.costs[i] >= 0) || !std::isfinite(c.costs[i]))
            r.fail("the cost of iteration " + std::to_string(i) + " is " + number(c.costs[i]) +
                   ", not a cost (finite, >= 0)");
    try {
        NumpyRandom rng;
        rng.set_state(c.state.dropout_rng);
    } catch (const DataError& e) {
        r.fail(std::string("attribute 'dropout_rng': ") + e.what());
    }
    return c;
}

}  // namespace

template <class T>
Checkpoint<T> load_checkpoint(const std::string& path) {
    return read_checkpoint<T>(path);
}

template void save_checkpoint<float>(const std::string&, const Checkpoint<float>&);
template void save_checkpoint<double>(const std::string&, const Checkpoint<double>&);
template Checkpoint<float> load_checkpoint<float>(const std::string&);
template Checkpoint<double> load_checkpoint<double>(const std::string&);

}  // namespace xgrad::io
