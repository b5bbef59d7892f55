#include "xgrad/io.hpp"

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <functional>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include <H5Cpp.h>

namespace xgrad::io {

namespace {

const char* const kTrainFile = "train_catvnoncat.h5";
const char* const kTestFile = "test_catvnoncat.h5";
const char* const kDataOrigin =
    "the cat/non-cat files come from the deeplearning.ai course \"Neural Networks and Deep "
    "Learning\" (see shared/datasets/catvnoncat/README.md)";

bool is_regular_file(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string join_path(const std::string& dir, const std::string& name) {
    if (dir.empty() || dir.back() == '/') return dir + name;
    return dir + "/" + name;
}

// HDF5 prints its whole error stack to stderr by default; our own one-line message replaces it.
void silence_hdf5() {
    static const bool once = [] {
        H5::Exception::dontPrint();
        return true;
    }();
    (void)once;
}

// The innermost message of HDF5's error stack ("truncated file: eof = ...") says far more than the
// C++ wrapper's "H5Fopen failed"; it must be read before any other HDF5 call clears the stack.
std::string hdf5_cause(const H5::Exception& e) {
    std::string inner;
    H5Ewalk2(
        H5E_DEFAULT, H5E_WALK_UPWARD,
        [](unsigned n, const H5E_error2_t* err, void* out) -> herr_t {
            if (n == 0 && err && err->desc) *static_cast<std::string*>(out) = err->desc;
            return 0;
        },
        &inner);
    if (!inner.empty()) return inner;
    return e.getDetailMsg();
}

std::string shape_text(const std::vector<hsize_t>& dims) {
    std::string s = "[";
    for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
    return s + "]";
}

// A readable name for an HDF5 element type: "uint8", "int64", "float32", "string".
std::string type_text(const H5::DataType& t) {
    const std::size_t bits = t.getSize() * 8;
    switch (t.getClass()) {
        case H5T_INTEGER: {
            const H5::IntType it(t.getId());
            return std::string(it.getSign() == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
        }
        case H5T_FLOAT: return "float" + std::to_string(bits);
        case H5T_STRING: return "string";
        case H5T_COMPOUND: return "compound";
        case H5T_ENUM: return "enum";
        case H5T_ARRAY: return "array";
        default: return "a non-numeric type";
    }
}

// Runs one HDF5 step; a failure becomes a DataError "<file>: <what>: <HDF5's innermost cause>".
template <class F>
auto h5_step(const std::string& file, const std::string& what, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const H5::Exception& e) {
        const std::string cause = hdf5_cause(e);
        std::string hint;
        if (cause.find("truncated") != std::string::npos) hint = " (the file is truncated)";
        throw DataError(file + ": " + what + hint + ": " + cause);
    }
}

H5::H5File open_for_reading(const std::string& file) {
    silence_hdf5();
    if (!is_regular_file(file)) throw DataError(file + ": no such file");
    if (::access(file.c_str(), R_OK) != 0) throw DataError(file + ": not readable (permission)");
    const bool hdf5 = h5_step(file, "cannot check the file type",
                              [&] { return H5::H5File::isHdf5(file.c_str()); });
    if (!hdf5) throw DataError(file + ": not an HDF5 file (no HDF5 signature)");
    return h5_step(file, "cannot open as HDF5",
                   [&] { return H5::H5File(file.c_str(), H5F_ACC_RDONLY); });
}

// Validation messages name the file, the dataset and what was expected vs found.
[[noreturn]] void bad(const std::string& file, const std::string& dataset,
                      const std::string& expected, const std::string& found) {
    throw DataError(file + ": dataset '" + dataset + "': expected " + expected + ", found " +
                    found);
}

H5::DataSet open_dataset(const H5::H5File& f, const std::string& file, const std::string& name) {
    const bool exists = h5_step(file, "cannot look up dataset '" + name + "'",
                                [&] { return f.nameExists(name); });
    if (!exists) bad(file, name, "a dataset of that name", "none (missing)");
    return h5_step(file, "cannot open dataset '" + name + "'",
                   [&] { return f.openDataSet(name); });
}

std::vector<hsize_t> dims_of(const H5::DataSpace& sp) {
    const int rank = sp.getSimpleExtentNdims();
    std::vector<hsize_t> d(rank > 0 ? std::size_t(rank) : 0);
    if (rank > 0) sp.getSimpleExtentDims(d.data());
    return d;
}

std::size_t product(const std::vector<hsize_t>& d) {
    std::size_t n = 1;
    for (hsize_t v : d) n *= std::size_t(v);
    return n;
}

// DataSet::read and Attribute::read take their arguments in opposite orders.
void read_raw(const H5::DataSet& d, const H5::DataType& t, void* buf) { d.read(buf, t); }
void read_raw(const H5::Attribute& a, const H5::DataType& t, void* buf) { a.read(t, buf); }

// Strings of a 1-D dataset or attribute, fixed-length or variable-length.
template <class Obj>
std::vector<std::string> read_strings(const Obj& obj, const H5::DataSpace& sp, std::size_t n) {
    const H5::StrType type = obj.getStrType();
    std::vector<std::string> out;
    if (type.isVariableStr()) {
        std::vector<char*> buf(n, nullptr);
        read_raw(obj, type, buf.data());
        for (char* p : buf) out.emplace_back(p ? p : "");
        H5Dvlen_reclaim(type.getId(), sp.getId(), H5P_DEFAULT, buf.data());
    } else {
        const std::size_t size = type.getSize();
        std::vector<char> buf(n * size, '\0');
        read_raw(obj, type, buf.data());
        for (std::size_t i = 0; i < n; ++i) {
            std::string s(buf.data() + i * size, size);
            s.erase(s.find_last_not_of(std::string(1, '\0') + " ") + 1);  // null/space padding
            out.push_back(s);
        }
    }
    return out;
}

}  // namespace

std::string find_data_dir(const std::string& option, const std::string& fallback) {
    std::string dir, source;
    std::string looked;
    if (!option.empty()) {
        dir = option;
        source = "--data";
    } else if (const char* env = std::getenv("XGRAD_DATA"); env && *env) {
        dir = env;
        source = "XGRAD_DATA";
        looked = "--data not given; ";
    } else {
        dir = fallback;
        source = "the built-in default";
        looked = "--data not given; XGRAD_DATA not set; ";
    }
    std::string missing;
    for (const char* f : {kTrainFile, kTestFile})
        if (!is_regular_file(join_path(dir, f))) missing += std::string(missing.empty() ? "" : " and ") + f;
    if (missing.empty()) return dir;
    throw DataError("cat/non-cat dataset not found: " + looked + source + " '" + dir + "' has no " +
                    missing + "; " + kDataOrigin +
                    "; put them in a directory and pass --data DIR or set XGRAD_DATA");
}

template <class T>
ImageSet<T> load_image_set(const std::string& file, const std::string& x_name,
                           const std::string& y_name) {
    const H5::H5File f = open_for_reading(file);
    ImageSet<T> set;

    // ---- images: [m, h, w, c] uint8 ----
    const H5::DataSet xs = open_dataset(f, file, x_name);
    const auto xd = h5_step(file, "cannot read the shape of '" + x_name + "'",
                            [&] { return dims_of(xs.getSpace()); });
    if (xd.size() != 4)
        bad(file, x_name, "rank 4 [m,h,w,c]", "rank " + std::to_string(xd.size()) + " " + shape_text(xd));
    {
        const H5::DataType t = xs.getDataType();
        if (!(t.getClass() == H5T_INTEGER && t.getSize() == 1 &&
              H5::IntType(t.getId()).getSign() == H5T_SGN_NONE))
            bad(file, x_name, "uint8 pixels", type_text(t));
    }
    const std::size_t m = xd[0];
    if (m == 0) bad(file, x_name, "at least one image", "zero images " + shape_text(xd));
    if (xd[1] == 0 || xd[2] == 0 || xd[3] == 0)
        bad(file, x_name, "non-empty images [m,h,w,c]", shape_text(xd));
    set.height = xd[1];
    set.width = xd[2];
    set.channels = xd[3];
    const std::size_t n_x = set.height * set.width * set.channels;
    set.pixels.resize(m * n_x);
    h5_step(file, "cannot read dataset '" + x_name + "'",
            [&] { xs.read(set.pixels.data(), H5::PredType::NATIVE_UINT8); });

    // ---- labels: [m] or [1,m] integers, each 0 or 1 ----
    const H5::DataSet ys = open_dataset(f, file, y_name);
    const auto yd = h5_step(file, "cannot read the shape of '" + y_name + "'",
                            [&] { return dims_of(ys.getSpace()); });
    if (!(yd.size() == 1 || (yd.size() == 2 && yd[0] == 1)))
        bad(file, y_name, "labels of shape [m] or [1,m]", "rank " + std::to_string(yd.size()) + " " + shape_text(yd));
    {
        const H5::DataType t = ys.getDataType();
        if (t.getClass() != H5T_INTEGER) bad(file, y_name, "integer labels 0/1", type_text(t));
    }
    const std::size_t my = product(yd);
    if (my != m)
        bad(file, y_name, std::to_string(m) + " labels (one per image in '" + x_name + "')",
            std::to_string(my) + " " + shape_text(yd));
    std::vector<long long> labels(m);
    h5_step(file, "cannot read dataset '" + y_name + "'",
            [&] { ys.read(labels.data(), H5::PredType::NATIVE_LLONG); });
    for (std::size_t j = 0; j < m; ++j)
        if (labels[j] != 0 && labels[j] != 1)
            bad(file, y_name, "labels 0 or 1",
                std::to_string(labels[j]) + " at index " + std::to_string(j));

    // ---- class names: labels index into them ----
    const H5::DataSet cs = open_dataset(f, file, "list_classes");
    {
        const H5::DataType t = cs.getDataType();
        if (t.getClass() != H5T_STRING) bad(file, "list_classes", "strings", type_text(t));
        const auto cd = dims_of(cs.getSpace());
        if (cd.size() != 1 || cd[0] < 2)
            bad(file, "list_classes", "at least 2 class names [n]", shape_text(cd));
        set.classes = h5_step(file, "cannot read dataset 'list_classes'",
                              [&] { return read_strings(cs, cs.getSpace(), cd[0]); });
    }

    // ---- flatten as the seed: image j in C order (row, column, channel) becomes column j, /255 ----
    set.X = Matrix<T>::from_shape({n_x, m});
    set.Y = Matrix<T>::from_shape({std::size_t(1), m});
    T* X = set.X.data();
    for (std::size_t j = 0; j < m; ++j) {
        const std::uint8_t* img = set.pixels.data() + j * n_x;
        for (std::size_t i = 0; i < n_x; ++i) X[i * m + j] = T(double(img[i]) / 255.0);
        set.Y(0, j) = T(labels[j]);
    }
    return set;
}

template <class T>
CatData<T> load_catvnoncat(const std::string& dir) {
    CatData<T> d;
    d.train = load_image_set<T>(join_path(dir, kTrainFile), "train_set_x", "train_set_y");
    d.test = load_image_set<T>(join_path(dir, kTestFile), "test_set_x", "test_set_y");
    const std::string test_file = join_path(dir, kTestFile);
    if (d.test.height != d.train.height || d.test.width != d.train.width ||
        d.test.channels != d.train.channels)
        bad(test_file, "test_set_x",
            "images of the training set's size " + std::to_string(d.train.height) + "x" +
                std::to_string(d.train.width) + "x" + std::to_string(d.train.channels),
            std::to_string(d.test.height) + "x" + std::to_string(d.test.width) + "x" +
                std::to_string(d.test.channels));
    return d;
}

// ================================== models ========================================================

namespace {

// How a value type is stored: its HDF5 type in the file and in memory, and its dtype attribute.
template <class T>
struct Stored;
template <>
struct Stored<float> {
    static const H5::PredType& file() { return H5::PredType::IEEE_F32LE; }
    static const H5::PredType& mem() { return H5::PredType::NATIVE_FLOAT; }
    static constexpr const char* name = "f32";
};
template <>
struct Stored<double> {
    static const H5::PredType& file() { return H5::PredType::IEEE_F64LE; }
    static const H5::PredType& mem() { return H5::PredType::NATIVE_DOUBLE; }
    static constexpr const char* name = "f64";
};

H5::StrType utf8_string() {
    H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
    t.setCset(H5T_CSET_UTF8);
    return t;
}

void write_attr_strings(H5::Group& g, const char* name, const std::vector<std::string>& v) {
    const hsize_t n = v.size();
    const H5::DataSpace sp(1, &n);
    const H5::StrType t = utf8_string();
    std::vector<const char*> ptrs;
    for (const auto& s : v) ptrs.push_back(s.c_str());
    g.createAttribute(name, t, sp).write(t, ptrs.data());
}

void write_attr_string(H5::Group& g, const char* name, const std::string& v) {
    const H5::StrType t = utf8_string();
    const char* p = v.c_str();
    g.createAttribute(name, t, H5::DataSpace(H5S_SCALAR)).write(t, &p);
}

void write_attr_ints(H5::Group& g, const char* name, const std::vector<std::size_t>& v) {
    const hsize_t n = v.size();
    std::vector<long long> w(v.begin(), v.end());
    g.createAttribute(name, H5::PredType::STD_I64LE, H5::DataSpace(1, &n))
        .write(H5::PredType::NATIVE_LLONG, w.data());
}

template <class V>
void write_attr_scalar(H5::Group& g, const char* name, const H5::PredType& file_t,
                       const H5::PredType& mem_t, V v) {
    g.createAttribute(name, file_t, H5::DataSpace(H5S_SCALAR)).write(mem_t, &v);
}

// Pushes the temporary file's bytes to disk before the rename, so that after a crash the name
// model.h5 points either at the old complete file or at the new complete one.
void sync_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

std::string directory_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

template <class T>
void save_model(const std::string& path, const MlpSpec& spec, const Params<T>& params,
                double learning_rate, long long iterations, std::uint32_t seed, double final_cost) {
    save_model(path, spec, params, learning_rate, iterations, seed, final_cost, ModelInfo{});
}

template <class T>
void save_model(const std::string& path, const MlpSpec& spec, const Params<T>& params,
                double learning_rate, long long iterations, std::uint32_t seed, double final_cost,
                const ModelInfo& info) {
    silence_hdf5();
    const std::size_t L = spec.layers();
    if (params.W.size() != L || params.b.size() != L)
        throw ShapeError("save_model " + path + ": " + std::to_string(L) + " layers need " +
                         std::to_string(L) + " weights and biases, got " +
                         std::to_string(params.W.size()) + " and " + std::to_string(params.b.size()));
    for (std::size_t l = 1; l <= L; ++l) {
        const Shape ws{spec.dims[l], spec.dims[l - 1]}, bs{spec.dims[l], 1};
        if (shape_of(params.W[l - 1]) != ws || shape_of(params.b[l - 1]) != bs)
            throw ShapeError("save_model " + path + ": layer " + std::to_string(l) + " needs W " +
                             to_string(ws) + " and b " + to_string(bs) + ", got " +
                             to_string(shape_of(params.W[l - 1])) + " and " +
                             to_string(shape_of(params.b[l - 1])));
    }
    if (!info.image_shape.empty()) {
        std::size_t n = 1;
        for (auto v : info.image_shape) n *= v;
        if (info.image_shape.size() != 3 || n != spec.dims[0])
            throw ShapeError("save_model " + path + ": image_shape must be {h,w,c} with h*w*c = " +
                             std::to_string(spec.dims[0]));
    }

    const std::string dir = directory_of(path);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw DataError(path + ": cannot write the model: directory '" + dir + "' does not exist");
    // Same directory as the target: rename() is atomic only within one file system.
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    try {
        {
            H5::H5File f(tmp.c_str(), H5F_ACC_TRUNC);
            for (std::size_t l = 1; l <= L; ++l) {
                for (const bool is_w : {true, false}) {
                    const Matrix<T>& v = is_w ? params.W[l - 1] : params.b[l - 1];
                    const hsize_t d[2] = {v.shape()[0], v.shape()[1]};
                    const std::string name = (is_w ? "W" : "b") + std::to_string(l);
                    f.createDataSet(name, Stored<T>::file(), H5::DataSpace(2, d))
                        .write(v.data(), Stored<T>::mem());
                }
            }
            H5::Group root = f.openGroup("/");
            write_attr_ints(root, "layers_dims", spec.dims);
            std::vector<std::string> acts;
            for (Activation a : spec.activations) acts.emplace_back(activation_name(a));
            write_attr_strings(root, "activations", acts);
            write_attr_string(root, "dtype", Stored<T>::name);
            write_attr_scalar(root, "learning_rate", H5::PredType::IEEE_F64LE,
                              H5::PredType::NATIVE_DOUBLE, learning_rate);
            write_attr_scalar(root, "iterations", H5::PredType::STD_I64LE,
                              H5::PredType::NATIVE_LLONG, iterations);
            write_attr_scalar(root, "seed", H5::PredType::STD_U32LE, H5::PredType::NATIVE_UINT32,
                              seed);
            write_attr_scalar(root, "final_cost", H5::PredType::IEEE_F64LE,
                              H5::PredType::NATIVE_DOUBLE, final_cost);
            if (!info.image_shape.empty()) write_attr_ints(root, "image_shape", info.image_shape);
            if (!info.classes.empty()) write_attr_strings(root, "classes", info.classes);
            for (const auto& [name, v] : info.numbers)
                write_attr_scalar(root, name.c_str(), H5::PredType::IEEE_F64LE,
                                  H5::PredType::NATIVE_DOUBLE, v);
            for (const auto& [name, v] : info.texts) write_attr_string(root, name.c_str(), v);
            f.close();
        }
        sync_file(tmp);
        if (std::rename(tmp.c_str(), path.c_str()) != 0)
            throw DataError(path + ": cannot rename the temporary model file " + tmp + " into place");
    } catch (const H5::Exception& e) {
        const std::string cause = hdf5_cause(e);
        std::remove(tmp.c_str());
        throw DataError(path + ": cannot write the model: " + cause);
    } catch (...) {
        std::remove(tmp.c_str());
        throw;
    }
}

namespace {

H5::Attribute open_attr(const H5::Group& g, const std::string& file, const char* name) {
    if (!g.attrExists(name))
        throw DataError(file + ": attribute '" + name +
                        "' missing (expected a model written by cat_classifier train)");
    return g.openAttribute(name);
}

std::vector<long long> read_attr_ints(const H5::Group& g, const std::string& file, const char* name) {
    const H5::Attribute a = open_attr(g, file, name);
    if (a.getTypeClass() != H5T_INTEGER)
        throw DataError(file + ": attribute '" + name + "': expected integers, found " +
                        type_text(a.getDataType()));
    const auto d = dims_of(a.getSpace());
    std::vector<long long> v(product(d));
    a.read(H5::PredType::NATIVE_LLONG, v.data());
    return v;
}

std::vector<std::string> read_attr_strings(const H5::Group& g, const std::string& file,
                                           const char* name) {
    const H5::Attribute a = open_attr(g, file, name);
    if (a.getTypeClass() != H5T_STRING)
        throw DataError(file + ": attribute '" + name + "': expected strings, found " +
                        type_text(a.getDataType()));
    const H5::DataSpace sp = a.getSpace();
    return read_strings(a, sp, product(dims_of(sp)));
}

double read_attr_double(const H5::Group& g, const std::string& file, const char* name) {
    const H5::Attribute a = open_attr(g, file, name);
    const H5T_class_t c = a.getTypeClass();
    if ((c != H5T_FLOAT && c != H5T_INTEGER) || product(dims_of(a.getSpace())) != 1)
        throw DataError(file + ": attribute '" + name + "': expected one number, found " +
                        type_text(a.getDataType()) + " " + shape_text(dims_of(a.getSpace())));
    double v = 0;
    a.read(H5::PredType::NATIVE_DOUBLE, &v);
    return v;
}

}  // namespace

ModelFile load_model(const std::string& path) {
    const H5::H5File f = open_for_reading(path);
    ModelFile mf;
    h5_step(path, "cannot read the model", [&] {
        const H5::Group root = f.openGroup("/");

        const auto dims = read_attr_ints(root, path, "layers_dims");
        const auto acts = read_attr_strings(root, path, "activations");
        std::vector<std::size_t> udims;
        for (long long d : dims) {
            if (d <= 0)
                throw DataError(path + ": attribute 'layers_dims': expected positive sizes, found " +
                                std::to_string(d));
            udims.push_back(std::size_t(d));
        }
        try {
            mf.spec = MlpSpec(udims, acts);
        } catch (const UsageError& e) {
            throw DataError(path + ": attributes 'layers_dims'/'activations' do not describe a "
                                   "network: " + e.what());
        }

        const auto dtype = read_attr_strings(root, path, "dtype");
        mf.dtype = dtype.empty() ? "" : dtype[0];
        if (mf.dtype != "f32" && mf.dtype != "f64")
            throw DataError(path + ": attribute 'dtype': expected \"f32\" or \"f64\", found \"" +
                            mf.dtype + "\"");
        const std::size_t elem = mf.dtype == "f32" ? 4 : 8;

        mf.learning_rate = read_attr_double(root, path, "learning_rate");
        mf.iterations = (long long)read_attr_double(root, path, "iterations");
        mf.seed = std::uint32_t(read_attr_double(root, path, "seed"));
        mf.final_cost = read_attr_double(root, path, "final_cost");
        if (root.attrExists("image_shape")) {
            const auto s = read_attr_ints(root, path, "image_shape");
            std::size_t n = 1;
            for (long long v : s) n *= std::size_t(v > 0 ? v : 0);
            if (s.size() != 3 || n != mf.spec.dims[0])
                throw DataError(path + ": attribute 'image_shape': expected [h,w,c] with h*w*c = " +
                                std::to_string(mf.spec.dims[0]) + ", found " +
                                std::to_string(s.size()) + " values with product " +
                                std::to_string(n));
            mf.image_shape.assign(s.begin(), s.end());
        }
        if (root.attrExists("classes")) mf.classes = read_attr_strings(root, path, "classes");

        for (std::size_t l = 1; l <= mf.spec.layers(); ++l) {
            for (const bool is_w : {true, false}) {
                const std::string name = (is_w ? "W" : "b") + std::to_string(l);
                const H5::DataSet ds = open_dataset(f, path, name);
                const std::vector<hsize_t> want = {mf.spec.dims[l], is_w ? mf.spec.dims[l - 1] : 1};
                const auto got = dims_of(ds.getSpace());
                if (got != want) bad(path, name, shape_text(want) + " (from layers_dims)", shape_text(got));
                const H5::DataType t = ds.getDataType();
                if (t.getClass() != H5T_FLOAT || t.getSize() != elem)
                    bad(path, name, std::string(elem == 4 ? "float32" : "float64") + " (dtype " +
                                        mf.dtype + ")", type_text(t));
                Matrix<double> v = Matrix<double>::from_shape({want[0], want[1]});
                ds.read(v.data(), H5::PredType::NATIVE_DOUBLE);
                (is_w ? mf.params.W : mf.params.b).push_back(std::move(v));
            }
        }
    });
    return mf;
}

template ImageSet<float> load_image_set<float>(const std::string&, const std::string&,
                                               const std::string&);
template ImageSet<double> load_image_set<double>(const std::string&, const std::string&,
                                                 const std::string&);
template CatData<float> load_catvnoncat<float>(const std::string&);
template CatData<double> load_catvnoncat<double>(const std::string&);
template void save_model<float>(const std::string&, const MlpSpec&, const Params<float>&, double,
                                long long, std::uint32_t, double);
template void save_model<double>(const std::string&, const MlpSpec&, const Params<double>&, double,
                                 long long, std::uint32_t, double);
template void save_model<float>(const std::string&, const MlpSpec&, const Params<float>&, double,
                                long long, std::uint32_t, double, const ModelInfo&);
template void save_model<double>(const std::string&, const MlpSpec&, const Params<double>&, double,
                                 long long, std::uint32_t, double, const ModelInfo&);

}  // namespace xgrad::io
