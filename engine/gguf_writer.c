/*
 * gguf_writer.c — GGUF v3 writer (aligned, atomic). See gguf.h for the format.
 *
 * Invariants: tensor data is written in declaration order, each tensor padded to the
 * alignment, and offsets are the running sums llama.cpp's reader expects. The output
 * appears under its final name only after a complete, fsync'ed write (afile.h): until then
 * it is a registered temporary, which gguf_writer_abort(), a failure, or (from a signal
 * handler) qk_afile_cleanup_all() removes.
 */
#include "gguf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "afile.h"
#include "strtab.h"

typedef struct wkv {
    char *key;
    gguf_vtype type, arr_type;
    uint64_t n;
    uint8_t *data;  /* numeric payload (n * elem size) */
    char **strs;    /* string payload */
    uint64_t *lens;
} wkv;

typedef struct wtensor {
    char name[GGUF_MAX_NAME + 1];
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    qk_type type;
    uint64_t offset;
    size_t nbytes;
} wtensor;

struct gguf_writer {
    char *path;
    qk_afile *out;
    FILE *f; /* its stream */
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
    /* keyed name indexes (strtab.h): copying a file's keys and tensors stays linear */
    qk_strtab ktab, ttab;
    const char **kname, **tname; /* kv[i].key, t[i].name */
    uint32_t *klen, *tlen;
    uint32_t alignment;
    size_t next_tensor;
    int header_written;
    int failed; /* errno of the first failed write */
    int oom;    /* a setter ran out of memory: gguf_writer_write_header reports it */
};

gguf_writer *gguf_writer_new(const char *path, qk_err *err) {
    gguf_writer *w = calloc(1, sizeof *w);
    if (w) w->path = strdup(path);
    if (!w || !w->path || qk_strtab_init(&w->ktab, 0) || qk_strtab_init(&w->ttab, 0)) {
        if (w) {
            free(w->path);
            qk_strtab_free(&w->ktab);
            qk_strtab_free(&w->ttab);
        }
        free(w);
        qk_errf(err, "out of memory");
        return NULL;
    }
    w->alignment = GGUF_DEFAULT_ALIGNMENT;
    w->out = qk_afile_create(path, err);
    if (!w->out) {
        qk_strtab_free(&w->ktab);
        qk_strtab_free(&w->ttab);
        free(w->path);
        free(w);
        return NULL;
    }
    w->f = qk_afile_stream(w->out);
    return w;
}

static void wkv_clear(wkv *k) {
    free(k->data);
    if (k->strs)
        for (uint64_t i = 0; i < k->n; i++) free(k->strs[i]);
    free(k->strs);
    free(k->lens);
    k->data = NULL;
    k->strs = NULL;
    k->lens = NULL;
}

/* Room for one more metadata pair: kv and its name arrays grow together; the capacity
 * changes only when all three did (one that grew alone is merely larger). */
static int grow_kv(gguf_writer *w) {
    if (w->n_kv < w->cap_kv) return 0;
    const size_t nc = w->cap_kv ? 2 * w->cap_kv : 32;
    wkv *kv = realloc(w->kv, nc * sizeof *kv);
    if (!kv) return -1;
    w->kv = kv;
    const char **kn = realloc(w->kname, nc * sizeof *kn);
    if (!kn) return -1;
    w->kname = kn;
    uint32_t *kl = realloc(w->klen, nc * sizeof *kl);
    if (!kl) return -1;
    w->klen = kl;
    w->cap_kv = nc;
    return 0;
}

/* The entry of `key`, emptied for a new value, or a new entry; NULL (and w->oom) when out
 * of memory. */
static wkv *wkv_slot(gguf_writer *w, const char *key) {
    if (w->oom) return NULL;
    const size_t len = strlen(key);
    const int32_t e = len <= UINT32_MAX ? qk_strtab_find(&w->ktab, w->kname, w->klen, key, len) : -1;
    if (e >= 0) {
        wkv_clear(&w->kv[e]);
        return &w->kv[e];
    }
    char *copy = len <= UINT32_MAX ? strdup(key) : NULL;
    if (!copy || grow_kv(w)) {
        free(copy);
        w->oom = 1;
        return NULL;
    }
    const size_t i = w->n_kv;
    w->kname[i] = copy;
    w->klen[i] = (uint32_t)len;
    if (qk_strtab_add(&w->ktab, w->kname, w->klen, (int32_t)i) == -2) {
        free(copy);
        w->oom = 1;
        return NULL;
    }
    wkv *k = &w->kv[w->n_kv++];
    memset(k, 0, sizeof *k);
    k->key = copy;
    return k;
}

/* The setters do not return errors (the callers copy dozens of keys): out of memory sets
 * w->oom, an entry may stay without its value, and gguf_writer_write_header fails before
 * writing anything. */
static void set_scalar(gguf_writer *w, const char *key, gguf_vtype t, const void *v) {
    wkv *k = wkv_slot(w, key);
    if (!k) return;
    k->type = t;
    k->n = 1;
    k->data = malloc(gguf_vtype_size(t));
    if (!k->data) {
        w->oom = 1;
        return;
    }
    memcpy(k->data, v, gguf_vtype_size(t));
    if (strcmp(key, "general.alignment") == 0 && t == GGUF_TYPE_UINT32) {
        uint32_t a;
        memcpy(&a, v, 4);
        if (a && !(a & (a - 1))) w->alignment = a;
    }
}

void gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v) { set_scalar(w, key, GGUF_TYPE_UINT32, &v); }
void gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v) { set_scalar(w, key, GGUF_TYPE_INT32, &v); }
void gguf_writer_set_f32(gguf_writer *w, const char *key, float v) { set_scalar(w, key, GGUF_TYPE_FLOAT32, &v); }
void gguf_writer_set_bool(gguf_writer *w, const char *key, bool v) {
    uint8_t b = v ? 1 : 0;
    set_scalar(w, key, GGUF_TYPE_BOOL, &b);
}

static void set_strings(gguf_writer *w, const char *key, gguf_vtype t, const gguf_str *s, uint64_t n) {
    wkv *k = wkv_slot(w, key);
    if (!k) return;
    k->type = t;
    k->arr_type = GGUF_TYPE_STRING;
    k->strs = calloc(n ? n : 1, sizeof(char *));
    k->lens = malloc(sizeof(uint64_t) * (n ? n : 1));
    if (!k->strs || !k->lens) {
        w->oom = 1;
        return;
    }
    k->n = n; /* wkv_clear frees strs[0..n): calloc'd, so the ones not reached are NULL */
    for (uint64_t i = 0; i < n; i++) {
        k->strs[i] = malloc(s[i].len + 1);
        if (!k->strs[i]) {
            w->oom = 1;
            return;
        }
        memcpy(k->strs[i], s[i].ptr, s[i].len);
        k->strs[i][s[i].len] = 0;
        k->lens[i] = s[i].len;
    }
}

void gguf_writer_set_str(gguf_writer *w, const char *key, const char *v) {
    gguf_str s = {v, strlen(v)};
    set_strings(w, key, GGUF_TYPE_STRING, &s, 1);
}

void gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n) {
    gguf_str *s = malloc(sizeof *s * (n ? n : 1));
    if (!s) {
        w->oom = 1;
        return;
    }
    for (uint64_t i = 0; i < n; i++) s[i] = (gguf_str){v[i], strlen(v[i])};
    set_strings(w, key, GGUF_TYPE_ARRAY, s, n);
    free(s);
}

void gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_vtype t, const void *data, uint64_t n) {
    wkv *k = wkv_slot(w, key);
    if (!k) return;
    k->type = GGUF_TYPE_ARRAY;
    k->arr_type = t;
    k->n = n;
    size_t bytes = gguf_vtype_size(t) * n;
    k->data = malloc(bytes ? bytes : 1);
    if (!k->data) {
        w->oom = 1;
        return;
    }
    if (bytes) memcpy(k->data, data, bytes);
}

void gguf_writer_copy_kv(gguf_writer *w, const gguf_kv *kv) {
    if (kv->type == GGUF_TYPE_STRING) {
        set_strings(w, kv->key, GGUF_TYPE_STRING, kv->strs, 1);
    } else if (kv->type == GGUF_TYPE_ARRAY && kv->arr_type == GGUF_TYPE_STRING) {
        set_strings(w, kv->key, GGUF_TYPE_ARRAY, kv->strs, kv->n);
    } else if (kv->type == GGUF_TYPE_ARRAY) {
        gguf_writer_set_arr(w, kv->key, kv->arr_type, kv->data, kv->n);
    } else {
        set_scalar(w, kv->key, kv->type, kv->data);
    }
}

/* Rebuild the key index after entries moved (rare: a few removed keys per file). */
static void reindex_keys(gguf_writer *w) {
    qk_strtab_free(&w->ktab);
    if (qk_strtab_init(&w->ktab, w->n_kv)) {
        w->oom = 1;
        return;
    }
    for (size_t i = 0; i < w->n_kv; i++) qk_strtab_insert(&w->ktab, w->kname, w->klen, (int32_t)i);
}

void gguf_writer_remove_key(gguf_writer *w, const char *key) {
    if (w->oom) return;
    const int32_t i = qk_strtab_find(&w->ktab, w->kname, w->klen, key, strlen(key));
    if (i < 0) return;
    wkv_clear(&w->kv[i]);
    free(w->kv[i].key);
    const size_t tail = w->n_kv - (size_t)i - 1;
    memmove(&w->kv[i], &w->kv[i + 1], tail * sizeof *w->kv);
    memmove(&w->kname[i], &w->kname[i + 1], tail * sizeof *w->kname);
    memmove(&w->klen[i], &w->klen[i + 1], tail * sizeof *w->klen);
    w->n_kv--;
    reindex_keys(w);
}

/* Room for one more tensor; t moves, so the name pointers into it are refreshed. */
static int grow_tensors(gguf_writer *w) {
    const size_t nc = w->cap_t ? 2 * w->cap_t : 64;
    wtensor *t = realloc(w->t, nc * sizeof *t);
    if (!t) return -1;
    w->t = t;
    for (size_t i = 0; i < w->n_t; i++) w->tname[i] = w->t[i].name;
    const char **tn = realloc(w->tname, nc * sizeof *tn);
    if (!tn) return -1;
    w->tname = tn;
    uint32_t *tl = realloc(w->tlen, nc * sizeof *tl);
    if (!tl) return -1;
    w->tlen = tl;
    w->cap_t = nc;
    return 0;
}

int gguf_writer_add_tensor(gguf_writer *w, const char *name, qk_type type, uint32_t n_dims,
                           const int64_t *ne, qk_err *err) {
    const qk_type_traits *tt = qk_type_get(type);
    if (w->header_written) return qk_errf(err, "internal error: tensor '%s' added after the header", name);
    if (!tt) return qk_errf(err, "tensor '%s': unknown type %d", name, (int)type);
    size_t len = strlen(name);
    if (len == 0 || len > GGUF_MAX_NAME) return qk_errf(err, "tensor name '%s' is empty or longer than %d bytes", name, GGUF_MAX_NAME);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS) return qk_errf(err, "tensor '%s': %u dimensions", name, n_dims);
    if (w->oom) return qk_errf(err, "out of memory");
    if (qk_strtab_find(&w->ttab, w->tname, w->tlen, name, len) >= 0)
        return qk_errf(err, "duplicate tensor name '%s'", name);
    wtensor t = {0};
    memcpy(t.name, name, len + 1);
    t.n_dims = n_dims;
    t.type = type;
    int64_t nel = 1;
    for (int i = 0; i < GGUF_MAX_DIMS; i++) {
        t.ne[i] = i < (int)n_dims ? ne[i] : 1;
        if (t.ne[i] < 1) return qk_errf(err, "tensor '%s': ne[%d] = %lld", name, i, (long long)t.ne[i]);
        nel *= t.ne[i];
    }
    if (t.ne[0] % tt->blck_size)
        return qk_errf(err, "tensor '%s': ne[0] = %lld is not a multiple of %s's block size %lld", name,
                       (long long)t.ne[0], tt->name, (long long)tt->blck_size);
    t.nbytes = (size_t)(nel / tt->blck_size) * tt->type_size;
    uint64_t off = 0;
    if (w->n_t) {
        const wtensor *p = &w->t[w->n_t - 1];
        off = (p->offset + p->nbytes + w->alignment - 1) / w->alignment * w->alignment;
    }
    t.offset = off;
    if (w->n_t == w->cap_t && grow_tensors(w)) return qk_errf(err, "out of memory adding tensor '%s'", name);
    w->t[w->n_t] = t;
    w->tname[w->n_t] = w->t[w->n_t].name;
    w->tlen[w->n_t] = (uint32_t)len;
    if (qk_strtab_add(&w->ttab, w->tname, w->tlen, (int32_t)w->n_t) == -2)
        return qk_errf(err, "out of memory adding tensor '%s'", name);
    return (int)w->n_t++;
}

static void put(gguf_writer *w, const void *p, size_t n) {
    if (!w->failed && n && fwrite(p, 1, n, w->f) != n) w->failed = errno ? errno : EIO;
}
static void put_u32(gguf_writer *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(gguf_writer *w, uint64_t v) { put(w, &v, 8); }
static void put_str(gguf_writer *w, const char *s, uint64_t len) {
    put_u64(w, len);
    put(w, s, len);
}
static void put_pad(gguf_writer *w, uint64_t pos) {
    static const uint8_t zeros[256];
    uint64_t pad = (w->alignment - pos % w->alignment) % w->alignment;
    while (pad) {
        size_t n = pad > sizeof zeros ? sizeof zeros : pad;
        put(w, zeros, n);
        pad -= n;
    }
}

static uint64_t header_size(const gguf_writer *w) {
    uint64_t n = 24;
    for (size_t i = 0; i < w->n_kv; i++) {
        const wkv *k = &w->kv[i];
        n += 8 + strlen(k->key) + 4;
        if (k->type == GGUF_TYPE_ARRAY) n += 12;
        gguf_vtype et = k->type == GGUF_TYPE_ARRAY ? k->arr_type : k->type;
        if (et == GGUF_TYPE_STRING)
            for (uint64_t j = 0; j < k->n; j++) n += 8 + k->lens[j];
        else
            n += gguf_vtype_size(et) * k->n;
    }
    for (size_t i = 0; i < w->n_t; i++) n += 8 + strlen(w->t[i].name) + 4 + 8 * w->t[i].n_dims + 4 + 8;
    return n;
}

uint64_t gguf_writer_total_size(const gguf_writer *w) {
    uint64_t h = header_size(w);
    uint64_t data = (h + w->alignment - 1) / w->alignment * w->alignment;
    if (w->n_t) {
        const wtensor *p = &w->t[w->n_t - 1];
        data += (p->offset + p->nbytes + w->alignment - 1) / w->alignment * w->alignment;
    }
    return data;
}

int gguf_writer_write_header(gguf_writer *w, qk_err *err) {
    if (w->header_written) return qk_errf(err, "internal error: GGUF header written twice");
    if (w->oom) return qk_errf(err, "out of memory building the header of '%s'", w->path);
    put_u32(w, GGUF_MAGIC);
    put_u32(w, GGUF_VERSION);
    put_u64(w, w->n_t);
    put_u64(w, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        const wkv *k = &w->kv[i];
        put_str(w, k->key, strlen(k->key));
        put_u32(w, k->type);
        gguf_vtype et = k->type;
        if (k->type == GGUF_TYPE_ARRAY) {
            put_u32(w, k->arr_type);
            put_u64(w, k->n);
            et = k->arr_type;
        }
        if (et == GGUF_TYPE_STRING)
            for (uint64_t j = 0; j < k->n; j++) put_str(w, k->strs[j], k->lens[j]);
        else
            put(w, k->data, gguf_vtype_size(et) * k->n);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        put_str(w, t->name, strlen(t->name));
        put_u32(w, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) put_u64(w, (uint64_t)t->ne[d]);
        put_u32(w, t->type);
        put_u64(w, t->offset);
    }
    put_pad(w, header_size(w));
    w->header_written = 1;
    if (w->failed) return qk_errf(err, "cannot write '%s': %s", w->path, strerror(w->failed));
    return 0;
}

int gguf_writer_write_tensor_data(gguf_writer *w, const void *data, size_t nbytes, qk_err *err) {
    if (!w->header_written || w->next_tensor >= w->n_t)
        return qk_errf(err, "internal error: unexpected tensor data");
    const wtensor *t = &w->t[w->next_tensor];
    if (nbytes != t->nbytes)
        return qk_errf(err, "internal error: tensor '%s' has %zu bytes, %zu declared", t->name, nbytes, t->nbytes);
    put(w, data, nbytes);
    put_pad(w, t->offset + nbytes);
    w->next_tensor++;
    if (w->failed) return qk_errf(err, "cannot write '%s': %s", w->path, strerror(w->failed));
    return 0;
}

static void writer_free(gguf_writer *w) {
    for (size_t i = 0; i < w->n_kv; i++) {
        wkv_clear(&w->kv[i]);
        free(w->kv[i].key);
    }
    free(w->kv);
    free(w->t);
    free(w->kname);
    free(w->klen);
    free(w->tname);
    free(w->tlen);
    qk_strtab_free(&w->ktab);
    qk_strtab_free(&w->ttab);
    free(w->path);
    free(w);
}

int gguf_writer_finish(gguf_writer *w, qk_err *err) {
    int rc = 0;
    if (!w->header_written) rc = gguf_writer_write_header(w, err);
    if (!rc && w->next_tensor != w->n_t)
        rc = qk_errf(err, "internal error: %zu of %zu tensors written", w->next_tensor, w->n_t);
    if (!rc && w->failed) rc = qk_errf(err, "cannot write '%s': %s", w->path, strerror(w->failed));
    if (rc) qk_afile_abort(w->out);
    else rc = qk_afile_commit(w->out, err);
    writer_free(w);
    return rc;
}

void gguf_writer_abort(gguf_writer *w) {
    if (!w) return;
    qk_afile_abort(w->out);
    writer_free(w);
}
