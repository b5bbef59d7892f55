#define BOOST_TEST_MODULE environment
#include <boost/test/unit_test.hpp>

// The programs against a hostile environment: bad values of the variables the engine and its BLAS
// read, standard output that cannot be written, a file-size limit while writing. Each is one line
// naming the cause and exit code 2 — never an abort, an illegal instruction or a silent success.

#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "xgrad/core/blas.hpp"
#include "xgrad/core/tensor.hpp"

using namespace xgrad;
using xgrad::test::lines_of;
using xgrad::test::run_shell;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kPrograms = {
    GRADCHECK " --layers 3,2,1",
    CAT_CLASSIFIER " train --iterations 1 --data /nonexistent --out /tmp/xgrad_env_unused",
    DIGITS_CLASSIFIER " train --epochs 1 --data /nonexistent --out /tmp/xgrad_env_unused",
};

// One line on stderr that starts with the program's name and contains `what`; exit code 2.
void expect_one_line(const test::ShellRun& r, const std::string& what) {
    BOOST_TEST(r.status == 2);
    const auto lines = lines_of(r.err);
    BOOST_TEST(lines.size() == 1u);
    BOOST_TEST(r.err.find(what) != std::string::npos);
}

}  // namespace

BOOST_AUTO_TEST_CASE(bad_environment_values_are_one_line_before_any_work) {
    std::vector<std::pair<std::string, std::string>> bad = {
        {"XGRAD_VMATH=fast", "environment variable XGRAD_VMATH=fast: expected 'plain'"},
        {"OMP_NUM_THREADS=abc", "environment variable OMP_NUM_THREADS=abc: expected a positive number"},
        {"OMP_NUM_THREADS=4,0", "environment variable OMP_NUM_THREADS=4,0: expected a positive number"},
        {"OPENBLAS_NUM_THREADS=-2", "environment variable OPENBLAS_NUM_THREADS=-2"},
        {"BLIS_NUM_THREADS=", ""},  // empty: unset, fine for a thread count
    };
    if (std::string(blas_configured()) == "BLIS") {
        // BLIS reads any text as 0 ('skx'), which dies of an illegal instruction without AVX-512
        bad.push_back({"BLIS_ARCH_TYPE=zen3", "environment variable BLIS_ARCH_TYPE=zen3: not an architecture id"});
        bad.push_back({"BLIS_ARCH_TYPE=", "environment variable BLIS_ARCH_TYPE=: not an architecture id"});
        bad.push_back({"BLIS_ARCH_TYPE=99", "environment variable BLIS_ARCH_TYPE=99: no such architecture id"});
        if (!__builtin_cpu_supports("avx512f"))
            bad.push_back({"BLIS_ARCH_TYPE=0", "'skx' needs AVX-512, which this processor lacks"});
    }
    for (const auto& program : kPrograms)
        for (const auto& [assignment, what] : bad)
            BOOST_TEST_CONTEXT(assignment << " " << program) {
                const auto r = run_shell("env " + assignment + " " + program);
                if (what.empty()) {
                    BOOST_TEST(r.err.find("environment variable") == std::string::npos);
                } else {
                    expect_one_line(r, what);
                }
            }
}

BOOST_AUTO_TEST_CASE(a_usable_blis_arch_type_is_honoured) {
    if (std::string(blas_configured()) != "BLIS") return;
    const auto r = run_shell("BLIS_ARCH_TYPE=25 " GRADCHECK " --layers 3,2,1");  // 'generic' runs anywhere
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out.find("gradcheck: every row passes") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(results_that_cannot_be_written_are_a_failure) {
    // /dev/full: every write fails with ENOSPC; the results were lost, so exit 2, not 0
    const auto r = run_shell(GRADCHECK " --layers 3,2,1 > /dev/full");
    expect_one_line(r, "gradcheck: cannot write the results to standard output: No space left on device");
}

BOOST_AUTO_TEST_CASE(gradcheck_refuses_negative_counts) {
    for (const char* option : {"--sample", "--examples", "--seed", "--mask-seed"}) {
        BOOST_TEST_CONTEXT(option) {
            const auto r = run_shell(std::string(GRADCHECK " --layers 3,2,1 ") + option + " -1");
            expect_one_line(r, std::string(option) + ": must be a whole number >= 0, got '-1'");
        }
    }
}

BOOST_AUTO_TEST_CASE(a_file_size_limit_while_dumping_is_one_line_and_the_old_dump_stays) {
    char tmpl[] = "/tmp/xgrad_env_XXXXXX";
    const fs::path dir = ::mkdtemp(tmpl);
    const std::string dump = (dir / "dump.h5").string();
    BOOST_REQUIRE(run_shell(GRADCHECK " --layers 3,2,1 --dump " + dump).status == 0);
    const std::string before = test::slurp(dump);
    // the seed's network's dump is megabytes; 64 KiB is far below
    const auto r = run_shell("ulimit -f 64 && " GRADCHECK " --dump " + dump);
    expect_one_line(r, dump + ": cannot write the gradient dump: File too large");
    BOOST_TEST(test::slurp(dump) == before);
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    BOOST_TEST(names == std::vector<std::string>{"dump.h5"});
    fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(text_from_a_file_cannot_break_a_line,
                     *boost::unit_test::precondition([](boost::unit_test::test_unit_id) {
                         return std::system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") == 0;
                     })) {
    // a parameter named "fc1.W\nmodel: forged" (and an escape code): the refusal stays one line and
    // shows the control characters escaped
    char tmpl[] = "/tmp/xgrad_env_XXXXXX";
    const fs::path dir = ::mkdtemp(tmpl);
    const std::string file = (dir / "names.h5").string();
    BOOST_REQUIRE(run_shell("/usr/bin/python3 -c \"import h5py, numpy as np\n"
                            "f = h5py.File('" + file + "', 'w'); f.attrs['dtype'] = 'f64'\n"
                            "f['fc1.W\\nmodel: forged\\x1b[2J'] = np.zeros((2, 64)); f['fc1.b'] = np.zeros((2, 1))\"")
                      .status == 0);
    const auto r = run_shell(DIGITS_CLASSIFIER " predict --model " + file);
    expect_one_line(r, "'fc1.W\\x0amodel: forged\\x1b[2J' is not a parameter of this program's network");
    BOOST_TEST(r.err.find('\x1b') == std::string::npos);
    fs::remove_all(dir);
}

// Every option that takes a value, of every program, read from its --help (so an option added
// later is covered): an empty value is one line naming the option and exit 2, with nothing done
// (an empty --data or --resume used to mean the default, i.e. a fresh training; an empty --seed
// was read as 0). `base` holds what a program requires, minus the option under test.
BOOST_AUTO_TEST_CASE(an_empty_value_is_refused_for_every_option_of_every_program) {
    struct Program {
        std::string command;
        std::map<std::string, std::string> base;
        std::vector<std::string> positionals;  // names of positional arguments taking a value
    };
    const std::vector<Program> programs = {
        {CAT_CLASSIFIER " train", {{"--out", "/tmp/xgrad_env_unused"}}, {}},
        {CAT_CLASSIFIER " predict", {{"--model", "/nonexistent.h5"}}, {"images"}},
        {DIGITS_CLASSIFIER " train", {{"--out", "/tmp/xgrad_env_unused"}}, {}},
        {DIGITS_CLASSIFIER " predict", {{"--model", "/nonexistent.h5"}}, {}},
        {GRADCHECK, {}, {}},
        {MAKE_DATASET, {{"--out", "/tmp"}, {"--examples", "1"}}, {}},
        {BENCH_STREAM, {{"--file", "/nonexistent.h5"}}, {}},
        {BENCH, {}, {}},
        {BENCH_DIGITS, {}, {}},
    };
    const std::regex takes_value(R"(^\s+(--[a-z0-9-]+)(?:,--[a-z0-9-]+)*\s+[A-Z]+\b)");
    for (const Program& p : programs) {
        const auto help = run_shell(p.command + " --help");
        BOOST_TEST_REQUIRE(help.status == 0, p.command);
        std::vector<std::string> options;
        std::istringstream lines(help.out);
        for (std::string line; std::getline(lines, line);) {
            std::smatch m;
            if (std::regex_search(line, m, takes_value)) options.push_back(m[1]);
        }
        BOOST_TEST(options.size() >= 2u, p.command << ": " << help.out);
        auto run_with = [&](const std::string& name, const std::string& args) {
            std::string command = p.command;
            for (const auto& [option, value] : p.base)
                if (option != name) command += " " + option + " " + value;
            const auto r = run_shell(command + " " + args);
            BOOST_TEST_CONTEXT(command << " " << args) {
                BOOST_TEST(r.status == 2);
                BOOST_TEST(lines_of(r.err).size() == 1u, r.err);
                BOOST_TEST(r.err.find(name + ": ") != std::string::npos, r.err);
                BOOST_TEST(r.out.empty(), r.out);
            }
        };
        for (const std::string& option : options) run_with(option, option + " ''");
        for (const std::string& positional : p.positionals) run_with(positional, "''");
    }
}

// The benchmarks too: results that never reached standard output are exit 2, one line.
BOOST_AUTO_TEST_CASE(a_benchmark_whose_results_cannot_be_written_fails) {
    char tmpl[] = "/tmp/xgrad_env_XXXXXX";
    const fs::path dir = ::mkdtemp(tmpl);
    BOOST_REQUIRE(run_shell(MAKE_DATASET " --random --examples 96 --test-examples 8 --out " +
                            dir.string()).status == 0);
    const std::string bench = BENCH_STREAM " --epochs 1 --batch 32 --file " + (dir / "train_catvnoncat.h5").string();
    BOOST_TEST(run_shell(bench + " > /dev/null").status == 0);
    expect_one_line(run_shell(bench + " > /dev/full"),
                    "xgrad_bench_stream: cannot write the results to standard output: No space left on device");
    fs::remove_all(dir);
}

// A thread the system refuses (here: a 256 TiB stack limit, which glibc takes as every new
// thread's stack size: more than the whole address space, so the mapping fails whatever the
// overcommit policy; a memory or process limit does the same) is one line saying
// so, not the bare "Resource temporarily unavailable" of std::thread, and --threads 1 then runs:
// no thread is started before the option is applied (the network's recording and its test
// accuracy used every core's threads first). Not under ASan, whose shadow mappings depend on the
// stack limit.
BOOST_AUTO_TEST_CASE(a_refused_thread_is_named_and_one_thread_still_runs) {
#if !defined(__SANITIZE_ADDRESS__)
    char tmpl[] = "/tmp/xgrad_env_XXXXXX";
    const fs::path dir = ::mkdtemp(tmpl);
    BOOST_REQUIRE(run_shell(MAKE_DATASET " --random --examples 64 --test-examples 8 --out " + dir.string()).status == 0);
    const std::string train = "ulimit -s 274877906944 && " CAT_CLASSIFIER " train --layers 12288,3,1 --activations "
                              "relu,sigmoid --iterations 2 --quiet --data " + dir.string() + " --out " +
                              (dir / "out").string();
    expect_one_line(run_shell(train + " --threads 2"), "cat_classifier: cannot start thread 2 of 2 (");
    const auto one = run_shell(train + " --threads 1");
    BOOST_TEST(one.status == 0, one.err);
    BOOST_TEST(one.out.find("test accuracy: ") != std::string::npos, one.out);
    fs::remove_all(dir);
#endif
}
