/*
 * quants_kfit.c — the scale/min searches used by the K-quant quantizers (quants_k.c,
 * and with importance weights quants_k_imat.c / quants_legacy_imat.c): ggml's
 * make_qx_quants, make_q3_quants, make_qkx2_quants, make_qkx3_quants and make_qp_quants,
 * plus the 6-bit scale packing of Q3_K and Q4_K/Q5_K.
 *
 * Invariant: bit-exact with llama.cpp's ggml/src/ggml-quants.c (commit c392e50). Every
 * float expression below is evaluated in the same order, in float, as there; products
 * such as w*x*l are ((w*x)*l) and int codes are converted to float before multiplying.
 * Do not "simplify" an expression here, and do not compile this file with FMA
 * contraction: either changes the last bit of a sum and, through nearest_int, a code.
 *
 * The second half of the file holds the batch searches (*_x16) that quants_k.c uses on
 * CPUs with AVX2: the same searches for 16 sub-blocks at once, one per SIMD lane, with
 * the same operations in the same order per lane, hence the same results (see the
 * comment above qk_make_qkx2_quants_x16), and qk_requant, the final re-quantization.
 */
#include "quants_kfit.h"

/* Bit-exactness needs every a*b+c rounded twice, as in llama.cpp's FMA-free build of
 * ggml-quants.c: the engine is built with -ffp-contract=off (CMakeLists.txt). Measured:
 * built with gcc -std=gnu11 -march=native and contraction allowed (so with FMA), only 1
 * to 6 of the 43 K-quant tensors of each wiki-qwen2-13m golden file still hash-match. */
#include <math.h>

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

/* Symmetric codes for the inverse scale iscale: L[i] = clamp(nearest_int(iscale * x[i]),
 * -nmax, nmax - 1) + nmax. */
static void symmetric_codes(int n, int nmax, float iscale, const float *x, int8_t *L) {
    for (int i = 0; i < n; i++) {
        int l = qk_nearest_int(iscale * x[i]);
        L[i] = (int8_t)(nmax + KMAX(-nmax, KMIN(nmax - 1, l)));
    }
}

float qk_make_qx_quants(int n, int nmax, const float *x, int8_t *L, int rmse_type,
                        const float *qw) {
    float amax;
    const float max = qk_signed_absmax(n, x, &amax);
    if (amax < QK_GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    float iscale = (float)(-nmax) / max;
    if (rmse_type == 0) {
        symmetric_codes(n, nmax, iscale, x, L);
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
            symmetric_codes(n, nmax, iscale, x, L);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

float qk_make_q3_quants(int n, int nmax, const float *x, int8_t *L, int do_rmse) {
    float amax;
    const float max = qk_signed_absmax(n, x, &amax);
    if (amax < QK_GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    float iscale = (float)(-nmax) / max;
    if (!do_rmse) {
        symmetric_codes(n, nmax, iscale, x, L);
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

float qk_make_qkx3_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                          float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                          int use_mad) {
    return qk_make_qkx2_quants(n, nmax, x, weights, L, the_min, Laux, rmin, rdelta, nstep, use_mad);
}

/* Weighted squared error of x against l/iscale for codes nearest(iscale*x) capped at nmax
 * (make_qp_quants' score of one candidate scale). */
static float qp_error(int n, int nmax, const float *x, const float *qw, float iscale) {
    const float scale = 1 / iscale;
    float err = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = KMIN(nmax, qk_nearest_int(iscale * x[i]));
        float diff = x[i] - scale * (float)l;
        err += qw[i] * diff * diff;
    }
    return err;
}

float qk_make_qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *qw) {
    float max = 0.0f;
    for (int i = 0; i < n; i++) max = KMAX(max, x[i]);
    if (max == 0.0f) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    /* The start scale's error uses the codes uncapped but stored in 8 bits. */
    float iscale = (float)nmax / max;
    const float scale = 1 / iscale;
    float best = 0.0f;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)qk_nearest_int(iscale * x[i]);
        float diff = x[i] - scale * (float)L[i];
        best += qw[i] * diff * diff;
    }
    for (int is = -4; is <= 4; is++) {
        if (is == 0) continue;
        const float iscale_is = (0.1f * (float)is + (float)nmax) / max;
        const float err = qp_error(n, nmax, x, qw, iscale_is);
        if (err < best) {
            best = err;
            iscale = iscale_is;
        }
    }
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = KMIN(nmax, qk_nearest_int(iscale * x[i]));
        L[i] = (uint8_t)l;
        float fl = (float)l;
        sumlx += qw[i] * x[i] * fl;
        suml2 += qw[i] * fl * fl;
    }
    /* Coordinate descent on one code at a time; the stored (8-bit) code is what the sums
     * hold. */
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            const float w = qw[i], li = (float)L[i];
            float slx = sumlx - w * x[i] * li;
            float sl2 = suml2 - w * li * li;
            if (slx > 0 && sl2 > 0) {
                int new_l = KMIN(nmax, qk_nearest_int(x[i] * sl2 / slx));
                if (new_l != L[i]) {
                    float fl = (float)new_l;
                    slx += w * x[i] * fl;
                    sl2 += w * fl * fl;
                    if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (uint8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    return sumlx / suml2;
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

/* ------------------------------------------------------------------------------------ */
/* Sixteen sub-blocks at once (quants_kfit.h, the _x16 searches)                         */
/* ------------------------------------------------------------------------------------ */
/* Lane j of group g (two groups of 8 lanes, __m256 each) is sub-block 8g+j and runs the
 * scalar function's steps for it, in the same order, with the same IEEE single-precision
 * operations (AVX2 only, no FMA: the target does not enable it, and -ffp-contract=off
 * forbids contraction anyway). Each lane's running sums are sequential over the elements
 * exactly as in the scalar loop, so every sum, scale and code equals what the scalar
 * function gives that sub-block; branches on a lane's values become per-lane selects.
 * The two groups are independent, so their dependency chains (the sums, the divisions,
 * the step-to-step updates) overlap. The input is first transposed so that element i of
 * 8 sub-blocks is one vector. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include "cpu.h"

#define KFIT_AVX2 __attribute__((target("avx2")))
#define NG 2 /* groups of 8 lanes */
/* The group loops must be unrolled so that the per-group accumulators live in registers. */
#if defined(__clang__)
#define FOR_G _Pragma("clang loop unroll(full)") for (int g = 0; g < NG; g++)
#else
#define FOR_G _Pragma("GCC unroll 2") for (int g = 0; g < NG; g++)
#endif

int qk_kfit_have_x16(void) { return qk_cpu_has_avx2(); }

/* qk_nearest_int in 8 lanes. */
KFIT_AVX2 static inline __m256i nearest_int_x8(__m256 f) {
    const __m256i bits = _mm256_castps_si256(_mm256_add_ps(f, _mm256_set1_ps(12582912.f)));
    return _mm256_sub_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)),
                            _mm256_set1_epi32(0x00400000));
}

KFIT_AVX2 static inline __m256i clamp_x8(__m256i l, int lo, int hi) {
    return _mm256_max_epi32(_mm256_set1_epi32(lo), _mm256_min_epi32(_mm256_set1_epi32(hi), l));
}

KFIT_AVX2 static inline __m256 fabs_x8(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

/* c ? b : a per lane (c all-ones or all-zero). */
KFIT_AVX2 static inline __m256 sel_x8(__m256 c, __m256 a, __m256 b) { return _mm256_blendv_ps(a, b, c); }

/* t[(g*n + i)*8 + j] = x[(8g + j)*n + i]: element i of sub-block 8g+j. */
static void transpose_x16(const float *x, int n, float *t) {
    FOR_G
        for (int j = 0; j < 8; j++)
            for (int i = 0; i < n; i++) t[(g * n + i) * 8 + j] = x[(8 * g + j) * n + i];
}

/* L[(8g + j)*n + i] = codes[g][i] lane j (+ off), or 0 where mask[g] is set. */
KFIT_AVX2 static void untranspose_codes(int n, const __m256i (*codes)[QK_KFIT_X16_MAXN], const __m256 *zero_mask,
                                        int off, uint8_t *L) {
    _Alignas(32) int32_t lt[QK_KFIT_X16_MAXN * 8];
    FOR_G {
        const __m256i zm = _mm256_castps_si256(zero_mask[g]), o = _mm256_set1_epi32(off);
        for (int i = 0; i < n; i++)
            _mm256_store_si256((__m256i *)(lt + 8 * i), _mm256_andnot_si256(zm, _mm256_add_epi32(codes[g][i], o)));
        for (int j = 0; j < 8; j++)
            for (int i = 0; i < n; i++) L[(8 * g + j) * n + i] = (uint8_t)lt[i * 8 + j];
    }
}

/* The signed element of largest |x| per lane (the first one on ties), as the scalar
 * searches find it, and the lanes whose |max| is below QK_GROUP_MAX_EPS. */
KFIT_AVX2 static void absmax_x16(int n, const float *xt, __m256 *vmax, __m256 *tiny) {
    FOR_G {
        __m256 amax = _mm256_setzero_ps(), mx = _mm256_setzero_ps();
        for (int i = 0; i < n; i++) {
            const __m256 xi = _mm256_load_ps(xt + (g * n + i) * 8);
            const __m256 ax = fabs_x8(xi);
            const __m256 gt = _mm256_cmp_ps(ax, amax, _CMP_GT_OQ);
            amax = sel_x8(gt, amax, ax);
            mx = sel_x8(gt, mx, xi);
        }
        vmax[g] = mx;
        tiny[g] = _mm256_cmp_ps(amax, _mm256_set1_ps(QK_GROUP_MAX_EPS), _CMP_LT_OQ);
    }
}

KFIT_AVX2 void qk_make_qkx2_quants_x16(int n, int nmax, const float *x, const float *weights,
                                       uint8_t *L, float *the_mins, float *scales, float rmin,
                                       float rdelta, int nstep, int use_mad) {
    _Alignas(32) float xt[NG * QK_KFIT_X16_MAXN * 8], wt[NG * QK_KFIT_X16_MAXN * 8];
    __m256i Lb[NG][QK_KFIT_X16_MAXN], La[NG][QK_KFIT_X16_MAXN];
    __m256 Lf[NG][QK_KFIT_X16_MAXN];
    transpose_x16(x, n, xt);
    transpose_x16(weights, n, wt);
    const __m256 zero = _mm256_setzero_ps();
    const __m256 mad = _mm256_castsi256_ps(_mm256_set1_epi32(use_mad ? -1 : 0));
#define XT(g, i) _mm256_load_ps(xt + ((g) * n + (i)) * 8)
#define WT(g, i) _mm256_load_ps(wt + ((g) * n + (i)) * 8)
/* |d| (use_mad) or d*d */
#define ERR(d) sel_x8(mad, _mm256_mul_ps(d, d), fabs_x8(d))

    /* min, max, sum w, sum w*x */
    __m256 vmin[NG], vmax[NG], sum_w[NG], sum_x[NG], flat[NG], scale[NG], best_error[NG];
    FOR_G {
        vmin[g] = vmax[g] = XT(g, 0);
        sum_w[g] = WT(g, 0);
        sum_x[g] = _mm256_mul_ps(sum_w[g], vmin[g]);
    }
    for (int i = 1; i < n; i++) {
        FOR_G {
            const __m256 xi = XT(g, i), wi = WT(g, i);
            vmin[g] = _mm256_min_ps(xi, vmin[g]); /* x < min ? x : min */
            vmax[g] = _mm256_max_ps(xi, vmax[g]); /* x > max ? x : max */
            sum_w[g] = _mm256_add_ps(sum_w[g], wi);
            sum_x[g] = _mm256_add_ps(sum_x[g], _mm256_mul_ps(wi, xi));
        }
    }
    FOR_G {
        vmin[g] = sel_x8(_mm256_cmp_ps(vmin[g], zero, _CMP_GT_OQ), vmin[g], zero); /* min > 0 -> 0 */
        flat[g] = _mm256_cmp_ps(vmax[g], vmin[g], _CMP_EQ_OQ);
        /* Start: map [min, max] onto [0, nmax]. */
        const __m256 iscale = _mm256_div_ps(_mm256_set1_ps((float)nmax), _mm256_sub_ps(vmax[g], vmin[g]));
        scale[g] = _mm256_div_ps(_mm256_set1_ps(1.0f), iscale);
        best_error[g] = zero;
        for (int i = 0; i < n; i++) {
            const __m256 xi = XT(g, i);
            const __m256i l = clamp_x8(nearest_int_x8(_mm256_mul_ps(iscale, _mm256_sub_ps(xi, vmin[g]))), 0, nmax);
            Lb[g][i] = l;
            const __m256 diff =
                _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(scale[g], _mm256_cvtepi32_ps(l)), vmin[g]), xi);
            best_error[g] = _mm256_add_ps(best_error[g], _mm256_mul_ps(WT(g, i), ERR(diff)));
        }
    }
    for (int is = 0; nstep >= 1 && is <= nstep; is++) { /* nstep < 1: the start fit only */
        const __m256 num = _mm256_set1_ps(rmin + rdelta * (float)is + (float)nmax);
        __m256 iscale[NG], sum_l[NG], sum_l2[NG], sum_xl[NG];
        FOR_G {
            iscale[g] = _mm256_div_ps(num, _mm256_sub_ps(vmax[g], vmin[g]));
            sum_l[g] = sum_l2[g] = sum_xl[g] = zero;
        }
        for (int i = 0; i < n; i++) {
            FOR_G {
                const __m256 xi = XT(g, i);
                const __m256i l =
                    clamp_x8(nearest_int_x8(_mm256_mul_ps(iscale[g], _mm256_sub_ps(xi, vmin[g]))), 0, nmax);
                const __m256 fl = _mm256_cvtepi32_ps(l);
                const __m256 wl = _mm256_mul_ps(WT(g, i), fl);
                La[g][i] = l;
                Lf[g][i] = fl;
                sum_l[g] = _mm256_add_ps(sum_l[g], wl);
                sum_l2[g] = _mm256_add_ps(sum_l2[g], _mm256_mul_ps(wl, fl));
                sum_xl[g] = _mm256_add_ps(sum_xl[g], _mm256_mul_ps(wl, xi));
            }
        }
        __m256 D[NG], this_scale[NG], this_min[NG], cur_error[NG];
        FOR_G {
            D[g] = _mm256_sub_ps(_mm256_mul_ps(sum_w[g], sum_l2[g]), _mm256_mul_ps(sum_l[g], sum_l[g]));
            this_scale[g] = _mm256_div_ps(
                _mm256_sub_ps(_mm256_mul_ps(sum_w[g], sum_xl[g]), _mm256_mul_ps(sum_x[g], sum_l[g])), D[g]);
            this_min[g] = _mm256_div_ps(
                _mm256_sub_ps(_mm256_mul_ps(sum_l2[g], sum_x[g]), _mm256_mul_ps(sum_l[g], sum_xl[g])), D[g]);
            const __m256 pos = _mm256_cmp_ps(this_min[g], zero, _CMP_GT_OQ);
            this_min[g] = sel_x8(pos, this_min[g], zero);
            this_scale[g] = sel_x8(pos, this_scale[g], _mm256_div_ps(sum_xl[g], sum_l2[g]));
            cur_error[g] = zero;
        }
        for (int i = 0; i < n; i++) {
            FOR_G {
                const __m256 diff = _mm256_sub_ps(
                    _mm256_add_ps(_mm256_mul_ps(this_scale[g], Lf[g][i]), this_min[g]), XT(g, i));
                cur_error[g] = _mm256_add_ps(cur_error[g], _mm256_mul_ps(WT(g, i), ERR(diff)));
            }
        }
        FOR_G {
            /* flat lanes hold garbage here; they keep their start values */
            const __m256 upd = _mm256_andnot_ps(
                flat[g], _mm256_and_ps(_mm256_cmp_ps(D[g], zero, _CMP_GT_OQ),
                                       _mm256_cmp_ps(cur_error[g], best_error[g], _CMP_LT_OQ)));
            if (!_mm256_movemask_ps(upd)) continue;
            const __m256i updi = _mm256_castps_si256(upd);
            for (int i = 0; i < n; i++) Lb[g][i] = _mm256_blendv_epi8(Lb[g][i], La[g][i], updi);
            best_error[g] = sel_x8(upd, best_error[g], cur_error[g]);
            scale[g] = sel_x8(upd, scale[g], this_scale[g]);
            vmin[g] = sel_x8(upd, vmin[g], this_min[g]);
        }
    }
#undef ERR
#undef WT
#undef XT
    /* A flat sub-block (max == min after clamping min to <= 0) has codes 0 and scale 0. */
    untranspose_codes(n, (const __m256i(*)[QK_KFIT_X16_MAXN])Lb, flat, 0, L);
    FOR_G {
        _mm256_storeu_ps(the_mins + 8 * g, _mm256_xor_ps(vmin[g], _mm256_set1_ps(-0.0f))); /* -min */
        _mm256_storeu_ps(scales + 8 * g, sel_x8(flat[g], scale[g], zero));
    }
}

/* make_qx_quants with rmse_type 1 for 16 sub-blocks: weights qw (laid out as x), or
 * w = x^2 when qw is NULL. */
KFIT_AVX2 static void qx_x16(int n, int nmax, const float *x, const float *qw, int8_t *L, float *scales) {
    _Alignas(32) float xt[NG * QK_KFIT_X16_MAXN * 8], wt[NG * QK_KFIT_X16_MAXN * 8];
    __m256i Lb[NG][QK_KFIT_X16_MAXN], La[NG][QK_KFIT_X16_MAXN];
    __m256 w[NG][QK_KFIT_X16_MAXN], wx[NG][QK_KFIT_X16_MAXN];
    transpose_x16(x, n, xt);
    if (qw) transpose_x16(qw, n, wt);
    const __m256 zero = _mm256_setzero_ps();
    __m256 vmax[NG], tiny[NG];
    absmax_x16(n, xt, vmax, tiny);
    FOR_G
        for (int i = 0; i < n; i++) {
            const __m256 xi = _mm256_load_ps(xt + (g * n + i) * 8);
            w[g][i] = qw ? _mm256_load_ps(wt + (g * n + i) * 8) : _mm256_mul_ps(xi, xi);
            wx[g][i] = _mm256_mul_ps(w[g][i], xi); /* w*x, the first product of w*x*l */
        }

    /* Codes, sum w*x*l and sum w*l^2 for inverse scales is[g]. */
#define QX_PASS(is, sumlx, suml2, codes)                                                          \
    do {                                                                                         \
        FOR_G sumlx[g] = suml2[g] = zero;                                 \
        for (int i = 0; i < n; i++) {                                                            \
            FOR_G {                                                       \
                const __m256i l = clamp_x8(                                                      \
                    nearest_int_x8(_mm256_mul_ps(is[g], _mm256_load_ps(xt + (g * n + i) * 8))), -nmax, \
                    nmax - 1);                                                                   \
                const __m256 fl = _mm256_cvtepi32_ps(l);                                         \
                codes[g][i] = l;                                                                 \
                sumlx[g] = _mm256_add_ps(sumlx[g], _mm256_mul_ps(wx[g][i], fl));                 \
                suml2[g] = _mm256_add_ps(suml2[g], _mm256_mul_ps(_mm256_mul_ps(w[g][i], fl), fl)); \
            }                                                                                    \
        }                                                                                        \
    } while (0)

    __m256 iscale[NG], sumlx[NG], suml2[NG], scale[NG], best[NG];
    FOR_G iscale[g] = _mm256_div_ps(_mm256_set1_ps((float)(-nmax)), vmax[g]);
    QX_PASS(iscale, sumlx, suml2, Lb);
    FOR_G {
        scale[g] = sel_x8(_mm256_cmp_ps(suml2[g], zero, _CMP_NEQ_UQ), zero, _mm256_div_ps(sumlx[g], suml2[g]));
        best[g] = _mm256_mul_ps(scale[g], sumlx[g]);
    }
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        const __m256 num = _mm256_set1_ps(-((float)nmax + 0.1f * (float)is));
        FOR_G iscale[g] = _mm256_div_ps(num, vmax[g]);
        QX_PASS(iscale, sumlx, suml2, La);
        FOR_G {
            const __m256 upd = _mm256_and_ps(
                _mm256_cmp_ps(suml2[g], zero, _CMP_GT_OQ),
                _mm256_cmp_ps(_mm256_mul_ps(sumlx[g], sumlx[g]), _mm256_mul_ps(best[g], suml2[g]), _CMP_GT_OQ));
            if (!_mm256_movemask_ps(upd)) continue;
            const __m256i updi = _mm256_castps_si256(upd);
            for (int i = 0; i < n; i++) Lb[g][i] = _mm256_blendv_epi8(Lb[g][i], La[g][i], updi);
            const __m256 new_scale = _mm256_div_ps(sumlx[g], suml2[g]);
            scale[g] = sel_x8(upd, scale[g], new_scale);
            best[g] = sel_x8(upd, best[g], _mm256_mul_ps(new_scale, sumlx[g]));
        }
    }
#undef QX_PASS
    /* Codes are stored + nmax; an all-tiny sub-block has codes 0 and scale 0. */
    untranspose_codes(n, (const __m256i(*)[QK_KFIT_X16_MAXN])Lb, tiny, nmax, (uint8_t *)L);
    FOR_G _mm256_storeu_ps(scales + 8 * g, sel_x8(tiny[g], scale[g], zero));
}

void qk_make_qx_quants_x16(int n, int nmax, const float *x, int8_t *L, float *scales) {
    qx_x16(n, nmax, x, NULL, L, scales);
}

void qk_make_qx_quants_w_x16(int n, int nmax, const float *x, const float *qw, int8_t *L, float *scales) {
    qx_x16(n, nmax, x, qw, L, scales);
}

KFIT_AVX2 void qk_make_q3_quants_x16(int n, int nmax, const float *x, int8_t *L, float *scales) {
    _Alignas(32) float xt[NG * QK_KFIT_X16_MAXN * 8];
    __m256i Lc[NG][QK_KFIT_X16_MAXN];
    __m256 w[NG][QK_KFIT_X16_MAXN], wx[NG][QK_KFIT_X16_MAXN];
    transpose_x16(x, n, xt);
    const __m256 zero = _mm256_setzero_ps();
    __m256 vmax[NG], tiny[NG], sumlx[NG], suml2[NG];
    absmax_x16(n, xt, vmax, tiny);
    /* Start codes (signed) and their sums, w = x^2. */
    FOR_G {
        const __m256 iscale = _mm256_div_ps(_mm256_set1_ps((float)(-nmax)), vmax[g]);
        sumlx[g] = suml2[g] = zero;
        for (int i = 0; i < n; i++) {
            const __m256 xi = _mm256_load_ps(xt + (g * n + i) * 8);
            w[g][i] = _mm256_mul_ps(xi, xi);
            wx[g][i] = _mm256_mul_ps(w[g][i], xi);
            const __m256i l = clamp_x8(nearest_int_x8(_mm256_mul_ps(iscale, xi)), -nmax, nmax - 1);
            const __m256 fl = _mm256_cvtepi32_ps(l);
            Lc[g][i] = l;
            sumlx[g] = _mm256_add_ps(sumlx[g], _mm256_mul_ps(wx[g][i], fl));
            suml2[g] = _mm256_add_ps(suml2[g], _mm256_mul_ps(_mm256_mul_ps(w[g][i], fl), fl));
        }
    }
    /* Coordinate descent. A lane whose pass changed nothing would change nothing in a
     * further pass either (same state, same decisions), so running passes while any lane
     * changes gives each lane exactly the scalar result. */
    for (int itry = 0; itry < 5; itry++) {
        __m256 changed = zero;
        for (int i = 0; i < n; i++) {
            FOR_G {
                const __m256 xi = _mm256_load_ps(xt + (g * n + i) * 8);
                const __m256 li = _mm256_cvtepi32_ps(Lc[g][i]);
                __m256 slx = _mm256_sub_ps(sumlx[g], _mm256_mul_ps(wx[g][i], li));
                const __m256 slx_pos = _mm256_cmp_ps(slx, zero, _CMP_GT_OQ);
                __m256 sl2 = _mm256_sub_ps(suml2[g], _mm256_mul_ps(_mm256_mul_ps(w[g][i], li), li));
                const __m256i new_l =
                    clamp_x8(nearest_int_x8(_mm256_div_ps(_mm256_mul_ps(xi, sl2), slx)), -nmax, nmax - 1);
                const __m256 differs =
                    _mm256_andnot_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(new_l, Lc[g][i])), slx_pos);
                const __m256 fl = _mm256_cvtepi32_ps(new_l);
                slx = _mm256_add_ps(slx, _mm256_mul_ps(wx[g][i], fl));
                sl2 = _mm256_add_ps(sl2, _mm256_mul_ps(_mm256_mul_ps(w[g][i], fl), fl));
                const __m256 better =
                    _mm256_cmp_ps(_mm256_mul_ps(_mm256_mul_ps(slx, slx), suml2[g]),
                                  _mm256_mul_ps(_mm256_mul_ps(sumlx[g], sumlx[g]), sl2), _CMP_GT_OQ);
                const __m256 take =
                    _mm256_and_ps(differs, _mm256_and_ps(_mm256_cmp_ps(sl2, zero, _CMP_GT_OQ), better));
                Lc[g][i] = _mm256_blendv_epi8(Lc[g][i], new_l, _mm256_castps_si256(take));
                sumlx[g] = sel_x8(take, sumlx[g], slx);
                suml2[g] = sel_x8(take, suml2[g], sl2);
                changed = _mm256_or_ps(changed, take);
            }
        }
        if (!_mm256_movemask_ps(changed)) break;
    }
    untranspose_codes(n, (const __m256i(*)[QK_KFIT_X16_MAXN])Lc, tiny, nmax, (uint8_t *)L);
    FOR_G
        _mm256_storeu_ps(scales + 8 * g, sel_x8(tiny[g], _mm256_div_ps(sumlx[g], suml2[g]), zero));
}

KFIT_AVX2 static void requant_avx2(int n, const float *x, float d, float dm, int lo, int hi, uint8_t *L) {
    const __m256 vd = _mm256_set1_ps(d), vdm = _mm256_set1_ps(dm);
    const __m256i vlo = _mm256_set1_epi32(lo);
    _Alignas(32) int32_t l[8];
    for (int i = 0; i < n; i += 8) {
        const __m256 q = _mm256_div_ps(_mm256_add_ps(_mm256_loadu_ps(x + i), vdm), vd);
        _mm256_store_si256((__m256i *)l, _mm256_sub_epi32(clamp_x8(nearest_int_x8(q), lo, hi), vlo));
        for (int k = 0; k < 8; k++) L[i + k] = (uint8_t)l[k];
    }
}
#undef FOR_G
#undef NG

#else /* no AVX2 build: the batch calls are the scalar functions in a loop */

int qk_kfit_have_x16(void) { return 0; }

void qk_make_qkx2_quants_x16(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                             float *the_mins, float *scales, float rmin, float rdelta, int nstep,
                             int use_mad) {
    uint8_t Laux[QK_KFIT_X16_MAXN];
    for (int j = 0; j < 16; j++)
        scales[j] = qk_make_qkx2_quants(n, nmax, x + j * n, weights + j * n, L + j * n, &the_mins[j],
                                        Laux, rmin, rdelta, nstep, use_mad);
}

void qk_make_qx_quants_x16(int n, int nmax, const float *x, int8_t *L, float *scales) {
    for (int j = 0; j < 16; j++) scales[j] = qk_make_qx_quants(n, nmax, x + j * n, L + j * n, 1, NULL);
}

void qk_make_qx_quants_w_x16(int n, int nmax, const float *x, const float *qw, int8_t *L, float *scales) {
    for (int j = 0; j < 16; j++) scales[j] = qk_make_qx_quants(n, nmax, x + j * n, L + j * n, 1, qw + j * n);
}

void qk_make_q3_quants_x16(int n, int nmax, const float *x, int8_t *L, float *scales) {
    for (int j = 0; j < 16; j++) scales[j] = qk_make_q3_quants(n, nmax, x + j * n, L + j * n, 1);
}
#endif

/* Batch b of a qk_make_*_quants_n call as 16 full lanes: sub-blocks [b, b + cnt) of x (and
 * w when non-NULL) copied to xp (wp), the 16 - cnt free lanes filled with copies of the
 * batch's first sub-block (their results are dropped). */
static void pad_batch(int n, int cnt, const float *x, const float *w, float *xp, float *wp) {
    memcpy(xp, x, sizeof(float) * (size_t)(cnt * n));
    if (w) memcpy(wp, w, sizeof(float) * (size_t)(cnt * n));
    for (int j = cnt; j < 16; j++) {
        memcpy(xp + j * n, x, sizeof(float) * (size_t)n);
        if (w) memcpy(wp + j * n, w, sizeof(float) * (size_t)n);
    }
}

void qk_make_qkx3_quants_n(int nsub, int n, int nmax, const float *x, const float *weights, uint8_t *L,
                           float *the_mins, float *scales, float rmin, float rdelta, int nstep, int use_mad) {
    if (!qk_kfit_have_x16()) {
        uint8_t Laux[QK_KFIT_X16_MAXN];
        for (int j = 0; j < nsub; j++)
            scales[j] = qk_make_qkx3_quants(n, nmax, x + j * n, weights + j * n, L + j * n, &the_mins[j], Laux,
                                            rmin, rdelta, nstep, use_mad);
        return;
    }
    for (int b = 0; b < nsub; b += 16) {
        const int cnt = nsub - b < 16 ? nsub - b : 16;
        const float *xb = x + b * n, *wb = weights + b * n;
        if (cnt == 16) {
            qk_make_qkx2_quants_x16(n, nmax, xb, wb, L + b * n, the_mins + b, scales + b, rmin, rdelta, nstep,
                                    use_mad);
            continue;
        }
        float xp[16 * QK_KFIT_X16_MAXN], wp[16 * QK_KFIT_X16_MAXN], mp[16], sp[16];
        uint8_t Lp[16 * QK_KFIT_X16_MAXN];
        pad_batch(n, cnt, xb, wb, xp, wp);
        qk_make_qkx2_quants_x16(n, nmax, xp, wp, Lp, mp, sp, rmin, rdelta, nstep, use_mad);
        memcpy(L + b * n, Lp, (size_t)(cnt * n));
        memcpy(the_mins + b, mp, sizeof(float) * (size_t)cnt);
        memcpy(scales + b, sp, sizeof(float) * (size_t)cnt);
    }
}

void qk_make_qx_quants_n(int nsub, int n, int nmax, const float *x, const float *qw, int8_t *L, float *scales) {
    if (!qk_kfit_have_x16()) {
        for (int j = 0; j < nsub; j++) scales[j] = qk_make_qx_quants(n, nmax, x + j * n, L + j * n, 1, qw + j * n);
        return;
    }
    for (int b = 0; b < nsub; b += 16) {
        const int cnt = nsub - b < 16 ? nsub - b : 16;
        if (cnt == 16) {
            qk_make_qx_quants_w_x16(n, nmax, x + b * n, qw + b * n, L + b * n, scales + b);
            continue;
        }
        float xp[16 * QK_KFIT_X16_MAXN], wp[16 * QK_KFIT_X16_MAXN], sp[16];
        int8_t Lp[16 * QK_KFIT_X16_MAXN];
        pad_batch(n, cnt, x + b * n, qw + b * n, xp, wp);
        qk_make_qx_quants_w_x16(n, nmax, xp, wp, Lp, sp);
        memcpy(L + b * n, Lp, (size_t)(cnt * n));
        memcpy(scales + b, sp, sizeof(float) * (size_t)cnt);
    }
}

void qk_requant(int n, const float *x, float d, float dm, int lo, int hi, uint8_t *L) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (n % 8 == 0 && qk_cpu_has_avx2()) {
        requant_avx2(n, x, d, dm, lo, hi, L);
        return;
    }
#endif
    for (int i = 0; i < n; i++) {
        int l = qk_nearest_int((x[i] + dm) / d);
        L[i] = (uint8_t)(KMAX(lo, KMIN(hi, l)) - lo);
    }
}
