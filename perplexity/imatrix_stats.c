/*
 * imatrix_stats.c — the figures and tables of qk-imatrix --show-statistics (definitions
 * in imatrix_stats.h).
 */
#include "imatrix_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* N of a name starting "blk.N.", else -1. */
static int32_t layer_of(const char *name) {
    if (strncmp(name, "blk.", 4) != 0) return -1;
    const char *p = name + 4;
    int64_t v = 0;
    if (*p < '0' || *p > '9') return -1;
    while (*p >= '0' && *p <= '9' && v < INT32_MAX) v = v * 10 + (*p++ - '0');
    return *p == '.' && v < INT32_MAX ? (int32_t)v : -1;
}

/* The tensor's kind, llama.cpp's process_tensor_name: the component before ".weight"
 * ("attn_q" of "blk.0.attn_q.weight"), else the whole name; written into buf. */
static const char *kind_of(const char *name, char *buf, size_t cap) {
    const char *w = strstr(name, ".weight");
    if (!w) {
        snprintf(buf, cap, "%s", name);
        return buf;
    }
    const char *s = w;
    while (s > name && s[-1] != '.') s--;
    snprintf(buf, cap, "%.*s", (int)(w - s), s);
    return buf;
}

imatrix_tensor_stats *imatrix_stats_compute(const qk_imatrix *im) {
    imatrix_tensor_stats *st = calloc(im->n_entries > 0 ? (size_t)im->n_entries : 1, sizeof *st);
    if (!st) return NULL;
    double total = 0.0;
    for (int64_t i = 0; i < im->n_entries; i++) {
        const qk_imatrix_entry *e = &im->entries[i];
        imatrix_tensor_stats *s = &st[i];
        s->name = e->name;
        s->layer = layer_of(e->name);
        /* Welford's running mean and M2 (as llama.cpp), the sum and extremes */
        double mean = 0.0, m2 = 0.0, sum = 0.0, lo = INFINITY, hi = -INFINITY;
        int64_t n = 0;
        for (int64_t mat = 0; mat < e->n_mat; mat++) {
            const double cnt = (double)e->counts[mat];
            if (cnt <= 0.0) continue;
            const float *v = e->in_sum2 + mat * e->n_cols;
            for (int64_t j = 0; j < e->n_cols; j++) {
                const double x = (double)v[j] / cnt;
                n++;
                sum += x;
                if (x < lo) lo = x;
                if (x > hi) hi = x;
                const double d = x - mean;
                mean += d / (double)n;
                m2 += d * (x - mean);
            }
        }
        if (n == 0) continue;
        s->n = n;
        s->sum = sum;
        s->mean = mean;
        s->min = lo;
        s->max = hi;
        s->stddev = n > 1 && m2 > 0.0 ? sqrt(m2 / (double)(n - 1)) : 0.0;
        total += sum;
    }
    for (int64_t i = 0; i < im->n_entries; i++) st[i].share = total > 0.0 ? 100.0 * st[i].sum / total : 0.0;
    return st;
}

/* qsort order: kind ascending, then Σ descending, then name (a total order). */
static int cmp_rows(const void *pa, const void *pb) {
    const imatrix_tensor_stats *a = *(const imatrix_tensor_stats *const *)pa;
    const imatrix_tensor_stats *b = *(const imatrix_tensor_stats *const *)pb;
    char ka[256], kb[256];
    int c = strcmp(kind_of(a->name, ka, sizeof ka), kind_of(b->name, kb, sizeof kb));
    if (c) return c;
    if (a->sum != b->sum) return a->sum > b->sum ? -1 : 1;
    return strcmp(a->name, b->name);
}

void imatrix_stats_print(FILE *f, const char *what, const qk_imatrix *im, const imatrix_tensor_stats *st) {
    const int64_t n = im->n_entries;
    const imatrix_tensor_stats **order = malloc((n > 0 ? (size_t)n : 1) * sizeof *order);
    if (!order) {
        fprintf(f, "(out of memory printing statistics)\n");
        return;
    }
    for (int64_t i = 0; i < n; i++) order[i] = &st[i];
    qsort(order, (size_t)n, sizeof *order, cmp_rows);

    fprintf(f, "\nComputing tensor statistics for %s (%lld tensors)\n\n", what, (long long)n);
    /* widths in bytes: "Σ", "²", "μ" and "σ" take two bytes for one column */
    fprintf(f, "%6s  %-18s %16s %12s %12s %13s %13s %7s %8s\n", "Layer", "Tensor", "Σ E[Act²]", "Min", "Max",
            "μ", "σ", "N", "share");
    fprintf(f, "%s\n", "============================================================================"
                       "===================================");
    int32_t max_layer = -1;
    for (int64_t i = 0; i < n; i++) {
        const imatrix_tensor_stats *s = order[i];
        char kind[256], layer[16];
        if (s->layer > max_layer) max_layer = s->layer;
        if (s->layer >= 0) snprintf(layer, sizeof layer, "%d", s->layer);
        else snprintf(layer, sizeof layer, "-");
        fprintf(f, "%6s  %-18s %14.4f %12.6g %12.6g %12.6g %12.6g %7lld %7.2f%%\n", layer,
                kind_of(s->name, kind, sizeof kind), s->sum, s->min, s->max, s->mean, s->stddev,
                (long long)s->n, s->share);
    }
    free(order);

    fprintf(f, "\nComputing layer statistics (%d layers)\n\n", max_layer + 1);
    fprintf(f, "%6s %16s %8s\n", "Layer", "Σ E[Act²]", "share");
    fprintf(f, "==============================\n");
    for (int32_t l = 0; l <= max_layer; l++) {
        double sum = 0.0, share = 0.0;
        int any = 0;
        for (int64_t i = 0; i < n; i++)
            if (st[i].layer == l) {
                sum += st[i].sum;
                share += st[i].share;
                any = 1;
            }
        if (any) fprintf(f, "%6d %14.4f %7.2f%%\n", l, sum, share);
    }
    fprintf(f, "\n");
}
