/*
 * forward.h — the transformer forward pass over a batch of tokens, with a KV cache.
 *
 * A qk_context owns the KV cache and scratch buffers for one model; it is not thread-safe
 * (it uses its own worker pool internally). The cache holds n_seq independent sequences
 * of up to n_ctx positions each (llama.cpp's "n_ctx per sequence"); a batch may mix
 * tokens of several sequences, which is how qk-perplexity scores several chunks per pass.
 *
 * Numerics follow llama.cpp's CPU backend so that logits agree with it: K and V are cached
 * as F16, weights are used in their stored type against activations converted to the
 * weight type's vec_dot_type (F16 / Q8_0 / Q8_1 / Q8_K), softmax and norms are F32.
 */
#ifndef QK_FORWARD_H
#define QK_FORWARD_H

#include <stdint.h>

#include "error.h"
#include "model.h"
#include "types.h"

typedef struct qk_context qk_context;

typedef struct qk_context_params {
    int32_t n_ctx;      /* positions per sequence (KV capacity) */
    int32_t n_seq;      /* independent sequences (>= 1) */
    int32_t n_batch;    /* max tokens per qk_decode call */
    int32_t n_threads;  /* <= 0: all CPUs */
} qk_context_params;

/* One batch: n tokens, each with its position, sequence id and whether its logits are
 * wanted. pos must be < n_ctx, seq < n_seq; a token attends to the cached tokens of its
 * own sequence with pos <= its pos (causal). logits may be NULL: only the last token's
 * logits are then returned. */
typedef struct qk_batch {
    int32_t n;
    const int32_t *token;
    const int32_t *pos;
    const int32_t *seq;
    const int8_t *logits;
} qk_batch;

qk_context *qk_context_new(const qk_model *m, qk_context_params p, qk_err *err);
void qk_context_free(qk_context *c);

/* Run the batch: writes K/V for every token into the cache and computes the logits of
 * the flagged tokens. Errors: n > n_batch, token id out of range, bad pos/seq. */
int qk_decode(qk_context *c, const qk_batch *b, qk_err *err);

/* Logits of the flagged tokens of the last qk_decode, in batch order:
 * [n_outputs][n_vocab] floats. */
const float *qk_get_logits(const qk_context *c, int32_t *n_outputs);

/* Forget every cached token (all sequences). */
void qk_kv_clear(qk_context *c);

int32_t qk_context_n_threads(const qk_context *c);

/* Where qk_decode's time goes, summed over the calls made while the profile is attached
 * (wall-clock CLOCK_MONOTONIC ns, as seen by the calling thread): the weight matmuls by
 * weight type (ggml type id; calls, ns, and the weight bytes of the matrices multiplied:
 * bytes / ns = the GB/s each type streamed), the attention, and the whole of qk_decode
 * (what the matmuls and attention leave of it is norms, RoPE, SwiGLU, residual adds,
 * embedding lookup). Timing costs two clock reads per matmul and per attention call. */
typedef struct qk_profile {
    uint64_t matmul_calls[QK_TYPE_COUNT];
    uint64_t matmul_ns[QK_TYPE_COUNT];
    double matmul_bytes[QK_TYPE_COUNT];
    uint64_t attn_calls;
    uint64_t attn_ns;
    uint64_t decode_ns;
    uint64_t n_decode; /* qk_decode calls */
    uint64_t n_tokens; /* tokens over those calls */
} qk_profile;

/* Accumulate into *p from now on (p is not cleared: zero it to start); NULL detaches.
 * The caller keeps p alive while attached. */
void qk_context_set_profile(qk_context *c, qk_profile *p);

/* A look at every weight matmul's input (qk-imatrix collects its importance matrix with
 * it; llama.cpp's equivalent is the scheduler's eval callback on GGML_OP_MUL_MAT).
 * Called by qk_decode on the calling thread, right before the product Y = X·Wᵀ runs,
 * once per weight matrix multiplied: w is the model's weight tensor (w->name as in the
 * GGUF file, w->ne[0] = k input columns), x its m input rows of k F32 values, row-major
 * (x[r·k + j]), valid only during the call. The weights, in the order a layer multiplies
 * them: blk.N.attn_q, attn_k, attn_v (all three read the same x), attn_output,
 * ffn_gate, ffn_up (the same x), ffn_down; then the lm_head (output.weight, or
 * token_embd.weight when the model ties them) with one row per token whose logits were
 * requested, when there is one. Consecutive calls for the weights of one layer with the
 * same x pointer and m read the same data, so a hook may reuse per-input work
 * (q/k/v, gate/up). The hook must not call into c. */
typedef void (*qk_matmul_hook)(void *arg, const gguf_tensor *w, const float *x, int64_t m);

/* Call fn(arg, …) for every weight matmul of qk_decode from now on; fn NULL detaches.
 * The caller keeps arg alive while attached. Costs one test per matmul when detached. */
void qk_context_set_matmul_hook(qk_context *c, qk_matmul_hook fn, void *arg);

#endif
