/*
 * test_imatrix_golden.c — qk-imatrix against llama.cpp on the golden setting:
 * wiki-qwen2-13m F16 on calibration/wiki.test.tail.raw, -c 256 --chunks 100 (see
 * ../shared/golden/README.md). One run writes the GGUF form, compared with current
 * llama.cpp's GGUF imatrix; converted to the legacy form (qk-imatrix --in-file), it is
 * compared with llama-imatrix c392e50's .dat; the running PPL with llama-imatrix's log.
 * In the ctest label "numerics": tests/run-variants.sh runs it under every arithmetic
 * variant (kernels, BLAS builds, threads), which is where MEAN_REL's margin is measured.
 * QK_TEST_PPL_ARGS is not applied: its "-b 4" variant would collect nothing (calls of
 * fewer than 16 rows are left out, as in llama.cpp).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imatrix_check.h"

#define GDAT "golden/wiki-qwen2-13m/imatrix/wiki-qwen2-13m.imatrix.dat"
#define GGGUF "golden/wiki-qwen2-13m/imatrix/wiki-qwen2-13m.imatrix.gguf"
#define GLOG "golden/wiki-qwen2-13m/imatrix/wiki-qwen2-13m.imatrix.log"

START_TEST(test_vs_golden) {
    char *m = qk_test_shared_dup(F16), *t = qk_test_shared_dup(CALIB), *gdat = qk_test_shared_dup(GDAT),
         *ggguf = qk_test_shared_dup(GGGUF), *glog_path = qk_test_shared_dup(GLOG);
    char *og = qk_test_tmp_path("g.gguf"), *od = qk_test_tmp_path("g.dat"), *js = qk_test_tmp_path("g.json");
    char args[8192];
    snprintf(args, sizeof args, "-m %s -f %s -c 256 --chunks 100 -t 2 -o %s --json %s", m, t, og, js);
    char *out = run_ok(args);
    snprintf(args, sizeof args, "--in-file %s --output-format dat -o %s", og, od);
    free(run_ok(args));
    char *glog = qk_test_read_file(glog_path, NULL);
    ck_assert_ptr_nonnull(glog);

    /* the running PPL at every chunk and the final estimate */
    for (int k = 1; k <= 100; k++) {
        char lab[32], fig[64];
        snprintf(lab, sizeof lab, "[%d]", k);
        snprintf(fig, sizeof fig, "PPL [%d]", k);
        ck_assert(qk_test_close("imatrix c256x100", fig, qk_test_number_after(out, lab),
                                qk_test_number_after(glog, lab), PPL_REL, 0));
    }
    ck_assert(qk_test_close("imatrix c256x100", "final PPL", qk_test_number_after(out, "Final estimate: PPL ="),
                            qk_test_number_after(glog, "Final estimate: PPL ="), PPL_REL, 0));
    ck_assert(qk_test_close("imatrix c256x100", "PPL ±", qk_test_number_after(out, "+/-"),
                            qk_test_number_after(glog, "+/-"), PPL_UNC_REL, 0));

    qk_imatrix *ref = read_im(gdat), *ref_g = read_im(ggguf), *ours_g = read_im(og), *ours_d = read_im(od);
    /* GGUF vs current llama.cpp's: 42 entries, rows 25,600 per weight, chunk_count 100,
     * chunk_size 256, the dataset as given; every column's mean within MEAN_REL */
    ck_assert_int_eq(ours_g->n_entries, 42);
    ck_assert_int_eq(ours_g->chunk_count, 100);
    ck_assert_int_eq(ours_g->chunk_size, 256);
    ck_assert_int_eq(ours_g->n_datasets, 1);
    ck_assert_str_eq(ours_g->datasets[0], t);
    assert_counts(ours_g, 25600.0f, "ours .gguf");
    assert_counts(ref_g, 25600.0f, "golden .gguf");
    compare_means(".gguf vs golden .gguf", ours_g, ref_g, MEAN_REL);
    /* the legacy form vs llama-imatrix c392e50's .dat: ncall 100 each, last_call 100 */
    ck_assert_int_eq(ours_d->chunk_count, 100);
    ck_assert_int_eq(ref->chunk_count, 100);
    assert_counts(ours_d, 100.0f, "ours .dat");
    assert_counts(ref, 100.0f, "golden .dat");
    compare_means(".dat vs golden .dat", ours_d, ref, MEAN_REL);
    /* no output.weight, no token_embd.weight: the model ties them and --process-output is off */
    ck_assert_ptr_null(qk_imatrix_find(ours_g, "output.weight"));
    ck_assert_ptr_null(qk_imatrix_find(ours_g, "token_embd.weight"));

    cJSON *j = qk_test_read_json(js);
    ck_assert_int_eq((int)qk_test_json_num(j, NULL, "n_chunks"), 100);
    ck_assert_int_eq((int)qk_test_json_num(j, NULL, "chunk_count"), 100);
    ck_assert_int_eq((int)qk_test_json_num(j, NULL, "n_entries"), 42);
    ck_assert_int_eq((int)qk_test_json_num(j, NULL, "n_tokens_evaluated"), 25600);
    ck_assert(fabs(qk_test_json_num(j, NULL, "ppl") - qk_test_number_after(out, "Final estimate: PPL =")) < 1e-4);
    cJSON_Delete(j);

    qk_imatrix_free(ref);
    qk_imatrix_free(ref_g);
    qk_imatrix_free(ours_g);
    qk_imatrix_free(ours_d);
    free(glog);
    free(out);
    free(m);
    free(t);
    free(gdat);
    free(ggguf);
    free(glog_path);
    free(og);
    free(od);
    free(js);
}
END_TEST

int main(void) {
    Suite *s = suite_create("imatrix_golden");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, test_vs_golden);
    suite_add_tcase(s, tc);
    return qk_test_main(s);
}
