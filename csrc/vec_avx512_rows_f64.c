/* vec_avx512_rows_f64.c: the double kernels of vec_avx512_rows.c, whose
 * head comment gives the scheme: sparse_ce_rows_f64, softmax_rows_f64 and
 * dense_ce_rows_f64 of the AVX-512 table (vec.h), put there by
 * fastce_vec_avx512_fill_rows_f64. Eight rows of doubles are the lanes of
 * a vector; the float64 weighted and smoothed losses are carried in
 * double-double (weighted_loss8). */
#include "vec.h"

#ifdef FASTCE_HAVE_AVX512_TABLE

#include <math.h>

#include "internal.h"
#include "simd_avx512.h"
#include "simd_avx512_dd.h"
#include "simd_avx512_lanes.h"
#include "vec_avx512_rows.h"

/* ============================================================= double */

/* shape16 for 8 rows of doubles: C <= 5 by permutes (vpermt2pd, vpermpd),
 * wider rows by blocks of 8 x 8 transposes. */
typedef struct {
    ptrdiff_t C, n1, step;
    int perm;
    __m512i lidx2[5], lidx[5];
    __mmask8 lmask[5][5];
    __m512i sidx2[5], sidx[5];
    __mmask8 smask[5][5];
} shape8;

FASTCE_ALWAYS_INLINE void shape8_init(shape8 *s, ptrdiff_t C, ptrdiff_t n1) {
    s->C = C;
    s->n1 = n1;
    s->step = n1 > 1 ? 1 : C;
    s->perm = n1 == 1 && C <= 5;
    if (!s->perm) return;
    for (int j = 0; j < C; j++) {
        int64_t a[8], b[8];
        for (int i = 0; i < C; i++) s->lmask[j][i] = 0;
        for (int k = 0; k < 8; k++) {
            int f = k * (int)C + j;
            a[k] = f & 15;
            b[k] = f & 7;
            s->lmask[j][f / 8] |= (__mmask8)(1u << k);
        }
        s->lidx2[j] = _mm512_loadu_si512(a);
        s->lidx[j] = _mm512_loadu_si512(b);
    }
    for (int i = 0; i < C; i++) {
        int64_t a[8], b[8];
        for (int j = 0; j < C; j++) s->smask[i][j] = 0;
        for (int p = 0; p < 8; p++) {
            int f = 8 * i + p, k = f / (int)C, j = f % (int)C;
            a[p] = k + (j == 1 ? 8 : 0);
            b[p] = k;
            s->smask[i][j] |= (__mmask8)(1u << p);
        }
        s->sidx2[i] = _mm512_loadu_si512(a);
        s->sidx[i] = _mm512_loadu_si512(b);
    }
}

/* 8 x 8 transpose of doubles, columns j < nc only (see transpose16_ps). */
FASTCE_ALWAYS_INLINE void transpose8_pd(const __m512d *r, __m512d *c, int nc) {
    __m512d t[8];
    /* t[2p + k], quarter L: column 2L + k of rows 2p, 2p+1 */
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);
        if (nc > 1) t[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]);
    }
    for (int k = 0; k < 2 && k < nc; k++) {
        __m512d a = _mm512_shuffle_f64x2(t[k], t[2 + k], 0x44);
        __m512d b = _mm512_shuffle_f64x2(t[4 + k], t[6 + k], 0x44);
        c[k] = _mm512_shuffle_f64x2(a, b, 0x88);
        if (2 + k < nc) c[2 + k] = _mm512_shuffle_f64x2(a, b, 0xdd);
        if (4 + k < nc) {
            a = _mm512_shuffle_f64x2(t[k], t[2 + k], 0xee);
            b = _mm512_shuffle_f64x2(t[4 + k], t[6 + k], 0xee);
            c[4 + k] = _mm512_shuffle_f64x2(a, b, 0x88);
            if (6 + k < nc) c[6 + k] = _mm512_shuffle_f64x2(a, b, 0xdd);
        }
    }
}

FASTCE_ALWAYS_INLINE void columns8(__m512d *v, const double *xb, const shape8 *s, ptrdiff_t nr) {
    const ptrdiff_t C = s->C;
    if (s->n1 > 1) {
        for (ptrdiff_t j = 0; j < C; j++)
            v[j] = nr == 8 ? _mm512_loadu_pd(xb + j * s->n1)
                           : _mm512_maskz_loadu_pd(fastce512_first8(nr), xb + j * s->n1);
        return;
    }
    if (s->perm) {
        __m512d in[5];
        ptrdiff_t left = nr * C;
        for (int i = 0; i < C; i++, left -= 8)
            in[i] = left >= 8 ? _mm512_loadu_pd(xb + 8 * i)
                              : _mm512_maskz_loadu_pd(left > 0 ? fastce512_first8(left) : 0, xb + 8 * i);
        if (C == 1) {
            v[0] = in[0];
            return;
        }
        for (int j = 0; j < C; j++) {
            __m512d o = _mm512_permutex2var_pd(in[0], s->lidx2[j], in[1]);
            for (int i = 2; i < C; i++)
                o = _mm512_mask_permutexvar_pd(o, s->lmask[j][i], s->lidx[j], in[i]);
            v[j] = o;
        }
        return;
    }
    __m512d r[8];
    for (ptrdiff_t b = 0; b < C; b += 8) {
        ptrdiff_t nc = C - b < 8 ? C - b : 8;
        __mmask8 cols = fastce512_first8(nc);
        const double *p = xb + b;
        if (nr == 8) { /* see columns16 */
            for (int k = 0; k < 7; k++, p += C) r[k] = _mm512_loadu_pd(p);
            r[7] = nc == 8 ? _mm512_loadu_pd(p) : _mm512_maskz_loadu_pd(cols, p);
        } else {
            for (int k = 0; k < 8; k++, p += C) r[k] = _mm512_maskz_loadu_pd(k < nr ? cols : 0, p);
        }
        transpose8_pd(r, v + b, (int)nc);
    }
}

FASTCE_ALWAYS_INLINE void store8(double *out, const __m512d *o, const shape8 *s, ptrdiff_t nr) {
    const ptrdiff_t C = s->C;
    if (s->n1 > 1) {
        for (ptrdiff_t j = 0; j < C; j++) {
            if (nr == 8) _mm512_storeu_pd(out + j * s->n1, o[j]);
            else _mm512_mask_storeu_pd(out + j * s->n1, fastce512_first8(nr), o[j]);
        }
        return;
    }
    if (s->perm) {
        ptrdiff_t left = nr * C;
        for (int i = 0; i < C && left > 0; i++, left -= 8) {
            __m512d w = C == 1 ? o[0] : _mm512_permutex2var_pd(o[0], s->sidx2[i], o[1]);
            for (int j = 2; j < C; j++) w = _mm512_mask_permutexvar_pd(w, s->smask[i][j], s->sidx[i], o[j]);
            if (left >= 8) _mm512_storeu_pd(out + 8 * i, w);
            else _mm512_mask_storeu_pd(out + 8 * i, fastce512_first8(left), w);
        }
        return;
    }
    __m512d r[FASTCE_ROWS_C / 8][8]; /* see store16 */
    const ptrdiff_t nb = (C + 7) / 8;
    const __mmask8 tail = fastce512_first8(C - 8 * (nb - 1));
    for (ptrdiff_t b = 0; b < nb; b++) transpose8_pd(o + 8 * b, r[b], 8);
    double *p = out;
    for (int k = 0; k < nr; k++, p += C)
        for (ptrdiff_t b = 0; b < nb; b++) {
            __mmask8 cols = b < nb - 1 ? 0xff : tail;
            if ((k < 7 && nr == 8) || cols == 0xff) _mm512_storeu_pd(p + 8 * b, r[b][k]);
            else _mm512_mask_storeu_pd(p + 8 * b, cols, r[b][k]);
        }
}

/* Eight rows in double lanes: rows16 with lane k = row k of 8 and Kahan-
 * compensated sums; the rest as rest + rest_lo and L = log1p(rest) as
 * L + L_lo, as the generic rows have them (lse_rel_dd, row_impl.h: the
 * rest's rounding alone could cost a float64 result two units of its last
 * place). */
typedef struct {
    __m512d v[FASTCE_ROWS_C], ex[FASTCE_ROWS_C], m, rest, rest_lo, L, L_lo, xy, ey;
    __m512i yv;
    __mmask8 used;
    ptrdiff_t nr;
    int tame;
} rows8;

FASTCE_ALWAYS_INLINE void rows8_begin(rows8 *g, const double *xb, const shape8 *s, ptrdiff_t nr,
                               __mmask8 used) {
    const ptrdiff_t C = s->C;
    columns8(g->v, xb, s, nr);
    __m512d m = _mm512_set1_pd(-INFINITY), lo = _mm512_set1_pd(INFINITY);
    __m512d sum = _mm512_setzero_pd();
    for (ptrdiff_t j = 0; j < C; j++) {
        m = _mm512_max_pd(g->v[j], m);
        lo = _mm512_min_pd(g->v[j], lo);
        sum = _mm512_add_pd(sum, g->v[j]);
    }
    g->m = m;
    g->nr = nr;
    g->used = used;
    __mmask8 tame = _mm512_cmp_pd_mask(_mm512_abs_pd(sum), _mm512_set1_pd(INFINITY), _CMP_LT_OQ) &
                    _mm512_cmp_pd_mask(_mm512_sub_pd(lo, m), _mm512_set1_pd(FASTCE_TAME_F64), _CMP_GE_OQ);
    g->tame = !(used & ~tame);
    if (g->tame) return;
    __mmask8 bad = _mm512_cmp_pd_mask(_mm512_abs_pd(m), _mm512_set1_pd(INFINITY), _CMP_EQ_OQ);
    for (ptrdiff_t j = 0; j < C; j++) bad |= _mm512_cmp_pd_mask(g->v[j], g->v[j], _CMP_UNORD_Q);
    bad &= used;
    if (bad) {
        g->nr = lowest(bad);
        g->used &= fastce512_first8(g->nr);
    }
}

/* Each exp into the compensated sum, its rounding error into los. keep:
 * the exps are kept in g->ex too (a gradient or softmax reads them;
 * pick == 2 needs keep). */
FASTCE_ALWAYS_INLINE void rows8_exp_(rows8 *g, ptrdiff_t C, const int tame, const int pick,
                                     const int keep) {
    const __m512d m = g->m;
    const __m512i yv = g->yv;
    __m512d rest = _mm512_setzero_pd(), comp = rest, los = rest, ties = _mm512_set1_pd(-1.0);
    __m512d xy = _mm512_setzero_pd(), ey = xy;
    __m512i jv = _mm512_setzero_si512();
    for (ptrdiff_t j = 0; j < C; j++) {
        __m512d b, ex = fastce512_exp_diff_lo_pd(g->v[j], m, tame, &b);
        __mmask8 eq = _mm512_cmp_pd_mask(g->v[j], m, _CMP_EQ_OQ);
        if (!tame) ex = _mm512_mask_mov_pd(ex, eq, _mm512_set1_pd(1.0));
        if (keep) g->ex[j] = ex;
        if (pick) {
            __mmask8 at = _mm512_cmpeq_epi64_mask(yv, jv);
            xy = _mm512_mask_mov_pd(xy, at, g->v[j]);
            if (pick == 2) ey = _mm512_mask_mov_pd(ey, at, ex);
            jv = _mm512_add_epi64(jv, _mm512_set1_epi64(1));
        }
        kahan_add(&rest, &comp, _mm512_maskz_mov_pd((__mmask8)~eq, ex), !tame);
        los = _mm512_mask_add_pd(los, (__mmask8)~eq, los, b);
        ties = _mm512_mask_add_pd(ties, eq, ties, _mm512_set1_pd(1.0));
    }
    g->xy = xy;
    g->ey = ey;
    /* (rest + ties) + (los - comp), as hi + lo */
    fastce512_dd r = fastce512_two_sum(rest, ties);
    r = fastce512_fast_two_sum(r.hi, _mm512_add_pd(r.lo, _mm512_sub_pd(los, comp)));
    g->rest = r.hi;
    g->rest_lo = r.lo;
}

/* The exps and rest of a group; a group that is not tame is cut short at
 * a row in use with a tiny rest and a finite entry below max - 708 (see
 * FASTCE_TINY_REST_F64). */
FASTCE_ALWAYS_INLINE void rows8_exp(rows8 *g, ptrdiff_t C, int pick, int keep) {
    if (g->tame) {
        if (pick == 2) rows8_exp_(g, C, 1, 2, 1);
        else if (pick) rows8_exp_(g, C, 1, 1, 0);
        else if (keep) rows8_exp_(g, C, 1, 0, 1);
        else rows8_exp_(g, C, 1, 0, 0);
        return;
    }
    rows8_exp_(g, C, 0, pick, 1);
    __mmask8 low = _mm512_cmp_pd_mask(g->rest, _mm512_set1_pd(FASTCE_TINY_REST_F64), _CMP_LT_OQ) &
                   g->used;
    if (!low) return;
    __mmask8 far = 0;
    for (ptrdiff_t j = 0; j < C; j++)
        far |= _mm512_cmp_pd_mask(_mm512_sub_pd(g->v[j], g->m), _mm512_set1_pd(FASTCE_TAME_F64),
                                  _CMP_LT_OQ) &
               _mm512_cmp_pd_mask(g->v[j], _mm512_set1_pd(-INFINITY), _CMP_NEQ_UQ);
    if (low & far) {
        g->nr = lowest(low & far);
        g->used &= fastce512_first8(g->nr);
    }
}

/* L = log1p(rest + rest_lo) = log1p(rest) + rest_lo / (1 + rest), the
 * second part to 2^-14 of itself (vrcp14), under 2^-64 of L. */
FASTCE_ALWAYS_INLINE void rows8_lse(rows8 *g) {
    const fastce512_dd L = fastce512_log1p_dd(g->rest);
    const __m512d d = _mm512_mul_pd(g->rest_lo,
                                    _mm512_rcp14_pd(_mm512_add_pd(_mm512_set1_pd(1.0), g->rest)));
    const fastce512_dd r = fastce512_fast_two_sum(L.hi, _mm512_add_pd(L.lo, d));
    g->L = r.hi;
    g->L_lo = r.lo;
}

/* redo_lse_f32 for rows8. */
static void redo_lse_f64(const double *xb, const shape8 *s, __m512d m, unsigned c, double *out) {
    double mx[8];
    _mm512_storeu_pd(mx, m);
    fastce_redo_lse_f64(xb, s->step, s->n1, s->C, mx, c, out);
}

FASTCE_ALWAYS_INLINE ptrdiff_t softmax_out8(const rows8 *g, const shape8 *s, int op,
                                            const double *xb, double *out, __m512d *o) {
    const ptrdiff_t C = s->C;
    ptrdiff_t nr = g->nr;
    if (op == 0) {
        __m512d lse = _mm512_add_pd(g->m, g->L);
        unsigned c = lse_cancels(g->m, g->L, lse) & fastce512_first8(nr);
        _mm512_mask_storeu_pd(out, fastce512_first8(nr), lse);
        if (c) redo_lse_f64(xb, s, g->m, c, out);
        return nr;
    }
    if (op == 1) {
        for (ptrdiff_t j = 0; j < C; j++) o[j] = _mm512_sub_pd(_mm512_sub_pd(g->v[j], g->m), g->L);
    } else {
        __m512d inv = _mm512_div_pd(_mm512_set1_pd(1.0), _mm512_add_pd(_mm512_set1_pd(1.0), g->rest));
        for (ptrdiff_t j = 0; j < C; j++) o[j] = _mm512_mul_pd(g->ex[j], inv);
    }
    store8(out, o, s, nr);
    return nr;
}

FASTCE_ALWAYS_INLINE ptrdiff_t softmax_rows8_c(const double *x, ptrdiff_t n, const ptrdiff_t C,
                                             ptrdiff_t n1, const int side, int op, double *out) {
    shape8 sh;
    shape8_init(&sh, C, side ? n1 : 1);
    const ptrdiff_t step = sh.step;
    rows8 gs[2], *g = gs, *prev = NULL;
    __m512d o[FASTCE_ROWS_C];
    for (int j = 0; j < FASTCE_ROWS_C; j++) o[j] = _mm512_setzero_pd();
    for (ptrdiff_t r0 = 0;; r0 += 8) {
        rows8 *cur = NULL;
        if (r0 < n && (!prev || prev->nr == 8)) {
            ptrdiff_t nr = n - r0 < 8 ? n - r0 : 8;
            rows8_begin(g, x + r0 * step, &sh, nr, fastce512_first8(nr));
            if (g->nr) cur = g;
        }
        if (prev) rows8_lse(prev);
        if (cur) rows8_exp(cur, C, 0, op == 2);
        if (prev) {
            ptrdiff_t p0 = r0 - 8;
            ptrdiff_t done = softmax_out8(prev, &sh, op, x + p0 * step,
                                          op == 0 ? out + p0 : out + p0 * step, o);
            if (done < 8) return p0 + done;
        }
        if (!cur) return r0;
        prev = cur;
        g = cur == gs ? gs + 1 : gs;
    }
}

/* A weighted or smoothed float64 loss rounds each weight product in
 * double, up to 2.5 ulp on top of lse_rel's error: weighted_loss in
 * softmax_ce_impl.h carries every product and sum in double-double, with
 * lse_rel = log1p(rest) as hi + lo (to about 2^-55 of itself, as
 * fastce_log1p_dd_fast), and rounds once. This is it lane by lane:
 *   sw * ((1-e) * w_y * l_y + (e/C) * (smooth + W * lse_rel)),
 * l_y = (max - x_y) + lse_rel, smooth = sum_c w_c (max - x_c). */
FASTCE_ALWAYS_INLINE __m512d weighted_loss8(const rows8 *g, __m512d wy, __m512d sw, double e,
                                            ptrdiff_t C, double w_sum, double w_lo,
                                            fastce512_dd smooth) {
    const fastce512_dd L = {g->L, g->L_lo};
    const __mmask8 at_max = _mm512_cmp_pd_mask(g->xy, g->m, _CMP_EQ_OQ);
    fastce512_dd ly = fastce512_dd_add(
        fastce512_two_sum(g->m, _mm512_sub_pd(_mm512_setzero_pd(), g->xy)), L);
    ly.hi = _mm512_mask_mov_pd(ly.hi, at_max, L.hi);
    ly.lo = _mm512_mask_mov_pd(ly.lo, at_max, L.lo);
    fastce512_dd l = fastce512_dd_mul(fastce512_two_prod(wy, sw), ly);
    if (e / (double)C > 0.0) { /* (e/C underflowing: no smoothing term) */
        const fastce_dd keep = fastce_two_sum(1.0, -e), e_c = fastce_dd_div_d(e, (double)C);
        l = fastce512_dd_mul((fastce512_dd){_mm512_set1_pd(keep.hi), _mm512_set1_pd(keep.lo)}, l);
        fastce512_dd r = fastce512_dd_add(
            fastce512_fast_two_sum(smooth.hi, smooth.lo),
            fastce512_dd_mul((fastce512_dd){_mm512_set1_pd(w_sum), _mm512_set1_pd(w_lo)}, L));
        r = fastce512_dd_mul(fastce512_dd_mul(r, (fastce512_dd){sw, _mm512_setzero_pd()}),
                             (fastce512_dd){_mm512_set1_pd(e_c.hi), _mm512_set1_pd(e_c.lo)});
        l = fastce512_dd_add(l, r);
    }
    return _mm512_add_pd(l.hi, l.lo);
}

/* A row whose rest is below FASTCE_TINY_REST_F64 (all its other entries
 * 670 below the max or more) may have a weighted loss in the subnormal
 * range: deep_loss in softmax_ce_impl.h rounds it once; the group stops
 * before it. */
FASTCE_ALWAYS_INLINE void rows8_stop_at_tiny_rest(rows8 *g) {
    __mmask8 low = _mm512_cmp_pd_mask(g->rest, _mm512_set1_pd(FASTCE_TINY_REST_F64), _CMP_LT_OQ) &
                   g->used;
    if (low) {
        g->nr = lowest(low);
        g->used &= fastce512_first8(g->nr);
    }
}

/* sparse_ce_out16 for rows8. */
FASTCE_ALWAYS_INLINE void sparse_ce_out8(const rows8 *g, const shape8 *sh, const double *w,
                                  const double *swb, double e, double w_sum, double w_lo, double *lossb,
                                  double *gradb, double grad_scale, __m512d *acc,
                                  __m512d *comp, __m512d *o) {
    const ptrdiff_t C = sh->C, nr = g->nr;
    const __m512d one = _mm512_set1_pd(1.0), zero = _mm512_setzero_pd();
    const double e_c = e / (double)C, keep = 1.0 - e;
    const __m512d xy = g->xy;
    const __m512i yv = g->yv;
    const __mmask8 used = g->used;
    const int precise = w || swb || e > 0.0; /* see weighted_loss8 */
    __m512d sm = zero, sm_lo = zero; /* sum_c w_c (max - x_c), compensated */
    if (e_c > 0.0)
        for (ptrdiff_t j = 0; j < C; j++) {
            const __m512d term = _mm512_mul_pd(_mm512_set1_pd(w ? w[j] : 1.0), _mm512_sub_pd(g->m, g->v[j]));
            fastce512_dd t = fastce512_two_sum(sm, term);
            sm = t.hi;
            sm_lo = _mm512_add_pd(sm_lo, t.lo);
        }
    __m512d wy = w ? _mm512_i64gather_pd(yv, w, 8) : one;
    __m512d swv = swb ? _mm512_maskz_loadu_pd(fastce512_first8(nr), swb) : one;
    __mmask8 at_max = _mm512_cmp_pd_mask(xy, g->m, _CMP_EQ_OQ);
    /* (max - x_y) + L, with max - x_y = 0 at a maximum */
    __m512d ly = _mm512_add_pd(_mm512_maskz_sub_pd((__mmask8)~at_max, g->m, xy), g->L);
    __m512d cy = _mm512_mul_pd(_mm512_set1_pd(keep), wy);
    __m512d l = keep == 0.0 ? zero : _mm512_mul_pd(cy, ly);
    if (e_c > 0.0)
        l = _mm512_fmadd_pd(_mm512_set1_pd(e_c), _mm512_fmadd_pd(_mm512_set1_pd(w_sum), g->L, sm), l);
    l = _mm512_maskz_mul_pd(used, l, swv);
    if (precise) { /* a finite, nonzero loss again, rounded once */
        __m512d p = weighted_loss8(g, wy, swv, e, C, w_sum, w_lo, (fastce512_dd){sm, sm_lo});
        __mmask8 take = _mm512_cmp_pd_mask(_mm512_abs_pd(l), _mm512_set1_pd(INFINITY), _CMP_LT_OQ) &
                        _mm512_cmp_pd_mask(l, zero, _CMP_NEQ_OQ) &
                        _mm512_cmp_pd_mask(_mm512_abs_pd(p), _mm512_set1_pd(INFINITY), _CMP_LT_OQ);
        l = _mm512_mask_mov_pd(l, take, p);
    }
    kahan_add(acc, comp, l, 1);
    if (lossb) _mm512_mask_storeu_pd(lossb, fastce512_first8(nr), l);

    if (!gradb) return;
    __m512d inv = _mm512_div_pd(one, _mm512_add_pd(one, g->rest));
    __m512d a = _mm512_maskz_mul_pd(used, swv, _mm512_set1_pd(grad_scale));
    __m512d sp = _mm512_mul_pd(_mm512_mul_pd(a, _mm512_add_pd(cy, _mm512_set1_pd(e_c * w_sum))), inv);
    __m512d off = _mm512_mul_pd(a, _mm512_set1_pd(-e_c));
    __m512d py = _mm512_mul_pd(g->ey, inv);
    __m512d pm1 = _mm512_mask_mov_pd(_mm512_sub_pd(py, one), at_max,
                                     _mm512_sub_pd(zero, _mm512_mul_pd(g->rest, inv)));
    const __m512d ecv = _mm512_set1_pd(e_c);
    __m512d wo = _mm512_add_pd(_mm512_sub_pd(_mm512_set1_pd(w_sum), wy), _mm512_set1_pd(w_lo));
    __m512d gy = _mm512_mul_pd(a, _mm512_fmadd_pd(_mm512_fmadd_pd(ecv, wy, cy), pm1,
                                                  _mm512_mul_pd(_mm512_mul_pd(ecv, wo), py)));
    __m512i jv = _mm512_setzero_si512();
    for (ptrdiff_t j = 0; j < C; j++) {
        __m512d offj = w ? _mm512_mul_pd(off, _mm512_set1_pd(w[j])) : off;
        __m512d gj = _mm512_maskz_fmadd_pd(used, sp, g->ex[j], offj); /* ignored rows: 0 */
        __mmask8 at = _mm512_mask_cmpeq_epi64_mask(used, yv, jv);
        o[j] = _mm512_mask_mov_pd(gj, at, gy); /* the target entry */
        jv = _mm512_add_epi64(jv, _mm512_set1_epi64(1));
    }
    store8(gradb, o, sh, nr);
}

FASTCE_ALWAYS_INLINE ptrdiff_t sparse_ce_rows8_c(const double *x, const int64_t *y, ptrdiff_t n,
                                               const ptrdiff_t C, ptrdiff_t n1, const int side,
                                               const double *w,
                                               const double *sw, int64_t ignore_index, double e,
                                               double w_sum, double w_lo, double *loss, double *grad,
                                               double grad_scale, double *total) {
    shape8 sh;
    shape8_init(&sh, C, side ? n1 : 1);
    const ptrdiff_t step = sh.step;
    rows8 gs[2], *g = gs, *prev = NULL;
    __m512d o[FASTCE_ROWS_C];
    for (int j = 0; j < FASTCE_ROWS_C; j++) o[j] = _mm512_setzero_pd();
    __m512d acc = _mm512_setzero_pd(), comp = acc;
    const __m512i ig = _mm512_set1_epi64(ignore_index);
    ptrdiff_t r0 = 0;
    for (;; r0 += 8) {
        rows8 *cur = NULL;
        if (r0 < n && (!prev || prev->nr == 8)) {
            ptrdiff_t nr = n - r0 < 8 ? n - r0 : 8;
            /* labels: ignored rows point at class 0 and are masked at the end */
            __mmask8 live = fastce512_first8(nr);
            __m512i yraw = _mm512_maskz_loadu_epi64(live, y + r0);
            __mmask8 used = _mm512_mask_cmpneq_epi64_mask(live, yraw, ig);
            g->yv = _mm512_maskz_mov_epi64(used, yraw);
            rows8_begin(g, x + r0 * step, &sh, nr, used);
            if (g->nr) cur = g;
        }
        if (prev) rows8_lse(prev);
        if (cur) rows8_exp(cur, C, grad ? 2 : 1, grad != NULL);
        if (cur && (w || sw || e > 0.0)) rows8_stop_at_tiny_rest(cur);
        if (prev) {
            ptrdiff_t p0 = r0 - 8;
            sparse_ce_out8(prev, &sh, w, sw ? sw + p0 : NULL, e, w_sum, w_lo, loss ? loss + p0 : NULL,
                           grad ? grad + p0 * step : NULL, grad_scale, &acc, &comp, o);
            if (prev->nr < 8) {
                r0 = p0 + prev->nr;
                break;
            }
        }
        if (!cur) break;
        prev = cur;
        g = cur == gs ? gs + 1 : gs;
    }
    *total += kahan_total(acc, comp);
    return r0;
}

/* dense_ce_out16 for rows8, float64: the loss in double-double, as
 * fastce_dense_sums and fastce_dense_loss_value (internal.h) have it:
 *   sw ((1-e) (sum w_c t_c d_c + T L) + (e/C) (sum w_c d_c + W L)),
 * d_c = max - x_c exact as hi + lo, each product w_c t_c exact, the dot
 * products by Dot2, L = log1p(rest) as hi + lo, rounded once, for every
 * row whose plain double loss is finite and nonzero (the others keep
 * that one). The generic dense_row takes these sums only with weights or
 * smoothing: a plain row's last bit can differ between the two paths. */
FASTCE_ALWAYS_INLINE ptrdiff_t dense_ce_out8(const rows8 *g, const shape8 *sh, const double *tb,
                                             const double *w, const double *swb, double e,
                                             double *lossb, double *gradb, double grad_scale,
                                             __m512d *acc, __m512d *comp, __m512d *o) {
    const ptrdiff_t C = sh->C;
    ptrdiff_t nr = g->nr;
    __m512d tv[FASTCE_ROWS_C];
    columns8(tv, tb, sh, nr);
    __mmask8 bad = 0;
    /* NaN, inf, a negative target (whose B could cancel) */
    for (ptrdiff_t j = 0; j < C; j++) bad |= _mm512_fpclass_pd_mask(tv[j], 0xd9);
    bad &= fastce512_first8(nr);
    if (bad) nr = lowest(bad);
    if (nr == 0) return 0;
    const __mmask8 used = fastce512_first8(nr);
    const double e_c = e / (double)C;
    const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);
    const __m512d keep = _mm512_set1_pd(1.0 - e), ec = _mm512_set1_pd(e_c);
    const __m512d sw = swb ? _mm512_maskz_loadu_pd(used, swb) : one;
    /* plain: A, B, B' of dense_ce_out16; exact: the four sums of
     * fastce_dense_sums as hi + compensation */
    __m512d A = zero, B = zero, B_c = zero, Br = zero, Br_c = zero;
    __m512d at = zero, at_c = zero, st = zero, st_c = zero, aw = zero, aw_c = zero, sv = zero, sv_c = zero;
    for (ptrdiff_t j = 0; j < C; j++) {
        const __mmask8 ne = _mm512_cmp_pd_mask(g->v[j], g->m, _CMP_NEQ_UQ);
        const __m512d wj = _mm512_set1_pd(w ? w[j] : 1.0);
        const __m512d wt = _mm512_mul_pd(wj, _mm512_fmadd_pd(keep, tv[j], ec));
        const fastce512_dd d0 = fastce512_two_sum(g->m, _mm512_sub_pd(zero, g->v[j]));
        const fastce512_dd d = {_mm512_maskz_mov_pd(ne, d0.hi), _mm512_maskz_mov_pd(ne, d0.lo)};
        const __mmask8 live = _mm512_mask_cmp_pd_mask(ne, wt, zero, _CMP_NEQ_UQ);
        A = _mm512_mask3_fmadd_pd(wt, d.hi, A, live);
        /* B and B_rest compensated, as dense_row's: their plain sums put
         * gradient entries at 0.85 of their bound at 32 classes (tied
         * maxima, class weights), and over it at 100 */
        fastce512_dd s = fastce512_two_sum(B, wt);
        B = s.hi, B_c = _mm512_add_pd(B_c, s.lo);
        s = fastce512_two_sum(Br, wt);
        Br = _mm512_mask_mov_pd(Br, ne, s.hi), Br_c = _mm512_mask_add_pd(Br_c, ne, Br_c, s.lo);
        /* sum_t += w t (exact), a_t += (w t) d by Dot2 where w t != 0 */
        const fastce512_dd p = fastce512_two_prod(wj, tv[j]);
        s = fastce512_two_sum(st, p.hi);
        st = s.hi;
        st_c = _mm512_add_pd(st_c, _mm512_add_pd(s.lo, p.lo));
        const __mmask8 pz = _mm512_cmp_pd_mask(p.hi, zero, _CMP_NEQ_UQ);
        fastce512_dd q = fastce512_two_prod(p.hi, d.hi);
        s = fastce512_two_sum(at, q.hi);
        at = _mm512_mask_mov_pd(at, pz, s.hi);
        at_c = _mm512_mask_add_pd(at_c, pz, at_c, _mm512_add_pd(_mm512_add_pd(s.lo, q.lo), _mm512_add_pd(
                                                  _mm512_mul_pd(p.hi, d.lo), _mm512_mul_pd(p.lo, d.hi))));
        if (e_c > 0.0) { /* sum_w += w, a_w += w d where w != 0 */
            s = fastce512_two_sum(sv, wj);
            sv = s.hi;
            sv_c = _mm512_add_pd(sv_c, s.lo);
            if (w && w[j] == 0.0) continue;
            q = fastce512_two_prod(wj, d.hi);
            s = fastce512_two_sum(aw, q.hi);
            aw = s.hi;
            aw_c = _mm512_add_pd(aw_c, _mm512_add_pd(_mm512_add_pd(s.lo, q.lo), _mm512_mul_pd(wj, d.lo)));
        }
    }
    /* (an infinite sum takes no correction: its lo is NaN) */
    B = _mm512_mask_add_pd(B, _mm512_fpclass_pd_mask(B, 0x99) ^ 0xff, B, B_c);
    Br = _mm512_mask_add_pd(Br, _mm512_fpclass_pd_mask(Br, 0x99) ^ 0xff, Br, Br_c);
    const __mmask8 mass = _mm512_cmp_pd_mask(B, zero, _CMP_NEQ_UQ); /* B != 0 */
    __m512d l = _mm512_maskz_mul_pd(used, _mm512_maskz_mov_pd(mass, _mm512_fmadd_pd(B, g->L, A)), sw);
    { /* the exact loss */
        const fastce512_dd L = {g->L, g->L_lo};
        fastce512_dd x = fastce512_dd_add(fastce512_fast_two_sum(at, at_c),
                                          fastce512_dd_mul(fastce512_fast_two_sum(st, st_c), L));
        if (e_c > 0.0) {
            const fastce_dd k1 = fastce_two_sum(1.0, -e), ecd = fastce_dd_div_d(e, (double)C);
            fastce512_dd r = fastce512_dd_add(fastce512_fast_two_sum(aw, aw_c),
                                              fastce512_dd_mul(fastce512_fast_two_sum(sv, sv_c), L));
            x = fastce512_dd_add(
                fastce512_dd_mul((fastce512_dd){_mm512_set1_pd(k1.hi), _mm512_set1_pd(k1.lo)}, x),
                fastce512_dd_mul((fastce512_dd){_mm512_set1_pd(ecd.hi), _mm512_set1_pd(ecd.lo)}, r));
        }
        x = fastce512_dd_mul(x, (fastce512_dd){sw, zero});
        const __m512d v = _mm512_add_pd(x.hi, x.lo), inf = _mm512_set1_pd(INFINITY);
        const __mmask8 take = _mm512_cmp_pd_mask(_mm512_abs_pd(l), inf, _CMP_LT_OQ) &
                              _mm512_cmp_pd_mask(l, zero, _CMP_NEQ_OQ) &
                              _mm512_cmp_pd_mask(_mm512_abs_pd(v), inf, _CMP_LT_OQ);
        l = _mm512_mask_mov_pd(l, take, v);
    }
    kahan_add(acc, comp, l, 1);
    if (lossb) _mm512_mask_storeu_pd(lossb, used, l);
    if (!gradb) return nr;
    /* a B / (1 + rest) and a (B_rest - B rest / (1 + rest)), as dense_row */
    const __m512d den = _mm512_add_pd(one, g->rest);
    const __m512d a = _mm512_maskz_mul_pd(used & mass, sw, _mm512_set1_pd(grad_scale));
    const __m512d sp = _mm512_div_pd(_mm512_mul_pd(a, B), den);
    const __m512d gmax = _mm512_mul_pd(a, _mm512_sub_pd(Br, _mm512_div_pd(_mm512_mul_pd(B, g->rest), den)));
    const __mmask8 lone = _mm512_cmp_pd_mask(g->rest, one, _CMP_LT_OQ);
    for (ptrdiff_t j = 0; j < C; j++) {
        const __mmask8 eq = _mm512_cmp_pd_mask(g->v[j], g->m, _CMP_EQ_OQ);
        const __m512d wt = _mm512_mul_pd(_mm512_set1_pd(w ? w[j] : 1.0), _mm512_fmadd_pd(keep, tv[j], ec));
        o[j] = _mm512_mask_mov_pd(_mm512_fmsub_pd(sp, g->ex[j], _mm512_mul_pd(a, wt)), lone & eq, gmax);
    }
    store8(gradb, o, sh, nr);
    return nr;
}

FASTCE_ALWAYS_INLINE ptrdiff_t dense_ce_rows8_c(const double *x, const double *t, ptrdiff_t n,
                                                const ptrdiff_t C, ptrdiff_t n1, const int side,
                                                const double *w, const double *sw, double e,
                                                double *loss, double *grad, double grad_scale,
                                                double *total) {
    shape8 sh;
    shape8_init(&sh, C, side ? n1 : 1);
    const ptrdiff_t step = sh.step;
    rows8 gs[2], *g = gs, *prev = NULL;
    __m512d o[FASTCE_ROWS_C];
    for (int j = 0; j < FASTCE_ROWS_C; j++) o[j] = _mm512_setzero_pd();
    __m512d acc = _mm512_setzero_pd(), comp = acc;
    ptrdiff_t done;
    for (ptrdiff_t r0 = 0;; r0 += 8) {
        rows8 *cur = NULL;
        if (r0 < n && (!prev || prev->nr == 8)) {
            ptrdiff_t nr = n - r0 < 8 ? n - r0 : 8;
            rows8_begin(g, x + r0 * step, &sh, nr, fastce512_first8(nr));
            if (g->nr) cur = g;
        }
        if (prev) rows8_lse(prev);
        if (cur) {
            rows8_exp(cur, C, 0, grad != NULL);
            rows8_stop_at_tiny_rest(cur);
        }
        if (prev) {
            const ptrdiff_t p0 = r0 - 8;
            const ptrdiff_t d = dense_ce_out8(prev, &sh, t + p0 * step, w, sw ? sw + p0 : NULL, e,
                                              loss ? loss + p0 : NULL, grad ? grad + p0 * step : NULL,
                                              grad_scale, &acc, &comp, o);
            if (d < 8) {
                done = p0 + d;
                break;
            }
        }
        if (!cur) {
            done = r0;
            break;
        }
        prev = cur;
        g = cur == gs ? gs + 1 : gs;
    }
    *total += kahan_total(acc, comp);
    return done;
}

/* One function a width, not inlined into the switch below: there, gcc 12
 * shared few stack slots between the 32 widths' copies, whose frames
 * added up to 176 KB, more than the 128 KB stack of a musl thread; a
 * width alone takes 44-52 KB (gcc -fstack-usage). */
#define FASTCE_WIDTH_FN_(K)                                                                      \
    static __attribute__((noinline)) ptrdiff_t dense_ce_rows8_##K(                               \
        const double *x, const double *t, ptrdiff_t n, ptrdiff_t n1, const double *w,           \
        const double *sw, double e, double *loss, double *grad, double grad_scale,              \
        double *total) {                                                                         \
        return n1 > 1 ? dense_ce_rows8_c(x, t, n, K, n1, 1, w, sw, e, loss, grad, grad_scale, total) \
                      : dense_ce_rows8_c(x, t, n, K, 1, 0, w, sw, e, loss, grad, grad_scale, total); \
    }
FASTCE_WIDTHS_(FASTCE_WIDTH_FN_)
#undef FASTCE_WIDTH_FN_

/* contiguous rows of any C up to FASTCE_ROWS_C */
static __attribute__((noinline)) ptrdiff_t dense_ce_rows8_any(
    const double *x, const double *t, ptrdiff_t n, ptrdiff_t C, const double *w, const double *sw,
    double e, double *loss, double *grad, double grad_scale, double *total) {
    return dense_ce_rows8_c(x, t, n, C, 1, 0, w, sw, e, loss, grad, grad_scale, total);
}

static ptrdiff_t dense_ce_rows_f64(const double *x, const double *t, ptrdiff_t n, ptrdiff_t C,
                                   ptrdiff_t n1, const double *w, const double *sw, double e,
                                   double *loss, double *grad, double grad_scale, double *total) {
#define FASTCE_CASE_(K) \
    case K: return dense_ce_rows8_##K(x, t, n, n1, w, sw, e, loss, grad, grad_scale, total);
    switch (C) {
        FASTCE_WIDTHS_(FASTCE_CASE_)
    default: /* as dense_ce_rows_f32 */
        return FASTCE_ANY_C_(C, n1)
                   ? dense_ce_rows8_any(x, t, n, C, w, sw, e, loss, grad, grad_scale, total)
                   : 0;
    }
#undef FASTCE_CASE_
}

static ptrdiff_t softmax_rows_f64(const double *x, ptrdiff_t n, ptrdiff_t C, ptrdiff_t n1,
                                  int op, double *out) {
#define FASTCE_CASE_(K) \
    case K: return n1 > 1 ? softmax_rows8_c(x, n, K, n1, 1, op, out) : softmax_rows8_c(x, n, K, 1, 0, op, out);
    switch (C) {
        FASTCE_WIDTHS_(FASTCE_CASE_)
    default: /* as softmax_rows_f32 */
        return FASTCE_ANY_C_(C, n1) ? softmax_rows8_c(x, n, C, 1, 0, op, out) : 0;
    }
#undef FASTCE_CASE_
}

static ptrdiff_t sparse_ce_rows_f64(const double *x, const int64_t *y, ptrdiff_t n,
                                    ptrdiff_t C, ptrdiff_t n1, const double *w, const double *sw,
                                    int64_t ignore_index, double e, double w_sum, double w_lo,
                                    double *loss, double *grad, double grad_scale,
                                    double *total) {
#define FASTCE_CASE_(K)                                                                    \
    case K:                                                                                \
        return n1 > 1 ? sparse_ce_rows8_c(x, y, n, K, n1, 1, w, sw, ignore_index, e, w_sum, w_lo, loss, \
                                          grad, grad_scale, total)                                 \
                      : sparse_ce_rows8_c(x, y, n, K, 1, 0, w, sw, ignore_index, e, w_sum, w_lo, loss, \
                                          grad, grad_scale, total);
    switch (C) {
        FASTCE_WIDTHS_(FASTCE_CASE_)
    default: /* as softmax_rows_f32 */
        return FASTCE_ANY_C_(C, n1)
                   ? sparse_ce_rows8_c(x, y, n, C, 1, 0, w, sw, ignore_index, e, w_sum, w_lo,
                                       loss, grad, grad_scale, total)
                   : 0;
    }
#undef FASTCE_CASE_
}

void fastce_vec_avx512_fill_rows_f64(fastce_vec_ops *t) {
    t->sparse_ce_rows_f64 = sparse_ce_rows_f64;
    t->softmax_rows_f64 = softmax_rows_f64;
    t->dense_ce_rows_f64 = dense_ce_rows_f64;
}

#endif /* FASTCE_HAVE_AVX512_TABLE */
