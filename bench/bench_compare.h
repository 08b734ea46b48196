/*
 * bench_compare.h — qkit's speed next to llama.cpp's: reading llama-bench result files
 * (qk-bench writes the same formats), pairing each qkit test with llama-bench's figure for
 * the same model, test and thread count, and the comparison report (compare.md) and
 * charts (bench_compare_plot.c) that bench/run-bench.sh produces through qk-bench-compare.
 *
 * Inputs:
 *   - llama-bench CSV (header of field names, then one line per test, RFC 4180 quoting;
 *     llama-cpp-reference.md §1c), JSON (an array of objects with the same field names;
 *     extra fields allowed) or JSON Lines (one such object per line: llama-bench's and
 *     qk-bench's -o jsonl). Used: model_filename, model_type, model_size,
 *     model_n_params, n_threads, n_prompt, n_gen, avg_ts, stddev_ts (required: all but
 *     model_size, model_n_params), cpu_info and build_commit (optional), n_depth,
 *     n_batch, n_ubatch (optional, 0 when absent), samples_ts (optional: the
 *     per-repetition rates, JSON arrays only), and from qk-bench's
 *     JSON the roofline fields "membw_gbs", "roofline_bytes_per_token", "roofline_max_ts",
 *     "roofline_fraction" (bench_output.h) when present;
 *   - the qk-bench --membw JSON or CSV (bench_output.h): n_threads, best_gbs, mean_gbs,
 *     buffer_bytes.
 *
 * Pairing (qk_bench_cmp_find): a reference record with the same n_prompt, n_gen, n_depth and
 * n_threads and (in this order of preference) the same model file name without directory,
 * the same file name ignoring case, or the same model_type and model_n_params.
 *
 * Model family (for "quantized vs F16"): the file name without directory and ".gguf", cut
 * at its last '-' ("synth-qwen2.5-0.5b-Q4_K_M.gguf" -> "synth-qwen2.5-0.5b"); the base of
 * a family is its record whose model_type ends in " F16", " BF16" or " all F32".
 */
#ifndef QK_BENCH_COMPARE_H
#define QK_BENCH_COMPARE_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "fileio.h"

typedef struct qk_bench_cmp_rec {
    char model_filename[1024];
    char model_type[128];
    uint64_t model_size, model_n_params; /* 0 when absent */
    int n_threads, n_prompt, n_gen;
    double avg_ts, stddev_ts;
    bool has_roofline;
    double membw_gbs, bytes_per_token, roofline_max_ts, roofline_fraction;
    int n_depth, n_batch, n_ubatch; /* 0 when absent */
    double *samples_ts;             /* per-repetition t/s (malloc'd, owned by the set); NULL when absent */
    int n_samples;
} qk_bench_cmp_rec;

typedef struct qk_bench_cmp_set {
    qk_bench_cmp_rec *v;
    int n, cap;
    char cpu_info[256];     /* of the first record that has one */
    char build_commit[128]; /* likewise */
} qk_bench_cmp_set;

/* Append the records of a llama-bench CSV, JSON or JSON Lines file (format from the
 * content: a file whose first non-blank byte is '[' is JSON, '{' JSON Lines). Errors: unreadable, malformed, a required
 * field missing (named), no record. */
int qk_bench_cmp_load(qk_bench_cmp_set *s, const char *path, qk_err *err);
/* The same from text in memory (`what` names it in errors). */
int qk_bench_cmp_load_text(qk_bench_cmp_set *s, const char *text, const char *what, qk_err *err);
void qk_bench_cmp_free(qk_bench_cmp_set *s);

typedef struct qk_bench_cmp_membw {
    int n_threads;
    double best_gbs, mean_gbs;
    double buffer_bytes;
} qk_bench_cmp_membw;

/* Read a qk-bench --membw CSV or JSON file into a malloc'd array (*n entries). */
int qk_bench_cmp_load_membw(const char *path, qk_bench_cmp_membw **out, int *n, qk_err *err);

/* Parse "THREADS:GBS[,THREADS:GBS...]" (e.g. "2:35": 35 GB/s read bandwidth at 2 threads)
 * into a malloc'd array (*n entries; best_gbs = mean_gbs = GBS, buffer_bytes 0): the
 * bandwidth of a machine that was not probed here, such as the reference's. Errors: empty
 * or malformed items, threads outside 1..4096 or repeated, GB/s not > 0. */
int qk_bench_cmp_parse_membw_list(const char *list, qk_bench_cmp_membw **out, int *n, qk_err *err);

/* Index in ref of the record paired with r (rules above), or -1. */
int qk_bench_cmp_find(const qk_bench_cmp_set *ref, const qk_bench_cmp_rec *r);

/* "pp512", "tg128", "pp512+tg128", with " @ d4096" when n_depth > 0 (llama-bench's names). */
void qk_bench_cmp_test_name(const qk_bench_cmp_rec *r, char *buf, size_t cap);
/* File name without directory and ".gguf". */
void qk_bench_cmp_label(const qk_bench_cmp_rec *r, char *buf, size_t cap);

/* compare.md: a title and the machines, the bandwidth table (when membw has entries), the
 * per-test table (qkit t/s, llama.cpp t/s, their ratio, the roofline for tg), the
 * geometric means of the ratios per test kind, generation at equal bandwidth (below),
 * thread scaling (t/s at the most threads / at the fewest, per model and test, both
 * tools), quantized vs F16 (per family, both tools), then `note` (may be NULL) as a final
 * paragraph. ref_name names the reference ("llama.cpp").
 *
 * Generation at equal bandwidth: ref_membw (n_ref_membw entries; may be NULL/0) gives the
 * reference machine's read bandwidth per thread count (best_gbs, GB/s = 1e9 bytes/s; the
 * other fields unused). For each tg test of ours with a roofline and a paired reference at
 * a thread count listed there, the reference's share of its roofline is
 * ref t/s x (our bytes read per token) / ref bandwidth — the same model file, so the same
 * bytes — and the row shows both shares and their ratio, with the geometric mean of the
 * ratios. A test where either share exceeds 100 % (a cache-resident model) is left out and
 * counted in a line below the table. It is the comparison that survives different machines when generation is
 * memory-bound (the roofline model of qk-bench --help). */
void qk_bench_cmp_render_md(qk_sb *out, const qk_bench_cmp_set *ours, const qk_bench_cmp_set *ref,
                            const qk_bench_cmp_membw *membw, int n_membw, const qk_bench_cmp_membw *ref_membw,
                            int n_ref_membw, const char *ref_name, const char *note);

/* Charts (bench_compare_plot.c): "pp" or "tg" — one clustered bar per qkit record of that
 * kind (ppN: n_gen = 0; tgN: n_prompt = 0): qkit t/s, the paired reference t/s (missing:
 * no bar), and for tg the roofline max t/s of this machine; log y axis when the values
 * span more than 20x. Returns false (appending nothing) when there is no such record. */
bool qk_bench_cmp_render_gp(qk_sb *out, const char *kind, const qk_bench_cmp_set *ours,
                            const qk_bench_cmp_set *ref, const char *ref_name);

#endif
