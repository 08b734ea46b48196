/*
 * forward.c — the transformer forward pass (llama / qwen2) over a batch, with a KV cache.
 *
 * Reads top to bottom like the model: embed → n_layer × (RMSNorm → Q,K,V (+bias) → RoPE →
 * causal attention over the cache → Wo → residual → RMSNorm → SwiGLU FFN → residual) →
 * RMSNorm → lm_head, the graph of llama.cpp's build_llama / build_qwen2
 * (src/llama.cpp [U]). Fast paths live behind small functions (matmul.c, attention.c).
 *
 * Numerics mirror ggml's CPU backend, so that our logits match llama.cpp's closely:
 * RMSNorm sums squares in double and scales in float; RoPE angles come from the float
 * recurrence θ ← θ·base^(−2/n_rot) starting at θ = pos (ggml_rope_cache_init); K and V are
 * stored as F16; attention.c rounds Q and the softmax probabilities to F16 as ggml does.
 *
 * Cache layout: k_cache/v_cache[layer][seq][pos][n_head_kv·head_dim] (F16). A token at
 * position p of sequence s attends to cache slots 0..p of sequence s, so callers fill each
 * sequence's positions in order (every user here does).
 */
#include "forward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "clock.h"
#include "fp16.h"
#include "matmul.h"
#include "rmsnorm.h"
#include "threads.h"
#include "vexp.h"

struct qk_context {
    const qk_model *m;
    qk_context_params p;
    qk_pool *pool;
    int32_t n_q, n_kv;       /* n_head·head_dim, n_head_kv·head_dim */
    qk_half *k_cache, *v_cache;
    /* per-batch activations, sized for n_batch tokens */
    float *x;                /* residual stream [n_batch][n_embd] */
    float *xb;               /* normalised input of a sub-layer [n_batch][n_embd] */
    float *q, *k, *v;        /* [n_batch][n_q], [n_batch][n_kv] x2 */
    float *att;              /* attention output [n_batch][n_q] */
    float *hb, *hb2;         /* FFN gate / up [n_batch][n_ff] */
    float *rope_cs;          /* [n_batch][n_rot]: cos, sin of each batch token's RoPE angles */
    qk_attn_scratch attn;
    qk_matmul_scratch mm;
    float *logits;           /* [n_outputs][n_vocab] */
    size_t logits_cap;       /* floats */
    int32_t n_outputs;
    qk_profile *prof;        /* NULL: not profiling */
    qk_matmul_hook hook;     /* NULL: none (qk_context_set_matmul_hook) */
    void *hook_arg;
};

static size_t cache_index(const qk_context *c, int il, int seq, int pos) {
    return (((size_t)il * (size_t)c->p.n_seq + (size_t)seq) * (size_t)c->p.n_ctx + (size_t)pos) *
           (size_t)c->n_kv;
}

qk_context *qk_context_new(const qk_model *m, qk_context_params p, qk_err *err) {
    const qk_hparams *hp = &m->hp;
    if (p.n_ctx <= 0 || p.n_seq <= 0 || p.n_batch <= 0) {
        qk_errf(err, "invalid context size (n_ctx %d, n_seq %d, n_batch %d)", p.n_ctx, p.n_seq, p.n_batch);
        return NULL;
    }
    qk_context *c = calloc(1, sizeof *c);
    if (!c) {
        qk_errf(err, "out of memory");
        return NULL;
    }
    c->m = m;
    c->p = p;
    c->n_q = hp->n_head * hp->head_dim;
    c->n_kv = hp->n_head_kv * hp->head_dim;
    /* KV cache elements n_layer·n_seq·n_ctx·n_kv, and its bytes (two caches), must not wrap:
     * with n_ctx and n_seq up to 2^31 the product can exceed 2^64, and a wrapped size would
     * allocate a small buffer that cache_index() then indexes far past. */
    size_t cache;
    if (__builtin_mul_overflow((size_t)hp->n_layer, (size_t)p.n_seq, &cache) ||
        __builtin_mul_overflow(cache, (size_t)p.n_ctx, &cache) ||
        __builtin_mul_overflow(cache, (size_t)c->n_kv, &cache) || cache > SIZE_MAX / (2 * sizeof(qk_half))) {
        qk_errf(err, "context too large: n_ctx %d x n_seq %d x %d layers does not fit in memory", p.n_ctx, p.n_seq,
                hp->n_layer);
        free(c);
        return NULL;
    }
    c->pool = qk_pool_new(p.n_threads);
    size_t nb = (size_t)p.n_batch;
    c->k_cache = malloc(cache * sizeof(qk_half));
    c->v_cache = malloc(cache * sizeof(qk_half));
    c->x = malloc(nb * hp->n_embd * sizeof(float));
    c->xb = malloc(nb * hp->n_embd * sizeof(float));
    c->q = malloc(nb * c->n_q * sizeof(float));
    c->k = malloc(nb * c->n_kv * sizeof(float));
    c->v = malloc(nb * c->n_kv * sizeof(float));
    c->att = malloc(nb * c->n_q * sizeof(float));
    c->hb = malloc(nb * hp->n_ff * sizeof(float));
    c->hb2 = malloc(nb * hp->n_ff * sizeof(float));
    c->rope_cs = malloc(nb * (size_t)(hp->n_rot > 0 ? hp->n_rot : 1) * sizeof(float));
    if (!c->pool || !c->k_cache || !c->v_cache || !c->x || !c->xb || !c->q || !c->k || !c->v || !c->att ||
        !c->hb || !c->hb2 || !c->rope_cs) {
        qk_errf(err, "out of memory for a context of n_ctx %d x n_seq %d (KV cache %.1f MiB)", p.n_ctx,
                p.n_seq, 2.0 * cache * sizeof(qk_half) / 1048576.0);
        qk_context_free(c);
        return NULL;
    }
    return c;
}

void qk_context_free(qk_context *c) {
    if (!c) return;
    if (c->pool) qk_pool_free(c->pool);
    free(c->k_cache);
    free(c->v_cache);
    free(c->x);
    free(c->xb);
    free(c->q);
    free(c->k);
    free(c->v);
    free(c->att);
    free(c->hb);
    free(c->hb2);
    free(c->rope_cs);
    qk_attn_scratch_free(&c->attn);
    qk_matmul_scratch_free(&c->mm);
    free(c->logits);
    free(c);
}

void qk_kv_clear(qk_context *c) { (void)c; /* slots are overwritten before they are read */ }

int32_t qk_context_n_threads(const qk_context *c) { return qk_pool_size(c->pool); }

const float *qk_get_logits(const qk_context *c, int32_t *n_outputs) {
    if (n_outputs) *n_outputs = c->n_outputs;
    return c->logits;
}

/* ---------------------------------------------------------------- building blocks --- */

/* cs[2i], cs[2i+1] = cos, sin of the angle θ_i of position pos, i < n_rot/2, by the
 * recurrence θ_0 = pos, θ_{i+1} = θ_i·base^(−2/n_rot) (ggml_rope_cache_init). */
static void rope_angles(float *cs, int n_rot, int pos, float base) {
    const float theta_scale = powf(base, -2.0f / (float)n_rot);
    float theta = (float)pos;
    for (int i = 0; i < n_rot / 2; i++) {
        cs[2 * i] = cosf(theta);
        cs[2 * i + 1] = sinf(theta);
        theta *= theta_scale;
    }
}

/* Rotate the first n_rot dims of each head of one token's vector by the angles cs
 * (rope_angles; ggml_rope, mode NORM rotates pairs (2i, 2i+1), NEOX pairs (i, i + n_rot/2)). */
static void rope(float *v, int n_heads, int head_dim, int n_rot, const float *cs, qk_rope_type type) {
    for (int h = 0; h < n_heads; h++) {
        float *x = v + (size_t)h * head_dim;
        for (int i = 0; i < n_rot / 2; i++) {
            int i0 = type == QK_ROPE_NEOX ? i : 2 * i;
            int i1 = type == QK_ROPE_NEOX ? i + n_rot / 2 : 2 * i + 1;
            float c = cs[2 * i], s = cs[2 * i + 1];
            float x0 = x[i0], x1 = x[i1];
            x[i0] = x0 * c - x1 * s;
            x[i1] = x0 * s + x1 * c;
        }
    }
}

void qk_context_set_profile(qk_context *c, qk_profile *p) { c->prof = p; }

void qk_context_set_matmul_hook(qk_context *c, qk_matmul_hook fn, void *arg) {
    c->hook = fn;
    c->hook_arg = fn ? arg : NULL;
}

/* y = x·wᵀ for m rows; the matmul hook sees the input first (outside the profile's
 * timing, so that a profile of a hooked run still measures the matmuls alone). same_x:
 * x is unchanged since the previous matmul (matmul.h: its conversion may be reused). */
static int matmul(qk_context *c, const gguf_tensor *w, const float *x, int m, float *y, int same_x) {
    if (c->hook) c->hook(c->hook_arg, w, x, m);
    const uint64_t t0 = c->prof ? qk_now_ns() : 0;
    c->mm.same_x = same_x;
    const int rc = qk_matmul(c->pool, &c->mm, w->type, w->data, w->ne[0], w->ne[1], x, m, y);
    if (c->prof && w->type < QK_TYPE_COUNT) {
        c->prof->matmul_ns[w->type] += qk_now_ns() - t0;
        c->prof->matmul_calls[w->type]++;
        c->prof->matmul_bytes[w->type] += (double)qk_row_size(w->type, w->ne[0]) * (double)w->ne[1];
    }
    return rc;
}

/* Row-wise steps between the matmuls, for batch rows [i0, i1). */
typedef void (*rows_fn)(qk_context *c, const qk_batch *b, int il, int i0, int i1);

/* q, k, v += biases; RoPE on q and k; k and v stored (F16) in the cache. */
static void qkv_rows(qk_context *c, const qk_batch *b, int il, int i0, int i1) {
    const qk_hparams *hp = &c->m->hp;
    const qk_layer *L = &c->m->layers[il];
    const qk_type_traits *f16 = qk_type_get(QK_TYPE_F16);
    for (int i = i0; i < i1; i++) {
        float *q = c->q + (size_t)i * c->n_q, *k = c->k + (size_t)i * c->n_kv, *v = c->v + (size_t)i * c->n_kv;
        if (L->bq) for (int d = 0; d < c->n_q; d++) q[d] += ((const float *)L->bq->data)[d];
        if (L->bk) for (int d = 0; d < c->n_kv; d++) k[d] += ((const float *)L->bk->data)[d];
        if (L->bv) for (int d = 0; d < c->n_kv; d++) v[d] += ((const float *)L->bv->data)[d];
        const float *cs = c->rope_cs + (size_t)i * (size_t)hp->n_rot;
        rope(q, hp->n_head, hp->head_dim, hp->n_rot, cs, hp->rope_type);
        rope(k, hp->n_head_kv, hp->head_dim, hp->n_rot, cs, hp->rope_type);
        size_t at = cache_index(c, il, b->seq[i], b->pos[i]);
        f16->from_float(k, c->k_cache + at, c->n_kv);
        f16->from_float(v, c->v_cache + at, c->n_kv);
    }
}

/* hb = silu(hb) ⊙ hb2 (SwiGLU), row by row (vexp.h: ggml's vector exp). */
static void swiglu_rows(qk_context *c, const qk_batch *b, int il, int i0, int i1) {
    (void)b;
    (void)il;
    const size_t n_ff = (size_t)c->m->hp.n_ff;
    for (size_t i = (size_t)i0; i < (size_t)i1; i++)
        qk_vec_swiglu((int64_t)n_ff, c->hb + i * n_ff, c->hb + i * n_ff, c->hb2 + i * n_ff);
}

/* Rows [i0, i1): the RoPE angles of each token's position, once per decode (every layer
 * rotates by the same ones). */
static void rope_rows(qk_context *c, const qk_batch *b, int il, int i0, int i1) {
    (void)il;
    const qk_hparams *hp = &c->m->hp;
    for (int i = i0; i < i1; i++)
        rope_angles(c->rope_cs + (size_t)i * (size_t)hp->n_rot, hp->n_rot, b->pos[i], hp->rope_freq_base);
}

/* Rows [i0, i1): the previous sublayer's output added to the residual stream (x += xb,
 * except before the first layer), then xb = RMSNorm(x)·attn_norm of layer il. */
static void attn_in_rows(qk_context *c, const qk_batch *b, int il, int i0, int i1) {
    (void)b;
    const int E = c->m->hp.n_embd;
    if (il > 0)
        for (size_t i = (size_t)i0 * E; i < (size_t)i1 * E; i++) c->x[i] += c->xb[i];
    qk_rmsnorm(c->xb, c->x, c->m->layers[il].attn_norm->data, E, i0, i1, c->m->hp.rms_eps);
}

/* Rows [i0, i1): x += xb (the attention output), then xb = RMSNorm(x)·ffn_norm. */
static void ffn_in_rows(qk_context *c, const qk_batch *b, int il, int i0, int i1) {
    (void)b;
    const int E = c->m->hp.n_embd;
    for (size_t i = (size_t)i0 * E; i < (size_t)i1 * E; i++) c->x[i] += c->xb[i];
    qk_rmsnorm(c->xb, c->x, c->m->layers[il].ffn_norm->data, E, i0, i1, c->m->hp.rms_eps);
}

/* Rows [i0, i1): x += xb (the last layer's feed-forward output). */
static void residual_rows(qk_context *c, const qk_batch *b, int il, int i0, int i1) {
    (void)b;
    (void)il;
    const int E = c->m->hp.n_embd;
    for (size_t i = (size_t)i0 * E; i < (size_t)i1 * E; i++) c->x[i] += c->xb[i];
}

typedef struct rows_job {
    qk_context *c;
    const qk_batch *b;
    int il, n;
    rows_fn fn;
} rows_job;

static void rows_task(void *arg, int ith, int nth) {
    rows_job *j = arg;
    int i0 = j->n * ith / nth, i1 = j->n * (ith + 1) / nth;
    if (i0 < i1) j->fn(j->c, j->b, j->il, i0, i1);
}

/* Run fn over all n rows: on the pool for real batches, inline for a few tokens (waking
 * the workers costs more than the work then). */
static void for_rows(qk_context *c, const qk_batch *b, int il, int n, rows_fn fn) {
    if (n < 8) {
        fn(c, b, il, 0, n);
        return;
    }
    rows_job j = {c, b, il, n, fn};
    qk_pool_run(c->pool, rows_task, &j);
}

/* ---------------------------------------------------------------- the forward pass --- */

static int decode(qk_context *c, const qk_batch *b, qk_err *err) {
    const qk_model *m = c->m;
    const qk_hparams *hp = &m->hp;
    const int n = b->n, E = hp->n_embd;
    if (n <= 0 || n > c->p.n_batch)
        return qk_errf(err, "batch of %d tokens (n_batch is %d)", n, c->p.n_batch);
    for (int i = 0; i < n; i++) {
        if (b->token[i] < 0 || b->token[i] >= hp->n_vocab)
            return qk_errf(err, "token id %d out of range (n_vocab %d)", b->token[i], hp->n_vocab);
        if (b->pos[i] < 0 || b->pos[i] >= c->p.n_ctx)
            return qk_errf(err, "position %d out of range (n_ctx %d)", b->pos[i], c->p.n_ctx);
        if (b->seq[i] < 0 || b->seq[i] >= c->p.n_seq)
            return qk_errf(err, "sequence id %d out of range (n_seq %d)", b->seq[i], c->p.n_seq);
    }

    /* x = token_embd[token] */
    const qk_type_traits *et = qk_type_get(m->tok_embd->type);
    size_t erow = qk_row_size(m->tok_embd->type, E);
    for (int i = 0; i < n; i++)
        et->to_float((const uint8_t *)m->tok_embd->data + (size_t)b->token[i] * erow, c->x + (size_t)i * E, E);

    for_rows(c, b, 0, n, rope_rows);
    for (int il = 0; il < hp->n_layer; il++) {
        const qk_layer *L = &m->layers[il];
        /* attention: (x += the previous layer's output), xb = RMSNorm(x)·w; q,k,v = W·xb + b */
        for_rows(c, b, il, n, attn_in_rows);
        if (matmul(c, L->wq, c->xb, n, c->q, 0) || matmul(c, L->wk, c->xb, n, c->k, 1) ||
            matmul(c, L->wv, c->xb, n, c->v, 1))
            return qk_errf(err, "out of memory");
        /* RoPE on q and k, then store k, v (F16) in the cache */
        for_rows(c, b, il, n, qkv_rows);
        /* att = softmax(q·kᵀ/√hd)·v per head, causal within each sequence */
        qk_attn_args aa = {n, b->pos, b->seq, hp->n_head, hp->n_head_kv, hp->head_dim, c->q,
                           c->k_cache + cache_index(c, il, 0, 0), c->v_cache + cache_index(c, il, 0, 0),
                           (size_t)c->p.n_ctx * (size_t)c->n_kv, c->att};
        const uint64_t ta = c->prof ? qk_now_ns() : 0;
        if (qk_attention(c->pool, &c->attn, &aa)) return qk_errf(err, "out of memory");
        if (c->prof) {
            c->prof->attn_ns += qk_now_ns() - ta;
            c->prof->attn_calls++;
        }
        /* x += Wo·att, then FFN: x += W_down·(silu(W_gate·xb) ⊙ W_up·xb), xb = RMSNorm(x)·w
         * (the add of W_down's output happens in the next layer's attn_in_rows) */
        if (matmul(c, L->wo, c->att, n, c->xb, 0)) return qk_errf(err, "out of memory");
        for_rows(c, b, il, n, ffn_in_rows);
        if (matmul(c, L->ffn_gate, c->xb, n, c->hb, 0) || matmul(c, L->ffn_up, c->xb, n, c->hb2, 1))
            return qk_errf(err, "out of memory");
        for_rows(c, b, il, n, swiglu_rows);
        if (matmul(c, L->ffn_down, c->hb, n, c->xb, 0)) return qk_errf(err, "out of memory");
    }
    if (hp->n_layer > 0) for_rows(c, b, hp->n_layer, n, residual_rows);

    /* logits = lm_head · RMSNorm(x) for the requested tokens only */
    int n_out = 0;
    for (int i = 0; i < n; i++) {
        int want = b->logits ? b->logits[i] != 0 : i == n - 1;
        if (want) memmove(c->x + (size_t)n_out++ * E, c->x + (size_t)i * E, (size_t)E * sizeof(float));
    }
    c->n_outputs = n_out;
    if (n_out == 0) return 0;
    size_t need = (size_t)n_out * (size_t)hp->n_vocab;
    if (need > c->logits_cap) {
        float *p = realloc(c->logits, need * sizeof(float));
        if (!p) return qk_errf(err, "out of memory for %d x %d logits", n_out, hp->n_vocab);
        c->logits = p;
        c->logits_cap = need;
    }
    qk_rmsnorm(c->xb, c->x, m->output_norm->data, E, 0, n_out, hp->rms_eps);
    if (matmul(c, m->output, c->xb, n_out, c->logits, 0)) return qk_errf(err, "out of memory");
    return 0;
}

int qk_decode(qk_context *c, const qk_batch *b, qk_err *err) {
    if (!c->prof) return decode(c, b, err);
    const uint64_t t0 = qk_now_ns();
    const int rc = decode(c, b, err);
    c->prof->decode_ns += qk_now_ns() - t0;
    c->prof->n_decode++;
    c->prof->n_tokens += (uint64_t)(b->n > 0 ? b->n : 0);
    return rc;
}
