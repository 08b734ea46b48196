/*
 * plot_labels.c — label placement for scatter charts (the geometry: plot_labels.h).
 */
#include "plot_labels.h"

#include <math.h>
#include <stdlib.h>

#include "plot.h"

static double axis_pos(double v, double a, double b, bool lg) {
    if (lg) return (log10(v) - log10(a)) / (log10(b) - log10(a));
    return (v - a) / (b - a);
}

static size_t utf8_len(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Overlap area of boxes [ax0,ax1]×[ay0,ay1] and [bx0,bx1]×[by0,by1]. */
static double overlap(double ax0, double ax1, double ay0, double ay1, double bx0, double bx1, double by0, double by1) {
    const double w = fmin(ax1, bx1) - fmax(ax0, bx0), h = fmin(ay1, by1) - fmax(ay0, by0);
    return w > 0 && h > 0 ? w * h : 0;
}

static void fit_axis(const double *lo, const double *hi, int n, bool lg, double margin, double right, double *a,
                     double *b) {
    double mn = INFINITY, mx = -INFINITY, min_pos = INFINITY;
    for (int i = 0; i < n; i++) {
        if (isfinite(hi[i]) && hi[i] > 0) min_pos = fmin(min_pos, hi[i]);
        if (isfinite(lo[i]) && lo[i] > 0) min_pos = fmin(min_pos, lo[i]);
    }
    for (int i = 0; i < n; i++) {
        double l = lo[i], h = hi[i];
        if (!isfinite(l) || !isfinite(h)) continue;
        if (lg) {
            if (h <= 0) continue;
            if (l <= 0) l = min_pos / 2;
            l = log10(l), h = log10(h);
        }
        mn = fmin(mn, l), mx = fmax(mx, h);
    }
    if (!isfinite(mn)) mn = lg ? -1 : 0, mx = lg ? 1 : 1;
    if (mx - mn <= 0) {
        const double c = mn, half = lg ? log10(1.5) : (c != 0 ? fabs(c) * 0.5 : 1);
        mn = c - half, mx = c + half;
    }
    const double span = mx - mn;
    mn -= margin * span;
    mx += (margin + right) * span;
    *a = lg ? pow(10, mn) : mn;
    *b = lg ? pow(10, mx) : mx;
}

void qk_plot_frame_fit(qk_plot_frame *f, const double *x, const double *y, const double *unc, int n,
                       double margin, double right) {
    double *lo = malloc(sizeof *lo * (size_t)(n > 0 ? n : 1)), *hi = malloc(sizeof *hi * (size_t)(n > 0 ? n : 1));
    if (!lo || !hi) {
        free(lo), free(hi);
        return;
    }
    fit_axis(x, x, n, f->logx, margin, right, &f->x0, &f->x1);
    for (int i = 0; i < n; i++) {
        const double u = unc && isfinite(unc[i]) ? fabs(unc[i]) : 0;
        lo[i] = y[i] - u, hi[i] = y[i] + u;
    }
    fit_axis(lo, hi, n, f->logy, margin, 0, &f->y0, &f->y1);
    free(lo), free(hi);
}

/* Distance (cells) from point (x, y) to the box [x0,x1]×[y0,y1]. */
static double box_dist(double x, double y, double x0, double x1, double y0, double y1) {
    const double ddx = fmax(fmax(x0 - x, 0), x - x1), ddy = fmax(fmax(y0 - y, 0), y - y1);
    return sqrt(ddx * ddx + ddy * ddy);
}

void qk_plot_place_labels(const qk_plot_frame *f, const double *x, const double *y, const char *const *text, int n,
                          double dx, double *dx_out, double *dy) {
    static const double cand[] = {0.9, -0.9, 1.9, -1.9, 2.9, -2.9, 3.9, -3.9, 4.9, -4.9,
                                  5.9, -5.9, 6.9, -6.9, 7.9, -7.9, 8.9, -8.9};
    const int nc = (int)(sizeof cand / sizeof *cand);
    double *px = malloc(sizeof *px * (size_t)(n > 0 ? n : 1) * 2);
    int *ord = malloc(sizeof *ord * (size_t)(n > 0 ? n : 1));
    double *box = malloc(sizeof *box * 4 * (size_t)(n > 0 ? n : 1)); /* placed labels: x0 x1 y0 y1 */
    for (int i = 0; i < n; i++) dy[i] = cand[0], dx_out[i] = dx;
    if (!px || !ord || !box) goto done;
    double *py = px + n;
    int m = 0;
    for (int i = 0; i < n; i++) {
        const bool ok = isfinite(x[i]) && isfinite(y[i]) && (!f->logx || x[i] > 0) && (!f->logy || y[i] > 0);
        px[i] = ok ? axis_pos(x[i], f->x0, f->x1, f->logx) * f->w_chars : NAN;
        py[i] = ok ? axis_pos(y[i], f->y0, f->y1, f->logy) * f->h_chars : NAN;
        if (!ok) {
            dy[i] = 0;
            continue;
        }
        int p = m++; /* insertion sort by x, stable */
        while (p > 0 && px[ord[p - 1]] > px[i]) ord[p] = ord[p - 1], p--;
        ord[p] = i;
    }
    for (int k = 0; k < m; k++) {
        const int i = ord[k];
        const double len = (double)utf8_len(text[i]);
        double best = INFINITY;
        for (int c = 0; c < 2 * nc && best > 0; c++) {
            const double cdy = cand[c / 2], cdx = c % 2 ? -dx : dx; /* right of the point, then left */
            const double bx0 = cdx > 0 ? px[i] + cdx : px[i] + cdx - len, bx1 = bx0 + len;
            const double by0 = py[i] + cdy - 0.5, by1 = by0 + 1;
            double cost = 0;
            for (int q = 0; q < k; q++)
                cost += overlap(bx0, bx1, by0, by1, box[4 * q], box[4 * q + 1], box[4 * q + 2], box[4 * q + 3]);
            const double own = box_dist(px[i], py[i], bx0, bx1, by0, by1);
            for (int j = 0; j < n; j++) {
                if (j == i || !isfinite(px[j])) continue;
                cost += overlap(bx0, bx1, by0, by1, px[j] - 0.5, px[j] + 0.5, py[j] - 0.5, py[j] + 0.5);
                /* nearer to another point than to its own: the reader would pair them wrongly */
                if (box_dist(px[j], py[j], bx0, bx1, by0, by1) < own + 0.3) cost += 0.75;
            }
            /* outside the plot area: as bad as the part that is outside */
            cost += len * (fmax(0, -by0) + fmax(0, by1 - f->h_chars)) + fmax(0, bx1 - f->w_chars) + fmax(0, -bx0);
            if (cost < best) best = cost, dy[i] = cdy, dx_out[i] = cdx;
        }
        const double bx0 = dx_out[i] > 0 ? px[i] + dx_out[i] : px[i] + dx_out[i] - len;
        box[4 * k] = bx0, box[4 * k + 1] = bx0 + len, box[4 * k + 2] = py[i] + dy[i] - 0.5, box[4 * k + 3] = py[i] + dy[i] + 0.5;
    }
done:
    free(px), free(ord), free(box);
}

void qk_plot_gp_label(qk_sb *out, const char *text, double x, double y, double dx, double dy, bool boxed) {
    qk_sb_puts(out, "set label ");
    qk_plot_gp_string(out, text);
    qk_sb_printf(out, " at %.10g, %.10g %s offset char %.2f, %.2f front%s\n", x, y, dx < 0 ? "right" : "left", dx, dy,
                 boxed ? " boxed" : "");
    if (fabs(dy) > 1) /* moved off its point's line: a leader line to the label's near end */
        qk_sb_printf(out, "set arrow from first %.10g, first %.10g rto character %.2f, %.2f nohead lw 0.6 "
                          "lc rgb \"#909090\" back\n",
                     x, y, dx < 0 ? dx + 0.3 : dx - 0.3, dy);
}
