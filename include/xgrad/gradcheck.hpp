#pragma once
// Gradient checking: the tape's reverse pass against the seed's hand-derived formulas and against
// centered finite differences of the cost, per quantity and layer.
//
// Every gradient here is a gradient of the cost (the seed's dA/dZ, which are gradients of m·cost,
// are divided by m), so the three sources are directly comparable.
//
// Never a vacuous pass: two all-zero gradients are reported as zero and fail unless allow_zero;
// a comparison over no entries at all fails. Finite differences are not taken where they straddle
// relu's kink: such entries are excluded and counted.

#include <cstdint>
#include <string>
#include <vector>

#include "xgrad/mlp.hpp"

namespace xgrad::gradcheck {

// ---- comparing two gradients ------------------------------------------------------------------

struct Comparison {
    double max_abs = 0;       // max |g1 - g2| over the compared entries
    double rel_err = 0;       // ‖g1−g2‖ / (‖g1‖+‖g2‖); 0 when both are all zeros
    std::size_t compared = 0; // entries compared
    bool both_zero = false;   // both gradients are exactly zero on every compared entry
    bool finite = true;       // no NaN/Inf in either gradient
    bool pass = false;
};

// Compares g1 and g2 entry by entry (same shape, else ShapeError). Passes when the relative error
// is at most `threshold`, every value is finite, at least one entry is compared, and the two are
// not both all zeros (unless allow_zero).
Comparison compare(const Matrix<double>& g1, const Matrix<double>& g2, double threshold,
                   bool allow_zero = false);
// The same over the entries where mask is non-zero only.
Comparison compare(const Matrix<double>& g1, const Matrix<double>& g2,
                   const Matrix<std::uint8_t>& mask, double threshold, bool allow_zero = false);

// ---- the three sources of gradients -----------------------------------------------------------

// Gradients of the cost, index l = 1..L (entry 0 is empty): dW_l, db_l, dZ_l, dA_l.
struct Gradients {
    std::vector<Matrix<double>> dW, db, dZ, dA;
};

// The tape's reverse pass (Mlp<double> with LossForm::separate, so dA_L is the seed's quantity).
Gradients tape_gradients(const MlpSpec& spec, const Params<double>& params, const Matrix<double>& X,
                         const Matrix<double>& Y);
// The seed's hand-derived formulas (reference::propagate), dA and dZ divided by m.
Gradients hand_gradients(const MlpSpec& spec, const Params<double>& params, const Matrix<double>& X,
                         const Matrix<double>& Y);

// What happened to each entry of a parameter in the finite-difference pass.
enum class FdStatus : std::uint8_t {
    skipped = 0,   // not in the sample
    compared = 1,  // evaluated and compared
    kink = 2,      // evaluated, but a relu input changed sign (or came within kink_tol of 0)
};

struct FdTensor {
    Matrix<double> grad;          // (cost(p+eps) - cost(p-eps)) / 2eps; NaN where skipped
    Matrix<std::uint8_t> status;  // FdStatus per entry
    std::size_t evaluated = 0;    // entries perturbed (the sample)
    std::size_t kinks = 0;        // of those, excluded at a relu kink
    // 1 where status is `compared`: the mask for compare().
    Matrix<std::uint8_t> mask() const;
};

// Finite differences for W_l and b_l, index l = 1..L (entry 0 is empty).
struct FdGradients {
    std::vector<FdTensor> dW, db;
};

struct FdOptions {
    double eps = 1e-7;
    // Entries per tensor; 0 means every entry. A tensor with at most `sample` entries is done whole.
    std::size_t sample = 0;
    // Seeds the NumpyRandom that picks the sample (one stream across W1, b1, W2, ...).
    std::uint32_t sample_seed = 1;
    // A perturbed relu input closer to 0 than this also counts as a kink; negative means eps.
    double kink_tol = -1;
};

// Centered differences of the cost. Replays one recorded tape: each evaluation sets the entry with
// leaf_value, re-runs forward() and reads the cost, then the entry is restored exactly.
FdGradients finite_differences(const MlpSpec& spec, const Params<double>& params,
                               const Matrix<double>& X, const Matrix<double>& Y,
                               const FdOptions& options = {});

// ---- the whole check --------------------------------------------------------------------------

enum class Quantity { dW, db, dZ, dA };
const char* quantity_name(Quantity q);

struct Row {
    Quantity quantity = Quantity::dW;
    std::size_t layer = 0;
    std::size_t entries = 0;
    Comparison hand;         // tape vs hand
    bool has_fd = false;     // W and b only
    Comparison fd;           // tape vs finite differences
    std::size_t fd_evaluated = 0, fd_kinks = 0;
    std::string name() const;  // "dW1"
    bool pass() const { return hand.pass && (!has_fd || fd.pass); }
};

struct CheckOptions {
    FdOptions fd;
    double tol_hand = 1e-12;
    double tol_fd = 2e-7;
    bool allow_zero = false;
};

struct Report {
    std::vector<Row> rows;  // dW1, db1, dZ1, dA1, dW2, ..., dA_L
    bool pass() const;
    std::size_t fd_evaluated() const;
    std::size_t fd_kinks() const;
    double max_rel_hand() const;
    double max_rel_fd() const;
};

// Compares the three sets. `hand` may be any set of gradients (e.g. a deliberately wrong formula).
Report compare_all(const Gradients& tape, const Gradients& hand, const FdGradients& fd,
                   const CheckOptions& options);

struct CheckResult {
    Gradients tape, hand;
    FdGradients fd;
    Report report;
};

// Computes tape, hand and FD gradients for the network and compares them.
CheckResult run_check(const MlpSpec& spec, const Params<double>& params, const Matrix<double>& X,
                      const Matrix<double>& Y, const CheckOptions& options = {});

// Writes every gradient to HDF5, atomically (a temporary file in the same directory, then rename).
// One group per check, named by `labels`: <label>/{tape,hand}/{dW,db,dZ,dA}<l>, <label>/fd/{dW,db}<l>
// (NaN where not evaluated) and <label>/fd_status/{dW,db}<l> (FdStatus as uint8).
void write_dump(const std::string& path, const std::vector<std::string>& labels,
                const std::vector<const CheckResult*>& results);

}  // namespace xgrad::gradcheck
