/*
 * attention.h — causal multi-head attention (with GQA) over an F16 KV cache.
 *
 * For every token i of a batch and head h: out_i,h = softmax(q_i,h · K_sᵀ / √hd) · V_s over
 * the cached positions 0..pos_i of the token's sequence s, with K/V head h / (n_head /
 * n_head_kv). Numerics as ggml's non-flash path (llama.cpp build_attn_mha): q is rounded
 * to F16 (ggml converts src1 of an F16 mul_mat), the softmax sums in double, and the
 * probabilities are rounded to F16 before P·V.
 *
 * Shapes: q [n][n_head·hd] and out [n][n_head·hd] (row = token); a sequence's cache is
 * [n_ctx][n_head_kv·hd] F16, found at k_cache + seq·seq_stride (same for V).
 */
#ifndef QK_ATTENTION_H
#define QK_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#include "fp16.h"
#include "threads.h"

typedef struct qk_attn_scratch {
    float *buf;        /* per-thread work areas, per_thread floats apart */
    size_t buf_bytes;
    size_t per_thread; /* floats per thread in the last call */
    float *kv;         /* F32 copies of the K/V cache rows (batch path) */
    size_t kv_bytes;
} qk_attn_scratch;

typedef struct qk_attn_args {
    int n;                   /* tokens in the batch */
    const int32_t *pos, *seq;
    int n_head, n_head_kv, head_dim;
    const float *q;
    const qk_half *k_cache, *v_cache;
    size_t seq_stride;       /* elements between sequences in the caches */
    float *out;
} qk_attn_args;

/* Returns 0, or -1 when scratch memory cannot be allocated. */
int qk_attention(qk_pool *pool, qk_attn_scratch *s, const qk_attn_args *a);
void qk_attn_scratch_free(qk_attn_scratch *s);

#endif
