/*
 * test_frontier.c — the quality-vs-size frontier: the Pareto front on a hand-checked set,
 * label placement keeping the labels of close points apart (and the quality chart using
 * it), the frontier table, CSV and gnuplot script from hand-made rows, and qk-study
 * --frontier end to end on stories260K (a few seconds), with --resume and its option errors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "afile.h"
#include "fileio.h"
#include "frontier_report.h"
#include "pareto.h"
#include "plot_labels.h"
#include "proc.h"
#include "report_data.h"
#include "report_plot.h"
#include "testutil.h"

#define STORIES "data/models/stories260K/stories260K.gguf"
#define WIKI "data/wikitext-2-raw/wiki.test.raw"
#define CALIB "data/calibration/wiki.test.tail.raw"

static bool has_line(const char *text, const char *line) {
    const char *p = strstr(text, line);
    return p && (p == text || p[-1] == '\n') && (p[strlen(line)] == '\n');
}

/* ---- Pareto front ------------------------------------------------------------------------- */

/* A (1,5) B (2,3) C (2,4) D (3,3) E (4,1) F (4,1) G (0.5,NaN) H (5,2):
 * C is beaten by B (same size, less cost), D by B (same cost, smaller), H by E; E and F tie
 * and both stay; G has no cost and is never on the front (nor does it beat A, though
 * smaller). Front: A, B, E, F. */
START_TEST(pareto_hand_checked) {
    const double size[] = {1, 2, 2, 3, 4, 4, 0.5, 5}, cost[] = {5, 3, 4, 3, 1, 1, NAN, 2};
    const bool want[] = {true, true, false, false, true, true, false, false};
    bool on[8];
    ck_assert_int_eq(qk_pareto_front(size, cost, 8, on), 4);
    for (int i = 0; i < 8; i++) ck_assert_msg(on[i] == want[i], "point %d", i);
    int idx[8];
    ck_assert_int_eq(qk_pareto_order(size, cost, on, 8, idx), 4);
    ck_assert_int_eq(idx[0], 0);
    ck_assert_int_eq(idx[1], 1);
    ck_assert_int_eq(idx[2], 4);
    ck_assert_int_eq(idx[3], 5);
    /* one point is its own front; none is none */
    ck_assert_int_eq(qk_pareto_front(size, cost, 1, on), 1);
    ck_assert_int_eq(qk_pareto_front(size, cost, 0, on), 0);
}
END_TEST

/* ---- labels ------------------------------------------------------------------------------- */

/* The boxes of plot_labels.h, recomputed here, must be pairwise disjoint and clear of the
 * other points' markers. */
static void check_apart(const qk_plot_frame *f, const double *x, const double *y, const char *const *t, int n,
                        const double *dx, const double *dy) {
    double bx[16][4], px[16], py[16];
    for (int i = 0; i < n; i++) {
        px[i] = (f->logx ? log10(x[i] / f->x0) / log10(f->x1 / f->x0) : (x[i] - f->x0) / (f->x1 - f->x0)) * f->w_chars;
        py[i] = (f->logy ? log10(y[i] / f->y0) / log10(f->y1 / f->y0) : (y[i] - f->y0) / (f->y1 - f->y0)) * f->h_chars;
        ck_assert(dx[i] == 1.0 || dx[i] == -1.0);
        const double len = (double)strlen(t[i]);
        bx[i][0] = dx[i] > 0 ? px[i] + 1 : px[i] - 1 - len, bx[i][1] = bx[i][0] + len;
        bx[i][2] = py[i] + dy[i] - 0.5, bx[i][3] = py[i] + dy[i] + 0.5;
        ck_assert(bx[i][2] >= 0 && bx[i][3] <= f->h_chars);
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j) continue;
            const bool lab = bx[i][0] < bx[j][1] && bx[j][0] < bx[i][1] && bx[i][2] < bx[j][3] && bx[j][2] < bx[i][3];
            ck_assert_msg(!lab, "labels %s and %s overlap (dy %g, %g)", t[i], t[j], dy[i], dy[j]);
            const bool mark = bx[i][0] < px[j] + 0.5 && px[j] - 0.5 < bx[i][1] && bx[i][2] < py[j] + 0.5 &&
                              py[j] - 0.5 < bx[i][3];
            ck_assert_msg(!mark, "label %s covers the point of %s", t[i], t[j]);
        }
}

START_TEST(labels_kept_apart) {
    /* quality.png's case: Q4_K_M and Q6_K almost on one spot, and three more close by */
    const double x[] = {5.0, 5.02, 5.05, 5.3, 9.0}, y[] = {5.0, 5.05, 4.95, 5.0, 1.0};
    const char *const t[] = {"Q4_K_M", "Q6_K", "Q5_K_S-imat", "Q3_K_L", "alone"};
    qk_plot_frame f = {.w_chars = 80, .h_chars = 24};
    qk_plot_frame_fit(&f, x, y, NULL, 5, 0.1, 0.0);
    ck_assert(fabs(f.x0 - (5.0 - 0.4)) < 1e-12 && fabs(f.x1 - (9.0 + 0.4)) < 1e-12);
    ck_assert(fabs(f.y0 - (1.0 - 0.405)) < 1e-12 && fabs(f.y1 - (5.05 + 0.405)) < 1e-12);
    double dx[5], dy[5];
    qk_plot_place_labels(&f, x, y, t, 5, 1.0, dx, dy);
    check_apart(&f, x, y, t, 5, dx, dy);
    ck_assert(dy[4] == 0.9 && dx[4] == 1.0); /* a lone point: the first candidate, above right */

    /* log axes: KLD values a decade apart are far, near-equal ones are not */
    const double lx[] = {4.5, 4.5, 4.6, 8.5}, ly[] = {0.1, 0.11, 0.1, 0.001}, u[] = {0.01, 0.01, 0.01, 0.0002};
    const char *const lt[] = {"Q4_K_M", "Q4_K_M-imat", "alloc-Q4_K_M", "Q8_0"};
    qk_plot_frame g = {.logy = true, .w_chars = 100, .h_chars = 30};
    qk_plot_frame_fit(&g, lx, ly, u, 4, 0.08, 0.1);
    ck_assert(g.y0 > 0 && g.y0 < 0.0008 && g.y1 > 0.11);
    qk_plot_place_labels(&g, lx, ly, lt, 4, 1.0, dx, dy);
    check_apart(&g, lx, ly, lt, 4, dx, dy);

    qk_sb sb = {0};
    qk_plot_gp_label(&sb, "Q4_K_M", 4.5, 0.1, 1.0, -1.9, true);
    ck_assert_str_eq(qk_sb_str(&sb), "set label \"Q4_K_M\" at 4.5, 0.1 left offset char 1.00, -1.90 front boxed\n"
                                     "set arrow from first 4.5, first 0.1 rto character 0.70, -1.90 nohead lw 0.6 "
                                     "lc rgb \"#909090\" back\n");
    qk_sb_free(&sb);
    qk_plot_gp_label(&sb, "Q6_K", 2, 3, -1.0, 0.9, false);
    ck_assert_str_eq(qk_sb_str(&sb), "set label \"Q6_K\" at 2, 3 right offset char -1.00, 0.90 front\n");
    qk_sb_free(&sb);
}
END_TEST

/* Rows as report_data.c fills them from qk-perplexity files. */
static qk_report_row row(const char *label, uint64_t bytes, double kld, double unc) {
    qk_report_row w = {0};
    snprintf(w.label, sizeof w.label, "%s", label);
    w.size_bytes = bytes;
    w.n_params = 1000000;
    w.has_ppl = true;
    w.ppl = 10 + kld * 10, w.ppl_unc = 0.5;
    w.has_bpb = true;
    w.bits_per_byte = 1.25, w.word_ppl = 30;
    if (kld >= 0) w.has_kld = true, w.mean_kld = kld, w.mean_kld_unc = unc, w.quality_src = "exact";
    return w;
}

/* The quality chart sets one label per point with its own offset: two points at the same
 * size and nearly the same KLD get different offsets. */
START_TEST(quality_chart_labels) {
    qk_report_row rows[] = {row("F16", 2000000, -1, 0), row("Q6_K", 820000, 0.0101, 0.001),
                            row("Q4_K_M", 821000, 0.0100, 0.001), row("Q2_K", 400000, 0.3, 0.01)};
    rows[0].is_base = true;
    qk_report r = {rows, 4, 4};
    qk_sb gp = {0};
    ck_assert(qk_report_render_quality_gp(&gp, &r));
    const char *s = qk_sb_str(&gp);
    const char *a = strstr(s, "set label \"Q6_K\" at "), *b = strstr(s, "set label \"Q4_K_M\" at ");
    ck_assert(a && b);
    const char *oa = strstr(a, "offset char "), *ob = strstr(b, "offset char ");
    ck_assert(strncmp(oa, ob, strcspn(oa, "\n")) != 0); /* different offsets */
    ck_assert_ptr_nonnull(strstr(s, "set xrange ["));
    ck_assert_ptr_null(strstr(s, "with labels")); /* no fixed-offset label series left */
    ck_assert_int_eq(qk_test_count_substr(s, "unset label\nunset arrow\n"), 2);
    /* the ratio panel: the base as a dashed line at 0, out of the x range of the quants */
    ck_assert_ptr_nonnull(strstr(s, "set arrow from graph 0, first 0 to graph 1, first 0 nohead dt 2"));
    ck_assert_ptr_nonnull(strstr(s, "set title \"Perplexity ratio to the base (F16: the dashed line at 0)\"\n"));
    ck_assert_ptr_null(strstr(s, "set label \"F16\""));
    qk_sb_free(&gp);
}
END_TEST

/* ---- frontier table and chart ------------------------------------------------------------- */

/* Sizes (bytes) and KLDs:    base 2000000 —
 *   Q2_K 400000 0.30   Q2_K-imat 400000 0.25   alloc-Q2_K 399000 0.20      front: alloc-Q2_K
 *   Q4_K_M 600000 0.05 Q4_K_M-imat 600000 0.04 alloc-Q4_K_M 598000 0.045   front: alloc-Q4_K_M, Q4_K_M-imat
 *   Q6_K 820000 0.01                                                        front: Q6_K
 * Q2_K and Q2_K-imat are beaten by alloc-Q2_K (smaller, less KLD), Q4_K_M by both others. */
START_TEST(frontier_table_and_chart) {
    qk_report_row rows[] = {row("F16", 2000000, -1, 0),         row("Q2_K", 400000, 0.30, 0.01),
                            row("Q2_K-imat", 400000, 0.25, 0.01), row("alloc-Q2_K", 399000, 0.20, 0.01),
                            row("Q4_K_M", 600000, 0.05, 0.002),  row("Q4_K_M-imat", 600000, 0.04, 0.002),
                            row("alloc-Q4_K_M", 598000, 0.045, 0.002), row("Q6_K", 820000, 0.01, 0.001)};
    rows[0].is_base = true;
    qk_report r = {rows, 8, 8};
    qk_frontier f;
    qk_err err;
    ck_assert_int_eq(qk_frontier_build(&f, &r, &err), 0);
    ck_assert_int_eq(f.n, 7); /* not the base */
    ck_assert(f.x_bpw);
    const char *order[] = {"alloc-Q2_K", "Q2_K", "Q2_K-imat", "alloc-Q4_K_M", "Q4_K_M", "Q4_K_M-imat", "Q6_K"};
    const bool front[] = {true, false, false, true, false, true, true};
    for (int i = 0; i < 7; i++) {
        ck_assert_str_eq(f.pts[i]->label, order[i]);
        ck_assert_msg(f.on_front[i] == front[i], "%s", order[i]);
    }
    ck_assert_int_eq(qk_frontier_series_of(f.pts[0]), QK_SERIES_ALLOC);
    ck_assert_int_eq(qk_frontier_series_of(f.pts[2]), QK_SERIES_MIXTURE_IMAT);
    ck_assert_int_eq(qk_frontier_series_of(f.pts[1]), QK_SERIES_MIXTURE);

    qk_sb md = {0}, csv = {0}, gp = {0};
    qk_frontier_render_md(&md, &f);
    const char *m = qk_sb_str(&md);
    ck_assert_msg(has_line(m, "| alloc-Q2_K | qkit allocation | 0.381 | 3.19 | 12.0000 \xc2\xb1 0.5000 | 1.2500 | "
                              "0.20000 \xc2\xb1 0.01000 | yes |"), "%s", m);
    ck_assert_msg(has_line(m, "| Q4_K_M | llama.cpp mixture | 0.572 | 4.80 | 10.5000 \xc2\xb1 0.5000 | 1.2500 | "
                              "0.05000 \xc2\xb1 0.00200 | no |"), "%s", m);
    qk_frontier_render_csv(&csv, &f);
    const char *c = qk_sb_str(&csv);
    const char *head = "label,series,size_bytes,size_mib,bpw,ppl,ppl_unc,bits_per_byte,word_perplexity,"
                       "mean_kld,mean_kld_unc,on_frontier\n";
    ck_assert(!strncmp(c, head, strlen(head)));
    ck_assert_ptr_nonnull(strstr(c, "\nQ4_K_M-imat,llama.cpp mixture + imatrix,600000,0.5722045898,4.8,10.4,0.5,1.25,30,0.04,0.002,1\n"));
    ck_assert_int_eq(qk_test_count_substr(c, "\n"), 8);
    ck_assert(qk_frontier_render_gp(&gp, &f));
    const char *g = qk_sb_str(&gp);
    /* the frontier line in size order: alloc-Q2_K, alloc-Q4_K_M, Q4_K_M-imat, Q6_K */
    ck_assert_ptr_nonnull(strstr(g, "$front << EOD\n3.192 0.2\n4.784 0.045\n4.8 0.04\n6.56 0.01\nEOD\n"));
    ck_assert_ptr_nonnull(strstr(g, "$s2 << EOD\n3.192 0.2 0.01 1\n4.784 0.045 0.002 1\nEOD\n"));
    ck_assert_ptr_nonnull(strstr(g, "set logscale y\n"));
    ck_assert_int_eq(qk_test_count_substr(g, "set label \""), 7);
    ck_assert_ptr_nonnull(strstr(g, "title \"qkit allocation\""));
    ck_assert_ptr_nonnull(strstr(g, "title \"Pareto frontier\""));
    qk_sb_free(&md), qk_sb_free(&csv), qk_sb_free(&gp);
    qk_frontier_free(&f);

    /* the files, and the PNG when gnuplot is installed */
    char *dir = qk_test_tmp_path("frontier-files");
    ck_assert_int_eq(qk_file_mkdir_p(dir, NULL), 0);
    bool png = false;
    ck_assert_msg(qk_frontier_write(&r, dir, true, &png, &err) == 0, "%s", err.msg);
    char gpbin[4096], path[4400];
    const char *names[] = {"frontier.md", "frontier.csv", "frontier.gp"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        ck_assert_msg(access(path, R_OK) == 0, "%s", names[i]);
    }
    snprintf(path, sizeof path, "%s/frontier.png", dir);
    ck_assert(png == qk_plot_find_gnuplot(gpbin, sizeof gpbin));
    ck_assert(png == (access(path, R_OK) == 0));
    free(dir);
    /* nothing with a KLD: an error, no files */
    qk_report only_base = {rows, 1, 1};
    char *dir2 = qk_test_tmp_path("frontier-none");
    ck_assert_int_eq(qk_file_mkdir_p(dir2, NULL), 0);
    ck_assert_int_eq(qk_frontier_write(&only_base, dir2, false, &png, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "no model with a mean KLD"));
    snprintf(path, sizeof path, "%s/frontier.md", dir2);
    ck_assert(access(path, F_OK) != 0);
    free(dir2);
}
END_TEST

/* ---- qk-study --frontier ------------------------------------------------------------------ */

START_TEST(study_frontier_end_to_end) {
    char *model = qk_test_shared_dup(STORIES), *text = qk_test_shared_dup(WIKI), *calib = qk_test_shared_dup(CALIB);
    char *dir = qk_test_tmp_path("study-frontier"), *out = NULL;
    char sens[4200];
    snprintf(sens, sizeof sens, "%s/qk-sensitivity", QK_BIN_DIR);
    const bool allocs = access(sens, X_OK) == 0;
    const char *args = "--types Q2_K,Q4_K_M -c 128 --chunks 4 -t 2 --imatrix-chunks 4 --sensitivity-chunks 1 --sensitivity-mode scaled --no-plots";
    int rc = qk_test_run_tool(&out, "qk-study", "--frontier -m %s -f %s -o %s --imatrix-text %s %s", model, text, dir,
                              calib, args);
    ck_assert_msg(rc == 0, "qk-study --frontier failed: %s", out);
    ck_assert_ptr_null(strstr(out, "bench "));
    if (allocs) {
        ck_assert_ptr_nonnull(strstr(out, "quantize alloc-Q4_K_M-imat: done"));
    } else {
        ck_assert_ptr_nonnull(strstr(out, "qk-sensitivity not found next to qk-study"));
    }
    free(out);
    char path[4400];
    const char *files[] = {"frontier.md", "frontier.csv", "frontier.gp", "results.md", "quality.gp", "ppl/Q2_K.json",
                           "ppl/Q4_K_M-imat.json", "logs/report.log"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        ck_assert_msg(access(path, R_OK) == 0, "missing %s", files[i]);
    }
    snprintf(path, sizeof path, "%s/bench.csv", dir);
    ck_assert(access(path, F_OK) != 0); /* no speed step */
    snprintf(path, sizeof path, "%s/frontier.csv", dir);
    char *csv = qk_test_read_file(path, NULL);
    ck_assert_ptr_nonnull(csv);
    ck_assert_int_eq(qk_test_count_substr(csv, "\n"), 1 + 4 + (allocs ? 2 : 0));
    ck_assert_ptr_nonnull(strstr(csv, "\nQ4_K_M-imat,llama.cpp mixture + imatrix,"));
    ck_assert(qk_test_count_substr(csv, ",1\n") >= 1); /* something is on the frontier */
    free(csv);
    /* every model's bits per byte reached the table */
    snprintf(path, sizeof path, "%s/frontier.md", dir);
    char *md = qk_test_read_file(path, NULL);
    ck_assert_ptr_nonnull(strstr(md, "| Q2_K | llama.cpp mixture |"));
    ck_assert_ptr_null(strstr(md, "\xe2\x80\x94")); /* no missing figure */
    free(md);

    /* --resume: only the report runs again */
    rc = qk_test_run_tool(&out, "qk-study", "--frontier -m %s -f %s -o %s --imatrix-text %s %s --resume", model, text,
                          dir, calib, args);
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "quantize Q2_K: skipped"));
    ck_assert_ptr_nonnull(strstr(out, "perplexity + KLD Q4_K_M-imat: skipped"));
    if (allocs) ck_assert_ptr_nonnull(strstr(out, "quantize alloc-Q2_K-imat: skipped"));
    ck_assert_ptr_null(strstr(out, "quantize Q2_K: done"));
    ck_assert_ptr_nonnull(strstr(out, "report: done"));
    free(out);

    /* option errors, before any step */
    const char *bad[][2] = {
        {"--calibration %s", "--calibration is used only with --frontier"},
        {"--frontier --calibration %s --sensitivity /nonexistent.json", "exclude each other"},
        {"--frontier --sensitivity /nonexistent/s.json", "sensitivity file '/nonexistent/s.json' not found"},
        {"--frontier --sensitivity-mode exact", "--sensitivity-mode must be kld, scaled or proxy"},
        {"--frontier --sensitivity-mode kld", "needs a calibration text"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char extra[8400];
        snprintf(extra, sizeof extra, bad[i][0], calib);
        rc = qk_test_run_tool(&out, "qk-study", "-m %s -f %s -o %s-bad %s", model, text, dir, extra);
        ck_assert_msg(rc == 1 && strstr(out, bad[i][1]) && !strstr(out, "[1/"), "%s: %s", extra, out);
        free(out);
    }
    rc = qk_test_run_tool(&out, "qk-study", "--frontier -m %s -f %s -o %s-bad --calibration %s", model, text, dir, text);
    ck_assert_msg(rc == 1 && strstr(out, "is the evaluation text"), "%s", out);
    free(out);
    free(model), free(text), free(calib), free(dir);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("frontier");
    TCase *unit = tcase_create("unit");
    tcase_add_test(unit, pareto_hand_checked);
    tcase_add_test(unit, labels_kept_apart);
    tcase_add_test(unit, quality_chart_labels);
    tcase_add_test(unit, frontier_table_and_chart);
    suite_add_tcase(s, unit);
    TCase *tool = tcase_create("tool");
    tcase_add_test(tool, study_frontier_end_to_end);
    suite_add_tcase(s, tool);
    return s;
}

int main(void) { return qk_test_main(suite()); }
