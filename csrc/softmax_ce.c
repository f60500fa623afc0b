/* softmax_ce.c: softmax cross-entropy (class indices or dense targets), the
 * NLL loss, and the label check both share. */
#define FASTCE_TEMPLATE "softmax_ce_impl.h"
#include "instantiate.h"
