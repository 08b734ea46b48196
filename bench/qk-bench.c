/*
 * qk-bench — prompt-processing (ppN) and text-generation (tgN) speed of GGUF models, with
 * llama-bench's command line, test protocol and output formats (llama-cpp-reference.md
 * §1c). The test matrix is bench_matrix.c, the protocol bench_run.c, the statistics
 * bench_stats.c and the printers bench_output.c; the memory-bandwidth probe is
 * bench_membw.c and the generation roofline bench_roofline.c. This file is only the
 * command line.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_matrix.h"
#include "bench_membw.h"
#include "bench_output.h"
#include "bench_profile.h"
#include "bench_roofline.h"
#include "bench_run.h"
#include "bench_stats.h"
#include "bench_sysinfo.h"
#include "model.h"
#include "fileio.h"
#include "tool.h"

#define MAX_OUT_FILES 8
#define MIB ((size_t)1 << 20)

static void usage(FILE *f, int def_threads) {
    fprintf(f,
        "usage: qk-bench -m MODEL [-m MODEL ...] [options]\n"
        "       qk-bench --membw [-t N,...] [-o FMT] [--membw-mib N]\n"
        "\n"
        "Measures prompt processing (ppN) and text generation (tgN) speed like llama-bench.\n"
        "Every test parameter takes comma lists or repeats; the full cross-product runs.\n"
        "\n"
        "options:\n"
        "  -h, --help               show this help\n"
        "  -r, --repetitions N      timed repetitions per test (default: 5)\n"
        "  -o, --output FMT         csv|json|md|none printed to stdout (default: md)\n"
        "  -oe, --output-err FMT    csv|json|md|none printed to stderr (default: none)\n"
        "  --output-file PATH       also write the results to PATH, format from the extension\n"
        "                           (.csv, .json, .md); written atomically; repeatable\n"
        "  --progress               print test progress on stderr\n"
        "\n"
        "test parameters:\n"
        "  -m, --model FILE         GGUF model (required)\n"
        "  -p, --n-prompt N         prompt tokens; 0 skips (default: 512)\n"
        "  -n, --n-gen N            generated tokens; 0 skips (default: 128)\n"
        "  -pg PP,TG                prompt followed by generation (default: none)\n"
        "  -b, --batch-size N       tokens per decode call in the prompt test (default: 2048)\n"
        "  -t, --threads N          threads (default: %d, the physical cores)\n"
        "\n"
        "Each test gets a fresh context of n_prompt + n_gen positions, one untimed warm-up\n"
        "(the full prompt / one generated token), then N timed repetitions from an empty\n"
        "KV cache. t/s is the mean of the per-repetition rates, +/- their sample standard\n"
        "deviation. Model loading is not timed. CSV columns are llama-bench's.\n"
        "\n"
        "memory bandwidth and the generation roofline:\n"
        "  --membw                  only measure the memory read bandwidth (no model): sum a\n"
        "                           large buffer with each -t thread count, best of the\n"
        "                           passes, in GB/s (1e9 bytes/s); -o csv|json|md as above\n"
        "  --membw-mib N            probe buffer size in MiB (default here: %zu = 1 GiB, or 2x\n"
        "                           the last-level cache if larger, at most half the free\n"
        "                           memory)\n"
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
        "(0..1) to each tg record. The CSV stays exactly llama-bench's.\n",
        def_threads, qk_membw_default_bytes() / MIB);
}

static int die(const char *what, const char *todo) {
    if (todo && strstr(what, " — ")) todo = NULL; /* the message already says what to do */
    if (todo && *todo) fprintf(stderr, "qk-bench: error: %s — %s\n", what, todo);
    else fprintf(stderr, "qk-bench: error: %s\n", what);
    return 1;
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

/* Write each finished buffer to its output file atomically. */
static int write_out_files(const char *const *paths, qk_sb *sbs, int n) {
    qk_err err;
    for (int k = 0; k < n; k++) {
        if (!qk_sb_ok(&sbs[k])) return die("out of memory while formatting results", NULL);
        if (qk_afile_write_all(paths[k], sbs[k].buf, sbs[k].len, &err) != 0)
            return die(err.msg, "check that the directory exists and is writable");
    }
    return 0;
}

/* --membw: probe only, print in every requested format. */
static int run_membw_mode(const qk_int_list *threads, size_t bytes, int passes, bool progress,
                          qk_bench_format fmt_out, qk_bench_format fmt_err,
                          const char *const *out_files, int n_out_files) {
    qk_membw_result *res = calloc((size_t)threads->n, sizeof *res);
    if (!res) return die("out of memory", NULL);
    qk_err err;
    if (qk_membw_measure(threads->v, threads->n, bytes, passes, membw_progress, &progress, res,
                         &err) != 0) {
        free(res);
        return die(err.msg, "try a smaller --membw-mib or fewer threads");
    }
    char cpu_info[256];
    qk_bench_cpu_info(cpu_info, sizeof cpu_info);
    qk_sb sb_out = {0}, sb_err = {0}, sb_files[MAX_OUT_FILES];
    qk_bench_print_membw(&sb_out, fmt_out, cpu_info, res, threads->n);
    qk_bench_print_membw(&sb_err, fmt_err, cpu_info, res, threads->n);
    for (int k = 0; k < n_out_files; k++) {
        memset(&sb_files[k], 0, sizeof sb_files[k]);
        qk_bench_print_membw(&sb_files[k], qk_bench_format_from_path(out_files[k]), cpu_info, res,
                             threads->n);
    }
    int status = 0;
    if (!qk_sb_ok(&sb_out) || !qk_sb_ok(&sb_err)) {
        status = die("out of memory while formatting results", NULL);
    } else {
        size_t po = 0, pe = 0;
        flush_new(stdout, &sb_out, &po);
        flush_new(stderr, &sb_err, &pe);
        status = write_out_files(out_files, sb_files, n_out_files);
    }
    for (int k = 0; k < n_out_files; k++) qk_sb_free(&sb_files[k]);
    qk_sb_free(&sb_out);
    qk_sb_free(&sb_err);
    free(res);
    return status;
}

/* Bandwidth per thread count for the roofline of the tgN tests: gbs[i] for the thread
 * count tests[i].n_threads (0 for tests that are not tgN). Measured once for every
 * distinct thread count, or fixed_gbs for all when > 0. */
static int roofline_bandwidth(const qk_bench_test *tests, int n_tests, double fixed_gbs,
                              size_t bytes, int passes, bool progress, double *gbs) {
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
        if (qk_membw_measure(counts, n_counts, bytes, passes, membw_progress, &progress, res,
                             &err) != 0)
            return die(err.msg, "pass --membw-gbs X, a smaller --membw-mib, or --no-roofline");
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
    qk_int_list_free(&p->n_threads);
}

int main(int argc, char **argv) {
    qk_tool_init("qk-bench");
    int def_threads = qk_bench_default_threads();
    qk_bench_params p;
    memset(&p, 0, sizeof p);
    p.reps = 5;
    qk_bench_format fmt_out = QK_BENCH_FMT_MD, fmt_err = QK_BENCH_FMT_NONE;
    const char *out_files[MAX_OUT_FILES];
    int n_out_files = 0;
    bool progress = false, membw_mode = false, roofline = true, profile = false;
    size_t membw_bytes = qk_membw_default_bytes();
    int membw_passes = 5;
    double membw_gbs = 0;
    qk_err err;
    char msg[1024];
    /* everything freed at `done`, so every error path below can jump there */
    int status = 0;
    qk_bench_test *tests = NULL;
    int n_tests = 0;
    double *test_gbs = NULL;
    qk_bench_roofline_row *rl_rows = NULL;
    qk_sb sb_out = {0}, sb_err = {0}, sb_files[MAX_OUT_FILES];
    int n_sb_files = 0;
#define FAIL(expr)        \
    do {                  \
        status = (expr);  \
        goto done;        \
    } while (0)

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout, def_threads);
            goto done;
        }
        if (!strcmp(a, "--progress")) {
            progress = true;
            continue;
        }
        if (!strcmp(a, "--membw")) {
            membw_mode = true;
            continue;
        }
        if (!strcmp(a, "--no-roofline")) {
            roofline = false;
            continue;
        }
        if (!strcmp(a, "--profile")) {
            profile = true;
            continue;
        }
        if (i + 1 >= argc) {
            snprintf(msg, sizeof msg, "unknown option or missing value: '%s'", a);
            FAIL(die(msg, "see qk-bench --help"));
        }
        char *v = argv[++i];
        int rc = 0;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (add_models(&p, v) != 0) FAIL(die("out of memory", NULL));
        } else if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) {
            rc = qk_int_list_parse(&p.n_prompt, v, 0, &err);
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen")) {
            rc = qk_int_list_parse(&p.n_gen, v, 0, &err);
        } else if (!strcmp(a, "-pg")) {
            qk_int_list pair = {0};
            rc = qk_int_list_parse(&pair, v, 0, &err);
            if (rc == 0 && pair.n != 2) rc = qk_errf(&err, "-pg takes one pair 'PP,TG', got '%s'", v);
            for (int k = 0; rc == 0 && k < 2; k++) rc = qk_int_list_push(&p.pg, pair.v[k], &err);
            qk_int_list_free(&pair);
        } else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) {
            rc = qk_int_list_parse(&p.n_batch, v, 1, &err);
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            rc = qk_int_list_parse(&p.n_threads, v, 1, &err);
        } else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) {
            char *end;
            long r = strtol(v, &end, 10);
            if (*v == 0 || *end || r < 1 || r > 1000000)
                rc = qk_errf(&err, "-r wants an integer >= 1, got '%s'", v);
            else p.reps = (int)r;
        } else if (!strcmp(a, "--membw-mib") || !strcmp(a, "--membw-passes")) {
            char *end;
            long r = strtol(v, &end, 10);
            bool mib = !strcmp(a, "--membw-mib");
            if (*v == 0 || *end || r < 1 || r > (mib ? 1048576 : 1000))
                rc = qk_errf(&err, "%s wants an integer in [1, %d], got '%s'", a,
                             mib ? 1048576 : 1000, v);
            else if (mib) membw_bytes = (size_t)r * MIB;
            else membw_passes = (int)r;
        } else if (!strcmp(a, "--membw-gbs")) {
            char *end;
            double x = strtod(v, &end);
            if (*v == 0 || *end || !(x > 0) || !isfinite(x))
                rc = qk_errf(&err, "--membw-gbs wants a bandwidth > 0 in GB/s, got '%s'", v);
            else membw_gbs = x;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (qk_bench_format_parse(v, &fmt_out) != 0)
                rc = qk_errf(&err, "unknown output format '%s' (csv, json, md, none)", v);
        } else if (!strcmp(a, "-oe") || !strcmp(a, "--output-err")) {
            if (qk_bench_format_parse(v, &fmt_err) != 0)
                rc = qk_errf(&err, "unknown output format '%s' (csv, json, md, none)", v);
        } else if (!strcmp(a, "--output-file")) {
            if (qk_bench_format_from_path(v) == QK_BENCH_FMT_NONE)
                rc = qk_errf(&err, "cannot tell the format of '%s' (use .csv, .json or .md)", v);
            else if (n_out_files == MAX_OUT_FILES)
                rc = qk_errf(&err, "at most %d --output-file options", MAX_OUT_FILES);
            else out_files[n_out_files++] = v;
        } else {
            snprintf(msg, sizeof msg, "unknown option '%s'", a);
            FAIL(die(msg, "see qk-bench --help"));
        }
        if (rc != 0) {
            snprintf(msg, sizeof msg, "%s: %s", a, err.msg);
            FAIL(die(msg, "see qk-bench --help"));
        }
    }
    if (membw_mode && p.n_models > 0)
        FAIL(die("--membw measures the memory only and takes no -m",
                 "run qk-bench -m MODEL separately (it measures the bandwidth itself)"));
    if (!membw_mode && p.n_models == 0)
        FAIL(die("no model given", "pass -m MODEL.gguf (or --membw for the bandwidth probe)"));
    if (p.n_prompt.n == 0) qk_int_list_push(&p.n_prompt, 512, NULL);
    if (p.n_gen.n == 0) qk_int_list_push(&p.n_gen, 128, NULL);
    if (p.n_batch.n == 0) qk_int_list_push(&p.n_batch, 2048, NULL);
    if (p.n_threads.n == 0) qk_int_list_push(&p.n_threads, def_threads, NULL);

    /* Fail before printing anything when a model cannot be loaded (the weights are
     * mapped, not read, so this costs little) or an output file cannot be written. */
    for (int i = 0; i < p.n_models && !membw_mode; i++) {
        qk_model *m = qk_model_load(p.models[i], &err);
        if (!m) {
            snprintf(msg, sizeof msg, "cannot load model '%s': %s", p.models[i], err.msg);
            FAIL(die(msg, "check the path and that it is a GGUF model qkit supports"));
        }
        qk_model_free(m);
    }
    for (int k = 0; k < n_out_files; k++) {
        char dir[4096];
        const char *slash = strrchr(out_files[k], '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - out_files[k]) + 1 : 1,
                 slash ? out_files[k] : ".");
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0) {
            const bool missing = stat(dir, &st) != 0;
            snprintf(msg, sizeof msg, "cannot write '%.400s': directory '%.400s' %s", out_files[k], dir,
                     missing ? "does not exist" : "is not a writable directory");
            FAIL(die(msg, "create it or choose another --output-file"));
        }
    }

    if (membw_mode) {
        status = run_membw_mode(&p.n_threads, membw_bytes, membw_passes, progress, fmt_out, fmt_err,
                                out_files, n_out_files);
        goto done;
    }

    if (qk_bench_expand(&p, &tests, &n_tests, &err) != 0) FAIL(die(err.msg, "check -p/-n/-pg"));

    /* The roofline shows only in md and json: skip the probe when nothing prints it. */
    bool shows_roofline = fmt_out == QK_BENCH_FMT_MD || fmt_out == QK_BENCH_FMT_JSON ||
                          fmt_err == QK_BENCH_FMT_MD || fmt_err == QK_BENCH_FMT_JSON;
    for (int k = 0; k < n_out_files; k++) {
        qk_bench_format f = qk_bench_format_from_path(out_files[k]);
        shows_roofline |= f == QK_BENCH_FMT_MD || f == QK_BENCH_FMT_JSON;
    }
    test_gbs = calloc((size_t)n_tests, sizeof *test_gbs);
    rl_rows = calloc((size_t)n_tests, sizeof *rl_rows);
    int n_rl_rows = 0;
    if (!test_gbs || !rl_rows) FAIL(die("out of memory", NULL));
    if (roofline && shows_roofline &&
        roofline_bandwidth(tests, n_tests, membw_gbs, membw_bytes, membw_passes, progress,
                           test_gbs) != 0)
        FAIL(1);

    char cpu_info[256];
    qk_bench_cpu_info(cpu_info, sizeof cpu_info);
    qk_bench_env env = {qk_bench_build_commit(), 0, cpu_info,
                        p.n_batch.n > 1 || p.n_batch.v[0] != 2048};

    /* One buffer per destination: stdout, stderr, each output file. */
    qk_bench_format f_files[MAX_OUT_FILES];
    size_t printed_out = 0, printed_err = 0;
    for (int k = 0; k < n_out_files; k++, n_sb_files++) {
        memset(&sb_files[k], 0, sizeof sb_files[k]);
        f_files[k] = qk_bench_format_from_path(out_files[k]);
        qk_bench_print_header(&sb_files[k], f_files[k], &env);
    }
    qk_bench_print_header(&sb_out, fmt_out, &env);
    qk_bench_print_header(&sb_err, fmt_err, &env);
    flush_new(stdout, &sb_out, &printed_out);
    flush_new(stderr, &sb_err, &printed_err);

    qk_model *model = NULL;
    int model_index = -1;
    progress_ctx pc = {progress, 0, n_tests};
    for (int i = 0; i < n_tests; i++) {
        const qk_bench_test *t = &tests[i];
        if (t->model_index != model_index) {
            qk_model_free(model);
            model = NULL;
            if (progress) fprintf(stderr, "qk-bench: loading %s\n", t->model);
            model = qk_model_load(t->model, &err);
            if (!model) {
                snprintf(msg, sizeof msg, "cannot load model '%s': %s", t->model, err.msg);
                status = die(msg, "check the path and that it is a GGUF model qkit supports");
                break;
            }
            model_index = t->model_index;
        }
        pc.index = i;
        qk_bench_result r;
        if (qk_bench_run_test(model, t, p.reps, profile, on_progress, &pc, &r, &err) != 0) {
            snprintf(msg, sizeof msg, "%s: %s", t->model, err.msg);
            status = die(msg, "try fewer tokens (-p/-n) or threads");
            break;
        }
        if (test_gbs[i] > 0) {
            qk_bench_summary su = qk_bench_summarize(r.samples_ns, r.n_samples, t->n_gen);
            double wb = (double)qk_roofline_weight_bytes(model);
            double kb = qk_roofline_kv_bytes_model(model, 0, t->n_gen);
            if (qk_roofline_compute(wb, kb, test_gbs[i], su.avg_ts, &r.roofline, &err) == 0) {
                r.has_roofline = true;
                qk_bench_roofline_row_from(&rl_rows[n_rl_rows++], &r);
            }
        }
        if (profile) print_profile(&r);
        qk_bench_print_test(&sb_out, fmt_out, &env, &r, i);
        qk_bench_print_test(&sb_err, fmt_err, &env, &r, i);
        for (int k = 0; k < n_out_files; k++) qk_bench_print_test(&sb_files[k], f_files[k], &env, &r, i);
        flush_new(stdout, &sb_out, &printed_out);
        flush_new(stderr, &sb_err, &printed_err);
        qk_bench_result_free(&r);
    }
    qk_model_free(model);

    if (status == 0) {
        qk_bench_print_footer(&sb_out, fmt_out, &env, n_tests);
        qk_bench_print_footer(&sb_err, fmt_err, &env, n_tests);
        qk_bench_print_roofline(&sb_out, fmt_out, rl_rows, n_rl_rows);
        qk_bench_print_roofline(&sb_err, fmt_err, rl_rows, n_rl_rows);
        flush_new(stdout, &sb_out, &printed_out);
        flush_new(stderr, &sb_err, &printed_err);
        for (int k = 0; k < n_out_files && status == 0; k++) {
            qk_bench_print_footer(&sb_files[k], f_files[k], &env, n_tests);
            qk_bench_print_roofline(&sb_files[k], f_files[k], rl_rows, n_rl_rows);
            if (!qk_sb_ok(&sb_files[k])) {
                status = die("out of memory while formatting results", NULL);
            } else if (qk_afile_write_all(out_files[k], sb_files[k].buf, sb_files[k].len, &err) != 0) {
                status = die(err.msg, "check that the directory exists and is writable");
            }
        }
        if (status == 0 && (!qk_sb_ok(&sb_out) || !qk_sb_ok(&sb_err)))
            status = die("out of memory while formatting results", NULL);
    }
done:
    for (int k = 0; k < n_sb_files; k++) qk_sb_free(&sb_files[k]);
    qk_sb_free(&sb_out);
    qk_sb_free(&sb_err);
    free(tests);
    free(test_gbs);
    free(rl_rows);
    params_free(&p);
    if (fflush(stdout) != 0 && status == 0) status = die("cannot write to stdout", NULL);
    return status;
#undef FAIL
}
