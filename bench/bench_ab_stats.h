/*
 * bench_ab_stats.h — is NEW faster or slower than BASE? The ratio of two tests' rates with
 * a confidence interval, from their per-repetition rates (qk-bench-compare BASE NEW).
 *
 * Method: Welch's unequal-variance t interval on the difference of the mean log rates.
 *   x_i = ln(base ts_i), i = 1..n_a;   y_j = ln(new ts_j), j = 1..n_b
 *   d   = mean(y) − mean(x);           se² = s_x²/n_a + s_y²/n_b   (sample variances, n−1)
 *   df  = se⁴ / ((s_x²/n_a)²/(n_a−1) + (s_y²/n_b)²/(n_b−1))        (Welch–Satterthwaite)
 *   CI  = exp(d ± t_{(1+c)/2, df} · se)   for the ratio NEW/BASE = exp(d)
 *   p   = 2 · (1 − F_t(|d|/se; df))       (two-sided)
 * (B. L. Welch, Biometrika 34, 1947; F. E. Satterthwaite, Biometrics Bulletin 2, 1946.)
 *
 * Why logs: speed changes are multiplicative (a change makes every rate some percent
 * faster), rate noise on a shared machine is roughly proportional to the rate, and the
 * interval of a difference of logs maps exactly onto an interval of the ratio. Why Welch
 * and not a bootstrap: qk-bench runs few repetitions (5 by default), too few for a
 * percentile bootstrap to reach its nominal coverage, and the two sides may have different
 * noise (other jobs come and go), which Welch allows; its result is also deterministic,
 * so a gate decides the same way on the same files.
 *
 * Summary-only inputs (llama-bench CSV has no per-repetition rates): the mean log rate is
 * taken as ln(avg_ts) and its standard deviation as stddev_ts / avg_ts (first-order delta
 * method), with the repetition count given by the caller; qk-bench-compare says so.
 *
 * Student's t distribution: F_t through the regularized incomplete beta function,
 * I_x(a, b) by its continued fraction (modified Lentz), and the quantile by bisection on F_t;
 * accurate to ~1e-10 for df >= 0.5.
 */
#ifndef QK_BENCH_AB_STATS_H
#define QK_BENCH_AB_STATS_H

#include <stdbool.h>

typedef enum qk_bench_verdict {
    QK_BENCH_SAME = 0,    /* the interval contains 1: no significant change */
    QK_BENCH_FASTER,      /* the whole interval is above 1 */
    QK_BENCH_SLOWER,      /* the whole interval is below 1 */
    QK_BENCH_UNTESTED,    /* fewer than 2 repetitions on a side, or a rate <= 0 */
} qk_bench_verdict;

/* "faster", "slower", "no significant change", "untested". */
const char *qk_bench_verdict_name(qk_bench_verdict v);

typedef struct qk_bench_ab {
    qk_bench_verdict verdict;
    double ratio;      /* NEW/BASE = exp(d) (also set when untested, from the means) */
    double lo, hi;     /* confidence interval of the ratio (= ratio when untested) */
    double p;          /* two-sided p value (1 when untested) */
    double df;         /* Welch's degrees of freedom (0 when untested) */
} qk_bench_ab;

/* From the mean and sample standard deviation of each side's log rates and its count.
 * confidence in (0, 1), e.g. 0.95. With se = 0 (both sides constant) the interval is the
 * point and the verdict follows the sign of d. */
qk_bench_ab qk_bench_ab_from_logs(double mean_a, double sd_a, int n_a, double mean_b, double sd_b, int n_b,
                                  double confidence);
/* From per-repetition rates (tokens/s) of BASE (a) and NEW (b). A rate <= 0 makes the
 * result untested (ratio 0). */
qk_bench_ab qk_bench_ab_from_rates(const double *a, int n_a, const double *b, int n_b, double confidence);
/* From summary statistics (mean and sample sd of the rates, repetition counts), as above. */
qk_bench_ab qk_bench_ab_from_summary(double avg_a, double sd_a, int n_a, double avg_b, double sd_b, int n_b,
                                     double confidence);

/* Student's t: CDF at t with df > 0 degrees of freedom, and the quantile for p in (0, 1). */
double qk_bench_t_cdf(double t, double df);
double qk_bench_t_quantile(double p, double df);

#endif
