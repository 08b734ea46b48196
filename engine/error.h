/*
 * error.h — how the engine reports failure.
 *
 * Errors are values: a function that can fail returns 0 on success and -1 on failure,
 * and fills a caller-provided qk_err with one human-readable line (what was wrong and,
 * where it helps, what to do). Nothing in the engine calls exit() or prints on error.
 * A NULL qk_err pointer is allowed: the message is then dropped.
 */
#ifndef QK_ERROR_H
#define QK_ERROR_H

#define QK_ERR_MAX 512

typedef struct qk_err {
    char msg[QK_ERR_MAX];
} qk_err;

/* Format a message into e (if non-NULL). Always returns -1 so callers can write
 * `return qk_errf(err, "...", ...);`. */
int qk_errf(qk_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
