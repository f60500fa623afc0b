/* dispatch.c: picks the table of row primitives once, when the library is
 * loaded: the widest instruction set the CPU supports, unless FASTCE_ISA
 * names another (fastce_set_isa, called by the Python layer at import). */
#include <string.h>

#include "fastce.h"
#include "vec.h"

const fastce_vec_ops *fastce_vec = &fastce_vec_scalar;

/* Tables in order of preference; a NULL-terminated list. */
static const fastce_vec_ops *table_for(const char *name) {
    if (!strcmp(name, "scalar")) return &fastce_vec_scalar;
#ifdef FASTCE_HAVE_AVX2_TABLE
    if (!strcmp(name, "avx2")) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            return &fastce_vec_avx2;
    }
#endif
    return NULL;
}

const char *fastce_best_isa(void) {
    return table_for("avx2") ? "avx2" : "scalar";
}

int fastce_set_isa(const char *name) {
    const fastce_vec_ops *t = table_for(name);
    if (!t) return -1;
    fastce_vec = t;
    return 0;
}

const char *fastce_isa(void) { return fastce_vec->name; }

void fastce_vec_math_f32(int f, const float *x, float *out, ptrdiff_t n) {
    fastce_vec->math_f32(f, x, out, n);
}

void fastce_vec_math_f64(int f, const double *x, double *out, ptrdiff_t n) {
    fastce_vec->math_f64(f, x, out, n);
}
