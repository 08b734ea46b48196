/*
 * quants_stubs_tmp.c — TEMPORARY weak placeholders so the tree links while the kernels
 * are being written. Each aborts if called. Deleted before the first submission.
 */
#include <stdio.h>
#include <stdlib.h>

#include "quants.h"

#pragma GCC diagnostic ignored "-Wunused-parameter"

const int8_t qk_kvalues_iq4nl[16] __attribute__((weak)) = {0};
#define STUB(name, args) __attribute__((weak)) void name args { fprintf(stderr, "not implemented: %s\n", #name); abort(); }

STUB(qk_copy_row_f32, (const float *x, void *y, int64_t k))
STUB(qk_to_float_f32, (const void *x, float *y, int64_t k))
STUB(qk_quantize_row_f16, (const float *x, void *y, int64_t k))
STUB(qk_dequantize_row_f16, (const void *x, float *y, int64_t k))
STUB(qk_quantize_row_bf16, (const float *x, void *y, int64_t k))
STUB(qk_dequantize_row_bf16, (const void *x, float *y, int64_t k))
STUB(qk_vec_dot_f32, (int n, float *s, const void *x, const void *y))
STUB(qk_vec_dot_f16, (int n, float *s, const void *x, const void *y))
STUB(qk_vec_dot_bf16, (int n, float *s, const void *x, const void *y))
STUB(qk_quantize_row_q4_0_ref, (const float *x, void *y, int64_t k))
STUB(qk_quantize_row_q4_1_ref, (const float *x, void *y, int64_t k))
STUB(qk_quantize_row_q5_0_ref, (const float *x, void *y, int64_t k))
STUB(qk_quantize_row_q5_1_ref, (const float *x, void *y, int64_t k))
STUB(qk_quantize_row_q8_0_ref, (const float *x, void *y, int64_t k))
STUB(qk_quantize_row_q8_1_ref, (const float *x, void *y, int64_t k))
STUB(qk_quantize_row_iq4_nl_ref, (const float *x, void *y, int64_t k))
STUB(qk_dequantize_row_q4_0, (const void *x, float *y, int64_t k))
STUB(qk_dequantize_row_q4_1, (const void *x, float *y, int64_t k))
STUB(qk_dequantize_row_q5_0, (const void *x, float *y, int64_t k))
STUB(qk_dequantize_row_q5_1, (const void *x, float *y, int64_t k))
STUB(qk_dequantize_row_q8_0, (const void *x, float *y, int64_t k))
STUB(qk_dequantize_row_q8_1, (const void *x, float *y, int64_t k))
STUB(qk_dequantize_row_iq4_nl, (const void *x, float *y, int64_t k))
STUB(qk_vec_dot_q4_0_q8_0, (int n, float *s, const void *x, const void *y))
STUB(qk_vec_dot_q4_1_q8_1, (int n, float *s, const void *x, const void *y))
STUB(qk_vec_dot_q5_0_q8_0, (int n, float *s, const void *x, const void *y))
STUB(qk_vec_dot_q5_1_q8_1, (int n, float *s, const void *x, const void *y))
STUB(qk_vec_dot_q8_0_q8_0, (int n, float *s, const void *x, const void *y))
STUB(qk_vec_dot_iq4_nl_q8_0, (int n, float *s, const void *x, const void *y))
STUB(qk_quantize_row_q2_K_ref, (const float *x, void *y, int64_t k))
STUB(qk_quantize_row_q3_K_ref, (const float *x, void *y, int64_t k))
STUB(qk_quantize_row_q4_K_ref, (const float *x, void *y, int64_t k))
STUB(qk_quantize_row_q5_K_ref, (const float *x, void *y, int64_t k))
STUB(qk_quantize_row_q6_K_ref, (const float *x, void *y, int64_t k))
STUB(qk_quantize_row_q8_K_ref, (const float *x, void *y, int64_t k))
STUB(qk_dequantize_row_q2_K, (const void *x, float *y, int64_t k))
STUB(qk_dequantize_row_q3_K, (const void *x, float *y, int64_t k))
STUB(qk_dequantize_row_q4_K, (const void *x, float *y, int64_t k))
STUB(qk_dequantize_row_q5_K, (const void *x, float *y, int64_t k))
STUB(qk_dequantize_row_q6_K, (const void *x, float *y, int64_t k))
STUB(qk_dequantize_row_q8_K, (const void *x, float *y, int64_t k))
STUB(qk_vec_dot_q2_K_q8_K, (int n, float *s, const void *x, const void *y))
STUB(qk_vec_dot_q3_K_q8_K, (int n, float *s, const void *x, const void *y))
STUB(qk_vec_dot_q4_K_q8_K, (int n, float *s, const void *x, const void *y))
STUB(qk_vec_dot_q5_K_q8_K, (int n, float *s, const void *x, const void *y))
STUB(qk_vec_dot_q6_K_q8_K, (int n, float *s, const void *x, const void *y))
