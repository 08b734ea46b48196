/*
 * gptq.h — GPTQ rounding for qk-quantize --gptq: the same block format as plain rounding
 * (the file loads in llama.cpp as any other), but each weight row is rounded column by
 * column and the rounding error of a column is spread over the columns still to come, in
 * proportion to how the calibration activations correlate them, so that the error of the
 * product X·Wᵀ (not of W itself) is what gets small.
 *
 * Source: Frantar, Ashkboos, Hoefler, Alistarh, "GPTQ: Accurate Post-Training Quantization
 * for Generative Pre-trained Transformers" (ICLR 2023), Algorithm 1, with its stated
 * choices: H = Σ_tokens x xᵀ over the calibration activations x (k = ne[0] inputs), dampened
 * by 1 % of its mean diagonal; a column whose diagonal is 0 (an input that is never
 * non-zero) gets H_jj = 1; U = the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU); for column j:
 * q_j = round(w_j), e = (w_j − q_j) / U_jj, w_k −= e · U_jk for every k > j. Group scales
 * (one per block of 32 columns) are set from the row's current values when the column loop
 * enters the block, by the type's own rule.
 *
 * H is summed with BLAS dsyrk and factored with LAPACK dpotrf/dtrtri (OpenBLAS), so the
 * bytes may differ in rare roundings between BLAS builds; the format never does.
 *
 * Types: the 32-element blocks, each block's parameters by its type's rule (reference §2;
 * the reference quantizer's own, run on the block) from the row's values as they are when
 * the loop enters the block: Q8_0 (d = amax/127,
 * q in −128..127), Q4_0 (d = max/−8, q in −8..7), Q5_0 (d = max/−16, q in −16..15), max
 * being the value of largest magnitude; Q4_1 / Q5_1 (d = (max − min)/15 or /31, m = min);
 * IQ4_NL (the reference quantizer's searched scale, q the nearest of its 16 levels). Codes
 * are rounded against the F16 d (and m) the file holds. The K-quants' super-blocks (scales
 * of scales): qk_gptq_supports false.
 */
#ifndef QK_GPTQ_H
#define QK_GPTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model.h"
#include "types.h"

/* Whether qk_gptq_quantize handles type t. */
bool qk_gptq_supports(qk_type t);

/* H (k x k, row-major, symmetric; both triangles) of each of the n named 2-D weight tensors
 * of m, summed over the calibration text: the first n_chunks chunks of n_ctx tokens of the
 * tokenized text (qk-perplexity's chunking; BOS substituted as it does), every token's
 * activations at the tensor's input (forward.h's matmul hook, all logits requested so that
 * the lm_head sees every token). h[i] is malloc'ed (k_i = the tensor's ne[0]); the caller
 * frees them. rows[i]: the activation rows summed into h[i] — 0 for a tensor the forward
 * pass never multiplies (token_embd of an untied model: a lookup table). Errors: a name
 * that is not a 2-D tensor of m, unreadable or too short text (fewer than 2·n_ctx tokens),
 * engine failure, out of memory. */
int qk_gptq_collect(const qk_model *m, const char *text_path, int32_t n_ctx, int32_t n_chunks,
                    int32_t n_threads, const char *const *names, size_t n, double **h, uint64_t *rows,
                    qk_err *err);

/* Quantize w (n_rows rows of ne0 F32 values) to type t with GPTQ against h (ne0 x ne0, as
 * qk_gptq_collect gives it; not modified) into dst (n_rows x the type's row size).
 * n_threads workers split the rows. Errors: a type qk_gptq_supports refuses, ne0 not a
 * multiple of the block, H not positive definite after damping, out of memory. */
int qk_gptq_quantize(qk_type t, const float *w, int64_t n_rows, int64_t ne0, const double *h, int n_threads,
                     uint8_t *dst, qk_err *err);

#endif
