/*
 * quants_legacy_imat.c — the 32-element types Q4_0, Q4_1, Q5_0, Q5_1 and IQ4_NL with
 * importance weights: what llama-quantize --imatrix writes.
 *
 * Source: llama.cpp ggml/src/ggml-quants.c, commit c392e50: quantize_row_q4_0_impl,
 * quantize_row_q4_1_impl, quantize_row_q5_0_impl, quantize_row_q5_1_impl (called by
 * quantize_q4_0 ... quantize_q5_1 when quant_weights is non-NULL) and quantize_iq4_nl with
 * quant_weights (quantize_row_iq4_nl_impl, blocks of 32, ntry 7). Q8_0 has no such path:
 * quantize_q8_0 ignores the weights. quantize_T applies the same per-column quant_weights
 * to every row, so one call here is one row x of k values with its k column weights qw;
 * block ib uses qw + 32*ib. See llama-cpp-reference.md §2.3.
 *
 * Unlike the reference quantizers (quants_legacy.c), which derive d from the block's
 * extreme value, these search the scale:
 *  - Q4_0 / Q5_0: make_qx_quants(32, nmax 8 / 16) with w = qw * sqrt(sigma2 + x^2),
 *    sigma2 = sum x^2 / k over the whole row;
 *  - Q4_1 / Q5_1: make_qkx3_quants(32, nmax 15 / 31, rmin -0.9, rdelta 0.05, nstep 36)
 *    with the same weights, storing d and m = -min;
 *  - IQ4_NL: the reference's table search with w = qw * sqrt(sigma2 + x^2), sigma2 =
 *    2 * sum x^2 / 32 over the block itself, instead of w = x^2.
 *
 * Invariant: bit-identical to llama.cpp for every input: ggml's float operations in ggml's
 * order, in float, no FMA contraction (-ffp-contract=off). Q4_0 ... Q5_1 run their searches
 * 16 blocks at a time in SIMD lanes when qk_kfit_have_x16() (quants_kfit.c), which gives the
 * same bytes; tests/test_quants_imat.c checks both paths against llama.cpp's files.
 */
#include <math.h>
#include <string.h>

#include "quants.h"
#include "quants_kfit.h"

/* The row's sigma2: sum of x^2 over its n values in order, divided by n. */
static float row_sigma2(const float *x, int64_t n) {
    float s = 0.0f;
    for (int64_t j = 0; j < n; j++) s += x[j] * x[j];
    return s / (float)n;
}

/* w[j] = qw[j] * sqrt(sigma2 + x[j]^2) for n values. */
static void imat_weights(int n, const float *x, const float *qw, float sigma2, float *w) {
    for (int j = 0; j < n; j++) w[j] = qw[j] * sqrtf(sigma2 + x[j] * x[j]);
}

/* Bit 4 of the code of element j goes to bit j of the little-endian u32 qh, the low
 * nibbles to qs (element j low, j+16 high). */
static void pack_5bit(const uint8_t *L, uint8_t *qs, uint8_t qh_out[4]) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((L[j] & 0x0F) | ((L[j + 16] & 0x0F) << 4));
        qh |= (uint32_t)((L[j] >> 4) & 1) << j;
        qh |= (uint32_t)((L[j + 16] >> 4) & 1) << (j + 16);
    }
    for (int b = 0; b < 4; b++) qh_out[b] = (uint8_t)(qh >> (8 * b));
}

static void pack_4bit(const uint8_t *L, uint8_t *qs) {
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
}

/* ======================================================================= Q4_0 ... Q5_1 */

/* Blocks are fitted 16 at a time (one SIMD batch of quants_kfit.c's searches when
 * available; the results do not depend on the grouping): BATCH blocks of 32. */
#define BATCH 16

/* Symmetric types: codes l + nmax in [0, 2*nmax) and d from make_qx_quants (rmse_type 1). */
static void row_symmetric(const float *x, int64_t k, const float *qw, int nmax, void *vy,
                          void (*store)(void *vy, int64_t ib, float d, const uint8_t *L)) {
    const float sigma2 = row_sigma2(x, k);
    const int64_t nb = k / 32;
    float w[BATCH * 32], d[BATCH];
    int8_t L[BATCH * 32];
    for (int64_t i = 0; i < nb; i += BATCH) {
        const int nblk = nb - i < BATCH ? (int)(nb - i) : BATCH;
        imat_weights(32 * nblk, x + 32 * i, qw + 32 * i, sigma2, w);
        qk_make_qx_quants_n(nblk, 32, nmax, x + 32 * i, w, L, d);
        for (int b = 0; b < nblk; b++) store(vy, i + b, d[b], (const uint8_t *)L + 32 * b);
    }
}

/* Types with a min: codes in [0, nmax], d and m = -min from make_qkx3_quants. */
static void row_asymmetric(const float *x, int64_t k, const float *qw, int nmax, void *vy,
                           void (*store)(void *vy, int64_t ib, float d, float m, const uint8_t *L)) {
    const float sigma2 = row_sigma2(x, k);
    const int64_t nb = k / 32;
    float w[BATCH * 32], d[BATCH], the_min[BATCH];
    uint8_t L[BATCH * 32];
    for (int64_t i = 0; i < nb; i += BATCH) {
        const int nblk = nb - i < BATCH ? (int)(nb - i) : BATCH;
        imat_weights(32 * nblk, x + 32 * i, qw + 32 * i, sigma2, w);
        qk_make_qkx3_quants_n(nblk, 32, nmax, x + 32 * i, w, L, the_min, d, -0.9f, 0.05f, 36, 0);
        for (int b = 0; b < nblk; b++) store(vy, i + b, d[b], -the_min[b], L + 32 * b);
    }
}

static void store_q4_0(void *vy, int64_t ib, float d, const uint8_t *L) {
    block_q4_0 *y = (block_q4_0 *)vy + ib;
    y->d = qk_float_to_half(d);
    pack_4bit(L, y->qs);
}

static void store_q5_0(void *vy, int64_t ib, float d, const uint8_t *L) {
    block_q5_0 *y = (block_q5_0 *)vy + ib;
    y->d = qk_float_to_half(d);
    pack_5bit(L, y->qs, y->qh);
}

static void store_q4_1(void *vy, int64_t ib, float d, float m, const uint8_t *L) {
    block_q4_1 *y = (block_q4_1 *)vy + ib;
    y->d = qk_float_to_half(d);
    y->m = qk_float_to_half(m);
    pack_4bit(L, y->qs);
}

static void store_q5_1(void *vy, int64_t ib, float d, float m, const uint8_t *L) {
    block_q5_1 *y = (block_q5_1 *)vy + ib;
    y->d = qk_float_to_half(d);
    y->m = qk_float_to_half(m);
    pack_5bit(L, y->qs, y->qh);
}

void qk_quantize_row_q4_0_imat(const float *x, void *vy, int64_t k, const float *qw) {
    row_symmetric(x, k, qw, 8, vy, store_q4_0);
}

void qk_quantize_row_q5_0_imat(const float *x, void *vy, int64_t k, const float *qw) {
    row_symmetric(x, k, qw, 16, vy, store_q5_0);
}

void qk_quantize_row_q4_1_imat(const float *x, void *vy, int64_t k, const float *qw) {
    row_asymmetric(x, k, qw, 15, vy, store_q4_1);
}

void qk_quantize_row_q5_1_imat(const float *x, void *vy, int64_t k, const float *qw) {
    row_asymmetric(x, k, qw, 31, vy, store_q5_1);
}

/* ======================================================================= IQ4_NL ==== */

/* Index of the table level nearest v (ggml best_index_int8 on kvalues_iq4nl): the ends
 * below T[0] / above T[15]; between T[k-1] and T[k], k-1 only when strictly closer. */
static int iq4nl_index(float v) {
    const int8_t *T = qk_kvalues_iq4nl;
    if (v <= T[0]) return 0;
    if (v >= T[15]) return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (v < T[mid]) hi = mid;
        else lo = mid;
    }
    return v - T[hi - 1] < T[hi] - v ? hi - 1 : hi;
}

/* sum w*q*x and sum w*q^2 over a block for inverse scale id, q = the level of id*x. */
static void iq4nl_sums(const float *x, const float *w, float id, float *sumqx, float *sumq2) {
    float sqx = 0.0f, sq2 = 0.0f;
    for (int j = 0; j < QK4_NL; j++) {
        const float q = (float)qk_kvalues_iq4nl[iq4nl_index(id * x[j])];
        sqx += w[j] * q * x[j];
        sq2 += w[j] * q * q;
    }
    *sumqx = sqx;
    *sumq2 = sq2;
}

/* ---- AVX2: the 16 candidate fits of a block in 16 lanes, same operations per lane. ----
 *
 * For every non-NaN v, iq4nl_index(v) depends only on floor(2v): the level midpoints
 * (T[k-1]+T[k])/2 are multiples of 1/2 (quants_legacy.c checks this equivalence for every
 * float). So a lane looks its level up in a table indexed by floor(2v) clamped to
 * -256..255 (|v| >= 128 is past both ends of the table; NaN goes to the top slot, index
 * 15, as the binary search gives). The sums are the scalar ones, operation for operation
 * ((w*q)*x and (w*q)*q, accumulated over j in order), so the chosen d is the same. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QK_IMAT_IQ4NL_AVX2 1
#include <immintrin.h>
#include <pthread.h>

#include "cpu.h"

static float iq4nl_level_tab[512]; /* level of slot floor(2v) + 256 */
static pthread_once_t iq4nl_tab_once = PTHREAD_ONCE_INIT;

static void iq4nl_tab_init(void) {
    for (int f = -256; f < 256; f++) iq4nl_level_tab[f + 256] = (float)qk_kvalues_iq4nl[iq4nl_index(0.5f * (float)f)];
}

__attribute__((target("avx2"))) static inline __m256 iq4nl_level_x8(__m256 v) {
    __m256 t = _mm256_floor_ps(_mm256_add_ps(v, v));
    t = _mm256_max_ps(_mm256_set1_ps(-256.0f), t); /* a NaN t stays NaN (2nd operand) */
    t = _mm256_min_ps(t, _mm256_set1_ps(255.0f));  /* NaN -> 255 (2nd operand) */
    return _mm256_i32gather_ps(iq4nl_level_tab + 256, _mm256_cvttps_epi32(t), 4);
}

/* sqx[c], sq2[c] = iq4nl_sums for the inverse scales ids[0..15]. */
__attribute__((target("avx2"))) static void iq4nl_sums_x16(const float *x, const float *w, const float *ids,
                                                          float *sqx, float *sq2) {
    const __m256 id0 = _mm256_loadu_ps(ids), id1 = _mm256_loadu_ps(ids + 8);
    __m256 sx0 = _mm256_setzero_ps(), s20 = _mm256_setzero_ps();
    __m256 sx1 = _mm256_setzero_ps(), s21 = _mm256_setzero_ps();
    for (int j = 0; j < QK4_NL; j++) {
        const __m256 xv = _mm256_set1_ps(x[j]), wv = _mm256_set1_ps(w[j]);
        const __m256 q0 = iq4nl_level_x8(_mm256_mul_ps(id0, xv)), q1 = iq4nl_level_x8(_mm256_mul_ps(id1, xv));
        const __m256 wq0 = _mm256_mul_ps(wv, q0), wq1 = _mm256_mul_ps(wv, q1);
        sx0 = _mm256_add_ps(sx0, _mm256_mul_ps(wq0, xv));
        s20 = _mm256_add_ps(s20, _mm256_mul_ps(wq0, q0));
        sx1 = _mm256_add_ps(sx1, _mm256_mul_ps(wq1, xv));
        s21 = _mm256_add_ps(s21, _mm256_mul_ps(wq1, q1));
    }
    _mm256_storeu_ps(sqx, sx0);
    _mm256_storeu_ps(sqx + 8, sx1);
    _mm256_storeu_ps(sq2, s20);
    _mm256_storeu_ps(sq2 + 8, s21);
}
#endif

/* The 16 candidate sums of a block (in SIMD lanes when simd; the same values either way). */
static void iq4nl_candidates(const float *x, const float *w, const float *ids, int simd, float *sqx, float *sq2) {
#ifdef QK_IMAT_IQ4NL_AVX2
    if (simd) {
        iq4nl_sums_x16(x, w, ids, sqx, sq2);
        return;
    }
#endif
    (void)simd;
    for (int c = 0; c < 16; c++) iq4nl_sums(x, w, ids[c], &sqx[c], &sq2[c]);
}

/* One block: start at d = -max/T[0] and its least-squares d, then the inverse scales
 * (itry + T[0])/max for itry = -7..7, keeping the largest (sum wqx)^2 / sum wq^2; d is
 * stored as half and every element re-mapped with 1/d (the float d). A block with
 * amax < GROUP_MAX_EPS gets d = 0 and every code the level nearest 0. */
static void iq4nl_block(const float *x, const float *qw, int simd, block_iq4_nl *y) {
    const int8_t *T = qk_kvalues_iq4nl;
    float sigma2 = 0.0f;
    for (int j = 0; j < QK4_NL; j++) sigma2 += x[j] * x[j];
    sigma2 *= 2.f / QK4_NL;
    float w[QK4_NL];
    imat_weights(QK4_NL, x, qw, sigma2, w);
    float amax;
    const float max = qk_signed_absmax(QK4_NL, x, &amax);
    float d = 0.0f;
    if (!(amax < QK_GROUP_MAX_EPS)) {
        /* candidate 0: the start scale; 1..15: itry = -7..7 */
        float ids[16], sqx[16], sq2[16];
        ids[0] = 1 / (-max / T[0]);
        for (int itry = -7; itry <= 7; itry++) ids[itry + 8] = (float)(itry + T[0]) / max;
        iq4nl_candidates(x, w, ids, simd, sqx, sq2);
        d = sqx[0] / sq2[0];
        float best = d * sqx[0];
        for (int c = 1; c < 16; c++) {
            if (sq2[c] > 0 && sqx[c] * sqx[c] > best * sq2[c]) {
                d = sqx[c] / sq2[c];
                best = d * sqx[c];
            }
        }
    }
    y->d = qk_float_to_half(d);
    const float id = d != 0.0f ? 1 / d : 0.0f;
    for (int j = 0; j < 16; j++)
        y->qs[j] = (uint8_t)(iq4nl_index(id * x[j]) | (iq4nl_index(id * x[j + 16]) << 4));
}

void qk_quantize_row_iq4_nl_imat(const float *x, void *vy, int64_t k, const float *qw) {
    block_iq4_nl *y = vy;
    int simd = 0;
#ifdef QK_IMAT_IQ4NL_AVX2
    if (qk_cpu_has_avx2()) {
        pthread_once(&iq4nl_tab_once, iq4nl_tab_init);
        simd = 1;
    }
#endif
    for (int64_t ib = 0; ib < k / QK4_NL; ib++) iq4nl_block(x + QK4_NL * ib, qw + QK4_NL * ib, simd, &y[ib]);
}
