/*
 * plot.h — what every qkit chart shares (qk-report's and qk-study's, qk-bench-compare's):
 * gnuplot script conventions and running gnuplot.
 *
 * A script is self-contained (data in inline datablocks), stays next to its PNG and can be
 * re-run by hand (`gnuplot NAME.gp` in that directory). It picks the pngcairo terminal when
 * gnuplot has it, else png (libgd) — Debian's gnuplot-nox has both — and writes to the
 * variable `outfile` (default "NAME.png"). qk_plot_run_gnuplot runs
 * `gnuplot -e "outfile='<temporary>'" NAME.gp` in the script's directory and renames the
 * result, so a PNG is either complete or absent.
 *
 * gnuplot is an external program: $QK_GNUPLOT names it (default "gnuplot" in $PATH).
 */
#ifndef QK_PLOT_H
#define QK_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "fileio.h"

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
