/*
 * test_quantize_imatrix.c — qk-quantize --imatrix and --tensor-type end to end (through
 * build/bin/qk-quantize).
 *
 * Agreement with llama.cpp: for every golden/<model>/quantize/<model>.imat.<TYPE>.tsv
 * (c392e50's `llama-quantize --imatrix golden/<model>/imatrix/<model>.imatrix.dat <base>
 * out TYPE 1`, run from the shared directory) and wiki-qwen2-13m.imatg.<TYPE>.tsv (current
 * llama.cpp with the GGUF imatrix), qk-quantize run the same way (from the shared
 * directory, the same relative imatrix path, so the quantize.imatrix.file string is the
 * same) must write the tensors in the same order with the same types, shapes and data
 * sha256, and a file of the golden .size; the quantize.imatrix.* keys must be there. The
 * runs that failed in llama.cpp (a .log and no .tsv: stories260K's Q4_0, Q4_1, Q5_0, Q5_1,
 * IQ4_NL and Q8_0 on its 172-column ffn_down) must fail with one error line naming the
 * tensor llama.cpp stopped at, and leave no file.
 * Then, checked against the golden hashes too: --include-weights / --exclude-weights
 * (selected tensors carry the imatrix's bytes, the others those of the run without one),
 * the four keys (types, order, values), rules combined with an imatrix; and the errors: an
 * imatrix of another model, option conflicts, Q2_K_S without an imatrix or an entry. Last,
 * --tensor-type / --tensor-type-file: the log line and the JSON name the rule that set a
 * type, which rule wins, rule against --output-tensor-type, fallback, refused types,
 * warnings for rules that match nothing, and file parsing errors (FILE:LINE).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "gguf.h"
#include "testutil.h"

/* relative to the shared directory, where every command runs */
#define WIKI "data/models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf"
#define STORIES "data/models/stories260K/stories260K.gguf"
#define WIKI_DAT "golden/wiki-qwen2-13m/imatrix/wiki-qwen2-13m.imatrix.dat"
#define WIKI_GGUF "golden/wiki-qwen2-13m/imatrix/wiki-qwen2-13m.imatrix.gguf"
#define STORIES_DAT "golden/stories260K/imatrix/stories260K.imatrix.dat"
#define DATASET "data/calibration/wiki.test.tail.raw"

#define PATH_CAP 1024

static char g_out[PATH_CAP], g_err[PATH_CAP];

/* Run qk-quantize with args in the shared directory; stdout and stderr go to separate
 * files (returned malloc'd when out/err are not NULL). Returns the exit code. */
static int run_q(const char *args, char **out, char **err) {
    snprintf(g_out, sizeof g_out, "%s/stdout.txt", qk_test_tmpdir());
    snprintf(g_err, sizeof g_err, "%s/stderr.txt", qk_test_tmpdir());
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "(cd %s && %s %s >%s 2>%s)", qk_test_shared("."), qk_test_bin("qk-quantize"), args,
             g_out, g_err);
    int rc = qk_test_run(cmd, NULL);
    if (out) *out = qk_test_read_file(g_out, NULL);
    if (err) *err = qk_test_read_file(g_err, NULL);
    return rc;
}

/* Run and require success; returns stdout (malloc'd). */
static char *run_ok(const char *args) {
    char *out = NULL, *err = NULL;
    int rc = run_q(args, &out, &err);
    ck_assert_msg(rc == 0, "'%s' failed: %s", args, err ? err : "");
    free(err);
    return out;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

/* "<tmpdir>/name" in a static buffer, one of a ring of 8 (a test uses fewer at once). */
static const char *tmp(const char *name) {
    static char buf[8][PATH_CAP];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", qk_test_tmpdir(), name);
    return buf[k];
}

/* An error run: non-zero exit, exactly one stderr line "qk-quantize: error: ..." holding
 * each of the NULL-terminated wants, and no file at out (may be NULL). */
static void expect_error(const char *args, const char *out, const char *const *wants) {
    char *err = NULL;
    int rc = run_q(args, NULL, &err);
    ck_assert_msg(rc != 0, "'%s' succeeded", args);
    ck_assert_msg(err && count_lines(err) == 1 && strncmp(err, "qk-quantize: error: ", 20) == 0,
                  "'%s': stderr is not one error line: %s", args, err ? err : "");
    for (; *wants; wants++) ck_assert_msg(strstr(err, *wants), "'%s': error '%s' lacks '%s'", args, err, *wants);
    if (out) ck_assert_msg(!file_exists(out), "'%s' left %s", args, out);
    free(err);
}
#define WANT(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ------------------------------------------------------------ golden tensors ------ */

typedef struct golden {
    size_t n;
    char name[128][80], type[128][16], ne[128][64], sha[128][65];
} golden;

static void read_golden(golden *G, const char *model, const char *type) {
    char rel[256];
    snprintf(rel, sizeof rel, "golden/%s/quantize/%s.%s.tsv", model, model, type);
    char *tsv = qk_test_read_file(qk_test_shared(rel), NULL);
    ck_assert_msg(tsv != NULL, "cannot read %s", rel);
    G->n = 0;
    char *save = NULL;
    for (char *l = strtok_r(tsv, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        ck_assert_uint_lt(G->n, 128);
        ck_assert_int_eq(sscanf(l, "%79[^\t]\t%15[^\t]\t%63[^\t]\t%64s", G->name[G->n], G->type[G->n], G->ne[G->n],
                                G->sha[G->n]),
                         4);
        G->n++;
    }
    free(tsv);
}

/* The index of name in G, or -1. */
static int golden_find(const golden *G, const char *name) {
    for (size_t i = 0; i < G->n; i++)
        if (strcmp(G->name[i], name) == 0) return (int)i;
    return -1;
}

static void tensor_sha(const gguf_tensor *t, char hex[65]) { qk_test_sha256_hex(t->data, t->nbytes, hex); }

/* The output at path against golden <model>.<type>: same tensors in order, types, shapes
 * and data; with size_too, the same file size as the golden .size. */
static void check_golden(const char *path, const char *model, const char *type, int size_too) {
    golden *G = malloc(sizeof *G);
    read_golden(G, model, type);
    qk_err e = {{0}};
    gguf_ctx *g = gguf_open(path, &e);
    ck_assert_msg(g != NULL, "%s: %s", path, e.msg);
    ck_assert_uint_eq(g->n_tensors, G->n);
    int n_bad = 0;
    char bad[512] = "";
    for (size_t k = 0; k < G->n; k++) {
        const gguf_tensor *t = &g->tensors[k];
        ck_assert_msg(strcmp(t->name, G->name[k]) == 0, "%s %s: tensor %zu is %s, golden %s", model, type, k,
                      t->name, G->name[k]);
        ck_assert_msg(strcmp(qk_type_name(t->type), G->type[k]) == 0, "%s %s %s: %s, golden %s", model, type,
                      t->name, qk_type_name(t->type), G->type[k]);
        char ne[64];
        size_t o = 0;
        for (uint32_t d = 0; d < t->n_dims; d++)
            o += snprintf(ne + o, sizeof ne - o, d ? ",%lld" : "%lld", (long long)t->ne[d]);
        ck_assert_str_eq(ne, G->ne[k]);
        char hex[65];
        tensor_sha(t, hex);
        if (strcmp(hex, G->sha[k]) != 0 && n_bad++ < 4)
            snprintf(bad + strlen(bad), sizeof bad - strlen(bad), " %s(%s)", t->name, G->type[k]);
    }
    gguf_close(g);
    free(G);
    ck_assert_msg(n_bad == 0, "%s %s: %d tensors differ from llama-quantize's:%s", model, type, n_bad, bad);
    if (size_too) {
        char rel[256];
        snprintf(rel, sizeof rel, "golden/%s/quantize/%s.%s.size", model, model, type);
        char *sz = qk_test_read_file(qk_test_shared(rel), NULL);
        ck_assert_ptr_nonnull(sz);
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_msg((long long)st.st_size == atoll(sz), "%s %s: %lld bytes, golden %s", model, type,
                      (long long)st.st_size, sz);
        free(sz);
    }
}

/* The string / i32 value of key in g; fails the test when it is missing or of another type. */
static const char *kv_str(const gguf_ctx *g, const char *key, char *buf, size_t cap) {
    int64_t i = gguf_find_key(g, key);
    ck_assert_msg(i >= 0, "no key %s", key);
    ck_assert_msg(g->kv[i].type == GGUF_TYPE_STRING, "%s is not a string", key);
    snprintf(buf, cap, "%.*s", (int)g->kv[i].strs[0].len, g->kv[i].strs[0].ptr);
    return buf;
}

static int32_t kv_i32(const gguf_ctx *g, const char *key) {
    int64_t i = gguf_find_key(g, key);
    ck_assert_msg(i >= 0, "no key %s", key);
    ck_assert_msg(g->kv[i].type == GGUF_TYPE_INT32, "%s is %s, not i32", key, gguf_vtype_name(g->kv[i].type));
    int32_t v;
    memcpy(&v, g->kv[i].data, 4);
    return v;
}

/* The quantize.imatrix.* keys of the file at path: last in the file, after general.file_type,
 * in llama-quantize's order, with these values; n_entries 0: none of them present. */
static void check_keys(const char *path, const char *file, const char *dataset, int n_entries, int n_chunks) {
    qk_err e = {{0}};
    gguf_ctx *g = gguf_open(path, &e);
    ck_assert_msg(g != NULL, "%s: %s", path, e.msg);
    if (n_entries == 0) {
        ck_assert_int_lt(gguf_find_key(g, "quantize.imatrix.file"), 0);
        ck_assert_int_lt(gguf_find_key(g, "quantize.imatrix.entries_count"), 0);
        gguf_close(g);
        return;
    }
    static const char *const order[] = {"general.quantization_version", "general.file_type", "quantize.imatrix.file",
                                        "quantize.imatrix.dataset", "quantize.imatrix.entries_count",
                                        "quantize.imatrix.chunks_count"};
    ck_assert_uint_ge(g->n_kv, 6);
    for (int i = 0; i < 6; i++) ck_assert_str_eq(g->kv[g->n_kv - 6 + i].key, order[i]);
    char buf[256];
    ck_assert_str_eq(kv_str(g, "quantize.imatrix.file", buf, sizeof buf), file);
    ck_assert_str_eq(kv_str(g, "quantize.imatrix.dataset", buf, sizeof buf), dataset);
    ck_assert_int_eq(kv_i32(g, "quantize.imatrix.entries_count"), n_entries);
    ck_assert_int_eq(kv_i32(g, "quantize.imatrix.chunks_count"), n_chunks);
    gguf_close(g);
}

/* The last tensor a failed llama-quantize log got to ("[ i/ n] NAME - ..."). */
static void failed_at(const char *model, const char *type, char *name, size_t cap) {
    char rel[256];
    snprintf(rel, sizeof rel, "golden/%s/quantize/%s.%s.log", model, model, type);
    char *log = qk_test_read_file(qk_test_shared(rel), NULL);
    ck_assert_ptr_nonnull(log);
    ck_assert_ptr_nonnull(strstr(log, "failed to quantize"));
    name[0] = 0;
    char *save = NULL;
    for (char *l = strtok_r(log, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        int i, n;
        char nm[80];
        if (sscanf(l, "[ %d/ %d] %79s -", &i, &n, nm) == 3) snprintf(name, cap, "%s", nm);
    }
    free(log);
    ck_assert_msg(name[0], "%s: no tensor line", rel);
}

/* Every --imatrix golden run of a model whose type part starts with prefix ("imat." or
 * "imatg."), with imatrix (relative to the shared directory). Returns {succeeded, failed}. */
static void sweep(const char *model, const char *base, const char *prefix, const char *imatrix, int n_entries,
                  int counts[2]) {
    char dir[PATH_CAP];
    snprintf(dir, sizeof dir, "%s/golden/%s/quantize", qk_test_shared("."), model);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int threads = 1;
    char mp[96];
    snprintf(mp, sizeof mp, "%s.%s", model, prefix);
    counts[0] = counts[1] = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name), pl = strlen(mp);
        if (len < pl + 5 || strncmp(e->d_name, mp, pl) != 0 || strcmp(e->d_name + len - 4, ".log") != 0) continue;
        char type[48], tsv[PATH_CAP + 128], args[4096];
        snprintf(type, sizeof type, "%.*s", (int)(len - strlen(model) - 5), e->d_name + strlen(model) + 1);
        snprintf(tsv, sizeof tsv, "%s/%s.%s.tsv", dir, model, type);
        const char *out = tmp("golden.gguf");
        threads = 3 - threads; /* 1 and 2 threads in turn: the bytes must not depend on it */
        snprintf(args, sizeof args, "--imatrix %s %s %s %s %d", imatrix, base, out, strchr(type, '.') + 1, threads);
        if (file_exists(tsv)) {
            free(run_ok(args));
            check_golden(out, model, type, 1);
            check_keys(out, imatrix, DATASET, n_entries, 100);
            counts[0]++;
        } else {
            char name[80], want[128];
            failed_at(model, type, name, sizeof name);
            snprintf(want, sizeof want, "tensor '%s'", name);
            expect_error(args, out, WANT(want));
            counts[1]++;
        }
        unlink(out);
    }
    closedir(d);
    printf("%s %s*: %d golden runs reproduced, %d failed as in llama.cpp\n", model, prefix, counts[0], counts[1]);
}

START_TEST(golden_imat_wiki) {
    int c[2];
    sweep("wiki-qwen2-13m", WIKI, "imat.", WIKI_DAT, 42, c);
    ck_assert_int_ge(c[0], 13);
}
END_TEST

START_TEST(golden_imatg_wiki) {
    int c[2];
    sweep("wiki-qwen2-13m", WIKI, "imatg.", WIKI_GGUF, 42, c);
    ck_assert_int_ge(c[0], 8);
}
END_TEST

START_TEST(golden_imat_stories) {
    int c[2];
    sweep("stories260K", STORIES, "imat.", STORIES_DAT, 35, c);
    ck_assert_int_ge(c[0], 7);
    ck_assert_int_eq(c[1], 6); /* Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q8_0 */
}
END_TEST

/* ------------------------------------------------- selecting the imatrix's entries ----- */

/* Tensors of the output at path: those whose name contains one of the NULL-terminated
 * subs carry golden <with>'s bytes, the others golden <without>'s. */
static void check_mixed(const char *path, const char *model, const char *with, const char *without,
                        const char *const *subs) {
    golden *A = malloc(sizeof *A), *B = malloc(sizeof *B);
    read_golden(A, model, with);
    read_golden(B, model, without);
    qk_err e = {{0}};
    gguf_ctx *g = gguf_open(path, &e);
    ck_assert_msg(g != NULL, "%s", e.msg);
    int n_with = 0;
    for (uint64_t k = 0; k < g->n_tensors; k++) {
        const gguf_tensor *t = &g->tensors[k];
        int sel = 0;
        for (const char *const *s = subs; *s; s++) sel |= strstr(t->name, *s) != NULL;
        const golden *G = sel ? A : B;
        int i = golden_find(G, t->name);
        ck_assert_int_ge(i, 0);
        char hex[65];
        tensor_sha(t, hex);
        ck_assert_msg(strcmp(G->type[i], qk_type_name(t->type)) == 0 && strcmp(G->sha[i], hex) == 0,
                      "%s: %s should have the bytes of %s.%s", path, t->name, model, sel ? with : without);
        n_with += sel;
    }
    ck_assert_int_gt(n_with, 0);
    gguf_close(g);
    free(A);
    free(B);
}

START_TEST(include_exclude_weights) {
    char args[4096];
    const char *out = tmp("sel.gguf"), *js = tmp("sel.json");
    /* --include-weights: only ffn_down gets the imatrix (6 entries written) */
    snprintf(args, sizeof args, "--imatrix %s --include-weights ffn_down --json %s %s %s Q4_K_M 2", WIKI_DAT, js,
             WIKI, out);
    char *so = run_ok(args);
    ck_assert_msg(strstr(so, "42 entries, dataset '" DATASET "', 100 chunks; 6 selected by --include-weights"), "%s",
                  so);
    ck_assert_ptr_nonnull(strstr(so, "blk.0.attn_q.weight: no importance data for it in the imatrix"));
    free(so);
    check_mixed(out, "wiki-qwen2-13m", "imat.Q4_K_M", "Q4_K_M", WANT("ffn_down"));
    check_keys(out, WIKI_DAT, DATASET, 6, 100);
    cJSON *j = qk_test_read_json(js);
    cJSON *im = cJSON_GetObjectItem(j, "imatrix");
    ck_assert_int_eq(cJSON_GetObjectItem(im, "entries_count")->valueint, 6);
    ck_assert_int_eq(cJSON_GetObjectItem(im, "entries_read")->valueint, 42);
    ck_assert_str_eq(cJSON_GetObjectItem(im, "dataset")->valuestring, DATASET);
    cJSON *ts = cJSON_GetObjectItem(j, "tensors");
    for (int i = 0; i < cJSON_GetArraySize(ts); i++) {
        const cJSON *t = cJSON_GetArrayItem(ts, i);
        const char *name = cJSON_GetObjectItem(t, "name")->valuestring;
        ck_assert_int_eq(cJSON_IsTrue(cJSON_GetObjectItem(t, "imatrix")), strstr(name, "ffn_down") != NULL);
    }
    cJSON_Delete(j);
    /* --exclude-weights (repeated): ffn_down and attn_q without it, 30 entries left */
    snprintf(args, sizeof args, "--imatrix %s --exclude-weights ffn_down --exclude-weights attn_q %s %s Q4_K_M",
             WIKI_DAT, WIKI, out);
    free(run_ok(args));
    check_mixed(out, "wiki-qwen2-13m", "Q4_K_M", "imat.Q4_K_M", WANT("ffn_down", "attn_q"));
    check_keys(out, WIKI_DAT, DATASET, 30, 100);
    /* nothing selected: as without an imatrix, no keys, llama-quantize's file size */
    snprintf(args, sizeof args, "--imatrix %s --include-weights no_such_tensor %s %s Q4_K_M", WIKI_GGUF, WIKI, out);
    so = run_ok(args);
    ck_assert_ptr_nonnull(strstr(so, "warning: no importance matrix entry is left"));
    free(so);
    check_golden(out, "wiki-qwen2-13m", "Q4_K_M", 1);
    check_keys(out, NULL, NULL, 0, 0);
    /* a path longer than 127 bytes is written cut to 127, as llama.cpp's KV buffer does */
    char longp[PATH_CAP], cmd[2 * PATH_CAP];
    snprintf(longp, sizeof longp, "%s/%0150d.dat", qk_test_tmpdir(), 7);
    snprintf(cmd, sizeof cmd, "cp %s %s", qk_test_shared(WIKI_DAT), longp);
    ck_assert_int_eq(qk_test_run(cmd, NULL), 0);
    snprintf(args, sizeof args, "--imatrix %s %s %s Q4_K_M", longp, WIKI, out);
    free(run_ok(args));
    longp[127] = 0;
    check_keys(out, longp, DATASET, 42, 100);
    /* a rule and an imatrix together: ffn_down Q6_K with its weights is imat.Q6_K's */
    snprintf(args, sizeof args, "--imatrix %s --tensor-type ffn_down=q6_k %s %s Q4_K_M", WIKI_DAT, WIKI, out);
    free(run_ok(args));
    check_mixed(out, "wiki-qwen2-13m", "imat.Q6_K", "imat.Q4_K_M", WANT("ffn_down"));
    /* Q2_K_S: needs the imatrix, and an entry for every Q2_K tensor */
    expect_error("--dry-run " WIKI " Q2_K_S", NULL, WANT("Q2_K_S needs an importance matrix", "--imatrix"));
    snprintf(args, sizeof args, "--imatrix %s --json %s %s %s Q2_K_S", WIKI_DAT, js, WIKI, out);
    free(run_ok(args));
    check_keys(out, WIKI_DAT, DATASET, 42, 100);
    j = qk_test_read_json(js);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "file_type")->valueint, 21);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "tensors"), 3), "type")->valuestring,
                     "Q2_K"); /* blk.0.attn_k.weight */
    cJSON_Delete(j);
    snprintf(args, sizeof args, "--imatrix %s --exclude-weights ffn_down %s %s Q2_K_S", WIKI_DAT, WIKI, out);
    unlink(out);
    expect_error(args, out, WANT("'blk.0.ffn_down.weight'", "no entry"));
    unlink(js);
}
END_TEST

START_TEST(imatrix_errors) {
    char args[4096];
    const char *out = tmp("err.gguf");
    /* another model's imatrix: the first mismatching entry is named */
    snprintf(args, sizeof args, "--imatrix %s %s %s Q4_K_M", STORIES_DAT, WIKI, out);
    expect_error(args, out, WANT("stories260K.imatrix.dat", "does not match", "blk."));
    snprintf(args, sizeof args, "--imatrix %s --dry-run %s Q4_K_M", WIKI_DAT, STORIES);
    expect_error(args, NULL, WANT("wiki-qwen2-13m.imatrix.dat", "does not match"));
    /* not an imatrix / missing */
    snprintf(args, sizeof args, "--imatrix %s %s %s Q4_K_M", WIKI, WIKI, out);
    expect_error(args, out, WANT("wiki-qwen2-13m-f16.gguf", "not an importance matrix"));
    snprintf(args, sizeof args, "--imatrix %s %s %s Q4_K_M", tmp("no-such.dat"), WIKI, out);
    expect_error(args, out, WANT("no-such.dat"));
    /* option conflicts */
    snprintf(args, sizeof args, "--include-weights attn %s %s Q4_K_M", WIKI, out);
    expect_error(args, out, WANT("--include-weights without --imatrix"));
    snprintf(args, sizeof args, "--imatrix %s --include-weights a --exclude-weights b %s %s Q4_K_M", WIKI_DAT, WIKI,
             out);
    expect_error(args, out, WANT("cannot be combined"));
    snprintf(args, sizeof args, "--imatrix %s --imatrix %s %s %s Q4_K_M", WIKI_DAT, WIKI_DAT, WIKI, out);
    expect_error(args, out, WANT("--imatrix given twice"));
    expect_error("--imatrix", NULL, WANT("needs a value"));
    /* the output may not be the imatrix (copied: the golden is read-only anyway) */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cp %s %s", qk_test_shared(WIKI_DAT), tmp("copy.dat"));
    ck_assert_int_eq(qk_test_run(cmd, NULL), 0);
    snprintf(args, sizeof args, "--imatrix %s %s %s Q4_K_M", tmp("copy.dat"), WIKI, tmp("copy.dat"));
    expect_error(args, NULL, WANT("copy.dat"));
    ck_assert(file_exists(tmp("copy.dat")));
}
END_TEST

/* ------------------------------------------------------------------ rules --------- */

/* The JSON tensor named name in the report at path. */
static const cJSON *json_tensor(const cJSON *j, const char *name) {
    const cJSON *ts = cJSON_GetObjectItem(j, "tensors");
    for (int i = 0; i < cJSON_GetArraySize(ts); i++) {
        const cJSON *t = cJSON_GetArrayItem(ts, i);
        if (strcmp(cJSON_GetObjectItem(t, "name")->valuestring, name) == 0) return t;
    }
    ck_abort_msg("no tensor %s in the JSON", name);
    return NULL;
}

START_TEST(tensor_type_rules) {
    char args[4096];
    const char *js = tmp("rules.json");
    /* The log line and the JSON name the rule; the last matching rule wins. */
    snprintf(args, sizeof args, "--dry-run --json %s --tensor-type attn=q8_0 --tensor-type ffn_down=q6_k "
             "--tensor-type 'blk\\.0\\.attn_v=q5_k' %s Q4_K_M", js, WIKI);
    char *so = run_ok(args);
    ck_assert_msg(strstr(so, "blk.0.ffn_down.weight - [  768,   256,     1,     1], type =    f16, converting to "
                             "q6_K .. size =     0.38 MiB ->     0.15 MiB (rule 2: ffn_down=q6_k)\n"), "%s", so);
    ck_assert_ptr_nonnull(
        strstr(so, "converting to q5_K .. size =     0.06 MiB ->     0.02 MiB (rule 3: blk\\.0\\.attn_v=q5_k)\n"));
    ck_assert_ptr_nonnull(
        strstr(so, "blk.1.attn_v.weight - [  256,   128,     1,     1], type =    f16, converting to q8_0"));
    /* ffn_up: no rule, nothing after the size */
    ck_assert_ptr_nonnull(strstr(so, "blk.0.ffn_up.weight - [  256,   768,     1,     1], type =    f16, converting to "
                                     "q4_K .. size =     0.38 MiB ->     0.11 MiB\n"));
    free(so);
    cJSON *j = qk_test_read_json(js);
    const cJSON *rule = cJSON_GetObjectItem(json_tensor(j, "blk.3.ffn_down.weight"), "rule");
    ck_assert_int_eq(cJSON_GetObjectItem(rule, "index")->valueint, 2);
    ck_assert_str_eq(cJSON_GetObjectItem(rule, "rule")->valuestring, "ffn_down=q6_k");
    ck_assert_str_eq(cJSON_GetObjectItem(rule, "origin")->valuestring, "--tensor-type");
    ck_assert_str_eq(cJSON_GetObjectItem(rule, "type")->valuestring, "Q6_K");
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(json_tensor(j, "blk.3.ffn_up.weight"), "rule")));
    rule = cJSON_GetObjectItem(json_tensor(j, "blk.0.attn_v.weight"), "rule");
    ck_assert_int_eq(cJSON_GetObjectItem(rule, "index")->valueint, 3);
    const cJSON *rule1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "rules"), 0);
    ck_assert_int_eq(cJSON_GetObjectItem(rule1, "n_matched")->valueint, 24);
    cJSON_Delete(j);
    /* --output-tensor-type wins over a rule; a rule's K-quant falls back like the mixture's;
     * a rule that matches nothing is a warning. */
    snprintf(args, sizeof args, "--dry-run --json %s --tensor-type output=q4_0 --output-tensor-type f16 "
             "--tensor-type attn_q=q6_k --tensor-type nomatch=q8_0 %s Q4_K_M", js, STORIES);
    so = run_ok(args);
    ck_assert_ptr_nonnull(strstr(so, "blk.0.attn_q.weight - tensor cols 64 x 64 are not divisible by 256, required "
                                     "for q6_K - using fallback quantization q8_0"));
    ck_assert_ptr_nonnull(strstr(so, "warning: rule 3 'nomatch=q8_0' (--tensor-type) matches no quantized tensor"));
    free(so);
    j = qk_test_read_json(js);
    const cJSON *t = json_tensor(j, "output.weight");
    ck_assert_str_eq(cJSON_GetObjectItem(t, "type")->valuestring, "F16");
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(t, "rule")));
    t = json_tensor(j, "blk.4.attn_q.weight");
    ck_assert_str_eq(cJSON_GetObjectItem(t, "type")->valuestring, "Q8_0");
    ck_assert_str_eq(cJSON_GetObjectItem(t, "wanted")->valuestring, "Q6_K");
    ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(t, "rule"), "index")->valueint, 2);
    cJSON_Delete(j);
    /* Refused: a rule's type that cannot hold the rows and has no fallback (Q8_0 on 172
     * columns; under --pure; with --no-fallback). */
    expect_error("--dry-run --tensor-type ffn_down=q8_0 " STORIES " Q4_K_M", NULL,
                 WANT("tensor 'blk.0.ffn_down.weight' has rows of 172 values", "rule 1 'ffn_down=q8_0'"));
    expect_error("--dry-run --pure --tensor-type 'ffn_down=f16' --tensor-type attn_q=q4_k " STORIES " Q8_0", NULL,
                 WANT("'blk.0.attn_q.weight'", "rule 2 'attn_q=q4_k'", "--pure"));
    expect_error("--dry-run --no-fallback --tensor-type attn_q=q4_k " STORIES " Q8_0", NULL,
                 WANT("'blk.0.attn_q.weight'", "rule 1", "--no-fallback"));
    /* F16 target: rules ignored (as llama-quantize), with a warning */
    so = run_ok("--dry-run --tensor-type ffn_down=q8_0 " WIKI " F16");
    ck_assert_ptr_nonnull(strstr(so, "warning: the --tensor-type rules apply only when TYPE is a quantized type"));
    ck_assert_ptr_null(strstr(so, "converting to q8_0"));
    free(so);
    unlink(js);
}
END_TEST

START_TEST(tensor_type_file) {
    char args[4096];
    const char *rf = tmp("rules.txt"), *js = tmp("rulesf.json");
    FILE *f = fopen(rf, "w");
    ck_assert_ptr_nonnull(f);
    fputs("# rules for wiki\n\n  attn_v=q8_0   # trailing comment\n\t\nffn_(up|gate)=Q5_K\n", f);
    fclose(f);
    /* rules of the file in its place: the later --tensor-type wins over the file's */
    snprintf(args, sizeof args, "--dry-run --json %s --tensor-type attn_v=q4_0 --tensor-type-file %s "
             "--tensor-type ffn_up=q6_k %s Q4_K_M", js, rf, WIKI);
    free(run_ok(args));
    cJSON *j = qk_test_read_json(js);
    const cJSON *t = json_tensor(j, "blk.1.attn_v.weight");
    ck_assert_str_eq(cJSON_GetObjectItem(t, "type")->valuestring, "Q8_0");
    char origin[PATH_CAP + 8];
    snprintf(origin, sizeof origin, "%s:3", rf);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(t, "rule"), "origin")->valuestring, origin);
    ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(t, "rule"), "index")->valueint, 2);
    ck_assert_str_eq(cJSON_GetObjectItem(json_tensor(j, "blk.1.ffn_gate.weight"), "type")->valuestring, "Q5_K");
    ck_assert_str_eq(cJSON_GetObjectItem(json_tensor(j, "blk.1.ffn_up.weight"), "type")->valuestring, "Q6_K");
    cJSON_Delete(j);
    unlink(js);
    /* a bad line: FILE:LINE and the rule */
    static const char *const bad[][2] = {
        {"attn_v=q8_0\n# ok\nffn_down\n", ":3: 'ffn_down' has no '='"},
        {"\n=q8_0\n", ":2: '=q8_0' has no tensor name"},
        {"attn_v=q8_0 ffn_down=q6_k\n", ":1: 'attn_v=q8_0 ffn_down=q6_k' has white space"},
        {"attn_v=q9_9\n", ":1: 'attn_v=q9_9': unknown ggml type 'q9_9'"},
        {"ffn_(down=q8_0\n", ":1: 'ffn_(down=q8_0': bad regular expression"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f = fopen(rf, "w");
        fputs(bad[i][0], f);
        fclose(f);
        snprintf(args, sizeof args, "--dry-run --tensor-type-file %s %s Q4_K_M", rf, WIKI);
        expect_error(args, NULL, WANT(rf, bad[i][1]));
    }
    snprintf(args, sizeof args, "--tensor-type-file %s %s Q4_K_M", tmp("no-rules.txt"), WIKI);
    expect_error(args, NULL, WANT("--tensor-type-file: cannot open", "no-rules.txt"));
    /* the same checks on --tensor-type */
    static const char *const bad_opt[][2] = {
        {"ffn_down", "--tensor-type: 'ffn_down' has no '='"}, {"=q8_0", "has no tensor name pattern"},
        {"ffn_down=", "has no type after '='"}, {"ffn_down=q8_K", "activation type"},
        {"'ffn_(down=q8_0'", "bad regular expression"}};
    for (size_t i = 0; i < sizeof bad_opt / sizeof bad_opt[0]; i++) {
        snprintf(args, sizeof args, "--dry-run --tensor-type %s %s Q4_K_M", bad_opt[i][0], WIKI);
        expect_error(args, NULL, WANT(bad_opt[i][1]));
    }
    unlink(rf);
}
END_TEST

int main(void) {
    Suite *s = suite_create("quantize_imatrix");
    TCase *tc = tcase_create("quantize_imatrix");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, golden_imat_wiki);
    tcase_add_test(tc, golden_imatg_wiki);
    tcase_add_test(tc, golden_imat_stories);
    tcase_add_test(tc, include_exclude_weights);
    tcase_add_test(tc, imatrix_errors);
    tcase_add_test(tc, tensor_type_rules);
    tcase_add_test(tc, tensor_type_file);
    suite_add_tcase(s, tc);
    return qk_test_main(s);
}
