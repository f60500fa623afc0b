/* periodic_impl.h: elementwise kernels whose weights repeat with period P
 * (a pos_weight of shape (C,) against (N, C) logits has P = C). Template:
 * included once per dtype by instantiate.h. */

/* Weights of a shorter period are tiled to at least this many entries, so
 * that every run is long enough to vectorise. */
#define FASTCE_MIN_RUN 256

/* A run: elements [i, i + len), whose weights are w[0..len), q[0..len). */
typedef double (*LOCAL(run_fn))(const void *ctx, ptrdiff_t i, ptrdiff_t len,
                                const T *w, const T *q);

/* Calls run over [begin, end) in runs that stay inside one period of the
 * P-long weights w and q (either may be NULL), and returns the compensated
 * sum of what the runs return. Element i uses w[i % P] and q[i % P]. */
static inline double LOCAL(periodic_runs)(LOCAL(run_fn) run, const void *ctx,
                                          ptrdiff_t begin, ptrdiff_t end,
                                          const T *w, const T *q, ptrdiff_t P) {
    fastce_acc acc = {0.0, 0.0};
    if (!w && !q) {
        fastce_acc_add(&acc, run(ctx, begin, end - begin, NULL, NULL));
        return fastce_acc_value(acc);
    }
    T w_tiled[2 * FASTCE_MIN_RUN], q_tiled[2 * FASTCE_MIN_RUN];
    ptrdiff_t L = P;
    if (P < FASTCE_MIN_RUN) { /* tile: w_tiled[k] = w[k % P] */
        L = P * ((FASTCE_MIN_RUN + P - 1) / P);
        for (ptrdiff_t k = 0; k < L; k++) {
            if (w) w_tiled[k] = w[k % P];
            if (q) q_tiled[k] = q[k % P];
        }
        w = w ? w_tiled : NULL;
        q = q ? q_tiled : NULL;
    }
    for (ptrdiff_t i = begin; i < end;) {
        ptrdiff_t k = i % P, len = L - k;
        if (len > end - i) len = end - i;
        fastce_acc_add(&acc, run(ctx, i, len, w ? w + k : NULL, q ? q + k : NULL));
        i += len;
    }
    return fastce_acc_value(acc);
}
