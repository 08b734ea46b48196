/*
 * gemm_k_vnni.c — the AVX-512 VNNI kernel of the K-quant integer GEMM on 16 interleaved
 * weight rows (qk_kpack16, gemm_k.h), and its packers.
 *
 * A tile is one packed group of 16 rows (one zmm lane per row) × C tokens. Per block and
 * per scale group (16 elements for Q2_K, Q3_K, Q6_K; 32 for Q4_K, Q5_K, whose two 16-groups
 * share one scale), each token's group sum s_g of all 16 rows is built by VPDPBUSD from the
 * group's 4 or 8 weight vectors (4 codes per row each) against the token's 4 activation
 * bytes broadcast to every lane — no horizontal reduction — then multiplied by the rows'
 * scales with VPMULLD and added to isum. msum = Σ_g mn_g·bsums_g takes 8 VPDPWSSD (pairs of
 * 16-groups) per block. Both are the exact integers of gemm_k.c's scalar kernel, and the
 * block's float step uses its operations in its order (gemm_k.h), so the results equal
 * qk_gemm_k*_scalar's bit for bit.
 *
 * Why: VPDPBUSD multiplies and adds 64 byte pairs per instruction, where the row-by-row
 * kernels (gemm_k_avx2.c) need VPMADDUBSW + VPDPWSSD for 64 pairs and a horizontal
 * reduction per (row, token, block). Integer ranges: a group sum is at most 32·63·128 in
 * magnitude (< 2^18), times |sc| <= 127 and 16 groups: |isum| < 2^28; |mn| <= 32·127 and
 * |bsums| <= 16·128, so |msum| < 2^28.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "gemm_k.h"
#include "transpose_avx512.h"

#define QK_VNNI512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Tokens per tile: C_TILE VPDPBUSD chains side by side; a group's weight vectors, the
 * accumulators and the sums of C tokens about fill the 32 zmm registers (4, 6 and 8 were
 * within the noise of a shared machine; 6 kept). */
#define C_TILE 6
_Static_assert(C_TILE == 6, "gemm16's switch has a case for each token count below C_TILE");

/* ---- packing: 16 rows decoded by a qk_kpack packer, block by block, then interleaved ---- */

/* Row i < nv of a 16-row group: the 16 dwords at src (64 bytes), else zeros. */
QK_VNNI512 ALWAYS_INLINE __m512 row16(const void *src, int i, int nv) {
    return i < nv ? _mm512_loadu_ps(src) : _mm512_setzero_ps();
}

/* dst = the 16 decoded blocks p[0..15] interleaved (rows past nv are zero): the codes as
 * four 16 x 16 transposes of their 4-byte words, the scales widened to int32 and the
 * mn pairs as one transpose each (transpose_avx512.h moves the bits as they are). */
QK_VNNI512 static void interleave16(const qk_kpack p[QK_K16_ROWS], int nv, qk_kpack16 *dst) {
    __m512 r[QK_K16_ROWS];
    for (int cb = 0; cb < QK_K / 64; cb++) {
        for (int i = 0; i < QK_K16_ROWS; i++) r[i] = row16(p[i].q + 64 * cb, i, nv);
        qk_transpose16_ps(r);
        for (int j = 0; j < QK_K16_ROWS; j++) _mm512_storeu_ps(dst->q[16 * cb + j], r[j]);
    }
    for (int i = 0; i < QK_K16_ROWS; i++)
        r[i] = i < nv ? _mm512_castsi512_ps(_mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)p[i].sc)))
                      : _mm512_setzero_ps();
    qk_transpose16_ps(r);
    for (int g = 0; g < QK_K / 16; g++) _mm512_storeu_ps(dst->sc[g], r[g]);
    for (int i = 0; i < QK_K16_ROWS; i++)
        r[i] = i < nv ? _mm512_castsi512_ps(_mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)p[i].mn)))
                      : _mm512_setzero_ps();
    qk_transpose16_ps(r);
    for (int h = 0; h < QK_K / 32; h++) _mm512_storeu_ps(dst->mn[h], r[h]);
    for (int i = 0; i < QK_K16_ROWS; i++) {
        dst->d[i] = i < nv ? p[i].d : 0.0f;
        dst->dmin[i] = i < nv ? p[i].dmin : 0.0f;
    }
}

/* qk_gemm_pack_fn for 16-row groups from a one-block-at-a-time qk_kpack packer. */
QK_VNNI512 static void pack16(qk_gemm_pack_fn rows, size_t type_size, const void *x, size_t bx, int nr, void *dst,
                              int64_t n) {
    const int64_t nb = n / QK_K;
    _Alignas(64) qk_kpack tmp[QK_K16_ROWS];
    qk_kpack16 *out = dst;
    for (int r0 = 0; r0 < nr; r0 += QK_K16_ROWS) {
        const int nv = nr - r0 < QK_K16_ROWS ? nr - r0 : QK_K16_ROWS;
        for (int64_t b = 0; b < nb; b++) {
            rows((const uint8_t *)x + (size_t)r0 * bx + (size_t)b * type_size, bx, nv, tmp, QK_K);
            interleave16(tmp, nv, out++);
        }
    }
}

#define PACK16(name, rowpack, block)                                      \
    void name(const void *x, size_t bx, int nr, void *dst, int64_t n) {   \
        pack16(rowpack, sizeof(block), x, bx, nr, dst, n);                \
    }
PACK16(qk_gemm_pack16_q2_K, qk_gemm_pack_q2_K_avx2, block_q2_K)
PACK16(qk_gemm_pack16_q3_K, qk_gemm_pack_q3_K_avx2, block_q3_K)
PACK16(qk_gemm_pack16_q4_K, qk_gemm_pack_q4_K_avx2, block_q4_K)
PACK16(qk_gemm_pack16_q5_K, qk_gemm_pack_q5_K_avx2, block_q5_K)
PACK16(qk_gemm_pack16_q6_K, qk_gemm_pack_q6_K_avx2, block_q6_K)

/* ---- the kernel ---- */

static inline int32_t load32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* 16 rows of nb packed blocks xg × C tokens (y rows of by bytes); out[c·lds + r] for the
 * rows in mask. g32: the scale groups are 32 elements (Q4_K, Q5_K); sym: Q3_K, Q6_K. */
QK_VNNI512 ALWAYS_INLINE void tile16(int nb, const qk_kpack16 *xg, const uint8_t *y, size_t by, const int C,
                                     const int g32, const int sym, float *out, size_t lds, __mmask16 rows) {
    const int steps = g32 ? 8 : 4; /* weight vectors per scale group */
    __m512 sum[C_TILE];
    for (int c = 0; c < C; c++) sum[c] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const qk_kpack16 *p = xg + b;
        const block_q8_K *yb[C_TILE];
        for (int c = 0; c < C; c++) yb[c] = (const block_q8_K *)(y + (size_t)c * by) + b;
        __m512i isum[C_TILE], msum[C_TILE];
        for (int c = 0; c < C; c++) isum[c] = msum[c] = _mm512_setzero_si512();
        for (int g = 0; g < QK_K / 16; g += steps / 4) {
            const int s0 = 4 * g;
            __m512i w[8];
            for (int s = 0; s < steps; s++) w[s] = _mm512_load_si512((const void *)p->q[s0 + s]);
            const __m512i sc = _mm512_load_si512((const void *)p->sc[g]);
            /* step by step over the tokens: C independent VPDPBUSD chains side by side */
            __m512i acc[C_TILE];
            for (int c = 0; c < C; c++) acc[c] = _mm512_setzero_si512();
            for (int s = 0; s < steps; s++)
                for (int c = 0; c < C; c++)
                    acc[c] = _mm512_dpbusd_epi32(acc[c], w[s], _mm512_set1_epi32(load32(yb[c]->qs + 4 * (s0 + s))));
            for (int c = 0; c < C; c++) isum[c] = _mm512_add_epi32(isum[c], _mm512_mullo_epi32(acc[c], sc));
        }
        for (int h = 0; h < QK_K / 32; h++) {
            const __m512i mn = _mm512_load_si512((const void *)p->mn[h]);
            for (int c = 0; c < C; c++)
                msum[c] = _mm512_dpwssd_epi32(msum[c], mn, _mm512_set1_epi32(load32(yb[c]->bsums + 2 * h)));
        }
        const __m512 d = _mm512_load_ps(p->d);
        if (sym) {
            for (int c = 0; c < C; c++) {
                const __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(isum[c], msum[c]));
                sum[c] = _mm512_add_ps(sum[c], _mm512_mul_ps(_mm512_mul_ps(d, _mm512_set1_ps(yb[c]->d)), f));
            }
        } else {
            const __m512 dmin = _mm512_load_ps(p->dmin);
            for (int c = 0; c < C; c++) {
                const __m512 dy = _mm512_set1_ps(yb[c]->d);
                const __m512 t = _mm512_sub_ps(_mm512_mul_ps(_mm512_mul_ps(dy, d), _mm512_cvtepi32_ps(isum[c])),
                                               _mm512_mul_ps(_mm512_mul_ps(dy, dmin), _mm512_cvtepi32_ps(msum[c])));
                sum[c] = _mm512_add_ps(sum[c], t);
            }
        }
    }
    for (int c = 0; c < C; c++) _mm512_mask_storeu_ps(out + (size_t)c * lds, rows, sum[c]);
}

QK_VNNI512 ALWAYS_INLINE void gemm16(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp,
                                     const void *y, size_t by, const int g32, const int sym) {
    const int nb = n / QK_K;
    for (int c0 = 0; c0 < nc; c0 += C_TILE) {
        const int C = nc - c0 < C_TILE ? nc - c0 : C_TILE;
        const uint8_t *yc = (const uint8_t *)y + (size_t)c0 * by;
        for (int r0 = 0; r0 < nr; r0 += QK_K16_ROWS) {
            const qk_kpack16 *xg = (const qk_kpack16 *)((const uint8_t *)xp + (size_t)(r0 / QK_K16_ROWS) * bxp);
            const int nv = nr - r0 < QK_K16_ROWS ? nr - r0 : QK_K16_ROWS;
            const __mmask16 rows = (__mmask16)((1u << nv) - 1);
            float *out = s + (size_t)c0 * lds + r0;
            /* one unrolled instance per token count (C <= C_TILE = 6) */
#define TILE(cc) tile16(nb, xg, yc, by, cc, g32, sym, out, lds, rows)
            switch (C) {
            case 1: TILE(1); break;
            case 2: TILE(2); break;
            case 3: TILE(3); break;
            case 4: TILE(4); break;
            case 5: TILE(5); break;
            default: TILE(C_TILE); break;
            }
#undef TILE
        }
    }
}

#define GEMM16(name, g32, sym)                                                                              \
    QK_VNNI512 void name(int n, int nr, int nc, float *s, size_t lds, const void *xp, size_t bxp, const void *y, \
                         size_t by) {                                                                       \
        gemm16(n, nr, nc, s, lds, xp, bxp, y, by, g32, sym);                                                \
    }
GEMM16(qk_gemm16_k16min_vnni, 0, 0) /* Q2_K */
GEMM16(qk_gemm16_k16sym_vnni, 0, 1) /* Q3_K, Q6_K */
GEMM16(qk_gemm16_k32min_vnni, 1, 0) /* Q4_K, Q5_K */

void qk_install_gemm_k_avx512vnni(qk_type_traits *table) {
    static const struct {
        qk_type t;
        qk_gemm_pack_fn pack;
        qk_gemm_fn gemm;
    } rows[] = {
        {QK_TYPE_Q2_K, qk_gemm_pack16_q2_K, qk_gemm16_k16min_vnni},
        {QK_TYPE_Q3_K, qk_gemm_pack16_q3_K, qk_gemm16_k16sym_vnni},
        {QK_TYPE_Q4_K, qk_gemm_pack16_q4_K, qk_gemm16_k32min_vnni},
        {QK_TYPE_Q5_K, qk_gemm_pack16_q5_K, qk_gemm16_k32min_vnni},
        {QK_TYPE_Q6_K, qk_gemm_pack16_q6_K, qk_gemm16_k16sym_vnni},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        table[rows[i].t].gemm_pack = rows[i].pack;
        table[rows[i].t].gemm = rows[i].gemm;
        table[rows[i].t].gemm_pack_rows = QK_K16_ROWS;
        table[rows[i].t].gemm_pack_bsize = sizeof(qk_kpack16);
    }
}
