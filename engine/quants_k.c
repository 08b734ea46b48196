/*
 * quants_k.c — the K-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) and the Q8_K activation type:
 * reference quantizers, dequantizers and scalar dot products against Q8_K.
 *
 * Block layouts are in quants.h (ggml-common.h); how each one decodes is in
 * llama-cpp-reference.md §2.1, and how the reference quantizers choose scales in §2.2.
 *
 * Invariants:
 * - qk_quantize_row_*_ref is bit-identical to llama.cpp's quantize_row_*_ref
 *   (ggml/src/ggml-quants.c, commit c392e50), the path llama-quantize takes without an
 *   importance matrix. The scale/min searches live in quants_kfit.c; the float expressions
 *   here follow ggml's order and are evaluated in float without FMA contraction.
 * - Every element index e of a 256-element super-block maps to one code; the pack/unpack
 *   helpers of quants_k_pack.h are the single statement of each type's bit layout, and both the
 *   dequantizers and the dot products decode through them.
 * - k (row length) is a multiple of QK_K = 256; NaN or inf input gives a garbage block,
 *   never a crash (callers reject non-finite weights before quantizing).
 * - Speed without new bytes: when qk_kfit_have_x16() (AVX2, QK_FORCE_SCALAR unset) the
 *   scale searches of 16 sub-blocks run as one batch (quants_kfit.c, *_x16: one sub-block
 *   per SIMD lane, the scalar operations in the scalar order), Q4_K/Q5_K pairing two
 *   super-blocks to fill the 16 lanes, and the final re-quantization goes through
 *   qk_requant. Both paths give identical bytes; tests/test_quant_golden.c checks the
 *   default path against llama.cpp and tests/test_quantize_cli.c compares the two.
 */
/* Bit-exactness needs every a*b+c rounded twice, as in llama.cpp's FMA-free build of
 * ggml-quants.c: the engine is built with -ffp-contract=off (CMakeLists.txt). */
#include <math.h>
#include <string.h>

#include "quants.h"
#include "quants_kfit.h"
#include "quants_k_pack.h"

/* ------------------------------------------------------------------------------------ */
/* Reference quantizers                                                                  */
/* ------------------------------------------------------------------------------------ */

/* Q2_K: 16 sub-blocks of 16, each fitted as x ~= s*q - m with q in 0..3 (weights |x|,
 * MAD error); s and m quantized to 4 bits against the block maxima (q4scale = 15). */
static void quantize_block_q2_K(const float *x, block_q2_K *y) {
    const float q4scale = 15.f;
    uint8_t L[QK_K], Laux[16];
    float weights[16], mins[QK_K / 16], scales[QK_K / 16];
    float max_scale = 0, max_min = 0;
    if (qk_kfit_have_x16()) {
        float w_all[QK_K];
        for (int l = 0; l < QK_K; l++) w_all[l] = fabsf(x[l]);
        qk_make_qkx2_quants_x16(16, 3, x, w_all, L, mins, scales, -0.5f, 0.1f, 15, 1);
    } else {
        for (int j = 0; j < QK_K / 16; j++) {
            for (int l = 0; l < 16; l++) weights[l] = fabsf(x[16 * j + l]);
            scales[j] = qk_make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux,
                                            -0.5f, 0.1f, 15, 1);
        }
    }
    for (int j = 0; j < QK_K / 16; j++) {
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
        float iscale = q4scale / max_scale;
        for (int j = 0; j < QK_K / 16; j++) y->scales[j] = (uint8_t)qk_nearest_int(iscale * scales[j]);
        y->d = qk_float_to_half(max_scale / q4scale);
    } else {
        for (int j = 0; j < QK_K / 16; j++) y->scales[j] = 0;
        y->d = qk_float_to_half(0.f);
    }
    if (max_min > 0) {
        float iscale = q4scale / max_min;
        for (int j = 0; j < QK_K / 16; j++)
            /* unsigned shift: the same low bits as ggml's int shift, without the undefined
             * behaviour of shifting a negative value (NaN/huge input gives one) */
            y->scales[j] = (uint8_t)(y->scales[j] | ((unsigned)qk_nearest_int(iscale * mins[j]) << 4));
        y->dmin = qk_float_to_half(max_min / q4scale);
    } else {
        y->dmin = qk_float_to_half(0.f);
    }
    /* Re-derive every code from the stored d*sc and dmin*m; a sub-block whose scale
     * rounded to 0 keeps the codes of its search. */
    for (int j = 0; j < QK_K / 16; j++) {
        const float d = qk_half_to_float(y->d) * (float)(y->scales[j] & 0xF);
        if (d == 0.0f) continue;
        const float dm = qk_half_to_float(y->dmin) * (float)(y->scales[j] >> 4);
        qk_requant(16, x + 16 * j, d, dm, 0, 3, L + 16 * j); /* nearest((x + dm) / d) in 0..3 */
    }
    pack_2bit(L, y->qs);
}

/* Q3_K: 16 sub-blocks of 16, symmetric codes -4..3 (make_q3_quants, w = x^2); the 16
 * scales quantized to signed 6 bits with iscale = -32/max_scale, stored +32. */
static void quantize_block_q3_K(const float *x, block_q3_K *y) {
    int8_t L[QK_K];
    float scales[QK_K / 16];
    if (qk_kfit_have_x16()) {
        qk_make_q3_quants_x16(16, 4, x, L, scales);
    } else {
        for (int j = 0; j < QK_K / 16; j++) scales[j] = qk_make_q3_quants(16, 4, x + 16 * j, L + 16 * j, 1);
    }
    float amax;
    const float max_scale = qk_signed_absmax(QK_K / 16, scales, &amax);
    memset(y->scales, 0, sizeof y->scales);
    if (max_scale != 0.0f) {
        float iscale = -32.f / max_scale;
        for (int j = 0; j < QK_K / 16; j++) {
            int8_t l = (int8_t)qk_nearest_int(iscale * scales[j]); /* ggml stores it in int8 */
            qk_set_scale_q3_K(j, y->scales, KMAX(-32, KMIN(31, l)));
        }
        y->d = qk_float_to_half(1 / iscale);
    } else {
        y->d = qk_float_to_half(0.f);
    }
    for (int j = 0; j < QK_K / 16; j++) {
        float d = qk_half_to_float(y->d) * (float)qk_get_scale_q3_K(j, y->scales);
        if (d == 0.0f) continue;
        qk_requant(16, x + 16 * j, d, 0.0f, -4, 3, (uint8_t *)L + 16 * j); /* nearest(x / d) + 4 */
    }
    pack_q3_K((const uint8_t *)L, y->hmask, y->qs);
}

/* Q4_K and Q5_K share everything but the code range and the search grid: 8 sub-blocks of
 * 32 fitted as x ~= s*q - m (weights av + |x|, av = RMS of the sub-block, squared error),
 * s and m quantized to 6 bits against the block maxima (63/max), then re-quantized.
 * Step 1, the search, for nblk (1 or 2) consecutive super-blocks: codes into L, the 8*nblk
 * sub-block scales and mins. With the batch search, two super-blocks are one call of
 * 16 sub-blocks (a lone one is searched twice, as a copy, and the copy dropped). */
static void search_q45_K(const float *x, int nblk, int nmax, float rmin, int nstep, uint8_t *L,
                         float *mins, float *scales) {
    float weights[2 * QK_K];
    for (int j = 0; j < nblk * (QK_K / 32); j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) weights[32 * j + l] = av_x + fabsf(x[32 * j + l]);
    }
    if (qk_kfit_have_x16()) {
        if (nblk == 2) {
            qk_make_qkx2_quants_x16(32, nmax, x, weights, L, mins, scales, rmin, 0.1f, nstep, 0);
        } else {
            float x2[2 * QK_K];
            uint8_t L2[2 * QK_K];
            float m2[16], s2[16];
            memcpy(x2, x, sizeof(float) * QK_K);
            memcpy(x2 + QK_K, x, sizeof(float) * QK_K);
            memcpy(weights + QK_K, weights, sizeof(float) * QK_K);
            qk_make_qkx2_quants_x16(32, nmax, x2, weights, L2, m2, s2, rmin, 0.1f, nstep, 0);
            memcpy(L, L2, QK_K);
            memcpy(mins, m2, sizeof(float) * 8);
            memcpy(scales, s2, sizeof(float) * 8);
        }
        return;
    }
    uint8_t Laux[32];
    for (int j = 0; j < nblk * (QK_K / 32); j++)
        scales[j] = qk_make_qkx2_quants(32, nmax, x + 32 * j, weights + 32 * j, L + 32 * j, &mins[j], Laux,
                                        rmin, 0.1f, nstep, 0);
}

/* Step 2 for one super-block: the 6-bit scales and mins, d and dmin, and the codes
 * re-derived from them. */
static void finish_q45_K(const float *x, int nmax, const float *mins, const float *scales, qk_half *d_out,
                         qk_half *dmin_out, uint8_t *packed_scales, uint8_t *L) {
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 32; j++) {
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    memset(packed_scales, 0, K_SCALE_SIZE);
    for (int j = 0; j < QK_K / 32; j++) {
        uint8_t ls = (uint8_t)qk_nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)qk_nearest_int(inv_min * mins[j]);
        qk_set_scale_min_k4(j, packed_scales, KMIN(63, ls), KMIN(63, lm));
    }
    *d_out = qk_float_to_half(max_scale / 63.f);
    *dmin_out = qk_float_to_half(max_min / 63.f);
    for (int j = 0; j < QK_K / 32; j++) {
        uint8_t sc, m;
        qk_get_scale_min_k4(j, packed_scales, &sc, &m);
        const float d = qk_half_to_float(*d_out) * (float)sc;
        if (d == 0.0f) continue;
        const float dm = qk_half_to_float(*dmin_out) * (float)m;
        qk_requant(32, x + 32 * j, d, dm, 0, nmax, L + 32 * j); /* nearest((x + dm) / d) */
    }
}

/* Q6_K: 16 sub-blocks of 16, symmetric codes -32..31 (make_qx_quants, w = x^2); scales
 * stored as int8 with iscale = -128/max_scale (capped at 127). */
static void quantize_block_q6_K(const float *x, block_q6_K *y) {
    int8_t L[QK_K];
    float scales[QK_K / 16];
    if (qk_kfit_have_x16()) {
        qk_make_qx_quants_x16(16, 32, x, L, scales);
    } else {
        for (int ib = 0; ib < QK_K / 16; ib++) scales[ib] = qk_make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1, NULL);
    }
    float max_abs_scale;
    const float max_scale = qk_signed_absmax(QK_K / 16, scales, &max_abs_scale);
    if (max_abs_scale < QK_GROUP_MAX_EPS) {
        memset(y, 0, sizeof *y);
        return;
    }
    float iscale = -128.f / max_scale;
    y->d = qk_float_to_half(1 / iscale);
    for (int ib = 0; ib < QK_K / 16; ib++)
        y->scales[ib] = (int8_t)KMIN(127, qk_nearest_int(iscale * scales[ib]));
    for (int j = 0; j < QK_K / 16; j++) {
        float d = qk_half_to_float(y->d) * (float)y->scales[j];
        if (d == 0.0f) continue;
        qk_requant(16, x + 16 * j, d, 0.0f, -32, 31, (uint8_t *)L + 16 * j); /* nearest(x / d) + 32 */
    }
    pack_q6_K((const uint8_t *)L, y->ql, y->qh);
}

/* Q8_K: d = max/-127 over the whole super-block (max = signed value of largest |x|),
 * q = nearest_int(x * -127/max) capped at 127; bsums[i] = sum of qs[16i..16i+15].
 * An all-zero block stores d = 0 and zero codes (ggml leaves bsums untouched there; qkit
 * zeroes them so the output never depends on the buffer's old contents). */
static void quantize_block_q8_K(const float *x, block_q8_K *y) {
    float amax;
    const float max = qk_signed_absmax(QK_K, x, &amax);
    if (amax == 0.0f) {
        memset(y, 0, sizeof *y);
        return;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < QK_K; j++) y->qs[j] = (int8_t)KMIN(127, qk_nearest_int(iscale * x[j]));
    for (int j = 0; j < QK_K / 16; j++) {
        int sum = 0;
        for (int i = 0; i < 16; i++) sum += y->qs[16 * j + i];
        y->bsums[j] = (int16_t)sum;
    }
    y->d = 1 / iscale;
}

void qk_quantize_row_q2_K_ref(const float *x, void *vy, int64_t k) {
    block_q2_K *y = vy;
    for (int64_t i = 0; i < k / QK_K; i++) quantize_block_q2_K(x + i * QK_K, &y[i]);
}

void qk_quantize_row_q3_K_ref(const float *x, void *vy, int64_t k) {
    block_q3_K *y = vy;
    for (int64_t i = 0; i < k / QK_K; i++) quantize_block_q3_K(x + i * QK_K, &y[i]);
}

/* Step 2 and the packing for super-block ib of a Q4_K / Q5_K row vy: x its 256 values,
 * L its codes from the search, mins/scales its 8 sub-block mins and scales. */
typedef void (*q45_store_fn)(void *vy, int64_t ib, const float *x, int nmax, const float *mins,
                             const float *scales, uint8_t *L);

static void store_q4_K(void *vy, int64_t ib, const float *x, int nmax, const float *mins, const float *scales,
                       uint8_t *L) {
    block_q4_K *y = (block_q4_K *)vy + ib;
    finish_q45_K(x, nmax, mins, scales, &y->d, &y->dmin, y->scales, L);
    pack_4bit(L, y->qs);
}

static void store_q5_K(void *vy, int64_t ib, const float *x, int nmax, const float *mins, const float *scales,
                       uint8_t *L) {
    block_q5_K *y = (block_q5_K *)vy + ib;
    finish_q45_K(x, nmax, mins, scales, &y->d, &y->dmin, y->scales, L);
    pack_q5_K(L, y->qh, y->qs);
}

/* A Q4_K / Q5_K row: the search over pairs of super-blocks (a lone last one on its own),
 * then each super-block finished and packed by store. */
static void quantize_row_q45_K(const float *x, void *vy, int64_t k, int nmax, float rmin, int nstep,
                               q45_store_fn store) {
    uint8_t L[2 * QK_K];
    float mins[16], scales[16];
    const int64_t nb = k / QK_K;
    for (int64_t i = 0; i < nb; i += 2) {
        const int nblk = nb - i < 2 ? (int)(nb - i) : 2;
        search_q45_K(x + i * QK_K, nblk, nmax, rmin, nstep, L, mins, scales);
        for (int b = 0; b < nblk; b++)
            store(vy, i + b, x + (i + b) * QK_K, nmax, mins + 8 * b, scales + 8 * b, L + b * QK_K);
    }
}

void qk_quantize_row_q4_K_ref(const float *x, void *vy, int64_t k) {
    quantize_row_q45_K(x, vy, k, 15, -1.0f, 20, store_q4_K);
}

void qk_quantize_row_q5_K_ref(const float *x, void *vy, int64_t k) {
    quantize_row_q45_K(x, vy, k, 31, -0.5f, 15, store_q5_K);
}

void qk_quantize_row_q6_K_ref(const float *x, void *vy, int64_t k) {
    block_q6_K *y = vy;
    for (int64_t i = 0; i < k / QK_K; i++) quantize_block_q6_K(x + i * QK_K, &y[i]);
}

void qk_quantize_row_q8_K_ref(const float *x, void *vy, int64_t k) {
    block_q8_K *y = vy;
    for (int64_t i = 0; i < k / QK_K; i++) quantize_block_q8_K(x + i * QK_K, &y[i]);
}

/* ------------------------------------------------------------------------------------ */
/* Dequantizers (ggml dequantize_row_*): per sub-block dl = d*sc (and ml = dmin*m) in      */
/* float, then y = dl*q - ml.                                                              */
/* ------------------------------------------------------------------------------------ */

void qk_dequantize_row_q2_K(const void *vx, float *y, int64_t k) {
    const block_q2_K *x = vx;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < k / QK_K; i++, y += QK_K) {
        const float d = qk_half_to_float(x[i].d), dmin = qk_half_to_float(x[i].dmin);
        unpack_2bit(x[i].qs, L);
        for (int j = 0; j < QK_K / 16; j++) {
            const float dl = d * (float)(x[i].scales[j] & 0xF);
            const float ml = dmin * (float)(x[i].scales[j] >> 4);
            for (int l = 0; l < 16; l++) y[16 * j + l] = dl * (float)L[16 * j + l] - ml;
        }
    }
}

void qk_dequantize_row_q3_K(const void *vx, float *y, int64_t k) {
    const block_q3_K *x = vx;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < k / QK_K; i++, y += QK_K) {
        const float d = qk_half_to_float(x[i].d);
        unpack_q3_K(&x[i], L);
        for (int j = 0; j < QK_K / 16; j++) {
            const float dl = d * (float)qk_get_scale_q3_K(j, x[i].scales);
            for (int l = 0; l < 16; l++) y[16 * j + l] = dl * (float)(L[16 * j + l] - 4);
        }
    }
}

/* Q4_K and Q5_K decode the same way once the codes are unpacked. */
static void dequantize_q45_K(qk_half hd, qk_half hdmin, const uint8_t *scales, const uint8_t *L,
                             float *y) {
    const float d = qk_half_to_float(hd), dmin = qk_half_to_float(hdmin);
    for (int j = 0; j < QK_K / 32; j++) {
        uint8_t sc, m;
        qk_get_scale_min_k4(j, scales, &sc, &m);
        const float dl = d * (float)sc, ml = dmin * (float)m;
        for (int l = 0; l < 32; l++) y[32 * j + l] = dl * (float)L[32 * j + l] - ml;
    }
}

void qk_dequantize_row_q4_K(const void *vx, float *y, int64_t k) {
    const block_q4_K *x = vx;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < k / QK_K; i++, y += QK_K) {
        unpack_4bit(x[i].qs, L);
        dequantize_q45_K(x[i].d, x[i].dmin, x[i].scales, L, y);
    }
}

void qk_dequantize_row_q5_K(const void *vx, float *y, int64_t k) {
    const block_q5_K *x = vx;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < k / QK_K; i++, y += QK_K) {
        unpack_q5_K(&x[i], L);
        dequantize_q45_K(x[i].d, x[i].dmin, x[i].scales, L, y);
    }
}

void qk_dequantize_row_q6_K(const void *vx, float *y, int64_t k) {
    const block_q6_K *x = vx;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < k / QK_K; i++, y += QK_K) {
        const float d = qk_half_to_float(x[i].d);
        unpack_q6_K(&x[i], L);
        for (int j = 0; j < QK_K / 16; j++) {
            const float dl = d * (float)x[i].scales[j];
            for (int l = 0; l < 16; l++) y[16 * j + l] = dl * (float)(L[16 * j + l] - 32);
        }
    }
}

void qk_dequantize_row_q8_K(const void *vx, float *y, int64_t k) {
    const block_q8_K *x = vx;
    for (int64_t i = 0; i < k / QK_K; i++, y += QK_K)
        for (int j = 0; j < QK_K; j++) y[j] = x[i].d * (float)x[i].qs[j];
}

/* ------------------------------------------------------------------------------------ */
/* Dot products against Q8_K (ggml's generic kernels): per super-block an exact integer */
/* sum over sub-blocks, sum_j sc_j * sum_l q_l*q8_l, and for the types with a min the     */
/* integer sum_j m_j * (sum of the sub-block's q8, taken from Q8_K's bsums); then         */
/* result += d_x*d_y*isum - dmin_x*d_y*msum in float.                                    */
/* ------------------------------------------------------------------------------------ */

/* sum over l of a[l]*b[l] for n entries (exact in int32 for every caller's ranges). */
static int32_t dot_i8(const int8_t *a, const int8_t *b, int n) {
    int32_t s = 0;
    for (int l = 0; l < n; l++) s += (int32_t)a[l] * b[l];
    return s;
}

static int32_t dot_u8_i8(const uint8_t *a, const int8_t *b, int n) {
    int32_t s = 0;
    for (int l = 0; l < n; l++) s += (int32_t)a[l] * b[l];
    return s;
}

void qk_vec_dot_q2_K_q8_K(int n, float *s, const void *vx, const void *vy) {
    const block_q2_K *x = vx;
    const block_q8_K *y = vy;
    uint8_t L[QK_K];
    float sumf = 0;
    for (int i = 0; i < n / QK_K; i++) {
        unpack_2bit(x[i].qs, L);
        int32_t isum = 0, msum = 0;
        for (int j = 0; j < QK_K / 16; j++) {
            isum += (x[i].scales[j] & 0xF) * dot_u8_i8(L + 16 * j, y[i].qs + 16 * j, 16);
            msum += (x[i].scales[j] >> 4) * y[i].bsums[j];
        }
        const float dall = y[i].d * qk_half_to_float(x[i].d);
        const float dmin = y[i].d * qk_half_to_float(x[i].dmin);
        sumf += dall * (float)isum - dmin * (float)msum;
    }
    *s = sumf;
}

void qk_vec_dot_q3_K_q8_K(int n, float *s, const void *vx, const void *vy) {
    const block_q3_K *x = vx;
    const block_q8_K *y = vy;
    uint8_t L[QK_K];
    int8_t q[QK_K];
    float sumf = 0;
    for (int i = 0; i < n / QK_K; i++) {
        unpack_q3_K(&x[i], L);
        for (int e = 0; e < QK_K; e++) q[e] = (int8_t)(L[e] - 4);
        int32_t isum = 0;
        for (int j = 0; j < QK_K / 16; j++)
            isum += qk_get_scale_q3_K(j, x[i].scales) * dot_i8(q + 16 * j, y[i].qs + 16 * j, 16);
        sumf += qk_half_to_float(x[i].d) * y[i].d * (float)isum;
    }
    *s = sumf;
}

/* Q4_K / Q5_K: 8 sub-blocks of 32; the min of sub-block j meets bsums[2j] + bsums[2j+1]. */
static float dot_q45_K_block(qk_half hd, qk_half hdmin, const uint8_t *scales, const uint8_t *L,
                             const block_q8_K *y) {
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < QK_K / 32; j++) {
        uint8_t sc, m;
        qk_get_scale_min_k4(j, scales, &sc, &m);
        isum += sc * dot_u8_i8(L + 32 * j, y->qs + 32 * j, 32);
        msum += m * (y->bsums[2 * j] + y->bsums[2 * j + 1]);
    }
    const float d = qk_half_to_float(hd) * y->d;
    const float dmin = qk_half_to_float(hdmin) * y->d;
    return d * (float)isum - dmin * (float)msum;
}

void qk_vec_dot_q4_K_q8_K(int n, float *s, const void *vx, const void *vy) {
    const block_q4_K *x = vx;
    const block_q8_K *y = vy;
    uint8_t L[QK_K];
    float sumf = 0;
    for (int i = 0; i < n / QK_K; i++) {
        unpack_4bit(x[i].qs, L);
        sumf += dot_q45_K_block(x[i].d, x[i].dmin, x[i].scales, L, &y[i]);
    }
    *s = sumf;
}

void qk_vec_dot_q5_K_q8_K(int n, float *s, const void *vx, const void *vy) {
    const block_q5_K *x = vx;
    const block_q8_K *y = vy;
    uint8_t L[QK_K];
    float sumf = 0;
    for (int i = 0; i < n / QK_K; i++) {
        unpack_q5_K(&x[i], L);
        sumf += dot_q45_K_block(x[i].d, x[i].dmin, x[i].scales, L, &y[i]);
    }
    *s = sumf;
}

void qk_vec_dot_q6_K_q8_K(int n, float *s, const void *vx, const void *vy) {
    const block_q6_K *x = vx;
    const block_q8_K *y = vy;
    uint8_t L[QK_K];
    int8_t q[QK_K];
    float sumf = 0;
    for (int i = 0; i < n / QK_K; i++) {
        unpack_q6_K(&x[i], L);
        for (int e = 0; e < QK_K; e++) q[e] = (int8_t)(L[e] - 32);
        int32_t isum = 0;
        for (int j = 0; j < QK_K / 16; j++)
            isum += x[i].scales[j] * dot_i8(q + 16 * j, y[i].qs + 16 * j, 16);
        sumf += qk_half_to_float(x[i].d) * y[i].d * (float)isum;
    }
    *s = sumf;
}
