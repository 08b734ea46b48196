/*
 * test_kernels_legacy.c — the SIMD kernels of engine/quants_float_avx2.c and
 * engine/quants_legacy_avx2.c (and Q8_K's to_float in quants_k_avx2.c) against the scalar
 * references of quants_float.c, quants_legacy.c (and quants_k.c).
 *
 * Scalar kernels are called directly; SIMD kernels through the type table (qk_type_get),
 * which holds them when qk_cpu_has_avx2(). The comparisons form test cases tagged "avx2"
 * and "avx512vnni" (QK_TEST_TAG_*): where the kernels in use lack the instruction set (CPU
 * without it, QK_FORCE_SCALAR=1, QK_NO_AVX512=1) ctest reports those parts Skipped. The
 * untagged "table" case checks on every machine that the type table holds the kernels the
 * CPU check says: the scalar references without AVX2, the AVX2 ones, the VNNI variants.
 *
 * What is checked, for rows of 32, 96, 224, 896, 4832, 4864 and 4960 elements (and, for
 * F32/F16/BF16, lengths that are not multiples of the vector width: 1, 7, 8, 31, 33, 257,
 * 895, 4867):
 *  - vec_dot, exact data: codes and scales are chosen so that every partial sum is a
 *    multiple of a power of two and below 2^24 of those units (the test checks that
 *    precondition). Then every float operation of either kernel is exact, whatever its
 *    order, and SIMD and scalar must agree bit for bit: a single wrong element or block
 *    would show.
 *  - vec_dot, realistic data (activation-like rows at several magnitudes, weights from
 *    the reference quantizers, full code ranges): |simd - scalar| <= (nterms + 8) * 2^-23
 *    * M, where M = sum of the magnitudes of everything either kernel adds (for the
 *    quantized types sum_b |d_x d_y| sum_j |q_x q_y| + |m_x s_y|; for the float types
 *    sum_j |x_j y_j|) and nterms the number of elements. Each kernel's float error is at
 *    most about nterms * 2^-24 * M (recursive summation, one rounding per product), so
 *    the difference of two is within twice that.
 *  - vec_dot, special values: inf and NaN propagate the same way in F32/F16/BF16.
 *  - from_float for F16, BF16, Q8_0 and Q8_1: the same bytes as the scalar conversion
 *    (qk_quantize_row_f16/_bf16, qk_quantize_row_q8_0_ref/_q8_1_ref) on random rows, on
 *    random bit patterns (every float class: subnormals, inf, NaN payloads), on exact
 *    rounding ties (F16, BF16, and Q8 blocks where x*id lands on k + 0.5), and on edge
 *    blocks (zeros, -0, inf, NaN, tiny values whose 1/d overflows, huge values).
 *  - to_float for F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, IQ4_NL and Q8_K: the same
 *    float bits as the scalar dequantizer (NaN payloads included), with nothing written
 *    before or after the output row and nothing read past the input row (rows end at an
 *    inaccessible page), for every length above (Q8_K: 256 .. 4864), unaligned outputs
 *    and inputs at both address parities: on blocks of random bytes with random finite
 *    scales of any exponent and with random scale bits; on rows from the reference
 *    quantizers (including fp16-subnormal scales); on edge scales (+-0, subnormals, the
 *    largest finite, +-inf, quiet and signalling NaNs, each d against each m) with
 *    constant and random codes; and, for F16/BF16, on rows of all 65536 codes at 8
 *    alignments (signalling NaNs stay signalling). One allowance: for Q4_1/Q5_1 blocks
 *    with a NaN m and a NaN or infinite d, q*d + m only has to be NaN in both (when q*d
 *    is NaN as well, which NaN's payload survives the commutative add is up to the
 *    compiler, in the scalar code too: GCC 12 gives the same bits, clang 14 -march=native
 *    not for Q5_1).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu.h"
#include "quants.h"
#include "testutil.h"
#include "types.h"

/* ------------------------------------------------------------------ data -------- */

static uint64_t rng_state;
static uint64_t rng_next(void) { return qk_test_splitmix64(&rng_state); }
static float rng_uniform(void) { return (float)((double)(rng_next() >> 11) / 9007199254740992.0 * 2.0 - 1.0); }
static float rng_normal(void) { return (rng_uniform() + rng_uniform() + rng_uniform() + rng_uniform()) * 0.866f; }
static int rng_int(int lo, int hi) { return lo + (int)(rng_next() % (uint64_t)(hi - lo + 1)); }

/* Activation-like row: normal values whose scale changes every 32 elements (1e-4 .. 300),
 * with a few outliers. */
static void fill_row(float *x, int n) {
    static const float scales[] = {1e-4f, 0.01f, 0.3f, 1.0f, 2.5f, 40.0f, 300.0f};
    for (int i = 0; i < n; i++) {
        float s = scales[(i / 32) % 7];
        x[i] = s * rng_normal();
        if (rng_next() % 97 == 0) x[i] *= 20.0f;
    }
}

/* The tagged cases run only where the kernels in use have the instruction set. */
static void need_avx2(void) { ck_assert_msg(qk_cpu_has_avx2(), "an avx2 case ran without AVX2 kernels"); }

static const int QLEN[] = {32, 96, 224, 896, 4832, 4864, 4960};
#define N_QLEN ((int)(sizeof QLEN / sizeof QLEN[0]))
static const int FLEN[] = {1, 7, 8, 31, 32, 33, 257, 895, 896, 4864, 4867};
#define N_FLEN ((int)(sizeof FLEN / sizeof FLEN[0]))
#define MAXN 4960

/* ------------------------------------------------------------------ quantized dots -- */

typedef struct qdot {
    const char *name;
    qk_type wtype;
    size_t wbytes;          /* bytes per weight block */
    int has_min;            /* _1 types: d, m halves at offsets 0, 2; activations Q8_1 */
    int max_code;           /* largest |code| the weight can hold (after offsets) */
    qk_from_float_fn quantize;
    qk_to_float_fn dequantize;
    qk_vec_dot_fn scalar;
} qdot;

static const qdot QD[] = {
    {"Q4_0", QK_TYPE_Q4_0, sizeof(block_q4_0), 0, 8, qk_quantize_row_q4_0_ref, qk_dequantize_row_q4_0, qk_vec_dot_q4_0_q8_0},
    {"Q4_1", QK_TYPE_Q4_1, sizeof(block_q4_1), 1, 15, qk_quantize_row_q4_1_ref, qk_dequantize_row_q4_1, qk_vec_dot_q4_1_q8_1},
    {"Q5_0", QK_TYPE_Q5_0, sizeof(block_q5_0), 0, 16, qk_quantize_row_q5_0_ref, qk_dequantize_row_q5_0, qk_vec_dot_q5_0_q8_0},
    {"Q5_1", QK_TYPE_Q5_1, sizeof(block_q5_1), 1, 31, qk_quantize_row_q5_1_ref, qk_dequantize_row_q5_1, qk_vec_dot_q5_1_q8_1},
    {"Q8_0", QK_TYPE_Q8_0, sizeof(block_q8_0), 0, 127, qk_quantize_row_q8_0_ref, qk_dequantize_row_q8_0, qk_vec_dot_q8_0_q8_0},
    {"IQ4_NL", QK_TYPE_IQ4_NL, sizeof(block_iq4_nl), 0, 127, qk_quantize_row_iq4_nl_ref, qk_dequantize_row_iq4_nl, qk_vec_dot_iq4_nl_q8_0},
};
#define N_QD ((int)(sizeof QD / sizeof QD[0]))

static void put_half(uint8_t *p, float v) {
    qk_half h = qk_float_to_half(v);
    memcpy(p, &h, 2);
}
static float get_half(const uint8_t *p) {
    qk_half h;
    memcpy(&h, p, 2);
    return qk_half_to_float(h);
}

/* M of the file comment: sum_b |d_x d_y| sum_j |q_x q_y| (+ |m_x s_y|), with the weight
 * codes recovered from the dequantized block as (w - m) / d. */
static double dot_magnitude(const qdot *t, const uint8_t *qx, const uint8_t *qy, int n) {
    float w[32];
    double M = 0;
    const size_t ybytes = t->has_min ? sizeof(block_q8_1) : sizeof(block_q8_0);
    for (int b = 0; b < n / 32; b++) {
        const uint8_t *xb = qx + (size_t)b * t->wbytes, *yb = qy + (size_t)b * ybytes;
        const int8_t *yq = (const int8_t *)(yb + (t->has_min ? 4 : 2));
        t->dequantize(xb, w, 32);
        const double dx = get_half(xb), dy = get_half(yb), m = t->has_min ? get_half(xb + 2) : 0.0;
        double s = 0;
        for (int j = 0; j < 32; j++) {
            const double q = dx != 0 ? fabs((w[j] - m) / dx) : (t->has_min ? 31 : 127);
            s += q * abs(yq[j]);
        }
        M += fabs(dx * dy) * s;
        if (t->has_min) M += fabs(m * get_half(yb + 2));
    }
    return M;
}

/* Exact data: raw random code bytes; d_x, d_y in {1, 1/2}, m_x = small multiple of 1/2;
 * activation codes |q_y| <= amax_y, s_y = d_y * sum(q_y) (exact in half). */
static void make_exact(const qdot *t, uint8_t *qx, uint8_t *qy, int n, int amax_y) {
    const size_t ybytes = t->has_min ? sizeof(block_q8_1) : sizeof(block_q8_0);
    for (int b = 0; b < n / 32; b++) {
        uint8_t *xb = qx + (size_t)b * t->wbytes, *yb = qy + (size_t)b * ybytes;
        for (size_t j = 0; j < t->wbytes; j++) xb[j] = (uint8_t)rng_next();
        if (t->wtype == QK_TYPE_Q8_0) /* Q8_0 weights hold -127..127 (see quants_legacy_avx2.c) */
            for (int j = 0; j < 32; j++) xb[2 + j] = (uint8_t)(int8_t)rng_int(-127, 127);
        put_half(xb, (rng_next() & 1) ? 1.0f : 0.5f);
        if (t->has_min) put_half(xb + 2, 0.5f * (float)rng_int(-6, 6));
        const float dy = (rng_next() & 1) ? 1.0f : 0.5f;
        int8_t *yq = (int8_t *)(yb + (t->has_min ? 4 : 2));
        int sum = 0;
        for (int j = 0; j < 32; j++) sum += yq[j] = (int8_t)rng_int(-amax_y, amax_y);
        put_half(yb, dy);
        if (t->has_min) put_half(yb + 2, dy * (float)sum);
    }
}

static const qk_type_traits *checked_row(qk_type type) {
    const qk_type_traits *tr = qk_type_get(type);
    ck_assert_ptr_nonnull(tr);
    ck_assert_ptr_nonnull(tr->vec_dot);
    return tr;
}

START_TEST(test_qdot_exact) {
    const qdot *t = &QD[_i];
    const qk_type_traits *tr = checked_row(t->wtype);
    need_avx2();
    ck_assert_ptr_ne(tr->vec_dot, t->scalar);
    rng_state = 1000 + (uint64_t)_i;
    static uint8_t qx[MAXN / 32 * 36], qy[MAXN / 32 * 36];
    /* activation range so that M stays below 2^24 units of 2^-2 at the longest row */
    const int amax_y = t->max_code > 31 ? 3 : 15;
    for (int li = 0; li < N_QLEN; li++) {
        const int n = QLEN[li];
        for (int rep = 0; rep < 4; rep++) {
            make_exact(t, qx, qy, n, amax_y);
            const double M = dot_magnitude(t, qx, qy, n);
            ck_assert_msg(M * 4 < 16777216.0, "%s n=%d: test data too large for exact sums", t->name, n);
            float ss = NAN, sv = NAN;
            t->scalar(n, &ss, qx, qy);
            tr->vec_dot(n, &sv, qx, qy);
            ck_assert_msg(ss == sv, "%s n=%d rep %d: simd %.9g != scalar %.9g (exact data)", t->name, n, rep,
                          sv, ss);
        }
    }
}
END_TEST

START_TEST(test_qdot_random) {
    const qdot *t = &QD[_i];
    const qk_type_traits *tr = checked_row(t->wtype);
    need_avx2();
    rng_state = 2000 + (uint64_t)_i;
    static float x[MAXN], y[MAXN];
    static uint8_t qx[MAXN / 32 * 36], qy[MAXN / 32 * 36];
    const qk_from_float_fn act_quant = t->has_min ? qk_quantize_row_q8_1_ref : qk_quantize_row_q8_0_ref;
    for (int li = 0; li < N_QLEN; li++) {
        const int n = QLEN[li];
        for (int rep = 0; rep < 3; rep++) {
            fill_row(x, n);
            fill_row(y, n);
            if (rep == 2) /* weights offset from 0, so the _1 types' minimum matters */
                for (int j = 0; j < n; j++) x[j] += 0.7f * fabsf(x[j]) + 0.01f;
            t->quantize(x, qx, n);
            act_quant(y, qy, n);
            const double M = dot_magnitude(t, qx, qy, n);
            const double tol = (n + 8) * 0x1p-23 * M;
            float ss = NAN, sv = NAN;
            t->scalar(n, &ss, qx, qy);
            tr->vec_dot(n, &sv, qx, qy);
            ck_assert_msg(fabs((double)ss - sv) <= tol, "%s n=%d rep %d: simd %.9g, scalar %.9g, tol %.3g",
                          t->name, n, rep, sv, ss, tol);
        }
    }
    /* all-zero weights and activations give exactly 0 */
    memset(qx, 0, sizeof qx);
    memset(qy, 0, sizeof qy);
    float sv = NAN;
    tr->vec_dot(896, &sv, qx, qy);
    ck_assert(sv == 0.0f);
}
END_TEST

/* The AVX-512 VNNI dot products (qk_install_legacy_avx512vnni) return the bits of their
 * AVX2 twins: both tables are built here, whatever the type table holds, on realistic
 * rows and on raw random codes (every byte value in the weights, with finite scales;
 * activation codes -127..127, all the Q8 quantizers produce from finite input). */
START_TEST(test_qdot_vnni_same_bits) {
    ck_assert_msg(qk_cpu_has_avx512vnni(), "the avx512vnni case ran without VNNI kernels");
    static qk_type_traits avx2[QK_TYPE_COUNT], vnni[QK_TYPE_COUNT];
    qk_install_legacy_avx2(avx2);
    qk_install_legacy_avx2(vnni);
    qk_install_legacy_avx512vnni(vnni);
    static const qk_type types[] = {QK_TYPE_Q4_0, QK_TYPE_Q5_0, QK_TYPE_Q8_0, QK_TYPE_IQ4_NL};
    static float x[MAXN], y[MAXN];
    static uint8_t qx[MAXN / 32 * 36];
    static block_q8_0 qy[MAXN / 32];
    rng_state = 3000;
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const qk_type t = types[ti];
        const qk_type_traits *ref = qk_type_get(t);
        const size_t bs = ref->type_size;
        ck_assert_ptr_ne(vnni[t].vec_dot, avx2[t].vec_dot);
        for (int li = 0; li < N_QLEN; li++) {
            const int n = QLEN[li], nb = n / 32;
            for (int rep = 0; rep < 4; rep++) {
                if (rep < 2) { /* realistic: the reference quantizers */
                    fill_row(x, n);
                    fill_row(y, n);
                    ref->from_float(x, qx, n);
                    qk_quantize_row_q8_0_ref(y, qy, n);
                } else { /* raw codes */
                    for (size_t b = 0; b < (size_t)nb * bs; b++) qx[b] = (uint8_t)rng_next();
                    for (int b = 0; b < nb; b++) {
                        const qk_half d = qk_float_to_half(rng_uniform() * 0.01f);
                        memcpy(qx + (size_t)b * bs, &d, sizeof d);
                        qy[b].d = qk_float_to_half(rng_uniform() * 0.01f);
                        for (int j = 0; j < 32; j++) qy[b].qs[j] = (int8_t)rng_int(-127, 127);
                    }
                }
                float s2 = NAN, sv = NAN;
                avx2[t].vec_dot(n, &s2, qx, qy);
                vnni[t].vec_dot(n, &sv, qx, qy);
                ck_assert_msg(memcmp(&s2, &sv, sizeof sv) == 0, "%s n=%d rep %d: VNNI %.9g, AVX2 %.9g",
                              qk_type_name(t), n, rep, sv, s2);
            }
        }
    }
}
END_TEST

/* Every four-row kernel (vec_dot4) of the AVX2 and VNNI tables returns, for each row, the
 * bits of the same table's vec_dot on that row: four different rows, stored with a gap
 * between them (bx larger than a row), realistic and raw codes as above. */
static void check_dot4(const qk_type_traits *tab, qk_type t, const char *table_name) {
    enum { GAP = 64 };
    const qk_type_traits *ref = qk_type_get(t); /* tab holds only the SIMD kernels */
    const size_t bs = ref->type_size;
    static float x[MAXN], y[MAXN];
    static uint8_t qx[4 * (MAXN / 32 * 36 + GAP)];
    static block_q8_0 qy[MAXN / 32];
    for (int li = 0; li < N_QLEN; li++) {
        const int n = QLEN[li], nb = n / 32;
        const size_t bx = (size_t)nb * bs + GAP;
        for (int rep = 0; rep < 4; rep++) {
            for (int r = 0; r < 4; r++) {
                uint8_t *row = qx + r * bx;
                if (rep < 2) {
                    fill_row(x, n);
                    ref->from_float(x, row, n);
                } else {
                    for (size_t b = 0; b < (size_t)nb * bs; b++) row[b] = (uint8_t)rng_next();
                    for (int b = 0; b < nb; b++) {
                        const qk_half d = qk_float_to_half(rng_uniform() * 0.01f);
                        memcpy(row + (size_t)b * bs, &d, sizeof d);
                    }
                }
            }
            if (rep < 2) {
                fill_row(y, n);
                qk_quantize_row_q8_0_act(y, qy, n);
            } else {
                for (int b = 0; b < nb; b++) {
                    qy[b].d = qk_float_to_half(rng_uniform() * 0.01f);
                    for (int j = 0; j < 32; j++) qy[b].qs[j] = (int8_t)rng_int(-127, 127);
                }
            }
            float s4[4] = {NAN, NAN, NAN, NAN};
            tab[t].vec_dot4(n, s4, qx, bx, qy);
            for (int r = 0; r < 4; r++) {
                float s1 = NAN;
                tab[t].vec_dot(n, &s1, qx + r * bx, qy);
                ck_assert_msg(memcmp(&s1, &s4[r], sizeof s1) == 0, "%s %s n=%d rep %d row %d: vec_dot4 %.9g, vec_dot %.9g",
                              table_name, qk_type_name(t), n, rep, r, s4[r], s1);
            }
        }
    }
}

/* Four-row kernels of the AVX2 table (_i = 0) or of the VNNI table (_i = 1, the
 * "avx512vnni" case): Q4_0, Q5_0, Q8_0 and IQ4_NL have one in each. */
static void qdot4_same_bits(int vnni) {
    static qk_type_traits tab[QK_TYPE_COUNT];
    memset(tab, 0, sizeof tab);
    qk_install_legacy_avx2(tab);
    if (vnni) qk_install_legacy_avx512vnni(tab);
    int checked = 0;
    rng_state = 4000 + (uint64_t)vnni;
    for (int i = 0; i < N_QD; i++)
        if (tab[QD[i].wtype].vec_dot4) check_dot4(tab, QD[i].wtype, vnni ? "VNNI" : "AVX2"), checked++;
    ck_assert_int_eq(checked, 4);
}

START_TEST(test_qdot4_same_bits) {
    need_avx2();
    qdot4_same_bits(0);
}
END_TEST

START_TEST(test_qdot4_vnni_same_bits) {
    ck_assert_msg(qk_cpu_has_avx512vnni(), "the avx512vnni case ran without VNNI kernels");
    qdot4_same_bits(1);
}
END_TEST

/* ------------------------------------------------------------------ float dots ----- */

typedef struct fdot {
    const char *name;
    qk_type type;
    size_t esize;
    qk_from_float_fn convert; /* scalar float -> type */
    qk_vec_dot_fn scalar;
} fdot;

static const fdot FD[] = {
    {"F32", QK_TYPE_F32, 4, qk_copy_row_f32, qk_vec_dot_f32},
    {"F16", QK_TYPE_F16, 2, qk_quantize_row_f16, qk_vec_dot_f16},
    {"BF16", QK_TYPE_BF16, 2, qk_quantize_row_bf16, qk_vec_dot_bf16},
};
#define N_FD ((int)(sizeof FD / sizeof FD[0]))

/* element j of a converted row, as float */
static float felem(const fdot *t, const void *row, int j) {
    if (t->esize == 4) return ((const float *)row)[j];
    const uint16_t v = ((const uint16_t *)row)[j];
    return t->type == QK_TYPE_F16 ? qk_half_to_float(v) : qk_bf16_to_float(v);
}

START_TEST(test_fdot) {
    const fdot *t = &FD[_i];
    const qk_type_traits *tr = checked_row(t->type);
    need_avx2();
    ck_assert_ptr_ne(tr->vec_dot, t->scalar);
    ck_assert_ptr_ne(tr->vec_dot, t->scalar);
    rng_state = 3000 + (uint64_t)_i;
    static float x[MAXN + 8], y[MAXN + 8];
    static uint8_t cx[(MAXN + 8) * 4], cy[(MAXN + 8) * 4];
    for (int li = 0; li < N_FLEN; li++) {
        const int n = FLEN[li];
        /* exact data: k/8 times k'/8 (|k| <= 32; for F16 one row sometimes k * 2^-24, a
         * subnormal half): every product and partial sum is exact in float */
        for (int rep = 0; rep < 3; rep++) {
            const float sx = (rep == 2 && t->type == QK_TYPE_F16) ? 0x1p-24f : 0.125f;
            for (int j = 0; j < n; j++) {
                x[j] = sx * (float)rng_int(-32, 32);
                y[j] = 0.125f * (float)rng_int(-32, 32);
            }
            t->convert(x, cx, n);
            t->convert(y, cy, n);
            float ss = NAN, sv = NAN;
            t->scalar(n, &ss, cx, cy);
            tr->vec_dot(n, &sv, cx, cy);
            ck_assert_msg(ss == sv, "%s n=%d rep %d: simd %.9g != scalar %.9g (exact data)", t->name, n, rep, sv, ss);
        }
        /* realistic data, tolerance (n + 8) * 2^-23 * sum|x y| */
        for (int rep = 0; rep < 3; rep++) {
            fill_row(x, n);
            fill_row(y, n);
            t->convert(x, cx, n);
            t->convert(y, cy, n);
            double M = 0;
            for (int j = 0; j < n; j++) M += fabs((double)felem(t, cx, j) * felem(t, cy, j));
            const double tol = (n + 8) * 0x1p-23 * M;
            float ss = NAN, sv = NAN;
            t->scalar(n, &ss, cx, cy);
            tr->vec_dot(n, &sv, cx, cy);
            ck_assert_msg(fabs((double)ss - sv) <= tol, "%s n=%d: simd %.9g, scalar %.9g, tol %.3g", t->name, n,
                          sv, ss, tol);
        }
        /* special values: an inf in x against a positive y gives +inf in both; a NaN
         * anywhere gives NaN in both */
        for (int j = 0; j < n; j++) {
            x[j] = 0.5f * rng_normal();
            y[j] = 1.0f + fabsf(rng_normal());
        }
        const int at = (int)(rng_next() % (uint64_t)n);
        x[at] = INFINITY;
        t->convert(x, cx, n);
        t->convert(y, cy, n);
        float ss = 0, sv = 0;
        t->scalar(n, &ss, cx, cy);
        tr->vec_dot(n, &sv, cx, cy);
        ck_assert_msg(isinf(ss) && ss > 0 && isinf(sv) && sv > 0, "%s n=%d inf: simd %g, scalar %g", t->name, n, sv, ss);
        x[at] = NAN;
        t->convert(x, cx, n);
        t->scalar(n, &ss, cx, cy);
        tr->vec_dot(n, &sv, cx, cy);
        ck_assert_msg(isnan(ss) && isnan(sv), "%s n=%d NaN: simd %g, scalar %g", t->name, n, sv, ss);
    }
}
END_TEST

/* ------------------------------------------------------------------ from_float ----- */

typedef struct conv {
    const char *name;
    qk_type type;
    size_t bytes_per_32; /* output bytes per 32 input floats */
    int blocked;         /* row length must be a multiple of 32 */
    qk_from_float_fn scalar; /* reference bytes: from_float must write them */
    qk_from_float_fn act;    /* activation bytes: quantize_act must write them */
} conv;

static const conv CV[] = {
    {"F16", QK_TYPE_F16, 64, 0, qk_quantize_row_f16, qk_quantize_row_f16},
    {"BF16", QK_TYPE_BF16, 64, 0, qk_quantize_row_bf16, qk_quantize_row_bf16},
    {"Q8_0", QK_TYPE_Q8_0, sizeof(block_q8_0), 1, qk_quantize_row_q8_0_ref, qk_quantize_row_q8_0_act},
    {"Q8_1", QK_TYPE_Q8_1, sizeof(block_q8_1), 1, qk_quantize_row_q8_1_ref, qk_quantize_row_q8_1_act},
};
#define N_CV ((int)(sizeof CV / sizeof CV[0]))

static float fbits(uint32_t u) { return qk_bits_f32(u); }

/* Random bit pattern biased toward interesting exponents: zeros/subnormals, the F16
 * subnormal and overflow ranges, ordinary values, inf/NaN. */
static float random_bits(void) {
    static const uint32_t exps[] = {0x00, 0x01, 0x66, 0x67, 0x70, 0x71, 0x7f, 0x85, 0x8e, 0x8f, 0xfe, 0xff};
    const uint64_t r = rng_next();
    const uint32_t e = (r & 1) ? (uint32_t)((r >> 1) & 0xff) : exps[(r >> 1) % 12];
    return fbits((uint32_t)((r >> 16) & 0x80000000u) | (e << 23) | (uint32_t)((r >> 20) & 0x7fffff));
}

/* A float exactly halfway between two adjacent F16 (kind 0) or BF16 (kind 1) values. */
static float random_tie(int kind) {
    if (kind == 0) {
        const qk_half h = (qk_half)(rng_next() % 0x7BFF); /* h and h + 1 finite */
        const float a = qk_half_to_float(h), b = qk_half_to_float((qk_half)(h + 1));
        const float m = (a + b) * 0.5f; /* exact: 12 significant bits at most */
        return (rng_next() & 1) ? -m : m;
    }
    const uint32_t top = (uint32_t)(rng_next() % 0x7F7F); /* top and top + 1 finite */
    return fbits((top << 16) | 0x8000u | (uint32_t)(rng_next() & 0x80000000u)); /* halfway */
}

/* Fill a row for conversion test `mode`. */
static void fill_conv(const conv *c, float *x, int n, int mode) {
    switch (mode) {
    case 0: fill_row(x, n); break;
    case 1: for (int j = 0; j < n; j++) x[j] = random_bits(); break;
    case 2: /* rounding ties of the target type */
        for (int j = 0; j < n; j++) {
            if (c->type == QK_TYPE_F16 || c->type == QK_TYPE_BF16) {
                x[j] = random_tie(c->type == QK_TYPE_BF16);
            } else if (j % 32 == 0) {
                /* Q8: block max 127 * 2^e, so d = 2^e and id = 2^-e exactly: x*id = k + 0.5 */
                const float sc = ldexpf(1.0f, rng_int(-20, 20));
                for (int i = 0; i < 32; i++)
                    x[j + i] = sc * (i == 5 ? ((rng_next() & 1) ? 127.0f : -127.0f)
                                            : (float)rng_int(-126, 125) + 0.5f);
            }
        }
        break;
    default: { /* edge blocks, one kind per 32 elements */
        for (int j = 0; j < n; j += 32) {
            const int kind = (j / 32) % 9;
            for (int i = 0; i < 32 && j + i < n; i++) {
                float v = rng_normal();
                switch (kind) {
                case 0: v = 0.0f; break;
                case 1: v = -0.0f; break;
                case 2: v = (i == 7) ? INFINITY : v; break;
                case 3: v = (i == 9) ? NAN : v; break;
                case 4: v = (i == 0) ? fbits(0xFF800001u) : v; break; /* signalling NaN first */
                case 5: v = v * 1e-40f; break;                       /* subnormal: 1/d overflows */
                case 6: v = v * 1e38f; break;                        /* huge */
                case 7: v = (i == 31) ? -INFINITY : v * 1e-3f; break;
                default: v = v * 65519.0f; break;                    /* around the F16 limit */
                }
                x[j + i] = v;
            }
        }
    } break;
    }
}

/* `fast` (the table's SIMD converter) writes the bytes of `scalar` for every row length
 * and kind of data, and nothing past the row. */
static void check_converter(const conv *c, qk_from_float_fn fast, qk_from_float_fn scalar, uint64_t seed) {
    rng_state = seed;
    static float x[MAXN + 8];
    static uint8_t a[(MAXN + 8) / 32 * 64 + 64], b[(MAXN + 8) / 32 * 64 + 64];
    static const int odd[] = {1, 7, 8, 15, 16, 17, 31, 33, 895, 4867};
    for (int mode = 0; mode < 4; mode++) {
        for (int li = 0; li < N_QLEN + 10; li++) {
            const int n = li < N_QLEN ? QLEN[li] : odd[li - N_QLEN];
            if (c->blocked && n % 32) continue;
            fill_conv(c, x, n, mode);
            const size_t nbytes = c->blocked ? (size_t)n / 32 * c->bytes_per_32 : (size_t)n * 2;
            memset(a, 0xAA, nbytes + 8);
            memset(b, 0x55, nbytes + 8);
            scalar(x, a, n);
            fast(x, b, n);
            ck_assert_msg(memcmp(a, b, nbytes) == 0, "%s n=%d mode %d: bytes differ", c->name, n, mode);
            ck_assert_msg(b[nbytes] == 0x55, "%s n=%d: wrote past the row", c->name, n);
        }
    }
}

/* The table's (SIMD) converter writes the scalar function's bytes. */
static void check_table_converter(const conv *c, qk_from_float_fn in_table, qk_from_float_fn scalar, uint64_t seed) {
    need_avx2();
    ck_assert_ptr_nonnull(in_table);
    ck_assert_ptr_ne(in_table, scalar);
    check_converter(c, in_table, scalar, seed);
}

START_TEST(test_from_float) {
    const conv *c = &CV[_i];
    const qk_type_traits *tr = qk_type_get(c->type);
    ck_assert_ptr_nonnull(tr);
    ck_assert_ptr_eq(tr->quantize_ref, c->scalar); /* the file writer's path stays the reference */
    check_table_converter(c, tr->from_float, c->scalar, 4000 + (uint64_t)_i);
}
END_TEST

START_TEST(test_quantize_act) {
    const conv *c = &CV[_i];
    const qk_type_traits *tr = qk_type_get(c->type);
    ck_assert_ptr_nonnull(tr);
    check_table_converter(c, tr->quantize_act, c->act, 4100 + (uint64_t)_i);
}
END_TEST

/* round_act (F16, BF16) gives the bits of quantize_act followed by the scalar to_float,
 * NaN payloads included, for every row length and kind of data, and nothing past the
 * row. */
START_TEST(test_round_act) {
    const conv *c = &CV[_i];
    const qk_type_traits *tr = qk_type_get(c->type);
    need_avx2();
    ck_assert_ptr_nonnull(tr->round_act);
    const qk_to_float_fn widen = c->type == QK_TYPE_F16 ? qk_dequantize_row_f16 : qk_dequantize_row_bf16;
    rng_state = 4200 + (uint64_t)_i;
    static float x[MAXN + 8], want[MAXN + 8], got[MAXN + 8];
    static uint8_t q[(MAXN + 8) * 2];
    for (int mode = 0; mode < 4; mode++)
        for (int li = 0; li < N_FLEN; li++) {
            const int n = FLEN[li];
            fill_conv(c, x, n, mode);
            c->act(x, q, n);
            widen(q, want, n);
            for (int j = 0; j < n + 8; j++) got[j] = -7.0f;
            tr->round_act(x, got, n);
            for (int j = 0; j < n; j++)
                ck_assert_msg(qk_f32_bits(got[j]) == qk_f32_bits(want[j]), "%s n=%d mode %d [%d]: %08x, want %08x",
                              c->name, n, mode, j, qk_f32_bits(got[j]), qk_f32_bits(want[j]));
            ck_assert_msg(got[n] == -7.0f, "%s n=%d: wrote past the row", c->name, n);
        }
}
END_TEST

/* Activations round x*id half to even (ggml-cpu's x86 quantize_row_q8_0), weights half
 * away from zero (the reference): with a block maximum of 127 both use id = 1 exactly. */
START_TEST(test_act_rounds_to_even) {
    float x[32];
    for (int i = 0; i < 32; i++) x[i] = 0.0f;
    x[0] = 127.0f, x[1] = 2.5f, x[2] = -2.5f, x[3] = 3.5f, x[4] = -0.5f, x[5] = 2.4999998f;
    block_q8_0 r, a;
    block_q8_1 r1, a1;
    qk_quantize_row_q8_0_ref(x, &r, 32);
    qk_type_get(QK_TYPE_Q8_0)->quantize_act(x, &a, 32);
    qk_quantize_row_q8_1_ref(x, &r1, 32);
    qk_type_get(QK_TYPE_Q8_1)->quantize_act(x, &a1, 32);
    const int want_ref[6] = {127, 3, -3, 4, -1, 2}, want_act[6] = {127, 2, -2, 4, 0, 2};
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(r.qs[i], want_ref[i]);
        ck_assert_int_eq(a.qs[i], want_act[i]);
        ck_assert_int_eq(r1.qs[i], want_ref[i]);
        ck_assert_int_eq(a1.qs[i], want_act[i]);
    }
    ck_assert_uint_eq(a.d, r.d);
    ck_assert_float_eq(qk_half_to_float(a1.s), 133.0f); /* d = 1, s = 127 + 2 - 2 + 4 + 0 + 2 */
}
END_TEST

/* The ties cases really are ties: the reference rounds them away from zero for Q8 and to
 * even for F16, so the data above exercises the cases VROUNDPS alone would get wrong. */
START_TEST(test_tie_data_is_tie) {
    float x[32];
    for (int i = 0; i < 32; i++) x[i] = (float)(i - 16) + 0.5f;
    x[5] = 127.0f;
    block_q8_0 q;
    qk_quantize_row_q8_0_ref(x, &q, 32);
    ck_assert_int_eq(q.qs[0], -16);  /* -15.5 -> -16 */
    ck_assert_int_eq(q.qs[18], 3);   /* 2.5 -> 3 (ties to even would give 2) */
    const qk_type_traits *tr = qk_type_get(QK_TYPE_Q8_0);
    block_q8_0 r;
    tr->from_float(x, &r, 32);
    ck_assert_mem_eq(&q, &r, sizeof q);
}
END_TEST

/* ------------------------------------------------------------------ to_float ------- */

/* How a block carries its scale: F16/BF16 have none; one half d at offset 0 (Q8_1's s at
 * offset 2 is not read by the dequantizer); halves d, m at offsets 0, 2; Q8_K's float d. */
enum { SC_NONE, SC_D, SC_DM, SC_FLOAT };

typedef struct tofl {
    const char *name;
    qk_type type;
    int blck;     /* elements per block */
    size_t bsize; /* bytes per block */
    int scale;    /* SC_* */
    qk_to_float_fn scalar;
    qk_from_float_fn quantize; /* reference quantizer (realistic rows) */
} tofl;

static const tofl TF[] = {
    {"F16", QK_TYPE_F16, 1, 2, SC_NONE, qk_dequantize_row_f16, qk_quantize_row_f16},
    {"BF16", QK_TYPE_BF16, 1, 2, SC_NONE, qk_dequantize_row_bf16, qk_quantize_row_bf16},
    {"Q4_0", QK_TYPE_Q4_0, 32, sizeof(block_q4_0), SC_D, qk_dequantize_row_q4_0, qk_quantize_row_q4_0_ref},
    {"Q4_1", QK_TYPE_Q4_1, 32, sizeof(block_q4_1), SC_DM, qk_dequantize_row_q4_1, qk_quantize_row_q4_1_ref},
    {"Q5_0", QK_TYPE_Q5_0, 32, sizeof(block_q5_0), SC_D, qk_dequantize_row_q5_0, qk_quantize_row_q5_0_ref},
    {"Q5_1", QK_TYPE_Q5_1, 32, sizeof(block_q5_1), SC_DM, qk_dequantize_row_q5_1, qk_quantize_row_q5_1_ref},
    {"Q8_0", QK_TYPE_Q8_0, 32, sizeof(block_q8_0), SC_D, qk_dequantize_row_q8_0, qk_quantize_row_q8_0_ref},
    {"Q8_1", QK_TYPE_Q8_1, 32, sizeof(block_q8_1), SC_D, qk_dequantize_row_q8_1, qk_quantize_row_q8_1_ref},
    {"IQ4_NL", QK_TYPE_IQ4_NL, 32, sizeof(block_iq4_nl), SC_D, qk_dequantize_row_iq4_nl, qk_quantize_row_iq4_nl_ref},
    {"Q8_K", QK_TYPE_Q8_K, QK_K, sizeof(block_q8_K), SC_FLOAT, qk_dequantize_row_q8_K, qk_quantize_row_q8_K_ref},
};
#define N_TF ((int)(sizeof TF / sizeof TF[0]))

#define TF_MAXN 65536 /* the F16/BF16 rows of every code */
#define TF_GUARD 16   /* floats before and after the output row that must stay untouched */
static float tf_ref[TF_MAXN], tf_out[TF_GUARD + TF_MAXN + 8 + TF_GUARD];

/* Row lengths tested for a type (-1 terminated). */
static const int *tf_lengths(const tofl *t) {
    static const int flen[] = {1, 7, 8, 9, 31, 32, 33, 63, 257, 895, 896, 4864, 4867, 4960, -1};
    static const int qlen[] = {32, 64, 96, 224, 896, 4832, 4864, 4960, -1};
    static const int klen[] = {256, 768, 2048, 4864, -1};
    return t->blck == 1 ? flen : t->blck == 32 ? qlen : klen;
}

static size_t tf_bytes(const tofl *t, int n) { return (size_t)(n / t->blck) * t->bsize; }

/* The table's (SIMD) to_float for t. */
static qk_to_float_fn tf_simd(const tofl *t) {
    const qk_type_traits *tr = qk_type_get(t->type);
    ck_assert_ptr_nonnull(tr);
    need_avx2();
    ck_assert_msg(tr->to_float != t->scalar, "%s: AVX2 CPU but to_float is the scalar one", t->name);
    return tr->to_float;
}

/* Input rows are copied to the end of a buffer followed by an inaccessible page, so that a
 * kernel reading past its row faults. */
static uint8_t *guarded_end(size_t *cap) {
    static uint8_t *end;
    static size_t size;
    if (!end) {
        const size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size = (TF_MAXN * 2 / page + 2) * page; /* the largest row: 65536 halves */
        uint8_t *p = mmap(NULL, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ck_assert_msg(p != MAP_FAILED, "mmap failed");
        ck_assert_int_eq(mprotect(p + size, page, PROT_NONE), 0);
        end = p + size;
    }
    *cap = size;
    return end;
}

/* A place for a row of nbytes: ending at the guard page, or (odd = 1) 4 bytes earlier, an
 * address no longer 8-, 16- or 32-byte aligned (the SIMD loads must not assume it), yet
 * aligned as every block type requires (its fp16 or float scale: 2 or 4 bytes; rows from
 * a GGUF file always are). */
static uint8_t *tf_row(size_t nbytes, int odd) {
    size_t cap;
    uint8_t *end = guarded_end(&cap);
    ck_assert(nbytes + 4 <= cap);
    return end - nbytes - (odd ? 4 : 0);
}

/* The block holding element e has a NaN m and a d that is NaN or infinite, so that q*d
 * can be NaN too (inf * 0 gives the default NaN): the one case where only NaN-ness is
 * compared, since which payload survives NaN + NaN is the compiler's choice of operand
 * order for a commutative add (clang and GCC differ there, in the scalar code too). */
static int dm_both_nan(const tofl *t, const uint8_t *row, int e) {
    if (t->scale != SC_DM) return 0;
    const uint8_t *b = row + (size_t)(e / t->blck) * t->bsize;
    return !isfinite(get_half(b)) && isnan(get_half(b + 2));
}

/* Dequantize the n-element row at `row` with both kernels (SIMD output shifted by off
 * floats, off = 0..7) and compare every float's bits; nothing around the SIMD output may
 * change. Returns how many elements went through the both-NaN exception. */
static int tf_compare(const tofl *t, qk_to_float_fn f, const uint8_t *row, int n, int off, const char *what) {
    float *v = tf_out + TF_GUARD + off;
    memset(tf_ref, 0xA5, (size_t)n * sizeof(float));
    memset(tf_out, 0x5A, sizeof tf_out);
    t->scalar(row, tf_ref, n);
    f(row, v, n);
    int excused = 0;
    for (int e = 0; e < n; e++) {
        const uint32_t a = qk_f32_bits(tf_ref[e]), b = qk_f32_bits(v[e]);
        if (a == b) continue;
        if (dm_both_nan(t, row, e) && isnan(tf_ref[e]) && isnan(v[e])) {
            excused++;
            continue;
        }
        ck_abort_msg("%s to_float %s n=%d off=%d: element %d simd 0x%08x (%g), scalar 0x%08x (%g)", t->name,
                     what, n, off, e, b, v[e], a, tf_ref[e]);
    }
    for (int e = -TF_GUARD - off; e < 0; e++)
        ck_assert_msg(qk_f32_bits(v[e]) == 0x5A5A5A5Au, "%s %s n=%d: wrote before the row", t->name, what, n);
    for (int e = n; e < n + TF_GUARD; e++)
        ck_assert_msg(qk_f32_bits(v[e]) == 0x5A5A5A5Au, "%s %s n=%d: wrote past the row", t->name, what, n);
    return excused;
}

/* Set the scale fields of block b (halves h0, h1 where the type has them; Q8_K's float d
 * from f). */
static void tf_set_scale(const tofl *t, uint8_t *blk, qk_half h0, qk_half h1, uint32_t fbits_d) {
    if (t->scale == SC_D || t->scale == SC_DM) memcpy(blk, &h0, 2);
    if (t->scale == SC_DM) memcpy(blk + 2, &h1, 2);
    if (t->scale == SC_FLOAT) memcpy(blk, &fbits_d, 4);
}

static qk_half finite_half(void) {
    qk_half h;
    do h = (qk_half)rng_next();
    while ((h & 0x7C00) == 0x7C00);
    return h;
}

/* Random bytes (every code, qh bit and level); scales random finite halves of any
 * exponent (Q8_K: floats 2^-30 .. 2^30), or (trials 4, 5) random bits too: inf, NaN,
 * subnormal; for F16/BF16 the elements are the random bits. Every length, outputs at
 * offsets 0..2 floats, inputs at both address parities, rows ending at a guard page. */
START_TEST(test_to_float_random) {
    const tofl *t = &TF[_i];
    qk_to_float_fn f = tf_simd(t);
    rng_state = 5000 + (uint64_t)_i;
    static uint8_t src[TF_MAXN * 2];
    int rows = 0;
    for (const int *len = tf_lengths(t); *len > 0; len++) {
        const int n = *len;
        const size_t nbytes = tf_bytes(t, n);
        for (int trial = 0; trial < 6; trial++) {
            for (size_t j = 0; j < nbytes; j++) src[j] = (uint8_t)rng_next();
            for (int b = 0; trial < 4 && b < n / t->blck; b++) {
                const uint32_t fd = qk_f32_bits(ldexpf(rng_uniform(), rng_int(-30, 30)));
                tf_set_scale(t, src + (size_t)b * t->bsize, finite_half(), finite_half(), fd);
            }
            if (t->type == QK_TYPE_F16 && trial < 2) /* finite halves only: every group fast */
                for (int j = 0; j < n; j++) {
                    const qk_half h = finite_half();
                    memcpy(src + 2 * j, &h, 2);
                }
            uint8_t *row = tf_row(nbytes, trial & 1);
            memcpy(row, src, nbytes);
            tf_compare(t, f, row, n, trial % 3, trial < 4 ? "random codes" : "random bits");
            rows++;
        }
    }
    ck_assert_int_gt(rows, 20);
}
END_TEST

/* Rows from the reference quantizers: activation-like rows (scales 1e-4 .. 300 changing
 * every 32 elements, outliers), the same offset away from 0 (the _1 types' m matters),
 * and tiny rows whose scales are fp16 subnormals. */
START_TEST(test_to_float_quantized) {
    const tofl *t = &TF[_i];
    qk_to_float_fn f = tf_simd(t);
    rng_state = 6000 + (uint64_t)_i;
    static float x[MAXN];
    static uint8_t q[MAXN * 4];
    for (const int *len = tf_lengths(t); *len > 0; len++) {
        const int n = *len;
        for (int rep = 0; rep < 3; rep++) {
            fill_row(x, n);
            if (rep == 1)
                for (int j = 0; j < n; j++) x[j] += 0.7f * fabsf(x[j]) + 0.01f;
            if (rep == 2)
                for (int j = 0; j < n; j++) x[j] *= 1e-5f;
            t->quantize(x, q, n);
            uint8_t *row = tf_row(tf_bytes(t, n), 0);
            memcpy(row, q, tf_bytes(t, n));
            ck_assert_int_eq(tf_compare(t, f, row, n, rep, "quantized"), 0);
        }
    }
}
END_TEST

/* Edge scales: d (and m) = +-0, fp16 subnormals (smallest, largest), the smallest normal,
 * +-1, the largest finite, +-inf, quiet and signalling NaNs of both signs with payloads
 * (Q8_K: the float equivalents), every d crossed with every m, with code bytes all 0x00,
 * all 0xFF, 0x88 and random. For F16/BF16: rows holding all 65536 codes, shifted so that
 * the signalling NaNs sit at every position of a vector group. */
START_TEST(test_to_float_edges) {
    const tofl *t = &TF[_i];
    qk_to_float_fn f = tf_simd(t);
    rng_state = 7000 + (uint64_t)_i;
    if (t->scale == SC_NONE) {
        static uint16_t codes[TF_MAXN];
        for (int shift = 0; shift < 8; shift++) {
            for (int j = 0; j < TF_MAXN; j++) codes[j] = (uint16_t)(j + shift * 4097);
            const int n = TF_MAXN - shift;
            uint8_t *row = tf_row((size_t)n * 2, 0);
            memcpy(row, codes, (size_t)n * 2);
            tf_compare(t, f, row, n, shift, "every code");
        }
        /* the signalling NaNs really stay signalling (the scalar conversion keeps them) */
        const uint16_t snan = 0x7C01;
        uint16_t r32[32];
        for (int j = 0; j < 32; j++) r32[j] = j == 5 ? snan : (uint16_t)(0x3C00 + j);
        float y[32];
        f(r32, y, 32);
        ck_assert_uint_eq(qk_f32_bits(y[5]), t->type == QK_TYPE_F16 ? 0x7F802000u : 0x7C010000u);
        ck_assert(y[6] == (t->type == QK_TYPE_F16 ? qk_half_to_float(0x3C06) : qk_bf16_to_float(0x3C06)));
        return;
    }
    static const qk_half dv[] = {0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x7BFF,
                                 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x7C01, 0x7D55, 0xFD55, 0x7FFF};
    static const uint32_t fv[] = {0x00000000u, 0x80000000u, 0x00000001u, 0x807FFFFFu, 0x00800000u, 0x3F800000u,
                                  0xBF800000u, 0x7F7FFFFFu, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00000u,
                                  0x7F800001u, 0x7FA55555u, 0xFFA55555u, 0x7FFFFFFFu};
    const int nd = t->scale == SC_FLOAT ? (int)(sizeof fv / sizeof fv[0]) : (int)(sizeof dv / sizeof dv[0]);
    const int nm = t->scale == SC_DM ? nd : 1;
    static uint8_t src[MAXN * 2];
    const int per_row = 4864 / t->blck;
    int b = 0, excused = 0;
    for (int fill = 0; fill < 4; fill++) {
        for (int c = 0; c < nd * nm; c++) {
            uint8_t *blk = src + (size_t)b * t->bsize;
            for (size_t j = 0; j < t->bsize; j++)
                blk[j] = fill == 0 ? 0x00 : fill == 1 ? 0xFF : fill == 2 ? 0x88 : (uint8_t)rng_next();
            tf_set_scale(t, blk, dv[c % nd], dv[c / nd], t->scale == SC_FLOAT ? fv[c % nd] : 0);
            if (++b == per_row || (fill == 3 && c == nd * nm - 1)) {
                uint8_t *row = tf_row((size_t)b * t->bsize, c & 1);
                memcpy(row, src, (size_t)b * t->bsize);
                excused += tf_compare(t, f, row, b * t->blck, c % 4, "edge scales");
                b = 0;
            }
        }
    }
    ck_assert_int_eq(b, 0);
    /* the both-NaN exception is only ever used by the _1 types */
    if (t->scale != SC_DM) ck_assert_int_eq(excused, 0);
    /* the edge blocks really produce special values: an inf scale gives no finite output,
     * a subnormal d nonzero tiny outputs for nonzero codes */
    uint8_t *blk = src;
    float y[QK_K];
    memset(blk, 0x77, t->bsize);
    tf_set_scale(t, blk, 0x7C00, 0x7C00, 0x7F800000u);
    f(blk, y, t->blck);
    for (int e = 0; e < t->blck; e++) ck_assert_msg(!isfinite(y[e]), "%s: inf scale gives %g", t->name, y[e]);
    tf_set_scale(t, blk, 0x0001, 0x0000, 0x00000001u);
    f(blk, y, t->blck);
    for (int e = 0; e < t->blck; e++)
        ck_assert_msg(y[e] != 0 && fabsf(y[e]) < 1e-5f, "%s: subnormal d gives %g", t->name, y[e]);
}
END_TEST

/* On every machine: the type table holds the scalar kernels without AVX2, else the AVX2
 * ones, with the VNNI dot products in place of theirs where qk_cpu_has_avx512vnni(). */
START_TEST(test_table_matches_cpu) {
    const bool simd = qk_cpu_has_avx2();
    for (int i = 0; i < N_QD; i++) {
        const qk_type_traits *tr = checked_row(QD[i].wtype);
        ck_assert_msg((tr->vec_dot != QD[i].scalar) == simd, "%s vec_dot, kernels in use %s", QD[i].name,
                      qk_cpu_kernels());
        if (!simd) ck_assert_ptr_null(tr->vec_dot4);
    }
    for (int i = 0; i < N_FD; i++)
        ck_assert_msg((checked_row(FD[i].type)->vec_dot != FD[i].scalar) == simd, "%s vec_dot", FD[i].name);
    for (int i = 0; i < N_CV; i++) {
        const qk_type_traits *tr = qk_type_get(CV[i].type);
        ck_assert_msg((tr->from_float != CV[i].scalar) == simd, "%s from_float", CV[i].name);
        ck_assert_msg((tr->quantize_act != CV[i].act) == simd, "%s quantize_act", CV[i].name);
        ck_assert_msg((tr->round_act != NULL) == (simd && CV[i].bytes_per_32 == 64), "%s round_act", CV[i].name);
    }
    for (int i = 0; i < N_TF; i++)
        ck_assert_msg((qk_type_get(TF[i].type)->to_float != TF[i].scalar) == simd, "%s to_float", TF[i].name);
    if (!simd) return;
    static qk_type_traits best[QK_TYPE_COUNT];
    qk_install_legacy_avx2(best);
    if (qk_cpu_has_avx512vnni()) qk_install_legacy_avx512vnni(best);
    for (int i = 0; i < N_QD; i++) {
        const qk_type t = QD[i].wtype;
        ck_assert_ptr_eq(checked_row(t)->vec_dot, best[t].vec_dot);
        ck_assert_ptr_eq(checked_row(t)->vec_dot4, best[t].vec_dot4);
    }
}
END_TEST

static Suite *kernels_suite(void) {
    Suite *s = suite_create("kernels_legacy");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, test_table_matches_cpu);
    tcase_add_test(tc, test_act_rounds_to_even);
    tcase_add_test(tc, test_tie_data_is_tie);
    suite_add_tcase(s, tc);
    tc = tcase_create("vec_dot");
    tcase_set_tags(tc, QK_TEST_TAG_AVX2);
    tcase_add_loop_test(tc, test_qdot_exact, 0, N_QD);
    tcase_add_loop_test(tc, test_qdot_random, 0, N_QD);
    tcase_add_test(tc, test_qdot4_same_bits);
    tcase_add_loop_test(tc, test_fdot, 0, N_FD);
    suite_add_tcase(s, tc);
    tc = tcase_create("vnni");
    tcase_set_tags(tc, QK_TEST_TAG_AVX512VNNI);
    tcase_add_test(tc, test_qdot_vnni_same_bits);
    tcase_add_test(tc, test_qdot4_vnni_same_bits);
    suite_add_tcase(s, tc);
    tc = tcase_create("from_float");
    tcase_set_tags(tc, QK_TEST_TAG_AVX2);
    tcase_add_loop_test(tc, test_from_float, 0, N_CV);
    tcase_add_loop_test(tc, test_quantize_act, 0, N_CV);
    tcase_add_loop_test(tc, test_round_act, 0, 2); /* CV[0], CV[1]: F16, BF16 */
    suite_add_tcase(s, tc);
    tc = tcase_create("to_float");
    tcase_set_tags(tc, QK_TEST_TAG_AVX2);
    tcase_add_loop_test(tc, test_to_float_random, 0, N_TF);
    tcase_add_loop_test(tc, test_to_float_quantized, 0, N_TF);
    tcase_add_loop_test(tc, test_to_float_edges, 0, N_TF);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return qk_test_main(kernels_suite()); }
