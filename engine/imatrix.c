/*
 * imatrix.c — importance matrices in memory: entries, lookup, merging, checking against a
 * model and the quantization weights (imatrix.h). The files: imatrix_io.c (format
 * detection, the legacy .dat), imatrix_gguf.c (the GGUF form).
 */
#include "imatrix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strtab.h"

/* Name index and entry capacity; keys[i] = entries[i].name (names are separate
 * allocations, so they stay put when the entries array moves). owner and base say which
 * imatrix and entries array it describes: a shallow copy of a qk_imatrix (struct
 * assignment, e.g. a selection of entries) shares the pointer but is not described by it,
 * so it is neither used for nor freed with the copy. */
struct qk_imatrix_index {
    const qk_imatrix *owner;
    const qk_imatrix_entry *base; /* owner->entries when the index was last updated */
    qk_strtab tab;
    const char **keys;
    uint32_t *lens;
    int64_t n;   /* entries indexed: the index is used only while this equals n_entries */
    int64_t cap; /* capacity of entries, keys and lens */
};

/* Largest value count of one entry: a .dat stores it as an int32, and no weight in a
 * llama.cpp model has more columns × experts. */
#define IM_MAX_VALUES INT32_MAX

qk_imatrix *qk_imatrix_new(void) {
    return calloc(1, sizeof(qk_imatrix));
}

static void index_free(struct qk_imatrix_index *ix) {
    if (!ix) return;
    qk_strtab_free(&ix->tab);
    free(ix->keys);
    free(ix->lens);
    free(ix);
}

void qk_imatrix_free(qk_imatrix *im) {
    if (!im) return;
    for (int64_t i = 0; i < im->n_entries; i++) {
        free(im->entries[i].name);
        free(im->entries[i].in_sum2);
        free(im->entries[i].counts);
    }
    free(im->entries);
    for (int32_t i = 0; i < im->n_datasets; i++) free(im->datasets[i]);
    free(im->datasets);
    if (im->index && im->index->owner == im) index_free(im->index);
    free(im);
}

/* Whether im->index describes im as it is now. */
static int index_valid(const qk_imatrix *im) {
    const struct qk_imatrix_index *ix = im->index;
    return ix && ix->owner == im && ix->base == im->entries && ix->n == im->n_entries;
}

/* Make im->index cover every entry (rebuilding it when entries were added by hand, or
 * making im its own when it is a shallow copy). 0, or -1 when out of memory. */
static int index_ensure(qk_imatrix *im) {
    struct qk_imatrix_index *ix = im->index;
    if (index_valid(im)) return 0;
    if (im->n_entries > INT32_MAX) return -1;
    if (ix && ix->owner == im) index_free(ix);
    im->index = ix = calloc(1, sizeof *ix);
    if (!ix) return -1;
    int64_t cap = im->n_entries > 8 ? im->n_entries : 8;
    ix->keys = malloc(sizeof *ix->keys * (size_t)cap);
    ix->lens = malloc(sizeof *ix->lens * (size_t)cap);
    if (!ix->keys || !ix->lens || qk_strtab_init(&ix->tab, (size_t)cap) != 0) goto oom;
    ix->cap = im->n_entries; /* the entries array may be exactly this large */
    for (int64_t i = 0; i < im->n_entries; i++) {
        ix->keys[i] = im->entries[i].name;
        ix->lens[i] = (uint32_t)strlen(im->entries[i].name);
        if (qk_strtab_add(&ix->tab, ix->keys, ix->lens, (int32_t)i) == -2) goto oom;
    }
    ix->n = im->n_entries;
    ix->owner = im;
    ix->base = im->entries;
    return 0;
oom:
    index_free(ix);
    im->index = NULL;
    return -1;
}

const qk_imatrix_entry *qk_imatrix_find(const qk_imatrix *im, const char *name) {
    if (!im || !name) return NULL;
    const struct qk_imatrix_index *ix = im->index;
    if (index_valid(im)) {
        int32_t i = qk_strtab_find(&ix->tab, ix->keys, ix->lens, name, strlen(name));
        return i >= 0 ? &im->entries[i] : NULL;
    }
    for (int64_t i = 0; i < im->n_entries; i++) /* built by hand, or a shallow copy */
        if (strcmp(im->entries[i].name, name) == 0) return &im->entries[i];
    return NULL;
}

qk_imatrix_entry *qk_imatrix_append(qk_imatrix *im, const char *name, int64_t n_cols, int64_t n_mat,
                                    qk_err *err) {
    size_t len = strlen(name);
    if (len == 0 || len > UINT32_MAX) {
        qk_errf(err, "imatrix entry name is empty or too long");
        return NULL;
    }
    if (n_cols < 1 || n_mat < 1 || n_cols > IM_MAX_VALUES / n_mat) {
        qk_errf(err, "imatrix entry '%s': %lld columns x %lld matrices is not a valid size", name,
                (long long)n_cols, (long long)n_mat);
        return NULL;
    }
    if (index_ensure(im) != 0 || im->n_entries >= INT32_MAX) goto oom;
    struct qk_imatrix_index *ix = im->index;
    if (qk_strtab_find(&ix->tab, ix->keys, ix->lens, name, len) >= 0) {
        qk_errf(err, "imatrix entry '%s' appears twice", name);
        return NULL;
    }
    if (im->n_entries == ix->cap) {
        int64_t cap = ix->cap < 8 ? 8 : ix->cap * 2;
        qk_imatrix_entry *e = realloc(im->entries, sizeof *e * (size_t)cap);
        if (!e) goto oom;
        im->entries = e;
        ix->base = e;
        const char **k = realloc(ix->keys, sizeof *k * (size_t)cap);
        if (!k) goto oom;
        ix->keys = k;
        uint32_t *l = realloc(ix->lens, sizeof *l * (size_t)cap);
        if (!l) goto oom;
        ix->lens = l;
        ix->cap = cap;
    }
    qk_imatrix_entry e = {0};
    e.name = strdup(name);
    e.n_cols = n_cols;
    e.n_mat = n_mat;
    e.in_sum2 = calloc((size_t)(n_cols * n_mat), sizeof(float));
    e.counts = calloc((size_t)n_mat, sizeof(float));
    if (!e.name || !e.in_sum2 || !e.counts) {
        free(e.name);
        free(e.in_sum2);
        free(e.counts);
        goto oom;
    }
    int64_t i = im->n_entries;
    ix->keys[i] = e.name;
    ix->lens[i] = (uint32_t)len;
    if (qk_strtab_add(&ix->tab, ix->keys, ix->lens, (int32_t)i) == -2) {
        free(e.name);
        free(e.in_sum2);
        free(e.counts);
        goto oom;
    }
    im->entries[i] = e;
    im->n_entries = ix->n = i + 1;
    return &im->entries[i];
oom:
    qk_errf(err, "out of memory adding imatrix entry '%s'", name);
    return NULL;
}

void qk_imatrix_weights(const qk_imatrix_entry *e, int64_t mat, float *out) {
    const float c = e->counts[mat];
    const float *s = e->in_sum2 + mat * e->n_cols;
    if (c > 0.0f) {
        for (int64_t j = 0; j < e->n_cols; j++) out[j] = s[j] / c;
    } else {
        for (int64_t j = 0; j < e->n_cols; j++) out[j] = 1.0f; /* no rows seen */
    }
}

/* ------------------------------------------------------------------ add, check --- */

int qk_imatrix_add(qk_imatrix *dst, const qk_imatrix *src, qk_err *err) {
    if (index_ensure(dst) != 0) return qk_errf(err, "out of memory adding importance matrices");
    /* Check first, so that a refused add leaves dst as it was. */
    for (int64_t i = 0; i < src->n_entries; i++) {
        const qk_imatrix_entry *s = &src->entries[i];
        const qk_imatrix_entry *d = qk_imatrix_find(dst, s->name);
        if (!d) continue;
        if (d->n_cols != s->n_cols || d->n_mat != s->n_mat)
            return qk_errf(err,
                           "cannot add importance matrices: entry '%s' has %lld x %lld values in one and "
                           "%lld x %lld in the other (made for different models?)",
                           s->name, (long long)d->n_cols, (long long)d->n_mat, (long long)s->n_cols,
                           (long long)s->n_mat);
        for (int64_t j = 0; j < s->n_cols * s->n_mat; j++)
            if (!isfinite(d->in_sum2[j] + s->in_sum2[j]))
                return qk_errf(err, "cannot add importance matrices: entry '%s' value %lld overflows", s->name,
                               (long long)j);
        for (int64_t m = 0; m < s->n_mat; m++)
            if (!isfinite(d->counts[m] + s->counts[m]))
                return qk_errf(err, "cannot add importance matrices: entry '%s' count overflows", s->name);
    }
    if ((int64_t)dst->chunk_count + src->chunk_count > INT32_MAX ||
        (int64_t)dst->n_datasets + src->n_datasets > INT32_MAX)
        return qk_errf(err, "cannot add importance matrices: the chunk or dataset count overflows");

    const int64_t n_src = src->n_entries; /* src may be dst */
    for (int64_t i = 0; i < n_src; i++) {
        const qk_imatrix_entry *s = &src->entries[i];
        qk_imatrix_entry *d = (qk_imatrix_entry *)qk_imatrix_find(dst, s->name);
        if (!d) {
            d = qk_imatrix_append(dst, s->name, s->n_cols, s->n_mat, err);
            if (!d) return -1;
            s = &src->entries[i]; /* the append may have moved src's entries when src is dst */
        }
        for (int64_t j = 0; j < s->n_cols * s->n_mat; j++) d->in_sum2[j] += s->in_sum2[j];
        for (int64_t m = 0; m < s->n_mat; m++) d->counts[m] += s->counts[m];
    }
    dst->chunk_count += src->chunk_count;
    if (dst->chunk_size == 0) dst->chunk_size = src->chunk_size;
    const int32_t n_ds = src->n_datasets;
    if (n_ds > 0) {
        char **ds = realloc(dst->datasets, sizeof *ds * ((size_t)dst->n_datasets + (size_t)n_ds));
        if (!ds) return qk_errf(err, "out of memory adding importance matrices");
        dst->datasets = ds;
        for (int32_t i = 0; i < n_ds; i++) {
            char *c = strdup(src->datasets[i]);
            if (!c) return qk_errf(err, "out of memory adding importance matrices");
            dst->datasets[dst->n_datasets++] = c;
        }
    }
    return 0;
}

int qk_imatrix_check_model(const qk_imatrix *im, const gguf_ctx *model, qk_err *err) {
    for (int64_t i = 0; i < im->n_entries; i++) {
        const qk_imatrix_entry *e = &im->entries[i];
        const gguf_tensor *t = gguf_find_tensor(model, e->name);
        if (!t)
            return qk_errf(err,
                           "imatrix entry '%s' is not a tensor of %s: the importance matrix was computed for "
                           "another model; compute one for this model (llama-imatrix -m %s)",
                           e->name, model->path, model->path);
        const int64_t ne0 = t->ne[0], ne2 = t->ne[2];
        const int same = e->n_cols == ne0 && e->n_mat == ne2;
        const int flat = e->n_mat == 1 && ne2 > 1 && e->n_cols == ne0 * ne2; /* .dat MoE entry */
        if (!same && !flat)
            return qk_errf(err,
                           "imatrix entry '%s' has %lld values x %lld matrices but the tensor in %s has "
                           "ne[0] = %lld, ne[2] = %lld: the importance matrix was computed for another "
                           "model; compute one for this model",
                           e->name, (long long)e->n_cols, (long long)e->n_mat, model->path, (long long)ne0,
                           (long long)ne2);
    }
    return 0;
}
