/*
 * qk-study — the whole quantization case study in one command, by running the sibling
 * tools (found next to this executable through /proc/self/exe):
 *
 *   1. qk-quantize BASE OUTDIR/models/<stem>-<TYPE>.gguf TYPE [threads]     for each type
 *   2. qk-perplexity -m BASE -f TEXT ... --kl-divergence-base OUTDIR/base.logits
 *        --json OUTDIR/ppl/<BASE_LABEL>.json        (also writes the exact-NLL sidecar)
 *   3. qk-perplexity -m QUANT -f TEXT ... --kl-divergence-base OUTDIR/base.logits
 *        --kl-divergence --json OUTDIR/ppl/<TYPE>.json                       for each type
 *   4. qk-bench -m MODEL -p P -n N -r R [-t T] --output-file OUTDIR/bench/<LABEL>.json
 *        --output-file OUTDIR/bench/<LABEL>.csv                          for every model;
 *      then OUTDIR/bench.csv = all of them in one llama-bench CSV
 *   5. qk-report -d OUTDIR                 -> results.csv, results.md, tg.png, quality.png
 *
 * Each step's stdout and stderr go to OUTDIR/logs/<step>.log (its first line is the
 * command). Progress lines with elapsed times go to stderr; a failed step stops the study
 * with one error line naming the step, its last log line and the log file. --resume skips
 * steps whose output files already exist.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "fileio.h"
#include "report_proc.h"
#include "tool.h"

#define MAX_TYPES 16
#define MAX_ARGS 40

static void usage(FILE *f) {
    fprintf(f,
        "usage: qk-study -m BASE.gguf -f TEXT -o OUTDIR [options]\n"
        "\n"
        "Runs the case study: quantize BASE to each type, perplexity and KL divergence of every\n"
        "model against BASE on TEXT, speed of every model, then the report (results.md/.csv,\n"
        "tg.png, quality.png) in OUTDIR. Uses qk-quantize, qk-perplexity, qk-bench and qk-report\n"
        "from the directory of this executable. Logs: OUTDIR/logs/.\n"
        "\n"
        "  -m, --model FILE     16-bit (or F32) base model (required)\n"
        "  -f, --file TEXT      evaluation text, e.g. wiki.test.raw (required)\n"
        "  -o, --output OUTDIR  output directory, created if needed (required)\n"
        "  --types LIST         llama.cpp ftype names (default: Q2_K,Q4_K_M,Q6_K)\n"
        "  -c, --ctx-size N     perplexity context per chunk (default: 512)\n"
        "  --chunks N           perplexity chunks (default: all of TEXT)\n"
        "  -t, --threads N      threads for every tool (default: each tool's default)\n"
        "  -r, --repetitions N  qk-bench repetitions (default: 5)\n"
        "  -p, --n-prompt N     qk-bench prompt test size (default: 512)\n"
        "  -n, --n-gen N        qk-bench generation test size (default: 128)\n"
        "  --base-label L       label of the base model (default: from its file name:\n"
        "                       F16, BF16 or F32, else \"base\")\n"
        "  --note TEXT          a paragraph for results.md (e.g. why this model was used)\n"
        "  --resume             skip steps whose outputs already exist\n"
        "  --no-plots           do not run gnuplot (the .gp scripts are still written)\n"
        "  -h, --help           show this help\n");
}

static int die(const char *what, const char *todo) {
    if (todo) fprintf(stderr, "qk-study: error: %s — %s\n", what, todo);
    else fprintf(stderr, "qk-study: error: %s\n", what);
    return 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fmt_elapsed(double s, char *buf, size_t cap) {
    if (s < 60) snprintf(buf, cap, "%.1f s", s);
    else if (s < 3600) snprintf(buf, cap, "%d:%02d min", (int)s / 60, (int)s % 60);
    else snprintf(buf, cap, "%d:%02d:%02d h", (int)s / 3600, ((int)s / 60) % 60, (int)s % 60);
}

/* Labels become file names: letters, digits, '_', '-', '.' only. */
static bool label_ok(const char *s) {
    if (!*s || *s == '.') return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

/* F16 / BF16 / F32 from a file name, else "base". */
static void guess_base_label(const char *path, char *out, size_t cap) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    char low[512];
    size_t n = 0;
    for (; b[n] && n + 1 < sizeof low; n++)
        low[n] = (char)(b[n] >= 'A' && b[n] <= 'Z' ? b[n] + 32 : b[n]);
    low[n] = 0;
    if (strstr(low, "bf16")) snprintf(out, cap, "BF16");
    else if (strstr(low, "f16")) snprintf(out, cap, "F16"); /* also "fp16" */
    else if (strstr(low, "f32")) snprintf(out, cap, "F32");
    else snprintf(out, cap, "base");
}

/* File stem without a trailing -f16/-fp16/-bf16/-f32 (any case). */
static void model_stem(const char *path, char *out, size_t cap) {
    const char *b = strrchr(path, '/');
    snprintf(out, cap, "%s", b ? b + 1 : path);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
    static const char *const suffixes[] = {"-f16", "-fp16", "-bf16", "-f32", "_f16", "_fp16",
                                           "_bf16", "_f32", ".f16", ".fp16", ".bf16", ".f32"};
    size_t n = strlen(out);
    for (size_t k = 0; k < sizeof suffixes / sizeof *suffixes; k++) {
        size_t sl = strlen(suffixes[k]);
        if (n > sl && !strcasecmp(out + n - sl, suffixes[k])) {
            out[n - sl] = 0;
            break;
        }
    }
}

/* Why an input path is not a regular file: "not found" or "is not a regular file". */
static const char *input_problem(const char *path) {
    struct stat st;
    return stat(path, &st) != 0 ? "not found" : "is not a regular file";
}

/* True when the file holds a character other than whitespace (checked before the long
 * quantize steps, so that an empty text fails at once, not at the perplexity step). */
static bool has_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return true; /* unreadable: qk-perplexity reports why */
    int c;
    while ((c = getc(f)) != EOF && (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')) {
    }
    fclose(f);
    return c != EOF;
}

typedef struct study {
    char bindir[4096];
    const char *outdir;
    int step, n_steps;
    double t_start;
    bool resume;
} study;

/* Run one step: argv (argv[0] = tool name, resolved in bindir), log file logs/<log>.log.
 * `output` (may be NULL) is the step's main output for --resume. */
static int run_step(study *s, const char *title, const char *log, const char *output,
                    char **argv) {
    s->step++;
    char logpath[4400], tool[8200], el[32], tot[32];
    snprintf(logpath, sizeof logpath, "%s/logs/%s.log", s->outdir, log);
    if (s->resume && output && qk_file_exists(output)) {
        fprintf(stderr, "qk-study: [%d/%d] %s: skipped (%s exists)\n", s->step, s->n_steps, title,
                output);
        return 0;
    }
    snprintf(tool, sizeof tool, "%s/%s", s->bindir, argv[0]);
    char *saved = argv[0];
    argv[0] = tool;
    /* the log starts with the command */
    qk_sb cmd = {0};
    qk_sb_puts(&cmd, "$");
    for (int i = 0; argv[i]; i++) qk_sb_printf(&cmd, " %s", argv[i]);
    qk_sb_puts(&cmd, "\n");
    qk_err err;
    int rc = qk_afile_write_all(logpath, qk_sb_str(&cmd), cmd.len, &err);
    qk_sb_free(&cmd);
    if (rc != 0) {
        argv[0] = saved;
        return die(err.msg, "check that OUTDIR is writable");
    }
    fprintf(stderr, "qk-study: [%d/%d] %s ...\n", s->step, s->n_steps, title);
    double t0 = now_s();
    int st = qk_proc_run(argv, NULL, logpath, &err);
    argv[0] = saved;
    double t1 = now_s();
    fmt_elapsed(t1 - t0, el, sizeof el);
    fmt_elapsed(t1 - s->t_start, tot, sizeof tot);
    if (st == 0) {
        fprintf(stderr, "qk-study: [%d/%d] %s: done in %s (total %s)\n", s->step, s->n_steps,
                title, el, tot);
        return 0;
    }
    /* last non-empty line of the log, usually the tool's own error line */
    char last[400] = "";
    char *text = qk_file_read(logpath, NULL, NULL);
    if (text) {
        size_t n = strlen(text);
        while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r')) text[--n] = 0;
        char *p = strrchr(text, '\n');
        snprintf(last, sizeof last, "%s", p ? p + 1 : text);
        free(text);
    }
    char msg[2048];
    if (st < 0)
        snprintf(msg, sizeof msg, "step %d/%d '%s' failed after %s: %s", s->step, s->n_steps, title,
                 el, err.msg);
    else
        snprintf(msg, sizeof msg, "step %d/%d '%s' failed after %s (exit %d): %s", s->step,
                 s->n_steps, title, el, st, last);
    char todo[4500];
    snprintf(todo, sizeof todo, "see %s", logpath);
    return die(msg, todo);
}

/* av = qk-perplexity -m MODEL <common arguments> [--kl-divergence] --json JSON, NULL-ended
 * (steps 2 and 3). */
static void ppl_argv(char **av, const char *model, char *const *common, int n_common, bool kld, char *json) {
    int n = 0;
    av[n++] = "qk-perplexity";
    av[n++] = "-m";
    av[n++] = (char *)model;
    for (int i = 0; i < n_common; i++) av[n++] = common[i];
    if (kld) av[n++] = "--kl-divergence";
    av[n++] = "--json";
    av[n++] = json;
    av[n] = NULL;
}

/* OUTDIR/bench.csv: the per-model CSVs under one header. */
static int merge_bench_csv(const char *outdir, char labels[][128], int n, qk_err *err) {
    qk_sb sb = {0};
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/bench/%s.csv", outdir, labels[i]);
        char *text = qk_file_read(path, NULL, err);
        if (!text) {
            qk_sb_free(&sb);
            return -1;
        }
        const char *body = text;
        if (i > 0) {
            const char *nl = strchr(text, '\n');
            body = nl ? nl + 1 : "";
        }
        qk_sb_puts(&sb, body);
        free(text);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/bench.csv", outdir);
    int rc = qk_sb_ok(&sb) ? qk_afile_write_all(path, qk_sb_str(&sb), sb.len, err)
                           : qk_errf(err, "out of memory");
    qk_sb_free(&sb);
    return rc;
}

int main(int argc, char **argv) {
    qk_tool_init("qk-study");
    const char *model = NULL, *text = NULL, *outdir = NULL, *types_arg = "Q2_K,Q4_K_M,Q6_K";
    const char *note = NULL;
    const char *ctx = "512", *chunks = NULL, *threads = NULL, *reps = "5", *n_prompt = "512",
               *n_gen = "128";
    char base_label[128] = "";
    bool resume = false, plots = true;
    char msg[4400];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        if (!strcmp(a, "--resume")) { resume = true; continue; }
        if (!strcmp(a, "--no-plots")) { plots = false; continue; }
        if (i + 1 >= argc) {
            snprintf(msg, sizeof msg, "unknown option or missing value: '%s'", a);
            return die(msg, "see qk-study --help");
        }
        const char *v = argv[++i];
        bool numeric = false;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) text = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) outdir = v;
        else if (!strcmp(a, "--types")) types_arg = v;
        else if (!strcmp(a, "--base-label")) snprintf(base_label, sizeof base_label, "%s", v);
        else if (!strcmp(a, "--note")) note = v;
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) { ctx = v; numeric = true; }
        else if (!strcmp(a, "--chunks")) { chunks = v; numeric = true; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { threads = v; numeric = true; }
        else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) { reps = v; numeric = true; }
        else if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) { n_prompt = v; numeric = true; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen")) { n_gen = v; numeric = true; }
        else {
            snprintf(msg, sizeof msg, "unknown option '%s'", a);
            return die(msg, "see qk-study --help");
        }
        if (numeric) {
            char *end;
            long x = strtol(v, &end, 10);
            if (!*v || *end || x < 1) {
                snprintf(msg, sizeof msg, "%s wants a positive integer, got '%s'", a, v);
                return die(msg, NULL);
            }
        }
    }
    if (!model || !text || !outdir)
        return die("-m BASE.gguf, -f TEXT and -o OUTDIR are required", "see qk-study --help");
    if (!qk_file_exists(model)) {
        snprintf(msg, sizeof msg, "base model '%s' %s", model, input_problem(model));
        return die(msg, "datasets/fetch.sh DEST downloads Qwen2.5-0.5B-Instruct F16");
    }
    if (!qk_file_exists(text) || !has_text(text)) {
        snprintf(msg, sizeof msg, "text '%s' %s", text,
                 qk_file_exists(text) ? "is empty or only whitespace" : input_problem(text));
        return die(msg, "datasets/fetch.sh DEST fetches wiki.test.raw");
    }

    /* types */
    char types_buf[1024];
    char *types[MAX_TYPES];
    int n_types = 0;
    snprintf(types_buf, sizeof types_buf, "%s", types_arg);
    for (char *t = strtok(types_buf, ","); t; t = strtok(NULL, ",")) {
        if (n_types == MAX_TYPES) return die("too many --types", "at most 16");
        if (!label_ok(t)) {
            snprintf(msg, sizeof msg, "bad type name '%s' in --types", t);
            return die(msg, "use llama.cpp ftype names such as Q4_K_M");
        }
        types[n_types++] = t;
    }
    if (n_types == 0) return die("--types is empty", "e.g. --types Q2_K,Q4_K_M,Q6_K");
    if (!base_label[0]) guess_base_label(model, base_label, sizeof base_label);
    if (!label_ok(base_label)) return die("bad --base-label", "letters, digits, '_', '-', '.'");
    for (int k = 0; k < n_types; k++)
        if (!strcmp(types[k], base_label)) {
            snprintf(msg, sizeof msg, "type '%s' is also the base label", types[k]);
            return die(msg, "pass --base-label with another name");
        }

    study s;
    memset(&s, 0, sizeof s);
    s.outdir = outdir;
    s.resume = resume;
    s.n_steps = n_types /* quantize */ + 1 /* base ppl */ + n_types /* kld */ +
                (n_types + 1) /* bench */ + 1 /* report */;
    s.t_start = now_s();
    qk_err err;
    if (qk_proc_self_dir(s.bindir, sizeof s.bindir, &err) != 0) return die(err.msg, NULL);
    static const char *const tools[] = {"qk-quantize", "qk-perplexity", "qk-bench", "qk-report"};
    for (size_t k = 0; k < 4; k++) {
        char p[4200], found[4200];
        snprintf(p, sizeof p, "%s/%s", s.bindir, tools[k]);
        if (!qk_proc_find_in_path(p, found, sizeof found)) {
            snprintf(msg, sizeof msg, "%s not found next to qk-study (%s)", tools[k], s.bindir);
            return die(msg, "build all tools (cmake --build BUILD)");
        }
    }
    static const char *const subdirs[] = {"", "/models", "/ppl", "/bench", "/logs"};
    for (size_t k = 0; k < 5; k++) {
        char d[4200];
        snprintf(d, sizeof d, "%s%s", outdir, subdirs[k]);
        if (qk_file_mkdir_p(d, &err) != 0) return die(err.msg, "choose a writable OUTDIR");
    }

    char stem[512];
    model_stem(model, stem, sizeof stem);
    char qpath[MAX_TYPES][4200];
    for (int k = 0; k < n_types; k++)
        snprintf(qpath[k], sizeof qpath[k], "%s/models/%s-%s.gguf", outdir, stem, types[k]);
    char logits[4200], json[4200], title[256], logname[160];
    snprintf(logits, sizeof logits, "%s/base.logits", outdir);

    /* 1. quantize */
    for (int k = 0; k < n_types; k++) {
        char *av[MAX_ARGS] = {"qk-quantize", (char *)model, qpath[k], types[k], NULL};
        if (threads) av[4] = (char *)threads, av[5] = NULL;
        snprintf(title, sizeof title, "quantize %s", types[k]);
        snprintf(logname, sizeof logname, "quantize-%s", types[k]);
        if (run_step(&s, title, logname, qpath[k], av) != 0) return 1;
    }

    /* perplexity arguments shared by steps 2 and 3 */
    char *ppl_common[12];
    int n_common = 0;
    ppl_common[n_common++] = "-f";
    ppl_common[n_common++] = (char *)text;
    ppl_common[n_common++] = "-c";
    ppl_common[n_common++] = (char *)ctx;
    if (chunks) ppl_common[n_common++] = "--chunks", ppl_common[n_common++] = (char *)chunks;
    if (threads) ppl_common[n_common++] = "-t", ppl_common[n_common++] = (char *)threads;
    ppl_common[n_common++] = "--kl-divergence-base";
    ppl_common[n_common++] = logits;

    /* 2. base perplexity, writing base.logits and its exact-NLL sidecar */
    {
        char *av[MAX_ARGS];
        snprintf(json, sizeof json, "%s/ppl/%s.json", outdir, base_label);
        ppl_argv(av, model, ppl_common, n_common, false, json);
        snprintf(title, sizeof title, "perplexity %s (base logits)", base_label);
        snprintf(logname, sizeof logname, "ppl-%s", base_label);
        /* resume only when both the JSON and the logits exist */
        const char *out = qk_file_exists(logits) ? json : NULL;
        if (run_step(&s, title, logname, out, av) != 0) return 1;
    }

    /* 3. KLD of each quant against the base */
    for (int k = 0; k < n_types; k++) {
        char *av[MAX_ARGS];
        snprintf(json, sizeof json, "%s/ppl/%s.json", outdir, types[k]);
        ppl_argv(av, qpath[k], ppl_common, n_common, true, json);
        snprintf(title, sizeof title, "perplexity + KLD %s", types[k]);
        snprintf(logname, sizeof logname, "ppl-%s", types[k]);
        if (run_step(&s, title, logname, json, av) != 0) return 1;
    }

    /* 4. speed of every model */
    char labels[MAX_TYPES + 1][128];
    for (int k = 0; k <= n_types; k++) {
        const char *label = k == 0 ? base_label : types[k - 1];
        const char *mp = k == 0 ? model : qpath[k - 1];
        snprintf(labels[k], sizeof labels[k], "%s", label);
        char jpath[4200], cpath[4200];
        snprintf(jpath, sizeof jpath, "%s/bench/%s.json", outdir, label);
        snprintf(cpath, sizeof cpath, "%s/bench/%s.csv", outdir, label);
        char *av[MAX_ARGS];
        int n = 0;
        av[n++] = "qk-bench";
        av[n++] = "-m";
        av[n++] = (char *)mp;
        av[n++] = "-p";
        av[n++] = (char *)n_prompt;
        av[n++] = "-n";
        av[n++] = (char *)n_gen;
        av[n++] = "-r";
        av[n++] = (char *)reps;
        if (threads) av[n++] = "-t", av[n++] = (char *)threads;
        av[n++] = "-o";
        av[n++] = "md";
        av[n++] = "--progress";
        av[n++] = "--output-file";
        av[n++] = jpath;
        av[n++] = "--output-file";
        av[n++] = cpath;
        av[n] = NULL;
        snprintf(title, sizeof title, "bench %s", label);
        snprintf(logname, sizeof logname, "bench-%s", label);
        const char *out = qk_file_exists(cpath) ? jpath : NULL;
        if (run_step(&s, title, logname, out, av) != 0) return 1;
    }
    if (merge_bench_csv(outdir, labels, n_types + 1, &err) != 0)
        return die(err.msg, "check OUTDIR/bench/");

    /* 5. report */
    {
        char *av[MAX_ARGS];
        int n = 0;
        av[n++] = "qk-report";
        av[n++] = "-d";
        av[n++] = (char *)outdir;
        av[n++] = "--base";
        av[n++] = base_label;
        if (!plots) av[n++] = "--no-plots";
        if (note) {
            av[n++] = "--note";
            av[n++] = (char *)note;
        }
        av[n] = NULL;
        s.resume = false; /* the report is cheap: always rebuild it */
        if (run_step(&s, "report", "report", NULL, av) != 0) return 1;
    }
    char tot[32];
    fmt_elapsed(now_s() - s.t_start, tot, sizeof tot);
    fprintf(stderr, "qk-study: finished in %s — results in %s/results.md (table), results.csv, "
                    "tg.png, quality.png\n", tot, outdir);
    /* show the table */
    char md[4200];
    snprintf(md, sizeof md, "%s/results.md", outdir);
    char *table = qk_file_read(md, NULL, NULL);
    if (table) {
        fputs(table, stdout);
        free(table);
    }
    return 0;
}
