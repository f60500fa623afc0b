/* ddmath.h: double-double arithmetic for the few results that cancel.
 *
 * A double-double (dd) is an unevaluated sum hi + lo with |lo| <= ulp(hi)/2:
 * about 106 significant bits. The building blocks are the error-free
 * transformations (TwoSum, and TwoProduct with one FMA): a + b and a * b
 * as a rounded result plus its exact rounding error. Users: logsumexp, on
 * rows where max + log1p(rest) cancels (see softmax_impl.h; there it is
 * about a hundred times slower than the vector path); the float64 scalar
 * sigmoid loss with weights; the weighted and smoothed softmax losses,
 * assembled and rounded once (softmax_ce_impl.h, internal.h).
 *
 * The constants are ln 2 and 1/n! rounded to two doubles (computed with
 * mpmath at 300 bits). */
#ifndef FASTCE_DDMATH_H
#define FASTCE_DDMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "log_series.h"

typedef struct {
    double hi, lo;
} fastce_dd;

static inline fastce_dd fastce_dd_of(double a) { return (fastce_dd){a, 0.0}; }

/* a + b exactly (Knuth's TwoSum: no condition on the magnitudes). */
static inline fastce_dd fastce_two_sum(double a, double b) {
    double s = a + b, bb = s - a;
    return (fastce_dd){s, (a - (s - bb)) + (b - bb)};
}

/* a + b exactly when |a| >= |b| or a == 0 (Dekker's FastTwoSum). */
static inline fastce_dd fastce_fast_two_sum(double a, double b) {
    double s = a + b;
    return (fastce_dd){s, b - (s - a)};
}

/* a * b exactly (with an FMA), barring underflow. */
static inline fastce_dd fastce_two_prod(double a, double b) {
    double p = a * b;
    return (fastce_dd){p, fma(a, b, -p)};
}

/* x + y with a relative error of a few 2^-106. */
static inline fastce_dd fastce_dd_add(fastce_dd x, fastce_dd y) {
    fastce_dd s = fastce_two_sum(x.hi, y.hi), t = fastce_two_sum(x.lo, y.lo);
    s = fastce_fast_two_sum(s.hi, s.lo + t.hi);
    return fastce_fast_two_sum(s.hi, s.lo + t.lo);
}

/* x * y with a relative error of a few 2^-106. */
static inline fastce_dd fastce_dd_mul(fastce_dd x, fastce_dd y) {
    fastce_dd p = fastce_two_prod(x.hi, y.hi);
    return fastce_fast_two_sum(p.hi, p.lo + (x.hi * y.lo + x.lo * y.hi));
}

/* a / b with a relative error of about 2^-105 (b != 0, no overflow). */
static inline fastce_dd fastce_dd_div_d(double a, double b) {
    double q = a / b;
    return fastce_fast_two_sum(q, fma(-q, b, a) / b);
}

static inline fastce_dd fastce_dd_scale(fastce_dd x, int k) {
    return (fastce_dd){ldexp(x.hi, k), ldexp(x.lo, k)};
}

/* exp(a) = 2^k * (1 + m1) for a finite double a >= -745, with m1 = expm1 of
 * the reduced argument r = a - k*ln2, |r| <= ln2/2, in double-double:
 * expm1(r / 256) by its Taylor series (10 terms reach 2^-110), then eight
 * doublings expm1(2t) = expm1(t) * (expm1(t) + 2), which keep the relative
 * error of the small quantity instead of that of a number near 1. */
static inline fastce_dd fastce_dd_expm1_reduced(double a, int *k) {
    static const double ln2[2] = {0x1.62e42fefa39efp-1, 0x1.abc9e3b39803fp-56};
    static const double inv_fact[11][2] = {
        {0.0, 0.0},
        {1.0, 0.0},
        {0x1.0000000000000p-1, 0.0},
        {0x1.5555555555555p-3, 0x1.5555555555555p-57},
        {0x1.5555555555555p-5, 0x1.5555555555555p-59},
        {0x1.1111111111111p-7, 0x1.1111111111111p-63},
        {0x1.6c16c16c16c17p-10, -0x1.f49f49f49f49fp-65},
        {0x1.a01a01a01a01ap-13, 0x1.a01a01a01a01ap-73},
        {0x1.a01a01a01a01ap-16, 0x1.a01a01a01a01ap-76},
        {0x1.71de3a556c734p-19, -0x1.c154f8ddc6c00p-73},
        {0x1.27e4fb7789f5cp-22, 0x1.cbbc05b4fa99ap-76},
    };
    double kd = nearbyint(a / ln2[0]);
    *k = (int)kd;
    /* r = a - kd*ln2: both products exact, then summed in double-double */
    fastce_dd p_hi = fastce_two_prod(kd, ln2[0]), p_lo = fastce_two_prod(kd, ln2[1]);
    fastce_dd r = fastce_two_sum(a, -p_hi.hi);
    r = fastce_dd_add(r, (fastce_dd){-p_hi.lo, 0.0});
    r = fastce_dd_add(r, (fastce_dd){-p_lo.hi, -p_lo.lo});
    r = fastce_dd_scale(r, -8);
    fastce_dd t = {inv_fact[10][0], inv_fact[10][1]};
    for (int n = 9; n >= 1; n--)
        t = fastce_dd_add((fastce_dd){inv_fact[n][0], inv_fact[n][1]},
                          fastce_dd_mul(t, r));
    fastce_dd m1 = fastce_dd_mul(t, r);
    for (int i = 0; i < 8; i++)
        m1 = fastce_dd_mul(m1, fastce_dd_add(m1, fastce_dd_of(2.0)));
    return m1;
}

/* exp(a) in double-double for a finite double a in [-745, 709]. */
static inline fastce_dd fastce_dd_exp(double a) {
    int k;
    fastce_dd m1 = fastce_dd_expm1_reduced(a, &k);
    return fastce_dd_scale(fastce_dd_add(fastce_dd_of(1.0), m1), k);
}

/* expm1(a) in double-double for a finite double a in [-745, 709]. */
static inline fastce_dd fastce_dd_expm1(double a) {
    int k;
    fastce_dd m1 = fastce_dd_expm1_reduced(a, &k);
    if (k == 0) return m1;
    fastce_dd e = fastce_dd_scale(fastce_dd_add(fastce_dd_of(1.0), m1), k);
    return fastce_dd_add(e, fastce_dd_of(-1.0));
}

/* log1p(u) in double-double for a double-double u >= 0: the double estimate
 * y0 = log1p(u) and one Newton step on exp(y) = 1 + u, which doubles its
 * precision. The step (1 + u) * exp(-y0) - 1 is written as
 * u + em + u * em with em = expm1(-y0): every term is about u in size, so
 * a tiny u keeps its relative precision (nothing near 1 is rounded). Above
 * u = 1 the step is (1 + u) * exp(-y0) - 1, whose terms are about 1. */
static inline fastce_dd fastce_dd_log1p(fastce_dd u) {
    double y0 = log1p(u.hi);
    fastce_dd step;
    if (u.hi <= 1.0) {
        fastce_dd em = fastce_dd_expm1(-y0);
        step = fastce_dd_add(fastce_dd_add(u, em), fastce_dd_mul(u, em));
    } else { /* u + u * em would cancel terms of size u: use exp(-y0) < 1/2 */
        fastce_dd e = fastce_dd_exp(-y0);
        step = fastce_dd_add(fastce_dd_mul(fastce_dd_add(fastce_dd_of(1.0), u), e),
                             fastce_dd_of(-1.0));
    }
    return fastce_dd_add(fastce_dd_of(y0), step);
}

/* log1p(u) as hi + lo for u in [2^-60, 2^1000], to 2^-55 of itself (0.03
 * ulp; measured against long double on 2e7 u, half uniform on [0, 40],
 * half 2^-e (1 + uniform) for e up to 60), where fastce_dd_log1p is within
 * 2^-100 at several times the cost: the fdlibm form
 * of the vector logs (fastce_log_ku_pd in simd_avx2.h) with its leading
 * sums kept exactly. w = 1 + u rounded, c = u - (w - 1) its exact error,
 * log1p(u) = log w + log(1 + c/w); w = 2^k f, f in [sqrt(1/2),
 * sqrt(2)), v = f - 1 exact; log f = v - hfsq + s (hfsq + R), hfsq = v^2/2
 * exactly as hi + lo (TwoProduct), and only the correction s (hfsq + R),
 * under 0.05 of the result, and R (log_series.h, 2^-58.9) carry rounding
 * errors (s = v/(2 + v) rounds twice: 2^-56 of the result). */
static inline fastce_dd fastce_log1p_dd_fast(double u) {
    const double ln2_hi = 6.93147180559945286e-01, ln2_lo = 2.31904681384629956e-17;
    double w = 1.0 + u;
    double c = u - (w - 1.0); /* exact: w >= 1 */
    uint64_t bits;
    memcpy(&bits, &w, sizeof bits);
    double k = (double)((int)(bits >> 52) - 1023);
    bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
    double f;
    memcpy(&f, &bits, sizeof f);
    if (f >= 1.4142135623730951) {
        f *= 0.5;
        k += 1.0;
    }
    double v = f - 1.0; /* exact */
    fastce_dd h = fastce_two_prod(0.5 * v, v);
    double s = v / (2.0 + v), z = s * s;
    double R = z * (FASTCE_LOG_G0 + z * (FASTCE_LOG_G1 + z * (FASTCE_LOG_G2 + z * (FASTCE_LOG_G3
             + z * (FASTCE_LOG_G4 + z * (FASTCE_LOG_G5 + z * FASTCE_LOG_G6))))));
    fastce_dd lf = fastce_two_sum(v, -h.hi); /* v - hfsq */
    /* log(1 + q) = q - q^2/2, q = c/w <= 2^-53 carried as hi + lo: where u
     * is tiny, q is as large as the result (w rounds to 1, or 1 + 2^-52) */
    double q = c / w, q_lo = fma(-q, w, c) / w;
    double small = (s * (h.hi + R) - h.lo) + lf.lo + (q_lo - 0.5 * q * q);
    fastce_dd kl = fastce_two_prod(k, ln2_hi); /* k ln2_hi exactly */
    fastce_dd t = fastce_two_sum(kl.hi, lf.hi);
    fastce_dd t2 = fastce_two_sum(t.hi, q);
    return fastce_fast_two_sum(t2.hi, t2.lo + (t.lo + (kl.lo + (k * ln2_lo + small))));
}

/* A sum of double-doubles kept in three doubles: the high
 * parts add exactly (TwoSum), their errors and the low parts go to a second
 * word whose own errors go to a third, so the total of a few thousand terms
 * loses nothing the double-double terms carry. */
typedef struct {
    double hi, mid, lo;
} fastce_dd_acc;

static inline void fastce_dd_acc_add(fastce_dd_acc *a, fastce_dd t) {
    fastce_dd h = fastce_two_sum(a->hi, t.hi);
    fastce_dd m = fastce_two_sum(a->mid, t.lo);
    fastce_dd m2 = fastce_two_sum(m.hi, h.lo);
    a->hi = h.hi;
    a->mid = m2.hi;
    a->lo += m.lo + m2.lo;
}

static inline fastce_dd fastce_dd_acc_value(fastce_dd_acc a) {
    fastce_dd s = fastce_two_sum(a.hi, a.mid);
    return fastce_dd_add(s, fastce_dd_of(a.lo));
}

#endif /* FASTCE_DDMATH_H */
