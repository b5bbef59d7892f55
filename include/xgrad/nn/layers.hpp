#pragma once
// Layers and model state, in the spirit of torch::nn but as small as C++ allows: a layer records
// its parameters on a tape when it is made and its ops when it is called on a Var.
//
//     Tape<double> t;
//     NumpyRandom rng(1);
//     Sequential<double> net;
//     net.add(Linear<double>(t, 64, 32, "fc1", rng)).add(relu<double>).add(Linear<double>(t, 32, 10, "fc2", rng));
//     auto logits = net(x);                                   // [10,m] for x [64,m]
//     save("model.h5", net.named_parameters());               // fc1.W, fc1.b, fc2.W, fc2.b
//
// Saving and loading named parameters is input/output: xgrad/io/parameters.hpp.
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "xgrad/nn/mlp.hpp"
#include "xgrad/nn/random.hpp"
#include "xgrad/core/tape.hpp"

namespace xgrad {

// Parameters with the names they are saved under, in a stable order.
template <class T>
using NamedParameters = std::vector<std::pair<std::string, Var<T>>>;

// Every parameter of a tape under its node name (Tape::parameter's name, set_name), in recording
// order. UsageError if one has no name or two share one.
template <class T>
NamedParameters<T> named_parameters(Tape<T>& tape);

// A fully connected layer: y = W x + b, W [out,in], b [out,1] (added to every column).
// W is drawn from rng as numpy's randn(out, in), scaled as the initialiser says (he: √(2/in),
// xavier: 1/√in, normal: `scale`, zeros: 0); b starts at 0. Parameters are named NAME.W, NAME.b.
template <class T>
class Linear {
public:
    Linear(Tape<T>& tape, std::size_t in, std::size_t out, const std::string& name, NumpyRandom& rng,
           Init init = Init::he, double scale = 0.01);
    Var<T> operator()(const Var<T>& x) const { return add_bias(matmul(W, x), b); }
    NamedParameters<T> named_parameters() const { return {{name_ + ".W", W}, {name_ + ".b", b}}; }
    std::size_t in() const { return W.shape().cols; }
    std::size_t out() const { return W.shape().rows; }

    Var<T> W, b;

private:
    std::string name_;
};

namespace detail {
// A layer: something with named_parameters() (a Linear, a Sequential, a user's layer).
template <class L, class = void>
struct has_named_parameters : std::false_type {};
template <class L>
struct has_named_parameters<L, std::void_t<decltype(std::declval<const L&>().named_parameters())>> : std::true_type {};
}  // namespace detail

// Layers and functions applied in order. add() takes a Linear (or anything with operator() and
// named_parameters(), a Sequential too) or any function of a Var (relu<double>, a lambda, a
// std::function, a custom op).
template <class T>
class Sequential {
public:
    using Fn = std::function<Var<T>(const Var<T>&)>;

    template <class Layer, std::enable_if_t<detail::has_named_parameters<Layer>::value, int> = 0>
    Sequential& add(Layer layer) {
        for (auto& p : layer.named_parameters()) params_.push_back(p);
        steps_.push_back([layer](const Var<T>& x) { return layer(x); });
        return *this;
    }
    // Any callable taking a Var: one template (not Fn and a function pointer as two overloads, which
    // made a captureless lambda, convertible to both, an ambiguous call).
    template <class F, std::enable_if_t<!detail::has_named_parameters<F>::value &&
                                            std::is_invocable_r_v<Var<T>, const F&, const Var<T>&>,
                                        int> = 0>
    Sequential& add(F f) {
        Fn fn(std::move(f));
        if (!fn) throw UsageError("Sequential::add: an empty function");
        steps_.push_back(std::move(fn));
        return *this;
    }
    // A function named with its template argument (relu<double>, xgrad::tanh<double>).
    Sequential& add(Var<T> (*f)(const Var<T>&)) { return add(Fn(f)); }

    Var<T> operator()(Var<T> x) const {
        for (const Fn& f : steps_) x = f(x);
        return x;
    }
    const NamedParameters<T>& named_parameters() const { return params_; }
    std::size_t size() const { return steps_.size(); }

private:
    std::vector<Fn> steps_;
    NamedParameters<T> params_;
};

extern template class Linear<float>;
extern template class Linear<double>;

}  // namespace xgrad
