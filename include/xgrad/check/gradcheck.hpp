#pragma once
// Gradient checking for any function: the tape's gradient of any [1,1] node of any tape against
// centered finite differences, per parameter. (The MLP's three-way check — the tape, the seed's
// hand-derived formulas and finite differences, per quantity and layer — is xgrad/mlp_check.hpp.)
//
//     auto loss = mean(square(sigmoid(matmul(W, x) + b) - y));
//     GradcheckReport r = gradcheck(tape, loss);       // every parameter of the tape
//     r.print(std::cout);                               // one row per parameter + a result line
//     if (!r.pass()) ...
//
// How: forward(); the analytic gradient by zero_grad() + backward(loss) (the parameters' previous
// gradients are saved and put back, so a caller's accumulated gradients are untouched); then for
// each checked entry p of a parameter, f+ = loss at p + eps and f- = loss at p - eps (one forward
// pass each; f0, the loss at p, once), and the central difference (f+ - f-) / (h+ + h-) in double,
// where h± are the steps actually taken (p ± eps rounded to T; never 0). The entry is put back
// exactly, and a last forward() leaves every value of the tape as it was. Each parameter's error
// is the relative error ‖g − fd‖₂ / (‖g‖₂ + ‖fd‖₂) over its compared entries.
//
// Kinks: where the function is not differentiable inside [p − eps, p + eps] (relu or abs at 0, a
// tie of max, or any user-defined op with a kink), the two one-sided slopes s+ = (f+ − f0)/h+ and
// s− = (f0 − f−)/h− disagree. An entry with |s+ − s−| > kink_tol·(|s+| + |s−|) (and above the
// rounding noise of the loss) is a candidate, confirmed with half the step (two more forward
// passes): along a smooth function the gap is about eps·|f''| and halves, and the central
// difference stays, so a stationary point (slope about 0, where the relative test alone fires) is
// compared as usual; across a kink the gap stays (or the central difference moves: the kink was
// inside the wider step only). A confirmed kink is counted, reported (its index) and left out of
// the comparison.
//
// Never a vacuous pass: a parameter whose analytic and finite-difference gradients are both zero
// on every compared entry fails unless allow_zero; so does one with no compared entry at all
// (every checked entry a kink); a NaN or Inf in either gradient fails.
//
// Side effects: none on values and parameter gradients (both restored, also when something throws);
// the gradients of intermediate nodes are those of the check's own backward pass afterwards.
// Anomaly detection (set_check_finite) is off during the check and restored after it, so a
// perturbation that makes a value non-finite is reported as a failed (non-finite) parameter.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "xgrad/core/tape.hpp"

namespace xgrad {

struct GradcheckOptions {
    // The finite-difference step. 0: 1e-6 for double, 1e-3 for float.
    double eps = 0;
    // The largest relative error that passes. 0: 1e-6 for double, 2e-2 for float.
    double tolerance = 0;
    // One-sided slopes further apart than this, relatively, mark a kink. 0: 1e-2 for double, 0.1
    // for float.
    double kink_tol = 0;
    // Entries checked per parameter: 0 = every entry; else this many, drawn reproducibly from
    // NumpyRandom(seed), one stream across the parameters in order (a smaller parameter is done
    // whole).
    std::size_t max_entries = 0;
    std::uint32_t seed = 1;
    // Let a parameter whose two gradients are all zero pass.
    bool allow_zero = false;
};

struct ParamReport {
    NodeId id = -1;
    std::string name;          // the node's name ("" when it has none)
    Shape shape;
    std::size_t entries = 0;   // entries of the parameter
    std::size_t checked = 0;   // entries perturbed (all, or the sample)
    std::size_t kinks = 0;     // of those, left out at a kink
    std::size_t compared = 0;  // checked − kinks
    std::vector<std::size_t> kink_at;  // flat (row-major) indices of the kinks, ascending
    double rel_err = 0;        // ‖g − fd‖ / (‖g‖ + ‖fd‖) over the compared entries (0 when both
                               // are zero, NaN when a value is not finite)
    double max_abs = 0;        // max |g − fd| over the compared entries (NaN when not finite)
    std::size_t worst = 0;     // flat index of that largest difference
    bool all_zero = false;     // both gradients exactly zero on every compared entry
    bool finite = true;        // no NaN/Inf in either gradient on the compared entries
    bool pass = false;
    Matrix<double> analytic;   // the gradient checked (the tape's, as double)
    Matrix<double> numeric;    // the central differences; NaN where not checked
    // "PASS", "FAIL", "FAIL(zero)" / "ZERO(ok)" (all zero), "FAIL(nan)", "FAIL(none)" (nothing compared)
    std::string verdict() const;
    // "%3" or "%3 W"
    std::string label() const;
};

struct GradcheckReport {
    // What the check ran with (the defaults resolved).
    std::string dtype;  // "double" or "float"
    double eps = 0, tolerance = 0, kink_tol = 0;
    std::size_t max_entries = 0;
    std::uint32_t seed = 1;
    bool allow_zero = false;

    std::vector<ParamReport> params;  // in the order checked

    bool pass() const;             // at least one parameter, and every one passes
    double max_rel_err() const;    // over the parameters; NaN if any is NaN
    std::size_t kinks() const;     // summed over the parameters
    std::size_t checked() const;   // entries perturbed, summed
    std::size_t compared() const;  // entries compared, summed
    // A header line, one row per parameter (kinks listed under its row), and a result line.
    void print(std::ostream& os) const;
};

// Checks d loss / d p for every p of `params` (empty: every parameter of the tape, in order).
// UsageError for a loss that is not [1,1], a node that is not a parameter (or is listed twice),
// a tape without parameters, or options out of range (negative eps, tolerance or kink_tol).
template <class T>
GradcheckReport gradcheck(Tape<T>& tape, NodeId loss, const std::vector<NodeId>& params = {},
                          const GradcheckOptions& options = {});

// The same check for gradients from elsewhere: `gradients[k]` is the claimed d loss / d params[k]
// (a hand derivation, another library, a deliberately wrong formula), compared with the same
// finite differences, metric and rules. The tape's own backward is not run. `params` empty: every
// parameter of the tape. ShapeError when a gradient's shape is not its parameter's.
template <class T>
GradcheckReport gradcheck_given(Tape<T>& tape, NodeId loss, const std::vector<NodeId>& params,
                                const std::vector<Matrix<double>>& gradients,
                                const GradcheckOptions& options = {});

// ---- every op of the library, checked ---------------------------------------------------------
//
// The cases the `gradcheck --ops` program and the test suite both run: each records one op on
// random inputs and checks loss = sum(op(inputs) ⊙ G) (G a fixed random constant of the output's
// shape, entries of magnitude 0.5..1.5, so that no gradient entry is zero by accident) with
// gradcheck. Every op of the table has at least one case (tests/test_gradcheck_ops.cpp checks
// it, so a new op without a case fails the suite).

// How an input is drawn. All values are exactly representable in float, so a float tape and a
// double tape of the same case hold the same inputs.
enum class OpInput : std::uint8_t {
    normal,       // N(0,1) pushed 0.1 away from 0 (away from relu's and abs's kink)
    positive,     // uniform in [0.5, 2): log, sqrt, non-integer pow, divisors
    distinct,     // values at least 0.2 apart: no ties for max (no kink)
    zeros,        // normal, with every third entry exactly 0: kinks of relu and abs
    ties,         // distinct, and in every other group of max (by the case's axis) the maximum
                  // repeated once: kinks of max
    probability,  // uniform in [0.1, 0.9): bce's probabilities, soft labels
    binary,       // 0 or 1: bce / sigmoid_bce labels
    one_hot,      // one-hot columns: softmax_ce labels [K,m]
    class_index,  // class indices 0..K-1 (K: the first input's rows): softmax_ce labels [1,m]
};

struct OpCaseInput {
    Shape shape;
    OpInput kind = OpInput::normal;
    bool parameter = true;  // false: a constant (labels, class indices)
};

struct OpCase {
    OpKind op = OpKind::add;
    std::string label;                // "add [3,4]+[1,4]"
    std::vector<OpCaseInput> inputs;  // one or two, the op's arity
    Attr attr;
    std::uint32_t seed = 1;           // the inputs and G come from NumpyRandom(seed)
    bool kinks = false;               // has inputs at a kink by construction: the check must
                                      // find kinks there (and still pass on the other entries)
};

// Every case: several shapes per op; add, sub, mul and div with every broadcast pair; sum, mean
// and max along -1, 0 and 1; concat and slice along both axes; softmax_ce with one-hot and index
// labels; pow with integer and non-integer exponents; relu, abs and max also at their kinks.
const std::vector<OpCase>& op_cases();

// A case recorded on a tape.
template <class T>
struct OpCaseTape {
    std::vector<Var<T>> inputs;
    Var<T> out;                  // op(inputs)
    Var<T> weights;              // G, a constant of out's shape
    Var<T> loss;                 // sum(out ⊙ G)
    std::vector<NodeId> params;  // the inputs that are parameters
};
template <class T>
OpCaseTape<T> record_op_case(Tape<T>& tape, const OpCase& c);

struct OpCheckRow {
    OpKind op = OpKind::add;
    std::string label;
    bool expect_kinks = false;
    GradcheckReport report;
    // The report passes, and a case built with kinks has some detected.
    bool pass() const { return report.pass() && (!expect_kinks || report.kinks() > 0); }
};

// Records the case on a fresh Tape<T> and runs gradcheck on it.
template <class T>
OpCheckRow check_op(const OpCase& c, const GradcheckOptions& options = {});

// (Defined in lib/check/gradcheck.cpp for float and double.)

}  // namespace xgrad
