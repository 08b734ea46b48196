/*
 * test_quants_k.c — Check suite for the K-quants and Q8_K (engine/quants_k.c, quants_kfit.c).
 *
 * What it pins down:
 * - nearest_int rounds half to even (ggml's 1.5*2^23 trick);
 * - the 6-bit scale packings of Q3_K and Q4_K/Q5_K round-trip for every value;
 * - one hand-derived block per type (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K): every header
 *   byte, every code byte, derived in the comments from the reference algorithm
 *   (llama-cpp-reference.md §2.1-2.2);
 * - on pseudo-random and edge-case rows (zeros, constants, all-negative, outliers, tiny):
 *   every element sits on the level nearest to it given the stored scales (or at the end
 *   of the code range), relative RMS error on N(0,1) data and max error per super-block
 *   within the bounds derived below;
 * - vec_dot against Q8_K equals the dot product of the dequantized rows.
 * Bit-exactness against llama.cpp's own output is tests/test_quant_golden.c.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quants.h"
#include "quants_kfit.h"
#include "testutil.h"

/* ---- deterministic data -------------------------------------------------------------- */

static uint64_t rng_state;
static void rng_seed(uint64_t s) { rng_state = s * 0x9E3779B97F4A7C15ull + 1; }
static double rng_uniform(void) { /* (0, 1), splitmix64 */
    return ((double)(qk_test_splitmix64(&rng_state) >> 11) + 0.5) / 9007199254740992.0;
}
static float rng_gauss(void) { /* Box-Muller */
    double u = rng_uniform(), v = rng_uniform();
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* ---- the types under test -------------------------------------------------------------- */

typedef struct ktype {
    const char *name;
    size_t bsize;
    void (*quantize)(const float *, void *, int64_t);
    void (*dequantize)(const void *, float *, int64_t);
    void (*vec_dot)(int, float *, const void *, const void *);
    int qlo, qhi; /* signed code range of the levels d*q - m */
    /* Bound on RMS(x - y) / RMS(x) for N(0,1) rows. A uniform rounding error over a step
     * Δ has RMS Δ/sqrt(12); Δ = (range of the sub-block)/(levels - 1), and the expected
     * range of n standard normals is about 3.5 (n = 16) or 4.1 (n = 32), the |max| about
     * 1.9 (16) / 2.1 (32) / 2.9 (256). Q8_K: Δ = 2.9/127 -> 0.0066. Q6_K: Δ = 1.9/32 ->
     * 0.017. Q5_K: 4.1/31 -> 0.038. Q4_K: 4.1/15 -> 0.079. Q3_K: 1.9/4 -> 0.14.
     * Q2_K: 3.5/3 -> 0.34 (the MAD fit clips the tails, so somewhat less). Each bound is
     * that estimate + 30%; the optimizers only ever do better than plain rounding. */
    double rms_bound;
    /* Bound on max|x - y| / max|x| over a super-block: half a step at full range plus
     * what the scale search may clip (its grid reaches one step past the range) and the
     * error of the 4/6/8-bit quantized scales and mins: Q8_K 1/254 exactly;
     * Q6_K: 1/64 + 16/4096 (int8 scales, step d = max/4096) -> 0.02, bound 0.03;
     * Q5_K/Q4_K: 1.5 steps of 2/31 or 2/15, plus 2/63 for 6-bit scale and min -> 0.13/0.24;
     * Q3_K: 1.5 steps of 1/4 plus 8/64 -> 0.5; Q2_K: 1.5 steps of 2/3 -> 1.0 (a sub-block
     * whose 4-bit scale rounds to 0 decodes to -min only). */
    double max_bound;
} ktype;

static const ktype KT[] = {
    {"Q2_K", sizeof(block_q2_K), qk_quantize_row_q2_K_ref, qk_dequantize_row_q2_K,
     qk_vec_dot_q2_K_q8_K, 0, 3, 0.44, 1.0},
    {"Q3_K", sizeof(block_q3_K), qk_quantize_row_q3_K_ref, qk_dequantize_row_q3_K,
     qk_vec_dot_q3_K_q8_K, -4, 3, 0.18, 0.5},
    {"Q4_K", sizeof(block_q4_K), qk_quantize_row_q4_K_ref, qk_dequantize_row_q4_K,
     qk_vec_dot_q4_K_q8_K, 0, 15, 0.10, 0.24},
    {"Q5_K", sizeof(block_q5_K), qk_quantize_row_q5_K_ref, qk_dequantize_row_q5_K,
     qk_vec_dot_q5_K_q8_K, 0, 31, 0.05, 0.13},
    {"Q6_K", sizeof(block_q6_K), qk_quantize_row_q6_K_ref, qk_dequantize_row_q6_K,
     qk_vec_dot_q6_K_q8_K, -32, 31, 0.023, 0.03},
    {"Q8_K", sizeof(block_q8_K), qk_quantize_row_q8_K_ref, qk_dequantize_row_q8_K, NULL, -127,
     127, 0.0087, 1.0 / 254},
};
#define N_KT ((int)(sizeof KT / sizeof KT[0]))

/* Step dl and offset ml of the levels y = dl*q - ml that element e of a block uses, read
 * from the block header with the layout of llama-cpp-reference.md §2.1. */
static void block_levels(int t, const void *blk, int e, float *dl, float *ml) {
    uint8_t sc, m;
    *ml = 0;
    switch (t) {
    case 0: {
        const block_q2_K *b = blk;
        *dl = qk_half_to_float(b->d) * (float)(b->scales[e / 16] & 0xF);
        *ml = qk_half_to_float(b->dmin) * (float)(b->scales[e / 16] >> 4);
        break;
    }
    case 1: {
        const block_q3_K *b = blk;
        *dl = qk_half_to_float(b->d) * (float)qk_get_scale_q3_K(e / 16, b->scales);
        break;
    }
    case 2: {
        const block_q4_K *b = blk;
        qk_get_scale_min_k4(e / 32, b->scales, &sc, &m);
        *dl = qk_half_to_float(b->d) * (float)sc;
        *ml = qk_half_to_float(b->dmin) * (float)m;
        break;
    }
    case 3: {
        const block_q5_K *b = blk;
        qk_get_scale_min_k4(e / 32, b->scales, &sc, &m);
        *dl = qk_half_to_float(b->d) * (float)sc;
        *ml = qk_half_to_float(b->dmin) * (float)m;
        break;
    }
    case 4: {
        const block_q6_K *b = blk;
        *dl = qk_half_to_float(b->d) * (float)b->scales[e / 16];
        break;
    }
    default: *dl = ((const block_q8_K *)blk)->d; break;
    }
}

/* Super-block scale d and min scale dmin of a block (dmin 0 for the symmetric types). */
static void block_d(int t, const void *blk, float *d, float *dmin) {
    *dmin = 0;
    switch (t) {
    case 0: *d = qk_half_to_float(((const block_q2_K *)blk)->d);
            *dmin = qk_half_to_float(((const block_q2_K *)blk)->dmin); break;
    case 1: *d = qk_half_to_float(((const block_q3_K *)blk)->d); break;
    case 2: *d = qk_half_to_float(((const block_q4_K *)blk)->d);
            *dmin = qk_half_to_float(((const block_q4_K *)blk)->dmin); break;
    case 3: *d = qk_half_to_float(((const block_q5_K *)blk)->d);
            *dmin = qk_half_to_float(((const block_q5_K *)blk)->dmin); break;
    case 4: *d = qk_half_to_float(((const block_q6_K *)blk)->d); break;
    default: *d = ((const block_q8_K *)blk)->d; break;
    }
}

/* Relative rounding error of a value stored as fp16: half an fp16 ulp over |v|. Below 2^-14
 * fp16 is subnormal with a fixed ulp of 2^-24, so small super-block scales (Q6_K's d is
 * max/4096: subnormal for any block with max|x| < 0.25) lose relative precision. */
static double fp16_rel_err(float v) {
    double a = fabs(v);
    if (a == 0) return 0;
    double ulp = a < 6.103515625e-05 ? ldexp(1.0, -24) : ldexp(1.0, ilogb(a) - 10);
    return 0.5 * ulp / a;
}

/* Quantize + dequantize n values (n a multiple of 256) with type t. Checks that no output
 * is NaN, that every element decodes to the level nearest to it (or to an end of the code
 * range when it lies outside) and, when check_max, the max error per super-block:
 * max_bound * max|x| plus what storing d and dmin as fp16 moves the levels
 * (|q|*|dl|*rel(d) + |ml|*rel(dmin)), which the fixed bound covers only for normal fp16.
 * Returns the RMS of the error. */
static double roundtrip_check(int t, const float *x, float *y, int n, const char *what,
                              int check_max) {
    const ktype *k = &KT[t];
    uint8_t *q = malloc((size_t)(n / QK_K) * k->bsize);
    ck_assert_ptr_nonnull(q);
    k->quantize(x, q, n);
    k->dequantize(q, y, n);
    double se = 0;
    for (int b = 0; b < n / QK_K; b++) {
        const void *blk = q + (size_t)b * k->bsize;
        float d, dmin;
        block_d(t, blk, &d, &dmin);
        double rd = t == N_KT - 1 ? 0 : fp16_rel_err(d), rm = fp16_rel_err(dmin);
        double amax = 0, emax = 0, slack = 0;
        for (int e = 0; e < QK_K; e++) {
            int i = b * QK_K + e;
            ck_assert_msg(!isnan(y[i]), "%s %s: NaN at %d", k->name, what, i);
            double err = fabs((double)x[i] - y[i]);
            se += err * err;
            if (fabs(x[i]) > amax) amax = fabs(x[i]);
            if (err > emax) emax = err;
            float dl, ml;
            block_levels(t, blk, e, &dl, &ml);
            if (dl == 0.0f) continue; /* scale rounded to 0: codes come from the search */
            double qf = ((double)y[i] + ml) / dl;
            long qi = lround(qf);
            ck_assert_msg(fabs(qf - (double)qi) < 1e-3 && qi >= k->qlo && qi <= k->qhi,
                          "%s %s: element %d decodes off the grid (q=%g)", k->name, what, i, qf);
            /* float rounding of (x+m)/d and of d*q-m: a few ulps of the values involved */
            double tol = 1e-6 * (fabs(x[i]) + fabs(ml) + fabs(dl) * (fabs(qf) + 1));
            if (qi > k->qlo)
                ck_assert_msg(err <= fabs((double)x[i] - ((double)y[i] - dl)) + tol,
                              "%s %s: element %d not on the nearest level", k->name, what, i);
            if (qi < k->qhi)
                ck_assert_msg(err <= fabs((double)x[i] - ((double)y[i] + dl)) + tol,
                              "%s %s: element %d not on the nearest level", k->name, what, i);
            double s = fabs((double)dl) * (fabs(qf) + 1) * rd + fabs((double)ml) * rm;
            if (s > slack) slack = s;
        }
        if (check_max)
            ck_assert_msg(emax <= k->max_bound * amax * (1 + 1e-6) + slack,
                          "%s %s: block %d max error %g > %g * max|x| %g + %g", k->name, what,
                          b, emax, k->max_bound, amax, slack);
    }
    free(q);
    return sqrt(se / n);
}

/* ---- nearest_int and packing ---------------------------------------------------------- */

START_TEST(test_nearest_int) {
    /* ties go to the even neighbour, unlike roundf */
    ck_assert_int_eq(qk_nearest_int(0.5f), 0);
    ck_assert_int_eq(qk_nearest_int(1.5f), 2);
    ck_assert_int_eq(qk_nearest_int(2.5f), 2);
    ck_assert_int_eq(qk_nearest_int(-0.5f), 0);
    ck_assert_int_eq(qk_nearest_int(-1.5f), -2);
    ck_assert_int_eq(qk_nearest_int(-2.5f), -2);
    ck_assert_int_eq(qk_nearest_int(2.4999998f), 2);
    ck_assert_int_eq(qk_nearest_int(-3.7f), -4);
    ck_assert_int_eq(qk_nearest_int(4194303.0f), 4194303);
    ck_assert_int_eq(qk_nearest_int(-4194303.0f), -4194303);
}
END_TEST

START_TEST(test_scale_min_k4_roundtrip) {
    /* every (scale, min) pair in every slot, written in a scrambled slot order */
    static const int order[8] = {5, 2, 7, 0, 4, 1, 6, 3};
    for (int base = 0; base < 64; base++) {
        uint8_t q[12] = {0};
        uint8_t want_s[8], want_m[8];
        for (int i = 0; i < 8; i++) {
            int j = order[i];
            want_s[j] = (uint8_t)((base + 9 * j) & 63);
            want_m[j] = (uint8_t)((63 - base + 5 * j) & 63);
            qk_set_scale_min_k4(j, q, want_s[j], want_m[j]);
        }
        for (int j = 0; j < 8; j++) {
            uint8_t s, m;
            qk_get_scale_min_k4(j, q, &s, &m);
            ck_assert_uint_eq(s, want_s[j]);
            ck_assert_uint_eq(m, want_m[j]);
        }
    }
    /* the layout itself (§2.1): slot 5 = (scale 0x2A, min 0x15) ->
     * q[9] = 0xA | 0x5<<4, q[1] bits 6-7 = 0x2A>>4 = 2, q[5] bits 6-7 = 0x15>>4 = 1 */
    uint8_t q[12] = {0};
    qk_set_scale_min_k4(5, q, 0x2A, 0x15);
    static const uint8_t want[12] = {0, 0x80, 0, 0, 0, 0x40, 0, 0, 0, 0x5A, 0, 0};
    ck_assert_mem_eq(q, want, 12);
}
END_TEST

START_TEST(test_scale_q3_K_roundtrip) {
    for (int base = 0; base < 64; base++) {
        uint8_t q[12] = {0};
        int want[16];
        for (int i = 0; i < 16; i++) {
            int j = (i * 7) % 16; /* scrambled order */
            want[j] = ((base + 11 * j) & 63) - 32;
            qk_set_scale_q3_K(j, q, want[j]);
        }
        for (int j = 0; j < 16; j++) ck_assert_int_eq(qk_get_scale_q3_K(j, q), want[j]);
    }
    /* layout: scale j = 9 of value -32+0x2B (stored 0x2B = 0b101011): low nibble 0xB in the
     * high nibble of q[1]; high 2 bits 0b10 at shift 2*(9/4) = 4 of q[8 + 9%4] = q[9] */
    uint8_t q[12] = {0};
    qk_set_scale_q3_K(9, q, 0x2B - 32);
    static const uint8_t want[12] = {0, 0xB0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0};
    ck_assert_mem_eq(q, want, 12);
}
END_TEST

/* ---- hand-checked blocks -------------------------------------------------------------- */

/* Q8_K, x[j] = j - 128. max = -128 (x[0], the largest |x|), iscale = -127/-128 =
 * 0.9921875 (exact), q = nearest(127*(j-128)/128), d = 1/iscale = float(128/127).
 * So x=-128 -> -127, x=-64 -> -63.5 -> -64 (tie to even), x=64 -> 63.5 -> 64 (even),
 * x=-1 -> -0.99 -> -1, x=0 -> 0, x=127 -> 126.0078 -> 126, x=65 -> 64.49 -> 64.
 * bsums[i] = sum over the 16 codes; checked against an integer half-even rounding. */
START_TEST(test_hand_q8_K) {
    float x[QK_K];
    for (int j = 0; j < QK_K; j++) x[j] = (float)(j - 128);
    block_q8_K b;
    memset(&b, 0x5A, sizeof b);
    qk_quantize_row_q8_K_ref(x, &b, QK_K);
    ck_assert(b.d == (float)(128.0 / 127.0));
    ck_assert_int_eq(b.qs[0], -127);
    ck_assert_int_eq(b.qs[64], -64);
    ck_assert_int_eq(b.qs[127], -1);
    ck_assert_int_eq(b.qs[128], 0);
    ck_assert_int_eq(b.qs[192], 64);
    ck_assert_int_eq(b.qs[193], 64);
    ck_assert_int_eq(b.qs[255], 126);
    int sums[16] = {0};
    for (int j = 0; j < QK_K; j++) {
        /* round(127*v/128) half to even, in integers */
        int v = j - 128, num = 127 * v;
        int fl = (num >= 0 ? num : num - 127) / 128; /* floor */
        int rem = num - fl * 128;                    /* 0..127 */
        int want = fl + (rem > 64 || (rem == 64 && (fl & 1)));
        ck_assert_int_eq(b.qs[j], want);
        sums[j / 16] += want;
    }
    for (int i = 0; i < 16; i++) ck_assert_int_eq(b.bsums[i], sums[i]);
}
END_TEST

/* Q6_K. Sub-block ib (16 elements) is x_i = 0.5*k_i with k_0 = -32 and, for i = 1..15,
 * k_i = i - 8 + 2*Q, Q = (ib/2)%4 (so the four elements sharing a byte differ).
 * make_qx_quants: max = -16 (the k = -32 element, the unique largest |x|), iscale =
 * -32/-16 = 2, l = k exactly; the least-squares scale sum(w x l)/sum(w l^2) is 0.5 exactly
 * (w = x^2; every sum is an integer < 2^24 times a power of two), and no perturbed iscale
 * beats an exact fit (Cauchy-Schwarz; an equal score keeps the first). So all 16 scales are
 * 0.5: max_scale = 0.5, iscale = -128/0.5 = -256, d = fp16(-1/256) = 0x9C00 (sign,
 * exponent 15-8 = 7), each int8 scale nearest(-256*0.5) = -128, d*sc = 0.5 again, and the
 * codes are k + 32: 0 for i = 0, i + 24 + 2Q otherwise.
 * Layout per 128 elements (quarters Q = 0..3 at offsets 0, 32, 64, 96; element l of
 * quarter Q lies in sub-block 2Q + l/16, so its Q is the Q above):
 * ql[l] = c(Q0)&15 | (c(Q2)&15)<<4, ql[l+32] = c(Q1)&15 | (c(Q3)&15)<<4,
 * qh[l] = sum (c(Q)>>4) << 2Q. E.g. l = 1: codes 25,27,29,31 = 0x19,0x1B,0x1D,0x1F ->
 * ql[1] = 0xD9, ql[33] = 0xFB, qh[1] = 0x55; l = 7: 31,33,35,37 = 0x1F,0x21,0x23,0x25 ->
 * ql[7] = 0x3F, ql[39] = 0x51, qh[7] = 1|2<<2|2<<4|2<<6 = 0xA9; l = 0: all 0. */
static int hand_q6_code(int e) {
    int i = e % 16, Q = (e % 128) / 32;
    return i == 0 ? 0 : i + 24 + 2 * Q;
}

START_TEST(test_hand_q6_K) {
    float x[QK_K];
    for (int e = 0; e < QK_K; e++) x[e] = 0.5f * (float)(hand_q6_code(e) - 32);
    block_q6_K b;
    qk_quantize_row_q6_K_ref(x, &b, QK_K);
    ck_assert_uint_eq(b.d, 0x9C00);
    for (int j = 0; j < 16; j++) ck_assert_int_eq(b.scales[j], -128);
    ck_assert_uint_eq(b.ql[1], 0xD9);
    ck_assert_uint_eq(b.ql[33], 0xFB);
    ck_assert_uint_eq(b.qh[1], 0x55);
    ck_assert_uint_eq(b.ql[7], 0x3F);
    ck_assert_uint_eq(b.ql[39], 0x51);
    ck_assert_uint_eq(b.qh[7], 0xA9);
    ck_assert_uint_eq(b.ql[64 + 0], 0x00);
    ck_assert_uint_eq(b.qh[32 + 0], 0x00);
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            int c[4];
            for (int Q = 0; Q < 4; Q++) c[Q] = hand_q6_code(128 * h + 32 * Q + l);
            ck_assert_uint_eq(b.ql[64 * h + l], (c[0] & 15) | (c[2] & 15) << 4);
            ck_assert_uint_eq(b.ql[64 * h + l + 32], (c[1] & 15) | (c[3] & 15) << 4);
            ck_assert_uint_eq(b.qh[32 * h + l],
                              (c[0] >> 4) | (c[1] >> 4) << 2 | (c[2] >> 4) << 4 | (c[3] >> 4) << 6);
        }
    /* every value is 0.5*k with k representable: decoding is exact */
    float y[QK_K];
    qk_dequantize_row_q6_K(&b, y, QK_K);
    for (int e = 0; e < QK_K; e++) ck_assert(y[e] == x[e]);
}
END_TEST

/* Q4_K. Sub-block j (32 elements) is x = k - 8 with k = e%16 for even j and 15 - e%16 for
 * odd j (each holds 0..15 twice).
 * make_qkx2_quants: min = -8, max = 7, iscale = 15/15 = 1, L = k, scale = 1, weighted error
 * 0 -- nothing in the search grid can do better, so scale 1, the_min 8 in all 8 sub-blocks.
 * 6-bit: inv_scale = 63/1, ls = 63; inv_min = 63/8, lm = nearest(7.875*8) = 63.
 * d = fp16(1/63): 1/63 = 2^-6 * 1.015873, mantissa 0.015873*1024 = 16.25 -> 16, exponent
 * field 15-6 = 9 -> 0x2410 (= 0.015869140625). dmin = fp16(8/63) = 2^-3 * same -> 0x3010.
 * Packed scales with ls = lm = 63 everywhere: j<4 puts 63 in bytes j and j+4; j>=4 puts
 * 0xFF in byte j+4 and ORs 0xC0 into bytes j-4 and j -> all 12 bytes 0xFF.
 * Re-quantization: d*63 = 0.999755859375, dmin*63 = 7.998046875, so
 * (x + 7.998)/0.99976 is within 0.002 of k for x = -8 and within 0.004 for x = 7: codes = k.
 * qs (per 64: low nibble element l of the even sub-block, high nibble element l of the odd
 * one): byte l = (l%16) | (15 - l%16)<<4, e.g. qs[0] = 0xF0, qs[1] = 0xE1, qs[15] = 0x0F. */
START_TEST(test_hand_q4_K) {
    float x[QK_K];
    for (int e = 0; e < QK_K; e++) x[e] = (float)(((e / 32) % 2 ? 15 - e % 16 : e % 16) - 8);
    block_q4_K b;
    qk_quantize_row_q4_K_ref(x, &b, QK_K);
    ck_assert_uint_eq(b.d, 0x2410);
    ck_assert_uint_eq(b.dmin, 0x3010);
    for (int j = 0; j < 12; j++) ck_assert_uint_eq(b.scales[j], 0xFF);
    ck_assert_uint_eq(b.qs[0], 0xF0);
    ck_assert_uint_eq(b.qs[1], 0xE1);
    ck_assert_uint_eq(b.qs[15], 0x0F);
    for (int l = 0; l < 128; l++) ck_assert_uint_eq(b.qs[l], (l % 16) | (15 - l % 16) << 4);
    /* y = 0.999755859375*k - 7.998046875, within 0.004 of x */
    float y[QK_K];
    qk_dequantize_row_q4_K(&b, y, QK_K);
    for (int e = 0; e < QK_K; e++)
        ck_assert(y[e] == 0.999755859375f * (x[e] + 8.0f) - 7.998046875f);
}
END_TEST

/* Q4_K with scales that round to 0. Sub-block 0 is the hand block above (x = e%16 - 8:
 * scale 1, min 8); sub-blocks 1..7 are x = k/1024, k = e%16: min 0, max 15/1024, iscale =
 * 1024 exactly, L = k with error 0, scale 1/1024, the_min -0. Then ls = nearest(63/1024) =
 * 0 and lm = 0 for j >= 1, so d*sc = 0 there and ggml skips the re-quantization ("if (!d)
 * continue"): the codes stay the search's k, not 0. Scales: j = 0 gives bytes 0 and 4 =
 * 63, the rest 0. d = 0x2410 and dmin = 0x3010 as above; every qs byte (l%16)*0x11. */
START_TEST(test_hand_q4_K_zero_scale) {
    float x[QK_K];
    for (int e = 0; e < QK_K; e++) x[e] = e < 32 ? (float)(e % 16 - 8) : (float)(e % 16) / 1024.0f;
    block_q4_K b;
    qk_quantize_row_q4_K_ref(x, &b, QK_K);
    ck_assert_uint_eq(b.d, 0x2410);
    ck_assert_uint_eq(b.dmin, 0x3010);
    static const uint8_t want_sc[12] = {63, 0, 0, 0, 63, 0, 0, 0, 0, 0, 0, 0};
    ck_assert_mem_eq(b.scales, want_sc, 12);
    for (int l = 0; l < 128; l++) ck_assert_uint_eq(b.qs[l], (l % 16) * 0x11);
}
END_TEST

/* Q5_K. Sub-block j is x = k - 16 with k = e%32 for even j and 31 - e%32 for odd j: as for
 * Q4_K with nmax 31, min -16, max 15, iscale 1, exact fit, scale 1, the_min 16 -> ls = lm =
 * 63, scales all 0xFF, d = 0x2410, dmin = fp16(16/63) = 2^-2 * 1.015873 -> 0x3410
 * (0.25390625); dmin*63 = 15.99609375, so codes = k. qs byte l of each 64 =
 * (l&15) | ((31-l)&15)<<4 (e.g. qs[0] = 0xF0, qs[17] = 0xE1); qh[l]: bit 2c set when
 * code(64c+l) = l > 15, bit 2c+1 when code(64c+32+l) = 31-l > 15 -> l >= 16: 0x55, else 0xAA. */
START_TEST(test_hand_q5_K) {
    float x[QK_K];
    for (int e = 0; e < QK_K; e++) x[e] = (float)(((e / 32) % 2 ? 31 - e % 32 : e % 32) - 16);
    block_q5_K b;
    qk_quantize_row_q5_K_ref(x, &b, QK_K);
    ck_assert_uint_eq(b.d, 0x2410);
    ck_assert_uint_eq(b.dmin, 0x3410);
    for (int j = 0; j < 12; j++) ck_assert_uint_eq(b.scales[j], 0xFF);
    ck_assert_uint_eq(b.qs[0], 0xF0);
    ck_assert_uint_eq(b.qs[17], 0xE1);
    for (int l = 0; l < 128; l++) ck_assert_uint_eq(b.qs[l], (l & 15) | ((31 - l % 32) & 15) << 4);
    for (int l = 0; l < 32; l++) ck_assert_uint_eq(b.qh[l], l >= 16 ? 0x55 : 0xAA);
}
END_TEST

/* Q3_K. x = c - 4 with c = (e%8 + Q)%8, Q = (e%128)/32: every sub-block of 16 holds -4..3
 * twice, -4 being the unique largest |x|. make_q3_quants: max = -4, iscale = -4/-4 = 1,
 * l = x, and coordinate descent finds sl2/slx = 1 for every element, so nothing moves:
 * scale = sumlx/suml2 = 1. All 16 scales are 1: iscale = -32/1, each stored scale
 * nearest(-32) = -32 -> biased 0, so all 12 scale bytes are 0; d = fp16(1/-32) = -0.03125
 * = 0xA800 (sign, exponent 15-5 = 10); d*(-32) = 1, codes = x + 4 = c.
 * hmask[m] bit b is the high bit of element 32b + m, code (m%8 + b%4)%8: hmask[0] = 0x00
 * (codes 0..3), hmask[4] = 0xFF (codes 4..7), hmask[2] = bits with b%4 >= 2 = 0xCC.
 * qs byte l of each half holds elements l, l+32, l+64, l+96 (Q = 0..3) at shifts 2Q:
 * l%8 = 0 -> codes 0,1,2,3 -> 0xE4; l%8 = 5 -> codes 5,6,7,0 -> low bits 1,2,3,0 -> 0x39.
 * Decoding is exact. */
START_TEST(test_hand_q3_K) {
    float x[QK_K];
    for (int e = 0; e < QK_K; e++) x[e] = (float)((e % 8 + (e % 128) / 32) % 8 - 4);
    block_q3_K b;
    qk_quantize_row_q3_K_ref(x, &b, QK_K);
    ck_assert_uint_eq(b.d, 0xA800);
    for (int j = 0; j < 12; j++) ck_assert_uint_eq(b.scales[j], 0);
    ck_assert_uint_eq(b.hmask[0], 0x00);
    ck_assert_uint_eq(b.hmask[4], 0xFF);
    ck_assert_uint_eq(b.hmask[2], 0xCC);
    ck_assert_uint_eq(b.qs[0], 0xE4);
    ck_assert_uint_eq(b.qs[5], 0x39);
    for (int m = 0; m < 32; m++) {
        int want = 0;
        for (int bit = 0; bit < 8; bit++) want |= ((m % 8 + bit % 4) % 8 >= 4) << bit;
        ck_assert_uint_eq(b.hmask[m], want);
    }
    for (int l = 0; l < 64; l++) {
        int want = 0;
        for (int Q = 0; Q < 4; Q++) want |= (((l % 8 + Q) % 8) & 3) << (2 * Q);
        ck_assert_uint_eq(b.qs[l], want);
    }
    float y[QK_K];
    qk_dequantize_row_q3_K(&b, y, QK_K);
    for (int e = 0; e < QK_K; e++) ck_assert(y[e] == x[e]);
}
END_TEST

/* Q2_K. x = (e%4 + Q)%4 with Q = (e%128)/32. Each sub-block: min = 0, max = 3, iscale =
 * 3/3 = 1, L = x, MAD error 0 -> scale 1, the_min = -0 (so max_min stays 0). 4-bit:
 * iscale = 15/1, every scale nibble nearest(15) = 15, min nibble 0 -> scales[] = 0x0F;
 * d = fp16(1/15): 1/15 = 2^-4 * 1.0666667, mantissa 68.27 -> 68, exponent field 11 ->
 * 0x2C44 (= 0.066650390625); dmin = 0. d*15 = 0.999755859375 -> codes = x.
 * qs byte l of each half holds elements l, l+32, l+64, l+96 (Q = 0..3) at shifts 2Q:
 * l%4 = 0 -> 0,1,2,3 -> 0xE4; 1 -> 1,2,3,0 -> 0x39; 2 -> 2,3,0,1 -> 0x4E; 3 -> 0x93. */
START_TEST(test_hand_q2_K) {
    float x[QK_K];
    for (int e = 0; e < QK_K; e++) x[e] = (float)((e % 4 + (e % 128) / 32) % 4);
    block_q2_K b;
    qk_quantize_row_q2_K_ref(x, &b, QK_K);
    ck_assert_uint_eq(b.d, 0x2C44);
    ck_assert_uint_eq(b.dmin, 0);
    for (int j = 0; j < 16; j++) ck_assert_uint_eq(b.scales[j], 0x0F);
    static const uint8_t want[4] = {0xE4, 0x39, 0x4E, 0x93};
    for (int l = 0; l < 64; l++) ck_assert_uint_eq(b.qs[l], want[l % 4]);
}
END_TEST

/* ---- round trips --------------------------------------------------------------------- */

#define NRT (16 * QK_K)

/* N(0,1) rows: nearest-level property, per-block max error and relative RMS bounds. */
START_TEST(test_roundtrip_gauss) {
    int t = _i;
    float *x = malloc(NRT * sizeof *x), *y = malloc(NRT * sizeof *y);
    rng_seed(1234 + (uint64_t)t);
    double ss = 0;
    for (int i = 0; i < NRT; i++) {
        x[i] = rng_gauss();
        ss += (double)x[i] * x[i];
    }
    double rel = roundtrip_check(t, x, y, NRT, "gauss", 1) / sqrt(ss / NRT);
    fprintf(stderr, "%s: relative RMS error on N(0,1) = %.4f (bound %.4f)\n", KT[t].name, rel,
            KT[t].rms_bound);
    ck_assert_msg(rel <= KT[t].rms_bound, "%s: relative RMS error %.4f > bound %.4f",
                  KT[t].name, rel, KT[t].rms_bound);
    /* Power-of-two scaling commutes with the whole algorithm (every ratio, comparison and
     * nearest_int argument is unchanged) as long as d stays a normal fp16: x/4 decodes to
     * exactly y/4. */
    for (int i = 0; i < NRT; i++) x[i] *= 0.25f;
    float *y4 = malloc(NRT * sizeof *y4);
    roundtrip_check(t, x, y4, NRT, "gauss/4", 1);
    for (int i = 0; i < NRT; i++) ck_assert_msg(y4[i] == 0.25f * y[i], "%s: x/4 at %d", KT[t].name, i);
    free(y4);
    /* At a typical weight magnitude (x 4e-3 in all) the fp16 d of Q4_K/Q6_K is subnormal
     * and loses relative precision (Q6_K: RMS 0.0180 instead of 0.0176 here, 0.0207 at
     * 1e-3); the same bound still holds. */
    for (int i = 0; i < NRT; i++) x[i] *= 4e-3f / 0.25f;
    double rel2 = roundtrip_check(t, x, y, NRT, "gauss*4e-3", 1) / (4e-3 * sqrt(ss / NRT));
    fprintf(stderr, "%s: relative RMS error on N(0,4e-3^2) = %.4f\n", KT[t].name, rel2);
    ck_assert_msg(rel2 <= KT[t].rms_bound, "%s: relative RMS error at 4e-3 %.4f > %.4f",
                  KT[t].name, rel2, KT[t].rms_bound);
    free(x);
    free(y);
}
END_TEST

/* Edge cases, each on 2 super-blocks. */
START_TEST(test_roundtrip_edges) {
    int t = _i;
    const int n = 2 * QK_K;
    float x[2 * QK_K], y[2 * QK_K];
    rng_seed(99 + (uint64_t)t);

    /* zeros decode to exactly zero */
    memset(x, 0, sizeof x);
    roundtrip_check(t, x, y, n, "zeros", 1);
    for (int i = 0; i < n; i++) ck_assert(y[i] == 0.0f);

    /* values below GROUP_MAX_EPS (1e-15): Q3_K/Q6_K treat them as zero; all types must
     * stay finite and within 1e-15 */
    for (int i = 0; i < n; i++) x[i] = 1e-20f * rng_gauss();
    roundtrip_check(t, x, y, n, "tiny", 0); /* fp16 d underflows to 0 */
    for (int i = 0; i < n; i++) ck_assert(isfinite(y[i]) && fabsf(y[i]) < 1e-15f);

    /* constant positive row: every type reproduces it to fp16 precision (the max maps to
     * a code end with scale c/levels; d carries 2^-11 relative error, the 4/6/8-bit scale
     * code is exact because all sub-blocks equal the max) */
    for (int i = 0; i < n; i++) x[i] = 0.37f;
    roundtrip_check(t, x, y, n, "constant", 1);
    for (int i = 0; i < n; i++) ck_assert_msg(fabsf(y[i] - 0.37f) <= 0.37f * 1e-3f, "%s const %g", KT[t].name, y[i]);

    /* constant negative row: Q2/4/5_K put it all in the min (scale 0), others in a scale */
    for (int i = 0; i < n; i++) x[i] = -2.5f;
    roundtrip_check(t, x, y, n, "negative constant", 1);
    for (int i = 0; i < n; i++) ck_assert_msg(fabsf(y[i] + 2.5f) <= 2.5f * 1e-3f, "%s -const %g", KT[t].name, y[i]);

    /* all-negative random row */
    for (int i = 0; i < n; i++) x[i] = -1.0f - fabsf(rng_gauss());
    roundtrip_check(t, x, y, n, "all-negative", 1);

    /* outliers: one large value per 64 elements, alternating sign */
    for (int i = 0; i < n; i++) x[i] = rng_gauss();
    for (int i = 0; i < n; i += 64) x[i + 7] = (i / 64) % 2 ? -40.0f : 55.0f;
    roundtrip_check(t, x, y, n, "outliers", 1);
    for (int i = 0; i < n; i += 64) ck_assert_msg(fabsf(y[i + 7] - x[i + 7]) < 0.1f * fabsf(x[i + 7]), "%s outlier", KT[t].name);

    /* one sub-block much larger than the rest: small sub-block scales round to few codes */
    for (int i = 0; i < n; i++) x[i] = (i % QK_K) < 16 ? 1000.0f * rng_gauss() : 0.01f * rng_gauss();
    roundtrip_check(t, x, y, n, "mixed magnitudes", 1);
}
END_TEST

/* Quantizing is deterministic and row-local: quantizing 2 rows at once equals quantizing
 * each separately (llama-quantize splits tensors into row chunks across threads). */
START_TEST(test_row_locality) {
    int t = _i;
    float x[4 * QK_K];
    rng_seed(7);
    for (int i = 0; i < 4 * QK_K; i++) x[i] = rng_gauss();
    size_t bs = KT[t].bsize;
    uint8_t *a = malloc(4 * bs), *b = malloc(4 * bs);
    KT[t].quantize(x, a, 4 * QK_K);
    KT[t].quantize(x, b, 2 * QK_K);
    KT[t].quantize(x + 2 * QK_K, b + 2 * bs, 2 * QK_K);
    ck_assert_mem_eq(a, b, 4 * bs);
    free(a);
    free(b);
}
END_TEST

/* ---- dot products --------------------------------------------------------------------- */

/* vec_dot(x, y) against Q8_K equals sum(dequant(x) * dequant(y)) computed in double.
 * vec_dot's integer sums are exact; its float part rounds d*isum and dmin*msum per
 * super-block and adds nb terms, so its error is a few ulps of sum|x_i*y_i| per block:
 * tolerance 1e-5 * sum|deq_x * deq_y| is 10x that. */
START_TEST(test_vec_dot) {
    int t = _i;
    enum { N = 8 * QK_K };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    float *dx = malloc(N * sizeof *dx), *dy = malloc(N * sizeof *dy);
    uint8_t *qx = malloc((N / QK_K) * KT[t].bsize);
    block_q8_K *qy = malloc((N / QK_K) * sizeof *qy);
    for (int trial = 0; trial < 4; trial++) {
        rng_seed(500 + (uint64_t)(t * 10 + trial));
        for (int i = 0; i < N; i++) {
            x[i] = rng_gauss() * (trial == 1 ? 0.02f : 1.0f) + (trial == 2 ? 0.5f : 0.0f);
            y[i] = rng_gauss() * (trial == 3 ? 30.0f : 1.0f);
        }
        KT[t].quantize(x, qx, N);
        qk_quantize_row_q8_K_ref(y, qy, N);
        KT[t].dequantize(qx, dx, N);
        qk_dequantize_row_q8_K(qy, dy, N);
        double ref = 0, mag = 0;
        for (int i = 0; i < N; i++) {
            ref += (double)dx[i] * dy[i];
            mag += fabs((double)dx[i] * dy[i]);
        }
        float s = -1;
        KT[t].vec_dot(N, &s, qx, qy);
        ck_assert_msg(fabs(s - ref) <= 1e-5 * mag, "%s trial %d: vec_dot %.7g vs %.7g (mag %g)",
                      KT[t].name, trial, s, ref, mag);
        /* and it tracks the float dot product within the quantization error */
        double exact = 0;
        for (int i = 0; i < N; i++) exact += (double)x[i] * y[i];
        ck_assert(fabs(s - exact) <= 0.5 * mag);
    }
    /* zero weights give exactly 0 */
    memset(x, 0, N * sizeof *x);
    KT[t].quantize(x, qx, N);
    float s = -1;
    KT[t].vec_dot(N, &s, qx, qy);
    ck_assert(s == 0.0f);
    free(x);
    free(y);
    free(dx);
    free(dy);
    free(qx);
    free(qy);
}
END_TEST

/* Q8_K bsums equal the sums of their 16 codes, and an all-zero block is all zero. */
START_TEST(test_q8_K_bsums) {
    float x[2 * QK_K];
    rng_seed(3);
    for (int i = 0; i < QK_K; i++) x[i] = 5.0f * rng_gauss();
    for (int i = QK_K; i < 2 * QK_K; i++) x[i] = 0;
    block_q8_K b[2];
    memset(b, 0x77, sizeof b);
    qk_quantize_row_q8_K_ref(x, b, 2 * QK_K);
    for (int j = 0; j < 16; j++) {
        int s = 0;
        for (int i = 0; i < 16; i++) s += b[0].qs[16 * j + i];
        ck_assert_int_eq(b[0].bsums[j], s);
        ck_assert_int_eq(b[1].bsums[j], 0);
    }
    ck_assert(b[1].d == 0.0f);
    /* the largest |x| maps to exactly +-127 */
    int mx = 0;
    for (int i = 0; i < QK_K; i++) mx = abs(b[0].qs[i]) > mx ? abs(b[0].qs[i]) : mx;
    ck_assert_int_eq(mx, 127);
}
END_TEST

static Suite *quants_k_suite(void) {
    Suite *s = suite_create("quants_k");
    TCase *tc = tcase_create("packing");
    tcase_add_test(tc, test_nearest_int);
    tcase_add_test(tc, test_scale_min_k4_roundtrip);
    tcase_add_test(tc, test_scale_q3_K_roundtrip);
    suite_add_tcase(s, tc);
    tc = tcase_create("hand_blocks");
    tcase_add_test(tc, test_hand_q8_K);
    tcase_add_test(tc, test_hand_q6_K);
    tcase_add_test(tc, test_hand_q5_K);
    tcase_add_test(tc, test_hand_q4_K);
    tcase_add_test(tc, test_hand_q4_K_zero_scale);
    tcase_add_test(tc, test_hand_q3_K);
    tcase_add_test(tc, test_hand_q2_K);
    suite_add_tcase(s, tc);
    tc = tcase_create("roundtrip");
    tcase_add_loop_test(tc, test_roundtrip_gauss, 0, N_KT);
    tcase_add_loop_test(tc, test_roundtrip_edges, 0, N_KT);
    tcase_add_loop_test(tc, test_row_locality, 0, N_KT);
    tcase_add_test(tc, test_q8_K_bsums);
    suite_add_tcase(s, tc);
    tc = tcase_create("vec_dot");
    tcase_add_loop_test(tc, test_vec_dot, 0, N_KT - 1); /* Q8_K has no vec_dot of its own */
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return qk_test_main(quants_k_suite()); }
