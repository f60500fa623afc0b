/* vec_avx512_planes_f64.c: sparse softmax cross-entropy, logsumexp,
 * log_softmax and softmax of double samples side by side with more classes
 * than the row kernels hold (C > FASTCE_SMALL_C; sample k's class j at
 * x[k + j*n1]), in AVX-512: the entries sparse_ce_planes_f64 and
 * softmax_planes_f64 of the AVX-512 table (vec.h), put there by
 * fastce_vec_avx512_fill_planes_f64.
 *
 * Eight samples are the lanes of a vector, class j of them one load from
 * plane j, and the statistics take one pass over the planes in chunks of
 * FASTCE_PLANES_CHUNK classes held in registers, for the reasons given in
 * vec_avx512_planes.c (the float twins). Those merge each chunk's own max
 * and rest into the running ones with a double exp, a rounding that is
 * nothing in a float result. In double, each merge that raises the max
 * would round the rest summed so far once more, and a sample whose max
 * rises chunk after chunk would lose the 2-ulp bound. So the terms here
 * are taken against a reference instead: ref, the max of the sample's
 * first chunk with a finite one, never above the sample's max m, and
 *   S = the sum over the x_j but one maximum of exp(x_j - ref),
 * in TwoSum-compensated lanes, each term computed as the row kernels
 * compute theirs (exp_diff: the TwoSum error of x_j - ref folded into the
 * reduced argument), its rounding error into the compensation. When a chunk raises the max, the old maximum's entries (cnt
 * of them) become ordinary terms, cnt * exp(m_old - ref). At the end
 *   rest = S * exp(ref - m) + (cnt - 1),
 * the exp of the exact difference (ref - m as a double-double) and the
 * product and sum in double-double, rounded once: the terms' roundings and
 * one more, as in the row kernels, and no merge rounds what came before.
 * The outputs that need each class (log_softmax, softmax, the gradient)
 * take a second pass, against m.
 *
 * A group stops before its first sample in use that the generic path must
 * take: those the row kernels leave (a NaN, +inf, every class masked, a
 * rest below FASTCE_TINY_REST_F64 with a finite entry below m - 708, found
 * by reading the group's planes again when a rest is that small), and a
 * max more than FASTCE_REF_SPAN above its ref (the terms stay below
 * e^512: no sum of 2^31 of them overflows). The kernels return how many
 * leading samples they did. */
#include "vec.h"

#ifdef FASTCE_HAVE_AVX512_TABLE

#include <math.h>

#include "internal.h"
#include "simd_avx512.h"
#include "simd_avx512_dd.h"
#include "simd_avx512_lanes.h"

/* Classes a chunk: its vectors stay in registers. */
#define FASTCE_PLANES_CHUNK 16
/* Groups of 8 samples a block: each visit of a plane reads 4 adjacent
 * lines, as the float kernels' blocks do. */
#define FASTCE_PLANES_GROUPS 4
/* How far a sample's max may rise above its ref. */
#define FASTCE_REF_SPAN 512.0

/* The statistics of a group: ref, max m, the sum s + comp of the
 * terms, the count cnt of entries equal to m, then rest and L =
 * log1p(rest); the target's logit xy; nr the samples the group does (it
 * may stop short), used those in use. */
typedef struct {
    __m512d ref, m, s, comp, cnt, rest, L, xy;
    __m512i yv;
    __mmask8 used;
    ptrdiff_t nr;
} planes8;

/* s += v with the add's rounding error (TwoSum) into comp, off the
 * loop-carried chain: the sum is s + comp, to far below an ulp (Kahan's
 * update, one rounding of the sum so far per add, left up to an ulp, and
 * with log1p's 1.2 a rising row of float64 logits came out 2.2 ulp off in
 * a review). A lane whose sum is not finite may get a NaN comp: such a
 * lane is left to the generic path anyway. */
FASTCE_ALWAYS_INLINE void terms_add(__m512d *s, __m512d *comp, __m512d v) {
    __m512d t = _mm512_add_pd(*s, v), bp = _mm512_sub_pd(t, *s);
    *comp = _mm512_add_pd(*comp, _mm512_add_pd(_mm512_sub_pd(*s, _mm512_sub_pd(t, bp)),
                                               _mm512_sub_pd(v, bp)));
    *s = t;
}

/* Class j of the group's samples (nr of them; lanes past nr read as 0). */
FASTCE_ALWAYS_INLINE __m512d plane_load(const double *p, ptrdiff_t nr) {
    return nr == 8 ? _mm512_loadu_pd(p) : _mm512_maskz_loadu_pd(fastce512_first8(nr), p);
}

FASTCE_ALWAYS_INLINE void plane_store(double *p, ptrdiff_t nr, __m512d v) {
    if (nr == 8) _mm512_storeu_pd(p, v);
    else _mm512_mask_storeu_pd(p, fastce512_first8(nr), v);
}

/* Samples in group i of a block of nb. */
static inline ptrdiff_t group_size(ptrdiff_t nb, int i) {
    return nb - 8 * i < 8 ? nb - 8 * i : 8;
}

/* The terms of a chunk's nc classes v into the group's sum, the
 * entries equal to the new max m counted in *eqc instead. tame: every
 * x_j - ref is known to lie in [-708, FASTCE_REF_SPAN], where the exp
 * needs no clamps and the sum cannot overflow. */
FASTCE_ALWAYS_INLINE void planes8_terms(planes8 *g, const __m512d *v, const ptrdiff_t nc, __m512d m,
                                        __m512d *eqc, const int tame) {
    const __m512d one = _mm512_set1_pd(1.0);
    for (ptrdiff_t k = 0; k < nc; k++) {
        __mmask8 eq = _mm512_cmp_pd_mask(v[k], m, _CMP_EQ_OQ);
        *eqc = _mm512_mask_add_pd(*eqc, eq, *eqc, one);
        __m512d lo, t = fastce512_exp_diff_lo_pd(v[k], g->ref, tame, &lo);
        terms_add(&g->s, &g->comp, _mm512_maskz_mov_pd((__mmask8)~eq, t));
        g->comp = _mm512_mask_add_pd(g->comp, (__mmask8)~eq, g->comp, lo); /* its rounding error */
    }
}

/* Classes j0 .. j0 + nc - 1 of the group at xb into its ref, max, terms
 * and count (and, with pick, its target's logit). A chunk whose entries
 * all lie within [ref - 708, ref + FASTCE_REF_SPAN] in every lane (none
 * masked, none far) takes the tame terms (float64 (4, 150, 64, 64) loss
 * 1.2x faster in a C harness); max and min skip a NaN, whose term makes
 * s NaN either way. */
FASTCE_ALWAYS_INLINE void planes8_chunk(planes8 *g, const double *xb, ptrdiff_t n1, ptrdiff_t j0,
                                        const ptrdiff_t nc, ptrdiff_t nr, const int pick) {
    const __m512d ninf = _mm512_set1_pd(-INFINITY);
    __m512d v[FASTCE_PLANES_CHUNK];
    __m512d M = ninf, lo = _mm512_set1_pd(INFINITY);
    for (ptrdiff_t k = 0; k < nc; k++) {
        v[k] = plane_load(xb + (j0 + k) * n1, nr);
        M = _mm512_max_pd(v[k], M); /* a NaN entry is dropped here: its term makes s NaN */
        lo = _mm512_min_pd(v[k], lo);
        if (pick)
            g->xy = _mm512_mask_mov_pd(g->xy, _mm512_cmpeq_epi64_mask(g->yv, _mm512_set1_epi64(j0 + k)),
                                       v[k]);
    }
    const __m512d m = _mm512_max_pd(M, g->m);
    const __mmask8 up = _mm512_cmp_pd_mask(M, g->m, _CMP_GT_OQ);
    g->ref = _mm512_mask_mov_pd(g->ref, _mm512_cmp_pd_mask(g->ref, ninf, _CMP_EQ_OQ), M);
    if (up) { /* the old maximum's entries (0 of a max still -inf), cnt (e + lo) */
        __m512d lo, e = fastce512_exp_diff_lo_pd(g->m, g->ref, 0, &lo);
        fastce512_dd p = fastce512_two_prod(_mm512_maskz_mov_pd(up, g->cnt), e);
        terms_add(&g->s, &g->comp, p.hi);
        g->comp = _mm512_mask_add_pd(g->comp, up, g->comp,
                                     _mm512_fmadd_pd(g->cnt, lo, p.lo));
    }
    const __mmask8 tame =
        _mm512_cmp_pd_mask(_mm512_sub_pd(lo, g->ref), _mm512_set1_pd(FASTCE_TAME_F64), _CMP_GE_OQ) &
        _mm512_cmp_pd_mask(_mm512_sub_pd(M, g->ref), _mm512_set1_pd(FASTCE_REF_SPAN), _CMP_LE_OQ);
    __m512d eqc = _mm512_setzero_pd();
    if (tame == 0xff) planes8_terms(g, v, nc, m, &eqc, 1);
    else planes8_terms(g, v, nc, m, &eqc, 0);
    g->cnt = _mm512_mask_mov_pd(_mm512_add_pd(g->cnt, eqc), up, eqc);
    g->m = m;
}

/* The group's rest and L once its chunks are in: g->nr stops before its
 * first sample in use the generic path must take (see the header), maybe
 * at 0; g->used keeps the samples in use before it. */
FASTCE_ALWAYS_INLINE void planes8_finish(planes8 *g, const double *xb, ptrdiff_t C, ptrdiff_t n1,
                                         ptrdiff_t nr, __mmask8 used) {
    const __m512d one = _mm512_set1_pd(1.0), inf = _mm512_set1_pd(INFINITY);
    __m512d span = _mm512_sub_pd(g->m, g->ref); /* a finite m has a finite ref */
    __mmask8 fine = _mm512_cmp_pd_mask(_mm512_abs_pd(g->m), inf, _CMP_LT_OQ) &
                    _mm512_cmp_pd_mask(span, _mm512_set1_pd(FASTCE_REF_SPAN), _CMP_LE_OQ);
    /* exp(ref - m) = exp(d.hi) exp(d.lo), exp(d.lo) = 1 + d.lo to 2^-88 (|d.lo| <= 2^-44) */
    fastce512_dd d = fastce512_two_sum(g->ref, _mm512_sub_pd(_mm512_setzero_pd(), g->m));
    fastce512_dd E = fastce512_dd_exp(_mm512_maskz_mov_pd(fine, d.hi));
    E = fastce512_dd_mul(E, (fastce512_dd){one, _mm512_maskz_mov_pd(fine, d.lo)});
    fastce512_dd S = fastce512_fast_two_sum(g->s, g->comp);
    fastce512_dd R = fastce512_dd_add(fastce512_dd_mul(S, E),
                                      (fastce512_dd){_mm512_sub_pd(g->cnt, one), _mm512_setzero_pd()});
    g->rest = R.hi;
    /* (L takes R.lo back below: the rounding of S*E is one more than the
     * row kernels' terms carry, and with it a rest made of one term far
     * above ref, whose exp's error the product rounded again, came out 2.4
     * ulp in the loss, a review found) */
    fine &= _mm512_cmp_pd_mask(g->rest, inf, _CMP_LT_OQ); /* not NaN, not inf */
    const __mmask8 live = used & fastce512_first8(nr);
    __mmask8 small = _mm512_mask_cmp_pd_mask(fine & live, g->rest,
                                             _mm512_set1_pd(FASTCE_TINY_REST_F64), _CMP_LT_OQ);
    if (small) { /* its terms may be subnormal: is there a finite entry below m - 708? */
        __mmask8 far = 0;
        for (ptrdiff_t j = 0; j < C; j++) {
            __m512d v = plane_load(xb + j * n1, nr);
            far |= _mm512_cmp_pd_mask(_mm512_sub_pd(v, g->m), _mm512_set1_pd(FASTCE_TAME_F64), _CMP_LT_OQ) &
                   _mm512_cmp_pd_mask(v, _mm512_set1_pd(-INFINITY), _CMP_NEQ_UQ);
        }
        fine &= (__mmask8)~(small & far);
    }
    __mmask8 bad = live & ~fine;
    g->nr = bad ? lowest(bad) : nr;
    g->used = used & fastce512_first8(g->nr);
    /* L = log1p(hi + lo) = log1p(hi) + lo/(1 + hi), in double-double and
     * rounded once, as the generic path and the row kernels take it (the
     * vector fastce512_log1p_rest_pd, 1.22 ulp, left a rest made of one
     * term far above ref 2.1 ulp off in 1 of 10^4 such samples, a review
     * found; libm's log1p, then rounded again, a rest just above a power
     * of two 1.6) */
    const __m512d h = _mm512_maskz_mov_pd(fine, g->rest);
    const fastce512_dd L = fastce512_log1p_dd(h);
    const __m512d c = _mm512_mul_pd(_mm512_maskz_mov_pd(fine, R.lo),
                                    _mm512_rcp14_pd(_mm512_add_pd(one, h)));
    g->L = _mm512_add_pd(L.hi, _mm512_add_pd(L.lo, c));
}

typedef struct {
    planes8 g[FASTCE_PLANES_GROUPS];
    int nd;          /* groups with samples done: the last may stop short */
    ptrdiff_t done;  /* samples done, from the block's first */
} planes_block;

/* The statistics of the block of nb samples at xb (used: the samples in
 * use of each group, yv set in each group with pick), and which of them
 * the block does: up to the first sample in use the generic path must
 * take. */
FASTCE_ALWAYS_INLINE void planes_block_stats(planes_block *b, const double *xb, ptrdiff_t C,
                                             ptrdiff_t n1, ptrdiff_t nb, const __mmask8 *used,
                                             const int pick) {
    const int ng = (int)((nb + 7) / 8);
    for (int i = 0; i < ng; i++) {
        planes8 *g = b->g + i;
        g->ref = g->m = _mm512_set1_pd(-INFINITY);
        g->s = g->comp = g->cnt = g->xy = _mm512_setzero_pd();
    }
    ptrdiff_t j0 = 0;
    for (; j0 + FASTCE_PLANES_CHUNK <= C; j0 += FASTCE_PLANES_CHUNK)
        for (int i = 0; i < ng; i++)
            planes8_chunk(b->g + i, xb + 8 * i, n1, j0, FASTCE_PLANES_CHUNK, group_size(nb, i), pick);
    if (j0 < C)
        for (int i = 0; i < ng; i++)
            planes8_chunk(b->g + i, xb + 8 * i, n1, j0, C - j0, group_size(nb, i), pick);
    b->done = 0;
    b->nd = 0;
    for (int i = 0; i < ng; i++) {
        planes8_finish(b->g + i, xb + 8 * i, C, n1, group_size(nb, i), used[i]);
        b->done += b->g[i].nr;
        b->nd = i + 1;
        if (b->g[i].nr < group_size(nb, i)) break;
    }
}

/* exp(x_j - max) of plane j, 1 at a maximum. */
FASTCE_ALWAYS_INLINE __m512d plane_exp(__m512d v, __m512d m) {
    return _mm512_mask_mov_pd(fastce512_exp_diff_pd(v, m, 0), _mm512_cmp_pd_mask(v, m, _CMP_EQ_OQ),
                              _mm512_set1_pd(1.0));
}

/* logsumexp (op 0), log_softmax (1) or softmax (2) of the samples a block
 * did (nd groups, the last maybe short). */
FASTCE_ALWAYS_INLINE void planes_block_softmax(const planes_block *b, const double *xb, ptrdiff_t C,
                                               ptrdiff_t n1, int op, double *ob) {
    const int nd = b->nd;
    if (op == 0) {
        for (int i = 0; i < nd; i++) {
            const planes8 *g = b->g + i;
            __m512d lse = _mm512_add_pd(g->m, g->L);
            unsigned c = lse_cancels(g->m, g->L, lse) & fastce512_first8(g->nr);
            _mm512_mask_storeu_pd(ob + 8 * i, fastce512_first8(g->nr), lse);
            if (c) {
                double mx[8];
                _mm512_storeu_pd(mx, g->m);
                fastce_redo_lse_f64(xb + 8 * i, 1, n1, C, mx, c, ob + 8 * i);
            }
        }
        return;
    }
    __m512d inv[FASTCE_PLANES_GROUPS];
    const __m512d one = _mm512_set1_pd(1.0);
    for (int i = 0; i < nd; i++) inv[i] = _mm512_div_pd(one, _mm512_add_pd(one, b->g[i].rest));
    for (ptrdiff_t j = 0; j < C; j++)
        for (int i = 0; i < nd; i++) {
            const planes8 *g = b->g + i;
            __m512d v = plane_load(xb + 8 * i + j * n1, g->nr), o;
            if (op == 1) o = _mm512_sub_pd(_mm512_sub_pd(v, g->m), g->L);
            else o = _mm512_mul_pd(plane_exp(v, g->m), inv[i]);
            plane_store(ob + 8 * i + j * n1, g->nr, o);
        }
}

FASTCE_ALWAYS_INLINE ptrdiff_t softmax_planes_op(const double *x, ptrdiff_t n, ptrdiff_t C,
                                                ptrdiff_t n1, const int op, double *out) {
    const ptrdiff_t block = 8 * FASTCE_PLANES_GROUPS;
    __mmask8 all[FASTCE_PLANES_GROUPS];
    for (int i = 0; i < FASTCE_PLANES_GROUPS; i++) all[i] = 0xff;
    for (ptrdiff_t r0 = 0, nb = fastce_first_block(x, 8, 64, n, block, op == 0); r0 < n;
         r0 += nb, nb = n - r0 < block ? n - r0 : block) {
        planes_block b;
        planes_block_stats(&b, x + r0, C, n1, nb, all, 0);
        planes_block_softmax(&b, x + r0, C, n1, op, out + r0);
        if (b.done < nb) return r0 + b.done;
    }
    return n;
}

static ptrdiff_t softmax_planes_f64(const double *x, ptrdiff_t n, ptrdiff_t C, ptrdiff_t n1,
                                    int op, double *out) {
    if (op == 0) return softmax_planes_op(x, n, C, n1, 0, out);
    if (op == 1) return softmax_planes_op(x, n, C, n1, 1, out);
    return softmax_planes_op(x, n, C, n1, 2, out);
}

/* The labels of the first nr samples as int64 lanes (ignored samples and
 * lanes past nr: class 0) and, in *used, the samples that are not ignored. */
FASTCE_ALWAYS_INLINE __m512i labels8(const int64_t *y, ptrdiff_t nr, int64_t ignore_index,
                                     __mmask8 *used) {
    const __mmask8 live = fastce512_first8(nr);
    __m512i a = _mm512_maskz_loadu_epi64(live, y);
    *used = _mm512_mask_cmpneq_epi64_mask(live, a, _mm512_set1_epi64(ignore_index));
    return _mm512_maskz_mov_epi64(*used, a);
}

/* What the gradient of a group needs: sp = c / (1 + rest) for the other
 * classes' p_j, c = a * w_y (a = sw * grad_scale, 0 for ignored samples),
 * and for the target entry c * (p_y - 1), p_y - 1 = -rest / (1 + rest) at
 * a maximum (see sparse_row in softmax_ce_impl.h). */
typedef struct {
    __m512d sp, c, inv;
    __mmask8 at_max;
} planes8_grad;

FASTCE_ALWAYS_INLINE void planes8_grad_of(planes8_grad *q, const planes8 *g, __m512d swv, __m512d wy,
                                          double grad_scale) {
    const __m512d one = _mm512_set1_pd(1.0);
    q->inv = _mm512_div_pd(one, _mm512_add_pd(one, g->rest));
    q->c = _mm512_mul_pd(_mm512_maskz_mul_pd(g->used, swv, _mm512_set1_pd(grad_scale)), wy);
    q->sp = _mm512_mul_pd(q->c, q->inv);
    q->at_max = _mm512_cmp_pd_mask(g->xy, g->m, _CMP_EQ_OQ);
}

/* The gradient entries of plane j of a group (v: its logits). */
FASTCE_ALWAYS_INLINE __m512d planes8_grad_plane(const planes8 *g, const planes8_grad *q, __m512d v,
                                                ptrdiff_t j) {
    __m512d ex = plane_exp(v, g->m);
    __m512d gj = _mm512_maskz_mul_pd(g->used, q->sp, ex); /* ignored samples: 0 */
    __mmask8 at = _mm512_mask_cmpeq_epi64_mask(g->used, g->yv, _mm512_set1_epi64(j));
    if (at) { /* the target entries */
        __m512d pm1 = _mm512_mask_mov_pd(_mm512_fmsub_pd(ex, q->inv, _mm512_set1_pd(1.0)), q->at_max,
                                         _mm512_sub_pd(_mm512_setzero_pd(), _mm512_mul_pd(g->rest, q->inv)));
        gj = _mm512_mask_mov_pd(gj, at, _mm512_mul_pd(q->c, pm1));
    }
    return gj;
}

static ptrdiff_t sparse_ce_planes_f64(const double *x, const int64_t *y, ptrdiff_t n, ptrdiff_t C,
                                      ptrdiff_t n1, const double *w, const double *sw,
                                      int64_t ignore_index, double *loss, double *grad,
                                      double grad_scale, double *total) {
    const ptrdiff_t block = 8 * FASTCE_PLANES_GROUPS;
    const __m512d one = _mm512_set1_pd(1.0);
    fastce_acc acc = {0.0, 0.0}; /* in sample order: see fastce_acc_in_order */
    ptrdiff_t r0 = 0;
    for (ptrdiff_t nb = fastce_first_block(x, 8, 64, n, block, 1); r0 < n;
         r0 += nb, nb = n - r0 < block ? n - r0 : block) {
        const double *xb = x + r0;
        planes_block b;
        __mmask8 used[FASTCE_PLANES_GROUPS];
        for (int i = 0; i < (nb + 7) / 8; i++)
            b.g[i].yv = labels8(y + r0 + 8 * i, group_size(nb, i), ignore_index, used + i);
        planes_block_stats(&b, xb, C, n1, nb, used, 1);
        planes8_grad q[FASTCE_PLANES_GROUPS];
        for (int i = 0; i < b.nd; i++) {
            const planes8 *g = b.g + i;
            const ptrdiff_t s0 = r0 + 8 * i;
            const __mmask8 live = fastce512_first8(g->nr);
            /* l = sw * w_y * ((max - x_y) + L), max - x_y = 0 at a maximum */
            __mmask8 at_max = _mm512_cmp_pd_mask(g->xy, g->m, _CMP_EQ_OQ);
            __m512d wy = w ? _mm512_mask_i64gather_pd(one, g->used, g->yv, w, 8) : one;
            __m512d swv = sw ? _mm512_maskz_loadu_pd(live, sw + s0) : one;
            __m512d ly = _mm512_add_pd(_mm512_maskz_sub_pd((__mmask8)~at_max, g->m, g->xy), g->L);
            __m512d l = _mm512_maskz_mul_pd(g->used, _mm512_mul_pd(wy, ly), swv);
            double lv[8];
            _mm512_storeu_pd(lv, l);
            fastce_acc_in_order(&acc, lv, (int)g->nr);
            if (loss) _mm512_mask_storeu_pd(loss + s0, live, l);
            if (grad) planes8_grad_of(q + i, g, swv, wy, grad_scale);
        }
        if (grad)
            for (ptrdiff_t j = 0; j < C; j++)
                for (int i = 0; i < b.nd; i++) {
                    const planes8 *g = b.g + i;
                    __m512d v = plane_load(xb + 8 * i + j * n1, g->nr);
                    plane_store(grad + r0 + 8 * i + j * n1, g->nr, planes8_grad_plane(g, q + i, v, j));
                }
        if (b.done < nb) {
            r0 += b.done;
            break;
        }
    }
    *total += fastce_acc_value(acc);
    return r0 < n ? r0 : n;
}

void fastce_vec_avx512_fill_planes_f64(fastce_vec_ops *t) {
    t->sparse_ce_planes_f64 = sparse_ce_planes_f64;
    t->softmax_planes_f64 = softmax_planes_f64;
}

#endif /* FASTCE_HAVE_AVX512_TABLE */
