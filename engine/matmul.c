/*
 * matmul.c — weight × activation products (see matmul.h).
 *
 * Invariant: the weight bytes are never modified or copied; activations are converted
 * once per call into `scratch`, and every thread reads them. Rows are split in equal
 * contiguous ranges, so results do not depend on the thread count.
 */
#include "matmul.h"

#include <stdlib.h>

typedef struct mm_job {
    const qk_type_traits *tt;
    const uint8_t *w;
    size_t w_row;   /* bytes per weight row */
    const uint8_t *xq;
    size_t xq_row;  /* bytes per converted activation row */
    int64_t k, n, m;
    float *y;
} mm_job;

typedef struct conv_job {
    qk_from_float_fn from_float;
    const float *x;
    uint8_t *out;
    int64_t k, m;
    size_t row;
} conv_job;

static void conv_task(void *arg, int ith, int nth) {
    conv_job *c = arg;
    for (int64_t i = ith; i < c->m; i += nth) c->from_float(c->x + i * c->k, c->out + (size_t)i * c->row, c->k);
}

static void mm_task(void *arg, int ith, int nth) {
    mm_job *j = arg;
    int64_t r0 = j->n * ith / nth, r1 = j->n * (ith + 1) / nth;
    qk_vec_dot_fn dot = j->tt->vec_dot;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = j->w + (size_t)r * j->w_row;
        for (int64_t i = 0; i < j->m; i++) dot((int)j->k, &j->y[i * j->n + r], wr, j->xq + (size_t)i * j->xq_row);
    }
}

int qk_matmul(qk_pool *pool, qk_matmul_scratch *scratch, qk_type wtype, const void *w, int64_t k,
              int64_t n, const float *x, int64_t m, float *y) {
    const qk_type_traits *tt = qk_type_get(wtype);
    mm_job job = {tt, w, qk_row_size(wtype, k), NULL, 0, k, n, m, y};
    if (tt->vec_dot_type == QK_TYPE_F32) {
        job.xq = (const uint8_t *)x;
        job.xq_row = (size_t)k * sizeof(float);
    } else {
        size_t row = qk_row_size(tt->vec_dot_type, k);
        size_t need = row * (size_t)m;
        if (need > scratch->size) {
            void *p = realloc(scratch->buf, need);
            if (!p) return -1;
            scratch->buf = p;
            scratch->size = need;
        }
        conv_job cj = {qk_type_get(tt->vec_dot_type)->from_float, x, scratch->buf, k, m, row};
        qk_pool_run(pool, conv_task, &cj);
        job.xq = scratch->buf;
        job.xq_row = row;
    }
    qk_pool_run(pool, mm_task, &job);
    return 0;
}

void qk_matmul_scratch_free(qk_matmul_scratch *s) {
    free(s->buf);
    s->buf = NULL;
    s->size = 0;
}
