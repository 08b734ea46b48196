/*
 * gptq.c — GPTQ rounding (gptq.h): the calibration Hessians through the forward pass's
 * matmul hook, the upper Cholesky factor of their inverse, and the column loop per row.
 */
#include "gptq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "fileio.h"
#include "fp16.h"
#include "ppl_run.h"
#include "quants.h"
#include "threads.h"
#include "tokenizer.h"

#define GPTQ_DAMP 0.01 /* the paper's dampening: 1 % of the mean diagonal */

bool qk_gptq_supports(qk_type t) {
    return t == QK_TYPE_Q8_0 || t == QK_TYPE_Q4_0 || t == QK_TYPE_Q5_0 || t == QK_TYPE_Q4_1 || t == QK_TYPE_Q5_1 ||
           t == QK_TYPE_IQ4_NL;
}

/* ------------------------------------------------------------ the Hessians --------- */

typedef struct collect {
    const char *const *names;
    size_t n;
    double **h;
    int64_t *k;
    uint64_t *rows; /* activation rows summed per tensor */
    double *xd;     /* the activations in double, grown as needed */
    size_t xd_cap;
    int oom;
} collect;

/* H += XᵀX (the upper triangle, row-major; mirrored at the end) with BLAS dsyrk. */
static void collect_hook(void *arg, const gguf_tensor *w, const float *x, int64_t m) {
    collect *c = arg;
    for (size_t i = 0; i < c->n && !c->oom; i++) {
        if (strcmp(w->name, c->names[i]) != 0) continue;
        const int64_t k = c->k[i];
        if ((size_t)(m * k) > c->xd_cap) {
            free(c->xd);
            c->xd_cap = (size_t)(m * k);
            if (!(c->xd = malloc(c->xd_cap * sizeof *c->xd))) {
                c->xd_cap = 0;
                c->oom = 1;
                return;
            }
        }
        for (int64_t e = 0; e < m * k; e++) c->xd[e] = x[e];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)k, (blasint)m, 1.0, c->xd, (blasint)k, 1.0,
                    c->h[i], (blasint)k);
        c->rows[i] += (uint64_t)m;
    }
}

int qk_gptq_collect(const qk_model *m, const char *text_path, int32_t n_ctx, int32_t n_chunks,
                    int32_t n_threads, const char *const *names, size_t n, double **h, uint64_t *rows,
                    qk_err *err) {
    collect c = {names, n, h, calloc(n ? n : 1, sizeof(int64_t)), rows, NULL, 0, 0};
    int32_t *tokens = NULL;
    FILE *devnull = NULL;
    int rc = -1;
    for (size_t i = 0; i < n; i++) h[i] = NULL, rows[i] = 0;
    if (!c.k) return qk_errf(err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const gguf_tensor *t = gguf_find_tensor(m->gguf, names[i]);
        if (!t || t->ne[2] > 1 || t->ne[3] > 1) {
            qk_errf(err, "GPTQ: '%s' is not a 2-D weight of the model", names[i]);
            goto done;
        }
        c.k[i] = t->ne[0];
        if (!(h[i] = calloc((size_t)(t->ne[0] * t->ne[0]), sizeof(double)))) {
            qk_errf(err, "out of memory for the GPTQ Hessian of %s (%lld x %lld doubles)", names[i],
                    (long long)t->ne[0], (long long)t->ne[0]);
            goto done;
        }
    }
    size_t len, nt;
    char *text = qk_file_read(text_path, &len, err);
    if (!text) goto done;
    int trc = qk_tokenize(m->vocab, text, len, true, false, &tokens, &nt, err);
    free(text);
    if (trc) goto done;
    if (!(devnull = fopen("/dev/null", "w"))) {
        qk_errf(err, "cannot open /dev/null");
        goto done;
    }
    ppl_run_params pp = {n_ctx, n_ctx, n_chunks, n_threads, 0, devnull, NULL};
    ppl_run_extra x = {"qk-quantize", collect_hook, &c, true};
    ppl_run_result res;
    if (ppl_run_perplexity_ex(m, tokens, nt, &pp, &x, NULL, &res, err)) goto done;
    if (c.oom) {
        qk_errf(err, "out of memory (GPTQ activations)");
        goto done;
    }
    for (size_t i = 0; i < n; i++) /* mirror the upper triangle */
        for (int64_t a = 0; a < c.k[i]; a++)
            for (int64_t b = 0; b < a; b++) h[i][a * c.k[i] + b] = h[i][b * c.k[i] + a];
    rc = 0;
done:
    if (rc)
        for (size_t i = 0; i < n; i++) {
            free(h[i]);
            h[i] = NULL;
        }
    if (devnull) fclose(devnull);
    free(tokens);
    free(c.k);
    free(c.xd);
    return rc;
}

/* ------------------------------------------------------------ H⁻¹'s factor --------- */

/* LAPACK (OpenBLAS carries it; column-major, Fortran calling convention). */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
extern void dtrtri_(const char *uplo, const char *diag, const int *n, double *a, const int *lda, int *info);

/* U (n x n, upper, row-major) with UᵀU = (H + λI)⁻¹, λ = GPTQ_DAMP · mean diag, a zero
 * diagonal taken as 1. With P the reversal, P·H·P = L·Lᵀ (Cholesky) gives H = R·Rᵀ with
 * R = P·L·P upper, so H⁻¹ = (R⁻¹)ᵀ·R⁻¹ and U = R⁻¹ = P·L⁻¹·P. A row-major array read as
 * column-major is its transpose, so LAPACK's upper Cholesky factor and its inverse (dpotrf,
 * dtrtri with "U") are, seen row-major, L and L⁻¹. Returns -1 when the damped H is not
 * positive definite (it always is for real activations), -2 when out of memory. */
static int hinv_upper(const double *h, int64_t n, double *u) {
    if (n > 46340) return -2; /* n·n must fit LAPACK's int */
    double *l = malloc((size_t)(n * n) * sizeof *l);
    if (!l) return -2;
    double mean = 0;
    for (int64_t i = 0; i < n; i++) mean += h[i * n + i];
    mean /= (double)n;
    const double damp = GPTQ_DAMP * (mean > 0 ? mean : 1.0);
    for (int64_t i = 0; i < n; i++) /* B = P·H·P, damped */
        for (int64_t j = 0; j < n; j++) {
            double v = h[(n - 1 - i) * n + (n - 1 - j)];
            if (i == j) v = (v == 0 ? 1.0 : v) + damp;
            l[i * n + j] = v;
        }
    const int ni = (int)n;
    int info = 0;
    dpotrf_("U", &ni, l, &ni, &info);
    if (info == 0) dtrtri_("U", "N", &ni, l, &ni, &info);
    if (info == 0)
        for (int64_t i = 0; i < n; i++) /* u = P·L⁻¹·P, L⁻¹ in the lower triangle (row-major) */
            for (int64_t j = 0; j < n; j++)
                u[(n - 1 - i) * n + (n - 1 - j)] = j <= i ? l[i * n + j] : 0.0;
    free(l);
    return info == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ the column loop ------ */

typedef struct rows_job {
    qk_type type;
    const float *w;
    int64_t n_rows, ne0;
    const double *u;
    uint8_t *dst;
    int oom;
} rows_job;

/* One block's parameters as the F16 values the file holds, taken from the reference
 * quantizer (reference §2, llama.cpp's quantize_row_*_ref) run on the block as it is now,
 * so each type's rule lives in one place: value = d·q (+ m) for a code q in lo..hi, or, for
 * IQ4_NL, d·kvalues[q], q in 0..15. Every 32-element block starts with d, then m for
 * Q4_1 / Q5_1 (quants.h). */
typedef struct block_rule {
    qk_half dh, mh;
    double d, m;
    int lo, hi;
} block_rule;

static block_rule block_params(qk_type t, const double *x) {
    float xf[QK8_0];
    for (int j = 0; j < QK8_0; j++) xf[j] = (float)x[j];
    union {
        block_q4_0 q4_0;
        block_q4_1 q4_1; /* d, m: the same first members as block_q5_1 */
        block_q5_0 q5_0;
        block_q5_1 q5_1;
        block_q8_0 q8_0;
        block_iq4_nl iq4_nl;
    } ref;
    qk_type_get(t)->quantize_ref(xf, &ref, QK8_0);
    const bool with_min = t == QK_TYPE_Q4_1 || t == QK_TYPE_Q5_1;
    block_rule b = {.dh = ref.q8_0.d, .mh = with_min ? ref.q4_1.m : 0};
    switch (t) {
    case QK_TYPE_Q4_0: b.lo = -8, b.hi = 7; break;
    case QK_TYPE_Q5_0: b.lo = -16, b.hi = 15; break;
    case QK_TYPE_Q4_1: b.hi = 15; break;
    case QK_TYPE_Q5_1: b.hi = 31; break;
    case QK_TYPE_IQ4_NL: b.hi = 15; break;
    default: b.lo = -128, b.hi = 127; break;
    }
    b.d = qk_half_to_float(b.dh);
    b.m = qk_half_to_float(b.mh);
    return b;
}

/* The code for x under b, and its value. */
static int round_code(qk_type t, const block_rule *b, double x, double *value) {
    if (t == QK_TYPE_IQ4_NL) { /* the nearest of the 16 levels (the lower one on a tie) */
        const double v = b->d != 0 ? x / b->d : 0.0;
        int best = 0;
        for (int i = 1; i < 16; i++)
            if (fabs(v - qk_kvalues_iq4nl[i]) < fabs(v - qk_kvalues_iq4nl[best])) best = i;
        *value = b->d * qk_kvalues_iq4nl[best];
        return best;
    }
    double q = b->d != 0 ? round((x - b->m) / b->d) : 0.0;
    q = q < b->lo ? b->lo : q > b->hi ? b->hi : q;
    *value = q * b->d + b->m;
    return (int)q;
}

/* Four-bit codes c[0..32) (0..15) as ggml packs them: byte j holds c[j] low, c[j+16] high. */
static void pack_nibbles(uint8_t qs[16], const int *c) {
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)((c[j] & 0x0F) | ((c[j + 16] & 0x0F) << 4));
}

/* The fifth bits of five-bit codes c[0..32) (0..31): bit j of the little-endian qh. */
static void pack_fifth_bits(uint8_t qh[4], const int *c) {
    uint32_t h = 0;
    for (int j = 0; j < 32; j++) h |= (uint32_t)((c[j] >> 4) & 1) << j;
    for (int i = 0; i < 4; i++) qh[i] = (uint8_t)(h >> (8 * i));
}

/* Write block b of a row of type t from its parameters and codes q[32]. */
static void block_store(qk_type t, uint8_t *row, int64_t b, const block_rule *r, const int *q) {
    int c[QK8_0];
    switch (t) {
    case QK_TYPE_Q4_0: {
        block_q4_0 *y = (block_q4_0 *)row + b;
        for (int j = 0; j < QK8_0; j++) c[j] = q[j] + 8;
        y->d = r->dh;
        pack_nibbles(y->qs, c);
        break;
    }
    case QK_TYPE_Q5_0: {
        block_q5_0 *y = (block_q5_0 *)row + b;
        for (int j = 0; j < QK8_0; j++) c[j] = q[j] + 16;
        y->d = r->dh;
        pack_nibbles(y->qs, c);
        pack_fifth_bits(y->qh, c);
        break;
    }
    case QK_TYPE_Q4_1: {
        block_q4_1 *y = (block_q4_1 *)row + b;
        y->d = r->dh, y->m = r->mh;
        pack_nibbles(y->qs, q);
        break;
    }
    case QK_TYPE_Q5_1: {
        block_q5_1 *y = (block_q5_1 *)row + b;
        y->d = r->dh, y->m = r->mh;
        pack_nibbles(y->qs, q);
        pack_fifth_bits(y->qh, q);
        break;
    }
    case QK_TYPE_IQ4_NL: {
        block_iq4_nl *y = (block_iq4_nl *)row + b;
        y->d = r->dh;
        pack_nibbles(y->qs, q);
        break;
    }
    default: {
        block_q8_0 *y = (block_q8_0 *)row + b;
        y->d = r->dh;
        for (int j = 0; j < QK8_0; j++) y->qs[j] = (int8_t)q[j];
    }
    }
}

/* Rows r0..r1 of j (gptq.h): per block, the scale from the row's current values, then each
 * column rounded against the F16 scale and its error spread over the columns after it. */
static void gptq_rows(void *arg, int ith, int nth) {
    rows_job *j = arg;
    const int64_t n = j->ne0, r0 = j->n_rows * ith / nth, r1 = j->n_rows * (ith + 1) / nth;
    const size_t row_size = qk_row_size(j->type, n);
    double *buf = malloc((size_t)n * sizeof *buf);
    if (!buf) {
        j->oom = 1;
        return;
    }
    for (int64_t r = r0; r < r1; r++) {
        for (int64_t c = 0; c < n; c++) buf[c] = j->w[r * n + c];
        for (int64_t b = 0; b < n / QK8_0; b++) {
            const int64_t c0 = b * QK8_0;
            int q[QK8_0];
            const block_rule br = block_params(j->type, buf + c0);
            for (int64_t c = c0; c < c0 + QK8_0; c++) {
                double v;
                q[c - c0] = round_code(j->type, &br, buf[c], &v);
                const double *uc = j->u + c * n;
                const double e = (buf[c] - v) / uc[c];
                for (int64_t k = c + 1; k < n; k++) buf[k] -= e * uc[k];
            }
            block_store(j->type, j->dst + (size_t)r * row_size, b, &br, q);
        }
    }
    free(buf);
}

int qk_gptq_quantize(qk_type t, const float *w, int64_t n_rows, int64_t ne0, const double *h, int n_threads,
                     uint8_t *dst, qk_err *err) {
    if (!qk_gptq_supports(t)) return qk_errf(err, "GPTQ does not support %s (only the 32-element types Q4_0 … Q8_0, IQ4_NL)", qk_type_name(t));
    if (ne0 % QK8_0) return qk_errf(err, "GPTQ %s: rows of %lld are not whole blocks", qk_type_name(t), (long long)ne0);
    double *u = malloc((size_t)(ne0 * ne0) * sizeof *u);
    if (!u) return qk_errf(err, "out of memory (GPTQ, %lld x %lld doubles)", (long long)ne0, (long long)ne0);
    int hrc = hinv_upper(h, ne0, u);
    if (hrc) {
        free(u);
        return hrc == -2 ? qk_errf(err, "out of memory (GPTQ)")
                         : qk_errf(err, "GPTQ: the calibration Hessian is not positive definite after damping");
    }
    qk_pool *pool = qk_pool_new(n_threads > 0 ? n_threads : 1);
    if (!pool) {
        free(u);
        return qk_errf(err, "cannot start the worker threads");
    }
    rows_job j = {t, w, n_rows, ne0, u, dst, 0};
    qk_pool_run(pool, gptq_rows, &j);
    qk_pool_free(pool);
    free(u);
    return j.oom ? qk_errf(err, "out of memory (GPTQ)") : 0;
}
