/*
 * test_gguf.c — GGUF writer/reader round trip and rejection of corrupt files.
 *
 * The corrupt cases patch single fields of a valid file written by our writer, at offsets
 * computed from the format (gguf.h), and every truncation of the file is tried: each must
 * be a clean -1 with a message, never a crash or an out-of-bounds read (run under
 * valgrind/ASan to see the latter).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "strtab.h"
#include "testutil.h"

static char path_buf[4096];

static const char *tmp_path(const char *name) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", qk_test_tmpdir(), name);
    return path_buf;
}

/* A small file: every KV value type, one string array, two tensors (F32 [3], F16 [4,2]). */
static void write_sample(const char *path, uint32_t alignment) {
    qk_err err = {{0}};
    gguf_writer *w = gguf_writer_new(path, &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    if (alignment) gguf_writer_set_u32(w, "general.alignment", alignment);
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_u32(w, "test.u32", 123456789u);
    gguf_writer_set_i32(w, "test.i32", -42);
    gguf_writer_set_f32(w, "test.f32", 0.5f);
    gguf_writer_set_bool(w, "test.bool", true);
    const char *strs[] = {"a", "", "héllo"};
    gguf_writer_set_arr_str(w, "test.strs", strs, 3);
    int32_t ints[] = {1, -2, 3, -4};
    gguf_writer_set_arr(w, "test.ints", GGUF_TYPE_INT32, ints, 4);
    gguf_writer_set_u32(w, "test.u32", 7u); /* replaces the earlier value */
    int64_t ne1[] = {3}, ne2[] = {4, 2};
    ck_assert_int_eq(gguf_writer_add_tensor(w, "a.weight", QK_TYPE_F32, 1, ne1, &err), 0);
    ck_assert_int_eq(gguf_writer_add_tensor(w, "b.weight", QK_TYPE_F16, 2, ne2, &err), 1);
    ck_assert_int_eq(gguf_writer_write_header(w, &err), 0);
    float a[3] = {1.0f, -2.0f, 3.5f};
    uint16_t b[8] = {0x3c00, 0x4000, 0x4200, 0x4400, 0xbc00, 0, 0x7bff, 0x0001};
    ck_assert_int_eq(gguf_writer_write_tensor_data(w, a, sizeof a, &err), 0);
    ck_assert_int_eq(gguf_writer_write_tensor_data(w, b, sizeof b, &err), 0);
    uint64_t expect = gguf_writer_total_size(w);
    ck_assert_int_eq(gguf_writer_finish(w, &err), 0);
    size_t len;
    char *buf = qk_test_read_file(path, &len);
    ck_assert_uint_eq(len, expect);
    free(buf);
}

START_TEST(test_round_trip) {
    const char *p = tmp_path("sample.gguf");
    write_sample(p, 0);
    qk_err err = {{0}};
    gguf_ctx *g = gguf_open(p, &err);
    ck_assert_msg(g != NULL, "%s", err.msg);
    ck_assert_uint_eq(g->version, 3);
    ck_assert_uint_eq(g->alignment, 32);
    ck_assert_uint_eq(g->n_kv, 7);
    uint32_t u;
    ck_assert_int_eq(gguf_get_u32(g, "test.u32", &u), 0);
    ck_assert_uint_eq(u, 7);
    int64_t i64;
    ck_assert_int_eq(gguf_get_i64(g, "test.i32", &i64), 0);
    ck_assert_int_eq(i64, -42);
    ck_assert_int_eq(gguf_get_u32(g, "test.i32", &u), -1); /* negative does not fit */
    float f;
    ck_assert_int_eq(gguf_get_f32(g, "test.f32", &f), 0);
    ck_assert(f == 0.5f);
    bool bo;
    ck_assert_int_eq(gguf_get_bool(g, "test.bool", &bo), 0);
    ck_assert(bo);
    gguf_str s;
    ck_assert_int_eq(gguf_get_str(g, "general.architecture", &s), 0);
    ck_assert_int_eq((int)s.len, 5);
    ck_assert_int_eq(memcmp(s.ptr, "llama", 5), 0);
    const gguf_kv *kv = &g->kv[gguf_find_key(g, "test.strs")];
    ck_assert_int_eq(kv->type, GGUF_TYPE_ARRAY);
    ck_assert_int_eq(kv->arr_type, GGUF_TYPE_STRING);
    ck_assert_uint_eq(kv->n, 3);
    ck_assert_uint_eq(kv->strs[1].len, 0);
    ck_assert_int_eq(memcmp(kv->strs[2].ptr, "héllo", kv->strs[2].len), 0);
    kv = &g->kv[gguf_find_key(g, "test.ints")];
    ck_assert_uint_eq(kv->n, 4);
    ck_assert(gguf_scalar_as_double(GGUF_TYPE_INT32, (const int32_t *)kv->data + 3) == -4.0);
    ck_assert_int_eq(gguf_find_key(g, "missing"), -1);

    ck_assert_uint_eq(g->n_tensors, 2);
    const gguf_tensor *a = gguf_find_tensor(g, "a.weight"), *b = gguf_find_tensor(g, "b.weight");
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(a->type, QK_TYPE_F32);
    ck_assert_uint_eq(a->offset, 0);
    ck_assert_uint_eq(b->offset, 32); /* 12 bytes padded to 32 */
    ck_assert_int_eq(b->ne[0], 4);
    ck_assert_int_eq(b->ne[1], 2);
    ck_assert_uint_eq(b->nbytes, 16);
    ck_assert(((const float *)a->data)[2] == 3.5f);
    ck_assert_uint_eq(((const uint16_t *)b->data)[7], 1);
    ck_assert_uint_eq(g->data_offset % 32, 0);
    gguf_close(g);
}
END_TEST

START_TEST(test_custom_alignment) {
    const char *p = tmp_path("aligned.gguf");
    write_sample(p, 64);
    qk_err err = {{0}};
    gguf_ctx *g = gguf_open(p, &err);
    ck_assert_msg(g != NULL, "%s", err.msg);
    ck_assert_uint_eq(g->alignment, 64);
    ck_assert_uint_eq(g->data_offset % 64, 0);
    ck_assert_uint_eq(gguf_find_tensor(g, "b.weight")->offset, 64);
    gguf_close(g);
}
END_TEST

/* Write buf to a file and expect gguf_open to fail with a message containing `needle`. */
static void expect_reject(const char *name, const char *buf, size_t len, const char *needle) {
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
    qk_err err = {{0}};
    gguf_ctx *g = gguf_open(p, &err);
    ck_assert_msg(g == NULL, "%s: corrupt file accepted", name);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", name, err.msg, needle);
    ck_assert_msg(strchr(err.msg, '\n') == NULL, "message is not one line");
}

static char *sample_bytes(size_t *len) {
    const char *p = tmp_path("base.gguf");
    write_sample(p, 0);
    return qk_test_read_file(p, len);
}

/* Offset of the first byte after `key`'s name in the header (the value type field). */
static size_t after_key(const char *buf, size_t len, const char *key) {
    size_t kl = strlen(key);
    for (size_t i = 8; i + kl < len; i++)
        if (memcmp(buf + i, key, kl) == 0) {
            uint64_t l;
            memcpy(&l, buf + i - 8, 8);
            if (l == kl) return i + kl;
        }
    ck_abort_msg("key %s not found", key);
    return 0;
}

START_TEST(test_corrupt_headers) {
    size_t len;
    char *orig = sample_bytes(&len);
    char *b = malloc(len);

    memcpy(b, orig, len); b[0] = 'X';
    expect_reject("magic.gguf", b, len, "bad magic");

    memcpy(b, orig, len); b[4] = 9;
    expect_reject("version.gguf", b, len, "version 9");

    memcpy(b, orig, len); memset(b + 8, 0xff, 8); /* n_tensors = 2^64-1 */
    expect_reject("ntensors.gguf", b, len, "more than the file can hold");

    memcpy(b, orig, len); memset(b + 16, 0x7f, 8); /* n_kv huge */
    expect_reject("nkv.gguf", b, len, "more than the file can hold");

    /* first key's length runs past the end */
    memcpy(b, orig, len); memset(b + 24, 0x7f, 8);
    expect_reject("keylen.gguf", b, len, "past the end");

    /* unknown value type for test.f32 */
    memcpy(b, orig, len);
    size_t at = after_key(orig, len, "test.f32");
    uint32_t bad = 77;
    memcpy(b + at, &bad, 4);
    expect_reject("vtype.gguf", b, len, "unknown value type 77");

    /* bool with value 2 */
    memcpy(b, orig, len);
    at = after_key(orig, len, "test.bool");
    b[at + 4] = 2;
    expect_reject("bool.gguf", b, len, "bool");

    /* string array with a huge count */
    memcpy(b, orig, len);
    at = after_key(orig, len, "test.strs");
    memset(b + at + 8, 0x7f, 8);
    expect_reject("arrcount.gguf", b, len, "claims");

    /* duplicate key: rename test.i32 to test.u32 */
    memcpy(b, orig, len);
    at = after_key(orig, len, "test.i32");
    memcpy(b + at - 8, "test.u32", 8);
    expect_reject("dupkey.gguf", b, len, "duplicate metadata key");

    /* tensor infos: name "b.weight", n_dims, ne[2], type, offset */
    size_t tb = after_key(orig, len, "b.weight");
    memcpy(b, orig, len);
    uint32_t nd = 5;
    memcpy(b + tb, &nd, 4);
    expect_reject("ndims.gguf", b, len, "5 dimensions");

    memcpy(b, orig, len);
    uint64_t ne0 = 0;
    memcpy(b + tb + 4, &ne0, 8);
    expect_reject("ne0.gguf", b, len, "invalid shape");

    memcpy(b, orig, len);
    uint64_t huge = 1ull << 62;
    memcpy(b + tb + 4, &huge, 8);
    memcpy(b + tb + 12, &huge, 8);
    expect_reject("overflow.gguf", b, len, "invalid shape");

    memcpy(b, orig, len);
    uint32_t ty = 12; /* Q4_K needs ne[0] % 256 == 0 */
    memcpy(b + tb + 20, &ty, 4);
    expect_reject("blck.gguf", b, len, "not a multiple of the block size");

    memcpy(b, orig, len);
    ty = 99;
    memcpy(b + tb + 20, &ty, 4);
    expect_reject("ttype.gguf", b, len, "does not support");

    memcpy(b, orig, len);
    uint64_t off = 33;
    memcpy(b + tb + 24, &off, 8);
    expect_reject("misaligned.gguf", b, len, "not a multiple of the alignment");

    memcpy(b, orig, len);
    off = 1 << 20;
    memcpy(b + tb + 24, &off, 8);
    expect_reject("offset.gguf", b, len, "past the end");

    /* duplicate tensor name */
    memcpy(b, orig, len);
    memcpy(b + tb - 8, "a", 1);
    expect_reject("duptensor.gguf", b, len, "duplicate tensor name");

    /* b.weight's data moved onto a.weight's (offset 0: aligned and inside the file) */
    memcpy(b, orig, len);
    off = 0;
    memcpy(b + tb + 24, &off, 8);
    expect_reject("overlap.gguf", b, len, "overlap");

    free(b);
    free(orig);
}
END_TEST

START_TEST(test_every_truncation_is_rejected) {
    size_t len;
    char *orig = sample_bytes(&len);
    /* the last tensor ends 16 bytes into its padded slot; cutting the padding is allowed */
    size_t min_ok = len - 16;
    for (size_t n = 0; n < min_ok; n++) {
        const char *p = tmp_path("trunc.gguf");
        FILE *f = fopen(p, "wb");
        fwrite(orig, 1, n, f);
        fclose(f);
        qk_err err = {{0}};
        gguf_ctx *g = gguf_open(p, &err);
        ck_assert_msg(g == NULL, "file truncated to %zu of %zu bytes was accepted", n, len);
        ck_assert(err.msg[0] != 0);
    }
    free(orig);
}
END_TEST

START_TEST(test_writer_is_atomic) {
    const char *p = tmp_path("aborted.gguf");
    unlink(p);
    qk_err err = {{0}};
    gguf_writer *w = gguf_writer_new(p, &err);
    int64_t ne[] = {32};
    ck_assert_int_eq(gguf_writer_add_tensor(w, "x", QK_TYPE_F32, 1, ne, &err), 0);
    ck_assert_int_eq(gguf_writer_write_header(w, &err), 0);
    ck_assert_int_eq(access(p, F_OK), -1); /* nothing under the final name yet */
    gguf_writer_abort(w);
    ck_assert_int_eq(access(p, F_OK), -1);

    /* finishing with a tensor missing fails and leaves nothing behind */
    w = gguf_writer_new(p, &err);
    ck_assert_int_eq(gguf_writer_add_tensor(w, "x", QK_TYPE_F32, 1, ne, &err), 0);
    ck_assert_int_eq(gguf_writer_finish(w, &err), -1);
    ck_assert_int_eq(access(p, F_OK), -1);

    /* the writer refuses shapes a reader would reject */
    w = gguf_writer_new(p, &err);
    int64_t bad[] = {100};
    ck_assert_int_eq(gguf_writer_add_tensor(w, "q", QK_TYPE_Q4_0, 1, bad, &err), -1);
    ck_assert_int_eq(gguf_writer_add_tensor(w, "x", QK_TYPE_F32, 1, ne, &err), 0);
    ck_assert_int_eq(gguf_writer_add_tensor(w, "x", QK_TYPE_F32, 1, ne, &err), -1);
    gguf_writer_abort(w);
}
END_TEST

START_TEST(test_missing_and_non_gguf_files) {
    qk_err err = {{0}};
    ck_assert_ptr_null(gguf_open(tmp_path("does-not-exist.gguf"), &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot open"));
    ck_assert_ptr_null(gguf_open(qk_test_shared("data/wikitext-2-raw/wiki.test.raw"), &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "not a GGUF file"));
    ck_assert_ptr_null(gguf_open(qk_test_tmpdir(), &err));
}
END_TEST

START_TEST(test_reads_real_models) {
    qk_err err = {{0}};
    gguf_ctx *g = gguf_open(qk_test_shared("data/models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf"), &err);
    ck_assert_msg(g != NULL, "%s", err.msg);
    ck_assert_uint_eq(g->n_tensors, 74);
    const gguf_tensor *t = gguf_find_tensor(g, "token_embd.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->type, QK_TYPE_F16);
    ck_assert_int_eq(t->ne[0], 256);
    ck_assert_int_eq(t->ne[1], 32000);
    gguf_close(g);
    g = gguf_open(qk_test_shared("golden/wiki-qwen2-13m/models/wiki-qwen2-13m-Q4_K_M.gguf"), &err);
    ck_assert_msg(g != NULL, "llama.cpp's own file: %s", err.msg);
    uint32_t qv;
    ck_assert_int_eq(gguf_get_u32(g, "general.quantization_version", &qv), 0);
    ck_assert_uint_eq(qv, 2);
    gguf_close(g);
}
END_TEST

/* gguf_read_data: every tensor's bytes equal the mapping's, outside the mapping, at the same
 * address modulo 64, and a second call changes nothing; a file truncated inside its tensor
 * data after gguf_open is one error that leaves every tensor in the mapping. */
START_TEST(test_read_data_copies_the_weights) {
    qk_err err = {{0}};
    size_t len;
    char *bytes = qk_test_read_file(qk_test_shared("data/models/stories260K/stories260K.gguf"), &len);
    ck_assert_ptr_nonnull(bytes);
    const char *path = tmp_path("read-data.gguf");
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    free(bytes);
    for (int truncated = 0; truncated < 2; truncated++) {
        gguf_ctx *g = gguf_open(path, &err);
        ck_assert_msg(g != NULL, "%s", err.msg);
        ck_assert_uint_gt(g->n_tensors, 0);
        const void **in_map = malloc(sizeof *in_map * g->n_tensors);
        ck_assert_ptr_nonnull(in_map);
        for (uint64_t i = 0; i < g->n_tensors; i++) in_map[i] = g->tensors[i].data;
        if (truncated) {
            ck_assert_int_eq(truncate(path, (off_t)(g->data_offset + 100)), 0);
            ck_assert_int_eq(gguf_read_data(g, &err), -1);
            ck_assert_msg(strstr(err.msg, "read-data.gguf: the file ends at byte") && strstr(err.msg, "truncated"), "%s",
                          err.msg);
            for (uint64_t i = 0; i < g->n_tensors; i++) ck_assert_ptr_eq(g->tensors[i].data, in_map[i]);
        } else {
            ck_assert_int_eq(gguf_read_data(g, &err), 0);
            for (uint64_t i = 0; i < g->n_tensors; i++) {
                const gguf_tensor *t = &g->tensors[i];
                ck_assert_msg(gguf_mapped_path(t->data) == NULL, "%s is still in the mapping", t->name);
                ck_assert_uint_eq((uintptr_t)t->data % 64, (uintptr_t)in_map[i] % 64);
                ck_assert_msg(memcmp(t->data, in_map[i], t->nbytes) == 0, "%s differs from the file", t->name);
                in_map[i] = t->data;
            }
            ck_assert_int_eq(gguf_read_data(g, &err), 0);
            for (uint64_t i = 0; i < g->n_tensors; i++) ck_assert_ptr_eq(g->tensors[i].data, in_map[i]);
        }
        free(in_map);
        gguf_close(g);
    }
}
END_TEST

/* ---- hardening regressions (found by tests/fuzz/fuzz_gguf.c or by review) ---- */

/* A key name is file text: a newline or ESC in it must not reach the one-line message. */
START_TEST(test_error_message_stays_one_line) {
    size_t len;
    char *orig = sample_bytes(&len);
    size_t at = after_key(orig, len, "test.f32"); /* patch the key to "te\nt\033f32" */
    orig[at - 6] = '\n';
    orig[at - 4] = '\033';
    uint32_t bad = 77;
    memcpy(orig + at, &bad, 4);
    expect_reject("ctlkey.gguf", orig, len, "unknown value type 77");
    qk_err err = {{0}};
    ck_assert_ptr_null(gguf_open(tmp_path("ctlkey.gguf"), &err));
    ck_assert_ptr_null(strchr(err.msg, '\033'));
    ck_assert_ptr_nonnull(strstr(err.msg, "'te?t?f32'"));
    free(orig);
}
END_TEST

/* Three Q8_0 [32] tensors (34 bytes each) with general.alignment a: offsets 0, 34, 68 (a = 1)
 * or 0, 36, 72 (a = 4). */
static void write_q8_trio(const char *path, uint32_t a) {
    qk_err err = {{0}};
    gguf_writer *w = gguf_writer_new(path, &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    gguf_writer_set_u32(w, "general.alignment", a);
    int64_t ne[1] = {32};
    const char *names[3] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) ck_assert_int_eq(gguf_writer_add_tensor(w, names[i], QK_TYPE_Q8_0, 1, ne, &err), i);
    ck_assert_int_eq(gguf_writer_write_header(w, &err), 0);
    uint8_t block[34] = {0};
    for (int i = 0; i < 3; i++) ck_assert_int_eq(gguf_writer_write_tensor_data(w, block, sizeof block, &err), 0);
    ck_assert_msg(gguf_writer_finish(w, &err) == 0, "%s", err.msg);
}

/* general.alignment 1 is legal, but a tensor at an odd address would be read through
 * misaligned float/half pointers by the kernels (UBSan: "misaligned address"): refused. */
START_TEST(test_misaligned_tensor_data_is_rejected) {
    qk_err err = {{0}};
    const char *p = tmp_path("align1.gguf");
    write_q8_trio(p, 1);
    /* data offsets d, d+34, d+68: whatever d is, one of them is not a multiple of 4 */
    ck_assert_ptr_null(gguf_open(p, &err));
    ck_assert_msg(strstr(err.msg, "not 4-byte aligned") != NULL, "%s", err.msg);
    p = tmp_path("align4.gguf");
    write_q8_trio(p, 4);
    gguf_ctx *g = gguf_open(p, &err);
    ck_assert_msg(g != NULL, "%s", err.msg);
    ck_assert_uint_eq(g->alignment, 4);
    ck_assert_uint_eq(gguf_find_tensor(g, "c")->offset, 72);
    ck_assert_uint_eq((uintptr_t)gguf_find_tensor(g, "b")->data % 4, 0);
    gguf_close(g);
}
END_TEST

/* n_kv u8 keys "k<i>" written raw; when dup, the last key repeats the first. */
static char *many_keys(uint64_t n_kv, int dup, size_t *len) {
    size_t cap = 24 + (size_t)n_kv * 32, n = 0;
    char *b = malloc(cap);
    uint32_t u32;
    uint64_t u64;
#define PUT(p, k) (memcpy(b + n, p, k), n += k)
    u32 = GGUF_MAGIC; PUT(&u32, 4);
    u32 = 3; PUT(&u32, 4);
    u64 = 0; PUT(&u64, 8);
    u64 = n_kv; PUT(&u64, 8);
    for (uint64_t i = 0; i < n_kv; i++) {
        char key[32];
        u64 = (uint64_t)snprintf(key, sizeof key, "k%llu", (unsigned long long)(dup && i == n_kv - 1 ? 0 : i));
        PUT(&u64, 8);
        PUT(key, u64);
        u32 = GGUF_TYPE_UINT8; PUT(&u32, 4);
        uint8_t v = (uint8_t)i; PUT(&v, 1);
    }
#undef PUT
    *len = n;
    return b;
}

/* Duplicate detection and lookups go through a hash index: a file with 300k keys (4 MB)
 * is read in linear time — the former pairwise check needed ~4.5e10 string compares. */
/* Names that collide in the low 20 bits of 64-bit FNV-1a (the unkeyed hash the index once
 * used): the low bits of FNV-1a depend only on the low bits of its state, so a 3-byte block
 * that takes state s to s' can be swapped for another that does the same; 18 such pairs
 * chained give 2^18 names of 54 bytes, all with one hash modulo 2^20. Returns the names,
 * NUL-terminated, 55 bytes apart. */
#define COLLIDE_STEPS 18
#define COLLIDE_BITS 20
static char *fnv_colliding_names(size_t *n) {
    static const char A[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const uint64_t mask = (1u << COLLIDE_BITS) - 1, prime = 1099511628211ull;
    uint32_t *seen = malloc(sizeof(uint32_t) << COLLIDE_BITS);
    ck_assert_ptr_nonnull(seen);
    char pair[COLLIDE_STEPS][2][4];
    uint64_t st = 1469598103934665603ull & mask;
    for (int step = 0; step < COLLIDE_STEPS; step++) {
        memset(seen, 0xff, sizeof(uint32_t) << COLLIDE_BITS);
        int found = 0;
        for (uint32_t c = 0; c < 62u * 62u * 62u && !found; c++) {
            const char blk[3] = {A[c % 62], A[c / 62 % 62], A[c / 3844]};
            uint64_t h = st;
            for (int k = 0; k < 3; k++) h = ((h ^ (uint8_t)blk[k]) * prime) & mask;
            if (seen[h] != 0xffffffffu) {
                const uint32_t o = seen[h];
                memcpy(pair[step][0], (char[3]){A[o % 62], A[o / 62 % 62], A[o / 3844]}, 3);
                memcpy(pair[step][1], blk, 3);
                st = h;
                found = 1;
            } else {
                seen[h] = c;
            }
        }
        ck_assert_msg(found, "no FNV block collision at step %d", step);
    }
    free(seen);
    *n = (size_t)1 << COLLIDE_STEPS;
    char *names = malloc(*n * (3 * COLLIDE_STEPS + 1));
    ck_assert_ptr_nonnull(names);
    for (size_t i = 0; i < *n; i++) {
        char *p = names + i * (3 * COLLIDE_STEPS + 1);
        for (int step = 0; step < COLLIDE_STEPS; step++) memcpy(p + 3 * step, pair[step][(i >> step) & 1], 3);
        p[3 * COLLIDE_STEPS] = 0;
        uint64_t h = 1469598103934665603ull; /* check: full FNV-1a, low bits equal */
        for (const char *q = p; *q; q++) h = (h ^ (uint8_t)*q) * prime;
        static uint64_t first;
        if (i == 0) first = h & mask;
        ck_assert_uint_eq(h & mask, first);
    }
    return names;
}

/* 2^18 keys chosen to collide under an unkeyed hash: the keyed index spreads them (its
 * longest probe stays short; an unkeyed FNV-1a index would walk up to 2^18 slots per
 * insert, ~3.4e10 steps in all), and a GGUF file holding them as keys opens, with the
 * duplicate among them still found. */
START_TEST(test_colliding_names_stay_linear) {
    size_t n;
    char *names = fnv_colliding_names(&n);
    const size_t w = 3 * COLLIDE_STEPS + 1;
    const char **keys = malloc(n * sizeof *keys);
    uint32_t *lens = malloc(n * sizeof *lens);
    ck_assert(keys && lens);
    qk_strtab t;
    ck_assert_int_eq(qk_strtab_init(&t, 0), 0);
    for (size_t i = 0; i < n; i++) {
        keys[i] = names + i * w;
        lens[i] = (uint32_t)(w - 1);
        ck_assert_int_eq(qk_strtab_add(&t, keys, lens, (int32_t)i), -1);
    }
    const uint32_t probe = qk_strtab_max_probe(&t);
    printf("%zu colliding names: longest probe %u slots (table of %u)\n", n, probe, t.mask + 1);
    ck_assert_uint_lt(probe, 1000);
    ck_assert_int_eq(qk_strtab_find(&t, keys, lens, keys[n - 1], lens[n - 1]), (int32_t)(n - 1));
    qk_strtab_free(&t);

    /* the same names as GGUF metadata keys (u8 values), the last one repeating the first */
    for (int dup = 0; dup < 2; dup++) {
        size_t len = 24 + n * (8 + w + 4 + 1), at = 0;
        char *b = malloc(len);
        ck_assert_ptr_nonnull(b);
        const uint32_t magic = GGUF_MAGIC, version = 3, u8 = GGUF_TYPE_UINT8;
        const uint64_t n_t = 0, n_kv = n, kl = w - 1;
        memcpy(b + at, &magic, 4), at += 4;
        memcpy(b + at, &version, 4), at += 4;
        memcpy(b + at, &n_t, 8), at += 8;
        memcpy(b + at, &n_kv, 8), at += 8;
        for (size_t i = 0; i < n; i++) {
            memcpy(b + at, &kl, 8), at += 8;
            memcpy(b + at, keys[dup && i == n - 1 ? 0 : i], kl), at += kl;
            memcpy(b + at, &u8, 4), at += 4;
            b[at++] = (char)i;
        }
        if (dup) {
            expect_reject("collide-dup.gguf", b, at, "duplicate metadata key");
        } else {
            const char *p = tmp_path("collide.gguf");
            FILE *f = fopen(p, "wb");
            ck_assert_uint_eq(fwrite(b, 1, at, f), at);
            fclose(f);
            qk_err err = {{0}};
            gguf_ctx *g = gguf_open(p, &err);
            ck_assert_msg(g != NULL, "%s", err.msg);
            ck_assert_uint_eq(g->n_kv, n);
            ck_assert_int_eq(gguf_find_key(g, keys[12345]), 12345);
            gguf_close(g);
        }
        free(b);
    }
    free(keys);
    free(lens);
    free(names);
}
END_TEST

/* The writer's key and tensor indexes: 100k keys set (some twice: the last value wins, in
 * the first one's place), some removed (the others keep their order), a duplicate tensor
 * name refused; the file reads back as written. */
START_TEST(test_writer_keys_indexed) {
    enum { N = 100000 };
    const char *p = tmp_path("writer-many.gguf");
    qk_err err = {{0}};
    gguf_writer *w = gguf_writer_new(p, &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    char key[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k.%d", i);
        gguf_writer_set_u32(w, key, (uint32_t)i);
    }
    for (int i = 0; i < N; i += 1000) { /* set again: replaced in place */
        snprintf(key, sizeof key, "k.%d", i);
        gguf_writer_set_u32(w, key, (uint32_t)(i + 7));
    }
    for (int i = 1; i < N; i += 10000) { /* removed */
        snprintf(key, sizeof key, "k.%d", i);
        gguf_writer_remove_key(w, key);
    }
    gguf_writer_remove_key(w, "absent");
    const int64_t ne[2] = {32, 2};
    ck_assert_int_eq(gguf_writer_add_tensor(w, "t0", QK_TYPE_F32, 2, ne, &err), 0);
    ck_assert_int_eq(gguf_writer_add_tensor(w, "t1", QK_TYPE_F32, 2, ne, &err), 1);
    ck_assert_int_eq(gguf_writer_add_tensor(w, "t0", QK_TYPE_F32, 2, ne, &err), -1);
    ck_assert_msg(strstr(err.msg, "duplicate tensor name 't0'"), "%s", err.msg);
    ck_assert_int_eq(gguf_writer_write_header(w, &err), 0);
    float data[64] = {0};
    for (int t = 0; t < 2; t++) ck_assert_int_eq(gguf_writer_write_tensor_data(w, data, sizeof data, &err), 0);
    ck_assert_msg(gguf_writer_finish(w, &err) == 0, "%s", err.msg);

    gguf_ctx *g = gguf_open(p, &err);
    ck_assert_msg(g != NULL, "%s", err.msg);
    ck_assert_uint_eq(g->n_kv, N - N / 10000);
    ck_assert_uint_eq(g->n_tensors, 2);
    uint32_t v;
    ck_assert_int_eq(gguf_get_u32(g, "k.0", &v), 0);
    ck_assert_uint_eq(v, 7);
    ck_assert_int_eq(gguf_find_key(g, "k.0"), 0);
    ck_assert_int_eq(gguf_get_u32(g, "k.99999", &v), 0);
    ck_assert_uint_eq(v, 99999);
    ck_assert_int_eq(gguf_find_key(g, "k.1"), -1);
    ck_assert_int_eq(gguf_find_key(g, "k.2"), 1); /* k.1 gone, the rest moved up in order */
    gguf_close(g);
}
END_TEST

START_TEST(test_many_keys_are_indexed) {
    const uint64_t n = 300000;
    size_t len;
    char *b = many_keys(n, 1, &len);
    expect_reject("manykeys-dup.gguf", b, len, "duplicate metadata key 'k0'");
    free(b);
    b = many_keys(n, 0, &len);
    const char *p = tmp_path("manykeys.gguf");
    FILE *f = fopen(p, "wb");
    ck_assert_uint_eq(fwrite(b, 1, len, f), len);
    fclose(f);
    free(b);
    qk_err err = {{0}};
    gguf_ctx *g = gguf_open(p, &err);
    ck_assert_msg(g != NULL, "%s", err.msg);
    ck_assert_uint_eq(g->n_kv, n);
    ck_assert_int_eq(gguf_find_key(g, "k0"), 0);
    ck_assert_int_eq(gguf_find_key(g, "k299999"), 299999);
    ck_assert_int_eq(gguf_find_key(g, "k300000"), -1);
    uint32_t v;
    ck_assert_int_eq(gguf_get_u32(g, "k1234", &v), 0);
    ck_assert_uint_eq(v, 1234 % 256);
    ck_assert_ptr_null(gguf_find_tensor(g, "k0"));
    gguf_close(g);
}
END_TEST

/* A named pipe with no writer: open() used to block forever; now "not a regular file". */
START_TEST(test_fifo_is_refused_without_blocking) {
    const char *p = tmp_path("model.fifo");
    unlink(p);
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    qk_err err = {{0}};
    ck_assert_ptr_null(gguf_open(p, &err));
    ck_assert_msg(strstr(err.msg, "not a regular file") != NULL, "%s", err.msg);
    unlink(p);
    ck_assert_ptr_null(gguf_open("/dev/zero", &err));
    ck_assert_msg(strstr(err.msg, "not a regular file") != NULL, "%s", err.msg);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gguf");
    TCase *tc = tcase_create("gguf");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_custom_alignment);
    tcase_add_test(tc, test_corrupt_headers);
    tcase_add_test(tc, test_every_truncation_is_rejected);
    tcase_add_test(tc, test_writer_is_atomic);
    tcase_add_test(tc, test_missing_and_non_gguf_files);
    tcase_add_test(tc, test_reads_real_models);
    tcase_add_test(tc, test_read_data_copies_the_weights);
    tcase_add_test(tc, test_error_message_stays_one_line);
    tcase_add_test(tc, test_misaligned_tensor_data_is_rejected);
    tcase_add_test(tc, test_many_keys_are_indexed);
    tcase_add_test(tc, test_colliding_names_stay_linear);
    tcase_add_test(tc, test_writer_keys_indexed);
    tcase_add_test(tc, test_fifo_is_refused_without_blocking);
    suite_add_tcase(s, tc);
    return qk_test_main(s);
}
