/* simd_avx2.h: vectorised exp and log1p for AVX2 + FMA, written for fastce.
 * Included only by vec_avx2.c, which is compiled with -mavx2 -mfma and called
 * only when the CPU has both (see dispatch.c).
 *
 * Accuracy: the maximum error measured over the whole useful range by
 * tests/test_vector_math.py (run it with -s to print it), which asserts
 * these bounds with a margin:
 *   exp_ps   (float)  <= 1.01 ulp on [-87.3, 0]; subnormal results below, 0 under -104
 *   exp_pd   (double) <= 0.99 ulp on [-708, 0]; subnormal results below, 0 under -746
 * (fastce only calls them on x <= 0; results for x > 0 are right up to 88.7
 * and 709.7, clamped above.)
 *   log_pd   (double) <= 0.85 ulp for every positive double, subnormals included
 *   log1p_pd (double) <= 1.22 ulp on (-1, 1]
 * NaN inputs give NaN; -inf gives 0 in exp. The float-accuracy ones, in ulps
 * of a 24-bit significand (relative error times 2^23 at most):
 *   exp24_pd   <= 0.0013 on [-708, 0]
 *   log1p24_pd <= 0.0045 on [0, 1]
 * and the double-accuracy ones, in double ulps:
 *   exp_dd_pd   (hi + lo rounded) <= 0.65 on [-708, 0]
 *   log1p_dd_pd (of hi + 0)       <= 0.59 on [0, 1] */
#ifndef FASTCE_SIMD_AVX2_H
#define FASTCE_SIMD_AVX2_H

#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "log_series.h"

/* Everything a hot loop calls is inlined into it, whatever the compiler's
 * size heuristics think: a call left in a loop, even on its rare path, makes
 * GCC reload every constant in every iteration (measured 25% more
 * instructions in the sigmoid loops). vec_avx2.c has outgrown GCC's
 * inlining budget for a unit, where plain `static inline` left exp_dd_pd
 * and log1p_dd_pd (the float64 sigmoid loop) and log_ku_pd (the float64
 * categorical loop) out of line: those are FASTCE_ALWAYS_INLINE (5% less
 * time for that categorical loop, about 2.5% for the sigmoid one). log_pd
 * and log1p_pd stay as they are: only rare paths call them, and inlining
 * them was measured slower in other loops. */
#if defined(__GNUC__)
#define FASTCE_ALWAYS_INLINE static inline __attribute__((always_inline))
#define FASTCE_NOINLINE static __attribute__((noinline))
#else
#define FASTCE_ALWAYS_INLINE static inline
#define FASTCE_NOINLINE static
#endif

/* exp(x), float lanes. Cody-Waite reduction x = n*ln2 + r, |r| <= ln2/2, a
 * degree-7 polynomial for exp(r) (Cephes' coefficients), then 2^n applied in
 * two halves so that results down to the subnormal range are right. */
static inline __m256 fastce_exp_ps(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-104.0f), hi = _mm256_set1_ps(88.7228391f);
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi); /* NaN -> lo, restored below */
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    /* 1 + (r + r^2 p): the small part first, one rounding at the end */
    __m256 e = _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r));
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    e = _mm256_mul_ps(_mm256_mul_ps(e, s1), s2);
    return _mm256_blendv_ps(e, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

/* exp(x), double lanes: the same scheme with a two-part ln2 and the Taylor
 * polynomial of degree 13 (truncation error < 5e-18 on |r| <= ln2/2). */
static inline __m256d fastce_exp_lo_pd(__m256d x, __m256d *lo_out);
static inline __m256d fastce_exp_pd(__m256d x) { return fastce_exp_lo_pd(x, NULL); }
/* With lo (not NULL) the result is *lo + the value returned: 1 + s kept
 * as hi + lo (TwoSum with 1 the larger, |s| < 0.42). */
static inline __m256d fastce_exp_lo_pd(__m256d x, __m256d *lo_out) {
    const __m256d lo = _mm256_set1_pd(-746.0), hi = _mm256_set1_pd(709.78);
    __m256d xc = _mm256_min_pd(_mm256_max_pd(x, lo), hi);
    __m256d n = _mm256_round_pd(_mm256_mul_pd(xc, _mm256_set1_pd(1.4426950408889634074)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93147180369123816490e-01), xc);
    r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.90821492927058770002e-10), r);
    static const double inv_fact[] = {
        1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
        1.0 / 362880.0,     1.0 / 40320.0,     1.0 / 5040.0,     1.0 / 720.0,
        1.0 / 120.0,        1.0 / 24.0,        1.0 / 6.0,        0.5};
    __m256d p = _mm256_set1_pd(inv_fact[0]);
    for (int k = 1; k < 12; k++) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(inv_fact[k]));
    /* e = 1 + r + r^2 * p, with the small part added first */
    __m256d small = _mm256_fmadd_pd(_mm256_mul_pd(p, r), r, r);
    __m256d e = _mm256_add_pd(_mm256_set1_pd(1.0), small);
    __m128i n32 = _mm256_cvtpd_epi32(n);
    __m256i ni = _mm256_cvtepi32_epi64(n32);
    __m256i n1 = _mm256_cvtepi32_epi64(_mm_srai_epi32(n32, 1));
    __m256i n2 = _mm256_sub_epi64(ni, n1);
    const __m256i bias = _mm256_set1_epi64x(1023);
    __m256d s1 = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(n1, bias), 52));
    __m256d s2 = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(n2, bias), 52));
    if (lo_out) {
        __m256d l = _mm256_add_pd(_mm256_sub_pd(_mm256_set1_pd(1.0), e), small);
        *lo_out = _mm256_mul_pd(_mm256_mul_pd(l, s1), s2);
    }
    e = _mm256_mul_pd(_mm256_mul_pd(e, s1), s2);
    return _mm256_blendv_pd(e, x, _mm256_cmp_pd(x, x, _CMP_UNORD_Q));
}

/* log(2^k * m) for positive finite normal lanes given as their bits, m the
 * significand in [1, 2) and k the unbiased exponent as a double: with f = m
 * or m/2 in [sqrt(2)/2, sqrt(2)) (k adjusted), log f = log(1 + u), u = f - 1
 * exact: with s = u/(2+u) and hfsq = u^2/2, log(1+u) = 2*atanh(s) =
 * u - (hfsq - s*(hfsq + R)), R = sum_i 2 s^(2i)/(2i+1) (a fitted
 * polynomial, log_series.h). The exact u leads; only the small correction
 * carries rounding errors. */
/* The significand of positive normal lanes (given as their bits) as f in
 * [sqrt(2)/2, sqrt(2)), adding 1 to the exponent *k where it was halved. */
static inline __m256d fastce_log_split_pd(__m256i bits, __m256d *k) {
    __m256d f = _mm256_castsi256_pd(_mm256_or_si256(
        _mm256_and_si256(bits, _mm256_set1_epi64x(0x000fffffffffffffLL)),
        _mm256_set1_epi64x(0x3ff0000000000000LL)));
    __m256d big = _mm256_cmp_pd(f, _mm256_set1_pd(1.4142135623730951), _CMP_GE_OQ);
    *k = _mm256_add_pd(*k, _mm256_and_pd(big, _mm256_set1_pd(1.0)));
    return _mm256_blendv_pd(f, _mm256_mul_pd(f, _mm256_set1_pd(0.5)), big);
}

/* k ln2 + log1p(u) for an exact u in [sqrt(1/2) - 1, sqrt(2) - 1] and an
 * integer k: the formula above, ln2 in two parts. Callers that know such a
 * (k, u) without a 1 + u to split (log(1 - p) from p itself, in the binary
 * loss) call it directly. */
FASTCE_ALWAYS_INLINE __m256d fastce_log_ku_pd(__m256d k, __m256d u) {
    __m256d hfsq = _mm256_mul_pd(_mm256_set1_pd(0.5), _mm256_mul_pd(u, u));
    __m256d s = _mm256_div_pd(u, _mm256_add_pd(_mm256_set1_pd(2.0), u));
    __m256d z = _mm256_mul_pd(s, s), z2 = _mm256_mul_pd(z, z);
    /* R = z g(z), g the polynomial of log_series.h, in Estrin's form */
#define FASTCE_G_(i) _mm256_set1_pd(FASTCE_LOG_G##i)
    __m256d p01 = _mm256_fmadd_pd(FASTCE_G_(1), z, FASTCE_G_(0));
    __m256d p23 = _mm256_fmadd_pd(FASTCE_G_(3), z, FASTCE_G_(2));
    __m256d p45 = _mm256_fmadd_pd(FASTCE_G_(5), z, FASTCE_G_(4));
    __m256d R = _mm256_fmadd_pd(_mm256_fmadd_pd(FASTCE_G_(6), z2, p45), _mm256_mul_pd(z2, z2),
                                _mm256_fmadd_pd(p23, z2, p01));
#undef FASTCE_G_
    R = _mm256_mul_pd(R, z);
    __m256d corr = _mm256_fmadd_pd(s, _mm256_add_pd(hfsq, R),
                                   _mm256_mul_pd(k, _mm256_set1_pd(2.31904681384629956e-17)));
    return _mm256_fmadd_pd(k, _mm256_set1_pd(6.93147180559945286e-01),
                           _mm256_sub_pd(u, _mm256_sub_pd(hfsq, corr)));
}

static inline __m256d fastce_log_finite_pd(__m256i bits, __m256d k) {
    __m256d f = fastce_log_split_pd(bits, &k);
    return fastce_log_ku_pd(k, _mm256_sub_pd(f, _mm256_set1_pd(1.0)));
}

/* log(w), double lanes, any w: w = 2^k * f with f in [sqrt(2)/2, sqrt(2)),
 * log f = 2*atanh(s), s = (f-1)/(f+1), |s| <= 0.172, the series to s^21,
 * k*ln2 in two parts. Subnormal w are scaled by 2^52 first; 0 gives -inf,
 * +inf gives +inf, negative or NaN gives NaN. */
static inline __m256d fastce_log_pd(__m256d w) {
    __m256d tiny = _mm256_cmp_pd(w, _mm256_set1_pd(2.2250738585072014e-308), _CMP_LT_OQ);
    __m256d ws = _mm256_blendv_pd(w, _mm256_mul_pd(w, _mm256_set1_pd(4503599627370496.0)), tiny);
    __m256i bits = _mm256_castpd_si256(ws);
    /* the biased exponent of each lane, as four int32 in the low half */
    __m256i ebits = _mm256_srli_epi64(bits, 52);
    __m128i e32 = _mm256_castsi256_si128(
        _mm256_permutevar8x32_epi32(ebits, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6)));
    __m256d k = _mm256_sub_pd(_mm256_cvtepi32_pd(e32), _mm256_set1_pd(1023.0));
    k = _mm256_sub_pd(k, _mm256_and_pd(tiny, _mm256_set1_pd(52.0)));
    __m256d lg = fastce_log_finite_pd(bits, k);
    /* special values: 0 -> -inf, +inf -> +inf, negative or NaN -> NaN */
    lg = _mm256_blendv_pd(lg, _mm256_set1_pd(-INFINITY), _mm256_cmp_pd(w, _mm256_setzero_pd(), _CMP_EQ_OQ));
    lg = _mm256_blendv_pd(lg, w, _mm256_cmp_pd(w, _mm256_set1_pd(INFINITY), _CMP_EQ_OQ));
    __m256d bad = _mm256_cmp_pd(w, _mm256_setzero_pd(), _CMP_NGE_UQ); /* w < 0 or NaN */
    return _mm256_blendv_pd(lg, _mm256_set1_pd(NAN), bad);
}

/* log1p(u) for u in (-1, 1], double lanes: w = 1 + u rounded, its exact
 * rounding error c = u - (w - 1) (Fast2Sum, as |u| <= 1) added back as c/w,
 * so u near -1 keep their digits; |u| < 2^-7 takes the Taylor series. */
static inline __m256d fastce_log1p_pd(__m256d u) {
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d w = _mm256_add_pd(one, u);
    __m256d c = _mm256_div_pd(_mm256_sub_pd(u, _mm256_sub_pd(w, one)), w);
    c = _mm256_and_pd(c, _mm256_cmp_pd(c, c, _CMP_ORD_Q)); /* inf/inf, 0/0: no correction */
    __m256d lg = _mm256_add_pd(fastce_log_pd(w), c);
    /* |u| < 2^-7: the series u - u^2/2 + ... - u^10/10 (truncation < 2^-60 |u|) */
    __m256d small = _mm256_cmp_pd(_mm256_andnot_pd(_mm256_set1_pd(-0.0), u),
                                  _mm256_set1_pd(0.0078125), _CMP_LT_OQ);
    __m256d p = _mm256_set1_pd(-1.0 / 10.0);
    for (int i = 9; i >= 2; i--) p = _mm256_fmadd_pd(p, u, _mm256_set1_pd((i % 2 ? 1.0 : -1.0) / i));
    __m256d series = _mm256_fmadd_pd(_mm256_mul_pd(p, u), u, u);
    lg = _mm256_blendv_pd(lg, series, small);
    return _mm256_blendv_pd(lg, u, _mm256_cmp_pd(u, u, _CMP_UNORD_Q));
}

/* ---- float-accurate functions in double lanes ----
 * A float32 kernel that computes in double and rounds its result to float
 * once needs transcendental parts with a relative error far below float's
 * 2^-24, not double's 2^-53: 2^-31 costs at most 0.01 ulp before that
 * rounding. These run in double lanes (no cancellation or range issues),
 * with short polynomials in Estrin's form: their callers are bound by
 * latency, not by throughput. */

/* exp(t) for t in [-708, 0] (or NaN, giving NaN), double lanes, relative
 * error < 2e-10 (2^-32); other t are the caller's business (the float
 * sigmoid kernel sends them down its double-accuracy path). t = n*ln2 + r,
 * |r| <= ln2/2: the rounding shifter gives n, ln2 in one part (|n| <= 1022
 * adds at most 3e-14 to r), exp(r) = 1 + r*S(r) with S of degree 6
 * (Chebyshev interpolant of expm1(r)/r), 2^n from its bits. */
static inline __m256d fastce_exp24_pd(__m256d t) {
    const __m256d shifter = _mm256_set1_pd(6755399441055744.0); /* 1.5 * 2^52 */
    __m256d kd = _mm256_fmadd_pd(t, _mm256_set1_pd(1.4426950408889634074), shifter);
    __m256d n = _mm256_sub_pd(kd, shifter); /* round(t / ln2), exactly */
    __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93147180559945286e-01), t);
    __m256d r2 = _mm256_mul_pd(r, r), r4 = _mm256_mul_pd(r2, r2);
    __m256d p01 = _mm256_fmadd_pd(_mm256_set1_pd(5.000000047117757e-1), r, _mm256_set1_pd(1.0));
    __m256d p23 = _mm256_fmadd_pd(_mm256_set1_pd(4.166635289677516e-2), r,
                                  _mm256_set1_pd(1.6666666718997508e-1));
    __m256d p45 = _mm256_fmadd_pd(_mm256_set1_pd(1.3941108433972674e-3), r,
                                  _mm256_set1_pd(8.333298483754886e-3));
    __m256d p46 = _mm256_fmadd_pd(_mm256_set1_pd(1.989927395864936e-4), r2, p45);
    __m256d p = _mm256_fmadd_pd(p46, r4, _mm256_fmadd_pd(p23, r2, p01));
    /* kd's low bits hold n: (n + 1023) << 52 is 2^n (n >= -1022 here) */
    __m256d scale = _mm256_castsi256_pd(_mm256_slli_epi64(
        _mm256_add_epi64(_mm256_castpd_si256(kd), _mm256_set1_epi64x(1023)), 52));
    /* 2^n + (r 2^n) S(r): exactly 1 at t = 0 */
    return _mm256_fmadd_pd(p, _mm256_mul_pd(r, scale), scale);
}

/* log1p(e) for e in [0, 1], double lanes, relative error < 4e-10 (2^-31)
 * for e >= 2^-1021: 2*atanh(s) with s = e/(2+e) in [0, 1/3], as
 * 2s + s*w*R(w), w = s^2 <= 1/9, R of degree 4 (Chebyshev interpolant), so
 * the leading 2s keeps tiny e's digits. The form is odd in s, so the same
 * bound holds for e in [sqrt(1/2) - 1, 0) (|s| <= 0.172, w <= 0.0295),
 * where the float-accuracy logs of vec_avx2.c call it. NaN gives NaN. The one division
 * runs beside the polynomials of its neighbours; without it log1p needs a
 * degree-10 polynomial on [0, 1], which measured slower. */
static inline __m256d fastce_log1p24_pd(__m256d e) {
    __m256d s = _mm256_div_pd(e, _mm256_add_pd(_mm256_set1_pd(2.0), e));
    __m256d w = _mm256_mul_pd(s, s);
    __m256d w2 = _mm256_mul_pd(w, w);
    __m256d r01 = _mm256_fmadd_pd(_mm256_set1_pd(0.3999970633192972), w,
                                  _mm256_set1_pd(0.6666666732052742));
    __m256d r23 = _mm256_fmadd_pd(_mm256_set1_pd(0.21706575800880373), w,
                                  _mm256_set1_pd(0.28592357994302836));
    __m256d r24 = _mm256_fmadd_pd(_mm256_set1_pd(0.2322432922402335), w2, r23);
    __m256d R = _mm256_fmadd_pd(r24, w2, r01);
    return _mm256_fmadd_pd(_mm256_mul_pd(s, w), R, _mm256_add_pd(s, s));
}

/* ---- the softplus tail to double accuracy ---- */

/* exp(t) for t in [-708, 0] (or NaN), double lanes, as an unevaluated sum
 * hi + *lo (|lo| <= ulp(hi)) within about 0.15 ulp of exp(t), for a log1p
 * that takes both: Cody-Waite reduction with ln2 in two parts and the
 * rounding error of r kept (r + r_lo), 1 + r split exactly (Fast2Sum), the
 * Taylor series r^2 (1/2 + r/6 + ... + r^11/13!) added to its low part,
 * then renormalised. */
FASTCE_ALWAYS_INLINE __m256d fastce_exp_dd_pd(__m256d t, __m256d *lo) {
    const __m256d shifter = _mm256_set1_pd(6755399441055744.0), one = _mm256_set1_pd(1.0);
    const __m256d ln2_hi = _mm256_set1_pd(6.93147180369123816490e-01);
    const __m256d ln2_lo = _mm256_set1_pd(1.90821492927058770002e-10);
    __m256d kd = _mm256_fmadd_pd(t, _mm256_set1_pd(1.4426950408889634074), shifter);
    __m256d n = _mm256_sub_pd(kd, shifter);
    __m256d r_hi = _mm256_fnmadd_pd(n, ln2_hi, t); /* exact */
    __m256d r = _mm256_fnmadd_pd(n, ln2_lo, r_hi);
    __m256d r_lo = _mm256_fnmadd_pd(n, ln2_lo, _mm256_sub_pd(r_hi, r));
    static const double inv_fact[] = {
        1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
        1.0 / 362880.0,     1.0 / 40320.0,     1.0 / 5040.0,     1.0 / 720.0,
        1.0 / 120.0,        1.0 / 24.0,        1.0 / 6.0,        0.5};
#define FASTCE_C_(k) _mm256_set1_pd(inv_fact[k])
    __m256d r2 = _mm256_mul_pd(r, r), r4 = _mm256_mul_pd(r2, r2), r8 = _mm256_mul_pd(r4, r4);
    /* P(r) = sum_{k=0..11} inv_fact[11-k] r^k, Estrin */
    __m256d a0 = _mm256_fmadd_pd(FASTCE_C_(10), r, FASTCE_C_(11));
    __m256d a1 = _mm256_fmadd_pd(FASTCE_C_(8), r, FASTCE_C_(9));
    __m256d a2 = _mm256_fmadd_pd(FASTCE_C_(6), r, FASTCE_C_(7));
    __m256d a3 = _mm256_fmadd_pd(FASTCE_C_(4), r, FASTCE_C_(5));
    __m256d a4 = _mm256_fmadd_pd(FASTCE_C_(2), r, FASTCE_C_(3));
    __m256d a5 = _mm256_fmadd_pd(FASTCE_C_(0), r, FASTCE_C_(1));
    __m256d b0 = _mm256_fmadd_pd(a1, r2, a0), b1 = _mm256_fmadd_pd(a3, r2, a2);
    __m256d b2 = _mm256_fmadd_pd(a5, r2, a4);
    __m256d p = _mm256_fmadd_pd(b2, r8, _mm256_fmadd_pd(b1, r4, b0));
#undef FASTCE_C_
    /* exp(r + r_lo) = (1 + r + r^2 P(r)) (1 + r_lo): 1 + r split exactly
     * (Fast2Sum), the rest added to its low part, then renormalised */
    __m256d h1 = _mm256_add_pd(one, r);
    __m256d l1 = _mm256_add_pd(_mm256_sub_pd(one, h1), r);
    l1 = _mm256_add_pd(l1, _mm256_fmadd_pd(p, r2, _mm256_fmadd_pd(r_lo, r, r_lo)));
    __m256d hi = _mm256_add_pd(h1, l1);
    __m256d l = _mm256_add_pd(_mm256_sub_pd(h1, hi), l1);
    __m256d scale = _mm256_castsi256_pd(_mm256_slli_epi64(
        _mm256_add_epi64(_mm256_castpd_si256(kd), _mm256_set1_epi64x(1023)), 52));
    *lo = _mm256_mul_pd(l, scale);
    return _mm256_mul_pd(hi, scale);
}

/* log1p(e) for e = hi + lo in [0, 1] (hi >= 2^-1021 or 0, |lo| <= ulp(hi)),
 * double lanes, within 0.6 ulp: 2*atanh(s), s = e/(2+e) in [0, 1/3] with
 * its rounding error s_lo kept (the exact residual of the division, over
 * 2+e to 12 bits), as 2s + (2 s_lo (1 + w) + s*w*R(w)), w = s^2, R of
 * degree 10 (Chebyshev interpolant, 0.02 ulp): one rounding of the leading
 * 2s plus a small part. NaN gives NaN. */
FASTCE_ALWAYS_INLINE __m256d fastce_log1p_dd_pd(__m256d hi, __m256d lo) {
    const __m256d two = _mm256_set1_pd(2.0);
    __m256d d = _mm256_add_pd(two, hi);
    __m256d d_lo = _mm256_add_pd(_mm256_sub_pd(two, d), hi); /* exact */
    __m256d s = _mm256_div_pd(hi, d);
    /* (hi + lo) - s*(d + d_lo + lo): the first part exact */
    __m256d res = _mm256_fnmadd_pd(s, d, hi);
    res = _mm256_add_pd(res, _mm256_fnmadd_pd(s, _mm256_add_pd(d_lo, lo), lo));
    __m256d inv_d = _mm256_cvtps_pd(_mm_rcp_ps(_mm256_cvtpd_ps(d)));
    __m256d s_lo = _mm256_mul_pd(res, inv_d);
    __m256d w = _mm256_mul_pd(s, s), w2 = _mm256_mul_pd(w, w), w4 = _mm256_mul_pd(w2, w2);
    static const double c[] = {
        0.6666666666666666, 0.39999999999999525, 0.285714285716001, 0.2222222219823677,
        0.18181819897962714, 0.1538454396486055, 0.13335178631449257, 0.11734279061303197,
        0.10845178394880015, 0.07492143795550767, 0.1563057780092285};
#define FASTCE_C_(k) _mm256_set1_pd(c[k])
    __m256d a0 = _mm256_fmadd_pd(FASTCE_C_(1), w, FASTCE_C_(0));
    __m256d a1 = _mm256_fmadd_pd(FASTCE_C_(3), w, FASTCE_C_(2));
    __m256d a2 = _mm256_fmadd_pd(FASTCE_C_(5), w, FASTCE_C_(4));
    __m256d a3 = _mm256_fmadd_pd(FASTCE_C_(7), w, FASTCE_C_(6));
    __m256d a4 = _mm256_fmadd_pd(FASTCE_C_(9), w, FASTCE_C_(8));
    __m256d b0 = _mm256_fmadd_pd(a1, w2, a0), b1 = _mm256_fmadd_pd(a3, w2, a2);
    __m256d b2 = _mm256_fmadd_pd(FASTCE_C_(10), w2, a4);
    __m256d R = _mm256_fmadd_pd(_mm256_fmadd_pd(b2, w4, b1), w4, b0);
#undef FASTCE_C_
    /* 2 atanh(s + s_lo) = 2 atanh(s) + 2 s_lo (1 + s^2 + ...) */
    __m256d s_lo2 = _mm256_add_pd(s_lo, s_lo);
    __m256d small = _mm256_fmadd_pd(_mm256_mul_pd(s, w), R, _mm256_fmadd_pd(s_lo2, w, s_lo2));
    return _mm256_add_pd(_mm256_add_pd(s, s), small);
}

#endif /* FASTCE_SIMD_AVX2_H */
