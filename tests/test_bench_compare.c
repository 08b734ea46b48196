/*
 * test_bench_compare.c — qk-bench-compare's parts: reading llama-bench CSV (the golden
 * files) and qk-bench JSON (with the roofline fields), pairing records by file name /
 * model type, the ratios in compare.md, the gnuplot scripts, and the tool end to end
 * (without running gnuplot: QK_GNUPLOT names a program that does not exist).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_compare.h"
#include "fileio.h"
#include "testutil.h"

#define GOLD_SYNTH "golden/bench/synth-qwen2.5-0.5b.llama-bench.csv"
#define GOLD_WIKI "golden/bench/wiki-qwen2-13m.llama-bench.csv"

/* A qk-bench style JSON record. */
static void json_rec(qk_sb *sb, const char *file, const char *type, int np, int ng, int t,
                     double ts, double sd, double gbs) {
    qk_sb_printf(sb,
                 "{\"model_filename\":\"%s\",\"model_type\":\"%s\",\"model_size\":1000,"
                 "\"model_n_params\":494032768,\"n_threads\":%d,\"n_prompt\":%d,\"n_gen\":%d,"
                 "\"avg_ts\":%g,\"stddev_ts\":%g,\"cpu_info\":\"Test CPU\",\"build_commit\":\"abc\"",
                 file, type, t, np, ng, ts, sd);
    if (gbs > 0)
        qk_sb_printf(sb, ",\"membw_gbs\":%g,\"roofline_bytes_per_token\":1e9,\"roofline_max_ts\":%g,"
                         "\"roofline_fraction\":%.17g",
                     gbs, gbs, ts / gbs);
    qk_sb_puts(sb, "}");
}

START_TEST(load_golden_csv) {
    qk_bench_cmp_set s = {0};
    qk_err err;
    ck_assert_msg(qk_bench_cmp_load(&s, qk_test_shared(GOLD_SYNTH), &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s.n, 16); /* 4 models x pp/tg x 2 thread counts */
    ck_assert_str_eq(s.cpu_info, "AMD EPYC");
    ck_assert_str_eq(s.build_commit, "unknown");
    const qk_bench_cmp_rec *r = &s.v[0];
    ck_assert_str_eq(r->model_filename, "synth-qwen2.5-0.5b-f16.gguf");
    ck_assert_str_eq(r->model_type, "qwen2 1B F16");
    ck_assert_uint_eq(r->model_size, 988208640);
    ck_assert_uint_eq(r->model_n_params, 494032768);
    ck_assert_int_eq(r->n_threads, 2);
    ck_assert_int_eq(r->n_prompt, 512);
    ck_assert_int_eq(r->n_gen, 0);
    ck_assert_double_eq_tol(r->avg_ts, 166.241950, 1e-9);
    ck_assert_double_eq_tol(r->stddev_ts, 5.782722, 1e-9);
    ck_assert(!r->has_roofline);
    ck_assert_msg(qk_bench_cmp_load(&s, qk_test_shared(GOLD_WIKI), &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s.n, 32);
    /* every record pairs with itself */
    for (int i = 0; i < s.n; i++) {
        int j = qk_bench_cmp_find(&s, &s.v[i]);
        ck_assert_int_eq(j, i);
    }
    char buf[256];
    qk_bench_cmp_label(&s.v[16], buf, sizeof buf);
    ck_assert_str_eq(buf, "wiki-qwen2-13m-f16");
    qk_bench_cmp_test_name(&s.v[17], buf, sizeof buf);
    ck_assert_str_eq(buf, "tg128");
    qk_bench_cmp_free(&s);
}
END_TEST

START_TEST(load_errors) {
    qk_bench_cmp_set s = {0};
    qk_err err;
    ck_assert_int_eq(qk_bench_cmp_load_text(&s, "", "x", &err), -1);
    ck_assert_int_eq(qk_bench_cmp_load_text(&s, "model_filename,n_gen\n", "x", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "no records"));
    ck_assert_int_eq(qk_bench_cmp_load_text(&s, "model_filename,model_type\n\"a\",\"b\"\n", "x", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "n_threads"));
    ck_assert_int_eq(qk_bench_cmp_load_text(&s, "a,b\n\"1\"\n", "x", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "fields"));
    ck_assert_int_eq(qk_bench_cmp_load_text(&s, "a,b\n\"1,2\n", "x", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "unterminated"));
    ck_assert_int_eq(qk_bench_cmp_load_text(&s, "[{\"model_filename\":1}", "x", &err), -1);
    ck_assert_int_eq(qk_bench_cmp_load_text(&s, "[]", "x", &err), -1);
    ck_assert_int_eq(
        qk_bench_cmp_load_text(&s,
                               "[{\"model_filename\":\"m\",\"model_type\":\"t\",\"n_threads\":1,"
                               "\"n_prompt\":0,\"n_gen\":8,\"avg_ts\":\"fast\",\"stddev_ts\":0}]",
                               "x", &err),
        -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "avg_ts"));
    ck_assert_int_eq(s.n, 0);
    ck_assert_int_eq(qk_bench_cmp_load(&s, "/nonexistent/bench.csv", &err), -1);
    qk_bench_cmp_free(&s);
}
END_TEST

START_TEST(pairing_and_ratios) {
    /* ours: JSON with the roofline; reference: the golden CSV */
    qk_sb sb = {0};
    qk_sb_puts(&sb, "[");
    /* same file name as the golden F16 row (pp512, 2 threads: 166.241950 there) */
    json_rec(&sb, "/some/dir/synth-qwen2.5-0.5b-f16.gguf", "qwen2 1B F16", 512, 0, 2, 83.12097, 1, 0);
    qk_sb_puts(&sb, ",");
    json_rec(&sb, "/x/synth-qwen2.5-0.5b-f16.gguf", "qwen2 1B F16", 0, 128, 2, 13.089943, 0.5, 20);
    qk_sb_puts(&sb, ",");
    json_rec(&sb, "/x/synth-qwen2.5-0.5b-f16.gguf", "qwen2 1B F16", 0, 128, 1, 8.0, 0.5, 10);
    qk_sb_puts(&sb, ",");
    /* file name differs only by case from the golden Q4_K_M */
    json_rec(&sb, "/x/SYNTH-qwen2.5-0.5b-q4_k_m.gguf", "qwen2 1B Q4_K - Medium", 0, 128, 2, 26.179886, 0, 0);
    qk_sb_puts(&sb, ",");
    /* another name, found by model type and parameter count: the golden Q6_K */
    json_rec(&sb, "renamed.gguf", "qwen2 1B Q6_K", 0, 128, 2, 36.274747, 0, 0);
    qk_sb_puts(&sb, ",");
    /* no reference for this test */
    json_rec(&sb, "/x/synth-qwen2.5-0.5b-f16.gguf", "qwen2 1B F16", 64, 0, 2, 50, 0, 0);
    qk_sb_puts(&sb, "]");
    qk_bench_cmp_set ours = {0}, ref = {0};
    qk_err err;
    ck_assert_msg(qk_bench_cmp_load_text(&ours, qk_sb_str(&sb), "ours", &err) == 0, "%s", err.msg);
    ck_assert_msg(qk_bench_cmp_load(&ref, qk_test_shared(GOLD_SYNTH), &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ours.n, 6);
    ck_assert(ours.v[1].has_roofline);
    ck_assert_double_eq_tol(ours.v[1].roofline_max_ts, 20.0, 1e-12);
    ck_assert_double_eq_tol(ours.v[1].roofline_fraction, 13.089943 / 20.0, 1e-12);
    ck_assert(!ours.v[0].has_roofline);

    int j = qk_bench_cmp_find(&ref, &ours.v[0]);
    ck_assert_int_ge(j, 0);
    ck_assert_double_eq_tol(ref.v[j].avg_ts, 166.241950, 1e-9);
    j = qk_bench_cmp_find(&ref, &ours.v[1]);
    ck_assert_int_ge(j, 0);
    ck_assert_double_eq_tol(ref.v[j].avg_ts, 26.179886, 1e-9);
    j = qk_bench_cmp_find(&ref, &ours.v[3]);
    ck_assert_int_ge(j, 0);
    ck_assert_str_eq(ref.v[j].model_type, "qwen2 1B Q4_K - Medium");
    ck_assert_int_eq(ref.v[j].n_gen, 128);
    ck_assert_int_eq(ref.v[j].n_threads, 2);
    j = qk_bench_cmp_find(&ref, &ours.v[4]);
    ck_assert_int_ge(j, 0);
    ck_assert_str_eq(ref.v[j].model_filename, "synth-qwen2.5-0.5b-Q6_K.gguf");
    ck_assert_int_eq(qk_bench_cmp_find(&ref, &ours.v[5]), -1);

    qk_sb md = {0};
    qk_bench_cmp_membw bw[1] = {{2, 20.0, 18.5, 1073741824.0}};
    /* at 1 thread, 10 GB/s makes llama.cpp's F16 tg128 (16.29 t/s of 1e9 bytes) 163 % of
     * its roofline: a cache-resident case, left out of the equal-bandwidth table */
    qk_bench_cmp_membw ref_bw[2] = {{2, 35.0, 35.0, 0}, {1, 10.0, 10.0, 0}};
    qk_bench_cmp_render_md(&md, &ours, &ref, bw, 1, ref_bw, 2, "llama.cpp", "A closing note.");
    const char *t = qk_sb_str(&md);
    /* pp512 at half llama.cpp's speed */
    ck_assert_ptr_nonnull(strstr(t, "| synth-qwen2.5-0.5b-f16 | qwen2 1B F16 | pp512 | 2 | 83.12 ± 1.00 | 166.24 ± 5.78 | 0.50 | | |"));
    /* tg128 at half, 65.4 % of a 20 t/s roofline */
    ck_assert_ptr_nonnull(strstr(t, "| tg128 | 2 | 13.09 ± 0.50 | 26.18 ± 1.90 | 0.50 | 20.00 | 65.4 % |"));
    /* Q4_K_M and Q6_K at the F16 golden speeds' values: ratios 26.18/45.12, 36.27/36.27 */
    ck_assert_ptr_nonnull(strstr(t, "| 26.18 ± 0.00 | 45.12 ± 1.28 | 0.58 |"));
    ck_assert_ptr_nonnull(strstr(t, "| 36.27 ± 0.00 | 36.27 ± 2.47 | 1.00 |"));
    /* no reference: dashes */
    ck_assert_ptr_nonnull(strstr(t, "| pp64 | 2 | 50.00 ± 0.00 | — | — | | |"));
    /* bandwidth table, machines, geometric means, note */
    ck_assert_ptr_nonnull(strstr(t, "| 2 | 20.00 | 18.50 | 1024 MiB |"));
    ck_assert_ptr_nonnull(strstr(t, "- qkit: Test CPU (build abc)"));
    ck_assert_ptr_nonnull(strstr(t, "- llama.cpp: AMD EPYC (build unknown)"));
    ck_assert_ptr_nonnull(strstr(t, "prompt processing (ppN): geometric mean of qkit / llama.cpp over 1 paired tests: 0.500"));
    /* tg: 0.5 (F16, 2 threads), 8/16.29 (F16, 1 thread), 26.18/45.12 (Q4_K_M), 1.0 (Q6_K) */
    char want[160];
    snprintf(want, sizeof want, "generation (tgN): geometric mean of qkit / llama.cpp over 4 paired tests: %.3f",
             pow(0.5 * (8.0 / 16.291536) * (26.179886 / 45.122647), 0.25));
    ck_assert_msg(strstr(t, want) != NULL, "missing '%s' in:\n%s", want, t);
    /* thread scaling: F16 tg128 2 threads / 1: ours 13.09/8, llama.cpp 26.18/16.29 */
    ck_assert_ptr_nonnull(strstr(t, "## Thread scaling (t/s at 2 threads / at 1)"));
    snprintf(want, sizeof want, "| synth-qwen2.5-0.5b-f16 | tg128 | %.2f | %.2f |", 13.089943 / 8.0,
             26.179886 / 16.291536);
    ck_assert_msg(strstr(t, want) != NULL, "missing '%s'", want);
    /* quantized vs F16 (same family "synth-qwen2.5-0.5b" for the case-changed file only
     * when its family name matches exactly: SYNTH-... is another family, so no row) */
    ck_assert_ptr_null(strstr(t, "| SYNTH-qwen2.5-0.5b-q4_k_m | tg128 | 2 |"));
    ck_assert_ptr_nonnull(strstr(t, "A closing note.\n"));
    /* equal bandwidth: the F16 tg128 tests have a roofline, a paired reference and a
     * reference bandwidth; only the 2-thread one is shown (the 1-thread one is left out,
     * above). Its bytes per token are 20 GB/s / 20 t/s = 1e9 (json_rec), so llama.cpp's
     * share is 26.179886 * 1e9 / 35e9 = 74.8 %, ours 65.4 %, ratio 0.65449715 / 0.74799674 */
    ck_assert_ptr_nonnull(strstr(t, "## Generation at equal bandwidth"));
    snprintf(want, sizeof want, "| synth-qwen2.5-0.5b-f16 | tg128 | 2 | 65.4 %% | 35.00 | 74.8 %% | %.2f |",
             (13.089943 / 20.0) / (26.179886 / 35.0));
    ck_assert_msg(strstr(t, want) != NULL, "missing '%s' in:\n%s", want, t);
    ck_assert_ptr_null(strstr(t, "| synth-qwen2.5-0.5b-f16 | tg128 | 1 | "));
    ck_assert_ptr_nonnull(strstr(t, "- left out: 1 test above 100 % of a roofline (the model fits in a cache)\n"));
    snprintf(want, sizeof want, "geometric mean of qkit / llama.cpp at equal bandwidth over 1 tests: %.3f",
             (13.089943 / 20.0) / (26.179886 / 35.0));
    ck_assert_msg(strstr(t, want) != NULL, "missing '%s'", want);

    /* charts */
    qk_sb gp = {0};
    ck_assert(qk_bench_cmp_render_gp(&gp, "tg", &ours, &ref, "llama.cpp"));
    const char *g = qk_sb_str(&gp);
    ck_assert_ptr_nonnull(strstr(g, "set output outfile"));
    ck_assert_ptr_nonnull(strstr(g, "\"synth-qwen2.5-0.5b-f16 t=2\" 13.0899 0.5 26.1799 1.90035 20\n"));
    ck_assert_ptr_nonnull(strstr(g, "\"renamed t=2\" 36.2747 0 36.2747 2.4706 NaN\n"));
    ck_assert_ptr_nonnull(strstr(g, "title \"llama.cpp\""));
    ck_assert_ptr_nonnull(strstr(g, "roofline max t/s"));
    ck_assert_ptr_null(strstr(g, "pp512"));
    gp.len = 0;
    ck_assert(qk_bench_cmp_render_gp(&gp, "pp", &ours, &ref, "llama.cpp"));
    g = qk_sb_str(&gp);
    ck_assert_ptr_nonnull(strstr(g, "\"synth-qwen2.5-0.5b-f16 t=2\" 50 0 NaN NaN NaN\n"));
    ck_assert_ptr_null(strstr(g, "title \"roofline max"));
    /* a chart with no paired reference leaves the reference series out */
    qk_bench_cmp_set empty = {0};
    gp.len = 0;
    ck_assert(qk_bench_cmp_render_gp(&gp, "pp", &ours, &empty, "llama.cpp"));
    ck_assert_ptr_null(strstr(qk_sb_str(&gp), "title \"llama.cpp\""));

    qk_sb_free(&gp);
    qk_sb_free(&md);
    qk_sb_free(&sb);
    qk_bench_cmp_free(&ours);
    qk_bench_cmp_free(&ref);
}
END_TEST

START_TEST(quantized_vs_base) {
    /* a family with a base: ratios of both tools */
    const char *ours_csv =
        "model_filename,model_type,n_threads,n_prompt,n_gen,avg_ts,stddev_ts\n"
        "\"m/synth-qwen2.5-0.5b-f16.gguf\",\"qwen2 1B F16\",\"1\",\"0\",\"128\",\"10\",\"0\"\n"
        "\"m/synth-qwen2.5-0.5b-Q2_K.gguf\",\"qwen2 1B Q2_K - Medium\",\"1\",\"0\",\"128\",\"25\",\"0\"\n";
    qk_bench_cmp_set ours = {0}, ref = {0};
    qk_err err;
    ck_assert_msg(qk_bench_cmp_load_text(&ours, ours_csv, "ours", &err) == 0, "%s", err.msg);
    ck_assert_msg(qk_bench_cmp_load(&ref, qk_test_shared(GOLD_SYNTH), &err) == 0, "%s", err.msg);
    qk_sb md = {0};
    qk_bench_cmp_render_md(&md, &ours, &ref, NULL, 0, NULL, 0, "llama.cpp", NULL);
    const char *t = qk_sb_str(&md);
    char want[160];
    /* golden tg128, 1 thread: Q2_K 29.673133, F16 16.291536 */
    snprintf(want, sizeof want, "| synth-qwen2.5-0.5b-Q2_K | tg128 | 1 | 2.50 | %.2f |", 29.673133 / 16.291536);
    ck_assert_msg(strstr(t, want) != NULL, "missing '%s' in:\n%s", want, t);
    ck_assert_ptr_null(strstr(t, "## Memory read bandwidth"));
    ck_assert_ptr_null(strstr(t, "## Thread scaling")); /* one thread count only */
    ck_assert_ptr_null(strstr(t, "## Generation at equal bandwidth")); /* no reference bandwidth */
    qk_sb_free(&md);
    qk_bench_cmp_free(&ours);
    qk_bench_cmp_free(&ref);
}
END_TEST

START_TEST(tool_end_to_end) {
    char dir[1024], membw[1100], cmd[16384], *out = NULL;
    snprintf(dir, sizeof dir, "%s/cmp-out", qk_test_tmpdir());
    snprintf(membw, sizeof membw, "%s/membw.csv", qk_test_tmpdir());
    const char *mcsv = "cpu_info,n_threads,buffer_bytes,passes,kernel,best_ns,best_gbs,mean_gbs\n"
                       "\"X\",\"1\",\"1073741824\",\"5\",\"AVX2\",\"100000000\",\"10.737418\",\"9.5\"\n";
    ck_assert_int_eq(qk_afile_write_all(membw, mcsv, strlen(mcsv), NULL), 0);
    char gold[1024];
    snprintf(gold, sizeof gold, "%s", qk_test_shared(GOLD_SYNTH));
    snprintf(cmd, sizeof cmd,
             "QK_GNUPLOT=/nonexistent/gnuplot %s --ours %s --ref %s --membw %s -o %s --note 'N.'",
             qk_test_bin("qk-bench-compare"), gold, gold, membw, dir);
    int rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "qk-bench-compare failed: %s", out);
    ck_assert_ptr_nonnull(strstr(out, "gnuplot not found"));
    free(out);
    char path[4300];
    snprintf(path, sizeof path, "%s/compare.md", dir);
    char *md = qk_test_read_file(path, NULL);
    ck_assert_ptr_nonnull(md);
    ck_assert_ptr_nonnull(strstr(md, "| 1 | 10.74 | 9.50 | 1024 MiB |"));
    ck_assert_ptr_nonnull(strstr(md, "over 8 paired tests: 1.000"));
    ck_assert_ptr_nonnull(strstr(md, "N.\n"));
    free(md);
    const char *charts[] = {"pp.gp", "tg.gp"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, charts[i]);
        char *gp = qk_test_read_file(path, NULL);
        ck_assert_msg(gp != NULL, "no %s", charts[i]);
        ck_assert_ptr_nonnull(strstr(gp, "$d << EOD"));
        free(gp);
    }
    /* errors: one line, nothing written */
    snprintf(cmd, sizeof cmd, "%s --ours /nonexistent.csv -o %s/x", qk_test_bin("qk-bench-compare"),
             qk_test_tmpdir());
    rc = qk_test_run(cmd, &out);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_nonnull(strstr(out, "qk-bench-compare: error:"));
    ck_assert_int_eq((int)strlen(out), (int)(strchr(out, '\n') - out) + 1);
    free(out);
    snprintf(cmd, sizeof cmd, "%s --ours %s", qk_test_bin("qk-bench-compare"), gold);
    rc = qk_test_run(cmd, &out);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_nonnull(strstr(out, "no output directory"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s --ours %s --ref-membw 2:-3 -o %s/y", qk_test_bin("qk-bench-compare"), gold,
             qk_test_tmpdir());
    rc = qk_test_run(cmd, &out);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_nonnull(strstr(out, "bad bandwidth list '2:-3'"));
    free(out);
    snprintf(path, sizeof path, "%s/y", qk_test_tmpdir());
    ck_assert_int_ne(access(path, F_OK), 0);
    /* an input that is one of the outputs (compare.md of this run, named another way) is
     * refused before anything is written; its bytes are unchanged */
    snprintf(path, sizeof path, "%s/compare.md", dir);
    char *before = qk_test_read_file(path, NULL);
    ck_assert_ptr_nonnull(before);
    snprintf(cmd, sizeof cmd, "%s --ours %s --ref %s/./compare.md -o %s", qk_test_bin("qk-bench-compare"), gold, dir,
             dir);
    rc = qk_test_run(cmd, &out);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(out, "qk-bench-compare: error:") && strstr(out, "compare.md"), "%s", out);
    free(out);
    char *after = qk_test_read_file(path, NULL);
    ck_assert_ptr_nonnull(after);
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
}
END_TEST

START_TEST(parse_membw_list) {
    qk_bench_cmp_membw *v = NULL;
    int n = -1;
    qk_err err;
    ck_assert_msg(qk_bench_cmp_parse_membw_list("2:35,1:17.5", &v, &n, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(v[0].n_threads, 2);
    ck_assert_double_eq(v[0].best_gbs, 35.0);
    ck_assert_int_eq(v[1].n_threads, 1);
    ck_assert_double_eq(v[1].best_gbs, 17.5);
    free(v);
    const char *bad[] = {"", "2", "2:", ":35", "0:35", "2:0", "2:nan", "2:inf", "2:35,", "2:35,2:30", "2:35x", "a:b"};
    qk_bench_cmp_membw sentinel;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = &sentinel; /* must be reset to NULL */
        n = -1;        /* and to 0 */
        ck_assert_msg(qk_bench_cmp_parse_membw_list(bad[i], &v, &n, &err) != 0, "accepted '%s'", bad[i]);
        ck_assert_ptr_null(v);
        ck_assert_int_eq(n, 0);
        ck_assert_ptr_nonnull(strstr(err.msg, "bad bandwidth list"));
    }
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("bench_compare");
    TCase *tc = tcase_create("compare");
    tcase_add_test(tc, load_golden_csv);
    tcase_add_test(tc, load_errors);
    tcase_add_test(tc, pairing_and_ratios);
    tcase_add_test(tc, quantized_vs_base);
    tcase_add_test(tc, tool_end_to_end);
    tcase_add_test(tc, parse_membw_list);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return qk_test_main(suite()); }
