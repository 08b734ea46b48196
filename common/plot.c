/* plot.c — gnuplot script conventions and running gnuplot (see plot.h). */
#include "plot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "afile.h"
#include "proc.h"

void qk_plot_gp_string(qk_sb *out, const char *s) {
    qk_sb_append(out, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') qk_sb_append(out, "\\", 1);
        if (*s == '\n' || *s == '\r') continue;
        qk_sb_append(out, s, 1);
    }
    qk_sb_append(out, "\"", 1);
}

void qk_plot_gp_preamble(qk_sb *out, const char *name, const char *what, int w, int h) {
    qk_sb_printf(out,
        "# %s.gp — %s (written by qkit; re-run with: gnuplot %s.gp)\n"
        "if (!exists(\"outfile\")) outfile = \"%s.png\"\n"
        "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
        "    set terminal pngcairo noenhanced size %d,%d font \"sans,11\"\n"
        "} else {\n"
        "    set terminal png noenhanced size %d,%d\n"
        "}\n"
        "set output outfile\n"
        "set encoding utf8\n",
        name, what, name, name, w, h, w, h);
}

/* First line of gnuplot's log that looks like an error, for the error message. */
static void first_error_line(const char *log, char *buf, size_t cap) {
    buf[0] = 0;
    char *text = qk_file_read(log, NULL, NULL);
    if (!text) return;
    const char *p = text, *pick = NULL;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (!pick && n > 0 && memmem(p, n, "rror", 4)) pick = p;
        if (!nl) break;
        p = nl + 1;
    }
    if (!pick) pick = text;
    size_t n = strcspn(pick, "\n");
    if (n >= cap) n = cap - 1;
    memcpy(buf, pick, n);
    buf[n] = 0;
    free(text);
}

int qk_plot_run_gnuplot(const char *gnuplot, const char *dir, const char *name, qk_err *err) {
    char outvar[4200], script[128], log[4096], final_png[4096];
    snprintf(script, sizeof script, "%s.gp", name);
    snprintf(log, sizeof log, "%s/.%s.gnuplot.log", dir, name);
    snprintf(final_png, sizeof final_png, "%s/%s.png", dir, name);
    /* gnuplot writes into our registered temporary (afile.h), renamed when it is done */
    qk_afile *png = qk_afile_create(final_png, err);
    if (!png) return -1;
    const char *tmp = strrchr(qk_afile_temp_path(png), '/');
    snprintf(outvar, sizeof outvar, "outfile='%s'", tmp ? tmp + 1 : qk_afile_temp_path(png)); /* gnuplot runs in dir */
    unlink(log);
    char *argv[] = {(char *)gnuplot, "-e", outvar, script, NULL};
    qk_err e;
    int st = qk_proc_run(argv, dir, log, &e);
    if (st != 0) {
        char line[300];
        first_error_line(log, line, sizeof line);
        qk_afile_abort(png);
        unlink(log);
        if (st < 0) return qk_errf(err, "gnuplot on %s/%s: %s", dir, script, e.msg);
        return qk_errf(err, "gnuplot failed on %s/%s (exit %d): %s", dir, script, st, line);
    }
    unlink(log);
    struct stat sb;
    if (stat(qk_afile_temp_path(png), &sb) != 0 || sb.st_size == 0) {
        qk_afile_abort(png);
        return qk_errf(err, "gnuplot produced no %s", final_png);
    }
    return qk_afile_commit(png, err);
}

bool qk_plot_find_gnuplot(char *buf, size_t cap) {
    const char *gp = getenv("QK_GNUPLOT");
    if (!gp) gp = "gnuplot";
    return *gp && qk_proc_find_in_path(gp, buf, cap);
}
