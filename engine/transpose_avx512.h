/*
 * transpose_avx512.h — internal: an in-register transpose of a 16 x 16 matrix of 32-bit
 * elements in 16 zmm registers, for the AVX-512 packers (gemm_f32_avx2.c: floats of 16
 * weight rows; gemm_k_vnni.c: codes and scales of 16 K-quant rows, cast to float lanes,
 * which the shuffles move unchanged). Include only from files whose callers carry an
 * avx512f target attribute.
 */
#ifndef QK_TRANSPOSE_AVX512_H
#define QK_TRANSPOSE_AVX512_H

#include <immintrin.h>

/* In-register transpose of r[i][j] (16 rows of 16) into r[j][i]: 32-bit interleave, 64-bit
 * interleave (4x4 blocks within each 128-bit lane), then two 128-bit lane shuffles. */
static inline __attribute__((always_inline, target("avx512f"))) void qk_transpose16_ps(__m512 r[16]) {
    __m512 a[16], b[16];
    for (int i = 0; i < 8; i++) {
        a[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        a[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* b[4q + e], 128-bit lane L: column 4L + e of rows 4q .. 4q+3 */
    for (int q = 0; q < 4; q++) {
        const __m512d a0 = _mm512_castps_pd(a[4 * q]), a1 = _mm512_castps_pd(a[4 * q + 1]);
        const __m512d a2 = _mm512_castps_pd(a[4 * q + 2]), a3 = _mm512_castps_pd(a[4 * q + 3]);
        b[4 * q] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
        b[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
        b[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
        b[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
    }
    /* out[4L + e], lane q = b[4q + e], lane L: a 4x4 transpose of 128-bit lanes */
    for (int e = 0; e < 4; e++) {
        const __m512 c0 = _mm512_shuffle_f32x4(b[e], b[4 + e], 0x44), c1 = _mm512_shuffle_f32x4(b[e], b[4 + e], 0xEE);
        const __m512 c2 = _mm512_shuffle_f32x4(b[8 + e], b[12 + e], 0x44);
        const __m512 c3 = _mm512_shuffle_f32x4(b[8 + e], b[12 + e], 0xEE);
        r[e] = _mm512_shuffle_f32x4(c0, c2, 0x88);
        r[4 + e] = _mm512_shuffle_f32x4(c0, c2, 0xDD);
        r[8 + e] = _mm512_shuffle_f32x4(c1, c3, 0x88);
        r[12 + e] = _mm512_shuffle_f32x4(c1, c3, 0xDD);
    }
}

#endif
