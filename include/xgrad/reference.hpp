#pragma once
// The hand-derived reference: the seed's propagate(), written out step by step with its own
// per-step functions and no tape. It is the yardstick the tape's gradients are checked against.
//
// Scale, as in the seed: dA_l and dZ_l are gradients of m·cost (no 1/m); dW_l and db_l are
// gradients of cost. A tape that differentiates cost has dA_l/m and dZ_l/m.

#include "xgrad/mlp.hpp"

namespace xgrad::reference {

template <class T>
struct Propagation {
    std::vector<Matrix<T>> Z, A;        // Z[l], A[l] for l = 0..L; Z[0] is empty, A[0] = X
    std::vector<Matrix<T>> dA, dZ;      // index l = 0..L; dA[0] = W_1ᵀ dZ_1 (the seed computes it)
    std::vector<Matrix<T>> dW, db;      // index l = 1..L; entry 0 is empty
    T cost = 0;
};

template <class T>
Matrix<T> linear_forward(const Matrix<T>& A, const Matrix<T>& W, const Matrix<T>& b);
template <class T>
Matrix<T> relu_forward(const Matrix<T>& Z);
template <class T>
Matrix<T> sigmoid_forward(const Matrix<T>& Z);
template <class T>
Matrix<T> relu_backward(const Matrix<T>& dA, const Matrix<T>& Z);
template <class T>
Matrix<T> sigmoid_backward(const Matrix<T>& dA, const Matrix<T>& Z);
// dW = dZ A_prevᵀ / m, db = row sums of dZ / m, dA_prev = Wᵀ dZ
template <class T>
void linear_backward(const Matrix<T>& dZ, const Matrix<T>& A_prev, const Matrix<T>& W,
                     Matrix<T>& dW, Matrix<T>& db, Matrix<T>& dA_prev);

// The seed's propagate(X, Y, parameters, layers_dims, activations).
template <class T>
Propagation<T> propagate(const MlpSpec& spec, const Params<T>& params, const Matrix<T>& X,
                         const Matrix<T>& Y);

}  // namespace xgrad::reference
