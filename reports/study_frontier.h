/*
 * study_frontier.h — the steps qk-study --frontier adds: qkit's own per-tensor type
 * allocations at the sizes of llama.cpp's mixtures, to be scored beside them.
 *
 *   qk-sensitivity -m BASE [-f CALIBRATION] --mode MODE -o OUTDIR/sensitivity.json
 *       -c N [--chunks N] [--imatrix IMATRIX] [-t N]        once (skipped with --sensitivity FILE)
 *   qk-quantize --target-size BYTES --sensitivity SENS.json [--imatrix IMATRIX]
 *       [--gptq CALIBRATION] BASE OUTDIR/models/<stem>-alloc-<TYPE>[-imat].gguf TYPE [threads]
 *       per --types entry, BYTES = the tensor data bytes of the llama.cpp TYPE mixture
 *       quantized before (without an imatrix), so that both recipes get the same budget.
 * (quantize/sensitivity.h, quantize/budget.h, quantize/gptq.h.)
 */
#ifndef QK_STUDY_FRONTIER_H
#define QK_STUDY_FRONTIER_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "study_run.h"

typedef struct qk_frontier_plan {
    const char *model;       /* BASE */
    const char *calibration; /* calibration text (kld and scaled modes), or NULL */
    const char *mode;        /* qk-sensitivity --mode: "kld", "scaled" or "proxy" */
    const char *imatrix;     /* NULL: none */
    const char *ctx;         /* -c for qk-sensitivity */
    const char *chunks;      /* --chunks for qk-sensitivity; NULL: its default */
    const char *threads;     /* -t, NULL: the tools' default */
    const char *sensitivity; /* the JSON: given (--sensitivity) or OUTDIR/sensitivity.json */
    bool sensitivity_given;  /* then no qk-sensitivity step */
    const char *gptq;        /* the allocations' qk-quantize --gptq text (the calibration
                              * text), or NULL: plain rounding */
} qk_frontier_plan;

/* The tensor data bytes of a GGUF file (Σ of its tensors' sizes, what qk-quantize's
 * --target-size budgets). Errors: the file cannot be opened or is not a valid GGUF. */
int qk_frontier_tensor_bytes(const char *gguf, uint64_t *bytes, qk_err *err);

/* The qk-sensitivity step (nothing when p->sensitivity_given). Returns 0 or 1 (error printed). */
int qk_frontier_sensitivity_step(qk_study_runner *r, const qk_frontier_plan *p);

/* qk-quantize TYPE within the tensor bytes of the mixture file `mixture` into `out`, with
 * the imatrix when p->imatrix; label names the step and its log. Returns 0 or 1 (error
 * printed). */
int qk_frontier_alloc_step(qk_study_runner *r, const qk_frontier_plan *p, const char *mixture, const char *type,
                           const char *out, const char *label);

#endif
