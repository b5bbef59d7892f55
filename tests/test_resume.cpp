#define BOOST_TEST_MODULE resume
#include <boost/test/unit_test.hpp>

// Crash-safe checkpoints: cat_classifier trainings killed with SIGKILL at random moments and
// resumed from their checkpoint end with a model bit-identical to an uninterrupted run, and no
// kill ever leaves a partial model.h5 or checkpoint.h5 behind. Also: a diverging training stops
// with exit code 3 and the last good model. The data is a small synthetic dataset in the
// catvnoncat layout that the test writes itself (8x8x3 images), so the runs take about a second.

#include <H5Cpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "xgrad/io/checkpoint.hpp"
#include "xgrad/io/io.hpp"

using namespace xgrad;
namespace fs = std::filesystem;
using xgrad::test::lines_of;
using xgrad::test::slurp;

namespace {

const fs::path& work_dir() {
    static const fs::path dir = [] {
        char tmpl[] = "/tmp/xgrad_test_resume_XXXXXX";
        return fs::path(::mkdtemp(tmpl));
    }();
    return dir;
}

// m images of 8x8x3; the label is 1 when the image is brighter on the left than on the right.
void write_set(const fs::path& file, const std::string& prefix, std::size_t m, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<std::uint8_t> x(m * 8 * 8 * 3);
    std::vector<long long> y(m);
    for (std::size_t i = 0; i < m; ++i) {
        const bool cat = rng() % 2;
        y[i] = cat;
        for (std::size_t r = 0; r < 8; ++r)
            for (std::size_t c = 0; c < 8; ++c)
                for (std::size_t ch = 0; ch < 3; ++ch) {
                    const bool left = c < 4;
                    const unsigned base = (left == cat) ? 150 : 90;
                    x[((i * 8 + r) * 8 + c) * 3 + ch] = std::uint8_t(base + rng() % 80);
                }
    }
    H5::H5File f(file.string(), H5F_ACC_TRUNC);
    const hsize_t xd[4] = {m, 8, 8, 3}, yd[1] = {m}, cd[1] = {2};
    f.createDataSet(prefix + "_x", H5::PredType::STD_U8LE, H5::DataSpace(4, xd))
        .write(x.data(), H5::PredType::NATIVE_UINT8);
    f.createDataSet(prefix + "_y", H5::PredType::STD_I64LE, H5::DataSpace(1, yd))
        .write(y.data(), H5::PredType::NATIVE_LLONG);
    const std::string names = std::string("non-cat") + std::string("cat\0\0\0\0", 7);
    const H5::StrType t(H5::PredType::C_S1, 7);
    f.createDataSet("list_classes", t, H5::DataSpace(1, cd)).write(names.data(), t);
}

const fs::path& data_dir() {
    static const fs::path dir = [] {
        const fs::path d = work_dir() / "data";
        fs::create_directories(d);
        write_set(d / "train_catvnoncat.h5", "train_set", 150, 1);
        write_set(d / "test_catvnoncat.h5", "test_set", 40, 2);
        return d;
    }();
    return dir;
}

std::vector<std::string> split(const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

// Starts the program; stdout and stderr go to files in the work directory.
pid_t start(const std::vector<std::string>& args) {
    std::fflush(stdout);  // or the child repeats what the test printed so far
    std::fflush(stderr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        const std::string out = (work_dir() / "child.out").string(), err = (work_dir() / "child.err").string();
        if (!std::freopen(out.c_str(), "w", stdout) || !std::freopen(err.c_str(), "w", stderr)) _exit(126);
        std::vector<char*> argv{const_cast<char*>(CAT_CLASSIFIER)};
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(CAT_CLASSIFIER, argv.data());
        _exit(127);
    }
    return pid;
}

int wait_status(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return status;
}

std::vector<std::string> train_args(const std::string& options, const fs::path& out) {
    std::vector<std::string> a{"train", "--data", data_dir().string(), "--layers", "192,16,8,1",
                               "--activations", "relu,relu,sigmoid", "--quiet", "--out", out.string()};
    for (const auto& w : split(options)) a.push_back(w);
    return a;
}

bool same_bits(const Params<double>& a, const Params<double>& b) {
    if (a.W.size() != b.W.size()) return false;
    for (std::size_t l = 0; l < a.W.size(); ++l) {
        if (a.W[l].shape() != b.W[l].shape() || a.b[l].shape() != b.b[l].shape()) return false;
        if (std::memcmp(a.W[l].data(), b.W[l].data(), a.W[l].size() * sizeof(double)) != 0) return false;
        if (std::memcmp(a.b[l].data(), b.b[l].data(), a.b[l].size() * sizeof(double)) != 0) return false;
    }
    return true;
}

// Runs `options` once uninterrupted, then again killed with SIGKILL at random moments and resumed
// until it finishes; the two models must be bit-identical.
void kill_and_resume(const std::string& name, const std::string& options, int kills) {
    const fs::path ref_out = work_dir() / (name + "_ref"), out = work_dir() / (name + "_killed");
    const auto t0 = std::chrono::steady_clock::now();
    const int ref_status = wait_status(start(train_args(options, ref_out)));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    BOOST_TEST_REQUIRE((WIFEXITED(ref_status) && WEXITSTATUS(ref_status) == 0), slurp(work_dir() / "child.err"));
    BOOST_TEST(!fs::exists(ref_out / "checkpoint.h5"));  // the finished model supersedes it
    const Params<double> ref = io::load_model((ref_out / "model.h5").string()).params;
    BOOST_TEST_MESSAGE(name << ": uninterrupted run " << seconds << " s");

    std::mt19937 rng(std::hash<std::string>{}(name));
    int killed = 0, resumed = 0, runs = 0;
    const fs::path checkpoint = out / "checkpoint.h5";
    for (;;) {
        BOOST_REQUIRE(++runs < 50);
        std::string opts = options;
        if (fs::exists(checkpoint)) {
            opts += " --resume " + checkpoint.string();
            ++resumed;
        }
        const pid_t pid = start(train_args(opts, out));
        int status;
        if (killed < kills) {
            // anywhere in the run, including while it writes a checkpoint; at most a seventh of
            // the whole run each time, so that every planned kill lands before the end
            const double delay = std::uniform_real_distribution<double>(0.02, 0.14)(rng) * seconds;
            std::this_thread::sleep_for(std::chrono::duration<double>(delay));
            ::kill(pid, SIGKILL);
            status = wait_status(pid);
        } else {
            status = wait_status(pid);
        }
        if (WIFSIGNALED(status)) {
            ++killed;
            // whatever is there under its real name is complete and loads
            if (fs::exists(checkpoint)) BOOST_CHECK_NO_THROW(io::load_checkpoint<double>(checkpoint.string()));
            if (fs::exists(out / "model.h5")) BOOST_CHECK_NO_THROW(io::load_model((out / "model.h5").string()));
            continue;
        }
        BOOST_TEST_REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0), slurp(work_dir() / "child.err"));
        break;
    }
    BOOST_TEST_MESSAGE(name << ": " << killed << " kills, " << resumed << " resumes, " << runs << " runs");
    // a run may finish before its planned kill when the machine got faster than during the
    // reference run; two kills (and a resume) are the least that proves anything
    BOOST_TEST(killed >= std::min(kills, 2));
    BOOST_TEST(resumed >= 1);  // at least one kill landed after a checkpoint
    const Params<double> got = io::load_model((out / "model.h5").string()).params;
    BOOST_TEST(same_bits(got, ref), name << ": the resumed model differs from the uninterrupted one");
    for (const auto& e : fs::directory_iterator(out))
        BOOST_TEST(e.path().filename().string().find(".tmp.") == std::string::npos,
                   "left behind: " << e.path());
}

}  // namespace

BOOST_AUTO_TEST_CASE(full_batch_resume_is_bit_identical, *boost::unit_test::timeout(600)) {
    kill_and_resume("full_batch", "--iterations 4000 --learning-rate 0.05 --checkpoint-every 25", 6);
}

BOOST_AUTO_TEST_CASE(adam_mini_batch_dropout_resume_is_bit_identical, *boost::unit_test::timeout(600)) {
    kill_and_resume("adam_dropout",
                    "--optimizer adam --learning-rate 0.002 --mini-batch-size 32 --keep-prob 0.8 "
                    "--lambd 0.1 --decay 0.01 --iterations 1500 --checkpoint-every 10",
                    6);
}

BOOST_AUTO_TEST_CASE(resume_refuses_other_options_and_bad_files) {
    // a real checkpoint: start a long run and kill it once its first checkpoint is in place
    const fs::path out = work_dir() / "refuse";
    const std::string options = "--iterations 100000 --learning-rate 0.05 --checkpoint-every 5";
    const pid_t pid = start(train_args(options, out));
    const fs::path checkpoint = out / "checkpoint.h5";
    for (int i = 0; i < 3000 && !fs::exists(checkpoint); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ::kill(pid, SIGKILL);
    wait_status(pid);
    BOOST_TEST_REQUIRE(fs::exists(checkpoint));
    const io::Checkpoint<double> c = io::load_checkpoint<double>(checkpoint.string());
    BOOST_TEST(c.state.epoch >= 5);
    BOOST_TEST(c.costs.size() == std::size_t(c.state.epoch));

    auto expect = [&](const std::string& opts, const std::string& part) {
        const int st = wait_status(start(train_args(opts, work_dir() / "refuse2")));
        const std::string err = slurp(work_dir() / "child.err");
        BOOST_TEST((WIFEXITED(st) && WEXITSTATUS(st) == 2), opts << ": " << err);
        BOOST_TEST(std::count(err.begin(), err.end(), '\n') == 1, err);
        BOOST_TEST(err.find(part) != std::string::npos, "'" << part << "' in: " << err);
    };
    expect("--iterations 100000 --learning-rate 0.06 --resume " + checkpoint.string(),
           "it was trained with --learning-rate 0.050000000000000003, this run has 0.059999999999999998");
    expect("--iterations 100000 --learning-rate 0.05 --dtype f32 --resume " + checkpoint.string(),
           "holds f64 values, not f32");
    // fewer iterations than the checkpoint has done: the saved model would claim iterations it never ran
    expect("--iterations 2 --learning-rate 0.05 --resume " + checkpoint.string(),
           "--iterations 2: the checkpoint " + checkpoint.string() + " is after iteration " +
               std::to_string(c.state.epoch) + " already");
    // another training set of the same shapes: refused by the dataset's identity in the checkpoint
    {
        const fs::path other = work_dir() / "other_data";
        fs::create_directories(other);
        write_set(other / "train_catvnoncat.h5", "train_set", 150, 7);
        write_set(other / "test_catvnoncat.h5", "test_set", 40, 2);
        std::vector<std::string> args = train_args(options + " --resume " + checkpoint.string(), work_dir() / "refuse3");
        args[2] = other.string();  // --data
        const int st = wait_status(start(args));
        const std::string err = slurp(work_dir() / "child.err");
        BOOST_TEST((WIFEXITED(st) && WEXITSTATUS(st) == 2), err);
        BOOST_TEST(err.find("it was trained on other data (m=150 features=192 labels=1 sample=") != std::string::npos, err);
        BOOST_TEST(std::count(err.begin(), err.end(), '\n') == 1, err);
    }
    // a checkpoint whose step count does not fit its epoch (edited, or of another program)
    {
        io::Checkpoint<double> bad = c;
        bad.state.steps += 1;
        const std::string file = (work_dir() / "steps.h5").string();
        io::save_checkpoint(file, bad);
        expect(options + " --resume " + file, "optimiser steps; these options take 1 per iteration");
    }
    // parameters of another architecture under the same settings: the restore's refusal names the file
    {
        io::Checkpoint<double> bad = c;
        const MlpSpec wider({192, 17, 8, 1}, std::vector<std::string>{"relu", "relu", "sigmoid"});
        bad.state.params = he_init<double>(wider, 1);
        const std::string file = (work_dir() / "wider.h5").string();
        io::save_checkpoint(file, bad);
        expect(options + " --resume " + file, file + ": cannot resume from it: restore: layer 1 of the state is W [17,192]");
    }
    expect("--iterations 10 --resume /nonexistent/checkpoint.h5", "/nonexistent/checkpoint.h5: no such file");
    std::ofstream(work_dir() / "junk.h5") << "junk";
    expect("--iterations 10 --resume " + (work_dir() / "junk.h5").string(), "not an HDF5 file");
    // a model file is not a checkpoint
    const int done = wait_status(start(train_args("--iterations 3", work_dir() / "model_only")));
    BOOST_TEST_REQUIRE((WIFEXITED(done) && WEXITSTATUS(done) == 0));
    expect("--iterations 10 --resume " + (work_dir() / "model_only" / "model.h5").string(),
           "not an xgrad checkpoint");
}

BOOST_AUTO_TEST_CASE(diverging_training_stops_with_the_last_good_model) {
    const fs::path out = work_dir() / "diverge";
    const int st = wait_status(start(train_args("--dtype f32 --learning-rate 1e38 --iterations 50", out)));
    const std::string err = slurp(work_dir() / "child.err");
    BOOST_TEST((WIFEXITED(st) && WEXITSTATUS(st) == 3), err);
    BOOST_TEST(std::count(err.begin(), err.end(), '\n') == 1, err);
    for (const char* part : {"cat_classifier: iteration ", ": forward: the value of node ", " is not finite",
                             "inputs: ", "(parameter \"W", "the last good model"})
        BOOST_TEST(err.find(part) != std::string::npos, "'" << part << "' in: " << err);
    const io::ModelFile mf = io::load_model((out / "model.h5").string());
    bool finite = true;
    for (const auto& w : mf.params.W)
        for (double v : w) finite &= std::isfinite(v);
    BOOST_TEST(finite);
    BOOST_TEST(mf.iterations < 50);
    // the check can be turned off; a non-finite cost still stops the same way
    const int st2 = wait_status(start(train_args("--dtype f32 --learning-rate 1e38 --iterations 50 --no-anomaly-check", out)));
    BOOST_TEST((WIFEXITED(st2) && WEXITSTATUS(st2) == 3), slurp(work_dir() / "child.err"));
}

// SIGTERM and SIGINT (a shell's kill, Ctrl-C) stop a training at the end of the epoch in progress:
// a checkpoint is written there (without --checkpoint-every too), one line says where to resume
// from, the exit code is 128 + the signal as shells expect, and the resumed model is the
// uninterrupted one bit for bit.
BOOST_AUTO_TEST_CASE(sigterm_and_sigint_leave_a_checkpoint_that_resumes_bit_identically,
                     *boost::unit_test::timeout(600)) {
    const std::string options = "--iterations 3000 --learning-rate 0.05";
    const fs::path ref_out = work_dir() / "signal_ref";
    const auto t0 = std::chrono::steady_clock::now();
    const int ref_status = wait_status(start(train_args(options, ref_out)));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    BOOST_TEST_REQUIRE((WIFEXITED(ref_status) && WEXITSTATUS(ref_status) == 0), slurp(work_dir() / "child.err"));
    const Params<double> ref = io::load_model((ref_out / "model.h5").string()).params;
    for (int signo : {SIGTERM, SIGINT}) {
        BOOST_TEST_CONTEXT((signo == SIGTERM ? "SIGTERM" : "SIGINT")) {
            const fs::path out = work_dir() / (signo == SIGTERM ? "signal_term" : "signal_int");
            const pid_t pid = start(train_args(options, out));
            std::this_thread::sleep_for(std::chrono::duration<double>(0.4 * seconds));
            ::kill(pid, signo);
            const int st = wait_status(pid);
            const std::string err = slurp(work_dir() / "child.err");
            BOOST_TEST((WIFEXITED(st) && WEXITSTATUS(st) == 128 + signo), err);
            BOOST_TEST(std::count(err.begin(), err.end(), '\n') == 1, err);
            const std::string said = std::string("stopped by ") + (signo == SIGTERM ? "SIGTERM" : "SIGINT") +
                                     " after iteration ";
            BOOST_TEST(err.find(said) != std::string::npos, err);
            const fs::path checkpoint = out / "checkpoint.h5";
            BOOST_TEST(err.find("--resume " + checkpoint.string() + " continues from there") != std::string::npos, err);
            BOOST_TEST_REQUIRE(fs::exists(checkpoint));
            BOOST_TEST(!fs::exists(out / "model.h5"));  // stopped: no model claims the whole run
            const io::Checkpoint<double> c = io::load_checkpoint<double>(checkpoint.string());
            BOOST_TEST(c.state.epoch > 0);
            BOOST_TEST(c.state.epoch < 3000);
            const int resumed = wait_status(start(train_args(options + " --resume " + checkpoint.string(), out)));
            BOOST_TEST_REQUIRE((WIFEXITED(resumed) && WEXITSTATUS(resumed) == 0), slurp(work_dir() / "child.err"));
            BOOST_TEST(same_bits(io::load_model((out / "model.h5").string()).params, ref));
            BOOST_TEST(!fs::exists(checkpoint));  // the finished model supersedes it
        }
    }
}

// Two trainings into one --out: the second is refused with one line naming the first's pid while
// the first lives; once it is gone (SIGKILL: no clean-up), its lock is simply taken over.
BOOST_AUTO_TEST_CASE(one_output_folder_holds_one_training) {
    const fs::path out = work_dir() / "shared_out";
    const pid_t first = start(train_args("--iterations 100000 --learning-rate 0.05 --checkpoint-every 5", out));
    for (int i = 0; i < 3000 && !fs::exists(out / "checkpoint.h5"); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    BOOST_TEST_REQUIRE(fs::exists(out / "checkpoint.h5"));  // the first is under way
    const int second = wait_status(start(train_args("--iterations 3", out)));
    const std::string err = slurp(work_dir() / "child.err");
    BOOST_TEST((WIFEXITED(second) && WEXITSTATUS(second) == 2), err);
    BOOST_TEST(err == "cat_classifier: --out " + out.string() + ": another training (pid " + std::to_string(first) +
                          ") is writing there; wait for it to end or choose another --out\n");
    BOOST_TEST(fs::exists(out / "checkpoint.h5"));  // nothing of the first's was touched
    ::kill(first, SIGKILL);
    wait_status(first);
    const int third = wait_status(start(train_args("--iterations 3", out)));
    BOOST_TEST((WIFEXITED(third) && WEXITSTATUS(third) == 0), slurp(work_dir() / "child.err"));
    BOOST_TEST(fs::exists(out / "model.h5"));
}
