/* row_impl.h: per-row statistics shared by the softmax-family kernels.
 * Template: included once per dtype by instantiate.h.
 *
 * A row is x[0], x[n1], ..., x[(C-1)*n1]. Its statistics are the max m and
 *   rest = sum over x_j != m of exp(x_j - m)  +  (#{x_j == m} - 1),
 * so that lse = m + log1p(rest) and l_j = lse - x_j = (m - x_j) + log1p(rest),
 * two non-negative terms. Keeping one maximum's exp(0) = 1 out of rest is what
 * lets a confident row keep its tiny loss log1p(rest) instead of rounding
 * lse - x_y to 0. A row of only -inf (all classes masked) has m = -inf and
 * rest 0; NaN anywhere makes m or rest NaN. Contiguous rows (n1 == 1) go
 * through the vector table fastce_vec; strided rows use the scalar loops. */

#define VEC(op) (fastce_vec->FASTCE_CAT(op, FASTCE_CAT(_, SUF)))

static inline double LOCAL(strided_row_max)(const T *x, ptrdiff_t n1, ptrdiff_t C) {
    double m = (double)x[0];
    for (ptrdiff_t j = 1; j < C; j++)
        if ((double)x[j * n1] > m) m = (double)x[j * n1];
    if (m == -INFINITY) /* all -inf, or -inf and NaN: the NaN must win */
        for (ptrdiff_t j = 0; j < C; j++)
            if (x[j * n1] != x[j * n1]) return (double)x[j * n1];
    return m;
}

/* The rest, and with lo (float64 rows) its low part in *lo: each term's
 * correction and the sum's compensation kept out of the rounding. */
static inline double LOCAL(strided_row_rest)(const T *x, ptrdiff_t n1, ptrdiff_t C,
                                             double m, double *lo) {
    fastce_acc rest = {0.0, 0.0};
    double ties = -1.0, terms_lo = 0.0;
    for (ptrdiff_t j = 0; j < C; j++) {
        double v = (double)x[j * n1];
        if (v == m) {
            ties += 1.0;
        } else if (lo) {
            double t_lo;
            fastce_acc_add(&rest, fastce_exp_diff_dd(v, m, &t_lo));
            terms_lo += t_lo;
        } else
            fastce_acc_add(&rest, fastce_exp_diff(v, m));
    }
    if (!lo) return fastce_acc_value(rest) + ties;
    return fastce_rest_dd(rest.s, rest.c + terms_lo, ties, lo);
}

/* The row's largest entry. */
static inline double LOCAL(row_max)(const T *x, ptrdiff_t n1, ptrdiff_t C) {
    return n1 == 1 ? VEC(row_max)(x, C) : LOCAL(strided_row_max)(x, n1, C);
}

/* The rest of a float64 row below FASTCE_TINY_REST_F64 (vec.h), times
 * 2^FASTCE_DEEP_SCALE: every term scaled in a compensated sum, so that
 * the caller's scaling back is the one rounding into the subnormal range,
 * where the terms' own roundings made a 1000-class loss 173 ulp off. Such a rest has
 * no ties (they would add 1), so the entries other than one maximum all
 * count, each below -670 (-inf, NaN and those below -1100, whose scaled
 * terms underflow, add nothing, or NaN). */
static inline double LOCAL(deep_rest)(const T *x, ptrdiff_t n1, ptrdiff_t C, double m,
                                      double *lo) {
    fastce_acc rest = {0.0, 0.0};
    double terms_lo = 0.0;
    int seen_max = 0;
    for (ptrdiff_t j = 0; j < C; j++) {
        double v = (double)x[j * n1];
        if (v == m && !seen_max) {
            seen_max = 1;
            continue;
        }
        if (v - m > -1100.0) {
            double t_lo;
            fastce_acc_add(&rest, fastce_exp_diff_deep(v, m, &t_lo));
            terms_lo += t_lo;
        }
    }
    return fastce_rest_dd(rest.s, rest.c + terms_lo, 0.0, lo);
}

/* Whether every entry of a contiguous row but one maximum is below m - 670,
 * the only rows whose rest can be below FASTCE_TINY_REST_F64 (2^-968 =
 * e^-671). Most rows answer at their first or second entry. */
static inline int LOCAL(all_far_below)(const T *x, ptrdiff_t C, double m) {
    int seen_max = 0;
    for (ptrdiff_t j = 0; j < C; j++) {
        double v = (double)x[j];
        if (v == m && !seen_max)
            seen_max = 1;
        else if (!(v - m < -670.0))
            return 0;
    }
    return 1;
}

/* Completes r (whose max is set) with the row's rest. With e, on a
 * contiguous row with a finite max, it also stores exp(x_j - max) (1 at a
 * maximum) into e[0..C), which may be x itself, and returns 1: a kernel then
 * turns e into probabilities or gradients with no second exp. Otherwise it
 * stores nothing and returns 0. Kernels read what they need of x first.
 *
 * A float64 rest below FASTCE_TINY_REST_F64 is taken again by deep_rest,
 * which reads x. So when the caller's results need that rest to its last
 * digit (losses: exact_rest), a row that may have such a rest (all its
 * other entries 670 below the max) stores nothing, so that x is still
 * there in place (e == x), and out of place too, so that both take the
 * gradient from x, one exp each, with the same bits (storing out of
 * place, the vector exps' terms made it differ in the last bits, a review
 * found). Probabilities need no more than 1/(1 + rest) = 1 there: in
 * place they keep the stored terms, and the bits of the calls out of
 * place. */
static inline int LOCAL(row_rest_from_max)(const T *x, ptrdiff_t n1, ptrdiff_t C,
                                           fastce_row *r, T *e, int exact_rest) {
    if (r->max == -INFINITY) { /* every class masked */
        r->rest = 0.0;
        return 0;
    }
    const int f64 = sizeof(T) == sizeof(double);
    double *lo = f64 ? &r->lo : NULL;
    int stored = 0;
    if (e && n1 == 1 && isfinite(r->max) &&
        !(f64 && exact_rest && LOCAL(all_far_below)(x, C, r->max))) {
        r->rest = VEC(row_rest_store)(x, C, r->max, e, lo);
        stored = 1;
    } else {
        r->rest = n1 == 1 ? VEC(row_rest)(x, C, r->max, lo)
                          : LOCAL(strided_row_rest)(x, n1, C, r->max, lo);
    }
    if (f64 && r->rest < FASTCE_TINY_REST_F64 && !(stored && (const T *)e == x)) {
        r->deep = LOCAL(deep_rest)(x, n1, C, r->max, &r->deep_lo);
        r->rest = ldexp(r->deep, -FASTCE_DEEP_SCALE);
        r->lo = 0.0; /* (that rounding is the result's) */
    }
    return stored;
}

/* lse_rel = log1p(rest), the log of the row's normaliser relative to its
 * max (lse = max + lse_rel), as hi + lo. A float64 row's comes from
 * rest + lo by the double-double log1p of ddmath.h (within 2^-55 of
 * itself; below 2^-60 log1p(u) = u - u^2/2 to 2^-120 of itself), so that
 * only the terms' own errors remain, in lse_rel and in a loss that a
 * weight or a target sum multiplies (the significands of rest, lse_rel
 * and the loss differ: each rounding between them could weigh two units
 * of the result's last place). A float row's, from libm's log1p. */
static inline fastce_dd LOCAL(lse_rel_dd)(fastce_row r) {
    const double u = r.rest;
    if (sizeof(T) != sizeof(double) || !(u < INFINITY)) return fastce_dd_of(log1p(u));
    fastce_dd l = u < 0x1p-60 ? fastce_two_sum(u, -0.5 * u * u) : fastce_log1p_dd_fast(u);
    return fastce_fast_two_sum(l.hi, l.lo + r.lo / (1.0 + u));
}

static inline double LOCAL(lse_rel)(fastce_row r) {
    fastce_dd l = LOCAL(lse_rel_dd)(r);
    return l.hi + l.lo;
}

static inline fastce_row LOCAL(row_stats)(const T *x, ptrdiff_t n1, ptrdiff_t C) {
    fastce_row r = {.max = LOCAL(row_max)(x, n1, C)}; /* other fields 0 */
    LOCAL(row_rest_from_max)(x, n1, C, &r, NULL, 0);
    return r;
}

/* Per-class quantities from a logit v and its row's statistics. */

/* exp(v - max): 1 exactly at a maximum (a +inf one too), else corrected. */
static inline double LOCAL(row_exp)(double v, fastce_row r) {
    return v == r.max ? 1.0 : fastce_exp_diff(v, r.max);
}

/* The probability of a class (0 for a masked class). */
static inline double LOCAL(row_prob)(double v, fastce_row r) {
    return LOCAL(row_exp)(v, r) / (1.0 + r.rest);
}

/* l = lse - v = (max - v) + lse_rel: 0 + lse_rel at a maximum, so that a
 * +inf target among +inf logits is not inf - inf. */
static inline double LOCAL(class_loss)(double v, fastce_row r, double lse_rel) {
    return (v == r.max ? 0.0 : r.max - v) + lse_rel;
}

/* p - 1 without cancellation: at a maximum it is -rest / (1 + rest). */
static inline double LOCAL(prob_minus_one)(double v, fastce_row r) {
    return v == r.max ? -r.rest / (1.0 + r.rest) : LOCAL(row_prob)(v, r) - 1.0;
}

/* The rows that the generic path takes one by one go a batch at a time:
 * the first steps of every row of the batch (the max, the rest), then
 * the last ones (log1p, the outputs), the rows in order each time. A
 * row's steps form one chain of dependent operations (a horizontal max,
 * the exps, a horizontal sum, log1p), and a row at a time the next row's
 * chain could not begin until the core's window had room for it, which
 * bound rows of a few hundred classes (bench/class_counts.py, float32,
 * AVX-512, in batches: 1.15x as fast at 200 classes, 1.04x at 1000).
 * Each row's arithmetic is the same, and so are its bits and the order
 * of a sum. */
#define FASTCE_ROW_BATCH 8

/* ---- strided rows through a contiguous tile
 * A class axis that is not the last (n1 > 1: an (N, C, H, W) batch of
 * images, PyTorch's layout for segmentation) puts a sample's C entries n1
 * apart, where the vector kernels (a row at a time, or few-class rows in
 * groups) want them side by side: the scalar strided loops ran 20x slower
 * than the same rows with the class axis last. So a block of such samples
 * goes through tiles: a run of consecutive samples (one i0, consecutive
 * i1) is copied into R contiguous rows (the transpose of a C x R tile,
 * read as C runs of R), the contiguous code runs on the tile, and the rows
 * it wrote go back the same way. Each sample then takes the computations
 * of the same row with the class axis last (the few-class kernels group
 * rows from a tile's start, so where AVX2 leaves a group's last rows to
 * the one-row path, a result's last bit may differ from that layout's). */

/* Elements of a tile: rows of more classes than this keep the strided
 * loops. */
#define FASTCE_TILE 1024

/* Whether rows of C classes n1 apart go through tiles: strided rows that
 * fit one (a kernel call with no classes takes its plain loops). */
static inline int LOCAL(use_tiles)(ptrdiff_t C, ptrdiff_t n1) {
    return n1 > 1 && C >= 1 && C <= FASTCE_TILE;
}

/* How many samples from s on (before end, at most max) share s's i0. */
static inline ptrdiff_t LOCAL(tile_rows)(ptrdiff_t s, ptrdiff_t end, ptrdiff_t n1,
                                         ptrdiff_t max) {
    ptrdiff_t r = n1 - s % n1;
    if (r > end - s) r = end - s;
    return r < max ? r : max;
}

/* Samples s .. s + r - 1 (one i0) of the (n0, C, n1) block x into r rows
 * of C at tile, and back. Each of the C runs of r also asks for the
 * cache lines of the next tile's run: the hardware follows a handful of
 * streams, not C of them (a C = 21 loss went 0.83 -> 1.04 G/s, its
 * gradient 0.48 -> 0.63 and log_softmax 0.48 -> 0.62). */
static inline void LOCAL(tile_gather)(const T *x, ptrdiff_t C, ptrdiff_t n1, ptrdiff_t s,
                                      ptrdiff_t r, T *tile) {
    const T *src = x + fastce_row_offset(s, C, n1);
    const ptrdiff_t ahead = LOCAL(tile_rows)(s, s + 2 * r, n1, 2 * r); /* within the run */
    for (ptrdiff_t j = 0; j < C; j++) {
        for (ptrdiff_t k = r; k < ahead; k += 64 / sizeof(T)) FASTCE_PREFETCH(src + j * n1 + k);
        for (ptrdiff_t k = 0; k < r; k++) tile[k * C + j] = src[j * n1 + k];
    }
}

static inline void LOCAL(tile_scatter)(const T *tile, ptrdiff_t C, ptrdiff_t n1, ptrdiff_t s,
                                       ptrdiff_t r, T *x) {
    T *dst = x + fastce_row_offset(s, C, n1);
    const ptrdiff_t ahead = LOCAL(tile_rows)(s, s + 2 * r, n1, 2 * r);
    for (ptrdiff_t j = 0; j < C; j++) {
        for (ptrdiff_t k = r; k < ahead; k += 64 / sizeof(T)) FASTCE_PREFETCH_W(dst + j * n1 + k);
        for (ptrdiff_t k = 0; k < r; k++) dst[j * n1 + k] = tile[k * C + j];
    }
}

/* A block's samples [begin, end) through tiles: a (and b, unless NULL)
 * copied in, fn run on the tile (samples s .. s + r - 1, its rows at ta
 * and tb; the rows it writes go to to), to copied back to out unless NULL.
 * Returns the compensated sum of fn's results, in tile order. */
typedef double (*LOCAL(tile_fn))(const void *ctx, ptrdiff_t s, ptrdiff_t r, const T *ta,
                                 const T *tb, T *to);

static inline double LOCAL(run_tiles)(const void *ctx, LOCAL(tile_fn) fn, const T *a,
                                      const T *b, T *out, ptrdiff_t C, ptrdiff_t n1,
                                      ptrdiff_t begin, ptrdiff_t end) {
    T ta[FASTCE_TILE], tb[FASTCE_TILE], to[FASTCE_TILE];
    fastce_acc acc = {0.0, 0.0};
    for (ptrdiff_t s = begin, r; s < end; s += r) {
        r = LOCAL(tile_rows)(s, end, n1, FASTCE_TILE / C);
        LOCAL(tile_gather)(a, C, n1, s, r, ta);
        if (b) LOCAL(tile_gather)(b, C, n1, s, r, tb);
        fastce_acc_add(&acc, fn(ctx, s, r, ta, b ? tb : NULL, to));
        if (out) LOCAL(tile_scatter)(to, C, n1, s, r, out);
    }
    return fastce_acc_value(acc);
}

/* Samples side by side need no tiles where a kernel puts a group of them
 * in the lanes of its vectors (sparse_ce_rows and softmax_rows for few
 * classes, sparse_ce_planes and softmax_planes for more, in vec.h): class
 * j of the group is then one load from plane j, with no transposes at
 * all. Those kernels take the runs of samples that share a leading index,
 * at least FASTCE_SIDE_MIN long (shorter runs would leave most samples to
 * the one-by-one path: they go through tiles). */
#define FASTCE_SIDE_MIN 16

static inline int LOCAL(side_by_side)(ptrdiff_t C, ptrdiff_t n1) {
    return n1 >= FASTCE_SIDE_MIN && C >= 1;
}

/* Whether the row-parallel kernels (vec.h: sparse_ce_rows, softmax_rows,
 * dense_ce_rows) take samples of this shape: up to FASTCE_SMALL_C classes
 * as rows or side by side, up to FASTCE_ROWS_C as contiguous rows. */
static inline int LOCAL(rows_kernel_layout)(ptrdiff_t C, ptrdiff_t n1) {
    return C <= FASTCE_SMALL_C ? n1 == 1 || LOCAL(side_by_side)(C, n1)
                               : C <= FASTCE_ROWS_C && n1 == 1;
}

/* The samples a parallel block holds at least when a planes kernel takes
 * them (fastce_run_blocks_min): each kernel call pays for a partial group
 * at each end, and FASTCE_BLOCK_WORK / C is 32 samples at C = 1000, 218
 * at C = 150. Float32 (2, 1000, 32, 32) on one thread: log_softmax 0.66
 * -> 0.98 G/s, the loss 1.35 -> 1.46 (and with the loss's 64-byte peel,
 * vec_avx512_planes.c, 0.92 -> 1.58); at (4, 150, 60, 68) the loss 1.45
 * -> 1.65. */
#define FASTCE_PLANES_BLOCK_MIN 1024

/* That least block of a call of n samples: no more than a sixteenth of
 * them, so that a small call still has blocks for every thread (the
 * minimum alone made (8, 1000, 8, 8) float64 on two threads 1.7x slower,
 * a review found). */
static inline ptrdiff_t LOCAL(planes_block_min)(ptrdiff_t n) {
    return n / 16 < FASTCE_PLANES_BLOCK_MIN ? n / 16 : FASTCE_PLANES_BLOCK_MIN;
}

/* After a group kernel leaves a sample (not finite, all masked) the
 * caller takes the next samples one by one, and calls the kernel again:
 * for rows, the next 8. Side by side, a kernel call that stops early has
 * computed the statistics of up to 64 samples for the few before the one
 * it left, so where such samples are frequent (a tenth of them masked:
 * log_softmax 2-5x slower than the tiles) the one-by-one stretch doubles
 * after each call that did fewer than FASTCE_SIDE_MIN_DONE samples, up to
 * FASTCE_SIDE_LEFT_MAX, and is 8 again after one that did more. */
#define FASTCE_SIDE_MIN_DONE 64
#define FASTCE_SIDE_LEFT_MAX 4096

/* Where the one-by-one path that follows a group kernel's call (which did
 * `done` samples, up to s; the run ends at stop) ends; *left is the
 * stretch, 8 to begin with. */
static inline ptrdiff_t LOCAL(one_by_one_stop)(ptrdiff_t *left, ptrdiff_t n1, ptrdiff_t done,
                                               ptrdiff_t s, ptrdiff_t stop) {
    if (n1 > 1)
        *left = done >= FASTCE_SIDE_MIN_DONE ? 8 : *left < FASTCE_SIDE_LEFT_MAX ? 2 * *left : *left;
    return s + *left < stop ? s + *left : stop;
}

/* How many samples from s on (before end) a row-parallel kernel call
 * takes: all of them for contiguous rows, else those that share s's
 * leading index. */
static inline ptrdiff_t LOCAL(kernel_run)(ptrdiff_t s, ptrdiff_t end, ptrdiff_t n1) {
    return n1 == 1 ? end - s : LOCAL(tile_rows)(s, end, n1, end - s);
}

/* Whether the vector table can write this row's exp(x_j - max): a contiguous
 * row with a finite max (a +inf max needs the v == max special case). */
static inline int LOCAL(row_vectorizable)(ptrdiff_t n1, fastce_row r) {
    return n1 == 1 && isfinite(r.max);
}
