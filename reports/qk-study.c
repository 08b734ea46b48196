/*
 * qk-study — the whole quantization case study in one command, by running the sibling
 * tools (found next to this executable through /proc/self/exe):
 *
 *   0. with --imatrix-text: qk-imatrix -m BASE -f CALIBRATION -o OUTDIR/imatrix.gguf
 *   1. qk-quantize BASE OUTDIR/models/<stem>-<TYPE>.gguf TYPE [threads]     for each type;
 *      with an imatrix also qk-quantize --imatrix IMATRIX BASE
 *      OUTDIR/models/<stem>-<TYPE>-imat.gguf TYPE [threads], labelled <TYPE>-imat
 *   2. qk-perplexity -m BASE -f TEXT ... --kl-divergence-base OUTDIR/base.logits
 *        --json OUTDIR/ppl/<BASE_LABEL>.json        (also writes the exact-NLL sidecar)
 *   3. qk-perplexity -m QUANT -f TEXT ... --kl-divergence-base OUTDIR/base.logits
 *        --kl-divergence --json OUTDIR/ppl/<LABEL>.json               for each quantized model
 *   4. qk-bench -m MODEL -p P -n N -r R [-t T] --output-file OUTDIR/bench/<LABEL>.json
 *        --output-file OUTDIR/bench/<LABEL>.csv                          for every model;
 *      then OUTDIR/bench.csv = all of them in one llama-bench CSV
 *   5. qk-report -d OUTDIR                 -> results.csv, results.md, tg.png, quality.png
 *
 * With --frontier (study_frontier.h): after step 1, qk-sensitivity once and one qk-quantize
 * --target-size per type (labels alloc-<TYPE>, with the imatrix when there is one:
 * alloc-<TYPE>-imat) at the tensor bytes of that type's mixture; those models are scored in
 * steps 2-3 like the others; step 4 (speed) is left out; the report adds --frontier
 * (frontier.md, frontier.csv, frontier.png: mean KLD vs size, Pareto frontier marked) and
 * --sensitivity (sensitivity.md, .csv, .png: the costliest tensors per type, heat map).
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

#include "cli.h"
#include "fileio.h"
#include "paths.h"
#include "proc.h"
#include "report_data.h" /* QK_REPORT_IMAT_SUFFIX: the -imat labels */
#include "frontier_report.h" /* QK_FRONTIER_ALLOC_PREFIX */
#include "study_frontier.h"
#include "study_run.h"
#include "tool.h"

#define MAX_TYPES 16
#define MAX_MODELS (1 + 3 * MAX_TYPES) /* the base, each type without and with an imatrix, allocations */
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
        "  --imatrix FILE       also quantize every type with this importance matrix (qk-imatrix\n"
        "                       or llama-imatrix output, GGUF or .dat): each type is reported\n"
        "                       twice, without and with it (labels TYPE and TYPE" QK_REPORT_IMAT_SUFFIX ")\n"
        "  --imatrix-text FILE  as --imatrix, computing it first with qk-imatrix on FILE into\n"
        "                       OUTDIR/imatrix.gguf; FILE must not be the evaluation text (e.g.\n"
        "                       ../shared/data/calibration/wiki.test.tail.raw)\n"
        "  --imatrix-chunks N   qk-imatrix chunks of -c tokens (default: 100)\n"
        "  --base-label L       label of the base model (default: from its file name:\n"
        "                       F16, BF16 or F32, else \"base\")\n"
        "  --note TEXT          a paragraph for results.md (e.g. why this model was used)\n"
        "  --frontier           quality vs size instead of speed: also quantize qkit's per-tensor\n"
        "                       allocation (qk-sensitivity, then qk-quantize --target-size) at the\n"
        "                       tensor bytes of each --types mixture (labels alloc-TYPE; their tensors\n"
        "                       of 32-element types rounded by GPTQ on the calibration text if any),\n"
        "                       score every model (PPL, bits per byte, KLD), skip qk-bench, and write\n"
        "                       frontier.md/.csv/.png (mean KLD vs bpw, Pareto frontier marked) and\n"
        "                       sensitivity.md/.csv/.png (costliest tensors per type, heat map)\n"
        "  --calibration FILE   --frontier: the calibration text of qk-sensitivity's measured modes\n"
        "                       and of the allocations' GPTQ (default: --imatrix-text; without\n"
        "                       either: the proxy mode, plain rounding); must not be the\n"
        "                       evaluation text\n"
        "  --sensitivity FILE   --frontier: use this qk-sensitivity JSON instead of computing it\n"
        "  --sensitivity-mode M    qk-sensitivity --mode: scaled (one measured type per tensor, the\n"
        "                       others estimated), kld (every tensor and type measured) or proxy\n"
        "                       (no forward pass) (default: scaled with a calibration text, else\n"
        "                       proxy)\n"
        "  --sensitivity-chunks N  qk-sensitivity calibration chunks of -c tokens (default:\n"
        "                       qk-sensitivity's: 8, fewer for large models)\n"
        "  --resume             skip steps whose outputs already exist\n"
        "  --no-plots           do not run gnuplot (the .gp scripts are still written)\n"
        "  -h, --help           show this help\n");
}

typedef struct opts {
    const char *model, *text, *outdir, *types, *base_label, *note, *imatrix, *imatrix_text;
    const char *calibration, *sensitivity, *sens_mode; /* --frontier */
    int32_t sens_chunks;
    bool frontier;
    int32_t n_ctx, n_chunks, n_threads, reps, n_prompt, n_gen; /* n_chunks, n_threads: 0 = not given */
    int32_t imatrix_chunks;
    bool resume, plots;
} opts;

/* Long-only options. */
enum { OPT_TYPES = 256, OPT_CHUNKS, OPT_BASE_LABEL, OPT_NOTE, OPT_RESUME, OPT_NO_PLOTS, OPT_IMATRIX,
       OPT_IMATRIX_TEXT, OPT_IMATRIX_CHUNKS, OPT_FRONTIER, OPT_CALIBRATION, OPT_SENSITIVITY, OPT_SENS_CHUNKS, OPT_SENS_MODE };

static int parse_args(int argc, char **argv, opts *o) {
    static const struct option LONG[] = {{"model", required_argument, NULL, 'm'},
                                         {"file", required_argument, NULL, 'f'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"types", required_argument, NULL, OPT_TYPES},
                                         {"ctx-size", required_argument, NULL, 'c'},
                                         {"chunks", required_argument, NULL, OPT_CHUNKS},
                                         {"threads", required_argument, NULL, 't'},
                                         {"repetitions", required_argument, NULL, 'r'},
                                         {"n-prompt", required_argument, NULL, 'p'},
                                         {"n-gen", required_argument, NULL, 'n'},
                                         {"base-label", required_argument, NULL, OPT_BASE_LABEL},
                                         {"note", required_argument, NULL, OPT_NOTE},
                                         {"imatrix", required_argument, NULL, OPT_IMATRIX},
                                         {"imatrix-text", required_argument, NULL, OPT_IMATRIX_TEXT},
                                         {"imatrix-chunks", required_argument, NULL, OPT_IMATRIX_CHUNKS},
                                         {"frontier", no_argument, NULL, OPT_FRONTIER},
                                         {"calibration", required_argument, NULL, OPT_CALIBRATION},
                                         {"sensitivity", required_argument, NULL, OPT_SENSITIVITY},
                                         {"sensitivity-chunks", required_argument, NULL, OPT_SENS_CHUNKS},
                                         {"sensitivity-mode", required_argument, NULL, OPT_SENS_MODE},
                                         {"resume", no_argument, NULL, OPT_RESUME},
                                         {"no-plots", no_argument, NULL, OPT_NO_PLOTS},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    *o = (opts){.types = "Q2_K,Q4_K_M,Q6_K", .n_ctx = 512, .reps = 5, .n_prompt = 512, .n_gen = 128, .plots = true,
              .imatrix_chunks = 100, .sens_chunks = 0};
    int c, bad = 0; /* the numbers' bounds: what the tool each is passed to accepts, and at least 1 */
    while (!bad && (c = qk_cli_next(argc, argv, ":m:f:o:c:t:r:p:n:h", LONG)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'f': o->text = optarg; break;
        case 'o': o->outdir = optarg; break;
        case OPT_TYPES: o->types = optarg; break;
        case OPT_BASE_LABEL: o->base_label = optarg; break;
        case OPT_NOTE: o->note = optarg; break;
        case OPT_IMATRIX: o->imatrix = optarg; break;
        case OPT_IMATRIX_TEXT: o->imatrix_text = optarg; break;
        case OPT_IMATRIX_CHUNKS: bad = qk_cli_i32("--imatrix-chunks", optarg, 1, INT32_MAX, &o->imatrix_chunks); break;
        case OPT_FRONTIER: o->frontier = true; break;
        case OPT_CALIBRATION: o->calibration = optarg; break;
        case OPT_SENSITIVITY: o->sensitivity = optarg; break;
        case OPT_SENS_MODE: o->sens_mode = optarg; break;
        case OPT_SENS_CHUNKS: bad = qk_cli_i32("--sensitivity-chunks", optarg, 1, INT32_MAX, &o->sens_chunks); break;
        case OPT_RESUME: o->resume = true; break;
        case OPT_NO_PLOTS: o->plots = false; break;
        case 'c': bad = qk_cli_i32("-c", optarg, 1, QK_CLI_MAX_TOKENS, &o->n_ctx); break;
        case OPT_CHUNKS: bad = qk_cli_i32("--chunks", optarg, 1, INT32_MAX, &o->n_chunks); break;
        case 't': bad = qk_cli_i32("-t", optarg, 1, QK_CLI_MAX_THREADS, &o->n_threads); break;
        case 'r': bad = qk_cli_i32("-r", optarg, 1, 1000000, &o->reps); break;
        case 'p': bad = qk_cli_i32("-p", optarg, 1, QK_CLI_MAX_TOKENS, &o->n_prompt); break;
        case 'n': bad = qk_cli_i32("-n", optarg, 1, QK_CLI_MAX_TOKENS, &o->n_gen); break;
        case 'h': usage(stdout); return QK_CLI_DONE;
        default: return QK_CLI_ERROR; /* qk_cli_next printed the error */
        }
    }
    if (bad) return QK_CLI_ERROR;
    if (optind < argc) return qk_cli_error("unexpected argument '%s' — run qk-study --help", argv[optind]);
    if (!o->model || !o->text || !o->outdir)
        return qk_cli_error("-m BASE.gguf, -f TEXT and -o OUTDIR are required — run qk-study --help");
    if (o->imatrix && o->imatrix_text)
        return qk_cli_error("--imatrix and --imatrix-text exclude each other — give the file or the text to make it from");
    if (!o->frontier && (o->calibration || o->sensitivity))
        return qk_cli_error("--%s is used only with --frontier — add --frontier",
                            o->calibration ? "calibration" : "sensitivity");
    if (o->calibration && o->sensitivity)
        return qk_cli_error("--calibration and --sensitivity exclude each other — the calibration text is for "
                            "computing the sensitivity file");
    if (o->frontier && !o->calibration && !o->sensitivity) o->calibration = o->imatrix_text;
    if (o->sens_mode && strcmp(o->sens_mode, "kld") && strcmp(o->sens_mode, "scaled") && strcmp(o->sens_mode, "proxy"))
        return qk_cli_error("--sensitivity-mode must be kld, scaled or proxy, got '%s'", o->sens_mode);
    if (o->sens_mode && (!o->frontier || o->sensitivity))
        return qk_cli_error("--sensitivity-mode is used only with --frontier, without --sensitivity FILE");
    if (o->sens_mode && strcmp(o->sens_mode, "proxy") && !o->calibration)
        return qk_cli_error("--sensitivity-mode %s needs a calibration text — pass --calibration FILE or "
                            "--imatrix-text FILE", o->sens_mode);
    if (o->frontier && !o->sens_mode) o->sens_mode = o->calibration ? "scaled" : "proxy";
    return QK_CLI_RUN;
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

/* The inputs, checked before anything runs. Returns 0 or 1 (error printed). */
static int check_inputs(const opts *o) {
    if (!qk_file_exists(o->model))
        return qk_fail("base model '%s' %s — datasets/fetch.sh DEST downloads Qwen2.5-0.5B-Instruct F16", o->model,
                       input_problem(o->model));
    if (!qk_file_exists(o->text) || !has_text(o->text))
        return qk_fail("text '%s' %s — datasets/fetch.sh DEST fetches wiki.test.raw", o->text,
                       qk_file_exists(o->text) ? "is empty or only whitespace" : input_problem(o->text));
    if (o->imatrix && !qk_file_exists(o->imatrix))
        return qk_fail("imatrix '%s' %s — make one with qk-imatrix, or pass --imatrix-text FILE", o->imatrix,
                       input_problem(o->imatrix));
    if (o->imatrix_text) {
        if (!qk_file_exists(o->imatrix_text) || !has_text(o->imatrix_text))
            return qk_fail("imatrix text '%s' %s — e.g. ../shared/data/calibration/wiki.test.tail.raw", o->imatrix_text,
                           qk_file_exists(o->imatrix_text) ? "is empty or only whitespace"
                                                           : input_problem(o->imatrix_text));
        /* calibrating on the evaluation text would flatter the imatrix models */
        const char *eval[] = {o->text}, *calib[] = {o->imatrix_text};
        if (qk_paths_check(eval, 1, calib, 1, NULL) != 0)
            return qk_fail("--imatrix-text '%s' is the evaluation text — calibrate on other text, e.g. "
                           "../shared/data/calibration/wiki.test.tail.raw", o->imatrix_text);
    }
    if (o->sensitivity && !qk_file_exists(o->sensitivity))
        return qk_fail("sensitivity file '%s' %s — make one with qk-sensitivity, or leave --sensitivity out",
                       o->sensitivity, input_problem(o->sensitivity));
    if (o->calibration && o->calibration != o->imatrix_text) {
        if (!qk_file_exists(o->calibration) || !has_text(o->calibration))
            return qk_fail("calibration text '%s' %s — e.g. ../shared/data/calibration/wiki.test.tail.raw",
                           o->calibration, qk_file_exists(o->calibration) ? "is empty or only whitespace"
                                                                         : input_problem(o->calibration));
        const char *eval[] = {o->text}, *calib[] = {o->calibration};
        if (qk_paths_check(eval, 1, calib, 1, NULL) != 0)
            return qk_fail("--calibration '%s' is the evaluation text — calibrate on other text, e.g. "
                           "../shared/data/calibration/wiki.test.tail.raw", o->calibration);
    }
    return 0;
}

typedef struct study {
    const opts *o;
    qk_study_runner run; /* bindir, OUTDIR, the step counter */
    char types_buf[1024];
    char *types[MAX_TYPES]; /* in types_buf */
    int n_types;
    const char *imatrix;    /* the imatrix the -imat models use; NULL: none */
    char imatrix_out[4200]; /* OUTDIR/imatrix.gguf (--imatrix-text) */
    /* model k: 0 the base, 1..n_types the types, then (with an imatrix) the types again; with
     * --frontier, n_mix..n_models-1 qkit's allocations at the sizes of the types */
    int n_models, n_mix;
    bool allocs;               /* --frontier with qk-sensitivity (or --sensitivity): alloc models */
    qk_frontier_plan frontier; /* --frontier */
    char sens_out[4200];       /* OUTDIR/sensitivity.json */
    char sens_chunks[16];
    char label[MAX_MODELS][160];
    char path[MAX_MODELS][4200]; /* the base, OUTDIR/models/<stem>-<LABEL>.gguf */
    char logits[4200];           /* OUTDIR/base.logits */
    char ctx[16], chunks[16], threads[16], reps[16], n_prompt[16], n_gen[16]; /* the numbers as arguments */
} study;

/* The ftype of quantized model k >= 1, and whether it uses the imatrix. */
static const char *model_type(const study *s, int k) {
    return s->types[k >= s->n_mix ? k - s->n_mix : (k - 1) % s->n_types];
}
static bool model_alloc(const study *s, int k) { return k >= s->n_mix; }
static bool model_imat(const study *s, int k) {
    return model_alloc(s, k) ? s->imatrix != NULL || s->o->imatrix_text != NULL : k > s->n_types;
}

static bool sibling_exists(const study *s, const char *tool) {
    char p[4200], found[4200];
    snprintf(p, sizeof p, "%s/%s", s->run.bindir, tool);
    return qk_proc_find_in_path(p, found, sizeof found);
}

/* The sibling tools the study needs, and whether --frontier can make qkit's allocations
 * (qk-sensitivity is there, or --sensitivity gives its output). Returns 0 or 1 (error printed). */
static int find_tools(study *s) {
    const opts *o = s->o;
    qk_err err;
    if (qk_proc_self_dir(s->run.bindir, sizeof s->run.bindir, &err) != 0) return qk_fail("%s", err.msg);
    static const char *const tools[] = {"qk-quantize", "qk-perplexity", "qk-bench", "qk-report", "qk-imatrix"};
    for (size_t k = 0; k < (o->imatrix_text ? 5u : 4u); k++)
        if (!sibling_exists(s, tools[k]))
            return qk_fail("%s not found next to qk-study (%s) — build all tools (cmake --build BUILD)", tools[k],
                           s->run.bindir);
    if (o->frontier) {
        s->allocs = o->sensitivity || sibling_exists(s, "qk-sensitivity");
        if (!s->allocs)
            fprintf(stderr, "qk-study: warning: qk-sensitivity not found next to qk-study (%s) — the frontier "
                            "compares llama.cpp's mixtures only (build qk-sensitivity, or pass --sensitivity FILE)\n",
                    s->run.bindir);
    }
    return 0;
}

/* --types and the base label. Returns 0 or 1 (error printed). */
static int plan_models(study *s) {
    const opts *o = s->o;
    snprintf(s->types_buf, sizeof s->types_buf, "%s", o->types);
    for (char *t = strtok(s->types_buf, ","); t; t = strtok(NULL, ",")) {
        if (s->n_types == MAX_TYPES) return qk_fail("too many --types — at most 16");
        if (!label_ok(t))
            return qk_fail("bad type name '%s' in --types — use llama.cpp ftype names such as Q4_K_M", t);
        s->types[s->n_types++] = t;
    }
    if (s->n_types == 0) return qk_fail("--types is empty — e.g. --types Q2_K,Q4_K_M,Q6_K");
    if (o->base_label) snprintf(s->label[0], sizeof s->label[0], "%s", o->base_label);
    else guess_base_label(o->model, s->label[0], sizeof s->label[0]);
    if (!label_ok(s->label[0])) return qk_fail("bad --base-label — letters, digits, '_', '-', '.'");
    s->imatrix = o->imatrix;
    s->n_mix = s->n_models = 1 + s->n_types * (o->imatrix || o->imatrix_text ? 2 : 1);
    if (s->allocs) s->n_models += s->n_types;
    for (int k = 1; k < s->n_models; k++) {
        snprintf(s->label[k], sizeof s->label[k], "%s%s%s", model_alloc(s, k) ? QK_FRONTIER_ALLOC_PREFIX : "",
                 model_type(s, k), model_imat(s, k) ? QK_REPORT_IMAT_SUFFIX : "");
        for (int j = 0; j < k; j++)
            if (!strcmp(s->label[j], s->label[k]))
                return qk_fail("'%s' is in --types twice or is also the base label — list each type once, or "
                               "pass --base-label with another name", s->label[k]);
    }
    return 0;
}

/* The sibling tools, OUTDIR and its subdirectories, the output paths and the number
 * arguments. Returns 0 or 1 (error printed). */
static int prepare(study *s) {
    const opts *o = s->o;
    s->run.outdir = o->outdir;
    s->run.resume = o->resume;
    s->run.n_steps = (o->imatrix_text ? 1 : 0) + (s->n_models - 1) /* quantize */ + 1 /* base ppl */ +
                 (s->n_models - 1) /* kld */ + (o->frontier ? 0 : s->n_models) /* bench */ + 1 /* report */ +
                 (s->allocs && !o->sensitivity ? 1 : 0) /* sensitivity */;
    s->run.t_start = qk_study_now();
    qk_err err;
    static const char *const subdirs[] = {"", "/models", "/ppl", "/bench", "/logs"};
    for (size_t k = 0; k < 5; k++) {
        char d[4200];
        snprintf(d, sizeof d, "%s%s", s->run.outdir, subdirs[k]);
        if (qk_file_mkdir_p(d, &err) != 0) return qk_fail("%s — choose a writable OUTDIR", err.msg);
    }
    char stem[512];
    model_stem(o->model, stem, sizeof stem);
    snprintf(s->path[0], sizeof s->path[0], "%s", o->model);
    for (int k = 1; k < s->n_models; k++)
        snprintf(s->path[k], sizeof s->path[k], "%s/models/%s-%s.gguf", s->run.outdir, stem, s->label[k]);
    if (o->imatrix_text) {
        snprintf(s->imatrix_out, sizeof s->imatrix_out, "%s/imatrix.gguf", s->run.outdir);
        s->imatrix = s->imatrix_out;
    }
    snprintf(s->logits, sizeof s->logits, "%s/base.logits", s->run.outdir);
    if (s->allocs) {
        snprintf(s->sens_out, sizeof s->sens_out, "%s/sensitivity.json", s->run.outdir);
        if (o->sens_chunks) snprintf(s->sens_chunks, sizeof s->sens_chunks, "%d", o->sens_chunks);
        s->frontier = (qk_frontier_plan){.model = o->model,
                                         .calibration = strcmp(o->sens_mode, "proxy") ? o->calibration : NULL,
                                         .mode = o->sens_mode, .imatrix = s->imatrix,
                                         .ctx = s->ctx, .chunks = o->sens_chunks ? s->sens_chunks : NULL,
                                         .threads = o->n_threads ? s->threads : NULL,
                                         .sensitivity = o->sensitivity ? o->sensitivity : s->sens_out,
                                         .sensitivity_given = o->sensitivity != NULL,
                                         .gptq = o->calibration};
    }
    snprintf(s->ctx, sizeof s->ctx, "%d", o->n_ctx);
    snprintf(s->chunks, sizeof s->chunks, "%d", o->n_chunks);
    snprintf(s->threads, sizeof s->threads, "%d", o->n_threads);
    snprintf(s->reps, sizeof s->reps, "%d", o->reps);
    snprintf(s->n_prompt, sizeof s->n_prompt, "%d", o->n_prompt);
    snprintf(s->n_gen, sizeof s->n_gen, "%d", o->n_gen);
    return 0;
}

/* 0. qk-imatrix -m BASE -f CALIBRATION -o OUTDIR/imatrix.gguf -c N --chunks N [-t N]
 * (--imatrix-text only). */
static int imatrix_step(study *s) {
    if (!s->o->imatrix_text) return 0;
    char chunks[16];
    snprintf(chunks, sizeof chunks, "%d", s->o->imatrix_chunks);
    char *av[MAX_ARGS] = {"qk-imatrix", "-m", (char *)s->o->model, "-f", (char *)s->o->imatrix_text,
                          "-o", s->imatrix_out, "-c", s->ctx, "--chunks", chunks, NULL};
    if (s->o->n_threads) av[11] = "-t", av[12] = s->threads, av[13] = NULL;
    return qk_study_run_step(&s->run, "imatrix", "imatrix", s->imatrix_out, av) != 0;
}

/* 1. qk-quantize [--imatrix IMATRIX] BASE OUTDIR/models/<stem>-<LABEL>.gguf TYPE [threads],
 * for each quantized model. */
static int quantize_all(study *s) {
    char title[256], logname[200];
    for (int k = 1; k < s->n_mix; k++) {
        char *av[MAX_ARGS];
        int n = 0;
        av[n++] = "qk-quantize";
        if (model_imat(s, k)) av[n++] = "--imatrix", av[n++] = (char *)s->imatrix;
        av[n++] = (char *)s->o->model;
        av[n++] = s->path[k];
        av[n++] = (char *)model_type(s, k);
        if (s->o->n_threads) av[n++] = s->threads;
        av[n] = NULL;
        snprintf(title, sizeof title, "quantize %s", s->label[k]);
        snprintf(logname, sizeof logname, "quantize-%s", s->label[k]);
        if (qk_study_run_step(&s->run, title, logname, s->path[k], av) != 0) return 1;
    }
    return 0;
}

/* --frontier: the sensitivity file, then qkit's allocation at the size of each type's
 * mixture (model k = n_mix + j is type j, whose plain mixture is model 1 + j). */
static int allocate_all(study *s) {
    if (!s->allocs) return 0;
    if (qk_frontier_sensitivity_step(&s->run, &s->frontier) != 0) return 1;
    for (int k = s->n_mix; k < s->n_models; k++)
        if (qk_frontier_alloc_step(&s->run, &s->frontier, s->path[1 + (k - s->n_mix)], model_type(s, k), s->path[k],
                                   s->label[k]) != 0)
            return 1;
    return 0;
}

/* av = qk-perplexity -m MODEL -f TEXT -c N [--chunks N] [-t N] --kl-divergence-base
 * OUTDIR/base.logits [--kl-divergence] --json JSON, NULL-ended (steps 2 and 3). */
static void ppl_argv(study *s, char **av, const char *model, bool kld, char *json) {
    int n = 0;
    av[n++] = "qk-perplexity";
    av[n++] = "-m";
    av[n++] = (char *)model;
    av[n++] = "-f";
    av[n++] = (char *)s->o->text;
    av[n++] = "-c";
    av[n++] = s->ctx;
    if (s->o->n_chunks) av[n++] = "--chunks", av[n++] = s->chunks;
    if (s->o->n_threads) av[n++] = "-t", av[n++] = s->threads;
    av[n++] = "--kl-divergence-base";
    av[n++] = s->logits;
    if (kld) av[n++] = "--kl-divergence";
    av[n++] = "--json";
    av[n++] = json;
    av[n] = NULL;
}

/* 2. the base's perplexity, writing base.logits and its exact-NLL sidecar; 3. perplexity
 * and KLD of each quantized model against it. */
static int perplexity_all(study *s) {
    char *av[MAX_ARGS], json[4200], title[256], logname[200];
    for (int k = 0; k < s->n_models; k++) {
        const char *label = s->label[k];
        snprintf(json, sizeof json, "%s/ppl/%s.json", s->run.outdir, label);
        ppl_argv(s, av, s->path[k], k > 0, json);
        if (k == 0) snprintf(title, sizeof title, "perplexity %.159s (base logits)", label);
        else snprintf(title, sizeof title, "perplexity + KLD %.159s", label);
        snprintf(logname, sizeof logname, "ppl-%.159s", label);
        /* the base step is resumed only when both the JSON and the logits exist */
        const char *out = k > 0 || qk_file_exists(s->logits) ? json : NULL;
        if (qk_study_run_step(&s->run, title, logname, out, av) != 0) return 1;
    }
    return 0;
}

/* OUTDIR/bench.csv: the per-model CSVs under one header. */
static int merge_bench_csv(const study *s, qk_err *err) {
    qk_sb sb = {0};
    for (int i = 0; i < s->n_models; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/bench/%s.csv", s->run.outdir, s->label[i]);
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
    snprintf(path, sizeof path, "%s/bench.csv", s->run.outdir);
    return qk_sb_write_file(&sb, path, err);
}

/* 4. qk-bench -m MODEL -p P -n N -r R [-t T] --output-file OUTDIR/bench/<LABEL>.json
 * --output-file OUTDIR/bench/<LABEL>.csv for every model, then OUTDIR/bench.csv. */
static int bench_all(study *s) {
    if (s->o->frontier) return 0; /* a quality study */
    char title[256], logname[160];
    for (int k = 0; k < s->n_models; k++) {
        const char *label = s->label[k];
        char jpath[4200], cpath[4200];
        snprintf(jpath, sizeof jpath, "%s/bench/%s.json", s->run.outdir, label);
        snprintf(cpath, sizeof cpath, "%s/bench/%s.csv", s->run.outdir, label);
        char *av[MAX_ARGS];
        int n = 0;
        av[n++] = "qk-bench";
        av[n++] = "-m";
        av[n++] = s->path[k];
        av[n++] = "-p";
        av[n++] = s->n_prompt;
        av[n++] = "-n";
        av[n++] = s->n_gen;
        av[n++] = "-r";
        av[n++] = s->reps;
        if (s->o->n_threads) av[n++] = "-t", av[n++] = s->threads;
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
        if (qk_study_run_step(&s->run, title, logname, out, av) != 0) return 1;
    }
    qk_err err;
    if (merge_bench_csv(s, &err) != 0) return qk_fail("%s — check OUTDIR/bench/", err.msg);
    return 0;
}

/* 5. qk-report -d OUTDIR --base LABEL [--no-plots] [--note NOTE], never skipped (it is
 * cheap). */
static int report(study *s) {
    char *av[MAX_ARGS];
    int n = 0;
    av[n++] = "qk-report";
    av[n++] = "-d";
    av[n++] = (char *)s->run.outdir;
    av[n++] = "--base";
    av[n++] = s->label[0];
    if (!s->o->plots) av[n++] = "--no-plots";
    if (s->o->frontier) av[n++] = "--frontier";
    if (s->allocs) av[n++] = "--sensitivity", av[n++] = (char *)s->frontier.sensitivity; /* the heat map */
    if (s->o->note) {
        av[n++] = "--note";
        av[n++] = (char *)s->o->note;
    }
    av[n] = NULL;
    s->run.resume = false;
    return qk_study_run_step(&s->run, "report", "report", NULL, av) != 0;
}

/* The closing line on stderr, the table (results.md) on stdout. */
static void finish(const study *s) {
    char tot[32];
    qk_study_fmt_elapsed(qk_study_now() - s->run.t_start, tot, sizeof tot);
    if (s->o->frontier)
        fprintf(stderr, "qk-study: finished in %s — results in %s/frontier.md (table), frontier.csv, "
                        "frontier.png, results.md, quality.png\n", tot, s->run.outdir);
    else
        fprintf(stderr, "qk-study: finished in %s — results in %s/results.md (table), results.csv, "
                        "tg.png, quality.png\n", tot, s->run.outdir);
    char md[4200];
    snprintf(md, sizeof md, "%s/%s.md", s->run.outdir, s->o->frontier ? "frontier" : "results");
    char *table = qk_file_read(md, NULL, NULL);
    if (table) {
        fputs(table, stdout);
        free(table);
    }
}

int main(int argc, char **argv) {
    qk_tool_init("qk-study");
    opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0;
    if (check_inputs(&o)) return 1;

    static study s; /* ~150 KiB of paths */
    s.o = &o;
    if (find_tools(&s) || plan_models(&s) || prepare(&s)) return 1;
    if (imatrix_step(&s) || quantize_all(&s) || allocate_all(&s) || perplexity_all(&s) || bench_all(&s) ||
        report(&s))
        return 1;
    finish(&s);
    return 0;
}
