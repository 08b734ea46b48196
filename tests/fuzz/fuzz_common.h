/*
 * fuzz_common.h — what the libFuzzer harnesses share: each input becomes an in-memory file
 * (memfd, opened by path through /proc/self/fd, so the readers under test run their real
 * open/read/mmap code), and every failure must be a clean error: -1/NULL with a non-empty,
 * one-line message (the project rule for bad input). Header-only; one harness per binary.
 */
#ifndef QK_FUZZ_COMMON_H
#define QK_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fuzz_file {
    int fd;
    char path[64];
} fuzz_file;

/* An empty in-memory file named f->path; aborts when it cannot be made. */
static inline void fuzz_file_init(fuzz_file *f, const char *name) {
    f->fd = memfd_create(name, 0);
    if (f->fd < 0) {
        perror("memfd_create");
        abort();
    }
    snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
}

/* Replace the file's content with data[0, size). */
static inline void fuzz_file_set(fuzz_file *f, const void *data, size_t size) {
    if (ftruncate(f->fd, 0) != 0 || (size && pwrite(f->fd, data, size, 0) != (ssize_t)size)) abort();
}

/* A failed call must leave one non-empty line in err. */
static inline void fuzz_check_err(const qk_err *e, const char *where) {
    if (e->msg[0] == 0) {
        fprintf(stderr, "fuzz: %s failed with an empty error message\n", where);
        abort();
    }
    if (strchr(e->msg, '\n')) {
        fprintf(stderr, "fuzz: %s error message is not one line: %s\n", where, e->msg);
        abort();
    }
}

#define FUZZ_ASSERT(cond, ...)                                                                    \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "fuzz: " __VA_ARGS__);                                                \
            fputc('\n', stderr);                                                                  \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

#endif
