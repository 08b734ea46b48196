/* afile.c — atomic output files and the temporary-file registry (see afile.h). */
#include "afile.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_PATH_MAX 4096

/* The registry: fixed storage (no malloc), read by qk_afile_cleanup_all from signal
 * handlers. A slot's path is complete before its flag is set. */
static char g_paths[QK_AFILE_SLOTS][TMP_PATH_MAX];
static volatile sig_atomic_t g_used[QK_AFILE_SLOTS];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

struct qk_afile {
    FILE *f;
    int slot;
    char *path; /* the target */
};

/* Reserve a slot and create the temporary in it (mkstemp writes the name into the slot). */
static int reserve(const char *path, int *fd, qk_err *err) {
    const size_t n = strlen(path);
    if (n + 12 > TMP_PATH_MAX) return qk_errf(err, "output path too long: %s", path);
    pthread_mutex_lock(&g_mu);
    int slot = -1;
    for (int i = 0; i < QK_AFILE_SLOTS && slot < 0; i++)
        if (!g_used[i]) slot = i;
    if (slot < 0) {
        pthread_mutex_unlock(&g_mu);
        return qk_errf(err, "too many output files open at once (%d) writing %s", QK_AFILE_SLOTS, path);
    }
    memcpy(g_paths[slot], path, n);
    memcpy(g_paths[slot] + n, ".tmp.XXXXXX", 12);
    /* flag first, under the lock: a signal between mkstemp and the flag would leave the
     * file behind; one before mkstemp unlinks a name that does not exist yet (harmless) */
    g_used[slot] = 1;
    *fd = mkstemp(g_paths[slot]);
    if (*fd < 0) {
        const int e = errno;
        g_used[slot] = 0;
        pthread_mutex_unlock(&g_mu);
        return qk_errf(err, "cannot create '%s': %s — check that its directory exists and is writable", path,
                       strerror(e));
    }
    pthread_mutex_unlock(&g_mu);
    return slot;
}

static void release(int slot) {
    pthread_mutex_lock(&g_mu);
    g_used[slot] = 0;
    pthread_mutex_unlock(&g_mu);
}

qk_afile *qk_afile_create(const char *path, qk_err *err) {
    qk_afile *a = calloc(1, sizeof *a);
    char *p = strdup(path);
    if (!a || !p) {
        free(a);
        free(p);
        qk_errf(err, "out of memory");
        return NULL;
    }
    int fd = -1;
    const int slot = reserve(path, &fd, err);
    if (slot < 0) {
        free(a);
        free(p);
        return NULL;
    }
    /* mkstemp makes 0600; outputs are ordinary data files */
    const mode_t um = umask(0);
    umask(um);
    a->f = fchmod(fd, 0644 & ~um) == 0 ? fdopen(fd, "wb") : NULL;
    if (!a->f) {
        const int e = errno;
        close(fd);
        unlink(g_paths[slot]);
        release(slot);
        free(a);
        free(p);
        qk_errf(err, "cannot create '%s': %s", path, strerror(e));
        return NULL;
    }
    a->slot = slot;
    a->path = p;
    return a;
}

FILE *qk_afile_stream(qk_afile *a) { return a->f; }

const char *qk_afile_temp_path(const qk_afile *a) { return g_paths[a->slot]; }

int qk_afile_write(qk_afile *a, const void *data, size_t n, qk_err *err) {
    if (n && fwrite(data, 1, n, a->f) != n)
        return qk_errf(err, "cannot write '%s': %s", a->path, strerror(errno ? errno : EIO));
    return 0;
}

static void finish(qk_afile *a) {
    release(a->slot);
    free(a->path);
    free(a);
}

int qk_afile_commit(qk_afile *a, qk_err *err) {
    const char *tmp = g_paths[a->slot];
    int e = 0;
    if (fflush(a->f) != 0 || ferror(a->f)) e = errno ? errno : EIO;
    if (!e && fsync(fileno(a->f)) != 0) e = errno;
    if (fclose(a->f) != 0 && !e) e = errno;
    a->f = NULL;
    if (e) {
        unlink(tmp);
        qk_errf(err, "cannot write '%s': %s", a->path, strerror(e));
        finish(a);
        return -1;
    }
    if (rename(tmp, a->path) != 0) {
        e = errno;
        unlink(tmp);
        qk_errf(err, "cannot rename the temporary file to '%s': %s", a->path, strerror(e));
        finish(a);
        return -1;
    }
    finish(a);
    return 0;
}

void qk_afile_abort(qk_afile *a) {
    if (!a) return;
    if (a->f) fclose(a->f);
    unlink(g_paths[a->slot]);
    finish(a);
}

int qk_afile_write_all(const char *path, const void *data, size_t len, qk_err *err) {
    qk_afile *a = qk_afile_create(path, err);
    if (!a) return -1;
    if (qk_afile_write(a, data, len, err)) {
        qk_afile_abort(a);
        return -1;
    }
    return qk_afile_commit(a, err);
}

void qk_afile_cleanup_all(void) {
    for (int i = 0; i < QK_AFILE_SLOTS; i++)
        if (g_used[i]) unlink(g_paths[i]);
}
