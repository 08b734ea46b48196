/*
 * test_sens_report.c — the per-tensor sensitivity report (reports/sens_report.h) from a
 * hand-written qk-sensitivity JSON: the cost chosen per type (KLD when every tensor has one,
 * else the proxy), the ranking, the markdown and CSV tables, the heat map's data and colour
 * ranges, errors on bad files, and qk-report --sensitivity writing its files.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "afile.h"
#include "fileio.h"
#include "plot.h"
#include "sens_report.h"
#include "testutil.h"

/* Q4_K: KLD for every tensor; Q6_K: blk.1.attn_q has no KLD, so the proxy ranks that type;
 * F16: cost 0 everywhere, not reported. */
static const char *FIXTURE =
    "{\"qkit_sensitivity\": 1, \"model\": \"m/tiny-f16.gguf\", \"calibration\": \"c.raw\", \"n_ctx\": 128,"
    " \"n_chunks\": 2, \"imatrix\": null, \"mode\": \"kld\", \"tensors\": ["
    "{\"name\": \"token_embd.weight\", \"layer\": -1, \"kind\": \"token_embd\", \"n_elements\": 4096, \"candidates\": ["
    " {\"type\": \"F16\", \"bytes\": 8192, \"kld\": 0, \"kld_unc\": 0, \"proxy\": 0},"
    " {\"type\": \"Q4_K\", \"bytes\": 2304, \"kld\": 0.002, \"kld_unc\": 0.0002, \"proxy\": 5},"
    " {\"type\": \"Q6_K\", \"bytes\": 3360, \"kld\": 0.0005, \"kld_unc\": 0.0001, \"proxy\": 1}]},"
    "{\"name\": \"blk.0.attn_q.weight\", \"layer\": 0, \"kind\": \"attn_q\", \"n_elements\": 1024, \"candidates\": ["
    " {\"type\": \"F16\", \"bytes\": 2048, \"kld\": 0, \"kld_unc\": 0, \"proxy\": 0},"
    " {\"type\": \"Q4_K\", \"bytes\": 576, \"kld\": 0.01, \"kld_unc\": 0.001, \"proxy\": 7},"
    " {\"type\": \"Q6_K\", \"bytes\": 840, \"kld\": 0.001, \"kld_unc\": 0.0002, \"proxy\": 2}]},"
    "{\"name\": \"blk.0.ffn_down.weight\", \"layer\": 0, \"kind\": \"ffn_down\", \"n_elements\": 2048, \"candidates\": ["
    " {\"type\": \"F16\", \"bytes\": 4096, \"kld\": 0, \"kld_unc\": 0, \"proxy\": 0},"
    " {\"type\": \"Q4_K\", \"bytes\": 1152, \"kld\": 0.04, \"kld_unc\": 0.004, \"proxy\": 9},"
    " {\"type\": \"Q6_K\", \"bytes\": 1680, \"kld\": 0.003, \"kld_unc\": 0.0003, \"proxy\": 3}]},"
    "{\"name\": \"blk.1.attn_q.weight\", \"layer\": 1, \"kind\": \"attn_q\", \"n_elements\": 1024, \"candidates\": ["
    " {\"type\": \"F16\", \"bytes\": 2048, \"kld\": 0, \"kld_unc\": 0, \"proxy\": 0},"
    " {\"type\": \"Q4_K\", \"bytes\": 576, \"kld\": 0.005, \"kld_unc\": 0.0005, \"proxy\": 4},"
    " {\"type\": \"Q6_K\", \"bytes\": 840, \"kld\": null, \"kld_unc\": null, \"proxy\": 0.5}]},"
    "{\"name\": \"blk.1.ffn_down.weight\", \"layer\": 1, \"kind\": \"ffn_down\", \"n_elements\": 2048, \"candidates\": ["
    " {\"type\": \"F16\", \"bytes\": 4096, \"kld\": 0, \"kld_unc\": 0, \"proxy\": 0},"
    " {\"type\": \"Q4_K\", \"bytes\": 1152, \"kld\": 0.02, \"kld_unc\": 0.002, \"proxy\": 8},"
    " {\"type\": \"Q6_K\", \"bytes\": 1680, \"kld\": 0.002, \"kld_unc\": 0.0002, \"proxy\": 2.5}]}]}\n";

static char *put_tmp(const char *name, const char *text) {
    char *p = qk_test_tmp_path(name);
    qk_err err;
    ck_assert_msg(qk_afile_write_all(p, text, strlen(text), &err) == 0, "%s", err.msg);
    return p;
}

static bool has_line(const char *text, const char *line) {
    const char *p = strstr(text, line);
    return p && (p == text || p[-1] == '\n') && (p[strlen(line)] == '\n');
}

START_TEST(load_rank_and_tables) {
    char *path = put_tmp("sens.json", FIXTURE);
    qk_sensrep_data d;
    qk_err err;
    ck_assert_msg(qk_sensrep_load(&d, path, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(d.n, 5);
    ck_assert_int_eq(d.n_types, 3);
    ck_assert_str_eq(d.types[0], "F16");
    ck_assert(!d.type_shown[0]);                 /* cost 0: not reported */
    ck_assert(d.type_shown[1] && d.type_kld[1]);  /* Q4_K: KLD */
    ck_assert(d.type_shown[2] && !d.type_kld[2]); /* Q6_K: one KLD missing -> proxy */
    ck_assert_int_eq(d.n_kinds, 3);
    ck_assert_int_eq(d.max_layer, 1);
    int idx[5];
    ck_assert_int_eq(qk_sensrep_rank(&d, 1, idx), 5);
    const char *q4[] = {"blk.0.ffn_down.weight", "blk.1.ffn_down.weight", "blk.0.attn_q.weight",
                        "blk.1.attn_q.weight", "token_embd.weight"};
    for (int i = 0; i < 5; i++) ck_assert_str_eq(d.t[idx[i]].name, q4[i]);
    ck_assert_int_eq(qk_sensrep_rank(&d, 2, idx), 5);
    ck_assert_str_eq(d.t[idx[3]].name, "token_embd.weight"); /* proxy 1 */
    ck_assert_str_eq(d.t[idx[4]].name, "blk.1.attn_q.weight"); /* proxy 0.5 */

    qk_sb md = {0}, csv = {0}, gp = {0};
    qk_sensrep_render_md(&md, &d, 2);
    const char *m = qk_sb_str(&md);
    ck_assert_ptr_nonnull(strstr(m, "## Q4_K: the 2 costliest tensors (of 5)"));
    ck_assert_msg(has_line(m, "| 1 | blk.0.ffn_down.weight | 0 | ffn_down | 4.50 | 0.04 \xc2\xb1 0.004 |"), "%s", m);
    ck_assert_msg(has_line(m, "| 2 | blk.1.ffn_down.weight | 1 | ffn_down | 6.56 | 2.5 |"), "%s", m);
    ck_assert_ptr_null(strstr(m, "## F16"));
    ck_assert_ptr_null(strstr(m, "\n| 3 | ")); /* --top 2 */
    qk_sensrep_render_csv(&csv, &d);
    const char *c = qk_sb_str(&csv);
    ck_assert(has_line(c, "type,rank,tensor,layer,kind,n_elements,bytes,bpw,cost,kld,kld_unc,proxy,kld_est"));
    ck_assert(has_line(c, "Q4_K,5,token_embd.weight,-1,token_embd,4096,2304,4.5,0.002,0.002,0.0002,5,"));
    ck_assert(has_line(c, "Q6_K,5,blk.1.attn_q.weight,1,attn_q,1024,840,6.5625,0.5,,,0.5,"));
    ck_assert_int_eq(qk_test_count_substr(c, "\n"), 11);
    ck_assert(qk_sensrep_render_gp(&gp, &d));
    const char *g = qk_sb_str(&gp);
    /* kind index, layer, cost; the non-layer tensor at layer -1 */
    ck_assert_ptr_nonnull(strstr(g, "$t1 << EOD\n0 -1 0.002\n1 0 0.01\n2 0 0.04\n1 1 0.005\n2 1 0.02\nEOD\n"));
    ck_assert_ptr_null(strstr(g, "$t0 << EOD"));
    ck_assert_ptr_nonnull(strstr(g, "set logscale cb\n"));
    ck_assert_ptr_nonnull(strstr(g, "set cbrange [0.002:0.04]\n")); /* KLD panels */
    ck_assert_ptr_nonnull(strstr(g, "set cbrange [0.5:3]\n"));      /* proxy panels */
    ck_assert_ptr_nonnull(strstr(g, "set multiplot layout 1,2 "));
    ck_assert_ptr_nonnull(strstr(g, "set xtics (\"token_embd\" 0, \"attn_q\" 1, \"ffn_down\" 2)\n"));
    qk_sb_free(&md), qk_sb_free(&csv), qk_sb_free(&gp);
    qk_sensrep_free(&d);
    free(path);
}
END_TEST

/* --mode scaled: a KLD measured at Q4_K, estimated (kld_est) at Q6_K; the Q6_K ranking uses
 * the estimates, in KLD units, marked '*'. */
START_TEST(scaled_mode) {
    char *path = put_tmp("sens-scaled.json",
        "{\"qkit_sensitivity\": 1, \"model\": \"m.gguf\", \"mode\": \"scaled\", \"tensors\": ["
        "{\"name\": \"blk.0.attn_q.weight\", \"layer\": 0, \"kind\": \"attn_q\", \"n_elements\": 1024, \"candidates\": ["
        " {\"type\": \"Q4_K\", \"bytes\": 576, \"kld\": 0.01, \"kld_unc\": 0.001, \"proxy\": 7, \"kld_est\": 0.01},"
        " {\"type\": \"Q6_K\", \"bytes\": 840, \"kld\": null, \"kld_unc\": null, \"proxy\": 2, \"kld_est\": 0.003}]},"
        "{\"name\": \"blk.0.ffn_up.weight\", \"layer\": 0, \"kind\": \"ffn_up\", \"n_elements\": 1024, \"candidates\": ["
        " {\"type\": \"Q4_K\", \"bytes\": 576, \"kld\": 0.02, \"kld_unc\": 0.002, \"proxy\": 6, \"kld_est\": 0.02},"
        " {\"type\": \"Q6_K\", \"bytes\": 840, \"kld\": null, \"kld_unc\": null, \"proxy\": 1, \"kld_est\": 0.004}]}]}");
    qk_sensrep_data d;
    qk_err err;
    ck_assert_msg(qk_sensrep_load(&d, path, &err) == 0, "%s", err.msg);
    ck_assert(d.type_kld[0] && !d.type_est[0]);
    ck_assert(d.type_kld[1] && d.type_est[1]);
    int idx[2];
    ck_assert_int_eq(qk_sensrep_rank(&d, 1, idx), 2);
    ck_assert_str_eq(d.t[idx[0]].name, "blk.0.ffn_up.weight"); /* kld_est 0.004, though its proxy is lower */
    qk_sb md = {0};
    qk_sensrep_render_md(&md, &d, 5);
    ck_assert_ptr_nonnull(strstr(qk_sb_str(&md), "| mean KLD (nats; * estimated) |"));
    ck_assert(has_line(qk_sb_str(&md), "| 1 | blk.0.ffn_up.weight | 0 | ffn_up | 6.56 | 0.004* |"));
    qk_sb_free(&md);
    qk_sensrep_free(&d);
    free(path);
}
END_TEST

START_TEST(bad_files) {
    const char *bad[][2] = {
        {"{\"tensors\": []}", "is not a qk-sensitivity file"},
        {"{\"qkit_sensitivity\": 1, \"tensors\": [{\"layer\": 0, \"candidates\": []}]}", "lacks a name"},
        {"{\"qkit_sensitivity\": 1, \"tensors\": [{\"name\": \"a\", \"layer\": 0.5, \"candidates\": []}]}", "lacks a name"},
        {"{\"qkit_sensitivity\": 1, \"tensors\": [{\"name\": \"a\", \"layer\": 0, \"candidates\": [{\"bytes\": 1}]}]}",
         "has no \"type\""},
        {"not json", "is not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *p = put_tmp("bad-sens.json", bad[i][0]);
        qk_sensrep_data d;
        qk_err err;
        ck_assert_int_eq(qk_sensrep_load(&d, p, &err), -1);
        ck_assert_msg(strstr(err.msg, bad[i][1]) != NULL, "%s: %s", bad[i][0], err.msg);
        free(p);
    }
}
END_TEST

START_TEST(report_tool) {
    char *path = put_tmp("sens-tool.json", FIXTURE), *dir = qk_test_tmp_path("sens-out"), *out = NULL;
    ck_assert_int_eq(qk_file_mkdir_p(dir, NULL), 0);
    int rc = qk_test_run_tool(&out, "qk-report", "--sensitivity %s -o %s --top 3", path, dir);
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "sensitivity.md, sensitivity.csv, sensitivity.gp"));
    free(out);
    char p[4400], gp[4096];
    const char *names[] = {"sensitivity.md", "sensitivity.csv", "sensitivity.gp"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        ck_assert_msg(access(p, R_OK) == 0, "%s", names[i]);
    }
    snprintf(p, sizeof p, "%s/sensitivity.png", dir);
    if (qk_plot_find_gnuplot(gp, sizeof gp)) ck_assert(access(p, R_OK) == 0);
    snprintf(p, sizeof p, "%s/results.md", dir);
    ck_assert(access(p, F_OK) != 0); /* --sensitivity alone: no results table */
    /* a bad file: an error, nothing written */
    char *bad = put_tmp("sens-bad.json", "{}"), *dir2 = qk_test_tmp_path("sens-out2");
    ck_assert_int_eq(qk_file_mkdir_p(dir2, NULL), 0);
    rc = qk_test_run_tool(&out, "qk-report", "--sensitivity %s -o %s", bad, dir2);
    ck_assert_msg(rc == 1 && strstr(out, "qk-report: error: ") && strstr(out, "not a qk-sensitivity file"), "%s", out);
    free(out);
    snprintf(p, sizeof p, "%s/sensitivity.md", dir2);
    ck_assert(access(p, F_OK) != 0);
    free(path), free(dir), free(bad), free(dir2);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("sens_report");
    TCase *tc = tcase_create("sens_report");
    tcase_add_test(tc, load_rank_and_tables);
    tcase_add_test(tc, scaled_mode);
    tcase_add_test(tc, bad_files);
    tcase_add_test(tc, report_tool);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return qk_test_main(suite()); }
