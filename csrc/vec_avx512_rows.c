/* vec_avx512_rows.c: the row-parallel sparse softmax cross-entropy,
 * logsumexp, log_softmax and softmax for few classes (C <= FASTCE_SMALL_C,
 * and contiguous rows up to FASTCE_ROWS_C)
 * in AVX-512 (F, DQ, BW, VL): the entries sparse_ce_rows_f32/f64 and
 * softmax_rows_f32/f64 of the AVX-512 table (vec.h), put over the AVX2 ones
 * by fastce_vec_avx512_fill_rows. Compiled with AVX-512 flags
 * (CMakeLists.txt); dispatch.c calls into it only on CPUs that have them.
 *
 * Also dense_ce_rows_f32/f64 (dense targets), and the float64 weighted
 * and smoothed losses in double-double (weighted_loss8).
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
#include "simd_avx512_dd.h"
#include "simd_avx512_lanes.h"

/* The kernels run with C a constant: one copy per width (the entries of
 * the table switch on C), whose class loops the compiler unrolls, keeping
 * the class vectors in registers (measured: 15-30% fewer cycles than one
 * copy for every C, at C = 10 and 16, forward and gradient). And one copy
 * for each layout (side: samples side by side), so that the rows' code is
 * what it was before that layout came (one copy for both made a float32
 * log_softmax at C = 16 8% slower). Contiguous rows of FASTCE_SMALL_C <
 * C <= FASTCE_ROWS_C take one more copy, for any C (vec.h). */
#define FASTCE_WIDTHS_(F)                                                                  \
    F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11) F(12) F(13) F(14) F(15) F(16)  \
    F(17) F(18) F(19) F(20) F(21) F(22) F(23) F(24) F(25) F(26) F(27) F(28) F(29) F(30)     \
    F(31) F(32)
_Static_assert(FASTCE_SMALL_C == 32, "FASTCE_WIDTHS_ lists the widths 1 to FASTCE_SMALL_C");
_Static_assert(FASTCE_ROWS_C >= FASTCE_SMALL_C && FASTCE_ROWS_C % 16 == 0,
               "store16 and store8 read whole blocks of 16 (8) class vectors");
/* The calls that the copy for any C takes: contiguous rows past the widths. */
#define FASTCE_ANY_C_(C, n1) ((n1) == 1 && (C) > FASTCE_SMALL_C && (C) <= FASTCE_ROWS_C)

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

#undef FASTCE_WIDTHS_
#undef FASTCE_ANY_C_

void fastce_vec_avx512_fill_rows(fastce_vec_ops *t) {
    t->sparse_ce_rows_f32 = sparse_ce_rows_f32;
    t->sparse_ce_rows_f64 = sparse_ce_rows_f64;
    t->softmax_rows_f32 = softmax_rows_f32;
    t->softmax_rows_f64 = softmax_rows_f64;
    t->dense_ce_rows_f32 = dense_ce_rows_f32;
    t->dense_ce_rows_f64 = dense_ce_rows_f64;
}

#endif /* FASTCE_HAVE_AVX512_TABLE */
