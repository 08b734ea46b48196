/*
 * matmul.h — Y = X · Wᵀ for a weight matrix in its stored type, over the worker pool.
 *
 * Shapes (ggml convention): W has ne[0] = k (row length, contiguous) and ne[1] = n rows;
 * X is [m][k] float (m tokens), Y is [m][n] float, Y[i][j] = Σ_l W[j][l]·X[i][l].
 *
 * Numerics follow ggml_compute_forward_mul_mat: the activations are first converted to
 * the weight type's vec_dot_type (F16, Q8_0, Q8_1, Q8_K), so the products are those of
 * llama.cpp whichever path runs:
 *   - vec_dot path (few tokens): each thread takes a contiguous range of output rows and
 *     calls the type's vec_dot kernel for every token, reading each weight row once;
 *   - sgemm path (many tokens): the converted activations are expanded back to F32
 *     (exactly the values vec_dot would see), each thread dequantizes tiles of W (up to
 *     QK_MATMUL_TILE_FLOATS floats) to F32 (F32 weights are used in place) and calls
 *     OpenBLAS cblas_sgemm (single-threaded; our pool provides the parallelism) — or,
 *     where the CPU has AVX2 (qk_gemm_f32_level), each thread runs qkit's own FP32 GEMM
 *     (gemm_f32.h) on tiles of whole weight strips, which converts W panel by panel
 *     itself and does not depend on the OpenBLAS build or OPENBLAS_CORETYPE;
 *   - gemm path (many tokens, types with a gemm kernel: the K-quants and Q4_0, Q4_1,
 *     Q5_0, Q5_1, Q8_0, IQ4_NL, SIMD builds only): the activations are also rewritten by
 *     the type's gemm_act where it has one; each thread decodes tiles of W with the type's
 *     gemm_pack (integer codes and scales, rows interleaved in groups) and runs the type's
 *     integer gemm kernel over all m converted activation rows; every element is the
 *     type's scalar vec_dot bit for bit.
 * The paths differ only in float summation order. Every call is ONE pool job: the
 * threads convert the activations together, meet at a barrier, then compute their rows
 * (or, with qk_matmul_scratch.same_x, start from the previous call's conversion).
 * Which path runs is chosen per weight type and token count from measurements on the
 * target machine (qk_matmul_blas_min_m; reproduce them with qk-matmul-bench).
 */
#ifndef QK_MATMUL_H
#define QK_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "threads.h"
#include "types.h"

/* Which path a call takes (qk_matmul_scratch.force_path). */
typedef enum qk_matmul_path {
    QK_MATMUL_AUTO = 0,    /* by type and m (qk_matmul_blas_min_m) — the default */
    QK_MATMUL_VEC_DOT = 1, /* vec_dot for every (row, token) */
    QK_MATMUL_SGEMM = 2,   /* dequantized tiles + cblas_sgemm, or qkit's FP32 GEMM (gemm_f32.h) */
    QK_MATMUL_GEMM = 3,    /* integer GEMM (types with a gemm kernel in the type table only) */
} qk_matmul_path;

/* Scratch memory reused across calls (grown on demand, owned by the caller; zero it
 * before first use). */
typedef struct qk_matmul_scratch {
    void *xq;        /* activations in vec_dot_type */
    size_t xq_size;
    float *xf;       /* activations expanded to F32 (sgemm path) */
    size_t xf_size;
    float *wf;       /* per-thread F32 weight tiles, or gemm_f32 scratch (sgemm path) */
    size_t wf_size;
    void *wp;        /* per-thread packed weight tiles (gemm path; used 64-byte aligned) */
    size_t wp_size;
    /* Set by the caller before a call whose X holds the same values as the previous
     * call's on this scratch (q, k and v of one layer, gate and up): the converted
     * activations in xq are then used again where the weight type wants the same ones
     * (same vec_dot_type and gemm_act, same m and k; on the sgemm path, also their F32
     * expansion in xf, when a call on that path wrote it), with no conversion and no
     * barrier. qk_matmul leaves it as it is. */
    int same_x;
    /* What xq (and xf) hold, for same_x (internal). */
    struct {
        int valid;
        int xq;  /* xq holds the converted rows (an sgemm-path call may write only xf) */
        int xf;  /* xf holds the converted rows expanded to F32 */
        qk_type vt;
        qk_gemm_act_fn act;
        int64_t m, k;
    } xq_key;
    /* Tuning knobs for benchmarks and tests; 0 = the default. */
    int force_path;      /* a qk_matmul_path */
    int64_t tile_floats; /* floats per dequantized weight tile (default QK_MATMUL_TILE_FLOATS);
                          * with qkit's GEMM: about tile_floats / k rows per tile (default
                          * qk_gemm_f32_panel_rows(k)) */
} qk_matmul_scratch;

/* Default upper bound of one thread's dequantized weight tile, in floats (16 MiB per
 * thread, allocated only when the sgemm path runs). Measured with qk-matmul-bench --tile:
 * each sgemm call repacks all m activation rows, so fewer, larger tiles win even far
 * past the L2 size (m = 512: 4 Mi floats ≈ +6% over 1 Mi, +40% over 256 Ki). */
#define QK_MATMUL_TILE_FLOATS (4 << 20)

/* Y = X · Wᵀ (shapes above). wtype must have to_float and vec_dot in the type table;
 * k a multiple of its block size; m, n >= 1. Returns 0, or -1 when scratch memory
 * cannot be grown (Y is then unspecified). */
int qk_matmul(qk_pool *pool, qk_matmul_scratch *scratch, qk_type wtype, const void *w, int64_t k,
              int64_t n, const float *x, int64_t m, float *y);

/* Token count from which QK_MATMUL_AUTO takes the sgemm path for weight type t
 * (INT64_MAX: never). Types with a gemm kernel take the gemm path from
 * qk_matmul_gemm_min_m instead. */
int64_t qk_matmul_blas_min_m(qk_type t);

/* Token count from which QK_MATMUL_AUTO takes the integer gemm path for weight type t
 * (INT64_MAX: the type has no gemm kernel). */
int64_t qk_matmul_gemm_min_m(qk_type t);

/* Upper bound of one thread's packed weight tile (gemm path), in bytes. */
#define QK_MATMUL_GEMM_TILE_BYTES (192 << 10)

/* Rows shorter than this (tiny models such as stories260K, n_embd 64) always take the
 * vec_dot path: speed is irrelevant there, and vec_dot sums each block exactly in
 * integers as llama.cpp does. Measured on stories260K, 100 chunks of 256, PPL vs
 * llama.cpp for Q2_K/Q3_K_M/Q4_K_M/Q4_K_S/Q5_K_M/Q6_K: sgemm path +0.063/+0.025/-0.068/
 * +0.070/+0.030/+0.016 %, vec_dot +0.045/-0.055/-0.023/+0.039/-0.008/+0.017 % (mean |d|
 * 0.045 -> 0.031 %; that model amplifies any rounding difference). */
#define QK_MATMUL_SGEMM_MIN_K 256

/* The path QK_MATMUL_AUTO takes for weight type t, m tokens and rows of k elements
 * (never QK_MATMUL_AUTO). */
qk_matmul_path qk_matmul_choose(qk_type t, int64_t m, int64_t k);

void qk_matmul_scratch_free(qk_matmul_scratch *s);

#endif
