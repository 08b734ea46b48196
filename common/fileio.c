/*
 * fileio.c — growable text buffer, whole-file read, atomic write, mkdir -p.
 * See fileio.h for the contracts (atomic write: engine/afile.h).
 */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- growable buffer ---------------------------------------------------------------- */

static bool sb_reserve(qk_sb *sb, size_t extra) {
    if (sb->oom) return false;
    if (extra > (size_t)-1 / 2 - sb->len) {
        sb->oom = true;
        return false;
    }
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap) return true;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < need) cap *= 2;
    char *nb = realloc(sb->buf, cap);
    if (!nb) {
        sb->oom = true;
        return false;
    }
    sb->buf = nb;
    sb->cap = cap;
    return true;
}

void qk_sb_append(qk_sb *sb, const char *s, size_t n) {
    if (!sb_reserve(sb, n)) return;
    if (n) memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = 0;
}

void qk_sb_puts(qk_sb *sb, const char *s) { qk_sb_append(sb, s, strlen(s)); }

void qk_sb_vprintf(qk_sb *sb, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        sb->oom = true;
        return;
    }
    if (!sb_reserve(sb, (size_t)n)) return;
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}

void qk_sb_printf(qk_sb *sb, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    qk_sb_vprintf(sb, fmt, ap);
    va_end(ap);
}

const char *qk_sb_str(const qk_sb *sb) { return sb->buf ? sb->buf : ""; }

bool qk_sb_ok(const qk_sb *sb) { return !sb->oom; }

void qk_sb_free(qk_sb *sb) {
    free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    sb->oom = false;
}

int qk_sb_write_file(qk_sb *sb, const char *path, qk_err *err) {
    const int rc = qk_sb_ok(sb) ? qk_afile_write_all(path, qk_sb_str(sb), sb->len, err) : qk_errf(err, "out of memory");
    qk_sb_free(sb);
    return rc;
}

/* ---- files ---------------------------------------------------------------------------- */

char *qk_file_read(const char *path, size_t *len, qk_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        qk_errf(err, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    qk_sb sb = {0};
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0 && sb.len <= QK_FILE_READ_MAX) qk_sb_append(&sb, chunk, r);
    int bad = ferror(f);
    fclose(f);
    if (sb.len > QK_FILE_READ_MAX) { /* e.g. /dev/zero: refuse before memory runs out */
        qk_sb_free(&sb);
        qk_errf(err, "'%s' is larger than %zu MiB — use a smaller file", path, QK_FILE_READ_MAX >> 20);
        return NULL;
    }
    if (bad) {
        qk_sb_free(&sb);
        qk_errf(err, "cannot read '%s'", path);
        return NULL;
    }
    if (!qk_sb_ok(&sb)) {
        qk_sb_free(&sb);
        qk_errf(err, "out of memory reading '%s'", path);
        return NULL;
    }
    if (!sb.buf) qk_sb_append(&sb, "", 0); /* empty file: still return a "" buffer */
    if (!sb.buf) {
        qk_errf(err, "out of memory reading '%s'", path);
        return NULL;
    }
    if (len) *len = sb.len;
    return sb.buf;
}


int qk_file_mkdir_p(const char *path, qk_err *err) {
    size_t n = strlen(path);
    if (n == 0) return qk_errf(err, "empty directory name");
    char *buf = malloc(n + 1);
    if (!buf) return qk_errf(err, "out of memory");
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char saved = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            qk_errf(err, "cannot create directory '%s': %s", buf, strerror(e));
            free(buf);
            return -1;
        }
        buf[i] = saved;
    }
    struct stat st;
    int ok = stat(buf, &st) == 0 && S_ISDIR(st.st_mode);
    free(buf);
    if (!ok) return qk_errf(err, "'%s' exists and is not a directory", path);
    return 0;
}

bool qk_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}
