/*
 * bad_inputs_fixtures.h — the inputs of test_bad_inputs.c, written into the test's
 * directory (<tmp>/t<pid>/in) once per test process: truncated and patched copies of
 * stories260K.gguf, tiny llama models made with the engine's GGUF writer (valid, with a
 * Q8_1 / Q8_K matrix, with a NaN weight), a GGUF without a tokenizer, texts and JSON
 * files. Static functions: this header is included by test_bad_inputs.c only.
 */
#ifndef QK_BAD_INPUTS_FIXTURES_H
#define QK_BAD_INPUTS_FIXTURES_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "testutil.h"
#include "types.h"

#define STORIES "data/models/stories260K/stories260K.gguf"
#define PATH_CAP 4096

/* snprintf that fails the test instead of truncating. */
static void fmt(char *dst, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *dst, size_t cap, const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(dst, cap, f, ap);
    va_end(ap);
    ck_assert_msg(n >= 0 && (size_t)n < cap, "path or command too long");
}


static char g_work[PATH_CAP]; /* <tmp>/t<pid>: this test's own directory */
static char g_in[PATH_CAP];   /* <work>/in: every input file */

/* The directory of this test's process, made on first use: the suite's temporary directory
 * is shared by the forked tests (qk_test_main makes it in the parent), and each test
 * expects a directory of its own. */
static const char *work_dir(void) {
    if (!g_work[0]) {
        fmt(g_work, sizeof g_work, "%s/t%ld", qk_test_tmpdir(), (long)getpid());
        ck_assert_int_eq(mkdir(g_work, 0755), 0);
    }
    return g_work;
}

static const char *in_path(const char *name) {
    static char buf[8][PATH_CAP];
    static int k;
    k = (k + 1) % 8;
    fmt(buf[k], sizeof buf[k], "%s/%s", g_in, name);
    return buf[k];
}

static void write_bytes(const char *name, const void *data, size_t n) {
    FILE *f = fopen(in_path(name), "wb");
    ck_assert_msg(f != NULL, "cannot create %s", name);
    ck_assert(fwrite(data, 1, n, f) == n);
    ck_assert(fclose(f) == 0);
}

static void write_text(const char *name, const char *text) { write_bytes(name, text, strlen(text)); }

/* Position of the tensor-info record of `name` (its u64 name length) in a GGUF image. */
static size_t tensor_info_pos(const unsigned char *buf, size_t n, const char *name) {
    size_t len = strlen(name);
    unsigned char pat[80];
    uint64_t l64 = len;
    memcpy(pat, &l64, 8);
    memcpy(pat + 8, name, len);
    const unsigned char *p = memmem(buf, n, pat, 8 + len);
    ck_assert_msg(p != NULL, "tensor info of %s not found", name);
    return (size_t)(p - buf);
}

/* Copies of stories260K.gguf cut or patched at known places. */
static void make_stories_variants(void) {
    size_t n = 0;
    unsigned char *buf = (unsigned char *)qk_test_read_file(qk_test_shared(STORIES), &n);
    ck_assert_ptr_nonnull(buf);
    qk_err err = {{0}};
    gguf_ctx *g = gguf_open(qk_test_shared(STORIES), &err);
    ck_assert_msg(g != NULL, "%s", err.msg);
    const size_t data = g->data_offset;
    gguf_close(g);
    const size_t tinfo = tensor_info_pos(buf, n, "token_embd.weight");
    ck_assert(24 < tinfo && tinfo < data && data + 4096 < n);

    write_bytes("trunc-header.gguf", buf, 12);                  /* inside n_tensors */
    write_bytes("trunc-metadata.gguf", buf, (24 + tinfo) / 2);  /* inside the KV pairs */
    write_bytes("trunc-tinfo.gguf", buf, (tinfo + data) / 2);   /* inside the tensor infos */
    write_bytes("trunc-data.gguf", buf, data + 4000);           /* inside token_embd's data */
    write_bytes("trunc-1byte.gguf", buf, n - 1);                /* the last byte missing */

    /* blk.0.attn_q.weight: u64 len, name, u32 n_dims (2), 2 x u64 ne, u32 type */
    const char *q = "blk.0.attn_q.weight";
    const size_t tpos = tensor_info_pos(buf, n, q) + 8 + strlen(q) + 4 + 2 * 8;
    uint32_t old;
    memcpy(&old, buf + tpos, 4);
    ck_assert_uint_eq(old, QK_TYPE_F32);
    const uint32_t ids[3] = {26 /* I32: unknown to qkit */, QK_TYPE_Q8_K, QK_TYPE_Q8_1};
    const char *names[3] = {"type-unknown.gguf", "type-q8k-patched.gguf", "type-q81-patched.gguf"};
    for (int k = 0; k < 3; k++) {
        memcpy(buf + tpos, &ids[k], 4);
        write_bytes(names[k], buf, n);
    }
    memcpy(buf + tpos, &old, 4);

    uint64_t huge = (uint64_t)1 << 40; /* n_kv */
    memcpy(buf + 16, &huge, 8);
    write_bytes("hostile-nkv.gguf", buf, n);
    free(buf);
}

/* Values of the tiny model's tensors: norms 1, weights 0.3 * the LCG (which steps for
 * every element, norms included); element 5 of the tensor named nan_tensor is NaN. */
typedef struct tiny_fill {
    uint32_t rng;
    const char *nan_tensor;
} tiny_fill;

static void fill_tiny(const qk_test_tensor *t, float *f, int64_t n, void *arg) {
    tiny_fill *tf = arg;
    for (int64_t j = 0; j < n; j++) {
        const float r = qk_test_lcg_frand(&tf->rng);
        f[j] = t->norm ? 1.0f : 0.3f * r;
    }
    if (tf->nan_tensor && strcmp(tf->nan_tensor, t->name) == 0) f[5] = NAN;
}

/* The tiny llama model: n_embd 32 (256 for Q8_K), 2 layers, 4 heads (2 KV heads), n_ff 64,
 * the 20-token SentencePiece vocabulary of testutil.h. attn_q of layer 0 gets `wq`; when
 * nan_tensor is set, element 5 of that tensor is NaN. Matrices F16 (F32 with `f32`), norms
 * F32. */
static void make_tiny(const char *name, qk_type wq, int f32, const char *nan_tensor) {
    const int E = wq == QK_TYPE_Q8_K ? 256 : 32, n_layer = 2, n_head = 4, n_head_kv = 2, n_ff = 64;
    const qk_type mt = f32 ? QK_TYPE_F32 : QK_TYPE_F16;
    qk_err err = {{0}};
    gguf_writer *w = gguf_writer_new(in_path(name), &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_str(w, "general.name", "tiny");
    gguf_writer_set_u32(w, "llama.context_length", 128);
    gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)E);
    gguf_writer_set_u32(w, "llama.block_count", (uint32_t)n_layer);
    gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)n_ff);
    gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)n_head);
    gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)n_head_kv);
    gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gguf_writer_set_u32(w, "general.file_type", f32 ? 0 : 1);
    qk_test_set_tiny_vocab(w);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);

    qk_test_tensor t[32];
    int nt = 0;
#define T(nm, ty, a, b, nrm)                                                                         \
    (fmt(t[nt].name, sizeof t[nt].name, "%s", nm), t[nt].type = ty, t[nt].ne[0] = a, t[nt].ne[1] = b, \
     t[nt].norm = nrm, nt++)
    const int nkv = n_head_kv * (E / n_head);
    T("token_embd.weight", mt, E, QK_TEST_TINY_N_VOCAB, 0);
    T("output_norm.weight", QK_TYPE_F32, E, 0, 1);
    T("output.weight", mt, E, QK_TEST_TINY_N_VOCAB, 0);
    for (int il = 0; il < n_layer; il++) {
        char nm[64];
#define L(suffix, ty, a, b, nrm) (fmt(nm, sizeof nm, "blk.%d.%s", il, suffix), T(nm, ty, a, b, nrm))
        L("attn_norm.weight", QK_TYPE_F32, E, 0, 1);
        L("attn_q.weight", il == 0 ? wq : mt, E, E, 0);
        L("attn_k.weight", mt, E, nkv, 0);
        L("attn_v.weight", mt, E, nkv, 0);
        L("attn_output.weight", mt, E, E, 0);
        L("ffn_norm.weight", QK_TYPE_F32, E, 0, 1);
        L("ffn_gate.weight", mt, E, n_ff, 0);
        L("ffn_up.weight", mt, E, n_ff, 0);
        L("ffn_down.weight", mt, n_ff, E, 0);
#undef L
    }
#undef T
    tiny_fill tf = {7, nan_tensor};
    ck_assert_msg(qk_test_write_tensors(w, t, nt, fill_tiny, &tf, &err) == 0, "%s", err.msg);
    ck_assert_msg(gguf_writer_finish(w, &err) == 0, "%s", err.msg);
}

/* A valid GGUF with one tensor and no tokenizer. */
static void make_novocab(void) {
    qk_err err = {{0}};
    gguf_writer *w = gguf_writer_new(in_path("novocab.gguf"), &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    gguf_writer_set_str(w, "general.architecture", "llama");
    const int64_t ne[1] = {32};
    float v[32] = {0};
    ck_assert_int_eq(gguf_writer_add_tensor(w, "x.weight", QK_TYPE_F32, 1, ne, &err), 0);
    ck_assert_msg(gguf_writer_write_header(w, &err) == 0, "%s", err.msg);
    ck_assert_msg(gguf_writer_write_tensor_data(w, v, sizeof v, &err) == 0, "%s", err.msg);
    ck_assert_msg(gguf_writer_finish(w, &err) == 0, "%s", err.msg);
}

/* Build every input once per process (Check forks one process per test). */
static void fixtures(void) {
    if (g_in[0]) return;
    fmt(g_in, sizeof g_in, "%s/in", work_dir());
    ck_assert_int_eq(mkdir(g_in, 0755), 0);
    ck_assert_int_eq(mkdir(in_path("adir.gguf"), 0755), 0);
    ck_assert_int_eq(mkdir(in_path("emptydir"), 0755), 0);
    write_bytes("empty.gguf", "", 0);
    write_text("notgguf.gguf", "This is plain text, not a GGUF model.\n");
    make_stories_variants();
    make_novocab();
    make_tiny("tiny.gguf", QK_TYPE_F16, 0, NULL);
    make_tiny("tiny-q81.gguf", QK_TYPE_Q8_1, 0, NULL);
    make_tiny("tiny-q8k.gguf", QK_TYPE_Q8_K, 0, NULL);
    make_tiny("tiny-nan.gguf", QK_TYPE_F32, 1, "blk.1.ffn_up.weight");
    make_tiny("tiny-nan-f16.gguf", QK_TYPE_F16, 0, "blk.0.attn_k.weight");

    /* texts: a valid one (plenty of tokens for -c 8), empty, whitespace only */
    char text[8192] = "";
    for (int i = 0; i < 120; i++) strcat(text, i % 3 ? "Hello ab c\n" : "abc He llo\n");
    write_text("text.txt", text);
    write_text("empty.txt", "");
    write_text("ws.txt", "   \n \n\n  \n"); /* spaces and line breaks: the tiny vocab spells both */
    /* base-logits files that are not one */
    write_text("garbage.logits", "definitely not a llama.cpp logits file, far too short\n");
    write_bytes("empty.logits", "", 0);
    /* report inputs */
    write_text("trunc.json", "{\"tool\": \"qk-perplexity\", \"ppl\": 12.5, \"n_ctx\"");
    write_text("array.json", "[1, 2, 3]\n");
    write_text("nofields.json", "{\"tool\": \"qk-perplexity\"}\n");
    write_text("badtype.json", "{\"tool\": \"qk-perplexity\", \"model\": \"m.gguf\", \"ppl\": \"twelve\"}\n");
    write_bytes("empty.json", "", 0);
}

#endif
