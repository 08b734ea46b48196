/*
 * bench_matrix.h — qk-bench's test matrix: value lists, their cross-product into test
 * instances, and the result record of one test.
 *
 * llama-bench semantics (examples/llama-bench/llama-bench.cpp [U], get_cmd_params_instances;
 * llama-cpp-reference.md §1c): every parameter takes comma lists ("-t 1,2") and may be
 * repeated ("-t 1 -t 2"); the tool runs the full cross-product. Order of the loops, outer
 * to inner: model, n_batch, n_threads, then the tests — every -p value (a "ppN" test,
 * n_gen = 0; a value of 0 is skipped), every -n value ("tgN", n_prompt = 0; 0 skipped),
 * every -pg pair ("ppN+tgM").
 */
#ifndef QK_BENCH_MATRIX_H
#define QK_BENCH_MATRIX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bench_peak.h"
#include "bench_roofline.h"
#include "forward.h"
#include "error.h"

typedef struct qk_int_list {
    int *v;
    int n;
} qk_int_list;

/* Append one value. */
int qk_int_list_push(qk_int_list *l, int v, qk_err *err);
void qk_int_list_free(qk_int_list *l);

/* Parameters as given on the command line (every list non-empty after defaults). */
typedef struct qk_bench_params {
    const char **models; /* paths, as given */
    int n_models;
    qk_int_list n_prompt; /* default {512} */
    qk_int_list n_gen;    /* default {128} */
    qk_int_list pg;       /* pairs: pp0, tg0, pp1, tg1, ... (default empty) */
    qk_int_list n_batch;  /* default {2048} */
    qk_int_list n_threads;
    int reps;             /* default 5, >= 1 */
} qk_bench_params;

/* One test instance. */
typedef struct qk_bench_test {
    const char *model; /* points into qk_bench_params.models */
    int model_index;
    int n_prompt;
    int n_gen;
    int n_batch;
    int n_threads;
} qk_bench_test;

/* Expand the cross-product in llama-bench's order. *tests is malloc'd. A matrix with no
 * test (every -p and -n value 0, no -pg) is an error. */
int qk_bench_expand(const qk_bench_params *p, qk_bench_test **tests, int *n_tests,
                    qk_err *err);

/* "pp512", "tg128" or "pp512+tg128" (llama-bench's test name). */
void qk_bench_test_name(const qk_bench_test *t, char *buf, size_t cap);

/* What one finished test measured, with the model facts the printers need. */
typedef struct qk_bench_result {
    qk_bench_test test;
    char model_type[128];    /* qk_model_desc(): "qwen2 1B Q4_K - Medium" */
    uint64_t model_size;     /* bytes of tensor data */
    uint64_t model_n_params; /* total tensor elements */
    int n_ubatch;            /* reported as llama-bench's default (512); qkit has no ubatch */
    time_t test_time;        /* when the test started (UTC) */
    int n_samples;           /* repetitions */
    uint64_t *samples_ns;    /* n_samples wall times, ns (malloc'd) */
    bool has_roofline;       /* tgN test with a known bandwidth (set by the caller) */
    qk_roofline roofline;    /* bench_roofline.h */
    bool has_pp_ceiling;     /* ppN test with a known arithmetic ceiling (set by the caller) */
    qk_pp_ceiling pp_ceiling; /* bench_peak.h */
    bool has_profile;        /* profiled (qk-bench --profile) */
    qk_profile profile;      /* forward.h: summed over the timed repetitions */
} qk_bench_result;

void qk_bench_result_free(qk_bench_result *r);

#endif
