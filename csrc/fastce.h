/* fastce.h: the C contract of the fastce kernels.
 *
 * Plain C11, no Python. Every kernel exists once per dtype, as
 * fastce_<op>_f32 (float) and fastce_<op>_f64 (double); both are declared by
 * including fastce_api.h twice. Arithmetic inside the kernels is double for
 * both dtypes: float32 results are correctly computed, then rounded once.
 *
 * Geometry. A class-axis operand ("logits", "probs") is a C-contiguous block
 * of shape (n0, C, n1): n0 the product of the dimensions before the class
 * axis, C the number of classes, n1 the product of those after it. Element
 * (o, c, i) is x[(o*C + c)*n1 + i]. A "sample" is one (o, i) pair; samples are
 * numbered s = o*n1 + i, and per-sample arrays (labels, sample weights,
 * per-sample losses) are C-contiguous of length n0*n1.
 *
 * Threads. n_threads > 0 asks for that many OpenMP threads, 0 for what OpenMP
 * would use (omp_get_max_threads). Small inputs run serially. Every result,
 * reduced totals included, is bitwise identical for any n_threads: totals are
 * summed in double over a fixed block decomposition that depends on the
 * shape only. All kernels are thread-safe (no global state) and never print.
 */
#ifndef FASTCE_H
#define FASTCE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes returned by every kernel. */
enum fastce_status {
    FASTCE_OK = 0,
    FASTCE_ERR_LABEL = 1, /* a label outside [0, C) that is not ignore_index */
    FASTCE_ERR_NOMEM = 2  /* a scratch allocation failed; nothing was written */
};

/* 1 when the library was compiled with OpenMP, else 0. */
int fastce_openmp_enabled(void);

/* The thread count that n_threads = 0 resolves to (1 without OpenMP). */
int fastce_default_threads(void);

/* Instruction sets. fastce_best_isa() is the widest one this CPU supports
 * ("avx512", "avx2" or "scalar"); fastce_isa_supported(name) says whether
 * this build and CPU can run one; fastce_set_isa(name) switches every
 * kernel to it (0) or refuses a name this build or CPU cannot run (-1).
 * Call it before any kernel runs, not concurrently with one. fastce_isa()
 * is the one in use. */
const char *fastce_best_isa(void);
int fastce_isa_supported(const char *name);
int fastce_set_isa(const char *name);
const char *fastce_isa(void);

/* Test hook: out[i] = f(x[i]) with the current instruction set's own exp
 * (f = 0), log (1) or log1p (2), as the kernels use them. f = 3 to 7 exist
 * only in the avx2 and avx512 tables: for their sigmoid kernels' softplus
 * tail, exp of t in [-708, 0] and log1p on [0, 1] accurate to float precision
 * (3, 4; in double lanes, which the float hook rounds once), and to double
 * precision (5: exp as hi + lo, returned summed; 6: log1p of e + 0); 7: the
 * float kernels' log of a positive x to float precision in double lanes
 * (the float categorical and binary CE's, and in avx512 the float softmax
 * rows' log1p of their rest). */
enum { FASTCE_MATH_EXP = 0, FASTCE_MATH_LOG = 1, FASTCE_MATH_LOG1P = 2,
       FASTCE_MATH_EXP24 = 3, FASTCE_MATH_LOG1P24 = 4,
       FASTCE_MATH_EXP_DD = 5, FASTCE_MATH_LOG1P_DD = 6, FASTCE_MATH_LOG24 = 7 };
void fastce_vec_math_f32(int f, const float *x, float *out, ptrdiff_t n);
void fastce_vec_math_f64(int f, const double *x, double *out, ptrdiff_t n);
/* Test hook: the scalar double-double functions of ddmath.h, the same on
 * every instruction set: hi[i] + lo[i] = exp (f = 0), expm1 (1) or log1p
 * (2, of x[i] + 0, x[i] >= 0) of x[i]. */
void fastce_dd_math(int f, const double *x, double *hi, double *lo, ptrdiff_t n);

#define FASTCE_T float
#define FASTCE_FN(op) fastce_##op##_f32
#include "fastce_api.h"
#undef FASTCE_T
#undef FASTCE_FN

#define FASTCE_T double
#define FASTCE_FN(op) fastce_##op##_f64
#include "fastce_api.h"
#undef FASTCE_T
#undef FASTCE_FN

#ifdef __cplusplus
}
#endif

#endif /* FASTCE_H */
