/*
 * plot_labels.h — point labels that do not collide: where to put each point's label in a
 * scatter chart so that no two labels (and no label and another point's marker) overlap.
 *
 * Geometry, in character cells of the chart's font: the plot area is w_chars wide and
 * h_chars high and shows [x0, x1] × [y0, y1] (log10 axes where logx / logy; the script must
 * set exactly these ranges, see qk_plot_frame_fit). A point's marker is a 1 × 1 cell box
 * around it; its label, left-aligned at offset (dx, dy[i]) cells from the point, is a box
 * len × 1 cells (len = the label's UTF-8 characters) centred vertically on that offset.
 * Labels are placed one by one, left to right (by x), each at the first candidate — offsets
 * dy = 0.9, −0.9, 1.9, −1.9, … ±8.9 cells, each first right of the point (left-aligned at
 * +dx) then left of it (right-aligned at −dx) — whose box overlaps no label placed before it
 * and no other point's marker, stays inside the plot area, and is not nearer to another
 * point than to its own (which would pair them wrongly); when every candidate fails, the
 * one of least cost (overlapping area, the part outside, 0.75 per nearer point). In gnuplot:
 * `set label "TEXT" at X, Y left|right offset char DX, DY` (qk_plot_gp_label), with a thin
 * leader line from the point when the label is more than one line away from it.
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

/* Offsets (dx_out[i], dy[i]) (cells) of n labels text[i] at (x[i], y[i]), dx > 0 cells from
 * their points, as described above: dx_out[i] is +dx (label right of the point) or −dx (left
 * of it). Non-finite points get (dx, 0) and take no room. */
void qk_plot_place_labels(const qk_plot_frame *f, const double *x, const double *y, const char *const *text, int n,
                          double dx, double *dx_out, double *dy);

/* `set label "TEXT" at X, Y left offset char DX, DY front` (right-aligned when dx < 0) +
 * newline, and when |dy| > 1 a grey leader line from the point towards it; boxed: drawn in
 * the current textbox style (a script that sets `set style textbox opaque noborder`
 * gets labels that stay readable over lines). */
void qk_plot_gp_label(qk_sb *out, const char *text, double x, double y, double dx, double dy, bool boxed);

#endif
