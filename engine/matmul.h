/*
 * matmul.h — Y = X · Wᵀ for a weight matrix in its stored type, over the worker pool.
 *
 * Shapes (ggml convention): W has ne[0] = k (row length, contiguous) and ne[1] = n rows;
 * X is [m][k] float (m tokens), Y is [m][n] float, Y[i][j] = Σ_l W[j][l]·X[i][l].
 *
 * Numerics follow ggml_compute_forward_mul_mat: the activations are first converted to
 * the weight type's vec_dot_type (F16, Q8_0, Q8_1, Q8_K), so the products are those of
 * llama.cpp whichever path runs:
 *   - few tokens (m < QK_MATMUL_BLAS_MIN_M): each thread takes a contiguous range of
 *     output rows and calls the type's vec_dot kernel for every token;
 *   - many tokens: the converted activations are expanded back to F32 (exactly the values
 *     vec_dot would see), each thread dequantizes tiles of W to F32 and calls OpenBLAS
 *     cblas_sgemm (single-threaded; our pool provides the parallelism).
 * The two paths differ only in float summation order.
 */
#ifndef QK_MATMUL_H
#define QK_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "threads.h"
#include "types.h"

/* Token count from which the dequantize + sgemm path is used (measured, see bench/). */
#define QK_MATMUL_BLAS_MIN_M 32

/* Scratch memory reused across calls (grown on demand, owned by the caller). */
typedef struct qk_matmul_scratch {
    void *xq;        /* activations in vec_dot_type */
    size_t xq_size;
    float *xf;       /* activations expanded to F32 (sgemm path) */
    size_t xf_size;
    float *wf;       /* per-thread F32 weight tiles (sgemm path) */
    size_t wf_size;
} qk_matmul_scratch;

/* Returns 0, or -1 when scratch memory cannot be grown. */
int qk_matmul(qk_pool *pool, qk_matmul_scratch *scratch, qk_type wtype, const void *w, int64_t k,
              int64_t n, const float *x, int64_t m, float *y);

void qk_matmul_scratch_free(qk_matmul_scratch *s);

#endif
