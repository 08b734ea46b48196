/*
 * qk-perplexity.c — the command-line tool: perplexity of a model over a text (llama.cpp's
 * llama-perplexity protocol), saving base-model log-probabilities (--kl-divergence-base),
 * KL divergence of a model against them (--kl-divergence), and per-prompt PPL (--prompts).
 *
 * This file only parses options, reads inputs, prints the final statistics blocks and the
 * JSON report (keys: qkit-team.md, "JSON interface"); the protocol lives in ppl_run.c, the
 * formulas in ppl_stats.c, the file formats in ppl_logits.c, the steps shared with
 * qk-imatrix (input checks, reading, model loading, tokenizing, JSON output) in ppl_tool.c. Errors: one line on stderr
 * ("qk-perplexity: error: …") and exit status 1; output files are written atomically, so
 * a failed run leaves none behind.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "model.h"
#include "paths.h"
#include "ppl_cover.h"
#include "ppl_logits.h"
#include "ppl_run.h"
#include "ppl_stats.h"
#include "ppl_tool.h"
#include "threads.h"
#include "tokenizer.h"
#include "tool.h"

#define PROG "qk-perplexity"

typedef struct opts {
    const char *model, *text, *base, *prompts, *json;
    int32_t n_ctx, n_batch, n_chunks, n_threads, out_type;
    bool ctx_given, kld, use_mmap;
    char nll[4200]; /* BASE.nll, the exact-NLL sidecar ("" without a base) */
} opts;

static void usage(FILE *f) {
    fprintf(f,
            "usage: " PROG " -m MODEL -f TEXT [options]\n"
            "       " PROG " -m MODEL -f TEXT --kl-divergence-base BASE      (also save base log-probs)\n"
            "       " PROG " -m MODEL --kl-divergence-base BASE --kl-divergence   (KLD against BASE)\n"
            "       " PROG " -m MODEL --prompts FILE [--kl-divergence-base BASE [--kl-divergence]]\n"
            "\n"
            "Perplexity as llama.cpp's llama-perplexity computes it: the text is tokenized once,\n"
            "cut into chunks of n_ctx tokens, and the second half of every chunk is scored.\n"
            "Next to PPL (text and --kl-divergence modes): bits per byte = total NLL / (ln 2 x\n"
            "bytes) and word perplexity = exp(total NLL / words), lm-evaluation-harness's\n"
            "definitions, where bytes and words are those of the text the scored tokens cover\n"
            "(their detokenized pieces, second half of each chunk; words split on whitespace).\n"
            "\n"
            "options:\n"
            "  -h, --help                  show this help and exit\n"
            "  -m, --model FILE            model (GGUF) to evaluate (required)\n"
            "  -f, --file FILE             text to evaluate (e.g. wiki.test.raw); not needed with\n"
            "                              --kl-divergence (the tokens come from BASE)\n"
            "  -c, --ctx-size N            tokens per chunk, even, >= 8 (default: 512; with\n"
            "                              --kl-divergence: the n_ctx stored in BASE)\n"
            "  -b, --batch-size N          tokens per forward pass; n_batch/n_ctx chunks share a\n"
            "                              pass (default: 2048)\n"
            "      --chunks N              evaluate at most N chunks (default: -1 = all)\n"
            "  -t, --threads N             worker threads (default: %d = all CPUs)\n"
            "      --mmap                  read the weights from the file mapping, as llama.cpp\n"
            "                              does by default (default: read into memory, faster)\n"
            "      --kl-divergence-base F  without --kl-divergence: write the base log-probs to F\n"
            "                              (llama.cpp's format) and exact NLLs to F.nll;\n"
            "                              with --kl-divergence: read them from F\n"
            "      --save-all-logits F     alias of --kl-divergence-base\n"
            "      --kl-divergence         compare this model against --kl-divergence-base F\n"
            "      --prompts FILE          score each non-blank line of FILE on its own (BOS added\n"
            "                              when the vocab adds one; at most n_ctx tokens each);\n"
            "                              with --kl-divergence-base F: save (or, with\n"
            "                              --kl-divergence, compare against) per-prompt NLLs\n"
            "      --ppl-output-type 0|1   0: running \"[k]PPL,\" values; 1: a table of offset,\n"
            "                              PPL, mean NLL and its standard error (default: 0)\n"
            "      --json FILE             also write every figure as one JSON object to FILE\n",
            qk_cpu_count());
}

/* Long-only options. */
enum { OPT_CHUNKS = 256, OPT_BASE, OPT_KLD, OPT_PROMPTS, OPT_JSON, OPT_OUT_TYPE, OPT_MMAP };

/* The options' combinations, once all are read. */
static int check_args(int argc, char **argv, opts *o) {
    if (optind < argc) return qk_cli_error("unexpected argument '%s' — run " PROG " --help", argv[optind]);
    if (!o->model) return qk_cli_error("no model given — use -m MODEL.gguf");
    if (o->ctx_given && (o->n_ctx < 8 || o->n_ctx % 2 != 0))
        return qk_cli_error("-c %d: n_ctx must be even and at least 8", o->n_ctx);
    if (o->n_chunks == 0) return qk_cli_error("--chunks %d: use N >= 1, or -1 for all", o->n_chunks);
    if (o->kld && !o->base)
        return qk_cli_error("--kl-divergence needs --kl-divergence-base FILE (the base model's log-probs)");
    if (!o->kld && !o->prompts && !o->text) return qk_cli_error("no text given — use -f FILE (e.g. wiki.test.raw)");
    if (o->base && snprintf(o->nll, sizeof o->nll, "%s.nll", o->base) >= (int)sizeof o->nll)
        return qk_cli_error("path too long: %s", o->base);
    return QK_CLI_RUN;
}

static int parse_args(int argc, char **argv, opts *o) {
    static const struct option LONG[] = {{"help", no_argument, NULL, 'h'},
                                         {"model", required_argument, NULL, 'm'},
                                         {"file", required_argument, NULL, 'f'},
                                         {"ctx-size", required_argument, NULL, 'c'},
                                         {"batch-size", required_argument, NULL, 'b'},
                                         {"chunks", required_argument, NULL, OPT_CHUNKS},
                                         {"threads", required_argument, NULL, 't'},
                                         {"kl-divergence-base", required_argument, NULL, OPT_BASE},
                                         {"save-all-logits", required_argument, NULL, OPT_BASE},
                                         {"kl-divergence", no_argument, NULL, OPT_KLD},
                                         {"prompts", required_argument, NULL, OPT_PROMPTS},
                                         {"ppl-output-type", required_argument, NULL, OPT_OUT_TYPE},
                                         {"json", required_argument, NULL, OPT_JSON},
                                         {"mmap", no_argument, NULL, OPT_MMAP},
                                         {0}};
    memset(o, 0, sizeof *o);
    o->n_ctx = 512;
    o->n_batch = 2048;
    o->n_chunks = -1;
    o->n_threads = 0;
    int c, bad = 0;
    while (!bad && (c = qk_cli_next(argc, argv, ":hm:f:c:b:t:", LONG)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return QK_CLI_DONE;
        case 'm': o->model = optarg; break;
        case 'f': o->text = optarg; break;
        case 'c':
            bad = qk_cli_i32("-c", optarg, 1, QK_CLI_MAX_TOKENS, &o->n_ctx);
            o->ctx_given = true;
            break;
        case 'b': bad = qk_cli_i32("-b", optarg, 1, QK_CLI_MAX_TOKENS, &o->n_batch); break;
        case OPT_CHUNKS: bad = qk_cli_i32("--chunks", optarg, -1, INT32_MAX, &o->n_chunks); break;
        case 't': bad = qk_cli_i32("-t", optarg, 0, QK_CLI_MAX_THREADS, &o->n_threads); break;
        case OPT_BASE: o->base = optarg; break;
        case OPT_KLD: o->kld = true; break;
        case OPT_PROMPTS: o->prompts = optarg; break;
        case OPT_OUT_TYPE: bad = qk_cli_i32("--ppl-output-type", optarg, 0, 1, &o->out_type); break;
        case OPT_JSON: o->json = optarg; break;
        case OPT_MMAP: o->use_mmap = true; break;
        default: return QK_CLI_ERROR; /* qk_cli_next printed the error */
        }
    }
    return bad ? QK_CLI_ERROR : check_args(argc, argv, o);
}

/* Checks made before the model is loaded, so that a wrong path fails in milliseconds
 * instead of after a long load or a whole evaluation: no output may be an input or another
 * output, by identity (paths.h); the text (or prompt file) must exist, not be a directory,
 * and not be an empty regular file (a pipe is read as it comes); and every output file's
 * directory must exist and be writable (paths.h). Returns 0, or 1 after printing the error. */
static int check_files(const opts *o) {
    /* the base file is an input with --kl-divergence, else an output, and so is its .nll
     * sidecar (written beside it unless --prompts) */
    const char *base_nll = o->base && !o->prompts ? o->nll : NULL;
    const char *inputs[5] = {o->model, o->text, o->prompts, o->kld ? o->base : NULL, o->kld ? base_nll : NULL};
    const char *outputs[3] = {o->kld ? NULL : o->base, o->kld ? NULL : base_nll, o->json};
    qk_err err = {{0}};
    if (qk_paths_check(inputs, 5, outputs, 3, &err)) return qk_fail("%s", err.msg);
    const char *in[2] = {o->kld || o->prompts ? NULL : o->text, o->prompts}; /* -f is not read then */
    const char *what[2] = {"text file", "prompt file"};
    for (int k = 0; k < 2; k++)
        if (in[k] && ppl_tool_check_input(in[k], what[k])) return 1;
    const char *out[2] = {o->kld ? NULL : o->base, o->json};
    for (int k = 0; k < 2; k++)
        if (out[k] && qk_paths_check_output(out[k], &err)) return qk_fail("%s", err.msg);
    return 0;
}

/* ---- printing the final blocks ------------------------------------------------------- */

static void print_kld_blocks(FILE *out, const ppl_kld_summary *s, const char *base) {
    fprintf(out, "====== Perplexity statistics ======\n");
    fprintf(out, "Mean PPL(Q)                   : %10.6f ± %10.6f\n", s->ppl_q, s->ppl_q_unc);
    fprintf(out, "Mean PPL(base)                : %10.6f ± %10.6f\n", s->ppl_base, s->ppl_base_unc);
    fprintf(out, "Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%\n", 100.0 * s->cor_ln_ppl);
    fprintf(out, "Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f\n", s->mean_ln_ratio, s->mean_ln_ratio_unc);
    fprintf(out, "Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f\n", s->ppl_ratio, s->ppl_ratio_unc);
    fprintf(out, "Mean PPL(Q)-PPL(base)         : %10.6f ± %10.6f\n", s->ppl_diff, s->ppl_diff_unc);
    fprintf(out, "\n====== KL divergence statistics ======\n");
    fprintf(out, "Mean    KLD: %10.6f ± %10.6f\n", s->mean_kld, s->mean_kld_unc);
    const struct { const char *label; double v; } kl[] = {
        {"Maximum", s->kld_max}, {"99.9%  ", s->kld_p99_9}, {"99.0%  ", s->kld_p99},
        {"95.0%  ", s->kld_p95}, {"90.0%  ", s->kld_p90}, {"Median ", s->kld_median},
        {"10.0%  ", s->kld_p10}, {" 5.0%  ", s->kld_p5}, {" 1.0%  ", s->kld_p1},
        {" 0.1%  ", s->kld_p0_1}, {"Minimum", s->kld_min}};
    for (size_t i = 0; i < sizeof kl / sizeof kl[0]; i++)
        fprintf(out, "%s KLD: %10.6f\n", kl[i].label, kl[i].v);
    fprintf(out, "\n====== Token probability statistics ======\n");
    fprintf(out, "Mean    Δp: %6.3f ± %5.3f %%\n", 100.0 * s->mean_dp, 100.0 * s->mean_dp_unc);
    const struct { const char *label; double v; } dp[] = {
        {"Maximum", s->dp_max}, {"99.9%  ", s->dp_p99_9}, {"99.0%  ", s->dp_p99},
        {"95.0%  ", s->dp_p95}, {"90.0%  ", s->dp_p90}, {"75.0%  ", s->dp_p75},
        {"Median ", s->dp_median}, {"25.0%  ", s->dp_p25}, {"10.0%  ", s->dp_p10},
        {" 5.0%  ", s->dp_p5}, {" 1.0%  ", s->dp_p1}, {" 0.1%  ", s->dp_p0_1},
        {"Minimum", s->dp_min}};
    for (size_t i = 0; i < sizeof dp / sizeof dp[0]; i++)
        fprintf(out, "%s Δp: %6.3f%%\n", dp[i].label, 100.0 * dp[i].v);
    fprintf(out, "RMS Δp    : %6.3f ± %5.3f %%\n", 100.0 * s->rms_dp, 100.0 * s->rms_dp_unc);
    fprintf(out, "Same top p: %6.3f ± %5.3f %%\n", 100.0 * s->same_top, 100.0 * s->same_top_unc);
    if (s->has_exact) {
        fprintf(out, "\n====== Exact-NLL statistics (base NLLs from %s.nll, not clipped) ======\n", base);
        fprintf(out, "Mean PPL(base)                : %10.6f\n", s->exact.ppl_base);
        fprintf(out, "Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%\n", 100.0 * s->exact.cor_ln_ppl);
        fprintf(out, "Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f\n", s->exact.mean_ln_ratio,
                s->exact.mean_ln_ratio_unc);
        fprintf(out, "Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f\n", s->exact.ppl_ratio,
                s->exact.ppl_ratio_unc);
    }
    fprintf(out, "\n");
}

/* ---- JSON ----------------------------------------------------------------------------- */

static cJSON *json_common(const opts *o, const qk_model *m, const ppl_run_result *r) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "tool", PROG);
    cJSON_AddStringToObject(j, "model", o->model);
    ppl_tool_jnum(j, "model_size_bytes", (double)m->n_bytes);
    ppl_tool_jnum(j, "n_params", (double)m->n_params);
    ppl_tool_jnum(j, "n_vocab", r->n_vocab);
    ppl_tool_jnum(j, "n_ctx", r->n_ctx);
    ppl_tool_jnum(j, "n_batch", r->n_batch);
    ppl_tool_jnum(j, "n_chunks", r->n_chunks);
    ppl_tool_jnum(j, "n_threads", r->n_threads);
    ppl_tool_jnum(j, "n_tokens_scored", (double)r->n_scored);
    ppl_tool_jnum(j, "n_tokens_evaluated", (double)r->n_evaluated);
    ppl_tool_jnum(j, "ppl", r->ppl);
    ppl_tool_jnum(j, "ppl_unc", r->ppl_unc);
    ppl_tool_jnum(j, "mean_nll", r->mean_nll);
    ppl_tool_jnum(j, "seconds", r->seconds);
    ppl_tool_jnum(j, "tokens_per_second", r->seconds > 0 ? (double)r->n_evaluated / r->seconds : NAN);
    if (o->text && !o->kld && !o->prompts) cJSON_AddStringToObject(j, "text", o->text);
    if (o->base) cJSON_AddStringToObject(j, "kl_divergence_base", o->base);
    return j;
}

static void json_kld(cJSON *j, const ppl_kld_summary *s) {
    cJSON *k = cJSON_AddObjectToObject(j, "kld");
    const struct { const char *key; double v; } f[] = {
        {"ppl_q", s->ppl_q}, {"ppl_q_unc", s->ppl_q_unc}, {"ppl_base", s->ppl_base},
        {"ppl_base_unc", s->ppl_base_unc}, {"cor_ln_ppl", s->cor_ln_ppl},
        {"mean_ln_ratio", s->mean_ln_ratio}, {"mean_ln_ratio_unc", s->mean_ln_ratio_unc},
        {"ppl_ratio", s->ppl_ratio}, {"ppl_ratio_unc", s->ppl_ratio_unc}, {"ppl_diff", s->ppl_diff},
        {"ppl_diff_unc", s->ppl_diff_unc}, {"mean_kld", s->mean_kld}, {"mean_kld_unc", s->mean_kld_unc},
        {"mean_dp", s->mean_dp}, {"mean_dp_unc", s->mean_dp_unc}, {"rms_dp", s->rms_dp},
        {"rms_dp_unc", s->rms_dp_unc}, {"same_top", s->same_top}, {"same_top_unc", s->same_top_unc}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) ppl_tool_jnum(k, f[i].key, f[i].v);
    if (s->has_percentiles) {
        const struct { const char *key; double v; } q[] = {
            {"kld_max", s->kld_max}, {"kld_p99_9", s->kld_p99_9}, {"kld_p99", s->kld_p99},
            {"kld_p95", s->kld_p95}, {"kld_p90", s->kld_p90}, {"kld_median", s->kld_median},
            {"kld_p10", s->kld_p10}, {"kld_p5", s->kld_p5}, {"kld_p1", s->kld_p1},
            {"kld_p0_1", s->kld_p0_1}, {"kld_min", s->kld_min}, {"dp_max", s->dp_max},
            {"dp_p99_9", s->dp_p99_9}, {"dp_p99", s->dp_p99}, {"dp_p95", s->dp_p95},
            {"dp_p90", s->dp_p90}, {"dp_p75", s->dp_p75}, {"dp_median", s->dp_median},
            {"dp_p25", s->dp_p25}, {"dp_p10", s->dp_p10}, {"dp_p5", s->dp_p5}, {"dp_p1", s->dp_p1},
            {"dp_p0_1", s->dp_p0_1}, {"dp_min", s->dp_min}};
        for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) ppl_tool_jnum(k, q[i].key, q[i].v);
    }
    ppl_tool_jnum(k, "n_tokens", (double)s->n);
    if (s->has_exact) {
        cJSON *e = cJSON_AddObjectToObject(j, "exact");
        ppl_tool_jnum(e, "ppl_base", s->exact.ppl_base);
        ppl_tool_jnum(e, "ppl_ratio", s->exact.ppl_ratio);
        ppl_tool_jnum(e, "ppl_ratio_unc", s->exact.ppl_ratio_unc);
        ppl_tool_jnum(e, "mean_ln_ratio", s->exact.mean_ln_ratio);
        ppl_tool_jnum(e, "mean_ln_ratio_unc", s->exact.mean_ln_ratio_unc);
        ppl_tool_jnum(e, "cor_ln_ppl", s->exact.cor_ln_ppl);
    }
}

/* Bits per byte and word perplexity of a chunked run over tokens (the text's, or the base
 * file's): one line on out, and "bytes_scored", "words_scored", "bits_per_byte",
 * "word_perplexity" in j (ppl_cover.h). A token outside the vocabulary (or no memory) leaves
 * them out with a warning: the run's other figures stand. */
static void add_cover(const qk_model *m, const int32_t *tokens, const ppl_run_result *res, FILE *out, cJSON *j) {
    ppl_cover c;
    if (ppl_cover_scored(m->vocab, tokens, res->n_ctx, res->n_chunks, &c) != 0) {
        fprintf(stderr, PROG ": warning: cannot detokenize the scored tokens — no bits per byte\n");
        return;
    }
    const double sum_nll = res->mean_nll * (double)res->n_scored;
    const double bpb = ppl_bits_per_byte(sum_nll, c.n_bytes), wppl = ppl_word_perplexity(sum_nll, c.n_words);
    fprintf(out, "Bits per byte: %.6f (%llu bytes), word perplexity: %.4f (%llu words), over the text of the %llu scored tokens\n",
            bpb, (unsigned long long)c.n_bytes, wppl, (unsigned long long)c.n_words,
            (unsigned long long)res->n_scored);
    ppl_tool_jnum(j, "bytes_scored", (double)c.n_bytes);
    ppl_tool_jnum(j, "words_scored", (double)c.n_words);
    ppl_tool_jnum(j, "bits_per_byte", bpb);
    ppl_tool_jnum(j, "word_perplexity", wppl);
}

/* ---- prompts mode ---------------------------------------------------------------------- */

/* Split text into non-empty lines (CR stripped; whitespace-only lines count as empty) and
 * tokenize each with add_special = true, parse_special = false. */
static int tokenize_prompts(const qk_vocab *v, char *text, size_t len, int32_t ***toks,
                            int32_t **lens, int32_t *n_out) {
    int32_t cap = 64, n = 0;
    int32_t **t = malloc((size_t)cap * sizeof *t);
    int32_t *l = malloc((size_t)cap * sizeof *l);
    if (!t || !l) goto oom;
    for (size_t at = 0; at < len;) {
        size_t e = at;
        while (e < len && text[e] != '\n') e++;
        size_t end = e;
        if (end > at && text[end - 1] == '\r') end--;
        bool blank = true;
        for (size_t k = at; k < end; k++)
            if (text[k] != ' ' && text[k] != '\t') blank = false;
        if (!blank) {
            if (n == cap) {
                cap *= 2;
                int32_t **t2 = realloc(t, (size_t)cap * sizeof *t);
                if (t2) t = t2;
                int32_t *l2 = realloc(l, (size_t)cap * sizeof *l);
                if (l2) l = l2;
                if (!t2 || !l2) goto oom;
            }
            size_t nt = 0;
            qk_err err = {{0}};
            if (qk_tokenize(v, text + at, end - at, true, false, &t[n], &nt, &err)) {
                *n_out = n;
                *toks = t;
                *lens = l;
                return qk_fail("tokenizing prompt %d failed: %s", n + 1, err.msg);
            }
            l[n++] = (int32_t)nt;
        }
        at = e + 1;
    }
    *toks = t;
    *lens = l;
    *n_out = n;
    return 0;
oom:
    free(t);
    free(l);
    *toks = NULL;
    *lens = NULL;
    *n_out = 0;
    return qk_fail("out of memory reading prompts");
}

static int run_prompts(const opts *o, const qk_model *m, const ppl_run_params *rp, cJSON *jroot_out[1],
                       ppl_run_result *res) {
    size_t len = 0;
    char *text = ppl_tool_read_text(o->prompts, "prompt file", false, &len);
    if (!text) return 1;
    int32_t **toks = NULL, *lens = NULL, n = 0;
    int rc = tokenize_prompts(m->vocab, text, len, &toks, &lens, &n);
    free(text);
    ppl_prompt_rec *recs = NULL, *brecs = NULL;
    double *lq = NULL, *lb = NULL, *ratio = NULL;
    if (rc) goto done;
    if (n == 0) {
        rc = qk_fail("prompt file %s has no non-empty lines", o->prompts);
        goto done;
    }
    int32_t b_vocab = 0, b_n = 0;
    if (o->kld) { /* validate the base before the long run */
        qk_err err = {{0}};
        brecs = ppl_prompts_read(o->base, &b_vocab, &b_n, &err);
        if (!brecs) {
            rc = qk_fail("%s", err.msg);
            goto done;
        }
        if (b_vocab != m->hp.n_vocab) {
            rc = qk_fail("%s was made with n_vocab %d, the model has %d", o->base, b_vocab, m->hp.n_vocab);
            goto done;
        }
        if (b_n != n) {
            rc = qk_fail("%s holds %d prompts but %s has %d — use the same prompt file", o->base, b_n,
                         o->prompts, n);
            goto done;
        }
    }
    recs = calloc((size_t)n, sizeof *recs);
    if (!recs) {
        rc = qk_fail("out of memory");
        goto done;
    }
    for (int32_t i = 0; o->kld && i < n; i++) {
        if (brecs[i].hash != ppl_tokens_hash(toks[i], (size_t)lens[i]) || brecs[i].n_tokens != lens[i]) {
            rc = qk_fail("prompt %d tokenizes differently from the base run (%d vs %d tokens) — the "
                         "base was made from another prompt file or vocabulary",
                         i + 1, lens[i], brecs[i].n_tokens);
            goto done;
        }
    }
    qk_err err = {{0}};
    if (ppl_run_prompts(m, toks, lens, n, rp, recs, res, &err)) {
        rc = qk_fail("%s", err.msg);
        goto done;
    }
    fprintf(rp->out, "\nPrompts: %d, tokens scored: %llu, pooled PPL = %.4f +/- %.5f\n", n,
            (unsigned long long)res->n_scored, res->ppl, res->ppl_unc);

    cJSON *j = json_common(o, m, res);
    cJSON *pj = cJSON_AddObjectToObject(j, "prompts");
    ppl_tool_jnum(pj, "n_prompts", n);
    cJSON *arr = cJSON_AddArrayToObject(pj, "per_prompt");
    for (int32_t i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        ppl_tool_jnum(e, "index", i);
        ppl_tool_jnum(e, "n_tokens", recs[i].n_tokens);
        ppl_tool_jnum(e, "ppl", exp(recs[i].nll_sum / recs[i].n_scored));
        ppl_tool_jnum(e, "nll_sum", recs[i].nll_sum);
        cJSON_AddItemToArray(arr, e);
    }
    jroot_out[0] = j;

    if (o->kld) {
        lq = malloc((size_t)n * sizeof *lq);
        lb = malloc((size_t)n * sizeof *lb);
        ratio = malloc((size_t)n * sizeof *ratio);
        if (!lq || !lb || !ratio) {
            rc = qk_fail("out of memory");
            goto done;
        }
        for (int32_t i = 0; i < n; i++) {
            lq[i] = recs[i].nll_sum / recs[i].n_scored;
            lb[i] = brecs[i].nll_sum / brecs[i].n_scored;
            ratio[i] = exp(lq[i] - lb[i]);
        }
        double mr, se;
        ppl_mean_se(ratio, (size_t)n, &mr, &se);
        const double cor = ppl_pearson(lq, lb, (size_t)n);
        fprintf(rp->out, "Mean per-prompt PPL(Q)/PPL(base): %10.6f ± %10.6f\n", mr, se);
        fprintf(rp->out, "Cor(ln(PPL(Q)), ln(PPL(base))) across prompts: %6.2f%%\n", 100.0 * cor);
        ppl_tool_jnum(pj, "mean_ppl_ratio", mr);
        ppl_tool_jnum(pj, "mean_ppl_ratio_unc", se);
        ppl_tool_jnum(pj, "cor_ln_ppl", cor);
    } else if (o->base) {
        if (ppl_prompts_write(o->base, m->hp.n_vocab, recs, n, &err)) {
            rc = qk_fail("%s", err.msg);
            goto done;
        }
        fprintf(stderr, PROG ": saved per-prompt NLLs to %s\n", o->base);
    }
done:
    for (int32_t i = 0; i < n && toks; i++) free(toks[i]);
    free(toks);
    free(lens);
    free(recs);
    free(brecs);
    free(lq);
    free(lb);
    free(ratio);
    return rc;
}

/* ---- the three modes --------------------------------------------------------------------- */

/* --kl-divergence without --prompts: open and check the base file before the model is
 * loaded; its n_ctx becomes ours. Returns NULL after printing the error. */
static ppl_logits_file *open_base(opts *o) {
    qk_err err = {{0}};
    ppl_logits_file *base = ppl_logits_open(o->base, &err);
    if (!base) {
        qk_fail("%s", err.msg);
        return NULL;
    }
    if (o->ctx_given && o->n_ctx != base->n_ctx) {
        qk_fail("%s was computed with n_ctx = %d but -c is %d — pass -c %d or leave -c out", o->base,
                base->n_ctx, o->n_ctx, base->n_ctx);
        ppl_logits_close(base);
        return NULL;
    }
    o->n_ctx = base->n_ctx;
    if (o->text) fprintf(stderr, PROG ": note: -f %s is not read; the tokens come from %s\n", o->text, o->base);
    return base;
}

/* KL divergence against the base file (and its exact-NLL sidecar when there is one). */
static int run_kld(const opts *o, const qk_model *m, ppl_logits_file *base, const ppl_run_params *rp,
                   cJSON **j, ppl_run_result *res) {
    qk_err err = {{0}};
    double *exact = NULL;
    if (access(o->nll, F_OK) == 0) {
        exact = ppl_nll_read(o->nll, base, &err);
        if (!exact) fprintf(stderr, PROG ": warning: ignoring %s: %s\n", o->nll, err.msg);
    }
    ppl_kld_summary s;
    int rc = 0;
    if (ppl_run_kld(m, base, exact, rp, &s, res, &err)) {
        rc = qk_fail("%s", err.msg);
    } else {
        if (s.has_percentiles) print_kld_blocks(stdout, &s, o->base);
        else fprintf(stderr, PROG ": fewer than 100 tokens scored: no statistics blocks\n");
        *j = json_common(o, m, res);
        json_kld(*j, &s);
        add_cover(m, base->tokens, res, stdout, *j);
    }
    free(exact);
    return rc;
}

/* Perplexity of the text (-f), saving the base file when --kl-divergence-base is given. */
static int run_text(const opts *o, const qk_model *m, const ppl_run_params *rp, cJSON **j, ppl_run_result *res) {
    size_t len = 0;
    char *text = ppl_tool_read_text(o->text, "text file", false, &len);
    if (!text) return 1;
    int32_t *tokens = NULL;
    size_t n_tokens = 0;
    qk_err err = {{0}};
    int rc = ppl_tool_tokenize(m, o->text, text, len, &tokens, &n_tokens);
    if (!rc) {
        if (ppl_run_perplexity(m, tokens, n_tokens, rp, o->base, res, &err)) rc = qk_fail("%s", err.msg);
        else {
            *j = json_common(o, m, res);
            add_cover(m, tokens, res, stdout, *j);
        }
    }
    free(tokens);
    free(text);
    return rc;
}

/* ---- main ------------------------------------------------------------------------------ */

int main(int argc, char **argv) {
    qk_tool_init(PROG);
    opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0;
    if (check_files(&o)) return 1;

    ppl_logits_file *base = NULL;
    if (o.kld && !o.prompts && !(base = open_base(&o))) return 1; /* before the model: fail fast */
    /* its summary line; the n_ctx warning except in --prompts mode (each prompt is cut to
     * n_ctx tokens, a larger -c changes nothing) */
    qk_model *m = ppl_tool_load_model(o.model, o.n_ctx, !o.prompts, false, o.use_mmap);
    if (!m) {
        ppl_logits_close(base);
        return 1;
    }
    ppl_run_params rp = {o.n_ctx, o.n_batch, o.n_chunks, o.n_threads, o.out_type, stdout, stderr};
    ppl_run_result res;
    cJSON *j = NULL;
    if (o.prompts) rc = run_prompts(&o, m, &rp, &j, &res);
    else if (o.kld) rc = run_kld(&o, m, base, &rp, &j, &res);
    else rc = run_text(&o, m, &rp, &j, &res);
    if (!rc && j && o.json) rc = ppl_tool_write_json(o.json, j);
    cJSON_Delete(j);
    ppl_logits_close(base);
    qk_model_free(m);
    return rc;
}
