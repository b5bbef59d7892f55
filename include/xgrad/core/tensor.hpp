#pragma once
// Basic vocabulary of xgrad: the 2-D tensor type, shapes and the typed errors.

#include <array>
#include <cstddef>
#include <iosfwd>
#include <stdexcept>
#include <string>

#include <xtensor/xtensor.hpp>

#include "xgrad/core/buffer.hpp"

namespace xgrad {

// Every tensor is 2-D and row-major; examples are columns, as in the seed (X is [n_x, m]).
// An xtensor container (everything xt::xtensor<T, 2> does, and it converts to and from one) whose
// storage keeps its capacity when it shrinks (xgrad/buffer.hpp): a recorded graph's buffers serve
// every batch width up to the widest seen without allocating.
template <class T>
using Matrix = xt::xtensor_container<Buffer<T>, 2, xt::layout_type::row_major>;

struct Shape {
    std::size_t rows = 0;
    std::size_t cols = 0;
    bool operator==(const Shape& o) const { return rows == o.rows && cols == o.cols; }
    bool operator!=(const Shape& o) const { return !(*this == o); }
};

template <class T>
Shape shape_of(const Matrix<T>& m) {
    return {m.shape()[0], m.shape()[1]};
}

// "[20,12288]"
std::string to_string(const Shape& s);
std::ostream& operator<<(std::ostream& os, const Shape& s);

// Base of every error xgrad throws, so a program can catch all of them in one place.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
// Shapes that do not fit an op, a model or a file.
class ShapeError : public Error {
public:
    using Error::Error;
};
// Input data or a file that is missing, malformed or out of range.
class DataError : public Error {
public:
    using Error::Error;
};
// A NaN or Inf where a finite number is required.
class NumericError : public Error {
public:
    using Error::Error;
};
// A misuse of the API (bad node id, bad option value).
class UsageError : public Error {
public:
    using Error::Error;
};

}  // namespace xgrad
