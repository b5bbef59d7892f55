#include "xgrad/reference.hpp"

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xmath.hpp>

namespace xgrad::reference {

template <class T>
Matrix<T> linear_forward(const Matrix<T>& A, const Matrix<T>& W, const Matrix<T>& b) {
    return xt::linalg::dot(W, A) + b;
}

template <class T>
Matrix<T> relu_forward(const Matrix<T>& Z) {
    return xt::maximum(T(0), Z);
}

template <class T>
Matrix<T> sigmoid_forward(const Matrix<T>& Z) {
    return T(1) / (T(1) + xt::exp(-Z));
}

template <class T>
Matrix<T> relu_backward(const Matrix<T>& dA, const Matrix<T>& Z) {
    return xt::where(Z <= T(0), T(0), dA);
}

template <class T>
Matrix<T> sigmoid_backward(const Matrix<T>& dA, const Matrix<T>& Z) {
    const Matrix<T> s = T(1) / (T(1) + xt::exp(-Z));
    return dA * s * (T(1) - s);
}

template <class T>
void linear_backward(const Matrix<T>& dZ, const Matrix<T>& A_prev, const Matrix<T>& W,
                     Matrix<T>& dW, Matrix<T>& db, Matrix<T>& dA_prev) {
    const T m = T(A_prev.shape()[1]);
    dW = xt::linalg::dot(dZ, xt::transpose(A_prev)) / m;
    db = xt::sum(dZ, {1}, xt::keep_dims) / m;
    dA_prev = xt::linalg::dot(xt::transpose(W), dZ);
}

template <class T>
Propagation<T> propagate(const MlpSpec& spec, const Params<T>& params, const Matrix<T>& X,
                         const Matrix<T>& Y) {
    const std::size_t L = spec.layers();
    const T m = T(X.shape()[1]);
    Propagation<T> r;
    r.Z.resize(L + 1);
    r.A.resize(L + 1);
    r.dA.resize(L + 1);
    r.dZ.resize(L + 1);
    r.dW.resize(L + 1);
    r.db.resize(L + 1);
    r.A[0] = X;
    for (std::size_t l = 1; l <= L; ++l) {
        r.Z[l] = linear_forward(r.A[l - 1], params.W[l - 1], params.b[l - 1]);
        r.A[l] = spec.activations[l - 1] == Activation::relu ? relu_forward(r.Z[l])
                                                              : sigmoid_forward(r.Z[l]);
    }
    const Matrix<T>& P = r.A[L];
    r.cost = -xt::sum(Y * xt::log(P) + (T(1) - Y) * xt::log(T(1) - P))() / m;
    r.dA[L] = -(Y / P) + (T(1) - Y) / (T(1) - P);
    for (std::size_t l = L; l >= 1; --l) {
        r.dZ[l] = spec.activations[l - 1] == Activation::relu ? relu_backward(r.dA[l], r.Z[l])
                                                               : sigmoid_backward(r.dA[l], r.Z[l]);
        linear_backward(r.dZ[l], r.A[l - 1], params.W[l - 1], r.dW[l], r.db[l], r.dA[l - 1]);
    }
    return r;
}

#define XGRAD_INSTANTIATE_REFERENCE(T)                                                          \
    template Matrix<T> linear_forward(const Matrix<T>&, const Matrix<T>&, const Matrix<T>&);   \
    template Matrix<T> relu_forward(const Matrix<T>&);                                          \
    template Matrix<T> sigmoid_forward(const Matrix<T>&);                                       \
    template Matrix<T> relu_backward(const Matrix<T>&, const Matrix<T>&);                       \
    template Matrix<T> sigmoid_backward(const Matrix<T>&, const Matrix<T>&);                    \
    template void linear_backward(const Matrix<T>&, const Matrix<T>&, const Matrix<T>&,        \
                                  Matrix<T>&, Matrix<T>&, Matrix<T>&);                          \
    template Propagation<T> propagate(const MlpSpec&, const Params<T>&, const Matrix<T>&,      \
                                      const Matrix<T>&);
XGRAD_INSTANTIATE_REFERENCE(float)
XGRAD_INSTANTIATE_REFERENCE(double)

}  // namespace xgrad::reference
