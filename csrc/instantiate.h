/* instantiate.h: compiles the template named by FASTCE_TEMPLATE twice, with
 * T = float (suffix f32) and T = double (suffix f64). A kernel file is
 *     #define FASTCE_TEMPLATE "foo_impl.h"
 *     #include "instantiate.h"
 * Templates see T, SUF, PUBLIC(op), LOCAL(op), and the row helpers. */
#include "internal.h"

#define T float
#define SUF f32
#include "row_impl.h"
#include "periodic_impl.h"
#include FASTCE_TEMPLATE
#undef T
#undef SUF

#define T double
#define SUF f64
#include "row_impl.h"
#include "periodic_impl.h"
#include FASTCE_TEMPLATE
#undef T
#undef SUF
