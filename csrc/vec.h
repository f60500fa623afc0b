/* vec.h: the vector row primitives the kernels are built on, one table per
 * instruction set. dispatch.c picks the table once, at load time, from what
 * the CPU supports (or from FASTCE_ISA); every kernel then calls through
 * fastce_vec. All rows here are contiguous (unit stride). */
#ifndef FASTCE_VEC_H
#define FASTCE_VEC_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;
    /* Largest entry of x[0..C), C >= 1. (A NaN may or may not win; the
     * row_rest that follows turns any NaN in the row into a NaN.) */
    double (*row_max_f32)(const float *x, ptrdiff_t C);
    double (*row_max_f64)(const double *x, ptrdiff_t C);
    /* rest = sum over x_j != m of exp(x_j - m), plus (#{x_j == m} - 1):
     * the row's normaliser relative to its max, minus the 1 of one maximum,
     * so that lse = m + log1p(rest) with no cancellation. m is row_max, finite
     * or +inf. NaN anywhere in the row gives NaN. lo: NULL, or (float64)
     * where the rest's low part goes: rest + *lo is then the sum of the
     * terms before any rounding of it or of the terms' corrections (each
     * term within about a third of an ulp, libm's exp on the portable
     * path half an ulp; row_impl.h's lse_rel_dd says why). */
    double (*row_rest_f32)(const float *x, ptrdiff_t C, double m, double *lo);
    double (*row_rest_f64)(const double *x, ptrdiff_t C, double m, double *lo);
    /* row_rest that also stores e_j = exp(x_j - m) (1 at a maximum) in
     * e[0..C); e may be x itself. m must be finite. */
    double (*row_rest_store_f32)(const float *x, ptrdiff_t C, double m, float *e, double *lo);
    double (*row_rest_store_f64)(const double *x, ptrdiff_t C, double m, double *e, double *lo);
    /* Sigmoid cross-entropy over n contiguous elements (fastce_api.h); w, q
     * NULL or n long; loss, grad NULL or n long. Returns the sum of losses. */
    double (*sigmoid_ce_f32)(const float *x, const float *z, const float *w,
                             const float *q, ptrdiff_t n, float *loss,
                             float *grad, double grad_scale);
    double (*sigmoid_ce_f64)(const double *x, const double *z, const double *w,
                             const double *q, ptrdiff_t n, double *loss,
                             double *grad, double grad_scale);
    /* Binary cross-entropy of probabilities over n contiguous elements,
     * clipped to [lo, hi] (fastce_api.h); w NULL or n long. */
    double (*binary_ce_f32)(const float *p, const float *z, const float *w,
                            ptrdiff_t n, double lo, double hi, float *loss,
                            float *grad, double grad_scale);
    double (*binary_ce_f64)(const double *p, const double *z, const double *w,
                            ptrdiff_t n, double lo, double hi, double *loss,
                            double *grad, double grad_scale);
    /* out[i] = f(x[i]) for f = FASTCE_MATH_EXP, _LOG or _LOG1P: the
     * vectorised functions themselves, for the accuracy tests. */
    void (*math_f32)(int f, const float *x, float *out, ptrdiff_t n);
    void (*math_f64)(int f, const double *x, double *out, ptrdiff_t n);
    /* Sparse softmax cross-entropy of n samples of C <= FASTCE_SMALL_C
     * classes (C <= FASTCE_ROWS_C when n1 == 1), several at a time (the
     * loss terms of softmax_ce_sparse in fastce_api.h; labels already checked; w_sum + w_lo the sum of the
     * class weights). The samples are the rows of a contiguous (n, C) block
     * (n1 == 1), or n side by side with their classes n1 apart (n1 > 1:
     * sample k's class j at x[k + j*n1], a run of one leading index of an
     * (n0, C, n1) array); grad is laid out as x, and y, sw
     * and loss hold one entry a sample. Handles every sample it can and
     * returns how many leading ones it did (the caller does the rest one by
     * one); adds their losses to *total. NULL where an instruction set has
     * none. */
    ptrdiff_t (*sparse_ce_rows_f32)(const float *x, const int64_t *y, ptrdiff_t n,
                                    ptrdiff_t C, ptrdiff_t n1, const float *w, const float *sw,
                                    int64_t ignore_index, double e, double w_sum, double w_lo,
                                    float *loss, float *grad, double grad_scale,
                                    double *total);
    ptrdiff_t (*sparse_ce_rows_f64)(const double *x, const int64_t *y, ptrdiff_t n,
                                    ptrdiff_t C, ptrdiff_t n1, const double *w, const double *sw,
                                    int64_t ignore_index, double e, double w_sum, double w_lo,
                                    double *loss, double *grad, double grad_scale,
                                    double *total);
    /* logsumexp (op 0, out n long), log_softmax (1) or softmax (2, out laid
     * out as x) of n samples of C <= FASTCE_SMALL_C classes (laid out as in
     * sparse_ce_rows; C <= FASTCE_ROWS_C when n1 == 1), several at a time;
     * returns how many leading samples
     * it did. NULL where an instruction set has none. */
    ptrdiff_t (*softmax_rows_f32)(const float *x, ptrdiff_t n, ptrdiff_t C, ptrdiff_t n1,
                                  int op, float *out);
    ptrdiff_t (*softmax_rows_f64)(const double *x, ptrdiff_t n, ptrdiff_t C, ptrdiff_t n1,
                                  int op, double *out);
    /* Labels: returns how many of y[0..n) are not ignore_index (when
     * has_ignore) and stores in *n_bad how many of those are outside
     * [0, C). NULL where an instruction set has none. */
    ptrdiff_t (*count_labels)(const int64_t *y, ptrdiff_t n, int64_t C, int has_ignore,
                              int64_t ignore_index, ptrdiff_t *n_bad);
    /* Categorical cross-entropy of rows [0, n) of a contiguous (n, C) block
     * (C >= 0): loss_s = -sw_s * sum_j t_sj * log(clip(p_sj, lo, hi)), a
     * zero t_sj contributing 0 even when p_sj is NaN (a NaN p is not
     * clipped); stored in loss[s] when loss is not NULL. When grad is not
     * NULL also stores grad_sj = -sw_s * grad_scale * t_sj / clip(p_sj) (0
     * where t_sj == 0); grad may be p or t (each element is read before it
     * is written). sw NULL or n long; 0 < lo <= hi <= 1. Each row's sum is
     * compensated in double (the float version may compute log to float
     * accuracy, relative error < 2^-30: its terms round to float once); the
     * double version keeps every product t_sj * log exactly and rounds
     * -sw_s * (row sum) once (fastce_cat_term_add and fastce_cat_loss in
     * internal.h), so that only the logs' errors remain.
     * Returns the compensated sum of the losses, added in row order; or,
     * the vector tables, when there is neither loss nor sw (the total
     * alone), -(the compensated sum of all n*C terms), rounded once: no row
     * sums: 1.5x float32, 1.35x float64 at 65536 x 10 on one thread. */
    double (*categorical_rows_f32)(const float *p, const float *t, ptrdiff_t n,
                                   ptrdiff_t C, const float *sw, double lo, double hi,
                                   float *loss, float *grad, double grad_scale);
    double (*categorical_rows_f64)(const double *p, const double *t, ptrdiff_t n,
                                   ptrdiff_t C, const double *sw, double lo, double hi,
                                   double *loss, double *grad, double grad_scale);
    /* The second pass over a contiguous row of C entries:
     * scale_row: out[j] = scale * e[j] + (w ? w[j] : 1) * (offset * (t ? t[j]
     * : 1) + shift), computed in double (the vector tables fuse the outer
     * and inner products into FMAs, so a float64 entry where the terms
     * cancel may differ from the scalar table's) and rounded once to the
     * type (out may be e); shift -0.0 adds nothing (offset + -0.0 is
     * offset, -0.0 included, where + 0.0 would turn -0.0 into +0.0);
     * log_softmax_row: out[j] = (x[j] - m) - lse_rel, in double, rounded once. */
    void (*scale_row_f32)(const float *e, ptrdiff_t C, double scale, double offset,
                          const float *t, double shift, const float *w, float *out);
    void (*scale_row_f64)(const double *e, ptrdiff_t C, double scale, double offset,
                          const double *t, double shift, const double *w, double *out);
    void (*log_softmax_row_f32)(const float *x, ptrdiff_t C, double m, double lse_rel,
                                float *out);
    void (*log_softmax_row_f64)(const double *x, ptrdiff_t C, double m, double lse_rel,
                                double *out);
    /* The rest of a row whose logsumexp cancels, in double-double (the loop
     * of lse_cancelled in softmax_impl.h, lane by lane): over the x_j but
     * one maximum (x_j == m), exp(x_j - m) with the difference exact as
     * d.hi + d.lo, exp(d.hi) in double-double times (1 + d.lo + d.lo^2/2);
     * terms with d.hi < -745 left out. acc[0..3) receives the sum as
     * fastce_dd_acc's three words. NULL in the scalar table (the loop
     * runs as written there). */
    void (*lse_dd_rest_f32)(const float *x, ptrdiff_t C, double m, double acc[3]);
    void (*lse_dd_rest_f64)(const double *x, ptrdiff_t C, double m, double acc[3]);
    /* First index of the largest of x[0..C), C >= 1, numpy.argmax's
     * answer: the first NaN when there is one, 0 for a row of -inf. NULL in
     * the scalar table (fastce_argmax_f32/f64 in internal.h). */
    ptrdiff_t (*row_argmax_f32)(const float *x, ptrdiff_t C);
    ptrdiff_t (*row_argmax_f64)(const double *x, ptrdiff_t C);
    /* The sum behind entropy and kl_divergence (fastce_entropy in
     * fastce_api.h): sum_j p_j log(p_j / q_j) over a contiguous row
     * (C >= 1), or sum_j p_j log(p_j) when q is NULL; a term with p_j == 0 is 0 (even
     * where q_j is 0 or NaN), otherwise log follows libm (log(0) = -inf,
     * log(inf) = inf, log of a negative or NaN = NaN). Float rows: terms in
     * double with a float-accuracy log (relative error < 2^-30), plain
     * double lanes; double rows: the logs of fastce's double functions,
     * the ratio's rounding taken back (fastce_log_ratio in internal.h),
     * every product's rounding error kept and the sum compensated, so that
     * only the logs' own errors remain. NULL in the scalar table (the loop
     * in metrics_impl.h). */
    double (*entropy_row_f32)(const float *p, const float *q, ptrdiff_t C);
    double (*entropy_row_f64)(const double *p, const double *q, ptrdiff_t C);
    /* The terms of entropy_row, one by one, over n contiguous elements
     * (rows of fewer than FASTCE_ENTROPY_ROW_MIN classes, taken as one run:
     * a vector row of 10 would be mostly horizontal sums): term[i] and,
     * for double rows, term_lo[i], the product's rounding error (term_lo
     * is not written for float rows). NULL in the scalar table. */
    void (*entropy_terms_f32)(const float *p, const float *q, ptrdiff_t n, double *term,
                              double *term_lo);
    void (*entropy_terms_f64)(const double *p, const double *q, ptrdiff_t n, double *term,
                              double *term_lo);
    /* sparse_ce_rows (without smoothing) and softmax_rows for samples side
     * by side (n1 > 1) with more classes than those hold (C >
     * FASTCE_SMALL_C): the class vectors of a group do not fit in
     * registers, and the kernels stream them from the C planes instead.
     * NULL where an instruction set (or dtype) has none (the
     * tables that list no value for them). */
    ptrdiff_t (*sparse_ce_planes_f32)(const float *x, const int64_t *y, ptrdiff_t n,
                                      ptrdiff_t C, ptrdiff_t n1, const float *w,
                                      const float *sw, int64_t ignore_index, float *loss,
                                      float *grad, double grad_scale, double *total);
    ptrdiff_t (*sparse_ce_planes_f64)(const double *x, const int64_t *y, ptrdiff_t n,
                                      ptrdiff_t C, ptrdiff_t n1, const double *w,
                                      const double *sw, int64_t ignore_index, double *loss,
                                      double *grad, double grad_scale, double *total);
    ptrdiff_t (*softmax_planes_f32)(const float *x, ptrdiff_t n, ptrdiff_t C, ptrdiff_t n1,
                                    int op, float *out);
    ptrdiff_t (*softmax_planes_f64)(const double *x, ptrdiff_t n, ptrdiff_t C, ptrdiff_t n1,
                                    int op, double *out);
    /* row_argmax of n samples side by side (n1 > 1: sample k's class j at
     * x[k + j*n1], C <= 2^24), into k[0..n): numpy.argmax's answer for each
     * (the first NaN, else the first maximum). NULL where an instruction set
     * has none. */
    void (*argmax_planes_f32)(const float *x, ptrdiff_t n, ptrdiff_t C, ptrdiff_t n1,
                              int32_t *k);
    void (*argmax_planes_f64)(const double *x, ptrdiff_t n, ptrdiff_t C, ptrdiff_t n1,
                              int32_t *k);
    /* The sums of a contiguous row of C entries with max m (not -inf)
     * that dense targets t and label smoothing need (for smoothing, t is
     * the class weights; NULL: ones, so that with dense out[2] and out[3]
     * count the entries): out[0] + out[1] = the sum over
     * x_j != m of t_j * (m - x_j), each product rounded in double, the
     * sum compensated (out[1] the small part). With dense, a zero t_j
     * gives 0 even against an infinite difference (a dense target's
     * term), out[2] = the sum of t_j over x_j != m (compensated), out[3]
     * over x_j == m, and the return value the first j with x_j == m (-1
     * if none); without, those are 0, 0 and -1. With dense, t and w (class
     * weights, else NULL), t_j w_j stands for t_j (rounded in double: exact
     * for float rows). NULL in the scalar table (the loops in
     * softmax_ce_impl.h). */
    ptrdiff_t (*row_wdiff_f32)(const float *x, const float *t, const float *w, ptrdiff_t C,
                               double m, int dense, double out[4]);
    ptrdiff_t (*row_wdiff_f64)(const double *x, const double *t, const double *w, ptrdiff_t C,
                               double m, int dense, double out[4]);
    /* Softmax cross-entropy with dense targets (softmax_ce_dense in
     * fastce_api.h: w NULL or the C class weights, sw NULL or n long, e
     * the label smoothing) of n samples of C <= FASTCE_SMALL_C classes
     * (C <= FASTCE_ROWS_C when n1 == 1), laid out as in
     * sparse_ce_rows, t and grad laid out as x, several at
     * a time. wt_j = w_j ((1-e) t_j + e/C); float rows: the loss's sums
     * in double lanes (their terms exact or nearly, as in row_wdiff);
     * double rows: the loss in double-double, as fastce_dense_sums and
     * fastce_dense_loss_value (internal.h) have it, rounded once, and
     * the sums B of the gradient compensated, as dense_row has them; the
     * gradient rounded once. Leaves what sparse_ce_rows leaves, a sample
     * whose targets are not all finite and (double) one whose rest is
     * below FASTCE_TINY_REST_F64; returns how many leading samples it did
     * and adds their losses to *total. NULL where an instruction set has
     * none. */
    ptrdiff_t (*dense_ce_rows_f32)(const float *x, const float *t, ptrdiff_t n, ptrdiff_t C,
                                   ptrdiff_t n1, const float *w, const float *sw, double e,
                                   float *loss, float *grad, double grad_scale, double *total);
    ptrdiff_t (*dense_ce_rows_f64)(const double *x, const double *t, ptrdiff_t n, ptrdiff_t C,
                                   ptrdiff_t n1, const double *w, const double *sw, double e,
                                   double *loss, double *grad, double grad_scale,
                                   double *total);
    /* The exact sums of a dense row (contiguous, C entries, max m finite,
     * w the class weights or NULL for ones): as fastce_dense_sums
     * (internal.h), out[0] + out[1] = a_t, out[2] + out[3] = sum_t, and
     * with smoothing out[4] + out[5] = a_w (else 0); sum_w is the sum of
     * the weights (C without). Double rows only (the
     * f32 slot stays NULL: a float loss needs no more than row_wdiff);
     * NULL where an instruction set has none (scalar: the loop in
     * softmax_ce_impl.h). */
    void (*row_dense_dot2_f32)(const float *x, const float *t, const float *w, ptrdiff_t C,
                               double m, int smoothing, double out[6]);
    void (*row_dense_dot2_f64)(const double *x, const double *t, const double *w, ptrdiff_t C,
                               double m, int smoothing, double out[6]);
} fastce_vec_ops;

/* Rows of at least this many classes take entropy_row; shorter ones
 * entropy_terms and a scalar sum per row. */
#define FASTCE_ENTROPY_ROW_MIN 16

/* Class counts up to which the row-parallel kernels (sparse_ce_rows,
 * softmax_rows, dense_ce_rows) take samples in every layout. */
#define FASTCE_SMALL_C 32

/* Above FASTCE_SMALL_C, sparse_ce_rows, softmax_rows and dense_ce_rows
 * also take contiguous rows (n1 == 1) of up to this many
 * classes (row_impl.h: rows_kernel_layout; their arrays
 * hold this many class vectors, 16 KB of a group's stack in AVX-512;
 * AVX-512 compiles one copy of them for any C in that range, beside one
 * per C up to FASTCE_SMALL_C). One row at a time, such rows were bound
 * by each row's chain of dependent steps (a horizontal max, the exps, a
 * horizontal sum, log1p) and by vectors mostly empty at the row's end: at
 * 33 classes a float32 loss ran at a third of its speed at 32
 * (bench/class_counts.py). Up to 128 classes the kernels were faster
 * than the rows one at a time (float32, 1.3x at 100 and 128 classes,
 * AVX-512); at 200 about as fast. Samples side by side with more than
 * FASTCE_SMALL_C classes go to the planes kernels instead. */
#define FASTCE_ROWS_C 128

/* Where exp(x_j - max) is a normal number: x_j - max >= -87 (float) or
 * -708 (double). The vector exps take shortcuts there (no clamps, one
 * scaling by 2^n), and below it a float term would be subnormal. */
#define FASTCE_TAME_F32 -87.0f
#define FASTCE_TAME_F64 -708.0

/* A vector table's scale_row: one inlined BODY per operand present (t, w;
 * BODY's last two arguments say which), so that no loop tests a pointer. */
#define FASTCE_SCALE_ROW_BY_OPERANDS(BODY, e, C, scale, offset, t, shift, w, out)         \
    do {                                                                             \
        if ((t) && (w)) BODY(e, C, scale, offset, t, shift, w, out, 1, 1);           \
        else if (t) BODY(e, C, scale, offset, t, shift, w, out, 1, 0);               \
        else if (w) BODY(e, C, scale, offset, t, shift, w, out, 0, 1);               \
        else BODY(e, C, scale, offset, t, shift, w, out, 0, 0);                      \
    } while (0)

/* The vector categorical_rows take a row (or the run of n*C elements) in
 * chunks of FASTCE_CAT_CHUNK elements, each either dense or, where it
 * starts with FASTCE_CAT_ZERO_LEAD zero targets (one-hot rows), skipping
 * blocks of zero targets, whose terms and gradient are 0 (even for a NaN
 * p): a one-hot target of 1000 classes then costs a log per row, not per
 * element, and the dense loop stays free of the test (inside it, the test
 * cost soft targets 5-14%). */
#define FASTCE_CAT_CHUNK 1024
#define FASTCE_CAT_ZERO_LEAD 64

/* A float row kernel computes its terms exp(x_j - max) in float lanes,
 * where one below 2^-126 is subnormal and rounds to a multiple of 2^-149.
 * Of a rest >= 2^-100 those roundings (32 at most, each under 2^-149) are
 * below 2^-44: nothing in a float result. A row with a smaller rest and a
 * finite entry below max - 87, whose terms may be such roundings alone
 * (they made a 32-class loss 14 ulp off), goes to the generic path, whose
 * long-row passes take those terms in double. */
#define FASTCE_TINY_REST_F32 7.888609052210118e-31 /* 2^-100 */

/* In double, a rest below 2^-968 may be made of subnormal terms (below
 * 2^-1022), which keep few digits: the generic path takes such a row's
 * rest again with its terms scaled (deep_rest in row_impl.h), and the
 * double row kernels leave it to that path when their group had a term
 * that may be subnormal (an entry below max - 708). */
#define FASTCE_TINY_REST_F64 0x1p-968

/* The table in use; never NULL once the library is loaded. */
extern const fastce_vec_ops *fastce_vec;

extern const fastce_vec_ops fastce_vec_scalar;
#if defined(__x86_64__) || defined(_M_X64)
#define FASTCE_HAVE_AVX2_TABLE 1
extern const fastce_vec_ops fastce_vec_avx2;
/* AVX-512 (F, DQ, BW, VL): the AVX2 table with the entries vec_avx512.c
 * has put over it. */
#define FASTCE_HAVE_AVX512_TABLE 1
void fastce_vec_avx512_fill(fastce_vec_ops *t);
/* The few-class row kernels (sparse_ce_rows, softmax_rows, dense_ce_rows)
 * in AVX-512: float ones from vec_avx512_rows.c, double ones from
 * vec_avx512_rows_f64.c; called by fastce_vec_avx512_fill. */
void fastce_vec_avx512_fill_rows(fastce_vec_ops *t);
void fastce_vec_avx512_fill_rows_f64(fastce_vec_ops *t);
/* The many-class side-by-side kernels (sparse_ce_planes, softmax_planes):
 * float ones and argmax_planes from vec_avx512_planes.c, double ones from
 * vec_avx512_planes_f64.c (AVX2 has float ones only, in
 * vec_avx2_planes.h); called by fastce_vec_avx512_fill. */
void fastce_vec_avx512_fill_planes(fastce_vec_ops *t);
void fastce_vec_avx512_fill_planes_f64(fastce_vec_ops *t);
/* The entries of vec_avx512_pointwise.c (sigmoid_ce, binary_ce,
 * categorical_rows), put over t by fastce_vec_avx512_fill. */
void fastce_vec_avx512_fill_pointwise(fastce_vec_ops *t);
#endif

#endif /* FASTCE_VEC_H */
