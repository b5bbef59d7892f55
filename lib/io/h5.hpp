#pragma once
// Internal: HDF5 files for the loaders (io.cpp, checkpoint.cpp, parameters.cpp). Reading happens
// in the helper process (isolate.hpp): the functions below check what it sent against what the
// caller expects (names, types, shapes, finite values) and report what is wrong as one DataError
// "<file>: <what>". Writing stays in this process, with the HDF5 C++ API, and writes only
// fixed-length strings.

#include <H5Cpp.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "isolate.hpp"
#include "xgrad/core/tensor.hpp"

namespace xgrad::io::h5 {

// How a value type is stored: its HDF5 type in the file and in memory, and its dtype attribute.
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

// ---- errors ----------------------------------------------------------------------------------------

// Turns off HDF5's printing of its error stack for the calling thread (before writing).
void silence_hdf5();

// "<file>: dataset '<dataset>': expected <expected>, found <found>"
[[noreturn]] void bad(const std::string& file, const std::string& dataset,
                      const std::string& expected, const std::string& found);

std::string shape_text(const std::vector<std::uint64_t>& dims);

// a·b and the product of dimensions, or a DataError when a damaged size makes them overflow
std::size_t times(const std::string& file, const std::string& name, std::size_t a, std::size_t b);
std::size_t checked_product(const std::string& file, const std::string& name, const std::vector<std::uint64_t>& d);

// ---- reading: what the isolated reader (isolate.hpp) sent, checked for what it must mean ---------

using isolated::Contents;
using isolated::Item;

constexpr std::size_t kMaxStrings = std::size_t(1) << 16;

// Dataset `name`: "<file>: dataset '<name>': expected a dataset of that name, found none
// (missing)", or the reader's reason it could not be read.
const Item& dataset(const Contents& c, const std::string& name);
// Attribute `name` of the root group, or nullptr; one the reader could not read is a DataError.
const Item* find_attr(const Contents& c, const std::string& name);

// Attributes of the root group (of a model or checkpoint); a missing one is
// "<file>: attribute '<name>' missing (<missing>)".
std::vector<long long> read_attr_ints(const Contents& c, const char* name, const std::string& missing);
std::vector<std::string> read_attr_strings(const Contents& c, const char* name, const std::string& missing);
double read_attr_double(const Contents& c, const char* name, const std::string& missing);
// a count or seed stored as a number: whole, in [lo, hi]
double read_attr_whole(const Contents& c, const char* name, double lo, double hi, const std::string& missing);

// A 2-D dataset of finite floating-point values of `elem` bytes each (4 or 8), as T. A dimension
// of `want` that is 0 may be anything; the others must match.
template <class T>
Matrix<T> read_matrix(const Contents& c, const std::string& name, const std::vector<std::uint64_t>& want,
                      std::size_t elem, const std::string& why);

// A 1-D dataset of floating-point numbers (NaN allowed: a cost may have been).
std::vector<double> read_numbers(const Contents& c, const std::string& name);

// ---- writing -----------------------------------------------------------------------------------------

void write_attr_strings(H5::H5Object& o, const char* name, const std::vector<std::string>& v);
void write_attr_string(H5::H5Object& o, const char* name, const std::string& v);
void write_attr_ints(H5::H5Object& o, const char* name, const std::vector<long long>& v);
void write_attr_int(H5::H5Object& o, const char* name, long long v);
void write_attr_double(H5::H5Object& o, const char* name, double v);
void write_attr_uint32(H5::H5Object& o, const char* name, std::uint32_t v);

template <class T>
void write_matrix(H5::H5File& f, const std::string& name, const Matrix<T>& m) {
    const hsize_t dims[2] = {m.shape()[0], m.shape()[1]};
    f.createDataSet(name, Stored<T>::file(), H5::DataSpace(2, dims)).write(m.data(), Stored<T>::mem());
}
void write_numbers(H5::H5File& f, const std::string& name, const std::vector<double>& v);

// Writes `path` so that a crash at any moment leaves either the old complete file or the new
// complete one: `fill` writes a temporary file beside it, which is fsynced, renamed into place,
// and the directory fsynced. Failures are DataErrors "<path>: cannot write the <what>: ..." and
// leave no temporary file behind.
void write_atomically(const std::string& path, const std::string& what,
                      const std::function<void(H5::H5File&)>& fill);

}  // namespace xgrad::io::h5
