/*
 * gemm_k.h — internal: the integer GEMM of the K-quant weight types (Q2_K .. Q6_K)
 * against Q8_K activations, for matmul.c's batch path (types.h: gemm_pack, gemm).
 *
 * Weight rows are first decoded ("packed") block by block into qk_kpack: the 256 codes as
 * unsigned bytes, the sub-block scales as 16-bit integers already laid out the way
 * VPMADDWD needs them, and the min (or offset) coefficients per 16 elements. All five
 * types share this layout, so one kernel per instruction set serves them; two variants
 * differ only in how the min term enters:
 *   - types with a min (Q2_K, Q4_K, Q5_K): block term = (d_y·d)·isum − (d_y·dmin)·msum,
 *   - symmetric types (Q3_K code−4, Q6_K code−32): block term = (d·d_y)·(isum − msum),
 * with isum = Σ_g sc_g · Σ_{l<16} q_{16g+l}·y_{16g+l} and msum = Σ_g mn_g · bsums_g exact in
 * int32, and the row result = the block terms added in block order from 0.0f. These are
 * the float operations of quants_k.c's scalar vec_dot kernels in the same order (each a
 * separately rounded multiply, subtract and add), so every kernel here — scalar, AVX2,
 * AVX-512 VNNI — returns the scalar vec_dot's bits exactly; against the AVX2 vec_dot
 * kernels (which keep 8 float lanes) results differ only in float summation order.
 *
 * Integer ranges: codes ≤ 63, |y| ≤ 128, |sc| ≤ 127 (Q6_K), so a VPMADDUBSW pair sum is
 * at most 16128 (no saturation) and |isum| < 2^28.
 */
#ifndef QK_GEMM_K_H
#define QK_GEMM_K_H

#include <stddef.h>
#include <stdint.h>

#include "quants.h"
#include "types.h"

/* One decoded K-quant block; 384 bytes (the kernels stream packed tiles from L2, so the
 * scales stay 16 values and are broadcast to their lanes in registers). */
typedef struct qk_kpack {
    uint8_t q[QK_K];       /* codes, unsigned (Q2_K 0..3, Q3_K 0..7, Q4_K 0..15, Q5_K 0..31, Q6_K 0..63) */
    int16_t sc[QK_K / 16]; /* scale of each 16-group (Q4_K/Q5_K: each 32-scale twice) */
    int16_t mn[QK_K / 16]; /* per 16-group: min (Q2_K, Q4_K, Q5_K) or offset·scale (Q3_K, Q6_K) */
    float d, dmin;         /* the block's fp16 d and dmin (0 for the symmetric types) */
    uint8_t pad[56];
} qk_kpack;
_Static_assert(sizeof(qk_kpack) == 384, "qk_kpack size");

/* 16 rows interleaved, one block of each (the AVX-512 VNNI kernels' layout, 5760 bytes):
 * the same codes, scales and coefficients as 16 qk_kpack, laid out so that one zmm lane
 * holds one row: q[s][r] = codes 4s .. 4s+3 of row r, sc[g][r] the scale of 16-group g,
 * mn[h][r] = {mn of 16-group 2h, of 2h+1}, d[r], dmin[r]. Rows past the last valid one of a
 * group are zero. */
#define QK_K16_ROWS 16
typedef struct qk_kpack16 {
    uint8_t q[QK_K / 4][QK_K16_ROWS][4];
    int32_t sc[QK_K / 16][QK_K16_ROWS];
    int16_t mn[QK_K / 32][QK_K16_ROWS][2];
    float d[QK_K16_ROWS], dmin[QK_K16_ROWS];
} qk_kpack16;
_Static_assert(sizeof(qk_kpack16) == 5760 && sizeof(qk_kpack16) % 64 == 0, "qk_kpack16 size");

/* gemm_pack for each K type (qk_gemm_pack_fn, one row per group): nr rows x + r·bx bytes
 * of n elements, each into n/256 qk_kpack, one after the other at dst. */
void qk_gemm_pack_q2_K(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack_q3_K(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack_q4_K(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack_q5_K(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack_q6_K(const void *x, size_t bx, int nr, void *dst, int64_t n);

/* The same bytes with AVX2 (only when qk_cpu_has_avx2()). */
void qk_gemm_pack_q2_K_avx2(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack_q3_K_avx2(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack_q4_K_avx2(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack_q5_K_avx2(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack_q6_K_avx2(const void *x, size_t bx, int nr, void *dst, int64_t n);

/* Scalar kernels (qk_gemm_fn): types with a min / symmetric types. */
void qk_gemm_kmin_scalar(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                         size_t by);
void qk_gemm_ksym_scalar(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                         size_t by);

/* AVX2 kernels (gemm_k_avx2.c), callable only when qk_cpu_has_avx2(); same bits as the
 * scalar ones. */
void qk_gemm_kmin_avx2(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                       size_t by);
void qk_gemm_ksym_avx2(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                       size_t by);

/* gemm_pack into 16-row groups of qk_kpack16 (gemm_k_vnni.c; AVX2 packers inside, so only
 * when qk_cpu_has_avx2()): nr rows into ceil(nr/16) groups of n/256 blocks. */
void qk_gemm_pack16_q2_K(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack16_q3_K(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack16_q4_K(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack16_q5_K(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack16_q6_K(const void *x, size_t bx, int nr, void *dst, int64_t n);

/* AVX-512 VNNI kernels on qk_kpack16 groups (bxp = bytes per group; only when
 * qk_cpu_has_avx512vnni()): scale groups of 16 elements with a min (Q2_K), symmetric
 * (Q3_K, Q6_K), and of 32 with a min (Q4_K, Q5_K). The same bits as the scalar kernels on
 * the qk_kpack rows. */
void qk_gemm16_k16min_vnni(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                           size_t by);
void qk_gemm16_k16sym_vnni(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                           size_t by);
void qk_gemm16_k32min_vnni(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                           size_t by);

/* Installs the scalar gemm_pack entries of Q2_K .. Q6_K (every build). The gemm entries
 * stay NULL without SIMD: the scalar kernels are the tests' reference, slower than the
 * dequantize + sgemm path they would replace. */
void qk_install_gemm_k(qk_type_traits *table);
/* Replaces the gemm and gemm_pack entries by AVX2 kernels (only when qk_cpu_has_avx2()). */
void qk_install_gemm_k_avx2(qk_type_traits *table);
/* Replaces gemm, gemm_pack, gemm_pack_rows and gemm_pack_bsize by the 16-row AVX-512 VNNI
 * kernels and packers (gemm_k_vnni.c; only when qk_cpu_has_avx512vnni()). */
void qk_install_gemm_k_avx512vnni(qk_type_traits *table);

#endif
