/*
 * ppl_run.h — the evaluation loops of qk-perplexity over the engine: llama.cpp's chunking
 * protocol for PPL (and for writing a base-logits file), the --kl-divergence loop over a
 * base-logits file, and the per-prompt mode.
 *
 * Chunking (llama.cpp examples/perplexity/perplexity.cpp perplexity(); reference §1b):
 * the token stream is cut into n_chunk = min(--chunks, n_tokens / n_ctx) non-overlapping
 * chunks of n_ctx tokens; n_seq = max(1, n_batch / n_ctx) chunks run in one qk_decode, each
 * as its own sequence (positions 0..n_ctx−1), the KV cache cleared for every group; when
 * n_ctx > n_batch a chunk takes several decodes. If the vocabulary adds BOS, the first token
 * of every chunk is replaced by BOS for the forward pass only. Positions first = n_ctx/2 …
 * n_ctx−2 are scored, each predicting the next token: n_ctx − 1 − n_ctx/2 per chunk; logits
 * are requested for those positions only (ppl_run_perplexity_ex can ask for all, and attach
 * a matmul hook: qk-imatrix runs llama-imatrix's protocol this way).
 *
 * Output: running values on p->out exactly as llama.cpp prints them ("[1]664.7906,[2]…"
 * then "Final estimate: PPL = %.4f +/- %.5f"; --ppl-output-type 1 prints a table), and the
 * KLD per-chunk table; timing ("%.2f seconds per pass - ETA …") on p->log.
 * Per-token statistics are computed in parallel on a worker pool (engine/threads.h) and
 * accumulated in token order, so results do not depend on the thread count.
 */
#ifndef QK_PPL_RUN_H
#define QK_PPL_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "forward.h"
#include "model.h"
#include "ppl_logits.h"
#include "ppl_stats.h"

typedef struct ppl_run_params {
    int32_t n_ctx;       /* tokens per chunk (even, >= 8); in KLD mode the base file's */
    int32_t n_batch;     /* tokens per qk_decode (>= 1) */
    int32_t n_chunks;    /* at most this many chunks; <= 0: all */
    int32_t n_threads;   /* <= 0: all CPUs */
    int ppl_output_type; /* 0: "[k]ppl,"; 1: "offset PPL mean-NLL ±" lines */
    FILE *out;           /* results (stdout) */
    FILE *log;           /* timing/progress (stderr); NULL: silent */
} ppl_run_params;

/* What qk-imatrix adds to the chunked PPL run (ppl_run_perplexity_ex). */
typedef struct ppl_run_extra {
    const char *prog;    /* name on the log lines; NULL: "qk-perplexity" */
    qk_matmul_hook hook; /* attached to the forward pass (forward.h); NULL: none */
    void *hook_arg;
    bool all_logits;     /* request the logits of every token of a chunk, not only of the
                          * scored ones, as llama-imatrix does (logits_all: its lm_head then
                          * multiplies every row); the PPL is the same */
} ppl_run_extra;

typedef struct ppl_run_result {
    int32_t n_ctx, n_batch, n_seq, n_chunks, n_vocab, n_threads;
    uint64_t n_scored;    /* tokens whose NLL was taken */
    uint64_t n_evaluated; /* tokens run through the model */
    double ppl, ppl_unc, mean_nll;
    double seconds;       /* wall time of the evaluation loop (excludes load, tokenize) */
} ppl_run_result;

/* PPL of a token stream (the whole text tokenized with add_special=true). Errors: fewer
 * than 2·n_ctx tokens, engine failure, NaN/Inf logits. When save_base is not NULL, also
 * writes save_base in llama.cpp's base-logits format (tokens without BOS substitution) and
 * the exact-NLL sidecar "<save_base>.nll", both atomically and only on success. */
int ppl_run_perplexity(const qk_model *m, const int32_t *tokens, size_t n_tokens,
                       const ppl_run_params *p, const char *save_base, ppl_run_result *res,
                       qk_err *err);

/* ppl_run_perplexity with x's additions (x NULL: the same run). With x->hook, every
 * qk_decode of the run calls it for each weight matmul; chunks are decoded n_seq =
 * max(1, n_batch / n_ctx) at a time, so a caller that wants one chunk per pass (llama-
 * imatrix's protocol) passes n_batch <= n_ctx. */
int ppl_run_perplexity_ex(const qk_model *m, const int32_t *tokens, size_t n_tokens,
                          const ppl_run_params *p, const ppl_run_extra *x, const char *save_base,
                          ppl_run_result *res, qk_err *err);

/* --kl-divergence: evaluates the base file's own tokens (p->n_ctx must equal base->n_ctx and
 * the model's n_vocab base->n_vocab, else an error), prints the per-chunk table, and fills
 * s with every figure (percentiles when at least 100 tokens were scored, as llama.cpp).
 * base_exact: the sidecar's exact base NLLs (ppl_nll_read) or NULL; when given and
 * consistent with the 16-bit records, s->has_exact is set. */
int ppl_run_kld(const qk_model *m, ppl_logits_file *base, const double *base_exact,
                const ppl_run_params *p, ppl_kld_summary *s, ppl_run_result *res, qk_err *err);

/* Per-prompt mode: prompts[i] holds len[i] >= 2 token ids (BOS included when the vocab adds
 * one; no substitution happens here). Each prompt is scored on its own (fresh sequence,
 * every position predicting the next token); several prompts share a decode when they fit in
 * n_batch. Fills recs[i] (n_tokens, n_scored, hash, nll_sum) and res (pooled PPL over all
 * scored tokens). Errors: a prompt longer than n_ctx, engine failure, NaN/Inf logits. */
int ppl_run_prompts(const qk_model *m, int32_t *const *prompts, const int32_t *len,
                    int32_t n_prompts, const ppl_run_params *p, ppl_prompt_rec *recs,
                    ppl_run_result *res, qk_err *err);

#endif
