/*
 * gemm_k_avx2.c — AVX2 and AVX-512 VNNI kernels of the K-quant integer GEMM (gemm_k.h).
 *
 * A tile is R packed weight rows × C Q8_K activation rows. Per block and per 32 (AVX2) or
 * 64 (AVX-512) elements, each row's codes and scale lanes are loaded once and each token's
 * activations once, and every (row, token) pair takes VPMADDUBSW (codes × activations,
 * 16-bit pair sums) followed by VPMADDWD + VPADDD (AVX2) or VPDPWSSD (VNNI) against the
 * scale lanes into its own int32 accumulator. After the block the R·C accumulators are
 * reduced to one exact integer each (8 at a time, lane i = pair i), the min/offset sums
 * taken from the Q8_K bsums, and the block terms added to 8 float sums with the scalar
 * kernel's operations (gemm_k.h), so the results are those of qk_gemm_k*_scalar bit for bit.
 *
 * Tiles at the edges (fewer than R rows or C tokens left) repeat the last row / token and
 * store only the valid outputs.
 */
#include <immintrin.h>
#include <stdint.h>

#include "gemm_k.h"
#include "quants_avx2_common.h"

#define QK_AVX512VNNI_GEMM __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

/* Byte-shuffle controls for the scale lanes of 32 codes (AVX2): with the 8 scales of a
 * half block in both 128-bit halves, BCAST_PAIR[s] puts scale 2s in the 8 16-bit lanes of
 * the low half and scale 2s+1 in those of the high half (chunk t = 4h + s covers 16-groups
 * 2t and 2t+1). */
#define W16(i) (uint8_t)(2 * (i)), (uint8_t)(2 * (i) + 1)
#define H8(i) W16(i), W16(i), W16(i), W16(i), W16(i), W16(i), W16(i), W16(i)
static _Alignas(32) const uint8_t BCAST_PAIR[4][32] = {
    {H8(0), H8(1)}, {H8(2), H8(3)}, {H8(4), H8(5)}, {H8(6), H8(7)},
};
#undef H8
#undef W16

/* 16-bit lane indices for the scale lanes of 64 codes (AVX-512 VPERMW from the 16 scales):
 * chunk t covers 16-groups 4t .. 4t+3, 8 lanes each. */
#define G8(g) g, g, g, g, g, g, g, g
static _Alignas(64) const int16_t GROUP4[4][32] = {
    {G8(0), G8(1), G8(2), G8(3)}, {G8(4), G8(5), G8(6), G8(7)},
    {G8(8), G8(9), G8(10), G8(11)}, {G8(12), G8(13), G8(14), G8(15)},
};
#undef G8

/* Lane i = the sum of the 8 int32 lanes of v[i] (exact: integer adds). */
QK_AVX2 static inline __m256i reduce8(const __m256i v[8]) {
    const __m256i a = _mm256_hadd_epi32(v[0], v[1]), b = _mm256_hadd_epi32(v[2], v[3]);
    const __m256i c = _mm256_hadd_epi32(v[4], v[5]), d = _mm256_hadd_epi32(v[6], v[7]);
    const __m256i ab = _mm256_hadd_epi32(a, b), cd = _mm256_hadd_epi32(c, d);
    return _mm256_add_epi32(_mm256_permute2x128_si256(ab, cd, 0x20), _mm256_permute2x128_si256(ab, cd, 0x31));
}

/* The block terms of 8 (row, token) pairs added to sum (lanes as in reduce8): isum and msum
 * the exact integer totals (symmetric types: isum already less msum, which is unused),
 * d/dmin the rows' and dy the tokens' scales per lane. */
QK_AVX2 static inline __m256 add_terms(__m256 sum, __m256i isum, __m256i msum, __m256 d, __m256 dmin, __m256 dy,
                                       int sym) {
    if (sym) return _mm256_add_ps(sum, _mm256_mul_ps(_mm256_mul_ps(d, dy), _mm256_cvtepi32_ps(isum)));
    const __m256 t = _mm256_sub_ps(_mm256_mul_ps(_mm256_mul_ps(dy, d), _mm256_cvtepi32_ps(isum)),
                                   _mm256_mul_ps(_mm256_mul_ps(dy, dmin), _mm256_cvtepi32_ps(msum)));
    return _mm256_add_ps(sum, t);
}

/* msum of pair (r, c): 8 int32 partial sums of mn_r · bsums_c. */
QK_AVX2 static inline __m256i min_part(const qk_kpack *x, const block_q8_K *y) {
    return _mm256_madd_epi16(_mm256_load_si256((const __m256i *)x->mn), _mm256_loadu_si256((const __m256i *)y->bsums));
}

/* ---- AVX2: R = 2 rows × C = 4 tokens, lane r·4 + c ---- */

QK_AVX2 static inline void tile_2x4_avx2(int nb, const qk_kpack *x[2], const block_q8_K *y[4], float out[8],
                                         int sym) {
    __m256 sum = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m256i acc[8];
        for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_si256();
        for (int t = 0; t < 8; t++) {
            __m256i yv[4];
            for (int c = 0; c < 4; c++) yv[c] = _mm256_loadu_si256((const __m256i *)(y[c][b].qs + 32 * t));
            for (int r = 0; r < 2; r++) {
                const __m256i q = _mm256_load_si256((const __m256i *)(x[r][b].q + 32 * t));
                const __m256i sx = _mm256_shuffle_epi8(
                    _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)(x[r][b].sc + 8 * (t / 4)))),
                    _mm256_load_si256((const __m256i *)BCAST_PAIR[t % 4]));
                for (int c = 0; c < 4; c++)
                    acc[4 * r + c] = _mm256_add_epi32(acc[4 * r + c], _mm256_madd_epi16(_mm256_maddubs_epi16(q, yv[c]), sx));
            }
        }
        __m256i mv[8];
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 4; c++) mv[4 * r + c] = min_part(&x[r][b], &y[c][b]);
        if (sym)
            for (int i = 0; i < 8; i++) acc[i] = _mm256_sub_epi32(acc[i], mv[i]);
        const __m256 d = _mm256_setr_m128(_mm_set1_ps(x[0][b].d), _mm_set1_ps(x[1][b].d));
        const __m256 dmin = _mm256_setr_m128(_mm_set1_ps(x[0][b].dmin), _mm_set1_ps(x[1][b].dmin));
        const __m128 dy4 = _mm_setr_ps(y[0][b].d, y[1][b].d, y[2][b].d, y[3][b].d);
        const __m256i msum = sym ? _mm256_setzero_si256() : reduce8(mv);
        sum = add_terms(sum, reduce8(acc), msum, d, dmin, _mm256_setr_m128(dy4, dy4), sym);
    }
    _mm256_storeu_ps(out, sum);
}

/* The driver: tiles of R rows × C tokens over nr × nc; tile(nb, x[R], y[C], out[R·C]) with
 * out[r·C + c]. */
#define GEMM_DRIVER(R, C, TILE)                                                                              \
    const int nb = n / QK_K;                                                                                 \
    for (int c0 = 0; c0 < nc; c0 += C) {                                                                     \
        const block_q8_K *yp[C];                                                                             \
        for (int c = 0; c < C; c++)                                                                          \
            yp[c] = (const block_q8_K *)((const uint8_t *)y + (size_t)(c0 + c < nc ? c0 + c : nc - 1) * by); \
        for (int r0 = 0; r0 < nr; r0 += R) {                                                                 \
            const qk_kpack *xr[R];                                                                           \
            for (int r = 0; r < R; r++)                                                                      \
                xr[r] = (const qk_kpack *)((const uint8_t *)xp + (size_t)(r0 + r < nr ? r0 + r : nr - 1) * bxp); \
            float out[R * C];                                                                                \
            TILE(nb, xr, yp, out);                                                                           \
            for (int c = 0; c < C && c0 + c < nc; c++)                                                       \
                for (int r = 0; r < R && r0 + r < nr; r++) s[(size_t)(c0 + c) * lds + r0 + r] = out[r * C + c]; \
        }                                                                                                    \
    }

#define TILE_2x4_MIN(nb, x, y, out) tile_2x4_avx2(nb, x, y, out, 0)
#define TILE_2x4_SYM(nb, x, y, out) tile_2x4_avx2(nb, x, y, out, 1)

QK_AVX2 void qk_gemm_kmin_avx2(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp,
                                   const void *y, size_t by) {
    GEMM_DRIVER(2, 4, TILE_2x4_MIN)
}

QK_AVX2 void qk_gemm_ksym_avx2(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp,
                                   const void *y, size_t by) {
    GEMM_DRIVER(2, 4, TILE_2x4_SYM)
}

/* ---- AVX-512 VNNI: R = 4 rows × C = 4 tokens on 64-byte vectors; two groups of 8 lanes
 * (rows 0-1, rows 2-3), lane (r%2)·4 + c ---- */

QK_AVX512VNNI_GEMM static inline __m256i fold512(__m512i v) {
    return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

QK_AVX512VNNI_GEMM static inline void tile_4x4_vnni(int nb, const qk_kpack *x[4], const block_q8_K *y[4],
                                                    float out[16], int sym) {
    __m256 sum0 = _mm256_setzero_ps(), sum1 = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m512i acc[16];
        for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_si512();
        for (int t = 0; t < 4; t++) {
            __m512i yv[4];
            for (int c = 0; c < 4; c++) yv[c] = _mm512_loadu_si512((const void *)(y[c][b].qs + 64 * t));
            for (int r = 0; r < 4; r++) {
                const __m512i q = _mm512_load_si512((const void *)(x[r][b].q + 64 * t));
                const __m512i sx = _mm512_permutexvar_epi16(
                    _mm512_load_si512((const void *)GROUP4[t]),
                    _mm512_castsi256_si512(_mm256_load_si256((const __m256i *)x[r][b].sc)));
                for (int c = 0; c < 4; c++)
                    acc[4 * r + c] = _mm512_dpwssd_epi32(acc[4 * r + c], _mm512_maddubs_epi16(q, yv[c]), sx);
            }
        }
        const __m128 dy4 = _mm_setr_ps(y[0][b].d, y[1][b].d, y[2][b].d, y[3][b].d);
        const __m256 dy = _mm256_setr_m128(dy4, dy4);
        for (int h = 0; h < 2; h++) {
            __m256i iv[8], mv[8];
            for (int i = 0; i < 8; i++) {
                iv[i] = fold512(acc[8 * h + i]);
                mv[i] = min_part(&x[2 * h + i / 4][b], &y[i % 4][b]);
                if (sym) iv[i] = _mm256_sub_epi32(iv[i], mv[i]);
            }
            const __m256i msum = sym ? _mm256_setzero_si256() : reduce8(mv);
            const qk_kpack *a = &x[2 * h][b], *bb = &x[2 * h + 1][b];
            const __m256 d = _mm256_setr_m128(_mm_set1_ps(a->d), _mm_set1_ps(bb->d));
            const __m256 dmin = _mm256_setr_m128(_mm_set1_ps(a->dmin), _mm_set1_ps(bb->dmin));
            if (h == 0) sum0 = add_terms(sum0, reduce8(iv), msum, d, dmin, dy, sym);
            else sum1 = add_terms(sum1, reduce8(iv), msum, d, dmin, dy, sym);
        }
    }
    _mm256_storeu_ps(out, sum0);
    _mm256_storeu_ps(out + 8, sum1);
}

#define TILE_4x4_MIN(nb, x, y, out) tile_4x4_vnni(nb, x, y, out, 0)
#define TILE_4x4_SYM(nb, x, y, out) tile_4x4_vnni(nb, x, y, out, 1)

QK_AVX512VNNI_GEMM void qk_gemm_kmin_vnni(int n, int nr, int nc, float *s, size_t lds, const void *xp,
                                              size_t bxp, const void *y, size_t by) {
    GEMM_DRIVER(4, 4, TILE_4x4_MIN)
}

QK_AVX512VNNI_GEMM void qk_gemm_ksym_vnni(int n, int nr, int nc, float *s, size_t lds, const void *xp,
                                              size_t bxp, const void *y, size_t by) {
    GEMM_DRIVER(4, 4, TILE_4x4_SYM)
}

static void install(qk_type_traits *table, qk_gemm_fn kmin, qk_gemm_fn ksym) {
    table[QK_TYPE_Q2_K].gemm = kmin;
    table[QK_TYPE_Q3_K].gemm = ksym;
    table[QK_TYPE_Q4_K].gemm = kmin;
    table[QK_TYPE_Q5_K].gemm = kmin;
    table[QK_TYPE_Q6_K].gemm = ksym;
}

void qk_install_gemm_k_avx2(qk_type_traits *table) { install(table, qk_gemm_kmin_avx2, qk_gemm_ksym_avx2); }

void qk_install_gemm_k_avx512vnni(qk_type_traits *table) { install(table, qk_gemm_kmin_vnni, qk_gemm_ksym_vnni); }
