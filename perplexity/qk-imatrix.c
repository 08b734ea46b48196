/*
 * qk-imatrix.c — the command-line tool: an importance matrix of a model over a
 * calibration text, as llama.cpp's llama-imatrix (c392e50 examples/imatrix/imatrix.cpp)
 * computes it, written as a GGUF imatrix (default) or a legacy .dat; --in-file adds
 * earlier files to it (or, without -f, only combines them); --show-statistics prints
 * per-tensor figures.
 *
 * Protocol (llama-imatrix's): the text (-f, one trailing newline dropped as llama.cpp's -f
 * does) is tokenized with BOS as the vocab asks; --chunk K drops the first K·n_ctx tokens;
 * the rest is cut into min(--chunks, n_tokens / n_ctx) chunks of n_ctx tokens, each run on
 * its own (n_batch is capped at n_ctx, so one chunk per pass, or several passes of n_batch
 * tokens when n_batch < n_ctx), first token replaced by BOS when the vocab adds one, the
 * logits of every token requested (only when they feed output.weight: the PPL needs just
 * the second half's), and the PPL of the second halves printed as it runs. The chunking,
 * BOS handling and PPL are perplexity/ppl_run.c's; what is collected is
 * imatrix_collect.c's; the steps shared with qk-perplexity (input checks, reading, model
 * loading, tokenizing, JSON output) ppl_tool.c's.
 *
 * Errors: one line on stderr ("qk-imatrix: error: …"), exit status 1, no output file
 * (all are written atomically).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "imatrix.h"
#include "imatrix_collect.h"
#include "imatrix_stats.h"
#include "model.h"
#include "paths.h"
#include "ppl_run.h"
#include "ppl_tool.h"
#include "threads.h"
#include "tool.h"

#define PROG "qk-imatrix"
#define MAX_IN_FILES 256

typedef struct opts {
    const char *model, *text, *out, *json;
    const char *in_files[MAX_IN_FILES];
    int n_in;
    int32_t n_ctx, n_batch, n_chunks, i_chunk, n_threads;
    bool process_output, show_stats, out_given, use_mmap;
    qk_imatrix_format fmt;
} opts;

static void usage(FILE *f) {
    fprintf(f,
            "usage: " PROG " -m MODEL -f TEXT [-o FILE] [options]\n"
            "       " PROG " --in-file F1 --in-file F2 ... -o FILE         (combine imatrix files)\n"
            "       " PROG " --in-file F --show-statistics                 (inspect one)\n"
            "\n"
            "Importance matrix as llama.cpp's llama-imatrix computes it: for every weight matrix\n"
            "of the layers (blk.*), the sum of the squared input activations per column over the\n"
            "tokens of the calibration text, chunked as llama-perplexity chunks it.\n"
            "\n"
            "options:\n"
            "  -h, --help               show this help and exit\n"
            "  -m, --model FILE         model (GGUF) to run (required with -f)\n"
            "  -f, --file FILE          calibration text\n"
            "  -o, --output FILE        imatrix to write (default: imatrix.gguf, or imatrix.dat with\n"
            "                           --output-format dat; with --show-statistics and no -f:\n"
            "                           nothing is written unless -o is given)\n"
            "      --output-format F    gguf or dat (llama.cpp c392e50's legacy format)\n"
            "                           (default: gguf)\n"
            "  -c, --ctx-size N         tokens per chunk, even, >= 16 (default: 512)\n"
            "  -b, --batch-size N       tokens per forward pass, >= 16; capped at -c (default: 2048)\n"
            "      --chunks N           process at most N chunks (default: -1 = all)\n"
            "      --chunk K            start at chunk K: skip the first K*n_ctx tokens (default: 0)\n"
            "  -t, --threads N          worker threads (default: %d = all CPUs)\n"
            "      --mmap               read the weights from the file mapping, as llama.cpp does\n"
            "                           by default (default: read into memory, faster)\n"
            "      --process-output     also collect output.weight (the lm_head) when the model has\n"
            "                           one (tied models multiply token_embd.weight instead, which\n"
            "                           is never collected) (default: off)\n"
            "      --in-file F          add the imatrix in F (GGUF or .dat) to the result; repeat\n"
            "                           to add several (default: none)\n"
            "      --show-statistics    print per-tensor statistics of the result (default: off)\n"
            "      --json FILE          also write a summary as one JSON object to FILE\n"
            "                           (default: none)\n",
            qk_cpu_count());
}

enum { OPT_CHUNKS = 256, OPT_CHUNK, OPT_PROCESS_OUTPUT, OPT_IN_FILE, OPT_FORMAT, OPT_STATS, OPT_JSON, OPT_MMAP };

/* The options' combinations, once all are read. */
static int check_args(int argc, char **argv, opts *o) {
    if (optind < argc) return qk_cli_error("unexpected argument '%s' — run " PROG " --help", argv[optind]);
    if (!o->text && o->n_in == 0)
        return qk_cli_error("no text given — use -f FILE (or --in-file F to combine or inspect imatrix files)");
    if (o->text && !o->model) return qk_cli_error("no model given — use -m MODEL.gguf");
    if (o->n_ctx < 16 || o->n_ctx % 2 != 0)
        return qk_cli_error("-c %d: n_ctx must be even and at least 16 (passes of fewer than 16 tokens "
                            "are not collected) — use e.g. -c 512", o->n_ctx);
    if (o->n_chunks == 0) return qk_cli_error("--chunks %d: use N >= 1, or -1 for all", o->n_chunks);
    if (!o->out_given) o->out = o->fmt == QK_IMATRIX_DAT ? "imatrix.dat" : "imatrix.gguf";
    /* statistics only: nothing to write unless asked for */
    if (!o->text && o->show_stats && !o->out_given) o->out = NULL;
    return QK_CLI_RUN;
}

static int parse_args(int argc, char **argv, opts *o) {
    static const struct option LONG[] = {{"help", no_argument, NULL, 'h'},
                                         {"model", required_argument, NULL, 'm'},
                                         {"file", required_argument, NULL, 'f'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"output-file", required_argument, NULL, 'o'},
                                         {"output-format", required_argument, NULL, OPT_FORMAT},
                                         {"ctx-size", required_argument, NULL, 'c'},
                                         {"batch-size", required_argument, NULL, 'b'},
                                         {"chunks", required_argument, NULL, OPT_CHUNKS},
                                         {"chunk", required_argument, NULL, OPT_CHUNK},
                                         {"from-chunk", required_argument, NULL, OPT_CHUNK},
                                         {"threads", required_argument, NULL, 't'},
                                         {"process-output", no_argument, NULL, OPT_PROCESS_OUTPUT},
                                         {"in-file", required_argument, NULL, OPT_IN_FILE},
                                         {"show-statistics", no_argument, NULL, OPT_STATS},
                                         {"json", required_argument, NULL, OPT_JSON},
                                         {"mmap", no_argument, NULL, OPT_MMAP},
                                         {0}};
    memset(o, 0, sizeof *o);
    o->n_ctx = 512;
    o->n_batch = 2048;
    o->n_chunks = -1;
    o->fmt = QK_IMATRIX_GGUF;
    int c, bad = 0;
    while (!bad && (c = qk_cli_next(argc, argv, ":hm:f:o:c:b:t:", LONG)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return QK_CLI_DONE;
        case 'm': o->model = optarg; break;
        case 'f': o->text = optarg; break;
        case 'o':
            o->out = optarg;
            o->out_given = true;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "gguf") == 0) o->fmt = QK_IMATRIX_GGUF;
            else if (strcmp(optarg, "dat") == 0) o->fmt = QK_IMATRIX_DAT;
            else return qk_cli_error("--output-format expects gguf or dat, got '%s'", optarg);
            break;
        case 'c': bad = qk_cli_i32("-c", optarg, 1, QK_CLI_MAX_TOKENS, &o->n_ctx); break;
        case 'b': bad = qk_cli_i32("-b", optarg, 16, QK_CLI_MAX_TOKENS, &o->n_batch); break;
        case OPT_CHUNKS: bad = qk_cli_i32("--chunks", optarg, -1, INT32_MAX, &o->n_chunks); break;
        case OPT_CHUNK: bad = qk_cli_i32("--chunk", optarg, 0, INT32_MAX, &o->i_chunk); break;
        case 't': bad = qk_cli_i32("-t", optarg, 0, QK_CLI_MAX_THREADS, &o->n_threads); break;
        case OPT_PROCESS_OUTPUT: o->process_output = true; break;
        case OPT_IN_FILE:
            if (o->n_in == MAX_IN_FILES)
                return qk_cli_error("more than %d --in-file options — combine them in steps", MAX_IN_FILES);
            o->in_files[o->n_in++] = optarg;
            break;
        case OPT_STATS: o->show_stats = true; break;
        case OPT_JSON: o->json = optarg; break;
        case OPT_MMAP: o->use_mmap = true; break;
        default: return QK_CLI_ERROR; /* qk_cli_next printed the error */
        }
    }
    return bad ? QK_CLI_ERROR : check_args(argc, argv, o);
}

/* Before anything is loaded: no output may be an input (model, text, --in-file) or the
 * other output, by identity (paths.h); the text must exist, not be a directory and not be
 * empty; every output's directory must be writable. Returns 0, or 1 after the error. */
static int check_files(const opts *o) {
    const char *inputs[MAX_IN_FILES + 2];
    size_t n = 0;
    inputs[n++] = o->model;
    inputs[n++] = o->text;
    for (int i = 0; i < o->n_in; i++) inputs[n++] = o->in_files[i];
    const char *outputs[2] = {o->out, o->json};
    qk_err err = {{0}};
    if (qk_paths_check(inputs, n, outputs, 2, &err)) return qk_fail("%s", err.msg);
    if (o->text && ppl_tool_check_input(o->text, "text file")) return 1;
    for (int k = 0; k < 2; k++)
        if (outputs[k] && qk_paths_check_output(outputs[k], &err)) return qk_fail("%s", err.msg);
    return 0;
}

/* Is the file at path a GGUF (by its magic)? Else it is taken for a legacy .dat. */
static bool is_gguf_file(const char *path) {
    FILE *f = fopen(path, "rb");
    char magic[4] = {0};
    bool gguf = f && fread(magic, 1, 4, f) == 4 && memcmp(magic, "GGUF", 4) == 0;
    if (f) fclose(f);
    return gguf;
}

/* The --in-file imatrices, each read and checked (before the model is loaded, so a bad
 * file fails fast); *any_dat: one of them is a legacy .dat. NULL after printing the error. */
static qk_imatrix **read_in_files(const opts *o, bool *any_dat) {
    qk_imatrix **in = calloc((size_t)o->n_in + 1, sizeof *in);
    if (!in) {
        qk_fail("out of memory");
        return NULL;
    }
    *any_dat = false;
    for (int i = 0; i < o->n_in; i++) {
        qk_err err = {{0}};
        fprintf(stderr, PROG ": loading imatrix from '%s'\n", o->in_files[i]);
        in[i] = qk_imatrix_read(o->in_files[i], &err);
        if (!in[i]) {
            qk_fail("%s", err.msg);
            for (int k = 0; k < i; k++) qk_imatrix_free(in[k]);
            free(in);
            return NULL;
        }
        if (!is_gguf_file(o->in_files[i])) *any_dat = true;
    }
    return in;
}

/* The model with its tokenizer (its summary line naming a tied lm_head, the n_ctx
 * warning: ppl_tool.h), or NULL after printing the error. */
static qk_model *load_model(const opts *o) {
    qk_model *m = ppl_tool_load_model(o->model, o->n_ctx, true, true, o->use_mmap);
    if (!m) return NULL;
    if (o->process_output && m->tied_output)
        fprintf(stderr, PROG ": note: --process-output: the model has no output.weight (its lm_head is "
                "token_embd.weight), so there is nothing more to collect\n");
    return m;
}

/* The text's tokens (add_special, no special parsing), after llama.cpp's -f reading (one
 * trailing '\n' dropped) and --chunk. Returns the malloc'd base array in *base and the
 * first kept token's offset in *skip; 1 after printing the error. */
static int tokenize_text(const opts *o, const qk_model *m, int32_t **base, size_t *skip, size_t *n_tokens) {
    size_t len = 0;
    char *text = ppl_tool_read_text(o->text, "text file", true, &len);
    if (!text) return 1;
    int rc = ppl_tool_tokenize(m, o->text, text, len, base, n_tokens);
    free(text);
    if (rc) return 1;
    *skip = 0;
    if (o->i_chunk > 0) {
        /* llama-imatrix: at least (K + 2)·n_ctx + 1 tokens, then the first K·n_ctx go */
        const size_t drop = (size_t)o->i_chunk * (size_t)o->n_ctx;
        if (drop + 2 * (size_t)o->n_ctx >= *n_tokens) {
            free(*base);
            *base = NULL;
            return qk_fail("--chunk %d: the text has %zu tokens, too few to skip %d chunks of %d and "
                           "keep 2 — use a smaller --chunk or -c, or a longer text",
                           o->i_chunk, *n_tokens, o->i_chunk, o->n_ctx);
        }
        fprintf(stderr, PROG ": removing initial %d chunks (%zu tokens)\n", o->i_chunk, drop);
        *skip = drop;
    }
    return 0;
}

/* The run's figures, for the JSON summary. */
typedef struct run_info {
    bool ran;
    ppl_run_result res;
    int32_t calls;
} run_info;

/* Run the calibration text through the model, collecting; *out gets the collected
 * imatrix in the given form. The --in-file imatrices in[] must fit the model (names and
 * widths), checked before the run. Returns 0, or 1 after printing the error. */
static int collect(const opts *o, imatrix_form form, qk_imatrix *const *in, qk_imatrix **out, run_info *info) {
    qk_model *m = load_model(o);
    if (!m) return 1;
    int32_t *tokens = NULL;
    size_t skip = 0, n_tokens = 0;
    imatrix_collector *col = NULL;
    int rc = 0;
    for (int i = 0; i < o->n_in && !rc; i++) {
        qk_err e = {{0}};
        if (qk_imatrix_check_model(in[i], m->gguf, &e)) rc = qk_fail("%s: %s", o->in_files[i], e.msg);
    }
    if (!rc) rc = tokenize_text(o, m, &tokens, &skip, &n_tokens);
    if (rc) goto done;
    col = imatrix_collector_new(o->process_output);
    if (!col) {
        rc = qk_fail("out of memory");
        goto done;
    }
    /* llama-imatrix: n_batch = min(n_batch, n_ctx), one chunk per pass */
    const int32_t n_batch = o->n_batch < o->n_ctx ? o->n_batch : o->n_ctx;
    if (o->n_ctx % n_batch != 0 && o->n_ctx % n_batch < IMATRIX_MIN_ROWS)
        fprintf(stderr, PROG ": note: the last pass of every chunk has %d tokens, fewer than %d: "
                "it is not collected (as in llama-imatrix)\n", o->n_ctx % n_batch, IMATRIX_MIN_ROWS);
    ppl_run_params rp = {o->n_ctx, n_batch, o->n_chunks, o->n_threads, 0, stdout, stderr};
    /* logits of every token only when the lm_head is collected: they change nothing else */
    ppl_run_extra x = {PROG, imatrix_collect_hook, col, o->process_output && !m->tied_output};
    qk_err err = {{0}};
    if (ppl_run_perplexity_ex(m, tokens + skip, n_tokens - skip, &rp, &x, NULL, &info->res, &err) ||
        imatrix_collector_check(col, &err)) {
        rc = qk_fail("%s", err.msg);
        goto done;
    }
    info->ran = true;
    info->calls = imatrix_collector_calls(col);
    /* chunk count: .dat (calls form) c392e50's last_call, the largest ncall; GGUF the chunks */
    const int32_t chunks = form == IMATRIX_FORM_CALLS ? info->calls : info->res.n_chunks;
    *out = imatrix_collector_result(col, form, chunks, o->n_ctx, o->text, &err);
    if (!*out) rc = qk_fail("%s", err.msg);
    else if ((*out)->n_entries == 0)
        rc = qk_fail("nothing was collected (no pass had %d tokens or more)", IMATRIX_MIN_ROWS);
done:
    imatrix_collector_free(col);
    free(tokens);
    qk_model_free(m);
    return rc;
}

/* ---- JSON ----------------------------------------------------------------------------- */

static cJSON *json_summary(const opts *o, const run_info *ri, const qk_imatrix *im, const imatrix_tensor_stats *st) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "tool", PROG);
    if (o->model) cJSON_AddStringToObject(j, "model", o->model);
    if (o->text) cJSON_AddStringToObject(j, "text", o->text);
    if (o->out) cJSON_AddStringToObject(j, "output", o->out);
    cJSON_AddStringToObject(j, "output_format", o->fmt == QK_IMATRIX_DAT ? "dat" : "gguf");
    cJSON *in = cJSON_AddArrayToObject(j, "in_files");
    for (int i = 0; i < o->n_in; i++) cJSON_AddItemToArray(in, cJSON_CreateString(o->in_files[i]));
    cJSON_AddBoolToObject(j, "process_output", o->process_output);
    if (ri->ran) {
        const ppl_run_result *r = &ri->res;
        ppl_tool_jnum(j, "n_ctx", r->n_ctx);
        ppl_tool_jnum(j, "n_batch", r->n_batch);
        ppl_tool_jnum(j, "first_chunk", o->i_chunk);
        ppl_tool_jnum(j, "n_chunks", r->n_chunks);
        ppl_tool_jnum(j, "n_threads", r->n_threads);
        ppl_tool_jnum(j, "n_tokens_evaluated", (double)r->n_evaluated);
        ppl_tool_jnum(j, "n_tokens_scored", (double)r->n_scored);
        ppl_tool_jnum(j, "ppl", r->ppl);
        ppl_tool_jnum(j, "ppl_unc", r->ppl_unc);
        ppl_tool_jnum(j, "seconds", r->seconds);
        ppl_tool_jnum(j, "tokens_per_second", r->seconds > 0 ? (double)r->n_evaluated / r->seconds : NAN);
        ppl_tool_jnum(j, "collected_calls", ri->calls);
    }
    ppl_tool_jnum(j, "chunk_count", im->chunk_count);
    ppl_tool_jnum(j, "chunk_size", im->chunk_size);
    ppl_tool_jnum(j, "n_entries", (double)im->n_entries);
    cJSON *arr = cJSON_AddArrayToObject(j, "entries");
    for (int64_t i = 0; i < im->n_entries; i++) {
        const qk_imatrix_entry *e = &im->entries[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", e->name);
        ppl_tool_jnum(x, "n_cols", (double)e->n_cols);
        ppl_tool_jnum(x, "n_mat", (double)e->n_mat);
        ppl_tool_jnum(x, "count", e->counts[0]);
        ppl_tool_jnum(x, "sum", st[i].sum);
        ppl_tool_jnum(x, "mean", st[i].mean);
        ppl_tool_jnum(x, "min", st[i].min);
        ppl_tool_jnum(x, "max", st[i].max);
        ppl_tool_jnum(x, "stddev", st[i].stddev);
        ppl_tool_jnum(x, "share_pct", st[i].share);
        cJSON_AddItemToArray(arr, x);
    }
    return j;
}

/* ---- main ------------------------------------------------------------------------------ */

/* The result: the --in-file imatrices added up in order, then the collected one. The form
 * (imatrix_collect.h) that sums meet in: the .dat one (weight = calls) when writing a .dat
 * or when an input is a .dat, GGUF inputs converted to it; else the GGUF one (weight =
 * rows). NULL after printing the error. */
static qk_imatrix *build(const opts *o, run_info *ri) {
    bool any_dat = false;
    qk_imatrix **in = o->n_in ? read_in_files(o, &any_dat) : NULL;
    if (o->n_in && !in) return NULL;
    const imatrix_form form = (o->fmt == QK_IMATRIX_DAT || any_dat) ? IMATRIX_FORM_CALLS : IMATRIX_FORM_RAW;
    qk_imatrix *fresh = NULL, *im = NULL;
    qk_err err = {{0}};
    int rc = 0;
    for (int i = 0; i < o->n_in && !rc; i++)
        if (form == IMATRIX_FORM_CALLS && is_gguf_file(o->in_files[i]) && imatrix_to_calls_form(in[i], &err))
            rc = qk_fail("%s: %s", o->in_files[i], err.msg);
    if (!rc && o->text) rc = collect(o, form, in, &fresh, ri);
    if (!rc && !(im = qk_imatrix_new())) rc = qk_fail("out of memory");
    for (int i = 0; i < o->n_in && !rc; i++)
        if (qk_imatrix_add(im, in[i], &err)) rc = qk_fail("%s: %s", o->in_files[i], err.msg);
    if (!rc && fresh && qk_imatrix_add(im, fresh, &err)) rc = qk_fail("%s", err.msg);
    for (int i = 0; i < o->n_in; i++) qk_imatrix_free(in[i]);
    free(in);
    qk_imatrix_free(fresh);
    if (rc) {
        qk_imatrix_free(im);
        return NULL;
    }
    return im;
}

int main(int argc, char **argv) {
    qk_tool_init(PROG);
    opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0;
    if (check_files(&o)) return 1;

    run_info ri = {0};
    qk_imatrix *im = build(&o, &ri);
    if (!im) return 1;
    imatrix_tensor_stats *st = imatrix_stats_compute(im);
    qk_err err = {{0}};
    if (!st) rc = qk_fail("out of memory");
    if (!rc && o.out) {
        if (qk_imatrix_write(im, o.out, o.fmt, &err)) rc = qk_fail("%s", err.msg);
        else
            fprintf(stderr, PROG ": stored %lld entries from %d chunks in %s\n", (long long)im->n_entries,
                    im->chunk_count, o.out);
    }
    if (!rc && o.show_stats)
        imatrix_stats_print(stdout, o.text ? o.text : (o.n_in == 1 ? o.in_files[0] : "the combined imatrix"), im, st);
    if (!rc && o.json) {
        cJSON *j = json_summary(&o, &ri, im, st);
        rc = ppl_tool_write_json(o.json, j);
        cJSON_Delete(j);
    }
    free(st);
    qk_imatrix_free(im);
    return rc;
}
