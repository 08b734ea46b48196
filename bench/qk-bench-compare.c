/*
 * qk-bench-compare — two modes:
 *   - BASE NEW: per test, NEW's speed over BASE's with a confidence interval and a verdict,
 *     and an optional gate (--fail-above) for CI (bench_regress.c, statistics
 *     bench_ab_stats.c);
 *   - --ours/--ref: qkit's qk-bench results next to llama-bench's: compare.md and the
 *     pp/tg charts (bench_compare.c, bench_compare_plot.c). Used by bench/run-bench.sh.
 * This file is only the command line.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_compare.h"
#include "bench_regress.h"
#include "cli.h"
#include "fileio.h"
#include "plot.h"
#include "paths.h"
#include "tool.h"

#define MAX_FILES 32

static void usage(FILE *f) {
    fprintf(f,
        "usage: qk-bench-compare [options] BASE NEW\n"
        "       qk-bench-compare [options] --base FILE [--base FILE ...] --new FILE [...]\n"
        "       qk-bench-compare --ours FILE [--ref FILE ...] -o OUTDIR [options]\n"
        "\n"
        "BASE NEW: is NEW faster or slower than BASE? Both are results of qk-bench or\n"
        "llama-bench (-o json, jsonl or csv). Per test (same model file name, test, depth,\n"
        "threads, batch sizes): the ratio NEW/BASE of the geometric mean rates, its\n"
        "confidence interval by Welch's t on the log rates of the repetitions (samples_ts),\n"
        "and a verdict: faster or slower when the whole interval lies above or below 1, else\n"
        "no significant change. Files without samples_ts (llama-bench CSV) use mean ± sd and\n"
        "--assume-reps repetitions. The markdown table goes to stdout (and OUTDIR/compare.md\n"
        "with -o). Exit status: 0, 1 on an error, 2 when --fail-above fails.\n"
        "\n"
        "BASE NEW options:\n"
        "  --confidence C    confidence level of the intervals, 0.5 to 0.9999 (default: 0.95)\n"
        "  --fail-above PCT  fail (exit 2) when a test is significantly slower AND its ratio\n"
        "                    is a slowdown of more than PCT %% (default: no gate)\n"
        "  --assume-reps N   repetitions behind a record without samples_ts (default: 5,\n"
        "                    llama-bench's -r default)\n"
        "  --plot            also write OUTDIR/ratios.gp (and ratios.png when gnuplot is\n"
        "                    found): the ratios with their intervals; needs -o\n"
        "  -o DIR            also write compare.md (and the chart) into DIR\n"
        "  --base FILE, --new FILE  the two sides, each repeatable: the runs of one test\n"
        "                    in a side's files are pooled (their samples_ts joined)\n"
        "  --per-run         pool per run: each file's record of a test counts as one\n"
        "                    sample, the geometric mean of its repetitions (the runs are\n"
        "                    the independent units; needs several runs per side)\n"
        "  --ci-json FILE    write NEW's paired tests as github-action-benchmark\n"
        "                    customBiggerIsBetter JSON, the ratio and verdict in \"extra\"\n"
        "\n"
        "--ours/--ref: compare qk-bench results with llama-bench's, per model, test and thread\n"
        "count.\n"
        "Writes OUTDIR/compare.md (also printed on stdout), OUTDIR/pp.gp and OUTDIR/tg.gp,\n"
        "and, when gnuplot is found ($QK_GNUPLOT, default gnuplot in $PATH), pp.png and\n"
        "tg.png. All files are written atomically.\n"
        "\n"
        "options:\n"
        "  --ours FILE       qk-bench results, -o csv or -o json (json carries the roofline);\n"
        "                    repeatable\n"
        "  --ref FILE        reference results (llama-bench -o csv/json); repeatable\n"
        "  --membw FILE      qk-bench --membw results (csv or json) for the bandwidth table\n"
        "  --ref-membw LIST  the reference machine's read bandwidth, THREADS:GBS[,...] (e.g.\n"
        "                    2:35): adds \"generation at equal bandwidth\", each tool's tg as a\n"
        "                    share of its own machine's roofline (needs --ours json)\n"
        "  -o DIR            output directory, created if missing (required)\n"
        "  --ref-name NAME   how the reference is called in the report (default: llama.cpp)\n"
        "  --note TEXT       a closing paragraph for compare.md (default: none)\n"
        "  --no-plots        write compare.md only\n"
        "  -h, --help        show this help\n"
        "\n"
        "Pairing: same n_prompt, n_gen and n_threads, and the same model file name (without\n"
        "directory; then ignoring case), else the same model_type and model_n_params.\n");
}

typedef struct opts {
    const char *ab[2][MAX_FILES]; /* BASE and NEW files (none: --ours/--ref mode) */
    int n_ab[2];
    const char *ci_json;          /* --ci-json */
    double confidence, fail_above; /* fail_above < 0: no gate */
    int32_t assume_reps;
    bool ab_plot, run_means;
    const char *ours_files[MAX_FILES], *ref_files[MAX_FILES];
    int n_ours, n_ref;
    const char *membw_file, *out_dir, *ref_name, *note;
    bool plots;
    qk_bench_cmp_membw *ref_membw; /* --ref-membw, parsed (malloc'd; NULL when not given) */
    int n_ref_membw;
} opts;

/* BASE NEW mode: no input may be one of the files written (-o, --ci-json). */
static int parse_ab(opts *o) {
    if (o->membw_file || o->note)
        return qk_cli_error("--membw, --ref-membw and --note belong to --ours/--ref — run qk-bench-compare --help");
    if (o->ab_plot && !o->out_dir) return qk_cli_error("--plot writes into the -o directory — pass -o DIR");
    char outs[3][4200];
    static const char *const names[3] = {"compare.md", "ratios.gp", "ratios.png"};
    const char *out_paths[4], *in_paths[2 * MAX_FILES];
    size_t n_out = 0, n_in = 0;
    for (int k = 0; o->out_dir && k < 3; k++) {
        snprintf(outs[k], sizeof outs[k], "%s/%s", o->out_dir, names[k]);
        out_paths[n_out++] = outs[k];
    }
    if (o->ci_json) out_paths[n_out++] = o->ci_json;
    for (int side = 0; side < 2; side++)
        for (int k = 0; k < o->n_ab[side]; k++) in_paths[n_in++] = o->ab[side][k];
    qk_err err;
    if (n_out > 0 && qk_paths_check(in_paths, n_in, out_paths, n_out, &err) != 0) return qk_cli_error("%s", err.msg);
    return QK_CLI_RUN;
}

static int parse_args(int argc, char **argv, opts *o) {
    enum {
        OPT_OURS = 256, OPT_REF, OPT_MEMBW, OPT_REF_MEMBW, OPT_REF_NAME, OPT_NOTE, OPT_NO_PLOTS, OPT_CONF,
        OPT_FAIL_ABOVE, OPT_ASSUME_REPS, OPT_PLOT, OPT_BASE, OPT_NEW, OPT_CI_JSON, OPT_PER_RUN
    };
    static const struct option LONG[] = {{"ours", required_argument, NULL, OPT_OURS},
                                         {"ref", required_argument, NULL, OPT_REF},
                                         {"membw", required_argument, NULL, OPT_MEMBW},
                                         {"ref-membw", required_argument, NULL, OPT_REF_MEMBW},
                                         {"ref-name", required_argument, NULL, OPT_REF_NAME},
                                         {"note", required_argument, NULL, OPT_NOTE},
                                         {"no-plots", no_argument, NULL, OPT_NO_PLOTS},
                                         {"confidence", required_argument, NULL, OPT_CONF},
                                         {"fail-above", required_argument, NULL, OPT_FAIL_ABOVE},
                                         {"assume-reps", required_argument, NULL, OPT_ASSUME_REPS},
                                         {"plot", no_argument, NULL, OPT_PLOT},
                                         {"base", required_argument, NULL, OPT_BASE},
                                         {"new", required_argument, NULL, OPT_NEW},
                                         {"ci-json", required_argument, NULL, OPT_CI_JSON},
                                         {"per-run", no_argument, NULL, OPT_PER_RUN},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    *o = (opts){.ref_name = "llama.cpp", .plots = true, .confidence = 0.95, .fail_above = -1, .assume_reps = 5};
    bool ab_opts = false;
    const char *ref_membw_list = NULL;
    int c;
    while ((c = qk_cli_next(argc, argv, ":o:h", LONG)) != -1) {
        switch (c) {
        case OPT_OURS:
        case OPT_REF: {
            int *n = c == OPT_OURS ? &o->n_ours : &o->n_ref;
            if (*n == MAX_FILES) return qk_cli_error("too many input files — merge them first");
            (c == OPT_OURS ? o->ours_files : o->ref_files)[(*n)++] = optarg;
            break;
        }
        case OPT_MEMBW: o->membw_file = optarg; break;
        case OPT_REF_MEMBW: ref_membw_list = optarg; break;
        case 'o': o->out_dir = optarg; break;
        case OPT_REF_NAME: o->ref_name = optarg; break;
        case OPT_NOTE: o->note = optarg; break;
        case OPT_NO_PLOTS: o->plots = false; break;
        case OPT_CONF:
            if (qk_cli_double("--confidence", optarg, 0.5, 0.9999, &o->confidence)) return QK_CLI_ERROR;
            ab_opts = true;
            break;
        case OPT_FAIL_ABOVE:
            if (qk_cli_double("--fail-above", optarg, 0, 100, &o->fail_above)) return QK_CLI_ERROR;
            ab_opts = true;
            break;
        case OPT_ASSUME_REPS:
            if (qk_cli_i32("--assume-reps", optarg, 2, 1000000, &o->assume_reps)) return QK_CLI_ERROR;
            ab_opts = true;
            break;
        case OPT_PLOT: o->ab_plot = ab_opts = true; break;
        case OPT_CI_JSON: o->ci_json = optarg; ab_opts = true; break;
        case OPT_PER_RUN: o->run_means = ab_opts = true; break;
        case OPT_BASE:
        case OPT_NEW: {
            const int side = c == OPT_NEW;
            if (o->n_ab[side] == MAX_FILES) return qk_cli_error("too many input files — merge them first");
            o->ab[side][o->n_ab[side]++] = optarg;
            break;
        }
        case 'h': usage(stdout); return QK_CLI_DONE;
        default: return QK_CLI_ERROR;
        }
    }
    const bool ab_flags = o->n_ab[0] > 0 || o->n_ab[1] > 0;
    if (optind < argc && (o->n_ours > 0 || o->n_ref > 0 || ab_flags || argc - optind != 2))
        return qk_cli_error("unexpected argument '%s' — pass BASE NEW, --base/--new or --ours/--ref (run "
                            "qk-bench-compare --help)", argv[optind]);
    if (ab_flags && (o->n_ab[0] == 0 || o->n_ab[1] == 0))
        return qk_cli_error("--base and --new go together — pass at least one of each");
    if (ab_flags && (o->n_ours > 0 || o->n_ref > 0))
        return qk_cli_error("--base/--new and --ours/--ref are two modes — pass one pair");
    if ((optind < argc || ab_flags) && ref_membw_list)
        return qk_cli_error("--ref-membw belongs to --ours/--ref — run qk-bench-compare --help");
    if (optind < argc) {
        o->ab[0][o->n_ab[0]++] = argv[optind];
        o->ab[1][o->n_ab[1]++] = argv[optind + 1];
    }
    if (o->n_ab[0] > 0) return parse_ab(o);
    if (ab_opts)
        return qk_cli_error("--confidence, --fail-above, --assume-reps, --plot, --per-run and --ci-json need BASE NEW "
                            "— run qk-bench-compare --help");
    if (o->n_ours == 0) return qk_cli_error("no qkit results given — pass --ours bench.json");
    if (!o->out_dir) return qk_cli_error("no output directory given — pass -o DIR");
    qk_err err;
    /* no input may be one of the files written into OUTDIR (by identity: paths.h) */
    char outs[5][4200];
    static const char *const names[5] = {"compare.md", "pp.gp", "tg.gp", "pp.png", "tg.png"};
    const char *out_paths[5], *in_paths[2 * MAX_FILES + 1];
    size_t n_in = 0;
    for (int k = 0; k < 5; k++) {
        snprintf(outs[k], sizeof outs[k], "%s/%s", o->out_dir, names[k]);
        out_paths[k] = outs[k];
    }
    for (int k = 0; k < o->n_ours; k++) in_paths[n_in++] = o->ours_files[k];
    for (int k = 0; k < o->n_ref; k++) in_paths[n_in++] = o->ref_files[k];
    if (o->membw_file) in_paths[n_in++] = o->membw_file;
    if (qk_paths_check(in_paths, n_in, out_paths, 5, &err) != 0) return qk_cli_error("%s", err.msg);
    if (ref_membw_list && qk_bench_cmp_parse_membw_list(ref_membw_list, &o->ref_membw, &o->n_ref_membw, &err) != 0)
        return qk_cli_error("%s — run qk-bench-compare --help", err.msg);
    return QK_CLI_RUN;
}

/* What the report is made from. */
typedef struct inputs {
    qk_bench_cmp_set ours, ref;
    qk_bench_cmp_membw *membw; /* --membw (malloc'd; NULL when not given) */
    int n_membw;
} inputs;

static void inputs_free(inputs *in) {
    qk_bench_cmp_free(&in->ours);
    qk_bench_cmp_free(&in->ref);
    free(in->membw);
}

/* Read every --ours, --ref and --membw file. Returns 0, or prints the error and returns 1. */
static int load_inputs(const opts *o, inputs *in) {
    qk_err err;
    for (int k = 0; k < o->n_ours; k++)
        if (qk_bench_cmp_load(&in->ours, o->ours_files[k], &err) != 0)
            return qk_fail("%s — pass a qk-bench -o csv or -o json file", err.msg);
    for (int k = 0; k < o->n_ref; k++)
        if (qk_bench_cmp_load(&in->ref, o->ref_files[k], &err) != 0)
            return qk_fail("%s — pass a llama-bench -o csv or -o json file", err.msg);
    if (o->membw_file && qk_bench_cmp_load_membw(o->membw_file, &in->membw, &in->n_membw, &err) != 0)
        return qk_fail("%s — pass a qk-bench --membw -o csv or -o json file", err.msg);
    return 0;
}

/* OUTDIR/compare.md, written atomically, then printed on stdout. */
static int write_report(const opts *o, const inputs *in) {
    qk_sb md = {0};
    qk_bench_cmp_render_md(&md, &in->ours, &in->ref, in->membw, in->n_membw, o->ref_membw, o->n_ref_membw,
                           o->ref_name, o->note);
    char path[4096];
    snprintf(path, sizeof path, "%s/compare.md", o->out_dir);
    qk_err err;
    int status = 0;
    if (!qk_sb_ok(&md)) status = qk_fail("out of memory");
    else if (qk_afile_write_all(path, md.buf, md.len, &err) != 0)
        status = qk_fail("%s — check that the directory is writable", err.msg);
    else fputs(qk_sb_str(&md), stdout);
    qk_sb_free(&md);
    return status;
}

/* OUTDIR/pp.gp and OUTDIR/tg.gp (each when there are such tests), and their PNGs when
 * gnuplot is found. */
static int write_plots(const opts *o, const inputs *in) {
    char gp[4096];
    const bool have_gp = qk_plot_find_gnuplot(gp, sizeof gp);
    const char *kinds[2] = {"pp", "tg"};
    qk_err err;
    int status = 0;
    for (int c = 0; c < 2 && status == 0; c++) {
        qk_sb sb = {0};
        if (qk_bench_cmp_render_gp(&sb, kinds[c], &in->ours, &in->ref, o->ref_name)) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s.gp", o->out_dir, kinds[c]);
            if (!qk_sb_ok(&sb)) status = qk_fail("out of memory");
            else if (qk_afile_write_all(path, sb.buf, sb.len, &err) != 0)
                status = qk_fail("%s — check that the directory is writable", err.msg);
            else if (have_gp && qk_plot_run_gnuplot(gp, o->out_dir, kinds[c], &err) != 0)
                status = qk_fail("%s — fix the script or pass --no-plots", err.msg);
        }
        qk_sb_free(&sb);
    }
    if (status == 0 && !have_gp) fprintf(stderr, "qk-bench-compare: gnuplot not found: wrote the .gp scripts, no PNG\n");
    return status;
}

/* BASE NEW: the report on stdout (and OUTDIR/compare.md, the chart with --plot); exit 2
 * when the gate fails. */
static int run_ab(const opts *o) {
    qk_bench_cmp_set s[2] = {{0}, {0}};
    qk_bench_regress reg = {0};
    qk_sb md = {0}, gp = {0};
    qk_err err;
    int status = 0;
    for (int side = 0; side < 2 && status == 0; side++) {
        for (int k = 0; k < o->n_ab[side] && status == 0; k++)
            if (qk_bench_cmp_load(&s[side], o->ab[side][k], &err) != 0)
                status = qk_fail("%s — pass a qk-bench or llama-bench -o json, jsonl or csv file", err.msg);
        if (status == 0 && qk_bench_regress_pool(&s[side], o->run_means, &err) != 0) status = qk_fail("%s", err.msg);
    }
    if (status == 0 && qk_bench_regress_compute(&s[0], &s[1], o->confidence, o->assume_reps, &reg, &err) != 0)
        status = qk_fail("%s — compare runs of the same tests", err.msg);
    reg.per_run = o->run_means;
    if (status == 0) {
        char names[2][4200];
        for (int side = 0; side < 2; side++)
            snprintf(names[side], sizeof names[side], "%s%s", o->ab[side][0], o->n_ab[side] > 1 ? " (and more, pooled)" : "");
        qk_bench_regress_render_md(&md, &s[0], &s[1], &reg, names[0], names[1], o->fail_above);
        if (!qk_sb_ok(&md)) status = qk_fail("out of memory");
    }
    if (status == 0 && o->out_dir) {
        char path[4200];
        snprintf(path, sizeof path, "%s/compare.md", o->out_dir);
        if (qk_file_mkdir_p(o->out_dir, &err) != 0) status = qk_fail("%s — choose another -o directory", err.msg);
        else if (qk_afile_write_all(path, md.buf, md.len, &err) != 0)
            status = qk_fail("%s — check that the directory is writable", err.msg);
    }
    if (status == 0 && o->ab_plot && qk_bench_regress_render_gp(&gp, "ratios", &s[1], &reg, o->fail_above)) {
        char path[4200], gnuplot[4096];
        snprintf(path, sizeof path, "%s/ratios.gp", o->out_dir);
        if (!qk_sb_ok(&gp)) status = qk_fail("out of memory");
        else if (qk_afile_write_all(path, gp.buf, gp.len, &err) != 0)
            status = qk_fail("%s — check that the directory is writable", err.msg);
        else if (!qk_plot_find_gnuplot(gnuplot, sizeof gnuplot))
            fprintf(stderr, "qk-bench-compare: gnuplot not found: wrote ratios.gp, no PNG\n");
        else if (qk_plot_run_gnuplot(gnuplot, o->out_dir, "ratios", &err) != 0)
            status = qk_fail("%s — fix the script or leave out --plot", err.msg);
    }
    if (status == 0 && o->ci_json) {
        qk_sb cj = {0};
        qk_bench_regress_render_cijson(&cj, &s[1], &reg);
        if (!qk_sb_ok(&cj)) status = qk_fail("out of memory");
        else if (qk_afile_write_all(o->ci_json, cj.buf, cj.len, &err) != 0)
            status = qk_fail("%s — check that the directory exists and is writable", err.msg);
        qk_sb_free(&cj);
    }
    if (status == 0) {
        fputs(qk_sb_str(&md), stdout);
        if (qk_bench_regress_failures(&reg, o->fail_above) > 0) status = 2;
    }
    qk_sb_free(&md);
    qk_sb_free(&gp);
    qk_bench_regress_free(&reg);
    qk_bench_cmp_free(&s[0]);
    qk_bench_cmp_free(&s[1]);
    return status;
}

int main(int argc, char **argv) {
    qk_tool_init("qk-bench-compare");
    opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0;
    if (o.n_ab[0] > 0) {
        int st = run_ab(&o);
        free(o.ref_membw);
        if (fflush(stdout) != 0 && st == 0) st = qk_fail("cannot write to stdout");
        return st;
    }

    inputs in = {0};
    qk_err err;
    int status = load_inputs(&o, &in);
    if (status == 0 && qk_file_mkdir_p(o.out_dir, &err) != 0)
        status = qk_fail("%s — choose another -o directory", err.msg);
    if (status == 0) status = write_report(&o, &in);
    if (status == 0 && o.plots) status = write_plots(&o, &in);
    inputs_free(&in);
    free(o.ref_membw);
    if (fflush(stdout) != 0 && status == 0) status = qk_fail("cannot write to stdout");
    return status;
}
