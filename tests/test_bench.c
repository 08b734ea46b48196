/*
 * test_bench.c — qk-bench: llama-bench's CSV header byte for byte (against the golden
 * llama-bench CSV files), CSV quoting, JSON typing, markdown layout, the statistics
 * (mean, n−1 standard deviation), the test matrix order, and real short runs of the tool
 * on stories260K parsed back from CSV and JSON (structure and positive rates only: no
 * timing thresholds); the --membw bandwidth probe (API and tool output in CSV/JSON/md)
 * and the generation roofline (byte counts on made-up and real models, the fraction, the
 * tool's JSON fields and md table, the CSV staying llama-bench's).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_matrix.h"
#include "bench_membw.h"
#include "bench_output.h"
#include "bench_roofline.h"
#include "bench_run.h"
#include "bench_stats.h"
#include "bench_sysinfo.h"
#include "fileio.h"
#include "afile.h"
#include "testutil.h"

#define STORIES "data/models/stories260K/stories260K.gguf"
#define WIKI13M "data/models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf"

/* ---- a small RFC 4180 CSV reader for the checks --------------------------------------- */

typedef struct csv_row {
    char *f[64];
    int n;
    int all_quoted; /* every field was double-quoted */
} csv_row;

/* Parse one line starting at *p; advances *p past its '\n'. Returns 0 at end of input. */
static int csv_next(const char **p, csv_row *row) {
    const char *s = *p;
    if (!*s) return 0;
    row->n = 0;
    row->all_quoted = 1;
    for (;;) {
        char buf[4096];
        size_t n = 0;
        if (*s == '"') {
            s++;
            for (;;) {
                ck_assert_msg(*s, "unterminated quoted field");
                if (*s == '"' && s[1] == '"') { buf[n++] = '"'; s += 2; continue; }
                if (*s == '"') { s++; break; }
                buf[n++] = *s++;
            }
        } else {
            row->all_quoted = 0;
            while (*s && *s != ',' && *s != '\n') buf[n++] = *s++;
        }
        buf[n] = 0;
        ck_assert_int_lt(row->n, 64);
        row->f[row->n++] = strdup(buf);
        if (*s == ',') { s++; continue; }
        if (*s == '\n') s++;
        break;
    }
    *p = s;
    return 1;
}

static void csv_free(csv_row *row) {
    for (int i = 0; i < row->n; i++) free(row->f[i]);
    row->n = 0;
}

static char *first_line(const char *text) {
    size_t n = strcspn(text, "\n");
    char *s = malloc(n + 1);
    memcpy(s, text, n);
    s[n] = 0;
    return s;
}

static qk_bench_env test_env(void) {
    qk_bench_env e = {"unknown", 0, "Test CPU", false, false};
    return e;
}

/* A result with fixed samples for printer tests. */
static qk_bench_result fake_result(const char *model, int n_prompt, int n_gen) {
    qk_bench_result r;
    memset(&r, 0, sizeof r);
    r.test.model = model;
    r.test.n_prompt = n_prompt;
    r.test.n_gen = n_gen;
    r.test.n_batch = 2048;
    r.test.n_threads = 2;
    snprintf(r.model_type, sizeof r.model_type, "qwen2 1B Q4_K - Medium");
    r.model_size = 391839232;
    r.model_n_params = 494032768;
    r.n_ubatch = 512;
    r.test_time = 1700000000; /* 2023-11-14T22:13:20Z */
    r.n_samples = 2;
    r.samples_ns = malloc(2 * sizeof(uint64_t));
    r.samples_ns[0] = 1000000000ull;
    r.samples_ns[1] = 2000000000ull;
    return r;
}

/* ---- header ----------------------------------------------------------------------------- */

START_TEST(csv_header_matches_golden) {
    qk_bench_env e = test_env();
    qk_sb sb = {0};
    qk_bench_print_header(&sb, QK_BENCH_FMT_CSV, &e);
    const char *files[] = {"golden/bench/synth-qwen2.5-0.5b.llama-bench.csv",
                           "golden/bench/wiki-qwen2-13m.llama-bench.csv"};
    for (int k = 0; k < 2; k++) {
        char *gold = qk_test_read_file(qk_test_shared(files[k]), NULL);
        ck_assert_msg(gold != NULL, "cannot read %s", files[k]);
        char *gl = first_line(gold);
        char *ours = first_line(qk_sb_str(&sb));
        ck_assert_str_eq(ours, gl);
        /* and the header line ends with a single '\n' as llama-bench writes it */
        ck_assert_int_eq(sb.len, strlen(gl) + 1);
        ck_assert_int_eq(sb.buf[sb.len - 1], '\n');
        free(gl);
        free(ours);
        free(gold);
    }
    qk_sb_free(&sb);
}
END_TEST

START_TEST(golden_rows_have_32_quoted_fields) {
    /* our reader and field count agree with what llama-bench wrote */
    char *gold = qk_test_read_file(qk_test_shared("golden/bench/synth-qwen2.5-0.5b.llama-bench.csv"), NULL);
    ck_assert_ptr_nonnull(gold);
    const char *p = gold;
    csv_row row;
    ck_assert(csv_next(&p, &row));
    ck_assert_int_eq(row.n, QK_BENCH_N_FIELDS);
    for (int i = 0; i < row.n; i++) ck_assert_str_eq(row.f[i], qk_bench_fields[i]);
    csv_free(&row);
    int rows = 0;
    while (csv_next(&p, &row)) {
        ck_assert_int_eq(row.n, QK_BENCH_N_FIELDS);
        ck_assert(row.all_quoted);
        csv_free(&row);
        rows++;
    }
    ck_assert_int_gt(rows, 0);
    free(gold);
}
END_TEST

/* ---- quoting and rows ------------------------------------------------------------------- */

START_TEST(csv_quoting) {
    qk_sb sb = {0};
    qk_bench_csv_quote(&sb, "a\"b,c");
    ck_assert_str_eq(qk_sb_str(&sb), "\"a\"\"b,c\"");
    sb.len = 0;
    qk_bench_csv_quote(&sb, "");
    ck_assert_str_eq(qk_sb_str(&sb), "\"\"");
    qk_sb_free(&sb);
}
END_TEST

START_TEST(csv_row_roundtrip) {
    qk_bench_env e = test_env();
    qk_bench_result r = fake_result("dir/we\"ird,name.gguf", 512, 0);
    qk_sb sb = {0};
    qk_bench_print_header(&sb, QK_BENCH_FMT_CSV, &e);
    qk_bench_print_test(&sb, QK_BENCH_FMT_CSV, &e, &r, 0);
    const char *p = qk_sb_str(&sb);
    csv_row h, row;
    ck_assert(csv_next(&p, &h));
    ck_assert(csv_next(&p, &row));
    ck_assert_int_eq(row.n, QK_BENCH_N_FIELDS);
    ck_assert(row.all_quoted);
    ck_assert_int_eq(*p, 0);
    for (int i = 0; i < row.n; i++) {
        const char *name = h.f[i], *v = row.f[i];
        if (!strcmp(name, "model_filename")) ck_assert_str_eq(v, "dir/we\"ird,name.gguf");
        if (!strcmp(name, "model_type")) ck_assert_str_eq(v, "qwen2 1B Q4_K - Medium");
        if (!strcmp(name, "cpu_info")) ck_assert_str_eq(v, "Test CPU");
        if (!strcmp(name, "backends")) ck_assert_str_eq(v, "CPU");
        if (!strcmp(name, "model_size")) ck_assert_str_eq(v, "391839232");
        if (!strcmp(name, "n_prompt")) ck_assert_str_eq(v, "512");
        if (!strcmp(name, "n_gen")) ck_assert_str_eq(v, "0");
        if (!strcmp(name, "test_time")) ck_assert_str_eq(v, "2023-11-14T22:13:20Z");
        /* samples 1 s and 2 s for 512 tokens: ts 512 and 256 */
        if (!strcmp(name, "avg_ns")) ck_assert_str_eq(v, "1500000000");
        if (!strcmp(name, "stddev_ns")) ck_assert_str_eq(v, "707106781");
        if (!strcmp(name, "avg_ts")) ck_assert_str_eq(v, "384.000000");
        if (!strcmp(name, "stddev_ts")) ck_assert_str_eq(v, "181.019336");
    }
    csv_free(&h);
    csv_free(&row);
    qk_sb_free(&sb);
    qk_bench_result_free(&r);
}
END_TEST

START_TEST(json_typing) {
    qk_bench_env e = test_env();
    qk_bench_result a = fake_result("a.gguf", 0, 128), b = fake_result("b.gguf", 512, 0);
    a.use_mmap = true; /* qk-bench -mmp 1 */
    qk_sb sb = {0};
    qk_bench_print_header(&sb, QK_BENCH_FMT_JSON, &e);
    qk_bench_print_test(&sb, QK_BENCH_FMT_JSON, &e, &a, 0);
    qk_bench_print_test(&sb, QK_BENCH_FMT_JSON, &e, &b, 1);
    qk_bench_print_footer(&sb, QK_BENCH_FMT_JSON, &e, 2);
    cJSON *j = cJSON_Parse(qk_sb_str(&sb));
    ck_assert_msg(j != NULL, "not JSON: %s", qk_sb_str(&sb));
    ck_assert(cJSON_IsArray(j));
    ck_assert_int_eq(cJSON_GetArraySize(j), 2);
    cJSON *o = cJSON_GetArrayItem(j, 0);
    for (int i = 0; i < QK_BENCH_N_FIELDS; i++)
        ck_assert_msg(cJSON_GetObjectItemCaseSensitive(o, qk_bench_fields[i]), "missing %s",
                      qk_bench_fields[i]);
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(o, "model_filename")));
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(o, "cpu_strict")));
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "use_mmap")));
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 1), "use_mmap")));
    ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(o, "n_gen")));
    ck_assert_int_eq(cJSON_GetObjectItem(o, "n_gen")->valueint, 128);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(o, "avg_ns")->valuedouble, 1.5e9, 0.5);
    /* 128 tokens in 1 s and 2 s */
    ck_assert_double_eq_tol(cJSON_GetObjectItem(o, "avg_ts")->valuedouble, 96.0, 1e-6);
    cJSON *ts = cJSON_GetObjectItem(o, "samples_ts");
    ck_assert_int_eq(cJSON_GetArraySize(ts), 2);
    ck_assert_double_eq_tol(cJSON_GetArrayItem(ts, 0)->valuedouble, 128.0, 1e-9);
    ck_assert_double_eq_tol(cJSON_GetArrayItem(ts, 1)->valuedouble, 64.0, 1e-9);
    cJSON *ns = cJSON_GetObjectItem(o, "samples_ns");
    ck_assert_double_eq(cJSON_GetArrayItem(ns, 1)->valuedouble, 2e9);
    cJSON_Delete(j);
    qk_sb_free(&sb);
    qk_bench_result_free(&a);
    qk_bench_result_free(&b);
}
END_TEST

START_TEST(markdown_layout) {
    qk_bench_env e = test_env();
    qk_bench_result r = fake_result("a.gguf", 512, 0);
    qk_sb sb = {0};
    qk_bench_print_header(&sb, QK_BENCH_FMT_MD, &e);
    qk_bench_print_test(&sb, QK_BENCH_FMT_MD, &e, &r, 0);
    qk_bench_print_footer(&sb, QK_BENCH_FMT_MD, &e, 1);
    const char *expect =
        "| model                          |       size |     params | backend    | threads |          test |                  t/s |\n"
        "| ------------------------------ | ---------: | ---------: | ---------- | ------: | ------------: | -------------------: |\n"
        "| qwen2 1B Q4_K - Medium         | 373.69 MiB |   494.03 M | CPU        |       2 |         pp512 |      384.00 \xc2\xb1 181.02 |\n"
        "\nbuild: unknown (0)\n";
    ck_assert_str_eq(qk_sb_str(&sb), expect);
    /* a non-default batch size adds the n_batch column */
    e.md_show_n_batch = true;
    sb.len = 0;
    qk_bench_print_header(&sb, QK_BENCH_FMT_MD, &e);
    ck_assert_ptr_nonnull(strstr(qk_sb_str(&sb), "| n_batch |"));
    qk_sb_free(&sb);
    qk_bench_result_free(&r);
}
END_TEST

/* ---- statistics ------------------------------------------------------------------------- */

START_TEST(mean_and_sample_sd) {
    const double x[] = {2, 4, 4, 4, 5, 5, 7, 9};
    ck_assert_double_eq_tol(qk_bench_mean(x, 8), 5.0, 1e-12);
    ck_assert_double_eq_tol(qk_bench_stdev(x, 8), sqrt(32.0 / 7.0), 1e-12); /* n−1, not n */
    ck_assert_double_eq(qk_bench_stdev(x, 1), 0.0);
    ck_assert_double_eq(qk_bench_mean(x, 0), 0.0);
    const double y[] = {10, 12};
    ck_assert_double_eq_tol(qk_bench_stdev(y, 2), sqrt(2.0), 1e-12);
}
END_TEST

START_TEST(summary_is_mean_of_rates) {
    /* t/s is the mean of per-repetition rates, not tokens / mean time */
    const uint64_t ns[] = {1000000000ull, 4000000000ull};
    qk_bench_summary s = qk_bench_summarize(ns, 2, 100);
    ck_assert_double_eq_tol(s.avg_ts, (100.0 + 25.0) / 2, 1e-9);
    ck_assert_double_eq_tol(s.stddev_ts, sqrt(2 * 37.5 * 37.5), 1e-9);
    ck_assert_uint_eq(s.avg_ns, 2500000000ull);
    ck_assert_uint_eq(s.stddev_ns, 2121320344ull); /* 1.5e9 * sqrt(2), rounded */
    qk_bench_summary one = qk_bench_summarize(ns, 1, 100);
    ck_assert_uint_eq(one.stddev_ns, 0);
    ck_assert_double_eq(one.stddev_ts, 0.0);
    ck_assert_double_eq_tol(qk_bench_ts(512, 2000000000ull), 256.0, 1e-12);
}
END_TEST

/* ---- matrix ----------------------------------------------------------------------------- */

START_TEST(matrix_order_and_lists) {
    qk_bench_params p;
    memset(&p, 0, sizeof p);
    const char *models[] = {"a.gguf", "b.gguf"};
    p.models = models;
    p.n_models = 2;
    qk_err err;
    const struct {
        qk_int_list *l;
        int v[2], n;
    } lists[] = {{&p.n_prompt, {512, 0}, 2}, {&p.n_gen, {128}, 1}, {&p.n_batch, {2048}, 1},
                 {&p.n_threads, {2, 1}, 2}, {&p.pg, {64, 16}, 2}};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
        for (int k = 0; k < lists[i].n; k++) ck_assert_int_eq(qk_int_list_push(lists[i].l, lists[i].v[k], &err), 0);
    qk_bench_test *t;
    int n;
    ck_assert_int_eq(qk_bench_expand(&p, &t, &n, &err), 0);
    /* per model: (t=2: pp512, tg128, pp64+tg16), (t=1: same) — the -p 0 is skipped */
    ck_assert_int_eq(n, 12);
    const char *names[] = {"pp512", "tg128", "pp64+tg16"};
    for (int i = 0; i < n; i++) {
        char buf[32];
        qk_bench_test_name(&t[i], buf, sizeof buf);
        ck_assert_str_eq(buf, names[i % 3]);
        ck_assert_int_eq(t[i].n_threads, (i / 3) % 2 == 0 ? 2 : 1);
        ck_assert_str_eq(t[i].model, models[i / 6]);
    }
    ck_assert_int_eq(t[0].n_gen, 0);
    ck_assert_int_eq(t[1].n_prompt, 0);
    free(t);
    /* nothing to run */
    qk_int_list_free(&p.n_prompt);
    qk_int_list_free(&p.n_gen);
    qk_int_list_free(&p.pg);
    ck_assert_int_eq(qk_int_list_push(&p.n_prompt, 0, &err), 0);
    ck_assert_int_eq(qk_int_list_push(&p.n_gen, 0, &err), 0);
    ck_assert_int_eq(qk_bench_expand(&p, &t, &n, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "nothing to run"));
    qk_int_list_free(&p.n_prompt);
    qk_int_list_free(&p.n_gen);
    qk_int_list_free(&p.n_batch);
    qk_int_list_free(&p.n_threads);
}
END_TEST

START_TEST(sysinfo_and_tokens) {
    char buf[32];
    qk_bench_rfc3339(0, buf, sizeof buf);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
    ck_assert_int_ge(qk_bench_default_threads(), 1);
    /* the token stream is deterministic and in range */
    uint64_t s1 = 42, s2 = 42;
    int differ = 0;
    int32_t prev = -1;
    for (int i = 0; i < 1000; i++) {
        int32_t a = qk_bench_next_token(&s1, 151936), b = qk_bench_next_token(&s2, 151936);
        ck_assert_int_eq(a, b);
        ck_assert(a >= 0 && a < 151936);
        if (a != prev) differ++;
        prev = a;
    }
    ck_assert_int_gt(differ, 900);
    ck_assert_int_eq(qk_bench_format_from_path("x/y.csv"), QK_BENCH_FMT_CSV);
    ck_assert_int_eq(qk_bench_format_from_path("y.json"), QK_BENCH_FMT_JSON);
    ck_assert_int_eq(qk_bench_format_from_path("y.md"), QK_BENCH_FMT_MD);
    ck_assert_int_eq(qk_bench_format_from_path("a.csv/y"), QK_BENCH_FMT_NONE);
}
END_TEST

/* ---- the tool --------------------------------------------------------------------------- */

START_TEST(real_run_csv) {
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s -m %s -p 16 -n 4 -r 2 -t 1 -o csv 2>/dev/null", qk_test_bin("qk-bench"),
             qk_test_shared(STORIES));
    int rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "qk-bench failed: %s", out);
    char *gold = qk_test_read_file(qk_test_shared("golden/bench/wiki-qwen2-13m.llama-bench.csv"), NULL);
    char *gl = first_line(gold), *ol = first_line(out);
    ck_assert_str_eq(ol, gl);
    /* the fields that describe llama.cpp settings qkit does not vary carry llama-bench's
     * default values, as in the golden file (use_mmap is qkit's -mmp: 0 by default) */
    const char *same[] = {"build_number", "gpu_info", "backends", "n_batch",
                          "n_ubatch", "cpu_mask", "cpu_strict", "poll", "type_k", "type_v",
                          "n_gpu_layers", "split_mode", "main_gpu", "no_kv_offload",
                          "flash_attn", "tensor_split", "embeddings"};
    const char *gp = gold;
    csv_row gh, grow;
    ck_assert(csv_next(&gp, &gh));
    ck_assert(csv_next(&gp, &grow));
    const char *p = out;
    csv_row h, row;
    ck_assert(csv_next(&p, &h));
    ck_assert(csv_next(&p, &row));
    for (size_t k = 0; k < sizeof same / sizeof *same; k++)
        for (int i = 0; i < QK_BENCH_N_FIELDS; i++)
            if (!strcmp(h.f[i], same[k])) ck_assert_str_eq(row.f[i], grow.f[i]);
    csv_free(&row);
    csv_free(&gh);
    csv_free(&grow);
    p = out;
    csv_free(&h);
    ck_assert(csv_next(&p, &h));
    int rows = 0;
    while (csv_next(&p, &row)) {
        ck_assert_int_eq(row.n, QK_BENCH_N_FIELDS);
        ck_assert(row.all_quoted);
        int np = -1, ng = -1;
        double ts = -1;
        for (int i = 0; i < row.n; i++) {
            if (!strcmp(h.f[i], "n_prompt")) np = atoi(row.f[i]);
            if (!strcmp(h.f[i], "n_gen")) ng = atoi(row.f[i]);
            if (!strcmp(h.f[i], "avg_ts")) ts = atof(row.f[i]);
            if (!strcmp(h.f[i], "n_threads")) ck_assert_str_eq(row.f[i], "1");
            if (!strcmp(h.f[i], "backends")) ck_assert_str_eq(row.f[i], "CPU");
            if (!strcmp(h.f[i], "use_mmap")) ck_assert_str_eq(row.f[i], "0");
            if (!strcmp(h.f[i], "model_type")) ck_assert_str_eq(row.f[i], "llama ?B all F32");
            if (!strcmp(h.f[i], "model_size")) ck_assert_int_gt(atoll(row.f[i]), 1000000);
            if (!strcmp(h.f[i], "test_time")) ck_assert_int_eq(strlen(row.f[i]), 20);
        }
        ck_assert_int_eq(np, rows == 0 ? 16 : 0);
        ck_assert_int_eq(ng, rows == 0 ? 0 : 4);
        ck_assert(ts > 0 && isfinite(ts));
        csv_free(&row);
        rows++;
    }
    ck_assert_int_eq(rows, 2);
    csv_free(&h);
    free(gl);
    free(ol);
    free(gold);
    free(out);
}
END_TEST

START_TEST(real_run_json_and_files) {
    char dir[4096], jpath[4200], cpath[4200], cmd[16384], *out = NULL;
    snprintf(dir, sizeof dir, "%s/bench-json", qk_test_tmpdir());
    ck_assert_int_eq(qk_file_mkdir_p(dir, NULL), 0);
    snprintf(jpath, sizeof jpath, "%s/r.json", dir);
    snprintf(cpath, sizeof cpath, "%s/r.csv", dir);
    snprintf(cmd, sizeof cmd, "%s -m %s -p 16 -n 4 -r 2 -mmp 1 -o json --progress --output-file %s --output-file %s",
             qk_test_bin("qk-bench"), qk_test_shared(STORIES), jpath, cpath);
    int rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "qk-bench failed: %s", out);
    ck_assert_ptr_nonnull(strstr(out, "qk-bench: test 2/2"));
    free(out);
    char *text = qk_test_read_file(jpath, NULL);
    ck_assert_ptr_nonnull(text);
    cJSON *j = cJSON_Parse(text);
    ck_assert_msg(j != NULL, "bad JSON: %s", text);
    ck_assert_int_eq(cJSON_GetArraySize(j), 2);
    cJSON *o;
    cJSON_ArrayForEach(o, j) {
        cJSON *ns = cJSON_GetObjectItem(o, "samples_ns"), *ts = cJSON_GetObjectItem(o, "samples_ts");
        ck_assert_int_eq(cJSON_GetArraySize(ns), 2);
        ck_assert_int_eq(cJSON_GetArraySize(ts), 2);
        double sum = 0;
        int ntok = cJSON_GetObjectItem(o, "n_prompt")->valueint + cJSON_GetObjectItem(o, "n_gen")->valueint;
        for (int k = 0; k < 2; k++) {
            double t = cJSON_GetArrayItem(ts, k)->valuedouble, n = cJSON_GetArrayItem(ns, k)->valuedouble;
            ck_assert(n > 0 && t > 0);
            ck_assert_double_eq_tol(t, ntok * 1e9 / n, t * 1e-9); /* ts_k = tokens·1e9/ns_k */
            sum += t;
        }
        double avg = cJSON_GetObjectItem(o, "avg_ts")->valuedouble;
        ck_assert_double_eq_tol(avg, sum / 2, avg * 1e-6); /* t/s = mean of ts_k */
        ck_assert_str_eq(cJSON_GetObjectItem(o, "model_filename")->valuestring, qk_test_shared(STORIES));
        ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "use_mmap"))); /* -mmp 1 */
    }
    cJSON_Delete(j);
    free(text);
    char *csv = qk_test_read_file(cpath, NULL);
    ck_assert_ptr_nonnull(csv);
    ck_assert(strncmp(csv, "build_commit,build_number,", 26) == 0);
    free(csv);
}
END_TEST

START_TEST(errors_are_one_line) {
    char cmd[8192], *out = NULL, path[4200];
    snprintf(path, sizeof path, "%s/never.csv", qk_test_tmpdir());
    snprintf(cmd, sizeof cmd, "%s -m %s/missing.gguf -o csv --output-file %s", qk_test_bin("qk-bench"),
             qk_test_tmpdir(), path);
    int rc = qk_test_run(cmd, &out);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_nonnull(strstr(out, "qk-bench: error:"));
    int lines = 0;
    for (const char *c = out; *c; c++) lines += *c == '\n';
    ck_assert_msg(lines == 1, "expected one line, got: %s", out);
    ck_assert(access(path, F_OK) != 0);
    free(out);
    /* a file that is not a GGUF model */
    char bad[4200];
    snprintf(bad, sizeof bad, "%s/bad.gguf", qk_test_tmpdir());
    ck_assert_int_eq(qk_afile_write_all(bad, "GGUF-not-really", 15, NULL), 0);
    snprintf(cmd, sizeof cmd, "%s -m %s -o none", qk_test_bin("qk-bench"), bad);
    rc = qk_test_run(cmd, &out);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_nonnull(strstr(out, "qk-bench: error: cannot load model"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s -m %s -p 8 -n 0 -o yaml", qk_test_bin("qk-bench"), qk_test_shared(STORIES));
    rc = qk_test_run(cmd, &out);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_nonnull(strstr(out, "unknown output format"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s -m %s -p 8 -n 0 -mmp 2", qk_test_bin("qk-bench"), qk_test_shared(STORIES));
    rc = qk_test_run(cmd, &out);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_nonnull(strstr(out, "qk-bench: error: -mmp takes 0 or 1, got '2'"));
    free(out);
}
END_TEST

/* ---- memory bandwidth probe ------------------------------------------------------------- */

START_TEST(membw_api) {
    const int threads[] = {1, 2};
    qk_membw_result r[2];
    qk_err err;
    const size_t bytes = 16u << 20;
    ck_assert_msg(qk_membw_measure(threads, 2, bytes, 2, NULL, NULL, r, &err) == 0, "%s", err.msg);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(r[i].n_threads, threads[i]);
        ck_assert_uint_eq(r[i].buffer_bytes, bytes);
        ck_assert_int_eq(r[i].passes, 2);
        ck_assert(r[i].best_ns > 0);
        ck_assert(r[i].best_gbs > 0 && isfinite(r[i].best_gbs));
        ck_assert(r[i].mean_gbs > 0 && isfinite(r[i].mean_gbs));
        /* best is the fastest pass, mean the mean over passes: best >= mean */
        ck_assert(r[i].best_gbs >= r[i].mean_gbs * (1 - 1e-12));
        ck_assert_double_eq_tol(r[i].best_gbs, (double)bytes / (double)r[i].best_ns, 1e-9);
        ck_assert(!strcmp(r[i].kernel, "AVX2") || !strcmp(r[i].kernel, "scalar"));
    }
    /* a size that is not a multiple of 4 KiB is rounded down */
    ck_assert_int_eq(qk_membw_measure(threads, 1, (2u << 20) + 100, 1, NULL, NULL, r, &err), 0);
    ck_assert_uint_eq(r[0].buffer_bytes, 2u << 20);
    /* bad arguments */
    ck_assert_int_eq(qk_membw_measure(threads, 1, bytes, 0, NULL, NULL, r, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "passes"));
    ck_assert_int_eq(qk_membw_measure(threads, 1, 4096, 1, NULL, NULL, r, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "too small"));
    const int zero[] = {0};
    ck_assert_int_eq(qk_membw_measure(zero, 1, bytes, 1, NULL, NULL, r, &err), -1);
    ck_assert_int_eq(qk_membw_measure(threads, 0, bytes, 1, NULL, NULL, r, &err), -1);
    /* the default size policy */
    size_t d = qk_membw_default_bytes();
    ck_assert(d >= (64u << 20) && d % 4096 == 0);
}
END_TEST

START_TEST(membw_tool_csv) {
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s --membw -t 1,2 --membw-mib 16 --membw-passes 2 -o csv 2>/dev/null",
             qk_test_bin("qk-bench"));
    int rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "qk-bench --membw failed: %s", out);
    const char *p = out;
    csv_row h, row;
    ck_assert(csv_next(&p, &h));
    const char *want[] = {"cpu_info", "n_threads", "buffer_bytes", "passes",
                          "kernel",   "best_ns",   "best_gbs",     "mean_gbs"};
    ck_assert_int_eq(h.n, 8);
    for (int i = 0; i < 8; i++) ck_assert_str_eq(h.f[i], want[i]);
    int rows = 0;
    while (csv_next(&p, &row)) {
        ck_assert_int_eq(row.n, 8);
        ck_assert(row.all_quoted);
        ck_assert_int_eq(atoi(row.f[1]), rows + 1);
        ck_assert_str_eq(row.f[2], "16777216");
        ck_assert_str_eq(row.f[3], "2");
        ck_assert(atoll(row.f[5]) > 0);
        double best = atof(row.f[6]), mean = atof(row.f[7]);
        ck_assert(best > 0 && mean > 0 && isfinite(best));
        csv_free(&row);
        rows++;
    }
    ck_assert_int_eq(rows, 2);
    csv_free(&h);
    free(out);
}
END_TEST

START_TEST(membw_tool_json_md_and_errors) {
    char cmd[16384], *out = NULL, md[4200], dir[4096];
    snprintf(dir, sizeof dir, "%s/membw", qk_test_tmpdir());
    ck_assert_int_eq(qk_file_mkdir_p(dir, NULL), 0);
    snprintf(md, sizeof md, "%s/membw.md", dir);
    snprintf(cmd, sizeof cmd, "%s --membw -t 2 --membw-mib 8 --membw-passes 1 -o json --output-file %s 2>/dev/null",
             qk_test_bin("qk-bench"), md);
    int rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "qk-bench --membw failed: %s", out);
    cJSON *j = cJSON_Parse(out);
    ck_assert_msg(j && cJSON_IsArray(j), "not a JSON array: %s", out);
    ck_assert_int_eq(cJSON_GetArraySize(j), 1);
    cJSON *o = cJSON_GetArrayItem(j, 0);
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(o, "cpu_info")));
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(o, "kernel")));
    ck_assert_int_eq(cJSON_GetObjectItem(o, "n_threads")->valueint, 2);
    ck_assert_double_eq(cJSON_GetObjectItem(o, "buffer_bytes")->valuedouble, 8.0 * 1024 * 1024);
    ck_assert(cJSON_GetObjectItem(o, "best_gbs")->valuedouble > 0);
    ck_assert(cJSON_GetObjectItem(o, "mean_gbs")->valuedouble > 0);
    ck_assert(cJSON_GetObjectItem(o, "best_ns")->valuedouble > 0);
    cJSON_Delete(j);
    free(out);
    char *text = qk_test_read_file(md, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(strstr(text, "| threads |     buffer | passes | kernel | GB/s (best) |"));
    ck_assert_ptr_nonnull(strstr(text, "|       2 |      8 MiB |      1 |"));
    free(text);
    /* --membw takes no model; bad sizes are one-line errors */
    snprintf(cmd, sizeof cmd, "%s --membw -m %s", qk_test_bin("qk-bench"), qk_test_shared(STORIES));
    rc = qk_test_run(cmd, &out);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_nonnull(strstr(out, "qk-bench: error: --membw"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s --membw --membw-mib 0", qk_test_bin("qk-bench"));
    rc = qk_test_run(cmd, &out);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_nonnull(strstr(out, "--membw-mib expects an integer from 1 to 1048576, got '0'"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s -m %s --membw-gbs -3", qk_test_bin("qk-bench"), qk_test_shared(STORIES));
    rc = qk_test_run(cmd, &out);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_nonnull(strstr(out, "--membw-gbs expects a number from 0.001 to 1e+06, got '-3'"));
    free(out);
    /* an --output-file that is the model (another name for it) is refused; the model's
     * bytes are unchanged */
    char model[4200], sha_before[65], sha_after[65];
    size_t len;
    snprintf(model, sizeof model, "%s/m.gguf", dir);
    char *bytes = qk_test_read_file(qk_test_shared(STORIES), &len);
    ck_assert_ptr_nonnull(bytes);
    ck_assert_int_eq(qk_afile_write_all(model, bytes, len, NULL), 0);
    qk_test_sha256_hex(bytes, len, sha_before);
    free(bytes);
    snprintf(cmd, sizeof cmd, "%s -m %s -p 8 -n 0 -r 1 --output-file %s/../membw/m.gguf", qk_test_bin("qk-bench"), model,
             dir);
    rc = qk_test_run(cmd, &out);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(out, "qk-bench: error:") && strstr(out, "m.gguf"), "%s", out);
    free(out);
    bytes = qk_test_read_file(model, &len);
    ck_assert_ptr_nonnull(bytes);
    qk_test_sha256_hex(bytes, len, sha_after);
    free(bytes);
    ck_assert_str_eq(sha_after, sha_before);
}
END_TEST

/* ---- roofline --------------------------------------------------------------------------- */

START_TEST(roofline_made_up_numbers) {
    qk_roofline rl;
    qk_err err;
    /* 1 GB per token at 10 GB/s: at most 10 t/s; measured 5 t/s is half of it */
    ck_assert_int_eq(qk_roofline_compute(1e9, 0, 10.0, 5.0, &rl, &err), 0);
    ck_assert_double_eq_tol(rl.max_ts, 10.0, 1e-12);
    ck_assert_double_eq_tol(rl.fraction, 0.5, 1e-12);
    ck_assert_double_eq(rl.bytes_per_token, 1e9);
    /* the KV read adds to the bytes: 750 MB + 250 MB at 20 GB/s -> 20 t/s max */
    ck_assert_int_eq(qk_roofline_compute(7.5e8, 2.5e8, 20.0, 25.0, &rl, &err), 0);
    ck_assert_double_eq_tol(rl.max_ts, 20.0, 1e-12);
    ck_assert_double_eq_tol(rl.fraction, 1.25, 1e-12); /* above the roofline is reported */
    ck_assert_double_eq(rl.weight_bytes, 7.5e8);
    ck_assert_double_eq(rl.kv_bytes, 2.5e8);
    ck_assert_double_eq(rl.bandwidth_gbs, 20.0);
    ck_assert_double_eq(rl.measured_ts, 25.0);
    /* KV: Qwen2.5-0.5B shapes (24 layers, 2 KV heads x 64 = 128, F16): 12288 bytes per
     * position; tg128 from an empty cache reads (128 + 1) / 2 = 64.5 positions on average */
    ck_assert_double_eq_tol(qk_roofline_kv_bytes(24, 128, 2, 0, 128), 12288.0 * 64.5, 1e-6);
    /* one token after 512 cached positions reads 513 */
    ck_assert_double_eq_tol(qk_roofline_kv_bytes(24, 128, 2, 512, 1), 12288.0 * 513, 1e-6);
    ck_assert_double_eq(qk_roofline_kv_bytes(24, 128, 2, 0, 0), 0.0);
    ck_assert_double_eq(qk_roofline_kv_bytes(0, 128, 2, 0, 8), 0.0);
    /* errors */
    ck_assert_int_eq(qk_roofline_compute(0, 0, 10, 1, &rl, &err), -1);
    ck_assert_int_eq(qk_roofline_compute(1e9, 0, 0, 1, &rl, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "bandwidth"));
    ck_assert_int_eq(qk_roofline_compute(1e9, 0, NAN, 1, &rl, &err), -1);
    ck_assert_int_eq(qk_roofline_compute(1e9, 0, 10, -1, &rl, &err), -1);
    ck_assert_int_eq(qk_roofline_compute(-5, 0, 10, 1, &rl, &err), -1);
}
END_TEST

/* Sum of the tensor bytes of a model file, without the tensor named `skip` (may be NULL). */
static uint64_t tensor_bytes_except(const qk_model *m, const char *skip) {
    uint64_t n = 0;
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++)
        if (!skip || strcmp(m->gguf->tensors[i].name, skip)) n += m->gguf->tensors[i].nbytes;
    return n;
}

static bool has_tensor(const qk_model *m, const char *name) {
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++)
        if (!strcmp(m->gguf->tensors[i].name, name)) return true;
    return false;
}

START_TEST(roofline_real_models) {
    qk_err err;
    /* stories260K has its own output.weight: token_embd is only looked up, not counted */
    qk_model *m = qk_model_load(qk_test_shared(STORIES), &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    ck_assert(has_tensor(m, "output.weight"));
    ck_assert_uint_eq(qk_roofline_weight_bytes(m), tensor_bytes_except(m, "token_embd.weight"));
    /* all of its tensors are F32: 4 bytes per element, token_embd [64, 512] left out */
    uint64_t f32_bytes = 0;
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
        const gguf_tensor *t = &m->gguf->tensors[i];
        ck_assert_int_eq(t->type, QK_TYPE_F32);
        f32_bytes += 4ull * (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    ck_assert_uint_eq(qk_roofline_weight_bytes(m), f32_bytes - 4ull * 64 * 512);
    /* 5 layers, 4 KV heads x 8 dims, F16 */
    ck_assert_double_eq_tol(qk_roofline_kv_bytes_model(m, 0, 4), 5 * 2 * 32 * 2 * 2.5, 1e-9);
    qk_model_free(m);
    /* wiki-qwen2-13m ties output to token_embd: every tensor counts once */
    m = qk_model_load(qk_test_shared(WIKI13M), &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    ck_assert(!has_tensor(m, "output.weight"));
    ck_assert_uint_eq(qk_roofline_weight_bytes(m), tensor_bytes_except(m, NULL));
    ck_assert_uint_eq(qk_roofline_weight_bytes(m), 25846784); /* golden model_size */
    qk_model_free(m);
}
END_TEST

START_TEST(roofline_in_tool_output) {
    char dir[4096], jpath[4200], cpath[4200], mpath[4200], cmd[16384], *out = NULL;
    snprintf(dir, sizeof dir, "%s/bench-roofline", qk_test_tmpdir());
    ck_assert_int_eq(qk_file_mkdir_p(dir, NULL), 0);
    snprintf(jpath, sizeof jpath, "%s/r.json", dir);
    snprintf(cpath, sizeof cpath, "%s/r.csv", dir);
    snprintf(mpath, sizeof mpath, "%s/r.md", dir);
    snprintf(cmd, sizeof cmd,
             "%s -m %s -p 8 -n 4 -r 2 -t 1 --membw-gbs 2.5 -o none --output-file %s "
             "--output-file %s --output-file %s",
             qk_test_bin("qk-bench"), qk_test_shared(STORIES), jpath, cpath, mpath);
    int rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "qk-bench failed: %s", out);
    free(out);
    /* JSON: the tg record carries the roofline, the pp record does not */
    char *text = qk_test_read_file(jpath, NULL);
    cJSON *j = cJSON_Parse(text);
    ck_assert_msg(j != NULL, "bad JSON: %s", text);
    ck_assert_int_eq(cJSON_GetArraySize(j), 2);
    cJSON *pp = cJSON_GetArrayItem(j, 0), *tg = cJSON_GetArrayItem(j, 1);
    ck_assert_ptr_null(cJSON_GetObjectItem(pp, "roofline_fraction"));
    double w = cJSON_GetObjectItem(tg, "roofline_weight_bytes")->valuedouble;
    double kv = cJSON_GetObjectItem(tg, "roofline_kv_bytes")->valuedouble;
    double bpt = cJSON_GetObjectItem(tg, "roofline_bytes_per_token")->valuedouble;
    double maxts = cJSON_GetObjectItem(tg, "roofline_max_ts")->valuedouble;
    double frac = cJSON_GetObjectItem(tg, "roofline_fraction")->valuedouble;
    double avg = cJSON_GetObjectItem(tg, "avg_ts")->valuedouble;
    ck_assert_double_eq(cJSON_GetObjectItem(tg, "membw_gbs")->valuedouble, 2.5);
    /* model_size minus token_embd [64, 512] F32 (stories260K has its own output.weight) */
    ck_assert_double_eq(w, cJSON_GetObjectItem(tg, "model_size")->valuedouble - 4.0 * 64 * 512);
    ck_assert_double_eq_tol(kv, 5 * 2 * 32 * 2 * 2.5, 1e-9);
    ck_assert_double_eq_tol(bpt, w + kv, 1e-6);
    ck_assert_double_eq_tol(maxts, 2.5e9 / bpt, maxts * 1e-12);
    ck_assert(avg > 0);
    ck_assert_double_eq_tol(frac, avg / maxts, frac * 1e-9);
    cJSON_Delete(j);
    free(text);
    /* CSV: still exactly llama-bench's columns */
    text = qk_test_read_file(cpath, NULL);
    const char *p = text;
    csv_row h, row;
    ck_assert(csv_next(&p, &h));
    ck_assert_int_eq(h.n, QK_BENCH_N_FIELDS);
    for (int i = 0; i < QK_BENCH_N_FIELDS; i++) ck_assert_str_eq(h.f[i], qk_bench_fields[i]);
    while (csv_next(&p, &row)) {
        ck_assert_int_eq(row.n, QK_BENCH_N_FIELDS);
        csv_free(&row);
    }
    csv_free(&h);
    ck_assert_ptr_null(strstr(text, "roofline"));
    free(text);
    /* md: llama-bench's table, the build line, then the roofline table with the tg row */
    text = qk_test_read_file(mpath, NULL);
    const char *build = strstr(text, "\nbuild: ");
    char *roof = strstr(text, "\nroofline: ");
    ck_assert(build && roof && build < roof);
    char *pp_table = strstr(roof, "\ncompute ceiling: "); /* the ppN table (test_bench_peak.c) */
    if (pp_table) *pp_table = 0;
    ck_assert_ptr_nonnull(strstr(roof, "| model                          | threads |          test |  MiB/token |"));
    ck_assert_ptr_nonnull(strstr(roof, "|     2.50 |")); /* GB/s column */
    ck_assert_ptr_nonnull(strstr(roof, "tg4 |"));
    ck_assert_ptr_null(strstr(roof, "pp8 |"));
    free(text);
    /* --no-roofline: no fields, no table */
    snprintf(cmd, sizeof cmd, "%s -m %s -p 0 -n 2 -r 1 -t 1 --no-roofline -o json 2>/dev/null",
             qk_test_bin("qk-bench"), qk_test_shared(STORIES));
    rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "qk-bench failed: %s", out);
    ck_assert_ptr_null(strstr(out, "roofline"));
    ck_assert_ptr_null(strstr(out, "membw_gbs"));
    free(out);
}
END_TEST

START_TEST(roofline_measured_bandwidth) {
    /* without --membw-gbs the tool measures the bandwidth itself (small buffer for speed) */
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s -m %s -p 0 -n 2 -r 1 -t 1 --membw-mib 8 --membw-passes 1 -o json 2>/dev/null",
             qk_test_bin("qk-bench"), qk_test_shared(STORIES));
    int rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "qk-bench failed: %s", out);
    cJSON *j = cJSON_Parse(out);
    ck_assert_msg(j != NULL, "bad JSON: %s", out);
    cJSON *tg = cJSON_GetArrayItem(j, 0);
    double gbs = cJSON_GetObjectItem(tg, "membw_gbs")->valuedouble;
    ck_assert(gbs > 0 && isfinite(gbs));
    ck_assert(cJSON_GetObjectItem(tg, "roofline_fraction")->valuedouble > 0);
    cJSON_Delete(j);
    free(out);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("bench");
    TCase *unit = tcase_create("unit");
    tcase_add_test(unit, csv_header_matches_golden);
    tcase_add_test(unit, golden_rows_have_32_quoted_fields);
    tcase_add_test(unit, csv_quoting);
    tcase_add_test(unit, csv_row_roundtrip);
    tcase_add_test(unit, json_typing);
    tcase_add_test(unit, markdown_layout);
    tcase_add_test(unit, mean_and_sample_sd);
    tcase_add_test(unit, summary_is_mean_of_rates);
    tcase_add_test(unit, matrix_order_and_lists);
    tcase_add_test(unit, sysinfo_and_tokens);
    tcase_add_test(unit, roofline_made_up_numbers);
    tcase_add_test(unit, roofline_real_models);
    tcase_add_test(unit, membw_api);
    suite_add_tcase(s, unit);
    TCase *tool = tcase_create("tool");
    tcase_set_timeout(tool, 300);
    tcase_add_test(tool, real_run_csv);
    tcase_add_test(tool, real_run_json_and_files);
    tcase_add_test(tool, errors_are_one_line);
    tcase_add_test(tool, membw_tool_csv);
    tcase_add_test(tool, membw_tool_json_md_and_errors);
    tcase_add_test(tool, roofline_in_tool_output);
    tcase_add_test(tool, roofline_measured_bandwidth);
    suite_add_tcase(s, tool);
    return s;
}

int main(void) { return qk_test_main(suite()); }
