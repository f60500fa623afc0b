/* simd_avx512.h: vectorised exp, log and log1p for AVX-512 (F, DQ),
 * written for fastce. Included only by the vec_avx512*.c units, which are
 * compiled for AVX-512 and called only on CPUs that have it (see
 * dispatch.c).
 *
 * The float exp is the scheme of simd_avx2.h (Cody-Waite reduction) with
 * a degree-6 polynomial fitted for fastce (AVX2 keeps Cephes' degree 7), in
 * Estrin's form; the double exp reduces by ln2/16 and reads 2^(j/16) from
 * a sixteen-entry table in two registers (vpermt2pd), then needs only a
 * degree-6 polynomial (csrc/exp_table.h). AVX-512 adds vscalef, which
 * multiplies by 2^n with one rounding over the whole range, subnormal
 * results included, so the two-step scaling and the clamp above are gone.
 * Measured maximum errors:
 *   exp_ps (float)  <= 1.021 ulp on [-87.3, 0] (every float); subnormal
 *                   results below, 0 under -104
 *   exp_pd (double) <= 0.64 ulp on [-708, 0]; subnormal results below, 0 under -746
 * (tests/test_vector_math.py samples them and asserts 1.5 ulp, as for AVX2.)
 * Without the clamps (FASTCE_EXP_TAME) a finite x <= 0 still gives either
 * the right value or one that is not finite, never a finite wrong one (see
 * rest_f64 in vec_avx512.c; checked over every float), so a pass can skip
 * them and check its sum.
 * NaN gives NaN, -inf gives 0, +inf gives +inf. */
#ifndef FASTCE_SIMD_AVX512_H
#define FASTCE_SIMD_AVX512_H

#include <immintrin.h>
#include <math.h>
#include <stddef.h>

#include "internal.h"
#include "exp_table.h"
#include "log_series.h"
#include "log_table.h"

#if defined(__GNUC__)
#define FASTCE_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define FASTCE_ALWAYS_INLINE static inline
#endif

/* The first r lanes, 0 <= r <= 16 (or 8): tails and partial groups. */
static inline __mmask16 fastce512_first16(ptrdiff_t r) { return (__mmask16)((1u << r) - 1u); }
static inline __mmask8 fastce512_first8(ptrdiff_t r) { return (__mmask8)((1u << r) - 1u); }

/* Eight floats or doubles as double lanes, and back; the m- versions load
 * and store only the lanes in k (the others load as 0). */
static inline __m512d fastce512_load8_f32(const float *p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
static inline __m512d fastce512_load8_f64(const double *p) { return _mm512_loadu_pd(p); }
static inline __m512d fastce512_mload8_f32(__mmask8 k, const float *p) {
    return _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k, p));
}
static inline __m512d fastce512_mload8_f64(__mmask8 k, const double *p) {
    return _mm512_maskz_loadu_pd(k, p);
}
static inline void fastce512_store8_f32(float *p, __m512d v) { _mm256_storeu_ps(p, _mm512_cvtpd_ps(v)); }
static inline void fastce512_store8_f64(double *p, __m512d v) { _mm512_storeu_pd(p, v); }
static inline void fastce512_mstore8_f32(__mmask8 k, float *p, __m512d v) {
    _mm256_mask_storeu_ps(p, k, _mm512_cvtpd_ps(v));
}
static inline void fastce512_mstore8_f64(__mmask8 k, double *p, __m512d v) {
    _mm512_mask_storeu_pd(p, k, v);
}

/* What compensated lanes hold (acc the lane sums, err their rounding
 * errors), as one double (fastce_lanes_total in internal.h). */
static inline double fastce512_lanes_total(__m512d acc, __m512d err) {
    double a[8], e[8];
    _mm512_storeu_pd(a, acc);
    _mm512_storeu_pd(e, err);
    return fastce_lanes_total(a, e, 8);
}

/* What the caller knows of x, so that the exp leaves out the clamps it
 * cannot need (each one operation in loops bound by their operation count):
 * any x; x <= 0 or NaN; x finite and <= 0 (then 0 where exp underflows,
 * until, far below, the reduction breaks down and the result is not
 * finite: see the header). */
enum { FASTCE_EXP_ANY = 0, FASTCE_EXP_NONPOS = 1, FASTCE_EXP_TAME = 2 };

/* exp(x), float lanes. min/max return their second operand when one is
 * NaN, so with x second a NaN stays NaN through the clamps. */
static inline __m512 fastce512_exp_ps(__m512 x, const int range) {
    __m512 xc = x;
    if (range != FASTCE_EXP_TAME) xc = _mm512_max_ps(_mm512_set1_ps(-104.0f), xc);
    if (range == FASTCE_EXP_ANY) xc = _mm512_min_ps(_mm512_set1_ps(89.0f), xc);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    /* exp(r) = 1 + r + r^2 p(r), p of degree 4 fitted for fastce (minimax
     * relative error of exp(r) on |r| <= ln2/2: 3.6e-9, 0.06 ulp, with the
     * coefficients rounded to float), in Estrin's form: 3 dependent steps */
    __m512 r2 = _mm512_mul_ps(r, r);
    __m512 p01 = _mm512_fmadd_ps(_mm512_set1_ps(1.6666521132e-01f), r, _mm512_set1_ps(4.9999994040e-01f));
    __m512 p23 = _mm512_fmadd_ps(_mm512_set1_ps(8.3687454462e-03f), r, _mm512_set1_ps(4.1668388993e-02f));
    __m512 p = _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(1.3814539416e-03f), r2, p23), r2, p01);
    /* 1 + (r + r^2 p): the small part first, one rounding at the end */
    __m512 e = _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(p, r2, r));
    return _mm512_scalef_ps(e, n);
}

/* (gcc's _mm512_setr_pd is a macro: a table row, one macro itself, is
 * expanded into its eight arguments first) */
#define FASTCE512_SETR_PD(...) _mm512_setr_pd(__VA_ARGS__)

/* exp(x + err), double lanes (range as above; err a small correction to x,
 * the rounding error of a difference, or 0 when has_err is 0). Reduction
 * by ln2/16: x = k ln2/16 + r, |r| <= ln2/32, k = 16n + j; 2^(j/16) from a
 * sixteen-entry table (two registers, one vpermt2pd for its hi and one for
 * its lo part), exp(r) = 1 + q, q = r + r^2 p(r) with p of degree 4 fitted
 * for fastce (csrc/exp_table.h, tools/fit_exp_table.py: relative error
 * 2^-56.2); 2^(j/16) (1 + q) = hi + (hi q + lo), one rounding that counts,
 * and vscalef by n = floor(k/16). k comes from the 1.5*2^52 shift: the
 * low bits of x*16/ln2 + 1.5*2^52 hold k, so that vector is the table
 * index (vpermt2pd reads its low four bits). Four operations fewer than
 * the degree-13 Taylor polynomial (float64 long rows 1.05-1.23x faster in
 * the benchmark), and a third of an ulp more accurate. Where k is no
 * longer exact (|x| > 9e13, tame only) r grows with |x| (about
 * 1.6e-16 |x|) until the result is not
 * finite, and the scaling by 2^floor(k/16) <= 2^-(2^47) makes any finite
 * one +0 (checked on 2^28 x below -746, random bit patterns and uniform on
 * [-1e9, -746], and 2^26 differences v - m of the diff form with |m| up to
 * 1e300: each gave +0 or a value that is not finite). */
/* With lo (not NULL) the result is the value returned + *lo, within
 * about 2^-56 of exp(x + err): the last addition's rounding error kept
 * (exact: TwoSum with hi the larger), scaled as the result. (Returning
 * hi and hi q + lo apart instead, two operations fewer, put parts of up
 * to 2.3% of each term into a sum's plain error lanes: with thousands of
 * equal terms, whose roundings there all go one way, a float64 loss came
 * out 3.7 ulp off, 45 with the class axis not last, a review found.) */
static inline __m512d fastce512_exp_core_pd(__m512d x, __m512d err, const int range,
                                            const int has_err, __m512d *lo_out) {
    __m512d xc = x;
    if (range != FASTCE_EXP_TAME) xc = _mm512_max_pd(_mm512_set1_pd(-746.0), xc);
    if (range == FASTCE_EXP_ANY) xc = _mm512_min_pd(_mm512_set1_pd(710.0), xc);
    const __m512d shift = _mm512_set1_pd(6755399441055744.0); /* 1.5 * 2^52 */
    __m512d t = _mm512_fmadd_pd(xc, _mm512_set1_pd(FASTCE_EXP_16_LN2), shift);
    __m512d k = _mm512_sub_pd(t, shift);
    __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(FASTCE_EXP_LN2_16_HI), xc);
    if (has_err) r = _mm512_add_pd(r, err);
    r = _mm512_fnmadd_pd(k, _mm512_set1_pd(FASTCE_EXP_LN2_16_LO), r);
    __m512d r2 = _mm512_mul_pd(r, r);
    __m512d p01 = _mm512_fmadd_pd(_mm512_set1_pd(FASTCE_EXP_P1), r, _mm512_set1_pd(FASTCE_EXP_P0));
    __m512d p23 = _mm512_fmadd_pd(_mm512_set1_pd(FASTCE_EXP_P3), r, _mm512_set1_pd(FASTCE_EXP_P2));
    __m512d p = _mm512_fmadd_pd(_mm512_fmadd_pd(_mm512_set1_pd(FASTCE_EXP_P4), r2, p23), r2, p01);
    __m512d q = _mm512_fmadd_pd(p, r2, r);
    __m512i j = _mm512_castpd_si512(t);
    __m512d hi = _mm512_permutex2var_pd(FASTCE512_SETR_PD(FASTCE_EXP_HI0), j,
                                        FASTCE512_SETR_PD(FASTCE_EXP_HI1));
    __m512d lo = _mm512_permutex2var_pd(FASTCE512_SETR_PD(FASTCE_EXP_LO0), j,
                                        FASTCE512_SETR_PD(FASTCE_EXP_LO1));
    __m512d small = _mm512_fmadd_pd(hi, q, lo);
    const __m512d n = _mm512_mul_pd(k, _mm512_set1_pd(0.0625)), e = _mm512_add_pd(hi, small);
    if (lo_out) *lo_out = _mm512_scalef_pd(_mm512_add_pd(_mm512_sub_pd(hi, e), small), n);
    return _mm512_scalef_pd(e, n);
}
static inline __m512d fastce512_exp_pd(__m512d x, const int range) {
    return fastce512_exp_core_pd(x, _mm512_setzero_pd(), range, 0, NULL);
}

/* log1p(u) for u in [0, 32] (a row's rest: sums of at most 31 terms in
 * [0, 1] and ties), double lanes: the steps of fastce_log1p_pd (simd_avx2.h)
 * without its special values, so the same bits: w = 1 + u rounded, its
 * exact rounding error c = u - (w - 1) added back as c/w; log w with w =
 * 2^k f, f in [sqrt(2)/2, sqrt(2)) (vgetexp and vgetmant give k and the
 * significand exactly), log f = 2*atanh(s), s = (f-1)/(f+1), the series to
 * s^21, k*ln2 in two parts; u < 2^-7 takes the Taylor series instead (only
 * when a lane needs it). Measured maximum error over [0, 32] (2^25 u,
 * half uniform on [0, 32], half 2^-e * uniform for e up to 60, against
 * long double log1pl): 1.22 ulp, that of fastce_log1p_pd. Lanes outside
 * [0, 32] give unspecified values. */
static inline __m512d fastce512_log1p_rest_pd(__m512d u) {
    const __m512d one = _mm512_set1_pd(1.0);
    __m512d w = _mm512_add_pd(one, u);
    __m512d c = _mm512_div_pd(_mm512_sub_pd(u, _mm512_sub_pd(w, one)), w);
    __m512d k = _mm512_getexp_pd(w);
    __m512d f = _mm512_getmant_pd(w, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
    __mmask8 big = _mm512_cmp_pd_mask(f, _mm512_set1_pd(1.4142135623730951), _CMP_GE_OQ);
    k = _mm512_mask_add_pd(k, big, k, one);
    f = _mm512_mask_mul_pd(f, big, f, _mm512_set1_pd(0.5));
    __m512d v = _mm512_sub_pd(f, one);
    __m512d hfsq = _mm512_mul_pd(_mm512_set1_pd(0.5), _mm512_mul_pd(v, v));
    __m512d s = _mm512_div_pd(v, _mm512_add_pd(_mm512_set1_pd(2.0), v));
    __m512d z = _mm512_mul_pd(s, s);
    __m512d R = _mm512_set1_pd(2.0 / 21.0);
    for (int i = 19; i >= 3; i -= 2) R = _mm512_fmadd_pd(R, z, _mm512_set1_pd(2.0 / i));
    R = _mm512_mul_pd(R, z);
    __m512d corr = _mm512_fmadd_pd(s, _mm512_add_pd(hfsq, R),
                                   _mm512_mul_pd(k, _mm512_set1_pd(2.31904681384629956e-17)));
    __m512d lg = _mm512_fmadd_pd(k, _mm512_set1_pd(6.93147180559945286e-01),
                                 _mm512_sub_pd(v, _mm512_sub_pd(hfsq, corr)));
    lg = _mm512_add_pd(lg, c);
    __mmask8 small = _mm512_cmp_pd_mask(u, _mm512_set1_pd(0.0078125), _CMP_LT_OQ);
    if (small) {
        __m512d p = _mm512_set1_pd(-1.0 / 10.0);
        for (int i = 9; i >= 2; i--) p = _mm512_fmadd_pd(p, u, _mm512_set1_pd((i % 2 ? 1.0 : -1.0) / i));
        lg = _mm512_mask_mov_pd(lg, small, _mm512_fmadd_pd(_mm512_mul_pd(p, u), u, u));
    }
    return lg;
}

/* log1p(u) for u in [0, 32] to the accuracy a float result needs (the
 * float row kernels' lse_rel): log(1 + u) in the float24 form (relative
 * error < 2^-34), the rounding of 1 + u (at most 2^-53) left in, which
 * weighs at most 2^-46 of the result once u >= 2^-7; below that, the
 * Taylor series of fastce512_log1p_rest_pd. No division (the double
 * version has two) and a polynomial of degree 6 in all, not 10. Defined
 * after fastce512_log_pos_pd. */
static inline __m512d fastce512_log1p_rest24_pd(__m512d u);

/* exp(v - m), v <= m, with the rounding error err of d = fl(v - m)
 * (TwoSum) folded back in: exp(d) * (1 + err); 1 exactly where v == m.
 * Where err is NaN, d is not finite and exp(d) is right as it is (tame: d
 * is known finite in the exp's tame range, and the NaN test is left out). */
static inline __m512 fastce512_exp_diff_ps(__m512 v, __m512 m, const int tame) {
    __m512 d = _mm512_sub_ps(v, m);
    __m512 ap = _mm512_add_ps(d, m), bp = _mm512_sub_ps(d, ap);
    __m512 err = _mm512_sub_ps(_mm512_sub_ps(v, ap), _mm512_add_ps(m, bp));
    __m512 e = fastce512_exp_ps(d, tame ? FASTCE_EXP_TAME : FASTCE_EXP_NONPOS);
    if (tame) return _mm512_fmadd_ps(e, err, e);
    return _mm512_mask_fmadd_ps(e, _mm512_cmp_ps_mask(err, err, _CMP_ORD_Q), err, e);
}
/* In double the error goes into the reduced argument instead, where it
 * costs one add and no rounding of the result. It is zeroed where the exp
 * clamps d (below -746, or NaN): there it is the rounding error of a huge
 * difference (up to half an ulp of it), not a correction to -746. In the
 * tame pass d is not clamped, and err is at most 2^-53 |d|. */
/* With lo (not NULL): the value returned + *lo, as fastce512_exp_core_pd. */
static inline __m512d fastce512_exp_diff_lo_pd(__m512d v, __m512d m, const int tame,
                                               __m512d *lo) {
    __m512d d = _mm512_sub_pd(v, m);
    __m512d ap = _mm512_add_pd(d, m), bp = _mm512_sub_pd(d, ap);
    __m512d err = _mm512_sub_pd(_mm512_sub_pd(v, ap), _mm512_add_pd(m, bp));
    if (tame) return fastce512_exp_core_pd(d, err, FASTCE_EXP_TAME, 1, lo);
    err = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(d, _mm512_set1_pd(-746.0), _CMP_GE_OQ), err);
    return fastce512_exp_core_pd(d, err, FASTCE_EXP_NONPOS, 1, lo);
}
static inline __m512d fastce512_exp_diff_pd(__m512d v, __m512d m, const int tame) {
    return fastce512_exp_diff_lo_pd(v, m, tame, NULL);
}

/* ------------------------------------------------------------ log
 * log x = k ln2 + log1p(u), x = 2^k (1 + u), 1 + u in [sqrt(1/2), sqrt(2)):
 * vgetexp and vgetmant split x (subnormals included: the instructions
 * normalise them), u = f - 1 is exact. In double, log1p(u) = 2 atanh(s),
 * s = u/(2+u), is evaluated as u - (u^2/2 - s (u^2/2 + R(s^2))) (fdlibm):
 * the exact u leads, only a small correction carries rounding errors. The
 * float32 kernels' logs (float24) read a table instead (log_table.h).
 * Measured maximum errors (tests/test_vector_math.py):
 *   log_pd   (double) <= 0.85 ulp for every positive double, subnormals included
 *   log1p_pd (double) <= 1.2 ulp on (-1, 1]
 *   float24 (log24): relative error < 2^-34 (0.0006 ulp of a 24-bit
 *   significand) for every positive double. */

/* f in [sqrt(1/2), sqrt(2)) and k with x = 2^k f, for positive x (NaN
 * gives NaN; 0 gives f = 1 (or 0) and k = -inf; +inf gives k = +inf). */
static inline __m512d fastce512_log_split_pd(__m512d x, __m512d *k) {
    __m512d f = _mm512_getmant_pd(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);
    __m512d e = _mm512_getexp_pd(x);
    __mmask8 big = _mm512_cmp_pd_mask(f, _mm512_set1_pd(1.4142135623730951), _CMP_GE_OQ);
    *k = _mm512_mask_add_pd(e, big, e, _mm512_set1_pd(1.0));
    return _mm512_mask_mul_pd(f, big, f, _mm512_set1_pd(0.5));
}

/* k ln2 + log1p(u) for an exact u in [sqrt(1/2) - 1, sqrt(2) - 1] and an
 * integer k (or +-inf, giving +-inf).
 * Double: the formula above with R(z), z = s^2 <= 0.0295, the fitted
 * polynomial of log_series.h (error < 2^-57.9) in Horner's form (the
 * callers evaluate many independent logs, so its length costs nothing and
 * the two multiplications of Estrin's powers are saved; z R(z) + hfsq is
 * one FMA); ln2 in two parts.
 * float24, to float accuracy: no division (one costs as much as nine
 * FMAs here), but the table of log_table.h: v = round(16 (1 + u)) by the
 * 1.5*2^52 shift (vpermt2pd reads the low four bits of u*16 + shift),
 * r = u INV + (INV - 1), |r| <= 1/22, and log1p(r) = r + r^2 P(r), P of
 * degree 4 fitted for fastce (relative error 2^-34.6); where v = 16 (1 + u
 * within 1/32 of 1) INV = 1 and C = 0, so r = u and a log near 0 keeps its
 * relative accuracy. Measured (tests/test_vector_math.py, "log24"): relative
 * error < 2^-34 for every positive double. The 2*atanh series it replaced
 * (to z^5, truncation < 2^-33) took 1.23x the time of the whole log in a
 * loop of logs, and the float categorical and binary CE kernels 1.05-1.08x
 * theirs. */
static inline __m512d fastce512_log_ku_pd(__m512d k, __m512d u, int float24) {
    if (float24) {
        const __m512d shift = _mm512_set1_pd(6755399441055744.0); /* 1.5 * 2^52 */
        __m512i i = _mm512_castpd_si512(_mm512_fmadd_pd(u, _mm512_set1_pd(16.0), shift));
        __m512d inv = _mm512_permutex2var_pd(FASTCE512_SETR_PD(FASTCE_LOG_INV0), i,
                                             FASTCE512_SETR_PD(FASTCE_LOG_INV1));
        __m512d c = _mm512_permutex2var_pd(FASTCE512_SETR_PD(FASTCE_LOG_C0), i,
                                           FASTCE512_SETR_PD(FASTCE_LOG_C1));
        __m512d r = _mm512_fmadd_pd(u, inv, _mm512_sub_pd(inv, _mm512_set1_pd(1.0)));
#define FASTCE_P_(j) _mm512_set1_pd(FASTCE_LOG24_P##j)
        __m512d P = _mm512_fmadd_pd(FASTCE_P_(4), r, FASTCE_P_(3));
        P = _mm512_fmadd_pd(P, r, FASTCE_P_(2));
        P = _mm512_fmadd_pd(P, r, FASTCE_P_(1));
        P = _mm512_fmadd_pd(P, r, FASTCE_P_(0));
#undef FASTCE_P_
        __m512d lg1p = _mm512_fmadd_pd(_mm512_mul_pd(r, r), P, r);
        return _mm512_add_pd(_mm512_fmadd_pd(k, _mm512_set1_pd(6.93147180559945286e-01), c), lg1p);
    }
    __m512d hfsq = _mm512_mul_pd(_mm512_set1_pd(0.5), _mm512_mul_pd(u, u));
    __m512d s = _mm512_div_pd(u, _mm512_add_pd(_mm512_set1_pd(2.0), u));
    __m512d z = _mm512_mul_pd(s, s);
#define FASTCE_G_(i) _mm512_set1_pd(FASTCE_LOG_G##i)
    __m512d P = _mm512_fmadd_pd(FASTCE_G_(6), z, FASTCE_G_(5));
    P = _mm512_fmadd_pd(P, z, FASTCE_G_(4));
    P = _mm512_fmadd_pd(P, z, FASTCE_G_(3));
    P = _mm512_fmadd_pd(P, z, FASTCE_G_(2));
    P = _mm512_fmadd_pd(P, z, FASTCE_G_(1));
    P = _mm512_fmadd_pd(P, z, FASTCE_G_(0));
#undef FASTCE_G_
    __m512d corr = _mm512_fmadd_pd(s, _mm512_fmadd_pd(P, z, hfsq),
                                   _mm512_mul_pd(k, _mm512_set1_pd(2.31904681384629956e-17)));
    return _mm512_fmadd_pd(k, _mm512_set1_pd(6.93147180559945286e-01),
                           _mm512_sub_pd(u, _mm512_sub_pd(hfsq, corr)));
}

/* log(x) for x >= 0 or NaN (NaN), the kernels' log of a clipped
 * probability: 0 and +inf need no special case (k = -inf or +inf, u = 0,
 * give -inf and +inf). */
static inline __m512d fastce512_log_pos_pd(__m512d x, int float24) {
    __m512d k;
    __m512d f = fastce512_log_split_pd(x, &k);
    return fastce512_log_ku_pd(k, _mm512_sub_pd(f, _mm512_set1_pd(1.0)), float24);
}

static inline __m512d fastce512_log1p_rest24_pd(__m512d u) {
    __m512d lg = fastce512_log_pos_pd(_mm512_add_pd(_mm512_set1_pd(1.0), u), 1);
    __mmask8 small = _mm512_cmp_pd_mask(u, _mm512_set1_pd(0.0078125), _CMP_LT_OQ);
    if (small) {
        __m512d p = _mm512_set1_pd(-1.0 / 10.0);
        for (int i = 9; i >= 2; i--) p = _mm512_fmadd_pd(p, u, _mm512_set1_pd((i % 2 ? 1.0 : -1.0) / i));
        lg = _mm512_mask_mov_pd(lg, small, _mm512_fmadd_pd(_mm512_mul_pd(p, u), u, u));
    }
    return lg;
}

/* log(x), any x: 0 -> -inf, +inf -> +inf, negative or NaN -> NaN. */
static inline __m512d fastce512_log_pd(__m512d x) {
    __m512d lg = fastce512_log_pos_pd(x, 0);
    lg = _mm512_mask_mov_pd(lg, _mm512_cmp_pd_mask(x, _mm512_set1_pd(INFINITY), _CMP_EQ_OQ), x);
    return _mm512_mask_mov_pd(lg, _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_NGE_UQ),
                              _mm512_set1_pd(NAN));
}

/* log1p(u) for u in (-1, 1] (and NaN, inf, -1), double lanes: w = 1 + u
 * rounded, its exact rounding error c = u - (w - 1) (Fast2Sum, |u| <= 1)
 * added back as c/w; |u| < 2^-7 takes the series to u^10 (truncation
 * < 2^-60 |u|). */
static inline __m512d fastce512_log1p_pd(__m512d u) {
    const __m512d one = _mm512_set1_pd(1.0);
    __m512d w = _mm512_add_pd(one, u);
    __m512d c = _mm512_div_pd(_mm512_sub_pd(u, _mm512_sub_pd(w, one)), w);
    c = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(c, c, _CMP_ORD_Q), c); /* inf/inf, 0/0 */
    __m512d lg = _mm512_add_pd(fastce512_log_pd(w), c);
    __mmask8 small = _mm512_cmp_pd_mask(_mm512_abs_pd(u), _mm512_set1_pd(0.0078125), _CMP_LT_OQ);
    __m512d p = _mm512_set1_pd(-1.0 / 10.0);
    for (int i = 9; i >= 2; i--) p = _mm512_fmadd_pd(p, u, _mm512_set1_pd((i % 2 ? 1.0 : -1.0) / i));
    lg = _mm512_mask_mov_pd(lg, small, _mm512_fmadd_pd(_mm512_mul_pd(p, u), u, u));
    return _mm512_mask_mov_pd(lg, _mm512_cmp_pd_mask(u, u, _CMP_UNORD_Q), u);
}

/* ---- the softplus tail: ports of simd_avx2.h's float-accuracy and
 * double-double functions (same schemes and coefficients, see there), for
 * the sigmoid kernels. Measured (tests/test_vector_math.py), float ulps of
 * a 24-bit significand for the *24 functions, double ulps for the others:
 *   exp24_pd    <= 0.0013 on [-708, 0]
 *   log1p24_pd  <= 0.0045 on [0, 1]
 *   exp_dd_pd   (hi + lo rounded) <= 0.65 on [-708, 0]
 *   log1p_dd_pd (of hi + 0)       <= 0.59 on [0, 1] */

/* 2^n for the integer n held in the low bits of kd = n + 1.5*2^52
 * (-1022 <= n <= 1023). */
static inline __m512d fastce512_pow2_shifted(__m512d kd) {
    return _mm512_castsi512_pd(_mm512_slli_epi64(
        _mm512_add_epi64(_mm512_castpd_si512(kd), _mm512_set1_epi64(1023)), 52));
}

/* exp(t) for t in [-708, 0] (or NaN), relative error < 2^-32. */
static inline __m512d fastce512_exp24_pd(__m512d t) {
    const __m512d shifter = _mm512_set1_pd(6755399441055744.0); /* 1.5 * 2^52 */
    __m512d kd = _mm512_fmadd_pd(t, _mm512_set1_pd(1.4426950408889634074), shifter);
    __m512d n = _mm512_sub_pd(kd, shifter);
    __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(6.93147180559945286e-01), t);
    __m512d r2 = _mm512_mul_pd(r, r), r4 = _mm512_mul_pd(r2, r2);
    __m512d p01 = _mm512_fmadd_pd(_mm512_set1_pd(5.000000047117757e-1), r, _mm512_set1_pd(1.0));
    __m512d p23 = _mm512_fmadd_pd(_mm512_set1_pd(4.166635289677516e-2), r,
                                  _mm512_set1_pd(1.6666666718997508e-1));
    __m512d p45 = _mm512_fmadd_pd(_mm512_set1_pd(1.3941108433972674e-3), r,
                                  _mm512_set1_pd(8.333298483754886e-3));
    __m512d p46 = _mm512_fmadd_pd(_mm512_set1_pd(1.989927395864936e-4), r2, p45);
    __m512d p = _mm512_fmadd_pd(p46, r4, _mm512_fmadd_pd(p23, r2, p01));
    __m512d scale = fastce512_pow2_shifted(kd);
    return _mm512_fmadd_pd(p, _mm512_mul_pd(r, scale), scale);
}

/* log1p(e) for e in [0, 1], relative error < 2^-31 for e >= 2^-1021. */
static inline __m512d fastce512_log1p24_pd(__m512d e) {
    __m512d s = _mm512_div_pd(e, _mm512_add_pd(_mm512_set1_pd(2.0), e));
    __m512d w = _mm512_mul_pd(s, s), w2 = _mm512_mul_pd(w, w);
    __m512d r01 = _mm512_fmadd_pd(_mm512_set1_pd(0.3999970633192972), w,
                                  _mm512_set1_pd(0.6666666732052742));
    __m512d r23 = _mm512_fmadd_pd(_mm512_set1_pd(0.21706575800880373), w,
                                  _mm512_set1_pd(0.28592357994302836));
    __m512d r24 = _mm512_fmadd_pd(_mm512_set1_pd(0.2322432922402335), w2, r23);
    __m512d R = _mm512_fmadd_pd(r24, w2, r01);
    return _mm512_fmadd_pd(_mm512_mul_pd(s, w), R, _mm512_add_pd(s, s));
}

/* exp(t) for t in [-708, 0] (or NaN) as hi + *lo, within about 0.15 ulp. */
static inline __m512d fastce512_exp_dd_pd(__m512d t, __m512d *lo) {
    const __m512d shifter = _mm512_set1_pd(6755399441055744.0), one = _mm512_set1_pd(1.0);
    const __m512d ln2_hi = _mm512_set1_pd(6.93147180369123816490e-01);
    const __m512d ln2_lo = _mm512_set1_pd(1.90821492927058770002e-10);
    __m512d kd = _mm512_fmadd_pd(t, _mm512_set1_pd(1.4426950408889634074), shifter);
    __m512d n = _mm512_sub_pd(kd, shifter);
    __m512d r_hi = _mm512_fnmadd_pd(n, ln2_hi, t); /* exact */
    __m512d r = _mm512_fnmadd_pd(n, ln2_lo, r_hi);
    __m512d r_lo = _mm512_fnmadd_pd(n, ln2_lo, _mm512_sub_pd(r_hi, r));
    static const double inv_fact[] = {
        1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
        1.0 / 362880.0,     1.0 / 40320.0,     1.0 / 5040.0,     1.0 / 720.0,
        1.0 / 120.0,        1.0 / 24.0,        1.0 / 6.0,        0.5};
#define FASTCE_C_(k) _mm512_set1_pd(inv_fact[k])
    __m512d r2 = _mm512_mul_pd(r, r), r4 = _mm512_mul_pd(r2, r2), r8 = _mm512_mul_pd(r4, r4);
    __m512d a0 = _mm512_fmadd_pd(FASTCE_C_(10), r, FASTCE_C_(11));
    __m512d a1 = _mm512_fmadd_pd(FASTCE_C_(8), r, FASTCE_C_(9));
    __m512d a2 = _mm512_fmadd_pd(FASTCE_C_(6), r, FASTCE_C_(7));
    __m512d a3 = _mm512_fmadd_pd(FASTCE_C_(4), r, FASTCE_C_(5));
    __m512d a4 = _mm512_fmadd_pd(FASTCE_C_(2), r, FASTCE_C_(3));
    __m512d a5 = _mm512_fmadd_pd(FASTCE_C_(0), r, FASTCE_C_(1));
    __m512d b0 = _mm512_fmadd_pd(a1, r2, a0), b1 = _mm512_fmadd_pd(a3, r2, a2);
    __m512d b2 = _mm512_fmadd_pd(a5, r2, a4);
    __m512d p = _mm512_fmadd_pd(b2, r8, _mm512_fmadd_pd(b1, r4, b0));
#undef FASTCE_C_
    __m512d h1 = _mm512_add_pd(one, r);
    __m512d l1 = _mm512_add_pd(_mm512_sub_pd(one, h1), r);
    l1 = _mm512_add_pd(l1, _mm512_fmadd_pd(p, r2, _mm512_fmadd_pd(r_lo, r, r_lo)));
    __m512d hi = _mm512_add_pd(h1, l1);
    __m512d l = _mm512_add_pd(_mm512_sub_pd(h1, hi), l1);
    __m512d scale = fastce512_pow2_shifted(kd);
    *lo = _mm512_mul_pd(l, scale);
    return _mm512_mul_pd(hi, scale);
}

/* log1p(e) for e = hi + lo in [0, 1], within 0.6 ulp (see simd_avx2.h);
 * the residual's division by 2+e takes vrcp14 (it needs 12 bits). */
static inline __m512d fastce512_log1p_dd_pd(__m512d hi, __m512d lo) {
    const __m512d two = _mm512_set1_pd(2.0);
    __m512d d = _mm512_add_pd(two, hi);
    __m512d d_lo = _mm512_add_pd(_mm512_sub_pd(two, d), hi); /* exact */
    __m512d s = _mm512_div_pd(hi, d);
    __m512d res = _mm512_fnmadd_pd(s, d, hi);
    res = _mm512_add_pd(res, _mm512_fnmadd_pd(s, _mm512_add_pd(d_lo, lo), lo));
    __m512d s_lo = _mm512_mul_pd(res, _mm512_rcp14_pd(d));
    __m512d w = _mm512_mul_pd(s, s), w2 = _mm512_mul_pd(w, w), w4 = _mm512_mul_pd(w2, w2);
    static const double c[] = {
        0.6666666666666666, 0.39999999999999525, 0.285714285716001, 0.2222222219823677,
        0.18181819897962714, 0.1538454396486055, 0.13335178631449257, 0.11734279061303197,
        0.10845178394880015, 0.07492143795550767, 0.1563057780092285};
#define FASTCE_C_(k) _mm512_set1_pd(c[k])
    __m512d a0 = _mm512_fmadd_pd(FASTCE_C_(1), w, FASTCE_C_(0));
    __m512d a1 = _mm512_fmadd_pd(FASTCE_C_(3), w, FASTCE_C_(2));
    __m512d a2 = _mm512_fmadd_pd(FASTCE_C_(5), w, FASTCE_C_(4));
    __m512d a3 = _mm512_fmadd_pd(FASTCE_C_(7), w, FASTCE_C_(6));
    __m512d a4 = _mm512_fmadd_pd(FASTCE_C_(9), w, FASTCE_C_(8));
    __m512d b0 = _mm512_fmadd_pd(a1, w2, a0), b1 = _mm512_fmadd_pd(a3, w2, a2);
    __m512d b2 = _mm512_fmadd_pd(FASTCE_C_(10), w2, a4);
    __m512d R = _mm512_fmadd_pd(_mm512_fmadd_pd(b2, w4, b1), w4, b0);
#undef FASTCE_C_
    __m512d s_lo2 = _mm512_add_pd(s_lo, s_lo);
    __m512d small = _mm512_fmadd_pd(_mm512_mul_pd(s, w), R, _mm512_fmadd_pd(s_lo2, w, s_lo2));
    return _mm512_add_pd(_mm512_add_pd(s, s), small);
}

#endif /* FASTCE_SIMD_AVX512_H */
