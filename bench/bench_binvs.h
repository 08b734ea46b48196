/*
 * bench_binvs.h — qk-bench --binary-vs PATH: every test also on another qkit build's
 * qk-bench (another commit), the repetitions of the two builds interleaved (ABBA, as
 * bench_vs.h), so that machine drift during the test falls on both builds.
 *
 * This build's side runs in this process (one warm-up, then one repetition at a time).
 * The other build's repetition r runs as a child process:
 *   PATH -m MODEL -p P -n G -b B -t T -r 1 -o none --output-file TMP.json
 *        [-pg P,G for a ppN+tgM test] [-d D, -ub U when set] [--no-roofline --no-peak
 *        when PATH's --help lists them]
 * whose own warm-up and model load stay outside its timed repetition; its samples_ns[0] is
 * the repetition's time, and its build_commit labels its records. Errors: PATH cannot run
 * or fails (its log's last line quoted), its output lacks samples_ns.
 */
#ifndef QK_BENCH_BINVS_H
#define QK_BENCH_BINVS_H

#include "bench_run.h"

/* Run test t on ma here and on `path` (the other build's qk-bench), reps repetitions each,
 * interleaved; *out_a and *out_b filled as qk_bench_run_test fills its result (out_b's
 * model facts are this build's reading of the same file; its build_commit the other's).
 * progress as qk_bench_run_pair's. On error neither result holds anything to free. */
int qk_bench_run_binary_pair(const qk_model *ma, const char *path, const qk_bench_test *t, int reps, bool profile,
                             qk_bench_progress_fn progress, void *user, qk_bench_result *out_a,
                             qk_bench_result *out_b, qk_err *err);

#endif
