/* vec_scalar_impl.h: the portable row primitives (plain C and libm), the
 * reference every other instruction set is tested against. Template; the
 * row loops themselves are the strided ones of row_impl.h at unit stride. */

static double LOCAL(scalar_row_max)(const T *x, ptrdiff_t C) {
    return LOCAL(strided_row_max)(x, 1, C);
}

static double LOCAL(scalar_row_rest)(const T *x, ptrdiff_t C, double m, double *lo) {
    return LOCAL(strided_row_rest)(x, 1, C, m, lo);
}

static double LOCAL(scalar_row_rest_store)(const T *x, ptrdiff_t C, double m, T *e,
                                           double *lo) {
    fastce_acc rest = {0.0, 0.0};
    double ties = -1.0, terms_lo = 0.0;
    for (ptrdiff_t j = 0; j < C; j++) {
        double v = (double)x[j];
        if (v == m) {
            ties += 1.0;
            e[j] = (T)1;
        } else {
            double t_lo = 0.0, ej = lo ? fastce_exp_diff_dd(v, m, &t_lo) : fastce_exp_diff(v, m);
            fastce_acc_add(&rest, ej);
            terms_lo += t_lo;
            e[j] = (T)ej;
        }
    }
    if (!lo) return fastce_acc_value(rest) + ties;
    return fastce_rest_dd(rest.s, rest.c + terms_lo, ties, lo);
}

static double LOCAL(scalar_sigmoid_ce)(const T *x, const T *z, const T *w,
                                       const T *q, ptrdiff_t n, T *loss,
                                       T *grad, double grad_scale) {
    fastce_acc acc = {0.0, 0.0};
    for (ptrdiff_t i = 0; i < n; i++) {
        double l, g;
        fastce_sigmoid_ce_one((double)x[i], (double)z[i], w ? (double)w[i] : 1.0,
                              q ? (double)q[i] : 1.0, &l, grad ? &g : NULL);
        if (loss) loss[i] = (T)l;
        if (grad) grad[i] = (T)(grad_scale * g);
        fastce_acc_add(&acc, l);
    }
    return fastce_acc_value(acc);
}

static double LOCAL(scalar_binary_ce)(const T *p, const T *z, const T *w,
                                      ptrdiff_t n, double lo, double hi, T *loss,
                                      T *grad, double grad_scale) {
    fastce_acc acc = {0.0, 0.0};
    for (ptrdiff_t i = 0; i < n; i++) {
        double l, g;
        fastce_binary_ce_one((double)p[i], (double)z[i], w ? (double)w[i] : 1.0, lo, hi,
                             sizeof(T) == sizeof(double), &l, grad ? &g : NULL);
        if (loss) loss[i] = (T)l;
        if (grad) grad[i] = (T)(grad_scale * g);
        fastce_acc_add(&acc, l);
    }
    return fastce_acc_value(acc);
}

/* A row's sum of t_j * log(pc_j) as a compensated sum: plain terms for
 * float rows (a loss computed in double and rounded to float once), exact
 * products for double rows (fastce_cat_term_add). */
static fastce_acc LOCAL(scalar_categorical_row)(const T *p, const T *t, ptrdiff_t C,
                                                double lo, double hi, T *grad, double a) {
    fastce_acc acc = {0.0, 0.0};
    for (ptrdiff_t j = 0; j < C; j++) {
        double tj = (double)t[j];
        if (tj == 0.0) { /* no term (even for a NaN p), no log: one-hot rows */
            if (grad) grad[j] = (T)0;
            continue;
        }
        double pc = fastce_clip((double)p[j], lo, hi);
        if (sizeof(T) == sizeof(double)) fastce_cat_term_add(&acc, tj, log(pc));
        else fastce_acc_add(&acc, fastce_term(tj, log(pc)));
        if (grad) grad[j] = (T)(-a * tj / pc);
    }
    return acc;
}

static double LOCAL(scalar_categorical_rows)(const T *p, const T *t, ptrdiff_t n,
                                             ptrdiff_t C, const T *sw, double lo,
                                             double hi, T *loss, T *grad,
                                             double grad_scale) {
    fastce_acc acc = {0.0, 0.0};
    for (ptrdiff_t s = 0; s < n; s++) {
        double w = sw ? (double)sw[s] : 1.0;
        fastce_acc row = LOCAL(scalar_categorical_row)(p + s * C, t + s * C, C, lo, hi,
                                                       grad ? grad + s * C : NULL,
                                                       w * grad_scale);
        double l;
        if (sizeof(T) == sizeof(double)) {
            l = fastce_cat_loss(row.s, row.c, w);
        } else {
            l = 0.0 - fastce_acc_value(row);
            l *= w;
        }
        if (loss) loss[s] = (T)l;
        fastce_acc_add(&acc, l);
    }
    return fastce_acc_value(acc);
}

static void LOCAL(scalar_math)(int f, const T *x, T *out, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) {
        double v = (double)x[i];
        out[i] = (T)(f == FASTCE_MATH_EXP ? exp(v) : f == FASTCE_MATH_LOG ? log(v) : log1p(v));
    }
}

static void LOCAL(scalar_scale_row)(const T *e, ptrdiff_t C, double scale, double offset,
                                    const T *t, double shift, const T *w, T *out) {
    for (ptrdiff_t j = 0; j < C; j++)
        out[j] = (T)(scale * (double)e[j] + (w ? (double)w[j] : 1.0) *
                                                (offset * (t ? (double)t[j] : 1.0) + shift));
}

static void LOCAL(scalar_log_softmax_row)(const T *x, ptrdiff_t C, double m, double lse_rel,
                                          T *out) {
    /* (x_j - max) - lse_rel: two non-positive terms (x_j - max is 0 at a
     * finite maximum by itself) */
    for (ptrdiff_t j = 0; j < C; j++) out[j] = (T)(((double)x[j] - m) - lse_rel);
}
