/*
 * report_data.h — the case study's results gathered per model, from the JSON files the
 * other tools write (qkit-team.md, "Interface between qk-perplexity and qk-study/qk-report"):
 *
 *   qk-perplexity --json: one object. Used: "model", "model_size_bytes", "n_params",
 *     "n_ctx", "n_chunks", "n_tokens_scored", "ppl", "ppl_unc"; with a base: "kld" {ppl_ratio,
 *     ppl_ratio_unc, cor_ln_ppl, mean_kld, mean_kld_unc, same_top, same_top_unc} and, when
 *     the base's exact-NLL sidecar existed, "exact" {ppl_ratio, ppl_ratio_unc, cor_ln_ppl}.
 *     Fractions are 0..1 (not %). Optional: "bits_per_byte", "word_perplexity" (over the
 *     text the scored tokens cover, perplexity/ppl_cover.h).
 *   qk-bench -o json: an array of llama-bench records. Used: "model_filename",
 *     "model_type", "model_size", "model_n_params", "n_threads", "n_prompt", "n_gen",
 *     "avg_ts", "stddev_ts".
 *
 * One row per model. A perplexity file's row is labelled by the file's name without
 * directory and ".json" (qk-study writes OUTDIR/ppl/<TYPE>.json). Bench records join the
 * row whose model path is the same string, else whose model file name (basename) is the
 * same; a bench-only model gets a row labelled by its file name's last '-' part
 * ("model-Q4_K_M.gguf" -> "Q4_K_M", "model-Q4_K_M-imat.gguf" -> "Q4_K_M-imat"). Per row, the ppN test (n_gen = 0) and the tgN test
 * (n_prompt = 0) with the most threads are kept (the later one on a tie).
 *
 * Quality figures: PPL ratio and Cor(ln PPL) come from "exact" when present, else from
 * "kld" (quality_src says which); mean KLD and same-top always from "kld". The base row is
 * the only perplexity row without "kld" (if there is exactly one such row while others
 * have "kld"), or the row named by qk_report_set_base().
 */
#ifndef QK_REPORT_DATA_H
#define QK_REPORT_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

typedef struct qk_report_row {
    char label[128];
    char model[1024];      /* model path as the tools were given it */
    char model_type[128];  /* "qwen2 1B Q4_K - Medium" (from qk-bench), "" if unknown */
    uint64_t size_bytes;   /* tensor data bytes; 0 if unknown */
    uint64_t n_params;     /* 0 if unknown */
    bool is_base;

    bool has_ppl;
    double ppl, ppl_unc;
    int n_ctx, n_chunks;
    long long n_tokens_scored;
    bool has_bpb;                   /* bits per byte and word perplexity are present */
    double bits_per_byte, word_ppl;

    bool has_kld;              /* quality figures against the base are present */
    const char *quality_src;   /* "exact" or "kld" (static string), NULL without kld */
    double ppl_ratio, ppl_ratio_unc, cor_ln_ppl; /* fractions */
    double mean_kld, mean_kld_unc;
    bool has_same_top;
    double same_top, same_top_unc;               /* fractions */

    bool has_pp, has_tg;
    int pp_tokens, pp_threads, tg_tokens, tg_threads;
    double pp_ts, pp_ts_sd, tg_ts, tg_ts_sd;
} qk_report_row;

typedef struct qk_report {
    qk_report_row *rows;
    int n;
    int cap;
} qk_report;

/* Add one qk-perplexity JSON file. Errors: unreadable, not JSON, no "ppl". */
int qk_report_add_ppl(qk_report *r, const char *path, qk_err *err);
/* Add one qk-bench JSON file (array). Errors: unreadable, not a JSON array of objects
 * with the fields above. */
int qk_report_add_bench(qk_report *r, const char *path, qk_err *err);
/* Add every DIR/ppl/<name>.json and DIR/bench/<name>.json (sorted by name). Errors: a bad file,
 * or no perplexity and no bench file at all. */
int qk_report_load_dir(qk_report *r, const char *dir, qk_err *err);

/* Mark the row with this label as the base (overrides the automatic choice). */
int qk_report_set_base(qk_report *r, const char *label, qk_err *err);
/* Choose the base (if not set) and sort: base first, then by size descending, then by
 * label. Call once after adding everything. */
void qk_report_finish(qk_report *r);

/* Label suffix of a model quantized with an importance matrix ("Q4_K_M-imat", qk-study
 * --imatrix): such rows are reported as their own series (quality chart, CSV column). */
#define QK_REPORT_IMAT_SUFFIX "-imat"
bool qk_report_is_imatrix(const qk_report_row *row);

/* Bits per weight: 8 * size_bytes / n_params (0 when unknown). */
double qk_report_bpw(const qk_report_row *row);
/* The ftype part of model_type ("Q4_K - Medium" from "qwen2 1B Q4_K - Medium"), or "". */
const char *qk_report_ftype(const qk_report_row *row);

void qk_report_free(qk_report *r);

#endif
