/* exp_diff_avx2.h: exp(v - m) for AVX2 + FMA, the term of a row's sums:
 * the exp of fl(v - m) corrected by that difference's rounding error
 * (TwoSum), guarded (any v, m) and tame (v - m known to be in a range
 * where the shortcuts give the same bits). Included by vec_avx2.c only. */
#ifndef FASTCE_EXP_DIFF_AVX2_H
#define FASTCE_EXP_DIFF_AVX2_H

#include <immintrin.h>

#include "simd_avx2.h"
#include "vec.h"

/* exp(v - m) with the rounding error of d = fl(v - m) folded back in. */
static inline __m256 exp_diff_ps(__m256 v, __m256 m) {
    __m256 d = _mm256_sub_ps(v, m);
    __m256 ap = _mm256_add_ps(d, m), bp = _mm256_sub_ps(d, ap);
    __m256 err = _mm256_sub_ps(_mm256_sub_ps(v, ap), _mm256_add_ps(m, bp));
    __m256 e = fastce_exp_ps(d);
    /* err is NaN only when d is not finite; then exp(d) is already right */
    err = _mm256_and_ps(err, _mm256_cmp_ps(err, err, _CMP_ORD_Q));
    return _mm256_fmadd_ps(e, err, e);
}
/* With lo (not NULL): the result is *lo + the value returned, the exp's
 * last rounding and that of the correction kept out (as exp_diff_tame_pd). */
static inline __m256d exp_diff_lo_pd(__m256d v, __m256d m, __m256d *lo) {
    __m256d d = _mm256_sub_pd(v, m);
    __m256d ap = _mm256_add_pd(d, m), bp = _mm256_sub_pd(d, ap);
    __m256d err = _mm256_sub_pd(_mm256_sub_pd(v, ap), _mm256_add_pd(m, bp));
    __m256d e_lo, e = fastce_exp_lo_pd(d, lo ? &e_lo : NULL);
    err = _mm256_and_pd(err, _mm256_cmp_pd(err, err, _CMP_ORD_Q));
    __m256d out = _mm256_fmadd_pd(e, err, e);
    if (lo) *lo = _mm256_add_pd(_mm256_fmadd_pd(e, err, _mm256_sub_pd(e, out)), e_lo);
    return out;
}
static inline __m256d exp_diff_pd(__m256d v, __m256d m) { return exp_diff_lo_pd(v, m, NULL); }

/* The tame forms. Where d = fl(v - m) is in [-87, 0] (float) or
 * [-708, 0] (double) in every lane, the shortcuts below give the same bits
 * as exp_diff_ps/pd: the clamps are identities, 2^n is a normal number
 * (n >= -126 or -1022) and e * 2^n is the one rounding that
 * (e * 2^n1) * 2^n2 also makes, the TwoSum error is finite (no NaN guard),
 * and d = 0 exactly at a maximum, where the result is exactly 1. A caller
 * checks d against FASTCE_TAME_F32/F64 (vec.h; a NaN or -inf entry fails it) and
 * takes the guarded form otherwise: see tame_lanes_ps/pd. */

/* exp_diff_ps(v[u], m) for v[u] - m in [-87, 0], u < U <= 4: exp(d) * (1 +
 * err), d = fl(v - m), err its exact rounding error (TwoSum); 1 where
 * v == m. The U evaluations are interleaved step by step: each is one long
 * chain of dependent operations, and side by side they keep the FP units
 * busy. */
#define FASTCE_EACH for (int u = 0; u < U; u++)
#define FASTCE_POLY(c) FASTCE_EACH p[u] = _mm256_fmadd_ps(p[u], r[u], _mm256_set1_ps(c))
static inline void exp_diff_tame_ps(const __m256 *v, __m256 m, __m256 *out, const int U) {
    __m256 d[4], ap[4], bp[4], err[4], n[4], r[4], p[4], e[4];
    FASTCE_EACH d[u] = _mm256_sub_ps(v[u], m);
    FASTCE_EACH ap[u] = _mm256_add_ps(d[u], m);
    FASTCE_EACH bp[u] = _mm256_sub_ps(d[u], ap[u]);
    FASTCE_EACH err[u] = _mm256_sub_ps(_mm256_sub_ps(v[u], ap[u]), _mm256_add_ps(m, bp[u]));
    /* fastce_exp_ps(d) without its clamps and with one scaling by 2^n */
    FASTCE_EACH n[u] = _mm256_round_ps(_mm256_mul_ps(d[u], _mm256_set1_ps(1.44269504088896341f)),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    FASTCE_EACH r[u] = _mm256_fnmadd_ps(n[u], _mm256_set1_ps(0.693359375f), d[u]);
    FASTCE_EACH r[u] = _mm256_fnmadd_ps(n[u], _mm256_set1_ps(-2.12194440e-4f), r[u]);
    FASTCE_EACH p[u] = _mm256_set1_ps(1.9875691500e-4f);
    FASTCE_POLY(1.3981999507e-3f);
    FASTCE_POLY(8.3334519073e-3f);
    FASTCE_POLY(4.1665795894e-2f);
    FASTCE_POLY(1.6666665459e-1f);
    FASTCE_POLY(5.0000001201e-1f);
    FASTCE_EACH e[u] = _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_mul_ps(p[u], r[u]), r[u], r[u]));
    FASTCE_EACH e[u] = _mm256_mul_ps(e[u], _mm256_castsi256_ps(_mm256_slli_epi32(
                           _mm256_add_epi32(_mm256_cvtps_epi32(n[u]), _mm256_set1_epi32(127)), 23)));
    FASTCE_EACH out[u] = _mm256_fmadd_ps(e[u], err[u], e[u]);
}
#undef FASTCE_POLY

/* exp_diff_pd(v[u], m) for v[u] - m in [-708, 0], u < U, as
 * exp_diff_tame_ps; with lo (not NULL), the low parts of exp_diff_lo_pd
 * in lo[u]: e = (1 + s) 2^n as hi + l (TwoSum, 1 the larger: |s| < 0.42),
 * then e (1 + err) = fma(e, err, e) + (fma(e, err, e - that) + l). */
static inline void exp_diff_tame_pd(const __m256d *v, __m256d m, __m256d *out, const int U,
                                    __m256d *lo) {
    static const double inv_fact[] = {
        1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
        1.0 / 362880.0,     1.0 / 40320.0,     1.0 / 5040.0,     1.0 / 720.0,
        1.0 / 120.0,        1.0 / 24.0,        1.0 / 6.0,        0.5};
    __m256d d[4], ap[4], bp[4], err[4], n[4], r[4], p[4], e[4], s[4], sc[4];
    FASTCE_EACH d[u] = _mm256_sub_pd(v[u], m);
    FASTCE_EACH ap[u] = _mm256_add_pd(d[u], m);
    FASTCE_EACH bp[u] = _mm256_sub_pd(d[u], ap[u]);
    FASTCE_EACH err[u] = _mm256_sub_pd(_mm256_sub_pd(v[u], ap[u]), _mm256_add_pd(m, bp[u]));
    /* fastce_exp_pd(d) without its clamps and with one scaling by 2^n */
    FASTCE_EACH n[u] = _mm256_round_pd(_mm256_mul_pd(d[u], _mm256_set1_pd(1.4426950408889634074)),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    FASTCE_EACH r[u] = _mm256_fnmadd_pd(n[u], _mm256_set1_pd(6.93147180369123816490e-01), d[u]);
    FASTCE_EACH r[u] = _mm256_fnmadd_pd(n[u], _mm256_set1_pd(1.90821492927058770002e-10), r[u]);
    FASTCE_EACH p[u] = _mm256_set1_pd(inv_fact[0]);
    for (int k = 1; k < 12; k++)
        FASTCE_EACH p[u] = _mm256_fmadd_pd(p[u], r[u], _mm256_set1_pd(inv_fact[k]));
    FASTCE_EACH s[u] = _mm256_fmadd_pd(_mm256_mul_pd(p[u], r[u]), r[u], r[u]);
    FASTCE_EACH e[u] = _mm256_add_pd(_mm256_set1_pd(1.0), s[u]);
    FASTCE_EACH sc[u] = _mm256_castsi256_pd(_mm256_slli_epi64(
        _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(n[u])), _mm256_set1_epi64x(1023)),
        52));
    if (lo) FASTCE_EACH lo[u] = _mm256_mul_pd(
        _mm256_add_pd(_mm256_sub_pd(_mm256_set1_pd(1.0), e[u]), s[u]), sc[u]);
    FASTCE_EACH e[u] = _mm256_mul_pd(e[u], sc[u]);
    FASTCE_EACH out[u] = _mm256_fmadd_pd(e[u], err[u], e[u]);
    if (lo) FASTCE_EACH lo[u] = _mm256_add_pd(
        _mm256_fmadd_pd(e[u], err[u], _mm256_sub_pd(e[u], out[u])), lo[u]);
}
#undef FASTCE_EACH

/* Whether every lane of v - m (v[0..U)) is tame, in [FASTCE_TAME_F32, 0]:
 * false for a NaN, a -inf or a far entry (m is the row's max: no lane is
 * above 0). Two operations a vector and one test. */
static inline int tame_lanes_ps(const __m256 *v, __m256 m, const int U) {
    __m256 bad = _mm256_setzero_ps();
    for (int u = 0; u < U; u++)
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_sub_ps(v[u], m),
                                              _mm256_set1_ps(FASTCE_TAME_F32), _CMP_NGE_UQ));
    return _mm256_testz_ps(bad, bad);
}
static inline int tame_lanes_pd(const __m256d *v, __m256d m, const int U) {
    __m256d bad = _mm256_setzero_pd();
    for (int u = 0; u < U; u++)
        bad = _mm256_or_pd(bad, _mm256_cmp_pd(_mm256_sub_pd(v[u], m),
                                              _mm256_set1_pd(FASTCE_TAME_F64), _CMP_NGE_UQ));
    return _mm256_testz_pd(bad, bad);
}

/* The lanes where v is finite and v - m below FASTCE_TAME_F32 (F64):
 * where a term would be subnormal (-inf and NaN lanes are not). */
static inline __m256 far_mask_ps(__m256 v, __m256 m) {
    return _mm256_andnot_ps(_mm256_cmp_ps(v, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ),
                            _mm256_cmp_ps(_mm256_sub_ps(v, m), _mm256_set1_ps(FASTCE_TAME_F32),
                                          _CMP_LT_OQ));
}
static inline __m256d far_mask_pd(__m256d v, __m256d m) {
    return _mm256_andnot_pd(_mm256_cmp_pd(v, _mm256_set1_pd(-INFINITY), _CMP_EQ_OQ),
                            _mm256_cmp_pd(_mm256_sub_pd(v, m), _mm256_set1_pd(FASTCE_TAME_F64),
                                          _CMP_LT_OQ));
}

/* Whether a lane of v[0..U) is far (far_mask_ps). */
static inline int far_lanes_ps(const __m256 *v, __m256 m, const int U) {
    __m256 far = _mm256_setzero_ps();
    for (int u = 0; u < U; u++) far = _mm256_or_ps(far, far_mask_ps(v[u], m));
    return !_mm256_testz_ps(far, far);
}

#endif /* FASTCE_EXP_DIFF_AVX2_H */
