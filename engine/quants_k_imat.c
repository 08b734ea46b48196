/*
 * quants_k_imat.c — the K-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) with importance weights:
 * what llama-quantize --imatrix writes.
 *
 * Source: llama.cpp ggml/src/ggml-quants.c, commit c392e50, quantize_row_T_impl for each
 * type (the function quantize_T calls when quant_weights is non-NULL). quantize_T passes
 * the same quant_weights to every row: they are per column, so one call here is one row x
 * of k values with its k column weights qw (qw[j] = the imatrix's mean x_j^2, imatrix.h).
 * See llama-cpp-reference.md §2.3.
 *
 * What the weights change against the reference path (quants_k.c), per super-block of 256
 * with sigma2 = sum x^2 / 256 (Q2_K) or 2 * sum x^2 / 256 (Q3_K, Q4_K, Q5_K):
 *  - element weights w = qw * sqrt(sigma2 + x^2) (Q6_K: qw itself);
 *  - sub-block fits: make_qkx3_quants (a 37-step grid, squared error) for the types with a
 *    min, make_qx_quants with the weights for Q3_K and Q6_K;
 *  - the sub-block scales (and mins) are quantized by a weighted search of their own,
 *    each sub-block weighted by its summed w: make_qp_quants (Q2_K 4 bits, Q4_K/Q5_K 6
 *    bits) or make_qx_quants (Q3_K's signed 6 bits); Q6_K keeps the reference scheme.
 * The codes are then re-derived from the stored scales as on the reference path.
 *
 * Invariant: bit-identical to llama.cpp's output for every input, under the same rules as
 * quants_k.c: ggml's float operations in ggml's order, in float, without FMA contraction
 * (the engine is built with -ffp-contract=off). When qk_kfit_have_x16() the sub-block
 * searches run 16 sub-blocks at a time (quants_kfit.c, qk_make_*_quants_n), which gives
 * the same bytes; tests/test_quants_imat.c checks both paths against llama.cpp's files.
 */
#include <math.h>
#include <string.h>

#include "quants.h"
#include "quants_kfit.h"
#include "quants_k_pack.h"

/* ------------------------------------------------------------------------------------ */
/* Shared steps                                                                          */
/* ------------------------------------------------------------------------------------ */

/* sum of x^2 over one super-block, in element order. */
static float sum_sq(const float *x) {
    float s = 0.0f;
    for (int j = 0; j < QK_K; j++) s += x[j] * x[j];
    return s;
}

/* w[j] = qw[j] * sqrt(sigma2 + x[j]^2) for a super-block, and sw[s] = the sum of the w of
 * sub-block s (sub-blocks of len elements, summed in order from 0). */
static void imat_weights(const float *x, const float *qw, float sigma2, int len, float *w, float *sw) {
    for (int j = 0; j < QK_K; j++) w[j] = qw[j] * sqrtf(sigma2 + x[j] * x[j]);
    for (int s = 0; s < QK_K / len; s++) {
        float sum = 0.0f;
        for (int l = 0; l < len; l++) sum += w[s * len + l];
        sw[s] = sum;
    }
}

/* make_qkx3_quants(len, nmax, ..., rmin -0.9, rdelta 0.05, nstep 36, squared error) for
 * nsub sub-blocks of len values (in SIMD batches when available, same results). */
static void fit_qkx3(int nsub, int len, int nmax, const float *x, const float *w, uint8_t *L, float *mins,
                     float *scales) {
    qk_make_qkx3_quants_n(nsub, len, nmax, x, w, L, mins, scales, -0.9f, 0.05f, 36, 0);
}

/* ------------------------------------------------------------------------------------ */
/* Q2_K (quantize_row_q2_K_impl)                                                          */
/* ------------------------------------------------------------------------------------ */

/* 16 sub-blocks of 16 fitted as x ~= s*q - m, q in 0..3; the scales and the mins each
 * quantized to 4 bits by make_qp_quants against the sub-block weights. */
static void q2_K_block(const float *x, const float *qw, block_q2_K *y) {
    uint8_t L[QK_K], Ls[QK_K / 16], Lm[QK_K / 16];
    float w[QK_K], sw[QK_K / 16], mins[QK_K / 16], scales[QK_K / 16];
    const float sigma2 = sum_sq(x) / QK_K;
    imat_weights(x, qw, sigma2, 16, w, sw);
    fit_qkx3(QK_K / 16, 16, 3, x, w, L, mins, scales);
    const float dm_fit = qk_make_qp_quants(QK_K / 16, 15, scales, Ls, sw);
    const float mm_fit = qk_make_qp_quants(QK_K / 16, 15, mins, Lm, sw);
    y->d = qk_float_to_half(dm_fit);
    y->dmin = qk_float_to_half(mm_fit);
    const float dm = qk_half_to_float(y->d), mm = qk_half_to_float(y->dmin);
    for (int j = 0; j < QK_K / 16; j++) y->scales[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
    /* Re-derive the codes from the stored scales; a sub-block whose scale is 0 keeps the
     * codes of its fit. */
    for (int j = 0; j < QK_K / 16; j++) {
        const float d = dm * (float)(y->scales[j] & 0xF);
        if (d == 0.0f) continue;
        const float m = mm * (float)(y->scales[j] >> 4);
        qk_requant(16, x + 16 * j, d, m, 0, 3, L + 16 * j); /* nearest((x + m) / d) in 0..3 */
    }
    pack_2bit(L, y->qs);
}

/* ------------------------------------------------------------------------------------ */
/* Q3_K (quantize_row_q3_K_impl)                                                          */
/* ------------------------------------------------------------------------------------ */

/* 16 sub-blocks of 16 with symmetric codes -4..3 (make_qx_quants with the weights); the 16
 * scales themselves fitted by make_qx_quants(nmax 32) weighted by the sub-block sums, which
 * yields their 6-bit codes (stored +32 already) and d directly. */
static void q3_K_block(const float *x, const float *qw, block_q3_K *y) {
    int8_t L[QK_K], Ls[QK_K / 16];
    float w[QK_K], sw[QK_K / 16], scales[QK_K / 16];
    const float sigma2 = 2 * sum_sq(x) / QK_K;
    imat_weights(x, qw, sigma2, 16, w, sw);
    qk_make_qx_quants_n(QK_K / 16, 16, 4, x, w, L, scales);
    const float d_block = qk_make_qx_quants(QK_K / 16, 32, scales, Ls, 1, sw);
    memset(y->scales, 0, sizeof y->scales);
    for (int j = 0; j < QK_K / 16; j++) qk_set_scale_q3_K(j, y->scales, Ls[j] - 32); /* Ls in 0..63 */
    y->d = qk_float_to_half(d_block);
    for (int j = 0; j < QK_K / 16; j++) {
        const float d = qk_half_to_float(y->d) * (float)qk_get_scale_q3_K(j, y->scales);
        if (d == 0.0f) continue;
        qk_requant(16, x + 16 * j, d, 0.0f, -4, 3, (uint8_t *)L + 16 * j); /* nearest(x / d) + 4 */
    }
    pack_q3_K((const uint8_t *)L, y->hmask, y->qs);
}

/* ------------------------------------------------------------------------------------ */
/* Q4_K and Q5_K (quantize_row_q4_K_impl, quantize_row_q5_K_impl)                         */
/* ------------------------------------------------------------------------------------ */

/* The 12 scale bytes from the 6-bit codes Ls (scales) and Lm (mins), written as ggml writes
 * them: for j < 4 the whole code byte is stored (bits 6-7 included), for j >= 4 the low
 * nibbles go to byte j+4 and bits 4-5 are or-ed into bits 6-7 of bytes j-4 and j. Codes
 * above 63 (only a negative sub-block scale wrapped to 8 bits gives one) thus spill as in
 * llama.cpp; Q5_K caps them at 63 first (cap63). */
static void pack_scales_k4(const uint8_t *Ls, const uint8_t *Lm, int cap63, uint8_t *q) {
    for (int j = 0; j < QK_K / 32; j++) {
        uint8_t ls = Ls[j], lm = Lm[j];
        if (cap63) {
            ls = KMIN(63, ls);
            lm = KMIN(63, lm);
        }
        if (j < 4) {
            q[j] = ls;
            q[j + 4] = lm;
        } else {
            q[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
            q[j - 4] = (uint8_t)(q[j - 4] | ((ls >> 4) << 6));
            q[j] = (uint8_t)(q[j] | ((lm >> 4) << 6));
        }
    }
}

/* One super-block of Q4_K (nmax 15) or Q5_K (nmax 31) up to its codes L: 8 sub-blocks of
 * 32 fitted by make_qkx3_quants, scales and mins quantized to 6 bits by make_qp_quants
 * against the sub-block weights, codes re-derived from the stored values. mins/scales/L
 * hold the fits of this super-block (the search may have been done for two at once). */
static void finish_q45_K(const float *x, const float *sw, int nmax, const float *mins, const float *scales,
                         qk_half *d_out, qk_half *dmin_out, uint8_t *packed, uint8_t *L) {
    uint8_t Ls[QK_K / 32], Lm[QK_K / 32];
    const float d_block = qk_make_qp_quants(QK_K / 32, 63, scales, Ls, sw);
    const float m_block = qk_make_qp_quants(QK_K / 32, 63, mins, Lm, sw);
    pack_scales_k4(Ls, Lm, nmax == 31, packed);
    *d_out = qk_float_to_half(d_block);
    *dmin_out = qk_float_to_half(m_block);
    for (int j = 0; j < QK_K / 32; j++) {
        uint8_t sc, m;
        qk_get_scale_min_k4(j, packed, &sc, &m);
        const float d = qk_half_to_float(*d_out) * (float)sc;
        if (d == 0.0f) continue;
        const float dm = qk_half_to_float(*dmin_out) * (float)m;
        qk_requant(32, x + 32 * j, d, dm, 0, nmax, L + 32 * j); /* nearest((x + dm) / d) */
    }
}

/* A Q4_K / Q5_K row: weights and fits for pairs of super-blocks (16 sub-blocks, one SIMD
 * batch), then each super-block finished and packed. */
static void q45_K_row(const float *x, void *vy, int64_t k, const float *qw, int nmax) {
    uint8_t L[2 * QK_K];
    float w[2 * QK_K], sw[16], mins[16], scales[16];
    const int64_t nb = k / QK_K;
    for (int64_t i = 0; i < nb; i += 2) {
        const int nblk = nb - i < 2 ? (int)(nb - i) : 2;
        const float *xb = x + i * QK_K;
        for (int b = 0; b < nblk; b++) {
            const float sigma2 = 2 * sum_sq(xb + b * QK_K) / QK_K;
            imat_weights(xb + b * QK_K, qw + (i + b) * QK_K, sigma2, 32, w + b * QK_K, sw + 8 * b);
        }
        fit_qkx3(8 * nblk, 32, nmax, xb, w, L, mins, scales);
        for (int b = 0; b < nblk; b++) {
            const float *xs = xb + b * QK_K;
            uint8_t *Lb = L + b * QK_K;
            if (nmax == 15) {
                block_q4_K *y = (block_q4_K *)vy + i + b;
                finish_q45_K(xs, sw + 8 * b, nmax, mins + 8 * b, scales + 8 * b, &y->d, &y->dmin, y->scales, Lb);
                pack_4bit(Lb, y->qs);
            } else {
                block_q5_K *y = (block_q5_K *)vy + i + b;
                finish_q45_K(xs, sw + 8 * b, nmax, mins + 8 * b, scales + 8 * b, &y->d, &y->dmin, y->scales, Lb);
                pack_q5_K(Lb, y->qh, y->qs);
            }
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* Q6_K (quantize_row_q6_K_impl)                                                          */
/* ------------------------------------------------------------------------------------ */

/* As the reference Q6_K, with each 16-element sub-block fitted by make_qx_quants weighted
 * by the raw qw (no sigma term). */
static void q6_K_block(const float *x, const float *qw, block_q6_K *y) {
    int8_t L[QK_K];
    float scales[QK_K / 16];
    qk_make_qx_quants_n(QK_K / 16, 16, 32, x, qw, L, scales);
    float max_abs_scale;
    const float max_scale = qk_signed_absmax(QK_K / 16, scales, &max_abs_scale);
    if (max_abs_scale < QK_GROUP_MAX_EPS) {
        memset(y, 0, sizeof *y);
        return;
    }
    const float iscale = -128.f / max_scale;
    y->d = qk_float_to_half(1 / iscale);
    for (int ib = 0; ib < QK_K / 16; ib++) y->scales[ib] = (int8_t)KMIN(127, qk_nearest_int(iscale * scales[ib]));
    for (int j = 0; j < QK_K / 16; j++) {
        const float d = qk_half_to_float(y->d) * (float)y->scales[j];
        if (d == 0.0f) continue;
        qk_requant(16, x + 16 * j, d, 0.0f, -32, 31, (uint8_t *)L + 16 * j); /* nearest(x / d) + 32 */
    }
    pack_q6_K((const uint8_t *)L, y->ql, y->qh);
}

/* ------------------------------------------------------------------------------------ */
/* Row entry points: qw holds the k column weights of the row; super-block i uses        */
/* qw + 256*i, as ggml indexes quant_weights + QK_K*i.                                   */
/* ------------------------------------------------------------------------------------ */

void qk_quantize_row_q2_K_imat(const float *x, void *vy, int64_t k, const float *qw) {
    block_q2_K *y = vy;
    for (int64_t i = 0; i < k / QK_K; i++) q2_K_block(x + i * QK_K, qw + i * QK_K, &y[i]);
}

void qk_quantize_row_q3_K_imat(const float *x, void *vy, int64_t k, const float *qw) {
    block_q3_K *y = vy;
    for (int64_t i = 0; i < k / QK_K; i++) q3_K_block(x + i * QK_K, qw + i * QK_K, &y[i]);
}

void qk_quantize_row_q4_K_imat(const float *x, void *vy, int64_t k, const float *qw) {
    q45_K_row(x, vy, k, qw, 15);
}

void qk_quantize_row_q5_K_imat(const float *x, void *vy, int64_t k, const float *qw) {
    q45_K_row(x, vy, k, qw, 31);
}

void qk_quantize_row_q6_K_imat(const float *x, void *vy, int64_t k, const float *qw) {
    block_q6_K *y = vy;
    for (int64_t i = 0; i < k / QK_K; i++) q6_K_block(x + i * QK_K, qw + i * QK_K, &y[i]);
}
