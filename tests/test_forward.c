/*
 * test_forward.c — the forward pass against llama.cpp.
 *
 * The golden base-logits files (llama-perplexity --kl-divergence-base, 4 chunks of 256)
 * hold both the token stream and llama.cpp's log-probabilities at every scored position.
 * We run the same chunks through our engine (BOS substituted for the first token, as
 * llama-perplexity does when the vocab adds BOS), and check
 *   - the mean KL divergence of our distribution from llama.cpp's is below FWD_KLD,
 *   - the PPL over the 4 chunks equals the golden running value [4] within FWD_PPL_REL,
 *   - token-by-token decoding with the KV cache gives the logits of one batched pass
 *     (up to float summation order).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "model.h"
#include "testutil.h"

/* Tolerances against llama.cpp's 4-chunk base files, from the largest deviations measured
 * across the arithmetic variants of tests/run-variants.sh (kernels, OpenBLAS core types and
 * thread counts; both models): mean KLD 1.1e-6 (stories260K; wiki-qwen2-13m 3.0e-7), PPL
 * 8.2e-5 (stories260K; wiki-qwen2-13m 7.4e-6). */
#define FWD_KLD 3e-6
#define FWD_PPL_REL 2e-4

typedef struct golden_kld {
    int32_t n_ctx, n_vocab, n_chunk;
    int32_t *tokens;
    const uint16_t *records; /* n_chunk * n_scored records of nv words */
    size_t nv;
    char *buf;
} golden_kld;

static void load_golden(const char *rel, golden_kld *g) {
    size_t len = 0;
    g->buf = qk_test_read_file(qk_test_shared(rel), &len);
    ck_assert_msg(g->buf != NULL, "cannot read %s", rel);
    ck_assert_int_eq(memcmp(g->buf, "_logits_", 8), 0);
    memcpy(&g->n_ctx, g->buf + 8, 4);
    memcpy(&g->n_vocab, g->buf + 12, 4);
    memcpy(&g->n_chunk, g->buf + 16, 4);
    g->tokens = (int32_t *)(void *)(g->buf + 20);
    g->nv = 2 * (((size_t)g->n_vocab + 1) / 2) + 4;
    size_t n_scored = (size_t)(g->n_ctx - 1 - g->n_ctx / 2);
    size_t want = 20 + 4 * (size_t)g->n_chunk * g->n_ctx + (size_t)g->n_chunk * n_scored * 2 * g->nv;
    ck_assert_uint_eq(len, want);
    g->records = (const uint16_t *)(void *)(g->buf + 20 + 4 * (size_t)g->n_chunk * g->n_ctx);
}

/* log-softmax of logits into out (double precision) */
static void log_softmax(const float *logits, int n, double *out) {
    float max = logits[0];
    for (int i = 1; i < n; i++) if (logits[i] > max) max = logits[i];
    double sum = 0;
    for (int i = 0; i < n; i++) sum += exp((double)logits[i] - max);
    double lse = log(sum) + max;
    for (int i = 0; i < n; i++) out[i] = logits[i] - lse;
}

/* KL(base || ours) over the entries above the file's 16-nat floor (llama-perplexity's
 * kl_divergence skips the clipped ones). */
static double kld_record(const uint16_t *rec, const double *lp, int n_vocab) {
    float scale, min_lp;
    memcpy(&scale, rec, 4);
    memcpy(&min_lp, rec + 2, 4);
    const uint16_t *q = rec + 4;
    double kl = 0;
    for (int i = 0; i < n_vocab; i++) {
        if (q[i] == 0) continue;
        double lb = (double)scale * q[i] + min_lp;
        kl += exp(lb) * (lb - lp[i]);
    }
    return kl;
}

/* Run `n_seq` chunks starting at chunk c0 in one batch; fills logits for positions
 * first..n_ctx-2 of each chunk into out [n_seq][n_scored][n_vocab]. */
static void run_chunks(qk_context *ctx, const qk_model *m, const golden_kld *g, int c0, int n_seq, float *out) {
    int n_ctx = g->n_ctx, first = n_ctx / 2, n_scored = n_ctx - 1 - first;
    int n = n_ctx * n_seq;
    int32_t *tok = malloc(sizeof(int32_t) * n), *pos = malloc(sizeof(int32_t) * n), *seq = malloc(sizeof(int32_t) * n);
    int8_t *want = malloc(n);
    for (int s = 0; s < n_seq; s++)
        for (int p = 0; p < n_ctx; p++) {
            int i = s * n_ctx + p;
            tok[i] = g->tokens[(c0 + s) * n_ctx + p];
            if (p == 0 && qk_vocab_add_bos(m->vocab)) tok[i] = qk_vocab_bos(m->vocab);
            pos[i] = p;
            seq[i] = s;
            want[i] = p >= first && p < n_ctx - 1;
        }
    qk_batch b = {n, tok, pos, seq, want};
    qk_err err = {{0}};
    qk_kv_clear(ctx);
    ck_assert_msg(qk_decode(ctx, &b, &err) == 0, "decode: %s", err.msg);
    int32_t n_out = 0;
    const float *lg = qk_get_logits(ctx, &n_out);
    ck_assert_int_eq(n_out, n_seq * n_scored);
    memcpy(out, lg, sizeof(float) * (size_t)n_out * g->n_vocab);
    free(tok); free(pos); free(seq); free(want);
}

static void check_against_golden(const char *model_rel, const char *kld_rel, double golden_ppl4) {
    qk_err err = {{0}};
    qk_model *m = qk_model_load(qk_test_shared(model_rel), &err);
    ck_assert_msg(m != NULL, "load: %s", err.msg);
    golden_kld g;
    load_golden(kld_rel, &g);
    ck_assert_int_eq(g.n_vocab, m->hp.n_vocab);
    int n_scored = g.n_ctx - 1 - g.n_ctx / 2;
    qk_context_params p = {g.n_ctx, 2, 2 * g.n_ctx, 2};
    qk_context *ctx = qk_context_new(m, p, &err);
    ck_assert_msg(ctx != NULL, "context: %s", err.msg);
    float *logits = malloc(sizeof(float) * 2 * (size_t)n_scored * g.n_vocab);
    double *lp = malloc(sizeof(double) * g.n_vocab);
    double nll = 0, kld = 0, kld_max = 0;
    int count = 0;
    for (int c = 0; c < g.n_chunk; c += 2) {
        run_chunks(ctx, m, &g, c, 2, logits);
        for (int s = 0; s < 2; s++)
            for (int t = 0; t < n_scored; t++) {
                const float *row = logits + ((size_t)s * n_scored + t) * g.n_vocab;
                log_softmax(row, g.n_vocab, lp);
                int next = g.tokens[(c + s) * g.n_ctx + g.n_ctx / 2 + t + 1];
                nll -= lp[next];
                const uint16_t *rec = g.records + ((size_t)(c + s) * n_scored + t) * g.nv;
                double k = kld_record(rec, lp, g.n_vocab);
                kld += k;
                if (k > kld_max) kld_max = k;
                count++;
            }
    }
    double ppl = exp(nll / count), mean_kld = kld / count;
    printf("%s: PPL(4 chunks) %.4f (llama.cpp %.4f, rel diff %.2e), mean KLD vs llama.cpp %.3e, max %.3e\n",
           model_rel, ppl, golden_ppl4, fabs(ppl / golden_ppl4 - 1), mean_kld, kld_max);
    ck_assert(qk_test_close(model_rel, "mean KLD vs llama.cpp's logits", mean_kld, 0, 0, FWD_KLD));
    ck_assert(qk_test_close(model_rel, "PPL (4 chunks)", ppl, golden_ppl4, FWD_PPL_REL, 0));
    free(logits);
    free(lp);
    free(g.buf);
    qk_context_free(ctx);
    qk_model_free(m);
}

START_TEST(test_qwen2_f16_matches_llama_cpp) {
    /* golden ppl100.log: [4]283.4038 */
    check_against_golden("data/models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf",
                         "golden/wiki-qwen2-13m/perplexity/wiki-qwen2-13m.F16.c256.chunks4.kld", 283.4038);
}
END_TEST

START_TEST(test_llama_stories_matches_llama_cpp) {
    /* golden stories260K.F32.ppl100.log: running value after chunk 4 */
    char *log = qk_test_read_file(qk_test_shared("golden/stories260K/perplexity/stories260K.F32.ppl100.log"), NULL);
    ck_assert_ptr_nonnull(log);
    const char *at = strstr(log, "[4]");
    ck_assert_ptr_nonnull(at);
    double ppl4 = atof(at + 3);
    free(log);
    check_against_golden("data/models/stories260K/stories260K.gguf",
                         "golden/stories260K/perplexity/stories260K.F32.c256.chunks4.kld", ppl4);
}
END_TEST

/* Batch composition and KV-cache decoding must not change the numbers. */
START_TEST(test_batch_and_incremental_decode_agree) {
    qk_err err = {{0}};
    qk_model *m = qk_model_load(qk_test_shared("data/models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf"), &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    const int n = 24, V = m->hp.n_vocab;
    int32_t tok[24], pos[24], seq[24];
    int8_t want[24];
    for (int i = 0; i < n; i++) {
        tok[i] = (i * 7919 + 13) % V;
        pos[i] = i;
        seq[i] = 0;
        want[i] = 1;
    }
    qk_context_params p = {64, 2, 64, 2};
    qk_context *ctx = qk_context_new(m, p, &err);
    ck_assert_ptr_nonnull(ctx);
    qk_batch b = {n, tok, pos, seq, want};
    ck_assert_int_eq(qk_decode(ctx, &b, &err), 0);
    float *ref = malloc(sizeof(float) * (size_t)n * V);
    memcpy(ref, qk_get_logits(ctx, NULL), sizeof(float) * (size_t)n * V);

    /* token by token, in sequence 1, reusing the cache */
    qk_kv_clear(ctx);
    double maxdiff = 0;
    for (int i = 0; i < n; i++) {
        int32_t s1 = 1;
        qk_batch one = {1, &tok[i], &pos[i], &s1, NULL};
        ck_assert_int_eq(qk_decode(ctx, &one, &err), 0);
        int32_t n_out;
        const float *lg = qk_get_logits(ctx, &n_out);
        ck_assert_int_eq(n_out, 1);
        for (int v = 0; v < V; v++) {
            double d = fabs(lg[v] - ref[(size_t)i * V + v]);
            if (d > maxdiff) maxdiff = d;
        }
    }
    /* the batch path multiplies with sgemm, the single-token path with vec_dot: the
     * products are the same numbers, summed in another order (logits are O(10)) */
    ck_assert(qk_test_close("24 tokens, batch vs one by one", "max |Δ logit|", maxdiff, 0, 0, 1e-2));

    /* an out-of-range token is an error, not a crash */
    int32_t bad = V;
    qk_batch badb = {1, &bad, &pos[0], &seq[0], NULL};
    ck_assert_int_eq(qk_decode(ctx, &badb, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
    free(ref);
    qk_context_free(ctx);
    qk_model_free(m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("forward");
    TCase *tc = tcase_create("forward");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_qwen2_f16_matches_llama_cpp);
    tcase_add_test(tc, test_llama_stories_matches_llama_cpp);
    tcase_add_test(tc, test_batch_and_incremental_decode_agree);
    suite_add_tcase(s, tc);
    return qk_test_main(s);
}
