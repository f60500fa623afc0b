/* simd_avx512.h: vectorised exp for AVX-512 (F, DQ), written for fastce.
 * Included only by vec_avx512.c, which is compiled for AVX-512 and called
 * only on CPUs that have it (see dispatch.c).
 *
 * The schemes and polynomials are those of simd_avx2.h (Cody-Waite
 * reduction, Cephes' degree-7 polynomial in float, the degree-13 Taylor
 * polynomial in double); AVX-512 adds vscalef, which multiplies by 2^n with
 * one rounding over the whole range, subnormal results included, so the
 * two-step scaling and the clamp above are gone. Measured maximum errors
 * (tests/test_vector_math.py, which asserts the same bounds as for AVX2):
 *   exp_ps (float)  <= 1.01 ulp on [-87.3, 0]; subnormal results below, 0 under -104
 *   exp_pd (double) <= 0.99 ulp on [-708, 0]; subnormal results below, 0 under -746
 * NaN gives NaN, -inf gives 0, +inf gives +inf. */
#ifndef FASTCE_SIMD_AVX512_H
#define FASTCE_SIMD_AVX512_H

#include <immintrin.h>

/* exp(x), float lanes. min/max return their second operand when one is
 * NaN, so with x second a NaN stays NaN through the clamps. */
static inline __m512 fastce512_exp_ps(__m512 x) {
    __m512 xc = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    /* 1 + (r + r^2 p): the small part first, one rounding at the end */
    __m512 e = _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r));
    return _mm512_scalef_ps(e, n);
}

/* exp(x), double lanes: two-part ln2, Taylor polynomial of degree 13
 * (truncation error < 5e-18 on |r| <= ln2/2). */
static inline __m512d fastce512_exp_pd(__m512d x) {
    __m512d xc = _mm512_min_pd(_mm512_set1_pd(710.0), _mm512_max_pd(_mm512_set1_pd(-746.0), x));
    __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(xc, _mm512_set1_pd(1.4426950408889634074)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(6.93147180369123816490e-01), xc);
    r = _mm512_fnmadd_pd(n, _mm512_set1_pd(1.90821492927058770002e-10), r);
    static const double inv_fact[] = {
        1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
        1.0 / 362880.0,     1.0 / 40320.0,     1.0 / 5040.0,     1.0 / 720.0,
        1.0 / 120.0,        1.0 / 24.0,        1.0 / 6.0,        0.5};
    __m512d p = _mm512_set1_pd(inv_fact[0]);
    for (int k = 1; k < 12; k++) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(inv_fact[k]));
    __m512d e = _mm512_add_pd(_mm512_set1_pd(1.0), _mm512_fmadd_pd(_mm512_mul_pd(p, r), r, r));
    return _mm512_scalef_pd(e, n);
}

#endif /* FASTCE_SIMD_AVX512_H */
