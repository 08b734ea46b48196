/*
 * test_imatrix_tool.c — qk-imatrix and its accumulation (perplexity/imatrix_collect.c):
 *   - the collector's rules in memory: which weights and calls count, shared inputs,
 *     non-finite activations, the two forms of the result;
 *   - --in-file: two halves (--chunks, --chunk) add up to the whole, in both formats and
 *     mixed; passes of fewer than 16 tokens; n_batch < n_ctx (calls per chunk);
 *   - --process-output on an untied model (stories260K) and a tied one (wiki-qwen2-13m);
 *   - --show-statistics, --json, and the CLI errors (one line, no output left behind).
 * Agreement with llama.cpp's golden files is test_imatrix_golden.c (the ctest label
 * "numerics", run under every arithmetic variant); this suite compares qkit's runs with
 * each other, so it is not in that label.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imatrix.h"
#include "imatrix_check.h"
#include "imatrix_collect.h"
#include "testutil.h"

#define STORIES "data/models/stories260K/stories260K.gguf"

/* Adding imatrices vs collecting the same chunks at once (identical activations: same
 * chunks, same threads): the stored floats carry one rounding each (2^-24), and the sum
 * of two halves one more, so at most ~3·2^-24 ≈ 1.8e-7. */
#define ADD_REL 1e-6

/* ---- the collector in memory ---------------------------------------------------------- */

static void fill(float *x, int64_t n, uint32_t seed) {
    for (int64_t i = 0; i < n; i++) x[i] = 4.0f * qk_test_lcg_frand(&seed);
}

static double ref_colsum(const float *x, int64_t m, int64_t k, int64_t j) {
    double s = 0;
    for (int64_t r = 0; r < m; r++) s += (double)x[r * k + j] * x[r * k + j];
    return s;
}

static gguf_tensor fake_tensor(const char *name, int64_t k) {
    gguf_tensor t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "%s", name);
    t.ne[0] = k;
    t.ne[1] = 8;
    return t;
}

START_TEST(test_collector_rules) {
    enum { K = 24, KF = 40, M = 37 };
    gguf_tensor q = fake_tensor("blk.3.attn_q.weight", K), k = fake_tensor("blk.3.attn_k.weight", K),
                v = fake_tensor("blk.3.attn_v.weight", K), g = fake_tensor("blk.3.ffn_gate.weight", K),
                d = fake_tensor("blk.3.ffn_down.weight", KF), emb = fake_tensor("token_embd.weight", K),
                out = fake_tensor("output.weight", K);
    float *x = malloc(sizeof(float) * M * KF), *x2 = malloc(sizeof(float) * M * KF);
    fill(x, M * KF, 1);
    fill(x2, M * KF, 2);
    imatrix_collector *c = imatrix_collector_new(false);
    ck_assert_ptr_nonnull(c);
    /* q, k, v share x; then the same buffer holds another input for ffn_gate (not a
     * sharing pair: its sums must be taken afresh); 15 rows are not collected; the lm_head
     * (tied or not) is not collected without process_output */
    imatrix_collect_hook(c, &q, x, M);
    imatrix_collect_hook(c, &k, x, M);
    imatrix_collect_hook(c, &v, x, M);
    memcpy(x, x2, sizeof(float) * M * K);
    imatrix_collect_hook(c, &g, x, M);
    imatrix_collect_hook(c, &d, x2, 15);
    imatrix_collect_hook(c, &d, x2, 16);
    imatrix_collect_hook(c, &emb, x2, M);
    imatrix_collect_hook(c, &out, x2, M);
    qk_err err = {{0}};
    ck_assert_int_eq(imatrix_collector_check(c, &err), 0);
    int64_t n = 0;
    const imatrix_acc *a = imatrix_collector_entries(c, &n);
    ck_assert_int_eq(n, 5);
    const char *names[5] = {"blk.3.attn_q.weight", "blk.3.attn_k.weight", "blk.3.attn_v.weight",
                            "blk.3.ffn_gate.weight", "blk.3.ffn_down.weight"};
    fill(x, M * KF, 1); /* the q/k/v input again */
    for (int i = 0; i < 5; i++) {
        ck_assert_str_eq(a[i].name, names[i]);
        const float *src = i < 3 ? x : x2;
        const int64_t rows = i == 4 ? 16 : M, cols = i == 4 ? KF : K;
        ck_assert_int_eq(a[i].rows, rows);
        ck_assert_int_eq(a[i].ncall, 1);
        ck_assert_int_eq(a[i].n_cols, cols);
        for (int64_t j = 0; j < cols; j++)
            ck_assert_msg(fabs(a[i].sum[j] - ref_colsum(src, rows, cols, j)) <= 1e-12 * ref_colsum(src, rows, cols, j),
                          "%s column %lld", names[i], (long long)j);
    }
    ck_assert_int_eq(imatrix_collector_calls(c), 1);
    imatrix_collector_free(c);

    /* process_output: output.weight counts, token_embd.weight never */
    c = imatrix_collector_new(true);
    imatrix_collect_hook(c, &emb, x, M);
    imatrix_collect_hook(c, &out, x, M);
    imatrix_collect_hook(c, &out, x, M);
    a = imatrix_collector_entries(c, &n);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(a[0].name, "output.weight");
    ck_assert_int_eq(a[0].ncall, 2);
    ck_assert_int_eq(imatrix_collector_calls(c), 2);
    /* a NaN activation is an error naming the weight, and stops the collection */
    x[5] = NAN;
    imatrix_collect_hook(c, &out, x, M);
    ck_assert_int_eq(imatrix_collector_check(c, &err), -1);
    ck_assert_msg(strstr(err.msg, "output.weight") && strstr(err.msg, "not finite"), "%s", err.msg);
    imatrix_collector_free(c);
    free(x);
    free(x2);
}
END_TEST

START_TEST(test_collector_forms) {
    enum { K = 16, M = 20 };
    gguf_tensor q = fake_tensor("blk.0.attn_q.weight", K);
    float *x = malloc(sizeof(float) * M * K);
    fill(x, M * K, 7);
    imatrix_collector *c = imatrix_collector_new(false);
    for (int i = 0; i < 3; i++) imatrix_collect_hook(c, &q, x, M);
    qk_err err = {{0}};
    qk_imatrix *raw = imatrix_collector_result(c, IMATRIX_FORM_RAW, 3, 20, "calib.txt", &err);
    qk_imatrix *calls = imatrix_collector_result(c, IMATRIX_FORM_CALLS, 3, 20, NULL, &err);
    ck_assert_msg(raw && calls, "%s", err.msg);
    ck_assert_int_eq(raw->n_entries, 1);
    ck_assert_int_eq(raw->chunk_count, 3);
    ck_assert_int_eq(raw->chunk_size, 20);
    ck_assert_int_eq(raw->n_datasets, 1);
    ck_assert_str_eq(raw->datasets[0], "calib.txt");
    ck_assert_int_eq(calls->n_datasets, 0);
    /* RAW: sums and rows; CALLS (.dat): sum / rows · ncall and ncall */
    ck_assert(raw->entries[0].counts[0] == 3.0f * M);
    ck_assert(calls->entries[0].counts[0] == 3.0f);
    for (int64_t j = 0; j < K; j++) {
        const double s = 3 * ref_colsum(x, M, K, j);
        ck_assert(raw->entries[0].in_sum2[j] == (float)s);
        ck_assert(calls->entries[0].in_sum2[j] == (float)(s / (3.0 * M) * 3.0));
    }
    /* a GGUF-form imatrix brought to the calls form: the same means, counts = chunks */
    ck_assert_int_eq(imatrix_to_calls_form(raw, &err), 0);
    ck_assert(raw->entries[0].counts[0] == 3.0f);
    for (int64_t j = 0; j < K; j++)
        ck_assert(fabsf(raw->entries[0].in_sum2[j] - calls->entries[0].in_sum2[j]) <=
                  1e-6f * calls->entries[0].in_sum2[j]);
    qk_imatrix_free(raw);
    qk_imatrix_free(calls);
    imatrix_collector_free(c);
    free(x);
}
END_TEST

/* ---- against llama.cpp ----------------------------------------------------------------- */

/* ---- protocol --------------------------------------------------------------------------- */

START_TEST(test_in_file_halves) {
    char *m = qk_test_shared_dup(F16), *t = qk_test_shared_dup(CALIB);
    const char *fmt[2] = {"dat", "gguf"};
    char args[8192];
    char *p[2][4]; /* [format][a, b, whole, combined] */
    const char *tag[4] = {"a", "b", "whole", "comb"};
    for (int f = 0; f < 2; f++)
        for (int i = 0; i < 4; i++) {
            char name[64];
            snprintf(name, sizeof name, "half-%s.%s", tag[i], fmt[f]);
            p[f][i] = qk_test_tmp_path(name);
        }
    for (int f = 0; f < 2; f++) {
        const char *sel[3] = {"--chunks 3", "--chunk 3 --chunks 3", "--chunks 6"};
        for (int i = 0; i < 3; i++) {
            snprintf(args, sizeof args, "-m %s -f %s -c 128 -t 2 %s --output-format %s -o %s", m, t, sel[i], fmt[f],
                     p[f][i]);
            free(run_ok(args));
        }
        /* the halves combined, without -f (no model needed) */
        snprintf(args, sizeof args, "--in-file %s --in-file %s --output-format %s -o %s", p[f][0], p[f][1], fmt[f],
                 p[f][3]);
        free(run_ok(args));
        qk_imatrix *whole = read_im(p[f][2]), *comb = read_im(p[f][3]);
        ck_assert_int_eq(comb->chunk_count, 6);
        ck_assert_int_eq(whole->chunk_count, 6);
        assert_counts(whole, f == 0 ? 6.0f : 6.0f * 128, fmt[f]);
        assert_counts(comb, f == 0 ? 6.0f : 6.0f * 128, fmt[f]);
        compare_means(f == 0 ? "halves .dat" : "halves .gguf", comb, whole, ADD_REL);
        qk_imatrix_free(comb);
        qk_imatrix_free(whole);
    }
    /* mixed: a .dat half and a GGUF half meet in the calls form (the GGUF converted) */
    char *mixed = qk_test_tmp_path("mixed.gguf"), *fresh = qk_test_tmp_path("fresh.dat");
    snprintf(args, sizeof args, "--in-file %s --in-file %s -o %s", p[0][0], p[1][1], mixed);
    free(run_ok(args));
    /* an earlier file plus freshly collected chunks */
    snprintf(args, sizeof args, "-m %s -f %s -c 128 -t 2 --chunk 3 --chunks 3 --in-file %s --output-format dat -o %s",
             m, t, p[0][0], fresh);
    free(run_ok(args));
    qk_imatrix *whole = read_im(p[0][2]), *mx = read_im(mixed), *fr = read_im(fresh);
    assert_counts(mx, 6.0f, "mixed");
    assert_counts(fr, 6.0f, "--in-file + -f");
    ck_assert_int_eq(fr->chunk_count, 6);
    compare_means("halves .dat + .gguf", mx, whole, ADD_REL);
    compare_means("--in-file + -f", fr, whole, ADD_REL);
    qk_imatrix_free(whole);
    qk_imatrix_free(mx);
    qk_imatrix_free(fr);
    for (int f = 0; f < 2; f++)
        for (int i = 0; i < 4; i++) free(p[f][i]);
    free(mixed);
    free(fresh);
    free(m);
    free(t);
}
END_TEST

/* n_batch < n_ctx: one call per pass (c392e50 counts calls: its .dat chunk count is the
 * largest ncall), passes of fewer than 16 tokens not collected; the PPL is unchanged. */
START_TEST(test_passes_and_calls) {
    char *m = qk_test_shared_dup(F16), *t = qk_test_shared_dup(CALIB), *a = qk_test_tmp_path("p128.dat"),
         *b = qk_test_tmp_path("p64.dat"), *c = qk_test_tmp_path("p120.gguf");
    char args[8192];
    snprintf(args, sizeof args, "-m %s -f %s -c 128 --chunks 2 -t 2 --output-format dat -o %s", m, t, a);
    char *oa = run_ok(args);
    snprintf(args, sizeof args, "-m %s -f %s -c 128 -b 64 --chunks 2 -t 2 --output-format dat -o %s", m, t, b);
    char *ob = run_ok(args);
    snprintf(args, sizeof args, "-m %s -f %s -c 128 -b 120 --chunks 2 -t 2 -o %s", m, t, c);
    char *oc = run_ok(args);
    ck_assert_msg(strstr(oc, "fewer than 16") != NULL, "%s", oc);
    const double ppl = qk_test_number_after(oa, "Final estimate: PPL =");
    ck_assert(qk_test_close("imatrix c128x2", "PPL -b 64 vs -b 128", qk_test_number_after(ob, "Final estimate: PPL ="),
                            ppl, PPL_REL, 0));
    ck_assert(qk_test_close("imatrix c128x2", "PPL -b 120 vs -b 128", qk_test_number_after(oc, "Final estimate: PPL ="),
                            ppl, PPL_REL, 0));
    qk_imatrix *ia = read_im(a), *ib = read_im(b), *ic = read_im(c);
    ck_assert_int_eq(ia->chunk_count, 2);
    assert_counts(ia, 2.0f, "-b 128");
    ck_assert_int_eq(ib->chunk_count, 4);
    assert_counts(ib, 4.0f, "-b 64");
    ck_assert_int_eq(ic->chunk_count, 2);
    assert_counts(ic, 240.0f, "-b 120 (8-token passes left out)");
    compare_means("-b 64 vs -b 128", ib, ia, MEAN_REL);
    qk_imatrix_free(ia);
    qk_imatrix_free(ib);
    qk_imatrix_free(ic);
    free(oa);
    free(ob);
    free(oc);
    free(m);
    free(t);
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(test_process_output) {
    char *st = qk_test_shared_dup(STORIES), *m = qk_test_shared_dup(F16), *t = qk_test_shared_dup(CALIB);
    char *with = qk_test_tmp_path("po.gguf"), *without = qk_test_tmp_path("nopo.gguf"),
         *tied = qk_test_tmp_path("tied.gguf");
    char args[8192];
    snprintf(args, sizeof args, "-m %s -f %s -c 128 --chunks 3 -t 2 --process-output -o %s", st, t, with);
    char *ow = run_ok(args);
    snprintf(args, sizeof args, "-m %s -f %s -c 128 --chunks 3 -t 2 -o %s", st, t, without);
    char *on = run_ok(args);
    snprintf(args, sizeof args, "-m %s -f %s -c 64 --chunks 2 -t 2 --process-output -o %s", m, t, tied);
    char *ot = run_ok(args);
    ck_assert_msg(strstr(ot, "no output.weight") != NULL, "%s", ot);
    qk_imatrix *iw = read_im(with), *in = read_im(without), *it = read_im(tied);
    /* stories260K: 5 layers x 7 weights, plus its own output.weight [64, 512] with every
     * token's row (llama-imatrix requests all logits) */
    ck_assert_int_eq(in->n_entries, 35);
    ck_assert_int_eq(iw->n_entries, 36);
    const qk_imatrix_entry *e = qk_imatrix_find(iw, "output.weight");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->n_cols, 64);
    ck_assert(e->counts[0] == 3.0f * 128);
    ck_assert_ptr_null(qk_imatrix_find(in, "output.weight"));
    /* the PPL and the blk.* sums do not depend on which logits were requested (the layers
     * run the same rows either way: the same bits) */
    ck_assert(qk_test_close("stories c128x3", "PPL with/without --process-output",
                            qk_test_number_after(ow, "Final estimate: PPL ="),
                            qk_test_number_after(on, "Final estimate: PPL ="), 1e-6, 0));
    for (int64_t i = 0; i < in->n_entries; i++) {
        const qk_imatrix_entry *a = &in->entries[i], *b = qk_imatrix_find(iw, a->name);
        ck_assert_ptr_nonnull(b);
        ck_assert(a->counts[0] == b->counts[0]);
        ck_assert(memcmp(a->in_sum2, b->in_sum2, (size_t)a->n_cols * sizeof(float)) == 0);
    }
    /* the tied model: nothing more */
    ck_assert_int_eq(it->n_entries, 42);
    ck_assert_ptr_null(qk_imatrix_find(it, "output.weight"));
    ck_assert_ptr_null(qk_imatrix_find(it, "token_embd.weight"));
    qk_imatrix_free(iw);
    qk_imatrix_free(in);
    qk_imatrix_free(it);
    free(ow);
    free(on);
    free(ot);
    free(st);
    free(m);
    free(t);
    free(with);
    free(without);
    free(tied);
}
END_TEST

START_TEST(test_statistics_and_json) {
    char *st = qk_test_shared_dup(STORIES), *t = qk_test_shared_dup(CALIB), *o = qk_test_tmp_path("stat.gguf"),
         *js = qk_test_tmp_path("stat.json");
    char args[8192];
    snprintf(args, sizeof args, "-m %s -f %s -c 128 --chunks 2 -t 2 -o %s", st, t, o);
    free(run_ok(args));
    /* statistics of a file, without -f: nothing written (run in a directory of its own,
     * where the default output name would appear) */
    char *dir = qk_test_tmp_path("statdir"), *dflt = qk_test_tmp_path("statdir/imatrix.gguf");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "cd %s && %s --in-file %s --show-statistics --json %s", dir,
             qk_test_bin("qk-imatrix"), o, js);
    char *out = NULL;
    ck_assert_int_eq(qk_test_run(cmd, &out), 0);
    ck_assert_msg(strstr(out, "Computing tensor statistics") && strstr(out, "ffn_down") &&
                      strstr(out, "Computing layer statistics (5 layers)"),
                  "%s", out);
    ck_assert(!qk_test_exists(dflt));
    free(dir);
    free(dflt);
    cJSON *j = qk_test_read_json(js);
    ck_assert_int_eq((int)qk_test_json_num(j, NULL, "n_entries"), 35);
    const cJSON *arr = cJSON_GetObjectItem(j, "entries");
    ck_assert(cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == 35);
    double share = 0;
    qk_imatrix *im = read_im(o);
    for (int i = 0; i < 35; i++) {
        const cJSON *e = cJSON_GetArrayItem(arr, i);
        share += cJSON_GetObjectItem(e, "share_pct")->valuedouble;
        /* sum and max of the per-column means, from the file */
        const qk_imatrix_entry *ie = qk_imatrix_find(im, cJSON_GetObjectItem(e, "name")->valuestring);
        ck_assert_ptr_nonnull(ie);
        double s = 0, mx = 0;
        for (int64_t c = 0; c < ie->n_cols; c++) {
            const double v = (double)ie->in_sum2[c] / ie->counts[0];
            s += v;
            mx = fmax(mx, v);
        }
        ck_assert(fabs(cJSON_GetObjectItem(e, "sum")->valuedouble - s) <= 1e-9 * s);
        ck_assert(fabs(cJSON_GetObjectItem(e, "max")->valuedouble - mx) <= 1e-12 * mx);
        ck_assert(fabs(cJSON_GetObjectItem(e, "mean")->valuedouble - s / ie->n_cols) <= 1e-9 * s);
    }
    ck_assert(fabs(share - 100.0) < 1e-6);
    cJSON_Delete(j);
    qk_imatrix_free(im);
    free(out);
    free(st);
    free(t);
    free(o);
    free(js);
}
END_TEST

/* One failing run: non-zero exit, one error line containing needle, none of the outputs. */
#define expect_error(...) qk_test_expect_tool_error("qk-imatrix", __VA_ARGS__)

START_TEST(test_cli_errors) {
    char *m = qk_test_shared_dup(F16), *t = qk_test_shared_dup(CALIB), *o = qk_test_tmp_path("err.gguf"),
         *js = qk_test_tmp_path("err.json"), *shortf = qk_test_tmp_path("short.txt"),
         *mid = qk_test_tmp_path("mid.txt"), *empty = qk_test_tmp_path("empty.txt"),
         *good = qk_test_tmp_path("good.dat");
    FILE *f = fopen(shortf, "w");
    fputs("A short text that tokenizes to far fewer than 512 tokens .\n", f);
    fclose(f);
    f = fopen(empty, "w");
    fclose(f);
    /* mid.txt: enough for 2 chunks of 64, not for --chunk 10 */
    size_t lt;
    char *tb = qk_test_read_file(t, &lt);
    ck_assert_ptr_nonnull(tb);
    f = fopen(mid, "w");
    fwrite(tb, 1, 2000, f);
    fclose(f);
    free(tb);

    char *out;
    ck_assert_int_eq(qki(&out, "--help"), 0);
    const char *opts[] = {"-m, --model", "-f, --file", "-o, --output", "--output-format", "-c, --ctx-size",
                          "-b, --batch-size", "--chunks", "--chunk ", "-t, --threads", "--process-output",
                          "--in-file", "--show-statistics", "--json", "default: 512", "default: 2048",
                          "default: gguf"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) ck_assert_msg(strstr(out, opts[i]), "%s", opts[i]);
    free(out);

    expect_error("no text", NULL, NULL, "-m %s", m);
    expect_error("no model", NULL, NULL, "-f %s -o %s", t, o);
    expect_error("cannot load model", o, js, "-m /nonexistent.gguf -f %s -o %s --json %s", t, o, js);
    expect_error("cannot open text file", o, js, "-m %s -f /nonexistent.txt -o %s --json %s", m, o, js);
    expect_error("is empty", o, js, "-m %s -f %s -o %s --json %s", m, empty, o, js);
    expect_error("at least 2·n_ctx = 1024", o, js, "-m %s -f %s -o %s --json %s", m, shortf, o, js);
    expect_error("--chunk 10", o, js, "-m %s -f %s -c 64 --chunk 10 -o %s --json %s", m, mid, o, js);
    expect_error("even and at least 16", NULL, NULL, "-m %s -f %s -c 15", m, t);
    expect_error("even and at least 16", NULL, NULL, "-m %s -f %s -c 8", m, t);
    expect_error("-c expects an integer", NULL, NULL, "-m %s -f %s -c abc", m, t);
    expect_error("-b expects an integer from 16", NULL, NULL, "-m %s -f %s -b 8", m, t);
    expect_error("-t expects an integer from 0 to 4096", NULL, NULL, "-m %s -f %s -t 99999", m, t);
    expect_error("--chunks 0", NULL, NULL, "-m %s -f %s --chunks 0", m, t);
    expect_error("--chunk expects an integer from 0", NULL, NULL, "-m %s -f %s --chunk -1", m, t);
    expect_error("--output-format expects gguf or dat", NULL, NULL, "-m %s -f %s --output-format txt", m, t);
    expect_error("unknown option", NULL, NULL, "-m %s -f %s --frobnicate", m, t);
    expect_error("unexpected argument", NULL, NULL, "-m %s -f %s extra", m, t);
    expect_error("cannot", o, NULL, "--in-file /nonexistent.dat -o %s", o);
    expect_error("short.txt", o, NULL, "--in-file %s -o %s", shortf, o); /* not an imatrix */

    /* an output that is an input (or the other output) is refused before anything runs;
     * the inputs keep their bytes */
    char args[8192];
    snprintf(args, sizeof args, "-m %s -f %s -c 64 --chunks 2 -t 2 --output-format dat -o %s", m, t, good);
    free(run_ok(args));
    char sha_before[65], sha_after[65];
    size_t lg;
    char *gb = qk_test_read_file(good, &lg);
    qk_test_sha256_hex(gb, lg, sha_before);
    free(gb);
    expect_error("is the input", NULL, NULL, "-m %s -f %s -o %s", m, shortf, shortf);
    expect_error("is the input", NULL, NULL, "-m %s -f %s -o %s", m, t, m);
    expect_error("is the input", NULL, NULL, "--in-file %s -o %s", good, good);
    expect_error("is the input", NULL, NULL, "-m %s -f %s --in-file %s -o %s/./good.dat", m, t, good,
                 qk_test_tmpdir());
    expect_error("are the same file", NULL, NULL, "-m %s -f %s -o %s --json %s", m, t, o, o);
    ck_assert(!qk_test_exists(o));
    gb = qk_test_read_file(good, &lg);
    qk_test_sha256_hex(gb, lg, sha_after);
    free(gb);
    ck_assert_str_eq(sha_before, sha_after);
    /* an in-file made for another model is refused before fresh data is collected */
    char *st = qk_test_shared_dup(STORIES);
    expect_error("good.dat", o, NULL, "-m %s -f %s -c 64 --chunks 2 --in-file %s -o %s", st, t, good, o);
    free(st);

    free(m);
    free(t);
    free(o);
    free(js);
    free(shortf);
    free(mid);
    free(empty);
    free(good);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("imatrix_tool");
    TCase *tc = tcase_create("collector");
    tcase_add_test(tc, test_collector_rules);
    tcase_add_test(tc, test_collector_forms);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("protocol");
    tcase_set_timeout(tp, 1200);
    tcase_add_test(tp, test_in_file_halves);
    tcase_add_test(tp, test_passes_and_calls);
    tcase_add_test(tp, test_process_output);
    tcase_add_test(tp, test_statistics_and_json);
    tcase_add_test(tp, test_cli_errors);
    suite_add_tcase(s, tp);
    return s;
}

int main(void) {
    qk_test_tmpdir(); /* create it once, before the forked tests */
    return qk_test_main(suite());
}
