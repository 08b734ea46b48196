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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "gguf.h"
#include "paths.h"
#include "threads.h"
#include "tool.h"
#include "types.h"

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
    int oom; /* set by a worker that could not allocate its row buffer */
} fill_job;

static void fill_task(void *arg, int ith, int nth) {
    fill_job *j = arg;
    const tensor_spec *t = j->t;
    int64_t rows = t->n_dims == 2 ? t->ne[1] : 1, cols = t->ne[0];
    float *tmp = malloc(sizeof(float) * (size_t)cols);
    if (!tmp) {
        __atomic_store_n(&j->oom, 1, __ATOMIC_RELAXED);
        return;
    }
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

typedef struct opts {
    const shape *sh;
    const char *vocab_path, *out_path;
    qk_type wtype;
    uint64_t seed;
    int n_threads; /* 0: all CPUs */
    int n_layer;   /* --layers, else the shape's */
} opts;

static int parse_args(int argc, char **argv, opts *o) {
    static const struct option LONG[] = {{"shape", required_argument, NULL, 'S'},
                                         {"vocab", required_argument, NULL, 'V'},
                                         {"type", required_argument, NULL, 'T'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"layers", required_argument, NULL, 'L'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *shape_name = NULL, *type_name = "F16";
    int64_t seed = 42;
    int32_t layers = 0;
    *o = (opts){0};
    int c;
    while ((c = qk_cli_next(argc, argv, ":o:t:h", LONG)) != -1) {
        switch (c) {
        case 'S': shape_name = optarg; break;
        case 'V': o->vocab_path = optarg; break;
        case 'o': o->out_path = optarg; break;
        case 'T': type_name = optarg; break;
        case 's':
            if (qk_cli_int("--seed", optarg, 0, INT64_MAX, &seed)) return QK_CLI_ERROR;
            break;
        case 'L':
            if (qk_cli_i32("--layers", optarg, 1, 4096, &layers)) return QK_CLI_ERROR;
            break;
        case 't':
            if (qk_cli_i32("-t", optarg, 0, QK_CLI_MAX_THREADS, &o->n_threads)) return QK_CLI_ERROR;
            break;
        case 'h': usage(stdout); return QK_CLI_DONE;
        default: return QK_CLI_ERROR;
        }
    }
    if (optind < argc) return qk_cli_error("unexpected argument '%s' — run qk-synth --help", argv[optind]);
    if (!shape_name || !o->vocab_path || !o->out_path)
        return qk_cli_error("--shape, --vocab and -o are required — run qk-synth --help");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcasecmp(shapes[i].name, shape_name)) o->sh = &shapes[i];
    if (!o->sh)
        return qk_cli_error("unknown shape '%s' — use qwen2.5-0.5b, qwen2.5-1.5b, llama-3.2-1b or smollm2-135m",
                            shape_name);
    if (qk_type_from_name(type_name, &o->wtype) ||
        (o->wtype != QK_TYPE_F16 && o->wtype != QK_TYPE_F32 && o->wtype != QK_TYPE_BF16))
        return qk_cli_error("--type must be F16, F32 or BF16 (got '%s')", type_name);
    o->seed = (uint64_t)seed;
    o->n_layer = layers > 0 ? layers : o->sh->n_layer;
    return QK_CLI_RUN;
}

/* Open the vocab GGUF and check its tokenizer against the shape: a token list (its key
 * index in *tokens) of at most n_vocab tokens, and per-token arrays of the same length (the
 * padding copies them into n_vocab-sized buffers). Returns 0, or prints the error and
 * returns 1. */
static int open_vocab(const opts *o, gguf_ctx **out, int64_t *tokens) {
    qk_err err = {{0}};
    gguf_ctx *voc = gguf_open(o->vocab_path, &err);
    if (!voc) return qk_fail("%s", err.msg);
    const int64_t ti = gguf_find_key(voc, "tokenizer.ggml.tokens");
    if (ti < 0 || voc->kv[ti].arr_type != GGUF_TYPE_STRING) {
        gguf_close(voc);
        return qk_fail("%s has no tokenizer.ggml.tokens — pass a model or vocab GGUF", o->vocab_path);
    }
    const uint64_t n_tok = voc->kv[ti].n;
    if (n_tok > (uint64_t)o->sh->n_vocab) {
        gguf_close(voc);
        return qk_fail("%s has %llu tokens, more than %s's %d", o->vocab_path, (unsigned long long)n_tok,
                       o->sh->name, o->sh->n_vocab);
    }
    static const char *const per_token[] = {"tokenizer.ggml.token_type", "tokenizer.ggml.scores"};
    for (size_t k = 0; k < 2; k++) {
        const int64_t ki = gguf_find_key(voc, per_token[k]);
        if (ki >= 0 && voc->kv[ki].type == GGUF_TYPE_ARRAY && voc->kv[ki].n != n_tok) {
            const unsigned long long n_ki = voc->kv[ki].n;
            gguf_close(voc);
            return qk_fail("%s has %llu entries in %s for %llu tokens — the vocab file is corrupt", o->vocab_path,
                           n_ki, per_token[k], (unsigned long long)n_tok);
        }
    }
    *out = voc;
    *tokens = ti;
    return 0;
}

/* The vocab's token list (key index ti) padded with "[PADi]" UNUSED tokens up to n_vocab,
 * with its token types and scores padded to match. Returns 0, or -1 when out of memory. */
static int write_padded_tokenizer(gguf_writer *w, const gguf_ctx *voc, int64_t ti, int n_vocab) {
    const gguf_kv *tk = &voc->kv[ti];
    const uint64_t n_tok = tk->n;
    int rc = -1;
    const char **toks = malloc(sizeof(char *) * (size_t)n_vocab);
    char **own = calloc((size_t)n_vocab, sizeof(char *));
    int32_t *types = malloc(sizeof(int32_t) * (size_t)n_vocab);
    float *scores = calloc((size_t)n_vocab, sizeof(float));
    if (!toks || !own || !types || !scores) goto done;
    for (uint64_t i = 0; i < (uint64_t)n_vocab; i++) {
        if (i < n_tok) {
            own[i] = strndup(tk->strs[i].ptr, tk->strs[i].len);
        } else if ((own[i] = malloc(32))) {
            snprintf(own[i], 32, "[PAD%llu]", (unsigned long long)i);
        }
        if (!(toks[i] = own[i])) goto done;
    }
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, (uint64_t)n_vocab);
    const int64_t ty = gguf_find_key(voc, "tokenizer.ggml.token_type");
    if (ty >= 0 && voc->kv[ty].arr_type == GGUF_TYPE_INT32) {
        memcpy(types, voc->kv[ty].data, sizeof(int32_t) * (size_t)voc->kv[ty].n);
        for (uint64_t i = voc->kv[ty].n; i < (uint64_t)n_vocab; i++) types[i] = 5; /* UNUSED */
        gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, (uint64_t)n_vocab);
    }
    const int64_t sc = gguf_find_key(voc, "tokenizer.ggml.scores");
    if (sc >= 0 && voc->kv[sc].arr_type == GGUF_TYPE_FLOAT32) {
        memcpy(scores, voc->kv[sc].data, sizeof(float) * (size_t)voc->kv[sc].n);
        gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, (uint64_t)n_vocab);
    }
    rc = 0;
done:
    for (int i = 0; own && i < n_vocab; i++) free(own[i]);
    free(own);
    free(toks);
    free(types);
    free(scores);
    return rc;
}

/* The hyper-parameters llama.cpp reads for the architecture, and every tokenizer.* key of
 * the vocab (token lists padded to n_vocab). Returns 0, or -1 when out of memory. */
static int write_metadata(gguf_writer *w, const opts *o, const gguf_ctx *voc, int64_t ti) {
    const shape *sh = o->sh;
    char key[128], name[96];
    const char *A = sh->arch;
    gguf_writer_set_str(w, "general.architecture", A);
    snprintf(name, sizeof name, "synth-%s", sh->name);
    gguf_writer_set_str(w, "general.name", name);
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", A, suffix), key)
    gguf_writer_set_u32(w, KEY("context_length"), (uint32_t)sh->n_ctx);
    gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)sh->n_embd);
    gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)o->n_layer);
    gguf_writer_set_u32(w, KEY("feed_forward_length"), (uint32_t)sh->n_ff);
    gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)sh->n_head);
    gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)sh->n_head_kv);
    gguf_writer_set_f32(w, KEY("rope.freq_base"), sh->rope_base);
    gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), sh->rms_eps);
#undef KEY
    gguf_writer_set_u32(w, "general.file_type", o->wtype == QK_TYPE_F32 ? 0 : o->wtype == QK_TYPE_F16 ? 1 : 32);
    for (uint64_t i = 0; i < voc->n_kv; i++)
        if (!strncmp(voc->kv[i].key, "tokenizer.", 10)) gguf_writer_copy_kv(w, &voc->kv[i]);
    return voc->kv[ti].n < (uint64_t)sh->n_vocab ? write_padded_tokenizer(w, voc, ti, sh->n_vocab) : 0;
}

/* The model's tensors, in llama.cpp's usual order (calloc'd, *n of them; NULL when out of
 * memory). */
static tensor_spec *tensor_specs(const opts *o, int *n) {
    const shape *sh = o->sh;
    tensor_spec *ts = calloc((size_t)(3 + 12 * o->n_layer), sizeof *ts);
    if (!ts) return NULL;
    *n = 0;
    const qk_type wtype = o->wtype;
    const int64_t E = sh->n_embd, hd = E / sh->n_head, nq = hd * sh->n_head, nkv = hd * sh->n_head_kv;
    add_spec(ts, n, "token_embd.weight", 2, E, sh->n_vocab, wtype, 0);
    for (int il = 0; il < o->n_layer; il++) {
        char b[64];
#define T(suffix, nd, a, c, kind) (snprintf(b, sizeof b, "blk.%d.%s", il, suffix), add_spec(ts, n, b, nd, a, c, wtype, kind))
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
    add_spec(ts, n, "output_norm.weight", 1, E, 1, wtype, 1);
    return ts;
}

/* Declare the n tensors, write the header, then fill each tensor (o->n_threads workers)
 * and write its data, with a progress line on a terminal. Returns 0 or -1 (err set). */
static int write_tensors(gguf_writer *w, const opts *o, const tensor_spec *ts, int n, qk_err *err) {
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        int64_t ne[2] = {ts[i].ne[0], ts[i].ne[1]};
        rc = gguf_writer_add_tensor(w, ts[i].name, ts[i].type, (uint32_t)ts[i].n_dims, ne, err) < 0;
    }
    if (!rc) rc = gguf_writer_write_header(w, err);
    qk_pool *pool = rc ? NULL : qk_pool_new(o->n_threads);
    if (!rc && !pool) rc = qk_errf(err, "cannot start %d worker threads", o->n_threads) != 0;
    size_t cap = 0;
    void *buf = NULL;
    const int tty = isatty(STDERR_FILENO);
    for (int i = 0; i < n && !rc; i++) {
        int64_t rows = ts[i].n_dims == 2 ? ts[i].ne[1] : 1;
        size_t bytes = qk_row_size(ts[i].type, ts[i].ne[0]) * (size_t)rows;
        if (bytes > cap) {
            free(buf);
            buf = malloc(cap = bytes);
            if (!buf) {
                rc = qk_errf(err, "out of memory for tensor '%s' (%zu bytes)", ts[i].name, bytes) != 0;
                break;
            }
        }
        fill_job job = {&ts[i], o->seed * 0x9e3779b97f4a7c15ull + (uint64_t)i * 0x632be59bd9b4e019ull, buf, 0};
        qk_pool_run(pool, fill_task, &job);
        rc = job.oom ? qk_errf(err, "out of memory filling tensor '%s'", ts[i].name) != 0
                     : gguf_writer_write_tensor_data(w, buf, bytes, err);
        if (tty && (i % 16 == 15 || i == n - 1)) fprintf(stderr, "\rqk-synth: %d/%d tensors", i + 1, n);
    }
    if (tty) fprintf(stderr, "\n");
    free(buf);
    qk_pool_free(pool);
    return rc ? -1 : 0;
}

int main(int argc, char **argv) {
    qk_tool_init("qk-synth");
    opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0;

    qk_err err = {{0}};
    if (qk_paths_check(&o.vocab_path, 1, &o.out_path, 1, &err) != 0)
        return qk_fail("output '%s' is the vocab file — choose another output name", o.out_path);
    gguf_ctx *voc = NULL;
    int64_t ti = -1;
    if (open_vocab(&o, &voc, &ti) != 0) return 1;
    gguf_writer *w = gguf_writer_new(o.out_path, &err);
    if (!w) {
        gguf_close(voc);
        return qk_fail("%s", err.msg);
    }
    int n = 0;
    tensor_spec *ts = NULL;
    if (write_metadata(w, &o, voc, ti) || !(ts = tensor_specs(&o, &n))) rc = qk_errf(&err, "out of memory");
    else rc = write_tensors(w, &o, ts, n, &err);
    free(ts);
    gguf_close(voc);
    if (rc || gguf_writer_finish(w, &err)) {
        if (rc) gguf_writer_abort(w);
        return qk_fail("%s", err.msg);
    }
    printf("qk-synth: wrote %s (%s shapes, %d layers, %s)\n", o.out_path, o.sh->name, o.n_layer,
           qk_type_name(o.wtype));
    return 0;
}
