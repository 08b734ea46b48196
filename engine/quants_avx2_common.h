/*
 * quants_avx2_common.h — internal: what the AVX2 kernel files (quants_float_avx2.c,
 * quants_legacy_avx2.c, quants_k_avx2.c) share: the target attribute their functions
 * carry and the horizontal sum of a float vector. Not part of the public engine API.
 *
 * The functions here are static inline and built for the same target as the kernels that
 * use them (x86-64 with AVX2, FMA, F16C; only called after cpu.h has found those
 * features). The horizontal sum performs adds only, so a file's FP-contraction setting
 * does not change its result.
 */
#ifndef QK_QUANTS_AVX2_COMMON_H
#define QK_QUANTS_AVX2_COMMON_H

#include <immintrin.h>

#define QK_AVX2 __attribute__((target("avx2,fma,f16c")))

/* Sum of the 8 lanes of v: the two 128-bit halves added, then pairs, then the last two
 * (a fixed order, so a kernel's result does not depend on where it is inlined). */
QK_AVX2 static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#endif
