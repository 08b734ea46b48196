/*
 * proc.h — running external programs (qk-study runs the sibling qk-* tools, the charts
 * run gnuplot) and finding the running executable's directory.
 *
 * Programs are started with fork + execv/execvp (no shell, so arguments need no quoting),
 * optionally in another working directory, with stdout and stderr appended to a log file.
 */
#ifndef QK_PROC_H
#define QK_PROC_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* Run argv[0] with the NULL-terminated argv and wait for it.
 *   argv[0]: a path (contains '/') or a program name searched in $PATH.
 *   cwd:     working directory of the child, or NULL for ours.
 *   log_path: file that receives the child's stdout and stderr (created/appended);
 *            NULL: the child inherits ours.
 * Returns the child's exit status (0..255; 0 = success), or -1 with err filled when the
 * program could not be started (127 from the child's failed exec is reported as -1 with
 * "cannot run") or was killed by a signal (the message names it). */
int qk_proc_run(char *const argv[], const char *cwd, const char *log_path, qk_err *err);

/* Directory holding the running executable (readlink /proc/self/exe), no trailing '/'. */
int qk_proc_self_dir(char *buf, size_t cap, qk_err *err);

/* Resolve a program name against $PATH (a name with '/' is checked as is). Writes the
 * full path into buf when found. */
bool qk_proc_find_in_path(const char *name, char *buf, size_t cap);

#endif
