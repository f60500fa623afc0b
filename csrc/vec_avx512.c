/* vec_avx512.c: the AVX-512 row primitives (F, DQ, BW, VL; x86-64-v4), 16
 * float or 8 double lanes with mask registers for tails and ties. Compiled
 * with AVX-512 flags (CMakeLists.txt); dispatch.c calls into it only on
 * CPUs that have them. The table is the AVX2 one with AVX-512 entries put
 * over it by fastce_vec_avx512_fill: here the long-row passes (max, rest,
 * the second passes over a row), accuracy's row argmax and the math test
 * hook; the few-class row
 * kernels from vec_avx512_rows.c and vec_avx512_rows_f64.c; sigmoid, binary and categorical CE from
 * vec_avx512_pointwise.c. Only count_labels stays AVX2's. The results
 * follow the contracts of vec.h. */
#include "vec.h"

#ifdef FASTCE_HAVE_AVX512_TABLE

#include <math.h>

#include "fastce.h"
#include "internal.h"
#include "simd_avx512.h"
#include "simd_avx512_dd.h"



/* ------------------------------------------------------------ row max */

/* max_ps keeps its second operand when the first is NaN: a NaN entry is
 * dropped here and turns the rest pass NaN; a row whose max came out -inf
 * is all -inf, or -inf and NaN, and the NaN must win. */
#define FASTCE_ROW_MAX_512(SUF, TYPE, W, VEC, LOAD, MAX, MASKMAX, MASKZLOAD, REDUCE, HEAD) \
    static double row_max_##SUF(const TYPE *x, ptrdiff_t C) {                              \
        VEC m0 = _mm512_set1_##W(-INFINITY), m1 = m0;                                      \
        const ptrdiff_t L = 64 / sizeof(TYPE);                                             \
        ptrdiff_t j = 0;                                                                   \
        for (; j + 2 * L <= C; j += 2 * L) {                                               \
            m0 = MAX(LOAD(x + j), m0);                                                     \
            m1 = MAX(LOAD(x + j + L), m1);                                                 \
        }                                                                                  \
        for (; j + L <= C; j += L) m0 = MAX(LOAD(x + j), m0);                              \
        if (j < C) m1 = MASKMAX(m1, HEAD(C - j), MASKZLOAD(HEAD(C - j), x + j), m1);       \
        double m = (double)REDUCE(MAX(m0, m1));                                            \
        if (m != -INFINITY) return m;                                                      \
        for (j = 0; j < C; j++)                                                            \
            if (x[j] != x[j]) return (double)x[j];                                         \
        return -INFINITY;                                                                  \
    }

FASTCE_ROW_MAX_512(f32, float, ps, __m512, _mm512_loadu_ps, _mm512_max_ps, _mm512_mask_max_ps,
                   _mm512_maskz_loadu_ps, _mm512_reduce_max_ps, fastce512_first16)
FASTCE_ROW_MAX_512(f64, double, pd, __m512d, _mm512_loadu_pd, _mm512_max_pd, _mm512_mask_max_pd,
                   _mm512_maskz_loadu_pd, _mm512_reduce_max_pd, fastce512_first8)

/* --------------------------------------------------------- row argmax */

/* Two reads of the row: its max, with a note of any NaN (whose first
 * index is then the answer, from the scalar fastce_argmax: rare), then the first
 * entry equal to the max (-inf for a row of -inf, at 0). The tail loads
 * its missing lanes as -inf, which never beat a real entry. Double rows
 * under 24 entries take one scalar read instead (measured 1.0-1.3x faster
 * at C = 4..16, where two or three vectors pay the horizontal max and the
 * second read); float rows never do (the scalar loop's unpredictable
 * branches made C = 4 1.8x slower than one masked vector). */
#define FASTCE_ROW_ARGMAX_512(SUF, TYPE, W, VEC, MASK, FIRST, SHORT)                       \
    static ptrdiff_t row_argmax_##SUF(const TYPE *x, ptrdiff_t C) {                        \
        if (C < SHORT) return fastce_argmax_##SUF(x, C, 1);                                \
        const ptrdiff_t L = 64 / sizeof(TYPE);                                             \
        const VEC ninf = _mm512_set1_##W(-INFINITY);                                       \
        VEC m0 = ninf, m1 = ninf;                                                          \
        MASK nan = 0;                                                                      \
        ptrdiff_t j = 0;                                                                   \
        for (; j + 2 * L <= C; j += 2 * L) {                                               \
            VEC a = _mm512_loadu_##W(x + j), b = _mm512_loadu_##W(x + j + L);              \
            nan |= _mm512_cmp_##W##_mask(a, b, _CMP_UNORD_Q);                              \
            m0 = _mm512_max_##W(a, m0);                                                    \
            m1 = _mm512_max_##W(b, m1);                                                    \
        }                                                                                  \
        for (; j < C; j += L) {                                                            \
            MASK live = C - j >= L ? (MASK)-1 : FIRST(C - j);                              \
            VEC a = _mm512_mask_loadu_##W(ninf, live, x + j);                              \
            nan |= _mm512_cmp_##W##_mask(a, a, _CMP_UNORD_Q);                              \
            m0 = _mm512_max_##W(a, m0);                                                    \
        }                                                                                  \
        if (nan) return fastce_argmax_##SUF(x, C, 1); /* its first NaN */                  \
        const VEC m = _mm512_set1_##W(_mm512_reduce_max_##W(_mm512_max_##W(m0, m1)));     \
        for (j = 0;; j += L) {                                                             \
            MASK live = C - j >= L ? (MASK)-1 : FIRST(C - j);                              \
            MASK eq = _mm512_mask_cmp_##W##_mask(live, _mm512_maskz_loadu_##W(live, x + j), m, \
                                                 _CMP_EQ_OQ);                              \
            if (eq) return j + __builtin_ctz((unsigned)eq);                                \
        }                                                                                  \
    }

FASTCE_ROW_ARGMAX_512(f32, float, ps, __m512, __mmask16, fastce512_first16, 1)
FASTCE_ROW_ARGMAX_512(f64, double, pd, __m512d, __mmask8, fastce512_first8, 24)

/* ----------------------------------------------------------- row rest */

/* In place (the terms stored over x), the unguarded double pass raises
 * entries below m - floor to it, for rows with |m| up to TAME_MAX (see
 * rest_f64). */
#define FASTCE_FLOOR_F64 800.0
#define FASTCE_TAME_MAX_F64 1099511627776.0

/* Sixteen floats of a row (the lanes in live): exp(x_j - m) stored (1 at a
 * maximum) when store is set, added in double to acc0 (low eight) and acc1
 * (high eight) except at a maximum, whose lanes count in ties instead.
 *
 * The float exp without its clamp and NaN guard takes every lane where
 * x_j - m >= -87, which is almost always. Below, a float term is
 * subnormal, and a confident row's tiny rest can be all such terms, each
 * rounded to a multiple of 2^-149 (a loss of 1000 classes at margin 100
 * came out 450 ulp off): such a vector takes its terms in double, rounded
 * to float only where stored (one whose other lanes beyond the limit are
 * -inf or NaN, a masked row's, the guarded float exp). check == 1: each
 * vector checks its lanes before it stores (in place: one pass); check ==
 * 0: no check, the least x_j - m goes into *dmin, and the caller reruns a
 * row that had one below -87. md: m as a double. */
FASTCE_ALWAYS_INLINE void rest16_f32(__m512 v, __mmask16 live, __m512 mv, __m512d md,
                                     float *store, __m512d *acc0, __m512d *acc1,
                                     unsigned *ties, __m512 *dmin, const int check) {
    __mmask16 eq = _mm512_mask_cmp_ps_mask(live, v, mv, _CMP_EQ_OQ);
    __m512 ex, d = _mm512_sub_ps(v, mv);
    __m512d lo, hi;
    __mmask16 wide = 0, far = 0;
    if (check) {
        wide = _mm512_mask_cmp_ps_mask(live, d, _mm512_set1_ps(FASTCE_TAME_F32), _CMP_NGE_UQ);
        if (wide) /* finite entries below the limit (not -inf, not NaN) */
            far = _mm512_mask_cmp_ps_mask(wide, d, _mm512_set1_ps(FASTCE_TAME_F32), _CMP_LT_OQ) &
                  _mm512_cmp_ps_mask(v, _mm512_set1_ps(-INFINITY), _CMP_NEQ_UQ);
    } else {
        *dmin = _mm512_mask_min_ps(*dmin, live, *dmin, d);
    }
    if (__builtin_expect(!far, 1)) { /* -inf and NaN lanes: the guarded float exp */
        ex = fastce512_exp_diff_ps(v, mv, !wide);
        lo = _mm512_cvtps_pd(_mm512_castps512_ps256(ex));
        hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(ex, 1));
    } else {
        lo = fastce512_exp_diff_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), md, 0);
        hi = fastce512_exp_diff_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)), md, 0);
        ex = _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1);
    }
    if (store) _mm512_mask_storeu_ps(store, live, _mm512_mask_blend_ps(eq, ex, _mm512_set1_ps(1.0f)));
    __mmask16 add = _kandn_mask16(eq, live);
    *ties += (unsigned)__builtin_popcount((unsigned)eq);
    *acc0 = _mm512_mask_add_pd(*acc0, (__mmask8)add, *acc0, lo);
    *acc1 = _mm512_mask_add_pd(*acc1, (__mmask8)(add >> 8), *acc1, hi);
}

/* A float row's terms are rounded to float (relative error ~2^-24) and it
 * rounds to float: plain double lanes sum them well enough (as in AVX2). */
FASTCE_ALWAYS_INLINE double rest_pass_f32(const float *x, ptrdiff_t C, double m, float *store,
                                          float *dmin_out, const int check) {
    const __m512 mv = _mm512_set1_ps((float)m);
    const __m512d md = _mm512_set1_pd(m);
    const __mmask16 all = 0xffff;
    __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    __m512 dmin = _mm512_setzero_ps();
    unsigned t = 0;
    ptrdiff_t j = 0;
    /* two independent vectors a step: their exps overlap */
    for (; j + 32 <= C; j += 32) {
        /* two rows ahead (x + 2C): in cache when its max pass comes */
        _mm_prefetch((const char *)(x + 2 * C + j), _MM_HINT_T0);
        _mm_prefetch((const char *)(x + 2 * C + j + 16), _MM_HINT_T0);
        rest16_f32(_mm512_loadu_ps(x + j), all, mv, md, store ? store + j : NULL, &a0, &a1, &t,
                   &dmin, check);
        rest16_f32(_mm512_loadu_ps(x + j + 16), all, mv, md, store ? store + j + 16 : NULL, &a2,
                   &a3, &t, &dmin, check);
    }
    if (j + 16 <= C) {
        rest16_f32(_mm512_loadu_ps(x + j), all, mv, md, store ? store + j : NULL, &a0, &a1, &t,
                   &dmin, check);
        j += 16;
    }
    if (j < C) {
        __mmask16 live = fastce512_first16(C - j);
        rest16_f32(_mm512_maskz_loadu_ps(live, x + j), live, mv, md, store ? store + j : NULL,
                   &a2, &a3, &t, &dmin, check);
    }
    if (!check) *dmin_out = _mm512_reduce_min_ps(dmin);
    __m512d s = _mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3));
    return _mm512_reduce_add_pd(s) + ((double)t - 1.0);
}

/* The rest of a float row: the pass without checks, rerun with them when
 * its sum is not finite or an x_j - m was below -87 (see rest16_f32; a NaN
 * x_j - m makes the sum NaN); in place, the pass with checks at once. */
static inline double rest_f32(const float *x, ptrdiff_t C, double m, float *store) {
    float dmin;
    if (store != x) {
        double r = rest_pass_f32(x, C, m, store, &dmin, 0);
        if (isfinite(r) && dmin >= FASTCE_TAME_F32) return r;
    }
    return rest_pass_f32(x, C, m, store, &dmin, 1);
}

/* Compensated double lanes: *acc += v, that add's rounding error (TwoSum,
 * off the loop-carried chain) into *err. The terms are in [0, 1] or NaN, so
 * a lane never overflows and the sum is acc + err. */
FASTCE_ALWAYS_INLINE void two_sum_add(__m512d *acc, __m512d *err, __m512d v) {
    __m512d s = _mm512_add_pd(*acc, v);
    __m512d bp = _mm512_sub_pd(s, *acc);
    __m512d e = _mm512_add_pd(_mm512_sub_pd(*acc, _mm512_sub_pd(s, bp)), _mm512_sub_pd(v, bp));
    *err = _mm512_add_pd(*err, e);
    *acc = s;
}

/* Eight doubles of a row (the lanes in live): exp(x_j - m) stored (1 at a
 * maximum) when store is set, and returned except at a maximum (0 there),
 * whose lanes count in ties instead; with lo, its rounding error in *lo
 * (0 at a maximum). tame leaves out the exp's clamp and NaN guard;
 * tame == 2 also raises entries below m - FASTCE_FLOOR_F64 (-inf
 * included) to it (see rest_f64). */
FASTCE_ALWAYS_INLINE __m512d terms8_f64(__m512d v, __mmask8 live, __m512d mv, double *store,
                                        unsigned *ties, const int tame, __m512d *lo) {
    __mmask8 eq = _mm512_mask_cmp_pd_mask(live, v, mv, _CMP_EQ_OQ);
    if (tame == 2) v = _mm512_max_pd(_mm512_sub_pd(mv, _mm512_set1_pd(FASTCE_FLOOR_F64)), v);
    __m512d ex = fastce512_exp_diff_lo_pd(v, mv, tame, lo);
    if (store) _mm512_mask_storeu_pd(store, live, _mm512_mask_blend_pd(eq, ex, _mm512_set1_pd(1.0)));
    *ties += (unsigned)__builtin_popcount((unsigned)eq);
    /* (in the tame passes, whose m is finite, *lo is 0 at a maximum
     * already: exp(0) is 1 exactly; not at a +inf one, inf - inf) */
    if (!tame) *lo = _mm512_maskz_mov_pd(_kandn_mask8(eq, live), *lo);
    else if (live != 0xff) *lo = _mm512_maskz_mov_pd(live, *lo);
    return _mm512_maskz_mov_pd(_kandn_mask8(eq, live), ex);
}

/* The rest of a row as hi (returned) + *lo (vec.h's row_rest): every
 * vector goes into the compensated lanes by itself, the terms' rounding
 * errors into the error lanes. */
FASTCE_ALWAYS_INLINE double rest_pass_f64(const double *x, ptrdiff_t C, double m,
                                          double *store, const int tame, double *lo) {
    const __m512d mv = _mm512_set1_pd(m);
    const __mmask8 all = 0xff;
    __m512d a0 = _mm512_setzero_pd(), e0 = a0, a1 = a0, e1 = a0, pl = a0, ql = a0;
    unsigned t = 0;
    ptrdiff_t j = 0;
    for (; j + 16 <= C; j += 16) {
        /* two rows ahead (x + 2C): in cache when its max pass comes */
        _mm_prefetch((const char *)(x + 2 * C + j), _MM_HINT_T0);
        _mm_prefetch((const char *)(x + 2 * C + j + 8), _MM_HINT_T0);
        __m512d p = terms8_f64(_mm512_loadu_pd(x + j), all, mv, store ? store + j : NULL, &t, tame,
                               &pl);
        __m512d q = terms8_f64(_mm512_loadu_pd(x + j + 8), all, mv,
                               store ? store + j + 8 : NULL, &t, tame, &ql);
        two_sum_add(&a0, &e0, p);
        two_sum_add(&a1, &e1, q);
        e0 = _mm512_add_pd(e0, _mm512_add_pd(pl, ql));
    }
    if (j + 8 <= C) {
        two_sum_add(&a1, &e1, terms8_f64(_mm512_loadu_pd(x + j), all, mv,
                                         store ? store + j : NULL, &t, tame, &pl));
        e1 = _mm512_add_pd(e1, pl);
        j += 8;
    }
    if (j < C) {
        __mmask8 live = fastce512_first8(C - j);
        two_sum_add(&a1, &e1, terms8_f64(_mm512_maskz_loadu_pd(live, x + j), live, mv,
                                         store ? store + j : NULL, &t, tame, &pl));
        e1 = _mm512_add_pd(e1, pl);
    }
    double a[16], e[16];
    _mm512_storeu_pd(a, a0);
    _mm512_storeu_pd(a + 8, a1);
    _mm512_storeu_pd(e, e0);
    _mm512_storeu_pd(e + 8, e1);
    fastce_acc s = fastce_lanes_acc(a, e, 16);
    return fastce_rest_dd(s.s, s.c, (double)t - 1.0, lo);
}

/* The rest of a double row with a finite max m, every x_j <= m or NaN.
 * The exp without its clamp and NaN guard gives every term of a finite
 * x_j - m right or not finite: exactly 0 below -746 down to far below,
 * then a value that is not finite, never a finite wrong one (checked for
 * the table-driven exp of simd_avx512.h, see there; the float exp does the
 * same, which the float row kernels use). So the first pass, cheaper by
 * its clamp, is right whenever its sum is finite, and only a row whose sum
 * is not (a -inf or NaN entry, a huge range) runs the guarded pass, which
 * gives the same bits wherever the first one's were finite.
 *
 * In place (store == x) the second pass would read the terms the first
 * stored over x. There the first pass raises entries below m - 800 to it:
 * their terms are 0 either way, -inf gives 0 and a NaN stays NaN. With
 * |m| <= 2^40 that pass is then right unless the row holds a NaN, whose
 * sum is NaN again in the second pass (and so every stored term, once the
 * caller divides by it); larger rows take the guarded pass at once. The
 * bits are those of the other calls. */
static inline double rest_f64(const double *x, ptrdiff_t C, double m, double *store,
                              double *lo) {
    double unused;
    if (!lo) lo = &unused; /* (every float64 caller takes it) */
    double r;
    if (store != x)
        r = rest_pass_f64(x, C, m, store, 1, lo);
    else if (fabs(m) <= FASTCE_TAME_MAX_F64)
        r = rest_pass_f64(x, C, m, store, 2, lo);
    else
        return rest_pass_f64(x, C, m, store, 0, lo);
    return isfinite(r) ? r : rest_pass_f64(x, C, m, store, 0, lo);
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

/* ------------------------------------------- dense and smoothing sums */

/* row_wdiff (vec.h) in double lanes: eight entries of the row (the lanes
 * in live) and their t (ones without t) into the lanes; the sums of t and
 * the zero-t rule only for dense rows. comp: compensated (TwoSum) adds,
 * for double rows. A float row's terms need none: m - x_j of two floats
 * is exact in double (or off by less than 2^-29 of it), its product with
 * a float t_j too, and a plain double sum of C <= 2^24 such terms is
 * within C 2^-53 of the exact one, far below a float ulp; the adds are
 * the loop's bound (one 512-bit add a cycle here: TwoSum's six made the
 * float pass as slow as the exp pass). */
FASTCE_ALWAYS_INLINE void sum_add(__m512d *acc, __m512d *err, __m512d v, const int comp) {
    if (comp) two_sum_add(acc, err, v);
    else *acc = _mm512_add_pd(*acc, v);
}

FASTCE_ALWAYS_INLINE void wdiff8(__m512d v, __m512d tv, __mmask8 live, __m512d mv, const int dense,
                                 const int comp, __m512d *a, __m512d *ae, __m512d *b, __m512d *be,
                                 __m512d *tm) {
    __mmask8 eq = _mm512_mask_cmp_pd_mask(live, v, mv, _CMP_EQ_OQ), ne = live & ~eq;
    if (!dense) {
        sum_add(a, ae, _mm512_mul_pd(tv, _mm512_maskz_sub_pd(ne, mv, v)), comp);
        return;
    }
    __mmask8 nz = _mm512_mask_cmp_pd_mask(ne, tv, _mm512_setzero_pd(), _CMP_NEQ_UQ);
    sum_add(a, ae, _mm512_maskz_mul_pd(nz, tv, _mm512_sub_pd(mv, v)), comp);
    sum_add(b, be, _mm512_maskz_mov_pd(ne, tv), comp);
    *tm = _mm512_mask_add_pd(*tm, eq, *tm, tv);
}

/* Sixteen entries a step in two sets of lanes, the tail masked; has_t,
 * has_w (t_j w_j for t_j: dense targets with class weights) and dense are
 * constants in each copy. */
#define FASTCE_ROW_WDIFF_512(SUF, TYPE, MLOAD, COMP)                                                 \
    FASTCE_ALWAYS_INLINE ptrdiff_t wdiff_row_##SUF(const TYPE *x, const TYPE *t, const TYPE *w, \
                                                   ptrdiff_t C, double m, const int has_t,     \
                                                   const int has_w, const int dense,           \
                                                   double out[4]) {                            \
        const __m512d mv = _mm512_set1_pd(m), one = _mm512_set1_pd(1.0);                       \
        __m512d a0 = _mm512_setzero_pd(), ae0 = a0, b0 = a0, be0 = a0, tm = a0;                \
        __m512d a1 = a0, ae1 = a0, b1 = a0, be1 = a0;                                          \
        ptrdiff_t k = -1, j = 0;                                                               \
        for (; j + 16 <= C; j += 16) {                                                         \
            __m512d v0 = MLOAD(0xff, x + j), v1 = MLOAD(0xff, x + j + 8);                      \
            if (dense && k < 0) {                                                              \
                unsigned eq = _mm512_cmp_pd_mask(v0, mv, _CMP_EQ_OQ) |                         \
                              (unsigned)_mm512_cmp_pd_mask(v1, mv, _CMP_EQ_OQ) << 8;           \
                if (eq) k = j + __builtin_ctz(eq);                                             \
            }                                                                                  \
            __m512d t0 = has_t ? MLOAD(0xff, t + j) : one;                                     \
            __m512d t1 = has_t ? MLOAD(0xff, t + j + 8) : one;                                 \
            if (has_w) {                                                                       \
                t0 = _mm512_mul_pd(t0, MLOAD(0xff, w + j));                                    \
                t1 = _mm512_mul_pd(t1, MLOAD(0xff, w + j + 8));                                \
            }                                                                                  \
            wdiff8(v0, t0, 0xff, mv, dense, COMP, &a0, &ae0, &b0, &be0, &tm);                  \
            wdiff8(v1, t1, 0xff, mv, dense, COMP, &a1, &ae1, &b1, &be1, &tm);                  \
        }                                                                                      \
        for (; j < C; j += 8) {                                                                \
            const __mmask8 live = C - j >= 8 ? 0xff : fastce512_first8(C - j);                 \
            __m512d v = MLOAD(live, x + j);                                                    \
            __mmask8 eq = _mm512_mask_cmp_pd_mask(live, v, mv, _CMP_EQ_OQ);                    \
            if (dense && k < 0 && eq) k = j + __builtin_ctz(eq);                               \
            __m512d tv = has_t ? MLOAD(live, t + j) : one;                                     \
            if (has_w) tv = _mm512_mul_pd(tv, MLOAD(live, w + j));                             \
            wdiff8(v, tv, live, mv, dense, COMP, &a0, &ae0, &b0, &be0, &tm);                   \
        }                                                                                      \
        double l[4][16];                                                                       \
        const __m512d lanes[4][2] = {{a0, a1}, {ae0, ae1}, {b0, b1}, {be0, be1}};              \
        for (int i = 0; i < 4; i++) {                                                          \
            _mm512_storeu_pd(l[i], lanes[i][0]);                                               \
            _mm512_storeu_pd(l[i] + 8, lanes[i][1]);                                           \
        }                                                                                      \
        fastce_wdiff_out(l[0], l[1], l[2], l[3], 16, _mm512_reduce_add_pd(tm), out);          \
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

FASTCE_ROW_WDIFF_512(f32, float, fastce512_mload8_f32, 0)
FASTCE_ROW_WDIFF_512(f64, double, fastce512_mload8_f64, 1)
#undef FASTCE_ROW_WDIFF_512

/* row_dense_dot2 (vec.h): the exact sums of a float64 dense row, lane by
 * lane as fastce_dense_sums_add (internal.h) has them: d_j = max - x_j as
 * hi + lo (0 at a maximum), w_j t_j as hi + lo (t_j without class
 * weights), sum w_j t_j by TwoSum, sum w_j t_j d_j by Dot2 where
 * w_j t_j != 0 and, with smoothing, sum w_j d_j where w_j != 0; the lanes
 * then added in order. The scalar loop took 25 ns an entry at (16384,
 * 1000) with smoothing (0.04 G/s). */
FASTCE_ALWAYS_INLINE void dense_dot2_row(const double *x, const double *t, const double *w,
                                         ptrdiff_t C, double m, const int has_w, int smoothing,
                                         double out[6]) {
    const __m512d mv = _mm512_set1_pd(m), zero = _mm512_setzero_pd();
    __m512d at = zero, at_e = zero, st = zero, st_e = zero, aw = zero, aw_e = zero;
    for (ptrdiff_t j = 0; j < C; j += 8) {
        const __mmask8 live = C - j >= 8 ? 0xff : fastce512_first8(C - j);
        const __m512d v = fastce512_mload8_f64(live, x + j), tv = fastce512_mload8_f64(live, t + j);
        const __mmask8 ne = _mm512_mask_cmp_pd_mask(live, v, mv, _CMP_NEQ_UQ);
        fastce512_dd d = fastce512_two_sum(mv, _mm512_sub_pd(zero, v));
        d.hi = _mm512_maskz_mov_pd(ne, d.hi);
        d.lo = _mm512_maskz_mov_pd(ne, d.lo);
        __m512d wv = zero;
        fastce512_dd wt = {tv, zero};
        if (has_w) { /* w_j t_j exact as hi + lo */
            wv = fastce512_mload8_f64(live, w + j);
            wt = fastce512_two_prod(wv, tv);
        }
        two_sum_add(&st, &st_e, wt.hi);
        if (has_w) st_e = _mm512_add_pd(st_e, wt.lo);
        const __mmask8 nz = _mm512_cmp_pd_mask(wt.hi, zero, _CMP_NEQ_UQ);
        const fastce512_dd p = fastce512_two_prod(wt.hi, d.hi);
        const fastce512_dd s = fastce512_two_sum(at, p.hi);
        at = _mm512_mask_mov_pd(at, nz, s.hi);
        __m512d cross = _mm512_mul_pd(wt.hi, d.lo);
        if (has_w) cross = _mm512_add_pd(cross, _mm512_mul_pd(wt.lo, d.hi));
        at_e = _mm512_mask_add_pd(at_e, nz, at_e, _mm512_add_pd(_mm512_add_pd(s.lo, p.lo), cross));
        if (smoothing && has_w) { /* sum w_j d_j where w_j != 0 */
            const __mmask8 wz = _mm512_cmp_pd_mask(wv, zero, _CMP_NEQ_UQ);
            const fastce512_dd q = fastce512_two_prod(wv, d.hi);
            const fastce512_dd r = fastce512_two_sum(aw, q.hi);
            aw = _mm512_mask_mov_pd(aw, wz, r.hi);
            aw_e = _mm512_mask_add_pd(aw_e, wz, aw_e, _mm512_add_pd(_mm512_add_pd(r.lo, q.lo),
                                                                   _mm512_mul_pd(wv, d.lo)));
        } else if (smoothing) {
            two_sum_add(&aw, &aw_e, d.hi);
            aw_e = _mm512_add_pd(aw_e, d.lo);
        }
    }
    double l[6][8];
    const __m512d lanes[6] = {at, at_e, st, st_e, aw, aw_e};
    for (int i = 0; i < 6; i++) _mm512_storeu_pd(l[i], lanes[i]);
    for (int i = 0; i < 3; i++) {
        fastce_acc a = fastce_lanes_acc(l[2 * i], l[2 * i + 1], 8);
        out[2 * i] = a.s, out[2 * i + 1] = a.c;
    }
}

static void row_dense_dot2_f64(const double *x, const double *t, const double *w, ptrdiff_t C,
                               double m, int smoothing, double out[6]) {
    if (w) dense_dot2_row(x, t, w, C, m, 1, smoothing, out);
    else dense_dot2_row(x, t, NULL, C, m, 0, smoothing, out);
}

/* ------------------------------------------------ second passes of a row */

/* scale * e + w * (offset * t + shift) and (x - m) - lse_rel in double
 * lanes, rounded once (vec.h), one scale_row body per operand present; the
 * tail masked. Loads come before stores: out may be e. */
#define FASTCE_SECOND_PASS_512(SUF, TYPE)                                                  \
    FASTCE_ALWAYS_INLINE void scale_row_body_##SUF(const TYPE *e, ptrdiff_t C, double scale, \
                                                   double offset, const TYPE *t,         \
                                                   double shift, const TYPE *w, TYPE *out, \
                                                   const int has_t, const int has_w) {   \
        const __m512d sv = _mm512_set1_pd(scale), ov = _mm512_set1_pd(offset);             \
        const __m512d hv = _mm512_set1_pd(shift), b0 = _mm512_set1_pd(offset + shift);    \
        for (ptrdiff_t j = 0; j < C; j += 8) {                                             \
            __mmask8 k = C - j >= 8 ? 0xff : fastce512_first8(C - j);                      \
            __m512d b = has_t ? _mm512_fmadd_pd(ov, fastce512_mload8_##SUF(k, t + j), hv) : b0; \
            if (has_w) b = _mm512_mul_pd(b, fastce512_mload8_##SUF(k, w + j));             \
            fastce512_mstore8_##SUF(k, out + j,                                            \
                                    _mm512_fmadd_pd(sv, fastce512_mload8_##SUF(k, e + j), b)); \
        }                                                                                  \
    }                                                                                      \
    static void scale_row_##SUF(const TYPE *e, ptrdiff_t C, double scale, double offset,   \
                                const TYPE *t, double shift, const TYPE *w, TYPE *out) {   \
        FASTCE_SCALE_ROW_BY_OPERANDS(scale_row_body_##SUF, e, C, scale, offset, t, shift, w, \
                                     out);                                                 \
    }                                                                                      \
    static void log_softmax_row_##SUF(const TYPE *x, ptrdiff_t C, double m, double lse_rel, \
                                      TYPE *out) {                                         \
        const __m512d mv = _mm512_set1_pd(m), lv = _mm512_set1_pd(lse_rel);               \
        for (ptrdiff_t j = 0; j < C; j += 8) {                                             \
            __mmask8 k = C - j >= 8 ? 0xff : fastce512_first8(C - j);                                 \
            fastce512_mstore8_##SUF(k, out + j, _mm512_sub_pd(_mm512_sub_pd(fastce512_mload8_##SUF(k, x + j), mv), lv)); \
        }                                                                                  \
    }

FASTCE_SECOND_PASS_512(f32, float)
FASTCE_SECOND_PASS_512(f64, double)

/* ------------------------------------- logsumexp's cancelling rows */

/* vec.h's lse_dd_rest: eight terms a step in double-double lanes, each lane
 * summing its own in three words (fastce512_dd_acc_add), the lanes added
 * at the end by the scalar accumulator. Excluded lanes (the one maximum,
 * d.hi < -745, past C) take exp(0) and add 0. logsumexp of 2048 rows of
 * 1000 float64 log-probabilities: 8.8x faster than the scalar loop
 * (bench/lse_cancel.py). */
#define FASTCE_LSE_DD_REST_512(SUF, TYPE)                                                    \
    static void lse_dd_rest_##SUF(const TYPE *x, ptrdiff_t C, double m, double acc[3]) {     \
        const __m512d mv = _mm512_set1_pd(m), neg_m = _mm512_set1_pd(-m);                    \
        __m512d hi = _mm512_setzero_pd(), mid = hi, lo = hi;                                  \
        int first = 1;                                                                       \
        for (ptrdiff_t j = 0; j < C; j += 8) {                                               \
            __mmask8 k = C - j >= 8 ? 0xff : fastce512_first8(C - j);                        \
            __m512d v = fastce512_mload8_##SUF(k, x + j);                                    \
            if (first) { /* one maximum stays out of the rest */                             \
                unsigned eq = _mm512_mask_cmp_pd_mask(k, v, mv, _CMP_EQ_OQ);                  \
                if (eq) {                                                                    \
                    k &= (__mmask8)~(eq & (0u - eq));                                        \
                    first = 0;                                                               \
                }                                                                            \
            }                                                                                \
            fastce512_dd d = fastce512_two_sum(v, neg_m);                                    \
            k &= _mm512_cmp_pd_mask(d.hi, _mm512_set1_pd(-745.0), _CMP_NLT_UQ);              \
            fastce512_dd e = fastce512_dd_exp(_mm512_maskz_mov_pd(k, d.hi));                 \
            fastce512_dd corr = fastce512_two_prod(e.hi, d.lo);                              \
            corr.lo = _mm512_add_pd(corr.lo, _mm512_mul_pd(e.hi, _mm512_mul_pd(               \
                _mm512_mul_pd(_mm512_set1_pd(0.5), d.lo), d.lo)));                           \
            fastce512_dd t = fastce512_dd_add(e, corr);                                      \
            t.hi = _mm512_maskz_mov_pd(k, t.hi);                                             \
            t.lo = _mm512_maskz_mov_pd(k, t.lo);                                             \
            fastce512_dd_acc_add(&hi, &mid, &lo, t);                                         \
        }                                                                                    \
        double h[8], md[8], l[8];                                                            \
        _mm512_storeu_pd(h, hi);                                                             \
        _mm512_storeu_pd(md, mid);                                                           \
        _mm512_storeu_pd(l, lo);                                                             \
        fastce_dd_acc_lanes(h, md, l, 8, acc);                                               \
    }

FASTCE_LSE_DD_REST_512(f32, float)
FASTCE_LSE_DD_REST_512(f64, double)

/* ------------------------------------------------- the math, for tests */

/* The vectorised functions as the kernels use them (vec.h): float exp in
 * float lanes, every other function in double lanes, the float hook
 * rounding their results once. */
static inline __m512d math8(int f, __m512d v) {
    switch (f) {
    case FASTCE_MATH_EXP: return fastce512_exp_pd(v, FASTCE_EXP_ANY);
    case FASTCE_MATH_LOG: return fastce512_log_pd(v);
    case FASTCE_MATH_EXP24: return fastce512_exp24_pd(v);
    case FASTCE_MATH_LOG1P24: return fastce512_log1p24_pd(v);
    case FASTCE_MATH_LOG24: return fastce512_log_pos_pd(v, 1);
    case FASTCE_MATH_EXP_DD: {
        __m512d lo, hi = fastce512_exp_dd_pd(v, &lo);
        return _mm512_add_pd(hi, lo);
    }
    case FASTCE_MATH_LOG1P_DD: return fastce512_log1p_dd_pd(v, _mm512_setzero_pd());
    default: return fastce512_log1p_pd(v);
    }
}

static void math_f32(int f, const float *x, float *out, ptrdiff_t n) {
    if (f == FASTCE_MATH_EXP) {
        for (ptrdiff_t i = 0; i < n; i += 16) {
            __mmask16 k = n - i >= 16 ? 0xffff : fastce512_first16(n - i);
            _mm512_mask_storeu_ps(out + i, k, fastce512_exp_ps(_mm512_maskz_loadu_ps(k, x + i),
                                                               FASTCE_EXP_ANY));
        }
        return;
    }
    for (ptrdiff_t i = 0; i < n; i += 8) {
        __mmask8 k = n - i >= 8 ? 0xff : fastce512_first8(n - i);
        fastce512_mstore8_f32(k, out + i, math8(f, fastce512_mload8_f32(k, x + i)));
    }
}

static void math_f64(int f, const double *x, double *out, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i += 8) {
        __mmask8 k = n - i >= 8 ? 0xff : fastce512_first8(n - i);
        fastce512_mstore8_f64(k, out + i, math8(f, fastce512_mload8_f64(k, x + i)));
    }
}

void fastce_vec_avx512_fill(fastce_vec_ops *t) {
    t->name = "avx512";
    t->row_max_f32 = row_max_f32;
    t->row_max_f64 = row_max_f64;
    t->row_rest_f32 = row_rest_f32;
    t->row_rest_f64 = row_rest_f64;
    t->row_wdiff_f32 = row_wdiff_f32;
    t->row_wdiff_f64 = row_wdiff_f64;
    t->row_dense_dot2_f64 = row_dense_dot2_f64;
    t->row_rest_store_f32 = row_rest_store_f32;
    t->row_rest_store_f64 = row_rest_store_f64;
    t->scale_row_f32 = scale_row_f32;
    t->scale_row_f64 = scale_row_f64;
    t->log_softmax_row_f32 = log_softmax_row_f32;
    t->log_softmax_row_f64 = log_softmax_row_f64;
    t->math_f32 = math_f32;
    t->math_f64 = math_f64;
    t->lse_dd_rest_f32 = lse_dd_rest_f32;
    t->lse_dd_rest_f64 = lse_dd_rest_f64;
    t->row_argmax_f32 = row_argmax_f32;
    t->row_argmax_f64 = row_argmax_f64;
    fastce_vec_avx512_fill_rows(t);
    fastce_vec_avx512_fill_rows_f64(t);
    fastce_vec_avx512_fill_pointwise(t);
    fastce_vec_avx512_fill_planes(t);
    fastce_vec_avx512_fill_planes_f64(t);
}

#endif /* FASTCE_HAVE_AVX512_TABLE */
