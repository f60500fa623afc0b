/* sigmoid_ce_impl.h: sigmoid (binary, from logits) cross-entropy.
 * Template (see instantiate.h); the public contract is in fastce_api.h and
 * the per-element formula in fastce_sigmoid_ce_one (internal.h). */

/* Weights of period P are tiled to at least this many entries, so that the
 * vector primitive always gets runs of a useful length. */
#define FASTCE_MIN_RUN 256

typedef struct {
    const T *x, *z, *w, *q;
    T *loss, *grad;
    ptrdiff_t P;
    double grad_scale;
} LOCAL(sigmoid_ctx);

static double LOCAL(sigmoid_block)(const void *vctx, ptrdiff_t begin,
                                   ptrdiff_t end) {
    const LOCAL(sigmoid_ctx) *c = vctx;
    const T *w = c->w, *q = c->q;
    ptrdiff_t P = c->P;
    T w_tiled[2 * FASTCE_MIN_RUN], q_tiled[2 * FASTCE_MIN_RUN];
    if ((w || q) && P < FASTCE_MIN_RUN) { /* tile a short period: w[k % P] */
        ptrdiff_t L = P * ((FASTCE_MIN_RUN + P - 1) / P);
        for (ptrdiff_t k = 0; k < L; k++) {
            if (w) w_tiled[k] = w[k % P];
            if (q) q_tiled[k] = q[k % P];
        }
        w = w ? w_tiled : NULL;
        q = q ? q_tiled : NULL;
        P = L;
    }
    fastce_acc acc = {0.0, 0.0};
    for (ptrdiff_t i = begin; i < end;) {
        ptrdiff_t k = (w || q) ? i % c->P : 0; /* phase in the original period */
        ptrdiff_t len = (w || q) ? P - k : end - i;
        if (len > end - i) len = end - i;
        fastce_acc_add(&acc, VEC(sigmoid_ce)(c->x + i, c->z + i, w ? w + k : NULL,
                                             q ? q + k : NULL, len,
                                             c->loss ? c->loss + i : NULL,
                                             c->grad ? c->grad + i : NULL,
                                             c->grad_scale));
        i += len;
    }
    return fastce_acc_value(acc);
}

int PUBLIC(sigmoid_ce)(const T *x, const T *z, ptrdiff_t n, ptrdiff_t P,
                       const T *w, const T *q, T *loss, double *total,
                       T *grad, double grad_scale, int n_threads) {
    LOCAL(sigmoid_ctx) ctx = {x, z, w, q, loss, grad, P < 1 ? 1 : P, grad_scale};
    return fastce_run_blocks(LOCAL(sigmoid_block), &ctx, n, 1, n_threads, total);
}
