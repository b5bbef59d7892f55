#define BOOST_TEST_MODULE cat_classifier
#include <boost/test/unit_test.hpp>

// End to end: runs the built cat_classifier on the real dataset. Two full-length trainings (the
// default f64 run and an f32 run), each done once and shared by the cases that inspect their output.
// The cases that need the dataset are labelled "data" (tests/needs.hpp): ctest runs them as
// test_cat_classifier_data, reported skipped without the dataset, unless XGRAD_REQUIRE_DATA=1 makes
// that a failure; test_cat_classifier runs the others.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <sys/wait.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include <H5Cpp.h>

#include "needs.hpp"
#include "test_util.hpp"
#include "xgrad/io/io.hpp"

using namespace xgrad;
namespace fs = std::filesystem;
using xgrad::test::lines_of;
using xgrad::test::slurp;

namespace {

struct Run {
    int status = -1;
    std::string out, err;
    double seconds = 0;
};

const fs::path& work_dir() {
    static const fs::path dir = [] {
        char tmpl[] = "/tmp/xgrad_test_cat_XXXXXX";
        return fs::path(::mkdtemp(tmpl));
    }();
    return dir;
}

// Runs the program with `args` (already shell-quoted) in `cwd`.
// `shell_prefix` runs before the program in the same shell (a ulimit, say)
Run run(const std::string& args, const fs::path& cwd = work_dir(), const std::string& shell_prefix = "") {
    static int counter = 0;
    const std::string tag = std::to_string(counter++);
    const fs::path out = work_dir() / ("stdout" + tag), err = work_dir() / ("stderr" + tag);
    const std::string cmd = "cd '" + cwd.string() + "' && " + shell_prefix + "'" CAT_CLASSIFIER "' " + args +
                            " > '" + out.string() + "' 2> '" + err.string() + "'";
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
        return io::find_data_dir("", XGRAD_DEFAULT_DATA_DIR);
    } catch (const DataError& e) {
        return std::nullopt;
    }
}

// The precondition of the cases that run the program on the dataset (tests/needs.hpp): without it
// they are skipped, unless XGRAD_REQUIRE_DATA=1 makes that a failure (need_data() below).
boost::unit_test::decorator::collector_t& needs_data() {
    return test::needs(test::Need::data, [] { return dataset().has_value(); },
                       "the cat/non-cat dataset is not in $XGRAD_DATA or " XGRAD_DEFAULT_DATA_DIR);
}

// Inside such a case: the dataset is there, or it is missing under XGRAD_REQUIRE_DATA=1, a failure.
bool need_data() {
    if (dataset()) return true;
    BOOST_FAIL("the cat/non-cat dataset is missing and XGRAD_REQUIRE_DATA=1 (looked via "
               "$XGRAD_DATA, then " XGRAD_DEFAULT_DATA_DIR ")");
    return false;
}

// `cat_classifier train` with no options at all, in its own directory (so out/ lands there).
const Run& default_run() {
    static const Run r = [] {
        fs::create_directories(work_dir() / "default");
        Run x = run("train", work_dir() / "default");
        BOOST_TEST_MESSAGE("default f64 run: " << x.seconds << " s wall");
        return x;
    }();
    return r;
}

const Run& f32_run() {
    static const Run r = [] {
        Run x = run("train --dtype f32 --print-every 1 --out out32");
        BOOST_TEST_MESSAGE("f32 run: " << x.seconds << " s wall");
        return x;
    }();
    return r;
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

fs::path default_model() { return work_dir() / "default" / "out" / "model.h5"; }

// "after iteration of N cost:X" lines: N -> X as printed.
std::vector<std::pair<long, std::string>> cost_lines(const std::string& out) {
    std::vector<std::pair<long, std::string>> v;
    const std::string head = "after iteration of ";
    for (const auto& l : lines_of(out)) {
        if (l.rfind(head, 0) != 0) continue;
        const auto c = l.find(" cost:");
        if (c == std::string::npos) continue;
        std::string x = l.substr(c + 6);
        if (const auto sp = x.find(' '); sp != std::string::npos) x = x.substr(0, sp);
        v.emplace_back(std::stol(l.substr(head.size(), c - head.size())), x);
    }
    return v;
}

std::string value_after(const std::string& out, const std::string& key) {
    for (const auto& l : lines_of(out))
        if (l.rfind(key, 0) == 0) return l.substr(key.size());
    return "<no line '" + key + "'>";
}

bool is_png(const fs::path& p) {
    const std::string s = slurp(p);
    return s.size() > 8 && s.compare(1, 3, "PNG") == 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(default_run_reproduces_the_seed, needs_data() * boost::unit_test::timeout(900)) {
    if (!need_data()) return;
    const Run& r = default_run();
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    BOOST_TEST(r.err.empty(), r.err);

    const auto got = cost_lines(r.out);
    const auto want = cost_lines(slurp(XGRAD_SOURCE_DIR "/../shared/seed/seed_reference_output.txt"));
    BOOST_TEST_REQUIRE(want.size() == 25u);
    BOOST_TEST_REQUIRE(got.size() == 25u);
    double worst = 0;
    for (std::size_t k = 0; k < 25; ++k) {
        BOOST_TEST(got[k].first == long(k * 100));
        BOOST_TEST(got[k].second == want[k].second, "iteration " << got[k].first);
        worst = std::max(worst, std::abs(std::stod(got[k].second) - std::stod(want[k].second)));
    }
    BOOST_TEST_MESSAGE("largest difference of the printed costs from the seed: " << worst);
    BOOST_TEST(value_after(r.out, "train accuracy: ") == "1.0");
    BOOST_TEST(value_after(r.out, "test accuracy: ") == "0.8");

    const fs::path out = work_dir() / "default" / "out";
    BOOST_TEST(is_png(out / "cost_curve.png"));
    BOOST_TEST(is_png(out / "mislabeled.png"));
    const io::ModelFile mf = io::load_model(default_model().string());
    BOOST_TEST(mf.dtype == "f64");
    BOOST_TEST(mf.iterations == 2500);
    BOOST_TEST(mf.seed == 3u);
    BOOST_TEST(mf.learning_rate == 0.0075);
    BOOST_TEST(mf.spec.dims == (std::vector<std::size_t>{12288, 20, 7, 5, 1}),
               boost::test_tools::per_element());
    BOOST_TEST(mf.image_shape == (std::vector<std::size_t>{64, 64, 3}), boost::test_tools::per_element());
    BOOST_TEST(mf.final_cost > 0.0);
    BOOST_TEST(mf.final_cost < 0.0058128);  // below the last printed (pre-update) cost
    // nothing else left in out/ (the temporary model file was renamed)
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(out)) files += e.is_regular_file();
    BOOST_TEST(files == 3u);
}

BOOST_AUTO_TEST_CASE(f32_run_is_finite_at_every_iteration, needs_data() * boost::unit_test::timeout(900)) {
    if (!need_data()) return;
    const Run& r = f32_run();
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    const auto got = cost_lines(r.out);
    BOOST_TEST(got.size() == 2500u);
    std::size_t bad = 0;
    for (std::size_t k = 0; k < got.size(); ++k) {
        const double c = std::strtod(got[k].second.c_str(), nullptr);
        BOOST_TEST(got[k].first == long(k));
        if (!std::isfinite(c) || c <= 0) ++bad;
    }
    BOOST_TEST(bad == 0u);
    BOOST_TEST(got.front().second == "0.811602");  // same start as f64
    BOOST_TEST_MESSAGE("f32: train accuracy " << value_after(r.out, "train accuracy: ")
                                              << ", test accuracy " << value_after(r.out, "test accuracy: ")
                                              << ", last cost " << got.back().second);
    BOOST_TEST(value_after(r.out, "train accuracy: ") == "1.0");
    const io::ModelFile mf = io::load_model((work_dir() / "out32" / "model.h5").string());
    BOOST_TEST(mf.dtype == "f32");
    // an f32 model predicts through the f64 path of `predict`
    const Run p = run("predict --model out32/model.h5");
    BOOST_TEST(p.status == 0, p.err);
    BOOST_TEST(value_after(p.out, "test accuracy: ") == value_after(r.out, "test accuracy: "));
}

BOOST_AUTO_TEST_CASE(model_h5_readable_by_h5py, needs_data() * boost::unit_test::precondition(test::h5py_precondition())) {
    if (!need_data()) return;
    BOOST_TEST_REQUIRE(test::have_h5py(), "/usr/bin/python3 cannot import h5py and numpy");
    BOOST_TEST_REQUIRE(default_run().status == 0);
    const fs::path txt = work_dir() / "h5py.txt";
    const std::string cmd =
        "/usr/bin/python3 -c \"import h5py, sys\n"
        "f = h5py.File(sys.argv[1], 'r')\n"
        "w = f['W1'][()]\n"
        "print(w.dtype, *w.shape, *f['b4'].shape, *f.attrs['image_shape'], *[a.decode() for a in f.attrs['activations']])\n"
        "print(repr(float(w[0, 0])), repr(float(w[19, 12287])), repr(float(w[7, 4242])))\n"
        "print(repr(float(w.sum(dtype='float64'))))\" '" +
        default_model().string() + "' > '" + txt.string() + "'";
    BOOST_TEST_REQUIRE(std::system(cmd.c_str()) == 0);
    std::ifstream in(txt);
    std::string dtype, a1, a2, a3, a4;
    std::size_t r = 0, c = 0, br = 0, bc = 0, h = 0, w = 0, ch = 0;
    double w00 = 0, wlast = 0, wmid = 0, sum = 0;
    in >> dtype >> r >> c >> br >> bc >> h >> w >> ch >> a1 >> a2 >> a3 >> a4 >> w00 >> wlast >> wmid >> sum;
    BOOST_TEST(dtype == "float64");
    BOOST_TEST(r == 20u);
    BOOST_TEST(c == 12288u);
    BOOST_TEST(br == 1u);
    BOOST_TEST(bc == 1u);
    BOOST_TEST(h * w * ch == 12288u);
    BOOST_TEST(a1 + "," + a2 + "," + a3 + "," + a4 == "relu,relu,relu,sigmoid");
    const io::ModelFile mf = io::load_model(default_model().string());
    const Matrix<double>& W1 = mf.params.W[0];
    BOOST_TEST(w00 == W1(0, 0));
    BOOST_TEST(wlast == W1(19, 12287));
    BOOST_TEST(wmid == W1(7, 4242));
    BOOST_TEST(sum == double(xt::sum(W1)()), boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(predict_on_own_png_matches_the_dataset, needs_data()) {
    if (!need_data()) return;
    BOOST_TEST_REQUIRE(default_run().status == 0);
    const auto data = io::load_catvnoncat<double>(*dataset());
    const io::ModelFile mf = io::load_model(default_model().string());
    const Mlp<double> mlp(mf.spec, mf.params, data.test.X, data.test.Y);
    const Matrix<double> p = mlp.predict_proba(data.test.X);
    const std::size_t n = 64 * 64 * 3;

    // two test images, one cat and one non-cat, saved as PNG at their own size
    std::vector<std::size_t> picks;
    for (int want : {1, 0})
        for (std::size_t j = 0; j < 50; ++j)
            if (int(data.test.Y(0, j)) == want) {
                picks.push_back(j);
                break;
            }
    std::string args = "predict --model '" + default_model().string() + "' --digits 12";
    for (std::size_t j : picks) {
        const fs::path png = work_dir() / ("test" + std::to_string(j) + ".png");
        BOOST_TEST_REQUIRE(stbi_write_png(png.c_str(), 64, 64, 3, data.test.pixels.data() + j * n, 64 * 3) != 0);
        args += " '" + png.string() + "'";
    }
    const Run r = run(args);
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    const auto out = lines_of(r.out);
    BOOST_TEST_REQUIRE(out.size() == picks.size());
    for (std::size_t k = 0; k < picks.size(); ++k) {
        const std::size_t j = picks[k];
        const std::string line = out[k];
        BOOST_TEST_MESSAGE(line << "   (dataset: p=" << p(0, j) << ")");
        const auto colon = line.find(".png: ");
        BOOST_TEST_REQUIRE(colon != std::string::npos, line);
        const std::string rest = line.substr(colon + 6);
        // the probability printed is p(cat), whichever class is named
        const std::string cls = rest.substr(0, rest.find(" (p(cat)="));
        BOOST_TEST_REQUIRE(rest.find(" (p(cat)=") != std::string::npos, line);
        const double got = std::stod(rest.substr(rest.find("(p(cat)=") + 8));
        BOOST_TEST(std::abs(got - p(0, j)) < 1e-6, line << " vs " << p(0, j));
        BOOST_TEST(cls == data.test.classes[p(0, j) > 0.5 ? 1 : 0]);
    }

    // a picture of another size is resized to 64x64 and classified
    {
        const std::size_t j = picks[0];
        std::vector<unsigned char> big(160 * 120 * 3);
        for (int y = 0; y < 120; ++y)
            for (int x = 0; x < 160; ++x)
                for (int c = 0; c < 3; ++c)
                    big[(std::size_t(y) * 160 + x) * 3 + c] =
                        data.test.pixels[j * n + (std::size_t(y * 64 / 120) * 64 + x * 64 / 160) * 3 + c];
        const fs::path png = work_dir() / "big.png";
        BOOST_TEST_REQUIRE(stbi_write_png(png.c_str(), 160, 120, 3, big.data(), 160 * 3) != 0);
        const Run b = run("predict --model '" + default_model().string() + "' '" + png.string() + "'");
        BOOST_TEST(b.status == 0, b.err);
        BOOST_TEST(b.out.find("big.png: ") != std::string::npos, b.out);
        const bool has_p = b.out.find(" (p(cat)=0.") != std::string::npos || b.out.find(" (p(cat)=1.") != std::string::npos;
        BOOST_TEST(has_p, b.out);
    }

    // the saved model's test accuracy
    const Run acc = run("predict --model '" + default_model().string() + "' --data '" + *dataset() + "'");
    BOOST_TEST(acc.status == 0, acc.err);
    BOOST_TEST(acc.out == "test accuracy: 0.8\n");
}

BOOST_AUTO_TEST_CASE(bad_input_is_one_line_and_exit_2) {
    auto check = [](const Run& r, const std::string& part) {
        BOOST_TEST(r.status == 2, r.err);
        BOOST_TEST(r.err.rfind("cat_classifier: ", 0) == 0u, r.err);
        BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1, r.err);
        BOOST_TEST(r.err.find(part) != std::string::npos, "'" << part << "' in: " << r.err);
    };
    check(run("train --data /nonexistent/xgrad"), "dataset not found");
    check(run("train --data /nonexistent/xgrad"), "deeplearning.ai");
    check(run("train --dtype f16"), "f16");
    check(run("train --out /etc/passwd/x"), "--out /etc/passwd/x: cannot create the directory");
    check(run("train --activations relu,relu,relu,gelu"), "unknown activation 'gelu'");
    // the output is one sigmoid unit, p(cat): the messages say so and nothing else is accepted
    for (const char* args : {"train --layers 12288,7,1 --activations relu,relu",
                             "train --layers 12288,7,2 --activations relu,softmax"}) {
        const Run r = run(args);
        check(r, "--activations: the output layer of the cat classifier is sigmoid (one unit, p(cat))");
        BOOST_TEST(r.err.find("softmax (") == std::string::npos, r.err);
    }
    check(run("train --layers 12288,7,2 --activations relu,sigmoid"),
          "--layers: the output layer must have size 1 (one sigmoid unit, p(cat)), got 2");
    // layer sizes: a negative one is not wrapped to 2^64 - 3, absurd ones are refused by name
    check(run("train --layers 12288,-3,1 --activations relu,sigmoid"), "--layers: '-3' is not a layer size");
    check(run("train --layers 12288,1.5,1 --activations relu,sigmoid"), "--layers: '1.5' is not a layer size");
    check(run("train --layers 12288,99999999999,1 --activations relu,sigmoid"), "more than 16777216");
    check(run("train --layers 12288,0,1 --activations relu,sigmoid"), "--layers: '0' is not a layer size");
    check(run("train --iterations -1"), "--iterations");
    check(run("train --iterations 0"), "--iterations");
#if !defined(__SANITIZE_ADDRESS__)
    // a network the memory cannot hold is refused before it is allocated, not killed by the
    // kernel half-way: here the process may use 2 GB (ulimit -v), the network needs ~9.5 GB.
    // (The sanitizer build cannot run under an address-space limit: ASan reserves terabytes of
    // shadow memory. The other two CI builds run this check.)
    if (dataset())
        check(run("train --data '" + *dataset() + "' --layers 12288,20000,1 --activations relu,sigmoid --out mem_out",
                  work_dir(), "ulimit -v 2000000 && "),
              "--layers: training this network needs at least");
#endif
    check(run("predict --model /nonexistent/model.h5 x.png"), "no such file");
    {
        std::ofstream(work_dir() / "not_a_model.h5") << "hello\n";
        check(run("predict --model not_a_model.h5 x.png"), "not an HDF5 file");
    }
    // a model whose input size fits no 64x64x3 image
    const MlpSpec spec({12, 3, 1}, std::vector<std::string>{"relu", "sigmoid"});
    io::save_model((work_dir() / "small.h5").string(), spec, he_init<double>(spec, 1), 0.1, 1, 1u, 0.5);
    if (dataset()) check(run("predict --model small.h5 --data '" + *dataset() + "'"), "input size 12");
    std::ofstream(work_dir() / "fake.png") << "not a picture";
    check(run("predict --model small.h5 fake.png"), "fake.png: not a JPEG, PNG or BMP image (none of their signatures)");
}

BOOST_AUTO_TEST_CASE(any_option_combination_runs, needs_data()) {
    if (!need_data()) return;
    const Run r = run("train --layers 12288,7,1 --activations relu,sigmoid --iterations 30 "
                      "--learning-rate 0.005 --seed 1 --print-every 10 --out small_out");
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    const auto got = cost_lines(r.out);
    BOOST_TEST(got.size() == 3u);
    BOOST_TEST(fs::exists(work_dir() / "small_out" / "model.h5"));
    const io::ModelFile mf = io::load_model((work_dir() / "small_out" / "model.h5").string());
    BOOST_TEST(mf.spec.dims.size() == 3u);
    BOOST_TEST(mf.iterations == 30);
    const Run q = run("train --layers 12288,7,1 --activations relu,sigmoid --iterations 3 --quiet "
                      "--out quiet_out");
    BOOST_TEST(q.status == 0, q.err);
    BOOST_TEST(lines_of(q.out).size() == 2u, q.out);  // only the accuracies
}

BOOST_AUTO_TEST_CASE(training_toolkit_options_combine, needs_data()) {
    if (!need_data()) return;
    // Adam + shuffled mini-batches + dropout + L2 + decay + tanh + xavier, in f32
    const std::string args =
        "train --dtype f32 --layers 12288,20,7,1 --activations relu,tanh,sigmoid --init xavier "
        "--optimizer adam --learning-rate 0.001 --mini-batch-size 64 --keep-prob 0.86 --lambd 0.7 "
        "--decay 0.5 --decay-interval 2 --iterations 4 --print-every 1 --out toolkit_out";
    const Run a = run(args);
    BOOST_TEST_REQUIRE(a.status == 0, a.err);
    const auto costs = cost_lines(a.out);
    BOOST_TEST_REQUIRE(costs.size() == 4u, a.out);
    for (const auto& [i, c] : costs) BOOST_TEST(std::isfinite(std::stod(c)), "iteration " << i);
    // the cost curve says what it plots: the epochs' training cost with L2 and dropout, the last
    // one as printed (not the cost after training, dropout off)
    BOOST_TEST(value_after(a.out, "cost curve: ") ==
                   "toolkit_out/cost_curve.png (cost per epoch: cross-entropy + L2, dropout on, mean of the "
                   "batches; last " + costs.back().second + ")",
               a.out);
    // reproducible: the same command prints the same costs; another shuffle seed does not
    const Run b = run(args);
    BOOST_TEST(cost_lines(b.out) == costs);
    const Run c = run(args + " --shuffle-seed 12");
    BOOST_TEST_REQUIRE(c.status == 0, c.err);
    BOOST_TEST(cost_lines(c.out) != costs);
    // the settings travel with the model, and the model predicts
    H5::H5File f((work_dir() / "toolkit_out" / "model.h5").string(), H5F_ACC_RDONLY);
    auto number = [&](const char* name) {
        double v = 0;
        f.openGroup("/").openAttribute(name).read(H5::PredType::NATIVE_DOUBLE, &v);
        return v;
    };
    auto text = [&](const char* name) {
        H5::Attribute attr = f.openGroup("/").openAttribute(name);
        std::string s;
        attr.read(attr.getStrType(), s);
        return s;
    };
    BOOST_TEST(text("optimizer") == "adam");
    BOOST_TEST(text("init") == "xavier");
    BOOST_TEST(number("lambd") == 0.7);
    BOOST_TEST(number("mini_batch_size") == 64.0);
    BOOST_TEST(number("keep_prob_1") == 0.86);
    BOOST_TEST(number("keep_prob_2") == 0.86);
    const Run p = run("predict --model toolkit_out/model.h5 --data '" + *dataset() + "'");
    BOOST_TEST(p.status == 0, p.err);
    BOOST_TEST(p.out.rfind("test accuracy: ", 0) == 0u, p.out);
}

BOOST_AUTO_TEST_CASE(training_toolkit_bad_values_are_one_line) {
    auto check = [](const std::string& args, const std::string& part) {
        const Run r = run("train --iterations 1 --out bad_out " + args);
        BOOST_TEST(r.status == 2, args << ": " << r.err);
        BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1, r.err);
        BOOST_TEST(r.err.find(part) != std::string::npos, "'" << part << "' in: " << r.err);
    };
    check("--keep-prob 0", "--keep-prob: must be in (0, 1]");
    check("--keep-prob 1.5", "--keep-prob: must be in (0, 1]");
    check("--keep-prob 0.5,0.5", "--keep-prob: give one value or one per hidden layer (3), got 2");
    check("--optimizer sgd", "--optimizer");
    check("--init glorot", "--init");
    check("--beta2 1", "--beta2: must be in [0, 1)");
    check("--lambd -1", "--lambd: must be a number >= 0");
    check("--learning-rate nan", "--learning-rate: must be a number > 0");
    check("--mini-batch-size -3", "--mini-batch-size");
    check("--decay-interval 0", "--decay-interval");
}
