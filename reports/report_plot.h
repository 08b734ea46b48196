/*
 * report_plot.h — the case study's charts as gnuplot scripts, and running gnuplot on them.
 *
 *   tg.gp      -> tg.png       generation t/s per model (bars, ± sample sd as error bars)
 *   quality.gp -> quality.png  two panels: model size (MiB) vs mean KLD (log scale when
 *                              every value is > 0), and size vs PPL ratio − 1 (%), each
 *                              point labelled with the model (labels kept apart:
 *                              common/plot_labels.h) and with its ± as error bar; the
 *                              ratio panel draws the base as a dashed line at 0 (its
 *                              ranges are those of the quantized models)
 *
 * Script conventions (self-contained, re-runnable, pngcairo else png, `outfile`) and the way
 * gnuplot is run (through a temporary, so a PNG is complete or absent; $QK_GNUPLOT) are
 * common/plot.h's. When gnuplot cannot be found the scripts are still written and no PNG is
 * made (not an error).
 */
#ifndef QK_REPORT_PLOT_H
#define QK_REPORT_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "fileio.h"
#include "plot.h"
#include "report_data.h"

/* Script texts. Each returns false (and appends nothing) when there is nothing to plot:
 * no row with tg results / no row with quality figures. */
bool qk_report_render_tg_gp(qk_sb *out, const qk_report *r);
bool qk_report_render_quality_gp(qk_sb *out, const qk_report *r);

typedef struct qk_plot_result {
    bool tg_script, quality_script; /* .gp written */
    bool tg_png, quality_png;       /* .png produced */
    bool frontier_png;              /* frontier.png produced (qk-report --frontier) */
    bool gnuplot_found;
} qk_plot_result;

/* Write the scripts into dir (atomically) and, when run_gnuplot and gnuplot is found, the
 * PNGs. Errors: a write failing, or gnuplot failing on a script (the message quotes
 * gnuplot's first error line). */
int qk_report_write_plots(const qk_report *r, const char *dir, bool run_gnuplot,
                          qk_plot_result *res, qk_err *err);

#endif
