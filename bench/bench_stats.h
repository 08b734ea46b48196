/*
 * bench_stats.h — the statistics qk-bench reports, as llama-bench computes them
 * (examples/llama-bench/llama-bench.cpp [U]: avg(), stdev(); llama-cpp-reference.md §1c):
 *
 *   per repetition k:  ts_k = n_tokens * 1e9 / ns_k            (tokens per second)
 *   t/s  = mean(ts_k)                                          (NOT n_tokens / mean(ns))
 *   ±    = sample standard deviation sqrt(Σ(x−mean)² / (n−1)), 0 when n <= 1
 *   avg_ns, stddev_ns: the same two statistics over the raw times, rounded to integers.
 *
 * The standard deviation is computed with the two-pass formula in double precision
 * (llama-bench's one-pass uint64 form overflows for multi-second samples).
 */
#ifndef QK_BENCH_STATS_H
#define QK_BENCH_STATS_H

#include <stdint.h>

/* Arithmetic mean; 0 for n <= 0. */
double qk_bench_mean(const double *x, int n);
/* Sample standard deviation (n−1 denominator); 0 for n <= 1. */
double qk_bench_stdev(const double *x, int n);

/* Tokens per second of one sample: n_tokens * 1e9 / ns (0 when ns == 0). */
double qk_bench_ts(int n_tokens, uint64_t ns);

/* Summary of one test's raw samples. */
typedef struct qk_bench_summary {
    uint64_t avg_ns;    /* mean of samples_ns, rounded */
    uint64_t stddev_ns; /* sample sd of samples_ns, rounded */
    double avg_ts;      /* mean of ts_k */
    double stddev_ts;   /* sample sd of ts_k */
} qk_bench_summary;

qk_bench_summary qk_bench_summarize(const uint64_t *samples_ns, int n, int n_tokens);

#endif
