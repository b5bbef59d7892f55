#include "xgrad/nn/train.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
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
    if (c.threads < 0) throw UsageError("threads must be 0 (every core) or more, got " + std::to_string(c.threads));
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

// ---- groups ---------------------------------------------------------------------------------

template <class T>
void sum_gradients(Collective<T>& group, Tape<T>& tape, const std::vector<NodeId>& params, T* extra, std::size_t k,
                   std::vector<T>& buffer) {
    std::size_t total = k;
    for (NodeId p : params) total += tape.grad(p).size();
    if (buffer.size() != total) buffer.resize(total);
    T* at = buffer.data();
    for (NodeId p : params) at = std::copy(tape.grad(p).begin(), tape.grad(p).end(), at);
    std::copy(extra, extra + k, at);
    group.sum(buffer.data(), total);
    at = buffer.data();
    for (NodeId p : params) {
        Matrix<T>& g = tape.param_grad(p);
        std::copy(at, at + g.size(), g.begin());
        at += g.size();
    }
    std::copy(at, at + k, extra);
}

// ---- Trainer --------------------------------------------------------------------------------

namespace {
std::size_t batch_size(std::size_t requested, std::size_t m) {
    return requested == 0 || requested >= m ? m : requested;
}

const TrainConfig& validated(const TrainConfig& c) {
    validate(c);
    return c;
}

template <class T>
std::shared_ptr<DataSource<T>> checked_source(std::shared_ptr<DataSource<T>> s) {
    if (!s) throw UsageError("Trainer: no data source");
    if (s->examples() == 0) throw UsageError("Trainer: the data source has no examples");
    return s;
}

// The widest part a process computes: its share of a batch (process 0's is the largest), at most
// a chunk. The tape's buffers are made this wide at once.
std::size_t widest_part(std::size_t batch, std::size_t chunk, int processes) {
    return std::max<std::size_t>(1, std::min(chunk, share_of(batch, 0, processes).count));
}

template <class T>
std::size_t chunk_for(const TrainConfig& c, const DataSource<T>* s, std::size_t batch, std::size_t m) {
    if (c.chunk_columns > 0) return c.chunk_columns;
    // a streamed full batch in the source's chunks, so that memory does not grow with m; a
    // mini-batch whole (its size bounds the memory), as in memory: the same results bit for bit
    if (s && s->streams() && batch == m && s->chunk_columns() > 0) return s->chunk_columns();
    return std::numeric_limits<std::size_t>::max();
}
}  // namespace

template <class T>
Trainer<T>::Trainer(const MlpSpec& spec, const Params<T>& init, Matrix<T> X, Matrix<T> Y, TrainConfig config)
    : config_(validated(config)),
      source_(batch_size(config_.mini_batch_size, X.shape()[1]) == X.shape()[1] && config_.chunk_columns == 0
                  ? nullptr
                  : std::make_shared<MemorySource<T>>(std::move(X), std::move(Y))),
      m_(source_ ? source_->examples() : X.shape()[1]),
      batch_(batch_size(config_.mini_batch_size, m_)),
      chunk_(chunk_for<T>(config_, source_.get(), batch_, m_)),
      net_(spec, init,
           source_ ? Matrix<T>(xt::zeros<T>({source_->features(), widest_part(batch_, chunk_, 1)})) : std::move(X),
           source_ ? Matrix<T>(xt::zeros<T>({source_->label_rows(), widest_part(batch_, chunk_, 1)})) : std::move(Y),
           config_.reg, LossForm::fused, config_.threads),
      opt_(net_.tape(), config_.optimizer),
      dropout_rng_(config_.dropout_seed),
      order_(m_) {
    std::iota(order_.begin(), order_.end(), std::size_t(0));
}

template <class T>
Trainer<T>::Trainer(const MlpSpec& spec, const Params<T>& init, std::shared_ptr<DataSource<T>> data,
                    TrainConfig config, Collective<T>* group)
    : config_(validated(config)),
      source_(checked_source(std::move(data))),
      group_(group),
      m_(source_->examples()),
      batch_(batch_size(config_.mini_batch_size, m_)),
      chunk_(chunk_for<T>(config_, source_.get(), batch_, m_)),
      net_(spec, init,
           Matrix<T>(xt::zeros<T>({source_->features(), widest_part(batch_, chunk_, group ? group->size() : 1)})),
           Matrix<T>(xt::zeros<T>({source_->label_rows(), widest_part(batch_, chunk_, group ? group->size() : 1)})),
           config_.reg, LossForm::fused, config_.threads),
      opt_(net_.tape(), config_.optimizer),
      dropout_rng_(config_.dropout_seed),
      order_(m_) {
    if (group_ && (group_->size() < 1 || group_->rank() < 0 || group_->rank() >= group_->size()))
        throw UsageError("Trainer: a group of " + std::to_string(group_->size()) + " processes with rank " +
                         std::to_string(group_->rank()));
    std::iota(order_.begin(), order_.end(), std::size_t(0));
    if (group_) check_group_agrees();
}

namespace {
// FNV-1a over the bits of a tape's parameter values (and the optimiser's moments), in 2 parts of
// 26 bits: sums of such values and of their squares are exact in a double.
template <class T>
std::uint64_t params_hash(const Tape<T>& tape, const std::vector<NodeId>& params, const std::vector<Matrix<T>>& v,
                          const std::vector<Matrix<T>>& s) {
    std::uint64_t h = 1469598103934665603ull;
    auto add = [&](const Matrix<T>& a) {
        const unsigned char* b = reinterpret_cast<const unsigned char*>(a.data());
        for (std::size_t i = 0, n = a.size() * sizeof(T); i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
    };
    for (NodeId p : params) add(tape.value(p));
    for (const auto& a : v) add(a);
    for (const auto& a : s) add(a);
    return h;
}
}  // namespace

template <class T>
void Trainer<T>::check_group_agrees() {
    const std::uint64_t h = params_hash(net_.tape(), opt_.parameters(), opt_.first_moments(), opt_.second_moments());
    const std::uint64_t rng = std::hash<std::string>{}(dropout_rng_.state());
    const std::size_t capped_chunk = std::min<std::size_t>(chunk_, std::size_t(1) << 40);
    const std::pair<const char*, double> facts[] = {
        {"examples", double(m_)},
        {"features", double(source_->features())},
        {"label rows", double(source_->label_rows())},
        {"batch", double(batch_)},
        {"chunk", double(capped_chunk)},
        {"epoch", double(epoch_)},
        {"optimiser steps", double(opt_.steps())},
        {"parameters (a hash)", double(h & 0x3FFFFFF)},
        {"parameters (a hash) ", double((h >> 26) & 0x3FFFFFF)},
        {"dropout generator state (a hash)", double(rng & 0x3FFFFFF)},
        {"learning rate", config_.optimizer.learning_rate},
        {"value size", double(sizeof(T))},
    };
    constexpr std::size_t k = sizeof facts / sizeof facts[0];
    T sums[2 * k];
    for (std::size_t i = 0; i < k; ++i) {
        sums[i] = T(facts[i].second);
        sums[k + i] = T(facts[i].second) * T(facts[i].second);
    }
    sum_over_group(sums, 2 * k, false);
    const T n = T(group_->size());
    for (std::size_t i = 0; i < k; ++i) {
        const T mine = T(facts[i].second);
        // all equal <=> the sum is n·v and the sum of squares n·v² for each process's v; a relative
        // slack for the rounding of the sums
        const T tol = T(1e-6) * (std::abs(sums[i]) + T(1));
        const T mean = sums[i] / n, var = sums[k + i] / n - mean * mean;
        if (std::abs(sums[i] - n * mine) > tol || var > T(1e-6) * (mean * mean + T(1)))
            throw UsageError(std::string("Trainer: the processes of the group differ in their ") + facts[i].first +
                             " (this one's: " + std::to_string(facts[i].second) +
                             "): every process must train on the same data, options and starting point");
    }
}

template <class T>
double Trainer<T>::current_learning_rate() const {
    return decayed_learning_rate(config_.optimizer.learning_rate, config_.decay, epoch_,
                                 config_.decay_interval);
}

template <class T>
void Trainer<T>::set_epoch_order(long long epoch) {
    if (full_batch()) return;  // the columns in their order, nothing drawn
    if (next_order_epoch_ == epoch) {
        order_.swap(next_order_);
        next_order_epoch_ = -1;
        return;
    }
    NumpyRandom rng(std::uint32_t(config_.shuffle_seed + std::uint64_t(epoch)));
    order_ = rng.permutation(m_);
}

template <class T>
void Trainer<T>::parts_of(std::size_t n, std::vector<Part>& out) const {
    out.clear();
    const Share s = group_ ? share_of(n, group_->rank(), group_->size()) : Share{0, n};
    for (std::size_t b = 0; b < s.count; b += chunk_) out.push_back({s.begin + b, std::min(chunk_, s.count - b)});
}

template <class T>
void Trainer<T>::load(const std::size_t* cols, std::size_t n) {
    if (loaded_.size() == n && std::equal(cols, cols + n, loaded_.begin())) return;
    loaded_.clear();  // (a failed fetch leaves the tape's data unknown)
    net_.load_batch(*source_, cols, n);
    loaded_.assign(cols, cols + n);
}

template <class T>
void Trainer<T>::sum_over_group(T* extra, std::size_t k, bool with_gradients) {
    static const std::vector<NodeId> none;
    sum_gradients(*group_, net_.tape(), with_gradients ? opt_.parameters() : none, extra, k, reduce_buffer_);
}

template <class T>
double Trainer<T>::step(const std::size_t* cols, std::size_t n, const std::size_t* next_cols, std::size_t next_n,
                        const std::function<void(std::size_t)>& after_part) {
    const bool dropout = !config_.reg.keep_prob.empty();
    Tape<T>& tape = net_.tape();
    if (resident()) {  // the tape holds the batch
        if (dropout) net_.draw_masks(dropout_rng_);
        tape.forward();
        opt_.zero_grad();
        tape.backward(net_.loss());
        const double cost = double(net_.cost());
        opt_.step();
        if (after_part) after_part(n);
        return cost;
    }
    parts_of(n, parts_);
    // One undivided batch: as the resident path. In parts: the whole batch's masks are drawn,
    // each part's loss (its mean) is weighted by its share of the columns, and the L2 penalty is
    // counted once (in process 0's first part, which always exists).
    const bool whole = !group_ && parts_.size() == 1;
    if (dropout && !whole) net_.draw_keep(dropout_rng_, n, keep_);
    opt_.zero_grad();
    double cost = 0;
    std::string anomaly;  // a NumericError of this process's parts, thrown after the group's sum
    for (std::size_t k = 0; k < parts_.size() && anomaly.empty(); ++k) {
        const Part& p = parts_[k];
        load(cols + p.begin, p.count);
        // the source may read the next part (of this batch, or of the next one) meanwhile
        if (k + 1 < parts_.size()) {
            source_->prefetch(cols + parts_[k + 1].begin, parts_[k + 1].count);
        } else if (next_n > 0) {
            const Share s = group_ ? share_of(next_n, group_->rank(), group_->size()) : Share{0, next_n};
            if (s.count > 0) source_->prefetch(next_cols + s.begin, std::min(chunk_, s.count));
        }
        net_.set_penalty_included(p.begin == 0);
        if (dropout) whole ? net_.draw_masks(dropout_rng_) : net_.set_masks(keep_, n, p.begin);
        const double weight = whole ? 1.0 : double(p.count) / double(n);
        try {
            tape.forward();
            tape.backward(net_.loss(), T(weight));
        } catch (const NumericError& e) {
            if (!group_) throw;
            anomaly = e.what();
            break;
        }
        cost += whole ? double(net_.cost()) : weight * double(net_.cost());
        if (after_part) after_part(p.begin + p.count);
    }
    if (group_) {
        // the cost and how many processes met an anomaly, in the one sum of the step
        T extra[2] = {T(cost), T(anomaly.empty() ? 0 : 1)};
        sum_over_group(extra, 2, true);
        cost = double(extra[0]);
        if (!anomaly.empty()) throw NumericError(anomaly);
        if (extra[1] > T(0))
            throw NumericError("another process of the job met a non-finite value (the anomaly check); its "
                               "line says where");
    }
    opt_.step();
    return cost;
}

template <class T>
double Trainer<T>::epoch(const std::function<void(double)>& on_step) {
    opt_.set_learning_rate(current_learning_rate());
    set_epoch_order(epoch_);
    double weighted = 0;
    for (std::size_t start = 0; start < m_; start += batch_) {
        const std::size_t n = std::min(batch_, m_ - start);
        // the next batch, for a source that reads ahead (the next epoch's order is drawn now
        // when this is the last batch)
        const std::size_t next = start + n;
        const std::size_t* next_cols = nullptr;
        std::size_t next_n = 0;
        if (resident()) {
        } else if (next < m_) {
            next_cols = order_.data() + next;
            next_n = std::min(batch_, m_ - next);
        } else if (full_batch()) {
            next_cols = order_.data();
            next_n = n;
        } else {
            NumpyRandom rng(std::uint32_t(config_.shuffle_seed + std::uint64_t(epoch_ + 1)));
            next_order_ = rng.permutation(m_);
            next_order_epoch_ = epoch_ + 1;
            next_cols = next_order_.data();
            next_n = std::min(batch_, m_);
        }
        std::function<void(std::size_t)> after_part;
        if (progress_) after_part = [&](std::size_t done) { progress_(start + done, m_); };
        const double cost = step(order_.data() + start, n, next_cols, next_n, after_part);
        weighted += cost * double(n);
        if (on_step) on_step(cost);
    }
    ++epoch_;
    return weighted / double(m_);
}

template <class T>
Evaluation Trainer<T>::evaluate() {
    Evaluation e;
    if (resident()) {
        net_.evaluate();
        e.cost = double(net_.cost());
        e.accuracy = net_.accuracy();
        return e;
    }
    // in the data's own order, batch by batch (each in this process's parts), then the penalty
    // once with m = all examples
    std::vector<std::size_t> seq(batch_);
    std::vector<Part> parts;
    double sums[2] = {0, 0};  // cross-entropy and hits, weighted by columns
    net_.set_penalty_included(true);
    for (std::size_t start = 0; start < m_; start += batch_) {
        const std::size_t n = std::min(batch_, m_ - start);
        std::iota(seq.begin(), seq.begin() + std::ptrdiff_t(n), start);
        parts_of(n, parts);
        for (const Part& p : parts) {
            load(seq.data() + p.begin, p.count);
            sums[1] += net_.accuracy() * double(p.count);  // runs the forward pass, dropout off
            sums[0] += double(net_.tape().value(net_.data_loss())(0, 0)) * double(p.count);
        }
    }
    if (group_) {
        T extra[2] = {T(sums[0]), T(sums[1])};
        sum_over_group(extra, 2, false);
        sums[0] = double(extra[0]);
        sums[1] = double(extra[1]);
    }
    double sq = 0;
    for (std::size_t l = 1; l <= net_.layers(); ++l)
        for (T w : net_.tape().value(net_.W(l))) sq += double(w) * double(w);
    e.cost = sums[0] / double(m_) + config_.reg.lambd / (2.0 * double(m_)) * sq;
    e.accuracy = sums[1] / double(m_);
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
    for (std::size_t i = 0; i < s.second_moments.size(); ++i)
        for (const T v : s.second_moments[i])
            if (!(v >= 0))
                throw DataError("restore: second moment " + std::to_string(i) + " holds " + std::to_string(double(v)) +
                                ", not a number >= 0 (an average of squares)");
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
    if (group_) check_group_agrees();
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

void ProgressLine::update_part(long long done, std::size_t examples, std::size_t per_unit) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double seen = double(done) * double(per_unit) + double(examples);
    const double rate = secs > 0 ? seen / secs : 0;
    const double eta = rate > 0 ? (double(total_) * double(per_unit) - seen) / rate : 0;
    std::printf("\r  %s %lld/%lld  examples %zu/%zu  %.0f ex/s  ETA %.1fs\033[K", unit_.c_str(), done + 1, total_,
                examples, per_unit, rate, eta);
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
    if (begin > order.size() || n > order.size() - begin)
        throw UsageError("gather_columns: columns " + std::to_string(begin) + ".." + std::to_string(begin + n) +
                         " of an order of " + std::to_string(order.size()));
    gather_columns(all, order.data() + begin, n, dst);
}

namespace {
// The loop of both minibatch_epoch: load(b, n) puts batch columns order[b, b + n) into x and y.
template <class T, class Load>
double minibatch_loop(Tape<T>& tape, NodeId loss, Optimizer<T>& opt, const std::vector<std::size_t>& order,
                      std::size_t batch, Load&& load) {
    const std::size_t m = order.size();
    if (batch == 0) throw UsageError("minibatch_epoch: a batch of 0 columns");
    if (m == 0) throw UsageError("minibatch_epoch: an empty order (no examples)");
    double total = 0;
    for (std::size_t b = 0; b < m; b += batch) {
        const std::size_t n = std::min(batch, m - b);
        load(b, n);
        tape.forward();
        opt.zero_grad();
        tape.backward(loss);
        opt.step();
        total += double(tape.value(loss)(0, 0)) * double(n);
    }
    return total / double(m);
}
}  // namespace

template <class T>
double minibatch_epoch(Tape<T>& tape, NodeId x, NodeId y, NodeId loss, Optimizer<T>& opt, const Matrix<T>& X,
                       const Matrix<T>& Y, const std::vector<std::size_t>& order, std::size_t batch) {
    if (X.shape()[1] != Y.shape()[1])
        throw UsageError("minibatch_epoch: X has " + std::to_string(X.shape()[1]) + " columns, Y " +
                         std::to_string(Y.shape()[1]));
    return minibatch_loop(tape, loss, opt, order, batch, [&](std::size_t b, std::size_t n) {
        gather_columns(tape, x, X, order, b, n);
        gather_columns(tape, y, Y, order, b, n);
    });
}

template <class T>
double minibatch_epoch(Tape<T>& tape, NodeId x, NodeId y, NodeId loss, Optimizer<T>& opt, DataSource<T>& data,
                       const std::vector<std::size_t>& order, std::size_t batch) {
    return minibatch_loop(tape, loss, opt, order, batch, [&](std::size_t b, std::size_t n) {
        data.fetch(order.data() + b, n, tape.leaf_value(x), tape.leaf_value(y));
        const std::size_t next = b + n;  // the source may read the next batch meanwhile
        if (next < order.size()) data.prefetch(order.data() + next, std::min(batch, order.size() - next));
    });
}

template void gather_columns(Tape<float>&, NodeId, const Matrix<float>&, const std::vector<std::size_t>&,
                             std::size_t, std::size_t);
template void gather_columns(Tape<double>&, NodeId, const Matrix<double>&, const std::vector<std::size_t>&,
                             std::size_t, std::size_t);
template double minibatch_epoch(Tape<float>&, NodeId, NodeId, NodeId, Optimizer<float>&, const Matrix<float>&,
                                const Matrix<float>&, const std::vector<std::size_t>&, std::size_t);
template double minibatch_epoch(Tape<double>&, NodeId, NodeId, NodeId, Optimizer<double>&, const Matrix<double>&,
                                const Matrix<double>&, const std::vector<std::size_t>&, std::size_t);

template void sum_gradients(Collective<float>&, Tape<float>&, const std::vector<NodeId>&, float*, std::size_t,
                            std::vector<float>&);
template void sum_gradients(Collective<double>&, Tape<double>&, const std::vector<NodeId>&, double*, std::size_t,
                            std::vector<double>&);
template double minibatch_epoch(Tape<float>&, NodeId, NodeId, NodeId, Optimizer<float>&, DataSource<float>&,
                                const std::vector<std::size_t>&, std::size_t);
template double minibatch_epoch(Tape<double>&, NodeId, NodeId, NodeId, Optimizer<double>&, DataSource<double>&,
                                const std::vector<std::size_t>&, std::size_t);
template class Optimizer<float>;
template class Optimizer<double>;
template class Trainer<float>;
template class Trainer<double>;

}  // namespace xgrad
