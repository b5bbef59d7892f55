#include "xgrad/core/tape.hpp"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <sstream>
#include <thread>

#include "ops/ops.hpp"
#include "thread_pool.hpp"

namespace xgrad {

std::string to_string(const Shape& s) {
    return "[" + std::to_string(s.rows) + "," + std::to_string(s.cols) + "]";
}

std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << to_string(s); }
std::ostream& operator<<(std::ostream& os, OpKind op) { return os << op_name(op); }

namespace ops {
void shape_error(const char* op, const char* what, Shape a, Shape b) {
    throw ShapeError(std::string(op) + ": " + what + ": A is " + to_string(a) + ", B is " +
                     to_string(b));
}

[[noreturn]] void shape_error(const char* op, const std::string& what, Shape a) {
    throw ShapeError(std::string(op) + ": " + what + ": A is " + to_string(a));
}

// The op table, generated from XGRAD_OPS: every op's OpInfo, and its shape rule, forward and
// backward for T.
namespace {
const OpInfo* const kInfos[] = {
#define XGRAD_OP_INFO(name, api) &name##_info,
    XGRAD_OPS(XGRAD_OP_INFO)
#undef XGRAD_OP_INFO
};
constexpr std::size_t kFirstOp = kFirstBuiltinOp;
static_assert(sizeof(kInfos) / sizeof(kInfos[0]) + kFirstOp == std::size_t(OpKind::count_),
              "one OpInfo per op");
}  // namespace

const OpInfo& info(OpKind op) {
    const auto i = std::size_t(op);
    if (i < kFirstOp || i >= std::size_t(OpKind::count_))
        throw UsageError(std::string("ops::info: ") + op_name(op) + " is not an op");
    return *kInfos[i - kFirstOp];
}

}  // namespace ops

namespace {

constexpr const char* kOpNames[] = {"constant", "parameter", "custom",
#define XGRAD_OP_NAME(name, api) #name,
                                    XGRAD_OPS(XGRAD_OP_NAME)
#undef XGRAD_OP_NAME
};
static_assert(sizeof(kOpNames) / sizeof(kOpNames[0]) == std::size_t(OpKind::count_),
              "every OpKind needs a name");

template <class T>
struct OpTable {
    Shape (*shape)(Shape, Shape, const Attr&);
    void (*forward)(const ops::Ctx<T>&, const Matrix<T>&, const Matrix<T>*, Matrix<T>&);
    void (*backward)(const ops::Ctx<T>&, const Matrix<T>&, const Matrix<T>*, const Matrix<T>&,
                     const Matrix<T>&, Matrix<T>*, Matrix<T>*);
};

template <class T>
const OpTable<T>& op_table(OpKind op) {
    static constexpr OpTable<T> kTable[] = {
        {nullptr, nullptr, nullptr},  // constant
        {nullptr, nullptr, nullptr},  // parameter
        {nullptr, nullptr, nullptr},  // custom: Node::custom
#define XGRAD_OP_ROW(name, api) {ops::name##_shape, ops::name##_forward<T>, ops::name##_backward<T>},
        XGRAD_OPS(XGRAD_OP_ROW)
#undef XGRAD_OP_ROW
    };
    static_assert(sizeof(kTable) / sizeof(kTable[0]) == std::size_t(OpKind::count_), "one row per op");
    return kTable[std::size_t(op)];
}

bool is_leaf(OpKind op) { return op == OpKind::constant || op == OpKind::parameter; }

// The attribute fields an op uses, for print() and to_dot(): " c=0.5", " axis=0 [2,5)", ...
std::string attr_text(OpKind op, const Attr& a, const char* sep) {
    const unsigned uses = ops::info(op).attrs;
    std::ostringstream os;
    if (uses & ops::uses_scalar) os << sep << "c=" << a.scalar;
    if (uses & ops::uses_axis) os << sep << "axis=" << a.axis;
    if (uses & ops::uses_range) os << sep << "[" << a.begin << "," << a.end << ")";
    return os.str();
}

}  // namespace

const char* op_name(OpKind op) {
    const auto i = std::size_t(op);
    return i < std::size_t(OpKind::count_) ? kOpNames[i] : "?";
}

namespace {
template <class T>
bool all_finite(const Matrix<T>& m) {
    const T* p = m.data();
    bool ok = true;
    for (std::size_t i = 0, n = m.size(); i < n; ++i) ok &= std::isfinite(p[i]);
    return ok;
}

// "[min, max]" over the finite entries, and how many are NaN / Inf.
template <class T>
std::string range_of(const Matrix<T>& m) {
    double lo = INFINITY, hi = -INFINITY;
    std::size_t nan = 0, inf = 0;
    for (T v : m) {
        if (std::isnan(v)) ++nan;
        else if (std::isinf(v)) ++inf;
        else {
            lo = std::min(lo, double(v));
            hi = std::max(hi, double(v));
        }
    }
    std::ostringstream os;
    os.precision(4);
    const std::size_t cols = m.shape()[1];
    for (std::size_t k = 0; k < m.size(); ++k)
        if (!std::isfinite(m.data()[k])) {
            os << "first at (" << k / cols << "," << k % cols << ") = " << m.data()[k] << "; ";
            break;
        }
    if (lo <= hi) os << "range [" << lo << ", " << hi << "]";
    else os << "no finite value";
    if (nan) os << ", " << nan << " nan";
    if (inf) os << ", " << inf << " inf";
    return os.str();
}
}  // namespace

template <class T>
Tape<T>::Tape() {
    const unsigned hw = std::thread::hardware_concurrency();
    threads_ = hw == 0 ? 1 : int(hw);
}
template <class T>
Tape<T>::~Tape() = default;
template <class T>
Tape<T>::Tape(Tape&&) noexcept = default;
template <class T>
Tape<T>& Tape<T>::operator=(Tape&&) noexcept = default;

template <class T>
void Tape<T>::set_threads(int n) {
    if (n < 1) throw UsageError("set_threads: need at least one thread, got " + std::to_string(n));
    threads_ = n;
    pool_.reset();
    scratch_.clear();
    for (const auto& node : nodes_)
        if (!is_leaf(node.op)) prepare(node);
}

template <class T>
void Tape<T>::prepare(const Node<T>& n) {
    if (n.custom) return;
    const auto needs = ops::info(n.op).needs;
    if (!needs) return;
    const Shape sb = n.in1 >= 0 ? nodes_[std::size_t(n.in1)].shape : Shape{};
    const ops::Needs got = needs(nodes_[std::size_t(n.in0)].shape, sb, n.attr, threads_);
    if (got.pool && !pool_) pool_ = std::make_unique<detail::ThreadPool>(threads_);
    if (scratch_.size() < got.scratch) scratch_.resize(got.scratch);
}

template <class T>
const Node<T>& Tape<T>::checked(NodeId id, const char* what) const {
    if (moved_.moved)
        throw UsageError(std::string(what) + ": node " + std::to_string(id) +
                         " is on a tape that has been moved from (std::move gave its nodes to "
                         "another Tape); make Vars, Optimizers and networks on a tape after moving "
                         "it, or do not move it");
    if (id < 0 || std::size_t(id) >= nodes_.size())
        throw UsageError(std::string(what) + ": node " + std::to_string(id) +
                         " is not on this tape (it has " + std::to_string(nodes_.size()) +
                         " nodes)");
    return nodes_[std::size_t(id)];
}

namespace {
std::string tape_label(const void* tape, std::size_t nodes) {
    std::ostringstream os;
    os << "tape " << tape << " (" << nodes << " nodes)";
    return os.str();
}
}  // namespace

template <class T>
NodeId Tape<T>::resolve(const Operand<T>& x, const char* op, const Operand<T>* other) const {
    if (x.tape && x.tape != this) {
        std::string msg = std::string(op) + ": operands from two different tapes: %" + std::to_string(x.id) +
                          " is on " + tape_label(x.tape, x.tape->size());
        if (other) {
            msg += ", %" + std::to_string(other->id) + " on " +
                   tape_label(other->tape ? other->tape : this,
                              other->tape ? other->tape->size() : nodes_.size());
        } else {
            msg += ", the op is recorded on " + tape_label(this, nodes_.size());
        }
        throw UsageError(msg);
    }
    if (x.id < 0 || std::size_t(x.id) >= nodes_.size())
        throw UsageError(std::string(op) + ": node %" + std::to_string(x.id) + " is not on " +
                         tape_label(this, nodes_.size()) +
                         (other ? " (the other operand is %" + std::to_string(other->id) + ")" : ""));
    return x.id;
}

template <class T>
const Node<T>& Tape<T>::node(NodeId id) const {
    return checked(id, "node");
}

template <class T>
Var<T> Tape<T>::constant(Matrix<T> value, std::string name) {
    if (value.size() == 0)
        throw ShapeError("constant: empty tensor " + to_string(shape_of(value)));
    Node<T> n;
    n.op = OpKind::constant;
    n.name = std::move(name);
    n.shape = shape_of(value);
    n.value = std::move(value);
    nodes_.push_back(std::move(n));
    return {*this, NodeId(nodes_.size() - 1)};
}

template <class T>
Var<T> Tape<T>::parameter(Matrix<T> value, std::string name) {
    if (value.size() == 0)
        throw ShapeError("parameter: empty tensor " + to_string(shape_of(value)));
    Node<T> n;
    n.op = OpKind::parameter;
    n.name = std::move(name);
    n.requires_grad = true;
    n.shape = shape_of(value);
    n.grad = xt::zeros<T>(value.shape());
    n.value = std::move(value);
    nodes_.push_back(std::move(n));
    const NodeId id = NodeId(nodes_.size() - 1);
    parameters_.push_back(id);
    return {*this, id};
}

template <class T>
Var<T> Tape<T>::record(OpKind op, Operand<T> a, const Attr& attr) {
    const char* name = op_name(op);
    if (is_leaf(op) || op == OpKind::custom || std::size_t(op) >= std::size_t(OpKind::count_))
        throw UsageError(std::string("record: ") + name + " is not an op");
    if (ops::info(op).arity != 1)
        throw UsageError(std::string("record: ") + name + " takes two inputs, got one");
    return add_node(op, resolve(a, name, nullptr), -1, attr);
}

template <class T>
Var<T> Tape<T>::record(OpKind op, Operand<T> a, Operand<T> b, const Attr& attr) {
    const char* name = op_name(op);
    if (is_leaf(op) || op == OpKind::custom || std::size_t(op) >= std::size_t(OpKind::count_))
        throw UsageError(std::string("record: ") + name + " is not an op");
    if (ops::info(op).arity != 2)
        throw UsageError(std::string("record: ") + name + " takes one input, got two");
    const NodeId ia = resolve(a, name, &b);
    const NodeId ib = resolve(b, name, &a);
    return add_node(op, ia, ib, attr);
}

template <class T>
Var<T> Tape<T>::record(const CustomOp<T>& op, Operand<T> a) {
    if (op.arity != 1)
        throw UsageError(std::string("record: custom op ") + op.name + " takes two inputs, got one");
    return add_node(OpKind::custom, resolve(a, op.name, nullptr), -1, {}, &op);
}

template <class T>
Var<T> Tape<T>::record(const CustomOp<T>& op, Operand<T> a, Operand<T> b) {
    if (op.arity != 2)
        throw UsageError(std::string("record: custom op ") + op.name + " takes one input, got two");
    const NodeId ia = resolve(a, op.name, &b);
    const NodeId ib = resolve(b, op.name, &a);
    return add_node(OpKind::custom, ia, ib, {}, &op);
}

template <class T>
Var<T> Tape<T>::add_node(OpKind op, NodeId a, NodeId b, const Attr& attr, const CustomOp<T>* custom) {
    // a leaf input whose value changed shape since the last forward (set_value, leaf_value)
    for (NodeId in : {a, b})
        if (in >= 0 && is_leaf(nodes_[std::size_t(in)].op)) sync_leaf(std::size_t(in));
    Node<T> n;
    n.op = op;
    n.attr = attr;
    n.custom = custom;
    n.in0 = a;
    n.in1 = b;
    const Shape sa = nodes_[std::size_t(a)].shape;
    const Shape sb = b >= 0 ? nodes_[std::size_t(b)].shape : Shape{};
    n.shape = custom ? custom->shape(sa, sb) : op_table<T>(op).shape(sa, sb, attr);
    n.requires_grad = nodes_[std::size_t(a)].requires_grad ||
                      (b >= 0 && nodes_[std::size_t(b)].requires_grad);
    prepare(n);
    n.value = Matrix<T>::from_shape({n.shape.rows, n.shape.cols});
    if (n.requires_grad) n.grad = xt::zeros<T>(n.value.shape());
    nodes_.push_back(std::move(n));
    const NodeId id = NodeId(nodes_.size() - 1);
    try {
        run_forward(nodes_.back());
        if (check_finite_ && !all_finite(nodes_.back().value))
            report_non_finite("record", id, nodes_.back().value, "the value");
    } catch (...) {
        // a failed op leaves no half-recorded node behind
        nodes_.pop_back();
        throw;
    }
    return {*this, id};
}

template <class T>
void Tape<T>::run_forward(Node<T>& n) {
    const Matrix<T>* b = n.in1 >= 0 ? &nodes_[std::size_t(n.in1)].value : nullptr;
    if (n.custom) return n.custom->forward(nodes_[std::size_t(n.in0)].value, b, n.value);
    op_table<T>(n.op).forward({pool_.get(), scratch_.data(), n.attr}, nodes_[std::size_t(n.in0)].value, b,
                              n.value);
}

#define XGRAD_BINARY(name)                                         \
    template <class T>                                             \
    Var<T> Tape<T>::name(Operand<T> a, Operand<T> b) {             \
        return record(OpKind::name, a, b);                         \
    }
#define XGRAD_UNARY(name)                                          \
    template <class T>                                             \
    Var<T> Tape<T>::name(Operand<T> a) {                           \
        return record(OpKind::name, a);                            \
    }
XGRAD_BINARY(matmul)
XGRAD_BINARY(add_bias)
XGRAD_BINARY(bce)
XGRAD_BINARY(sigmoid_bce)
XGRAD_BINARY(add)
XGRAD_BINARY(mul)
XGRAD_BINARY(softmax_ce)
XGRAD_UNARY(relu)
XGRAD_UNARY(sigmoid)
XGRAD_UNARY(tanh)
XGRAD_UNARY(sum)
XGRAD_UNARY(mean)
XGRAD_UNARY(sq_norm)
XGRAD_UNARY(softmax)
#undef XGRAD_BINARY
#undef XGRAD_UNARY

template <class T>
Var<T> Tape<T>::scale(Operand<T> x, double c) {
    Attr at;
    at.scalar = c;
    return record(OpKind::scale, x, at);
}

template <class T>
void Tape<T>::set_scale(NodeId id, double c) {
    const Node<T>& n = checked(id, "set_scale");
    if (n.op != OpKind::scale)
        throw UsageError("set_scale: node " + std::to_string(id) + " is " + name_of(n) +
                         ", not scale");
    nodes_[std::size_t(id)].attr.scalar = c;
}

template <class T>
std::string Tape<T>::describe(NodeId id) const {
    const Node<T>& n = nodes_[std::size_t(id)];
    return "%" + std::to_string(id) + " (" + name_of(n) + (n.name.empty() ? "" : " \"" + n.name + "\"") +
           ") " + to_string(n.shape);
}

template <class T>
void Tape<T>::report_non_finite(const char* pass, NodeId id, const Matrix<T>& bad,
                                const char* what) const {
    const Node<T>& n = nodes_[std::size_t(id)];
    std::string msg = std::string(pass) + ": " + what + " of node " + describe(id) + " is not finite (" +
                      range_of(bad) + ")";
    if (!is_leaf(n.op)) {
        msg += "; inputs: " + describe(n.in0) + " " + range_of(nodes_[std::size_t(n.in0)].value);
        if (n.in1 >= 0) msg += ", " + describe(n.in1) + " " + range_of(nodes_[std::size_t(n.in1)].value);
    }
    throw NumericError(msg);
}

// One node of a forward pass. A leaf: a constant takes the shape of its (possibly new) value; a
// parameter keeps its recorded shape (its gradient and the optimisers' state have it). An op: its
// shape is derived again from its inputs' (a ShapeError names the node and the op when they no
// longer fit); its buffers change shape within their capacity, so they grow only past the widest
// batch seen and never allocate for a narrower one.
template <class T>
void Tape<T>::sync_leaf(std::size_t i) {
    Node<T>& n = nodes_[i];
    const Shape now = shape_of(n.value);
    if (now == n.shape) return;
    if (n.op == OpKind::parameter)
        throw ShapeError("forward: parameter " + describe(NodeId(i)) + " is now " + to_string(now) +
                         " (a parameter keeps its shape)");
    if (n.value.size() == 0) throw ShapeError("forward: constant " + describe(NodeId(i)) + " is now empty");
    n.shape = now;
    shapes_stale_ = true;
}

template <class T>
void Tape<T>::forward_node(std::size_t i) {
    Node<T>& n = nodes_[i];
    if (is_leaf(n.op)) return sync_leaf(i);
    const Shape sa = nodes_[std::size_t(n.in0)].shape;
    const Shape sb = n.in1 >= 0 ? nodes_[std::size_t(n.in1)].shape : Shape{};
    Shape s;
    try {
        s = n.custom ? n.custom->shape(sa, sb) : op_table<T>(n.op).shape(sa, sb, n.attr);
    } catch (const ShapeError& e) {
        throw ShapeError("forward: node %" + std::to_string(i) + ": " + e.what());
    }
    if (s != n.shape) {
        shapes_stale_ = true;
        // the buffers first: if one cannot grow, the node keeps its old shape and buffers
        n.value.resize({s.rows, s.cols});
        if (n.requires_grad) n.grad.resize({s.rows, s.cols});
        n.shape = s;
    }
    prepare(n);
    run_forward(n);
    if (check_finite_ && !all_finite(n.value)) report_non_finite("forward", NodeId(i), n.value, "the value");
}

template <class T>
void Tape<T>::forward() {
    shapes_stale_ = true;  // until every node has been derived again
    for (std::size_t i = 0; i < nodes_.size(); ++i) forward_node(i);
    shapes_stale_ = false;
}

template <class T>
void Tape<T>::forward(NodeId target) {
    checked(target, "forward");
    // the nodes `target` depends on: one reverse sweep (the tape is topologically ordered)
    reach_.assign(nodes_.size(), 0);
    reach_[std::size_t(target)] = 1;
    for (std::size_t i = std::size_t(target) + 1; i-- > 0;) {
        const Node<T>& n = nodes_[i];
        if (!reach_[i] || is_leaf(n.op)) continue;
        reach_[std::size_t(n.in0)] = 1;
        if (n.in1 >= 0) reach_[std::size_t(n.in1)] = 1;
    }
    // (a shape changed here leaves the other nodes behind: shapes_stale_ until a full forward())
    for (std::size_t i = 0; i <= std::size_t(target); ++i)
        if (reach_[i]) forward_node(i);
}

template <class T>
void Tape<T>::backward(NodeId loss, T seed) {
    const Node<T>& l = checked(loss, "backward");
    if (shape_of(l.value) != Shape{1, 1})
        throw ShapeError("backward: the loss must be a scalar [1,1], node " + std::to_string(loss) +
                         " (" + name_of(l) + ") is " + to_string(shape_of(l.value)));
    if (!l.requires_grad)
        throw UsageError("backward: node " + std::to_string(loss) + " (" + name_of(l) +
                         ") does not depend on any parameter");
    bool stale = shapes_stale_;
    for (const Node<T>& n : nodes_) stale = stale || (is_leaf(n.op) && shape_of(n.value) != n.shape);
    if (stale)
        throw UsageError("backward: shapes changed since the last complete forward() (data of another "
                         "width, forward(node), or a forward() that failed): run forward() first");

    // Which nodes lead to the loss: one reverse sweep (the tape is topologically ordered).
    reach_.assign(nodes_.size(), 0);
    reach_[std::size_t(loss)] = 1;
    for (std::size_t i = std::size_t(loss) + 1; i-- > 0;) {
        const Node<T>& n = nodes_[i];
        if (!reach_[i] || !n.requires_grad || is_leaf(n.op)) continue;
        reach_[std::size_t(n.in0)] = 1;
        if (n.in1 >= 0) reach_[std::size_t(n.in1)] = 1;
    }
    // Intermediate gradients start from zero on every pass; parameter gradients accumulate.
    for (auto& n : nodes_)
        if (n.requires_grad && n.op != OpKind::parameter) n.grad.fill(T(0));
    if (l.op == OpKind::parameter)
        nodes_[std::size_t(loss)].grad(0, 0) += seed;  // a parameter's gradient accumulates
    else
        nodes_[std::size_t(loss)].grad.fill(seed);

    for (std::size_t i = std::size_t(loss) + 1; i-- > 0;) {
        Node<T>& n = nodes_[i];
        if (!reach_[i] || !n.requires_grad || is_leaf(n.op)) continue;
        Node<T>& a = nodes_[std::size_t(n.in0)];
        Node<T>* b = n.in1 >= 0 ? &nodes_[std::size_t(n.in1)] : nullptr;
        Matrix<T>* ga = a.requires_grad ? &a.grad : nullptr;
        Matrix<T>* gb = b && b->requires_grad ? &b->grad : nullptr;
        if (n.custom)
            n.custom->backward(a.value, b ? &b->value : nullptr, n.value, n.grad, ga, gb);
        else
            op_table<T>(n.op).backward({pool_.get(), scratch_.data(), n.attr}, a.value, b ? &b->value : nullptr,
                                       n.value, n.grad, ga, gb);
        if (check_finite_) {
            // the op that made it, with the gradient that reached it
            if (ga && !all_finite(*ga))
                report_non_finite("backward", n.in0, *ga, ("the gradient (from " + describe(NodeId(i)) +
                                                           ", incoming " + range_of(n.grad) + ")").c_str());
            if (gb && !all_finite(*gb))
                report_non_finite("backward", n.in1, *gb, ("the gradient (from " + describe(NodeId(i)) +
                                                           ", incoming " + range_of(n.grad) + ")").c_str());
        }
    }
}

template <class T>
void Tape<T>::zero_grad() {
    for (NodeId p : parameters_) nodes_[std::size_t(p)].grad.fill(T(0));
}

template <class T>
const Matrix<T>& Tape<T>::value(NodeId id) const {
    return checked(id, "value").value;
}

template <class T>
Matrix<T>& Tape<T>::leaf_value(NodeId id) {
    const Node<T>& n = checked(id, "leaf_value");
    if (!is_leaf(n.op))
        throw UsageError("leaf_value: node " + std::to_string(id) + " is an op (" +
                         name_of(n) + "), its value is computed");
    return nodes_[std::size_t(id)].value;
}

template <class T>
void Tape<T>::set_value(NodeId id, const Matrix<T>& v) {
    Matrix<T>& dst = leaf_value(id);
    const Node<T>& n = nodes_[std::size_t(id)];
    if (n.op == OpKind::parameter && shape_of(dst) != shape_of(v))
        throw ShapeError("set_value: parameter " + describe(id) + " keeps its shape, the new value is " +
                         to_string(shape_of(v)));
    if (v.size() == 0) throw ShapeError("set_value: node " + describe(id) + ": empty value " + to_string(shape_of(v)));
    // a constant may change shape (another batch width): within the buffer's capacity, no allocation
    if (shape_of(dst) != shape_of(v)) dst.resize({v.shape()[0], v.shape()[1]});
    std::copy(v.begin(), v.end(), dst.begin());
    sync_leaf(std::size_t(id));
}

template <class T>
const Matrix<T>& Tape<T>::grad(NodeId id) const {
    const Node<T>& n = checked(id, "grad");
    if (!n.requires_grad)
        throw UsageError("grad: node " + std::to_string(id) + " (" + name_of(n) +
                         ") has no gradient: nothing it depends on is a parameter");
    return n.grad;
}

template <class T>
Matrix<T>& Tape<T>::param_grad(NodeId id) {
    const Node<T>& n = checked(id, "param_grad");
    if (n.op != OpKind::parameter)
        throw UsageError("param_grad: node " + std::to_string(id) + " is not a parameter");
    return nodes_[std::size_t(id)].grad;
}

template <class T>
void Tape<T>::set_name(NodeId id, std::string name) {
    checked(id, "set_name");
    nodes_[std::size_t(id)].name = std::move(name);
}

template <class T>
void Tape<T>::print(std::ostream& os) const {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
        const Node<T>& n = nodes_[i];
        os << '%' << i << " = " << name_of(n);
        if (n.in0 >= 0) os << " %" << n.in0;
        if (n.in1 >= 0) os << " %" << n.in1;
        os << "  " << to_string(shape_of(n.value)) << (n.requires_grad ? "  grad" : "");
        if (!is_leaf(n.op) && !n.custom) os << attr_text(n.op, n.attr, "  ");
        if (!n.name.empty()) os << "  \"" << n.name << '"';
        os << '\n';
    }
}

template <class T>
std::string Tape<T>::to_dot() const {
    std::ostringstream os;
    os << "digraph tape {\n  rankdir=BT;\n  node [shape=box, fontname=\"monospace\"];\n";
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
        const Node<T>& n = nodes_[i];
        os << "  n" << i << " [label=\"%" << i << " " << name_of(n);
        if (!n.name.empty()) os << " " << n.name;
        if (!is_leaf(n.op) && !n.custom) os << attr_text(n.op, n.attr, " ");
        os << "\\n" << to_string(shape_of(n.value)) << (n.requires_grad ? "\\nneeds grad" : "")
           << "\"";
        if (n.op == OpKind::parameter)
            os << ", style=filled, fillcolor=\"#ffe4b5\"";
        else if (n.op == OpKind::constant)
            os << ", style=filled, fillcolor=\"#e0e0e0\"";
        else if (n.requires_grad)
            os << ", color=\"#1f77b4\"";
        os << "];\n";
        if (n.in0 >= 0) os << "  n" << n.in0 << " -> n" << i << ";\n";
        if (n.in1 >= 0) os << "  n" << n.in1 << " -> n" << i << ";\n";
    }
    os << "}\n";
    return os.str();
}

template class Tape<float>;
template class Tape<double>;

}  // namespace xgrad
