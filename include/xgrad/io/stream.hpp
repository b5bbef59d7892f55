#pragma once
// Training examples streamed from an HDF5 file instead of loaded: H5StreamSource reads only the
// examples of the batch (or chunk) the Trainer asks for, and reads the next one while the current
// one is computed (DataSource::prefetch), as PyTorch's DataLoader workers do.
//
//     auto src = std::make_shared<xgrad::io::H5StreamSource<double>>("train_catvnoncat.h5");
//     xgrad::Trainer<double> trainer(spec, init, src, config);  // mini-batches or chunked full batch
//
// The file is read by a persistent helper process (xgrad-read in stream mode, as every user's file
// is: see xgrad/io/io.hpp), which opens it once and answers each list of example indices with their
// raw bytes (already in column order) and labels; a background thread of the source sends the
// requests and receives the answers, and fetch() converts the bytes into X in one pass. So the
// program never calls HDF5 for the stream (its own HDF5 calls, checkpoints and models, need no
// lock), and a damaged file which crashes or hangs the reader is one DataError naming the file.
// Memory: one part's raw bytes here (features x n bytes), about two in the reader, whatever m is.
//
// Layout (the course's): images `x_name` (m, ...) uint8, any trailing dimensions (features = their
// product, C order, as load_image_set flattens them), labels `y_name` (m,) or (1, m) integers 0/1.
// Values are converted exactly as the in-memory loader does: T(double(v) / 255.0).

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "xgrad/nn/data.hpp"

namespace xgrad::io {

struct StreamOptions {
    std::string x_name = "train_set_x";
    std::string y_name = "train_set_y";
    // The columns a full-batch Trainer computes at once (DataSource::chunk_columns).
    std::size_t chunk_columns = 256;
};

template <class T>
class H5StreamSource final : public DataSource<T> {
public:
    // Starts the reader and checks the layout (DataError "<file>: ..." naming the dataset and what
    // was expected, or why the file cannot be read).
    explicit H5StreamSource(const std::string& file, StreamOptions options = {});
    ~H5StreamSource() override;
    H5StreamSource(const H5StreamSource&) = delete;
    H5StreamSource& operator=(const H5StreamSource&) = delete;

    std::size_t examples() const override;
    std::size_t features() const override;
    std::size_t label_rows() const override { return 1; }
    // X [features, n], Y [1, n]. A label other than 0/1 is a DataError "<file>: dataset '<y>':
    // example <i> has label <v>, expected 0 or 1"; a crashed, hung or failing reader a DataError
    // naming the file (and every later fetch repeats it).
    void fetch(const std::size_t* idx, std::size_t n, Matrix<T>& X, Matrix<T>& Y) override;
    void prefetch(const std::size_t* idx, std::size_t n) override;
    bool streams() const override { return true; }
    std::size_t chunk_columns() const override;

    const std::string& file() const;
    // One example's dimensions (e.g. {64, 64, 3}).
    const std::vector<std::size_t>& example_shape() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

extern template class H5StreamSource<float>;
extern template class H5StreamSource<double>;

}  // namespace xgrad::io
