/*
 * sensitivity.c — the sensitivity pass of sensitivity.h: which tensors, which candidate
 * types, the proxy (quantize, dequantize, weighted squared error, row-parallel on a
 * worker pool with per-thread sums added in thread order, so the figures do not depend
 * on scheduling), and the measured KLD (one tensor swapped into the loaded model, then
 * perplexity/ppl_run.h's --kl-divergence loop against base log-probs written once).
 * The journal and the JSON live in sensitivity_io.c.
 */
#include "sensitivity.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "ftype.h"
#include "imatrix_use.h"
#include "mixture.h"
#include "model.h"
#include "ppl_logits.h"
#include "ppl_run.h"
#include "sensitivity_io.h"
#include "threads.h"
#include "tokenizer.h"

/* The candidate types, in the order the JSON lists them (the base type comes last; F16 is
 * a candidate of an F32 or BF16 base, where mixtures fall back to it for rows no block
 * divides). */
static const qk_type CANDIDATES[] = {QK_TYPE_Q2_K, QK_TYPE_Q3_K, QK_TYPE_Q4_K, QK_TYPE_Q5_K,
                                     QK_TYPE_Q6_K, QK_TYPE_Q8_0, QK_TYPE_Q4_0, QK_TYPE_Q4_1,
                                     QK_TYPE_Q5_0, QK_TYPE_Q5_1, QK_TYPE_IQ4_NL, QK_TYPE_F16};
#define N_CANDIDATES (sizeof CANDIDATES / sizeof CANDIDATES[0])

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

const char *qk_sens_mode_name(qk_sens_mode m) {
    return m == QK_SENS_KLD ? "kld" : m == QK_SENS_SCALED ? "scaled" : "proxy";
}

double qk_sens_cost(const qk_sens *s, const qk_sens_cand *c) {
    if (c->type == QK_TYPE_F32 || c->type == QK_TYPE_F16 || c->type == QK_TYPE_BF16) return 0.0;
    if (isfinite(c->kld)) {
        double floor = isfinite(s->base_mean_kld) ? s->base_mean_kld : 0.0;
        return c->kld > floor ? c->kld - floor : 0.0;
    }
    return isfinite(c->kld_est) ? c->kld_est : c->proxy;
}

/* ------------------------------------------------------------------ ranks ----------- */

typedef struct rank_item {
    double v;
    size_t i;
} rank_item;

static int cmp_rank(const void *a, const void *b) {
    const rank_item *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v ? 1 : (x->i > y->i) - (x->i < y->i);
}

/* Ranks 1..n of v (ties: their mean rank) into r. Returns -1 when out of memory. */
static int ranks(const double *v, size_t n, double *r) {
    rank_item *it = malloc(n * sizeof *it);
    if (!it) return -1;
    for (size_t i = 0; i < n; i++) it[i] = (rank_item){v[i], i};
    qsort(it, n, sizeof *it, cmp_rank);
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b + 1 < n && it[b + 1].v == it[a].v) b++;
        for (size_t k = a; k <= b; k++) r[it[k].i] = (a + b) / 2.0 + 1.0;
        a = b + 1;
    }
    free(it);
    return 0;
}

double qk_sens_spearman(const double *x, const double *y, size_t n) {
    if (n < 2) return NAN;
    double *rx = malloc(n * sizeof *rx), *ry = malloc(n * sizeof *ry);
    double rho = NAN;
    if (rx && ry && ranks(x, n, rx) == 0 && ranks(y, n, ry) == 0) {
        double mx = (n + 1) / 2.0, sxy = 0, sxx = 0, syy = 0;
        for (size_t i = 0; i < n; i++) {
            sxy += (rx[i] - mx) * (ry[i] - mx);
            sxx += (rx[i] - mx) * (rx[i] - mx);
            syy += (ry[i] - mx) * (ry[i] - mx);
        }
        if (sxx > 0 && syy > 0) rho = sxy / sqrt(sxx * syy);
    }
    free(rx);
    free(ry);
    return rho;
}

/* ------------------------------------------------------------ quantize + proxy ------ */

#define MAX_POOL 256

/* One candidate of one tensor, quantized row by row on the pool. */
typedef struct quant_job {
    const float *w;       /* [n_rows][ne0] */
    int64_t ne0, n_rows, rows_per_mat;
    const float *imat;    /* [n_mat][ne0] or NULL */
    qk_type type;
    uint8_t *q;           /* [n_rows][row_size] */
    size_t row_size;
    double sq[MAX_POOL], wsq[MAX_POOL];
    int oom;
} quant_job;

static void quant_task(void *arg, int ith, int nth) {
    quant_job *j = arg;
    const qk_type_traits *tt = qk_type_get(j->type);
    int64_t r0 = j->n_rows * ith / nth, r1 = j->n_rows * (ith + 1) / nth;
    float *deq = malloc((size_t)j->ne0 * sizeof *deq);
    double sq = 0, wsq = 0;
    if (!deq) {
        j->oom = 1;
        return;
    }
    for (int64_t r = r0; r < r1; r++) {
        const float *row = j->w + r * j->ne0;
        const float *im = j->imat ? j->imat + (r / j->rows_per_mat) * j->ne0 : NULL;
        uint8_t *qr = j->q + r * j->row_size;
        if (im && tt->quantize_imat) tt->quantize_imat(row, qr, j->ne0, im);
        else tt->from_float(row, qr, j->ne0);
        tt->to_float(qr, deq, j->ne0);
        for (int64_t c = 0; c < j->ne0; c++) {
            double d = (double)row[c] - deq[c];
            sq += d * d;
            if (im) wsq += im[c] * d * d;
        }
    }
    free(deq);
    if (ith < MAX_POOL) {
        j->sq[ith] = sq;
        j->wsq[ith] = wsq;
    }
}

/* --------------------------------------------------------------------- the pass ----- */

typedef struct pass {
    const qk_sens_opts *o;
    qk_model *m;
    qk_imx imx;
    qk_pool *pool;
    qk_sens s;
    qk_sens_journal jr;
    char *base_path;       /* temporary base log-probs */
    FILE *devnull;
    ppl_run_params pp;
    int32_t n_chunks;      /* calibration chunks: o->n_chunks, or qk_sens_auto_chunks() */
} pass;

/* The tensors the Q4_K_M mixture would quantize (mixture.h step 2; the same set for
 * every quantized ftype), in the llama.cpp write order, into p->s.tensors. */
static int list_tensors(pass *p, qk_err *err) {
    const gguf_ctx *g = p->m->gguf;
    size_t n = (size_t)g->n_tensors;
    qk_mix_tensor *mt = calloc(n, sizeof *mt);
    qk_mix_choice *ch = calloc(n, sizeof *ch);
    size_t *order = calloc(n, sizeof *order);
    p->s.tensors = calloc(n, sizeof *p->s.tensors);
    int rc = -1;
    if (!mt || !ch || !order || !p->s.tensors) {
        qk_errf(err, "out of memory");
        goto done;
    }
    qk_imx_mix_tensors(&p->imx, g, mt);
    qk_mix_params mp;
    qk_mix_params_init(&mp);
    mp.ftype = QK_FTYPE_MOSTLY_Q4_K_M;
    mp.has_imatrix = p->imx.sel.n_entries > 0;
    const qk_hparams *hp = &p->m->hp;
    qk_mix_model mm = {hp->arch, hp->n_layer, hp->n_head, hp->n_head_kv, 0};
    if (qk_mix_plan(&mp, &mm, mt, n, order, ch, NULL, err)) goto done;
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        if (!ch[i].eligible) continue;
        const gguf_tensor *t = &g->tensors[i];
        if (t->type != QK_TYPE_F32 && t->type != QK_TYPE_F16 && t->type != QK_TYPE_BF16) {
            qk_errf(err, "tensor %s is %s: the sensitivity pass needs an F32/F16/BF16 model — give the unquantized "
                    "model", t->name, qk_type_name(t->type));
            goto done;
        }
        qk_sens_tensor *st = &p->s.tensors[p->s.n_tensors++];
        snprintf(st->name, sizeof st->name, "%s", t->name);
        memcpy(st->ne, t->ne, sizeof st->ne);
        st->n_elements = (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
        st->base_type = t->type;
        st->layer = -1;
        const char *kind = t->name;
        if (strncmp(t->name, "blk.", 4) == 0) {
            char *end;
            long l = strtol(t->name + 4, &end, 10);
            if (*end == '.') {
                st->layer = (int32_t)l;
                kind = end + 1;
            }
        }
        size_t kl = strlen(kind);
        if (kl > 7 && strcmp(kind + kl - 7, ".weight") == 0) kl -= 7;
        snprintf(st->kind, sizeof st->kind, "%.*s", (int)kl, kind);
        for (size_t c = 0; c < N_CANDIDATES; c++) {
            const qk_type_traits *tt = qk_type_get(CANDIDATES[c]);
            if (t->ne[0] % tt->blck_size || CANDIDATES[c] == t->type) continue;
            st->cand[st->n_cand++] = (qk_sens_cand){CANDIDATES[c],
                                                    (uint64_t)qk_row_size(CANDIDATES[c], t->ne[0]) *
                                                        (st->n_elements / (uint64_t)t->ne[0]),
                                                    NAN, NAN, NAN, NAN, NAN};
        }
        st->cand[st->n_cand++] = (qk_sens_cand){t->type, t->nbytes, 0.0, 0.0, 0.0, 0.0, NAN};
    }
    rc = 0;
done:
    free(mt);
    free(ch);
    free(order);
    return rc;
}

int32_t qk_sens_auto_chunks(double n_passes, int32_t n_ctx, uint64_t n_params) {
    double per_chunk = n_passes * n_ctx * (double)n_params;
    double n = per_chunk > 0 ? floor(QK_SENS_AUTO_WORK / per_chunk) : QK_SENS_AUTO_MAX_CHUNKS;
    return n < 1 ? 1 : n > QK_SENS_AUTO_MAX_CHUNKS ? QK_SENS_AUTO_MAX_CHUNKS : (int32_t)n;
}

/* The measured passes of this run: one per tensor (scaled), one per tensor and
 * non-base candidate (kld), only tensors --only selects. */
static double measured_passes(const pass *p) {
    double n = 0;
    for (size_t k = 0; k < p->s.n_tensors; k++) {
        const qk_sens_tensor *st = &p->s.tensors[k];
        if (p->o->only && !strstr(st->name, p->o->only)) continue;
        n += p->o->mode == QK_SENS_KLD ? (double)(st->n_cand - 1) : 1.0;
    }
    return n;
}

/* Tokenize the calibration text, write the base log-probs and measure the floor. */
static int prepare_kld(pass *p, qk_err *err) {
    const qk_sens_opts *o = p->o;
    size_t len, n_tokens;
    char *text = qk_file_read(o->calib_path, &len, err);
    if (!text) return -1;
    int32_t *tokens = NULL;
    int rc = qk_tokenize(p->m->vocab, text, len, true, false, &tokens, &n_tokens, err);
    free(text);
    if (rc) return -1;
    if (n_tokens < 2 * (size_t)o->n_ctx) {
        free(tokens);
        return qk_errf(err, "calibration text %s has %zu tokens, fewer than 2·n_ctx = %d — give a longer text or a "
                       "smaller -c", o->calib_path, n_tokens, 2 * o->n_ctx);
    }
    size_t bl = strlen(o->out_path) + 16;
    if (!(p->base_path = malloc(bl))) {
        free(tokens);
        return qk_errf(err, "out of memory");
    }
    snprintf(p->base_path, bl, "%s.base.logits", o->out_path);
    p->devnull = fopen("/dev/null", "w");
    p->pp = (ppl_run_params){o->n_ctx, o->n_batch, p->n_chunks, o->n_threads, 0, p->devnull, NULL};
    ppl_run_result res;
    double t0 = now_s();
    rc = ppl_run_perplexity(p->m, tokens, n_tokens, &p->pp, p->base_path, &res, err);
    free(tokens);
    if (rc) return -1;
    p->s.n_chunks = res.n_chunks;
    if (o->log)
        fprintf(o->log, "qk-sensitivity: base log-probs: %d chunks of %d tokens, PPL %.4f, %.2f s per pass\n",
                res.n_chunks, o->n_ctx, res.ppl, now_s() - t0);
    return 0;
}

/* Mean KLD of the model as it is bound now against the base log-probs. */
static int measure_kld(pass *p, double *kld, double *unc, qk_err *err) {
    ppl_logits_file *lf = ppl_logits_open(p->base_path, err);
    if (!lf) return -1;
    ppl_kld_summary s;
    ppl_run_result res;
    int rc = ppl_run_kld(p->m, lf, NULL, &p->pp, &s, &res, err);
    ppl_logits_close(lf);
    if (rc) return -1;
    *kld = s.mean_kld;
    *unc = s.mean_kld_unc;
    return 0;
}

/* The gguf tensor of st. */
static const gguf_tensor *src_tensor(const pass *p, const qk_sens_tensor *st) {
    const gguf_ctx *g = p->m->gguf;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, st->name) == 0) return &g->tensors[i];
    return NULL;
}

/* The type measured in scaled mode: Q4_K, else Q4_0, else the first candidate. */
static qk_type reference_type(const qk_sens_tensor *st) {
    for (size_t c = 0; c < st->n_cand; c++)
        if (st->cand[c].type == QK_TYPE_Q4_K) return QK_TYPE_Q4_K;
    for (size_t c = 0; c < st->n_cand; c++)
        if (st->cand[c].type == QK_TYPE_Q4_0) return QK_TYPE_Q4_0;
    return st->cand[0].type;
}

/* Scaled mode: kld_est of every candidate of st from its reference (sensitivity.h). */
static void scale_tensor(const qk_sens *s, qk_sens_tensor *st) {
    qk_type ref = reference_type(st);
    const qk_sens_cand *r = NULL;
    for (size_t c = 0; c < st->n_cand; c++)
        if (st->cand[c].type == ref) r = &st->cand[c];
    if (!r || !isfinite(r->kld)) return;
    double floor = isfinite(s->base_mean_kld) ? s->base_mean_kld : 0.0;
    double k = r->kld - floor > 1e-9 ? r->kld - floor : 1e-9;
    for (size_t c = 0; c < st->n_cand; c++) {
        qk_sens_cand *cd = &st->cand[c];
        if (cd->type == st->base_type) continue;
        cd->kld_est = r->proxy > 0 ? k * cd->proxy / r->proxy : k;
    }
}

/* Every candidate of tensor st not already in the journal. */
static int run_tensor(pass *p, qk_sens_tensor *st, size_t k, double t_start, qk_err *err) {
    const qk_sens_opts *o = p->o;
    const gguf_tensor *src = src_tensor(p, st);
    const int64_t ne0 = st->ne[0], n_rows = (int64_t)(st->n_elements / (uint64_t)ne0);
    float *w = malloc(st->n_elements * sizeof *w);
    uint8_t *q = NULL;
    float *imat = NULL;
    int rc = -1;
    if (!w) return qk_errf(err, "out of memory for tensor %s", st->name);
    const qk_type_traits *bt = qk_type_get(src->type);
    size_t brow = qk_row_size(src->type, ne0);
    for (int64_t r = 0; r < n_rows; r++) bt->to_float((const uint8_t *)src->data + r * brow, w + r * ne0, ne0);
    const qk_imatrix_entry *e = qk_imx_find(&p->imx, st->name);
    if (e && !(imat = qk_imx_weights(e))) {
        qk_errf(err, "out of memory");
        goto done;
    }
    for (size_t c = 0; c < st->n_cand; c++) {
        qk_sens_cand *cd = &st->cand[c];
        if (cd->type == st->base_type) continue;
        if (qk_sens_journal_lookup(&p->jr, st->name, cd)) continue;
        double t0 = now_s();
        free(q);
        if (!(q = malloc(cd->bytes))) {
            qk_errf(err, "out of memory for tensor %s", st->name);
            goto done;
        }
        quant_job j = {w, ne0, n_rows, st->ne[1], imat, cd->type, q, qk_row_size(cd->type, ne0), {0}, {0}, 0};
        qk_pool_run(p->pool, quant_task, &j);
        if (j.oom) {
            qk_errf(err, "out of memory");
            goto done;
        }
        cd->sq_err = 0;
        double wsq = 0;
        for (int i = 0; i < MAX_POOL; i++) {
            cd->sq_err += j.sq[i];
            wsq += j.wsq[i];
        }
        cd->proxy = imat ? wsq : cd->sq_err;
        bool measure = (o->mode == QK_SENS_KLD || (o->mode == QK_SENS_SCALED && cd->type == reference_type(st))) &&
                       (!o->only || strstr(st->name, o->only));
        if (measure) {
            gguf_tensor qt = *src;
            qt.type = cd->type;
            qt.data = q;
            qt.nbytes = cd->bytes;
            if (qk_model_swap_tensor(p->m, src, &qt) == 0) {
                qk_errf(err, "tensor %s is not one the forward pass uses", st->name);
                goto done;
            }
            int mrc = measure_kld(p, &cd->kld, &cd->kld_unc, err);
            qk_model_swap_tensor(p->m, &qt, src);
            if (mrc) goto done;
        }
        if (qk_sens_journal_add(&p->jr, st->name, cd, err)) goto done;
        if (o->log) {
            double el = now_s() - t_start;
            fprintf(o->log, "qk-sensitivity: [%zu/%zu] %-28s %-6s kld %-11.4g proxy %-11.4g %.2f s (%.0f s so far)\n",
                    k + 1, p->s.n_tensors, st->name, qk_type_name(cd->type), cd->kld, cd->proxy, now_s() - t0, el);
            fflush(o->log);
        }
    }
    if (o->mode == QK_SENS_SCALED) scale_tensor(&p->s, st);
    rc = 0;
done:
    free(w);
    free(q);
    free(imat);
    return rc;
}

/* Spearman's rank correlation between the proxy and the measured KLD over every measured
 * (tensor, type): how well the proxy orders the choices the knapsack weighs. */
static void log_spearman(const qk_sens *s, FILE *log) {
    size_t n = 0;
    double *x = malloc(s->n_tensors * QK_SENS_MAX_CAND * sizeof *x);
    double *y = malloc(s->n_tensors * QK_SENS_MAX_CAND * sizeof *y);
    for (size_t i = 0; x && y && i < s->n_tensors; i++)
        for (size_t c = 0; c < s->tensors[i].n_cand; c++) {
            const qk_sens_cand *cd = &s->tensors[i].cand[c];
            if (cd->type == s->tensors[i].base_type || !isfinite(cd->kld)) continue;
            x[n] = cd->proxy;
            y[n] = cd->kld;
            n++;
        }
    if (x && y) fprintf(log, "qk-sensitivity: Spearman rank correlation of proxy and measured KLD over %zu (tensor, type) "
                        "pairs: %.4f\n", n, qk_sens_spearman(x, y, n));
    free(x);
    free(y);
}

static void pass_free(pass *p) {
    qk_sens_journal_close(&p->jr);
    qk_imx_free(&p->imx);
    qk_pool_free(p->pool);
    qk_model_free(p->m);
    if (p->base_path) {
        unlink(p->base_path);
        char nll[4200];
        snprintf(nll, sizeof nll, "%s.nll", p->base_path);
        unlink(nll);
    }
    free(p->base_path);
    if (p->devnull) fclose(p->devnull);
    qk_sens_free(&p->s);
}

int qk_sens_run(const qk_sens_opts *o, qk_err *err) {
    pass p = {0};
    p.o = o;
    int rc = -1;
    double t_start = now_s();
    p.s.base_mean_kld = NAN;
    p.s.mode = o->mode;
    p.s.n_ctx = o->n_ctx;
    p.s.n_chunks = o->mode != QK_SENS_PROXY ? o->n_chunks : 0;
    if (!(p.s.model = strdup(o->model_path)) ||
        (o->mode != QK_SENS_PROXY && o->calib_path && !(p.s.calibration = strdup(o->calib_path))) ||
        (o->imatrix_path && !(p.s.imatrix = strdup(o->imatrix_path)))) {
        qk_errf(err, "out of memory");
        goto done;
    }
    if (!(p.m = qk_model_load(o->model_path, err))) goto done;
    qk_imx_opts io = {o->imatrix_path, NULL, 0, NULL, 0};
    if (qk_imx_load(&io, p.m->gguf, &p.imx, err)) goto done;
    if (list_tensors(&p, err)) goto done;
    if (!(p.pool = qk_pool_new(o->n_threads > 0 ? o->n_threads : qk_cpu_count()))) {
        qk_errf(err, "cannot start the worker threads");
        goto done;
    }
    if (o->mode != QK_SENS_PROXY) {
        p.n_chunks = o->n_chunks > 0 ? o->n_chunks : qk_sens_auto_chunks(measured_passes(&p), o->n_ctx, p.m->n_params);
        if (prepare_kld(&p, err)) goto done;
        double unc;
        if (measure_kld(&p, &p.s.base_mean_kld, &unc, err)) goto done;
        if (o->log) fprintf(o->log, "qk-sensitivity: floor (base against its own 16-bit log-probs): mean KLD %.3g\n",
                            p.s.base_mean_kld);
    }
    if (qk_sens_journal_open(&p.jr, &p.s, o->out_path, o->resume, err)) goto done;
    if (o->log && p.jr.n_entries)
        fprintf(o->log, "qk-sensitivity: resuming: %zu finished entries in the journal\n", p.jr.n_entries);
    for (size_t k = 0; k < p.s.n_tensors; k++)
        if (run_tensor(&p, &p.s.tensors[k], k, t_start, err)) goto done;
    if (o->log && o->mode != QK_SENS_PROXY) log_spearman(&p.s, o->log);
    if (qk_sens_write_json(&p.s, o->out_path, err)) goto done;
    qk_sens_journal_remove(&p.jr);
    if (o->log) fprintf(o->log, "qk-sensitivity: %zu tensors, wrote %s in %.1f s\n", p.s.n_tensors, o->out_path,
                        now_s() - t_start);
    rc = 0;
done:
    pass_free(&p);
    return rc;
}
