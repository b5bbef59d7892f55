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
#include <type_traits>
#include <vector>

#include "xgrad/core/op_list.hpp"
#include "xgrad/core/tensor.hpp"

namespace xgrad {

namespace detail {
// A flag that a move sets on the object moved from (and the target takes over): lets a Tape tell
// "I was moved from" apart from "I am empty", without writing out the Tape's own moves.
struct MovedFrom {
    bool moved = false;
    MovedFrom() = default;
    MovedFrom(MovedFrom&& o) noexcept : moved(o.moved) { o.moved = true; }
    MovedFrom& operator=(MovedFrom&& o) noexcept {
        moved = o.moved;
        o.moved = true;
        return *this;
    }
};
class ThreadPool;
}

using NodeId = std::int32_t;

// Every kind of node: the two leaves, then the built-in ops of the op table (xgrad/op_list.hpp).
enum class OpKind : std::uint8_t {
    constant,   // leaf, no gradient (data, labels)
    parameter,  // leaf, gradient
    custom,     // an op defined outside the library (Node::custom says which; xgrad/custom_op.hpp)
#define XGRAD_OP_ENUM(name, api) name,
    XGRAD_OPS(XGRAD_OP_ENUM)
#undef XGRAD_OP_ENUM
    count_  // keep last
};

// The built-in ops (the op table's lines) are the kinds from kFirstBuiltinOp up to OpKind::count_.
constexpr std::size_t kFirstBuiltinOp = std::size_t(OpKind::custom) + 1;

// "matmul", "add_bias", ...
const char* op_name(OpKind op);
std::ostream& operator<<(std::ostream& os, OpKind op);

// The data of an op that is not a tensor. Each field has one meaning; an op uses the fields its
// file says (and print/to_dot show exactly those).
struct Attr {
    double scalar = 0;      // scale: the factor c; add_scalar: the addend c; pow: the exponent p
    int axis = -1;          // sum/mean/max: -1 every entry, 0 along the rows, 1 along the columns;
                            // concat/slice: 0 rows, 1 columns
    std::size_t begin = 0;  // slice: the first row/column taken
    std::size_t end = 0;    // slice: one past the last
};

// An op defined in a user's code, as the tape calls it (xgrad/custom_op.hpp builds one from a
// struct with static functions). `b` is null and `gb` unused for a unary op; ga/gb are null when
// that input needs no gradient; backward adds (+=) into them.
template <class T>
struct CustomOp {
    const char* name;
    int arity;  // 1 or 2
    Shape (*shape)(Shape a, Shape b);
    void (*forward)(const Matrix<T>& a, const Matrix<T>* b, Matrix<T>& out);
    void (*backward)(const Matrix<T>& a, const Matrix<T>* b, const Matrix<T>& out, const Matrix<T>& gout,
                     Matrix<T>* ga, Matrix<T>* gb);
};

template <class T>
struct Node {
    OpKind op = OpKind::constant;
    NodeId in0 = -1;
    NodeId in1 = -1;
    bool requires_grad = false;  // a parameter, or an op with an input that requires grad
    Attr attr;                   // the op's non-tensor data
    const CustomOp<T>* custom = nullptr;  // op == custom: its definition (static storage)
    std::string name;            // optional label for printing
    Shape shape;                 // fixed when recorded; replay checks leaves still have it
    Matrix<T> value;
    Matrix<T> grad;  // allocated only when requires_grad
};

template <class T>
class Tape;

// A node of a tape, as a value in expressions: `mean(square(sigmoid(matmul(W, x) + b) - y))`.
// A small copyable handle (the tape's address and the node's id); it never owns the tape, and the
// tape must outlive it (and not be moved while Vars refer to it). It converts to NodeId, so the
// id-based API accepts it. The operators and functions on Vars are in xgrad/var.hpp.
template <class T>
class Var {
public:
    Var() = default;  // refers to nothing; using it is a UsageError
    Var(Tape<T>& tape, NodeId id) : tape_(&tape), id_(id) {}

    operator NodeId() const { return id_; }
    NodeId id() const { return id_; }
    bool valid() const { return tape_ != nullptr; }
    Tape<T>& tape() const;  // UsageError for an empty Var

    // The node's current value, gradient and shape (Tape::value/grad/shape).
    const Matrix<T>& value() const;
    const Matrix<T>& grad() const;
    Shape shape() const;

private:
    Tape<T>* tape_ = nullptr;
    NodeId id_ = -1;
};

// An argument of the tape's op methods: a Var (its tape is checked) or a bare NodeId (it must
// exist on the tape).
template <class T>
struct Operand {
    const Tape<T>* tape = nullptr;  // null for a bare id
    NodeId id = -1;
    // implicit on purpose (the id-based API), but only from an integer: `t.mul(a, 0.5)` must not
    // quietly mean node 0
    template <class I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
    Operand(I i) : id(NodeId(i)) {}  // NOLINT
    Operand(const Var<T>& v) : tape(v.valid() ? &v.tape() : nullptr), id(v.id()) {
        if (!v.valid()) throw UsageError("an empty Var (default-constructed) used as an operand");
    }
};

template <class T>
class Tape {
public:
    Tape();
    ~Tape();
    // A move hands every node to the new tape. Whatever was made on the old one (a Var, an
    // Optimizer, a Trainer's or Mlp's node ids) keeps pointing at the old one, which is then
    // moved_from(): using it is a UsageError that says so. Make those after the move, or keep the
    // tape in place (a member of a class that is not moved, or a std::unique_ptr<Tape>).
    Tape(Tape&&) noexcept;
    Tape& operator=(Tape&&) noexcept;
    Tape(const Tape&) = delete;
    Tape& operator=(const Tape&) = delete;
    // True after this tape was moved from (and until another tape is moved into it).
    bool moved_from() const { return moved_.moved; }

    // Threads this tape may use for large products (default: the machine's cores). The pool is
    // owned by the tape and started only when a recorded product is large enough to split.
    void set_threads(int n);
    int threads() const { return threads_; }

    // ---- leaves ---------------------------------------------------------------------------
    // The value is taken by value: pass std::move(data) to hand a large tensor to the tape
    // without a copy.
    Var<T> constant(Matrix<T> value, std::string name = {});
    Var<T> parameter(Matrix<T> value, std::string name = {});

    // ---- ops ------------------------------------------------------------------------------
    // Records op `op` on inputs a (and b for a binary op) with its attribute, checks the shapes
    // (ShapeError naming the op and the shapes) and computes the value at once. The functions of
    // xgrad/var.hpp (`a + b`, `exp(a)`, `sum(a, 0)`, ...) and the methods below all come here.
    // Operands from another tape, or ids not on this one, are a UsageError naming both.
    Var<T> record(OpKind op, Operand<T> a, const Attr& attr = {});
    Var<T> record(OpKind op, Operand<T> a, Operand<T> b, const Attr& attr = {});
    // Records a user-defined op (xgrad::custom<Op>(a[, b]) in xgrad/custom_op.hpp calls this);
    // `op` must outlive the tape (a static object).
    Var<T> record(const CustomOp<T>& op, Operand<T> a);
    Var<T> record(const CustomOp<T>& op, Operand<T> a, Operand<T> b);

    // The original id-based API (each is record() of one op; shapes in xgrad/op_list.hpp).
    Var<T> matmul(Operand<T> a, Operand<T> b);      // [M,K]·[K,N] -> [M,N]
    Var<T> add_bias(Operand<T> a, Operand<T> b);    // [n,m] + [n,1] (to every column) -> [n,m]
    Var<T> relu(Operand<T> x);                      // max(x, 0)
    Var<T> sigmoid(Operand<T> x);                   // 1 / (1 + exp(-x))
    Var<T> bce(Operand<T> p, Operand<T> y);         // -sum(y log p + (1-y) log(1-p)) / m -> [1,1]
    Var<T> sigmoid_bce(Operand<T> z, Operand<T> y); // bce(sigmoid(z), y), computed stably from logits
    Var<T> add(Operand<T> a, Operand<T> b);         // a + b (broadcasting)
    Var<T> mul(Operand<T> a, Operand<T> b);         // a ⊙ b elementwise (broadcasting; e.g. a dropout mask)
    Var<T> tanh(Operand<T> x);                      // tanh(x)
    Var<T> scale(Operand<T> x, double c);           // c · x (c can be changed later: set_scale)
    Var<T> sum(Operand<T> x);                       // sum of all entries -> [1,1]
    Var<T> mean(Operand<T> x);                      // mean of all entries -> [1,1]
    Var<T> sq_norm(Operand<T> x);                   // squared Frobenius norm, sum of x² -> [1,1]
    Var<T> softmax(Operand<T> z);                   // per column: exp(z - max) / sum exp(z - max)
    // Mean over columns of -log softmax(z)[label], z [K,m] logits (K >= 2), computed stably
    // (shifted by each column's max). y is [K,m] (one-hot, or any probability columns) or
    // [1,m] class indices 0..K-1 (a DataError names the first bad label).
    Var<T> softmax_ce(Operand<T> z, Operand<T> y);

    // ---- attributes that may change between replays (no re-recording) -----------------------
    // The factor of a scale node.
    void set_scale(NodeId id, double c);

    // ---- execution ------------------------------------------------------------------------
    // Re-runs every op in order from the current leaf values. A constant's value may have changed
    // shape (set_value with another batch width): every op's shape is derived again from its
    // inputs (a ShapeError names the node and op if they no longer fit) and its buffers follow,
    // growing only past the largest shape seen (a narrower batch, and the widest again, allocate
    // nothing). A parameter must keep its shape (ShapeError).
    void forward();
    // Computes only the nodes `target` depends on (e.g. a prediction without the loss, or a
    // forward pass up to one layer); the other nodes keep their previous values.
    void forward(NodeId target);
    // One reverse pass from a [1,1] node. Only nodes that lie between a parameter and `loss`
    // get gradients; constants (the data) never do. `seed` is d(objective)/d(loss): the
    // parameters get seed · d loss / d param added (a batch done in parts weights each part's
    // mean loss by its share of the columns; 1 is exactly the plain gradient).
    void backward(NodeId loss, T seed = T(1));
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
    // Mutable leaf value: for updating parameters or writing a new batch in place (a constant may
    // be resized; the next forward() follows).
    Matrix<T>& leaf_value(NodeId id);
    // Copies `v` into a leaf. A constant (data, labels) takes v's shape, e.g. a batch of another
    // width, reusing its buffer when it is large enough; a parameter must keep its shape.
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
    NodeId resolve(const Operand<T>& x, const char* op, const Operand<T>* other) const;
    Var<T> add_node(OpKind op, NodeId a, NodeId b, const Attr& attr, const CustomOp<T>* custom = nullptr);
    void run_forward(Node<T>& n);
    void forward_node(std::size_t i);
    void prepare(const Node<T>& n);  // pool and scratch for what a recorded op needs

    int threads_ = 1;
    std::unique_ptr<detail::ThreadPool> pool_;
    std::vector<T> scratch_;

    std::vector<Node<T>> nodes_;
    std::vector<NodeId> parameters_;
    std::vector<char> reach_;  // scratch for backward: node leads to the loss
    bool check_finite_ = false;
    detail::MovedFrom moved_;
    // A shape may differ from what the last complete forward() derived (set_value with another
    // shape, forward(node), a forward() that threw): backward() refuses until forward() has run.
    bool shapes_stale_ = false;
    void sync_leaf(std::size_t i);
    std::string describe(NodeId id) const;
    const char* name_of(const Node<T>& n) const { return n.custom ? n.custom->name : op_name(n.op); }
    [[noreturn]] void report_non_finite(const char* pass, NodeId id, const Matrix<T>& bad,
                                        const char* what) const;
};

extern template class Tape<float>;
extern template class Tape<double>;

template <class T>
Tape<T>& Var<T>::tape() const {
    if (!tape_) throw UsageError("an empty Var (default-constructed) has no tape");
    return *tape_;
}
template <class T>
const Matrix<T>& Var<T>::value() const {
    return tape().value(id_);
}
template <class T>
const Matrix<T>& Var<T>::grad() const {
    return tape().grad(id_);
}
template <class T>
Shape Var<T>::shape() const {
    return tape().shape(id_);
}

}  // namespace xgrad

#include "xgrad/core/var.hpp"
