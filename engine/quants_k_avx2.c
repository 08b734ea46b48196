/*
 * quants_k_avx2.c — AVX2/FMA/F16C kernels for the types of quants_k.c: the dot products
 * of Q2_K, Q3_K, Q4_K, Q5_K and Q6_K rows with a Q8_K activation row, the Q8_K
 * activation quantizer (the vec_dot_type conversion that runs on every matmul), and the
 * dequantizers (to_float) of the five weight types, which the dequantize + sgemm batch
 * path of matmul.c runs over every weight row.
 *
 * Every kernel here has a scalar reference in quants_k.c and is tested against it
 * (tests/test_kernels_k.c). Functions carry __attribute__((target(...))) so the rest of
 * the build stays baseline x86-64; qk_install_k_avx2() is only called when the CPU has the
 * features (cpu.h).
 *
 * Invariants:
 * - The integer part of every dot product is exact and equal to the scalar kernel's: per
 *   super-block, sum_j sc_j * sum_l q_l*q8_l (and sum_j m_j * bsum_j for the types with a
 *   min). Only the float accumulation differs: the integer sums are kept in 8 int32 lanes,
 *   each lane is scaled by d_x*d_y and accumulated with FMA, and the lanes are added once at
 *   the end of the row. Results therefore equal the scalar ones up to float summation order.
 * - The codes are fed to VPMADDUBSW as unsigned bytes (0..3, 0..7, 0..15, 0..31, 0..63) with
 *   the int8 activations; a pair sum is at most 2*63*128 = 16128, so it never saturates.
 *   The symmetric types' code offsets (Q3_K: q-4, Q6_K: q-32) are taken out afterwards
 *   through Q8_K's bsums (sum_l (q_l-o)*q8_l = sum_l q_l*q8_l - o*bsum), which the
 *   activation row must therefore carry correctly, as Q8_K's definition requires.
 * - The dequantizers give the same float bits as quants_k.c's for every block, including
 *   zero, subnormal, inf and NaN d/dmin (see their section below).
 * - quantize_row_q8_K gives the same bytes as qk_quantize_row_q8_K_ref for every input,
 *   NaN and inf included: it performs the same float operations (IEEE multiply, the
 *   1.5*2^23 rounding add, no FMA) and truncates to int8 the same way.
 *
 * Bit layouts: llama-cpp-reference.md §2.1 (ggml-common.h); the unpack helpers in
 * quants_k.c are the scalar statement of each layout. The technique (VPMADDUBSW on
 * unsigned codes x signed activations, then VPMADDWD against the 16-bit sub-block scales)
 * is the one ggml's x86 kernels use (ggml/src/ggml-cpu/arch/x86/quants.c).
 */
/* The dequantizers must not fuse their multiply and subtract (see their section): the
 * engine is built with -ffp-contract=off (CMakeLists.txt). The dot products' explicit
 * _mm256_fmadd_ps are unaffected. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"
#include "quants.h"
#include "quants_avx2_common.h"

/* ------------------------------------------------------------------------------------ */
/* Shared helpers                                                                          */
/* ------------------------------------------------------------------------------------ */

/* Byte-shuffle controls that copy one 16-bit lane of each 128-bit half into all eight
 * 16-bit lanes of that half: BCAST_SAME[i] broadcasts lane i in both halves (Q4_K/Q5_K:
 * one scale for 32 codes); BCAST_PAIR[s] broadcasts lane 2s in the low half and lane 2s+1
 * in the high half (Q2_K/Q3_K/Q6_K: 32 codes = two sub-blocks of 16). */
#define W16(i) (uint8_t)(2 * (i)), (uint8_t)(2 * (i) + 1)
#define H8(i) W16(i), W16(i), W16(i), W16(i), W16(i), W16(i), W16(i), W16(i)
static _Alignas(32) const uint8_t BCAST_SAME[8][32] = {
    {H8(0), H8(0)}, {H8(1), H8(1)}, {H8(2), H8(2)}, {H8(3), H8(3)},
    {H8(4), H8(4)}, {H8(5), H8(5)}, {H8(6), H8(6)}, {H8(7), H8(7)},
};
static _Alignas(32) const uint8_t BCAST_PAIR[4][32] = {
    {H8(0), H8(1)}, {H8(2), H8(3)}, {H8(4), H8(5)}, {H8(6), H8(7)},
};
#undef H8
#undef W16

QK_AVX2 static inline __m256i loadu256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

QK_AVX2 static inline __m256i bcast_same(__m256i sc, int i) {
    return _mm256_shuffle_epi8(sc, _mm256_load_si256((const __m256i *)BCAST_SAME[i]));
}

QK_AVX2 static inline __m256i bcast_pair(__m256i sc, int s) {
    return _mm256_shuffle_epi8(sc, _mm256_load_si256((const __m256i *)BCAST_PAIR[s]));
}

/* fp16 -> fp32 with the F16C instruction (exact, like qk_half_to_float). */
QK_AVX2 static inline float h2f(qk_half h) { return _cvtsh_ss(h); }

/* 32 codes (one per byte, 0..63) times 32 activations, scaled per 16-bit pair lane by sc:
 * 8 int32 partial sums of sc * q * q8. */
QK_AVX2 static inline __m256i dot32(__m256i q, const int8_t *q8, __m256i sc) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(q, loadu256(q8)), sc);
}

/* One half block (128 elements) of the types with 16 sub-blocks of 16 (Q2_K, Q3_K, Q6_K):
 * c0..c3 = the codes of elements 32k .. 32k+31 of the half, times the 128 activations at
 * q8, group k scaled by sub-blocks 2k and 2k+1 of sc (the half's 8 scales in both 128-bit
 * halves): 8 int32 partial sums. */
QK_AVX2 static inline __m256i dot128_pairs(__m256i c0, __m256i c1, __m256i c2, __m256i c3, const int8_t *q8,
                                           __m256i sc) {
    const __m256i p0 = dot32(c0, q8, bcast_pair(sc, 0));
    const __m256i p1 = dot32(c1, q8 + 32, bcast_pair(sc, 1));
    const __m256i p2 = dot32(c2, q8 + 64, bcast_pair(sc, 2));
    const __m256i p3 = dot32(c3, q8 + 96, bcast_pair(sc, 3));
    return _mm256_add_epi32(_mm256_add_epi32(p0, p1), _mm256_add_epi32(p2, p3));
}

/* ------------------------------------------------------------------------------------ */
/* Q2_K: 16 sub-blocks of 16, 4-bit scale (low nibble) and min (high nibble) each.          */
/* Codes of half h, shift 2s (elements 128h+32s .. +31) = bits 2s..2s+1 of qs[32h .. +31]:  */
/* the low 16 bytes are sub-block 8h+2s, the high 16 sub-block 8h+2s+1.                     */
/* ------------------------------------------------------------------------------------ */

/* One half (128 elements) of a Q2_K block; sc = the half's 8 scales in both 128-bit halves. */
QK_AVX2 static inline __m256i q2_K_half(const uint8_t *qs, const int8_t *q8, __m256i sc) {
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m256i q = loadu256(qs);
    return dot128_pairs(_mm256_and_si256(q, m3), _mm256_and_si256(_mm256_srli_epi16(q, 2), m3),
                        _mm256_and_si256(_mm256_srli_epi16(q, 4), m3),
                        _mm256_and_si256(_mm256_srli_epi16(q, 6), m3), q8, sc);
}

QK_AVX2 static void vec_dot_q2_K_avx2(int n, float *s, const void *vx, const void *vy) {
    const block_q2_K *x = vx;
    const block_q8_K *y = vy;
    const __m128i m4 = _mm_set1_epi8(0x0F);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int i = 0; i < n / QK_K; i++) {
        prefetch_block(&x[i], sizeof x[i]);
        const float d = y[i].d * h2f(x[i].d);
        const float dmin = y[i].d * h2f(x[i].dmin);
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)x[i].scales);
        /* mins: sum_j m_j * bsums[j] */
        const __m256i m16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), m4));
        const __m256i msum = _mm256_madd_epi16(m16, loadu256(y[i].bsums));
        accm = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(msum), accm);
        /* scales of sub-blocks 0..7 and 8..15, each repeated in both 128-bit halves */
        const __m256i s16 = _mm256_cvtepu8_epi16(_mm_and_si128(sc8, m4));
        const __m256i isum =
            _mm256_add_epi32(q2_K_half(x[i].qs, y[i].qs, _mm256_permute2x128_si256(s16, s16, 0x00)),
                             q2_K_half(x[i].qs + 32, y[i].qs + 128, _mm256_permute2x128_si256(s16, s16, 0x11)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum), acc);
    }
    *s = hsum_ps(acc) - hsum_ps(accm);
}

/* ------------------------------------------------------------------------------------ */
/* Q3_K: codes q2 | hbit<<2 in 0..7 stand for q-4; 16 signed 6-bit scales.                 */
/* The high bit of group g = 4h+s (elements 128h+32s .. +31) is bit g of hmask[l].         */
/* ------------------------------------------------------------------------------------ */

/* The 16 scales (stored +32 in 12 bytes, see qk_get_scale_q3_K) as signed bytes. With
 * a0, a1, a2 the 32-bit words of the 12 bytes, scales 4i..4i+3 are
 * (a_{i%2} >> 4*(i/2) & 0x0f..) | (a2 >> 2i & 0x03..) << 4, i = 0..3. The load starts 4
 * bytes early (at the end of qs) so that it stays inside the block. */
QK_AVX2 static inline __m128i q3_K_scales(const uint8_t *p) {
    const __m128i v = _mm_loadu_si128((const __m128i *)(p - 4)); /* [qs tail, a0, a1, a2] */
    const __m128i lo = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(v, 0x99), _mm_setr_epi32(0, 0, 4, 4)),
                                     _mm_set1_epi8(0x0F)); /* [a0, a1, a0, a1] */
    const __m128i hi = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(v, 0xFF), _mm_setr_epi32(0, 2, 4, 6)),
                                     _mm_set1_epi8(3)); /* [a2, a2, a2, a2] */
    return _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi32(hi, 4)), _mm_set1_epi8(32));
}

/* One half of a Q3_K block. hb = hmask with the half's four high bits (bits 4h..4h+3 of
 * each byte) moved to bits 2..5; 16-bit shifts move each byte's bits within the byte here,
 * since only bit 2 of each byte is kept afterwards. */
QK_AVX2 static inline __m256i q3_K_half(const uint8_t *qs, __m256i hb, const int8_t *q8, __m256i sc) {
    const __m256i m3 = _mm256_set1_epi8(3), m4 = _mm256_set1_epi8(4);
    const __m256i q = loadu256(qs);
    const __m256i c0 = _mm256_or_si256(_mm256_and_si256(q, m3), _mm256_and_si256(hb, m4));
    const __m256i c1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2), m3),
                                       _mm256_and_si256(_mm256_srli_epi16(hb, 1), m4));
    const __m256i c2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m3),
                                       _mm256_and_si256(_mm256_srli_epi16(hb, 2), m4));
    const __m256i c3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 6), m3),
                                       _mm256_and_si256(_mm256_srli_epi16(hb, 3), m4));
    return dot128_pairs(c0, c1, c2, c3, q8, sc);
}

QK_AVX2 static void vec_dot_q3_K_avx2(int n, float *s, const void *vx, const void *vy) {
    const block_q3_K *x = vx;
    const block_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / QK_K; i++) {
        prefetch_block(&x[i], sizeof x[i]);
        const float d = y[i].d * h2f(x[i].d);
        const __m256i s16 = _mm256_cvtepi8_epi16(q3_K_scales(x[i].scales));
        /* the -4 offset: -4 * sum_j sc_j * bsums[j] */
        const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(s16, loadu256(y[i].bsums)), 2);
        const __m256i hm = loadu256(x[i].hmask);
        const __m256i isum = _mm256_add_epi32(
            q3_K_half(x[i].qs, _mm256_slli_epi16(hm, 2), y[i].qs, _mm256_permute2x128_si256(s16, s16, 0x00)),
            q3_K_half(x[i].qs + 32, _mm256_srli_epi16(hm, 2), y[i].qs + 128,
                      _mm256_permute2x128_si256(s16, s16, 0x11)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(_mm256_sub_epi32(isum, off)), acc);
    }
    *s = hsum_ps(acc);
}

/* ------------------------------------------------------------------------------------ */
/* Q4_K / Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins (qk_get_scale_min_k4).       */
/* ------------------------------------------------------------------------------------ */

/* The 8 scales (bytes 0..7) and 8 mins (bytes 8..15) of a Q4_K/Q5_K block, from the
 * 32-bit words a0, a1, a2 of the 12 packed bytes: scales 0..3 = a0 & 0x3f.., mins 0..3 =
 * a1 & 0x3f.., scales 4..7 = (a2 & 0x0f..) | (a0 >> 6 & 0x03..) << 4, mins 4..7 =
 * (a2 >> 4 & 0x0f..) | (a1 >> 6 & 0x03..) << 4. Reads 16 bytes at p (the block goes on). */
QK_AVX2 static inline __m128i scale_min_k4(const uint8_t *p) {
    const __m128i v = _mm_loadu_si128((const __m128i *)p); /* a0 a1 a2 (a3: next field) */
    const __m128i lo = _mm_and_si128(v, _mm_set1_epi8(0x3F)); /* [sc 0..3, m 0..3, ..] */
    const __m128i top = _mm_slli_epi32(_mm_and_si128(_mm_srli_epi32(v, 6), _mm_set1_epi8(3)), 4);
    const __m128i a2 = _mm_srlv_epi32(_mm_shuffle_epi32(v, 0xAA), _mm_setr_epi32(0, 4, 0, 4));
    const __m128i hi = _mm_or_si128(_mm_and_si128(a2, _mm_set1_epi8(0x0F)), top); /* [sc 4..7, m 4..7, ..] */
    return _mm_unpacklo_epi32(lo, hi);
}

/* Per block: the 8 scales as 16-bit lanes repeated in both halves; *d = d_x*d_y in every
 * lane; adds dmin_x*d_y * (8 partial sums m_j * (bsums[2j] + bsums[2j+1])) into *accm.
 * hd points at the block's d, followed by dmin. */
QK_AVX2 static inline __m256i q45_K_prologue(const qk_half *hd, const uint8_t *scales, const block_q8_K *y,
                                             __m256 *d, __m256 *accm) {
    int32_t hpair; /* d and dmin are adjacent in both block types */
    memcpy(&hpair, hd, sizeof hpair);
    const __m128 dd = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(hpair)), _mm_set1_ps(y->d)); /* [d, dmin] * d_y */
    *d = _mm256_broadcastss_ps(dd);
    const __m128i sm = scale_min_k4(scales);
    const __m256i m2 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm)); /* m0 m0 m1 m1 .. m7 m7 */
    const __m256i msum = _mm256_madd_epi16(m2, loadu256(y->bsums));
    *accm = _mm256_fmadd_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(dd)), _mm256_cvtepi32_ps(msum), *accm);
    return _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
}

/* 64 elements of a Q4_K/Q5_K block: codes lo (sub-block 2c) and hi (2c+1). */
QK_AVX2 static inline __m256i q45_K_chunk(__m256i lo, __m256i hi, const int8_t *q8, __m256i sc, int c) {
    return _mm256_add_epi32(dot32(lo, q8, bcast_same(sc, 2 * c)), dot32(hi, q8 + 32, bcast_same(sc, 2 * c + 1)));
}

QK_AVX2 static inline __m256i q4_K_chunk(const uint8_t *q4, const int8_t *q8, __m256i sc, int c) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i q = loadu256(q4 + 32 * c);
    return q45_K_chunk(_mm256_and_si256(q, m4), _mm256_and_si256(_mm256_srli_epi16(q, 4), m4), q8 + 64 * c, sc, c);
}

QK_AVX2 static void vec_dot_q4_K_avx2(int n, float *s, const void *vx, const void *vy) {
    const block_q4_K *x = vx;
    const block_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int i = 0; i < n / QK_K; i++) {
        prefetch_block(&x[i], sizeof x[i]);
        __m256 d;
        const __m256i sc = q45_K_prologue(&x[i].d, x[i].scales, &y[i], &d, &accm);
        const uint8_t *q4 = x[i].qs;
        const int8_t *q8 = y[i].qs;
        const __m256i isum = _mm256_add_epi32(
            _mm256_add_epi32(q4_K_chunk(q4, q8, sc, 0), q4_K_chunk(q4, q8, sc, 1)),
            _mm256_add_epi32(q4_K_chunk(q4, q8, sc, 2), q4_K_chunk(q4, q8, sc, 3)));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(isum), acc);
    }
    *s = hsum_ps(acc) - hsum_ps(accm);
}

/* The codes (0..31) of Q5_K chunk c (elements 64c .. 64c+63): lo = sub-block 2c from the
 * low nibbles, hi = sub-block 2c+1 from the high ones. The 5th bits are bits 2c (lo) and
 * 2c+1 (hi) of every qh byte; hc = qh >> 2c (16-bit shift by at most 6) has them at bits 0
 * and 1 of each byte (higher bits and carries from the next byte are masked off). */
QK_AVX2 static inline void q5_K_codes(const uint8_t *q4, __m256i hc, int c, __m256i *lo, __m256i *hi) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m16 = _mm256_set1_epi8(0x10);
    const __m256i q = loadu256(q4 + 32 * c);
    *lo = _mm256_or_si256(_mm256_and_si256(q, m4), _mm256_and_si256(_mm256_slli_epi16(hc, 4), m16));
    *hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
                          _mm256_and_si256(_mm256_slli_epi16(hc, 3), m16));
}

QK_AVX2 static inline __m256i q5_K_chunk(const uint8_t *q4, __m256i hc, const int8_t *q8, __m256i sc, int c) {
    __m256i lo, hi;
    q5_K_codes(q4, hc, c, &lo, &hi);
    return q45_K_chunk(lo, hi, q8 + 64 * c, sc, c);
}

QK_AVX2 static void vec_dot_q5_K_avx2(int n, float *s, const void *vx, const void *vy) {
    const block_q5_K *x = vx;
    const block_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int i = 0; i < n / QK_K; i++) {
        prefetch_block(&x[i], sizeof x[i]);
        __m256 d;
        const __m256i sc = q45_K_prologue(&x[i].d, x[i].scales, &y[i], &d, &accm);
        const uint8_t *q4 = x[i].qs;
        const int8_t *q8 = y[i].qs;
        const __m256i qh = loadu256(x[i].qh);
        const __m256i isum = _mm256_add_epi32(
            _mm256_add_epi32(q5_K_chunk(q4, qh, q8, sc, 0), q5_K_chunk(q4, _mm256_srli_epi16(qh, 2), q8, sc, 1)),
            _mm256_add_epi32(q5_K_chunk(q4, _mm256_srli_epi16(qh, 4), q8, sc, 2),
                             q5_K_chunk(q4, _mm256_srli_epi16(qh, 6), q8, sc, 3)));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(isum), acc);
    }
    *s = hsum_ps(acc) - hsum_ps(accm);
}

/* ------------------------------------------------------------------------------------ */
/* Q6_K: codes 0..63 stand for q-32; 16 int8 scales.                                       */
/* ------------------------------------------------------------------------------------ */

/* The codes (0..63) of one half (128 elements) of a Q6_K block, q[k] = elements 32k .. 32k+31
 * of the half: element 32k + l has its low nibble in ql[l] (k = 0, 2: low / high nibble) or
 * ql[l+32] (k = 1, 3), its top two bits at shift 2k of qh[l]; those are moved to bits 4..5
 * (16-bit shifts, masked back into each byte). */
QK_AVX2 static inline void q6_K_codes(const uint8_t *ql, const uint8_t *qhp, __m256i q[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
    const __m256i l0 = loadu256(ql), l1 = loadu256(ql + 32), qh = loadu256(qhp);
    q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
    q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m30));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                           _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
}

/* One half of a Q6_K block. */
QK_AVX2 static inline __m256i q6_K_half(const uint8_t *ql, const uint8_t *qhp, const int8_t *q8, __m256i sc) {
    __m256i q[4];
    q6_K_codes(ql, qhp, q);
    return dot128_pairs(q[0], q[1], q[2], q[3], q8, sc);
}

QK_AVX2 static void vec_dot_q6_K_avx2(int n, float *s, const void *vx, const void *vy) {
    const block_q6_K *x = vx;
    const block_q8_K *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / QK_K; i++) {
        prefetch_block(&x[i], sizeof x[i]);
        const float d = y[i].d * h2f(x[i].d);
        const __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        /* the -32 offset: -32 * sum_j sc_j * bsums[j] */
        const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(s16, loadu256(y[i].bsums)), 5);
        const __m256i isum = _mm256_add_epi32(
            q6_K_half(x[i].ql, x[i].qh, y[i].qs, _mm256_permute2x128_si256(s16, s16, 0x00)),
            q6_K_half(x[i].ql + 64, x[i].qh + 32, y[i].qs + 128, _mm256_permute2x128_si256(s16, s16, 0x11)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(_mm256_sub_epi32(isum, off)), acc);
    }
    *s = hsum_ps(acc);
}

/* ------------------------------------------------------------------------------------ */
/* Q8_K activation quantizer (same bytes as qk_quantize_row_q8_K_ref)                      */
/* ------------------------------------------------------------------------------------ */

/* Low byte of each int32 lane of a, b, c, d (8 lanes each) -> 32 bytes in lane order. */
QK_AVX2 static inline __m256i trunc_pack_i32_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i ff = _mm256_set1_epi32(0xFF);
    const __m256i ab = _mm256_packus_epi32(_mm256_and_si256(a, ff), _mm256_and_si256(b, ff));
    const __m256i cd = _mm256_packus_epi32(_mm256_and_si256(c, ff), _mm256_and_si256(d, ff));
    /* per 128-bit half: a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7 */
    const __m256i abcd = _mm256_packus_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* min(127, nearest_int(iscale * x[l])) for 8 floats, as int32 (quants_kfit.h's
 * qk_nearest_int: add 1.5*2^23, keep the low 23 bits, subtract 2^22). */
QK_AVX2 static inline __m256i q8_K_codes(const float *x, __m256 iscale) {
    const __m256 f = _mm256_add_ps(_mm256_mul_ps(iscale, _mm256_loadu_ps(x)), _mm256_set1_ps(12582912.f));
    const __m256i qi = _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(f), _mm256_set1_epi32(0x007FFFFF)),
                                        _mm256_set1_epi32(0x00400000));
    return _mm256_min_epi32(qi, _mm256_set1_epi32(127));
}

/* The 32 int8 codes of x[0..31]. */
QK_AVX2 static inline __m256i q8_K_32(const float *x, __m256 iscale) {
    return trunc_pack_i32_i8(q8_K_codes(x, iscale), q8_K_codes(x + 8, iscale), q8_K_codes(x + 16, iscale),
                             q8_K_codes(x + 24, iscale));
}

/* Sums of each 4 consecutive int8 of q, as 8 int32. */
QK_AVX2 static inline __m256i sum4_i8(__m256i q) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
}

QK_AVX2 static void quantize_block_q8_K_avx2(const float *x, block_q8_K *y) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    /* amax = largest |x| (MAXPS returns its second operand when the first is NaN, so NaN
     * never wins, as with the reference's `ax > amax`; max is order-free otherwise, so
     * four independent chains give the same value) */
    __m256 v0 = _mm256_setzero_ps(), v1 = v0, v2 = v0, v3 = v0;
    for (int j = 0; j < QK_K; j += 32) {
        v0 = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), v0);
        v1 = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j + 8)), v1);
        v2 = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j + 16)), v2);
        v3 = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j + 24)), v3);
    }
    const __m256 vmax = _mm256_max_ps(_mm256_max_ps(v0, v1), _mm256_max_ps(v2, v3));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float amax = _mm_cvtss_f32(m);
    if (amax == 0.0f) {
        memset(y, 0, sizeof *y);
        return;
    }
    /* max = the signed value of the first element with |x| == amax */
    const __m256 vamax = _mm256_set1_ps(amax);
    int first = 0;
    for (int j = 0; j < QK_K; j += 8) {
        int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), vamax, _CMP_EQ_OQ));
        if (mask) {
            first = j + __builtin_ctz((unsigned)mask);
            break;
        }
    }
    const float iscale = -127.f / x[first];
    /* q = min(127, nearest_int(iscale * x)) with nearest_int's 1.5*2^23 add, then (int8) */
    const __m256 vis = _mm256_set1_ps(iscale);
    /* bsums: per 32 codes, madd(maddubs(1, q), 1) gives sums of 4 consecutive bytes (low
     * half = first sub-block, high half = second); three rounds of HADD over 4 such vectors
     * leave [sb 0,2,4,6 | 1,3,5,7] (and [8,10,12,14 | 9,11,13,15] for the second 128). */
    __m256i h[2];
    for (int half = 0; half < 2; half++) {
        const float *xh = x + 128 * half;
        int8_t *qh = y->qs + 128 * half;
        const __m256i q0 = q8_K_32(xh, vis), q1 = q8_K_32(xh + 32, vis);
        const __m256i q2 = q8_K_32(xh + 64, vis), q3 = q8_K_32(xh + 96, vis);
        _mm256_storeu_si256((__m256i *)qh, q0);
        _mm256_storeu_si256((__m256i *)(qh + 32), q1);
        _mm256_storeu_si256((__m256i *)(qh + 64), q2);
        _mm256_storeu_si256((__m256i *)(qh + 96), q3);
        h[half] = _mm256_hadd_epi32(_mm256_hadd_epi32(sum4_i8(q0), sum4_i8(q1)),
                                    _mm256_hadd_epi32(sum4_i8(q2), sum4_i8(q3)));
    }
    const __m256i p = _mm256_packs_epi32(h[0], h[1]); /* [0,2,..,14 | 1,3,..,15], |sum| <= 2048 */
    const __m128i even = _mm256_castsi256_si128(p), odd = _mm256_extracti128_si256(p, 1);
    _mm_storeu_si128((__m128i *)y->bsums, _mm_unpacklo_epi16(even, odd));
    _mm_storeu_si128((__m128i *)(y->bsums + 8), _mm_unpackhi_epi16(even, odd));
    y->d = 1 / iscale;
}

QK_AVX2 static void quantize_row_q8_K_avx2(const float *x, void *vy, int64_t k) {
    block_q8_K *y = vy;
    for (int64_t i = 0; i < k / QK_K; i++) quantize_block_q8_K_avx2(x + i * QK_K, &y[i]);
}

/* ------------------------------------------------------------------------------------ */
/* Dequantizers (to_float for the dequantize + sgemm batch path of matmul.c)              */
/*                                                                                          */
/* Same floats as quants_k.c bit for bit: each block's codes are unpacked into a 256-byte   */
/* buffer (unsigned codes for the types with a min, code - offset as int8 for Q3_K/Q6_K),   */
/* the per-sub-block dl = d*sc and ml = dmin*m are formed with one float multiply each, as  */
/* in the scalar code, and every element is dl*q - ml (or dl*(q - o)) with a separate       */
/* multiply and subtract: no FMA here (qkit builds with -std=c11, which keeps GCC from      */
/* contracting; the test compares bits, so a contracting build would fail it). The fp16     */
/* d/dmin go through F16C, which is exact like qk_half_to_float; a signalling-NaN d comes   */
/* out quiet, as the scalar d*sc makes it, and NaN payloads take the same path (the first   */
/* operand of the subtraction wins, as in the scalar code).                                 */
/* ------------------------------------------------------------------------------------ */

/* The 8 bytes at p (unsigned / signed) as 8 floats (exact). */
QK_AVX2 static inline __m256 u8x8_ps(const uint8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
QK_AVX2 static inline __m256 i8x8_ps(const int8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

/* out[0..15] = v * (float)b[i] for the 16 bytes of b (unsigned / signed). */
QK_AVX2 static inline void scale16_u8(float v, __m128i b, float *out) {
    const __m256 vv = _mm256_set1_ps(v);
    _mm256_store_ps(out, _mm256_mul_ps(vv, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b))));
    _mm256_store_ps(out + 8, _mm256_mul_ps(vv, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(b, 8)))));
}
QK_AVX2 static inline void scale16_i8(float v, __m128i b, float *out) {
    const __m256 vv = _mm256_set1_ps(v);
    _mm256_store_ps(out, _mm256_mul_ps(vv, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b))));
    _mm256_store_ps(out + 8, _mm256_mul_ps(vv, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b, 8)))));
}

/* y[e] = dl[e/sub] * L[e] - ml[e/sub] for the 256 unsigned codes of a block (sub = 16, 32). */
QK_AVX2 static inline void emit_affine(const uint8_t *L, const float *dl, const float *ml, int sub, float *y) {
    for (int j = 0; j < QK_K / sub; j++) {
        const __m256 vd = _mm256_set1_ps(dl[j]), vm = _mm256_set1_ps(ml[j]);
        for (int l = 0; l < sub; l += 8)
            _mm256_storeu_ps(y + sub * j + l, _mm256_sub_ps(_mm256_mul_ps(vd, u8x8_ps(L + sub * j + l)), vm));
    }
}

/* y[e] = dl[e/16] * L[e] for the 256 signed (offset-corrected) codes of a block. */
QK_AVX2 static inline void emit_scaled16(const int8_t *L, const float *dl, float *y) {
    for (int j = 0; j < QK_K / 16; j++) {
        const __m256 vd = _mm256_set1_ps(dl[j]);
        _mm256_storeu_ps(y + 16 * j, _mm256_mul_ps(vd, i8x8_ps(L + 16 * j)));
        _mm256_storeu_ps(y + 16 * j + 8, _mm256_mul_ps(vd, i8x8_ps(L + 16 * j + 8)));
    }
}

QK_AVX2 static inline void store256(void *p, __m256i v) { _mm256_store_si256((__m256i *)p, v); }

QK_AVX2 static void dequantize_row_q2_K_avx2(const void *vx, float *y, int64_t k) {
    const block_q2_K *x = vx;
    _Alignas(32) uint8_t L[QK_K];
    _Alignas(32) float dl[16], ml[16];
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m128i m4 = _mm_set1_epi8(0x0F);
    for (int64_t i = 0; i < k / QK_K; i++, y += QK_K) {
        const __m128i sc = _mm_loadu_si128((const __m128i *)x[i].scales);
        scale16_u8(h2f(x[i].d), _mm_and_si128(sc, m4), dl);
        scale16_u8(h2f(x[i].dmin), _mm_and_si128(_mm_srli_epi16(sc, 4), m4), ml);
        for (int h = 0; h < 2; h++) { /* elements 128h + 32s + l: bits 2s of qs[32h + l] */
            const __m256i q = loadu256(x[i].qs + 32 * h);
            uint8_t *Lh = L + 128 * h;
            store256(Lh, _mm256_and_si256(q, m3));
            store256(Lh + 32, _mm256_and_si256(_mm256_srli_epi16(q, 2), m3));
            store256(Lh + 64, _mm256_and_si256(_mm256_srli_epi16(q, 4), m3));
            store256(Lh + 96, _mm256_and_si256(_mm256_srli_epi16(q, 6), m3));
        }
        emit_affine(L, dl, ml, 16, y);
    }
}

QK_AVX2 static void dequantize_row_q3_K_avx2(const void *vx, float *y, int64_t k) {
    const block_q3_K *x = vx;
    _Alignas(32) int8_t L[QK_K];
    _Alignas(32) float dl[16];
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1), four = _mm256_set1_epi8(4);
    for (int64_t i = 0; i < k / QK_K; i++, y += QK_K) {
        scale16_i8(h2f(x[i].d), q3_K_scales(x[i].scales), dl);
        /* group g = 4h + s (elements 32g .. 32g+31): low bits at shift 2s of qs[32h + l], high
         * bit = bit g of hmask[l]; code - 4 = low + 4*hbit - 4. The 16-bit shifts carry bits
         * of the neighbouring byte into the top, which the masks drop. */
        __m256i hm = loadu256(x[i].hmask);
        for (int h = 0; h < 2; h++) {
            const __m256i q = loadu256(x[i].qs + 32 * h);
            int8_t *Lh = L + 128 * h;
            const __m256i lo[4] = {_mm256_and_si256(q, m3), _mm256_and_si256(_mm256_srli_epi16(q, 2), m3),
                                   _mm256_and_si256(_mm256_srli_epi16(q, 4), m3),
                                   _mm256_and_si256(_mm256_srli_epi16(q, 6), m3)};
            for (int s = 0; s < 4; s++) {
                const __m256i hb = _mm256_slli_epi16(_mm256_and_si256(hm, one), 2);
                store256(Lh + 32 * s, _mm256_sub_epi8(_mm256_or_si256(lo[s], hb), four));
                hm = _mm256_srli_epi16(hm, 1);
            }
        }
        emit_scaled16(L, dl, y);
    }
}

/* The 8 dl = d*sc_j and ml = dmin*m_j of a Q4_K/Q5_K block (hd points at d, then dmin). */
QK_AVX2 static inline void q45_K_dlml(const qk_half *hd, const uint8_t *scales, float *dl, float *ml) {
    const __m128i sm = scale_min_k4(scales); /* 8 scales, then 8 mins */
    _mm256_store_ps(dl, _mm256_mul_ps(_mm256_set1_ps(h2f(hd[0])), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(sm))));
    _mm256_store_ps(ml, _mm256_mul_ps(_mm256_set1_ps(h2f(hd[1])),
                                      _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(sm, 8)))));
}

QK_AVX2 static void dequantize_row_q4_K_avx2(const void *vx, float *y, int64_t k) {
    const block_q4_K *x = vx;
    _Alignas(32) uint8_t L[QK_K];
    _Alignas(32) float dl[8], ml[8];
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int64_t i = 0; i < k / QK_K; i++, y += QK_K) {
        q45_K_dlml(&x[i].d, x[i].scales, dl, ml);
        for (int c = 0; c < 4; c++) { /* elements 64c + l: low nibble; 64c + 32 + l: high */
            const __m256i q = loadu256(x[i].qs + 32 * c);
            store256(L + 64 * c, _mm256_and_si256(q, m4));
            store256(L + 64 * c + 32, _mm256_and_si256(_mm256_srli_epi16(q, 4), m4));
        }
        emit_affine(L, dl, ml, 32, y);
    }
}

QK_AVX2 static void dequantize_row_q5_K_avx2(const void *vx, float *y, int64_t k) {
    const block_q5_K *x = vx;
    _Alignas(32) uint8_t L[QK_K];
    _Alignas(32) float dl[8], ml[8];
    for (int64_t i = 0; i < k / QK_K; i++, y += QK_K) {
        q45_K_dlml(&x[i].d, x[i].scales, dl, ml);
        __m256i hc = loadu256(x[i].qh); /* qh >> 2c for chunk c, as in q5_K_chunk */
        for (int c = 0; c < 4; c++) {
            __m256i lo, hi;
            q5_K_codes(x[i].qs, hc, c, &lo, &hi);
            store256(L + 64 * c, lo);
            store256(L + 64 * c + 32, hi);
            hc = _mm256_srli_epi16(hc, 2);
        }
        emit_affine(L, dl, ml, 32, y);
    }
}

QK_AVX2 static void dequantize_row_q6_K_avx2(const void *vx, float *y, int64_t k) {
    const block_q6_K *x = vx;
    _Alignas(32) int8_t L[QK_K];
    _Alignas(32) float dl[16];
    const __m256i o32 = _mm256_set1_epi8(32);
    for (int64_t i = 0; i < k / QK_K; i++, y += QK_K) {
        scale16_i8(h2f(x[i].d), _mm_loadu_si128((const __m128i *)x[i].scales), dl);
        for (int h = 0; h < 2; h++) { /* stored as code - 32 */
            __m256i q[4];
            q6_K_codes(x[i].ql + 64 * h, x[i].qh + 32 * h, q);
            int8_t *Lh = L + 128 * h;
            store256(Lh, _mm256_sub_epi8(q[0], o32));
            store256(Lh + 32, _mm256_sub_epi8(q[1], o32));
            store256(Lh + 64, _mm256_sub_epi8(q[2], o32));
            store256(Lh + 96, _mm256_sub_epi8(q[3], o32));
        }
        emit_scaled16(L, dl, y);
    }
}

/* Q8_K (the activation type; matmul.c expands converted activation rows back to float):
 * y = d * (float)q with d the block's float, one multiply per element as in quants_k.c
 * (commutative, q never NaN: same bits, a signalling-NaN d quieted alike). */
QK_AVX2 static void dequantize_row_q8_K_avx2(const void *vx, float *y, int64_t k) {
    const block_q8_K *x = vx;
    for (int64_t i = 0; i < k / QK_K; i++, y += QK_K) {
        const __m256 d = _mm256_set1_ps(x[i].d);
        for (int j = 0; j < QK_K; j += 8) _mm256_storeu_ps(y + j, _mm256_mul_ps(d, i8x8_ps(x[i].qs + j)));
    }
}

/* ------------------------------------------------------------------------------------ */

void qk_install_k_avx2(qk_type_traits *table) {
    table[QK_TYPE_Q2_K].vec_dot = vec_dot_q2_K_avx2;
    table[QK_TYPE_Q3_K].vec_dot = vec_dot_q3_K_avx2;
    table[QK_TYPE_Q4_K].vec_dot = vec_dot_q4_K_avx2;
    table[QK_TYPE_Q5_K].vec_dot = vec_dot_q5_K_avx2;
    table[QK_TYPE_Q6_K].vec_dot = vec_dot_q6_K_avx2;
    table[QK_TYPE_Q8_K].from_float = table[QK_TYPE_Q8_K].quantize_act = quantize_row_q8_K_avx2;
    table[QK_TYPE_Q2_K].to_float = dequantize_row_q2_K_avx2;
    table[QK_TYPE_Q3_K].to_float = dequantize_row_q3_K_avx2;
    table[QK_TYPE_Q4_K].to_float = dequantize_row_q4_K_avx2;
    table[QK_TYPE_Q5_K].to_float = dequantize_row_q5_K_avx2;
    table[QK_TYPE_Q6_K].to_float = dequantize_row_q6_K_avx2;
    table[QK_TYPE_Q8_K].to_float = dequantize_row_q8_K_avx2;
}
