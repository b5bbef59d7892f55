#include "xgrad/mlp.hpp"

#include <cmath>

#include "xgrad/random.hpp"

namespace xgrad {

Activation parse_activation(const std::string& name) {
    if (name == "relu") return Activation::relu;
    if (name == "sigmoid") return Activation::sigmoid;
    throw UsageError("unknown activation '" + name + "' (expected relu or sigmoid)");
}

const char* activation_name(Activation a) { return a == Activation::relu ? "relu" : "sigmoid"; }

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
    for (std::size_t i = 0; i < dims.size(); ++i)
        if (dims[i] == 0)
            throw UsageError("layer sizes: size " + std::to_string(i) + " is zero");
    if (activations.size() != dims.size() - 1)
        throw UsageError("activations: " + std::to_string(dims.size()) + " layer sizes need " +
                         std::to_string(dims.size() - 1) + " activations, got " +
                         std::to_string(activations.size()));
    if (activations.back() != Activation::sigmoid)
        throw UsageError(std::string("activations: the output layer must be sigmoid for binary "
                                     "cross-entropy, got ") +
                         activation_name(activations.back()));
}

MlpSpec::MlpSpec(std::vector<std::size_t> d, const std::vector<std::string>& a)
    : MlpSpec(std::move(d), parse_all(a)) {}

template <class T>
Params<T> he_init(const MlpSpec& spec, std::uint32_t seed) {
    NumpyRandom rng(seed);
    Params<T> p;
    for (std::size_t l = 1; l < spec.dims.size(); ++l) {
        const double scale = std::sqrt(2.0 / double(spec.dims[l - 1]));
        Matrix<double> w = rng.randn(spec.dims[l], spec.dims[l - 1]);
        w *= scale;
        p.W.push_back(xt::cast<T>(w));
        p.b.push_back(xt::zeros<T>({spec.dims[l], std::size_t(1)}));
    }
    return p;
}

template <class T>
Mlp<T>::Mlp(MlpSpec spec, const Params<T>& params, Matrix<T> X, Matrix<T> Y,
            LossForm form)
    : spec_(std::move(spec)) {
    const std::size_t L = spec_.layers();
    if (params.W.size() != L || params.b.size() != L)
        throw ShapeError("Mlp: " + std::to_string(L) + " layers need " + std::to_string(L) +
                         " weights and biases, got " + std::to_string(params.W.size()) + " and " +
                         std::to_string(params.b.size()));
    if (X.shape()[0] != spec_.dims[0])
        throw ShapeError("Mlp: the data has " + std::to_string(X.shape()[0]) +
                         " rows per example, the first layer size is " +
                         std::to_string(spec_.dims[0]));
    if (Y.shape()[0] != spec_.dims[L] || Y.shape()[1] != X.shape()[1])
        throw ShapeError("Mlp: labels are " + to_string(shape_of(Y)) + ", expected [" +
                         std::to_string(spec_.dims[L]) + "," + std::to_string(X.shape()[1]) + "]");
    for (std::size_t l = 1; l <= L; ++l) {
        const Shape ws{spec_.dims[l], spec_.dims[l - 1]}, bs{spec_.dims[l], 1};
        if (shape_of(params.W[l - 1]) != ws || shape_of(params.b[l - 1]) != bs)
            throw ShapeError("Mlp: layer " + std::to_string(l) + " needs W " + to_string(ws) +
                             " and b " + to_string(bs) + ", got " +
                             to_string(shape_of(params.W[l - 1])) + " and " +
                             to_string(shape_of(params.b[l - 1])));
    }

    x_ = tape_.constant(std::move(X), "X");
    y_ = tape_.constant(std::move(Y), "Y");
    a_.push_back(x_);
    for (std::size_t l = 1; l <= L; ++l) {
        const std::string s = std::to_string(l);
        w_.push_back(tape_.parameter(params.W[l - 1], "W" + s));
        b_.push_back(tape_.parameter(params.b[l - 1], "b" + s));
        const NodeId lin = tape_.matmul(w_.back(), a_.back());
        z_.push_back(tape_.add_bias(lin, b_.back()));
        tape_.set_name(z_.back(), "Z" + s);
        a_.push_back(spec_.activations[l - 1] == Activation::relu ? tape_.relu(z_.back())
                                                                 : tape_.sigmoid(z_.back()));
        tape_.set_name(a_.back(), "A" + s);
    }
    loss_ = form == LossForm::fused ? tape_.sigmoid_bce(z_.back(), y_) : tape_.bce(a_.back(), y_);
    tape_.set_name(loss_, "cost");
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
    tape_.forward();
    return cost();
}

namespace {
template <class T>
double fraction_correct(const Matrix<T>& proba, const Matrix<T>& Y) {
    if (shape_of(proba) != shape_of(Y))
        throw ShapeError("accuracy: predictions are " + to_string(shape_of(proba)) +
                         ", labels are " + to_string(shape_of(Y)));
    std::size_t hits = 0;
    for (std::size_t i = 0; i < proba.size(); ++i)
        hits += (proba.data()[i] > T(0.5) ? T(1) : T(0)) == Y.data()[i];
    return double(hits) / double(proba.size());
}
}  // namespace

template <class T>
double Mlp<T>::accuracy() {
    evaluate();
    return fraction_correct(tape_.value(a_.back()), tape_.value(y_));
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
    NodeId a = t.constant(X);
    for (std::size_t l = 1; l <= layers(); ++l) {
        const NodeId z = t.add_bias(t.matmul(t.constant(tape_.value(W(l))), a),
                                    t.constant(tape_.value(b(l))));
        a = spec_.activations[l - 1] == Activation::relu ? t.relu(z) : t.sigmoid(z);
    }
    return t.value(a);
}

template <class T>
Matrix<T> Mlp<T>::predict(const Matrix<T>& X) const {
    Matrix<T> p = predict_proba(X);
    for (auto& v : p) v = v > T(0.5) ? T(1) : T(0);
    return p;
}

template <class T>
double Mlp<T>::accuracy(const Matrix<T>& X, const Matrix<T>& Y) const {
    return fraction_correct(predict_proba(X), Y);
}

template Params<float> he_init<float>(const MlpSpec&, std::uint32_t);
template Params<double> he_init<double>(const MlpSpec&, std::uint32_t);
template class Mlp<float>;
template class Mlp<double>;

}  // namespace xgrad
