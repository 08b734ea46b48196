/*
 * mixture_pipeline.c — worker threads convert row chunks of the whole model in file order,
 * the calling thread writes finished tensors in order (see mixture_pipeline.h).
 *
 * State shared under one mutex: the cursor (first tensor that may still have chunks to
 * hand out, and the next tensor to open), per-tensor counters (chunks handed out, chunks
 * finished, first bad row), the output bytes in flight, and the stop flag. A chunk is
 * 65536 elements, so one lock round-trip per chunk costs nothing measurable.
 * Invariants: tensors are opened in order, so the opened, unwritten tensors are always
 * the range [written, opened); a tensor is complete when all its chunks are finished; the
 * writer only waits for tensor `written`, which some worker will open (a tensor may
 * always be opened when nothing is in flight) and finish, so the pipeline cannot stall.
 */
#include "mixture_pipeline.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct tstate {
    int64_t ne0, ne1, ne2, nrows, chunk_rows, n_chunks;
    size_t src_row, dst_row; /* bytes per row */
    int64_t handed, finished; /* chunks */
    int64_t bad_row;          /* first non-finite row seen, or -1 */
    uint8_t *buf;             /* CONVERT: output, allocated when opened */
} tstate;

typedef struct qpipe {
    pthread_mutex_t mu;
    pthread_cond_t cv_work; /* workers: window space freed, or stop */
    pthread_cond_t cv_done; /* writer: a chunk finished, or a worker failed */
    const qk_pipe_tensor *t;
    tstate *s;
    size_t n;
    size_t cur;       /* first tensor that may still have chunks to hand out */
    size_t opened;    /* tensors [0, opened) are open */
    size_t in_flight; /* output bytes of open, unwritten CONVERT tensors */
    size_t chunk_cap; /* floats in a worker's F32 buffer */
    uintptr_t page;
    bool stop;
    bool oom;         /* a worker could not allocate ... */
    size_t oom_k;     /* ... tensor oom_k's output, or (n) its F32 chunk buffer */
} qpipe;

/* Release the whole pages inside [p, p+n) from this process's map. */
static void drop_pages(const qpipe *P, const void *p, size_t n) {
    uintptr_t a = ((uintptr_t)p + P->page - 1) & ~(P->page - 1);
    uintptr_t b = ((uintptr_t)p + n) & ~(P->page - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_DONTNEED);
}

/* Index of the first NaN/Inf in x[0..n), or -1. Scans 64 elements at a time without an
 * early exit (the common all-finite case vectorizes), then pins down the element. */
static int64_t first_nonfinite(const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        uint32_t hit = 0;
        for (int j = 0; j < 64; j++) {
            uint32_t u;
            memcpy(&u, &x[i + j], 4);
            hit |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
        }
        if (hit) break;
    }
    for (; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        if ((u & 0x7f800000u) == 0x7f800000u) return i;
    }
    return -1;
}

/* The error for a NaN/Inf in row `row` of tensor `name` (pipeline and qk_mix_check_finite). */
static int bad_weight(qk_err *err, const char *name, int64_t row) {
    return qk_errf(err, "tensor '%s' has a NaN or Inf weight in row %lld — the input model is corrupt", name,
                   (long long)row);
}

int qk_mix_check_finite(const gguf_tensor *t, qk_err *err) {
    const qk_type_traits *tt = qk_type_get(t->type);
    const int64_t ne0 = t->ne[0], n_rows = gguf_tensor_nelements(t) / ne0;
    const int64_t chunk_rows = QK_PIPE_CHUNK_FLOATS / ne0 > 0 ? QK_PIPE_CHUNK_FLOATS / ne0 : 1;
    const size_t row_bytes = qk_row_size(t->type, ne0);
    float *buf = malloc(sizeof(float) * (size_t)(chunk_rows * ne0));
    if (!buf) return qk_errf(err, "out of memory");
    int rc = 0;
    for (int64_t r = 0; r < n_rows && rc == 0; r += chunk_rows) {
        const int64_t nr = n_rows - r < chunk_rows ? n_rows - r : chunk_rows;
        tt->to_float((const uint8_t *)t->data + (size_t)r * row_bytes, buf, nr * ne0);
        const int64_t bad = first_nonfinite(buf, nr * ne0);
        if (bad >= 0) rc = bad_weight(err, t->name, r + bad / ne0);
    }
    free(buf);
    return rc;
}

/* Under the lock: a worker could not allocate tensor k's output (or, k = n, its F32 chunk
 * buffer); stop the job and wake everyone. */
static void fail_oom(qpipe *P, size_t k) {
    P->oom = true;
    P->oom_k = k;
    P->stop = true;
    pthread_cond_broadcast(&P->cv_done);
    pthread_cond_broadcast(&P->cv_work);
}

/* Under the lock: the next chunk to do (tensor *k, chunk *c), opening tensors as the
 * window allows and waiting when it is full. Returns false when there is no work left
 * or the job stopped. */
static bool take_chunk(qpipe *P, size_t *k, int64_t *c) {
    for (;;) {
        if (P->stop) return false;
        if (P->cur < P->opened) {
            tstate *s = &P->s[P->cur];
            if (s->handed < s->n_chunks) {
                *k = P->cur;
                *c = s->handed++;
                return true;
            }
            P->cur++;
            continue;
        }
        if (P->opened == P->n) return false;
        /* open the next tensor */
        const qk_pipe_tensor *t = &P->t[P->opened];
        tstate *s = &P->s[P->opened];
        if (t->mode == QK_PIPE_CONVERT) {
            if (P->in_flight > 0 && P->in_flight + t->dst_bytes > QK_PIPE_WINDOW_BYTES) {
                pthread_cond_wait(&P->cv_work, &P->mu);
                continue;
            }
            s->buf = malloc(t->dst_bytes ? t->dst_bytes : 1);
            if (!s->buf) {
                fail_oom(P, P->opened);
                return false;
            }
            P->in_flight += t->dst_bytes;
        }
        P->opened++;
        if (s->n_chunks == 0) pthread_cond_broadcast(&P->cv_done); /* complete already (COPY) */
    }
}

static void do_chunk(qpipe *P, size_t k, int64_t c, float *buf) {
    const qk_pipe_tensor *t = &P->t[k];
    tstate *s = &P->s[k];
    const int64_t r = c * s->chunk_rows;
    const int64_t nr = s->nrows - r < s->chunk_rows ? s->nrows - r : s->chunk_rows;
    const uint8_t *src = (const uint8_t *)t->src->data + (size_t)r * s->src_row;
    qk_type_get(t->src->type)->to_float(src, buf, nr * s->ne0);
    if (t->mode == QK_PIPE_CONVERT) drop_pages(P, src, (size_t)nr * s->src_row); /* read: let it go */
    const int64_t bad = first_nonfinite(buf, nr * s->ne0);
    if (bad < 0 && t->mode == QK_PIPE_CONVERT) {
        const qk_type_traits *dt = qk_type_get(t->dst_type);
        uint8_t *dst = s->buf + (size_t)r * s->dst_row;
        if (t->weights && dt->quantize_imat) {
            /* with importance weights: one row at a time, each with its matrix's weights
             * (row i of the tensor belongs to matrix (i / ne1) % ne2) */
            for (int64_t i = 0; i < nr; i++) {
                const int64_t mat = ((r + i) / s->ne1) % s->ne2;
                dt->quantize_imat(buf + i * s->ne0, dst + (size_t)i * s->dst_row, s->ne0, t->weights + mat * s->ne0);
            }
        } else {
            /* from_float gives quantize_ref's bytes (types.h contract), faster where a SIMD
             * version is installed (F16, BF16, Q8_0); the reference when there is none. */
            const qk_from_float_fn q = dt->from_float ? dt->from_float : dt->quantize_ref;
            q(buf, dst, nr * s->ne0);
        }
    }
    pthread_mutex_lock(&P->mu);
    if (bad >= 0 && (s->bad_row < 0 || r + bad / s->ne0 < s->bad_row)) s->bad_row = r + bad / s->ne0;
    if (++s->finished == s->n_chunks) pthread_cond_broadcast(&P->cv_done);
    pthread_mutex_unlock(&P->mu);
}

static void *worker_main(void *arg) {
    qpipe *P = arg;
    float *buf = malloc(sizeof(float) * P->chunk_cap);
    pthread_mutex_lock(&P->mu);
    if (!buf) fail_oom(P, P->n);
    size_t k;
    int64_t c;
    while (buf && take_chunk(P, &k, &c)) {
        pthread_mutex_unlock(&P->mu);
        do_chunk(P, k, c, buf);
        pthread_mutex_lock(&P->mu);
    }
    pthread_mutex_unlock(&P->mu);
    free(buf);
    return NULL;
}

int qk_mix_pipeline_run(gguf_writer *w, const qk_pipe_tensor *t, size_t n, int n_threads,
                        qk_pipe_done_fn done, void *done_arg, qk_err *err) {
    if (n_threads < 1) n_threads = 1;
    qpipe P;
    memset(&P, 0, sizeof P);
    P.t = t;
    P.n = n;
    const long ps = sysconf(_SC_PAGESIZE);
    P.page = ps > 0 && (ps & (ps - 1)) == 0 ? (uintptr_t)ps : 4096;
    P.s = calloc(n ? n : 1, sizeof *P.s);
    pthread_t *th = calloc((size_t)n_threads, sizeof *th);
    if (!P.s || !th) {
        free(P.s);
        free(th);
        return qk_errf(err, "out of memory");
    }
    P.chunk_cap = QK_PIPE_CHUNK_FLOATS;
    for (size_t k = 0; k < n; k++) {
        tstate *s = &P.s[k];
        s->bad_row = -1;
        if (t[k].mode == QK_PIPE_COPY) continue; /* no chunks */
        const gguf_tensor *g = t[k].src;
        s->ne0 = g->ne[0];
        s->ne1 = g->ne[1] > 0 ? g->ne[1] : 1;
        s->ne2 = g->ne[2] > 0 ? g->ne[2] : 1;
        s->nrows = g->ne[1] * g->ne[2] * g->ne[3]; /* unused dims are 1 */
        s->chunk_rows = QK_PIPE_CHUNK_FLOATS / s->ne0 > 0 ? QK_PIPE_CHUNK_FLOATS / s->ne0 : 1;
        s->n_chunks = (s->nrows + s->chunk_rows - 1) / s->chunk_rows;
        s->src_row = qk_row_size(g->type, g->ne[0]);
        s->dst_row = t[k].mode == QK_PIPE_CONVERT ? qk_row_size(t[k].dst_type, g->ne[0]) : 0;
        if ((size_t)(s->chunk_rows * s->ne0) > P.chunk_cap) P.chunk_cap = (size_t)(s->chunk_rows * s->ne0);
    }
    pthread_mutex_init(&P.mu, NULL);
    pthread_cond_init(&P.cv_work, NULL);
    pthread_cond_init(&P.cv_done, NULL);
    int started = 0, rc = 0;
    for (; started < n_threads; started++)
        if (pthread_create(&th[started], NULL, worker_main, &P) != 0) break;
    if (started == 0) rc = qk_errf(err, "cannot start %d worker threads", n_threads);

    /* The writer: tensors in order, each as soon as all its chunks are done. */
    for (size_t k = 0; rc == 0 && k < n; k++) {
        tstate *s = &P.s[k];
        pthread_mutex_lock(&P.mu);
        while (!P.oom && !(k < P.opened && s->finished == s->n_chunks)) pthread_cond_wait(&P.cv_done, &P.mu);
        const bool oom = P.oom;
        const size_t oom_k = P.oom_k;
        pthread_mutex_unlock(&P.mu);
        if (oom) {
            if (oom_k < n)
                rc = qk_errf(err, "out of memory (%zu bytes for tensor '%s')", t[oom_k].dst_bytes,
                             t[oom_k].src->name);
            else
                rc = qk_errf(err, "out of memory (%zu bytes of conversion buffer per thread)",
                             P.chunk_cap * sizeof(float));
            break;
        }
        if (s->bad_row >= 0) {
            rc = bad_weight(err, t[k].src->name, s->bad_row);
            break;
        }
        const void *data = t[k].mode == QK_PIPE_CONVERT ? (const void *)s->buf : t[k].src->data;
        if (gguf_writer_write_tensor_data(w, data, t[k].dst_bytes, err)) {
            rc = -1;
            break;
        }
        if (t[k].mode != QK_PIPE_CONVERT) drop_pages(&P, t[k].src->data, t[k].src->nbytes);
        if (done) done(k, done_arg);
        pthread_mutex_lock(&P.mu);
        if (t[k].mode == QK_PIPE_CONVERT) P.in_flight -= t[k].dst_bytes;
        free(s->buf);
        s->buf = NULL;
        pthread_cond_broadcast(&P.cv_work);
        pthread_mutex_unlock(&P.mu);
    }

    pthread_mutex_lock(&P.mu);
    P.stop = true;
    pthread_cond_broadcast(&P.cv_work);
    pthread_mutex_unlock(&P.mu);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    for (size_t k = 0; k < n; k++) free(P.s[k].buf);
    pthread_cond_destroy(&P.cv_done);
    pthread_cond_destroy(&P.cv_work);
    pthread_mutex_destroy(&P.mu);
    free(P.s);
    free(th);
    return rc;
}
