/* prob_ce.c: categorical and binary cross-entropy of clipped probabilities. */
#define FASTCE_TEMPLATE "prob_ce_impl.h"
#include "instantiate.h"
