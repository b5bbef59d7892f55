#pragma once
// The op table: one line per built-in op, in the order of OpKind.
//
// X(name, api): `name` is the op's kind (OpKind::name), its printed name, and its source file
// lib/core/ops/name.cpp (CMake reads this list to compile them); `api` says how it is written on Vars:
//   unary   a free function name(a) is generated (xgrad/var.hpp);
//   custom  its function has its own signature, written by hand in xgrad/var.hpp.
// An op file refers to OpKind::name, so an op without a line here does not compile; a line
// without its file fails at configure time.
//
// Shapes: a, b are the inputs; "bcast" is numpy's 2-D broadcasting ([1,1], [n,1] and [1,m] stretch
// to the other operand's shape, the gradient is summed back over the stretched axes).
#define XGRAD_OPS(X)                                                                           \
    X(matmul, custom)      /* a[M,K] · b[K,N] -> [M,N]                                     */ \
    X(add_bias, custom)    /* a[n,m] + b[n,1] (every column) -> [n,m]                      */ \
    X(add, custom)         /* a + b, bcast                                                 */ \
    X(sub, custom)         /* a - b, bcast                                                 */ \
    X(mul, custom)         /* a ⊙ b, bcast                                                 */ \
    X(div, custom)         /* a / b, bcast (IEEE: x/0 = ±inf, 0/0 = nan)                   */ \
    X(scale, custom)       /* c · a, any shape (attr: scalar)                              */ \
    X(add_scalar, custom)  /* a + c, any shape (attr: scalar)                              */ \
    X(pow, custom)         /* a^p elementwise (attr: scalar p)                             */ \
    X(exp, unary)          /* e^a elementwise                                              */ \
    X(log, unary)          /* natural log elementwise; log 0 = -inf, d/da = 1/a            */ \
    X(sqrt, unary)         /* √a elementwise; d/da at 0 = +inf                             */ \
    X(square, unary)       /* a² elementwise                                               */ \
    X(abs, unary)          /* |a| elementwise; d/da at 0 = 0                               */ \
    X(relu, unary)         /* max(a, 0) elementwise; d/da at 0 = 0                         */ \
    X(sigmoid, unary)      /* 1 / (1 + e^-a) elementwise                                   */ \
    X(tanh, unary)         /* tanh a elementwise                                           */ \
    X(softmax, unary)      /* per column: e^(a - max) / Σ e^(a - max), [K,m] -> [K,m]      */ \
    X(log_softmax, unary)  /* per column: a - max - log Σ e^(a - max), [K,m] -> [K,m]      */ \
    X(transpose, unary)    /* [m,n] -> [n,m]                                               */ \
    X(sum, custom)         /* Σ: all -> [1,1]; axis 0 -> [1,n]; axis 1 -> [m,1]            */ \
    X(mean, custom)        /* mean: all -> [1,1]; axis 0 -> [1,n]; axis 1 -> [m,1]         */ \
    X(max, custom)         /* max along an axis (as sum); gradient to the first maximum    */ \
    X(sq_norm, unary)      /* Σ a² -> [1,1] (squared Frobenius norm, L2 penalties)         */ \
    X(concat, custom)      /* axis 0: [m1,n] over [m2,n] -> [m1+m2,n], axis 1: beside   */ \
    X(slice, custom)       /* rows [begin,end) (axis 0) or columns (axis 1) of a           */ \
    X(bce, custom)         /* p, y [k,m] -> [1,1]: -Σ(y log p + (1-y) log(1-p)) / m        */ \
    X(sigmoid_bce, custom) /* z, y [k,m] -> [1,1]: bce(sigmoid(z), y), stable from logits  */ \
    X(softmax_ce, custom)  /* z [K,m], y [K,m] or [1,m] class indices -> [1,1]             */ \
    X(mse, custom)         /* a, y same shape -> [1,1]: mean of (a - y)² over all entries  */
