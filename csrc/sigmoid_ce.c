/* sigmoid_ce.c: sigmoid cross-entropy from logits, with weight and pos_weight. */
#define FASTCE_TEMPLATE "sigmoid_ce_impl.h"
#include "instantiate.h"
