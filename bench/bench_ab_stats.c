/*
 * bench_ab_stats.c — Welch's t interval on log rates and Student's t distribution.
 * Method, formulas and their sources: bench_ab_stats.h.
 */
#include "bench_ab_stats.h"

#include <math.h>

const char *qk_bench_verdict_name(qk_bench_verdict v) {
    switch (v) {
    case QK_BENCH_FASTER: return "faster";
    case QK_BENCH_SLOWER: return "slower";
    case QK_BENCH_SAME: return "no significant change";
    default: return "untested";
    }
}

/* Continued fraction of the incomplete beta function (modified Lentz). */
static double beta_cf(double a, double b, double x) {
    const double tiny = 1e-300, eps = 1e-15;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (fabs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 1000; m++) {
        const double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((a - 1.0 + m2) * (a + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1.0 + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        const double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < eps) break;
    }
    return h;
}

/* Regularized incomplete beta I_x(a, b), x in [0, 1]. */
static double beta_inc(double a, double b, double x) {
    if (x <= 0.0) return 0.0;
    if (x >= 1.0) return 1.0;
    const double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    if (x < (a + 1.0) / (a + b + 2.0)) return front * beta_cf(a, b, x) / a;
    return 1.0 - front * beta_cf(b, a, 1.0 - x) / b;
}

double qk_bench_t_cdf(double t, double df) {
    if (isnan(t) || !(df > 0)) return NAN;
    if (isinf(t)) return t > 0 ? 1.0 : 0.0;
    const double tail = 0.5 * beta_inc(df / 2.0, 0.5, df / (df + t * t));
    return t > 0 ? 1.0 - tail : tail;
}

double qk_bench_t_quantile(double p, double df) {
    if (!(p > 0.0 && p < 1.0) || !(df > 0)) return NAN;
    if (p == 0.5) return 0.0;
    if (p < 0.5) return -qk_bench_t_quantile(1.0 - p, df);
    double lo = 0.0, hi = 1.0;
    while (qk_bench_t_cdf(hi, df) < p && hi < 1e300) hi *= 2.0;
    for (int i = 0; i < 400 && hi - lo > 1e-12 * hi; i++) {
        const double mid = 0.5 * (lo + hi);
        if (qk_bench_t_cdf(mid, df) < p) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

static qk_bench_ab untested(double ratio) {
    return (qk_bench_ab){QK_BENCH_UNTESTED, ratio, ratio, ratio, 1.0, 0.0};
}

qk_bench_ab qk_bench_ab_from_logs(double mean_a, double sd_a, int n_a, double mean_b, double sd_b, int n_b,
                                  double confidence) {
    const double d = mean_b - mean_a;
    if (n_a < 2 || n_b < 2 || !isfinite(d) || !(confidence > 0 && confidence < 1)) return untested(exp(d));
    const double va = sd_a * sd_a / n_a, vb = sd_b * sd_b / n_b;
    const double se = sqrt(va + vb);
    qk_bench_ab r = {QK_BENCH_SAME, exp(d), exp(d), exp(d), 1.0, 0.0};
    if (!(se > 0)) {
        r.df = n_a + n_b - 2;
        r.p = d == 0 ? 1.0 : 0.0;
        r.verdict = d > 0 ? QK_BENCH_FASTER : d < 0 ? QK_BENCH_SLOWER : QK_BENCH_SAME;
        return r;
    }
    const double den = (va > 0 ? va * va / (n_a - 1) : 0) + (vb > 0 ? vb * vb / (n_b - 1) : 0);
    r.df = (se * se) * (se * se) / den;
    const double tq = qk_bench_t_quantile(0.5 + confidence / 2.0, r.df);
    r.lo = exp(d - tq * se);
    r.hi = exp(d + tq * se);
    r.p = 2.0 * (1.0 - qk_bench_t_cdf(fabs(d) / se, r.df));
    r.verdict = r.lo > 1.0 ? QK_BENCH_FASTER : r.hi < 1.0 ? QK_BENCH_SLOWER : QK_BENCH_SAME;
    return r;
}

/* Mean and sample sd of ln(x[i]); false when a rate is not > 0. */
static bool log_stats(const double *x, int n, double *mean, double *sd) {
    double s = 0;
    for (int i = 0; i < n; i++) {
        if (!(x[i] > 0) || !isfinite(x[i])) return false;
        s += log(x[i]);
    }
    *mean = n > 0 ? s / n : 0;
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (log(x[i]) - *mean) * (log(x[i]) - *mean);
    *sd = n > 1 ? sqrt(ss / (n - 1)) : 0;
    return n > 0;
}

qk_bench_ab qk_bench_ab_from_rates(const double *a, int n_a, const double *b, int n_b, double confidence) {
    double ma, sa, mb, sb;
    if (!log_stats(a, n_a, &ma, &sa) || !log_stats(b, n_b, &mb, &sb)) return untested(0.0);
    return qk_bench_ab_from_logs(ma, sa, n_a, mb, sb, n_b, confidence);
}

qk_bench_ab qk_bench_ab_from_summary(double avg_a, double sd_a, int n_a, double avg_b, double sd_b, int n_b,
                                     double confidence) {
    if (!(avg_a > 0) || !(avg_b > 0) || !isfinite(avg_a) || !isfinite(avg_b)) return untested(0.0);
    return qk_bench_ab_from_logs(log(avg_a), sd_a / avg_a, n_a, log(avg_b), sd_b / avg_b, n_b, confidence);
}
