/*
 * bench_vs.h — qk-bench -m A.gguf --vs B.gguf: every test on two models with their
 * repetitions interleaved (A B, B A, A B, ...: ABBA order, so that a drift of the machine
 * during the test, and the cost of going first, fall on both sides), and the comparison
 * of the two (bench_regress.h: B / A per test, Welch's t interval on the log rates).
 */
#ifndef QK_BENCH_VS_H
#define QK_BENCH_VS_H

#include "bench_compare.h"
#include "bench_run.h"

/* Run test t (its model field: A's path) on ma and, as path_b, on mb, with reps timed
 * repetitions each, interleaved as above; both warm-ups come first. *out_a and *out_b are
 * filled as qk_bench_run_test fills its result (out_b->test.model = path_b). progress, when
 * not NULL, is called with "warmup" once and "rep" once per pair of repetitions. Errors as
 * qk_bench_run_test's; on error neither result holds anything to free. */
int qk_bench_run_pair(const qk_model *ma, const qk_model *mb, const char *path_b, const qk_bench_test *t, int reps,
                      bool profile, qk_bench_progress_fn progress, void *user, qk_bench_result *out_a,
                      qk_bench_result *out_b, qk_err *err);

/* Append a result to a comparison set (bench_compare.h), its samples as rates; the set's
 * build_commit (r's own, else `build_commit`) and cpu_info are those of its first record. */
int qk_bench_vs_add(qk_bench_cmp_set *s, const qk_bench_result *r, const char *build_commit, const char *cpu_info,
                    qk_err *err);

/* The markdown comparison of the paired records of a (the -m models) and b (--vs), B / A
 * at `confidence`, after a blank line. Nothing when the sets are empty. */
void qk_bench_vs_render_md(qk_sb *out, const qk_bench_cmp_set *a, const qk_bench_cmp_set *b, const char *name_a,
                           const char *name_b, double confidence);

#endif
