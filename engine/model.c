/*
 * model.c — load a llama / qwen2 GGUF: hyper-parameters, tensor binding, shape checks.
 *
 * Invariant after qk_model_load(): every bound tensor has exactly the shape the forward
 * pass expects (see model.h) and a type with a dot-product kernel, so forward.c never
 * re-checks shapes. Hyper-parameter keys and defaults follow llama.cpp's load_hparams
 * (src/llama-model.cpp): rope.freq_base defaults to 10000, rope.dimension_count to the
 * head size, head_count_kv to head_count.
 */
#include "model.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int get_arch_u32(const gguf_ctx *g, const char *arch, const char *suffix, uint32_t *out,
                        bool required, qk_err *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (gguf_get_u32(g, key, out) == 0) return 0;
    /* present but not a u32-representable integer: an error even for optional keys, as in
     * llama.cpp (a silently ignored head_count_kv or rope.dimension_count would give a
     * different model, not an error) */
    if (gguf_find_key(g, key) >= 0)
        return qk_errf(err, "%s: metadata key '%s' has the wrong type or value", g->path, key);
    if (!required) return 1;
    return qk_errf(err, "%s: missing metadata key '%s'", g->path, key);
}

static int get_arch_f32(const gguf_ctx *g, const char *arch, const char *suffix, float *out, float def,
                        bool required, qk_err *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (gguf_get_f32(g, key, out) == 0) return 0;
    if (gguf_find_key(g, key) >= 0)
        return qk_errf(err, "%s: metadata key '%s' has the wrong type", g->path, key);
    if (required) return qk_errf(err, "%s: missing metadata key '%s'", g->path, key);
    *out = def;
    return 0;
}

/* Find a tensor, check its shape (ne0, ne1; ne1 = 0 means 1-D) and that the engine can
 * compute with its type. Sets *out to NULL and returns 0 when optional and absent. */
static int bind(const qk_model *m, const char *name, int64_t ne0, int64_t ne1, bool optional,
                const gguf_tensor **out, qk_err *err) {
    const gguf_tensor *t = gguf_find_tensor(m->gguf, name);
    *out = t;
    if (!t) {
        if (optional) return 0;
        return qk_errf(err, "%s: missing tensor '%s' — not a complete %s model", m->gguf->path, name,
                       m->hp.arch);
    }
    int64_t want1 = ne1 ? ne1 : 1;
    if (t->ne[0] != ne0 || t->ne[1] != want1 || t->ne[2] != 1 || t->ne[3] != 1)
        return qk_errf(err, "%s: tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]",
                       m->gguf->path, name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                       (long long)t->ne[3], (long long)ne0, (long long)want1);
    const qk_type_traits *tt = qk_type_get(t->type);
    if (!tt->vec_dot)
        return qk_errf(err, "%s: tensor '%s' has type %s, which cannot be used for inference",
                       m->gguf->path, name, tt->name);
    if (ne1 == 0 && t->type != QK_TYPE_F32)
        return qk_errf(err, "%s: tensor '%s' has type %s; norms and biases must be F32", m->gguf->path,
                       name, tt->name);
    return 0;
}

static int bind_layer(qk_model *m, int il, qk_err *err) {
    const qk_hparams *hp = &m->hp;
    qk_layer *L = &m->layers[il];
    int64_t n_q = (int64_t)hp->n_head * hp->head_dim, n_kv = (int64_t)hp->n_head_kv * hp->head_dim;
    char name[96];
#define BIND(field, suffix, ne0, ne1, opt)                                   \
    do {                                                                     \
        snprintf(name, sizeof name, "blk.%d.%s", il, suffix);                \
        if (bind(m, name, ne0, ne1, opt, &L->field, err)) return -1;         \
    } while (0)
    BIND(attn_norm, "attn_norm.weight", hp->n_embd, 0, false);
    BIND(wq, "attn_q.weight", hp->n_embd, n_q, false);
    BIND(wk, "attn_k.weight", hp->n_embd, n_kv, false);
    BIND(wv, "attn_v.weight", hp->n_embd, n_kv, false);
    BIND(wo, "attn_output.weight", n_q, hp->n_embd, false);
    BIND(bq, "attn_q.bias", n_q, 0, true);
    BIND(bk, "attn_k.bias", n_kv, 0, true);
    BIND(bv, "attn_v.bias", n_kv, 0, true);
    BIND(ffn_norm, "ffn_norm.weight", hp->n_embd, 0, false);
    BIND(ffn_gate, "ffn_gate.weight", hp->n_embd, hp->n_ff, false);
    BIND(ffn_up, "ffn_up.weight", hp->n_embd, hp->n_ff, false);
    BIND(ffn_down, "ffn_down.weight", hp->n_ff, hp->n_embd, false);
#undef BIND
    return 0;
}

static int load_hparams(qk_model *m, qk_err *err) {
    gguf_ctx *g = m->gguf;
    qk_hparams *hp = &m->hp;
    gguf_str arch;
    if (gguf_get_str(g, "general.architecture", &arch) != 0)
        return qk_errf(err, "%s: missing 'general.architecture' — not a model file", g->path);
    if (arch.len >= sizeof hp->arch) arch.len = sizeof hp->arch - 1;
    memcpy(hp->arch, arch.ptr, arch.len);
    hp->arch[arch.len] = 0;
    if (strcmp(hp->arch, "llama") == 0) hp->rope_type = QK_ROPE_NORM;
    else if (strcmp(hp->arch, "qwen2") == 0) hp->rope_type = QK_ROPE_NEOX;
    else return qk_errf(err, "%s: architecture '%s' is not supported (qkit runs llama and qwen2)", g->path, hp->arch);

    uint32_t v;
    const char *a = hp->arch;
    if (get_arch_u32(g, a, "embedding_length", &v, true, err)) return -1;
    hp->n_embd = (int32_t)v;
    if (get_arch_u32(g, a, "block_count", &v, true, err)) return -1;
    hp->n_layer = (int32_t)v;
    if (get_arch_u32(g, a, "feed_forward_length", &v, true, err)) return -1;
    hp->n_ff = (int32_t)v;
    if (get_arch_u32(g, a, "attention.head_count", &v, true, err)) return -1;
    hp->n_head = (int32_t)v;
    int r = get_arch_u32(g, a, "attention.head_count_kv", &v, false, err);
    if (r < 0) return -1;
    hp->n_head_kv = r == 0 ? (int32_t)v : hp->n_head;
    r = get_arch_u32(g, a, "context_length", &v, false, err);
    if (r < 0) return -1;
    hp->n_ctx_train = r == 0 ? (int32_t)v : 2048;
    if (get_arch_f32(g, a, "attention.layer_norm_rms_epsilon", &hp->rms_eps, 1e-5f, true, err)) return -1;
    if (get_arch_f32(g, a, "rope.freq_base", &hp->rope_freq_base, 10000.0f, false, err)) return -1;

    if (hp->n_embd <= 0 || hp->n_layer <= 0 || hp->n_ff <= 0 || hp->n_head <= 0 || hp->n_head_kv <= 0 ||
        hp->n_embd > (1 << 20) || hp->n_layer > 4096 || hp->n_ff > (1 << 22) || hp->n_head > 4096 ||
        hp->n_ctx_train <= 0)
        return qk_errf(err, "%s: implausible hyper-parameters (n_embd %d, n_layer %d, n_ff %d, n_head %d, n_head_kv %d, n_ctx_train %d)",
                       g->path, hp->n_embd, hp->n_layer, hp->n_ff, hp->n_head, hp->n_head_kv, hp->n_ctx_train);
    if (hp->n_embd % hp->n_head || hp->n_head % hp->n_head_kv)
        return qk_errf(err, "%s: n_embd %d / n_head %d / n_head_kv %d do not divide evenly", g->path,
                       hp->n_embd, hp->n_head, hp->n_head_kv);
    hp->head_dim = hp->n_embd / hp->n_head;
    r = get_arch_u32(g, a, "rope.dimension_count", &v, false, err);
    if (r < 0) return -1;
    hp->n_rot = r == 0 ? (int32_t)v : hp->head_dim;
    if (hp->n_rot <= 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2 || hp->n_rot > 1024)
        return qk_errf(err, "%s: rope.dimension_count %d is invalid for head size %d", g->path, hp->n_rot,
                       hp->head_dim);
    if (!(hp->rms_eps > 0.0f && hp->rms_eps <= FLT_MAX) || !(hp->rope_freq_base > 0.0f && hp->rope_freq_base <= FLT_MAX))
        return qk_errf(err, "%s: rms epsilon and rope.freq_base must be positive and finite", g->path);
    return 0;
}

qk_model *qk_model_load(const char *path, qk_err *err) { return qk_model_open(path, false, err); }

qk_model *qk_model_open(const char *path, bool use_mmap, qk_err *err) {
    qk_model *m = calloc(1, sizeof *m);
    if (!m) {
        qk_errf(err, "out of memory");
        return NULL;
    }
    m->gguf = gguf_open(path, err);
    if (!m->gguf || load_hparams(m, err)) goto fail;
    qk_hparams *hp = &m->hp;

    m->tok_embd = gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!m->tok_embd) {
        qk_errf(err, "%s: missing tensor 'token_embd.weight'", path);
        goto fail;
    }
    if (m->tok_embd->ne[1] > INT32_MAX) {
        qk_errf(err, "%s: token_embd.weight has %lld rows, more than a vocabulary can have", path,
                (long long)m->tok_embd->ne[1]);
        goto fail;
    }
    hp->n_vocab = (int32_t)m->tok_embd->ne[1];
    if (bind(m, "token_embd.weight", hp->n_embd, hp->n_vocab, false, &m->tok_embd, err)) goto fail;
    if (bind(m, "output_norm.weight", hp->n_embd, 0, false, &m->output_norm, err)) goto fail;
    if (bind(m, "output.weight", hp->n_embd, hp->n_vocab, true, &m->output, err)) goto fail;
    if (!m->output) {
        m->output = m->tok_embd;
        m->tied_output = true;
    }
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) {
        qk_errf(err, "out of memory");
        goto fail;
    }
    for (int il = 0; il < hp->n_layer; il++)
        if (bind_layer(m, il, err)) goto fail;

    m->vocab = qk_vocab_load(m->gguf, err);
    if (!m->vocab) goto fail;
    if (qk_vocab_n_tokens(m->vocab) != hp->n_vocab) {
        qk_errf(err, "%s: the vocabulary has %d tokens but token_embd.weight has %d rows", path,
                qk_vocab_n_tokens(m->vocab), hp->n_vocab);
        goto fail;
    }
    if (gguf_get_u32(m->gguf, "general.file_type", &m->file_type) != 0) m->file_type = 0xffffffffu;
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
        m->n_params += (uint64_t)gguf_tensor_nelements(&m->gguf->tensors[i]);
        m->n_bytes += m->gguf->tensors[i].nbytes;
    }
    /* last, so that a file the loader refuses is not read in full first */
    m->use_mmap = use_mmap;
    if (!use_mmap && gguf_read_data(m->gguf, err)) goto fail;
    return m;
fail:
    qk_model_free(m);
    return NULL;
}

void qk_model_free(qk_model *m) {
    if (!m) return;
    qk_vocab_free(m->vocab);
    free(m->layers);
    gguf_close(m->gguf);
    free(m);
}

int qk_model_swap_tensor(qk_model *m, const gguf_tensor *old, const gguf_tensor *repl) {
    if (!old || !repl) return 0;
    for (int d = 0; d < GGUF_MAX_DIMS; d++)
        if (old->ne[d] != repl->ne[d]) return 0;
    int n = 0;
#define QK_SWAP(slot)                                                                          \
    do {                                                                                       \
        if ((slot) == old) { (slot) = repl; n++; }                                             \
    } while (0)
    QK_SWAP(m->tok_embd);
    QK_SWAP(m->output);
    for (int32_t il = 0; il < m->hp.n_layer; il++) {
        qk_layer *L = &m->layers[il];
        QK_SWAP(L->wq); QK_SWAP(L->wk); QK_SWAP(L->wv); QK_SWAP(L->wo);
        QK_SWAP(L->ffn_gate); QK_SWAP(L->ffn_up); QK_SWAP(L->ffn_down);
    }
#undef QK_SWAP
    return n;
}

/* Size label as llama.cpp's load_hparams assigns it (src/llama-model.cpp [U]); "?B" when
 * no rule matches, as llama.cpp prints for unknown shapes. */
static const char *size_label(const qk_hparams *hp) {
    if (strcmp(hp->arch, "qwen2") == 0) {
        switch (hp->n_layer) {
        case 24: return hp->n_embd == 1024 ? "0.5B" : "1B";
        case 28: return hp->n_embd == 1536 ? "1.5B" : "7B";
        case 32: return "7B";
        case 36: return "3B";
        case 40: return hp->n_head == 20 ? "4B" : "13B";
        case 48: return "14B";
        case 64: return "32B";
        case 80: return hp->n_head == 64 ? "110B" : "70B";
        default: return "?B";
        }
    }
    switch (hp->n_layer) {
    case 16: return "1B";
    case 22: return "1B";
    case 26: return "3B";
    case 28: return "3B";
    case 32: return hp->n_vocab < 40000 ? "7B" : "8B";
    case 40: return "13B";
    case 48: return "34B";
    case 60: return "30B";
    case 80: return hp->n_head == hp->n_head_kv ? "65B" : "70B";
    default: return "?B";
    }
}

void qk_model_desc(const qk_model *m, char *buf, size_t cap) {
    uint32_t ft = m->file_type;
    if (ft == 0xffffffffu) {
        /* llama.cpp guesses from the most common matrix type; F32 models say "all F32" */
        ft = m->tok_embd->type == QK_TYPE_F16 ? 1 : 0;
    }
    snprintf(buf, cap, "%s %s %s", m->hp.arch, size_label(&m->hp), qk_ftype_name(ft));
}
