/*
 * bench_matrix.h — qk-bench's test matrix: value lists, their cross-product into test
 * instances, and the result record of one test.
 *
 * llama-bench semantics (examples/llama-bench/llama-bench.cpp [U], get_cmd_params_instances;
 * llama-cpp-reference.md §1c): every parameter takes comma lists ("-t 1,2") and may be
 * repeated ("-t 1 -t 2"); the tool runs the full cross-product. Order of the loops, outer
 * to inner: model, n_batch, n_ubatch, n_threads, n_depth, then the tests — every -p value
 * (a "ppN" test, n_gen = 0; a value of 0 is skipped), every -n value ("tgN", n_prompt = 0;
 * 0 skipped), every -pg pair ("ppN+tgM").
 *
 * List items (qk_bench_parse_list), as llama-bench's parse_int_range [U] reads them:
 * "N", or a range "FIRST-LAST" (step 1), "FIRST-LAST+STEP" (additive) or "FIRST-LAST*MULT"
 * (multiplicative), expanded from FIRST while <= LAST: "1-4" = 1,2,3,4;
 * "0-4096+1024" = 0,1024,2048,3072,4096; "128-1024*2" = 128,256,512,1024.
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

/* Append the values of a comma list of items (above) to l, each in [min, max]. Errors
 * (message in err, naming opt and the item; l unchanged): a malformed item, a value out
 * of range, LAST < FIRST, a step < 1 or a multiplier < 2, more than max_values values. */
int qk_bench_parse_list(const char *opt, const char *v, int min, int max, int max_values, qk_int_list *l,
                        qk_err *err);

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
    qk_int_list n_ubatch; /* -ub; empty: {0} (not given: decode calls of n_batch, reported as 512) */
    qk_int_list n_depth;  /* -d; empty: {0} */
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
    int n_ubatch; /* tokens per decode call in the prompt parts (0: n_batch; reported as 512) */
    int n_depth;  /* tokens in the KV cache before the timed part (untimed fill) */
} qk_bench_test;

/* Expand the cross-product in llama-bench's order. *tests is malloc'd. A matrix with no
 * test (every -p and -n value 0, no -pg) is an error. */
int qk_bench_expand(const qk_bench_params *p, qk_bench_test **tests, int *n_tests,
                    qk_err *err);

/* "pp512", "tg128" or "pp512+tg128", with " @ d4096" when n_depth > 0 (llama-bench's
 * test names). */
void qk_bench_test_name(const qk_bench_test *t, char *buf, size_t cap);

/* What one finished test measured, with the model facts the printers need. */
typedef struct qk_bench_result {
    qk_bench_test test;
    char model_type[128];    /* qk_model_desc(): "qwen2 1B Q4_K - Medium" */
    uint64_t model_size;     /* bytes of tensor data */
    uint64_t model_n_params; /* total tensor elements */
    bool use_mmap;           /* the weights were read from the file mapping (qk_model_open) */
    int n_ubatch;            /* test.n_ubatch, or llama-bench's default 512 when not given */
    uint64_t peak_rss_bytes; /* peak resident memory of the process during the test (0: unknown) */
    char build_commit[64];   /* "" (this build), or the other build's (qk-bench --binary-vs) */
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
