#define BOOST_TEST_MODULE damaged
#include <boost/test/unit_test.hpp>

// Issue 7 (reliability): a generated corpus of damaged files runs through the loaders (the
// digits loader and io::inspect_parameters included). Each file
// either loads valid data or gives a clear error (a DataError/ShapeError/UsageError, one line,
// naming the file); nothing crashes, hangs, throws anything else or prints on its own.
//
// The test writes small valid files itself (a dataset in the catvnoncat layout with the HDF5 C++
// API, models with io::save_model, checkpoints with io::save_checkpoint, PNG/JPEG/BMP with stb_image_write), then damages copies of
// them with a fixed seed: truncation at random offsets, 1/8/64 random bit flips, zero-filled
// ranges, plus hand-made files of wrong types, ranks, shapes and values. Every file is loaded in
// a forked child, so that a crash (a signal), a hang (SIGALRM after 10 s) or an abort is counted
// instead of ending the test. The child reports through its exit code:
//   0 loaded valid data, 2 clear error, 3 loaded data that is not valid, 4 other exception,
//   6 error message not naming the file or not one line
// and anything the loader printed to stderr (HDF5's error stack, say) is a failure too.
// The library itself reads every file in its own helper process (lib/io/isolate.hpp), which is
// what protects the programs: a crash or hang of HDF5 there is the library's clear line, counted
// as such ("caught by the library's isolated reader" in the log). The harness's own fork stays as
// the test's safety net. The last test cases check the isolation itself.

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iomanip>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <thread>
#include <tuple>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <H5Cpp.h>

#include "needs.hpp"
#include "xgrad/io/checkpoint.hpp"
#include "xgrad/io/io.hpp"
#include "xgrad/io/parameters.hpp"
#include "xgrad/nn/layers.hpp"
#include "xgrad/nn/random.hpp"

#ifndef XGRAD_DEFAULT_DATA_DIR
#define XGRAD_DEFAULT_DATA_DIR ""
#endif
#ifndef XGRAD_DEFAULT_DIGITS_DIR
#define XGRAD_DEFAULT_DIGITS_DIR ""
#endif

using namespace xgrad;
namespace fs = std::filesystem;

#if defined(__SANITIZE_ADDRESS__)
// The sanitizer build (-DXGRAD_SANITIZE=ON): RLIMIT_AS cannot work under ASan, whose shadow memory
// is mapped up front, so its allocator enforces the 4 GiB instead: a bigger allocation stops the
// child with an allocation-size-too-big report, a failure as the bad_alloc is in the normal build.
// allocator_may_return_null: HDF5 mallocs damaged sizes (17 GB for a flipped object header
// chunk size) and handles the NULL with an error, as the normal build's malloc returns NULL;
// a too-big operator new (the loaders' own allocations) still stops the child with a report.
extern "C" const char* __asan_default_options() {
    return "max_allocation_size_mb=4096:allocator_may_return_null=1";
}
#endif

namespace {

using Bytes = std::vector<unsigned char>;

// ---- the loaders under test ---------------------------------------------------------------------

enum class Loader { dataset, model, checkpoint, image, digits, parameters };
const char* loader_name(Loader l) {
    switch (l) {
        case Loader::digits: return "io::load_digits_set";
        case Loader::parameters: return "io::inspect_parameters";
        case Loader::dataset: return "io::load_image_set";
        case Loader::model: return "io::load_model";
        case Loader::checkpoint: return "io::load_checkpoint";
        case Loader::image: return "io::load_image";
    }
    return "?";
}

// The size images are read at: small, and different from every base image (so resizing runs).
constexpr std::size_t kImgH = 8, kImgW = 8, kImgC = 3;

// Loaded data is "valid" when it keeps every promise the loader documents.
bool valid_set(const io::ImageSet<double>& s) {
    const std::size_t n_x = s.height * s.width * s.channels;
    if (n_x == 0 || s.X.shape()[0] != n_x) return false;
    const std::size_t m = s.X.shape()[1];
    if (m == 0 || s.Y.shape()[0] != 1 || s.Y.shape()[1] != m) return false;
    if (s.pixels.size() != m * n_x || s.classes.size() < 2) return false;
    for (double v : s.X)
        if (!(v >= 0 && v <= 1)) return false;
    for (double v : s.Y)
        if (v != 0 && v != 1) return false;
    return true;
}

bool valid_digits(const io::LabeledSet<double>& s) {
    const std::size_t n_x = s.height * s.width, K = s.classes.size();
    if (n_x == 0 || s.X.shape()[0] != n_x || K < 2) return false;
    const std::size_t m = s.X.shape()[1];
    if (m == 0 || s.Y.shape()[0] != 1 || s.Y.shape()[1] != m || s.pixels.size() != m * n_x) return false;
    for (double v : s.X)
        if (!(v >= 0 && v <= 1)) return false;
    for (double v : s.Y)
        if (!(v >= 0 && v < double(K) && v == std::floor(v))) return false;
    return true;
}

bool valid_parameters(const io::SavedParameters& p) {
    if (p.dtype != "f32" && p.dtype != "f64") return false;
    for (const auto& [name, shape] : p.shapes)
        if (name.empty() || shape.rows == 0 || shape.cols == 0) return false;
    return true;
}

bool valid_model(const io::ModelFile& mf) {
    const std::size_t L = mf.spec.layers();
    if (L == 0 || mf.spec.dims.size() != L + 1) return false;
    if (mf.params.W.size() != L || mf.params.b.size() != L) return false;
    if (mf.dtype != "f32" && mf.dtype != "f64") return false;
    for (std::size_t l = 1; l <= L; ++l) {
        const auto& W = mf.params.W[l - 1];
        const auto& b = mf.params.b[l - 1];
        if (W.shape()[0] != mf.spec.dims[l] || W.shape()[1] != mf.spec.dims[l - 1]) return false;
        if (b.shape()[0] != mf.spec.dims[l] || b.shape()[1] != 1) return false;
        for (double v : W)
            if (!std::isfinite(v)) return false;
        for (double v : b)
            if (!std::isfinite(v)) return false;
    }
    if (!mf.image_shape.empty()) {
        if (mf.image_shape.size() != 3) return false;
        if (mf.image_shape[0] * mf.image_shape[1] * mf.image_shape[2] != mf.spec.dims[0]) return false;
    }
    return true;
}

template <class T>
bool finite(const Matrix<T>& m) {
    for (T v : m)
        if (!std::isfinite(v)) return false;
    return true;
}

// A checkpoint is valid when its layers chain (each W's inputs are the previous W's outputs, each
// b one column of W's outputs), every value is finite and the counts agree.
template <class T>
bool valid_checkpoint(const io::Checkpoint<T>& c) {
    const auto& p = c.state.params;
    if (p.W.empty() || p.W.size() != p.b.size()) return false;
    for (std::size_t l = 0; l < p.W.size(); ++l) {
        const std::size_t rows = p.W[l].shape()[0];
        if (rows == 0 || p.W[l].shape()[1] == 0) return false;
        if (l > 0 && p.W[l].shape()[1] != p.W[l - 1].shape()[0]) return false;
        if (p.b[l].shape()[0] != rows || p.b[l].shape()[1] != 1) return false;
        if (!finite(p.W[l]) || !finite(p.b[l])) return false;
    }
    for (const auto* ms : {&c.state.first_moments, &c.state.second_moments}) {
        if (ms->size() > 2 * p.W.size()) return false;
        for (const auto& m : *ms)
            if (!finite(m)) return false;
    }
    if (c.state.epoch < 0 || c.state.steps < 0 || (long long)c.costs.size() != c.state.epoch) return false;
    for (const auto& [name, value] : c.settings)
        if (name.find('=') != std::string::npos) return false;
    NumpyRandom rng;
    try {
        rng.set_state(c.state.dropout_rng);
    } catch (const DataError&) {
        return false;
    }
    return true;
}

// What the child reports.
enum Code : int { kLoaded = 0, kClearError = 2, kInvalidData = 3, kOtherException = 4, kUnclear = 6 };

// Runs in the child: the loader on a new thread (HDF5 keeps its error-printing switch per thread,
// so a loader must silence it on whatever thread calls it), the message written to `out_fd`.
int child_load(Loader loader, const std::string& path, int out_fd) {
    int code = kOtherException;
    std::string msg;
    std::thread t([&] {
        try {
            bool ok = false;
            switch (loader) {
                case Loader::dataset:
                    ok = valid_set(io::load_image_set<double>(path, "train_set_x", "train_set_y"));
                    break;
                case Loader::model: ok = valid_model(io::load_model(path)); break;
                case Loader::digits:
                    ok = valid_digits(io::load_digits_set<double>(path, "train_set_x", "train_set_y"));
                    break;
                case Loader::parameters: ok = valid_parameters(io::inspect_parameters(path)); break;
                case Loader::checkpoint:
                    ok = io::checkpoint_dtype(path) == "f32"
                             ? valid_checkpoint(io::load_checkpoint<float>(path))
                             : valid_checkpoint(io::load_checkpoint<double>(path));
                    break;
                case Loader::image:
                    ok = io::load_image(path, kImgH, kImgW, kImgC).size() == kImgH * kImgW * kImgC;
                    break;
            }
            code = ok ? kLoaded : kInvalidData;
            msg = ok ? "" : "loaded data that is not valid";
        } catch (const DataError& e) {
            msg = e.what();
            code = kClearError;
        } catch (const ShapeError& e) {
            msg = e.what();
            code = kClearError;
        } catch (const UsageError& e) {
            msg = e.what();
            code = kClearError;
        } catch (const std::exception& e) {
            msg = std::string("other exception: ") + e.what();
            code = kOtherException;
        } catch (...) {
            msg = "an exception not derived from std::exception";
            code = kOtherException;
        }
        if (code == kClearError &&
            (msg.find(path) == std::string::npos || msg.find('\n') != std::string::npos))
            code = kUnclear;
    });
    t.join();
    std::size_t off = 0;
    while (off < msg.size()) {
        const ssize_t n = ::write(out_fd, msg.data() + off, msg.size() - off);
        if (n <= 0) break;
        off += std::size_t(n);
    }
    return code;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

constexpr unsigned kChildSeconds = 20;  // more than the reader's own limit, set below

struct Outcome {
    enum Kind { loaded, clear_error, failure } kind = failure;
    std::string detail;  // the error message, or what went wrong
};

// Loads `path` with `loader` in a forked child and classifies what happened.
Outcome run_in_child(Loader loader, const std::string& path, const fs::path& scratch) {
    const std::string out_file = (scratch / "child.out").string();
    const std::string err_file = (scratch / "child.err").string();
    std::fflush(nullptr);
    std::cout.flush();
    std::cerr.flush();
    const pid_t pid = ::fork();
    if (pid < 0) return {Outcome::failure, "fork failed"};
    if (pid == 0) {
        // Boost.Test's signal handlers were inherited: the child must die of its signals.
        for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGALRM, SIGTRAP, SIGSYS, SIGPIPE})
            std::signal(sig, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        const int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (out < 0 || err < 0 || ::dup2(err, 2) < 0) ::_exit(120);
        // A damaged size must not be able to take the machine's memory: past 4 GiB of address
        // space an allocation fails (and is reported as an "other exception") instead.
#if !defined(__SANITIZE_ADDRESS__)  // ASan maps terabytes of shadow: see __asan_default_options
        const rlimit as{rlim_t(4) << 30, rlim_t(4) << 30};
        ::setrlimit(RLIMIT_AS, &as);
#endif
        ::alarm(kChildSeconds);
        const int code = child_load(loader, path, out);
        ::_exit(code);  // no atexit handlers, no flushing of the parent's buffers
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const std::string msg = slurp(out_file);
    std::string noise = slurp(err_file);
#if defined(__SANITIZE_ADDRESS__)
    // The sanitizer's own note for a malloc it answers with NULL (allocator_may_return_null; the
    // normal build's malloc returns NULL silently) is not output of the loader.
    for (std::size_t at; (at = noise.find("WARNING: AddressSanitizer failed to allocate")) != std::string::npos;) {
        const std::size_t from = noise.rfind('\n', at), to = noise.find('\n', at);
        noise.erase(from == std::string::npos ? 0 : from + 1,
                    to == std::string::npos ? std::string::npos : to - (from == std::string::npos ? 0 : from + 1) + 1);
    }
#endif
    Outcome o;
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        o.detail = sig == SIGALRM ? "hung: killed after " + std::to_string(kChildSeconds) + " s"
                                  : std::string("crashed: signal ") + std::to_string(sig) + " (" +
                                        strsignal(sig) + ")";
        return o;
    }
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (!noise.empty()) {
        o.detail = "printed to stderr (exit " + std::to_string(code) + "): " + noise.substr(0, 400);
        return o;
    }
    switch (code) {
        case kLoaded: o.kind = Outcome::loaded; break;
        case kClearError: o.kind = Outcome::clear_error; o.detail = msg; break;
        case kInvalidData: o.detail = "loaded invalid data"; break;
        case kOtherException: o.detail = msg; break;
        case kUnclear: o.detail = "unclear message (no file name, or several lines): " + msg; break;
        default: o.detail = "exit " + std::to_string(code) + ": " + msg; break;
    }
    return o;
}

// ---- bytes and damage ---------------------------------------------------------------------------

Bytes read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const Bytes& b) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

// std::mt19937_64 is specified bit for bit; `below` avoids the distributions, which are not.
struct Rng {
    std::mt19937_64 g;
    explicit Rng(std::uint64_t seed) : g(seed) {}
    std::size_t below(std::size_t n) { return n ? std::size_t(g() % n) : 0; }
};

Bytes truncated(const Bytes& b, std::size_t keep) { return Bytes(b.begin(), b.begin() + long(keep)); }

Bytes flipped(Bytes b, int flips, Rng& rng) {
    for (int i = 0; i < flips; ++i) b[rng.below(b.size())] ^= std::uint8_t(1u << rng.below(8));
    return b;
}

Bytes zeroed(Bytes b, std::size_t from, std::size_t len) {
    for (std::size_t i = from; i < std::min(b.size(), from + len); ++i) b[i] = 0;
    return b;
}

// ---- valid base files ---------------------------------------------------------------------------

// A dataset file in the catvnoncat layout (as h5py wrote it: contiguous uint8 images [m,h,w,c],
// int64 labels [m], 7-byte fixed strings list_classes), with knobs for the wrong variants.
struct SetSpec {
    std::vector<hsize_t> x_dims{5, 6, 5, 3};
    const H5::DataType* x_type = &H5::PredType::STD_U8LE;
    std::vector<hsize_t> y_dims{5};
    const H5::DataType* y_type = &H5::PredType::STD_I64LE;
    std::vector<long long> y{1, 0, 1, 1, 0};
    enum class Classes { fixed, vlen, ints, one, none } classes = Classes::fixed;
    bool with_x = true, with_y = true;
    bool write_x = true;     // false: the dataset exists but its data was never written
    bool chunked = false;    // chunked + deflate instead of contiguous
    bool x_scalar = false;   // a scalar dataspace instead of [m,h,w,c]
    bool x_null = false;     // an H5S_NULL dataspace
    bool x_compound = false;
};

std::uint8_t pixel(std::size_t k) { return std::uint8_t((k * 37 + 11) % 256); }

void write_set(const std::string& path, const SetSpec& s) {
    H5::H5File f(path, H5F_ACC_TRUNC);
    if (s.with_x) {
        H5::DSetCreatPropList pl;
        if (s.chunked && !s.x_scalar && !s.x_null) {
            std::vector<hsize_t> chunk = s.x_dims;
            chunk[0] = 1;
            for (auto& c : chunk) c = std::max<hsize_t>(1, std::min<hsize_t>(c, 64));
            pl.setChunk(int(chunk.size()), chunk.data());
            pl.setDeflate(6);
        }
        const H5::DataSpace sp = s.x_null     ? H5::DataSpace(H5S_NULL)
                                 : s.x_scalar ? H5::DataSpace(H5S_SCALAR)
                                              : H5::DataSpace(int(s.x_dims.size()), s.x_dims.data());
        std::size_t n = 1;
        if (!s.x_scalar && !s.x_null)
            for (auto d : s.x_dims) n *= std::size_t(d);
        if (s.x_compound) {
            H5::CompType t(std::size_t(2));
            t.insertMember("a", 0, H5::PredType::NATIVE_UINT8);
            t.insertMember("b", 1, H5::PredType::NATIVE_UINT8);
            H5::DataSet d = f.createDataSet("train_set_x", t, sp, pl);
            if (s.write_x) {
                std::vector<std::uint8_t> v(2 * n, 7);
                d.write(v.data(), t);
            }
        } else {
            H5::DataSet d = f.createDataSet("train_set_x", *s.x_type, sp, pl);
            if (s.write_x && !s.x_null) {
                std::vector<double> v(n);
                for (std::size_t k = 0; k < n; ++k) v[k] = pixel(k);
                d.write(v.data(), H5::PredType::NATIVE_DOUBLE);
            }
        }
    }
    if (s.with_y) {
        H5::DataSet d = f.createDataSet("train_set_y", *s.y_type,
                                        H5::DataSpace(int(s.y_dims.size()), s.y_dims.data()));
        std::size_t n = 1;
        for (auto v : s.y_dims) n *= std::size_t(v);
        std::vector<long long> y(n, 0);
        for (std::size_t i = 0; i < n && i < s.y.size(); ++i) y[i] = s.y[i];
        d.write(y.data(), H5::PredType::NATIVE_LLONG);
    }
    using C = SetSpec::Classes;
    if (s.classes == C::fixed || s.classes == C::one) {
        const std::string names = std::string("non-cat") + std::string("cat\0\0\0\0", 7);
        const H5::StrType t(H5::PredType::C_S1, 7);
        const hsize_t n = s.classes == C::one ? 1 : 2;
        f.createDataSet("list_classes", t, H5::DataSpace(1, &n)).write(names.data(), t);
    } else if (s.classes == C::vlen) {
        const H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
        const char* names[2] = {"non-cat", "cat"};
        const hsize_t n = 2;
        f.createDataSet("list_classes", t, H5::DataSpace(1, &n)).write(names, t);
    } else if (s.classes == C::ints) {
        const int v[2] = {0, 1};
        const hsize_t n = 2;
        f.createDataSet("list_classes", H5::PredType::STD_I32LE, H5::DataSpace(1, &n))
            .write(v, H5::PredType::NATIVE_INT);
    }
}

// The base model: 48 inputs (a 4x4x3 image), two hidden layers, a sigmoid output.
const MlpSpec& base_spec() {
    static const MlpSpec spec({48, 5, 3, 1}, std::vector<std::string>{"relu", "tanh", "sigmoid"});
    return spec;
}

template <class T>
void write_model(const std::string& path) {
    io::ModelInfo info;
    info.image_shape = {4, 4, 3};
    info.classes = {"non-cat", "cat"};
    info.numbers = {{"lambd", 0.7}, {"keep_prob", 0.86}};
    info.texts = {{"optimizer", "adam"}};
    io::save_model(path, base_spec(), he_init<T>(base_spec(), 5), 0.0075, 2500, 3u, 0.125, info);
}

// The base checkpoint: the base model's parameters, Adam's two moments, 7 epochs (28 steps) done.
template <class T>
void write_checkpoint(const std::string& path) {
    io::Checkpoint<T> c;
    c.state.params = he_init<T>(base_spec(), 5);
    for (std::size_t l = 0; l < c.state.params.W.size(); ++l)
        for (const Matrix<T>* m : {&c.state.params.W[l], &c.state.params.b[l]}) {
            c.state.first_moments.push_back(*m * T(0.1));
            c.state.second_moments.push_back(*m * *m);
        }
    c.state.epoch = 7;
    c.state.steps = 28;
    NumpyRandom rng(1);
    for (int i = 0; i < 10; ++i) rng.uniform();
    c.state.dropout_rng = rng.state();
    c.settings = {{"optimizer", "adam"}, {"learning-rate", "0.0075"}, {"keep-prob", "0.8,0.9"}};
    c.costs = {0.69, 0.6, 0.55, 0.5, 0.45, 0.4, 0.35};
    io::save_checkpoint(path, c);
}

// An edit of a copy of a valid model or checkpoint (its file and root group), and a 2-D space.
using Edit = std::function<void(H5::H5File&, H5::Group&)>;
H5::DataSpace dims2(hsize_t rows, hsize_t cols) {
    const hsize_t d[2] = {rows, cols};
    return H5::DataSpace(2, d);
}

// Edits a copy of a valid model (or checkpoint) in place with the HDF5 C++ API (the wrong-type/shape variants).
void edit_model(const std::string& path, const std::function<void(H5::H5File&, H5::Group&)>& edit) {
    H5::H5File f(path, H5F_ACC_RDWR);
    H5::Group root = f.openGroup("/");
    edit(f, root);
}

void replace_attr(H5::Group& g, const char* name, const H5::DataType& t, const H5::DataSpace& sp,
                  const H5::DataType& mem, const void* data) {
    if (g.attrExists(name)) g.removeAttr(name);
    g.createAttribute(name, t, sp).write(mem, data);
}

void replace_dataset(H5::H5File& f, const std::string& name, const H5::DataType& t,
                     const H5::DataSpace& sp, const std::vector<double>& values,
                     const H5::DSetCreatPropList& pl = H5::DSetCreatPropList::DEFAULT) {
    if (f.nameExists(name)) f.unlink(name);
    H5::DataSet d = f.createDataSet(name, t, sp, pl);
    if (!values.empty()) d.write(values.data(), H5::PredType::NATIVE_DOUBLE);
}

// One value of a stored weight set to v (NaN, Inf).
void poison(H5::H5File& f, const std::string& name, std::size_t index, double v) {
    H5::DataSet d = f.openDataSet(name);
    const H5::DataSpace sp = d.getSpace();
    std::vector<double> all(std::size_t(sp.getSimpleExtentNpoints()));
    d.read(all.data(), H5::PredType::NATIVE_DOUBLE);
    all.at(index) = v;
    d.write(all.data(), H5::PredType::NATIVE_DOUBLE);
}

// Every string attribute of the root group made variable-length, as xgrad wrote them before it
// wrote fixed-length strings only: the old files' layout, whose global heap HDF5 1.10 trusts.
void make_strings_variable(const std::string& path) {
    H5::H5File f(path, H5F_ACC_RDWR);
    H5::Group g = f.openGroup("/");
    std::vector<std::string> names;
    for (int i = 0; i < g.getNumAttrs(); ++i) {
        const H5::Attribute a = g.openAttribute(unsigned(i));
        if (a.getTypeClass() == H5T_STRING) names.push_back(a.getName());
    }
    for (const std::string& name : names) {
        H5::Attribute a = g.openAttribute(name);
        const H5::DataSpace sp = a.getSpace();
        const H5::StrType ft = a.getStrType();
        const std::size_t n = std::size_t(sp.getSimpleExtentNpoints()), size = ft.getSize();
        std::vector<char> buf(n * size + 1, '\0');
        a.read(ft, buf.data());
        std::vector<std::string> v;
        for (std::size_t i = 0; i < n; ++i) v.emplace_back(buf.data() + i * size, strnlen(buf.data() + i * size, size));
        std::vector<const char*> p;
        for (const auto& x : v) p.push_back(x.c_str());
        a.close();
        g.removeAttr(name);
        const H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
        g.createAttribute(name, t, sp).write(t, p.data());
    }
}

// Images: a deterministic colourful pattern.
Bytes pattern(int w, int h, int c) {
    Bytes px(std::size_t(w) * h * c);
    for (std::size_t i = 0; i < px.size(); ++i) px[i] = std::uint8_t((i * 29 + (i / 7) * 13) % 256);
    return px;
}

void append_to(void* ctx, void* data, int size) {
    auto* b = static_cast<Bytes*>(ctx);
    b->insert(b->end(), static_cast<unsigned char*>(data), static_cast<unsigned char*>(data) + size);
}

Bytes png(int w, int h, int c) {
    Bytes out;
    const Bytes px = pattern(w, h, c);
    BOOST_REQUIRE(stbi_write_png_to_func(append_to, &out, w, h, c, px.data(), w * c) != 0);
    return out;
}
Bytes jpeg(int w, int h, int c, int quality) {
    Bytes out;
    const Bytes px = pattern(w, h, c);
    BOOST_REQUIRE(stbi_write_jpg_to_func(append_to, &out, w, h, c, px.data(), quality) != 0);
    return out;
}
Bytes bmp(int w, int h, int c) {
    Bytes out;
    const Bytes px = pattern(w, h, c);
    BOOST_REQUIRE(stbi_write_bmp_to_func(append_to, &out, w, h, c, px.data()) != 0);
    return out;
}

// Big-endian 32-bit store (PNG header fields).
void put_be32(Bytes& b, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b.at(at + std::size_t(i)) = std::uint8_t(v >> (24 - 8 * i));
}

// ---- the corpus ---------------------------------------------------------------------------------

struct Tally {
    int loaded = 0, clear = 0, failed = 0;
    int total() const { return loaded + clear + failed; }
};

struct Corpus {
    fs::path dir;
    int scale = 1;  // multiplies the random damage (XGRAD_DAMAGED_SCALE, for long fuzzing runs)
    int serial = 0;
    std::map<std::string, Tally> tally;  // by kind
    std::vector<std::string> kinds;      // first-seen order, for the table
    std::vector<std::string> failures;
    std::vector<std::string> examples;   // one error message per kind, for the log
    int isolated_crashes = 0, isolated_hangs = 0, isolated_memory = 0;

    std::string name(const std::string& kind, const std::string& ext) {
        std::string k = kind;
        std::replace(k.begin(), k.end(), '/', '_');
        std::ostringstream s;
        s << std::setw(4) << std::setfill('0') << serial++ << "_" << k << ext;
        return (dir / s.str()).string();
    }

    // Loads the file at `path` in a child; counts the outcome under `kind`.
    // (returns the outcome: its detail is the error message of a clear error)
    Outcome check(const std::string& kind, Loader loader, const std::string& path) {
        if (!tally.count(kind)) kinds.push_back(kind);
        Tally& t = tally[kind];
        const bool first_error = t.clear == 0;
        const auto start = std::chrono::steady_clock::now();
        const Outcome o = run_in_child(loader, path, dir);
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (secs > 1) std::cout << "slow (" << secs << " s): " << kind << " " << path << "\n";
        switch (o.kind) {
            case Outcome::loaded: ++t.loaded; break;
            case Outcome::clear_error:
                ++t.clear;
                // what the library's isolation caught (the reader helper crashed, hung, ran out)
                if (o.detail.find("crashed reading it") != std::string::npos) ++isolated_crashes;
                if (o.detail.find("reading did not finish") != std::string::npos) ++isolated_hangs;
                if (o.detail.find("reading it needs more than") != std::string::npos) ++isolated_memory;
                if (first_error) examples.push_back(kind + ": " + o.detail);
                break;
            case Outcome::failure:
                ++t.failed;
                failures.push_back(kind + " " + path + " (" + loader_name(loader) + "): " + o.detail);
                break;
        }
        return o;
    }

    void file(const std::string& kind, Loader loader, const Bytes& bytes, const std::string& ext) {
        const std::string path = name(kind, ext);
        write_bytes(path, bytes);
        check(kind, loader, path);
    }

    // The standard damage of one valid file: `n_trunc` truncations at random offsets, flips of
    // 1, 8 and 64 bits, zero-filled ranges.
    void damage(const std::string& prefix, Loader loader, const Bytes& base, const std::string& ext,
                Rng& rng, int n_trunc, int n_flip1, int n_flip8, int n_flip64, int n_zero) {
        n_trunc *= scale, n_flip1 *= scale, n_flip8 *= scale, n_flip64 *= scale, n_zero *= scale;
        for (int i = 0; i < n_trunc; ++i)
            file(prefix + "/truncated", loader, truncated(base, 1 + rng.below(base.size() - 1)), ext);
        for (int i = 0; i < n_flip1; ++i) file(prefix + "/flip1", loader, flipped(base, 1, rng), ext);
        for (int i = 0; i < n_flip8; ++i) file(prefix + "/flip8", loader, flipped(base, 8, rng), ext);
        for (int i = 0; i < n_flip64; ++i)
            file(prefix + "/flip64", loader, flipped(base, 64, rng), ext);
        for (int i = 0; i < n_zero; ++i) {
            const std::size_t len = 1 + rng.below(std::min<std::size_t>(base.size() / 4, 512));
            file(prefix + "/zeroed", loader, zeroed(base, rng.below(base.size()), len), ext);
        }
    }
};

struct TempDir {
    fs::path path;
    bool keep = false;
    TempDir() {
        char tmpl[] = "/tmp/xgrad_test_damaged_XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() {
        std::error_code ec;
        if (!keep) fs::remove_all(path, ec);
    }
};

}  // namespace

// The real datasets as the programs find them ($XGRAD_DATA / $XGRAD_DIGITS_DATA, then the build's
// default places), or "".
std::string real_cat_dir() {
    try {
        return io::find_data_dir("", XGRAD_DEFAULT_DATA_DIR);
    } catch (const DataError&) {
        return "";
    }
}
std::string real_digits_dir() {
    try {
        return io::find_digits_dir("", XGRAD_DEFAULT_DIGITS_DIR);
    } catch (const DataError&) {
        return "";
    }
}

void run_corpus(bool with_real_datasets);

void run_corpus_case(bool with_real_datasets) {
    // H5::Exception is not a std::exception: say what the test's own HDF5 writing failed at
    try {
        run_corpus(with_real_datasets);
    } catch (const H5::Exception& e) {
        BOOST_FAIL("HDF5 error while writing the corpus: " + e.getFuncName() + ": " + e.getDetailMsg());
    }
}

// The corpus of files the test makes itself: the same on every machine.
BOOST_AUTO_TEST_CASE(damaged_files_load_or_fail_clearly) { run_corpus_case(false); }

// The same corpus with damaged copies of both real datasets added (labelled "data": ctest runs it as
// test_damaged_data, skipped without them unless XGRAD_REQUIRE_DATA=1 makes that a failure).
BOOST_AUTO_TEST_CASE(damaged_real_datasets_load_or_fail_clearly,
                     test::needs(test::Need::data,
                                 [] { return !real_cat_dir().empty() && !real_digits_dir().empty(); },
                                 "the cat/non-cat or the digits dataset is missing ($XGRAD_DATA, "
                                 "$XGRAD_DIGITS_DATA, " XGRAD_DEFAULT_DATA_DIR ", " XGRAD_DEFAULT_DIGITS_DIR ")")) {
    BOOST_TEST_REQUIRE(!real_cat_dir().empty(), "the cat/non-cat dataset is missing and XGRAD_REQUIRE_DATA=1");
    BOOST_TEST_REQUIRE(!real_digits_dir().empty(), "the digits dataset is missing and XGRAD_REQUIRE_DATA=1");
    run_corpus_case(true);
}

void run_corpus(bool with_real_datasets) {
    const auto t0 = std::chrono::steady_clock::now();
    TempDir tmp;
    Corpus c;
    c.dir = tmp.path;
    // The corpus is fixed: seed 20240607, scale 1. Longer fuzzing runs can change both, e.g.
    // XGRAD_DAMAGED_SCALE=30 XGRAD_DAMAGED_SEED=7 tests/test_damaged (a failing corpus is kept,
    // any corpus with XGRAD_DAMAGED_KEEP=1).
    std::uint64_t seed = 20240607;
    if (const char* e = std::getenv("XGRAD_DAMAGED_SEED")) seed = std::strtoull(e, nullptr, 10);
    if (const char* e = std::getenv("XGRAD_DAMAGED_SCALE")) c.scale = std::max(1, std::atoi(e));
    if (seed != 20240607 || c.scale != 1)
        std::cout << "damaged corpus with seed " << seed << ", scale " << c.scale << "\n";
    Rng rng(seed);
    std::size_t checkpoint_edits = 0;
    H5::Exception::dontPrint();  // the test's own HDF5 writes
    // the library's reader gives up after 5 s (its default is 30 s or more): well within the
    // harness's own kChildSeconds, so a hang in HDF5 shows up as the library's clear line
    ::setenv("XGRAD_READ_SECONDS", "5", 1);

    // ---------------------------------------------------------------- datasets
    {
        const std::string base_path = (tmp.path / "base_set.h5").string();
        write_set(base_path, SetSpec{});
        c.check("dataset/valid", Loader::dataset, base_path);
        const Bytes base = read_bytes(base_path);
        c.damage("dataset", Loader::dataset, base, ".h5", rng, 30, 25, 20, 15, 15);

        SetSpec chunked;
        chunked.chunked = true;
        const std::string chunked_path = (tmp.path / "base_set_chunked.h5").string();
        write_set(chunked_path, chunked);
        c.check("dataset/valid", Loader::dataset, chunked_path);
        c.damage("dataset-chunked", Loader::dataset, read_bytes(chunked_path), ".h5", rng, 10, 10,
                 10, 5, 5);

        SetSpec vlen;
        vlen.classes = SetSpec::Classes::vlen;
        const std::string vlen_path = (tmp.path / "base_set_vlen.h5").string();
        write_set(vlen_path, vlen);
        c.check("dataset/valid", Loader::dataset, vlen_path);
        c.damage("dataset-vlen", Loader::dataset, read_bytes(vlen_path), ".h5", rng, 5, 10, 10, 0, 5);

        // wrong dtypes, ranks, shapes and values, each written as such
        std::vector<std::pair<std::string, SetSpec>> wrong;
        auto add = [&](const std::string& what, const std::function<void(SetSpec&)>& f) {
            SetSpec s;
            f(s);
            wrong.emplace_back(what, s);
        };
        add("x-float32", [](SetSpec& s) { s.x_type = &H5::PredType::IEEE_F32LE; });
        add("x-float64", [](SetSpec& s) { s.x_type = &H5::PredType::IEEE_F64LE; });
        add("x-int16", [](SetSpec& s) { s.x_type = &H5::PredType::STD_I16LE; });
        add("x-int8", [](SetSpec& s) { s.x_type = &H5::PredType::STD_I8LE; });
        add("x-uint8-bigendian", [](SetSpec& s) { s.x_type = &H5::PredType::STD_U8BE; });
        add("x-compound", [](SetSpec& s) { s.x_compound = true; });
        add("x-rank3", [](SetSpec& s) { s.x_dims = {5, 30, 3}; });
        add("x-rank5", [](SetSpec& s) { s.x_dims = {5, 6, 5, 3, 1}; });
        add("x-rank1", [](SetSpec& s) { s.x_dims = {450}; });
        add("x-scalar", [](SetSpec& s) { s.x_scalar = true; });
        add("x-null-space", [](SetSpec& s) { s.x_null = true; });
        add("x-zero-images", [](SetSpec& s) { s.x_dims = {0, 6, 5, 3}; s.y_dims = {0}; });
        add("x-zero-width", [](SetSpec& s) { s.x_dims = {5, 6, 0, 3}; });
        add("x-never-written", [](SetSpec& s) { s.write_x = false; });
        add("x-huge-never-written", [](SetSpec& s) {
            s.x_dims = {5000000, 64, 64, 3};  // 61 GB declared, nothing stored
            s.write_x = false;
            s.chunked = true;
        });
        add("x-missing", [](SetSpec& s) { s.with_x = false; });
        add("y-missing", [](SetSpec& s) { s.with_y = false; });
        add("y-float", [](SetSpec& s) { s.y_type = &H5::PredType::IEEE_F64LE; });
        add("y-rank2-1xm", [](SetSpec& s) { s.y_dims = {1, 5}; });  // valid: [1,m]
        add("y-rank2-mx1", [](SetSpec& s) { s.y_dims = {5, 1}; });
        add("y-rank3", [](SetSpec& s) { s.y_dims = {1, 1, 5}; });
        add("y-too-few", [](SetSpec& s) { s.y_dims = {4}; });
        add("y-too-many", [](SetSpec& s) { s.y_dims = {6}; });
        add("y-label-2", [](SetSpec& s) { s.y = {1, 0, 2, 1, 0}; });
        add("y-label-negative", [](SetSpec& s) { s.y = {1, 0, -1, 1, 0}; });
        add("y-uint8", [](SetSpec& s) { s.y_type = &H5::PredType::STD_U8LE; });  // valid
        add("classes-missing", [](SetSpec& s) { s.classes = SetSpec::Classes::none; });
        add("classes-ints", [](SetSpec& s) { s.classes = SetSpec::Classes::ints; });
        add("classes-one", [](SetSpec& s) { s.classes = SetSpec::Classes::one; });
        for (const auto& [what, spec] : wrong) {
            const std::string path = c.name("dataset/wrong-" + what, ".h5");
            write_set(path, spec);
            c.check("dataset/wrong-type-rank-shape", Loader::dataset, path);
        }
    }

    // ---------------------------------------------------------------- digits (the [m,h,w] layout)
    {
        // 12 images of 8x8, grey levels 0..16, labels 0..9, list_classes "0".."9" as fixed-length bytes
        const std::string base_path = (tmp.path / "base_digits.h5").string();
        auto write_digits = [](const std::string& path, const H5::PredType& y_type, std::size_t m) {
            H5::H5File f(path, H5F_ACC_TRUNC);
            const hsize_t xd[3] = {m, 8, 8}, yd[1] = {m}, cd[1] = {10};
            std::vector<std::uint8_t> px(m * 64);
            for (std::size_t k = 0; k < px.size(); ++k) px[k] = std::uint8_t((k * 7) % 17);
            std::vector<long long> y(m);
            for (std::size_t j = 0; j < m; ++j) y[j] = (long long)(j % 10);
            f.createDataSet("train_set_x", H5::PredType::STD_U8LE, H5::DataSpace(3, xd))
                .write(px.data(), H5::PredType::NATIVE_UINT8);
            f.createDataSet("train_set_y", y_type, H5::DataSpace(1, yd)).write(y.data(), H5::PredType::NATIVE_LLONG);
            const H5::StrType t(H5::PredType::C_S1, 1);
            f.createDataSet("list_classes", t, H5::DataSpace(1, cd)).write("0123456789", t);
        };
        write_digits(base_path, H5::PredType::STD_I64LE, 12);
        c.check("digits/valid", Loader::digits, base_path);
        c.damage("digits", Loader::digits, read_bytes(base_path), ".h5", rng, 20, 15, 15, 10, 10);
        // the real training file (the data case): its metadata damaged (the first 2 KiB)
        if (with_real_datasets) {
            const fs::path real = fs::path(real_digits_dir()) / "train_digits.h5";
            const Bytes whole = read_bytes(real.string());
            c.file("real-digits/valid", Loader::digits, whole, ".h5");
            c.damage("real-digits", Loader::digits, whole, ".h5", rng, 6, 3, 3, 3, 0);
            const Bytes head(whole.begin(), whole.begin() + 2048);
            for (int i = 0; i < 6; ++i) {
                Bytes b = whole;
                const Bytes h = flipped(head, 1 + int(rng.below(8)), rng);
                std::copy(h.begin(), h.end(), b.begin());
                c.file("real-digits/flip-metadata", Loader::digits, b, ".h5");
            }
        }
        // what a model file written by xgrad::save looks like (datasets named by the parameters)
        const std::string params_path = (tmp.path / "base_parameters.h5").string();
        {
            Tape<double> t;
            t.parameter(Matrix<double>(xt::ones<double>({std::size_t(5), std::size_t(64)}) * 0.25), "fc1.W");
            t.parameter(Matrix<double>(xt::ones<double>({std::size_t(5), std::size_t(1)}) * -0.5), "fc1.b");
            save(params_path, t);
        }
        c.check("parameters/valid", Loader::parameters, params_path);
        c.damage("parameters", Loader::parameters, read_bytes(params_path), ".h5", rng, 15, 10, 10, 5, 5);
    }

    // ---------------------------------------------------------------- models
    {
        const std::string f64_path = (tmp.path / "base_model_f64.h5").string();
        const std::string f32_path = (tmp.path / "base_model_f32.h5").string();
        write_model<double>(f64_path);
        write_model<float>(f32_path);
        c.check("model/valid", Loader::model, f64_path);
        c.check("model/valid", Loader::model, f32_path);
        c.damage("model", Loader::model, read_bytes(f64_path), ".h5", rng, 30, 25, 20, 15, 15);
        c.damage("model-f32", Loader::model, read_bytes(f32_path), ".h5", rng, 10, 10, 10, 5, 5);
        // a model of the old format (variable-length string attributes): the damage that still
        // crashed or hung HDF5 1.10 once xgrad's own format checks were gone (in H5HG_read)
        const std::string vlen_path = (tmp.path / "base_model_vlen.h5").string();
        write_model<double>(vlen_path);
        make_strings_variable(vlen_path);
        c.check("model/valid", Loader::model, vlen_path);
        c.damage("model-vlen", Loader::model, read_bytes(vlen_path), ".h5", rng, 20, 25, 20, 15, 15);

        const auto& PT = H5::PredType::NATIVE_DOUBLE;
        const H5::DataSpace scalar(H5S_SCALAR);
        auto dims1 = [](hsize_t n) { return H5::DataSpace(1, &n); };
        auto ints_attr = [&](const char* name, std::vector<long long> v) -> Edit {
            return [name, v, dims1](H5::H5File&, H5::Group& g) {
                replace_attr(g, name, H5::PredType::STD_I64LE, dims1(v.size()),
                             H5::PredType::NATIVE_LLONG, v.data());
            };
        };
        auto double_attr = [&](const char* name, double v) -> Edit {
            return [name, v](H5::H5File&, H5::Group& g) {
                replace_attr(g, name, H5::PredType::IEEE_F64LE, H5::DataSpace(H5S_SCALAR),
                             H5::PredType::NATIVE_DOUBLE, &v);
            };
        };
        auto strings_attr = [&](const char* name, std::vector<std::string> v) -> Edit {
            return [name, v, dims1](H5::H5File&, H5::Group& g) {
                const H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
                std::vector<const char*> p;
                for (const auto& s : v) p.push_back(s.c_str());
                if (v.empty()) {  // an attribute of no strings
                    if (g.attrExists(name)) g.removeAttr(name);
                    g.createAttribute(name, t, dims1(0));
                    return;
                }
                replace_attr(g, name, t, dims1(v.size()), t, p.data());
            };
        };
        auto remove_attr = [](const char* name) -> Edit {
            return [name](H5::H5File&, H5::Group& g) { g.removeAttr(name); };
        };
        std::vector<std::pair<std::string, Edit>> edits = {
            // weights of the wrong type, rank or shape (the architecture does not match)
            {"W1-int32", [&](H5::H5File& f, H5::Group&) {
                 replace_dataset(f, "W1", H5::PredType::STD_I32LE, dims2(5, 48), std::vector<double>(240, 1));
             }},
            {"W1-float32-in-f64", [&](H5::H5File& f, H5::Group&) {
                 replace_dataset(f, "W1", H5::PredType::IEEE_F32LE, dims2(5, 48), std::vector<double>(240, 0.5));
             }},
            {"W1-string", [&](H5::H5File& f, H5::Group&) {
                 f.unlink("W1");
                 const H5::StrType t(H5::PredType::C_S1, 4);
                 f.createDataSet("W1", t, dims1(2)).write("abcdefgh", t);
             }},
            {"W1-rank3", [&](H5::H5File& f, H5::Group&) {
                 const hsize_t d[3] = {5, 48, 1};
                 replace_dataset(f, "W1", H5::PredType::IEEE_F64LE, H5::DataSpace(3, d), std::vector<double>(240, 0.5));
             }},
            {"W1-rank1", [&](H5::H5File& f, H5::Group&) {
                 replace_dataset(f, "W1", H5::PredType::IEEE_F64LE, dims1(240), std::vector<double>(240, 0.5));
             }},
            {"W1-scalar", [&](H5::H5File& f, H5::Group&) {
                 replace_dataset(f, "W1", H5::PredType::IEEE_F64LE, scalar, std::vector<double>(1, 0.5));
             }},
            {"W1-null-space", [&](H5::H5File& f, H5::Group&) {
                 replace_dataset(f, "W1", H5::PredType::IEEE_F64LE, H5::DataSpace(H5S_NULL), {});
             }},
            {"W2-transposed", [&](H5::H5File& f, H5::Group&) {
                 replace_dataset(f, "W2", H5::PredType::IEEE_F64LE, dims2(5, 3), std::vector<double>(15, 0.5));
             }},
            {"b1-two-columns", [&](H5::H5File& f, H5::Group&) {
                 replace_dataset(f, "b1", H5::PredType::IEEE_F64LE, dims2(5, 2), std::vector<double>(10, 0));
             }},
            {"W3-missing", [&](H5::H5File& f, H5::Group&) { f.unlink("W3"); }},
            {"W1-is-a-group", [&](H5::H5File& f, H5::Group&) {
                 f.unlink("W1");
                 f.createGroup("W1");
             }},
            {"W1-never-written", [&](H5::H5File& f, H5::Group&) {
                 replace_dataset(f, "W1", H5::PredType::IEEE_F64LE, dims2(5, 48), {});
             }},
            {"W1-chunked-gzip", [&](H5::H5File& f, H5::Group&) {  // valid
                 H5::DSetCreatPropList pl;
                 const hsize_t ch[2] = {5, 16};
                 pl.setChunk(2, ch);
                 pl.setDeflate(4);
                 replace_dataset(f, "W1", H5::PredType::IEEE_F64LE, dims2(5, 48), std::vector<double>(240, 0.25), pl);
             }},
            {"huge-layer-never-written", [&](H5::H5File& f, H5::Group& g) {
                 // 8 TB of weights declared, nothing stored: must not be allocated
                 H5::DSetCreatPropList pl;
                 const hsize_t ch[2] = {1024, 1024};
                 pl.setChunk(2, ch);
                 replace_dataset(f, "W1", H5::PredType::IEEE_F64LE, dims2(1000000, 1000000), {}, pl);
                 H5::DSetCreatPropList pb;
                 const hsize_t cb[2] = {1024, 1};
                 pb.setChunk(2, cb);
                 replace_dataset(f, "b1", H5::PredType::IEEE_F64LE, dims2(1000000, 1), {}, pb);
                 const long long d[4] = {1000000, 1000000, 3, 1};
                 replace_attr(g, "layers_dims", H5::PredType::STD_I64LE, dims1(4), H5::PredType::NATIVE_LLONG, d);
                 g.removeAttr("image_shape");
             }},
            // attributes that do not describe the network
            {"layers_dims-extra-layer", ints_attr("layers_dims", {48, 5, 3, 1, 1})},
            {"layers_dims-mismatch", ints_attr("layers_dims", {48, 6, 3, 1})},
            {"layers_dims-zero", ints_attr("layers_dims", {48, 0, 3, 1})},
            {"layers_dims-negative", ints_attr("layers_dims", {48, -5, 3, 1})},
            {"layers_dims-one", ints_attr("layers_dims", {48})},
            {"layers_dims-empty", [&](H5::H5File&, H5::Group& g) {
                 g.removeAttr("layers_dims");
                 g.createAttribute("layers_dims", H5::PredType::STD_I64LE, H5::DataSpace(H5S_NULL));
             }},
            {"layers_dims-float", [&](H5::H5File&, H5::Group& g) {
                 const double d[4] = {48, 5, 3, 1};
                 replace_attr(g, "layers_dims", H5::PredType::IEEE_F64LE, dims1(4), PT, d);
             }},
            {"layers_dims-huge", ints_attr("layers_dims", {48, 5, 3, 4611686018427387904LL})},
            {"layers_dims-missing", remove_attr("layers_dims")},
            {"activations-count", strings_attr("activations", {"relu", "sigmoid"})},
            {"activations-unknown", strings_attr("activations", {"relu", "gelu", "sigmoid"})},
            {"activations-softmax-hidden", strings_attr("activations", {"softmax", "relu", "sigmoid"})},
            {"activations-output-relu", strings_attr("activations", {"relu", "relu", "relu"})},
            {"activations-ints", [&](H5::H5File&, H5::Group& g) {
                 const long long v[3] = {1, 2, 3};
                 replace_attr(g, "activations", H5::PredType::STD_I64LE, dims1(3), H5::PredType::NATIVE_LLONG, v);
             }},
            {"activations-missing", remove_attr("activations")},
            {"dtype-f16", strings_attr("dtype", {"f16"})},
            {"dtype-empty", strings_attr("dtype", {})},
            {"dtype-int", [&](H5::H5File&, H5::Group& g) {
                 const long long v = 64;
                 replace_attr(g, "dtype", H5::PredType::STD_I64LE, scalar, H5::PredType::NATIVE_LLONG, &v);
             }},
            {"dtype-f32-for-f64-weights", strings_attr("dtype", {"f32"})},
            {"dtype-missing", remove_attr("dtype")},
            {"learning_rate-string", strings_attr("learning_rate", {"fast"})},
            {"learning_rate-three", [&](H5::H5File&, H5::Group& g) {
                 const double v[3] = {1, 2, 3};
                 replace_attr(g, "learning_rate", H5::PredType::IEEE_F64LE, dims1(3), PT, v);
             }},
            {"learning_rate-nan", double_attr("learning_rate", std::nan(""))},
            {"learning_rate-missing", remove_attr("learning_rate")},
            {"iterations-1e300", double_attr("iterations", 1e300)},
            {"iterations-nan", double_attr("iterations", std::nan(""))},
            {"iterations-negative", ints_attr("iterations", {-7})},
            {"seed-negative", ints_attr("seed", {-1})},
            {"seed-2^40", ints_attr("seed", {1LL << 40})},
            {"seed-fraction", double_attr("seed", 2.5)},
            {"final_cost-inf", double_attr("final_cost", HUGE_VAL)},  // recorded as trained: loads
            {"image_shape-product", ints_attr("image_shape", {4, 4, 4})},
            {"image_shape-channels-48", ints_attr("image_shape", {1, 1, 48})},
            {"image_shape-two-values", ints_attr("image_shape", {12, 4})},
            {"image_shape-negative", ints_attr("image_shape", {-4, -4, 3})},
            {"classes-ints", ints_attr("classes", {0, 1})},
            {"classes-one", strings_attr("classes", {"cat"})},
            // NaN and Inf weights
            {"W1-nan", [&](H5::H5File& f, H5::Group&) { poison(f, "W1", 17, std::nan("")); }},
            {"W2-inf", [&](H5::H5File& f, H5::Group&) { poison(f, "W2", 3, HUGE_VAL); }},
            {"b3-minus-inf", [&](H5::H5File& f, H5::Group&) { poison(f, "b3", 0, -HUGE_VAL); }},
            {"b1-nan", [&](H5::H5File& f, H5::Group&) { poison(f, "b1", 4, -std::nan("")); }},
        };
        for (const auto& [what, edit] : edits) {
            const std::string path = c.name("model/wrong-" + what, ".h5");
            fs::copy_file(f64_path, path);
            edit_model(path, edit);
            const bool nonfinite = what.find("nan") != std::string::npos || what.find("inf") != std::string::npos;
            c.check(nonfinite ? "model/nan-inf" : "model/wrong-type-rank-shape", Loader::model, path);
        }
        // NaN/Inf in an f32 model (stored as float32, widened on reading)
        for (const auto& [what, v] : std::vector<std::pair<std::string, double>>{
                 {"f32-W1-nan", std::nan("")}, {"f32-W3-inf", HUGE_VAL}, {"f32-b2-minus-inf", -HUGE_VAL}}) {
            const std::string path = c.name("model/" + what, ".h5");
            fs::copy_file(f32_path, path);
            const std::string ds = what.substr(4, 2);
            edit_model(path, [&, ds = ds](H5::H5File& f, H5::Group&) { poison(f, ds, 1, v); });
            c.check("model/nan-inf", Loader::model, path);
        }
    }

    // ---------------------------------------------------------------- checkpoints
    {
        const std::string f64_path = (tmp.path / "base_checkpoint_f64.h5").string();
        const std::string f32_path = (tmp.path / "base_checkpoint_f32.h5").string();
        write_checkpoint<double>(f64_path);
        write_checkpoint<float>(f32_path);
        c.check("checkpoint/valid", Loader::checkpoint, f64_path);
        c.check("checkpoint/valid", Loader::checkpoint, f32_path);
        c.damage("checkpoint", Loader::checkpoint, read_bytes(f64_path), ".h5", rng, 25, 20, 15, 10, 10);
        c.damage("checkpoint-f32", Loader::checkpoint, read_bytes(f32_path), ".h5", rng, 8, 6, 6, 4, 4);
        const std::string vlen_path = (tmp.path / "base_checkpoint_vlen.h5").string();
        write_checkpoint<double>(vlen_path);
        make_strings_variable(vlen_path);
        c.check("checkpoint/valid", Loader::checkpoint, vlen_path);
        c.damage("checkpoint-vlen", Loader::checkpoint, read_bytes(vlen_path), ".h5", rng, 8, 10, 10, 6, 6);

        auto string_attr = [](const char* name, std::string v) -> Edit {
            return [name, v](H5::H5File&, H5::Group& g) {
                const H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
                const char* p = v.c_str();
                replace_attr(g, name, t, H5::DataSpace(H5S_SCALAR), t, &p);
            };
        };
        auto int_attr = [](const char* name, long long v) -> Edit {
            return [name, v](H5::H5File&, H5::Group& g) {
                replace_attr(g, name, H5::PredType::STD_I64LE, H5::DataSpace(H5S_SCALAR),
                             H5::PredType::NATIVE_LLONG, &v);
            };
        };
        // each edit, and a part of the error it must give (refused for its own reason, not another)
        const std::vector<std::tuple<std::string, std::string, Edit>> edits = {
            {"no-format", "not an xgrad checkpoint", [](H5::H5File&, H5::Group& g) { g.removeAttr("format"); }},
            {"other-format", "not an xgrad checkpoint", string_attr("format", "xgrad-checkpoint-0")},
            {"dtype-f16", "dtype 'f16' is neither f32 nor f64", string_attr("dtype", "f16")},
            {"dtype-control-chars", "is neither f32 nor f64", string_attr("dtype", "f\n64")},
            {"epoch-negative", "epoch -1 or step count 28 out of range", int_attr("epoch", -1)},
            {"epoch-not-costs", "holds 7 costs for 9 epochs", int_attr("epoch", 9)},
            {"layers-zero", "layers 0 out of range (1 to 1000)", int_attr("layers", 0)},
            {"layers-huge", "layers 1099511627776 out of range (1 to 1000)", int_attr("layers", 1LL << 40)},
            {"layers-more-than-stored", "6 first and 6 second moments for 4 layers", int_attr("layers", 4)},
            {"moments-too-many", "7 first and 6 second moments for 3 layers", int_attr("moments", 7)},
            {"steps-missing", "attribute 'steps' missing", [](H5::H5File&, H5::Group& g) { g.removeAttr("steps"); }},
            {"rng-garbage", "attribute 'dropout_rng'", string_attr("dropout_rng", "MT19937 1 2 3")},
            {"settings-not-name-value", "setting 'no equals sign' is not name=value", [](H5::H5File&, H5::Group& g) {
                 const H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
                 const char* p[2] = {"optimizer=adam", "no equals sign"};
                 const hsize_t n = 2;
                 replace_attr(g, "settings", t, H5::DataSpace(1, &n), t, p);
             }},
            {"W2-does-not-chain", "dataset 'W2': expected [any,5]", [&](H5::H5File& f, H5::Group&) {
                 replace_dataset(f, "W2", H5::PredType::IEEE_F64LE, dims2(3, 4), std::vector<double>(12, 0.5));
             }},
            {"b1-wrong-shape", "dataset 'b1': expected [5,1]", [&](H5::H5File& f, H5::Group&) {
                 replace_dataset(f, "b1", H5::PredType::IEEE_F64LE, dims2(1, 5), std::vector<double>(5, 0));
             }},
            {"W1-float32-in-f64", "dataset 'W1': expected float64", [&](H5::H5File& f, H5::Group&) {
                 replace_dataset(f, "W1", H5::PredType::IEEE_F32LE, dims2(5, 48), std::vector<double>(240, 0.5));
             }},
            {"W1-int64", "dataset 'W1': expected float64", [&](H5::H5File& f, H5::Group&) {
                 replace_dataset(f, "W1", H5::PredType::STD_I64LE, dims2(5, 48), std::vector<double>(240, 1));
             }},
            {"moment-missing", "dataset 'moment2_3'", [](H5::H5File& f, H5::Group&) { f.unlink("moment2_3"); }},
            {"moment-nan", "dataset 'moment1_0': expected finite values, found NaN", [](H5::H5File& f, H5::Group&) { poison(f, "moment1_0", 3, std::nan("")); }},
            {"W3-inf", "dataset 'W3': expected finite values, found +Inf", [](H5::H5File& f, H5::Group&) { poison(f, "W3", 0, INFINITY); }},
            {"costs-rank2", "dataset 'costs': expected a list of numbers", [&](H5::H5File& f, H5::Group&) {
                 replace_dataset(f, "costs", H5::PredType::IEEE_F64LE, dims2(7, 1), std::vector<double>(7, 0.5));
             }},
            {"costs-never-written", "dataset 'costs'", [&](H5::H5File& f, H5::Group&) {
                 const hsize_t n = 7;
                 replace_dataset(f, "costs", H5::PredType::IEEE_F64LE, H5::DataSpace(1, &n), {});
             }},
        };
        checkpoint_edits = edits.size() + 1;
        for (const auto& [what, part, edit] : edits) {
            const std::string path = c.name("checkpoint/" + what, ".h5");
            fs::copy_file(f64_path, path);
            edit_model(path, edit);
            const Outcome o = c.check("checkpoint/wrong-type-shape-value", Loader::checkpoint, path);
            BOOST_TEST(o.detail.find(part) != std::string::npos, what << ": '" << part << "' in: " << o.detail);
        }
        // a model is not a checkpoint
        const std::string model_path = c.name("checkpoint/a-model", ".h5");
        write_model<double>(model_path);
        c.check("checkpoint/wrong-type-shape-value", Loader::checkpoint, model_path);
    }

    // ---------------------------------------------------------------- files that are not HDF5 at all
    {
        const Bytes png_bytes = png(12, 9, 3);
        Bytes garbage(3000);
        for (auto& b : garbage) b = std::uint8_t(rng.below(256));
        Bytes sig_then_garbage = garbage;  // a valid HDF5 signature, then noise
        const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
        std::copy(sig, sig + 8, sig_then_garbage.begin());
        Bytes sig_at_512 = garbage;  // where HDF5 also looks (a user block)
        std::copy(sig, sig + 8, sig_at_512.begin() + 512);
        const Bytes sig_only(sig, sig + 8);
        const std::string text = "train_set_x,train_set_y\n1,2,3\n";
        const std::vector<std::pair<std::string, Bytes>> files = {
            {"empty", {}},
            {"text", Bytes(text.begin(), text.end())},
            {"random-bytes", garbage},
            {"a-png", png_bytes},
            {"hdf5-signature-then-garbage", sig_then_garbage},
            {"hdf5-signature-at-512", sig_at_512},
            {"hdf5-signature-only", sig_only},
        };
        for (Loader l : {Loader::dataset, Loader::model, Loader::checkpoint}) {
            const std::string pre = l == Loader::dataset ? "dataset" : l == Loader::model ? "model" : "checkpoint";
            for (const auto& [what, bytes] : files) c.file(pre + "/not-hdf5-" + what, l, bytes, ".h5");
            // not a regular file: a directory, a FIFO (opening it would block), a missing path
            c.check(pre + "/not-a-file", l, tmp.path.string());
            const std::string fifo = c.name(pre + "-fifo", ".h5");
            BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
            c.check(pre + "/not-a-file", l, fifo);
            c.check(pre + "/not-a-file", l, (tmp.path / "missing.h5").string());
        }
    }

    // ---------------------------------------------------------------- images
    {
        const std::vector<std::pair<std::string, Bytes>> bases = {
            {"png-rgb", png(12, 9, 3)},   {"png-gray", png(7, 7, 1)}, {"png-rgba", png(8, 8, 4)},
            {"jpeg-rgb", jpeg(16, 12, 3, 90)}, {"jpeg-gray", jpeg(9, 13, 1, 75)}, {"bmp", bmp(5, 6, 3)},
        };
        for (const auto& [what, bytes] : bases) {
            const std::string ext = what.rfind("png", 0) == 0 ? ".png" : what.rfind("jpeg", 0) == 0 ? ".jpg" : ".bmp";
            c.file("image/valid", Loader::image, bytes, ext);
            const bool main = what == "png-rgb" || what == "jpeg-rgb";
            const std::string prefix = std::string("image-") + (ext == ".png" ? "png" : ext == ".jpg" ? "jpeg" : "bmp");
            if (main)
                c.damage(prefix, Loader::image, bytes, ext, rng, 15, 10, 10, 8, 6);
            else
                c.damage(prefix, Loader::image, bytes, ext, rng, 4, 3, 3, 2, 2);
        }
        // wrong magic, lying headers, not images
        Bytes p = png(12, 9, 3), j = jpeg(16, 12, 3, 90), b = bmp(5, 6, 3);
        Bytes png_magic = p;
        png_magic[1] = 'X';
        Bytes png_zero_magic = zeroed(p, 0, 8);
        Bytes jpeg_magic = j;
        jpeg_magic[0] = 0;
        jpeg_magic[1] = 0;
        Bytes bmp_magic = b;
        bmp_magic[0] = 'X';
        Bytes png_huge = p;  // IHDR width/height: 60000 x 60000 (3.6 gigapixels), CRC left wrong
        put_be32(png_huge, 16, 60000);
        put_be32(png_huge, 20, 60000);
        Bytes png_wide = p;  // 2^31-1 wide
        put_be32(png_wide, 16, 0x7fffffff);
        Bytes png_zero_size = p;
        put_be32(png_zero_size, 16, 0);
        Bytes jpeg_huge = j;  // SOF0 height/width fields: 65500 x 65500
        for (std::size_t i = 2; i + 8 < jpeg_huge.size(); ++i)
            if (jpeg_huge[i] == 0xFF && jpeg_huge[i + 1] == 0xC0) {
                jpeg_huge[i + 5] = 0xFF, jpeg_huge[i + 6] = 0xDC;
                jpeg_huge[i + 7] = 0xFF, jpeg_huge[i + 8] = 0xDC;
                break;
            }
        const std::string gif = "GIF89a\x01\x00\x01\x00\x80\x00\x00";
        const std::string text = "not a picture";
        const std::vector<std::pair<std::string, Bytes>> wrong = {
            {"png-magic", png_magic},         {"png-zeroed-magic", png_zero_magic},
            {"jpeg-magic", jpeg_magic},       {"bmp-magic", bmp_magic},
            {"png-60000x60000", png_huge},    {"png-2^31-wide", png_wide},
            {"png-zero-width", png_zero_size}, {"jpeg-65500x65500", jpeg_huge},
            {"gif", Bytes(gif.begin(), gif.end())}, {"text", Bytes(text.begin(), text.end())},
            {"empty", {}},                    {"png-header-only", truncated(p, 33)},
            {"jpeg-soi-only", truncated(j, 2)},
        };
        for (const auto& [what, bytes] : wrong) c.file("image/wrong-magic-or-header", Loader::image, bytes, ".png");
        // content decides, not the extension: a JPEG named .png loads
        c.file("image/valid", Loader::image, j, ".png");
        c.check("image/not-a-file", Loader::image, tmp.path.string());
        const std::string fifo = c.name("image-fifo", ".png");
        BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
        c.check("image/not-a-file", Loader::image, fifo);
        c.check("image/not-a-file", Loader::image, (tmp.path / "missing.png").string());
    }

    // ---------------------------------------------------------------- the real dataset (the data case)
    if (with_real_datasets) {
        const fs::path real = fs::path(real_cat_dir()) / "test_catvnoncat.h5";
        {
            // its datasets are test_set_x/_y: rename them through a copy loaded as train_set_*
            const std::string copy = (tmp.path / "real_test_set.h5").string();
            {
                fs::copy_file(real, copy);
                fs::permissions(copy, fs::perms::owner_read | fs::perms::owner_write);
                H5::H5File f(copy, H5F_ACC_RDWR);
                f.move("test_set_x", "train_set_x");
                f.move("test_set_y", "train_set_y");
            }
            c.check("real-dataset/valid", Loader::dataset, copy);
            const Bytes base = read_bytes(copy);
            c.damage("real-dataset", Loader::dataset, base, ".h5", rng, 8, 4, 4, 4, 0);
            // damage in the metadata (the first 2 KiB: superblock, root group, object headers)
            const Bytes head(base.begin(), base.begin() + 2048);
            for (int i = 0; i < 8; ++i) {
                Bytes b = base;
                const Bytes h = flipped(head, 1 + int(rng.below(8)), rng);
                std::copy(h.begin(), h.end(), b.begin());
                c.file("real-dataset/flip-metadata", Loader::dataset, b, ".h5");
            }
        }
    }

    // ---------------------------------------------------------------- report
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    Tally all;
    std::ostringstream table;
    table << "damaged-file corpus (seeded), per kind: loaded / clear error / crash or other failure\n";
    for (const auto& k : c.kinds) {
        const Tally& t = c.tally[k];
        table << "  " << std::left << std::setw(40) << k << std::right << std::setw(5) << t.loaded
              << std::setw(6) << t.clear << std::setw(6) << t.failed << "\n";
        all.loaded += t.loaded, all.clear += t.clear, all.failed += t.failed;
    }
    table << "  " << std::left << std::setw(40) << "total" << std::right << std::setw(5) << all.loaded
          << std::setw(6) << all.clear << std::setw(6) << all.failed << "   (" << all.total()
          << " files, " << std::fixed << std::setprecision(1) << secs << " s)\n";
    std::cout << table.str();
    std::cout << "caught by the library's isolated reader: " << c.isolated_crashes << " crashes, "
              << c.isolated_hangs << " hangs, " << c.isolated_memory << " over the memory limit\n";
    // (and each of those a clear line: the library's, not the harness's)
    std::cout << "one error message per kind:\n";
    for (const auto& e : c.examples) std::cout << "  " << e << "\n";
    for (const auto& f : c.failures) std::cout << "FAILURE: " << f << "\n";
    std::cout.flush();

    // the valid bases load (else the damage proves nothing)
    for (const auto& k : c.kinds)
        if (k.size() > 6 && k.compare(k.size() - 6, 6, "/valid") == 0)
            BOOST_TEST(c.tally[k].clear + c.tally[k].failed == 0, k << ": a valid file did not load");
    // every hand-made wrong checkpoint is refused (each breaks a promise load_checkpoint makes)
    BOOST_TEST(c.tally["checkpoint/wrong-type-shape-value"].loaded == 0);
    BOOST_TEST(c.tally["checkpoint/wrong-type-shape-value"].clear == checkpoint_edits);
    BOOST_TEST(all.total() >= 200);
    BOOST_TEST(all.failed == 0, all.failed << " damaged files crashed, hung or failed unclearly");
    if (all.failed || std::getenv("XGRAD_DAMAGED_KEEP")) {
        tmp.keep = true;
        std::cout << "the corpus is kept in " << tmp.path << "\n";
    }
}

// ---- the library's isolation itself ---------------------------------------------------------------
// Users' files are read by the helper xgrad-read in a process of its own (lib/io/isolate.hpp). Here
// stand-in helpers (XGRAD_READER) crash, hang, flood the pipe or answer nonsense, and the real one
// meets a tiny memory limit: each is one DataError naming the file, within the time limit, and no
// child is left behind.

namespace {

// Sets (or, with nullptr, unsets) an environment variable for one scope.
struct ScopedEnv {
    std::string name;
    std::string old;
    bool had = false;
    ScopedEnv(const char* n, const char* v) : name(n) {
        if (const char* o = std::getenv(n)) had = true, old = o;
        if (v) ::setenv(n, v, 1); else ::unsetenv(n);
    }
    ~ScopedEnv() {
        if (had) ::setenv(name.c_str(), old.c_str(), 1); else ::unsetenv(name.c_str());
    }
};

std::string stand_in(const fs::path& dir, const std::string& name, const std::string& body) {
    const std::string path = (dir / name).string();
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    fs::permissions(path, fs::perms::owner_all);
    return path;
}

// What load_model says of `file`, and how long it took; "" when it loaded.
std::pair<std::string, double> model_error(const std::string& file) {
    const auto t0 = std::chrono::steady_clock::now();
    std::string msg;
    try {
        io::load_model(file);
    } catch (const DataError& e) {
        msg = e.what();
    }
    return {msg, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
}

// no child of this process is left, running or a zombie
bool no_children() {
    int st = 0;
    return ::waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD;
}

}  // namespace

BOOST_AUTO_TEST_CASE(isolation_turns_crash_hang_and_memory_into_one_line) {
    TempDir tmp;
    const std::string model = (tmp.path / "model.h5").string();
    write_model<double>(model);
    const ScopedEnv seconds("XGRAD_READ_SECONDS", "2");
    BOOST_TEST(model_error(model).first == "");  // the real helper reads it
    BOOST_TEST(no_children());

    struct Case {
        std::string what, script, expected;
    };
    const std::vector<Case> cases = {
        {"crash", "kill -SEGV $$", ": the HDF5 library crashed reading it (SIGSEGV): the file is damaged"},
        {"abort", "kill -ABRT $$", ": the HDF5 library crashed reading it (SIGABRT): the file is damaged"},
        {"hang", "exec sleep 60", ": reading did not finish in 2 s (XGRAD_READ_SECONDS): the file is damaged or too big"},
        {"flood", "exec yes", ": reading it needs more than the 1 MiB limit (XGRAD_READ_MEMORY_MIB)"},
        {"exit", "exit 3", ": the HDF5 library failed reading it ("},
        {"nonsense", "echo hello", ": the HDF5 library stopped reading it without an answer: the file is damaged"},
    };
    for (const Case& c : cases) {
        const ScopedEnv reader("XGRAD_READER", stand_in(tmp.path, c.what + ".sh", c.script).c_str());
        const ScopedEnv memory("XGRAD_READ_MEMORY_MIB", c.what == "flood" ? "1" : nullptr);
        const auto [msg, secs] = model_error(model);
        BOOST_TEST(msg.rfind(model + c.expected, 0) == 0, c.what << ": " << msg);
        BOOST_TEST(msg.find('\n') == std::string::npos, c.what);
        // within the 2 s limit (and a margin for a loaded machine); the hang is stopped by it
        BOOST_TEST(secs < 4.5, c.what << " took " << secs << " s");
        if (c.what == "hang") BOOST_TEST(secs >= 1.9, "the hang was stopped after only " << secs << " s");
        BOOST_TEST(no_children(), c.what << ": a child was left behind");
    }
    {
        const ScopedEnv reader("XGRAD_READER", (tmp.path / "no-such-helper").c_str());
        const std::string msg = model_error(model).first;
        BOOST_TEST(msg.rfind(model + ": cannot read it: its reader helper ", 0) == 0, msg);
        BOOST_TEST(msg.find("is missing or not executable") != std::string::npos, msg);
    }
    // the real helper, with a limit below what the file's images need: refused before allocating
    {
        const std::string set = (tmp.path / "big_set.h5").string();
        SetSpec big;
        big.x_dims = {16, 256, 256, 3};  // 3 MiB of pixels
        big.y_dims = {16};
        big.y = std::vector<long long>(16, 1);
        write_set(set, big);
        BOOST_TEST(io::load_image_set<float>(set, "train_set_x", "train_set_y").pixels.size() == 16u * 256 * 256 * 3);
        const ScopedEnv memory("XGRAD_READ_MEMORY_MIB", "1");
        std::string msg;
        try {
            io::load_image_set<float>(set, "train_set_x", "train_set_y");
        } catch (const DataError& e) {
            msg = e.what();
        }
        BOOST_TEST(msg == set + ": reading it needs more than the 1 MiB limit (3145728 bytes for one array) "
                               "(XGRAD_READ_MEMORY_MIB)");
        BOOST_TEST(no_children());
    }
}

// Models and checkpoints xgrad wrote with variable-length string attributes (before fixed-length
// strings) still load, with the same contents.
BOOST_AUTO_TEST_CASE(old_files_with_variable_length_strings_load) {
    TempDir tmp;
    const std::string fixed = (tmp.path / "fixed.h5").string(), old = (tmp.path / "old.h5").string();
    write_model<double>(fixed);
    write_model<double>(old);
    make_strings_variable(old);
    {
        H5::H5File f(old, H5F_ACC_RDONLY);
        BOOST_REQUIRE(f.openGroup("/").openAttribute("activations").getStrType().isVariableStr());
    }
    const io::ModelFile a = io::load_model(fixed), b = io::load_model(old);
    BOOST_TEST(b.spec.dims == a.spec.dims, boost::test_tools::per_element());
    BOOST_TEST(b.classes == (std::vector<std::string>{"non-cat", "cat"}), boost::test_tools::per_element());
    BOOST_TEST(b.dtype == "f64");
    BOOST_TEST(b.params.W[0] == a.params.W[0]);
    const std::string ck = (tmp.path / "old_checkpoint.h5").string();
    write_checkpoint<double>(ck);
    make_strings_variable(ck);
    const io::Checkpoint<double> c = io::load_checkpoint<double>(ck);
    BOOST_TEST(c.settings.size() == 3u);
    BOOST_TEST(c.settings[2].second == "0.8,0.9");
}

// A dataset reached through an HDF5 external link is read as if it were in the file.
BOOST_AUTO_TEST_CASE(external_links_are_followed) {
    TempDir tmp;
    const std::string model = (tmp.path / "model.h5").string(), data = (tmp.path / "weights.h5").string();
    write_model<double>(model);
    const io::ModelFile before = io::load_model(model);
    {
        H5::H5File m(model, H5F_ACC_RDWR);
        std::vector<double> w(5 * 48);
        m.openDataSet("W1").read(w.data(), H5::PredType::NATIVE_DOUBLE);
        H5::H5File d(data, H5F_ACC_TRUNC);
        const hsize_t dims[2] = {5, 48};
        d.createDataSet("layer1", H5::PredType::IEEE_F64LE, H5::DataSpace(2, dims)).write(w.data(), H5::PredType::NATIVE_DOUBLE);
        m.unlink("W1");
        BOOST_REQUIRE(H5Lcreate_external(data.c_str(), "/layer1", m.getId(), "W1", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    }
    const io::ModelFile after = io::load_model(model);
    BOOST_TEST(after.params.W[0] == before.params.W[0]);
    // the target damaged (its object header overwritten; then garbage throughout): refused as a
    // damaged dataset of the file itself is, one line naming the model, no crash
    const std::string good = slurp(data);
    for (std::size_t at : {std::size_t(800), std::size_t(0)}) {
        std::string bad = good;
        for (std::size_t i = at; i < bad.size(); i += 7) bad[i] = char(0xA5);
        std::ofstream(data, std::ios::binary | std::ios::trunc) << bad;
        const std::string msg = model_error(model).first;
        BOOST_TEST(msg.rfind(model + ": ", 0) == 0, msg);
        BOOST_TEST(msg.find('\n') == std::string::npos, msg);
        BOOST_TEST(no_children());
    }
    // the target gone: one line naming the model
    fs::remove(data);
    const std::string msg = model_error(model).first;
    BOOST_TEST(msg.rfind(model + ": ", 0) == 0, msg);
    BOOST_TEST(msg.find("W1") != std::string::npos, msg);
}

// A dataset whose dimensions multiply past 2^64 (legal for a chunked dataset never written): the
// helper cannot read it, and the library refuses it before anything multiplies its dimensions;
// the loaders that accept any size for a dimension (a checkpoint's moments) used to index an
// empty buffer with the wrapped size.
BOOST_AUTO_TEST_CASE(dimensions_past_2_to_the_64_are_one_line) {
    TempDir tmp;
    const std::string ckpt = (tmp.path / "checkpoint.h5").string();
    write_checkpoint<double>(ckpt);
    {
        H5::H5File f(ckpt, H5F_ACC_RDWR);
        f.unlink("moment1_0");
        const hsize_t dims[2] = {hsize_t(1) << 32, hsize_t(1) << 32}, chunk[2] = {1, 1};
        H5::DSetCreatPropList pl;
        pl.setChunk(2, chunk);
        f.createDataSet("moment1_0", H5::PredType::IEEE_F64LE, H5::DataSpace(2, dims), pl);
    }
    std::string msg;
    try {
        io::load_checkpoint<double>(ckpt);
    } catch (const DataError& e) {
        msg = e.what();
    }
    BOOST_TEST(msg.rfind(ckpt + ": ", 0) == 0, msg);
    BOOST_TEST(msg.find("moment1_0") != std::string::npos, msg);
    BOOST_TEST(msg.find('\n') == std::string::npos, msg);
    BOOST_TEST(no_children());
}

// The limits' environment variables take digits only, within range: anything else is one
// UsageError naming the variable (strtoull alone took "-1" as 2^64 - 1 and wrapped the limit).
BOOST_AUTO_TEST_CASE(limits_from_the_environment_are_checked) {
    TempDir tmp;
    const std::string model = (tmp.path / "model.h5").string();
    write_model<double>(model);
    for (const char* name : {"XGRAD_READ_MEMORY_MIB", "XGRAD_READ_SECONDS"}) {
        for (const char* bad : {"-1", "+5", " 5", "5x", "0", "18446744073709551616", "99999999999"}) {
            ScopedEnv env(name, bad);
            std::string msg;
            try {
                io::load_model(model);
            } catch (const UsageError& e) {
                msg = e.what();
            }
            BOOST_TEST(msg.rfind(std::string(name) + " must be a whole number from 1 to ", 0) == 0,
                       name << "=" << bad << ": " << msg);
        }
        ScopedEnv env(name, "300");
        BOOST_TEST(io::load_model(model).spec.dims.size() > 1);
    }
}

// A read stopped by a limit of this process (ulimit -v below the address space the helper may
// use: it inherits the lower one) is not called damaged: the message names the limit and both
// sizes. Checked in a forked child, whose limit is 2000 MiB against the helper's 2048 + 256.
BOOST_AUTO_TEST_CASE(a_limit_of_the_process_is_not_called_damage) {
#if !defined(__SANITIZE_ADDRESS__)  // RLIMIT_AS cannot work under ASan (see above)
    TempDir tmp;
    const std::string model = (tmp.path / "model.h5").string(), out = (tmp.path / "msg").string();
    write_model<double>(model);
    const ScopedEnv memory("XGRAD_READ_MEMORY_MIB", "2048");
    for (const char* script : {"kill -ABRT $$", "exit 1"}) {
        const ScopedEnv reader("XGRAD_READER", stand_in(tmp.path, "fails.sh", script).c_str());
        BOOST_TEST(model_error(model).first.find("the file is damaged") != std::string::npos);  // no limit: damaged
        const pid_t pid = ::fork();
        BOOST_REQUIRE(pid >= 0);
        if (pid == 0) {
            try {  // nothing may unwind into Boost.Test in the child
                const rlimit as{rlim_t(2000) << 20, rlim_t(2000) << 20};
                ::setrlimit(RLIMIT_AS, &as);
                std::ofstream(out) << model_error(model).first;
            } catch (...) {
                ::_exit(1);
            }
            ::_exit(0);
        }
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        BOOST_TEST_REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
        const std::string msg = slurp(out);
        BOOST_TEST(msg.find("the file is damaged") == std::string::npos, msg);
        BOOST_TEST(msg.find(": the address-space limit of this process (ulimit -v: 2000 MiB, below the 2304 MiB the "
                            "reader may use) may be the cause rather than the file: raise it") != std::string::npos,
                   msg);
    }
#endif
}

// Images refused for what they are: a valid PNG too large to decode says its size as a JPEG
// does (stb's answer for it was "unknown image type"); a BMP stored top-down (negative height)
// is read, the same picture as bottom-up; a GIF is not a format we read.
BOOST_AUTO_TEST_CASE(image_refusals_say_the_real_reason) {
    TempDir tmp;
    auto put = [&](const std::string& name, const Bytes& b) {
        const std::string path = (tmp.path / name).string();
        std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
        return path;
    };
    auto error_of = [](const std::string& path) {
        try {
            io::load_image(path, 8, 8, 3);
        } catch (const DataError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    // a PNG whose IHDR says 20000 x 20000, its CRC right: a valid header
    Bytes big = png(12, 9, 3);
    put_be32(big, 16, 20000);
    put_be32(big, 20, 20000);
    {
        std::uint32_t crc = 0xffffffffu;  // CRC-32 of "IHDR" + its 13 bytes (PNG's polynomial)
        for (std::size_t i = 12; i < 12 + 4 + 13; ++i) {
            crc ^= big[i];
            for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
        }
        put_be32(big, 29, ~crc);
    }
    const std::string big_png = put("big.png", big);
    BOOST_TEST(error_of(big_png) == big_png + ": cannot read as a PNG image (its header says 20000x20000 pixels, "
                                              "more than the 67108864 an image may have)");
    Bytes jpg = jpeg(16, 12, 3, 90);
    for (std::size_t i = 2; i + 8 < jpg.size(); ++i)
        if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) {  // SOF0: height, width
            jpg[i + 5] = 0x4e, jpg[i + 6] = 0x20, jpg[i + 7] = 0x4e, jpg[i + 8] = 0x20;
            break;
        }
    const std::string big_jpg = put("big.jpg", jpg);
    BOOST_TEST(error_of(big_jpg) == big_jpg + ": cannot read as a JPEG image (its header says 20000x20000 pixels, "
                                              "more than the 67108864 an image may have)");
    // top-down: the height negated, the rows in the other order
    const int w = 8, h = 8;
    const Bytes up = bmp(w, h, 3);
    Bytes down = up;
    const std::size_t offset = up[10] | up[11] << 8 | up[12] << 16 | std::size_t(up[13]) << 24;
    const std::size_t stride = (std::size_t(w) * 3 + 3) / 4 * 4;
    for (int y = 0; y < h; ++y)
        std::copy_n(up.begin() + std::ptrdiff_t(offset + std::size_t(y) * stride), stride,
                    down.begin() + std::ptrdiff_t(offset + std::size_t(h - 1 - y) * stride));
    const std::int32_t negative = -h;
    std::memcpy(down.data() + 22, &negative, 4);  // little-endian, as the format
    const auto a = io::load_image(put("up.bmp", up), h, w, 3), b = io::load_image(put("down.bmp", down), h, w, 3);
    BOOST_TEST(a == b);
    BOOST_TEST(a == pattern(w, h, 3));
    const std::string gif_text = "GIF89a\x01\x00\x01\x00\x80\x00\x00";
    const std::string gif = put("x.gif", Bytes(gif_text.begin(), gif_text.end()));
    BOOST_TEST(error_of(gif) == gif + ": not a JPEG, PNG or BMP image (none of their signatures)");
    // a damaged header says what stb found, not "unknown image type"
    Bytes bad = png(12, 9, 3);
    put_be32(bad, 8, 12);  // the IHDR's length
    const std::string bad_png = put("bad.png", bad);
    const std::string msg = error_of(bad_png);
    BOOST_TEST(msg.rfind(bad_png + ": cannot read as a PNG image (", 0) == 0, msg);
    BOOST_TEST(msg.find("unknown image type") == std::string::npos, msg);
}

// Checkpoint fields out of range or inconsistent with each other: one DataError naming the file
// and the field (a negative second moment made Adam's first step NaN; a NaN cost was drawn and
// resumed as if trained).
BOOST_AUTO_TEST_CASE(checkpoint_fields_out_of_range_are_refused) {
    TempDir tmp;
    const std::string ck = (tmp.path / "checkpoint.h5").string();
    write_checkpoint<double>(ck);
    const io::Checkpoint<double> good = io::load_checkpoint<double>(ck);
    const std::size_t P = good.state.first_moments.size();
    using Change = std::function<void(io::Checkpoint<double>&)>;
    const std::vector<std::pair<Change, std::string>> cases = {
        {[](auto& c) { c.costs[3] = std::nan(""); }, "the cost of iteration 3 is nan, not a cost (finite, >= 0)"},
        {[](auto& c) { c.costs[2] = -0.5; }, "the cost of iteration 2 is -0.5, not a cost (finite, >= 0)"},
        {[](auto& c) { c.costs[0] = HUGE_VAL; }, "the cost of iteration 0 is inf, not a cost"},
        {[](auto& c) { c.state.second_moments[1](0, 0) = -1; },
         "'moment2_1' holds -1: a second moment (an average of squares) is never negative"},
        {[](auto& c) { c.state.second_moments.resize(1); },
         std::to_string(P) + " first and 1 second moments for " + std::to_string(P / 2) + " layers"},
        {[](auto& c) { c.state.first_moments.clear(); },
         "0 first and " + std::to_string(P) + " second moments for " + std::to_string(P / 2) + " layers"},
    };
    for (const auto& [change, expected] : cases) {
        io::Checkpoint<double> c = good;
        change(c);
        io::save_checkpoint(ck, c);
        std::string msg;
        try {
            io::load_checkpoint<double>(ck);
        } catch (const DataError& e) {
            msg = e.what();
        }
        BOOST_TEST(msg.rfind(ck + ": ", 0) == 0, msg);
        BOOST_TEST(msg.find(expected) != std::string::npos, msg);
    }
    // the library's restore refuses a negative second moment as well (a state not from a file)
    const MlpSpec spec = base_spec();
    Matrix<double> X = xt::zeros<double>({spec.dims[0], std::size_t(4)}), Y = xt::zeros<double>({std::size_t(1), std::size_t(4)});
    TrainConfig config;
    config.optimizer.kind = OptimizerKind::adam;
    Trainer<double> trainer(spec, good.state.params, X, Y, config);
    TrainerState<double> s = good.state;
    BOOST_TEST_REQUIRE(s.second_moments.size() == trainer.state().second_moments.size());
    s.second_moments[0](0, 0) = -2;
    BOOST_CHECK_EXCEPTION(trainer.restore(s), DataError, [](const DataError& e) {
        return std::string(e.what()).find("second moment 0 holds -2") != std::string::npos;
    });
}
