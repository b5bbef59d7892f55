// Checking what the isolated reader sent (see h5.hpp), and writing HDF5 files.
#include "h5.hpp"
#include "h5_cause.hpp"
#include "xgrad/io/text.hpp"
#include "xgrad/io/files.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fcntl.h>
#include <limits>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace xgrad::io::h5 {

// The switch is per thread in a thread-safe HDF5 build (Debian's is): each thread turns it off.
void silence_hdf5() {
    thread_local const bool once = [] {
        H5::Exception::dontPrint();
        return true;
    }();
    (void)once;
}

std::string shape_text(const std::vector<std::uint64_t>& dims) {
    std::string s = "[";
    for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
    return s + "]";
}

// Validation messages name the file, the dataset and what was expected vs found.
[[noreturn]] void bad(const std::string& file, const std::string& dataset,
                      const std::string& expected, const std::string& found) {
    throw DataError(file + ": dataset '" + dataset + "': expected " + expected + ", found " + found);
}

// a·b, or an error when a damaged size makes it overflow
std::size_t times(const std::string& file, const std::string& name, std::size_t a, std::size_t b) {
    if (b != 0 && a > std::numeric_limits<std::size_t>::max() / b)
        bad(file, name, "a size that fits in memory", std::to_string(a) + " x " + std::to_string(b));
    return a * b;
}

std::size_t checked_product(const std::string& file, const std::string& name, const std::vector<std::uint64_t>& d) {
    std::size_t n = 1;
    for (auto v : d) n = times(file, name, n, std::size_t(v));
    return n;
}

// ---- reading -----------------------------------------------------------------------------------------

const Item& dataset(const Contents& c, const std::string& name) {
    const auto it = c.datasets.find(name);
    if (it == c.datasets.end()) bad(c.file, name, "a dataset of that name", "none (missing)");
    if (!it->second.error.empty()) throw DataError(c.file + ": " + printable(it->second.error));
    return it->second;
}

const Item* find_attr(const Contents& c, const std::string& name) {
    const auto it = c.attributes.find(name);
    if (it == c.attributes.end()) return nullptr;
    if (!it->second.error.empty()) throw DataError(c.file + ": " + printable(it->second.error));
    return &it->second;
}

namespace {

const Item& attr(const Contents& c, const char* name, const std::string& missing) {
    const Item* a = find_attr(c, name);
    if (!a) throw DataError(c.file + ": attribute '" + name + "' missing (" + missing + ")");
    return *a;
}

// Attributes of a model or checkpoint are short lists; a longer one is a damaged size.
constexpr std::size_t kMaxAttrValues = 4096;

void check_count(const Contents& c, const Item& a) {
    if (a.count() > kMaxAttrValues)
        throw DataError(c.file + ": attribute '" + printable(a.name) + "': expected at most " +
                        std::to_string(kMaxAttrValues) + " values, found " + shape_text(a.dims));
}

// Where a value is NaN or Inf: "NaN at [3,17]".
template <class T>
std::string first_nonfinite(const Matrix<T>& v) {
    for (std::size_t i = 0; i < v.shape()[0]; ++i)
        for (std::size_t j = 0; j < v.shape()[1]; ++j) {
            const T x = v(i, j);
            if (!std::isfinite(x))
                return std::string(std::isnan(x) ? "NaN" : x > 0 ? "+Inf" : "-Inf") + " at [" +
                       std::to_string(i) + "," + std::to_string(j) + "]";
        }
    return "";
}

}  // namespace

std::vector<long long> read_attr_ints(const Contents& c, const char* name, const std::string& missing) {
    const Item& a = attr(c, name, missing);
    if (a.cls != wire::kInteger)
        throw DataError(c.file + ": attribute '" + name + "': expected integers, found " + printable(a.type));
    check_count(c, a);
    return a.ints();
}

std::vector<std::string> read_attr_strings(const Contents& c, const char* name, const std::string& missing) {
    const Item& a = attr(c, name, missing);
    if (a.cls != wire::kString)
        throw DataError(c.file + ": attribute '" + name + "': expected strings, found " + printable(a.type));
    check_count(c, a);
    return a.strings;
}

double read_attr_double(const Contents& c, const char* name, const std::string& missing) {
    const Item& a = attr(c, name, missing);
    if (a.cls != wire::kFloat && a.cls != wire::kInteger)
        throw DataError(c.file + ": attribute '" + name + "': expected a number, found " + printable(a.type));
    if (a.count() != 1)
        throw DataError(c.file + ": attribute '" + name + "': expected one number, found " + shape_text(a.dims));
    return a.doubles().at(0);
}

// (a damaged count outside [lo, hi] would overflow the caller's cast)
double read_attr_whole(const Contents& c, const char* name, double lo, double hi, const std::string& missing) {
    const double v = read_attr_double(c, name, missing);
    if (!(v >= lo && v <= hi && v == std::floor(v))) {
        std::ostringstream s;
        s << c.file << ": attribute '" << name << "': expected a whole number in [" << lo << ", " << hi
          << "], found " << v;
        throw DataError(s.str());
    }
    return v;
}

template <class T>
Matrix<T> read_matrix(const Contents& c, const std::string& name, const std::vector<std::uint64_t>& want,
                      std::size_t elem, const std::string& why) {
    const Item& ds = dataset(c, name);
    const auto& got = ds.dims;
    bool fits = got.size() == 2 && want.size() == 2 && !ds.null_space;
    for (std::size_t i = 0; fits && i < 2; ++i) fits = got[i] > 0 && (want[i] == 0 || got[i] == want[i]);
    if (!fits) {
        std::string w = "[";
        for (std::size_t i = 0; i < want.size(); ++i)
            w += (i ? "," : "") + (want[i] ? std::to_string(want[i]) : std::string("any"));
        bad(c.file, name, w + "]" + (why.empty() ? "" : " (" + why + ")"), shape_text(got));
    }
    if (ds.cls != wire::kFloat || ds.size != elem)
        bad(c.file, name, std::string(elem == 4 ? "float32" : "float64") + (why.empty() ? "" : " (" + why + ")"),
            printable(ds.type));
    Matrix<T> v = Matrix<T>::from_shape({std::size_t(got[0]), std::size_t(got[1])});
    const std::vector<double> d = ds.doubles();
    std::copy(d.begin(), d.end(), v.data());
    if (const std::string where = first_nonfinite(v); !where.empty()) bad(c.file, name, "finite values", where);
    return v;
}

std::vector<double> read_numbers(const Contents& c, const std::string& name) {
    const Item& ds = dataset(c, name);
    if (ds.dims.size() != 1) bad(c.file, name, "a list of numbers [n]", shape_text(ds.dims));
    if (ds.cls != wire::kFloat) bad(c.file, name, "floating-point numbers", printable(ds.type));
    return ds.doubles();
}

template Matrix<float> read_matrix<float>(const Contents&, const std::string&, const std::vector<std::uint64_t>&,
                                          std::size_t, const std::string&);
template Matrix<double> read_matrix<double>(const Contents&, const std::string&, const std::vector<std::uint64_t>&,
                                            std::size_t, const std::string&);

namespace {

// Fixed-length UTF-8 strings of `size` bytes, padded with NULs: readable by any HDF5 reader, and
// without the global heap that variable-length strings need (whose damage HDF5 1.10 cannot survive).
H5::StrType utf8_string(std::size_t size) {
    H5::StrType t(H5::PredType::C_S1, std::max<std::size_t>(size, 1));
    t.setStrpad(H5T_STR_NULLPAD);
    t.setCset(H5T_CSET_UTF8);
    return t;
}

template <class V>
void write_attr_scalar(H5::H5Object& o, const char* name, const H5::PredType& file_t,
                       const H5::PredType& mem_t, V v) {
    o.createAttribute(name, file_t, H5::DataSpace(H5S_SCALAR)).write(mem_t, &v);
}

}  // namespace

// ---- writing ---------------------------------------------------------------------------------------

void write_attr_strings(H5::H5Object& o, const char* name, const std::vector<std::string>& v) {
    const hsize_t n = v.size();
    std::size_t size = 1;
    for (const auto& s : v) size = std::max(size, s.size());
    std::string buf(v.size() * size, '\0');
    for (std::size_t i = 0; i < v.size(); ++i) buf.replace(i * size, v[i].size(), v[i]);
    const H5::StrType t = utf8_string(size);
    o.createAttribute(name, t, H5::DataSpace(1, &n)).write(t, buf.data());
}

void write_attr_string(H5::H5Object& o, const char* name, const std::string& v) {
    const H5::StrType t = utf8_string(v.size());
    std::string buf = v;
    buf.resize(std::max<std::size_t>(v.size(), 1), '\0');
    o.createAttribute(name, t, H5::DataSpace(H5S_SCALAR)).write(t, buf.data());
}

void write_attr_ints(H5::H5Object& o, const char* name, const std::vector<long long>& v) {
    const hsize_t n = v.size();
    o.createAttribute(name, H5::PredType::STD_I64LE, H5::DataSpace(1, &n))
        .write(H5::PredType::NATIVE_LLONG, v.data());
}

void write_attr_int(H5::H5Object& o, const char* name, long long v) {
    write_attr_scalar(o, name, H5::PredType::STD_I64LE, H5::PredType::NATIVE_LLONG, v);
}
void write_attr_double(H5::H5Object& o, const char* name, double v) {
    write_attr_scalar(o, name, H5::PredType::IEEE_F64LE, H5::PredType::NATIVE_DOUBLE, v);
}
void write_attr_uint32(H5::H5Object& o, const char* name, std::uint32_t v) {
    write_attr_scalar(o, name, H5::PredType::STD_U32LE, H5::PredType::NATIVE_UINT32, v);
}

void write_numbers(H5::H5File& f, const std::string& name, const std::vector<double>& v) {
    const hsize_t n = v.size();
    f.createDataSet(name, H5::PredType::IEEE_F64LE, H5::DataSpace(1, &n))
        .write(v.data(), H5::PredType::NATIVE_DOUBLE);
}

void write_atomically(const std::string& path, const std::string& what,
                      const std::function<void(H5::H5File&)>& fill) {
    silence_hdf5();
    check_output_path(path, what);  // before any work
    // HDF5 builds the file in memory (the core driver, no backing store) and only plain write()s
    // touch the disk: a full disk or a file-size limit is then an errno with its own text and the
    // previous file stays, instead of a failure inside HDF5's I/O (which could crash on close).
    std::vector<unsigned char> image;
    try {
        H5::FileAccPropList fapl;
        fapl.setCore(std::size_t(1) << 16, false);
        // the name only identifies the in-memory file among this process's open HDF5 files
        H5::H5File f((path + ".mem." + std::to_string(::getpid())).c_str(), H5F_ACC_TRUNC,
                     H5::FileCreatPropList::DEFAULT, fapl);
        fill(f);
        f.flush(H5F_SCOPE_GLOBAL);
        const ssize_t size = H5Fget_file_image(f.getId(), nullptr, 0);
        if (size <= 0) throw DataError(path + ": cannot write the " + what + ": HDF5 made no file image");
        image.resize(std::size_t(size));
        if (H5Fget_file_image(f.getId(), image.data(), image.size()) != size)
            throw DataError(path + ": cannot write the " + what + ": HDF5 made no file image");
        f.close();
    } catch (const H5::Exception& e) {
        throw DataError(path + ": cannot write the " + what + ": " + hdf5_cause(e));
    }
    write_file_atomically(path, what, image.data(), image.size());
}

}  // namespace xgrad::io::h5
