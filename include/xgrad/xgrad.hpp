#pragma once
// xgrad: a small tape-based reverse-mode autodiff engine over dense 2-D tensors, in layers that
// depend only downwards (each a CMake target: xgrad::core, xgrad::nn, xgrad::io, xgrad::check;
// xgrad::xgrad links them all):
//   core   the tape, Vars, the op table, custom ops, tensors, the BLAS  (xtensor + BLAS only)
//   nn     layers, the seed's MLP, initialisers and numpy's random numbers, optimisers, training
//   io     datasets, models, parameters, checkpoints, images  (HDF5 + stb)
//   check  gradient checks: finite differences for any tape, and the seed's hand-derived formulas
//   dist   data-parallel training over MPI (xgrad::dist, built when MPI was found: the target
//          xgrad::xgrad then defines XGRAD_HAVE_DIST and this header includes it)
// This header is the user's API of all four; the check layer's test oracles (the hand-derived
// reference and the MLP's check) are included where they are used.
#include "xgrad/core/blas.hpp"
#include "xgrad/core/custom_op.hpp"
#include "xgrad/core/tape.hpp"
#include "xgrad/core/tensor.hpp"
#include "xgrad/nn/layers.hpp"
#include "xgrad/nn/mlp.hpp"
#include "xgrad/nn/random.hpp"
#include "xgrad/nn/train.hpp"
#include "xgrad/io/checkpoint.hpp"
#include "xgrad/io/io.hpp"
#include "xgrad/io/parameters.hpp"
#include "xgrad/check/gradcheck.hpp"
#if defined(XGRAD_HAVE_DIST)
#include "xgrad/dist/dist.hpp"
#endif
