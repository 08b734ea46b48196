/*
 * quants.h — block layouts and per-type kernels (quantize, dequantize, dot product).
 *
 * Block layouts are ggml's (ggml/src/ggml-common.h, see llama-cpp-reference.md §2.1 and
 * Appendix A): packed structs, fields in this order, little-endian, `qk_half` = IEEE
 * binary16. QK_K = 256 elements per K-quant super-block, QK4_0 = ... = 32 otherwise.
 *
 * Naming, for each type T:
 *   qk_quantize_row_T_ref(const float *x, void *y, int64_t k)  — llama.cpp's reference
 *       quantizer (quantize_row_T_ref, the path llama-quantize takes without an imatrix);
 *       output must be bit-identical to llama.cpp's. k is a multiple of the block size.
 *   qk_quantize_row_T_imat(const float *x, void *y, int64_t k, const float *qw) — with
 *       importance weights: llama.cpp's quantize_T with quant_weights (quantize_row_T_impl,
 *       the path llama-quantize --imatrix takes) for one row, qw[k] being the row's column
 *       weights; bit-identical to llama.cpp's output too.
 *   qk_dequantize_row_T(const void *x, float *y, int64_t k)    — dequantize_row_T.
 *   qk_vec_dot_T_U(int n, float *s, const void *x, const void *y) — dot product of a
 *       row of T with a row of its activation type U (Q8_0, Q8_1 or Q8_K), scalar
 *       reference; SIMD versions live in quants_*_avx2.c and are tested against these.
 *
 * Files: quants_float.c (F32/F16/BF16), quants_legacy.c (32-element types and IQ4_NL),
 * quants_k.c (K-quants and Q8_K), quants_kfit.c (the scale/min searches shared by the
 * K-quant quantizers), quants_k_imat.c and quants_legacy_imat.c (the _imat quantizers).
 */
#ifndef QK_QUANTS_H
#define QK_QUANTS_H

#include <stdint.h>

#include "fp16.h"

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK4_NL 32
#define QK_K 256
#define K_SCALE_SIZE 12

typedef struct { qk_half d; uint8_t qs[QK4_0 / 2]; } block_q4_0;
typedef struct { qk_half d; qk_half m; uint8_t qs[QK4_1 / 2]; } block_q4_1;
typedef struct { qk_half d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; } block_q5_0;
typedef struct { qk_half d; qk_half m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; } block_q5_1;
typedef struct { qk_half d; int8_t qs[QK8_0]; } block_q8_0;
/* Q8_1: s = d * sum(qs), used against Q4_1/Q5_1. */
typedef struct { qk_half d; qk_half s; int8_t qs[QK8_1]; } block_q8_1;
typedef struct { qk_half d; uint8_t qs[QK4_NL / 2]; } block_iq4_nl;

typedef struct { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; qk_half d; qk_half dmin; } block_q2_K;
typedef struct { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; qk_half d; } block_q3_K;
typedef struct { qk_half d; qk_half dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; } block_q4_K;
typedef struct { qk_half d; qk_half dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } block_q5_K;
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; qk_half d; } block_q6_K;
/* Q8_K: activations only; bsums[i] = sum of qs[16i .. 16i+15]. */
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } block_q8_K;

_Static_assert(sizeof(block_q4_0) == 18, "block_q4_0 size");
_Static_assert(sizeof(block_q4_1) == 20, "block_q4_1 size");
_Static_assert(sizeof(block_q5_0) == 22, "block_q5_0 size");
_Static_assert(sizeof(block_q5_1) == 24, "block_q5_1 size");
_Static_assert(sizeof(block_q8_0) == 34, "block_q8_0 size");
_Static_assert(sizeof(block_q8_1) == 36, "block_q8_1 size");
_Static_assert(sizeof(block_iq4_nl) == 18, "block_iq4_nl size");
_Static_assert(sizeof(block_q2_K) == 84, "block_q2_K size");
_Static_assert(sizeof(block_q3_K) == 110, "block_q3_K size");
_Static_assert(sizeof(block_q4_K) == 144, "block_q4_K size");
_Static_assert(sizeof(block_q5_K) == 176, "block_q5_K size");
_Static_assert(sizeof(block_q6_K) == 210, "block_q6_K size");
_Static_assert(sizeof(block_q8_K) == 292, "block_q8_K size");

/* IQ4_NL's non-linear value table (kvalues_iq4nl). */
extern const int8_t qk_kvalues_iq4nl[16];

/* ---- F32 / F16 / BF16 (quants_float.c) ---- */
void qk_copy_row_f32(const float *x, void *y, int64_t k);
void qk_to_float_f32(const void *x, float *y, int64_t k);
void qk_quantize_row_f16(const float *x, void *y, int64_t k);
void qk_dequantize_row_f16(const void *x, float *y, int64_t k);
void qk_quantize_row_bf16(const float *x, void *y, int64_t k);
void qk_dequantize_row_bf16(const void *x, float *y, int64_t k);
void qk_vec_dot_f32(int n, float *s, const void *x, const void *y);
void qk_vec_dot_f16(int n, float *s, const void *x, const void *y);   /* F16 . F16 */
void qk_vec_dot_bf16(int n, float *s, const void *x, const void *y);  /* BF16 . BF16 */

/* ---- 32-element types (quants_legacy.c) ---- */
void qk_quantize_row_q4_0_ref(const float *x, void *y, int64_t k);
void qk_quantize_row_q4_1_ref(const float *x, void *y, int64_t k);
void qk_quantize_row_q5_0_ref(const float *x, void *y, int64_t k);
void qk_quantize_row_q5_1_ref(const float *x, void *y, int64_t k);
void qk_quantize_row_q8_0_ref(const float *x, void *y, int64_t k);
void qk_quantize_row_q8_1_ref(const float *x, void *y, int64_t k);
/* Activation quantizers: ggml-cpu's x86 (AVX2) arithmetic, see quants_legacy.c. */
void qk_quantize_row_q8_0_act(const float *x, void *y, int64_t k);
void qk_quantize_row_q8_1_act(const float *x, void *y, int64_t k);
void qk_quantize_row_iq4_nl_ref(const float *x, void *y, int64_t k);
/* With importance weights (quants_legacy_imat.c); Q8_0 has none (llama.cpp ignores them). */
void qk_quantize_row_q4_0_imat(const float *x, void *y, int64_t k, const float *qw);
void qk_quantize_row_q4_1_imat(const float *x, void *y, int64_t k, const float *qw);
void qk_quantize_row_q5_0_imat(const float *x, void *y, int64_t k, const float *qw);
void qk_quantize_row_q5_1_imat(const float *x, void *y, int64_t k, const float *qw);
void qk_quantize_row_iq4_nl_imat(const float *x, void *y, int64_t k, const float *qw);
void qk_dequantize_row_q4_0(const void *x, float *y, int64_t k);
void qk_dequantize_row_q4_1(const void *x, float *y, int64_t k);
void qk_dequantize_row_q5_0(const void *x, float *y, int64_t k);
void qk_dequantize_row_q5_1(const void *x, float *y, int64_t k);
void qk_dequantize_row_q8_0(const void *x, float *y, int64_t k);
void qk_dequantize_row_q8_1(const void *x, float *y, int64_t k);
void qk_dequantize_row_iq4_nl(const void *x, float *y, int64_t k);
void qk_vec_dot_q4_0_q8_0(int n, float *s, const void *x, const void *y);
void qk_vec_dot_q4_1_q8_1(int n, float *s, const void *x, const void *y);
void qk_vec_dot_q5_0_q8_0(int n, float *s, const void *x, const void *y);
void qk_vec_dot_q5_1_q8_1(int n, float *s, const void *x, const void *y);
void qk_vec_dot_q8_0_q8_0(int n, float *s, const void *x, const void *y);
void qk_vec_dot_iq4_nl_q8_0(int n, float *s, const void *x, const void *y);

/* ---- K-quants (quants_k.c) ---- */
void qk_quantize_row_q2_K_ref(const float *x, void *y, int64_t k);
void qk_quantize_row_q3_K_ref(const float *x, void *y, int64_t k);
void qk_quantize_row_q4_K_ref(const float *x, void *y, int64_t k);
void qk_quantize_row_q5_K_ref(const float *x, void *y, int64_t k);
void qk_quantize_row_q6_K_ref(const float *x, void *y, int64_t k);
void qk_quantize_row_q8_K_ref(const float *x, void *y, int64_t k);
/* With importance weights (quants_k_imat.c). */
void qk_quantize_row_q2_K_imat(const float *x, void *y, int64_t k, const float *qw);
void qk_quantize_row_q3_K_imat(const float *x, void *y, int64_t k, const float *qw);
void qk_quantize_row_q4_K_imat(const float *x, void *y, int64_t k, const float *qw);
void qk_quantize_row_q5_K_imat(const float *x, void *y, int64_t k, const float *qw);
void qk_quantize_row_q6_K_imat(const float *x, void *y, int64_t k, const float *qw);
void qk_dequantize_row_q2_K(const void *x, float *y, int64_t k);
void qk_dequantize_row_q3_K(const void *x, float *y, int64_t k);
void qk_dequantize_row_q4_K(const void *x, float *y, int64_t k);
void qk_dequantize_row_q5_K(const void *x, float *y, int64_t k);
void qk_dequantize_row_q6_K(const void *x, float *y, int64_t k);
void qk_dequantize_row_q8_K(const void *x, float *y, int64_t k);
void qk_vec_dot_q2_K_q8_K(int n, float *s, const void *x, const void *y);
void qk_vec_dot_q3_K_q8_K(int n, float *s, const void *x, const void *y);
void qk_vec_dot_q4_K_q8_K(int n, float *s, const void *x, const void *y);
void qk_vec_dot_q5_K_q8_K(int n, float *s, const void *x, const void *y);
void qk_vec_dot_q6_K_q8_K(int n, float *s, const void *x, const void *y);

#endif
