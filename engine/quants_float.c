/*
 * quants_float.c — row conversions and scalar dot products for the unquantized types
 * F32, F16 (IEEE binary16) and BF16 (bfloat16).
 *
 * Conversions use engine/fp16.h: float -> half and float -> bf16 round to nearest, ties to
 * even (what ggml's GGML_FP32_TO_FP16 on an F16C machine and ggml_compute_fp32_to_bf16
 * give), so qk_quantize_row_f16/bf16 produce the same bytes as llama-quantize's F16/BF16
 * output (ggml_fp32_to_fp16_row, ggml_fp32_to_bf16_row_ref). The reverse conversions are
 * exact.
 *
 * Dot products are the scalar references for the SIMD kernels: each element product is
 * formed in float (exact for F16/BF16 inputs, since a product of two 11-bit or 8-bit
 * significands fits in float's 24 bits) and accumulated in float, in index order.
 */
#include <string.h>

#include "quants.h"

/* ---- F32 ---- */

/* y[0..k) = x[0..k) as raw F32 bytes (the "quantizer" for F32 is a copy). */
void qk_copy_row_f32(const float *x, void *y, int64_t k) {
    if (k > 0) memcpy(y, x, (size_t)k * sizeof(float));
}

/* y[0..k) = the k floats stored at x. */
void qk_to_float_f32(const void *x, float *y, int64_t k) {
    if (k > 0) memcpy(y, x, (size_t)k * sizeof(float));
}

/* ---- F16 ---- */

/* k floats -> k binary16 values, round to nearest even; overflow -> +-inf, NaN kept. */
void qk_quantize_row_f16(const float *x, void *y, int64_t k) {
    qk_half *h = (qk_half *)y;
    for (int64_t i = 0; i < k; i++) h[i] = qk_float_to_half(x[i]);
}

/* k binary16 values -> k floats (exact). */
void qk_dequantize_row_f16(const void *x, float *y, int64_t k) {
    const qk_half *h = (const qk_half *)x;
    for (int64_t i = 0; i < k; i++) y[i] = qk_half_to_float(h[i]);
}

/* ---- BF16 ---- */

/* k floats -> k bfloat16 values, round to nearest even; NaN -> quiet NaN. */
void qk_quantize_row_bf16(const float *x, void *y, int64_t k) {
    qk_bf16 *h = (qk_bf16 *)y;
    for (int64_t i = 0; i < k; i++) h[i] = qk_float_to_bf16(x[i]);
}

/* k bfloat16 values -> k floats (exact: the upper 16 bits of a binary32). */
void qk_dequantize_row_bf16(const void *x, float *y, int64_t k) {
    const qk_bf16 *h = (const qk_bf16 *)x;
    for (int64_t i = 0; i < k; i++) y[i] = qk_bf16_to_float(h[i]);
}

/* ---- dot products: *s = sum_i x[i]*y[i] over n elements, float accumulator ---- */

void qk_vec_dot_f32(int n, float *s, const void *x, const void *y) {
    const float *a = (const float *)x, *b = (const float *)y;
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += a[i] * b[i];
    *s = sum;
}

void qk_vec_dot_f16(int n, float *s, const void *x, const void *y) {
    const qk_half *a = (const qk_half *)x, *b = (const qk_half *)y;
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += qk_half_to_float(a[i]) * qk_half_to_float(b[i]);
    *s = sum;
}

void qk_vec_dot_bf16(int n, float *s, const void *x, const void *y) {
    const qk_bf16 *a = (const qk_bf16 *)x, *b = (const qk_bf16 *)y;
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += qk_bf16_to_float(a[i]) * qk_bf16_to_float(b[i]);
    *s = sum;
}
