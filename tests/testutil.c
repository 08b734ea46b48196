/* testutil.c — see testutil.h. */
#include "testutil.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *qk_test_shared(const char *rel) {
    static __thread char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", QK_SHARED_DIR, rel);
    return buf;
}

const char *qk_test_bin(const char *name) {
    static __thread char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", QK_BIN_DIR, name);
    return buf;
}

static char tmp_dir[4096];
static pid_t tmp_owner;

/* Remove the temporary directory when the process that made it exits (Check forks a
 * child per test; children inherit the handler but do not own the directory). */
static void remove_tmpdir(void) {
    if (tmp_dir[0] && getpid() == tmp_owner) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_dir);
    }
}

const char *qk_test_tmpdir(void) {
    char *dir = tmp_dir;
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof tmp_dir, "%s/qkit-test-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            abort();
        }
        tmp_owner = getpid();
        atexit(remove_tmpdir);
    }
    return dir;
}

void qk_test_sha256_hex(const void *data, size_t n, char out[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data, n, md, &len, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < len; i++) sprintf(out + 2 * i, "%02x", md[i]);
    out[64] = 0;
}

char *qk_test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        if (len) *len = (size_t)n;
    }
    return buf;
}

int qk_test_run(const char *cmd, char **output) {
    char full[8192];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += r;
        if (cap - n < 2) buf = realloc(buf, cap *= 2);
    }
    buf[n] = 0;
    int st = pclose(p);
    if (output) *output = buf; else free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int qk_test_main(Suite *s) {
    /* Make the temporary directory here, in the parent: Check runs each test in a forked
     * child that may end with _exit on failure, so only the parent can clean up. */
    qk_test_tmpdir();
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
