/* simd_avx512_dd.h: double-double arithmetic and exp in eight double lanes,
 * the lane-wise twins of ddmath.h's scalar fastce_two_sum, fastce_dd_add,
 * fastce_dd_mul, fastce_dd_exp and fastce_dd_acc_add, step for step (the
 * same operations in the same order; the compiler may fuse a product and a
 * sum in one lane that the baseline scalar build rounds twice, so the low
 * words can differ far below the 2^-100 that matters; the table lookups are
 * gathers). Included by vec_avx512.c, for the rows of logsumexp whose
 * result cancels (lse_dd_rest_f32/f64 there), and by vec_avx512_rows_f64.c
 * and vec_avx512_planes_f64.c, for the float64 weighted and smoothed
 * losses (fastce512_log1p_dd) and the planes' rests. */
#ifndef FASTCE_SIMD_AVX512_DD_H
#define FASTCE_SIMD_AVX512_DD_H

#include <immintrin.h>

#include "dd_exp_table.h"
#include "log_series.h"

typedef struct {
    __m512d hi, lo;
} fastce512_dd;

static inline fastce512_dd fastce512_two_sum(__m512d a, __m512d b) {
    __m512d s = _mm512_add_pd(a, b), bb = _mm512_sub_pd(s, a);
    return (fastce512_dd){s, _mm512_add_pd(_mm512_sub_pd(a, _mm512_sub_pd(s, bb)),
                                           _mm512_sub_pd(b, bb))};
}

static inline fastce512_dd fastce512_fast_two_sum(__m512d a, __m512d b) {
    __m512d s = _mm512_add_pd(a, b);
    return (fastce512_dd){s, _mm512_sub_pd(b, _mm512_sub_pd(s, a))};
}

static inline fastce512_dd fastce512_two_prod(__m512d a, __m512d b) {
    __m512d p = _mm512_mul_pd(a, b);
    return (fastce512_dd){p, _mm512_fmsub_pd(a, b, p)};
}

static inline fastce512_dd fastce512_dd_add(fastce512_dd x, fastce512_dd y) {
    fastce512_dd s = fastce512_two_sum(x.hi, y.hi), t = fastce512_two_sum(x.lo, y.lo);
    s = fastce512_fast_two_sum(s.hi, _mm512_add_pd(s.lo, t.hi));
    return fastce512_fast_two_sum(s.hi, _mm512_add_pd(s.lo, t.lo));
}

static inline fastce512_dd fastce512_dd_mul(fastce512_dd x, fastce512_dd y) {
    fastce512_dd p = fastce512_two_prod(x.hi, y.hi);
    /* x.hi * y.lo + x.lo * y.hi as ddmath.h rounds it: two products, one add */
    __m512d cross = _mm512_add_pd(_mm512_mul_pd(x.hi, y.lo), _mm512_mul_pd(x.lo, y.hi));
    return fastce512_fast_two_sum(p.hi, _mm512_add_pd(p.lo, cross));
}

/* exp(a) as hi + lo, a in [-746, 0] in every lane (fastce_dd_exp). Other
 * lanes give unspecified values but index the table within its bounds
 * (j = k & 63). */
static inline fastce512_dd fastce512_dd_exp(__m512d a) {
    const __m512d shift = _mm512_set1_pd(0x1.8p52);
    __m512d kd = _mm512_sub_pd(_mm512_add_pd(_mm512_mul_pd(a, _mm512_set1_pd(FASTCE_DD_64_LN2)),
                                             shift), shift);
    __m512i ki = _mm512_cvtpd_epi64(kd); /* exact: kd is an integer */
    __m512i j = _mm512_and_si512(ki, _mm512_set1_epi64(63));
    __m512d n = _mm512_cvtepi64_pd(_mm512_srai_epi64(_mm512_sub_epi64(ki, j), 6));
    __m512d r1 = _mm512_fnmadd_pd(kd, _mm512_set1_pd(FASTCE_DD_LN2_64_1), a); /* exact */
    fastce512_dd p2 = fastce512_two_prod(kd, _mm512_set1_pd(FASTCE_DD_LN2_64_2));
    fastce512_dd r = fastce512_two_sum(r1, _mm512_sub_pd(_mm512_setzero_pd(), p2.hi));
    r = fastce512_fast_two_sum(r.hi, _mm512_sub_pd(r.lo, _mm512_add_pd(
        p2.lo, _mm512_mul_pd(kd, _mm512_set1_pd(FASTCE_DD_LN2_64_3)))));
    __m512d t = _mm512_set1_pd(1.0 / 39916800.0);
    t = _mm512_add_pd(_mm512_set1_pd(1.0 / 3628800.0), _mm512_mul_pd(r.hi, t));
    t = _mm512_add_pd(_mm512_set1_pd(1.0 / 362880.0), _mm512_mul_pd(r.hi, t));
    t = _mm512_add_pd(_mm512_set1_pd(1.0 / 40320.0), _mm512_mul_pd(r.hi, t));
    t = _mm512_add_pd(_mm512_set1_pd(1.0 / 5040.0), _mm512_mul_pd(r.hi, t));
    fastce512_dd u = fastce512_dd_mul(r, (fastce512_dd){t, _mm512_setzero_pd()});
    for (int i = 6; i >= 1; i--)
        u = fastce512_dd_mul(r, fastce512_dd_add((fastce512_dd){_mm512_set1_pd(FASTCE_DD_INV_FACT[i][0]),
                                                                _mm512_set1_pd(FASTCE_DD_INV_FACT[i][1])},
                                                 u));
    /* T = 2^(j/64): its first two parts, gathered from the scalar table
     * (rows of three doubles: index 3j, scale 8) */
    __m512i j3 = _mm512_add_epi64(_mm512_slli_epi64(j, 1), j);
    fastce512_dd T = {_mm512_i64gather_pd(j3, &FASTCE_DD_EXP2_64[0][0], 8),
                      _mm512_i64gather_pd(j3, &FASTCE_DD_EXP2_64[0][1], 8)};
    fastce512_dd e = fastce512_dd_add(T, fastce512_dd_mul(T, u));
    return (fastce512_dd){_mm512_scalef_pd(e.hi, n), _mm512_scalef_pd(e.lo, n)};
}

/* Lane-wise fastce_dd_acc_add: a sum of double-doubles in three words. */
static inline void fastce512_dd_acc_add(__m512d *hi, __m512d *mid, __m512d *lo, fastce512_dd t) {
    fastce512_dd h = fastce512_two_sum(*hi, t.hi);
    fastce512_dd m = fastce512_two_sum(*mid, t.lo);
    fastce512_dd m2 = fastce512_two_sum(m.hi, h.lo);
    *hi = h.hi;
    *mid = m2.hi;
    *lo = _mm512_add_pd(*lo, _mm512_add_pd(m.lo, m2.lo));
}

/* log1p(u) as hi + lo for u >= 0 finite (a row's rest): fastce_log1p_dd_fast
 * lane by lane, the exponent k and the significand f of 1 + u by vgetexp
 * and vgetmant, and below 2^-60 u - u^2/2 (lse_rel_dd in
 * softmax_ce_impl.h). */
static inline fastce512_dd fastce512_log1p_dd(__m512d u) {
    const __m512d one = _mm512_set1_pd(1.0), half = _mm512_set1_pd(0.5);
    const __m512d ln2_hi = _mm512_set1_pd(6.93147180559945286e-01);
    const __m512d ln2_lo = _mm512_set1_pd(2.31904681384629956e-17);
    __m512d w = _mm512_add_pd(one, u);
    __m512d c = _mm512_sub_pd(u, _mm512_sub_pd(w, one)); /* exact: w >= 1 */
    __m512d k = _mm512_getexp_pd(w);
    __m512d f = _mm512_getmant_pd(w, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
    __mmask8 big = _mm512_cmp_pd_mask(f, _mm512_set1_pd(1.4142135623730951), _CMP_GE_OQ);
    f = _mm512_mask_mul_pd(f, big, f, half);
    k = _mm512_mask_add_pd(k, big, k, one);
    __m512d v = _mm512_sub_pd(f, one); /* exact */
    fastce512_dd h = fastce512_two_prod(_mm512_mul_pd(half, v), v);
    __m512d s = _mm512_div_pd(v, _mm512_add_pd(_mm512_set1_pd(2.0), v)), z = _mm512_mul_pd(s, s);
    __m512d R = _mm512_set1_pd(FASTCE_LOG_G6);
    R = _mm512_fmadd_pd(z, R, _mm512_set1_pd(FASTCE_LOG_G5));
    R = _mm512_fmadd_pd(z, R, _mm512_set1_pd(FASTCE_LOG_G4));
    R = _mm512_fmadd_pd(z, R, _mm512_set1_pd(FASTCE_LOG_G3));
    R = _mm512_fmadd_pd(z, R, _mm512_set1_pd(FASTCE_LOG_G2));
    R = _mm512_fmadd_pd(z, R, _mm512_set1_pd(FASTCE_LOG_G1));
    R = _mm512_mul_pd(z, _mm512_fmadd_pd(z, R, _mm512_set1_pd(FASTCE_LOG_G0)));
    fastce512_dd lf = fastce512_two_sum(v, _mm512_sub_pd(_mm512_setzero_pd(), h.hi));
    /* c/w as q + q_lo: one division (1/w), the residual c - q w by fma */
    const __m512d inv_w = _mm512_div_pd(one, w);
    __m512d q = _mm512_mul_pd(c, inv_w), q_lo = _mm512_mul_pd(_mm512_fnmadd_pd(q, w, c), inv_w);
    __m512d small = _mm512_add_pd(
        _mm512_add_pd(_mm512_sub_pd(_mm512_mul_pd(s, _mm512_add_pd(h.hi, R)), h.lo), lf.lo),
        _mm512_sub_pd(q_lo, _mm512_mul_pd(_mm512_mul_pd(half, q), q)));
    fastce512_dd kl = fastce512_two_prod(k, ln2_hi);
    fastce512_dd t = fastce512_two_sum(kl.hi, lf.hi);
    fastce512_dd t2 = fastce512_two_sum(t.hi, q);
    fastce512_dd r = fastce512_fast_two_sum(
        t2.hi, _mm512_add_pd(t2.lo, _mm512_add_pd(t.lo, _mm512_add_pd(kl.lo, _mm512_fmadd_pd(
                                                                   k, ln2_lo, small)))));
    __mmask8 tiny = _mm512_cmp_pd_mask(u, _mm512_set1_pd(0x1p-60), _CMP_LT_OQ);
    if (tiny) {
        fastce512_dd a = fastce512_two_sum(u, _mm512_mul_pd(_mm512_mul_pd(_mm512_set1_pd(-0.5), u), u));
        r.hi = _mm512_mask_mov_pd(r.hi, tiny, a.hi);
        r.lo = _mm512_mask_mov_pd(r.lo, tiny, a.lo);
    }
    return r;
}

#endif /* FASTCE_SIMD_AVX512_DD_H */
