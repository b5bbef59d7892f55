#pragma once
// What the two parts of the gradcheck tool share: gradcheck.cpp (the network check: tape vs the
// seed's formulas vs finite differences, and the command line) and gradcheck_ops.cpp (--ops: every
// op of the library by the generic check).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace xgrad::gradcheck_tool {

struct Options {
    std::string layers, activations, model, data, dump;
    std::size_t examples = 0;  // 0: the default for the kind of check
    std::uint32_t seed = 1;
    double eps = 1e-7, tol_hand = 1e-12, tol_fd = 2e-7;
    std::size_t sample = 200;
    bool allow_zero = false, json = false;
    bool examples_given = false, data_given = false;
    double lambd = 0;
    std::string keep_prob;  // "0.8" or "0.8,0.5"
    std::uint32_t mask_seed = 1;
    bool keep_given = false, mask_seed_given = false;
    // --ops: every op of the library by the generic check
    bool ops = false;
    std::string dtype = "f64";
    bool dtype_given = false, eps_given = false, tol_fd_given = false, sample_given = false;
    // options of the network check that --ops does not take, as given on the command line
    std::vector<std::string> network_only;
};

// --ops: one row per op; 0 every op passes, 1 one fails. UsageError for an option of the network check.
int run_ops_mode(const Options& o);

// 1.23e-07 ("nan" for NaN)
inline std::string sci(double v) {
    if (std::isnan(v)) return "nan";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2e", v);
    return buf;
}

// %g
inline std::string gnum(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

}  // namespace xgrad::gradcheck_tool
