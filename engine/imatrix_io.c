/*
 * imatrix_io.c — importance-matrix files: qk_imatrix_read (the format told by the GGUF
 * magic), qk_imatrix_write, and the legacy .dat format of llama.cpp c392e50 (layout in
 * imatrix.h). The GGUF form is in imatrix_gguf.c; the in-memory structure in imatrix.c.
 *
 * Untrusted input: the .dat reader never trusts a count or a length. Every length is
 * bounded by the bytes left in the file before anything is allocated for it, n_entries by
 * what the rest of the file could hold (17 bytes is the smallest entry), and the entries
 * array grows with the entries actually read, never with the count the file claims.
 * Names are checked for duplicates with the keyed hash index (qk_imatrix_append), so a
 * hostile file cannot make that quadratic.
 */
#include "imatrix.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "afile.h"

/* Largest value count of one entry: a .dat stores it as an int32. */
#define IM_MAX_VALUES INT32_MAX
/* The largest float below 2^31: counts up to here convert to an int32 ncall exactly. */
#define IM_MAX_NCALL_F 2147483520.0f

/* ------------------------------------------------------------------ .dat reading --- */

typedef struct dat_reader {
    FILE *f;
    const char *path;
    uint64_t left; /* bytes not yet read */
} dat_reader;

static int dat_bytes(dat_reader *r, void *p, uint64_t n, const char *what, qk_err *err) {
    if (n > r->left)
        return qk_errf(err, "%s: truncated: %s needs %llu bytes but only %llu are left", r->path, what,
                       (unsigned long long)n, (unsigned long long)r->left);
    if (n && fread(p, 1, (size_t)n, r->f) != (size_t)n)
        return qk_errf(err, "%s: read error (or the file shrank) while reading %s", r->path, what);
    r->left -= n;
    return 0;
}

static int dat_i32(dat_reader *r, int32_t *v, const char *what, qk_err *err) {
    return dat_bytes(r, v, 4, what, err);
}

/* A string of len bytes (len already checked >= 0), NUL-terminated, in *out. */
static int dat_string(dat_reader *r, int32_t len, char **out, const char *what, qk_err *err) {
    if ((uint64_t)len > r->left)
        return qk_errf(err, "%s: truncated or corrupt: %s is %d bytes long but only %llu bytes are left",
                       r->path, what, len, (unsigned long long)r->left);
    char *s = malloc((size_t)len + 1);
    if (!s) return qk_errf(err, "%s: out of memory reading %s", r->path, what);
    if (dat_bytes(r, s, (uint64_t)len, what, err) != 0) {
        free(s);
        return -1;
    }
    s[len] = 0;
    if (memchr(s, 0, (size_t)len)) {
        free(s);
        return qk_errf(err, "%s: %s contains a NUL byte", r->path, what);
    }
    *out = s;
    return 0;
}

/* Index of the first value that is not a finite number >= 0, or -1. */
static int64_t first_bad(const float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]) || v[i] < 0.0f) return i;
    return -1;
}

static qk_imatrix *read_dat(dat_reader *r, qk_err *err) {
    qk_imatrix *im = qk_imatrix_new();
    char *name = NULL;
    if (!im) {
        qk_errf(err, "%s: out of memory", r->path);
        return NULL;
    }
    int32_t n_entries;
    if (dat_i32(r, &n_entries, "the entry count", err) != 0) goto fail;
    if (n_entries < 1) {
        qk_errf(err, "%s: no entries (n_entries = %d): not an importance matrix with data", r->path, n_entries);
        goto fail;
    }
    /* Smallest entry: len, 1 name byte, ncall, nval, 1 float. */
    if ((uint64_t)n_entries > r->left / 17) {
        qk_errf(err, "%s: corrupt: claims %d entries but the %llu bytes left hold at most %llu", r->path,
                n_entries, (unsigned long long)r->left, (unsigned long long)(r->left / 17));
        goto fail;
    }
    for (int32_t i = 0; i < n_entries; i++) {
        char what[64];
        int32_t len, ncall, nval;
        snprintf(what, sizeof what, "the name length of entry %d", i);
        if (dat_i32(r, &len, what, err) != 0) goto fail;
        snprintf(what, sizeof what, "the name of entry %d", i);
        if (len < 1) {
            qk_errf(err, "%s: corrupt: entry %d has a name length of %d", r->path, i, len);
            goto fail;
        }
        if (dat_string(r, len, &name, what, err) != 0) goto fail;
        if (dat_i32(r, &ncall, "ncall", err) != 0 || dat_i32(r, &nval, "nval", err) != 0) goto fail;
        if (ncall < 0) {
            qk_errf(err, "%s: corrupt: entry '%s' has ncall = %d", r->path, name, ncall);
            goto fail;
        }
        if (nval < 1 || (uint64_t)nval * 4 > r->left) {
            qk_errf(err, "%s: corrupt or truncated: entry '%s' claims %d values but %llu bytes are left", r->path,
                    name, nval, (unsigned long long)r->left);
            goto fail;
        }
        if (qk_imatrix_find(im, name)) {
            qk_errf(err, "%s: entry '%s' appears twice", r->path, name);
            goto fail;
        }
        qk_err e2;
        qk_imatrix_entry *e = qk_imatrix_append(im, name, nval, 1, &e2);
        if (!e) {
            qk_errf(err, "%s: %s", r->path, e2.msg);
            goto fail;
        }
        if (dat_bytes(r, e->in_sum2, (uint64_t)nval * 4, "the values", err) != 0) goto fail;
        int64_t bad = first_bad(e->in_sum2, nval);
        if (bad >= 0) {
            qk_errf(err, "%s: entry '%s' value %lld is %g: sums of squares must be finite and >= 0", r->path, name,
                    (long long)bad, (double)e->in_sum2[bad]);
            goto fail;
        }
        /* llama-quantize divides by ncall only when ncall > 0; a count of 1 keeps the
         * stored value as it is for ncall = 0 (imatrix.h). */
        e->counts[0] = ncall > 0 ? (float)ncall : 1.0f;
        free(name);
        name = NULL;
    }
    /* Trailer: last_call, then the dataset name; old files end before either. */
    if (r->left == 0) return im;
    int32_t last_call, dlen;
    if (dat_i32(r, &last_call, "last_call (the chunk count)", err) != 0) goto fail;
    if (last_call < 0) {
        qk_errf(err, "%s: corrupt: the chunk count (last_call) is %d", r->path, last_call);
        goto fail;
    }
    im->chunk_count = last_call;
    if (r->left == 0) return im;
    if (dat_i32(r, &dlen, "the dataset name length", err) != 0) goto fail;
    if (dlen < 0) {
        qk_errf(err, "%s: corrupt: the dataset name length is %d", r->path, dlen);
        goto fail;
    }
    if (dat_string(r, dlen, &name, "the dataset name", err) != 0) goto fail;
    if (r->left != 0) {
        qk_errf(err, "%s: corrupt: %llu unexpected bytes after the dataset name", r->path,
                (unsigned long long)r->left);
        goto fail;
    }
    if (dlen > 0) {
        im->datasets = malloc(sizeof *im->datasets);
        if (!im->datasets) {
            qk_errf(err, "%s: out of memory", r->path);
            goto fail;
        }
        im->datasets[0] = name;
        im->n_datasets = 1;
    } else {
        free(name);
    }
    return im;
fail:
    free(name);
    qk_imatrix_free(im);
    return NULL;
}

qk_imatrix *qk_imatrix_read(const char *path, qk_err *err) {
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below). */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        qk_errf(err, "%s: cannot open imatrix: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        qk_errf(err, "%s: not a regular file (an imatrix .dat or .gguf file is expected)", path);
        return NULL;
    }
    uint32_t magic = 0;
    if (st.st_size >= 4 && pread(fd, &magic, 4, 0) == 4 && magic == GGUF_MAGIC) {
        close(fd);
        return qk_imatrix_read_gguf(path, err);
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        qk_errf(err, "%s: cannot open imatrix: %s", path, strerror(errno));
        return NULL;
    }
    dat_reader r = {f, path, (uint64_t)st.st_size};
    qk_imatrix *im = read_dat(&r, err);
    fclose(f);
    return im;
}

/* ------------------------------------------------------------------ .dat writing --- */

/* The ncall a .dat entry is written with: the common integer count of its matrices, or 0
 * when they have none (then it is written as ncall = 1 with the weights as values). */
static int32_t dat_ncall(const qk_imatrix_entry *e) {
    float c = e->counts[0];
    for (int64_t m = 1; m < e->n_mat; m++)
        if (e->counts[m] != c) return 0;
    if (!(c >= 1.0f && c <= IM_MAX_NCALL_F) || c != floorf(c)) return 0;
    return (int32_t)c;
}

static int write_dat(const qk_imatrix *im, const char *path, qk_err *err) {
    if (im->n_entries > INT32_MAX || im->chunk_count < 0)
        return qk_errf(err, "%s: cannot write this imatrix as .dat (too many entries or a negative chunk count)",
                       path);
    qk_afile *a = qk_afile_create(path, err);
    if (!a) return -1;
    float *tmp = NULL;
    int32_t n = (int32_t)im->n_entries;
    if (qk_afile_write(a, &n, 4, err) != 0) goto fail;
    for (int64_t i = 0; i < im->n_entries; i++) {
        const qk_imatrix_entry *e = &im->entries[i];
        size_t len = strlen(e->name);
        int64_t nv = e->n_cols * e->n_mat;
        if (len > INT32_MAX || nv > IM_MAX_VALUES) {
            qk_errf(err, "%s: entry '%s' is too large for a .dat", path, e->name);
            goto fail;
        }
        int32_t len32 = (int32_t)len, nval = (int32_t)nv, ncall = dat_ncall(e);
        const float *vals = e->in_sum2;
        if (ncall == 0) { /* ncall = 1 and the weights: value / ncall is the same weight */
            ncall = 1;
            tmp = malloc(sizeof *tmp * (size_t)nv);
            if (!tmp) {
                qk_errf(err, "%s: out of memory", path);
                goto fail;
            }
            for (int64_t m = 0; m < e->n_mat; m++) qk_imatrix_weights(e, m, tmp + m * e->n_cols);
            vals = tmp;
        }
        if (qk_afile_write(a, &len32, 4, err) != 0 || qk_afile_write(a, e->name, len, err) != 0 ||
            qk_afile_write(a, &ncall, 4, err) != 0 || qk_afile_write(a, &nval, 4, err) != 0 ||
            qk_afile_write(a, vals, sizeof(float) * (size_t)nv, err) != 0)
            goto fail;
        free(tmp);
        tmp = NULL;
    }
    const char *ds = im->n_datasets > 0 ? im->datasets[0] : "";
    size_t dlen = strlen(ds);
    if (dlen > INT32_MAX) {
        qk_errf(err, "%s: the dataset name is too long", path);
        goto fail;
    }
    int32_t last_call = im->chunk_count, dlen32 = (int32_t)dlen;
    if (qk_afile_write(a, &last_call, 4, err) != 0 || qk_afile_write(a, &dlen32, 4, err) != 0 ||
        qk_afile_write(a, ds, dlen, err) != 0)
        goto fail;
    return qk_afile_commit(a, err);
fail:
    free(tmp);
    qk_afile_abort(a);
    return -1;
}

int qk_imatrix_write(const qk_imatrix *im, const char *path, qk_imatrix_format fmt, qk_err *err) {
    if (!im || im->n_entries < 1)
        return qk_errf(err, "%s: the importance matrix has no entries: nothing to write", path);
    if (fmt == QK_IMATRIX_GGUF) return qk_imatrix_write_gguf(im, path, err);
    if (fmt == QK_IMATRIX_DAT) return write_dat(im, path, err);
    return qk_errf(err, "%s: unknown imatrix format %d", path, (int)fmt);
}
