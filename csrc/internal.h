/* internal.h: what the kernel files share and nobody outside csrc/ sees. */
#ifndef FASTCE_INTERNAL_H
#define FASTCE_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "fastce.h"

#define FASTCE_CAT_(a, b) a##b
#define FASTCE_CAT(a, b) FASTCE_CAT_(a, b)
/* Inside a template (T and SUF defined): PUBLIC(op) is fastce_<op>_<SUF>,
 * LOCAL(op) a file-local name <op>_<SUF>. */
#define PUBLIC(op) FASTCE_CAT(FASTCE_CAT(fastce_, op), FASTCE_CAT(_, SUF))
#define LOCAL(op) FASTCE_CAT(op, FASTCE_CAT(_, SUF))

/* One pass over a row of a (n0, C, n1) block: the largest entry, its first
 * index, and rest = sum over j != arg of exp(x_j - max). */
typedef struct {
    double max;
    double rest;
    ptrdiff_t arg;
} fastce_row;

/* log of the row's normaliser relative to its max: lse = max + lse_rel. */
static inline double fastce_lse_rel(fastce_row r) { return log1p(r.rest); }

/* Offset of sample s's first class entry; its classes are n1 apart. */
static inline ptrdiff_t fastce_row_offset(ptrdiff_t s, ptrdiff_t C,
                                          ptrdiff_t n1) {
    return n1 == 1 ? s * C : (s / n1) * C * n1 + s % n1;
}

/* exp(a - b), accurate even when a - b is not representable: with
 * d = fl(a - b) and err the exact rounding error of that subtraction
 * (TwoSum), exp(a - b) = exp(d) * (1 + err) to within a few units in the
 * last place. Without it a confident float64 row (a - b ~ -80) loses up to
 * 5 bits in every term. Non-finite differences skip the correction. */
static inline double fastce_exp_diff(double a, double b) {
    double d = a - b;
    double e = exp(d);
    if (!isfinite(d)) return e;
    double a_part = d + b, b_part = d - a_part;
    double err = (a - a_part) - (b + b_part);
    return fma(e, err, e);
}

/* Neumaier's compensated sum: s + c carries about twice the precision of
 * a plain double sum, so sums over 10^5 classes or 10^7 samples stay
 * within an ulp or two of exact. */
typedef struct {
    double s, c;
} fastce_acc;

static inline void fastce_acc_add(fastce_acc *a, double v) {
    double t = a->s + v;
    if (isfinite(t)) /* an inf or NaN sum needs no (and takes no NaN) correction */
        a->c += fabs(a->s) >= fabs(v) ? (a->s - t) + v : (v - t) + a->s;
    a->s = t;
}

static inline double fastce_acc_value(fastce_acc a) { return a.s + a.c; }

/* softplus(x) = log(1 + exp(x)) as max(x, 0) + log1p(exp(-|x|)): exp never
 * overflows and log1p keeps the tail exp(-|x|) instead of rounding it away. */
static inline double fastce_softplus(double x) {
    return (x > 0.0 ? x : 0.0) + log1p(exp(-fabs(x)));
}

/* c * v with a zero coefficient meaning "absent": 0 even when v is inf. */
static inline double fastce_term(double c, double v) {
    return c == 0.0 ? 0.0 : c * v;
}

/* p clipped to [lo, hi]; NaN stays NaN (fmin/fmax would drop it). */
static inline double fastce_clip(double p, double lo, double hi) {
    return p < lo ? lo : (p > hi ? hi : p);
}

/* A block function handles items [begin, end) and returns the sum of their
 * per-item losses (in double). */
typedef double (*fastce_block_fn)(const void *ctx, ptrdiff_t begin,
                                  ptrdiff_t end);

/* Runs fn over n items in fixed blocks of about FASTCE_BLOCK_WORK units of
 * work (work_per_item units each), in parallel when the input is large, and
 * stores the in-order sum of the block sums in *total (when not NULL).
 * Returns FASTCE_OK or FASTCE_ERR_NOMEM (before any block ran). */
int fastce_run_blocks(fastce_block_fn fn, const void *ctx, ptrdiff_t n,
                      ptrdiff_t work_per_item, int n_threads, double *total);

#endif /* FASTCE_INTERNAL_H */
