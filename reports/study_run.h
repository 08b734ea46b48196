/*
 * study_run.h — how qk-study runs one step: a sibling tool (resolved in the directory of
 * qk-study itself) with its stdout and stderr in OUTDIR/logs/<log>.log, whose first line is
 * the command; progress lines "[k/n] title ..." and "done in T (total T)" on stderr; with
 * --resume a step whose main output exists is skipped. A failed step is one error line that
 * names the step, its log's last line (usually the tool's own error) and the log file.
 */
#ifndef QK_STUDY_RUN_H
#define QK_STUDY_RUN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct qk_study_runner {
    char bindir[4096];  /* where the sibling tools are */
    const char *outdir; /* OUTDIR (logs in OUTDIR/logs) */
    int step, n_steps;  /* the step counter of the progress lines */
    double t_start;     /* qk_study_now() at the start, for the totals */
    bool resume;
} qk_study_runner;

/* Monotonic seconds. */
double qk_study_now(void);
/* "12.3 s", "4:05 min" or "1:02:03 h". */
void qk_study_fmt_elapsed(double s, char *buf, size_t cap);

/* Run argv (argv[0] = the tool's name, resolved in r->bindir; NULL-ended), logging to
 * OUTDIR/logs/<log>.log; output (may be NULL) is the step's main output for --resume.
 * Returns 0, or 1 after printing the error. */
int qk_study_run_step(qk_study_runner *r, const char *title, const char *log, const char *output, char **argv);

#endif
