/*
 * imatrix_collect.h — qk-imatrix's accumulation of an importance matrix from the forward
 * pass (a qk_matmul_hook, engine/forward.h), with llama-imatrix's semantics (llama.cpp
 * c392e50 examples/imatrix/imatrix.cpp, collect_imatrix; llama-cpp-reference.md §2.3
 * "What is collected"):
 *  - which weights: names starting "blk." (every matmul of a layer: attn_q/k/v/output,
 *    ffn_gate/up/down), plus "output.weight" when process_output is set. A model that
 *    ties its lm_head to token_embd.weight therefore never contributes an lm_head entry;
 *  - which calls: those with at least 16 input rows (tokens); smaller ones are ignored;
 *  - per weight W with k = W->ne[0] input columns: sum[j] += x_j² over every input row x,
 *    rows += m and ncall += 1 per call. The sums are kept in double (llama.cpp adds float
 *    x_j·x_j into a float; ours are exact products summed to ~1e-16 relative);
 *  - a non-finite sum is an error (llama.cpp exits; here the collector records the first
 *    one, stops collecting, and imatrix_collector_check reports it).
 * Weights that share their input (q/k/v, gate/up: consecutive calls of one layer with the
 * same x and m, as forward.h guarantees) have the per-column sums of that input computed
 * once and added to each.
 *
 * Not thread-safe: one collector per forward pass (qk_decode calls the hook on its
 * calling thread).
 */
#ifndef QK_IMATRIX_COLLECT_H
#define QK_IMATRIX_COLLECT_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "gguf.h"
#include "imatrix.h"

/* Calls with fewer input rows are not collected (llama.cpp: "src1->ne[1] < 16"). */
#define IMATRIX_MIN_ROWS 16

typedef struct imatrix_collector imatrix_collector;

/* One weight's accumulated data, in the order the forward pass first multiplied it. */
typedef struct imatrix_acc {
    char name[GGUF_MAX_NAME + 1];
    const gguf_tensor *w; /* the tensor the hook saw (identity for lookup) */
    int64_t n_cols;       /* w->ne[0] */
    double *sum;          /* [n_cols]: Σ x_j² over every collected row */
    int64_t rows;         /* rows collected (llama.cpp's counts[j], equal for every j) */
    int32_t ncall;        /* collected calls */
} imatrix_acc;

/* A collector; NULL when out of memory. process_output: also collect output.weight. */
imatrix_collector *imatrix_collector_new(bool process_output);
void imatrix_collector_free(imatrix_collector *c);

/* The qk_matmul_hook (arg = the collector): accumulate one matmul's input x [m][w->ne[0]]
 * when w and m qualify (see above). */
void imatrix_collect_hook(void *arg, const gguf_tensor *w, const float *x, int64_t m);

/* Entries collected so far (n, and the array valid until the next hook call or free). */
const imatrix_acc *imatrix_collector_entries(const imatrix_collector *c, int64_t *n);

/* The largest ncall over the entries: llama-imatrix's m_last_call, the chunk count of its
 * .dat file (chunks processed when every chunk is one forward pass, i.e. n_batch >= n_ctx;
 * otherwise passes with at least 16 tokens). 0 before any collection. */
int32_t imatrix_collector_calls(const imatrix_collector *c);

/* 0, or -1 with err naming the weight whose sum became non-finite (NaN/Inf activations)
 * or saying that memory ran out while collecting. */
int imatrix_collector_check(const imatrix_collector *c, qk_err *err);

/* How the collected sums become a qk_imatrix (engine/imatrix.h keeps in_sum2 / counts =
 * the mean of x_j² either way; the two differ in the weight an entry carries when added
 * to another with qk_imatrix_add):
 *  - IMATRIX_FORM_RAW: in_sum2[j] = sum[j], counts = rows (the GGUF imatrix's meaning);
 *  - IMATRIX_FORM_CALLS: in_sum2[j] = sum[j] / rows · ncall, counts = ncall (the legacy
 *    .dat's meaning: c392e50 save_imatrix writes value = values / counts · ncall; here
 *    computed in double and rounded once to float). */
typedef enum imatrix_form { IMATRIX_FORM_RAW = 0, IMATRIX_FORM_CALLS = 1 } imatrix_form;

/* The collected data as a new qk_imatrix in the given form: one dense entry per weight
 * (n_mat = 1), in collection order; chunk_count and chunk_size as given, datasets =
 * {dataset} when dataset is not NULL. NULL with err set when out of memory. */
qk_imatrix *imatrix_collector_result(const imatrix_collector *c, imatrix_form form, int32_t chunk_count,
                                     int32_t chunk_size, const char *dataset, qk_err *err);

/* Bring an imatrix read from a GGUF file (counts = activation rows) to the CALLS form, so
 * that it can be added to .dat data: per matrix, counts' = ncall and in_sum2' = in_sum2 /
 * counts · ncall, with ncall = im->chunk_count (the calls behind a GGUF entry are not
 * stored; for llama-imatrix's default n_batch >= n_ctx every chunk is one call). Matrices
 * with a zero count are left as they are. Returns 0, or -1 with err when chunk_count < 1. */
int imatrix_to_calls_form(qk_imatrix *im, qk_err *err);

#endif
