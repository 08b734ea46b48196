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

#define MIB (1024.0 * 1024.0)

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

bool qk_report_render_quality_gp(qk_sb *out, const qk_report *r) {
    int n_kld = 0, n_ratio = 0;
    bool all_pos = true;
    for (int i = 0; i < r->n; i++) {
        const qk_report_row *w = &r->rows[i];
        if (!w->size_bytes) continue;
        if (w->has_kld && isfinite(w->mean_kld)) {
            n_kld++;
            if (!(w->mean_kld > 0)) all_pos = false;
        }
        if ((w->has_kld && isfinite(w->ppl_ratio)) || (w->is_base && w->has_ppl)) n_ratio++;
    }
    if (n_kld == 0) return false;
    qk_plot_gp_preamble(out, "quality", "model size vs mean KLD and vs PPL ratio", 1200, 520);
    qk_sb_puts(out, "# columns: model, size (MiB), value, uncertainty\n$kld << EOD\n");
    for (int i = 0; i < r->n; i++) {
        const qk_report_row *w = &r->rows[i];
        if (!w->size_bytes || !w->has_kld || !isfinite(w->mean_kld)) continue;
        qk_plot_gp_string(out, w->label);
        qk_sb_printf(out, " %.6g %.8g %.8g\n", (double)w->size_bytes / MIB, w->mean_kld,
                     w->mean_kld_unc);
    }
    qk_sb_puts(out, "EOD\n$ratio << EOD\n");
    for (int i = 0; i < r->n; i++) {
        const qk_report_row *w = &r->rows[i];
        if (!w->size_bytes) continue;
        if (w->has_kld && isfinite(w->ppl_ratio)) {
            qk_plot_gp_string(out, w->label);
            qk_sb_printf(out, " %.6g %.8g %.8g\n", (double)w->size_bytes / MIB,
                         (w->ppl_ratio - 1.0) * 100.0, w->ppl_ratio_unc * 100.0);
        } else if (w->is_base && w->has_ppl) {
            qk_plot_gp_string(out, w->label);
            qk_sb_printf(out, " %.6g 0 0\n", (double)w->size_bytes / MIB);
        }
    }
    qk_sb_puts(out, "EOD\n"
                    "set multiplot layout 1,2 title \"Quality vs size (error bars: \xc2\xb1 uncertainty)\"\n"
                    "set grid\n"
                    "set key off\n"
                    "set xlabel \"model size (MiB)\"\n"
                    "set offsets graph 0.08, graph 0.08, graph 0.1, graph 0.1\n"
                    "set title \"Mean KL divergence from the base\"\n"
                    "set ylabel \"mean KLD (nats)\"\n");
    if (all_pos) qk_sb_puts(out, "set logscale y\nset format y \"%g\"\n");
    qk_sb_puts(out,
        "plot $kld using 2:3:4 with yerrorbars pt 7 ps 1.2 lc rgb \"#b03a2e\", \\\n"
        "     $kld using 2:3:1 with labels offset 1.5,0.8 left\n"
        "unset logscale y\n"
        "set format y \"% h\"\n"
        "set title \"Perplexity ratio to the base\"\n"
        "set ylabel \"PPL ratio \xe2\x88\x92 1 (%)\"\n");
    if (n_ratio > 0)
        qk_sb_puts(out,
            "plot $ratio using 2:3:4 with yerrorbars pt 7 ps 1.2 lc rgb \"#1f618d\", \\\n"
            "     $ratio using 2:3:1 with labels offset 1.5,0.8 left\n");
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
