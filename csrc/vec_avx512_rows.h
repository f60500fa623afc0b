/* vec_avx512_rows.h: what the two units of the AVX-512 row kernels share,
 * vec_avx512_rows.c (float) and vec_avx512_rows_f64.c (double): the widths
 * each kernel has a copy for. The float and double kernels are two units so
 * that a build compiles them side by side: as one file they took two
 * minutes of a build of two and a half. */
#ifndef FASTCE_VEC_AVX512_ROWS_H
#define FASTCE_VEC_AVX512_ROWS_H

#include "vec.h"

/* The kernels run with C a constant: one copy per width (the entries of
 * the table switch on C), whose class loops the compiler unrolls, keeping
 * the class vectors in registers (measured: 15-30% fewer cycles than one
 * copy for every C, at C = 10 and 16, forward and gradient). And one copy
 * for each layout (side: samples side by side), so that the rows' code is
 * what it was before that layout came (one copy for both made a float32
 * log_softmax at C = 16 8% slower). Contiguous rows of FASTCE_SMALL_C <
 * C <= FASTCE_ROWS_C take one more copy, for any C (vec.h). */
#define FASTCE_WIDTHS_(F)                                                                  \
    F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11) F(12) F(13) F(14) F(15) F(16)  \
    F(17) F(18) F(19) F(20) F(21) F(22) F(23) F(24) F(25) F(26) F(27) F(28) F(29) F(30)     \
    F(31) F(32)
_Static_assert(FASTCE_SMALL_C == 32, "FASTCE_WIDTHS_ lists the widths 1 to FASTCE_SMALL_C");
_Static_assert(FASTCE_ROWS_C >= FASTCE_SMALL_C && FASTCE_ROWS_C % 16 == 0,
               "store16 and store8 read whole blocks of 16 (8) class vectors");
/* The calls that the copy for any C takes: contiguous rows past the widths. */
#define FASTCE_ANY_C_(C, n1) ((n1) == 1 && (C) > FASTCE_SMALL_C && (C) <= FASTCE_ROWS_C)

#endif /* FASTCE_VEC_AVX512_ROWS_H */
