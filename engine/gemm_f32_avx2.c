/*
 * gemm_f32_avx2.c — the SIMD pieces of qkit's FP32 GEMM (gemm_f32.h): weight packers and
 * outer-product microkernels, for AVX2+FMA (ymm; strip S = 16 rows, N = 6 tokens) and
 * AVX-512F (zmm; S = 32, N = 12).
 *
 * Functions carry __attribute__((target(...))) so the rest of the build stays baseline
 * x86-64; gemm_f32.c only hands them out after cpu.h found the features.
 *
 * Packing: a strip of S weight rows x kc columns becomes dst[l·S + i] = W_i[kb + l]. The
 * rows are read 16 (zmm) or 8 (ymm) columns at a time, converted to float on the way
 * (F16: VCVTPH2PS; BF16: zero-extend and shift left by 16; F32: as is; other types are
 * first expanded row by row with the type's to_float into tmp), and each square block of
 * 16x16 (8x8) floats is transposed in registers. Rows past nr are zeros, so the kernel
 * needs no row tail. Every conversion is exact (a signalling F16 NaN comes out quiet,
 * which no product can tell apart).
 *
 * Microkernel: S x N accumulators (AVX-512: 2 x 12 zmm = 24 of the 32 registers, with
 * 8- and 4-token variants for the last token group; AVX2: 2 x 6 ymm = 12 of 16), all zero; for each l the strip's S weights are two vector loads
 * and each of the N activations x[t][l] is broadcast and multiplied into its two
 * accumulators with FMA. With 24 independent FMA chains the FMA latency (4 cycles) is
 * covered at two FMAs per cycle. Then Y is stored (or added to), masked to nr rows and nt
 * tokens.
 */
#include <immintrin.h>
#include <stdint.h>

#include "fp16.h"
#include "gemm_f32.h"
#include "transpose_avx2.h"
#include "transpose_avx512.h"

#define QK_AVX2_GEMM __attribute__((target("avx2,fma,f16c")))
/* Software prefetch distance of the AVX-512 packer, in bytes of each source row: its 16
 * rows are 16 streams from memory, which the hardware prefetchers follow poorly. */
#define PF_AHEAD 512
#define QK_AVX512_GEMM __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")))

/* How a packer reads the weight rows: their floats (F32, or tmp after to_float), F16
 * or BF16 codes. */
enum { SRC_F32, SRC_F16, SRC_BF16 };

/* Row 0 of the strip at column kb, and the read mode; other types are expanded into tmp
 * (row stride kc floats). Sets *stride to the bytes between rows. */
static const uint8_t *pack_source(const qk_type_traits *tt, qk_type wtype, const uint8_t *w, size_t w_row, int nr,
                                  int64_t kb, int kc, float *tmp, int *kind, size_t *stride) {
    *stride = w_row;
    if (wtype == QK_TYPE_F16) {
        *kind = SRC_F16;
        return w + (size_t)kb * 2;
    }
    if (wtype == QK_TYPE_BF16) {
        *kind = SRC_BF16;
        return w + (size_t)kb * 2;
    }
    *kind = SRC_F32;
    if (wtype == QK_TYPE_F32) return w + (size_t)kb * 4;
    const size_t off = (size_t)(kb / tt->blck_size) * tt->type_size;
    for (int i = 0; i < nr; i++) tt->to_float(w + (size_t)i * w_row + off, tmp + (size_t)i * (size_t)kc, kc);
    *stride = (size_t)kc * sizeof(float);
    return (const uint8_t *)tmp;
}

/* Element l of a source row, as float (the column tails). */
static inline float src_at(const uint8_t *row, int kind, int l) {
    if (kind == SRC_F16) return qk_half_to_float(((const qk_half *)row)[l]);
    if (kind == SRC_BF16) return qk_bf16_to_float(((const qk_bf16 *)row)[l]);
    return ((const float *)row)[l];
}

/* ------------------------------------------------------------------ AVX-512 ------- */

/* 16 floats of a source row from column l. */
QK_AVX512_GEMM static inline __m512 load16(const uint8_t *row, int kind, int l) {
    if (kind == SRC_F16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(row + (size_t)l * 2)));
    if (kind == SRC_BF16)
        return _mm512_castsi512_ps(
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(row + (size_t)l * 2))), 16));
    return _mm512_loadu_ps((const float *)row + l);
}

QK_AVX512_GEMM static void pack_avx512(const qk_type_traits *tt, qk_type wtype, const uint8_t *w, size_t w_row, int nr,
                                       int64_t kb, int kc, float *dst, float *tmp) {
    int kind;
    size_t stride;
    const uint8_t *src = pack_source(tt, wtype, w, w_row, nr, kb, kc, tmp, &kind, &stride);
    const size_t esize = kind == SRC_F32 ? 4 : 2;
    for (int h = 0; h < 2; h++) {
        int l = 0;
        for (; l + 16 <= kc; l += 16) {
            __m512 r[16];
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++) {
                r[i] = _mm512_setzero_ps();
                if (16 * h + i >= nr) continue;
                const uint8_t *row = src + (size_t)(16 * h + i) * stride;
                _mm_prefetch((const char *)row + (size_t)l * esize + PF_AHEAD, _MM_HINT_T0);
                r[i] = load16(row, kind, l);
            }
            qk_transpose16_ps(r);
#pragma GCC unroll 16
            for (int j = 0; j < 16; j++) _mm512_store_ps(dst + (size_t)(l + j) * 32 + 16 * h, r[j]);
        }
        for (; l < kc; l++)
            for (int i = 0; i < 16; i++)
                dst[(size_t)l * 32 + 16 * h + i] = 16 * h + i < nr ? src_at(src + (size_t)(16 * h + i) * stride, kind, l) : 0.0f;
    }
}

/* The microkernel for N = zn tokens (a compile-time constant in each instance below). */
QK_AVX512_GEMM static inline __attribute__((always_inline)) void kern_avx512(const int zn, int kc, const float *wp,
                                                                             const float *x, size_t ldx, float *y,
                                                                             size_t ldy, int nr, int nt, int acc) {
    __m512 c[12][2];
#pragma GCC unroll 12
    for (int t = 0; t < zn; t++) c[t][0] = c[t][1] = _mm512_setzero_ps();
    for (int l = 0; l < kc; l++) {
        const __m512 w0 = _mm512_load_ps(wp + (size_t)l * 32), w1 = _mm512_load_ps(wp + (size_t)l * 32 + 16);
#pragma GCC unroll 12
        for (int t = 0; t < zn; t++) {
            const __m512 b = _mm512_set1_ps(x[(size_t)t * ldx + (size_t)l]);
            c[t][0] = _mm512_fmadd_ps(w0, b, c[t][0]);
            c[t][1] = _mm512_fmadd_ps(w1, b, c[t][1]);
        }
    }
    const __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? 0xFFFF : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : 0;
#pragma GCC unroll 12
    for (int t = 0; t < zn; t++) {
        if (t >= nt) break;
        float *yt = y + (size_t)t * ldy;
        __m512 v0 = c[t][0], v1 = c[t][1];
        if (acc) {
            v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, yt), v0);
            v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, yt + 16), v1);
        }
        _mm512_mask_storeu_ps(yt, m0, v0);
        _mm512_mask_storeu_ps(yt + 16, m1, v1);
    }
}

/* 12 tokens for the bulk (24 accumulators), 8 and 4 for the last group of m tokens so
 * that a small m wastes less work on zero padding. */
QK_AVX512_GEMM static void kern_avx512_12(int kc, const float *wp, const float *x, size_t ldx, float *y, size_t ldy,
                                          int nr, int nt, int acc) {
    kern_avx512(12, kc, wp, x, ldx, y, ldy, nr, nt, acc);
}
QK_AVX512_GEMM static void kern_avx512_8(int kc, const float *wp, const float *x, size_t ldx, float *y, size_t ldy,
                                         int nr, int nt, int acc) {
    kern_avx512(8, kc, wp, x, ldx, y, ldy, nr, nt, acc);
}
QK_AVX512_GEMM static void kern_avx512_4(int kc, const float *wp, const float *x, size_t ldx, float *y, size_t ldy,
                                         int nr, int nt, int acc) {
    kern_avx512(4, kc, wp, x, ldx, y, ldy, nr, nt, acc);
}

void qk_gemm_f32_get_avx512(qk_gemm_f32_kernels *out) {
    *out = (qk_gemm_f32_kernels){.strip = 32,
                                 .tokens = 12,
                                 .pack = pack_avx512,
                                 .kern = kern_avx512_12,
                                 .n_tail = 2,
                                 .tail_tokens = {8, 4},
                                 .tail = {kern_avx512_8, kern_avx512_4}};
}

/* ------------------------------------------------------------------ AVX2 ---------- */

/* 8 floats of a source row from column l. */
QK_AVX2_GEMM static inline __m256 load8(const uint8_t *row, int kind, int l) {
    if (kind == SRC_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + (size_t)l * 2)));
    if (kind == SRC_BF16)
        return _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(row + (size_t)l * 2))), 16));
    return _mm256_loadu_ps((const float *)row + l);
}

QK_AVX2_GEMM static void pack_avx2(const qk_type_traits *tt, qk_type wtype, const uint8_t *w, size_t w_row, int nr,
                                   int64_t kb, int kc, float *dst, float *tmp) {
    int kind;
    size_t stride;
    const uint8_t *src = pack_source(tt, wtype, w, w_row, nr, kb, kc, tmp, &kind, &stride);
    for (int h = 0; h < 2; h++) {
        int l = 0;
        for (; l + 8 <= kc; l += 8) {
            __m256 r[8];
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                r[i] = 8 * h + i < nr ? load8(src + (size_t)(8 * h + i) * stride, kind, l) : _mm256_setzero_ps();
            qk_transpose8_ps(r);
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) _mm256_store_ps(dst + (size_t)(l + j) * 16 + 8 * h, r[j]);
        }
        for (; l < kc; l++)
            for (int i = 0; i < 8; i++)
                dst[(size_t)l * 16 + 8 * h + i] = 8 * h + i < nr ? src_at(src + (size_t)(8 * h + i) * stride, kind, l) : 0.0f;
    }
}

#define YN 6

QK_AVX2_GEMM static void kern_avx2(int kc, const float *wp, const float *x, size_t ldx, float *y, size_t ldy, int nr,
                                   int nt, int acc) {
    __m256 c[YN][2];
#pragma GCC unroll 6
    for (int t = 0; t < YN; t++) c[t][0] = c[t][1] = _mm256_setzero_ps();
    for (int l = 0; l < kc; l++) {
        const __m256 w0 = _mm256_load_ps(wp + (size_t)l * 16), w1 = _mm256_load_ps(wp + (size_t)l * 16 + 8);
#pragma GCC unroll 6
        for (int t = 0; t < YN; t++) {
            const __m256 b = _mm256_broadcast_ss(x + (size_t)t * ldx + (size_t)l);
            c[t][0] = _mm256_fmadd_ps(w0, b, c[t][0]);
            c[t][1] = _mm256_fmadd_ps(w1, b, c[t][1]);
        }
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), lane);
    const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - 8), lane);
#pragma GCC unroll 6
    for (int t = 0; t < YN; t++) {
        if (t >= nt) break;
        float *yt = y + (size_t)t * ldy;
        __m256 v0 = c[t][0], v1 = c[t][1];
        if (nr >= 16) {
            if (acc) {
                v0 = _mm256_add_ps(_mm256_loadu_ps(yt), v0);
                v1 = _mm256_add_ps(_mm256_loadu_ps(yt + 8), v1);
            }
            _mm256_storeu_ps(yt, v0);
            _mm256_storeu_ps(yt + 8, v1);
        } else {
            if (acc) {
                v0 = _mm256_add_ps(_mm256_maskload_ps(yt, m0), v0);
                v1 = _mm256_add_ps(_mm256_maskload_ps(yt + 8, m1), v1);
            }
            _mm256_maskstore_ps(yt, m0, v0);
            _mm256_maskstore_ps(yt + 8, m1, v1);
        }
    }
}

void qk_gemm_f32_get_avx2(qk_gemm_f32_kernels *out) {
    *out = (qk_gemm_f32_kernels){.strip = 16, .tokens = YN, .pack = pack_avx2, .kern = kern_avx2};
}
