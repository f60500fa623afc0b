/* metrics_impl.h: accuracy, entropy and KL divergence over a class axis.
 * Template (see instantiate.h); the public contract is in fastce_api.h. */

/* First index of the row's maximum; the first NaN wins, as in numpy.argmax. */
static inline ptrdiff_t LOCAL(row_argmax)(const T *x, ptrdiff_t n1,
                                          ptrdiff_t C) {
    ptrdiff_t k = 0;
    T m = x[0];
    if (m != m) return 0;
    for (ptrdiff_t j = 1; j < C; j++) {
        T v = x[j * n1];
        if (v != v) return j;
        if (v > m) {
            m = v;
            k = j;
        }
    }
    return k;
}

typedef struct {
    const T *x, *t;
    const int64_t *y;
    T *out;
    ptrdiff_t C, n1;
} LOCAL(metric_ctx);

static double LOCAL(accuracy_block)(const void *vctx, ptrdiff_t begin,
                                    ptrdiff_t end) {
    const LOCAL(metric_ctx) *c = vctx;
    double hits = 0.0;
    for (ptrdiff_t s = begin; s < end; s++) {
        ptrdiff_t off = fastce_row_offset(s, c->C, c->n1);
        ptrdiff_t want = c->y ? (ptrdiff_t)c->y[s]
                              : LOCAL(row_argmax)(c->t + off, c->n1, c->C);
        hits += LOCAL(row_argmax)(c->x + off, c->n1, c->C) == want;
    }
    return hits;
}

int PUBLIC(accuracy)(const T *x, const int64_t *y, const T *t, ptrdiff_t n0,
                     ptrdiff_t C, ptrdiff_t n1, double *count, int n_threads) {
    LOCAL(metric_ctx) ctx = {x, t, y, NULL, C, n1};
    return fastce_run_blocks(LOCAL(accuracy_block), &ctx, n0 * n1, C,
                             n_threads, count);
}

static double LOCAL(entropy_block)(const void *vctx, ptrdiff_t begin,
                                   ptrdiff_t end) {
    const LOCAL(metric_ctx) *c = vctx; /* x = p, t = q (or NULL) */
    const ptrdiff_t C = c->C, n1 = c->n1;
    for (ptrdiff_t s = begin; s < end; s++) {
        ptrdiff_t off = fastce_row_offset(s, C, n1);
        double h = 0.0;
        for (ptrdiff_t j = 0; j < C; j++) {
            double p = (double)c->x[off + j * n1];
            if (c->t) /* p*log(p/q): one rounding in p/q, none of log p - log q */
                h += fastce_term(p, log(p / (double)c->t[off + j * n1]));
            else
                h -= fastce_term(p, log(p));
        }
        c->out[s] = (T)h;
    }
    return 0.0;
}

int PUBLIC(entropy)(const T *p, const T *q, ptrdiff_t n0, ptrdiff_t C,
                    ptrdiff_t n1, T *out, int n_threads) {
    LOCAL(metric_ctx) ctx = {p, q, NULL, out, C, n1};
    return fastce_run_blocks(LOCAL(entropy_block), &ctx, n0 * n1, C, n_threads,
                             NULL);
}
