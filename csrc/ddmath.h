/* ddmath.h: double-double arithmetic for the few results that cancel.
 *
 * A double-double (dd) is an unevaluated sum hi + lo with |lo| <= ulp(hi)/2:
 * about 106 significant bits. The building blocks are the error-free
 * transformations (TwoSum, and TwoProduct with one FMA): a + b and a * b
 * as a rounded result plus its exact rounding error. Users: logsumexp, on
 * rows where max + log1p(rest) cancels (see softmax_impl.h; a row of
 * log-probabilities takes about 200x the time of a row of logits there,
 * about 20x in the vector lanes of simd_avx2_dd.h and simd_avx512_dd.h:
 * python bench/lse_cancel.py); the float64 scalar
 * sigmoid loss with weights; the weighted and smoothed softmax losses,
 * assembled and rounded once (softmax_ce_impl.h, internal.h).
 *
 * The exp's constants (2^(j/64), ln2/64 and 1/n! as two or three doubles)
 * are in dd_exp_table.h, printed by tools/make_dd_exp_table.py. */
#ifndef FASTCE_DDMATH_H
#define FASTCE_DDMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dd_exp_table.h"
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

/* exp(a) = 2^n T (1 + q), for a finite double a in [-1000, 709]: k = 64 n
 * + j = round(a 64/ln2), T = 2^(j/64) from a table (hi + lo), q = expm1(r)
 * of r = a - k ln2/64, |r| <= ln2/128, in double-double (dd_exp_table.h).
 * r is right to about 2^-106 of ln2/128 (absolutely: a tiny r next to a
 * multiple of ln2/64 has fewer good bits, which exp does not feel): a - k
 * LN2_64_1 is exact (a difference of
 * nearby multiples of a's ulp), the other two parts go in by TwoProduct.
 * q: the Taylor series to r^11 (the next term is under 2^-111 of q), the
 * terms from r^7 on (under 2^-57 of q) in double, the others in
 * double-double, so q is right to about 2^-105 of itself. About
 * 3x faster than the doubling scheme fastce had (expm1(r/256), eight
 * doublings), whose dependent chain was 35 double-double operations long. */
static inline fastce_dd fastce_dd_exp_parts(double a, int *n, int *j) {
    const double shift = 0x1.8p52;
    double kd = (a * FASTCE_DD_64_LN2 + shift) - shift;
    long long ki = (long long)kd;
    *j = (int)(ki & 63);
    *n = (int)((ki - *j) / 64);
    double r1 = a - kd * FASTCE_DD_LN2_64_1; /* exact */
    fastce_dd p2 = fastce_two_prod(kd, FASTCE_DD_LN2_64_2);
    fastce_dd r = fastce_two_sum(r1, -p2.hi);
    r = fastce_fast_two_sum(r.hi, r.lo - (p2.lo + kd * FASTCE_DD_LN2_64_3));
    double t = 1.0 / 39916800.0; /* 1/11! */
    t = 1.0 / 3628800.0 + r.hi * t;
    t = 1.0 / 362880.0 + r.hi * t;
    t = 1.0 / 40320.0 + r.hi * t;
    t = 1.0 / 5040.0 + r.hi * t;
    fastce_dd u = fastce_dd_mul(r, fastce_dd_of(t));
    for (int i = 6; i >= 1; i--)
        u = fastce_dd_mul(r, fastce_dd_add((fastce_dd){FASTCE_DD_INV_FACT[i][0],
                                                       FASTCE_DD_INV_FACT[i][1]}, u));
    return u; /* q */
}

/* exp(a) in double-double for a finite double a in [-1000, 709] (0 below
 * -746, where exp(a) is under half of 2^-1074). */
static inline fastce_dd fastce_dd_exp(double a) {
    if (!(a >= -746.0 && a <= 709.8)) /* under half of 2^-1074, over DBL_MAX, NaN */
        return fastce_dd_of(a < 0.0 ? 0.0 : a > 0.0 ? INFINITY : a);
    int n, j;
    fastce_dd q = fastce_dd_exp_parts(a, &n, &j);
    fastce_dd T = {FASTCE_DD_EXP2_64[j][0], FASTCE_DD_EXP2_64[j][1]};
    return fastce_dd_scale(fastce_dd_add(T, fastce_dd_mul(T, q)), n);
}

/* expm1(a) in double-double for a finite double a in [-1000, 709]: k == 0
 * gives q itself (and a zero a itself, with its sign); else (2^n T - 1) +
 * 2^n T q with T in three parts, so that 2^n T - 1 (at least 1 - 2^(-1/64)
 * in size, against |q| <= 0.0055) is right to about 2^-108 (one
 * double-double rounding, not the table's 2^-107 of T) and the sum loses
 * at most a bit or two to rounding. */
static inline fastce_dd fastce_dd_expm1(double a) {
    if (!(a >= -746.0 && a <= 709.8)) /* exp(a) under 2^-1075, over DBL_MAX, NaN */
        return fastce_dd_of(a < 0.0 ? -1.0 : a > 0.0 ? INFINITY : a);
    if (a == 0.0) return fastce_dd_of(a);
    int n, j;
    fastce_dd q = fastce_dd_exp_parts(a, &n, &j);
    if (j == 0 && n == 0) return q;
    const double *T = FASTCE_DD_EXP2_64[j];
    fastce_dd big = fastce_two_sum(ldexp(T[0], n), -1.0); /* exact */
    big = fastce_dd_add(big, (fastce_dd){ldexp(T[1], n), ldexp(T[2], n)});
    fastce_dd Tq = fastce_dd_mul((fastce_dd){T[0], T[1]}, q);
    return fastce_dd_add(big, fastce_dd_scale(Tq, n));
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

/* The n lanes of a vector pass's three-word sums (hi[i] + mid[i] + lo[i]),
 * added into one accumulator, whose words go to acc[0..3). */
static inline void fastce_dd_acc_lanes(const double *hi, const double *mid, const double *lo,
                                       int n, double acc[3]) {
    fastce_dd_acc s = {0.0, 0.0, 0.0};
    for (int i = 0; i < n; i++) {
        fastce_dd_acc_add(&s, (fastce_dd){hi[i], mid[i]});
        fastce_dd_acc_add(&s, (fastce_dd){lo[i], 0.0});
    }
    acc[0] = s.hi;
    acc[1] = s.mid;
    acc[2] = s.lo;
}

static inline fastce_dd fastce_dd_acc_value(fastce_dd_acc a) {
    fastce_dd s = fastce_two_sum(a.hi, a.mid);
    return fastce_dd_add(s, fastce_dd_of(a.lo));
}

#endif /* FASTCE_DDMATH_H */
