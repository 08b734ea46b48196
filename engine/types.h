/*
 * types.h — the ggml tensor type table (one row per type).
 *
 * Each row says how a type is laid out (elements per block, bytes per block), how to turn
 * it into floats, how to quantize floats into it with llama.cpp's reference algorithm,
 * and which dot-product kernel to use against which activation type. Nothing else in the
 * engine switches on the type: adding a type is adding a row and its kernels.
 *
 * Type ids are ggml's (ggml/include/ggml.h, enum ggml_type); they are what GGUF stores.
 * Names are ggml's upper-case names as printed by llama.cpp tools ("Q4_K", "F16").
 */
#ifndef QK_TYPES_H
#define QK_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef enum qk_type {
    QK_TYPE_F32 = 0,
    QK_TYPE_F16 = 1,
    QK_TYPE_Q4_0 = 2,
    QK_TYPE_Q4_1 = 3,
    QK_TYPE_Q5_0 = 6,
    QK_TYPE_Q5_1 = 7,
    QK_TYPE_Q8_0 = 8,
    QK_TYPE_Q8_1 = 9,
    QK_TYPE_Q2_K = 10,
    QK_TYPE_Q3_K = 11,
    QK_TYPE_Q4_K = 12,
    QK_TYPE_Q5_K = 13,
    QK_TYPE_Q6_K = 14,
    QK_TYPE_Q8_K = 15,
    QK_TYPE_IQ4_NL = 20,
    QK_TYPE_BF16 = 30,
    QK_TYPE_COUNT = 40 /* one past the largest id the table may hold */
} qk_type;

/* Alignment: every row or block pointer passed to the functions below must be aligned as
 * its type's widest field requires — 4 bytes for F32 and Q8_K (float scales), 2 for the
 * others (fp16 scales, F16/BF16 elements). Rows of a GGUF tensor always are (gguf.c
 * rejects tensor data that is not 4-byte aligned, and every type's bytes per block is a
 * multiple of its alignment); an odd address would be undefined behaviour in the scalar
 * kernels. No vector alignment is assumed. */

/* Convert n elements (n a multiple of blck_size) of a row to float. */
typedef void (*qk_to_float_fn)(const void *src, float *dst, int64_t n);
/* Quantize n floats (n a multiple of blck_size) into blocks of the type. */
typedef void (*qk_from_float_fn)(const float *src, void *dst, int64_t n);
/* dst[i] = the float of src[i] converted to the type and back (n elements; dst may be src). */
typedef void (*qk_round_fn)(const float *src, float *dst, int64_t n);
/* Quantize n floats (one row; n a multiple of blck_size) with importance weights qw[n]
 * (the imatrix's per-column weights of that row, imatrix.h): llama.cpp's quantize_T with
 * quant_weights != NULL, i.e. its quantize_row_T_impl. */
typedef void (*qk_from_float_w_fn)(const float *src, void *dst, int64_t n, const float *qw);
/* *s = dot(x, y) over n elements; x is a row of the weight type, y a row of its
 * vec_dot_type (the activations, already converted). */
typedef void (*qk_vec_dot_fn)(int n, float *s, const void *x, const void *y);
/* s[r] = dot(x_r, y) for the four weight rows x_r = x + r·bx bytes (r = 0..3) and one
 * activation row y: bit for bit the four vec_dot results (one exception: an activation
 * byte of -128, which only a NaN input produces; see quants_legacy_avx2.c), sharing the
 * work that depends on y alone (its loads, scales and offset sums) between the rows. */
typedef void (*qk_vec_dot4_fn)(int n, float s[4], const void *x, size_t bx, const void *y);
/* Integer GEMM (matmul.c's batch path), in three steps. gemm_pack decodes nr weight rows
 * x_r = x + r·bx bytes, n elements each (n a multiple of blck_size), into groups of
 * gemm_pack_rows rows (the last group padded), each of (n / blck_size)·gemm_pack_bsize
 * bytes, one after the other at dst (aligned to 64 bytes): a layout private to the type's
 * gemm kernel (unpacked codes and integer scales, rows interleaved where
 * gemm_pack_rows > 1). gemm_act, where not NULL, rewrites n elements of one activation
 * row already converted to the vec_dot_type (quantize_act's bytes) into
 * (n / blck_size)·gemm_act_bsize bytes at dst, a layout private to the kernel holding the
 * same quantized values (where NULL the kernel reads the vec_dot_type rows). gemm then
 * computes s[c·lds + r] = dot(x_r, y_c) for the nr packed rows in groups at xp + g·bxp
 * bytes (row r in group r / gemm_pack_rows) and the nc activation rows
 * y_c = y + c·by bytes: every element equals the type's scalar vec_dot bit for bit (see
 * gemm_k.h and gemm_legacy.h for the exact statements). */
typedef void (*qk_gemm_pack_fn)(const void *x, size_t bx, int nr, void *dst, int64_t n);
typedef void (*qk_gemm_act_fn)(const void *yq, void *dst, int64_t n);
typedef void (*qk_gemm_fn)(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                           size_t by);

typedef struct qk_type_traits {
    const char *name;          /* "Q4_K" */
    int64_t blck_size;         /* elements per block */
    size_t type_size;          /* bytes per block */
    int is_quantized;          /* 0 for F32/F16/BF16 */
    qk_to_float_fn to_float;   /* NULL only for types the engine cannot read */
    qk_from_float_fn quantize_ref; /* llama.cpp reference quantizer (no imatrix), bit-exact */
    qk_from_float_fn from_float;   /* same bytes as quantize_ref for every input (NaN, Inf,
                                    * subnormals, ties included), possibly faster (SIMD);
                                    * used by qk-quantize (activations go
                                    * through quantize_act below). A faster
                                    * version installed here must be tested byte-for-byte
                                    * against quantize_ref (tests/test_kernels_*.c) */
    qk_from_float_fn quantize_act; /* converts matmul activations to this type (as the
                                    * vec_dot_type): the bytes ggml-cpu's x86 AVX2 build
                                    * writes, which for Q8_0/Q8_1 are NOT the reference's
                                    * (quants_legacy.c, qk_quantize_row_q8_0_act); for every
                                    * other type the same bytes as from_float */
    qk_from_float_w_fn quantize_imat; /* with an imatrix, bit-exact to llama.cpp; NULL:
                                       * the type ignores importance weights (F32, F16,
                                       * BF16, Q8_0 as in llama.cpp) and from_float is used */
    qk_type vec_dot_type;      /* type the activations are converted to for vec_dot */
    qk_vec_dot_fn vec_dot;     /* weight row . activation row */
    qk_vec_dot4_fn vec_dot4;   /* four rows at once, same results; NULL: none (SIMD
                                * builds install one where it measured faster) */
    qk_gemm_pack_fn gemm_pack; /* NULL (with gemm): no integer GEMM for this type */
    int gemm_pack_rows;        /* rows per packed group (1: rows packed one by one) */
    size_t gemm_pack_bsize;    /* bytes of one packed block of a group (a multiple of 64) */
    qk_gemm_act_fn gemm_act;   /* NULL: gemm reads the vec_dot_type rows */
    size_t gemm_act_bsize;     /* bytes of one converted activation block */
    qk_gemm_fn gemm;
    qk_round_fn round_act;     /* to_float of quantize_act's bytes in one pass, bit for bit;
                                * NULL: none (the SIMD builds install one for F16 and BF16;
                                * tests/test_kernels_legacy.c checks it) */
} qk_type_traits;

/* The row for a type id, or NULL when the id is not one qkit knows. */
const qk_type_traits *qk_type_get(uint32_t type);

/* "Q4_K" for QK_TYPE_Q4_K; "?" for an unknown id. */
const char *qk_type_name(uint32_t type);

/* Parse a ggml type name (case-insensitive, "q4_K", "F16"). Returns 0 and sets *out,
 * or -1 when the name is unknown. */
int qk_type_from_name(const char *name, qk_type *out);

/* Bytes of one row of ne0 elements (ne0 must be a multiple of the block size). */
size_t qk_row_size(qk_type type, int64_t ne0);

#endif
