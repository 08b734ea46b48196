/*
 * matmul.h — Y = X · Wᵀ for a weight matrix in its stored type, over the worker pool.
 *
 * Shapes (ggml convention): W has ne[0] = k (row length, contiguous) and ne[1] = n rows;
 * X is [m][k] float (m tokens), Y is [m][n] float, Y[i][j] = Σ_l W[j][l]·X[i][l].
 * The activations are first converted to the weight type's vec_dot_type (F16, Q8_0,
 * Q8_1, Q8_K — as ggml_compute_forward_mul_mat does), then each thread computes a
 * contiguous range of output rows j for all m tokens with the type's vec_dot kernel.
 */
#ifndef QK_MATMUL_H
#define QK_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "threads.h"
#include "types.h"

typedef struct qk_matmul_scratch {
    void *buf;     /* activations converted to vec_dot_type */
    size_t size;
} qk_matmul_scratch;

/* Returns 0, or -1 when scratch memory cannot be grown. */
int qk_matmul(qk_pool *pool, qk_matmul_scratch *scratch, qk_type wtype, const void *w, int64_t k,
              int64_t n, const float *x, int64_t m, float *y);

void qk_matmul_scratch_free(qk_matmul_scratch *s);

#endif
