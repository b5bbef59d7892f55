#pragma once
// Internal: reading and writing HDF5 files that may be damaged, shared by the image-set and model
// loaders (io.cpp) and the checkpoints (checkpoint.cpp).
//
// The readers report what they find wrong as a DataError "<file>: <what>: <cause>", and check the
// parts of the file HDF5 1.10 trusts (object headers, stored sizes, chunks, variable-length strings)
// before HDF5 acts on them: h5.cpp holds the evidence of each crash these guards prevent. Callers
// run a whole load inside h5_step, so that an HDF5 exception from any remaining call becomes a
// DataError too.

#include <H5Cpp.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

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

// Turns off HDF5's printing of its error stack for the calling thread.
void silence_hdf5();

// The innermost message of HDF5's error stack ("truncated file: eof = ..."), printable.
std::string hdf5_cause(const H5::Exception& e);

// Runs one HDF5 step; a failure becomes a DataError "<file>: <what>: <HDF5's innermost cause>".
template <class F>
auto h5_step(const std::string& file, const std::string& what, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const H5::Exception& e) {
        const std::string cause = hdf5_cause(e);
        std::string hint;
        if (cause.find("truncated") != std::string::npos) hint = " (the file is truncated)";
        throw DataError(file + ": " + what + hint + ": " + cause);
    }
}

// "<file>: dataset '<dataset>': expected <expected>, found <found>"
[[noreturn]] void bad(const std::string& file, const std::string& dataset,
                      const std::string& expected, const std::string& found);

std::string shape_text(const std::vector<hsize_t>& dims);
// true for the standard integer and IEEE float types, the only ones numbers are read from
bool standard_number(const H5::DataType& t);
// "uint8", "int64", "float32", "string", ...
std::string type_text(const H5::DataType& t);

// ---- reading -----------------------------------------------------------------------------------------

// Opens an existing regular HDF5 file read-only ("no such file", "not an HDF5 file", ...).
H5::H5File open_for_reading(const std::string& file);

// The root group, whose object header (the attributes of a model or checkpoint) is checked first.
H5::Group open_root(const H5::H5File& f, const std::string& file);

// Opens dataset `name` after checking its object header.
H5::DataSet open_dataset(const H5::H5File& f, const std::string& file, const std::string& name);

// The dimensions of a dataspace; a dimension beyond its stored maximum is damage.
std::vector<hsize_t> dims_in(const std::string& file, const std::string& what, const H5::DataSpace& sp);
std::vector<hsize_t> dims_of(const H5::DataSpace& sp);

// a·b and the product of dimensions, or a DataError when a damaged size makes them overflow
std::size_t times(const std::string& file, const std::string& name, std::size_t a, std::size_t b);
std::size_t checked_product(const std::string& file, const std::string& name, const std::vector<hsize_t>& d);

// Before `bytes` of dataset `name` are allocated and read: they must be stored in the file.
void check_stored(const std::string& file, const std::string& name, const H5::DataSet& ds, std::uint64_t bytes);

// Checks the object header at `addr` before HDF5 decodes it.
void precheck_header(const std::string& file, const std::string& what, std::uint64_t addr);

// Before HDF5 reads n variable-length strings of a dataset stored contiguously.
void guard_vlen_dataset(const std::string& file, const H5::DataSet& ds, const std::string& name, std::size_t n);

constexpr std::size_t kMaxStrings = std::size_t(1) << 16;

// The n strings of a 1-D dataset (fixed- or variable-length; the caller guarded them).
std::vector<std::string> read_strings(const H5::DataSet& ds, std::size_t n);

// Attributes of `g` (the root group of a model or checkpoint): each one checked before it is read;
// a missing one is "<file>: attribute '<name>' missing (<missing>)".
std::vector<long long> read_attr_ints(const H5::Group& g, const std::string& file, const char* name,
                                      const std::string& missing);
std::vector<std::string> read_attr_strings(const H5::Group& g, const std::string& file,
                                           const char* name, const std::string& missing);
double read_attr_double(const H5::Group& g, const std::string& file, const char* name,
                        const std::string& missing);
// a count or seed stored as a number: whole, in [lo, hi]
double read_attr_whole(const H5::Group& g, const std::string& file, const char* name, double lo,
                       double hi, const std::string& missing);

// A 2-D dataset of finite floating-point values of `elem` bytes each (4 or 8), read as T. A
// dimension of `want` that is 0 may be anything; the others must match.
template <class T>
Matrix<T> read_matrix(const H5::H5File& f, const std::string& file, const std::string& name,
                      const std::vector<hsize_t>& want, std::size_t elem, const std::string& why);

// A 1-D dataset of floating-point numbers (NaN allowed: a cost may have been).
std::vector<double> read_numbers(const H5::H5File& f, const std::string& file, const std::string& name);

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
