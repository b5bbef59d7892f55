// matmul: C[M,N] = A[M,K] · B[K,N]
//   dA += dC · Bᵀ   [M,N]·[N,K]
//   dB += Aᵀ · dC   [K,M]·[M,N]
// BLAS is called on the tape's buffers with transpose flags: no transposed copies, no temporaries.
#include "blas.hpp"
#include "ops/ops.hpp"

namespace xgrad::ops {

Shape matmul_shape(Shape a, Shape b) {
    if (a.cols != b.rows) shape_error("matmul", "inner dimensions differ", a, b);
    return {a.rows, b.cols};
}

template <class T>
void matmul_forward(const M<T>& a, const M<T>* b, M<T>& out) {
    const int m = int(a.shape()[0]), k = int(a.shape()[1]), n = int(b->shape()[1]);
    blas::gemm(false, false, m, n, k, T(1), a.data(), k, b->data(), n, T(0), out.data(), n);
}

template <class T>
void matmul_backward(const M<T>& a, const M<T>* b, const M<T>&, const M<T>& gout, M<T>* ga,
                     M<T>* gb) {
    const int m = int(a.shape()[0]), k = int(a.shape()[1]), n = int(b->shape()[1]);
    if (ga) blas::gemm(false, true, m, k, n, T(1), gout.data(), n, b->data(), n, T(1), ga->data(), k);
    if (gb) blas::gemm(true, false, k, n, m, T(1), a.data(), k, gout.data(), n, T(1), gb->data(), n);
}

XGRAD_INSTANTIATE_OP(matmul)

}  // namespace xgrad::ops
