/*
 * test_report.c — qk-report on crafted qk-perplexity / qk-bench JSON files (table values
 * and rounding, "exact" preferred over "kld", base row, CSV columns, .gp scripts, PNGs when
 * gnuplot is installed, no PNG and no failure without it, clear errors on bad input), the
 * shared file/process helpers, and qk-study end to end on stories260K (every step, its
 * logs, and a failing step's error line).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report_data.h"
#include "fileio.h"
#include "report_plot.h"
#include "proc.h"
#include "report_table.h"
#include "testutil.h"

#define STORIES "data/models/stories260K/stories260K.gguf"
#define WIKI "data/wikitext-2-raw/wiki.test.raw"

/* Values are exact binary fractions so that every rounding below is unambiguous. */
static const char *PPL_F16 =
    "{\"tool\":\"qk-perplexity\",\"model\":\"m/base-f16.gguf\",\"model_size_bytes\":988208640,"
    "\"n_params\":494032768,\"n_vocab\":151936,\"n_ctx\":512,\"n_batch\":2048,\"n_chunks\":8,"
    "\"n_threads\":2,\"n_tokens_scored\":2040,\"ppl\":13.125,\"ppl_unc\":0.5,\"mean_nll\":2.57,"
    "\"seconds\":100,\"tokens_per_second\":40.8}";
static const char *PPL_Q4 =
    "{\"tool\":\"qk-perplexity\",\"model\":\"m/base-Q4_K_M.gguf\",\"model_size_bytes\":391839232,"
    "\"n_params\":494032768,\"n_ctx\":512,\"n_chunks\":8,\"n_tokens_scored\":2040,"
    "\"ppl\":13.5,\"ppl_unc\":0.5625,"
    "\"kld\":{\"ppl_ratio\":1.5,\"ppl_ratio_unc\":0.5,\"cor_ln_ppl\":0.5,\"mean_kld\":0.03125,"
    "\"mean_kld_unc\":0.0009765625,\"same_top\":0.875,\"same_top_unc\":0.0078125},"
    "\"exact\":{\"ppl_base\":13.125,\"ppl_ratio\":1.03125,\"ppl_ratio_unc\":0.00390625,"
    "\"mean_ln_ratio\":0.03,\"mean_ln_ratio_unc\":0.004,\"cor_ln_ppl\":0.984375}}";
static const char *PPL_Q2 =
    "{\"tool\":\"qk-perplexity\",\"model\":\"m/base-Q2_K.gguf\",\"model_size_bytes\":332600000,"
    "\"n_params\":494032768,\"n_ctx\":512,\"n_chunks\":8,\"n_tokens_scored\":2040,"
    "\"ppl\":16.5,\"ppl_unc\":0.75,"
    "\"kld\":{\"ppl_ratio\":1.25,\"ppl_ratio_unc\":0.01171875,\"cor_ln_ppl\":0.9140625,"
    "\"mean_kld\":0.5,\"mean_kld_unc\":0.0234375,\"same_top\":0.75,\"same_top_unc\":0.0078125}}";
static const char *PPL_Q8 =
    "{\"tool\":\"qk-perplexity\",\"model\":\"m/base-Q8_0.gguf\",\"model_size_bytes\":524288000,"
    "\"n_params\":494032768,\"n_ctx\":512,\"n_chunks\":8,\"n_tokens_scored\":2040,"
    "\"ppl\":13.125,\"ppl_unc\":0.5,"
    "\"kld\":{\"ppl_ratio\":1.0,\"ppl_ratio_unc\":0.0009765625,\"cor_ln_ppl\":0.99951171875,"
    "\"mean_kld\":0.000244140625,\"mean_kld_unc\":0.0000152587890625}}";
static const char *BENCH =
    "[{\"model_filename\":\"m/base-f16.gguf\",\"model_type\":\"qwen2 1B F16\",\"model_size\":988208640,"
    "\"model_n_params\":494032768,\"n_threads\":1,\"n_prompt\":512,\"n_gen\":0,\"avg_ts\":90.5,\"stddev_ts\":1},"
    "{\"model_filename\":\"m/base-f16.gguf\",\"model_type\":\"qwen2 1B F16\",\"model_size\":988208640,"
    "\"model_n_params\":494032768,\"n_threads\":2,\"n_prompt\":512,\"n_gen\":0,\"avg_ts\":166.25,\"stddev_ts\":5.75},"
    "{\"model_filename\":\"m/base-f16.gguf\",\"model_type\":\"qwen2 1B F16\",\"model_size\":988208640,"
    "\"model_n_params\":494032768,\"n_threads\":2,\"n_prompt\":0,\"n_gen\":128,\"avg_ts\":26.25,\"stddev_ts\":1.75},"
    "{\"model_filename\":\"m/base-Q4_K_M.gguf\",\"model_type\":\"qwen2 1B Q4_K - Medium\",\"model_size\":391839232,"
    "\"model_n_params\":494032768,\"n_threads\":2,\"n_prompt\":0,\"n_gen\":128,\"avg_ts\":45.5,\"stddev_ts\":0.5}]";

/* "dir/name" in one of 8 rotating buffers (callers keep directories in their own arrays) */
static char *tpath(const char *dir, const char *name) {
    static char buf[8][4300];
    static int k;
    char tmp[4300];
    size_t a = strlen(dir), b = strlen(name);
    ck_assert_uint_lt(a + b + 2, sizeof tmp);
    memcpy(tmp, dir, a);
    tmp[a] = '/';
    memcpy(tmp + a + 1, name, b + 1);
    char *p = buf[k++ % 8];
    memcpy(p, tmp, a + b + 2);
    return p;
}

static void put(const char *path, const char *text) {
    qk_err err;
    ck_assert_msg(qk_afile_write_all(path, text, strlen(text), &err) == 0, "%s", err.msg);
}

/* A study-like directory with the crafted inputs; returns its path. */
static const char *make_inputs(const char *name) {
    static char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", qk_test_tmpdir(), name);
    ck_assert_int_eq(qk_file_mkdir_p(tpath(dir, "ppl"), NULL), 0);
    ck_assert_int_eq(qk_file_mkdir_p(tpath(dir, "bench"), NULL), 0);
    put(tpath(dir, "ppl/F16.json"), PPL_F16);
    put(tpath(dir, "ppl/Q4_K_M.json"), PPL_Q4);
    put(tpath(dir, "ppl/Q2_K.json"), PPL_Q2);
    put(tpath(dir, "ppl/Q8_0.json"), PPL_Q8);
    put(tpath(dir, "bench/all.json"), BENCH);
    return dir;
}

static bool has_line(const char *text, const char *line) {
    const char *p = strstr(text, line);
    return p && (p == text || p[-1] == '\n') && (p[strlen(line)] == '\n');
}

/* ---- helpers ---------------------------------------------------------------------------- */

START_TEST(io_helpers) {
    char dir[4300];
    snprintf(dir, sizeof dir, "%s", tpath(qk_test_tmpdir(), "io/a/b/c"));
    qk_err err;
    ck_assert_int_eq(qk_file_mkdir_p(dir, &err), 0);
    ck_assert_int_eq(qk_file_mkdir_p(dir, &err), 0); /* existing: fine */
    char f[4400];
    snprintf(f, sizeof f, "%s", tpath(dir, "x.txt"));
    put(f, "first");
    put(f, "second, longer");
    size_t len;
    char *t = qk_file_read(f, &len, &err);
    ck_assert_str_eq(t, "second, longer");
    ck_assert_uint_eq(len, 14);
    free(t);
    ck_assert_int_eq(qk_file_mkdir_p(f, &err), -1); /* a file is in the way */
    ck_assert_int_eq(qk_afile_write_all(tpath(dir, "no/such/dir/x"), "a", 1, &err), -1);
    ck_assert_ptr_null(qk_file_read(tpath(dir, "missing"), NULL, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "missing"));
    qk_sb sb = {0};
    for (int i = 0; i < 1000; i++) qk_sb_printf(&sb, "%d,", i);
    ck_assert(qk_sb_ok(&sb));
    ck_assert(strncmp(qk_sb_str(&sb), "0,1,2,", 6) == 0);
    ck_assert_int_eq(sb.buf[sb.len - 1], ',');
    qk_sb_free(&sb);
    ck_assert_str_eq(qk_sb_str(&sb), "");
}
END_TEST

START_TEST(proc_helpers) {
    char log[4300];
    snprintf(log, sizeof log, "%s", tpath(qk_test_tmpdir(), "proc.log"));
    qk_err err;
    char *ok[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    ck_assert_int_eq(qk_proc_run(ok, NULL, log, &err), 3);
    char *t = qk_file_read(log, NULL, NULL);
    ck_assert_ptr_nonnull(strstr(t, "out\n"));
    ck_assert_ptr_nonnull(strstr(t, "err\n"));
    free(t);
    char *pwd[] = {"sh", "-c", "pwd", NULL};
    unlink(log);
    ck_assert_int_eq(qk_proc_run(pwd, "/", log, &err), 0);
    t = qk_file_read(log, NULL, NULL);
    ck_assert_str_eq(t, "/\n");
    free(t);
    char *none[] = {"/nonexistent/qk-nothing", NULL};
    ck_assert_int_eq(qk_proc_run(none, NULL, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "not found"));
    char *sig[] = {"sh", "-c", "kill -9 $$", NULL};
    ck_assert_int_eq(qk_proc_run(sig, NULL, log, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "signal 9"));
    char dir[4096];
    ck_assert_int_eq(qk_proc_self_dir(dir, sizeof dir, &err), 0);
    ck_assert_str_eq(dir, QK_BIN_DIR);
}
END_TEST

/* ---- table ------------------------------------------------------------------------------ */

START_TEST(table_values_and_rounding) {
    char dir[4300];
    snprintf(dir, sizeof dir, "%s", make_inputs("table"));
    qk_report r = {0};
    qk_err err;
    ck_assert_msg(qk_report_load_dir(&r, dir, &err) == 0, "%s", err.msg);
    qk_report_finish(&r);
    ck_assert_int_eq(r.n, 4);
    /* base first, then by size */
    ck_assert_str_eq(r.rows[0].label, "F16");
    ck_assert(r.rows[0].is_base);
    ck_assert_str_eq(r.rows[1].label, "Q8_0");
    ck_assert_str_eq(r.rows[2].label, "Q4_K_M");
    ck_assert_str_eq(r.rows[3].label, "Q2_K");
    /* the 2-thread pp result is kept, not the 1-thread one */
    ck_assert_int_eq(r.rows[0].pp_threads, 2);
    ck_assert_str_eq(r.rows[2].quality_src, "exact");
    ck_assert_str_eq(r.rows[3].quality_src, "kld");

    qk_sb md = {0};
    qk_report_render_md(&md, &r, NULL, NULL);
    const char *t = qk_sb_str(&md);
    ck_assert(has_line(t, "| model | type | size (MiB) | bpw | pp512 t/s | tg128 t/s | PPL | "
                          "PPL ratio \xe2\x88\x92 1 (%) | Cor(ln PPL) (%) | mean KLD | same top (%) |"));
    ck_assert_msg(has_line(t, "| F16 (base) | F16 | 942.4 | 16.00 | 166.25 \xc2\xb1 5.75 | 26.25 \xc2\xb1 1.75 | "
                              "13.1250 \xc2\xb1 0.5000 | \xe2\x80\x94 | \xe2\x80\x94 | \xe2\x80\x94 | \xe2\x80\x94 |"), "%s", t);
    /* ratio and correlation from "exact" (1.03125, 0.984375), not "kld" (1.5, 0.5) */
    ck_assert_msg(has_line(t, "| Q4_K_M | Q4_K - Medium | 373.7 | 6.35 | \xe2\x80\x94 | 45.50 \xc2\xb1 0.50 | "
                              "13.5000 \xc2\xb1 0.5625 | 3.125 \xc2\xb1 0.391 | 98.44 | 0.03125 \xc2\xb1 0.00098 | "
                              "87.50 \xc2\xb1 0.78 |"), "%s", t);
    ck_assert_msg(has_line(t, "| Q2_K | \xe2\x80\x94 | 317.2 | 5.39 | \xe2\x80\x94 | \xe2\x80\x94 | 16.5000 \xc2\xb1 0.7500 | "
                              "25.000 \xc2\xb1 1.172 | 91.41 | 0.50000 \xc2\xb1 0.02344 | 75.00 \xc2\xb1 0.78 |"), "%s", t);
    /* tiny KLD in scientific notation; no same-top figures -> dash */
    ck_assert_msg(has_line(t, "| Q8_0 | \xe2\x80\x94 | 500.0 | 8.49 | \xe2\x80\x94 | \xe2\x80\x94 | 13.1250 \xc2\xb1 0.5000 | "
                              "0.000 \xc2\xb1 0.098 | 99.95 | 2.441e-04 \xc2\xb1 1.5e-05 | \xe2\x80\x94 |"), "%s", t);
    ck_assert_ptr_nonnull(strstr(t, "of Q4_K_M: from the base model's exact per-token NLLs"));
    ck_assert_ptr_nonnull(strstr(t, "of Q8_0, Q2_K: from llama.cpp's 16-bit base logits"));
    ck_assert_ptr_nonnull(strstr(t, "8 chunks of 512 tokens (2040 tokens scored)"));
    qk_sb_free(&md);

    /* CSV: header, same column count on every row, full precision */
    qk_sb csv = {0};
    qk_report_render_csv(&csv, &r);
    const char *c = qk_sb_str(&csv);
    ck_assert(strncmp(c, qk_report_csv_header, strlen(qk_report_csv_header)) == 0);
    int cols = 1;
    for (const char *p = qk_report_csv_header; *p; p++) cols += *p == ',';
    ck_assert_int_eq(cols, 34);
    int lines = 0;
    for (const char *p = c; *p;) {
        const char *nl = strchr(p, '\n');
        ck_assert_ptr_nonnull(nl);
        int n = 1;
        for (const char *q = p; q < nl; q++) n += *q == ',';
        ck_assert_int_eq(n, cols);
        lines++;
        p = nl + 1;
    }
    ck_assert_int_eq(lines, 5);
    ck_assert_ptr_nonnull(strstr(c, "\nQ4_K_M,m/base-Q4_K_M.gguf,qwen2 1B Q4_K - Medium,0,391839232,"));
    ck_assert_ptr_nonnull(strstr(c, ",exact,1.03125,0.00390625,3.125,0.390625,98.4375,0.03125,0.0009765625,87.5,0.78125,0,,\n"));
    ck_assert_ptr_nonnull(strstr(c, "\nF16,m/base-f16.gguf,qwen2 1B F16,1,988208640,"));
    qk_sb_free(&csv);

    /* an explicit base overrides the automatic choice */
    ck_assert_int_eq(qk_report_set_base(&r, "Q8_0", &err), 0);
    qk_report_finish(&r);
    ck_assert_str_eq(r.rows[0].label, "Q8_0");
    ck_assert_int_eq(qk_report_set_base(&r, "nope", &err), -1);
    qk_report_free(&r);
}
END_TEST

/* A type quantized with and without an imatrix (qk-study --imatrix): the "-imat" row is
 * flagged in the CSV, named in the notes, and drawn as a second series with one legend;
 * a bench-only "-imat" file gets the full label. */
START_TEST(imatrix_series) {
    char dir[4300];
    snprintf(dir, sizeof dir, "%s", make_inputs("imat"));
    char *imat = strdup(PPL_Q4);
    char *at = strstr(imat, "Q4_K_M.gguf");
    ck_assert_ptr_nonnull(at);
    memcpy(at, "Q4_K_M.ggux", 11); /* another model file: its own row */
    put(tpath(dir, "ppl/Q4_K_M-imat.json"), imat);
    free(imat);
    put(tpath(dir, "bench/x.json"),
        "[{\"model_filename\":\"m/base-Q6_K-imat.gguf\",\"n_threads\":2,\"n_prompt\":0,\"n_gen\":128,"
        "\"avg_ts\":40,\"stddev_ts\":1}]");
    qk_report r = {0};
    qk_err err;
    ck_assert_msg(qk_report_load_dir(&r, dir, &err) == 0, "%s", err.msg);
    qk_report_finish(&r);
    int n_imat = 0;
    for (int i = 0; i < r.n; i++) {
        const bool want = !strcmp(r.rows[i].label, "Q4_K_M-imat") || !strcmp(r.rows[i].label, "Q6_K-imat");
        ck_assert_msg(qk_report_is_imatrix(&r.rows[i]) == want, "%s", r.rows[i].label);
        n_imat += want;
    }
    ck_assert_int_eq(n_imat, 2);
    qk_sb csv = {0}, md = {0}, gp = {0};
    qk_report_render_csv(&csv, &r);
    ck_assert_ptr_nonnull(strstr(qk_sb_str(&csv), "\nQ4_K_M-imat,m/base-Q4_K_M.ggux,"));
    ck_assert_ptr_nonnull(strstr(qk_sb_str(&csv), ",87.5,0.78125,1,,\n"));
    ck_assert_ptr_nonnull(strstr(qk_sb_str(&csv), ",87.5,0.78125,0,,\n"));
    qk_report_render_md(&md, &r, NULL, NULL);
    ck_assert_ptr_nonnull(strstr(qk_sb_str(&md), "| Q4_K_M-imat |"));
    ck_assert_ptr_nonnull(strstr(qk_sb_str(&md), "- TYPE-imat: TYPE quantized with an importance matrix"));
    ck_assert(qk_report_render_quality_gp(&gp, &r));
    const char *q = qk_sb_str(&gp);
    const char *plain = strstr(q, "$kld << EOD\n"), *with = strstr(q, "$kldi << EOD\n");
    ck_assert(plain && with && plain < with);
    ck_assert_ptr_nonnull(strstr(with, "\"Q4_K_M-imat\" 373.687 0.03125 0.0009765625\nEOD\n"));
    ck_assert_ptr_null(memmem(plain, (size_t)(with - plain), "imat", 4)); /* not in the plain series */
    ck_assert_ptr_nonnull(strstr(q, "title \"without imatrix\""));
    ck_assert_ptr_nonnull(strstr(q, "title \"with imatrix\""));
    ck_assert_ptr_nonnull(strstr(q, "set key top right box opaque\n"));
    qk_sb_free(&csv);
    qk_sb_free(&md);
    qk_sb_free(&gp);
    qk_report_free(&r);
}
END_TEST

START_TEST(scripts_and_pngs) {
    char dir[4300], dir2[4300];
    snprintf(dir, sizeof dir, "%s", make_inputs("cli"));
    char cmd[8192], *out = NULL;
    char gp[4096];
    bool have_gnuplot = qk_proc_find_in_path("gnuplot", gp, sizeof gp);
    snprintf(cmd, sizeof cmd, "%s -d %s", qk_test_bin("qk-report"), dir);
    int rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "qk-report failed: %s", out);
    ck_assert_ptr_nonnull(strstr(out, "| Q4_K_M | Q4_K - Medium |")); /* table on stdout */
    free(out);
    char *md = qk_test_read_file(tpath(dir, "results.md"), NULL);
    ck_assert_ptr_nonnull(md);
    ck_assert_ptr_nonnull(strstr(md, "# Effect of quantization"));
    free(md);
    char *csv = qk_test_read_file(tpath(dir, "results.csv"), NULL);
    ck_assert_ptr_nonnull(csv);
    free(csv);
    char *tg = qk_test_read_file(tpath(dir, "tg.gp"), NULL);
    ck_assert_ptr_nonnull(tg);
    ck_assert_ptr_nonnull(strstr(tg, "pngcairo"));
    ck_assert_ptr_nonnull(strstr(tg, "0 \"F16\" 26.25 1.75\n"));
    ck_assert_ptr_nonnull(strstr(tg, "1 \"Q4_K_M\" 45.5 0.5\n"));
    free(tg);
    char *q = qk_test_read_file(tpath(dir, "quality.gp"), NULL);
    ck_assert_ptr_nonnull(q);
    ck_assert_ptr_nonnull(strstr(q, "\"Q2_K\" 317.192 0.5 0.0234375\n"));    /* size vs KLD */
    ck_assert_ptr_nonnull(strstr(q, "\"Q4_K_M\" 373.687 3.125 0.390625\n")); /* size vs ratio */
    ck_assert_ptr_nonnull(strstr(q, "\"F16\" 942.429 0 0\n"));
    ck_assert_ptr_nonnull(strstr(q, "set logscale y"));
    free(q);
    const char *pngs[] = {"tg.png", "quality.png"};
    for (int i = 0; i < 2; i++) {
        size_t len = 0;
        char *png = qk_test_read_file(tpath(dir, pngs[i]), &len);
        if (have_gnuplot) {
            ck_assert_msg(png != NULL, "%s missing although gnuplot is installed", pngs[i]);
            ck_assert_uint_gt(len, 1000);
            ck_assert(memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
        }
        free(png);
    }
    /* nothing temporary left behind */
    snprintf(cmd, sizeof cmd, "ls -a %s | grep -c -e tmp -e gnuplot.log", dir);
    qk_test_run(cmd, &out);
    ck_assert_str_eq(out, "0\n");
    free(out);

    /* without gnuplot: scripts, a warning, no PNG, success */
    snprintf(dir2, sizeof dir2, "%s", make_inputs("nognuplot"));
    snprintf(cmd, sizeof cmd, "QK_GNUPLOT=/nonexistent/gnuplot %s -d %s -q", qk_test_bin("qk-report"), dir2);
    rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "gnuplot not found"));
    free(out);
    ck_assert(access(tpath(dir2, "tg.gp"), F_OK) == 0);
    ck_assert(access(tpath(dir2, "quality.gp"), F_OK) == 0);
    ck_assert(access(tpath(dir2, "tg.png"), F_OK) != 0);
    ck_assert(access(tpath(dir2, "quality.png"), F_OK) != 0);
}
END_TEST

START_TEST(explicit_inputs_and_errors) {
    char dir[4300], out_dir[4300], bad_dir[4300];
    snprintf(dir, sizeof dir, "%s", make_inputs("explicit"));
    snprintf(out_dir, sizeof out_dir, "%s", tpath(qk_test_tmpdir(), "explicit-out"));
    ck_assert_int_eq(qk_file_mkdir_p(out_dir, NULL), 0);
    char cmd[16384], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s --ppl %s --ppl %s --bench %s -o %s --no-plots -q", qk_test_bin("qk-report"),
             tpath(dir, "ppl/F16.json"), tpath(dir, "ppl/Q2_K.json"), tpath(dir, "bench/all.json"), out_dir);
    int rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    char *md = qk_test_read_file(tpath(out_dir, "results.md"), NULL);
    ck_assert_ptr_nonnull(md);
    ck_assert_ptr_nonnull(strstr(md, "| F16 (base) |"));
    ck_assert_ptr_nonnull(strstr(md, "| Q2_K |"));
    /* Q4_K_M has bench results only: its row is labelled from the model file name */
    ck_assert_ptr_nonnull(strstr(md, "| Q4_K_M | Q4_K - Medium |"));
    free(md);
    ck_assert(access(tpath(out_dir, "tg.png"), F_OK) != 0); /* --no-plots */
    ck_assert(access(tpath(out_dir, "tg.gp"), F_OK) == 0);

    /* bad JSON: one error line, no output written */
    snprintf(bad_dir, sizeof bad_dir, "%s", tpath(qk_test_tmpdir(), "bad"));
    ck_assert_int_eq(qk_file_mkdir_p(tpath(bad_dir, "ppl"), NULL), 0);
    put(tpath(bad_dir, "ppl/X.json"), "{\"ppl\": 12.5,");
    snprintf(cmd, sizeof cmd, "%s -d %s", qk_test_bin("qk-report"), bad_dir);
    ck_assert_int_ne(qk_test_run(cmd, &out), 0);
    ck_assert(strncmp(out, "qk-report: error: ", 18) == 0);
    ck_assert_ptr_nonnull(strstr(out, "X.json"));
    ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);
    free(out);
    ck_assert(access(tpath(bad_dir, "results.md"), F_OK) != 0);
    /* JSON without "ppl" */
    put(tpath(bad_dir, "ppl/X.json"), "{\"tool\":\"qk-perplexity\"}");
    ck_assert_int_ne(qk_test_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "no numeric \"ppl\""));
    free(out);
    /* counts out of any integer range: not converted (undefined behaviour), a bench record
     * with one is refused; the perplexity file's are ignored */
    put(tpath(bad_dir, "ppl/X.json"), "{\"ppl\": 12.5, \"n_ctx\": 1e300, \"n_chunks\": -5, \"model_size_bytes\": 1e30}");
    ck_assert_int_eq(qk_file_mkdir_p(tpath(bad_dir, "bench"), NULL), 0);
    put(tpath(bad_dir, "bench/X.json"), "[{\"model_filename\": \"m.gguf\", \"n_prompt\": 1e20, \"n_gen\": 0, "
                                        "\"n_threads\": 2, \"avg_ts\": 10}]");
    ck_assert_int_ne(qk_test_run(cmd, &out), 0);
    ck_assert_msg(strstr(out, "not a whole number") != NULL, "%s", out);
    free(out);
    unlink(tpath(bad_dir, "bench/X.json"));
    /* an empty directory */
    snprintf(cmd, sizeof cmd, "%s -d %s", qk_test_bin("qk-report"), tpath(qk_test_tmpdir(), "explicit-out"));
    ck_assert_int_ne(qk_test_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "no results"));
    free(out);
}
END_TEST

/* ---- qk-study end to end ---------------------------------------------------------------- */

/* The two inputs in buffers of their own (qk_test_shared has one buffer per thread, so two
 * calls in one argument list would name the same file twice). */
static const char *stories_path(void) {
    static char p[4096];
    snprintf(p, sizeof p, "%s", qk_test_shared(STORIES));
    return p;
}

static const char *wiki_path(void) {
    static char p[4096];
    snprintf(p, sizeof p, "%s", qk_test_shared(WIKI));
    return p;
}

START_TEST(study_end_to_end) {
    char dir[4300];
    snprintf(dir, sizeof dir, "%s", tpath(qk_test_tmpdir(), "study"));
    char cmd[16384], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "%s -m %s -f %s -o %s --types Q6_K,Q4_K_M -c 128 --chunks 4 -t 2 -r 2 -p 16 -n 4 --no-plots",
             qk_test_bin("qk-study"), stories_path(), wiki_path(), dir);
    int rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "qk-study failed: %s", out);
    ck_assert_ptr_nonnull(strstr(out, "qk-study: [1/9] quantize Q6_K"));
    ck_assert_ptr_nonnull(strstr(out, "qk-study: [9/9] report: done in"));
    free(out);
    const char *files[] = {"models/stories260K-Q6_K.gguf", "models/stories260K-Q4_K_M.gguf", "base.logits",
                           "ppl/base.json", "ppl/Q6_K.json", "ppl/Q4_K_M.json", "bench/base.json",
                           "bench/Q6_K.csv", "bench.csv", "results.md", "results.csv", "tg.gp",
                           "quality.gp", "logs/quantize-Q6_K.log", "logs/ppl-base.log",
                           "logs/ppl-Q4_K_M.log", "logs/bench-Q6_K.log", "logs/report.log"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        ck_assert_msg(access(tpath(dir, files[i]), R_OK) == 0, "missing %s", files[i]);
    /* the combined bench CSV: llama-bench's header once, 2 tests x 3 models */
    char *csv = qk_test_read_file(tpath(dir, "bench.csv"), NULL);
    char *gold = qk_test_read_file(qk_test_shared("golden/bench/wiki-qwen2-13m.llama-bench.csv"), NULL);
    size_t hl = strcspn(gold, "\n") + 1;
    ck_assert(strncmp(csv, gold, hl) == 0);
    int lines = 0;
    for (const char *p = csv; *p; p++) lines += *p == '\n';
    ck_assert_int_eq(lines, 1 + 6);
    free(csv);
    free(gold);
    /* the table: base and both quants with KLD figures */
    qk_report r = {0};
    qk_err err;
    ck_assert_msg(qk_report_load_dir(&r, dir, &err) == 0, "%s", err.msg);
    qk_report_finish(&r);
    ck_assert_int_eq(r.n, 3);
    ck_assert_str_eq(r.rows[0].label, "base");
    ck_assert(r.rows[0].is_base && r.rows[0].has_ppl && r.rows[0].has_pp && r.rows[0].has_tg);
    for (int i = 1; i < 3; i++) {
        const qk_report_row *w = &r.rows[i];
        ck_assert_msg(w->has_kld, "%s has no KLD", w->label);
        ck_assert(w->mean_kld >= 0 && isfinite(w->mean_kld));
        ck_assert(w->has_pp && w->pp_ts > 0 && w->has_tg && w->tg_ts > 0);
        ck_assert_uint_lt(w->size_bytes, r.rows[0].size_bytes);
    }
    qk_report_free(&r);
    /* --resume skips everything but the report */
    snprintf(cmd, sizeof cmd, "%s -m %s -f %s -o %s --types Q6_K,Q4_K_M -c 128 --chunks 4 -t 2 -r 2 -p 16 -n 4 --no-plots --resume",
             qk_test_bin("qk-study"), stories_path(), wiki_path(), dir);
    rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "[1/9] quantize Q6_K: skipped"));
    ck_assert_ptr_nonnull(strstr(out, "[8/9] bench Q4_K_M: skipped"));
    free(out);
}
END_TEST

/* --imatrix-text: qk-imatrix runs first on the calibration text, every type is quantized
 * twice and both rows reach the report; bad imatrix options are refused before any step. */
START_TEST(study_imatrix) {
    char dir[4300];
    snprintf(dir, sizeof dir, "%s", tpath(qk_test_tmpdir(), "study-imat"));
    char cmd[32768], *out = NULL, calib[4096];
    snprintf(calib, sizeof calib, "%s", qk_test_shared("data/calibration/wiki.test.tail.raw"));
    snprintf(cmd, sizeof cmd,
             "%s -m %s -f %s -o %s --types Q4_K_M --imatrix-text %s --imatrix-chunks 4 -c 128 --chunks 4 -t 2 "
             "-r 1 -p 16 -n 4 --no-plots",
             qk_test_bin("qk-study"), stories_path(), wiki_path(), dir, calib);
    int rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "qk-study failed: %s", out);
    ck_assert_ptr_nonnull(strstr(out, "qk-study: [1/10] imatrix ..."));
    ck_assert_ptr_nonnull(strstr(out, "quantize Q4_K_M-imat"));
    ck_assert_ptr_nonnull(strstr(out, "qk-study: [10/10] report: done in"));
    free(out);
    const char *files[] = {"imatrix.gguf", "logs/imatrix.log", "models/stories260K-Q4_K_M-imat.gguf",
                           "ppl/Q4_K_M-imat.json", "bench/Q4_K_M-imat.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        ck_assert_msg(access(tpath(dir, files[i]), R_OK) == 0, "missing %s", files[i]);
    char *log = qk_test_read_file(tpath(dir, "logs/quantize-Q4_K_M-imat.log"), NULL);
    ck_assert_ptr_nonnull(log);
    ck_assert_msg(strstr(log, "--imatrix ") && strstr(log, "imatrix.gguf"), "%s", log);
    free(log);
    char *csv = qk_test_read_file(tpath(dir, "results.csv"), NULL);
    ck_assert_ptr_nonnull(csv);
    ck_assert_ptr_nonnull(strstr(csv, "\nQ4_K_M-imat,"));
    ck_assert_ptr_nonnull(strstr(csv, "\nQ4_K_M,"));
    free(csv);

    const char *bad[][2] = {{"--imatrix a --imatrix-text b", "exclude each other"},
                            {"--imatrix-text EVAL", "is the evaluation text"},
                            {"--imatrix /nonexistent/x.gguf", "not found"}};
    for (size_t i = 0; i < 3; i++) {
        char extra[4300];
        snprintf(extra, sizeof extra, "%s", bad[i][0]);
        if (strstr(extra, "EVAL")) snprintf(extra, sizeof extra, "--imatrix-text %s", wiki_path());
        snprintf(cmd, sizeof cmd, "%s -m %s -f %s -o %s %s", qk_test_bin("qk-study"), stories_path(),
                 wiki_path(), tpath(qk_test_tmpdir(), "study-bad"), extra);
        rc = qk_test_run(cmd, &out);
        ck_assert_msg(rc == 1 && strstr(out, "qk-study: error: ") && strstr(out, bad[i][1]) && !strstr(out, "[1/"),
                      "%s: %s", bad[i][0], out);
        free(out);
    }
}
END_TEST

START_TEST(study_failure_names_step_and_log) {
    char dir[4300];
    snprintf(dir, sizeof dir, "%s", tpath(qk_test_tmpdir(), "study-fail"));
    char cmd[16384], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s -m %s -f %s -o %s --types NOT_A_TYPE", qk_test_bin("qk-study"),
             stories_path(), wiki_path(), dir);
    int rc = qk_test_run(cmd, &out);
    ck_assert_int_ne(rc, 0);
    const char *e = strstr(out, "qk-study: error: step 1/");
    ck_assert_msg(e != NULL, "%s", out);
    ck_assert_ptr_nonnull(strstr(e, "'quantize NOT_A_TYPE' failed"));
    ck_assert_ptr_nonnull(strstr(e, "logs/quantize-NOT_A_TYPE.log"));
    free(out);
    ck_assert(access(tpath(dir, "logs/quantize-NOT_A_TYPE.log"), R_OK) == 0);
    ck_assert(access(tpath(dir, "results.md"), F_OK) != 0);
    /* missing inputs are reported before anything runs */
    snprintf(cmd, sizeof cmd, "%s -m %s/none.gguf -f %s -o %s", qk_test_bin("qk-study"), qk_test_tmpdir(),
             qk_test_shared(WIKI), dir);
    ck_assert_int_ne(qk_test_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "qk-study: error: base model"));
    free(out);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("report");
    TCase *unit = tcase_create("unit");
    tcase_add_test(unit, io_helpers);
    tcase_add_test(unit, proc_helpers);
    tcase_add_test(unit, table_values_and_rounding);
    tcase_add_test(unit, imatrix_series);
    suite_add_tcase(s, unit);
    TCase *tool = tcase_create("tool");
    tcase_set_timeout(tool, 600);
    tcase_add_test(tool, scripts_and_pngs);
    tcase_add_test(tool, explicit_inputs_and_errors);
    tcase_add_test(tool, study_end_to_end);
    tcase_add_test(tool, study_failure_names_step_and_log);
    tcase_add_test(tool, study_imatrix);
    suite_add_tcase(s, tool);
    return s;
}

int main(void) { return qk_test_main(suite()); }
