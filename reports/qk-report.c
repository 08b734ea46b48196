/*
 * qk-report — the case study's results table (results.csv, results.md) and charts
 * (tg.png, quality.png with their .gp scripts) from qk-perplexity and qk-bench JSON files.
 * Inputs: report_data.c; table: report_table.c; charts: report_plot.c. This file is the CLI.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_data.h"
#include "fileio.h"
#include "report_plot.h"
#include "report_table.h"
#include "tool.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: qk-report -d OUTDIR [options]\n"
        "       qk-report --ppl FILE.json ... [--bench FILE.json ...] -o OUTDIR [options]\n"
        "\n"
        "Builds the quantization case study's table and charts from qk-perplexity --json and\n"
        "qk-bench -o json results. With -d, reads OUTDIR/ppl/*.json and OUTDIR/bench/*.json\n"
        "(qk-study's layout) and writes into OUTDIR. A perplexity file's name (without .json)\n"
        "labels its model.\n"
        "\n"
        "Writes (atomically): results.csv, results.md, tg.gp + tg.png, quality.gp + quality.png\n"
        "(PNGs need gnuplot; $QK_GNUPLOT overrides its name). Prints results.md on stdout.\n"
        "\n"
        "  -d, --dir OUTDIR     read OUTDIR/ppl and OUTDIR/bench, write into OUTDIR\n"
        "  --ppl FILE           a qk-perplexity JSON file (repeatable)\n"
        "  --bench FILE         a qk-bench JSON file (repeatable)\n"
        "  -o, --output OUTDIR  where to write (required without -d; must exist)\n"
        "  --base LABEL         the base model's label (default: the only perplexity result\n"
        "                       without KLD figures)\n"
        "  --title TEXT         markdown title (default: \"Effect of quantization\")\n"
        "  --note TEXT          a paragraph under the title (e.g. why this model was used)\n"
        "  --no-plots           write the .gp scripts but do not run gnuplot\n"
        "  -q, --quiet          do not print the table\n"
        "  -h, --help           show this help\n");
}

static int die(const char *what, const char *todo) {
    if (todo) fprintf(stderr, "qk-report: error: %s — %s\n", what, todo);
    else fprintf(stderr, "qk-report: error: %s\n", what);
    return 1;
}

int main(int argc, char **argv) {
    qk_tool_init("qk-report");
    const char *dir = NULL, *outdir = NULL, *base = NULL, *title = NULL, *note = NULL;
    bool plots = true, quiet = false;
    qk_report rep = {0};
    qk_err err;
    char msg[1024];
    int n_inputs = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            qk_report_free(&rep);
            return 0;
        }
        if (!strcmp(a, "--no-plots")) { plots = false; continue; }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) { quiet = true; continue; }
        if (i + 1 >= argc) {
            snprintf(msg, sizeof msg, "unknown option or missing value: '%s'", a);
            qk_report_free(&rep);
            return die(msg, "see qk-report --help");
        }
        const char *v = argv[++i];
        int rc = 0;
        if (!strcmp(a, "-d") || !strcmp(a, "--dir")) dir = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) outdir = v;
        else if (!strcmp(a, "--base")) base = v;
        else if (!strcmp(a, "--title")) title = v;
        else if (!strcmp(a, "--note")) note = v;
        else if (!strcmp(a, "--ppl")) { rc = qk_report_add_ppl(&rep, v, &err); n_inputs++; }
        else if (!strcmp(a, "--bench")) { rc = qk_report_add_bench(&rep, v, &err); n_inputs++; }
        else {
            snprintf(msg, sizeof msg, "unknown option '%s'", a);
            qk_report_free(&rep);
            return die(msg, "see qk-report --help");
        }
        if (rc != 0) {
            qk_report_free(&rep);
            return die(err.msg, "pass the JSON files qk-perplexity --json / qk-bench -o json wrote");
        }
    }
    if (dir) {
        if (qk_report_load_dir(&rep, dir, &err) != 0) {
            qk_report_free(&rep);
            return die(err.msg, "run qk-study first, or pass --ppl/--bench files");
        }
        if (!outdir) outdir = dir;
    } else if (n_inputs == 0) {
        return die("no input", "pass -d OUTDIR or --ppl/--bench files with -o OUTDIR");
    }
    if (!outdir) {
        qk_report_free(&rep);
        return die("no output directory", "pass -o OUTDIR");
    }
    if (base && qk_report_set_base(&rep, base, &err) != 0) {
        qk_report_free(&rep);
        return die(err.msg, "--base takes a label shown in the table");
    }
    qk_report_finish(&rep);

    char path[4096];
    int status = 0;
    snprintf(path, sizeof path, "%s/results.csv", outdir);
    if (qk_report_write_csv(&rep, path, &err) != 0) status = die(err.msg, "check OUTDIR exists and is writable");
    snprintf(path, sizeof path, "%s/results.md", outdir);
    if (!status && qk_report_write_md(&rep, path, title, note, &err) != 0)
        status = die(err.msg, "check OUTDIR exists and is writable");
    qk_plot_result pr;
    if (!status && qk_report_write_plots(&rep, outdir, plots, &pr, &err) != 0)
        status = die(err.msg, "see the .gp script next to it");
    if (!status) {
        if (!quiet) {
            qk_sb sb = {0};
            qk_report_render_md(&sb, &rep, title, note);
            fputs(qk_sb_str(&sb), stdout);
            qk_sb_free(&sb);
        }
        fprintf(stderr, "qk-report: wrote %s/results.csv, results.md", outdir);
        if (pr.tg_script) fprintf(stderr, ", tg.gp%s", pr.tg_png ? " + tg.png" : "");
        if (pr.quality_script) fprintf(stderr, ", quality.gp%s", pr.quality_png ? " + quality.png" : "");
        fprintf(stderr, "\n");
        if (plots && !pr.gnuplot_found && (pr.tg_script || pr.quality_script))
            fprintf(stderr, "qk-report: warning: gnuplot not found — charts not drawn "
                            "(install gnuplot-nox and run: gnuplot tg.gp)\n");
        if (!pr.tg_script) fprintf(stderr, "qk-report: note: no tgN results — no tg chart\n");
        if (!pr.quality_script) fprintf(stderr, "qk-report: note: no KLD results — no quality chart\n");
    }
    qk_report_free(&rep);
    return status;
}
