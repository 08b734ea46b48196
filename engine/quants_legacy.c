/*
 * quants_legacy.c — the 32-element block types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1 and
 * IQ4_NL. Reference quantizers, dequantizers and scalar dot products.
 *
 * Layouts: engine/quants.h (ggml-common.h). Algorithms: llama.cpp ggml/src/ggml-quants.c
 * (quantize_row_*_ref, dequantize_row_*, quantize_iq4_nl / quantize_row_iq4_nl_impl) and
 * ggml-cpu's scalar ggml_vec_dot_*; see llama-cpp-reference.md §2 and Appendix A.
 *
 * Invariant: every qk_quantize_row_*_ref here writes the same bytes as llama-quantize does
 * for that type without an importance matrix. That requires the same float operations in
 * the same order: the reciprocal `id = d ? 1/d : 0` multiplied in (never a divide by d),
 * truncating float->int conversions where ggml truncates (`(int8_t)(v + 8.5f)`), roundf
 * (half away from zero) where ggml uses roundf, and the same accumulation order.
 * Float->int conversions go through cvt_trunc(), which gives x86's answer (INT32_MIN) for
 * NaN/out-of-range values instead of undefined behaviour, so hostile inputs cannot crash.
 *
 *
 * No fused multiply-add: the golden files (llama.cpp c392e50 on a Zen 3 machine) match
 * only when every a*b+c here is rounded twice. With fmaf() in the Q4_0/Q5_0 level
 * computation and the IQ4_NL weighted sums, 24/42 Q4_0, 33/42 Q5_0 and 40/42 IQ4_NL
 * tensors of wiki-qwen2-13m came out different. So this file must be compiled without
 * FP contraction. GCC in ISO C mode (-std=c11, as CMakeLists.txt sets) never contracts,
 * but in GNU C mode with FMA instructions enabled (-march=native) it contracts across
 * statements; clang contracts within one expression. The pragmas below turn it off for
 * this file in both cases (checked: gcc 12 -std=gnu11 -march=native and clang 14
 * -march=native both fail the golden test without them and pass with them). llama.cpp
 * builds ggml-quants.c into ggml-base, without the -march=native flags of ggml-cpu, which
 * is presumably why its reference quantizers round every product.
 *
 * Checked bit-for-bit against llama.cpp's output by tests/test_quant_golden.c.
 */
#include <math.h>
#include <string.h>

#include "quants.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__) && defined(__FP_FAST_FMAF)
#pragma GCC optimize("fp-contract=off")
#endif

/* IQ4_NL's 16 non-linear levels (ggml-common.h kvalues_iq4nl). */
const int8_t qk_kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};

/* float -> int32 truncating toward zero, as x86 CVTTSS2SI: NaN and values outside the
 * int32 range give INT32_MIN. Narrowing the result to 8 bits then keeps the low byte,
 * which is what ggml's `(int8_t)(float)` compiles to on x86. */
static inline int32_t cvt_trunc(float v) {
    if (!(v > -2147483648.0f && v < 2147483648.0f)) return INT32_MIN;
    return (int32_t)v;
}

static inline int8_t to_i8(float v) { return (int8_t)(uint8_t)(uint32_t)cvt_trunc(v); }

/* Signed element with the largest |x| in a block of 32 (the first one on ties), and its
 * absolute value. */
static inline float block_absmax(const float *x, float *amax_out) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    *amax_out = amax;
    return max;
}

static inline void block_minmax(const float *x, float *min_out, float *max_out) {
    float min = 3.402823466e+38f, max = -3.402823466e+38f;
    for (int j = 0; j < 32; j++) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
    *min_out = min;
    *max_out = max;
}

/* ======================================================================= Q4_0 ===== */

/* d = max/-8 (max = signed largest-magnitude element, so it maps to level 0 = -8),
 * q = min(15, trunc(x/d + 8.5)), stored as q - 8 offsets in nibbles: byte j holds
 * element j (low) and j+16 (high). */
void qk_quantize_row_q4_0_ref(const float *x, void *vy, int64_t k) {
    block_q4_0 *y = (block_q4_0 *)vy;
    const int64_t nb = k / QK4_0;
    for (int64_t i = 0; i < nb; i++, x += QK4_0) {
        float amax;
        const float max = block_absmax(x, &amax);
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = qk_float_to_half(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            int8_t a = to_i8(x[j] * id + 8.5f);
            int8_t b = to_i8(x[j + 16] * id + 8.5f);
            uint8_t q0 = (uint8_t)(a < 15 ? a : 15);
            uint8_t q1 = (uint8_t)(b < 15 ? b : 15);
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void qk_dequantize_row_q4_0(const void *vx, float *y, int64_t k) {
    const block_q4_0 *x = (const block_q4_0 *)vx;
    const int64_t nb = k / QK4_0;
    for (int64_t i = 0; i < nb; i++, y += QK4_0) {
        const float d = qk_half_to_float(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((x[i].qs[j] & 0x0F) - 8) * d;
            y[j + 16] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

/* ======================================================================= Q4_1 ===== */

/* d = (max-min)/15, m = min, q = min(15, trunc((x-min)/d + 0.5)). */
void qk_quantize_row_q4_1_ref(const float *x, void *vy, int64_t k) {
    block_q4_1 *y = (block_q4_1 *)vy;
    const int64_t nb = k / QK4_1;
    for (int64_t i = 0; i < nb; i++, x += QK4_1) {
        float min, max;
        block_minmax(x, &min, &max);
        const float d = (max - min) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = qk_float_to_half(d);
        y[i].m = qk_float_to_half(min);
        for (int j = 0; j < 16; j++) {
            int8_t a = to_i8((x[j] - min) * id + 0.5f);
            int8_t b = to_i8((x[j + 16] - min) * id + 0.5f);
            uint8_t q0 = (uint8_t)(a < 15 ? a : 15);
            uint8_t q1 = (uint8_t)(b < 15 ? b : 15);
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void qk_dequantize_row_q4_1(const void *vx, float *y, int64_t k) {
    const block_q4_1 *x = (const block_q4_1 *)vx;
    const int64_t nb = k / QK4_1;
    for (int64_t i = 0; i < nb; i++, y += QK4_1) {
        const float d = qk_half_to_float(x[i].d);
        const float m = qk_half_to_float(x[i].m);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(x[i].qs[j] & 0x0F) * d + m;
            y[j + 16] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}

/* ======================================================================= Q5_0 ===== */

/* Bit 4 of element j's 5-bit code goes to bit j of the little-endian u32 qh. */
static inline void store_qh(uint8_t qh_out[4], uint32_t qh) {
    qh_out[0] = (uint8_t)qh;
    qh_out[1] = (uint8_t)(qh >> 8);
    qh_out[2] = (uint8_t)(qh >> 16);
    qh_out[3] = (uint8_t)(qh >> 24);
}

static inline uint32_t load_qh(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | ((uint32_t)qh[1] << 8) | ((uint32_t)qh[2] << 16) |
           ((uint32_t)qh[3] << 24);
}

/* d = max/-16, q = min(31, trunc(x/d + 16.5)). */
void qk_quantize_row_q5_0_ref(const float *x, void *vy, int64_t k) {
    block_q5_0 *y = (block_q5_0 *)vy;
    const int64_t nb = k / QK5_0;
    for (int64_t i = 0; i < nb; i++, x += QK5_0) {
        float amax;
        const float max = block_absmax(x, &amax);
        const float d = max / -16;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = qk_float_to_half(d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int8_t a = to_i8(x[j] * id + 16.5f);
            int8_t b = to_i8(x[j + 16] * id + 16.5f);
            uint8_t q0 = (uint8_t)(a < 31 ? a : 31);
            uint8_t q1 = (uint8_t)(b < 31 ? b : 31);
            y[i].qs[j] = (uint8_t)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= (uint32_t)((q0 >> 4) & 1) << j;
            qh |= (uint32_t)((q1 >> 4) & 1) << (j + 16);
        }
        store_qh(y[i].qh, qh);
    }
}

void qk_dequantize_row_q5_0(const void *vx, float *y, int64_t k) {
    const block_q5_0 *x = (const block_q5_0 *)vx;
    const int64_t nb = k / QK5_0;
    for (int64_t i = 0; i < nb; i++, y += QK5_0) {
        const float d = qk_half_to_float(x[i].d);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < 16; j++) {
            int q0 = (x[i].qs[j] & 0x0F) | (int)(((qh >> j) & 1) << 4);
            int q1 = (x[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            y[j] = (float)(q0 - 16) * d;
            y[j + 16] = (float)(q1 - 16) * d;
        }
    }
}

/* ======================================================================= Q5_1 ===== */

/* d = (max-min)/31, m = min, q = trunc((x-min)/d + 0.5) (ggml does not clamp here: the
 * largest value maps to at most 31.5). */
void qk_quantize_row_q5_1_ref(const float *x, void *vy, int64_t k) {
    block_q5_1 *y = (block_q5_1 *)vy;
    const int64_t nb = k / QK5_1;
    for (int64_t i = 0; i < nb; i++, x += QK5_1) {
        float min, max;
        block_minmax(x, &min, &max);
        const float d = (max - min) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = qk_float_to_half(d);
        y[i].m = qk_float_to_half(min);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            uint8_t q0 = (uint8_t)(uint32_t)cvt_trunc((x[j] - min) * id + 0.5f);
            uint8_t q1 = (uint8_t)(uint32_t)cvt_trunc((x[j + 16] - min) * id + 0.5f);
            y[i].qs[j] = (uint8_t)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= (uint32_t)((q0 >> 4) & 1) << j;
            qh |= (uint32_t)((q1 >> 4) & 1) << (j + 16);
        }
        store_qh(y[i].qh, qh);
    }
}

void qk_dequantize_row_q5_1(const void *vx, float *y, int64_t k) {
    const block_q5_1 *x = (const block_q5_1 *)vx;
    const int64_t nb = k / QK5_1;
    for (int64_t i = 0; i < nb; i++, y += QK5_1) {
        const float d = qk_half_to_float(x[i].d);
        const float m = qk_half_to_float(x[i].m);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < 16; j++) {
            int q0 = (x[i].qs[j] & 0x0F) | (int)(((qh >> j) & 1) << 4);
            int q1 = (x[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            y[j] = (float)q0 * d + m;
            y[j + 16] = (float)q1 * d + m;
        }
    }
}

/* ======================================================================= Q8_0 / Q8_1 */

/* d = amax/127, q = roundf(x/d) (half away from zero). */
void qk_quantize_row_q8_0_ref(const float *x, void *vy, int64_t k) {
    block_q8_0 *y = (block_q8_0 *)vy;
    const int64_t nb = k / QK8_0;
    for (int64_t i = 0; i < nb; i++, x += QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) amax = amax > fabsf(x[j]) ? amax : fabsf(x[j]);
        const float d = amax / 127;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = qk_float_to_half(d);
        for (int j = 0; j < QK8_0; j++) y[i].qs[j] = to_i8(roundf(x[j] * id));
    }
}

void qk_dequantize_row_q8_0(const void *vx, float *y, int64_t k) {
    const block_q8_0 *x = (const block_q8_0 *)vx;
    const int64_t nb = k / QK8_0;
    for (int64_t i = 0; i < nb; i++, y += QK8_0) {
        const float d = qk_half_to_float(x[i].d);
        for (int j = 0; j < QK8_0; j++) y[j] = (float)x[i].qs[j] * d;
    }
}

/* As Q8_0, plus s = half(sum(q) * d) (the float d, before half rounding). */
void qk_quantize_row_q8_1_ref(const float *x, void *vy, int64_t k) {
    block_q8_1 *y = (block_q8_1 *)vy;
    const int64_t nb = k / QK8_1;
    for (int64_t i = 0; i < nb; i++, x += QK8_1) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_1; j++) amax = amax > fabsf(x[j]) ? amax : fabsf(x[j]);
        const float d = amax / 127;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = qk_float_to_half(d);
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) {
            y[i].qs[j] = to_i8(roundf(x[j] * id));
            sum += y[i].qs[j];
        }
        y[i].s = qk_float_to_half((float)sum * d);
    }
}

void qk_dequantize_row_q8_1(const void *vx, float *y, int64_t k) {
    const block_q8_1 *x = (const block_q8_1 *)vx;
    const int64_t nb = k / QK8_1;
    for (int64_t i = 0; i < nb; i++, y += QK8_1) {
        const float d = qk_half_to_float(x[i].d);
        for (int j = 0; j < QK8_1; j++) y[j] = (float)x[i].qs[j] * d;
    }
}

/* ======================================================================= IQ4_NL === */

/* Index of the table level nearest to v (T ascending, 16 entries): below T[0] -> 0, above
 * T[15] -> 15; between T[k-1] and T[k], k-1 only when strictly closer
 * (ggml-quants.c best_index_int8). */
static inline int iq4nl_index(float v) {
    const int8_t *T = qk_kvalues_iq4nl;
    if (v <= T[0]) return 0;
    if (v >= T[15]) return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (v < T[mid]) hi = mid;
        else lo = mid;
    }
    return v - T[hi - 1] < T[hi] - v ? hi - 1 : hi;
}

/* Weighted fit of one 32-element block against the table for inverse scale id:
 * sum w*q*x and sum w*q^2 with w = x^2 (ggml accumulates (w*q)*x and (w*q)*q). */
static inline void iq4nl_fit(const float *x, const float *w, float id, float *sqx, float *sq2) {
    float sumqx = 0.0f, sumq2 = 0.0f;
    for (int j = 0; j < QK4_NL; j++) {
        const float q = (float)qk_kvalues_iq4nl[iq4nl_index(id * x[j])];
        const float wq = w[j] * q;
        sumqx += wq * x[j];
        sumq2 += wq * q;
    }
    *sqx = sumqx;
    *sq2 = sumq2;
}

/* llama-quantize's IQ4_NL path (quantize_iq4_nl -> quantize_row_iq4_nl_impl with block
 * 32, no importance weights, ntry = 7): weights w = x^2; start at d = -max/T[0] and take
 * the least-squares d for that mapping; try the 15 inverse scales (itry + T[0])/max,
 * itry = -7..7, keeping the best (sum wqx)^2/sum wq^2; store d as half and re-map every
 * element with 1/d (the float d, not the half-rounded one). A block with amax < 1e-15
 * gets d = 0 and every element maps to the level nearest 0 (index 8). */
void qk_quantize_row_iq4_nl_ref(const float *x, void *vy, int64_t k) {
    block_iq4_nl *y = (block_iq4_nl *)vy;
    const int8_t *T = qk_kvalues_iq4nl;
    const int64_t nb = k / QK4_NL;
    const int ntry = 7;
    for (int64_t i = 0; i < nb; i++, x += QK4_NL) {
        float w[QK4_NL];
        for (int j = 0; j < QK4_NL; j++) w[j] = x[j] * x[j];
        float amax;
        const float max = block_absmax(x, &amax);
        float d = 0.0f;
        if (!(amax < 1e-15f)) {
            float sumqx, sumq2;
            iq4nl_fit(x, w, 1.0f / (-max / T[0]), &sumqx, &sumq2);
            d = sumqx / sumq2;
            float best = d * sumqx;
            for (int itry = -ntry; itry <= ntry; itry++) {
                const float id = (float)(itry + T[0]) / max;
                iq4nl_fit(x, w, id, &sumqx, &sumq2);
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    d = sumqx / sumq2;
                    best = d * sumqx;
                }
            }
        }
        y[i].d = qk_float_to_half(d);
        const float id = d ? 1.0f / d : 0.0f;
        for (int j = 0; j < 16; j++) {
            const int l0 = iq4nl_index(id * x[j]);
            const int l1 = iq4nl_index(id * x[j + 16]);
            y[i].qs[j] = (uint8_t)(l0 | (l1 << 4));
        }
    }
}

void qk_dequantize_row_iq4_nl(const void *vx, float *y, int64_t k) {
    const block_iq4_nl *x = (const block_iq4_nl *)vx;
    const int64_t nb = k / QK4_NL;
    for (int64_t i = 0; i < nb; i++, y += QK4_NL) {
        const float d = qk_half_to_float(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)qk_kvalues_iq4nl[x[i].qs[j] & 0x0F];
            y[j + 16] = d * (float)qk_kvalues_iq4nl[x[i].qs[j] >> 4];
        }
    }
}

/* ======================================================================= dot products */
/* n is a multiple of 32; x is a row of the weight type, y the activations quantized to
 * Q8_0 (d_y, q_y) or Q8_1 (d_y, s_y = d_y*sum q_y, q_y). Per block: the integer dot
 * product of the codes, scaled by d_x*d_y (ggml-cpu's scalar ggml_vec_dot_*). */

void qk_vec_dot_q4_0_q8_0(int n, float *s, const void *vx, const void *vy) {
    const block_q4_0 *x = (const block_q4_0 *)vx;
    const block_q8_0 *y = (const block_q8_0 *)vy;
    float sumf = 0.0f;
    for (int i = 0; i < n / QK8_0; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            sumi += ((x[i].qs[j] & 0x0F) - 8) * y[i].qs[j];
            sumi += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
        }
        sumf += (float)sumi * (qk_half_to_float(x[i].d) * qk_half_to_float(y[i].d));
    }
    *s = sumf;
}

/* sum q_x*q_y*d_x*d_y + m_x*s_y: the min term uses Q8_1's precomputed s. */
void qk_vec_dot_q4_1_q8_1(int n, float *s, const void *vx, const void *vy) {
    const block_q4_1 *x = (const block_q4_1 *)vx;
    const block_q8_1 *y = (const block_q8_1 *)vy;
    float sumf = 0.0f;
    for (int i = 0; i < n / QK8_1; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            sumi += (x[i].qs[j] & 0x0F) * y[i].qs[j];
            sumi += (x[i].qs[j] >> 4) * y[i].qs[j + 16];
        }
        sumf += (qk_half_to_float(x[i].d) * qk_half_to_float(y[i].d)) * (float)sumi +
                qk_half_to_float(x[i].m) * qk_half_to_float(y[i].s);
    }
    *s = sumf;
}

void qk_vec_dot_q5_0_q8_0(int n, float *s, const void *vx, const void *vy) {
    const block_q5_0 *x = (const block_q5_0 *)vx;
    const block_q8_0 *y = (const block_q8_0 *)vy;
    float sumf = 0.0f;
    for (int i = 0; i < n / QK8_0; i++) {
        const uint32_t qh = load_qh(x[i].qh);
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = ((x[i].qs[j] & 0x0F) | (int)(((qh >> j) & 1) << 4)) - 16;
            int q1 = ((x[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4)) - 16;
            sumi += q0 * y[i].qs[j] + q1 * y[i].qs[j + 16];
        }
        sumf += (float)sumi * (qk_half_to_float(x[i].d) * qk_half_to_float(y[i].d));
    }
    *s = sumf;
}

void qk_vec_dot_q5_1_q8_1(int n, float *s, const void *vx, const void *vy) {
    const block_q5_1 *x = (const block_q5_1 *)vx;
    const block_q8_1 *y = (const block_q8_1 *)vy;
    float sumf = 0.0f;
    for (int i = 0; i < n / QK8_1; i++) {
        const uint32_t qh = load_qh(x[i].qh);
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = (x[i].qs[j] & 0x0F) | (int)(((qh >> j) & 1) << 4);
            int q1 = (x[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            sumi += q0 * y[i].qs[j] + q1 * y[i].qs[j + 16];
        }
        sumf += (qk_half_to_float(x[i].d) * qk_half_to_float(y[i].d)) * (float)sumi +
                qk_half_to_float(x[i].m) * qk_half_to_float(y[i].s);
    }
    *s = sumf;
}

void qk_vec_dot_q8_0_q8_0(int n, float *s, const void *vx, const void *vy) {
    const block_q8_0 *x = (const block_q8_0 *)vx;
    const block_q8_0 *y = (const block_q8_0 *)vy;
    float sumf = 0.0f;
    for (int i = 0; i < n / QK8_0; i++) {
        int sumi = 0;
        for (int j = 0; j < QK8_0; j++) sumi += x[i].qs[j] * y[i].qs[j];
        sumf += (float)sumi * (qk_half_to_float(x[i].d) * qk_half_to_float(y[i].d));
    }
    *s = sumf;
}

void qk_vec_dot_iq4_nl_q8_0(int n, float *s, const void *vx, const void *vy) {
    const block_iq4_nl *x = (const block_iq4_nl *)vx;
    const block_q8_0 *y = (const block_q8_0 *)vy;
    float sumf = 0.0f;
    for (int i = 0; i < n / QK4_NL; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            sumi += qk_kvalues_iq4nl[x[i].qs[j] & 0x0F] * y[i].qs[j];
            sumi += qk_kvalues_iq4nl[x[i].qs[j] >> 4] * y[i].qs[j + 16];
        }
        sumf += (float)sumi * (qk_half_to_float(x[i].d) * qk_half_to_float(y[i].d));
    }
    *s = sumf;
}
