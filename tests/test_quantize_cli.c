/*
 * test_quantize_cli.c — qk-quantize end to end.
 *
 * Agreement with llama.cpp: for every golden llama-quantize run (both models, every
 * type), qk-quantize's output must load with gguf_open, carry general.file_type and
 * general.quantization_version = 2, and have the golden .tsv's tensors in the same order
 * with the same types, shapes and data sha256; the file size must equal the golden .size;
 * where llama.cpp's own file is kept (golden/<model>/models/), the files must be
 * byte-identical. Runs whose llama-quantize failed must fail too, leaving no file. The
 * stories260K sweep runs again with QK_FORCE_SCALAR=1 (the scalar reference path), and on
 * an edge-case model (flat, zero, tiny, huge, tie-breaking blocks) the SIMD and scalar
 * paths must write identical files for every type that has a SIMD quantizer.
 * Then: --dry-run writes nothing, COPY, overrides, --json, and error cases, each of which
 * must give one line on stderr, a non-zero exit, and no output (not even a temporary);
 * a bad output path (missing, not a directory, read-only, a directory; also --json's) is
 * refused before anything is printed: stdout stays empty.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "gguf.h"
#include "testutil.h"

#define WIKI "data/models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf"
#define STORIES "data/models/stories260K/stories260K.gguf"

#define PATH_CAP 1024

static char g_out[PATH_CAP], g_err[PATH_CAP];
static const char *g_env = ""; /* environment assignments put before the command */

/* Run qk-quantize with args; stdout and stderr go to separate files. Returns the exit code. */
static int run_q(const char *args, char **out, char **err) {
    snprintf(g_out, sizeof g_out, "%s/stdout.txt", qk_test_tmpdir());
    snprintf(g_err, sizeof g_err, "%s/stderr.txt", qk_test_tmpdir());
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "(%s%s %s >%s 2>%s)", g_env, qk_test_bin("qk-quantize"), args, g_out, g_err);
    int rc = qk_test_run(cmd, NULL);
    if (out) *out = qk_test_read_file(g_out, NULL);
    if (err) *err = qk_test_read_file(g_err, NULL);
    return rc;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* No file in dir whose name starts with prefix (catches leftover temporaries). */
static int no_file_with_prefix(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return 1;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) found = 1;
    closedir(d);
    return !found;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* Check an error run: non-zero, exactly one stderr line "qk-quantize: error: ..." that
 * contains `want`, and no output file or temporary. With g_silent set, stdout must also be
 * empty (errors found before the first log line: bad output paths). */
static int g_silent = 0;
static void expect_error(const char *args, const char *out_name, const char *want) {
    char *err = NULL, *out = NULL;
    int rc = run_q(args, &out, &err);
    ck_assert_msg(rc != 0, "'%s' succeeded", args);
    ck_assert_msg(!g_silent || (out && out[0] == 0), "'%s': stdout not empty: %.300s", args, out ? out : "");
    free(out);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(count_lines(err) == 1 && strncmp(err, "qk-quantize: error: ", 20) == 0,
                  "'%s': stderr is not one error line: %s", args, err);
    ck_assert_msg(strstr(err, want) != NULL, "'%s': error '%s' lacks '%s'", args, err, want);
    if (out_name) {
        char p[PATH_CAP];
        snprintf(p, sizeof p, "%s/%s", qk_test_tmpdir(), out_name);
        ck_assert_msg(!file_exists(p), "'%s' left %s behind", args, p);
        ck_assert_msg(no_file_with_prefix(qk_test_tmpdir(), out_name), "'%s' left a temporary", args);
    }
    free(err);
}

/* Compare a written file with a golden tsv (order, type, ne, sha256) and size. */
static void check_against_golden(const char *path, const char *model, const char *type, uint32_t ftype_id) {
    qk_err e = {{0}};
    gguf_ctx *g = gguf_open(path, &e);
    ck_assert_msg(g != NULL, "%s: %s", path, e.msg);
    uint32_t ft = 0, qv = 0;
    ck_assert_int_eq(gguf_get_u32(g, "general.file_type", &ft), 0);
    ck_assert_uint_eq(ft, ftype_id);
    ck_assert_int_eq(gguf_get_u32(g, "general.quantization_version", &qv), 0);
    ck_assert_uint_eq(qv, 2);

    char rel[256];
    snprintf(rel, sizeof rel, "golden/%s/quantize/%s.%s.tsv", model, model, type);
    char *tsv = qk_test_read_file(qk_test_shared(rel), NULL);
    ck_assert_msg(tsv != NULL, "cannot read %s", rel);
    size_t k = 0;
    char *save = NULL;
    for (char *line = strtok_r(tsv, "\n", &save); line; line = strtok_r(NULL, "\n", &save), k++) {
        char name[80], ty[16], ne[64], sha[65];
        ck_assert_int_eq(sscanf(line, "%79[^\t]\t%15[^\t]\t%63[^\t]\t%64s", name, ty, ne, sha), 4);
        ck_assert_uint_lt(k, g->n_tensors);
        const gguf_tensor *t = &g->tensors[k];
        ck_assert_msg(strcmp(t->name, name) == 0, "%s %s: tensor %zu is %s, golden %s", model, type, k, t->name, name);
        ck_assert_msg(strcmp(qk_type_name(t->type), ty) == 0, "%s %s %s: %s, golden %s", model, type, name,
                      qk_type_name(t->type), ty);
        char mine[64];
        size_t o = 0;
        for (uint32_t d = 0; d < t->n_dims; d++) o += snprintf(mine + o, sizeof mine - o, d ? ",%lld" : "%lld", (long long)t->ne[d]);
        ck_assert_str_eq(mine, ne);
        char hex[65];
        qk_test_sha256_hex(t->data, t->nbytes, hex);
        ck_assert_msg(strcmp(hex, sha) == 0, "%s %s %s (%s): data differs from llama-quantize's", model, type, name, ty);
    }
    ck_assert_uint_eq(k, g->n_tensors);
    free(tsv);
    gguf_close(g);

    snprintf(rel, sizeof rel, "golden/%s/quantize/%s.%s.size", model, model, type);
    char *sz = qk_test_read_file(qk_test_shared(rel), NULL);
    ck_assert_ptr_nonnull(sz);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq((long long)st.st_size, atoll(sz));
    free(sz);
}

/* Every golden run of a model; returns the number checked. */
static int sweep(const char *model, const char *base_rel) {
    char dir[PATH_CAP];
    snprintf(dir, sizeof dir, "%s", qk_test_shared("golden"));
    snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/%s/quantize", model);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int n = 0, threads = 1;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name), ml = strlen(model);
        if (len < ml + 6 || strncmp(e->d_name, model, ml) != 0 || strcmp(e->d_name + len - 4, ".log") != 0) continue;
        char type[32];
        snprintf(type, sizeof type, "%.*s", (int)(len - ml - 5), e->d_name + ml + 1);
        if (qk_test_golden_is_imatrix(type)) continue; /* made with --imatrix */
        char tsv[2 * PATH_CAP + 64], out[PATH_CAP], args[8192];
        snprintf(tsv, sizeof tsv, "%s/%s.%s.tsv", dir, model, type);
        snprintf(out, sizeof out, "%s/sweep-%s-%s.gguf", qk_test_tmpdir(), model, type);
        threads = 3 - threads; /* alternate 1 and 2 threads: the bytes must not depend on it */
        snprintf(args, sizeof args, "%s %s %s %d", qk_test_shared(base_rel), out, type, threads);
        char *err = NULL;
        int rc = run_q(args, NULL, &err);
        if (file_exists(tsv)) {
            ck_assert_msg(rc == 0, "%s %s failed: %s", model, type, err);
            /* general.file_type: the ftype id of the type name */
            static const struct { const char *n; uint32_t id; } ids[] = {
                {"Q4_0", 2}, {"Q4_1", 3}, {"Q8_0", 7}, {"Q5_0", 8}, {"Q5_1", 9}, {"Q2_K", 10},
                {"Q3_K_S", 11}, {"Q3_K_M", 12}, {"Q3_K_L", 13}, {"Q4_K_S", 14}, {"Q4_K_M", 15},
                {"Q5_K_S", 16}, {"Q5_K_M", 17}, {"Q6_K", 18}, {"IQ4_NL", 25}};
            uint32_t id = 0xffffffffu;
            for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
                if (strcmp(ids[i].n, type) == 0) id = ids[i].id;
            ck_assert_msg(id != 0xffffffffu, "no ftype id for %s", type);
            check_against_golden(out, model, type, id);
            unlink(out);
        } else {
            ck_assert_msg(rc != 0, "%s %s: llama-quantize failed, qk-quantize succeeded", model, type);
            ck_assert_msg(count_lines(err) == 1 && strstr(err, "qk-quantize: error: tensor '"), "%s %s: %s", model,
                          type, err);
            ck_assert(!file_exists(out));
        }
        free(err);
        n++;
    }
    closedir(d);
    return n;
}

START_TEST(golden_sweep_wiki) { ck_assert_int_ge(sweep("wiki-qwen2-13m", WIKI), 13); }
END_TEST

START_TEST(golden_sweep_stories) { ck_assert_int_ge(sweep("stories260K", STORIES), 13); }
END_TEST

/* The plain scalar quantizers (QK_FORCE_SCALAR=1 turns the SIMD paths off) against
 * llama.cpp too: the SIMD paths must not be the only ones the golden files check. */
START_TEST(golden_sweep_stories_scalar) {
    g_env = "QK_FORCE_SCALAR=1 ";
    ck_assert_int_ge(sweep("stories260K", STORIES), 13);
    g_env = "";
}
END_TEST

/* ------------------------------------------------ SIMD and scalar paths agree ------ */

/* One row of the edge-case model: kind selects the pattern, e = element index. Each
 * pattern aims at a branch of the reference quantizers that random weights rarely reach:
 * flat, all-zero and sub-epsilon blocks, overflow of x^2 and of max-min, denormals,
 * non-positive blocks whose fitted min becomes 0 (then max - min = 0), ties between +a and
 * -a for the largest magnitude, and values that land exactly on a rounding tie or an
 * IQ4_NL level midpoint for the scale the search starts from. */
#define EDGE_NE0 768 /* three super-blocks: batches of two leave one over */
#define EDGE_KINDS 18
static float edge_value(int kind, int e) {
    static const float mid[] = {-127,  -115.5f, -104, -93.5f, -83, -74, -65, -57, -49, -42, -35,
                                -28.5f, -22,   -16,  -10,    -4.5f, 1, 7, 13, 19, 25, 31.5f,
                                38,    45.5f,  53,   61,     69,  79, 89, 101, 113, 0};
    const int j = e % 32, h = e % 16;
    uint32_t r = (uint32_t)e * 2654435761u + (uint32_t)kind * 40503u;
    r ^= r >> 15;
    const float u = (float)(r & 0xffff) / 65536.0f - 0.5f; /* -0.5 .. 0.5 */
    switch (kind) {
    case 0: return 0.0f;
    case 1: return 1.0f;
    case 2: return -1.0f;
    case 3: return -0.0f;
    case 4: return -(float)((r >> 3) % 4);              /* 0, -1, -2, -3 */
    case 5: return (e % 7 == 0) ? 0.0f : -0.25f * (float)(1 + h % 3);
    case 6: return 1e-20f * u;                          /* below GROUP_MAX_EPS */
    case 7: return 1e-40f * (float)(h - 8);             /* denormals */
    case 8: return 1e30f * u;                           /* x^2 overflows */
    case 9: return (h & 1) ? 3e38f : -3e38f;            /* max - min overflows */
    case 10: return h == 5 ? 5.0f : 0.0f;               /* one spike per 16 */
    case 11: return (h == 3) ? 2.0f : (h == 9) ? -2.0f : 0.5f * u; /* +-max tie */
    case 12: return j == 0 ? -127.0f : mid[j];          /* IQ4_NL midpoints, id = 1 */
    case 13: return h == 0 ? -32.0f : 0.5f * (float)(h * 3 - 24); /* Q6_K ties, iscale 1 */
    case 14: return h == 0 ? -4.0f : 0.5f * (float)(h % 8 - 4);   /* Q3_K ties */
    case 15: return h == 0 ? 15.0f : 0.5f * (float)(h + (h & 1)); /* Q4_K ties, min 0 */
    case 16: return (float)((r >> 4) % 9) - 4.0f;       /* small integers */
    default: return u * (1.0f + (float)(e % 5)) * 0.05f; /* plain noise, varying scale */
    }
}

/* A writer for <tmp>/<name> (path: PATH_CAP bytes) with the few llama keys the test
 * models carry: 1 block, 2 heads, 2 KV heads. */
static gguf_writer *new_test_gguf(const char *name, char *path) {
    snprintf(path, PATH_CAP, "%s/%s", qk_test_tmpdir(), name);
    qk_err e = {{0}};
    gguf_writer *w = gguf_writer_new(path, &e);
    ck_assert_msg(w != NULL, "%s", e.msg);
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_u32(w, "llama.block_count", 1);
    gguf_writer_set_u32(w, "llama.attention.head_count", 2);
    gguf_writer_set_u32(w, "llama.attention.head_count_kv", 2);
    return w;
}

static const char *make_edge_gguf(void) {
    static char path[PATH_CAP];
    gguf_writer *w = new_test_gguf("edge.gguf", path);
    qk_err e = {{0}};
    /* each kind twice, the second time shifted by a sub-block, so that every pattern also
     * meets every lane position of the batched searches */
    const int64_t rows = 2 * EDGE_KINDS + 3;
    const int64_t ne_norm[1] = {EDGE_NE0}, ne_mat[2] = {EDGE_NE0, rows};
    ck_assert_int_ge(gguf_writer_add_tensor(w, "output_norm.weight", QK_TYPE_F32, 1, ne_norm, &e), 0);
    ck_assert_int_ge(gguf_writer_add_tensor(w, "blk.0.ffn_down.weight", QK_TYPE_F32, 2, ne_mat, &e), 0);
    ck_assert_int_eq(gguf_writer_write_header(w, &e), 0);
    float *x = malloc(sizeof(float) * EDGE_NE0 * (size_t)rows);
    ck_assert_ptr_nonnull(x);
    for (int i = 0; i < EDGE_NE0; i++) x[i] = 1.0f;
    ck_assert_int_eq(gguf_writer_write_tensor_data(w, x, sizeof(float) * EDGE_NE0, &e), 0);
    for (int64_t r = 0; r < rows; r++)
        for (int i = 0; i < EDGE_NE0; i++) {
            const int kind = r < 2 * EDGE_KINDS ? (int)(r % EDGE_KINDS) : (int)(r + i / 16) % EDGE_KINDS;
            x[r * EDGE_NE0 + i] = edge_value(kind, r >= EDGE_KINDS ? i + 16 : i);
        }
    ck_assert_int_eq(gguf_writer_write_tensor_data(w, x, sizeof(float) * EDGE_NE0 * (size_t)rows, &e), 0);
    free(x);
    ck_assert_int_eq(gguf_writer_finish(w, &e), 0);
    return path;
}

/* sha256 of a whole file. */
static void file_sha(const char *path, char hex[65]) {
    size_t n;
    char *d = qk_test_read_file(path, &n);
    ck_assert_msg(d != NULL, "cannot read %s", path);
    qk_test_sha256_hex(d, n, hex);
    free(d);
}

/* Every quantizer with a SIMD path (IQ4_NL, the K-quants' searches and re-quantization,
 * and the type table's from_float for Q8_0, F16 and BF16, which qk-quantize uses) writes
 * the same bytes as the plain scalar code on the edge-case model. On a CPU without AVX2
 * both runs take the scalar path. */
START_TEST(simd_matches_scalar) {
    const char *in = make_edge_gguf();
    static const char *types[] = {"IQ4_NL", "Q2_K", "Q3_K_S", "Q4_K_S", "Q5_K_S", "Q6_K", "Q4_K_M",
                                  "Q8_0",   "F16",  "BF16"};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        char hex[2][65], out[PATH_CAP], args[8192];
        for (int scalar = 0; scalar < 2; scalar++) {
            snprintf(out, sizeof out, "%s/edge-%s-%d.gguf", qk_test_tmpdir(), types[t], scalar);
            snprintf(args, sizeof args, "--pure %s %s %s %d", in, out, types[t], 1 + scalar);
            g_env = scalar ? "QK_FORCE_SCALAR=1 " : "";
            char *err = NULL;
            const int rc = run_q(args, NULL, &err);
            g_env = "";
            ck_assert_msg(rc == 0, "%s%s: %s", scalar ? "scalar " : "", types[t], err);
            free(err);
            file_sha(out, hex[scalar]);
            unlink(out);
        }
        ck_assert_msg(strcmp(hex[0], hex[1]) == 0, "%s: SIMD and scalar outputs differ", types[t]);
    }
    unlink(in);
}
END_TEST

/* Where llama.cpp's own output file is kept, ours must be byte-identical. */
static void identical_file(const char *model, const char *base_rel, const char *type) {
    char out[PATH_CAP], args[8192], rel[256];
    snprintf(out, sizeof out, "%s/ident-%s-%s.gguf", qk_test_tmpdir(), model, type);
    snprintf(args, sizeof args, "%s %s %s", qk_test_shared(base_rel), out, type);
    char *err = NULL;
    ck_assert_msg(run_q(args, NULL, &err) == 0, "%s", err);
    free(err);
    snprintf(rel, sizeof rel, "golden/%s/models/%s-%s.gguf", model, model, type);
    size_t na, nb;
    char *a = qk_test_read_file(out, &na), *b = qk_test_read_file(qk_test_shared(rel), &nb);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(a, b, na) == 0, "%s %s: file differs from llama-quantize's", model, type);
    free(a);
    free(b);
    unlink(out);
}

START_TEST(byte_identical_files) {
    identical_file("wiki-qwen2-13m", WIKI, "Q4_K_M");
    identical_file("wiki-qwen2-13m", WIKI, "Q2_K");
    identical_file("wiki-qwen2-13m", WIKI, "Q6_K");
    identical_file("stories260K", STORIES, "Q4_K_M");
    identical_file("stories260K", STORIES, "Q6_K");
}
END_TEST

START_TEST(dry_run_writes_nothing) {
    char out[PATH_CAP], args[8192];
    snprintf(out, sizeof out, "%s/dry.gguf", qk_test_tmpdir());
    snprintf(args, sizeof args, "--dry-run %s %s q4_k_m", qk_test_shared(WIKI), out);
    char *so = NULL, *se = NULL;
    ck_assert_int_eq(run_q(args, &so, &se), 0);
    ck_assert(!file_exists(out));
    ck_assert(no_file_with_prefix(qk_test_tmpdir(), "dry.gguf"));
    ck_assert_msg(strstr(so, "blk.2.attn_v.weight - [  256,   128,     1,     1], type =    f16, converting to q6_K"),
                  "%s", so);
    ck_assert_ptr_nonnull(strstr(so, "0 of 43 tensor(s) required fallback quantization"));
    ck_assert_ptr_nonnull(strstr(so, "dry run: nothing written"));
    free(so);
    free(se);
    /* Fallbacks are reported on stories260K. */
    snprintf(args, sizeof args, "--dry-run %s Q4_K_M", qk_test_shared(STORIES));
    ck_assert_int_eq(run_q(args, &so, &se), 0);
    ck_assert_ptr_nonnull(strstr(so, "WARNING: 36 of 37 tensor(s) required fallback quantization"));
    ck_assert_ptr_nonnull(strstr(so, "token_embd.weight - tensor cols 64 x 512 are not divisible by 256, required for q4_K - using fallback quantization q5_0"));
    free(so);
    free(se);
}
END_TEST

START_TEST(copy_overrides_json) {
    char out[PATH_CAP], js[PATH_CAP], args[8192];
    /* COPY: tensors unchanged, file_type kept (1 = F16). */
    snprintf(out, sizeof out, "%s/copy.gguf", qk_test_tmpdir());
    snprintf(args, sizeof args, "%s %s COPY", qk_test_shared(WIKI), out);
    char *se = NULL;
    ck_assert_msg(run_q(args, NULL, &se) == 0, "%s", se);
    free(se);
    qk_err e = {{0}};
    gguf_ctx *a = gguf_open(out, &e), *b = gguf_open(qk_test_shared(WIKI), &e);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    uint32_t ft;
    ck_assert_int_eq(gguf_get_u32(a, "general.file_type", &ft), 0);
    ck_assert_uint_eq(ft, 1);
    ck_assert_uint_eq(a->n_tensors, b->n_tensors);
    for (uint64_t i = 0; i < a->n_tensors; i++) {
        const gguf_tensor *t = gguf_find_tensor(b, a->tensors[i].name);
        ck_assert_ptr_nonnull(t);
        ck_assert_int_eq(t->type, a->tensors[i].type);
        ck_assert_uint_eq(t->nbytes, a->tensors[i].nbytes);
        ck_assert(memcmp(t->data, a->tensors[i].data, t->nbytes) == 0);
    }
    gguf_close(a);
    gguf_close(b);
    unlink(out);

    /* Override + JSON; integer ftype id (15 = Q4_K_M). */
    snprintf(out, sizeof out, "%s/ovr.gguf", qk_test_tmpdir());
    snprintf(js, sizeof js, "%s/ovr.json", qk_test_tmpdir());
    snprintf(args, sizeof args, "--output-tensor-type q8_0 --json %s %s %s 15 2", js, qk_test_shared(WIKI), out);
    ck_assert_msg(run_q(args, NULL, &se) == 0, "%s", se);
    free(se);
    a = gguf_open(out, &e);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(gguf_find_tensor(a, "token_embd.weight")->type, QK_TYPE_Q8_0);
    ck_assert_int_eq(gguf_find_tensor(a, "blk.5.ffn_down.weight")->type, QK_TYPE_Q6_K);
    ck_assert_int_eq(gguf_get_u32(a, "general.file_type", &ft), 0);
    ck_assert_uint_eq(ft, 15);
    struct stat st;
    stat(out, &st);
    gguf_close(a);
    char *txt = qk_test_read_file(js, NULL);
    ck_assert_ptr_nonnull(txt);
    cJSON *j = cJSON_Parse(txt);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "n_tensors")->valueint, 74);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "n_params")->valuedouble, 12916992);
    ck_assert_int_eq((long long)cJSON_GetObjectItem(j, "file_bytes")->valuedouble, (long long)st.st_size);
    cJSON *ts = cJSON_GetObjectItem(j, "tensors");
    ck_assert_int_eq(cJSON_GetArraySize(ts), 74);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(ts, 1), "name")->valuestring, "token_embd.weight");
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(ts, 1), "type")->valuestring, "Q8_0");
    cJSON_Delete(j);
    free(txt);
    unlink(out);
    unlink(js);

    /* Already-quantized input with --allow-requantize works: Q4_K_M -> Q8_0. */
    snprintf(out, sizeof out, "%s/requant.gguf", qk_test_tmpdir());
    snprintf(args, sizeof args, "--allow-requantize %s %s Q8_0",
             qk_test_shared("golden/wiki-qwen2-13m/models/wiki-qwen2-13m-Q4_K_M.gguf"), out);
    ck_assert_msg(run_q(args, NULL, &se) == 0, "%s", se);
    free(se);
    a = gguf_open(out, &e);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(gguf_find_tensor(a, "blk.0.attn_q.weight")->type, QK_TYPE_Q8_0);
    gguf_close(a);
    unlink(out);

    char *so = NULL;
    ck_assert_int_eq(run_q("--help", &so, NULL), 0);
    ck_assert_ptr_nonnull(strstr(so, "--allow-requantize"));
    ck_assert_ptr_nonnull(strstr(so, "Q4_K_M"));
    ck_assert_ptr_nonnull(strstr(so, "default"));
    free(so);
}
END_TEST

/* A small llama-arch GGUF with one bad value in each tensor named in bad_tensor (row
 * ne[1]-1: the 5th element from the end); returns its path. */
static const char *make_bad_gguf(const char *name, const char *bad_tensor, float bad) {
    static char path[PATH_CAP];
    gguf_writer *w = new_test_gguf(name, path);
    qk_err e = {{0}};
    static const char *names[] = {"output_norm.weight", "token_embd.weight", "blk.0.attn_v.weight"};
    int64_t shapes[3][2] = {{64, 1}, {64, 16}, {64, 64}};
    for (int i = 0; i < 3; i++)
        ck_assert_int_ge(gguf_writer_add_tensor(w, names[i], QK_TYPE_F32, i ? 2 : 1, shapes[i], &e), 0);
    ck_assert_int_eq(gguf_writer_write_header(w, &e), 0);
    for (int i = 0; i < 3; i++) {
        size_t n = (size_t)(shapes[i][0] * shapes[i][1]);
        float *x = malloc(n * sizeof *x);
        for (size_t k = 0; k < n; k++) x[k] = 0.01f * (float)((k * 37) % 101) - 0.5f;
        if (strstr(bad_tensor, names[i])) x[n - 5] = bad; /* bad_tensor: one name or a list */
        ck_assert_int_eq(gguf_writer_write_tensor_data(w, x, n * sizeof *x, &e), 0);
        free(x);
    }
    ck_assert_int_eq(gguf_writer_finish(w, &e), 0);
    return path;
}

START_TEST(error_cases) {
    const char *tmp = qk_test_tmpdir();
    char args[8192];

    snprintf(args, sizeof args, "%s/does-not-exist.gguf %s/e1.gguf Q4_K_M", tmp, tmp);
    expect_error(args, "e1.gguf", "does-not-exist.gguf");

    /* Truncated GGUF: the first 100000 bytes of the F16 model. */
    size_t n;
    char *full = qk_test_read_file(qk_test_shared(WIKI), &n);
    ck_assert_ptr_nonnull(full);
    char trunc[PATH_CAP];
    snprintf(trunc, sizeof trunc, "%s/trunc.gguf", tmp);
    FILE *f = fopen(trunc, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(full, 1, 100000, f), 100000);
    fclose(f);
    free(full);
    snprintf(args, sizeof args, "%s %s/e2.gguf Q4_K_M", trunc, tmp);
    expect_error(args, "e2.gguf", "trunc");

    snprintf(args, sizeof args, "%s %s/e3.gguf Q4_K_X", qk_test_shared(WIKI), tmp);
    expect_error(args, "e3.gguf", "unknown quantization type 'Q4_K_X'");
    snprintf(args, sizeof args, "%s %s/e3.gguf IQ2_XXS", qk_test_shared(WIKI), tmp);
    expect_error(args, "e3.gguf", "not supported");
    snprintf(args, sizeof args, "--output-tensor-type q9_9 %s %s/e3.gguf Q4_K_M", qk_test_shared(WIKI), tmp);
    expect_error(args, "e3.gguf", "q9_9");

    snprintf(args, sizeof args, "%s %s/e4.gguf Q8_0",
             qk_test_shared("golden/wiki-qwen2-13m/models/wiki-qwen2-13m-Q4_K_M.gguf"), tmp);
    expect_error(args, "e4.gguf", "--allow-requantize");

    /* NaN in a matrix that is quantized, Inf in a norm that is copied. */
    snprintf(args, sizeof args, "%s %s/e5.gguf Q8_0", make_bad_gguf("nan.gguf", "blk.0.attn_v.weight", NAN), tmp);
    expect_error(args, "e5.gguf", "blk.0.attn_v.weight");
    snprintf(args, sizeof args, "%s %s/e5.gguf Q8_0", make_bad_gguf("inf.gguf", "output_norm.weight", INFINITY), tmp);
    expect_error(args, "e5.gguf", "output_norm.weight");
    /* Two bad tensors, converted in parallel: the error names the first in file order
     * (token_embd.weight comes before the layers) and its first bad row. */
    snprintf(args, sizeof args, "%s %s/e5.gguf Q8_0 2",
             make_bad_gguf("nan2.gguf", "blk.0.attn_v.weight token_embd.weight", NAN), tmp);
    expect_error(args, "e5.gguf", "'token_embd.weight' has a NaN or Inf weight in row 15");
    /* ... and the same file without the bad value quantizes fine. */
    char out[PATH_CAP];
    snprintf(out, sizeof out, "%s/good.gguf", tmp);
    snprintf(args, sizeof args, "%s %s Q8_0", make_bad_gguf("ok.gguf", "none", 0), out);
    char *se = NULL;
    ck_assert_msg(run_q(args, NULL, &se) == 0, "%s", se);
    free(se);
    ck_assert(file_exists(out));

    /* Output directory that does not exist / is not a directory / is not writable, output
     * that is a directory, JSON directory missing: refused before anything is printed. */
    g_silent = 1;
    snprintf(args, sizeof args, "%s %s/no-such-dir/e6.gguf Q8_0", qk_test_shared(WIKI), tmp);
    expect_error(args, NULL, "no-such-dir");
    snprintf(args, sizeof args, "--dry-run %s %s/e6.gguf Q8_0 --json %s/no-json-dir/e6.json", qk_test_shared(WIKI),
             tmp, tmp);
    expect_error(args, "e6", "no-json-dir");
    snprintf(args, sizeof args, "%s %s/e6.gguf Q8_0 --json %s/no-json-dir/e6.json", qk_test_shared(WIKI), tmp, tmp);
    expect_error(args, "e6", "no-json-dir");
    snprintf(args, sizeof args, "%s %s/good.gguf/e6.gguf Q8_0", make_bad_gguf("ok.gguf", "none", 0), tmp);
    expect_error(args, "e6", "not a directory"); /* good.gguf is a file */
    snprintf(args, sizeof args, "%s %s Q8_0", make_bad_gguf("ok.gguf", "none", 0), tmp);
    expect_error(args, "e6", "is a directory");
    if (geteuid() != 0) { /* root ignores directory permissions */
        char ro[PATH_CAP];
        snprintf(ro, sizeof ro, "%s/readonly", tmp);
        ck_assert_int_eq(mkdir(ro, 0555), 0);
        snprintf(args, sizeof args, "%s %s/e7.gguf Q8_0", qk_test_shared(WIKI), ro);
        expect_error(args, NULL, "readonly");
        ck_assert(no_file_with_prefix(ro, "e7"));
    }
    g_silent = 0;

    /* --pure on 64-wide rows: no fallback, clear error naming the tensor. */
    snprintf(args, sizeof args, "--pure %s %s/e8.gguf Q4_K_M", qk_test_shared(STORIES), tmp);
    expect_error(args, "e8.gguf", "'output.weight'");
    snprintf(args, sizeof args, "--no-fallback %s %s/e8.gguf Q4_K_M", qk_test_shared(STORIES), tmp);
    expect_error(args, "e8.gguf", "'token_embd.weight'");
    /* An output over the input, or over the other output, compared by identity ("./x" is
     * "x"); the input's bytes are unchanged (sha256). */
    size_t lin;
    char *bin = qk_test_read_file(out, &lin), sha_before[65], sha_after[65];
    ck_assert_ptr_nonnull(bin);
    qk_test_sha256_hex(bin, lin, sha_before);
    free(bin);
    snprintf(args, sizeof args, "%s %s Q8_0", out, out);
    expect_error(args, NULL, "is the input");
    snprintf(args, sizeof args, "--json %s %s %s/e10.gguf Q8_0", out, out, tmp);
    expect_error(args, "e10.gguf", "is the input");
    snprintf(args, sizeof args, "--json %s/./e11.gguf %s %s/e11.gguf Q8_0", tmp, out, tmp);
    expect_error(args, "e11.gguf", "are the same file");
    bin = qk_test_read_file(out, &lin);
    ck_assert_ptr_nonnull(bin);
    qk_test_sha256_hex(bin, lin, sha_after);
    free(bin);
    ck_assert_str_eq(sha_after, sha_before);
    /* Bad arguments. */
    expect_error("--frobnicate x y Q4_K_M", NULL, "--frobnicate");
    snprintf(args, sizeof args, "%s %s/e9.gguf Q4_K_M two", qk_test_shared(WIKI), tmp);
    expect_error(args, "e9.gguf", "nthreads");
}
END_TEST

/* qk-info on a file qk-quantize wrote, on the F32 stories model, and on bad input. */
START_TEST(info_tool) {
    char out[PATH_CAP], args[8192], cmd[16384];
    snprintf(out, sizeof out, "%s/info-q4km.gguf", qk_test_tmpdir());
    snprintf(args, sizeof args, "%s %s Q4_K_M", qk_test_shared(WIKI), out);
    char *se = NULL;
    ck_assert_msg(run_q(args, NULL, &se) == 0, "%s", se);
    free(se);
    char *txt = NULL;
    snprintf(cmd, sizeof cmd, "%s %s", qk_test_bin("qk-info"), out);
    ck_assert_int_eq(qk_test_run(cmd, &txt), 0);
    ck_assert_msg(strstr(txt, "general.file_type") && strstr(txt, "= 15 (Q4_K - Medium)"), "%s", txt);
    ck_assert_ptr_nonnull(strstr(txt, "arr[str,32000]   = [\"<unk>\", \"<s>\", \"</s>\", \"<0x00>\", ...]"));
    ck_assert_ptr_nonnull(strstr(txt, "general.quantization_version"));
    ck_assert_ptr_nonnull(strstr(txt, "token_embd.weight         Q6_K    [256, 32000]"));
    ck_assert_ptr_nonnull(strstr(txt, "74 tensors, 12916992 parameters"));
    /* 9518080 bytes of tensor data: 8 * 9518080 / 12916992 = 5.89 bpw */
    ck_assert_ptr_nonnull(strstr(txt, "9518080 bytes of tensor data (9.08 MiB), 5.89 bpw"));
    free(txt);
    unlink(out);

    snprintf(cmd, sizeof cmd, "%s --json %s", qk_test_bin("qk-info"), qk_test_shared(STORIES));
    ck_assert_int_eq(qk_test_run(cmd, &txt), 0);
    cJSON *j = cJSON_Parse(txt);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "tensors")), 48);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(j, "bpw")->valuedouble, 32.0, 1e-9); /* all F32 */
    cJSON *kv0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "metadata"), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(kv0, "key")->valuestring, "tokenizer.ggml.tokens");
    ck_assert_int_eq(cJSON_GetObjectItem(kv0, "n")->valueint, 512);
    cJSON_Delete(j);
    free(txt);

    /* Errors: one line, exit 1. */
    char trunc[PATH_CAP];
    snprintf(trunc, sizeof trunc, "%s/info-trunc.gguf", qk_test_tmpdir());
    size_t n;
    char *full = qk_test_read_file(qk_test_shared(STORIES), &n);
    FILE *f = fopen(trunc, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(full, 1, n - 1000, f), n - 1000);
    fclose(f);
    free(full);
    const char *bad[] = {trunc, "/no/such/file.gguf", "--bogus"};
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "(%s %s 2>%s >/dev/null)", qk_test_bin("qk-info"), bad[i], g_err);
        ck_assert_int_eq(qk_test_run(cmd, NULL), 1);
        char *err = qk_test_read_file(g_err, NULL);
        ck_assert_msg(count_lines(err) == 1 && strncmp(err, "qk-info: error: ", 16) == 0, "%s", err);
        free(err);
    }

    /* Terminal escapes in a key, a string value and a tensor name (ESC, BEL, and U+009B,
     * the 8-bit CSI) are printed escaped: the file cannot drive the terminal. */
    char evil[PATH_CAP];
    snprintf(evil, sizeof evil, "%s/info-evil.gguf", qk_test_tmpdir());
    qk_err e = {{0}};
    gguf_writer *w = gguf_writer_new(evil, &e);
    ck_assert_msg(w != NULL, "%s", e.msg);
    gguf_writer_set_str(w, "evil\x1b[31mkey", "val\x1b]0;title\x07 \xc2\x9b" "2J");
    const int64_t ne[1] = {32};
    ck_assert_int_eq(gguf_writer_add_tensor(w, "t\x1b[2J", QK_TYPE_F32, 1, ne, &e), 0);
    ck_assert_int_eq(gguf_writer_write_header(w, &e), 0);
    float zero[32] = {0};
    ck_assert_int_eq(gguf_writer_write_tensor_data(w, zero, sizeof zero, &e), 0);
    ck_assert_msg(gguf_writer_finish(w, &e) == 0, "%s", e.msg);
    snprintf(cmd, sizeof cmd, "%s %s", qk_test_bin("qk-info"), evil);
    char *o = NULL;
    ck_assert_int_eq(qk_test_run(cmd, &o), 0);
    ck_assert_msg(!strchr(o, 0x1b) && !strchr(o, 0x07) && !strstr(o, "\xc2\x9b"), "raw control bytes: %s", o);
    ck_assert_msg(strstr(o, "evil\\x1b[31mkey") && strstr(o, "t\\x1b[2J") && strstr(o, "\\u009b2J"), "%s", o);
    free(o);
}
END_TEST

int main(void) {
    Suite *s = suite_create("quantize_cli");
    TCase *tc = tcase_create("quantize_cli");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, golden_sweep_wiki);
    tcase_add_test(tc, golden_sweep_stories);
    tcase_add_test(tc, golden_sweep_stories_scalar);
    tcase_add_test(tc, simd_matches_scalar);
    tcase_add_test(tc, byte_identical_files);
    tcase_add_test(tc, dry_run_writes_nothing);
    tcase_add_test(tc, copy_overrides_json);
    tcase_add_test(tc, error_cases);
    tcase_add_test(tc, info_tool);
    suite_add_tcase(s, tc);
    return qk_test_main(s);
}
