/* parallel.c: the deterministic block-parallel driver and thread queries. */
#include <stdlib.h>

#include "internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Work units per block, and the total below which a call stays serial. */
#define FASTCE_BLOCK_WORK ((ptrdiff_t)1 << 15)
#define FASTCE_SERIAL_BELOW ((ptrdiff_t)1 << 17)

int fastce_openmp_enabled(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int fastce_default_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* Block b of the items [0, n), per_block items a block. */
static inline double run_block(fastce_block_fn fn, const void *ctx, ptrdiff_t b,
                               ptrdiff_t per_block, ptrdiff_t n) {
    ptrdiff_t begin = b * per_block;
    return fn(ctx, begin, begin + per_block < n ? begin + per_block : n);
}

int fastce_run_blocks_min(fastce_block_fn fn, const void *ctx, ptrdiff_t n,
                          ptrdiff_t work_per_item, ptrdiff_t min_per_block, int n_threads,
                          double *total) {
    if (work_per_item < 1) work_per_item = 1;
    ptrdiff_t per_block = FASTCE_BLOCK_WORK / work_per_item;
    if (per_block < min_per_block) per_block = min_per_block;
    if (per_block < 1) per_block = 1;
    ptrdiff_t n_blocks = (n + per_block - 1) / per_block;
    if (n_blocks == 0) {
        if (total) *total = 0.0;
        return FASTCE_OK;
    }
    double one_sum; /* a call of one block needs no allocation */
    double *sums = n_blocks == 1 ? &one_sum : malloc((size_t)n_blocks * sizeof(double));
    if (!sums) return FASTCE_ERR_NOMEM;

    int nt = n_threads > 0 ? n_threads : fastce_default_threads();
    /* The work estimate may overflow only for absurd shapes; clamp first. */
    if (n_blocks == 1 || n < FASTCE_SERIAL_BELOW / work_per_item) nt = 1;
    if ((ptrdiff_t)nt > n_blocks) nt = (int)n_blocks;
    (void)nt;

    /* Blocks are handed out in chunks, about 16 per thread, to whichever
     * thread is free: on a machine whose other work holds one core, the
     * other thread takes more chunks, where a static split would leave it
     * waiting (measured: 2 threads slower than 1 with one core busy). Each
     * block's sum lands in its own slot, added in block order below, so the
     * result does not depend on which thread ran which block. */
    ptrdiff_t chunk = n_blocks / ((ptrdiff_t)nt * 16);
    if (chunk < 1) chunk = 1;
    (void)chunk;
    if (nt == 1) { /* not even a team of one: its cost shows on small calls */
        for (ptrdiff_t b = 0; b < n_blocks; b++)
            sums[b] = run_block(fn, ctx, b, per_block, n);
    } else {
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, chunk) num_threads(nt)
#endif
        for (ptrdiff_t b = 0; b < n_blocks; b++)
            sums[b] = run_block(fn, ctx, b, per_block, n);
    }

    if (total) {
        fastce_acc acc = {0.0, 0.0};
        for (ptrdiff_t b = 0; b < n_blocks; b++) fastce_acc_add(&acc, sums[b]);
        *total = fastce_acc_value(acc);
    }
    if (sums != &one_sum) free(sums);
    return FASTCE_OK;
}
