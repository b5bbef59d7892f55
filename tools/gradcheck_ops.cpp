// gradcheck --ops: every op of the library (xgrad::op_cases) on random inputs of several shapes,
// by the generic xgrad::gradcheck, one row per op.

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "gradcheck_tool.hpp"
#include "xgrad/check/gradcheck.hpp"
#include "xgrad/core/tensor.hpp"

namespace xgrad::gradcheck_tool {

namespace {

// One row of the --ops table: the cases of one op together.
struct OpRow {
    OpKind op = OpKind::add;
    std::size_t cases = 0, checked = 0, kinks = 0;
    double rel_err = 0;  // the largest over the cases (NaN if any is NaN)
    std::string worst;   // the case with that error
    bool pass = true;
};

// e is a larger error than cur (NaN is the largest there is).
bool worse(double e, double cur) { return !std::isnan(cur) && (std::isnan(e) || e > cur); }

template <class T>
int run_ops(const GradcheckOptions& go) {
    std::vector<OpCheckRow> results;
    for (const OpCase& c : op_cases()) results.push_back(check_op<T>(c, go));
    std::vector<OpRow> rows;
    for (std::size_t k = kFirstBuiltinOp; k < std::size_t(OpKind::count_); ++k) {
        OpRow row;
        row.op = OpKind(k);
        for (const OpCheckRow& r : results) {
            if (r.op != row.op) continue;
            ++row.cases;
            row.checked += r.report.checked();
            row.kinks += r.report.kinks();
            const double e = r.report.max_rel_err();
            if (row.worst.empty() || worse(e, row.rel_err)) {
                row.rel_err = e;
                row.worst = r.label;
            }
            row.pass = row.pass && r.pass();
        }
        row.pass = row.pass && row.cases > 0;  // an op without a case is not checked
        rows.push_back(row);
    }

    const GradcheckReport& any = results.front().report;  // the resolved eps, tolerance, ...
    std::printf("== ops: every op of the library on random inputs (%s), loss = sum(op(inputs) ⊙ G)\n",
                any.dtype.c_str());
    std::printf("   finite differences: central, eps %s, %s; tolerance %s, kink threshold %s%s\n",
                gnum(any.eps).c_str(),
                go.max_entries == 0 ? "every entry"
                                    : ("up to " + std::to_string(go.max_entries) +
                                       " entries per input (seed " + std::to_string(go.seed) + ")")
                                          .c_str(),
                gnum(any.tolerance).c_str(), gnum(any.kink_tol).c_str(),
                go.allow_zero ? ", all-zero gradients allowed" : "");
    std::printf("   %-12s %5s %8s %6s  %11s  %s\n", "op", "cases", "entries", "kinks",
                "max rel err", "result");
    std::size_t failed = 0, cases = 0, checked = 0, kinks = 0;
    double worst = 0;
    std::string worst_case, names;
    for (const OpRow& r : rows) {
        std::printf("   %-12s %5zu %8zu %6zu  %11s  %s\n", op_name(r.op), r.cases, r.checked, r.kinks,
                    sci(r.rel_err).c_str(), r.cases == 0 ? "FAIL(no case)" : r.pass ? "PASS" : "FAIL");
        cases += r.cases;
        checked += r.checked;
        kinks += r.kinks;
        if (!r.pass) ++failed, names += (names.empty() ? "" : ", ") + std::string(op_name(r.op));
        if (worst_case.empty() || worse(r.rel_err, worst)) {
            worst = r.rel_err;
            worst_case = r.worst;
        }
    }
    std::printf("   largest relative error: %s (%s)\n", sci(worst).c_str(), worst_case.c_str());
    if (failed == 0)
        std::printf("   result: PASS (%zu ops, %zu cases, %zu entries, %zu kinks)\n\n", rows.size(),
                    cases, checked, kinks);
    else
        std::printf("   result: FAIL (%zu of %zu ops: %s)\n\n", failed, rows.size(), names.c_str());
    // Each failing case in full.
    for (const OpCheckRow& r : results) {
        if (r.pass()) continue;
        std::printf("-- failing case: %s%s\n", r.label.c_str(),
                    r.expect_kinks && r.report.kinks() == 0 ? " (built with kinks, none detected)"
                                                            : "");
        std::ostringstream os;
        r.report.print(os);
        std::printf("%s\n", os.str().c_str());
    }
    std::printf("gradcheck: %s\n", failed == 0 ? "every row passes" : "FAILED");
    return failed == 0 ? 0 : 1;
}

}  // namespace

int run_ops_mode(const Options& o) {
    if (!o.network_only.empty())
        throw UsageError("--ops checks the library's ops: " + o.network_only.front() +
                         " is an option of the network check");
    if (o.dtype != "f32" && o.dtype != "f64")
        throw UsageError("--dtype: '" + o.dtype + "' is not f32 or f64");
    GradcheckOptions go;  // 0: the type's defaults
    if (o.eps_given) {
        if (!(o.eps > 0) || !std::isfinite(o.eps)) throw UsageError("--eps must be a positive number");
        go.eps = o.eps;
    }
    if (o.tol_fd_given) {
        if (!(o.tol_fd > 0) || !std::isfinite(o.tol_fd))
            throw UsageError("--tol-fd must be a positive number");
        go.tolerance = o.tol_fd;
    }
    go.max_entries = o.sample_given ? o.sample : 0;
    go.seed = o.seed;
    go.allow_zero = o.allow_zero;
    return o.dtype == "f32" ? run_ops<float>(go) : run_ops<double>(go);
}

}  // namespace xgrad::gradcheck_tool
