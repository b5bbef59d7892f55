#pragma once
// Helpers shared by the test suites: reproducible random tensors, norms, relative errors and
// centered finite differences.

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <cstdlib>
#include <sys/wait.h>
#include <unistd.h>
#include <sstream>
#include <string>
#include <vector>

#include "xgrad/nn/random.hpp"
#include "xgrad/core/tensor.hpp"

namespace xgrad::test {

// The whole text of a file ("" if it cannot be read).
inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The lines of a text, without their newlines.
inline std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
}

template <class T>
Matrix<T> randn(NumpyRandom& rng, std::size_t r, std::size_t c, double scale = 1.0) {
    Matrix<T> m = Matrix<T>::from_shape({r, c});
    for (auto& v : m) v = T(rng.randn() * scale);
    return m;
}

// Values in (lo, hi) whose distance from 0 is at least `gap` (keeps relu away from its kink).
inline Matrix<double> away_from_zero(NumpyRandom& rng, std::size_t r, std::size_t c,
                                     double gap = 0.05) {
    Matrix<double> m = Matrix<double>::from_shape({r, c});
    for (auto& v : m) {
        const double u = rng.randn();
        v = u >= 0 ? u + gap : u - gap;
    }
    return m;
}

template <class T>
Matrix<T> labels(NumpyRandom& rng, std::size_t r, std::size_t c) {
    Matrix<T> m = Matrix<T>::from_shape({r, c});
    for (auto& v : m) v = rng.uniform() < 0.5 ? T(0) : T(1);
    return m;
}

template <class A, class B>
double norm_diff(const A& a, const B& b) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double d = double(a.data()[i]) - double(b.data()[i]);
        s += d * d;
    }
    return std::sqrt(s);
}

template <class A>
double norm(const A& a) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += double(a.data()[i]) * double(a.data()[i]);
    return std::sqrt(s);
}

// ‖a−b‖ / (‖a‖+‖b‖); 0 when both are zero (callers check non-zero-ness separately).
template <class A, class B>
double rel_err(const A& a, const B& b) {
    const double den = norm(a) + norm(b);
    return den == 0 ? 0.0 : norm_diff(a, b) / den;
}

// Centered finite differences of f with respect to every entry of x (x is restored).
inline Matrix<double> numeric_grad(const std::function<double()>& f, Matrix<double>& x,
                                   double eps = 1e-6) {
    Matrix<double> g = Matrix<double>::from_shape(x.shape());
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double keep = x.data()[i];
        x.data()[i] = keep + eps;
        const double fp = f();
        x.data()[i] = keep - eps;
        const double fm = f();
        x.data()[i] = keep;
        g.data()[i] = (fp - fm) / (2 * eps);
    }
    return g;
}

// What a shell command printed and how it ended.
struct ShellRun {
    int status = -1;  // the exit code; 128 + N when killed by signal N (as shells report it)
    std::string out, err;
};

// Runs `command` with /bin/sh, its standard output and error captured (in files beside each
// other under /tmp), unless the command redirects them itself.
inline ShellRun run_shell(const std::string& command) {
    char tmpl[] = "/tmp/xgrad_shell_XXXXXX";
    const std::filesystem::path dir = ::mkdtemp(tmpl);
    const std::string out = (dir / "out").string(), err = (dir / "err").string();
    const int raw = std::system(("{ " + command + " ; } > '" + out + "' 2> '" + err + "'").c_str());
    ShellRun r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    r.out = slurp(out);
    r.err = slurp(err);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return r;
}

}  // namespace xgrad::test
