/*
 * bench_regress.h — qk-bench-compare BASE NEW: per test, NEW's rate over BASE's with a
 * confidence interval and a verdict (bench_ab_stats.h: Welch's t on log rates), the
 * markdown table for pull requests, the --fail-above gate and the ratio chart.
 *
 * Inputs are two qk_bench_cmp_set (bench_compare.h: qk-bench or llama-bench CSV, JSON or
 * JSON Lines). A record's side of the test uses its samples_ts when it has them, else its
 * avg_ts and stddev_ts with an assumed repetition count (llama-bench CSV; see
 * bench_ab_stats.h), and the row says so ("summary").
 *
 * Pairing: a NEW record with the same n_prompt, n_gen, n_depth and n_threads, the same
 * n_batch and n_ubatch (a 0 — absent — matches any), and the same model file name without
 * directory (else the same model_type and model_n_params). Each record pairs at most once;
 * the rest are counted as unpaired.
 *
 * Gate: a test fails --fail-above PCT when its verdict is "slower" and its point estimate
 * is a slowdown of more than PCT percent (ratio < 1 − PCT/100). A significant slowdown
 * smaller than PCT, or a large one that is not significant, does not fail.
 */
#ifndef QK_BENCH_REGRESS_H
#define QK_BENCH_REGRESS_H

#include "bench_ab_stats.h"
#include "bench_compare.h"

typedef struct qk_bench_regress_row {
    int base, new_; /* record indices in the two sets */
    qk_bench_ab ab;
    bool summary;   /* a side had no samples_ts: summary statistics were used */
} qk_bench_regress_row;

typedef struct qk_bench_regress {
    qk_bench_regress_row *rows; /* malloc'd, in NEW's record order */
    int n;
    int n_unpaired_base, n_unpaired_new;
    int counts[4]; /* per qk_bench_verdict */
    double confidence;
    bool per_run; /* the samples are per-run means (qk_bench_regress_pool): the report says so */
} qk_bench_regress;

/* Pool the records of one test within a set: records with per-repetition rates, the same
 * model file name (without directory) and the same n_prompt, n_gen, n_depth, n_threads,
 * n_batch and n_ubatch become the first of them, with the samples concatenated and avg_ts
 * and stddev_ts recomputed from them (the runs of a gate that alternates two builds over
 * several rounds). Records without samples stay as they are. With run_means, each record
 * first becomes one sample, the geometric mean of its rates: the runs, not the
 * repetitions, are then the independent units (repetitions within one run share its
 * placement in memory, its frequency state and its neighbours, so they understate the
 * run-to-run spread); a test with a single run per side is then untested. Errors: out of
 * memory. */
int qk_bench_regress_pool(qk_bench_cmp_set *s, bool run_means, qk_err *err);

/* Pair and test every record. confidence in (0, 1); assume_reps >= 2 is the repetition
 * count of records without samples. Errors: out of memory, no pair at all (the message
 * names the first test of NEW). */
int qk_bench_regress_compute(const qk_bench_cmp_set *base, const qk_bench_cmp_set *new_, double confidence,
                             int assume_reps, qk_bench_regress *out, qk_err *err);
/* The same with record i of base paired with record i of new_ (equal counts; qk-bench
 * --vs, where the two models' file names differ). */
int qk_bench_regress_compute_paired(const qk_bench_cmp_set *base, const qk_bench_cmp_set *new_, double confidence,
                                    qk_bench_regress *out, qk_err *err);
void qk_bench_regress_free(qk_bench_regress *r);

/* Rows failing the gate (above); fail_above_pct < 0: none. */
int qk_bench_regress_failures(const qk_bench_regress *r, double fail_above_pct);

/* The report: a title, both sides (file, build, CPU), the method, then
 *   | model | test | threads | base t/s | new t/s | new / base | C % CI | p | verdict |
 * (ratio and interval to 3 decimals, t/s as mean ± sd), a summary line with the verdict
 * counts and unpaired records, and, with fail_above_pct >= 0, the gate's outcome naming
 * each failing test. */
void qk_bench_regress_render_md(qk_sb *out, const qk_bench_cmp_set *base, const qk_bench_cmp_set *new_,
                                const qk_bench_regress *r, const char *base_name, const char *new_name,
                                double fail_above_pct);

/* A gnuplot script (plot.h conventions, chart name `name`): one horizontal bar per row
 * from the interval's low to high end with the ratio marked, a line at 1 and, with
 * fail_above_pct >= 0, a dashed line at 1 − PCT/100. False (nothing appended) when there
 * is no row. */
bool qk_bench_regress_render_gp(qk_sb *out, const char *name, const qk_bench_cmp_set *new_,
                                const qk_bench_regress *r, double fail_above_pct);

/* github-action-benchmark's customBiggerIsBetter JSON (as qk-bench --ci-json) for the
 * paired tests of NEW: {"name": "<model> <test> t=<threads>", "unit": "t/s", "value": NEW's
 * mean t/s, "range": "± <sd>", "extra": "new / base R (C % CI LO–HI): VERDICT"}. */
void qk_bench_regress_render_cijson(qk_sb *out, const qk_bench_cmp_set *new_, const qk_bench_regress *r);

#endif
