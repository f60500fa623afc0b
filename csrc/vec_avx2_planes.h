/* vec_avx2_planes.h: the planes kernels of vec_avx512_planes.c (sparse
 * softmax cross-entropy, logsumexp, log_softmax and softmax of float
 * samples side by side with more than FASTCE_SMALL_C classes) for AVX2 +
 * FMA: the entries sparse_ce_planes_f32 and softmax_planes_f32 of the AVX2
 * table. Included by vec_avx2.c. See vec_avx512_planes.c for the scheme:
 * one pass for each group's max and rest, in chunks of classes whose max
 * and rest are merged into the running ones with one double exp, a second
 * for the outputs that need each class. Here a group is 8 samples (one
 * vector of floats, two halves of double lanes) and a block 8 groups, so
 * that each visit of a plane still reads 4 adjacent lines. A chunk is 16
 * classes too: more vectors than AVX2's 16 registers hold beside the
 * sums, but the spills cost less than twice the merges (one thread,
 * (4, 150, 64, 64): loss 0.69 G elements/s against 0.57 with chunks of 8;
 * the tiles of before ran 0.61). */

#define FASTCE_PLANES8_CHUNK 16
#define FASTCE_PLANES8_GROUPS 8

typedef struct {
    __m256 m, xy;
    __m256d m_lo, m_hi, rest_lo, rest_hi, L_lo, L_hi;
    __m256i yv;
    int used; /* lane bits */
    int far;  /* lane bits: a finite entry below its chunk's max - 87 (planes16 in vec_avx512_planes.c) */
    ptrdiff_t nr;
} planes8;

static inline __m256 plane8_load(const float *p, ptrdiff_t nr) {
    return nr == 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, tail_mask_ps(nr));
}

static inline void plane8_store(float *p, ptrdiff_t nr, __m256 v) {
    if (nr == 8) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, tail_mask_ps(nr), v);
}

/* A half of a merge (vec_avx512_planes.c); up, same: lane masks. */
FASTCE_ALWAYS_INLINE void merge4(__m256d *m, __m256d *rest, __m256d M, __m256d s, __m256d up,
                                 __m256d same) {
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d d = _mm256_sub_pd(_mm256_setzero_pd(),
                              _mm256_andnot_pd(_mm256_set1_pd(-0.0), _mm256_sub_pd(M, *m)));
    __m256d e = _mm256_blendv_pd(fastce_exp_pd(d), one, same);
    __m256d kept = _mm256_blendv_pd(*rest, s, up), scaled = _mm256_blendv_pd(s, *rest, up);
    *rest = _mm256_fmadd_pd(_mm256_add_pd(scaled, one), e, kept);
    *m = _mm256_blendv_pd(*m, M, up);
}

FASTCE_ALWAYS_INLINE void planes8_chunk(planes8 *g, const float *xb, ptrdiff_t n1, ptrdiff_t j0,
                                        const ptrdiff_t nc, ptrdiff_t nr, const int pick) {
    __m256 v[FASTCE_PLANES8_CHUNK];
    __m256 M = _mm256_set1_ps(-INFINITY);
    for (ptrdiff_t k = 0; k < nc; k++) {
        v[k] = plane8_load(xb + (j0 + k) * n1, nr);
        M = _mm256_max_ps(v[k], M);
        if (pick)
            g->xy = _mm256_blendv_ps(g->xy, v[k], _mm256_castsi256_ps(_mm256_cmpeq_epi32(
                                                      g->yv, _mm256_set1_epi32((int)(j0 + k)))));
    }
    __m256d s_lo = _mm256_setzero_pd(), s_hi = s_lo;
    __m256i ties = _mm256_set1_epi32(-1);
    __m256 far = _mm256_setzero_ps();
    for (ptrdiff_t k = 0; k < nc; k++) far = _mm256_or_ps(far, far_mask_ps(v[k], M));
    g->far |= _mm256_movemask_ps(far);
    for (ptrdiff_t k = 0; k < nc; k++) {
        __m256 eq = _mm256_cmp_ps(v[k], M, _CMP_EQ_OQ);
        __m256 term = _mm256_andnot_ps(eq, exp_diff_ps(v[k], M));
        ties = _mm256_sub_epi32(ties, _mm256_castps_si256(eq));
        s_lo = _mm256_add_pd(s_lo, lo_pd(term));
        s_hi = _mm256_add_pd(s_hi, hi_pd(term));
    }
    __m256 tf = _mm256_cvtepi32_ps(ties);
    s_lo = _mm256_add_pd(s_lo, lo_pd(tf));
    s_hi = _mm256_add_pd(s_hi, hi_pd(tf));
    __m256 up = _mm256_cmp_ps(M, g->m, _CMP_GT_OQ), same = _mm256_cmp_ps(M, g->m, _CMP_EQ_OQ);
    /* float lane masks to double ones: -1 widens to NaN, whose sign bit blends */
    merge4(&g->m_lo, &g->rest_lo, lo_pd(M), s_lo, lo_pd(up), lo_pd(same));
    merge4(&g->m_hi, &g->rest_hi, hi_pd(M), s_hi, hi_pd(up), hi_pd(same));
    g->m = _mm256_max_ps(M, g->m);
}

/* planes16_finish of vec_avx512_planes.c. */
FASTCE_ALWAYS_INLINE void planes8_finish(planes8 *g, ptrdiff_t nr, int used) {
    const __m256d inf = _mm256_set1_pd(INFINITY), tiny = _mm256_set1_pd(FASTCE_TINY_REST_F32);
    int fine = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), g->m),
                                                _mm256_set1_ps(INFINITY), _CMP_LT_OQ));
    int small = _mm256_movemask_pd(_mm256_cmp_pd(g->rest_lo, tiny, _CMP_LT_OQ)) |
                _mm256_movemask_pd(_mm256_cmp_pd(g->rest_hi, tiny, _CMP_LT_OQ)) << 4;
    fine &= (_mm256_movemask_pd(_mm256_cmp_pd(g->rest_lo, inf, _CMP_LT_OQ)) |
             _mm256_movemask_pd(_mm256_cmp_pd(g->rest_hi, inf, _CMP_LT_OQ)) << 4) &
            ~(small & g->far);
    int bad = used & ((1 << nr) - 1) & ~fine;
    g->nr = bad ? __builtin_ctz((unsigned)bad) : nr;
    g->used = used & ((1 << g->nr) - 1);
    g->L_lo = fastce_log1p_pd(_mm256_and_pd(lanes_pd(fine), g->rest_lo));
    g->L_hi = fastce_log1p_pd(_mm256_and_pd(lanes_pd(fine >> 4), g->rest_hi));
}

typedef struct {
    planes8 g[FASTCE_PLANES8_GROUPS];
    int ng, nd;
    ptrdiff_t done;
} planes8_block;

static inline ptrdiff_t group8_size(ptrdiff_t nb, int i) {
    return nb - 8 * i < 8 ? nb - 8 * i : 8;
}

/* planes_block_stats of vec_avx512_planes.c. */
FASTCE_ALWAYS_INLINE void planes8_block_stats(planes8_block *b, const float *xb, ptrdiff_t C,
                                              ptrdiff_t n1, ptrdiff_t nb, const int *used,
                                              const int pick) {
    const int ng = (int)((nb + 7) / 8);
    b->ng = ng;
    for (int i = 0; i < ng; i++) {
        planes8 *g = b->g + i;
        g->m = _mm256_set1_ps(-INFINITY);
        g->m_lo = g->m_hi = _mm256_set1_pd(-INFINITY);
        g->rest_lo = g->rest_hi = _mm256_setzero_pd();
        g->xy = _mm256_setzero_ps();
        g->far = 0;
    }
    ptrdiff_t j0 = 0;
    for (; j0 + FASTCE_PLANES8_CHUNK <= C; j0 += FASTCE_PLANES8_CHUNK)
        for (int i = 0; i < ng; i++)
            planes8_chunk(b->g + i, xb + 8 * i, n1, j0, FASTCE_PLANES8_CHUNK, group8_size(nb, i), pick);
    if (j0 < C)
        for (int i = 0; i < ng; i++)
            planes8_chunk(b->g + i, xb + 8 * i, n1, j0, C - j0, group8_size(nb, i), pick);
    b->done = 0;
    b->nd = 0;
    for (int i = 0; i < ng; i++) {
        planes8_finish(b->g + i, group8_size(nb, i), used[i]);
        b->done += b->g[i].nr;
        b->nd = i + 1;
        if (b->g[i].nr < group8_size(nb, i)) break;
    }
}

static inline __m256 plane8_exp(__m256 v, __m256 m) {
    return _mm256_blendv_ps(exp_diff_ps(v, m), _mm256_set1_ps(1.0f), _mm256_cmp_ps(v, m, _CMP_EQ_OQ));
}

static ptrdiff_t softmax_planes_f32(const float *x, ptrdiff_t n, ptrdiff_t C, ptrdiff_t n1,
                                    int op, float *out) {
    const ptrdiff_t block = 8 * FASTCE_PLANES8_GROUPS;
    int all[FASTCE_PLANES8_GROUPS];
    for (int i = 0; i < FASTCE_PLANES8_GROUPS; i++) all[i] = 0xff;
    const __m256d one = _mm256_set1_pd(1.0);
    for (ptrdiff_t r0 = 0, nb = fastce_first_block(x, 4, 32, n, block, op == 0); r0 < n;
         r0 += nb, nb = n - r0 < block ? n - r0 : block) {
        const float *xb = x + r0;
        float *ob = out + r0;
        planes8_block b;
        planes8_block_stats(&b, xb, C, n1, nb, all, 0);
        if (op == 0) {
            for (int i = 0; i < b.nd; i++) {
                const planes8 *g = b.g + i;
                __m256d lse_lo = _mm256_add_pd(g->m_lo, g->L_lo), lse_hi = _mm256_add_pd(g->m_hi, g->L_hi);
                unsigned c = ((unsigned)lse_cancels_pd(g->m_lo, g->L_lo, lse_lo) |
                              (unsigned)lse_cancels_pd(g->m_hi, g->L_hi, lse_hi) << 4) &
                             ((1u << g->nr) - 1u);
                plane8_store(ob + 8 * i, g->nr, to_ps(lse_lo, lse_hi));
                if (c) redo_lse_f32(xb + 8 * i, 1, n1, C, g->m, c, ob + 8 * i);
            }
        } else {
            __m256 inv[FASTCE_PLANES8_GROUPS];
            for (int i = 0; i < b.nd; i++)
                inv[i] = to_ps(_mm256_div_pd(one, _mm256_add_pd(one, b.g[i].rest_lo)),
                               _mm256_div_pd(one, _mm256_add_pd(one, b.g[i].rest_hi)));
            for (ptrdiff_t j = 0; j < C; j++)
                for (int i = 0; i < b.nd; i++) {
                    const planes8 *g = b.g + i;
                    __m256 v = plane8_load(xb + 8 * i + j * n1, g->nr), o;
                    if (op == 1) /* (x_j - max) - lse_rel, in double */
                        o = to_ps(_mm256_sub_pd(_mm256_sub_pd(lo_pd(v), g->m_lo), g->L_lo),
                                  _mm256_sub_pd(_mm256_sub_pd(hi_pd(v), g->m_hi), g->L_hi));
                    else
                        o = _mm256_mul_ps(plane8_exp(v, g->m), inv[i]);
                    plane8_store(ob + 8 * i + j * n1, g->nr, o);
                }
        }
        if (b.done < nb) return r0 + b.done;
    }
    return n;
}

/* planes16_grad of vec_avx512_planes.c. */
typedef struct {
    __m256 sp;
    __m256d c_lo, c_hi, inv_lo, inv_hi, at_lo, at_hi;
} planes8_grad;

static ptrdiff_t sparse_ce_planes_f32(const float *x, const int64_t *y, ptrdiff_t n, ptrdiff_t C,
                                      ptrdiff_t n1, const float *w, const float *sw,
                                      int64_t ignore_index, float *loss, float *grad,
                                      double grad_scale, double *total) {
    const ptrdiff_t block = 8 * FASTCE_PLANES8_GROUPS;
    const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd();
    fastce_acc acc = {0.0, 0.0}; /* in sample order: see fastce_acc_in_order */
    ptrdiff_t r0 = 0;
    for (ptrdiff_t nb = fastce_first_block(x, 4, 32, n, block, 1); r0 < n;
         r0 += nb, nb = n - r0 < block ? n - r0 : block) {
        const float *xb = x + r0;
        planes8_block b;
        int used[FASTCE_PLANES8_GROUPS];
        for (int i = 0; i < (nb + 7) / 8; i++) {
            const ptrdiff_t nr = group8_size(nb, i);
            int64_t yb[8];
            for (int k = 0; k < 8; k++) yb[k] = k < nr ? y[r0 + 8 * i + k] : ignore_index;
            __m256i u;
            b.g[i].yv = labels8(yb, ignore_index, &u);
            used[i] = _mm256_movemask_ps(_mm256_castsi256_ps(u));
        }
        planes8_block_stats(&b, xb, C, n1, nb, used, 1);
        planes8_grad q[FASTCE_PLANES8_GROUPS];
        for (int i = 0; i < b.nd; i++) {
            const planes8 *g = b.g + i;
            const ptrdiff_t s0 = r0 + 8 * i;
            const __m256d u_lo = lanes_pd(g->used), u_hi = lanes_pd(g->used >> 4);
            /* l = sw * w_y * ((max - x_y) + L), max - x_y = 0 at a maximum */
            __m256 at_max = _mm256_cmp_ps(g->xy, g->m, _CMP_EQ_OQ);
            __m256 wy = _mm256_set1_ps(1.0f);
            if (w)
                wy = _mm256_mask_i32gather_ps(wy, w, g->yv, lanes_ps(g->used), 4);
            __m256 swv = sw ? plane8_load(sw + s0, g->nr) : _mm256_set1_ps(1.0f);
            __m256d ly_lo = _mm256_add_pd(_mm256_andnot_pd(lo_pd(at_max), _mm256_sub_pd(g->m_lo, lo_pd(g->xy))),
                                          g->L_lo);
            __m256d ly_hi = _mm256_add_pd(_mm256_andnot_pd(hi_pd(at_max), _mm256_sub_pd(g->m_hi, hi_pd(g->xy))),
                                          g->L_hi);
            __m256d l_lo = _mm256_and_pd(u_lo, _mm256_mul_pd(_mm256_mul_pd(lo_pd(wy), ly_lo), lo_pd(swv)));
            __m256d l_hi = _mm256_and_pd(u_hi, _mm256_mul_pd(_mm256_mul_pd(hi_pd(wy), ly_hi), hi_pd(swv)));
            double lv[8];
            _mm256_storeu_pd(lv, l_lo);
            _mm256_storeu_pd(lv + 4, l_hi);
            fastce_acc_in_order(&acc, lv, (int)g->nr);
            if (loss) plane8_store(loss + s0, g->nr, to_ps(l_lo, l_hi));
            if (grad) {
                planes8_grad *p = q + i;
                const __m256d gs = _mm256_set1_pd(grad_scale);
                p->inv_lo = _mm256_div_pd(one, _mm256_add_pd(one, g->rest_lo));
                p->inv_hi = _mm256_div_pd(one, _mm256_add_pd(one, g->rest_hi));
                p->c_lo = _mm256_and_pd(u_lo, _mm256_mul_pd(_mm256_mul_pd(lo_pd(swv), gs), lo_pd(wy)));
                p->c_hi = _mm256_and_pd(u_hi, _mm256_mul_pd(_mm256_mul_pd(hi_pd(swv), gs), hi_pd(wy)));
                p->sp = to_ps(_mm256_mul_pd(p->c_lo, p->inv_lo), _mm256_mul_pd(p->c_hi, p->inv_hi));
                p->at_lo = lo_pd(at_max);
                p->at_hi = hi_pd(at_max);
            }
        }
        if (grad)
            for (ptrdiff_t j = 0; j < C; j++)
                for (int i = 0; i < b.nd; i++) {
                    const planes8 *g = b.g + i;
                    const planes8_grad *p = q + i;
                    __m256 v = plane8_load(xb + 8 * i + j * n1, g->nr);
                    __m256 ex = plane8_exp(v, g->m);
                    __m256 gj = _mm256_and_ps(lanes_ps(g->used), _mm256_mul_ps(p->sp, ex)); /* ignored: 0 */
                    int at = _mm256_movemask_ps(_mm256_castsi256_ps(
                                 _mm256_cmpeq_epi32(g->yv, _mm256_set1_epi32((int)j)))) & g->used;
                    if (at) { /* the target entries, in double */
                        __m256d pm1_lo = _mm256_blendv_pd(_mm256_fmsub_pd(lo_pd(ex), p->inv_lo, one),
                                                          _mm256_sub_pd(zero, _mm256_mul_pd(g->rest_lo, p->inv_lo)),
                                                          p->at_lo);
                        __m256d pm1_hi = _mm256_blendv_pd(_mm256_fmsub_pd(hi_pd(ex), p->inv_hi, one),
                                                          _mm256_sub_pd(zero, _mm256_mul_pd(g->rest_hi, p->inv_hi)),
                                                          p->at_hi);
                        gj = _mm256_blendv_ps(gj, to_ps(_mm256_mul_pd(p->c_lo, pm1_lo),
                                                        _mm256_mul_pd(p->c_hi, pm1_hi)),
                                              lanes_ps(at));
                    }
                    plane8_store(grad + r0 + 8 * i + j * n1, g->nr, gj);
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
 * argmax_planes of vec_avx512_planes.c: one pass, blocks of 4 groups (two
 * adjacent lines a visit; the state of 4 groups, 12 vectors, fits in the
 * registers). */
#define FASTCE_ARGMAX8_GROUPS 4

#define FASTCE_ARGMAX_PLANES_AVX2(SUF, TYPE, W, VEC, L, LOAD, MASKLOAD, TAIL, CAST)             \
    FASTCE_ALWAYS_INLINE void argmax_block_##SUF(const TYPE *xb, ptrdiff_t nb, ptrdiff_t C,     \
                                                 ptrdiff_t n1, const int ng, int32_t *k) {      \
        VEC m[FASTCE_ARGMAX8_GROUPS], at[FASTCE_ARGMAX8_GROUPS], nan[FASTCE_ARGMAX8_GROUPS];    \
        ptrdiff_t nr[FASTCE_ARGMAX8_GROUPS];                                                    \
        for (int i = 0; i < ng; i++) {                                                          \
            nr[i] = nb - L * i < L ? nb - L * i : L;                                            \
            m[i] = nr[i] == L ? LOAD(xb + L * i) : MASKLOAD(xb + L * i, TAIL(nr[i]));           \
            at[i] = _mm256_setzero_##W();                                                       \
            nan[i] = _mm256_cmp_##W(m[i], m[i], _CMP_UNORD_Q);                                  \
        }                                                                                       \
        for (ptrdiff_t j = 1; j < C; j++) {                                                     \
            const VEC jv = CAST(j);                                                             \
            for (int i = 0; i < ng; i++) {                                                      \
                const TYPE *p = xb + L * i + j * n1;                                            \
                VEC v = nr[i] == L ? LOAD(p) : MASKLOAD(p, TAIL(nr[i]));                        \
                VEC first_nan = _mm256_andnot_##W(nan[i], _mm256_cmp_##W(v, v, _CMP_UNORD_Q));  \
                VEC up = _mm256_andnot_##W(nan[i], _mm256_cmp_##W(v, m[i], _CMP_GT_OQ));        \
                m[i] = _mm256_blendv_##W(m[i], v, up);                                          \
                at[i] = _mm256_blendv_##W(at[i], jv, _mm256_or_##W(up, first_nan));            \
                nan[i] = _mm256_or_##W(nan[i], first_nan);                                      \
            }                                                                                   \
        }                                                                                       \
        for (int i = 0; i < ng; i++) {                                                          \
            int32_t idx[L];                                                                     \
            argmax_lanes_##SUF(at[i], idx);                                                     \
            for (ptrdiff_t l = 0; l < nr[i]; l++) k[L * i + l] = idx[l];                        \
        }                                                                                       \
    }                                                                                           \
    static void argmax_planes_##SUF(const TYPE *x, ptrdiff_t n, ptrdiff_t C, ptrdiff_t n1,      \
                                    int32_t *k) {                                               \
        const ptrdiff_t block = L * FASTCE_ARGMAX8_GROUPS;                                      \
        ptrdiff_t r0 = 0;                                                                       \
        for (; r0 + block <= n; r0 += block)                                                    \
            argmax_block_##SUF(x + r0, block, C, n1, FASTCE_ARGMAX8_GROUPS, k + r0);            \
        if (r0 < n) argmax_block_##SUF(x + r0, n - r0, C, n1, (int)((n - r0 + L - 1) / L), k + r0); \
    }

/* The indices, kept in float (double) lanes as exact small integers: the
 * blends then need no integer instructions. */
static inline void argmax_lanes_f32(__m256 at, int32_t *idx) {
    _mm256_storeu_si256((__m256i *)idx, _mm256_cvttps_epi32(at));
}
static inline void argmax_lanes_f64(__m256d at, int32_t *idx) {
    _mm_storeu_si128((__m128i *)idx, _mm256_cvttpd_epi32(at));
}
static inline __m256 index_ps(ptrdiff_t j) { return _mm256_set1_ps((float)j); }
static inline __m256d index_pd(ptrdiff_t j) { return _mm256_set1_pd((double)j); }

FASTCE_ARGMAX_PLANES_AVX2(f32, float, ps, __m256, 8, _mm256_loadu_ps, _mm256_maskload_ps,
                          tail_mask_ps, index_ps)
FASTCE_ARGMAX_PLANES_AVX2(f64, double, pd, __m256d, 4, _mm256_loadu_pd, _mm256_maskload_pd,
                          tail_mask_pd, index_pd)
#undef FASTCE_ARGMAX_PLANES_AVX2
