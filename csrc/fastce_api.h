/* fastce_api.h: the kernel prototypes, written once against FASTCE_T and
 * FASTCE_FN and included twice by fastce.h (float, then double). Do not
 * include this file directly. Shapes and numbering: see fastce.h.
 *
 * Common output arguments of the loss kernels (each may be NULL):
 *   loss   per-sample losses, length n (samples or elements), each already
 *          multiplied by its weights;
 *   total  receives the sum of the per-sample losses, accumulated in double;
 *   grad   the gradient, the shape of the logits (or probs); it may be the
 *          logits pointer itself (in-place), but may not overlap otherwise.
 *          Every entry is multiplied by grad_scale (1/denominator for a mean).
 * Returns FASTCE_OK or FASTCE_ERR_NOMEM (then nothing was written).
 */

/* Labels and the sparse denominator. Checks that every y[s] (s < n) lies in
 * [0, C) or, when has_ignore, equals ignore_index. On the first bad position
 * returns FASTCE_ERR_LABEL and stores it in *bad (nothing else is written).
 * Otherwise, when denominator is not NULL, stores
 *   sum over non-ignored s of sw[s] * w[y[s]]
 * (w: C class weights, sw: n sample weights; NULL means all ones), and,
 * when weights_finite is not NULL, whether every class weight is finite
 * (1 without w; 2 when they are but the sum of their magnitudes
 * overflows) in *weights_finite, whatever the labels. Serial. */
int FASTCE_FN(check_labels)(const int64_t *y, ptrdiff_t n, ptrdiff_t C,
                            int has_ignore, int64_t ignore_index,
                            const FASTCE_T *w, const FASTCE_T *sw,
                            double *denominator, ptrdiff_t *bad, int *weights_finite);

/* logsumexp over the class axis: out[s] for each of the n0*n1 samples.
 * A row of only -inf gives -inf. */
int FASTCE_FN(logsumexp)(const FASTCE_T *x, ptrdiff_t n0, ptrdiff_t C,
                         ptrdiff_t n1, FASTCE_T *out, int n_threads);

/* log_softmax / softmax over the class axis; out has the shape of x and may
 * be x itself. A row of only -inf (every class masked) gives -inf / 0. */
int FASTCE_FN(log_softmax)(const FASTCE_T *x, ptrdiff_t n0, ptrdiff_t C,
                           ptrdiff_t n1, FASTCE_T *out, int n_threads);
int FASTCE_FN(softmax)(const FASTCE_T *x, ptrdiff_t n0, ptrdiff_t C,
                       ptrdiff_t n1, FASTCE_T *out, int n_threads);

/* Softmax cross-entropy with class-index targets (labels already checked by
 * check_labels). Per sample, with lse the row's logsumexp, l_c = lse - x_c:
 *   loss = sw * ((1-e) * w[y] * l_y + (e/C) * sum_c w[c] * l_c),
 * 0 for ignored samples (their logits are never read, their gradient is 0).
 * w: C class weights or NULL; sw: n0*n1 sample weights or NULL; e: label
 * smoothing in [0, 1]. */
int FASTCE_FN(softmax_ce_sparse)(const FASTCE_T *x, const int64_t *y,
                                 ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1,
                                 const FASTCE_T *w, const FASTCE_T *sw,
                                 int64_t ignore_index, double e,
                                 FASTCE_T *loss, double *total,
                                 FASTCE_T *grad, double grad_scale,
                                 int n_threads);

/* Softmax cross-entropy with dense targets t (the shape of x). With
 * t'_c = (1-e)*t_c + e/C:  loss = sw * sum_c w[c] * t'_c * l_c, where a term
 * with t'_c == 0 is 0 even when l_c is inf. */
int FASTCE_FN(softmax_ce_dense)(const FASTCE_T *x, const FASTCE_T *t,
                                ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1,
                                const FASTCE_T *w, const FASTCE_T *sw, double e,
                                FASTCE_T *loss, double *total,
                                FASTCE_T *grad, double grad_scale,
                                int n_threads);

/* Negative log-likelihood of log-probabilities lp (labels already checked):
 * loss = -sw * w[y] * lp[y], 0 for ignored samples. With grad_zeroed, grad
 * already holds zeros (a fresh zeroed allocation, whose pages the OS
 * supplies zeroed): only the target entries are written; otherwise the
 * kernel zero-fills each row first. */
int FASTCE_FN(nll)(const FASTCE_T *lp, const int64_t *y,
                   ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1,
                   const FASTCE_T *w, const FASTCE_T *sw, int64_t ignore_index,
                   FASTCE_T *loss, double *total,
                   FASTCE_T *grad, double grad_scale, int grad_zeroed,
                   int n_threads);

/* Sigmoid cross-entropy, elementwise over n elements seen as n/P rows of P
 * (P divides n). w and q (pos_weight) are NULL or length P, applied to
 * element k as w[k % P], q[k % P]:
 *   loss = w * (q*z*softplus(-x) + (1-z)*softplus(x)). */
int FASTCE_FN(sigmoid_ce)(const FASTCE_T *x, const FASTCE_T *z, ptrdiff_t n,
                          ptrdiff_t P, const FASTCE_T *w, const FASTCE_T *q,
                          FASTCE_T *loss, double *total,
                          FASTCE_T *grad, double grad_scale, int n_threads);

/* Categorical cross-entropy of probabilities p, clipped to pc in
 * [eps, 1-eps]. Sparse (labels checked): loss = -sw*log(pc[y]); dense:
 * loss = -sw * sum_c t_c*log(pc_c), a zero t_c contributing 0. The gradient
 * with respect to p is -sw*t_c/pc_c (the clipped value in the denominator). */
int FASTCE_FN(categorical_ce_sparse)(const FASTCE_T *p, const int64_t *y,
                                     ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1,
                                     const FASTCE_T *sw, double eps,
                                     FASTCE_T *loss, double *total,
                                     FASTCE_T *grad, double grad_scale,
                                     int n_threads);
int FASTCE_FN(categorical_ce_dense)(const FASTCE_T *p, const FASTCE_T *t,
                                    ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1,
                                    const FASTCE_T *sw, double eps,
                                    FASTCE_T *loss, double *total,
                                    FASTCE_T *grad, double grad_scale,
                                    int n_threads);

/* Binary cross-entropy of probabilities, elementwise (w as in sigmoid_ce):
 * loss = -w * (z*log(pc) + (1-z)*log(1-pc)), pc = clip(p, eps, 1-eps). */
int FASTCE_FN(binary_ce)(const FASTCE_T *p, const FASTCE_T *z, ptrdiff_t n,
                         ptrdiff_t P, const FASTCE_T *w, double eps,
                         FASTCE_T *loss, double *total,
                         FASTCE_T *grad, double grad_scale, int n_threads);

/* Number of samples whose argmax over the class axis (first index on ties,
 * a NaN counting as the maximum like numpy.argmax) equals the label y[s]
 * (sparse, t == NULL) or the argmax of the dense target row t (y == NULL). */
int FASTCE_FN(accuracy)(const FASTCE_T *x, const int64_t *y,
                        const FASTCE_T *t, ptrdiff_t n0, ptrdiff_t C,
                        ptrdiff_t n1, double *count, int n_threads);

/* Per-sample entropy -sum_c p_c*log(p_c) (q == NULL) or Kullback-Leibler
 * divergence sum_c p_c*log(p_c/q_c); a term with p_c == 0 is 0. */
int FASTCE_FN(entropy)(const FASTCE_T *p, const FASTCE_T *q, ptrdiff_t n0,
                       ptrdiff_t C, ptrdiff_t n1, FASTCE_T *out,
                       int n_threads);
