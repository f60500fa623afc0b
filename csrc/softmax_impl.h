/* softmax_impl.h: logsumexp, log_softmax, softmax. Template (see
 * instantiate.h); the public contract is in fastce_api.h. */

enum { LOCAL(OP_LSE), LOCAL(OP_LOG_SOFTMAX), LOCAL(OP_SOFTMAX) };

typedef struct {
    const T *x;
    T *out;
    ptrdiff_t C, n1;
    int op;
} LOCAL(softmax_ctx);

/* One row of logsumexp, log_softmax or softmax (any stride). */
static void LOCAL(softmax_row)(const LOCAL(softmax_ctx) *c, ptrdiff_t s) {
    const ptrdiff_t C = c->C, n1 = c->n1;
    ptrdiff_t off = fastce_row_offset(s, C, n1);
    const T *x = c->x + off;
    T *out = c->out + (c->op == LOCAL(OP_LSE) ? s : off);
    fastce_row r = {LOCAL(row_max)(x, n1, C), 0.0};
    int stored = LOCAL(row_rest_from_max)(x, n1, C, &r,
                                          c->op == LOCAL(OP_SOFTMAX) ? out : NULL);
    double lse_rel = fastce_lse_rel(r);
    if (c->op == LOCAL(OP_LSE)) {
        *out = (T)(r.max + lse_rel);
        return;
    }
    int masked = r.max == -INFINITY; /* every class masked */
    if (c->op == LOCAL(OP_LOG_SOFTMAX) && LOCAL(row_vectorizable)(n1, r)) {
        /* (x_j - max) - lse_rel: two non-positive terms; branch-free, so it
         * vectorises (x_j - max is 0 at a finite maximum by itself) */
        for (ptrdiff_t j = 0; j < C; j++) out[j] = (T)(((double)x[j] - r.max) - lse_rel);
    } else if (c->op == LOCAL(OP_LOG_SOFTMAX)) {
        for (ptrdiff_t j = 0; j < C; j++)
            out[j * n1] = (T)(masked ? -INFINITY
                                     : -LOCAL(class_loss)((double)x[j * n1], r, lse_rel));
    } else if (stored) { /* out holds exp(x_j - max): normalise */
        double inv = 1.0 / (1.0 + r.rest);
        for (ptrdiff_t j = 0; j < C; j++) out[j] = (T)(inv * (double)out[j]);
    } else {
        for (ptrdiff_t j = 0; j < C; j++)
            out[j * n1] = (T)(masked ? 0.0 : LOCAL(row_prob)((double)x[j * n1], r));
    }
}

/* The row-parallel kernel for few classes, when this dtype and ISA have one. */
static inline ptrdiff_t (*LOCAL(softmax_rows_kernel)(void))(const T *, ptrdiff_t,
                                                           ptrdiff_t, int, T *) {
    return VEC(softmax_rows);
}

static double LOCAL(softmax_block)(const void *vctx, ptrdiff_t begin,
                                   ptrdiff_t end) {
    const LOCAL(softmax_ctx) *c = vctx;
    const ptrdiff_t C = c->C;
    /* Few classes: the row-parallel kernel takes rows while it can; a group
     * it leaves (a row whose max is not finite) and the tail go one by one. */
    int rows = LOCAL(softmax_rows_kernel)() && c->n1 == 1 && C <= FASTCE_SMALL_C;
    for (ptrdiff_t s = begin; s < end;) {
        if (rows)
            s += LOCAL(softmax_rows_kernel)()(
                c->x + s * C, end - s, C, c->op,
                c->op == LOCAL(OP_LSE) ? c->out + s : c->out + s * C);
        ptrdiff_t stop = rows && s + 8 < end ? s + 8 : end;
        for (; s < stop; s++) LOCAL(softmax_row)(c, s);
    }
    return 0.0;
}

static int LOCAL(softmax_run)(const T *x, ptrdiff_t n0, ptrdiff_t C,
                              ptrdiff_t n1, T *out, int n_threads, int op) {
    LOCAL(softmax_ctx) ctx = {x, out, C, n1, op};
    return fastce_run_blocks(LOCAL(softmax_block), &ctx, n0 * n1, C, n_threads,
                             NULL);
}

int PUBLIC(logsumexp)(const T *x, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1,
                      T *out, int n_threads) {
    return LOCAL(softmax_run)(x, n0, C, n1, out, n_threads, LOCAL(OP_LSE));
}

int PUBLIC(log_softmax)(const T *x, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1,
                        T *out, int n_threads) {
    return LOCAL(softmax_run)(x, n0, C, n1, out, n_threads,
                              LOCAL(OP_LOG_SOFTMAX));
}

int PUBLIC(softmax)(const T *x, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1,
                    T *out, int n_threads) {
    return LOCAL(softmax_run)(x, n0, C, n1, out, n_threads, LOCAL(OP_SOFTMAX));
}
