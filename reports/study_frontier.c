/*
 * study_frontier.c — qk-study --frontier's sensitivity and allocation steps (study_frontier.h).
 */
#include "study_frontier.h"

#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "fileio.h"
#include "gguf.h"

#define MAX_ARGS 32

int qk_frontier_tensor_bytes(const char *path, uint64_t *bytes, qk_err *err) {
    gguf_ctx *g = gguf_open(path, err);
    if (!g) return -1;
    uint64_t n = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) n += g->tensors[i].nbytes;
    gguf_close(g);
    *bytes = n;
    return 0;
}

int qk_frontier_sensitivity_step(qk_study_runner *r, const qk_frontier_plan *p) {
    if (p->sensitivity_given) return 0;
    char *av[MAX_ARGS];
    int n = 0;
    av[n++] = "qk-sensitivity";
    av[n++] = "-m", av[n++] = (char *)p->model;
    if (p->calibration) av[n++] = "-f", av[n++] = (char *)p->calibration;
    av[n++] = "--mode", av[n++] = (char *)p->mode;
    av[n++] = "-o", av[n++] = (char *)p->sensitivity;
    av[n++] = "-c", av[n++] = (char *)p->ctx;
    if (p->chunks) av[n++] = "--chunks", av[n++] = (char *)p->chunks;
    if (p->imatrix) av[n++] = "--imatrix", av[n++] = (char *)p->imatrix;
    if (p->threads) av[n++] = "-t", av[n++] = (char *)p->threads;
    if (r->resume) av[n++] = "--resume"; /* an interrupted run continues from its journal */
    av[n] = NULL;
    char title[64];
    snprintf(title, sizeof title, "sensitivity (--mode %s)", p->mode);
    return qk_study_run_step(r, title, "sensitivity", p->sensitivity, av);
}

int qk_frontier_alloc_step(qk_study_runner *r, const qk_frontier_plan *p, const char *mixture, const char *type,
                           const char *out, const char *label) {
    char title[256], logname[200], size[32];
    snprintf(title, sizeof title, "quantize %s", label);
    snprintf(logname, sizeof logname, "quantize-%s", label);
    if (r->resume && qk_file_exists(out)) /* as qk_study_run_step would, without reading the mixture */
        return qk_study_run_step(r, title, logname, out, (char *[]){"qk-quantize", NULL});
    uint64_t bytes;
    qk_err err;
    if (qk_frontier_tensor_bytes(mixture, &bytes, &err) != 0)
        return qk_fail("%s — the %s mixture must be quantized before its allocation", err.msg, type);
    snprintf(size, sizeof size, "%" PRIu64, bytes);
    char *av[MAX_ARGS];
    int n = 0;
    av[n++] = "qk-quantize";
    av[n++] = "--target-size", av[n++] = size;
    av[n++] = "--sensitivity", av[n++] = (char *)p->sensitivity;
    if (p->imatrix) av[n++] = "--imatrix", av[n++] = (char *)p->imatrix;
    if (p->gptq) av[n++] = "--gptq", av[n++] = (char *)p->gptq;
    av[n++] = (char *)p->model;
    av[n++] = (char *)out;
    av[n++] = (char *)type;
    if (p->threads) av[n++] = (char *)p->threads;
    av[n] = NULL;
    return qk_study_run_step(r, title, logname, out, av);
}
