/*
 * imatrix_gguf.c — the GGUF form of an importance matrix (imatrix.h): reading through the
 * engine's validating GGUF reader (gguf.h) and writing through its atomic writer.
 *
 * Layout facts (keys and their order, tensor names, 1-D tensors for dense weights, weights
 * sorted by name, F32 everywhere) are those of the golden
 * wiki-qwen2-13m.imatrix.gguf written by current llama.cpp's llama-imatrix; the test suite
 * checks that a golden file read and written again is byte-identical.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imatrix.h"

#define SUFFIX_SUM2 ".in_sum2"
#define SUFFIX_COUNTS ".counts"

static int ends_with(const char *s, size_t len, const char *suffix) {
    size_t n = strlen(suffix);
    return len > n && memcmp(s + len - n, suffix, n) == 0;
}

/* imatrix.chunk_count / chunk_size: optional, a non-negative integer that fits an int32. */
static int get_count(const gguf_ctx *g, const char *key, int32_t *out, qk_err *err) {
    if (gguf_find_key(g, key) < 0) return 0;
    uint32_t v;
    if (gguf_get_u32(g, key, &v) != 0 || v > INT32_MAX)
        return qk_errf(err, "%s: %s is not a non-negative integer below 2^31", g->path, key);
    *out = (int32_t)v;
    return 0;
}

static int read_datasets(const gguf_ctx *g, qk_imatrix *im, qk_err *err) {
    int64_t k = gguf_find_key(g, "imatrix.datasets");
    if (k < 0) return 0;
    const gguf_kv *kv = &g->kv[k];
    if (kv->type != GGUF_TYPE_ARRAY || kv->arr_type != GGUF_TYPE_STRING)
        return qk_errf(err, "%s: imatrix.datasets is not an array of strings", g->path);
    if (kv->n > INT32_MAX) return qk_errf(err, "%s: imatrix.datasets has too many elements", g->path);
    im->datasets = calloc(kv->n ? kv->n : 1, sizeof *im->datasets);
    if (!im->datasets) return qk_errf(err, "%s: out of memory", g->path);
    for (uint64_t i = 0; i < kv->n; i++) {
        const gguf_str *s = &kv->strs[i];
        if (memchr(s->ptr, 0, s->len))
            return qk_errf(err, "%s: imatrix.datasets[%llu] contains a NUL byte", g->path, (unsigned long long)i);
        char *c = malloc(s->len + 1);
        if (!c) return qk_errf(err, "%s: out of memory", g->path);
        memcpy(c, s->ptr, s->len);
        c[s->len] = 0;
        im->datasets[im->n_datasets++] = c;
    }
    return 0;
}

/* One entry from its two tensors (names and types already matched). */
static int read_pair(const gguf_ctx *g, qk_imatrix *im, const char *weight, const gguf_tensor *s,
                     const gguf_tensor *c, qk_err *err) {
    if (s->type != QK_TYPE_F32 || c->type != QK_TYPE_F32)
        return qk_errf(err, "%s: tensors of '%s' must be F32", g->path, weight);
    if (s->ne[2] != 1 || s->ne[3] != 1 || c->ne[0] != 1 || c->ne[1] != s->ne[1] || c->ne[2] != 1 || c->ne[3] != 1)
        return qk_errf(err,
                       "%s: shapes of '%s' do not match: .in_sum2 is [%lld, %lld, %lld, %lld] and .counts "
                       "[%lld, %lld, %lld, %lld]; expected [n_cols, n_mat] and [1, n_mat]",
                       g->path, weight, (long long)s->ne[0], (long long)s->ne[1], (long long)s->ne[2],
                       (long long)s->ne[3], (long long)c->ne[0], (long long)c->ne[1], (long long)c->ne[2],
                       (long long)c->ne[3]);
    qk_err e2;
    qk_imatrix_entry *e = qk_imatrix_append(im, weight, s->ne[0], s->ne[1], &e2);
    if (!e) return qk_errf(err, "%s: %s", g->path, e2.msg);
    const int64_t n = e->n_cols * e->n_mat;
    memcpy(e->in_sum2, s->data, sizeof(float) * (size_t)n);
    memcpy(e->counts, c->data, sizeof(float) * (size_t)e->n_mat);
    for (int64_t m = 0; m < e->n_mat; m++) {
        const float cm = e->counts[m];
        if (!isfinite(cm) || cm < 0.0f)
            return qk_errf(err, "%s: '%s.counts'[%lld] is %g: counts must be finite and >= 0", g->path, weight,
                           (long long)m, (double)cm);
        for (int64_t j = 0; j < e->n_cols; j++) {
            const float v = e->in_sum2[m * e->n_cols + j];
            if (!isfinite(v) || v < 0.0f)
                return qk_errf(err, "%s: '%s.in_sum2'[%lld] is %g: sums of squares must be finite and >= 0",
                               g->path, weight, (long long)(m * e->n_cols + j), (double)v);
            if (cm == 0.0f && v != 0.0f)
                return qk_errf(err, "%s: '%s' matrix %lld has a count of 0 but non-zero sums", g->path, weight,
                               (long long)m);
        }
    }
    return 0;
}

static int read_entries(const gguf_ctx *g, qk_imatrix *im, qk_err *err) {
    char other[2 * GGUF_MAX_NAME + 16], weight[GGUF_MAX_NAME + 1];
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        const size_t len = strlen(t->name);
        if (ends_with(t->name, len, SUFFIX_SUM2)) {
            const size_t wl = len - strlen(SUFFIX_SUM2);
            memcpy(weight, t->name, wl);
            weight[wl] = 0;
            snprintf(other, sizeof other, "%s%s", weight, SUFFIX_COUNTS);
            const gguf_tensor *c = gguf_find_tensor(g, other);
            if (!c)
                return qk_errf(err, "%s: tensor '%s' has no matching '%s'", g->path, t->name, other);
            if (read_pair(g, im, weight, t, c, err) != 0) return -1;
        } else if (ends_with(t->name, len, SUFFIX_COUNTS)) {
            const size_t wl = len - strlen(SUFFIX_COUNTS);
            snprintf(other, sizeof other, "%.*s%s", (int)wl, t->name, SUFFIX_SUM2);
            if (!gguf_find_tensor(g, other))
                return qk_errf(err, "%s: tensor '%s' has no matching '%s'", g->path, t->name, other);
        } else {
            return qk_errf(err, "%s: tensor '%s' is not an imatrix tensor (<weight>" SUFFIX_SUM2
                                " or <weight>" SUFFIX_COUNTS ")", g->path, t->name);
        }
    }
    if (im->n_entries == 0) return qk_errf(err, "%s: the importance matrix has no entries", g->path);
    return 0;
}

qk_imatrix *qk_imatrix_read_gguf(const char *path, qk_err *err) {
    gguf_ctx *g = gguf_open(path, err);
    if (!g) return NULL;
    qk_imatrix *im = qk_imatrix_new();
    gguf_str type;
    if (!im) {
        qk_errf(err, "%s: out of memory", path);
        goto fail;
    }
    if (gguf_find_key(g, "general.type") < 0) {
        qk_errf(err, "%s: no general.type: this GGUF is not an importance matrix (a model?)", path);
        goto fail;
    }
    if (gguf_get_str(g, "general.type", &type) != 0 || type.len != 7 || memcmp(type.ptr, "imatrix", 7) != 0) {
        qk_errf(err, "%s: general.type is not \"imatrix\": this GGUF is not an importance matrix", path);
        goto fail;
    }
    if (get_count(g, "imatrix.chunk_count", &im->chunk_count, err) != 0 ||
        get_count(g, "imatrix.chunk_size", &im->chunk_size, err) != 0 || read_datasets(g, im, err) != 0 ||
        read_entries(g, im, err) != 0)
        goto fail;
    gguf_close(g);
    return im;
fail:
    qk_imatrix_free(im);
    gguf_close(g);
    return NULL;
}

typedef struct named {
    const char *name;
    int64_t idx;
} named;

static int by_name(const void *a, const void *b) {
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

int qk_imatrix_write_gguf(const qk_imatrix *im, const char *path, qk_err *err) {
    if (!im || im->n_entries < 1)
        return qk_errf(err, "%s: the importance matrix has no entries: nothing to write", path);
    if (im->chunk_count < 0 || im->chunk_size < 0)
        return qk_errf(err, "%s: negative chunk count or size", path);
    named *order = malloc(sizeof *order * (size_t)im->n_entries);
    if (!order) return qk_errf(err, "%s: out of memory", path);
    for (int64_t i = 0; i < im->n_entries; i++) order[i] = (named){im->entries[i].name, i};
    qsort(order, (size_t)im->n_entries, sizeof *order, by_name);

    gguf_writer *w = gguf_writer_new(path, err);
    if (!w) {
        free(order);
        return -1;
    }
    gguf_writer_set_str(w, "general.type", "imatrix");
    gguf_writer_set_arr_str(w, "imatrix.datasets", (const char *const *)im->datasets, (uint64_t)im->n_datasets);
    gguf_writer_set_u32(w, "imatrix.chunk_count", (uint32_t)im->chunk_count);
    gguf_writer_set_u32(w, "imatrix.chunk_size", (uint32_t)im->chunk_size);
    char name[2 * GGUF_MAX_NAME];
    for (int64_t k = 0; k < im->n_entries; k++) {
        const qk_imatrix_entry *e = &im->entries[order[k].idx];
        /* ggml leaves out trailing dimensions of 1: dense weights get 1-D tensors. */
        const uint32_t nd = e->n_mat > 1 ? 2 : 1;
        const int64_t ne_s[2] = {e->n_cols, e->n_mat}, ne_c[2] = {1, e->n_mat};
        qk_err e2;
        if (strlen(e->name) + sizeof SUFFIX_SUM2 > sizeof name) goto too_long;
        snprintf(name, sizeof name, "%s" SUFFIX_SUM2, e->name);
        if (gguf_writer_add_tensor(w, name, QK_TYPE_F32, nd, ne_s, &e2) < 0) goto too_long;
        snprintf(name, sizeof name, "%s" SUFFIX_COUNTS, e->name);
        if (gguf_writer_add_tensor(w, name, QK_TYPE_F32, nd, ne_c, &e2) < 0) goto too_long;
        continue;
    too_long:
        qk_errf(err, "%s: cannot write entry '%s' as GGUF tensors (name too long for GGUF?)", path, e->name);
        goto fail;
    }
    if (gguf_writer_write_header(w, err) != 0) goto fail;
    for (int64_t k = 0; k < im->n_entries; k++) {
        const qk_imatrix_entry *e = &im->entries[order[k].idx];
        if (gguf_writer_write_tensor_data(w, e->in_sum2, sizeof(float) * (size_t)(e->n_cols * e->n_mat), err) != 0 ||
            gguf_writer_write_tensor_data(w, e->counts, sizeof(float) * (size_t)e->n_mat, err) != 0)
            goto fail;
    }
    free(order);
    return gguf_writer_finish(w, err);
fail:
    free(order);
    gguf_writer_abort(w);
    return -1;
}
