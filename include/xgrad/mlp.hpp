#pragma once
// The L-layer network of the seed, recorded as a graph on a Tape:
//   Z_l = W_l · A_{l-1} + b_l,  A_l = g_l(Z_l),  l = 1..L,  A_0 = X,  loss = bce(A_L, Y)

#include <cstdint>
#include <string>
#include <vector>

#include "xgrad/tape.hpp"

namespace xgrad {

enum class Activation { relu, sigmoid };

// "relu" / "sigmoid"; anything else is a UsageError naming the accepted names.
Activation parse_activation(const std::string& name);
const char* activation_name(Activation a);

// How the loss is recorded. `fused` (the default) computes it from the logits Z_L with
// sigmoid_bce, finite however saturated; `separate` is the seed's arithmetic, bce(sigmoid(Z_L)),
// and gives the seed's dA_L.
enum class LossForm { fused, separate };

// Layer sizes and activations, validated: at least two sizes, none zero, one activation per layer,
// and a sigmoid output layer (binary cross-entropy needs probabilities).
struct MlpSpec {
    std::vector<std::size_t> dims;          // {n_x, n_1, ..., n_L}
    std::vector<Activation> activations;    // L entries

    MlpSpec() = default;
    MlpSpec(std::vector<std::size_t> dims, std::vector<Activation> activations);
    MlpSpec(std::vector<std::size_t> dims, const std::vector<std::string>& activations);
    // Lets MlpSpec({3, 2, 1}, {"relu", "sigmoid"}) be unambiguous.
    MlpSpec(std::vector<std::size_t> dims, std::initializer_list<const char*> activations)
        : MlpSpec(std::move(dims), std::vector<std::string>(activations.begin(), activations.end())) {}
    std::size_t layers() const { return activations.size(); }
};

// Weights and biases, W[l-1] is W_l [n_l, n_{l-1}], b[l-1] is b_l [n_l, 1].
template <class T>
struct Params {
    std::vector<Matrix<T>> W;
    std::vector<Matrix<T>> b;
};

// The seed's initialize_parameters: np.random.seed(seed); W_l = randn(n_l, n_{l-1}) · sqrt(2/n_{l-1}),
// one draw stream across layers, computed in double (as numpy) and then converted to T; b_l = 0.
template <class T>
Params<T> he_init(const MlpSpec& spec, std::uint32_t seed = 3);

template <class T>
class Mlp {
public:
    // Records the network for data X [n_x, m] and labels Y [1, m] (or [n_L, m]). The tape keeps
    // X and Y: pass them with std::move to avoid a copy of the data.
    Mlp(MlpSpec spec, const Params<T>& params, Matrix<T> X, Matrix<T> Y,
        LossForm form = LossForm::fused);

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
    NodeId loss() const { return loss_; }

    // One training step: forward, backward, W -= lr·dW, b -= lr·db. Returns the cost computed
    // before the update (as the seed prints it). Allocates nothing.
    T train_step(T learning_rate);
    // Current cost (the last forward's value).
    T cost() const { return tape_.value(loss_)(0, 0); }
    // A forward pass over the tape's own data with the current parameters; returns the cost
    // (after training, the cost of the trained parameters). Allocates nothing.
    T evaluate();
    // Fraction of the tape's own examples that round(A_L) classifies correctly, with the
    // current parameters (runs evaluate(); no copy of the data).
    double accuracy();

    Params<T> params() const;
    // A_L for any data with n_x rows (a forward pass on a scratch tape).
    Matrix<T> predict_proba(const Matrix<T>& X) const;
    // round(A_L): 1 where p > 0.5, else 0 (numpy rounds 0.5 to 0).
    Matrix<T> predict(const Matrix<T>& X) const;
    // Fraction of columns where predict(X) equals Y.
    double accuracy(const Matrix<T>& X, const Matrix<T>& Y) const;

private:
    std::size_t check_layer(std::size_t l, bool allow_zero) const;

    MlpSpec spec_;
    Tape<T> tape_;
    NodeId x_ = -1, y_ = -1, loss_ = -1;
    std::vector<NodeId> w_, b_, z_, a_;  // a_[0] = X
};

extern template class Mlp<float>;
extern template class Mlp<double>;

}  // namespace xgrad
