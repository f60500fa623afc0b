/* vec_avx512_planes.c: sparse softmax cross-entropy, logsumexp,
 * log_softmax and softmax of float samples side by side with more classes
 * than the row kernels hold (C > FASTCE_SMALL_C; a class axis that is not
 * the last: sample k's class j at x[k + j*n1]), in AVX-512: the entries
 * sparse_ce_planes_f32 and softmax_planes_f32 of the AVX-512 table
 * (vec.h), put there by fastce_vec_avx512_fill_planes.
 *
 * Sixteen samples are the lanes of a vector and class j of them one load
 * from plane j, as in the row kernels (vec_avx512_rows.c), which hold all
 * C class vectors in registers. C vectors do not fit here, and reading a
 * group's C lines twice costs: when n1 is a multiple of 1024, those lines
 * fall in one set of the L1 and L2 caches, which keep 12 and 16 of them.
 * So the statistics take one pass, in chunks of FASTCE_PLANES_CHUNK
 * classes held in registers: the chunk's max M and its terms
 * exp(x_j - M) (float, TwoSum-corrected, as in the row kernels) summed in
 * double lanes into its own rest r_M (row_impl.h: the sum over the x_j
 * but one maximum), then merged into the running max m and rest with one
 * double exp(-|m - M|):
 *   M > m:  rest = (rest + 1) exp(m - M) + r_M,  then m = M
 *   else:   rest = rest + (r_M + 1) exp(M - m)
 * (M == m gives exp = 1: the chunk's maximum is a tie; a lane still at
 * -inf, every class so far masked, has its count wiped by exp = 0 once a
 * finite max comes). A merge rounds in double, 2^-53 of the rest each:
 * nothing in a float result. The outputs that need each class
 * (log_softmax, softmax, the gradient) take a second pass.
 *
 * A group stops before its first sample in use whose max or rest is not
 * finite (a NaN, +inf, every class masked) or whose rest is below
 * FASTCE_TINY_REST_F32 (its terms may be subnormal floats): the kernels
 * return how many leading samples they did, and the generic path takes
 * the next ones.
 *
 * Also argmax_planes (float and double), the argmax of samples side by
 * side behind accuracy: one pass. */
#include "vec.h"

#ifdef FASTCE_HAVE_AVX512_TABLE

#include <math.h>

#include "internal.h"
#include "simd_avx512.h"
#include "simd_avx512_lanes.h"

/* Classes a chunk: its vectors stay in registers. */
#define FASTCE_PLANES_CHUNK 16

/* The statistics of a group: max m (float lanes and double halves), rest
 * and L = log1p(rest) in double halves, the target's logit xy; nr the
 * samples the group does (it may stop short), used those in use. */
typedef struct {
    __m512 m, xy;
    __m512d m_lo, m_hi, rest_lo, rest_hi, L_lo, L_hi;
    __m512i yv;
    __mmask16 used;
    __mmask16 far; /* a finite entry below its chunk's max - 87: a term that may be subnormal */
    ptrdiff_t nr;
} planes16;

/* Class j of the group's samples (nr of them; lanes past nr read as 0). */
FASTCE_ALWAYS_INLINE __m512 plane_load(const float *p, ptrdiff_t nr) {
    return nr == 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(fastce512_first16(nr), p);
}

FASTCE_ALWAYS_INLINE void plane_store(float *p, ptrdiff_t nr, __m512 v) {
    if (nr == 16) _mm512_storeu_ps(p, v);
    else _mm512_mask_storeu_ps(p, fastce512_first16(nr), v);
}

/* One half (8 lanes) of a merge of a chunk (max M, rest s) into (m, rest),
 * as in the header; up: the lanes where M > m, same: where M == m. */
FASTCE_ALWAYS_INLINE void merge_half(__m512d *m, __m512d *rest, __m512d M, __m512d s,
                                     __mmask8 up, __mmask8 same) {
    const __m512d one = _mm512_set1_pd(1.0);
    __m512d d = _mm512_sub_pd(_mm512_setzero_pd(), _mm512_abs_pd(_mm512_sub_pd(M, *m)));
    __m512d e = _mm512_mask_mov_pd(fastce512_exp_pd(d, FASTCE_EXP_NONPOS), same, one);
    __m512d kept = _mm512_mask_mov_pd(*rest, up, s), scaled = _mm512_mask_mov_pd(s, up, *rest);
    *rest = _mm512_fmadd_pd(_mm512_add_pd(scaled, one), e, kept);
    *m = _mm512_mask_mov_pd(*m, up, M);
}

/* Classes j0 .. j0 + nc - 1 of the group at xb into its running max and
 * rest (and, with pick, its target's logit). */
FASTCE_ALWAYS_INLINE void planes16_chunk(planes16 *g, const float *xb, ptrdiff_t n1, ptrdiff_t j0,
                                         const ptrdiff_t nc, ptrdiff_t nr, const int pick) {
    __m512 v[FASTCE_PLANES_CHUNK];
    __m512 M = _mm512_set1_ps(-INFINITY);
    for (ptrdiff_t k = 0; k < nc; k++) {
        v[k] = plane_load(xb + (j0 + k) * n1, nr);
        M = _mm512_max_ps(v[k], M);
        if (pick)
            g->xy = _mm512_mask_mov_ps(g->xy, _mm512_cmpeq_epi32_mask(g->yv, _mm512_set1_epi32((int)(j0 + k))),
                                       v[k]);
    }
    __m512d s_lo = _mm512_setzero_pd(), s_hi = s_lo;
    __m512i ties = _mm512_set1_epi32(-1);
    for (ptrdiff_t k = 0; k < nc; k++) {
        g->far |= _mm512_cmp_ps_mask(_mm512_sub_ps(v[k], M), _mm512_set1_ps(FASTCE_TAME_F32), _CMP_LT_OQ) &
                  _mm512_cmp_ps_mask(v[k], _mm512_set1_ps(-INFINITY), _CMP_NEQ_UQ);
        __m512 ex = fastce512_exp_diff_ps(v[k], M, 0);
        __mmask16 eq = _mm512_cmp_ps_mask(v[k], M, _CMP_EQ_OQ), ne = (__mmask16)~eq;
        ties = _mm512_mask_add_epi32(ties, eq, ties, _mm512_set1_epi32(1));
        s_lo = _mm512_mask_add_pd(s_lo, (__mmask8)ne, s_lo, lo_pd(ex));
        s_hi = _mm512_mask_add_pd(s_hi, (__mmask8)(ne >> 8), s_hi, hi_pd(ex));
    }
    s_lo = _mm512_add_pd(s_lo, _mm512_cvtepi32_pd(_mm512_castsi512_si256(ties)));
    s_hi = _mm512_add_pd(s_hi, _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(ties, 1)));
    __mmask16 up = _mm512_cmp_ps_mask(M, g->m, _CMP_GT_OQ), same = _mm512_cmp_ps_mask(M, g->m, _CMP_EQ_OQ);
    merge_half(&g->m_lo, &g->rest_lo, lo_pd(M), s_lo, (__mmask8)up, (__mmask8)same);
    merge_half(&g->m_hi, &g->rest_hi, hi_pd(M), s_hi, (__mmask8)(up >> 8), (__mmask8)(same >> 8));
    g->m = _mm512_max_ps(M, g->m);
}

/* The group's statistics once its chunks are in: g->nr stops before its
 * first sample in use the generic path must take (see the header), maybe
 * at 0; g->used keeps the samples in use before it. */
FASTCE_ALWAYS_INLINE void planes16_finish(planes16 *g, ptrdiff_t nr, __mmask16 used) {
    const __m512d inf = _mm512_set1_pd(INFINITY), tiny = _mm512_set1_pd(FASTCE_TINY_REST_F32);
    __mmask16 fine = _mm512_cmp_ps_mask(_mm512_abs_ps(g->m), _mm512_set1_ps(INFINITY), _CMP_LT_OQ);
    /* rest finite (not NaN, not inf), and not tiny where a term may be
     * subnormal: a confident sample (rest below 2^-100 from normal terms
     * alone) stays, as in the row kernels */
    __mmask16 small = (__mmask16)(_mm512_cmp_pd_mask(g->rest_lo, tiny, _CMP_LT_OQ) |
                                  (unsigned)_mm512_cmp_pd_mask(g->rest_hi, tiny, _CMP_LT_OQ) << 8);
    fine &= (__mmask16)(_mm512_cmp_pd_mask(g->rest_lo, inf, _CMP_LT_OQ) |
                        (unsigned)_mm512_cmp_pd_mask(g->rest_hi, inf, _CMP_LT_OQ) << 8) &
            (__mmask16)~(small & g->far);
    __mmask16 bad = used & fastce512_first16(nr) & ~fine;
    g->nr = bad ? lowest(bad) : nr;
    g->used = used & fastce512_first16(g->nr);
    g->L_lo = fastce512_log1p_rest24_pd(_mm512_maskz_mov_pd((__mmask8)fine, g->rest_lo));
    g->L_hi = fastce512_log1p_rest24_pd(_mm512_maskz_mov_pd((__mmask8)(fine >> 8), g->rest_hi));
}

/* A block of up to FASTCE_PLANES_GROUPS groups of 16 samples, nb in all,
 * read plane by plane: each visit of a plane reads the block's adjacent
 * lines (the groups' chunks one after another in the first pass, the
 * groups' entries of the plane in the second). With one group a block,
 * one line a visit, float32 (4, 150, 64, 64) on one thread ran at 0.64-0.70
 * G elements/s for log_softmax, 1.03-1.21 for the loss; two groups gave
 * 0.79 and 1.44, four 1.11 and 1.50, eight 0.94 and 1.47. */
#define FASTCE_PLANES_GROUPS 4

typedef struct {
    planes16 g[FASTCE_PLANES_GROUPS];
    int ng;          /* groups in the block */
    int nd;          /* groups with samples done: the last may stop short */
    ptrdiff_t done;  /* samples done, from the block's first */
} planes_block;

/* Samples in group i of a block of nb. */
static inline ptrdiff_t group_size(ptrdiff_t nb, int i) {
    return nb - 16 * i < 16 ? nb - 16 * i : 16;
}

/* The statistics of the block of nb samples at xb (used: the samples in
 * use of each group, yv set in each group with pick), and which of them
 * the block does: up to the first sample in use the generic path must
 * take. */
FASTCE_ALWAYS_INLINE void planes_block_stats(planes_block *b, const float *xb, ptrdiff_t C,
                                             ptrdiff_t n1, ptrdiff_t nb, const __mmask16 *used,
                                             const int pick) {
    const int ng = (int)((nb + 15) / 16);
    b->ng = ng;
    for (int i = 0; i < ng; i++) {
        planes16 *g = b->g + i;
        g->m = _mm512_set1_ps(-INFINITY);
        g->m_lo = g->m_hi = _mm512_set1_pd(-INFINITY);
        g->rest_lo = g->rest_hi = _mm512_setzero_pd();
        g->xy = _mm512_setzero_ps();
        g->far = 0;
    }
    ptrdiff_t j0 = 0;
    for (; j0 + FASTCE_PLANES_CHUNK <= C; j0 += FASTCE_PLANES_CHUNK)
        for (int i = 0; i < ng; i++)
            planes16_chunk(b->g + i, xb + 16 * i, n1, j0, FASTCE_PLANES_CHUNK, group_size(nb, i), pick);
    if (j0 < C)
        for (int i = 0; i < ng; i++)
            planes16_chunk(b->g + i, xb + 16 * i, n1, j0, C - j0, group_size(nb, i), pick);
    b->done = 0;
    b->nd = 0;
    for (int i = 0; i < ng; i++) {
        planes16_finish(b->g + i, group_size(nb, i), used[i]);
        b->done += b->g[i].nr;
        b->nd = i + 1;
        if (b->g[i].nr < group_size(nb, i)) break;
    }
}

/* exp(x_j - max) of plane j, 1 at a maximum. */
FASTCE_ALWAYS_INLINE __m512 plane_exp(__m512 v, __m512 m) {
    return _mm512_mask_mov_ps(fastce512_exp_diff_ps(v, m, 0), _mm512_cmp_ps_mask(v, m, _CMP_EQ_OQ),
                              _mm512_set1_ps(1.0f));
}

/* logsumexp (op 0), log_softmax (1) or softmax (2) of the samples a block
 * did (nd groups, the last maybe short). */
FASTCE_ALWAYS_INLINE void planes_block_softmax(const planes_block *b, const float *xb, ptrdiff_t C,
                                               ptrdiff_t n1, int op, float *ob) {
    const int nd = b->nd;
    if (op == 0) {
        for (int i = 0; i < nd; i++) {
            const planes16 *g = b->g + i;
            __m512d lse_lo = _mm512_add_pd(g->m_lo, g->L_lo), lse_hi = _mm512_add_pd(g->m_hi, g->L_hi);
            unsigned c = ((unsigned)lse_cancels(g->m_hi, g->L_hi, lse_hi) << 8 |
                          lse_cancels(g->m_lo, g->L_lo, lse_lo)) & fastce512_first16(g->nr);
            _mm512_mask_storeu_ps(ob + 16 * i, fastce512_first16(g->nr), to_ps(lse_lo, lse_hi));
            if (c) {
                float mx[16];
                _mm512_storeu_ps(mx, g->m);
                fastce_redo_lse_f32(xb + 16 * i, 1, n1, C, mx, c, ob + 16 * i);
            }
        }
        return;
    }
    __m512 inv[FASTCE_PLANES_GROUPS];
    const __m512d one = _mm512_set1_pd(1.0);
    for (int i = 0; i < nd; i++)
        inv[i] = to_ps(_mm512_div_pd(one, _mm512_add_pd(one, b->g[i].rest_lo)),
                       _mm512_div_pd(one, _mm512_add_pd(one, b->g[i].rest_hi)));
    for (ptrdiff_t j = 0; j < C; j++)
        for (int i = 0; i < nd; i++) {
            const planes16 *g = b->g + i;
            __m512 v = plane_load(xb + 16 * i + j * n1, g->nr), o;
            if (op == 1) /* (x_j - max) - lse_rel, in double: exact difference */
                o = to_ps(_mm512_sub_pd(_mm512_sub_pd(lo_pd(v), g->m_lo), g->L_lo),
                          _mm512_sub_pd(_mm512_sub_pd(hi_pd(v), g->m_hi), g->L_hi));
            else
                o = _mm512_mul_ps(plane_exp(v, g->m), inv[i]);
            plane_store(ob + 16 * i + j * n1, g->nr, o);
        }
}

static ptrdiff_t softmax_planes_f32(const float *x, ptrdiff_t n, ptrdiff_t C, ptrdiff_t n1,
                                    int op, float *out) {
    const ptrdiff_t block = 16 * FASTCE_PLANES_GROUPS;
    __mmask16 all[FASTCE_PLANES_GROUPS];
    for (int i = 0; i < FASTCE_PLANES_GROUPS; i++) all[i] = 0xffff;
    for (ptrdiff_t r0 = 0, nb = fastce_first_block(x, 4, 64, n, block, op == 0); r0 < n;
         r0 += nb, nb = n - r0 < block ? n - r0 : block) {
        planes_block b;
        planes_block_stats(&b, x + r0, C, n1, nb, all, 0);
        planes_block_softmax(&b, x + r0, C, n1, op, out + r0);
        if (b.done < nb) return r0 + b.done;
    }
    return n;
}

/* What the gradient of a group needs: sp = a * w_y / (1 + rest) for the
 * other classes' p_j (a = sw * grad_scale, 0 for ignored samples), and
 * for the target entry a * w_y * (p_y - 1), p_y - 1 = -rest / (1 + rest)
 * at a maximum (see sparse_row in softmax_ce_impl.h). */
typedef struct {
    __m512 sp;
    __m512d c_lo, c_hi, inv_lo, inv_hi;
    __mmask16 at_max;
} planes16_grad;

FASTCE_ALWAYS_INLINE void planes16_grad_of(planes16_grad *q, const planes16 *g, __m512 swv, __m512 wy,
                                           double grad_scale) {
    const __m512d one = _mm512_set1_pd(1.0), gs = _mm512_set1_pd(grad_scale);
    q->inv_lo = _mm512_div_pd(one, _mm512_add_pd(one, g->rest_lo));
    q->inv_hi = _mm512_div_pd(one, _mm512_add_pd(one, g->rest_hi));
    __m512d a_lo = _mm512_maskz_mul_pd((__mmask8)g->used, lo_pd(swv), gs);
    __m512d a_hi = _mm512_maskz_mul_pd((__mmask8)(g->used >> 8), hi_pd(swv), gs);
    q->c_lo = _mm512_mul_pd(a_lo, lo_pd(wy));
    q->c_hi = _mm512_mul_pd(a_hi, hi_pd(wy));
    q->sp = to_ps(_mm512_mul_pd(q->c_lo, q->inv_lo), _mm512_mul_pd(q->c_hi, q->inv_hi));
    q->at_max = _mm512_cmp_ps_mask(g->xy, g->m, _CMP_EQ_OQ);
}

/* The gradient entries of plane j of a group (v: its logits). */
FASTCE_ALWAYS_INLINE __m512 planes16_grad_plane(const planes16 *g, const planes16_grad *q, __m512 v,
                                                ptrdiff_t j) {
    const __m512d one = _mm512_set1_pd(1.0), zero = _mm512_setzero_pd();
    __m512 ex = plane_exp(v, g->m);
    __m512 gj = _mm512_maskz_mul_ps(g->used, q->sp, ex); /* ignored samples: 0 */
    __mmask16 at = _mm512_mask_cmpeq_epi32_mask(g->used, g->yv, _mm512_set1_epi32((int)j));
    if (at) { /* the target entries, in double */
        __m512d pm1_lo = _mm512_mask_mov_pd(_mm512_fmsub_pd(lo_pd(ex), q->inv_lo, one), (__mmask8)q->at_max,
                                            _mm512_sub_pd(zero, _mm512_mul_pd(g->rest_lo, q->inv_lo)));
        __m512d pm1_hi = _mm512_mask_mov_pd(_mm512_fmsub_pd(hi_pd(ex), q->inv_hi, one),
                                            (__mmask8)(q->at_max >> 8),
                                            _mm512_sub_pd(zero, _mm512_mul_pd(g->rest_hi, q->inv_hi)));
        gj = _mm512_mask_mov_ps(gj, at, to_ps(_mm512_mul_pd(q->c_lo, pm1_lo), _mm512_mul_pd(q->c_hi, pm1_hi)));
    }
    return gj;
}

static ptrdiff_t sparse_ce_planes_f32(const float *x, const int64_t *y, ptrdiff_t n, ptrdiff_t C,
                                      ptrdiff_t n1, const float *w, const float *sw,
                                      int64_t ignore_index, float *loss, float *grad,
                                      double grad_scale, double *total) {
    const ptrdiff_t block = 16 * FASTCE_PLANES_GROUPS;
    fastce_acc acc = {0.0, 0.0}; /* in sample order: see fastce_acc_in_order */
    ptrdiff_t r0 = 0;
    for (ptrdiff_t nb = fastce_first_block(x, 4, 64, n, block, 1); r0 < n;
         r0 += nb, nb = n - r0 < block ? n - r0 : block) {
        const float *xb = x + r0;
        planes_block b;
        __mmask16 used[FASTCE_PLANES_GROUPS];
        for (int i = 0; i < (nb + 15) / 16; i++)
            b.g[i].yv = labels16(y + r0 + 16 * i, group_size(nb, i), ignore_index, used + i);
        planes_block_stats(&b, xb, C, n1, nb, used, 1);
        planes16_grad q[FASTCE_PLANES_GROUPS];
        for (int i = 0; i < b.nd; i++) {
            const planes16 *g = b.g + i;
            const ptrdiff_t s0 = r0 + 16 * i;
            const __mmask16 live = fastce512_first16(g->nr);
            /* l = sw * w_y * ((max - x_y) + L), max - x_y = 0 at a maximum */
            __mmask16 at_max = _mm512_cmp_ps_mask(g->xy, g->m, _CMP_EQ_OQ);
            __m512 wy = w ? _mm512_mask_i32gather_ps(_mm512_set1_ps(1.0f), g->used, g->yv, w, 4)
                          : _mm512_set1_ps(1.0f);
            __m512 swv = sw ? _mm512_maskz_loadu_ps(live, sw + s0) : _mm512_set1_ps(1.0f);
            __m512d ly_lo = _mm512_add_pd(_mm512_maskz_sub_pd((__mmask8)~at_max, g->m_lo, lo_pd(g->xy)), g->L_lo);
            __m512d ly_hi = _mm512_add_pd(_mm512_maskz_sub_pd((__mmask8)(~at_max >> 8), g->m_hi, hi_pd(g->xy)),
                                          g->L_hi);
            __m512d l_lo = _mm512_maskz_mul_pd((__mmask8)g->used, _mm512_mul_pd(lo_pd(wy), ly_lo), lo_pd(swv));
            __m512d l_hi = _mm512_maskz_mul_pd((__mmask8)(g->used >> 8), _mm512_mul_pd(hi_pd(wy), ly_hi),
                                               hi_pd(swv));
            double lv[16];
            _mm512_storeu_pd(lv, l_lo);
            _mm512_storeu_pd(lv + 8, l_hi);
            fastce_acc_in_order(&acc, lv, (int)g->nr);
            if (loss) _mm512_mask_storeu_ps(loss + s0, live, to_ps(l_lo, l_hi));
            if (grad) planes16_grad_of(q + i, g, swv, wy, grad_scale);
        }
        if (grad)
            for (ptrdiff_t j = 0; j < C; j++)
                for (int i = 0; i < b.nd; i++) {
                    const planes16 *g = b.g + i;
                    __m512 v = plane_load(xb + 16 * i + j * n1, g->nr);
                    plane_store(grad + r0 + 16 * i + j * n1, g->nr, planes16_grad_plane(g, q + i, v, j));
                }
        if (b.done < nb) {
            r0 += b.done;
            break;
        }
    }
    *total += fastce_acc_value(acc);
    return r0 < n ? r0 : n;
}

/* ------------------------------------------------------------- argmax
 * One pass over the planes, FASTCE_PLANES_GROUPS groups a visit, each
 * lane keeping its max, its index and whether it has met a NaN (then its
 * index is the NaN's, and stays). */

/* Samples in group i of a block of nb, 8 a group (doubles). */
static inline ptrdiff_t group8_size(ptrdiff_t nb, int i) {
    return nb - 8 * i < 8 ? nb - 8 * i : 8;
}

FASTCE_ALWAYS_INLINE __m512d plane_load_pd(const double *p, ptrdiff_t nr) {
    return nr == 8 ? _mm512_loadu_pd(p) : _mm512_maskz_loadu_pd(fastce512_first8(nr), p);
}

/* argmax_block_f32/f64 and argmax_planes_f32/f64: L lanes of VEC a group,
 * the indices in IDX lanes (int32) under MASK masks; P is 512 for float
 * indices, 256 for double ones (8 int32). */
#define FASTCE_ARGMAX_PLANES(SUF, TYPE, W, VEC, IDX, P, MASK, L, LOAD, SIZE, FIRST)            \
    FASTCE_ALWAYS_INLINE void argmax_block_##SUF(const TYPE *xb, ptrdiff_t nb, ptrdiff_t C,     \
                                                 ptrdiff_t n1, const int ng, int32_t *k) {      \
        VEC m[FASTCE_PLANES_GROUPS];                                                            \
        IDX at[FASTCE_PLANES_GROUPS];                                                           \
        MASK nan[FASTCE_PLANES_GROUPS];                                                         \
        for (int i = 0; i < ng; i++) {                                                          \
            m[i] = LOAD(xb + L * i, SIZE(nb, i));                                               \
            at[i] = _mm##P##_setzero_si##P();                                                   \
            nan[i] = _mm512_cmp_##W##_mask(m[i], m[i], _CMP_UNORD_Q);                           \
        }                                                                                       \
        for (ptrdiff_t j = 1; j < C; j++) {                                                     \
            const IDX jv = _mm##P##_set1_epi32((int)j);                                         \
            for (int i = 0; i < ng; i++) {                                                      \
                VEC v = LOAD(xb + L * i + j * n1, SIZE(nb, i));                                 \
                MASK first_nan = _mm512_mask_cmp_##W##_mask((MASK)~nan[i], v, v, _CMP_UNORD_Q); \
                MASK up = _mm512_mask_cmp_##W##_mask((MASK)~nan[i], v, m[i], _CMP_GT_OQ);       \
                m[i] = _mm512_mask_mov_##W(m[i], up, v);                                        \
                at[i] = _mm##P##_mask_mov_epi32(at[i], up | first_nan, jv);                     \
                nan[i] |= first_nan;                                                            \
            }                                                                                   \
        }                                                                                       \
        for (int i = 0; i < ng; i++)                                                            \
            _mm##P##_mask_storeu_epi32(k + L * i, FIRST(SIZE(nb, i)), at[i]);                   \
    }                                                                                           \
    static void argmax_planes_##SUF(const TYPE *x, ptrdiff_t n, ptrdiff_t C, ptrdiff_t n1,      \
                                    int32_t *k) {                                               \
        const ptrdiff_t block = L * FASTCE_PLANES_GROUPS;                                       \
        ptrdiff_t r0 = 0;                                                                       \
        for (; r0 + block <= n; r0 += block)                                                    \
            argmax_block_##SUF(x + r0, block, C, n1, FASTCE_PLANES_GROUPS, k + r0);             \
        if (r0 < n) argmax_block_##SUF(x + r0, n - r0, C, n1, (int)((n - r0 + L - 1) / L), k + r0); \
    }

FASTCE_ARGMAX_PLANES(f32, float, ps, __m512, __m512i, 512, __mmask16, 16, plane_load, group_size,
                     fastce512_first16)
FASTCE_ARGMAX_PLANES(f64, double, pd, __m512d, __m256i, 256, __mmask8, 8, plane_load_pd,
                     group8_size, fastce512_first8)
#undef FASTCE_ARGMAX_PLANES

void fastce_vec_avx512_fill_planes(fastce_vec_ops *t) {
    t->sparse_ce_planes_f32 = sparse_ce_planes_f32;
    t->softmax_planes_f32 = softmax_planes_f32;
    t->argmax_planes_f32 = argmax_planes_f32;
    t->argmax_planes_f64 = argmax_planes_f64;
}

#endif /* FASTCE_HAVE_AVX512_TABLE */
