/*
 * test_ppl_simd.c — the AVX2 loops of qk-perplexity (perplexity/ppl_simd.*) against the
 * scalar reference in ppl_stats.c / ppl_logits.c (ppl_simd_set(false)), and the vector
 * expf against glibc's expf: same maxima and first indices, bit-identical 16-bit records,
 * log-softmax sums and KLD values equal to ~1e-13 relative (only the order of the double
 * additions differs), NaN/Inf found in the body and in the tail of a row.
 *
 * The comparisons form the "avx2" test case (QK_TEST_TAG_AVX2): where the kernels in use
 * lack AVX2 (CPU without it, QK_FORCE_SCALAR=1) ctest reports that part Skipped. The
 * untagged case checks on every machine that ppl_simd_enabled() follows the CPU check and
 * ppl_simd_set().
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "ppl_logits.h"
#include "ppl_simd.h"
#include "ppl_stats.h"
#include "testutil.h"

static uint64_t g_rng = 0x2545f4914f6cdd1dull;
static float frand(void) { /* [-1, 1) */
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((g_rng >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

/* Row lengths: tails of every size, a realistic vocabulary, Qwen2's. */
static const int LENS[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 100, 1001, 32000, 151936};
#define N_LENS ((int)(sizeof LENS / sizeof LENS[0]))

/* Logits of a few shapes: wide normal-ish, peaked (a few very large), with exact ties at
 * the maximum, and with values far below the maximum (underflowing expf). */
static void fill(float *l, int n, int shape) {
    for (int i = 0; i < n; i++) {
        float v = 4.0f * (frand() + frand() + frand());
        if (shape == 1 && i % 97 == 3) v += 25.0f;
        if (shape == 3) v = (i % 5 == 0) ? -500.0f + frand() : v * 8.0f;
        l[i] = v;
    }
    if (shape == 2 && n > 3) {
        l[n / 3] = 40.0f;
        l[n - 1] = 40.0f; /* a later tie: the first index must win */
        l[n / 2] = 40.0f;
    }
}

/* Turns the SIMD loops on (the "avx2" case runs only where the CPU has them). */
static int simd_on(void) {
    ppl_simd_set(true);
    ck_assert_msg(ppl_simd_enabled(), "the avx2 case ran without the AVX2 loops");
    return 1;
}

START_TEST(test_row_scan_matches_scalar) {
    const int simd = simd_on();
    float *l = malloc(151936 * sizeof *l);
    int compared = 0;
    for (int k = 0; k < N_LENS; k++) {
        for (int shape = 0; shape < 4; shape++) {
            const int n = LENS[k];
            fill(l, n, shape);
            ppl_row a, b;
            ppl_simd_set(false);
            ppl_row_scan(l, n, &a);
            ppl_simd_set(true);
            ppl_row_scan(l, n, &b);
            ck_assert(a.finite && b.finite);
            ck_assert_msg(a.max_logit == b.max_logit && a.imax == b.imax, "n %d shape %d: max %g@%d vs %g@%d",
                          n, shape, a.max_logit, a.imax, b.max_logit, b.imax);
            /* the vector expf is correctly rounded, glibc's misrounds ~0.05 % of inputs by one
             * ulp: a sum may move by one float ulp of a term, at most 1.2e-7 of the sum */
            ck_assert_msg(fabs(a.sum_exp - b.sum_exp) <= 1.2e-7 * a.sum_exp,
                          "n %d shape %d: Σexp %.17g vs %.17g",
                          n, shape, a.sum_exp, b.sum_exp);
            compared++;
        }
    }
    ck_assert_int_eq(compared, 4 * N_LENS);
    /* NaN / Inf anywhere: in the vector body, in the tail, as the first element */
    const int n = 1001, at[] = {0, 500, 999, 1000};
    for (int j = 0; j < 4; j++) {
        for (int kind = 0; kind < 3; kind++) {
            fill(l, n, 0);
            l[at[j]] = kind == 0 ? NAN : kind == 1 ? INFINITY : -INFINITY;
            ppl_row r;
            ppl_row_scan(l, n, &r);
            ck_assert_msg(!r.finite, "non-finite at %d (kind %d) not seen (simd %d)", at[j], kind, simd);
            uint16_t rec[1006]; /* ppl_logits_nv(1001) */
            ck_assert(isnan(ppl_logits_encode(l, n, 0, rec)));
        }
    }
    free(l);
}
END_TEST

START_TEST(test_records_bit_identical) {
    simd_on();
    float *l = malloc(151936 * sizeof *l);
    const int nv_max = ppl_logits_nv(151936);
    uint16_t *ra = malloc((size_t)nv_max * sizeof *ra), *rb = malloc((size_t)nv_max * sizeof *rb);
    for (int k = 0; k < N_LENS; k++) {
        for (int shape = 0; shape < 5; shape++) {
            const int n = LENS[k], nv = ppl_logits_nv(n);
            fill(l, n, shape % 4);
            if (shape == 4)
                for (int i = 0; i < n; i++) l[i] = 2.5f; /* constant row: scale 0 */
            const int tok = n / 2;
            ppl_simd_set(false);
            const double na = ppl_logits_encode(l, n, tok, ra);
            ppl_simd_set(true);
            const double nb = ppl_logits_encode(l, n, tok, rb);
            /* q words and scale bit-identical (no exp involved); min_log_prob holds log Σexp,
             * which may move by one float ulp (see above) */
            ck_assert_msg(memcmp(ra + 4, rb + 4, (size_t)(nv - 4) * sizeof *ra) == 0 &&
                              memcmp(ra, rb, 4) == 0,
                          "n %d shape %d: records differ", n, shape);
            float ma, mb;
            memcpy(&ma, ra + 2, 4);
            memcpy(&mb, rb + 2, 4);
            ck_assert_msg(ma == mb || nextafterf(ma, mb) == mb, "n %d: min_log_prob %.9g vs %.9g", n, ma, mb);
            ck_assert_msg(fabs(na - nb) <= 2e-7, "n %d: NLL %.17g vs %.17g", n, na, nb);
        }
    }
    free(l);
    free(ra);
    free(rb);
}
END_TEST

START_TEST(test_kld_matches_scalar) {
    simd_on();
    float *l = malloc(151936 * sizeof *l), *lb = malloc(151936 * sizeof *lb);
    uint16_t *rec = malloc((size_t)ppl_logits_nv(151936) * sizeof *rec);
    for (int k = 0; k < N_LENS; k++) {
        for (int shape = 0; shape < 4; shape++) {
            const int n = LENS[k];
            fill(lb, n, shape);
            for (int i = 0; i < n; i++) l[i] = lb[i] + 0.3f * frand(); /* a perturbed model */
            ppl_simd_set(false);
            ppl_logits_encode(lb, n, 0, rec);
            const int tok = (n * 2) / 3;
            ppl_kld_token a, b;
            ppl_kld_token_eval(l, n, rec, tok, &a);
            ppl_simd_set(true);
            ppl_kld_token_eval(l, n, rec, tok, &b);
            ck_assert(a.finite && b.finite);
            ck_assert_msg(fabs(a.kld - b.kld) <= 1e-7 * fabs(a.kld) + 1e-12,
                          "n %d shape %d: KLD %.17g vs %.17g",
                          n, shape, a.kld, b.kld);
            ck_assert_msg(a.same_top == b.same_top, "n %d shape %d: same top differs", n, shape);
            ck_assert(a.nll_base == b.nll_base);
            ck_assert_msg(fabsf(a.nll - b.nll) <= 4e-6f * fmaxf(1.0f, a.nll), "n %d: NLL %.9g vs %.9g", n,
                          a.nll, b.nll);
        }
    }
    /* base record with tied maxima: "same top" must use the FIRST index of the base max */
    {
        const int n = 40;
        for (int i = 0; i < n; i++) lb[i] = frand();
        lb[5] = 9.0f;
        lb[30] = 9.0f;
        ppl_logits_encode(lb, n, 0, rec);
        ck_assert_uint_eq(rec[4 + 5], 65535);
        ck_assert_uint_eq(rec[4 + 30], 65535);
        memcpy(l, lb, n * sizeof *l);
        l[30] = 9.5f; /* model's top is index 30, base's first top is 5 */
        for (int s = 0; s < 2; s++) {
            ppl_simd_set(s == 1);
            ppl_kld_token t;
            ppl_kld_token_eval(l, n, rec, 1, &t);
            ck_assert_msg(!t.same_top, "simd %d: tie at the base maximum resolved to the last index", s);
            l[30] = 9.0f;
            l[5] = 9.5f;
            ppl_kld_token_eval(l, n, rec, 1, &t);
            ck_assert_msg(t.same_top, "simd %d", s);
            l[5] = 9.0f;
            l[30] = 9.5f;
        }
    }
    free(l);
    free(lb);
    free(rec);
}
END_TEST

START_TEST(test_vector_expf_vs_libm) {
    simd_on();
    /* ppl_simd_sum_exp over one element returns (double) of the vector expf (tail path);
     * over 8 it runs the full-vector path. Sweep [−110, 5] against the correctly rounded
     * value (expl in long double, rounded once to float) and against glibc's expf. */
    int n = 0, n_not_cr = 0, n_diff_libm = 0;
    double worst_ulp = 0;
    float x8[8];
    for (float x = -110.0f; x < 5.0f; x = nextafterf(x + 4.1e-4f, 10.0f)) {
        for (int j = 0; j < 8; j++) x8[j] = x + 1e-3f * (float)j;
        const double got8 = ppl_simd_sum_exp(x8, 8, 0.0f);
        double want8 = 0;
        for (int j = 0; j < 8; j++) want8 += (double)(float)expl((long double)x8[j]);
        ck_assert_msg(fabs(got8 - want8) <= 1e-7 * want8 + 1e-44, "x %g: Σ8 %.9g vs %.9g", x, got8, want8);
        const float got = (float)ppl_simd_sum_exp(&x, 1, 0.0f);
        const float cr = (float)expl((long double)x), libm = expf(x);
        n++;
        if (got != cr) n_not_cr++;
        if (got != libm) {
            n_diff_libm++;
            const float ulp = nextafterf(libm, INFINITY) - libm;
            const double d = fabs((double)got - libm) / (ulp > 0 ? ulp : 1e-45);
            if (d > worst_ulp) worst_ulp = d;
        }
    }
    fprintf(stderr, "vector expf: %d of %d not correctly rounded; differs from glibc expf on %d, "
            "by at most %.2g ulp\n", n_not_cr, n, n_diff_libm, worst_ulp);
    ck_assert(n > 200000);
    ck_assert_msg(n_not_cr * 100000 <= n, "vector expf not correctly rounded on %d of %d inputs", n_not_cr,
                  n);
    ck_assert_msg(worst_ulp <= 1.0, "vector expf differs from glibc expf by %.3g ulp", worst_ulp);
    ck_assert_msg(n_diff_libm * 200 <= n, "vector expf differs from glibc expf on %d of %d inputs",
                  n_diff_libm, n);
    /* underflow to zero and subnormal results */
    const float xs[4] = {-200.0f, -104.5f, -87.5f, 0.0f};
    for (int j = 0; j < 4; j++)
        ck_assert_double_eq((double)(float)ppl_simd_sum_exp(&xs[j], 1, 0.0f),
                            (double)(float)expl((long double)xs[j]));
}
END_TEST

/* On every machine: the SIMD loops are on exactly when the CPU check says AVX2 and they
 * were not turned off. */
START_TEST(test_enabled_follows_cpu) {
    ppl_simd_set(true);
    ck_assert_int_eq(ppl_simd_enabled(), qk_cpu_has_avx2());
    ppl_simd_set(false);
    ck_assert(!ppl_simd_enabled());
    ppl_simd_set(true);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("ppl_simd");
    TCase *tc = tcase_create("switch");
    tcase_add_test(tc, test_enabled_follows_cpu);
    suite_add_tcase(s, tc);
    tc = tcase_create("simd");
    tcase_set_tags(tc, QK_TEST_TAG_AVX2);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_row_scan_matches_scalar);
    tcase_add_test(tc, test_records_bit_identical);
    tcase_add_test(tc, test_kld_matches_scalar);
    tcase_add_test(tc, test_vector_expf_vs_libm);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return qk_test_main(suite()); }
