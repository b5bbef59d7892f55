#pragma once
// Training beyond the seed's loop: optimisers with the usual vocabulary (parameters, zero_grad,
// step), learning-rate decay, shuffled mini-batches and dropout masks, every random draw
// numpy-identical so that a NumPy program can reproduce a run (tests/fixtures/make_golden.py
// does, and the tests compare at 1e-10).

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "xgrad/nn/data.hpp"
#include "xgrad/nn/mlp.hpp"
#include "xgrad/nn/random.hpp"

namespace xgrad {

enum class OptimizerKind { gd, momentum, adam };
inline constexpr EnumNames<OptimizerKind, 3> kOptimizerNames{
    "optimiser", {{{OptimizerKind::gd, "gd"}, {OptimizerKind::momentum, "momentum"}, {OptimizerKind::adam, "adam"}}}};
// kOptimizerNames.parse / .name: "gd" / "momentum" / "adam"; anything else is a UsageError
// naming the accepted names.
OptimizerKind parse_optimizer(const std::string& name);
const char* optimizer_name(OptimizerKind kind);

// For parameter p with gradient g, at step t (counted from 1) and learning rate lr:
//   gd:       p -= lr · g
//   momentum: v = beta · v + (1 - beta) · g;  p -= lr · v
//             (the course's exponentially weighted average of the gradients. PyTorch's
//             SGD(momentum=mu) keeps u = mu · u + g instead, so that v = (1 - beta) · u at every
//             step: with mu = beta and lr_torch = lr · (1 - beta) both take the same steps)
//   adam:     v = beta1 · v + (1 - beta1) · g;  s = beta2 · s + (1 - beta2) · g²;
//             p -= lr · (v / (1 - beta1^t)) / (sqrt(s / (1 - beta2^t)) + epsilon)
// State starts at zero.
struct OptimizerConfig {
    OptimizerKind kind = OptimizerKind::gd;
    double learning_rate = 0.0075;
    double beta = 0.9;
    double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
};
// Throws UsageError naming the first bad field (learning rate <= 0 or not finite, a beta outside
// [0, 1), epsilon <= 0).
void validate(const OptimizerConfig& config);

template <class T>
class Optimizer {
public:
    // Updates every parameter of `tape` (or the given parameter nodes). The tape must outlive it
    // and stay where it is: zero_grad() and step() on a tape that was since moved from are a
    // UsageError saying so (the Optimizer keeps the tape's address).
    Optimizer(Tape<T>& tape, OptimizerConfig config);
    Optimizer(Tape<T>& tape, std::vector<NodeId> params, OptimizerConfig config);

    const std::vector<NodeId>& parameters() const { return params_; }
    // Sets the parameters' gradients to zero (before a backward pass: they accumulate).
    void zero_grad();
    // One update from the current gradients; counts the step. Allocates nothing.
    void step();

    double learning_rate() const { return config_.learning_rate; }
    void set_learning_rate(double lr);
    const OptimizerConfig& config() const { return config_; }

    // State, for checkpoints: steps taken, momentum velocities / Adam first moments, Adam second
    // moments (one per parameter, in parameters() order; empty where the method keeps none).
    long long steps() const { return t_; }
    void set_steps(long long t) { t_ = t; }
    std::vector<Matrix<T>>& first_moments() { return v_; }
    std::vector<Matrix<T>>& second_moments() { return s_; }
    const std::vector<Matrix<T>>& first_moments() const { return v_; }
    const std::vector<Matrix<T>>& second_moments() const { return s_; }

private:
    void check_tape() const;

    Tape<T>* tape_;
    std::vector<NodeId> params_;
    OptimizerConfig config_;
    std::vector<Matrix<T>> v_, s_;
    long long t_ = 0;
};

// lr / (1 + decay · floor(epoch / interval)): interval 1 decays every epoch.
double decayed_learning_rate(double lr, double decay, long long epoch, long long interval = 1);

struct TrainConfig {
    OptimizerConfig optimizer;
    double decay = 0;              // learning-rate decay (0: constant)
    long long decay_interval = 1;  // epochs between decay steps
    // Columns per mini-batch. 0 (or >= m): full batch, the columns in their order, no shuffle.
    // Otherwise epoch e takes the columns in the order np.random.seed(shuffle_seed + e);
    // np.random.permutation(m), in batches of this size, the last one smaller.
    std::size_t mini_batch_size = 0;
    std::uint32_t shuffle_seed = 11;
    Regularization reg;
    // Dropout masks come from one stream, np.random.seed(dropout_seed), drawn at every step as
    // np.random.rand(n_l, batch) for each dropout layer in order (over the whole batch, also when
    // it is computed in chunks or by several processes: the masks do not depend on either).
    std::uint32_t dropout_seed = 1;
    // Columns computed at once. 0: the whole batch (or this process's share of it), except a full
    // batch from a streaming source, which it computes in the source's chunk_columns(). A batch wider than this is done
    // in chunks whose gradients are accumulated, weighted by their widths, before the one step.
    std::size_t chunk_columns = 0;
    // Threads of the network's tape (0: its default, every core), from its construction on.
    int threads = 0;
};
void validate(const TrainConfig& config);

// Cost (cross-entropy over all examples + the L2 penalty with m = all) and accuracy.
struct Evaluation {
    double cost = 0;
    double accuracy = 0;
};

// Everything a Trainer needs to continue exactly where it was (checkpoints).
template <class T>
struct TrainerState {
    long long epoch = 0;  // epochs done
    long long steps = 0;  // optimiser steps taken (Adam's t)
    Params<T> params;
    std::vector<Matrix<T>> first_moments, second_moments;  // as Optimizer keeps them
    std::string dropout_rng;                                // NumpyRandom::state()
};

// The processes of a data-parallel job, as the Trainer needs them: who am I, how many are we, and
// one collective sum. MPI's is xgrad::dist::MpiCollective (xgrad/dist/dist.hpp); a single
// process needs none.
template <class T>
class Collective {
public:
    virtual ~Collective() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;
    // values[0..n) := their element-wise sum over all processes, the same on every process. One
    // collective call (every process must make it, with the same n).
    virtual void sum(T* values, std::size_t n) = 0;
};

// Sums the gradients of `params` on `tape` and the values extra[0..k) across `group` in one
// call of group.sum over one contiguous buffer (`buffer`, grown once, reused): the parameters'
// gradients in order, then the extras. Afterwards every process holds the same gradients.
template <class T>
void sum_gradients(Collective<T>& group, Tape<T>& tape, const std::vector<NodeId>& params, T* extra, std::size_t k,
                   std::vector<T>& buffer);

// Trains an Mlp on data X [n_x, m], labels Y by epochs. One recorded graph serves every batch
// (a smaller last batch is a narrower batch on the same graph, not re-recorded); nothing is
// allocated per step once the widest batch has been seen.
template <class T>
class Trainer {
public:
    // Pass X and Y with std::move: a full-batch trainer hands them to the tape without a copy.
    Trainer(const MlpSpec& spec, const Params<T>& init, Matrix<T> X, Matrix<T> Y, TrainConfig config);
    // The same from any source (in memory, streamed from a file). With a `group` (which must
    // outlive the trainer) every process of the job builds the same Trainer on the same source
    // and computes only its share (share_of) of every batch; the gradients, costs and accuracies
    // are summed across the group, so that every process takes the same steps and the result does
    // not depend on the number of processes (within rounding: the sums are taken in another order).
    Trainer(const MlpSpec& spec, const Params<T>& init, std::shared_ptr<DataSource<T>> data, TrainConfig config,
            Collective<T>* group = nullptr);

    // One epoch: every batch once, one optimiser step each. `on_step` (optional) gets each
    // step's cost, computed before its update. Returns the epoch's cost: the steps' costs
    // weighted by their batch sizes (for a full batch, the seed's printed cost).
    double epoch(const std::function<void(double)>& on_step = {});
    // Called after every computed part of an epoch (a batch, or a chunk of one) with the examples
    // of the epoch done so far (over all processes) and the epoch's examples: for a progress line.
    void set_progress(std::function<void(std::size_t done, std::size_t total)> fn) { progress_ = std::move(fn); }
    long long epochs_done() const { return epoch_; }
    // The learning rate the next epoch uses.
    double current_learning_rate() const;

    // Cost and accuracy over all training examples with the current parameters, dropout off.
    Evaluation evaluate();

    // Snapshot and restore: restore(state()) on a trainer built with the same network, data and
    // config continues bit for bit as the original would have. restore throws ShapeError when
    // the state does not fit the network or the optimiser. In a group, the construction and
    // restore check that every process has the same sizes, configuration and parameters (a
    // UsageError on all of them otherwise), and a NumericError of the anomaly check met by one
    // process is thrown by every process after the step's sum (none takes that step).
    TrainerState<T> state() const;
    void restore(const TrainerState<T>& s);

    Mlp<T>& net() { return net_; }
    const Mlp<T>& net() const { return net_; }
    Optimizer<T>& optimizer() { return opt_; }
    const Optimizer<T>& optimizer() const { return opt_; }
    const TrainConfig& config() const { return config_; }
    std::size_t examples() const { return m_; }
    NumpyRandom& dropout_rng() { return dropout_rng_; }

private:
    struct Part {
        std::size_t begin = 0, count = 0;  // columns [begin, begin + count) of a batch
    };
    // Full batch, in memory, one process: the tape holds all the data (no source, no copy).
    bool resident() const { return !source_; }
    bool full_batch() const { return batch_ == m_; }
    void set_epoch_order(long long epoch);
    // This process's parts of a batch of n columns: its share, in chunks of chunk_ columns.
    void parts_of(std::size_t n, std::vector<Part>& out) const;
    // The tape's data := examples cols[0..n) (skipped when it holds exactly these already).
    void load(const std::size_t* cols, std::size_t n);
    // One optimiser step on the batch cols[0..n); returns its cost.
    // One optimiser step on the batch cols[0..n), the next batch next_cols[0..next_n) announced to
    // the source; returns the step's cost.
    double step(const std::size_t* cols, std::size_t n, const std::size_t* next_cols, std::size_t next_n,
                const std::function<void(std::size_t)>& after_part);
    void sum_over_group(T* extra, std::size_t k, bool with_gradients);
    // With a group: every process must hold the same data sizes, configuration and parameters
    // (else they would call their collectives differently, or step from different weights):
    // compared through one sum (of each value and its square); a UsageError on every process
    // naming what differs.
    void check_group_agrees();

    TrainConfig config_;
    std::shared_ptr<DataSource<T>> source_;  // null when resident()
    Collective<T>* group_ = nullptr;
    std::size_t m_, batch_, chunk_;
    Mlp<T> net_;
    Optimizer<T> opt_;
    NumpyRandom dropout_rng_;
    std::vector<std::size_t> order_;       // this epoch's column order
    std::vector<std::size_t> next_order_;  // the next epoch's, once drawn for a prefetch
    long long next_order_epoch_ = -1;
    long long epoch_ = 0;
    std::vector<std::size_t> loaded_;  // the examples the tape holds (a source's)
    std::vector<Part> parts_;
    std::vector<std::vector<std::uint8_t>> keep_;  // a batch's dropout draws when done in parts
    std::vector<T> reduce_buffer_;
    std::function<void(std::size_t, std::size_t)> progress_;
};

// ---- the loop of a training program ---------------------------------------------------------

// A one-line status "  epoch 40/2500  cost 0.512345  95.1 it/s  ETA 25.9s" redrawn in place
// (carriage return) at most ten times a second. Only meant for a terminal: in a pipe or a file it
// would be noise between the printed lines, so pass enabled = false there.
class ProgressLine {
public:
    ProgressLine(bool enabled, long long total, std::string unit = "epoch");
    // `done` of `total` units finished, the last one's cost.
    void update(long long done, double cost);
    // Within a long unit (an epoch of many batches, Trainer::set_progress): `done` units finished
    // and `examples` of the next one's `per_unit` examples; shows examples per second and the time
    // left for all `total` units: "  iteration 3/10  examples 3072/10240  2210 ex/s  ETA 29.1s".
    void update_part(long long done, std::size_t examples, std::size_t per_unit);
    // Removes the status line, so that a permanent line can be printed in its place.
    void clear();

private:
    bool enabled_;
    long long total_;
    std::string unit_;
    std::chrono::steady_clock::time_point start_, last_{};
    bool shown_ = false;
};

// What run_epochs does around each epoch.
struct EpochLoop {
    long long epochs = 1;       // the loop ends when this many epochs are done
    long long print_every = 0;  // print(e, cost) after the epochs e with e % print_every == 0 (0: never)
    std::function<void(long long epoch, double cost)> print;
    // After every epoch whose cost is finite, before print: recording, checkpoints, checks of
    // one's own. A NumericError from it stops the loop as a non-finite cost does.
    std::function<void(long long epoch, double cost)> after;
    bool progress = false;        // a ProgressLine (give false when stdout is no terminal)
    std::string unit = "epoch";   // for the progress line
    std::string cost_name = "the cost";  // for the error text: "<cost_name> is nan"
};

struct EpochLoopResult {
    long long epochs_done = 0;   // the epochs finished (the first failed one excluded)
    double seconds = 0;          // wall time of the loop
    bool stopped = false;        // a NumericError or a non-finite cost ended it early
    std::string error;           // why: "the cost is nan", or the NumericError's text
};

// Runs epoch(e) for e = first, first + 1, ... until opts.epochs are done; epoch(e) does one epoch
// (e counted from 0) and returns its cost. Stops early, without throwing, at the first NumericError
// (from epoch or after, e.g. the tape's anomaly check) or non-finite cost: the result says which
// epoch (epochs_done) and why. Other exceptions pass through.
EpochLoopResult run_epochs(long long first, const std::function<double(long long epoch)>& epoch,
                           const EpochLoop& opts);

// ---- mini-batches on a graph of one's own -----------------------------------------------------

// Columns order[begin, begin + n) of `all` [rows, m] into the constant `leaf` of `tape`, which
// takes the shape [rows, n] (within its buffer's capacity: no allocation once the widest batch was
// seen).
template <class T>
void gather_columns(Tape<T>& tape, NodeId leaf, const Matrix<T>& all, const std::vector<std::size_t>& order,
                    std::size_t begin, std::size_t n);

// One epoch of mini-batch training on a recorded graph whose data and labels are the constants
// x and y: for each batch of `batch` columns in `order` (the last one smaller), gather it into x
// and y, forward, zero_grad, backward(loss), step. Returns the mean loss over the epoch (each
// batch's loss, computed before its step, weighted by its size).
template <class T>
double minibatch_epoch(Tape<T>& tape, NodeId x, NodeId y, NodeId loss, Optimizer<T>& opt, const Matrix<T>& X,
                       const Matrix<T>& Y, const std::vector<std::size_t>& order, std::size_t batch);
// The same with the examples from a source (in memory, or streamed from a file: each batch is
// fetched straight into x and y, and the next one announced to the source with prefetch so that it
// can read it while this one is computed). order holds example indices of the source.
template <class T>
double minibatch_epoch(Tape<T>& tape, NodeId x, NodeId y, NodeId loss, Optimizer<T>& opt, DataSource<T>& data,
                       const std::vector<std::size_t>& order, std::size_t batch);

extern template class Optimizer<float>;
extern template class Optimizer<double>;
extern template class Trainer<float>;
extern template class Trainer<double>;

}  // namespace xgrad
