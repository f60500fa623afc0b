/* metrics_impl.h: accuracy, entropy and KL divergence over a class axis.
 * Template (see instantiate.h); the public contract is in fastce_api.h. */

/* First index of the row's maximum; the first NaN wins, as in numpy.argmax. */
static inline ptrdiff_t LOCAL(row_argmax)(const T *x, ptrdiff_t n1,
                                          ptrdiff_t C) {
    if (n1 == 1 && VEC(row_argmax)) return VEC(row_argmax)(x, C);
    return FASTCE_CAT(fastce_argmax_, SUF)(x, C, n1);
}

typedef struct {
    const T *x, *t;
    const int64_t *y;
    T *out;
    ptrdiff_t C, n1;
} LOCAL(metric_ctx);

static double LOCAL(accuracy_direct)(const LOCAL(metric_ctx) *c, ptrdiff_t begin,
                                     ptrdiff_t end) {
    double hits = 0.0;
    for (ptrdiff_t s = begin; s < end; s++) {
        ptrdiff_t off = fastce_row_offset(s, c->C, c->n1);
        ptrdiff_t want = c->y ? (ptrdiff_t)c->y[s]
                              : LOCAL(row_argmax)(c->t + off, c->n1, c->C);
        hits += LOCAL(row_argmax)(c->x + off, c->n1, c->C) == want;
    }
    return hits;
}

/* A tile of strided samples (run_tiles in row_impl.h): x at tx, a dense
 * target at tt. */
static double LOCAL(accuracy_tile)(const void *vctx, ptrdiff_t s, ptrdiff_t r, const T *tx,
                                   const T *tt, T *unused) {
    const LOCAL(metric_ctx) *c = vctx;
    (void)unused;
    LOCAL(metric_ctx) t = {tx, tt, c->y ? c->y + s : NULL, NULL, c->C, 1};
    return LOCAL(accuracy_direct)(&t, 0, r);
}

/* Samples side by side (row_impl.h): their argmax a run at a time, by the
 * vector table's argmax_planes (indices in float lanes on AVX2, exact up
 * to 2^24 classes). */
#define FASTCE_ARGMAX_RUN 256

static int LOCAL(accuracy_side)(const LOCAL(metric_ctx) *c) {
    return VEC(argmax_planes) && LOCAL(side_by_side)(c->C, c->n1) && c->C <= (1 << 24);
}

static double LOCAL(accuracy_planes)(const LOCAL(metric_ctx) *c, ptrdiff_t begin, ptrdiff_t end) {
    int32_t kx[FASTCE_ARGMAX_RUN], kt[FASTCE_ARGMAX_RUN];
    double hits = 0.0;
    for (ptrdiff_t s = begin, r; s < end; s += r) {
        r = LOCAL(tile_rows)(s, end, c->n1, FASTCE_ARGMAX_RUN);
        const ptrdiff_t off = fastce_row_offset(s, c->C, c->n1);
        VEC(argmax_planes)(c->x + off, r, c->C, c->n1, kx);
        if (!c->y) VEC(argmax_planes)(c->t + off, r, c->C, c->n1, kt);
        for (ptrdiff_t k = 0; k < r; k++) hits += kx[k] == (c->y ? c->y[s + k] : kt[k]);
    }
    return hits;
}

/* Strided rows (n1 > 1) side by side, or through tiles. */
static double LOCAL(accuracy_block)(const void *vctx, ptrdiff_t begin, ptrdiff_t end) {
    const LOCAL(metric_ctx) *c = vctx;
    if (LOCAL(accuracy_side)(c)) return LOCAL(accuracy_planes)(c, begin, end);
    if (!LOCAL(use_tiles)(c->C, c->n1)) return LOCAL(accuracy_direct)(c, begin, end);
    return LOCAL(run_tiles)(c, LOCAL(accuracy_tile), c->x, c->t, NULL, c->C, c->n1, begin,
                            end);
}

int PUBLIC(accuracy)(const T *x, const int64_t *y, const T *t, ptrdiff_t n0,
                     ptrdiff_t C, ptrdiff_t n1, double *count, int n_threads) {
    LOCAL(metric_ctx) ctx = {x, t, y, NULL, C, n1};
    return fastce_run_blocks(LOCAL(accuracy_block), &ctx, n0 * n1, C,
                             n_threads, count);
}

static double LOCAL(entropy_direct)(const LOCAL(metric_ctx) *c, ptrdiff_t begin,
                                    ptrdiff_t end) { /* x = p, t = q (or NULL) */
    const ptrdiff_t C = c->C, n1 = c->n1;
    if (n1 == 1 && C >= FASTCE_ENTROPY_ROW_MIN && VEC(entropy_row)) {
        for (ptrdiff_t s = begin; s < end; s++) { /* contiguous rows: vector sums */
            double h = VEC(entropy_row)(c->x + s * C, c->t ? c->t + s * C : NULL, C);
            c->out[s] = (T)(c->t ? h : 0.0 - h); /* 0.0 - h: +0 for one-hot rows */
        }
        return 0.0;
    }
    if (n1 == 1 && C > 0 && C < FASTCE_ENTROPY_ROW_MIN && VEC(entropy_terms)) {
        /* short rows: vector terms, scalar sums */
        enum { BLOCK = 1024 };
        double term[BLOCK], term_lo[BLOCK];
        const ptrdiff_t rows = BLOCK / C;
        for (ptrdiff_t s0 = begin; s0 < end; s0 += rows) {
            ptrdiff_t nr = end - s0 < rows ? end - s0 : rows;
            VEC(entropy_terms)(c->x + s0 * C, c->t ? c->t + s0 * C : NULL, nr * C, term,
                               term_lo);
            for (ptrdiff_t r = 0; r < nr; r++) {
                const double *tr = term + r * C, *tl = term_lo + r * C;
                double h;
                if (sizeof(T) == sizeof(float)) { /* float-accuracy terms: a plain sum */
                    h = 0.0;
                    for (ptrdiff_t j = 0; j < C; j++) h += tr[j];
                } else { /* the products exact, the sum compensated (as the vectors) */
                    fastce_acc a = {0.0, 0.0};
                    for (ptrdiff_t j = 0; j < C; j++) {
                        fastce_acc2_add(&a, tr[j]);
                        a.c += tl[j];
                    }
                    h = fastce_acc2_value(a);
                }
                c->out[s0 + r] = (T)(c->t ? h : 0.0 - h);
            }
        }
        return 0.0;
    }
    for (ptrdiff_t s = begin; s < end; s++) { /* strided rows, or the scalar table */
        ptrdiff_t off = fastce_row_offset(s, C, n1);
        fastce_acc h = {0.0, 0.0}; /* each product exact, the sum compensated */
        for (ptrdiff_t j = 0; j < C; j++) {
            double p = (double)c->x[off + j * n1];
            if (p == 0.0) continue; /* a zero term (and no log to take) */
            /* p*log(p/q): the ratio's rounding taken back, no log p - log q */
            fastce_cat_term_add(&h, p, c->t ? fastce_log_ratio(p, (double)c->t[off + j * n1])
                                            : log(p));
        }
        c->out[s] = (T)(c->t ? fastce_acc_value(h) : 0.0 - fastce_acc_value(h));
    }
    return 0.0;
}

/* A tile of strided samples (run_tiles in row_impl.h): p at tp, q at tq. */
static double LOCAL(entropy_tile)(const void *vctx, ptrdiff_t s, ptrdiff_t r, const T *tp,
                                  const T *tq, T *unused) {
    const LOCAL(metric_ctx) *c = vctx;
    (void)unused;
    LOCAL(metric_ctx) t = {tp, tq, NULL, c->out + s, c->C, 1};
    return LOCAL(entropy_direct)(&t, 0, r);
}

/* Strided rows (n1 > 1) through tiles. */
static double LOCAL(entropy_block)(const void *vctx, ptrdiff_t begin, ptrdiff_t end) {
    const LOCAL(metric_ctx) *c = vctx;
    if (!LOCAL(use_tiles)(c->C, c->n1)) return LOCAL(entropy_direct)(c, begin, end);
    return LOCAL(run_tiles)(c, LOCAL(entropy_tile), c->x, c->t, NULL, c->C, c->n1, begin, end);
}

int PUBLIC(entropy)(const T *p, const T *q, ptrdiff_t n0, ptrdiff_t C,
                    ptrdiff_t n1, T *out, int n_threads) {
    LOCAL(metric_ctx) ctx = {p, q, NULL, out, C, n1};
    return fastce_run_blocks(LOCAL(entropy_block), &ctx, n0 * n1, C, n_threads,
                             NULL);
}
