/*
 * ppl_run.c — qk-perplexity's evaluation loops: chunked PPL (optionally writing a
 * base-logits file and its exact-NLL sidecar), --kl-divergence against a base-logits file,
 * and per-prompt scoring. The protocol is llama.cpp's (see ppl_run.h and
 * llama-cpp-reference.md §1b).
 *
 * Structure: an evaluator (ppl_eval) turns "pieces" — token sequences, each its own KV
 * sequence starting at position 0 — into the logits of the requested positions, packing
 * several pieces into one qk_decode when they fit in n_batch and splitting a piece over
 * several decodes otherwise. The per-token work on those logits (NLL, 16-bit record, KLD)
 * runs on a worker pool, one row per token; sums are then taken in token order.
 */
#include "ppl_run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "forward.h"
#include "threads.h"
#include "tokenizer.h"

static double now_s(void) { return 1e-9 * (double)qk_now_ns(); }

/* ---- evaluator ------------------------------------------------------------------------ */

/* One sequence to run: tokens tok[0..len), logits wanted for positions out_lo..out_hi. */
typedef struct ppl_piece {
    const int32_t *tok;
    int32_t len, out_lo, out_hi;
} ppl_piece;

typedef struct ppl_eval {
    qk_context *ctx;
    qk_pool *pool;
    int32_t n_vocab, cap, n_seq;
    int32_t bos;        /* substituted at position 0 of every piece, or -1 */
    int32_t *tok, *pos, *seq;
    int8_t *flag;
    float *gather;      /* outputs of a piece split over several decodes */
    size_t gather_cap;  /* floats */
} ppl_eval;

static void eval_free(ppl_eval *e) {
    qk_context_free(e->ctx);
    if (e->pool) qk_pool_free(e->pool);
    free(e->tok);
    free(e->pos);
    free(e->seq);
    free(e->flag);
    free(e->gather);
    memset(e, 0, sizeof *e);
}

/* A context of n_seq sequences of n_ctx positions, decoding at most min(n_batch, n_seq·n_ctx)
 * tokens at a time. substitute_bos: put BOS at position 0 when the vocab adds BOS. */
static int eval_init(ppl_eval *e, const qk_model *m, int32_t n_ctx, int32_t n_batch, int32_t n_seq,
                     int32_t n_threads, bool substitute_bos, qk_err *err) {
    memset(e, 0, sizeof *e);
    e->n_vocab = m->hp.n_vocab;
    e->n_seq = n_seq;
    const int64_t all = (int64_t)n_seq * n_ctx;
    e->cap = (int32_t)(all < n_batch ? all : n_batch);
    e->bos = -1;
    if (substitute_bos && m->vocab && qk_vocab_add_bos(m->vocab)) {
        const int32_t b = qk_vocab_bos(m->vocab);
        if (b >= 0 && b < e->n_vocab) e->bos = b;
    }
    qk_context_params cp = {n_ctx, n_seq, e->cap, n_threads};
    e->ctx = qk_context_new(m, cp, err);
    if (!e->ctx) return -1;
    e->pool = qk_pool_new(n_threads);
    e->tok = malloc((size_t)e->cap * sizeof *e->tok);
    e->pos = malloc((size_t)e->cap * sizeof *e->pos);
    e->seq = malloc((size_t)e->cap * sizeof *e->seq);
    e->flag = malloc((size_t)e->cap * sizeof *e->flag);
    if (!e->pool || !e->tok || !e->pos || !e->seq || !e->flag) {
        eval_free(e);
        return qk_errf(err, "out of memory (or cannot start threads) for the evaluator");
    }
    return 0;
}

static int eval_decode(ppl_eval *e, int32_t n, qk_err *err) {
    qk_batch b = {n, e->tok, e->pos, e->seq, e->flag};
    qk_err de = {{0}};
    if (qk_decode(e->ctx, &b, &de) != 0) return qk_errf(err, "forward pass failed: %s", de.msg);
    return 0;
}

static void eval_put(ppl_eval *e, int32_t at, const ppl_piece *pc, int32_t s, int32_t k) {
    e->tok[at] = (k == 0 && e->bos >= 0) ? e->bos : pc->tok[k];
    e->pos[at] = k;
    e->seq[at] = s;
    e->flag[at] = (int8_t)(k >= pc->out_lo && k <= pc->out_hi);
}

/* Run n pieces (sequence s = piece s) and return the logits of their requested positions,
 * piece after piece: [Σ (out_hi − out_lo + 1)][n_vocab]. Several pieces must fit in one
 * decode (Σ len <= cap, n <= n_seq); a single piece may be longer than cap. */
static const float *eval_pieces(ppl_eval *e, const ppl_piece *pc, int32_t n, qk_err *err) {
    int64_t total = 0, want = 0;
    for (int32_t s = 0; s < n; s++) {
        total += pc[s].len;
        want += pc[s].out_hi - pc[s].out_lo + 1;
    }
    qk_kv_clear(e->ctx);
    int32_t n_out = 0;
    if (total <= e->cap) {
        int32_t at = 0;
        for (int32_t s = 0; s < n; s++)
            for (int32_t k = 0; k < pc[s].len; k++) eval_put(e, at++, &pc[s], s, k);
        if (eval_decode(e, at, err)) return NULL;
        const float *l = qk_get_logits(e->ctx, &n_out);
        if (n_out != want) {
            qk_errf(err, "internal error: %d logit rows returned, %lld requested", n_out,
                    (long long)want);
            return NULL;
        }
        return l;
    }
    if (n != 1) {
        qk_errf(err, "internal error: %d pieces of %lld tokens exceed the batch", n, (long long)total);
        return NULL;
    }
    const size_t need = (size_t)want * (size_t)e->n_vocab;
    if (need > e->gather_cap) {
        float *g = realloc(e->gather, need * sizeof *g);
        if (!g) {
            qk_errf(err, "out of memory for %lld x %d logits", (long long)want, e->n_vocab);
            return NULL;
        }
        e->gather = g;
        e->gather_cap = need;
    }
    size_t got = 0;
    for (int32_t start = 0; start < pc->len; start += e->cap) {
        const int32_t size = pc->len - start < e->cap ? pc->len - start : e->cap;
        for (int32_t k = 0; k < size; k++) eval_put(e, k, pc, 0, start + k);
        if (eval_decode(e, size, err)) return NULL;
        const float *l = qk_get_logits(e->ctx, &n_out);
        if (n_out > 0) {
            if (got + (size_t)n_out > (size_t)want) break;
            memcpy(e->gather + got * e->n_vocab, l, (size_t)n_out * e->n_vocab * sizeof(float));
            got += (size_t)n_out;
        }
    }
    if (got != (size_t)want) {
        qk_errf(err, "internal error: %zu logit rows returned, %lld requested", got, (long long)want);
        return NULL;
    }
    return e->gather;
}

/* The part of a run's result every mode fills alike: the shapes and the thread count
 * (n_ctx: per sequence; n_chunks: chunks or prompts). The caller adds the figures. */
static void result_init(ppl_run_result *res, const ppl_eval *e, const ppl_run_params *p, int32_t n_ctx,
                        int32_t n_chunks) {
    memset(res, 0, sizeof *res);
    res->n_ctx = n_ctx;
    res->n_batch = p->n_batch;
    res->n_seq = e->n_seq;
    res->n_chunks = n_chunks;
    res->n_vocab = e->n_vocab;
    res->n_threads = qk_pool_size(e->pool);
}

/* ---- per-token work on the pool ------------------------------------------------------- */

typedef struct rows_job {
    const float *logits;   /* [n_rows][n_vocab] */
    int32_t n_vocab, n_rows;
    const int32_t *next;   /* token predicted by row r */
    double *nll;           /* out: exact NLL per row (NaN for non-finite logits) */
    uint16_t *recs;        /* out (optional): base records, nv words each */
    int32_t nv;
    const uint16_t *base;  /* KLD mode: base records, nv words each */
    ppl_kld_token *kt;     /* KLD mode: out */
} rows_job;

static void rows_task(void *arg, int ith, int nth) {
    const rows_job *j = arg;
    const int32_t r0 = (int32_t)((int64_t)j->n_rows * ith / nth);
    const int32_t r1 = (int32_t)((int64_t)j->n_rows * (ith + 1) / nth);
    for (int32_t r = r0; r < r1; r++) {
        const float *l = j->logits + (size_t)r * j->n_vocab;
        if (j->base) {
            ppl_kld_token_eval(l, j->n_vocab, j->base + (size_t)r * j->nv, j->next[r], &j->kt[r]);
        } else if (j->recs) {
            j->nll[r] = ppl_logits_encode(l, j->n_vocab, j->next[r], j->recs + (size_t)r * j->nv);
        } else {
            ppl_row rw;
            ppl_row_scan(l, j->n_vocab, &rw);
            j->nll[r] = rw.finite ? ppl_row_nll(&rw, l, j->next[r]) : NAN;
        }
    }
}

static int nonfinite_error(qk_err *err, const char *where, int32_t index) {
    return qk_errf(err,
                   "the model produced NaN/Inf logits (%s %d) — the model file is likely broken "
                   "(NaN weights?)",
                   where, index);
}

/* ---- progress -------------------------------------------------------------------------- */

typedef struct progress {
    FILE *log;
    const char *what;
    double t0, last;
    bool enabled; /* periodic lines (when results and progress do not share a terminal) */
} progress;

static void progress_init(progress *pg, const ppl_run_params *p, const char *what) {
    pg->log = p->log;
    pg->what = what;
    pg->t0 = pg->last = now_s();
    pg->enabled = p->log && !(isatty(fileno(p->log)) && isatty(fileno(p->out)));
}

/* llama.cpp's "%.2f seconds per pass - ETA [h hours] m minutes" after the first pass. */
static void progress_first(progress *pg, double t_pass, int32_t n_passes) {
    if (!pg->log) return;
    fprintf(pg->log, "%s: %.2f seconds per pass - ETA ", pg->what, t_pass);
    int total = (int)(t_pass * n_passes);
    if (total >= 3600) {
        fprintf(pg->log, "%d hours ", total / 3600);
        total %= 3600;
    }
    fprintf(pg->log, "%.2f minutes\n", total / 60.0);
    fflush(pg->log);
}

static void progress_tick(progress *pg, int64_t done, int64_t total, const char *unit) {
    const double t = now_s();
    if (!pg->enabled || done >= total || t - pg->last < 10.0) return;
    pg->last = t;
    const double el = t - pg->t0;
    fprintf(pg->log, "%s: %lld/%lld %s, %.0f s elapsed, ETA %.0f s\n", pg->what, (long long)done,
            (long long)total, unit, el, done > 0 ? el * (double)(total - done) / (double)done : 0.0);
    fflush(pg->log);
}

/* ---- PPL over chunks ------------------------------------------------------------------- */

/* Sequences per decode for n_pieces pieces of up to n_ctx tokens: as many as fit in
 * n_batch, at least 1, at most 64 (the piece arrays below hold 64) and n_pieces. */
static int32_t seqs_per_pass(int32_t n_ctx, int32_t n_batch, int32_t n_pieces) {
    int32_t n_seq = n_batch / n_ctx;
    if (n_seq < 1) n_seq = 1;
    if (n_seq > 64) n_seq = 64;
    return n_seq < n_pieces ? n_seq : n_pieces;
}

/* Chunks i .. i+nb-1 of the n_ctx-token chunks at tokens as pieces, each scored from its
 * middle: positions n_ctx/2 .. n_ctx-2 predict the next token (llama.cpp's protocol).
 * all: logits of positions 0 .. n_ctx-1 instead (llama-imatrix's logits_all). */
static void chunk_pieces(ppl_piece *pc, const int32_t *tokens, int32_t i, int32_t nb, int32_t n_ctx, bool all) {
    for (int32_t s = 0; s < nb; s++)
        pc[s] = all ? (ppl_piece){tokens + (size_t)(i + s) * n_ctx, n_ctx, 0, n_ctx - 1}
                    : (ppl_piece){tokens + (size_t)(i + s) * n_ctx, n_ctx, n_ctx / 2, n_ctx - 2};
}

int ppl_run_perplexity(const qk_model *m, const int32_t *tokens, size_t n_tokens,
                       const ppl_run_params *p, const char *save_base, ppl_run_result *res,
                       qk_err *err) {
    return ppl_run_perplexity_ex(m, tokens, n_tokens, p, NULL, save_base, res, err);
}

int ppl_run_perplexity_ex(const qk_model *m, const int32_t *tokens, size_t n_tokens,
                          const ppl_run_params *p, const ppl_run_extra *x, const char *save_base,
                          ppl_run_result *res, qk_err *err) {
    static const ppl_run_extra none = {0};
    if (!x) x = &none;
    const int32_t n_ctx = p->n_ctx, n_vocab = m->hp.n_vocab;
    if (n_tokens < 2 * (size_t)n_ctx)
        return qk_errf(err,
                       "the text tokenizes to only %zu tokens; at least 2·n_ctx = %lld are needed — "
                       "use a longer text or a smaller -c",
                       n_tokens, 2 * (long long)n_ctx);
    const int32_t first = n_ctx / 2, n_scored = ppl_logits_n_scored(n_ctx);
    const size_t n_max = n_tokens / (size_t)n_ctx;
    const int32_t n_chunk = (int32_t)((p->n_chunks > 0 && (size_t)p->n_chunks < n_max) ? (size_t)p->n_chunks : n_max);
    const int32_t n_seq = seqs_per_pass(n_ctx, p->n_batch, n_chunk);
    const int32_t nv = ppl_logits_nv(n_vocab);

    /* rows of logits per chunk, and the first scored one among them */
    const int32_t n_rows = x->all_logits ? n_ctx : n_scored, row0 = x->all_logits ? first : 0;
    const char *prog = x->prog ? x->prog : "qk-perplexity";

    ppl_eval e;
    if (eval_init(&e, m, n_ctx, p->n_batch, n_seq, p->n_threads, true, err)) return -1;
    if (x->hook) qk_context_set_matmul_hook(e.ctx, x->hook, x->hook_arg);
    int rc = -1;
    ppl_logits_writer *w = NULL;
    uint16_t *recs = NULL;
    double *nll_all = malloc((size_t)n_chunk * n_scored * sizeof *nll_all);
    char *nll_path = NULL;
    if (!nll_all) {
        qk_errf(err, "out of memory");
        goto done;
    }
    if (save_base) {
        recs = malloc((size_t)n_scored * nv * sizeof *recs);
        nll_path = malloc(strlen(save_base) + 5);
        if (!recs || !nll_path) {
            qk_errf(err, "out of memory for the base-logits records");
            goto done;
        }
        strcpy(nll_path, save_base);
        strcat(nll_path, ".nll");
        w = ppl_logits_create(save_base, n_ctx, n_vocab, n_chunk, tokens, err);
        if (!w) goto done;
        if (p->log) fprintf(p->log, "%s: saving all logits to %s\n", prog, save_base);
    }
    if (p->log) {
        fprintf(p->log, "%s: calculating perplexity over %d chunks, n_ctx=%d, "
                "batch_size=%d, n_seq=%d\n", prog, n_chunk, n_ctx, p->n_batch, n_seq);
        fflush(p->log);
    }

    ppl_nll_acc acc = {0};
    progress pg;
    progress_init(&pg, p, prog);
    const double t0 = now_s();
    ppl_piece pc[64];
    for (int32_t i = 0; i < n_chunk; i += n_seq) {
        const int32_t nb = n_seq < n_chunk - i ? n_seq : n_chunk - i;
        const double tg = now_s();
        chunk_pieces(pc, tokens, i, nb, n_ctx, x->all_logits);
        const float *logits = eval_pieces(&e, pc, nb, err);
        if (!logits) goto done;
        for (int32_t s = 0; s < nb; s++) {
            const int32_t c = i + s;
            rows_job job = {logits + ((size_t)s * n_rows + row0) * n_vocab, n_vocab, n_scored,
                            tokens + (size_t)c * n_ctx + first + 1, nll_all + (size_t)c * n_scored,
                            recs, nv, NULL, NULL};
            qk_pool_run(e.pool, rows_task, &job);
            for (int32_t t = 0; t < n_scored; t++) {
                const double v = nll_all[(size_t)c * n_scored + t];
                if (!isfinite(v)) {
                    nonfinite_error(err, "chunk", c + 1);
                    goto done;
                }
                ppl_nll_acc_add(&acc, v);
            }
            if (w && ppl_logits_write_records(w, recs, (size_t)n_scored, err)) goto done;
            const double av = acc.sum / (double)acc.n;
            if (p->ppl_output_type == 0) {
                fprintf(p->out, "[%d]%.4f,", c + 1, exp(av));
            } else {
                double av2 = acc.sum2 / (double)acc.n - av * av;
                if (av2 > 0) av2 = sqrt(av2 / (double)(acc.n - 1));
                fprintf(p->out, "%8d  %.4f  %4f  %4f\n", c * n_ctx, exp(av), av, av2);
            }
            fflush(p->out);
        }
        if (i == 0) progress_first(&pg, now_s() - tg, (n_chunk + n_seq - 1) / n_seq);
        progress_tick(&pg, i + nb, n_chunk, "chunks");
    }
    const double seconds = now_s() - t0;
    fprintf(p->out, "\n");
    double unc, mean;
    const double ppl = ppl_nll_acc_ppl(&acc, &unc, &mean);
    fprintf(p->out, "Final estimate: PPL = %.4f +/- %.5f\n", ppl, unc);
    fflush(p->out);

    if (w) {
        if (ppl_nll_write(nll_path, n_ctx, n_vocab, n_chunk,
                          ppl_tokens_hash(tokens, (size_t)n_chunk * n_ctx), nll_all, err))
            goto done;
        ppl_logits_writer *wc = w;
        w = NULL;
        if (ppl_logits_commit(wc, err)) {
            unlink(nll_path);
            goto done;
        }
    }
    result_init(res, &e, p, n_ctx, n_chunk);
    res->n_scored = acc.n;
    res->n_evaluated = (uint64_t)n_chunk * n_ctx;
    res->ppl = ppl;
    res->ppl_unc = unc;
    res->mean_nll = mean;
    res->seconds = seconds;
    rc = 0;
done:
    ppl_logits_abort(w);
    free(recs);
    free(nll_all);
    free(nll_path);
    eval_free(&e);
    return rc;
}

/* ---- KL divergence against a base-logits file ----------------------------------------- */

static void print_kld_row(FILE *out, int32_t chunk, const ppl_kld_summary *s) {
    fprintf(out, "%4d", chunk);
    fprintf(out, "    %9.4f ± %9.4f", s->ppl_q, s->ppl_q_unc);
    fprintf(out, "    %10.5f ± %10.5f", s->mean_ln_ratio, s->mean_ln_ratio_unc);
    fprintf(out, "    %10.5f ± %10.5f", s->mean_kld, s->mean_kld_unc);
    fprintf(out, "    %6.3f ± %6.3f %%", 100.0 * s->rms_dp, 100.0 * s->rms_dp_unc);
    fprintf(out, "    %6.3f ± %6.3f %%\n", 100.0 * s->same_top, 100.0 * s->same_top_unc);
    fflush(out);
}

int ppl_run_kld(const qk_model *m, ppl_logits_file *base, const double *base_exact,
                const ppl_run_params *p, ppl_kld_summary *s, ppl_run_result *res, qk_err *err) {
    const int32_t n_ctx = base->n_ctx, n_vocab = base->n_vocab;
    if (p->n_ctx != n_ctx)
        return qk_errf(err, "the base-logits file was computed with n_ctx = %d but this run uses "
                       "-c %d — pass -c %d", n_ctx, p->n_ctx, n_ctx);
    if (m->hp.n_vocab != n_vocab)
        return qk_errf(err, "the base-logits file has n_vocab = %d but the model has %d — it was "
                       "made with another vocabulary", n_vocab, m->hp.n_vocab);
    const int32_t first = n_ctx / 2, n_scored = base->n_scored, nv = base->nv;
    const int32_t n_chunk = (p->n_chunks > 0 && p->n_chunks < base->n_chunk) ? p->n_chunks : base->n_chunk;
    const int32_t n_seq = seqs_per_pass(n_ctx, p->n_batch, n_chunk);
    const size_t n_all = (size_t)n_chunk * n_scored;

    ppl_eval e;
    if (eval_init(&e, m, n_ctx, p->n_batch, n_seq, p->n_threads, true, err)) return -1;
    int rc = -1;
    uint16_t *brecs = malloc((size_t)n_seq * n_scored * nv * sizeof *brecs);
    ppl_kld_token *kt = malloc((size_t)n_scored * sizeof *kt);
    float *kld_values = malloc(n_all * sizeof *kld_values);
    float *dp_values = malloc(n_all * sizeof *dp_values);
    if (!brecs || !kt || !kld_values || !dp_values) {
        qk_errf(err, "out of memory for %d chunks of base log-probs", n_seq);
        goto done;
    }
    if (p->log) {
        fprintf(p->log, "qk-perplexity: KL divergence over %d chunks, n_ctx=%d, batch_size=%d, "
                "n_seq=%d\n", n_chunk, n_ctx, p->n_batch, n_seq);
        fflush(p->log);
    }

    ppl_kld_acc acc = {0};
    uint64_t exact_bad = 0, exact_checked = 0;
    progress pg;
    progress_init(&pg, p, "qk-perplexity");
    const double t0 = now_s();
    ppl_piece pc[64];
    size_t k = 0;
    for (int32_t i = 0; i < n_chunk; i += n_seq) {
        const int32_t nb = n_seq < n_chunk - i ? n_seq : n_chunk - i;
        const double tg = now_s();
        if (ppl_logits_read_chunks(base, nb, brecs, err)) goto done;
        chunk_pieces(pc, base->tokens, i, nb, n_ctx, false);
        const float *logits = eval_pieces(&e, pc, nb, err);
        if (!logits) goto done;
        if (i == 0) {
            progress_first(&pg, now_s() - tg, (n_chunk + n_seq - 1) / n_seq);
            fprintf(p->out, "\nchunk             PPL               ln(PPL(Q)/PPL(base))          "
                    "KL Divergence              Δp RMS            Same top p\n");
        }
        for (int32_t c = 0; c < nb; c++) {
            const int32_t chunk = i + c;
            rows_job job = {logits + (size_t)c * n_scored * n_vocab, n_vocab, n_scored,
                            base->tokens + (size_t)chunk * n_ctx + first + 1, NULL, NULL, nv,
                            brecs + (size_t)c * n_scored * nv, kt};
            qk_pool_run(e.pool, rows_task, &job);
            for (int32_t t = 0; t < n_scored; t++, k++) {
                if (!kt[t].finite) {
                    nonfinite_error(err, "chunk", chunk + 1);
                    goto done;
                }
                double ex = NAN;
                if (base_exact) {
                    ex = base_exact[k];
                    float scale, mlp;
                    ppl_logits_rec_params(brecs + ((size_t)c * n_scored + t) * nv, &scale, &mlp);
                    if (kt[t].nll_base < -mlp - scale) { /* not at the 16-nat floor */
                        exact_checked++;
                        if (fabs(ex - kt[t].nll_base) > scale + 0.01) exact_bad++;
                    }
                }
                ppl_kld_acc_add(&acc, &kt[t], ex);
                kld_values[k] = (float)kt[t].kld;
                dp_values[k] = kt[t].dp;
            }
            ppl_kld_summary run;
            ppl_kld_summary_from_acc(&acc, &run);
            print_kld_row(p->out, chunk + 1, &run);
        }
        progress_tick(&pg, i + nb, n_chunk, "chunks");
    }
    const double seconds = now_s() - t0;
    fprintf(p->out, "\n");
    if (acc.count >= 100)
        ppl_kld_summarize(&acc, kld_values, dp_values, k, s);
    else
        ppl_kld_summary_from_acc(&acc, s);
    if (base_exact && exact_bad * 100 > exact_checked) {
        if (p->log)
            fprintf(p->log, "qk-perplexity: warning: the exact-NLL sidecar disagrees with the base "
                    "records on %llu of %llu tokens — ignoring it\n",
                    (unsigned long long)exact_bad, (unsigned long long)exact_checked);
        s->has_exact = false;
    }

    result_init(res, &e, p, n_ctx, n_chunk);
    res->n_scored = acc.count;
    res->n_evaluated = (uint64_t)n_chunk * n_ctx;
    res->ppl = s->ppl_q;
    res->ppl_unc = s->ppl_q_unc;
    res->mean_nll = acc.count ? acc.sum_nll / (double)acc.count : NAN;
    res->seconds = seconds;
    rc = 0;
done:
    free(brecs);
    free(kt);
    free(kld_values);
    free(dp_values);
    eval_free(&e);
    return rc;
}

/* ---- per-prompt mode ------------------------------------------------------------------- */

int ppl_run_prompts(const qk_model *m, int32_t *const *prompts, const int32_t *len,
                    int32_t n_prompts, const ppl_run_params *p, ppl_prompt_rec *recs,
                    ppl_run_result *res, qk_err *err) {
    if (n_prompts < 1) return qk_errf(err, "no prompts to score");
    int32_t max_len = 0;
    for (int32_t i = 0; i < n_prompts; i++) {
        if (len[i] < 2)
            return qk_errf(err, "prompt %d tokenizes to %d token(s); at least 2 are needed to score "
                           "anything", i + 1, len[i]);
        if (len[i] > p->n_ctx)
            return qk_errf(err, "prompt %d has %d tokens, more than -c %d — raise -c", i + 1, len[i],
                           p->n_ctx);
        if (len[i] > max_len) max_len = len[i];
    }
    const int32_t n_vocab = m->hp.n_vocab;
    const int32_t n_seq = seqs_per_pass(max_len, p->n_batch, n_prompts);

    ppl_eval e;
    if (eval_init(&e, m, max_len, p->n_batch, n_seq, p->n_threads, false, err)) return -1;
    int rc = -1;
    double *nll = malloc((size_t)max_len * sizeof *nll);
    if (!nll) {
        qk_errf(err, "out of memory");
        goto done;
    }
    if (p->log) {
        fprintf(p->log, "qk-perplexity: scoring %d prompts (longest %d tokens), up to %d per "
                "pass\n", n_prompts, max_len, n_seq);
        fflush(p->log);
    }
    ppl_nll_acc acc = {0};
    uint64_t n_eval = 0;
    progress pg;
    progress_init(&pg, p, "qk-perplexity");
    const double t0 = now_s();
    ppl_piece pc[64];
    for (int32_t i = 0; i < n_prompts;) {
        /* pack consecutive prompts into one decode */
        int32_t nb = 0, total = 0;
        while (i + nb < n_prompts && nb < n_seq &&
               (nb == 0 || total + len[i + nb] <= e.cap)) {
            total += len[i + nb];
            pc[nb] = (ppl_piece){prompts[i + nb], len[i + nb], 0, len[i + nb] - 2};
            nb++;
        }
        const double tg = now_s();
        const float *logits = eval_pieces(&e, pc, nb, err);
        if (!logits) goto done;
        size_t row = 0;
        for (int32_t g = 0; g < nb; g++) {
            const int32_t pi = i + g, ns = len[pi] - 1;
            rows_job job = {logits + row * n_vocab, n_vocab, ns, prompts[pi] + 1, nll,
                            NULL, 0, NULL, NULL};
            qk_pool_run(e.pool, rows_task, &job);
            row += (size_t)ns;
            double sum = 0;
            for (int32_t t = 0; t < ns; t++) {
                if (!isfinite(nll[t])) {
                    nonfinite_error(err, "prompt", pi + 1);
                    goto done;
                }
                sum += nll[t];
                ppl_nll_acc_add(&acc, nll[t]);
            }
            recs[pi] = (ppl_prompt_rec){len[pi], ns, ppl_tokens_hash(prompts[pi], (size_t)len[pi]), sum};
            fprintf(p->out, "prompt %5d  %6d tokens  PPL %12.4f\n", pi + 1, len[pi], exp(sum / ns));
            n_eval += (uint64_t)len[pi];
        }
        fflush(p->out);
        if (i == 0) progress_first(&pg, now_s() - tg, (n_prompts + nb - 1) / nb);
        i += nb;
        progress_tick(&pg, i, n_prompts, "prompts");
    }
    const double seconds = now_s() - t0;
    double unc, mean;
    const double ppl = ppl_nll_acc_ppl(&acc, &unc, &mean);
    result_init(res, &e, p, max_len, n_prompts);
    res->n_scored = acc.n;
    res->n_evaluated = n_eval;
    res->ppl = ppl;
    res->ppl_unc = unc;
    res->mean_nll = mean;
    res->seconds = seconds;
    rc = 0;
done:
    free(nll);
    eval_free(&e);
    return rc;
}
