/*
 * test_kernels_k.c — Check suite for the AVX2 K-quant kernels (engine/quants_k_avx2.c)
 * against the scalar references (engine/quants_k.c).
 *
 * The scalar kernels are called by name (qk_vec_dot_q4_K_q8_K ...), the SIMD ones through
 * the type table (qk_type_get(QK_TYPE_Q4_K)->vec_dot), which holds them when
 * qk_cpu_has_avx2(). The comparisons form the "avx2" test case (QK_TEST_TAG_AVX2): where
 * the kernels in use lack AVX2 (CPU without it, QK_FORCE_SCALAR=1) ctest reports that part
 * Skipped. The untagged "table" case checks on every machine that the table holds the
 * kernels qk_cpu_has_avx2() says: SIMD ones with AVX2, the scalar references without.
 *
 * What it pins down:
 * - exact agreement: with power-of-two d, dmin and Q8_K d, and activations small enough
 *   that every partial sum is an integer below 2^24 in units of d_x*d_y, every float
 *   operation of both kernels is exact, so SIMD and scalar must return the same float.
 *   The blocks hold random bytes (every code, every 6-bit/4-bit scale and min, every hmask
 *   and qh bit pattern); two activation regimes: dense in -3..3 (all positions at once)
 *   and sparse full-range -128..127 (8 random positions per block);
 * - tolerance agreement on realistic rows (Gaussian weights quantized with the reference
 *   quantizers, Gaussian activations through Q8_K) and on edge rows (all codes and scales
 *   at their maximum, zero scales, zero d, activations all 127 / all -128 / alternating),
 *   lengths 256, 2048 and 4864 = 19*256 (Qwen2.5-0.5B's ffn_down row):
 *   |simd - scalar| <= 1e-5 * M, where M = sum over elements of |a_e| * (|w_e| + |min_e|)
 *   (w_e the dequantized weight, a_e the dequantized activation, min_e the sub-block's
 *   dmin*m, or the code offset 4|d*sc| / 32|d*sc| of Q3_K / Q6_K) bounds every partial sum
 *   either kernel forms. Both kernels round at most
 *   about nb + 10 times (nb = 19 super-blocks) at 2^-24 relative each, ~2e-6 * M, so
 *   1e-5 leaves a 5x margin; a single wrong product of typical size is far larger;
 * - the fast Q8_K quantizer writes the same bytes as qk_quantize_row_q8_K_ref on Gaussian
 *   rows, tied maxima of both signs, all-zero / -0.0 blocks, tiny and huge values,
 *   rounding ties (x*iscale = k + 0.5), and NaN / inf inputs;
 * - the SIMD dequantizers (the table's to_float) give the same float bits as
 *   qk_dequantize_row_* (NaN payloads included) and write nothing past the row, at every
 *   length 256 .. 4864, from input addresses off the vector alignment (2 bytes past it: the
 *   blocks' own fp16 alignment) and into unaligned outputs: on blocks of
 *   random bytes (every code, scale, min, hmask/qh bit) with random finite fp16 d/dmin of
 *   any exponent, and with random d/dmin bits; on Gaussian rows through the reference
 *   quantizers; on edge blocks (d/dmin = +-0, fp16 subnormals, largest finite, +-inf,
 *   quiet/signalling NaNs, crossed with constant and random code bytes). Every product
 *   d*sc*q of these types is exact in float (11 + 6 + 6 significant bits), so only the
 *   final subtraction rounds; a fused multiply-subtract shows up in the NaN signs of the
 *   inf*0 - inf cases of the edge blocks.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "quants.h"
#include "quants_kfit.h"
#include "testutil.h"
#include "types.h"

/* ---- deterministic data -------------------------------------------------------------- */

static uint64_t rng_state;
static void rng_seed(uint64_t s) { rng_state = s * 0x9E3779B97F4A7C15ull + 1; }
static uint64_t rng_u64(void) { return qk_test_splitmix64(&rng_state); }
static double rng_uniform(void) { return ((double)(rng_u64() >> 11) + 0.5) / 9007199254740992.0; }
static float rng_gauss(void) {
    double u = rng_uniform(), v = rng_uniform();
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}
static int rng_int(int lo, int hi) { return lo + (int)(rng_u64() % (uint64_t)(hi - lo + 1)); }
static void rng_bytes(void *p, size_t n) {
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)rng_u64();
}

/* ---- the kernels under test ------------------------------------------------------------ */

typedef struct kkernel {
    const char *name;
    qk_type type;
    size_t bsize;
    qk_vec_dot_fn scalar;
    void (*quantize)(const float *, void *, int64_t);
    void (*dequantize)(const void *, float *, int64_t);
} kkernel;

static const kkernel KK[] = {
    {"Q2_K", QK_TYPE_Q2_K, sizeof(block_q2_K), qk_vec_dot_q2_K_q8_K, qk_quantize_row_q2_K_ref,
     qk_dequantize_row_q2_K},
    {"Q3_K", QK_TYPE_Q3_K, sizeof(block_q3_K), qk_vec_dot_q3_K_q8_K, qk_quantize_row_q3_K_ref,
     qk_dequantize_row_q3_K},
    {"Q4_K", QK_TYPE_Q4_K, sizeof(block_q4_K), qk_vec_dot_q4_K_q8_K, qk_quantize_row_q4_K_ref,
     qk_dequantize_row_q4_K},
    {"Q5_K", QK_TYPE_Q5_K, sizeof(block_q5_K), qk_vec_dot_q5_K_q8_K, qk_quantize_row_q5_K_ref,
     qk_dequantize_row_q5_K},
    {"Q6_K", QK_TYPE_Q6_K, sizeof(block_q6_K), qk_vec_dot_q6_K_q8_K, qk_quantize_row_q6_K_ref,
     qk_dequantize_row_q6_K},
};
#define N_KK ((int)(sizeof KK / sizeof KK[0]))

static const int LENGTHS[] = {256, 2048, 4864};
#define N_LEN ((int)(sizeof LENGTHS / sizeof LENGTHS[0]))
#define MAX_LEN 4864

/* The SIMD kernel of type t (the "avx2" case runs only where qk_cpu_has_avx2()). */
static qk_vec_dot_fn simd_kernel(int t) {
    const qk_type_traits *tt = qk_type_get(KK[t].type);
    ck_assert_ptr_nonnull(tt);
    ck_assert_int_eq(tt->vec_dot_type, QK_TYPE_Q8_K);
    ck_assert_msg(qk_cpu_has_avx2(), "the avx2 case ran without AVX2 kernels");
    ck_assert_msg(tt->vec_dot != KK[t].scalar, "%s: AVX2 CPU but table holds the scalar kernel",
                  KK[t].name);
    return tt->vec_dot;
}

/* The part of element e's level that the kernels subtract out: |dmin*m| of its sub-block
 * for the types with a min; for the symmetric types, whose codes the SIMD kernels take
 * unsigned and correct through bsums, the offset |d*sc| * 4 (Q3_K) or * 32 (Q6_K). So
 * |d*sc*code| <= |w_e| + block_min for every partial product either kernel forms. */
static float block_min(int t, const void *blk, int e) {
    uint8_t sc, m;
    switch (KK[t].type) {
    case QK_TYPE_Q3_K: {
        const block_q3_K *b = blk;
        return 4 * fabsf(qk_half_to_float(b->d) * (float)qk_get_scale_q3_K(e / 16, b->scales));
    }
    case QK_TYPE_Q6_K: {
        const block_q6_K *b = blk;
        return 32 * fabsf(qk_half_to_float(b->d) * (float)b->scales[e / 16]);
    }
    case QK_TYPE_Q2_K: {
        const block_q2_K *b = blk;
        return fabsf(qk_half_to_float(b->dmin) * (float)(b->scales[e / 16] >> 4));
    }
    case QK_TYPE_Q4_K: {
        const block_q4_K *b = blk;
        qk_get_scale_min_k4(e / 32, b->scales, &sc, &m);
        return fabsf(qk_half_to_float(b->dmin) * (float)m);
    }
    case QK_TYPE_Q5_K: {
        const block_q5_K *b = blk;
        qk_get_scale_min_k4(e / 32, b->scales, &sc, &m);
        return fabsf(qk_half_to_float(b->dmin) * (float)m);
    }
    default: return 0;
    }
}

/* M = sum_e |a_e| * (|w_e| + |min_e|): a bound on every partial sum of the dot product. */
static double term_mass(int t, const uint8_t *w, const block_q8_K *a, int n) {
    static float wf[MAX_LEN], af[MAX_LEN];
    KK[t].dequantize(w, wf, n);
    qk_dequantize_row_q8_K(a, af, n);
    double m = 0;
    for (int e = 0; e < n; e++) {
        const void *blk = w + (size_t)(e / QK_K) * KK[t].bsize;
        m += fabs((double)af[e]) * (fabs((double)wf[e]) + block_min(t, blk, e % QK_K));
    }
    return m;
}

/* Fill bsums from qs (Q8_K's definition). */
static void q8_K_fix_bsums(block_q8_K *b) {
    for (int j = 0; j < QK_K / 16; j++) {
        int s = 0;
        for (int l = 0; l < 16; l++) s += b->qs[16 * j + l];
        b->bsums[j] = (int16_t)s;
    }
}

/* Set a block's d (and dmin where the type has one) to the fp16 values given. */
static void set_d(int t, void *blk, qk_half d, qk_half dmin) {
    switch (KK[t].type) {
    case QK_TYPE_Q2_K: ((block_q2_K *)blk)->d = d; ((block_q2_K *)blk)->dmin = dmin; break;
    case QK_TYPE_Q3_K: ((block_q3_K *)blk)->d = d; break;
    case QK_TYPE_Q4_K: ((block_q4_K *)blk)->d = d; ((block_q4_K *)blk)->dmin = dmin; break;
    case QK_TYPE_Q5_K: ((block_q5_K *)blk)->d = d; ((block_q5_K *)blk)->dmin = dmin; break;
    default: ((block_q6_K *)blk)->d = d; break;
    }
}

static void compare_tol(int t, qk_vec_dot_fn simd, const uint8_t *w, const block_q8_K *a, int n,
                        const char *what) {
    float r = NAN, v = NAN;
    KK[t].scalar(n, &r, w, a);
    simd(n, &v, w, a);
    const double m = term_mass(t, w, a, n);
    ck_assert_msg(isfinite(r) && isfinite(v), "%s %s n=%d: non-finite result %g / %g", KK[t].name,
                  what, n, r, v);
    ck_assert_msg(fabs((double)v - r) <= 1e-5 * m, "%s %s n=%d: simd %.9g scalar %.9g (M %.6g)",
                  KK[t].name, what, n, v, r, m);
}

/* ---- exact agreement -------------------------------------------------------------------- */

START_TEST(test_exact) {
    const int t = _i;
    qk_vec_dot_fn simd = simd_kernel(t);
    static uint8_t w[MAX_LEN / QK_K * sizeof(block_q6_K)];
    static block_q8_K a[MAX_LEN / QK_K];
    rng_seed(100 + (uint64_t)t);
    int checked = 0;
    for (int trial = 0; trial < 400; trial++) {
        const int nb = 1 + trial % 2; /* 256 and 512: partial sums stay below 2^24 */
        const int sparse = trial % 4 >= 2;
        rng_bytes(w, (size_t)nb * KK[t].bsize);
        for (int b = 0; b < nb; b++) {
            /* d = 2^-8, dmin = 2^-9 (fp16 0x1C00, 0x1800); Q8_K d = 2^-4 */
            set_d(t, w + (size_t)b * KK[t].bsize, 0x1C00, 0x1800);
            a[b].d = 0.0625f;
            if (sparse) {
                memset(a[b].qs, 0, QK_K);
                for (int k = 0; k < 8; k++) a[b].qs[rng_int(0, QK_K - 1)] = (int8_t)rng_int(-128, 127);
            } else {
                for (int e = 0; e < QK_K; e++) a[b].qs[e] = (int8_t)rng_int(-3, 3);
            }
            q8_K_fix_bsums(&a[b]);
        }
        /* Exactness needs every partial sum to be an integer below 2^24 in units of
         * dmin*d_y = 2^-13 (d*d_y = 2^-12 is a multiple of it): M bounds them all. Typical
         * M is ~2^21-2^23 in these units; a trial above 2^24 is skipped (none is, at these
         * seeds, but the bound is checked rather than assumed). */
        const double m = term_mass(t, w, a, nb * QK_K) / (0.00390625 * 0.0625 / 2);
        if (m >= 16777216.0) continue;
        float r = NAN, v = NAN;
        KK[t].scalar(nb * QK_K, &r, w, a);
        simd(nb * QK_K, &v, w, a);
        ck_assert_msg(r == v, "%s trial %d (%s, n=%d): simd %.9g != scalar %.9g", KK[t].name, trial,
                      sparse ? "sparse" : "dense", nb * QK_K, v, r);
        checked++;
    }
    ck_assert_msg(checked >= 300, "%s: only %d of 400 exact trials within 2^24", KK[t].name, checked);
}
END_TEST

/* ---- realistic rows -------------------------------------------------------------------- */

START_TEST(test_gauss_rows) {
    const int t = _i;
    qk_vec_dot_fn simd = simd_kernel(t);
    static float xf[MAX_LEN], af[MAX_LEN];
    static uint8_t w[MAX_LEN / QK_K * sizeof(block_q6_K)];
    static block_q8_K a[MAX_LEN / QK_K];
    rng_seed(200 + (uint64_t)t);
    for (int li = 0; li < N_LEN; li++) {
        const int n = LENGTHS[li];
        for (int trial = 0; trial < 6; trial++) {
            const float ws = trial < 3 ? 0.02f : 1.0f; /* 0.02: Q6_K d is fp16-subnormal */
            const float as = trial % 3 == 0 ? 50.0f : 1.0f;
            for (int e = 0; e < n; e++) {
                xf[e] = ws * rng_gauss();
                af[e] = as * rng_gauss();
            }
            if (trial % 2) xf[rng_int(0, n - 1)] *= 20; /* an outlier */
            KK[t].quantize(xf, w, n);
            qk_quantize_row_q8_K_ref(af, a, n);
            compare_tol(t, simd, w, a, n, "gauss");
        }
        /* random bytes everywhere (any code, scale, min), random fp16 d in a sane range */
        for (int trial = 0; trial < 20; trial++) {
            rng_bytes(w, (size_t)(n / QK_K) * KK[t].bsize);
            for (int b = 0; b < n / QK_K; b++) {
                set_d(t, w + (size_t)b * KK[t].bsize, qk_float_to_half(ldexpf((float)rng_uniform(), -rng_int(0, 12))),
                      qk_float_to_half(ldexpf((float)rng_uniform(), -rng_int(0, 12))));
                a[b].d = ldexpf((float)rng_uniform(), -rng_int(0, 10));
                rng_bytes(a[b].qs, QK_K);
                q8_K_fix_bsums(&a[b]);
            }
            compare_tol(t, simd, w, a, n, "random bytes");
        }
    }
}
END_TEST

/* ---- edge rows ------------------------------------------------------------------------- */

/* Fill a block with one byte value everywhere except d/dmin. */
static void fill_block(int t, void *blk, uint8_t byte, qk_half d, qk_half dmin) {
    memset(blk, byte, KK[t].bsize);
    set_d(t, blk, d, dmin);
}

START_TEST(test_edges) {
    const int t = _i;
    qk_vec_dot_fn simd = simd_kernel(t);
    static uint8_t w[MAX_LEN / QK_K * sizeof(block_q6_K)];
    static block_q8_K a[MAX_LEN / QK_K];
    /* weight patterns: all bits set (max codes; max 6-bit scales and mins; Q3_K scale +31,
     * Q6_K scale -1), all zero (min codes, zero scales: Q3_K -32, Q6_K 0), 0x80 / 0x7F
     * (Q6_K scales -128 / 127), 0x55 / 0xAA mixes; d = 1, 2^-14 or 0 */
    static const uint8_t wbytes[] = {0xFF, 0x00, 0x80, 0x7F, 0x55, 0xAA};
    static const qk_half dvals[] = {0x3C00, 0x0400, 0x0000};
    /* activation patterns: all 127, all -128, alternating 127/-128, alternating -128/127 */
    for (int li = 0; li < N_LEN; li++) {
        const int n = LENGTHS[li], nb = n / QK_K;
        for (int ap = 0; ap < 4; ap++) {
            for (int b = 0; b < nb; b++) {
                a[b].d = ap < 2 ? 1.0f : 3.0517578125e-05f;
                for (int e = 0; e < QK_K; e++) {
                    int v = ap == 0 ? 127 : ap == 1 ? -128 : ((e + ap) % 2 ? 127 : -128);
                    a[b].qs[e] = (int8_t)v;
                }
                q8_K_fix_bsums(&a[b]);
            }
            for (size_t wp = 0; wp < sizeof wbytes; wp++)
                for (size_t dv = 0; dv < sizeof dvals / sizeof dvals[0]; dv++) {
                    for (int b = 0; b < nb; b++)
                        fill_block(t, w + (size_t)b * KK[t].bsize, wbytes[wp], dvals[dv], dvals[(dv + 1) % 3]);
                    compare_tol(t, simd, w, a, n, "edge");
                }
            /* mixed: random blocks with some sub-block scales forced to zero/max */
            rng_seed(300 + (uint64_t)(t * 16 + ap));
            for (int trial = 0; trial < 4; trial++) {
                rng_bytes(w, (size_t)nb * KK[t].bsize);
                for (int b = 0; b < nb; b++) set_d(t, w + (size_t)b * KK[t].bsize, 0x3C00, 0x3800);
                compare_tol(t, simd, w, a, n, "edge-activations random weights");
            }
        }
    }
    /* all-zero activation blocks (Q8_K of a zero row: d = 0, codes and bsums 0) */
    memset(a, 0, sizeof a);
    rng_bytes(w, (size_t)(MAX_LEN / QK_K) * KK[t].bsize);
    for (int b = 0; b < MAX_LEN / QK_K; b++) set_d(t, w + (size_t)b * KK[t].bsize, 0x3C00, 0x3800);
    float r = 1, v = 1;
    KK[t].scalar(MAX_LEN, &r, w, a);
    simd(MAX_LEN, &v, w, a);
    ck_assert_msg(r == 0 && v == 0, "%s: zero activations give %g / %g", KK[t].name, v, r);
}
END_TEST

/* ---- Q8_K quantizer ---------------------------------------------------------------------- */

/* Quantize n floats with both quantizers into buffers pre-filled with different garbage
 * and compare the bytes. */
static void q8_K_same_bytes(qk_from_float_fn fast, const float *x, int n, const char *what) {
    static block_q8_K r[MAX_LEN / QK_K], v[MAX_LEN / QK_K];
    memset(r, 0xA5, sizeof r);
    memset(v, 0x5A, sizeof v);
    qk_quantize_row_q8_K_ref(x, r, n);
    fast(x, v, n);
    for (int b = 0; b < n / QK_K; b++)
        ck_assert_msg(memcmp(&r[b], &v[b], sizeof r[b]) == 0,
                      "Q8_K %s n=%d: block %d differs (d %.9g vs %.9g, qs[0] %d vs %d, bsums[0] %d vs %d)",
                      what, n, b, r[b].d, v[b].d, r[b].qs[0], v[b].qs[0], r[b].bsums[0], v[b].bsums[0]);
}

START_TEST(test_q8_K_quantizer) {
    const qk_type_traits *tt = qk_type_get(QK_TYPE_Q8_K);
    ck_assert_ptr_nonnull(tt);
    ck_assert_msg(tt->quantize_ref == qk_quantize_row_q8_K_ref, "Q8_K quantize_ref replaced");
    ck_assert_msg(tt->from_float != qk_quantize_row_q8_K_ref, "AVX2 CPU but from_float is the reference");
    qk_from_float_fn fast = tt->from_float;
    static float x[MAX_LEN];
    rng_seed(400);
    for (int li = 0; li < N_LEN; li++) {
        const int n = LENGTHS[li];
        for (int trial = 0; trial < 50; trial++) {
            const float sc = ldexpf(1.0f, rng_int(-30, 30));
            for (int e = 0; e < n; e++) x[e] = sc * rng_gauss();
            q8_K_same_bytes(fast, x, n, "gauss");
        }
    }
    /* tied maxima of both signs, in both orders, at various positions */
    for (int trial = 0; trial < 64; trial++) {
        for (int e = 0; e < 2048; e++) x[e] = rng_gauss();
        for (int b = 0; b < 8; b++) {
            const int p1 = rng_int(0, 255), p2 = rng_int(0, 255);
            x[b * 256 + p1] = (trial & 1) ? 9.0f : -9.0f;
            x[b * 256 + p2] = (trial & 1) ? -9.0f : 9.0f;
        }
        q8_K_same_bytes(fast, x, 2048, "tied max");
    }
    /* rounding ties: max = -127 makes iscale = 1, so x = k + 0.5 are exact ties */
    for (int e = 0; e < 256; e++) x[e] = (float)(e % 254 - 127) + 0.5f;
    x[7] = -127.0f;
    q8_K_same_bytes(fast, x, 256, "ties");
    /* values just around the 127 cap: max positive -> iscale = -127/max */
    for (int e = 0; e < 256; e++) x[e] = (e % 2 ? 1.0f : -1.0f) * (1.0f - ldexpf((float)(e % 5), -24));
    q8_K_same_bytes(fast, x, 256, "near cap");
    /* all zero, all -0.0, zero block followed by a normal one */
    memset(x, 0, 512 * sizeof(float));
    q8_K_same_bytes(fast, x, 512, "zero");
    for (int e = 0; e < 256; e++) x[e] = -0.0f;
    for (int e = 256; e < 512; e++) x[e] = rng_gauss();
    q8_K_same_bytes(fast, x, 512, "-0 then gauss");
    /* tiny (subnormal) and huge values */
    for (int e = 0; e < 256; e++) x[e] = ldexpf(rng_gauss(), -140);
    for (int e = 256; e < 512; e++) x[e] = ldexpf(rng_gauss(), 120);
    q8_K_same_bytes(fast, x, 512, "tiny/huge");
    /* a single nonzero element */
    memset(x, 0, 256 * sizeof(float));
    x[200] = -3.0f;
    q8_K_same_bytes(fast, x, 256, "single");
    /* NaN and inf: garbage, but the same garbage */
    for (int e = 0; e < 768; e++) x[e] = rng_gauss();
    x[5] = NAN;
    x[256 + 9] = INFINITY;
    x[512 + 0] = -INFINITY;
    x[512 + 1] = NAN;
    q8_K_same_bytes(fast, x, 768, "nan/inf");
    for (int e = 0; e < 256; e++) x[e] = NAN;
    q8_K_same_bytes(fast, x, 256, "all nan");
}
END_TEST

/* ---- dequantizers (to_float) ------------------------------------------------------------ */

/* The table's to_float of type t (the "avx2" case runs only where qk_cpu_has_avx2()). */
static qk_to_float_fn simd_to_float(int t) {
    const qk_type_traits *tt = qk_type_get(KK[t].type);
    ck_assert_ptr_nonnull(tt);
    ck_assert_msg(tt->to_float != KK[t].dequantize, "%s: AVX2 CPU but to_float is the scalar one", KK[t].name);
    return tt->to_float;
}

#define DQ_GUARD 16 /* floats past the row that must stay untouched */

/* Dequantize n elements of w with both functions into buffers pre-filled with different
 * garbage; the n floats must have the same bits (NaN payloads included) and the SIMD
 * function must not write past them. out_off shifts the SIMD output by that many floats
 * (unaligned rows). */
static void dq_same_bits(int t, qk_to_float_fn f, const void *w, int n, int out_off, const char *what) {
    static float r[MAX_LEN], vbuf[MAX_LEN + DQ_GUARD + 8];
    float *v = vbuf + out_off;
    memset(r, 0xA5, sizeof r);
    memset(vbuf, 0x5A, sizeof vbuf);
    KK[t].dequantize(w, r, n);
    f(w, v, n);
    for (int e = 0; e < n; e++) {
        uint32_t a, b;
        memcpy(&a, &r[e], 4);
        memcpy(&b, &v[e], 4);
        if (a != b)
            ck_abort_msg("%s to_float %s n=%d: element %d (block %d, index %d) simd %.9g (0x%08x) "
                         "scalar %.9g (0x%08x)",
                         KK[t].name, what, n, e, e / QK_K, e % QK_K, v[e], b, r[e], a);
    }
    for (int e = n; e < n + DQ_GUARD; e++) {
        uint32_t b;
        memcpy(&b, &v[e], 4);
        ck_assert_msg(b == 0x5A5A5A5Au, "%s to_float %s n=%d: wrote past the row (float %d)", KK[t].name,
                      what, n, e);
    }
}

/* A random finite fp16 value of any exponent (subnormals and zeros included), either sign. */
static qk_half rng_finite_half(void) {
    qk_half h;
    do h = (qk_half)rng_u64();
    while ((h & 0x7C00) == 0x7C00);
    return h;
}

/* Random bytes everywhere (every code, scale, min, hmask/qh bit), d and dmin finite fp16
 * of any magnitude; every length 256 .. 4864; SIMD output aligned and unaligned; and a
 * pass with d/dmin random bits too (inf and NaN included). */
START_TEST(test_to_float_random) {
    const int t = _i;
    qk_to_float_fn f = simd_to_float(t);
    _Alignas(64) static uint8_t wbuf[MAX_LEN / QK_K * sizeof(block_q6_K) + 2];
    rng_seed(500 + (uint64_t)t);
    int tested = 0;
    for (int n = QK_K; n <= MAX_LEN; n += QK_K) {
        for (int trial = 0; trial < 12; trial++) {
            /* odd trials read the blocks from 2 bytes past the vector alignment */
            uint8_t *w = wbuf + 2 * (trial & 1);
            const int nb = n / QK_K;
            rng_bytes(w, (size_t)nb * KK[t].bsize);
            if (trial < 10)
                for (int b = 0; b < nb; b++)
                    set_d(t, w + (size_t)b * KK[t].bsize, rng_finite_half(), rng_finite_half());
            dq_same_bits(t, f, w, n, trial % 3, trial < 10 ? "random bytes" : "random bytes and d");
            tested++;
        }
    }
    ck_assert_int_eq(tested, 19 * 12);
}
END_TEST

/* Gaussian rows through the reference quantizers: small weights (fp16-subnormal d for
 * the finer types), unit weights, outliers, a row with a zero sub-block. */
START_TEST(test_to_float_gauss) {
    const int t = _i;
    qk_to_float_fn f = simd_to_float(t);
    static float xf[MAX_LEN];
    static uint8_t w[MAX_LEN / QK_K * sizeof(block_q6_K)];
    rng_seed(600 + (uint64_t)t);
    for (int n = QK_K; n <= MAX_LEN; n += QK_K) {
        for (int trial = 0; trial < 4; trial++) {
            const float ws = trial == 0 ? 0.0005f : trial == 1 ? 0.02f : 1.0f;
            for (int e = 0; e < n; e++) xf[e] = ws * rng_gauss();
            if (trial == 2) xf[rng_int(0, n - 1)] *= 30; /* an outlier */
            if (trial == 3) memset(xf + 16 * rng_int(0, n / 16 - 1), 0, 16 * sizeof(float));
            KK[t].quantize(xf, w, n);
            dq_same_bits(t, f, w, n, 0, "gauss");
        }
    }
}
END_TEST

/* Edge blocks: d and dmin at +-0, the smallest and largest fp16 subnormals, the smallest
 * normal, the largest finite, +-inf, quiet and signalling NaNs of both signs (inf * 0
 * codes give NaN, NaN payloads must match), with all-zero, all-ones, alternating and
 * random code/scale bytes. */
START_TEST(test_to_float_edges) {
    const int t = _i;
    qk_to_float_fn f = simd_to_float(t);
    static const qk_half dv[] = {0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xBC00,
                                 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x7C01, 0x7D55};
    enum { ND = sizeof dv / sizeof dv[0] };
    static const uint8_t fill[] = {0x00, 0xFF, 0x55, 0xAA, 0x80, 0x7F};
    /* one block per (d, dmin, fill) combination: ND*ND*(fill + 1 random) blocks, dequantized
     * as rows of up to 19 blocks */
    static uint8_t w[MAX_LEN / QK_K * sizeof(block_q6_K)];
    rng_seed(700 + (uint64_t)t);
    const int nfill = (int)sizeof fill + 1, total = ND * ND * nfill;
    int b = 0, rows = 0;
    for (int c = 0; c < total; c++) {
        const int di = c % ND, mi = (c / ND) % ND, fi = c / (ND * ND);
        uint8_t *blk = w + (size_t)b * KK[t].bsize;
        if (fi < (int)sizeof fill) memset(blk, fill[fi], KK[t].bsize);
        else rng_bytes(blk, KK[t].bsize);
        set_d(t, blk, dv[di], dv[mi]);
        if (++b == MAX_LEN / QK_K || c == total - 1) {
            dq_same_bits(t, f, w, b * QK_K, rows % 2, "edge");
            b = 0;
            rows++;
        }
    }
    ck_assert_int_eq(rows, (total + MAX_LEN / QK_K - 1) / (MAX_LEN / QK_K));
    /* the edge rows must really produce the special values being compared */
    static float y[QK_K];
    memset(w, 0xFF, KK[t].bsize);
    set_d(t, w, 0x7C00, 0x7C00); /* +inf: every code/scale nonzero -> inf or NaN (inf - inf) */
    f(w, y, QK_K);
    for (int e = 0; e < QK_K; e++) ck_assert_msg(!isfinite(y[e]), "%s: inf d gives finite %g", KK[t].name, y[e]);
    set_d(t, w, 0x0001, 0x0000); /* smallest subnormal d, zero dmin */
    f(w, y, QK_K);
    for (int e = 0; e < QK_K; e++)
        ck_assert_msg(y[e] != 0 && fabsf(y[e]) < 1e-3f, "%s: subnormal d gives %g", KK[t].name, y[e]);
}
END_TEST

/* On every machine: the table holds the SIMD kernels exactly when qk_cpu_has_avx2(). */
START_TEST(test_table_matches_cpu) {
    const int t = _i;
    const qk_type_traits *tt = qk_type_get(KK[t].type), *q8 = qk_type_get(QK_TYPE_Q8_K);
    ck_assert(tt && q8);
    const bool simd = qk_cpu_has_avx2();
    ck_assert_msg((tt->vec_dot != KK[t].scalar) == simd, "%s vec_dot: SIMD %d, kernels in use %s", KK[t].name,
                  tt->vec_dot != KK[t].scalar, qk_cpu_kernels());
    ck_assert_msg((tt->to_float != KK[t].dequantize) == simd, "%s to_float: SIMD %d, kernels in use %s",
                  KK[t].name, tt->to_float != KK[t].dequantize, qk_cpu_kernels());
    ck_assert_msg((q8->from_float != qk_quantize_row_q8_K_ref) == simd, "Q8_K from_float, kernels in use %s",
                  qk_cpu_kernels());
    ck_assert_msg(q8->quantize_ref == qk_quantize_row_q8_K_ref, "Q8_K quantize_ref replaced");
}
END_TEST

static Suite *kernels_k_suite(void) {
    Suite *s = suite_create("kernels_k");
    TCase *tc = tcase_create("table");
    tcase_add_loop_test(tc, test_table_matches_cpu, 0, N_KK);
    suite_add_tcase(s, tc);
    tc = tcase_create("avx2_vs_scalar");
    tcase_set_tags(tc, QK_TEST_TAG_AVX2);
    tcase_add_loop_test(tc, test_exact, 0, N_KK);
    tcase_add_loop_test(tc, test_gauss_rows, 0, N_KK);
    tcase_add_loop_test(tc, test_edges, 0, N_KK);
    tcase_add_test(tc, test_q8_K_quantizer);
    tcase_add_loop_test(tc, test_to_float_random, 0, N_KK);
    tcase_add_loop_test(tc, test_to_float_gauss, 0, N_KK);
    tcase_add_loop_test(tc, test_to_float_edges, 0, N_KK);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return qk_test_main(kernels_k_suite()); }
