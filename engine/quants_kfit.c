/*
 * quants_kfit.c — the scale/min searches used by the K-quant reference quantizers
 * (quants_k.c): ggml's make_qx_quants, make_q3_quants and make_qkx2_quants, plus the
 * 6-bit scale packing of Q3_K and Q4_K/Q5_K.
 *
 * Invariant: bit-exact with llama.cpp's ggml/src/ggml-quants.c (commit c392e50). Every
 * float expression below is evaluated in the same order, in float, as there; products
 * such as w*x*l are ((w*x)*l) and int codes are converted to float before multiplying.
 * Do not "simplify" an expression here, and do not compile this file with FMA
 * contraction: either changes the last bit of a sum and, through nearest_int, a code.
 */
#include "quants_kfit.h"

/* Bit-exactness needs every a*b+c rounded twice, as in llama.cpp's FMA-free build of
 * ggml-quants.c: forbid contraction into fused multiply-add even if this file is built
 * with -march=native in GNU C mode (qkit's own -std=c11 build already implies it).
 * Measured: built with gcc -std=gnu11 -march=native and no pragma (so with FMA), only 1 to
 * 6 of the 43 K-quant tensors of each wiki-qwen2-13m golden file still hash-match. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <math.h>

#define KMIN(a, b) ((a) < (b) ? (a) : (b))
#define KMAX(a, b) ((a) > (b) ? (a) : (b))

/* Weight of x under make_qx_quants' rmse_type when no importance weights are given. */
static float qx_weight(const float *qw, int i, float x, int rmse_type) {
    if (qw) return qw[i];
    switch (rmse_type) {
    case 1: return x * x;
    case 2: return 1.0f;
    case 3: return fabsf(x);
    default: return sqrtf(fabsf(x));
    }
}

float qk_make_qx_quants(int n, int nmax, const float *x, int8_t *L, int rmse_type,
                        const float *qw) {
    /* max: the signed element with the largest magnitude (first one wins ties). */
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < QK_GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    float iscale = (float)(-nmax) / max;
    if (rmse_type == 0) {
        for (int i = 0; i < n; i++) {
            int l = qk_nearest_int(iscale * x[i]);
            L[i] = (int8_t)(nmax + KMAX(-nmax, KMIN(nmax - 1, l)));
        }
        return 1 / iscale;
    }
    int return_early = 0;
    if (rmse_type < 0) {
        rmse_type = -rmse_type;
        return_early = 1;
    }
    /* Least-squares scale for the start codes. */
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = qk_nearest_int(iscale * x[i]);
        l = KMAX(-nmax, KMIN(nmax - 1, l));
        L[i] = (int8_t)(l + nmax);
        float w = qx_weight(qw, i, x[i], rmse_type);
        float fl = (float)l;
        sumlx += w * x[i] * fl;
        suml2 += w * fl * fl;
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    if (return_early) return suml2 > 0 ? 0.5f * (scale + 1 / iscale) : 1 / iscale;
    float best = scale * sumlx;
    /* Perturbed inverse scales; keep the one with the largest sumlx^2/suml2. */
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -((float)nmax + 0.1f * (float)is) / max;
        sumlx = suml2 = 0.0f;
        for (int i = 0; i < n; i++) {
            int l = qk_nearest_int(iscale * x[i]);
            l = KMAX(-nmax, KMIN(nmax - 1, l));
            float w = qx_weight(qw, i, x[i], rmse_type);
            float fl = (float)l;
            sumlx += w * x[i] * fl;
            suml2 += w * fl * fl;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = qk_nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + KMAX(-nmax, KMIN(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

float qk_make_q3_quants(int n, int nmax, const float *x, int8_t *L, int do_rmse) {
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < QK_GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    float iscale = (float)(-nmax) / max;
    if (!do_rmse) {
        for (int i = 0; i < n; i++) {
            int l = qk_nearest_int(iscale * x[i]);
            L[i] = (int8_t)(KMAX(-nmax, KMIN(nmax - 1, l)) + nmax);
        }
        return 1 / iscale;
    }
    /* Start codes (signed, in L for now) and their weighted sums, w = x^2. */
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = qk_nearest_int(iscale * x[i]);
        l = KMAX(-nmax, KMIN(nmax - 1, l));
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        float fl = (float)l;
        sumlx += w * x[i] * fl;
        suml2 += w * fl * fl;
    }
    /* Coordinate descent: move one code to its best value given the others. */
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float li = (float)L[i];
            float slx = sumlx - w * x[i] * li;
            if (slx > 0) {
                float sl2 = suml2 - w * li * li;
                int new_l = qk_nearest_int(x[i] * sl2 / slx);
                new_l = KMAX(-nmax, KMIN(nmax - 1, new_l));
                if (new_l != L[i]) {
                    float fl = (float)new_l;
                    slx += w * x[i] * fl;
                    sl2 += w * fl * fl;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return sumlx / suml2;
}

float qk_make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                          float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                          int use_mad) {
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; i++) L[i] = 0;
        *the_min = -min;
        return 0.0f;
    }
    /* Start: map [min, max] onto [0, nmax]. */
    float iscale = (float)nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = qk_nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)KMAX(0, KMIN(nmax, l));
        float diff = scale * (float)L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_error += weights[i] * diff;
    }
    if (nstep < 1) {
        *the_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
        float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
        for (int i = 0; i < n; i++) {
            int l = qk_nearest_int(iscale * (x[i] - min));
            l = KMAX(0, KMIN(nmax, l));
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            float fl = (float)l;
            sum_l += w * fl;
            sum_l2 += w * fl * fl;
            sum_xl += w * fl * x[i];
        }
        /* Weighted least squares for x ~= this_scale*l + this_min. */
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0.0f;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * (float)Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                cur_error += weights[i] * diff;
            }
            if (cur_error < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

void qk_set_scale_min_k4(int j, uint8_t *q, uint8_t sc, uint8_t m) {
    if (j < 4) {
        q[j] = (uint8_t)((q[j] & 0xC0) | (sc & 63));
        q[j + 4] = (uint8_t)((q[j + 4] & 0xC0) | (m & 63));
    } else {
        q[j + 4] = (uint8_t)((sc & 0xF) | ((m & 0xF) << 4));
        q[j - 4] = (uint8_t)((q[j - 4] & 0x3F) | (((sc >> 4) & 3) << 6));
        q[j] = (uint8_t)((q[j] & 0x3F) | (((m >> 4) & 3) << 6));
    }
}

void qk_set_scale_q3_K(int j, uint8_t *q, int sc) {
    int v = sc + 32; /* 0..63 */
    if (j < 8)
        q[j] = (uint8_t)((q[j] & 0xF0) | (v & 0xF));
    else
        q[j - 8] = (uint8_t)((q[j - 8] & 0x0F) | ((v & 0xF) << 4));
    int sh = 2 * (j / 4);
    q[8 + j % 4] = (uint8_t)((q[8 + j % 4] & ~(3 << sh)) | (((v >> 4) & 3) << sh));
}
