/*
 * bench_binvs.c — this build against another build's qk-bench, repetitions interleaved.
 * Protocol and the child's command line: bench_binvs.h.
 */
#include "bench_binvs.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "proc.h"

/* A temporary directory for the child's files (mkdtemp under $TMPDIR or /tmp). */
static int make_tmpdir(char *buf, size_t cap, qk_err *err) {
    const char *base = getenv("TMPDIR");
    snprintf(buf, cap, "%s/qk-binvs-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(buf)) return qk_errf(err, "cannot create a temporary directory in %s", base ? base : "/tmp");
    return 0;
}

/* The last non-empty line of a file, for error messages. */
static void last_line(const char *path, char *buf, size_t cap) {
    buf[0] = 0;
    char *text = qk_file_read(path, NULL, NULL);
    if (!text) return;
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r')) text[--n] = 0;
    const char *nl = strrchr(text, '\n');
    snprintf(buf, cap, "%s", nl ? nl + 1 : text);
    free(text);
}

/* One repetition of the other build: its time in *ns, its build_commit and whether it read
 * the weights from the file mapping. mmp: "0" or "1" to pass as -mmp, NULL for a build
 * without the switch. */
static int child_rep(const char *path, const qk_bench_test *t, bool probes_off, const char *mmp, const char *dir,
                     uint64_t *ns, char *commit, size_t commit_cap, bool *use_mmap, qk_err *err) {
    char p[16], n[16], b[16], th[16], pg[40], d[16], ub[16], json[4200], log[4200];
    snprintf(json, sizeof json, "%s/rep.json", dir);
    snprintf(log, sizeof log, "%s/child.log", dir);
    const bool pair = t->n_prompt > 0 && t->n_gen > 0;
    snprintf(p, sizeof p, "%d", pair ? 0 : t->n_prompt);
    snprintf(n, sizeof n, "%d", pair ? 0 : t->n_gen);
    snprintf(pg, sizeof pg, "%d,%d", t->n_prompt, t->n_gen);
    snprintf(b, sizeof b, "%d", t->n_batch);
    snprintf(th, sizeof th, "%d", t->n_threads);
    snprintf(d, sizeof d, "%d", t->n_depth);
    snprintf(ub, sizeof ub, "%d", t->n_ubatch);
    char *argv[32];
    int k = 0;
    char *fixed[] = {(char *)path, "-m", (char *)t->model, "-p", p, "-n", n, "-b", b, "-t", th, "-r", "1", "-o", "none",
                     "--output-file", json};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) argv[k++] = fixed[i];
    if (pair) argv[k++] = "-pg", argv[k++] = pg;
    if (t->n_depth > 0) argv[k++] = "-d", argv[k++] = d;
    if (t->n_ubatch > 0) argv[k++] = "-ub", argv[k++] = ub;
    if (probes_off) argv[k++] = "--no-roofline", argv[k++] = "--no-peak";
    if (mmp) argv[k++] = "-mmp", argv[k++] = (char *)mmp;
    argv[k] = NULL;
    unlink(log);
    qk_err e;
    int rc = qk_proc_run(argv, NULL, log, &e);
    if (rc != 0) {
        char line[512];
        last_line(log, line, sizeof line);
        return qk_errf(err, "%s: %s", path, rc < 0 ? e.msg : line[0] ? line : "failed");
    }
    char *text = qk_file_read(json, NULL, &e);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *o = cJSON_GetArrayItem(j, 0);
    const cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "samples_ns"), 0);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "build_commit");
    int ok = cJSON_IsNumber(s) && s->valuedouble > 0;
    if (ok) *ns = (uint64_t)s->valuedouble;
    *use_mmap = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "use_mmap"));
    snprintf(commit, commit_cap, "%s", cJSON_IsString(c) ? c->valuestring : "other");
    cJSON_Delete(j);
    return ok ? 0 : qk_errf(err, "%s wrote no samples_ns — is it a qk-bench with -o json samples?", path);
}

/* PATH's qk-bench --help text (malloc'd), or NULL: which switches the other build has
 * (older builds lack the probes' off switches and -mmp). */
static char *help_text(const char *path, const char *dir) {
    char log[4200];
    snprintf(log, sizeof log, "%s/help.txt", dir);
    char *argv[] = {(char *)path, "--help", NULL};
    qk_err e;
    if (qk_proc_run(argv, NULL, log, &e) != 0) return NULL;
    return qk_file_read(log, NULL, NULL);
}

int qk_bench_run_binary_pair(const qk_model *ma, const char *path, const qk_bench_test *t, int reps, bool profile,
                             qk_bench_progress_fn progress, void *user, qk_bench_result *out_a,
                             qk_bench_result *out_b, qk_err *err) {
    memset(out_a, 0, sizeof *out_a);
    memset(out_b, 0, sizeof *out_b);
    char dir[4096];
    if (make_tmpdir(dir, sizeof dir, err) != 0) return -1;
    char *help = help_text(path, dir);
    const bool probes_off = help && strstr(help, "--no-roofline") && strstr(help, "--no-peak");
    /* the other build loads the weights as this one does, where it can choose */
    const char *mmp = help && strstr(help, "-mmp") ? (ma->use_mmap ? "1" : "0") : NULL;
    free(help);
    bool mmap_b = true;
    uint64_t *samples_b = calloc((size_t)reps, sizeof *samples_b);
    char commit[64] = "";
    qk_bench_session *sa = NULL;
    int rc = -1;
    if (!samples_b) {
        qk_errf(err, "out of memory");
        goto done;
    }
    if (progress) progress(user, t, "warmup", 0, reps);
    if (qk_bench_session_open(ma, t, reps, profile, &sa, err) != 0) goto done;
    for (int r = 0; r < reps; r++) {
        if (progress) progress(user, t, "rep", r + 1, reps);
        for (int side = 0; side < 2; side++) {
            const bool here = (side == 0) == (r % 2 == 0);
            if (here ? qk_bench_session_rep(sa, r, err) != 0
                     : child_rep(path, t, probes_off, mmp, dir, &samples_b[r], commit, sizeof commit, &mmap_b, err) != 0)
                goto done;
        }
    }
    qk_bench_session_close(sa, out_a);
    sa = NULL;
    *out_b = *out_a;
    out_b->samples_ns = samples_b;
    out_b->has_profile = false;
    out_b->peak_rss_bytes = 0; /* the child's is not known here */
    out_b->use_mmap = mmap_b;
    snprintf(out_b->build_commit, sizeof out_b->build_commit, "%s", commit);
    samples_b = NULL;
    rc = 0;
done:
    qk_bench_session_close(sa, NULL);
    free(samples_b);
    char f[4200];
    const char *names[] = {"rep.json", "child.log", "help.txt"};
    for (int i = 0; i < 3; i++) {
        snprintf(f, sizeof f, "%s/%s", dir, names[i]);
        unlink(f);
    }
    rmdir(dir);
    return rc;
}
