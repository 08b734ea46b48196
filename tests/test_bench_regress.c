/*
 * test_bench_regress.c — issue 16's benchmark parts: Student's t and Welch's interval on
 * log rates (bench_ab_stats.c) against tabulated and closed-form values, pairing and the
 * --fail-above gate (bench_regress.c), the loaders for JSON Lines, samples_ts and
 * llama-bench's own files, qk-bench-compare BASE NEW end to end (exit statuses, errors),
 * list ranges (bench_matrix.c), and qk-bench's jsonl / sql / --ci-json outputs and -d
 * depth tests (on the 260K-parameter stories model). No assertion depends on timing:
 * measured runs are checked for shape, names and counts only.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_ab_stats.h"
#include "bench_matrix.h"
#include "bench_output.h"
#include "bench_regress.h"
#include "fileio.h"
#include "testutil.h"

#define STORIES "data/models/stories260K/stories260K.gguf"
#define GOLD_LB "golden/bench/synth-qwen2.5-0.5b.llama-bench.csv"
#define GOLD_LB_NEW "golden/bench/synth-qwen2.5-0.5b.llama.cpp-d32676d.csv"

/* ---- Student's t ------------------------------------------------------------------------ */

START_TEST(t_distribution) {
    /* closed forms: df 1 is Cauchy, F(1) = 3/4; df 2: F(t) = 1/2 + t / (2 sqrt(2 + t²)) */
    ck_assert_double_eq_tol(qk_bench_t_cdf(1.0, 1.0), 0.75, 1e-12);
    ck_assert_double_eq_tol(qk_bench_t_cdf(1.0, 2.0), 0.5 + 1.0 / (2.0 * sqrt(3.0)), 1e-12);
    ck_assert_double_eq_tol(qk_bench_t_cdf(-1.0, 2.0), 0.5 - 1.0 / (2.0 * sqrt(3.0)), 1e-12);
    ck_assert_double_eq_tol(qk_bench_t_cdf(0.0, 7.3), 0.5, 1e-15);
    /* tabulated two-sided critical values */
    ck_assert_double_eq_tol(qk_bench_t_quantile(0.975, 1), 12.706205, 1e-5);
    ck_assert_double_eq_tol(qk_bench_t_quantile(0.975, 4), 2.776445, 1e-6);
    ck_assert_double_eq_tol(qk_bench_t_quantile(0.975, 8), 2.306004, 1e-6);
    ck_assert_double_eq_tol(qk_bench_t_quantile(0.995, 10), 3.169273, 1e-6);
    ck_assert_double_eq_tol(qk_bench_t_quantile(0.95, 30), 1.697261, 1e-6);
    ck_assert_double_eq_tol(qk_bench_t_quantile(0.975, 1e7), 1.959964, 1e-5); /* the normal's */
    ck_assert_double_eq_tol(qk_bench_t_quantile(0.025, 4), -2.776445, 1e-6);
    ck_assert(isnan(qk_bench_t_quantile(1.0, 4)));
    ck_assert(isnan(qk_bench_t_cdf(1.0, 0)));
}
END_TEST

/* ---- Welch's interval ------------------------------------------------------------------- */

START_TEST(welch_interval) {
    /* equal sides sd 0.1, n 5: se = sqrt(0.004), df = 8 exactly */
    const double se = sqrt(0.004), t8 = 2.306004;
    qk_bench_ab r = qk_bench_ab_from_logs(0.0, 0.1, 5, 0.1, 0.1, 5, 0.95);
    ck_assert_int_eq(r.verdict, QK_BENCH_SAME);
    ck_assert_double_eq_tol(r.df, 8.0, 1e-9);
    ck_assert_double_eq_tol(r.ratio, exp(0.1), 1e-12);
    ck_assert_double_eq_tol(r.lo, exp(0.1 - t8 * se), 1e-6);
    ck_assert_double_eq_tol(r.hi, exp(0.1 + t8 * se), 1e-6);
    /* a difference of exactly t8·se sits on the 5 % boundary: p = 0.05, lo = 1 */
    r = qk_bench_ab_from_logs(0.0, 0.1, 5, t8 * se, 0.1, 5, 0.95);
    ck_assert_double_eq_tol(r.p, 0.05, 1e-6);
    ck_assert_double_eq_tol(r.lo, 1.0, 1e-6);
    /* a little more is faster, the mirror image slower; a lower confidence narrows it */
    ck_assert_int_eq(qk_bench_ab_from_logs(0.0, 0.1, 5, 0.16, 0.1, 5, 0.95).verdict, QK_BENCH_FASTER);
    ck_assert_int_eq(qk_bench_ab_from_logs(0.16, 0.1, 5, 0.0, 0.1, 5, 0.95).verdict, QK_BENCH_SLOWER);
    ck_assert_int_eq(qk_bench_ab_from_logs(0.0, 0.1, 5, 0.12, 0.1, 5, 0.95).verdict, QK_BENCH_SAME);
    ck_assert_int_eq(qk_bench_ab_from_logs(0.0, 0.1, 5, 0.12, 0.1, 5, 0.80).verdict, QK_BENCH_FASTER);
    /* unequal variances and counts: Welch–Satterthwaite df */
    r = qk_bench_ab_from_logs(0.0, 0.2, 4, 0.0, 0.05, 10, 0.95);
    const double va = 0.04 / 4, vb = 0.0025 / 10;
    ck_assert_double_eq_tol(r.df, (va + vb) * (va + vb) / (va * va / 3 + vb * vb / 9), 1e-9);
    ck_assert_double_eq_tol(r.p, 1.0, 1e-12);
    /* fewer than 2 repetitions: untested; no spread at all: the sign decides */
    ck_assert_int_eq(qk_bench_ab_from_logs(0.0, 0.1, 1, 0.5, 0.1, 5, 0.95).verdict, QK_BENCH_UNTESTED);
    ck_assert_int_eq(qk_bench_ab_from_logs(0.0, 0.0, 3, -0.01, 0.0, 3, 0.95).verdict, QK_BENCH_SLOWER);
    ck_assert_int_eq(qk_bench_ab_from_logs(0.0, 0.0, 3, 0.0, 0.0, 3, 0.95).verdict, QK_BENCH_SAME);
    /* from rates = from the logs of the rates; from a summary = the delta method */
    const double a[] = {100, 104, 98, 101}, b[] = {90, 93, 88, 91, 90};
    r = qk_bench_ab_from_rates(a, 4, b, 5, 0.95);
    double ma = 0, mb = 0;
    for (int i = 0; i < 4; i++) ma += log(a[i]) / 4;
    for (int i = 0; i < 5; i++) mb += log(b[i]) / 5;
    ck_assert_double_eq_tol(r.ratio, exp(mb - ma), 1e-12);
    ck_assert_int_eq(r.verdict, QK_BENCH_SLOWER);
    ck_assert(r.lo < r.ratio && r.ratio < r.hi && r.hi < 1.0);
    const double zero[] = {100, 0};
    ck_assert_int_eq(qk_bench_ab_from_rates(zero, 2, b, 5, 0.95).verdict, QK_BENCH_UNTESTED);
    qk_bench_ab s = qk_bench_ab_from_summary(100, 5, 5, 90, 4.5, 5, 0.95);
    qk_bench_ab l = qk_bench_ab_from_logs(log(100), 0.05, 5, log(90), 0.05, 5, 0.95);
    ck_assert_double_eq_tol(s.lo, l.lo, 1e-12);
    ck_assert_double_eq_tol(s.hi, l.hi, 1e-12);
    ck_assert_str_eq(qk_bench_verdict_name(QK_BENCH_SAME), "no significant change");
}
END_TEST

/* ---- loading and pairing ---------------------------------------------------------------- */

/* One JSON Lines record of a test with the given rates. */
static void jl_rec(qk_sb *sb, const char *file, int np, int ng, int nd, int t, const double *ts, int n) {
    double m = 0, ss = 0;
    for (int k = 0; k < n; k++) m += ts[k] / n;
    for (int k = 0; k < n; k++) ss += (ts[k] - m) * (ts[k] - m);
    qk_sb_printf(sb,
                 "{\"model_filename\":\"%s\",\"model_type\":\"llama 1B F16\",\"n_threads\":%d,\"n_prompt\":%d,"
                 "\"n_gen\":%d,\"n_depth\":%d,\"n_batch\":2048,\"n_ubatch\":512,\"avg_ts\":%.17g,"
                 "\"stddev_ts\":%.17g,\"samples_ts\":[",
                 file, t, np, ng, nd, m, n > 1 ? sqrt(ss / (n - 1)) : 0.0);
    for (int k = 0; k < n; k++) qk_sb_printf(sb, "%s%.17g", k ? "," : "", ts[k]);
    qk_sb_puts(sb, "]}\n");
}

/* BASE and NEW of three tests: pp64 (same), tg16 (NEW 10 % slower), tg16 @ d256 (NEW
 * 2 % slower, significant); NEW has an extra test that BASE lacks. scale multiplies every
 * NEW rate of the slowed tests' factors (1: as described). */
static void ab_texts(qk_sb *base, qk_sb *new_) {
    const double pp[] = {500, 510, 490, 505, 495}, tg[] = {100, 101, 99, 100.5, 99.5};
    double tg_slow[5], tg_d[5], tg_d_slow[5];
    for (int k = 0; k < 5; k++) {
        tg_slow[k] = tg[k] * 0.9;
        tg_d[k] = tg[k] * 0.8;
        tg_d_slow[k] = tg_d[k] * 0.98;
    }
    jl_rec(base, "dir/m.gguf", 64, 0, 0, 2, pp, 5);
    jl_rec(base, "dir/m.gguf", 0, 16, 0, 2, tg, 5);
    jl_rec(base, "dir/m.gguf", 0, 16, 256, 2, tg_d, 5);
    const double pp2[] = {505, 495, 500, 510, 490};
    jl_rec(new_, "other/m.gguf", 64, 0, 0, 2, pp2, 5);
    jl_rec(new_, "other/m.gguf", 0, 16, 256, 2, tg_d_slow, 5);
    jl_rec(new_, "other/m.gguf", 0, 16, 0, 2, tg_slow, 5);
    jl_rec(new_, "other/m.gguf", 0, 32, 0, 2, tg, 5);
}

START_TEST(pairing_and_gate) {
    qk_sb tb = {0}, tn = {0};
    ab_texts(&tb, &tn);
    qk_bench_cmp_set base = {0}, new_ = {0};
    qk_err err;
    ck_assert_msg(qk_bench_cmp_load_text(&base, qk_sb_str(&tb), "base", &err) == 0, "%s", err.msg);
    ck_assert_msg(qk_bench_cmp_load_text(&new_, qk_sb_str(&tn), "new", &err) == 0, "%s", err.msg);
    ck_assert_int_eq(base.n, 3);
    ck_assert_int_eq(base.v[2].n_depth, 256);
    ck_assert_int_eq(base.v[2].n_samples, 5);
    ck_assert_double_eq(base.v[0].samples_ts[1], 510);
    char name[64];
    qk_bench_cmp_test_name(&base.v[2], name, sizeof name);
    ck_assert_str_eq(name, "tg16 @ d256");
    qk_bench_regress reg;
    ck_assert_msg(qk_bench_regress_compute(&base, &new_, 0.95, 5, &reg, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(reg.n, 3);
    ck_assert_int_eq(reg.n_unpaired_new, 1);
    ck_assert_int_eq(reg.n_unpaired_base, 0);
    /* rows in NEW's order: pp64 <- base 0, tg16@d256 <- base 2, tg16 <- base 1 */
    ck_assert_int_eq(reg.rows[0].base, 0);
    ck_assert_int_eq(reg.rows[1].base, 2);
    ck_assert_int_eq(reg.rows[2].base, 1);
    ck_assert_int_eq(reg.rows[0].ab.verdict, QK_BENCH_SAME);
    ck_assert_double_eq_tol(reg.rows[0].ab.ratio, 1.0, 1e-12); /* same rates, reordered */
    ck_assert_int_eq(reg.rows[1].ab.verdict, QK_BENCH_SLOWER);
    ck_assert_double_eq_tol(reg.rows[1].ab.ratio, 0.98, 1e-12);
    ck_assert_int_eq(reg.rows[2].ab.verdict, QK_BENCH_SLOWER);
    ck_assert_double_eq_tol(reg.rows[2].ab.ratio, 0.9, 1e-12);
    ck_assert(!reg.rows[0].summary);
    /* the gate: significant AND larger than PCT */
    ck_assert_int_eq(qk_bench_regress_failures(&reg, -1), 0);
    ck_assert_int_eq(qk_bench_regress_failures(&reg, 1), 2);
    ck_assert_int_eq(qk_bench_regress_failures(&reg, 3), 1);
    ck_assert_int_eq(qk_bench_regress_failures(&reg, 10.5), 0);
    qk_sb md = {0};
    qk_bench_regress_render_md(&md, &base, &new_, &reg, "b.jsonl", "n.jsonl", 3);
    const char *t = qk_sb_str(&md);
    ck_assert_ptr_nonnull(strstr(t, "| m | tg16 | 2 | 100.00 ± 0.79 | 90.00 ± 0.71 | 0.900 |"));
    ck_assert_ptr_nonnull(strstr(t, "| **slower** |"));
    ck_assert_ptr_nonnull(strstr(t, "3 tests compared: 0 faster, 2 slower, 1 no significant change"));
    ck_assert_ptr_nonnull(strstr(t, "unpaired: 0 tests only in base, 1 only in new"));
    ck_assert_ptr_nonnull(strstr(t, "**FAIL** — 1 test significantly slower by more than 3 %: m tg16 t=2 (-10.0 %)"));
    qk_sb gp = {0};
    ck_assert(qk_bench_regress_render_gp(&gp, "ratios", &new_, &reg, 3));
    ck_assert_ptr_nonnull(strstr(qk_sb_str(&gp), "\"m tg16 @ d256 t=2\""));
    ck_assert_ptr_nonnull(strstr(qk_sb_str(&gp), "set arrow from 0.970000"));
    qk_sb_free(&gp);
    qk_sb_free(&md);
    qk_bench_regress_free(&reg);
    /* nothing in common: an error naming NEW's first test */
    qk_bench_cmp_set other = {0};
    qk_sb to = {0};
    const double r1[] = {1, 2};
    jl_rec(&to, "m.gguf", 0, 16, 0, 8, r1, 2);
    ck_assert_int_eq(qk_bench_cmp_load_text(&other, qk_sb_str(&to), "o", &err), 0);
    ck_assert_int_eq(qk_bench_regress_compute(&base, &other, 0.95, 5, &reg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "tg16 t=8"));
    qk_bench_cmp_free(&other);
    qk_bench_cmp_free(&base);
    qk_bench_cmp_free(&new_);
    qk_sb_free(&to);
    qk_sb_free(&tb);
    qk_sb_free(&tn);
}
END_TEST

START_TEST(load_formats) {
    qk_bench_cmp_set s = {0};
    qk_err err;
    /* llama-bench's own CSV files: the older 32 columns and the newer one with n_depth */
    ck_assert_msg(qk_bench_cmp_load(&s, qk_test_shared(GOLD_LB), &err) == 0, "%s", err.msg);
    ck_assert_msg(qk_bench_cmp_load(&s, qk_test_shared(GOLD_LB_NEW), &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s.n, 32);
    ck_assert_int_eq(s.v[16].n_depth, 0);
    ck_assert_int_eq(s.v[16].n_ubatch, 512);
    ck_assert_ptr_null(s.v[16].samples_ts);
    qk_bench_cmp_free(&s);
    /* llama-bench's JSON: an array with samples_ts */
    const char *json = "[{\"model_filename\":\"a.gguf\",\"model_type\":\"x\",\"n_threads\":2,\"n_prompt\":0,"
                       "\"n_gen\":128,\"n_depth\":4096,\"avg_ts\":10.5,\"stddev_ts\":0.5,"
                       "\"samples_ns\":[1,2],\"samples_ts\":[10,11]}]";
    ck_assert_msg(qk_bench_cmp_load_text(&s, json, "j", &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s.v[0].n_samples, 2);
    ck_assert_int_eq(s.v[0].n_depth, 4096);
    char name[64];
    qk_bench_cmp_test_name(&s.v[0], name, sizeof name);
    ck_assert_str_eq(name, "tg128 @ d4096");
    qk_bench_cmp_free(&s);
    /* errors leave the set as it was */
#define OK_REC "{\"model_filename\":\"a\",\"model_type\":\"x\",\"n_threads\":2,\"n_prompt\":0,\"n_gen\":1,\"avg_ts\":1,\"stddev_ts\":0}"
    const char *bad[] = {OK_REC "\nnot json\n", OK_REC "\n[1]\n",
                         "[{\"model_filename\":\"a\",\"model_type\":\"x\",\"n_threads\":2,\"n_prompt\":0,\"n_gen\":1,"
                         "\"avg_ts\":1,\"stddev_ts\":0,\"samples_ts\":[1,-2]}]"};
    const char *needle[] = {"line 2 is not a JSON object", "line 2 is not a JSON object", "samples_ts"};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(qk_bench_cmp_load_text(&s, bad[i], "b", &err), -1);
        ck_assert_msg(strstr(err.msg, needle[i]) != NULL, "%s", err.msg);
        ck_assert_int_eq(s.n, 0);
    }
    qk_bench_cmp_free(&s);
}
END_TEST

/* ---- the tool --------------------------------------------------------------------------- */

START_TEST(compare_tool) {
    qk_sb tb = {0}, tn = {0};
    ab_texts(&tb, &tn);
    char *bp = qk_test_tmp_path("base.jsonl"), *np = qk_test_tmp_path("new.jsonl"), *dir = qk_test_tmp_path("cmp");
    ck_assert_int_eq(qk_afile_write_all(bp, tb.buf, tb.len, NULL), 0);
    ck_assert_int_eq(qk_afile_write_all(np, tn.buf, tn.len, NULL), 0);
    char *out = NULL;
    /* A/A: no gate failure */
    int rc = qk_test_run_tool(&out, "qk-bench-compare", "--fail-above 3 %s %s", bp, bp);
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "3 tests compared: 0 faster, 0 slower, 3 no significant change"));
    free(out);
    /* the slowed NEW: exit 2 past 3 %, 0 past 11 %, 0 without a gate */
    rc = qk_test_run_tool(&out, "qk-bench-compare", "--fail-above 3 -o %s --plot %s %s 2>&1", dir, bp, np);
    ck_assert_msg(rc == 2, "rc %d: %s", rc, out);
    ck_assert_ptr_nonnull(strstr(out, "**FAIL**"));
    free(out);
    char path[4200];
    snprintf(path, sizeof path, "%s/compare.md", dir);
    ck_assert(qk_test_exists(path));
    snprintf(path, sizeof path, "%s/ratios.gp", dir);
    ck_assert(qk_test_exists(path));
    ck_assert_int_eq(qk_test_run_tool(NULL, "qk-bench-compare", "--fail-above 11 %s %s", bp, np), 0);
    ck_assert_int_eq(qk_test_run_tool(NULL, "qk-bench-compare", "%s %s", bp, np), 0);
    /* llama-bench's files against each other (summary statistics) */
    char *g1 = qk_test_shared_dup(GOLD_LB), *g2 = qk_test_shared_dup(GOLD_LB_NEW);
    rc = qk_test_run_tool(&out, "qk-bench-compare", "--fail-above 3 %s %s", g2, g1);
    ck_assert_msg(rc == 2, "rc %d: %s", rc, out);
    ck_assert_ptr_nonnull(strstr(out, "16 tests compared: 0 faster, 16 slower"));
    ck_assert_ptr_nonnull(strstr(out, "(summary)"));
    free(out);
    /* errors: one line each */
    /* --base/--new pooled runs, --per-run and --ci-json */
    char *cj = qk_test_tmp_path("cmp.json");
    rc = qk_test_run_tool(&out, "qk-bench-compare", "--per-run --ci-json %s --base %s --base %s --new %s --new %s", cj,
                          bp, bp, np, np);
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "(and more, pooled)"));
    ck_assert_ptr_nonnull(strstr(out, "log rates of the runs (each run's geometric mean rate is one sample)"));
    free(out);
    char *text = qk_test_read_file(cj, NULL);
    cJSON *j = cJSON_Parse(text);
    ck_assert_msg(cJSON_IsArray(j) && cJSON_GetArraySize(j) == 3, "%s", text);
    cJSON *o = cJSON_GetArrayItem(j, 2);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "name")->valuestring, "m tg16 t=2");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "unit")->valuestring, "t/s");
    double geo = 0; /* --per-run: each run is the geometric mean of its rates */
    const double tg_slow[] = {90, 90.9, 89.1, 90.45, 89.55};
    for (int k = 0; k < 5; k++) geo += log(tg_slow[k]) / 5;
    ck_assert_double_eq_tol(cJSON_GetObjectItem(o, "value")->valuedouble, exp(geo), 1e-9);
    /* two identical runs per side: no spread between runs, the sign decides */
    ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(o, "extra")->valuestring, "new / base 0.900"));
    ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(o, "extra")->valuestring, ": slower"));
    cJSON_Delete(j);
    free(text);
    free(cj);
    /* --per-run with one run per side: untested, so no gate failure */
    rc = qk_test_run_tool(&out, "qk-bench-compare", "--per-run --fail-above 3 %s %s", bp, np);
    ck_assert_msg(rc == 0 && strstr(out, "3 untested"), "%s", out);
    free(out);
    qk_test_expect_tool_error("qk-bench-compare", "--base and --new go together", NULL, NULL, "--base %s", bp);
    qk_test_expect_tool_error("qk-bench-compare", "unexpected argument", NULL, NULL, "%s", bp);
    qk_test_expect_tool_error("qk-bench-compare", "--plot writes into the -o directory", NULL, NULL, "--plot %s %s",
                              bp, np);
    qk_test_expect_tool_error("qk-bench-compare", "need BASE NEW", NULL, NULL, "--fail-above 3 --ours %s -o %s", bp,
                              dir);
    qk_test_expect_tool_error("qk-bench-compare", "--fail-above expects", NULL, NULL, "--fail-above x %s %s", bp, np);
    qk_test_expect_tool_error("qk-bench-compare", "/nonexistent", NULL, NULL, "%s /nonexistent.json", bp);
    free(g1);
    free(g2);
    free(bp);
    free(np);
    free(dir);
    qk_sb_free(&tb);
    qk_sb_free(&tn);
}
END_TEST

START_TEST(pooling) {
    qk_sb t = {0};
    const double r1[] = {100, 110}, r2[] = {90, 120, 100}, r3[] = {50, 50};
    jl_rec(&t, "a/m.gguf", 0, 16, 0, 2, r1, 2);
    jl_rec(&t, "a/m.gguf", 0, 16, 0, 4, r3, 2); /* another thread count: not pooled */
    jl_rec(&t, "b/m.gguf", 0, 16, 0, 2, r2, 3);
    qk_bench_cmp_set s = {0};
    qk_err err;
    ck_assert_int_eq(qk_bench_cmp_load_text(&s, qk_sb_str(&t), "p", &err), 0);
    ck_assert_int_eq(qk_bench_regress_pool(&s, false, &err), 0);
    ck_assert_int_eq(s.n, 2);
    ck_assert_int_eq(s.v[0].n_samples, 5);
    ck_assert_double_eq(s.v[0].samples_ts[4], 100);
    ck_assert_double_eq_tol(s.v[0].avg_ts, 104, 1e-12);
    ck_assert_double_eq_tol(s.v[0].stddev_ts, sqrt((16 + 36 + 196 + 256 + 16) / 4.0), 1e-12);
    ck_assert_int_eq(s.v[1].n_threads, 4);
    qk_bench_cmp_free(&s);
    /* per run: one sample per record, the geometric mean of its rates */
    ck_assert_int_eq(qk_bench_cmp_load_text(&s, qk_sb_str(&t), "p", &err), 0);
    ck_assert_int_eq(qk_bench_regress_pool(&s, true, &err), 0);
    ck_assert_int_eq(s.n, 2);
    ck_assert_int_eq(s.v[0].n_samples, 2);
    ck_assert_double_eq_tol(s.v[0].samples_ts[0], sqrt(100.0 * 110.0), 1e-9);
    ck_assert_double_eq_tol(s.v[0].samples_ts[1], cbrt(90.0 * 120.0 * 100.0), 1e-9);
    ck_assert_int_eq(s.v[1].n_samples, 1);
    qk_bench_cmp_free(&s);
    qk_sb_free(&t);
}
END_TEST

/* The repository root, from this file's path (CMake compiles it by absolute path). */
static const char *repo_root(void) {
    static char root[4096];
    snprintf(root, sizeof root, "%s", __FILE__);
    char *t = strstr(root, "/tests/test_bench_regress.c");
    if (t) *t = 0;
    return root;
}

START_TEST(gate_script_args) {
    char path[4200], cmd[8400], *out = NULL;
    snprintf(path, sizeof path, "%s/bench/ci-gate.sh", repo_root());
    if (!qk_test_exists(path)) {
        fprintf(stderr, "test_bench_regress: %s not found (built outside the checkout): skipped\n", path);
        return;
    }
    snprintf(cmd, sizeof cmd, "bash %s --help", path);
    ck_assert_int_eq(qk_test_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: bench/ci-gate.sh [options] BASE_REF NEW_REF"));
    free(out);
    const char *bad[][2] = {{"--rounds 1 HEAD HEAD", "--rounds expects an integer >= 2"},
                            {"HEAD", "need BASE_REF NEW_REF"},
                            {"--bogus HEAD HEAD", "unknown option '--bogus'"},
                            {"--new-env X HEAD HEAD", "--new-env takes VAR=VALUE"},
                            {"no-such-ref-xyz HEAD", "unknown commit 'no-such-ref-xyz'"},
                            {"--rounds 6 --max-rounds 4 HEAD HEAD", "--max-rounds expects an integer >= --rounds (6)"}};
    for (int i = 0; i < 6; i++) {
        snprintf(cmd, sizeof cmd, "bash %s %s 2>&1", path, bad[i][0]);
        int rc = qk_test_run(cmd, &out);
        ck_assert_int_eq(rc, 1);
        ck_assert_msg(strstr(out, bad[i][1]) && strncmp(out, "ci-gate.sh: error: ", 19) == 0, "%s", out);
        ck_assert_int_eq(qk_test_count_substr(out, "\n"), 1);
        free(out);
    }
}
END_TEST

/* ---- list ranges ------------------------------------------------------------------------ */

START_TEST(list_ranges) {
    qk_int_list l = {0};
    qk_err err;
    ck_assert_int_eq(qk_bench_parse_list("-d", "0-4096+1024,7", 0, 1 << 24, 64, &l, &err), 0);
    const int want[] = {0, 1024, 2048, 3072, 4096, 7};
    ck_assert_int_eq(l.n, 6);
    for (int i = 0; i < 6; i++) ck_assert_int_eq(l.v[i], want[i]);
    ck_assert_int_eq(qk_bench_parse_list("-p", "128-1000*2", 1, 1 << 24, 64, &l, &err), 0);
    ck_assert_int_eq(l.n, 9);
    ck_assert_int_eq(l.v[8], 512);
    ck_assert_int_eq(qk_bench_parse_list("-t", "1-3", 1, 8, 64, &l, &err), 0);
    ck_assert_int_eq(l.n, 12);
    ck_assert_int_eq(l.v[11], 3);
    const char *bad[] = {"", "1-", "-1", "4-2", "1-4+0", "1-4*1", "0-4*2", "1-4x", "1,,2", "a", "1-9", "0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_msg(qk_bench_parse_list("-t", bad[i], 1, 8, 64, &l, &err) != 0, "accepted '%s'", bad[i]);
        ck_assert_ptr_nonnull(strstr(err.msg, "-t: "));
        ck_assert_int_eq(l.n, 12); /* unchanged */
    }
    ck_assert_int_eq(qk_bench_parse_list("-t", "1-100", 1, 1000, 64, &l, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "more than 64"));
    qk_int_list_free(&l);
}
END_TEST

/* ---- qk-bench outputs ------------------------------------------------------------------- */

START_TEST(bench_outputs) {
    char *model = qk_test_shared_dup(STORIES);
    char *jl = qk_test_tmp_path("r.jsonl"), *sql = qk_test_tmp_path("r.sql"), *ci = qk_test_tmp_path("ci.json");
    char *out = NULL;
    int rc = qk_test_run_tool(&out, "qk-bench",
                              "-m %s -p 8 -n 4 -d 0,16 -ub 4 -t 1-2+1 -r 2 -o none --no-roofline --no-peak "
                              "--output-file %s --output-file %s --ci-json %s -oe csv",
                              model, jl, sql, ci);
    ck_assert_msg(rc == 0, "%s", out);
    /* CSV: with a depth, a 33rd column n_depth (stderr here) */
    ck_assert_ptr_nonnull(strstr(out, ",avg_ts,stddev_ts,n_depth\n"));
    ck_assert_int_eq(qk_test_count_substr(out, "\",\"16\"\n"), 4);
    free(out);
    /* JSON Lines: one object per line, 2 threads x 2 depths x 2 tests, in llama-bench's order */
    char *text = qk_test_read_file(jl, NULL);
    ck_assert_ptr_nonnull(text);
    const char *names[] = {"pp8", "tg4", "pp8 @ d16", "tg4 @ d16"};
    int n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), n++) {
        cJSON *o = cJSON_Parse(line);
        ck_assert_msg(cJSON_IsObject(o), "line %d: %s", n + 1, line);
        ck_assert_int_eq(cJSON_GetObjectItem(o, "n_threads")->valueint, n < 4 ? 1 : 2);
        ck_assert_int_eq(cJSON_GetObjectItem(o, "n_depth")->valueint, (n % 4) >= 2 ? 16 : 0);
        ck_assert_int_eq(cJSON_GetObjectItem(o, "n_ubatch")->valueint, 4);
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "samples_ts")), 2);
        ck_assert(cJSON_GetObjectItem(o, "peak_rss_bytes")->valuedouble > 0);
        cJSON_Delete(o);
    }
    ck_assert_int_eq(n, 8);
    free(text);
    /* the CI JSON: customBiggerIsBetter's schema */
    text = qk_test_read_file(ci, NULL);
    cJSON *j = cJSON_Parse(text);
    ck_assert_msg(cJSON_IsArray(j) && cJSON_GetArraySize(j) == 8, "%s", text);
    int i = 0;
    cJSON *o;
    cJSON_ArrayForEach(o, j) {
        char want[64];
        snprintf(want, sizeof want, "stories260K %s t=%d", names[i % 4], i < 4 ? 1 : 2);
        ck_assert_str_eq(cJSON_GetObjectItem(o, "name")->valuestring, want);
        ck_assert_str_eq(cJSON_GetObjectItem(o, "unit")->valuestring, "t/s");
        ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(o, "value")) && cJSON_GetObjectItem(o, "value")->valuedouble > 0);
        ck_assert(cJSON_IsString(cJSON_GetObjectItem(o, "range")));
        ck_assert(cJSON_IsString(cJSON_GetObjectItem(o, "extra")));
        for (cJSON *k = o->child; k; k = k->next)
            ck_assert_msg(!strcmp(k->string, "name") || !strcmp(k->string, "unit") || !strcmp(k->string, "value") ||
                              !strcmp(k->string, "range") || !strcmp(k->string, "extra"),
                          "unexpected key %s", k->string);
        i++;
    }
    cJSON_Delete(j);
    free(text);
    /* qk-bench-compare reads the JSON Lines (A/A: nothing fails) */
    rc = qk_test_run_tool(&out, "qk-bench-compare", "--fail-above 50 %s %s", jl, jl);
    ck_assert_msg(rc == 0 && strstr(out, "8 tests compared"), "%s", out);
    free(out);
    /* SQL: sqlite3 loads it (skipped without sqlite3) */
    if (qk_test_run("command -v sqlite3 >/dev/null 2>&1", NULL) == 0) {
        char cmd[8192];
        snprintf(cmd, sizeof cmd,
                 "sqlite3 :memory: \".read %s\" \"SELECT count(*), sum(n_depth), typeof(avg_ts), typeof(n_prompt), "
                 "typeof(model_filename) FROM llama_bench WHERE n_threads = 2\"",
                 sql);
        rc = qk_test_run(cmd, &out);
        ck_assert_msg(rc == 0, "%s", out);
        ck_assert_str_eq(out, "4|32|real|integer|text\n");
        free(out);
    } else {
        fprintf(stderr, "test_bench_regress: sqlite3 not found: the SQL load check is skipped\n");
    }
    free(model);
    free(jl);
    free(sql);
    free(ci);
}
END_TEST

/* qk-bench --vs and --binary-vs: both sides' records per test (A then B), and the
 * comparison in md. */
START_TEST(bench_vs) {
    char *model = qk_test_shared_dup(STORIES), *b = qk_test_tmp_path("b-copy.gguf");
    char cmd[8400], *out = NULL;
    snprintf(cmd, sizeof cmd, "cp %s %s", model, b);
    ck_assert_int_eq(qk_test_run(cmd, NULL), 0);
    int rc = qk_test_run_tool(&out, "qk-bench", "-m %s --vs %s -p 8 -n 4 -t 1 -r 3 -o jsonl --no-roofline --no-peak",
                              model, b);
    ck_assert_msg(rc == 0, "%s", out);
    int n = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), n++) {
        cJSON *o = cJSON_Parse(line);
        ck_assert_msg(cJSON_IsObject(o), "%s", line);
        ck_assert_str_eq(cJSON_GetObjectItem(o, "model_filename")->valuestring, n % 2 ? b : model);
        ck_assert_int_eq(cJSON_GetObjectItem(o, "n_prompt")->valueint, n < 2 ? 8 : 0);
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "samples_ts")), 3);
        cJSON_Delete(o);
    }
    ck_assert_int_eq(n, 4);
    free(out);
    rc = qk_test_run_tool(&out, "qk-bench", "-m %s --vs %s -p 8 -n 4 -t 1 -r 2 -o md --no-roofline --no-peak", model, b);
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "# Benchmark comparison: new vs base"));
    ck_assert_ptr_nonnull(strstr(out, "2 tests compared"));
    ck_assert_int_eq(qk_test_count_substr(out, "| b-copy | "), 2);
    free(out);
    /* --binary-vs: this build against a qk-bench binary (here the same one), child runs */
    char *bin = strdup(qk_test_bin("qk-bench"));
    rc = qk_test_run_tool(&out, "qk-bench", "-m %s --binary-vs %s -p 8 -n 4 -t 1 -r 3 -o jsonl --no-roofline --no-peak",
                          model, bin);
    ck_assert_msg(rc == 0, "%s", out);
    n = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), n++) {
        cJSON *o = cJSON_Parse(line);
        ck_assert_msg(cJSON_IsObject(o), "%s", line);
        ck_assert_str_eq(cJSON_GetObjectItem(o, "model_filename")->valuestring, model);
        ck_assert_int_eq(cJSON_GetObjectItem(o, "n_gen")->valueint, n < 2 ? 0 : 4);
        const cJSON *ns = cJSON_GetObjectItem(o, "samples_ns");
        ck_assert_int_eq(cJSON_GetArraySize(ns), 3);
        for (int k = 0; k < 3; k++) ck_assert(cJSON_GetArrayItem(ns, k)->valuedouble > 0);
        cJSON_Delete(o);
    }
    ck_assert_int_eq(n, 4);
    free(out);
    rc = qk_test_run_tool(&out, "qk-bench", "-m %s --binary-vs %s -p 8 -n 0 -t 1 -r 2 --no-roofline --no-peak", model,
                          bin);
    ck_assert_msg(rc == 0 && strstr(out, "- base: this build (build ") && strstr(out, "1 test compared"), "%s", out);
    free(out);
    qk_test_expect_tool_error("qk-bench", "/bin/false", NULL, NULL,
                              "-m %s --binary-vs /bin/false -p 8 -n 0 -r 1 --no-roofline --no-peak", model);
    qk_test_expect_tool_error("qk-bench", "not an executable file", NULL, NULL, "-m %s --binary-vs /nonexistent -p 8",
                              model);
    qk_test_expect_tool_error("qk-bench", "pass one", NULL, NULL, "-m %s --vs %s --binary-vs %s", model, b, bin);
    free(bin);
    qk_test_expect_tool_error("qk-bench", "need -m MODEL", NULL, NULL, "--vs %s", b);
    qk_test_expect_tool_error("qk-bench", "cannot load model '/nonexistent.gguf'", NULL, NULL,
                              "-m %s --vs /nonexistent.gguf -p 8 -n 0 -r 1", model);
    free(model);
    free(b);
}
END_TEST

/* The SQL printer on a result with a quote in the model name: the quote is doubled. */
START_TEST(sql_quoting) {
    qk_bench_result r;
    memset(&r, 0, sizeof r);
    r.test = (qk_bench_test){"it's.gguf", 0, 8, 0, 2048, 1, 0, 3};
    uint64_t ns[2] = {1000000, 2000000};
    r.samples_ns = ns;
    r.n_samples = 2;
    qk_bench_env e = {"abc", 0, "CPU", false, false};
    qk_sb sb = {0};
    qk_bench_print_header(&sb, QK_BENCH_FMT_SQL, &e);
    qk_bench_print_test(&sb, QK_BENCH_FMT_SQL, &e, &r, 0);
    const char *t = qk_sb_str(&sb);
    const char *head = "CREATE TABLE IF NOT EXISTS llama_bench (\n  build_commit TEXT,\n";
    ck_assert(strncmp(t, head, strlen(head)) == 0);
    ck_assert_ptr_nonnull(strstr(t, "  avg_ts REAL,\n"));
    ck_assert_ptr_nonnull(strstr(t, "  n_depth INTEGER\n);\n"));
    ck_assert_ptr_nonnull(strstr(t, "'it''s.gguf'"));
    ck_assert_ptr_nonnull(strstr(t, ", '3');\n")); /* n_depth last */
    ck_assert_int_eq(qk_test_count_substr(t, "INSERT INTO llama_bench ("), 1);
    qk_sb_free(&sb);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("bench_regress");
    TCase *tc = tcase_create("regress");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, t_distribution);
    tcase_add_test(tc, welch_interval);
    tcase_add_test(tc, pairing_and_gate);
    tcase_add_test(tc, load_formats);
    tcase_add_test(tc, compare_tool);
    tcase_add_test(tc, pooling);
    tcase_add_test(tc, gate_script_args);
    tcase_add_test(tc, list_ranges);
    tcase_add_test(tc, bench_outputs);
    tcase_add_test(tc, sql_quoting);
    tcase_add_test(tc, bench_vs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return qk_test_main(suite()); }
