#pragma once
// Gradient checking of the MLP: the tape's reverse pass against the seed's hand-derived formulas
// and against centered finite differences of the cost, per quantity and layer. (The check of any
// [1,1] node of any tape is xgrad::gradcheck, in xgrad/gradcheck.hpp.)
//
// Every gradient here is a gradient of the cost (the seed's dA/dZ, which are gradients of m·cost,
// are divided by m), so the three sources are directly comparable.
//
// Never a vacuous pass: two all-zero gradients are reported as zero and fail unless allow_zero;
// a comparison over no entries at all fails. Finite differences are not taken where they straddle
// relu's kink: such entries are excluded and counted.
//
// Hidden layers may be relu, sigmoid or tanh; the output sigmoid (binary cross-entropy) or softmax
// (softmax cross-entropy). A softmax network is recorded with the fused softmax_ce on Z_L, so the
// tape has no dA_L: its check has no dA_L row (4L − 1 rows instead of 4L).
//
// A Regime adds the L2 penalty and dropout with fixed masks to all three sources alike: the
// cost is cross-entropy + lambd/(2m)·Σ_l ‖W_l‖², and layer l+1 reads A_l ⊙ D_l with the same D_l
// in the tape, the hand formulas and every finite-difference evaluation. With dropout after layer
// l, the dA_l row compares the gradient with respect to A_l itself, the activation before the
// mask: (W_{l+1}ᵀ dZ_{l+1}) ⊙ D_l / m (the tape's A(l) node; the seed's dA_l after its
// "dA = dA * D / keep_prob" step, which is inside D_l here), not the gradient of A_l ⊙ D_l.

#include <cstdint>
#include <string>
#include <vector>

#include "xgrad/nn/mlp.hpp"

namespace xgrad::mlp_check {

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

// ---- L2 and dropout ---------------------------------------------------------------------------

// What the network is checked with besides its parameters and data. The default: neither.
struct Regime {
    // lambd >= 0 and keep_prob exactly as Mlp takes them (empty, one value, or one per hidden
    // layer, each in (0, 1]).
    Regularization reg;
    // The fixed dropout masks, indexed by layer like the gradients: masks[l] = D_l [n_l, m] for
    // each hidden layer l with keep_prob(l) < 1 (values 0 or 1/keep as draw_masks makes them, but
    // any fixed values are checked alike); every other entry empty. Empty vector: no dropout,
    // which requires every keep_prob to be 1.
    std::vector<Matrix<double>> masks;
    // The NumpyRandom seed the masks came from (make_regime), for reports and the dump; -1 when
    // they came from elsewhere or there are none.
    std::int64_t mask_seed = -1;

    bool l2() const { return reg.lambd > 0; }
    bool dropout() const;  // at least one mask
};

// keep_prob per hidden layer (L − 1 values), expanded and validated as Mlp does (UsageError).
std::vector<double> keep_probs(const MlpSpec& spec, const Regularization& reg);

// A regime whose masks are drawn once, as Mlp::draw_masks(NumpyRandom(mask_seed)) draws them for
// a batch of m examples. Validates reg (UsageError).
Regime make_regime(const MlpSpec& spec, const Regularization& reg, std::size_t m,
                   std::uint32_t mask_seed);

// Throws UsageError / ShapeError unless `regime` fits the network and m examples: a valid reg,
// and a mask of shape [n_l, m] exactly where keep_prob(l) < 1.
void check_regime(const MlpSpec& spec, const Regime& regime, std::size_t m);

// ---- the three sources of gradients -----------------------------------------------------------

// Gradients of the cost, index l = 1..L (entry 0 is empty): dW_l, db_l, dZ_l, dA_l. dA_L is empty
// for a softmax output (see above).
struct Gradients {
    std::vector<Matrix<double>> dW, db, dZ, dA;
};

// The tape's reverse pass: Mlp<double> recorded with LossForm::separate for a sigmoid output (so
// dA_L is the seed's quantity; softmax: the fused softmax_ce), the regime's lambd and keep_prob,
// its masks set into the mask nodes and a forward pass before the backward one.
Gradients tape_gradients(const MlpSpec& spec, const Params<double>& params, const Matrix<double>& X,
                         const Matrix<double>& Y, const Regime& regime = {});
// The seed's hand-derived formulas (reference::propagate with the regime's lambd and masks), dA
// and dZ divided by m.
Gradients hand_gradients(const MlpSpec& spec, const Params<double>& params, const Matrix<double>& X,
                         const Matrix<double>& Y, const Regime& regime = {});

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

// Centered differences of the cost — cross-entropy plus the regime's L2 penalty, with its masks
// held fixed. Replays one recorded tape: each evaluation sets the entry with leaf_value, re-runs
// forward() and reads the logits Z_L, then the entry is restored exactly. The cross-entropy is
// recomputed from Z_L and Y per entry (sigmoid: max(z,0) - y·z + log1p(exp(-|z|))) or per column
// (softmax: log-sum-exp minus the label's logit), which keeps its digits however confident the
// network is (from A_L it lost them: 2.3e-7 on a trained model with one example), and differenced
// entry by entry before summing; the penalty's difference is lambd/(2m)·(w₊² − w₋²) of the perturbed weight, as every
// other term of Σ‖W‖² is bit for bit the same at both points.
FdGradients finite_differences(const MlpSpec& spec, const Params<double>& params,
                               const Matrix<double>& X, const Matrix<double>& Y,
                               const FdOptions& options = {}, const Regime& regime = {});

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
    std::vector<Row> rows;  // dW1, db1, dZ1, dA1, dW2, ..., dA_L (no dA_L for softmax outputs)
    bool pass() const;
    std::size_t fd_evaluated() const;
    std::size_t fd_kinks() const;
    double max_rel_hand() const;
    double max_rel_fd() const;
};

// Compares the three sets. `hand` may be any set of gradients (e.g. a deliberately wrong formula).
// A dA_L that is empty in both the tape and the hand set (softmax outputs) gives no row; any other
// shape difference is a ShapeError.
Report compare_all(const Gradients& tape, const Gradients& hand, const FdGradients& fd,
                   const CheckOptions& options);

struct CheckResult {
    Gradients tape, hand;
    FdGradients fd;
    Report report;
    Regime regime;  // what the three were computed with
};

// Computes tape, hand and FD gradients for the network (with the regime's L2 and masks) and
// compares them. Checks the regime first (check_regime).
CheckResult run_check(const MlpSpec& spec, const Params<double>& params, const Matrix<double>& X,
                      const Matrix<double>& Y, const CheckOptions& options = {},
                      const Regime& regime = {});

// Writes every gradient to HDF5, atomically (a temporary file in the same directory, then rename).
// One group per check, named by `labels`: <label>/{tape,hand}/{dW,db,dZ,dA}<l>, <label>/fd/{dW,db}<l>
// (NaN where not evaluated) and <label>/fd_status/{dW,db}<l> (FdStatus as uint8); a softmax
// network has no dA<L>. The regime: attributes lambd (double), keep_prob (double per hidden
// layer, 1 without dropout) and, when known, mask_seed (int64) on <label>, and the masks as
// <label>/masks/D<l>.
void write_dump(const std::string& path, const std::vector<std::string>& labels,
                const std::vector<const CheckResult*>& results);

}  // namespace xgrad::mlp_check
