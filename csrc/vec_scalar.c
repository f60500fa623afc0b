/* vec_scalar.c: the portable table of row primitives (any compiler, any CPU). */
#define FASTCE_TEMPLATE "vec_scalar_impl.h"
#include "instantiate.h"

#include "vec.h"

const fastce_vec_ops fastce_vec_scalar = {
    "scalar",
    scalar_row_max_f32,        scalar_row_max_f64,
    scalar_row_rest_f32,       scalar_row_rest_f64,
    scalar_row_rest_store_f32, scalar_row_rest_store_f64,
    scalar_sigmoid_ce_f32,     scalar_sigmoid_ce_f64,
    scalar_binary_ce_f32,      scalar_binary_ce_f64,
    scalar_math_f32,           scalar_math_f64,
    NULL,                      NULL,
    NULL,                      NULL,
    NULL,
    scalar_categorical_rows_f32, scalar_categorical_rows_f64,
    scalar_scale_row_f32,      scalar_scale_row_f64,
    scalar_log_softmax_row_f32, scalar_log_softmax_row_f64,
    NULL,                      NULL, /* lse_dd_rest: the loop in softmax_impl.h */
    NULL,                      NULL, /* row_argmax: fastce_argmax in internal.h */
    NULL,                      NULL, /* entropy_row: the loop in metrics_impl.h */
    NULL,                      NULL, /* entropy_terms: the same loop */
    NULL,                      NULL, /* sparse_ce_planes: tiles or the strided loops */
    NULL,                      NULL, /* softmax_planes: the same */
    NULL,                      NULL, /* argmax_planes: fastce_argmax in internal.h */
    NULL,                      NULL, /* row_wdiff: the loops in softmax_ce_impl.h */
    NULL,                      NULL, /* dense_ce_rows: dense_row in softmax_ce_impl.h */
    NULL,                      NULL, /* row_dense_dot2: the loop in dense_row */
};
