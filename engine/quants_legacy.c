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
 * statements; clang contracts within one expression. The engine is built with
 * -ffp-contract=off (CMakeLists.txt), which turns it off in both cases (checked: gcc 12
 * -std=gnu11 -march=native and clang 14 -march=native both fail the golden test with
 * contraction allowed and pass without). llama.cpp
 * builds ggml-quants.c into ggml-base, without the -march=native flags of ggml-cpu, which
 * is presumably why its reference quantizers round every product.
 *
 * Checked bit-for-bit against llama.cpp's output by tests/test_quant_golden.c.
 */
#include <math.h>
#include <string.h>

#include "quants.h"

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

/* Activation rows (ggml-cpu's x86 build, ggml-cpu-quants.c quantize_row_q8_0/q8_1, AVX2
 * branch; llama-cpp-reference.md §2): ggml quantizes the activations of a matmul with
 * other float operations than its reference quantizer: id = 127/amax (not 1/(amax/127)),
 * rounding half to even (_mm256_round_ps, _MM_ROUND_NEAREST), then cvtps_epi32 and signed
 * saturating packs (a NaN or out-of-range product becomes -128). d = amax/127 as before;
 * Q8_1's s = half(d * sum(q)). The two differ in a few codes per million, which is enough
 * to move a small model's PPL by a few hundredths of a percent; weights keep the
 * reference (llama-quantize uses it). */
static inline int8_t act_code(float v) {
    const float r = nearbyintf(v); /* round half to even (default rounding mode) */
    if (!(r > -2147483648.0f && r < 2147483648.0f)) return -128;
    return (int8_t)(r > 127.0f ? 127 : r < -128.0f ? -128 : (int)r);
}

static float act_block(const float *x, int8_t *qs) {
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; j++) amax = amax > fabsf(x[j]) ? amax : fabsf(x[j]);
    const float d = amax / 127;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    for (int j = 0; j < QK8_0; j++) qs[j] = act_code(x[j] * id);
    return d;
}

void qk_quantize_row_q8_0_act(const float *x, void *vy, int64_t k) {
    block_q8_0 *y = (block_q8_0 *)vy;
    for (int64_t i = 0; i < k / QK8_0; i++, x += QK8_0) y[i].d = qk_float_to_half(act_block(x, y[i].qs));
}

void qk_quantize_row_q8_1_act(const float *x, void *vy, int64_t k) {
    block_q8_1 *y = (block_q8_1 *)vy;
    for (int64_t i = 0; i < k / QK8_1; i++, x += QK8_1) {
        const float d = act_block(x, y[i].qs);
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) sum += y[i].qs[j];
        y[i].d = qk_float_to_half(d);
        y[i].s = qk_float_to_half(d * (float)sum);
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

/* The scale search's choice among the 16 candidate fits, in ggml's order: candidate 0
 * (inverse scale -T[0]/max) sets d = sumqx/sumq2 unconditionally; candidates 1..15 (itry =
 * -7..7) replace it only when their (sum wqx)^2/sum wq^2 is strictly larger. */
static inline float iq4nl_pick(const float *sqx, const float *sq2) {
    float d = sqx[0] / sq2[0];
    float best = d * sqx[0];
    for (int c = 1; c < 16; c++) {
        if (sq2[c] > 0 && sqx[c] * sqx[c] > best * sq2[c]) {
            d = sqx[c] / sq2[c];
            best = d * sqx[c];
        }
    }
    return d;
}

/* The 16 inverse scales tried for a block whose signed largest-magnitude element is max:
 * 1/(-max/T[0]) first, then (itry + T[0])/max for itry = -7..7 (ntry = 7). */
static inline void iq4nl_candidates(float max, float *ids) {
    const int8_t *T = qk_kvalues_iq4nl;
    ids[0] = 1.0f / (-max / T[0]);
    for (int itry = -7; itry <= 7; itry++) ids[itry + 8] = (float)(itry + T[0]) / max;
}

/* One block, the plain way: 16 scalar fits and a binary search per element. */
static void iq4nl_block_scalar(const float *x, block_iq4_nl *y) {
    float w[QK4_NL];
    for (int j = 0; j < QK4_NL; j++) w[j] = x[j] * x[j];
    float amax;
    const float max = block_absmax(x, &amax);
    float d = 0.0f;
    if (!(amax < 1e-15f)) {
        float ids[16], sqx[16], sq2[16];
        iq4nl_candidates(max, ids);
        for (int c = 0; c < 16; c++) iq4nl_fit(x, w, ids[c], &sqx[c], &sq2[c]);
        d = iq4nl_pick(sqx, sq2);
    }
    y->d = qk_float_to_half(d);
    const float id = d ? 1.0f / d : 0.0f;
    for (int j = 0; j < 16; j++) {
        const int l0 = iq4nl_index(id * x[j]);
        const int l1 = iq4nl_index(id * x[j + 16]);
        y->qs[j] = (uint8_t)(l0 | (l1 << 4));
    }
}

/* ---- AVX2 path: the same float operations, the 16 candidate fits in 16 lanes. ----
 *
 * Nearest level without a search: for non-NaN v, iq4nl_index(v) is the number of k in
 * 1..15 with v >= (T[k-1]+T[k])/2 (each midpoint is a multiple of 1/2, and ggml's test
 * v - T[k-1] < T[k] - v is false exactly from the midpoint up; checked against the binary
 * search for all 2^32 float bit patterns), i.e. a function of floor(2v) alone, which
 * iq4nl_idx_tab holds for floor(2v) in -256..255 (clamped: |v| >= 128 lies past both ends).
 * NaN is clamped to the top slot, index 15, as the binary search gives. The lanes do the
 * scalar code's IEEE multiplies and adds in the scalar order (no FMA: the target enables
 * AVX2 only), so every sum, and hence every byte, equals the scalar path's. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QK_IQ4NL_AVX2 1
#include <immintrin.h>

#include "cpu.h"

#define IQ4NL_AVX2 __attribute__((target("avx2")))

/* Index and level for slot f = floor(2v) (T[k-1]+T[k] = -231, -187, ..., 202; the level
 * steps T[k]-T[k-1] = 23, 21, ..., 24). Constant expressions, so the tables are built at
 * compile time. */
#define IQ4NL_IDX(f)                                                                          \
    (((f) >= -231) + ((f) >= -187) + ((f) >= -148) + ((f) >= -114) + ((f) >= -84) +            \
     ((f) >= -57) + ((f) >= -32) + ((f) >= -9) + ((f) >= 14) + ((f) >= 38) + ((f) >= 63) +     \
     ((f) >= 91) + ((f) >= 122) + ((f) >= 158) + ((f) >= 202))
#define IQ4NL_VAL(f)                                                                          \
    (-127 + 23 * ((f) >= -231) + 21 * ((f) >= -187) + 18 * ((f) >= -148) +                   \
     16 * ((f) >= -114) + 14 * ((f) >= -84) + 13 * ((f) >= -57) + 12 * ((f) >= -32) +          \
     11 * ((f) >= -9) + 12 * ((f) >= 14) + 12 * ((f) >= 38) + 13 * ((f) >= 63) +               \
     15 * ((f) >= 91) + 16 * ((f) >= 122) + 20 * ((f) >= 158) + 24 * ((f) >= 202))
#define IQ4NL_R2(M, f) M(f), M((f) + 1)
#define IQ4NL_R8(M, f) IQ4NL_R2(M, f), IQ4NL_R2(M, (f) + 2), IQ4NL_R2(M, (f) + 4), IQ4NL_R2(M, (f) + 6)
#define IQ4NL_R32(M, f) IQ4NL_R8(M, f), IQ4NL_R8(M, (f) + 8), IQ4NL_R8(M, (f) + 16), IQ4NL_R8(M, (f) + 24)
#define IQ4NL_R128(M, f) IQ4NL_R32(M, f), IQ4NL_R32(M, (f) + 32), IQ4NL_R32(M, (f) + 64), IQ4NL_R32(M, (f) + 96)
#define IQ4NL_R512(M, f)                                                                      \
    IQ4NL_R128(M, f), IQ4NL_R128(M, (f) + 128), IQ4NL_R128(M, (f) + 256), IQ4NL_R128(M, (f) + 384)
static const int iq4nl_idx_tab[512] = {IQ4NL_R512(IQ4NL_IDX, -256)};
static const float iq4nl_val_tab[512] = {IQ4NL_R512(IQ4NL_VAL, -256)};

/* floor(2v) clamped to -256..255 (NaN -> 255): the table slot, counted from entry 256. */
IQ4NL_AVX2 static inline __m256i iq4nl_slot(__m256 v) {
    __m256 t = _mm256_floor_ps(_mm256_add_ps(v, v)); /* v + v = 2v exactly */
    t = _mm256_max_ps(_mm256_set1_ps(-256.0f), t);   /* NaN stays NaN (2nd operand) */
    t = _mm256_min_ps(t, _mm256_set1_ps(255.0f));    /* NaN -> 255 (2nd operand) */
    return _mm256_cvttps_epi32(t);
}

/* block_absmax for 32 elements: the first element of largest |x| (NaN never wins; all
 * zero or NaN gives amax = max = 0). */
IQ4NL_AVX2 static inline float iq4nl_absmax_avx2(const float *x, float *amax_out) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 a[4], m = _mm256_setzero_ps();
    for (int v = 0; v < 4; v++) {
        a[v] = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * v));
        m = _mm256_max_ps(a[v], m); /* a NaN in the 1st operand yields m */
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float amax = _mm_cvtss_f32(h);
    *amax_out = amax;
    if (amax == 0.0f) return 0.0f;
    const __m256 am = _mm256_set1_ps(amax);
    uint32_t hit = 0;
    for (int v = 0; v < 4; v++)
        hit |= (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(a[v], am, _CMP_EQ_OQ)) << (8 * v);
    return x[__builtin_ctz(hit)];
}

IQ4NL_AVX2 static void iq4nl_block_avx2(const float *x, block_iq4_nl *y) {
    const float *val_mid = iq4nl_val_tab + 256;
    const int *idx_mid = iq4nl_idx_tab + 256;
    float amax;
    const float max = iq4nl_absmax_avx2(x, &amax);
    float d = 0.0f;
    if (!(amax < 1e-15f)) {
        _Alignas(32) float sqx[16], sq2[16];
        /* iq4nl_candidates: lane c >= 1 holds (float)(c - 8 + T[0]) / max, lane 0
         * 1/(-max/T[0]). */
        const __m256 vmax = _mm256_set1_ps(max);
        __m256 id0 = _mm256_div_ps(_mm256_setr_ps(0, -134, -133, -132, -131, -130, -129, -128), vmax);
        const __m256 id1 = _mm256_div_ps(_mm256_setr_ps(-127, -126, -125, -124, -123, -122, -121, -120), vmax);
        id0 = _mm256_blend_ps(id0, _mm256_set1_ps(1.0f / (-max / qk_kvalues_iq4nl[0])), 1);
        __m256 sqx0 = _mm256_setzero_ps(), sq20 = _mm256_setzero_ps();
        __m256 sqx1 = _mm256_setzero_ps(), sq21 = _mm256_setzero_ps();
        for (int j = 0; j < QK4_NL; j++) {
            const __m256 xv = _mm256_set1_ps(x[j]);
            const __m256 wv = _mm256_set1_ps(x[j] * x[j]);
            const __m256 q0 = _mm256_i32gather_ps(val_mid, iq4nl_slot(_mm256_mul_ps(id0, xv)), 4);
            const __m256 q1 = _mm256_i32gather_ps(val_mid, iq4nl_slot(_mm256_mul_ps(id1, xv)), 4);
            const __m256 wq0 = _mm256_mul_ps(wv, q0), wq1 = _mm256_mul_ps(wv, q1);
            sqx0 = _mm256_add_ps(sqx0, _mm256_mul_ps(wq0, xv));
            sq20 = _mm256_add_ps(sq20, _mm256_mul_ps(wq0, q0));
            sqx1 = _mm256_add_ps(sqx1, _mm256_mul_ps(wq1, xv));
            sq21 = _mm256_add_ps(sq21, _mm256_mul_ps(wq1, q1));
        }
        _mm256_store_ps(sqx, sqx0);
        _mm256_store_ps(sqx + 8, sqx1);
        _mm256_store_ps(sq2, sq20);
        _mm256_store_ps(sq2 + 8, sq21);
        d = iq4nl_pick(sqx, sq2);
    }
    y->d = qk_float_to_half(d);
    const __m256 id = _mm256_set1_ps(d ? 1.0f / d : 0.0f);
    _Alignas(32) int32_t l[QK4_NL];
    for (int j = 0; j < QK4_NL; j += 8) {
        const __m256i s = iq4nl_slot(_mm256_mul_ps(id, _mm256_loadu_ps(x + j)));
        _mm256_store_si256((__m256i *)(l + j), _mm256_i32gather_epi32(idx_mid, s, 4));
    }
    for (int j = 0; j < 16; j++) y->qs[j] = (uint8_t)(l[j] | (l[j + 16] << 4));
}
#endif

/* llama-quantize's IQ4_NL path (quantize_iq4_nl -> quantize_row_iq4_nl_impl with block
 * 32, no importance weights, ntry = 7): weights w = x^2; start at d = -max/T[0] and take
 * the least-squares d for that mapping; try the 15 inverse scales (itry + T[0])/max,
 * itry = -7..7, keeping the best (sum wqx)^2/sum wq^2; store d as half and re-map every
 * element with 1/d (the float d, not the half-rounded one). A block with amax < 1e-15
 * gets d = 0 and every element maps to the level nearest 0 (index 8).
 * On CPUs with AVX2 (and QK_FORCE_SCALAR unset) the blocks go through the AVX2 path,
 * which writes the same bytes. */
void qk_quantize_row_iq4_nl_ref(const float *x, void *vy, int64_t k) {
    block_iq4_nl *y = (block_iq4_nl *)vy;
    const int64_t nb = k / QK4_NL;
#ifdef QK_IQ4NL_AVX2
    if (qk_cpu_has_avx2()) {
        for (int64_t i = 0; i < nb; i++) iq4nl_block_avx2(x + i * QK4_NL, &y[i]);
        return;
    }
#endif
    for (int64_t i = 0; i < nb; i++) iq4nl_block_scalar(x + i * QK4_NL, &y[i]);
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
