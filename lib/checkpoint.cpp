#include "xgrad/checkpoint.hpp"

#include <H5Cpp.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace xgrad::io {

namespace {

constexpr const char* kFormat = "xgrad-checkpoint-1";

template <class T>
struct Stored;
template <>
struct Stored<float> {
    static const H5::PredType& file() { return H5::PredType::IEEE_F32LE; }
    static const H5::PredType& mem() { return H5::PredType::NATIVE_FLOAT; }
    static constexpr const char* name = "f32";
};
template <>
struct Stored<double> {
    static const H5::PredType& file() { return H5::PredType::IEEE_F64LE; }
    static const H5::PredType& mem() { return H5::PredType::NATIVE_DOUBLE; }
    static constexpr const char* name = "f64";
};

H5::StrType utf8() {
    H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
    t.setCset(H5T_CSET_UTF8);
    return t;
}

// HDF5's innermost message ("truncated file: ...") says more than the C++ wrapper's.
std::string cause_of(const H5::Exception& e) {
    std::string inner;
    H5Ewalk2(
        H5E_DEFAULT, H5E_WALK_UPWARD,
        [](unsigned n, const H5E_error2_t* err, void* out) -> herr_t {
            if (n == 0 && err && err->desc) *static_cast<std::string*>(out) = err->desc;
            return 0;
        },
        &inner);
    return inner.empty() ? e.getDetailMsg() : inner;
}

void fsync_path(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

std::string directory_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

template <class T>
void write_matrix(H5::H5File& f, const std::string& name, const Matrix<T>& m) {
    const hsize_t dims[2] = {m.shape()[0], m.shape()[1]};
    f.createDataSet(name, Stored<T>::file(), H5::DataSpace(2, dims)).write(m.data(), Stored<T>::mem());
}

void write_string(H5::H5Object& o, const char* name, const std::string& v) {
    const H5::StrType t = utf8();
    const char* p = v.c_str();
    o.createAttribute(name, t, H5::DataSpace(H5S_SCALAR)).write(t, &p);
}

void write_strings(H5::H5Object& o, const char* name, const std::vector<std::string>& v) {
    const hsize_t n = v.size();
    const H5::StrType t = utf8();
    std::vector<const char*> ptrs;
    for (const auto& s : v) ptrs.push_back(s.c_str());
    o.createAttribute(name, t, H5::DataSpace(1, &n)).write(t, ptrs.data());
}

void write_int(H5::H5Object& o, const char* name, long long v) {
    o.createAttribute(name, H5::PredType::STD_I64LE, H5::DataSpace(H5S_SCALAR))
        .write(H5::PredType::NATIVE_LLONG, &v);
}

// ---- reading: every failure becomes "<file>: <what>" --------------------------------------------

struct Reader {
    std::string path;
    H5::H5File file;

    explicit Reader(const std::string& p) : path(p) {
        H5::Exception::dontPrint();
        struct stat st {};
        if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) fail("no such file");
        try {
            if (!H5::H5File::isHdf5(p.c_str())) fail("not an HDF5 file");
            file = H5::H5File(p.c_str(), H5F_ACC_RDONLY);
        } catch (const H5::Exception& e) {
            fail("cannot open as HDF5: " + cause_of(e));
        }
        const bool tagged = step("attribute 'format'", [&] { return file.attrExists("format"); });
        if (!tagged || text("format") != kFormat)
            fail("not an xgrad checkpoint (no format attribute '" + std::string(kFormat) + "')");
    }

    [[noreturn]] void fail(const std::string& what) const { throw DataError(path + ": " + what); }

    template <class F>
    auto step(const std::string& what, F&& f) -> decltype(f()) {
        try {
            return f();
        } catch (const H5::Exception& e) {
            fail(what + ": " + cause_of(e));
        }
    }

    std::string text(const char* name) {
        return step(std::string("attribute '") + name + "'", [&] {
            if (!file.attrExists(name)) fail(std::string("attribute '") + name + "' is missing");
            H5::Attribute a = file.openAttribute(name);
            if (a.getTypeClass() != H5T_STRING) fail(std::string("attribute '") + name + "' is not a string");
            std::string s;
            a.read(a.getStrType(), s);
            return s;
        });
    }

    std::vector<std::string> texts(const char* name) {
        return step(std::string("attribute '") + name + "'", [&] {
            if (!file.attrExists(name)) fail(std::string("attribute '") + name + "' is missing");
            H5::Attribute a = file.openAttribute(name);
            if (a.getTypeClass() != H5T_STRING || !a.getStrType().isVariableStr())
                fail(std::string("attribute '") + name + "' is not a list of strings");
            const hssize_t n = a.getSpace().getSimpleExtentNpoints();
            std::vector<char*> raw(std::size_t(n), nullptr);
            a.read(utf8(), raw.data());
            std::vector<std::string> out;
            for (char* s : raw) {
                out.emplace_back(s ? s : "");
                H5free_memory(s);
            }
            return out;
        });
    }

    long long integer(const char* name) {
        return step(std::string("attribute '") + name + "'", [&] {
            if (!file.attrExists(name)) fail(std::string("attribute '") + name + "' is missing");
            H5::Attribute a = file.openAttribute(name);
            if (a.getTypeClass() != H5T_INTEGER || a.getSpace().getSimpleExtentNpoints() != 1)
                fail(std::string("attribute '") + name + "' is not an integer");
            long long v = 0;
            a.read(H5::PredType::NATIVE_LLONG, &v);
            return v;
        });
    }

    template <class T>
    Matrix<T> matrix(const std::string& name) {
        return step("dataset '" + name + "'", [&] {
            if (!file.nameExists(name)) fail("dataset '" + name + "' is missing");
            H5::DataSet d = file.openDataSet(name);
            if (d.getTypeClass() != H5T_FLOAT) fail("dataset '" + name + "' is not floating point");
            H5::DataSpace sp = d.getSpace();
            if (sp.getSimpleExtentNdims() != 2) fail("dataset '" + name + "' is not 2-D");
            hsize_t dims[2];
            sp.getSimpleExtentDims(dims);
            if (dims[0] == 0 || dims[1] == 0 || dims[0] > (1u << 30) || dims[1] > (1u << 30) ||
                dims[0] * dims[1] > (hsize_t(1) << 31))
                fail("dataset '" + name + "' has an implausible shape");
            Matrix<T> m = Matrix<T>::from_shape({std::size_t(dims[0]), std::size_t(dims[1])});
            d.read(m.data(), Stored<T>::mem());
            for (T v : m)
                if (!std::isfinite(v)) fail("dataset '" + name + "' holds NaN or Inf");
            return m;
        });
    }

    std::vector<double> numbers(const std::string& name) {
        return step("dataset '" + name + "'", [&] {
            if (!file.nameExists(name)) fail("dataset '" + name + "' is missing");
            H5::DataSet d = file.openDataSet(name);
            if (d.getTypeClass() != H5T_FLOAT || d.getSpace().getSimpleExtentNdims() != 1)
                fail("dataset '" + name + "' is not a list of numbers");
            const hssize_t n = d.getSpace().getSimpleExtentNpoints();
            if (n < 0 || n > (hssize_t(1) << 31)) fail("dataset '" + name + "' has an implausible size");
            std::vector<double> v(static_cast<std::size_t>(n));
            if (n > 0) d.read(v.data(), H5::PredType::NATIVE_DOUBLE);
            return v;
        });
    }
};

}  // namespace

template <class T>
void save_checkpoint(const std::string& path, const Checkpoint<T>& c) {
    H5::Exception::dontPrint();
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    try {
        {
            H5::H5File f(tmp.c_str(), H5F_ACC_TRUNC);
            write_string(f, "format", kFormat);
            write_string(f, "dtype", Stored<T>::name);
            write_int(f, "epoch", c.state.epoch);
            write_int(f, "steps", c.state.steps);
            write_string(f, "dropout_rng", c.state.dropout_rng);
            std::vector<std::string> settings;
            for (const auto& [k, v] : c.settings) settings.push_back(k + "=" + v);
            write_strings(f, "settings", settings);
            write_int(f, "layers", (long long)c.state.params.W.size());
            write_int(f, "moments", (long long)c.state.first_moments.size());
            write_int(f, "second_moments", (long long)c.state.second_moments.size());
            for (std::size_t l = 0; l < c.state.params.W.size(); ++l) {
                write_matrix(f, "W" + std::to_string(l + 1), c.state.params.W[l]);
                write_matrix(f, "b" + std::to_string(l + 1), c.state.params.b[l]);
            }
            for (std::size_t k = 0; k < c.state.first_moments.size(); ++k)
                write_matrix(f, "moment1_" + std::to_string(k), c.state.first_moments[k]);
            for (std::size_t k = 0; k < c.state.second_moments.size(); ++k)
                write_matrix(f, "moment2_" + std::to_string(k), c.state.second_moments[k]);
            const hsize_t n = c.costs.size();
            f.createDataSet("costs", H5::PredType::IEEE_F64LE, H5::DataSpace(1, &n))
                .write(c.costs.data(), H5::PredType::NATIVE_DOUBLE);
            f.close();
        }
        fsync_path(tmp, O_RDONLY);
        if (std::rename(tmp.c_str(), path.c_str()) != 0)
            throw DataError(path + ": cannot rename the temporary checkpoint " + tmp + " into place");
        fsync_path(directory_of(path), O_RDONLY | O_DIRECTORY);
    } catch (const H5::Exception& e) {
        const std::string cause = cause_of(e);
        std::remove(tmp.c_str());
        throw DataError(path + ": cannot write the checkpoint: " + cause);
    } catch (...) {
        std::remove(tmp.c_str());
        throw;
    }
}

std::string checkpoint_dtype(const std::string& path) {
    Reader r(path);
    const std::string d = r.text("dtype");
    if (d != "f32" && d != "f64") r.fail("dtype '" + d + "' is neither f32 nor f64");
    return d;
}

template <class T>
Checkpoint<T> load_checkpoint(const std::string& path) {
    Reader r(path);
    if (r.text("dtype") != Stored<T>::name)
        r.fail("the checkpoint holds " + r.text("dtype") + " values, not " + Stored<T>::name);
    Checkpoint<T> c;
    c.state.epoch = r.integer("epoch");
    c.state.steps = r.integer("steps");
    if (c.state.epoch < 0 || c.state.steps < 0) r.fail("negative epoch or step count");
    c.state.dropout_rng = r.text("dropout_rng");
    for (const std::string& line : r.texts("settings")) {
        const auto eq = line.find('=');
        if (eq == std::string::npos) r.fail("setting '" + line + "' is not name=value");
        c.settings.emplace_back(line.substr(0, eq), line.substr(eq + 1));
    }
    const long long layers = r.integer("layers"), m1 = r.integer("moments"), m2 = r.integer("second_moments");
    if (layers < 1 || layers > 1000 || m1 < 0 || m1 > 2 * layers || m2 < 0 || m2 > 2 * layers)
        r.fail("implausible layer or moment counts");
    for (long long l = 1; l <= layers; ++l) {
        c.state.params.W.push_back(r.matrix<T>("W" + std::to_string(l)));
        c.state.params.b.push_back(r.matrix<T>("b" + std::to_string(l)));
    }
    for (long long k = 0; k < m1; ++k) c.state.first_moments.push_back(r.matrix<T>("moment1_" + std::to_string(k)));
    for (long long k = 0; k < m2; ++k) c.state.second_moments.push_back(r.matrix<T>("moment2_" + std::to_string(k)));
    c.costs = r.numbers("costs");
    if ((long long)c.costs.size() != c.state.epoch)
        r.fail("holds " + std::to_string(c.costs.size()) + " costs for " + std::to_string(c.state.epoch) + " epochs");
    try {
        NumpyRandom rng;
        rng.set_state(c.state.dropout_rng);
    } catch (const DataError& e) {
        r.fail(std::string("attribute 'dropout_rng': ") + e.what());
    }
    return c;
}

template void save_checkpoint<float>(const std::string&, const Checkpoint<float>&);
template void save_checkpoint<double>(const std::string&, const Checkpoint<double>&);
template Checkpoint<float> load_checkpoint<float>(const std::string&);
template Checkpoint<double> load_checkpoint<double>(const std::string&);

}  // namespace xgrad::io
