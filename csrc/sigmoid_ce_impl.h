/* sigmoid_ce_impl.h: sigmoid (binary, from logits) cross-entropy.
 * Template (see instantiate.h); the public contract is in fastce_api.h. */

typedef struct {
    const T *x, *z, *w, *q;
    T *loss, *grad;
    ptrdiff_t P;
    double grad_scale;
} LOCAL(sigmoid_ctx);

static double LOCAL(sigmoid_block)(const void *vctx, ptrdiff_t begin,
                                   ptrdiff_t end) {
    const LOCAL(sigmoid_ctx) *c = vctx;
    fastce_acc acc = {0.0, 0.0};
    ptrdiff_t k = begin % c->P; /* position inside the broadcast period */
    for (ptrdiff_t i = begin; i < end; i++) {
        double x = (double)c->x[i], z = (double)c->z[i];
        double w = c->w ? (double)c->w[k] : 1.0;
        double q = c->q ? (double)c->q[k] : 1.0;
        /* -log(sigmoid(x)) = softplus(-x), -log(1-sigmoid(x)) = softplus(x);
         * both share tail = log1p(exp(-|x|)). The loss is a sum of two
         * non-negative terms, so it has no cancellation, and equals the
         * textbook max(x,0) - x*z + log1p(exp(-|x|)) when q = 1. */
        double e = exp(-fabs(x)), tail = log1p(e);
        double sp_neg = (x < 0.0 ? -x : 0.0) + tail;
        double sp_pos = (x > 0.0 ? x : 0.0) + tail;
        double l = w * (fastce_term(q * z, sp_neg) + fastce_term(1.0 - z, sp_pos));
        if (c->loss) c->loss[i] = (T)l;
        fastce_acc_add(&acc, l);
        if (c->grad) {
            /* d l / d x = w * ((1-z)*sigmoid(x) - q*z*sigmoid(-x)), each
             * sigmoid from e = exp(-|x|) so that neither is 1 - (near 1). */
            double big = 1.0 / (1.0 + e), small = e / (1.0 + e);
            double sig_pos = x >= 0.0 ? big : small;
            double sig_neg = x >= 0.0 ? small : big;
            c->grad[i] = (T)(c->grad_scale * w *
                             ((1.0 - z) * sig_pos - q * z * sig_neg));
        }
        if (++k == c->P) k = 0;
    }
    return fastce_acc_value(acc);
}

int PUBLIC(sigmoid_ce)(const T *x, const T *z, ptrdiff_t n, ptrdiff_t P,
                       const T *w, const T *q, T *loss, double *total,
                       T *grad, double grad_scale, int n_threads) {
    LOCAL(sigmoid_ctx) ctx = {x, z, w, q, loss, grad, P < 1 ? 1 : P,
                              grad_scale};
    return fastce_run_blocks(LOCAL(sigmoid_block), &ctx, n, 1, n_threads,
                             total);
}
