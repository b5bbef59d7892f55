#pragma once
// The tape: a flat vector of nodes in construction order.
//
// Construction order is a topological order, so forward replay is one loop up and backward is one
// loop down. Nodes refer to their inputs by integer id; values and gradients live in the nodes and are
// allocated once, when the node is recorded. Replaying forward()/backward() after parameters change
// writes into the same buffers and allocates nothing.
//
// Gradient semantics (as in PyTorch): backward(loss) adds d loss / d param into the parameters'
// gradients (they accumulate across calls until zero_grad()); gradients of intermediate nodes are
// recomputed from zero on every backward and stay readable until the next one.

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "xgrad/tensor.hpp"

namespace xgrad {

namespace detail {
class ThreadPool;
}

using NodeId = std::int32_t;

enum class OpKind : std::uint8_t {
    constant,   // leaf, no gradient (data, labels)
    parameter,  // leaf, gradient
    matmul,
    add_bias,
    relu,
    sigmoid,
    bce,
    sigmoid_bce,
    add,
    mul,
    tanh,
    scale,
    sum,
    mean,
    sq_norm,
    softmax,
    softmax_ce,
    count_  // keep last
};

// "matmul", "add_bias", ...
const char* op_name(OpKind op);
std::ostream& operator<<(std::ostream& os, OpKind op);

template <class T>
struct Node {
    OpKind op = OpKind::constant;
    NodeId in0 = -1;
    NodeId in1 = -1;
    bool requires_grad = false;  // a parameter, or an op with an input that requires grad
    double attr = 0;             // scale: the factor; losses: columns counted (0 = all)
    std::string name;            // optional label for printing
    Shape shape;                 // fixed when recorded; replay checks leaves still have it
    Matrix<T> value;
    Matrix<T> grad;  // allocated only when requires_grad
};

template <class T>
class Tape {
public:
    Tape();
    ~Tape();
    Tape(Tape&&) noexcept;
    Tape& operator=(Tape&&) noexcept;
    Tape(const Tape&) = delete;
    Tape& operator=(const Tape&) = delete;

    // Threads this tape may use for large products (default: the machine's cores). The pool is
    // owned by the tape and started only when a recorded product is large enough to split.
    void set_threads(int n);
    int threads() const { return threads_; }

    // ---- leaves ---------------------------------------------------------------------------
    // The value is taken by value: pass std::move(data) to hand a large tensor to the tape
    // without a copy.
    NodeId constant(Matrix<T> value, std::string name = {});
    NodeId parameter(Matrix<T> value, std::string name = {});

    // ---- ops (each checks shapes and computes its value at once) --------------------------
    NodeId matmul(NodeId a, NodeId b);      // [M,K]·[K,N] -> [M,N]
    NodeId add_bias(NodeId a, NodeId b);    // [n,m] + [n,1] (to every column) -> [n,m]
    NodeId relu(NodeId x);                  // max(x, 0)
    NodeId sigmoid(NodeId x);               // 1 / (1 + exp(-x))
    NodeId bce(NodeId p, NodeId y);         // -sum(y log p + (1-y) log(1-p)) / m -> [1,1]
    NodeId sigmoid_bce(NodeId z, NodeId y); // bce(sigmoid(z), y), computed stably from logits
    NodeId add(NodeId a, NodeId b);         // a + b, same shapes
    NodeId mul(NodeId a, NodeId b);         // a ⊙ b elementwise, same shapes (e.g. a dropout mask)
    NodeId tanh(NodeId x);                  // tanh(x)
    NodeId scale(NodeId x, double c);       // c · x (c can be changed later: set_scale)
    NodeId sum(NodeId x);                   // sum of all entries -> [1,1]
    NodeId mean(NodeId x);                  // mean of all entries -> [1,1]
    NodeId sq_norm(NodeId x);               // squared Frobenius norm, sum of x² -> [1,1]
    NodeId softmax(NodeId z);               // per column: exp(z - max) / sum exp(z - max)
    // Mean over columns of -log softmax(z)[label], z [K,m] logits (K >= 2), computed stably
    // (shifted by each column's max). y is [K,m] (one-hot, or any probability columns) or
    // [1,m] class indices 0..K-1 (a DataError names the first bad label).
    NodeId softmax_ce(NodeId z, NodeId y);

    // ---- attributes that may change between replays (no re-recording) -----------------------
    // The factor of a scale node.
    void set_scale(NodeId id, double c);
    // A loss (bce, sigmoid_bce, softmax_ce) averages over its first n columns only and gives the
    // others zero gradient: a smaller last mini-batch placed in a padded batch. 0 = all columns.
    void set_loss_columns(NodeId id, std::size_t n);

    // ---- execution ------------------------------------------------------------------------
    // Re-runs every op in order from the current leaf values. Throws ShapeError if a leaf's value
    // no longer has its recorded shape.
    void forward();
    // One reverse pass from a [1,1] node. Only nodes that lie between a parameter and `loss`
    // get gradients; constants (the data) never do.
    void backward(NodeId loss);
    // Sets every parameter's gradient to zero.
    void zero_grad();

    // Anomaly detection (off by default): forward() checks every value it computes and
    // backward() every gradient, and the first NaN or Inf throws NumericError naming the node,
    // its op and shape, and the value ranges of the op's inputs. The parameters are left as they
    // were (an optimiser step after a throwing backward never runs).
    void set_check_finite(bool on) { check_finite_ = on; }
    bool check_finite() const { return check_finite_; }

    // ---- access ---------------------------------------------------------------------------
    std::size_t size() const { return nodes_.size(); }
    const Node<T>& node(NodeId id) const;
    const Matrix<T>& value(NodeId id) const;
    // Mutable leaf value: for updating parameters or swapping in a new batch of the same shape.
    Matrix<T>& leaf_value(NodeId id);
    // Copies `v` into a leaf; the shape must equal the recorded one (no reallocation).
    void set_value(NodeId id, const Matrix<T>& v);
    const Matrix<T>& grad(NodeId id) const;  // throws if the node has no gradient
    Matrix<T>& param_grad(NodeId id);        // mutable gradient of a parameter
    bool requires_grad(NodeId id) const { return node(id).requires_grad; }
    Shape shape(NodeId id) const { return shape_of(node(id).value); }
    const std::vector<NodeId>& parameters() const { return parameters_; }
    void set_name(NodeId id, std::string name);

    // ---- inspection -----------------------------------------------------------------------
    // One line per node: id, op, inputs, shape, grad flag, name.
    void print(std::ostream& os) const;
    // Graphviz DOT: one box per node (op, shape), parameters and grad-carrying nodes marked.
    std::string to_dot() const;

private:
    const Node<T>& checked(NodeId id, const char* what) const;
    NodeId add_node(OpKind op, NodeId a, NodeId b, Shape out, double attr = 0);
    void run_forward(Node<T>& n);
    void prepare_matmul(Shape a, Shape b);  // pool and scratch for a recorded product

    int threads_ = 1;
    std::unique_ptr<detail::ThreadPool> pool_;
    std::vector<T> scratch_;

    std::vector<Node<T>> nodes_;
    std::vector<NodeId> parameters_;
    std::vector<char> reach_;  // scratch for backward: node leads to the loss
    bool check_finite_ = false;
    std::string describe(NodeId id) const;
    [[noreturn]] void report_non_finite(const char* pass, NodeId id, const Matrix<T>& bad,
                                        const char* what) const;
};

extern template class Tape<float>;
extern template class Tape<double>;

}  // namespace xgrad
