/*
 * gemm_legacy.h — internal: the integer GEMM of the 32-element weight types Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0 and IQ4_NL against their Q8_0 / Q8_1 activations, for matmul.c's batch
 * path (types.h: gemm_pack, gemm_act, gemm).
 *
 * Packed weights (gemm_pack): rows are interleaved in groups of QK_GL_ROWS = 16. For each
 * 32-element block of a group, qk_lpack holds the codes as unsigned bytes u = w + off,
 * where w is the value vec_dot multiplies (Q4_0 nibble − 8, Q5_0 5-bit code − 16, Q8_0
 * byte, IQ4_NL table value; Q4_1/Q5_1 the code itself) and off the type's offset
 * (8, 16, 128, 128; 0 for Q4_1/Q5_1), laid out as q[s][r][j] = u of row r, element
 * 4s + j: one 32-bit lane per row holds 4 consecutive elements, so one VPDPBUSD of a
 * 64-byte step against 4 activation bytes broadcast to every lane advances all 16 rows'
 * dot products (8 rows per 32-byte step for the ymm kernels, two steps per group). Then
 * the 16 rows' d (and m for Q4_1/Q5_1) as floats. Rows past the end of the last group
 * are zero (codes 0, d = m = 0); their outputs are never stored.
 *
 * Activations (gemm_act): each Q8_0 / Q8_1 block, as converted by quantize_act, becomes
 * a qk_lact: the same 32 signed bytes, d as float and a fourth word that is
 *   - offset types: the int32 c = −off·Σ_j y_j, the start value of the block's
 *     accumulator, so that c + Σ_j u_j·y_j = Σ_j w_j·y_j exactly;
 *   - Q4_1 / Q5_1: Q8_1's s as float.
 *
 * Numerics: per (row, token, block) the kernels form the exact integer
 *   sumi = c + Σ_{j<32} u_j·y_j   (offset types)   or   Σ_{j<32} u_j·y_j   (Q4_1, Q5_1)
 * and then, with d_x, m_x the row's and d_y, s_y the token's scales, add in block order
 * from 0.0f
 *   sumf += (float)sumi · (d_x·d_y)                  (Q4_0, Q5_0, Q8_0, IQ4_NL)
 *   sumf += (d_x·d_y)·(float)sumi + m_x·s_y          (Q4_1, Q5_1)
 * each multiply and add rounded separately (no FMA; the engine is built with
 * -ffp-contract=off and the SIMD kernels use plain multiplies and adds). These are the
 * operations of quants_legacy.c's scalar vec_dot kernels on the same integer, so every
 * kernel here — scalar, AVX2, AVX-VNNI, AVX-512 VNNI — returns the scalar vec_dot's bits
 * exactly, for every input byte (including activation bytes of −128).
 *
 * Integer ranges: u ≤ 255 and |y| ≤ 128, so a VPDPBUSD lane adds at most 4·255·128 =
 * 130560 per step and |sumi| ≤ 32·255·128 + 128·32·128 < 2^21 (no int32 overflow; the
 * float conversion of sumi is exact). The AVX2 kernels multiply with VPMADDUBSW, whose
 * 16-bit pair sums saturate past 32767: they split each code into nibbles (4-bit types:
 * one nibble, 5-bit: the code ≤ 31, 8-bit types: low and high nibble), so a pair sum is at
 * most 2·31·128 = 7936 and at most 4 (5-bit) or 8 (nibbles: 2·15·128·8 = 30720) of them
 * are added in 16 bits before VPMADDWD widens them to 32 bits.
 */
#ifndef QK_GEMM_LEGACY_H
#define QK_GEMM_LEGACY_H

#include <stddef.h>
#include <stdint.h>

#include "quants.h"
#include "types.h"

#define QK_GL_ROWS 16 /* rows per interleaved group */

/* One block (32 elements) of 16 interleaved rows: 576 bytes for the offset types, 640
 * with the mins (Q4_1, Q5_1: the m array follows d; gemm_pack_bsize says which). */
typedef struct qk_lpack {
    uint8_t q[8][QK_GL_ROWS][4]; /* q[s][r][j]: row r, element 4s + j, as u = w + off */
    float d[QK_GL_ROWS];         /* fp16 d of each row */
    float m[QK_GL_ROWS];         /* fp16 m of each row (Q4_1, Q5_1 only) */
} qk_lpack;
_Static_assert(sizeof(qk_lpack) == 640, "qk_lpack size");
#define QK_GL_BSIZE_SYM 576 /* bytes per packed block without m */
#define QK_GL_BSIZE_MIN 640

/* One activation block, 40 bytes (4-byte aligned). */
typedef struct qk_lact {
    int8_t qs[32]; /* the vec_dot_type block's values */
    float d;       /* its d */
    union {
        int32_t c; /* offset types: −off·Σ qs */
        float s;   /* Q4_1, Q5_1: Q8_1's s */
    } u;
} qk_lact;
_Static_assert(sizeof(qk_lact) == 40, "qk_lact size");

/* gemm_pack of each type (qk_gemm_pack_fn): nr rows x_r = x + r·bx bytes of n elements
 * into ceil(nr / 16) groups of n/32 blocks at dst (group g at dst + g·(n/32)·bsize). */
void qk_gemm_pack_q4_0(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack_q4_1(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack_q5_0(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack_q5_1(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack_q8_0(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack_iq4_nl(const void *x, size_t bx, int nr, void *dst, int64_t n);

/* The same bytes with AVX2 (only when qk_cpu_has_avx2()). */
void qk_gemm_pack_q4_0_avx2(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack_q4_1_avx2(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack_q5_0_avx2(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack_q5_1_avx2(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack_q8_0_avx2(const void *x, size_t bx, int nr, void *dst, int64_t n);
void qk_gemm_pack_iq4_nl_avx2(const void *x, size_t bx, int nr, void *dst, int64_t n);

/* gemm_act (qk_gemm_act_fn): n elements of one Q8_0 row (quantize_act's bytes) into n/32
 * qk_lact, with c = −off·Σ qs for off = 8 (Q4_0), 16 (Q5_0), 128 (Q8_0, IQ4_NL); and of one
 * Q8_1 row (Q4_1, Q5_1) with s. */
void qk_gemm_act_off8(const void *yq, void *dst, int64_t n);
void qk_gemm_act_off16(const void *yq, void *dst, int64_t n);
void qk_gemm_act_off128(const void *yq, void *dst, int64_t n);
void qk_gemm_act_q8_1(const void *yq, void *dst, int64_t n);

/* Scalar kernels (qk_gemm_fn; bxp = bytes per packed group): offset types / Q4_1, Q5_1. */
void qk_gemm_lsym_scalar(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                         size_t by);
void qk_gemm_lmin_scalar(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                         size_t by);

/* SIMD kernels (gemm_legacy_avx2.c), callable only where the CPU has the instruction set
 * (qk_cpu_has_avx2(), qk_cpu_has_avxvnni(), qk_cpu_has_avx512vnni()); the same bits as
 * the scalar ones. The AVX2 kernels are per code width: 4 bits (Q4_0, Q4_1), 5 bits
 * (Q5_0, Q5_1), 8 bits (Q8_0, IQ4_NL). */
void qk_gemm_lsym4_avx2(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                        size_t by);
void qk_gemm_lsym5_avx2(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                        size_t by);
void qk_gemm_lsym8_avx2(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                        size_t by);
void qk_gemm_lmin4_avx2(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                        size_t by);
void qk_gemm_lmin5_avx2(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                        size_t by);
void qk_gemm_lsym_avxvnni(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                          size_t by);
void qk_gemm_lmin_avxvnni(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                          size_t by);
void qk_gemm_lsym_vnni(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                       size_t by);
void qk_gemm_lmin_vnni(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y,
                       size_t by);

/* Installs the gemm_pack and gemm_act entries of the six types (every build). The gemm
 * entries stay NULL without SIMD: the scalar kernels are the tests' reference. */
void qk_install_gemm_legacy(qk_type_traits *table);
/* Installs the AVX2 kernels and packers (only when qk_cpu_has_avx2()). */
void qk_install_gemm_legacy_avx2(qk_type_traits *table);
/* Replaces them by the AVX-VNNI kernels (only when qk_cpu_has_avxvnni()). */
void qk_install_gemm_legacy_avxvnni(qk_type_traits *table);
/* Replaces them by the AVX-512 VNNI kernels (only when qk_cpu_has_avx512vnni()). */
void qk_install_gemm_legacy_avx512vnni(qk_type_traits *table);

#endif
