/* simd_avx512.h: vectorised exp and log1p for AVX-512 (F, DQ), written for
 * fastce. Included only by vec_avx512.c and vec_avx512_rows.c, which are
 * compiled for AVX-512 and called only on CPUs that have it (see dispatch.c).
 *
 * The schemes and polynomials are those of simd_avx2.h (Cody-Waite
 * reduction, Cephes' degree-7 polynomial in float, the degree-13 Taylor
 * polynomial in double), evaluated in Estrin's form; AVX-512 adds vscalef, which multiplies by 2^n with
 * one rounding over the whole range, subnormal results included, so the
 * two-step scaling and the clamp above are gone. Measured maximum errors
 * (tests/test_vector_math.py, which asserts the same bounds as for AVX2):
 *   exp_ps (float)  <= 1.01 ulp on [-87.3, 0]; subnormal results below, 0 under -104
 *   exp_pd (double) <= 0.99 ulp on [-708, 0]; subnormal results below, 0 under -746
 * NaN gives NaN, -inf gives 0, +inf gives +inf. */
#ifndef FASTCE_SIMD_AVX512_H
#define FASTCE_SIMD_AVX512_H

#include <immintrin.h>
#include <stddef.h>

#if defined(__GNUC__)
#define FASTCE_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define FASTCE_ALWAYS_INLINE static inline
#endif

/* The first r lanes, 0 <= r <= 16 (or 8): tails and partial groups. */
static inline __mmask16 fastce512_first16(ptrdiff_t r) { return (__mmask16)((1u << r) - 1u); }
static inline __mmask8 fastce512_first8(ptrdiff_t r) { return (__mmask8)((1u << r) - 1u); }

/* What the caller knows of x, so that the exp leaves out the clamps it
 * cannot need (each one operation in loops bound by their operation count):
 * any x; x <= 0 or NaN; x finite in [-87, 0] ([-708, 0] for double). */
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
    /* the polynomial in Estrin's form: 3 dependent steps, not 6 (the row
     * loops are bound by this latency more than by their operation count) */
    __m512 r2 = _mm512_mul_ps(r, r);
    __m512 p01 = _mm512_fmadd_ps(_mm512_set1_ps(1.6666665459e-1f), r, _mm512_set1_ps(5.0000001201e-1f));
    __m512 p23 = _mm512_fmadd_ps(_mm512_set1_ps(8.3334519073e-3f), r, _mm512_set1_ps(4.1665795894e-2f));
    __m512 p45 = _mm512_fmadd_ps(_mm512_set1_ps(1.9875691500e-4f), r, _mm512_set1_ps(1.3981999507e-3f));
    __m512 p = _mm512_fmadd_ps(_mm512_fmadd_ps(p45, r2, p23), r2, p01);
    /* 1 + (r + r^2 p): the small part first, one rounding at the end */
    __m512 e = _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r));
    return _mm512_scalef_ps(e, n);
}

/* exp(x), double lanes (range as above): two-part ln2, Taylor polynomial
 * of degree 13 (truncation error < 5e-18 on |r| <= ln2/2). */
static inline __m512d fastce512_exp_pd(__m512d x, const int range) {
    __m512d xc = x;
    if (range != FASTCE_EXP_TAME) xc = _mm512_max_pd(_mm512_set1_pd(-746.0), xc);
    if (range == FASTCE_EXP_ANY) xc = _mm512_min_pd(_mm512_set1_pd(710.0), xc);
    __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(xc, _mm512_set1_pd(1.4426950408889634074)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(6.93147180369123816490e-01), xc);
    r = _mm512_fnmadd_pd(n, _mm512_set1_pd(1.90821492927058770002e-10), r);
    /* p = sum_k r^k / (k+2)!, k < 12, in Estrin's form: 4 dependent steps
     * after r^2, not 11 */
#define A_(k, f) __m512d a##k = _mm512_set1_pd(1.0 / (f))
    A_(0, 2.0); A_(1, 6.0); A_(2, 24.0); A_(3, 120.0); A_(4, 720.0); A_(5, 5040.0);
    A_(6, 40320.0); A_(7, 362880.0); A_(8, 3628800.0); A_(9, 39916800.0);
    A_(10, 479001600.0); A_(11, 6227020800.0);
#undef A_
    __m512d r2 = _mm512_mul_pd(r, r), r4 = _mm512_mul_pd(r2, r2), r8 = _mm512_mul_pd(r4, r4);
    __m512d q0 = _mm512_fmadd_pd(a1, r, a0), q1 = _mm512_fmadd_pd(a3, r, a2);
    __m512d q2 = _mm512_fmadd_pd(a5, r, a4), q3 = _mm512_fmadd_pd(a7, r, a6);
    __m512d q4 = _mm512_fmadd_pd(a9, r, a8), q5 = _mm512_fmadd_pd(a11, r, a10);
    __m512d s0 = _mm512_fmadd_pd(q1, r2, q0), s1 = _mm512_fmadd_pd(q3, r2, q2);
    __m512d s2 = _mm512_fmadd_pd(q5, r2, q4);
    __m512d p = _mm512_fmadd_pd(s2, r8, _mm512_fmadd_pd(s1, r4, s0));
    __m512d e = _mm512_add_pd(_mm512_set1_pd(1.0), _mm512_fmadd_pd(_mm512_mul_pd(p, r), r, r));
    return _mm512_scalef_pd(e, n);
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
static inline __m512d fastce512_exp_diff_pd(__m512d v, __m512d m, const int tame) {
    __m512d d = _mm512_sub_pd(v, m);
    __m512d ap = _mm512_add_pd(d, m), bp = _mm512_sub_pd(d, ap);
    __m512d err = _mm512_sub_pd(_mm512_sub_pd(v, ap), _mm512_add_pd(m, bp));
    __m512d e = fastce512_exp_pd(d, tame ? FASTCE_EXP_TAME : FASTCE_EXP_NONPOS);
    if (tame) return _mm512_fmadd_pd(e, err, e);
    return _mm512_mask_fmadd_pd(e, _mm512_cmp_pd_mask(err, err, _CMP_ORD_Q), err, e);
}

#endif /* FASTCE_SIMD_AVX512_H */
