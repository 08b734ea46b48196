/*
 * sensitivity_io.h — the files of the sensitivity pass (sensitivity.h): the resume
 * journal, and the JSON reader/writer (declared in sensitivity.h).
 *
 * Journal "<out>.journal", text, one record per line:
 *   line 1:  "qkit-sensitivity-journal 1\t<mode>\t<n_ctx>\t<n_chunks>\t<model>\t<calibration|->\t<imatrix|->"
 *   then:    "E\t<tensor name>\t<type name>\t<bytes>\t<kld>\t<kld_unc>\t<proxy>\t<sq_err>"
 *            (numbers in C99 hexadecimal floating point, %a, so they read back exactly;
 *            "nan" where not measured).
 * Each record is flushed when written, so a killed run loses at most the (tensor, type)
 * in progress; an incomplete last line (no '\n') is ignored when read.
 */
#ifndef QK_SENSITIVITY_IO_H
#define QK_SENSITIVITY_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "error.h"
#include "sensitivity.h"

typedef struct qk_sens_jentry {
    char name[65];
    qk_sens_cand c;
} qk_sens_jentry;

typedef struct qk_sens_journal {
    FILE *f;
    char *path;
    qk_sens_jentry *v;
    size_t n_entries, cap;
} qk_sens_journal;

/* Open "<out_path>.journal" for s's settings. resume: read the finished entries of an
 * existing journal (its settings line must equal s's, else an error saying so) and append
 * to it; otherwise (or when none exists) start a new one. Returns 0 or -1 with err set. */
int qk_sens_journal_open(qk_sens_journal *j, const qk_sens *s, const char *out_path, bool resume, qk_err *err);
/* true and *c's measured fields filled when (name, c->type) is in the journal. */
bool qk_sens_journal_lookup(const qk_sens_journal *j, const char *name, qk_sens_cand *c);
/* Append one finished entry (flushed). */
int qk_sens_journal_add(qk_sens_journal *j, const char *name, const qk_sens_cand *c, qk_err *err);
/* Close and delete the journal file (after the JSON is written). */
void qk_sens_journal_remove(qk_sens_journal *j);
/* Close (the file stays) and free. */
void qk_sens_journal_close(qk_sens_journal *j);

#endif
