/* prob_ce_impl.h: the classic cross-entropies of probabilities, clipped to
 * [eps, 1-eps]. Template (see instantiate.h); contract in fastce_api.h. */

typedef struct {
    const T *p, *t, *w;
    const int64_t *y;
    T *loss, *grad;
    ptrdiff_t C, n1, P;
    double lo, hi, grad_scale;
} LOCAL(prob_ctx);

static double LOCAL(categorical_sparse_block)(const void *vctx,
                                              ptrdiff_t begin, ptrdiff_t end) {
    const LOCAL(prob_ctx) *c = vctx;
    const ptrdiff_t C = c->C, n1 = c->n1;
    fastce_acc acc = {0.0, 0.0};
    for (ptrdiff_t s = begin; s < end; s++) {
        ptrdiff_t off = fastce_row_offset(s, C, n1);
        int64_t y = c->y[s];
        double sw = c->w ? (double)c->w[s] : 1.0;
        double pc = fastce_clip((double)c->p[off + y * n1], c->lo, c->hi);
        double l = -sw * log(pc);
        if (c->loss) c->loss[s] = (T)l;
        fastce_acc_add(&acc, l);
        if (c->grad) { /* p[y] was read above, so grad may alias p */
            T *g = c->grad + off;
            for (ptrdiff_t j = 0; j < C; j++) g[j * n1] = (T)0;
            g[y * n1] = (T)(-sw * c->grad_scale / pc);
        }
    }
    return fastce_acc_value(acc);
}

static double LOCAL(categorical_dense_direct)(const LOCAL(prob_ctx) *c,
                                              ptrdiff_t begin, ptrdiff_t end) {
    const ptrdiff_t C = c->C, n1 = c->n1;
    if (n1 == 1) /* contiguous rows: the vector table's */
        return VEC(categorical_rows)(c->p + begin * C, c->t + begin * C, end - begin, C,
                                     c->w ? c->w + begin : NULL, c->lo, c->hi,
                                     c->loss ? c->loss + begin : NULL,
                                     c->grad ? c->grad + begin * C : NULL, c->grad_scale);
    fastce_acc acc = {0.0, 0.0};
    for (ptrdiff_t s = begin; s < end; s++) {
        ptrdiff_t off = fastce_row_offset(s, C, n1);
        const T *p = c->p + off, *t = c->t + off;
        T *g = c->grad ? c->grad + off : NULL;
        double sw = c->w ? (double)c->w[s] : 1.0, a = sw * c->grad_scale;
        double l = 0.0;
        fastce_acc row = {0.0, 0.0}; /* float64: exact products (internal.h) */
        for (ptrdiff_t j = 0; j < C; j++) {
            double tj = (double)t[j * n1];
            if (tj == 0.0) { /* no term (even for a NaN p), no log: one-hot rows */
                if (g) g[j * n1] = (T)0;
                continue;
            }
            double pc = fastce_clip((double)p[j * n1], c->lo, c->hi);
            if (sizeof(T) == sizeof(double)) fastce_cat_term_add(&row, tj, log(pc));
            else l -= fastce_term(tj, log(pc));
            if (g) g[j * n1] = (T)(-a * tj / pc);
        }
        if (sizeof(T) == sizeof(double)) l = fastce_cat_loss(row.s, row.c, sw);
        else l *= sw;
        if (c->loss) c->loss[s] = (T)l;
        fastce_acc_add(&acc, l);
    }
    return fastce_acc_value(acc);
}

static double LOCAL(binary_run)(const void *vctx, ptrdiff_t i, ptrdiff_t len,
                                const T *w, const T *q) {
    const LOCAL(prob_ctx) *c = vctx;
    (void)q;
    return VEC(binary_ce)(c->p + i, c->t + i, w, len, c->lo, c->hi,
                          c->loss ? c->loss + i : NULL,
                          c->grad ? c->grad + i : NULL, c->grad_scale);
}

/* A tile of strided samples (run_tiles in row_impl.h). */
static double LOCAL(categorical_dense_tile)(const void *vctx, ptrdiff_t s, ptrdiff_t r,
                                            const T *p, const T *tt, T *g) {
    LOCAL(prob_ctx) t = *(const LOCAL(prob_ctx) *)vctx;
    t.p = p, t.t = tt, t.n1 = 1, t.w = t.w ? t.w + s : NULL;
    t.loss = t.loss ? t.loss + s : NULL, t.grad = t.grad ? g : NULL;
    return LOCAL(categorical_dense_direct)(&t, 0, r);
}

/* Strided rows (n1 > 1) through tiles. */
static double LOCAL(categorical_dense_block)(const void *vctx, ptrdiff_t begin,
                                             ptrdiff_t end) {
    const LOCAL(prob_ctx) *c = vctx;
    if (!LOCAL(use_tiles)(c->C, c->n1)) return LOCAL(categorical_dense_direct)(c, begin, end);
    return LOCAL(run_tiles)(c, LOCAL(categorical_dense_tile), c->p, c->t, c->grad, c->C,
                            c->n1, begin, end);
}

static double LOCAL(binary_block)(const void *vctx, ptrdiff_t begin,
                                  ptrdiff_t end) {
    const LOCAL(prob_ctx) *c = vctx;
    return LOCAL(periodic_runs)(LOCAL(binary_run), c, begin, end, c->w, NULL, c->P);
}

int PUBLIC(categorical_ce_sparse)(const T *p, const int64_t *y, ptrdiff_t n0,
                                  ptrdiff_t C, ptrdiff_t n1, const T *sw,
                                  double eps, T *loss, double *total, T *grad,
                                  double grad_scale, int n_threads) {
    LOCAL(prob_ctx) ctx = {p,  NULL, sw,      y,         loss, grad, C, n1, 1,
                           eps, 1.0 - eps, grad_scale};
    return fastce_run_blocks(LOCAL(categorical_sparse_block), &ctx, n0 * n1,
                             grad ? C : 1, n_threads, total);
}

int PUBLIC(categorical_ce_dense)(const T *p, const T *t, ptrdiff_t n0,
                                 ptrdiff_t C, ptrdiff_t n1, const T *sw,
                                 double eps, T *loss, double *total, T *grad,
                                 double grad_scale, int n_threads) {
    LOCAL(prob_ctx) ctx = {p,  t,         sw,        NULL, loss, grad, C, n1, 1,
                           eps, 1.0 - eps, grad_scale};
    return fastce_run_blocks(LOCAL(categorical_dense_block), &ctx, n0 * n1, C,
                             n_threads, total);
}

int PUBLIC(binary_ce)(const T *p, const T *z, ptrdiff_t n, ptrdiff_t P,
                      const T *w, double eps, T *loss, double *total, T *grad,
                      double grad_scale, int n_threads) {
    LOCAL(prob_ctx) ctx = {p,   z,         w,         NULL, loss, grad, 1, 1,
                           P < 1 ? 1 : P, eps, 1.0 - eps, grad_scale};
    return fastce_run_blocks(LOCAL(binary_block), &ctx, n, 1, n_threads, total);
}
