/* paths.c — input/output identity checks (see paths.h). */
#include "paths.h"

#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct path_id {
    bool known;       /* false: the directory does not exist either */
    bool exists;      /* the file itself exists: dev/ino are the file's */
    dev_t dev;
    ino_t ino;
    const char *name; /* last component (exists == false), inside `copy` */
    char *copy;
} path_id;

static void identify(const char *path, path_id *id) {
    memset(id, 0, sizeof *id);
    struct stat st;
    if (stat(path, &st) == 0) {
        id->known = id->exists = true;
        id->dev = st.st_dev;
        id->ino = st.st_ino;
        return;
    }
    /* not there yet: its directory and its name */
    char *d = strdup(path);
    id->copy = strdup(path);
    if (!d || !id->copy) {
        free(d);
        return;
    }
    const char *dir = dirname(d);
    id->name = basename(id->copy);
    if (stat(dir, &st) == 0) {
        id->known = true;
        id->dev = st.st_dev;
        id->ino = st.st_ino;
    }
    free(d);
}

static bool same(const path_id *a, const path_id *b) {
    return a->known && b->known && a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
           (a->exists || strcmp(a->name, b->name) == 0);
}

static bool skipped(const char *p) { return !p || !*p || strcmp(p, "-") == 0; }

int qk_paths_check(const char *const *inputs, size_t n_inputs, const char *const *outputs, size_t n_outputs,
                   qk_err *err) {
    path_id *id = calloc(n_inputs + n_outputs + 1, sizeof *id);
    if (!id) return qk_errf(err, "out of memory");
    const char *const *all[2] = {inputs, outputs};
    const size_t n[2] = {n_inputs, n_outputs};
    for (int k = 0, at = 0; k < 2; k++)
        for (size_t i = 0; i < n[k]; i++, at++)
            if (!skipped(all[k][i])) identify(all[k][i], &id[at]);
    int rc = 0;
    for (size_t o = 0; o < n_outputs && !rc; o++) {
        if (skipped(outputs[o])) continue;
        const path_id *po = &id[n_inputs + o];
        for (size_t i = 0; i < n_inputs && !rc; i++)
            if (!skipped(inputs[i]) && same(po, &id[i]))
                rc = qk_errf(err, "output '%s' is the input '%s' — choose another output name", outputs[o], inputs[i]);
        for (size_t p = 0; p < o && !rc; p++)
            if (!skipped(outputs[p]) && same(po, &id[n_inputs + p]))
                rc = qk_errf(err, "outputs '%s' and '%s' are the same file — give each its own name", outputs[p],
                             outputs[o]);
    }
    for (size_t i = 0; i < n_inputs + n_outputs; i++) free(id[i].copy);
    free(id);
    return rc;
}

int qk_paths_check_output(const char *path, qk_err *err) {
    if (!path || !path[0]) return qk_errf(err, "no output file given — name an output file");
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return qk_errf(err, "output '%s' is a directory — give a file name", path);
    const char *slash = strrchr(path, '/');
    if (slash && slash[1] == 0)
        return qk_errf(err, "output '%s' ends with '/' — give a file name", path);
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) >= sizeof dir) return qk_errf(err, "output path '%.200s...' is too long", path);
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT)
            return qk_errf(err, "output directory '%s' does not exist — create it or choose another output path",
                           dir);
        if (errno == ENOTDIR)
            return qk_errf(err, "output directory '%s' is not a directory (part of it is a file) — fix the output path",
                           dir);
        return qk_errf(err, "cannot use output directory '%s': %s — choose another output path", dir,
                       strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return qk_errf(err, "output directory '%s' is not a directory — fix the output path", dir);
    if (access(dir, W_OK | X_OK) != 0)
        return qk_errf(err, "output directory '%s' is not writable (%s) — choose another output path", dir,
                       strerror(errno));
    return 0;
}
