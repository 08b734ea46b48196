/*
 * ppl_stats.c — log-softmax, NLL, per-token KLD, accumulators and summary statistics for
 * qk-perplexity. See ppl_stats.h for the formulas and their source (llama.cpp's
 * examples/perplexity/perplexity.cpp; llama-cpp-reference.md §1b).
 *
 * Invariant kept: the float/double split of every quantity mirrors llama.cpp's so that the
 * printed figures agree with its logs digit for digit on identical logits.
 */
#include "ppl_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ppl_simd.h"

void ppl_row_scan(const float *logits, int32_t n_vocab, ppl_row *r) {
    if (ppl_simd_enabled()) {
        r->finite = ppl_simd_row_scan(logits, n_vocab, &r->max_logit, &r->imax, &r->sum_exp);
        return;
    }
    float mx = logits[0];
    int32_t imax = 0;
    bool finite = isfinite(logits[0]);
    for (int32_t i = 1; i < n_vocab; i++) {
        const float l = logits[i];
        if (!isfinite(l)) finite = false;
        if (l > mx) {
            mx = l;
            imax = i;
        }
    }
    double sum = 0.0;
    if (finite) {
        for (int32_t i = 0; i < n_vocab; i++) sum += expf(logits[i] - mx);
    }
    r->max_logit = mx;
    r->imax = imax;
    r->sum_exp = sum;
    r->finite = finite;
}

double ppl_row_nll(const ppl_row *r, const float *logits, int32_t tok) {
    return (double)r->max_logit + log(r->sum_exp) - (double)logits[tok];
}

void ppl_nll_acc_add(ppl_nll_acc *a, double nll) {
    a->sum += nll;
    a->sum2 += nll * nll;
    a->n++;
}

double ppl_nll_acc_ppl(const ppl_nll_acc *a, double *unc, double *mean_nll) {
    if (a->n == 0) {
        if (unc) *unc = NAN;
        if (mean_nll) *mean_nll = NAN;
        return NAN;
    }
    const double m = a->sum / (double)a->n;
    const double ppl = exp(m);
    double v = a->sum2 / (double)a->n - m * m;
    double u = 0.0;
    if (v > 0 && a->n > 1) u = ppl * sqrt(v / (double)(a->n - 1));
    if (unc) *unc = u;
    if (mean_nll) *mean_nll = m;
    return ppl;
}

void ppl_kld_token_eval(const float *logits, int32_t n_vocab, const uint16_t *rec, int32_t tok,
                        ppl_kld_token *t) {
    ppl_row r;
    ppl_row_scan(logits, n_vocab, &r);
    memset(t, 0, sizeof *t);
    t->finite = r.finite;
    if (!r.finite) return;

    float scale, min_log_prob;
    memcpy(&scale, rec, sizeof scale);
    memcpy(&min_log_prob, rec + 2, sizeof min_log_prob);
    const uint16_t *q = rec + 4;

    const float log_sum_exp = (float)log(r.sum_exp);
    t->nll = r.max_logit + log_sum_exp - logits[tok];
    t->nll_exact = ppl_row_nll(&r, logits, tok);
    t->nll_base = -(scale * q[tok] + min_log_prob);

    /* log q_i = logits[i] − (max + log Σexp) */
    const float lse = r.max_logit + log_sum_exp;
    double sum = 0.0;
    int32_t imax_base = 0;
    if (ppl_simd_enabled()) {
        sum = ppl_simd_kld_sum(logits, q, n_vocab, scale, min_log_prob, lse, &imax_base);
    } else {
        float p_log_base_max = 0.0f;
        for (int32_t i = 0; i < n_vocab; i++) {
            const float p_log_base = scale * q[i] + min_log_prob;
            if (i == 0 || p_log_base > p_log_base_max) {
                p_log_base_max = p_log_base;
                imax_base = i;
            }
            if (p_log_base > -16.0f) {
                const float p_base = expf(p_log_base);
                sum += p_base * (p_log_base - logits[i] + lse);
            }
        }
    }
    t->kld = sum;
    t->same_top = (r.imax == imax_base);
    const float p_base = expf(-t->nll_base);
    const float p = expf(-t->nll);
    t->dp = p - p_base;
}

void ppl_kld_acc_add(ppl_kld_acc *a, const ppl_kld_token *t, double base_exact) {
    a->sum_nll += t->nll;
    a->sum_nll2 += t->nll * t->nll;
    a->sum_nll_base += t->nll_base;
    a->sum_nll_base2 += t->nll_base * t->nll_base;
    a->sum_nll_nll_base += t->nll * t->nll_base;
    a->sum_kld += t->kld;
    a->sum_kld2 += t->kld * t->kld;
    a->sum_dp += t->dp;
    const double dp2 = t->dp * t->dp; /* float product, as llama.cpp */
    a->sum_dp2 += dp2;
    a->sum_dp4 += dp2 * dp2;
    const float adp = fabsf(t->dp);
    if (adp > a->max_dp) a->max_dp = adp;
    if (t->same_top) a->n_same_top++;
    a->count++;
    if (!isnan(base_exact)) {
        const double x = t->nll_exact, y = base_exact;
        a->ex_sum_x += x;
        a->ex_sum_x2 += x * x;
        a->ex_sum_y += y;
        a->ex_sum_y2 += y * y;
        a->ex_sum_xy += x * y;
        a->ex_count++;
    }
}

void ppl_kld_acc_merge(ppl_kld_acc *into, const ppl_kld_acc *from) {
    into->sum_nll += from->sum_nll;
    into->sum_nll2 += from->sum_nll2;
    into->sum_nll_base += from->sum_nll_base;
    into->sum_nll_base2 += from->sum_nll_base2;
    into->sum_nll_nll_base += from->sum_nll_nll_base;
    into->sum_kld += from->sum_kld;
    into->sum_kld2 += from->sum_kld2;
    into->sum_dp += from->sum_dp;
    into->sum_dp2 += from->sum_dp2;
    into->sum_dp4 += from->sum_dp4;
    if (from->max_dp > into->max_dp) into->max_dp = from->max_dp;
    into->n_same_top += from->n_same_top;
    into->count += from->count;
    into->ex_sum_x += from->ex_sum_x;
    into->ex_sum_x2 += from->ex_sum_x2;
    into->ex_sum_y += from->ex_sum_y;
    into->ex_sum_y2 += from->ex_sum_y2;
    into->ex_sum_xy += from->ex_sum_xy;
    into->ex_count += from->ex_count;
}

ppl_mu ppl_mean_and_unc(double sum, double sum2, uint64_t n) {
    ppl_mu r = {0.0, 0.0};
    if (n < 1) return r;
    r.f = sum / (double)n;
    double df = sum2 / (double)n - r.f * r.f;
    r.df = (df > 0 && n > 10) ? sqrt(df / (double)(n - 1)) : 0.0;
    return r;
}

double ppl_covariance(double suma, double sumb, double sumab, uint64_t n) {
    if (n < 10) return 0.0;
    const double dn = (double)n;
    return (sumab / dn - (suma / dn) * (sumb / dn)) / (dn - 1);
}

float ppl_percentile(const float *sorted, size_t n, float fraction) {
    if (fraction <= 0) return sorted[0];
    if (fraction >= 1) return sorted[n - 1];
    float p = fraction * (float)(n - 1);
    size_t ip = (size_t)p;
    p -= (float)ip;
    const size_t ip1 = ip + 1 < n ? ip + 1 : n - 1;
    return (1 - p) * sorted[ip] + p * sorted[ip1];
}

float ppl_median(const float *sorted, size_t n) {
    if (n % 2 == 0) return 0.5f * (sorted[n / 2] + sorted[n / 2 - 1]);
    return sorted[n / 2];
}

static int cmp_float(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void ppl_sort_floats(float *v, size_t n) {
    if (n > 1) qsort(v, n, sizeof *v, cmp_float);
}

double ppl_pearson(const double *x, const double *y, size_t n) {
    if (n < 2) return NAN;
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxx = 0, syy = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        const double dx = x[i] - mx, dy = y[i] - my;
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    if (sxx <= 0 || syy <= 0) return NAN;
    return sxy / sqrt(sxx * syy);
}

void ppl_mean_se(const double *x, size_t n, double *mean, double *se) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m += x[i];
    m = n ? m / (double)n : NAN;
    double s = 0;
    if (n >= 2) {
        double ss = 0;
        for (size_t i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
        s = sqrt(ss / (double)(n - 1)) / sqrt((double)n);
    }
    *mean = m;
    *se = s;
}

void ppl_kld_summary_from_acc(const ppl_kld_acc *a, ppl_kld_summary *s) {
    memset(s, 0, sizeof *s);
    const uint64_t n = a->count;
    s->n = n;
    if (n == 0) return;

    const ppl_mu lq = ppl_mean_and_unc(a->sum_nll, a->sum_nll2, n);
    const ppl_mu lb = ppl_mean_and_unc(a->sum_nll_base, a->sum_nll_base2, n);
    s->ppl_q = exp(lq.f);
    s->ppl_q_unc = s->ppl_q * lq.df;
    s->ppl_base = exp(lb.f);
    s->ppl_base_unc = s->ppl_base * lb.df;
    const double cov = ppl_covariance(a->sum_nll, a->sum_nll_base, a->sum_nll_nll_base, n);
    s->cor_ln_ppl = cov / (lq.df * lb.df);
    s->mean_ln_ratio = lq.f - lb.f;
    s->mean_ln_ratio_unc = sqrt(lq.df * lq.df + lb.df * lb.df - 2.0 * cov);
    s->ppl_ratio = exp(s->mean_ln_ratio);
    s->ppl_ratio_unc = s->ppl_ratio * s->mean_ln_ratio_unc;
    const double ppl_cov = s->ppl_q * s->ppl_base * cov;
    s->ppl_diff = s->ppl_q - s->ppl_base;
    s->ppl_diff_unc = sqrt(s->ppl_q_unc * s->ppl_q_unc + s->ppl_base_unc * s->ppl_base_unc -
                           2.0 * ppl_cov);

    const ppl_mu kl = ppl_mean_and_unc(a->sum_kld, a->sum_kld2, n);
    s->mean_kld = kl.f;
    s->mean_kld_unc = kl.df;

    const ppl_mu dp = ppl_mean_and_unc(a->sum_dp, a->sum_dp2, n);
    s->mean_dp = dp.f;
    s->mean_dp_unc = dp.df;
    const ppl_mu mse = ppl_mean_and_unc(a->sum_dp2, a->sum_dp4, n);
    s->rms_dp = sqrt(mse.f);
    s->rms_dp_unc = s->rms_dp > 0 ? 0.5 / s->rms_dp * mse.df : 0.0;
    s->same_top = (double)a->n_same_top / (double)n;
    s->same_top_unc = n > 1 ? sqrt(s->same_top * (1.0 - s->same_top) / (double)(n - 1)) : 0.0;

    if (a->ex_count == n) {
        const ppl_mu ex = ppl_mean_and_unc(a->ex_sum_x, a->ex_sum_x2, n);
        const ppl_mu ey = ppl_mean_and_unc(a->ex_sum_y, a->ex_sum_y2, n);
        const double ecov = ppl_covariance(a->ex_sum_x, a->ex_sum_y, a->ex_sum_xy, n);
        s->has_exact = true;
        s->exact.ppl_base = exp(ey.f);
        s->exact.mean_ln_ratio = ex.f - ey.f;
        s->exact.mean_ln_ratio_unc = sqrt(ex.df * ex.df + ey.df * ey.df - 2.0 * ecov);
        s->exact.ppl_ratio = exp(s->exact.mean_ln_ratio);
        s->exact.ppl_ratio_unc = s->exact.ppl_ratio * s->exact.mean_ln_ratio_unc;
        s->exact.cor_ln_ppl = ecov / (ex.df * ey.df);
    }
}

void ppl_kld_summarize(const ppl_kld_acc *a, float *kld_values, float *dp_values, size_t n,
                       ppl_kld_summary *s) {
    ppl_kld_summary_from_acc(a, s);
    if (n == 0) return;
    ppl_sort_floats(kld_values, n);
    ppl_sort_floats(dp_values, n);
    const float *k = kld_values, *d = dp_values;
    s->kld_max = k[n - 1];
    s->kld_p99_9 = ppl_percentile(k, n, 0.999f);
    s->kld_p99 = ppl_percentile(k, n, 0.990f);
    s->kld_p95 = ppl_percentile(k, n, 0.950f);
    s->kld_p90 = ppl_percentile(k, n, 0.900f);
    s->kld_median = ppl_median(k, n);
    s->kld_p10 = ppl_percentile(k, n, 0.100f);
    s->kld_p5 = ppl_percentile(k, n, 0.050f);
    s->kld_p1 = ppl_percentile(k, n, 0.010f);
    s->kld_p0_1 = ppl_percentile(k, n, 0.001f);
    s->kld_min = k[0];
    s->dp_max = d[n - 1];
    s->dp_p99_9 = ppl_percentile(d, n, 0.999f);
    s->dp_p99 = ppl_percentile(d, n, 0.990f);
    s->dp_p95 = ppl_percentile(d, n, 0.950f);
    s->dp_p90 = ppl_percentile(d, n, 0.900f);
    s->dp_p75 = ppl_percentile(d, n, 0.750f);
    s->dp_median = ppl_median(d, n);
    s->dp_p25 = ppl_percentile(d, n, 0.250f);
    s->dp_p10 = ppl_percentile(d, n, 0.100f);
    s->dp_p5 = ppl_percentile(d, n, 0.050f);
    s->dp_p1 = ppl_percentile(d, n, 0.010f);
    s->dp_p0_1 = ppl_percentile(d, n, 0.001f);
    s->dp_min = d[0];
    s->has_percentiles = true;
}
