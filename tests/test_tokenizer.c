/*
 * test_tokenizer.c — the tokenizers against llama.cpp's test vectors, and qk-tokenize.
 *
 * Vectors: ../shared/data/tokenizers/llama.cpp/ggml-vocab-*.gguf.inp/.out (cases separated
 * by "\n__ggml_vocab_test__\n", one line of ids per case), tokenized as llama.cpp's
 * test-tokenizer-0 does: add_special = false, parse_special = false. Vocabs: llama-spm and
 * gpt-2 from llama.cpp's models/, and qwen2/qwen2-vocab.gguf for the qwen2 vectors.
 * Also: round trips (pieces and qk_detokenize give the input back), whole-text token
 * counts of wiki.test.raw against the chunk counts of the golden llama-perplexity runs,
 * BOS/EOS handling, special-token splitting, metadata errors on small vocab-only GGUFs
 * written here, and the qk-tokenize command line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "testutil.h"
#include "tokenizer.h"
#include "tokenizer_impl.h" /* qk_pretokenize, qk_utf8_decode: unit-tested below */

#define SPM_VOCAB "data/tokenizers/llama.cpp/ggml-vocab-llama-spm.gguf"
#define GPT2_VOCAB "data/tokenizers/llama.cpp/ggml-vocab-gpt-2.gguf"
#define QWEN2_VOCAB "data/tokenizers/qwen2/qwen2-vocab.gguf"
#define WIKI "data/wikitext-2-raw/wiki.test.raw"

static qk_vocab *load_vocab(const char *rel) {
    qk_err err = {{0}};
    gguf_ctx *g = gguf_open(qk_test_shared(rel), &err);
    ck_assert_msg(g != NULL, "gguf_open(%s): %s", rel, err.msg);
    qk_vocab *v = qk_vocab_load(g, &err);
    gguf_close(g);
    ck_assert_msg(v != NULL, "qk_vocab_load(%s): %s", rel, err.msg);
    return v;
}

static int32_t *tok(const qk_vocab *v, const char *s, size_t len, bool add_special, bool parse_special, size_t *n) {
    qk_err err = {{0}};
    int32_t *ids = NULL;
    ck_assert_msg(qk_tokenize(v, s, len, add_special, parse_special, &ids, n, &err) == 0, "qk_tokenize: %s", err.msg);
    ck_assert_ptr_nonnull(ids);
    return ids;
}

/* ---------------------------------------------------------------- vector files ------- */

typedef struct vcase {
    char *text;
    size_t len;
    int32_t ids[1024];
    size_t n;
} vcase;

/* Split .inp like llama.cpp's test-tokenizer-0 and parse .out; returns the case count. */
static size_t read_cases(const char *rel_inp, const char *rel_out, vcase **cases) {
    size_t ilen, olen;
    char *inp = qk_test_read_file(qk_test_shared(rel_inp), &ilen);
    ck_assert_msg(inp != NULL, "cannot read %s", rel_inp);
    char *out = qk_test_read_file(qk_test_shared(rel_out), &olen);
    ck_assert_msg(out != NULL, "cannot read %s", rel_out);
    static const char sep[] = "\n__ggml_vocab_test__\n";
    const size_t seplen = sizeof sep - 1;
    vcase *c = calloc(256, sizeof *c);
    ck_assert_ptr_nonnull(c);
    size_t n = 0, pos = 0;
    while (pos < ilen) {
        const char *m = memmem(inp + pos, ilen - pos, sep, seplen);
        size_t end = m ? (size_t)(m - inp) : ilen;
        ck_assert(n < 256);
        c[n].len = end - pos;
        c[n].text = malloc(c[n].len + 1);
        memcpy(c[n].text, inp + pos, c[n].len);
        c[n].text[c[n].len] = 0;
        n++;
        if (!m) break;
        pos = end + seplen;
    }
    size_t line = 0;
    char *save = NULL;
    for (char *l = out; line < n && l <= out + olen; line++) {
        char *nl = strchr(l, '\n');
        if (nl) *nl = 0;
        for (char *t = strtok_r(l, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
            ck_assert(c[line].n < 1024);
            c[line].ids[c[line].n++] = (int32_t)strtol(t, NULL, 10);
        }
        if (!nl) {
            line++;
            break;
        }
        l = nl + 1;
    }
    ck_assert_msg(line == n, "%s has %zu cases but %s has %zu lines", rel_inp, n, rel_out, line);
    free(inp);
    free(out);
    *cases = c;
    return n;
}

static void escape_into(char *dst, size_t cap, const char *s, size_t len) {
    size_t k = 0;
    for (size_t i = 0; i < len && k + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') k += (size_t)snprintf(dst + k, cap - k, "\\n");
        else if (c == '\t') k += (size_t)snprintf(dst + k, cap - k, "\\t");
        else if (c < 0x20) k += (size_t)snprintf(dst + k, cap - k, "\\x%02x", c);
        else dst[k++] = (char)c;
    }
    dst[k] = 0;
}

static void ids_into(char *dst, size_t cap, const int32_t *ids, size_t n) {
    size_t k = 0;
    dst[0] = 0;
    for (size_t i = 0; i < n && k + 16 < cap; i++) k += (size_t)snprintf(dst + k, cap - k, "%s%d", i ? " " : "", ids[i]);
}

/* True when the input contains a pattern that the BPE detokenizer's clean-up changes. */
static bool has_clean_pattern(const char *s) {
    for (const char *p = s; *p; p++)
        if (p[0] == ' ' && (p[1] == '?' || p[1] == '!' || p[1] == '.' || p[1] == ',' || p[1] == '\'')) return true;
    return false;
}

/* Every case must tokenize to its ids; pieces and detokenization must give the text back. */
static void run_vectors(const char *vocab_rel, const char *name, bool clean) {
    char inp[256], out[256];
    snprintf(inp, sizeof inp, "data/tokenizers/llama.cpp/ggml-vocab-%s.gguf.inp", name);
    snprintf(out, sizeof out, "data/tokenizers/llama.cpp/ggml-vocab-%s.gguf.out", name);
    vcase *c;
    size_t n = read_cases(inp, out, &c);
    ck_assert_msg(n >= 40, "only %zu cases in %s", n, inp);
    qk_vocab *v = load_vocab(vocab_rel);
    const bool spm = qk_vocab_kind_of(v) == QK_VOCAB_SPM;
    size_t bad = 0;
    static char msg[16384];
    msg[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t got_n;
        int32_t *got = tok(v, c[i].text, c[i].len, false, false, &got_n);
        bool ok = got_n == c[i].n && memcmp(got, c[i].ids, got_n * sizeof *got) == 0;
        const char *why = "tokens differ";
        if (ok) {
            /* pieces concatenated = the input (SPM: minus the added leading space) */
            size_t cap = c[i].len + 16, k = 0;
            char *cat = malloc(cap);
            for (size_t j = 0; j < got_n && ok; j++) {
                int l = qk_token_to_piece(v, got[j], cat + k, cap - k, false);
                ok = l >= 0 && (size_t)l <= cap - k;
                if (ok) k += (size_t)l;
            }
            size_t skip = spm && k > 0 && cat[0] == ' ';
            ok = ok && k - skip == c[i].len && memcmp(cat + skip, c[i].text, c[i].len) == 0;
            if (!ok) why = "pieces do not give the input back";
            free(cat);
            /* detokenize (the BPE clean-up legitimately changes " ?", " '" ...) */
            char *d = qk_detokenize(v, got, got_n, false);
            ck_assert_ptr_nonnull(d);
            if (ok && !(clean && has_clean_pattern(c[i].text)) && strcmp(d, c[i].text) != 0) {
                ok = false;
                why = "qk_detokenize does not give the input back";
            }
            free(d);
        }
        if (!ok) {
            char e[512], w[1024], g[1024];
            escape_into(e, sizeof e, c[i].text, c[i].len);
            ids_into(w, sizeof w, c[i].ids, c[i].n);
            ids_into(g, sizeof g, got, got_n);
            if (bad < 6) {
                size_t k = strlen(msg);
                snprintf(msg + k, sizeof msg - k, "\n  case %zu '%s': %s\n    want: %s\n    got:  %s", i, e, why, w, g);
            }
            bad++;
        }
        free(got);
    }
    for (size_t i = 0; i < n; i++) free(c[i].text);
    free(c);
    qk_vocab_free(v);
    ck_assert_msg(bad == 0, "%s: %zu of %zu cases fail:%s", name, bad, n, msg);
}

START_TEST(vectors_llama_spm) { run_vectors(SPM_VOCAB, "llama-spm", false); }
END_TEST

START_TEST(vectors_gpt2) { run_vectors(GPT2_VOCAB, "gpt-2", true); }
END_TEST

START_TEST(vectors_qwen2) { run_vectors(QWEN2_VOCAB, "qwen2", false); }
END_TEST

/* ---------------------------------------------------------------- whole text --------- */

/* wiki.test.raw: round trip, and the token count llama-perplexity saw (golden logs:
 * "calculating perplexity over C chunks, n_ctx=256" => C*256 <= n_tokens < (C+1)*256, with
 * add_special = true, parse_special = false). */
static void wiki_check(const char *vocab_rel, long chunks, int n_ctx) {
    size_t len;
    char *text = qk_test_read_file(qk_test_shared(WIKI), &len);
    ck_assert_ptr_nonnull(text);
    qk_vocab *v = load_vocab(vocab_rel);
    size_t n;
    int32_t *ids = tok(v, text, len, true, false, &n);
    if (chunks > 0)
        ck_assert_msg(n >= (size_t)(chunks * n_ctx) && n < (size_t)((chunks + 1) * n_ctx),
                      "%s: %zu tokens, llama-perplexity made %ld chunks of %d", vocab_rel, n, chunks, n_ctx);
    /* detokenizing after a BOS keeps the first piece's space (llama.cpp), so skip it */
    size_t skip = n > 0 && qk_vocab_add_bos(v) && ids[0] == qk_vocab_bos(v);
    char *d = qk_detokenize(v, ids + skip, n - skip, false);
    ck_assert_ptr_nonnull(d);
    ck_assert_msg(strlen(d) == len && memcmp(d, text, len) == 0, "%s: wiki.test.raw does not round-trip", vocab_rel);
    free(d);
    free(ids);
    free(text);
    qk_vocab_free(v);
}

START_TEST(wiki_spm_llama2) { wiki_check(SPM_VOCAB, 1311, 256); } /* wiki-qwen2-13m pplfull log */
END_TEST

START_TEST(wiki_spm_stories260k) { wiki_check("data/models/stories260K/stories260K.gguf", 3161, 256); }
END_TEST

START_TEST(wiki_qwen2) { wiki_check(QWEN2_VOCAB, 0, 0); }
END_TEST

/* Runs longer than QK_TOK_MAX_RUN characters (a long run of one letter, of spaces) are
 * merged piece by piece: they round-trip, every id is in range, and a BPE word of
 * k * QK_TOK_MAX_RUN + r letters gives the tokens of its pieces tokenized alone. */
static void long_runs(const char *vocab_rel) {
    qk_vocab *v = load_vocab(vocab_rel);
    const size_t len = 2 * QK_TOK_MAX_RUN + 777;
    char *text = malloc(len);
    ck_assert_ptr_nonnull(text);
    for (int kind = 0; kind < 2; kind++) {
        memset(text, kind ? ' ' : 'a', len);
        size_t n;
        int32_t *ids = tok(v, text, len, false, false, &n);
        ck_assert_msg(n > 0 && n <= len, "%s: %zu tokens for %zu bytes", vocab_rel, n, len);
        for (size_t i = 0; i < n; i++) ck_assert_int_lt(ids[i], qk_vocab_n_tokens(v));
        char *d = qk_detokenize(v, ids, n, false);
        ck_assert_ptr_nonnull(d);
        ck_assert_msg(strlen(d) == len && memcmp(d, text, len) == 0, "%s: a run of %zu '%c' does not round-trip",
                      vocab_rel, len, text[0]);
        free(d);
        if (qk_vocab_kind_of(v) == QK_VOCAB_BPE && kind == 0) {
            size_t n1, n2;
            int32_t *a = tok(v, text, QK_TOK_MAX_RUN, false, false, &n1);
            int32_t *b = tok(v, text, 777, false, false, &n2);
            ck_assert_uint_eq(n, 2 * n1 + n2);
            ck_assert(memcmp(ids, a, n1 * sizeof *a) == 0 && memcmp(ids + n1, a, n1 * sizeof *a) == 0 &&
                      memcmp(ids + 2 * n1, b, n2 * sizeof *b) == 0);
            free(a);
            free(b);
        }
        free(ids);
    }
    free(text);
    qk_vocab_free(v);
}

START_TEST(long_runs_spm) { long_runs(SPM_VOCAB); }
END_TEST

START_TEST(long_runs_gpt2) { long_runs(GPT2_VOCAB); }
END_TEST

START_TEST(long_runs_qwen2) { long_runs(QWEN2_VOCAB); }
END_TEST

/* ---------------------------------------------------------------- specials ----------- */

START_TEST(bos_eos_handling) {
    qk_vocab *spm = load_vocab(SPM_VOCAB);
    ck_assert_int_eq(qk_vocab_bos(spm), 1);
    ck_assert_int_eq(qk_vocab_eos(spm), 2);
    ck_assert(qk_vocab_add_bos(spm));
    ck_assert(!qk_vocab_add_eos(spm));
    size_t n;
    int32_t *a = tok(spm, "Hello world", 11, true, false, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(a[0], 1);
    ck_assert_int_eq(a[1], 15043);
    ck_assert_int_eq(a[2], 3186);
    /* remove_special drops the BOS; llama.cpp then keeps the piece's leading space */
    char *d = qk_detokenize(spm, a, n, true);
    ck_assert_str_eq(d, " Hello world");
    free(d);
    d = qk_detokenize(spm, a + 1, n - 1, false);
    ck_assert_str_eq(d, "Hello world");
    free(d);
    free(a);
    a = tok(spm, "", 0, true, false, &n); /* empty text: just BOS, like llama.cpp */
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(a[0], 1);
    free(a);
    a = tok(spm, "", 0, false, false, &n);
    ck_assert_uint_eq(n, 0);
    free(a);
    qk_vocab_free(spm);

    qk_vocab *qw = load_vocab(QWEN2_VOCAB);
    ck_assert_int_eq(qk_vocab_n_tokens(qw), 151936);
    ck_assert_int_eq(qk_vocab_kind_of(qw), QK_VOCAB_BPE);
    ck_assert_int_eq(qk_vocab_bos(qw), 151643);
    ck_assert_int_eq(qk_vocab_eos(qw), 151645);
    ck_assert(!qk_vocab_add_bos(qw)); /* add_bos_token = false */
    a = tok(qw, "Hello", 5, true, false, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(a[0], 9707);
    free(a);
    qk_vocab_free(qw);
}
END_TEST

START_TEST(special_tokens) {
    qk_vocab *v = load_vocab(QWEN2_VOCAB);
    const char *s = "<|im_start|>user\nHi<|im_end|>";
    size_t n;
    int32_t *a = tok(v, s, strlen(s), false, true, &n);
    ck_assert_uint_ge(n, 4);
    ck_assert_int_eq(a[0], 151644);
    ck_assert_int_eq(a[n - 1], 151645);
    ck_assert_str_eq(qk_vocab_token_text(v, a[0]), "<|im_start|>");
    /* control tokens: "" unless special; the raw text with special */
    char buf[64];
    ck_assert_int_eq(qk_token_to_piece(v, 151644, buf, sizeof buf, false), 0);
    int l = qk_token_to_piece(v, 151644, buf, sizeof buf, true);
    ck_assert_int_eq(l, 12);
    ck_assert(memcmp(buf, "<|im_start|>", 12) == 0);
    ck_assert_int_eq(qk_token_to_piece(v, 151644, buf, 4, true), 12); /* snprintf-like */
    ck_assert_int_eq(qk_token_to_piece(v, -1, buf, sizeof buf, true), -1);
    ck_assert_int_eq(qk_token_to_piece(v, 151936, buf, sizeof buf, true), -1);
    char *d = qk_detokenize(v, a, n, false);
    ck_assert_str_eq(d, "user\nHi");
    free(d);
    free(a);

    /* parse_special off: the text is plain text, no control token appears */
    a = tok(v, s, strlen(s), false, false, &n);
    for (size_t i = 0; i < n; i++) ck_assert_int_lt(a[i], 151643);
    d = qk_detokenize(v, a, n, false);
    ck_assert_str_eq(d, s);
    free(d);
    free(a);

    /* user-defined tokens (<tool_call> is type 4) are split out even without parse_special */
    const char *t = "a<tool_call>b";
    a = tok(v, t, strlen(t), false, false, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(a[1], 151657);
    d = qk_detokenize(v, a, n, false);
    ck_assert_str_eq(d, t);
    free(d);
    free(a);
    qk_vocab_free(v);

    /* SPM: text after a special token gets the space prefix again */
    v = load_vocab(SPM_VOCAB);
    a = tok(v, "Hello</s>Hello", 14, false, true, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(a[0], 15043);
    ck_assert_int_eq(a[1], 2);
    ck_assert_int_eq(a[2], 15043);
    free(a);
    qk_vocab_free(v);
}
END_TEST

START_TEST(gpt2_clean_spaces) {
    /* gpt-2 detokenization applies llama.cpp's clean_up_tokenization_spaces; qwen2 does not */
    const char *s = "Hello , world ! It 's 'x' here .";
    qk_vocab *v = load_vocab(GPT2_VOCAB);
    size_t n;
    int32_t *a = tok(v, s, strlen(s), false, false, &n);
    char *d = qk_detokenize(v, a, n, false);
    ck_assert_str_eq(d, "Hello, world! It's 'x' here.");
    free(d);
    free(a);
    qk_vocab_free(v);
    v = load_vocab(QWEN2_VOCAB);
    a = tok(v, s, strlen(s), false, false, &n);
    d = qk_detokenize(v, a, n, false);
    ck_assert_str_eq(d, s);
    free(d);
    free(a);
    qk_vocab_free(v);
}
END_TEST

/* ---------------------------------------------------------------- small GGUFs -------- */

/* A vocab-only GGUF: tokens a b c ab abc, merges "a b" "ab c", pre as given (NULL: no key). */
static const char *write_tiny(const char *name, const char *model, const char *pre, int add_bos) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", qk_test_tmpdir(), name);
    qk_err err = {{0}};
    gguf_writer *w = gguf_writer_new(path, &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    gguf_writer_set_str(w, "general.architecture", "llama");
    if (model) {
        static const char *toks[] = {"a", "b", "c", "ab", "abc", "\xc4\xa0", "<s>"};
        static const char *merges[] = {"a b", "ab c"};
        int32_t types[] = {1, 1, 1, 1, 1, 1, 3};
        gguf_writer_set_str(w, "tokenizer.ggml.model", model);
        if (pre) gguf_writer_set_str(w, "tokenizer.ggml.pre", pre);
        gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 7);
        gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, 7);
        gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 2);
        if (add_bos >= 0) gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", add_bos != 0);
    }
    ck_assert_msg(gguf_writer_finish(w, &err) == 0, "%s", err.msg);
    return path;
}

static qk_vocab *load_path(const char *path, qk_err *err) {
    gguf_ctx *g = gguf_open(path, err);
    ck_assert_msg(g != NULL, "%s", err->msg);
    qk_vocab *v = qk_vocab_load(g, err);
    gguf_close(g);
    return v;
}

START_TEST(metadata_errors) {
    qk_err err = {{0}};
    qk_vocab *v = load_path(write_tiny("pre-bad.gguf", "gpt2", "no-such-pre", -1), &err);
    ck_assert_ptr_null(v);
    ck_assert_msg(strstr(err.msg, "unknown pre-tokenizer 'no-such-pre'") != NULL, "message: %s", err.msg);

    v = load_path(write_tiny("model-bad.gguf", "t9", NULL, -1), &err);
    ck_assert_ptr_null(v);
    ck_assert_msg(strstr(err.msg, "unknown tokenizer model 't9'") != NULL, "message: %s", err.msg);

    v = load_path(write_tiny("no-tok.gguf", NULL, NULL, -1), &err);
    ck_assert_ptr_null(v);
    ck_assert_msg(strstr(err.msg, "no tokenizer metadata") != NULL, "message: %s", err.msg);

    v = load_path(write_tiny("no-pre.gguf", "gpt2", NULL, -1), &err);
    ck_assert_ptr_null(v);
    ck_assert_msg(strstr(err.msg, "tokenizer.ggml.pre") != NULL, "message: %s", err.msg);

    /* add_bos_token true but no BOS: llama.cpp's BPE default id 11 is outside this vocab */
    v = load_path(write_tiny("bos-missing.gguf", "gpt2", "gpt-2", 1), &err);
    ck_assert_ptr_null(v);
    ck_assert_msg(strstr(err.msg, "no BOS") != NULL, "message: %s", err.msg);
}
END_TEST

START_TEST(tiny_bpe_merges) {
    qk_err err = {{0}};
    qk_vocab *v = load_path(write_tiny("tiny.gguf", "gpt2", "gpt-2", -1), &err);
    ck_assert_msg(v != NULL, "%s", err.msg);
    ck_assert(!qk_vocab_add_bos(v));
    size_t n;
    int32_t *a = tok(v, "abc", 3, false, false, &n); /* a+b -> ab (rank 0), ab+c -> abc */
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(a[0], 4);
    free(a);
    a = tok(v, "cab", 3, false, false, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(a[0], 2);
    ck_assert_int_eq(a[1], 3);
    free(a);
    a = tok(v, "a b", 3, false, false, &n); /* words "a", " b": " " is "\xc4\xa0" (id 5) */
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(a[1], 5);
    char *d = qk_detokenize(v, a, n, false);
    ck_assert_str_eq(d, "a b");
    free(d);
    free(a);
    qk_vocab_free(v);

    /* llama-bpe: add_bos defaults to true (and <s> is not the default BOS id 11) */
    v = load_path(write_tiny("tiny-l3.gguf", "gpt2", "llama-bpe", -1), &err);
    ck_assert_ptr_null(v);
    ck_assert_msg(strstr(err.msg, "no BOS") != NULL, "message: %s", err.msg);
}
END_TEST

/* SPM mechanics on a 9-token vocab: highest score merges first, the space prefix follows
 * add_space_prefix, unknown characters fall back to <0xXX> byte tokens. */
static const char *write_tiny_spm(const char *name, float score_sp_a, float score_ab, int add_prefix) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", qk_test_tmpdir(), name);
    qk_err err = {{0}};
    gguf_writer *w = gguf_writer_new(path, &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    static const char *toks[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b", "\xe2\x96\x81" "a", "ab", "<0x63>"};
    float scores[] = {0, 0, 0, -3, -4, -4, score_sp_a, score_ab, 0};
    int32_t types[] = {2, 3, 3, 1, 1, 1, 1, 1, 6};
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 9);
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, 9);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, 9);
    if (add_prefix >= 0) gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", add_prefix != 0);
    ck_assert_msg(gguf_writer_finish(w, &err) == 0, "%s", err.msg);
    return path;
}

START_TEST(tiny_spm) {
    qk_err err = {{0}};
    size_t n;
    /* "ab" -> "▁ab": ab (-0.5) beats ▁a (-1) -> [▁, ab] */
    qk_vocab *v = load_path(write_tiny_spm("spm1.gguf", -1.0f, -0.5f, -1), &err);
    ck_assert_msg(v != NULL, "%s", err.msg);
    int32_t *a = tok(v, "ab", 2, true, false, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(a[0], 1);
    ck_assert_int_eq(a[1], 3);
    ck_assert_int_eq(a[2], 7);
    free(a);
    /* byte fallback: "c" is only <0x63>; its piece is the byte */
    a = tok(v, "abc", 3, false, false, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(a[2], 8);
    char *d = qk_detokenize(v, a, n, false);
    ck_assert_str_eq(d, "abc");
    free(d);
    free(a);
    qk_vocab_free(v);
    /* ▁a (-0.5) beats ab (-1) -> [▁a, b] */
    v = load_path(write_tiny_spm("spm2.gguf", -0.5f, -1.0f, -1), &err);
    ck_assert_msg(v != NULL, "%s", err.msg);
    a = tok(v, "ab", 2, false, false, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(a[0], 6);
    ck_assert_int_eq(a[1], 5);
    free(a);
    qk_vocab_free(v);
    /* add_space_prefix = false: no "▁" in front */
    v = load_path(write_tiny_spm("spm3.gguf", -0.5f, -1.0f, 0), &err);
    ck_assert_msg(v != NULL, "%s", err.msg);
    a = tok(v, "ab", 2, false, false, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(a[0], 7);
    d = qk_detokenize(v, a, n, false);
    ck_assert_str_eq(d, "ab");
    free(d);
    free(a);
    /* a character with no byte token is an error, not a crash */
    int32_t *ids = NULL;
    ck_assert_int_eq(qk_tokenize(v, "d", 1, false, false, &ids, &n, &err), -1);
    ck_assert_ptr_null(ids);
    ck_assert_msg(strstr(err.msg, "<0x64>") != NULL, "message: %s", err.msg);
    qk_vocab_free(v);
}
END_TEST

/* ---------------------------------------------------------------- pre-tokenizers ----- */

/* Split text with a pre-tokenizer and join the pieces with '|'. */
static void split_join(qk_pre_kind kind, const char *text, char *out, size_t cap) {
    size_t len = strlen(text);
    uint32_t *cp = malloc((len + 1) * sizeof *cp), *lens = malloc((len + 1) * sizeof *lens);
    size_t n = qk_utf8_decode(text, len, cp);
    size_t np = qk_pretokenize(kind, cp, n, lens), at = 0, k = 0;
    for (size_t p = 0; p < np; p++) {
        if (p) out[k++] = '|';
        for (uint32_t i = 0; i < lens[p]; i++) k += qk_utf8_encode(cp[at + i], out + k);
        at += lens[p];
        ck_assert(k + 8 < cap);
    }
    out[k] = 0;
    ck_assert_uint_eq(at, n);
    free(cp);
    free(lens);
}

START_TEST(pretokenizers) {
    /* derived by hand from the regexes in pretokenize.c */
    const char *t = "Hello world 12345 I'M here\n\n  x";
    char b[512];
    split_join(QK_PRE_GPT2, t, b, sizeof b);
    ck_assert_str_eq(b, "Hello| world| 12345| I|'|M| here|\n\n | x");
    split_join(QK_PRE_LLAMA3, t, b, sizeof b);
    ck_assert_str_eq(b, "Hello| world| |123|45| I|'M| here|\n\n| | x");
    split_join(QK_PRE_QWEN2, t, b, sizeof b);
    ck_assert_str_eq(b, "Hello| world| |1|2|3|4|5| I|'M| here|\n\n| | x");
    /* Unicode classes: letters with diacritics, No (½), ideographic space (White_Space) */
    split_join(QK_PRE_GPT2, "na\xc3\xafve caf\xc3\xa9 \xc2\xbd!!", b, sizeof b);
    ck_assert_str_eq(b, "na\xc3\xafve| caf\xc3\xa9| \xc2\xbd|!!");
    split_join(QK_PRE_QWEN2, "a\xe3\x80\x80" "b ...\r\n", b, sizeof b);
    ck_assert_str_eq(b, "a|\xe3\x80\x80" "b| ...\r\n");
    /* malformed UTF-8 decodes to U+FFFD one byte at a time (llama.cpp) */
    uint32_t cp[8];
    ck_assert_uint_eq(qk_utf8_decode("\xff\xc3x", 3, cp), 3);
    ck_assert_uint_eq(cp[0], 0xFFFD);
    ck_assert_uint_eq(cp[1], 0xFFFD);
    ck_assert_uint_eq(cp[2], 'x');
}
END_TEST

/* ---------------------------------------------------------------- qk-tokenize -------- */

START_TEST(cli_ids) {
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' -m '%s' -p 'Hello world' --ids", qk_test_bin("qk-tokenize"), qk_test_shared(SPM_VOCAB));
    int rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_str_eq(out, "[1, 15043, 3186]\n");
    free(out);

    snprintf(cmd, sizeof cmd, "'%s' -m '%s' -p 'Hello world' --ids --no-bos", qk_test_bin("qk-tokenize"),
             qk_test_shared(SPM_VOCAB));
    rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_str_eq(out, "[15043, 3186]\n");
    free(out);

    /* default format: "%6d -> 'piece'" per token; escapes in -p are processed; special
     * tokens parsed (ids from ggml-vocab-qwen2.gguf.out: "Hello world", "\n") */
    snprintf(cmd, sizeof cmd, "'%s' -m '%s' -p 'Hello world\\n<|im_end|>'", qk_test_bin("qk-tokenize"),
             qk_test_shared(QWEN2_VOCAB));
    rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_str_eq(out, "  9707 -> 'Hello'\n  1879 -> ' world'\n   198 -> '\n'\n151645 -> '<|im_end|>'\n");
    free(out);

    /* -f FILE reads bytes as they are */
    char path[4096];
    snprintf(path, sizeof path, "%s/cli.txt", qk_test_tmpdir());
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("Hello world", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' -m '%s' -f '%s' --ids --no-bos", qk_test_bin("qk-tokenize"), qk_test_shared(GPT2_VOCAB), path);
    rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_str_eq(out, "[15496, 995]\n");
    free(out);
}
END_TEST

static void cli_fails(const char *args, const char *expect) {
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' %s", qk_test_bin("qk-tokenize"), args);
    int rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc != 0, "'%s' succeeded: %s", args, out);
    ck_assert_msg(strncmp(out, "qk-tokenize: error: ", 20) == 0 && strstr(out, expect) && strchr(out, '\n') == out + strlen(out) - 1,
                  "'%s': want one error line mentioning '%s', got: %s", args, expect, out);
    free(out);
}

START_TEST(cli_errors) {
    char args[8192];
    cli_fails("-m /nonexistent/model.gguf -p hi", "/nonexistent/model.gguf");
    snprintf(args, sizeof args, "-m '%s' -p hi", qk_test_shared("data/tokenizers/llama.cpp/ggml-vocab-gpt-2.gguf.inp"));
    cli_fails(args, "GGUF");
    snprintf(args, sizeof args, "-m '%s' -p hi", write_tiny("cli-no-tok.gguf", NULL, NULL, -1));
    cli_fails(args, "no tokenizer metadata");
    snprintf(args, sizeof args, "-m '%s' -p hi", write_tiny("cli-pre.gguf", "gpt2", "mystery", -1));
    cli_fails(args, "unknown pre-tokenizer 'mystery'");
    snprintf(args, sizeof args, "-m '%s' -f /nonexistent/text.txt", qk_test_shared(SPM_VOCAB));
    cli_fails(args, "/nonexistent/text.txt");
    snprintf(args, sizeof args, "-m '%s' -p ''", qk_test_shared(SPM_VOCAB));
    cli_fails(args, "empty");
    cli_fails("-p hi", "-m");
    cli_fails("--bogus", "--bogus");

    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' --help", qk_test_bin("qk-tokenize"));
    ck_assert_int_eq(qk_test_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "--no-parse-special"));
    free(out);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("tokenizer");
    TCase *t = tcase_create("vectors");
    tcase_add_test(t, vectors_llama_spm);
    tcase_add_test(t, vectors_gpt2);
    tcase_add_test(t, vectors_qwen2);
    suite_add_tcase(s, t);
    t = tcase_create("wiki");
    tcase_add_test(t, wiki_spm_llama2);
    tcase_add_test(t, wiki_spm_stories260k);
    tcase_add_test(t, wiki_qwen2);
    suite_add_tcase(s, t);
    t = tcase_create("long_runs");
    /* runs of 2 MiB: ~5 s each, past Check's 4 s default when the suite is run by hand */
    tcase_set_timeout(t, 300);
    tcase_add_test(t, long_runs_spm);
    tcase_add_test(t, long_runs_gpt2);
    tcase_add_test(t, long_runs_qwen2);
    suite_add_tcase(s, t);
    t = tcase_create("behaviour");
    tcase_add_test(t, bos_eos_handling);
    tcase_add_test(t, special_tokens);
    tcase_add_test(t, gpt2_clean_spaces);
    tcase_add_test(t, metadata_errors);
    tcase_add_test(t, tiny_bpe_merges);
    tcase_add_test(t, tiny_spm);
    tcase_add_test(t, pretokenizers);
    suite_add_tcase(s, t);
    t = tcase_create("cli");
    tcase_add_test(t, cli_ids);
    tcase_add_test(t, cli_errors);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return qk_test_main(suite()); }
