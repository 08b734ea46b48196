/*
 * afile.h — output files that appear complete or not at all, and the one registry of
 * temporary files that signal handlers clean up.
 *
 * Protocol: qk_afile_create makes "<path>.tmp.XXXXXX" beside the target with mkstemp
 * (O_EXCL, an unpredictable name: a planted file or symlink cannot be written through),
 * mode 0644 before the umask. Writes go to it; qk_afile_commit flushes, fsyncs, closes and
 * renames it over the target, so a reader sees the old file or the complete new one. Any
 * failure (a write error such as a full disk, fsync, rename) and qk_afile_abort remove the
 * temporary. Errors name the target and say what to do.
 *
 * Signals: every temporary is in a fixed-size registry until commit or abort.
 * qk_afile_cleanup_all() unlinks them all and only calls unlink(), so it is async-signal-
 * safe: the tools' handlers for SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGXFSZ and SIGBUS
 * (common/tool.h) call it, so no signal leaves a temporary behind. A temporary that does
 * not fit the registry (more than QK_AFILE_SLOTS open at once, or a path over 4 KiB) is
 * refused at creation rather than left unprotected.
 */
#ifndef QK_AFILE_H
#define QK_AFILE_H

#include <stddef.h>
#include <stdio.h>

#include "error.h"

#define QK_AFILE_SLOTS 32

typedef struct qk_afile qk_afile;

/* Start writing `path`. NULL with err set when the temporary cannot be created (missing
 * or read-only directory, too many open). */
qk_afile *qk_afile_create(const char *path, qk_err *err);
/* The stream to write to (buffered). Errors on it are found at commit. */
FILE *qk_afile_stream(qk_afile *a);
/* The temporary's path (for a program that writes the file itself, e.g. gnuplot). */
const char *qk_afile_temp_path(const qk_afile *a);
/* fwrite to the stream; -1 with err naming the target on a short write (disk full). */
int qk_afile_write(qk_afile *a, const void *data, size_t n, qk_err *err);
/* Flush, fsync, close and rename over the target. Frees a, also on failure (the
 * temporary is then removed and the target left as it was). */
int qk_afile_commit(qk_afile *a, qk_err *err);
/* Close and remove the temporary; frees a. NULL is allowed. */
void qk_afile_abort(qk_afile *a);

/* Write len bytes to path atomically: create, write, commit. */
int qk_afile_write_all(const char *path, const void *data, size_t len, qk_err *err);

/* Remove every registered temporary (async-signal-safe). */
void qk_afile_cleanup_all(void);

#endif
