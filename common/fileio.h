/*
 * fileio.h — small file helpers shared by the tool-side code (qk-bench, qk-report,
 * qk-study, the prompt-set writer): a growable text buffer, whole-file reading and
 * `mkdir -p`. Whole files are written atomically with engine/afile.h's
 * qk_afile_write_all (temporary beside the target, O_EXCL, fsync, rename).
 *
 * Like the engine, these functions never print and never exit: they return 0 / -1 (or
 * NULL) and fill a qk_err.
 */
#ifndef QK_FILEIO_H
#define QK_FILEIO_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "afile.h" /* qk_afile_write_all: the atomic write */
#include "error.h"

/* A growable, always NUL-terminated byte buffer. Zero-initialise ({0}) before use.
 * Allocation failure is sticky: `oom` is set and further appends are ignored, so a
 * caller checks once at the end (qk_sb_ok). */
typedef struct qk_sb {
    char *buf;  /* NULL until the first append */
    size_t len; /* bytes used, excluding the NUL */
    size_t cap;
    bool oom;
} qk_sb;

void qk_sb_append(qk_sb *sb, const char *s, size_t n);
void qk_sb_puts(qk_sb *sb, const char *s);
void qk_sb_printf(qk_sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void qk_sb_vprintf(qk_sb *sb, const char *fmt, va_list ap);
/* "" when nothing was appended. */
const char *qk_sb_str(const qk_sb *sb);
bool qk_sb_ok(const qk_sb *sb);
void qk_sb_free(qk_sb *sb);

/* Write sb's bytes to path atomically (qk_afile_write_all), then free sb whatever
 * happens. Errors: an allocation failed while sb was built ("out of memory"), the write's. */
int qk_sb_write_file(qk_sb *sb, const char *path, qk_err *err);

/* The largest file qk_file_read reads: 1 GiB (~800x WikiText-2's test split; a larger
 * text, or /dev/zero, is refused before memory runs out). */
#define QK_FILE_READ_MAX ((size_t)1 << 30)

/* Read a whole file (or pipe) into a malloc'd NUL-terminated buffer (*len excludes the NUL;
 * len may be NULL). Errors: cannot open/read (message names the path and errno text),
 * larger than QK_FILE_READ_MAX. */
char *qk_file_read(const char *path, size_t *len, qk_err *err);

/* Create a directory and its missing parents (mode 0755). An existing directory is
 * success; an existing non-directory is an error. */
int qk_file_mkdir_p(const char *path, qk_err *err);

/* true when `path` names an existing regular file. */
bool qk_file_exists(const char *path);

#endif
