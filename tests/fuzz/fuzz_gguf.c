/*
 * fuzz_gguf.c — libFuzzer harness for everything in the engine that reads a GGUF file.
 *
 * Each input is written to an in-memory file (memfd, opened by path through /proc/self/fd)
 * and goes through the same calls the tools make:
 *   gguf_open → typed getters on every key, bounds invariants on every string, array and
 *   tensor, dequantization of the first and last row of small tensors →
 *   qk_vocab_load → tokenize (a fixed text and the input's last 96 bytes) / detokenize /
 *   token pieces →
 *   qk_model_load → qk_context_new (n_ctx 8) → qk_decode of 2 tokens, then 1 more →
 *   qk_quantize_file to one of six targets (chosen by the input's last byte) into a
 *   private temporary directory, and gguf_open of what it wrote (the writer's output must
 *   be a GGUF the reader accepts, with the planned tensor count).
 * Property checked besides the sanitizers: every failure is a -1/NULL with a non-empty,
 * one-line message (the project rule for bad input); the harness aborts otherwise.
 *
 * Not part of the CMake build or ctest; see tests/fuzz/README.md for the build command.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forward.h"
#include "ftype.h"
#include "fuzz_common.h"
#include "gguf.h"
#include "mixture_apply.h"
#include "model.h"
#include "tokenizer.h"
#include "types.h"

static fuzz_file g_in;
static char g_out[96];  /* quantize output path, in a directory of this process */
static FILE *g_devnull; /* the quantize log */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    fuzz_file_init(&g_in, "fuzz.gguf");
    char dir[] = "/tmp/qk-fuzz-XXXXXX";
    if (!mkdtemp(dir) || !(g_devnull = fopen("/dev/null", "w"))) abort();
    snprintf(g_out, sizeof g_out, "%s/out.gguf", dir);
    return 0;
}

static void inside(const gguf_ctx *g, const void *p, uint64_t n, const char *what) {
    const uint8_t *b = g->map, *q = p;
    if (n == 0) return;
    if (q < b || q > b + g->map_size || n > (uint64_t)(b + g->map_size - q)) {
        fprintf(stderr, "fuzz: %s outside the mapped file\n", what);
        abort();
    }
}

/* Reader invariants promised by gguf.h, then touch every value through the getters. */
static void exercise_reader(const gguf_ctx *g) {
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const gguf_kv *kv = &g->kv[i];
        gguf_vtype et = kv->type == GGUF_TYPE_ARRAY ? kv->arr_type : kv->type;
        if (et == GGUF_TYPE_STRING) {
            for (uint64_t j = 0; j < kv->n; j++) inside(g, kv->strs[j].ptr, kv->strs[j].len, "string");
        } else {
            inside(g, kv->data, gguf_vtype_size(et) * kv->n, "value");
        }
        uint32_t u;
        int64_t x;
        float f;
        bool bo;
        gguf_str s;
        (void)gguf_get_u32(g, kv->key, &u);
        (void)gguf_get_i64(g, kv->key, &x);
        (void)gguf_get_f32(g, kv->key, &f);
        (void)gguf_get_bool(g, kv->key, &bo);
        if (gguf_get_str(g, kv->key, &s) == 0) inside(g, s.ptr, s.len, "string value");
    }
    float row[4096];
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        if (gguf_find_tensor(g, t->name) == NULL) abort();
        inside(g, t->data, t->nbytes, "tensor data");
        const qk_type_traits *tt = qk_type_get(t->type);
        if (!tt || !tt->to_float) abort(); /* the reader promised a readable type */
        if (t->ne[0] > (int64_t)(sizeof row / sizeof row[0])) continue;
        size_t rs = qk_row_size(t->type, t->ne[0]);
        int64_t rows = gguf_tensor_nelements(t) / t->ne[0];
        tt->to_float(t->data, row, t->ne[0]);
        tt->to_float((const uint8_t *)t->data + (size_t)(rows - 1) * rs, row, t->ne[0]);
    }
}

/* Tokenize a fixed text (specials, bytes, invalid UTF-8, NUL) and the last bytes of the
 * input itself (mutated text against a mutated vocab). */
static void exercise_vocab(const qk_vocab *v, const uint8_t *data, size_t size) {
    static const char fixed[] =
        "Hello world! <s> </s> <|endoftext|> <|im_start|>user\n  tabs\t\tand \xe2\x96\x81 "
        "caf\xc3\xa9 \xf0\x9f\x98\x80 123 4567 it's \xff\xfe invalid utf-8 \x00 nul";
    size_t tail = size < 96 ? size : 96;
    for (int run = 0; run < 3; run++) {
        int special = run & 1;
        const char *text = run < 2 ? fixed : (const char *)data + size - tail;
        size_t len = run < 2 ? sizeof fixed - 1 : tail;
        int32_t *ids = NULL;
        size_t n = 0;
        qk_err err = {{0}};
        if (qk_tokenize(v, text, len, special, special, &ids, &n, &err) != 0) {
            fuzz_check_err(&err, "qk_tokenize");
            continue;
        }
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= qk_vocab_n_tokens(v)) {
                fprintf(stderr, "fuzz: qk_tokenize produced id %d outside the vocab\n", ids[i]);
                abort();
            }
        char *s = qk_detokenize(v, ids, n, special);
        free(s);
        free(ids);
    }
    int32_t nt = qk_vocab_n_tokens(v);
    char piece[16];
    for (int32_t id = 0; id < nt && id < 4096; id++) {
        (void)qk_token_to_piece(v, id, piece, sizeof piece, true);
        (void)qk_token_to_piece(v, id, piece, sizeof piece, false);
        (void)qk_vocab_token_text(v, id);
    }
    (void)qk_token_to_piece(v, nt, piece, sizeof piece, true);
    (void)qk_token_to_piece(v, -1, piece, sizeof piece, true);
}

static void exercise_model(const qk_model *m) {
    qk_err err = {{0}};
    char desc[128];
    qk_model_desc(m, desc, sizeof desc);
    qk_context_params p = {.n_ctx = 8, .n_seq = 1, .n_batch = 4, .n_threads = 1};
    qk_context *c = qk_context_new(m, p, &err);
    if (!c) {
        fuzz_check_err(&err, "qk_context_new");
        return;
    }
    int32_t nv = m->hp.n_vocab;
    int32_t tok[2] = {0, nv - 1}, pos[2] = {0, 1}, seq[2] = {0, 0};
    int8_t lg[2] = {1, 1};
    qk_batch b = {2, tok, pos, seq, lg};
    if (qk_decode(c, &b, &err) != 0) {
        fuzz_check_err(&err, "qk_decode");
    } else {
        int32_t n_out = 0;
        const float *l = qk_get_logits(c, &n_out);
        if (n_out != 2 || !l) abort();
        volatile float sink = l[0] + l[2 * (size_t)nv - 1]; /* both rows exist */
        (void)sink;
        int32_t t3 = nv / 2, p3 = 2;
        qk_batch b3 = {1, &t3, &p3, seq, NULL};
        if (qk_decode(c, &b3, &err) != 0) fuzz_check_err(&err, "qk_decode");
    }
    /* invalid batches must be refused, not crash */
    int32_t bad = nv;
    qk_batch bb = {1, &bad, pos, seq, NULL};
    if (qk_decode(c, &bb, &err) == 0) abort();
    fuzz_check_err(&err, "qk_decode(bad token)");
    qk_context_free(c);
}

/* Quantize what the model loader accepted, then read the result back. */
static void exercise_quantize(const uint8_t *data, size_t size) {
    static const char *const targets[] = {"Q4_K_M", "Q2_K", "Q6_K", "Q8_0", "Q4_0", "COPY"};
    const char *t = targets[(size ? data[size - 1] : 0) % (sizeof targets / sizeof targets[0])];
    qk_quant_opts o = {.in_path = g_in.path, .out_path = g_out, .ftype_label = t, .n_threads = 1,
                       .log = g_devnull};
    qk_mix_params_init(&o.mix);
    o.mix.only_copy = strcmp(t, "COPY") == 0;
    o.mix.ftype = o.mix.only_copy ? 0 : qk_ftype_parse(t)->id;
    qk_quant_result res;
    qk_err err = {{0}};
    if (qk_quantize_file(&o, &res, &err) != 0) {
        fuzz_check_err(&err, "qk_quantize_file");
    } else {
        gguf_ctx *g = gguf_open(g_out, &err);
        FUZZ_ASSERT(g, "the quantized file does not open: %s", err.msg);
        FUZZ_ASSERT(g->n_tensors == res.n_tensors, "%llu tensors written, %zu planned",
                    (unsigned long long)g->n_tensors, res.n_tensors);
        gguf_close(g);
    }
    qk_quant_result_free(&res);
    unlink(g_out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_file_set(&g_in, data, size);

    qk_err err = {{0}};
    gguf_ctx *g = gguf_open(g_in.path, &err);
    if (!g) {
        fuzz_check_err(&err, "gguf_open");
        return 0;
    }
    exercise_reader(g);
    qk_vocab *v = qk_vocab_load(g, &err);
    if (v) {
        exercise_vocab(v, data, size);
        qk_vocab_free(v);
    } else {
        fuzz_check_err(&err, "qk_vocab_load");
    }
    gguf_close(g);
    exercise_quantize(data, size);

    qk_model *m = qk_model_load(g_in.path, &err);
    if (m) {
        exercise_model(m);
        qk_model_free(m);
    } else {
        fuzz_check_err(&err, "qk_model_load");
    }
    return 0;
}
