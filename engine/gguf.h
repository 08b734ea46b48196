/*
 * gguf.h — GGUF v3 reading (mmap, validated) and writing (aligned, atomic).
 *
 * Format (ggml docs/gguf.md; llama-cpp-reference.md §2.4), little-endian:
 *   u32 magic "GGUF", u32 version (3), u64 n_tensors, u64 n_kv,
 *   n_kv x { string key, u32 value_type, value },
 *   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset },
 *   padding to general.alignment (default 32), tensor data.
 * A string is u64 length + bytes (no NUL). An array is u32 elem_type, u64 count, elements.
 * Tensor offsets are relative to the data section and must be multiples of the alignment.
 *
 * The reader checks everything it reads and never trusts a count or a length: magic,
 * version (2 or 3), counts against the file size, string lengths, value types, nested
 * arrays, duplicate keys and tensor names, n_dims <= 4, ne[i] >= 1, element-count and
 * byte-size overflow, known tensor type, ne[0] divisible by the block size, offsets
 * aligned, every tensor's data 4-byte aligned in the file (so that F32 values and the
 * F16/F32 fields of quant blocks are naturally aligned even when general.alignment is 1
 * or 2), every tensor's bytes inside the file and no two tensors' bytes overlapping. Any
 * violation is a -1 return with a one-line message naming the file and what was wrong.
 * Duplicate checks and lookups use a keyed hash index (strtab.h), so a hostile file cannot
 * make them quadratic, not even with names chosen to collide; the reader's memory grows
 * with the entries it has read, never with the counts a header claims. The writer indexes
 * its keys and tensor names the same way.
 */
#ifndef QK_GGUF_H
#define QK_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "types.h"

#define GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
#define GGUF_VERSION 3
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4
#define GGUF_MAX_NAME 64 /* longest tensor name llama.cpp accepts (GGML_MAX_NAME - 1 = 63 + NUL) */

typedef enum gguf_vtype {
    GGUF_TYPE_UINT8 = 0, GGUF_TYPE_INT8 = 1, GGUF_TYPE_UINT16 = 2, GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4, GGUF_TYPE_INT32 = 5, GGUF_TYPE_FLOAT32 = 6, GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8, GGUF_TYPE_ARRAY = 9, GGUF_TYPE_UINT64 = 10, GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12, GGUF_TYPE_COUNT
} gguf_vtype;

/* A string inside the mapped file (not NUL-terminated). */
typedef struct gguf_str {
    const char *ptr;
    uint64_t len;
} gguf_str;

typedef struct gguf_kv {
    char *key;            /* NUL-terminated copy */
    gguf_vtype type;      /* value type; GGUF_TYPE_ARRAY for arrays */
    gguf_vtype arr_type;  /* element type when type == ARRAY */
    uint64_t n;           /* element count for arrays, 1 otherwise */
    const void *data;     /* scalars and numeric arrays: raw little-endian bytes in the map */
    gguf_str *strs;       /* strings (n of them) when type or arr_type is STRING */
} gguf_kv;

typedef struct gguf_tensor {
    char name[GGUF_MAX_NAME + 1];
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS]; /* ne[0] = row length (contiguous); unused dims are 1 */
    qk_type type;
    uint64_t offset;           /* relative to the data section */
    size_t nbytes;
    const void *data;          /* inside the map */
} gguf_tensor;

typedef struct gguf_ctx {
    char *path;
    uint32_t version;
    uint32_t alignment;
    uint64_t n_kv;
    gguf_kv *kv;
    uint64_t n_tensors;
    gguf_tensor *tensors;
    size_t data_offset;        /* start of the tensor data section in the file */
    void *map;
    size_t map_size;
    int fd;                    /* the open file (for gguf_read_data) */
    void *data_copy;           /* gguf_read_data's copy of the data section, or NULL */
    size_t data_copy_size;
    struct gguf_index *index;  /* private to gguf.c: hash index of keys and tensor names */
} gguf_ctx;

/* Open and validate a GGUF file (mapped read-only). Returns NULL on error, with err set. */
gguf_ctx *gguf_open(const char *path, qk_err *err);

/* Read the tensor data section into anonymous memory (pread; advised for transparent huge
 * pages, then made read-only) and point every tensor's data there, each at its file
 * offset's address modulo 64; the mapping then serves the metadata only. Meant for passes
 * that read the weights again and again (inference): on the virtual machines qkit is
 * measured on, reads from the file mapping's pages were slower than from anonymous memory,
 * most of all for a file qk-quantize had just written (generation, and the batch-1 output
 * head of prompt processing). The resident size equals that of a fully read mapping; with
 * transparent huge pages, few page faults. Returns 0 (also when already read), or -1 with
 * err set when the memory cannot be had or the file cannot be read in full (truncated
 * since gguf_open); the tensors then stay in the map. */
int gguf_read_data(gguf_ctx *g, qk_err *err);
void gguf_close(gguf_ctx *g);

/* The path of the open GGUF file whose mapping contains addr, or NULL. Async-signal-safe
 * (it reads fixed slots): a SIGBUS handler names the model that was truncated or changed
 * while mapped. */
const char *gguf_mapped_path(const void *addr);

/* Lookups: index or -1. */
int64_t gguf_find_key(const gguf_ctx *g, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_ctx *g, const char *name);

/* Typed getters. Each returns 0 on success, -1 if the key is missing or has a type that
 * cannot be converted (any integer type is accepted for integer getters when the value
 * fits). */
int gguf_get_u32(const gguf_ctx *g, const char *key, uint32_t *out);
int gguf_get_i64(const gguf_ctx *g, const char *key, int64_t *out);
int gguf_get_f32(const gguf_ctx *g, const char *key, float *out);
int gguf_get_bool(const gguf_ctx *g, const char *key, bool *out);
/* Returns a pointer to the string inside the map and its length. */
int gguf_get_str(const gguf_ctx *g, const char *key, gguf_str *out);
/* Reads a scalar of the given numeric type from p (handles unaligned data). */
double gguf_scalar_as_double(gguf_vtype t, const void *p);
/* Size in bytes of one element of a fixed-size type (0 for STRING/ARRAY). */
size_t gguf_vtype_size(gguf_vtype t);
const char *gguf_vtype_name(gguf_vtype t);

/* Total elements of a tensor. */
int64_t gguf_tensor_nelements(const gguf_tensor *t);

/* ---------------------------------------------------------------- writer ------------- */

typedef struct gguf_writer gguf_writer;

/* Start writing `path`. The file is written to a temporary beside it (afile.h) and renamed
 * to path by gguf_writer_finish(); gguf_writer_abort() (or any failure) removes it. */
gguf_writer *gguf_writer_new(const char *path, qk_err *err);

/* Metadata. Keys must be unique: setting a key again replaces its value. */
void gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v);
void gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v);
void gguf_writer_set_f32(gguf_writer *w, const char *key, float v);
void gguf_writer_set_bool(gguf_writer *w, const char *key, bool v);
void gguf_writer_set_str(gguf_writer *w, const char *key, const char *v);
/* Numeric array: n elements of type t, raw little-endian bytes copied from data. */
void gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_vtype t, const void *data, uint64_t n);
/* String array (NUL-terminated strings). */
void gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n);
/* Copy one KV pair from a reader (any type), under its own key. */
void gguf_writer_copy_kv(gguf_writer *w, const gguf_kv *kv);
void gguf_writer_remove_key(gguf_writer *w, const char *key);

/* Declare a tensor (in file order). Returns its index, or -1 on error (bad name, type,
 * shape, ne[0] not divisible by the block size). */
int gguf_writer_add_tensor(gguf_writer *w, const char *name, qk_type type, uint32_t n_dims,
                           const int64_t *ne, qk_err *err);

/* Write header + tensor infos. Must be called once after all KVs and tensors are declared
 * and before any tensor data. */
int gguf_writer_write_header(gguf_writer *w, qk_err *err);

/* Write the data of the next tensor (tensors must come in declaration order); nbytes must
 * equal the declared size. Pads to the alignment. */
int gguf_writer_write_tensor_data(gguf_writer *w, const void *data, size_t nbytes, qk_err *err);

/* Flush, fsync, rename into place, free. On failure the temporary is removed. */
int gguf_writer_finish(gguf_writer *w, qk_err *err);
/* Remove the temporary file and free (safe to call with NULL). */
void gguf_writer_abort(gguf_writer *w);

/* Total bytes the file will have (known once all tensors are declared). */
uint64_t gguf_writer_total_size(const gguf_writer *w);

#endif
