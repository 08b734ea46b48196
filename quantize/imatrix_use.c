/*
 * imatrix_use.c — qk-quantize's importance matrix: read, select, check, weights, keys (see
 * imatrix_use.h).
 */
#include "imatrix_use.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Does name contain one of the n substrings? */
static bool contains_any(const char *name, const char *const *sub, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strstr(name, sub[i])) return true;
    return false;
}

int qk_imx_load(const qk_imx_opts *o, const gguf_ctx *model, qk_imx *x, qk_err *err) {
    memset(x, 0, sizeof *x);
    if (!o->path) return 0;
    if (o->n_include && o->n_exclude)
        return qk_errf(err, "--include-weights and --exclude-weights cannot be combined — use one of them");
    x->im = qk_imatrix_read(o->path, err);
    if (!x->im) return -1;
    x->n_read = x->im->n_entries;
    x->sel = *x->im;
    x->sel.index = NULL; /* not described by im's name index: qk_imatrix_find searches it */
    x->sel.n_entries = 0;
    x->sel.entries = malloc(sizeof *x->sel.entries * (size_t)(x->n_read ? x->n_read : 1));
    if (!x->sel.entries) {
        qk_imx_free(x);
        return qk_errf(err, "out of memory");
    }
    for (int64_t i = 0; i < x->n_read; i++) {
        const qk_imatrix_entry *e = &x->im->entries[i];
        if (o->n_exclude && contains_any(e->name, o->exclude, o->n_exclude)) continue;
        if (o->n_include && !contains_any(e->name, o->include, o->n_include)) continue;
        x->sel.entries[x->sel.n_entries++] = *e;
    }
    qk_err e2 = {{0}};
    if (x->sel.n_entries && qk_imatrix_check_model(&x->sel, model, &e2) != 0) {
        qk_imx_free(x);
        return qk_errf(err, "imatrix '%s' does not match the model: %s", o->path, e2.msg);
    }
    return 0;
}

const qk_imatrix_entry *qk_imx_find(const qk_imx *x, const char *name) {
    return x->sel.n_entries ? qk_imatrix_find(&x->sel, name) : NULL;
}

void qk_imx_mix_tensors(const qk_imx *x, const gguf_ctx *g, qk_mix_tensor *mt) {
    for (size_t i = 0; i < (size_t)g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        mt[i].name = t->name;
        memcpy(mt[i].ne, t->ne, sizeof mt[i].ne);
        mt[i].type = t->type;
        mt[i].has_weights = qk_imx_find(x, t->name) != NULL;
    }
}

float *qk_imx_weights(const qk_imatrix_entry *e) {
    const int64_t n_mat = e->n_mat > 0 ? e->n_mat : 1;
    float *w = malloc(sizeof *w * (size_t)(n_mat * e->n_cols));
    if (!w) return NULL;
    for (int64_t m = 0; m < n_mat; m++) qk_imatrix_weights(e, m, w + m * e->n_cols);
    return w;
}

const char *qk_imx_dataset(const qk_imx *x) {
    return x->im && x->im->n_datasets > 0 && x->im->datasets[0] ? x->im->datasets[0] : "";
}

/* A string value as llama.cpp's 128-byte KV override buffer leaves it: at most 127 bytes. */
static void set_str127(gguf_writer *w, const char *key, const char *v) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", v);
    gguf_writer_remove_key(w, key);
    gguf_writer_set_str(w, key, buf);
}

void qk_imx_write_keys(const qk_imx *x, const char *file, gguf_writer *w) {
    if (!x->sel.n_entries) return;
    set_str127(w, "quantize.imatrix.file", file);
    if (qk_imx_dataset(x)[0]) set_str127(w, "quantize.imatrix.dataset", qk_imx_dataset(x));
    gguf_writer_remove_key(w, "quantize.imatrix.entries_count");
    gguf_writer_set_i32(w, "quantize.imatrix.entries_count",
                        (int32_t)(x->sel.n_entries > INT32_MAX ? INT32_MAX : x->sel.n_entries));
    if (x->im->chunk_count > 0) {
        gguf_writer_remove_key(w, "quantize.imatrix.chunks_count");
        gguf_writer_set_i32(w, "quantize.imatrix.chunks_count", x->im->chunk_count);
    }
}

void qk_imx_free(qk_imx *x) {
    free(x->sel.entries);
    qk_imatrix_free(x->im);
    memset(x, 0, sizeof *x);
}
