/* softmax.c: logsumexp, log_softmax and softmax over a class axis. */
#define FASTCE_TEMPLATE "softmax_impl.h"
#include "instantiate.h"
