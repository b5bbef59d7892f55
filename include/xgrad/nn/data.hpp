#pragma once
// Where training examples come from. A DataSource hands out examples as columns: X [features, n]
// and Y [label_rows, n] for any list of example indices. The Trainer (and a loop of one's own)
// asks for each batch with fetch() and announces the next one with prefetch(), so that a source
// that reads from a file (xgrad/io/stream.hpp) reads batch k+1 while batch k is computed. In
// memory (MemorySource) fetch is a gather of columns and prefetch does nothing.
//
// Data-parallel training splits every batch by columns across the processes of a job
// (share_of): process r of N computes columns share_of(n, r, N) of each batch of n, and the
// gradients are summed across processes (a Collective, xgrad/nn/train.hpp; MPI's in xgrad/dist).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "xgrad/core/tensor.hpp"

namespace xgrad {

template <class T>
class DataSource {
public:
    virtual ~DataSource() = default;

    virtual std::size_t examples() const = 0;    // m
    virtual std::size_t features() const = 0;    // rows of X (n_x)
    virtual std::size_t label_rows() const = 0;  // rows of Y

    // X := [features, n], Y := [label_rows, n], column j the example idx[j]. X and Y are resized
    // (no allocation within their capacity). An index >= examples() or n == 0 is a UsageError;
    // a file that cannot be read is a DataError naming it.
    virtual void fetch(const std::size_t* idx, std::size_t n, Matrix<T>& X, Matrix<T>& Y) = 0;

    // A hint: the next fetch() asks for exactly these examples. A streaming source starts reading
    // them in the background (it copies idx); a fetch() of other examples still works, only
    // without the head start. Default: nothing.
    virtual void prefetch(const std::size_t* idx, std::size_t n) {
        (void)idx;
        (void)n;
    }

    // True when the examples are not held in memory: a full-batch Trainer then works through the
    // batch in chunks of chunk_columns() (the gradients accumulated), so memory does not grow with m.
    virtual bool streams() const { return false; }
    // For a streaming source: the columns per chunk of a full batch (memory ~ 2 chunks of X;
    // mini-batches are computed whole).
    virtual std::size_t chunk_columns() const { return 0; }
};

// Examples held in memory: X [n_x, m], Y [k, m].
template <class T>
class MemorySource final : public DataSource<T> {
public:
    // Throws ShapeError when X and Y have different widths.
    MemorySource(Matrix<T> X, Matrix<T> Y);

    std::size_t examples() const override { return X_.shape()[1]; }
    std::size_t features() const override { return X_.shape()[0]; }
    std::size_t label_rows() const override { return Y_.shape()[0]; }
    void fetch(const std::size_t* idx, std::size_t n, Matrix<T>& X, Matrix<T>& Y) override;

    const Matrix<T>& X() const { return X_; }
    const Matrix<T>& Y() const { return Y_; }

private:
    Matrix<T> X_, Y_;
};

// One process's share of a batch of n columns split across `size` processes: columns
// [begin, begin + count). Contiguous, in rank order, the first n % size ranks one column more, so
// rank 0 always has a column when n >= 1 (and the shares of all ranks cover [0, n) exactly once).
struct Share {
    std::size_t begin = 0, count = 0;
};
Share share_of(std::size_t n, int rank, int size);

// Columns cols[0..n) of `all` [rows, m] into dst, which becomes [rows, n] (no allocation within
// its capacity). An index >= m is a UsageError.
template <class T>
void gather_columns(const Matrix<T>& all, const std::size_t* cols, std::size_t n, Matrix<T>& dst);

// A dataset's identity, for refusing a resume on other data: "m=209 features=12288 labels=1
// sample=<16 hex digits>", the hash (FNV-1a, 64 bits) of the values of 64 evenly spaced examples
// (all of them when there are fewer) and their labels. Cheap (64 examples read, however large m
// is) and the same for a source and for the matrices it serves, streamed or in memory.
template <class T>
std::string data_identity(DataSource<T>& source);
template <class T>
std::string data_identity(const Matrix<T>& X, const Matrix<T>& Y);

extern template class MemorySource<float>;
extern template class MemorySource<double>;

}  // namespace xgrad
