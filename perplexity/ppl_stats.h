/*
 * ppl_stats.h — the arithmetic of qk-perplexity: stable log-softmax, per-token NLL, the
 * per-token KL divergence against a 16-bit base record, the running accumulators, and the
 * summary statistics (mean ± uncertainty, covariance, percentiles, Pearson correlation).
 *
 * Everything here is pure (no I/O, no model) so it can be unit-tested on hand-made input.
 * The formulas are llama.cpp's (examples/perplexity/perplexity.cpp, upstream 2025-02, and
 * llama-cpp-reference.md §1b); where llama.cpp computes in float, so do we, so that the
 * figures agree with its logs to the printed digits:
 *   - log-softmax: max logit, Σ expf(l_i − max) accumulated in double, log of that (on
 *     AVX2 CPUs the row loops run in ppl_simd.c with a correctly rounded vector expf);
 *   - NLL of the next token: max + log Σexp − l_tok;
 *   - KLD per token: Σ_{i: log p_B,i > −16} p_B,i (log p_B,i − log q_i), with
 *     log p_B,i = scale·q[i] + min_log_prob taken from the base record (ppl_logits.h);
 *   - Δp = exp(−nll) − exp(−nll_base); "same top" = argmax q == argmax p_B;
 *   - mean_and_uncertainty(s, s2, N) = (s/N, sqrt((s2/N − (s/N)²)/(N−1))), the ± being 0
 *     when N <= 10 or the variance is not positive;
 *   - cov(a, b) = (Σab/N − mean_a·mean_b)/(N−1), 0 when N < 10;
 *   - percentile(f): sorted values, p = f·(N−1), linear interpolation (float, as llama.cpp);
 *   - median: middle value, or the mean of the two middle values when N is even.
 */
#ifndef QK_PPL_STATS_H
#define QK_PPL_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- log-softmax of one row of logits ------------------------------------------------ */

/* Summary of a row of n_vocab logits: its maximum (first index on ties) and
 * Σ expf(l_i − max) in double. finite is false when any logit is NaN or ±Inf (a broken
 * model): callers must then report an error instead of using the other fields. */
typedef struct ppl_row {
    float max_logit;
    int32_t imax;
    double sum_exp;
    bool finite;
} ppl_row;

void ppl_row_scan(const float *logits, int32_t n_vocab, ppl_row *r);

/* −log softmax(logits)[tok] in double: max + log(sum_exp) − logits[tok] (nats, >= 0). */
double ppl_row_nll(const ppl_row *r, const float *logits, int32_t tok);

/* ---- PPL accumulator ------------------------------------------------------------------ */

typedef struct ppl_nll_acc {
    double sum, sum2; /* Σ nll, Σ nll² */
    uint64_t n;
} ppl_nll_acc;

void ppl_nll_acc_add(ppl_nll_acc *a, double nll);
/* PPL = exp(m), m = Σnll/N; *unc = PPL·sqrt((Σnll²/N − m²)/(N−1)) (0 when N < 2 or the
 * variance is not positive); *mean_nll = m. N = 0 gives PPL = NaN. */
double ppl_nll_acc_ppl(const ppl_nll_acc *a, double *unc, double *mean_nll);

/* ---- KL divergence against a base record ---------------------------------------------- */

/* The figures of one scored token in --kl-divergence mode. */
typedef struct ppl_kld_token {
    float nll;        /* −log q(tok) in float, as llama.cpp accumulates it */
    double nll_exact; /* the same in double (for the exact-NLL figures) */
    float nll_base;   /* −(scale·q[tok] + min_log_prob) from the 16-bit record */
    double kld;       /* Σ_{log p_B,i > −16} p_B,i (log p_B,i − log q_i), nats */
    float dp;         /* exp(−nll) − exp(−nll_base) */
    bool same_top;    /* argmax of the logits == argmax of the base record */
    bool finite;      /* false when the logits hold NaN/Inf */
} ppl_kld_token;

/* logits: n_vocab floats of the evaluated model; rec: one base record (ppl_logits.h layout:
 * float scale, float min_log_prob, then n_vocab uint16, all native-endian); tok: the token
 * being predicted (0 <= tok < n_vocab). */
void ppl_kld_token_eval(const float *logits, int32_t n_vocab, const uint16_t *rec, int32_t tok,
                        ppl_kld_token *t);

/* Running sums over scored tokens (llama.cpp's kl_divergence_result), plus the sums used
 * by the exact-NLL figures when the base model's unclipped NLLs are known (sidecar .nll). */
typedef struct ppl_kld_acc {
    double sum_nll, sum_nll2, sum_nll_base, sum_nll_base2, sum_nll_nll_base;
    double sum_kld, sum_kld2;
    double sum_dp, sum_dp2, sum_dp4;
    float max_dp;
    uint64_t n_same_top, count;
    /* exact-NLL sums: x = nll_exact of Q, y = exact NLL of the base */
    double ex_sum_x, ex_sum_x2, ex_sum_y, ex_sum_y2, ex_sum_xy;
    uint64_t ex_count;
} ppl_kld_acc;

/* Add one token; base_exact is the base model's exact NLL of the same token, or NaN when
 * unknown (then the exact sums are left alone). */
void ppl_kld_acc_add(ppl_kld_acc *a, const ppl_kld_token *t, double base_exact);
void ppl_kld_acc_merge(ppl_kld_acc *into, const ppl_kld_acc *from);

/* ---- statistics helpers --------------------------------------------------------------- */

typedef struct ppl_mu {
    double f, df; /* mean and its standard error */
} ppl_mu;

ppl_mu ppl_mean_and_unc(double sum, double sum2, uint64_t n);
double ppl_covariance(double suma, double sumb, double sumab, uint64_t n);

/* Percentile of ascending-sorted values (n >= 1), fraction in [0, 1]; llama.cpp's float
 * linear interpolation: p = f·(n−1), (1−frac)·v[ip] + frac·v[ip+1]. */
float ppl_percentile(const float *sorted, size_t n, float fraction);
/* Median of ascending-sorted values (n >= 1). */
float ppl_median(const float *sorted, size_t n);
void ppl_sort_floats(float *v, size_t n);

/* Pearson correlation of x and y (n pairs, sample formula); NaN when n < 2 or a variance
 * is zero. */
double ppl_pearson(const double *x, const double *y, size_t n);
/* Mean of x and its standard error sd/sqrt(n) with the (n−1) sample sd; se = 0 for n < 2. */
void ppl_mean_se(const double *x, size_t n, double *mean, double *se);

/* ---- the three final blocks of --kl-divergence ---------------------------------------- */

typedef struct ppl_kld_exact {
    double ppl_base, ppl_ratio, ppl_ratio_unc, mean_ln_ratio, mean_ln_ratio_unc, cor_ln_ppl;
} ppl_kld_exact;

/* Every figure llama.cpp prints (and the team JSON interface names), fractions not %. */
typedef struct ppl_kld_summary {
    uint64_t n;
    double ppl_q, ppl_q_unc, ppl_base, ppl_base_unc, cor_ln_ppl;
    double mean_ln_ratio, mean_ln_ratio_unc, ppl_ratio, ppl_ratio_unc, ppl_diff, ppl_diff_unc;
    double mean_kld, mean_kld_unc;
    double kld_max, kld_p99_9, kld_p99, kld_p95, kld_p90, kld_median, kld_p10, kld_p5, kld_p1,
        kld_p0_1, kld_min;
    double mean_dp, mean_dp_unc;
    double dp_max, dp_p99_9, dp_p99, dp_p95, dp_p90, dp_p75, dp_median, dp_p25, dp_p10, dp_p5,
        dp_p1, dp_p0_1, dp_min;
    double rms_dp, rms_dp_unc, same_top, same_top_unc;
    bool has_percentiles; /* set by ppl_kld_summarize */
    bool has_exact;       /* exact-NLL figures valid (ex_count == count > 0) */
    ppl_kld_exact exact;
} ppl_kld_summary;

/* The figures that depend on the sums only (used for the running per-chunk line too). */
void ppl_kld_summary_from_acc(const ppl_kld_acc *a, ppl_kld_summary *s);
/* All figures: the sums plus the percentiles of the per-token KLD and Δp values (n of each;
 * both arrays are sorted in place). */
void ppl_kld_summarize(const ppl_kld_acc *a, float *kld_values, float *dp_values, size_t n,
                       ppl_kld_summary *s);

#endif
