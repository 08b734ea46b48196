/*
 * tokenizer.c — vocabulary loading from GGUF metadata, special-token splitting,
 * tokenize dispatch (SPM / BPE), token pieces and detokenization. See tokenizer.h.
 *
 * Behaviour follows llama.cpp's llama_vocab (src/llama-vocab.cpp, llama-cpp-reference.md
 * §3.4):
 *   - defaults: SPM bos 1, eos 2, unk 0, add_bos true, add_space_prefix true;
 *     BPE bos 11, eos 11 (llama.cpp's defaults when the keys are absent), add_bos false
 *     except for the llama-bpe pre-tokenizer; a default id outside the vocab is disabled,
 *     a key outside the vocab keeps the default; add_bos/add_eos true with no such token
 *     is an error, as in llama.cpp;
 *   - clean_spaces (detokenizer clean-up of " ." etc.) is on for BPE gpt-2 / llama-bpe and
 *     off for qwen2 and SPM; ignore_merges is on for llama-bpe only;
 *   - empty token texts become "[EMPTY_<id>]"; a duplicate text is an error;
 *   - special tokens (control, user-defined, unknown) are split out of the text before
 *     tokenization, longest text first; with parse_special off only user-defined ones are;
 *   - token pieces: control/unknown give "" unless `special`, user-defined their raw text,
 *     normal tokens their text with U+2581 -> ' ' (SPM) or GPT-2 byte decoding (BPE), byte
 *     tokens their byte, unused/undefined tokens "".
 * Not reproduced: llama.cpp's per-model attribute tweaks (lstrip/rstrip for phi-3, jina,
 * modern-bert) and its name-based promotion of tokens such as "<|im_end|>" to control type
 * when a file stores them as normal tokens.
 */
#include "tokenizer_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ loading ---------- */

/* Optional integer key: 0 absent, 1 present (value in *out), -1 present but not an integer. */
static int opt_i64(const gguf_ctx *g, const char *key, int64_t *out) {
    if (gguf_find_key(g, key) < 0) return 0;
    return gguf_get_i64(g, key, out) == 0 ? 1 : -1;
}

static int opt_bool(const gguf_ctx *g, const char *key, bool *out) {
    if (gguf_find_key(g, key) < 0) return 0;
    return gguf_get_bool(g, key, out) == 0 ? 1 : -1;
}

/* Array key of the given element type with at least min_n elements (NULL if absent). */
static const gguf_kv *opt_array(const gguf_ctx *g, const char *key, gguf_vtype t1, gguf_vtype t2,
                                uint64_t min_n, qk_err *err, int *bad) {
    int64_t i = gguf_find_key(g, key);
    *bad = 0;
    if (i < 0) return NULL;
    const gguf_kv *kv = &g->kv[i];
    if (kv->type != GGUF_TYPE_ARRAY || (kv->arr_type != t1 && kv->arr_type != t2)) {
        *bad = qk_errf(err, "%s: invalid tokenizer metadata: '%s' has type %s%s%s, expected an array of %s",
                       g->path, key, gguf_vtype_name(kv->type), kv->type == GGUF_TYPE_ARRAY ? " of " : "",
                       kv->type == GGUF_TYPE_ARRAY ? gguf_vtype_name(kv->arr_type) : "", gguf_vtype_name(t1));
        return NULL;
    }
    if (kv->n < min_n) {
        *bad = qk_errf(err, "%s: invalid tokenizer metadata: '%s' has %llu entries for %llu tokens",
                       g->path, key, (unsigned long long)kv->n, (unsigned long long)min_n);
        return NULL;
    }
    return kv;
}

typedef struct spec_ent {
    uint32_t len;
    int32_t id;
} spec_ent;

static int spec_cmp(const void *a, const void *b) {
    const spec_ent *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int load_tokens(qk_vocab *v, const gguf_ctx *g, const gguf_kv *toks, qk_err *err) {
    size_t n = (size_t)v->n_tokens, pool = 0;
    for (size_t i = 0; i < n; i++) pool += toks->strs[i].len ? toks->strs[i].len + 1 : 24;
    v->pool = malloc(pool ? pool : 1);
    v->text = malloc(n * sizeof *v->text);
    v->len = malloc(n * sizeof *v->len);
    v->score = calloc(n, sizeof *v->score);
    v->type = malloc(n);
    if (!v->pool || !v->text || !v->len || !v->score || !v->type || qk_strtab_init(&v->tab, n))
        return qk_errf(err, "%s: out of memory loading %zu tokens", g->path, n);
    char *p = v->pool;
    for (size_t i = 0; i < n; i++) {
        const gguf_str *s = &toks->strs[i];
        if (s->len > UINT32_MAX / 2)
            return qk_errf(err, "%s: invalid tokenizer metadata: token %zu is %llu bytes long", g->path, i,
                           (unsigned long long)s->len);
        size_t l = s->len;
        if (l) memcpy(p, s->ptr, l);
        else l = (size_t)snprintf(p, 24, "[EMPTY_%zu]", i);
        p[l] = 0;
        v->text[i] = p;
        v->len[i] = (uint32_t)l;
        if (l > v->max_token_len) v->max_token_len = l;
        p += l + 1;
    }
    /* insert in blocks: hash and prefetch the slots of a block first, then insert in id
     * order (the table does not fit in cache; this overlaps the misses) */
    enum { B = 64 };
    uint32_t h[B];
    for (size_t base = 0; base < n; base += B) {
        size_t m = n - base < B ? n - base : B;
        for (size_t k = 0; k < m; k++) {
            h[k] = qk_str_hash(v->text[base + k], v->len[base + k]);
            __builtin_prefetch(&v->tab.slot[h[k] & v->tab.mask]);
        }
        for (size_t k = 0; k < m; k++) {
            size_t i = base + k;
            int32_t dup = qk_strtab_insert_h(&v->tab, v->text, v->len, (int32_t)i, h[k]);
            if (dup >= 0)
                return qk_errf(err, "%s: invalid tokenizer metadata: duplicate token '%.64s' has ids %d and %zu",
                               g->path, v->text[i], dup, i);
        }
    }
    return 0;
}

static int load_scores_types(qk_vocab *v, const gguf_ctx *g, qk_err *err) {
    int bad;
    uint64_t n = (uint64_t)v->n_tokens;
    const gguf_kv *sc = opt_array(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, GGUF_TYPE_INT32, n, err, &bad);
    if (bad) return -1;
    for (uint64_t i = 0; sc && i < n; i++) {
        const char *d = (const char *)sc->data + 4 * i;
        if (sc->arr_type == GGUF_TYPE_FLOAT32) {
            memcpy(&v->score[i], d, 4);
        } else {
            int32_t x;
            memcpy(&x, d, 4);
            v->score[i] = (float)x;
        }
    }
    const gguf_kv *ty = opt_array(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, GGUF_TYPE_INT32, n, err, &bad);
    if (bad) return -1;
    for (uint64_t i = 0; i < n; i++) {
        int32_t t = QK_TOKTYPE_NORMAL;
        if (ty) memcpy(&t, (const char *)ty->data + 4 * i, 4);
        v->type[i] = (uint8_t)(t >= 0 && t <= QK_TOKTYPE_BYTE ? t : QK_TOKTYPE_UNDEFINED);
    }
    return 0;
}

/* Special token ids and the add_* flags (llama_vocab::impl::load, "special tokens"). */
static int load_specials(qk_vocab *v, const gguf_ctx *g, qk_err *err) {
    static const char *keys[4] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                  "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"};
    int32_t *ids[4] = {&v->bos, &v->eos, &v->unk, &v->pad};
    for (int k = 0; k < 4; k++) {
        if (*ids[k] >= v->n_tokens) *ids[k] = -1;
        int64_t x;
        int r = opt_i64(g, keys[k], &x);
        if (r < 0) return qk_errf(err, "%s: invalid tokenizer metadata: '%s' is not an integer", g->path, keys[k]);
        if (r > 0 && x >= 0 && x < v->n_tokens) *ids[k] = (int32_t)x;
    }
    static const char *bkeys[3] = {"tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token",
                                   "tokenizer.ggml.add_space_prefix"};
    bool *flags[3] = {&v->add_bos, &v->add_eos, &v->add_space_prefix};
    for (int k = 0; k < 3; k++)
        if (opt_bool(g, bkeys[k], flags[k]) < 0)
            return qk_errf(err, "%s: invalid tokenizer metadata: '%s' is not a bool", g->path, bkeys[k]);
    if (v->add_bos && v->bos < 0)
        return qk_errf(err, "%s: invalid tokenizer metadata: add_bos_token is true but there is no BOS token", g->path);
    if (v->add_eos && v->eos < 0)
        return qk_errf(err, "%s: invalid tokenizer metadata: add_eos_token is true but there is no EOS token", g->path);

    int32_t ns = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        uint8_t t = v->type[i];
        ns += t == QK_TOKTYPE_CONTROL || t == QK_TOKTYPE_USER_DEFINED || t == QK_TOKTYPE_UNKNOWN;
    }
    spec_ent *se = malloc((ns ? (size_t)ns : 1) * sizeof *se);
    v->special_ids = malloc((ns ? (size_t)ns : 1) * sizeof *v->special_ids);
    if (!se || !v->special_ids) {
        free(se);
        return qk_errf(err, "%s: out of memory", g->path);
    }
    ns = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        uint8_t t = v->type[i];
        if (t == QK_TOKTYPE_CONTROL || t == QK_TOKTYPE_USER_DEFINED || t == QK_TOKTYPE_UNKNOWN)
            se[ns++] = (spec_ent){v->len[i], i};
    }
    qsort(se, (size_t)ns, sizeof *se, spec_cmp);
    for (int32_t i = 0; i < ns; i++) v->special_ids[i] = se[i].id;
    v->n_special = ns;
    free(se);
    return 0;
}

static bool str_is(gguf_str s, const char *lit) { return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0; }

qk_vocab *qk_vocab_load(const gguf_ctx *g, qk_err *err) {
    gguf_str model, pre = {NULL, 0};
    if (gguf_find_key(g, "tokenizer.ggml.model") < 0)
        return qk_errf(err, "%s: no tokenizer metadata (tokenizer.ggml.model is missing)", g->path), NULL;
    if (gguf_get_str(g, "tokenizer.ggml.model", &model))
        return qk_errf(err, "%s: invalid tokenizer metadata: tokenizer.ggml.model is not a string", g->path), NULL;
    qk_vocab *v = calloc(1, sizeof *v);
    if (!v) return qk_errf(err, "out of memory"), NULL;

    if (str_is(model, "llama")) {
        v->kind = QK_VOCAB_SPM;
        v->pre = QK_PRE_NONE;
        v->bos = 1, v->eos = 2, v->unk = 0, v->pad = -1;
        v->add_bos = true, v->add_space_prefix = true;
    } else if (str_is(model, "gpt2")) {
        v->kind = QK_VOCAB_BPE;
        v->bos = 11, v->eos = 11, v->unk = -1, v->pad = -1;
        v->clean_spaces = true;
        if (gguf_find_key(g, "tokenizer.ggml.pre") < 0) {
            qk_errf(err, "%s: BPE vocabulary without tokenizer.ggml.pre — qkit needs the pre-tokenizer name "
                    "(supported: gpt-2, qwen2, llama-bpe); re-convert the model with a current llama.cpp", g->path);
            goto fail;
        }
        if (gguf_get_str(g, "tokenizer.ggml.pre", &pre)) {
            qk_errf(err, "%s: invalid tokenizer metadata: tokenizer.ggml.pre is not a string", g->path);
            goto fail;
        }
        if (str_is(pre, "gpt-2")) {
            v->pre = QK_PRE_GPT2;
        } else if (str_is(pre, "qwen2")) {
            v->pre = QK_PRE_QWEN2;
            v->clean_spaces = false;
        } else if (str_is(pre, "llama-bpe") || str_is(pre, "llama3") || str_is(pre, "llama-v3")) {
            v->pre = QK_PRE_LLAMA3;
            v->ignore_merges = true;
            v->add_bos = true;
        } else {
            qk_errf(err, "%s: unknown pre-tokenizer '%.*s' (tokenizer.ggml.pre); qkit supports gpt-2, qwen2, llama-bpe",
                    g->path, (int)(pre.len > 64 ? 64 : pre.len), pre.ptr);
            goto fail;
        }
    } else {
        qk_errf(err, "%s: unknown tokenizer model '%.*s' (tokenizer.ggml.model); qkit supports 'llama' "
                "(SentencePiece) and 'gpt2' (byte-level BPE)", g->path, (int)(model.len > 64 ? 64 : model.len), model.ptr);
        goto fail;
    }

    int bad;
    const gguf_kv *toks = opt_array(g, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, GGUF_TYPE_STRING, 1, err, &bad);
    if (bad) goto fail;
    if (!toks) {
        qk_errf(err, "%s: no tokenizer vocabulary (tokenizer.ggml.tokens is missing)", g->path);
        goto fail;
    }
    if (toks->n > (uint64_t)INT32_MAX / 2) {
        qk_errf(err, "%s: invalid tokenizer metadata: %llu tokens", g->path, (unsigned long long)toks->n);
        goto fail;
    }
    v->n_tokens = (int32_t)toks->n;
    if (load_tokens(v, g, toks, err) || load_scores_types(v, g, err) || load_specials(v, g, err)) goto fail;

    if (v->kind == QK_VOCAB_SPM) {
        v->spm_split = qk_spm_can_split(v);
        for (int b = 0; b < 256; b++) {
            char hex[8], raw = (char)b;
            snprintf(hex, sizeof hex, "<0x%02X>", b);
            int32_t id = qk_vocab_find(v, hex, 6);
            v->spm_byte_id[b] = id >= 0 ? id : qk_vocab_find(v, &raw, 1);
        }
    } else {
        const gguf_kv *mg = opt_array(g, "tokenizer.ggml.merges", GGUF_TYPE_STRING, GGUF_TYPE_STRING, 0, err, &bad);
        if (bad) goto fail;
        if (!mg) {
            qk_errf(err, "%s: BPE vocabulary without merges (tokenizer.ggml.merges is missing)", g->path);
            goto fail;
        }
        const char **ms = malloc((mg->n ? mg->n : 1) * sizeof *ms);
        uint32_t *ml = malloc((mg->n ? mg->n : 1) * sizeof *ml);
        int rc = -1;
        if (ms && ml) {
            rc = 0;
            for (uint64_t i = 0; i < mg->n; i++) {
                if (mg->strs[i].len > UINT32_MAX / 2) {
                    rc = qk_errf(err, "%s: invalid tokenizer metadata: merge %llu is too long", g->path, (unsigned long long)i);
                    break;
                }
                ms[i] = mg->strs[i].ptr;
                ml[i] = (uint32_t)mg->strs[i].len;
            }
            if (rc == 0) rc = qk_bpe_init(v, ms, ml, mg->n, err);
        } else {
            qk_errf(err, "%s: out of memory loading merges", g->path);
        }
        free(ms);
        free(ml);
        if (rc) goto fail;
    }
    return v;
fail:
    qk_vocab_free(v);
    return NULL;
}

void qk_vocab_free(qk_vocab *v) {
    if (!v) return;
    if (v->kind == QK_VOCAB_BPE) qk_bpe_free(v);
    free(v->pool);
    free(v->text);
    free(v->len);
    free(v->score);
    free(v->type);
    free(v->special_ids);
    qk_strtab_free(&v->tab);
    free(v);
}

int32_t qk_vocab_n_tokens(const qk_vocab *v) { return v->n_tokens; }
qk_vocab_kind qk_vocab_kind_of(const qk_vocab *v) { return v->kind; }
int32_t qk_vocab_bos(const qk_vocab *v) { return v->bos; }
int32_t qk_vocab_eos(const qk_vocab *v) { return v->eos; }
bool qk_vocab_add_bos(const qk_vocab *v) { return v->add_bos; }
bool qk_vocab_add_eos(const qk_vocab *v) { return v->add_eos; }

const char *qk_vocab_token_text(const qk_vocab *v, int32_t id) {
    return id >= 0 && id < v->n_tokens ? v->text[id] : NULL;
}

/* ------------------------------------------------------------------ tokenize --------- */

/* A piece of the input: raw text [off, off+len) when id < 0, else a special token. */
typedef struct frag {
    int32_t id;
    size_t off, len;
} frag;

typedef struct frags {
    frag *a;
    size_t n, cap;
} frags;

static int frag_push(frags *f, frag x) {
    if (f->n == f->cap) {
        size_t c = f->cap ? f->cap * 2 : 16;
        frag *a = realloc(f->a, c * sizeof *a);
        if (!a) return -1;
        f->a = a;
        f->cap = c;
    }
    f->a[f->n++] = x;
    return 0;
}

/* tokenizer_st_partition: for each special token, longest first, cut every occurrence out
 * of the remaining raw-text fragments, left to right. */
static int partition(const qk_vocab *v, const char *text, size_t len, bool parse_special, frags *out) {
    frags cur = {0}, next = {0};
    if (len > 0 && frag_push(&cur, (frag){-1, 0, len})) return -1;
    for (int32_t k = 0; k < v->n_special; k++) {
        int32_t id = v->special_ids[k];
        uint8_t t = v->type[id];
        if (!parse_special && (t == QK_TOKTYPE_CONTROL || t == QK_TOKTYPE_UNKNOWN)) continue;
        const char *s = v->text[id];
        size_t sl = v->len[id];
        next.n = 0;
        for (size_t i = 0; i < cur.n; i++) {
            frag f = cur.a[i];
            if (f.id >= 0 || f.len < sl) {
                if (frag_push(&next, f)) goto oom;
                continue;
            }
            size_t at = f.off, end = f.off + f.len;
            for (;;) {
                const char *m = memmem(text + at, end - at, s, sl);
                if (!m) break;
                size_t mo = (size_t)(m - text);
                if (mo > at && frag_push(&next, (frag){-1, at, mo - at})) goto oom;
                if (frag_push(&next, (frag){id, 0, 0})) goto oom;
                at = mo + sl;
            }
            if (at < end && frag_push(&next, (frag){-1, at, end - at})) goto oom;
        }
        frags tmp = cur;
        cur = next;
        next = tmp;
    }
    free(next.a);
    *out = cur;
    return 0;
oom:
    free(cur.a);
    free(next.a);
    return -1;
}

int qk_tokenize(const qk_vocab *v, const char *text, size_t len, bool add_special,
                bool parse_special, int32_t **out, size_t *n_out, qk_err *err) {
    *out = NULL;
    *n_out = 0;
    frags fr = {0};
    qk_ids ids = {0};
    if (len > 0 && !text) return qk_errf(err, "qk_tokenize: NULL text");
    if (partition(v, text, len, parse_special, &fr)) {
        qk_errf(err, "out of memory tokenizing %zu bytes", len);
        goto fail;
    }
    if (add_special && v->add_bos && qk_ids_push(&ids, v->bos)) goto oom;
    bool prev_special = true; /* SPM: the first fragment gets the space prefix */
    for (size_t i = 0; i < fr.n; i++) {
        const frag *f = &fr.a[i];
        if (f->id >= 0) {
            if (qk_ids_push(&ids, f->id)) goto oom;
            prev_special = true;
            continue;
        }
        int rc = v->kind == QK_VOCAB_SPM
                     ? qk_spm_tokenize(v, text + f->off, f->len, v->add_space_prefix && prev_special, &ids, err)
                     : qk_bpe_tokenize(v, text + f->off, f->len, &ids, err);
        if (rc) goto fail;
        prev_special = false;
    }
    if (add_special && v->add_eos && qk_ids_push(&ids, v->eos)) goto oom;
    if (!ids.v && !(ids.v = malloc(sizeof *ids.v))) goto oom;
    free(fr.a);
    *out = ids.v;
    *n_out = ids.n;
    return 0;
oom:
    qk_errf(err, "out of memory tokenizing %zu bytes", len);
fail:
    free(fr.a);
    free(ids.v);
    return -1;
}

/* ------------------------------------------------------------------ pieces ----------- */

static size_t put(char *buf, size_t cap, size_t n, const char *s, size_t l) {
    if (n < cap) memcpy(buf + n, s, l < cap - n ? l : cap - n);
    return n + l;
}

/* llama_vocab::impl::token_to_piece (lstrip = 0). Returns the full length. */
static size_t piece(const qk_vocab *v, int32_t id, bool special, char *buf, size_t cap) {
    const char *t = v->text[id];
    size_t l = v->len[id];
    switch (v->type[id]) {
    case QK_TOKTYPE_CONTROL:
    case QK_TOKTYPE_UNKNOWN:
        return special ? put(buf, cap, 0, t, l) : 0;
    case QK_TOKTYPE_USER_DEFINED:
        return put(buf, cap, 0, t, l);
    case QK_TOKTYPE_NORMAL:
        if (v->kind == QK_VOCAB_BPE) {
            size_t full;
            qk_bpe_decode_text(t, l, buf, cap, &full);
            return full;
        } else {
            size_t n = 0;
            for (size_t i = 0; i < l;) {
                if (i + 3 <= l && memcmp(t + i, "\xE2\x96\x81", 3) == 0) {
                    n = put(buf, cap, n, " ", 1);
                    i += 3;
                } else {
                    n = put(buf, cap, n, t + i, 1);
                    i++;
                }
            }
            return n;
        }
    case QK_TOKTYPE_BYTE: {
        /* "<0xXX>": strtol over the two characters at offset 3 */
        char hex[3] = {0, 0, 0};
        if (l > 3) hex[0] = t[3];
        if (l > 4) hex[1] = t[4];
        char b = (char)strtol(hex, NULL, 16);
        return put(buf, cap, 0, &b, 1);
    }
    default:
        return 0;
    }
}

int qk_token_to_piece(const qk_vocab *v, int32_t id, char *buf, size_t cap, bool special) {
    if (id < 0 || id >= v->n_tokens) return -1;
    size_t n = piece(v, id, special, buf, cap);
    return n > (size_t)INT32_MAX ? -1 : (int)n;
}

/* The clean_up_tokenization_spaces passes of llama_vocab::impl::detokenize, in place. */
static size_t clean_spaces(char *text, size_t total) {
    /* 1: drop the space before ? ! . , */
    size_t t1 = total;
    total = t1 ? 1 : 0;
    for (size_t i = 1; i < t1; i++) {
        char x = text[i];
        if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) total--;
        text[total++] = x;
    }
    /* 2: " ' " -> "'" */
    size_t t2 = total;
    total = t2 ? 1 : 0;
    for (size_t i = 1; i < t2; i++) {
        char x = text[i];
        if (x == '\'' && i + 1 < t2 && text[i - 1] == ' ' && text[i + 1] == ' ') {
            total--;
            text[++i] = '\0';
        }
        text[total++] = x;
    }
    /* 3: drop the space before 's 'm 're 've */
    size_t t3 = total;
    total = t3 ? 1 : 0;
    for (size_t i = 1; i < t3; i++) {
        char x = text[i];
        if (text[i - 1] == ' ' && x == '\'' && i + 1 < t3) {
            char x1 = text[i + 1];
            if (x1 == 's' || x1 == 'm') {
                total--;
            } else if (x1 != 't' && x1 != 'd' && i + 2 < t3) {
                char x2 = text[i + 2];
                if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) total--;
            }
        }
        text[total++] = x;
    }
    return total;
}

char *qk_detokenize(const qk_vocab *v, const int32_t *ids, size_t n, bool remove_special) {
    bool remove_space = v->add_space_prefix;
    if (remove_special && v->add_bos && n > 0 && ids[0] == v->bos) {
        remove_space = false;
        ids++;
        n--;
    }
    if (remove_special && v->add_eos && n > 0 && ids[n - 1] == v->eos) n--;

    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= v->n_tokens) return NULL;
        total += piece(v, ids[i], false, NULL, 0);
    }
    char *out = malloc(total + 1);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = piece(v, ids[i], false, out + k, total - k);
        if (remove_space && l > 0 && out[k] == ' ') {
            memmove(out + k, out + k + 1, l - 1);
            l--;
        }
        remove_space = false;
        k += l;
    }
    if (v->clean_spaces) k = clean_spaces(out, k);
    out[k] = 0;
    return out;
}
