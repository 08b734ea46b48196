/*
 * report_plot.c — gnuplot scripts for tg.png and quality.png, and running gnuplot.
 * Chart contents and the run protocol: report_plot.h.
 */
#include "report_plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "plot_labels.h"

#define MIB (1024.0 * 1024.0)
/* The plot area of one quality panel (600 x 520 pixels, sans 11) in character cells, a
 * little smaller than measured so that labels keep a margin (plot_labels.h). */
#define QUALITY_PANEL_W_CHARS 56.0
#define QUALITY_PANEL_H_CHARS 22.0

bool qk_report_render_tg_gp(qk_sb *out, const qk_report *r) {
    int n = 0, tokens = 0, threads = 0;
    for (int i = 0; i < r->n; i++)
        if (r->rows[i].has_tg) {
            n++;
            tokens = r->rows[i].tg_tokens;
            threads = r->rows[i].tg_threads;
        }
    if (n == 0) return false;
    qk_plot_gp_preamble(out, "tg", "text generation speed per model, bar chart", 900, 540);
    qk_sb_printf(out,
        "set title \"Text generation speed (tg%d, %d thread%s; error bars: sample sd)\"\n"
        "set ylabel \"tokens / s\"\n"
        "set xlabel \"model\"\n"
        "set yrange [0:*]\n"
        "set offsets 0, 0, graph 0.1, 0\n"
        "set xrange [-0.6:%d.6]\n"
        "set style fill solid 0.7 border -1\n"
        "set boxwidth 0.6\n"
        "set grid ytics\n"
        "set key off\n"
        "# columns: index, model, t/s, sd\n"
        "$tg << EOD\n",
        tokens, threads, threads == 1 ? "" : "s", n - 1);
    int k = 0;
    for (int i = 0; i < r->n; i++) {
        const qk_report_row *w = &r->rows[i];
        if (!w->has_tg) continue;
        qk_sb_printf(out, "%d ", k++);
        qk_plot_gp_string(out, w->label);
        qk_sb_printf(out, " %.6g %.6g\n", w->tg_ts, w->tg_ts_sd);
    }
    qk_sb_puts(out,
        "EOD\n"
        "plot $tg using 1:3:xtic(2) with boxes lc rgb \"#4878a8\", \\\n"
        "     $tg using 1:3:4 with yerrorbars lc rgb \"black\" pt 0, \\\n"
        "     $tg using 1:($3+$4):(sprintf(\"%.1f\", $3)) with labels offset 0,0.8\n");
    return true;
}

/* The figure of one row in a quality panel (kld: mean KLD; else PPL ratio − 1 in %, the base
 * at 0) and its uncertainty; false when the row has none. */
static bool quality_value(const qk_report_row *w, bool kld, double *v, double *u) {
    if (!w->size_bytes) return false;
    if (kld && w->has_kld && isfinite(w->mean_kld)) *v = w->mean_kld, *u = w->mean_kld_unc;
    else if (!kld && w->has_kld && isfinite(w->ppl_ratio)) *v = (w->ppl_ratio - 1.0) * 100.0, *u = w->ppl_ratio_unc * 100.0;
    else if (!kld && w->is_base && w->has_ppl) *v = 0, *u = 0;
    else return false;
    return true;
}

/* One data block of the quality chart: "label size value unc" for every row of one series
 * (imatrix or not) with a size and the figure. Returns the number of points. */
static int quality_block(qk_sb *out, const qk_report *r, const char *name, bool kld, bool imatrix) {
    int n = 0;
    qk_sb_printf(out, "$%s << EOD\n", name);
    for (int i = 0; i < r->n; i++) {
        const qk_report_row *w = &r->rows[i];
        double v, u;
        if (qk_report_is_imatrix(w) != imatrix || !quality_value(w, kld, &v, &u)) continue;
        qk_plot_gp_string(out, w->label);
        qk_sb_printf(out, " %.6g %.8g %.8g\n", (double)w->size_bytes / MIB, v, u);
        n++;
    }
    qk_sb_puts(out, "EOD\n");
    return n;
}

/* Ranges and point labels of one panel (both series): explicit ranges, so that the labels
 * placed by qk_plot_place_labels (plot_labels.h) keep apart where gnuplot draws them. */
static void quality_labels(qk_sb *out, const qk_report *r, bool kld, bool logy) {
    const int n = r->n;
    double *x = calloc((size_t)n + 1, sizeof *x), *y = calloc((size_t)n + 1, sizeof *y),
           *u = calloc((size_t)n + 1, sizeof *u), *dy = calloc((size_t)n + 1, sizeof *dy), *ldx = calloc((size_t)n + 1, sizeof *ldx);
    const char **text = calloc((size_t)n + 1, sizeof *text);
    if (!x || !y || !u || !dy || !ldx || !text) goto done;
    /* the ratio panel leaves the base out of its ranges when there are quantized points: its
     * ratio is 0 by definition (a dashed line), and its size would squeeze them together */
    int m = 0, n_quant = 0;
    const char *base = NULL;
    for (int i = 0; i < n; i++) n_quant += !r->rows[i].is_base && r->rows[i].has_kld;
    for (int i = 0; i < n; i++) {
        const qk_report_row *w = &r->rows[i];
        if (!quality_value(w, kld, &y[m], &u[m])) continue;
        if (!kld && w->is_base && n_quant > 0) {
            base = w->label;
            continue;
        }
        x[m] = (double)w->size_bytes / MIB;
        text[m++] = w->label;
    }
    qk_plot_frame f = {.logy = logy, .w_chars = QUALITY_PANEL_W_CHARS, .h_chars = QUALITY_PANEL_H_CHARS};
    qk_plot_frame_fit(&f, x, y, u, m, 0.08, 0.12);
    if (base) f.y0 = fmin(f.y0, -0.05 * (f.y1 - f.y0)), f.y1 = fmax(f.y1, 0.05 * (f.y1 - f.y0)); /* 0 in view */
    qk_plot_place_labels(&f, x, y, text, m, 1.0, ldx, dy);
    qk_sb_printf(out, "set xrange [%.10g:%.10g]\nset yrange [%.10g:%.10g]\nunset label\nunset arrow\n", f.x0, f.x1, f.y0, f.y1);
    for (int i = 0; i < m; i++) qk_plot_gp_label(out, text[i], x[i], y[i], ldx[i], dy[i], false);
    if (base) {
        qk_sb_puts(out, "set arrow from graph 0, first 0 to graph 1, first 0 nohead dt 2 lc rgb \"#606060\" back\n"
                        "set title ");
        char what[200];
        snprintf(what, sizeof what, "Perplexity ratio to the base (%s: the dashed line at 0)", base);
        qk_plot_gp_string(out, what);
        qk_sb_puts(out, "\n");
    }
done:
    free(x), free(y), free(u), free(dy), free(ldx), free(text);
}

/* The plot command of one panel: the series without an imatrix and, when present, the one
 * with (another colour and marker); the labels are set by quality_labels. */
static void quality_plot(qk_sb *out, const char *block, const char *colour, int n_plain, int n_imat) {
    const char *sep = "plot";
    if (n_plain > 0) {
        qk_sb_printf(out, "%s $%s using 2:3:4 with yerrorbars pt 7 ps 1.2 lc rgb \"%s\" title \"without imatrix\"",
                     sep, block, colour);
        sep = ", \\\n    ";
    }
    if (n_imat > 0)
        qk_sb_printf(out, "%s $%si using 2:3:4 with yerrorbars pt 5 ps 1.1 lc rgb \"#7d3c98\" title \"with imatrix\"",
                     sep, block);
    qk_sb_puts(out, "\n");
}

bool qk_report_render_quality_gp(qk_sb *out, const qk_report *r) {
    bool all_pos = true;
    int n_kld = 0, n_imat = 0;
    for (int i = 0; i < r->n; i++) {
        const qk_report_row *w = &r->rows[i];
        if (!w->size_bytes || !w->has_kld || !isfinite(w->mean_kld)) continue;
        n_kld++;
        n_imat += qk_report_is_imatrix(w);
        if (!(w->mean_kld > 0)) all_pos = false;
    }
    if (n_kld == 0) return false;
    qk_plot_gp_preamble(out, "quality", "model size vs mean KLD and vs PPL ratio", 1200, 520);
    qk_sb_puts(out, "# columns: model, size (MiB), value, uncertainty\n");
    const int k_plain = quality_block(out, r, "kld", true, false), k_imat = quality_block(out, r, "kldi", true, true);
    const int r_plain = quality_block(out, r, "ratio", false, false), r_imat = quality_block(out, r, "ratioi", false, true);
    qk_sb_puts(out, "set multiplot layout 1,2 title \"Quality vs size (error bars: \xc2\xb1 uncertainty)\"\n"
                    "set grid\n");
    /* one legend (left panel) when there are two series */
    qk_sb_puts(out, n_imat > 0 ? "set key top right box opaque\n" : "set key off\n");
    qk_sb_puts(out, "set xlabel \"model size (MiB)\"\n"
                    "set title \"Mean KL divergence from the base\"\n"
                    "set ylabel \"mean KLD (nats)\"\n");
    if (all_pos) qk_sb_puts(out, "set logscale y\nset format y \"%g\"\n");
    quality_labels(out, r, true, all_pos);
    quality_plot(out, "kld", "#b03a2e", k_plain, k_imat);
    qk_sb_puts(out, "set key off\n"
                    "unset logscale y\n"
                    "set format y \"% h\"\n"
                    "set title \"Perplexity ratio to the base\"\n"
                    "set ylabel \"PPL ratio \xe2\x88\x92 1 (%)\"\n");
    quality_labels(out, r, false, false);
    if (r_plain + r_imat > 0) quality_plot(out, "ratio", "#1f618d", r_plain, r_imat);
    qk_sb_puts(out, "unset multiplot\n");
    return true;
}

int qk_report_write_plots(const qk_report *r, const char *dir, bool run_gnuplot,
                          qk_plot_result *res, qk_err *err) {
    memset(res, 0, sizeof *res);
    char gp_path[4096];
    res->gnuplot_found = qk_plot_find_gnuplot(gp_path, sizeof gp_path);

    struct { const char *name; bool (*render)(qk_sb *, const qk_report *); bool *script, *png; }
    charts[2] = {
        {"tg", qk_report_render_tg_gp, &res->tg_script, &res->tg_png},
        {"quality", qk_report_render_quality_gp, &res->quality_script, &res->quality_png},
    };
    for (int c = 0; c < 2; c++) {
        qk_sb sb = {0};
        bool have = charts[c].render(&sb, r);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.gp", dir, charts[c].name);
        if (have) {
            if (!qk_sb_ok(&sb)) {
                qk_sb_free(&sb);
                return qk_errf(err, "out of memory");
            }
            if (qk_afile_write_all(path, qk_sb_str(&sb), sb.len, err) != 0) {
                qk_sb_free(&sb);
                return -1;
            }
            *charts[c].script = true;
            if (run_gnuplot && res->gnuplot_found) {
                if (qk_plot_run_gnuplot(gp_path, dir, charts[c].name, err) != 0) {
                    qk_sb_free(&sb);
                    return -1;
                }
                *charts[c].png = true;
            }
        }
        qk_sb_free(&sb);
    }
    return 0;
}
