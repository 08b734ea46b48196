/*
 * model.h — hyper-parameters and tensor binding for the supported architectures.
 *
 * A qk_model is loaded once (GGUF mapped, its weights read into memory unless use_mmap)
 * and is read-only afterwards; any number of qk_context (forward.h) may share it.
 * Architectures: "llama" (RoPE NORM, adjacent pairs) and "qwen2" (RoPE NEOX, half-split,
 * q/k/v biases). Tensor names and hyper-parameter keys
 * are llama.cpp's (src/llama-arch.cpp; llama-cpp-reference.md §3):
 *   token_embd.weight [n_embd, n_vocab], output_norm.weight [n_embd],
 *   output.weight [n_embd, n_vocab] (optional: tied to token_embd when absent),
 *   blk.N.attn_norm.weight [n_embd], blk.N.attn_{q,k,v}.weight [n_embd, n_head*hd | n_head_kv*hd],
 *   blk.N.attn_{q,k,v}.bias (optional), blk.N.attn_output.weight [n_head*hd, n_embd],
 *   blk.N.ffn_norm.weight [n_embd], blk.N.ffn_{gate,up}.weight [n_embd, n_ff],
 *   blk.N.ffn_down.weight [n_ff, n_embd].
 * Keys: <arch>.{context_length, embedding_length, block_count, feed_forward_length,
 *   attention.head_count, attention.head_count_kv, attention.layer_norm_rms_epsilon,
 *   rope.freq_base (default 10000), rope.dimension_count (default head dim)}.
 * Shapes are checked against the hyper-parameters; a mismatch is an error naming the tensor.
 */
#ifndef QK_MODEL_H
#define QK_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "gguf.h"
#include "tokenizer.h"

typedef enum qk_rope_type { QK_ROPE_NORM = 0, QK_ROPE_NEOX = 2 } qk_rope_type;

typedef struct qk_hparams {
    char arch[32];
    int32_t n_vocab;     /* rows of token_embd */
    int32_t n_ctx_train;
    int32_t n_embd;
    int32_t n_layer;
    int32_t n_ff;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim;    /* n_embd / n_head */
    int32_t n_rot;       /* rotated dims per head */
    float rms_eps;
    float rope_freq_base;
    qk_rope_type rope_type;
} qk_hparams;

typedef struct qk_layer {
    const gguf_tensor *attn_norm;
    const gguf_tensor *wq, *wk, *wv, *wo;
    const gguf_tensor *bq, *bk, *bv; /* NULL when absent */
    const gguf_tensor *ffn_norm;
    const gguf_tensor *ffn_gate, *ffn_up, *ffn_down;
} qk_layer;

typedef struct qk_model {
    gguf_ctx *gguf;
    qk_hparams hp;
    const gguf_tensor *tok_embd;
    const gguf_tensor *output_norm;
    const gguf_tensor *output; /* == tok_embd when tied */
    bool tied_output;
    qk_layer *layers;          /* n_layer entries */
    qk_vocab *vocab;
    uint32_t file_type;        /* general.file_type, or 0xffffffff when absent */
    uint64_t n_params;         /* total elements of all tensors */
    uint64_t n_bytes;          /* total tensor data bytes */
    bool use_mmap;             /* the weights are read from the file mapping, not from memory */
} qk_model;

/* Load a model, its weights read into memory (gguf_read_data: faster passes than from the
 * file mapping). Errors: unreadable or invalid GGUF, unsupported architecture, missing
 * tensor or key, shape mismatch, tensor type the engine cannot compute with, no memory for
 * the weights, a file truncated while it is read. */
qk_model *qk_model_load(const char *path, qk_err *err);
/* The same with a choice: use_mmap keeps the weights in the file mapping (llama.cpp's
 * default), paged in as they are first read, and shared with other processes that map
 * the file. */
qk_model *qk_model_open(const char *path, bool use_mmap, qk_err *err);
void qk_model_free(qk_model *m);

/* Bind a different tensor in place of `old` (a weight the model binds: token_embd,
 * output, a layer's wq/wk/wv/wo/ffn_*; compared by pointer): every binding equal to old
 * (both token_embd and output when they are tied) now points to repl, which must have
 * old's shape (ne) and a type the engine computes with, and which the caller keeps alive
 * while bound. Swapping repl back for old restores the model. This is the only way a
 * loaded model changes: qk-sensitivity puts one quantized tensor into the F16 model to
 * measure what quantizing it alone costs. Not thread-safe against a running qk_decode.
 * Returns how many bindings changed (0: old is not bound, or the shapes differ). */
int qk_model_swap_tensor(qk_model *m, const gguf_tensor *old, const gguf_tensor *repl);

/* llama.cpp's model description, "<arch> <size> <ftype name>", e.g. "qwen2 1B Q4_K - Medium"
 * (llama_model_desc). */
void qk_model_desc(const qk_model *m, char *buf, size_t cap);

/* llama.cpp's ftype display name for general.file_type ("Q4_K - Medium", "F16", ...). */
const char *qk_ftype_name(uint32_t ftype);

#endif
