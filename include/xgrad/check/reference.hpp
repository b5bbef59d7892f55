#pragma once
// The hand-derived reference: the seed's propagate(), written out step by step with its own
// per-step functions and no tape. It is the yardstick the tape's gradients are checked against.
//
// Scale, as in the seed: dA_l and dZ_l are gradients of m·cost (no 1/m); dW_l and db_l are
// gradients of cost. A tape that differentiates cost has dA_l/m and dZ_l/m.
//
// Beyond the seed's relu/sigmoid network (the course's regularisation and multi-class formulas):
//   tanh hidden layers   A = tanh(Z),  dZ = dA ⊙ (1 − A²)   (A the activation itself, before any
//                        dropout mask)
//   softmax output       P = softmax(Z_L) per column, cost = −Σ y log P / m,
//                        dZ_L = P ⊙ Σ_k y_k − Y  (= P − Y for one-hot columns; [1,m] class
//                        indices are taken as one-hot); dA_L = −Y / P (0 where y = 0) is kept
//                        for completeness, but a tape that records softmax_ce on Z_L has no
//                        gradient of A_L to compare it with
//   L2                   cost += lambd/(2m) · Σ_l ‖W_l‖²,  dW_l += (lambd/m) · W_l
//   dropout, fixed masks forward: layer l+1 reads A_l ⊙ D_l (D_l holds 0 or 1/keep, so the
//                        seed's "/ keep_prob" is inside D_l);
//                        backward: dA_l = (W_{l+1}ᵀ dZ_{l+1}) ⊙ D_l, then dZ_l = dA_l ⊙ g'(Z_l).
//
// With dropout after layer l, dA[l] is therefore the gradient with respect to A_l itself — the
// activation before the mask, as the seed's dA_l after its "dA = dA * D / keep_prob" step — and
// not the gradient with respect to the dropped output A_l ⊙ D_l (that one is W_{l+1}ᵀ dZ_{l+1},
// which propagate() does not keep). A tape that records A_l and then A_l ⊙ D_l has exactly dA[l]/m
// as the gradient of its A_l node.

#include <vector>

#include "xgrad/nn/mlp.hpp"

namespace xgrad::reference {

template <class T>
struct Propagation {
    std::vector<Matrix<T>> Z, A;        // Z[l], A[l] for l = 0..L; Z[0] is empty, A[0] = X;
                                        // A[l] is the activation before any dropout mask
    std::vector<Matrix<T>> dA, dZ;      // index l = 0..L; dA[0] = W_1ᵀ dZ_1 (the seed computes it)
    std::vector<Matrix<T>> dW, db;      // index l = 1..L; entry 0 is empty
    T cost = 0;       // cross-entropy + the L2 penalty
    T data_cost = 0;  // cross-entropy alone
};

template <class T>
Matrix<T> linear_forward(const Matrix<T>& A, const Matrix<T>& W, const Matrix<T>& b);
template <class T>
Matrix<T> relu_forward(const Matrix<T>& Z);
template <class T>
Matrix<T> sigmoid_forward(const Matrix<T>& Z);
template <class T>
Matrix<T> tanh_forward(const Matrix<T>& Z);
// Per column exp(z − max) / Σ exp(z − max).
template <class T>
Matrix<T> softmax_forward(const Matrix<T>& Z);
template <class T>
Matrix<T> relu_backward(const Matrix<T>& dA, const Matrix<T>& Z);
template <class T>
Matrix<T> sigmoid_backward(const Matrix<T>& dA, const Matrix<T>& Z);
// dA ⊙ (1 − A²), from the activation A = tanh(Z) (not from Z).
template <class T>
Matrix<T> tanh_backward(const Matrix<T>& dA, const Matrix<T>& A);
// A ⊙ D: what the next layer reads.
template <class T>
Matrix<T> dropout_forward(const Matrix<T>& A, const Matrix<T>& D);
// dA_dropped ⊙ D: the gradient with respect to A from the gradient with respect to A ⊙ D.
template <class T>
Matrix<T> dropout_backward(const Matrix<T>& dA_dropped, const Matrix<T>& D);
// dW = dZ A_prevᵀ / m, db = row sums of dZ / m, dA_prev = Wᵀ dZ
template <class T>
void linear_backward(const Matrix<T>& dZ, const Matrix<T>& A_prev, const Matrix<T>& W,
                     Matrix<T>& dW, Matrix<T>& db, Matrix<T>& dA_prev);

// The seed's propagate(X, Y, parameters, layers_dims, activations): sigmoid outputs with labels of
// A_L's shape, or softmax outputs with [K,m] (one-hot) or [1,m] (class index) labels.
template <class T>
Propagation<T> propagate(const MlpSpec& spec, const Params<T>& params, const Matrix<T>& X,
                         const Matrix<T>& Y);

// The same with the L2 penalty (lambd >= 0, else UsageError) and fixed dropout masks: masks is
// empty (no dropout) or has L+1 entries indexed by layer, masks[l] = D_l [n_l, m] for a hidden
// layer l with dropout and empty for the others (entries 0 and L are always empty: no dropout on
// the input or the output). A mask of the wrong shape is a ShapeError.
template <class T>
Propagation<T> propagate(const MlpSpec& spec, const Params<T>& params, const Matrix<T>& X,
                         const Matrix<T>& Y, double lambd, const std::vector<Matrix<T>>& masks);

}  // namespace xgrad::reference
