/*
 * gemm_f32.h — qkit's own single-threaded FP32 GEMM for matmul.c's sgemm path:
 * Y[c][r] = Σ_l W[r][l]·X[c][l] with W in any type that has to_float (F16, BF16 and F32
 * directly, other types through to_float), X and Y float.
 *
 * Why: the speed of OpenBLAS's cblas_sgemm depends on its build and on OPENBLAS_CORETYPE
 * (a Haswell core type on an AVX-512 machine gives up half the FMA width); these kernels
 * pick their register width from the CPU at run time.
 *
 * Design (Goto-style blocking, one call per weight tile of one thread):
 *  - W is packed in panels of QK_GEMM_F32_KC columns of k: within a panel, strips of S
 *    rows (S = 32 for AVX-512, 16 for AVX2) stored k-major, S floats per k (S rows
 *    interleaved), converted from the weight type once per panel and reused for all m
 *    tokens. A panel of qk_gemm_f32_panel_rows(k) rows stays in L2.
 *  - The microkernel keeps an S x N block of Y in registers (AVX-512: 32 rows x 12 tokens
 *    in 24 zmm; AVX2: 16 x 6 in 12 ymm) and for each k multiplies the S weights of the
 *    strip (2 vector loads) by each of the N activations (broadcast from the activation
 *    rows, which stay in L1 or L2 for the whole panel): an outer-product update with FMA.
 *  - k is cut into panels; the first panel stores into Y, later ones add to it.
 *
 * Numerics: every Y element is Σ_l w_l·x_l over l in k order, one FMA (one rounding) per
 * term, in float, starting from 0 for each panel of KC columns and added to Y between
 * panels. This differs from a dot product in index order only in where the roundings
 * fall; tests/test_gemm_f32.c bounds the error against a double reference.
 * NaN/Inf propagate as IEEE arithmetic does (a signalling NaN weight may come out quiet).
 */
#ifndef QK_GEMM_F32_H
#define QK_GEMM_F32_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

/* Kernel sets (qk_gemm_f32_level). */
#define QK_GEMM_F32_NONE 0   /* no kernel: callers use cblas_sgemm */
#define QK_GEMM_F32_AVX2 1   /* AVX2 + FMA + F16C, ymm registers */
#define QK_GEMM_F32_AVX512 2 /* AVX-512F (+BW, VL), zmm registers */

/* Columns of k per packed weight panel, and the floats one panel holds: 512 KiB, half
 * of a 1 MiB L2. A long panel means few passes over Y (k <= 2048 takes one: Y is stored
 * once, never read back); its rows are as many as fit (qk_gemm_f32_panel_rows), so that
 * each token group's activations serve several strips. */
#define QK_GEMM_F32_KC 2048
#define QK_GEMM_F32_PANEL_FLOATS (64 * QK_GEMM_F32_KC)
/* The fewest and the most rows of a panel (multiples of both strip widths). */
#define QK_GEMM_F32_PANEL_ROWS_MIN 64
#define QK_GEMM_F32_PANEL_ROWS_MAX 256

/* The kernel set this CPU supports and the environment allows: QK_GEMM_F32_AVX512 when
 * qk_cpu_has_avx512vnni() (so QK_NO_AVX512=1 falls back to AVX2), QK_GEMM_F32_AVX2 when
 * qk_cpu_has_avx2() (so QK_FORCE_SCALAR=1 gives NONE), NONE otherwise or when the
 * environment variable QK_GEMM_F32=0 (keep cblas_sgemm, for comparisons). Cached. */
int qk_gemm_f32_level(void);

/* True when the CPU can run kernel set `level` (ignores the environment switches except
 * QK_FORCE_SCALAR / QK_NO_AVX512 through cpu.h). */
int qk_gemm_f32_supported(int level);

/* Rows per strip for a kernel set (32 or 16; 0 for NONE). */
int qk_gemm_f32_strip(int level);

/* Tokens per microkernel call for a kernel set (12 or 6; 0 for NONE): a token range that
 * starts at a multiple of it splits no kernel call's group. */
int qk_gemm_f32_tokens(int level);

/* Rows per panel for k columns: QK_GEMM_F32_PANEL_FLOATS / min(k, QK_GEMM_F32_KC),
 * rounded down to a multiple of 32 and clamped to [QK_GEMM_F32_PANEL_ROWS_MIN,
 * QK_GEMM_F32_PANEL_ROWS_MAX] (k >= 2048: 64 rows; k = 896: 128; k <= 512: 256). */
int64_t qk_gemm_f32_panel_rows(int64_t k);

/* Floats of scratch (per calling thread) that qk_gemm_f32 needs for kernel set `level`
 * (any n, k and m: W is worked through in panels of at most QK_GEMM_F32_PANEL_FLOATS). */
size_t qk_gemm_f32_scratch_floats(int level);

/* Y[c·ldy + r] = Σ_{l<k} W_r[l]·X[c·ldx + l] for r < n, c < m, where W_r is row r of
 * the weight matrix: to_float of the w_row bytes at w + r·w_row (weight type wtype;
 * k a multiple of its block size). Only Y[c·ldy + r] for r < n, c < m is written.
 * scratch: qk_gemm_f32_scratch_floats(level) floats, any alignment. n, m, k >= 1.
 * Returns 0, or -1 when kernel set `level` is not supported or wtype has no to_float
 * (Y untouched). Single-threaded; calls on different scratch may run concurrently. */
int qk_gemm_f32(int level, qk_type wtype, const void *w, size_t w_row, int64_t n, int64_t k, const float *x,
                size_t ldx, int64_t m, float *y, size_t ldy, float *scratch);

/* ---- internal: the SIMD pieces (gemm_f32_avx2.c), used by gemm_f32.c ---- */

/* Pack rows [0, nr) (nr <= S) of a strip, columns [kb, kb + kc) of each, into
 * dst[l·S + i] = W_i[kb + l] (rows i >= nr as zeros). w points at row 0 of the strip.
 * tmp: S·kc floats for types converted through to_float. dst 64-byte aligned. */
typedef void (*qk_gemm_f32_pack_fn)(const qk_type_traits *tt, qk_type wtype, const uint8_t *w, size_t w_row, int nr,
                                    int64_t kb, int kc, float *dst, float *tmp);
/* Y[t·ldy + i] (+)= Σ_{l<kc} wp[l·S + i]·x[t·ldx + l] for i < nr, t < nt (acc: add to Y,
 * else store); nr <= S, nt <= N, and x must hold N readable rows (the rows t >= nt are
 * computed and dropped). */
typedef void (*qk_gemm_f32_kern_fn)(int kc, const float *wp, const float *x, size_t ldx, float *y, size_t ldy, int nr,
                                    int nt, int acc);
typedef struct qk_gemm_f32_kernels {
    int strip;  /* S */
    int tokens; /* N */
    qk_gemm_f32_pack_fn pack;
    qk_gemm_f32_kern_fn kern;
    /* optional narrower kernels for the last, partial token group: tail[i] takes
     * tail_tokens[i] tokens (decreasing, each < N); the narrowest that fits is used */
    int n_tail;
    int tail_tokens[2];
    qk_gemm_f32_kern_fn tail[2];
} qk_gemm_f32_kernels;
void qk_gemm_f32_get_avx2(qk_gemm_f32_kernels *out);
void qk_gemm_f32_get_avx512(qk_gemm_f32_kernels *out);

#endif
