/*
 * bench_compare_plot.c — the gnuplot scripts of qk-bench-compare: pp.gp and tg.gp, qkit's
 * t/s next to the reference's per model and thread count (clustered bars with sample-sd
 * error bars), plus this machine's roofline limit for tg. Contents: bench_compare.h; the
 * script conventions (terminal, outfile variable) are plot.h's.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench_compare.h"
#include "plot.h"

/* A data value, or NaN (gnuplot skips undefined values: no bar). */
static void gp_num(qk_sb *out, double v, bool have) {
    if (have && isfinite(v)) qk_sb_printf(out, " %.6g", v);
    else qk_sb_puts(out, " NaN");
}

bool qk_bench_cmp_render_gp(qk_sb *out, const char *kind, const qk_bench_cmp_set *ours,
                            const qk_bench_cmp_set *ref, const char *ref_name) {
    const bool tg = !strcmp(kind, "tg");
    int n = 0, tokens = 0;
    double lo = INFINITY, hi = 0;
    bool any_roof = false, any_ref = false;
    for (int i = 0; i < ours->n; i++) {
        const qk_bench_cmp_rec *r = &ours->v[i];
        if (tg ? r->n_prompt != 0 : r->n_gen != 0) continue;
        n++;
        tokens = tg ? r->n_gen : r->n_prompt;
        double vals[3] = {r->avg_ts, 0, r->has_roofline ? r->roofline_max_ts : 0};
        int j = qk_bench_cmp_find(ref, r);
        if (j >= 0) vals[1] = ref->v[j].avg_ts;
        any_ref |= j >= 0;
        any_roof |= tg && r->has_roofline;
        for (int k = 0; k < 3; k++)
            if (vals[k] > 0 && (k < 2 || tg)) {
                if (vals[k] < lo) lo = vals[k];
                if (vals[k] > hi) hi = vals[k];
            }
    }
    if (n == 0) return false;
    const bool logy = lo > 0 && hi / lo > 20.0;

    char what[160], title[256];
    snprintf(what, sizeof what, "%s speed, qkit vs %s, per model and thread count",
             tg ? "text generation" : "prompt processing", ref_name);
    qk_plot_gp_preamble(out, kind, what, 1200, 640);
    if (tg)
        snprintf(title, sizeof title, "Text generation (tg%d): qkit vs %s (error bars: sample sd)",
                 tokens, ref_name);
    else
        snprintf(title, sizeof title, "Prompt processing (pp%d): qkit vs %s (error bars: sample sd)",
                 tokens, ref_name);
    qk_sb_puts(out, "set title ");
    qk_plot_gp_string(out, title);
    qk_sb_puts(out,
        "\nset ylabel \"tokens / s\"\n"
        "set style data histograms\n"
        "set style histogram errorbars gap 1 lw 1\n"
        "set style fill solid 0.8 border -1\n"
        "set boxwidth 0.9\n"
        "set xtics rotate by 30 right nomirror\n"
        "set bmargin 9\n"
        "set grid ytics\n"
        "set key top right\n");
    if (logy) qk_sb_printf(out, "set logscale y\nset yrange [%.6g:*]\n", lo / 2);
    else qk_sb_puts(out, "set yrange [0:*]\n");
    qk_sb_puts(out, "# columns: label, qkit t/s, sd, reference t/s, sd, roofline max t/s\n$d << EOD\n");
    for (int i = 0; i < ours->n; i++) {
        const qk_bench_cmp_rec *r = &ours->v[i];
        if (tg ? r->n_prompt != 0 : r->n_gen != 0) continue;
        char label[1100], base[1024];
        qk_bench_cmp_label(r, base, sizeof base);
        snprintf(label, sizeof label, "%s t=%d", base, r->n_threads);
        qk_plot_gp_string(out, label);
        int j = qk_bench_cmp_find(ref, r);
        gp_num(out, r->avg_ts, true);
        gp_num(out, r->stddev_ts, true);
        gp_num(out, j >= 0 ? ref->v[j].avg_ts : 0, j >= 0);
        gp_num(out, j >= 0 ? ref->v[j].stddev_ts : 0, j >= 0);
        gp_num(out, r->roofline_max_ts, tg && r->has_roofline);
        qk_sb_puts(out, "\n");
    }
    /* a series without any value would stop gnuplot ("No valid points"): leave it out */
    qk_sb_puts(out, "EOD\nplot $d using 2:3:xtic(1) title \"qkit\" lc rgb \"#4878a8\"");
    if (any_ref) {
        qk_sb_puts(out, ", \\\n     $d using 4:5 title ");
        qk_plot_gp_string(out, ref_name);
        qk_sb_puts(out, " lc rgb \"#d08030\"");
    }
    if (any_roof)
        qk_sb_puts(out, ", \\\n     $d using 6:(0) title \"roofline max t/s (qkit's machine)\" "
                        "lc rgb \"#b0b0b0\"");
    qk_sb_puts(out, "\n");
    return true;
}
