// Layers (Linear) and the named parameters of any model.
#include "xgrad/nn/layers.hpp"

#include <cmath>
#include <set>
#include <sstream>
#include <type_traits>


namespace xgrad {

template <class T>
NamedParameters<T> named_parameters(Tape<T>& tape) {
    NamedParameters<T> out;
    std::set<std::string> seen;
    for (NodeId p : tape.parameters()) {
        const std::string& name = tape.node(p).name;
        if (name.empty())
            throw UsageError("named_parameters: parameter %" + std::to_string(p) + " " +
                             to_string(tape.shape(p)) + " has no name (Tape::parameter(value, name))");
        if (!seen.insert(name).second)
            throw UsageError("named_parameters: two parameters are named '" + name + "'");
        out.emplace_back(name, Var<T>(tape, p));
    }
    return out;
}

template <class T>
Linear<T>::Linear(Tape<T>& tape, std::size_t in, std::size_t out, const std::string& name, NumpyRandom& rng,
                  Init init, double scale)
    : name_(name) {
    if (in == 0 || out == 0)
        throw UsageError("Linear " + name + ": sizes must be positive, got in " + std::to_string(in) + ", out " +
                         std::to_string(out));
    // the same draws and arithmetic as init_params (numpy's randn, scaled in double)
    Matrix<double> w = init == Init::zeros ? Matrix<double>(xt::zeros<double>({out, in})) : rng.randn(out, in);
    if (init == Init::normal) w *= scale;
    if (init == Init::xavier) w /= std::sqrt(double(in));
    if (init == Init::he) w *= std::sqrt(2.0 / double(in));
    W = tape.parameter(xt::cast<T>(w), name + ".W");
    b = tape.parameter(xt::zeros<T>({out, std::size_t(1)}), name + ".b");
}

template NamedParameters<float> named_parameters<float>(Tape<float>&);
template NamedParameters<double> named_parameters<double>(Tape<double>&);
template class Linear<float>;
template class Linear<double>;

}  // namespace xgrad
