/* dispatch.c: picks the table of row primitives once, when the library is
 * loaded: the widest instruction set the CPU supports, unless FASTCE_ISA
 * names another (fastce_set_isa, called by the Python layer at import). */
#include <string.h>

#include "fastce.h"
#include "internal.h"
#include "vec.h"

const fastce_vec_ops *fastce_vec = &fastce_vec_scalar;

#ifdef FASTCE_HAVE_AVX2_TABLE
static int have_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* The AVX-512 table, made once from the AVX2 one when the library is
 * loaded (build_tables below), before any caller can race on it. */
static fastce_vec_ops avx512_table;

static const fastce_vec_ops *avx512(void) {
    if (!have_avx2() || !__builtin_cpu_supports("avx512f") ||
        !__builtin_cpu_supports("avx512dq") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512vl"))
        return NULL;
    if (!avx512_table.name) {
        avx512_table = fastce_vec_avx2;
        fastce_vec_avx512_fill(&avx512_table);
    }
    return &avx512_table;
}

__attribute__((constructor)) static void build_tables(void) { (void)avx512(); }
#endif

/* The table called name, if this CPU can run it. */
static const fastce_vec_ops *table_for(const char *name) {
    if (!strcmp(name, "scalar")) return &fastce_vec_scalar;
#ifdef FASTCE_HAVE_AVX2_TABLE
    if (!strcmp(name, "avx2")) return have_avx2() ? &fastce_vec_avx2 : NULL;
    if (!strcmp(name, "avx512")) return avx512();
#endif
    return NULL;
}

/* Widest first. */
static const char *const isas[] = {"avx512", "avx2", "scalar"};

const char *fastce_best_isa(void) {
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++)
        if (table_for(isas[i])) return isas[i];
    return "scalar";
}

int fastce_isa_supported(const char *name) { return table_for(name) != NULL; }

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

void fastce_dd_math(int f, const double *x, double *hi, double *lo, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) {
        fastce_dd r = f == 0   ? fastce_dd_exp(x[i])
                      : f == 1 ? fastce_dd_expm1(x[i])
                               : fastce_dd_log1p(fastce_dd_of(x[i]));
        hi[i] = r.hi;
        lo[i] = r.lo;
    }
}
