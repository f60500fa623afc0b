/* sigmoid_ce_impl.h: sigmoid (binary, from logits) cross-entropy.
 * Template (see instantiate.h); the public contract is in fastce_api.h and
 * the per-element formula in fastce_sigmoid_ce_one (internal.h). */

typedef struct {
    const T *x, *z, *w, *q;
    T *loss, *grad;
    ptrdiff_t P;
    double grad_scale;
} LOCAL(sigmoid_ctx);

static double LOCAL(sigmoid_run)(const void *vctx, ptrdiff_t i, ptrdiff_t len,
                                 const T *w, const T *q) {
    const LOCAL(sigmoid_ctx) *c = vctx;
    return VEC(sigmoid_ce)(c->x + i, c->z + i, w, q, len,
                           c->loss ? c->loss + i : NULL,
                           c->grad ? c->grad + i : NULL, c->grad_scale);
}

static double LOCAL(sigmoid_block)(const void *vctx, ptrdiff_t begin,
                                   ptrdiff_t end) {
    const LOCAL(sigmoid_ctx) *c = vctx;
    return LOCAL(periodic_runs)(LOCAL(sigmoid_run), c, begin, end, c->w, c->q, c->P);
}

int PUBLIC(sigmoid_ce)(const T *x, const T *z, ptrdiff_t n, ptrdiff_t P,
                       const T *w, const T *q, T *loss, double *total,
                       T *grad, double grad_scale, int n_threads) {
    LOCAL(sigmoid_ctx) ctx = {x, z, w, q, loss, grad, P < 1 ? 1 : P, grad_scale};
    return fastce_run_blocks(LOCAL(sigmoid_block), &ctx, n, 1, n_threads, total);
}
