#include "xgrad/nn/mlp.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include <cmath>

#include "xgrad/nn/random.hpp"

namespace xgrad {

Activation parse_activation(const std::string& name) { return kActivationNames.parse(name); }

const char* activation_name(Activation a) { return kActivationNames.name(a); }

std::size_t parse_layer_size(const std::string& text) {
    const bool digits = !text.empty() && text.size() <= 18 && text.find_first_not_of("0123456789") == std::string::npos;
    const unsigned long long v = digits ? std::stoull(text) : 0;  // 18 digits always fit
    if (v == 0) throw UsageError("'" + text + "' is not a layer size (a positive integer)");
    return std::size_t(v);
}

std::uint64_t training_bytes(const MlpSpec& spec, std::size_t m, std::size_t value_size, int extra_param_copies) {
    // (sizes are bounded by MlpSpec: no term overflows 64 bits)
    std::uint64_t params = 0, units = 0;
    for (std::size_t l = 1; l < spec.dims.size(); ++l) {
        params += std::uint64_t(spec.dims[l]) * (spec.dims[l - 1] + 1);
        units += spec.dims[l];
    }
    const std::uint64_t values = params * std::uint64_t(2 + std::max(extra_param_copies, 0)) + 4 * units * m;
    return values * value_size;
}

void require_memory(const MlpSpec& spec, std::size_t m, std::size_t value_size, int extra_param_copies,
                    const std::string& what) {
    const std::uint64_t need = training_bytes(spec, m, value_size, extra_param_copies), have = available_memory();
    if (have > 0 && need > have)
        throw UsageError(what + " needs at least " + std::to_string(need >> 20) + " MiB, the machine has " +
                         std::to_string(have >> 20) + " MiB available");
}

std::uint64_t available_memory() {
    std::uint64_t have = 0;
    std::ifstream meminfo("/proc/meminfo");
    for (std::string line; std::getline(meminfo, line);)
        if (line.rfind("MemAvailable:", 0) == 0) have = std::strtoull(line.c_str() + 13, nullptr, 10) * 1024;  // kB
    if (have == 0) {
        const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
        if (pages > 0 && page > 0) have = std::uint64_t(pages) * std::uint64_t(page);
    }
    // a process limit (ulimit -v / -d) is as real as the machine's
    for (int resource : {RLIMIT_AS, RLIMIT_DATA}) {
        struct rlimit lim {};
        if (::getrlimit(resource, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
            have = have == 0 ? std::uint64_t(lim.rlim_cur) : std::min<std::uint64_t>(have, lim.rlim_cur);
    }
    return have;
}

Init parse_init(const std::string& name) { return kInitNames.parse(name); }

const char* init_name(Init init) { return kInitNames.name(init); }

namespace {
std::vector<Activation> parse_all(const std::vector<std::string>& names) {
    std::vector<Activation> out;
    for (const auto& n : names) out.push_back(parse_activation(n));
    return out;
}
}  // namespace

MlpSpec::MlpSpec(std::vector<std::size_t> d, std::vector<Activation> a)
    : dims(std::move(d)), activations(std::move(a)) {
    if (dims.size() < 2)
        throw UsageError("layer sizes: need at least two (input and output), got " +
                         std::to_string(dims.size()));
    for (std::size_t i = 0; i < dims.size(); ++i) {
        if (dims[i] == 0) throw UsageError("layer sizes: size " + std::to_string(i) + " is zero");
        if (dims[i] > kMaxLayerSize)
            throw UsageError("layer sizes: size " + std::to_string(i) + " is " + std::to_string(dims[i]) +
                             ", more than " + std::to_string(kMaxLayerSize));
    }
    for (std::size_t l = 1; l < dims.size(); ++l)  // (each factor < 2^24: the product cannot overflow)
        if (dims[l] * dims[l - 1] > kMaxLayerWeights)
            throw UsageError("layer sizes: layer " + std::to_string(l) + " would have " + std::to_string(dims[l]) +
                             " x " + std::to_string(dims[l - 1]) + " weights, more than " +
                             std::to_string(kMaxLayerWeights));
    if (activations.size() != dims.size() - 1)
        throw UsageError("activations: " + std::to_string(dims.size()) + " layer sizes need " +
                         std::to_string(dims.size() - 1) + " activations, got " +
                         std::to_string(activations.size()));
    for (std::size_t l = 0; l + 1 < activations.size(); ++l)
        if (activations[l] == Activation::softmax)
            throw UsageError("activations: softmax is for the output layer only, layer " +
                             std::to_string(l + 1) + " is hidden");
    if (activations.back() != Activation::sigmoid && activations.back() != Activation::softmax)
        throw UsageError(std::string("activations: the output layer must be sigmoid (binary "
                                     "cross-entropy) or softmax (K classes), got ") +
                         activation_name(activations.back()));
    if (activations.back() == Activation::softmax && dims.back() < 2)
        throw UsageError("activations: a softmax output needs at least 2 units, the last layer size is " +
                         std::to_string(dims.back()));
}

MlpSpec::MlpSpec(std::vector<std::size_t> d, const std::vector<std::string>& a)
    : MlpSpec(std::move(d), parse_all(a)) {}

template <class T>
Params<T> init_params(const MlpSpec& spec, Init init, std::uint32_t seed, double scale) {
    NumpyRandom rng(seed);
    Params<T> p;
    for (std::size_t l = 1; l < spec.dims.size(); ++l) {
        const std::size_t rows = spec.dims[l], cols = spec.dims[l - 1];
        Matrix<double> w = init == Init::zeros ? Matrix<double>(xt::zeros<double>({rows, cols}))
                                               : rng.randn(rows, cols);
        // the same arithmetic as numpy: one multiply (or divide) per entry, in double
        if (init == Init::normal) w *= scale;
        if (init == Init::xavier) w /= std::sqrt(double(cols));
        if (init == Init::he) w *= std::sqrt(2.0 / double(cols));
        p.W.push_back(xt::cast<T>(w));
        p.b.push_back(xt::zeros<T>({rows, std::size_t(1)}));
    }
    return p;
}

template <class T>
Params<T> he_init(const MlpSpec& spec, std::uint32_t seed) {
    return init_params<T>(spec, Init::he, seed);
}

template <class T>
Mlp<T>::Mlp(MlpSpec spec, const Params<T>& params, Matrix<T> X, Matrix<T> Y, LossForm form)
    : Mlp(std::move(spec), params, std::move(X), std::move(Y), Regularization{}, form) {}

template <class T>
Mlp<T>::Mlp(MlpSpec spec, const Params<T>& params, Matrix<T> X, Matrix<T> Y, Regularization reg,
            LossForm form, int threads)
    : spec_(std::move(spec)), reg_(std::move(reg)) {
    if (threads > 0) tape_.set_threads(threads);
    const std::size_t L = spec_.layers();
    if (params.W.size() != L || params.b.size() != L)
        throw ShapeError("Mlp: " + std::to_string(L) + " layers need " + std::to_string(L) +
                         " weights and biases, got " + std::to_string(params.W.size()) + " and " +
                         std::to_string(params.b.size()));
    if (X.shape()[0] != spec_.dims[0])
        throw ShapeError("Mlp: the data has " + std::to_string(X.shape()[0]) +
                         " rows per example, the first layer size is " +
                         std::to_string(spec_.dims[0]));
    const std::size_t m = X.shape()[1];
    const bool softmax = spec_.softmax_output();
    const bool label_shape_ok = Y.shape()[1] == m && (Y.shape()[0] == spec_.dims[L] ||
                                                      (softmax && Y.shape()[0] == 1));
    if (!label_shape_ok)
        throw ShapeError("Mlp: labels are " + to_string(shape_of(Y)) + ", expected [" +
                         std::to_string(spec_.dims[L]) + "," + std::to_string(m) + "]" +
                         (softmax ? " (one-hot) or [1," + std::to_string(m) + "] (class indices)" : ""));
    for (std::size_t l = 1; l <= L; ++l) {
        const Shape ws{spec_.dims[l], spec_.dims[l - 1]}, bs{spec_.dims[l], 1};
        if (shape_of(params.W[l - 1]) != ws || shape_of(params.b[l - 1]) != bs)
            throw ShapeError("Mlp: layer " + std::to_string(l) + " needs W " + to_string(ws) +
                             " and b " + to_string(bs) + ", got " +
                             to_string(shape_of(params.W[l - 1])) + " and " +
                             to_string(shape_of(params.b[l - 1])));
    }
    if (softmax && form == LossForm::separate)
        throw UsageError("Mlp: the separate loss form is bce(sigmoid(Z_L)); a softmax output uses "
                         "softmax_ce");
    if (!(reg_.lambd >= 0) || !std::isfinite(reg_.lambd))
        throw UsageError("Mlp: the L2 factor lambd must be >= 0, got " + std::to_string(reg_.lambd));
    if (reg_.keep_prob.size() == 1 && L > 1) reg_.keep_prob.assign(L - 1, reg_.keep_prob[0]);
    if (!reg_.keep_prob.empty() && reg_.keep_prob.size() != L - 1)
        throw UsageError("Mlp: keep_prob needs one value or one per hidden layer (" +
                         std::to_string(L - 1) + "), got " + std::to_string(reg_.keep_prob.size()));
    for (double k : reg_.keep_prob)
        if (!(k > 0 && k <= 1))
            throw UsageError("Mlp: keep_prob must be in (0, 1], got " + std::to_string(k));

    capacity_ = batch_cols_ = m;
    x_ = tape_.constant(std::move(X), "X");
    y_ = tape_.constant(std::move(Y), "Y");
    a_.push_back(x_);
    NodeId input = x_;
    for (std::size_t l = 1; l <= L; ++l) {
        const std::string s = std::to_string(l);
        w_.push_back(tape_.parameter(params.W[l - 1], "W" + s));
        b_.push_back(tape_.parameter(params.b[l - 1], "b" + s));
        const NodeId lin = tape_.matmul(w_.back(), input);
        z_.push_back(tape_.add_bias(lin, b_.back()));
        tape_.set_name(z_.back(), "Z" + s);
        NodeId a = -1;
        switch (spec_.activations[l - 1]) {
            case Activation::relu: a = tape_.relu(z_.back()); break;
            case Activation::sigmoid: a = tape_.sigmoid(z_.back()); break;
            case Activation::tanh: a = tape_.tanh(z_.back()); break;
            case Activation::softmax: a = tape_.softmax(z_.back()); break;
        }
        tape_.set_name(a, "A" + s);
        a_.push_back(a);
        input = a;
        if (l < L && keep_prob(l) < 1) {
            mask_.push_back(tape_.constant(xt::ones<T>({spec_.dims[l], m}), "D" + s));
            input = tape_.mul(a, mask_.back());
            tape_.set_name(input, "A" + s + "·D" + s);
        } else if (l < L) {
            mask_.push_back(-1);
        }
    }
    const NodeId zL = z_.back();
    data_loss_ = softmax ? tape_.softmax_ce(zL, y_)
                 : form == LossForm::fused ? tape_.sigmoid_bce(zL, y_)
                                           : tape_.bce(a_.back(), y_);
    loss_ = data_loss_;
    if (reg_.lambd > 0) {
        NodeId sq = tape_.sq_norm(w_[0]);
        for (std::size_t l = 1; l < L; ++l) sq = tape_.add(sq, tape_.sq_norm(w_[l]));
        l2_ = tape_.scale(sq, reg_.lambd / (2.0 * double(m)));
        tape_.set_name(l2_, "L2");
        loss_ = tape_.add(data_loss_, l2_);
        tape_.set_name(data_loss_, "cross_entropy");
    }
    tape_.set_name(loss_, "cost");
}

template <class T>
NodeId Mlp<T>::mask(std::size_t l) const {
    check_layer(l, false);
    return l < layers() ? mask_[l - 1] : -1;
}

template <class T>
double Mlp<T>::keep_prob(std::size_t l) const {
    check_layer(l, false);
    return l < layers() && !reg_.keep_prob.empty() ? reg_.keep_prob[l - 1] : 1.0;
}

template <class T>
void Mlp<T>::set_batch(const Matrix<T>& X_all, const Matrix<T>& Y_all, const std::size_t* cols,
                       std::size_t n) {
    Matrix<T>& X = tape_.leaf_value(x_);
    Matrix<T>& Y = tape_.leaf_value(y_);
    if (X_all.shape()[0] != X.shape()[0] || Y_all.shape()[0] != Y.shape()[0] ||
        X_all.shape()[1] != Y_all.shape()[1])
        throw ShapeError("set_batch: data " + to_string(shape_of(X_all)) + " and labels " +
                         to_string(shape_of(Y_all)) + " do not fit the network's " +
                         to_string(shape_of(X)) + " and " + to_string(shape_of(Y)));
    if (n == 0) throw UsageError("set_batch: an empty batch");
    const std::size_t m_all = X_all.shape()[1];
    for (std::size_t j = 0; j < n; ++j)
        if (cols[j] >= m_all)
            throw UsageError("set_batch: column " + std::to_string(cols[j]) + " of " +
                             std::to_string(m_all));
    // The batch is n columns wide: the tape's buffers change shape (no allocation up to the widest
    // batch seen) and every op, the losses included, works on exactly these columns.
    auto gather = [&](const Matrix<T>& src, Matrix<T>& dst) {
        const std::size_t rows = dst.shape()[0];
        dst.resize({rows, n});
        for (std::size_t i = 0; i < rows; ++i) {
            const T* s = src.data() + i * m_all;
            T* d = dst.data() + i * n;
            for (std::size_t j = 0; j < n; ++j) d[j] = s[cols[j]];
        }
    };
    gather(X_all, X);
    gather(Y_all, Y);
    adopt_batch_width(n);
}

template <class T>
void Mlp<T>::load_batch(DataSource<T>& source, const std::size_t* cols, std::size_t n) {
    Matrix<T>& X = tape_.leaf_value(x_);
    Matrix<T>& Y = tape_.leaf_value(y_);
    if (source.features() != X.shape()[0] || source.label_rows() != Y.shape()[0])
        throw ShapeError("load_batch: the source's examples have " + std::to_string(source.features()) +
                         " features and " + std::to_string(source.label_rows()) + " label rows, the network " +
                         std::to_string(X.shape()[0]) + " and " + std::to_string(Y.shape()[0]));
    if (n == 0) throw UsageError("load_batch: an empty batch");
    source.fetch(cols, n, X, Y);
    if (shape_of(X) != Shape{source.features(), n} || shape_of(Y) != Shape{source.label_rows(), n})
        throw ShapeError("load_batch: the source gave " + to_string(shape_of(X)) + " and " + to_string(shape_of(Y)) +
                         " for " + std::to_string(n) + " examples");
    adopt_batch_width(n);
}

template <class T>
void Mlp<T>::adopt_batch_width(std::size_t n) {
    for (NodeId d : mask_)
        if (d >= 0) {
            Matrix<T>& D = tape_.leaf_value(d);
            if (D.shape()[1] != n) {
                D.resize({D.shape()[0], n});
                D.fill(T(1));
            }
        }
    batch_cols_ = n;
    capacity_ = std::max(capacity_, n);
    if (l2_ >= 0) tape_.set_scale(l2_, penalty_included_ ? reg_.lambd / (2.0 * double(n)) : 0.0);
}

template <class T>
void Mlp<T>::set_penalty_included(bool on) {
    penalty_included_ = on;
    if (l2_ >= 0) tape_.set_scale(l2_, on ? reg_.lambd / (2.0 * double(batch_cols_)) : 0.0);
}

template <class T>
void Mlp<T>::draw_keep(NumpyRandom& rng, std::size_t width, std::vector<std::vector<std::uint8_t>>& keep) const {
    keep.resize(layers() > 0 ? layers() - 1 : 0);
    for (std::size_t l = 1; l < layers(); ++l) {
        std::vector<std::uint8_t>& k = keep[l - 1];
        if (mask_[l - 1] < 0) {
            k.clear();
            continue;
        }
        const double p = keep_prob(l);
        k.resize(spec_.dims[l] * width);
        for (auto& f : k) f = rng.uniform() < p;
    }
}

template <class T>
void Mlp<T>::set_masks(const std::vector<std::vector<std::uint8_t>>& keep, std::size_t width, std::size_t first) {
    const std::size_t n = batch_cols_;
    if (keep.size() + 1 != layers() || first > width || n > width - first)
        throw UsageError("set_masks: columns " + std::to_string(first) + ".." + std::to_string(first + n) +
                         " of masks for " + std::to_string(keep.size()) + " hidden layers, " + std::to_string(width) +
                         " columns wide");
    for (std::size_t l = 1; l < layers(); ++l) {
        if (mask_[l - 1] < 0) continue;
        const std::vector<std::uint8_t>& k = keep[l - 1];
        const std::size_t rows = spec_.dims[l];
        if (k.size() != rows * width)
            throw UsageError("set_masks: layer " + std::to_string(l) + " has " + std::to_string(k.size()) +
                             " flags, not " + std::to_string(rows) + " x " + std::to_string(width));
        const T on = T(1.0 / keep_prob(l));
        Matrix<T>& D = tape_.leaf_value(mask_[l - 1]);
        for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t j = 0; j < n; ++j) D(i, j) = k[i * width + first + j] ? on : T(0);
    }
}

template <class T>
void Mlp<T>::draw_masks(NumpyRandom& rng) {
    for (std::size_t l = 1; l < layers(); ++l) {
        if (mask_[l - 1] < 0) continue;
        const double keep = keep_prob(l);
        const T on = T(1.0 / keep);
        Matrix<T>& D = tape_.leaf_value(mask_[l - 1]);
        for (T& d : D) d = rng.uniform() < keep ? on : T(0);
    }
}

template <class T>
void Mlp<T>::dropout_off() {
    for (NodeId d : mask_)
        if (d >= 0) tape_.leaf_value(d).fill(T(1));
}

template <class T>
std::size_t Mlp<T>::check_layer(std::size_t l, bool allow_zero) const {
    if ((l == 0 && !allow_zero) || l > layers())
        throw UsageError("Mlp: layer " + std::to_string(l) + " does not exist (layers are 1.." +
                         std::to_string(layers()) + ")");
    return l;
}

template <class T>
NodeId Mlp<T>::W(std::size_t l) const { return w_[check_layer(l, false) - 1]; }
template <class T>
NodeId Mlp<T>::b(std::size_t l) const { return b_[check_layer(l, false) - 1]; }
template <class T>
NodeId Mlp<T>::Z(std::size_t l) const { return z_[check_layer(l, false) - 1]; }
template <class T>
NodeId Mlp<T>::A(std::size_t l) const { return a_[check_layer(l, true)]; }

template <class T>
T Mlp<T>::train_step(T learning_rate) {
    tape_.forward();
    tape_.zero_grad();
    tape_.backward(loss_);
    for (NodeId p : tape_.parameters()) {
        Matrix<T>& v = tape_.leaf_value(p);
        const Matrix<T>& g = tape_.grad(p);
        T* pv = v.data();
        const T* pg = g.data();
        for (std::size_t i = 0, n = v.size(); i < n; ++i) pv[i] -= learning_rate * pg[i];
    }
    return cost();
}

template <class T>
T Mlp<T>::evaluate() {
    dropout_off();
    tape_.forward();
    return cost();
}

namespace {
// Column j's class: the row with the largest value (first on ties); a [1,m] row holds indices.
template <class T>
std::size_t column_class(const Matrix<T>& a, std::size_t j) {
    const std::size_t rows = a.shape()[0];
    if (rows == 1) return std::size_t(a(0, j));
    std::size_t best = 0;
    for (std::size_t i = 1; i < rows; ++i)
        if (a(i, j) > a(best, j)) best = i;
    return best;
}

// Correct fraction of the first `cols` columns. Sigmoid outputs: every entry rounded; softmax:
// the argmax of each column against the label's class.
template <class T>
double fraction_correct(const Matrix<T>& proba, const Matrix<T>& Y, bool softmax, std::size_t cols) {
    if (proba.shape()[1] != Y.shape()[1] || (!softmax && shape_of(proba) != shape_of(Y)))
        throw ShapeError("accuracy: predictions are " + to_string(shape_of(proba)) +
                         ", labels are " + to_string(shape_of(Y)));
    std::size_t hits = 0, total = 0;
    for (std::size_t j = 0; j < cols; ++j) {
        if (softmax) {
            hits += column_class(proba, j) == column_class(Y, j);
            ++total;
            continue;
        }
        for (std::size_t i = 0; i < proba.shape()[0]; ++i) {
            hits += (proba(i, j) > T(0.5) ? T(1) : T(0)) == Y(i, j);
            ++total;
        }
    }
    return double(hits) / double(total);
}
}  // namespace

template <class T>
double Mlp<T>::accuracy() {
    evaluate();
    return fraction_correct(tape_.value(a_.back()), tape_.value(y_), spec_.softmax_output(),
                            batch_cols_);
}

template <class T>
Params<T> Mlp<T>::params() const {
    Params<T> p;
    for (std::size_t l = 1; l <= layers(); ++l) {
        p.W.push_back(tape_.value(W(l)));
        p.b.push_back(tape_.value(b(l)));
    }
    return p;
}

template <class T>
Matrix<T> Mlp<T>::predict_proba(const Matrix<T>& X) const {
    if (X.shape()[0] != spec_.dims[0])
        throw ShapeError("predict: the data has " + std::to_string(X.shape()[0]) +
                         " rows per example, the network's input size is " +
                         std::to_string(spec_.dims[0]));
    Tape<T> t;
    t.set_threads(tape_.threads());  // the network's threads (--threads 1 means one)
    NodeId a = t.constant(X);
    for (std::size_t l = 1; l <= layers(); ++l) {
        const NodeId z = t.add_bias(t.matmul(t.constant(tape_.value(W(l))), a),
                                    t.constant(tape_.value(b(l))));
        switch (spec_.activations[l - 1]) {
            case Activation::relu: a = t.relu(z); break;
            case Activation::sigmoid: a = t.sigmoid(z); break;
            case Activation::tanh: a = t.tanh(z); break;
            case Activation::softmax: a = t.softmax(z); break;
        }
    }
    return t.value(a);
}

template <class T>
Matrix<T> Mlp<T>::predict(const Matrix<T>& X) const {
    Matrix<T> p = predict_proba(X);
    if (spec_.softmax_output()) {
        Matrix<T> classes = Matrix<T>::from_shape({1, p.shape()[1]});
        for (std::size_t j = 0; j < p.shape()[1]; ++j) classes(0, j) = T(column_class(p, j));
        return classes;
    }
    for (auto& v : p) v = v > T(0.5) ? T(1) : T(0);
    return p;
}

template <class T>
double Mlp<T>::accuracy(const Matrix<T>& X, const Matrix<T>& Y) const {
    return fraction_correct(predict_proba(X), Y, spec_.softmax_output(), X.shape()[1]);
}

template Params<float> init_params<float>(const MlpSpec&, Init, std::uint32_t, double);
template Params<double> init_params<double>(const MlpSpec&, Init, std::uint32_t, double);
template Params<float> he_init<float>(const MlpSpec&, std::uint32_t);
template Params<double> he_init<double>(const MlpSpec&, std::uint32_t);
template class Mlp<float>;
template class Mlp<double>;

}  // namespace xgrad
