/*
 * test_ppl_stats.c — unit tests of qk-perplexity's statistics (perplexity/ppl_stats.*) and
 * file formats (perplexity/ppl_logits.*), on hand-made inputs whose expected values are
 * computed independently here, plus the golden llama.cpp base-logits file
 * (golden/wiki-qwen2-13m/perplexity/wiki-qwen2-13m.F16.c256.chunks4.kld).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ppl_logits.h"
#include "ppl_stats.h"
#include "testutil.h"

#define GOLDEN_KLD "golden/wiki-qwen2-13m/perplexity/wiki-qwen2-13m.F16.c256.chunks4.kld"

/* Deterministic pseudo-random floats in [-1, 1). */
static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((g_rng >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

/* Independent reference: log softmax in long double by the definition. */
static long double ref_logprob(const float *l, int n, int i) {
    long double mx = l[0];
    for (int k = 1; k < n; k++)
        if (l[k] > mx) mx = l[k];
    long double s = 0;
    for (int k = 0; k < n; k++) s += expl((long double)l[k] - mx);
    return (long double)l[i] - mx - logl(s);
}

static char *path_in_tmp(const char *name) {
    static char buf[8][4096];
    static int k = 0;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", qk_test_tmpdir(), name);
    return buf[k];
}

static int file_exists(const char *p) { return access(p, F_OK) == 0; }

/* ---- statistics helpers ---------------------------------------------------------------- */

START_TEST(test_percentile_interpolation) {
    float v[7] = {9.0f, 1.0f, 5.0f, 3.0f, 7.0f, 2.0f, 4.0f};
    ppl_sort_floats(v, 7);
    const float sorted[7] = {1, 2, 3, 4, 5, 7, 9};
    for (int i = 0; i < 7; i++) ck_assert_float_eq(v[i], sorted[i]);
    const double fr[] = {0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.999, 1.0};
    for (size_t k = 0; k < sizeof fr / sizeof fr[0]; k++) {
        /* by hand: position f·(n−1), linear between the neighbours */
        double pos = fr[k] * 6.0;
        int lo = (int)floor(pos);
        if (lo > 6) lo = 6;
        int hi = lo + 1 > 6 ? 6 : lo + 1;
        double want = sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
        ck_assert_double_eq_tol(ppl_percentile(v, 7, (float)fr[k]), want, 1e-5);
    }
    ck_assert_float_eq_tol(ppl_percentile(v, 7, 0.9f), 7.8f, 1e-5f); /* 0.9·6 = 5.4: 7 + 0.4·2 */
    ck_assert_float_eq(ppl_median(v, 7), 4.0f);
    ck_assert_float_eq(ppl_median(v, 6), 0.5f * (3.0f + 4.0f));
    float one = 2.5f;
    ck_assert_float_eq(ppl_percentile(&one, 1, 0.3f), 2.5f);
    ck_assert_float_eq(ppl_median(&one, 1), 2.5f);
}
END_TEST

START_TEST(test_mean_and_uncertainty) {
    double x[20], s = 0, s2 = 0;
    for (int i = 0; i < 20; i++) {
        x[i] = 1.0 + 0.25 * i + (i % 3) * 0.5;
        s += x[i];
        s2 += x[i] * x[i];
    }
    double m = 0;
    for (int i = 0; i < 20; i++) m += x[i];
    m /= 20;
    double ss = 0;
    for (int i = 0; i < 20; i++) ss += (x[i] - m) * (x[i] - m);
    /* standard error of the mean with the sample sd: sqrt(ss/(n−1))/sqrt(n), which equals
     * llama.cpp's sqrt((s2/n − m²)/(n−1)) */
    const double se = sqrt(ss / 19.0) / sqrt(20.0);
    ppl_mu r = ppl_mean_and_unc(s, s2, 20);
    ck_assert_double_eq_tol(r.f, m, 1e-12);
    ck_assert_double_eq_tol(r.df, se, 1e-12);
    double mm, sse;
    ppl_mean_se(x, 20, &mm, &sse);
    ck_assert_double_eq_tol(mm, m, 1e-12);
    ck_assert_double_eq_tol(sse, se, 1e-12);
    /* N <= 10: no uncertainty (llama.cpp) */
    r = ppl_mean_and_unc(s, s2, 10);
    ck_assert_double_eq(r.df, 0.0);
    r = ppl_mean_and_unc(0, 0, 0);
    ck_assert_double_eq(r.f, 0.0);

    /* PPL accumulator: exp(mean) and PPL·se */
    ppl_nll_acc a = {0};
    for (int i = 0; i < 20; i++) ppl_nll_acc_add(&a, x[i]);
    double unc, mn;
    double ppl = ppl_nll_acc_ppl(&a, &unc, &mn);
    ck_assert_double_eq_tol(ppl, exp(m), 1e-9 * exp(m));
    ck_assert_double_eq_tol(unc, exp(m) * se, 1e-9 * exp(m));
    ck_assert_double_eq_tol(mn, m, 1e-12);
}
END_TEST

START_TEST(test_covariance_and_correlation) {
    double x[30], y[30], z[30], w[30];
    double sx = 0, sy = 0, sxy = 0, sz = 0, sxz = 0;
    for (int i = 0; i < 30; i++) {
        x[i] = sin(i * 0.7) + i * 0.1;
        y[i] = 2.0 * x[i] + 1.0;
        z[i] = -3.0 * x[i];
        w[i] = cos(i * 1.3);
        sx += x[i];
        sy += y[i];
        sxy += x[i] * y[i];
        sz += z[i];
        sxz += x[i] * z[i];
    }
    ck_assert_double_eq_tol(ppl_pearson(x, y, 30), 1.0, 1e-12);
    ck_assert_double_eq_tol(ppl_pearson(x, z, 30), -1.0, 1e-12);
    double r = ppl_pearson(x, w, 30);
    ck_assert(r > -1.0 && r < 1.0);
    ck_assert(isnan(ppl_pearson(x, y, 1)));
    /* covariance by hand: Σ(x−mx)(y−my)/n/(n−1) */
    double mx = sx / 30, my = sy / 30, c = 0;
    for (int i = 0; i < 30; i++) c += (x[i] - mx) * (y[i] - my);
    ck_assert_double_eq_tol(ppl_covariance(sx, sy, sxy, 30), c / 30 / 29, 1e-12);
    ck_assert(ppl_covariance(sx, sz, sxz, 30) < 0);
    ck_assert_double_eq(ppl_covariance(sx, sy, sxy, 9), 0.0);
}
END_TEST

/* ---- log-softmax ---------------------------------------------------------------------- */

START_TEST(test_log_softmax_huge_logits) {
    /* a naive exp() would overflow at 1e4 and underflow everything at −1e30 */
    const float l[5] = {10000.0f, 9999.0f, 9998.0f, -1e30f, 10000.0f};
    ppl_row r;
    ppl_row_scan(l, 5, &r);
    ck_assert(r.finite);
    ck_assert_int_eq(r.imax, 0); /* first index on ties */
    const double want0 = log(2.0 + exp(-1.0) + exp(-2.0));
    ck_assert_double_eq_tol(ppl_row_nll(&r, l, 0), want0, 1e-6);
    ck_assert_double_eq_tol(ppl_row_nll(&r, l, 2), 2.0 + want0, 1e-6);
    ck_assert(ppl_row_nll(&r, l, 3) > 1e29);

    float big[1000];
    for (int i = 0; i < 1000; i++) big[i] = 3.0e4f + 5.0f * frand();
    ppl_row_scan(big, 1000, &r);
    for (int i = 0; i < 1000; i += 97)
        ck_assert_double_eq_tol(ppl_row_nll(&r, big, i), -(double)ref_logprob(big, 1000, i), 2e-4);

    float bad[3] = {1.0f, NAN, 2.0f};
    ppl_row_scan(bad, 3, &r);
    ck_assert(!r.finite);
    ppl_kld_token t;
    uint16_t rec[8] = {0};
    ppl_kld_token_eval(bad, 3, rec, 0, &t);
    ck_assert(!t.finite);
    ck_assert(isnan(ppl_logits_encode(bad, 3, 0, rec)));
}
END_TEST

/* ---- base records ---------------------------------------------------------------------- */

START_TEST(test_record_round_trip) {
    const int n = 1001; /* odd: one pad word */
    ck_assert_int_eq(ppl_logits_nv(n), 2 * 501 + 4);
    ck_assert_int_eq(ppl_logits_nv(32000), 32004);
    ck_assert_int_eq(ppl_logits_n_scored(512), 255);
    ck_assert_int_eq(ppl_logits_n_scored(256), 127);
    float *l = malloc(n * sizeof *l);
    uint16_t *rec = malloc(ppl_logits_nv(n) * sizeof *rec);
    for (int trial = 0; trial < 3; trial++) {
        const float spread = trial == 0 ? 4.0f : trial == 1 ? 15.0f : 40.0f;
        for (int i = 0; i < n; i++) l[i] = spread * frand() + 7.0f;
        rec[ppl_logits_nv(n) - 1] = 0xffff; /* the pad word must be cleared */
        const double nll = ppl_logits_encode(l, n, 17, rec);
        /* expf terms are float: relative error ~1e-7 */
        ck_assert_double_eq_tol(nll, -(double)ref_logprob(l, n, 17), 1e-5);
        ck_assert_int_eq(rec[ppl_logits_nv(n) - 1], 0);
        float scale, mlp;
        ppl_logits_rec_params(rec, &scale, &mlp);
        float mx = l[0], mn = l[0];
        for (int i = 1; i < n; i++) {
            if (l[i] > mx) mx = l[i];
            if (l[i] < mn) mn = l[i];
        }
        const double range = fmin(16.0, (double)mx - mn);
        ck_assert_double_eq_tol(scale, range / 65535.0, 1e-6 * range / 65535.0 + 1e-9);
        for (int i = 0; i < n; i++) {
            const double truth = (double)ref_logprob(l, n, i);
            const double got = ppl_logits_rec_logprob(rec, i);
            if (truth > mlp + scale) {
                /* within the format's resolution: half a step, plus float rounding */
                ck_assert_msg(fabs(got - truth) <= scale / 2 + 3e-5, "i=%d got %g want %g", i, got,
                              truth);
            } else {
                /* clipped: stored as the floor */
                ck_assert(got <= truth + scale / 2 + 3e-5 || rec[4 + i] == 0);
            }
        }
    }
    /* a hand-computed record: max 2, min −20 clipped to 2 − 16 = −14, scale 16/65535,
     * q = round((l + 14)·65535/16): 65535, 61439 (61439.06), 59391 (59391.09), 0, 63487 */
    {
        const float h[5] = {2.0f, 1.0f, 0.5f, -20.0f, 1.5f};
        uint16_t hr[2 * 3 + 4];
        ppl_logits_encode(h, 5, 1, hr);
        const uint16_t want_q[5] = {65535, 61439, 59391, 0, 63487};
        for (int i = 0; i < 5; i++) ck_assert_uint_eq(hr[4 + i], want_q[i]);
        ck_assert_uint_eq(hr[9], 0); /* pad word */
        float sc, mlp;
        ppl_logits_rec_params(hr, &sc, &mlp);
        ck_assert_float_eq(sc, 16.0f / 65535.0f);
        const double lse = log(1 + exp(-1.0) + exp(-1.5) + exp(-22.0) + exp(-0.5));
        ck_assert_double_eq_tol(mlp, -14.0 - 2.0 - lse, 1e-6);
    }
    /* all logits equal: scale 0, every q 0, log p = −log n */
    for (int i = 0; i < n; i++) l[i] = 3.0f;
    ppl_logits_encode(l, n, 0, rec);
    ck_assert_double_eq_tol(ppl_logits_rec_logprob(rec, 5), -log(n), 1e-5);
    free(l);
    free(rec);
}
END_TEST

START_TEST(test_kld_identical_is_zero) {
    const int n = 32000;
    float *l = malloc(n * sizeof *l);
    uint16_t *rec = malloc(ppl_logits_nv(n) * sizeof *rec);
    ppl_kld_acc acc = {0};
    for (int trial = 0; trial < 20; trial++) {
        for (int i = 0; i < n; i++) l[i] = 2.0f * frand();
        l[(trial * 977) % n] += 4.0f + trial % 5; /* a clear top token; all nll < 16 */
        const int tok = (trial * 31337) % n;
        ppl_logits_encode(l, n, tok, rec);
        float scale, mlp;
        ppl_logits_rec_params(rec, &scale, &mlp);
        ppl_kld_token t;
        ppl_kld_token_eval(l, n, rec, tok, &t);
        ck_assert(t.finite);
        ck_assert_msg(fabs(t.kld) <= scale, "kld %g vs resolution %g", t.kld, scale);
        ck_assert(t.same_top);
        ck_assert_double_eq_tol(t.nll, t.nll_exact, 1e-4);
        if (t.nll_exact < -mlp - scale)
            ck_assert_double_eq_tol(t.nll_base, t.nll_exact, scale / 2 + 3e-5);
        else /* below the 16-nat floor: the record stores the floor */
            ck_assert_double_eq_tol(t.nll_base, -mlp, 1e-5);
        ck_assert(fabsf(t.dp) < 1e-4f);
        ppl_kld_acc_add(&acc, &t, t.nll_exact);
    }
    ppl_kld_summary s;
    ppl_kld_summary_from_acc(&acc, &s);
    ck_assert_double_eq_tol(s.mean_kld, 0.0, 2.5e-4);
    ck_assert_double_eq(s.same_top, 1.0);
    ck_assert_double_eq_tol(s.ppl_ratio, 1.0, 1e-4);
    ck_assert(s.has_exact);
    ck_assert_double_eq_tol(s.exact.ppl_ratio, 1.0, 1e-6);

    /* a different distribution: KLD by the definition, restricted to log p_B > −16 */
    float *l2 = malloc(n * sizeof *l2);
    for (int i = 0; i < n; i++) l2[i] = l[i] + 0.5f * frand();
    ppl_logits_encode(l, n, 5, rec);
    ppl_kld_token t;
    ppl_kld_token_eval(l2, n, rec, 5, &t);
    long double mx = l2[0], se = 0;
    for (int i = 1; i < n; i++)
        if (l2[i] > mx) mx = l2[i];
    for (int i = 0; i < n; i++) se += expl(l2[i] - mx);
    long double want = 0;
    for (int i = 0; i < n; i++) {
        const long double lp = ppl_logits_rec_logprob(rec, i);
        if (lp > -16) want += expl(lp) * (lp - ((long double)l2[i] - mx - logl(se)));
    }
    ck_assert(want > 1e-3);
    ck_assert_double_eq_tol(t.kld, (double)want, 1e-6 + 1e-4 * (double)want);
    free(l);
    free(l2);
    free(rec);
}
END_TEST

START_TEST(test_kld_summary_formulas) {
    enum { N = 200 };
    ppl_kld_acc acc = {0};
    float kv[N], dv[N];
    double x[N], y[N];
    for (int i = 0; i < N; i++) {
        ppl_kld_token t = {0};
        t.nll = 5.0f + 2.0f * sinf(i * 0.37f);
        t.nll_base = t.nll - 0.1f + 0.05f * cosf(i * 1.1f);
        t.nll_exact = t.nll;
        t.kld = 0.001 * (1 + i % 17);
        t.dp = expf(-t.nll) - expf(-t.nll_base);
        t.same_top = (i % 10) != 0;
        t.finite = true;
        ppl_kld_acc_add(&acc, &t, NAN);
        kv[i] = (float)t.kld;
        dv[i] = t.dp;
        x[i] = t.nll;
        y[i] = t.nll_base;
    }
    ppl_kld_summary s;
    ppl_kld_summarize(&acc, kv, dv, N, &s);
    double mx, sex, my, sey;
    ppl_mean_se(x, N, &mx, &sex);
    ppl_mean_se(y, N, &my, &sey);
    ck_assert_double_eq_tol(s.ppl_q, exp(mx), 1e-9 * exp(mx));
    ck_assert_double_eq_tol(s.ppl_q_unc, exp(mx) * sex, 1e-6 * exp(mx) * sex);
    ck_assert_double_eq_tol(s.ppl_base, exp(my), 1e-9 * exp(my));
    /* llama.cpp's cov/(df·df) is exactly the Pearson correlation */
    ck_assert_double_eq_tol(s.cor_ln_ppl, ppl_pearson(x, y, N), 1e-5); /* float products */
    ck_assert_double_eq_tol(s.mean_ln_ratio, mx - my, 1e-9);
    double d[N], md, sed;
    for (int i = 0; i < N; i++) d[i] = x[i] - y[i];
    ppl_mean_se(d, N, &md, &sed);
    ck_assert_double_eq_tol(s.mean_ln_ratio_unc, sed, 1e-6);
    ck_assert_double_eq_tol(s.ppl_ratio, exp(mx - my), 1e-9);
    ck_assert_double_eq_tol(s.same_top, 0.9, 1e-12);
    ck_assert_double_eq_tol(s.same_top_unc, sqrt(0.9 * 0.1 / (N - 1)), 1e-12);
    ck_assert(!s.has_exact);
    /* KLD values are 0.001·(1..17): max 0.017, min 0.001 */
    ck_assert_double_eq_tol(s.kld_max, 0.017, 1e-7);
    ck_assert_double_eq_tol(s.kld_min, 0.001, 1e-7);
    ck_assert(s.kld_p99 >= s.kld_p95 && s.kld_p95 >= s.kld_p90 && s.kld_p90 >= s.kld_median &&
              s.kld_median >= s.kld_p10 && s.kld_p10 >= s.kld_p1);
    double rms = 0;
    for (int i = 0; i < N; i++) rms += (double)dv[i] * dv[i];
    ck_assert_double_eq_tol(s.rms_dp, sqrt(rms / N), 1e-9);
    ck_assert(s.has_percentiles);
}
END_TEST

/* Every KLD and Δp percentile of the summary on values whose percentiles are known by
 * construction: the KLD values are a shuffle of k/1000 (k = 0..999), so the f-quantile by
 * llama.cpp's rule (sorted, position f·(N−1), linear between neighbours) is f·0.999, the
 * median (N even: the mean of the two middle values) 0.4995, the maximum 0.999, the minimum
 * 0; the Δp values are the KLD values − 0.5. The golden comparisons leave these statistics
 * out where they are noise (the maximum of 508 tokens), so this is where a wrong formula
 * in them (another position rule, a missing sort, max and min swapped) must show. */
START_TEST(test_kld_percentiles_known) {
    enum { N = 1000 };
    static float kv[N], dv[N];
    ppl_kld_acc acc = {0};
    for (int i = 0; i < N; i++) {
        const int k = (i * 337 + 41) % N; /* 337 is prime to 1000: a permutation */
        ppl_kld_token t = {0};
        t.nll = t.nll_base = t.nll_exact = 2.0f;
        t.kld = k / 1000.0;
        t.dp = (float)(k / 1000.0 - 0.5);
        t.same_top = true;
        t.finite = true;
        ppl_kld_acc_add(&acc, &t, NAN);
        kv[i] = (float)t.kld;
        dv[i] = t.dp;
    }
    ppl_kld_summary s;
    ppl_kld_summarize(&acc, kv, dv, N, &s);
    ck_assert(s.has_percentiles);
    const struct {
        const char *name;
        double got, f;
    } kld[] = {{"max", s.kld_max, 1.0},     {"99.9%", s.kld_p99_9, 0.999}, {"99%", s.kld_p99, 0.99},
               {"95%", s.kld_p95, 0.95},    {"90%", s.kld_p90, 0.90},      {"10%", s.kld_p10, 0.10},
               {"5%", s.kld_p5, 0.05},      {"1%", s.kld_p1, 0.01},        {"0.1%", s.kld_p0_1, 0.001},
               {"min", s.kld_min, 0.0}},
      dp[] = {{"max", s.dp_max, 1.0},   {"99.9%", s.dp_p99_9, 0.999}, {"99%", s.dp_p99, 0.99},
              {"95%", s.dp_p95, 0.95},  {"90%", s.dp_p90, 0.90},      {"75%", s.dp_p75, 0.75},
              {"25%", s.dp_p25, 0.25},  {"10%", s.dp_p10, 0.10},      {"5%", s.dp_p5, 0.05},
              {"1%", s.dp_p1, 0.01},    {"0.1%", s.dp_p0_1, 0.001},   {"min", s.dp_min, 0.0}};
    /* 2e-6: the values are stored as floats (one rounding of ~6e-8 each) and percentiles
     * are interpolated in float */
    for (size_t i = 0; i < sizeof kld / sizeof kld[0]; i++)
        ck_assert_msg(fabs(kld[i].got - kld[i].f * 0.999) <= 2e-6, "KLD %s: %.9g, want %.9g", kld[i].name,
                      kld[i].got, kld[i].f * 0.999);
    for (size_t i = 0; i < sizeof dp / sizeof dp[0]; i++)
        ck_assert_msg(fabs(dp[i].got - (dp[i].f * 0.999 - 0.5)) <= 2e-6, "Δp %s: %.9g, want %.9g", dp[i].name,
                      dp[i].got, dp[i].f * 0.999 - 0.5);
    ck_assert_double_eq_tol(s.kld_median, 0.4995, 2e-6);
    ck_assert_double_eq_tol(s.dp_median, -0.0005, 2e-6);
    ck_assert_double_eq_tol(s.mean_kld, 0.4995, 1e-9);
}
END_TEST

/* ---- files ------------------------------------------------------------------------------ */

START_TEST(test_logits_file_write_read) {
    const int32_t n_ctx = 8, n_vocab = 5, n_chunk = 2, ns = ppl_logits_n_scored(n_ctx);
    int32_t tokens[16];
    for (int i = 0; i < 16; i++) tokens[i] = (i * 3) % n_vocab;
    const char *p = path_in_tmp("small.kld");
    qk_err err = {{0}};
    ppl_logits_writer *w = ppl_logits_create(p, n_ctx, n_vocab, n_chunk, tokens, &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    ck_assert(!file_exists(p)); /* nothing at the target until commit */
    const int32_t nv = ppl_logits_nv(n_vocab);
    uint16_t *recs = calloc((size_t)ns * n_chunk * nv, sizeof *recs);
    for (int r = 0; r < ns * n_chunk; r++) {
        float l[5];
        for (int i = 0; i < 5; i++) l[i] = frand() * 3;
        ppl_logits_encode(l, n_vocab, 0, recs + (size_t)r * nv);
    }
    ck_assert_int_eq(ppl_logits_write_records(w, recs, ns, &err), 0);
    ck_assert_int_eq(ppl_logits_write_records(w, recs + (size_t)ns * nv, ns, &err), 0);
    ck_assert_int_eq(ppl_logits_commit(w, &err), 0);
    size_t len = 0;
    char *bytes = qk_test_read_file(p, &len);
    ck_assert_uint_eq(len, ppl_logits_file_size(n_ctx, n_vocab, n_chunk));
    ck_assert_uint_eq(len, 20 + 4 * 16 + 2 * (size_t)nv * ns * n_chunk);
    ck_assert(memcmp(bytes, "_logits_", 8) == 0);
    ck_assert(memcmp(bytes + 20, tokens, sizeof tokens) == 0);
    ck_assert(memcmp(bytes + 20 + sizeof tokens, recs, 2 * (size_t)nv * ns * n_chunk) == 0);
    free(bytes);

    ppl_logits_file *lf = ppl_logits_open(p, &err);
    ck_assert_msg(lf != NULL, "%s", err.msg);
    ck_assert_int_eq(lf->n_ctx, n_ctx);
    ck_assert_int_eq(lf->n_vocab, n_vocab);
    ck_assert_int_eq(lf->n_chunk, n_chunk);
    ck_assert(memcmp(lf->tokens, tokens, sizeof tokens) == 0);
    uint16_t *back = calloc((size_t)ns * n_chunk * nv, sizeof *back);
    ck_assert_int_eq(ppl_logits_read_chunks(lf, 2, back, &err), 0);
    ck_assert(memcmp(back, recs, 2 * (size_t)nv * ns * n_chunk) == 0);
    ck_assert_int_ne(ppl_logits_read_chunks(lf, 1, back, &err), 0); /* past the end */

    /* sidecar: round trip, and rejected for another token stream */
    double nll[2 * 3];
    for (int i = 0; i < 6; i++) nll[i] = 1.5 + i;
    const char *pn = path_in_tmp("small.kld.nll");
    ck_assert_int_eq(ppl_nll_write(pn, n_ctx, n_vocab, n_chunk, lf->tokens_hash, nll, &err), 0);
    double *nb = ppl_nll_read(pn, lf, &err);
    ck_assert_msg(nb != NULL, "%s", err.msg);
    ck_assert(memcmp(nb, nll, sizeof nll) == 0);
    free(nb);
    ck_assert_int_eq(ppl_nll_write(pn, n_ctx, n_vocab, n_chunk, lf->tokens_hash ^ 1, nll, &err), 0);
    ck_assert(ppl_nll_read(pn, lf, &err) == NULL);
    ck_assert(strstr(err.msg, "does not belong") != NULL);
    ppl_logits_close(lf);

    /* abort leaves nothing behind */
    const char *p2 = path_in_tmp("aborted.kld");
    w = ppl_logits_create(p2, n_ctx, n_vocab, n_chunk, tokens, &err);
    ck_assert(w != NULL);
    ck_assert_int_eq(ppl_logits_write_records(w, recs, ns, &err), 0);
    ck_assert_int_ne(ppl_logits_commit(w, &err), 0); /* incomplete: refused */
    ck_assert(!file_exists(p2));
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", p2, (long)getpid());
    ck_assert(!file_exists(tmp));
    free(recs);
    free(back);
}
END_TEST

START_TEST(test_prompts_file_round_trip) {
    ppl_prompt_rec r[3] = {{5, 4, 11, 9.5}, {3, 2, 22, 4.25}, {10, 9, 33, 30.0}};
    const char *p = path_in_tmp("prompts.base");
    qk_err err = {{0}};
    ck_assert_int_eq(ppl_prompts_write(p, 32000, r, 3, &err), 0);
    int32_t nv = 0, n = 0;
    ppl_prompt_rec *b = ppl_prompts_read(p, &nv, &n, &err);
    ck_assert_msg(b != NULL, "%s", err.msg);
    ck_assert_int_eq(nv, 32000);
    ck_assert_int_eq(n, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(b[i].n_tokens, r[i].n_tokens);
        ck_assert_int_eq(b[i].n_scored, r[i].n_scored);
        ck_assert_uint_eq(b[i].hash, r[i].hash);
        ck_assert_double_eq(b[i].nll_sum, r[i].nll_sum);
    }
    free(b);
    /* truncated: rejected */
    size_t len;
    char *bytes = qk_test_read_file(p, &len);
    const char *pt = path_in_tmp("prompts.trunc");
    FILE *f = fopen(pt, "wb");
    fwrite(bytes, 1, len - 1, f);
    fclose(f);
    free(bytes);
    ck_assert(ppl_prompts_read(pt, &nv, &n, &err) == NULL);
    ck_assert(strstr(err.msg, "truncated") != NULL);
}
END_TEST

START_TEST(test_golden_kld_header) {
    const char *gp = qk_test_shared(GOLDEN_KLD);
    qk_err err = {{0}};
    ppl_logits_file *lf = ppl_logits_open(gp, &err);
    ck_assert_msg(lf != NULL, "%s", err.msg);
    ck_assert_int_eq(lf->n_ctx, 256);
    ck_assert_int_eq(lf->n_vocab, 32000);
    ck_assert_int_eq(lf->n_chunk, 4);
    ck_assert_int_eq(lf->n_scored, 127);
    ck_assert_uint_eq(lf->size, 20ull + 4 * 4 * 256 + 4ull * 127 * 2 * 32004);
    ck_assert_int_eq(lf->tokens[0], 1); /* BOS added by tokenization, SPM vocab */
    /* every record decodes to a distribution: Σ p over the unclipped range ≈ 1 */
    uint16_t *recs = malloc((size_t)lf->n_scored * lf->nv * sizeof *recs);
    for (int c = 0; c < 4; c++) {
        ck_assert_int_eq(ppl_logits_read_chunks(lf, 1, recs, &err), 0);
        for (int t = 0; t < lf->n_scored; t += 7) {
            const uint16_t *rec = recs + (size_t)t * lf->nv;
            float scale, mlp;
            ppl_logits_rec_params(rec, &scale, &mlp);
            ck_assert(scale > 0 && scale <= 16.0f / 65535 * 1.0001f);
            double s = 0;
            for (int i = 0; i < 32000; i++) {
                const float lp = ppl_logits_rec_logprob(rec, i);
                if (rec[4 + i] > 0) s += exp(lp);
            }
            ck_assert_msg(s > 0.99 && s < 1.0005, "chunk %d token %d: sum p = %g", c, t, s);
        }
    }
    free(recs);
    ppl_logits_close(lf);
}
END_TEST

static void write_bytes(const char *p, const char *b, size_t n) {
    FILE *f = fopen(p, "wb");
    ck_assert(f != NULL);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

START_TEST(test_golden_kld_rejects_damage) {
    size_t len = 0;
    char *b = qk_test_read_file(qk_test_shared(GOLDEN_KLD), &len);
    ck_assert(b != NULL);
    qk_err err = {{0}};
    const char *p = path_in_tmp("damaged.kld");

    write_bytes(p, b, len - 2); /* truncated */
    ck_assert(ppl_logits_open(p, &err) == NULL);
    ck_assert_msg(strstr(err.msg, "truncated") != NULL, "%s", err.msg);

    write_bytes(p, b, 12); /* header cut */
    ck_assert(ppl_logits_open(p, &err) == NULL);
    ck_assert_msg(strstr(err.msg, "truncated") != NULL, "%s", err.msg);

    char *b2 = malloc(len + 1); /* trailing byte */
    memcpy(b2, b, len);
    b2[len] = 0;
    write_bytes(p, b2, len + 1);
    ck_assert(ppl_logits_open(p, &err) == NULL);
    ck_assert_msg(strstr(err.msg, "after") != NULL, "%s", err.msg);

    memcpy(b2, b, len); /* wrong magic */
    b2[0] = 'X';
    write_bytes(p, b2, len);
    ck_assert(ppl_logits_open(p, &err) == NULL);
    ck_assert_msg(strstr(err.msg, "not a llama.cpp base-logits") != NULL, "%s", err.msg);

    memcpy(b2, b, len); /* token id out of range */
    const int32_t bad = 32000;
    memcpy(b2 + 20 + 4 * 100, &bad, 4);
    write_bytes(p, b2, len);
    ck_assert(ppl_logits_open(p, &err) == NULL);
    ck_assert_msg(strstr(err.msg, "outside the vocabulary") != NULL, "%s", err.msg);

    memcpy(b2, b, len); /* header says more chunks than present */
    const int32_t five = 5;
    memcpy(b2 + 16, &five, 4);
    write_bytes(p, b2, len);
    ck_assert(ppl_logits_open(p, &err) == NULL);
    ck_assert_msg(strstr(err.msg, "truncated") != NULL, "%s", err.msg);

    /* a record of chunk 3 (1-based) whose scale or min_log_prob is not a log-probability
     * encoding: the file opens (the header is fine), reading that chunk fails naming it,
     * and the chunks before it read */
    const size_t head = 20 + 4 * 4 * 256, rec_bytes = 2 * (size_t)ppl_logits_nv(32000);
    const size_t at = head + (2 * 127 + 5) * rec_bytes; /* chunk 3, record 5 */
    const float bad_params[][2] = {{NAN, -10.0f}, {-1e-4f, -10.0f}, {INFINITY, -10.0f}, {2e-4f, NAN},
                                   {2e-4f, -INFINITY}, {2e-4f, 0.5f}, {0.01f, -10.0f}};
    for (size_t k = 0; k < sizeof bad_params / sizeof bad_params[0]; k++) {
        memcpy(b2, b, len);
        memcpy(b2 + at, &bad_params[k][0], 4);
        memcpy(b2 + at + 4, &bad_params[k][1], 4);
        write_bytes(p, b2, len);
        ppl_logits_file *lf = ppl_logits_open(p, &err);
        ck_assert_msg(lf != NULL, "%s", err.msg);
        uint16_t *recs = malloc(2 * 127 * rec_bytes);
        ck_assert_int_eq(ppl_logits_read_chunks(lf, 2, recs, &err), 0);
        ck_assert_int_eq(ppl_logits_read_chunks(lf, 2, recs, &err), -1);
        ck_assert_msg(strstr(err.msg, "chunk 3, record 5") && strstr(err.msg, "damaged"), "case %zu: %s", k, err.msg);
        free(recs);
        ppl_logits_close(lf);
    }

    write_bytes(p, "", 0); /* empty */
    ck_assert(ppl_logits_open(p, &err) == NULL);
    ck_assert(ppl_logits_open(path_in_tmp("does-not-exist.kld"), &err) == NULL);
    ck_assert(strstr(err.msg, "cannot open") != NULL);
    free(b);
    free(b2);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("ppl_stats");
    TCase *tc = tcase_create("stats");
    tcase_add_test(tc, test_percentile_interpolation);
    tcase_add_test(tc, test_mean_and_uncertainty);
    tcase_add_test(tc, test_covariance_and_correlation);
    tcase_add_test(tc, test_log_softmax_huge_logits);
    tcase_add_test(tc, test_record_round_trip);
    tcase_add_test(tc, test_kld_identical_is_zero);
    tcase_add_test(tc, test_kld_summary_formulas);
    tcase_add_test(tc, test_kld_percentiles_known);
    suite_add_tcase(s, tc);
    TCase *tf = tcase_create("files");
    tcase_add_test(tf, test_logits_file_write_read);
    tcase_add_test(tf, test_prompts_file_round_trip);
    tcase_add_test(tf, test_golden_kld_header);
    tcase_add_test(tf, test_golden_kld_rejects_damage);
    suite_add_tcase(s, tf);
    return s;
}

int main(void) { return qk_test_main(suite()); }
