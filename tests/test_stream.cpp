// H5StreamSource (xgrad/io/stream.hpp): training from examples streamed out of an HDF5 file ends
// with the same parameters, bit for bit, as training from the same data in memory; the chunked
// full batch within rounding; a wrong prefetch still gives the right data; bad labels, damaged
// files and a crashing reader are DataErrors naming the file; on the real cat data fetch gives
// load_catvnoncat's columns exactly. The files are written here.
#define BOOST_TEST_MODULE stream
#include <H5Cpp.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "needs.hpp"
#include "xgrad/io/io.hpp"
#include "xgrad/io/stream.hpp"
#include "xgrad/nn/train.hpp"

namespace fs = std::filesystem;
namespace tt = boost::test_tools;
using namespace xgrad;

namespace {

fs::path work_dir() {
    static const fs::path d = [] {
        fs::path p = fs::temp_directory_path() / ("xgrad_test_stream_" + std::to_string(::getpid()));
        fs::create_directories(p);
        return p;
    }();
    return d;
}

// (constructed after work_dir's path, so destroyed before it)
struct Cleanup {
    Cleanup() { work_dir(); }
    ~Cleanup() {
        std::error_code ec;
        fs::remove_all(work_dir(), ec);
    }
} cleanup;

// m images of h x w x c random bytes, labels (m,) or (1, m) (label 2 at `bad_at`, when given).
std::string write_set(const std::string& name, std::size_t m, std::size_t h, std::size_t w, std::size_t c,
                      bool labels_2d = false, long bad_at = -1, unsigned seed = 5) {
    const std::string path = (work_dir() / name).string();
    H5::H5File f(path, H5F_ACC_TRUNC);
    const hsize_t dims[4] = {m, h, w, c}, chunk[4] = {1, h, w, c};
    H5::DSetCreatPropList cp;
    cp.setChunk(4, chunk);
    std::mt19937 rng(seed);
    std::vector<std::uint8_t> px(m * h * w * c);
    for (auto& v : px) v = std::uint8_t(rng() & 255);
    f.createDataSet("train_set_x", H5::PredType::STD_U8LE, H5::DataSpace(4, dims), cp)
        .write(px.data(), H5::PredType::NATIVE_UINT8);
    std::vector<long long> y(m);
    for (auto& v : y) v = (long long)(rng() & 1);
    if (bad_at >= 0) y[std::size_t(bad_at)] = 2;
    const hsize_t y1[1] = {m}, y2[2] = {1, m};
    f.createDataSet("train_set_y", H5::PredType::STD_I64LE, labels_2d ? H5::DataSpace(2, y2) : H5::DataSpace(1, y1))
        .write(y.data(), H5::PredType::NATIVE_LLONG);
    H5::StrType st(H5::PredType::C_S1, 7);
    const char classes[14] = {'n', 'o', 'n', '-', 'c', 'a', 't', 'c', 'a', 't', 0, 0, 0, 0};
    const hsize_t two = 2;
    f.createDataSet("list_classes", st, H5::DataSpace(1, &two)).write(classes, st);
    return path;
}

MlpSpec small_spec(std::size_t n_x) { return MlpSpec({n_x, 6, 4, 1}, {"relu", "relu", "sigmoid"}); }

template <class T>
void check_same_params(const Params<T>& a, const Params<T>& b) {
    BOOST_REQUIRE_EQUAL(a.W.size(), b.W.size());
    for (std::size_t l = 0; l < a.W.size(); ++l) {
        BOOST_TEST(a.W[l] == b.W[l]);  // bit for bit
        BOOST_TEST(a.b[l] == b.b[l]);
    }
}

template <class T>
void minibatch_bit_identical() {
    const std::string file = write_set(std::string("mb_") + (sizeof(T) == 4 ? "f32" : "f64") + ".h5", 150, 4, 4, 3, true);
    io::ImageSet<T> mem = io::load_image_set<T>(file, "train_set_x", "train_set_y");
    const MlpSpec spec = small_spec(48);
    const Params<T> init = init_params<T>(spec, Init::he, 3, 0.01);
    TrainConfig cfg;
    cfg.optimizer.kind = OptimizerKind::adam;
    cfg.optimizer.learning_rate = 0.01;
    cfg.mini_batch_size = 32;  // the last batch of each epoch has 22 columns
    cfg.reg.lambd = 0.7;
    cfg.reg.keep_prob = {0.8};
    Trainer<T> a(spec, init, mem.X, mem.Y, cfg);
    io::StreamOptions so;
    so.chunk_columns = 8;  // a full batch's chunks: a mini-batch of 32 is still computed whole
    Trainer<T> b(spec, init, std::make_shared<io::H5StreamSource<T>>(file, so), cfg);
    for (int e = 0; e < 4; ++e) {
        const double ca = a.epoch(), cb = b.epoch();
        BOOST_TEST(ca == cb);
    }
    check_same_params(a.net().params(), b.net().params());
    const Evaluation ea = a.evaluate(), eb = b.evaluate();
    BOOST_TEST(ea.cost == eb.cost);
    BOOST_TEST(ea.accuracy == eb.accuracy);
}

}  // namespace

BOOST_AUTO_TEST_CASE(minibatch_adam_dropout_l2_streamed_is_bit_identical_f64) { minibatch_bit_identical<double>(); }
BOOST_AUTO_TEST_CASE(minibatch_adam_dropout_l2_streamed_is_bit_identical_f32) { minibatch_bit_identical<float>(); }

BOOST_AUTO_TEST_CASE(full_batch_in_chunks_matches_in_memory) {
    const std::string file = write_set("full.h5", 100, 4, 4, 3);
    io::ImageSet<double> mem = io::load_image_set<double>(file, "train_set_x", "train_set_y");
    const MlpSpec spec = small_spec(48);
    const Params<double> init = init_params<double>(spec, Init::he, 3, 0.01);
    TrainConfig cfg;
    cfg.optimizer.learning_rate = 0.05;
    cfg.reg.lambd = 0.3;
    io::StreamOptions so;
    so.chunk_columns = 32;  // 4 chunks: 32, 32, 32, 4
    auto src = std::make_shared<io::H5StreamSource<double>>(file, so);
    BOOST_TEST(src->streams());
    Trainer<double> a(spec, init, mem.X, mem.Y, cfg);
    Trainer<double> b(spec, init, src, cfg);
    for (int e = 0; e < 20; ++e) BOOST_TEST(a.epoch() == b.epoch(), tt::tolerance(1e-12));
    const Params<double> pa = a.net().params(), pb = b.net().params();
    bool moved = false;
    for (std::size_t l = 0; l < pa.W.size(); ++l) {
        for (std::size_t i = 0; i < pa.W[l].size(); ++i) {
            BOOST_TEST(pa.W[l].data()[i] == pb.W[l].data()[i], tt::tolerance(1e-12));
            moved = moved || pa.W[l].data()[i] != init.W[l].data()[i];
        }
        for (std::size_t i = 0; i < pa.b[l].size(); ++i)
            BOOST_TEST(pa.b[l].data()[i] == pb.b[l].data()[i], tt::tolerance(1e-12));
    }
    BOOST_TEST(moved);  // the comparison is of trained parameters
}

BOOST_AUTO_TEST_CASE(fetch_after_a_wrong_prefetch_gives_the_asked_examples) {
    const std::string file = write_set("prefetch.h5", 40, 2, 3, 2);
    io::ImageSet<double> mem = io::load_image_set<double>(file, "train_set_x", "train_set_y");
    MemorySource<double> ref(mem.X, mem.Y);
    io::H5StreamSource<double> src(file);
    BOOST_TEST(src.examples() == 40u);
    BOOST_TEST(src.features() == 12u);
    BOOST_TEST((src.example_shape() == std::vector<std::size_t>{2, 3, 2}));
    Matrix<double> X, Y, RX, RY;
    const std::vector<std::size_t> announced{1, 2, 3}, asked{39, 0, 7, 7, 22};
    src.prefetch(announced.data(), announced.size());
    src.fetch(asked.data(), asked.size(), X, Y);
    ref.fetch(asked.data(), asked.size(), RX, RY);
    BOOST_TEST(X == RX);
    BOOST_TEST(Y == RY);
    // the announced one, then the same again (no prefetch at all)
    src.prefetch(announced.data(), announced.size());
    src.fetch(announced.data(), announced.size(), X, Y);
    ref.fetch(announced.data(), announced.size(), RX, RY);
    BOOST_TEST(X == RX);
    BOOST_TEST(Y == RY);
    src.fetch(asked.data(), 2, X, Y);
    ref.fetch(asked.data(), 2, RX, RY);
    BOOST_TEST(X == RX);
    // the union-of-hyperslabs selection (kept for measurement) reads the same examples
    ::setenv("XGRAD_STREAM_SELECTION", "union", 1);
    io::H5StreamSource<double> by_union(file);
    ::unsetenv("XGRAD_STREAM_SELECTION");
    by_union.fetch(asked.data(), asked.size(), X, Y);
    ref.fetch(asked.data(), asked.size(), RX, RY);
    BOOST_TEST(X == RX);
    BOOST_TEST(Y == RY);
    const std::vector<std::size_t> past{3, 40};
    BOOST_CHECK_THROW(src.fetch(past.data(), past.size(), X, Y), UsageError);
}

BOOST_AUTO_TEST_CASE(a_bad_label_is_a_data_error_naming_file_dataset_and_example) {
    const std::string file = write_set("label2.h5", 30, 2, 2, 1, false, 17);
    io::H5StreamSource<double> src(file);
    Matrix<double> X, Y;
    std::vector<std::size_t> good(10);
    std::iota(good.begin(), good.end(), 0);
    src.fetch(good.data(), good.size(), X, Y);  // the batches without it are fine
    const std::vector<std::size_t> bad{3, 17, 4};
    BOOST_CHECK_EXCEPTION(src.fetch(bad.data(), bad.size(), X, Y), DataError, [&](const DataError& e) {
        const std::string m = e.what();
        BOOST_TEST_MESSAGE(m);
        return m.find(file) == 0 && m.find("'train_set_y'") != std::string::npos &&
               m.find("example 17 has label 2") != std::string::npos;
    });
}

BOOST_AUTO_TEST_CASE(a_truncated_file_is_a_data_error_naming_it) {
    const std::string file = write_set("truncated.h5", 200, 8, 8, 3);
    fs::resize_file(file, fs::file_size(file) / 2);
    auto attempt = [&] {
        io::H5StreamSource<double> src(file);
        std::vector<std::size_t> all(src.examples());
        std::iota(all.begin(), all.end(), 0);
        Matrix<double> X, Y;
        src.fetch(all.data(), all.size(), X, Y);
    };
    BOOST_CHECK_EXCEPTION(attempt(), DataError, [&](const DataError& e) {
        BOOST_TEST_MESSAGE(e.what());
        return std::string(e.what()).find(file + ": ") == 0;
    });
}

BOOST_AUTO_TEST_CASE(wrong_layouts_are_data_errors) {
    const std::string file = write_set("layout.h5", 10, 2, 2, 1);
    io::StreamOptions o;
    o.x_name = "list_classes";
    BOOST_CHECK_EXCEPTION(io::H5StreamSource<double>(file, o), DataError, [&](const DataError& e) {
        BOOST_TEST_MESSAGE(e.what());
        return std::string(e.what()).find(file + ": dataset 'list_classes': expected uint8 images") == 0;
    });
    o.x_name = "nothing";
    BOOST_CHECK_THROW(io::H5StreamSource<double>(file, o), DataError);
    BOOST_CHECK_THROW(io::H5StreamSource<double>((work_dir() / "absent.h5").string()), DataError);
}

BOOST_AUTO_TEST_CASE(a_crashing_reader_is_one_data_error_naming_the_file) {
    const std::string file = write_set("crash.h5", 10, 2, 2, 1);
    const fs::path script = work_dir() / "crashing-reader";
    {
        std::ofstream s(script);
        s << "#!/bin/sh\nkill -SEGV $$\n";
    }
    fs::permissions(script, fs::perms::owner_all);
    ::setenv("XGRAD_READER", script.c_str(), 1);
    std::optional<std::string> msg;
    try {
        io::H5StreamSource<double> src(file);
    } catch (const DataError& e) {
        msg = e.what();
    }
    ::unsetenv("XGRAD_READER");
    BOOST_REQUIRE(msg.has_value());
    BOOST_TEST_MESSAGE(*msg);
    BOOST_TEST(msg->find(file + ": the HDF5 library crashed reading it (SIGSEGV)") == 0);
}

BOOST_AUTO_TEST_CASE(a_hung_reader_is_one_data_error_after_the_deadline) {
    const std::string file = write_set("hang.h5", 10, 2, 2, 1);
    const fs::path script = work_dir() / "hanging-reader";
    {
        std::ofstream s(script);
        s << "#!/bin/sh\nexec sleep 30\n";
    }
    fs::permissions(script, fs::perms::owner_all);
    ::setenv("XGRAD_READER", script.c_str(), 1);
    ::setenv("XGRAD_READ_SECONDS", "1", 1);
    std::optional<std::string> msg;
    const auto t0 = std::chrono::steady_clock::now();
    try {
        io::H5StreamSource<double> src(file);
    } catch (const DataError& e) {
        msg = e.what();
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ::unsetenv("XGRAD_READER");
    ::unsetenv("XGRAD_READ_SECONDS");
    BOOST_REQUIRE(msg.has_value());
    BOOST_TEST_MESSAGE(*msg);
    BOOST_TEST(msg->find(file + ": reading did not finish in 1 s") == 0);
    BOOST_TEST(secs < 10);  // killed at the deadline, not waited for
}

// The program: `cat_classifier train --stream` writes the in-memory run's model.h5, bit for bit.
BOOST_AUTO_TEST_CASE(cat_classifier_stream_writes_the_in_memory_model) {
    const fs::path dir = work_dir() / "program";
    fs::create_directories(dir);
    const std::string gen = std::string(MAKE_DATASET) + " --random --examples 300 --test-examples 20 --height 8 " +
                            "--width 8 --channels 3 --seed 4 --out " + dir.string() + " > /dev/null";
    BOOST_REQUIRE_EQUAL(std::system(gen.c_str()), 0);
    std::vector<io::ModelFile> models;
    for (const std::string flag : {"", "--stream"}) {
        const fs::path out = dir / (flag.empty() ? "memory" : "stream");
        const std::string cmd = std::string(CAT_CLASSIFIER) + " train " + flag + " --data " + dir.string() +
                                " --layers 192,7,1 --activations relu,sigmoid --iterations 3 --mini-batch-size 64"
                                " --optimizer adam --learning-rate 0.01 --keep-prob 0.8 --lambd 0.3 --quiet --out " +
                                out.string() + " > /dev/null";
        BOOST_REQUIRE_EQUAL(std::system(cmd.c_str()), 0);
        models.push_back(io::load_model((out / "model.h5").string()));
    }
    for (std::size_t l = 0; l < models[0].params.W.size(); ++l) {
        BOOST_TEST(models[0].params.W[l] == models[1].params.W[l]);
        BOOST_TEST(models[0].params.b[l] == models[1].params.b[l]);
    }
    BOOST_TEST(models[0].final_cost == models[1].final_cost);
}

namespace {
std::optional<std::string> dataset() {
    try {
        return io::find_data_dir("", XGRAD_DEFAULT_DATA_DIR);
    } catch (const DataError&) {
        return std::nullopt;
    }
}
}  // namespace

BOOST_AUTO_TEST_CASE(fetch_gives_load_catvnoncat_columns_on_the_real_data,
                     test::needs(test::Need::data, [] { return dataset().has_value(); },
                                  "the cat/non-cat dataset is not in $XGRAD_DATA or " XGRAD_DEFAULT_DATA_DIR)) {
    const auto dir = dataset();
    BOOST_REQUIRE_MESSAGE(dir.has_value(), "the cat/non-cat dataset is missing and XGRAD_REQUIRE_DATA=1");
    for (int pass = 0; pass < 2; ++pass) {
        const io::CatData<double> d = io::load_catvnoncat<double>(*dir);
        io::H5StreamSource<double> src(*dir + "/train_catvnoncat.h5");
        const std::size_t m = d.train.X.shape()[1];
        BOOST_REQUIRE_EQUAL(src.examples(), m);
        BOOST_REQUIRE_EQUAL(src.features(), d.train.X.shape()[0]);
        std::vector<std::size_t> idx(m);
        std::iota(idx.begin(), idx.end(), 0);
        if (pass == 1) std::reverse(idx.begin(), idx.end());
        Matrix<double> X, Y, RX, RY;
        src.fetch(idx.data(), m, X, Y);
        gather_columns(d.train.X, idx.data(), m, RX);
        gather_columns(d.train.Y, idx.data(), m, RY);
        BOOST_TEST(X == RX);  // bit for bit
        BOOST_TEST(Y == RY);
    }
}
