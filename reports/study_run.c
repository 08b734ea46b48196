/*
 * study_run.c — running one step of qk-study (the protocol: study_run.h).
 */
#include "study_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "afile.h"
#include "cli.h"
#include "fileio.h"
#include "proc.h"

double qk_study_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void qk_study_fmt_elapsed(double s, char *buf, size_t cap) {
    if (s < 60) snprintf(buf, cap, "%.1f s", s);
    else if (s < 3600) snprintf(buf, cap, "%d:%02d min", (int)s / 60, (int)s % 60);
    else snprintf(buf, cap, "%d:%02d:%02d h", (int)s / 3600, ((int)s / 60) % 60, (int)s % 60);
}

int qk_study_run_step(qk_study_runner *s, const char *title, const char *log, const char *output, char **argv) {
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
        return qk_fail("%s — check that OUTDIR is writable", err.msg);
    }
    fprintf(stderr, "qk-study: [%d/%d] %s ...\n", s->step, s->n_steps, title);
    double t0 = qk_study_now();
    int st = qk_proc_run(argv, NULL, logpath, &err);
    argv[0] = saved;
    double t1 = qk_study_now();
    qk_study_fmt_elapsed(t1 - t0, el, sizeof el);
    qk_study_fmt_elapsed(t1 - s->t_start, tot, sizeof tot);
    if (st == 0) {
        fprintf(stderr, "qk-study: [%d/%d] %s: done in %s (total %s)\n", s->step, s->n_steps,
                title, el, tot);
        return 0;
    }
    if (st < 0)
        return qk_fail("step %d/%d '%s' failed after %s: %s — see %s", s->step, s->n_steps, title, el, err.msg,
                       logpath);
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
    return qk_fail("step %d/%d '%s' failed after %s (exit %d): %s — see %s", s->step, s->n_steps, title, el, st,
                   last, logpath);
}

