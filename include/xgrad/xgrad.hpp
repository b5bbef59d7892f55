#pragma once
// xgrad: a small tape-based reverse-mode autodiff engine over dense 2-D tensors.
#include "xgrad/blas.hpp"
#include "xgrad/custom_op.hpp"
#include "xgrad/gradcheck.hpp"
#include "xgrad/mlp.hpp"
#include "xgrad/mlp_check.hpp"
#include "xgrad/nn.hpp"
#include "xgrad/random.hpp"
#include "xgrad/reference.hpp"
#include "xgrad/tape.hpp"
#include "xgrad/tensor.hpp"
#include "xgrad/train.hpp"
