/*
 * gguf.c — GGUF v3 reader (mmap, validated). See gguf.h; the writer is gguf_writer.c.
 *
 * Reader invariants: after gguf_open() succeeds, every string, array and tensor referenced
 * by the context lies inside the mapping; every tensor has a known type, 1..4 dims with
 * ne[i] >= 1, ne[0] divisible by its block size, an aligned offset, and no overflow in its
 * element count or byte size. Nothing is trusted before it has been bounds-checked.
 */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strtab.h"

/* ------------------------------------------------------------------ reader ---------- */

typedef struct cursor {
    const uint8_t *base;
    size_t size;
    size_t pos;
    const char *path;
    qk_err *err;
} cursor;

static int need(cursor *c, size_t n, const char *what) {
    if (n > c->size - c->pos)
        return qk_errf(c->err, "%s: truncated GGUF file: %s at byte %zu runs past the end (%zu bytes)",
                       c->path, what, c->pos, c->size);
    return 0;
}

static int rd_u32(cursor *c, uint32_t *v, const char *what) {
    if (need(c, 4, what)) return -1;
    memcpy(v, c->base + c->pos, 4);
    c->pos += 4;
    return 0;
}

static int rd_u64(cursor *c, uint64_t *v, const char *what) {
    if (need(c, 8, what)) return -1;
    memcpy(v, c->base + c->pos, 8);
    c->pos += 8;
    return 0;
}

static int rd_str(cursor *c, gguf_str *s, const char *what) {
    uint64_t len;
    if (rd_u64(c, &len, what)) return -1;
    if (len > c->size - c->pos)
        return qk_errf(c->err, "%s: corrupt GGUF file: %s has length %llu past the end of the file",
                       c->path, what, (unsigned long long)len);
    s->ptr = (const char *)(c->base + c->pos);
    s->len = len;
    c->pos += len;
    return 0;
}

size_t gguf_vtype_size(gguf_vtype t) {
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

const char *gguf_vtype_name(gguf_vtype t) {
    static const char *names[GGUF_TYPE_COUNT] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                                 "bool", "str", "arr", "u64", "i64", "f64"};
    return (unsigned)t < GGUF_TYPE_COUNT ? names[t] : "?";
}

static char *dup_str(gguf_str s) {
    char *p = malloc(s.len + 1);
    if (!p) return NULL;
    memcpy(p, s.ptr, s.len);
    p[s.len] = 0;
    return p;
}

static int read_kv(cursor *c, gguf_kv *kv, uint64_t idx) {
    gguf_str key;
    char what[64];
    snprintf(what, sizeof what, "key of metadata pair %llu", (unsigned long long)idx);
    if (rd_str(c, &key, what)) return -1;
    if (key.len == 0 || key.len > UINT32_MAX || memchr(key.ptr, 0, key.len))
        return qk_errf(c->err, "%s: corrupt GGUF file: metadata pair %llu has an empty or invalid key",
                       c->path, (unsigned long long)idx);
    kv->key = dup_str(key);
    if (!kv->key) return qk_errf(c->err, "%s: out of memory", c->path);
    uint32_t t;
    if (rd_u32(c, &t, "metadata value type")) return -1;
    if (t >= GGUF_TYPE_COUNT)
        return qk_errf(c->err, "%s: corrupt GGUF file: key '%s' has unknown value type %u", c->path,
                       kv->key, t);
    kv->type = (gguf_vtype)t;
    kv->n = 1;
    gguf_vtype et = kv->type;
    if (kv->type == GGUF_TYPE_ARRAY) {
        uint32_t at;
        uint64_t n;
        if (rd_u32(c, &at, "array element type") || rd_u64(c, &n, "array length")) return -1;
        if (at >= GGUF_TYPE_COUNT || at == GGUF_TYPE_ARRAY)
            return qk_errf(c->err, "%s: corrupt GGUF file: key '%s' is an array of unsupported type %u",
                           c->path, kv->key, at);
        kv->arr_type = (gguf_vtype)at;
        kv->n = n;
        et = kv->arr_type;
        /* every element takes at least 1 byte (strings at least 8): bound n by the file */
        size_t min_elem = et == GGUF_TYPE_STRING ? 8 : gguf_vtype_size(et);
        if (n > (c->size - c->pos) / min_elem)
            return qk_errf(c->err, "%s: corrupt GGUF file: array '%s' claims %llu elements, more than the file holds",
                           c->path, kv->key, (unsigned long long)n);
    }
    if (et == GGUF_TYPE_STRING) {
        /* grown as the strings are read: memory follows the file, not the claimed count */
        size_t cap = 16;
        kv->strs = malloc(cap * sizeof *kv->strs);
        if (!kv->strs) return qk_errf(c->err, "%s: out of memory", c->path);
        snprintf(what, sizeof what, "string value of '%.40s'", kv->key);
        for (uint64_t i = 0; i < kv->n; i++) {
            if (i == cap) {
                gguf_str *s = realloc(kv->strs, 2 * cap * sizeof *s);
                if (!s) return qk_errf(c->err, "%s: out of memory", c->path);
                kv->strs = s;
                cap *= 2;
            }
            if (rd_str(c, &kv->strs[i], what)) return -1;
        }
        kv->data = NULL;
    } else {
        size_t es = gguf_vtype_size(et);
        size_t total = es * kv->n; /* n bounded above, no overflow */
        snprintf(what, sizeof what, "value of '%.40s'", kv->key);
        if (need(c, total, what)) return -1;
        kv->data = c->base + c->pos;
        if (et == GGUF_TYPE_BOOL) {
            for (uint64_t i = 0; i < kv->n; i++)
                if (c->base[c->pos + i] > 1)
                    return qk_errf(c->err, "%s: corrupt GGUF file: bool '%s' has value %u", c->path,
                                   kv->key, c->base[c->pos + i]);
        }
        c->pos += total;
    }
    return 0;
}

static int read_tensor_info(cursor *c, gguf_tensor *t, uint64_t idx) {
    gguf_str name;
    char what[64];
    snprintf(what, sizeof what, "name of tensor %llu", (unsigned long long)idx);
    if (rd_str(c, &name, what)) return -1;
    if (name.len == 0 || name.len > GGUF_MAX_NAME || memchr(name.ptr, 0, name.len))
        return qk_errf(c->err, "%s: corrupt GGUF file: tensor %llu has an empty, invalid or too long name (%llu bytes, max %d)",
                       c->path, (unsigned long long)idx, (unsigned long long)name.len, GGUF_MAX_NAME);
    memcpy(t->name, name.ptr, name.len);
    t->name[name.len] = 0;
    if (rd_u32(c, &t->n_dims, "tensor n_dims")) return -1;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return qk_errf(c->err, "%s: corrupt GGUF file: tensor '%s' has %u dimensions (1..%d allowed)",
                       c->path, t->name, t->n_dims, GGUF_MAX_DIMS);
    uint64_t nel = 1;
    for (int i = 0; i < GGUF_MAX_DIMS; i++) t->ne[i] = 1;
    for (uint32_t i = 0; i < t->n_dims; i++) {
        uint64_t ne;
        if (rd_u64(c, &ne, "tensor shape")) return -1;
        if (ne == 0 || ne > (uint64_t)INT64_MAX || nel > (uint64_t)INT64_MAX / ne)
            return qk_errf(c->err, "%s: corrupt GGUF file: tensor '%s' has an invalid shape (ne[%u] = %llu)",
                           c->path, t->name, i, (unsigned long long)ne);
        t->ne[i] = (int64_t)ne;
        nel *= ne;
    }
    uint32_t type;
    if (rd_u32(c, &type, "tensor type") || rd_u64(c, &t->offset, "tensor offset")) return -1;
    const qk_type_traits *tt = qk_type_get(type);
    if (!tt || !tt->to_float)
        return qk_errf(c->err, "%s: tensor '%s' has ggml type %u, which qkit does not support", c->path,
                       t->name, type);
    t->type = (qk_type)type;
    if (t->ne[0] % tt->blck_size != 0)
        return qk_errf(c->err, "%s: corrupt GGUF file: tensor '%s' of type %s has ne[0] = %lld, not a multiple of the block size %lld",
                       c->path, t->name, tt->name, (long long)t->ne[0], (long long)tt->blck_size);
    uint64_t blocks = nel / (uint64_t)tt->blck_size;
    if (blocks > SIZE_MAX / tt->type_size)
        return qk_errf(c->err, "%s: corrupt GGUF file: tensor '%s' is too large", c->path, t->name);
    t->nbytes = (size_t)blocks * tt->type_size;
    return 0;
}

/* The name index: keyed hash tables (strtab.h) over the metadata keys and the tensor
 * names, with the name arrays they refer to. Built while the header is read, it finds
 * duplicates in O(n) expected time whatever names a hostile file chooses, and serves
 * gguf_find_key / gguf_find_tensor. */
typedef struct gguf_index {
    qk_strtab keys, tensors;
    const char **kname, **tname; /* kv[i].key, tensors[i].name */
    uint32_t *klen, *tlen;
} gguf_index;

/* Double the metadata arrays (g->kv and the key name arrays) from *cap entries. */
static int grow_kv(gguf_ctx *g, size_t *cap) {
    const size_t nc = *cap ? 2 * *cap : 64;
    gguf_kv *kv = realloc(g->kv, nc * sizeof *kv);
    if (!kv) return -1;
    g->kv = kv;
    const char **kn = realloc(g->index->kname, nc * sizeof *kn);
    if (!kn) return -1;
    g->index->kname = kn;
    uint32_t *kl = realloc(g->index->klen, nc * sizeof *kl);
    if (!kl) return -1;
    g->index->klen = kl;
    *cap = nc;
    return 0;
}

/* The tensor name index, once every tensor info is read (their names no longer move). */
static int index_tensors(gguf_ctx *g, qk_err *err) {
    gguf_index *ix = g->index;
    const size_t n = g->n_tensors ? (size_t)g->n_tensors : 1;
    ix->tname = malloc(n * sizeof *ix->tname);
    ix->tlen = malloc(n * sizeof *ix->tlen);
    if (!ix->tname || !ix->tlen || qk_strtab_init(&ix->tensors, g->n_tensors))
        return qk_errf(err, "%s: out of memory indexing %llu tensors", g->path, (unsigned long long)g->n_tensors);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        ix->tname[i] = g->tensors[i].name;
        ix->tlen[i] = (uint32_t)strlen(g->tensors[i].name);
        if (qk_strtab_insert(&ix->tensors, ix->tname, ix->tlen, (int32_t)i) >= 0)
            return qk_errf(err, "%s: corrupt GGUF file: duplicate tensor name '%s'", g->path, g->tensors[i].name);
    }
    return 0;
}

typedef struct extent {
    uint64_t begin, end; /* [begin, end) in the data section */
    uint64_t tensor;
} extent;

static int extent_cmp(const void *a, const void *b) {
    const extent *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* No two tensors share a byte of data (a file that overlaps them is corrupt or crafted:
 * writing one would change another). Sorted by offset: O(n log n). */
static int check_overlap(const gguf_ctx *g, qk_err *err) {
    if (g->n_tensors < 2) return 0;
    extent *e = malloc((size_t)g->n_tensors * sizeof *e);
    if (!e) return qk_errf(err, "%s: out of memory checking tensor offsets", g->path);
    for (uint64_t i = 0; i < g->n_tensors; i++)
        e[i] = (extent){g->tensors[i].offset, g->tensors[i].offset + g->tensors[i].nbytes, i};
    qsort(e, (size_t)g->n_tensors, sizeof *e, extent_cmp);
    int rc = 0;
    for (uint64_t i = 0; i + 1 < g->n_tensors && !rc; i++)
        if (e[i].end > e[i + 1].begin)
            rc = qk_errf(err, "%s: corrupt GGUF file: tensors '%s' and '%s' overlap in the data section (offsets %llu and %llu)",
                         g->path, g->tensors[e[i].tensor].name, g->tensors[e[i + 1].tensor].name,
                         (unsigned long long)e[i].begin, (unsigned long long)e[i + 1].begin);
    free(e);
    return rc;
}

/* Mapped files, for gguf_mapped_path (a SIGBUS handler's lookup): fixed slots, a slot's
 * fields complete before its flag is set. A map beyond the slots is simply not named. */
#define MAP_SLOTS 16
static struct {
    volatile sig_atomic_t used;
    const char *base;
    size_t size;
    char path[4096];
} g_maps[MAP_SLOTS];
static pthread_mutex_t g_maps_mu = PTHREAD_MUTEX_INITIALIZER;

static void map_register(const gguf_ctx *g) {
    if (strlen(g->path) >= sizeof g_maps[0].path) return;
    pthread_mutex_lock(&g_maps_mu);
    for (int i = 0; i < MAP_SLOTS; i++)
        if (!g_maps[i].used) {
            g_maps[i].base = g->map;
            g_maps[i].size = g->map_size;
            strcpy(g_maps[i].path, g->path);
            atomic_signal_fence(memory_order_seq_cst);
            g_maps[i].used = 1;
            break;
        }
    pthread_mutex_unlock(&g_maps_mu);
}

static void map_unregister(const void *base) {
    pthread_mutex_lock(&g_maps_mu);
    for (int i = 0; i < MAP_SLOTS; i++)
        if (g_maps[i].used && g_maps[i].base == base) g_maps[i].used = 0;
    pthread_mutex_unlock(&g_maps_mu);
}

const char *gguf_mapped_path(const void *addr) {
    const char *a = addr;
    for (int i = 0; i < MAP_SLOTS; i++)
        if (g_maps[i].used && a >= g_maps[i].base && a < g_maps[i].base + g_maps[i].size) return g_maps[i].path;
    return NULL;
}

static void free_ctx(gguf_ctx *g) {
    if (!g) return;
    if (g->index) {
        qk_strtab_free(&g->index->keys);
        qk_strtab_free(&g->index->tensors);
        free(g->index->kname);
        free(g->index->klen);
        free(g->index->tname);
        free(g->index->tlen);
        free(g->index);
    }
    if (g->kv) {
        for (uint64_t i = 0; i < g->n_kv; i++) {
            free(g->kv[i].key);
            free(g->kv[i].strs);
        }
        free(g->kv);
    }
    free(g->tensors);
    if (g->map && g->map != MAP_FAILED) {
        map_unregister(g->map);
        munmap(g->map, g->map_size);
    }
    if (g->data_copy) munmap(g->data_copy, g->data_copy_size);
    if (g->fd >= 0) close(g->fd);
    free(g->path);
    free(g);
}

gguf_ctx *gguf_open(const char *path, qk_err *err) {
    /* O_NONBLOCK: opening a FIFO (e.g. -m /dev/stdin in a pipe, or a named pipe) would
     * otherwise block until a writer appears; it is then refused as not a regular file.
     * The flag has no effect on regular files. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        qk_errf(err, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        qk_errf(err, "'%s' is not a regular file", path);
        close(fd);
        return NULL;
    }
    gguf_ctx *g = calloc(1, sizeof *g);
    if (!g) {
        close(fd);
        qk_errf(err, "out of memory");
        return NULL;
    }
    g->fd = fd;
    g->path = strdup(path);
    g->map_size = (size_t)st.st_size;
    if (g->map_size < 24) {
        qk_errf(err, "%s: not a GGUF file (only %zu bytes)", path, g->map_size);
        free_ctx(g);
        return NULL;
    }
    g->map = mmap(NULL, g->map_size, PROT_READ, MAP_SHARED, fd, 0);
    if (g->map == MAP_FAILED) {
        g->map = NULL;
        qk_errf(err, "cannot map '%s': %s", path, strerror(errno));
        free_ctx(g);
        return NULL;
    }
    if (!g->path) {
        qk_errf(err, "out of memory");
        free_ctx(g);
        return NULL;
    }
    map_register(g);
    cursor c = {g->map, g->map_size, 0, path, err};
    uint32_t magic = 0;
    uint64_t n_tensors, n_kv;
    rd_u32(&c, &magic, "magic");
    if (magic != GGUF_MAGIC) {
        qk_errf(err, "%s: not a GGUF file (bad magic) — expected a .gguf model", path);
        goto fail;
    }
    rd_u32(&c, &g->version, "version");
    if (g->version != 2 && g->version != 3) {
        qk_errf(err, "%s: unsupported GGUF version %u (qkit reads versions 2 and 3)", path, g->version);
        goto fail;
    }
    if (rd_u64(&c, &n_tensors, "tensor count") || rd_u64(&c, &n_kv, "metadata count")) goto fail;
    /* each KV needs >= 12 bytes, each tensor info >= 24: bound the counts by the file (and
     * by the index's 31-bit entry numbers) */
    if (n_kv > g->map_size / 12 || n_tensors > g->map_size / 24 || n_kv > INT32_MAX || n_tensors > INT32_MAX) {
        qk_errf(err, "%s: corrupt GGUF file: header claims %llu tensors and %llu metadata pairs, more than the file can hold",
                path, (unsigned long long)n_tensors, (unsigned long long)n_kv);
        goto fail;
    }
    /* Memory follows what has been read, not the counts the header claims: the arrays grow
     * as entries are read. Duplicates are found through the hash index: a pairwise check
     * would be quadratic in a count that a hostile file sets to millions. */
    g->index = calloc(1, sizeof *g->index);
    if (!g->index || qk_strtab_init(&g->index->keys, 0)) {
        qk_errf(err, "out of memory");
        goto fail;
    }
    gguf_index *ix = g->index;
    size_t cap = 0;
    for (uint64_t i = 0; i < n_kv; i++) {
        if (i == cap && grow_kv(g, &cap)) {
            qk_errf(err, "%s: out of memory reading metadata pair %llu", path, (unsigned long long)i);
            goto fail;
        }
        memset(&g->kv[i], 0, sizeof g->kv[i]);
        g->n_kv = i + 1;
        if (read_kv(&c, &g->kv[i], i)) goto fail;
        ix->kname[i] = g->kv[i].key;
        ix->klen[i] = (uint32_t)strlen(g->kv[i].key);
        const int32_t dup = qk_strtab_add(&ix->keys, ix->kname, ix->klen, (int32_t)i);
        if (dup == -2) {
            qk_errf(err, "%s: out of memory reading metadata pair %llu", path, (unsigned long long)i);
            goto fail;
        }
        if (dup >= 0) {
            qk_errf(err, "%s: corrupt GGUF file: duplicate metadata key '%s'", path, g->kv[i].key);
            goto fail;
        }
    }
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t ai = gguf_find_key(g, "general.alignment");
    if (ai >= 0) {
        const gguf_kv *kv = &g->kv[ai];
        uint32_t a = 0;
        if (kv->type != GGUF_TYPE_UINT32 || (memcpy(&a, kv->data, 4), a == 0) || (a & (a - 1))) {
            qk_errf(err, "%s: corrupt GGUF file: general.alignment must be a u32 power of two", path);
            goto fail;
        }
        g->alignment = a;
    }
    cap = 0;
    for (uint64_t i = 0; i < n_tensors; i++) {
        if (i == cap) {
            const size_t nc = cap ? 2 * cap : 64;
            gguf_tensor *t = realloc(g->tensors, nc * sizeof *t);
            if (!t) {
                qk_errf(err, "%s: out of memory reading tensor %llu", path, (unsigned long long)i);
                goto fail;
            }
            g->tensors = t;
            cap = nc;
        }
        memset(&g->tensors[i], 0, sizeof g->tensors[i]);
        g->n_tensors = i + 1;
        if (read_tensor_info(&c, &g->tensors[i], i)) goto fail;
    }
    if (index_tensors(g, err)) goto fail;
    size_t data_off = (c.pos + g->alignment - 1) / g->alignment * g->alignment;
    if (n_tensors > 0 && data_off > g->map_size) {
        qk_errf(err, "%s: truncated GGUF file: no tensor data section", path);
        goto fail;
    }
    g->data_offset = data_off;
    size_t avail = g->map_size > data_off ? g->map_size - data_off : 0;
    for (uint64_t i = 0; i < n_tensors; i++) {
        gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment != 0) {
            qk_errf(err, "%s: corrupt GGUF file: tensor '%s' offset %llu is not a multiple of the alignment %u",
                    path, t->name, (unsigned long long)t->offset, g->alignment);
            goto fail;
        }
        if (t->offset > avail || t->nbytes > avail - t->offset) {
            qk_errf(err, "%s: truncated GGUF file: tensor '%s' (%zu bytes at data offset %llu) runs past the end of the file",
                    path, t->name, t->nbytes, (unsigned long long)t->offset);
            goto fail;
        }
        /* The kernels read F32 values and the F16/F32 scales of quant blocks in place: with
         * general.alignment 1 or 2 a tensor could start at an odd address (undefined
         * behaviour, a fault on strict-alignment CPUs). The map is page-aligned, so the
         * file offset decides; 4 bytes covers every type's widest field. */
        if ((data_off + t->offset) % 4 != 0) {
            qk_errf(err, "%s: tensor '%s' starts at file offset %llu, which is not 4-byte aligned (general.alignment %u) — "
                    "re-write the file with the default alignment 32",
                    path, t->name, (unsigned long long)(data_off + t->offset), g->alignment);
            goto fail;
        }
        t->data = (const uint8_t *)g->map + data_off + t->offset;
    }
    if (check_overlap(g, err)) goto fail;
    return g;
fail:
    free_ctx(g);
    return NULL;
}

void gguf_close(gguf_ctx *g) { free_ctx(g); }

int gguf_read_data(gguf_ctx *g, qk_err *err) {
    if (g->data_copy || g->map_size <= g->data_offset) return 0;
    const size_t lead = g->data_offset % 64, size = g->map_size - g->data_offset, chunk = (size_t)64 << 20;
    uint8_t *buf = mmap(NULL, lead + size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        return qk_errf(err, "%s: cannot allocate %zu bytes for the weights (%s) — qk-perplexity's --mmap (qk-bench "
                       "-mmp 1) reads them from the file instead", g->path, size, strerror(errno));
#ifdef MADV_HUGEPAGE
    (void)madvise(buf, lead + size, MADV_HUGEPAGE); /* advice: without it, 4 KiB pages */
#endif
    for (size_t done = 0; done < size;) {
        const size_t want = size - done < chunk ? size - done : chunk;
        const ssize_t r = pread(g->fd, buf + lead + done, want, (off_t)(g->data_offset + done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r < 0) qk_errf(err, "%s: cannot read the tensor data: %s", g->path, strerror(errno));
            else
                qk_errf(err, "%s: the file ends at byte %zu, inside its tensor data — it was truncated after it was "
                        "opened",
                        g->path, g->data_offset + done);
            munmap(buf, lead + size);
            return -1;
        }
        done += (size_t)r;
    }
    (void)mprotect(buf, lead + size, PROT_READ); /* weights are never written: a stray write faults */
    for (uint64_t i = 0; i < g->n_tensors; i++) g->tensors[i].data = buf + lead + g->tensors[i].offset;
    g->data_copy = buf;
    g->data_copy_size = lead + size;
    return 0;
}

int64_t gguf_find_key(const gguf_ctx *g, const char *key) {
    const gguf_index *ix = g->index;
    return qk_strtab_find(&ix->keys, ix->kname, ix->klen, key, strlen(key));
}

const gguf_tensor *gguf_find_tensor(const gguf_ctx *g, const char *name) {
    const gguf_index *ix = g->index;
    const int32_t i = qk_strtab_find(&ix->tensors, ix->tname, ix->tlen, name, strlen(name));
    return i >= 0 ? &g->tensors[i] : NULL;
}

double gguf_scalar_as_double(gguf_vtype t, const void *p) {
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
            float f32; uint64_t u64; int64_t i64; double f64; } v;
    size_t n = gguf_vtype_size(t);
    if (!n) return 0;
    memcpy(&v, p, n);
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_BOOL: return v.u8;
    case GGUF_TYPE_INT8: return v.i8;
    case GGUF_TYPE_UINT16: return v.u16;
    case GGUF_TYPE_INT16: return v.i16;
    case GGUF_TYPE_UINT32: return v.u32;
    case GGUF_TYPE_INT32: return v.i32;
    case GGUF_TYPE_FLOAT32: return v.f32;
    case GGUF_TYPE_UINT64: return (double)v.u64;
    case GGUF_TYPE_INT64: return (double)v.i64;
    case GGUF_TYPE_FLOAT64: return v.f64;
    default: return 0;
    }
}

static const gguf_kv *scalar_kv(const gguf_ctx *g, const char *key) {
    int64_t i = gguf_find_key(g, key);
    if (i < 0) return NULL;
    const gguf_kv *kv = &g->kv[i];
    if (kv->type == GGUF_TYPE_ARRAY || kv->type == GGUF_TYPE_STRING) return NULL;
    return kv;
}

static int is_int_type(gguf_vtype t) {
    return t <= GGUF_TYPE_INT32 || t == GGUF_TYPE_UINT64 || t == GGUF_TYPE_INT64;
}

int gguf_get_i64(const gguf_ctx *g, const char *key, int64_t *out) {
    const gguf_kv *kv = scalar_kv(g, key);
    if (!kv || !is_int_type(kv->type)) return -1;
    if (kv->type == GGUF_TYPE_UINT64) {
        uint64_t u;
        memcpy(&u, kv->data, 8);
        if (u > (uint64_t)INT64_MAX) return -1;
        *out = (int64_t)u;
    } else if (kv->type == GGUF_TYPE_INT64) {
        memcpy(out, kv->data, 8);
    } else {
        *out = (int64_t)gguf_scalar_as_double(kv->type, kv->data);
    }
    return 0;
}

int gguf_get_u32(const gguf_ctx *g, const char *key, uint32_t *out) {
    int64_t v;
    if (gguf_get_i64(g, key, &v) || v < 0 || v > (int64_t)UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

int gguf_get_f32(const gguf_ctx *g, const char *key, float *out) {
    const gguf_kv *kv = scalar_kv(g, key);
    if (!kv || kv->type == GGUF_TYPE_BOOL) return -1;
    *out = (float)gguf_scalar_as_double(kv->type, kv->data);
    return 0;
}

int gguf_get_bool(const gguf_ctx *g, const char *key, bool *out) {
    const gguf_kv *kv = scalar_kv(g, key);
    if (!kv || kv->type != GGUF_TYPE_BOOL) return -1;
    *out = *(const uint8_t *)kv->data != 0;
    return 0;
}

int gguf_get_str(const gguf_ctx *g, const char *key, gguf_str *out) {
    int64_t i = gguf_find_key(g, key);
    if (i < 0 || g->kv[i].type != GGUF_TYPE_STRING) return -1;
    *out = g->kv[i].strs[0];
    return 0;
}

int64_t gguf_tensor_nelements(const gguf_tensor *t) {
    return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}
