/*
 * transpose_avx2.h — internal: an in-register transpose of an 8 x 8 matrix of floats in 8
 * ymm registers (gemm_f32_avx2.c: the AVX2 packer's 8 weight rows; gemm_legacy_avx2.c:
 * 8 rows' 4-byte code groups, cast to float lanes, which the shuffles move unchanged;
 * rmsnorm.c: 8 rows' elements index by index; attention.c: V rows into the transposed F32
 * copy). Include only from files whose callers carry an avx2 target attribute.
 */
#ifndef QK_TRANSPOSE_AVX2_H
#define QK_TRANSPOSE_AVX2_H

#include <immintrin.h>

/* v[i][j] (8 rows of 8) into v[j][i]: 32-bit interleave, 64-bit interleave (4 x 4 blocks
 * within each 128-bit lane), then the 128-bit halves exchanged. */
static inline __attribute__((always_inline, target("avx2"))) void qk_transpose8_ps(__m256 v[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int j = 0; j < 4; j++) {
        v[j] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x20);
        v[j + 4] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x31);
    }
}

#endif
