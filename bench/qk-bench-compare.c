/*
 * qk-bench-compare — qkit's qk-bench results next to llama-bench's: writes compare.md and
 * the pp/tg charts (gnuplot scripts and PNGs) into a directory. Used by bench/run-bench.sh.
 * Reading, pairing and the report are bench_compare.c; the charts bench_compare_plot.c;
 * this file is only the command line.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_compare.h"
#include "fileio.h"
#include "report_plot.h"
#include "tool.h"

#define MAX_FILES 32

static void usage(FILE *f) {
    fprintf(f,
        "usage: qk-bench-compare --ours FILE [--ref FILE ...] -o OUTDIR [options]\n"
        "\n"
        "Compare qk-bench results with llama-bench's, per model, test and thread count.\n"
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

static int die(const char *what, const char *todo) {
    if (todo && *todo) fprintf(stderr, "qk-bench-compare: error: %s — %s\n", what, todo);
    else fprintf(stderr, "qk-bench-compare: error: %s\n", what);
    return 1;
}

int main(int argc, char **argv) {
    qk_tool_init("qk-bench-compare");
    const char *ours_files[MAX_FILES], *ref_files[MAX_FILES];
    int n_ours = 0, n_ref = 0;
    const char *membw_file = NULL, *ref_membw_list = NULL, *out_dir = NULL, *ref_name = "llama.cpp", *note = NULL;
    bool plots = true;
    char msg[1024];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--no-plots")) {
            plots = false;
            continue;
        }
        if (i + 1 >= argc) {
            snprintf(msg, sizeof msg, "unknown option or missing value: '%s'", a);
            return die(msg, "see qk-bench-compare --help");
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--ours") || !strcmp(a, "--ref")) {
            bool ours = !strcmp(a, "--ours");
            int *n = ours ? &n_ours : &n_ref;
            if (*n == MAX_FILES) return die("too many input files", "merge them first");
            (ours ? ours_files : ref_files)[(*n)++] = v;
        } else if (!strcmp(a, "--membw")) {
            membw_file = v;
        } else if (!strcmp(a, "--ref-membw")) {
            ref_membw_list = v;
        } else if (!strcmp(a, "-o")) {
            out_dir = v;
        } else if (!strcmp(a, "--ref-name")) {
            ref_name = v;
        } else if (!strcmp(a, "--note")) {
            note = v;
        } else {
            snprintf(msg, sizeof msg, "unknown option '%s'", a);
            return die(msg, "see qk-bench-compare --help");
        }
    }
    if (n_ours == 0) return die("no qkit results given", "pass --ours bench.json");
    if (!out_dir) return die("no output directory given", "pass -o DIR");

    qk_err err;
    qk_bench_cmp_set ours = {0}, ref = {0};
    qk_bench_cmp_membw *membw = NULL, *ref_membw = NULL;
    int n_membw = 0, n_ref_membw = 0, status = 0;
    if (ref_membw_list && qk_bench_cmp_parse_membw_list(ref_membw_list, &ref_membw, &n_ref_membw, &err) != 0)
        status = die(err.msg, "see qk-bench-compare --help");
    for (int k = 0; k < n_ours && status == 0; k++)
        if (qk_bench_cmp_load(&ours, ours_files[k], &err) != 0)
            status = die(err.msg, "pass a qk-bench -o csv or -o json file");
    for (int k = 0; k < n_ref && status == 0; k++)
        if (qk_bench_cmp_load(&ref, ref_files[k], &err) != 0)
            status = die(err.msg, "pass a llama-bench -o csv or -o json file");
    if (status == 0 && membw_file && qk_bench_cmp_load_membw(membw_file, &membw, &n_membw, &err) != 0)
        status = die(err.msg, "pass a qk-bench --membw -o csv or -o json file");
    if (status == 0 && qk_file_mkdir_p(out_dir, &err) != 0)
        status = die(err.msg, "choose another -o directory");

    qk_sb md = {0};
    if (status == 0) {
        qk_bench_cmp_render_md(&md, &ours, &ref, membw, n_membw, ref_membw, n_ref_membw, ref_name, note);
        char path[4096];
        snprintf(path, sizeof path, "%s/compare.md", out_dir);
        if (!qk_sb_ok(&md)) status = die("out of memory", NULL);
        else if (qk_afile_write_all(path, md.buf, md.len, &err) != 0)
            status = die(err.msg, "check that the directory is writable");
        else fputs(qk_sb_str(&md), stdout);
    }
    if (status == 0 && plots) {
        char gp[4096];
        bool have_gp = qk_plot_find_gnuplot(gp, sizeof gp);
        const char *kinds[2] = {"pp", "tg"};
        for (int c = 0; c < 2 && status == 0; c++) {
            qk_sb sb = {0};
            if (qk_bench_cmp_render_gp(&sb, kinds[c], &ours, &ref, ref_name)) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s.gp", out_dir, kinds[c]);
                if (!qk_sb_ok(&sb)) status = die("out of memory", NULL);
                else if (qk_afile_write_all(path, sb.buf, sb.len, &err) != 0)
                    status = die(err.msg, "check that the directory is writable");
                else if (have_gp && qk_plot_run_gnuplot(gp, out_dir, kinds[c], &err) != 0)
                    status = die(err.msg, "fix the script or pass --no-plots");
            }
            qk_sb_free(&sb);
        }
        if (status == 0 && !have_gp)
            fprintf(stderr, "qk-bench-compare: gnuplot not found: wrote the .gp scripts, no PNG\n");
    }
    qk_sb_free(&md);
    free(membw);
    free(ref_membw);
    qk_bench_cmp_free(&ours);
    qk_bench_cmp_free(&ref);
    if (fflush(stdout) != 0 && status == 0) status = die("cannot write to stdout", NULL);
    return status;
}
