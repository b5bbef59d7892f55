#include "xgrad/check/reference.hpp"

#include <cmath>
#include <string>

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
Matrix<T> tanh_forward(const Matrix<T>& Z) {
    return xt::tanh(Z);
}

// Column reductions to [1,m] are evaluated into a Matrix before they are broadcast back over the
// rows: an unevaluated keep_dims reducer in a broadcasting expression gives wrong values with the
// xtensor in use, 0.24 (Z - amax(Z, {0}, keep_dims) did, in a 3x2 test; the symptom of
// xtensor-stack/xtensor issue 2737).
namespace {
template <class T>
Matrix<T> column_max(const Matrix<T>& Z) {
    return xt::amax(Z, {0}, xt::keep_dims);
}
template <class T>
Matrix<T> column_sum(const Matrix<T>& Z) {
    return xt::sum(Z, {0}, xt::keep_dims);
}
}  // namespace

template <class T>
Matrix<T> softmax_forward(const Matrix<T>& Z) {
    const Matrix<T> mx = column_max(Z);
    const Matrix<T> e = xt::exp(Z - mx);
    const Matrix<T> s = column_sum(e);
    return e / s;
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
Matrix<T> tanh_backward(const Matrix<T>& dA, const Matrix<T>& A) {
    return dA * (T(1) - A * A);
}

template <class T>
Matrix<T> dropout_forward(const Matrix<T>& A, const Matrix<T>& D) {
    return A * D;
}

template <class T>
Matrix<T> dropout_backward(const Matrix<T>& dA_dropped, const Matrix<T>& D) {
    return dA_dropped * D;
}

template <class T>
void linear_backward(const Matrix<T>& dZ, const Matrix<T>& A_prev, const Matrix<T>& W,
                     Matrix<T>& dW, Matrix<T>& db, Matrix<T>& dA_prev) {
    const T m = T(A_prev.shape()[1]);
    dW = xt::linalg::dot(dZ, xt::transpose(A_prev)) / m;
    db = xt::sum(dZ, {1}, xt::keep_dims) / m;
    dA_prev = xt::linalg::dot(xt::transpose(W), dZ);
}

namespace {

template <class T>
Matrix<T> activation_forward(Activation g, const Matrix<T>& Z) {
    switch (g) {
        case Activation::relu: return relu_forward(Z);
        case Activation::sigmoid: return sigmoid_forward(Z);
        case Activation::tanh: return tanh_forward(Z);
        case Activation::softmax: return softmax_forward(Z);
    }
    throw UsageError("reference: unknown activation");
}

// dZ_l from dA_l for a layer whose activation has a derivative of its own (not the softmax
// output, whose dZ comes straight from the loss).
template <class T>
Matrix<T> activation_backward(Activation g, const Matrix<T>& dA, const Matrix<T>& Z,
                              const Matrix<T>& A) {
    switch (g) {
        case Activation::relu: return relu_backward(dA, Z);
        case Activation::sigmoid: return sigmoid_backward(dA, Z);
        case Activation::tanh: return tanh_backward(dA, A);
        case Activation::softmax: break;
    }
    throw UsageError("reference: softmax is an output layer; its dZ comes from the loss");
}

// [K,m] labels as given; [1,m] class indices as one-hot columns (a DataError names a bad label).
template <class T>
Matrix<T> label_columns(const Matrix<T>& Y, std::size_t K, std::size_t m) {
    if (Y.shape()[1] != m || (Y.shape()[0] != K && Y.shape()[0] != 1))
        throw ShapeError("reference: softmax labels are " + to_string(shape_of(Y)) + ", expected [" +
                         std::to_string(K) + "," + std::to_string(m) + "] (one-hot) or [1," +
                         std::to_string(m) + "] (class indices)");
    if (Y.shape()[0] == K) return Y;
    Matrix<T> onehot = xt::zeros<T>({K, m});
    for (std::size_t j = 0; j < m; ++j) {
        const double v = double(Y(0, j));
        if (!(v >= 0 && v < double(K) && v == std::floor(v)))
            throw DataError("reference: label of column " + std::to_string(j) + " is " +
                            std::to_string(v) + ", expected a class index 0.." +
                            std::to_string(K - 1));
        onehot(std::size_t(v), j) = T(1);
    }
    return onehot;
}

template <class T>
void check_masks(const MlpSpec& spec, std::size_t m, const std::vector<Matrix<T>>& masks) {
    const std::size_t L = spec.layers();
    if (masks.empty()) return;
    if (masks.size() != L + 1)
        throw UsageError("reference: masks are indexed by layer 0.." + std::to_string(L) +
                         " and need " + std::to_string(L + 1) + " entries (or none), got " +
                         std::to_string(masks.size()));
    if (masks[0].size() != 0 || masks[L].size() != 0)
        throw UsageError(L == 1 ? std::string("reference: a one-layer network has no hidden layer "
                                              "to drop out; every mask entry must be empty")
                                : "reference: dropout masks are for hidden layers 1.." +
                                      std::to_string(L - 1) + " only; entries 0 and " +
                                      std::to_string(L) + " must be empty");
    for (std::size_t l = 1; l < L; ++l) {
        if (masks[l].size() == 0) continue;
        const Shape want{spec.dims[l], m};
        if (shape_of(masks[l]) != want)
            throw ShapeError("reference: the dropout mask of layer " + std::to_string(l) + " is " +
                             to_string(shape_of(masks[l])) + ", expected " + to_string(want));
    }
}

}  // namespace

template <class T>
Propagation<T> propagate(const MlpSpec& spec, const Params<T>& params, const Matrix<T>& X,
                         const Matrix<T>& Y) {
    return propagate(spec, params, X, Y, 0.0, {});
}

template <class T>
Propagation<T> propagate(const MlpSpec& spec, const Params<T>& params, const Matrix<T>& X,
                         const Matrix<T>& Y, double lambd, const std::vector<Matrix<T>>& masks) {
    const std::size_t L = spec.layers();
    const std::size_t cols = X.shape()[1];
    const T m = T(cols);
    if (!(lambd >= 0) || !std::isfinite(lambd))
        throw UsageError("reference: the L2 factor lambd must be >= 0, got " + std::to_string(lambd));
    check_masks(spec, cols, masks);
    auto dropped = [&](std::size_t l) { return !masks.empty() && masks[l].size() != 0; };
    const bool softmax = spec.softmax_output();

    Propagation<T> r;
    r.Z.resize(L + 1);
    r.A.resize(L + 1);
    r.dA.resize(L + 1);
    r.dZ.resize(L + 1);
    r.dW.resize(L + 1);
    r.db.resize(L + 1);
    r.A[0] = X;
    // in[l]: what layer l+1 reads, A_l or A_l ⊙ D_l.
    std::vector<Matrix<T>> in(L);
    in[0] = X;
    for (std::size_t l = 1; l <= L; ++l) {
        r.Z[l] = linear_forward(in[l - 1], params.W[l - 1], params.b[l - 1]);
        r.A[l] = activation_forward(spec.activations[l - 1], r.Z[l]);
        if (l < L) in[l] = dropped(l) ? dropout_forward(r.A[l], masks[l]) : r.A[l];
    }

    const Matrix<T>& P = r.A[L];
    if (softmax) {
        const Matrix<T> Yc = label_columns(Y, spec.dims[L], cols);
        // log P from the logits, log softmax = Z − max − log Σ exp(Z − max): finite where P
        // underflows to 0.
        const Matrix<T> mx = column_max(r.Z[L]);
        const Matrix<T> shifted = r.Z[L] - mx;
        const Matrix<T> lse = xt::log(column_sum(Matrix<T>(xt::exp(shifted))));
        const Matrix<T> logP = shifted - lse;
        r.data_cost = -xt::sum(Yc * logP)() / m;
        r.dA[L] = xt::where(xt::equal(Yc, T(0)), T(0), -(Yc / P));  // not used below; 0 where y = 0
        const Matrix<T> ysum = column_sum(Yc);
        r.dZ[L] = P * ysum - Yc;
    } else {
        if (shape_of(Y) != shape_of(P))
            throw ShapeError("reference: labels are " + to_string(shape_of(Y)) + ", A_L is " +
                             to_string(shape_of(P)));
        r.data_cost = -xt::sum(Y * xt::log(P) + (T(1) - Y) * xt::log(T(1) - P))() / m;
        r.dA[L] = -(Y / P) + (T(1) - Y) / (T(1) - P);
        r.dZ[L] = sigmoid_backward(r.dA[L], r.Z[L]);
    }
    T sq = 0;
    for (std::size_t l = 1; l <= L; ++l) sq += xt::sum(params.W[l - 1] * params.W[l - 1])();
    r.cost = r.data_cost + T(lambd) / (T(2) * m) * sq;

    for (std::size_t l = L; l >= 1; --l) {
        if (l < L) {
            // r.dA[l] holds W_{l+1}ᵀ dZ_{l+1}, the gradient of what layer l+1 read; through the
            // mask it becomes the gradient of A_l itself.
            if (dropped(l)) r.dA[l] = dropout_backward(r.dA[l], masks[l]);
            r.dZ[l] = activation_backward(spec.activations[l - 1], r.dA[l], r.Z[l], r.A[l]);
        }
        linear_backward(r.dZ[l], in[l - 1], params.W[l - 1], r.dW[l], r.db[l], r.dA[l - 1]);
        if (lambd > 0) r.dW[l] += (T(lambd) / m) * params.W[l - 1];
    }
    return r;
}

#define XGRAD_INSTANTIATE_REFERENCE(T)                                                          \
    template Matrix<T> linear_forward(const Matrix<T>&, const Matrix<T>&, const Matrix<T>&);   \
    template Matrix<T> relu_forward(const Matrix<T>&);                                          \
    template Matrix<T> sigmoid_forward(const Matrix<T>&);                                       \
    template Matrix<T> tanh_forward(const Matrix<T>&);                                          \
    template Matrix<T> softmax_forward(const Matrix<T>&);                                       \
    template Matrix<T> relu_backward(const Matrix<T>&, const Matrix<T>&);                       \
    template Matrix<T> sigmoid_backward(const Matrix<T>&, const Matrix<T>&);                    \
    template Matrix<T> tanh_backward(const Matrix<T>&, const Matrix<T>&);                       \
    template Matrix<T> dropout_forward(const Matrix<T>&, const Matrix<T>&);                     \
    template Matrix<T> dropout_backward(const Matrix<T>&, const Matrix<T>&);                    \
    template void linear_backward(const Matrix<T>&, const Matrix<T>&, const Matrix<T>&,        \
                                  Matrix<T>&, Matrix<T>&, Matrix<T>&);                          \
    template Propagation<T> propagate(const MlpSpec&, const Params<T>&, const Matrix<T>&,      \
                                      const Matrix<T>&);                                        \
    template Propagation<T> propagate(const MlpSpec&, const Params<T>&, const Matrix<T>&,      \
                                      const Matrix<T>&, double, const std::vector<Matrix<T>>&);
XGRAD_INSTANTIATE_REFERENCE(float)
XGRAD_INSTANTIATE_REFERENCE(double)

}  // namespace xgrad::reference
