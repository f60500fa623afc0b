/* internal.h: what the kernel files share and nobody outside csrc/ sees. */
#ifndef FASTCE_INTERNAL_H
#define FASTCE_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ddmath.h"
#include "fastce.h"
#include "vec.h"

#define FASTCE_CAT_(a, b) a##b
#define FASTCE_CAT(a, b) FASTCE_CAT_(a, b)
/* Inside a template (T and SUF defined): PUBLIC(op) is fastce_<op>_<SUF>,
 * LOCAL(op) a file-local name <op>_<SUF>. */
#define PUBLIC(op) FASTCE_CAT(FASTCE_CAT(fastce_, op), FASTCE_CAT(_, SUF))
#define LOCAL(op) FASTCE_CAT(op, FASTCE_CAT(_, SUF))

/* A row's max and rest (see row_impl.h): lse = max + log1p(rest). */
typedef struct {
    double max;
    double rest;
    /* rest * 2^FASTCE_DEEP_SCALE where rest is a float64 rest below 2^-968
     * taken again by deep_rest (row_impl.h), which then keeps its digits
     * for a loss that multiplies it; else 0 */
    double deep;
    /* deep's low part (deep + deep_lo before rounding), for a loss that
     * multiplies it: its rounding, times the weights, cost 2.8 ulp */
    double deep_lo;
    /* float64 rows: the rest's low part, rest + lo its value before
     * rounding (the terms' own errors left); 0 for float rows and deep
     * ones. lse_rel = log1p(rest) is taken from both (lse_rel_dd,
     * row_impl.h): rounded first, a rest just above a power of two, whose
     * lse_rel lies just below it, lost two units of lse_rel's last place
     * to that rounding alone, and the results reached 2.1-3.5 ulp. */
    double lo;
} fastce_row;

/* logsumexp of a row (classes n1 apart, max m) whose max + lse_rel
 * cancels, recomputed in extra precision (softmax_impl.h); the row-parallel
 * kernels call it for the rows of a group that cancel. */
double fastce_lse_cancelled_f32(const float *x, ptrdiff_t n1, ptrdiff_t C, double m);
double fastce_lse_cancelled_f64(const double *x, ptrdiff_t n1, ptrdiff_t C, double m);

/* out[k] = that logsumexp of row k of a group (sample k at xb + k * step,
 * its classes n1 apart: step = C, n1 = 1 for rows of C contiguous classes,
 * step = 1 for samples side by side; row k's max mx[k]) for each bit k of
 * c: a row kernel's rows that cancel, recomputed in their group. */
static inline void fastce_redo_lse_f32(const float *xb, ptrdiff_t step, ptrdiff_t n1,
                                       ptrdiff_t C, const float *mx, unsigned c, float *out) {
    for (int k = 0; c; k++, c >>= 1)
        if (c & 1u) out[k] = (float)fastce_lse_cancelled_f32(xb + k * step, n1, C, mx[k]);
}
static inline void fastce_redo_lse_f64(const double *xb, ptrdiff_t step, ptrdiff_t n1,
                                       ptrdiff_t C, const double *mx, unsigned c, double *out) {
    for (int k = 0; c; k++, c >>= 1)
        if (c & 1u) out[k] = fastce_lse_cancelled_f64(xb + k * step, n1, C, mx[k]);
}

/* Whether lse = max + lse_rel cancels enough to lose the 2-ulp bound: a
 * negative max and an lse_rel (whose error is about an ulp of itself) more
 * than half the size of the result. Rare for logits (the max must be
 * negative); common for log-probabilities, whose logsumexp is near 0. NaN
 * and infinite rows never qualify. */
static inline int fastce_lse_cancels(double max, double lse_rel, double lse) {
    return max < 0.0 && max > -INFINITY && lse_rel > 0.5 * fabs(lse);
}

/* A hint to fetch the cache line holding *p (FASTCE_PREFETCH_W: to be
 * written); no effect on results. */
#if defined(__GNUC__)
#define FASTCE_PREFETCH(p) __builtin_prefetch((const void *)(p))
#define FASTCE_PREFETCH_W(p) __builtin_prefetch((const void *)(p), 1)
#else
#define FASTCE_PREFETCH(p) ((void)(p))
#define FASTCE_PREFETCH_W(p) ((void)(p))
#endif
/* How many samples ahead the gathering loops (nll) prefetch. */
#define FASTCE_NLL_AHEAD 32

/* log(p/q) without the rounding of the ratio: r = fl(p/q) leaves the
 * remainder e = p - r q exactly (FMA; exact for a correctly rounded
 * quotient that is a normal number), so p/q = r (1 + e/(r q)) and
 * log(p/q) = log(r) + e/p to well under an ulp (|e/p| <= 2^-53). Where
 * p ~ q, log(r) alone is off by up to 2^-53 absolute, which is 2^-53/|log|
 * relative: kl_divergence of two distributions within 1e-6 of each other
 * was 10^5-10^8 ulp off, as the reference still is. r not normal where
 * p and q are positive and finite (the ratio overflowed or fell below the
 * normal range: q = 1e-310 gave inf): log p - log q, which cannot cancel
 * there (|log(p/q)| > 708). Otherwise (a 0, inf, NaN or negative p or q)
 * log(r) as it is. */
static inline double fastce_log_ratio(double p, double q) {
    double r = p / q, lg = log(r);
    if (r >= 2.2250738585072014e-308 && r < INFINITY)
        lg += fma(-r, q, p) / p;
    else if (p > 0.0 && q > 0.0 && p < INFINITY && q < INFINITY)
        lg = log(p) - log(q); /* the ratio out of range: |lg| > 708, no cancellation */
    return lg;
}

/* First index of the largest of x[0], x[n1], ..., x[(C - 1) n1], C >= 1:
 * the first NaN when there is one (numpy.argmax's answer). One read; the
 * vector tables' row_argmax takes it for short rows. */
#define FASTCE_ARGMAX_SCALAR(SUF, TYPE)                                                    \
    static inline ptrdiff_t fastce_argmax_##SUF(const TYPE *x, ptrdiff_t C, ptrdiff_t n1) { \
        ptrdiff_t k = 0;                                                                   \
        TYPE m = x[0];                                                                     \
        if (m != m) return 0;                                                              \
        for (ptrdiff_t j = 1; j < C; j++) {                                                \
            TYPE v = x[j * n1];                                                            \
            if (v != v) return j;                                                          \
            if (v > m) {                                                                   \
                m = v;                                                                     \
                k = j;                                                                     \
            }                                                                              \
        }                                                                                  \
        return k;                                                                          \
    }
FASTCE_ARGMAX_SCALAR(f32, float)
FASTCE_ARGMAX_SCALAR(f64, double)
#undef FASTCE_ARGMAX_SCALAR

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

/* fastce_exp_diff as hi + *lo: the correction for the rounding error of
 * a - b is kept out of the last rounding (libm's exp itself, within about
 * half an ulp, is what remains). */
static inline double fastce_exp_diff_dd(double a, double b, double *lo) {
    double d = a - b;
    double e = exp(d);
    *lo = 0.0;
    if (!isfinite(d)) return e;
    double a_part = d + b, b_part = d - a_part;
    double err = (a - a_part) - (b + b_part);
    double hi = fma(e, err, e);
    *lo = fma(e, err, e - hi);
    return hi;
}

/* exp(a - b) * 2^FASTCE_DEEP_SCALE for a finite a - b <= 0: a term
 * of a row whose rest would be subnormal, scaled into the normal range so
 * that it keeps its digits: exp(d + 256 ln2) (TwoSum on that sum, as
 * fastce_exp_diff) times (1 + err + the low part of 256 ln2), err the
 * rounding error of d = fl(a - b); as hi + *lo, the two corrections kept
 * out of the roundings (fastce_exp_diff_dd). */
#define FASTCE_DEEP_SCALE 256
static inline double fastce_exp_diff_deep(double a, double b, double *lo) {
    const double k_hi = 177.445678223346, k_lo = 5.936759843446527e-15; /* 256 ln2 */
    double d = a - b;
    double a_part = d + b, b_part = d - a_part;
    double err = (a - a_part) - (b + b_part);
    double e_lo, e = fastce_exp_diff_dd(d, -k_hi, &e_lo);
    double c = err + k_lo, hi = fma(e, c, e);
    *lo = fma(e, c, e - hi) + e_lo;
    return hi;
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

/* How many of n samples side by side (each item bytes, at x) a planes
 * kernel takes in its first block: with peel, those before the first
 * align-byte boundary (align: a vector's bytes), so that no later group's
 * load straddles two cache lines; else, or where x is aligned already (or
 * not even to its item size), a whole block. NumPy aligns its arrays to
 * 16 bytes only, and straddling loads cost the AVX-512 loss at (4, 150,
 * 64, 64) 10-15% (one thread); the kernels peel for the loss, its
 * gradient and logsumexp: log_softmax and softmax, whose second pass only
 * streams (or computes one exp), measured 5-15% slower with it. */
static inline ptrdiff_t fastce_first_block(const void *x, unsigned item, unsigned align,
                                           ptrdiff_t n, ptrdiff_t block, int peel) {
    const uintptr_t a = (uintptr_t)x;
    ptrdiff_t head = peel && a % item == 0 && a % align != 0 ? (ptrdiff_t)((align - a % align) / item)
                                                              : block;
    return head < n ? head : n;
}

/* l[0..n) into *a one by one: the planes kernels sum their samples' losses
 * in sample order, not in vector lanes, because where a sample lands in
 * the lanes depends on the array's address (their first group runs up to
 * a 64-byte boundary), and a sum must depend on the shape alone. */
static inline void fastce_acc_in_order(fastce_acc *a, const double *l, int n) {
    for (int k = 0; k < n; k++) fastce_acc_add(a, l[k]);
}

/* What n compensated vector lanes hold (a the lane sums, e their rounding
 * errors) as a compensated pair (fastce_lanes_acc) or one double: the
 * lane sums in a compensated sum, the errors added last. An infinite or NaN lane makes it inf or NaN, whatever the
 * errors hold (a lane's error turns NaN once its sum is not finite, and its
 * sum stays so: a loop need not guard its error lanes). */
static inline fastce_acc fastce_lanes_acc(const double *a, const double *e, int n) {
    fastce_acc s = {0.0, 0.0};
    double errs = 0.0;
    for (int k = 0; k < n; k++) {
        fastce_acc_add(&s, a[k]);
        errs += e[k];
    }
    if (!isfinite(fastce_acc_value(s))) return (fastce_acc){fastce_acc_value(s), 0.0};
    fastce_acc_add(&s, errs);
    return s;
}
/* A rest from its parts: a sum s, the errors c of s, and ties (see
 * row_impl.h), as hi (returned) + *lo. Not finite: s + c + ties, *lo 0. */
static inline double fastce_rest_dd(double s, double c, double ties, double *lo) {
    fastce_dd t = fastce_two_sum(s, ties);
    t = fastce_fast_two_sum(t.hi, t.lo + c);
    *lo = isfinite(t.hi) ? t.lo : 0.0;
    return isfinite(t.hi) ? t.hi : s + c + ties;
}

static inline double fastce_lanes_total(const double *a, const double *e, int n) {
    return fastce_acc_value(fastce_lanes_acc(a, e, n));
}

/* row_wdiff's out (vec.h) from its n lanes: the sums a and b with their
 * errors ae and be (zeros for plain lanes), and tm already added up. */
static inline void fastce_wdiff_out(const double *a, const double *ae, const double *b,
                                    const double *be, int n, double tm, double out[4]) {
    fastce_acc A = fastce_lanes_acc(a, ae, n);
    out[0] = A.s, out[1] = A.c;
    out[2] = fastce_lanes_total(b, be, n);
    out[3] = tm;
}

/* The same sum by Knuth's TwoSum: six additions, no branch, for loops
 * whose adds would otherwise wait on each other. A sum that turns inf or
 * NaN leaves c NaN: read it with fastce_acc2_value. */
static inline void fastce_acc2_add(fastce_acc *a, double v) {
    double t = a->s + v, vv = t - a->s;
    a->c += (a->s - (t - vv)) + (v - vv);
    a->s = t;
}

static inline double fastce_acc2_value(fastce_acc a) {
    return isfinite(a.s) ? a.s + a.c : a.s;
}

/* One element of sigmoid cross-entropy, x a logit, z its target:
 *   loss = w * (q*z*softplus(-x) + (1-z)*softplus(x)),
 *   d loss / d x = w * ((1-z)*sigmoid(x) - q*z*sigmoid(-x)).
 * -log(sigmoid(x)) = softplus(-x) and -log(1-sigmoid(x)) = softplus(x) share
 * tail = log1p(exp(-|x|)); the loss is a sum of two non-negative terms, so it
 * has no cancellation, and equals max(x,0) - x*z + log1p(exp(-|x|)) for q = 1.
 * Each sigmoid comes from e = exp(-|x|), never as 1 - (a number near 1). */
static inline void fastce_sigmoid_ce_one(double x, double z, double w, double q,
                                         double *loss, double *grad);

/* c * v with a zero coefficient meaning "absent": 0 even when v is inf. */
static inline double fastce_term(double c, double v) {
    return c == 0.0 ? 0.0 : c * v;
}

/* The part W * lse_rel of a row's loss sum_j W_j (max - x_j + lse_rel),
 * W = sum_j W_j, for W not finite too: where lse_rel is 0 (a rest that
 * underflows) only the terms of the classes at the max, W_k * 0, are left
 * of it: 0 when their W_k are all finite (max_finite), else NaN (PyTorch's
 * inf * 0); the other classes' W_j (max - x_j) hold their inf. */
static inline double fastce_mass_lse(double W, double lse_rel, int max_finite) {
    if (lse_rel == 0.0 && !isfinite(W)) return max_finite ? 0.0 : NAN;
    return W * lse_rel;
}

/* The finite loss above rounded once: the softplus terms, the coefficients
 * q*z and 1-z, their products and the weight in double-double. In double
 * they round up to seven times (2.25 ulp measured with weights). */
static inline double fastce_sigmoid_ce_loss_dd(double x, double z, double w,
                                               double q, double tail) {
    fastce_dd sp_neg = fastce_two_sum(x < 0.0 ? -x : 0.0, tail);
    fastce_dd sp_pos = fastce_two_sum(x > 0.0 ? x : 0.0, tail);
    fastce_dd l = fastce_dd_add(fastce_dd_mul(fastce_two_prod(q, z), sp_neg),
                                fastce_dd_mul(fastce_two_sum(1.0, -z), sp_pos));
    l = fastce_dd_mul(l, fastce_dd_of(w));
    return l.hi + l.lo;
}

static inline void fastce_sigmoid_ce_one(double x, double z, double w, double q,
                                         double *loss, double *grad) {
    double e = exp(-fabs(x)), tail = log1p(e);
    double sp_neg = (x < 0.0 ? -x : 0.0) + tail;
    double sp_pos = (x > 0.0 ? x : 0.0) + tail;
    *loss = w * (fastce_term(q * z, sp_neg) + fastce_term(1.0 - z, sp_pos));
    if (isfinite(*loss) && *loss != 0.0) {
        /* A weight other than 1 can double an error counted in ulp (the
         * significands of tail and w*tail differ): then tail comes from
         * double-double exp and log1p (libm's are within about 1.4 ulp). */
        double t = tail;
        if ((w != 1.0 || q != 1.0) && fabs(x) <= 700.0) {
            fastce_dd td = fastce_dd_log1p(fastce_dd_exp(-fabs(x)));
            t = td.hi + td.lo;
        }
        double precise = fastce_sigmoid_ce_loss_dd(x, z, w, q, t);
        /* (near DBL_MAX it may not be finite; a zero keeps the sign above) */
        if (isfinite(precise) && precise != 0.0) *loss = precise;
    }
    if (grad) {
        double big = 1.0 / (1.0 + e), small = e / (1.0 + e);
        double sig_pos = x >= 0.0 ? big : small, sig_neg = x >= 0.0 ? small : big;
        /* (zero coefficients drop their terms here too: an element whose
         * two are 0 has gradient 0 even for a NaN logit, as its loss is 0) */
        *grad = w * (fastce_term(1.0 - z, sig_pos) - fastce_term(q * z, sig_neg));
    }
}

/* p clipped to [lo, hi]; NaN stays NaN (fmin/fmax would drop it). */
static inline double fastce_clip(double p, double lo, double hi) {
    return p < lo ? lo : (p > hi ? hi : p);
}

/* The binary loss -w * (z*la + (1-z)*lb) of a soft target (0 < z < 1),
 * given la = log(pc) and lb = log1p(-pc), rounded once: 1 - z, both
 * products, their sum and the weight in double-double, so that only the
 * logs' own errors remain. In double a soft target's loss rounds up to five
 * times (1 - z, two products, the sum, the weight: 2.5 ulp measured with
 * weights). Both terms have the sign of -w, so nothing cancels and the
 * logs' relative errors carry over to the loss unamplified. Finite operands
 * only: the caller keeps the plain loss where this one is not finite. */
static inline double fastce_binary_ce_loss_dd(double z, double w, double la,
                                              double lb) {
    /* every rounding error of the high parts is exact (TwoSum, TwoProduct);
     * the low parts, about 2^-53 of the result, need no more than plain
     * double (and no more FMA calls: without -mfma each is a libm call) */
    fastce_dd c = fastce_two_sum(1.0, -z), a = fastce_two_prod(z, la);
    fastce_dd b = fastce_two_prod(c.hi, lb), s = fastce_two_sum(a.hi, b.hi);
    double s_lo = s.lo + (a.lo + (b.lo + c.lo * lb));
    fastce_dd p = fastce_two_prod(-w, s.hi);
    return p.hi + (p.lo - w * s_lo);
}

/* One element of binary cross-entropy of a probability p with target z:
 *   loss = -w * (z*log(pc) + (1-z)*log1p(-pc)),  pc = clip(p, lo, hi),
 *   d loss / d p = w * ((1-z)/(1-pc) - z/pc) = w * (pc - z) / (pc (1-pc)).
 * log1p(-pc) keeps the digits that log(1 - pc) loses when pc is small.
 * precise (the float64 kernels): a soft target's loss rounded once
 * (fastce_binary_ce_loss_dd); a float32 result, computed in double and
 * rounded to float once, needs no more than the plain double loss. With
 * z in {0, 1} one term is exactly 0 and the plain loss rounds once. */
static inline void fastce_binary_ce_one(double p, double z, double w, double lo,
                                        double hi, int precise, double *loss,
                                        double *grad) {
    double pc = fastce_clip(p, lo, hi);
    double la = log(pc), lb = log1p(-pc);
    *loss = -w * (fastce_term(z, la) + fastce_term(1.0 - z, lb));
    if (precise && z != 0.0 && z != 1.0) {
        double l = fastce_binary_ce_loss_dd(z, w, la, lb);
        /* not with an infinite log, weight or z, or NaN; a zero keeps the
         * plain form's sign (-0 for w = -0) */
        if (isfinite(l) && l != 0.0) *loss = l;
    }
    /* (1-z)/(1-pc) - z/pc as one quotient: the two cancel where pc is near
     * z (millions of ulp in double); pc - z of exact numbers rounds once.
     * The special values agree (x/0 gives +-inf, 0/0 NaN, in both forms). */
    if (grad) *grad = w * ((pc - z) / (pc * (1.0 - pc)));
}

/* Float64 categorical rows, loss = -sw * sum_j t_j * log(pc_j): the terms
 * have one sign (t_j >= 0, log(pc_j) <= 0), so nothing cancels and the
 * logs' relative errors pass to the loss unamplified; the plain double sum
 * adds a rounding of every product t_j * log(pc_j) and one of the weight
 * (up to 3.0 ulp measured at C = 2 and 3 with sample weights).
 * fastce_cat_term_add keeps each product exactly (TwoProduct, hi + lo) in a
 * compensated sum, whose s + c then holds the row's sum to about 2^-100 of
 * itself, and fastce_cat_loss multiplies that by -sw and rounds once. */
static inline void fastce_cat_term_add(fastce_acc *acc, double t, double lg) {
    if (t == 0.0) return; /* a zero target contributes 0, even against a NaN log */
    fastce_dd p = fastce_two_prod(t, lg);
    fastce_acc_add(acc, p.hi);
    if (isfinite(p.hi)) acc->c += p.lo; /* (an infinite product's lo is NaN) */
}

/* -sw * (hi + lo) rounded once, for a row sum hi + lo with |lo| about an ulp
 * of hi or less; where that is not finite (an infinite or NaN row or
 * weight, an overflow) or 0 (whose sign the plain form decides), the plain
 * (0 - (hi + lo)) * sw of the float32 kernels. */
static inline double fastce_cat_loss(double hi, double lo, double sw) {
    fastce_dd p = fastce_two_prod(sw, hi);
    double l = 0.0 - (p.hi + (p.lo + sw * lo));
    return isfinite(l) && l != 0.0 ? l : (0.0 - (hi + lo)) * sw;
}

/* Dot2 (Ogita, Rump and Oishi): adds a * b, for double-doubles a and b, to
 * a compensated sum as accurately as if it were computed in double-double. */
static inline void fastce_dot2_add(fastce_acc *acc, fastce_dd a, fastce_dd b) {
    fastce_dd p = fastce_two_prod(a.hi, b.hi), s = fastce_two_sum(acc->s, p.hi);
    acc->s = s.hi;
    acc->c += s.lo + p.lo + (a.hi * b.lo + a.lo * b.hi);
}

/* The loss of a dense row with class weights, sample weight or smoothing,
 *   sw * ((1-e) * (sum_c w_c t_c d_c + T * L) + (e/C) * (sum_c w_c d_c + W * L)),
 * d_c = max - x_c, T = sum_c w_c t_c, W = sum_c w_c, L = lse_rel (hi + lo), from sums
 * whose products and differences are exact: in plain double, w_c * ((1-e)
 * t_c + e/C) * d_c rounds three or four times per class (up to 2.2 ulp). */
typedef struct {
    fastce_acc a_t, a_w, sum_t, sum_w;
} fastce_dense_sums;

static inline void fastce_dense_sums_add(fastce_dense_sums *s, double w, double t,
                                         double v, double max, int smoothing) {
    fastce_dd wt = fastce_two_prod(w, t);
    fastce_dd d = v == max ? fastce_dd_of(0.0) : fastce_two_sum(max, -v);
    fastce_acc_add(&s->sum_t, wt.hi);
    s->sum_t.c += wt.lo;
    if (wt.hi != 0.0) fastce_dot2_add(&s->a_t, wt, d);
    if (smoothing) {
        fastce_acc_add(&s->sum_w, w);
        if (w != 0.0) fastce_dot2_add(&s->a_w, fastce_dd_of(w), d);
    }
}

static inline double fastce_dense_loss_value(const fastce_dense_sums *s, fastce_dd ld,
                                             double e, ptrdiff_t C, double sw) {
    fastce_dd l = fastce_dd_add(fastce_fast_two_sum(s->a_t.s, s->a_t.c),
                                fastce_dd_mul(fastce_fast_two_sum(s->sum_t.s, s->sum_t.c), ld));
    if (e > 0.0 && e / (double)C > 0.0) { /* e/C underflowing: no smoothing term */
        fastce_dd rest = fastce_dd_add(fastce_fast_two_sum(s->a_w.s, s->a_w.c),
                                       fastce_dd_mul(fastce_fast_two_sum(s->sum_w.s, s->sum_w.c), ld));
        l = fastce_dd_add(fastce_dd_mul(fastce_two_sum(1.0, -e), l),
                          fastce_dd_mul(fastce_dd_div_d(e, (double)C), rest));
    }
    l = fastce_dd_mul(l, fastce_dd_of(sw));
    return l.hi + l.lo;
}

/* A block function handles items [begin, end) and returns the sum of their
 * per-item losses (in double). */
typedef double (*fastce_block_fn)(const void *ctx, ptrdiff_t begin,
                                  ptrdiff_t end);

/* Runs fn over n items in fixed blocks of about FASTCE_BLOCK_WORK units of
 * work (work_per_item units each) but at least min_per_block items, in
 * parallel when the input is large, and stores the in-order sum of the
 * block sums in *total (when not NULL). The blocks depend on n,
 * work_per_item and min_per_block only, never on the threads. Returns
 * FASTCE_OK or FASTCE_ERR_NOMEM (before any block ran). */
int fastce_run_blocks_min(fastce_block_fn fn, const void *ctx, ptrdiff_t n,
                          ptrdiff_t work_per_item, ptrdiff_t min_per_block, int n_threads,
                          double *total);
static inline int fastce_run_blocks(fastce_block_fn fn, const void *ctx, ptrdiff_t n,
                                    ptrdiff_t work_per_item, int n_threads, double *total) {
    return fastce_run_blocks_min(fn, ctx, n, work_per_item, 1, n_threads, total);
}

#endif /* FASTCE_INTERNAL_H */
