#pragma once
// The L-layer network of the seed, recorded as a graph on a Tape:
//   Z_l = W_l · A_{l-1} + b_l,  A_l = g_l(Z_l),  l = 1..L,  A_0 = X,  loss = bce(A_L, Y)
// with the usual additions: tanh hidden layers, a softmax output for K classes, an L2 penalty on
// the weights and inverted dropout after hidden layers.

#include <cstdint>
#include <string>
#include <vector>

#include "xgrad/core/tape.hpp"
#include "xgrad/nn/data.hpp"
#include "xgrad/nn/enum_names.hpp"
#include "xgrad/nn/random.hpp"

namespace xgrad {

// Hidden layers: relu, sigmoid or tanh. Output layer: sigmoid (binary cross-entropy, one or
// more independent outputs) or softmax (softmax cross-entropy over K >= 2 classes).
enum class Activation { relu, sigmoid, tanh, softmax };
inline constexpr EnumNames<Activation, 4> kActivationNames{
    "activation",
    {{{Activation::relu, "relu"}, {Activation::sigmoid, "sigmoid"}, {Activation::tanh, "tanh"},
      {Activation::softmax, "softmax"}}}};

// kActivationNames.parse / .name: "relu" / "sigmoid" / "tanh" / "softmax"; anything else is a
// UsageError naming the accepted names.
Activation parse_activation(const std::string& name);
const char* activation_name(Activation a);

// How the loss is recorded. `fused` (the default) computes it from the logits Z_L with
// sigmoid_bce (or softmax_ce), finite however saturated; `separate` is the seed's arithmetic,
// bce(sigmoid(Z_L)), and gives the seed's dA_L (sigmoid outputs only).
enum class LossForm { fused, separate };

// Layer sizes and activations, validated: at least two sizes, none zero, one activation per layer,
// a sigmoid or softmax output layer (softmax with at least 2 units), softmax nowhere else.
// A network's layer sizes and activations. The constructor throws UsageError for what cannot be a
// network: fewer than two sizes, a size of 0 or above kMaxLayerSize, a weight matrix of more than
// kMaxLayerWeights entries, activation counts or kinds that do not fit.
struct MlpSpec {
    static constexpr std::size_t kMaxLayerSize = std::size_t(1) << 24;
    static constexpr std::size_t kMaxLayerWeights = std::size_t(1) << 31;

    std::vector<std::size_t> dims;          // {n_x, n_1, ..., n_L}
    std::vector<Activation> activations;    // L entries

    MlpSpec() = default;
    MlpSpec(std::vector<std::size_t> dims, std::vector<Activation> activations);
    MlpSpec(std::vector<std::size_t> dims, const std::vector<std::string>& activations);
    // Lets MlpSpec({3, 2, 1}, {"relu", "sigmoid"}) be unambiguous.
    MlpSpec(std::vector<std::size_t> dims, std::initializer_list<const char*> activations)
        : MlpSpec(std::move(dims), std::vector<std::string>(activations.begin(), activations.end())) {}
    std::size_t layers() const { return activations.size(); }
    bool softmax_output() const { return activations.back() == Activation::softmax; }
};

// One layer size as text ("20"): a positive integer, else UsageError "'<text>' is not a layer size
// (a positive integer)" (so "-3" is refused, not wrapped to 2^64 - 3).
std::size_t parse_layer_size(const std::string& text);

// At least the bytes a training run of `spec` on m examples holds: parameters and their gradients
// plus `extra_param_copies` (an optimiser's moments), and for every example each layer's values
// and gradients (pre- and post-activation). For refusing a run before it allocates far more than
// the machine has (Linux would let it start, then kill it).
std::uint64_t training_bytes(const MlpSpec& spec, std::size_t m, std::size_t value_size, int extra_param_copies = 0);

// Throws UsageError "<what> needs at least N MiB, the machine has M MiB available" when
// training_bytes(...) exceeds available_memory() (nothing when that cannot be told).
void require_memory(const MlpSpec& spec, std::size_t m, std::size_t value_size, int extra_param_copies,
                    const std::string& what);

// The memory this process can still get: MemAvailable of /proc/meminfo (else the physical
// memory), or the process's address-space/data limit if that is lower; 0 when nothing can be read.
std::uint64_t available_memory();

// Weights and biases, W[l-1] is W_l [n_l, n_{l-1}], b[l-1] is b_l [n_l, 1].
template <class T>
struct Params {
    std::vector<Matrix<T>> W;
    std::vector<Matrix<T>> b;
};

// Weight initialisers. All draw from np.random.seed(seed), one stream across layers, row-major,
// computed in double (as numpy) and then converted to T; biases are zero.
//   zeros:  W_l = 0 (no draws)
//   normal: W_l = randn(n_l, n_{l-1}) · scale
//   xavier: W_l = randn(n_l, n_{l-1}) / sqrt(n_{l-1})
//   he:     W_l = randn(n_l, n_{l-1}) · sqrt(2 / n_{l-1})    (the seed's initialize_parameters)
enum class Init { zeros, normal, xavier, he };
inline constexpr EnumNames<Init, 4> kInitNames{
    "initialiser", {{{Init::zeros, "zeros"}, {Init::normal, "normal"}, {Init::xavier, "xavier"}, {Init::he, "he"}}}};
Init parse_init(const std::string& name);  // kInitNames.parse / .name
const char* init_name(Init init);

template <class T>
Params<T> init_params(const MlpSpec& spec, Init init, std::uint32_t seed, double scale = 0.01);

// The seed's initialisation: init_params(spec, Init::he, seed).
template <class T>
Params<T> he_init(const MlpSpec& spec, std::uint32_t seed = 3);

// Regularisation recorded on the graph.
struct Regularization {
    // L2: loss = data loss + lambd / (2m) · Σ_l ||W_l||², m = the columns of the batch.
    double lambd = 0;
    // Inverted dropout after each hidden layer: A_l ⊙ D_l, D_l = [u < keep] / keep. Empty: none;
    // one value: every hidden layer; else one value per hidden layer (L-1), each in (0, 1].
    std::vector<double> keep_prob;
};

template <class T>
class Mlp {
public:
    // Records the network for data X [n_x, m] and labels Y [1, m] (or [n_L, m]). The tape keeps
    // X and Y: pass them with std::move to avoid a copy of the data.
    Mlp(MlpSpec spec, const Params<T>& params, Matrix<T> X, Matrix<T> Y,
        LossForm form = LossForm::fused);
    // The same with L2 and/or dropout. Labels of a softmax network are [1, m] class indices or
    // [K, m] one-hot columns. `threads` > 0: the tape's threads from the start (recording computes
    // the forward pass; tape().set_threads later would first have started every core's thread).
    Mlp(MlpSpec spec, const Params<T>& params, Matrix<T> X, Matrix<T> Y, Regularization reg,
        LossForm form = LossForm::fused, int threads = 0);

    const MlpSpec& spec() const { return spec_; }
    std::size_t layers() const { return spec_.layers(); }
    Tape<T>& tape() { return tape_; }
    const Tape<T>& tape() const { return tape_; }

    // Node ids; layers are numbered 1..L as in the seed. A(0) is X.
    NodeId W(std::size_t l) const;
    NodeId b(std::size_t l) const;
    NodeId Z(std::size_t l) const;
    NodeId A(std::size_t l) const;
    NodeId X() const { return x_; }
    NodeId Y() const { return y_; }
    NodeId loss() const { return loss_; }            // data loss (+ L2 penalty)
    NodeId data_loss() const { return data_loss_; }  // cross-entropy only
    // The dropout mask after hidden layer l (a constant [n_l, m]), or -1 if it has none. The
    // next layer reads A(l) ⊙ mask(l). Masks hold 1 until draw_masks().
    NodeId mask(std::size_t l) const;
    // The keep probability of hidden layer l (1 without dropout).
    double keep_prob(std::size_t l) const;
    const Regularization& regularization() const { return reg_; }

    // ---- batches and masks (no re-recording, no allocation) --------------------------------
    // The widest batch the tape has held (its buffers' width) and the current batch's width.
    std::size_t capacity() const { return capacity_; }
    std::size_t batch_columns() const { return batch_cols_; }
    // Copies columns `cols[0..n)` of X_all/Y_all into the tape's data, which becomes n columns
    // wide (any n >= 1; the buffers grow only past the widest batch seen): the loss averages over
    // exactly these n columns and the L2 penalty uses m = n. Masks of another width are reset to 1.
    void set_batch(const Matrix<T>& X_all, const Matrix<T>& Y_all, const std::size_t* cols,
                   std::size_t n);
    // The same from a DataSource: the tape's data := its examples cols[0..n) (DataSource::fetch
    // straight into the tape's buffers).
    void load_batch(DataSource<T>& source, const std::size_t* cols, std::size_t n);
    // New dropout masks, as np.random.rand(n_l, m) < keep for each dropout layer in order
    // (m = batch_columns()), scaled by 1/keep.
    void draw_masks(NumpyRandom& rng);
    // For a batch of `width` columns computed in parts (chunks, processes): draw_keep draws the
    // whole batch's masks as draw_masks would (keep[l-1] = the flags of hidden layer l, row-major
    // [n_l, width]; empty without dropout), set_masks puts columns [first, first + batch_columns())
    // of them on the tape. Every part thus sees the masks of one undivided batch.
    void draw_keep(NumpyRandom& rng, std::size_t width, std::vector<std::vector<std::uint8_t>>& keep) const;
    void set_masks(const std::vector<std::vector<std::uint8_t>>& keep, std::size_t width, std::size_t first);
    // Whether the loss includes the L2 penalty (default true). A batch computed in parts counts
    // the penalty in one part only.
    void set_penalty_included(bool on);
    // Every mask to 1: the network as used for prediction.
    void dropout_off();

    // One training step: forward, backward, W -= lr·dW, b -= lr·db. Returns the cost computed
    // before the update (as the seed prints it). Allocates nothing.
    T train_step(T learning_rate);
    // Current cost (the last forward's value).
    T cost() const { return tape_.value(loss_)(0, 0); }
    // A forward pass over the tape's own data (the current batch) with the current parameters
    // and dropout off; returns the cost (after training, the cost of the trained parameters).
    // Allocates nothing.
    T evaluate();
    // Fraction of the current batch that the network classifies correctly, with the current
    // parameters and dropout off (runs evaluate(); no copy of the data).
    double accuracy();

    Params<T> params() const;
    // A_L for any data with n_x rows (a forward pass on a scratch tape, no dropout).
    Matrix<T> predict_proba(const Matrix<T>& X) const;
    // Sigmoid output: round(A_L), 1 where p > 0.5, else 0 (numpy rounds 0.5 to 0).
    // Softmax output: [1, m] class indices, the argmax of each column (first on ties).
    Matrix<T> predict(const Matrix<T>& X) const;
    // Fraction of columns where predict(X) equals Y (one-hot Y: its argmax).
    double accuracy(const Matrix<T>& X, const Matrix<T>& Y) const;

private:
    std::size_t check_layer(std::size_t l, bool allow_zero) const;
    void adopt_batch_width(std::size_t n);  // masks, width, capacity and L2 factor after new data

    MlpSpec spec_;
    Regularization reg_;
    Tape<T> tape_;
    NodeId x_ = -1, y_ = -1, loss_ = -1, data_loss_ = -1, l2_ = -1;
    std::vector<NodeId> w_, b_, z_, a_;  // a_[0] = X
    std::vector<NodeId> mask_;           // mask_[l-1] for hidden layer l, -1 without dropout
    std::size_t capacity_ = 0, batch_cols_ = 0;
    bool penalty_included_ = true;
};

extern template class Mlp<float>;
extern template class Mlp<double>;

}  // namespace xgrad
