/*
 * bench_output.h — qk-bench's printers: CSV, JSON and markdown, in llama-bench's formats
 * (examples/llama-bench/llama-bench.cpp [U]: csv_printer, json_printer, markdown_printer;
 * llama-cpp-reference.md §1c), so that llama.cpp's own scripts read qkit's files.
 *
 * CSV: a header line of the 32 field names of llama-bench [U] (qk_bench_fields, unquoted,
 *   comma-separated), then one line per test with every value double-quoted and embedded
 *   '"' doubled. test_time is UTC RFC 3339.
 * JSON: an array, one object per test: the same 32 fields typed as llama-bench types them
 *   (integers, booleans, floats as JSON numbers/booleans, the rest strings) plus
 *   "samples_ns" (integers) and "samples_ts" (floats, ts_k = tokens·1e9/ns_k).
 * Markdown: | model | size | params | backend | threads | [n_batch] | test | t/s |
 *   with llama-bench's column widths, size in MiB/GiB, params in M/B, "mean ± sd",
 *   then a blank line and "build: <commit> (<number>)".
 *
 * JSON Lines: the JSON records, one per line (llama-bench's jsonl printer).
 * SQL: llama-bench's sql printer: CREATE TABLE IF NOT EXISTS llama_bench with the CSV's
 *   columns and n_depth (INTEGER for integers and booleans, REAL for floats, TEXT for the
 *   rest), then one INSERT per test, every value a single-quoted SQL string ('' for ').
 *
 * qkit additions, outside llama-bench's formats (the CSV stays exactly llama-bench's
 * 32 columns unless a test has a depth: then a 33rd, n_depth, as later llama-bench CSVs
 * carry it, so that the rows of different depths stay apart):
 *   - JSON/JSONL records carry "n_depth" (llama-bench's later field) and
 *     "peak_rss_bytes" (the process's peak resident memory during the test; 0: unknown);
 *   - JSON records of tgN tests with a roofline carry six more fields: "membw_gbs",
 *     "roofline_weight_bytes", "roofline_kv_bytes", "roofline_bytes_per_token",
 *     "roofline_max_ts", "roofline_fraction" (bench_roofline.h; fraction 0..1);
 *   - JSON records of ppN tests with a compute ceiling carry eight more fields:
 *     "peak_kind" ("int8" or "fp32"), "peak_isa", "peak_gops" (the ceiling, 1e9 ops/s),
 *     "pp_weight_flops", "pp_attn_flops", "pp_flops_per_token", "pp_max_ts",
 *     "pp_ceiling_fraction" (bench_peak.h; fraction 0..1);
 *   - markdown: after the "build:" line, a roofline table of the tgN tests
 *     (qk_bench_print_roofline), then a compute-ceiling table of the ppN tests
 *     (qk_bench_print_pp_ceiling);
 *   - the --membw and --peak probes have their own small CSV / JSON / markdown
 *     (qk_bench_print_membw, qk_bench_print_peak).
 *
 * Printers append to a qk_sb so that the same text can go to stdout and to a file.
 */
#ifndef QK_BENCH_OUTPUT_H
#define QK_BENCH_OUTPUT_H

#include <stdbool.h>

#include "bench_matrix.h"
#include "bench_membw.h"
#include "bench_peak.h"
#include "fileio.h"

typedef enum qk_bench_format {
    QK_BENCH_FMT_NONE = 0,
    QK_BENCH_FMT_CSV,
    QK_BENCH_FMT_JSON,
    QK_BENCH_FMT_MD,
    QK_BENCH_FMT_JSONL,  /* JSON Lines: the JSON records, one per line, no array */
    QK_BENCH_FMT_SQL,    /* bench_sql.c */
    QK_BENCH_FMT_CIJSON, /* bench_cijson.c (--ci-json; not an -o format) */
} qk_bench_format;

/* "csv", "json", "jsonl", "md", "sql" (and "none"). Returns -1 for anything else. */
int qk_bench_format_parse(const char *s, qk_bench_format *f);
/* Format from a file name's extension (.csv, .json, .jsonl, .md, .sql); NONE when unknown. */
qk_bench_format qk_bench_format_from_path(const char *path);

/* What every record shares: build and machine facts, and markdown column choices. */
typedef struct qk_bench_env {
    const char *build_commit; /* qk_bench_build_commit() */
    int build_number;         /* 0 */
    const char *cpu_info;     /* qk_bench_cpu_info() */
    bool md_show_n_batch;     /* markdown: n_batch column (llama-bench: several or non-default) */
    bool csv_n_depth;         /* CSV: a last column n_depth (set when some -d value is > 0) */
} qk_bench_env;

#define QK_BENCH_N_FIELDS 32
/* llama-bench [U]'s field names, in CSV column order. */
extern const char *const qk_bench_fields[QK_BENCH_N_FIELDS];

typedef enum qk_bench_field_type {
    QK_BENCH_STRING, QK_BENCH_INT, QK_BENCH_BOOL, QK_BENCH_FLOAT
} qk_bench_field_type;
qk_bench_field_type qk_bench_field_type_of(int field);

/* Append the text value of field `field` (0..31) of a result, as llama-bench writes it in
 * CSV (bools "0"/"1", floats "%f", integers in decimal). */
void qk_bench_field_value(qk_sb *out, const qk_bench_result *r, const qk_bench_env *e,
                          int field);

/* CSV quoting: '"' + value with every '"' doubled + '"'. */
void qk_bench_csv_quote(qk_sb *out, const char *s);

/* Streaming printer: header once, each finished test (index = 0, 1, ... in order), footer
 * once. NONE prints nothing. */
void qk_bench_print_header(qk_sb *out, qk_bench_format f, const qk_bench_env *e);
void qk_bench_print_test(qk_sb *out, qk_bench_format f, const qk_bench_env *e,
                         const qk_bench_result *r, int index);
void qk_bench_print_footer(qk_sb *out, qk_bench_format f, const qk_bench_env *e, int n_tests);

/* bench_sql.c: the CREATE TABLE statement, and one INSERT statement per test. */
void qk_bench_sql_header(qk_sb *out);
void qk_bench_sql_test(qk_sb *out, const qk_bench_env *e, const qk_bench_result *r);

/* bench_cijson.c: github-action-benchmark's "customBiggerIsBetter" input: a JSON array,
 * one object per test {"name": "<model file without directory and .gguf> <test> t=<threads>",
 * "unit": "t/s", "value": mean t/s, "range": "± <sd>", "extra": "<n> repetitions, ..."}. */
void qk_bench_cijson_test(qk_sb *out, const qk_bench_env *e, const qk_bench_result *r, int index);

/* One line of the markdown roofline table (copied out of a result before it is freed). */
typedef struct qk_bench_roofline_row {
    char model_type[128];
    char test[32]; /* "tg128" */
    int n_threads;
    qk_roofline rl;
} qk_bench_roofline_row;

void qk_bench_roofline_row_from(qk_bench_roofline_row *row, const qk_bench_result *r);

/* Markdown only (other formats print nothing): a blank line, a title line, then
 *   | model | threads | test | MiB/token | GB/s | max t/s | t/s | roofline |
 * with MiB/token = bytes_per_token / 2^20 and roofline = fraction in %. Nothing when
 * n == 0. */
void qk_bench_print_roofline(qk_sb *out, qk_bench_format f, const qk_bench_roofline_row *rows,
                             int n);

/* One line of the markdown compute-ceiling table (copied out of a result). */
typedef struct qk_bench_pp_row {
    char model_type[128];
    char test[32]; /* "pp512" */
    int n_threads;
    qk_pp_ceiling pc;
} qk_bench_pp_row;

void qk_bench_pp_row_from(qk_bench_pp_row *row, const qk_bench_result *r);

/* Markdown only (other formats print nothing): a blank line, a title line, then
 *   | model | threads | test | GFLOP/token | ceiling | G op/s | max t/s | t/s | of ceiling |
 * with GFLOP/token = flops_per_token / 1e9, ceiling = "int8 AVX512" (kind and
 * instruction set, or "given" for --peak-gops / --peak-gflops), of ceiling = fraction in
 * %. Nothing when n == 0. */
void qk_bench_print_pp_ceiling(qk_sb *out, qk_bench_format f, const qk_bench_pp_row *rows, int n);

/* The --peak probe's results, one record per thread count and instruction set:
 *   CSV:  header "cpu_info,n_threads,isa,vector_bits,passes,iters,fp32_kernel,
 *         fp32_best_ns,fp32_gflops,fp32_mean_gflops,int8_kernel,int8_best_ns,int8_gops,
 *         int8_mean_gops" then quoted values (rates as "%f");
 *   JSON: an array of objects with those keys (numbers as JSON numbers);
 *   md:   | threads | ISA | FP32 kernel | GFLOP/s (best) | GFLOP/s (mean) | int8 kernel |
 *         GOP/s (best) | GOP/s (mean) | then a line naming the CPU and the counting. */
void qk_bench_print_peak(qk_sb *out, qk_bench_format f, const char *cpu_info,
                         const qk_peak_result *r, int n);

/* The --membw probe's results, one record per thread count:
 *   CSV:  header "cpu_info,n_threads,buffer_bytes,passes,kernel,best_ns,best_gbs,mean_gbs"
 *         then quoted values (gbs as "%f");
 *   JSON: an array of objects with those keys (numbers as JSON numbers);
 *   md:   | threads | buffer | passes | kernel | GB/s (best) | GB/s (mean) | then a line
 *         naming the CPU. */
void qk_bench_print_membw(qk_sb *out, qk_bench_format f, const char *cpu_info,
                          const qk_membw_result *r, int n);

#endif
