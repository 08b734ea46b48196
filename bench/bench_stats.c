/*
 * bench_stats.c — mean, sample standard deviation and the per-test summary of qk-bench.
 * Formulas and their source: bench_stats.h.
 */
#include "bench_stats.h"

#include <math.h>
#include <stdlib.h>

double qk_bench_mean(const double *x, int n) {
    if (n <= 0) return 0.0;
    double s = 0.0;
    for (int i = 0; i < n; i++) s += x[i];
    return s / n;
}

double qk_bench_stdev(const double *x, int n) {
    if (n <= 1) return 0.0;
    double m = qk_bench_mean(x, n);
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    return sqrt(ss / (n - 1));
}

double qk_bench_ts(int n_tokens, uint64_t ns) {
    if (ns == 0) return 0.0;
    return (double)n_tokens * 1e9 / (double)ns;
}

qk_bench_summary qk_bench_summarize(const uint64_t *samples_ns, int n, int n_tokens) {
    qk_bench_summary s = {0, 0, 0.0, 0.0};
    if (n <= 0) return s;
    double *ns = malloc(sizeof(double) * (size_t)n * 2);
    if (!ns) return s;
    double *ts = ns + n;
    for (int i = 0; i < n; i++) {
        ns[i] = (double)samples_ns[i];
        ts[i] = qk_bench_ts(n_tokens, samples_ns[i]);
    }
    s.avg_ns = (uint64_t)llround(qk_bench_mean(ns, n));
    s.stddev_ns = (uint64_t)llround(qk_bench_stdev(ns, n));
    s.avg_ts = qk_bench_mean(ts, n);
    s.stddev_ts = qk_bench_stdev(ts, n);
    free(ns);
    return s;
}
