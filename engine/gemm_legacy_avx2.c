/*
 * gemm_legacy_avx2.c — AVX2, AVX-VNNI and AVX-512 VNNI kernels of the integer GEMM of the
 * 32-element weight types (gemm_legacy.h).
 *
 * A tile is one or two packed groups of 16 rows (AVX-512: one zmm lane per row; AVX2 and
 * AVX-VNNI: two halves of 8 rows, one ymm lane per row) × C tokens. Per block, each of the
 * 8 steps of 4 elements is one weight vector (64 or 32 bytes: 4 codes of each row) against
 * the token's 4 activation bytes broadcast to every lane, so the lanes accumulate the rows'
 * exact integer block sums with no horizontal reduction:
 *   - AVX-512 VNNI: VPDPBUSD zmm, the accumulator starting at the block's c
 *     (gemm_legacy.h). Groups go two by two (an odd last group alone): per step the two
 *     groups' weight vectors against the C = 6 tokens' broadcasts, 12 independent chains,
 *     and the 4·6 integer and float accumulators stay in registers (one group × 16 tokens
 *     with a block's 8 weight vectors held needs 33 live vectors and spills, and
 *     broadcasts each activation word for one VPDPBUSD);
 *   - AVX-VNNI: VEX VPDPBUSD on ymm (16 registers: C = 5 tokens, step by step);
 *   - AVX2: VPMADDUBSW into 16-bit sums (the code-width rules of gemm_legacy.h keep them
 *     below 32768), widened per block by VPMADDWD.
 * Then the block's float step for all lanes at once with the scalar kernel's operations
 * (convert, d_x·d_y, multiply, add; Q4_1/Q5_1 also m_x·s_y), so the results are those of
 * qk_gemm_l*_scalar bit for bit (the float steps are separate VMULPS/VADDPS: the engine
 * is built with -ffp-contract=off, so the compiler fuses none of them). Rows past nr in the
 * last group (zero codes and scales) are computed and not stored; a token tail is a tile
 * with fewer tokens (each tile width is its own unrolled instance).
 *
 * The AVX2 packers decode a block of 8 rows into one ymm each (32 codes in element order)
 * and transpose the 8×8 matrix of 4-byte lanes into the 8 steps.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "gemm_legacy.h"
#include "quants_avx2_common.h"
#include "transpose_avx2.h"

#define QK_AVXVNNI __attribute__((target("avx2,fma,f16c,avxvnni")))
#define QK_VNNI512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Tokens per tile (the float sums of a tile stay in registers). */
#define C_ZMM 6
#define C_YMM_VNNI 5
#define C_AVX2 4

/* The 4 activation bytes of step s of a block, as one int32 to broadcast. */
static inline int32_t step_bytes(const qk_lact *a, int s) {
    int32_t v;
    memcpy(&v, a->qs + 4 * s, 4);
    return v;
}

static inline const qk_lact *act(const uint8_t *y, size_t by, int c, int b) {
    return (const qk_lact *)(y + (size_t)c * by) + b;
}

/* switch (C) over 1 .. max, calling F(c) with the constant c. */
#define CASES4(F) \
    case 1: F(1); break; \
    case 2: F(2); break; \
    case 3: F(3); break; \
    case 4: F(4); break;
#define CASES5(F) CASES4(F) case 5: F(5); break;
#define CASES6(F) CASES5(F) case 6: F(6); break;

/* ---- AVX-512 VNNI: G (1 or 2) groups of 16 rows × C tokens ---- */

/* Per step, the G groups' weight vectors against each of the C ≤ C_ZMM tokens' broadcasts:
 * G·C independent chains, each broadcast feeding G VPDPBUSD; the 2·G·C integer and float
 * accumulators stay in registers. rows_last: the last group's rows to store. */
QK_VNNI512 ALWAYS_INLINE void tile_zmm(int nb, const uint8_t *xg, size_t bxp, size_t bsize, const uint8_t *y,
                                       size_t by, const int G, const int C, const int with_min, float *out,
                                       size_t lds, __mmask16 rows_last) {
    __m512 sum[2][C_ZMM];
    for (int g = 0; g < G; g++)
        for (int c = 0; c < C; c++) sum[g][c] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const qk_lpack *p[2];
        for (int g = 0; g < G; g++) p[g] = (const qk_lpack *)(xg + (size_t)g * bxp + (size_t)b * bsize);
        const qk_lact *a[C_ZMM];
        __m512i acc[2][C_ZMM];
        for (int c = 0; c < C; c++) {
            a[c] = act(y, by, c, b);
            for (int g = 0; g < G; g++)
                acc[g][c] = with_min ? _mm512_setzero_si512() : _mm512_set1_epi32(a[c]->u.c);
        }
        for (int s = 0; s < 8; s++) {
            __m512i w[2];
            for (int g = 0; g < G; g++) w[g] = _mm512_load_si512((const void *)p[g]->q[s]);
            for (int c = 0; c < C; c++) {
                const __m512i yb = _mm512_set1_epi32(step_bytes(a[c], s));
                for (int g = 0; g < G; g++) acc[g][c] = _mm512_dpbusd_epi32(acc[g][c], w[g], yb);
            }
        }
        for (int g = 0; g < G; g++) {
            const __m512 dx = _mm512_load_ps(p[g]->d);
            for (int c = 0; c < C; c++) {
                const __m512 f = _mm512_cvtepi32_ps(acc[g][c]);
                const __m512 d = _mm512_mul_ps(dx, _mm512_set1_ps(a[c]->d));
                if (with_min)
                    sum[g][c] = _mm512_add_ps(sum[g][c], _mm512_add_ps(_mm512_mul_ps(d, f),
                                                                       _mm512_mul_ps(_mm512_load_ps(p[g]->m),
                                                                                     _mm512_set1_ps(a[c]->u.s))));
                else
                    sum[g][c] = _mm512_add_ps(sum[g][c], _mm512_mul_ps(f, d));
            }
        }
    }
    for (int c = 0; c < C; c++)
        for (int g = 0; g < G; g++)
            _mm512_mask_storeu_ps(out + (size_t)c * lds + (size_t)g * QK_GL_ROWS, g == G - 1 ? rows_last : 0xFFFF,
                                  sum[g][c]);
}

QK_VNNI512 ALWAYS_INLINE void gemm_zmm(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp,
                                     const void *y, size_t by, const int with_min) {
    const int nb = n / 32;
    const size_t bsize = with_min ? QK_GL_BSIZE_MIN : QK_GL_BSIZE_SYM;
    const int ng = (nr + QK_GL_ROWS - 1) / QK_GL_ROWS;
    for (int c0 = 0; c0 < nc; c0 += C_ZMM) {
        const int C = nc - c0 < C_ZMM ? nc - c0 : C_ZMM;
        const uint8_t *yc = (const uint8_t *)y + (size_t)c0 * by;
        /* the groups two by two; an odd last group alone */
        for (int g0 = 0; g0 < ng; g0 += 2) {
            const int G = ng - g0 >= 2 ? 2 : 1, r_last = (g0 + G - 1) * QK_GL_ROWS;
            const int nv = nr - r_last < QK_GL_ROWS ? nr - r_last : QK_GL_ROWS;
            const __mmask16 rows_last = (__mmask16)((1u << nv) - 1);
            const uint8_t *xg = (const uint8_t *)xp + (size_t)g0 * bxp;
            float *out = s + (size_t)c0 * lds + (size_t)g0 * QK_GL_ROWS;
#define TILE2(cc) tile_zmm(nb, xg, bxp, bsize, yc, by, 2, cc, with_min, out, lds, rows_last)
#define TILE1(cc) tile_zmm(nb, xg, bxp, bsize, yc, by, 1, cc, with_min, out, lds, rows_last)
            if (G == 2) {
                switch (C) { CASES6(TILE2) }
            } else {
                switch (C) { CASES6(TILE1) }
            }
#undef TILE2
#undef TILE1
        }
    }
}

QK_VNNI512 void qk_gemm_lsym_vnni(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp,
                                  const void *y, size_t by) {
    gemm_zmm(n, nr, nc, s, lds, xp, bxp, y, by, 0);
}

QK_VNNI512 void qk_gemm_lmin_vnni(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp,
                                  const void *y, size_t by) {
    gemm_zmm(n, nr, nc, s, lds, xp, bxp, y, by, 1);
}

/* ---- 8-row halves (ymm): shared store ---- */

/* The nv (1..8) valid rows of v to out. */
QK_AVX2 ALWAYS_INLINE void store_rows8(float *out, __m256 v, int nv) {
    if (nv == 8) {
        _mm256_storeu_ps(out, v);
    } else {
        float t[8];
        _mm256_storeu_ps(t, v);
        memcpy(out, t, sizeof(float) * (size_t)nv);
    }
}

/* ---- AVX-VNNI: 8 rows (half h of a group) × C tokens ---- */

QK_AVXVNNI ALWAYS_INLINE void tile_ymm_vnni(int nb, const uint8_t *xg, size_t bsize, int h, const uint8_t *y,
                                            size_t by, const int C, const int with_min, float *out, size_t lds,
                                            int nv) {
    __m256 sum[C_YMM_VNNI];
    for (int c = 0; c < C; c++) sum[c] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const qk_lpack *p = (const qk_lpack *)(xg + (size_t)b * bsize);
        __m256i acc[C_YMM_VNNI];
        for (int c = 0; c < C; c++) acc[c] = with_min ? _mm256_setzero_si256() : _mm256_set1_epi32(act(y, by, c, b)->u.c);
        for (int s = 0; s < 8; s++) {
            const __m256i w = _mm256_load_si256((const __m256i *)p->q[s][8 * h]);
            for (int c = 0; c < C; c++)
                acc[c] = _mm256_dpbusd_avx_epi32(acc[c], w, _mm256_set1_epi32(step_bytes(act(y, by, c, b), s)));
        }
        const __m256 dx = _mm256_load_ps(p->d + 8 * h);
        for (int c = 0; c < C; c++) {
            const qk_lact *a = act(y, by, c, b);
            const __m256 f = _mm256_cvtepi32_ps(acc[c]);
            const __m256 d = _mm256_mul_ps(dx, _mm256_set1_ps(a->d));
            if (with_min)
                sum[c] = _mm256_add_ps(sum[c], _mm256_add_ps(_mm256_mul_ps(d, f), _mm256_mul_ps(_mm256_load_ps(p->m + 8 * h),
                                                                                                _mm256_set1_ps(a->u.s))));
            else
                sum[c] = _mm256_add_ps(sum[c], _mm256_mul_ps(f, d));
        }
    }
    for (int c = 0; c < C; c++) store_rows8(out + (size_t)c * lds, sum[c], nv);
}

QK_AVXVNNI ALWAYS_INLINE void gemm_ymm_vnni(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp,
                                     const void *y, size_t by, const int with_min) {
    const int nb = n / 32;
    const size_t bsize = with_min ? QK_GL_BSIZE_MIN : QK_GL_BSIZE_SYM;
    for (int c0 = 0; c0 < nc; c0 += C_YMM_VNNI) {
        const int C = nc - c0 < C_YMM_VNNI ? nc - c0 : C_YMM_VNNI;
        const uint8_t *yc = (const uint8_t *)y + (size_t)c0 * by;
        for (int r0 = 0; r0 < nr; r0 += 8) {
            const uint8_t *xg = (const uint8_t *)xp + (size_t)(r0 / QK_GL_ROWS) * bxp;
            const int h = (r0 / 8) % 2, nv = nr - r0 < 8 ? nr - r0 : 8;
            float *out = s + (size_t)c0 * lds + r0;
#define TILE(cc) tile_ymm_vnni(nb, xg, bsize, h, yc, by, cc, with_min, out, lds, nv)
            switch (C) { CASES5(TILE) }
#undef TILE
        }
    }
}

QK_AVXVNNI void qk_gemm_lsym_avxvnni(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp,
                                     const void *y, size_t by) {
    gemm_ymm_vnni(n, nr, nc, s, lds, xp, bxp, y, by, 0);
}

QK_AVXVNNI void qk_gemm_lmin_avxvnni(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp,
                                     const void *y, size_t by) {
    gemm_ymm_vnni(n, nr, nc, s, lds, xp, bxp, y, by, 1);
}

/* ---- AVX2: 8 rows × C tokens, VPMADDUBSW by code width (bits 4, 5 or 8) ---- */

QK_AVX2 ALWAYS_INLINE void tile_avx2(int nb, const uint8_t *xg, size_t bsize, int h, const uint8_t *y, size_t by,
                                     const int C, const int bits, const int with_min, float *out, size_t lds, int nv) {
    const __m256i ones = _mm256_set1_epi16(1), nib = _mm256_set1_epi8(0x0F);
    __m256 sum[C_AVX2];
    for (int c = 0; c < C; c++) sum[c] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const qk_lpack *p = (const qk_lpack *)(xg + (size_t)b * bsize);
        /* 16-bit pair sums: bits 4 all steps in lo; bits 5 steps 0-3 in lo, 4-7 in hi;
         * bits 8 the low nibbles in lo, the high nibbles in hi */
        __m256i lo[C_AVX2], hi[C_AVX2];
        for (int c = 0; c < C; c++) lo[c] = hi[c] = _mm256_setzero_si256();
        for (int s = 0; s < 8; s++) {
            const __m256i w = _mm256_load_si256((const __m256i *)p->q[s][8 * h]);
            const __m256i wl = bits == 8 ? _mm256_and_si256(w, nib) : w;
            const __m256i wh = bits == 8 ? _mm256_and_si256(_mm256_srli_epi16(w, 4), nib) : w;
            for (int c = 0; c < C; c++) {
                const __m256i yv = _mm256_set1_epi32(step_bytes(act(y, by, c, b), s));
                if (bits == 8) {
                    lo[c] = _mm256_add_epi16(lo[c], _mm256_maddubs_epi16(wl, yv));
                    hi[c] = _mm256_add_epi16(hi[c], _mm256_maddubs_epi16(wh, yv));
                } else if (bits == 5 && s >= 4) {
                    hi[c] = _mm256_add_epi16(hi[c], _mm256_maddubs_epi16(w, yv));
                } else {
                    lo[c] = _mm256_add_epi16(lo[c], _mm256_maddubs_epi16(w, yv));
                }
            }
        }
        const __m256 dx = _mm256_load_ps(p->d + 8 * h);
        for (int c = 0; c < C; c++) {
            const qk_lact *a = act(y, by, c, b);
            __m256i isum = _mm256_madd_epi16(lo[c], ones);
            if (bits == 5) isum = _mm256_add_epi32(isum, _mm256_madd_epi16(hi[c], ones));
            if (bits == 8) isum = _mm256_add_epi32(isum, _mm256_madd_epi16(hi[c], _mm256_set1_epi16(16)));
            if (!with_min) isum = _mm256_add_epi32(isum, _mm256_set1_epi32(a->u.c));
            const __m256 f = _mm256_cvtepi32_ps(isum);
            const __m256 d = _mm256_mul_ps(dx, _mm256_set1_ps(a->d));
            if (with_min)
                sum[c] = _mm256_add_ps(sum[c], _mm256_add_ps(_mm256_mul_ps(d, f), _mm256_mul_ps(_mm256_load_ps(p->m + 8 * h),
                                                                                                _mm256_set1_ps(a->u.s))));
            else
                sum[c] = _mm256_add_ps(sum[c], _mm256_mul_ps(f, d));
        }
    }
    for (int c = 0; c < C; c++) store_rows8(out + (size_t)c * lds, sum[c], nv);
}

QK_AVX2 ALWAYS_INLINE void gemm_avx2(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp,
                                     const void *y, size_t by, const int bits, const int with_min) {
    const int nb = n / 32;
    const size_t bsize = with_min ? QK_GL_BSIZE_MIN : QK_GL_BSIZE_SYM;
    for (int c0 = 0; c0 < nc; c0 += C_AVX2) {
        const int C = nc - c0 < C_AVX2 ? nc - c0 : C_AVX2;
        const uint8_t *yc = (const uint8_t *)y + (size_t)c0 * by;
        for (int r0 = 0; r0 < nr; r0 += 8) {
            const uint8_t *xg = (const uint8_t *)xp + (size_t)(r0 / QK_GL_ROWS) * bxp;
            const int h = (r0 / 8) % 2, nv = nr - r0 < 8 ? nr - r0 : 8;
            float *out = s + (size_t)c0 * lds + r0;
#define TILE(cc) tile_avx2(nb, xg, bsize, h, yc, by, cc, bits, with_min, out, lds, nv)
            switch (C) { CASES4(TILE) }
#undef TILE
        }
    }
}

QK_AVX2 void qk_gemm_lsym4_avx2(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp,
                                const void *y, size_t by) {
    gemm_avx2(n, nr, nc, s, lds, xp, bxp, y, by, 4, 0);
}
QK_AVX2 void qk_gemm_lsym5_avx2(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp,
                                const void *y, size_t by) {
    gemm_avx2(n, nr, nc, s, lds, xp, bxp, y, by, 5, 0);
}
QK_AVX2 void qk_gemm_lsym8_avx2(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp,
                                const void *y, size_t by) {
    gemm_avx2(n, nr, nc, s, lds, xp, bxp, y, by, 8, 0);
}
QK_AVX2 void qk_gemm_lmin4_avx2(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp,
                                const void *y, size_t by) {
    gemm_avx2(n, nr, nc, s, lds, xp, bxp, y, by, 4, 1);
}
QK_AVX2 void qk_gemm_lmin5_avx2(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp,
                                const void *y, size_t by) {
    gemm_avx2(n, nr, nc, s, lds, xp, bxp, y, by, 5, 1);
}

/* ---- AVX2 packers: the bytes of gemm_legacy.c's scalar packers ---- */

/* Software prefetch distance of the packers, in bytes of each source row. */
#define PF_BYTES 256

/* Block b of a row decoded into 32 unsigned codes u (natural element order) and its d, m. */
typedef struct dec32 {
    __m256i u;
    float d, m;
} dec32;

/* The 32 bytes of 16 nibbles: low nibbles (elements 0-15), then high nibbles (16-31). */
QK_AVX2 ALWAYS_INLINE __m256i nibbles(const uint8_t qs[16]) {
    const __m128i q = _mm_loadu_si128((const __m128i *)qs), m = _mm_set1_epi8(0x0F);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
}

/* Bit j of the little-endian 32-bit qh as 0x10 in byte j (the 5th bit of element j). */
QK_AVX2 ALWAYS_INLINE __m256i fifth_bits(const uint8_t qh[4]) {
    int32_t v;
    memcpy(&v, qh, 4);
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(v), _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                                                                      2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m256i bit = _mm256_set1_epi64x((int64_t)0x8040201008040201ULL);
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}

enum { T_Q4_0, T_Q4_1, T_Q5_0, T_Q5_1, T_Q8_0, T_IQ4_NL };

QK_AVX2 ALWAYS_INLINE dec32 decode(const uint8_t *row, int64_t b, const int type) {
    dec32 o = {_mm256_setzero_si256(), 0.0f, 0.0f};
    switch (type) {
    case T_Q4_0: {
        const block_q4_0 *x = (const block_q4_0 *)row + b;
        o.u = nibbles(x->qs);
        o.d = _cvtsh_ss(x->d);
        break;
    }
    case T_Q4_1: {
        const block_q4_1 *x = (const block_q4_1 *)row + b;
        o.u = nibbles(x->qs);
        o.d = _cvtsh_ss(x->d);
        o.m = _cvtsh_ss(x->m);
        break;
    }
    case T_Q5_0: {
        const block_q5_0 *x = (const block_q5_0 *)row + b;
        o.u = _mm256_or_si256(nibbles(x->qs), fifth_bits(x->qh));
        o.d = _cvtsh_ss(x->d);
        break;
    }
    case T_Q5_1: {
        const block_q5_1 *x = (const block_q5_1 *)row + b;
        o.u = _mm256_or_si256(nibbles(x->qs), fifth_bits(x->qh));
        o.d = _cvtsh_ss(x->d);
        o.m = _cvtsh_ss(x->m);
        break;
    }
    case T_Q8_0: {
        const block_q8_0 *x = (const block_q8_0 *)row + b;
        o.u = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)x->qs), _mm256_set1_epi8((char)0x80));
        o.d = _cvtsh_ss(x->d);
        break;
    }
    default: { /* IQ4_NL: table value + 128 */
        const block_iq4_nl *x = (const block_iq4_nl *)row + b;
        const __m128i t = _mm_loadu_si128((const __m128i *)qk_kvalues_iq4nl);
        const __m128i tu = _mm_xor_si128(t, _mm_set1_epi8((char)0x80));
        o.u = _mm256_shuffle_epi8(_mm256_set_m128i(tu, tu), nibbles(x->qs));
        o.d = _cvtsh_ss(x->d);
        break;
    }
    }
    return o;
}

/* v[i] = the 8 dwords of row i → v[s] = dword s of rows 0..7 (transpose_avx2.h moves the
 * bits as they are). */
QK_AVX2 ALWAYS_INLINE void transpose8(__m256i v[8]) {
    __m256 f[8];
    for (int i = 0; i < 8; i++) f[i] = _mm256_castsi256_ps(v[i]);
    qk_transpose8_ps(f);
    for (int i = 0; i < 8; i++) v[i] = _mm256_castps_si256(f[i]);
}

static inline size_t block_bytes(int type) {
    switch (type) {
    case T_Q4_0: return sizeof(block_q4_0);
    case T_Q4_1: return sizeof(block_q4_1);
    case T_Q5_0: return sizeof(block_q5_0);
    case T_Q5_1: return sizeof(block_q5_1);
    case T_Q8_0: return sizeof(block_q8_0);
    default: return sizeof(block_iq4_nl);
    }
}

QK_AVX2 ALWAYS_INLINE void pack_avx2(const void *x, size_t bx, int nr, void *dst, int64_t n, const int type) {
    const int64_t nb = n / 32;
    const int with_min = type == T_Q4_1 || type == T_Q5_1;
    const size_t bsize = with_min ? QK_GL_BSIZE_MIN : QK_GL_BSIZE_SYM;
    const size_t bsrc = block_bytes(type);
    uint8_t *out = dst;
    for (int g0 = 0; g0 < nr; g0 += QK_GL_ROWS) {
        /* the next group's rows, one contiguous range (rows are bx bytes apart), are
         * fetched into L2 a slice per block: decoding them then does not wait on 16
         * strided streams from memory */
        const int gn = nr - g0 - QK_GL_ROWS < QK_GL_ROWS ? nr - g0 - QK_GL_ROWS : QK_GL_ROWS;
        const char *next = gn > 0 ? (const char *)x + (size_t)(g0 + QK_GL_ROWS) * bx : NULL;
        const size_t next_bytes = gn > 0 ? (size_t)gn * bx : 0;
        const size_t slice = (next_bytes / (size_t)nb + 63) & ~(size_t)63;
        for (int64_t b = 0; b < nb; b++, out += bsize) {
            qk_lpack *p = (qk_lpack *)out;
            for (size_t o = (size_t)b * slice; o < (size_t)(b + 1) * slice && o < next_bytes; o += 64)
                _mm_prefetch(next + o, _MM_HINT_T1);
            for (int h = 0; h < 2; h++) {
                __m256i v[8];
                for (int i = 0; i < 8; i++) {
                    const int r = g0 + 8 * h + i;
                    dec32 o = {_mm256_setzero_si256(), 0.0f, 0.0f};
                    if (r < nr) {
                        const uint8_t *row = (const uint8_t *)x + (size_t)r * bx;
                        /* the 16 rows are 16 streams the hardware prefetchers do not follow
                         * well: ask for each row's bytes PF_BYTES ahead (a prefetch past
                         * the end of the row, or of the mapping, does not fault) */
                        _mm_prefetch((const char *)row + (size_t)b * bsrc + PF_BYTES, _MM_HINT_T0);
                        o = decode(row, b, type);
                    }
                    v[i] = o.u;
                    p->d[8 * h + i] = o.d;
                    if (with_min) p->m[8 * h + i] = o.m;
                }
                transpose8(v);
                for (int s = 0; s < 8; s++) _mm256_store_si256((__m256i *)p->q[s][8 * h], v[s]);
            }
        }
    }
}

QK_AVX2 void qk_gemm_pack_q4_0_avx2(const void *x, size_t bx, int nr, void *dst, int64_t n) {
    pack_avx2(x, bx, nr, dst, n, T_Q4_0);
}
QK_AVX2 void qk_gemm_pack_q4_1_avx2(const void *x, size_t bx, int nr, void *dst, int64_t n) {
    pack_avx2(x, bx, nr, dst, n, T_Q4_1);
}
QK_AVX2 void qk_gemm_pack_q5_0_avx2(const void *x, size_t bx, int nr, void *dst, int64_t n) {
    pack_avx2(x, bx, nr, dst, n, T_Q5_0);
}
QK_AVX2 void qk_gemm_pack_q5_1_avx2(const void *x, size_t bx, int nr, void *dst, int64_t n) {
    pack_avx2(x, bx, nr, dst, n, T_Q5_1);
}
QK_AVX2 void qk_gemm_pack_q8_0_avx2(const void *x, size_t bx, int nr, void *dst, int64_t n) {
    pack_avx2(x, bx, nr, dst, n, T_Q8_0);
}
QK_AVX2 void qk_gemm_pack_iq4_nl_avx2(const void *x, size_t bx, int nr, void *dst, int64_t n) {
    pack_avx2(x, bx, nr, dst, n, T_IQ4_NL);
}

/* ---- activation layout (gemm_act): the bytes of gemm_legacy.c's act_off (d through
 * F16C, which is exact; a signalling-NaN d comes out quiet, which no product can tell
 * apart) ---- */

/* Σ of the 32 signed bytes: VPSADBW of the bytes + 128 against zero gives four 64-bit
 * sums of unsigned bytes, exact; then −32·128. */
QK_AVX2 ALWAYS_INLINE int32_t sum32_i8(__m256i q) {
    const __m256i s = _mm256_sad_epu8(_mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)), _mm256_setzero_si256());
    const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return (int32_t)(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1)) - 32 * 128;
}

QK_AVX2 ALWAYS_INLINE void act_off_avx2(const void *yq, void *dst, int64_t n, const int off) {
    const block_q8_0 *y = yq;
    qk_lact *a = dst;
    for (int64_t i = 0; i < n / 32; i++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)y[i].qs);
        _mm256_storeu_si256((__m256i *)a[i].qs, q);
        a[i].d = _cvtsh_ss(y[i].d);
        a[i].u.c = -off * sum32_i8(q);
    }
}

QK_AVX2 static void act_off8_avx2(const void *yq, void *dst, int64_t n) { act_off_avx2(yq, dst, n, 8); }
QK_AVX2 static void act_off16_avx2(const void *yq, void *dst, int64_t n) { act_off_avx2(yq, dst, n, 16); }
QK_AVX2 static void act_off128_avx2(const void *yq, void *dst, int64_t n) { act_off_avx2(yq, dst, n, 128); }

/* ---- installers ---- */

void qk_install_gemm_legacy_avx2(qk_type_traits *table) {
    table[QK_TYPE_Q4_0].gemm_pack = qk_gemm_pack_q4_0_avx2;
    table[QK_TYPE_Q4_1].gemm_pack = qk_gemm_pack_q4_1_avx2;
    table[QK_TYPE_Q5_0].gemm_pack = qk_gemm_pack_q5_0_avx2;
    table[QK_TYPE_Q5_1].gemm_pack = qk_gemm_pack_q5_1_avx2;
    table[QK_TYPE_Q8_0].gemm_pack = qk_gemm_pack_q8_0_avx2;
    table[QK_TYPE_IQ4_NL].gemm_pack = qk_gemm_pack_iq4_nl_avx2;
    table[QK_TYPE_Q4_0].gemm_act = act_off8_avx2;
    table[QK_TYPE_Q5_0].gemm_act = act_off16_avx2;
    table[QK_TYPE_Q8_0].gemm_act = table[QK_TYPE_IQ4_NL].gemm_act = act_off128_avx2;
    table[QK_TYPE_Q4_0].gemm = qk_gemm_lsym4_avx2;
    table[QK_TYPE_Q4_1].gemm = qk_gemm_lmin4_avx2;
    table[QK_TYPE_Q5_0].gemm = qk_gemm_lsym5_avx2;
    table[QK_TYPE_Q5_1].gemm = qk_gemm_lmin5_avx2;
    table[QK_TYPE_Q8_0].gemm = qk_gemm_lsym8_avx2;
    table[QK_TYPE_IQ4_NL].gemm = qk_gemm_lsym8_avx2;
}

static void install_vnni(qk_type_traits *table, qk_gemm_fn sym, qk_gemm_fn min) {
    table[QK_TYPE_Q4_0].gemm = sym;
    table[QK_TYPE_Q4_1].gemm = min;
    table[QK_TYPE_Q5_0].gemm = sym;
    table[QK_TYPE_Q5_1].gemm = min;
    table[QK_TYPE_Q8_0].gemm = sym;
    table[QK_TYPE_IQ4_NL].gemm = sym;
}

void qk_install_gemm_legacy_avxvnni(qk_type_traits *table) {
    install_vnni(table, qk_gemm_lsym_avxvnni, qk_gemm_lmin_avxvnni);
}

void qk_install_gemm_legacy_avx512vnni(qk_type_traits *table) {
    install_vnni(table, qk_gemm_lsym_vnni, qk_gemm_lmin_vnni);
}
