/*
 * test_model_load.c — model-level validation of hostile or inconsistent GGUF files.
 *
 * Every case writes a tiny llama model with the engine's GGUF writer (n_embd 32, 2 layers,
 * n_head 4, n_head_kv 2 unless a case changes them, a 20-token SentencePiece vocab), then
 * breaks one thing: a hyper-parameter that contradicts the tensor shapes, zero or huge head
 * counts, n_rot > head dim, a vocab whose size differs from token_embd's rows, a tensor
 * type that cannot be multiplied (Q8_1, Q8_K) in a matrix position, a non-F32 norm, NaN or
 * infinite epsilons, ill-typed optional keys. qk_model_load must return NULL with a
 * one-line message naming the problem. Also: qk_context_new refuses a context whose KV
 * cache size overflows instead of allocating a wrapped size. The baseline file must load
 * and decode to finite logits, so the rejections are not an artefact of a broken writer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "gguf.h"
#include "model.h"
#include "testutil.h"

#define N_TOK QK_TEST_TINY_N_VOCAB

typedef struct cfg {
    const char *arch;
    int n_embd, n_layer, n_ff, n_head, n_head_kv;
    int vocab_rows;        /* token_embd rows (N_TOK unless a case breaks it) */
    int output_rows;       /* output.weight rows; 0: no output.weight (tied) */
    qk_type wq_type;       /* blk.*.attn_q.weight */
    qk_type norm_type;     /* blk.0.attn_norm.weight */
    int drop_layer1_down;  /* omit blk.1.ffn_down.weight */
    struct ovr {           /* metadata overrides, applied after the consistent values */
        const char *key;   /* ".suffix" means "<arch>.suffix" */
        gguf_vtype type;   /* UINT32, INT32, FLOAT32 or STRING */
        double num;
        const char *str;
    } ov[4];
    int n_ov;
} cfg;

static cfg base(void) {
    return (cfg){"llama", 32, 2, 64, 4, 2, N_TOK, 0, QK_TYPE_F16, QK_TYPE_F32, 0, {{0}}, 0};
}

static void override(cfg *c, const char *key, gguf_vtype type, double num, const char *str) {
    c->ov[c->n_ov++] = (struct ovr){key, type, num, str};
}

/* Tensor values: norms 1, weights 0.3 * the LCG, which runs on across the models a test
 * process writes. */
static uint32_t rng = 1;
static void fill(const qk_test_tensor *t, float *f, int64_t n, void *arg) {
    (void)arg;
    for (int64_t j = 0; j < n; j++) f[j] = t->norm ? 1.0f : 0.3f * qk_test_lcg_frand(&rng);
}

static const char *model_path(const char *name) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", qk_test_tmpdir(), name);
    return buf;
}

/* Write the model described by c to the temp dir under `name`; returns its path. */
static const char *write_model(const char *name, const cfg *c) {
    const char *path = model_path(name);
    qk_err err = {{0}};
    gguf_writer *w = gguf_writer_new(path, &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    char key[96];
#define K(s) (snprintf(key, sizeof key, "%s.%s", c->arch, s), key)
    gguf_writer_set_str(w, "general.architecture", c->arch);
    gguf_writer_set_u32(w, K("context_length"), 128);
    gguf_writer_set_u32(w, K("embedding_length"), (uint32_t)c->n_embd);
    gguf_writer_set_u32(w, K("block_count"), (uint32_t)c->n_layer);
    gguf_writer_set_u32(w, K("feed_forward_length"), (uint32_t)c->n_ff);
    gguf_writer_set_u32(w, K("attention.head_count"), (uint32_t)c->n_head);
    gguf_writer_set_u32(w, K("attention.head_count_kv"), (uint32_t)c->n_head_kv);
    gguf_writer_set_f32(w, K("attention.layer_norm_rms_epsilon"), 1e-5f);
#undef K
    qk_test_set_tiny_vocab(w);
    for (int i = 0; i < c->n_ov; i++) {
        const struct ovr *o = &c->ov[i];
        if (o->key[0] == '.') snprintf(key, sizeof key, "%s%s", c->arch, o->key);
        else snprintf(key, sizeof key, "%s", o->key);
        switch (o->type) {
        case GGUF_TYPE_UINT32: gguf_writer_set_u32(w, key, (uint32_t)o->num); break;
        case GGUF_TYPE_INT32: gguf_writer_set_i32(w, key, (int32_t)o->num); break;
        case GGUF_TYPE_FLOAT32: gguf_writer_set_f32(w, key, (float)o->num); break;
        default: gguf_writer_set_str(w, key, o->str); break;
        }
    }

    static qk_test_tensor t[64];
    int nt = 0;
#define T(nm, ty, a, b, nrm) \
    (snprintf(t[nt].name, sizeof t[nt].name, "%s", nm), t[nt].type = ty, t[nt].ne[0] = a, t[nt].ne[1] = b, \
     t[nt].norm = nrm, nt++)
    const int E = c->n_embd, hd = c->n_embd / c->n_head, nkv = c->n_head_kv * hd;
    T("token_embd.weight", QK_TYPE_F16, E, c->vocab_rows, 0);
    T("output_norm.weight", QK_TYPE_F32, E, 0, 1);
    if (c->output_rows) T("output.weight", QK_TYPE_F16, E, c->output_rows, 0);
    for (int il = 0; il < c->n_layer; il++) {
        char nm[64];
#define L(suffix, ty, a, b, nrm) (snprintf(nm, sizeof nm, "blk.%d.%s", il, suffix), T(nm, ty, a, b, nrm))
        L("attn_norm.weight", il == 0 ? c->norm_type : QK_TYPE_F32, E, 0, 1);
        L("attn_q.weight", c->wq_type, E, E, 0);
        L("attn_k.weight", QK_TYPE_F16, E, nkv, 0);
        L("attn_v.weight", QK_TYPE_F16, E, nkv, 0);
        L("attn_output.weight", QK_TYPE_F16, E, E, 0);
        L("ffn_norm.weight", QK_TYPE_F32, E, 0, 1);
        L("ffn_gate.weight", QK_TYPE_F16, E, c->n_ff, 0);
        L("ffn_up.weight", QK_TYPE_F16, E, c->n_ff, 0);
        if (!(il == 1 && c->drop_layer1_down)) L("ffn_down.weight", QK_TYPE_F16, c->n_ff, E, 0);
#undef L
    }
#undef T
    ck_assert_msg(qk_test_write_tensors(w, t, nt, fill, NULL, &err) == 0, "%s", err.msg);
    ck_assert_msg(gguf_writer_finish(w, &err) == 0, "%s", err.msg);
    return path;
}

/* The model must be refused with a one-line message containing `needle`. */
static void expect_refused(const char *name, const cfg *c, const char *needle) {
    const char *p = write_model(name, c);
    qk_err err = {{0}};
    qk_model *m = qk_model_load(p, &err);
    if (m) qk_model_free(m);
    ck_assert_msg(m == NULL, "%s: inconsistent model was accepted", name);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", name, err.msg, needle);
    ck_assert_msg(strchr(err.msg, '\n') == NULL, "%s: message is not one line", name);
}

START_TEST(test_baseline_loads_and_decodes) {
    cfg c = base();
    c.output_rows = N_TOK;
    const char *p = write_model("base.gguf", &c);
    qk_err err = {{0}};
    qk_model *m = qk_model_load(p, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    ck_assert_int_eq(m->hp.n_vocab, N_TOK);
    ck_assert_int_eq(m->hp.head_dim, 8);
    ck_assert_int_eq(m->hp.n_rot, 8);
    ck_assert_int_eq(m->hp.n_ctx_train, 128);
    qk_context *ctx = qk_context_new(m, (qk_context_params){16, 1, 4, 1}, &err);
    ck_assert_msg(ctx != NULL, "%s", err.msg);
    int32_t tok[3] = {1, 7, 19}, pos[3] = {0, 1, 2}, seq[3] = {0, 0, 0};
    qk_batch b = {3, tok, pos, seq, NULL};
    ck_assert_msg(qk_decode(ctx, &b, &err) == 0, "%s", err.msg);
    int32_t n_out = 0;
    const float *l = qk_get_logits(ctx, &n_out);
    ck_assert_int_eq(n_out, 1);
    for (int i = 0; i < N_TOK; i++) ck_assert_msg(isfinite(l[i]), "logit %d = %f", i, l[i]);
    qk_context_free(ctx);
    qk_model_free(m);
}
END_TEST

/* KV cache elements = n_layer·n_seq·n_ctx·n_kv. With n_ctx = 2^29 + 2^15 + 1 and
 * n_seq = 2^29 - 2^15 + 1 (product 2^58 + 1), 2 layers and n_kv 16 the element count is
 * 2^63 + 32 and its size in bytes, ·2, wraps to 64: the old code allocated a 64-byte cache
 * and the first decode wrote far past it. The context must be refused instead. */
START_TEST(test_context_size_overflow_is_refused) {
    cfg c = base();
    const char *p = write_model("ctx.gguf", &c);
    qk_err err = {{0}};
    qk_model *m = qk_model_load(p, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    qk_context *ctx = qk_context_new(m, (qk_context_params){536903681, 536838145, 4, 1}, &err);
    ck_assert_ptr_null(ctx);
    ck_assert_msg(strstr(err.msg, "context too large") != NULL, "%s", err.msg);
    ctx = qk_context_new(m, (qk_context_params){INT32_MAX, INT32_MAX, 4, 1}, &err);
    ck_assert_ptr_null(ctx);
    ck_assert_msg(strstr(err.msg, "context too large") != NULL, "%s", err.msg);
    ctx = qk_context_new(m, (qk_context_params){0, 1, 4, 1}, &err);
    ck_assert_ptr_null(ctx);
    ck_assert_ptr_nonnull(strstr(err.msg, "invalid context size"));
    qk_model_free(m);
}
END_TEST

/* Head counts: zero, huge, not dividing n_embd or n_head, or dividing but contradicting the
 * q/k/v shapes (which were written for 4 heads / 2 KV heads). */
START_TEST(test_head_counts) {
    struct { double n_head, n_head_kv; const char *needle; } cases[] = {
        {0, 2, "implausible hyper-parameters"},
        {5000, 2, "implausible hyper-parameters"},
        {4, 0, "implausible hyper-parameters"},
        {3, 3, "do not divide evenly"}, /* 32 % 3 */
        {4, 3, "do not divide evenly"}, /* 4 % 3 */
        {4, 8, "do not divide evenly"}, /* more KV heads than heads */
        {8, 2, "has shape"},            /* head dim 4: attn_k/v should be [32, 8] */
        {4, 4, "has shape"},            /* attn_k/v should be [32, 32] */
        {4294967295.0, 2, "implausible hyper-parameters"}, /* u32 max, negative as int32 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cfg c = base();
        override(&c, ".attention.head_count", GGUF_TYPE_UINT32, cases[i].n_head, NULL);
        override(&c, ".attention.head_count_kv", GGUF_TYPE_UINT32, cases[i].n_head_kv, NULL);
        char name[64];
        snprintf(name, sizeof name, "heads%zu.gguf", i);
        expect_refused(name, &c, cases[i].needle);
    }
}
END_TEST

/* Sizes that contradict the tensors, and out-of-range values. */
START_TEST(test_sizes_contradict_tensors) {
    cfg c = base();
    override(&c, ".embedding_length", GGUF_TYPE_UINT32, 64, NULL);
    expect_refused("embd.gguf", &c, "token_embd.weight' has shape [32, 20");
    c = base();
    override(&c, ".embedding_length", GGUF_TYPE_UINT32, 2147483648.0, NULL); /* int32 wrap */
    expect_refused("embd-huge.gguf", &c, "implausible hyper-parameters");
    c = base();
    override(&c, ".feed_forward_length", GGUF_TYPE_UINT32, 128, NULL);
    expect_refused("ff.gguf", &c, "blk.0.ffn_gate.weight' has shape");
    c = base();
    override(&c, ".block_count", GGUF_TYPE_UINT32, 3, NULL);
    expect_refused("layers3.gguf", &c, "missing tensor 'blk.2.attn_norm.weight'");
    c = base();
    override(&c, ".block_count", GGUF_TYPE_UINT32, 0, NULL);
    expect_refused("layers0.gguf", &c, "implausible hyper-parameters");
    c = base();
    override(&c, ".block_count", GGUF_TYPE_UINT32, 100000, NULL);
    expect_refused("layers-huge.gguf", &c, "implausible hyper-parameters");
    c = base();
    c.drop_layer1_down = 1;
    expect_refused("nodown.gguf", &c, "missing tensor 'blk.1.ffn_down.weight'");
    c = base();
    override(&c, ".embedding_length", GGUF_TYPE_STRING, 0, "32");
    expect_refused("embd-str.gguf", &c, "'llama.embedding_length' has the wrong type");
    c = base();
    override(&c, "general.architecture", GGUF_TYPE_STRING, 0, "gpt2");
    expect_refused("arch.gguf", &c, "architecture 'gpt2' is not supported");
}
END_TEST

/* RoPE dimension count: larger than the head, odd, zero, or ill-typed. */
START_TEST(test_rope_dimensions) {
    struct { gguf_vtype t; double v; const char *s; const char *needle; } cases[] = {
        {GGUF_TYPE_UINT32, 16, NULL, "rope.dimension_count 16 is invalid for head size 8"},
        {GGUF_TYPE_UINT32, 7, NULL, "rope.dimension_count 7 is invalid"},
        {GGUF_TYPE_UINT32, 0, NULL, "rope.dimension_count 0 is invalid"},
        {GGUF_TYPE_INT32, -8, NULL, "'llama.rope.dimension_count' has the wrong type or value"},
        {GGUF_TYPE_STRING, 0, "8", "'llama.rope.dimension_count' has the wrong type or value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cfg c = base();
        override(&c, ".rope.dimension_count", cases[i].t, cases[i].v, cases[i].s);
        char name[64];
        snprintf(name, sizeof name, "rope%zu.gguf", i);
        expect_refused(name, &c, cases[i].needle);
    }
}
END_TEST

/* Optional keys present with a wrong type used to be ignored silently (the default was
 * used instead): head_count_kv as a string would have run the model with n_head KV heads. */
START_TEST(test_ill_typed_optional_keys) {
    cfg c = base();
    c.n_head_kv = 4; /* shapes consistent with the default n_head_kv = n_head */
    override(&c, ".attention.head_count_kv", GGUF_TYPE_STRING, 0, "4");
    expect_refused("hkv-str.gguf", &c, "'llama.attention.head_count_kv' has the wrong type or value");
    c = base();
    override(&c, ".context_length", GGUF_TYPE_INT32, -1, NULL);
    expect_refused("ctx-neg.gguf", &c, "'llama.context_length' has the wrong type or value");
    c = base();
    override(&c, ".context_length", GGUF_TYPE_UINT32, 0, NULL);
    expect_refused("ctx-zero.gguf", &c, "implausible hyper-parameters");
    c = base();
    override(&c, ".rope.freq_base", GGUF_TYPE_STRING, 0, "10000");
    expect_refused("base-str.gguf", &c, "'llama.rope.freq_base' has the wrong type");
}
END_TEST

START_TEST(test_bad_float_hparams) {
    struct { const char *key; double v; } cases[] = {
        {".attention.layer_norm_rms_epsilon", NAN},
        {".attention.layer_norm_rms_epsilon", INFINITY},
        {".attention.layer_norm_rms_epsilon", 0},
        {".attention.layer_norm_rms_epsilon", -1e-5},
        {".rope.freq_base", 0},
        {".rope.freq_base", INFINITY},
        {".rope.freq_base", NAN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cfg c = base();
        override(&c, cases[i].key, GGUF_TYPE_FLOAT32, cases[i].v, NULL);
        char name[64];
        snprintf(name, sizeof name, "float%zu.gguf", i);
        expect_refused(name, &c, "must be positive and finite");
    }
}
END_TEST

/* Vocabulary size against token_embd and output rows. */
START_TEST(test_vocab_size_mismatch) {
    cfg c = base();
    c.vocab_rows = N_TOK + 1;
    expect_refused("vocab21.gguf", &c, "the vocabulary has 20 tokens but token_embd.weight has 21 rows");
    c = base();
    c.output_rows = N_TOK - 1;
    expect_refused("output19.gguf", &c, "'output.weight' has shape [32, 19");
}
END_TEST

/* Types the forward pass cannot multiply (no vec_dot: Q8_1, Q8_K are activation types)
 * in a matrix position, and a non-F32 norm. */
START_TEST(test_unusable_tensor_types) {
    cfg c = base();
    c.wq_type = QK_TYPE_Q8_1;
    expect_refused("q81.gguf", &c, "'blk.0.attn_q.weight' has type Q8_1, which cannot be used for inference");
    c = base();
    c.n_embd = 256; /* Q8_K needs ne[0] % 256 == 0 */
    c.n_ff = 32;
    c.n_head = 4;
    c.n_head_kv = 4;
    c.wq_type = QK_TYPE_Q8_K;
    expect_refused("q8k.gguf", &c, "'blk.0.attn_q.weight' has type Q8_K, which cannot be used for inference");
    c = base();
    c.norm_type = QK_TYPE_F16;
    expect_refused("normf16.gguf", &c, "'blk.0.attn_norm.weight' has type F16; norms and biases must be F32");
}
END_TEST

int main(void) {
    Suite *s = suite_create("model_load");
    TCase *tc = tcase_create("model_load");
    tcase_add_test(tc, test_baseline_loads_and_decodes);
    tcase_add_test(tc, test_context_size_overflow_is_refused);
    tcase_add_test(tc, test_head_counts);
    tcase_add_test(tc, test_sizes_contradict_tensors);
    tcase_add_test(tc, test_rope_dimensions);
    tcase_add_test(tc, test_ill_typed_optional_keys);
    tcase_add_test(tc, test_bad_float_hparams);
    tcase_add_test(tc, test_vocab_size_mismatch);
    tcase_add_test(tc, test_unusable_tensor_types);
    suite_add_tcase(s, tc);
    return qk_test_main(s);
}
