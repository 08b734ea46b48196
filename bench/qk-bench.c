/*
 * qk-bench — prompt-processing (ppN) and text-generation (tgN) speed of GGUF models, with
 * llama-bench's command line, test protocol and output formats (llama-cpp-reference.md
 * §1c). The test matrix is bench_matrix.c, the protocol bench_run.c, the statistics
 * bench_stats.c and the printers bench_output.c; the memory-bandwidth probe is
 * bench_membw.c, the generation roofline bench_roofline.c, and the arithmetic-ceiling
 * probe and prompt-processing ceiling bench_peak.c, the interleaved --vs runs bench_vs.c,
 * the SQL and CI JSON outputs bench_sql.c and bench_cijson.c. This file is only the command
 * line.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_binvs.h"
#include "bench_matrix.h"
#include "bench_membw.h"
#include "bench_output.h"
#include "bench_peak.h"
#include "bench_profile.h"
#include "bench_roofline.h"
#include "bench_run.h"
#include "bench_stats.h"
#include "bench_sysinfo.h"
#include "bench_vs.h"
#include "cli.h"
#include "fileio.h"
#include "model.h"
#include "paths.h"
#include "tool.h"

#define MAX_OUT_FILES 8
#define MAX_LIST 64 /* values of one list parameter (-p, -n, -b, -ub, -d, -t), repeats included */
#define MIB ((size_t)1 << 20)

static void usage(FILE *f, int def_threads) {
    fprintf(f,
        "usage: qk-bench -m MODEL [-m MODEL ...] [options]\n"
        "       qk-bench --membw [-t N,...] [-o FMT] [--membw-mib N]\n"
        "       qk-bench --peak [-t N,...] [-o FMT] [--peak-passes N]\n"
        "\n"
        "Measures prompt processing (ppN) and text generation (tgN) speed like llama-bench.\n"
        "Every test parameter takes comma lists or repeats; the full cross-product runs.\n"
        "\n"
        "options:\n"
        "  -h, --help               show this help\n"
        "  -r, --repetitions N      timed repetitions per test (default: 5)\n"
        "  -o, --output FMT         csv|json|jsonl|md|sql|none printed to stdout (default: md);\n"
        "                           sql: llama-bench's llama_bench table (| sqlite3 FILE.db)\n"
        "  -oe, --output-err FMT    the same printed to stderr (default: none)\n"
        "  --output-file PATH       also write the results to PATH, format from the extension\n"
        "                           (.csv, .json, .jsonl, .md, .sql); written atomically;\n"
        "                           repeatable\n"
        "  --ci-json PATH           also write github-action-benchmark's customBiggerIsBetter\n"
        "                           JSON to PATH: [{name, unit \"t/s\", value, range, extra}]\n"
        "  --progress               print test progress on stderr\n"
        "  --vs FILE                run every test on FILE too, the repetitions of the two\n"
        "                           models interleaved (A B, B A, ...); records of both, and\n"
        "                           md ends with FILE / MODEL per test with a 95 %% interval\n"
        "  --binary-vs PATH         the same against another qkit build's qk-bench (another\n"
        "                           commit), one child run of PATH per repetition; its\n"
        "                           records carry its build_commit\n"
        "\n"
        "test parameters:\n"
        "  -m, --model FILE         GGUF model (required)\n"
        "  -p, --n-prompt N         prompt tokens; 0 skips (default: 512)\n"
        "  -n, --n-gen N            generated tokens; 0 skips (default: 128)\n"
        "  -pg PP,TG                prompt followed by generation (default: none)\n"
        "  -b, --batch-size N       tokens per decode call in the prompt test (default: 2048)\n"
        "  -ub, --ubatch-size N     smaller decode calls than -b in the prompt test (default:\n"
        "                           not set: calls of -b tokens, reported as n_ubatch 512)\n"
        "  -d, --n-depth N          tokens already in the KV cache when the test starts, filled\n"
        "                           untimed before each repetition: \"tg128 @ d4096\" (default: 0)\n"
        "  -t, --threads N          threads (default: %d, the physical cores)\n"
        "  -mmp, --mmap 0|1         1: read the weights from the file mapping (llama-bench's\n"
        "                           default); 0: read them into memory first, which made\n"
        "                           passes faster on virtual machines (default: 0)\n"
        "Every list item may be a range: FIRST-LAST (step 1), FIRST-LAST+STEP or\n"
        "FIRST-LAST*MULT, e.g. -t 1-4, -d 0-4096+1024, -p 128-1024*2.\n"
        "\n"
        "Each test gets a fresh context of n_depth + n_prompt + n_gen positions, one untimed\n"
        "warm-up (the full prompt / one generated token), then N timed repetitions from an\n"
        "empty KV cache. t/s is the mean of the per-repetition rates, +/- their sample\n"
        "standard deviation. Model loading is not timed. CSV columns are llama-bench's; json\n"
        "and jsonl add the per-repetition samples_ns and samples_ts, n_depth and\n"
        "peak_rss_bytes (the process's peak resident memory during the test).\n"
        "\n"
        "memory bandwidth and the generation roofline:\n"
        "  --membw                  only measure the memory read bandwidth (no model): sum a\n"
        "                           large buffer with each -t thread count, best of the\n"
        "                           passes, in GB/s (1e9 bytes/s); -o csv|json|md as above\n"
        "  --membw-mib N            probe buffer size in MiB (default: 1 GiB, or 2x the\n"
        "                           last-level cache if larger, at most half the free\n"
        "                           memory; here %zu)\n"
        "  --membw-passes N         timed passes per thread count (default: 5)\n"
        "  --membw-gbs X            use X GB/s for the roofline instead of measuring\n"
        "  --no-roofline            no roofline (and no bandwidth probe)\n"
        "  --profile                after each test, print on stderr where its decode time\n"
        "                           went: the matmuls per weight type (calls, ms and share per\n"
        "                           token, and the GB/s each type's weights streamed at), the\n"
        "                           attention and the rest; json adds it to each record as\n"
        "                           \"profile\" (two clock reads per matmul: negligible)\n"
        "\n"
        "For tgN tests the md and json outputs add the roofline: batch-1 generation reads\n"
        "every weight once per token, so max t/s = bandwidth / bytes per token, where bytes\n"
        "per token = tensor bytes (a tied token_embd counted once, as the output matrix; an\n"
        "untied one not at all) + the mean F16 KV cache read. The bandwidth is measured\n"
        "once per run, before the first test, with each thread count of the tg tests, and\n"
        "each test is compared with the bandwidth of its own thread count. md prints a\n"
        "roofline table after the build line; json adds membw_gbs, roofline_weight_bytes,\n"
        "roofline_kv_bytes, roofline_bytes_per_token, roofline_max_ts and roofline_fraction\n"
        "(0..1) to each tg record. The CSV stays exactly llama-bench's.\n"
        "\n"
        "arithmetic ceilings and prompt processing:\n"
        "  --peak                   only measure the FP32 FMA (GFLOP/s, 2 per lane per FMA) and\n"
        "                           int8 multiply-add (GOP/s, 2 per byte product) ceilings of\n"
        "                           each instruction set (AVX2, AVX512; scalar without either)\n"
        "                           with each -t thread count: register-resident loops, best\n"
        "                           of the passes (no model); -o csv|json|md as above\n"
        "  --peak-passes N          timed passes per kernel (default: 5; ~0.4 s per -t value)\n"
        "  --peak-gflops X          use X GFLOP/s as the FP32 ceiling instead of measuring\n"
        "  --peak-gops X            use X GOP/s as the int8 ceiling instead of measuring\n"
        "  --no-peak                no compute ceiling (and no probe)\n"
        "\n"
        "For ppN tests the md and json outputs add the compute ceiling: max t/s = ceiling /\n"
        "operations per token, operations = 2 x the elements of every layer matrix + 2 x the\n"
        "output matrix once per decode call (only the last token gets logits) + attention\n"
        "(4 x n_layer x n_head x head_dim per attended position). The ceiling is int8 when\n"
        "most weights are quantized, else FP32, of the widest instruction set, measured once\n"
        "per run before the first test with each thread count of the pp tests (unless both\n"
        "--peak-gflops and --peak-gops are given). md prints a compute-ceiling table; json\n"
        "adds peak_kind, peak_isa, peak_gops, pp_weight_flops, pp_attn_flops,\n"
        "pp_flops_per_token, pp_max_ts and pp_ceiling_fraction (0..1) to each pp record.\n",
        def_threads, qk_membw_default_bytes() / MIB);
}

typedef struct opts {
    qk_bench_params p;
    int def_threads; /* the physical cores */
    qk_bench_format fmt_out, fmt_err;
    const char *out_files[MAX_OUT_FILES];
    qk_bench_format out_fmt[MAX_OUT_FILES];
    int n_out_files;
    const char *vs;        /* --vs model (NULL: none) */
    const char *binary_vs; /* --binary-vs qk-bench (NULL: none) */
    bool progress, membw_mode, roofline, profile, peak_mode, peak;
    bool use_mmap; /* -mmp 1: the weights stay in the file mapping */
    size_t membw_bytes;
    int32_t membw_passes, peak_passes;
    double membw_gbs;     /* 0: measure */
    double peak_given[2]; /* --peak-gflops, --peak-gops (qk_peak_kind order); 0: measure */
} opts;

static int add_models(qk_bench_params *p, char *arg) {
    /* llama-bench splits -m values on ',' too */
    for (char *tok = strtok(arg, ","); tok; tok = strtok(NULL, ",")) {
        const char **nm = realloc(p->models, sizeof(char *) * (size_t)(p->n_models + 1));
        if (!nm) return -1;
        p->models = nm;
        p->models[p->n_models++] = tok;
    }
    return 0;
}

/* Frees what the argument parsing allocated in p (safe on a partly filled p). */
static void params_free(qk_bench_params *p) {
    free(p->models);
    qk_int_list_free(&p->n_prompt);
    qk_int_list_free(&p->n_gen);
    qk_int_list_free(&p->pg);
    qk_int_list_free(&p->n_batch);
    qk_int_list_free(&p->n_ubatch);
    qk_int_list_free(&p->n_depth);
    qk_int_list_free(&p->n_threads);
}

/* Append a comma list of integers or ranges in [min, max] ("512,1024", "1-4") to l. */
static int add_list(const char *opt, const char *v, int32_t min, int32_t max, qk_int_list *l) {
    qk_err err;
    if (qk_bench_parse_list(opt, v, min, max, MAX_LIST, l, &err) != 0)
        return qk_cli_error("%s — run qk-bench --help", err.msg);
    return QK_CLI_RUN;
}

/* -pg PP,TG: one pair per option. */
static int add_pair(const char *v, qk_int_list *pg) {
    qk_int_list pair = {0};
    int rc = add_list("-pg", v, 0, QK_CLI_MAX_TOKENS, &pair);
    if (rc == QK_CLI_RUN && pair.n != 2) rc = qk_cli_error("-pg takes one pair 'PP,TG', got '%s' — run qk-bench --help", v);
    for (int k = 0; rc == QK_CLI_RUN && k < 2; k++)
        if (qk_int_list_push(pg, pair.v[k], NULL) != 0) rc = qk_cli_error("out of memory");
    qk_int_list_free(&pair);
    return rc;
}

static int set_format(const char *opt, const char *v, qk_bench_format *f) {
    if (qk_bench_format_parse(v, f) != 0)
        return qk_cli_error("%s: unknown output format '%s' (csv, json, jsonl, md, sql, none) — run qk-bench --help",
                            opt, v);
    return QK_CLI_RUN;
}

/* --output-file (fmt NONE: from the extension) or --ci-json (fmt CIJSON). */
static int add_out_file(opts *o, const char *path, qk_bench_format fmt) {
    if (fmt == QK_BENCH_FMT_NONE && (fmt = qk_bench_format_from_path(path)) == QK_BENCH_FMT_NONE)
        return qk_cli_error("--output-file: cannot tell the format of '%s' (use .csv, .json, .jsonl, .md or .sql) — run "
                            "qk-bench --help", path);
    if (o->n_out_files == MAX_OUT_FILES)
        return qk_cli_error("at most %d --output-file and --ci-json options — run qk-bench --help", MAX_OUT_FILES);
    o->out_fmt[o->n_out_files] = fmt;
    o->out_files[o->n_out_files++] = path;
    return QK_CLI_RUN;
}

enum {
    OPT_OE = 256, OPT_PG, OPT_OUTPUT_FILE, OPT_PROGRESS, OPT_MEMBW, OPT_MEMBW_MIB, OPT_MEMBW_PASSES,
    OPT_MEMBW_GBS, OPT_NO_ROOFLINE, OPT_PROFILE, OPT_PEAK, OPT_PEAK_PASSES, OPT_PEAK_GFLOPS, OPT_PEAK_GOPS,
    OPT_NO_PEAK, OPT_UB, OPT_CI_JSON, OPT_VS, OPT_BINARY_VS, OPT_MMP
};

/* The next option as qk_cli_next reads it, but for llama-bench's -oe, -pg, -ub and -mmp
 * (which getopt would read as -o e, -p g, -u b, -m mp): those return OPT_OE / OPT_PG /
 * OPT_UB / OPT_MMP with optarg set.
 * qk-bench takes no operands, so one is an error here, before getopt would move past it. */
static int next_option(int argc, char **argv) {
    static const struct option LONG[] = {{"help", no_argument, NULL, 'h'},
                                         {"repetitions", required_argument, NULL, 'r'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"output-err", required_argument, NULL, OPT_OE},
                                         {"output-file", required_argument, NULL, OPT_OUTPUT_FILE},
                                         {"progress", no_argument, NULL, OPT_PROGRESS},
                                         {"model", required_argument, NULL, 'm'},
                                         {"n-prompt", required_argument, NULL, 'p'},
                                         {"n-gen", required_argument, NULL, 'n'},
                                         {"batch-size", required_argument, NULL, 'b'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"ubatch-size", required_argument, NULL, OPT_UB},
                                         {"n-depth", required_argument, NULL, 'd'},
                                         {"ci-json", required_argument, NULL, OPT_CI_JSON},
                                         {"vs", required_argument, NULL, OPT_VS},
                                         {"binary-vs", required_argument, NULL, OPT_BINARY_VS},
                                         {"membw", no_argument, NULL, OPT_MEMBW},
                                         {"membw-mib", required_argument, NULL, OPT_MEMBW_MIB},
                                         {"membw-passes", required_argument, NULL, OPT_MEMBW_PASSES},
                                         {"membw-gbs", required_argument, NULL, OPT_MEMBW_GBS},
                                         {"no-roofline", no_argument, NULL, OPT_NO_ROOFLINE},
                                         {"profile", no_argument, NULL, OPT_PROFILE},
                                         {"peak", no_argument, NULL, OPT_PEAK},
                                         {"peak-passes", required_argument, NULL, OPT_PEAK_PASSES},
                                         {"peak-gflops", required_argument, NULL, OPT_PEAK_GFLOPS},
                                         {"peak-gops", required_argument, NULL, OPT_PEAK_GOPS},
                                         {"no-peak", no_argument, NULL, OPT_NO_PEAK},
                                         {"mmap", required_argument, NULL, OPT_MMP},
                                         {0}};
    const char *a = optind < argc ? argv[optind] : NULL;
    if (a && (a[0] != '-' || !a[1])) {
        qk_cli_error("unexpected argument '%s' — run qk-bench --help", a);
        return '?';
    }
    if (a && (!strcmp(a, "-oe") || !strcmp(a, "-pg") || !strcmp(a, "-ub") || !strcmp(a, "-mmp"))) {
        if (optind + 1 >= argc) {
            qk_cli_error("option '%s' needs a value — run qk-bench --help", a);
            return '?';
        }
        optarg = argv[optind + 1];
        optind += 2;
        return a[1] == 'o' ? OPT_OE : a[1] == 'p' ? OPT_PG : a[1] == 'u' ? OPT_UB : OPT_MMP;
    }
    return qk_cli_next(argc, argv, ":m:p:n:b:t:r:o:d:h", LONG);
}

/* Apply option c (its value in v). */
static int set_option(opts *o, int c, char *v) {
    int64_t mib;
    switch (c) {
    case 'm': return add_models(&o->p, v) != 0 ? qk_cli_error("out of memory") : QK_CLI_RUN;
    case 'p': return add_list("-p", v, 0, QK_CLI_MAX_TOKENS, &o->p.n_prompt);
    case 'n': return add_list("-n", v, 0, QK_CLI_MAX_TOKENS, &o->p.n_gen);
    case OPT_PG: return add_pair(v, &o->p.pg);
    case 'b': return add_list("-b", v, 1, QK_CLI_MAX_TOKENS, &o->p.n_batch);
    case OPT_UB: return add_list("-ub", v, 1, QK_CLI_MAX_TOKENS, &o->p.n_ubatch);
    case 'd': return add_list("-d", v, 0, QK_CLI_MAX_TOKENS, &o->p.n_depth);
    case 't': return add_list("-t", v, 1, QK_CLI_MAX_THREADS, &o->p.n_threads);
    case 'r': return qk_cli_i32("-r", v, 1, 1000000, &o->p.reps);
    case 'o': return set_format("-o", v, &o->fmt_out);
    case OPT_OE: return set_format("-oe", v, &o->fmt_err);
    case OPT_OUTPUT_FILE: return add_out_file(o, v, QK_BENCH_FMT_NONE);
    case OPT_CI_JSON: return add_out_file(o, v, QK_BENCH_FMT_CIJSON);
    case OPT_PROGRESS: o->progress = true; return QK_CLI_RUN;
    case OPT_VS: o->vs = v; return QK_CLI_RUN;
    case OPT_BINARY_VS: o->binary_vs = v; return QK_CLI_RUN;
    case OPT_MEMBW: o->membw_mode = true; return QK_CLI_RUN;
    case OPT_MEMBW_MIB:
        if (qk_cli_int("--membw-mib", v, 1, 1048576, &mib)) return QK_CLI_ERROR;
        o->membw_bytes = (size_t)mib * MIB;
        return QK_CLI_RUN;
    case OPT_MEMBW_PASSES: return qk_cli_i32("--membw-passes", v, 1, 1000, &o->membw_passes);
    case OPT_MEMBW_GBS: return qk_cli_double("--membw-gbs", v, 1e-3, 1e6, &o->membw_gbs);
    case OPT_NO_ROOFLINE: o->roofline = false; return QK_CLI_RUN;
    case OPT_PROFILE: o->profile = true; return QK_CLI_RUN;
    case OPT_PEAK: o->peak_mode = true; return QK_CLI_RUN;
    case OPT_PEAK_PASSES: return qk_cli_i32("--peak-passes", v, 1, 1000, &o->peak_passes);
    case OPT_PEAK_GFLOPS: return qk_cli_double("--peak-gflops", v, 1e-3, 1e9, &o->peak_given[QK_PEAK_FP32]);
    case OPT_PEAK_GOPS: return qk_cli_double("--peak-gops", v, 1e-3, 1e9, &o->peak_given[QK_PEAK_INT8]);
    case OPT_NO_PEAK: o->peak = false; return QK_CLI_RUN;
    case OPT_MMP:
        if (strcmp(v, "0") && strcmp(v, "1")) return qk_cli_error("-mmp takes 0 or 1, got '%s' — run qk-bench --help", v);
        o->use_mmap = v[0] == '1';
        return QK_CLI_RUN;
    case 'h':
        usage(stdout, o->def_threads);
        return fflush(stdout) != 0 ? qk_cli_error("cannot write to stdout") : QK_CLI_DONE;
    default: return QK_CLI_ERROR; /* the error is printed */
    }
}

/* After the last option: -m or --membw (not both), and the default of each list. */
static int finish_options(opts *o, int argc, char **argv) {
    if (optind < argc) return qk_cli_error("unexpected argument '%s' — run qk-bench --help", argv[optind]);
    if (o->membw_mode && o->p.n_models > 0)
        return qk_cli_error("--membw measures the memory only and takes no -m — run qk-bench -m MODEL separately (it "
                            "measures the bandwidth itself)");
    if (o->peak_mode && (o->p.n_models > 0 || o->membw_mode))
        return qk_cli_error("--peak measures the arithmetic ceilings only and takes no -m or --membw — run them "
                            "separately");
    bool probe_fmt_ok = o->fmt_out <= QK_BENCH_FMT_MD && o->fmt_err <= QK_BENCH_FMT_MD;
    for (int k = 0; k < o->n_out_files; k++) probe_fmt_ok &= o->out_fmt[k] <= QK_BENCH_FMT_MD;
    if ((o->membw_mode || o->peak_mode) && !probe_fmt_ok)
        return qk_cli_error("--membw and --peak write csv, json or md only (no jsonl, sql or --ci-json) — choose one of "
                            "those");
    if ((o->vs || o->binary_vs) && o->p.n_models == 0)
        return qk_cli_error("--vs and --binary-vs need -m MODEL — run qk-bench --help");
    if (o->vs && o->binary_vs) return qk_cli_error("--vs and --binary-vs compare one thing at a time — pass one");
    if (!o->membw_mode && !o->peak_mode && o->p.n_models == 0)
        return qk_cli_error("no model given — pass -m MODEL.gguf (or --membw / --peak for the machine probes)");
    qk_bench_params *p = &o->p;
    if ((p->n_prompt.n == 0 && qk_int_list_push(&p->n_prompt, 512, NULL) != 0) ||
        (p->n_gen.n == 0 && qk_int_list_push(&p->n_gen, 128, NULL) != 0) ||
        (p->n_batch.n == 0 && qk_int_list_push(&p->n_batch, 2048, NULL) != 0) ||
        (p->n_threads.n == 0 && qk_int_list_push(&p->n_threads, o->def_threads, NULL) != 0))
        return qk_cli_error("out of memory");
    return QK_CLI_RUN;
}

static int parse_args(int argc, char **argv, opts *o) {
    memset(o, 0, sizeof *o);
    o->def_threads = qk_bench_default_threads();
    o->p.reps = 5;
    o->fmt_out = QK_BENCH_FMT_MD;
    o->fmt_err = QK_BENCH_FMT_NONE;
    o->roofline = true;
    o->membw_bytes = qk_membw_default_bytes();
    o->membw_passes = 5;
    o->peak = true;
    o->peak_passes = 5;
    int c, rc = QK_CLI_RUN;
    while (rc == QK_CLI_RUN && (c = next_option(argc, argv)) != -1) rc = set_option(o, c, optarg);
    if (rc == QK_CLI_RUN) rc = finish_options(o, argc, argv);
    if (rc != QK_CLI_RUN) params_free(&o->p);
    return rc;
}

/* --profile: the test's table on stderr, at once (the result tables come later). */
static void print_profile(const qk_bench_result *r) {
    qk_bench_profile_row rows[QK_BENCH_PROFILE_MAX_ROWS];
    const int n = qk_bench_profile_rows(&r->profile, rows);
    if (n == 0) return;
    char name[64], title[256];
    qk_bench_test_name(&r->test, name, sizeof name);
    snprintf(title, sizeof title, "profile: %s, %s, %d threads (per decoded token, over the timed repetitions)",
             r->test.model, name, r->test.n_threads);
    qk_sb sb = {0};
    qk_bench_print_profile_md(&sb, title, rows, n);
    if (qk_sb_ok(&sb)) fputs(qk_sb_str(&sb), stderr);
    qk_sb_free(&sb);
}

typedef struct progress_ctx {
    bool on;
    int index, total;
} progress_ctx;

static void on_progress(void *user, const qk_bench_test *t, const char *phase, int rep,
                        int reps) {
    progress_ctx *pc = user;
    if (!pc->on) return;
    char name[64];
    qk_bench_test_name(t, name, sizeof name);
    if (!strcmp(phase, "warmup"))
        fprintf(stderr, "qk-bench: test %d/%d: %s %s t=%d: warm-up\n", pc->index + 1, pc->total,
                t->model, name, t->n_threads);
    else
        fprintf(stderr, "qk-bench: test %d/%d: %s %s t=%d: repetition %d/%d\n", pc->index + 1,
                pc->total, t->model, name, t->n_threads, rep, reps);
}

/* Emit the new bytes of sb beyond *printed on f. */
static void flush_new(FILE *f, const qk_sb *sb, size_t *printed) {
    if (!f) return;
    if (sb->len > *printed) fwrite(sb->buf + *printed, 1, sb->len - *printed, f);
    *printed = sb->len;
    fflush(f);
}

static void membw_progress(void *user, int n_threads, size_t bytes, int passes) {
    if (!*(bool *)user) return;
    fprintf(stderr, "qk-bench: memory read bandwidth: %.0f MiB buffer, t=%d, %d passes\n",
            (double)bytes / (double)MIB, n_threads, passes);
}

/* Bandwidth per thread count for the roofline of the tgN tests: gbs[i] for the thread
 * count tests[i].n_threads (0 for tests that are not tgN). Measured once for every
 * distinct thread count, or --membw-gbs for all when given. Returns 0, or prints the
 * error and returns 1. */
static int roofline_bandwidth(const qk_bench_test *tests, int n_tests, const opts *o, double *gbs) {
    const double fixed_gbs = o->membw_gbs;
    bool progress = o->progress;
    int counts[64], n_counts = 0;
    for (int i = 0; i < n_tests; i++) {
        gbs[i] = 0;
        if (tests[i].n_prompt != 0 || tests[i].n_gen <= 0) continue;
        bool seen = false;
        for (int k = 0; k < n_counts; k++) seen |= counts[k] == tests[i].n_threads;
        if (!seen && n_counts < 64) counts[n_counts++] = tests[i].n_threads;
    }
    if (n_counts == 0) return 0;
    qk_membw_result res[64];
    if (fixed_gbs <= 0) {
        qk_err err;
        if (qk_membw_measure(counts, n_counts, o->membw_bytes, o->membw_passes, membw_progress, &progress, res,
                             &err) != 0)
            return qk_fail("%s%s", err.msg,
                           qk_hint(err.msg, " — pass --membw-gbs X, a smaller --membw-mib, or --no-roofline"));
    }
    for (int i = 0; i < n_tests; i++) {
        if (tests[i].n_prompt != 0 || tests[i].n_gen <= 0) continue;
        if (fixed_gbs > 0) {
            gbs[i] = fixed_gbs;
            continue;
        }
        for (int k = 0; k < n_counts; k++)
            if (counts[k] == tests[i].n_threads) gbs[i] = res[k].best_gbs;
    }
    if (progress && fixed_gbs <= 0)
        for (int k = 0; k < n_counts; k++)
            fprintf(stderr, "qk-bench: memory read bandwidth t=%d: %.2f GB/s\n", res[k].n_threads,
                    res[k].best_gbs);
    return 0;
}

static void peak_progress(void *user, int n_threads, const char *isa, int passes) {
    if (!*(bool *)user) return;
    fprintf(stderr, "qk-bench: arithmetic ceilings: %s, t=%d, %d passes\n", isa, n_threads, passes);
}

/* The --peak probe with each of n thread counts: *res (malloc'd, NULL on error) gets
 * n * qk_peak_n_isas() results. Returns 0, or prints the error and returns 1. */
static int measure_peak(const opts *o, const int *threads, int n, qk_peak_result **res) {
    *res = calloc((size_t)n * (size_t)qk_peak_n_isas(), sizeof **res);
    if (!*res) return qk_fail("out of memory");
    qk_err err;
    bool progress = o->progress;
    if (qk_peak_measure(threads, n, QK_PEAK_DEFAULT_ITERS, o->peak_passes, peak_progress, &progress, *res, &err)) {
        free(*res);
        *res = NULL;
        return qk_fail("%s%s", err.msg, qk_hint(err.msg, " — pass --peak-gflops X and --peak-gops X, or --no-peak"));
    }
    return 0;
}

/* Fail before printing anything when a model cannot be loaded (mapped, its weights not
 * read, so this costs little) or an output file cannot be written. Returns 0, or prints
 * the error and returns 1. */
static int check_inputs(const opts *o) {
    qk_err err;
    for (int i = 0; i <= o->p.n_models; i++) {
        const char *path = i < o->p.n_models ? o->p.models[i] : o->vs;
        if (!path) break;
        qk_model *m = qk_model_open(path, true, &err);
        if (!m)
            return qk_fail("cannot load model '%s': %s%s", path, err.msg,
                           qk_hint(err.msg, " — check the path and that it is a GGUF model qkit supports"));
        qk_model_free(m);
    }
    if (o->binary_vs && access(o->binary_vs, X_OK) != 0)
        return qk_fail("--binary-vs: '%s' is not an executable file — pass another build's build/bin/qk-bench",
                       o->binary_vs);
    for (int k = 0; k < o->n_out_files; k++)
        if (qk_paths_check_output(o->out_files[k], &err) != 0) return qk_fail("%s", err.msg);
    /* no --output-file may be a model or another --output-file (by identity: paths.h) */
    if (qk_paths_check(o->p.models, (size_t)o->p.n_models, o->out_files, (size_t)o->n_out_files, &err) != 0 ||
        (o->vs && qk_paths_check(&o->vs, 1, o->out_files, (size_t)o->n_out_files, &err) != 0))
        return qk_fail("%s", err.msg);
    return 0;
}

/* Where the results go, one buffer each: stdout and stderr (printed as each piece is
 * formatted), then each --output-file (written whole at the end). */
enum { SINK_OUT, SINK_ERR, SINK_FILES };
typedef struct sinks {
    qk_sb sb[SINK_FILES + MAX_OUT_FILES];
    qk_bench_format fmt[SINK_FILES + MAX_OUT_FILES];
    size_t printed[SINK_FILES]; /* bytes of stdout's and stderr's buffers already printed */
    int n;
} sinks;

static void sinks_init(sinks *s, const opts *o) {
    memset(s, 0, sizeof *s);
    s->fmt[SINK_OUT] = o->fmt_out;
    s->fmt[SINK_ERR] = o->fmt_err;
    for (int k = 0; k < o->n_out_files; k++) s->fmt[SINK_FILES + k] = o->out_fmt[k];
    s->n = SINK_FILES + o->n_out_files;
}

static void sinks_free(sinks *s) {
    for (int k = 0; k < s->n; k++) qk_sb_free(&s->sb[k]);
}

/* Print what the stdout and stderr buffers gained since the last call. */
static void sinks_flush(sinks *s) {
    flush_new(stdout, &s->sb[SINK_OUT], &s->printed[SINK_OUT]);
    flush_new(stderr, &s->sb[SINK_ERR], &s->printed[SINK_ERR]);
}

static bool sinks_std_ok(const sinks *s) { return qk_sb_ok(&s->sb[SINK_OUT]) && qk_sb_ok(&s->sb[SINK_ERR]); }

/* The md or json format goes to some destination (the roofline shows only in those). */
static bool sinks_show_roofline(const sinks *s) {
    bool shows = false;
    for (int k = 0; k < s->n; k++)
        shows |= s->fmt[k] == QK_BENCH_FMT_MD || s->fmt[k] == QK_BENCH_FMT_JSON || s->fmt[k] == QK_BENCH_FMT_JSONL;
    return shows;
}

/* Write each finished --output-file buffer atomically. Returns 0, or prints the error and
 * returns 1. */
static int sinks_write_files(const sinks *s, const opts *o) {
    qk_err err;
    for (int k = 0; k < o->n_out_files; k++) {
        const qk_sb *sb = &s->sb[SINK_FILES + k];
        if (!qk_sb_ok(sb)) return qk_fail("out of memory while formatting results");
        if (qk_afile_write_all(o->out_files[k], sb->buf, sb->len, &err) != 0)
            return qk_fail("%s%s", err.msg, qk_hint(err.msg, " — check that the directory exists and is writable"));
    }
    return 0;
}

/* --membw: probe only, print in every requested format. */
static int run_membw_mode(const opts *o) {
    const qk_int_list *threads = &o->p.n_threads;
    qk_membw_result *res = calloc((size_t)threads->n, sizeof *res);
    if (!res) return qk_fail("out of memory");
    qk_err err;
    bool progress = o->progress;
    if (qk_membw_measure(threads->v, threads->n, o->membw_bytes, o->membw_passes, membw_progress, &progress, res,
                         &err) != 0) {
        free(res);
        return qk_fail("%s%s", err.msg, qk_hint(err.msg, " — try a smaller --membw-mib or fewer threads"));
    }
    char cpu_info[256];
    qk_bench_cpu_info(cpu_info, sizeof cpu_info);
    sinks s;
    sinks_init(&s, o);
    for (int k = 0; k < s.n; k++) qk_bench_print_membw(&s.sb[k], s.fmt[k], cpu_info, res, threads->n);
    int status;
    if (!sinks_std_ok(&s)) {
        status = qk_fail("out of memory while formatting results");
    } else {
        sinks_flush(&s);
        status = sinks_write_files(&s, o);
    }
    sinks_free(&s);
    free(res);
    return status;
}

/* --peak: probe only, print in every requested format. */
static int run_peak_mode(const opts *o) {
    qk_peak_result *res;
    if (measure_peak(o, o->p.n_threads.v, o->p.n_threads.n, &res) != 0) return 1;
    char cpu_info[256];
    qk_bench_cpu_info(cpu_info, sizeof cpu_info);
    sinks s;
    sinks_init(&s, o);
    const int n = o->p.n_threads.n * qk_peak_n_isas();
    for (int k = 0; k < s.n; k++) qk_bench_print_peak(&s.sb[k], s.fmt[k], cpu_info, res, n);
    int status = sinks_std_ok(&s) ? 0 : qk_fail("out of memory while formatting results");
    if (status == 0) {
        sinks_flush(&s);
        status = sinks_write_files(&s, o);
    }
    sinks_free(&s);
    free(res);
    return status;
}

/* A model benchmark: the expanded test matrix, the roofline and the destinations. */
typedef struct bench {
    const opts *o;
    qk_bench_test *tests;
    int n_tests;
    double *gbs;                    /* per test: the bandwidth of its roofline, 0 for none */
    qk_bench_roofline_row *rl_rows; /* the md roofline table */
    int n_rl_rows;
    bool pp_ceiling;                /* compute ceilings for the ppN tests */
    qk_peak_result *peak;           /* the probe's results, NULL when not measured */
    int n_peak;
    qk_bench_pp_row *pp_rows;       /* the md compute-ceiling table */
    int n_pp_rows;
    char cpu_info[256];
    qk_bench_env env;
    sinks out;
    int n_printed;                  /* records printed (two per test with --vs) */
    qk_bench_cmp_set vs_a, vs_b;    /* --vs: the records of each side, for the comparison */
} bench;

static void bench_free(bench *b) {
    free(b->tests);
    free(b->gbs);
    free(b->rl_rows);
    free(b->peak);
    free(b->pp_rows);
    qk_bench_cmp_free(&b->vs_a);
    qk_bench_cmp_free(&b->vs_b);
    sinks_free(&b->out);
}

/* Expand the matrix, measure the roofline bandwidth when it shows, and print the headers.
 * Returns 0, or prints the error and returns 1. */
static int bench_start(bench *b, const opts *o) {
    memset(b, 0, sizeof *b);
    b->o = o;
    sinks_init(&b->out, o);
    qk_err err;
    if (qk_bench_expand(&o->p, &b->tests, &b->n_tests, &err) != 0)
        return qk_fail("%s%s", err.msg, qk_hint(err.msg, " — check -p/-n/-pg"));
    b->gbs = calloc((size_t)b->n_tests, sizeof *b->gbs);
    const size_t n_rows = (size_t)b->n_tests * (o->vs || o->binary_vs ? 2 : 1);
    b->rl_rows = calloc(n_rows, sizeof *b->rl_rows);
    b->pp_rows = calloc(n_rows, sizeof *b->pp_rows);
    if (!b->gbs || !b->rl_rows || !b->pp_rows) return qk_fail("out of memory");
    if (o->roofline && sinks_show_roofline(&b->out) && roofline_bandwidth(b->tests, b->n_tests, o, b->gbs) != 0)
        return 1;
    /* the arithmetic ceilings, once, for the thread counts of the ppN tests */
    b->pp_ceiling = o->peak && sinks_show_roofline(&b->out);
    int counts[64], n_counts = 0;
    for (int i = 0; b->pp_ceiling && i < b->n_tests; i++) {
        bool seen = b->tests[i].n_prompt <= 0 || b->tests[i].n_gen != 0;
        for (int k = 0; k < n_counts; k++) seen |= counts[k] == b->tests[i].n_threads;
        if (!seen && n_counts < 64) counts[n_counts++] = b->tests[i].n_threads;
    }
    if (n_counts > 0 && !(o->peak_given[QK_PEAK_FP32] > 0 && o->peak_given[QK_PEAK_INT8] > 0)) {
        if (measure_peak(o, counts, n_counts, &b->peak) != 0) return 1;
        b->n_peak = n_counts * qk_peak_n_isas();
    }
    qk_bench_cpu_info(b->cpu_info, sizeof b->cpu_info);
    bool depth = false;
    for (int k = 0; k < o->p.n_depth.n; k++) depth |= o->p.n_depth.v[k] > 0;
    b->env = (qk_bench_env){qk_bench_build_commit(), 0, b->cpu_info,
                            o->p.n_batch.n > 1 || o->p.n_batch.v[0] != 2048, depth};
    for (int k = 0; k < b->out.n; k++) qk_bench_print_header(&b->out.sb[k], b->out.fmt[k], &b->env);
    sinks_flush(&b->out);
    return 0;
}

/* Test i is done: its roofline (tgN with a bandwidth), its --profile table, and its record
 * in every destination. */
static void bench_record(bench *b, const qk_model *model, int i, qk_bench_result *r) {
    const qk_bench_test *t = &b->tests[i];
    qk_err err;
    if (b->gbs[i] > 0) {
        qk_bench_summary su = qk_bench_summarize(r->samples_ns, r->n_samples, t->n_gen);
        double wb = (double)qk_roofline_weight_bytes(model);
        double kb = qk_roofline_kv_bytes_model(model, t->n_depth, t->n_gen); /* the cache read grows with -d */
        if (qk_roofline_compute(wb, kb, b->gbs[i], su.avg_ts, &r->roofline, &err) == 0) {
            r->has_roofline = true;
            qk_bench_roofline_row_from(&b->rl_rows[b->n_rl_rows++], r);
        }
    }
    if (b->pp_ceiling && t->n_prompt > 0 && t->n_gen == 0 && t->n_depth == 0) { /* attention FLOPs: no depth */
        const qk_peak_kind kind = qk_peak_model_kind(model);
        const char *isa = "given";
        double gops = b->o->peak_given[kind];
        if (!(gops > 0)) gops = qk_peak_ceiling(b->peak, b->n_peak, t->n_threads, kind, &isa);
        qk_bench_summary su = qk_bench_summarize(r->samples_ns, r->n_samples, t->n_prompt);
        if (qk_pp_ceiling_compute(qk_peak_weight_flops_model(model, t->n_prompt, t->n_batch),
                                  qk_peak_attn_flops_model(model, t->n_prompt), kind, isa, gops, su.avg_ts,
                                  &r->pp_ceiling, &err) == 0) {
            r->has_pp_ceiling = true;
            qk_bench_pp_row_from(&b->pp_rows[b->n_pp_rows++], r);
        }
    }
    if (b->o->profile) print_profile(r);
    for (int k = 0; k < b->out.n; k++) qk_bench_print_test(&b->out.sb[k], b->out.fmt[k], &b->env, r, b->n_printed);
    b->n_printed++;
    sinks_flush(&b->out);
}

/* Run every test, loading each model once (the tests of a model are adjacent). Returns 0,
 * or prints the error and returns 1. */
static int bench_run_tests(bench *b) {
    const opts *o = b->o;
    qk_model *model = NULL, *model_vs = NULL;
    int model_index = -1, status = 0;
    qk_err err;
    progress_ctx pc = {o->progress, 0, b->n_tests};
    if (o->vs && !(model_vs = qk_model_open(o->vs, o->use_mmap, &err)))
        return qk_fail("cannot load model '%s': %s%s", o->vs, err.msg,
                       qk_hint(err.msg, " — check the path and that it is a GGUF model qkit supports"));
    for (int i = 0; i < b->n_tests && status == 0; i++) {
        const qk_bench_test *t = &b->tests[i];
        if (t->model_index != model_index) {
            qk_model_free(model);
            if (o->progress) fprintf(stderr, "qk-bench: loading %s\n", t->model);
            model = qk_model_open(t->model, o->use_mmap, &err);
            if (!model) {
                status = qk_fail("cannot load model '%s': %s%s", t->model, err.msg,
                                 qk_hint(err.msg, " — check the path and that it is a GGUF model qkit supports"));
                break;
            }
            model_index = t->model_index;
        }
        pc.index = i;
        qk_bench_result r, rv;
        const int rc = model_vs ? qk_bench_run_pair(model, model_vs, o->vs, t, o->p.reps, o->profile, on_progress, &pc,
                                                    &r, &rv, &err)
                       : o->binary_vs ? qk_bench_run_binary_pair(model, o->binary_vs, t, o->p.reps, o->profile,
                                                                 on_progress, &pc, &r, &rv, &err)
                                      : qk_bench_run_test(model, t, o->p.reps, o->profile, on_progress, &pc, &r, &err);
        if (rc != 0) {
            status = qk_fail("%s: %s%s", t->model, err.msg, qk_hint(err.msg, " — try fewer tokens (-p/-n) or threads"));
            break;
        }
        bench_record(b, model, i, &r);
        if (model_vs || o->binary_vs) {
            bench_record(b, model_vs ? model_vs : model, i, &rv);
            if (qk_bench_vs_add(&b->vs_a, &r, b->env.build_commit, b->cpu_info, &err) != 0 ||
                qk_bench_vs_add(&b->vs_b, &rv, b->env.build_commit, b->cpu_info, &err) != 0)
                status = qk_fail("%s", err.msg);
            qk_bench_result_free(&rv);
        }
        qk_bench_result_free(&r);
    }
    qk_model_free(model);
    qk_model_free(model_vs);
    return status;
}

/* The footers and roofline tables, then the --output-file files. Returns 0, or prints the
 * error and returns 1. */
static int bench_finish(bench *b) {
    sinks *s = &b->out;
    for (int k = 0; k < s->n; k++) {
        qk_bench_print_footer(&s->sb[k], s->fmt[k], &b->env, b->n_printed);
        qk_bench_print_roofline(&s->sb[k], s->fmt[k], b->rl_rows, b->n_rl_rows);
        qk_bench_print_pp_ceiling(&s->sb[k], s->fmt[k], b->pp_rows, b->n_pp_rows);
        if (s->fmt[k] == QK_BENCH_FMT_MD && (b->o->vs || b->o->binary_vs))
            qk_bench_vs_render_md(&s->sb[k], &b->vs_a, &b->vs_b, b->o->vs ? "the -m model" : "this build",
                                  b->o->vs ? b->o->vs : b->o->binary_vs, 0.95);
    }
    sinks_flush(s);
    int status = sinks_write_files(s, b->o);
    if (status == 0 && !sinks_std_ok(s)) status = qk_fail("out of memory while formatting results");
    return status;
}

static int run_bench_mode(const opts *o) {
    bench b;
    int status = bench_start(&b, o);
    if (status == 0) status = bench_run_tests(&b);
    if (status == 0) status = bench_finish(&b);
    bench_free(&b);
    return status;
}

int main(int argc, char **argv) {
    qk_tool_init("qk-bench");
    opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0;

    int status = check_inputs(&o);
    if (status == 0) status = o.membw_mode ? run_membw_mode(&o) : o.peak_mode ? run_peak_mode(&o) : run_bench_mode(&o);
    params_free(&o.p);
    if (fflush(stdout) != 0 && status == 0) status = qk_fail("cannot write to stdout");
    return status;
}
