/*
 * gemm_k_avx2.c — AVX2 kernels and packers of the K-quant integer GEMM (gemm_k.h; the
 * AVX-512 VNNI kernel on 16 interleaved rows is gemm_k_vnni.c).
 *
 * A tile is 2 packed weight rows × 4 Q8_K activation rows. Per block and per 32 elements,
 * each row's codes and scale lanes are loaded once and each token's activations once, and
 * every (row, token) pair takes VPMADDUBSW (codes × activations, 16-bit pair sums) followed
 * by VPMADDWD + VPADDD against the scale lanes into its own int32 accumulator. After the block the R·C accumulators are
 * reduced to one exact integer each (8 at a time, lane i = pair i), the min/offset sums
 * taken from the Q8_K bsums, and the block terms added to 8 float sums with the scalar
 * kernel's operations (gemm_k.h), so the results are those of qk_gemm_k*_scalar bit for bit.
 *
 * Tiles at the edges (fewer than R rows or C tokens left) repeat the last row / token and
 * store only the valid outputs.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "fp16.h"
#include "gemm_k.h"
#include "quants_avx2_common.h"
#include "quants_kfit.h"

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

/* ---- packers: the same bytes as gemm_k.c's scalar ones (codes unpacked with 16-bit
 * shifts and byte masks, which drop the bits a shift carries in from the next byte) ---- */

QK_AVX2 static inline __m256i ld(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
QK_AVX2 static inline void st(void *p, __m256i v) { _mm256_store_si256((__m256i *)p, v); }
/* (v >> k) & m per byte, k a constant 0..7 */
#define BITS(v, k, m) _mm256_and_si256(_mm256_srli_epi16(v, k), _mm256_set1_epi8(m))

static inline void set_group(qk_kpack *p, int g, int sc, int mn) {
    p->sc[g] = (int16_t)sc;
    p->mn[g] = (int16_t)mn;
}

static void finish(qk_kpack *p, float d, float dmin) {
    p->d = d;
    p->dmin = dmin;
    memset(p->pad, 0, sizeof p->pad);
}

static void q45_K_scales(qk_kpack *p, const uint8_t *scales) {
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        qk_get_scale_min_k4(j, scales, &sc, &m);
        set_group(p, 2 * j, sc, m);
        set_group(p, 2 * j + 1, sc, m);
    }
}

QK_AVX2 static void pack_row_q2_K(const void *vx, void *dst, int64_t n) {
    const block_q2_K *x = vx;
    qk_kpack *p = dst;
    for (int64_t i = 0; i < n / QK_K; i++, p++) {
        for (int h = 0; h < 2; h++) {
            const __m256i q = ld(x[i].qs + 32 * h);
            st(p->q + 128 * h, BITS(q, 0, 3));
            st(p->q + 128 * h + 32, BITS(q, 2, 3));
            st(p->q + 128 * h + 64, BITS(q, 4, 3));
            st(p->q + 128 * h + 96, BITS(q, 6, 3));
        }
        for (int g = 0; g < 16; g++) set_group(p, g, x[i].scales[g] & 0xF, x[i].scales[g] >> 4);
        finish(p, qk_half_to_float(x[i].d), qk_half_to_float(x[i].dmin));
    }
}

QK_AVX2 static void pack_row_q3_K(const void *vx, void *dst, int64_t n) {
    const block_q3_K *x = vx;
    qk_kpack *p = dst;
    for (int64_t i = 0; i < n / QK_K; i++, p++) {
        const __m256i hm = ld(x[i].hmask);
        for (int h = 0; h < 2; h++) {
            const __m256i q = ld(x[i].qs + 32 * h);
            /* group g = 4h + s: low bits at shift 2s, high bit = bit g of hmask[l] */
            st(p->q + 128 * h, _mm256_or_si256(BITS(q, 0, 3), _mm256_slli_epi16(BITS(hm, 4 * h, 1), 2)));
            st(p->q + 128 * h + 32, _mm256_or_si256(BITS(q, 2, 3), _mm256_slli_epi16(BITS(hm, 4 * h + 1, 1), 2)));
            st(p->q + 128 * h + 64, _mm256_or_si256(BITS(q, 4, 3), _mm256_slli_epi16(BITS(hm, 4 * h + 2, 1), 2)));
            st(p->q + 128 * h + 96, _mm256_or_si256(BITS(q, 6, 3), _mm256_slli_epi16(BITS(hm, 4 * h + 3, 1), 2)));
        }
        for (int g = 0; g < 16; g++) {
            const int sc = qk_get_scale_q3_K(g, x[i].scales);
            set_group(p, g, sc, 4 * sc);
        }
        finish(p, qk_half_to_float(x[i].d), 0.0f);
    }
}

QK_AVX2 static void pack_row_q4_K(const void *vx, void *dst, int64_t n) {
    const block_q4_K *x = vx;
    qk_kpack *p = dst;
    for (int64_t i = 0; i < n / QK_K; i++, p++) {
        for (int c = 0; c < 4; c++) {
            const __m256i q = ld(x[i].qs + 32 * c);
            st(p->q + 64 * c, BITS(q, 0, 0x0F));
            st(p->q + 64 * c + 32, BITS(q, 4, 0x0F));
        }
        q45_K_scales(p, x[i].scales);
        finish(p, qk_half_to_float(x[i].d), qk_half_to_float(x[i].dmin));
    }
}

QK_AVX2 static void pack_row_q5_K(const void *vx, void *dst, int64_t n) {
    const block_q5_K *x = vx;
    qk_kpack *p = dst;
    for (int64_t i = 0; i < n / QK_K; i++, p++) {
        const __m256i qh = ld(x[i].qh);
        for (int c = 0; c < 4; c++) {
            const __m256i q = ld(x[i].qs + 32 * c);
            /* element 64c + l: 5th bit = bit 2c of qh[l]; 64c + 32 + l: bit 2c + 1 */
            st(p->q + 64 * c, _mm256_or_si256(BITS(q, 0, 0x0F), _mm256_slli_epi16(BITS(qh, 2 * c, 1), 4)));
            st(p->q + 64 * c + 32, _mm256_or_si256(BITS(q, 4, 0x0F), _mm256_slli_epi16(BITS(qh, 2 * c + 1, 1), 4)));
        }
        q45_K_scales(p, x[i].scales);
        finish(p, qk_half_to_float(x[i].d), qk_half_to_float(x[i].dmin));
    }
}

QK_AVX2 static void pack_row_q6_K(const void *vx, void *dst, int64_t n) {
    const block_q6_K *x = vx;
    qk_kpack *p = dst;
    for (int64_t i = 0; i < n / QK_K; i++, p++) {
        for (int h = 0; h < 2; h++) {
            /* quarter k of the half: low nibble (k < 2) or high nibble of ql[64h + 32(k&1) + l],
             * top bits at shift 2k of qh[32h + l] */
            const __m256i l0 = ld(x[i].ql + 64 * h), l1 = ld(x[i].ql + 64 * h + 32), qh = ld(x[i].qh + 32 * h);
            st(p->q + 128 * h, _mm256_or_si256(BITS(l0, 0, 0x0F), _mm256_slli_epi16(BITS(qh, 0, 3), 4)));
            st(p->q + 128 * h + 32, _mm256_or_si256(BITS(l1, 0, 0x0F), _mm256_slli_epi16(BITS(qh, 2, 3), 4)));
            st(p->q + 128 * h + 64, _mm256_or_si256(BITS(l0, 4, 0x0F), _mm256_slli_epi16(BITS(qh, 4, 3), 4)));
            st(p->q + 128 * h + 96, _mm256_or_si256(BITS(l1, 4, 0x0F), _mm256_slli_epi16(BITS(qh, 6, 3), 4)));
        }
        for (int g = 0; g < 16; g++) set_group(p, g, x[i].scales[g], 32 * x[i].scales[g]);
        finish(p, qk_half_to_float(x[i].d), 0.0f);
    }
}

/* qk_gemm_pack_fn from a one-row packer: rows one by one, each n/256 blocks. */
#define PACK_ROWS(name, row)                                                                          \
    void name(const void *x, size_t bx, int nr, void *dst, int64_t n) {                               \
        const size_t bxp = (size_t)(n / QK_K) * sizeof(qk_kpack);                                     \
        for (int r = 0; r < nr; r++) row((const uint8_t *)x + (size_t)r * bx, (uint8_t *)dst + r * bxp, n); \
    }
PACK_ROWS(qk_gemm_pack_q2_K_avx2, pack_row_q2_K)
QK_AVX2 PACK_ROWS(qk_gemm_pack_q3_K_avx2, pack_row_q3_K)
QK_AVX2 PACK_ROWS(qk_gemm_pack_q4_K_avx2, pack_row_q4_K)
QK_AVX2 PACK_ROWS(qk_gemm_pack_q5_K_avx2, pack_row_q5_K)
QK_AVX2 PACK_ROWS(qk_gemm_pack_q6_K_avx2, pack_row_q6_K)

static void install(qk_type_traits *table, qk_gemm_fn kmin, qk_gemm_fn ksym) {
    table[QK_TYPE_Q2_K].gemm = kmin;
    table[QK_TYPE_Q3_K].gemm = ksym;
    table[QK_TYPE_Q4_K].gemm = kmin;
    table[QK_TYPE_Q5_K].gemm = kmin;
    table[QK_TYPE_Q6_K].gemm = ksym;
}

void qk_install_gemm_k_avx2(qk_type_traits *table) {
    install(table, qk_gemm_kmin_avx2, qk_gemm_ksym_avx2);
    table[QK_TYPE_Q2_K].gemm_pack = qk_gemm_pack_q2_K_avx2;
    table[QK_TYPE_Q3_K].gemm_pack = qk_gemm_pack_q3_K_avx2;
    table[QK_TYPE_Q4_K].gemm_pack = qk_gemm_pack_q4_K_avx2;
    table[QK_TYPE_Q5_K].gemm_pack = qk_gemm_pack_q5_K_avx2;
    table[QK_TYPE_Q6_K].gemm_pack = qk_gemm_pack_q6_K_avx2;
}

