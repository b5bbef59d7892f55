#pragma once
// The named parameters of any model or tape, saved to and loaded from HDF5 (one dataset per
// parameter, named by it; h5py reads it as a dict of arrays). The Mlp's model.h5 files load the
// same way into a tape whose parameters are named W1, b1, ... (Mlp names them so).
//
//     save("model.h5", net.named_parameters());               // fc1.W, fc1.b, fc2.W, fc2.b
//     load("model.h5", net.named_parameters());
#include <string>

#include "xgrad/core/tape.hpp"
#include "xgrad/nn/layers.hpp"

namespace xgrad {

// Writes the parameters to `path` atomically (a temporary file beside it, fsynced, renamed): one
// 2-D dataset per parameter named by it, the root attribute dtype ("f32"/"f64") and
// format = "xgrad-parameters". Names must be unique, non-empty, without '/'. A failure is a
// DataError "<path>: cannot write the parameters: <cause>" and leaves any previous file as it was.
template <class T>
void save(const std::string& path, const NamedParameters<T>& params);
template <class T>
void save(const std::string& path, Tape<T>& tape) {
    save(path, named_parameters(tape));
}

// Reads `path` into the parameters (their values change; nothing is recorded): the file must have
// exactly these names (a missing or an extra one is a DataError naming it), each of the
// parameter's shape, stored as f32 or f64 (converted to T) with finite values; dtype "f32"/"f64"
// at the root. The file is read in the isolated reader (xgrad/io/io.hpp), which nothing in it can
// crash or hang. Every problem is one DataError "<path>: <what>"; on error no parameter is changed.
template <class T>
void load(const std::string& path, const NamedParameters<T>& params);
template <class T>
void load(const std::string& path, Tape<T>& tape) {
    load(path, named_parameters(tape));
}

}  // namespace xgrad
