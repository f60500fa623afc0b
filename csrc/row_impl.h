/* row_impl.h: per-row statistics shared by the softmax-family kernels.
 * Template: included once per dtype by instantiate.h. */

/* Max, first argmax and rest = sum_{j != arg} exp(x_j - max) of the row
 * x[0], x[n1], ..., x[(C-1)*n1]. Keeping the argmax term exp(0) = 1 out of
 * the sum is what lets a confident row keep its tiny loss: l = log1p(rest)
 * instead of lse - x_y, which rounds to 0. A row of only -inf (all classes
 * masked) has max -inf and rest 0; NaN anywhere makes max or rest NaN. */
static inline fastce_row LOCAL(row_stats)(const T *x, ptrdiff_t n1,
                                          ptrdiff_t C) {
    fastce_row r = {(double)x[0], 0.0, 0};
    for (ptrdiff_t j = 1; j < C; j++) {
        double v = (double)x[j * n1];
        if (v > r.max) {
            r.max = v;
            r.arg = j;
        }
    }
    if (r.max == -INFINITY) return r;
    fastce_acc rest = {0.0, 0.0};
    for (ptrdiff_t j = 0; j < r.arg; j++)
        fastce_acc_add(&rest, fastce_exp_diff((double)x[j * n1], r.max));
    for (ptrdiff_t j = r.arg + 1; j < C; j++)
        fastce_acc_add(&rest, fastce_exp_diff((double)x[j * n1], r.max));
    r.rest = fastce_acc_value(rest);
    return r;
}

/* Probability of class j given the row statistics (0 for masked classes). */
static inline double LOCAL(row_prob)(const T *x, ptrdiff_t n1, ptrdiff_t j,
                                     fastce_row r) {
    double num = j == r.arg ? 1.0 : fastce_exp_diff((double)x[j * n1], r.max);
    return num / (1.0 + r.rest);
}
