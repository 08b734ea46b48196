/*
 * matmul.c — weight × activation products (see matmul.h).
 *
 * Invariants: the weight bytes are never modified; activations are converted once per
 * call into scratch memory that every thread reads; output rows are split into equal
 * contiguous ranges, one per thread, so no two threads write the same element.
 */
#include "matmul.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>

/* Weight rows dequantized per sgemm call: about TILE_FLOATS floats, so that sgemm's
 * packing of the activations is amortised over many rows. */
#define TILE_FLOATS (1 << 20)

static int64_t tile_rows(int64_t k) { return TILE_FLOATS / k > 16 ? TILE_FLOATS / k : 16; }

static int grow(void **p, size_t *size, size_t need) {
    if (need <= *size) return 0;
    void *q = realloc(*p, need);
    if (!q) return -1;
    *p = q;
    *size = need;
    return 0;
}

/* ---- activation conversion: X -> vec_dot_type (and optionally back to F32) ---- */

typedef struct conv_job {
    const qk_type_traits *vt;
    const float *x;
    uint8_t *xq;   /* [m][row] */
    float *xf;     /* [m][k] or NULL */
    int64_t k, m;
    size_t row;
} conv_job;

static void conv_task(void *arg, int ith, int nth) {
    conv_job *c = arg;
    for (int64_t i = ith; i < c->m; i += nth) {
        uint8_t *q = c->xq + (size_t)i * c->row;
        c->vt->from_float(c->x + i * c->k, q, c->k);
        if (c->xf) c->vt->to_float(q, c->xf + i * c->k, c->k);
    }
}

/* ---- vec_dot path ---- */

typedef struct dot_job {
    qk_vec_dot_fn dot;
    const uint8_t *w;
    size_t w_row;
    const uint8_t *xq;
    size_t xq_row;
    int64_t k, n, m;
    float *y;
} dot_job;

static void dot_task(void *arg, int ith, int nth) {
    dot_job *j = arg;
    int64_t r0 = j->n * ith / nth, r1 = j->n * (ith + 1) / nth;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = j->w + (size_t)r * j->w_row;
        for (int64_t i = 0; i < j->m; i++) j->dot((int)j->k, &j->y[i * j->n + r], wr, j->xq + (size_t)i * j->xq_row);
    }
}

/* ---- dequantize + sgemm path ---- */

typedef struct gemm_job {
    qk_to_float_fn to_float;
    const uint8_t *w;
    size_t w_row;
    const float *xf;
    float *wf;      /* tile_rows(k) * k floats per thread */
    int64_t k, n, m;
    float *y;
} gemm_job;

static void gemm_task(void *arg, int ith, int nth) {
    gemm_job *j = arg;
    int64_t r0 = j->n * ith / nth, r1 = j->n * (ith + 1) / nth;
    const int64_t T = tile_rows(j->k);
    float *wf = j->wf + (size_t)ith * (size_t)T * (size_t)j->k;
    for (int64_t r = r0; r < r1; r += T) {
        int64_t t = r1 - r < T ? r1 - r : T;
        for (int64_t i = 0; i < t; i++) j->to_float(j->w + (size_t)(r + i) * j->w_row, wf + i * j->k, j->k);
        /* Y[:, r:r+t] = Xf · Wfᵀ */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)j->m, (int)t, (int)j->k, 1.0f, j->xf,
                    (int)j->k, wf, (int)j->k, 0.0f, j->y + r, (int)j->n);
    }
}

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_threaded(void) { openblas_set_num_threads(1); }

int qk_matmul(qk_pool *pool, qk_matmul_scratch *s, qk_type wtype, const void *w, int64_t k, int64_t n,
              const float *x, int64_t m, float *y) {
    const qk_type_traits *tt = qk_type_get(wtype);
    const qk_type_traits *vt = qk_type_get(tt->vec_dot_type);
    const int use_blas = m >= QK_MATMUL_BLAS_MIN_M;
    const size_t row = qk_row_size(tt->vec_dot_type, k);
    const uint8_t *xq = (const uint8_t *)x;
    const float *xf = x;
    if (tt->vec_dot_type != QK_TYPE_F32) {
        if (grow(&s->xq, &s->xq_size, row * (size_t)m)) return -1;
        if (use_blas && grow((void **)&s->xf, &s->xf_size, sizeof(float) * (size_t)(m * k))) return -1;
        conv_job cj = {vt, x, s->xq, use_blas ? s->xf : NULL, k, m, row};
        qk_pool_run(pool, conv_task, &cj);
        xq = s->xq;
        xf = s->xf;
    }
    if (!use_blas) {
        dot_job dj = {tt->vec_dot, w, qk_row_size(wtype, k), xq, row, k, n, m, y};
        qk_pool_run(pool, dot_task, &dj);
        return 0;
    }
    pthread_once(&blas_once, blas_single_threaded);
    size_t need = sizeof(float) * (size_t)tile_rows(k) * (size_t)k * (size_t)qk_pool_size(pool);
    if (grow((void **)&s->wf, &s->wf_size, need)) return -1;
    gemm_job gj = {tt->to_float, w, qk_row_size(wtype, k), xf, s->wf, k, n, m, y};
    qk_pool_run(pool, gemm_task, &gj);
    return 0;
}

void qk_matmul_scratch_free(qk_matmul_scratch *s) {
    free(s->xq);
    free(s->xf);
    free(s->wf);
    *s = (qk_matmul_scratch){0};
}
