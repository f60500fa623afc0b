/* vec_avx512_pointwise.c: the AVX-512 (F, DQ, BW, VL) elementwise and
 * probability kernels: sigmoid_ce, binary_ce, categorical_rows and the
 * entropy and KL sums (entropy_row, entropy_terms), with the
 * contracts of vec.h and the numerics of the AVX2 kernels (vec_avx2.c),
 * eight double lanes a step with mask registers for tails and the
 * zero-coefficient rules. Compiled with AVX-512 flags (CMakeLists.txt);
 * fastce_vec_avx512_fill (vec_avx512.c) calls fastce_vec_avx512_fill_pointwise
 * to put these entries over the table, which dispatch.c uses only on CPUs
 * that have AVX-512. */
#include "vec.h"

#ifdef FASTCE_HAVE_AVX512_TABLE

#include <math.h>

#include "fastce.h"
#include "internal.h"
#include "simd_avx512.h"


/* ------------------------------------------------------ compensated sums */

/* *acc += v, that add's rounding error (TwoSum, off the loop-carried chain)
 * into *err. The sum is acc + err; a lane whose sum turns inf or NaN stays
 * so, and its error turns NaN, which the totals (fastce_lanes_total,
 * comp_total) then leave out. */
FASTCE_ALWAYS_INLINE void two_sum_add(__m512d *acc, __m512d *err, __m512d v) {
    __m512d s = _mm512_add_pd(*acc, v);
    __m512d bp = _mm512_sub_pd(s, *acc);
    __m512d e = _mm512_add_pd(_mm512_sub_pd(*acc, _mm512_sub_pd(s, bp)), _mm512_sub_pd(v, bp));
    *err = _mm512_add_pd(*err, e);
    *acc = s;
}

/* Double-double lanes: the error-free sum and product (TwoSum, FMA). */
FASTCE_ALWAYS_INLINE __m512d two_sum_pd(__m512d a, __m512d b, __m512d *err) {
    __m512d s = _mm512_add_pd(a, b), bb = _mm512_sub_pd(s, a);
    *err = _mm512_add_pd(_mm512_sub_pd(a, _mm512_sub_pd(s, bb)), _mm512_sub_pd(b, bb));
    return s;
}
FASTCE_ALWAYS_INLINE __m512d two_prod_pd(__m512d a, __m512d b, __m512d *err) {
    __m512d p = _mm512_mul_pd(a, b);
    *err = _mm512_fmsub_pd(a, b, p);
    return p;
}
/* The lanes where v is finite and not zero (not NaN, +-0 or +-inf: fpclass
 * categories 0x01, 0x02, 0x04, 0x08, 0x10, 0x80): those whose
 * double-double loss replaces the plain one (nonzero_finite_pd in
 * vec_avx2.c says why). */
FASTCE_ALWAYS_INLINE __mmask8 nonzero_finite_mask(__m512d v) {
    return (__mmask8)~_mm512_fpclass_pd_mask(v, 0x9f);
}

/* --------------------------------------------------------- sigmoid CE */

/* The AVX2 kernel's scheme (vec_avx2.c) in eight double lanes: see there
 * for the formulas and their error analysis. */

/* Lanes whose sign bit is set (x < 0, -0 and negative NaNs): where the
 * AVX2 kernel's blendv on x picks its second operand. */
static inline __mmask8 sign8(__m512d x) { return _mm512_movepi64_mask(_mm512_castpd_si512(x)); }

/* Eight elements exactly as fastce_sigmoid_ce_one with exp_pd and
 * log1p_pd: the path of logits that are NaN, infinite or beyond
 * +-SIGMOID_FAST_MAX, where the zero-coefficient rule and NaN matter. */
FASTCE_ALWAYS_INLINE __m512d sigmoid_ce8_general(__m512d x, __m512d z, __m512d w, __m512d q,
                                                 int want_grad, __m512d *grad) {
    const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);
    __m512d e = fastce512_exp_pd(_mm512_sub_pd(zero, _mm512_abs_pd(x)), FASTCE_EXP_NONPOS);
    __m512d tail = fastce512_log1p_pd(e);
    __m512d sp_pos = _mm512_add_pd(_mm512_max_pd(x, zero), tail);
    __m512d sp_neg = _mm512_add_pd(_mm512_max_pd(_mm512_sub_pd(zero, x), zero), tail);
    __m512d c_neg = _mm512_mul_pd(q, z), c_pos = _mm512_sub_pd(one, z);
    /* a zero coefficient contributes 0 even against an infinite softplus */
    __mmask8 nz_neg = _mm512_cmp_pd_mask(c_neg, zero, _CMP_NEQ_UQ);
    __mmask8 nz_pos = _mm512_cmp_pd_mask(c_pos, zero, _CMP_NEQ_UQ);
    __m512d t_neg = _mm512_maskz_mul_pd(nz_neg, c_neg, sp_neg);
    __m512d t_pos = _mm512_maskz_mul_pd(nz_pos, c_pos, sp_pos);
    __m512d l = _mm512_mul_pd(w, _mm512_add_pd(t_neg, t_pos));
    if (want_grad) {
        __m512d big = _mm512_div_pd(one, _mm512_add_pd(one, e));
        __m512d small = _mm512_mul_pd(e, big);
        __mmask8 pos = _mm512_cmp_pd_mask(x, zero, _CMP_GE_OQ);
        __m512d sig_pos = _mm512_mask_mov_pd(small, pos, big);
        __m512d sig_neg = _mm512_mask_mov_pd(big, pos, small);
        /* and in the gradient (0 for two zero coefficients, NaN x too) */
        __m512d g = _mm512_sub_pd(_mm512_maskz_mul_pd(nz_pos, c_pos, sig_pos),
                                  _mm512_maskz_mul_pd(nz_neg, c_neg, sig_neg));
        *grad = _mm512_mul_pd(w, g);
    }
    return l;
}

/* The domain of exp24_pd and exp_dd_pd: |x| up to this takes the fast path. */
#define SIGMOID_FAST_MAX 708.0

/* Eight elements with finite |x| <= SIGMOID_FAST_MAX, given t = -|x|,
 * e = exp(t) and tail = log1p(e) (sigmoid_ce4_fast in vec_avx2.c):
 *   loss = w * ((c_neg + c_pos)*tail + c*|x|),
 *   grad = w * (c_pos - c_neg*e) / (1 + e)  (x >= 0),  w * (c_pos*e - c_neg) / (1 + e). */
FASTCE_ALWAYS_INLINE __m512d sigmoid_ce8_fast(__m512d x, __m512d t, __m512d e, __m512d tail,
                                              __m512d z, __m512d w, __m512d q, int want_grad,
                                              __m512d *grad) {
    const __m512d one = _mm512_set1_pd(1.0);
    __mmask8 neg = sign8(x);
    __m512d c_neg = _mm512_mul_pd(q, z), c_pos = _mm512_sub_pd(one, z);
    __m512d c = _mm512_mask_mov_pd(c_pos, neg, c_neg);
    __m512d l = _mm512_fmsub_pd(_mm512_add_pd(c_neg, c_pos), tail, _mm512_mul_pd(c, t));
    if (want_grad) {
        __m512d num = _mm512_mask_mov_pd(_mm512_fnmadd_pd(c_neg, e, c_pos), neg,
                                         _mm512_fmsub_pd(c_pos, e, c_neg));
        *grad = _mm512_mul_pd(w, _mm512_div_pd(num, _mm512_add_pd(one, e)));
    }
    return _mm512_mul_pd(w, l);
}

/* The float64 loss rounded once (sigmoid_loss4_dd in vec_avx2.c). */
FASTCE_ALWAYS_INLINE __m512d sigmoid_loss8_dd(__m512d x, __m512d tail, __m512d z, __m512d w,
                                              __m512d q) {
    __m512d cn_lo, cp_lo, s_lo, a_lo, b_lo, l_lo, p_lo;
    __m512d ax = _mm512_abs_pd(x);
    __m512d cn = two_prod_pd(q, z, &cn_lo);
    __m512d cp = two_sum_pd(_mm512_set1_pd(1.0), _mm512_sub_pd(_mm512_setzero_pd(), z), &cp_lo);
    __m512d sum = two_sum_pd(cn, cp, &s_lo);
    s_lo = _mm512_add_pd(s_lo, _mm512_add_pd(cn_lo, cp_lo));
    __m512d a = two_prod_pd(sum, tail, &a_lo);
    a_lo = _mm512_fmadd_pd(s_lo, tail, a_lo);
    __mmask8 neg = sign8(x);
    __m512d c = _mm512_mask_mov_pd(cp, neg, cn), c_lo = _mm512_mask_mov_pd(cp_lo, neg, cn_lo);
    __m512d b = two_prod_pd(c, ax, &b_lo);
    b_lo = _mm512_fmadd_pd(c_lo, ax, b_lo);
    __m512d l = two_sum_pd(a, b, &l_lo);
    l_lo = _mm512_add_pd(l_lo, _mm512_add_pd(a_lo, b_lo));
    __m512d p = two_prod_pd(w, l, &p_lo);
    return _mm512_add_pd(p, _mm512_fmadd_pd(w, l_lo, p_lo));
}

FASTCE_ALWAYS_INLINE __m512d sigmoid_fast8_f32(__m512d x, __m512d z, __m512d w, __m512d q,
                                               int want_grad, __m512d *grad) {
    __m512d t = _mm512_or_pd(_mm512_set1_pd(-0.0), x);
    __m512d e = fastce512_exp24_pd(t);
    __m512d tail = fastce512_log1p24_pd(e);
    return sigmoid_ce8_fast(x, t, e, tail, z, w, q, want_grad, grad);
}

FASTCE_ALWAYS_INLINE __m512d sigmoid_fast8_f64(__m512d x, __m512d z, __m512d w, __m512d q,
                                               int want_grad, __m512d *grad) {
    __m512d t = _mm512_or_pd(_mm512_set1_pd(-0.0), x), lo;
    __m512d e = fastce512_exp_dd_pd(t, &lo);
    __m512d tail = fastce512_log1p_dd_pd(e, lo);
    __m512d plain = sigmoid_ce8_fast(x, t, e, tail, z, w, q, want_grad, grad);
    __m512d precise = sigmoid_loss8_dd(x, tail, z, w, q);
    return _mm512_mask_mov_pd(plain, nonzero_finite_mask(precise), precise);
}

/* Eight elements, fast (all |x| <= SIGMOID_FAST_MAX) or mixed: the fast
 * path for every lane (x = 0 where it is off the fast path) and the
 * general one blended in where needed. */
#define FASTCE_SIGMOID8(SUF)                                                                 \
    FASTCE_ALWAYS_INLINE __m512d sigmoid8_##SUF(__m512d x, __m512d z, __m512d w, __m512d q,  \
                                                int all_fast, int want_grad, __m512d *grad) { \
        if (all_fast) return sigmoid_fast8_##SUF(x, z, w, q, want_grad, grad);               \
        __mmask8 fast = _mm512_cmp_pd_mask(_mm512_abs_pd(x), _mm512_set1_pd(SIGMOID_FAST_MAX), \
                                           _CMP_LE_OQ);                                      \
        __m512d g_fast = _mm512_setzero_pd(), g_general = g_fast;                            \
        __m512d l_fast = sigmoid_fast8_##SUF(_mm512_maskz_mov_pd(fast, x), z, w, q, want_grad, \
                                             &g_fast);                                       \
        __m512d l_general = sigmoid_ce8_general(x, z, w, q, want_grad, &g_general);          \
        if (want_grad) *grad = _mm512_mask_mov_pd(g_general, fast, g_fast);                  \
        return _mm512_mask_mov_pd(l_general, fast, l_fast);                                  \
    }
FASTCE_SIGMOID8(f32)
FASTCE_SIGMOID8(f64)

/* Whether the lanes in m of x[0..16) all take the fast path (NaN does not). */
static inline int all_fast16_f32(const float *x, __mmask16 m) {
    __m512 a = _mm512_abs_ps(_mm512_maskz_loadu_ps(m, x));
    return _mm512_cmp_ps_mask(a, _mm512_set1_ps((float)SIGMOID_FAST_MAX), _CMP_LE_OQ) == 0xffff;
}
static inline int all_fast16_f64(const double *x, __mmask16 m) {
    const __m512d lim = _mm512_set1_pd(SIGMOID_FAST_MAX);
    __mmask8 f0 = _mm512_cmp_pd_mask(_mm512_abs_pd(_mm512_maskz_loadu_pd((__mmask8)m, x)), lim,
                                     _CMP_LE_OQ);
    __mmask8 f1 = _mm512_cmp_pd_mask(
        _mm512_abs_pd(_mm512_maskz_loadu_pd((__mmask8)(m >> 8), x + 8)), lim, _CMP_LE_OQ);
    return (f0 & f1) == 0xff;
}

/* Sixteen elements a step (the lanes in m: the last n % 16 masked, loading
 * as x = z = w = q = 0, neither stored nor summed), as two halves of eight;
 * every input is read before any output is written (grad may be x).
 * Losses go to compensated lanes: the float kernel adds its halves first
 * (as the AVX2 one adds its pairs), the double one keeps two sums. */
#define FASTCE_SIGMOID_AVX512(SUF, TYPE, PAIRED)                                             \
    FASTCE_ALWAYS_INLINE void sigmoid_step_##SUF(const TYPE *x, const TYPE *z, const TYPE *w, \
                                                 const TYPE *q, __mmask16 m, TYPE *loss,     \
                                                 TYPE *grad, __m512d gs, int want_grad,      \
                                                 __m512d *acc0, __m512d *err0, __m512d *acc1, \
                                                 __m512d *err1) {                            \
        const __m512d one = _mm512_set1_pd(1.0);                                             \
        const __mmask8 m0 = (__mmask8)m, m1 = (__mmask8)(m >> 8);                            \
        int all_fast = all_fast16_##SUF(x, m);                                               \
        __m512d x0 = fastce512_mload8_##SUF(m0, x), x1 = fastce512_mload8_##SUF(m1, x + 8);                      \
        __m512d z0 = fastce512_mload8_##SUF(m0, z), z1 = fastce512_mload8_##SUF(m1, z + 8);                      \
        __m512d w0 = w ? fastce512_mload8_##SUF(m0, w) : one, w1 = w ? fastce512_mload8_##SUF(m1, w + 8) : one;  \
        __m512d q0 = q ? fastce512_mload8_##SUF(m0, q) : one, q1 = q ? fastce512_mload8_##SUF(m1, q + 8) : one;  \
        __m512d g0, g1;                                                                      \
        __m512d l0 = sigmoid8_##SUF(x0, z0, w0, q0, all_fast, want_grad, &g0);               \
        __m512d l1 = sigmoid8_##SUF(x1, z1, w1, q1, all_fast, want_grad, &g1);               \
        if (loss) {                                                                          \
            fastce512_mstore8_##SUF(m0, loss, l0);                                                     \
            fastce512_mstore8_##SUF(m1, loss + 8, l1);                                                 \
        }                                                                                    \
        if (want_grad) {                                                                     \
            fastce512_mstore8_##SUF(m0, grad, _mm512_mul_pd(gs, g0));                                  \
            fastce512_mstore8_##SUF(m1, grad + 8, _mm512_mul_pd(gs, g1));                              \
        }                                                                                    \
        if (m != 0xffff) {                                                                   \
            l0 = _mm512_maskz_mov_pd(m0, l0);                                                \
            l1 = _mm512_maskz_mov_pd(m1, l1);                                                \
        }                                                                                    \
        if (PAIRED) {                                                                        \
            two_sum_add(acc0, err0, _mm512_add_pd(l0, l1));                                  \
        } else {                                                                             \
            two_sum_add(acc0, err0, l0);                                                     \
            two_sum_add(acc1, err1, l1);                                                     \
        }                                                                                    \
    }                                                                                        \
    FASTCE_ALWAYS_INLINE double sigmoid_body_##SUF(const TYPE *x, const TYPE *z,             \
                                                   const TYPE *w, const TYPE *q, ptrdiff_t n, \
                                                   TYPE *loss, TYPE *grad, double grad_scale, \
                                                   int want_grad) {                          \
        const __m512d gs = _mm512_set1_pd(grad_scale);                                       \
        __m512d acc0 = _mm512_setzero_pd(), err0 = acc0, acc1 = acc0, err1 = acc0;           \
        ptrdiff_t i = 0;                                                                     \
        for (; i + 16 <= n; i += 16)                                                         \
            sigmoid_step_##SUF(x + i, z + i, w ? w + i : NULL, q ? q + i : NULL, 0xffff,     \
                               loss ? loss + i : NULL, want_grad ? grad + i : NULL, gs,      \
                               want_grad, &acc0, &err0, &acc1, &err1);                       \
        if (i < n)                                                                           \
            sigmoid_step_##SUF(x + i, z + i, w ? w + i : NULL, q ? q + i : NULL,             \
                               fastce512_first16(n - i), loss ? loss + i : NULL,                        \
                               want_grad ? grad + i : NULL, gs, want_grad, &acc0, &err0,     \
                               &acc1, &err1);                                                \
        fastce_acc s = {fastce512_lanes_total(acc0, err0), 0.0};                                       \
        fastce_acc_add(&s, fastce512_lanes_total(acc1, err1));                                         \
        return fastce_acc_value(s);                                                          \
    }                                                                                        \
    static double sigmoid_ce_##SUF(const TYPE *x, const TYPE *z, const TYPE *w,              \
                                   const TYPE *q, ptrdiff_t n, TYPE *loss, TYPE *grad,       \
                                   double grad_scale) {                                      \
        if (!w && !q) /* the common case, with the multiplications by 1 gone */              \
            return grad ? sigmoid_body_##SUF(x, z, NULL, NULL, n, loss, grad, grad_scale, 1) \
                        : sigmoid_body_##SUF(x, z, NULL, NULL, n, loss, NULL, grad_scale, 0); \
        return grad ? sigmoid_body_##SUF(x, z, w, q, n, loss, grad, grad_scale, 1)           \
                    : sigmoid_body_##SUF(x, z, w, q, n, loss, NULL, grad_scale, 0);          \
    }

FASTCE_SIGMOID_AVX512(f32, float, 1)
FASTCE_SIGMOID_AVX512(f64, double, 0)

/* ---------------------------------------------------------- binary CE */

/* (k, u) of 1 - pc in the lanes of m where pc < 1/2, read off pc where 1 - pc
 * would round (binary_ce8 below says how); the caller split 1 - pc itself,
 * which is exact from 1/2 up. */
FASTCE_ALWAYS_INLINE void log1m_ku_fix(__m512d pc, __mmask8 m, __m512d *k, __m512d *u) {
    __mmask8 below_half = _mm512_mask_cmp_pd_mask(m, pc, _mm512_set1_pd(0.5), _CMP_LT_OQ);
    __mmask8 near_half = _mm512_mask_cmp_pd_mask(below_half, pc,
                                                 _mm512_set1_pd(0.29289321881345248), _CMP_GT_OQ);
    *u = _mm512_mask_sub_pd(*u, below_half, _mm512_setzero_pd(), pc);
    *k = _mm512_mask_mov_pd(*k, below_half, _mm512_setzero_pd());
    *u = _mm512_mask_mov_pd(*u, near_half,
                            _mm512_fnmadd_pd(pc, _mm512_set1_pd(2.0), _mm512_set1_pd(1.0)));
    *k = _mm512_mask_mov_pd(*k, near_half, _mm512_set1_pd(-1.0));
}

/* Eight elements of fastce_binary_ce_one (internal.h), double lanes:
 *   loss = -w * (z*log(pc) + (1-z)*log1p(-pc)),  pc = clip(p, lo, hi),
 * each zero coefficient contributing 0 (also against an infinite log).
 * Both logs go through one reduction, x = 2^k (1 + u) with u exact:
 * log(pc) as usual, and log1p(-pc) = log(1 - pc) from (k, u) read off pc
 * itself where 1 - pc would round: u = -pc (k = 0) for pc <= 1 - sqrt(1/2),
 * u = 1 - 2 pc (k = -1, exact by Sterbenz) up to pc = 1/2; above, 1 - pc is
 * exact. No cancellation, no correction term, no log1p. Where every
 * lane has a hard target (z = 0 or 1) only the log its term needs is
 * evaluated, from one split of pc or 1 - pc (one split fewer: hard float
 * targets 1.07x faster).
 *   grad = w * ((1-z)/(1-pc) - z/pc) = w * (pc - z) / (pc (1-pc)):
 * one division, and pc - z of two exact numbers rounds once (the two
 * quotients of the first form cancel where pc is near z). The special
 * values agree: 0/0 and x/0 give NaN and +-inf in both forms.
 * float24: the float kernel's log (fastce512_log_ku_pd's float24 table,
 * relative error < 2^-34; its results
 * are rounded to float once). A NaN p is not clipped (max/min return their
 * second operand, p, when one is NaN) and makes loss and grad NaN. */
FASTCE_ALWAYS_INLINE __m512d binary_ce8(__m512d p, __m512d z, __m512d w, __m512d lo,
                                        __m512d hi, int float24, int want_grad,
                                        __m512d *grad) {
    const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);
    const __m512d nw = _mm512_xor_pd(w, _mm512_set1_pd(-0.0)); /* -w (binary_ce4 says why) */
    __m512d pc = _mm512_min_pd(hi, _mm512_max_pd(lo, p));
    __m512d v = _mm512_sub_pd(one, pc);
    if (want_grad)
        *grad = _mm512_mul_pd(w, _mm512_div_pd(_mm512_sub_pd(pc, z), _mm512_mul_pd(pc, v)));
    __mmask8 z1 = _mm512_cmp_pd_mask(z, one, _CMP_EQ_OQ);
    __m512d ka, kb;
    if ((z1 | _mm512_cmp_pd_mask(z, zero, _CMP_EQ_OQ)) == 0xff) {
        /* hard targets (masked tail lanes load as z = 0): each lane needs
         * one of the logs, so one split and one evaluation, of pc where
         * z = 1 and of 1 - pc where z = 0; the other term is exactly 0, as
         * below */
        __m512d ux = _mm512_sub_pd(fastce512_log_split_pd(_mm512_mask_mov_pd(v, z1, pc), &kb),
                                   one);
        log1m_ku_fix(pc, (__mmask8)~z1, &kb, &ux);
        return _mm512_mul_pd(nw, _mm512_add_pd(fastce512_log_ku_pd(kb, ux, float24), zero));
    }
    __m512d ua = _mm512_sub_pd(fastce512_log_split_pd(pc, &ka), one);
    __m512d ub = _mm512_sub_pd(fastce512_log_split_pd(v, &kb), one);
    log1m_ku_fix(pc, 0xff, &kb, &ub);
    __m512d la = fastce512_log_ku_pd(ka, ua, float24);
    __m512d lb = fastce512_log_ku_pd(kb, ub, float24);
    __m512d cz = z, cnz = _mm512_sub_pd(one, z);
    __m512d t1 = _mm512_maskz_mul_pd(_mm512_cmp_pd_mask(cz, zero, _CMP_NEQ_UQ), cz, la);
    __m512d t2 = _mm512_maskz_mul_pd(_mm512_cmp_pd_mask(cnz, zero, _CMP_NEQ_UQ), cnz, lb);
    __m512d plain = _mm512_mul_pd(nw, _mm512_add_pd(t1, t2));
    if (float24) return plain;
    /* double, soft targets: the coefficients, products, sum and weight
     * carried as hi + lo, so that only the logs' errors remain (in double
     * the loss of a soft target rounds five times: 3 ulp measured); where
     * that is not finite (an infinite log or weight) the plain loss stands.
     * With z in {0, 1} one term is exactly 0 and the plain loss rounds once,
     * as this one does. */
    __mmask8 soft = _mm512_mask_cmp_pd_mask(_mm512_cmp_pd_mask(z, zero, _CMP_NEQ_UQ), z, one,
                                            _CMP_NEQ_UQ);
    if (!soft) return plain;
    __m512d cnz_lo, a_lo, b_lo, s_lo, p_lo;
    cnz = two_sum_pd(one, _mm512_sub_pd(zero, z), &cnz_lo);
    __m512d a = two_prod_pd(cz, la, &a_lo);
    __m512d b = two_prod_pd(cnz, lb, &b_lo);
    b_lo = _mm512_fmadd_pd(cnz_lo, lb, b_lo);
    __m512d sum = two_sum_pd(a, b, &s_lo);
    s_lo = _mm512_add_pd(s_lo, _mm512_add_pd(a_lo, b_lo));
    __m512d pr = two_prod_pd(nw, sum, &p_lo);
    __m512d precise = _mm512_add_pd(pr, _mm512_fmadd_pd(nw, s_lo, p_lo));
    /* only soft lanes: a hard one's plain loss is rounded once already */
    return _mm512_mask_mov_pd(plain, soft & nonzero_finite_mask(precise), precise);
}

/* n elements, eight (double) or sixteen (float, two halves) a step, the
 * last n % 8 or n % 16 masked (they load as p = z = w = 0 and are neither
 * stored nor summed). Losses are summed in compensated lanes; the float
 * kernel adds its two halves first (one more rounding of terms that each
 * carry one already, not growing with n). */
#define FASTCE_BINARY_AVX512(SUF, TYPE, F24)                                              \
    FASTCE_ALWAYS_INLINE __m512d binary_step_##SUF(const TYPE *p, const TYPE *z,          \
                                                   const TYPE *w, __mmask8 m, int full,   \
                                                   __m512d lov, __m512d hiv, __m512d gs,  \
                                                   TYPE *loss, TYPE *grad, int want_grad) { \
        __m512d pv = full ? fastce512_load8_##SUF(p) : fastce512_mload8_##SUF(m, p);                          \
        __m512d zv = full ? fastce512_load8_##SUF(z) : fastce512_mload8_##SUF(m, z);                          \
        __m512d wv = !w ? _mm512_set1_pd(1.0) : full ? fastce512_load8_##SUF(w) : fastce512_mload8_##SUF(m, w); \
        __m512d g;                                                                        \
        __m512d l = binary_ce8(pv, zv, wv, lov, hiv, F24, want_grad, &g);                 \
        if (full) {                                                                       \
            if (loss) fastce512_store8_##SUF(loss, l);                                              \
            if (want_grad) fastce512_store8_##SUF(grad, _mm512_mul_pd(gs, g));                      \
            return l;                                                                     \
        }                                                                                 \
        if (loss) fastce512_mstore8_##SUF(m, loss, l);                                              \
        if (want_grad) fastce512_mstore8_##SUF(m, grad, _mm512_mul_pd(gs, g));                      \
        return _mm512_maskz_mov_pd(m, l);                                                 \
    }                                                                                     \
    FASTCE_ALWAYS_INLINE double binary_body_##SUF(const TYPE *p, const TYPE *z,           \
                                                  const TYPE *w, ptrdiff_t n, double lo,  \
                                                  double hi, TYPE *loss, TYPE *grad,      \
                                                  double grad_scale, int want_grad) {     \
        const __m512d lov = _mm512_set1_pd(lo), hiv = _mm512_set1_pd(hi);                 \
        const __m512d gs = _mm512_set1_pd(grad_scale);                                    \
        __m512d acc0 = _mm512_setzero_pd(), err0 = acc0, acc1 = acc0, err1 = acc0;        \
        ptrdiff_t i = 0;                                                                  \
        for (; i + 16 <= n; i += 16) {                                                    \
            __m512d l0 = binary_step_##SUF(p + i, z + i, w ? w + i : NULL, 0xff, 1, lov,  \
                                           hiv, gs, loss ? loss + i : NULL,               \
                                           want_grad ? grad + i : NULL, want_grad);       \
            __m512d l1 = binary_step_##SUF(p + i + 8, z + i + 8, w ? w + i + 8 : NULL,    \
                                           0xff, 1, lov, hiv, gs,                         \
                                           loss ? loss + i + 8 : NULL,                    \
                                           want_grad ? grad + i + 8 : NULL, want_grad);   \
            if (F24) {                                                                    \
                two_sum_add(&acc0, &err0, _mm512_add_pd(l0, l1));                         \
            } else {                                                                      \
                two_sum_add(&acc0, &err0, l0);                                            \
                two_sum_add(&acc1, &err1, l1);                                            \
            }                                                                             \
        }                                                                                 \
        for (; i < n; i += 8) {                                                           \
            ptrdiff_t r = n - i;                                                          \
            __m512d l = binary_step_##SUF(p + i, z + i, w ? w + i : NULL,                 \
                                          r >= 8 ? 0xff : fastce512_first8(r), r >= 8, lov, hiv, gs, \
                                          loss ? loss + i : NULL,                         \
                                          want_grad ? grad + i : NULL, want_grad);        \
            two_sum_add(&acc1, &err1, l);                                                 \
        }                                                                                 \
        fastce_acc s = {fastce512_lanes_total(acc0, err0), 0.0};                                    \
        fastce_acc_add(&s, fastce512_lanes_total(acc1, err1));                                      \
        return fastce_acc_value(s);                                                       \
    }                                                                                     \
    static double binary_ce_##SUF(const TYPE *p, const TYPE *z, const TYPE *w,            \
                                  ptrdiff_t n, double lo, double hi, TYPE *loss,          \
                                  TYPE *grad, double grad_scale) {                        \
        if (grad)                                                                         \
            return w ? binary_body_##SUF(p, z, w, n, lo, hi, loss, grad, grad_scale, 1)   \
                     : binary_body_##SUF(p, z, NULL, n, lo, hi, loss, grad, grad_scale, 1); \
        return w ? binary_body_##SUF(p, z, w, n, lo, hi, loss, NULL, grad_scale, 0)       \
                 : binary_body_##SUF(p, z, NULL, n, lo, hi, loss, NULL, grad_scale, 0);   \
    }

FASTCE_BINARY_AVX512(f32, float, 1)
FASTCE_BINARY_AVX512(f64, double, 0)

/* ----------------------------------------------------- categorical CE */

/* Eight terms t*log(clip(p)) of a categorical row (0 where t == 0, even for
 * a NaN p) and, when want_grad, (-a*t)/clip(p) (0 where t == 0), rounded as
 * fastce_term and categorical_dense_block (prob_ce_impl.h) round them; na
 * holds -a. float24: the float kernel's log. A NaN p stays NaN through the
 * clip (max/min return their second operand, p, when one is NaN). Double
 * rows (!float24) also get each product's rounding error in *term_lo
 * (TwoProduct: t*lg = term + *term_lo exactly; 0 where t == 0), as
 * fastce_cat_term_add (internal.h) keeps it. */
FASTCE_ALWAYS_INLINE __m512d categorical8(__m512d p, __m512d t, __m512d lo, __m512d hi,
                                          __m512d na, int float24, int want_grad,
                                          __m512d *grad, __m512d *term_lo) {
    __m512d pc = _mm512_min_pd(hi, _mm512_max_pd(lo, p));
    __mmask8 live = _mm512_cmp_pd_mask(t, _mm512_setzero_pd(), _CMP_NEQ_UQ);
    if (want_grad) *grad = _mm512_maskz_div_pd(live, _mm512_mul_pd(na, t), pc);
    if (float24) return _mm512_maskz_mul_pd(live, t, fastce512_log_pos_pd(pc, 1));
    __m512d lg = fastce512_log_pos_pd(pc, 0);
    __m512d term = _mm512_maskz_mul_pd(live, t, lg);
    *term_lo = _mm512_maskz_fmsub_pd(live, t, lg, term);
    return term;
}

/* The sum of two sets of compensated lanes as a double-double hi + lo: the
 * sets added by TwoSum, then the halves, quarters and the pair, every
 * rounding error and correction added at the end. A sum that is not finite
 * is returned as it is (lo = 0); when it is finite, so is every lane and
 * correction. */
static inline fastce_dd comp_total(__m512d a0, __m512d e0, __m512d a1, __m512d e1) {
    __m512d s = _mm512_add_pd(a0, a1);
    double plain = _mm512_reduce_add_pd(s);
    if (!isfinite(plain)) return fastce_dd_of(plain);
    __m512d bp = _mm512_sub_pd(s, a0);
    __m512d err = _mm512_add_pd(_mm512_add_pd(_mm512_sub_pd(a0, _mm512_sub_pd(s, bp)),
                                              _mm512_sub_pd(a1, bp)),
                                _mm512_add_pd(e0, e1));
    __m256d a = _mm512_castpd512_pd256(s), b = _mm512_extractf64x4_pd(s, 1);
    __m256d s4 = _mm256_add_pd(a, b), bp4 = _mm256_sub_pd(s4, a);
    __m256d c4 = _mm256_add_pd(_mm256_add_pd(_mm256_sub_pd(a, _mm256_sub_pd(s4, bp4)),
                                             _mm256_sub_pd(b, bp4)),
                               _mm256_add_pd(_mm512_castpd512_pd256(err),
                                             _mm512_extractf64x4_pd(err, 1)));
    __m128d a2 = _mm256_castpd256_pd128(s4), b2 = _mm256_extractf128_pd(s4, 1);
    __m128d s2 = _mm_add_pd(a2, b2), bp2 = _mm_sub_pd(s2, a2);
    __m128d c2 = _mm_add_pd(_mm_add_pd(_mm_sub_pd(a2, _mm_sub_pd(s2, bp2)), _mm_sub_pd(b2, bp2)),
                            _mm_add_pd(_mm256_castpd256_pd128(c4), _mm256_extractf128_pd(c4, 1)));
    double x = _mm_cvtsd_f64(s2), y = _mm_cvtsd_f64(_mm_unpackhi_pd(s2, s2));
    double c = _mm_cvtsd_f64(c2) + _mm_cvtsd_f64(_mm_unpackhi_pd(c2, c2));
    fastce_dd t = fastce_two_sum(x, y);
    return (fastce_dd){t.hi, t.lo + c};
}

/* 1 when the sixteen targets at t are all zero. */
static inline int cat_zero16_f32(const float *t) {
    return !_mm512_cmp_ps_mask(_mm512_loadu_ps(t), _mm512_setzero_ps(), _CMP_NEQ_UQ);
}
static inline int cat_zero16_f64(const double *t) {
    return !(_mm512_cmp_pd_mask(_mm512_loadu_pd(t), _mm512_setzero_pd(), _CMP_NEQ_UQ) |
             _mm512_cmp_pd_mask(_mm512_loadu_pd(t + 8), _mm512_setzero_pd(), _CMP_NEQ_UQ));
}

/* Rows of at most this many classes go flat (below); longer ones one at a
 * time. */
#define CAT_FLAT_MAX_C 16
/* Elements of a flat block: its rows' terms (and weights) in scratch. */
#define CAT_FLAT_BLOCK 1024

/* Categorical rows, two ways:
 * - one row at a time, sixteen elements a step into two lane sets
 *   (compensated for double rows, plain for float rows, whose terms carry
 *   relative errors below 2^-34 and round to float: C * 2^-53 << 2^-24),
 *   then eight, then a masked tail;
 * - short rows (C <= CAT_FLAT_MAX_C) flat: a block of rows is one run of
 *   B*C elements, eight a step across row boundaries, whose terms go to a
 *   scratch array; then eight rows at once, one per lane, gather their
 *   terms column by column into the same (compensated) lane sums, so that
 *   a row of 10 costs 1.25 vector steps instead of 2 and no horizontal sum.
 * Double rows also carry each term's product error (categorical8) into
 * the sum's error lanes (the flat way through a second scratch array and
 * gather), and their loss -w * (sum + error) is rounded once, as
 * fastce_cat_loss (internal.h) rounds it: the logs' own errors remain.
 * Every load of a step comes before its stores, so grad may be p or t.
 * The total is the compensated sum of the row losses. */
#define FASTCE_CATEGORICAL_AVX512(SUF, TYPE, F24)                                          \
    /* Sixteen elements of a row into the lane sums. */                                   \
    FASTCE_ALWAYS_INLINE void cat_block16_##SUF(const TYPE *p, const TYPE *t, __m512d lov,   \
                                                __m512d hiv, __m512d na, TYPE *grad,       \
                                                int want_grad, __m512d *acc0, __m512d *err0, \
                                                __m512d *acc1, __m512d *err1) {            \
        __m512d g0, g1, lo0 = _mm512_setzero_pd(), lo1 = lo0;                              \
        __m512d l0 = categorical8(fastce512_load8_##SUF(p), fastce512_load8_##SUF(t), lov, hiv, \
                                  na, F24, want_grad, &g0, &lo0);                          \
        __m512d l1 = categorical8(fastce512_load8_##SUF(p + 8), fastce512_load8_##SUF(t + 8), \
                                  lov, hiv, na, F24, want_grad, &g1, &lo1);                \
        if (want_grad) {                                                                   \
            fastce512_store8_##SUF(grad, g0);                                              \
            fastce512_store8_##SUF(grad + 8, g1);                                          \
        }                                                                                  \
        if (F24) {                                                                         \
            *acc0 = _mm512_add_pd(*acc0, l0);                                              \
            *acc1 = _mm512_add_pd(*acc1, l1);                                              \
        } else { /* the products' errors go with the sums' */                              \
            two_sum_add(acc0, err0, l0);                                                   \
            two_sum_add(acc1, err1, l1);                                                   \
            *err0 = _mm512_add_pd(*err0, lo0);                                             \
            *err1 = _mm512_add_pd(*err1, lo1);                                             \
        }                                                                                  \
    }                                                                                      \
    FASTCE_ALWAYS_INLINE fastce_dd cat_row_##SUF(const TYPE *p, const TYPE *t, ptrdiff_t C, \
                                                 __m512d lov, __m512d hiv, __m512d na,     \
                                                 TYPE *grad, int want_grad) {              \
        __m512d acc0 = _mm512_setzero_pd(), err0 = acc0, acc1 = acc0, err1 = acc0;         \
        __m512d g0, lo0 = acc0;                                                            \
        ptrdiff_t j = 0;                                                                   \
        while (j + 16 <= C) { /* chunks (FASTCE_CAT_CHUNK in vec.h) */                     \
            ptrdiff_t end = C - j < FASTCE_CAT_CHUNK ? j + ((C - j) & ~(ptrdiff_t)15)       \
                                                     : j + FASTCE_CAT_CHUNK;               \
            int sparse = end - j >= FASTCE_CAT_ZERO_LEAD;                                  \
            for (ptrdiff_t q = j; sparse && q < j + FASTCE_CAT_ZERO_LEAD; q += 16)         \
                sparse = cat_zero16_##SUF(t + q);                                          \
            if (sparse) { /* its blocks of sixteen zero targets: zero terms and gradient */ \
                for (; j < end; j += 16) {                                                 \
                    if (!cat_zero16_##SUF(t + j))                                          \
                        cat_block16_##SUF(p + j, t + j, lov, hiv, na, want_grad ? grad + j : NULL, \
                                          want_grad, &acc0, &err0, &acc1, &err1);          \
                    else if (want_grad) {                                                  \
                        fastce512_store8_##SUF(grad + j, _mm512_setzero_pd());             \
                        fastce512_store8_##SUF(grad + j + 8, _mm512_setzero_pd());         \
                    }                                                                      \
                }                                                                          \
            } else {                                                                       \
                for (; j < end; j += 16)                                                   \
                    cat_block16_##SUF(p + j, t + j, lov, hiv, na, want_grad ? grad + j : NULL, \
                                      want_grad, &acc0, &err0, &acc1, &err1);              \
            }                                                                              \
        }                                                                                  \
        for (; j < C; j += 8) {                                                            \
            __mmask8 m = C - j >= 8 ? 0xff : fastce512_first8(C - j);                                 \
            __m512d l0 = categorical8(fastce512_mload8_##SUF(m, p + j), fastce512_mload8_##SUF(m, t + j), lov, \
                                      hiv, na, F24, want_grad, &g0, &lo0);                 \
            if (want_grad) fastce512_mstore8_##SUF(m, grad + j, g0);                                 \
            if (F24) {                                                                     \
                acc0 = _mm512_add_pd(acc0, l0);                                            \
            } else {                                                                       \
                two_sum_add(&acc0, &err0, l0);                                             \
                err0 = _mm512_add_pd(err0, lo0);                                           \
            }                                                                              \
        }                                                                                  \
        if (F24) return fastce_dd_of(_mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1)));     \
        return comp_total(acc0, err0, acc1, err1);                                         \
    }                                                                                      \
    FASTCE_ALWAYS_INLINE double cat_rows_##SUF(const TYPE *p, const TYPE *t, ptrdiff_t n,  \
                                               ptrdiff_t C, const TYPE *sw, double lo,     \
                                               double hi, TYPE *loss, TYPE *grad,          \
                                               double grad_scale, int want_grad) {         \
        const __m512d lov = _mm512_set1_pd(lo), hiv = _mm512_set1_pd(hi);                  \
        fastce_acc acc = {0.0, 0.0};                                                       \
        for (ptrdiff_t s = 0; s < n; s++) {                                                \
            double w = sw ? (double)sw[s] : 1.0;                                           \
            fastce_dd row = cat_row_##SUF(p + s * C, t + s * C, C, lov, hiv,               \
                                          _mm512_set1_pd(-(w * grad_scale)),               \
                                          want_grad ? grad + s * C : NULL, want_grad);     \
            double l; /* double rows: -w * row rounded once (internal.h) */                \
            if (F24) l = (0.0 - row.hi) * w;                                               \
            else l = fastce_cat_loss(row.hi, row.lo, w);                                   \
            if (loss) loss[s] = (TYPE)l;                                                   \
            fastce_acc_add(&acc, l);                                                       \
        }                                                                                  \
        return fastce_acc_value(acc);                                                      \
    }                                                                                      \
    FASTCE_ALWAYS_INLINE double cat_flat_##SUF(const TYPE *p, const TYPE *t, ptrdiff_t n,  \
                                               ptrdiff_t C, const TYPE *sw, double lo,     \
                                               double hi, TYPE *loss, TYPE *grad,          \
                                               double grad_scale, int want_grad) {         \
        const __m512d lov = _mm512_set1_pd(lo), hiv = _mm512_set1_pd(hi);                  \
        const __m512d na0 = _mm512_set1_pd(-grad_scale), zero = _mm512_setzero_pd();       \
        const ptrdiff_t B = (CAT_FLAT_BLOCK / C) & ~(ptrdiff_t)7; /* rows a block */       \
        double terms[CAT_FLAT_BLOCK + 8], nas[CAT_FLAT_BLOCK + 8];                         \
        double terms_lo[F24 ? 1 : CAT_FLAT_BLOCK + 8]; /* the products' errors */          \
        const __m256i col0 = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), \
                                                _mm256_set1_epi32((int)C));                \
        /* the weights' expansion: element i of eight rows' run of 8*C is row i / C's */ \
        int64_t expand[CAT_FLAT_MAX_C * 8];                                                \
        if (want_grad && sw)                                                               \
            for (ptrdiff_t i = 0; i < 8 * C; i++) expand[i] = i / C;                       \
        __m512d tot = zero, tot_err = zero;                                                \
        for (ptrdiff_t s0 = 0; s0 < n; s0 += B) {                                          \
            const ptrdiff_t nb = n - s0 < B ? n - s0 : B, N = nb * C;                      \
            const TYPE *pb = p + s0 * C, *tb = t + s0 * C;                                 \
            TYPE *gb = want_grad ? grad + s0 * C : NULL;                                   \
            if (want_grad && sw) /* eight rows' -sw*gs at a time, each repeated C times */ \
                for (ptrdiff_t r0 = 0; r0 < nb; r0 += 8) {                                 \
                    __mmask8 rm = nb - r0 >= 8 ? 0xff : fastce512_first8(nb - r0);         \
                    __m512d na = _mm512_mul_pd(fastce512_mload8_##SUF(rm, sw + s0 + r0), na0); \
                    for (ptrdiff_t q = 0; q < C; q++)                                      \
                        _mm512_storeu_pd(nas + r0 * C + 8 * q, _mm512_permutexvar_pd(      \
                                             _mm512_loadu_si512(expand + 8 * q), na));     \
                }                                                                          \
            ptrdiff_t k = 0;                                                               \
            for (; k + 8 <= N; k += 8) {                                                   \
                __m512d g, l_lo;                                                           \
                __m512d na = want_grad && sw ? _mm512_loadu_pd(nas + k) : na0;             \
                __m512d l = categorical8(fastce512_load8_##SUF(pb + k), fastce512_load8_##SUF(tb + k), lov,    \
                                         hiv, na, F24, want_grad, &g, &l_lo);              \
                _mm512_storeu_pd(terms + k, l);                                            \
                if (!F24) _mm512_storeu_pd(terms_lo + k, l_lo);                            \
                if (want_grad) fastce512_store8_##SUF(gb + k, g);                                    \
            }                                                                              \
            if (k < N) {                                                                   \
                __mmask8 m = fastce512_first8(N - k);                                                 \
                __m512d g, l_lo;                                                           \
                __m512d na = want_grad && sw ? _mm512_maskz_loadu_pd(m, nas + k) : na0;    \
                __m512d l = categorical8(fastce512_mload8_##SUF(m, pb + k), fastce512_mload8_##SUF(m, tb + k), \
                                         lov, hiv, na, F24, want_grad, &g, &l_lo);         \
                _mm512_storeu_pd(terms + k, l);                                            \
                if (!F24) _mm512_storeu_pd(terms_lo + k, l_lo);                            \
                if (want_grad) fastce512_mstore8_##SUF(m, gb + k, g);                                \
            }                                                                              \
            for (ptrdiff_t r0 = 0; r0 < nb; r0 += 8) {                                     \
                __mmask8 rm = nb - r0 >= 8 ? 0xff : fastce512_first8(nb - r0);                        \
                const double *base = terms + r0 * C, *base_lo = terms_lo + (F24 ? 0 : r0 * C); \
                __m512d a = zero, e = zero;                                                \
                for (ptrdiff_t j = 0; j < C; j++) {                                        \
                    __m512d v = _mm512_mask_i32gather_pd(zero, rm, col0, base + j, 8);     \
                    if (F24) {                                                             \
                        a = _mm512_add_pd(a, v);                                           \
                    } else { /* TwoSum; a lane whose sum ends finite had no inf or NaN; */ \
                        /* the term's product error joins the sum's */                     \
                        __m512d v_lo = _mm512_mask_i32gather_pd(zero, rm, col0, base_lo + j, 8);   \
                        __m512d sa = _mm512_add_pd(a, v), bp = _mm512_sub_pd(sa, a);       \
                        e = _mm512_add_pd(e, _mm512_add_pd(                                \
                            _mm512_sub_pd(a, _mm512_sub_pd(sa, bp)), _mm512_sub_pd(v, bp))); \
                        e = _mm512_add_pd(e, v_lo);                                        \
                        a = sa;                                                            \
                    }                                                                      \
                }                                                                          \
                __m512d w = sw ? fastce512_mload8_##SUF(rm, sw + s0 + r0) : _mm512_set1_pd(1.0);     \
                __m512d l;                                                                 \
                if (F24) {                                                                 \
                    l = _mm512_mul_pd(_mm512_sub_pd(zero, a), w);                          \
                } else { /* -w * (a + e) rounded once, as fastce_cat_loss */               \
                    __m512d p_lo;                                                          \
                    __mmask8 fin = _mm512_cmp_pd_mask(_mm512_abs_pd(a), _mm512_set1_pd(INFINITY), \
                                                      _CMP_LT_OQ);                         \
                    __m512d plain = _mm512_mul_pd(_mm512_sub_pd(zero, _mm512_mask_add_pd(a, fin, a, e)), w); \
                    __m512d pr = two_prod_pd(w, a, &p_lo);                                 \
                    l = _mm512_sub_pd(zero, _mm512_add_pd(pr, _mm512_fmadd_pd(w, e, p_lo))); \
                    __mmask8 good = _mm512_cmp_pd_mask(_mm512_abs_pd(l), _mm512_set1_pd(INFINITY), \
                                                       _CMP_LT_OQ) &                       \
                                    _mm512_cmp_pd_mask(l, zero, _CMP_NEQ_UQ);              \
                    l = _mm512_mask_mov_pd(plain, good, l);                                \
                }                                                                          \
                if (loss) fastce512_mstore8_##SUF(rm, loss + s0 + r0, l);                            \
                two_sum_add(&tot, &tot_err, _mm512_maskz_mov_pd(rm, l));                   \
            }                                                                              \
        }                                                                                  \
        return fastce512_lanes_total(tot, tot_err);                                                  \
    }                                                                                      \
    static double categorical_rows_##SUF(const TYPE *p, const TYPE *t, ptrdiff_t n,        \
                                         ptrdiff_t C, const TYPE *sw, double lo,           \
                                         double hi, TYPE *loss, TYPE *grad,                \
                                         double grad_scale) {                              \
        if (!loss && !sw && C > 0) { /* the total alone: one run of n*C elements */        \
            const __m512d lov = _mm512_set1_pd(lo), hiv = _mm512_set1_pd(hi);              \
            const __m512d na = _mm512_set1_pd(-grad_scale);                                \
            fastce_dd s = grad ? cat_row_##SUF(p, t, n * C, lov, hiv, na, grad, 1)          \
                               : cat_row_##SUF(p, t, n * C, lov, hiv, na, NULL, 0);         \
            return F24 ? 0.0 - s.hi : fastce_cat_loss(s.hi, s.lo, 1.0);                    \
        }                                                                                  \
        if (C <= CAT_FLAT_MAX_C && C > 0)                                                  \
            return grad ? cat_flat_##SUF(p, t, n, C, sw, lo, hi, loss, grad, grad_scale, 1) \
                        : cat_flat_##SUF(p, t, n, C, sw, lo, hi, loss, NULL, grad_scale, 0); \
        return grad ? cat_rows_##SUF(p, t, n, C, sw, lo, hi, loss, grad, grad_scale, 1)    \
                    : cat_rows_##SUF(p, t, n, C, sw, lo, hi, loss, NULL, grad_scale, 0);   \
    }

FASTCE_CATEGORICAL_AVX512(f32, float, 1)
FASTCE_CATEGORICAL_AVX512(f64, double, 0)

/* ---------------------------------------------- entropy and KL rows */

/* Eight terms p*log(p/q) (has_q) or p*log(p), 0 where p == 0 (even for a
 * NaN q), log as libm's (a negative or NaN argument: NaN; 0: -inf; inf:
 * inf; log_pos_pd handles all but the negatives). float24: the float
 * kernel's log; double rows also get each product's rounding error in
 * *term_lo (TwoProduct, as categorical8) and the ratio's rounding taken
 * back (fastce_log_ratio in internal.h; float rows, whose ratio of two
 * floats is rounded in double, need not). */
FASTCE_ALWAYS_INLINE __m512d entropy8(__m512d p, __m512d q, const int has_q, int float24,
                                      __m512d *term_lo) {
    __mmask8 live = _mm512_cmp_pd_mask(p, _mm512_setzero_pd(), _CMP_NEQ_UQ);
    __m512d x = has_q ? _mm512_div_pd(p, q) : p;
    __m512d lg = fastce512_log_pos_pd(x, float24);
    lg = _mm512_mask_mov_pd(lg, _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_LT_OQ),
                            _mm512_set1_pd(NAN));
    if (has_q && !float24) {
        __mmask8 normal = _mm512_cmp_pd_mask(x, _mm512_set1_pd(2.2250738585072014e-308), _CMP_GE_OQ) &
                          _mm512_cmp_pd_mask(x, _mm512_set1_pd(INFINITY), _CMP_LT_OQ);
        __m512d e = _mm512_fnmadd_pd(x, q, p); /* p - x q, exact */
        lg = _mm512_mask_add_pd(lg, normal, lg, _mm512_div_pd(e, p));
        if (_kandn_mask8(normal, live)) {
            /* a ratio out of range of positive finite p and q: log p - log q */
            const __m512d inf = _mm512_set1_pd(INFINITY), zero = _mm512_setzero_pd();
            __mmask8 extreme = _kandn_mask8(normal, _mm512_cmp_pd_mask(p, zero, _CMP_GT_OQ) &
                                                        _mm512_cmp_pd_mask(p, inf, _CMP_LT_OQ) &
                                                        _mm512_cmp_pd_mask(q, zero, _CMP_GT_OQ) &
                                                        _mm512_cmp_pd_mask(q, inf, _CMP_LT_OQ));
            if (extreme)
                lg = _mm512_mask_sub_pd(lg, extreme, fastce512_log_pos_pd(p, 0),
                                        fastce512_log_pos_pd(q, 0));
        }
    }
    __m512d term = _mm512_maskz_mul_pd(live, p, lg);
    if (!float24) *term_lo = _mm512_maskz_fmsub_pd(live, p, lg, term);
    return term;
}

/* The sum of a row's terms, sixteen a step into two lane sets (as in
 * cat_row: plain for float rows, compensated with the products' errors
 * for double rows), then a masked tail of eight at a time, whose missing
 * lanes load as p = 0 (a zero term). */
#define FASTCE_ENTROPY_AVX512(SUF, TYPE, F24)                                              \
    FASTCE_ALWAYS_INLINE void entropy_add_##SUF(__m512d term, __m512d term_lo, __m512d *acc, \
                                                __m512d *err) {                            \
        if (F24) {                                                                         \
            *acc = _mm512_add_pd(*acc, term);                                              \
        } else {                                                                           \
            two_sum_add(acc, err, term);                                                   \
            *err = _mm512_add_pd(*err, term_lo);                                           \
        }                                                                                  \
    }                                                                                      \
    FASTCE_ALWAYS_INLINE double entropy_row_body_##SUF(const TYPE *p, const TYPE *q,       \
                                                       ptrdiff_t C, const int has_q) {     \
        __m512d acc0 = _mm512_setzero_pd(), err0 = acc0, acc1 = acc0, err1 = acc0;         \
        __m512d lo0 = acc0, lo1 = acc0, qv0 = acc0, qv1 = acc0;                            \
        ptrdiff_t j = 0;                                                                   \
        for (; j + 16 <= C; j += 16) {                                                     \
            if (has_q) {                                                                   \
                qv0 = fastce512_load8_##SUF(q + j);                                        \
                qv1 = fastce512_load8_##SUF(q + j + 8);                                    \
            }                                                                              \
            __m512d t0 = entropy8(fastce512_load8_##SUF(p + j), qv0, has_q, F24, &lo0);     \
            __m512d t1 = entropy8(fastce512_load8_##SUF(p + j + 8), qv1, has_q, F24, &lo1); \
            entropy_add_##SUF(t0, lo0, &acc0, &err0);                                      \
            entropy_add_##SUF(t1, lo1, &acc1, &err1);                                      \
        }                                                                                  \
        for (; j < C; j += 8) {                                                            \
            __mmask8 m = C - j >= 8 ? 0xff : fastce512_first8(C - j);                      \
            if (has_q) qv0 = fastce512_mload8_##SUF(m, q + j);                             \
            __m512d t0 = entropy8(fastce512_mload8_##SUF(m, p + j), qv0, has_q, F24, &lo0); \
            entropy_add_##SUF(t0, lo0, &acc0, &err0);                                      \
        }                                                                                  \
        if (F24) return _mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1));                  \
        fastce_dd total = comp_total(acc0, err0, acc1, err1);                              \
        return total.hi + total.lo;                                                        \
    }                                                                                      \
    static double entropy_row_##SUF(const TYPE *p, const TYPE *q, ptrdiff_t C) {           \
        return q ? entropy_row_body_##SUF(p, q, C, 1) : entropy_row_body_##SUF(p, NULL, C, 0); \
    }                                                                                      \
    FASTCE_ALWAYS_INLINE void entropy_terms_body_##SUF(const TYPE *p, const TYPE *q,       \
                                                       ptrdiff_t n, double *term,         \
                                                       double *term_lo, const int has_q) { \
        __m512d e = _mm512_setzero_pd(), qv = e;                                           \
        for (ptrdiff_t j = 0; j < n; j += 8) {                                             \
            __mmask8 m = n - j >= 8 ? 0xff : fastce512_first8(n - j);                      \
            if (has_q) qv = fastce512_mload8_##SUF(m, q + j);                              \
            __m512d l = entropy8(fastce512_mload8_##SUF(m, p + j), qv, has_q, F24, &e);     \
            _mm512_mask_storeu_pd(term + j, m, l);                                         \
            if (!F24) _mm512_mask_storeu_pd(term_lo + j, m, e);                            \
        }                                                                                  \
    }                                                                                      \
    static void entropy_terms_##SUF(const TYPE *p, const TYPE *q, ptrdiff_t n, double *term, \
                                    double *term_lo) {                                     \
        if (q) entropy_terms_body_##SUF(p, q, n, term, term_lo, 1);                        \
        else entropy_terms_body_##SUF(p, NULL, n, term, term_lo, 0);                       \
    }

FASTCE_ENTROPY_AVX512(f32, float, 1)
FASTCE_ENTROPY_AVX512(f64, double, 0)

void fastce_vec_avx512_fill_pointwise(fastce_vec_ops *t) {
    t->sigmoid_ce_f32 = sigmoid_ce_f32;
    t->sigmoid_ce_f64 = sigmoid_ce_f64;
    t->binary_ce_f32 = binary_ce_f32;
    t->binary_ce_f64 = binary_ce_f64;
    t->categorical_rows_f32 = categorical_rows_f32;
    t->categorical_rows_f64 = categorical_rows_f64;
    t->entropy_row_f32 = entropy_row_f32;
    t->entropy_row_f64 = entropy_row_f64;
    t->entropy_terms_f32 = entropy_terms_f32;
    t->entropy_terms_f64 = entropy_terms_f64;
}

#endif /* FASTCE_HAVE_AVX512_TABLE */
