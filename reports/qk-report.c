/*
 * qk-report — the case study's results table (results.csv, results.md) and charts
 * (tg.png, quality.png with their .gp scripts) from qk-perplexity and qk-bench JSON files.
 * Inputs: report_data.c; table: report_table.c; charts: report_plot.c; --frontier (KLD vs
 * size, Pareto frontier): frontier_report.c; --sensitivity (per-tensor tables and heat
 * map of a qk-sensitivity JSON): sens_report.c. This file is the CLI.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fileio.h"
#include "frontier_report.h"
#include "sens_report.h"
#include "report_data.h"
#include "report_plot.h"
#include "report_table.h"
#include "tool.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: qk-report -d OUTDIR [options]\n"
        "       qk-report --ppl FILE.json ... [--bench FILE.json ...] -o OUTDIR [options]\n"
        "       qk-report --sensitivity FILE.json -o OUTDIR [--top N] [--no-plots]\n"
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
        "  --frontier           also frontier.md, frontier.csv, frontier.gp + .png: mean KLD vs\n"
        "                       size of every model, Pareto frontier marked (llama.cpp's mixtures,\n"
        "                       TYPE-imat with an imatrix, alloc-TYPE qkit's allocations)\n"
        "  --sensitivity FILE   also (alone: only) the per-tensor report of a qk-sensitivity JSON:\n"
        "                       sensitivity.md (the costliest tensors per type), sensitivity.csv\n"
        "                       (every tensor, ranked per type), sensitivity.gp + .png (heat map of\n"
        "                       layers x tensor kinds, one panel per type, log colour scale)\n"
        "  --top N              tensors per type in sensitivity.md (default: 10)\n"
        "  --no-plots           write the .gp scripts but do not run gnuplot\n"
        "  -q, --quiet          do not print the table\n"
        "  -h, --help           show this help\n");
}

/* One --ppl or --bench file, in command-line order (a bench record joins the row of a
 * perplexity file read before it, see report_data.h). */
typedef struct input {
    bool bench;
    const char *path;
} input;

typedef struct opts {
    const char *dir, *outdir, *base, *title, *note, *sensitivity;
    int32_t top;
    bool plots, quiet, frontier;
    input *inputs; /* argc entries (malloc'd); n_inputs used */
    int n_inputs;
} opts;

/* Long-only options. */
enum { OPT_PPL = 256, OPT_BENCH, OPT_BASE, OPT_TITLE, OPT_NOTE, OPT_NO_PLOTS, OPT_FRONTIER, OPT_SENSITIVITY, OPT_TOP };

static int read_options(int argc, char **argv, opts *o) {
    static const struct option LONG[] = {{"dir", required_argument, NULL, 'd'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"ppl", required_argument, NULL, OPT_PPL},
                                         {"bench", required_argument, NULL, OPT_BENCH},
                                         {"base", required_argument, NULL, OPT_BASE},
                                         {"title", required_argument, NULL, OPT_TITLE},
                                         {"note", required_argument, NULL, OPT_NOTE},
                                         {"no-plots", no_argument, NULL, OPT_NO_PLOTS},
                                         {"frontier", no_argument, NULL, OPT_FRONTIER},
                                         {"sensitivity", required_argument, NULL, OPT_SENSITIVITY},
                                         {"top", required_argument, NULL, OPT_TOP},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    int c;
    while ((c = qk_cli_next(argc, argv, ":d:o:qh", LONG)) != -1) {
        switch (c) {
        case 'd': o->dir = optarg; break;
        case 'o': o->outdir = optarg; break;
        case OPT_PPL:
        case OPT_BENCH: o->inputs[o->n_inputs++] = (input){c == OPT_BENCH, optarg}; break;
        case OPT_BASE: o->base = optarg; break;
        case OPT_TITLE: o->title = optarg; break;
        case OPT_NOTE: o->note = optarg; break;
        case OPT_NO_PLOTS: o->plots = false; break;
        case OPT_FRONTIER: o->frontier = true; break;
        case OPT_SENSITIVITY: o->sensitivity = optarg; break;
        case OPT_TOP: if (qk_cli_i32("--top", optarg, 1, 1000000, &o->top)) return QK_CLI_ERROR; break;
        case 'q': o->quiet = true; break;
        case 'h': usage(stdout); return QK_CLI_DONE;
        default: return QK_CLI_ERROR; /* qk_cli_next printed the error */
        }
    }
    if (optind < argc) return qk_cli_error("unexpected argument '%s' — run qk-report --help", argv[optind]);
    if (!o->dir && o->n_inputs == 0 && !o->sensitivity)
        return qk_cli_error("no input — pass -d OUTDIR, --ppl/--bench files with -o OUTDIR, or --sensitivity FILE");
    if (o->frontier && !o->dir && o->n_inputs == 0)
        return qk_cli_error("--frontier needs perplexity results — pass -d OUTDIR or --ppl files");
    if (!o->dir && !o->outdir) return qk_cli_error("no output directory — pass -o OUTDIR");
    if (!o->outdir) o->outdir = o->dir;
    return QK_CLI_RUN;
}

/* Fills o; o->inputs is freed unless the tool is to run. */
static int parse_args(int argc, char **argv, opts *o) {
    *o = (opts){.plots = true, .top = 10};
    if (!(o->inputs = calloc((size_t)argc, sizeof *o->inputs))) return qk_cli_error("out of memory");
    const int rc = read_options(argc, argv, o);
    if (rc != QK_CLI_RUN) {
        free(o->inputs);
        o->inputs = NULL;
    }
    return rc;
}

/* The --ppl/--bench files in their order, then -d's directory, then --base. Returns 0 or 1
 * (error printed). */
static int load_results(const opts *o, qk_report *rep) {
    qk_err err;
    for (int i = 0; i < o->n_inputs; i++) {
        const input *in = &o->inputs[i];
        if ((in->bench ? qk_report_add_bench : qk_report_add_ppl)(rep, in->path, &err) != 0)
            return qk_fail("%s — pass the JSON files qk-perplexity --json / qk-bench -o json wrote", err.msg);
    }
    if (o->dir && qk_report_load_dir(rep, o->dir, &err) != 0)
        return qk_fail("%s — run qk-study first, or pass --ppl/--bench files", err.msg);
    if (o->base && qk_report_set_base(rep, o->base, &err) != 0)
        return qk_fail("%s — --base takes a label shown in the table", err.msg);
    qk_report_finish(rep);
    return 0;
}

/* results.csv, results.md and the charts in o->outdir. Returns 0 or 1 (error printed). */
static int write_results(const opts *o, const qk_report *rep, qk_plot_result *pr) {
    char path[4096];
    qk_err err;
    snprintf(path, sizeof path, "%s/results.csv", o->outdir);
    if (qk_report_write_csv(rep, path, &err) != 0)
        return qk_fail("%s — check OUTDIR exists and is writable", err.msg);
    snprintf(path, sizeof path, "%s/results.md", o->outdir);
    if (qk_report_write_md(rep, path, o->title, o->note, &err) != 0)
        return qk_fail("%s — check OUTDIR exists and is writable", err.msg);
    if (qk_report_write_plots(rep, o->outdir, o->plots, pr, &err) != 0)
        return qk_fail("%s — see the .gp script next to it", err.msg);
    if (o->frontier && qk_frontier_write(rep, o->outdir, o->plots, &pr->frontier_png, &err) != 0)
        return qk_fail("%s%s", err.msg, qk_hint(err.msg, " — see frontier.gp"));
    return 0;
}

/* The table on stdout (unless -q), then what was written and what was not on stderr. */
static void print_summary(const opts *o, const qk_report *rep, const qk_plot_result *pr) {
    if (!o->quiet) {
        qk_sb sb = {0};
        qk_report_render_md(&sb, rep, o->title, o->note);
        fputs(qk_sb_str(&sb), stdout);
        qk_sb_free(&sb);
    }
    fprintf(stderr, "qk-report: wrote %s/results.csv, results.md", o->outdir);
    if (pr->tg_script) fprintf(stderr, ", tg.gp%s", pr->tg_png ? " + tg.png" : "");
    if (pr->quality_script) fprintf(stderr, ", quality.gp%s", pr->quality_png ? " + quality.png" : "");
    if (o->frontier) fprintf(stderr, ", frontier.md, frontier.csv, frontier.gp%s", pr->frontier_png ? " + frontier.png" : "");
    fprintf(stderr, "\n");
    if (o->plots && !pr->gnuplot_found && (pr->tg_script || pr->quality_script))
        fprintf(stderr, "qk-report: warning: gnuplot not found — charts not drawn "
                        "(install gnuplot-nox and run: gnuplot tg.gp)\n");
    if (!pr->tg_script) fprintf(stderr, "qk-report: note: no tgN results — no tg chart\n");
    if (!pr->quality_script) fprintf(stderr, "qk-report: note: no KLD results — no quality chart\n");
}

/* --sensitivity: read the file (before anything is written) and write its report after the
 * results. Returns 0 or 1 (error printed). */
static int sensitivity_report(const opts *o, qk_sensrep_data *sd) {
    qk_err err;
    bool png;
    if (qk_sensrep_write(sd, o->outdir, o->top, o->plots, &png, &err) != 0)
        return qk_fail("%s%s", err.msg, qk_hint(err.msg, " — check OUTDIR exists and is writable"));
    fprintf(stderr, "qk-report: wrote %s/sensitivity.md, sensitivity.csv%s%s\n", o->outdir,
            sd->n > 0 ? ", sensitivity.gp" : "", png ? " + sensitivity.png" : "");
    return 0;
}

int main(int argc, char **argv) {
    qk_tool_init("qk-report");
    opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0;

    qk_sensrep_data sd = {0};
    qk_err err;
    if (o.sensitivity && qk_sensrep_load(&sd, o.sensitivity, &err) != 0) {
        free(o.inputs);
        return qk_fail("%s%s", err.msg, qk_hint(err.msg, " — pass the JSON qk-sensitivity wrote"));
    }
    qk_report rep = {0};
    qk_plot_result pr = {0};
    if (o.dir || o.n_inputs > 0) { /* else --sensitivity alone */
        rc = load_results(&o, &rep);
        if (!rc) rc = write_results(&o, &rep, &pr);
        if (!rc) print_summary(&o, &rep, &pr);
    }
    if (!rc && o.sensitivity) rc = sensitivity_report(&o, &sd);
    qk_sensrep_free(&sd);
    qk_report_free(&rep);
    free(o.inputs);
    return rc;
}
