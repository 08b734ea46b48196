/*
 * test_ppl_cover.c — bits per byte and word perplexity (perplexity/ppl_cover.h): the byte
 * and word counts of a hand-made stream, the text under the scored tokens of a hand-built
 * two-chunk token array (stories260K's vocabulary), the two formulas on round numbers, and
 * qk-perplexity's JSON and text line in both the text and the --kl-divergence modes.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "ppl_cover.h"
#include "testutil.h"
#include "tokenizer.h"

#define STORIES "data/models/stories260K/stories260K.gguf"
#define WIKI "data/wikitext-2-raw/wiki.test.raw"

START_TEST(counts_of_a_stream) {
    ppl_cover c = {0};
    ppl_cover_add(&c, "Hello", 5);
    ppl_cover_add(&c, " wor", 4);
    ppl_cover_add(&c, "ld\n\t", 4); /* "world" continues across the pieces */
    ck_assert_uint_eq(c.n_bytes, 13);
    ck_assert_uint_eq(c.n_words, 2);
    ppl_cover_add(&c, "x", 1); /* after whitespace: a new word */
    ck_assert_uint_eq(c.n_words, 3);
    ppl_cover_end_span(&c);
    ppl_cover_add(&c, "y", 1); /* a new span: a new word although no space came between */
    ck_assert_uint_eq(c.n_words, 4);
    ppl_cover_add(&c, "\xc3\xa9", 2); /* UTF-8 bytes are counted as bytes, and are no space */
    ck_assert_uint_eq(c.n_bytes, 17);
    ck_assert_uint_eq(c.n_words, 4);
    ppl_cover_add(&c, " \r\n\v\f", 5);
    ck_assert_uint_eq(c.n_words, 4);
    ck_assert(!c.in_word);
}
END_TEST

/* n_ctx = 8: positions 4..6 are scored, predicting the tokens at 5, 6 and 7 of each chunk.
 * Chunk 0 scores "," " the" " c" -> ", the c" (7 bytes, 3 words: ",", "the", "c"); chunk 1
 * scores "at" " s" "." -> "at s." (5 bytes, 2 words). "c" and "at" lie in different spans:
 * two words, not "cat". */
START_TEST(scored_text_of_two_chunks) {
    qk_err err;
    gguf_ctx *g = gguf_open(qk_test_shared(STORIES), &err);
    ck_assert_msg(g != NULL, "%s", err.msg);
    qk_vocab *v = qk_vocab_load(g, &err);
    gguf_close(g);
    ck_assert_msg(v != NULL, "%s", err.msg);
    char piece[16];
    const struct { int32_t id; const char *text; } want[] = {{432, ","}, {265, " the"}, {280, " c"},
                                                              {294, "at"}, {262, " s"}, {426, "."}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        int n = qk_token_to_piece(v, want[i].id, piece, sizeof piece, false);
        ck_assert_int_eq(n, (int)strlen(want[i].text));
        ck_assert(memcmp(piece, want[i].text, (size_t)n) == 0);
    }
    const int32_t tokens[16] = {1, 403, 407, 261, 378, 432, 265, 280, /* <s> Once upon a time | , the c */
                                1, 403, 407, 261, 378, 294, 262, 426}; /* ... | at s . */
    ppl_cover c;
    ck_assert_int_eq(ppl_cover_scored(v, tokens, 8, 2, &c), 0);
    ck_assert_uint_eq(c.n_bytes, 12);
    ck_assert_uint_eq(c.n_words, 5);
    ck_assert_int_eq(ppl_cover_scored(v, tokens, 8, 1, &c), 0);
    ck_assert_uint_eq(c.n_bytes, 7);
    ck_assert_uint_eq(c.n_words, 3);
    const int32_t bad[8] = {1, 1, 1, 1, 1, 1, 1, 99999};
    ck_assert_int_eq(ppl_cover_scored(v, bad, 8, 1, &c), -1);
    qk_vocab_free(v);
}
END_TEST

START_TEST(formulas) {
    /* 12 bytes holding 36 bits of NLL: 3 bits per byte */
    ck_assert(fabs(ppl_bits_per_byte(36 * M_LN2, 12) - 3.0) < 1e-12);
    /* 5 words, total NLL 5 ln 7: word perplexity 7 */
    ck_assert(fabs(ppl_word_perplexity(5 * log(7.0), 5) - 7.0) < 1e-12);
    ck_assert(isnan(ppl_bits_per_byte(1.0, 0)));
    ck_assert(isnan(ppl_word_perplexity(1.0, 0)));
}
END_TEST

/* The same text scored by the base run and by the --kl-divergence run (tokens from the
 * base file): the same bytes and words; the figures follow from mean_nll and the counts. */
START_TEST(tool_json_and_line) {
    char *base = qk_test_tmp_path("cover.logits"), *j1 = qk_test_tmp_path("cover-base.json"),
         *j2 = qk_test_tmp_path("cover-kld.json");
    char *model = qk_test_shared_dup(STORIES), *out = NULL;
    int rc = qk_test_run_tool(&out, "qk-perplexity", "-m %s -f %s -c 128 --chunks 3 -t 2 --kl-divergence-base %s --json %s",
                              model, qk_test_shared(WIKI), base, j1);
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "Bits per byte: "));
    ck_assert_ptr_nonnull(strstr(out, "over the text of the 189 scored tokens"));
    free(out);
    rc = qk_test_run_tool(&out, "qk-perplexity", "-m %s --chunks 3 -t 2 --kl-divergence-base %s --kl-divergence --json %s",
                          model, base, j2);
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "Bits per byte: "));
    free(out);
    double bytes[2], words[2];
    for (int k = 0; k < 2; k++) {
        char *t = qk_test_read_file(k ? j2 : j1, NULL);
        ck_assert_ptr_nonnull(t);
        const double n = qk_test_number_after(t, "\"n_tokens_scored\""), m = qk_test_number_after(t, "\"mean_nll\"");
        bytes[k] = qk_test_number_after(t, "\"bytes_scored\"");
        words[k] = qk_test_number_after(t, "\"words_scored\"");
        const double bpb = qk_test_number_after(t, "\"bits_per_byte\""), wppl = qk_test_number_after(t, "\"word_perplexity\"");
        ck_assert(n == 189 && bytes[k] >= n && words[k] > 0 && words[k] < bytes[k]);
        ck_assert(fabs(bpb - m * n / (M_LN2 * bytes[k])) < 1e-9 * bpb);
        ck_assert(fabs(log(wppl) - m * n / words[k]) < 1e-9 * log(wppl));
        free(t);
    }
    ck_assert(bytes[0] == bytes[1] && words[0] == words[1]);
    free(base);
    free(j1);
    free(j2);
    free(model);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("ppl_cover");
    TCase *tc = tcase_create("cover");
    tcase_add_test(tc, counts_of_a_stream);
    tcase_add_test(tc, scored_text_of_two_chunks);
    tcase_add_test(tc, formulas);
    tcase_add_test(tc, tool_json_and_line);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return qk_test_main(suite()); }
