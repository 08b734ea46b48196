/*
 * testutil.h — helpers shared by the Check suites.
 *
 * Paths: QK_SHARED_DIR (compile-time, ../shared beside the checkout) holds the data and
 * the golden outputs of real llama.cpp runs; QK_BIN_DIR holds the built tools.
 */
#ifndef QK_TESTUTIL_H
#define QK_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* "<QK_SHARED_DIR>/<rel>" in a static buffer (valid until the next call on the thread). */
const char *qk_test_shared(const char *rel);
/* "<QK_BIN_DIR>/<name>". */
const char *qk_test_bin(const char *name);
/* A fresh temporary directory for this process (created once under $TMPDIR or /tmp,
 * named qkit-test-XXXXXX, removed when the process that created it exits). */
const char *qk_test_tmpdir(void);
/* sha256 of a buffer as 64 lower-case hex chars + NUL. */
void qk_test_sha256_hex(const void *data, size_t n, char out[65]);
/* Read a whole file (malloc'd, NUL-terminated); NULL on error. */
char *qk_test_read_file(const char *path, size_t *len);
/* Run a shell command, capturing stdout+stderr into a malloc'd string; returns the exit
 * status (or -1). */
int qk_test_run(const char *cmd, char **output);
/* Run a Check suite with CK_NORMAL output; returns the process exit code. */
int qk_test_main(Suite *s);

#endif
