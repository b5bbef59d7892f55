#include "xgrad/io/io.hpp"
#include "h5.hpp"
#include "xgrad/io/files.hpp"
#include "xgrad/io/text.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <sys/stat.h>
#include <unistd.h>

namespace xgrad::io {

namespace {

using namespace h5;

const char* const kTrainFile = "train_catvnoncat.h5";
const char* const kTestFile = "test_catvnoncat.h5";
const char* const kDataOrigin =
    "the cat/non-cat files come from the deeplearning.ai course \"Neural Networks and Deep "
    "Learning\" (see shared/datasets/catvnoncat/README.md)";

const char* const kDigitsTrainFile = "train_digits.h5";
const char* const kDigitsTestFile = "test_digits.h5";
const char* const kDigitsOrigin =
    "the digits files are scikit-learn's 8x8 handwritten digits split into 1437 training and 360 test "
    "images (see shared/datasets/digits/README.md)";

bool is_regular_file(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string join_path(const std::string& dir, const std::string& name) {
    if (dir.empty() || dir.back() == '/') return dir + name;
    return dir + "/" + name;
}

}  // namespace

std::string find_dataset_dir(const std::string& option, const std::string& fallback,
                             const DatasetPlace& place) {
    std::string dir, source;
    std::string looked;
    if (!option.empty()) {
        dir = option;
        source = "--data";
    } else if (const char* env = std::getenv(place.env.c_str()); env && *env) {
        dir = env;
        source = place.env;
        looked = "--data not given; ";
    } else {
        dir = fallback;
        source = "the built-in default";
        looked = "--data not given; " + place.env + " not set; ";
    }
    const std::string where = looked + source + " '" + dir + "'";
    auto refuse = [&](const std::string& why) {
        throw DataError(place.what + " not found: " + where + " " + why + "; " + place.origin +
                        "; put them in a directory and pass --data DIR or set " + place.env);
    };
    // what the path is, when it is not a directory (it used to be "has no <files>" for a FIFO too)
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
        refuse(errno == ENOENT ? "does not exist" : std::string("cannot be examined (") + std::strerror(errno) + ")");
    if (!S_ISDIR(st.st_mode)) refuse(std::string("is ") + file_kind(st.st_mode) + ", not a directory");
    if (::access(dir.c_str(), R_OK | X_OK) != 0) refuse("cannot be read (" + std::string(std::strerror(errno)) + ")");
    std::string missing;
    for (const std::string& f : place.files) {
        const std::string path = join_path(dir, f);
        if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
            refuse("holds " + f + " as " + file_kind(st.st_mode) + ", not a regular file");
        if (!is_regular_file(path)) missing += (missing.empty() ? "" : " and ") + f;
    }
    if (missing.empty()) return dir;
    refuse("has no " + missing);
    return dir;
}

std::string find_data_dir(const std::string& option, const std::string& fallback) {
    return find_dataset_dir(option, fallback,
                            {"cat/non-cat dataset", "XGRAD_DATA", {kTrainFile, kTestFile}, kDataOrigin});
}

std::string find_digits_dir(const std::string& option, const std::string& fallback) {
    return find_dataset_dir(option, fallback,
                            {"digits dataset", "XGRAD_DIGITS_DATA", {kDigitsTrainFile, kDigitsTestFile},
                             kDigitsOrigin});
}

namespace {

// ---- the parts of an image dataset, shared by the loaders below ----------------------------------

// Images of rank `rank` (layout names the axes, "[m,h,w,c]"), uint8, at least one, none empty:
// their dimensions; the pixels are the item's bytes.
const Item& images(const Contents& c, const std::string& x_name, std::size_t rank, const std::string& layout) {
    const std::string& file = c.file;
    const Item& xs = dataset(c, x_name);
    const auto& xd = xs.dims;
    if (xd.size() != rank)
        bad(file, x_name, "rank " + std::to_string(rank) + " " + layout,
            "rank " + std::to_string(xd.size()) + " " + shape_text(xd));
    if (!(xs.cls == wire::kInteger && xs.size == 1 && !xs.is_signed)) bad(file, x_name, "uint8 pixels", printable(xs.type));
    if (xd[0] == 0) bad(file, x_name, "at least one image", "zero images " + shape_text(xd));
    for (std::size_t i = 1; i < rank; ++i)
        if (xd[i] == 0) bad(file, x_name, "non-empty images " + layout, shape_text(xd));
    checked_product(file, x_name, xd);
    return xs;
}

// Labels of shape [m] or [1,m], integers (`kind` says which ones in a message), one per image of
// `x_name`; their values are the caller's to check.
std::vector<long long> labels_of(const Contents& c, const std::string& y_name, const std::string& x_name,
                                 std::size_t m, const std::string& kind) {
    const std::string& file = c.file;
    const Item& ys = dataset(c, y_name);
    const auto& yd = ys.dims;
    if (!(yd.size() == 1 || (yd.size() == 2 && yd[0] == 1)))
        bad(file, y_name, "labels of shape [m] or [1,m]", "rank " + std::to_string(yd.size()) + " " + shape_text(yd));
    if (ys.cls != wire::kInteger) bad(file, y_name, "integer labels " + kind, printable(ys.type));
    const std::size_t my = checked_product(file, y_name, yd);
    if (my != m)
        bad(file, y_name, std::to_string(m) + " labels (one per image in '" + x_name + "')",
            std::to_string(my) + " " + shape_text(yd));
    return ys.ints();
}

// list_classes: 2 to kMaxStrings names, fixed- or variable-length strings.
std::vector<std::string> classes_of(const Contents& c) {
    const Item& cs = dataset(c, "list_classes");
    if (cs.cls != wire::kString) bad(c.file, "list_classes", "strings", printable(cs.type));
    if (cs.dims.size() != 1 || cs.dims[0] < 2 || cs.dims[0] > kMaxStrings)
        bad(c.file, "list_classes", "2 to " + std::to_string(kMaxStrings) + " class names [n]", shape_text(cs.dims));
    return cs.strings;
}

// Image j of m (n_x values each, C order) becomes column j of X [n_x, m], divided by `scale`;
// labels[j] becomes Y(0, j).
template <class T>
void to_columns(const std::vector<std::uint8_t>& pixels, const std::vector<long long>& labels, std::size_t n_x,
                double scale, Matrix<T>& X, Matrix<T>& Y) {
    const std::size_t m = labels.size();
    X = Matrix<T>::from_shape({n_x, m});
    Y = Matrix<T>::from_shape({std::size_t(1), m});
    T* px = X.data();
    for (std::size_t j = 0; j < m; ++j) {
        const std::uint8_t* img = pixels.data() + j * n_x;
        for (std::size_t i = 0; i < n_x; ++i) px[i * m + j] = T(double(img[i]) / scale);
        Y(0, j) = T(labels[j]);
    }
}

}  // namespace

template <class T>
ImageSet<T> load_image_set(const std::string& file, const std::string& x_name,
                           const std::string& y_name) {
    const Contents c = isolated::read_h5(file, {false, false, false, false, {x_name, y_name, "list_classes"}});
    ImageSet<T> set;
    // images [m, h, w, c] uint8; labels [m] or [1,m], each 0 or 1; the class names
    const Item& xs = images(c, x_name, 4, "[m,h,w,c]");
    set.height = xs.dims[1];
    set.width = xs.dims[2];
    set.channels = xs.dims[3];
    const std::size_t n_x = set.height * set.width * set.channels;
    const std::vector<long long> labels = labels_of(c, y_name, x_name, xs.dims[0], "0/1");
    for (std::size_t j = 0; j < labels.size(); ++j)
        if (labels[j] != 0 && labels[j] != 1)
            bad(file, y_name, "labels 0 or 1", std::to_string(labels[j]) + " at index " + std::to_string(j));
    set.classes = classes_of(c);
    set.pixels.assign(xs.bytes.begin(), xs.bytes.end());
    // flatten as the seed: image j in C order (row, column, channel) becomes column j, /255
    to_columns(set.pixels, labels, n_x, 255.0, set.X, set.Y);
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

template <class T>
LabeledSet<T> load_digits_set(const std::string& file, const std::string& x_name, const std::string& y_name,
                              unsigned levels) {
    if (levels == 0 || levels > 255) throw UsageError("load_digits_set: levels must be 1..255, got " + std::to_string(levels));
    const Contents c = isolated::read_h5(file, {false, false, false, false, {x_name, y_name, "list_classes"}});
    LabeledSet<T> set;
    // images [m, h, w] uint8, grey levels 0..levels
    const Item& xs = images(c, x_name, 3, "[m,h,w]");
    set.height = xs.dims[1];
    set.width = xs.dims[2];
    const std::size_t n_x = set.height * set.width;
    const std::vector<unsigned char>& px = xs.bytes;
    for (std::size_t k = 0; k < px.size(); ++k)
        if (px[k] > levels) {
            const std::size_t j = k / n_x, r = k % n_x / set.width, col = k % set.width;
            bad(file, x_name, "grey levels 0.." + std::to_string(levels),
                std::to_string(unsigned(px[k])) + " in image " + std::to_string(j) + " at row " +
                    std::to_string(r) + ", column " + std::to_string(col));
        }
    // labels [m] or [1,m]: class indices into list_classes
    set.classes = classes_of(c);
    const std::size_t K = set.classes.size();
    const std::string range = "0.." + std::to_string(K - 1);
    const std::vector<long long> labels = labels_of(c, y_name, x_name, xs.dims[0], range);
    for (std::size_t j = 0; j < labels.size(); ++j)
        if (labels[j] < 0 || labels[j] >= (long long)K)
            bad(file, y_name, "labels " + range + " (list_classes has " + std::to_string(K) + " names)",
                std::to_string(labels[j]) + " at index " + std::to_string(j));
    set.pixels.assign(px.begin(), px.end());
    to_columns(set.pixels, labels, n_x, double(levels), set.X, set.Y);
    return set;
}

template <class T>
DigitsData<T> load_digits(const std::string& dir) {
    DigitsData<T> d;
    const std::string test_file = join_path(dir, kDigitsTestFile);
    d.train = load_digits_set<T>(join_path(dir, kDigitsTrainFile), "train_set_x", "train_set_y");
    d.test = load_digits_set<T>(test_file, "test_set_x", "test_set_y");
    if (d.test.height != d.train.height || d.test.width != d.train.width)
        bad(test_file, "test_set_x",
            "images of the training set's size " + std::to_string(d.train.height) + "x" + std::to_string(d.train.width),
            std::to_string(d.test.height) + "x" + std::to_string(d.test.width));
    if (d.test.classes != d.train.classes)
        bad(test_file, "list_classes",
            "the training set's " + std::to_string(d.train.classes.size()) + " class names",
            std::to_string(d.test.classes.size()) + " names" +
                (d.test.classes.size() == d.train.classes.size() ? " that differ" : ""));
    return d;
}

SavedParameters inspect_parameters(const std::string& path) {
    const Contents c = isolated::read_h5(path, {true, true, true, true, {}});
    SavedParameters sp;
    const auto dtype = read_attr_strings(c, "dtype", "expected parameters saved by xgrad::save");
    sp.dtype = dtype.size() == 1 ? dtype[0] : "";
    if (sp.dtype != "f32" && sp.dtype != "f64")
        throw DataError(path + ": attribute 'dtype': expected \"f32\" or \"f64\", found \"" + printable(sp.dtype) + "\"");
    for (const auto& [name, kind] : c.links) {
        if (kind != 0) bad(path, printable(name), "a 2-D parameter [rows,cols]", kind == 1 ? "a group" : "another kind of object");
        const Item& ds = dataset(c, name);
        const auto& d = ds.dims;
        if (d.size() != 2 || d[0] == 0 || d[1] == 0) bad(path, printable(name), "a 2-D parameter [rows,cols]", shape_text(d));
        sp.shapes.emplace_back(name, Shape{std::size_t(d[0]), std::size_t(d[1])});
    }
    return sp;
}

// ================================== models ========================================================

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

    write_atomically(path, "model", [&](H5::H5File& f) {
        for (std::size_t l = 1; l <= L; ++l) {
            write_matrix(f, "W" + std::to_string(l), params.W[l - 1]);
            write_matrix(f, "b" + std::to_string(l), params.b[l - 1]);
        }
        H5::Group root = f.openGroup("/");
        write_attr_ints(root, "layers_dims", std::vector<long long>(spec.dims.begin(), spec.dims.end()));
        std::vector<std::string> acts;
        for (Activation a : spec.activations) acts.emplace_back(activation_name(a));
        write_attr_strings(root, "activations", acts);
        write_attr_string(root, "dtype", Stored<T>::name);
        write_attr_double(root, "learning_rate", learning_rate);
        write_attr_int(root, "iterations", iterations);
        write_attr_uint32(root, "seed", seed);
        write_attr_double(root, "final_cost", final_cost);
        if (!info.image_shape.empty())
            write_attr_ints(root, "image_shape",
                            std::vector<long long>(info.image_shape.begin(), info.image_shape.end()));
        if (!info.classes.empty()) write_attr_strings(root, "classes", info.classes);
        for (const auto& [name, v] : info.numbers) write_attr_double(root, name.c_str(), v);
        for (const auto& [name, v] : info.texts) write_attr_string(root, name.c_str(), v);
    });
}

namespace {

const char* const kNotAModel = "expected a model written by cat_classifier train";

}  // namespace

ModelFile load_model(const std::string& path) {
    const Contents c = isolated::read_h5(path, {true, false, true, false, {}});
    ModelFile mf;
    const auto dims = read_attr_ints(c, "layers_dims", kNotAModel);
    const auto acts = read_attr_strings(c, "activations", kNotAModel);
    std::vector<std::size_t> udims;
    for (long long d : dims) {
        if (d <= 0)
            throw DataError(path + ": attribute 'layers_dims': expected positive sizes, found " + std::to_string(d));
        udims.push_back(std::size_t(d));
    }
    try {
        mf.spec = MlpSpec(udims, acts);
    } catch (const UsageError& e) {
        throw DataError(path + ": attributes 'layers_dims'/'activations' do not describe a network: " +
                        printable(e.what()));
    }

    const auto dtype = read_attr_strings(c, "dtype", kNotAModel);
    mf.dtype = dtype.empty() ? "" : dtype[0];
    if (mf.dtype != "f32" && mf.dtype != "f64")
        throw DataError(path + ": attribute 'dtype': expected \"f32\" or \"f64\", found \"" + printable(mf.dtype) + "\"");
    const std::size_t elem = mf.dtype == "f32" ? 4 : 8;

    mf.learning_rate = read_attr_double(c, "learning_rate", kNotAModel);
    if (!std::isfinite(mf.learning_rate))
        throw DataError(path + ": attribute 'learning_rate': expected a finite number, found " +
                        std::to_string(mf.learning_rate));
    mf.iterations = (long long)read_attr_whole(c, "iterations", 0, 1e18, kNotAModel);
    mf.seed = std::uint32_t(read_attr_whole(c, "seed", 0, 4294967295.0, kNotAModel));
    mf.final_cost = read_attr_double(c, "final_cost", kNotAModel);  // as trained, even NaN
    if (find_attr(c, "image_shape")) {
        const auto s = read_attr_ints(c, "image_shape", kNotAModel);
        std::size_t n = 1;
        bool positive = true;
        for (long long v : s) {
            positive = positive && v > 0 && v <= (1 << 20);
            n = positive ? n * std::size_t(v) : 0;
        }
        if (s.size() != 3 || !positive || n != mf.spec.dims[0] || s[2] > 4)
            throw DataError(path + ": attribute 'image_shape': expected [h,w,c] with c in 1..4 and h*w*c = " +
                            std::to_string(mf.spec.dims[0]) + ", found " + std::to_string(s.size()) +
                            " values with product " + std::to_string(n));
        mf.image_shape.assign(s.begin(), s.end());
    }
    if (find_attr(c, "classes")) mf.classes = read_attr_strings(c, "classes", kNotAModel);

    for (std::size_t l = 1; l <= mf.spec.layers(); ++l) {
        for (const bool is_w : {true, false}) {
            const std::string name = (is_w ? "W" : "b") + std::to_string(l);
            const std::vector<std::uint64_t> want = {mf.spec.dims[l], is_w ? mf.spec.dims[l - 1] : 1};
            Matrix<double> v = read_matrix<double>(c, name, want, elem, "from layers_dims, dtype " + mf.dtype);
            (is_w ? mf.params.W : mf.params.b).push_back(std::move(v));
        }
    }
    return mf;
}

template ImageSet<float> load_image_set<float>(const std::string&, const std::string&,
                                               const std::string&);
template ImageSet<double> load_image_set<double>(const std::string&, const std::string&,
                                                 const std::string&);
template LabeledSet<float> load_digits_set<float>(const std::string&, const std::string&, const std::string&,
                                                  unsigned);
template LabeledSet<double> load_digits_set<double>(const std::string&, const std::string&, const std::string&,
                                                    unsigned);
template DigitsData<float> load_digits<float>(const std::string&);
template DigitsData<double> load_digits<double>(const std::string&);
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
