/*
 * quants_avx2_common.h — internal: what the AVX2 kernel files (quants_float_avx2.c,
 * quants_legacy_avx2.c, quants_k_avx2.c) share: the target attribute their functions
 * carry, the software prefetch of the weight stream and the horizontal sum of a float
 * vector. Not part of the public engine API.
 *
 * The functions here are static inline and built for the same target as the kernels that
 * use them (x86-64 with AVX2, FMA, F16C; only called after cpu.h has found those
 * features). The horizontal sum performs adds only, so a file's FP-contraction setting
 * does not change its result.
 */
#ifndef QK_QUANTS_AVX2_COMMON_H
#define QK_QUANTS_AVX2_COMMON_H

#include <immintrin.h>
#include <stdint.h>

#define QK_AVX2 __attribute__((target("avx2,fma,f16c")))
/* AVX-512F on top of it, for code chosen where qk_cpu_has_avx512vnni() holds. */
#define QK_AVX512F __attribute__((target("avx2,fma,f16c,avx512f")))

/* Software prefetch of the weight stream: PREFETCH_BYTES ahead of the bytes being read,
 * into L2 (hint T1). The rows of a matrix are contiguous, so near a row's end this warms
 * the next row (the address may lie past the tensor: a prefetch never faults). The
 * hardware prefetchers stop at 4 KiB page boundaries and fall behind when a kernel spends
 * many cycles per line. Measured at batch 1 on the decode loop of a Qwen2.5-0.5B-shaped
 * model (2-core Xeon VM, interleaved runs): prefetching at all gives 1.3-2x the GB/s on
 * the K-quant and legacy matrices; then T1 at 4 KiB beats T0 at 2 KiB by 5-14 % tg
 * (F16, Q4_K_M, Q6_K; 1 and 2 threads; T2 about as T1, 8 KiB no better, NTA 25 % worse
 * on Q4_K_M) — probably because a T0 prefetch holds one of the few L1 fill buffers until
 * its line arrives. No change on cache-resident models or prompt processing.
 * PREFETCH_X covers one 64-byte line; prefetch_block() every line of a block of `bytes`
 * (a compile-time size: the loop unrolls), so that consecutive blocks cover the stream. */
#define PREFETCH_BYTES 4096
#define PREFETCH_X(p) _mm_prefetch((const char *)((uintptr_t)(p) + PREFETCH_BYTES), _MM_HINT_T1)
static inline void prefetch_block(const void *p, unsigned bytes) {
    for (unsigned o = 0; o < bytes; o += 64) PREFETCH_X((const char *)p + o);
}

/* Sum of the 8 lanes of v: the two 128-bit halves added, then pairs, then the last two
 * (a fixed order, so a kernel's result does not depend on where it is inlined). */
QK_AVX2 static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#endif
