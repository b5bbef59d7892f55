#include "xgrad/nn/train.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace xgrad {

OptimizerKind parse_optimizer(const std::string& name) { return kOptimizerNames.parse(name); }

const char* optimizer_name(OptimizerKind kind) { return kOptimizerNames.name(kind); }

namespace {
void check_rate(double lr) {
    if (!(lr > 0) || !std::isfinite(lr))
        throw UsageError("learning rate must be a finite number > 0, got " + std::to_string(lr));
}
void check_beta(const char* name, double b) {
    if (!(b >= 0 && b < 1))
        throw UsageError(std::string(name) + " must be in [0, 1), got " + std::to_string(b));
}
}  // namespace

void validate(const OptimizerConfig& c) {
    check_rate(c.learning_rate);
    check_beta("beta", c.beta);
    check_beta("beta1", c.beta1);
    check_beta("beta2", c.beta2);
    if (!(c.epsilon > 0) || !std::isfinite(c.epsilon))
        throw UsageError("epsilon must be a finite number > 0, got " + std::to_string(c.epsilon));
}

void validate(const TrainConfig& c) {
    validate(c.optimizer);
    if (!(c.decay >= 0) || !std::isfinite(c.decay))
        throw UsageError("decay must be a finite number >= 0, got " + std::to_string(c.decay));
    if (c.decay_interval < 1)
        throw UsageError("decay interval must be at least 1 epoch, got " +
                         std::to_string(c.decay_interval));
}

double decayed_learning_rate(double lr, double decay, long long epoch, long long interval) {
    if (interval < 1) interval = 1;
    return lr / (1.0 + decay * double(epoch / interval));
}

// ---- Optimizer ------------------------------------------------------------------------------

template <class T>
Optimizer<T>::Optimizer(Tape<T>& tape, OptimizerConfig config)
    : Optimizer(tape, tape.parameters(), config) {}

template <class T>
Optimizer<T>::Optimizer(Tape<T>& tape, std::vector<NodeId> params, OptimizerConfig config)
    : tape_(&tape), params_(std::move(params)), config_(config) {
    validate(config_);
    for (NodeId p : params_) {
        if (tape.node(p).op != OpKind::parameter)
            throw UsageError("Optimizer: node " + std::to_string(p) + " is " +
                             op_name(tape.node(p).op) + ", not a parameter");
        const auto shape = tape.value(p).shape();
        if (config_.kind != OptimizerKind::gd) v_.push_back(xt::zeros<T>(shape));
        if (config_.kind == OptimizerKind::adam) s_.push_back(xt::zeros<T>(shape));
    }
}

template <class T>
void Optimizer<T>::check_tape() const {
    if (tape_->moved_from())
        throw UsageError("Optimizer: the tape it was made on has been moved from (std::move gave its "
                         "nodes to another Tape); make the Optimizer on the tape where it now is, after "
                         "the move");
}

template <class T>
void Optimizer<T>::zero_grad() {
    check_tape();
    for (NodeId p : params_) tape_->param_grad(p).fill(T(0));
}

template <class T>
void Optimizer<T>::set_learning_rate(double lr) {
    check_rate(lr);
    config_.learning_rate = lr;
}

template <class T>
void Optimizer<T>::step() {
    check_tape();
    ++t_;
    const T lr = T(config_.learning_rate);
    for (std::size_t k = 0; k < params_.size(); ++k) {
        T* p = tape_->leaf_value(params_[k]).data();
        const Matrix<T>& grad = tape_->param_grad(params_[k]);
        const T* g = grad.data();
        const std::size_t n = grad.size();
        switch (config_.kind) {
            case OptimizerKind::gd:
                for (std::size_t i = 0; i < n; ++i) p[i] -= lr * g[i];
                break;
            case OptimizerKind::momentum: {
                const T b = T(config_.beta), nb = T(1.0 - config_.beta);
                T* v = v_[k].data();
                for (std::size_t i = 0; i < n; ++i) {
                    v[i] = b * v[i] + nb * g[i];
                    p[i] -= lr * v[i];
                }
                break;
            }
            case OptimizerKind::adam: {
                const T b1 = T(config_.beta1), nb1 = T(1.0 - config_.beta1);
                const T b2 = T(config_.beta2), nb2 = T(1.0 - config_.beta2);
                // bias corrections in double, as numpy computes beta**t
                const T c1 = T(1.0 - std::pow(config_.beta1, double(t_)));
                const T c2 = T(1.0 - std::pow(config_.beta2, double(t_)));
                const T eps = T(config_.epsilon);
                T* v = v_[k].data();
                T* s = s_[k].data();
                for (std::size_t i = 0; i < n; ++i) {
                    v[i] = b1 * v[i] + nb1 * g[i];
                    s[i] = b2 * s[i] + nb2 * (g[i] * g[i]);
                    const T vh = v[i] / c1, sh = s[i] / c2;
                    p[i] -= lr * vh / (std::sqrt(sh) + eps);
                }
                break;
            }
        }
    }
}

// ---- Trainer --------------------------------------------------------------------------------

namespace {
template <class T>
Matrix<T> first_columns(const Matrix<T>& a, std::size_t n) {
    Matrix<T> out = Matrix<T>::from_shape({a.shape()[0], n});
    const std::size_t m = a.shape()[1];
    for (std::size_t i = 0; i < a.shape()[0]; ++i)
        for (std::size_t j = 0; j < n; ++j) out(i, j) = a.data()[i * m + j];
    return out;
}

std::size_t batch_size(std::size_t requested, std::size_t m) {
    return requested == 0 || requested >= m ? m : requested;
}

const TrainConfig& validated(const TrainConfig& c) {
    validate(c);
    return c;
}
}  // namespace

template <class T>
Trainer<T>::Trainer(const MlpSpec& spec, const Params<T>& init, Matrix<T> X, Matrix<T> Y,
                    TrainConfig config)
    : config_(validated(config)),
      m_(X.shape()[1]),
      batch_(batch_size(config_.mini_batch_size, m_)),
      X_all_(batch_ == m_ ? Matrix<T>() : std::move(X)),
      Y_all_(batch_ == m_ ? Matrix<T>() : std::move(Y)),
      net_(spec, init, batch_ == m_ ? std::move(X) : first_columns(X_all_, batch_),
           batch_ == m_ ? std::move(Y) : first_columns(Y_all_, batch_), config_.reg),
      opt_(net_.tape(), config_.optimizer),
      dropout_rng_(config_.dropout_seed),
      order_(m_) {
    if (!full_batch() && Y_all_.shape()[1] != m_)
        throw ShapeError("Trainer: " + std::to_string(m_) + " examples but " +
                         std::to_string(Y_all_.shape()[1]) + " label columns");
    std::iota(order_.begin(), order_.end(), std::size_t(0));
}

template <class T>
double Trainer<T>::current_learning_rate() const {
    return decayed_learning_rate(config_.optimizer.learning_rate, config_.decay, epoch_,
                                 config_.decay_interval);
}

template <class T>
void Trainer<T>::set_epoch_order(long long epoch) {
    if (full_batch()) return;  // the columns in their order, nothing drawn
    NumpyRandom rng(std::uint32_t(config_.shuffle_seed + std::uint64_t(epoch)));
    order_ = rng.permutation(m_);
}

template <class T>
double Trainer<T>::epoch(const std::function<void(double)>& on_step) {
    opt_.set_learning_rate(current_learning_rate());
    set_epoch_order(epoch_);
    const bool dropout = !config_.reg.keep_prob.empty();
    double weighted = 0;
    for (std::size_t start = 0; start < m_; start += batch_) {
        const std::size_t n = std::min(batch_, m_ - start);
        if (!full_batch()) net_.set_batch(X_all_, Y_all_, order_.data() + start, n);
        if (dropout) net_.draw_masks(dropout_rng_);
        Tape<T>& tape = net_.tape();
        tape.forward();
        opt_.zero_grad();
        tape.backward(net_.loss());
        const double cost = double(net_.cost());
        opt_.step();
        weighted += cost * double(n);
        if (on_step) on_step(cost);
    }
    ++epoch_;
    return weighted / double(m_);
}

template <class T>
Evaluation Trainer<T>::evaluate() {
    Evaluation e;
    if (full_batch()) {
        net_.evaluate();
        e.cost = double(net_.cost());
        e.accuracy = net_.accuracy();
        return e;
    }
    // in the data's own order, batch by batch, then the penalty once with m = all examples
    std::vector<std::size_t> seq(batch_);
    double ce = 0, hits = 0;
    for (std::size_t start = 0; start < m_; start += batch_) {
        const std::size_t n = std::min(batch_, m_ - start);
        std::iota(seq.begin(), seq.begin() + std::ptrdiff_t(n), start);
        net_.set_batch(X_all_, Y_all_, seq.data(), n);
        hits += net_.accuracy() * double(n);  // runs the forward pass, dropout off
        ce += double(net_.tape().value(net_.data_loss())(0, 0)) * double(n);
    }
    double sq = 0;
    for (std::size_t l = 1; l <= net_.layers(); ++l)
        for (T w : net_.tape().value(net_.W(l))) sq += double(w) * double(w);
    e.cost = ce / double(m_) + config_.reg.lambd / (2.0 * double(m_)) * sq;
    e.accuracy = hits / double(m_);
    return e;
}

template <class T>
TrainerState<T> Trainer<T>::state() const {
    TrainerState<T> s;
    s.epoch = epoch_;
    s.steps = opt_.steps();
    s.params = net_.params();
    s.first_moments = opt_.first_moments();
    s.second_moments = opt_.second_moments();
    s.dropout_rng = dropout_rng_.state();
    return s;
}

template <class T>
void Trainer<T>::restore(const TrainerState<T>& s) {
    const std::size_t L = net_.layers();
    if (s.params.W.size() != L || s.params.b.size() != L)
        throw ShapeError("restore: the state has " + std::to_string(s.params.W.size()) +
                         " layers, the network " + std::to_string(L));
    auto same_shapes = [](const std::vector<Matrix<T>>& a, const std::vector<Matrix<T>>& b) {
        if (a.size() != b.size()) return false;
        for (std::size_t i = 0; i < a.size(); ++i)
            if (shape_of(a[i]) != shape_of(b[i])) return false;
        return true;
    };
    if (!same_shapes(s.first_moments, opt_.first_moments()) ||
        !same_shapes(s.second_moments, opt_.second_moments()))
        throw ShapeError(std::string("restore: the optimiser state does not fit a ") +
                         optimizer_name(opt_.config().kind) + " optimiser of this network");
    for (std::size_t l = 1; l <= L; ++l)
        if (shape_of(s.params.W[l - 1]) != net_.tape().shape(net_.W(l)) ||
            shape_of(s.params.b[l - 1]) != net_.tape().shape(net_.b(l)))
            throw ShapeError("restore: layer " + std::to_string(l) + " of the state is W " +
                             to_string(shape_of(s.params.W[l - 1])) + ", b " +
                             to_string(shape_of(s.params.b[l - 1])) + "; the network has W " +
                             to_string(net_.tape().shape(net_.W(l))) + ", b " +
                             to_string(net_.tape().shape(net_.b(l))));
    if (s.epoch < 0 || s.steps < 0)
        throw ShapeError("restore: negative epoch or step count");
    NumpyRandom rng;
    rng.set_state(s.dropout_rng);
    Tape<T>& tape = net_.tape();
    for (std::size_t l = 1; l <= L; ++l) {
        tape.set_value(net_.W(l), s.params.W[l - 1]);
        tape.set_value(net_.b(l), s.params.b[l - 1]);
    }
    for (std::size_t i = 0; i < s.first_moments.size(); ++i) opt_.first_moments()[i] = s.first_moments[i];
    for (std::size_t i = 0; i < s.second_moments.size(); ++i) opt_.second_moments()[i] = s.second_moments[i];
    opt_.set_steps(s.steps);
    dropout_rng_ = rng;
    epoch_ = s.epoch;
}

// ---- the loop of a training program ---------------------------------------------------------

ProgressLine::ProgressLine(bool enabled, long long total, std::string unit)
    : enabled_(enabled), total_(total), unit_(std::move(unit)), start_(std::chrono::steady_clock::now()) {}

void ProgressLine::update(long long done, double cost) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (done < total_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? double(done) / secs : 0;
    const double eta = rate > 0 ? double(total_ - done) / rate : 0;
    std::printf("\r  %s %lld/%lld  cost %.6f  %.1f it/s  ETA %.1fs\033[K", unit_.c_str(), done, total_, cost,
                rate, eta);
    std::fflush(stdout);
    shown_ = true;
}

void ProgressLine::clear() {
    if (!enabled_ || !shown_) return;
    std::printf("\r\033[K");
    shown_ = false;
}

EpochLoopResult run_epochs(long long first, const std::function<double(long long)>& epoch, const EpochLoop& o) {
    EpochLoopResult r;
    ProgressLine progress(o.progress, o.epochs, o.unit);
    const auto start = std::chrono::steady_clock::now();
    r.epochs_done = first;
    for (long long e = first; e < o.epochs; ++e) {
        double cost = 0;
        try {
            cost = epoch(e);
            if (!std::isfinite(cost))
                throw NumericError(o.cost_name + " is " + (std::isnan(cost) ? "nan" : "inf"));
            if (o.after) o.after(e, cost);
        } catch (const NumericError& err) {
            progress.clear();
            r.stopped = true;
            r.error = err.what();
            break;
        }
        r.epochs_done = e + 1;
        if (o.print && o.print_every > 0 && e % o.print_every == 0) {
            progress.clear();
            o.print(e, cost);
        }
        progress.update(e + 1, cost);
    }
    progress.clear();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
}

// ---- mini-batches on a graph of one's own -----------------------------------------------------

template <class T>
void gather_columns(Tape<T>& tape, NodeId leaf, const Matrix<T>& all, const std::vector<std::size_t>& order,
                    std::size_t begin, std::size_t n) {
    Matrix<T>& dst = tape.leaf_value(leaf);
    const std::size_t rows = all.shape()[0], m = all.shape()[1];
    if (begin > order.size() || n > order.size() - begin)
        throw UsageError("gather_columns: columns " + std::to_string(begin) + ".." + std::to_string(begin + n) +
                         " of an order of " + std::to_string(order.size()));
    const std::size_t* idx = order.data() + begin;
    for (std::size_t j = 0; j < n; ++j)
        if (idx[j] >= m)
            throw UsageError("gather_columns: the order names column " + std::to_string(idx[j]) + " of a matrix of " +
                             std::to_string(m) + " columns");
    if (dst.shape()[0] != rows || dst.shape()[1] != n) dst.resize({rows, n});
    for (std::size_t i = 0; i < rows; ++i) {
        const T* src = all.data() + i * m;
        T* d = dst.data() + i * n;
        for (std::size_t j = 0; j < n; ++j) d[j] = src[idx[j]];
    }
}

template <class T>
double minibatch_epoch(Tape<T>& tape, NodeId x, NodeId y, NodeId loss, Optimizer<T>& opt, const Matrix<T>& X,
                       const Matrix<T>& Y, const std::vector<std::size_t>& order, std::size_t batch) {
    const std::size_t m = order.size();
    if (batch == 0) throw UsageError("minibatch_epoch: a batch of 0 columns");
    if (m == 0) throw UsageError("minibatch_epoch: an empty order (no examples)");
    if (X.shape()[1] != Y.shape()[1])
        throw UsageError("minibatch_epoch: X has " + std::to_string(X.shape()[1]) + " columns, Y " +
                         std::to_string(Y.shape()[1]));
    double total = 0;
    for (std::size_t b = 0; b < m; b += batch) {
        const std::size_t n = std::min(batch, m - b);
        gather_columns(tape, x, X, order, b, n);
        gather_columns(tape, y, Y, order, b, n);
        tape.forward();
        opt.zero_grad();
        tape.backward(loss);
        opt.step();
        total += double(tape.value(loss)(0, 0)) * double(n);
    }
    return total / double(m);
}

template void gather_columns(Tape<float>&, NodeId, const Matrix<float>&, const std::vector<std::size_t>&,
                             std::size_t, std::size_t);
template void gather_columns(Tape<double>&, NodeId, const Matrix<double>&, const std::vector<std::size_t>&,
                             std::size_t, std::size_t);
template double minibatch_epoch(Tape<float>&, NodeId, NodeId, NodeId, Optimizer<float>&, const Matrix<float>&,
                                const Matrix<float>&, const std::vector<std::size_t>&, std::size_t);
template double minibatch_epoch(Tape<double>&, NodeId, NodeId, NodeId, Optimizer<double>&, const Matrix<double>&,
                                const Matrix<double>&, const std::vector<std::size_t>&, std::size_t);

template class Optimizer<float>;
template class Optimizer<double>;
template class Trainer<float>;
template class Trainer<double>;

}  // namespace xgrad
