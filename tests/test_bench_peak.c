/*
 * test_bench_peak.c — qk-bench's arithmetic-ceiling probe (--peak) and the compute
 * ceiling of ppN tests: the probe's API (instruction sets, operation counts, best vs mean,
 * argument errors), the tool's CSV/JSON/md output with the SIMD kernels and the scalar
 * fallback (QK_FORCE_SCALAR=1), the FLOP counts of real models against an independent
 * count of their tensors, the pp fraction from --peak-gflops / --peak-gops overrides equal
 * to t/s x FLOPs per token / ceiling (deterministic), and the option errors. Figures are
 * only checked to be positive and finite: no speed thresholds.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_output.h"
#include "bench_peak.h"
#include "cpu.h"
#include "fileio.h"
#include "model.h"
#include "testutil.h"
#include "types.h"

#define STORIES "data/models/stories260K/stories260K.gguf"
#define WIKI13M "data/models/wiki-qwen2-13m/wiki-qwen2-13m-f16.gguf"

static bool finite_pos(double v) { return v > 0 && isfinite(v); }

/* ---- the probe's API ------------------------------------------------------------------ */

START_TEST(peak_api) {
    const int threads[] = {1, 2};
    const int n_isas = qk_peak_n_isas();
    ck_assert(n_isas >= 1 && n_isas <= QK_PEAK_MAX_ISAS);
    qk_peak_result r[2 * QK_PEAK_MAX_ISAS];
    qk_err err;
    const uint64_t iters = 4096;
    ck_assert_msg(qk_peak_measure(threads, 2, iters, 2, NULL, NULL, r, &err) == 0, "%s", err.msg);
    for (int c = 0; c < 2; c++) {
        for (int k = 0; k < n_isas; k++) {
            const qk_peak_result *x = &r[c * n_isas + k];
            ck_assert_int_eq(x->n_threads, threads[c]);
            ck_assert_int_eq(x->passes, 2);
            ck_assert_uint_eq(x->iters, iters);
            ck_assert(x->fp32_best_ns > 0 && x->int8_best_ns > 0);
            ck_assert(finite_pos(x->fp32_gflops) && finite_pos(x->fp32_mean_gflops));
            ck_assert(finite_pos(x->int8_gops) && finite_pos(x->int8_mean_gops));
            ck_assert(x->fp32_gflops >= x->fp32_mean_gflops * (1 - 1e-12));
            ck_assert(x->int8_gops >= x->int8_mean_gops * (1 - 1e-12));
            ck_assert_double_eq_tol(x->fp32_gflops, x->fp32_ops / (double)x->fp32_best_ns, 1e-9 * x->fp32_gflops);
            ck_assert_double_eq_tol(x->int8_gops, x->int8_ops / (double)x->int8_best_ns, 1e-9 * x->int8_gops);
            /* operations per iteration of one thread: 12 chains x 2 FLOPs per lane;
             * int8 2 ops per byte product (bench_peak.h) */
            const double f = x->fp32_ops / (double)iters / threads[c], i8 = x->int8_ops / (double)iters / threads[c];
            if (!strcmp(x->isa, "AVX512")) {
                ck_assert_int_eq(x->vector_bits, 512);
                ck_assert_double_eq(f, 12 * 16 * 2.0);
                ck_assert_double_eq(i8, 12 * 64 * 2.0); /* vpdpbusd zmm: 64 byte products */
                ck_assert_str_eq(x->int8_kernel, "vpdpbusd zmm");
                ck_assert_int_eq(k, n_isas - 1); /* widest last */
            } else if (!strcmp(x->isa, "AVX2")) {
                ck_assert_int_eq(x->vector_bits, 256);
                ck_assert_double_eq(f, 12 * 8 * 2.0);
                ck_assert_double_eq(i8, 12 * 32 * 2.0); /* vpmaddubsw ymm: 32 byte products */
                ck_assert_str_eq(x->int8_kernel, "vpmaddubsw ymm");
                ck_assert_int_eq(k, 0);
            } else if (!strcmp(x->isa, "AVX-VNNI")) {
                ck_assert_int_eq(x->vector_bits, 256);
                ck_assert_double_eq(f, 12 * 8 * 2.0);
                ck_assert_double_eq(i8, 12 * 32 * 2.0); /* vpdpbusd ymm: 32 byte products */
                ck_assert_str_eq(x->int8_kernel, "vpdpbusd ymm");
                ck_assert_int_eq(k, 1); /* after AVX2 */
                ck_assert(qk_cpu_has_avxvnni());
            } else {
                ck_assert_str_eq(x->isa, "scalar");
                ck_assert_int_eq(n_isas, 1);
                ck_assert_double_eq(f, 12 * 2.0);
                ck_assert_double_eq(i8, 8 * 2.0);
            }
        }
    }
    /* which instruction sets: those the kernels in use have */
    ck_assert_str_eq(r[n_isas - 1].isa, qk_cpu_has_avx512vnni() ? "AVX512"
                                        : qk_cpu_has_avxvnni()    ? "AVX-VNNI"
                                        : qk_cpu_has_avx2()       ? "AVX2"
                                                                  : "scalar");
    ck_assert_int_eq(n_isas, qk_cpu_has_avx2() ? 1 + qk_cpu_has_avxvnni() + qk_cpu_has_avx512vnni() : 1);
    /* the ceiling is the widest instruction set's, for the thread count asked */
    const char *isa = NULL;
    ck_assert_double_eq(qk_peak_ceiling(r, 2 * n_isas, 2, QK_PEAK_INT8, &isa), r[2 * n_isas - 1].int8_gops);
    ck_assert_str_eq(isa, r[2 * n_isas - 1].isa);
    ck_assert_double_eq(qk_peak_ceiling(r, 2 * n_isas, 1, QK_PEAK_FP32, NULL), r[n_isas - 1].fp32_gflops);
    ck_assert_double_eq(qk_peak_ceiling(r, 2 * n_isas, 3, QK_PEAK_FP32, NULL), 0.0);
    /* bad arguments */
    ck_assert_int_eq(qk_peak_measure(threads, 1, iters, 0, NULL, NULL, r, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "passes"));
    ck_assert_int_eq(qk_peak_measure(threads, 1, 10, 1, NULL, NULL, r, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "iterations"));
    const int zero[] = {0};
    ck_assert_int_eq(qk_peak_measure(zero, 1, iters, 1, NULL, NULL, r, &err), -1);
    ck_assert_int_eq(qk_peak_measure(threads, 0, iters, 1, NULL, NULL, r, &err), -1);
}
END_TEST

/* ---- FLOP counts ---------------------------------------------------------------------- */

START_TEST(pp_formulas_made_up) {
    /* weights: 2 per element; the output once per decode call */
    ck_assert_double_eq(qk_peak_weight_flops(1000, 0, 512, 2048), 2000.0);
    ck_assert_double_eq(qk_peak_weight_flops(1000, 512, 512, 2048), 2000.0 + 2.0);
    ck_assert_double_eq(qk_peak_weight_flops(1000, 512, 512, 128), 2000.0 + 8.0); /* 4 calls */
    ck_assert_double_eq(qk_peak_weight_flops(1000, 300, 3, 2), 2000.0 + 2.0 * 300 * 2 / 3);
    ck_assert_double_eq(qk_peak_weight_flops(1000, 512, 0, 2048), 0.0);
    /* attention: 4 x L x H x hd per attended position, (N + 1) / 2 positions on average */
    ck_assert_double_eq(qk_peak_attn_flops(2, 4, 8, 0, 1), 4.0 * 2 * 4 * 8);
    ck_assert_double_eq(qk_peak_attn_flops(24, 14, 64, 0, 512), 4.0 * 24 * 14 * 64 * 256.5);
    ck_assert_double_eq(qk_peak_attn_flops(24, 14, 64, 100, 512), 4.0 * 24 * 14 * 64 * 356.5);
    ck_assert_double_eq(qk_peak_attn_flops(0, 14, 64, 0, 512), 0.0);
    /* fraction = t/s x FLOPs per token / ceiling */
    qk_pp_ceiling pc;
    qk_err err;
    ck_assert_int_eq(qk_pp_ceiling_compute(1.5e9, 0.5e9, QK_PEAK_INT8, "AVX512", 1000.0, 100.0, &pc, &err), 0);
    ck_assert_double_eq(pc.flops_per_token, 2e9);
    ck_assert_double_eq_tol(pc.max_ts, 500.0, 1e-9);
    ck_assert_double_eq_tol(pc.fraction, 0.2, 1e-12);
    ck_assert_int_eq(pc.kind, QK_PEAK_INT8);
    ck_assert_str_eq(pc.isa, "AVX512");
    ck_assert_int_eq(qk_pp_ceiling_compute(0, 0, QK_PEAK_FP32, NULL, 1, 1, &pc, &err), -1);
    ck_assert_int_eq(qk_pp_ceiling_compute(1e9, 0, QK_PEAK_FP32, NULL, 0, 1, &pc, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "ceiling"));
    ck_assert_int_eq(qk_pp_ceiling_compute(1e9, 0, QK_PEAK_FP32, NULL, NAN, 1, &pc, &err), -1);
    ck_assert_int_eq(qk_pp_ceiling_compute(1e9, 0, QK_PEAK_FP32, NULL, 1, -1, &pc, &err), -1);
    ck_assert_int_eq(qk_pp_ceiling_compute(-1, 0, QK_PEAK_FP32, NULL, 1, 1, &pc, &err), -1);
}
END_TEST

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* Elements of the blk.* matrices counted from the tensor list; *quant those quantized. */
static uint64_t count_layer_matrices(const qk_model *m, uint64_t *quant) {
    static const char *const names[] = {".attn_q.weight",  ".attn_k.weight", ".attn_v.weight", ".attn_output.weight",
                                        ".ffn_gate.weight", ".ffn_up.weight", ".ffn_down.weight"};
    uint64_t all = 0, q = 0;
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
        const gguf_tensor *t = &m->gguf->tensors[i];
        if (strncmp(t->name, "blk.", 4) != 0) continue;
        for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
            if (!ends_with(t->name, names[k])) continue;
            all += (uint64_t)t->ne[0] * (uint64_t)t->ne[1];
            if (qk_type_get(t->type)->is_quantized) q += (uint64_t)t->ne[0] * (uint64_t)t->ne[1];
        }
    }
    *quant = q;
    return all;
}

START_TEST(pp_counts_real_models) {
    qk_err err;
    const char *paths[] = {STORIES, WIKI13M};
    for (int p = 0; p < 2; p++) {
        qk_model *m = qk_model_load(qk_test_shared(paths[p]), &err);
        ck_assert_msg(m != NULL, "%s", err.msg);
        uint64_t q, q_ref;
        const uint64_t all = qk_peak_layer_matmul_elems(m, &q);
        ck_assert_uint_eq(all, count_layer_matrices(m, &q_ref));
        ck_assert_uint_eq(q, q_ref);
        ck_assert_uint_eq(q, 0); /* F32 / F16 models */
        ck_assert(all > 0);
        const gguf_tensor *out = gguf_find_tensor(m->gguf, "output.weight");
        if (!out) out = gguf_find_tensor(m->gguf, "token_embd.weight"); /* tied */
        ck_assert_uint_eq(qk_peak_output_elems(m), (uint64_t)out->ne[0] * (uint64_t)out->ne[1]);
        ck_assert_int_eq(qk_peak_model_kind(m), QK_PEAK_FP32);
        const double n_embd_q = (double)m->hp.n_head * m->hp.head_dim;
        ck_assert_double_eq_tol(qk_peak_attn_flops_model(m, 512), 4.0 * m->hp.n_layer * n_embd_q * 256.5, 1e-6);
        ck_assert_double_eq_tol(qk_peak_weight_flops_model(m, 512, 2048),
                                2.0 * (double)all + 2.0 * (double)qk_peak_output_elems(m) / 512.0, 1e-6);
        qk_model_free(m);
    }
}
END_TEST

/* ---- the tool ------------------------------------------------------------------------- */

static void check_peak_record(const cJSON *o) {
    const char *num[] = {"n_threads",   "vector_bits",      "passes",    "iters",     "fp32_best_ns", "fp32_gflops",
                         "fp32_mean_gflops", "int8_best_ns", "int8_gops", "int8_mean_gops"};
    for (size_t k = 0; k < sizeof num / sizeof *num; k++) {
        const cJSON *v = cJSON_GetObjectItem(o, num[k]);
        ck_assert_msg(cJSON_IsNumber(v) && finite_pos(v->valuedouble), "%s", num[k]);
    }
    const char *str[] = {"cpu_info", "isa", "fp32_kernel", "int8_kernel"};
    for (size_t k = 0; k < sizeof str / sizeof *str; k++) ck_assert(cJSON_IsString(cJSON_GetObjectItem(o, str[k])));
}

START_TEST(peak_tool_json_md) {
    char *out = NULL, *md = qk_test_tmp_path("peak.md");
    int rc = qk_test_run_tool(&out, "qk-bench", "--peak -t 1,2 --peak-passes 1 -o json --output-file %s 2>/dev/null", md);
    ck_assert_msg(rc == 0, "qk-bench --peak failed: %s", out);
    cJSON *j = cJSON_Parse(out);
    ck_assert_msg(j && cJSON_IsArray(j), "not a JSON array: %s", out);
    const int n_isas = qk_peak_n_isas();
    ck_assert_int_eq(cJSON_GetArraySize(j), 2 * n_isas);
    for (int i = 0; i < 2 * n_isas; i++) {
        const cJSON *o = cJSON_GetArrayItem(j, i);
        check_peak_record(o);
        ck_assert_int_eq(cJSON_GetObjectItem(o, "n_threads")->valueint, 1 + i / n_isas);
        ck_assert_int_eq(cJSON_GetObjectItem(o, "passes")->valueint, 1);
    }
    cJSON_Delete(j);
    free(out);
    char *text = qk_test_read_file(md, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(strstr(text, "| threads | ISA      | FP32 kernel     | GFLOP/s (best) |"));
    ck_assert_int_eq(qk_test_count_substr(text, "|       2 | "), n_isas);
    ck_assert_ptr_nonnull(strstr(text, "arithmetic ceilings"));
    free(text);
    free(md);
}
END_TEST

START_TEST(peak_tool_scalar_csv) {
    /* the scalar fallback, forced */
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "QK_FORCE_SCALAR=1 %s --peak -t 1,2 --peak-passes 2 -o csv 2>/dev/null",
             qk_test_bin("qk-bench"));
    int rc = qk_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "qk-bench --peak failed: %s", out);
    const char *hdr = "cpu_info,n_threads,isa,vector_bits,passes,iters,fp32_kernel,fp32_best_ns,fp32_gflops,"
                      "fp32_mean_gflops,int8_kernel,int8_best_ns,int8_gops,int8_mean_gops\n";
    ck_assert_msg(!strncmp(out, hdr, strlen(hdr)), "%s", out);
    ck_assert_int_eq(qk_test_count_substr(out, "\n"), 3);
    ck_assert_int_eq(qk_test_count_substr(out, ",\"scalar\",\"32\",\"2\","), 2);
    const char *row = strchr(out, '\n') + 1;
    for (int k = 0; k < 2; k++) {
        /* fields 9 and 13 (1-based): the best rates */
        const char *p = row;
        double v[14];
        for (int f = 0; f < 14; f++) {
            ck_assert(*p == '"');
            v[f] = strtod(p + 1, NULL);
            p = strchr(p + 1, '"') + 1;
            if (*p == ',') p++;
        }
        ck_assert(finite_pos(v[8]) && finite_pos(v[9]) && finite_pos(v[12]) && finite_pos(v[13]));
        ck_assert_int_eq((int)v[1], k + 1);
        row = strchr(row, '\n') + 1;
    }
    free(out);
}
END_TEST

/* Run qk-bench on model with args, -o json; returns the parsed array (the caller frees). */
static cJSON *bench_json(const char *model, const char *args) {
    char *out = NULL;
    int rc = qk_test_run_tool(&out, "qk-bench", "-m %s %s -o json 2>/dev/null", model, args);
    ck_assert_msg(rc == 0, "qk-bench failed: %s", out);
    cJSON *j = cJSON_Parse(out);
    ck_assert_msg(j && cJSON_IsArray(j), "bad JSON: %s", out);
    free(out);
    return j;
}

/* The pp record's fraction against the formula of bench_peak.h, from the model itself. */
static void check_pp_record(const cJSON *pp, const char *path, int n_prompt, const char *kind, double ceiling) {
    qk_err err;
    qk_model *m = qk_model_load(path, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    uint64_t q;
    const double layer = (double)qk_peak_layer_matmul_elems(m, &q), out = (double)qk_peak_output_elems(m);
    const double w = 2.0 * layer + 2.0 * out / n_prompt; /* one decode call */
    const double a = 4.0 * m->hp.n_layer * m->hp.n_head * m->hp.head_dim * (n_prompt + 1) / 2.0;
    qk_model_free(m);
    ck_assert_str_eq(cJSON_GetObjectItem(pp, "peak_kind")->valuestring, kind);
    ck_assert_str_eq(cJSON_GetObjectItem(pp, "peak_isa")->valuestring, "given");
    ck_assert_double_eq(cJSON_GetObjectItem(pp, "peak_gops")->valuedouble, ceiling);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(pp, "pp_weight_flops")->valuedouble, w, w * 1e-12);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(pp, "pp_attn_flops")->valuedouble, a, a * 1e-12);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(pp, "pp_flops_per_token")->valuedouble, w + a, (w + a) * 1e-12);
    const double ts = cJSON_GetObjectItem(pp, "avg_ts")->valuedouble;
    ck_assert(finite_pos(ts));
    const double want = ts * (w + a) / (ceiling * 1e9);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(pp, "pp_ceiling_fraction")->valuedouble, want, want * 1e-9);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(pp, "pp_max_ts")->valuedouble, ceiling * 1e9 / (w + a),
                            ceiling * 1e9 / (w + a) * 1e-12);
}

START_TEST(pp_fraction_from_overrides) {
    /* stories260K is F32: the FP32 ceiling (--peak-gflops), never the int8 one */
    char *model = qk_test_shared_dup(STORIES);
    cJSON *j = bench_json(model, "-p 8 -n 2 -r 2 -t 1 --membw-gbs 5 --peak-gflops 10 --peak-gops 20");
    ck_assert_int_eq(cJSON_GetArraySize(j), 2);
    check_pp_record(cJSON_GetArrayItem(j, 0), model, 8, "fp32", 10.0);
    ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 1), "pp_ceiling_fraction")); /* tg: none */
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 1), "roofline_fraction"));
    cJSON_Delete(j);
    /* a Q4_K_M quant of it (Q5_0 fallbacks, ffn_down F16: mostly quantized): the int8
     * ceiling (--peak-gops) */
    char *q8 = qk_test_tmp_path("peak-q4_k_m.gguf"), *out = NULL;
    int rc = qk_test_run_tool(&out, "qk-quantize", "%s %s Q4_K_M 1", model, q8);
    ck_assert_msg(rc == 0, "qk-quantize failed: %s", out);
    free(out);
    qk_err err;
    qk_model *m = qk_model_load(q8, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    uint64_t q, q_ref;
    const uint64_t all = qk_peak_layer_matmul_elems(m, &q);
    ck_assert_uint_eq(all, count_layer_matrices(m, &q_ref));
    ck_assert_uint_eq(q, q_ref);
    ck_assert(q > all / 2 && q < all);
    ck_assert_int_eq(qk_peak_model_kind(m), QK_PEAK_INT8);
    qk_model_free(m);
    j = bench_json(q8, "-p 16 -n 0 -r 2 -t 1 --peak-gflops 10 --peak-gops 20");
    check_pp_record(cJSON_GetArrayItem(j, 0), q8, 16, "int8", 20.0);
    cJSON_Delete(j);
    /* md: the compute-ceiling table after the build line; CSV: llama-bench's columns only */
    rc = qk_test_run_tool(&out, "qk-bench", "-m %s -p 16 -n 0 -r 1 -t 1 --peak-gops 20 --peak-gflops 10 2>/dev/null",
                          q8);
    ck_assert_msg(rc == 0, "qk-bench failed: %s", out);
    const char *build = strstr(out, "\nbuild: "), *ceil = strstr(out, "\ncompute ceiling: ");
    ck_assert(build && ceil && build < ceil);
    ck_assert_ptr_nonnull(strstr(ceil, "| GFLOP/token |      ceiling |"));
    ck_assert_ptr_nonnull(strstr(ceil, "| int8 given   |      20.00 |"));
    ck_assert_ptr_nonnull(strstr(ceil, "pp16 |"));
    free(out);
    rc = qk_test_run_tool(&out, "qk-bench", "-m %s -p 16 -n 0 -r 1 -t 1 -o csv 2>/dev/null", q8);
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_null(strstr(out, "peak_"));
    ck_assert_ptr_null(strstr(out, "pp_ceiling"));
    ck_assert_int_eq(qk_test_count_substr(out, "\n"), 2);
    free(out);
    free(q8);
    free(model);
}
END_TEST

START_TEST(pp_fraction_measured_and_off) {
    char *model = qk_test_shared_dup(STORIES);
    /* without overrides the tool measures the ceilings itself */
    cJSON *j = bench_json(model, "-p 8 -n 0 -r 1 -t 1 --peak-passes 1");
    const cJSON *pp = cJSON_GetArrayItem(j, 0);
    ck_assert_str_eq(cJSON_GetObjectItem(pp, "peak_kind")->valuestring, "fp32");
    const char *isa = cJSON_GetObjectItem(pp, "peak_isa")->valuestring;
    ck_assert(!strcmp(isa, "AVX512") || !strcmp(isa, "AVX-VNNI") || !strcmp(isa, "AVX2") || !strcmp(isa, "scalar"));
    ck_assert(finite_pos(cJSON_GetObjectItem(pp, "peak_gops")->valuedouble));
    ck_assert(finite_pos(cJSON_GetObjectItem(pp, "pp_ceiling_fraction")->valuedouble));
    cJSON_Delete(j);
    /* --no-peak: no fields */
    char *out = NULL;
    int rc = qk_test_run_tool(&out, "qk-bench", "-m %s -p 8 -n 0 -r 1 -t 1 --no-peak -o json 2>/dev/null", model);
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_null(strstr(out, "\"peak_kind\""));
    ck_assert_ptr_null(strstr(out, "\"peak_gops\""));
    ck_assert_ptr_null(strstr(out, "pp_ceiling_fraction"));
    free(out);
    free(model);
}
END_TEST

START_TEST(option_errors) {
    char *model = qk_test_shared_dup(STORIES);
    qk_test_expect_tool_error("qk-bench", "--peak-gops expects a number", NULL, NULL, "-m %s --peak-gops -1", model);
    qk_test_expect_tool_error("qk-bench", "--peak-gflops expects a number", NULL, NULL, "-m %s --peak-gflops abc",
                              model);
    qk_test_expect_tool_error("qk-bench", "--peak-gflops expects a number", NULL, NULL, "-m %s --peak-gflops 0", model);
    qk_test_expect_tool_error("qk-bench", "--peak-passes expects an integer", NULL, NULL, "--peak --peak-passes 0");
    qk_test_expect_tool_error("qk-bench", "--peak measures the arithmetic ceilings only", NULL, NULL, "--peak -m %s",
                              model);
    qk_test_expect_tool_error("qk-bench", "--peak measures the arithmetic ceilings only", NULL, NULL, "--peak --membw");
    qk_test_expect_tool_error("qk-bench", "-t", NULL, NULL, "--peak -t 0");
    free(model);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("bench_peak");
    TCase *unit = tcase_create("unit");
    tcase_set_timeout(unit, 120);
    tcase_add_test(unit, peak_api);
    tcase_add_test(unit, pp_formulas_made_up);
    tcase_add_test(unit, pp_counts_real_models);
    suite_add_tcase(s, unit);
    TCase *tool = tcase_create("tool");
    tcase_set_timeout(tool, 300);
    tcase_add_test(tool, peak_tool_json_md);
    tcase_add_test(tool, peak_tool_scalar_csv);
    tcase_add_test(tool, pp_fraction_from_overrides);
    tcase_add_test(tool, pp_fraction_measured_and_off);
    tcase_add_test(tool, option_errors);
    suite_add_tcase(s, tool);
    return s;
}

int main(void) { return qk_test_main(suite()); }
