/*
 * test_agreement.c — qkit's perplexity and KL-divergence figures against llama.cpp's, for
 * the base model and every quantized type with golden logs, on both golden models
 * (golden/<model>/perplexity/, see golden/README.md). Quantized files are made by OUR
 * qk-quantize (byte-identical to llama-quantize's; test_quant_golden checks the bytes).
 *
 * What is compared, and why at these tolerances
 * ------------------------------------------------
 * Exact figures: the base-logits file (header and tokens byte-identical, records equal to
 * the format's resolution: mean KLD between the two files' records below BASE_FILE_KLD,
 * computed here from the raw records) and PPL(base), which depends on the base file alone
 * (1e-6 relative).
 *
 * Figures that depend on the quantized forward pass are not bit-reproducible: our kernels
 * sum in another order than ggml's (and ggml uses its own exp/silu approximations), and a
 * user's machine sums in yet another: the kernels in use (AVX-512 VNNI, AVX2, scalar), the
 * OpenBLAS kernels of its CPU or of OPENBLAS_CORETYPE, the thread counts and the batch
 * size (vec_dot or dequantize + sgemm path) all change the last bits. Each tolerance below
 * comes from the largest deviation from llama.cpp's figure MEASURED across those variants
 * (tests/run-variants.sh: QK_FORCE_SCALAR=1, QK_NO_AVX512=1, the native dispatch;
 * OPENBLAS_CORETYPE unset, Haswell, SkylakeX, Zen, Prescott; OPENBLAS_NUM_THREADS 1 and 2;
 * -b 4, -b 32 and the default -b; -t 1 and 2; on a 2-core AMD EPYC with AVX-512 VNNI),
 * with a margin of 1.5-2.5x, and is written in brackets next to it. The run-variants
 * script records every comparison (qk_test_close) and tabulates the deviations again.
 *  - wiki-qwen2-13m (n_embd 256, 9 types) over the 4 golden chunks (508 scored tokens):
 *    PPL(Q), mean and median KLD, RMS Δp and same top p (KLD4_PRECISE). The 99 %, 99.9 %
 *    and maximum KLD are the 5th, 1st and 1st largest of 508 values, the low percentiles
 *    values of 1e-5..1e-7 (the size of the forward-pass noise itself): between two of our
 *    own variants they moved 20-30 % and 30-1200 %, so at this size they are noise, not a
 *    test of agreement. They are compared where they are stable, over 100 chunks of
 *    stories260K below, and their formulas are checked on a case with a known answer
 *    (test_ppl_stats). The fidelity issue's 0.05 % on the final PPL is for 100 chunks:
 *    bench/agreement.sh measures it (too slow here: ~30 s of CPU per type).
 *  - stories260K (n_embd 64; K-quants fall back to Q5_0/Q5_1/IQ4_NL/Q8_0) is chaotic once
 *    its activations are rounded to Q8_0/Q8_1: a 1e-7 relative change of the embeddings
 *    flips a rounding somewhere, and the flip cascades through the 64-wide layers and the
 *    KV cache. Over 4 chunks only a sanity check is possible (KLD4_SANITY); the precise
 *    comparison runs over 100 chunks (12,700 tokens, cheap for this model) against the
 *    ppl100/kld100 logs, our KLD against our own F32 base file of the same 100 chunks
 *    (KLD100).
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define WIKI "data/wikitext-2-raw/wiki.test.raw"
#define MAX_CASES 64

typedef struct gmodel {
    const char *name;
    const char *base_rel;  /* base model under shared/ */
    const char *btype;     /* F16 / F32: name of the base in the golden file names */
    int min_types;         /* quantized types with kld4 logs that must be present */
    int chaotic;           /* 1: precise comparison over 100 chunks (see the header) */
} gmodel;

static const gmodel MODELS[] = {
    {"wiki-qwen2-13m", "data/models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf", "F16", 9, 0},
    {"stories260K", "data/models/stories260K/stories260K.gguf", "F32", 6, 1},
};
#define N_MODELS ((int)(sizeof MODELS / sizeof MODELS[0]))

typedef struct gcase {
    int model;
    char type[32];
} gcase;

/* filled in main() before the (forked) tests run */
static gcase g_cases[MAX_CASES];
static int g_n_cases;
static gcase g_long[MAX_CASES]; /* cases of chaotic models, compared over 100 chunks */
static int g_n_long;
static int g_found[N_MODELS];

/* ---- helpers ------------------------------------------------------------------------- */

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
    char buf[8192];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return strdup(buf);
}

static char *golden(const gmodel *m, const char *type, const char *what) {
    return fmt("%sgolden/%s/perplexity/%s.%s.%s", qk_test_shared(""), m->name, m->name, type, what);
}

/* Run a command; fails the test (with the output) unless it exits 0. */
static char *run_ok(const char *cmd) {
    char *out = NULL;
    const int rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "command failed (%d): %s\n%s", rc, cmd, out ? out : "");
    return out;
}

/* Quantize the model's base to `type` with qk-quantize, once per test process tree (the
 * temporary directory is shared by the forked tests). */
static char *quantized(const gmodel *m, const char *type) {
    char *path = fmt("%s/%s-%s.gguf", qk_test_tmpdir(), m->name, type);
    if (access(path, F_OK) != 0) {
        char *cmd = fmt("%s %s %s %s", qk_test_bin("qk-quantize"), qk_test_shared(m->base_rel), path,
                        type);
        free(run_ok(cmd));
        free(cmd);
        /* llama-quantize's output size, when the golden run recorded it */
        char *szp = fmt("%sgolden/%s/quantize/%s.%s.size", qk_test_shared(""), m->name, m->name, type);
        char *sz = qk_test_read_file(szp, NULL);
        if (sz) {
            struct stat st;
            ck_assert(stat(path, &st) == 0);
            ck_assert_msg((unsigned long long)st.st_size == strtoull(sz, NULL, 10),
                          "%s: qk-quantize wrote %lld bytes, llama-quantize %s", path,
                          (long long)st.st_size, sz);
            free(sz);
        }
        free(szp);
    }
    return path;
}

/* The command that scores the base model over n_chunks chunks of 256 tokens of
 * wiki.test.raw and writes its base-logits file to out (qk_test_shared returns a static
 * buffer, hence the copies). */
static char *base_cmd(const gmodel *m, int n_chunks, int n_threads, const char *out) {
    char *model = strdup(qk_test_shared(m->base_rel)), *text = strdup(qk_test_shared(WIKI));
    char *cmd = fmt("%s -m %s -f %s -c 256 --chunks %d -t %d --kl-divergence-base %s %s",
                    qk_test_bin("qk-perplexity"), model, text, n_chunks, n_threads, out, qk_test_ppl_args());
    free(model);
    free(text);
    return cmd;
}

/* j.obj.key (short name for the many checks below) */
static double jnum(const cJSON *j, const char *obj, const char *key) { return qk_test_json_num(j, obj, key); }

/* First number after `label` in the final statistics of a llama.cpp log (searched from
 * `from`, so that the per-chunk table is skipped). */
static double log_num(const char *text, const char *from, const char *label, const char *file) {
    const char *p = from ? strstr(text, from) : text;
    ck_assert_msg(p != NULL, "%s: no '%s'", file, from);
    p = strstr(p, label);
    ck_assert_msg(p != NULL, "%s: no '%s'", file, label);
    p += strlen(label);
    while (*p == ' ' || *p == ':') p++;
    char *end;
    const double v = strtod(p, &end);
    ck_assert_msg(end != p, "%s: no number after '%s'", file, label);
    return v;
}

/* A statistic of the llama.cpp log (label, scale: 100 for figures printed in %) against
 * our JSON key, within max(rel·|theirs|, abs). */
typedef struct stat_check {
    const char *label, *key;
    double scale, rel, abs;
} stat_check;

#define STATS_FROM "====== Perplexity statistics ======"

/* what names the case ("wiki-qwen2-13m Q4_0 (4 chunks)"), group the table it belongs to
 * ("wiki-qwen2-13m, 4 chunks": the recorded figure names start with it). */
static int compare_stats(const char *glog, const char *gfile, const cJSON *j, const stat_check *c,
                         int n, const char *what, const char *group) {
    int bad = 0;
    char line[2048];
    int at = snprintf(line, sizeof line, "%s:", what);
    for (int i = 0; i < n; i++) {
        const double theirs = log_num(glog, STATS_FROM, c[i].label, gfile) / c[i].scale;
        const double ours = jnum(j, "kld", c[i].key);
        char fig[128];
        snprintf(fig, sizeof fig, "%s: %s", group, c[i].key);
        bad += !qk_test_close(what, fig, ours, theirs, c[i].rel, c[i].abs);
        if (at > 0 && at < (int)sizeof line)
            at += snprintf(line + at, sizeof line - (size_t)at, " %s %+.2f%%", c[i].key,
                           theirs != 0 ? 100 * (ours - theirs) / fabs(theirs) : 0.0);
    }
    fprintf(stderr, "%s\n", line); /* the measured deviations, for the record */
    return bad;
}

/* ---- the base-logits file -------------------------------------------------------------- */

/* Mean over records of Σ_i p_a,i (log p_a,i − log p_b,i), log p = scale·q + min_log_prob,
 * over the entries the format keeps (log p_a above its 16-nat floor), read from the raw
 * bytes of two base-logits files with identical headers. Also the largest |Δ log p| among
 * entries above −10 nats in both. */
static double files_kld(const char *a, const char *b, size_t n_rec, size_t off, int32_t n_vocab,
                        double *max_dlp) {
    const size_t nv = 2 * (((size_t)n_vocab + 1) / 2) + 4;
    double sum = 0;
    *max_dlp = 0;
    for (size_t r = 0; r < n_rec; r++) {
        const char *ra = a + off + r * nv * 2, *rb = b + off + r * nv * 2;
        float sa, ma, sb, mb;
        memcpy(&sa, ra, 4);
        memcpy(&ma, ra + 4, 4);
        memcpy(&sb, rb, 4);
        memcpy(&mb, rb + 4, 4);
        double k = 0;
        for (int32_t i = 0; i < n_vocab; i++) {
            uint16_t qa, qb;
            memcpy(&qa, ra + 8 + 2 * (size_t)i, 2);
            memcpy(&qb, rb + 8 + 2 * (size_t)i, 2);
            const double la = (double)sa * qa + ma, lb = (double)sb * qb + mb;
            if (qa > 0) k += exp(la) * (la - lb);
            if (la > -10 && lb > -10 && fabs(la - lb) > *max_dlp) *max_dlp = fabs(la - lb);
        }
        sum += k;
    }
    return sum / (double)n_rec;
}

/* Mean KLD between our base file and llama.cpp's (4 chunks), either direction [largest
 * measured across the variants: 1.7e-6]. */
#define BASE_FILE_KLD 4e-6

START_TEST(test_base_files_vs_golden) {
    const gmodel *m = &MODELS[_i];
    char *gk = golden(m, m->btype, "c256.chunks4.kld");
    char *ours = fmt("%s/%s.base4.kld", qk_test_tmpdir(), m->name);
    char *cmd = base_cmd(m, 4, 2, ours);
    free(run_ok(cmd));
    size_t la = 0, lb = 0;
    char *a = qk_test_read_file(ours, &la), *b = qk_test_read_file(gk, &lb);
    ck_assert(a && b);
    ck_assert_msg(la == lb, "%s: our base file has %zu bytes, llama.cpp's %zu", m->name, la, lb);
    int32_t hdr[3];
    memcpy(hdr, b + 8, sizeof hdr);
    ck_assert_int_eq(hdr[0], 256);
    ck_assert_int_eq(hdr[2], 4);
    const size_t head = 20 + 4 * (size_t)hdr[0] * (size_t)hdr[2];
    ck_assert_msg(memcmp(a, b, head) == 0, "%s: header/tokens differ from llama.cpp's base file", m->name);
    const size_t n_rec = (size_t)hdr[2] * (size_t)(hdr[0] - 1 - hdr[0] / 2);
    double dlp_ab, dlp_ba;
    const double kab = files_kld(b, a, n_rec, head, hdr[1], &dlp_ab);
    const double kba = files_kld(a, b, n_rec, head, hdr[1], &dlp_ba);
    fprintf(stderr, "%s base file: mean KLD(llama.cpp || qkit) %.3g, reverse %.3g, max |Δlog p| %.3g\n",
            m->name, kab, kba, dlp_ab);
    char what[96];
    snprintf(what, sizeof what, "%s base file (4 chunks)", m->name);
    const int ok_ab = qk_test_close(what, "base files: mean KLD(llama.cpp || qkit)", kab, 0, 0, BASE_FILE_KLD);
    const int ok_ba = qk_test_close(what, "base files: mean KLD(qkit || llama.cpp)", kba, 0, 0, BASE_FILE_KLD);
    ck_assert_msg(ok_ab && ok_ba, "%s: mean KLD between the base files %.3g / %.3g (want < %g)", m->name, kab,
                  kba, BASE_FILE_KLD);
    free(a);
    free(b);
    free(cmd);
    free(ours);
    free(gk);
}
END_TEST

/* ---- each quantized type over the 4 golden chunks --------------------------------------- */

/* wiki-qwen2-13m over the 4 golden chunks (508 tokens); largest deviation measured across
 * the variants of the header in brackets: PPL(Q) 0.1 % [0.063 %]; mean KLD 2 % or 2e-6
 * [1.27 %; Q8_0 1.81 % = 1.1e-6]; median KLD 5 % or 4e-6 [3.37 %; Q8_0 5.1 % = 2.2e-6];
 * RMS Δp 6 % or 1.5e-4 [3.85 % = 2.2e-4; Q8_0 6.8 % = 8.6e-5]; same top p 0.01 = 5 of 508
 * tokens [3 tokens]. The 99 %, 99.9 % and maximum KLD (own spread 26-32 %), the low KLD
 * percentiles and the Δp percentiles (own spread 15-70 %) are noise at this size: not
 * compared here (test_ppl_stats checks their formulas on a known case; stories260K's are
 * compared over 100 chunks below). */
static const stat_check KLD4_PRECISE[] = {
    {"Mean PPL(Q)", "ppl_q", 1, 0.001, 0},
    {"Mean    KLD:", "mean_kld", 1, 0.02, 2e-6},
    {"Median  KLD:", "kld_median", 1, 0.05, 4e-6},
    {"RMS Δp    :", "rms_dp", 100, 0.06, 1.5e-4},
    {"Same top p:", "same_top", 100, 0, 0.01},
};

/* stories260K over the same 4 chunks, a sanity check (it is chaotic, see the header):
 * PPL(Q) 0.8 % [0.39 %], mean KLD 8 % [4.0 %], RMS Δp 12 % [7.8 %], same top p 3 %
 * [1.6 %]. */
static const stat_check KLD4_SANITY[] = {
    {"Mean PPL(Q)", "ppl_q", 1, 0.008, 0},
    {"Mean    KLD:", "mean_kld", 1, 0.08, 0},
    {"RMS Δp    :", "rms_dp", 100, 0.12, 0},
    {"Same top p:", "same_top", 100, 0.03, 0},
};

START_TEST(test_kld4_vs_golden) {
    const gcase *c = &g_cases[_i];
    const gmodel *m = &MODELS[c->model];
    char *q = quantized(m, c->type);
    char *gk = golden(m, m->btype, "c256.chunks4.kld");
    char *glf = golden(m, c->type, "kld4.log");
    char *js = fmt("%s/%s-%s.kld4.json", qk_test_tmpdir(), m->name, c->type);
    char *cmd = fmt("%s -m %s --kl-divergence-base %s --kl-divergence -t 2 --json %s %s",
                    qk_test_bin("qk-perplexity"), q, gk, js, qk_test_ppl_args());
    char *out = run_ok(cmd);
    char *glog = qk_test_read_file(glf, NULL);
    ck_assert_msg(glog != NULL, "cannot read %s", glf);
    cJSON *j = qk_test_read_json(js);
    ck_assert_int_eq((int)jnum(j, NULL, "n_tokens_scored"), 508);
    ck_assert_int_eq((int)jnum(j, NULL, "n_chunks"), 4);
    /* PPL(base) comes from llama.cpp's file alone: equal to its printed digits */
    char what[96], group[64];
    snprintf(what, sizeof what, "%s %s (4 chunks)", m->name, c->type);
    snprintf(group, sizeof group, "%s, 4 chunks", m->name);
    const double pb = log_num(glog, STATS_FROM, "Mean PPL(base)", glf);
    ck_assert(qk_test_close(what, "4 chunks: ppl_base", jnum(j, "kld", "ppl_base"), pb, 1e-6, 0));
    const int bad = m->chaotic
                        ? compare_stats(glog, glf, j, KLD4_SANITY,
                                        (int)(sizeof KLD4_SANITY / sizeof KLD4_SANITY[0]), what, group)
                        : compare_stats(glog, glf, j, KLD4_PRECISE,
                                        (int)(sizeof KLD4_PRECISE / sizeof KLD4_PRECISE[0]), what, group);
    ck_assert_msg(bad == 0, "%s: %d figure(s) outside tolerance (listed above)", what, bad);
    cJSON_Delete(j);
    free(glog);
    free(out);
    free(cmd);
    free(js);
    free(glf);
    free(gk);
    free(q);
}
END_TEST

/* ---- chaotic models: each type over 100 chunks ------------------------------------------ */

/* stories260K over 100 chunks (12,700 tokens), [largest deviation measured]: PPL(Q)
 * PPL100_REL 0.15 % [0.068 %]; mean KLD 2 % [0.91 %]; median 2 % [0.95 %]; 10 % KLD
 * 2.5 % [1.5 %]; 99 % KLD 5 % or 1e-3 [1.6 %; Q6_K 4.7 % = 5.2e-4]; 99.9 % KLD 10 %
 * [6.0 %]; RMS Δp 5 % [3.0 %]; same top p 0.5 % [0.25 %]; mean Δp 1e-4 [5.0e-5]; Δp
 * 99 % and 1 % 10 % or 5e-4 [5.5 %, 4.7 %]; Δp 95 % and 5 % 5 % or 5e-4 [3.0 %, 3.2 %].
 * The maximum KLD (own spread 15 %) and the 5 %, 1 % and minimum KLD (own spread 4-200 %)
 * are not compared. */
#define PPL100_REL 0.0015
static const stat_check KLD100[] = {
    {"Mean    KLD:", "mean_kld", 1, 0.02, 0},
    {"Median  KLD:", "kld_median", 1, 0.02, 0},
    {"10.0%   KLD:", "kld_p10", 1, 0.025, 0},
    {"99.0%   KLD:", "kld_p99", 1, 0.05, 1e-3},
    {"99.9%   KLD:", "kld_p99_9", 1, 0.10, 0},
    {"RMS Δp    :", "rms_dp", 100, 0.05, 0},
    {"Same top p:", "same_top", 100, 0.005, 0},
    {"Mean    Δp:", "mean_dp", 100, 0, 1e-4},
    {"99.0%   Δp:", "dp_p99", 100, 0.10, 5e-4},
    {"95.0%   Δp:", "dp_p95", 100, 0.05, 5e-4},
    {" 5.0%   Δp:", "dp_p5", 100, 0.05, 5e-4},
    {" 1.0%   Δp:", "dp_p1", 100, 0.10, 5e-4},
};

START_TEST(test_kld100_chaotic_vs_golden) {
    const gcase *c = &g_long[_i];
    const gmodel *m = &MODELS[c->model];
    /* our base file of 100 chunks, once for all types. One thread: on this 64-wide model
     * a second one only adds synchronisation (measured: 2.1 s vs 3.4 s per 100-chunk run);
     * the variants' "-t 1" is the same arithmetic, and the kld4 cases run two threads. */
    char *base = fmt("%s/%s.base100.kld", qk_test_tmpdir(), m->name);
    if (access(base, F_OK) != 0) {
        char *cmd = base_cmd(m, 100, 1, base);
        free(run_ok(cmd));
        free(cmd);
    }
    char *q = quantized(m, c->type);
    char *js = fmt("%s/%s-%s.kld100.json", qk_test_tmpdir(), m->name, c->type);
    char *cmd = fmt("%s -m %s --kl-divergence-base %s --kl-divergence -t 1 --json %s %s",
                    qk_test_bin("qk-perplexity"), q, base, js, qk_test_ppl_args());
    free(run_ok(cmd));
    cJSON *j = qk_test_read_json(js);
    ck_assert_int_eq((int)jnum(j, NULL, "n_chunks"), 100);
    char what[96];
    snprintf(what, sizeof what, "%s %s (100 chunks)", m->name, c->type);
    /* PPL(Q) over the same 100 chunks vs llama-perplexity's final estimate */
    char *gpf = golden(m, c->type, "ppl100.log");
    char *gp = qk_test_read_file(gpf, NULL);
    ck_assert_msg(gp != NULL, "cannot read %s", gpf);
    const double gppl = log_num(gp, NULL, "Final estimate: PPL =", gpf);
    const double ppl = jnum(j, "kld", "ppl_q");
    char group[64], fig[96];
    snprintf(group, sizeof group, "%s, 100 chunks", m->name);
    snprintf(fig, sizeof fig, "%s: PPL (final estimate)", group);
    int bad = !qk_test_close(what, fig, ppl, gppl, PPL100_REL, 0);
    fprintf(stderr, "%s: PPL qkit %.4f, llama.cpp %.4f (%+.3f %%)\n", what, ppl, gppl, 100 * (ppl - gppl) / gppl);
    char *gkf = golden(m, c->type, "kld100.log");
    char *gk = qk_test_read_file(gkf, NULL);
    ck_assert_msg(gk != NULL, "cannot read %s", gkf);
    bad += compare_stats(gk, gkf, j, KLD100, (int)(sizeof KLD100 / sizeof KLD100[0]), what, group);
    ck_assert_msg(bad == 0, "%s: %d figure(s) outside tolerance (listed above)", what, bad);
    cJSON_Delete(j);
    free(gk);
    free(gkf);
    free(gp);
    free(gpf);
    free(cmd);
    free(js);
    free(q);
    free(base);
}
END_TEST

/* ---- coverage and mismatches ------------------------------------------------------------ */

START_TEST(test_golden_types_present) {
    /* a missing or renamed golden directory must fail, not silently test nothing */
    for (int i = 0; i < N_MODELS; i++)
        ck_assert_msg(g_found[i] >= MODELS[i].min_types, "%s: %d quantized types with kld4 logs, want >= %d",
                      MODELS[i].name, g_found[i], MODELS[i].min_types);
    ck_assert_int_ge(g_n_long, MODELS[1].min_types);
}
END_TEST

START_TEST(test_mismatched_base_is_an_error) {
    /* each model against the other model's golden base file: one clear line, exit 1 */
    for (int i = 0; i < N_MODELS; i++) {
        const gmodel *m = &MODELS[i], *o = &MODELS[(i + 1) % N_MODELS];
        char *gk = golden(o, o->btype, "c256.chunks4.kld");
        char *js = fmt("%s/mismatch-%d.json", qk_test_tmpdir(), i);
        char *cmd = fmt("%s -m %s --kl-divergence-base %s --kl-divergence -t 2 --json %s",
                        qk_test_bin("qk-perplexity"), qk_test_shared(m->base_rel), gk, js);
        char *out = NULL;
        const int rc = qk_test_run(cmd, &out);
        ck_assert_msg(rc == 1, "%s vs %s base: exit %d\n%s", m->name, o->name, rc, out);
        /* exactly one error line, the last one, naming the cause */
        const char *e = strstr(out, "qk-perplexity: error:");
        ck_assert_msg(e && !strstr(e + 21, "error:"), "want one error line: %s", out);
        const char *nl = strchr(e, '\n');
        ck_assert_msg(nl && nl[1] == 0, "the error must be one line, the last: %s", out);
        ck_assert_msg(strstr(e, "n_vocab") && strstr(e, "vocabulary"), "%s", out);
        ck_assert_msg(access(js, F_OK) != 0, "a failed run left %s behind", js);
        free(out);
        free(cmd);
        free(js);
        free(gk);
    }
}
END_TEST

/* ---- suite ----------------------------------------------------------------------------- */

static int cmp_case(const void *a, const void *b) {
    const gcase *x = a, *y = b;
    if (x->model != y->model) return x->model - y->model;
    return strcmp(x->type, y->type);
}

/* Every <model>.<TYPE>.kld4.log in the golden directory (TYPE != the base). */
static void discover(void) {
    for (int mi = 0; mi < N_MODELS; mi++) {
        const gmodel *m = &MODELS[mi];
        char *dir = fmt("%sgolden/%s/perplexity", qk_test_shared(""), m->name);
        DIR *d = opendir(dir);
        free(dir);
        if (!d) continue;
        const size_t nl = strlen(m->name);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            const char *s = e->d_name;
            const size_t len = strlen(s);
            if (len <= nl + 1 + 9 || strncmp(s, m->name, nl) != 0 || s[nl] != '.' ||
                strcmp(s + len - 9, ".kld4.log") != 0)
                continue;
            const size_t tl = len - nl - 1 - 9;
            if (tl == 0 || tl >= sizeof g_cases[0].type || g_n_cases >= MAX_CASES) continue;
            gcase c = {mi, {0}};
            memcpy(c.type, s + nl + 1, tl);
            if (strcmp(c.type, m->btype) == 0) continue;
            g_cases[g_n_cases++] = c;
            g_found[mi]++;
            if (m->chaotic) g_long[g_n_long++] = c;
        }
        closedir(d);
    }
    qsort(g_cases, (size_t)g_n_cases, sizeof g_cases[0], cmp_case);
    qsort(g_long, (size_t)g_n_long, sizeof g_long[0], cmp_case);
}

static Suite *suite(void) {
    Suite *s = suite_create("agreement");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, test_golden_types_present);
    tcase_add_loop_test(tc, test_base_files_vs_golden, 0, N_MODELS);
    tcase_add_loop_test(tc, test_kld4_vs_golden, 0, g_n_cases);
    tcase_add_loop_test(tc, test_kld100_chaotic_vs_golden, 0, g_n_long);
    tcase_add_test(tc, test_mismatched_base_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    qk_test_tmpdir(); /* created once, before the forked tests, so quantized files are shared */
    discover();
    return qk_test_main(suite());
}
