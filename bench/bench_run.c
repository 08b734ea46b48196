/*
 * bench_run.c — one qk-bench test: fresh context, warm-up, timed repetitions of the
 * prompt (batched) and generation (token by token) parts. Protocol: bench_run.h.
 */
#include "bench_run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_sysinfo.h"
#include "clock.h"
#include "forward.h"
#include "tokenizer.h"

/* Seed of the token generator; any constant works (see bench_run.h). */
#define QK_BENCH_SEED 0x5eed0f0b0b0b0b0bULL

/* splitmix64 (Steele, Lea, Flood 2014, "Fast splittable pseudorandom number generators"). */
int32_t qk_bench_next_token(uint64_t *state, int32_t n_vocab) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return n_vocab > 0 ? (int32_t)(z % (uint64_t)n_vocab) : 0;
}

/* State shared by the prompt and generation parts of one test. */
typedef struct bench_state {
    qk_context *ctx;
    int32_t n_vocab;
    int32_t bos;  /* BOS id when the vocabulary adds BOS, else -1 */
    int n_batch;
    uint64_t rng;
    int32_t *tok, *pos, *seq; /* n_batch each */
    char what[96];            /* test name for error messages */
    long delay_us;            /* QK_BENCH_TEST_DELAY_US (bench_run.h): sleep per decoded token */
} bench_state;

/* The test-only slowdown: delay_us x n_tokens of sleep. */
static void test_delay(const bench_state *s, int n_tokens) {
    if (s->delay_us <= 0) return;
    const long long us = (long long)s->delay_us * n_tokens;
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Decode n_prompt tokens at positions n_past.. in batches of n_batch. */
static int run_prompt(bench_state *s, int n_prompt, int n_past, qk_err *err) {
    int done = 0;
    while (done < n_prompt) {
        int n = n_prompt - done < s->n_batch ? n_prompt - done : s->n_batch;
        for (int i = 0; i < n; i++) {
            int p = n_past + done + i;
            s->tok[i] = (p == 0 && s->bos >= 0) ? s->bos : qk_bench_next_token(&s->rng, s->n_vocab);
            s->pos[i] = p;
            s->seq[i] = 0;
        }
        qk_batch b = {n, s->tok, s->pos, s->seq, NULL};
        qk_err e;
        if (qk_decode(s->ctx, &b, &e) != 0)
            return qk_errf(err, "%s: prompt decode failed: %s", s->what, e.msg);
        test_delay(s, n);
        done += n;
    }
    return 0;
}

/* Decode n_gen tokens one at a time at positions n_past.., reading each token's logits. */
static int run_gen(bench_state *s, int n_gen, int n_past, qk_err *err) {
    int32_t token = s->bos >= 0 ? s->bos : qk_bench_next_token(&s->rng, s->n_vocab);
    for (int i = 0; i < n_gen; i++) {
        int32_t pos = n_past + i, seq = 0;
        qk_batch b = {1, &token, &pos, &seq, NULL};
        qk_err e;
        if (qk_decode(s->ctx, &b, &e) != 0)
            return qk_errf(err, "%s: generation decode failed: %s", s->what, e.msg);
        int32_t n_out = 0;
        const float *logits = qk_get_logits(s->ctx, &n_out);
        if (!logits || n_out < 1) return qk_errf(err, "%s: no logits after decode", s->what);
        test_delay(s, 1);
        token = qk_bench_next_token(&s->rng, s->n_vocab);
    }
    return 0;
}

struct qk_bench_session {
    bench_state s;
    const qk_model *m;
    qk_bench_test t;
    int reps;
    bool profile;
    qk_profile prof;
    uint64_t *samples; /* reps */
    time_t started;
};

void qk_bench_session_close(qk_bench_session *ss, qk_bench_result *out) {
    if (!ss) return;
    if (out) {
        memset(out, 0, sizeof *out);
        out->test = ss->t;
        qk_model_desc(ss->m, out->model_type, sizeof out->model_type);
        out->model_size = ss->m->n_bytes;
        out->model_n_params = ss->m->n_params;
        out->use_mmap = ss->m->use_mmap;
        out->n_ubatch = ss->t.n_ubatch > 0 ? ss->t.n_ubatch : 512;
        out->peak_rss_bytes = qk_bench_peak_rss_bytes();
        out->test_time = ss->started;
        out->n_samples = ss->reps;
        out->samples_ns = ss->samples;
        out->has_profile = ss->profile;
        if (ss->profile) out->profile = ss->prof;
        ss->samples = NULL;
    }
    free(ss->samples);
    free(ss->s.tok);
    qk_context_free(ss->s.ctx);
    free(ss);
}

int qk_bench_session_open(const qk_model *m, const qk_bench_test *t, int reps, bool profile, qk_bench_session **out,
                          qk_err *err) {
    *out = NULL;
    char name[64];
    qk_bench_test_name(t, name, sizeof name);
    if (reps < 1) return qk_errf(err, "%s: repetitions must be >= 1", name);
    if (t->n_prompt < 0 || t->n_gen < 0 || t->n_prompt + t->n_gen <= 0)
        return qk_errf(err, "%s: empty test", name);
    if (t->n_batch < 1) return qk_errf(err, "%s: n_batch must be >= 1", name);
    if (t->n_depth < 0 || t->n_ubatch < 0) return qk_errf(err, "%s: negative depth or n_ubatch", name);
    qk_bench_session *ss = calloc(1, sizeof *ss);
    if (!ss) return qk_errf(err, "%s: out of memory", name);
    ss->m = m;
    ss->t = *t;
    ss->reps = reps;
    ss->profile = profile;
    bench_state *s = &ss->s;
    snprintf(s->what, sizeof s->what, "%s (t=%d)", name, t->n_threads);
    s->n_vocab = m->hp.n_vocab;
    s->bos = (m->vocab && qk_vocab_add_bos(m->vocab)) ? qk_vocab_bos(m->vocab) : -1;
    if (s->bos >= s->n_vocab) s->bos = -1;
    /* decode calls of the prompt parts (the depth fill too): n_ubatch when given, else n_batch */
    const int chunk = t->n_ubatch > 0 && t->n_ubatch < t->n_batch ? t->n_ubatch : t->n_batch;
    const int longest = t->n_prompt > t->n_depth ? t->n_prompt : t->n_depth;
    s->n_batch = longest > 0 && longest < chunk ? longest : chunk;
    if (longest == 0) s->n_batch = 1;
    s->rng = QK_BENCH_SEED;
    const char *delay = getenv("QK_BENCH_TEST_DELAY_US");
    if (delay) s->delay_us = strtol(delay, NULL, 10);
    if (s->delay_us < 0 || s->delay_us > 1000000) s->delay_us = 0;

    qk_bench_peak_rss_reset();
    qk_context_params cp = {t->n_depth + t->n_prompt + t->n_gen, 1, s->n_batch, t->n_threads};
    qk_err e;
    s->ctx = qk_context_new(m, cp, &e);
    if (!s->ctx) {
        qk_errf(err, "%s: cannot create a context: %s", s->what, e.msg);
        qk_bench_session_close(ss, NULL);
        return -1;
    }
    ss->samples = calloc((size_t)reps, sizeof(uint64_t));
    s->tok = malloc(sizeof(int32_t) * (size_t)s->n_batch * 3);
    if (!ss->samples || !s->tok) {
        qk_errf(err, "%s: out of memory", s->what);
        qk_bench_session_close(ss, NULL);
        return -1;
    }
    s->pos = s->tok + s->n_batch;
    s->seq = s->pos + s->n_batch;

    ss->started = time(NULL);
    /* warm-up: the depth, the full prompt, then one generated token */
    qk_kv_clear(s->ctx);
    if ((t->n_depth > 0 && run_prompt(s, t->n_depth, 0, err) != 0) ||
        (t->n_prompt > 0 && run_prompt(s, t->n_prompt, t->n_depth, err) != 0) ||
        (t->n_gen > 0 && run_gen(s, 1, t->n_depth + t->n_prompt, err) != 0)) {
        qk_bench_session_close(ss, NULL);
        return -1;
    }
    if (profile) qk_context_set_profile(s->ctx, &ss->prof);
    *out = ss;
    return 0;
}

int qk_bench_session_rep(qk_bench_session *ss, int r, qk_err *err) {
    bench_state *s = &ss->s;
    const qk_bench_test *t = &ss->t;
    if (r < 0 || r >= ss->reps) return qk_errf(err, "%s: repetition %d out of range", s->what, r);
    qk_kv_clear(s->ctx);
    if (t->n_depth > 0) { /* the cache before the test: filled, not timed nor profiled */
        if (ss->profile) qk_context_set_profile(s->ctx, NULL);
        if (run_prompt(s, t->n_depth, 0, err) != 0) return -1;
        if (ss->profile) qk_context_set_profile(s->ctx, &ss->prof);
    }
    uint64_t t0 = qk_now_ns();
    if (t->n_prompt > 0 && run_prompt(s, t->n_prompt, t->n_depth, err) != 0) return -1;
    if (t->n_gen > 0 && run_gen(s, t->n_gen, t->n_depth + t->n_prompt, err) != 0) return -1;
    uint64_t dt = qk_now_ns() - t0;
    ss->samples[r] = dt > 0 ? dt : 1;
    return 0;
}

int qk_bench_run_test(const qk_model *m, const qk_bench_test *t, int reps, bool profile,
                      qk_bench_progress_fn progress, void *user, qk_bench_result *out,
                      qk_err *err) {
    memset(out, 0, sizeof *out);
    qk_bench_session *ss;
    if (progress) progress(user, t, "warmup", 0, reps);
    if (qk_bench_session_open(m, t, reps, profile, &ss, err) != 0) return -1;
    for (int r = 0; r < reps; r++) {
        if (progress) progress(user, t, "rep", r + 1, reps);
        if (qk_bench_session_rep(ss, r, err) != 0) {
            qk_bench_session_close(ss, NULL);
            return -1;
        }
    }
    qk_bench_session_close(ss, out);
    return 0;
}
