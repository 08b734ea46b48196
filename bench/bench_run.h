/*
 * bench_run.h — running one qk-bench test on a loaded model, as llama-bench does it
 * (examples/llama-bench/llama-bench.cpp [U]: main loop, test_prompt, test_gen;
 * llama-cpp-reference.md §1c):
 *
 *   - a fresh qk_context per test, n_ctx = n_depth + n_prompt + n_gen, one sequence, the
 *     test's thread count; model loading is not timed (the caller loads once per model);
 *   - depth (llama-bench -d, tests named "pp512 @ d4096"): before each repetition and the
 *     warm-up, n_depth pseudo-random tokens are decoded at positions 0..n_depth-1 into the
 *     cleared cache, untimed and not profiled; the timed parts follow at the positions
 *     after them;
 *   - prompt part: n_prompt tokens decoded in batches of at most n_batch (of n_ubatch when
 *     given and smaller: qkit has no physical batch of its own, so -ub sets the size of the
 *     decode calls), positions n_depth.., only the last token's logits computed (like
 *     llama_batch_get_one);
 *     the first token is BOS when the vocabulary adds BOS, the others pseudo-random;
 *   - generation part: n_gen single-token decodes, each waiting for its logits, at the
 *     positions after the prompt part (from an empty cache for a tgN test); the first
 *     token is BOS when the vocabulary adds BOS, the rest pseudo-random;
 *   - warm-up (not timed): the full prompt part if n_prompt > 0, then one generation
 *     token if n_gen > 0;
 *   - then `reps` timed repetitions (CLOCK_MONOTONIC, ns), each starting from a cleared
 *     KV cache and timing prompt + generation together.
 *
 * Test-only slowdown: QK_BENCH_TEST_DELAY_US=N (0..1000000) sleeps N microseconds per
 * decoded token after each decode call (the depth fill too), a known slowdown with which
 * to check a regression gate (bench/ci-gate.sh --new-env) end to end. Unset in real runs.
 *
 * Pseudo-random tokens: llama-bench uses std::rand() % n_vocab without seeding. qkit uses
 * its own fixed-seed generator (splitmix64, reseeded per test), so a test's token stream
 * is the same on every run and does not depend on which tests ran before. The values do
 * not matter for speed; only their determinism does.
 */
#ifndef QK_BENCH_RUN_H
#define QK_BENCH_RUN_H

#include "bench_matrix.h"
#include "error.h"
#include "model.h"

/* Called on each phase of a test: phase is "warmup" or "rep"; rep is 1-based for "rep"
 * (0 for warmup). */
typedef void (*qk_bench_progress_fn)(void *user, const qk_bench_test *t, const char *phase,
                                     int rep, int reps);

/* Run test t on model m with `reps` >= 1 repetitions and fill *out (model facts, start
 * time, samples, the peak RSS during the test (bench_sysinfo.h); with `profile`,
 * out->profile summed over the timed repetitions, not the warm-up). Errors: context creation (e.g. not enough memory for n_ctx) and any
 * qk_decode failure, with the test named in the message. On error *out holds nothing to
 * free. */
int qk_bench_run_test(const qk_model *m, const qk_bench_test *t, int reps, bool profile,
                      qk_bench_progress_fn progress, void *user, qk_bench_result *out,
                      qk_err *err);

/* The same in steps, so that the repetitions of two tests can alternate (qk-bench --vs):
 * open validates the test, creates the context and runs the warm-up; rep runs timed
 * repetition r (0 <= r < reps, each once); close fills *out as qk_bench_run_test does
 * (out NULL: discard) and frees the session (NULL is fine). Errors as above; after a
 * failed open there is nothing to close, after a failed rep the caller closes. */
typedef struct qk_bench_session qk_bench_session;
int qk_bench_session_open(const qk_model *m, const qk_bench_test *t, int reps, bool profile, qk_bench_session **out,
                          qk_err *err);
int qk_bench_session_rep(qk_bench_session *s, int r, qk_err *err);
void qk_bench_session_close(qk_bench_session *s, qk_bench_result *out);

/* The deterministic token generator: next value of state, mapped to [0, n_vocab). */
int32_t qk_bench_next_token(uint64_t *state, int32_t n_vocab);

#endif
