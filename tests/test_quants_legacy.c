/*
 * test_quants_legacy.c — the F32/F16/BF16 conversions and the 32-element quant types
 * (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, IQ4_NL) of engine/quants_float.c and
 * engine/quants_legacy.c.
 *
 * What is checked:
 *  - round trip: quantize -> dequantize stays within an error bound derived from each
 *    format (see the bound_* functions), on deterministic pseudo-random blocks of many
 *    magnitudes and on edge cases (all zeros, constant, one outlier, negative max);
 *  - exact bytes of one hand-computed block per type (the arithmetic is in the comments);
 *  - each vec_dot kernel equals the dot product of the dequantized rows within a stated
 *    tolerance, and the F32/F16/BF16 dot products equal a double-precision sum;
 *  - F16/BF16 rounding: ties to even, subnormals, overflow, inf, NaN.
 * Bit-exactness against llama.cpp on real tensors is tests/test_quant_golden.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quants.h"
#include "testutil.h"
#include "types.h"

/* ------------------------------------------------------------------ data -------- */

static uint64_t rng_state;
static uint64_t rng_next(void) { return qk_test_splitmix64(&rng_state); }
/* uniform in [-1, 1) */
static float rng_uniform(void) { return (float)((double)(rng_next() >> 11) / 9007199254740992.0 * 2.0 - 1.0); }
/* roughly normal, mean 0, sd 1 (sum of 4 uniforms, scaled) */
static float rng_normal(void) {
    return (rng_uniform() + rng_uniform() + rng_uniform() + rng_uniform()) * 0.866f;
}

#define NB_RANDOM 600 /* random blocks per type */
#define N_EDGE 7

/* Fill a 32-element block number `i` of the test set: random blocks at magnitudes from 1e-6
 * to 3000, then the edge cases. */
static void make_block(int i, float *x) {
    static const float scales[] = {1e-6f, 1e-3f, 0.02f, 0.3f, 1.0f, 37.0f, 3000.0f};
    if (i < NB_RANDOM) {
        float s = scales[i % 7];
        for (int j = 0; j < 32; j++) x[j] = (i & 8) ? s * rng_uniform() : s * rng_normal();
        return;
    }
    switch (i - NB_RANDOM) {
    case 0: for (int j = 0; j < 32; j++) x[j] = 0.0f; break;                 /* all zeros */
    case 1: for (int j = 0; j < 32; j++) x[j] = 0.75f; break;                /* constant */
    case 2: for (int j = 0; j < 32; j++) x[j] = 1e-3f * rng_normal();        /* outlier */
            x[13] = 50.0f; break;
    case 3: for (int j = 0; j < 32; j++) x[j] = 0.1f * rng_normal();         /* negative max */
            x[21] = -2.0f; break;
    case 4: for (int j = 0; j < 32; j++) x[j] = -1.0f - rng_uniform() * 0.5f; break; /* all < 0 */
    case 5: for (int j = 0; j < 32; j++) x[j] = (float)(j - 16) * 0.01f; break; /* ramp */
    default: for (int j = 0; j < 32; j++) x[j] = (j % 2) ? 1e-30f : -1e-30f; break; /* tiny */
    }
}

/* --------------------------------------------------------- round-trip bounds -------- */

/* Largest error of rounding v to binary16: half an ulp relative for normal halves
 * (11-bit significand -> 2^-11), half the subnormal spacing (2^-25) below 2^-14. */
static double half_err(double v) { return fmax(fabs(v) * 0x1p-11, 0x1p-25); }

static void block_stats(const float *x, double *amax, double *min, double *max) {
    *amax = 0; *min = x[0]; *max = x[0];
    for (int j = 0; j < 32; j++) {
        *amax = fmax(*amax, fabs(x[j]));
        *min = fmin(*min, x[j]);
        *max = fmax(*max, x[j]);
    }
}

/* Float slack for the float arithmetic inside the quantizer (a few ulps of the block's
 * largest value). */
static double slack(double amax) { return amax * 1e-6 + 1e-37; }

/* Q8_0 / Q8_1: d = amax/127, q = round(x/d): rounding error <= d/2; storing d as half
 * moves each reconstruction by |q| * |d - half(d)| <= 127 * half_err(d). */
static double bound_q8(const float *x, const void *b) {
    (void)b;
    double amax, mn, mx;
    block_stats(x, &amax, &mn, &mx);
    double d = amax / 127;
    return 0.5 * d + 127 * half_err(d) + slack(amax);
}
/* Q4_0: d = amax/8; the max element is level -8 exactly, values on the other side are
 * clamped at +7, so the error is < d (the clamp) rather than d/2; plus 8 * half_err(d). */
static double bound_q4_0(const float *x, const void *b) {
    (void)b;
    double amax, mn, mx;
    block_stats(x, &amax, &mn, &mx);
    double d = amax / 8;
    return d + 8 * half_err(d) + slack(amax);
}
/* Q5_0: as Q4_0 with 16 levels per side: d = amax/16, error < d + 16 * half_err(d). */
static double bound_q5_0(const float *x, const void *b) {
    (void)b;
    double amax, mn, mx;
    block_stats(x, &amax, &mn, &mx);
    double d = amax / 16;
    return d + 16 * half_err(d) + slack(amax);
}
/* Q4_1: d = (max-min)/15 and m = min: levels cover [min, max] exactly, rounding to the
 * nearest gives <= d/2; half(d) adds 15 * half_err(d), half(m) adds half_err(min). */
static double bound_q4_1(const float *x, const void *b) {
    (void)b;
    double amax, mn, mx;
    block_stats(x, &amax, &mn, &mx);
    double d = (mx - mn) / 15;
    return 0.5 * d + 15 * half_err(d) + half_err(mn) + slack(amax);
}
/* Q5_1: as Q4_1 with 31 steps. */
static double bound_q5_1(const float *x, const void *b) {
    (void)b;
    double amax, mn, mx;
    block_stats(x, &amax, &mn, &mx);
    double d = (mx - mn) / 31;
    return 0.5 * d + 31 * half_err(d) + half_err(mn) + slack(amax);
}
/* IQ4_NL: each x/d goes to the nearest table level; the widest gap between neighbouring
 * levels is 24 (89..113), so inside [-127d, 113d] the error is <= 12|d|; beyond the ends it
 * is |x| - 113|d| at most. The stored half d differs from the float d used for the
 * mapping by half_err(d), times |level| <= 127. D = |stored d| bounds |d| up to that. */
static double bound_iq4_nl(const float *x, const void *b) {
    const block_iq4_nl *blk = b;
    double amax, mn, mx;
    block_stats(x, &amax, &mn, &mx);
    double D = fabs(qk_half_to_float(blk->d));
    D += half_err(D);
    return fmax(12 * D, amax - 113 * D) + 127 * half_err(D) + slack(amax);
}

typedef struct legacy_type {
    const char *name;
    qk_type type;
    size_t block_bytes;
    void (*quantize)(const float *, void *, int64_t);
    void (*dequantize)(const void *, float *, int64_t);
    double (*bound)(const float *x, const void *block);
} legacy_type;

static const legacy_type LT[] = {
    {"Q4_0", QK_TYPE_Q4_0, sizeof(block_q4_0), qk_quantize_row_q4_0_ref, qk_dequantize_row_q4_0, bound_q4_0},
    {"Q4_1", QK_TYPE_Q4_1, sizeof(block_q4_1), qk_quantize_row_q4_1_ref, qk_dequantize_row_q4_1, bound_q4_1},
    {"Q5_0", QK_TYPE_Q5_0, sizeof(block_q5_0), qk_quantize_row_q5_0_ref, qk_dequantize_row_q5_0, bound_q5_0},
    {"Q5_1", QK_TYPE_Q5_1, sizeof(block_q5_1), qk_quantize_row_q5_1_ref, qk_dequantize_row_q5_1, bound_q5_1},
    {"Q8_0", QK_TYPE_Q8_0, sizeof(block_q8_0), qk_quantize_row_q8_0_ref, qk_dequantize_row_q8_0, bound_q8},
    {"Q8_1", QK_TYPE_Q8_1, sizeof(block_q8_1), qk_quantize_row_q8_1_ref, qk_dequantize_row_q8_1, bound_q8},
    {"IQ4_NL", QK_TYPE_IQ4_NL, sizeof(block_iq4_nl), qk_quantize_row_iq4_nl_ref, qk_dequantize_row_iq4_nl, bound_iq4_nl},
};
#define N_LT ((int)(sizeof LT / sizeof LT[0]))

START_TEST(test_table_rows) {
    /* the type table's row for this type has this layout, and its kernels (which may be
     * SIMD versions installed at run time) agree with the scalar ones here: the reference
     * quantizer bit for bit, to_float to float rounding (an FMA may fuse d*q + m). */
    const legacy_type *t = &LT[_i];
    const qk_type_traits *tr = qk_type_get(t->type);
    ck_assert_ptr_nonnull(tr);
    ck_assert_str_eq(tr->name, t->name);
    ck_assert_int_eq(tr->blck_size, 32);
    ck_assert_uint_eq(tr->type_size, t->block_bytes);
    ck_assert_int_eq(tr->is_quantized, 1);
    ck_assert_ptr_nonnull(tr->quantize_ref);
    ck_assert_ptr_nonnull(tr->to_float);
    rng_state = 4242;
    float x[256], y0[256], y1[256];
    uint8_t q0[8 * 36], q1[8 * 36];
    for (int j = 0; j < 256; j++) x[j] = rng_normal() * (float)(1 + j / 32);
    t->quantize(x, q0, 256);
    tr->quantize_ref(x, q1, 256);
    ck_assert_mem_eq(q0, q1, 8 * t->block_bytes);
    t->dequantize(q0, y0, 256);
    tr->to_float(q0, y1, 256);
    for (int j = 0; j < 256; j++)
        ck_assert_msg(fabsf(y0[j] - y1[j]) <= 1e-6f * (fabsf(y0[j]) + 1e-30f) * 2,
                      "%s to_float[%d]: table %.9g, scalar %.9g", t->name, j, y1[j], y0[j]);
}
END_TEST

START_TEST(test_roundtrip) {
    const legacy_type *t = &LT[_i];
    rng_state = 12345 + (uint64_t)_i;
    const int nb = NB_RANDOM + N_EDGE;
    float *x = malloc(sizeof(float) * 32 * (size_t)nb), *y = malloc(sizeof(float) * 32 * (size_t)nb);
    uint8_t *q = malloc(t->block_bytes * (size_t)nb);
    ck_assert(x && y && q);
    for (int i = 0; i < nb; i++) make_block(i, x + 32 * i);
    t->quantize(x, q, 32 * nb); /* whole row at once: blocks are independent */
    t->dequantize(q, y, 32 * nb);
    for (int i = 0; i < nb; i++) {
        const float *xb = x + 32 * i, *yb = y + 32 * i;
        const double bound = t->bound(xb, q + t->block_bytes * (size_t)i);
        for (int j = 0; j < 32; j++) {
            ck_assert_msg(isfinite(yb[j]), "%s block %d elem %d: %g", t->name, i, j, yb[j]);
            ck_assert_msg(fabs((double)yb[j] - xb[j]) <= bound,
                          "%s block %d elem %d: x=%.9g y=%.9g err %.3g > bound %.3g", t->name, i,
                          j, xb[j], yb[j], fabs((double)yb[j] - xb[j]), bound);
        }
    }
    /* quantizing block by block gives the same bytes as the whole row */
    uint8_t one[64];
    for (int i = 0; i < nb; i += 37) {
        t->quantize(x + 32 * i, one, 32);
        ck_assert_mem_eq(one, q + t->block_bytes * (size_t)i, t->block_bytes);
    }
    free(x);
    free(y);
    free(q);
}
END_TEST

START_TEST(test_edge_blocks) {
    float x[32], y[32];
    /* all zeros: d = 0, id = 0, so every level is the zero point: Q4_0 trunc(0+8.5) = 8
     * -> 0x88, Q5_0 16 -> nibble 0 and qh bit 1, Q4_1/Q5_1/Q8_0 0, IQ4_NL the level nearest
     * 0 (T[8] = 1; 0 - T[7] = 10 is not < T[8] - 0 = 1) -> 0x88. Dequantized: all 0.
     * Q4_0/Q5_0's d = 0/-8 is -0.0, stored as half 0x8000, as ggml does. */
    memset(x, 0, sizeof x);
    block_q4_0 b40; qk_quantize_row_q4_0_ref(x, &b40, 32);
    ck_assert_uint_eq(b40.d, 0x8000);
    for (int j = 0; j < 16; j++) ck_assert_uint_eq(b40.qs[j], 0x88);
    block_q5_0 b50; qk_quantize_row_q5_0_ref(x, &b50, 32);
    ck_assert_uint_eq(b50.d, 0x8000);
    for (int j = 0; j < 16; j++) ck_assert_uint_eq(b50.qs[j], 0x00);
    for (int j = 0; j < 4; j++) ck_assert_uint_eq(b50.qh[j], 0xFF);
    block_iq4_nl bnl; qk_quantize_row_iq4_nl_ref(x, &bnl, 32);
    ck_assert_uint_eq(bnl.d, 0);
    for (int j = 0; j < 16; j++) ck_assert_uint_eq(bnl.qs[j], 0x88);
    for (int t = 0; t < N_LT; t++) {
        uint8_t q[64];
        LT[t].quantize(x, q, 32);
        LT[t].dequantize(q, y, 32);
        for (int j = 0; j < 32; j++) ck_assert_msg(y[j] == 0.0f, "%s zero block", LT[t].name);
    }
    /* negative vs positive max: Q4_0/Q5_0 store d = max/-8 (max/-16), so the sign of d is
     * opposite to the largest-magnitude element, which is reproduced exactly (level -8). */
    for (int j = 0; j < 32; j++) x[j] = 0.01f * (float)(j % 7);
    x[9] = -4.0f;
    qk_quantize_row_q4_0_ref(x, &b40, 32);
    ck_assert_float_eq(qk_half_to_float(b40.d), 0.5f);
    qk_dequantize_row_q4_0(&b40, y, 32);
    ck_assert_float_eq(y[9], -4.0f);
    x[9] = 4.0f;
    qk_quantize_row_q4_0_ref(x, &b40, 32);
    ck_assert_float_eq(qk_half_to_float(b40.d), -0.5f);
    qk_dequantize_row_q4_0(&b40, y, 32);
    ck_assert_float_eq(y[9], 4.0f);
    qk_quantize_row_q5_0_ref(x, &b50, 32);
    ck_assert_float_eq(qk_half_to_float(b50.d), -0.25f);
    /* one outlier in Q8_0: d = 50/127, the small values all become 0 */
    for (int j = 0; j < 32; j++) x[j] = 1e-3f * (float)(j - 16);
    x[13] = 50.0f;
    block_q8_0 b80; qk_quantize_row_q8_0_ref(x, &b80, 32);
    for (int j = 0; j < 32; j++) ck_assert_int_eq(b80.qs[j], j == 13 ? 127 : 0);
    /* hostile input: NaN and inf must not crash, and finite blocks nearby are unaffected */
    float z[64];
    for (int j = 0; j < 64; j++) z[j] = (float)j * 0.1f;
    z[3] = NAN;
    z[5] = INFINITY;
    for (int t = 0; t < N_LT; t++) {
        uint8_t q[128], ref[64];
        float w[64];
        LT[t].quantize(z, q, 64);
        LT[t].quantize(z + 32, ref, 32);
        ck_assert_mem_eq(q + LT[t].block_bytes, ref, LT[t].block_bytes);
        LT[t].dequantize(q, w, 64);
    }
}
END_TEST

/* ---------------------------------------------------- hand-checked blocks -------- */

static const uint8_t HALF_ONE[2] = {0x00, 0x3C}; /* 1.0 as binary16, little-endian */

START_TEST(test_bytes_q8_0_q8_1) {
    /* amax = 127 -> d = 127/127 = 1 exactly, id = 1, so q = roundf(x) (half away from 0):
     * 127 -> 7F, -127 -> 81, 2.5 -> 3, -2.5 -> -3 (FD), 0.5 -> 1, -0.5 -> -1 (FF),
     * 0.49 -> 0, -0.49 -> 0, 1.5 -> 2, 100.4 -> 100 (64), -100.6 -> -101 (9B), 0, 3, -3 (FD),
     * 64.5 -> 65 (41), 10.25 -> 10 (0A); then -8..7 -> F8..FF,00..07. */
    const float x[32] = {127, -127, 2.5f, -2.5f, 0.5f, -0.5f, 0.49f, -0.49f, 1.5f, 100.4f,
                         -100.6f, 0, 3, -3, 64.5f, 10.25f, -8, -7, -6, -5, -4, -3, -2, -1,
                         0, 1, 2, 3, 4, 5, 6, 7};
    const uint8_t qs[32] = {0x7F, 0x81, 0x03, 0xFD, 0x01, 0xFF, 0x00, 0x00, 0x02, 0x64, 0x9B,
                            0x00, 0x03, 0xFD, 0x41, 0x0A, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD,
                            0xFE, 0xFF, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
    uint8_t b[36];
    qk_quantize_row_q8_0_ref(x, b, 32);
    ck_assert_mem_eq(b, HALF_ONE, 2);
    ck_assert_mem_eq(b + 2, qs, 32);
    /* Q8_1 adds s = half(d * sum q): sum = 0+0+0+0+2+(100-101)+0+0+65+10+(-8) = 68;
     * 68 = 1.0625 * 2^6 -> exponent 6+15 = 21 (0x5400), mantissa 0.0625*1024 = 0x40. */
    qk_quantize_row_q8_1_ref(x, b, 32);
    ck_assert_mem_eq(b, HALF_ONE, 2);
    ck_assert_uint_eq(b[2], 0x40);
    ck_assert_uint_eq(b[3], 0x54);
    ck_assert_mem_eq(b + 4, qs, 32);
}
END_TEST

START_TEST(test_bytes_q4_0) {
    /* max = -8 (first element of largest |x|) -> d = -8/-8 = 1, id = 1,
     * q = min(15, trunc(x + 8.5)):
     * -8 -> 0, 7 -> 15, 7.6 -> 16 -> clamp 15, -7.4 -> 1, 0 -> 8, 0.5 -> 9 (9.0), -0.5 -> 8
     * (8.0), 0.49 -> 8, -0.51 -> 7, 3.2 -> 11, -3.7 -> 4, 6.5 -> 15, -1 -> 7, 1 -> 9,
     * 2 -> 10, 4.4 -> 12; elements 16..31 are -8..7 -> q = 0..15 = j.
     * byte j = q[j] | q[j+16] << 4. */
    const float x[32] = {-8, 7, 7.6f, -7.4f, 0, 0.5f, -0.5f, 0.49f, -0.51f, 3.2f, -3.7f, 6.5f,
                         -1, 1, 2, 4.4f, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7};
    const uint8_t qs[16] = {0x00, 0x1F, 0x2F, 0x31, 0x48, 0x59, 0x68, 0x78,
                            0x87, 0x9B, 0xA4, 0xBF, 0xC7, 0xD9, 0xEA, 0xFC};
    block_q4_0 b;
    qk_quantize_row_q4_0_ref(x, &b, 32);
    ck_assert_mem_eq(&b.d, HALF_ONE, 2);
    ck_assert_mem_eq(b.qs, qs, 16);
}
END_TEST

START_TEST(test_bytes_q4_1) {
    /* min = -1, max = 14 -> d = 15/15 = 1, m = -1 (half 0xBC00), q = min(15, trunc(x+1+0.5)):
     * -1 -> 0, 14 -> 15, 0 -> 1, 0.5 -> 2, -0.5 -> 1, 3.49 -> 4, 3.51 -> 5, 6 -> 7,
     * 10.2 -> 11, -0.9 -> 0, 13.6 -> 15, 7.5 -> 9, 2 -> 3, 5 -> 6, 8 -> 9, 11 -> 12;
     * elements 16..31 are -1..14 -> q = j. byte j = q[j] | j << 4. */
    const float x[32] = {-1, 14, 0, 0.5f, -0.5f, 3.49f, 3.51f, 6, 10.2f, -0.9f, 13.6f, 7.5f,
                         2, 5, 8, 11, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    const uint8_t qs[16] = {0x00, 0x1F, 0x21, 0x32, 0x41, 0x54, 0x65, 0x77,
                            0x8B, 0x90, 0xAF, 0xB9, 0xC3, 0xD6, 0xE9, 0xFC};
    const uint8_t m[2] = {0x00, 0xBC};
    block_q4_1 b;
    qk_quantize_row_q4_1_ref(x, &b, 32);
    ck_assert_mem_eq(&b.d, HALF_ONE, 2);
    ck_assert_mem_eq(&b.m, m, 2);
    ck_assert_mem_eq(b.qs, qs, 16);
}
END_TEST

START_TEST(test_bytes_q5_0) {
    /* max = -16 -> d = 1, q = min(31, trunc(x + 16.5)):
     * -16 -> 0, 15 -> 31, 15.7 -> 32 -> 31, -15.2 -> 1, 0 -> 16, 0.5 -> 17, -0.5 -> 16,
     * 7.49 -> 23, -7.51 -> 8, 3.2 -> 19, -3.7 -> 12, 12.5 -> 29, -1 -> 15, 1 -> 17, 9 -> 25,
     * -10.4 -> 6; elements 16..31 are -15,-13..15 -> q = 2j+1 (j = 0..15).
     * qs[j] = (q[j] & 15) | (q[j+16] & 15) << 4:
     *   low nibbles 0,F,F,1,0,1,0,7,8,3,C,D,F,1,9,6; high 1,3,5,7,9,B,D,F,1,3,5,7,9,B,D,F.
     * qh bit j = bit 4 of q[j]: set for j = 1,2,4,5,6,7,9,11,13,14 -> 0x6AF6;
     * bit 16+j = bit 4 of 2j+1: set for j >= 8 -> 0xFF00. qh = 0xFF006AF6, little-endian. */
    const float x[32] = {-16, 15, 15.7f, -15.2f, 0, 0.5f, -0.5f, 7.49f, -7.51f, 3.2f, -3.7f,
                         12.5f, -1, 1, 9, -10.4f, -15, -13, -11, -9, -7, -5, -3, -1,
                         1, 3, 5, 7, 9, 11, 13, 15};
    const uint8_t qs[16] = {0x10, 0x3F, 0x5F, 0x71, 0x90, 0xB1, 0xD0, 0xF7,
                            0x18, 0x33, 0x5C, 0x7D, 0x9F, 0xB1, 0xD9, 0xF6};
    const uint8_t qh[4] = {0xF6, 0x6A, 0x00, 0xFF};
    block_q5_0 b;
    qk_quantize_row_q5_0_ref(x, &b, 32);
    ck_assert_mem_eq(&b.d, HALF_ONE, 2);
    ck_assert_mem_eq(b.qh, qh, 4);
    ck_assert_mem_eq(b.qs, qs, 16);
}
END_TEST

START_TEST(test_bytes_q5_1) {
    /* min = -2, max = 29 -> d = 31/31 = 1, m = -2 (half 0xC000), q = trunc(x + 2 + 0.5):
     * -2 -> 0, 29 -> 31, 0 -> 2, 13.5 -> 16, -1.5 -> 1, 7.49 -> 9, 20.51 -> 23, 14 -> 16,
     * 15 -> 17, -1.6 -> 0, 28.6 -> 31, 3 -> 5, 9.2 -> 11, 25 -> 27, 17.5 -> 20, 1 -> 3;
     * elements 16..31 are 2j-2 -> q = 2j.
     * low nibbles 0,F,2,0,1,9,7,0,1,0,F,5,B,B,4,3; high 0,2,4,6,8,A,C,E,0,2,4,6,8,A,C,E.
     * qh bits j = 1,3,6,7,8,10,13,14 -> 0x65CA; bits 16+j for j >= 8 -> 0xFF00. */
    const float x[32] = {-2, 29, 0, 13.5f, -1.5f, 7.49f, 20.51f, 14, 15, -1.6f, 28.6f, 3,
                         9.2f, 25, 17.5f, 1, -2, 0, 2, 4, 6, 8, 10, 12,
                         14, 16, 18, 20, 22, 24, 26, 28};
    const uint8_t qs[16] = {0x00, 0x2F, 0x42, 0x60, 0x81, 0xA9, 0xC7, 0xE0,
                            0x01, 0x20, 0x4F, 0x65, 0x8B, 0xAB, 0xC4, 0xE3};
    const uint8_t qh[4] = {0xCA, 0x65, 0x00, 0xFF};
    const uint8_t m[2] = {0x00, 0xC0};
    block_q5_1 b;
    qk_quantize_row_q5_1_ref(x, &b, 32);
    ck_assert_mem_eq(&b.d, HALF_ONE, 2);
    ck_assert_mem_eq(&b.m, m, 2);
    ck_assert_mem_eq(b.qh, qh, 4);
    ck_assert_mem_eq(b.qs, qs, 16);
}
END_TEST

START_TEST(test_bytes_iq4_nl) {
    /* x[j] = T[j % 16] / 2: every element sits on a level for d = 0.5.
     * max = -63.5 (first of largest |x|). First guess d = -max/T[0] = -0.5 maps x to -T and
     * fits badly. Trial itry = -7: id = (-7 - 127)/-63.5 = 2.110, x*id = 1.055*T, and each
     * 1.055*T[l] is still nearest to T[l] (the largest shift, 6.3 at -127, is past the end;
     * inside, the shift is below half of each gap) -> q = T exactly, a perfect fit:
     * d = sum(w q x)/sum(w q q) = 0.5 exactly (every term is halved), best = the
     * Cauchy-Schwarz maximum, so later trials (strict >) cannot replace it.
     * d = 0.5 -> half 0x3800; re-map with 1/d = 2 -> index j%16; byte j = j | j << 4. */
    float x[32];
    for (int j = 0; j < 32; j++) x[j] = (float)qk_kvalues_iq4nl[j % 16] * 0.5f;
    block_iq4_nl b;
    qk_quantize_row_iq4_nl_ref(x, &b, 32);
    const uint8_t d[2] = {0x00, 0x38};
    ck_assert_mem_eq(&b.d, d, 2);
    for (int j = 0; j < 16; j++) ck_assert_uint_eq(b.qs[j], (unsigned)(j | (j << 4)));
    /* and dequantizing gives x back exactly */
    float y[32];
    qk_dequantize_row_iq4_nl(&b, y, 32);
    for (int j = 0; j < 32; j++) ck_assert_float_eq(y[j], x[j]);
}
END_TEST

/* ------------------------------------------------------------ dot products -------- */

typedef struct dot_pair {
    const char *name;
    int wt;                 /* index into LT of the weight type */
    int act_q81;            /* activations Q8_1 (else Q8_0) */
    void (*vec_dot)(int, float *, const void *, const void *);
} dot_pair;

static const dot_pair DP[] = {
    {"Q4_0.Q8_0", 0, 0, qk_vec_dot_q4_0_q8_0}, {"Q4_1.Q8_1", 1, 1, qk_vec_dot_q4_1_q8_1},
    {"Q5_0.Q8_0", 2, 0, qk_vec_dot_q5_0_q8_0}, {"Q5_1.Q8_1", 3, 1, qk_vec_dot_q5_1_q8_1},
    {"Q8_0.Q8_0", 4, 0, qk_vec_dot_q8_0_q8_0}, {"IQ4_NL.Q8_0", 6, 0, qk_vec_dot_iq4_nl_q8_0},
};

START_TEST(test_vec_dot) {
    /* vec_dot(x, y) = sum over blocks of sumi * d_x * d_y (+ m_x * s_y for the _1 types).
     * Tolerance: float rounding of the per-block products and their sum, 1e-5 * sum|x_j y_j|;
     * for Q4_1/Q5_1 also the Q8_1 s = half(d_y * sum q_y) being rounded, which moves each
     * block's m_x * s_y by up to |m_x| * |d_y sum q_y| * 2^-10 (half of s and of d_y). */
    const dot_pair *p = &DP[_i];
    const legacy_type *wt = &LT[p->wt];
    const int n = 512;
    rng_state = 777 + (uint64_t)_i;
    float x[512], y[512], xd[512], yd[512];
    for (int j = 0; j < n; j++) {
        x[j] = rng_normal() * (1.0f + (float)(j / 32));
        y[j] = rng_normal() * 3.0f + ((_i & 1) ? 0.5f : 0.0f);
    }
    uint8_t qx[512 / 32 * 36], qy[512 / 32 * 36];
    wt->quantize(x, qx, n);
    wt->dequantize(qx, xd, n);
    if (p->act_q81) {
        qk_quantize_row_q8_1_ref(y, qy, n);
        qk_dequantize_row_q8_1(qy, yd, n);
    } else {
        qk_quantize_row_q8_0_ref(y, qy, n);
        qk_dequantize_row_q8_0(qy, yd, n);
    }
    double ref = 0, mag = 0, extra = 0;
    for (int j = 0; j < n; j++) {
        ref += (double)xd[j] * yd[j];
        mag += fabs((double)xd[j] * yd[j]);
    }
    if (p->act_q81) {
        const block_q8_1 *by = (const block_q8_1 *)qy;
        for (int b = 0; b < n / 32; b++) {
            const float m = p->wt == 1 ? qk_half_to_float(((const block_q4_1 *)qx)[b].m)
                                       : qk_half_to_float(((const block_q5_1 *)qx)[b].m);
            int sq = 0;
            for (int j = 0; j < 32; j++) sq += by[b].qs[j];
            extra += fabs(m) * fabs(qk_half_to_float(by[b].d) * sq) * 0x1p-10 * 1.01;
        }
    }
    float s = 0;
    p->vec_dot(n, &s, qx, qy);
    const double tol = 1e-5 * mag + extra + 1e-6;
    ck_assert_msg(fabs(s - ref) <= tol, "%s: vec_dot %.9g, dequantized dot %.9g (tol %.3g)",
                  p->name, s, ref, tol);
    /* the kernel the type table uses (maybe a SIMD version) meets the same tolerance */
    const qk_type_traits *tr = qk_type_get(wt->type);
    ck_assert_int_eq(tr->vec_dot_type, p->act_q81 ? QK_TYPE_Q8_1 : QK_TYPE_Q8_0);
    ck_assert_ptr_nonnull(tr->vec_dot);
    float s2 = 0;
    tr->vec_dot(n, &s2, qx, qy);
    ck_assert_msg(fabs(s2 - ref) <= tol, "%s: table vec_dot %.9g, dequantized dot %.9g (tol %.3g)",
                  p->name, s2, ref, tol);
}
END_TEST

START_TEST(test_vec_dot_float) {
    /* F32/F16/BF16 rows: float accumulation over n terms is within n * 2^-24 * sum|x y| of
     * the exact sum (each product of two halves/bf16s is exact in float). */
    const int n = 1000;
    rng_state = 99;
    float x[1000], y[1000];
    qk_half xh[1000], yh[1000];
    qk_bf16 xb[1000], yb[1000];
    for (int j = 0; j < n; j++) { x[j] = rng_normal(); y[j] = rng_normal() * 2.0f; }
    qk_quantize_row_f16(x, xh, n); qk_quantize_row_f16(y, yh, n);
    qk_quantize_row_bf16(x, xb, n); qk_quantize_row_bf16(y, yb, n);
    double r32 = 0, r16 = 0, rb = 0, m32 = 0, m16 = 0, mb = 0;
    for (int j = 0; j < n; j++) {
        double a = (double)x[j] * y[j];
        double h = (double)qk_half_to_float(xh[j]) * qk_half_to_float(yh[j]);
        double b = (double)qk_bf16_to_float(xb[j]) * qk_bf16_to_float(yb[j]);
        r32 += a; r16 += h; rb += b;
        m32 += fabs(a); m16 += fabs(h); mb += fabs(b);
    }
    float s;
    qk_vec_dot_f32(n, &s, x, y);
    ck_assert_msg(fabs(s - r32) <= n * 0x1p-24 * m32, "f32 %.9g vs %.9g", s, r32);
    qk_vec_dot_f16(n, &s, xh, yh);
    ck_assert_msg(fabs(s - r16) <= n * 0x1p-24 * m16, "f16 %.9g vs %.9g", s, r16);
    qk_vec_dot_bf16(n, &s, xb, yb);
    ck_assert_msg(fabs(s - rb) <= n * 0x1p-24 * mb, "bf16 %.9g vs %.9g", s, rb);
    /* the type table's kernels (maybe SIMD) meet the same bounds */
    qk_type_get(QK_TYPE_F32)->vec_dot(n, &s, x, y);
    ck_assert_msg(fabs(s - r32) <= n * 0x1p-24 * m32, "table f32 %.9g vs %.9g", s, r32);
    qk_type_get(QK_TYPE_F16)->vec_dot(n, &s, xh, yh);
    ck_assert_msg(fabs(s - r16) <= n * 0x1p-24 * m16, "table f16 %.9g vs %.9g", s, r16);
    qk_type_get(QK_TYPE_BF16)->vec_dot(n, &s, xb, yb);
    ck_assert_msg(fabs(s - rb) <= n * 0x1p-24 * mb, "table bf16 %.9g vs %.9g", s, rb);
    /* ... and its row conversions give the same bits as the scalar ones */
    qk_half th[1000];
    qk_bf16 tb[1000];
    float tf[1000], sf[1000];
    qk_type_get(QK_TYPE_F16)->quantize_ref(x, th, n);
    ck_assert_mem_eq(th, xh, sizeof th);
    qk_type_get(QK_TYPE_BF16)->quantize_ref(x, tb, n);
    ck_assert_mem_eq(tb, xb, sizeof tb);
    qk_type_get(QK_TYPE_F16)->to_float(xh, tf, n);
    qk_dequantize_row_f16(xh, sf, n);
    ck_assert_mem_eq(tf, sf, sizeof tf);
    qk_type_get(QK_TYPE_BF16)->to_float(xb, tf, n);
    qk_dequantize_row_bf16(xb, sf, n);
    ck_assert_mem_eq(tf, sf, sizeof tf);
    /* the F16/BF16 rows are within half an ulp of the floats */
    for (int j = 0; j < n; j++) {
        ck_assert(fabs(qk_half_to_float(xh[j]) - x[j]) <= half_err(x[j]));
        ck_assert(fabs(qk_bf16_to_float(xb[j]) - x[j]) <= fabs(x[j]) * 0x1p-8);
    }
}
END_TEST

/* ------------------------------------------------------------ F16 / BF16 -------- */

static float fbits(uint32_t u) { return qk_bits_f32(u); }

START_TEST(test_f16_rounding) {
    static const struct { float in; uint16_t out; const char *why; } cases[] = {
        {1.0f, 0x3C00, "1.0"},
        {-2.0f, 0xC000, "-2.0"},
        {1.0f + 0x1p-11f, 0x3C00, "tie between 1 and 1+2^-10 -> even (1)"},
        {1.0f + 3 * 0x1p-11f, 0x3C02, "tie between 1+2^-10 and 1+2^-9 -> even (0x3C02)"},
        {1.0f + 0x1p-11f + 0x1p-20f, 0x3C01, "just above the tie -> up"},
        {65504.0f, 0x7BFF, "largest half"},
        {65519.0f, 0x7BFF, "below the overflow tie"},
        {65520.0f, 0x7C00, "tie at the top rounds to even = inf"},
        {1e6f, 0x7C00, "overflow -> inf"},
        {-1e6f, 0xFC00, "overflow -> -inf"},
        {0x1p-14f, 0x0400, "smallest normal"},
        {0x1p-24f, 0x0001, "smallest subnormal"},
        {1023 * 0x1p-24f, 0x03FF, "largest subnormal"},
        {0x1p-25f, 0x0000, "tie between 0 and 2^-24 -> even (0)"},
        {0x1p-25f + 0x1p-40f, 0x0001, "just above half the smallest subnormal"},
        {3 * 0x1p-25f, 0x0002, "tie between 1 and 2 subnormal steps -> even (2)"},
        {5 * 0x1p-25f, 0x0002, "tie between 2 and 3 steps -> even (2)"},
        {1e-10f, 0x0000, "underflow -> 0"},
        {-0.0f, 0x8000, "-0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qk_half h;
        qk_quantize_row_f16(&cases[i].in, &h, 1);
        ck_assert_msg(h == cases[i].out, "%s: %a -> 0x%04x, want 0x%04x", cases[i].why,
                      cases[i].in, h, cases[i].out);
    }
    float in[3] = {INFINITY, -INFINITY, NAN}, back[3];
    qk_half h[3];
    qk_quantize_row_f16(in, h, 3);
    ck_assert_uint_eq(h[0], 0x7C00);
    ck_assert_uint_eq(h[1], 0xFC00);
    ck_assert_uint_eq(h[2] & 0x7C00, 0x7C00);
    ck_assert_uint_ne(h[2] & 0x03FF, 0);
    qk_dequantize_row_f16(h, back, 3);
    ck_assert(isinf(back[0]) && back[0] > 0);
    ck_assert(isinf(back[1]) && back[1] < 0);
    ck_assert(isnan(back[2]));
    /* every finite half converts to float and back unchanged (exactness of both ways) */
    for (uint32_t u = 0; u < 0x10000; u++) {
        if ((u & 0x7C00) == 0x7C00) continue;
        qk_half hh = (qk_half)u, h2;
        float f;
        qk_dequantize_row_f16(&hh, &f, 1);
        qk_quantize_row_f16(&f, &h2, 1);
        ck_assert_msg(h2 == hh, "half 0x%04x -> %a -> 0x%04x", u, f, h2);
    }
    float sub;
    qk_half one_sub = 0x0001;
    qk_dequantize_row_f16(&one_sub, &sub, 1);
    ck_assert(sub == 0x1p-24f);
}
END_TEST

START_TEST(test_bf16_rounding) {
    static const struct { uint32_t in; uint16_t out; const char *why; } cases[] = {
        {0x3F800000, 0x3F80, "1.0"},
        {0x3F808000, 0x3F80, "tie between 1 and 1+2^-7 -> even (0x3F80)"},
        {0x3F818000, 0x3F82, "tie between 0x3F81 and 0x3F82 -> even (0x3F82)"},
        {0x3F808001, 0x3F81, "just above the tie -> up"},
        {0x3F807FFF, 0x3F80, "just below the tie -> down"},
        {0x7F7FFFFF, 0x7F80, "largest float rounds up to inf"},
        {0x7F800000, 0x7F80, "inf"},
        {0xFF800000, 0xFF80, "-inf"},
        {0x00010000, 0x0001, "subnormal kept"},
        {0x00018000, 0x0002, "subnormal tie -> even"},
        {0x80000000, 0x8000, "-0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float f = fbits(cases[i].in);
        qk_bf16 b;
        qk_quantize_row_bf16(&f, &b, 1);
        ck_assert_msg(b == cases[i].out, "%s: 0x%08x -> 0x%04x, want 0x%04x", cases[i].why,
                      cases[i].in, b, cases[i].out);
    }
    /* NaNs stay NaN (quiet), including a signalling NaN whose payload is all in the low
     * 16 bits, which plain rounding would turn into inf */
    float nans[2] = {fbits(0x7F800001), fbits(0xFFC00000)}, back[2];
    qk_bf16 b[2];
    qk_quantize_row_bf16(nans, b, 2);
    qk_dequantize_row_bf16(b, back, 2);
    ck_assert(isnan(back[0]) && isnan(back[1]));
    ck_assert_uint_eq(b[0] & 0x0040, 0x0040);
    /* bf16 -> float is the upper half of the bits */
    qk_bf16 v = 0xC0A0;
    float f;
    qk_dequantize_row_bf16(&v, &f, 1);
    ck_assert_float_eq(f, -5.0f);
}
END_TEST

START_TEST(test_f32_copy) {
    float x[5] = {1.5f, -0.0f, NAN, 3e38f, 1e-45f}, y[5];
    uint8_t raw[20];
    qk_copy_row_f32(x, raw, 5);
    ck_assert_mem_eq(raw, x, sizeof x);
    qk_to_float_f32(raw, y, 5);
    ck_assert_mem_eq(y, x, sizeof x);
}
END_TEST

static Suite *legacy_suite(void) {
    Suite *s = suite_create("quants_legacy");
    TCase *tc = tcase_create("blocks");
    tcase_add_loop_test(tc, test_table_rows, 0, N_LT);
    tcase_add_loop_test(tc, test_roundtrip, 0, N_LT);
    tcase_add_test(tc, test_edge_blocks);
    tcase_add_test(tc, test_bytes_q8_0_q8_1);
    tcase_add_test(tc, test_bytes_q4_0);
    tcase_add_test(tc, test_bytes_q4_1);
    tcase_add_test(tc, test_bytes_q5_0);
    tcase_add_test(tc, test_bytes_q5_1);
    tcase_add_test(tc, test_bytes_iq4_nl);
    suite_add_tcase(s, tc);
    tc = tcase_create("dot");
    tcase_add_loop_test(tc, test_vec_dot, 0, (int)(sizeof DP / sizeof DP[0]));
    tcase_add_test(tc, test_vec_dot_float);
    suite_add_tcase(s, tc);
    tc = tcase_create("float");
    tcase_add_test(tc, test_f16_rounding);
    tcase_add_test(tc, test_bf16_rounding);
    tcase_add_test(tc, test_f32_copy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return qk_test_main(legacy_suite()); }
