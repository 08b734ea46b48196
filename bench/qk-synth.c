/*
 * qk-synth — write a random-weight GGUF with the exact shapes of a named real model.
 *
 * Lets CI quantize and benchmark at real scale without downloading weights. The tensor
 * names, shapes, hyper-parameter keys and tokenizer metadata are those llama.cpp expects
 * (src/llama-arch.cpp); weights are deterministic pseudo-random numbers for a seed
 * (independent of the thread count), roughly Gaussian with std 0.02 like trained
 * transformer matrices; norms are 1 and biases small. The tokenizer is copied from a
 * vocab GGUF (--vocab) and padded with "[PADi]" UNUSED tokens up to the model's n_vocab,
 * as llama.cpp's converter pads Qwen's vocabulary.
 *
 * Shapes (config.json of each model, as published on Hugging Face):
 *   qwen2.5-0.5b  qwen2 n_embd 896,  24 layers, n_ff 4864, 14/2 heads, vocab 151936, tied
 *   qwen2.5-1.5b  qwen2 n_embd 1536, 28 layers, n_ff 8960, 12/2 heads, vocab 151936, tied
 *   llama-3.2-1b  llama n_embd 2048, 16 layers, n_ff 8192, 32/8 heads, vocab 128256, tied
 *   smollm2-135m  llama n_embd 576,  30 layers, n_ff 1536, 9/3 heads,  vocab 49152,  tied
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fp16.h"
#include "gguf.h"
#include "threads.h"
#include "types.h"
#include "tool.h"

typedef struct shape {
    const char *name, *arch;
    int n_embd, n_layer, n_ff, n_head, n_head_kv, n_vocab, n_ctx;
    float rope_base, rms_eps;
    int qkv_bias;
} shape;

static const shape shapes[] = {
    {"qwen2.5-0.5b", "qwen2", 896, 24, 4864, 14, 2, 151936, 32768, 1000000.0f, 1e-6f, 1},
    {"qwen2.5-1.5b", "qwen2", 1536, 28, 8960, 12, 2, 151936, 32768, 1000000.0f, 1e-6f, 1},
    {"llama-3.2-1b", "llama", 2048, 16, 8192, 32, 8, 128256, 131072, 500000.0f, 1e-5f, 0},
    {"smollm2-135m", "llama", 576, 30, 1536, 9, 3, 49152, 8192, 100000.0f, 1e-5f, 0},
};

static void usage(FILE *f) {
    fprintf(f,
            "usage: qk-synth --shape NAME --vocab VOCAB.gguf -o OUT.gguf [options]\n"
            "\n"
            "Write a random-weight GGUF with the exact tensor shapes of a real model.\n"
            "\n"
            "  --shape NAME     qwen2.5-0.5b | qwen2.5-1.5b | llama-3.2-1b | smollm2-135m\n"
            "  --vocab FILE     GGUF to copy tokenizer.* metadata from (vocab-only is fine)\n"
            "  -o FILE          output GGUF (written atomically)\n"
            "  --type T         matrix type: F16 (default), F32 or BF16\n"
            "  --seed N         random seed (default 42); same seed, same bytes\n"
            "  --layers N       override the layer count (smaller test models)\n"
            "  -t N             threads (default: all CPUs)\n"
            "  -h, --help       this help\n");
}

/* splitmix64: a tiny, well-mixed generator; each row gets its own stream. */
static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Approximately N(0, std²): the sum of four uniforms (Irwin–Hall), rescaled. */
static float gauss(uint64_t *s, float std) {
    uint64_t r = splitmix(s);
    float u = 0;
    for (int i = 0; i < 4; i++) u += (float)((r >> (16 * i)) & 0xffff) * (1.0f / 65536.0f);
    return (u - 2.0f) * std * 1.7320508f; /* var of the sum = 4/12 */
}

typedef struct tensor_spec {
    char name[64];
    int n_dims;
    int64_t ne[2];
    qk_type type;
    int kind; /* 0 matrix, 1 norm (ones), 2 bias */
} tensor_spec;

typedef struct fill_job {
    const tensor_spec *t;
    uint64_t seed;
    void *out;
} fill_job;

static void fill_task(void *arg, int ith, int nth) {
    fill_job *j = arg;
    const tensor_spec *t = j->t;
    int64_t rows = t->n_dims == 2 ? t->ne[1] : 1, cols = t->ne[0];
    float *tmp = malloc(sizeof(float) * (size_t)cols);
    size_t row_bytes = qk_row_size(t->type, cols);
    const qk_type_traits *tt = qk_type_get(t->type);
    for (int64_t r = ith; r < rows; r += nth) {
        uint64_t s = j->seed ^ ((uint64_t)r * 0xd1342543de82ef95ull);
        for (int64_t c = 0; c < cols; c++)
            tmp[c] = t->kind == 1 ? 1.0f : gauss(&s, t->kind == 2 ? 0.1f : 0.02f);
        tt->quantize_ref(tmp, (uint8_t *)j->out + (size_t)r * row_bytes, cols);
    }
    free(tmp);
}

static void add_spec(tensor_spec *v, int *n, const char *name, int n_dims, int64_t ne0, int64_t ne1,
                    qk_type type, int kind) {
    tensor_spec *t = &v[(*n)++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = n_dims;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->type = kind == 0 ? type : QK_TYPE_F32;
    t->kind = kind;
}

/* A whole decimal number in [lo, hi]; 0 when it parses. */
static int parse_num(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    qk_tool_init("qk-synth");
    const char *shape_name = NULL, *vocab_path = NULL, *out_path = NULL, *type_name = "F16";
    uint64_t seed = 42;
    int n_threads = 0, layers = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        static const char *const known[] = {"--shape", "--vocab", "-o", "--type", "--seed", "--layers", "-t"};
        bool ok = false;
        for (size_t k = 0; k < sizeof known / sizeof *known; k++) ok |= !strcmp(a, known[k]);
        if (!ok) {
            fprintf(stderr, "qk-synth: error: unknown option '%s' (see --help)\n", a);
            return 1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "qk-synth: error: %s needs a value (see --help)\n", a);
            return 1;
        }
        const char *v = argv[++i];
        unsigned long long num = 0;
        const bool is_seed = !strcmp(a, "--seed"), is_layers = !strcmp(a, "--layers");
        if (is_seed || is_layers || !strcmp(a, "-t")) { /* -t 0: all CPUs */
            const unsigned long long lo = is_layers ? 1 : 0, hi = is_seed ? UINT64_MAX : 4096;
            if (parse_num(v, lo, hi, &num) != 0) {
                fprintf(stderr, "qk-synth: error: %s wants an integer in [%llu, %llu], got '%s'\n", a, lo, hi, v);
                return 1;
            }
        }
        if (!strcmp(a, "--shape")) shape_name = v;
        else if (!strcmp(a, "--vocab")) vocab_path = v;
        else if (!strcmp(a, "-o")) out_path = v;
        else if (!strcmp(a, "--type")) type_name = v;
        else if (!strcmp(a, "--seed")) seed = num;
        else if (!strcmp(a, "--layers")) layers = (int)num;
        else n_threads = (int)num;
    }
    if (!shape_name || !vocab_path || !out_path) {
        fprintf(stderr, "qk-synth: error: --shape, --vocab and -o are required (see --help)\n");
        return 1;
    }
    const shape *sh = NULL;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcasecmp(shapes[i].name, shape_name)) sh = &shapes[i];
    if (!sh) {
        fprintf(stderr, "qk-synth: error: unknown shape '%s' — use qwen2.5-0.5b, qwen2.5-1.5b, llama-3.2-1b or smollm2-135m\n",
                shape_name);
        return 1;
    }
    qk_type wtype;
    if (qk_type_from_name(type_name, &wtype) || (wtype != QK_TYPE_F16 && wtype != QK_TYPE_F32 && wtype != QK_TYPE_BF16)) {
        fprintf(stderr, "qk-synth: error: --type must be F16, F32 or BF16 (got '%s')\n", type_name);
        return 1;
    }
    int n_layer = layers > 0 ? layers : sh->n_layer;

    struct stat st_in, st_out;
    if (stat(vocab_path, &st_in) == 0 && stat(out_path, &st_out) == 0 && st_in.st_dev == st_out.st_dev &&
        st_in.st_ino == st_out.st_ino) {
        fprintf(stderr, "qk-synth: error: output '%s' is the vocab file — choose another output name\n", out_path);
        return 1;
    }

    qk_err err = {{0}};
    gguf_ctx *voc = gguf_open(vocab_path, &err);
    if (!voc) {
        fprintf(stderr, "qk-synth: error: %s\n", err.msg);
        return 1;
    }
    int64_t ti = gguf_find_key(voc, "tokenizer.ggml.tokens");
    if (ti < 0 || voc->kv[ti].arr_type != GGUF_TYPE_STRING) {
        fprintf(stderr, "qk-synth: error: %s has no tokenizer.ggml.tokens — pass a model or vocab GGUF\n", vocab_path);
        gguf_close(voc);
        return 1;
    }
    uint64_t n_tok = voc->kv[ti].n;
    if (n_tok > (uint64_t)sh->n_vocab) {
        fprintf(stderr, "qk-synth: error: %s has %llu tokens, more than %s's %d\n", vocab_path,
                (unsigned long long)n_tok, sh->name, sh->n_vocab);
        gguf_close(voc);
        return 1;
    }

    /* the padding below copies these arrays into n_vocab-sized buffers */
    static const char *const per_token[] = {"tokenizer.ggml.token_type", "tokenizer.ggml.scores"};
    for (size_t k = 0; k < 2; k++) {
        int64_t ki = gguf_find_key(voc, per_token[k]);
        if (ki >= 0 && voc->kv[ki].type == GGUF_TYPE_ARRAY && voc->kv[ki].n != n_tok) {
            fprintf(stderr, "qk-synth: error: %s has %llu entries in %s for %llu tokens — the vocab file is corrupt\n",
                    vocab_path, (unsigned long long)voc->kv[ki].n, per_token[k], (unsigned long long)n_tok);
            gguf_close(voc);
            return 1;
        }
    }

    gguf_writer *w = gguf_writer_new(out_path, &err);
    if (!w) {
        fprintf(stderr, "qk-synth: error: %s\n", err.msg);
        gguf_close(voc);
        return 1;
    }
    char key[128], name[96];
    const char *A = sh->arch;
    gguf_writer_set_str(w, "general.architecture", A);
    snprintf(name, sizeof name, "synth-%s", sh->name);
    gguf_writer_set_str(w, "general.name", name);
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", A, suffix), key)
    gguf_writer_set_u32(w, KEY("context_length"), (uint32_t)sh->n_ctx);
    gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)sh->n_embd);
    gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)n_layer);
    gguf_writer_set_u32(w, KEY("feed_forward_length"), (uint32_t)sh->n_ff);
    gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)sh->n_head);
    gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)sh->n_head_kv);
    gguf_writer_set_f32(w, KEY("rope.freq_base"), sh->rope_base);
    gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), sh->rms_eps);
#undef KEY
    gguf_writer_set_u32(w, "general.file_type", wtype == QK_TYPE_F32 ? 0 : wtype == QK_TYPE_F16 ? 1 : 32);
    /* tokenizer: every tokenizer.* key, with token lists padded to n_vocab */
    for (uint64_t i = 0; i < voc->n_kv; i++)
        if (!strncmp(voc->kv[i].key, "tokenizer.", 10)) gguf_writer_copy_kv(w, &voc->kv[i]);
    if (n_tok < (uint64_t)sh->n_vocab) {
        const gguf_kv *tk = &voc->kv[ti];
        const char **toks = malloc(sizeof(char *) * (size_t)sh->n_vocab);
        char **own = malloc(sizeof(char *) * (size_t)sh->n_vocab);
        for (uint64_t i = 0; i < (uint64_t)sh->n_vocab; i++) {
            if (i < n_tok) {
                own[i] = strndup(tk->strs[i].ptr, tk->strs[i].len);
            } else {
                own[i] = malloc(32);
                snprintf(own[i], 32, "[PAD%llu]", (unsigned long long)i);
            }
            toks[i] = own[i];
        }
        gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, (uint64_t)sh->n_vocab);
        for (int i = 0; i < sh->n_vocab; i++) free(own[i]);
        free(own);
        free(toks);
        int64_t ty = gguf_find_key(voc, "tokenizer.ggml.token_type");
        if (ty >= 0 && voc->kv[ty].arr_type == GGUF_TYPE_INT32) {
            int32_t *types = malloc(sizeof(int32_t) * (size_t)sh->n_vocab);
            memcpy(types, voc->kv[ty].data, sizeof(int32_t) * (size_t)voc->kv[ty].n);
            for (uint64_t i = voc->kv[ty].n; i < (uint64_t)sh->n_vocab; i++) types[i] = 5; /* UNUSED */
            gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, (uint64_t)sh->n_vocab);
            free(types);
        }
        int64_t sc = gguf_find_key(voc, "tokenizer.ggml.scores");
        if (sc >= 0 && voc->kv[sc].arr_type == GGUF_TYPE_FLOAT32) {
            float *scores = calloc((size_t)sh->n_vocab, sizeof(float));
            memcpy(scores, voc->kv[sc].data, sizeof(float) * (size_t)voc->kv[sc].n);
            gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, (uint64_t)sh->n_vocab);
            free(scores);
        }
    }

    /* tensors, in llama.cpp's usual order */
    int max_t = 3 + 12 * n_layer, n = 0;
    tensor_spec *ts = calloc((size_t)max_t, sizeof *ts);
    int64_t E = sh->n_embd, hd = E / sh->n_head, nq = hd * sh->n_head, nkv = hd * sh->n_head_kv;
    add_spec(ts, &n, "token_embd.weight", 2, E, sh->n_vocab, wtype, 0);
    for (int il = 0; il < n_layer; il++) {
        char b[96];
#define T(suffix, nd, a, c, kind) (snprintf(b, sizeof b, "blk.%d.%s", il, suffix), add_spec(ts, &n, b, nd, a, c, wtype, kind))
        T("attn_norm.weight", 1, E, 1, 1);
        T("attn_q.weight", 2, E, nq, 0);
        T("attn_k.weight", 2, E, nkv, 0);
        T("attn_v.weight", 2, E, nkv, 0);
        if (sh->qkv_bias) {
            T("attn_q.bias", 1, nq, 1, 2);
            T("attn_k.bias", 1, nkv, 1, 2);
            T("attn_v.bias", 1, nkv, 1, 2);
        }
        T("attn_output.weight", 2, nq, E, 0);
        T("ffn_norm.weight", 1, E, 1, 1);
        T("ffn_gate.weight", 2, E, sh->n_ff, 0);
        T("ffn_up.weight", 2, E, sh->n_ff, 0);
        T("ffn_down.weight", 2, sh->n_ff, E, 0);
#undef T
    }
    add_spec(ts, &n, "output_norm.weight", 1, E, 1, wtype, 1);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        int64_t ne[2] = {ts[i].ne[0], ts[i].ne[1]};
        rc = gguf_writer_add_tensor(w, ts[i].name, ts[i].type, (uint32_t)ts[i].n_dims, ne, &err) < 0;
    }
    if (!rc) rc = gguf_writer_write_header(w, &err);
    qk_pool *pool = rc ? NULL : qk_pool_new(n_threads);
    if (!rc && !pool) rc = qk_errf(&err, "cannot start %d worker threads", n_threads) != 0;
    size_t cap = 0;
    void *buf = NULL;
    int tty = isatty(STDERR_FILENO);
    for (int i = 0; i < n && !rc; i++) {
        int64_t rows = ts[i].n_dims == 2 ? ts[i].ne[1] : 1;
        size_t bytes = qk_row_size(ts[i].type, ts[i].ne[0]) * (size_t)rows;
        if (bytes > cap) {
            free(buf);
            buf = malloc(cap = bytes);
            if (!buf) {
                rc = qk_errf(&err, "out of memory for tensor '%s' (%zu bytes)", ts[i].name, bytes) != 0;
                break;
            }
        }
        fill_job job = {&ts[i], seed * 0x9e3779b97f4a7c15ull + (uint64_t)i * 0x632be59bd9b4e019ull, buf};
        qk_pool_run(pool, fill_task, &job);
        rc = gguf_writer_write_tensor_data(w, buf, bytes, &err);
        if (tty && (i % 16 == 15 || i == n - 1)) fprintf(stderr, "\rqk-synth: %d/%d tensors", i + 1, n);
    }
    if (tty) fprintf(stderr, "\n");
    free(buf);
    qk_pool_free(pool);
    free(ts);
    gguf_close(voc);
    if (rc || gguf_writer_finish(w, &err)) {
        if (rc) gguf_writer_abort(w);
        fprintf(stderr, "qk-synth: error: %s\n", err.msg);
        return 1;
    }
    printf("qk-synth: wrote %s (%s shapes, %d layers, %s)\n", out_path, sh->name, n_layer, qk_type_name(wtype));
    return 0;
}
