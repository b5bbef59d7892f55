#pragma once
// Training checkpoints: everything a Trainer needs to continue bit for bit (parameters, optimiser
// state, dropout generator, epoch), the settings it was started with and the costs so far, in one
// HDF5 file written atomically (temporary file, fsync, rename, fsync of the directory): a crash at
// any moment leaves either the previous complete checkpoint or the new complete one.

#include <string>
#include <utility>
#include <vector>

#include "xgrad/nn/train.hpp"

namespace xgrad::io {

// Settings as name/value texts ("learning-rate", "0.0075"); a resume compares them.
using Settings = std::vector<std::pair<std::string, std::string>>;

template <class T>
struct Checkpoint {
    TrainerState<T> state;
    Settings settings;
    std::vector<double> costs;  // one per epoch done
};

template <class T>
void save_checkpoint(const std::string& path, const Checkpoint<T>& checkpoint);

// "f32" or "f64": the type the checkpoint was trained in. DataError if the file is no checkpoint.
std::string checkpoint_dtype(const std::string& path);

// Reads a checkpoint written by save_checkpoint<T>, in the isolated reader (xgrad/io/io.hpp: a
// crash, hang or memory exhaustion there is a DataError too). Checks the format tag, dtype,
// counts, that the layers chain, finite values, one cost per epoch, the generator state. Every
// problem (missing file, not HDF5, not a checkpoint, another dtype, missing or damaged parts,
// non-finite values) is a DataError naming the file.
template <class T>
Checkpoint<T> load_checkpoint(const std::string& path);

}  // namespace xgrad::io
