/*
 * mixture.c — llama.cpp's quantization mixtures as pure functions (see mixture.h).
 *
 * The rules are those of llama.cpp upstream 2025-02 [U], src/llama-quant.cpp:
 * llama_tensor_get_type (per-tensor type, fallback) and llama_model_quantize_impl (which
 * tensors are quantized, default type per ftype, overrides, the attn_v count). Only the
 * branches reachable from the ftypes qkit can write are kept (the IQ1/IQ2/IQ3/TQ recipes
 * are refused up front). The importance-matrix branches (Q4_0/Q5_0 and IQ4_NL ffn_down,
 * Q2_K_S) follow qk_mix_params.has_imatrix; the --tensor-type rules come after the
 * mixture and before the fallback (mixture.h, steps 4-5).
 *
 * Invariant: the layer counters (i_attention_wv, i_ffn_down, ...) advance only over
 * tensors that are quantized and go through the rules, in the sorted write order —
 * exactly as llama.cpp's loop over its sorted weights map does.
 */
#include "mixture.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ftype.h"

void qk_mix_params_init(qk_mix_params *p) {
    memset(p, 0, sizeof *p);
    p->ftype = QK_FTYPE_ALL_F32;
    p->output_tensor_type = -1;
    p->token_embedding_type = -1;
}

bool qk_mix_use_more_bits(int i_layer, int n_layer) {
    return i_layer < n_layer / 8 || i_layer >= 7 * n_layer / 8 || (i_layer - n_layer / 8) % 3 == 2;
}

const char *qk_mix_ggml_name(qk_type t, char buf[16]) {
    const char *s = qk_type_name(t);
    size_t n = strlen(s);
    if (n > 15) n = 15;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        /* ggml keeps the K of the K-quants upper case: "q4_K". */
        bool keep = c == 'K' && i > 0 && s[i - 1] == '_' && i + 1 == n;
        buf[i] = (!keep && c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    buf[n] = 0;
    return buf;
}

/* ------------------------------------------------------------------ order ------------ */

/* Layer of "blk.N...." as sscanf(name, "blk.%d.", &l) reads it; -1 when there is none. */
static int layer_of(const char *name) {
    if (strncmp(name, "blk.", 4) != 0) return -1;
    const char *p = name + 4;
    while (*p == ' ' || (*p >= '\t' && *p <= '\r')) p++;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    if (*p < '0' || *p > '9') return -1;
    long long v = 0;
    while (*p >= '0' && *p <= '9') {
        if (v < INT_MAX) v = v * 10 + (*p - '0');
        p++;
    }
    if (v > INT_MAX) v = INT_MAX;
    return (int)(neg ? -v : v);
}

typedef struct sort_item {
    int layer;
    const char *name;
    size_t idx;
} sort_item;

static int cmp_item(const void *a, const void *b) {
    const sort_item *x = a, *y = b;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx; /* stable for duplicate names */
}

void qk_mix_order(const qk_mix_tensor *t, size_t n, size_t *order) {
    sort_item *it = malloc(sizeof *it * (n ? n : 1));
    if (!it) { /* keep the input order rather than fail: the caller still gets a permutation */
        for (size_t i = 0; i < n; i++) order[i] = i;
        return;
    }
    for (size_t i = 0; i < n; i++) it[i] = (sort_item){layer_of(t[i].name), t[i].name, i};
    qsort(it, n, sizeof *it, cmp_item);
    for (size_t i = 0; i < n; i++) order[i] = it[i].idx;
    free(it);
}

/* ------------------------------------------------------------------ rules ------------ */

typedef struct mix_state {
    const qk_mix_params *p;
    const qk_mix_model *m;
    uint32_t ftype;
    bool has_output;      /* the model has output.weight (untied) */
    bool is_falcon;
    bool is_70b;          /* llama.cpp's LLM_TYPE_70B for the archs qkit knows */
    int n_gqa;            /* n_head / n_head_kv */
    int n_expert;
    int n_attention_wv, i_attention_wv;
    int n_layer, i_ffn_down, i_ffn_gate, i_ffn_up;
    int n_checked, n_fallback;
    bool mix_on;          /* llama_tensor_get_type runs (quantized default, not --pure) */
} mix_state;

static int64_t blck(qk_type t) { return qk_type_get(t)->blck_size; }

static bool contains(const char *s, const char *sub) { return strstr(s, sub) != NULL; }

/* Layer used by the ffn rules: the running counter, or (MoE) the number in the name. */
static int layer_info(const mix_state *s, int counter, const char *name, int *i_layer, qk_err *err) {
    *i_layer = counter;
    if (s->n_expert > 1) {
        int l = layer_of(name);
        if (strncmp(name, "blk.", 4) != 0 || l < 0 || l >= s->n_layer)
            return qk_errf(err, "cannot determine the layer of tensor '%s' (block_count %d)", name,
                           s->n_layer);
        *i_layer = l;
    }
    return 0;
}

/* llama_tensor_get_type without its fallback: the mixture's type for a quantizable tensor
 * into *out (which enters as the ftype's default type); advances the layer counters. */
static int mixture_type(mix_state *s, const qk_mix_tensor *t, qk_type *out, qk_err *err) {
    const qk_mix_params *p = s->p;
    const uint32_t ft = s->ftype;
    const char *name = t->name;
    qk_type new_type = *out;

    if (strcmp(name, "output.weight") == 0 || (!s->has_output && strcmp(name, "token_embd.weight") == 0)) {
        /* The output matrix (or the tied embedding that serves as it). */
        if (p->output_tensor_type >= 0) {
            new_type = (qk_type)p->output_tensor_type;
        } else if (s->is_falcon || t->ne[0] % blck(new_type) != 0) {
            new_type = QK_TYPE_Q8_0;
        } else if (new_type != QK_TYPE_Q8_0) {
            new_type = QK_TYPE_Q6_K;
        }
    } else if (strcmp(name, "token_embd.weight") == 0) {
        /* Untied input embedding: keeps the default (the IQ/TQ tweaks are not reachable). */
        if (p->token_embedding_type >= 0) new_type = (qk_type)p->token_embedding_type;
    } else if (contains(name, "attn_v.weight")) {
        int i = s->i_attention_wv, n = s->n_attention_wv;
        if (ft == QK_FTYPE_MOSTLY_Q2_K) {
            new_type = s->n_gqa >= 4 ? QK_TYPE_Q4_K : QK_TYPE_Q3_K;
        } else if (ft == QK_FTYPE_MOSTLY_Q2_K_S && s->n_gqa >= 4) {
            new_type = QK_TYPE_Q4_K;
        } else if (ft == QK_FTYPE_MOSTLY_Q3_K_M) {
            new_type = i < 2 ? QK_TYPE_Q5_K : QK_TYPE_Q4_K;
        } else if (ft == QK_FTYPE_MOSTLY_Q3_K_L) {
            new_type = QK_TYPE_Q5_K;
        } else if (ft == QK_FTYPE_MOSTLY_IQ4_NL && s->n_gqa >= 4) {
            new_type = QK_TYPE_Q5_K;
        } else if ((ft == QK_FTYPE_MOSTLY_Q4_K_M || ft == QK_FTYPE_MOSTLY_Q5_K_M) && qk_mix_use_more_bits(i, n)) {
            new_type = QK_TYPE_Q6_K;
        } else if (ft == QK_FTYPE_MOSTLY_Q4_K_S && i < 4) {
            new_type = QK_TYPE_Q5_K;
        }
        /* 70B: 8 heads share attn_v, which is 8x smaller than attn_q: give it more bits. */
        if (s->is_70b && (new_type == QK_TYPE_Q3_K || new_type == QK_TYPE_Q4_K)) new_type = QK_TYPE_Q5_K;
        if (s->n_expert == 8) new_type = QK_TYPE_Q8_0;
        s->i_attention_wv++;
    } else if (contains(name, "attn_k.weight")) {
        if (s->n_expert == 8) new_type = QK_TYPE_Q8_0;
    } else if (contains(name, "ffn_down")) {
        int i, n = s->n_layer;
        if (layer_info(s, s->i_ffn_down, name, &i, err)) return -1;
        if (ft == QK_FTYPE_MOSTLY_Q2_K) {
            new_type = QK_TYPE_Q3_K;
        } else if (ft == QK_FTYPE_MOSTLY_Q2_K_S) {
            if (i < n / 8) new_type = QK_TYPE_Q4_K;
        } else if (ft == QK_FTYPE_MOSTLY_Q3_K_M) {
            new_type = i < n / 16 ? QK_TYPE_Q5_K
                       : (!s->is_falcon || qk_mix_use_more_bits(i, n)) ? QK_TYPE_Q4_K
                                                                       : QK_TYPE_Q3_K;
        } else if (ft == QK_FTYPE_MOSTLY_Q3_K_L) {
            new_type = s->is_falcon ? QK_TYPE_Q4_K : QK_TYPE_Q5_K;
        } else if (ft == QK_FTYPE_MOSTLY_Q4_K_M) {
            if (s->is_falcon)
                new_type = i < n / 16 ? QK_TYPE_Q6_K : qk_mix_use_more_bits(i, n) ? QK_TYPE_Q5_K : QK_TYPE_Q4_K;
            else if (qk_mix_use_more_bits(i, n))
                new_type = QK_TYPE_Q6_K;
        } else if (i < n / 8 && ft == QK_FTYPE_MOSTLY_IQ4_NL && !p->has_imatrix) {
            new_type = QK_TYPE_Q5_K;
        } else if (ft == QK_FTYPE_MOSTLY_Q5_K_M && qk_mix_use_more_bits(i, n)) {
            new_type = QK_TYPE_Q6_K;
        } else if (ft == QK_FTYPE_MOSTLY_Q4_K_S && !s->is_falcon && i < n / 8) {
            new_type = QK_TYPE_Q5_K;
        } else if ((ft == QK_FTYPE_MOSTLY_Q4_0 || ft == QK_FTYPE_MOSTLY_Q5_0) && p->has_imatrix && i < n / 8) {
            /* upstream guards the first ffn_down layers of Q4_0/Q5_0, but only with an imatrix
             * (without one the output stays what it always was) */
            new_type = ft == QK_FTYPE_MOSTLY_Q4_0 ? QK_TYPE_Q4_1 : QK_TYPE_Q5_1;
        }
        s->i_ffn_down++;
    } else if (contains(name, "attn_output.weight")) {
        if (!s->is_falcon) {
            if (s->n_expert == 8) {
                if (ft == QK_FTYPE_MOSTLY_Q2_K || ft == QK_FTYPE_MOSTLY_Q3_K_S || ft == QK_FTYPE_MOSTLY_Q3_K_M ||
                    ft == QK_FTYPE_MOSTLY_IQ4_NL || ft == QK_FTYPE_MOSTLY_Q4_K_S || ft == QK_FTYPE_MOSTLY_Q4_K_M)
                    new_type = QK_TYPE_Q5_K;
            } else {
                if (ft == QK_FTYPE_MOSTLY_Q2_K) new_type = QK_TYPE_Q3_K;
                else if (ft == QK_FTYPE_MOSTLY_Q3_K_M) new_type = QK_TYPE_Q4_K;
                else if (ft == QK_FTYPE_MOSTLY_Q3_K_L) new_type = QK_TYPE_Q5_K;
            }
        } else if (ft == QK_FTYPE_MOSTLY_Q3_K_L) {
            new_type = QK_TYPE_Q4_K;
        }
    } else if (contains(name, "attn_qkv.weight")) {
        if (ft == QK_FTYPE_MOSTLY_Q3_K_M || ft == QK_FTYPE_MOSTLY_Q3_K_L) new_type = QK_TYPE_Q4_K;
        else if (ft == QK_FTYPE_MOSTLY_Q4_K_M) new_type = QK_TYPE_Q5_K;
        else if (ft == QK_FTYPE_MOSTLY_Q5_K_M) new_type = QK_TYPE_Q6_K;
    } else if (contains(name, "ffn_gate")) {
        int i; /* only the IQ3_XS recipe uses it; the counter still advances */
        if (layer_info(s, s->i_ffn_gate, name, &i, err)) return -1;
        s->i_ffn_gate++;
    } else if (contains(name, "ffn_up")) {
        int i;
        if (layer_info(s, s->i_ffn_up, name, &i, err)) return -1;
        s->i_ffn_up++;
    }
    *out = new_type;
    return 0;
}

/* The fallback type of t for rows its blocks do not divide ([U]: Q2_K/Q3_K -> IQ4_NL, ...),
 * QK_TYPE_COUNT for none. */
static qk_type fallback_of(qk_type t) {
    switch (t) {
    case QK_TYPE_Q2_K:
    case QK_TYPE_Q3_K: return QK_TYPE_IQ4_NL;
    case QK_TYPE_Q4_K: return QK_TYPE_Q5_0;
    case QK_TYPE_Q5_K: return QK_TYPE_Q5_1;
    case QK_TYPE_Q6_K: return QK_TYPE_Q8_0;
    default: return QK_TYPE_COUNT;
    }
}

/* The last rule whose pattern matches name: its 1-based index, or 0. Counts every match
 * (for the "matches no tensor" warning). */
static int match_rule(const qk_mix_params *p, const char *name) {
    int hit = 0;
    for (size_t r = 0; r < p->n_rules; r++)
        if (regexec(&p->rules[r].re, name, 0, NULL, 0) == 0) {
            p->rules[r].n_matched++;
            hit = (int)r + 1;
        }
    return hit;
}

/* The fallback step (the end of llama_tensor_get_type): c->type = new_type when its blocks
 * divide the rows, else the fallback type, counted. c->rule says whether a rule chose it. */
static int fit(mix_state *s, const qk_mix_tensor *t, qk_type new_type, qk_mix_choice *c, qk_err *err) {
    const qk_mix_params *p = s->p;
    const char *name = t->name;
    c->wanted = c->type = new_type;
    if (t->ne[0] % blck(new_type) == 0) {
        s->n_checked += s->mix_on;
        return 0;
    }
    qk_type fb = fallback_of(new_type);
    if (c->rule && (fb == QK_TYPE_COUNT || p->pure || p->no_fallback)) {
        const qk_mix_rule *r = &p->rules[c->rule - 1];
        return qk_errf(err,
                       "tensor '%s' has rows of %lld values: rule %d '%s' (%s) asks for %s, whose blocks of %lld "
                       "do not divide them, and %s — change the rule's pattern or type",
                       name, (long long)t->ne[0], c->rule, r->text, r->origin, qk_type_name(new_type),
                       (long long)blck(new_type),
                       fb == QK_TYPE_COUNT ? "that type has no fallback"
                       : p->pure          ? "--pure allows no fallback"
                                          : "--no-fallback was given");
    }
    if (fb == QK_TYPE_COUNT)
        return qk_errf(err,
                       "tensor '%s' has rows of %lld values, not a multiple of the %lld required by %s, and "
                       "%s has no fallback type (llama-quantize fails here too) — choose a K-quant type or F16",
                       name, (long long)t->ne[0], (long long)blck(new_type), qk_type_name(new_type),
                       qk_type_name(new_type));
    if (t->ne[0] % blck(fb) != 0) fb = QK_TYPE_F16;
    if (p->no_fallback)
        return qk_errf(err,
                       "tensor '%s' has rows of %lld values, not a multiple of the %lld required by %s; "
                       "it would fall back to %s but --no-fallback was given",
                       name, (long long)t->ne[0], (long long)blck(new_type), qk_type_name(new_type),
                       qk_type_name(fb));
    s->n_checked++;
    s->n_fallback++;
    c->fallback = true;
    c->type = fb;
    return 0;
}

/* llama_model_quantize_impl's test: is this tensor quantized at all? */
static bool is_quantizable(const qk_mix_params *p, const qk_mix_tensor *t) {
    const char *name = t->name;
    size_t len = strlen(name);
    if (len < 6 || strcmp(name + len - 6, "weight") != 0) return false;
    int n_dims = 1; /* ggml_n_dims: trailing ne == 1 do not count */
    for (int i = 3; i >= 1; i--)
        if (t->ne[i] != 1) {
            n_dims = i + 1;
            break;
        }
    if (n_dims < 2) return false;
    if (contains(name, "_norm.weight")) return false;
    if (p->leave_output_tensor && strcmp(name, "output.weight") == 0) return false;
    if (p->only_copy) return false;
    static const char *const never[] = {"ffn_gate_inp.weight", "ssm_conv1d.weight",
                                        "time_mix_first.weight", "time_mix_w1.weight",
                                        "time_mix_w2.weight", "time_mix_decay_w1.weight",
                                        "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
                                        "attn_rel_b.weight"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        if (contains(name, never[i])) return false;
    if (strcmp(name, "position_embd.weight") == 0 || strcmp(name, "token_types.weight") == 0) return false;
    return true;
}

/* A type a weight may be stored in (Q8_1 and Q8_K are activation-only types). */
static bool storage_type(int t) {
    return qk_type_get((uint32_t)t) != NULL && t != QK_TYPE_Q8_1 && t != QK_TYPE_Q8_K;
}

int qk_mix_plan(const qk_mix_params *p, const qk_mix_model *m, const qk_mix_tensor *t, size_t n,
                size_t *order, qk_mix_choice *choice, qk_mix_summary *sum, qk_err *err) {
    mix_state s = {0};
    s.p = p;
    s.m = m;
    s.ftype = p->ftype;
    s.n_layer = m->n_layer;
    s.n_expert = m->n_expert;
    s.n_gqa = m->n_head_kv > 0 ? m->n_head / m->n_head_kv : 0;
    const char *arch = m->arch ? m->arch : "";
    s.is_falcon = strcmp(arch, "falcon") == 0;
    /* llm_type 70B as llama.cpp's load_hparams sets it for these archs (80 layers; for
     * llama only with grouped-query attention, else it is the 65B). */
    s.is_70b = m->n_layer == 80 &&
               ((strcmp(arch, "llama") == 0 && m->n_head != m->n_head_kv) || strcmp(arch, "qwen2") == 0);

    qk_type default_type = QK_TYPE_F32;
    if (!p->only_copy) {
        const qk_ftype_info *fi = qk_ftype_by_id(p->ftype);
        if (!fi) return qk_errf(err, "unknown ftype %u", p->ftype);
        if (fi->id == QK_FTYPE_MOSTLY_Q2_K_S && !p->has_imatrix)
            return qk_errf(err, "Q2_K_S needs an importance matrix (llama-quantize refuses it without one) — "
                                "pass --imatrix FILE, or use Q2_K");
        if (!qk_ftype_supported(fi) && fi->id != QK_FTYPE_MOSTLY_Q2_K_S)
            return qk_errf(err, "ftype %s is not supported by qkit (%s)", fi->name, fi->summary);
        default_type = (qk_type)fi->default_type;
    }
    if (p->output_tensor_type >= 0 && !storage_type(p->output_tensor_type))
        return qk_errf(err, "--output-tensor-type: %s is not a weight type qkit can write",
                       qk_type_name((uint32_t)p->output_tensor_type));
    if (p->token_embedding_type >= 0 && !storage_type(p->token_embedding_type))
        return qk_errf(err, "--token-embedding-type: %s is not a weight type qkit can write",
                       qk_type_name((uint32_t)p->token_embedding_type));

    const bool rules = !p->only_copy && !p->pure && qk_type_get(default_type)->is_quantized;
    /* the --tensor-type rules: whenever the default type is quantized (so not for COPY or
     * F16/BF16/F32 targets, as upstream), --pure or not */
    const bool tt_rules = !p->only_copy && p->n_rules > 0 && qk_type_get(default_type)->is_quantized;
    s.mix_on = rules;
    for (size_t r = 0; r < p->n_rules; r++) p->rules[r].n_matched = 0;
    for (size_t i = 0; i < n; i++) {
        if (contains(t[i].name, "attn_v.weight") || contains(t[i].name, "attn_qkv.weight") ||
            contains(t[i].name, "attn_kv_b.weight"))
            s.n_attention_wv++;
        else if (strcmp(t[i].name, "output.weight") == 0)
            s.has_output = true;
    }
    if (rules && s.n_attention_wv != m->n_layer)
        return qk_errf(err,
                       "the model has %d attn_v tensors but block_count %d: the mixture rules need one per "
                       "layer (llama-quantize asserts \"n_attention_wv is unexpected\")",
                       s.n_attention_wv, m->n_layer);

    qk_mix_order(t, n, order);
    qk_mix_summary tot = {0};
    for (size_t k = 0; k < n; k++) {
        const qk_mix_tensor *ti = &t[order[k]];
        qk_mix_choice *c = &choice[order[k]];
        memset(c, 0, sizeof *c);
        c->type = c->wanted = ti->type;
        if (!qk_type_get(ti->type))
            return qk_errf(err, "tensor '%s' has type id %d, unknown to qkit", ti->name, (int)ti->type);
        c->eligible = is_quantizable(p, ti);
        if (!c->eligible) continue;

        /* --token-embedding-type / --output-tensor-type name this tensor: they win */
        const bool over = (p->token_embedding_type >= 0 && strcmp(ti->name, "token_embd.weight") == 0) ||
                          (p->output_tensor_type >= 0 && strcmp(ti->name, "output.weight") == 0);
        qk_type new_type = default_type;
        c->wanted = new_type;
        if (rules && mixture_type(&s, ti, &new_type, err)) return -1;
        if (tt_rules) {
            const int r = match_rule(p, ti->name);
            if (r && !over) {
                c->rule = r;
                new_type = p->rules[r - 1].type;
            }
        }
        if (rules || c->rule) {
            if (fit(&s, ti, new_type, c, err)) return -1;
            new_type = c->type;
        }
        /* The command-line overrides win (applied again after the rules, as upstream). */
        if (p->token_embedding_type >= 0 && strcmp(ti->name, "token_embd.weight") == 0)
            new_type = (qk_type)p->token_embedding_type;
        if (p->output_tensor_type >= 0 && strcmp(ti->name, "output.weight") == 0)
            new_type = (qk_type)p->output_tensor_type;
        if (new_type != c->type) {
            c->fallback = false;
            c->wanted = new_type;
        }
        c->type = new_type;

        if (ti->ne[0] % blck(new_type) != 0)
            return qk_errf(err,
                           "tensor '%s' has rows of %lld values, not a multiple of the %lld required by %s%s",
                           ti->name, (long long)ti->ne[0], (long long)blck(new_type), qk_type_name(new_type),
                           p->pure ? " (--pure uses no fallback types; drop --pure or choose another type)"
                                   : " — choose another type for it");
        c->quantize = new_type != ti->type;
        if (!c->quantize) continue;
        /* llama-quantize: "Missing importance matrix for tensor X in a very low-bit
         * quantization" (of the types qkit has, only Q2_K within Q2_K_S needs one) */
        if (p->ftype == QK_FTYPE_MOSTLY_Q2_K_S && new_type == QK_TYPE_Q2_K && !ti->has_weights &&
            strcmp(ti->name, "token_embd.weight") != 0)
            return qk_errf(err,
                           "tensor '%s' is Q2_K in a Q2_K_S model but the importance matrix has no entry for it "
                           "(llama-quantize refuses such a tensor) — use an imatrix that covers it, or Q2_K",
                           ti->name);
        const qk_type_traits *src = qk_type_get(ti->type);
        if (src->is_quantized && !p->allow_requantize)
            return qk_errf(err,
                           "tensor '%s' is already quantized (%s): requantizing is disabled — start from an "
                           "F16/BF16/F32 model, or pass --allow-requantize (quality suffers)",
                           ti->name, src->name);
        if (!src->to_float)
            return qk_errf(err, "tensor '%s': qkit cannot convert from %s", ti->name, src->name);
        tot.n_quantize++;
    }
    tot.n_checked = s.n_checked;
    tot.n_fallback = s.n_fallback;
    if (sum) *sum = tot;
    return 0;
}
