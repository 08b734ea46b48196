/*
 * report_plot.h — the case study's charts as gnuplot scripts, and running gnuplot on them.
 *
 *   tg.gp      -> tg.png       generation t/s per model (bars, ± sample sd as error bars)
 *   quality.gp -> quality.png  two panels: model size (MiB) vs mean KLD (log scale when
 *                              every value is > 0), and size vs PPL ratio − 1 (%), each
 *                              point labelled with the model and with its ± as error bar
 *
 * The scripts are self-contained (data in inline datablocks), stay next to the PNGs and
 * can be re-run by hand: `gnuplot tg.gp` in that directory. Each picks the pngcairo
 * terminal when gnuplot has it, else png (libgd) — Debian's gnuplot-nox has both — and
 * writes to the variable `outfile` (default "<name>.png"). qk-report runs
 * `gnuplot -e "outfile='<name>.png.tmp-PID'" <name>.gp` in the output directory and
 * renames the result, so a PNG is either complete or absent.
 *
 * gnuplot is an external program: $QK_GNUPLOT names it (default "gnuplot" in $PATH);
 * when it cannot be found the scripts are still written and no PNG is made (not an error).
 */
#ifndef QK_REPORT_PLOT_H
#define QK_REPORT_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "report_data.h"
#include "fileio.h"

/* Script texts. Each returns false (and appends nothing) when there is nothing to plot:
 * no row with tg results / no row with quality figures. */
bool qk_report_render_tg_gp(qk_sb *out, const qk_report *r);
bool qk_report_render_quality_gp(qk_sb *out, const qk_report *r);

typedef struct qk_plot_result {
    bool tg_script, quality_script; /* .gp written */
    bool tg_png, quality_png;       /* .png produced */
    bool gnuplot_found;
} qk_plot_result;

/* Write the scripts into dir (atomically) and, when run_gnuplot and gnuplot is found, the
 * PNGs. Errors: a write failing, or gnuplot failing on a script (the message quotes
 * gnuplot's first error line). */
int qk_report_write_plots(const qk_report *r, const char *dir, bool run_gnuplot,
                          qk_plot_result *res, qk_err *err);

/* Building blocks, shared with qk-bench-compare's charts (bench_compare_plot.c): */

/* The script header: a comment naming the chart, the terminal choice (pngcairo, else png)
 * at w x h pixels, and `set output outfile` (default "<name>.png"). */
void qk_plot_gp_preamble(qk_sb *out, const char *name, const char *what, int w, int h);
/* A gnuplot string literal in double quotes: '\\' and '"' escaped, newlines dropped. */
void qk_plot_gp_string(qk_sb *out, const char *s);
/* Find gnuplot ($QK_GNUPLOT, default "gnuplot" in $PATH); its path into buf. */
bool qk_plot_find_gnuplot(char *buf, size_t cap);
/* Run gnuplot on dir/<name>.gp making dir/<name>.png through a temporary name (see the top
 * of this file). Errors: gnuplot cannot start or fails (its first error line quoted), or
 * produced no file. */
int qk_plot_run_gnuplot(const char *gnuplot, const char *dir, const char *name, qk_err *err);

#endif
