/*
 * frontier_report.c — the size / KLD frontier table and chart (contents: frontier_report.h).
 */
#include "frontier_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "pareto.h"
#include "plot.h"
#include "plot_labels.h"

#define MIB (1024.0 * 1024.0)
#define PM "\xc2\xb1"       /* ± */
#define DASH "\xe2\x80\x94" /* — */
/* The plot area of frontier.png (1000 x 620 pixels, sans 11) in character cells, a little
 * smaller than measured so that labels keep a margin (plot_labels.h). */
#define FRONTIER_W_CHARS 100.0
#define FRONTIER_H_CHARS 30.0

qk_frontier_series qk_frontier_series_of(const qk_report_row *row) {
    if (!strncmp(row->label, QK_FRONTIER_ALLOC_PREFIX, strlen(QK_FRONTIER_ALLOC_PREFIX))) return QK_SERIES_ALLOC;
    return qk_report_is_imatrix(row) ? QK_SERIES_MIXTURE_IMAT : QK_SERIES_MIXTURE;
}

const char *qk_frontier_series_name(qk_frontier_series s) {
    switch (s) {
    case QK_SERIES_ALLOC: return "qkit allocation";
    case QK_SERIES_MIXTURE_IMAT: return "llama.cpp mixture + imatrix";
    default: return "llama.cpp mixture";
    }
}

static int cmp_pts(const void *a, const void *b) {
    const qk_report_row *x = *(const qk_report_row *const *)a, *y = *(const qk_report_row *const *)b;
    if (x->size_bytes != y->size_bytes) return x->size_bytes < y->size_bytes ? -1 : 1;
    return strcmp(x->label, y->label);
}

int qk_frontier_build(qk_frontier *f, const qk_report *r, qk_err *err) {
    *f = (qk_frontier){0};
    const size_t cap = (size_t)r->n + 1;
    f->pts = calloc(cap, sizeof *f->pts);
    f->on_front = calloc(cap, sizeof *f->on_front);
    double *size = calloc(cap, sizeof *size), *cost = calloc(cap, sizeof *cost);
    if (!f->pts || !f->on_front || !size || !cost) {
        free(size), free(cost);
        qk_frontier_free(f);
        return qk_errf(err, "out of memory");
    }
    f->x_bpw = true;
    for (int i = 0; i < r->n; i++) {
        const qk_report_row *w = &r->rows[i];
        if (!w->size_bytes || !w->has_kld || !isfinite(w->mean_kld)) continue;
        f->pts[f->n++] = w;
        if (!(qk_report_bpw(w) > 0)) f->x_bpw = false;
    }
    if (f->n > 1) qsort(f->pts, (size_t)f->n, sizeof *f->pts, cmp_pts);
    for (int i = 0; i < f->n; i++) size[i] = (double)f->pts[i]->size_bytes, cost[i] = f->pts[i]->mean_kld;
    qk_pareto_front(size, cost, f->n, f->on_front);
    free(size), free(cost);
    return 0;
}

void qk_frontier_free(qk_frontier *f) {
    free(f->pts);
    free(f->on_front);
    *f = (qk_frontier){0};
}

static double x_of(const qk_frontier *f, const qk_report_row *w) {
    return f->x_bpw ? qk_report_bpw(w) : (double)w->size_bytes / MIB;
}

/* ---- table -------------------------------------------------------------------------------- */

static void csv_num(qk_sb *out, bool have, double v) {
    qk_sb_puts(out, ",");
    if (have && isfinite(v)) qk_sb_printf(out, "%.10g", v);
}

void qk_frontier_render_csv(qk_sb *out, const qk_frontier *f) {
    qk_sb_puts(out, "label,series,size_bytes,size_mib,bpw,ppl,ppl_unc,bits_per_byte,word_perplexity,"
                    "mean_kld,mean_kld_unc,on_frontier\n");
    for (int i = 0; i < f->n; i++) {
        const qk_report_row *w = f->pts[i];
        /* labels are file-name safe (qk-study) but may come from any file name here */
        if (strpbrk(w->label, ",\"\r\n")) {
            qk_sb_puts(out, "\"");
            for (const char *p = w->label; *p; p++) qk_sb_printf(out, *p == '"' ? "\"\"" : "%c", *p);
            qk_sb_puts(out, "\"");
        } else {
            qk_sb_puts(out, w->label);
        }
        qk_sb_printf(out, ",%s", qk_frontier_series_name(qk_frontier_series_of(w)));
        csv_num(out, true, (double)w->size_bytes);
        csv_num(out, true, (double)w->size_bytes / MIB);
        csv_num(out, qk_report_bpw(w) > 0, qk_report_bpw(w));
        csv_num(out, w->has_ppl, w->ppl);
        csv_num(out, w->has_ppl, w->ppl_unc);
        csv_num(out, w->has_bpb, w->bits_per_byte);
        csv_num(out, w->has_bpb, w->word_ppl);
        csv_num(out, true, w->mean_kld);
        csv_num(out, true, w->mean_kld_unc);
        qk_sb_printf(out, ",%d\n", f->on_front[i] ? 1 : 0);
    }
}

void qk_frontier_render_md(qk_sb *out, const qk_frontier *f) {
    qk_sb_puts(out, "# Quality vs size: llama.cpp's mixtures and qkit's allocations\n\n"
                    "| model | series | size (MiB) | bpw | PPL | bits/byte | mean KLD | on frontier |\n"
                    "|:--|:--|--:|--:|--:|--:|--:|:-:|\n");
    for (int i = 0; i < f->n; i++) {
        const qk_report_row *w = f->pts[i];
        const double mib = (double)w->size_bytes / MIB, bpw = qk_report_bpw(w);
        qk_sb_printf(out, "| %s | %s | %.*f |", w->label, qk_frontier_series_name(qk_frontier_series_of(w)),
                     mib < 10 ? 3 : 1, mib);
        if (bpw > 0) qk_sb_printf(out, " %.2f |", bpw);
        else qk_sb_puts(out, " " DASH " |");
        if (w->has_ppl) qk_sb_printf(out, " %.4f " PM " %.4f |", w->ppl, w->ppl_unc);
        else qk_sb_puts(out, " " DASH " |");
        if (w->has_bpb && isfinite(w->bits_per_byte)) qk_sb_printf(out, " %.4f |", w->bits_per_byte);
        else qk_sb_puts(out, " " DASH " |");
        if (w->mean_kld > 0 && w->mean_kld < 1e-3) qk_sb_printf(out, " %.3e " PM " %.1e |", w->mean_kld, w->mean_kld_unc);
        else qk_sb_printf(out, " %.5f " PM " %.5f |", w->mean_kld, w->mean_kld_unc);
        qk_sb_printf(out, " %s |\n", f->on_front[i] ? "yes" : "no");
    }
    qk_sb_puts(out, "\nNotes:\n\n"
                    "- On frontier: no other model is at most as large and has at most the same mean KLD, "
                    "one of the two strictly less (Pareto dominance on tensor bytes and mean KLD).\n"
                    "- alloc-TYPE: qkit's per-tensor type allocation (qk-quantize --target-size "
                    "--sensitivity) within the tensor bytes of llama.cpp's TYPE mixture.\n"
                    "- TYPE" QK_REPORT_IMAT_SUFFIX ": the mixture quantized with an importance matrix.\n"
                    "- Mean KLD: against the base model's logits on the evaluation text (" PM " standard error); "
                    "bits/byte: total NLL / (ln 2 \xc3\x97 bytes of the text the scored tokens cover).\n");
}

/* ---- chart ------------------------------------------------------------------------------- */

bool qk_frontier_render_gp(qk_sb *out, const qk_frontier *f) {
    if (f->n == 0) return false;
    const int n = f->n;
    double *x = calloc((size_t)n, sizeof *x), *y = calloc((size_t)n, sizeof *y), *u = calloc((size_t)n, sizeof *u),
           *dy = calloc((size_t)n, sizeof *dy), *ldx = calloc((size_t)n, sizeof *ldx);
    const char **text = calloc((size_t)n, sizeof *text);
    if (!x || !y || !u || !dy || !ldx || !text) {
        free(x), free(y), free(u), free(dy), free(ldx), free(text);
        return false;
    }
    bool all_pos = true;
    for (int i = 0; i < n; i++) {
        x[i] = x_of(f, f->pts[i]);
        y[i] = f->pts[i]->mean_kld;
        u[i] = f->pts[i]->mean_kld_unc;
        text[i] = f->pts[i]->label;
        if (!(y[i] > 0)) all_pos = false;
    }
    qk_plot_frame fr = {.logy = all_pos, .w_chars = FRONTIER_W_CHARS, .h_chars = FRONTIER_H_CHARS};
    qk_plot_frame_fit(&fr, x, y, u, n, 0.08, 0.10);
    qk_plot_place_labels(&fr, x, y, text, n, 1.0, ldx, dy);

    qk_plot_gp_preamble(out, "frontier", "mean KLD vs size per quantization recipe, Pareto frontier", 1000, 620);
    static const struct { const char *colour; int pt_front, pt_dom; } style[3] = {
        {"#1f618d", 7, 6}, {"#7d3c98", 5, 4}, {"#c0392b", 9, 8}}; /* circle, square, triangle */
    qk_sb_puts(out, "# columns: size (x), mean KLD, uncertainty, on frontier (1/0)\n");
    int count[3] = {0};
    for (int s = 0; s < 3; s++) {
        qk_sb_printf(out, "$s%d << EOD\n", s);
        for (int i = 0; i < n; i++)
            if ((int)qk_frontier_series_of(f->pts[i]) == s) {
                qk_sb_printf(out, "%.8g %.8g %.8g %d\n", x[i], y[i], u[i], f->on_front[i] ? 1 : 0);
                count[s]++;
            }
        qk_sb_puts(out, "EOD\n");
    }
    qk_sb_puts(out, "# the frontier in size order\n$front << EOD\n");
    for (int i = 0; i < n; i++) /* pts are sorted by size, and on equal sizes kept points tie on KLD */
        if (f->on_front[i]) qk_sb_printf(out, "%.8g %.8g\n", x[i], y[i]);
    qk_sb_puts(out, "EOD\n");
    qk_sb_puts(out, "set title \"Mean KLD vs size (filled: on the Pareto frontier, open: dominated; "
                    "error bars: \xc2\xb1 standard error)\"\n");
    qk_sb_printf(out, "set xlabel \"%s\"\n", f->x_bpw ? "bits per weight (8 \xc3\x97 tensor bytes / parameters)"
                                                       : "model size (MiB of tensor data)");
    qk_sb_puts(out, "set ylabel \"mean KLD from the base (nats)\"\nset grid\nset key top right box opaque\n"
                    "set style textbox opaque noborder margins 0.5, 0.5\n");
    if (all_pos) qk_sb_puts(out, "set logscale y\nset format y \"%g\"\n");
    qk_sb_printf(out, "set xrange [%.10g:%.10g]\nset yrange [%.10g:%.10g]\n", fr.x0, fr.x1, fr.y0, fr.y1);
    for (int i = 0; i < n; i++) qk_plot_gp_label(out, text[i], x[i], y[i], ldx[i], dy[i], true);
    qk_sb_puts(out, "plot $front using 1:2 with lines lw 2 lc rgb \"black\" title \"Pareto frontier\"");
    for (int s = 0; s < 3; s++) {
        if (!count[s]) continue;
        qk_sb_printf(out, ", \\\n     $s%d using 1:($4 > 0 ? $2 : NaN):3 with yerrorbars pt %d ps 1.4 lc rgb \"%s\" title \"%s\"",
                     s, style[s].pt_front, style[s].colour, qk_frontier_series_name((qk_frontier_series)s));
        qk_sb_printf(out, ", \\\n     $s%d using 1:($4 > 0 ? NaN : $2):3 with yerrorbars pt %d ps 1.4 lc rgb \"%s\" notitle",
                     s, style[s].pt_dom, style[s].colour);
    }
    qk_sb_puts(out, "\n");
    free(x), free(y), free(u), free(dy), free(ldx), free(text);
    return true;
}

/* ---- files ------------------------------------------------------------------------------- */

static int write_sb(const char *dir, const char *name, qk_sb *sb, qk_err *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return qk_sb_write_file(sb, path, err);
}

int qk_frontier_write(const qk_report *r, const char *dir, bool run_gnuplot, bool *png, qk_err *err) {
    *png = false;
    qk_frontier f;
    if (qk_frontier_build(&f, r, err) != 0) return -1;
    if (f.n == 0) {
        qk_frontier_free(&f);
        return qk_errf(err, "no model with a mean KLD — the frontier needs qk-perplexity --kl-divergence results");
    }
    qk_sb csv = {0}, md = {0}, gp = {0};
    qk_frontier_render_csv(&csv, &f);
    qk_frontier_render_md(&md, &f);
    const bool have = qk_frontier_render_gp(&gp, &f);
    qk_frontier_free(&f);
    int rc = write_sb(dir, "frontier.csv", &csv, err);
    if (!rc) rc = write_sb(dir, "frontier.md", &md, err);
    else qk_sb_free(&md);
    if (!rc && !have) rc = qk_errf(err, "out of memory");
    if (!rc) rc = write_sb(dir, "frontier.gp", &gp, err);
    else qk_sb_free(&gp);
    char gnuplot[4096];
    if (!rc && run_gnuplot && qk_plot_find_gnuplot(gnuplot, sizeof gnuplot)) {
        rc = qk_plot_run_gnuplot(gnuplot, dir, "frontier", err);
        *png = rc == 0;
    }
    return rc;
}
