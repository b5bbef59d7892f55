#define BOOST_TEST_MODULE digits_classifier
#include <boost/test/unit_test.hpp>

// The digits loader (io::load_digits_set, load_digits, find_digits_dir, inspect_parameters) on
// small HDF5 files this test writes (damaged files: test_damaged's corpus), and the built
// digits_classifier end to end on the real dataset:
// one default training shared by the cases that inspect its output. Those cases are labelled
// "digits" (tests/needs.hpp): ctest runs them as test_digits_classifier_digits, reported skipped
// without the dataset, unless XGRAD_REQUIRE_DATA=1 makes that a failure.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <sys/wait.h>

#include <H5Cpp.h>

#include "needs.hpp"
#include "test_util.hpp"
#include "xgrad/io/io.hpp"
#include "xgrad/io/parameters.hpp"
#include "xgrad/nn/layers.hpp"

using namespace xgrad;
namespace fs = std::filesystem;
using xgrad::test::lines_of;
using xgrad::test::slurp;

namespace {

const fs::path& work_dir() {
    static const fs::path dir = [] {
        char tmpl[] = "/tmp/xgrad_test_digits_XXXXXX";
        return fs::path(::mkdtemp(tmpl));
    }();
    return dir;
}

// The scratch directory goes at the end unless XGRAD_KEEP_TEST_OUTPUT is set (to look at the pictures).
struct CleanUp {
    ~CleanUp() {
        if (std::getenv("XGRAD_KEEP_TEST_OUTPUT")) {
            std::printf("test output kept in %s\n", work_dir().c_str());
            return;
        }
        std::error_code ec;
        fs::remove_all(work_dir(), ec);
    }
};
BOOST_TEST_GLOBAL_FIXTURE(CleanUp);

std::string path_in_work(const std::string& name) { return (work_dir() / name).string(); }

struct Run {
    int status = -1;
    std::string out, err;
    double seconds = 0;
};

// Runs the program with `args` (already shell-quoted) in the work directory; `env` (e.g.
// "XGRAD_DIGITS_DATA=/x ") goes before it in the same shell command.
Run run(const std::string& args, const std::string& env = "") {
    static int counter = 0;
    const std::string tag = std::to_string(counter++);
    const fs::path out = work_dir() / ("stdout" + tag), err = work_dir() / ("stderr" + tag);
    const std::string cmd = "cd '" + work_dir().string() + "' && " + env + "'" DIGITS_CLASSIFIER "' " + args + " > '" +
                            out.string() + "' 2> '" + err.string() + "'";
    const auto t0 = std::chrono::steady_clock::now();
    const int raw = std::system(cmd.c_str());
    Run r;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

// The dataset directory as the program finds it without --data, or nothing.
std::optional<std::string> dataset() {
    try {
        return io::find_digits_dir("", XGRAD_DEFAULT_DIGITS_DIR);
    } catch (const DataError&) {
        return std::nullopt;
    }
}

// The precondition of the cases that run the program on the dataset (tests/needs.hpp): without it
// they are skipped, unless XGRAD_REQUIRE_DATA=1 makes that a failure (need_data() below).
boost::unit_test::decorator::collector_t& needs_data() {
    return test::needs(test::Need::digits, [] { return dataset().has_value(); },
                       "the digits dataset is not in $XGRAD_DIGITS_DATA or " XGRAD_DEFAULT_DIGITS_DIR);
}

// Inside such a case: the dataset is there, or it is missing under XGRAD_REQUIRE_DATA=1, a failure.
bool need_data() {
    if (dataset()) return true;
    BOOST_FAIL("the digits dataset is missing and XGRAD_REQUIRE_DATA=1 (looked via $XGRAD_DIGITS_DATA, then " XGRAD_DEFAULT_DIGITS_DIR
               ")");
    return false;
}

std::string value_after(const std::string& out, const std::string& key) {
    for (const auto& l : lines_of(out))
        if (l.rfind(key, 0) == 0) return l.substr(key.size());
    return "<no line '" + key + "'>";
}

bool is_png(const fs::path& p) {
    const std::string s = slurp(p);
    return s.size() > 8 && s.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
}

// `digits_classifier train` with its defaults, once, into out/.
const Run& default_run() {
    static const Run r = [] {
        Run x = run("train --out out");
        BOOST_TEST_MESSAGE("default run: " << x.seconds << " s wall; " << value_after(x.out, "training seconds: ")
                                           << " s training");
        return x;
    }();
    return r;
}

fs::path default_model() { return work_dir() / "out" / "model.h5"; }

// ---- small dataset files -----------------------------------------------------------------------

// What a generated digits file holds; the defaults make a valid set of 3 images of 2x2, 10 classes.
struct DigitsFile {
    std::vector<hsize_t> x_dims{3, 2, 2};
    const H5::PredType* x_type = &H5::PredType::STD_U8LE;
    std::vector<double> pixels{0, 1, 2, 3, 4, 5, 6, 7, 8, 16, 15, 14};
    std::vector<hsize_t> y_dims{3};
    const H5::PredType* y_type = &H5::PredType::STD_I64LE;
    std::vector<double> y{7, 0, 9};
    std::vector<std::string> classes{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    bool with_classes = true;
    std::string prefix = "train";
};

void write_digits(const std::string& path, const DigitsFile& s) {
    H5::H5File f(path, H5F_ACC_TRUNC);
    std::size_t n = 1;
    for (auto d : s.x_dims) n *= d;
    std::vector<double> px(n);
    for (std::size_t k = 0; k < n; ++k) px[k] = s.pixels[k % s.pixels.size()];
    f.createDataSet(s.prefix + "_set_x", *s.x_type, H5::DataSpace(int(s.x_dims.size()), s.x_dims.data()))
        .write(px.data(), H5::PredType::NATIVE_DOUBLE);
    f.createDataSet(s.prefix + "_set_y", *s.y_type, H5::DataSpace(int(s.y_dims.size()), s.y_dims.data()))
        .write(s.y.data(), H5::PredType::NATIVE_DOUBLE);
    if (s.with_classes) {
        // as in the real files: fixed-length byte strings
        std::size_t width = 1;
        for (const auto& c : s.classes) width = std::max(width, c.size());
        std::string names;
        for (const auto& c : s.classes) names += c + std::string(width - c.size(), '\0');
        const H5::StrType t(H5::PredType::C_S1, width);
        const hsize_t k = s.classes.size();
        f.createDataSet("list_classes", t, H5::DataSpace(1, &k)).write(names.data(), t);
    }
}

// The loader's error for `path`: a one-line DataError naming the file and mentioning every part.
void expect_data_error(const std::string& path, const std::vector<std::string>& parts) {
    try {
        io::load_digits_set<double>(path, "train_set_x", "train_set_y");
        BOOST_ERROR("no error for " + path);
    } catch (const DataError& e) {
        const std::string msg = e.what();
        BOOST_TEST_MESSAGE("message: " + msg);
        BOOST_TEST(msg.find('\n') == std::string::npos, "one line: " + msg);
        BOOST_TEST(msg.rfind(path + ": ", 0) == 0u, "names the file first: " + msg);
        for (const auto& p : parts) BOOST_TEST(msg.find(p) != std::string::npos, "'" + p + "' in: " + msg);
    }
}

// A parameter file as xgrad::save writes it, with the given names and shapes (values k/100).
void write_parameters(const std::string& path, const std::vector<std::pair<std::string, Shape>>& params,
                      double poison = 0) {
    Tape<double> t;
    for (const auto& [name, s] : params) {
        Matrix<double> v = Matrix<double>::from_shape({s.rows, s.cols});
        for (std::size_t k = 0; k < v.size(); ++k) v.data()[k] = double(k % 7) / 100.0;
        if (poison != 0) v.data()[0] = poison;
        t.parameter(std::move(v), name);
    }
    save(path, t);
}

// The values of dataset `name` of an HDF5 file, as doubles.
std::vector<double> dataset_values(const std::string& path, const std::string& name) {
    H5::H5File f(path, H5F_ACC_RDONLY);
    const H5::DataSet ds = f.openDataSet(name);
    std::vector<double> v(std::size_t(ds.getSpace().getSimpleExtentNpoints()));
    ds.read(v.data(), H5::PredType::NATIVE_DOUBLE);
    return v;
}

}  // namespace

// ================================ the loader ===================================================

BOOST_AUTO_TEST_CASE(loader_flattens_and_divides_by_16) {
    const std::string file = path_in_work("ok.h5");
    write_digits(file, DigitsFile{});
    const auto set = io::load_digits_set<double>(file, "train_set_x", "train_set_y");
    BOOST_TEST(set.X.shape()[0] == 4u);
    BOOST_TEST(set.X.shape()[1] == 3u);
    BOOST_TEST(set.height == 2u);
    BOOST_TEST(set.width == 2u);
    // numpy: x.reshape(m, -1).T / 16 — column j is image j in C order
    const std::vector<double> px{0, 1, 2, 3, 4, 5, 6, 7, 8, 16, 15, 14};
    for (std::size_t j = 0; j < 3; ++j)
        for (std::size_t i = 0; i < 4; ++i) BOOST_TEST(set.X(i, j) == px[j * 4 + i] / 16.0);
    BOOST_TEST(set.Y.shape()[0] == 1u);
    BOOST_TEST(set.Y(0, 0) == 7.0);
    BOOST_TEST(set.Y(0, 1) == 0.0);
    BOOST_TEST(set.Y(0, 2) == 9.0);
    BOOST_TEST(set.classes.size() == 10u);
    BOOST_TEST(set.classes[9] == "9");
    BOOST_TEST(set.pixels.size() == 12u);
    BOOST_TEST(int(set.pixels[9]) == 16);
    // labels stored as [1, m] and of another integer type are accepted too; float works as well
    DigitsFile s;
    s.y_dims = {1, 3};
    s.y_type = &H5::PredType::STD_U8LE;
    write_digits(file, s);
    const auto f = io::load_digits_set<float>(file, "train_set_x", "train_set_y");
    BOOST_TEST(f.Y(0, 2) == 9.0f);
    BOOST_TEST(f.X(2, 2) == 15.0f / 16.0f);
}

BOOST_AUTO_TEST_CASE(loader_refuses_what_is_not_a_digits_set) {
    const std::string file = path_in_work("bad.h5");
    auto with = [&](auto change, const std::vector<std::string>& parts) {
        DigitsFile s;
        change(s);
        write_digits(file, s);
        expect_data_error(file, parts);
    };
    with([](DigitsFile& s) { s.x_type = &H5::PredType::IEEE_F64LE; },
         {"dataset 'train_set_x'", "expected uint8 pixels", "found float64"});
    with([](DigitsFile& s) { s.x_type = &H5::PredType::STD_I16LE; }, {"expected uint8 pixels", "found int16"});
    with([](DigitsFile& s) { s.pixels[5] = 17; },
         {"dataset 'train_set_x'", "expected grey levels 0..16", "found 17 in image 1 at row 0, column 1"});
    with([](DigitsFile& s) { s.pixels[11] = 255; }, {"found 255 in image 2 at row 1, column 1"});
    with([](DigitsFile& s) { s.y[2] = 10; },
         {"dataset 'train_set_y'", "expected labels 0..9 (list_classes has 10 names)", "found 10 at index 2"});
    with([](DigitsFile& s) { s.y[0] = -1; }, {"found -1 at index 0"});
    with(
        [](DigitsFile& s) {
            s.classes = {"zero", "one", "two"};
            s.y = {0, 1, 3};
        },
        {"expected labels 0..2 (list_classes has 3 names)", "found 3 at index 2"});
    with([](DigitsFile& s) { s.y_type = &H5::PredType::IEEE_F64LE; },
         {"dataset 'train_set_y'", "expected integer labels 0..9", "found float64"});
    with([](DigitsFile& s) { s.x_dims = {3, 2, 2, 1}; },
         {"dataset 'train_set_x'", "expected rank 3 [m,h,w]", "found rank 4 [3,2,2,1]"});
    with([](DigitsFile& s) { s.x_dims = {3, 4}; }, {"expected rank 3 [m,h,w]", "found rank 2 [3,4]"});
    with(
        [](DigitsFile& s) {
            s.y_dims = {2};
            s.y = {1, 2};
        },
        {"dataset 'train_set_y'", "expected 3 labels (one per image in 'train_set_x')", "found 2 [2]"});
    with([](DigitsFile& s) { s.y_dims = {3, 1}; }, {"expected labels of shape [m] or [1,m]"});
    with([](DigitsFile& s) { s.x_dims = {0, 2, 2}; }, {"expected at least one image"});
    with([](DigitsFile& s) { s.with_classes = false; }, {"dataset 'list_classes'", "missing"});
    with([](DigitsFile& s) { s.classes = {"only"}; }, {"dataset 'list_classes'", "class names"});
    with([](DigitsFile& s) { s.prefix = "other"; }, {"dataset 'train_set_x'", "missing"});
    // not HDF5 at all, and no file
    std::ofstream(path_in_work("text.h5")) << "not hdf5\n";
    expect_data_error(path_in_work("text.h5"), {"not an HDF5 file"});
    expect_data_error(path_in_work("none.h5"), {"no such file"});
}

BOOST_AUTO_TEST_CASE(both_files_must_agree) {
    const fs::path dir = work_dir() / "pair";
    fs::create_directories(dir);
    DigitsFile train, test;
    test.prefix = "test";
    write_digits((dir / "train_digits.h5").string(), train);
    write_digits((dir / "test_digits.h5").string(), test);
    const auto d = io::load_digits<double>(dir.string());
    BOOST_TEST(d.train.X.shape()[1] == 3u);
    BOOST_TEST(d.test.Y(0, 0) == 7.0);
    const std::string test_file = (dir / "test_digits.h5").string();
    auto refused = [&](const std::vector<std::string>& parts) {
        try {
            io::load_digits<double>(dir.string());
            BOOST_ERROR("no error");
        } catch (const DataError& e) {
            const std::string msg = e.what();
            BOOST_TEST(msg.rfind(test_file + ": ", 0) == 0u, msg);
            for (const auto& p : parts) BOOST_TEST(msg.find(p) != std::string::npos, "'" + p + "' in: " + msg);
        }
    };
    test.x_dims = {3, 2, 3};
    write_digits(test_file, test);
    refused({"dataset 'test_set_x'", "expected images of the training set's size 2x2", "found 2x3"});
    test.x_dims = {3, 2, 2};
    test.classes = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
    write_digits(test_file, test);
    refused({"dataset 'list_classes'", "expected the training set's 10 class names", "found 10 names that differ"});
}

BOOST_AUTO_TEST_CASE(find_digits_dir_looks_in_order) {
    const fs::path dir = work_dir() / "found";
    fs::create_directories(dir);
    for (const char* prefix : {"train", "test"}) {
        DigitsFile s;
        s.prefix = prefix;
        write_digits((dir / (std::string(prefix) + "_digits.h5")).string(), s);
    }
    const char* saved = std::getenv("XGRAD_DIGITS_DATA");
    const std::string keep = saved ? saved : "";
    ::unsetenv("XGRAD_DIGITS_DATA");
    BOOST_TEST(io::find_digits_dir(dir.string(), "/nonexistent") == dir.string());
    BOOST_TEST(io::find_digits_dir("", dir.string()) == dir.string());
    ::setenv("XGRAD_DIGITS_DATA", dir.string().c_str(), 1);
    BOOST_TEST(io::find_digits_dir("", "/nonexistent") == dir.string());
    // XGRAD_DATA is the cat dataset's: it does not point at the digits
    ::setenv("XGRAD_DIGITS_DATA", "/nonexistent/digits", 1);
    try {
        io::find_digits_dir("", dir.string());
        BOOST_ERROR("no error");
    } catch (const DataError& e) {
        const std::string msg = e.what();
        BOOST_TEST(msg.find("digits dataset not found: --data not given; XGRAD_DIGITS_DATA '/nonexistent/digits' "
                            "does not exist") == 0u,
                   msg);
        BOOST_TEST(msg.find("set XGRAD_DIGITS_DATA") != std::string::npos, msg);
    }
    ::unsetenv("XGRAD_DIGITS_DATA");
    fs::remove(dir / "test_digits.h5");
    try {
        io::find_digits_dir("", dir.string());
        BOOST_ERROR("no error");
    } catch (const DataError& e) {
        BOOST_TEST(std::string(e.what()).find("XGRAD_DIGITS_DATA not set; the built-in default '" + dir.string() +
                                              "' has no test_digits.h5;") != std::string::npos,
                   e.what());
    }
    if (saved) ::setenv("XGRAD_DIGITS_DATA", keep.c_str(), 1);
    // the cat dataset's finder keeps its own variable and message
    try {
        io::find_data_dir("/nonexistent/cat", "");
        BOOST_ERROR("no error");
    } catch (const DataError& e) {
        BOOST_TEST(std::string(e.what()).find("cat/non-cat dataset not found: --data '/nonexistent/cat' does not "
                                              "exist") == 0u,
                   e.what());
        BOOST_TEST(std::string(e.what()).find("set XGRAD_DATA") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_CASE(inspect_parameters_lists_names_and_shapes) {
    const std::string file = path_in_work("params.h5");
    write_parameters(file, {{"fc2.W", {10, 5}}, {"fc1.W", {5, 64}}, {"fc1.b", {5, 1}}});
    const io::SavedParameters sp = io::inspect_parameters(file);
    BOOST_TEST(sp.dtype == "f64");
    BOOST_TEST_REQUIRE(sp.shapes.size() == 3u);
    BOOST_TEST(sp.shapes[0].first == "fc1.W");  // the file's (alphabetical) order
    BOOST_TEST(sp.shapes[0].second == (Shape{5, 64}));
    BOOST_TEST(sp.shapes[2].first == "fc2.W");
    BOOST_TEST(sp.shapes[2].second == (Shape{10, 5}));
    BOOST_CHECK_THROW(io::inspect_parameters(path_in_work("none.h5")), DataError);
    write_digits(path_in_work("a_dataset.h5"), DigitsFile{});  // no dtype attribute
    BOOST_CHECK_THROW(io::inspect_parameters(path_in_work("a_dataset.h5")), DataError);
}

// ================================ the program ==================================================

BOOST_AUTO_TEST_CASE(default_training_reaches_the_target, needs_data() * boost::unit_test::timeout(600)) {
    if (!need_data()) return;
    const Run& r = default_run();
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    BOOST_TEST(r.err.empty(), r.err);
    const double test_acc = std::stod(value_after(r.out, "test accuracy: "));
    const double train_acc = std::stod(value_after(r.out, "train accuracy: "));
    BOOST_TEST_MESSAGE("train accuracy " << train_acc << ", test accuracy " << test_acc);
    BOOST_TEST(test_acc >= 0.975);
    BOOST_TEST(train_acc >= 0.99);
    BOOST_TEST(r.out.rfind("epoch 1/20 loss ", 0) == 0u, r.out);
    BOOST_TEST(r.out.find("\nepoch 20/20 loss ") != std::string::npos, r.out);
    BOOST_TEST(std::stod(value_after(r.out, "training seconds: ")) > 0.0);
    const fs::path out = work_dir() / "out";
    BOOST_TEST(is_png(out / "confusion.png"));
    BOOST_TEST(is_png(out / "misclassified.png"));
    // nothing else in out/ (the temporary model file was renamed)
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(out)) files += e.is_regular_file();
    BOOST_TEST(files == 3u);
}

BOOST_AUTO_TEST_CASE(predict_reproduces_the_test_accuracy, needs_data()) {
    if (!need_data()) return;
    BOOST_TEST_REQUIRE(default_run().status == 0);
    const Run p = run("predict --model out/model.h5 --data '" + *dataset() + "' --out predicted");
    BOOST_TEST_REQUIRE(p.status == 0, p.err);
    BOOST_TEST(p.err.empty(), p.err);
    BOOST_TEST(p.out == "test accuracy: " + value_after(default_run().out, "test accuracy: ") + "\n");
    BOOST_TEST(is_png(work_dir() / "predicted" / "confusion.png"));
    BOOST_TEST(is_png(work_dir() / "predicted" / "misclassified.png"));
    // the same pictures as train drew
    BOOST_TEST(slurp(work_dir() / "predicted" / "misclassified.png") == slurp(work_dir() / "out" / "misclassified.png"));
}

BOOST_AUTO_TEST_CASE(model_h5_readable_by_h5py, needs_data() * boost::unit_test::precondition(test::h5py_precondition())) {
    if (!need_data()) return;
    BOOST_TEST_REQUIRE(test::have_h5py(), "/usr/bin/python3 cannot import h5py and numpy");
    BOOST_TEST_REQUIRE(default_run().status == 0);
    const fs::path txt = work_dir() / "h5py.txt";
    const std::string cmd =
        "/usr/bin/python3 -c \"import h5py, sys\n"
        "f = h5py.File(sys.argv[1], 'r')\n"
        "print(f.attrs['format'].decode(), f.attrs['dtype'].decode())  # fixed-length strings: bytes\n"
        "for k in f: print(k, f[k].dtype, *f[k].shape, repr(float(f[k][()].sum(dtype='float64'))))\" '" +
        default_model().string() + "' > '" + txt.string() + "'";
    BOOST_TEST_REQUIRE(std::system(cmd.c_str()) == 0);
    const auto lines = lines_of(slurp(txt));
    BOOST_TEST_REQUIRE(lines.size() == 5u, slurp(txt));
    BOOST_TEST(lines[0] == "xgrad-parameters f64");
    // the program's own view of the same file, value for value
    H5::H5File f(default_model().string(), H5F_ACC_RDONLY);
    const std::vector<std::pair<std::string, Shape>> want{
        {"fc1.W", {128, 64}}, {"fc1.b", {128, 1}}, {"fc2.W", {10, 128}}, {"fc2.b", {10, 1}}};
    for (std::size_t k = 0; k < want.size(); ++k) {
        std::istringstream in(lines[k + 1]);
        std::string name, dtype;
        std::size_t rows = 0, cols = 0;
        double sum = 0;
        in >> name >> dtype >> rows >> cols >> sum;
        BOOST_TEST(name == want[k].first);
        BOOST_TEST(dtype == "float64");
        BOOST_TEST(rows == want[k].second.rows);
        BOOST_TEST(cols == want[k].second.cols);
        std::vector<double> v(rows * cols);
        f.openDataSet(name).read(v.data(), H5::PredType::NATIVE_DOUBLE);
        double s = 0;
        for (double x : v) s += x;
        BOOST_TEST(sum == s, boost::test_tools::tolerance(1e-9));
    }
}

BOOST_AUTO_TEST_CASE(options_combine_and_runs_repeat, needs_data()) {
    if (!need_data()) return;
    // f32, two hidden layers, another batch size: a model predict reads back in f32
    const std::string args = "train --dtype f32 --hidden 32,16 --epochs 3 --batch-size 100 --learning-rate 0.01 "
                             "--seed 4 --quiet --out f32";
    const Run a = run(args);
    BOOST_TEST_REQUIRE(a.status == 0, a.err);
    const auto lines = lines_of(a.out);
    BOOST_TEST_REQUIRE(lines.size() == 2u, a.out);  // --quiet: the accuracies only
    BOOST_TEST(lines[0].rfind("train accuracy: ", 0) == 0u);
    BOOST_TEST(lines[1].rfind("test accuracy: ", 0) == 0u);
    const io::SavedParameters sp = io::inspect_parameters(path_in_work("f32/model.h5"));
    BOOST_TEST(sp.dtype == "f32");
    BOOST_TEST(sp.shapes.size() == 6u);
    const Run p = run("predict --model f32/model.h5 --out f32");
    BOOST_TEST(p.status == 0, p.err);
    BOOST_TEST(p.out == lines[1] + "\n");
    // the same seed trains the same model; another seed another
    const std::vector<double> w = dataset_values(path_in_work("f32/model.h5"), "fc2.W");
    const Run b = run(args);
    BOOST_TEST(b.out == a.out);
    BOOST_TEST(dataset_values(path_in_work("f32/model.h5"), "fc2.W") == w, boost::test_tools::per_element());
    const Run c = run("train --dtype f32 --hidden 32,16 --epochs 3 --batch-size 100 --learning-rate 0.01 "
                      "--seed 5 --out f32b");
    BOOST_TEST_REQUIRE(c.status == 0, c.err);
    BOOST_TEST(c.out.rfind("epoch 1/3 loss ", 0) == 0u, c.out);
    BOOST_TEST(dataset_values(path_in_work("f32b/model.h5"), "fc2.W") != w);
    // a batch as large as the training set: one full-batch step per epoch
    const Run d = run("train --batch-size 5000 --epochs 2 --quiet --out big");
    BOOST_TEST(d.status == 0, d.err);
}

BOOST_AUTO_TEST_CASE(bad_input_is_one_line_and_exit_2) {
    auto check = [](const Run& r, const std::string& part) {
        BOOST_TEST(r.status == 2, r.err);
        BOOST_TEST(r.err.rfind("digits_classifier: ", 0) == 0u, r.err);
        BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1, r.err);
        BOOST_TEST(r.err.find(part) != std::string::npos, "'" << part << "' in: " << r.err);
    };
    check(run("train --data /nonexistent/xgrad"), "digits dataset not found: --data '/nonexistent/xgrad'");
    check(run("train", "XGRAD_DIGITS_DATA=/nonexistent/env "), "XGRAD_DIGITS_DATA '/nonexistent/env' does not exist");
    check(run("train --dtype f16"), "--dtype: f16 not in {f64,f32}");
    check(run("train --hidden 0"), "--hidden: '0' is not a layer size");
    check(run("train --hidden 64,-3"), "--hidden: '-3' is not a layer size");
    check(run("train --hidden 64,x"), "--hidden: 'x' is not a layer size");
    check(run("train --batch-size 0"), "--batch-size");
    check(run("train --epochs 0"), "--epochs");
    check(run("train --learning-rate 0"), "--learning-rate: must be a number > 0, got 0");
    check(run("train --learning-rate nan"), "--learning-rate: must be a number > 0");
    check(run("train --bogus"), "--bogus");
    check(run(""), "subcommand");
    check(run("predict"), "--model is required");
    check(run("predict --model missing.h5"), "missing.h5: no such file");
    std::ofstream(work_dir() / "garbage.h5") << "hello\n";
    check(run("predict --model garbage.h5"), "garbage.h5: not an HDF5 file");
    // a cat_classifier model, and parameter sets that do not chain into this program's network
    write_parameters(path_in_work("cat_like.h5"), {{"W1", {3, 64}}, {"b1", {3, 1}}});
    check(run("predict --model cat_like.h5"), "cat_like.h5: 'W1' is not a parameter of this program's network");
    write_parameters(path_in_work("no_b.h5"), {{"fc1.W", {5, 64}}, {"fc1.b", {5, 1}}, {"fc2.W", {10, 5}}});
    check(run("predict --model no_b.h5"), "no_b.h5: parameter 'fc2.b' missing");
    write_parameters(path_in_work("gap.h5"), {{"fc1.W", {5, 64}}, {"fc1.b", {5, 1}}, {"fc3.W", {10, 5}}, {"fc3.b", {10, 1}}});
    check(run("predict --model gap.h5"), "gap.h5: parameter 'fc2.W' missing");
    write_parameters(path_in_work("chain.h5"),
                     {{"fc1.W", {5, 64}}, {"fc1.b", {5, 1}}, {"fc2.W", {10, 6}}, {"fc2.b", {10, 1}}});
    check(run("predict --model chain.h5"), "chain.h5: parameter 'fc2.W' is [10,6], expected 5 columns");
    write_parameters(path_in_work("bias.h5"), {{"fc1.W", {10, 64}}, {"fc1.b", {1, 10}}});
    check(run("predict --model bias.h5"), "bias.h5: parameter 'fc1.b' is [1,10], expected [10,1]");
    if (dataset()) {
        check(run("train --out /etc/passwd/x"), "--out /etc/passwd/x: cannot create the directory");
        check(run("train --hidden 16777216,16777216"), "--hidden: ");
        write_parameters(path_in_work("wide.h5"), {{"fc1.W", {5, 12}}, {"fc1.b", {5, 1}}, {"fc2.W", {10, 5}}, {"fc2.b", {10, 1}}});
        check(run("predict --model wide.h5"), "wide.h5: the model's input size 12 does not fit the 8x8 images");
        write_parameters(path_in_work("seven.h5"), {{"fc1.W", {7, 64}}, {"fc1.b", {7, 1}}});
        check(run("predict --model seven.h5"), "seven.h5: the model has 7 outputs, the dataset 10 classes");
        write_parameters(path_in_work("nan.h5"), {{"fc1.W", {10, 64}}, {"fc1.b", {10, 1}}}, NAN);
        check(run("predict --model nan.h5"), "nan.h5: dataset 'fc1.W': expected finite values");
        if (default_run().status == 0) {
            // a real model cut in half
            const std::string whole = slurp(default_model());
            std::ofstream(work_dir() / "half.h5", std::ios::binary) << whole.substr(0, whole.size() / 2);
            check(run("predict --model half.h5"), "half.h5: ");
        }
    }
}
