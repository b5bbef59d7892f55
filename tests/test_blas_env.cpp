// The engine chooses BLIS's kernels without leaving a trace in the process environment, and never
// overrides BLIS_ARCH_TYPE when the user set it (lib/core/blis_kernels.hpp). BLIS reads its kernel
// choice once per process, so every case runs in a forked child whose BLIS is still uninitialised:
// this process itself never calls BLIS. ctest starts it with BLIS_ARCH_TYPE unset.
#define BOOST_TEST_MODULE blas_env
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "xgrad/core/blas.hpp"
#include "xgrad/core/tape.hpp"

#if XGRAD_BLAS_BLIS
#include <blis.h>

#include "blis_kernels.hpp"  // internal: the choice itself
#endif

extern char** environ;

using namespace xgrad;

namespace {

// Runs `body` in a forked child; its return value (0 = all held) is the child's exit status. A
// failing check prints its reason on stderr.
int in_child(const std::function<int()>& body) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        int rc = 99;
        try {
            rc = body();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child: exception: %s\n", e.what());
        }
        std::fflush(nullptr);
        ::_exit(rc);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#define CHILD_CHECK(cond)                                                                    \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            std::fprintf(stderr, "child: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            return 1;                                                                        \
        }                                                                                    \
    } while (0)

std::vector<std::string> environment() {
    std::vector<std::string> e;
    for (char** p = environ; *p; ++p) e.emplace_back(*p);
    return e;
}

// Products through the engine's gemm, single- and multi-threaded, a row and a column among them:
// 0 when every value is right.
int products() {
    for (int threads : {1, 2}) {
        Tape<double> t;
        t.set_threads(threads);
        const std::size_t k = 3000;
        Matrix<double> a = xt::ones<double>({std::size_t(20), k});
        Matrix<double> b = xt::ones<double>({k, std::size_t(30)});
        auto A = t.parameter(a), B = t.constant(b);
        auto row = t.constant(Matrix<double>(xt::ones<double>({std::size_t(1), std::size_t(20)})));
        auto loss = sum(matmul(row, matmul(A, B)));  // 20·30·3000 ones
        t.backward(loss);
        CHILD_CHECK(loss.value()(0, 0) == 20.0 * 30.0 * 3000.0);
        CHILD_CHECK(A.grad()(0, 0) == 30.0);
    }
    return 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(loading_the_library_sets_nothing) {
    // ctest unsets BLIS_ARCH_TYPE for this test: the library's load left it so
    BOOST_TEST(std::getenv("BLIS_ARCH_TYPE") == nullptr);
}

BOOST_AUTO_TEST_CASE(unset_stays_unset_after_products) {
    const int rc = in_child([] {
        ::unsetenv("BLIS_ARCH_TYPE");
        const std::vector<std::string> before = environment();
        if (int r = products()) return r;
        CHILD_CHECK(environment() == before);  // the whole environment, not only BLIS_ARCH_TYPE
        CHILD_CHECK(std::getenv("BLIS_ARCH_TYPE") == nullptr);
        const std::string k = blas_kernels();
        std::printf("kernels: %s\n", k.c_str());
        CHILD_CHECK(std::string(blas_configured()) != "BLIS" || !k.empty());
        CHILD_CHECK(environment() == before);
        return 0;
    });
    BOOST_TEST(rc == 0);
}

#if XGRAD_BLAS_BLIS

namespace {
std::string arch_id(const char* name) {
    for (int i = 0; i < BLIS_NUM_ARCHS; ++i)
        if (const char* s = bli_arch_string(arch_t(i)); s && std::strcmp(s, name) == 0) return std::to_string(i);
    return "";
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_user_value_is_used_and_left_untouched) {
    // 'generic' runs on every x86-64 processor, and BLIS would not pick it from cpuid here
    const std::string id = arch_id("generic");
    BOOST_REQUIRE(!id.empty());
    const int rc = in_child([&] {
        ::setenv("BLIS_ARCH_TYPE", id.c_str(), 1);
        const std::vector<std::string> before = environment();
        if (int r = products()) return r;
        CHILD_CHECK(environment() == before);
        CHILD_CHECK(std::string(std::getenv("BLIS_ARCH_TYPE")) == id);
        const std::string k = blas_kernels();
        std::printf("kernels: %s\n", k.c_str());
        CHILD_CHECK(k == "generic (BLIS_ARCH_TYPE=" + id + ", set by the user)");
        CHILD_CHECK(detail::blis_kernels().cntx == nullptr);  // BLIS decides, as told
        return 0;
    });
    BOOST_TEST(rc == 0);
}

// The way the engine obtains kernels BLIS would not pick itself ('zen3' on a Zen 4/5): asked for
// 'generic' here, it gets them, and the environment is as before.
BOOST_AUTO_TEST_CASE(kernels_asked_for_leave_the_environment_as_it_was) {
    const int rc = in_child([] {
        ::unsetenv("BLIS_ARCH_TYPE");
        const std::vector<std::string> before = environment();
        const detail::BlisKernels k = detail::choose_blis_kernels("generic");
        std::printf("kernels: %s (%s)\n", k.arch.c_str(), k.reason.c_str());
        CHILD_CHECK(environment() == before);
        CHILD_CHECK(k.arch == "generic");
        CHILD_CHECK(k.reason == "asked for generic");
        CHILD_CHECK(k.cntx != nullptr);
        CHILD_CHECK(bli_arch_query_id() == arch_t(std::atoi(arch_id("generic").c_str())));
        return 0;
    });
    BOOST_TEST(rc == 0);
}

// Without BLIS_ARCH_TYPE the engine passes BLIS's context explicitly: the one BLIS chose.
BOOST_AUTO_TEST_CASE(the_context_passed_is_the_one_chosen) {
    const int rc = in_child([] {
        ::unsetenv("BLIS_ARCH_TYPE");
        if (int r = products()) return r;
        const detail::BlisKernels& k = detail::blis_kernels();
        CHILD_CHECK(k.cntx == bli_gks_query_cntx());
        CHILD_CHECK(k.arch == bli_arch_string(bli_arch_query_id()));
        CHILD_CHECK(std::getenv("BLIS_ARCH_TYPE") == nullptr);
        return 0;
    });
    BOOST_TEST(rc == 0);
}

#endif
