/*
 * bench_output.c — llama-bench-compatible CSV / JSON / markdown printers for qk-bench.
 * Field list, typing and layouts: bench_output.h (source: llama-bench.cpp [U]).
 */
#include "bench_output.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_profile.h"
#include "bench_stats.h"
#include "bench_sysinfo.h"

const char *const qk_bench_fields[QK_BENCH_N_FIELDS] = {
    "build_commit", "build_number", "cpu_info",     "gpu_info",      "backends",
    "model_filename", "model_type", "model_size",   "model_n_params", "n_batch",
    "n_ubatch",     "n_threads",    "cpu_mask",     "cpu_strict",    "poll",
    "type_k",       "type_v",       "n_gpu_layers", "split_mode",    "main_gpu",
    "no_kv_offload", "flash_attn",  "tensor_split", "use_mmap",      "embeddings",
    "n_prompt",     "n_gen",        "test_time",    "avg_ns",        "stddev_ns",
    "avg_ts",       "stddev_ts",
};

enum {
    F_BUILD_COMMIT, F_BUILD_NUMBER, F_CPU_INFO, F_GPU_INFO, F_BACKENDS,
    F_MODEL_FILENAME, F_MODEL_TYPE, F_MODEL_SIZE, F_MODEL_N_PARAMS, F_N_BATCH,
    F_N_UBATCH, F_N_THREADS, F_CPU_MASK, F_CPU_STRICT, F_POLL,
    F_TYPE_K, F_TYPE_V, F_N_GPU_LAYERS, F_SPLIT_MODE, F_MAIN_GPU,
    F_NO_KV_OFFLOAD, F_FLASH_ATTN, F_TENSOR_SPLIT, F_USE_MMAP, F_EMBEDDINGS,
    F_N_PROMPT, F_N_GEN, F_TEST_TIME, F_AVG_NS, F_STDDEV_NS,
    F_AVG_TS, F_STDDEV_TS,
};

int qk_bench_format_parse(const char *s, qk_bench_format *f) {
    if (!strcmp(s, "csv")) *f = QK_BENCH_FMT_CSV;
    else if (!strcmp(s, "json")) *f = QK_BENCH_FMT_JSON;
    else if (!strcmp(s, "jsonl")) *f = QK_BENCH_FMT_JSONL;
    else if (!strcmp(s, "sql")) *f = QK_BENCH_FMT_SQL;
    else if (!strcmp(s, "md")) *f = QK_BENCH_FMT_MD;
    else if (!strcmp(s, "none")) *f = QK_BENCH_FMT_NONE;
    else return -1;
    return 0;
}

qk_bench_format qk_bench_format_from_path(const char *path) {
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return QK_BENCH_FMT_NONE;
    qk_bench_format f;
    if (qk_bench_format_parse(dot + 1, &f) != 0) return QK_BENCH_FMT_NONE;
    return f;
}

qk_bench_field_type qk_bench_field_type_of(int field) {
    switch (field) {
    case F_BUILD_NUMBER: case F_MODEL_SIZE: case F_MODEL_N_PARAMS: case F_N_BATCH:
    case F_N_UBATCH: case F_N_THREADS: case F_POLL: case F_N_GPU_LAYERS: case F_MAIN_GPU:
    case F_N_PROMPT: case F_N_GEN: case F_AVG_NS: case F_STDDEV_NS:
        return QK_BENCH_INT;
    case F_CPU_STRICT: case F_NO_KV_OFFLOAD: case F_FLASH_ATTN: case F_USE_MMAP:
    case F_EMBEDDINGS:
        return QK_BENCH_BOOL;
    case F_AVG_TS: case F_STDDEV_TS:
        return QK_BENCH_FLOAT;
    default:
        return QK_BENCH_STRING;
    }
}

static int n_tokens(const qk_bench_result *r) { return r->test.n_prompt + r->test.n_gen; }

void qk_bench_field_value(qk_sb *out, const qk_bench_result *r, const qk_bench_env *e,
                          int field) {
    qk_bench_summary s = qk_bench_summarize(r->samples_ns, r->n_samples, n_tokens(r));
    char tbuf[32];
    switch (field) {
    case F_BUILD_COMMIT:
        qk_sb_puts(out, r->build_commit[0] ? r->build_commit : e->build_commit ? e->build_commit : "unknown");
        break;
    case F_BUILD_NUMBER: qk_sb_printf(out, "%d", e->build_number); break;
    case F_CPU_INFO: qk_sb_puts(out, e->cpu_info ? e->cpu_info : ""); break;
    case F_GPU_INFO: break; /* "" — no GPU backend */
    case F_BACKENDS: qk_sb_puts(out, "CPU"); break;
    case F_MODEL_FILENAME: qk_sb_puts(out, r->test.model); break;
    case F_MODEL_TYPE: qk_sb_puts(out, r->model_type); break;
    case F_MODEL_SIZE: qk_sb_printf(out, "%" PRIu64, r->model_size); break;
    case F_MODEL_N_PARAMS: qk_sb_printf(out, "%" PRIu64, r->model_n_params); break;
    case F_N_BATCH: qk_sb_printf(out, "%d", r->test.n_batch); break;
    case F_N_UBATCH: qk_sb_printf(out, "%d", r->n_ubatch); break;
    case F_N_THREADS: qk_sb_printf(out, "%d", r->test.n_threads); break;
    case F_CPU_MASK: qk_sb_puts(out, "0x0"); break;
    case F_CPU_STRICT: qk_sb_puts(out, "0"); break;
    case F_POLL: qk_sb_puts(out, "50"); break;
    case F_TYPE_K: case F_TYPE_V: qk_sb_puts(out, "f16"); break; /* KV cache is F16 */
    case F_N_GPU_LAYERS: qk_sb_puts(out, "99"); break;           /* llama-bench default */
    case F_SPLIT_MODE: qk_sb_puts(out, "layer"); break;
    case F_MAIN_GPU: qk_sb_puts(out, "0"); break;
    case F_NO_KV_OFFLOAD: qk_sb_puts(out, "0"); break;
    case F_FLASH_ATTN: qk_sb_puts(out, "0"); break;
    case F_TENSOR_SPLIT: qk_sb_puts(out, "0.00"); break;
    case F_USE_MMAP: qk_sb_puts(out, r->use_mmap ? "1" : "0"); break;
    case F_EMBEDDINGS: qk_sb_puts(out, "0"); break;
    case F_N_PROMPT: qk_sb_printf(out, "%d", r->test.n_prompt); break;
    case F_N_GEN: qk_sb_printf(out, "%d", r->test.n_gen); break;
    case F_TEST_TIME:
        qk_bench_rfc3339(r->test_time, tbuf, sizeof tbuf);
        qk_sb_puts(out, tbuf);
        break;
    case F_AVG_NS: qk_sb_printf(out, "%" PRIu64, s.avg_ns); break;
    case F_STDDEV_NS: qk_sb_printf(out, "%" PRIu64, s.stddev_ns); break;
    case F_AVG_TS: qk_sb_printf(out, "%f", s.avg_ts); break;
    case F_STDDEV_TS: qk_sb_printf(out, "%f", s.stddev_ts); break;
    default: break;
    }
}

void qk_bench_csv_quote(qk_sb *out, const char *s) {
    qk_sb_append(out, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"') qk_sb_append(out, "\"", 1);
        qk_sb_append(out, p, 1);
    }
    qk_sb_append(out, "\"", 1);
}

/* ---- CSV ------------------------------------------------------------------------------ */

static void csv_header(qk_sb *out, const qk_bench_env *e) {
    for (int i = 0; i < QK_BENCH_N_FIELDS; i++) {
        if (i) qk_sb_append(out, ",", 1);
        qk_sb_puts(out, qk_bench_fields[i]);
    }
    if (e->csv_n_depth) qk_sb_puts(out, ",n_depth");
    qk_sb_append(out, "\n", 1);
}

static void csv_test(qk_sb *out, const qk_bench_env *e, const qk_bench_result *r) {
    qk_sb v = {0};
    for (int i = 0; i < QK_BENCH_N_FIELDS; i++) {
        v.len = 0;
        qk_sb_append(&v, "", 0);
        qk_bench_field_value(&v, r, e, i);
        if (i) qk_sb_append(out, ",", 1);
        qk_bench_csv_quote(out, qk_sb_str(&v));
    }
    if (e->csv_n_depth) qk_sb_printf(out, ",\"%d\"", r->test.n_depth);
    qk_sb_append(out, "\n", 1);
    if (!qk_sb_ok(&v)) out->oom = true;
    qk_sb_free(&v);
}

/* ---- JSON ----------------------------------------------------------------------------- */

/* One record: pretty-printed after a ",\n" separator (JSON array), or on one line (JSONL). */
static void json_test(qk_sb *out, const qk_bench_env *e, const qk_bench_result *r, int index, bool line) {
    cJSON *o = cJSON_CreateObject();
    qk_sb v = {0};
    bool ok = o != NULL;
    for (int i = 0; ok && i < QK_BENCH_N_FIELDS; i++) {
        v.len = 0;
        qk_sb_append(&v, "", 0);
        qk_bench_field_value(&v, r, e, i);
        const char *s = qk_sb_str(&v);
        cJSON *item = NULL;
        switch (qk_bench_field_type_of(i)) {
        case QK_BENCH_STRING: item = cJSON_CreateString(s); break;
        case QK_BENCH_BOOL: item = cJSON_CreateBool(strcmp(s, "0") != 0); break;
        default: item = cJSON_CreateNumber(strtod(s, NULL)); break;
        }
        ok = item && cJSON_AddItemToObject(o, qk_bench_fields[i], item);
    }
    ok = ok && cJSON_AddNumberToObject(o, "n_depth", r->test.n_depth) &&
         cJSON_AddNumberToObject(o, "peak_rss_bytes", (double)r->peak_rss_bytes);
    cJSON *ns = ok ? cJSON_AddArrayToObject(o, "samples_ns") : NULL;
    cJSON *ts = ok ? cJSON_AddArrayToObject(o, "samples_ts") : NULL;
    ok = ns && ts;
    for (int k = 0; ok && k < r->n_samples; k++) {
        ok = cJSON_AddItemToArray(ns, cJSON_CreateNumber((double)r->samples_ns[k])) &&
             cJSON_AddItemToArray(ts, cJSON_CreateNumber(qk_bench_ts(n_tokens(r),
                                                                      r->samples_ns[k])));
    }
    if (ok && r->has_roofline) {
        const qk_roofline *rl = &r->roofline;
        ok = cJSON_AddNumberToObject(o, "membw_gbs", rl->bandwidth_gbs) &&
             cJSON_AddNumberToObject(o, "roofline_weight_bytes", rl->weight_bytes) &&
             cJSON_AddNumberToObject(o, "roofline_kv_bytes", rl->kv_bytes) &&
             cJSON_AddNumberToObject(o, "roofline_bytes_per_token", rl->bytes_per_token) &&
             cJSON_AddNumberToObject(o, "roofline_max_ts", rl->max_ts) &&
             cJSON_AddNumberToObject(o, "roofline_fraction", rl->fraction);
    }
    if (ok && r->has_pp_ceiling) {
        const qk_pp_ceiling *pc = &r->pp_ceiling;
        ok = cJSON_AddStringToObject(o, "peak_kind", pc->kind == QK_PEAK_INT8 ? "int8" : "fp32") &&
             cJSON_AddStringToObject(o, "peak_isa", pc->isa ? pc->isa : "") &&
             cJSON_AddNumberToObject(o, "peak_gops", pc->peak_gops) &&
             cJSON_AddNumberToObject(o, "pp_weight_flops", pc->weight_flops) &&
             cJSON_AddNumberToObject(o, "pp_attn_flops", pc->attn_flops) &&
             cJSON_AddNumberToObject(o, "pp_flops_per_token", pc->flops_per_token) &&
             cJSON_AddNumberToObject(o, "pp_max_ts", pc->max_ts) &&
             cJSON_AddNumberToObject(o, "pp_ceiling_fraction", pc->fraction);
    }
    if (ok && r->has_profile) {
        qk_bench_profile_row rows[QK_BENCH_PROFILE_MAX_ROWS];
        const int n = qk_bench_profile_rows(&r->profile, rows);
        cJSON *arr = cJSON_AddArrayToObject(o, "profile");
        ok = arr != NULL;
        for (int k = 0; ok && k < n; k++) {
            cJSON *row = cJSON_CreateObject();
            ok = row && cJSON_AddItemToArray(arr, row) && cJSON_AddStringToObject(row, "op", rows[k].op) &&
                 cJSON_AddNumberToObject(row, "calls_per_token", rows[k].calls_per_token) &&
                 cJSON_AddNumberToObject(row, "ms_per_token", rows[k].ms_per_token) &&
                 cJSON_AddNumberToObject(row, "share", rows[k].share) &&
                 cJSON_AddNumberToObject(row, "gbs", rows[k].gbs);
        }
    }
    char *text = !ok ? NULL : line ? cJSON_PrintUnformatted(o) : cJSON_Print(o);
    if (!text) {
        out->oom = true;
    } else {
        if (index > 0 && !line) qk_sb_puts(out, ",\n");
        qk_sb_puts(out, text);
        if (line) qk_sb_puts(out, "\n");
    }
    free(text);
    cJSON_Delete(o);
    if (!qk_sb_ok(&v)) out->oom = true;
    qk_sb_free(&v);
}

/* ---- markdown ------------------------------------------------------------------------- */

/* Columns and widths of llama-bench's markdown printer: a negative width means
 * left-aligned. */
typedef struct md_col { const char *name; int width; } md_col;

static int md_columns(const qk_bench_env *e, md_col cols[8]) {
    int n = 0;
    cols[n++] = (md_col){"model", -30};
    cols[n++] = (md_col){"size", 10};
    cols[n++] = (md_col){"params", 10};
    cols[n++] = (md_col){"backend", -10};
    cols[n++] = (md_col){"threads", 7};
    if (e->md_show_n_batch) cols[n++] = (md_col){"n_batch", 7};
    cols[n++] = (md_col){"test", 13};
    cols[n++] = (md_col){"t/s", 20};
    return n;
}

static void md_header(qk_sb *out, const qk_bench_env *e) {
    md_col c[8];
    int n = md_columns(e, c);
    qk_sb_puts(out, "|");
    for (int i = 0; i < n; i++) qk_sb_printf(out, " %*s |", c[i].width, c[i].name);
    qk_sb_puts(out, "\n|");
    for (int i = 0; i < n; i++) {
        int w = abs(c[i].width);
        qk_sb_puts(out, " ");
        for (int k = 0; k < w - 1; k++) qk_sb_append(out, "-", 1);
        qk_sb_puts(out, c[i].width > 0 ? ":" : "-");
        qk_sb_puts(out, " |");
    }
    qk_sb_puts(out, "\n");
}

static void md_test(qk_sb *out, const qk_bench_env *e, const qk_bench_result *r) {
    md_col c[8];
    int n = md_columns(e, c);
    qk_bench_summary s = qk_bench_summarize(r->samples_ns, r->n_samples, n_tokens(r));
    qk_sb_puts(out, "|");
    for (int i = 0; i < n; i++) {
        char buf[256];
        int w = c[i].width;
        const char *name = c[i].name;
        if (!strcmp(name, "model")) {
            snprintf(buf, sizeof buf, "%s", r->model_type);
        } else if (!strcmp(name, "size")) {
            double sz = (double)r->model_size;
            if (r->model_size < 1024ull * 1024 * 1024)
                snprintf(buf, sizeof buf, "%.2f MiB", sz / 1024.0 / 1024.0);
            else snprintf(buf, sizeof buf, "%.2f GiB", sz / 1024.0 / 1024.0 / 1024.0);
        } else if (!strcmp(name, "params")) {
            double np = (double)r->model_n_params;
            if (r->model_n_params < 1000ull * 1000 * 1000)
                snprintf(buf, sizeof buf, "%.2f M", np / 1e6);
            else snprintf(buf, sizeof buf, "%.2f B", np / 1e9);
        } else if (!strcmp(name, "backend")) {
            snprintf(buf, sizeof buf, "CPU");
        } else if (!strcmp(name, "threads")) {
            snprintf(buf, sizeof buf, "%d", r->test.n_threads);
        } else if (!strcmp(name, "n_batch")) {
            snprintf(buf, sizeof buf, "%d", r->test.n_batch);
        } else if (!strcmp(name, "test")) {
            qk_bench_test_name(&r->test, buf, sizeof buf);
        } else {
            snprintf(buf, sizeof buf, "%.2f \xc2\xb1 %.2f", s.avg_ts, s.stddev_ts);
            w += 1; /* '±' is two bytes in UTF-8 but one column */
        }
        qk_sb_printf(out, " %*s |", w, buf);
    }
    qk_sb_puts(out, "\n");
}

/* ---- dispatch ------------------------------------------------------------------------- */

void qk_bench_print_header(qk_sb *out, qk_bench_format f, const qk_bench_env *e) {
    switch (f) {
    case QK_BENCH_FMT_CSV: csv_header(out, e); break;
    case QK_BENCH_FMT_JSON: case QK_BENCH_FMT_CIJSON: qk_sb_puts(out, "[\n"); break;
    case QK_BENCH_FMT_MD: md_header(out, e); break;
    case QK_BENCH_FMT_SQL: qk_bench_sql_header(out); break;
    default: break;
    }
}

void qk_bench_print_test(qk_sb *out, qk_bench_format f, const qk_bench_env *e,
                         const qk_bench_result *r, int index) {
    switch (f) {
    case QK_BENCH_FMT_CSV: csv_test(out, e, r); break;
    case QK_BENCH_FMT_JSON: json_test(out, e, r, index, false); break;
    case QK_BENCH_FMT_JSONL: json_test(out, e, r, index, true); break;
    case QK_BENCH_FMT_MD: md_test(out, e, r); break;
    case QK_BENCH_FMT_SQL: qk_bench_sql_test(out, e, r); break;
    case QK_BENCH_FMT_CIJSON: qk_bench_cijson_test(out, e, r, index); break;
    default: break;
    }
}

void qk_bench_print_footer(qk_sb *out, qk_bench_format f, const qk_bench_env *e, int n_tests) {
    switch (f) {
    case QK_BENCH_FMT_JSON: case QK_BENCH_FMT_CIJSON: qk_sb_puts(out, n_tests > 0 ? "\n]\n" : "]\n"); break;
    case QK_BENCH_FMT_MD:
        qk_sb_printf(out, "\nbuild: %s (%d)\n", e->build_commit ? e->build_commit : "unknown",
                     e->build_number);
        break;
    default: break;
    }
}

/* ---- roofline table (markdown) -------------------------------------------------------- */

void qk_bench_roofline_row_from(qk_bench_roofline_row *row, const qk_bench_result *r) {
    memset(row, 0, sizeof *row);
    snprintf(row->model_type, sizeof row->model_type, "%s", r->model_type);
    qk_bench_test_name(&r->test, row->test, sizeof row->test);
    row->n_threads = r->test.n_threads;
    row->rl = r->roofline;
}

void qk_bench_print_roofline(qk_sb *out, qk_bench_format f, const qk_bench_roofline_row *rows,
                             int n) {
    if (f != QK_BENCH_FMT_MD || n <= 0) return;
    qk_sb_puts(out,
        "\nroofline: batch-1 generation reads every weight once per token, so "
        "max t/s = read bandwidth / bytes read per token\n\n"
        "| model                          | threads |          test |  MiB/token |     GB/s |"
        "    max t/s |        t/s | roofline |\n"
        "| ------------------------------ | ------: | ------------: | ---------: | -------: |"
        " ---------: | ---------: | -------: |\n");
    for (int i = 0; i < n; i++) {
        const qk_bench_roofline_row *w = &rows[i];
        qk_sb_printf(out, "| %-30s | %7d | %13s | %10.2f | %8.2f | %10.2f | %10.2f | %6.1f %% |\n",
                     w->model_type, w->n_threads, w->test,
                     w->rl.bytes_per_token / (1024.0 * 1024.0), w->rl.bandwidth_gbs,
                     w->rl.max_ts, w->rl.measured_ts, w->rl.fraction * 100.0);
    }
}

/* ---- compute-ceiling table (markdown) ------------------------------------------------- */

void qk_bench_pp_row_from(qk_bench_pp_row *row, const qk_bench_result *r) {
    memset(row, 0, sizeof *row);
    snprintf(row->model_type, sizeof row->model_type, "%s", r->model_type);
    qk_bench_test_name(&r->test, row->test, sizeof row->test);
    row->n_threads = r->test.n_threads;
    row->pc = r->pp_ceiling;
}

void qk_bench_print_pp_ceiling(qk_sb *out, qk_bench_format f, const qk_bench_pp_row *rows, int n) {
    if (f != QK_BENCH_FMT_MD || n <= 0) return;
    qk_sb_puts(out,
        "\ncompute ceiling: prompt processing does 2 operations per weight per token (+ attention), "
        "so max t/s = arithmetic ceiling / operations per token\n\n"
        "| model                          | threads |          test | GFLOP/token |      ceiling |"
        "     G op/s |    max t/s |        t/s | of ceiling |\n"
        "| ------------------------------ | ------: | ------------: | ----------: | ------------ |"
        " ---------: | ---------: | ---------: | ---------: |\n");
    for (int i = 0; i < n; i++) {
        const qk_bench_pp_row *w = &rows[i];
        char ceil[32];
        snprintf(ceil, sizeof ceil, "%s %s", w->pc.kind == QK_PEAK_INT8 ? "int8" : "fp32", w->pc.isa ? w->pc.isa : "");
        qk_sb_printf(out, "| %-30s | %7d | %13s | %11.4f | %-12s | %10.2f | %10.2f | %10.2f | %8.1f %% |\n",
                     w->model_type, w->n_threads, w->test, w->pc.flops_per_token / 1e9, ceil, w->pc.peak_gops,
                     w->pc.max_ts, w->pc.measured_ts, w->pc.fraction * 100.0);
    }
}

/* ---- the --membw probe ---------------------------------------------------------------- */

/* Append ",", then the printf-formatted value as a quoted CSV field. */
static void csv_next_fmt(qk_sb *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void csv_next_fmt(qk_sb *out, const char *fmt, ...) {
    char v[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    qk_sb_append(out, ",", 1);
    qk_bench_csv_quote(out, v);
}

/* Append the printed array a and a newline to out (ok false: building it failed; either
 * failure sets out->oom), and free a. */
static void put_json_array(qk_sb *out, cJSON *a, bool ok) {
    char *text = ok ? cJSON_Print(a) : NULL;
    if (!text) out->oom = true;
    else {
        qk_sb_puts(out, text);
        qk_sb_puts(out, "\n");
    }
    free(text);
    cJSON_Delete(a);
}

static const char *const membw_fields[] = {"cpu_info", "n_threads", "buffer_bytes", "passes",
                                           "kernel",   "best_ns",   "best_gbs",     "mean_gbs"};
#define N_MEMBW_FIELDS ((int)(sizeof membw_fields / sizeof *membw_fields))

void qk_bench_print_membw(qk_sb *out, qk_bench_format f, const char *cpu_info,
                          const qk_membw_result *r, int n) {
    if (!cpu_info) cpu_info = "";
    if (f == QK_BENCH_FMT_CSV) {
        for (int i = 0; i < N_MEMBW_FIELDS; i++) {
            if (i) qk_sb_append(out, ",", 1);
            qk_sb_puts(out, membw_fields[i]);
        }
        qk_sb_append(out, "\n", 1);
        for (int k = 0; k < n; k++) {
            qk_bench_csv_quote(out, cpu_info);
            csv_next_fmt(out, "%d", r[k].n_threads);
            csv_next_fmt(out, "%zu", r[k].buffer_bytes);
            csv_next_fmt(out, "%d", r[k].passes);
            csv_next_fmt(out, "%s", r[k].kernel ? r[k].kernel : "");
            csv_next_fmt(out, "%" PRIu64, r[k].best_ns);
            csv_next_fmt(out, "%f", r[k].best_gbs);
            csv_next_fmt(out, "%f", r[k].mean_gbs);
            qk_sb_append(out, "\n", 1);
        }
    } else if (f == QK_BENCH_FMT_JSON) {
        cJSON *a = cJSON_CreateArray();
        bool ok = a != NULL;
        for (int k = 0; ok && k < n; k++) {
            cJSON *o = cJSON_CreateObject();
            ok = o && cJSON_AddItemToArray(a, o) &&
                 cJSON_AddStringToObject(o, "cpu_info", cpu_info) &&
                 cJSON_AddNumberToObject(o, "n_threads", r[k].n_threads) &&
                 cJSON_AddNumberToObject(o, "buffer_bytes", (double)r[k].buffer_bytes) &&
                 cJSON_AddNumberToObject(o, "passes", r[k].passes) &&
                 cJSON_AddStringToObject(o, "kernel", r[k].kernel ? r[k].kernel : "") &&
                 cJSON_AddNumberToObject(o, "best_ns", (double)r[k].best_ns) &&
                 cJSON_AddNumberToObject(o, "best_gbs", r[k].best_gbs) &&
                 cJSON_AddNumberToObject(o, "mean_gbs", r[k].mean_gbs);
        }
        put_json_array(out, a, ok);
    } else if (f == QK_BENCH_FMT_MD) {
        qk_sb_puts(out, "| threads |     buffer | passes | kernel | GB/s (best) | GB/s (mean) |\n"
                        "| ------: | ---------: | -----: | ------ | ----------: | ----------: |\n");
        for (int k = 0; k < n; k++) {
            char buf[32];
            snprintf(buf, sizeof buf, "%.0f MiB", (double)r[k].buffer_bytes / (1024.0 * 1024.0));
            qk_sb_printf(out, "| %7d | %10s | %6d | %-6s | %11.2f | %11.2f |\n", r[k].n_threads,
                         buf, r[k].passes, r[k].kernel ? r[k].kernel : "", r[k].best_gbs,
                         r[k].mean_gbs);
        }
        qk_sb_printf(out, "\nmemory read bandwidth (GB/s = 1e9 bytes/s), CPU: %s\n",
                     *cpu_info ? cpu_info : "unknown");
    }
}

/* ---- the --peak probe ----------------------------------------------------------------- */

static const char *const peak_fields[] = {"cpu_info",    "n_threads",    "isa",          "vector_bits",
                                          "passes",      "iters",        "fp32_kernel",  "fp32_best_ns",
                                          "fp32_gflops", "fp32_mean_gflops", "int8_kernel", "int8_best_ns",
                                          "int8_gops",   "int8_mean_gops"};
#define N_PEAK_FIELDS ((int)(sizeof peak_fields / sizeof *peak_fields))

static const char *nz(const char *s) { return s ? s : ""; }

static void peak_csv(qk_sb *out, const char *cpu_info, const qk_peak_result *r, int n) {
    for (int i = 0; i < N_PEAK_FIELDS; i++) {
        if (i) qk_sb_append(out, ",", 1);
        qk_sb_puts(out, peak_fields[i]);
    }
    qk_sb_append(out, "\n", 1);
    for (int k = 0; k < n; k++) {
        qk_bench_csv_quote(out, cpu_info);
        csv_next_fmt(out, "%d", r[k].n_threads);
        csv_next_fmt(out, "%s", nz(r[k].isa));
        csv_next_fmt(out, "%d", r[k].vector_bits);
        csv_next_fmt(out, "%d", r[k].passes);
        csv_next_fmt(out, "%" PRIu64, r[k].iters);
        csv_next_fmt(out, "%s", nz(r[k].fp32_kernel));
        csv_next_fmt(out, "%" PRIu64, r[k].fp32_best_ns);
        csv_next_fmt(out, "%f", r[k].fp32_gflops);
        csv_next_fmt(out, "%f", r[k].fp32_mean_gflops);
        csv_next_fmt(out, "%s", nz(r[k].int8_kernel));
        csv_next_fmt(out, "%" PRIu64, r[k].int8_best_ns);
        csv_next_fmt(out, "%f", r[k].int8_gops);
        csv_next_fmt(out, "%f", r[k].int8_mean_gops);
        qk_sb_append(out, "\n", 1);
    }
}

static void peak_json(qk_sb *out, const char *cpu_info, const qk_peak_result *r, int n) {
    cJSON *a = cJSON_CreateArray();
    bool ok = a != NULL;
    for (int k = 0; ok && k < n; k++) {
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddItemToArray(a, o) && cJSON_AddStringToObject(o, "cpu_info", cpu_info) &&
             cJSON_AddNumberToObject(o, "n_threads", r[k].n_threads) &&
             cJSON_AddStringToObject(o, "isa", nz(r[k].isa)) &&
             cJSON_AddNumberToObject(o, "vector_bits", r[k].vector_bits) &&
             cJSON_AddNumberToObject(o, "passes", r[k].passes) &&
             cJSON_AddNumberToObject(o, "iters", (double)r[k].iters) &&
             cJSON_AddStringToObject(o, "fp32_kernel", nz(r[k].fp32_kernel)) &&
             cJSON_AddNumberToObject(o, "fp32_best_ns", (double)r[k].fp32_best_ns) &&
             cJSON_AddNumberToObject(o, "fp32_gflops", r[k].fp32_gflops) &&
             cJSON_AddNumberToObject(o, "fp32_mean_gflops", r[k].fp32_mean_gflops) &&
             cJSON_AddStringToObject(o, "int8_kernel", nz(r[k].int8_kernel)) &&
             cJSON_AddNumberToObject(o, "int8_best_ns", (double)r[k].int8_best_ns) &&
             cJSON_AddNumberToObject(o, "int8_gops", r[k].int8_gops) &&
             cJSON_AddNumberToObject(o, "int8_mean_gops", r[k].int8_mean_gops);
    }
    put_json_array(out, a, ok);
}

void qk_bench_print_peak(qk_sb *out, qk_bench_format f, const char *cpu_info,
                         const qk_peak_result *r, int n) {
    if (!cpu_info) cpu_info = "";
    if (f == QK_BENCH_FMT_CSV) {
        peak_csv(out, cpu_info, r, n);
    } else if (f == QK_BENCH_FMT_JSON) {
        peak_json(out, cpu_info, r, n);
    } else if (f == QK_BENCH_FMT_MD) {
        qk_sb_puts(out, "| threads | ISA      | FP32 kernel     | GFLOP/s (best) | GFLOP/s (mean) | int8 kernel     |"
                        " GOP/s (best) | GOP/s (mean) |\n"
                        "| ------: | -------- | --------------- | -------------: | -------------: | --------------- |"
                        " -----------: | -----------: |\n");
        for (int k = 0; k < n; k++)
            qk_sb_printf(out, "| %7d | %-8s | %-15s | %14.2f | %14.2f | %-15s | %12.2f | %12.2f |\n", r[k].n_threads,
                         nz(r[k].isa), nz(r[k].fp32_kernel), r[k].fp32_gflops, r[k].fp32_mean_gflops,
                         nz(r[k].int8_kernel), r[k].int8_gops, r[k].int8_mean_gops);
        qk_sb_printf(out,
                     "\narithmetic ceilings (register-resident loops, best of %d passes; FP32: 2 FLOPs per lane per "
                     "FMA; int8: 2 ops per byte multiply-add), CPU: %s\n",
                     n > 0 ? r[0].passes : 0, *cpu_info ? cpu_info : "unknown");
    }
}
