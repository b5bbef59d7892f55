// The named parameters of any model, saved to and loaded from HDF5.
#include "xgrad/io/parameters.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <type_traits>

#include "h5.hpp"
#include "xgrad/io/text.hpp"

namespace xgrad {

using namespace io::h5;

namespace {

const char* const kFormat = "xgrad-parameters";

template <class T>
void check_names(const std::string& who, const NamedParameters<T>& params) {
    std::set<std::string> seen;
    std::set<std::pair<const void*, NodeId>> nodes;
    for (const auto& [name, v] : params) {
        if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
            throw UsageError(who + ": '" + name + "' cannot name a parameter (empty, '/', '.' or '..')");
        if (!seen.insert(name).second) throw UsageError(who + ": two parameters are named '" + name + "'");
        if (!v.valid()) throw UsageError(who + ": parameter '" + name + "' is an empty Var");
        if (v.tape().node(v).op != OpKind::parameter)
            throw UsageError(who + ": '" + name + "' is not a parameter node");
        if (!nodes.insert({&v.tape(), v.id()}).second)
            throw UsageError(who + ": parameter '" + name + "' appears twice (under another name too)");
    }
}

}  // namespace

template <class T>
void save(const std::string& path, const NamedParameters<T>& params) {
    check_names("save " + path, params);
    write_atomically(path, "parameters", [&](H5::H5File& f) {
        for (const auto& [name, v] : params) write_matrix(f, name, v.value());
        H5::Group root = f.openGroup("/");
        write_attr_string(root, "format", kFormat);
        write_attr_string(root, "dtype", Stored<T>::name);
    });
}

template <class T>
void load(const std::string& path, const NamedParameters<T>& params) {
    check_names("load " + path, params);
    const Contents c = io::isolated::read_h5(path, {true, true, true, false, {}});
    std::vector<Matrix<T>> values;
    const auto dtype = read_attr_strings(c, "dtype", "expected parameters saved by xgrad::save or a model.h5");
    const std::string dt = dtype.size() == 1 ? dtype[0] : "";
    // (text from the file is escaped: a damaged or odd string must not break the one line)
    if (dtype.size() != 1)
        throw DataError(path + ": attribute 'dtype': expected \"f32\" or \"f64\", found " +
                        std::to_string(dtype.size()) + " strings");
    if (dt != "f32" && dt != "f64")
        throw DataError(path + ": attribute 'dtype': expected \"f32\" or \"f64\", found \"" + io::printable(dt) + "\"");
    const std::size_t elem = dt == "f32" ? 4 : 8;
    // the file holds exactly the model's parameters: none missing, none unknown
    std::set<std::string> wanted;
    for (const auto& [name, v] : params) wanted.insert(name);
    for (const auto& [name, kind] : c.links)
        if (!wanted.count(name))
            throw DataError(path + ": '" + io::printable(name) + "' is not a parameter of this model (its parameters: " +
                            std::to_string(params.size()) + ", e.g. '" +
                            (params.empty() ? std::string() : params.front().first) + "')");
    for (const auto& [name, v] : params) {
        const bool there = std::any_of(c.links.begin(), c.links.end(), [&](const auto& l) { return l.first == name; });
        if (!there) throw DataError(path + ": parameter '" + name + "' missing");
        const Shape s = v.shape();
        Matrix<double> m = read_matrix<double>(c, name, {s.rows, s.cols}, elem,
                                               "the shape of parameter '" + name + "', dtype " + dt);
        values.push_back(xt::cast<T>(m));
        // an f64 value beyond float's range would become ±inf in a float model
        if constexpr (std::is_same_v<T, float>) {
            const Matrix<T>& got = values.back();
            for (std::size_t i = 0; i < s.rows; ++i)
                for (std::size_t j = 0; j < s.cols; ++j)
                    if (!std::isfinite(got(i, j))) {
                        std::ostringstream msg;
                        msg << path << ": dataset '" << name
                            << "': expected values that fit in float32 (the model's type), found " << m(i, j)
                            << " at [" << i << "," << j << "]";
                        throw DataError(msg.str());
                    }
        }
    }
    // every check passed: now change the parameters
    for (std::size_t k = 0; k < params.size(); ++k) params[k].second.tape().set_value(params[k].second, values[k]);
}

template void save<float>(const std::string&, const NamedParameters<float>&);
template void save<double>(const std::string&, const NamedParameters<double>&);
template void load<float>(const std::string&, const NamedParameters<float>&);
template void load<double>(const std::string&, const NamedParameters<double>&);

}  // namespace xgrad
