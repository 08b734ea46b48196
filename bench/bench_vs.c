/*
 * bench_vs.c — two models, one test, repetitions interleaved; and their comparison.
 * Order and output: bench_vs.h.
 */
#include "bench_vs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_regress.h"
#include "bench_stats.h"

int qk_bench_run_pair(const qk_model *ma, const qk_model *mb, const char *path_b, const qk_bench_test *t, int reps,
                      bool profile, qk_bench_progress_fn progress, void *user, qk_bench_result *out_a,
                      qk_bench_result *out_b, qk_err *err) {
    memset(out_a, 0, sizeof *out_a);
    memset(out_b, 0, sizeof *out_b);
    qk_bench_test tb = *t;
    tb.model = path_b;
    qk_bench_session *sa = NULL, *sb = NULL;
    if (progress) progress(user, t, "warmup", 0, reps);
    if (qk_bench_session_open(ma, t, reps, profile, &sa, err) != 0) return -1;
    if (qk_bench_session_open(mb, &tb, reps, profile, &sb, err) != 0) {
        qk_bench_session_close(sa, NULL);
        return -1;
    }
    for (int r = 0; r < reps; r++) {
        if (progress) progress(user, t, "rep", r + 1, reps);
        qk_bench_session *first = r % 2 == 0 ? sa : sb, *second = r % 2 == 0 ? sb : sa;
        if (qk_bench_session_rep(first, r, err) != 0 || qk_bench_session_rep(second, r, err) != 0) {
            qk_bench_session_close(sa, NULL);
            qk_bench_session_close(sb, NULL);
            return -1;
        }
    }
    qk_bench_session_close(sa, out_a);
    qk_bench_session_close(sb, out_b);
    return 0;
}

int qk_bench_vs_add(qk_bench_cmp_set *s, const qk_bench_result *r, const char *build_commit, const char *cpu_info,
                    qk_err *err) {
    if (s->n == 0) {
        snprintf(s->build_commit, sizeof s->build_commit, "%s", r->build_commit[0] ? r->build_commit : build_commit);
        snprintf(s->cpu_info, sizeof s->cpu_info, "%s", cpu_info ? cpu_info : "");
    }
    if (s->n == s->cap) {
        int nc = s->cap ? 2 * s->cap : 16;
        qk_bench_cmp_rec *nv = realloc(s->v, sizeof *nv * (size_t)nc);
        if (!nv) return qk_errf(err, "out of memory");
        s->v = nv;
        s->cap = nc;
    }
    qk_bench_cmp_rec *c = &s->v[s->n];
    memset(c, 0, sizeof *c);
    const int n_tokens = r->test.n_prompt + r->test.n_gen;
    c->samples_ts = malloc(sizeof(double) * (size_t)(r->n_samples > 0 ? r->n_samples : 1));
    if (!c->samples_ts) return qk_errf(err, "out of memory");
    for (int k = 0; k < r->n_samples; k++) c->samples_ts[k] = qk_bench_ts(n_tokens, r->samples_ns[k]);
    c->n_samples = r->n_samples;
    snprintf(c->model_filename, sizeof c->model_filename, "%s", r->test.model);
    snprintf(c->model_type, sizeof c->model_type, "%s", r->model_type);
    c->model_size = r->model_size;
    c->model_n_params = r->model_n_params;
    c->n_threads = r->test.n_threads;
    c->n_prompt = r->test.n_prompt;
    c->n_gen = r->test.n_gen;
    c->n_depth = r->test.n_depth;
    c->n_batch = r->test.n_batch;
    c->n_ubatch = r->n_ubatch;
    const qk_bench_summary su = qk_bench_summarize(r->samples_ns, r->n_samples, n_tokens);
    c->avg_ts = su.avg_ts;
    c->stddev_ts = su.stddev_ts;
    s->n++;
    return 0;
}

void qk_bench_vs_render_md(qk_sb *out, const qk_bench_cmp_set *a, const qk_bench_cmp_set *b, const char *name_a,
                           const char *name_b, double confidence) {
    qk_bench_regress reg;
    qk_err err;
    if (a->n == 0 || qk_bench_regress_compute_paired(a, b, confidence, &reg, &err) != 0) return;
    qk_sb_puts(out, "\n");
    qk_bench_regress_render_md(out, a, b, &reg, name_a, name_b, -1);
    qk_bench_regress_free(&reg);
}
