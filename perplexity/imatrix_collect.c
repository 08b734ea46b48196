/*
 * imatrix_collect.c — the importance-matrix accumulation behind qk-imatrix (see
 * imatrix_collect.h for the rules and their source in llama.cpp).
 *
 * Per input (one qk_matmul_hook call whose x is not the previous call's), the column
 * sums Σ_r x[r][j]² are taken once, in double, into a scratch vector; then added to the
 * weight's sums. The loop runs row by row over contiguous columns (no dependency between
 * columns, so the compiler vectorizes it), one pass over x. At qkit's sizes it costs well
 * under 1 % of the forward pass (the matmuls read every weight once per row block; this
 * reads each input once), so it stays on the calling thread.
 */
#include "imatrix_collect.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct imatrix_collector {
    bool process_output;
    imatrix_acc *acc;
    int64_t n, cap;
    int64_t hint; /* index after the last hit: the calls repeat in the same order */
    /* the previous collected input, whose column sums colsum holds */
    const float *last_x;
    int64_t last_m, last_k;
    int64_t last_acc; /* its weight's accumulator index; -1: none yet */
    double *colsum;
    int64_t colsum_cap;
    /* first error: a non-finite sum (its weight's name), or out of memory */
    bool failed, oom;
    char bad_name[GGUF_MAX_NAME + 1];
};

imatrix_collector *imatrix_collector_new(bool process_output) {
    imatrix_collector *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->process_output = process_output;
    c->last_acc = -1;
    return c;
}

void imatrix_collector_free(imatrix_collector *c) {
    if (!c) return;
    for (int64_t i = 0; i < c->n; i++) free(c->acc[i].sum);
    free(c->acc);
    free(c->colsum);
    free(c);
}

/* llama.cpp's selection: "blk." names, and output.weight with --process-output. */
static bool wanted(const imatrix_collector *c, const char *name) {
    return strncmp(name, "blk.", 4) == 0 || (c->process_output && strcmp(name, "output.weight") == 0);
}

/* The length of "blk.N." at the start of name, or 0. */
static size_t layer_prefix(const char *name) {
    if (strncmp(name, "blk.", 4) != 0) return 0;
    size_t i = 4;
    while (name[i] >= '0' && name[i] <= '9') i++;
    return (i > 4 && name[i] == '.') ? i + 1 : 0;
}

/* Does `name` read the same input as `prev`, the weight multiplied just before it? True
 * for the pairs the forward pass feeds one x (forward.h): attn_q → attn_k → attn_v and
 * ffn_gate → ffn_up of one layer. The caller also compares x, m and k. */
static bool shares_input(const char *prev, const char *name) {
    static const char *const pairs[][2] = {{"attn_q.weight", "attn_k.weight"},
                                           {"attn_k.weight", "attn_v.weight"},
                                           {"ffn_gate.weight", "ffn_up.weight"}};
    const size_t lp = layer_prefix(prev), ln = layer_prefix(name);
    if (lp == 0 || lp != ln || strncmp(prev, name, lp) != 0) return false;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (strcmp(prev + lp, pairs[i][0]) == 0 && strcmp(name + ln, pairs[i][1]) == 0) return true;
    return false;
}

/* The accumulator of w, created (zeroed) on first sight; NULL when out of memory. */
static imatrix_acc *find_acc(imatrix_collector *c, const gguf_tensor *w) {
    if (c->hint < c->n && c->acc[c->hint].w == w) return &c->acc[c->hint++];
    for (int64_t i = 0; i < c->n; i++)
        if (c->acc[i].w == w) {
            c->hint = i + 1;
            return &c->acc[i];
        }
    if (c->n == c->cap) {
        const int64_t cap = c->cap ? 2 * c->cap : 64;
        imatrix_acc *a = realloc(c->acc, (size_t)cap * sizeof *a);
        if (!a) return NULL;
        c->acc = a;
        c->cap = cap;
    }
    imatrix_acc *e = &c->acc[c->n];
    memset(e, 0, sizeof *e);
    e->sum = calloc((size_t)w->ne[0], sizeof *e->sum);
    if (!e->sum) return NULL;
    snprintf(e->name, sizeof e->name, "%s", w->name);
    e->w = w;
    e->n_cols = w->ne[0];
    c->hint = ++c->n;
    return e;
}

/* s[j] = Σ_r x[r][j]² in double: squares of floats are exact in double (48-bit
 * products), so the only rounding is the summation's. Four rows at a time, so that s is
 * read and written once per four rows (the loop over j vectorizes; s stays in L1). */
static void column_sums(double *restrict s, const float *restrict x, int64_t m, int64_t k) {
    memset(s, 0, (size_t)k * sizeof *s);
    int64_t r = 0;
    for (; r + 4 <= m; r += 4) {
        const float *restrict x0 = x + r * k, *restrict x1 = x0 + k, *restrict x2 = x1 + k, *restrict x3 = x2 + k;
        for (int64_t j = 0; j < k; j++) {
            const double a = x0[j], b = x1[j], c = x2[j], d = x3[j];
            s[j] += (a * a + b * b) + (c * c + d * d);
        }
    }
    for (; r < m; r++) {
        const float *restrict xr = x + r * k;
        for (int64_t j = 0; j < k; j++) {
            const double v = xr[j];
            s[j] += v * v;
        }
    }
}

void imatrix_collect_hook(void *arg, const gguf_tensor *w, const float *x, int64_t m) {
    imatrix_collector *c = arg;
    if (c->failed || m < IMATRIX_MIN_ROWS || !wanted(c, w->name)) return;
    const int64_t k = w->ne[0];
    imatrix_acc *e = find_acc(c, w);
    if (!e) {
        c->failed = c->oom = true;
        return;
    }
    const bool same = c->last_x == x && c->last_m == m && c->last_k == k && c->last_acc >= 0 &&
                      shares_input(c->acc[c->last_acc].name, w->name);
    if (!same) {
        if (k > c->colsum_cap) {
            double *s = realloc(c->colsum, (size_t)k * sizeof *s);
            if (!s) {
                c->failed = c->oom = true;
                return;
            }
            c->colsum = s;
            c->colsum_cap = k;
        }
        column_sums(c->colsum, x, m, k);
        /* NaN or Inf anywhere in x ends up in the total (llama.cpp checks every sum) */
        double total = 0.0;
        for (int64_t j = 0; j < k; j++) total += c->colsum[j];
        if (!isfinite(total)) {
            c->failed = true;
            snprintf(c->bad_name, sizeof c->bad_name, "%s", w->name);
            return;
        }
        c->last_x = x;
        c->last_m = m;
        c->last_k = k;
    }
    c->last_acc = e - c->acc;
    for (int64_t j = 0; j < k; j++) e->sum[j] += c->colsum[j];
    e->rows += m;
    e->ncall++;
}

const imatrix_acc *imatrix_collector_entries(const imatrix_collector *c, int64_t *n) {
    *n = c->n;
    return c->acc;
}

int32_t imatrix_collector_calls(const imatrix_collector *c) {
    int32_t calls = 0;
    for (int64_t i = 0; i < c->n; i++)
        if (c->acc[i].ncall > calls) calls = c->acc[i].ncall;
    return calls;
}

int imatrix_collector_check(const imatrix_collector *c, qk_err *err) {
    if (c->oom) return qk_errf(err, "out of memory while collecting the importance matrix");
    if (c->failed)
        return qk_errf(err, "the activations entering %s are not finite (NaN or Inf) — the model "
                       "file is likely broken", c->bad_name);
    return 0;
}

qk_imatrix *imatrix_collector_result(const imatrix_collector *c, imatrix_form form, int32_t chunk_count,
                                     int32_t chunk_size, const char *dataset, qk_err *err) {
    qk_imatrix *im = qk_imatrix_new();
    if (!im) {
        qk_errf(err, "out of memory");
        return NULL;
    }
    im->chunk_count = chunk_count;
    im->chunk_size = chunk_size;
    if (dataset) {
        im->datasets = calloc(1, sizeof *im->datasets);
        if (!im->datasets || !(im->datasets[0] = strdup(dataset))) {
            qk_errf(err, "out of memory");
            goto fail;
        }
        im->n_datasets = 1;
    }
    for (int64_t i = 0; i < c->n; i++) {
        const imatrix_acc *a = &c->acc[i];
        qk_imatrix_entry *e = qk_imatrix_append(im, a->name, a->n_cols, 1, err);
        if (!e) goto fail;
        /* rows > 0 and ncall > 0: an accumulator exists only after a collected call */
        const double scale = form == IMATRIX_FORM_CALLS ? (double)a->ncall / (double)a->rows : 1.0;
        for (int64_t j = 0; j < a->n_cols; j++) {
            e->in_sum2[j] = (float)(a->sum[j] * scale);
            if (!isfinite(e->in_sum2[j])) {
                qk_errf(err, "the sum of squared activations entering %s overflows float", a->name);
                goto fail;
            }
        }
        e->counts[0] = form == IMATRIX_FORM_CALLS ? (float)a->ncall : (float)a->rows;
    }
    return im;
fail:
    qk_imatrix_free(im);
    return NULL;
}

int imatrix_to_calls_form(qk_imatrix *im, qk_err *err) {
    if (im->chunk_count < 1)
        return qk_errf(err, "the imatrix has a chunk count of %d, so its entries cannot be weighted by "
                       "calls like a .dat file's", im->chunk_count);
    const double ncall = (double)im->chunk_count;
    for (int64_t i = 0; i < im->n_entries; i++) {
        qk_imatrix_entry *e = &im->entries[i];
        for (int64_t mat = 0; mat < e->n_mat; mat++) {
            const double cnt = (double)e->counts[mat];
            if (cnt <= 0.0) continue;
            float *v = e->in_sum2 + mat * e->n_cols;
            for (int64_t j = 0; j < e->n_cols; j++) v[j] = (float)((double)v[j] / cnt * ncall);
            e->counts[mat] = (float)ncall;
        }
    }
    return 0;
}
