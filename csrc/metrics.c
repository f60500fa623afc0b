/* metrics.c: accuracy, entropy and Kullback-Leibler divergence. */
#define FASTCE_TEMPLATE "metrics_impl.h"
#include "instantiate.h"
