// matmul: C[M,N] = A[M,K] · B[K,N]
//   dA += dC · Bᵀ   [M,N]·[N,K]
//   dB += Aᵀ · dC   [K,M]·[M,N]
// BLAS is called on the tape's buffers with transpose flags: no transposed copies, no temporaries.
// Large products are split across the tape's threads (gemm.hpp decides how, from the shapes).
#include "gemm.hpp"
#include "ops/ops.hpp"

namespace xgrad::ops {

Shape matmul_shape(Shape a, Shape b, const Attr&) {
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

namespace {
// What a product of these shapes needs with `threads` threads: a pool if any of its three gemms
// (forward, dA, dB) splits, and the largest scratch of the three.
Needs matmul_needs(Shape a, Shape b, const Attr&, int threads) {
    const int m = int(a.rows), k = int(a.cols), n = int(b.cols);
    using detail::gemm_scratch;
    using detail::plan_gemm;
    const auto f = plan_gemm(m, n, k, threads), da = plan_gemm(m, k, n, threads), db = plan_gemm(k, n, m, threads);
    Needs got;
    got.pool = f.parts > 1 || da.parts > 1 || db.parts > 1;
    got.scratch = std::max({gemm_scratch(f, m, n), gemm_scratch(da, m, k), gemm_scratch(db, k, n)});
    return got;
}
}  // namespace

const OpInfo matmul_info = {OpKind::matmul, 2, uses_none, matmul_needs, false};

XGRAD_INSTANTIATE_OP(matmul)

}  // namespace xgrad::ops
