/*
 * test_bench_profile.c — the decode profile (forward.h qk_profile, attached by
 * qk_bench_run_test) and qk-bench --profile: the counts and byte totals follow from the
 * model's shapes exactly; times are positive and add up; the md and json outputs carry it
 * only when asked. Model: ../shared stories260K (5 layers, F32, its own output.weight).
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_profile.h"
#include "bench_run.h"
#include "model.h"
#include "fileio.h"
#include "testutil.h"

#define STORIES "data/models/stories260K/stories260K.gguf"

/* Bytes of the matrices one token's decode multiplies by: 7 per layer and the output. */
static double matmul_bytes_per_token(const qk_model *m) {
    double b = (double)m->output->nbytes;
    for (int il = 0; il < m->hp.n_layer; il++) {
        const qk_layer *L = &m->layers[il];
        const gguf_tensor *w[] = {L->wq, L->wk, L->wv, L->wo, L->ffn_gate, L->ffn_up, L->ffn_down};
        for (int k = 0; k < 7; k++) b += (double)w[k]->nbytes;
    }
    return b;
}

static qk_bench_result run(const qk_model *m, int n_prompt, int n_gen, int reps, bool profile) {
    qk_bench_test t = {STORIES, 0, n_prompt, n_gen, 2048, 1, 0, 0};
    qk_bench_result r;
    qk_err err;
    ck_assert_msg(qk_bench_run_test(m, &t, reps, profile, NULL, NULL, &r, &err) == 0, "%s", err.msg);
    return r;
}

START_TEST(profile_counts_generation) {
    qk_err err;
    qk_model *m = qk_model_load(qk_test_shared(STORIES), &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    ck_assert_int_eq(m->hp.n_layer, 5);
    qk_bench_result r = run(m, 0, 4, 2, true);
    const qk_profile *p = &r.profile;
    ck_assert(r.has_profile);
    /* the timed repetitions only: 2 x 4 single-token decodes (the warm-up is left out) */
    ck_assert_uint_eq(p->n_tokens, 8);
    ck_assert_uint_eq(p->n_decode, 8);
    ck_assert_uint_eq(p->attn_calls, 5 * 8);
    ck_assert_uint_eq(p->matmul_calls[QK_TYPE_F32], 8 * (7 * 5 + 1));
    ck_assert_double_eq(p->matmul_bytes[QK_TYPE_F32], 8 * matmul_bytes_per_token(m));
    for (int t = 0; t < QK_TYPE_COUNT; t++)
        if (t != QK_TYPE_F32) ck_assert_uint_eq(p->matmul_calls[t], 0);
    ck_assert_uint_gt(p->matmul_ns[QK_TYPE_F32], 0);
    ck_assert_uint_gt(p->attn_ns, 0);
    ck_assert_uint_ge(p->decode_ns, p->matmul_ns[QK_TYPE_F32] + p->attn_ns);
    /* rows: F32, attention, other, total; the parts add up to the whole */
    qk_bench_profile_row rows[QK_BENCH_PROFILE_MAX_ROWS];
    ck_assert_int_eq(qk_bench_profile_rows(p, rows), 4);
    ck_assert_str_eq(rows[0].op, "F32");
    ck_assert_str_eq(rows[1].op, "attention");
    ck_assert_str_eq(rows[2].op, "other");
    ck_assert_str_eq(rows[3].op, "total");
    ck_assert_double_eq(rows[0].calls_per_token, 36);
    ck_assert_double_eq(rows[1].calls_per_token, 5);
    ck_assert_double_eq(rows[3].calls_per_token, 1);
    ck_assert_double_eq_tol(rows[0].gbs, p->matmul_bytes[QK_TYPE_F32] / (double)p->matmul_ns[QK_TYPE_F32], 1e-12);
    ck_assert_double_eq_tol(rows[0].share + rows[1].share + rows[2].share, 1.0, 1e-12);
    ck_assert_double_eq(rows[3].share, 1.0);
    ck_assert_double_eq_tol(rows[0].ms_per_token + rows[1].ms_per_token + rows[2].ms_per_token,
                            rows[3].ms_per_token, 1e-9);
    ck_assert_double_eq_tol(rows[3].ms_per_token, (double)p->decode_ns / 8 / 1e6, 1e-12);
    /* the md table lists every row */
    qk_sb sb = {0};
    qk_bench_print_profile_md(&sb, "profile: test", rows, 4);
    ck_assert(qk_sb_ok(&sb));
    ck_assert_ptr_nonnull(strstr(qk_sb_str(&sb), "| F32        |        36.0 |"));
    ck_assert_ptr_nonnull(strstr(qk_sb_str(&sb), "| total      |         1.0 |"));
    qk_sb_free(&sb);
    qk_bench_result_free(&r);
    qk_model_free(m);
}
END_TEST

START_TEST(profile_counts_prompt_and_off) {
    qk_err err;
    qk_model *m = qk_model_load(qk_test_shared(STORIES), &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    /* pp16: one decode of 16 tokens per repetition; logits for the last token only, so
     * the output matrix is multiplied once per decode */
    qk_bench_result r = run(m, 16, 0, 3, true);
    ck_assert_uint_eq(r.profile.n_tokens, 48);
    ck_assert_uint_eq(r.profile.n_decode, 3);
    ck_assert_uint_eq(r.profile.matmul_calls[QK_TYPE_F32], 3 * (7 * 5 + 1));
    ck_assert_uint_eq(r.profile.attn_calls, 3 * 5);
    qk_bench_result_free(&r);
    /* not asked: nothing recorded */
    r = run(m, 0, 2, 1, false);
    ck_assert(!r.has_profile);
    qk_bench_profile_row rows[QK_BENCH_PROFILE_MAX_ROWS];
    ck_assert_int_eq(qk_bench_profile_rows(&r.profile, rows), 0);
    ck_assert_uint_eq(r.profile.decode_ns, 0);
    qk_bench_result_free(&r);
    qk_model_free(m);
}
END_TEST

/* qk-bench --profile: a table per test on stderr and a "profile" array per json record;
 * without the flag neither. */
START_TEST(profile_in_tool_output) {
    char cmd[8192], jpath[4200], *out = NULL;
    snprintf(jpath, sizeof jpath, "%s/bench-profile.json", qk_test_tmpdir());
    snprintf(cmd, sizeof cmd, "%s -m %s -p 8 -n 4 -r 1 -t 1 --no-roofline --profile -o none --output-file %s",
             qk_test_bin("qk-bench"), qk_test_shared(STORIES), jpath);
    ck_assert_msg(qk_test_run(cmd, &out) == 0, "qk-bench failed: %s", out);
    ck_assert_ptr_nonnull(strstr(out, ", tg4, 1 threads"));
    ck_assert_ptr_nonnull(strstr(out, ", pp8, 1 threads"));
    ck_assert_ptr_nonnull(strstr(out, "| attention  |         5.0 |"));
    free(out);
    char *text = qk_test_read_file(jpath, NULL);
    cJSON *j = cJSON_Parse(text);
    ck_assert_msg(j != NULL, "bad JSON: %s", text);
    free(text);
    ck_assert_int_eq(cJSON_GetArraySize(j), 2);
    for (int i = 0; i < 2; i++) {
        cJSON *prof = cJSON_GetObjectItem(cJSON_GetArrayItem(j, i), "profile");
        ck_assert_int_eq(cJSON_GetArraySize(prof), 4);
        cJSON *f32 = cJSON_GetArrayItem(prof, 0), *total = cJSON_GetArrayItem(prof, 3);
        ck_assert_str_eq(cJSON_GetObjectItem(f32, "op")->valuestring, "F32");
        ck_assert(cJSON_GetObjectItem(f32, "gbs")->valuedouble > 0);
        ck_assert_str_eq(cJSON_GetObjectItem(total, "op")->valuestring, "total");
        ck_assert_double_eq(cJSON_GetObjectItem(total, "share")->valuedouble, 1.0);
    }
    /* pp8: 36 matmuls in one decode of 8 tokens = 4.5 per token; tg4: 36 per token */
    ck_assert_double_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "profile"), 0),
                                            "calls_per_token")->valuedouble, 4.5);
    ck_assert_double_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 1), "profile"), 0),
                                            "calls_per_token")->valuedouble, 36);
    cJSON_Delete(j);
    snprintf(cmd, sizeof cmd, "%s -m %s -p 0 -n 2 -r 1 -t 1 --no-roofline -o json", qk_test_bin("qk-bench"),
             qk_test_shared(STORIES));
    ck_assert_msg(qk_test_run(cmd, &out) == 0, "qk-bench failed: %s", out);
    ck_assert_ptr_null(strstr(out, "profile"));
    free(out);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("bench_profile");
    TCase *tc = tcase_create("profile");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, profile_counts_generation);
    tcase_add_test(tc, profile_counts_prompt_and_off);
    tcase_add_test(tc, profile_in_tool_output);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return qk_test_main(suite()); }
