/* vec_avx512_rows.c: the row-parallel sparse softmax cross-entropy,
 * logsumexp, log_softmax and softmax for few classes (C <= FASTCE_SMALL_C,
 * and contiguous rows up to FASTCE_ROWS_C)
 * in AVX-512 (F, DQ, BW, VL): the entries sparse_ce_rows_f32 and
 * softmax_rows_f32 of the AVX-512 table (vec.h), put over the AVX2 ones by
 * fastce_vec_avx512_fill_rows, and dense_ce_rows_f32 (dense targets); their
 * double twins are in vec_avx512_rows_f64.c. Compiled with AVX-512 flags
 * (CMakeLists.txt); dispatch.c calls into them only on CPUs that have them.
 *
 * The scheme is that of vec_avx2_rows.h, twice as wide: 16 rows of floats
 * (8 of doubles) become C vectors of 16 (8) lanes, lane k = row k, vector j
 * = class j, and every per-row step (max, ties, exp, the sums, log1p, the
 * loss, the gradient) runs lane-wise. The arithmetic and its rounding steps
 * are the AVX2 kernels' (exp(x - max) corrected by TwoSum, float terms
 * summed in double lanes, double ones Kahan-compensated, lse_rel =
 * log1p(rest) in double, the outputs rounded once); the exp's polynomial
 * is evaluated in Estrin's form (simd_avx512.h), so the bits can differ
 * from AVX2's in the last place.
 *
 * What AVX-512 changes besides the width:
 * - rows to columns: with few classes (C <= 8 floats, C <= 5 doubles) the
 *   group's rows are C contiguous vectors, and class j is gathered from them
 *   with C - 1 permutes (vpermt2ps for the first two, then vpermps with a
 *   merge mask for each other vector); wider rows go through blocks of 16 x
 *   16 (8 x 8) in-register transposes, row loads and stores masked to the
 *   row's classes, so nothing outside the group is read or written;
 * - a partial group (the last rows, fewer than 16 or 8) runs masked, and a
 *   group with a row the generic path must take (a max that is not finite,
 *   a NaN) still does the rows before it: the kernels return the number of
 *   rows done, up to the first one they leave, as vec.h has it;
 * - 2^n by vscalef; log1p's exponent and significand by vgetexp/vgetmant.
 * Samples side by side (a class axis that is not the last, n1 > 1 in vec.h)
 * need neither permutes nor transposes: class j of 16 samples is one load
 * from plane j, and the outputs one store to it.
 * Float groups first run "tame": exp without its clamps and NaN guards,
 * which with vscalef gives every term of a finite difference right or not
 * finite (see rest_f64 in vec_avx512.c), and the target's logit comes from
 * one gather; only a group with a row in use whose max or rest is not
 * finite runs again guarded (rows16_exp). Their lse_rel is log1p in the
 * float-accuracy form (fastce512_log1p_rest24_pd). Double groups are tame
 * when their rows in use are all finite with min - max >= -708 (see
 * vec_avx2_rows.h); else guarded. Either way the bits are those of the
 * guarded exps. */
#include "vec.h"

#ifdef FASTCE_HAVE_AVX512_TABLE

#include <math.h>

#include "internal.h"
#include "simd_avx512.h"
#include "simd_avx512_lanes.h"
#include "vec_avx512_rows.h"

/* ============================================================== float */

/* How 16 rows of C floats become C class vectors and back. C <= 8: the
 * group's nr*C floats are loaded as C vectors, and class j is a permute of
 * them (lane k holds the float k*C + j): vpermt2ps over the first two, then
 * for each other vector a vpermps merging the lanes that come from it.
 * The way back builds each vector of the group the same way from the
 * classes. C > 8: blocks of 16 classes, rows loaded masked and transposed. */
typedef struct {
    ptrdiff_t C, n1, step; /* see samples_of */
    int perm;
    /* perm: loading class j (lidx2 indexes the first two vectors, lidx the
     * vector i, lmask[j][i] the lanes from vector i >= 2) */
    __m512i lidx2[8], lidx[8];
    __mmask16 lmask[8][8];
    /* perm: storing vector i (sidx2 indexes classes 0 and 1, sidx the row
     * of each lane, smask[i][j] the lanes from class j >= 2) */
    __m512i sidx2[8], sidx[8];
    __mmask16 smask[8][8];
} shape16;

FASTCE_ALWAYS_INLINE void shape16_init(shape16 *s, ptrdiff_t C, ptrdiff_t n1) {
    s->C = C;
    s->n1 = n1;
    s->step = n1 > 1 ? 1 : C;
    s->perm = n1 == 1 && C <= 8;
    if (!s->perm) return;
    for (int j = 0; j < C; j++) {
        int32_t a[16], b[16];
        for (int i = 0; i < C; i++) s->lmask[j][i] = 0;
        for (int k = 0; k < 16; k++) {
            int f = k * (int)C + j;
            a[k] = f & 31;
            b[k] = f & 15;
            s->lmask[j][f / 16] |= (__mmask16)(1u << k);
        }
        s->lidx2[j] = _mm512_loadu_si512(a);
        s->lidx[j] = _mm512_loadu_si512(b);
    }
    for (int i = 0; i < C; i++) {
        int32_t a[16], b[16];
        for (int j = 0; j < C; j++) s->smask[i][j] = 0;
        for (int p = 0; p < 16; p++) {
            int f = 16 * i + p, k = f / (int)C, j = f % (int)C;
            a[p] = k + (j == 1 ? 16 : 0);
            b[p] = k;
            s->smask[i][j] |= (__mmask16)(1u << p);
        }
        s->sidx2[i] = _mm512_loadu_si512(a);
        s->sidx[i] = _mm512_loadu_si512(b);
    }
}

/* 16 x 16 transpose: r[k] (row k) to c[j] (column j, lane k = row k), for
 * the columns j < nc only. Four rounds of shuffles: pairs of floats, pairs
 * of pairs, then the 128-bit quarters. */
FASTCE_ALWAYS_INLINE void transpose16_ps(const __m512 *r, __m512 *c, int nc) {
    __m512d t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_castps_pd(_mm512_unpacklo_ps(r[i], r[i + 1]));
        if (nc > 2) t[i + 1] = _mm512_castps_pd(_mm512_unpackhi_ps(r[i], r[i + 1]));
    }
    /* u[4q + c], quarter L: column 4L + c of rows 4q..4q+3 */
    for (int q = 0; q < 16; q += 4) {
        u[q] = _mm512_unpacklo_pd(t[q], t[q + 2]);
        if (nc > 1) u[q + 1] = _mm512_unpackhi_pd(t[q], t[q + 2]);
        if (nc > 2) u[q + 2] = _mm512_unpacklo_pd(t[q + 1], t[q + 3]);
        if (nc > 3) u[q + 3] = _mm512_unpackhi_pd(t[q + 1], t[q + 3]);
    }
    for (int k = 0; k < 4 && k < nc; k++) {
        __m512 a = _mm512_shuffle_f32x4(_mm512_castpd_ps(u[k]), _mm512_castpd_ps(u[4 + k]), 0x44);
        __m512 b = _mm512_shuffle_f32x4(_mm512_castpd_ps(u[8 + k]), _mm512_castpd_ps(u[12 + k]), 0x44);
        c[k] = _mm512_shuffle_f32x4(a, b, 0x88);
        if (4 + k < nc) c[4 + k] = _mm512_shuffle_f32x4(a, b, 0xdd);
        if (8 + k < nc) {
            a = _mm512_shuffle_f32x4(_mm512_castpd_ps(u[k]), _mm512_castpd_ps(u[4 + k]), 0xee);
            b = _mm512_shuffle_f32x4(_mm512_castpd_ps(u[8 + k]), _mm512_castpd_ps(u[12 + k]), 0xee);
            c[8 + k] = _mm512_shuffle_f32x4(a, b, 0x88);
            if (12 + k < nc) c[12 + k] = _mm512_shuffle_f32x4(a, b, 0xdd);
        }
    }
}

/* Class j of the nr (1 to 16) rows at xb into v[j], j < C; lanes of rows
 * past nr hold 0. Reads only the group's nr*C floats. */
FASTCE_ALWAYS_INLINE void columns16(__m512 *v, const float *xb, const shape16 *s, ptrdiff_t nr) {
    const ptrdiff_t C = s->C;
    if (s->n1 > 1) { /* samples side by side: class j is one load */
        for (ptrdiff_t j = 0; j < C; j++) {
            v[j] = nr == 16 ? _mm512_loadu_ps(xb + j * s->n1)
                            : _mm512_maskz_loadu_ps(fastce512_first16(nr), xb + j * s->n1);
        }
        return;
    }
    if (s->perm) {
        __m512 in[8];
        ptrdiff_t left = nr * C;
        for (int i = 0; i < C; i++, left -= 16)
            in[i] = left >= 16 ? _mm512_loadu_ps(xb + 16 * i)
                               : _mm512_maskz_loadu_ps(left > 0 ? fastce512_first16(left) : 0, xb + 16 * i);
        if (C == 1) {
            v[0] = in[0];
            return;
        }
        for (int j = 0; j < C; j++) {
            __m512 o = _mm512_permutex2var_ps(in[0], s->lidx2[j], in[1]);
            for (int i = 2; i < C; i++)
                o = _mm512_mask_permutexvar_ps(o, s->lmask[j][i], s->lidx[j], in[i]);
            v[j] = o;
        }
        return;
    }
    __m512 r[16];
    for (ptrdiff_t b = 0; b < C; b += 16) {
        ptrdiff_t nc = C - b < 16 ? C - b : 16;
        __mmask16 cols = fastce512_first16(nc);
        const float *p = xb + b;
        /* whole groups: rows 0-14 read the next row's first classes too (not
         * used: only the columns < nc are transposed); masked loads that
         * miss the cache measured much slower than plain ones */
        if (nr == 16) {
            for (int k = 0; k < 15; k++, p += C) r[k] = _mm512_loadu_ps(p);
            r[15] = nc == 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(cols, p);
        } else {
            for (int k = 0; k < 16; k++, p += C)
                r[k] = _mm512_maskz_loadu_ps(k < nr ? cols : 0, p);
        }
        transpose16_ps(r, v + b, (int)nc);
    }
}

/* The inverse of columns16: class vectors o[j] (o has room for whole
 * blocks, entries past C initialised) to the first nr rows at out. */
FASTCE_ALWAYS_INLINE void store16(float *out, const __m512 *o, const shape16 *s, ptrdiff_t nr) {
    const ptrdiff_t C = s->C;
    if (s->n1 > 1) {
        for (ptrdiff_t j = 0; j < C; j++) {
            if (nr == 16) _mm512_storeu_ps(out + j * s->n1, o[j]);
            else _mm512_mask_storeu_ps(out + j * s->n1, fastce512_first16(nr), o[j]);
        }
        return;
    }
    if (s->perm) {
        ptrdiff_t left = nr * C;
        for (int i = 0; i < C && left > 0; i++, left -= 16) {
            __m512 w = C == 1 ? o[0] : _mm512_permutex2var_ps(o[0], s->sidx2[i], o[1]);
            for (int j = 2; j < C; j++) w = _mm512_mask_permutexvar_ps(w, s->smask[i][j], s->sidx[i], o[j]);
            if (left >= 16) _mm512_storeu_ps(out + 16 * i, w);
            else _mm512_mask_storeu_ps(out + 16 * i, fastce512_first16(left), w);
        }
        return;
    }
    /* Whole groups: rows in order, each stored whole, its extra lanes
     * landing in the next row, which is written after it; the last row
     * masked. */
    __m512 r[FASTCE_ROWS_C / 16][16];
    const ptrdiff_t nb = (C + 15) / 16;
    const __mmask16 tail = fastce512_first16(C - 16 * (nb - 1));
    for (ptrdiff_t b = 0; b < nb; b++) transpose16_ps(o + 16 * b, r[b], 16);
    float *p = out;
    for (int k = 0; k < nr; k++, p += C)
        for (ptrdiff_t b = 0; b < nb; b++) {
            __mmask16 cols = b < nb - 1 ? 0xffff : tail;
            if ((k < 15 && nr == 16) || cols == 0xffff) _mm512_storeu_ps(p + 16 * b, r[b][k]);
            else _mm512_mask_storeu_ps(p + 16 * b, cols, r[b][k]);
        }
}

/* Sixteen rows of few classes, class by class: v[j] holds class j of the
 * rows, ex[j] = exp(v[j] - max) (1 at a maximum), rest and lse_rel =
 * log1p(rest) per row in two halves of double lanes (rows 0-7, 8-15); xy
 * and ey the target's logit and exp, when asked for; yv the labels, used
 * the rows that count; nr how many rows the group does. */
typedef struct {
    __m512 v[FASTCE_ROWS_C], ex[FASTCE_ROWS_C], m, xy, ey;
    __m512d m_lo, m_hi, rest_lo, rest_hi, L_lo, L_hi;
    __m512i yv;
    __mmask16 used;
    ptrdiff_t nr;
    int tame;
} rows16;

/* Loads the nr rows at xb into g, takes their max and, with pick, the
 * target's logit xy (one gather). The group starts tame (see rows16_exp). */
FASTCE_ALWAYS_INLINE void rows16_begin(rows16 *g, const float *xb, const shape16 *s, ptrdiff_t nr,
                                __mmask16 used, const int pick) {
    const ptrdiff_t C = s->C;
    columns16(g->v, xb, s, nr);
    __m512 m = _mm512_set1_ps(-INFINITY);
    for (ptrdiff_t j = 0; j < C; j++) m = _mm512_max_ps(g->v[j], m);
    g->m = m;
    g->nr = nr;
    g->used = used;
    g->tame = 1;
    if (pick && s->n1 > 1) { /* lane k: v[y_k][k], from the registers (a gather
                               * reads lines the C planes' loads have pushed out
                               * of their cache set when n1 is a power of 2) */
        __m512 xy = _mm512_setzero_ps();
        __m512i jv = _mm512_setzero_si512();
        for (ptrdiff_t j = 0; j < C; j++) {
            xy = _mm512_mask_mov_ps(xy, _mm512_cmpeq_epi32_mask(g->yv, jv), g->v[j]);
            jv = _mm512_add_epi32(jv, _mm512_set1_epi32(1));
        }
        g->xy = xy;
    } else if (pick) { /* lane k: xb[k*C + y_k] (ignored rows have label 0) */
        __m512i at = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                         _mm512_set1_epi32((int)C)), g->yv);
        g->xy = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), fastce512_first16(nr), at, xb, 4);
    }
}

/* A group whose tame pass was not finite in a row it uses takes the
 * guarded one: the rows from the first whose max is not finite or which
 * holds a NaN on are the generic path's, and g->nr stops before it (maybe
 * at 0). */
FASTCE_ALWAYS_INLINE void rows16_untame(rows16 *g, ptrdiff_t C) {
    const __m512 m = g->m;
    g->tame = 0;
    __mmask16 bad = _mm512_cmp_ps_mask(_mm512_abs_ps(m), _mm512_set1_ps(INFINITY), _CMP_EQ_OQ);
    for (ptrdiff_t j = 0; j < C; j++) bad |= _mm512_cmp_ps_mask(g->v[j], g->v[j], _CMP_UNORD_Q);
    bad &= g->used;
    if (bad) {
        g->nr = lowest(bad);
        g->used &= fastce512_first16(g->nr);
    }
}

/* ex and rest of each row and, with pick == 2, the target's exp ey.
 * tame: exp without clamps or NaN guards, which gives each term right or
 * not finite (see rest_f64 in vec_avx512.c); rows16_exp checks. */
FASTCE_ALWAYS_INLINE void rows16_exp_(rows16 *g, ptrdiff_t C, const int tame, const int pick) {
    const __m512 m = g->m;
    __m512d rest_lo = _mm512_setzero_pd(), rest_hi = rest_lo;
    __m512i ties = _mm512_set1_epi32(-1);
    for (ptrdiff_t j = 0; j < C; j++) {
        __m512 ex = fastce512_exp_diff_ps(g->v[j], m, tame);
        __mmask16 eq = _mm512_cmp_ps_mask(g->v[j], m, _CMP_EQ_OQ);
        if (!tame) ex = _mm512_mask_mov_ps(ex, eq, _mm512_set1_ps(1.0f));
        g->ex[j] = ex;
        /* the maxima count in ties; the others add their exp */
        const __mmask16 ne = (__mmask16)~eq;
        ties = _mm512_mask_add_epi32(ties, eq, ties, _mm512_set1_epi32(1));
        rest_lo = _mm512_mask_add_pd(rest_lo, (__mmask8)ne, rest_lo, lo_pd(ex));
        rest_hi = _mm512_mask_add_pd(rest_hi, (__mmask8)(ne >> 8), rest_hi, hi_pd(ex));
    }
    if (pick == 2) { /* as ex[y]: 1 at a maximum */
        __m512 ey = fastce512_exp_diff_ps(g->xy, m, tame);
        g->ey = _mm512_mask_mov_ps(ey, _mm512_cmp_ps_mask(g->xy, m, _CMP_EQ_OQ), _mm512_set1_ps(1.0f));
    }
    g->m_lo = lo_pd(m);
    g->m_hi = hi_pd(m);
    g->rest_lo = _mm512_add_pd(rest_lo, _mm512_cvtepi32_pd(_mm512_castsi512_si256(ties)));
    g->rest_hi = _mm512_add_pd(rest_hi, _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(ties, 1)));
}

/* The exps and rest of a group: the tame pass, and the guarded one only if
 * a row in use has a max or rest that is not finite (then rows16_untame
 * may cut the group short); a row with a tiny rest cuts it short too. */
FASTCE_ALWAYS_INLINE void rows16_exp(rows16 *g, ptrdiff_t C, int pick) {
    if (pick == 2) rows16_exp_(g, C, 1, 2);
    else rows16_exp_(g, C, 1, 0);
    const __m512d inf = _mm512_set1_pd(INFINITY);
    __mmask16 fine = _mm512_cmp_ps_mask(_mm512_abs_ps(g->m), _mm512_set1_ps(INFINITY), _CMP_LT_OQ) &
                     (_mm512_cmp_pd_mask(_mm512_abs_pd(g->rest_lo), inf, _CMP_LT_OQ) |
                      (unsigned)_mm512_cmp_pd_mask(_mm512_abs_pd(g->rest_hi), inf, _CMP_LT_OQ) << 8);
    if (g->used & ~fine) {
        rows16_untame(g, C);
        rows16_exp_(g, C, 0, pick);
    }
    const __m512d tiny = _mm512_set1_pd(FASTCE_TINY_REST_F32);
    __mmask16 low = (_mm512_cmp_pd_mask(g->rest_lo, tiny, _CMP_LT_OQ) |
                     (unsigned)_mm512_cmp_pd_mask(g->rest_hi, tiny, _CMP_LT_OQ) << 8) & g->used;
    if (!low) return;
    /* see FASTCE_TINY_REST_F32: a row with a finite entry below max - 87 is
     * the generic path's, and the rows after it */
    __mmask16 far = 0;
    for (ptrdiff_t j = 0; j < C; j++)
        far |= _mm512_cmp_ps_mask(_mm512_sub_ps(g->v[j], g->m), _mm512_set1_ps(FASTCE_TAME_F32),
                                  _CMP_LT_OQ) &
               _mm512_cmp_ps_mask(g->v[j], _mm512_set1_ps(-INFINITY), _CMP_NEQ_UQ);
    if (low & far) {
        g->nr = lowest(low & far);
        g->used &= fastce512_first16(g->nr);
    }
}

FASTCE_ALWAYS_INLINE void rows16_lse(rows16 *g) {
    g->L_lo = fastce512_log1p_rest24_pd(g->rest_lo);
    g->L_hi = fastce512_log1p_rest24_pd(g->rest_hi);
}

/* The logsumexp of the rows in c (a lane mask) of the group at xb, max m,
 * recomputed one by one: a cancelling row stays in its group (handing the
 * group to the generic path cost up to 19x the time of a logsumexp of
 * logits near 0 at C = 2). */
static void redo_lse_f32(const float *xb, const shape16 *s, __m512 m, unsigned c, float *out) {
    float mx[16];
    _mm512_storeu_ps(mx, m);
    fastce_redo_lse_f32(xb, s->step, s->n1, s->C, mx, c, out);
}

/* logsumexp (op 0), log_softmax (1) or softmax (2) of a finished group
 * (its rows at xb); returns how many of its rows are done (g->nr). */
FASTCE_ALWAYS_INLINE ptrdiff_t softmax_out16(const rows16 *g, const shape16 *s, int op,
                                             const float *xb, float *out, __m512 *o) {
    const ptrdiff_t C = s->C;
    ptrdiff_t nr = g->nr;
    if (op == 0) {
        __m512d lse_lo = _mm512_add_pd(g->m_lo, g->L_lo), lse_hi = _mm512_add_pd(g->m_hi, g->L_hi);
        unsigned c = ((unsigned)lse_cancels(g->m_hi, g->L_hi, lse_hi) << 8 |
                      lse_cancels(g->m_lo, g->L_lo, lse_lo)) & fastce512_first16(nr);
        _mm512_mask_storeu_ps(out, fastce512_first16(nr), to_ps(lse_lo, lse_hi));
        if (c) redo_lse_f32(xb, s, g->m, c, out);
        return nr;
    }
    if (op == 1) { /* (x_j - max) - lse_rel, in double: exact difference */
        for (ptrdiff_t j = 0; j < C; j++)
            o[j] = to_ps(_mm512_sub_pd(_mm512_sub_pd(lo_pd(g->v[j]), g->m_lo), g->L_lo),
                         _mm512_sub_pd(_mm512_sub_pd(hi_pd(g->v[j]), g->m_hi), g->L_hi));
    } else {
        const __m512d one = _mm512_set1_pd(1.0);
        __m512 inv = to_ps(_mm512_div_pd(one, _mm512_add_pd(one, g->rest_lo)),
                           _mm512_div_pd(one, _mm512_add_pd(one, g->rest_hi)));
        for (ptrdiff_t j = 0; j < C; j++) o[j] = _mm512_mul_ps(g->ex[j], inv);
    }
    store16(out, o, s, nr);
    return nr;
}

/* A group goes through three steps: rows16_begin (load, max, which path),
 * rows16_exp (the exps and rest), rows16_lse (lse_rel = log1p(rest)), then
 * its outputs. log1p is a long chain of dependent operations, so a kernel
 * takes the log of one group just before the exps of the next, which hide
 * its latency, and writes the first group's outputs after them. A group of
 * fewer than 16 rows (the last, or one cut short by a row the generic path
 * takes) ends the run. */
FASTCE_ALWAYS_INLINE ptrdiff_t softmax_rows_c(const float *x, ptrdiff_t n, const ptrdiff_t C,
                                            ptrdiff_t n1, const int side, int op, float *out) {
    shape16 sh;
    shape16_init(&sh, C, side ? n1 : 1);
    const ptrdiff_t step = sh.step;
    rows16 gs[2], *g = gs, *prev = NULL;
    __m512 o[FASTCE_ROWS_C];
    for (int j = 0; j < FASTCE_ROWS_C; j++) o[j] = _mm512_setzero_ps();
    for (ptrdiff_t r0 = 0;; r0 += 16) {
        rows16 *cur = NULL;
        if (r0 < n && (!prev || prev->nr == 16)) {
            ptrdiff_t nr = n - r0 < 16 ? n - r0 : 16;
            rows16_begin(g, x + r0 * step, &sh, nr, fastce512_first16(nr), 0);
            if (g->nr) cur = g;
        }
        if (prev) rows16_lse(prev);
        if (cur) rows16_exp(cur, C, 0);
        if (prev) {
            ptrdiff_t p0 = r0 - 16;
            ptrdiff_t done = softmax_out16(prev, &sh, op, x + p0 * step,
                                           op == 0 ? out + p0 : out + p0 * step, o);
            if (done < 16) return p0 + done;
        }
        if (!cur) return r0;
        prev = cur;
        g = cur == gs ? gs + 1 : gs;
    }
}

/* The loss terms (added to *acc) and, with grad, the gradient of a
 * finished group of rows; see sparse_ce_rows in vec.h. */
FASTCE_ALWAYS_INLINE void sparse_ce_out16(const rows16 *g, const shape16 *sh, const float *w,
                                   const float *swb, double e, double w_sum, double w_lo, float *lossb,
                                   float *gradb, double grad_scale, __m512d *acc,
                                   __m512d *comp, __m512 *o) {
    const ptrdiff_t C = sh->C, nr = g->nr;
    const __m512d one = _mm512_set1_pd(1.0), zero_d = _mm512_setzero_pd();
    const double e_c = e / (double)C, keep = 1.0 - e;
    const __m512 m = g->m, xy = g->xy;
    const __m512i yv = g->yv;
    const __mmask16 used = g->used;
    const __mmask8 used_lo = (__mmask8)used, used_hi = (__mmask8)(used >> 8);
    __m512d m_lo = g->m_lo, m_hi = g->m_hi, rest_lo = g->rest_lo, rest_hi = g->rest_hi;
    __m512d L_lo = g->L_lo, L_hi = g->L_hi, sm_lo = zero_d, sm_hi = zero_d;
    if (e_c > 0.0) /* sum_c w_c * (max - x_c), exact differences in double */
        for (ptrdiff_t j = 0; j < C; j++) {
            __m512d wj = _mm512_set1_pd(w ? (double)w[j] : 1.0);
            sm_lo = _mm512_fmadd_pd(wj, _mm512_sub_pd(m_lo, lo_pd(g->v[j])), sm_lo);
            sm_hi = _mm512_fmadd_pd(wj, _mm512_sub_pd(m_hi, hi_pd(g->v[j])), sm_hi);
        }

    __m512 wy = w ? _mm512_i32gather_ps(yv, w, 4) : _mm512_set1_ps(1.0f);
    __m512 swv = swb ? _mm512_maskz_loadu_ps(fastce512_first16(nr), swb) : _mm512_set1_ps(1.0f);
    /* l = sw * ((1-e)*w_y*((max - x_y) + L) + (e/C)*(smooth + W*L)) */
    __m512d ly_lo = _mm512_add_pd(_mm512_sub_pd(m_lo, lo_pd(xy)), L_lo);
    __m512d ly_hi = _mm512_add_pd(_mm512_sub_pd(m_hi, hi_pd(xy)), L_hi);
    __m512d cy_lo = _mm512_mul_pd(_mm512_set1_pd(keep), lo_pd(wy));
    __m512d cy_hi = _mm512_mul_pd(_mm512_set1_pd(keep), hi_pd(wy));
    __m512d l_lo = _mm512_mul_pd(cy_lo, ly_lo), l_hi = _mm512_mul_pd(cy_hi, ly_hi);
    if (keep == 0.0) l_lo = l_hi = zero_d; /* (1-e) = 0: no target term */
    if (e_c > 0.0) { /* (e/C may underflow: then no smoothing term, even against an inf sum) */
        __m512d W = _mm512_set1_pd(w_sum), ec = _mm512_set1_pd(e_c);
        l_lo = _mm512_fmadd_pd(ec, _mm512_fmadd_pd(W, L_lo, sm_lo), l_lo);
        l_hi = _mm512_fmadd_pd(ec, _mm512_fmadd_pd(W, L_hi, sm_hi), l_hi);
    }
    l_lo = _mm512_maskz_mul_pd(used_lo, l_lo, lo_pd(swv));
    l_hi = _mm512_maskz_mul_pd(used_hi, l_hi, hi_pd(swv));
    kahan_add(acc, comp, l_lo, 1);
    kahan_add(acc, comp, l_hi, 1);
    if (lossb) _mm512_mask_storeu_ps(lossb, fastce512_first16(nr), to_ps(l_lo, l_hi));

    if (!gradb) return;
    /* g_j = a*(cy + (e/C)*W) * p_j - a*(e/C)*w_j, then the target entry
     * a*((cy + (e/C)*w_y)*(p_y - 1) + (e/C)*(W - w_y)*p_y) with
     * p_y - 1 = -rest/(1+rest) at a maximum (see sparse_row);
     * a = sw*grad_scale, 0 for an ignored row. */
    __m512d inv_lo = _mm512_div_pd(one, _mm512_add_pd(one, rest_lo));
    __m512d inv_hi = _mm512_div_pd(one, _mm512_add_pd(one, rest_hi));
    __m512d a_lo = _mm512_maskz_mul_pd(used_lo, lo_pd(swv), _mm512_set1_pd(grad_scale));
    __m512d a_hi = _mm512_maskz_mul_pd(used_hi, hi_pd(swv), _mm512_set1_pd(grad_scale));
    __m512d ecW = _mm512_set1_pd(e_c * w_sum);
    __m512 sp = to_ps(_mm512_mul_pd(_mm512_mul_pd(a_lo, _mm512_add_pd(cy_lo, ecW)), inv_lo),
                      _mm512_mul_pd(_mm512_mul_pd(a_hi, _mm512_add_pd(cy_hi, ecW)), inv_hi));
    __m512 off = to_ps(_mm512_mul_pd(a_lo, _mm512_set1_pd(-e_c)),
                       _mm512_mul_pd(a_hi, _mm512_set1_pd(-e_c)));
    __mmask16 at_max = _mm512_cmp_ps_mask(xy, m, _CMP_EQ_OQ);
    __m512d py_lo = _mm512_mul_pd(lo_pd(g->ey), inv_lo), py_hi = _mm512_mul_pd(hi_pd(g->ey), inv_hi);
    __m512d pm1_lo = _mm512_mask_mov_pd(_mm512_sub_pd(py_lo, one), (__mmask8)at_max,
                                        _mm512_sub_pd(zero_d, _mm512_mul_pd(rest_lo, inv_lo)));
    __m512d pm1_hi = _mm512_mask_mov_pd(_mm512_sub_pd(py_hi, one), (__mmask8)(at_max >> 8),
                                        _mm512_sub_pd(zero_d, _mm512_mul_pd(rest_hi, inv_hi)));
    __m512d wyl = lo_pd(wy), wyh = hi_pd(wy);
    const __m512d ecv = _mm512_set1_pd(e_c), Wv = _mm512_set1_pd(w_sum), Wlo = _mm512_set1_pd(w_lo);
    __m512d wo_lo = _mm512_add_pd(_mm512_sub_pd(Wv, wyl), Wlo);
    __m512d wo_hi = _mm512_add_pd(_mm512_sub_pd(Wv, wyh), Wlo);
    __m512d gy_lo = _mm512_mul_pd(a_lo, _mm512_fmadd_pd(_mm512_fmadd_pd(ecv, wyl, cy_lo), pm1_lo,
                                                        _mm512_mul_pd(_mm512_mul_pd(ecv, wo_lo), py_lo)));
    __m512d gy_hi = _mm512_mul_pd(a_hi, _mm512_fmadd_pd(_mm512_fmadd_pd(ecv, wyh, cy_hi), pm1_hi,
                                                        _mm512_mul_pd(_mm512_mul_pd(ecv, wo_hi), py_hi)));
    __m512 gy = to_ps(gy_lo, gy_hi);
    __m512i jv = _mm512_setzero_si512();
    for (ptrdiff_t j = 0; j < C; j++) {
        __m512 offj = w ? _mm512_mul_ps(off, _mm512_set1_ps(w[j])) : off;
        __m512 gj = _mm512_maskz_fmadd_ps(used, sp, g->ex[j], offj); /* ignored rows: 0 */
        __mmask16 at = _mm512_mask_cmpeq_epi32_mask(used, yv, jv);
        o[j] = _mm512_mask_mov_ps(gj, at, gy); /* the target entry */
        jv = _mm512_add_epi32(jv, _mm512_set1_epi32(1));
    }
    store16(gradb, o, sh, nr);
}

FASTCE_ALWAYS_INLINE ptrdiff_t sparse_ce_rows_c(const float *x, const int64_t *y, ptrdiff_t n,
                                              const ptrdiff_t C, ptrdiff_t n1, const int side,
                                              const float *w,
                                              const float *sw, int64_t ignore_index, double e,
                                              double w_sum, double w_lo, float *loss, float *grad,
                                              double grad_scale, double *total) {
    shape16 sh;
    shape16_init(&sh, C, side ? n1 : 1);
    const ptrdiff_t step = sh.step;
    rows16 gs[2], *g = gs, *prev = NULL;
    __m512 o[FASTCE_ROWS_C];
    for (int j = 0; j < FASTCE_ROWS_C; j++) o[j] = _mm512_setzero_ps();
    __m512d acc = _mm512_setzero_pd(), comp = acc;
    ptrdiff_t r0 = 0;
    for (;; r0 += 16) {
        rows16 *cur = NULL;
        if (r0 < n && (!prev || prev->nr == 16)) {
            ptrdiff_t nr = n - r0 < 16 ? n - r0 : 16;
            __mmask16 used;
            g->yv = labels16(y + r0, nr, ignore_index, &used);
            rows16_begin(g, x + r0 * step, &sh, nr, used, 1);
            if (g->nr) cur = g;
        }
        if (prev) rows16_lse(prev);
        if (cur) rows16_exp(cur, C, grad ? 2 : 1);
        if (prev) {
            ptrdiff_t p0 = r0 - 16;
            sparse_ce_out16(prev, &sh, w, sw ? sw + p0 : NULL, e, w_sum, w_lo, loss ? loss + p0 : NULL,
                            grad ? grad + p0 * step : NULL, grad_scale, &acc, &comp, o);
            if (prev->nr < 16) {
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

static ptrdiff_t softmax_rows_f32(const float *x, ptrdiff_t n, ptrdiff_t C, ptrdiff_t n1,
                                  int op, float *out) {
#define FASTCE_CASE_(K) \
    case K: return n1 > 1 ? softmax_rows_c(x, n, K, n1, 1, op, out) : softmax_rows_c(x, n, K, 1, 0, op, out);
    switch (C) {
        FASTCE_WIDTHS_(FASTCE_CASE_)
    default: /* contiguous rows of up to FASTCE_ROWS_C classes: one copy for any C */
        return FASTCE_ANY_C_(C, n1) ? softmax_rows_c(x, n, C, 1, 0, op, out) : 0;
    }
#undef FASTCE_CASE_
}

static ptrdiff_t sparse_ce_rows_f32(const float *x, const int64_t *y, ptrdiff_t n,
                                    ptrdiff_t C, ptrdiff_t n1, const float *w, const float *sw,
                                    int64_t ignore_index, double e, double w_sum, double w_lo,
                                    float *loss, float *grad, double grad_scale,
                                    double *total) {
#define FASTCE_CASE_(K)                                                                    \
    case K:                                                                                \
        return n1 > 1 ? sparse_ce_rows_c(x, y, n, K, n1, 1, w, sw, ignore_index, e, w_sum, w_lo, loss, \
                                         grad, grad_scale, total)                                 \
                      : sparse_ce_rows_c(x, y, n, K, 1, 0, w, sw, ignore_index, e, w_sum, w_lo, loss,  \
                                         grad, grad_scale, total);
    switch (C) {
        FASTCE_WIDTHS_(FASTCE_CASE_)
    default: /* as softmax_rows_f32 */
        return FASTCE_ANY_C_(C, n1)
                   ? sparse_ce_rows_c(x, y, n, C, 1, 0, w, sw, ignore_index, e, w_sum, w_lo,
                                      loss, grad, grad_scale, total)
                   : 0;
    }
#undef FASTCE_CASE_
}

/* Dense targets (dense_ce_rows in vec.h): the loss terms (added to *acc)
 * and, with grad, the gradient of a finished group, its targets at tb laid
 * out as its logits. wt_j = w_j * ((1-e) t_j + e/C); in double lanes
 *   A = sum over x_j != max of wt_j (max - x_j)  (0 where wt_j == 0),
 *   B = sum of wt_j,  B' = that sum over x_j != max,
 *   loss = sw (A + B L)  (0 where B == 0),
 *   g_j = a (B p_j - wt_j), a = sw grad_scale, rounded once; at a lone
 *   maximum (rest < 1) a (B' - B rest / (1 + rest)), without the
 *   cancellation near 1 (dense_row in softmax_ce_impl.h).
 * Returns how many of its rows are done: g->nr, or fewer when a row's
 * targets are not all finite and >= 0 (that row is the generic path's). */
FASTCE_ALWAYS_INLINE ptrdiff_t dense_ce_out16(const rows16 *g, const shape16 *sh, const float *tb,
                                              const float *w, const float *swb, double e,
                                              float *lossb, float *gradb, double grad_scale,
                                              __m512d *acc, __m512d *comp, __m512 *o) {
    const ptrdiff_t C = sh->C;
    ptrdiff_t nr = g->nr;
    __m512 tv[FASTCE_ROWS_C];
    columns16(tv, tb, sh, nr);
    __mmask16 bad = 0;
    /* NaN, inf, a negative target (whose sums could cancel: plain ones here) */
    for (ptrdiff_t j = 0; j < C; j++) bad |= _mm512_fpclass_ps_mask(tv[j], 0xd9);
    bad &= fastce512_first16(nr);
    if (bad) nr = lowest(bad);
    if (nr == 0) return 0;
    const __mmask16 used = fastce512_first16(nr);
    const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);
    const __m512d keep = _mm512_set1_pd(1.0 - e), ec = _mm512_set1_pd(e / (double)C);
    const __m512 swv = swb ? _mm512_maskz_loadu_ps(used, swb) : _mm512_set1_ps(1.0f);
    const __m512d m[2] = {g->m_lo, g->m_hi}, L[2] = {g->L_lo, g->L_hi};
    const __m512d rest[2] = {g->rest_lo, g->rest_hi}, sw[2] = {lo_pd(swv), hi_pd(swv)};
    __m512d A[2] = {zero, zero}, B[2] = {zero, zero}, Br[2] = {zero, zero};
    for (ptrdiff_t j = 0; j < C; j++) {
        const __mmask16 ne = _mm512_cmp_ps_mask(g->v[j], g->m, _CMP_NEQ_UQ);
        const __m512d wj = _mm512_set1_pd(w ? (double)w[j] : 1.0);
        for (int h = 0; h < 2; h++) {
            const __m512d xj = h ? hi_pd(g->v[j]) : lo_pd(g->v[j]);
            const __m512d wt = _mm512_mul_pd(wj, _mm512_fmadd_pd(keep, h ? hi_pd(tv[j]) : lo_pd(tv[j]), ec));
            const __mmask8 nh = (__mmask8)(ne >> 8 * h);
            const __mmask8 live = _mm512_mask_cmp_pd_mask(nh, wt, zero, _CMP_NEQ_UQ);
            A[h] = _mm512_mask3_fmadd_pd(wt, _mm512_sub_pd(m[h], xj), A[h], live);
            B[h] = _mm512_add_pd(B[h], wt);
            Br[h] = _mm512_mask_add_pd(Br[h], nh, Br[h], wt);
        }
    }
    __m512d l[2], a[2], sp[2], gmax[2];
    __mmask8 lone[2];
    for (int h = 0; h < 2; h++) {
        const __mmask8 uh = (__mmask8)(used >> 8 * h);
        const __mmask8 mass = _mm512_cmp_pd_mask(B[h], zero, _CMP_NEQ_UQ); /* B != 0 */
        l[h] = _mm512_maskz_mov_pd(mass, _mm512_fmadd_pd(B[h], L[h], A[h]));
        l[h] = _mm512_maskz_mul_pd(uh, l[h], sw[h]);
        kahan_add(acc, comp, l[h], 1);
        const __m512d inv = _mm512_div_pd(one, _mm512_add_pd(one, rest[h]));
        a[h] = _mm512_maskz_mul_pd(uh & mass, sw[h], _mm512_set1_pd(grad_scale));
        sp[h] = _mm512_mul_pd(_mm512_mul_pd(a[h], B[h]), inv);
        gmax[h] = _mm512_mul_pd(a[h], _mm512_fnmadd_pd(_mm512_mul_pd(B[h], rest[h]), inv, Br[h]));
        lone[h] = _mm512_cmp_pd_mask(rest[h], one, _CMP_LT_OQ);
    }
    if (lossb) _mm512_mask_storeu_ps(lossb, used, to_ps(l[0], l[1]));
    if (!gradb) return nr;
    for (ptrdiff_t j = 0; j < C; j++) {
        const __mmask16 eq = _mm512_cmp_ps_mask(g->v[j], g->m, _CMP_EQ_OQ);
        const __m512d wj = _mm512_set1_pd(w ? (double)w[j] : 1.0);
        __m512d gj[2];
        for (int h = 0; h < 2; h++) {
            const __m512d wt = _mm512_mul_pd(wj, _mm512_fmadd_pd(keep, h ? hi_pd(tv[j]) : lo_pd(tv[j]), ec));
            const __m512d ex = h ? hi_pd(g->ex[j]) : lo_pd(g->ex[j]);
            gj[h] = _mm512_fmsub_pd(sp[h], ex, _mm512_mul_pd(a[h], wt));
            gj[h] = _mm512_mask_mov_pd(gj[h], lone[h] & (__mmask8)(eq >> 8 * h), gmax[h]);
        }
        o[j] = to_ps(gj[0], gj[1]);
    }
    store16(gradb, o, sh, nr);
    return nr;
}

FASTCE_ALWAYS_INLINE ptrdiff_t dense_ce_rows_c(const float *x, const float *t, ptrdiff_t n,
                                               const ptrdiff_t C, ptrdiff_t n1, const int side,
                                               const float *w, const float *sw, double e,
                                               float *loss, float *grad, double grad_scale,
                                               double *total) {
    shape16 sh;
    shape16_init(&sh, C, side ? n1 : 1);
    const ptrdiff_t step = sh.step;
    rows16 gs[2], *g = gs, *prev = NULL;
    __m512 o[FASTCE_ROWS_C];
    for (int j = 0; j < FASTCE_ROWS_C; j++) o[j] = _mm512_setzero_ps();
    __m512d acc = _mm512_setzero_pd(), comp = acc;
    ptrdiff_t done;
    for (ptrdiff_t r0 = 0;; r0 += 16) {
        rows16 *cur = NULL;
        if (r0 < n && (!prev || prev->nr == 16)) {
            ptrdiff_t nr = n - r0 < 16 ? n - r0 : 16;
            rows16_begin(g, x + r0 * step, &sh, nr, fastce512_first16(nr), 0);
            if (g->nr) cur = g;
        }
        if (prev) rows16_lse(prev);
        if (cur) rows16_exp(cur, C, 0);
        if (prev) {
            const ptrdiff_t p0 = r0 - 16;
            const ptrdiff_t d = dense_ce_out16(prev, &sh, t + p0 * step, w, sw ? sw + p0 : NULL, e,
                                               loss ? loss + p0 : NULL, grad ? grad + p0 * step : NULL,
                                               grad_scale, &acc, &comp, o);
            if (d < 16) {
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

static ptrdiff_t dense_ce_rows_f32(const float *x, const float *t, ptrdiff_t n, ptrdiff_t C,
                                   ptrdiff_t n1, const float *w, const float *sw, double e,
                                   float *loss, float *grad, double grad_scale, double *total) {
#define FASTCE_CASE_(K)                                                                         \
    case K:                                                                                     \
        return n1 > 1 ? dense_ce_rows_c(x, t, n, K, n1, 1, w, sw, e, loss, grad, grad_scale, total) \
                      : dense_ce_rows_c(x, t, n, K, 1, 0, w, sw, e, loss, grad, grad_scale, total);
    switch (C) {
        FASTCE_WIDTHS_(FASTCE_CASE_)
    default: /* as softmax_rows_f32 */
        return FASTCE_ANY_C_(C, n1)
                   ? dense_ce_rows_c(x, t, n, C, 1, 0, w, sw, e, loss, grad, grad_scale, total)
                   : 0;
    }
#undef FASTCE_CASE_
}

void fastce_vec_avx512_fill_rows(fastce_vec_ops *t) {
    t->sparse_ce_rows_f32 = sparse_ce_rows_f32;
    t->softmax_rows_f32 = softmax_rows_f32;
    t->dense_ce_rows_f32 = dense_ce_rows_f32;
}

#endif /* FASTCE_HAVE_AVX512_TABLE */
