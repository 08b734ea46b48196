/*
 * test_imatrix.c — importance matrices (engine/imatrix.h): the golden files of real
 * llama.cpp runs read, written back byte for byte, converted between the formats with the
 * same weights, merged, checked against models; and every malformed input a clean -1 with
 * a one-line message naming the file (the bad files are built in the test's temp dir).
 *
 * Golden files: <model>/imatrix/<model>.imatrix.dat (c392e50 llama-imatrix, -c 256 over
 * 100 chunks of data/calibration/wiki.test.tail.raw; logs beside them) and
 * wiki-qwen2-13m.imatrix.gguf (current llama.cpp, same data).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "imatrix.h"
#include "testutil.h"

#define WIKI_DAT "golden/wiki-qwen2-13m/imatrix/wiki-qwen2-13m.imatrix.dat"
#define WIKI_GGUF "golden/wiki-qwen2-13m/imatrix/wiki-qwen2-13m.imatrix.gguf"
#define STORIES_DAT "golden/stories260K/imatrix/stories260K.imatrix.dat"
#define WIKI_MODEL "data/models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf"
#define STORIES_MODEL "data/models/stories260K/stories260K.gguf"
#define DATASET "data/calibration/wiki.test.tail.raw"

static const char *tmp_path(const char *name) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", qk_test_tmpdir(), name);
    return buf;
}

static qk_imatrix *read_ok(const char *path) {
    qk_err err = {{0}};
    qk_imatrix *im = qk_imatrix_read(path, &err);
    ck_assert_msg(im != NULL, "%s", err.msg);
    return im;
}

/* Reading path must fail with a one-line message that names the file and contains want. */
static void read_fails(const char *path, const char *want) {
    qk_err err = {{0}};
    qk_imatrix *im = qk_imatrix_read(path, &err);
    ck_assert_msg(im == NULL, "%s: accepted, expected an error containing '%s'", path, want);
    ck_assert_msg(strchr(err.msg, '\n') == NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
    ck_assert_msg(strstr(err.msg, want) != NULL, "expected '%s' in: %s", want, err.msg);
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* The weight matrices llama-imatrix collects from: 2-D "blk.*" tensors of a model. */
static int64_t count_blk_matrices(const char *model) {
    qk_err err = {{0}};
    gguf_ctx *g = gguf_open(qk_test_shared(model), &err);
    ck_assert_msg(g != NULL, "%s", err.msg);
    int64_t n = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (strncmp(g->tensors[i].name, "blk.", 4) == 0 && g->tensors[i].n_dims == 2) n++;
    gguf_close(g);
    return n;
}

/* "computing over N chunks" in a llama-imatrix log. */
static int log_chunks(const char *log) {
    char *text = qk_test_read_file(qk_test_shared(log), NULL);
    ck_assert_ptr_nonnull(text);
    const char *p = strstr(text, "computing over ");
    ck_assert_ptr_nonnull(p);
    int n = atoi(p + strlen("computing over "));
    free(text);
    return n;
}

static void assert_same(const qk_imatrix *a, const qk_imatrix *b) {
    ck_assert_int_eq(a->n_entries, b->n_entries);
    ck_assert_int_eq(a->chunk_count, b->chunk_count);
    ck_assert_int_eq(a->n_datasets, b->n_datasets);
    for (int32_t i = 0; i < a->n_datasets; i++) ck_assert_str_eq(a->datasets[i], b->datasets[i]);
    for (int64_t i = 0; i < a->n_entries; i++) {
        const qk_imatrix_entry *x = &a->entries[i], *y = qk_imatrix_find(b, x->name);
        ck_assert_msg(y != NULL, "%s missing", x->name);
        ck_assert_int_eq(x->n_cols, y->n_cols);
        ck_assert_int_eq(x->n_mat, y->n_mat);
        ck_assert(memcmp(x->in_sum2, y->in_sum2, sizeof(float) * (size_t)(x->n_cols * x->n_mat)) == 0);
        ck_assert(memcmp(x->counts, y->counts, sizeof(float) * (size_t)x->n_mat) == 0);
    }
}

/* Bitwise-equal quantization weights for every entry of a in b. */
static void assert_same_weights(const qk_imatrix *a, const qk_imatrix *b) {
    ck_assert_int_eq(a->n_entries, b->n_entries);
    for (int64_t i = 0; i < a->n_entries; i++) {
        const qk_imatrix_entry *x = &a->entries[i], *y = qk_imatrix_find(b, x->name);
        ck_assert_msg(y != NULL, "%s missing", x->name);
        ck_assert_int_eq(x->n_cols * x->n_mat, y->n_cols * y->n_mat);
        int64_t n = x->n_cols * x->n_mat;
        float *wx = malloc(sizeof(float) * (size_t)n), *wy = malloc(sizeof(float) * (size_t)n);
        for (int64_t m = 0; m < x->n_mat; m++) qk_imatrix_weights(x, m, wx + m * x->n_cols);
        for (int64_t m = 0; m < y->n_mat; m++) qk_imatrix_weights(y, m, wy + m * y->n_cols);
        ck_assert_msg(memcmp(wx, wy, sizeof(float) * (size_t)n) == 0, "weights of %s differ", x->name);
        free(wx);
        free(wy);
    }
}

static int files_equal(const char *a, const char *b) {
    size_t la, lb;
    char *x = qk_test_read_file(a, &la), *y = qk_test_read_file(b, &lb);
    ck_assert(x && y);
    int eq = la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return eq;
}

START_TEST(test_golden_dat) {
    struct {
        const char *dat, *log, *model, *first;
        int64_t first_cols;
    } g[] = {
        {WIKI_DAT, "golden/wiki-qwen2-13m/imatrix/wiki-qwen2-13m.imatrix.log", WIKI_MODEL,
         "blk.5.attn_output.weight", 256},
        {STORIES_DAT, "golden/stories260K/imatrix/stories260K.imatrix.log", STORIES_MODEL, "blk.4.ffn_down.weight",
         172},
    };
    for (size_t k = 0; k < 2; k++) {
        qk_imatrix *im = read_ok(qk_test_shared(g[k].dat));
        ck_assert_int_eq(im->n_entries, count_blk_matrices(g[k].model)); /* 42 and 35 */
        ck_assert_int_eq(im->chunk_count, log_chunks(g[k].log));        /* 100 */
        ck_assert_int_eq(im->chunk_size, 0);
        ck_assert_int_eq(im->n_datasets, 1);
        ck_assert_str_eq(im->datasets[0], DATASET);
        ck_assert_str_eq(im->entries[0].name, g[k].first);
        ck_assert_int_eq(im->entries[0].n_cols, g[k].first_cols);
        for (int64_t i = 0; i < im->n_entries; i++) {
            const qk_imatrix_entry *e = &im->entries[i];
            ck_assert_int_eq(e->n_mat, 1);
            ck_assert(e->counts[0] == 100.0f); /* ncall */
            ck_assert_ptr_eq(qk_imatrix_find(im, e->name), e);
            /* llama-quantize's weights: the stored value / ncall, in float */
            float *w = malloc(sizeof(float) * (size_t)e->n_cols);
            qk_imatrix_weights(e, 0, w);
            for (int64_t j = 0; j < e->n_cols; j++) ck_assert(w[j] == e->in_sum2[j] / 100.0f);
            free(w);
        }
        ck_assert_ptr_null(qk_imatrix_find(im, "blk.0.nonexistent.weight"));
        qk_err err = {{0}};
        gguf_ctx *m = gguf_open(qk_test_shared(g[k].model), &err);
        ck_assert_msg(m != NULL, "%s", err.msg);
        ck_assert_msg(qk_imatrix_check_model(im, m, &err) == 0, "%s", err.msg);
        gguf_close(m);
        qk_imatrix_free(im);
    }
}
END_TEST

START_TEST(test_golden_gguf) {
    qk_imatrix *im = read_ok(qk_test_shared(WIKI_GGUF));
    ck_assert_int_eq(im->n_entries, count_blk_matrices(WIKI_MODEL));
    ck_assert_int_eq(im->chunk_count, log_chunks("golden/wiki-qwen2-13m/imatrix/wiki-qwen2-13m.imatrix.gguf.log"));
    ck_assert_int_eq(im->chunk_size, 256); /* the log's n_ctx=256 */
    ck_assert_int_eq(im->n_datasets, 1);
    ck_assert_str_eq(im->datasets[0], DATASET);
    ck_assert_str_eq(im->entries[0].name, "blk.0.attn_k.weight");
    /* The same data as the c392e50 .dat: the same entries, weights within float noise. */
    qk_imatrix *dat = read_ok(qk_test_shared(WIKI_DAT));
    ck_assert_int_eq(dat->n_entries, im->n_entries);
    for (int64_t i = 0; i < im->n_entries; i++) {
        const qk_imatrix_entry *e = &im->entries[i], *d = qk_imatrix_find(dat, e->name);
        ck_assert_ptr_nonnull(d);
        ck_assert_int_eq(e->n_mat, 1);
        ck_assert_int_eq(d->n_cols, e->n_cols);
        ck_assert(e->counts[0] == 25600.0f); /* 100 chunks x 256 rows */
        float *we = malloc(sizeof(float) * (size_t)e->n_cols), *wd = malloc(sizeof(float) * (size_t)e->n_cols);
        qk_imatrix_weights(e, 0, we);
        qk_imatrix_weights(d, 0, wd);
        for (int64_t j = 0; j < e->n_cols; j++) {
            ck_assert(we[j] == e->in_sum2[j] / 25600.0f);
            ck_assert(qk_test_close("imatrix", "gguf vs dat weight", we[j], wd[j], 1e-3, 0));
        }
        free(we);
        free(wd);
    }
    qk_imatrix_free(dat);
    qk_imatrix_free(im);
}
END_TEST

/* read → write → read gives identical floats, and the written file is the golden one byte
 * for byte (c392e50's writer gives these bytes for this data; our GGUF is current
 * llama.cpp's layout). */
START_TEST(test_round_trips) {
    const char *golden[] = {WIKI_DAT, STORIES_DAT, WIKI_GGUF};
    for (size_t k = 0; k < 3; k++) {
        qk_imatrix_format fmt = strstr(golden[k], ".gguf") ? QK_IMATRIX_GGUF : QK_IMATRIX_DAT;
        char src[4096];
        snprintf(src, sizeof src, "%s", qk_test_shared(golden[k]));
        qk_imatrix *a = read_ok(src);
        const char *out = tmp_path("rt.out");
        qk_err err = {{0}};
        ck_assert_msg(qk_imatrix_write(a, out, fmt, &err) == 0, "%s", err.msg);
        ck_assert_msg(files_equal(src, out), "%s written back differs", golden[k]);
        qk_imatrix *b = read_ok(out);
        assert_same(a, b);
        ck_assert_int_eq(b->chunk_size, a->chunk_size);
        qk_imatrix_free(a);
        qk_imatrix_free(b);
    }
}
END_TEST

START_TEST(test_conversion_keeps_weights) {
    qk_err err = {{0}};
    /* GGUF → .dat → GGUF */
    qk_imatrix *g = read_ok(qk_test_shared(WIKI_GGUF));
    ck_assert_msg(qk_imatrix_write(g, tmp_path("conv.dat"), QK_IMATRIX_DAT, &err) == 0, "%s", err.msg);
    qk_imatrix *d = read_ok(tmp_path("conv.dat"));
    assert_same_weights(g, d);
    ck_assert_int_eq(d->chunk_count, 100);
    ck_assert_str_eq(d->datasets[0], DATASET);
    ck_assert(d->entries[0].counts[0] == 25600.0f); /* integer counts become ncall */
    ck_assert_msg(qk_imatrix_write(d, tmp_path("conv.gguf"), QK_IMATRIX_GGUF, &err) == 0, "%s", err.msg);
    qk_imatrix *g2 = read_ok(tmp_path("conv.gguf"));
    assert_same_weights(g, g2);
    qk_imatrix_free(g);
    qk_imatrix_free(d);
    qk_imatrix_free(g2);

    /* .dat → GGUF → .dat is the golden .dat again (the GGUF has chunk_size 0: unknown) */
    d = read_ok(qk_test_shared(STORIES_DAT));
    ck_assert_msg(qk_imatrix_write(d, tmp_path("conv2.gguf"), QK_IMATRIX_GGUF, &err) == 0, "%s", err.msg);
    g = read_ok(tmp_path("conv2.gguf"));
    assert_same_weights(d, g);
    ck_assert_msg(qk_imatrix_write(g, tmp_path("conv2.dat"), QK_IMATRIX_DAT, &err) == 0, "%s", err.msg);
    qk_imatrix *d2 = read_ok(tmp_path("conv2.dat"));
    assert_same_weights(d, d2);
    qk_imatrix_free(d2);
    qk_imatrix_free(g);
    qk_imatrix_free(d);

    /* MoE-like entries: counts differing per expert, a count of 0, a non-integer count. */
    qk_imatrix *im = qk_imatrix_new();
    qk_imatrix_entry *e = qk_imatrix_append(im, "blk.0.ffn_up_exps.weight", 4, 3, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    for (int j = 0; j < 4; j++) e->in_sum2[j] = 0.1f * (float)(j + 1), e->in_sum2[8 + j] = 3.3f * (float)(j + 7);
    e->counts[0] = 7, e->counts[1] = 0, e->counts[2] = 13;
    e = qk_imatrix_append(im, "blk.0.attn_q.weight", 3, 1, &err);
    for (int j = 0; j < 3; j++) e->in_sum2[j] = 1.7f * (float)(j + 1);
    e->counts[0] = 2.5f;
    float w[4];
    qk_imatrix_weights(&im->entries[0], 1, w);
    ck_assert(w[0] == 1.0f && w[3] == 1.0f); /* count 0: weight 1 */
    ck_assert_msg(qk_imatrix_write(im, tmp_path("moe.dat"), QK_IMATRIX_DAT, &err) == 0, "%s", err.msg);
    ck_assert_msg(qk_imatrix_write(im, tmp_path("moe.gguf"), QK_IMATRIX_GGUF, &err) == 0, "%s", err.msg);
    d = read_ok(tmp_path("moe.dat"));
    g = read_ok(tmp_path("moe.gguf"));
    ck_assert_int_eq(qk_imatrix_find(d, "blk.0.ffn_up_exps.weight")->n_cols, 12); /* .dat: flat */
    assert_same(im, g);
    assert_same_weights(d, g);
    ck_assert_msg(qk_imatrix_write(d, tmp_path("moe2.gguf"), QK_IMATRIX_GGUF, &err) == 0, "%s", err.msg);
    qk_imatrix *g3 = read_ok(tmp_path("moe2.gguf"));
    assert_same_weights(d, g3);
    qk_imatrix_free(g3);
    qk_imatrix_free(d);
    qk_imatrix_free(g);
    qk_imatrix_free(im);
}
END_TEST

START_TEST(test_add) {
    qk_err err = {{0}};
    qk_imatrix *a = read_ok(qk_test_shared(WIKI_DAT));
    qk_imatrix *b = read_ok(qk_test_shared(WIKI_DAT));
    ck_assert_msg(qk_imatrix_add(a, b, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(a->n_entries, b->n_entries);
    ck_assert_int_eq(a->chunk_count, 200);
    ck_assert_int_eq(a->n_datasets, 2);
    for (int64_t i = 0; i < a->n_entries; i++) {
        const qk_imatrix_entry *x = &a->entries[i], *y = qk_imatrix_find(b, x->name);
        ck_assert(x->counts[0] == 200.0f);
        for (int64_t j = 0; j < x->n_cols; j++) ck_assert(x->in_sum2[j] == y->in_sum2[j] + y->in_sum2[j]);
    }
    /* adding to itself doubles again */
    ck_assert_msg(qk_imatrix_add(a, a, &err) == 0, "%s", err.msg);
    ck_assert(a->entries[0].counts[0] == 400.0f);
    ck_assert_int_eq(a->n_datasets, 4);
    qk_imatrix_free(a);

    /* entries of another model are appended; a shared name with another width is refused
     * and leaves dst as it was */
    a = read_ok(qk_test_shared(WIKI_DAT));
    qk_imatrix *s = read_ok(qk_test_shared(STORIES_DAT));
    int64_t n_before = a->n_entries;
    float first = a->entries[0].in_sum2[0];
    ck_assert_int_eq(qk_imatrix_add(a, s, &err), -1);
    ck_assert_msg(strstr(err.msg, "blk.4.ffn_down.weight") != NULL, "%s", err.msg);
    ck_assert_int_eq(a->n_entries, n_before);
    ck_assert(a->entries[0].in_sum2[0] == first);
    ck_assert_int_eq(a->chunk_count, 100);
    qk_imatrix *c = qk_imatrix_new();
    qk_imatrix_entry *e = qk_imatrix_append(c, "blk.9.new.weight", 2, 1, &err);
    e->in_sum2[0] = 1, e->in_sum2[1] = 2, e->counts[0] = 5;
    ck_assert_msg(qk_imatrix_add(a, c, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(a->n_entries, n_before + 1);
    const qk_imatrix_entry *f = qk_imatrix_find(a, "blk.9.new.weight");
    ck_assert(f && f->in_sum2[1] == 2.0f && f->counts[0] == 5.0f);
    qk_imatrix_free(a);
    qk_imatrix_free(b);
    qk_imatrix_free(s);
    qk_imatrix_free(c);
}
END_TEST

START_TEST(test_check_model) {
    qk_err err = {{0}};
    gguf_ctx *wiki = gguf_open(qk_test_shared(WIKI_MODEL), &err);
    gguf_ctx *stories = gguf_open(qk_test_shared(STORIES_MODEL), &err);
    ck_assert(wiki && stories);
    qk_imatrix *iw = read_ok(qk_test_shared(WIKI_GGUF));
    qk_imatrix *is = read_ok(qk_test_shared(STORIES_DAT));
    ck_assert_msg(qk_imatrix_check_model(iw, wiki, &err) == 0, "%s", err.msg);
    ck_assert_msg(qk_imatrix_check_model(is, stories, &err) == 0, "%s", err.msg);
    /* stories260K's first entry blk.4.ffn_down.weight exists in wiki-qwen2-13m, 768 wide */
    ck_assert_int_eq(qk_imatrix_check_model(is, wiki, &err), -1);
    ck_assert_msg(strstr(err.msg, "'blk.4.ffn_down.weight' has 172") && strstr(err.msg, "ne[0] = 768") &&
                      strstr(err.msg, "compute one for this model") && !strchr(err.msg, '\n'),
                  "%s", err.msg);
    /* wiki-qwen2-13m's blk.0.attn_k.weight is 256 wide, stories260K's 64 */
    ck_assert_int_eq(qk_imatrix_check_model(iw, stories, &err), -1);
    ck_assert_msg(strstr(err.msg, "'blk.0.attn_k.weight'") && strstr(err.msg, "stories260K.gguf"), "%s", err.msg);
    /* a name the model lacks */
    qk_imatrix *x = qk_imatrix_new();
    qk_imatrix_append(x, "blk.7.attn_q.weight", 64, 1, &err);
    ck_assert_int_eq(qk_imatrix_check_model(x, stories, &err), -1);
    ck_assert_msg(strstr(err.msg, "'blk.7.attn_q.weight' is not a tensor"), "%s", err.msg);
    qk_imatrix_free(x);
    qk_imatrix_free(iw);
    qk_imatrix_free(is);
    gguf_close(wiki);
    gguf_close(stories);
}
END_TEST

START_TEST(test_find_many) {
    qk_err err = {{0}};
    qk_imatrix *im = qk_imatrix_new();
    char name[64];
    for (int i = 0; i < 50000; i++) {
        snprintf(name, sizeof name, "blk.%d.ffn_up.weight", i);
        ck_assert_msg(qk_imatrix_append(im, name, 1, 1, &err) != NULL, "%s", err.msg);
    }
    ck_assert_ptr_null(qk_imatrix_append(im, "blk.7.ffn_up.weight", 1, 1, &err));
    ck_assert_msg(strstr(err.msg, "twice"), "%s", err.msg);
    for (int i = 0; i < 50000; i++) {
        snprintf(name, sizeof name, "blk.%d.ffn_up.weight", i);
        const qk_imatrix_entry *e = qk_imatrix_find(im, name);
        ck_assert(e && e == &im->entries[i]);
    }
    ck_assert_ptr_null(qk_imatrix_find(im, "blk.50000.ffn_up.weight"));
    /* a shallow copy holding a selection (as quantize/imatrix_use.c makes): found by a
     * linear search in the copy's own entries, never through the original's index */
    qk_imatrix sel = *im;
    sel.entries = malloc(sizeof *sel.entries * 2);
    sel.entries[0] = im->entries[7], sel.entries[1] = im->entries[3];
    sel.n_entries = 2;
    ck_assert_ptr_eq(qk_imatrix_find(&sel, "blk.3.ffn_up.weight"), &sel.entries[1]);
    ck_assert_ptr_null(qk_imatrix_find(&sel, "blk.4.ffn_up.weight"));
    sel.n_entries = im->n_entries; /* same count, other array: still not the original's index */
    free(sel.entries);
    sel.entries = malloc(sizeof *sel.entries * (size_t)im->n_entries);
    for (int64_t i = 0; i < im->n_entries; i++) sel.entries[i] = im->entries[im->n_entries - 1 - i];
    ck_assert_ptr_eq(qk_imatrix_find(&sel, "blk.0.ffn_up.weight"), &sel.entries[im->n_entries - 1]);
    free(sel.entries);
    ck_assert_ptr_null(qk_imatrix_append(im, "", 1, 1, &err));
    ck_assert_ptr_null(qk_imatrix_append(im, "x", 0, 1, &err));
    ck_assert_ptr_null(qk_imatrix_append(im, "x", 1, -1, &err));
    qk_imatrix_free(im);
}
END_TEST

/* ---- malformed .dat files ---- */

typedef struct dbuf {
    unsigned char b[4096];
    size_t n;
} dbuf;

static void put(dbuf *d, const void *p, size_t n) {
    ck_assert(d->n + n <= sizeof d->b);
    memcpy(d->b + d->n, p, n);
    d->n += n;
}
static void put_i32(dbuf *d, int32_t v) {
    put(d, &v, 4);
}
static void put_entry(dbuf *d, const char *name, int32_t ncall, int32_t nval, const float *v) {
    put_i32(d, (int32_t)strlen(name));
    put(d, name, strlen(name));
    put_i32(d, ncall);
    put_i32(d, nval);
    put(d, v, sizeof(float) * (size_t)nval);
}
static void put_trailer(dbuf *d, int32_t last_call, const char *ds) {
    put_i32(d, last_call);
    put_i32(d, (int32_t)strlen(ds));
    put(d, ds, strlen(ds));
}

/* A valid two-entry .dat: offsets 4 (len of entry 0), 8 name "a.w", 11 ncall, 15 nval,
 * 19 values[2]; entry 1 at 27; trailer at 50. */
static dbuf small_dat(void) {
    dbuf d = {.n = 0};
    const float v[2] = {1.5f, 2.5f};
    put_i32(&d, 2);
    put_entry(&d, "a.w", 10, 2, v);
    put_entry(&d, "b.w", 10, 2, v);
    put_trailer(&d, 10, "cal.txt");
    return d;
}

static void patch_i32(dbuf *d, size_t off, int32_t v) {
    memcpy(d->b + off, &v, 4);
}

static void dat_fails(const dbuf *d, const char *want) {
    const char *p = tmp_path("bad.dat");
    write_bytes(p, d->b, d->n);
    read_fails(p, want);
}

START_TEST(test_bad_dat) {
    dbuf ok = small_dat(), d;
    const char *p = tmp_path("ok.dat");
    write_bytes(p, ok.b, ok.n);
    qk_imatrix *im = read_ok(p);
    ck_assert_int_eq(im->n_entries, 2);
    ck_assert_int_eq(im->chunk_count, 10);
    ck_assert_str_eq(im->datasets[0], "cal.txt");
    qk_imatrix_free(im);

    /* Every truncation fails except the two ends old files have (before the trailer, and
     * after last_call). */
    for (size_t n = 0; n < ok.n; n++) {
        char path[4096];
        snprintf(path, sizeof path, "%s", tmp_path("trunc.dat"));
        write_bytes(path, ok.b, n);
        qk_err err = {{0}};
        im = qk_imatrix_read(path, &err);
        if (n == 50 || n == 54) {
            ck_assert_msg(im != NULL, "length %zu: %s", n, err.msg);
            ck_assert_int_eq(im->chunk_count, n == 54 ? 10 : 0);
            ck_assert_int_eq(im->n_datasets, 0);
            qk_imatrix_free(im);
        } else {
            ck_assert_msg(im == NULL, "length %zu accepted", n);
            ck_assert_msg(strstr(err.msg, path) && !strchr(err.msg, '\n'), "%s", err.msg);
        }
    }
    d = ok, patch_i32(&d, 0, 0), dat_fails(&d, "no entries");
    d = ok, patch_i32(&d, 0, -5), dat_fails(&d, "no entries");
    d = ok, patch_i32(&d, 0, INT32_MAX), dat_fails(&d, "claims 2147483647 entries");
    d = ok, patch_i32(&d, 4, 0), dat_fails(&d, "name length of 0");
    d = ok, patch_i32(&d, 4, -1), dat_fails(&d, "name length of -1");
    d = ok, patch_i32(&d, 4, INT32_MAX), dat_fails(&d, "bytes are left");
    d = ok, patch_i32(&d, 11, -1), dat_fails(&d, "ncall = -1");
    d = ok, patch_i32(&d, 15, 0), dat_fails(&d, "claims 0 values");
    d = ok, patch_i32(&d, 15, -3), dat_fails(&d, "claims -3 values");
    d = ok, patch_i32(&d, 15, INT32_MAX), dat_fails(&d, "claims 2147483647 values");
    d = ok, d.b[9] = 0, dat_fails(&d, "NUL");
    d = ok, memcpy(d.b + 31, "a.w", 3), dat_fails(&d, "'a.w' appears twice");
    float bad[] = {NAN, INFINITY, -1.0f};
    for (int k = 0; k < 3; k++) d = ok, memcpy(d.b + 23, &bad[k], 4), dat_fails(&d, "must be finite and >= 0");
    d = ok, patch_i32(&d, 50, -1), dat_fails(&d, "last_call) is -1");
    d = ok, patch_i32(&d, 54, -1), dat_fails(&d, "dataset name length is -1");
    d = ok, patch_i32(&d, 54, INT32_MAX), dat_fails(&d, "dataset name is 2147483647 bytes long");
    d = ok, put(&d, "xy", 2), dat_fails(&d, "2 unexpected bytes");
    d = ok, d.n = 52, dat_fails(&d, "truncated");

    /* ncall = 0: llama-quantize uses the stored values undivided */
    d = ok, patch_i32(&d, 11, 0);
    write_bytes(p, d.b, d.n);
    im = read_ok(p);
    float w[2];
    qk_imatrix_weights(&im->entries[0], 0, w);
    ck_assert(w[0] == 1.5f && w[1] == 2.5f);
    qk_imatrix_weights(&im->entries[1], 0, w);
    ck_assert(w[0] == 0.15f && w[1] == 0.25f);
    qk_imatrix_free(im);

    /* every byte set to each of a few values: a clean result either way, never a crash
     * (run under ASan to see out-of-bounds reads) */
    const unsigned char vals[] = {0x00, 0x7f, 0x80, 0xff};
    for (size_t i = 0; i < ok.n; i++)
        for (size_t k = 0; k < sizeof vals; k++) {
            d = ok, d.b[i] = vals[k];
            write_bytes(p, d.b, d.n);
            qk_err err = {{0}};
            im = qk_imatrix_read(p, &err);
            ck_assert_msg(im != NULL || (strstr(err.msg, p) && !strchr(err.msg, '\n')), "%s", err.msg);
            qk_imatrix_free(im);
        }

    /* not files */
    read_fails(tmp_path("does-not-exist.dat"), "cannot open");
    read_fails(qk_test_tmpdir(), "not a regular file");
    const char *fifo = tmp_path("fifo.dat");
    unlink(fifo);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    read_fails(fifo, "not a regular file");
    unlink(fifo);
}
END_TEST

/* ---- malformed GGUF files ---- */

typedef struct gtensor {
    const char *name;
    qk_type type;
    uint32_t nd;
    int64_t ne[2];
    float v[8];
} gtensor;

static void write_gguf(const char *path, const char *type, const gtensor *t, int nt) {
    qk_err err = {{0}};
    gguf_writer *w = gguf_writer_new(path, &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    if (type) gguf_writer_set_str(w, "general.type", type);
    gguf_writer_set_u32(w, "imatrix.chunk_count", 3);
    for (int i = 0; i < nt; i++)
        ck_assert_msg(gguf_writer_add_tensor(w, t[i].name, t[i].type, t[i].nd, t[i].ne, &err) >= 0, "%s", err.msg);
    ck_assert_msg(gguf_writer_write_header(w, &err) == 0, "%s", err.msg);
    for (int i = 0; i < nt; i++) {
        size_t n = (size_t)(t[i].ne[0] * (t[i].nd > 1 ? t[i].ne[1] : 1));
        uint16_t h[8] = {0};
        const void *data = t[i].type == QK_TYPE_F16 ? (const void *)h : (const void *)t[i].v;
        size_t bytes = n * (t[i].type == QK_TYPE_F16 ? 2 : 4);
        ck_assert_msg(gguf_writer_write_tensor_data(w, data, bytes, &err) == 0, "%s", err.msg);
    }
    ck_assert_msg(gguf_writer_finish(w, &err) == 0, "%s", err.msg);
}

START_TEST(test_bad_gguf) {
    const char *p = tmp_path("bad.gguf");
    const gtensor sum = {"a.w.in_sum2", QK_TYPE_F32, 2, {4, 2}, {1, 2, 3, 4, 0, 0, 0, 0}};
    const gtensor cnt = {"a.w.counts", QK_TYPE_F32, 2, {1, 2}, {2, 0}};
    gtensor t[3];

    /* valid, with a count of 0 (partial data: weight 1) */
    t[0] = sum, t[1] = cnt;
    write_gguf(p, "imatrix", t, 2);
    qk_imatrix *im = read_ok(p);
    ck_assert_int_eq(im->n_entries, 1);
    ck_assert_int_eq(im->entries[0].n_mat, 2);
    ck_assert_int_eq(im->chunk_count, 3);
    ck_assert_int_eq(im->n_datasets, 0);
    float w[4];
    qk_imatrix_weights(&im->entries[0], 0, w);
    ck_assert(w[0] == 0.5f && w[3] == 2.0f);
    qk_imatrix_weights(&im->entries[0], 1, w);
    ck_assert(w[0] == 1.0f && w[3] == 1.0f);
    qk_imatrix_free(im);

    write_gguf(p, NULL, t, 2), read_fails(p, "no general.type");
    write_gguf(p, "model", t, 2), read_fails(p, "not \"imatrix\"");
    write_gguf(p, "imatrix", t, 1), read_fails(p, "'a.w.in_sum2' has no matching 'a.w.counts'");
    write_gguf(p, "imatrix", t + 1, 1), read_fails(p, "'a.w.counts' has no matching 'a.w.in_sum2'");
    write_gguf(p, "imatrix", t, 0), read_fails(p, "no entries");
    t[2] = (gtensor){"a.w.extra", QK_TYPE_F32, 1, {1, 1}, {0}};
    write_gguf(p, "imatrix", t, 3), read_fails(p, "not an imatrix tensor");
    t[1] = cnt, t[1].ne[1] = 1, t[1].nd = 1;
    write_gguf(p, "imatrix", t, 2), read_fails(p, "shapes of 'a.w' do not match");
    t[1] = (gtensor){"a.w.counts", QK_TYPE_F32, 2, {2, 1}, {1, 1}};
    write_gguf(p, "imatrix", t, 2), read_fails(p, "shapes of 'a.w' do not match");
    t[1] = cnt, t[1].type = QK_TYPE_F16;
    write_gguf(p, "imatrix", t, 2), read_fails(p, "must be F32");
    t[1] = cnt, t[1].v[0] = -1;
    write_gguf(p, "imatrix", t, 2), read_fails(p, "'a.w.counts'[0] is -1");
    t[1] = cnt, t[1].v[1] = NAN;
    write_gguf(p, "imatrix", t, 2), read_fails(p, "'a.w.counts'[1]");
    t[1] = cnt, t[0].v[1] = INFINITY;
    write_gguf(p, "imatrix", t, 2), read_fails(p, "'a.w.in_sum2'[1] is inf");
    t[0] = sum, t[0].v[2] = -0.5f;
    write_gguf(p, "imatrix", t, 2), read_fails(p, "'a.w.in_sum2'[2] is -0.5");
    t[0] = sum, t[0].v[5] = 1.0f; /* matrix 1 has count 0 */
    write_gguf(p, "imatrix", t, 2), read_fails(p, "count of 0 but non-zero sums");

    /* a truncated GGUF imatrix (the GGUF reader's checks) */
    t[0] = sum, t[1] = cnt;
    write_gguf(p, "imatrix", t, 2);
    size_t len;
    char *bytes = qk_test_read_file(p, &len);
    write_bytes(p, bytes, len / 2); /* (cutting only the final padding would still be a valid file) */
    free(bytes);
    qk_err err = {{0}};
    ck_assert_ptr_null(qk_imatrix_read(p, &err));
    ck_assert_msg(strstr(err.msg, p) != NULL, "%s", err.msg);

    /* every byte of a valid file set to 0xff: a clean result either way */
    write_gguf(p, "imatrix", t, 2);
    bytes = qk_test_read_file(p, &len);
    for (size_t i = 0; i < len; i++) {
        char saved = bytes[i];
        bytes[i] = (char)0xff;
        write_bytes(p, bytes, len);
        bytes[i] = saved;
        im = qk_imatrix_read(p, &err);
        ck_assert_msg(im != NULL || (strstr(err.msg, p) && !strchr(err.msg, '\n')), "%s", err.msg);
        qk_imatrix_free(im);
    }
    free(bytes);

    /* a model is not an imatrix */
    read_fails(qk_test_shared(STORIES_MODEL), "no general.type");
}
END_TEST

START_TEST(test_write_errors) {
    qk_err err = {{0}};
    qk_imatrix *im = qk_imatrix_new();
    ck_assert_int_eq(qk_imatrix_write(im, tmp_path("empty.dat"), QK_IMATRIX_DAT, &err), -1);
    ck_assert_msg(strstr(err.msg, "no entries"), "%s", err.msg);
    ck_assert_int_eq(qk_imatrix_write(im, tmp_path("empty.gguf"), QK_IMATRIX_GGUF, &err), -1);
    ck_assert_int_eq(access(tmp_path("empty.dat"), F_OK), -1);
    ck_assert_int_eq(access(tmp_path("empty.gguf"), F_OK), -1);
    /* a weight name too long for a GGUF tensor name */
    char name[80];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = 0;
    ck_assert_ptr_nonnull(qk_imatrix_append(im, name, 2, 1, &err));
    ck_assert_int_eq(qk_imatrix_write(im, tmp_path("long.gguf"), QK_IMATRIX_GGUF, &err), -1);
    ck_assert_msg(strstr(err.msg, "long.gguf") && strstr(err.msg, "too long"), "%s", err.msg);
    ck_assert_int_eq(access(tmp_path("long.gguf"), F_OK), -1);
    /* no directory */
    ck_assert_int_eq(qk_imatrix_write(im, tmp_path("no/such/dir.dat"), QK_IMATRIX_DAT, &err), -1);
    qk_imatrix_free(im);
}
END_TEST

int main(void) {
    Suite *s = suite_create("imatrix");
    TCase *tc = tcase_create("imatrix");
    tcase_add_test(tc, test_golden_dat);
    tcase_add_test(tc, test_golden_gguf);
    tcase_add_test(tc, test_round_trips);
    tcase_add_test(tc, test_conversion_keeps_weights);
    tcase_add_test(tc, test_add);
    tcase_add_test(tc, test_check_model);
    tcase_add_test(tc, test_find_many);
    tcase_add_test(tc, test_bad_dat);
    tcase_add_test(tc, test_bad_gguf);
    tcase_add_test(tc, test_write_errors);
    suite_add_tcase(s, tc);
    return qk_test_main(s);
}
