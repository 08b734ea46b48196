/*
 * fuzz_reports.c — libFuzzer harness for the result files qk-report, qk-study and
 * qk-bench-compare read (reports/report_data.h, bench/bench_compare.h), and the tables and
 * charts made from what they accept.
 *
 * Input: byte 0 picks the reader, the rest is the file:
 *   0  qk-perplexity JSON (qk_report_add_ppl), then the md/csv tables;
 *   1  qk-bench JSON (qk_report_add_bench), then the tables;
 *   2  llama-bench / qk-bench CSV or JSON (qk_bench_cmp_load), then the comparison table
 *      against itself and both charts;
 *   3  qk-bench --membw CSV or JSON (qk_bench_cmp_load_membw);
 *   4  a "THREADS:GBS,..." list (qk_bench_cmp_parse_membw_list; NUL-terminated copy).
 * With QK_FUZZ_SEEDS=DIR set, start-up writes seeds into DIR and exits (build.sh also copies
 * llama-bench's CSV files from ../shared/golden/bench as reader-2 seeds).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_compare.h"
#include "fileio.h"
#include "fuzz_common.h"
#include "report_data.h"
#include "report_table.h"

static fuzz_file g_in;

static const char *SEEDS[5] = {
    "{\"tool\":\"qk-perplexity\",\"model\":\"m/base-Q4_K_M.gguf\",\"model_size_bytes\":391839232,"
    "\"n_params\":494032768,\"n_ctx\":512,\"n_chunks\":8,\"n_tokens_scored\":2040,\"ppl\":13.5,\"ppl_unc\":0.5625,"
    "\"kld\":{\"ppl_ratio\":1.5,\"ppl_ratio_unc\":0.5,\"cor_ln_ppl\":0.5,\"mean_kld\":0.03125,"
    "\"mean_kld_unc\":0.0009765625,\"same_top\":0.875,\"same_top_unc\":0.0078125},"
    "\"exact\":{\"ppl_base\":13.125,\"ppl_ratio\":1.03125,\"ppl_ratio_unc\":0.00390625,"
    "\"mean_ln_ratio\":0.03,\"mean_ln_ratio_unc\":0.004,\"cor_ln_ppl\":0.984375}}",
    "[{\"model_filename\":\"m/base-f16.gguf\",\"model_type\":\"qwen2 1B F16\",\"model_size\":988208640,"
    "\"model_n_params\":494032768,\"n_threads\":2,\"n_prompt\":512,\"n_gen\":0,\"avg_ts\":166.25,\"stddev_ts\":5.75},"
    "{\"model_filename\":\"m/base-Q4_K_M.gguf\",\"model_type\":\"qwen2 1B Q4_K - Medium\",\"model_size\":391839232,"
    "\"model_n_params\":494032768,\"n_threads\":2,\"n_prompt\":0,\"n_gen\":128,\"avg_ts\":45.5,\"stddev_ts\":0.5}]",
    "[{\"model_filename\":\"m/base-f16.gguf\",\"model_type\":\"qwen2 1B F16\",\"model_size\":988208640,"
    "\"model_n_params\":494032768,\"n_threads\":2,\"n_prompt\":0,\"n_gen\":128,\"avg_ts\":26.25,\"stddev_ts\":1.75,"
    "\"cpu_info\":\"x\",\"build_commit\":\"abc\",\"membw_gbs\":20,\"bytes_per_token\":1e8,\"roofline_max_ts\":200,"
    "\"roofline_fraction\":0.13}]",
    "threads,buffer_bytes,best_gbs,mean_gbs\n1,268435456,12.5,12.1\n2,268435456,20.25,19.9\n",
    "1:12.5,2:20.25",
};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_file_init(&g_in, "fuzz.txt");
    const char *seeds = getenv("QK_FUZZ_SEEDS");
    if (seeds) {
        for (int k = 0; k < 5; k++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%d-seed", seeds, k);
            FILE *f = fopen(path, "wb");
            FUZZ_ASSERT(f && fputc(k, f) == k && fputs(SEEDS[k], f) >= 0 && fclose(f) == 0, "cannot write %s", path);
        }
        exit(0);
    }
    return 0;
}

static void render_report(qk_report *r) {
    qk_report_finish(r);
    for (int i = 0; i < r->n; i++) {
        (void)qk_report_bpw(&r->rows[i]);
        (void)qk_report_ftype(&r->rows[i]);
    }
    qk_sb sb = {0};
    qk_report_render_csv(&sb, r);
    qk_report_render_md(&sb, r, "fuzz", "note");
    qk_sb_free(&sb);
}

static void report_reader(int k) {
    qk_report r = {0};
    qk_err err = {{0}};
    int rc = k == 0 ? qk_report_add_ppl(&r, g_in.path, &err) : qk_report_add_bench(&r, g_in.path, &err);
    if (rc == 0) render_report(&r);
    else fuzz_check_err(&err, k == 0 ? "qk_report_add_ppl" : "qk_report_add_bench");
    qk_report_free(&r);
}

static void bench_reader(void) {
    qk_bench_cmp_set s = {0};
    qk_err err = {{0}};
    if (qk_bench_cmp_load(&s, g_in.path, &err) == 0) {
        qk_sb sb = {0};
        qk_bench_cmp_membw bw = {2, 20, 19, 1 << 28};
        qk_bench_cmp_render_md(&sb, &s, &s, &bw, 1, &bw, 1, "ref", "note");
        (void)qk_bench_cmp_render_gp(&sb, "pp", &s, &s, "ref");
        (void)qk_bench_cmp_render_gp(&sb, "tg", &s, &s, "ref");
        char buf[256];
        for (int i = 0; i < s.n; i++) {
            qk_bench_cmp_test_name(&s.v[i], buf, sizeof buf);
            qk_bench_cmp_label(&s.v[i], buf, sizeof buf);
            (void)qk_bench_cmp_find(&s, &s.v[i]);
        }
        qk_sb_free(&sb);
    } else {
        fuzz_check_err(&err, "qk_bench_cmp_load");
    }
    qk_bench_cmp_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    fuzz_file_set(&g_in, data + 1, size - 1);
    qk_err err = {{0}};
    qk_bench_cmp_membw *bw = NULL;
    int n = 0;
    switch (data[0] % 5) {
    case 0:
    case 1: report_reader(data[0] % 5); break;
    case 2: bench_reader(); break;
    case 3:
        if (qk_bench_cmp_load_membw(g_in.path, &bw, &n, &err) == 0) FUZZ_ASSERT(n >= 0, "negative count");
        else fuzz_check_err(&err, "qk_bench_cmp_load_membw");
        break;
    case 4: {
        char *s = malloc(size);
        FUZZ_ASSERT(s, "malloc");
        memcpy(s, data + 1, size - 1);
        s[size - 1] = 0;
        if (qk_bench_cmp_parse_membw_list(s, &bw, &n, &err) != 0) fuzz_check_err(&err, "qk_bench_cmp_parse_membw_list");
        free(s);
        break;
    }
    }
    free(bw);
    return 0;
}
