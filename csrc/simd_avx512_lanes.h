/* simd_avx512_lanes.h: small lane helpers shared by the AVX-512 kernels
 * that put samples in lanes (vec_avx512_rows*.c, vec_avx512_planes*.c):
 * float and double lanes, Kahan-compensated lane sums, the lanes whose
 * logsumexp cancels. Compiled only with AVX-512 flags. */
#ifndef FASTCE_SIMD_AVX512_LANES_H
#define FASTCE_SIMD_AVX512_LANES_H

#include "simd_avx512.h"

/* Eight double lanes from half of sixteen float lanes, and back. */
static inline __m512d lo_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
static inline __m512d hi_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }
static inline __m512 to_ps(__m512d lo, __m512d hi) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1);
}

/* Kahan-compensated lanes: acc - comp is the sum. With guard, the
 * compensation of a lane whose sum is no longer finite is dropped: it is
 * NaN or, where the add overflowed, inf, and the next add would take inf -
 * inf (a weighted sum of finite losses past the range gave NaN, not inf). */
FASTCE_ALWAYS_INLINE void kahan_add(__m512d *acc, __m512d *comp, __m512d v, const int guard) {
    __m512d y = _mm512_sub_pd(v, *comp);
    __m512d t = _mm512_add_pd(*acc, y);
    __m512d c = _mm512_sub_pd(_mm512_sub_pd(t, *acc), y);
    *comp = guard ? _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(_mm512_abs_pd(c),
                                                           _mm512_set1_pd(INFINITY), _CMP_LT_OQ),
                                        c)
                  : c;
    *acc = t;
}

static inline double kahan_total(__m512d acc, __m512d comp) {
    double a[8], c[8];
    _mm512_storeu_pd(a, acc);
    _mm512_storeu_pd(c, comp);
    fastce_acc s = {0.0, 0.0};
    for (int k = 0; k < 8; k++) {
        fastce_acc_add(&s, a[k]);
        if (isfinite(a[k])) fastce_acc_add(&s, -c[k]); /* inf - inf made it NaN */
    }
    return fastce_acc_value(s);
}

/* Lanes where lse = max + L cancels (fastce_lse_cancels in internal.h):
 * their rows are recomputed in extra precision (redo_lse_*). */
static inline __mmask8 lse_cancels(__m512d m, __m512d L, __m512d lse) {
    __m512d half_abs = _mm512_mul_pd(_mm512_set1_pd(0.5), _mm512_abs_pd(lse));
    __mmask8 neg = _mm512_cmp_pd_mask(m, _mm512_setzero_pd(), _CMP_LT_OQ) &
                   _mm512_cmp_pd_mask(m, _mm512_set1_pd(-INFINITY), _CMP_GT_OQ);
    return _mm512_mask_cmp_pd_mask(neg, L, half_abs, _CMP_GT_OQ);
}

/* Index of the lowest set bit of a nonzero mask. */
static inline int lowest(unsigned k) { return __builtin_ctz(k); }

/* The labels of the first nr rows as int32 lanes (ignored rows and lanes
 * past nr: class 0) and, in *used, the rows that are not ignored. */
FASTCE_ALWAYS_INLINE __m512i labels16(const int64_t *y, ptrdiff_t nr, int64_t ignore_index,
                               __mmask16 *used) {
    const __m512i ig = _mm512_set1_epi64(ignore_index);
    __mmask8 k0 = fastce512_first8(nr < 8 ? nr : 8), k1 = fastce512_first8(nr > 8 ? nr - 8 : 0);
    __m512i a = _mm512_maskz_loadu_epi64(k0, y), b = _mm512_maskz_loadu_epi64(k1, y + 8);
    __mmask8 u0 = _mm512_mask_cmpneq_epi64_mask(k0, a, ig);
    __mmask8 u1 = _mm512_mask_cmpneq_epi64_mask(k1, b, ig);
    *used = (__mmask16)(u0 | (unsigned)u1 << 8);
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_maskz_cvtepi64_epi32(u0, a)),
                              _mm512_maskz_cvtepi64_epi32(u1, b), 1);
}

#endif /* FASTCE_SIMD_AVX512_LANES_H */
