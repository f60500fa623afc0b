/* softmax_ce_impl.h: label checking, softmax cross-entropy (sparse and
 * dense targets) and the NLL loss. Template (see instantiate.h); the public
 * contract is in fastce_api.h. */

int PUBLIC(check_labels)(const int64_t *y, ptrdiff_t n, ptrdiff_t C,
                         int has_ignore, int64_t ignore_index, const T *w,
                         const T *sw, double *denominator, ptrdiff_t *bad,
                         int *weights_finite) {
    if (weights_finite) {
        int finite = 1;
        double magnitude = 0.0;
        for (ptrdiff_t j = 0; w && j < C; j++) {
            finite &= isfinite((double)w[j]) != 0;
            magnitude += fabs((double)w[j]);
        }
        *weights_finite = finite && !isfinite(magnitude) ? 2 : finite;
    }
    if (!w && !sw && fastce_vec->count_labels) { /* the denominator is a count */
        ptrdiff_t bad_count;
        ptrdiff_t used = fastce_vec->count_labels(y, n, (int64_t)C, has_ignore,
                                                  ignore_index, &bad_count);
        if (bad_count) {
            for (ptrdiff_t s = 0; s < n; s++)
                if (!(has_ignore && y[s] == ignore_index) && (y[s] < 0 || y[s] >= (int64_t)C)) {
                    *bad = s;
                    return FASTCE_ERR_LABEL;
                }
        }
        if (denominator) *denominator = (double)used;
        return FASTCE_OK;
    }
    fastce_acc den = {0.0, 0.0};
    for (ptrdiff_t s = 0; s < n; s++) {
        int64_t v = y[s];
        if (has_ignore && v == ignore_index) continue;
        if (v < 0 || v >= (int64_t)C) {
            *bad = s;
            return FASTCE_ERR_LABEL;
        }
        fastce_acc_add(&den, (sw ? (double)sw[s] : 1.0) * (w ? (double)w[v] : 1.0));
    }
    if (denominator) *denominator = fastce_acc_value(den);
    return FASTCE_OK;
}

static inline void LOCAL(zero_row)(T *g, ptrdiff_t n1, ptrdiff_t C) {
    for (ptrdiff_t j = 0; j < C; j++) g[j * n1] = (T)0;
}

/* ------------------------------------------------------------- sparse */

typedef struct {
    const T *x;
    const int64_t *y;
    const T *w, *sw;
    T *loss, *grad;
    ptrdiff_t C, n1;
    int64_t ignore_index;
    double e, grad_scale;
    /* W, the sum of the class weights (C without), as w_sum + w_lo */
    double w_sum, w_lo;
    int grad_zeroed; /* nll: grad holds zeros already */
    /* a class weight that is not finite: the generic rows only, which
     * leave absent smoothing terms out (e/C of 0) and the smoothing term
     * at the max (see softmax_ce_sparse) */
    int generic_only;
} LOCAL(sparse_ctx);

/* The row-parallel kernel for few classes, when this dtype and ISA have one. */
static inline ptrdiff_t (*LOCAL(sparse_rows_kernel)(void))(
    const T *, const int64_t *, ptrdiff_t, ptrdiff_t, ptrdiff_t, const T *, const T *,
    int64_t, double, double, double, T *, T *, double, double *) {
    return VEC(sparse_ce_rows);
}

/* The weighted, smoothed loss of a row, rounded once:
 *   sw * ((1-e) * wy * l_y + (e/C) * (smooth + W * lse_rel)),
 * l_y = (max - x_y) + lse_rel. Each product and sum is carried in
 * double-double: in double its five roundings would add up to 2.5 ulp on
 * top of the error of lse_rel (lse_dd: lse_rel as hi + lo, lse_rel_dd).
 * Every term is non-negative, so the result keeps the relative accuracy
 * of its parts. Finite inputs only. */
static double LOCAL(weighted_loss)(double e, double wy, double sw, double xy,
                                   fastce_row r, fastce_dd lse_dd, fastce_acc smooth,
                                   fastce_dd w_sum, ptrdiff_t C) {
    fastce_dd ly = lse_dd;
    if (xy != r.max) ly = fastce_dd_add(fastce_two_sum(r.max, -xy), ly);
    fastce_dd l = fastce_dd_mul(fastce_two_prod(wy, sw), ly);
    if (e > 0.0 && e / (double)C > 0.0) { /* e/C underflowing: no smoothing term */
        l = fastce_dd_mul(fastce_two_sum(1.0, -e), l);
        fastce_dd rest = fastce_dd_add(fastce_fast_two_sum(smooth.s, smooth.c),
                                       fastce_dd_mul(w_sum, lse_dd));
        rest = fastce_dd_mul(fastce_dd_mul(rest, fastce_dd_of(sw)),
                             fastce_dd_div_d(e, (double)C));
        l = fastce_dd_add(l, rest);
    }
    return l.hi + l.lo;
}

/* a * b * lse_rel for a row whose rest deep_rest took (r.deep, row_impl.h):
 * there lse_rel = rest, subnormal or nearly, and the weighted loss comes
 * from the scaled rest as hi + lo, so that its one rounding is the last
 * (the subnormal rest's own, times the weights, made it 2-4 units off;
 * the scaled rest's, rounded before the product, 2.8, a review found). */
static inline double LOCAL(deep_loss)(double a, double b, fastce_row r) {
    fastce_dd p = fastce_dd_mul(fastce_two_prod(a, b), (fastce_dd){r.deep, r.deep_lo});
    return ldexp(p.hi + p.lo, -FASTCE_DEEP_SCALE);
}

/* A row of the sparse loss between its steps (sparse_rows): what its
 * first step read of x, and its statistics. */
typedef struct {
    fastce_row r;
    fastce_acc smooth;
    double xy, sw, wy;
    int64_t y;
    int skip; /* an ignored row: done by its first step */
    int stored;
    /* with smoothing and a class weight that is not finite: whether the
     * weights of the classes at the max are all finite (their terms
     * w_k * lse_rel are then 0 where lse_rel is) */
    int max_weights_finite;
} LOCAL(sparse_state);

/* The first steps of one row of the sparse loss (any stride): the label,
 * x_y, the max and the smoothing sum (everything that reads x comes
 * first, so that the gradient may overwrite the logits), then the rest;
 * with a gradient to write on a contiguous row with a finite max, the
 * rest pass stores exp(x_j - max) in the gradient row, which the last
 * step scales in place (exp computed once). An ignored row is done here:
 * loss 0, gradient 0. */
static void LOCAL(sparse_row_begin)(const LOCAL(sparse_ctx) *c, ptrdiff_t s,
                                    LOCAL(sparse_state) *st) {
    const ptrdiff_t C = c->C, n1 = c->n1;
    ptrdiff_t off = fastce_row_offset(s, C, n1);
    T *g = c->grad ? c->grad + off : NULL;
    const int64_t y = c->y[s];
    st->skip = y == c->ignore_index;
    if (st->skip) {
        if (c->loss) c->loss[s] = (T)0;
        if (g) LOCAL(zero_row)(g, n1, C);
        return;
    }
    const T *x = c->x + off;
    st->y = y;
    st->sw = c->sw ? (double)c->sw[s] : 1.0;
    st->wy = c->w ? (double)c->w[y] : 1.0;
    st->xy = (double)x[y * n1];
    st->r = (fastce_row){.max = LOCAL(row_max)(x, n1, C)}; /* other fields 0 */
    /* the smoothing term sum_c w_c*l_c = sum_c w_c*(max - x_c) + W*lse_rel:
     * its first part reads x, so it comes before g may overwrite x */
    const int masked = st->r.max == -INFINITY; /* every class masked, y too */
    st->smooth = (fastce_acc){0.0, 0.0};
    st->max_weights_finite = 1;
    /* (an infinite class weight takes the loop, which leaves out the terms
     * at the max: w_j * 0 would be NaN there, where w_j * l_j is inf) */
    if (c->e > 0.0 && !masked && n1 == 1 && VEC(row_wdiff) && isfinite(c->w_sum)) {
        double o[4]; /* one vector pass */
        VEC(row_wdiff)(x, c->w, NULL, C, st->r.max, 0, o);
        st->smooth = (fastce_acc){o[0], o[1]};
    } else if (c->e > 0.0 && !masked) {
        for (ptrdiff_t j = 0; j < C; j++) {
            double v = (double)x[j * n1], wj = c->w ? (double)c->w[j] : 1.0;
            if (v != st->r.max)
                fastce_acc_add(&st->smooth, wj * (st->r.max - v));
            else
                st->max_weights_finite &= isfinite(wj) != 0;
        }
    }
    st->stored = LOCAL(row_rest_from_max)(x, n1, C, &st->r, g, 1); /* g: exp(x_j - max) */
}

/* The last step of a row begun by sparse_row_begin: its loss (added to
 * *acc) and gradient. */
static void LOCAL(sparse_row_end)(const LOCAL(sparse_ctx) *c, ptrdiff_t s,
                                  const LOCAL(sparse_state) *st, fastce_acc *acc) {
    if (st->skip) return;
    const ptrdiff_t C = c->C, n1 = c->n1;
    const double e = c->e, e_c = c->e / (double)C;
    ptrdiff_t off = fastce_row_offset(s, C, n1);
    T *g = c->grad ? c->grad + off : NULL;
    const T *x = c->x + off;
    const fastce_row r = st->r;
    const double sw = st->sw, wy = st->wy, xy = st->xy;
    const int64_t y = st->y;
    const int masked = r.max == -INFINITY;
    const fastce_dd lse_dd = LOCAL(lse_rel_dd)(r);
    const double lse_rel = lse_dd.hi + lse_dd.lo;

    double l = INFINITY;
    if (!masked) {
        l = fastce_term(1.0 - e, wy * LOCAL(class_loss)(xy, r, lse_rel));
        /* e/C may underflow to 0: then the term is absent, even against an
         * infinite smoothing sum (a +inf logit beside finite ones) */
        if (e > 0.0)
            l += fastce_term(e_c, fastce_acc_value(st->smooth) +
                                      fastce_mass_lse(c->w_sum, lse_rel, st->max_weights_finite));
        l *= sw;
        if (isfinite(l) && (l != 0.0 || r.deep > 0.0) && (e > 0.0 || c->w || c->sw)) {
            /* (a finite loss may still have an absent infinite term; a
             * zero keeps the sign of the plain form, -0 for sw = -0, unless
             * it is a tiny rest rounded to 0 that the weights bring back) */
            fastce_dd W = {c->w_sum, c->w_lo};
            double precise = r.deep > 0.0 && xy == r.max && !(e > 0.0)
                                 ? LOCAL(deep_loss)(wy, sw, r) /* sw*w_y*lse_rel */
                                 : LOCAL(weighted_loss)(e, wy, sw, xy, r, lse_dd, st->smooth, W,
                                                        C);
            if (isfinite(precise)) l = precise;
        }
    } else
        l *= sw;
    if (c->loss) c->loss[s] = (T)l;
    fastce_acc_add(acc, l);

    if (!g) return;
    if (masked) {
        LOCAL(zero_row)(g, n1, C);
        return;
    }
    /* d l / d x_j = sw * ((1-e)*w_y*(p_j - [j==y]) + (e/C)*(W*p_j - w_j)):
     * every class but y is scale*exp(x_j - max) + offset*w_j ... */
    /* (without smoothing, e/C = 0, those terms are absent, even beside an
     * infinite or NaN class weight: 0 * W and 0 * w_j are not taken) */
    const T *w = e_c > 0.0 ? c->w : NULL;
    double a = sw * c->grad_scale, cy = (1.0 - e) * wy;
    double scale = a * (cy + fastce_term(e_c, c->w_sum)) / (1.0 + r.rest), offset = -a * e_c;
    if (st->stored) {
        VEC(scale_row)(g, C, scale, offset, NULL, -0.0, w, g);
    } else {
        for (ptrdiff_t j = 0; j < C; j++)
            g[j * n1] = (T)(scale * LOCAL(row_exp)((double)x[j * n1], r) +
                            offset * (w ? (double)w[j] : 1.0));
    }
    /* ... and the target entry a*((cy + (e/C)*w_y)*(p_y - 1) + (e/C)*W'*p_y),
     * W' = W - w_y the other classes' weights: p_y - 1 computed without
     * cancellation, and W' from W's two parts (W*p_y - w_y cancelled:
     * W's rounding, a fraction of an ulp of W, came out 4.4 ulp of a
     * 2-class gradient whose other weight was small). */
    double py = LOCAL(row_prob)(xy, r), w_other = (c->w_sum - wy) + c->w_lo;
    g[y * n1] = (T)(a * ((cy + fastce_term(e_c, wy)) * LOCAL(prob_minus_one)(xy, r) +
                         fastce_term(e_c, w_other * py)));
}

/* Rows s .. end - 1 of the sparse loss a batch at a time, as
 * softmax_rows (softmax_impl.h): the first steps of every row of the
 * batch, then their last steps in order, so the losses are added in the
 * same order and every bit is the same. */
static void LOCAL(sparse_rows)(const void *vctx, ptrdiff_t s, ptrdiff_t end, fastce_acc *acc) {
    LOCAL(sparse_state) st[FASTCE_ROW_BATCH];
    for (; s < end; s += FASTCE_ROW_BATCH) {
        const ptrdiff_t k = end - s < FASTCE_ROW_BATCH ? end - s : FASTCE_ROW_BATCH;
        for (ptrdiff_t i = 0; i < k; i++) LOCAL(sparse_row_begin)(vctx, s + i, st + i);
        for (ptrdiff_t i = 0; i < k; i++) LOCAL(sparse_row_end)(vctx, s + i, st + i, acc);
    }
}

/* The kernel for many classes side by side, when this dtype and ISA have one. */
static inline ptrdiff_t (*LOCAL(sparse_planes_kernel)(void))(
    const T *, const int64_t *, ptrdiff_t, ptrdiff_t, ptrdiff_t, const T *, const T *, int64_t,
    T *, T *, double, double *) {
    return VEC(sparse_ce_planes);
}

/* Which kernel takes this call's samples a group at a time: 1 the
 * row-parallel one (few classes, any layout; contiguous rows up to
 * FASTCE_ROWS_C classes), 2 the planes one (more classes side by side, no
 * smoothing), 0 neither. */
static inline int LOCAL(sparse_group_kernel)(const LOCAL(sparse_ctx) *c) {
    if (c->generic_only) return 0;
    /* (the double row kernels take a weighted or smoothed loss as
     * weighted_loss does, in double-double) */
    if (LOCAL(rows_kernel_layout)(c->C, c->n1)) return LOCAL(sparse_rows_kernel)() != NULL;
    /* the double planes kernels round each weight product in double:
     * weighted and smoothed double losses go through weighted_loss */
    if (sizeof(T) == sizeof(double) && (c->w || c->sw || c->e > 0.0)) return 0;
    return LOCAL(sparse_planes_kernel)() && c->e == 0.0 && LOCAL(side_by_side)(c->C, c->n1) ? 2 : 0;
}

static double LOCAL(sparse_tile)(const void *vctx, ptrdiff_t s, ptrdiff_t r, const T *x,
                                 const T *unused, T *g);

/* A block's samples [begin, end) for a group kernel (sparse or dense
 * targets): group(ctx, s, run, &part) runs it on the run of samples from s
 * (one leading index, kernel_run) while it can, returns how many it did
 * and adds their losses to part; a sample it leaves (a row whose max is
 * not finite) and the tail of a run go one by one, rows(ctx, s, stop,
 * &acc) (a batch of rows at a time: FASTCE_ROW_BATCH), samples side by
 * side through tiles of x and t (the strided loops are
 * scalar: with a tenth of the samples masked, 150 classes, they made
 * log_softmax 5x slower than the tiles). group NULL: all one by one. */
typedef ptrdiff_t (*LOCAL(group_fn))(const void *ctx, ptrdiff_t s, ptrdiff_t run, double *part);
typedef void (*LOCAL(rows_fn))(const void *ctx, ptrdiff_t s, ptrdiff_t end, fastce_acc *acc);

static inline double LOCAL(group_block)(const void *ctx, LOCAL(group_fn) group, LOCAL(rows_fn) rows,
                                        LOCAL(tile_fn) tile, const T *x, const T *t, T *grad,
                                        ptrdiff_t C, ptrdiff_t n1, ptrdiff_t begin,
                                        ptrdiff_t end) {
    fastce_acc acc = {0.0, 0.0};
    ptrdiff_t left = 8; /* see one_by_one_stop */
    for (ptrdiff_t s = begin; s < end;) {
        ptrdiff_t stop = end;
        if (group) {
            const ptrdiff_t run = LOCAL(kernel_run)(s, end, n1), s0 = s;
            double part = 0.0;
            stop = s + run;
            s += group(ctx, s, run, &part);
            fastce_acc_add(&acc, part);
            stop = LOCAL(one_by_one_stop)(&left, n1, s - s0, s, stop);
            if (n1 > 1 && s < stop && LOCAL(use_tiles)(C, n1)) { /* the samples it left, */
                fastce_acc_add(&acc, LOCAL(run_tiles)(ctx, tile, x, t, grad, C, n1, s, stop));
                s = stop; /* as rows */
            }
        }
        rows(ctx, s, stop, &acc);
        s = stop;
    }
    return fastce_acc_value(acc);
}

/* group_fn for sparse targets: the row-parallel kernel, or the planes one. */
static ptrdiff_t LOCAL(sparse_rows_group)(const void *vctx, ptrdiff_t s, ptrdiff_t run,
                                          double *part) {
    const LOCAL(sparse_ctx) *c = vctx;
    const ptrdiff_t off = fastce_row_offset(s, c->C, c->n1);
    return LOCAL(sparse_rows_kernel)()(c->x + off, c->y + s, run, c->C, c->n1, c->w,
                                       c->sw ? c->sw + s : NULL, c->ignore_index, c->e, c->w_sum,
                                       c->w_lo, c->loss ? c->loss + s : NULL,
                                       c->grad ? c->grad + off : NULL, c->grad_scale, part);
}

static ptrdiff_t LOCAL(sparse_planes_group)(const void *vctx, ptrdiff_t s, ptrdiff_t run,
                                            double *part) {
    const LOCAL(sparse_ctx) *c = vctx;
    const ptrdiff_t off = fastce_row_offset(s, c->C, c->n1);
    return LOCAL(sparse_planes_kernel)()(c->x + off, c->y + s, run, c->C, c->n1, c->w,
                                         c->sw ? c->sw + s : NULL, c->ignore_index,
                                         c->loss ? c->loss + s : NULL,
                                         c->grad ? c->grad + off : NULL, c->grad_scale, part);
}

static double LOCAL(sparse_block_direct)(const LOCAL(sparse_ctx) *c, ptrdiff_t begin,
                                         ptrdiff_t end) {
    const int kernel = LOCAL(sparse_group_kernel)(c);
    return LOCAL(group_block)(c, kernel == 1 ? LOCAL(sparse_rows_group)
                                 : kernel == 2 ? LOCAL(sparse_planes_group) : NULL,
                              LOCAL(sparse_rows), LOCAL(sparse_tile), c->x, NULL, c->grad, c->C,
                              c->n1, begin, end);
}

/* A tile of strided samples (run_tiles in row_impl.h). */
static double LOCAL(sparse_tile)(const void *vctx, ptrdiff_t s, ptrdiff_t r, const T *x,
                                 const T *unused, T *g) {
    LOCAL(sparse_ctx) t = *(const LOCAL(sparse_ctx) *)vctx;
    (void)unused;
    t.x = x, t.n1 = 1, t.y += s, t.sw = t.sw ? t.sw + s : NULL;
    t.loss = t.loss ? t.loss + s : NULL, t.grad = t.grad ? g : NULL;
    return LOCAL(sparse_block_direct)(&t, 0, r);
}

/* Strided rows (n1 > 1) through tiles, unless a group kernel takes them
 * as they are; contiguous rows, and rows too long for a tile, as they
 * are. */
static double LOCAL(sparse_block)(const void *vctx, ptrdiff_t begin, ptrdiff_t end) {
    const LOCAL(sparse_ctx) *c = vctx;
    if (!LOCAL(use_tiles)(c->C, c->n1) || LOCAL(sparse_group_kernel)(c))
        return LOCAL(sparse_block_direct)(c, begin, end);
    return LOCAL(run_tiles)(c, LOCAL(sparse_tile), c->x, NULL, c->grad, c->C, c->n1, begin,
                            end);
}

/* W, the sum of the class weights, as hi + lo (C without weights). */
static fastce_dd LOCAL(weight_sum)(const T *w, ptrdiff_t C) {
    if (!w) return fastce_dd_of((double)C);
    fastce_acc s = {0.0, 0.0};
    for (ptrdiff_t j = 0; j < C; j++) fastce_acc_add(&s, (double)w[j]);
    double hi = fastce_acc_value(s);
    return (fastce_dd){hi, isfinite(hi) ? (s.s - hi) + s.c : 0.0};
}

int PUBLIC(softmax_ce_sparse)(const T *x, const int64_t *y, ptrdiff_t n0,
                              ptrdiff_t C, ptrdiff_t n1, const T *w,
                              const T *sw, int64_t ignore_index, double e,
                              T *loss, double *total, T *grad,
                              double grad_scale, int n_threads) {
    fastce_dd W = LOCAL(weight_sum)(w, C);
    /* An infinite or NaN class weight takes the generic rows. The group
     * kernels take the smoothing terms e/C * W and e/C * w_j even when e/C
     * is 0, which made every gradient entry NaN, where PyTorch's are finite
     * but for the rows whose target has that weight; and with smoothing
     * they take w_j * (max - x_j) at the max, inf * 0, which made the loss
     * of a row whose max has an infinite weight NaN (PyTorch: inf). */
    const int generic_only = !isfinite(W.hi);
    LOCAL(sparse_ctx) ctx = {x,  y,  w,           sw, loss,       grad,
                             C,  n1, ignore_index, e,  grad_scale, W.hi, W.lo, 0, generic_only};
    const ptrdiff_t min_block =
        LOCAL(sparse_group_kernel)(&ctx) == 2 ? LOCAL(planes_block_min)(n0 * n1) : 1;
    return fastce_run_blocks_min(LOCAL(sparse_block), &ctx, n0 * n1, C, min_block, n_threads,
                                 total);
}

/* -------------------------------------------------------------- dense */

typedef struct {
    const T *x, *t;
    const T *w, *sw;
    T *loss, *grad;
    ptrdiff_t C, n1;
    double e, grad_scale;
    int w_negative; /* a class weight below 0 (or NaN) */
    fastce_dd W;    /* the sum of the class weights (C without) */
} LOCAL(dense_ctx);

/* One row of the dense loss (any stride), its gradient, and its loss
 * added to *acc. */
static void LOCAL(dense_row)(const void *vctx, ptrdiff_t s, fastce_acc *acc) {
    const LOCAL(dense_ctx) *c = vctx;
    const ptrdiff_t C = c->C, n1 = c->n1;
    const double keep = 1.0 - c->e, e_c = c->e / (double)C;
    /* weights or smoothing: the loss is recomputed from compensated sums */
    const int precise = c->e > 0.0 || c->w || c->sw;
    ptrdiff_t off = fastce_row_offset(s, C, n1);
    const T *x = c->x + off, *t = c->t + off;
    T *g = c->grad ? c->grad + off : NULL;
    double sw = c->sw ? (double)c->sw[s] : 1.0;
    fastce_row r = {.max = LOCAL(row_max)(x, n1, C)}; /* other fields 0 */
    int masked = r.max == -INFINITY;

    /* loss = sum_c wt_c * ((max - x_c) + lse_rel), wt_c = w_c * t'_c: A
     * collects the first parts, B = sum wt_c multiplies lse_rel. B_rest
     * leaves out the maximum; k is that maximum when it is the only one
     * (rest < 1), where the gradient needs B_rest to avoid cancellation. */
    fastce_acc A = {0.0, 0.0}, B_acc = {0.0, 0.0}, B_rest_acc = {0.0, 0.0};
    fastce_dense_sums sums = {{0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}};
    ptrdiff_t k = -1;
    /* the signs of the terms wt_c the loop sees (below: whether the row
     * has target mass, and a masked row's loss) */
    int positive = 0, negative = 0;
    int max_wt_finite = 1; /* the terms wt_k of the classes at the max (loop only) */
    /* wt_c = w_c (keep t_c + e/C): vector passes for the sums over w t
     * and, with smoothing, over w (ones without class weights). Double
     * rows with class weights, smoothing or a sample weight need the exact
     * sums too: a vector pass where the table has one (row_dense_dot2),
     * else the loop below; a float loss needs no more than row_wdiff's
     * (whose products w_c t_c of floats are exact in double). A row with a
     * negative target (no probability, but allowed, as in PyTorch) takes
     * the loop, and so does a call with a negative class weight: the
     * vector passes' plain sums of terms of both signs cancelled (targets
     * -1e30, 0.35, 0.015, 1e30 gave a target mass of 0, and so a loss of
     * 0, or one off by 10x at tied maxima). (With class weights the loop
     * took 14 ns an entry, 0.07 G/s, at 4096 x 1000.) */
    const int exact = sizeof(T) == sizeof(double) && precise;
    int vec = !masked && n1 == 1 && VEC(row_wdiff) && !c->w_negative &&
              (!exact || (VEC(row_dense_dot2) && isfinite(r.max)));
    if (vec) {
        int negative = 0;
        for (ptrdiff_t j = 0; j < C; j++) negative |= t[j] < 0;
        vec = !negative;
    }
    if (vec) {
        double o[4], u[4] = {0.0, 0.0, 0.0, 0.0};
        k = VEC(row_wdiff)(x, t, c->w, C, r.max, 1, o);
        if (e_c > 0.0) VEC(row_wdiff)(x, c->w, NULL, C, r.max, 1, u); /* (e/C may underflow) */
        /* (fastce_term: label_smoothing = 1 leaves no target term, even
         * against an infinite sum, a masked class with target mass) */
        A = e_c > 0.0
                ? (fastce_acc){fastce_term(keep, o[0] + o[1]) + e_c * (u[0] + u[1]), 0.0}
                : (fastce_acc){fastce_term(keep, o[0]), fastce_term(keep, o[1])};
        B_rest_acc = (fastce_acc){keep * o[2] + e_c * u[2], 0.0};
        B_acc = B_rest_acc;
        fastce_acc_add(&B_acc, keep * o[3] + e_c * u[3]);
        if (!isfinite(fastce_acc_value(A)) || !isfinite(fastce_acc_value(B_acc))) {
            /* The passes sum over classes before scaling by keep and e/C,
             * where the loop takes each wt_j = w_j (keep t_j + e/C) first:
             * their sums can overflow where the loop's stay finite (logits
             * spread near +-1e308; class weights whose sum overflows), and
             * an infinite class weight on a zero target makes 0 * inf =
             * NaN in their w_j t_j (the loop: inf). The loop again, for
             * such rows (and rows whose loss is inf or NaN anyway). */
            vec = 0, k = -1;
            A = B_acc = B_rest_acc = (fastce_acc){0.0, 0.0};
        }
    }
    if (vec && exact) {
        double d[6];
        VEC(row_dense_dot2)(x, t, c->w, C, r.max, c->e > 0.0, d);
        sums.a_t = (fastce_acc){d[0], d[1]}, sums.sum_t = (fastce_acc){d[2], d[3]};
        if (c->e > 0.0) sums.a_w = (fastce_acc){d[4], d[5]}, sums.sum_w = (fastce_acc){c->W.hi, c->W.lo};
    }
    if (!vec) for (ptrdiff_t j = 0; j < C; j++) {
        double v = (double)x[j * n1];
        double wt = (c->w ? (double)c->w[j] : 1.0) * (keep * (double)t[j * n1] + e_c);
        if (precise && !masked)
            fastce_dense_sums_add(&sums, c->w ? (double)c->w[j] : 1.0,
                                  (double)t[j * n1], v, r.max, c->e > 0.0);
        fastce_acc_add(&B_acc, wt);
        positive |= wt > 0.0, negative |= wt < 0.0;
        if (v == r.max) {
            if (k < 0) k = j;
            max_wt_finite &= isfinite(wt) != 0;
            continue;
        }
        fastce_acc_add(&B_rest_acc, wt);
        if (!masked) fastce_acc_add(&A, fastce_term(wt, r.max - v));
    }
    double B = fastce_acc_value(B_acc), B_rest = fastce_acc_value(B_rest_acc);
    /* whether some wt_c is not 0 (or is NaN, which makes B NaN): the vector
     * passes take only terms of one sign, whose sum B is 0 just when every
     * term is; the loop, with negative weights or targets, sees each term
     * (their B may cancel to 0 where the loss and gradient do not: target
     * 0.5, 0.5, 0 with weights 1, -1, 1 gave loss 0 for torch's 0.5) */
    const int mass = vec ? B != 0.0 : positive || negative || B != B;
    /* the sums above have read x: g may now receive exp(x_j - max) */
    int stored = LOCAL(row_rest_from_max)(x, n1, C, &r, g, 1);
    const fastce_dd lse_dd = LOCAL(lse_rel_dd)(r);
    const double lse_rel = lse_dd.hi + lse_dd.lo;
    /* no target mass (every wt_c 0): 0 whatever the logits hold, like an
     * ignored sample; a masked row: every l_c is +inf, so its terms wt_c l_c
     * are +inf or -inf by the sign of wt_c (NaN where both are there), and a
     * NaN stays NaN */
    double l = !mass  ? 0.0
             : masked ? (B != B ? B : positive && negative ? NAN : negative ? -INFINITY : INFINITY)
                      : fastce_acc_value(A) + fastce_mass_lse(B, lse_rel, max_wt_finite);
    l *= sw;
    if (precise && (!vec || exact) && isfinite(l) && (l != 0.0 || (r.deep > 0.0 && mass))) {
        /* (a finite loss may still have an absent infinite term; a zero
         * one is a tiny rest rounded to 0 that the weights bring back) */
        double v = r.deep > 0.0 && fastce_acc_value(A) == 0.0
                       ? LOCAL(deep_loss)(sw, B, r) /* sw*B*lse_rel */
                       : fastce_dense_loss_value(&sums, lse_dd,
                                                 c->e, C, sw);
        if (isfinite(v)) l = v;
    }
    if (c->loss) c->loss[s] = (T)l;
    fastce_acc_add(acc, l);

    if (!g) return;
    if (masked || !mass) {
        LOCAL(zero_row)(g, n1, C);
        return;
    }
    /* d l / d x_j = sw * (B*p_j - wt_j); at a lone maximum B*p - wt
     * equals B_rest - B*rest/(1+rest), without the cancellation near 1. */
    double a = sw * c->grad_scale;
    if (stored && vec) { /* B p_j - w_j (keep t_j + e/C), rounded once */
        VEC(scale_row)(g, C, a * B / (1.0 + r.rest), -a * keep, t, -a * e_c, c->w, g);
    } else {
        if (stored) {
            VEC(scale_row)(g, C, a * B / (1.0 + r.rest), 0.0, NULL, -0.0, NULL, g);
        } else
            for (ptrdiff_t j = 0; j < C; j++)
                g[j * n1] = (T)(a * B * LOCAL(row_prob)((double)x[j * n1], r));
        for (ptrdiff_t j = 0; j < C; j++) {
            double wt = (c->w ? (double)c->w[j] : 1.0) * (keep * (double)t[j * n1] + e_c);
            g[j * n1] = (T)((double)g[j * n1] - a * wt);
        }
    }
    if (k >= 0 && r.rest < 1.0 && isfinite(B)) /* (inf - inf: keep B p_k - wt_k) */
        g[k * n1] = (T)(a * (B_rest - B * r.rest / (1.0 + r.rest)));
}

/* Rows s .. end - 1 of the dense loss, one by one. */
static void LOCAL(dense_rows)(const void *vctx, ptrdiff_t s, ptrdiff_t end, fastce_acc *acc) {
    for (; s < end; s++) LOCAL(dense_row)(vctx, s, acc);
}

/* The row-parallel kernel for few classes, when this dtype and ISA have
 * one. */
static inline ptrdiff_t (*LOCAL(dense_rows_kernel)(void))(const T *, const T *, ptrdiff_t,
                                                          ptrdiff_t, ptrdiff_t, const T *,
                                                          const T *, double, T *, T *, double,
                                                          double *) {
    return VEC(dense_ce_rows);
}

/* Whether it takes this call's samples (any layout up to FASTCE_SMALL_C
 * classes, and rows up to FASTCE_ROWS_C, as sparse_group_kernel): not
 * with a negative class weight, where the kernel's plain sum of the
 * weights could cancel (its targets are checked row by row). */
static inline int LOCAL(dense_group_kernel)(const LOCAL(dense_ctx) *c) {
    /* (a class weight that is not finite: the rows one by one, whose loop
     * leaves the inf * 0 of the terms at the max out) */
    return LOCAL(rows_kernel_layout)(c->C, c->n1) && LOCAL(dense_rows_kernel)() &&
           !c->w_negative && isfinite(c->W.hi);
}

static double LOCAL(dense_tile)(const void *vctx, ptrdiff_t s, ptrdiff_t r, const T *x,
                                const T *tt, T *g);

/* group_fn for dense targets. */
static ptrdiff_t LOCAL(dense_group)(const void *vctx, ptrdiff_t s, ptrdiff_t run, double *part) {
    const LOCAL(dense_ctx) *c = vctx;
    const ptrdiff_t off = fastce_row_offset(s, c->C, c->n1);
    return LOCAL(dense_rows_kernel)()(c->x + off, c->t + off, run, c->C, c->n1, c->w,
                                      c->sw ? c->sw + s : NULL, c->e, c->loss ? c->loss + s : NULL,
                                      c->grad ? c->grad + off : NULL, c->grad_scale, part);
}

static double LOCAL(dense_block_direct)(const LOCAL(dense_ctx) *c, ptrdiff_t begin,
                                        ptrdiff_t end) {
    return LOCAL(group_block)(c, LOCAL(dense_group_kernel)(c) ? LOCAL(dense_group) : NULL,
                              LOCAL(dense_rows), LOCAL(dense_tile), c->x, c->t, c->grad, c->C,
                              c->n1, begin, end);
}

/* sparse_tile and sparse_block for dense targets, which go through a
 * tile too. */
static double LOCAL(dense_tile)(const void *vctx, ptrdiff_t s, ptrdiff_t r, const T *x,
                                const T *tt, T *g) {
    LOCAL(dense_ctx) t = *(const LOCAL(dense_ctx) *)vctx;
    t.x = x, t.t = tt, t.n1 = 1, t.sw = t.sw ? t.sw + s : NULL;
    t.loss = t.loss ? t.loss + s : NULL, t.grad = t.grad ? g : NULL;
    return LOCAL(dense_block_direct)(&t, 0, r);
}

static double LOCAL(dense_block)(const void *vctx, ptrdiff_t begin, ptrdiff_t end) {
    const LOCAL(dense_ctx) *c = vctx;
    if (!LOCAL(use_tiles)(c->C, c->n1) || LOCAL(dense_group_kernel)(c))
        return LOCAL(dense_block_direct)(c, begin, end);
    return LOCAL(run_tiles)(c, LOCAL(dense_tile), c->x, c->t, c->grad, c->C, c->n1, begin,
                            end);
}

int PUBLIC(softmax_ce_dense)(const T *x, const T *t, ptrdiff_t n0,
                             ptrdiff_t C, ptrdiff_t n1, const T *w,
                             const T *sw, double e, T *loss, double *total,
                             T *grad, double grad_scale, int n_threads) {
    int w_negative = 0;
    for (ptrdiff_t j = 0; w && j < C; j++) w_negative |= !(w[j] >= 0);
    LOCAL(dense_ctx) ctx = {x,  t, w,          sw,        loss, grad,
                            C,  n1, e,         grad_scale, w_negative, LOCAL(weight_sum)(w, C)};
    return fastce_run_blocks(LOCAL(dense_block), &ctx, n0 * n1, C, n_threads,
                             total);
}

/* ---------------------------------------------------------------- nll */

/* -sw[s] * w[y] * lp[s, y], or 0 for an ignored sample. */
static inline double LOCAL(nll_term)(const T *x, const int64_t *y,
                                     const T *w, const T *sw, ptrdiff_t C,
                                     int64_t ignore, ptrdiff_t s) {
    const int64_t ys = y[s];
    const ptrdiff_t k = ys != ignore ? (ptrdiff_t)ys : 0;
    const double coef = (sw ? (double)sw[s] : 1.0) * (w ? (double)w[k] : 1.0);
    const double l = -coef * (double)x[s * C + k]; /* as in nll_block */
    return ys != ignore ? l : 0.0;
}

/* The loss alone (no per-sample output, no gradient) of samples whose
 * classes are contiguous (n1 = 1): the common case, kept free of branches
 * and sums that wait on each other, four samples a step. */
static double LOCAL(nll_sum)(const LOCAL(sparse_ctx) *c, ptrdiff_t begin,
                             ptrdiff_t end) {
    const T *x = c->x, *w = c->w, *sw = c->sw;
    const int64_t *y = c->y, ignore = c->ignore_index;
    const ptrdiff_t C = c->C;
    /* Rows a few cache lines apart or more defeat the hardware's
     * prefetcher, and each sample's read is a miss the loop cannot overlap
     * far enough by itself: ask for the entry FASTCE_NLL_AHEAD on. */
    const int ahead = C * (ptrdiff_t)sizeof(T) >= 256;
    fastce_acc a0 = {0.0, 0.0}, a1 = a0, a2 = a0, a3 = a0;
    ptrdiff_t s = begin;
    for (; s + 4 <= end; s += 4) {
        if (ahead && s + 4 + FASTCE_NLL_AHEAD <= end)
            for (int j = 0; j < 4; j++) {
                const ptrdiff_t t = s + j + FASTCE_NLL_AHEAD;
                const uint64_t ya = (uint64_t)y[t];
                if (ya < (uint64_t)C) FASTCE_PREFETCH(x + t * C + (ptrdiff_t)ya);
            }
        fastce_acc2_add(&a0, LOCAL(nll_term)(x, y, w, sw, C, ignore, s));
        fastce_acc2_add(&a1, LOCAL(nll_term)(x, y, w, sw, C, ignore, s + 1));
        fastce_acc2_add(&a2, LOCAL(nll_term)(x, y, w, sw, C, ignore, s + 2));
        fastce_acc2_add(&a3, LOCAL(nll_term)(x, y, w, sw, C, ignore, s + 3));
    }
    for (; s < end; s++)
        fastce_acc2_add(&a0, LOCAL(nll_term)(x, y, w, sw, C, ignore, s));
    /* the four sums in a fixed order: the same result for any thread count */
    fastce_acc total = {0.0, 0.0};
    fastce_acc2_add(&total, a0.s);
    fastce_acc2_add(&total, a1.s);
    fastce_acc2_add(&total, a2.s);
    fastce_acc2_add(&total, a3.s);
    total.c += (a0.c + a1.c) + (a2.c + a3.c);
    return fastce_acc2_value(total);
}

/* The gradient into an array that may hold anything (a caller's grad_out)
 * for samples whose classes are contiguous (n1 = 1): their rows are one
 * span, zeroed a chunk at a time, where zeroing a row at a time cost more
 * than the rest of a row of few classes (1.8 against 3.1 G/s into a fresh
 * array at 10 classes). The chunk's log-probabilities are read for its
 * losses before it is zeroed, as g may alias lp; its target entries
 * -coef*scale do not depend on them. */
static double LOCAL(nll_grad_rows)(const LOCAL(sparse_ctx) *c, ptrdiff_t begin,
                                   ptrdiff_t end) {
    enum { CHUNK = 256 };
    const T *w = c->w, *sw = c->sw;
    const int64_t *y = c->y, ignore = c->ignore_index;
    const ptrdiff_t C = c->C;
    fastce_acc acc = {0.0, 0.0};
    for (ptrdiff_t s0 = begin; s0 < end; s0 += CHUNK) {
        const ptrdiff_t s1 = end - s0 > CHUNK ? s0 + CHUNK : end;
        for (ptrdiff_t s = s0; s < s1; s++) {
            const double l = LOCAL(nll_term)(c->x, y, w, sw, C, ignore, s);
            if (c->loss) c->loss[s] = (T)l;
            fastce_acc_add(&acc, l);
        }
        memset(c->grad + s0 * C, 0, (size_t)((s1 - s0) * C) * sizeof(T));
        for (ptrdiff_t s = s0; s < s1; s++) {
            if (y[s] == ignore) continue;
            const double coef = (sw ? (double)sw[s] : 1.0) * (w ? (double)w[y[s]] : 1.0);
            c->grad[s * C + y[s]] = (T)(-coef * c->grad_scale);
        }
    }
    return fastce_acc_value(acc);
}

static double LOCAL(nll_block)(const void *vctx, ptrdiff_t begin,
                               ptrdiff_t end) {
    const LOCAL(sparse_ctx) *c = vctx; /* x holds the log-probabilities */
    if (c->n1 == 1 && !c->loss && !c->grad) return LOCAL(nll_sum)(c, begin, end);
    if (c->n1 == 1 && c->grad && !c->grad_zeroed) return LOCAL(nll_grad_rows)(c, begin, end);
    const ptrdiff_t C = c->C, n1 = c->n1;
    fastce_acc acc = {0.0, 0.0};
    for (ptrdiff_t s = begin; s < end; s++) {
        ptrdiff_t off = fastce_row_offset(s, C, n1);
        T *g = c->grad ? c->grad + off : NULL;
        int64_t y = c->y[s];
        double coef = 0.0, l = 0.0;
        if (y != c->ignore_index) {
            coef = (c->sw ? (double)c->sw[s] : 1.0) *
                   (c->w ? (double)c->w[y] : 1.0);
            l = -coef * (double)c->x[off + y * n1];
        }
        if (c->loss) c->loss[s] = (T)l;
        fastce_acc_add(&acc, l);
        if (g) { /* lp[y] was read above, so g may alias lp */
            if (!c->grad_zeroed) LOCAL(zero_row)(g, n1, C);
            if (y != c->ignore_index) g[y * n1] = (T)(-coef * c->grad_scale);
        }
    }
    return fastce_acc_value(acc);
}

int PUBLIC(nll)(const T *lp, const int64_t *y, ptrdiff_t n0, ptrdiff_t C,
                ptrdiff_t n1, const T *w, const T *sw, int64_t ignore_index,
                T *loss, double *total, T *grad, double grad_scale,
                int grad_zeroed, int n_threads) {
    LOCAL(sparse_ctx) ctx = {lp, y,  w,           sw,  loss,       grad,
                             C,  n1, ignore_index, 0.0, grad_scale, 0.0, 0.0, grad_zeroed, 0};
    /* A gradient zero-fills C entries per sample (or the OS does, on the
     * first write to each page): that is the work. Without one, a sample
     * whose row is far from the last costs a cache miss, about as long as
     * 16 entries of a streamed pass; with 2 threads two misses overlap. */
    const ptrdiff_t far = n1 == 1 && C * (ptrdiff_t)sizeof(T) >= 256 ? 16 : 1;
    return fastce_run_blocks(LOCAL(nll_block), &ctx, n0 * n1, grad ? C : far,
                             n_threads, total);
}
