/* vec_avx2_rows.h: the row-parallel sparse softmax cross-entropy, logsumexp,
 * log_softmax and softmax for few classes (C <= FASTCE_SMALL_C, and
 * contiguous rows up to FASTCE_ROWS_C), AVX2 + FMA, float and double.
 * Included by vec_avx2.c.
 *
 * A row of 10 classes is too short to vectorise along: instead 8 rows (4 of
 * doubles) become C vectors of 8 lanes (lane k = row k, vector j = class j),
 * and every per-row step (max, ties, exp, the sums, log1p, the loss, the
 * gradient) runs lane-wise. The rows of a group are contiguous: they are
 * loaded in blocks of 8 classes (the last block partial when 8 does not
 * divide C) and transposed in registers; outputs go back the same way.
 * Samples side by side (a class axis that is not the last, n1 > 1 in vec.h)
 * are already in that form: class j of 8 samples is one load from plane j.
 *
 * The arithmetic is that of the generic path: exp(x - max) corrected by
 * TwoSum, sums in double lanes, lse_rel = log1p(rest). A group of rows whose
 * max is not finite (a masked row, +inf, NaN) is left to the generic path,
 * which owns those edge cases. Most groups are "tame" (see below) and take
 * shortcuts through exp and log1p that give the same bits.
 *
 * What limits speed is latency more than the number of operations: an exp
 * or a log1p is one long chain of dependent operations. So two exps are
 * interleaved, and the log1p of one group is issued before the exps of the
 * next (see rows8_begin). */

/* Tame groups. In a group whose rows in use are all finite with
 * min - max >= -87 (float) or -708 (double), exp(x_j - max) takes the tame
 * form of exp_diff_avx2.h, and log1p(rest) a shortcut that gives the same
 * bits as fastce_log1p_pd: rest is in [0, 32], so 1 + rest is a normal,
 * finite, positive number and the special-value blends of the log are
 * identities; the Kahan sums of doubles are finite and need no NaN guard. */

/* fastce_log1p_pd(u) for u = rest in [0, 32]: the same steps without the
 * special values, and the series for |u| < 2^-7 only when a lane needs it. */
static inline __m256d log1p_rest_pd(__m256d u) {
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d w = _mm256_add_pd(one, u);
    __m256d c = _mm256_div_pd(_mm256_sub_pd(u, _mm256_sub_pd(w, one)), w);
    /* fastce_log_pd(w), w in [1, 33] */
    __m256i bits = _mm256_castpd_si256(w);
    /* the biased exponent (w > 0: no sign bit) as a double, exactly: the bits
     * of 2^52 + e, less 2^52 + 1023 */
    __m256d k = _mm256_sub_pd(
        _mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(bits, 52),
                                            _mm256_set1_epi64x(0x4330000000000000LL))),
        _mm256_set1_pd(4503599627371519.0));
    __m256d lg = fastce_log_finite_pd(bits, k);
    lg = _mm256_add_pd(lg, c);
    __m256d small = _mm256_cmp_pd(u, _mm256_set1_pd(0.0078125), _CMP_LT_OQ);
    if (_mm256_movemask_pd(small)) {
        __m256d p = _mm256_set1_pd(-1.0 / 10.0);
        for (int i = 9; i >= 2; i--) p = _mm256_fmadd_pd(p, u, _mm256_set1_pd((i % 2 ? 1.0 : -1.0) / i));
        lg = _mm256_blendv_pd(lg, _mm256_fmadd_pd(_mm256_mul_pd(p, u), u, u), small);
    }
    return lg;
}

_Static_assert(FASTCE_ROWS_C >= FASTCE_SMALL_C && FASTCE_ROWS_C % 8 == 0,
               "the stores read whole blocks of 8 class vectors");

/* Eight rows of few classes, class by class: v[j] holds class j of the 8
 * rows, ex[j] = exp(v[j] - max) (1 at a maximum), rest and lse_rel =
 * log1p(rest) per row in two halves of double lanes (rows 0-3, 4-7); xy and
 * ey the target's logit and exp for each row, when asked for; yv and used
 * the rows' labels and which rows count. tame: see exp_diff_tame_ps. */
typedef struct {
    __m256 v[FASTCE_ROWS_C], ex[FASTCE_ROWS_C], m, xy, ey, used;
    __m256d m_lo, m_hi, rest_lo, rest_hi, L_lo, L_hi;
    __m256i yv;
    int tame;
} rows8;

/* In-register transpose of an 8 x 8 block: r[k] (row k) becomes r[j]
 * (column j, lane k = row k). */
FASTCE_ALWAYS_INLINE void transpose8_ps(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* How the 8 rows of a group (8*C contiguous floats) split into blocks of 8
 * classes: `full` classes in whole blocks, then a partial block of `rem`
 * classes (tail: its lanes). Rows k < spill (spill4) may store their
 * partial block as a whole vector (half vector): its extra lanes land in
 * the rows after it, inside the group, which are written later (see
 * rows8_store). */
typedef struct {
    ptrdiff_t C, full, rem;
    int spill, spill4;
    __m256i tail;
    /* n1 > 1: samples side by side, their classes n1 apart (step 1 from a
     * sample to the next, else C) */
    ptrdiff_t n1, step;
} rows8_shape;

static inline rows8_shape rows8_shape_of(ptrdiff_t C, ptrdiff_t n1) {
    rows8_shape s = {C, C - C % 8, C % 8, 0, 0, tail_mask_ps(C % 8), n1, n1 > 1 ? 1 : C};
    while (s.spill < 8 && s.spill * C + s.full + 8 <= 8 * C) s.spill++;
    while (s.spill4 < 8 && s.spill4 * C + s.full + 4 <= 8 * C) s.spill4++;
    return s;
}

/* transpose8_ps for the first n (1 to 7) columns only. */
static inline void transpose8_ps_part(__m256 r[8], ptrdiff_t n) {
    if (n > 4) {
        transpose8_ps(r);
        return;
    }
    const __m256 a0 = r[0], a1 = r[1], a2 = r[2], a3 = r[3];
    const __m256 a4 = r[4], a5 = r[5], a6 = r[6], a7 = r[7];
    __m256 t0 = _mm256_unpacklo_ps(a0, a1), t2 = _mm256_unpacklo_ps(a2, a3);
    __m256 t4 = _mm256_unpacklo_ps(a4, a5), t6 = _mm256_unpacklo_ps(a6, a7);
    r[0] = _mm256_permute2f128_ps(_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)),
                                  _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)), 0x20);
    if (n > 1)
        r[1] = _mm256_permute2f128_ps(_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)),
                                      _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2)), 0x20);
    if (n > 2) {
        __m256 t1 = _mm256_unpackhi_ps(a0, a1), t3 = _mm256_unpackhi_ps(a2, a3);
        __m256 t5 = _mm256_unpackhi_ps(a4, a5), t7 = _mm256_unpackhi_ps(a6, a7);
        r[2] = _mm256_permute2f128_ps(_mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)),
                                      _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)), 0x20);
        if (n > 3)
            r[3] = _mm256_permute2f128_ps(_mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2)),
                                          _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2)), 0x20);
    }
}

/* Class j of the 8 rows at xb into v[j], j < C: each block of 8 classes is
 * loaded row by row and transposed in registers; the partial block reads
 * only the row's own classes. Also the max, min and sum of each row, taken
 * over the classes in order. */
static inline void rows8_columns(__m256 *v, const float *xb, const rows8_shape *s,
                                 __m256 *m, __m256 *lo, __m256 *sum) {
    const ptrdiff_t C = s->C;
    if (s->n1 > 1) { /* samples side by side: class j is one load */
        for (ptrdiff_t j = 0; j < C; j++) {
            v[j] = _mm256_loadu_ps(xb + j * s->n1);
            *m = _mm256_max_ps(v[j], *m);
            *lo = _mm256_min_ps(v[j], *lo);
            *sum = _mm256_add_ps(*sum, v[j]);
        }
        return;
    }
    __m256 r[8];
    for (ptrdiff_t b = 0; b < s->full; b += 8) {
        const float *p = xb + b;
        for (int k = 0; k < 8; k++, p += C) r[k] = _mm256_loadu_ps(p);
        transpose8_ps(r);
        for (int k = 0; k < 8; k++) {
            v[b + k] = r[k];
            *m = _mm256_max_ps(r[k], *m);
            *lo = _mm256_min_ps(r[k], *lo);
            *sum = _mm256_add_ps(*sum, r[k]);
        }
    }
    if (s->rem) {
        const float *p = xb + s->full;
        for (int k = 0; k < 8; k++, p += C) r[k] = _mm256_maskload_ps(p, s->tail);
        transpose8_ps_part(r, s->rem);
        for (int k = 0; k < s->rem; k++) {
            v[s->full + k] = r[k];
            *m = _mm256_max_ps(r[k], *m);
            *lo = _mm256_min_ps(r[k], *lo);
            *sum = _mm256_add_ps(*sum, r[k]);
        }
    }
}

/* The first r (1 to 7) floats of v to p. */
static inline void store_part_ps(float *p, __m256 v, ptrdiff_t r) {
    __m128 h = _mm256_castps256_ps128(v);
    if (r & 4) {
        _mm_storeu_ps(p, h);
        h = _mm256_extractf128_ps(v, 1);
        p += 4;
    }
    if (r & 2) {
        _mm_storel_pi((__m64 *)p, h);
        h = _mm_movehl_ps(h, h);
        p += 2;
    }
    if (r & 1) _mm_store_ss(p, h);
}

/* The inverse of rows8_columns: class vectors o[j] (lane k = row k; o has
 * room for whole blocks, entries past C initialised) to the 8 rows of C at
 * out. The partial block goes first, so that what rows k < spill write past
 * their end is overwritten by the rows after them; nothing past the group
 * is written. A partial block of at most 4 classes goes as 8 half vectors
 * (rows k < spill4 whole), after a 4 x 8 transpose. */
FASTCE_ALWAYS_INLINE void rows8_store(float *out, const __m256 *o, const rows8_shape *s) {
    const ptrdiff_t C = s->C;
    if (s->n1 > 1) {
        for (ptrdiff_t j = 0; j < C; j++) _mm256_storeu_ps(out + j * s->n1, o[j]);
        return;
    }
    __m256 r[8];
    if (s->rem > 4) {
        for (int j = 0; j < 8; j++) r[j] = o[s->full + j];
        transpose8_ps(r);
        float *p = out + s->full;
        for (int k = 0; k < 8; k++, p += C) {
            if (k < s->spill) _mm256_storeu_ps(p, r[k]);
            else store_part_ps(p, r[k], s->rem);
        }
    } else if (s->rem) {
        const __m256 *c = o + s->full;
        __m256 t0 = _mm256_unpacklo_ps(c[0], c[1]), t1 = _mm256_unpackhi_ps(c[0], c[1]);
        __m256 t2 = _mm256_unpacklo_ps(c[2], c[3]), t3 = _mm256_unpackhi_ps(c[2], c[3]);
        /* q[k]: row k in the low half, row k + 4 in the high half */
        __m256 q[4] = {_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)),
                       _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)),
                       _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)),
                       _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2))};
        float *p = out + s->full;
        for (int k = 0; k < 8; k++, p += C) {
            __m128 h = k < 4 ? _mm256_castps256_ps128(q[k]) : _mm256_extractf128_ps(q[k - 4], 1);
            if (k < s->spill4) {
                _mm_storeu_ps(p, h);
            } else {
                if (s->rem & 4) _mm_storeu_ps(p, h);
                if (s->rem & 2) _mm_storel_pi((__m64 *)p, h);
                if (s->rem & 1) _mm_store_ss(p + (s->rem & 2), (s->rem & 2) ? _mm_movehl_ps(h, h) : h);
            }
        }
    }
    for (ptrdiff_t b = 0; b < s->full; b += 8) {
        for (int j = 0; j < 8; j++) r[j] = o[b + j];
        transpose8_ps(r);
        float *p = out + b;
        for (int k = 0; k < 8; k++, p += C) _mm256_storeu_ps(p, r[k]);
    }
}

/* The labels of 8 rows as int32 lanes (ignored rows: class 0) and, in
 * *used, -1 for the rows that are not ignored. */
static inline __m256i labels8(const int64_t *y, int64_t ignore_index, __m256i *used) {
    const __m256i ig = _mm256_set1_epi64x(ignore_index);
    __m256i a = _mm256_loadu_si256((const __m256i *)y);
    __m256i b = _mm256_loadu_si256((const __m256i *)(y + 4));
    /* the low halves of the eight int64, in order */
#define FASTCE_LOW32(a, b) _mm256_permute4x64_epi64(_mm256_castps_si256(_mm256_shuffle_ps(      \
        _mm256_castsi256_ps(a), _mm256_castsi256_ps(b), _MM_SHUFFLE(2, 0, 2, 0))),           \
        _MM_SHUFFLE(3, 1, 2, 0))
    __m256i ignored = FASTCE_LOW32(_mm256_cmpeq_epi64(a, ig), _mm256_cmpeq_epi64(b, ig));
    __m256i labels = FASTCE_LOW32(a, b);
#undef FASTCE_LOW32
    *used = _mm256_xor_si256(ignored, _mm256_set1_epi32(-1));
    return _mm256_andnot_si256(ignored, labels);
}

/* A group goes through three steps: rows8_begin (load, max, which path),
 * rows8_exp (the exps and rest), rows8_lse (lse_rel = log1p(rest)), then
 * its outputs. log1p is a long chain of dependent operations, so a kernel
 * takes the log of one group just before the exps of the next, which hide
 * its latency, and writes the first group's outputs after them; nothing
 * changes in what is computed, or in the order of the loss sum. */

/* Loads the 8 rows at xb into g, and their max. Returns 0 when a row in
 * `used` has a max that is not finite or a NaN: the generic path owns
 * those rows. */
FASTCE_ALWAYS_INLINE int rows8_begin(rows8 *g, const float *xb, const rows8_shape *s, __m256 used) {
    const ptrdiff_t C = s->C;
    __m256 m = _mm256_set1_ps(-INFINITY), lo = _mm256_set1_ps(INFINITY);
    __m256 sum = _mm256_setzero_ps(); /* finite only if every x_j is */
    rows8_columns(g->v, xb, s, &m, &lo, &sum);
    g->m = m;
    g->used = used;
    __m256 tame = _mm256_and_ps(
        _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), sum), _mm256_set1_ps(INFINITY), _CMP_LT_OQ),
        _mm256_cmp_ps(_mm256_sub_ps(lo, m), _mm256_set1_ps(FASTCE_TAME_F32), _CMP_GE_OQ));
    g->tame = !_mm256_movemask_ps(_mm256_andnot_ps(tame, used));
    if (g->tame) return 1;
    __m256 bad = _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), m),
                               _mm256_set1_ps(INFINITY), _CMP_EQ_OQ);
    for (ptrdiff_t j = 0; j < C; j++)
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(g->v[j], g->v[j], _CMP_UNORD_Q));
    return !_mm256_movemask_ps(_mm256_and_ps(bad, used));
}

/* ex, rest and, with pick, the target (class g->yv, lane-wise) of each row:
 * its logit xy and, for pick == 2, its exp ey. */
static inline void rows8_exp_(rows8 *g, ptrdiff_t C, int tame, int pick) {
    const __m256d zero = _mm256_setzero_pd();
    const __m256 m = g->m;
    const __m256i yv = g->yv;
    __m256d rest_lo = zero, rest_hi = zero;
    __m256i ties = _mm256_set1_epi32(-1), jv = _mm256_setzero_si256();
    __m256 xy = _mm256_setzero_ps(), ey = xy;
    if (tame) {
        ptrdiff_t j = 0;
        for (; j + 2 <= C; j += 2) exp_diff_tame_ps(g->v + j, m, g->ex + j, 2);
        if (j < C) exp_diff_tame_ps(g->v + j, m, g->ex + j, 1);
    }
    for (ptrdiff_t j = 0; j < C; j++) {
        __m256 eq = _mm256_cmp_ps(g->v[j], m, _CMP_EQ_OQ);
        if (!tame) g->ex[j] = _mm256_blendv_ps(exp_diff_ps(g->v[j], m), _mm256_set1_ps(1.0f), eq);
        if (pick) { /* the target class, by lane */
            __m256 at = _mm256_castsi256_ps(_mm256_cmpeq_epi32(yv, jv));
            xy = _mm256_blendv_ps(xy, g->v[j], at);
            if (pick == 2) ey = _mm256_blendv_ps(ey, g->ex[j], at);
            jv = _mm256_add_epi32(jv, _mm256_set1_epi32(1));
        }
        __m256 term = _mm256_andnot_ps(eq, g->ex[j]);
        ties = _mm256_sub_epi32(ties, _mm256_castps_si256(eq));
        rest_lo = _mm256_add_pd(rest_lo, lo_pd(term));
        rest_hi = _mm256_add_pd(rest_hi, hi_pd(term));
    }
    __m256 ties_ps = _mm256_cvtepi32_ps(ties);
    g->xy = xy;
    g->ey = ey;
    g->m_lo = lo_pd(m);
    g->m_hi = hi_pd(m);
    g->rest_lo = _mm256_add_pd(rest_lo, lo_pd(ties_ps));
    g->rest_hi = _mm256_add_pd(rest_hi, hi_pd(ties_ps));
}

/* The lanes (a bit mask) whose lse = max + L cancels (fastce_lse_cancels in
 * internal.h): their rows are recomputed in extra precision, one by one
 * (redo_lse_f32/f64), in their group (handing the group to the generic
 * path cost up to 19x the time of a logsumexp of logits near 0 at C = 2). */
static inline int lse_cancels_pd(__m256d m, __m256d L, __m256d lse) {
    __m256d half_abs = _mm256_mul_pd(_mm256_set1_pd(0.5),
                                     _mm256_andnot_pd(_mm256_set1_pd(-0.0), lse));
    __m256d neg = _mm256_and_pd(_mm256_cmp_pd(m, _mm256_setzero_pd(), _CMP_LT_OQ),
                                _mm256_cmp_pd(m, _mm256_set1_pd(-INFINITY), _CMP_GT_OQ));
    __m256d c = _mm256_and_pd(neg, _mm256_cmp_pd(L, half_abs, _CMP_GT_OQ));
    return _mm256_movemask_pd(c);
}

/* out[k] for the rows k in c (the group at xb, maxima m[k]) redone. */
static void redo_lse_f32(const float *xb, ptrdiff_t step, ptrdiff_t n1, ptrdiff_t C, __m256 m,
                         unsigned c, float *out) {
    float mx[8];
    _mm256_storeu_ps(mx, m);
    fastce_redo_lse_f32(xb, step, n1, C, mx, c, out);
}
static void redo_lse_f64(const double *xb, ptrdiff_t step, ptrdiff_t n1, ptrdiff_t C, __m256d m,
                         unsigned c, double *out) {
    double mx[4];
    _mm256_storeu_pd(mx, m);
    fastce_redo_lse_f64(xb, step, n1, C, mx, c, out);
}

/* The exps and rest of a group. Returns 0 when a row in use has a rest
 * below FASTCE_TINY_REST_F32 and a finite entry below max - 87 (a group
 * that is not tame): its terms include subnormal floats, whose roundings
 * can be all of that row's tiny loss, and the generic path (terms in
 * double) takes the group. (A row with one live entry among -inf ones has
 * a rest of 0, and stays.) */
static inline int rows8_exp(rows8 *g, ptrdiff_t C, int pick) {
    if (g->tame) {
        rows8_exp_(g, C, 1, pick);
        return 1;
    }
    rows8_exp_(g, C, 0, pick);
    const __m256d tiny = _mm256_set1_pd(FASTCE_TINY_REST_F32);
    int low = (_mm256_movemask_pd(_mm256_cmp_pd(g->rest_lo, tiny, _CMP_LT_OQ)) |
               _mm256_movemask_pd(_mm256_cmp_pd(g->rest_hi, tiny, _CMP_LT_OQ)) << 4) &
              _mm256_movemask_ps(g->used);
    if (!low) return 1;
    __m256 far = _mm256_setzero_ps();
    for (ptrdiff_t j = 0; j < C; j++) far = _mm256_or_ps(far, far_mask_ps(g->v[j], g->m));
    return !(low & _mm256_movemask_ps(far));
}

static inline void rows8_lse(rows8 *g) {
    g->L_lo = g->tame ? log1p_rest_pd(g->rest_lo) : fastce_log1p_pd(g->rest_lo);
    g->L_hi = g->tame ? log1p_rest_pd(g->rest_hi) : fastce_log1p_pd(g->rest_hi);
}

/* logsumexp (op 0), log_softmax (1) or softmax (2) of a finished group. */
FASTCE_ALWAYS_INLINE void softmax_out8(const rows8 *g, const rows8_shape *s, int op, const float *xb,
                               float *out, __m256 *o) {
    const ptrdiff_t C = s->C;
    if (op == 0) {
        __m256d lse_lo = _mm256_add_pd(g->m_lo, g->L_lo), lse_hi = _mm256_add_pd(g->m_hi, g->L_hi);
        unsigned c = (unsigned)lse_cancels_pd(g->m_lo, g->L_lo, lse_lo) |
                     (unsigned)lse_cancels_pd(g->m_hi, g->L_hi, lse_hi) << 4;
        _mm256_storeu_ps(out, to_ps(lse_lo, lse_hi));
        if (c) redo_lse_f32(xb, s->step, s->n1, C, g->m, c, out);
        return;
    }
    if (op == 1) { /* (x_j - max) - lse_rel, in double: exact difference */
        for (ptrdiff_t j = 0; j < C; j++)
            o[j] = to_ps(_mm256_sub_pd(_mm256_sub_pd(lo_pd(g->v[j]), g->m_lo), g->L_lo),
                         _mm256_sub_pd(_mm256_sub_pd(hi_pd(g->v[j]), g->m_hi), g->L_hi));
    } else {
        const __m256d one = _mm256_set1_pd(1.0);
        __m256 inv = to_ps(_mm256_div_pd(one, _mm256_add_pd(one, g->rest_lo)),
                           _mm256_div_pd(one, _mm256_add_pd(one, g->rest_hi)));
        for (ptrdiff_t j = 0; j < C; j++) o[j] = _mm256_mul_ps(g->ex[j], inv);
    }
    rows8_store(out, o, s);
}

/* logsumexp (op 0), log_softmax (1) or softmax (2) of rows [0, n) of a
 * contiguous (n, C) block, C <= FASTCE_ROWS_C, 8 rows at a time; returns
 * how many leading rows it did (see sparse_ce_rows in vec.h). */
static ptrdiff_t softmax_rows_f32(const float *x, ptrdiff_t n, ptrdiff_t C, ptrdiff_t n1,
                                  int op, float *out) {
    if (C > FASTCE_ROWS_C) return 0; /* (the arrays below hold FASTCE_ROWS_C classes) */
    const rows8_shape sh = rows8_shape_of(C, n1);
    const ptrdiff_t step = sh.step;
    const __m256 all = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    rows8 gs[2], *g = gs, *prev = gs + 1; /* prev: the group before g, if have */
    __m256 o[FASTCE_ROWS_C];
    for (int j = 0; j < FASTCE_ROWS_C; j++) o[j] = _mm256_setzero_ps();
    ptrdiff_t r0 = 0;
    for (int have = 0;; r0 += 8, have = 1) {
        int ok = r0 + 8 <= n && rows8_begin(g, x + r0 * step, &sh, all);
        if (have) rows8_lse(prev);
        if (ok) ok = rows8_exp(g, C, 0);
        if (have)
            softmax_out8(prev, &sh, op, x + (r0 - 8) * step,
                         op == 0 ? out + r0 - 8 : out + (r0 - 8) * step, o);
        if (!ok) break;
        rows8 *t = prev;
        prev = g;
        g = t;
    }
    return r0;
}

/* The loss terms (added to *acc) and, with grad, the gradient of a finished
 * group of rows; see sparse_ce_rows_f32. */
FASTCE_ALWAYS_INLINE void sparse_ce_out8(const rows8 *g, const rows8_shape *sh, const float *w,
                                  const float *swb, double e, double w_sum, double w_lo, float *lossb,
                                  float *gradb, double grad_scale, __m256d *acc,
                                  __m256d *comp, __m256 *o) {
    const ptrdiff_t C = sh->C;
    const __m256d one = _mm256_set1_pd(1.0), zero_d = _mm256_setzero_pd();
    const double e_c = e / (double)C, keep = 1.0 - e;
    const __m256 m = g->m, xy = g->xy, usedf = g->used;
    const __m256i yv = g->yv, usedv = _mm256_castps_si256(usedf);
    __m256d m_lo = g->m_lo, m_hi = g->m_hi, rest_lo = g->rest_lo, rest_hi = g->rest_hi;
    __m256d L_lo = g->L_lo, L_hi = g->L_hi, sm_lo = zero_d, sm_hi = zero_d;
    if (e_c > 0.0) /* sum_c w_c * (max - x_c), exact differences in double */
        for (ptrdiff_t j = 0; j < C; j++) {
            __m256d wj = _mm256_set1_pd(w ? (double)w[j] : 1.0);
            sm_lo = _mm256_fmadd_pd(wj, _mm256_sub_pd(m_lo, lo_pd(g->v[j])), sm_lo);
            sm_hi = _mm256_fmadd_pd(wj, _mm256_sub_pd(m_hi, hi_pd(g->v[j])), sm_hi);
        }

    __m256 wy = w ? _mm256_i32gather_ps(w, yv, 4) : _mm256_set1_ps(1.0f);
    __m256 swv = swb ? _mm256_loadu_ps(swb) : _mm256_set1_ps(1.0f);
    /* l = sw * ((1-e)*w_y*((max - x_y) + L) + (e/C)*(smooth + W*L)) */
    __m256d ly_lo = _mm256_add_pd(_mm256_sub_pd(m_lo, lo_pd(xy)), L_lo);
    __m256d ly_hi = _mm256_add_pd(_mm256_sub_pd(m_hi, hi_pd(xy)), L_hi);
    __m256d cy_lo = _mm256_mul_pd(_mm256_set1_pd(keep), lo_pd(wy));
    __m256d cy_hi = _mm256_mul_pd(_mm256_set1_pd(keep), hi_pd(wy));
    __m256d l_lo = _mm256_mul_pd(cy_lo, ly_lo), l_hi = _mm256_mul_pd(cy_hi, ly_hi);
    if (keep == 0.0) l_lo = l_hi = zero_d; /* (1-e) = 0: no target term */
    if (e_c > 0.0) { /* (e/C may underflow: then no smoothing term, even against an inf sum) */
        __m256d W = _mm256_set1_pd(w_sum), ec = _mm256_set1_pd(e_c);
        l_lo = _mm256_fmadd_pd(ec, _mm256_fmadd_pd(W, L_lo, sm_lo), l_lo);
        l_hi = _mm256_fmadd_pd(ec, _mm256_fmadd_pd(W, L_hi, sm_hi), l_hi);
    }
    __m256d used_lo = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(usedv)));
    __m256d used_hi = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(usedv, 1)));
    l_lo = _mm256_and_pd(_mm256_mul_pd(l_lo, lo_pd(swv)), used_lo);
    l_hi = _mm256_and_pd(_mm256_mul_pd(l_hi, hi_pd(swv)), used_hi);
    kahan_add_pd(acc, comp, l_lo);
    kahan_add_pd(acc, comp, l_hi);
    if (lossb) _mm256_storeu_ps(lossb, to_ps(l_lo, l_hi));

    if (!gradb) return;
    /* g_j = a*(cy + (e/C)*W) * p_j - a*(e/C)*w_j, then the target entry
     * a*((cy + (e/C)*w_y)*(p_y - 1) + (e/C)*(W - w_y)*p_y) with
     * p_y - 1 = -rest/(1+rest) at a maximum (see sparse_row);
     * a = sw*grad_scale, 0 for an ignored row. */
    __m256d inv_lo = _mm256_div_pd(one, _mm256_add_pd(one, rest_lo));
    __m256d inv_hi = _mm256_div_pd(one, _mm256_add_pd(one, rest_hi));
    __m256d a_lo = _mm256_and_pd(_mm256_mul_pd(lo_pd(swv), _mm256_set1_pd(grad_scale)), used_lo);
    __m256d a_hi = _mm256_and_pd(_mm256_mul_pd(hi_pd(swv), _mm256_set1_pd(grad_scale)), used_hi);
    __m256d ecW = _mm256_set1_pd(e_c * w_sum);
    __m256 sp = to_ps(_mm256_mul_pd(_mm256_mul_pd(a_lo, _mm256_add_pd(cy_lo, ecW)), inv_lo),
                      _mm256_mul_pd(_mm256_mul_pd(a_hi, _mm256_add_pd(cy_hi, ecW)), inv_hi));
    __m256 off = to_ps(_mm256_mul_pd(a_lo, _mm256_set1_pd(-e_c)),
                       _mm256_mul_pd(a_hi, _mm256_set1_pd(-e_c)));
    __m256 at_max = _mm256_cmp_ps(xy, m, _CMP_EQ_OQ);
    __m256d atm_lo = lo_pd(at_max), atm_hi = hi_pd(at_max);
    __m256d eyl = lo_pd(g->ey), eyh = hi_pd(g->ey);
    __m256d py_lo = _mm256_mul_pd(eyl, inv_lo), py_hi = _mm256_mul_pd(eyh, inv_hi);
    __m256d pm1_lo = _mm256_blendv_pd(_mm256_sub_pd(py_lo, one),
                                      _mm256_sub_pd(zero_d, _mm256_mul_pd(rest_lo, inv_lo)), atm_lo);
    __m256d pm1_hi = _mm256_blendv_pd(_mm256_sub_pd(py_hi, one),
                                      _mm256_sub_pd(zero_d, _mm256_mul_pd(rest_hi, inv_hi)), atm_hi);
    __m256d wyl = lo_pd(wy), wyh = hi_pd(wy);
    const __m256d ecv = _mm256_set1_pd(e_c), Wv = _mm256_set1_pd(w_sum), Wlo = _mm256_set1_pd(w_lo);
    __m256d wo_lo = _mm256_add_pd(_mm256_sub_pd(Wv, wyl), Wlo);
    __m256d wo_hi = _mm256_add_pd(_mm256_sub_pd(Wv, wyh), Wlo);
    __m256d gy_lo = _mm256_mul_pd(a_lo, _mm256_fmadd_pd(_mm256_fmadd_pd(ecv, wyl, cy_lo), pm1_lo,
                                                        _mm256_mul_pd(_mm256_mul_pd(ecv, wo_lo), py_lo)));
    __m256d gy_hi = _mm256_mul_pd(a_hi, _mm256_fmadd_pd(_mm256_fmadd_pd(ecv, wyh, cy_hi), pm1_hi,
                                                        _mm256_mul_pd(_mm256_mul_pd(ecv, wo_hi), py_hi)));
    __m256 gy = to_ps(gy_lo, gy_hi);
    __m256i jv = _mm256_setzero_si256();
    const int all_used = _mm256_movemask_ps(usedf) == 0xff; /* then the masks are identities */
    for (ptrdiff_t j = 0; j < C; j++) {
        __m256 offj = w ? _mm256_mul_ps(off, _mm256_set1_ps(w[j])) : off;
        __m256 gj = _mm256_fmadd_ps(sp, g->ex[j], offj);
        __m256 at = _mm256_castsi256_ps(_mm256_cmpeq_epi32(yv, jv));
        if (!all_used) { /* ignored rows: 0 */
            gj = _mm256_and_ps(gj, usedf);
            at = _mm256_and_ps(at, usedf);
        }
        o[j] = _mm256_blendv_ps(gj, gy, at); /* the target entry */
        jv = _mm256_add_epi32(jv, _mm256_set1_epi32(1));
    }
    rows8_store(gradb, o, sh);
}

static ptrdiff_t sparse_ce_rows_f32(const float *x, const int64_t *y, ptrdiff_t n,
                                    ptrdiff_t C, ptrdiff_t n1, const float *w, const float *sw,
                                    int64_t ignore_index, double e, double w_sum, double w_lo,
                                    float *loss, float *grad, double grad_scale,
                                    double *total) {
    if (C > FASTCE_ROWS_C) return 0; /* (the arrays below hold FASTCE_ROWS_C classes) */
    const rows8_shape sh = rows8_shape_of(C, n1);
    const ptrdiff_t step = sh.step;
    rows8 gs[2], *g = gs, *prev = gs + 1; /* prev: the group before g, if have */
    __m256 o[FASTCE_ROWS_C];
    for (int j = 0; j < FASTCE_ROWS_C; j++) o[j] = _mm256_setzero_ps();
    __m256d acc = _mm256_setzero_pd(), comp = acc;
    ptrdiff_t r0 = 0;
    for (int have = 0;; r0 += 8, have = 1) {
        int ok = r0 + 8 <= n;
        if (ok) { /* labels: ignored rows point at class 0 and are masked at the end */
            __m256i usedv;
            g->yv = labels8(y + r0, ignore_index, &usedv);
            ok = rows8_begin(g, x + r0 * step, &sh, _mm256_castsi256_ps(usedv));
        }
        if (have) rows8_lse(prev);
        if (ok) ok = rows8_exp(g, C, grad ? 2 : 1);
        if (have) {
            ptrdiff_t p0 = r0 - 8;
            sparse_ce_out8(prev, &sh, w, sw ? sw + p0 : NULL, e, w_sum, w_lo, loss ? loss + p0 : NULL,
                           grad ? grad + p0 * step : NULL, grad_scale, &acc, &comp, o);
        }
        if (!ok) break;
        rows8 *t = prev;
        prev = g;
        g = t;
    }
    *total += kahan_total(acc, comp);
    return r0;
}

/* Dense targets (dense_ce_rows in vec.h, the scheme of dense_ce_out16 in
 * vec_avx512_rows.c): whether the targets of a group of 8 rows, laid out
 * as its logits, are all finite and >= 0 (else the group is the generic
 * path's: the kernel's plain sums of mixed signs could cancel). */
static inline int targets8_fit(const float *tb, const rows8_shape *s) {
    const __m256 inf = _mm256_set1_ps(INFINITY), zero = _mm256_setzero_ps();
    __m256 bad = zero;
    for (ptrdiff_t j = 0; j < s->C; j++) { /* rows: the group's 8C floats in a row */
        __m256 v = _mm256_loadu_ps(s->n1 > 1 ? tb + j * s->n1 : tb + 8 * j);
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, inf, _CMP_NLT_UQ));  /* NaN, inf */
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, zero, _CMP_LT_OQ)); /* negative, -inf */
    }
    return !_mm256_movemask_ps(bad);
}

/* The loss terms (added to *acc) and, with grad, the gradient of a
 * finished group of 8 rows with dense targets at tb (dense_ce_out16 has
 * the formulas). */
FASTCE_ALWAYS_INLINE void dense_ce_out8(const rows8 *g, const rows8_shape *sh, const float *tb,
                                        const float *w, const float *swb, double e, float *lossb,
                                        float *gradb, double grad_scale, __m256d *acc,
                                        __m256d *comp, __m256 *o) {
    const ptrdiff_t C = sh->C;
    __m256 tv[FASTCE_ROWS_C], tm = _mm256_setzero_ps(), tlo = tm, tsum = tm; /* (unused) */
    rows8_columns(tv, tb, sh, &tm, &tlo, &tsum);
    const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0);
    const __m256d keep = _mm256_set1_pd(1.0 - e), ec = _mm256_set1_pd(e / (double)C);
    const __m256 swv = swb ? _mm256_loadu_ps(swb) : _mm256_set1_ps(1.0f);
    const __m256d m[2] = {g->m_lo, g->m_hi}, L[2] = {g->L_lo, g->L_hi};
    const __m256d rest[2] = {g->rest_lo, g->rest_hi}, sw[2] = {lo_pd(swv), hi_pd(swv)};
    __m256d A[2] = {zero, zero}, B[2] = {zero, zero}, Br[2] = {zero, zero};
    for (ptrdiff_t j = 0; j < C; j++) {
        const __m256 eqf = _mm256_cmp_ps(g->v[j], g->m, _CMP_EQ_OQ);
        const __m256d wj = _mm256_set1_pd(w ? (double)w[j] : 1.0);
        for (int h = 0; h < 2; h++) {
            const __m256d xj = h ? hi_pd(g->v[j]) : lo_pd(g->v[j]);
            const __m256d eq = h ? hi_pd(eqf) : lo_pd(eqf); /* sign bits, for blendv */
            const __m256d wt = _mm256_mul_pd(wj, _mm256_fmadd_pd(keep, h ? hi_pd(tv[j]) : lo_pd(tv[j]), ec));
            __m256d d = _mm256_and_pd(_mm256_mul_pd(wt, _mm256_sub_pd(m[h], xj)),
                                      _mm256_cmp_pd(wt, zero, _CMP_NEQ_UQ));
            A[h] = _mm256_add_pd(A[h], _mm256_blendv_pd(d, zero, eq));
            B[h] = _mm256_add_pd(B[h], wt);
            Br[h] = _mm256_add_pd(Br[h], _mm256_blendv_pd(wt, zero, eq));
        }
    }
    __m256d l[2], a[2], sp[2], gmax[2], lone[2];
    for (int h = 0; h < 2; h++) {
        const __m256d mass = _mm256_cmp_pd(B[h], zero, _CMP_NEQ_UQ); /* B != 0 */
        l[h] = _mm256_mul_pd(_mm256_and_pd(_mm256_fmadd_pd(B[h], L[h], A[h]), mass), sw[h]);
        kahan_add_pd(acc, comp, l[h]);
        const __m256d inv = _mm256_div_pd(one, _mm256_add_pd(one, rest[h]));
        a[h] = _mm256_and_pd(_mm256_mul_pd(sw[h], _mm256_set1_pd(grad_scale)), mass);
        sp[h] = _mm256_mul_pd(_mm256_mul_pd(a[h], B[h]), inv);
        gmax[h] = _mm256_mul_pd(a[h], _mm256_fnmadd_pd(_mm256_mul_pd(B[h], rest[h]), inv, Br[h]));
        lone[h] = _mm256_cmp_pd(rest[h], one, _CMP_LT_OQ);
    }
    if (lossb) _mm256_storeu_ps(lossb, to_ps(l[0], l[1]));
    if (!gradb) return;
    for (ptrdiff_t j = 0; j < C; j++) {
        const __m256 eqf = _mm256_cmp_ps(g->v[j], g->m, _CMP_EQ_OQ);
        const __m256d wj = _mm256_set1_pd(w ? (double)w[j] : 1.0);
        __m256d gj[2];
        for (int h = 0; h < 2; h++) {
            const __m256d wt = _mm256_mul_pd(wj, _mm256_fmadd_pd(keep, h ? hi_pd(tv[j]) : lo_pd(tv[j]), ec));
            const __m256d ex = h ? hi_pd(g->ex[j]) : lo_pd(g->ex[j]);
            const __m256d at = _mm256_and_pd(lone[h], h ? hi_pd(eqf) : lo_pd(eqf));
            gj[h] = _mm256_fmsub_pd(sp[h], ex, _mm256_mul_pd(a[h], wt));
            gj[h] = _mm256_blendv_pd(gj[h], gmax[h], at);
        }
        o[j] = to_ps(gj[0], gj[1]);
    }
    rows8_store(gradb, o, sh);
}

static ptrdiff_t dense_ce_rows_f32(const float *x, const float *t, ptrdiff_t n, ptrdiff_t C,
                                   ptrdiff_t n1, const float *w, const float *sw, double e,
                                   float *loss, float *grad, double grad_scale, double *total) {
    if (C > FASTCE_ROWS_C) return 0; /* (the arrays below hold FASTCE_ROWS_C classes) */
    const rows8_shape sh = rows8_shape_of(C, n1);
    const ptrdiff_t step = sh.step;
    const __m256 all = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    rows8 gs[2], *g = gs, *prev = gs + 1; /* prev: the group before g, if have */
    __m256 o[FASTCE_ROWS_C];
    for (int j = 0; j < FASTCE_ROWS_C; j++) o[j] = _mm256_setzero_ps();
    __m256d acc = _mm256_setzero_pd(), comp = acc;
    ptrdiff_t r0 = 0;
    for (int have = 0;; r0 += 8, have = 1) {
        int ok = r0 + 8 <= n && targets8_fit(t + r0 * step, &sh) &&
                 rows8_begin(g, x + r0 * step, &sh, all);
        if (have) rows8_lse(prev);
        if (ok) ok = rows8_exp(g, C, 0);
        if (have) {
            const ptrdiff_t p0 = r0 - 8;
            dense_ce_out8(prev, &sh, t + p0 * step, w, sw ? sw + p0 : NULL, e,
                          loss ? loss + p0 : NULL, grad ? grad + p0 * step : NULL, grad_scale,
                          &acc, &comp, o);
        }
        if (!ok) break;
        rows8 *tmp = prev;
        prev = g;
        g = tmp;
    }
    *total += kahan_total(acc, comp);
    return r0;
}

/* ------------------------------------------------------------- double */

/* Four rows of few classes in double lanes: the float version above, with
 * lane k = row k of 4 and Kahan-compensated sums; the rest and L as hi +
 * lo (rows8 in vec_avx512_rows_f64.c). */
typedef struct {
    __m256d v[FASTCE_ROWS_C], ex[FASTCE_ROWS_C], m, rest, rest_lo, L, L_lo, xy, ey, used;
    __m256i yv;
    int tame;
} rows4;

/* In-register transpose of a 4 x 4 block of doubles (see transpose8_ps). */
static inline void transpose4_pd(__m256d r[4]) {
    __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

/* rows8_shape for 4 rows of doubles: blocks of 4 classes. */
typedef struct {
    ptrdiff_t C, full, rem;
    int spill;
    __m256i tail;
    ptrdiff_t n1, step;
} rows4_shape;

static inline rows4_shape rows4_shape_of(ptrdiff_t C, ptrdiff_t n1) {
    rows4_shape s = {C, C - C % 4, C % 4, 0, tail_mask_pd(C % 4), n1, n1 > 1 ? 1 : C};
    while (s.spill < 4 && s.spill * C + s.full + 4 <= 4 * C) s.spill++;
    return s;
}

/* rows8_columns for rows4. */
static inline void rows4_columns(__m256d *v, const double *xb, const rows4_shape *s,
                                 __m256d *m, __m256d *lo, __m256d *sum) {
    const ptrdiff_t C = s->C;
    if (s->n1 > 1) {
        for (ptrdiff_t j = 0; j < C; j++) {
            v[j] = _mm256_loadu_pd(xb + j * s->n1);
            *m = _mm256_max_pd(v[j], *m);
            *lo = _mm256_min_pd(v[j], *lo);
            *sum = _mm256_add_pd(*sum, v[j]);
        }
        return;
    }
    __m256d r[4];
    for (ptrdiff_t b = 0; b < C; b += 4) {
        const double *p = xb + b;
        if (b < s->full)
            for (int k = 0; k < 4; k++, p += C) r[k] = _mm256_loadu_pd(p);
        else
            for (int k = 0; k < 4; k++, p += C) r[k] = _mm256_maskload_pd(p, s->tail);
        transpose4_pd(r);
        for (int k = 0; k < 4 && b + k < C; k++) {
            v[b + k] = r[k];
            *m = _mm256_max_pd(r[k], *m);
            *lo = _mm256_min_pd(r[k], *lo);
            *sum = _mm256_add_pd(*sum, r[k]);
        }
    }
}

/* The first r (1 to 3) doubles of v to p. */
static inline void store_part_pd(double *p, __m256d v, ptrdiff_t r) {
    __m128d h = _mm256_castpd256_pd128(v);
    if (r & 2) {
        _mm_storeu_pd(p, h);
        h = _mm256_extractf128_pd(v, 1);
        p += 2;
    }
    if (r & 1) _mm_store_sd(p, h);
}

/* See rows8_store. */
FASTCE_ALWAYS_INLINE void rows4_store(double *out, const __m256d *o, const rows4_shape *s) {
    const ptrdiff_t C = s->C;
    if (s->n1 > 1) {
        for (ptrdiff_t j = 0; j < C; j++) _mm256_storeu_pd(out + j * s->n1, o[j]);
        return;
    }
    __m256d r[4];
    if (s->rem) {
        for (int j = 0; j < 4; j++) r[j] = o[s->full + j];
        transpose4_pd(r);
        double *p = out + s->full;
        for (int k = 0; k < 4; k++, p += C) {
            if (k < s->spill) _mm256_storeu_pd(p, r[k]);
            else store_part_pd(p, r[k], s->rem);
        }
    }
    for (ptrdiff_t b = 0; b < s->full; b += 4) {
        for (int j = 0; j < 4; j++) r[j] = o[b + j];
        transpose4_pd(r);
        double *p = out + b;
        for (int k = 0; k < 4; k++, p += C) _mm256_storeu_pd(p, r[k]);
    }
}

/* The steps of a group, as rows8_begin, rows8_exp and rows8_lse. */
FASTCE_ALWAYS_INLINE int rows4_begin(rows4 *g, const double *xb, const rows4_shape *s, __m256d used) {
    const ptrdiff_t C = s->C;
    __m256d m = _mm256_set1_pd(-INFINITY), lo = _mm256_set1_pd(INFINITY);
    __m256d sum = _mm256_setzero_pd(); /* finite only if every x_j is */
    rows4_columns(g->v, xb, s, &m, &lo, &sum);
    g->m = m;
    g->used = used;
    __m256d tame = _mm256_and_pd(
        _mm256_cmp_pd(_mm256_andnot_pd(_mm256_set1_pd(-0.0), sum), _mm256_set1_pd(INFINITY), _CMP_LT_OQ),
        _mm256_cmp_pd(_mm256_sub_pd(lo, m), _mm256_set1_pd(FASTCE_TAME_F64), _CMP_GE_OQ));
    g->tame = !_mm256_movemask_pd(_mm256_andnot_pd(tame, used));
    if (g->tame) return 1;
    __m256d bad = _mm256_cmp_pd(_mm256_andnot_pd(_mm256_set1_pd(-0.0), m),
                                _mm256_set1_pd(INFINITY), _CMP_EQ_OQ);
    for (ptrdiff_t j = 0; j < C; j++)
        bad = _mm256_or_pd(bad, _mm256_cmp_pd(g->v[j], g->v[j], _CMP_UNORD_Q));
    return !_mm256_movemask_pd(_mm256_and_pd(bad, used));
}

static inline void rows4_exp_(rows4 *g, ptrdiff_t C, int tame, int pick) {
    const __m256d m = g->m;
    const __m256i yv = g->yv;
    __m256d rest = _mm256_setzero_pd(), comp = rest, los = rest, ties = _mm256_set1_pd(-1.0);
    __m256d xy = _mm256_setzero_pd(), ey = xy, ex_lo[FASTCE_ROWS_C];
    __m256i jv = _mm256_setzero_si256();
    if (tame) {
        ptrdiff_t j = 0;
        for (; j + 2 <= C; j += 2) exp_diff_tame_pd(g->v + j, m, g->ex + j, 2, ex_lo + j);
        if (j < C) exp_diff_tame_pd(g->v + j, m, g->ex + j, 1, ex_lo + j);
    }
    for (ptrdiff_t j = 0; j < C; j++) {
        __m256d eq = _mm256_cmp_pd(g->v[j], m, _CMP_EQ_OQ);
        if (!tame)
            g->ex[j] = _mm256_blendv_pd(exp_diff_lo_pd(g->v[j], m, ex_lo + j), _mm256_set1_pd(1.0), eq);
        los = _mm256_add_pd(los, _mm256_andnot_pd(eq, ex_lo[j]));
        if (pick) { /* the target class, by lane */
            __m256d at = _mm256_castsi256_pd(_mm256_cmpeq_epi64(yv, jv));
            xy = _mm256_blendv_pd(xy, g->v[j], at);
            if (pick == 2) ey = _mm256_blendv_pd(ey, g->ex[j], at);
            jv = _mm256_add_epi64(jv, _mm256_set1_epi64x(1));
        }
        __m256d term = _mm256_andnot_pd(eq, g->ex[j]);
        if (tame) { /* kahan_add_pd: the sums are finite, no NaN to clear */
            __m256d yk = _mm256_sub_pd(term, comp), t = _mm256_add_pd(rest, yk);
            comp = _mm256_sub_pd(_mm256_sub_pd(t, rest), yk);
            rest = t;
        } else {
            kahan_add_pd(&rest, &comp, term);
        }
        ties = _mm256_add_pd(ties, _mm256_and_pd(eq, _mm256_set1_pd(1.0)));
    }
    g->xy = xy;
    g->ey = ey;
    /* (rest + ties) + (los - comp), as hi + lo */
    fastce256_dd r = fastce256_two_sum(rest, ties);
    r = fastce256_fast_two_sum(r.hi, _mm256_add_pd(r.lo, _mm256_sub_pd(los, comp)));
    g->rest = r.hi;
    g->rest_lo = r.lo;
}

/* The used rows of a group whose rest is below FASTCE_TINY_REST_F64, a
 * lane mask (rows8_stop_at_tiny_rest in vec_avx512_rows_f64.c). */
static inline int rows4_tiny_rest(const rows4 *g) {
    return _mm256_movemask_pd(_mm256_and_pd(
        _mm256_cmp_pd(g->rest, _mm256_set1_pd(FASTCE_TINY_REST_F64), _CMP_LT_OQ), g->used));
}

/* rows8_exp for doubles (FASTCE_TINY_REST_F64, entries below max - 708). */
static inline int rows4_exp(rows4 *g, ptrdiff_t C, int pick) {
    if (g->tame) {
        rows4_exp_(g, C, 1, pick);
        return 1;
    }
    rows4_exp_(g, C, 0, pick);
    const int low = rows4_tiny_rest(g);
    if (!low) return 1;
    __m256d far = _mm256_setzero_pd();
    for (ptrdiff_t j = 0; j < C; j++) far = _mm256_or_pd(far, far_mask_pd(g->v[j], g->m));
    return !(low & _mm256_movemask_pd(far));
}

/* rows8_lse (vec_avx512_rows_f64.c) for rows4. */
static inline void rows4_lse(rows4 *g) {
    const __m256d one = _mm256_set1_pd(1.0);
    const fastce256_dd L = fastce256_log1p_dd(g->rest);
    const __m256d d = _mm256_div_pd(g->rest_lo, _mm256_add_pd(one, g->rest));
    const fastce256_dd r = fastce256_fast_two_sum(L.hi, _mm256_add_pd(L.lo, d));
    g->L = r.hi;
    g->L_lo = r.lo;
}

FASTCE_ALWAYS_INLINE void softmax_out4(const rows4 *g, const rows4_shape *s, int op, const double *xb,
                               double *out, __m256d *o) {
    const ptrdiff_t C = s->C;
    if (op == 0) {
        __m256d lse = _mm256_add_pd(g->m, g->L);
        unsigned c = (unsigned)lse_cancels_pd(g->m, g->L, lse);
        _mm256_storeu_pd(out, lse);
        if (c) redo_lse_f64(xb, s->step, s->n1, C, g->m, c, out);
        return;
    }
    if (op == 1) {
        for (ptrdiff_t j = 0; j < C; j++) o[j] = _mm256_sub_pd(_mm256_sub_pd(g->v[j], g->m), g->L);
    } else {
        __m256d inv = _mm256_div_pd(_mm256_set1_pd(1.0), _mm256_add_pd(_mm256_set1_pd(1.0), g->rest));
        for (ptrdiff_t j = 0; j < C; j++) o[j] = _mm256_mul_pd(g->ex[j], inv);
    }
    rows4_store(out, o, s);
}

static ptrdiff_t softmax_rows_f64(const double *x, ptrdiff_t n, ptrdiff_t C, ptrdiff_t n1,
                                  int op, double *out) {
    if (C > FASTCE_ROWS_C) return 0; /* (the arrays below hold FASTCE_ROWS_C classes) */
    const rows4_shape sh = rows4_shape_of(C, n1);
    const ptrdiff_t step = sh.step;
    const __m256d all = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
    rows4 gs[2], *g = gs, *prev = gs + 1; /* prev: the group before g, if have */
    __m256d o[FASTCE_ROWS_C];
    for (int j = 0; j < FASTCE_ROWS_C; j++) o[j] = _mm256_setzero_pd();
    ptrdiff_t r0 = 0;
    for (int have = 0;; r0 += 4, have = 1) {
        int ok = r0 + 4 <= n && rows4_begin(g, x + r0 * step, &sh, all);
        if (have) rows4_lse(prev);
        if (ok) ok = rows4_exp(g, C, 0);
        if (have)
            softmax_out4(prev, &sh, op, x + (r0 - 4) * step,
                         op == 0 ? out + r0 - 4 : out + (r0 - 4) * step, o);
        if (!ok) break;
        rows4 *t = prev;
        prev = g;
        g = t;
    }
    return r0;
}

/* weighted_loss8 (vec_avx512_rows_f64.c) for rows4: a weighted or smoothed
 * float64 loss in double-double, rounded once. */
FASTCE_ALWAYS_INLINE __m256d weighted_loss4(const rows4 *g, __m256d wy, __m256d sw, double e,
                                            ptrdiff_t C, double w_sum, double w_lo,
                                            fastce256_dd smooth) {
    const fastce256_dd L = {g->L, g->L_lo};
    const __m256d at_max = _mm256_cmp_pd(g->xy, g->m, _CMP_EQ_OQ);
    fastce256_dd ly = fastce256_dd_add(
        fastce256_two_sum(g->m, _mm256_sub_pd(_mm256_setzero_pd(), g->xy)), L);
    ly.hi = _mm256_blendv_pd(ly.hi, L.hi, at_max);
    ly.lo = _mm256_blendv_pd(ly.lo, L.lo, at_max);
    fastce256_dd l = fastce256_dd_mul(fastce256_two_prod(wy, sw), ly);
    if (e / (double)C > 0.0) { /* (e/C underflowing: no smoothing term) */
        const fastce_dd keep = fastce_two_sum(1.0, -e), e_c = fastce_dd_div_d(e, (double)C);
        l = fastce256_dd_mul((fastce256_dd){_mm256_set1_pd(keep.hi), _mm256_set1_pd(keep.lo)}, l);
        fastce256_dd r = fastce256_dd_add(
            fastce256_fast_two_sum(smooth.hi, smooth.lo),
            fastce256_dd_mul((fastce256_dd){_mm256_set1_pd(w_sum), _mm256_set1_pd(w_lo)}, L));
        r = fastce256_dd_mul(fastce256_dd_mul(r, (fastce256_dd){sw, _mm256_setzero_pd()}),
                             (fastce256_dd){_mm256_set1_pd(e_c.hi), _mm256_set1_pd(e_c.lo)});
        l = fastce256_dd_add(l, r);
    }
    return _mm256_add_pd(l.hi, l.lo);
}

/* sparse_ce_out8 for rows4. */
FASTCE_ALWAYS_INLINE void sparse_ce_out4(const rows4 *g, const rows4_shape *sh, const double *w,
                                  const double *swb, double e, double w_sum, double w_lo, double *lossb,
                                  double *gradb, double grad_scale, __m256d *acc,
                                  __m256d *comp, __m256d *o) {
    const ptrdiff_t C = sh->C;
    const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd();
    const double e_c = e / (double)C, keep = 1.0 - e;
    const __m256d usedv = g->used, xy = g->xy;
    const __m256i yv = g->yv;
    const int precise = w || swb || e > 0.0; /* see weighted_loss4 */
    __m256d sm = zero, sm_lo = zero; /* sum_c w_c (max - x_c), compensated */
    if (e_c > 0.0)
        for (ptrdiff_t j = 0; j < C; j++) {
            const __m256d term = _mm256_mul_pd(_mm256_set1_pd(w ? w[j] : 1.0), _mm256_sub_pd(g->m, g->v[j]));
            fastce256_dd t = fastce256_two_sum(sm, term);
            sm = t.hi;
            sm_lo = _mm256_add_pd(sm_lo, t.lo);
        }
    __m256d wy = w ? _mm256_i64gather_pd(w, yv, 8) : one;
    __m256d swv = swb ? _mm256_loadu_pd(swb) : one;
    __m256d at_max = _mm256_cmp_pd(xy, g->m, _CMP_EQ_OQ);
    /* (max - x_y) + L, with max - x_y = 0 at a maximum */
    __m256d ly = _mm256_add_pd(_mm256_andnot_pd(at_max, _mm256_sub_pd(g->m, xy)), g->L);
    __m256d cy = _mm256_mul_pd(_mm256_set1_pd(keep), wy);
    __m256d l = keep == 0.0 ? zero : _mm256_mul_pd(cy, ly);
    if (e_c > 0.0)
        l = _mm256_fmadd_pd(_mm256_set1_pd(e_c), _mm256_fmadd_pd(_mm256_set1_pd(w_sum), g->L, sm), l);
    l = _mm256_and_pd(_mm256_mul_pd(l, swv), usedv);
    if (precise) { /* a finite, nonzero loss again, rounded once */
        const __m256d inf = _mm256_set1_pd(INFINITY), sign = _mm256_set1_pd(-0.0);
        __m256d p = weighted_loss4(g, wy, swv, e, C, w_sum, w_lo, (fastce256_dd){sm, sm_lo});
        __m256d take = _mm256_and_pd(
            _mm256_and_pd(_mm256_cmp_pd(_mm256_andnot_pd(sign, l), inf, _CMP_LT_OQ),
                          _mm256_cmp_pd(l, zero, _CMP_NEQ_OQ)),
            _mm256_cmp_pd(_mm256_andnot_pd(sign, p), inf, _CMP_LT_OQ));
        l = _mm256_blendv_pd(l, p, take);
    }
    kahan_add_pd(acc, comp, l);
    if (lossb) _mm256_storeu_pd(lossb, l);

    if (!gradb) return;
    __m256d inv = _mm256_div_pd(one, _mm256_add_pd(one, g->rest));
    __m256d a = _mm256_and_pd(_mm256_mul_pd(swv, _mm256_set1_pd(grad_scale)), usedv);
    __m256d sp = _mm256_mul_pd(_mm256_mul_pd(a, _mm256_add_pd(cy, _mm256_set1_pd(e_c * w_sum))), inv);
    __m256d off = _mm256_mul_pd(a, _mm256_set1_pd(-e_c));
    __m256d py = _mm256_mul_pd(g->ey, inv);
    __m256d pm1 = _mm256_blendv_pd(_mm256_sub_pd(py, one),
                                   _mm256_sub_pd(zero, _mm256_mul_pd(g->rest, inv)), at_max);
    const __m256d ecv = _mm256_set1_pd(e_c);
    __m256d wo = _mm256_add_pd(_mm256_sub_pd(_mm256_set1_pd(w_sum), wy), _mm256_set1_pd(w_lo));
    __m256d gy = _mm256_mul_pd(a, _mm256_fmadd_pd(_mm256_fmadd_pd(ecv, wy, cy), pm1,
                                                  _mm256_mul_pd(_mm256_mul_pd(ecv, wo), py)));
    __m256i jv = _mm256_setzero_si256();
    const int all_used = _mm256_movemask_pd(usedv) == 0xf; /* then the masks are identities */
    for (ptrdiff_t j = 0; j < C; j++) {
        __m256d offj = w ? _mm256_mul_pd(off, _mm256_set1_pd(w[j])) : off;
        __m256d gj = _mm256_fmadd_pd(sp, g->ex[j], offj);
        __m256d at = _mm256_castsi256_pd(_mm256_cmpeq_epi64(yv, jv));
        if (!all_used) { /* ignored rows: 0 */
            gj = _mm256_and_pd(gj, usedv);
            at = _mm256_and_pd(at, usedv);
        }
        o[j] = _mm256_blendv_pd(gj, gy, at); /* the target entry */
        jv = _mm256_add_epi64(jv, _mm256_set1_epi64x(1));
    }
    rows4_store(gradb, o, sh);
}

static ptrdiff_t sparse_ce_rows_f64(const double *x, const int64_t *y, ptrdiff_t n,
                                    ptrdiff_t C, ptrdiff_t n1, const double *w, const double *sw,
                                    int64_t ignore_index, double e, double w_sum, double w_lo,
                                    double *loss, double *grad, double grad_scale,
                                    double *total) {
    if (C > FASTCE_ROWS_C) return 0; /* (the arrays below hold FASTCE_ROWS_C classes) */
    const rows4_shape sh = rows4_shape_of(C, n1);
    const ptrdiff_t step = sh.step;
    rows4 gs[2], *g = gs, *prev = gs + 1; /* prev: the group before g, if have */
    __m256d o[FASTCE_ROWS_C];
    for (int j = 0; j < FASTCE_ROWS_C; j++) o[j] = _mm256_setzero_pd();
    __m256d acc = _mm256_setzero_pd(), comp = acc;
    ptrdiff_t r0 = 0;
    for (int have = 0;; r0 += 4, have = 1) {
        int ok = r0 + 4 <= n;
        if (ok) { /* labels: ignored rows point at class 0 and are masked at the end */
            __m256i yraw = _mm256_loadu_si256((const __m256i *)(y + r0));
            __m256i ignored = _mm256_cmpeq_epi64(yraw, _mm256_set1_epi64x(ignore_index));
            g->yv = _mm256_andnot_si256(ignored, yraw);
            ok = rows4_begin(g, x + r0 * step, &sh,
                             _mm256_castsi256_pd(_mm256_xor_si256(ignored, _mm256_set1_epi64x(-1))));
        }
        if (have) rows4_lse(prev);
        if (ok) ok = rows4_exp(g, C, grad ? 2 : 1);
        if (ok && (w || sw || e > 0.0)) /* see rows8_stop_at_tiny_rest in vec_avx512_rows_f64.c */
            ok = !rows4_tiny_rest(g);
        if (have) {
            ptrdiff_t p0 = r0 - 4;
            sparse_ce_out4(prev, &sh, w, sw ? sw + p0 : NULL, e, w_sum, w_lo, loss ? loss + p0 : NULL,
                           grad ? grad + p0 * step : NULL, grad_scale, &acc, &comp, o);
        }
        if (!ok) break;
        rows4 *t = prev;
        prev = g;
        g = t;
    }
    *total += kahan_total(acc, comp);
    return r0;
}

/* targets8_fit for rows4. */
static inline int targets4_fit(const double *tb, const rows4_shape *s) {
    const __m256d inf = _mm256_set1_pd(INFINITY), zero = _mm256_setzero_pd();
    __m256d bad = zero;
    for (ptrdiff_t j = 0; j < s->C; j++) { /* rows: the group's 4C doubles in a row */
        __m256d v = _mm256_loadu_pd(s->n1 > 1 ? tb + j * s->n1 : tb + 4 * j);
        bad = _mm256_or_pd(bad, _mm256_cmp_pd(v, inf, _CMP_NLT_UQ));  /* NaN, inf */
        bad = _mm256_or_pd(bad, _mm256_cmp_pd(v, zero, _CMP_LT_OQ)); /* negative, -inf */
    }
    return !_mm256_movemask_pd(bad);
}

/* dense_ce_out8 (vec_avx512_rows_f64.c) for rows4: the loss in double-double
 * from the four sums of fastce_dense_sums, rounded once, for every row
 * whose plain double loss is finite and nonzero; B and B_rest compensated;
 * the gradient rounded once. */
FASTCE_ALWAYS_INLINE void dense_ce_out4(const rows4 *g, const rows4_shape *sh, const double *tb,
                                        const double *w, const double *swb, double e,
                                        double *lossb, double *gradb, double grad_scale,
                                        __m256d *acc, __m256d *comp, __m256d *o) {
    const ptrdiff_t C = sh->C;
    __m256d tv[FASTCE_ROWS_C], tm = _mm256_setzero_pd(), tlo = tm, tsum = tm; /* (unused) */
    rows4_columns(tv, tb, sh, &tm, &tlo, &tsum);
    const double e_c = e / (double)C;
    const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0);
    const __m256d keep = _mm256_set1_pd(1.0 - e), ec = _mm256_set1_pd(e_c);
    const __m256d sw = swb ? _mm256_loadu_pd(swb) : one;
    __m256d A = zero, B = zero, B_c = zero, Br = zero, Br_c = zero;
    __m256d at = zero, at_c = zero, st = zero, st_c = zero, aw = zero, aw_c = zero, sv = zero, sv_c = zero;
    for (ptrdiff_t j = 0; j < C; j++) {
        const __m256d ne = _mm256_cmp_pd(g->v[j], g->m, _CMP_NEQ_UQ);
        const __m256d wj = _mm256_set1_pd(w ? w[j] : 1.0);
        const __m256d wt = _mm256_mul_pd(wj, _mm256_fmadd_pd(keep, tv[j], ec));
        const fastce256_dd d0 = fastce256_two_sum(g->m, _mm256_sub_pd(zero, g->v[j]));
        const fastce256_dd d = {_mm256_and_pd(ne, d0.hi), _mm256_and_pd(ne, d0.lo)};
        const __m256d live = _mm256_and_pd(ne, _mm256_cmp_pd(wt, zero, _CMP_NEQ_UQ));
        A = _mm256_blendv_pd(A, _mm256_fmadd_pd(wt, d.hi, A), live);
        fastce256_dd s = fastce256_two_sum(B, wt);
        B = s.hi, B_c = _mm256_add_pd(B_c, s.lo);
        s = fastce256_two_sum(Br, wt);
        Br = _mm256_blendv_pd(Br, s.hi, ne), Br_c = _mm256_add_pd(Br_c, _mm256_and_pd(ne, s.lo));
        /* sum_t += w t (exact), a_t += (w t) d by Dot2 where w t != 0 */
        const fastce256_dd p = fastce256_two_prod(wj, tv[j]);
        s = fastce256_two_sum(st, p.hi);
        st = s.hi;
        st_c = _mm256_add_pd(st_c, _mm256_add_pd(s.lo, p.lo));
        const __m256d pz = _mm256_cmp_pd(p.hi, zero, _CMP_NEQ_UQ);
        fastce256_dd q = fastce256_two_prod(p.hi, d.hi);
        s = fastce256_two_sum(at, q.hi);
        at = _mm256_blendv_pd(at, s.hi, pz);
        at_c = _mm256_add_pd(at_c, _mm256_and_pd(pz, _mm256_add_pd(_mm256_add_pd(s.lo, q.lo), _mm256_add_pd(
                                                          _mm256_mul_pd(p.hi, d.lo), _mm256_mul_pd(p.lo, d.hi)))));
        if (e_c > 0.0) { /* sum_w += w, a_w += w d where w != 0 */
            s = fastce256_two_sum(sv, wj);
            sv = s.hi;
            sv_c = _mm256_add_pd(sv_c, s.lo);
            if (w && w[j] == 0.0) continue;
            q = fastce256_two_prod(wj, d.hi);
            s = fastce256_two_sum(aw, q.hi);
            aw = s.hi;
            aw_c = _mm256_add_pd(aw_c, _mm256_add_pd(_mm256_add_pd(s.lo, q.lo), _mm256_mul_pd(wj, d.lo)));
        }
    }
    /* (an infinite sum takes no correction: its lo is NaN) */
    const __m256d inf = _mm256_set1_pd(INFINITY), sign = _mm256_set1_pd(-0.0);
    B = _mm256_blendv_pd(B, _mm256_add_pd(B, B_c), _mm256_cmp_pd(_mm256_andnot_pd(sign, B), inf, _CMP_LT_OQ));
    Br = _mm256_blendv_pd(Br, _mm256_add_pd(Br, Br_c), _mm256_cmp_pd(_mm256_andnot_pd(sign, Br), inf, _CMP_LT_OQ));
    const __m256d mass = _mm256_cmp_pd(B, zero, _CMP_NEQ_UQ); /* B != 0 */
    __m256d l = _mm256_mul_pd(_mm256_and_pd(mass, _mm256_fmadd_pd(B, g->L, A)), sw);
    { /* the exact loss */
        const fastce256_dd L = {g->L, g->L_lo};
        fastce256_dd x = fastce256_dd_add(fastce256_fast_two_sum(at, at_c),
                                          fastce256_dd_mul(fastce256_fast_two_sum(st, st_c), L));
        if (e_c > 0.0) {
            const fastce_dd k1 = fastce_two_sum(1.0, -e), ecd = fastce_dd_div_d(e, (double)C);
            fastce256_dd r = fastce256_dd_add(fastce256_fast_two_sum(aw, aw_c),
                                              fastce256_dd_mul(fastce256_fast_two_sum(sv, sv_c), L));
            x = fastce256_dd_add(
                fastce256_dd_mul((fastce256_dd){_mm256_set1_pd(k1.hi), _mm256_set1_pd(k1.lo)}, x),
                fastce256_dd_mul((fastce256_dd){_mm256_set1_pd(ecd.hi), _mm256_set1_pd(ecd.lo)}, r));
        }
        x = fastce256_dd_mul(x, (fastce256_dd){sw, zero});
        const __m256d v = _mm256_add_pd(x.hi, x.lo);
        const __m256d take = _mm256_and_pd(
            _mm256_and_pd(_mm256_cmp_pd(_mm256_andnot_pd(sign, l), inf, _CMP_LT_OQ),
                          _mm256_cmp_pd(l, zero, _CMP_NEQ_OQ)),
            _mm256_cmp_pd(_mm256_andnot_pd(sign, v), inf, _CMP_LT_OQ));
        l = _mm256_blendv_pd(l, v, take);
    }
    kahan_add_pd(acc, comp, l);
    if (lossb) _mm256_storeu_pd(lossb, l);
    if (!gradb) return;
    /* a B / (1 + rest) and a (B_rest - B rest / (1 + rest)), as dense_row */
    const __m256d den = _mm256_add_pd(one, g->rest);
    const __m256d a = _mm256_and_pd(mass, _mm256_mul_pd(sw, _mm256_set1_pd(grad_scale)));
    const __m256d sp = _mm256_div_pd(_mm256_mul_pd(a, B), den);
    const __m256d gmax = _mm256_mul_pd(a, _mm256_sub_pd(Br, _mm256_div_pd(_mm256_mul_pd(B, g->rest), den)));
    const __m256d lone = _mm256_cmp_pd(g->rest, one, _CMP_LT_OQ);
    for (ptrdiff_t j = 0; j < C; j++) {
        const __m256d eq = _mm256_cmp_pd(g->v[j], g->m, _CMP_EQ_OQ);
        const __m256d wt = _mm256_mul_pd(_mm256_set1_pd(w ? w[j] : 1.0), _mm256_fmadd_pd(keep, tv[j], ec));
        o[j] = _mm256_blendv_pd(_mm256_fmsub_pd(sp, g->ex[j], _mm256_mul_pd(a, wt)), gmax,
                                _mm256_and_pd(lone, eq));
    }
    rows4_store(gradb, o, sh);
}

/* dense_ce_rows (vec.h), float64: whole groups of 4 rows whose targets fit
 * (targets4_fit) and whose rest is not tiny (FASTCE_TINY_REST_F64); the
 * generic path takes the rest from the first group that does not. */
static ptrdiff_t dense_ce_rows_f64(const double *x, const double *t, ptrdiff_t n, ptrdiff_t C,
                                   ptrdiff_t n1, const double *w, const double *sw, double e,
                                   double *loss, double *grad, double grad_scale, double *total) {
    if (C > FASTCE_ROWS_C) return 0; /* (the arrays below hold FASTCE_ROWS_C classes) */
    const rows4_shape sh = rows4_shape_of(C, n1);
    const ptrdiff_t step = sh.step;
    const __m256d all = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
    rows4 gs[2], *g = gs, *prev = gs + 1; /* prev: the group before g, if have */
    __m256d o[FASTCE_ROWS_C];
    for (int j = 0; j < FASTCE_ROWS_C; j++) o[j] = _mm256_setzero_pd();
    __m256d acc = _mm256_setzero_pd(), comp = acc;
    ptrdiff_t r0 = 0;
    for (int have = 0;; r0 += 4, have = 1) {
        int ok = r0 + 4 <= n && targets4_fit(t + r0 * step, &sh) &&
                 rows4_begin(g, x + r0 * step, &sh, all);
        if (have) rows4_lse(prev);
        if (ok) ok = rows4_exp(g, C, 0);
        if (ok) ok = !rows4_tiny_rest(g);
        if (have) {
            const ptrdiff_t p0 = r0 - 4;
            dense_ce_out4(prev, &sh, t + p0 * step, w, sw ? sw + p0 : NULL, e,
                          loss ? loss + p0 : NULL, grad ? grad + p0 * step : NULL, grad_scale,
                          &acc, &comp, o);
        }
        if (!ok) break;
        rows4 *tmp = prev;
        prev = g;
        g = tmp;
    }
    *total += kahan_total(acc, comp);
    return r0;
}
