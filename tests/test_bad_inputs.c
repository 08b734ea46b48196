/*
 * test_bad_inputs.c — every tool against every kind of bad input: the rule of the project
 * (qkit-team.md) is one clear error line ("qk-<tool>: error: ..."), a non-zero exit, and
 * never a crash, a hang or a half-written output file.
 *
 * Inputs, all generated in the test's temporary directory (bad_inputs_fixtures.h):
 *   - files that are bad for every GGUF reader: a missing path, a directory, an empty file,
 *     a text file, copies of stories260K.gguf truncated inside the header, the metadata,
 *     the tensor infos and the tensor data (and one byte short), a tensor type id the
 *     format does not know (26), a Q8_K type id on a matrix whose ne[0] (64) is not a
 *     multiple of Q8_K's block, and a metadata count of 2^40;
 *   - well-formed models the engine must still refuse: a tiny llama model (written with
 *     the engine's GGUF writer) whose attn_q is Q8_1 or Q8_K (types nothing multiplies), the
 *     same with a Q8_1 type id patched into stories260K, and a model with a NaN weight;
 *   - texts: missing, a directory, empty, whitespace only; prompt sets, base-logits files
 *     and report JSON files that are missing, empty, truncated, of the wrong shape or
 *     made with another vocabulary;
 *   - output paths inside a directory that does not exist, or naming an input;
 *   - for every tool, an unknown option and an option whose value is missing.
 * Each tool is run through the shell under `timeout 60` (a hang fails the case instead of
 * blocking the suite). A bad case passes when: the exit status is 1..123 (not a signal, not
 * the timeout); the last stderr line starts with "qk-<tool>: error: " (progress lines may
 * come before it), it is the only line with ": error:", it contains the case's keyword,
 * and no stderr line reports a crash or a sanitizer finding; stdout is empty (nothing that
 * looks like a result); and the output directory named on the command line holds no file
 * at all afterwards — no output, no temporary (qk-study may leave its logs/) — and the
 * input directory is unchanged (no file added, none rewritten). A valid tiny model and text are run through the same
 * commands first and must succeed, so a refusal is never an artefact of a broken command.
 *
 * Signals, a full disk and a model truncated while mapped: test_faults.c.
 *
 * All cases of a tool are collected before the test fails, so one run shows the whole
 * matrix; QK_BAD_INPUTS_VERBOSE=1 prints every case's verdict and error line.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bad_inputs_fixtures.h"
#include "gguf.h"
#include "testutil.h"
#include "types.h"

static int g_out_seq; /* numbering of the per-case output directories */

/* --------------------------------------------------------------- running ------------ */

typedef struct outcome {
    int rc;
    char *out, *err;
    char outdir[PATH_CAP];
} outcome;

static void outcome_free(outcome *o) {
    free(o->out);
    free(o->err);
    o->out = o->err = NULL;
}

/* Replace "@I" (input dir), "@O" (this case's output dir) and "%M" (model) in tmpl. */
static void expand(const char *tmpl, const char *outdir, const char *model, char *dst, size_t cap) {
    size_t o = 0;
    for (const char *p = tmpl; *p; p++) {
        const char *rep = NULL;
        if (p[0] == '@' && p[1] == 'I') rep = g_in;
        else if (p[0] == '@' && p[1] == 'O') rep = outdir;
        else if (p[0] == '%' && p[1] == 'M') rep = model;
        const size_t l = rep ? strlen(rep) : 1;
        ck_assert_msg(o + l < cap, "command too long");
        if (rep) {
            memcpy(dst + o, rep, l);
            p++;
        } else {
            dst[o] = *p;
        }
        o += l;
    }
    dst[o] = 0;
}

/* A fingerprint of a directory's entries (names, sizes, modification times): it changes
 * when a file appears, disappears or is rewritten. */
static uint64_t dir_fingerprint(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    uint64_t h = 1469598103934665603ull;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char p[PATH_CAP];
        struct stat st;
        if (!strcmp(e->d_name, "..")) continue; /* the parent changes as output dirs are made */
        fmt(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &st) != 0) continue;
        uint64_t x = (uint64_t)st.st_size * 31 + (uint64_t)st.st_mtim.tv_sec * 1000000007ull + (uint64_t)st.st_mtim.tv_nsec;
        for (const char *c = e->d_name; *c; c++) x = x * 131 + (unsigned char)*c;
        h += x * 0x9e3779b97f4a7c15ull; /* order-independent */
    }
    closedir(d);
    return h;
}

/* First file (any non-directory) under dir, recursively, skipping directories named
 * "logs" when skip_logs; its path relative to dir goes to found. Returns 1 if any. */
static int find_file(const char *dir, const char *rel, int skip_logs, char *found, size_t cap) {
    char path[PATH_CAP];
    fmt(path, sizeof path, "%s%s%s", dir, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d) return 0;
    struct dirent *e;
    int hit = 0;
    while (!hit && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char r2[PATH_CAP], p2[PATH_CAP];
        fmt(r2, sizeof r2, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        fmt(p2, sizeof p2, "%s/%s", dir, r2);
        struct stat st;
        if (lstat(p2, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (skip_logs && !strcmp(e->d_name, "logs")) continue;
            hit = find_file(dir, r2, skip_logs, found, cap);
        } else {
            fmt(found, cap, "%s", r2);
            hit = 1;
        }
    }
    closedir(d);
    return hit;
}

/* Run `tool args` (templates expanded) in a fresh output directory. */
static void run(outcome *o, const char *tool, const char *args, const char *model) {
    fmt(o->outdir, sizeof o->outdir, "%s/out%03d", work_dir(), ++g_out_seq);
    ck_assert_int_eq(mkdir(o->outdir, 0755), 0);
    char a[8192], so[PATH_CAP], se[PATH_CAP], cmd[16384];
    expand(args, o->outdir, model ? model : "", a, sizeof a);
    fmt(so, sizeof so, "%s/stdout.txt", work_dir());
    fmt(se, sizeof se, "%s/stderr.txt", work_dir());
    /* cd into the output directory: a tool that writes next to its working directory
     * is caught too; stdin is empty so that nothing waits for a terminal */
    fmt(cmd, sizeof cmd, "(cd '%s' && timeout -k 5 60 '%s' %s <'/dev/null' >'%s' 2>'%s')", o->outdir,
             qk_test_bin(tool), a, so, se);
    o->rc = qk_test_run(cmd, NULL);
    o->out = qk_test_read_file(so, NULL);
    o->err = qk_test_read_file(se, NULL);
    if (!o->out) o->out = strdup("");
    if (!o->err) o->err = strdup("");
}

/* ------------------------------------------------------------- verdicts ------------- */

typedef struct tally {
    char *log;       /* failures, one per line */
    size_t len, cap;
    int n_cases, n_failed;
} tally;

static void tally_add(tally *t, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void tally_add(tally *t, const char *f, ...) {
    char line[4096];
    va_list ap;
    va_start(ap, f);
    vsnprintf(line, sizeof line, f, ap);
    va_end(ap);
    size_t l = strlen(line);
    if (t->len + l + 2 > t->cap) {
        t->cap = (t->len + l + 2) * 2;
        t->log = realloc(t->log, t->cap);
    }
    memcpy(t->log + t->len, line, l);
    t->len += l;
    t->log[t->len++] = '\n';
    t->log[t->len] = 0;
}

static int verbose(void) {
    const char *v = getenv("QK_BAD_INPUTS_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

/* The last non-empty line of s, copied to buf. */
static void last_line(const char *s, char *buf, size_t cap) {
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    size_t b = n;
    while (b > 0 && s[b - 1] != '\n') b--;
    size_t l = n - b < cap - 1 ? n - b : cap - 1;
    memcpy(buf, s + b, l);
    buf[l] = 0;
}

/* Lines of s that contain sub. */
static int count_lines_with(const char *s, const char *sub) {
    int n = 0;
    while (*s) {
        const char *e = strchr(s, '\n');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        const char *p = strstr(s, sub);
        if (p && p < s + l) n++;
        s += l + (e != NULL);
    }
    return n;
}

/* Stdout of a failed run must be empty, with two exceptions that hold no figure: qk-quantize
 * prints llama-quantize's per-tensor progress lines as it goes (a NaN is found in the middle
 * of the run), but none of its summary lines; qk-perplexity --kl-divergence prints its
 * table's column header before the first chunk's logits are checked. Returns a
 * description of the problem or NULL. */
static const char *stdout_problem(const char *tool, const char *out) {
    size_t ol = strlen(out);
    while (ol > 0 && (out[ol - 1] == '\n' || out[ol - 1] == ' ')) ol--;
    if (ol == 0) return NULL;
    if (!strcmp(tool, "qk-perplexity")) {
        const char *p = out;
        while (*p == '\n') p++;
        const char *e = strchr(p, '\n');
        const size_t l = e ? (size_t)(e - p) : strlen(p);
        const bool header = !strncmp(p, "chunk ", 6) && strstr(p, "KL Divergence") && strstr(p, "KL Divergence") < p + l;
        for (p += l; header && *p == '\n'; p++) {
        }
        return header && !*p ? NULL : "stdout not empty";
    }
    if (strcmp(tool, "qk-quantize") != 0) return "stdout not empty";
    static const char *const summary[] = {"model size", "quant size", "output:", "total time", "\"tensors\""};
    for (size_t k = 0; k < sizeof summary / sizeof *summary; k++)
        if (strstr(out, summary[k])) return "stdout holds a result summary";
    return NULL;
}

static const char *const crash_markers[] = {"Segmentation", "Aborted", "core dumped", "AddressSanitizer",
                                            "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:",
                                            "Assertion", "double free", "free(): ", "malloc(): ",
                                            "stack smashing", "Floating point exception", "Killed"};

/* Judge an error run: see the file comment. want: keyword of the error line (case
 * insensitive), NULL for none. Returns 1 when the case passed. */
static int judge_error(tally *t, const char *tool, const char *label, const char *args, const char *model,
                       const char *want) {
    outcome o;
    const uint64_t before = dir_fingerprint(g_in);
    run(&o, tool, args, model);
    char problem[8192] = "", last[2048];
    last_line(o.err, last, sizeof last);
    char prefix[64];
    fmt(prefix, sizeof prefix, "%s: error: ", tool);
    char found[PATH_CAP];
    const char *sp = stdout_problem(tool, o.out);

    if (o.rc == 0) fmt(problem, sizeof problem, "exit status 0");
    else if (o.rc == 124 || o.rc == 137) fmt(problem, sizeof problem, "timed out (hang)");
    else if (o.rc < 0 || o.rc > 123) fmt(problem, sizeof problem, "exit status %d (signal or shell error)", o.rc);
    for (size_t k = 0; !problem[0] && k < sizeof crash_markers / sizeof *crash_markers; k++)
        if (strstr(o.err, crash_markers[k]) || strstr(o.out, crash_markers[k]))
            fmt(problem, sizeof problem, "output mentions '%s'", crash_markers[k]);
    if (!problem[0] && strncmp(last, prefix, strlen(prefix)) != 0)
        fmt(problem, sizeof problem, "last stderr line is not '%s...'", prefix);
    if (!problem[0] && count_lines_with(o.err, ": error:") != 1)
        fmt(problem, sizeof problem, "%d error lines on stderr", count_lines_with(o.err, ": error:"));
    if (!problem[0] && strlen(last) < strlen(prefix) + 8)
        fmt(problem, sizeof problem, "error line says nothing");
    if (!problem[0] && want && !strcasestr(last, want))
        fmt(problem, sizeof problem, "error line lacks '%s'", want);
    if (!problem[0] && sp) fmt(problem, sizeof problem, "%s (%zu bytes: %.200s...)", sp, strlen(o.out), o.out);
    if (!problem[0] && find_file(o.outdir, "", strcmp(tool, "qk-study") == 0, found, sizeof found))
        fmt(problem, sizeof problem, "left a file behind: %s", found);
    if (!problem[0] && dir_fingerprint(g_in) != before)
        fmt(problem, sizeof problem, "the input directory changed (a file appeared or was rewritten)");

    t->n_cases++;
    if (problem[0]) {
        t->n_failed++;
        tally_add(t, "FAIL %s [%s] `%s %s`: %s; rc=%d; stderr: %s", tool, label, tool, args, problem, o.rc,
                  o.err);
    }
    if (verbose())
        fprintf(stderr, "%-4s %-13s %-26s rc=%d  %s\n", problem[0] ? "FAIL" : "ok", tool, label, o.rc, last);
    outcome_free(&o);
    return !problem[0];
}

/* A run that must succeed (baselines, inputs that are valid for this tool). */
static int judge_ok(tally *t, const char *tool, const char *label, const char *args, const char *model,
                    int want_stdout) {
    outcome o;
    run(&o, tool, args, model);
    char problem[512] = "";
    if (o.rc != 0) fmt(problem, sizeof problem, "exit status %d", o.rc);
    else if (count_lines_with(o.err, ": error:")) fmt(problem, sizeof problem, "error line on stderr");
    else if (want_stdout && !o.out[0]) fmt(problem, sizeof problem, "nothing on stdout");
    t->n_cases++;
    if (problem[0]) {
        t->n_failed++;
        tally_add(t, "FAIL %s [%s] `%s %s` should succeed: %s; stderr: %s", tool, label, tool, args, problem,
                  o.err);
    }
    if (verbose()) {
        char last[512];
        last_line(o.err[0] ? o.err : o.out, last, sizeof last);
        fprintf(stderr, "%-4s %-13s %-26s rc=%d  (valid input) %s\n", problem[0] ? "FAIL" : "ok", tool, label,
                o.rc, last);
    }
    outcome_free(&o);
    return !problem[0];
}

/* A failing Check test leaves with _exit(): it removes its own directory first (the suite's
 * parent process removes the temporary directory when it exits). */
static void remove_tmpdir_now(void) {
    char cmd[PATH_CAP + 16];
    fmt(cmd, sizeof cmd, "rm -rf '%s'", work_dir());
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", work_dir());
}

/* Fail with the list of failed cases (all of it on stderr; Check's message is capped). */
static void tally_finish(tally *t, const char *what) {
    ck_assert_msg(t->n_cases > 0, "%s: no case ran", what);
    if (t->n_failed) {
        fprintf(stderr, "%s: %d of %d cases failed:\n%s", what, t->n_failed, t->n_cases, t->log);
        remove_tmpdir_now();
    }
    ck_assert_msg(t->n_failed == 0, "%s: %d of %d cases failed (list on stderr), first: %.1500s", what,
                  t->n_failed, t->n_cases, t->log ? t->log : "");
    free(t->log);
}

/* ------------------------------------------------------------- the tables ----------- */

/* Files that no GGUF reader may accept, with the keyword of the expected message. */
static const struct bad_gguf {
    const char *file, *want;
} bad_ggufs[] = {
    {"missing.gguf", "No such file"},
    {"adir.gguf", "not a regular file"},
    {"empty.gguf", "GGUF"},
    {"notgguf.gguf", "not a GGUF file"},
    {"trunc-header.gguf", "GGUF"},
    {"trunc-metadata.gguf", "truncated"},
    {"trunc-tinfo.gguf", "past the end"},
    {"trunc-data.gguf", "token_embd.weight"},
    {"trunc-1byte.gguf", "blk.4.ffn_norm.weight"},
    {"type-unknown.gguf", "type"},
    {"type-q8k-patched.gguf", "blk.0.attn_q.weight"},
    {"hostile-nkv.gguf", "GGUF"},
};

/* How each tool takes a model (%M); @O is the case's output directory. */
static const struct model_cmd {
    const char *tool, *args;
    int prints; /* the valid run prints its result on stdout */
} model_cmds[] = {
    {"qk-info", "%M", 1},
    {"qk-info", "--json %M", 1},
    {"qk-quantize", "%M @O/q.gguf Q8_0 1 --json @O/q.json", 1},
    {"qk-perplexity", "-m %M -f @I/text.txt -c 8 -t 1 --json @O/ppl.json --kl-divergence-base @O/base.logits", 1},
    {"qk-bench", "-m %M -p 8 -n 4 -r 1 -t 1 -o json --output-file @O/bench.json", 1},
    {"qk-tokenize", "-m %M -p 'Hello ab'", 1},
    {"qk-synth", "--shape smollm2-135m --vocab %M --layers 1 -o @O/synth.gguf", 1},
    {"qk-study", "-m %M -f @I/text.txt -o @O/study --types Q8_0 -c 8 --chunks 1 -r 1 -p 8 -n 4 -t 1 --no-plots", 1},
};

static void sweep_models(tally *t, const char *tool) {
    for (size_t c = 0; c < sizeof model_cmds / sizeof *model_cmds; c++) {
        const struct model_cmd *mc = &model_cmds[c];
        if (strcmp(mc->tool, tool) != 0) continue;
        /* qk-synth writes a 30 MB model for a valid vocab: its baseline is the smallest
         * case it accepts, run in the qk-synth test below */
        if (strcmp(tool, "qk-synth") != 0 && strcmp(tool, "qk-study") != 0)
            judge_ok(t, tool, "tiny.gguf", mc->args, in_path("tiny.gguf"), mc->prints);
        for (size_t b = 0; b < sizeof bad_ggufs / sizeof *bad_ggufs; b++) {
            const char *want = bad_ggufs[b].want;
            /* qk-study checks the path itself before it runs qk-quantize */
            if (!strcmp(tool, "qk-study") && (!strcmp(bad_ggufs[b].file, "missing.gguf") ||
                                              !strcmp(bad_ggufs[b].file, "adir.gguf")))
                want = bad_ggufs[b].file;
            judge_error(t, tool, bad_ggufs[b].file, mc->args, in_path(bad_ggufs[b].file), want);
        }
    }
}

/* Unknown option / missing value, per tool: args given after the tool name. */
static const struct opt_case {
    const char *tool, *unknown, *missing, *missing_want;
} opt_cases[] = {
    {"qk-quantize", "--frobnicate @I/tiny.gguf @O/q.gguf Q8_0", "@I/tiny.gguf @O/q.gguf Q8_0 --json", "--json"},
    {"qk-perplexity", "-m @I/tiny.gguf -f @I/text.txt --frobnicate", "-f @I/text.txt -m", "-m"},
    {"qk-bench", "-m @I/tiny.gguf --frobnicate 3", "-m @I/tiny.gguf -r", "-r"},
    {"qk-info", "--frobnicate @I/tiny.gguf", "--json", "file"},
    {"qk-tokenize", "-m @I/tiny.gguf -p Hello --frobnicate", "-p Hello -m", "-m"},
    {"qk-synth", "--shape smollm2-135m --vocab @I/tiny.gguf -o @O/s.gguf --frobnicate",
     "--shape smollm2-135m --vocab @I/tiny.gguf -o", "-o"},
    {"qk-report", "--frobnicate --ppl @I/nofields.json -o @O", "-o @O --ppl", "--ppl"},
    {"qk-study", "-m @I/tiny.gguf -f @I/text.txt -o @O/s --frobnicate 1", "-m @I/tiny.gguf -f @I/text.txt -o", "-o"},
    {"qk-prompts", "-f @I/text.txt -o @O/p.txt --frobnicate 2", "-f @I/text.txt -o", "-o"},
};

static void sweep_options(tally *t, const char *tool) {
    for (size_t c = 0; c < sizeof opt_cases / sizeof *opt_cases; c++) {
        if (strcmp(opt_cases[c].tool, tool) != 0) continue;
        judge_error(t, tool, "unknown option", opt_cases[c].unknown, NULL, "--frobnicate");
        judge_error(t, tool, "missing option value", opt_cases[c].missing, NULL, opt_cases[c].missing_want);
    }
}

/* Text inputs: missing, directory, empty, whitespace only. */
static const struct bad_text {
    const char *file, *want;
} bad_texts[] = {
    {"missing.txt", "missing.txt"},
    {"adir.gguf", "adir.gguf"},
    {"empty.txt", "empty"},
    {"ws.txt", NULL},
};

/* ------------------------------------------------------------- the tests ------------ */

START_TEST(test_qk_info) {
    fixtures();
    tally t = {0};
    sweep_models(&t, "qk-info");
    sweep_options(&t, "qk-info");
    /* well-formed files: qk-info lists what is there, whatever the engine can run */
    const char *valid[] = {"tiny-q81.gguf", "tiny-q8k.gguf", "tiny-nan.gguf", "type-q81-patched.gguf"};
    for (size_t i = 0; i < sizeof valid / sizeof *valid; i++)
        judge_ok(&t, "qk-info", valid[i], "%M", in_path(valid[i]), 1);
    judge_error(&t, "qk-info", "two files", "@I/tiny.gguf @I/tiny.gguf", NULL, "one");
    tally_finish(&t, "qk-info");
}
END_TEST

/* Run `sh -c cmd` with stdout a pipe nobody reads (its read end closed before the start)
 * and stderr to /dev/null; returns the wait status. */
static int run_stdout_closed(const char *cmd) {
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    close(fd[0]);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(fd[1], 1);
        dup2(null, 2);
        signal(SIGPIPE, SIG_DFL);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return st;
}

/* qk-quantize killed while writing (here by SIGPIPE: its ~7 KiB of per-tensor lines go to
 * a closed pipe, so the first 4 KiB buffer flush kills it, after the output file was
 * opened) removes its temporary file before it dies; whatever the timing, the output
 * directory may hold nothing but a complete, readable q.gguf. */
START_TEST(test_qk_quantize_killed_leaves_nothing) {
    fixtures();
    char dir[PATH_CAP], cmd[3 * PATH_CAP];
    fmt(dir, sizeof dir, "%s/killed", work_dir());
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    fmt(cmd, sizeof cmd, "exec '%s' '%s' '%s/q.gguf' Q4_K_M 1", qk_test_bin("qk-quantize"), qk_test_shared(STORIES), dir);
    const int st = run_stdout_closed(cmd);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE, "qk-quantize was not stopped by SIGPIPE (status %d)", st);
    char found[PATH_CAP], out[PATH_CAP];
    fmt(out, sizeof out, "%s/q.gguf", dir);
    qk_err err = {{0}};
    gguf_ctx *g = access(out, F_OK) == 0 ? gguf_open(out, &err) : NULL;
    if (access(out, F_OK) == 0) ck_assert_msg(g != NULL, "a killed qk-quantize left a broken %s: %s", out, err.msg);
    gguf_close(g);
    unlink(out);
    const int left = find_file(dir, "", 0, found, sizeof found);
    if (left) remove_tmpdir_now(); /* Check's failure exit skips testutil's cleanup */
    ck_assert_msg(!left, "killed qk-quantize left %s behind", found);
}
END_TEST

START_TEST(test_qk_quantize) {
    fixtures();
    tally t = {0};
    sweep_models(&t, "qk-quantize");
    sweep_options(&t, "qk-quantize");
    const char *args = "%M @O/q.gguf Q8_0 1 --json @O/q.json";
    /* NaN weights: refused, naming the tensor */
    judge_error(&t, "qk-quantize", "NaN weight (F32)", args, in_path("tiny-nan.gguf"), "blk.1.ffn_up.weight");
    judge_error(&t, "qk-quantize", "NaN weight (F16)", args, in_path("tiny-nan-f16.gguf"), "blk.0.attn_k.weight");
    /* the same with --gptq, whose calibration run reads the weights before the writer does */
    char gptq[2 * PATH_CAP];
    fmt(gptq, sizeof gptq, "--gptq '%s' %s", qk_test_shared("data/calibration/wiki.test.tail.raw"), args);
    judge_error(&t, "qk-quantize", "NaN weight, --gptq", gptq, in_path("tiny-nan.gguf"), "blk.1.ffn_up.weight");
    /* an already quantized tensor (Q8_1, which nothing multiplies): refused naming it, and
     * dequantized with --allow-requantize as llama-quantize does */
    judge_error(&t, "qk-quantize", "Q8_1 matrix", args, in_path("tiny-q81.gguf"), "blk.0.attn_q.weight");
    judge_error(&t, "qk-quantize", "Q8_1 patched", "%M @O/q.gguf Q4_K_M 1", in_path("type-q81-patched.gguf"),
                "blk.0.attn_q.weight");
    judge_ok(&t, "qk-quantize", "Q8_1 --allow-requantize", "--allow-requantize %M @O/q.gguf Q8_0 1",
             in_path("tiny-q81.gguf"), 1);
    /* output in a directory that does not exist */
    judge_error(&t, "qk-quantize", "output dir missing", "%M @O/nodir/q.gguf Q8_0 1", in_path("tiny.gguf"), "nodir");
    judge_error(&t, "qk-quantize", "output is the input", "%M %M Q8_0 1", in_path("tiny.gguf"), "input");
    judge_error(&t, "qk-quantize", "unknown type", "%M @O/q.gguf Q9_9 1", in_path("tiny.gguf"), "Q9_9");
    tally_finish(&t, "qk-quantize");
}
END_TEST

START_TEST(test_qk_perplexity) {
    fixtures();
    tally t = {0};
    sweep_models(&t, "qk-perplexity");
    sweep_options(&t, "qk-perplexity");
    const char *ppl = "-m %M -f @I/text.txt -c 8 -t 1 --json @O/ppl.json --kl-divergence-base @O/base.logits";
    judge_error(&t, "qk-perplexity", "Q8_1 matrix", ppl, in_path("tiny-q81.gguf"), "Q8_1");
    judge_error(&t, "qk-perplexity", "Q8_K matrix", ppl, in_path("tiny-q8k.gguf"), "Q8_K");
    judge_error(&t, "qk-perplexity", "Q8_1 patched", ppl, in_path("type-q81-patched.gguf"), "Q8_1");
    judge_error(&t, "qk-perplexity", "NaN weight (F32)", ppl, in_path("tiny-nan.gguf"), "NaN");
    judge_error(&t, "qk-perplexity", "NaN weight (F16)", ppl, in_path("tiny-nan-f16.gguf"), "NaN");
    /* texts */
    for (size_t i = 0; i < sizeof bad_texts / sizeof *bad_texts; i++) {
        char a[1024], label[128];
        fmt(a, sizeof a, "-m %%M -f @I/%s -c 8 -t 1 --json @O/ppl.json --kl-divergence-base @O/base.logits",
                 bad_texts[i].file);
        fmt(label, sizeof label, "text %s", bad_texts[i].file);
        judge_error(&t, "qk-perplexity", label, a, in_path("tiny.gguf"), bad_texts[i].want ? bad_texts[i].want : "tokens");
        fmt(a, sizeof a, "-m %%M --prompts @I/%s -c 8 -t 1 --json @O/ppl.json --kl-divergence-base @O/p.nll",
                 bad_texts[i].file);
        fmt(label, sizeof label, "prompts %s", bad_texts[i].file);
        judge_error(&t, "qk-perplexity", label, a, in_path("tiny.gguf"),
                    bad_texts[i].want ? bad_texts[i].want : "no non-empty lines");
    }
    judge_ok(&t, "qk-perplexity", "prompts text.txt", "-m %M --prompts @I/text.txt -c 8 -t 1", in_path("tiny.gguf"), 1);
    /* base-logits files for --kl-divergence */
    const struct { const char *file, *want; } bases[] = {
        {"missing.logits", "missing.logits"}, {"adir.gguf", "adir.gguf"}, {"empty.logits", "empty.logits"},
        {"garbage.logits", "garbage.logits"}, {"tiny.gguf", "tiny.gguf"}};
    for (size_t i = 0; i < sizeof bases / sizeof *bases; i++) {
        char a[1024], label[128];
        fmt(a, sizeof a, "-m %%M --kl-divergence-base @I/%s --kl-divergence -t 1 --json @O/kld.json", bases[i].file);
        fmt(label, sizeof label, "kld base %s", bases[i].file);
        judge_error(&t, "qk-perplexity", label, a, in_path("tiny.gguf"), bases[i].want);
    }
    /* a real base file from the tiny model, then bases that do not fit */
    judge_ok(&t, "qk-perplexity", "make base", "-m %M -f @I/text.txt -c 8 -t 1 --kl-divergence-base @I/tiny.logits",
             in_path("tiny.gguf"), 1);
    {
        size_t n = 0;
        char *b = qk_test_read_file(in_path("tiny.logits"), &n);
        ck_assert_msg(b != NULL && n > 1000, "no base file");
        write_bytes("half.logits", b, n / 2);
        write_bytes("header.logits", b, 40);
        free(b);
    }
    const char *kld = "-m %M --kl-divergence-base @I/tiny.logits --kl-divergence -t 1 --json @O/kld.json";
    judge_ok(&t, "qk-perplexity", "kld tiny vs tiny", kld, in_path("tiny.gguf"), 1);
    judge_error(&t, "qk-perplexity", "kld base truncated",
                "-m %M --kl-divergence-base @I/half.logits --kl-divergence -t 1 --json @O/kld.json", in_path("tiny.gguf"),
                "half.logits");
    judge_error(&t, "qk-perplexity", "kld base header only",
                "-m %M --kl-divergence-base @I/header.logits --kl-divergence -t 1 --json @O/kld.json",
                in_path("tiny.gguf"), "header.logits");
    judge_error(&t, "qk-perplexity", "kld base other vocab", kld, qk_test_shared(STORIES), "n_vocab");
    judge_error(&t, "qk-perplexity", "kld NaN weight", kld, in_path("tiny-nan.gguf"), "NaN");
    judge_error(&t, "qk-perplexity", "prompts NaN weight", "-m %M --prompts @I/text.txt -c 8 -t 1 --json @O/p.json",
                in_path("tiny-nan.gguf"), "NaN");

    /* outputs in a directory that does not exist; bad numbers */
    judge_error(&t, "qk-perplexity", "json dir missing", "-m %M -f @I/text.txt -c 8 -t 1 --json @O/nodir/p.json",
                in_path("tiny.gguf"), "nodir");
    judge_error(&t, "qk-perplexity", "base dir missing",
                "-m %M -f @I/text.txt -c 8 -t 1 --kl-divergence-base @O/nodir/b.logits", in_path("tiny.gguf"), "nodir");
    judge_error(&t, "qk-perplexity", "json is the text", "-m %M -f @I/text.txt -c 8 --json @I/text.txt",
                in_path("tiny.gguf"), "is the input");
    judge_error(&t, "qk-perplexity", "odd n_ctx", "-m %M -f @I/text.txt -c 9", in_path("tiny.gguf"), "-c 9");
    judge_error(&t, "qk-perplexity", "n_ctx not a number", "-m %M -f @I/text.txt -c abc", in_path("tiny.gguf"), "abc");
    judge_error(&t, "qk-perplexity", "text too short", "-m %M -f @I/text.txt -c 4096 --json @O/p.json",
                in_path("tiny.gguf"), "tokens");
    tally_finish(&t, "qk-perplexity");
}
END_TEST

START_TEST(test_qk_bench) {
    fixtures();
    tally t = {0};
    sweep_models(&t, "qk-bench");
    sweep_options(&t, "qk-bench");
    const char *b = "-m %M -p 8 -n 4 -r 1 -t 1 --output-file @O/bench.json --output-file @O/bench.csv";
    judge_error(&t, "qk-bench", "Q8_1 matrix", b, in_path("tiny-q81.gguf"), "Q8_1");
    judge_error(&t, "qk-bench", "Q8_K matrix", b, in_path("tiny-q8k.gguf"), "Q8_K");
    judge_error(&t, "qk-bench", "Q8_1 patched", b, in_path("type-q81-patched.gguf"), "Q8_1");
    /* the second model is bad: nothing may be written for the first either */
    judge_error(&t, "qk-bench", "second model bad", "-m @I/tiny.gguf -m %M -p 8 -n 0 -r 1 -t 1 --output-file @O/b.json",
                in_path("trunc-data.gguf"), "trunc-data.gguf");
    judge_error(&t, "qk-bench", "output dir missing", "-m %M -p 8 -n 0 -r 1 -t 1 --output-file @O/nodir/b.json",
                in_path("tiny.gguf"), "nodir");
    judge_error(&t, "qk-bench", "bad -p", "-m %M -p x8 -n 0", in_path("tiny.gguf"), "x8");
    judge_error(&t, "qk-bench", "bad format", "-m %M -o yaml", in_path("tiny.gguf"), "yaml");
    judge_ok(&t, "qk-bench", "NaN weight", "-m %M -p 8 -n 4 -r 1 -t 1", in_path("tiny-nan.gguf"), 1);
    tally_finish(&t, "qk-bench");
}
END_TEST

START_TEST(test_qk_tokenize) {
    fixtures();
    tally t = {0};
    sweep_models(&t, "qk-tokenize");
    sweep_options(&t, "qk-tokenize");
    for (size_t i = 0; i < sizeof bad_texts / sizeof *bad_texts; i++) {
        char a[512];
        fmt(a, sizeof a, "-m %%M -f @I/%s", bad_texts[i].file);
        if (bad_texts[i].want)
            judge_error(&t, "qk-tokenize", bad_texts[i].file, a, in_path("tiny.gguf"), bad_texts[i].want);
        else /* whitespace is text: llama-tokenize tokenizes it too */
            judge_ok(&t, "qk-tokenize", bad_texts[i].file, a, in_path("tiny.gguf"), 1);
    }
    judge_error(&t, "qk-tokenize", "empty -p", "-m %M -p ''", in_path("tiny.gguf"), "empty");
    judge_error(&t, "qk-tokenize", "no vocabulary", "-m %M -p Hello", in_path("novocab.gguf"), "tokenizer");
    judge_error(&t, "qk-tokenize", "two text sources", "-m %M -p Hello -f @I/text.txt", in_path("tiny.gguf"), "one");
    /* only the vocabulary is read: weights the engine cannot run do not matter */
    judge_ok(&t, "qk-tokenize", "tiny-q81.gguf", "-m %M -p Hello", in_path("tiny-q81.gguf"), 1);
    judge_ok(&t, "qk-tokenize", "tiny-nan.gguf", "-m %M -p Hello", in_path("tiny-nan.gguf"), 1);
    tally_finish(&t, "qk-tokenize");
}
END_TEST

START_TEST(test_qk_synth) {
    fixtures();
    tally t = {0};
    sweep_models(&t, "qk-synth");
    sweep_options(&t, "qk-synth");
    const char *good = "--shape smollm2-135m --vocab @I/tiny.gguf --layers 1";
    char a[1024];
    fmt(a, sizeof a, "%s -o @O/nodir/s.gguf", good);
    judge_error(&t, "qk-synth", "output dir missing", a, NULL, "nodir");
    judge_error(&t, "qk-synth", "output is the vocab", "--shape smollm2-135m --vocab %M --layers 1 -o %M",
                in_path("tiny.gguf"), "vocab file");
    judge_error(&t, "qk-synth", "unknown shape", "--shape gpt-5 --vocab @I/tiny.gguf -o @O/s.gguf", NULL, "gpt-5");
    fmt(a, sizeof a, "%s --type Q4_0 -o @O/s.gguf", good);
    judge_error(&t, "qk-synth", "bad --type", a, NULL, "Q4_0");
    fmt(a, sizeof a, "%s --seed abc -o @O/s.gguf", good);
    judge_error(&t, "qk-synth", "bad --seed", a, NULL, "abc");
    fmt(a, sizeof a, "--shape smollm2-135m --vocab @I/tiny.gguf --layers x -o @O/s.gguf");
    judge_error(&t, "qk-synth", "bad --layers", a, NULL, "x");
    fmt(a, sizeof a, "%s -t many -o @O/s.gguf", good);
    judge_error(&t, "qk-synth", "bad -t", a, NULL, "many");
    judge_error(&t, "qk-synth", "vocab without tokens", "--shape smollm2-135m --vocab %M -o @O/s.gguf",
                in_path("novocab.gguf"), "tokenizer.ggml.tokens");
    tally_finish(&t, "qk-synth");
}
END_TEST

START_TEST(test_qk_prompts) {
    fixtures();
    tally t = {0};
    sweep_options(&t, "qk-prompts");
    judge_ok(&t, "qk-prompts", "text.txt", "-f @I/text.txt -o @O/p.txt -n 3 --min-chars 2", NULL, 0);
    for (size_t i = 0; i < sizeof bad_texts / sizeof *bad_texts; i++) {
        char a[512];
        fmt(a, sizeof a, "-f @I/%s -o @O/p.txt", bad_texts[i].file);
        judge_error(&t, "qk-prompts", bad_texts[i].file, a, NULL, bad_texts[i].want ? bad_texts[i].want : "whitespace");
    }
    judge_error(&t, "qk-prompts", "no line qualifies", "-f @I/text.txt -o @O/p.txt --min-chars 500", NULL, NULL);
    judge_error(&t, "qk-prompts", "output dir missing", "-f @I/text.txt -o @O/nodir/p.txt --min-chars 2", NULL,
                "nodir");
    judge_error(&t, "qk-prompts", "bad -n", "-f @I/text.txt -o @O/p.txt -n 0", NULL, "-n");
    tally_finish(&t, "qk-prompts");
}
END_TEST

START_TEST(test_qk_report) {
    fixtures();
    tally t = {0};
    sweep_options(&t, "qk-report");
    const struct { const char *file, *want; } js[] = {
        {"missing.json", "missing.json"}, {"adir.gguf", "adir.gguf"},   {"empty.json", "empty.json"},
        {"tiny.gguf", "tiny.gguf"},       {"trunc.json", "trunc.json"}, {"array.json", "array.json"},
        {"nofields.json", "nofields.json"}, {"badtype.json", "badtype.json"}};
    for (size_t i = 0; i < sizeof js / sizeof *js; i++) {
        char a[512], label[128];
        fmt(a, sizeof a, "--ppl @I/%s -o @O --no-plots", js[i].file);
        fmt(label, sizeof label, "--ppl %s", js[i].file);
        judge_error(&t, "qk-report", label, a, NULL, js[i].want);
        fmt(a, sizeof a, "--bench @I/%s -o @O --no-plots", js[i].file);
        fmt(label, sizeof label, "--bench %s", js[i].file);
        judge_error(&t, "qk-report", label, a, NULL, js[i].want);
    }
    /* a valid result, written where there is no directory */
    judge_ok(&t, "qk-perplexity", "make ppl json", "-m %M -f @I/text.txt -c 8 -t 1 --json @I/ppl-ok.json",
             in_path("tiny.gguf"), 1);
    judge_ok(&t, "qk-report", "ppl-ok.json", "--ppl @I/ppl-ok.json -o @O --no-plots", NULL, 1);
    judge_error(&t, "qk-report", "-o missing", "--ppl @I/ppl-ok.json -o @O/nodir --no-plots", NULL, "nodir");
    judge_error(&t, "qk-report", "-d missing", "-d @I/nodir --no-plots", NULL, "nodir");
    judge_error(&t, "qk-report", "-d empty dir", "-d @O --no-plots", NULL, NULL);
    judge_error(&t, "qk-report", "no input", "-o @O", NULL, "input");
    tally_finish(&t, "qk-report");
}
END_TEST

START_TEST(test_qk_study) {
    fixtures();
    tally t = {0};
    sweep_models(&t, "qk-study");
    sweep_options(&t, "qk-study");
    for (size_t i = 0; i < sizeof bad_texts / sizeof *bad_texts; i++) {
        char a[1024], label[64];
        fmt(a, sizeof a, "-m %%M -f @I/%s -o @O/study --types Q8_0 -c 8 --chunks 1 -r 1 -p 8 -n 4 -t 1 --no-plots",
                 bad_texts[i].file);
        fmt(label, sizeof label, "text %s", bad_texts[i].file);
        judge_error(&t, "qk-study", label, a, in_path("tiny.gguf"), bad_texts[i].want ? bad_texts[i].want : "ws.txt");
    }
    judge_error(&t, "qk-study", "Q8_1 matrix",
                "-m %M -f @I/text.txt -o @O/study --types Q8_0 -c 8 --chunks 1 -r 1 -p 8 -n 4 -t 1 --no-plots",
                in_path("tiny-q81.gguf"), "Q8_1");
    judge_error(&t, "qk-study", "bad type", "-m %M -f @I/text.txt -o @O/study --types Q4_K_X", in_path("tiny.gguf"),
                "Q4_K_X");
    tally_finish(&t, "qk-study");
}
END_TEST

int main(void) {
    Suite *s = suite_create("bad_inputs");
    TCase *tc = tcase_create("bad_inputs");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_qk_info);
    tcase_add_test(tc, test_qk_quantize);
    tcase_add_test(tc, test_qk_quantize_killed_leaves_nothing);
    tcase_add_test(tc, test_qk_perplexity);
    tcase_add_test(tc, test_qk_bench);
    tcase_add_test(tc, test_qk_tokenize);
    tcase_add_test(tc, test_qk_synth);
    tcase_add_test(tc, test_qk_prompts);
    tcase_add_test(tc, test_qk_report);
    tcase_add_test(tc, test_qk_study);
    suite_add_tcase(s, tc);
    return qk_test_main(s);
}
