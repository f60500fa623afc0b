/* vec_avx2.c: the row primitives for AVX2 + FMA (contract in vec.h).
 * Compiled with -mavx2 -mfma (CMakeLists.txt); dispatch.c calls into this
 * table only on CPUs that have both. Arithmetic matches the scalar table:
 * float rows are reduced in double lanes, double rows with Kahan-compensated
 * lanes, and exp(x - m) corrects the rounding of x - m (TwoSum). */
#include "vec.h"

#ifdef FASTCE_HAVE_AVX2_TABLE

#include <math.h>

#include "internal.h"
#include "simd_avx2.h"

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

/* Lane masks for the first r (< 8 or < 4) elements of a tail. */
static inline __m256i tail_mask_ps(ptrdiff_t r) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)r),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __m256i tail_mask_pd(ptrdiff_t r) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(r), _mm256_setr_epi64x(0, 1, 2, 3));
}

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
static inline __m256d exp_diff_pd(__m256d v, __m256d m) {
    __m256d d = _mm256_sub_pd(v, m);
    __m256d ap = _mm256_add_pd(d, m), bp = _mm256_sub_pd(d, ap);
    __m256d err = _mm256_sub_pd(_mm256_sub_pd(v, ap), _mm256_add_pd(m, bp));
    __m256d e = fastce_exp_pd(d);
    err = _mm256_and_pd(err, _mm256_cmp_pd(err, err, _CMP_ORD_Q));
    return _mm256_fmadd_pd(e, err, e);
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

/* ----------------------------------------------------------- row rest */

static inline double rest_f32(const float *x, ptrdiff_t C, double m, float *store) {
    const __m256 mv = _mm256_set1_ps((float)m);
    __m256d acc0 = _mm256_setzero_pd(), acc1 = acc0;
    __m256i ties = _mm256_setzero_si256();
    for (ptrdiff_t j = 0; j < C; j += 8) {
        __m256 v, live;
        if (j + 8 <= C) {
            v = _mm256_loadu_ps(x + j);
            live = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
        } else {
            __m256i mask = tail_mask_ps(C - j);
            v = _mm256_maskload_ps(x + j, mask);
            live = _mm256_castsi256_ps(mask);
        }
        __m256 eq = _mm256_and_ps(_mm256_cmp_ps(v, mv, _CMP_EQ_OQ), live);
        __m256 ex = exp_diff_ps(v, mv);
        if (store) {
            __m256 out = _mm256_blendv_ps(ex, _mm256_set1_ps(1.0f), eq);
            if (j + 8 <= C) _mm256_storeu_ps(store + j, out);
            else _mm256_maskstore_ps(store + j, _mm256_castps_si256(live), out);
        }
        __m256 e = _mm256_andnot_ps(eq, _mm256_and_ps(ex, live));
        ties = _mm256_sub_epi32(ties, _mm256_castps_si256(eq)); /* mask = -1 */
        acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    return hsum_pd(_mm256_add_pd(acc0, acc1)) + (double)(hsum_epi32(ties) - 1);
}

/* Kahan-compensated lanes: acc + comp holds the running sum. */
static inline void kahan_add_pd(__m256d *acc, __m256d *comp, __m256d v) {
    __m256d y = _mm256_sub_pd(v, *comp);
    __m256d t = _mm256_add_pd(*acc, y);
    __m256d c = _mm256_sub_pd(_mm256_sub_pd(t, *acc), y);
    *comp = _mm256_and_pd(c, _mm256_cmp_pd(c, c, _CMP_ORD_Q)); /* an inf sum: no NaN */
    *acc = t;
}

static inline double kahan_total(__m256d acc, __m256d comp) {
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

static inline double rest_f64(const double *x, ptrdiff_t C, double m, double *store) {
    const __m256d mv = _mm256_set1_pd(m);
    __m256d acc = _mm256_setzero_pd(), comp = acc;
    __m256i ties = _mm256_setzero_si256();
    for (ptrdiff_t j = 0; j < C; j += 4) {
        __m256d v, live;
        if (j + 4 <= C) {
            v = _mm256_loadu_pd(x + j);
            live = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
        } else {
            __m256i mask = tail_mask_pd(C - j);
            v = _mm256_maskload_pd(x + j, mask);
            live = _mm256_castsi256_pd(mask);
        }
        __m256d eq = _mm256_and_pd(_mm256_cmp_pd(v, mv, _CMP_EQ_OQ), live);
        __m256d ex = exp_diff_pd(v, mv);
        if (store) {
            __m256d out = _mm256_blendv_pd(ex, _mm256_set1_pd(1.0), eq);
            if (j + 4 <= C) _mm256_storeu_pd(store + j, out);
            else _mm256_maskstore_pd(store + j, _mm256_castpd_si256(live), out);
        }
        __m256d e = _mm256_andnot_pd(eq, _mm256_and_pd(ex, live));
        ties = _mm256_sub_epi64(ties, _mm256_castpd_si256(eq));
        kahan_add_pd(&acc, &comp, e);
    }
    long long t[4];
    _mm256_storeu_si256((__m256i *)t, ties);
    return kahan_total(acc, comp) + (double)(t[0] + t[1] + t[2] + t[3] - 1);
}

static double row_rest_f32(const float *x, ptrdiff_t C, double m) {
    return rest_f32(x, C, m, NULL);
}
static double row_rest_f64(const double *x, ptrdiff_t C, double m) {
    return rest_f64(x, C, m, NULL);
}
static double row_rest_store_f32(const float *x, ptrdiff_t C, double m, float *e) {
    return rest_f32(x, C, m, e);
}
static double row_rest_store_f64(const double *x, ptrdiff_t C, double m, double *e) {
    return rest_f64(x, C, m, e);
}

/* --------------------------------------------------------- sigmoid CE */

/* Four elements in double lanes (see fastce_sigmoid_ce_one in internal.h). */
static inline __m256d sigmoid_ce4(__m256d x, __m256d z, __m256d w, __m256d q,
                                  __m256d *grad) {
    const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0);
    __m256d a = _mm256_andnot_pd(_mm256_set1_pd(-0.0), x);
    __m256d e = fastce_exp_pd(_mm256_sub_pd(zero, a));
    __m256d tail = fastce_log1p_pd(e);
    __m256d sp_pos = _mm256_add_pd(_mm256_max_pd(x, zero), tail);
    __m256d sp_neg = _mm256_add_pd(_mm256_max_pd(_mm256_sub_pd(zero, x), zero), tail);
    __m256d c_neg = _mm256_mul_pd(q, z), c_pos = _mm256_sub_pd(one, z);
    /* a zero coefficient contributes 0 even against an infinite softplus */
    __m256d t_neg = _mm256_andnot_pd(_mm256_cmp_pd(c_neg, zero, _CMP_EQ_OQ), _mm256_mul_pd(c_neg, sp_neg));
    __m256d t_pos = _mm256_andnot_pd(_mm256_cmp_pd(c_pos, zero, _CMP_EQ_OQ), _mm256_mul_pd(c_pos, sp_pos));
    /* a NaN x makes tail, hence both softplus terms, NaN (like the scalar
     * path); a zero coefficient still drops its term */
    __m256d l = _mm256_mul_pd(w, _mm256_add_pd(t_neg, t_pos));
    if (grad) {
        __m256d big = _mm256_div_pd(one, _mm256_add_pd(one, e));
        __m256d small = _mm256_mul_pd(e, big);
        __m256d pos = _mm256_cmp_pd(x, zero, _CMP_GE_OQ);
        __m256d sig_pos = _mm256_blendv_pd(small, big, pos);
        __m256d sig_neg = _mm256_blendv_pd(big, small, pos);
        __m256d g = _mm256_fmsub_pd(c_pos, sig_pos, _mm256_mul_pd(c_neg, sig_neg));
        *grad = _mm256_mul_pd(w, g);
    }
    return l;
}

#define FASTCE_SIGMOID_AVX2(SUF, TYPE, LOAD4, STORE4)                                 \
    static double sigmoid_ce_##SUF(const TYPE *x, const TYPE *z, const TYPE *w,       \
                                   const TYPE *q, ptrdiff_t n, TYPE *loss,           \
                                   TYPE *grad, double grad_scale) {                  \
        const __m256d one = _mm256_set1_pd(1.0), gs = _mm256_set1_pd(grad_scale);     \
        __m256d acc = _mm256_setzero_pd(), comp = acc;                               \
        ptrdiff_t i = 0;                                                             \
        for (; i + 4 <= n; i += 4) {                                                 \
            __m256d g;                                                               \
            __m256d l = sigmoid_ce4(LOAD4(x + i), LOAD4(z + i), w ? LOAD4(w + i) : one, \
                                    q ? LOAD4(q + i) : one, grad ? &g : NULL);       \
            if (loss) STORE4(loss + i, l);                                           \
            if (grad) STORE4(grad + i, _mm256_mul_pd(gs, g));                        \
            kahan_add_pd(&acc, &comp, l);                                            \
        }                                                                            \
        fastce_acc rest = {kahan_total(acc, comp), 0.0};                             \
        for (; i < n; i++) {                                                         \
            double l, g;                                                             \
            fastce_sigmoid_ce_one((double)x[i], (double)z[i], w ? (double)w[i] : 1.0, \
                                  q ? (double)q[i] : 1.0, &l, grad ? &g : NULL);     \
            if (loss) loss[i] = (TYPE)l;                                             \
            if (grad) grad[i] = (TYPE)(grad_scale * g);                              \
            fastce_acc_add(&rest, l);                                                \
        }                                                                            \
        return fastce_acc_value(rest);                                               \
    }

#define LOAD4_F32(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define STORE4_F32(p, v) _mm_storeu_ps((p), _mm256_cvtpd_ps(v))
FASTCE_SIGMOID_AVX2(f32, float, LOAD4_F32, STORE4_F32)
FASTCE_SIGMOID_AVX2(f64, double, _mm256_loadu_pd, _mm256_storeu_pd)

/* ---------------------------------------------------------- binary CE */

/* Four elements in double lanes (see fastce_binary_ce_one in internal.h). */
static inline __m256d binary_ce4(__m256d p, __m256d z, __m256d w, __m256d lo,
                                 __m256d hi, __m256d *grad) {
    const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0);
    __m256d nan_p = _mm256_cmp_pd(p, p, _CMP_UNORD_Q);
    __m256d pc = _mm256_min_pd(_mm256_max_pd(p, lo), hi);
    __m256d cz = z, cnz = _mm256_sub_pd(one, z);
    __m256d t1 = _mm256_andnot_pd(_mm256_cmp_pd(cz, zero, _CMP_EQ_OQ),
                                  _mm256_mul_pd(cz, fastce_log_pd(pc)));
    __m256d t2 = _mm256_andnot_pd(_mm256_cmp_pd(cnz, zero, _CMP_EQ_OQ),
                                  _mm256_mul_pd(cnz, fastce_log1p_pd(_mm256_sub_pd(zero, pc))));
    __m256d l = _mm256_mul_pd(_mm256_sub_pd(zero, w), _mm256_add_pd(t1, t2));
    l = _mm256_blendv_pd(l, p, nan_p);
    if (grad) {
        __m256d g = _mm256_sub_pd(_mm256_div_pd(cnz, _mm256_sub_pd(one, pc)), _mm256_div_pd(cz, pc));
        *grad = _mm256_blendv_pd(_mm256_mul_pd(w, g), p, nan_p);
    }
    return l;
}

#define FASTCE_BINARY_AVX2(SUF, TYPE, LOAD4, STORE4)                                   \
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
                                   lov, hiv, grad ? &g : NULL);                          \
            if (loss) STORE4(loss + i, l);                                               \
            if (grad) STORE4(grad + i, _mm256_mul_pd(gs, g));                            \
            kahan_add_pd(&acc, &comp, l);                                                \
        }                                                                                \
        fastce_acc rest = {kahan_total(acc, comp), 0.0};                                 \
        for (; i < n; i++) {                                                             \
            double l, g;                                                                 \
            fastce_binary_ce_one((double)p[i], (double)z[i], w ? (double)w[i] : 1.0, lo,  \
                                 hi, &l, grad ? &g : NULL);                              \
            if (loss) loss[i] = (TYPE)l;                                                 \
            if (grad) grad[i] = (TYPE)(grad_scale * g);                                  \
            fastce_acc_add(&rest, l);                                                    \
        }                                                                                \
        return fastce_acc_value(rest);                                                   \
    }

FASTCE_BINARY_AVX2(f32, float, LOAD4_F32, STORE4_F32)
FASTCE_BINARY_AVX2(f64, double, _mm256_loadu_pd, _mm256_storeu_pd)

/* ------------------------------------------------- the math, for tests */

static inline __m256d math4(int f, __m256d v) {
    return f == FASTCE_MATH_EXP ? fastce_exp_pd(v)
         : f == FASTCE_MATH_LOG ? fastce_log_pd(v) : fastce_log1p_pd(v);
}

static void math_f32(int f, const float *x, float *out, ptrdiff_t n) {
    ptrdiff_t i = 0;
    if (f == FASTCE_MATH_EXP) /* float exp runs in float lanes */
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, fastce_exp_ps(_mm256_loadu_ps(x + i)));
    else /* float log and log1p run in double lanes, as in the kernels */
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

#include "vec_avx2_rows.h"

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
};

#endif /* FASTCE_HAVE_AVX2_TABLE */
