/*
 * test_synth.c — qk-synth writes loadable models with the exact shapes of the named real
 * models, deterministically for a seed, with the vocabulary padded to n_vocab.
 * (Layer counts are reduced with --layers to keep the files small; every other shape is
 * the real one.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "testutil.h"

static char *synth(const char *shape, const char *vocab_rel, const char *name, const char *extra) {
    static char out[4096];
    snprintf(out, sizeof out, "%s/%s", qk_test_tmpdir(), name);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s --shape %s --vocab %s -o %s --layers 2 -t 2 %s", qk_test_bin("qk-synth"), shape,
             qk_test_shared(vocab_rel), out, extra);
    char *log = NULL;
    int rc = qk_test_run(cmd, &log);
    ck_assert_msg(rc == 0, "qk-synth failed: %s", log);
    free(log);
    return out;
}

static void file_sha(const char *path, char hex[65]) {
    size_t n = 0;
    char *buf = qk_test_read_file(path, &n);
    ck_assert_ptr_nonnull(buf);
    qk_test_sha256_hex(buf, n, hex);
    free(buf);
}

START_TEST(test_qwen25_05b_shapes) {
    const char *p = synth("qwen2.5-0.5b", "data/tokenizers/qwen2/qwen2-vocab.gguf", "q05.gguf", "");
    qk_err err = {{0}};
    qk_model *m = qk_model_load(p, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    ck_assert_str_eq(m->hp.arch, "qwen2");
    ck_assert_int_eq(m->hp.n_embd, 896);
    ck_assert_int_eq(m->hp.n_ff, 4864);
    ck_assert_int_eq(m->hp.n_head, 14);
    ck_assert_int_eq(m->hp.n_head_kv, 2);
    ck_assert_int_eq(m->hp.n_vocab, 151936);
    ck_assert_int_eq(m->hp.n_layer, 2);
    ck_assert(m->tied_output);
    ck_assert(m->hp.rope_freq_base == 1000000.0f);
    ck_assert_ptr_nonnull(m->layers[0].bq); /* qwen2 has q/k/v biases */
    ck_assert_int_eq(m->layers[1].wk->ne[1], 128);
    ck_assert_int_eq(m->tok_embd->type, QK_TYPE_F16);
    ck_assert_uint_eq(m->gguf->n_tensors, 1 + 2 * 12 + 1);
    /* the tokenizer came along: Qwen2 tokenizes "Hello world" as [9707, 1879] */
    int32_t *ids = NULL;
    size_t n = 0;
    ck_assert_int_eq(qk_tokenize(m->vocab, "Hello world", 11, false, false, &ids, &n, &err), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(ids[0], 9707);
    ck_assert_int_eq(ids[1], 1879);
    free(ids);
    qk_model_free(m);
}
END_TEST

START_TEST(test_same_seed_same_bytes) {
    char a[65], b[65], c[65];
    file_sha(synth("smollm2-135m", "data/tokenizers/llama.cpp/ggml-vocab-llama-spm.gguf", "s1.gguf", "--seed 7"), a);
    file_sha(synth("smollm2-135m", "data/tokenizers/llama.cpp/ggml-vocab-llama-spm.gguf", "s2.gguf", "--seed 7"), b);
    file_sha(synth("smollm2-135m", "data/tokenizers/llama.cpp/ggml-vocab-llama-spm.gguf", "s3.gguf", "--seed 8"), c);
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
}
END_TEST

START_TEST(test_llama32_vocab_padded) {
    /* gpt-2's 50257 tokens padded to Llama-3.2-1B's 128256 rows */
    const char *p = synth("llama-3.2-1b", "data/tokenizers/llama.cpp/ggml-vocab-gpt-2.gguf", "l32.gguf", "--type BF16");
    qk_err err = {{0}};
    qk_model *m = qk_model_load(p, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    ck_assert_str_eq(m->hp.arch, "llama");
    ck_assert_int_eq(m->hp.n_embd, 2048);
    ck_assert_int_eq(m->hp.n_ff, 8192);
    ck_assert_int_eq(m->hp.n_head, 32);
    ck_assert_int_eq(m->hp.n_head_kv, 8);
    ck_assert_int_eq(m->hp.n_vocab, 128256);
    ck_assert_int_eq(m->tok_embd->type, QK_TYPE_BF16);
    ck_assert_str_eq(qk_vocab_token_text(m->vocab, 128255), "[PAD128255]");
    ck_assert_ptr_null(m->layers[0].bq);
    qk_model_free(m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("synth");
    TCase *tc = tcase_create("synth");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_qwen25_05b_shapes);
    tcase_add_test(tc, test_same_seed_same_bytes);
    tcase_add_test(tc, test_llama32_vocab_padded);
    suite_add_tcase(s, tc);
    return qk_test_main(s);
}
