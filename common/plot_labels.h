/*
 * plot_labels.h — point labels that do not collide: where to put each point's label in a
 * scatter chart so that no two labels (and no label and another point's marker) overlap.
 *
 * Geometry, in character cells of the chart's font: the plot area is w_chars wide and
 * h_chars high and shows [x0, x1] × [y0, y1] (log10 axes where logx / logy; the script must
 * set exactly these ranges, see qk_plot_frame_fit). A point's marker is a 1 × 1 cell box
 * around it; its label, left-aligned at offset (dx, dy[i]) cells from the point, is a box
 * len × 1 cells (len = the label's UTF-8 characters) centred vertically on that offset.
 * Labels are placed one by one, left to right (by x), each at the first candidate offset
 * (0.9, −0.9, 1.9, −1.9, … ±4.9 cells) whose box overlaps no label placed before it, no
 * other point's marker and stays inside the plot area; when every candidate overlaps, the
 * one with the least overlapping area. In gnuplot: `set label "TEXT" at X, Y left offset
 * char DX, DY` (qk_plot_gp_label).
 */
#ifndef QK_PLOT_LABELS_H
#define QK_PLOT_LABELS_H

#include <stdbool.h>

#include "fileio.h"

typedef struct qk_plot_frame {
    double x0, x1, y0, y1;   /* axis ranges in data units (x1 > x0, y1 > y0; > 0 when log) */
    bool logx, logy;
    double w_chars, h_chars; /* plot area in character cells */
} qk_plot_frame;

/* Ranges of f that hold every finite point (x[i], y[i] ± unc[i]; unc may be NULL), widened
 * by `margin` (a fraction of the span, in log space on log axes) on each side, the right
 * side by `right` more (room for labels). On a log axis non-positive values are ignored
 * (a lower error bar below zero is cut at half the smallest positive value). A single value
 * gets a span of ±50 % around it (±1 when it is 0). Other fields of f are left alone. */
void qk_plot_frame_fit(qk_plot_frame *f, const double *x, const double *y, const double *unc, int n,
                       double margin, double right);

/* Offsets dy[i] (cells) of n labels text[i] at (x[i], y[i]) drawn dx cells right of their
 * points, as described above. Non-finite points get dy = 0 and take no room. */
void qk_plot_place_labels(const qk_plot_frame *f, const double *x, const double *y, const char *const *text, int n,
                          double dx, double *dy);

/* `set label "TEXT" at X, Y left offset char DX, DY front` + newline; boxed: drawn in
 * the current textbox style (a script that sets `set style textbox opaque noborder`
 * gets labels that stay readable over lines). */
void qk_plot_gp_label(qk_sb *out, const char *text, double x, double y, double dx, double dy, bool boxed);

#endif
