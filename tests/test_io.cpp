#define BOOST_TEST_MODULE io
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <sstream>

#include <H5Cpp.h>

#include "needs.hpp"
#include "xgrad/io/checkpoint.hpp"
#include "xgrad/io/io.hpp"
#include "xgrad/io/parameters.hpp"
#include "xgrad/nn/random.hpp"

using namespace xgrad;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test case, removed afterwards.
struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/xgrad_test_io_XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// What a generated dataset file holds; the defaults make a valid 3-image 2x2x3 set.
struct SetFile {
    std::vector<hsize_t> x_dims{3, 2, 2, 3};
    const H5::PredType* x_type = &H5::PredType::STD_U8LE;
    std::vector<hsize_t> y_dims{3};
    std::vector<long long> y{1, 0, 1};
    bool with_x = true, with_y = true, with_classes = true;
    std::string x_name = "train_set_x", y_name = "train_set_y";
};

// Pixel k of the file is k mod 251: distinct enough to catch a wrong flattening order.
std::uint8_t pixel(std::size_t k) { return std::uint8_t(k % 251); }

void write_set(const std::string& path, const SetFile& s) {
    H5::H5File f(path, H5F_ACC_TRUNC);
    if (s.with_x) {
        std::size_t n = 1;
        for (auto d : s.x_dims) n *= d;
        std::vector<double> v(n);
        for (std::size_t k = 0; k < n; ++k) v[k] = pixel(k);
        f.createDataSet(s.x_name, *s.x_type, H5::DataSpace(int(s.x_dims.size()), s.x_dims.data()))
            .write(v.data(), H5::PredType::NATIVE_DOUBLE);
    }
    if (s.with_y)
        f.createDataSet(s.y_name, H5::PredType::STD_I64LE,
                        H5::DataSpace(int(s.y_dims.size()), s.y_dims.data()))
            .write(s.y.data(), H5::PredType::NATIVE_LLONG);
    if (s.with_classes) {
        // as in the real files: fixed-length byte strings
        const std::string names = std::string("non-cat") + std::string("cat\0\0\0\0", 7);
        const H5::StrType t(H5::PredType::C_S1, 7);
        const hsize_t n = 2;
        f.createDataSet("list_classes", t, H5::DataSpace(1, &n)).write(names.data(), t);
    }
}

// The loader's error for `path`: must be a DataError mentioning every part.
void expect_data_error(const std::string& path, const std::vector<std::string>& parts) {
    try {
        io::load_image_set<double>(path, "train_set_x", "train_set_y");
        BOOST_ERROR("no error for " + path);
    } catch (const DataError& e) {
        const std::string msg = e.what();
        BOOST_TEST_MESSAGE("message: " + msg);
        BOOST_TEST(msg.find('\n') == std::string::npos, "one line: " + msg);
        BOOST_TEST(msg.find(path) != std::string::npos, "names the file: " + msg);
        for (const auto& p : parts) BOOST_TEST(msg.find(p) != std::string::npos, "'" + p + "' in: " + msg);
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(valid_set_flattens_like_the_seed) {
    TempDir dir;
    const std::string file = dir / "ok.h5";
    write_set(file, SetFile{});
    const auto set = io::load_image_set<double>(file, "train_set_x", "train_set_y");
    BOOST_TEST(set.X.shape()[0] == 12u);
    BOOST_TEST(set.X.shape()[1] == 3u);
    BOOST_TEST(set.height == 2u);
    BOOST_TEST(set.width == 2u);
    BOOST_TEST(set.channels == 3u);
    // numpy: x.reshape(m, -1).T / 255 — column j is image j in C order
    for (std::size_t j = 0; j < 3; ++j)
        for (std::size_t i = 0; i < 12; ++i) BOOST_TEST(set.X(i, j) == pixel(j * 12 + i) / 255.0);
    BOOST_TEST(set.Y(0, 0) == 1.0);
    BOOST_TEST(set.Y(0, 1) == 0.0);
    BOOST_TEST(set.Y(0, 2) == 1.0);
    BOOST_TEST(set.classes == (std::vector<std::string>{"non-cat", "cat"}), boost::test_tools::per_element());
    BOOST_TEST(set.pixels.size() == 36u);
    BOOST_TEST(int(set.pixels[35]) == int(pixel(35)));
    // labels stored as [1, m] are accepted too
    SetFile s;
    s.y_dims = {1, 3};
    write_set(file, s);
    BOOST_TEST(io::load_image_set<float>(file, "train_set_x", "train_set_y").Y(0, 2) == 1.0f);
}

BOOST_AUTO_TEST_CASE(wrong_rank) {
    TempDir dir;
    SetFile s;
    s.x_dims = {3, 12};
    write_set(dir / "f.h5", s);
    expect_data_error(dir / "f.h5", {"'train_set_x'", "expected rank 4 [m,h,w,c]", "found rank 2 [3,12]"});
}

BOOST_AUTO_TEST_CASE(wrong_dtype) {
    TempDir dir;
    SetFile s;
    s.x_type = &H5::PredType::IEEE_F32LE;
    write_set(dir / "f.h5", s);
    expect_data_error(dir / "f.h5", {"'train_set_x'", "expected uint8 pixels", "found float32"});
    s.x_type = &H5::PredType::STD_I16LE;
    write_set(dir / "f.h5", s);
    expect_data_error(dir / "f.h5", {"'train_set_x'", "expected uint8 pixels", "found int16"});
}

BOOST_AUTO_TEST_CASE(missing_datasets) {
    TempDir dir;
    SetFile s;
    s.with_y = false;
    write_set(dir / "f.h5", s);
    expect_data_error(dir / "f.h5", {"dataset 'train_set_y'", "missing"});
    s = SetFile{};
    s.with_x = false;
    write_set(dir / "f.h5", s);
    expect_data_error(dir / "f.h5", {"dataset 'train_set_x'", "missing"});
    s = SetFile{};
    s.with_classes = false;
    write_set(dir / "f.h5", s);
    expect_data_error(dir / "f.h5", {"dataset 'list_classes'", "missing"});
}

BOOST_AUTO_TEST_CASE(label_two) {
    TempDir dir;
    SetFile s;
    s.y = {1, 2, 0};
    write_set(dir / "f.h5", s);
    expect_data_error(dir / "f.h5", {"'train_set_y'", "expected labels 0 or 1", "found 2 at index 1"});
}

BOOST_AUTO_TEST_CASE(counts_differ) {
    TempDir dir;
    SetFile s;
    s.y_dims = {2};
    s.y = {1, 0};
    write_set(dir / "f.h5", s);
    expect_data_error(dir / "f.h5", {"'train_set_y'", "expected 3 labels", "found 2 [2]"});
}

BOOST_AUTO_TEST_CASE(zero_images) {
    TempDir dir;
    SetFile s;
    s.x_dims = {0, 2, 2, 3};
    s.y_dims = {0};
    s.y = {};
    write_set(dir / "f.h5", s);
    expect_data_error(dir / "f.h5", {"'train_set_x'", "expected at least one image", "zero images"});
}

BOOST_AUTO_TEST_CASE(not_hdf5_and_missing_file) {
    TempDir dir;
    std::ofstream(dir / "f.h5") << "this is not HDF5\n";
    expect_data_error(dir / "f.h5", {"not an HDF5 file"});
    expect_data_error(dir / "none.h5", {"no such file"});
}

BOOST_AUTO_TEST_CASE(truncated_file) {
    TempDir dir;
    SetFile s;
    s.x_dims = {20, 16, 16, 3};  // big enough that half the file cuts into the pixels
    s.y_dims = {20};
    s.y.assign(20, 1);
    write_set(dir / "f.h5", s);
    const auto size = fs::file_size(dir / "f.h5");
    fs::resize_file(dir / "f.h5", size / 2);
    expect_data_error(dir / "f.h5", {"truncated"});
}

BOOST_AUTO_TEST_CASE(catvnoncat_pair_and_lookup_order) {
    TempDir dir;
    SetFile train;
    write_set(dir / "train_catvnoncat.h5", train);
    SetFile test;
    test.x_name = "test_set_x";
    test.y_name = "test_set_y";
    test.x_dims = {2, 2, 2, 3};
    test.y_dims = {2};
    test.y = {0, 1};
    write_set(dir / "test_catvnoncat.h5", test);
    const auto d = io::load_catvnoncat<double>(dir.path.string());
    BOOST_TEST(d.train.X.shape()[1] == 3u);
    BOOST_TEST(d.test.X.shape()[1] == 2u);

    TempDir empty;
    ::unsetenv("XGRAD_DATA");
    BOOST_TEST(io::find_data_dir(dir.path.string(), "/nowhere") == dir.path.string());
    BOOST_TEST(io::find_data_dir("", dir.path.string()) == dir.path.string());
    ::setenv("XGRAD_DATA", dir.path.c_str(), 1);
    BOOST_TEST(io::find_data_dir("", "/nowhere") == dir.path.string());
    try {
        io::find_data_dir(empty.path.string(), dir.path.string());  // --data wins, even when wrong
        BOOST_ERROR("no error for an empty --data directory");
    } catch (const DataError& e) {
        const std::string msg = e.what();
        BOOST_TEST(msg.find("--data '" + empty.path.string() + "'") != std::string::npos, msg);
        BOOST_TEST(msg.find("train_catvnoncat.h5") != std::string::npos, msg);
        BOOST_TEST(msg.find("deeplearning.ai") != std::string::npos, msg);
    }
    ::unsetenv("XGRAD_DATA");
    try {
        io::find_data_dir("", empty.path.string());
        BOOST_ERROR("no error for an empty fallback directory");
    } catch (const DataError& e) {
        const std::string msg = e.what();
        BOOST_TEST(msg.find("--data not given; XGRAD_DATA not set") != std::string::npos, msg);
        BOOST_TEST(msg.find(empty.path.string()) != std::string::npos, msg);
    }
}

// A dataset path that is no directory says what it is (it was "has no train_catvnoncat.h5" for a
// FIFO, a device or a file alike); a directory holding a FIFO under the file's name says so.
BOOST_AUTO_TEST_CASE(a_dataset_path_that_is_no_directory_says_what_it_is) {
    TempDir dir;
    BOOST_REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
    std::ofstream(dir / "file") << "x";
    fs::create_directory(dir / "with_fifo");
    BOOST_REQUIRE(::mkfifo((dir / "with_fifo/train_catvnoncat.h5").c_str(), 0600) == 0);
    const std::vector<std::pair<std::string, std::string>> cases = {
        {dir / "fifo", "' is a FIFO, not a directory; "},
        {dir / "file", "' is a regular file, not a directory; "},
        {"/dev/null", "' is a character device, not a directory; "},
        {dir / "missing", "' does not exist; "},
        {dir / "with_fifo", "' holds train_catvnoncat.h5 as a FIFO, not a regular file; "},
        {dir.path.string(), "' has no train_catvnoncat.h5 and test_catvnoncat.h5; "},
    };
    for (const auto& [path, what] : cases) {
        std::string msg;
        try {
            io::find_data_dir(path, "/nowhere");
        } catch (const DataError& e) {
            msg = e.what();
        }
        BOOST_TEST(msg.rfind("cat/non-cat dataset not found: --data '" + path + what, 0) == 0, msg);
    }
}

// ---- models --------------------------------------------------------------------------------------

namespace {

const MlpSpec kSpec({12, 5, 3, 1}, std::vector<std::string>{"relu", "relu", "sigmoid"});

template <class T>
Matrix<T> some_data(std::size_t rows, std::size_t cols) {
    Matrix<T> X = Matrix<T>::from_shape({rows, cols});
    for (std::size_t k = 0; k < X.size(); ++k) X.data()[k] = T(pixel(k * 7) / 255.0);
    return X;
}

template <class T>
void round_trip(const char* dtype) {
    TempDir dir;
    const std::string path = dir / "model.h5";
    Params<T> p = he_init<T>(kSpec, 5);
    p.b[1](2, 0) = T(0.25);  // a non-zero bias must survive too
    io::ModelInfo info;
    info.image_shape = {2, 2, 3};
    info.classes = {"non-cat", "cat"};
    io::save_model(path, kSpec, p, 0.0075, 1234, 5u, 0.125, info);
    // atomic write: nothing but the model is left in the directory
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(dir.path)) {
        (void)e;
        ++files;
    }
    BOOST_TEST(files == 1u);

    const io::ModelFile mf = io::load_model(path);
    BOOST_TEST(mf.dtype == dtype);
    BOOST_TEST(mf.spec.dims == kSpec.dims, boost::test_tools::per_element());
    BOOST_TEST(mf.spec.activations.size() == 3u);
    BOOST_TEST(activation_name(mf.spec.activations[2]) == std::string("sigmoid"));
    BOOST_TEST(mf.learning_rate == 0.0075);
    BOOST_TEST(mf.iterations == 1234);
    BOOST_TEST(mf.seed == 5u);
    BOOST_TEST(mf.final_cost == 0.125);
    BOOST_TEST(mf.image_shape == info.image_shape, boost::test_tools::per_element());
    BOOST_TEST(mf.classes == info.classes, boost::test_tools::per_element());
    Params<T> back;
    for (std::size_t l = 0; l < 3; ++l) {
        BOOST_TEST(shape_of(mf.params.W[l]) == shape_of(p.W[l]));
        BOOST_TEST(shape_of(mf.params.b[l]) == shape_of(p.b[l]));
        back.W.push_back(xt::cast<T>(mf.params.W[l]));
        back.b.push_back(xt::cast<T>(mf.params.b[l]));
        BOOST_TEST(back.W[l] == p.W[l]);  // bit for bit (f32 widened to double and back is exact)
        BOOST_TEST(back.b[l] == p.b[l]);
    }
    const Matrix<T> X = some_data<T>(12, 9);
    const Matrix<T> Y = xt::zeros<T>({std::size_t(1), std::size_t(9)});
    const Mlp<T> before(kSpec, p, X, Y), after(mf.spec, back, X, Y);
    BOOST_TEST(before.predict_proba(X) == after.predict_proba(X));

    // overwriting an existing model works and still leaves one file
    io::save_model(path, kSpec, p, 0.01, 1, 5u, 0.5);
    BOOST_TEST(io::load_model(path).learning_rate == 0.01);
    BOOST_TEST(io::load_model(path).image_shape.empty());
}

}  // namespace

BOOST_AUTO_TEST_CASE(model_round_trip_f64) { round_trip<double>("f64"); }
BOOST_AUTO_TEST_CASE(model_round_trip_f32) { round_trip<float>("f32"); }

BOOST_AUTO_TEST_CASE(model_write_failure_leaves_nothing) {
    TempDir dir;
    const Params<double> p = he_init<double>(kSpec, 3);
    try {
        io::save_model(dir / "no/such/dir/model.h5", kSpec, p, 0.1, 1, 3u, 0.5);
        BOOST_ERROR("no error for a missing directory");
    } catch (const DataError& e) {
        BOOST_TEST(std::string(e.what()).find("does not exist") != std::string::npos, e.what());
    }
    Params<double> wrong = p;
    wrong.W[1] = xt::zeros<double>({std::size_t(4), std::size_t(5)});
    BOOST_CHECK_THROW(io::save_model(dir / "m.h5", kSpec, wrong, 0.1, 1, 3u, 0.5), ShapeError);
    BOOST_TEST(fs::is_empty(dir.path));
}

BOOST_AUTO_TEST_CASE(model_defects_are_clear) {
    TempDir dir;
    // a dataset file is not a model
    write_set(dir / "data.h5", SetFile{});
    try {
        io::load_model(dir / "data.h5");
        BOOST_ERROR("no error");
    } catch (const DataError& e) {
        BOOST_TEST(std::string(e.what()).find("attribute 'layers_dims' missing") != std::string::npos, e.what());
    }
    // a weight of the wrong shape
    const std::string path = dir / "m.h5";
    io::save_model(path, kSpec, he_init<double>(kSpec, 3), 0.1, 1, 3u, 0.5);
    {
        H5::H5File f(path, H5F_ACC_RDWR);
        H5Ldelete(f.getId(), "W2", H5P_DEFAULT);
        const hsize_t d[2] = {3, 4};
        std::vector<double> z(12, 0.0);
        f.createDataSet("W2", H5::PredType::IEEE_F64LE, H5::DataSpace(2, d))
            .write(z.data(), H5::PredType::NATIVE_DOUBLE);
    }
    try {
        io::load_model(path);
        BOOST_ERROR("no error");
    } catch (const DataError& e) {
        const std::string msg = e.what();
        BOOST_TEST(msg.find("dataset 'W2': expected [3,5]") != std::string::npos, msg);
        BOOST_TEST(msg.find("found [3,4]") != std::string::npos, msg);
    }
}

// h5py (Debian's python3-h5py, with /usr/bin/python3) reads model.h5 as ordinary arrays.
BOOST_AUTO_TEST_CASE(model_readable_by_h5py, test::needs_h5py()) {
    BOOST_TEST_REQUIRE(test::have_h5py(), test::kNoH5py);  // XGRAD_REQUIRE_DATA=1 and no h5py
    for (const char* dtype : {"f64", "f32"}) {
        TempDir dir;
        const std::string path = dir / "model.h5";
        std::vector<double> expected;
        if (std::string(dtype) == "f64") {
            const auto p = he_init<double>(kSpec, 3);
            io::save_model(path, kSpec, p, 0.0075, 10, 3u, 0.5);
            expected.assign(p.W[0].begin(), p.W[0].end());
        } else {
            const auto p = he_init<float>(kSpec, 3);
            io::save_model(path, kSpec, p, 0.0075, 10, 3u, 0.5);
            expected.assign(p.W[0].begin(), p.W[0].end());
        }
        const std::string out = dir / "w1.txt";
        const std::string cmd =
            "/usr/bin/python3 -c \"import h5py, sys\n"
            "f = h5py.File(sys.argv[1], 'r')\n"
            "w = f['W1'][()]\n"
            "a = f.attrs\n"
            // (fixed-length strings: h5py gives them as bytes)
            "print(w.dtype, *w.shape, *a['layers_dims'], a['dtype'].decode(), a['learning_rate'])\n"
            "print('\\n'.join(repr(float(v)) for v in w.ravel()))\" " +
            path + " > " + out;
        BOOST_REQUIRE(std::system(cmd.c_str()) == 0);
        std::ifstream in(out);
        std::string type, dt;
        std::size_t rows = 0, cols = 0;
        std::vector<long long> dims(4);
        double lr = 0;
        in >> type >> rows >> cols >> dims[0] >> dims[1] >> dims[2] >> dims[3] >> dt >> lr;
        BOOST_TEST(type == (std::string(dtype) == "f64" ? "float64" : "float32"));
        BOOST_TEST(rows == 5u);
        BOOST_TEST(cols == 12u);
        BOOST_TEST(dims == (std::vector<long long>{12, 5, 3, 1}), boost::test_tools::per_element());
        BOOST_TEST(dt == dtype);
        BOOST_TEST(lr == 0.0075);
        std::vector<double> got;
        for (double v; in >> v;) got.push_back(v);
        BOOST_TEST(got == expected, boost::test_tools::per_element());  // exact: repr round-trips
    }
}

// xgrad writes fixed-length strings only (attributes and datasets of models, checkpoints and
// parameters): no variable-length string, whose global heap HDF5 1.10 cannot read safely when it is
// damaged. Checked with the HDF5 API on every object and attribute of each file.
BOOST_AUTO_TEST_CASE(own_files_hold_no_variable_length_strings) {
    TempDir dir;
    io::ModelInfo info;
    info.image_shape = {2, 2, 3};
    info.classes = {"non-cat", "cat", ""};
    info.texts = {{"optimizer", "adam"}, {"note", "ünïcode, and a trailing space "}};
    const std::string model = dir / "model.h5", ck = dir / "checkpoint.h5", params = dir / "params.h5";
    io::save_model(model, kSpec, he_init<double>(kSpec, 5), 0.0075, 10, 3u, 0.5, info);
    io::Checkpoint<float> c;
    c.state.params = he_init<float>(kSpec, 5);
    c.state.dropout_rng = NumpyRandom(1).state();
    c.settings = {{"optimizer", "adam"}, {"note", "a trailing space "}};
    io::save_checkpoint(ck, c);
    Tape<double> t;
    t.parameter(Matrix<double>{{1.0, 2.0}}, "w");
    save(params, t);

    int strings = 0;
    for (const std::string& path : {model, ck, params}) {
        H5::H5File f(path, H5F_ACC_RDONLY);
        const H5::Group root = f.openGroup("/");
        auto check = [&](const H5::DataType& type, const std::string& what) {
            if (type.getClass() != H5T_STRING) return;
            ++strings;
            BOOST_TEST(!H5::StrType(type.getId()).isVariableStr(), path << ": " << what << " is variable-length");
        };
        for (int i = 0; i < root.getNumAttrs(); ++i) {
            const H5::Attribute a = root.openAttribute(unsigned(i));
            check(a.getDataType(), "attribute " + a.getName());
        }
        for (hsize_t i = 0; i < root.getNumObjs(); ++i)
            if (root.getObjTypeByIdx(i) == H5G_DATASET) {
                const std::string name = root.getObjnameByIdx(i);
                check(f.openDataSet(name).getDataType(), "dataset " + name);
            }
    }
    BOOST_TEST(strings >= 10);  // activations, dtype, classes, optimizer, note, format, settings, ...
    // and they read back exactly (an empty string, UTF-8, a trailing space)
    const io::ModelFile mf = io::load_model(model);
    BOOST_TEST(mf.classes == info.classes, boost::test_tools::per_element());
    BOOST_TEST((io::load_checkpoint<float>(ck).settings == c.settings));
}
