/* testutil.c — see testutil.h. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h> /* program_invocation_short_name */
#include <fcntl.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpu.h"
#include "types.h"

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

int qk_test_run_tool(char **output, const char *tool, const char *fmt, ...) {
    char cmd[16384];
    const int n = snprintf(cmd, sizeof cmd, "%s ", qk_test_bin(tool));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    return qk_test_run(cmd, output);
}

void qk_test_expect_tool_error(const char *tool, const char *needle, const char *o1, const char *o2,
                               const char *fmt, ...) {
    char args[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *out, line[256];
    const int rc = qk_test_run_tool(&out, tool, "%s", args);
    ck_assert_msg(rc != 0, "expected failure: %s\n%s", args, out);
    snprintf(line, sizeof line, "%s: error: ", tool);
    ck_assert_msg(qk_test_count_substr(out, line) == 1, "one error line: %s\n%s", args, out);
    ck_assert_msg(strstr(out, needle) != NULL, "'%s' not in: %s", needle, out);
    if (o1) ck_assert_msg(!qk_test_exists(o1), "%s left behind by: %s", o1, args);
    if (o2) ck_assert_msg(!qk_test_exists(o2), "%s left behind by: %s", o2, args);
    free(out);
}

char *qk_test_shared_dup(const char *rel) { return strdup(qk_test_shared(rel)); }

char *qk_test_tmp_path(const char *name) {
    const char *dir = qk_test_tmpdir();
    const size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    if (path) snprintf(path, n, "%s/%s", dir, name);
    return path;
}

int qk_test_exists(const char *path) { return access(path, F_OK) == 0; }

double qk_test_number_after(const char *text, const char *label) {
    const char *p = strstr(text, label);
    ck_assert_msg(p != NULL, "'%s' not found", label);
    p += strlen(label);
    while (*p == ' ' || *p == ':') p++;
    char *end;
    const double v = strtod(p, &end);
    ck_assert_msg(end != p, "no number after '%s'", label);
    return v;
}

int qk_test_count_substr(const char *s, const char *sub) {
    int n = 0;
    for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub)) n++;
    return n;
}

/* The instruction-set tags of qk_test_main, and whether the kernels in use have each. */
static const struct {
    const char *tag, *what;
    bool (*have)(void);
} CPU_TAGS[] = {
    {QK_TEST_TAG_AVX2, "AVX2+FMA+F16C", qk_cpu_has_avx2},
    {QK_TEST_TAG_AVX512VNNI, "AVX-512 F/BW/VL/VNNI", qk_cpu_has_avx512vnni},
    {QK_TEST_TAG_AVXVNNI, "AVX-VNNI", qk_cpu_has_avxvnni},
};
#define N_CPU_TAGS (sizeof CPU_TAGS / sizeof CPU_TAGS[0])

/* Why the kernels lack tag i's instruction set. */
static const char *cpu_tag_reason(size_t i) {
    const char *f = getenv("QK_FORCE_SCALAR"), *n = getenv("QK_NO_AVX512"), *v = getenv("QK_NO_AVXVNNI");
    if (f && *f && strcmp(f, "0") != 0) return "QK_FORCE_SCALAR is set";
    if (strcmp(CPU_TAGS[i].tag, QK_TEST_TAG_AVX512VNNI) == 0 && n && *n && strcmp(n, "0") != 0)
        return "QK_NO_AVX512 is set";
    if (strcmp(CPU_TAGS[i].tag, QK_TEST_TAG_AVXVNNI) == 0 && v && *v && strcmp(v, "0") != 0)
        return "QK_NO_AVXVNNI is set";
    return "this CPU (or its OS) does not support it";
}

int qk_test_sanitized(void) {
#if defined(__SANITIZE_ADDRESS__)
    return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return 1;
#else
    return 0;
#endif
#else
    return 0;
#endif
}

int qk_test_main(Suite *s) {
    /* Make the temporary directory here, in the parent: Check runs each test in a forked
     * child that may end with _exit on failure, so only the parent can clean up. */
    qk_test_tmpdir();
    const char *part = getenv("QK_TEST_PART");
    const char *prog = program_invocation_short_name;
    char exclude[512] = "";
    const char *include = NULL;
    if (part && *part && strcmp(part, "main") != 0) {
        size_t i = 0;
        while (i < N_CPU_TAGS && strcmp(CPU_TAGS[i].tag, part) != 0) i++;
        if (i == N_CPU_TAGS) {
            fprintf(stderr, "%s: QK_TEST_PART=%s names no instruction-set tag\n", prog, part);
            return 1;
        }
        if (!CPU_TAGS[i].have()) {
            printf("%s: SKIPPED: the '%s' cases need %s, and %s (kernels in use: %s)\n", prog, part,
                   CPU_TAGS[i].what, cpu_tag_reason(i), qk_cpu_kernels());
            return QK_TEST_SKIPPED;
        }
        include = part;
    } else {
        /* QK_TEST_PART=main: leave every tag out; by hand: those the kernels lack */
        const int main_part = part && *part;
        for (size_t i = 0; i < N_CPU_TAGS; i++) {
            if (!main_part && CPU_TAGS[i].have()) continue;
            snprintf(exclude + strlen(exclude), sizeof exclude - strlen(exclude), "%s%s", exclude[0] ? " " : "",
                     CPU_TAGS[i].tag);
            if (!main_part)
                printf("%s: note: cases tagged '%s' left out: they need %s, and %s\n", prog, CPU_TAGS[i].tag,
                       CPU_TAGS[i].what, cpu_tag_reason(i));
        }
    }
    /* Check's own CK_EXCLUDE_TAGS (which srunner_run_tagged does not read) adds to the list */
    const char *user_exclude = getenv("CK_EXCLUDE_TAGS");
    if (user_exclude && *user_exclude)
        snprintf(exclude + strlen(exclude), sizeof exclude - strlen(exclude), "%s%s", exclude[0] ? " " : "",
                 user_exclude);
    SRunner *sr = srunner_create(s);
    srunner_run_tagged(sr, getenv("CK_RUN_SUITE"), getenv("CK_RUN_CASE"), include, exclude[0] ? exclude : NULL,
                       CK_NORMAL);
    const int ran = srunner_ntests_run(sr), failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (ran == 0) fprintf(stderr, "%s: no test ran (QK_TEST_PART=%s)\n", prog, part ? part : "");
    return failed == 0 && ran > 0 ? 0 : 1;
}

int qk_test_close(const char *what, const char *figure, double ours, double ref, double rel, double abs) {
    const double d = fabs(ours - ref), tol = fmax(rel * fabs(ref), abs);
    const int ok = isfinite(ours) && d <= tol;
    if (!ok)
        fprintf(stderr, "%s: %s: got %.9g, want %.9g (%+.3g %%), tolerance %.3g\n", what, figure, ours, ref,
                ref != 0 ? 100 * (ours - ref) / fabs(ref) : 0.0, tol);
    const char *log = getenv("QK_TEST_SPREAD_LOG");
    if (log && *log) {
        char line[1024];
        const int n = snprintf(line, sizeof line, "%s\t%s\t%s\t%.9g\t%.9g\t%.3g\t%.3g\t%.3g\t%d\t%g\t%g\n",
                               program_invocation_short_name, what, figure, ours, ref, d,
                               ref != 0 ? d / fabs(ref) : (double)INFINITY, tol, ok, rel, abs);
        /* one write() per line on an O_APPEND descriptor: the forked tests' lines never interleave */
        const int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (fd < 0 || n <= 0 || n >= (int)sizeof line || write(fd, line, (size_t)n) != n)
            fprintf(stderr, "warning: cannot record in %s\n", log);
        if (fd >= 0) close(fd);
    }
    return ok;
}

const char *qk_test_ppl_args(void) {
    const char *a = getenv("QK_TEST_PPL_ARGS");
    return a ? a : "";
}

int qk_test_golden_is_imatrix(const char *type) {
    return strncmp(type, "imat.", 5) == 0 || strncmp(type, "imatg.", 6) == 0;
}

/* ---- JSON -------------------------------------------------------------------------------- */

int qk_test_parse_tsv_line(char *line, qk_test_tsv_line *out) {
    char *f[4];
    char *save = NULL;
    for (int i = 0; i < 4; i++) {
        f[i] = strtok_r(i == 0 ? line : NULL, "\t\r\n", &save);
        if (!f[i]) return -1;
    }
    if (strlen(f[0]) > GGUF_MAX_NAME || strlen(f[1]) >= sizeof out->type || strlen(f[3]) != 64) return -1;
    strcpy(out->name, f[0]);
    strcpy(out->type, f[1]);
    strcpy(out->sha, f[3]);
    out->n_dims = 0;
    for (int i = 0; i < GGUF_MAX_DIMS; i++) out->ne[i] = 1;
    for (char *p = f[2]; *p;) {
        if (out->n_dims == GGUF_MAX_DIMS) return -1;
        char *end;
        out->ne[out->n_dims++] = strtoll(p, &end, 10);
        if (end == p || (*end && *end != ',')) return -1;
        p = *end ? end + 1 : end;
    }
    return out->n_dims > 0 ? 0 : -1;
}

int qk_test_golden_tsv_names(const char *dir, const char *model, int imatrix, char (*names)[256], int max,
                             int *n_left_out) {
    if (n_left_out) *n_left_out = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    const size_t mlen = strlen(model);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        const size_t len = strlen(e->d_name);
        if (len >= 256 || len < mlen + 6 || strncmp(e->d_name, model, mlen) != 0 || e->d_name[mlen] != '.' ||
            strcmp(e->d_name + len - 4, ".tsv") != 0)
            continue;
        if (!qk_test_golden_is_imatrix(e->d_name + mlen + 1) != !imatrix) {
            if (n_left_out) (*n_left_out)++;
            continue;
        }
        strcpy(names[n++], e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    return n;
}

int qk_test_tsv_types(const char *path, int quantized_only, qk_type *types, int max) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        qk_test_tsv_line t;
        qk_type ty;
        if (qk_test_parse_tsv_line(line, &t) != 0 || qk_type_from_name(t.type, &ty) != 0) continue;
        const qk_type_traits *tt = qk_type_get(ty);
        if (quantized_only && (!tt || !tt->is_quantized)) continue;
        int seen = 0;
        for (int k = 0; k < n; k++) seen |= types[k] == ty;
        if (!seen && n < max) types[n++] = ty;
    }
    fclose(f);
    return n;
}

const gguf_tensor *qk_test_tsv_tensor(const gguf_ctx *g, const qk_test_tsv_line *tl, const char *tsv,
                                      const char *base) {
    const gguf_tensor *t = gguf_find_tensor(g, tl->name);
    ck_assert_msg(t != NULL, "%s: tensor %s not in %s", tsv, tl->name, base);
    for (int d = 0; d < GGUF_MAX_DIMS; d++)
        ck_assert_msg(t->ne[d] == tl->ne[d], "%s: %s ne[%d] = %lld in base, %lld in golden", tsv, tl->name, d,
                      (long long)t->ne[d], (long long)tl->ne[d]);
    return t;
}

cJSON *qk_test_read_json(const char *path) {
    char *t = qk_test_read_file(path, NULL);
    ck_assert_msg(t != NULL, "no JSON at %s", path);
    cJSON *j = cJSON_Parse(t);
    free(t);
    ck_assert_msg(j != NULL, "bad JSON in %s", path);
    return j;
}

double qk_test_json_num(const cJSON *j, const char *obj, const char *key) {
    const cJSON *o = obj ? cJSON_GetObjectItemCaseSensitive(j, obj) : j;
    ck_assert_msg(o != NULL, "JSON has no object %s", obj);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsNumber(v), "JSON has no number %s.%s", obj ? obj : "", key);
    return v->valuedouble;
}

/* ---- pseudo-random numbers ------------------------------------------------------------- */

uint64_t qk_test_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float qk_test_lcg_frand(uint32_t *rng) {
    *rng = *rng * 1664525u + 1013904223u;
    return (float)(*rng >> 8) / 16777216.0f - 0.5f;
}

/* ---- small GGUF models ------------------------------------------------------------------ */

void qk_test_set_tiny_vocab(gguf_writer *w) {
    static const char *const tokens[QK_TEST_TINY_N_VOCAB] = {
        "<unk>", "<s>", "</s>", "\342\226\201", "a", "b", "c", "\342\226\201a", "ab", "\342\226\201ab",
        "<0x0A>", "<0x41>", "H", "e", "l", "o", "He", "llo", "\342\226\201He", "\342\226\201Hello"};
    float scores[QK_TEST_TINY_N_VOCAB];
    int32_t types[QK_TEST_TINY_N_VOCAB];
    for (int i = 0; i < QK_TEST_TINY_N_VOCAB; i++) {
        scores[i] = -(float)i;
        types[i] = i == 0 ? 2 : i < 3 ? 3 : (i == 10 || i == 11) ? 6 : 1;
    }
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tokens, QK_TEST_TINY_N_VOCAB);
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, QK_TEST_TINY_N_VOCAB);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, QK_TEST_TINY_N_VOCAB);
}

int qk_test_write_tensors(gguf_writer *w, const qk_test_tensor *t, int nt, qk_test_fill_fn fill, void *arg,
                          qk_err *err) {
    for (int i = 0; i < nt; i++)
        if (gguf_writer_add_tensor(w, t[i].name, t[i].type, t[i].ne[1] ? 2 : 1, t[i].ne, err) != i) return -1;
    if (gguf_writer_write_header(w, err) != 0) return -1;
    for (int i = 0; i < nt; i++) {
        const int64_t rows = t[i].ne[1] ? t[i].ne[1] : 1, n = t[i].ne[0] * rows;
        const size_t nb = qk_row_size(t[i].type, t[i].ne[0]) * (size_t)rows;
        float *f = malloc(sizeof(float) * (size_t)n);
        void *q = malloc(nb);
        int rc = f && q ? 0 : qk_errf(err, "out of memory for tensor %s", t[i].name);
        if (rc == 0) {
            fill(&t[i], f, n, arg);
            qk_type_get(t[i].type)->quantize_ref(f, q, n);
            rc = gguf_writer_write_tensor_data(w, q, nb, err);
        }
        free(f);
        free(q);
        if (rc != 0) return -1;
    }
    return 0;
}
