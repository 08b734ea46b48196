/*
 * test_gemm_f32.c — qkit's FP32 GEMM (gemm_f32.h) for F16, BF16, F32 and Q8_0 weights
 * (Q8_0 goes through to_float), on shapes whose n, m and k are not multiples of the
 * blocking (strip S = 16/32 rows, N = 6/12 tokens, KC = 2048 columns, 64-256 rows per
 * panel) as well as real model shapes (k = 896, 4864).
 *
 * Two checks per kernel set (AVX2 and AVX-512 tagged, each where the CPU has it):
 *  1. Exact: every Y element equals, bit for bit, the order gemm_f32.h documents,
 *     modelled here in scalar code: for each panel of KC columns, acc = fmaf(w_l, x_l, acc)
 *     from 0 in column order, then Y = acc for the first panel and Y = Y + acc after.
 *  2. Against a double-precision reference y* = Σ w_l·x_l (exact up to the double
 *     rounding, 2^-53 relative per term, negligible here):
 *        |ŷ − y*| <= (k + 1)·2^-24·1.01·Σ_l |w_l·x_l|.
 *     Derivation: each FMA rounds once, relative error at most u = 2^-24 (round to
 *     nearest); a term w_l·x_l enters the accumulator exactly and is then part of every
 *     later rounded partial sum: at most KC − 1 inside its panel plus one per later panel
 *     addition, so at most k + 1 roundings in all. Each partial sum is at most
 *     Σ|w·x| in magnitude, so the total error is at most Σ_rounding u·|partial| <=
 *     (k + 1)·u·(1 + u)^(k+1)·Σ|w·x|, and (1 + u)^(k+1) < 1.01 for k < 10^5 (no
 *     underflow: the data are normal floats of moderate range).
 * Y is written with a row stride larger than n, filled with a sentinel: the elements
 * outside the n x m block must keep it (the kernels mask their stores).
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "fp16.h"
#include "gemm_f32.h"
#include "quants.h"
#include "testutil.h"
#include "types.h"

static uint64_t rng;
static double urand(void) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static float gauss(void) {
    const double u = urand() + 1e-12, v = urand();
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static const qk_type TYPES[] = {QK_TYPE_F16, QK_TYPE_BF16, QK_TYPE_F32, QK_TYPE_Q8_0};
#define N_TYPES (int)(sizeof TYPES / sizeof TYPES[0])

/* n rows, k columns, m tokens: partial strips, token groups and panels, single rows
 * and tokens, the Qwen2.5-0.5B shapes, more rows than one panel, and a last panel of k
 * with a column tail. */
static const int SHAPES[][3] = {
    {1, 32, 1},     {7, 32, 5},     {33, 96, 13},  {17, 96, 12},   {48, 544, 7},   {100, 896, 30},
    {64, 4864, 25}, {300, 128, 19}, {257, 1056, 6}, {31, 1024, 24}, {40, 4864, 1},   {19, 531, 14},  {5, 20, 3},
    {70, QK_GEMM_F32_KC + 531, 13},
};
#define N_SHAPES (int)(sizeof SHAPES / sizeof SHAPES[0])
#define LDY_PAD 5
#define SENTINEL 12345.0f

typedef struct fixture {
    qk_type t;
    int n, k, m;
    size_t w_row;
    uint8_t *w; /* n rows in type t */
    float *wf;  /* the same rows as float (to_float) */
    float *x;   /* m rows of k */
} fixture;

static void fixture_make(fixture *f, qk_type t, int n, int k, int m) {
    const qk_type_traits *tt = qk_type_get(t);
    f->t = t;
    f->n = n;
    f->k = k;
    f->m = m;
    f->w_row = qk_row_size(t, k);
    f->w = malloc(f->w_row * (size_t)n);
    f->wf = malloc(sizeof(float) * (size_t)n * (size_t)k);
    f->x = malloc(sizeof(float) * (size_t)m * (size_t)k);
    ck_assert(f->w && f->wf && f->x);
    float *row = malloc(sizeof(float) * (size_t)k);
    ck_assert_ptr_nonnull(row);
    for (int r = 0; r < n; r++) {
        const float scale = ldexpf(1.0f, (int)(urand() * 13) - 6); /* rows scaled by 2^-6 .. 2^6 */
        for (int l = 0; l < k; l++) row[l] = 0.05f * scale * gauss();
        tt->quantize_ref(row, f->w + (size_t)r * f->w_row, k);
        tt->to_float(f->w + (size_t)r * f->w_row, f->wf + (size_t)r * k, k);
    }
    for (int i = 0; i < m * k; i++) f->x[i] = urand() < 0.01 ? 40.0f * gauss() : gauss(); /* with outliers */
    free(row);
}

static void fixture_free(fixture *f) {
    free(f->w);
    free(f->wf);
    free(f->x);
}

/* The documented order (gemm_f32.h), in scalar code. */
static float model_elem(const fixture *f, int r, int c) {
    const float *w = f->wf + (size_t)r * f->k, *x = f->x + (size_t)c * f->k;
    float y = 0.0f;
    for (int kb = 0; kb < f->k; kb += QK_GEMM_F32_KC) {
        const int ke = kb + QK_GEMM_F32_KC < f->k ? kb + QK_GEMM_F32_KC : f->k;
        float acc = 0.0f;
        for (int l = kb; l < ke; l++) acc = fmaf(w[l], x[l], acc);
        y = kb == 0 ? acc : y + acc;
    }
    return y;
}

static void check_level(int level) {
    ck_assert(qk_gemm_f32_supported(level));
    float *scratch = malloc(sizeof(float) * qk_gemm_f32_scratch_floats(level));
    ck_assert_ptr_nonnull(scratch);
    for (int ti = 0; ti < N_TYPES; ti++)
        for (int si = 0; si < N_SHAPES; si++) {
            const int n = SHAPES[si][0], k = SHAPES[si][1], m = SHAPES[si][2];
            if (k % qk_type_get(TYPES[ti])->blck_size) continue;
            rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(ti * 64 + si + 1);
            fixture f;
            fixture_make(&f, TYPES[ti], n, k, m);
            const size_t ldy = (size_t)n + LDY_PAD;
            float *y = malloc(sizeof(float) * ldy * (size_t)(m + 1));
            ck_assert_ptr_nonnull(y);
            for (size_t i = 0; i < ldy * (size_t)(m + 1); i++) y[i] = SENTINEL;
            ck_assert_int_eq(qk_gemm_f32(level, f.t, f.w, f.w_row, n, k, f.x, (size_t)k, m, y, ldy, scratch), 0);
            for (int c = 0; c < m + 1; c++)
                for (size_t r = 0; r < ldy; r++) {
                    const float got = y[(size_t)c * ldy + r];
                    if (c == m || r >= (size_t)n) {
                        ck_assert_msg(got == SENTINEL, "%s n=%d k=%d m=%d: wrote outside Y at c=%d r=%zu",
                                      qk_type_name(f.t), n, k, m, c, r);
                        continue;
                    }
                    const float want = model_elem(&f, (int)r, c);
                    ck_assert_msg(memcmp(&got, &want, sizeof got) == 0,
                                  "%s n=%d k=%d m=%d r=%zu c=%d: %.9g, documented order gives %.9g", qk_type_name(f.t),
                                  n, k, m, r, c, (double)got, (double)want);
                    double ref = 0.0, mag = 0.0;
                    for (int l = 0; l < k; l++) {
                        const double p = (double)f.wf[r * (size_t)k + l] * (double)f.x[(size_t)c * k + l];
                        ref += p;
                        mag += fabs(p);
                    }
                    const double tol = (k + 1) * ldexp(1.0, -24) * 1.01 * mag;
                    ck_assert_msg(fabs((double)got - ref) <= tol, "%s n=%d k=%d m=%d r=%zu c=%d: %.9g, exact %.12g, tol %g",
                                  qk_type_name(f.t), n, k, m, r, c, (double)got, ref, tol);
                }
            free(y);
            fixture_free(&f);
        }
    free(scratch);
}

START_TEST(test_levels) {
    /* the kernel set in use follows cpu.h's switches */
    const int level = qk_gemm_f32_level();
    if (!qk_cpu_has_avx2()) ck_assert_int_eq(level, QK_GEMM_F32_NONE);
    if (qk_cpu_has_avx512vnni()) ck_assert_int_ne(level, QK_GEMM_F32_AVX2);
    if (level != QK_GEMM_F32_NONE) ck_assert(qk_gemm_f32_supported(level));
    ck_assert_int_eq(qk_gemm_f32_strip(QK_GEMM_F32_NONE), 0);
    /* panels: whole strips, within the scratch, as documented */
    const int64_t ks[] = {1, 32, 64, 512, 896, 1000, 2048, 4864};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        const int64_t pr = qk_gemm_f32_panel_rows(ks[i]), kc = ks[i] < QK_GEMM_F32_KC ? ks[i] : QK_GEMM_F32_KC;
        ck_assert_int_eq(pr % 32, 0);
        ck_assert(pr >= QK_GEMM_F32_PANEL_ROWS_MIN && pr <= QK_GEMM_F32_PANEL_ROWS_MAX);
        ck_assert(pr * kc <= QK_GEMM_F32_PANEL_FLOATS);
    }
    ck_assert_int_eq(qk_gemm_f32_panel_rows(896), 128);
    ck_assert_int_eq(qk_gemm_f32_panel_rows(4864), 64);
    ck_assert_int_eq(qk_gemm_f32_panel_rows(64), 256);
    /* unsupported kernel sets and unknown types are refused, Y untouched */
    float w[32] = {0}, x[32] = {0}, y = SENTINEL, scratch[1];
    ck_assert_int_eq(qk_gemm_f32(QK_GEMM_F32_NONE, QK_TYPE_F32, w, sizeof w, 1, 32, x, 32, 1, &y, 1, scratch), -1);
    ck_assert_int_eq(qk_gemm_f32(QK_GEMM_F32_AVX2, (qk_type)9999, w, sizeof w, 1, 32, x, 32, 1, &y, 1, scratch), -1);
    ck_assert(y == SENTINEL);
}
END_TEST

/* The scalar model itself against the double reference (runs on every machine). */
START_TEST(test_model_bound) {
    rng = 42;
    fixture f;
    fixture_make(&f, QK_TYPE_F16, 3, 4864, 2);
    for (int r = 0; r < f.n; r++)
        for (int c = 0; c < f.m; c++) {
            double ref = 0.0, mag = 0.0;
            for (int l = 0; l < f.k; l++) {
                const double p = (double)f.wf[r * (size_t)f.k + l] * (double)f.x[(size_t)c * f.k + l];
                ref += p;
                mag += fabs(p);
            }
            ck_assert(fabs((double)model_elem(&f, r, c) - ref) <= (f.k + 1) * ldexp(1.0, -24) * 1.01 * mag);
        }
    fixture_free(&f);
}
END_TEST

START_TEST(test_avx2) { check_level(QK_GEMM_F32_AVX2); }
END_TEST

START_TEST(test_avx512) { check_level(QK_GEMM_F32_AVX512); }
END_TEST

static Suite *gemm_f32_suite(void) {
    Suite *s = suite_create("gemm_f32");
    TCase *tc = tcase_create("scalar");
    tcase_add_test(tc, test_levels);
    tcase_add_test(tc, test_model_bound);
    suite_add_tcase(s, tc);
    tc = tcase_create("avx2");
    tcase_set_tags(tc, QK_TEST_TAG_AVX2);
    tcase_add_test(tc, test_avx2);
    suite_add_tcase(s, tc);
    tc = tcase_create("avx512vnni");
    tcase_set_tags(tc, QK_TEST_TAG_AVX512VNNI);
    tcase_add_test(tc, test_avx512);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return qk_test_main(gemm_f32_suite()); }
