// matmul: C[M,N] = A[M,K] · B[K,N]
//   dA += dC · Bᵀ   [M,N]·[N,K]
//   dB += Aᵀ · dC   [K,M]·[M,N]
// BLAS is called on the tape's buffers with transpose flags: no transposed copies, no temporaries.
// Large products are split across the tape's threads (gemm.hpp decides how, from the shapes).
#include "gemm.hpp"
#include "ops/ops.hpp"

namespace xgrad::ops {

Shape matmul_shape(Shape a, Shape b) {
    if (a.cols != b.rows) shape_error("matmul", "inner dimensions differ", a, b);
    return {a.rows, b.cols};
}

template <class T>
void matmul_forward(const Ctx<T>& cx, const M<T>& a, const M<T>* b, M<T>& out) {
    const int m = int(a.shape()[0]), k = int(a.shape()[1]), n = int(b->shape()[1]);
    detail::gemm(cx.pool, cx.scratch, false, false, m, n, k, a.data(), k, b->data(), n, T(0),
                 out.data(), n);
}

template <class T>
void matmul_backward(const Ctx<T>& cx, const M<T>& a, const M<T>* b, const M<T>&, const M<T>& gout,
                     M<T>* ga, M<T>* gb) {
    const int m = int(a.shape()[0]), k = int(a.shape()[1]), n = int(b->shape()[1]);
    if (ga)
        detail::gemm(cx.pool, cx.scratch, false, true, m, k, n, gout.data(), n, b->data(), n, T(1),
                     ga->data(), k);
    if (gb)
        detail::gemm(cx.pool, cx.scratch, true, false, k, n, m, a.data(), k, gout.data(), n, T(1),
                     gb->data(), n);
}

// Scratch a matmul of these shapes needs with `threads` threads (for the tape to reserve).
std::size_t matmul_scratch(Shape a, Shape b, int threads) {
    const int m = int(a.rows), k = int(a.cols), n = int(b.cols);
    using detail::gemm_scratch;
    using detail::plan_gemm;
    return std::max({gemm_scratch(plan_gemm(m, n, k, threads), m, n),
                     gemm_scratch(plan_gemm(m, k, n, threads), m, k),
                     gemm_scratch(plan_gemm(k, n, m, threads), k, n)});
}

bool matmul_splits(Shape a, Shape b, int threads) {
    const int m = int(a.rows), k = int(a.cols), n = int(b.cols);
    using detail::plan_gemm;
    return plan_gemm(m, n, k, threads).parts > 1 || plan_gemm(m, k, n, threads).parts > 1 ||
           plan_gemm(k, n, m, threads).parts > 1;
}

XGRAD_INSTANTIATE_OP(matmul)

}  // namespace xgrad::ops
