/* softmax_impl.h: logsumexp, log_softmax, softmax. Template (see
 * instantiate.h); the public contract is in fastce_api.h. */

enum { LOCAL(OP_LSE), LOCAL(OP_LOG_SOFTMAX), LOCAL(OP_SOFTMAX) };

typedef struct {
    const T *x;
    T *out;
    ptrdiff_t C, n1;
    int op;
} LOCAL(softmax_ctx);

/* logsumexp of a row whose fast result max + log1p(rest) cancels (see
 * fastce_lse_cancels): the exact value is near 0 while both terms are not,
 * so the absolute error of log1p(rest), an ulp of a number near |max|, is
 * many ulp of the result. Float rows first try double precision (the scalar
 * rest is double); what still cancels, and every double row, is redone in
 * double-double: rest = sum over x_j != max of exp(x_j - max) plus the
 * extra maxima, with x_j - max exact (TwoSum: d + err) and exp(d + err) =
 * exp(d) * (1 + err + err^2/2), then max + log1p(rest). Its absolute error
 * is about 2^-104 |max| (tested: 2^-100 |max|): within 2 ulp of the result
 * unless |lse| < 2^-48 |max|, which only rows of log-probabilities
 * normalised to the last bit reach (their lse is the rounding residue of
 * their entries). */
double PUBLIC(lse_cancelled)(const T *x, ptrdiff_t n1, ptrdiff_t C, double m) {
    if (sizeof(T) < sizeof(double)) {
        double rel = log1p(LOCAL(strided_row_rest)(x, n1, C, m, NULL)), lse = m + rel;
        /* error about 2^-52 rel: under a quarter ulp of a float result */
        if (rel * 0x1p-26 < fabs(lse)) return lse;
    }
    fastce_dd_acc rest = {0.0, 0.0, 0.0};
    if (VEC(lse_dd_rest) && (n1 == 1 || C <= FASTCE_TILE)) { /* the loop below in vector lanes */
        double acc[3];
        T row[FASTCE_TILE]; /* a strided row (samples side by side), gathered */
        if (n1 > 1)
            for (ptrdiff_t j = 0; j < C; j++) row[j] = x[j * n1];
        VEC(lse_dd_rest)(n1 > 1 ? row : x, C, m, acc);
        rest = (fastce_dd_acc){acc[0], acc[1], acc[2]};
    } else {
        int first = 1; /* one maximum's exp(0) = 1 stays out of rest */
        for (ptrdiff_t j = 0; j < C; j++) {
            double v = (double)x[j * n1];
            if (v == m && first) {
                first = 0;
                continue;
            }
            fastce_dd d = fastce_two_sum(v, -m);
            if (d.hi < -745.0) continue; /* under 2^-1074 of the sum */
            /* exp(d.hi + d.lo) = e * (1 + d.lo + d.lo^2/2): d.lo is up to
             * 2^-49 for |d| ~ 25, so its square still counts at 106 bits */
            fastce_dd e = fastce_dd_exp(d.hi);
            fastce_dd corr = fastce_two_prod(e.hi, d.lo);
            corr.lo += e.hi * (0.5 * d.lo * d.lo);
            fastce_dd_acc_add(&rest, fastce_dd_add(e, corr));
        }
    }
    fastce_dd lse = fastce_dd_add(fastce_dd_log1p(fastce_dd_acc_value(rest)),
                                  fastce_dd_of(m));
    return lse.hi + lse.lo;
}

/* The outputs of one row of logsumexp, log_softmax or softmax (any
 * stride) from its statistics r; stored: row_rest_from_max wrote its
 * terms exp(x_j - max) to the softmax output. */
static void LOCAL(softmax_row_end)(const LOCAL(softmax_ctx) *c, ptrdiff_t s, fastce_row r,
                                   int stored) {
    const ptrdiff_t C = c->C, n1 = c->n1;
    ptrdiff_t off = fastce_row_offset(s, C, n1);
    const T *x = c->x + off;
    T *out = c->out + (c->op == LOCAL(OP_LSE) ? s : off);
    double lse_rel = LOCAL(lse_rel)(r);
    if (c->op == LOCAL(OP_LSE)) {
        double lse = r.max + lse_rel;
        *out = (T)(fastce_lse_cancels(r.max, lse_rel, lse)
                       ? PUBLIC(lse_cancelled)(x, c->n1, C, r.max)
                       : lse);
        return;
    }
    int masked = r.max == -INFINITY; /* every class masked */
    if (c->op == LOCAL(OP_LOG_SOFTMAX) && LOCAL(row_vectorizable)(n1, r)) {
        VEC(log_softmax_row)(x, C, r.max, lse_rel, out);
    } else if (c->op == LOCAL(OP_LOG_SOFTMAX)) {
        for (ptrdiff_t j = 0; j < C; j++)
            out[j * n1] = (T)(masked ? -INFINITY
                                     : -LOCAL(class_loss)((double)x[j * n1], r, lse_rel));
    } else if (stored) { /* out holds exp(x_j - max): normalise */
        VEC(scale_row)(out, C, 1.0 / (1.0 + r.rest), 0.0, NULL, -0.0, NULL, out);
    } else {
        for (ptrdiff_t j = 0; j < C; j++)
            out[j * n1] = (T)(masked ? 0.0 : LOCAL(row_prob)((double)x[j * n1], r));
    }
}

/* The row statistics of sample s; with softmax, its terms stored to the
 * output (the return value says whether they were). */
static int LOCAL(softmax_row_stats)(const LOCAL(softmax_ctx) *c, ptrdiff_t s, fastce_row *r) {
    const ptrdiff_t C = c->C, n1 = c->n1;
    ptrdiff_t off = fastce_row_offset(s, C, n1);
    const T *x = c->x + off;
    *r = (fastce_row){.max = LOCAL(row_max)(x, n1, C)}; /* other fields 0 */
    return LOCAL(row_rest_from_max)(x, n1, C, r,
                                    c->op == LOCAL(OP_SOFTMAX) ? c->out + off : NULL, 0);
}

/* Rows s .. end - 1 a batch at a time (FASTCE_ROW_BATCH, row_impl.h):
 * the statistics of every row of the batch, then their outputs. */
static void LOCAL(softmax_rows)(const LOCAL(softmax_ctx) *c, ptrdiff_t s, ptrdiff_t end) {
    fastce_row r[FASTCE_ROW_BATCH];
    int stored[FASTCE_ROW_BATCH];
    for (; s < end; s += FASTCE_ROW_BATCH) {
        const ptrdiff_t k = end - s < FASTCE_ROW_BATCH ? end - s : FASTCE_ROW_BATCH;
        for (ptrdiff_t i = 0; i < k; i++) stored[i] = LOCAL(softmax_row_stats)(c, s + i, r + i);
        for (ptrdiff_t i = 0; i < k; i++) LOCAL(softmax_row_end)(c, s + i, r[i], stored[i]);
    }
}

/* The row-parallel kernel for few classes, when this dtype and ISA have one. */
static inline ptrdiff_t (*LOCAL(softmax_rows_kernel)(void))(const T *, ptrdiff_t,
                                                           ptrdiff_t, ptrdiff_t, int, T *) {
    return VEC(softmax_rows);
}

/* The kernel for many classes side by side, when this dtype and ISA have one. */
static inline ptrdiff_t (*LOCAL(softmax_planes_kernel)(void))(const T *, ptrdiff_t, ptrdiff_t,
                                                             ptrdiff_t, int, T *) {
    return VEC(softmax_planes);
}

/* The kernel that takes this call's samples a group at a time: the
 * row-parallel one (few classes, any layout; contiguous rows up to
 * FASTCE_ROWS_C classes), the planes one (more classes side by side), or
 * NULL. */
static inline ptrdiff_t (*LOCAL(softmax_group_kernel)(const LOCAL(softmax_ctx) *c))(
    const T *, ptrdiff_t, ptrdiff_t, ptrdiff_t, int, T *) {
    if (LOCAL(rows_kernel_layout)(c->C, c->n1)) return LOCAL(softmax_rows_kernel)();
    return LOCAL(side_by_side)(c->C, c->n1) ? LOCAL(softmax_planes_kernel)() : NULL;
}

static double LOCAL(softmax_tile)(const void *vctx, ptrdiff_t s, ptrdiff_t r, const T *x,
                                  const T *unused, T *out);

static double LOCAL(softmax_block_direct)(const LOCAL(softmax_ctx) *c, ptrdiff_t begin,
                                          ptrdiff_t end) {
    const ptrdiff_t C = c->C, n1 = c->n1;
    /* A group kernel takes samples while it can; a sample it leaves (a
     * row whose max is not finite) and the tail of a run go one by one
     * (samples side by side through a tile: see sparse_block_direct). */
    ptrdiff_t (*const kernel)(const T *, ptrdiff_t, ptrdiff_t, ptrdiff_t, int, T *) =
        LOCAL(softmax_group_kernel)(c);
    ptrdiff_t left = 8; /* see one_by_one_stop */
    for (ptrdiff_t s = begin; s < end;) {
        ptrdiff_t stop = end;
        if (kernel) {
            const ptrdiff_t run = LOCAL(kernel_run)(s, end, n1), off = fastce_row_offset(s, C, n1);
            const ptrdiff_t s0 = s;
            stop = s + run;
            s += kernel(c->x + off, run, C, n1, c->op,
                        c->op == LOCAL(OP_LSE) ? c->out + s : c->out + off);
            stop = LOCAL(one_by_one_stop)(&left, n1, s - s0, s, stop);
            if (n1 > 1 && s < stop && LOCAL(use_tiles)(C, n1)) { /* the samples it left, as rows */
                LOCAL(run_tiles)(c, LOCAL(softmax_tile), c->x, NULL,
                                 c->op == LOCAL(OP_LSE) ? NULL : c->out, C, n1, s, stop);
                s = stop;
            }
        }
        LOCAL(softmax_rows)(c, s, stop);
        s = stop;
    }
    return 0.0;
}

/* A tile of strided samples (run_tiles in row_impl.h): logsumexp writes
 * one value a sample, the others a tile of outputs. */
static double LOCAL(softmax_tile)(const void *vctx, ptrdiff_t s, ptrdiff_t r, const T *x,
                                  const T *unused, T *out) {
    const LOCAL(softmax_ctx) *c = vctx;
    (void)unused;
    LOCAL(softmax_ctx) t = {x, c->op == LOCAL(OP_LSE) ? c->out + s : out, c->C, 1, c->op};
    return LOCAL(softmax_block_direct)(&t, 0, r);
}

/* Strided rows (n1 > 1) through tiles, unless a group kernel takes them
 * as they are (out may be x). */
static double LOCAL(softmax_block)(const void *vctx, ptrdiff_t begin, ptrdiff_t end) {
    const LOCAL(softmax_ctx) *c = vctx;
    if (!LOCAL(use_tiles)(c->C, c->n1) || LOCAL(softmax_group_kernel)(c))
        return LOCAL(softmax_block_direct)(c, begin, end);
    return LOCAL(run_tiles)(c, LOCAL(softmax_tile), c->x, NULL,
                            c->op == LOCAL(OP_LSE) ? NULL : c->out, c->C, c->n1, begin, end);
}

static int LOCAL(softmax_run)(const T *x, ptrdiff_t n0, ptrdiff_t C,
                              ptrdiff_t n1, T *out, int n_threads, int op) {
    LOCAL(softmax_ctx) ctx = {x, out, C, n1, op};
    const ptrdiff_t min_block =
        C > FASTCE_SMALL_C && n1 > 1 && LOCAL(softmax_group_kernel)(&ctx) ? LOCAL(planes_block_min)(n0 * n1) : 1;
    return fastce_run_blocks_min(LOCAL(softmax_block), &ctx, n0 * n1, C, min_block, n_threads,
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
