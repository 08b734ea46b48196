/*
 * sensitivity.h — per-tensor quantization sensitivity: for every tensor qk-quantize's
 * mixture would quantize and every candidate type its row width allows, what quantizing
 * that tensor ALONE costs. Measured (--mode kld) as the mean KL divergence of the model
 * with that one tensor quantized against the base model over a calibration text, and as
 * a cheap proxy (--mode proxy) from the weights alone. qk-sensitivity is the front end;
 * budget.h turns the result into a per-tensor type plan for a size budget.
 *
 * Definitions (w: a tensor's weights in F32, q: the same after quantizing to the
 * candidate and dequantizing, rows r, columns j = 0..ne[0)):
 *   sq_err = Σ_r Σ_j (w_rj − q_rj)²                        (plain squared error)
 *   proxy  = Σ_r Σ_j imat_j · (w_rj − q_rj)²   with an imatrix entry for the tensor
 *            (imat_j = in_sum2_j / count: the mean of x_j² over the calibration
 *            activations, engine/imatrix.h; so proxy is the expected squared error of
 *            the matmul output, the quantity llama.cpp's imatrix quantizers minimise
 *            per block — llama.cpp PR #4861);
 *            = sq_err without an imatrix or without an entry for the tensor.
 *   kld    = the mean over the scored tokens of KL(P_base ‖ P_q), in nats, computed by
 *            qk-perplexity's own --kl-divergence loop (perplexity/ppl_run.h, llama.cpp's
 *            formula: ppl_stats.h) against base log-probs this pass writes first; kld_unc
 *            its standard error (--mode kld: every candidate; --mode scaled: one
 *            reference type per tensor, Q4_K where the rows allow it, else Q4_0, else
 *            the first candidate). base_mean_kld is the same figure for the unmodified
 *            model (> 0 only by the 16-bit rounding of the stored base log-probs): the
 *            floor of every measurement.
 *   kld_est = (--mode scaled) the tensor's measured cost at the reference type carried
 *            to its other types in proportion to the proxy:
 *            max(kld_ref − base_mean_kld, 1e-9) · proxy / proxy_ref, so that costs of
 *            different tensors are in one unit (KLD) for one forward pass per tensor.
 * The candidate is quantized as qk-quantize quantizes it (the type's quantize_imat with
 * the tensor's imatrix weights when --imatrix names an entry for it, else from_float),
 * and the real quantized tensor is put into the loaded model (model.h
 * qk_model_swap_tensor), not a dequantized copy: the forward pass then multiplies it with
 * the same kernels as the final model, activation quantization (Q8_K / Q8_0 / Q8_1)
 * included, so the measured cost is what the quantized model will show.
 *
 * Candidates: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL where
 * ne[0] is a multiple of the type's block size, F16 when the base is F32 or BF16 (the
 * mixtures' last fallback), plus the base's own type (F16, BF16 or F32) as the "no loss"
 * option: kld 0, proxy 0, never measured.
 *
 * Resuming: every finished (tensor, type) is appended to a journal "<out>.journal" (one
 * line, flushed) whose first line records the run's settings; with resume, entries of a
 * journal with the same settings are taken as they are, and a journal of other settings
 * is an error. The JSON (schema below) is written atomically at the end, and then the
 * journal and the temporary base log-probs ("<out>.base.logits") are removed.
 *
 * JSON schema (read by budget.c and the study side):
 *   {"qkit_sensitivity": 1, "model": PATH, "calibration": PATH|null, "n_ctx": N,
 *    "n_chunks": N, "imatrix": PATH|null, "mode": "kld"|"proxy"|"scaled", "base_mean_kld": x|null,
 *    "tensors": [{"name", "layer" (-1 outside blk.N), "kind" ("attn_q", "token_embd"),
 *                 "n_elements", "ne": [...], "base_type": "F16",
 *                 "candidates": [{"type": "Q4_K", "bytes": N, "kld": x|null,
 *                                 "kld_unc": x|null, "proxy": x, "sq_err": x,
 *                                 "kld_est": x (scaled mode only)}, ...]}]}
 */
#ifndef QK_SENSITIVITY_H
#define QK_SENSITIVITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "types.h"

#define QK_SENS_MAX_CAND 16

/* Calibration length when n_chunks is 0: the most chunks, up to QK_SENS_AUTO_MAX_CHUNKS,
 * for which measured passes x chunks x n_ctx x the model's weight count (multiply-adds, the
 * forward passes' work) stays within QK_SENS_AUTO_WORK, and at least one. In --mode scaled
 * the Qwen2.5-0.5B shape (169 passes of 256 tokens x 494 M weights) gets 1 chunk, 4 minutes
 * on 2 threads of an AVX-512 VNNI x86-64 core; wiki-qwen2-13m gets all 8. The count depends
 * only on the model and the options, so a plan is reproducible on any machine. */
#define QK_SENS_AUTO_WORK 3e13
#define QK_SENS_AUTO_MAX_CHUNKS 8

typedef enum qk_sens_mode { QK_SENS_PROXY = 0, QK_SENS_KLD = 1, QK_SENS_SCALED = 2 } qk_sens_mode;

typedef struct qk_sens_opts {
    const char *model_path;   /* F16/BF16/F32 GGUF */
    const char *calib_path;   /* calibration text (kld mode) */
    const char *imatrix_path; /* NULL: none */
    const char *out_path;     /* the JSON; also names the journal and the base log-probs */
    qk_sens_mode mode;
    int32_t n_ctx;            /* tokens per chunk (even, >= 8) */
    int32_t n_chunks;         /* calibration chunks (>= 1); 0: auto (QK_SENS_AUTO_WORK) */
    int32_t n_batch;          /* tokens per forward pass */
    int32_t n_threads;        /* <= 0: all CPUs */
    bool resume;              /* reuse the journal's finished entries */
    const char *only;         /* NULL, or measure only tensors whose name contains this */
    FILE *log;                /* progress lines; NULL: silent */
} qk_sens_opts;

typedef struct qk_sens_cand {
    qk_type type;
    uint64_t bytes;   /* the tensor's bytes in this type */
    double kld;       /* nats; NaN when not measured */
    double kld_unc;   /* NaN when not measured */
    double proxy;     /* see above */
    double sq_err;
    double kld_est;   /* scaled mode: the estimate above; NaN otherwise */
} qk_sens_cand;

typedef struct qk_sens_tensor {
    char name[65];
    int32_t layer;        /* N of "blk.N.", -1 otherwise */
    char kind[48];        /* name without "blk.N." and ".weight" */
    int64_t ne[4];
    uint64_t n_elements;
    qk_type base_type;
    size_t n_cand;
    qk_sens_cand cand[QK_SENS_MAX_CAND];
} qk_sens_tensor;

typedef struct qk_sens {
    char *model, *calibration, *imatrix; /* imatrix, calibration may be NULL */
    int32_t n_ctx, n_chunks;
    qk_sens_mode mode;
    double base_mean_kld;   /* NaN in proxy mode */
    size_t n_tensors;
    qk_sens_tensor *tensors;
} qk_sens;

/* Run the pass (above) and write o->out_path. Returns 0, or -1 with err set: unreadable
 * model / text / imatrix, a model that is not F16/BF16/F32 for the tensors measured, a
 * text shorter than 2·n_ctx tokens, a journal of other settings (with resume), engine
 * failure, out of memory, cannot write the output. */
int qk_sens_run(const qk_sens_opts *o, qk_err *err);

/* The cost budget.c minimises for one candidate: max(0, kld − base_mean_kld) when the kld
 * was measured, else kld_est when there is one, else proxy; 0 for the base type. */
double qk_sens_cost(const qk_sens *s, const qk_sens_cand *c);

/* Write s as the JSON above to path, atomically (engine/afile.h). */
int qk_sens_write_json(const qk_sens *s, const char *path, qk_err *err);
/* Read a file written by qk_sens_write_json. Errors name the file and what is wrong (not
 * JSON, not a sensitivity file, a missing field, an unknown type). */
int qk_sens_read_json(const char *path, qk_sens *s, qk_err *err);
void qk_sens_free(qk_sens *s);

/* The calibration chunks used when qk_sens_opts.n_chunks is 0 (rule and figures at
 * QK_SENS_AUTO_WORK): n_passes measured forward passes of n_ctx tokens per chunk over a
 * model of n_params weights. Always 1..QK_SENS_AUTO_MAX_CHUNKS. */
int32_t qk_sens_auto_chunks(double n_passes, int32_t n_ctx, uint64_t n_params);

/* "mode" names. */
const char *qk_sens_mode_name(qk_sens_mode m);

/* Spearman's rank correlation of x and y (n pairs; ties get their mean rank; the Pearson
 * correlation of the ranks, Spearman 1904). NaN when n < 2 or a rank variance is 0. */
double qk_sens_spearman(const double *x, const double *y, size_t n);

#endif
