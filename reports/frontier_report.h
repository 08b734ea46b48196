/*
 * frontier_report.h — quality against size across quantization recipes, with the Pareto
 * frontier (qk-study --frontier, qk-report --frontier): which recipe gives the least KL
 * divergence for its size.
 *
 * Points: the rows of a qk_report (report_data.h) with a size and a finite mean KLD (so not
 * the base). Series, from the label: "alloc-…" qkit's per-tensor allocation at the size of
 * a llama.cpp mixture (qk-quantize --target-size --sensitivity), "…-imat" llama.cpp's
 * mixture with an importance matrix, any other llama.cpp's mixture. The frontier is over all
 * points together, on (tensor bytes, mean KLD), both minimised (pareto.h).
 *
 * Outputs (atomically, into a directory):
 *   frontier.csv  label, series, size_bytes, size_mib, bpw, ppl, ppl_unc, bits_per_byte,
 *                 word_perplexity, mean_kld, mean_kld_unc, on_frontier (1/0); sorted by size;
 *                 numbers %.10g, unknown ones empty
 *   frontier.md   the same as a markdown table (size MiB, bpw 2 decimals, PPL 4, bits/byte 4,
 *                 KLD 5 or %.3e below 0.001; "yes"/"no") and notes
 *   frontier.gp   KLD (log scale when every value is > 0) against bits per weight (MiB when
 *   (+ .png)      a point has no parameter count): one colour and marker per series, filled
 *                 on the frontier and open when dominated, ± as error bars, a black line
 *                 through the frontier's points in size order, labels kept apart
 *                 (common/plot_labels.h)
 */
#ifndef QK_FRONTIER_REPORT_H
#define QK_FRONTIER_REPORT_H

#include <stdbool.h>

#include "fileio.h"
#include "report_data.h"

/* Label prefix of qkit's allocations ("alloc-Q4_K_M": at the size of Q4_K_M). */
#define QK_FRONTIER_ALLOC_PREFIX "alloc-"

typedef enum qk_frontier_series { QK_SERIES_MIXTURE, QK_SERIES_MIXTURE_IMAT, QK_SERIES_ALLOC } qk_frontier_series;

/* The series of a row (from its label, see above) and its name in the outputs. */
qk_frontier_series qk_frontier_series_of(const qk_report_row *row);
const char *qk_frontier_series_name(qk_frontier_series s);

typedef struct qk_frontier {
    const qk_report_row **pts; /* the points, by size ascending (then label) */
    bool *on_front;
    int n;
    bool x_bpw; /* the chart's x: bits per weight (every point has n_params), else MiB */
} qk_frontier;

/* Points and frontier of r. Errors: out of memory. n may be 0 (nothing to report). */
int qk_frontier_build(qk_frontier *f, const qk_report *r, qk_err *err);
void qk_frontier_free(qk_frontier *f);

void qk_frontier_render_csv(qk_sb *out, const qk_frontier *f);
void qk_frontier_render_md(qk_sb *out, const qk_frontier *f);
/* Returns false (appending nothing) when there are no points. */
bool qk_frontier_render_gp(qk_sb *out, const qk_frontier *f);

/* frontier.csv, frontier.md, frontier.gp in dir and, when run_gnuplot and gnuplot is found,
 * frontier.png (*png says whether it was made). Errors: nothing to report (no row with a
 * mean KLD), a write failing, gnuplot failing. */
int qk_frontier_write(const qk_report *r, const char *dir, bool run_gnuplot, bool *png, qk_err *err);

#endif
