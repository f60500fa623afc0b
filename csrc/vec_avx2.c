/* vec_avx2.c: the row primitives for AVX2 + FMA (contract in vec.h).
 * Compiled with -mavx2 -mfma (CMakeLists.txt); dispatch.c calls into this
 * table only on CPUs that have both. Arithmetic matches the scalar table:
 * float rows are reduced in double lanes, double rows with Kahan-compensated
 * lanes, and exp(x - m) corrects the rounding of x - m (TwoSum). */
#include "vec.h"

#ifdef FASTCE_HAVE_AVX2_TABLE

#include <math.h>

#include "internal.h"
#include "exp_diff_avx2.h"
#include "simd_avx2_dd.h"

/* ------------------------------------------------------------ helpers */

static inline double hsum_pd(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

static inline long long hsum_epi32(__m256i v) {
    int32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, v);
    long long s = 0;
    for (int k = 0; k < 8; k++) s += lanes[k];
    return s;
}

/* s = a + b and its rounding error *e = (a + b) - s, exactly (TwoSum: six
 * operations, none of them on a loop's chain through a; NaN where s is
 * not finite). */
FASTCE_ALWAYS_INLINE __m256d two_sum_pd(__m256d a, __m256d b, __m256d *e) {
    __m256d s = _mm256_add_pd(a, b);
    __m256d bp = _mm256_sub_pd(s, a);
    *e = _mm256_add_pd(_mm256_sub_pd(a, _mm256_sub_pd(s, bp)), _mm256_sub_pd(b, bp));
    return s;
}

/* Four double lanes from half of eight float lanes, and back. */
static inline __m256d lo_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
static inline __m256d hi_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
static inline __m256 to_ps(__m256d lo, __m256d hi) {
    return _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
}

/* Lane masks for the first r (< 8 or < 4) elements of a tail. */
static inline __m256i tail_mask_ps(ptrdiff_t r) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)r),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __m256i tail_mask_pd(ptrdiff_t r) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(r), _mm256_setr_epi64x(0, 1, 2, 3));
}

/* The lanes whose bit is set in a lane-bit mask (as from movemask), as a
 * mask vector: of doubles (4 bits), of floats (8 bits). */
static inline __m256d lanes_pd(int bits) {
    const __m256i bit = _mm256_setr_epi64x(1, 2, 4, 8);
    return _mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_and_si256(_mm256_set1_epi64x(bits), bit), bit));
}
static inline __m256 lanes_ps(int bits) {
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(bits), bit), bit));
}

/* ------------------------------------------------------------ row max */

/* max_ps drops NaN: a row whose max came out -inf is either all masked
 * (-inf) or hides a NaN, which must win. */
static double nan_or_minus_inf_f32(const float *x, ptrdiff_t C) {
    for (ptrdiff_t j = 0; j < C; j++)
        if (x[j] != x[j]) return (double)x[j];
    return -INFINITY;
}
static double nan_or_minus_inf_f64(const double *x, ptrdiff_t C) {
    for (ptrdiff_t j = 0; j < C; j++)
        if (x[j] != x[j]) return x[j];
    return -INFINITY;
}

static double row_max_f32(const float *x, ptrdiff_t C) {
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
    ptrdiff_t j = 0;
    for (; j + 16 <= C; j += 16) {
        m0 = _mm256_max_ps(_mm256_loadu_ps(x + j), m0);
        m1 = _mm256_max_ps(_mm256_loadu_ps(x + j + 8), m1);
    }
    m0 = _mm256_max_ps(m0, m1);
    float lanes[8];
    _mm256_storeu_ps(lanes, m0);
    double m = -INFINITY;
    for (int k = 0; k < 8; k++) m = lanes[k] > m ? lanes[k] : m;
    for (; j < C; j++) m = x[j] > m ? x[j] : m;
    return m == -INFINITY ? nan_or_minus_inf_f32(x, C) : m;
}

static double row_max_f64(const double *x, ptrdiff_t C) {
    __m256d m0 = _mm256_set1_pd(-INFINITY), m1 = m0;
    ptrdiff_t j = 0;
    for (; j + 8 <= C; j += 8) {
        m0 = _mm256_max_pd(_mm256_loadu_pd(x + j), m0);
        m1 = _mm256_max_pd(_mm256_loadu_pd(x + j + 4), m1);
    }
    m0 = _mm256_max_pd(m0, m1);
    double lanes[4];
    _mm256_storeu_pd(lanes, m0);
    double m = -INFINITY;
    for (int k = 0; k < 4; k++) m = lanes[k] > m ? lanes[k] : m;
    for (; j < C; j++) m = x[j] > m ? x[j] : m;
    return m == -INFINITY ? nan_or_minus_inf_f64(x, C) : m;
}

/* --------------------------------------------------------- row argmax */

/* Two reads of the row: its max, with a note of any NaN (whose first
 * index is then the answer, from the scalar fastce_argmax: rare), then the first
 * entry equal to the max (-inf for a row of -inf, at 0). Whole vectors,
 * then the tail one by one. Rows under 32 entries take one scalar read
 * (measured faster there: the vectors' horizontal steps and second read
 * cost more than they save). */
#define FASTCE_ROW_ARGMAX_AVX2(SUF, TYPE, W, VEC, L)                                       \
    static ptrdiff_t row_argmax_##SUF(const TYPE *x, ptrdiff_t C) {                        \
        if (C < 32) return fastce_argmax_##SUF(x, C, 1);                                   \
        VEC m0 = _mm256_set1_##W(-INFINITY), m1 = m0, nan = _mm256_setzero_##W();          \
        ptrdiff_t j = 0;                                                                   \
        for (; j + 2 * L <= C; j += 2 * L) {                                               \
            VEC a = _mm256_loadu_##W(x + j), b = _mm256_loadu_##W(x + j + L);              \
            nan = _mm256_or_##W(nan, _mm256_cmp_##W(a, b, _CMP_UNORD_Q));                  \
            m0 = _mm256_max_##W(a, m0);                                                    \
            m1 = _mm256_max_##W(b, m1);                                                    \
        }                                                                                  \
        TYPE lanes[L], m = -INFINITY;                                                      \
        _mm256_storeu_##W(lanes, _mm256_max_##W(m0, m1));                                  \
        for (int k = 0; k < L; k++) m = lanes[k] > m ? lanes[k] : m;                       \
        int has_nan = _mm256_movemask_##W(nan) != 0;                                       \
        for (; j < C; j++) {                                                               \
            has_nan |= x[j] != x[j];                                                       \
            m = x[j] > m ? x[j] : m;                                                       \
        }                                                                                  \
        if (has_nan) return fastce_argmax_##SUF(x, C, 1); /* its first NaN */              \
        const VEC mv = _mm256_set1_##W(m);                                                 \
        for (j = 0; j + L <= C; j += L) {                                                  \
            int eq = _mm256_movemask_##W(_mm256_cmp_##W(_mm256_loadu_##W(x + j), mv, _CMP_EQ_OQ)); \
            if (eq) return j + __builtin_ctz((unsigned)eq);                                \
        }                                                                                  \
        while (x[j] != m) j++;                                                             \
        return j;                                                                          \
    }

FASTCE_ROW_ARGMAX_AVX2(f32, float, ps, __m256, 8)
FASTCE_ROW_ARGMAX_AVX2(f64, double, pd, __m256d, 4)

/* ----------------------------------------------------------- row rest */

/* Eight floats of a row: their terms exp(v - m) (1 at a maximum) stored
 * when store is set, and added in double to acc0 (low four) and acc1 (high
 * four) except at a maximum, whose lanes count in ties instead (live: the
 * lanes of the row, all but a tail's). ex holds the terms as floats; exd,
 * when not NULL, the same terms as doubles, which the sums take instead. */
FASTCE_ALWAYS_INLINE void rest8_f32(__m256 v, __m256 ex, const __m256d *exd, __m256 live,
                                    __m256 mv, float *store, __m256d *acc0, __m256d *acc1,
                                    __m256i *ties) {
    __m256 eq = _mm256_and_ps(_mm256_cmp_ps(v, mv, _CMP_EQ_OQ), live);
    if (store) _mm256_storeu_ps(store, _mm256_blendv_ps(ex, _mm256_set1_ps(1.0f), eq));
    __m256 keep = _mm256_andnot_ps(eq, live);
    *ties = _mm256_sub_epi32(*ties, _mm256_castps_si256(eq)); /* mask = -1 */
    if (exd) { /* keep's halves as double masks (an int32 -1 widens to -1) */
        __m256i k = _mm256_castps_si256(keep);
        __m256d k0 = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(k)));
        __m256d k1 = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(k, 1)));
        *acc0 = _mm256_add_pd(*acc0, _mm256_and_pd(exd[0], k0));
        *acc1 = _mm256_add_pd(*acc1, _mm256_and_pd(exd[1], k1));
    } else {
        __m256 e = _mm256_and_ps(ex, keep);
        *acc0 = _mm256_add_pd(*acc0, lo_pd(e));
        *acc1 = _mm256_add_pd(*acc1, hi_pd(e));
    }
}

/* rest8_f32 for U (1 or 2) vectors v[u], lanes live[u]: with the tame exp
 * where every lane allows it (almost every row: the same bits, about a
 * third fewer operations); otherwise, with a finite lane below -87, with
 * the terms in double from exp_diff_pd, rounded to float only where they
 * are stored (below -87 a float term is subnormal, and a confident row's
 * tiny rest can be all such terms: each rounded to float, they made its
 * loss 450 ulp off, 1000 classes at margin 100); with -inf or NaN lanes
 * only, with the guarded float exp. The check, before the exp, is one
 * compare a vector and one test for two: a pass without it, rerun when
 * the least v - m was below -87 (as AVX-512 does), was 2% faster on
 * ordinary rows and 1.3x slower on rows masked with -inf. v is in
 * registers, so an in-place store has not touched it yet. */
FASTCE_ALWAYS_INLINE void rest_vectors_f32(const __m256 *v, const __m256 *live, const int U,
                                           __m256 mv, float *store, __m256d *acc,
                                           __m256i *ties) {
    __m256 ex[2];
    if (__builtin_expect(tame_lanes_ps(v, mv, U), 1)) {
        exp_diff_tame_ps(v, mv, ex, U);
        for (int u = 0; u < U; u++)
            rest8_f32(v[u], ex[u], NULL, live[u], mv, store ? store + 8 * u : NULL,
                      &acc[2 * u], &acc[2 * u + 1], &ties[u]);
        return;
    }
    if (!far_lanes_ps(v, mv, U)) { /* -inf or NaN lanes only (a masked row): float */
        for (int u = 0; u < U; u++)
            rest8_f32(v[u], exp_diff_ps(v[u], mv), NULL, live[u], mv,
                      store ? store + 8 * u : NULL, &acc[2 * u], &acc[2 * u + 1], &ties[u]);
        return;
    }
    const __m256d md = lo_pd(mv);
    for (int u = 0; u < U; u++) {
        __m256d exd[2] = {exp_diff_pd(lo_pd(v[u]), md), exp_diff_pd(hi_pd(v[u]), md)};
        rest8_f32(v[u], to_ps(exd[0], exd[1]), exd, live[u], mv, store ? store + 8 * u : NULL,
                  &acc[2 * u], &acc[2 * u + 1], &ties[u]);
    }
}

/* A float row's terms are rounded to float (relative error ~2^-24) and it
 * rounds to float: plain double lanes sum them well enough. */
static inline double rest_f32(const float *x, ptrdiff_t C, double m, float *store) {
    const __m256 mv = _mm256_set1_ps((float)m), all = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    const __m256 lives[2] = {all, all};
    __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(),
                      _mm256_setzero_pd()};
    __m256i ties[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    __m256 v[2];
    ptrdiff_t j = 0;
    /* two independent vectors per step: their exps overlap */
    for (; j + 16 <= C; j += 16) {
        /* two rows ahead (x + 2C): in cache when its max pass comes */
        _mm_prefetch((const char *)(x + 2 * C + j), _MM_HINT_T0);
        _mm_prefetch((const char *)(x + 2 * C + j + 8), _MM_HINT_T0);
        v[0] = _mm256_loadu_ps(x + j);
        v[1] = _mm256_loadu_ps(x + j + 8);
        rest_vectors_f32(v, lives, 2, mv, store ? store + j : NULL, acc, ties);
    }
    if (j + 8 <= C) { /* one more whole vector */
        v[0] = _mm256_loadu_ps(x + j);
        rest_vectors_f32(v, lives, 1, mv, store ? store + j : NULL, acc, ties);
        j += 8;
    }
    if (j < C) { /* the last C % 8 entries, masked (the dead lanes load as m) */
        __m256i mask = tail_mask_ps(C - j);
        __m256 live = _mm256_castsi256_ps(mask);
        v[0] = _mm256_blendv_ps(mv, _mm256_maskload_ps(x + j, mask), live);
        float out[8];
        rest_vectors_f32(v, &live, 1, mv, store ? out : NULL, acc + 2, ties + 1);
        if (store) _mm256_maskstore_ps(store + j, mask, _mm256_loadu_ps(out));
    }
    __m256d s = _mm256_add_pd(_mm256_add_pd(acc[0], acc[2]), _mm256_add_pd(acc[1], acc[3]));
    return hsum_pd(s) + (double)(hsum_epi32(_mm256_add_epi32(ties[0], ties[1])) - 1);
}

/* Kahan-compensated lanes: acc - comp is the running sum. The
 * compensation of a lane whose sum is no longer finite is dropped: it is
 * NaN or, where the add overflowed, inf, and the next add would take inf -
 * inf (a weighted sum of finite losses past the range gave NaN, not inf). */
static inline void kahan_add_pd(__m256d *acc, __m256d *comp, __m256d v) {
    __m256d y = _mm256_sub_pd(v, *comp);
    __m256d t = _mm256_add_pd(*acc, y);
    __m256d c = _mm256_sub_pd(_mm256_sub_pd(t, *acc), y);
    __m256d abs_c = _mm256_andnot_pd(_mm256_set1_pd(-0.0), c);
    *comp = _mm256_and_pd(c, _mm256_cmp_pd(abs_c, _mm256_set1_pd(INFINITY), _CMP_LT_OQ));
    *acc = t;
}

FASTCE_ALWAYS_INLINE double kahan_total(__m256d acc, __m256d comp) {
    double a[4], c[4];
    _mm256_storeu_pd(a, acc);
    _mm256_storeu_pd(c, comp);
    fastce_acc s = {0.0, 0.0};
    for (int k = 0; k < 4; k++) {
        fastce_acc_add(&s, a[k]);
        if (isfinite(a[k])) fastce_acc_add(&s, -c[k]); /* inf - inf made it NaN */
    }
    return fastce_acc_value(s);
}

/* Compensated lanes for a row's terms, which are in [0, 1] or NaN: a lane
 * never overflows, so the sum is acc + err with no guard. */
FASTCE_ALWAYS_INLINE void two_sum_add_rest(__m256d *acc, __m256d *err, __m256d v) {
    __m256d e;
    *acc = two_sum_pd(*acc, v, &e);
    *err = _mm256_add_pd(*err, e);
}


/* Four doubles of a row as rest8_f32: the terms stored (1 at a maximum)
 * when store is set, and returned except at a maximum (0 there), whose
 * lanes count in ties instead; with lo, its lanes masked the same way. */
FASTCE_ALWAYS_INLINE __m256d terms4_f64(__m256d v, __m256d ex, __m256d live, __m256d mv,
                                        double *store, __m256i *ties, __m256d *lo) {
    __m256d eq = _mm256_and_pd(_mm256_cmp_pd(v, mv, _CMP_EQ_OQ), live);
    if (store) _mm256_storeu_pd(store, _mm256_blendv_pd(ex, _mm256_set1_pd(1.0), eq));
    *ties = _mm256_sub_epi64(*ties, _mm256_castpd_si256(eq));
    if (lo) *lo = _mm256_andnot_pd(eq, _mm256_and_pd(*lo, live));
    return _mm256_andnot_pd(eq, _mm256_and_pd(ex, live));
}

/* The exps of U (1 or 2) vectors of doubles, as rest_vectors_f32 has them:
 * tame where every lane allows it (for doubles, v - m >= -708), else
 * guarded; with lo, their low parts (exp_diff_lo_pd). */
FASTCE_ALWAYS_INLINE void terms_f64(const __m256d *v, __m256d mv, __m256d *ex, const int U,
                                    __m256d *lo) {
    if (__builtin_expect(tame_lanes_pd(v, mv, U), 1)) {
        exp_diff_tame_pd(v, mv, ex, U, lo);
    } else {
        for (int u = 0; u < U; u++) ex[u] = exp_diff_lo_pd(v[u], mv, lo ? lo + u : NULL);
    }
}

/* The rest of a row as hi (returned) + *lo (vec.h's row_rest): the
 * terms' low parts go into the error lanes. */
static inline double rest_f64(const double *x, ptrdiff_t C, double m, double *store,
                              double *lo) {
    const __m256d mv = _mm256_set1_pd(m), all = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
    __m256d a0 = _mm256_setzero_pd(), e0 = a0, a1 = a0, e1 = a0;
    __m256i ties = _mm256_setzero_si256();
    __m256d v[2], ex[2], l[2] = {a0, a0};
    double unused;
    if (!lo) lo = &unused; /* (every float64 caller takes it) */
    ptrdiff_t j = 0;
    /* two vectors a step, each into compensated lanes of its own (adding
     * the two first would save three operations a vector, but that one
     * rounding took a weighted dense 10-class loss to 2.25 ulp with this
     * exp's 0.99: tests/test_accuracy_ulp.py) */
    for (; j + 8 <= C; j += 8) {
        /* two rows ahead (x + 2C): in cache when its max pass comes */
        _mm_prefetch((const char *)(x + 2 * C + j), _MM_HINT_T0);
        _mm_prefetch((const char *)(x + 2 * C + j + 4), _MM_HINT_T0);
        v[0] = _mm256_loadu_pd(x + j);
        v[1] = _mm256_loadu_pd(x + j + 4);
        terms_f64(v, mv, ex, 2, l);
        __m256d p = terms4_f64(v[0], ex[0], all, mv, store ? store + j : NULL, &ties, l);
        __m256d q = terms4_f64(v[1], ex[1], all, mv, store ? store + j + 4 : NULL, &ties, l + 1);
        two_sum_add_rest(&a0, &e0, p);
        two_sum_add_rest(&a1, &e1, q);
        e0 = _mm256_add_pd(e0, _mm256_add_pd(l[0], l[1]));
    }
    if (j + 4 <= C) {
        v[0] = _mm256_loadu_pd(x + j);
        terms_f64(v, mv, ex, 1, l);
        two_sum_add_rest(&a1, &e1,
                         terms4_f64(v[0], ex[0], all, mv, store ? store + j : NULL, &ties, l));
        e1 = _mm256_add_pd(e1, l[0]);
        j += 4;
    }
    if (j < C) { /* the last C % 4 entries, masked (the dead lanes load as m) */
        __m256i mask = tail_mask_pd(C - j);
        __m256d live = _mm256_castsi256_pd(mask);
        v[0] = _mm256_blendv_pd(mv, _mm256_maskload_pd(x + j, mask), live);
        terms_f64(v, mv, ex, 1, l);
        double out[4];
        two_sum_add_rest(&a1, &e1,
                         terms4_f64(v[0], ex[0], live, mv, store ? out : NULL, &ties, l));
        e1 = _mm256_add_pd(e1, l[0]);
        if (store) _mm256_maskstore_pd(store + j, mask, _mm256_loadu_pd(out));
    }
    long long t[4];
    _mm256_storeu_si256((__m256i *)t, ties);
    const double tie_count = (double)(t[0] + t[1] + t[2] + t[3] - 1);
    double a[8], e[8];
    _mm256_storeu_pd(a, a0);
    _mm256_storeu_pd(a + 4, a1);
    _mm256_storeu_pd(e, e0);
    _mm256_storeu_pd(e + 4, e1);
    fastce_acc s = fastce_lanes_acc(a, e, 8);
    return fastce_rest_dd(s.s, s.c, tie_count, lo);
}

static double row_rest_f32(const float *x, ptrdiff_t C, double m, double *lo) {
    (void)lo;
    return rest_f32(x, C, m, NULL);
}
static double row_rest_f64(const double *x, ptrdiff_t C, double m, double *lo) {
    return rest_f64(x, C, m, NULL, lo);
}
static double row_rest_store_f32(const float *x, ptrdiff_t C, double m, float *e, double *lo) {
    (void)lo;
    return rest_f32(x, C, m, e);
}
static double row_rest_store_f64(const double *x, ptrdiff_t C, double m, double *e,
                                 double *lo) {
    return rest_f64(x, C, m, e, lo);
}

/* --------------------------------------------------------- sigmoid CE */

/* Four elements in double lanes, exactly as fastce_sigmoid_ce_one
 * (internal.h) with exp_pd and log1p_pd: the path of the elements whose
 * logit is NaN, infinite or beyond +-SIGMOID_FAST_MAX, where the
 * zero-coefficient rule and NaN propagation matter. */
FASTCE_ALWAYS_INLINE __m256d sigmoid_ce4_general(__m256d x, __m256d z, __m256d w, __m256d q,
                                                 int want_grad, __m256d *grad) {
    const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0);
    __m256d a = _mm256_andnot_pd(_mm256_set1_pd(-0.0), x);
    __m256d e = fastce_exp_pd(_mm256_sub_pd(zero, a));
    __m256d tail = fastce_log1p_pd(e);
    __m256d sp_pos = _mm256_add_pd(_mm256_max_pd(x, zero), tail);
    __m256d sp_neg = _mm256_add_pd(_mm256_max_pd(_mm256_sub_pd(zero, x), zero), tail);
    __m256d c_neg = _mm256_mul_pd(q, z), c_pos = _mm256_sub_pd(one, z);
    /* a zero coefficient contributes 0 even against an infinite softplus */
    __m256d z_neg = _mm256_cmp_pd(c_neg, zero, _CMP_EQ_OQ), z_pos = _mm256_cmp_pd(c_pos, zero, _CMP_EQ_OQ);
    __m256d t_neg = _mm256_andnot_pd(z_neg, _mm256_mul_pd(c_neg, sp_neg));
    __m256d t_pos = _mm256_andnot_pd(z_pos, _mm256_mul_pd(c_pos, sp_pos));
    /* a NaN x makes tail, hence both softplus terms, NaN (like the scalar
     * path); a zero coefficient still drops its term */
    __m256d l = _mm256_mul_pd(w, _mm256_add_pd(t_neg, t_pos));
    if (want_grad) {
        __m256d big = _mm256_div_pd(one, _mm256_add_pd(one, e));
        __m256d small = _mm256_mul_pd(e, big);
        __m256d pos = _mm256_cmp_pd(x, zero, _CMP_GE_OQ);
        __m256d sig_pos = _mm256_blendv_pd(small, big, pos);
        __m256d sig_neg = _mm256_blendv_pd(big, small, pos);
        /* and in the gradient (0 for two zero coefficients, NaN x too) */
        __m256d g = _mm256_sub_pd(_mm256_andnot_pd(z_pos, _mm256_mul_pd(c_pos, sig_pos)),
                                  _mm256_andnot_pd(z_neg, _mm256_mul_pd(c_neg, sig_neg)));
        *grad = _mm256_mul_pd(w, g);
    }
    return l;
}

/* The domain of exp24_pd and exp_dd_pd: |x| up to this takes the fast path. */
#define SIGMOID_FAST_MAX 708.0

/* Four elements with finite |x| <= SIGMOID_FAST_MAX, given t = -|x|,
 * e = exp(t) and tail = log1p(e). With c the coefficient of |x|'s side
 * (c_pos for x >= 0, c_neg for x < 0):
 *   loss = w * ((c_neg + c_pos)*tail + c*|x|),   both terms >= 0;
 *   grad = w * (c_pos - c_neg*e) / (1 + e)   (x >= 0),
 *          w * (c_pos*e - c_neg) / (1 + e)   (x < 0),
 * the difference of the two sigmoid terms formed by one FMA, then one
 * division. Finite softplus values need no zero-coefficient rule: 0 * finite
 * is already 0. The blends on x's sign treat -0 as negative, where both
 * forms agree (e = 1). */
FASTCE_ALWAYS_INLINE __m256d sigmoid_ce4_fast(__m256d x, __m256d t, __m256d e, __m256d tail,
                                              __m256d z, __m256d w, __m256d q,
                                              int want_grad, __m256d *grad) {
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d c_neg = _mm256_mul_pd(q, z), c_pos = _mm256_sub_pd(one, z);
    __m256d c = _mm256_blendv_pd(c_pos, c_neg, x);
    __m256d l = _mm256_fmsub_pd(_mm256_add_pd(c_neg, c_pos), tail, _mm256_mul_pd(c, t));
    if (want_grad) {
        __m256d num = _mm256_blendv_pd(_mm256_fnmadd_pd(c_neg, e, c_pos),
                                       _mm256_fmsub_pd(c_pos, e, c_neg), x);
        *grad = _mm256_mul_pd(w, _mm256_div_pd(num, _mm256_add_pd(one, e)));
    }
    return _mm256_mul_pd(w, l);
}

/* e = exp(t) and the softplus tail log1p(e), t = -|x| in [-708, 0]. The
 * float kernel rounds a loss computed in double to float once, so 2^-31
 * relative error in tail costs it at most 0.01 ulp: exp24 and log1p24. The
 * double kernel carries e as hi + lo into a log1p that keeps the rounding
 * error of its division: tail within 0.66 ulp for |x| <= 700 (measured;
 * 1.5 ulp towards 708, where lo is subnormal), against 1.5 to 2.2 ulp with
 * exp_pd and log1p_pd. */
FASTCE_ALWAYS_INLINE __m256d sigmoid_tail4_f32(__m256d t, __m256d *e) {
    *e = fastce_exp24_pd(t);
    return fastce_log1p24_pd(*e);
}
FASTCE_ALWAYS_INLINE __m256d sigmoid_tail4_f64(__m256d t, __m256d *e) {
    __m256d lo;
    *e = fastce_exp_dd_pd(t, &lo);
    return fastce_log1p_dd_pd(*e, lo);
}

FASTCE_ALWAYS_INLINE __m256d sigmoid_fast4_f32(__m256d x, __m256d z, __m256d w, __m256d q,
                                               int want_grad, __m256d *grad) {
    __m256d t = _mm256_or_pd(_mm256_set1_pd(-0.0), x), e;
    __m256d tail = sigmoid_tail4_f32(t, &e);
    return sigmoid_ce4_fast(x, t, e, tail, z, w, q, want_grad, grad);
}
/* Double-double lanes: the error-free product (FMA; the sum is two_sum_pd). */
FASTCE_ALWAYS_INLINE __m256d two_prod_pd(__m256d a, __m256d b, __m256d *err) {
    __m256d p = _mm256_mul_pd(a, b);
    *err = _mm256_fmsub_pd(a, b, p);
    return p;
}
/* All ones where v is finite and not zero: the lanes whose double-double
 * loss replaces the plain one. An infinite weight or an overflow makes the
 * error terms inf - inf; a zero loss takes the plain form's sign (-0 for a
 * weight of -0), as the scalar kernels and fastce.reference do. */
FASTCE_ALWAYS_INLINE __m256d nonzero_finite_pd(__m256d v) {
    __m256d a = _mm256_andnot_pd(_mm256_set1_pd(-0.0), v);
    return _mm256_and_pd(_mm256_cmp_pd(a, _mm256_set1_pd(INFINITY), _CMP_LT_OQ),
                         _mm256_cmp_pd(a, _mm256_setzero_pd(), _CMP_GT_OQ));
}

/* The float64 loss w * ((c_neg + c_pos)*tail + c*|x|) rounded once: the
 * coefficients q*z and 1-z, their sum, the products and the weight carried
 * as hi + lo (in double they round five times: up to 3 ulp with weights and
 * soft targets), so that only tail's own error remains (see
 * sigmoid_tail4_f64). Finite operands and results only: the caller keeps
 * the plain loss where this one is not finite. */
FASTCE_ALWAYS_INLINE __m256d sigmoid_loss4_dd(__m256d x, __m256d tail, __m256d z,
                                              __m256d w, __m256d q) {
    __m256d cn_lo, cp_lo, s_lo, a_lo, b_lo, l_lo, p_lo;
    __m256d ax = _mm256_andnot_pd(_mm256_set1_pd(-0.0), x);
    __m256d cn = two_prod_pd(q, z, &cn_lo);
    __m256d cp = two_sum_pd(_mm256_set1_pd(1.0), _mm256_sub_pd(_mm256_setzero_pd(), z), &cp_lo);
    __m256d sum = two_sum_pd(cn, cp, &s_lo);
    s_lo = _mm256_add_pd(s_lo, _mm256_add_pd(cn_lo, cp_lo));
    __m256d a = two_prod_pd(sum, tail, &a_lo);
    a_lo = _mm256_fmadd_pd(s_lo, tail, a_lo);
    __m256d c = _mm256_blendv_pd(cp, cn, x), c_lo = _mm256_blendv_pd(cp_lo, cn_lo, x);
    __m256d b = two_prod_pd(c, ax, &b_lo);
    b_lo = _mm256_fmadd_pd(c_lo, ax, b_lo);
    __m256d l = two_sum_pd(a, b, &l_lo);
    l_lo = _mm256_add_pd(l_lo, _mm256_add_pd(a_lo, b_lo));
    __m256d p = two_prod_pd(w, l, &p_lo);
    return _mm256_add_pd(p, _mm256_fmadd_pd(w, l_lo, p_lo));
}

FASTCE_ALWAYS_INLINE __m256d sigmoid_fast4_f64(__m256d x, __m256d z, __m256d w, __m256d q,
                                               int want_grad, __m256d *grad) {
    __m256d t = _mm256_or_pd(_mm256_set1_pd(-0.0), x), e;
    __m256d tail = sigmoid_tail4_f64(t, &e);
    __m256d plain = sigmoid_ce4_fast(x, t, e, tail, z, w, q, want_grad, grad);
    __m256d precise = sigmoid_loss4_dd(x, tail, z, w, q);
    return _mm256_blendv_pd(plain, precise, nonzero_finite_pd(precise));
}

/* Four elements as double lanes, and eight results back. */
static inline __m256d load4_f32(const float *p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
static inline __m256d load4_f64(const double *p) { return _mm256_loadu_pd(p); }
static inline void store8_f32(float *p, __m256d lo, __m256d hi) {
    _mm256_storeu_ps(p, _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo)));
}
static inline void store8_f64(double *p, __m256d lo, __m256d hi) {
    _mm256_storeu_pd(p, lo);
    _mm256_storeu_pd(p + 4, hi);
}

/* Whether all of x[0..8) may take the fast path (NaN may not). */
static inline int all_fast8_f32(const float *x) {
    __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_loadu_ps(x));
    return _mm256_movemask_ps(_mm256_cmp_ps(a, _mm256_set1_ps((float)SIGMOID_FAST_MAX),
                                            _CMP_LE_OQ)) == 0xff;
}
static inline int all_fast8_f64(const double *x) {
    const __m256d lim = _mm256_set1_pd(SIGMOID_FAST_MAX), sign = _mm256_set1_pd(-0.0);
    __m256d f0 = _mm256_cmp_pd(_mm256_andnot_pd(sign, _mm256_loadu_pd(x)), lim, _CMP_LE_OQ);
    __m256d f1 = _mm256_cmp_pd(_mm256_andnot_pd(sign, _mm256_loadu_pd(x + 4)), lim, _CMP_LE_OQ);
    return _mm256_movemask_pd(_mm256_and_pd(f0, f1)) == 0xf;
}

/* sigmoid8_<SUF>: eight elements (w, q NULL for all ones; loss, grad NULL
 * when not wanted), every input read before any output is written (grad may
 * be x). Returns the losses of elements 0..3 and stores those of 4..7 in
 * *l_hi. A group with a logit off the fast path takes the fast path for
 * its other lanes (the same bits as in any group) and the general one,
 * blended in, for those. */
#define FASTCE_SIGMOID8(SUF, TYPE)                                                      \
    FASTCE_ALWAYS_INLINE __m256d sigmoid8_fast_##SUF(const TYPE *x, const TYPE *z,      \
                                                     const TYPE *w, const TYPE *q,      \
                                                     TYPE *loss, TYPE *grad, __m256d gs, \
                                                     __m256d *l_hi) {                   \
        const __m256d one = _mm256_set1_pd(1.0);                                        \
        __m256d x0 = load4_##SUF(x), x1 = load4_##SUF(x + 4);                           \
        __m256d z0 = load4_##SUF(z), z1 = load4_##SUF(z + 4);                           \
        __m256d w0 = w ? load4_##SUF(w) : one, w1 = w ? load4_##SUF(w + 4) : one;       \
        __m256d q0 = q ? load4_##SUF(q) : one, q1 = q ? load4_##SUF(q + 4) : one;       \
        __m256d g0, g1;                                                                 \
        __m256d l0 = sigmoid_fast4_##SUF(x0, z0, w0, q0, grad != NULL, &g0);            \
        __m256d l1 = sigmoid_fast4_##SUF(x1, z1, w1, q1, grad != NULL, &g1);            \
        if (loss) store8_##SUF(loss, l0, l1);                                           \
        if (grad) store8_##SUF(grad, _mm256_mul_pd(gs, g0), _mm256_mul_pd(gs, g1));     \
        *l_hi = l1;                                                                     \
        return l0;                                                                      \
    }                                                                                   \
                                                                                        \
    FASTCE_ALWAYS_INLINE __m256d sigmoid8_mixed_##SUF(const TYPE *x, const TYPE *z,     \
                                                      const TYPE *w, const TYPE *q,     \
                                                      TYPE *loss, TYPE *grad,           \
                                                      __m256d gs, __m256d *l_hi) {      \
        const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0);            \
        __m256d l[2], g[2];                                                             \
        for (int h = 0; h < 2; h++) {                                                   \
            __m256d xh = load4_##SUF(x + 4 * h), zh = load4_##SUF(z + 4 * h);           \
            __m256d wh = w ? load4_##SUF(w + 4 * h) : one;                              \
            __m256d qh = q ? load4_##SUF(q + 4 * h) : one;                              \
            __m256d fast = _mm256_cmp_pd(_mm256_andnot_pd(_mm256_set1_pd(-0.0), xh),    \
                                         _mm256_set1_pd(SIGMOID_FAST_MAX), _CMP_LE_OQ); \
            __m256d g_fast = _mm256_setzero_pd(), g_general = g_fast;                   \
            __m256d l_fast = sigmoid_fast4_##SUF(_mm256_blendv_pd(zero, xh, fast), zh,  \
                                                 wh, qh, grad != NULL, &g_fast);        \
            __m256d l_general = sigmoid_ce4_general(xh, zh, wh, qh, grad != NULL,       \
                                                    &g_general);                        \
            l[h] = _mm256_blendv_pd(l_general, l_fast, fast);                           \
            g[h] = _mm256_mul_pd(gs, _mm256_blendv_pd(g_general, g_fast, fast));        \
        }                                                                               \
        if (loss) store8_##SUF(loss, l[0], l[1]);                                       \
        if (grad) store8_##SUF(grad, g[0], g[1]);                                       \
        *l_hi = l[1];                                                                   \
        return l[0];                                                                    \
    }                                                                                   \
                                                                                        \
    FASTCE_ALWAYS_INLINE __m256d sigmoid8_##SUF(const TYPE *x, const TYPE *z,           \
                                                const TYPE *w, const TYPE *q,           \
                                                TYPE *loss, TYPE *grad, __m256d gs,     \
                                                __m256d *l_hi) {                        \
        return all_fast8_##SUF(x) ? sigmoid8_fast_##SUF(x, z, w, q, loss, grad, gs, l_hi) \
                                  : sigmoid8_mixed_##SUF(x, z, w, q, loss, grad, gs, l_hi); \
    }

FASTCE_SIGMOID8(f32, float)
FASTCE_SIGMOID8(f64, double)

/* The loop over n elements, eight at a time; the last n % 8 go through the
 * same code, padded with w = 0 (a loss of exactly 0). Losses are summed in
 * Kahan-compensated double lanes: the float kernel adds the pair l0 + l1
 * first (one rounding of two terms that each carry one already, which does
 * not grow with n), the double kernel keeps two sums. */
#define FASTCE_SIGMOID_LOOP(SUF, PAIRED, W, Q)                                          \
    for (; i <= n - 8; i += 8) {                                                        \
        l0 = sigmoid8_##SUF(x + i, z + i, W, Q, loss ? loss + i : NULL,                 \
                            grad ? grad + i : NULL, gs, &l1);                           \
        if (PAIRED) {                                                                   \
            kahan_add_pd(&acc0, &comp0, _mm256_add_pd(l0, l1));                         \
        } else {                                                                        \
            kahan_add_pd(&acc0, &comp0, l0);                                            \
            kahan_add_pd(&acc1, &comp1, l1);                                            \
        }                                                                               \
    }

#define FASTCE_SIGMOID_AVX2(SUF, TYPE, PAIRED)                                          \
    static double sigmoid_ce_##SUF(const TYPE *x, const TYPE *z, const TYPE *w,         \
                                   const TYPE *q, ptrdiff_t n, TYPE *loss,             \
                                   TYPE *grad, double grad_scale) {                    \
        const __m256d gs = _mm256_set1_pd(grad_scale);                                  \
        __m256d acc0 = _mm256_setzero_pd(), comp0 = acc0, acc1 = acc0, comp1 = acc0;    \
        __m256d l0, l1;                                                                 \
        ptrdiff_t i = 0;                                                                \
        if (!w && !q) /* the common case, with the multiplications by 1 gone */         \
            FASTCE_SIGMOID_LOOP(SUF, PAIRED, NULL, NULL)                                \
        else                                                                            \
            FASTCE_SIGMOID_LOOP(SUF, PAIRED, w ? w + i : NULL, q ? q + i : NULL)        \
        if (i < n) {                                                                    \
            TYPE xb[8] = {0}, zb[8] = {0}, wb[8] = {0}, qb[8] = {0}, lb[8], gb[8];      \
            ptrdiff_t r = n - i;                                                        \
            for (ptrdiff_t k = 0; k < r; k++) {                                         \
                xb[k] = x[i + k];                                                       \
                zb[k] = z[i + k];                                                       \
                wb[k] = w ? w[i + k] : (TYPE)1;                                         \
                qb[k] = q ? q[i + k] : (TYPE)1;                                         \
            }                                                                           \
            l0 = sigmoid8_##SUF(xb, zb, wb, qb, lb, grad ? gb : NULL, gs, &l1);         \
            for (ptrdiff_t k = 0; k < r; k++) {                                         \
                if (loss) loss[i + k] = lb[k];                                          \
                if (grad) grad[i + k] = gb[k];                                          \
            }                                                                           \
            kahan_add_pd(&acc0, &comp0, l0);                                            \
            kahan_add_pd(&acc1, &comp1, l1);                                            \
        }                                                                               \
        fastce_acc s = {kahan_total(acc0, comp0), 0.0};                                 \
        fastce_acc_add(&s, kahan_total(acc1, comp1));                                   \
        return fastce_acc_value(s);                                                     \
    }

FASTCE_SIGMOID_AVX2(f32, float, 1)
FASTCE_SIGMOID_AVX2(f64, double, 0)

#define LOAD4_F32(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define STORE4_F32(p, v) _mm_storeu_ps((p), _mm256_cvtpd_ps(v))

/* ------------------------------------ logs of the probability losses */

/* The exponent of positive normal lanes as doubles (k) and their
 * significands as f in [sqrt(1/2), sqrt(2)) (k adjusted), as fastce_log_pd
 * splits them. */
FASTCE_ALWAYS_INLINE __m256d log_split_normal_pd(__m256d x, __m256d *k) {
    __m256i bits = _mm256_castpd_si256(x);
    __m128i e32 = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(
        _mm256_srli_epi64(bits, 52), _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6)));
    *k = _mm256_sub_pd(_mm256_cvtepi32_pd(e32), _mm256_set1_pd(1023.0));
    return fastce_log_split_pd(bits, k);
}

/* k ln2 + log1p(u) (u exact, in [sqrt(1/2) - 1, sqrt(2) - 1]), the
 * probability losses' log: to double accuracy, or float24 to float
 * accuracy (fastce_log1p24_pd's relative error < 2^-31, at most doubled by
 * the sum: < 2^-30; the float kernels' losses are rounded to float once). */
FASTCE_ALWAYS_INLINE __m256d prob_log_ku_pd(__m256d k, __m256d u, int float24) {
    if (float24)
        return _mm256_fmadd_pd(k, _mm256_set1_pd(6.93147180559945286e-01), fastce_log1p24_pd(u));
    return fastce_log_ku_pd(k, u);
}

/* ---------------------------------------------------------- binary CE */

/* log(1 - pc) for a clipped probability pc in (0, 1] (binary_ce4's clip
 * never gives NaN; it puts a NaN p in the results itself) by one exact
 * reduction 1 - pc = 2^k (1 + u), u in [sqrt(1/2) - 1, sqrt(2) - 1], read
 * off pc itself where 1 - pc would round: u = -pc (k = 0) for
 * pc <= 1 - sqrt(1/2), u = 1 - 2 pc (k = -1, exact by Sterbenz) up to
 * pc = 1/2; above, v = 1 - pc is exact and split as usual (the AVX-512
 * kernel's scheme). No cancellation and no correction term: within
 * fastce_log_pd's 0.85 ulp, where log1p(-pc) (fastce_log1p_pd, which adds
 * the rounding error of 1 - pc back as a quotient) measured 1.22. Returns
 * u and sets *k; v = 0 (pc = 1, a clip bound that rounds to 1) is the
 * caller's -inf. */
FASTCE_ALWAYS_INLINE __m256d log1m_ku_pd(__m256d pc, __m256d v, __m256d *k) {
    const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0);
    __m256d u = _mm256_sub_pd(log_split_normal_pd(v, k), one);
    __m256d below_half = _mm256_cmp_pd(pc, _mm256_set1_pd(0.5), _CMP_LT_OQ);
    __m256d near_half = _mm256_and_pd(below_half, _mm256_cmp_pd(pc, _mm256_set1_pd(0.29289321881345248),
                                                                _CMP_GT_OQ));
    u = _mm256_blendv_pd(u, _mm256_sub_pd(zero, pc), below_half);
    *k = _mm256_blendv_pd(*k, zero, below_half);
    u = _mm256_blendv_pd(u, _mm256_fnmadd_pd(pc, _mm256_set1_pd(2.0), one), near_half);
    *k = _mm256_blendv_pd(*k, _mm256_set1_pd(-1.0), near_half);
    return u;
}

/* Four elements in double lanes (see fastce_binary_ce_one in internal.h):
 * log(pc) and log1p(-pc) from one split each (log_split_normal_pd,
 * log1m_ku_pd), and where every lane has a hard target (z = 0 or 1) only
 * the log its term needs, from that term's (k, u): the other term is
 * exactly 0 either way. A vector with a subnormal pc (a subnormal eps)
 * takes both logs, that lane's log(pc) from fastce_log_pd.
 * precise (the float64 kernel): a soft target's loss rounded once, as
 * fastce_binary_ce_loss_dd and the AVX-512 kernel's binary_ce8 assemble it:
 * 1 - z, both products, their sum and the weight carried as hi + lo, so
 * that only the logs' errors remain (in double the loss rounds up to five
 * times: 2.5 ulp measured with weights). Where that is not finite (an
 * infinite log or weight, a NaN) the plain loss stands; with z in {0, 1}
 * both round once to the same value. The float kernel (!precise) takes
 * float-accuracy logs, rounds a loss computed in double to float once and
 * keeps the plain one. */
FASTCE_ALWAYS_INLINE __m256d binary_ce4(__m256d p, __m256d z, __m256d w, __m256d lo,
                                        __m256d hi, int precise, __m256d *grad) {
    const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0);
    const __m256d ninf = _mm256_set1_pd(-INFINITY);
    /* -w by its sign bit: 0 - w would give +0 for w = +0 too, and a zero
     * loss the sign of -w * (negative sum), as the scalar kernels give it */
    const __m256d nw = _mm256_xor_pd(w, _mm256_set1_pd(-0.0));
    __m256d nan_p = _mm256_cmp_pd(p, p, _CMP_UNORD_Q);
    __m256d pc = _mm256_min_pd(_mm256_max_pd(p, lo), hi);
    __m256d cz = z, cnz = _mm256_sub_pd(one, z);
    __m256d v = _mm256_sub_pd(one, pc), v0 = _mm256_cmp_pd(v, zero, _CMP_EQ_OQ);
    if (grad) {
        /* one quotient, as fastce_binary_ce_one (internal.h) says why */
        __m256d g = _mm256_div_pd(_mm256_sub_pd(pc, z), _mm256_mul_pd(pc, v));
        *grad = _mm256_blendv_pd(_mm256_mul_pd(w, g), p, nan_p);
    }
    __m256d ka, kb;
    __m256d ua = _mm256_sub_pd(log_split_normal_pd(pc, &ka), one);
    __m256d ub = log1m_ku_pd(pc, v, &kb);
    __m256d tiny = _mm256_cmp_pd(pc, _mm256_set1_pd(2.2250738585072014e-308), _CMP_LT_OQ);
    int any_tiny = _mm256_movemask_pd(tiny);
    __m256d z1 = _mm256_cmp_pd(z, one, _CMP_EQ_OQ);
    __m256d hard = _mm256_or_pd(z1, _mm256_cmp_pd(z, zero, _CMP_EQ_OQ));
    if (!any_tiny && _mm256_movemask_pd(hard) == 0xf) {
        __m256d lg = prob_log_ku_pd(_mm256_blendv_pd(kb, ka, z1),
                                      _mm256_blendv_pd(ub, ua, z1), !precise);
        lg = _mm256_blendv_pd(lg, ninf, _mm256_andnot_pd(z1, v0));
        __m256d l = _mm256_mul_pd(nw, _mm256_add_pd(lg, zero));
        return _mm256_blendv_pd(l, p, nan_p);
    }
    __m256d la = prob_log_ku_pd(ka, ua, !precise);
    /* a subnormal pc's split above is wrong: its lane takes fastce_log_pd
     * (the others keep theirs, so no loss depends on its neighbours) */
    if (any_tiny) la = _mm256_blendv_pd(la, fastce_log_pd(pc), tiny);
    __m256d lb = _mm256_blendv_pd(prob_log_ku_pd(kb, ub, !precise), ninf, v0);
    __m256d t1 = _mm256_andnot_pd(_mm256_cmp_pd(cz, zero, _CMP_EQ_OQ), _mm256_mul_pd(cz, la));
    __m256d t2 = _mm256_andnot_pd(_mm256_cmp_pd(cnz, zero, _CMP_EQ_OQ), _mm256_mul_pd(cnz, lb));
    __m256d l = _mm256_mul_pd(nw, _mm256_add_pd(t1, t2));
    /* max_pd(p, lo) clipped a NaN p to lo: p itself goes in its place */
    if (!precise) return _mm256_blendv_pd(l, p, nan_p);
    __m256d soft = _mm256_and_pd(_mm256_cmp_pd(z, zero, _CMP_NEQ_UQ),
                                 _mm256_cmp_pd(z, one, _CMP_NEQ_UQ));
    if (!_mm256_movemask_pd(soft)) return _mm256_blendv_pd(l, p, nan_p);
    __m256d cnz_lo, a_lo, b_lo, s_lo, p_lo;
    cnz = two_sum_pd(one, _mm256_sub_pd(zero, z), &cnz_lo);
    __m256d a = two_prod_pd(cz, la, &a_lo);
    __m256d b = two_prod_pd(cnz, lb, &b_lo);
    b_lo = _mm256_fmadd_pd(cnz_lo, lb, b_lo);
    __m256d sum = two_sum_pd(a, b, &s_lo);
    s_lo = _mm256_add_pd(s_lo, _mm256_add_pd(a_lo, b_lo));
    __m256d pr = two_prod_pd(nw, sum, &p_lo);
    __m256d l2 = _mm256_add_pd(pr, _mm256_fmadd_pd(nw, s_lo, p_lo));
    /* only soft lanes: a hard one's plain loss is rounded once already */
    __m256d use = _mm256_and_pd(soft, nonzero_finite_pd(l2));
    return _mm256_blendv_pd(_mm256_blendv_pd(l, l2, use), p, nan_p);
}

#define FASTCE_BINARY_AVX2(SUF, TYPE, PRECISE, LOAD4, STORE4)                               \
    static double binary_ce_##SUF(const TYPE *p, const TYPE *z, const TYPE *w,           \
                                  ptrdiff_t n, double lo, double hi, TYPE *loss,         \
                                  TYPE *grad, double grad_scale) {                       \
        const __m256d one = _mm256_set1_pd(1.0), gs = _mm256_set1_pd(grad_scale);         \
        const __m256d lov = _mm256_set1_pd(lo), hiv = _mm256_set1_pd(hi);                \
        __m256d acc = _mm256_setzero_pd(), comp = acc;                                   \
        ptrdiff_t i = 0;                                                                 \
        for (; i + 4 <= n; i += 4) {                                                     \
            __m256d g;                                                                   \
            __m256d l = binary_ce4(LOAD4(p + i), LOAD4(z + i), w ? LOAD4(w + i) : one,     \
                                   lov, hiv, PRECISE, grad ? &g : NULL);                 \
            if (loss) STORE4(loss + i, l);                                               \
            if (grad) STORE4(grad + i, _mm256_mul_pd(gs, g));                            \
            kahan_add_pd(&acc, &comp, l);                                                \
        }                                                                                \
        fastce_acc rest = {kahan_total(acc, comp), 0.0};                                 \
        for (; i < n; i++) {                                                             \
            double l, g;                                                                 \
            fastce_binary_ce_one((double)p[i], (double)z[i], w ? (double)w[i] : 1.0, lo,  \
                                 hi, PRECISE, &l, grad ? &g : NULL);                     \
            if (loss) loss[i] = (TYPE)l;                                                 \
            if (grad) grad[i] = (TYPE)(grad_scale * g);                                  \
            fastce_acc_add(&rest, l);                                                    \
        }                                                                                \
        return fastce_acc_value(rest);                                                   \
    }

FASTCE_BINARY_AVX2(f32, float, 0, LOAD4_F32, STORE4_F32)
FASTCE_BINARY_AVX2(f64, double, 1, _mm256_loadu_pd, _mm256_storeu_pd)

/* ----------------------------------------------------- categorical CE */

/* log(x) to float accuracy, double lanes (relative error < 2^-30): for
 * float rows, whose terms are rounded to float once (see fastce_log1p24_pd
 * and the sigmoid float kernels). x must be a positive normal double (a
 * clipped probability, lo > 0) or NaN (giving NaN). x = 2^k f, f in
 * [sqrt(1/2), sqrt(2)), log x = k ln2 + log1p(f - 1), f - 1 exact; |log f|
 * <= |k ln2| / 2, so the sum at most doubles log1p's relative error. */
FASTCE_ALWAYS_INLINE __m256d categorical_log24_pd(__m256d x) {
    const __m256d one = _mm256_set1_pd(1.0);
    /* a subnormal lane (a subnormal eps clips to it): the general log */
    if (_mm256_movemask_pd(_mm256_cmp_pd(x, _mm256_set1_pd(2.2250738585072014e-308), _CMP_LT_OQ)))
        return fastce_log_pd(x);
    __m256d k;
    __m256d u = _mm256_sub_pd(log_split_normal_pd(x, &k), one);
    return _mm256_blendv_pd(prob_log_ku_pd(k, u, 1), x, _mm256_cmp_pd(x, x, _CMP_UNORD_Q));
}

/* log(x) for a clipped probability x (0 < lo <= x <= hi < 1) or NaN,
 * double lanes: fastce_log_pd's formula (fastce_log_ku_pd: 0.85 ulp, R only
 * enters a correction term) after a reduction in integer steps, and no
 * special values but NaN. A vector with a subnormal lane (a subnormal eps)
 * goes to fastce_log_pd. */
FASTCE_ALWAYS_INLINE __m256d categorical_log_pd(__m256d w) {
    if (_mm256_movemask_pd(_mm256_cmp_pd(w, _mm256_set1_pd(2.2250738585072014e-308),
                                         _CMP_LT_OQ)))
        return fastce_log_pd(w);
    const __m256d one = _mm256_set1_pd(1.0);
    /* x = 2^k f, f in [sqrt(1/2), sqrt(2)), in integer steps (musl's log):
     * tmp = bits - bits(sqrt(1/2)) holds k in its top 12 bits (two's
     * complement), f = bits - (k << 52); k + 1024 = (tmp + 2^62) >> 52
     * becomes a double by the 2^52 trick. */
    __m256i bits = _mm256_castpd_si256(w);
    __m256i tmp = _mm256_sub_epi64(bits, _mm256_set1_epi64x(0x3fe6a09e667f3bcdLL));
    __m256d f = _mm256_castsi256_pd(_mm256_sub_epi64(
        bits, _mm256_and_si256(tmp, _mm256_set1_epi64x((long long)0xfff0000000000000ULL))));
    __m256i kb = _mm256_srli_epi64(_mm256_add_epi64(tmp, _mm256_set1_epi64x(0x4000000000000000LL)), 52);
    __m256d k = _mm256_sub_pd(
        _mm256_castsi256_pd(_mm256_or_si256(kb, _mm256_set1_epi64x(0x4330000000000000LL))),
        _mm256_set1_pd(4503599627371520.0)); /* 2^52 + 1024 */
    __m256d lg = fastce_log_ku_pd(k, _mm256_sub_pd(f, one));
    return _mm256_blendv_pd(lg, w, _mm256_cmp_pd(w, w, _CMP_UNORD_Q));
}

/* Four terms t*log(clip(p)) of a categorical row (0 where t == 0, even for
 * a NaN p) and, when want_grad, -a*t/clip(p) (0 where t == 0), rounded as
 * fastce_term and categorical_dense_block round them; log24 picks the
 * float-accuracy log (float rows). max_pd and min_pd return their second
 * operand when one is NaN, so with p second a NaN p stays NaN, as in
 * fastce_clip. Double rows (!log24) also get each product's rounding error
 * in *term_lo (TwoProduct: t*lg = term + *term_lo exactly; 0 where
 * t == 0), as fastce_cat_term_add keeps it. */
FASTCE_ALWAYS_INLINE __m256d categorical4(__m256d p, __m256d t, __m256d lo, __m256d hi,
                                          __m256d neg_a, int log24, int want_grad,
                                          __m256d *grad, __m256d *term_lo) {
    __m256d pc = _mm256_min_pd(hi, _mm256_max_pd(lo, p));
    __m256d t0 = _mm256_cmp_pd(t, _mm256_setzero_pd(), _CMP_EQ_OQ);
    if (want_grad)
        *grad = _mm256_andnot_pd(t0, _mm256_div_pd(_mm256_mul_pd(neg_a, t), pc));
    __m256d lg = log24 ? categorical_log24_pd(pc) : categorical_log_pd(pc);
    __m256d term = _mm256_mul_pd(t, lg);
    if (!log24) *term_lo = _mm256_andnot_pd(t0, _mm256_fmsub_pd(t, lg, term));
    return _mm256_andnot_pd(t0, term);
}

/* Compensated lanes, the loop-carried chain one add long: *acc += v and
 * the rounding error of that add (TwoSum, off the chain) into *err; the
 * error is dropped when a lane's sum is not finite (it would be NaN). The
 * sum is acc + err. (Kahan's update carries four dependent adds from one
 * step to the next: measured a third slower here.) */
FASTCE_ALWAYS_INLINE void two_sum_add_pd(__m256d *acc, __m256d *err, __m256d v) {
    __m256d e, s = two_sum_pd(*acc, v, &e);
    __m256d fin = _mm256_cmp_pd(_mm256_andnot_pd(_mm256_set1_pd(-0.0), s),
                                _mm256_set1_pd(INFINITY), _CMP_LT_OQ);
    *err = _mm256_add_pd(*err, _mm256_and_pd(e, fin));
    *acc = s;
}

/* A float row's terms carry relative errors near 2^-30 and its loss
 * rounds to float: plain double lanes suffice there (C * 2^-53 << 2^-24),
 * and the compensation would cost a fifth of the loop. Double rows are
 * compensated, and their terms' product errors v_lo go with the sums'
 * rounding errors. (A lane whose term is not finite may make err NaN; its
 * sum is then not finite either, and categorical_total returns that.) */
FASTCE_ALWAYS_INLINE void row_add_pd(__m256d *acc, __m256d *err, __m256d v, __m256d v_lo,
                                     int plain) {
    if (plain) {
        *acc = _mm256_add_pd(*acc, v);
    } else {
        two_sum_add_pd(acc, err, v);
        *err = _mm256_add_pd(*err, v_lo);
    }
}

/* The row's two compensated lane sets as one double-double hi + lo: lane
 * sums by TwoSum, then the halves and the pair by TwoSum, every rounding
 * error and correction added at the end (branch-free: a short row must
 * not pay for a scalar compensated loop). A sum that is not finite is
 * returned as it is (lo = 0); when it is finite, so is every lane and
 * correction. */
static inline fastce_dd categorical_total(__m256d acc0, __m256d comp0, __m256d acc1,
                                          __m256d comp1) {
    __m256d s = _mm256_add_pd(acc0, acc1);
    double plain = hsum_pd(s);
    if (!isfinite(plain)) return fastce_dd_of(plain);
    __m256d bp = _mm256_sub_pd(s, acc0);
    __m256d err = _mm256_add_pd(_mm256_sub_pd(acc0, _mm256_sub_pd(s, bp)),
                                _mm256_sub_pd(acc1, bp));
    __m256d c = _mm256_add_pd(err, _mm256_add_pd(comp0, comp1));
    __m128d a = _mm256_castpd256_pd128(s), b = _mm256_extractf128_pd(s, 1);
    __m128d s2 = _mm_add_pd(a, b), bp2 = _mm_sub_pd(s2, a);
    __m128d c2 = _mm_add_pd(_mm_add_pd(_mm_sub_pd(a, _mm_sub_pd(s2, bp2)), _mm_sub_pd(b, bp2)),
                            _mm_add_pd(_mm256_castpd256_pd128(c), _mm256_extractf128_pd(c, 1)));
    double x = _mm_cvtsd_f64(s2), y = _mm_cvtsd_f64(_mm_unpackhi_pd(s2, s2));
    double c3 = _mm_cvtsd_f64(c2) + _mm_cvtsd_f64(_mm_unpackhi_pd(c2, c2));
    fastce_dd t = fastce_two_sum(x, y);
    return (fastce_dd){t.hi, t.lo + c3};
}

/* The first r < 4 elements of a row's tail: the rest load as 0 (a zero
 * target, so a zero term) and are never stored. */
static inline __m128i tail_mask4_epi32(ptrdiff_t r) {
    return _mm_cmpgt_epi32(_mm_set1_epi32((int)r), _mm_setr_epi32(0, 1, 2, 3));
}
#define MASKLOAD4_F32(p, r) _mm256_cvtps_pd(_mm_maskload_ps((p), tail_mask4_epi32(r)))
#define MASKSTORE4_F32(p, r, v) _mm_maskstore_ps((p), tail_mask4_epi32(r), _mm256_cvtpd_ps(v))
#define MASKLOAD4_F64(p, r) _mm256_maskload_pd((p), tail_mask_pd(r))
#define MASKSTORE4_F64(p, r, v) _mm256_maskstore_pd((p), tail_mask_pd(r), (v))

/* 1 when the eight targets at t are all zero. */
static inline int cat_zero8_f32(const float *t) {
    return !_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(t), _mm256_setzero_ps(), _CMP_NEQ_UQ));
}
static inline int cat_zero8_f64(const double *t) {
    __m256d z = _mm256_setzero_pd();
    return !_mm256_movemask_pd(_mm256_or_pd(_mm256_cmp_pd(_mm256_loadu_pd(t), z, _CMP_NEQ_UQ),
                                            _mm256_cmp_pd(_mm256_loadu_pd(t + 4), z, _CMP_NEQ_UQ)));
}

/* Eight elements a step into two lane sets (compensated for double rows,
 * with each term's product error: a double row's sum comes out as hi + lo
 * and its loss -w * (hi + lo) is rounded once, fastce_cat_loss), in chunks
 * (FASTCE_CAT_CHUNK) either dense or skipping blocks of zero targets; then four,
 * then a masked tail; every load of a step comes before its stores, so
 * grad may be p or t. LOG24: a float row (float-accuracy log, plain double
 * lanes, the plain loss). */
#define FASTCE_CATEGORICAL_AVX2(SUF, TYPE, LOG24, LOAD4, STORE4, MLOAD4, MSTORE4)              \
    /* Eight elements of a row into the lane sums. */                                    \
    FASTCE_ALWAYS_INLINE void categorical_block8_##SUF(                                   \
        const TYPE *p, const TYPE *t, __m256d lov, __m256d hiv, __m256d na, TYPE *grad,   \
        int want_grad, __m256d *acc0, __m256d *comp0, __m256d *acc1, __m256d *comp1) {    \
        __m256d g0 = _mm256_setzero_pd(), g1 = g0, e0 = g0, e1 = g0;                      \
        __m256d l0 = categorical4(LOAD4(p), LOAD4(t), lov, hiv, na, LOG24, want_grad, &g0, &e0); \
        __m256d l1 = categorical4(LOAD4(p + 4), LOAD4(t + 4), lov, hiv, na, LOG24, want_grad, \
                                  &g1, &e1);                                              \
        if (want_grad) {                                                                  \
            STORE4(grad, g0);                                                             \
            STORE4(grad + 4, g1);                                                         \
        }                                                                                 \
        row_add_pd(acc0, comp0, l0, e0, LOG24);                                           \
        row_add_pd(acc1, comp1, l1, e1, LOG24);                                           \
    }                                                                                     \
    /* A dense run of len elements (a multiple of eight), in a function of    \
     * its own: inlined into the chunk loop, its constants competed for the     \
     * sixteen registers with that loop's (float rows 8% slower). */           \
    FASTCE_NOINLINE void categorical_dense_##SUF(                                         \
        const TYPE *p, const TYPE *t, ptrdiff_t len, __m256d lov, __m256d hiv, __m256d na, \
        TYPE *grad, __m256d *acc) {                                                       \
        __m256d a0 = acc[0], c0 = acc[1], a1 = acc[2], c1 = acc[3];                       \
        if (grad)                                                                         \
            for (ptrdiff_t j = 0; j < len; j += 8)                                        \
                categorical_block8_##SUF(p + j, t + j, lov, hiv, na, grad + j, 1, &a0, &c0, &a1, &c1); \
        else                                                                              \
            for (ptrdiff_t j = 0; j < len; j += 8)                                        \
                categorical_block8_##SUF(p + j, t + j, lov, hiv, na, NULL, 0, &a0, &c0, &a1, &c1); \
        acc[0] = a0, acc[1] = c0, acc[2] = a1, acc[3] = c1;                               \
    }                                                                                     \
    FASTCE_ALWAYS_INLINE fastce_dd categorical_row_body_##SUF(                            \
        const TYPE *p, const TYPE *t, ptrdiff_t C, double lo, double hi, TYPE *grad,      \
        double a, int want_grad) {                                                        \
        const __m256d lov = _mm256_set1_pd(lo), hiv = _mm256_set1_pd(hi);                 \
        const __m256d na = _mm256_set1_pd(-a);                                            \
        __m256d acc0 = _mm256_setzero_pd(), comp0 = acc0, acc1 = acc0, comp1 = acc0;      \
        __m256d g0 = acc0, g1 = acc0, e0 = acc0, e1 = acc0;                               \
        ptrdiff_t j = 0;                                                                  \
        while (j + 8 <= C) { /* chunks (FASTCE_CAT_CHUNK in vec.h) */                     \
            ptrdiff_t end = C - j < FASTCE_CAT_CHUNK ? j + ((C - j) & ~(ptrdiff_t)7)       \
                                                     : j + FASTCE_CAT_CHUNK;              \
            int sparse = end - j >= FASTCE_CAT_ZERO_LEAD;                                 \
            for (ptrdiff_t q = j; sparse && q < j + FASTCE_CAT_ZERO_LEAD; q += 8)         \
                sparse = cat_zero8_##SUF(t + q);                                          \
            if (sparse) { /* its blocks of eight zero targets: zero terms and gradient */ \
                for (; j < end; j += 8) {                                                 \
                    if (!cat_zero8_##SUF(t + j))                                          \
                        categorical_block8_##SUF(p + j, t + j, lov, hiv, na,              \
                                                 want_grad ? grad + j : NULL, want_grad,  \
                                                 &acc0, &comp0, &acc1, &comp1);           \
                    else if (want_grad) {                                                 \
                        STORE4(grad + j, _mm256_setzero_pd());                            \
                        STORE4(grad + j + 4, _mm256_setzero_pd());                        \
                    }                                                                     \
                }                                                                         \
            } else {                                                                      \
                __m256d acc[4] = {acc0, comp0, acc1, comp1};                              \
                categorical_dense_##SUF(p + j, t + j, end - j, lov, hiv, na,              \
                                        want_grad ? grad + j : NULL, acc);                \
                acc0 = acc[0], comp0 = acc[1], acc1 = acc[2], comp1 = acc[3];             \
                j = end;                                                                  \
            }                                                                             \
        }                                                                                 \
        if (j + 4 <= C) {                                                                 \
            __m256d l0 = categorical4(LOAD4(p + j), LOAD4(t + j), lov, hiv, na, LOG24,    \
                                      want_grad, &g0, &e0);                               \
            if (want_grad) STORE4(grad + j, g0);                                          \
            row_add_pd(&acc0, &comp0, l0, e0, LOG24);                                  \
            j += 4;                                                                       \
        }                                                                                 \
        if (j < C) {                                                                      \
            ptrdiff_t r = C - j;                                                          \
            __m256d l1 = categorical4(MLOAD4(p + j, r), MLOAD4(t + j, r), lov, hiv, na, LOG24,    \
                                      want_grad, &g1, &e1);                               \
            if (want_grad) MSTORE4(grad + j, r, g1);                                      \
            row_add_pd(&acc1, &comp1, l1, e1, LOG24);                                  \
        }                                                                                 \
        if (LOG24) return fastce_dd_of(hsum_pd(_mm256_add_pd(acc0, acc1)));               \
        return categorical_total(acc0, comp0, acc1, comp1);                               \
    }                                                                                     \
    FASTCE_ALWAYS_INLINE double categorical_rows_body_##SUF(                              \
        const TYPE *p, const TYPE *t, ptrdiff_t n, ptrdiff_t C, const TYPE *sw, double lo, \
        double hi, TYPE *loss, TYPE *grad, double grad_scale, int want_grad) {            \
        fastce_acc acc = {0.0, 0.0};                                                      \
        for (ptrdiff_t s = 0; s < n; s++) {                                               \
            double w = sw ? (double)sw[s] : 1.0;                                          \
            fastce_dd row = categorical_row_body_##SUF(p + s * C, t + s * C, C, lo, hi,   \
                                                       want_grad ? grad + s * C : NULL,   \
                                                       w * grad_scale, want_grad);        \
            double l; /* double rows: -w * row rounded once (internal.h) */               \
            if (LOG24) l = (0.0 - row.hi) * w;                                            \
            else l = fastce_cat_loss(row.hi, row.lo, w);                                  \
            if (loss) loss[s] = (TYPE)l;                                                  \
            fastce_acc_add(&acc, l);                                                      \
        }                                                                                 \
        return fastce_acc_value(acc);                                                     \
    }                                                                                     \
    static double categorical_rows_##SUF(const TYPE *p, const TYPE *t, ptrdiff_t n,       \
                                         ptrdiff_t C, const TYPE *sw, double lo,          \
                                         double hi, TYPE *loss, TYPE *grad,               \
                                         double grad_scale) {                             \
        if (!loss && !sw && C > 0) { /* the total alone: one run of n*C elements */       \
            fastce_dd s = grad ? categorical_row_body_##SUF(p, t, n * C, lo, hi, grad,     \
                                                            grad_scale, 1)                \
                               : categorical_row_body_##SUF(p, t, n * C, lo, hi, NULL,     \
                                                            grad_scale, 0);               \
            return LOG24 ? 0.0 - s.hi : fastce_cat_loss(s.hi, s.lo, 1.0);                 \
        }                                                                                 \
        return grad ? categorical_rows_body_##SUF(p, t, n, C, sw, lo, hi, loss, grad,     \
                                                  grad_scale, 1)                          \
                    : categorical_rows_body_##SUF(p, t, n, C, sw, lo, hi, loss, NULL,     \
                                                  grad_scale, 0);                         \
    }

FASTCE_CATEGORICAL_AVX2(f32, float, 1, LOAD4_F32, STORE4_F32, MASKLOAD4_F32, MASKSTORE4_F32)
FASTCE_CATEGORICAL_AVX2(f64, double, 0, _mm256_loadu_pd, _mm256_storeu_pd, MASKLOAD4_F64,
                        MASKSTORE4_F64)

/* ---------------------------------------------- entropy and KL rows */

/* Four terms p*log(p/q) (has_q) or p*log(p), 0 where p == 0 (even for a
 * NaN q), log as libm's; for double rows the ratio's rounding taken back
 * (fastce_log_ratio in internal.h). The categorical logs take positive
 * normal lanes and NaN; lanes below the normal range (0, subnormal or
 * negative) take fastce_log_pd, lane by lane: a short row's vector may hold
 * another row's entries, and a row's result must not depend on its
 * neighbours (a whole vector sent to fastce_log_pd moved a float row's KL
 * by an ulp). Lanes where p == 0 take 1 instead, so that zero
 * probabilities (one-hot rows) stay on the fast path; +inf is put back by
 * hand. Double rows (!log24) also get each product's rounding error in
 * *term_lo, as categorical4. */
FASTCE_ALWAYS_INLINE __m256d entropy4(__m256d p, __m256d q, const int has_q, int log24,
                                      __m256d *term_lo) {
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d p0 = _mm256_cmp_pd(p, _mm256_setzero_pd(), _CMP_EQ_OQ);
    __m256d x = _mm256_blendv_pd(has_q ? _mm256_div_pd(p, q) : p, one, p0);
    __m256d low = _mm256_cmp_pd(x, _mm256_set1_pd(2.2250738585072014e-308), _CMP_LT_OQ);
    __m256d xn = _mm256_blendv_pd(x, one, low);
    __m256d lg = log24 ? categorical_log24_pd(xn) : categorical_log_pd(xn);
    if (_mm256_movemask_pd(low)) lg = _mm256_blendv_pd(lg, fastce_log_pd(x), low);
    lg = _mm256_blendv_pd(lg, x, _mm256_cmp_pd(x, _mm256_set1_pd(INFINITY), _CMP_EQ_OQ));
    if (has_q && !log24) { /* the ratio's rounding taken back (fastce_log_ratio) */
        __m256d normal = _mm256_andnot_pd(low, _mm256_cmp_pd(x, _mm256_set1_pd(INFINITY),
                                                             _CMP_LT_OQ));
        __m256d e = _mm256_fnmadd_pd(x, q, p); /* p - x q, exact */
        lg = _mm256_add_pd(lg, _mm256_and_pd(normal, _mm256_div_pd(e, p)));
        if (_mm256_movemask_pd(_mm256_andnot_pd(_mm256_or_pd(normal, p0), _mm256_set1_pd(-0.0)))) {
            /* a ratio out of range of positive finite p and q: log p - log q */
            __m256d inf = _mm256_set1_pd(INFINITY), zero = _mm256_setzero_pd();
            __m256d pos = _mm256_and_pd(
                _mm256_and_pd(_mm256_cmp_pd(p, zero, _CMP_GT_OQ), _mm256_cmp_pd(p, inf, _CMP_LT_OQ)),
                _mm256_and_pd(_mm256_cmp_pd(q, zero, _CMP_GT_OQ), _mm256_cmp_pd(q, inf, _CMP_LT_OQ)));
            __m256d extreme = _mm256_andnot_pd(normal, pos);
            if (_mm256_movemask_pd(extreme))
                lg = _mm256_blendv_pd(lg, _mm256_sub_pd(fastce_log_pd(p), fastce_log_pd(q)), extreme);
        }
    }
    __m256d term = _mm256_mul_pd(p, lg);
    if (!log24) *term_lo = _mm256_andnot_pd(p0, _mm256_fmsub_pd(p, lg, term));
    return _mm256_andnot_pd(p0, term);
}

/* The sum of a row's terms, eight a step into two lane sets (row_add_pd:
 * plain for float rows, compensated for double rows), then four, then a
 * masked tail whose missing lanes load as p = 0 (a zero term). */
#define FASTCE_ENTROPY_AVX2(SUF, TYPE, LOG24, LOAD4, MLOAD4)                               \
    FASTCE_ALWAYS_INLINE double entropy_row_body_##SUF(const TYPE *p, const TYPE *q,       \
                                                       ptrdiff_t C, const int has_q) {     \
        __m256d acc0 = _mm256_setzero_pd(), comp0 = acc0, acc1 = acc0, comp1 = acc0;       \
        __m256d e0 = acc0, e1 = acc0, q0 = acc0, q1 = acc0;                                \
        ptrdiff_t j = 0;                                                                   \
        for (; j + 8 <= C; j += 8) {                                                       \
            if (has_q) {                                                                   \
                q0 = LOAD4(q + j);                                                         \
                q1 = LOAD4(q + j + 4);                                                     \
            }                                                                              \
            __m256d l0 = entropy4(LOAD4(p + j), q0, has_q, LOG24, &e0);                    \
            __m256d l1 = entropy4(LOAD4(p + j + 4), q1, has_q, LOG24, &e1);                \
            row_add_pd(&acc0, &comp0, l0, e0, LOG24);                                      \
            row_add_pd(&acc1, &comp1, l1, e1, LOG24);                                      \
        }                                                                                  \
        for (; j < C; j += 4) {                                                            \
            ptrdiff_t r = C - j;                                                           \
            if (has_q) q0 = r >= 4 ? LOAD4(q + j) : MLOAD4(q + j, r);                      \
            __m256d l0 = entropy4(r >= 4 ? LOAD4(p + j) : MLOAD4(p + j, r), q0, has_q, LOG24, &e0); \
            row_add_pd(&acc0, &comp0, l0, e0, LOG24);                                      \
        }                                                                                  \
        if (LOG24) return hsum_pd(_mm256_add_pd(acc0, acc1));                              \
        fastce_dd total = categorical_total(acc0, comp0, acc1, comp1);                     \
        return total.hi + total.lo;                                                        \
    }                                                                                      \
    static double entropy_row_##SUF(const TYPE *p, const TYPE *q, ptrdiff_t C) {           \
        return q ? entropy_row_body_##SUF(p, q, C, 1) : entropy_row_body_##SUF(p, NULL, C, 0); \
    }                                                                                      \
    FASTCE_ALWAYS_INLINE void entropy_terms_body_##SUF(const TYPE *p, const TYPE *q,       \
                                                       ptrdiff_t n, double *term,         \
                                                       double *term_lo, const int has_q) { \
        __m256d e = _mm256_setzero_pd(), qv = e;                                           \
        for (ptrdiff_t j = 0; j < n; j += 4) {                                             \
            ptrdiff_t r = n - j;                                                           \
            if (has_q) qv = r >= 4 ? LOAD4(q + j) : MLOAD4(q + j, r);                      \
            __m256d l = entropy4(r >= 4 ? LOAD4(p + j) : MLOAD4(p + j, r), qv, has_q, LOG24, &e); \
            if (r >= 4) {                                                                  \
                _mm256_storeu_pd(term + j, l);                                             \
                if (!LOG24) _mm256_storeu_pd(term_lo + j, e);                              \
            } else {                                                                       \
                MASKSTORE4_F64(term + j, r, l);                                            \
                if (!LOG24) MASKSTORE4_F64(term_lo + j, r, e);                             \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
    static void entropy_terms_##SUF(const TYPE *p, const TYPE *q, ptrdiff_t n, double *term, \
                                    double *term_lo) {                                     \
        if (q) entropy_terms_body_##SUF(p, q, n, term, term_lo, 1);                        \
        else entropy_terms_body_##SUF(p, NULL, n, term, term_lo, 0);                       \
    }

FASTCE_ENTROPY_AVX2(f32, float, 1, LOAD4_F32, MASKLOAD4_F32)
FASTCE_ENTROPY_AVX2(f64, double, 0, _mm256_loadu_pd, MASKLOAD4_F64)

/* ------------------------------------------------- the math, for tests */

static inline __m256d math4(int f, __m256d v) {
    switch (f) {
    case FASTCE_MATH_EXP: return fastce_exp_pd(v);
    case FASTCE_MATH_LOG: return fastce_log_pd(v);
    case FASTCE_MATH_EXP24: return fastce_exp24_pd(v);
    case FASTCE_MATH_LOG1P24: return fastce_log1p24_pd(v);
    case FASTCE_MATH_LOG24: return categorical_log24_pd(v);
    case FASTCE_MATH_EXP_DD: {
        __m256d lo, hi = fastce_exp_dd_pd(v, &lo);
        return _mm256_add_pd(hi, lo);
    }
    case FASTCE_MATH_LOG1P_DD: return fastce_log1p_dd_pd(v, _mm256_setzero_pd());
    default: return fastce_log1p_pd(v);
    }
}

static void math_f32(int f, const float *x, float *out, ptrdiff_t n) {
    ptrdiff_t i = 0;
    if (f == FASTCE_MATH_EXP) /* float exp runs in float lanes */
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, fastce_exp_ps(_mm256_loadu_ps(x + i)));
    else /* the others run in double lanes, as in the kernels */
        for (; i + 4 <= n; i += 4)
            _mm_storeu_ps(out + i, _mm256_cvtpd_ps(math4(f, _mm256_cvtps_pd(_mm_loadu_ps(x + i)))));
    for (; i < n; i++) { /* the tail through the same vector code */
        float in[8] = {0}, res[8];
        in[0] = x[i];
        math_f32(f, in, res, 8);
        out[i] = res[0];
    }
}

static void math_f64(int f, const double *x, double *out, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) _mm256_storeu_pd(out + i, math4(f, _mm256_loadu_pd(x + i)));
    for (; i < n; i++) {
        double in[4] = {x[i], 0.0, 0.0, 0.0}, res[4];
        math_f64(f, in, res, 4);
        out[i] = res[0];
    }
}

/* ------------------------------------- logsumexp's cancelling rows */

/* vec.h's lse_dd_rest: four terms a step in double-double lanes, each lane
 * summing its own in three words, the lanes added at the end by the scalar
 * accumulator; each step's four entries go through a copy in double (the
 * tail's padded with zeros).
 * Excluded lanes (the one maximum, d.hi < -745, past C) take exp(0) and
 * add 0. */
#define FASTCE_LSE_DD_REST_AVX2(SUF, TYPE)                                                   \
    static void lse_dd_rest_##SUF(const TYPE *x, ptrdiff_t C, double m, double acc[3]) {     \
        const __m256d mv = _mm256_set1_pd(m), neg_m = _mm256_set1_pd(-m);                    \
        __m256d hi = _mm256_setzero_pd(), mid = hi, lo = hi;                                  \
        int first = 1;                                                                       \
        for (ptrdiff_t j = 0; j < C; j += 4) {                                               \
            double in[4];                                                                    \
            int live = C - j >= 4 ? 0xf : (1 << (C - j)) - 1;                                \
            for (int i = 0; i < 4; i++) in[i] = i < C - j ? (double)x[j + i] : 0.0;          \
            __m256d v = _mm256_loadu_pd(in);                                                 \
            if (first) { /* one maximum stays out of the rest */                             \
                int eq = _mm256_movemask_pd(_mm256_cmp_pd(v, mv, _CMP_EQ_OQ)) & live;        \
                if (eq) {                                                                    \
                    live &= ~(eq & -eq);                                                     \
                    first = 0;                                                               \
                }                                                                            \
            }                                                                                \
            fastce256_dd d = fastce256_two_sum(v, neg_m);                                    \
            live &= _mm256_movemask_pd(_mm256_cmp_pd(d.hi, _mm256_set1_pd(-745.0),           \
                                                     _CMP_NLT_UQ));                          \
            __m256d keep = lanes_pd(live);                                                   \
            fastce256_dd e = fastce256_dd_exp(_mm256_and_pd(keep, d.hi));                    \
            fastce256_dd corr = fastce256_two_prod(e.hi, d.lo);                              \
            corr.lo = _mm256_add_pd(corr.lo, _mm256_mul_pd(e.hi, _mm256_mul_pd(               \
                _mm256_mul_pd(_mm256_set1_pd(0.5), d.lo), d.lo)));                           \
            fastce256_dd t = fastce256_dd_add(e, corr);                                      \
            t.hi = _mm256_and_pd(keep, t.hi);                                                \
            t.lo = _mm256_and_pd(keep, t.lo);                                                \
            fastce256_dd_acc_add(&hi, &mid, &lo, t);                                         \
        }                                                                                    \
        double h[4], md[4], l[4];                                                            \
        _mm256_storeu_pd(h, hi);                                                             \
        _mm256_storeu_pd(md, mid);                                                           \
        _mm256_storeu_pd(l, lo);                                                             \
        fastce_dd_acc_lanes(h, md, l, 4, acc);                                               \
    }

FASTCE_LSE_DD_REST_AVX2(f32, float)
FASTCE_LSE_DD_REST_AVX2(f64, double)

#include "vec_avx2_rows.h"
#include "vec_avx2_planes.h"

/* ------------------------------------------- dense and smoothing sums */

/* row_wdiff (vec.h) in four double lanes, as in vec_avx512.c: the lanes in
 * live (a mask vector), comp for double rows (TwoSum lanes), plain double
 * lanes for float ones, whose terms are exact in double. */
FASTCE_ALWAYS_INLINE void wsum_add(__m256d *acc, __m256d *err, __m256d v, const int comp) {
    if (comp) two_sum_add_pd(acc, err, v);
    else *acc = _mm256_add_pd(*acc, v);
}

FASTCE_ALWAYS_INLINE int wdiff4(__m256d v, __m256d tv, __m256d live, __m256d mv, const int dense,
                                const int comp, __m256d *a, __m256d *ae, __m256d *b, __m256d *be,
                                __m256d *tm) {
    __m256d eq = _mm256_and_pd(_mm256_cmp_pd(v, mv, _CMP_EQ_OQ), live), ne = _mm256_andnot_pd(eq, live);
    if (!dense) {
        wsum_add(a, ae, _mm256_mul_pd(tv, _mm256_and_pd(ne, _mm256_sub_pd(mv, v))), comp);
        return 0;
    }
    __m256d nz = _mm256_and_pd(ne, _mm256_cmp_pd(tv, _mm256_setzero_pd(), _CMP_NEQ_UQ));
    wsum_add(a, ae, _mm256_and_pd(nz, _mm256_mul_pd(tv, _mm256_sub_pd(mv, v))), comp);
    wsum_add(b, be, _mm256_and_pd(ne, tv), comp);
    *tm = _mm256_add_pd(*tm, _mm256_and_pd(eq, tv));
    return _mm256_movemask_pd(eq);
}

#define FASTCE_ROW_WDIFF_AVX2(SUF, TYPE, LOAD4, MLOAD4, COMP)                                  \
    FASTCE_ALWAYS_INLINE ptrdiff_t wdiff_row_##SUF(const TYPE *x, const TYPE *t, const TYPE *w, \
                                                   ptrdiff_t C, double m, const int has_t,     \
                                                   const int has_w, const int dense,           \
                                                   double out[4]) {                            \
        const __m256d mv = _mm256_set1_pd(m), one = _mm256_set1_pd(1.0);                       \
        const __m256d all = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));                       \
        __m256d a0 = _mm256_setzero_pd(), ae0 = a0, b0 = a0, be0 = a0, tm = a0;                \
        __m256d a1 = a0, ae1 = a0, b1 = a0, be1 = a0;                                          \
        ptrdiff_t k = -1, j = 0;                                                               \
        for (; j + 8 <= C; j += 8) {                                                           \
            __m256d t0 = has_t ? LOAD4(t + j) : one, t1 = has_t ? LOAD4(t + j + 4) : one;      \
            if (has_w) {                                                                       \
                t0 = _mm256_mul_pd(t0, LOAD4(w + j));                                          \
                t1 = _mm256_mul_pd(t1, LOAD4(w + j + 4));                                      \
            }                                                                                  \
            int e0 = wdiff4(LOAD4(x + j), t0, all, mv, dense, COMP, &a0, &ae0, &b0, &be0, &tm); \
            int e1 = wdiff4(LOAD4(x + j + 4), t1, all, mv, dense, COMP, &a1, &ae1, &b1, &be1,  \
                            &tm);                                                              \
            if (dense && k < 0 && (e0 | e1)) k = j + __builtin_ctz((unsigned)(e0 | e1 << 4));  \
        }                                                                                      \
        for (; j < C; j += 4) {                                                                \
            const ptrdiff_t r = C - j < 4 ? C - j : 4;                                         \
            __m256d tv = has_t ? MLOAD4(t + j, r) : one;                                       \
            if (has_w) tv = _mm256_mul_pd(tv, MLOAD4(w + j, r));                               \
            int e0 = wdiff4(MLOAD4(x + j, r), tv, _mm256_castsi256_pd(tail_mask_pd(r)), mv,     \
                            dense, COMP, &a0, &ae0, &b0, &be0, &tm);                           \
            if (dense && k < 0 && e0) k = j + __builtin_ctz((unsigned)e0);                     \
        }                                                                                      \
        double l[4][8];                                                                        \
        const __m256d lanes[4][2] = {{a0, a1}, {ae0, ae1}, {b0, b1}, {be0, be1}};              \
        for (int i = 0; i < 4; i++) {                                                          \
            _mm256_storeu_pd(l[i], lanes[i][0]);                                               \
            _mm256_storeu_pd(l[i] + 4, lanes[i][1]);                                           \
        }                                                                                      \
        fastce_wdiff_out(l[0], l[1], l[2], l[3], 8, hsum_pd(tm), out);                         \
        return k;                                                                              \
    }                                                                                          \
    static ptrdiff_t row_wdiff_##SUF(const TYPE *x, const TYPE *t, const TYPE *w, ptrdiff_t C, \
                                     double m, int dense, double out[4]) {                     \
        if (dense && t && w) return wdiff_row_##SUF(x, t, w, C, m, 1, 1, 1, out);              \
        if (dense) return t ? wdiff_row_##SUF(x, t, NULL, C, m, 1, 0, 1, out)                 \
                            : wdiff_row_##SUF(x, t, NULL, C, m, 0, 0, 1, out);                \
        return t ? wdiff_row_##SUF(x, t, NULL, C, m, 1, 0, 0, out)                            \
                 : wdiff_row_##SUF(x, t, NULL, C, m, 0, 0, 0, out);                           \
    }

FASTCE_ROW_WDIFF_AVX2(f32, float, load4_f32, MASKLOAD4_F32, 0)
FASTCE_ROW_WDIFF_AVX2(f64, double, load4_f64, MASKLOAD4_F64, 1)

/* row_dense_dot2 (vec.h) for float64 rows, AVX-512's in four lanes (see
 * there), TwoSum lanes that drop the error of a sum that is not finite.
 * Without it a float64 dense row of more than 128 classes with smoothing,
 * a sample weight or class weights took the scalar loop. */
FASTCE_ALWAYS_INLINE void dense_dot2_row(const double *x, const double *t, const double *w,
                                         ptrdiff_t C, double m, const int has_w, int smoothing,
                                         double out[6]) {
    const __m256d mv = _mm256_set1_pd(m), zero = _mm256_setzero_pd();
    const __m256d all = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
    __m256d at = zero, at_e = zero, st = zero, st_e = zero, aw = zero, aw_e = zero;
    for (ptrdiff_t j = 0; j < C; j += 4) {
        const __m256d live = C - j >= 4 ? all : _mm256_castsi256_pd(tail_mask_pd(C - j));
        const __m256d v = C - j >= 4 ? _mm256_loadu_pd(x + j) : MASKLOAD4_F64(x + j, C - j);
        const __m256d tv = C - j >= 4 ? _mm256_loadu_pd(t + j) : MASKLOAD4_F64(t + j, C - j);
        const __m256d ne = _mm256_and_pd(live, _mm256_cmp_pd(v, mv, _CMP_NEQ_UQ));
        fastce256_dd d = fastce256_two_sum(mv, _mm256_sub_pd(zero, v));
        d.hi = _mm256_and_pd(ne, d.hi);
        d.lo = _mm256_and_pd(ne, d.lo);
        __m256d wv = zero;
        fastce256_dd wt = {tv, zero};
        if (has_w) { /* w_j t_j exact as hi + lo */
            wv = C - j >= 4 ? _mm256_loadu_pd(w + j) : MASKLOAD4_F64(w + j, C - j);
            wt = fastce256_two_prod(wv, tv);
        }
        two_sum_add_pd(&st, &st_e, wt.hi);
        if (has_w) st_e = _mm256_add_pd(st_e, wt.lo);
        const __m256d nz = _mm256_cmp_pd(wt.hi, zero, _CMP_NEQ_UQ);
        const fastce256_dd p = fastce256_two_prod(wt.hi, d.hi);
        const fastce256_dd s = fastce256_two_sum(at, p.hi);
        at = _mm256_blendv_pd(at, s.hi, nz);
        __m256d err = _mm256_add_pd(s.lo, p.lo), cross = _mm256_mul_pd(wt.hi, d.lo);
        if (has_w) cross = _mm256_add_pd(cross, _mm256_mul_pd(wt.lo, d.hi));
        at_e = _mm256_add_pd(at_e, _mm256_and_pd(nz, _mm256_add_pd(err, cross)));
        if (smoothing && has_w) { /* sum w_j d_j where w_j != 0 */
            const __m256d wz = _mm256_cmp_pd(wv, zero, _CMP_NEQ_UQ);
            const fastce256_dd q = fastce256_two_prod(wv, d.hi);
            const fastce256_dd r = fastce256_two_sum(aw, q.hi);
            aw = _mm256_blendv_pd(aw, r.hi, wz);
            aw_e = _mm256_add_pd(aw_e, _mm256_and_pd(wz, _mm256_add_pd(_mm256_add_pd(r.lo, q.lo),
                                                                       _mm256_mul_pd(wv, d.lo))));
        } else if (smoothing) {
            two_sum_add_pd(&aw, &aw_e, d.hi);
            aw_e = _mm256_add_pd(aw_e, d.lo);
        }
    }
    double l[6][4];
    const __m256d lanes[6] = {at, at_e, st, st_e, aw, aw_e};
    for (int i = 0; i < 6; i++) _mm256_storeu_pd(l[i], lanes[i]);
    for (int i = 0; i < 3; i++) {
        fastce_acc a = fastce_lanes_acc(l[2 * i], l[2 * i + 1], 4);
        out[2 * i] = a.s, out[2 * i + 1] = a.c;
    }
}

static void row_dense_dot2_f64(const double *x, const double *t, const double *w, ptrdiff_t C,
                               double m, int smoothing, double out[6]) {
    if (w) dense_dot2_row(x, t, w, C, m, 1, smoothing, out);
    else dense_dot2_row(x, t, NULL, C, m, 0, smoothing, out);
}
#undef FASTCE_ROW_WDIFF_AVX2

/* ------------------------------------------------ second passes of a row */

/* scale * e + w * (offset * t + shift) in double lanes, rounded once
 * (vec.h), one body per operand present. Loads come before stores, so out
 * may be e. */
#define FASTCE_SCALE_ROW_AVX2(SUF, TYPE, LOAD4, STORE4, MLOAD4, MSTORE4)                      \
    FASTCE_ALWAYS_INLINE void scale_row_body_##SUF(const TYPE *e, ptrdiff_t C, double scale, \
                                                   double offset, const TYPE *t,         \
                                                   double shift, const TYPE *w, TYPE *out, \
                                                   const int has_t, const int has_w) {   \
        const __m256d sv = _mm256_set1_pd(scale), ov = _mm256_set1_pd(offset);             \
        const __m256d hv = _mm256_set1_pd(shift), b0 = _mm256_set1_pd(offset + shift);    \
        ptrdiff_t j = 0;                                                                   \
        for (; j + 4 <= C; j += 4) {                                                       \
            __m256d b = has_t ? _mm256_fmadd_pd(ov, LOAD4(t + j), hv) : b0;                \
            if (has_w) b = _mm256_mul_pd(b, LOAD4(w + j));                                 \
            STORE4(out + j, _mm256_fmadd_pd(sv, LOAD4(e + j), b));                         \
        }                                                                                  \
        if (j < C) {                                                                       \
            ptrdiff_t r = C - j;                                                           \
            __m256d b = has_t ? _mm256_fmadd_pd(ov, MLOAD4(t + j, r), hv) : b0;            \
            if (has_w) b = _mm256_mul_pd(b, MLOAD4(w + j, r));                             \
            MSTORE4(out + j, r, _mm256_fmadd_pd(sv, MLOAD4(e + j, r), b));                 \
        }                                                                                  \
    }                                                                                      \
    static void scale_row_##SUF(const TYPE *e, ptrdiff_t C, double scale, double offset,   \
                                const TYPE *t, double shift, const TYPE *w, TYPE *out) {   \
        FASTCE_SCALE_ROW_BY_OPERANDS(scale_row_body_##SUF, e, C, scale, offset, t, shift, w, \
                                     out);                                                 \
    }                                                                                      \
    static void log_softmax_row_##SUF(const TYPE *x, ptrdiff_t C, double m, double lse_rel, \
                                      TYPE *out) {                                         \
        const __m256d mv = _mm256_set1_pd(m), lv = _mm256_set1_pd(lse_rel);               \
        ptrdiff_t j = 0;                                                                   \
        for (; j + 4 <= C; j += 4)                                                         \
            STORE4(out + j, _mm256_sub_pd(_mm256_sub_pd(LOAD4(x + j), mv), lv));          \
        if (j < C) {                                                                       \
            ptrdiff_t r = C - j;                                                           \
            MSTORE4(out + j, r, _mm256_sub_pd(_mm256_sub_pd(MLOAD4(x + j, r), mv), lv));  \
        }                                                                                  \
    }

FASTCE_SCALE_ROW_AVX2(f32, float, LOAD4_F32, STORE4_F32, MASKLOAD4_F32, MASKSTORE4_F32)
FASTCE_SCALE_ROW_AVX2(f64, double, _mm256_loadu_pd, _mm256_storeu_pd, MASKLOAD4_F64,
                      MASKSTORE4_F64)

/* ------------------------------------------------------------- labels */

static ptrdiff_t count_labels(const int64_t *y, ptrdiff_t n, int64_t C, int has_ignore,
                              int64_t ignore_index, ptrdiff_t *n_bad) {
    const __m256i ign = _mm256_set1_epi64x(ignore_index), top = _mm256_set1_epi64x(C - 1);
    const __m256i zero = _mm256_setzero_si256();
    __m256i used = zero, bad = zero; /* per-lane counts, as minus masks */
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(y + i));
        __m256i live = has_ignore ? _mm256_xor_si256(_mm256_cmpeq_epi64(v, ign),
                                                     _mm256_set1_epi64x(-1))
                                  : _mm256_set1_epi64x(-1);
        __m256i out = _mm256_or_si256(_mm256_cmpgt_epi64(zero, v), _mm256_cmpgt_epi64(v, top));
        used = _mm256_sub_epi64(used, live);
        bad = _mm256_sub_epi64(bad, _mm256_and_si256(out, live));
    }
    int64_t u[4], b[4];
    _mm256_storeu_si256((__m256i *)u, used);
    _mm256_storeu_si256((__m256i *)b, bad);
    ptrdiff_t n_used = (ptrdiff_t)(u[0] + u[1] + u[2] + u[3]);
    ptrdiff_t nb = (ptrdiff_t)(b[0] + b[1] + b[2] + b[3]);
    for (; i < n; i++) {
        if (has_ignore && y[i] == ignore_index) continue;
        n_used++;
        nb += y[i] < 0 || y[i] >= C;
    }
    *n_bad = nb;
    return n_used;
}

const fastce_vec_ops fastce_vec_avx2 = {
    "avx2",
    row_max_f32,        row_max_f64,
    row_rest_f32,       row_rest_f64,
    row_rest_store_f32, row_rest_store_f64,
    sigmoid_ce_f32,     sigmoid_ce_f64,
    binary_ce_f32,      binary_ce_f64,
    math_f32,           math_f64,
    sparse_ce_rows_f32, sparse_ce_rows_f64,
    softmax_rows_f32,   softmax_rows_f64,
    count_labels,
    categorical_rows_f32, categorical_rows_f64,
    scale_row_f32,      scale_row_f64,
    log_softmax_row_f32, log_softmax_row_f64,
    lse_dd_rest_f32,    lse_dd_rest_f64,
    row_argmax_f32,     row_argmax_f64,
    entropy_row_f32,    entropy_row_f64,
    entropy_terms_f32,  entropy_terms_f64,
    sparse_ce_planes_f32, NULL,
    softmax_planes_f32, NULL,
    argmax_planes_f32,  argmax_planes_f64,
    row_wdiff_f32,      row_wdiff_f64,
    dense_ce_rows_f32,  dense_ce_rows_f64,
    NULL,               row_dense_dot2_f64, /* (float rows: row_wdiff suffices) */
};

#endif /* FASTCE_HAVE_AVX2_TABLE */
