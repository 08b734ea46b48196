/*
 * paths.h — is an output file one of a tool's inputs, or another of its outputs?
 *
 * Files are compared by identity, not by name: "./b", "b" and "dir/../b" are the same
 * file, and so are two hard links or a symlink and its target. A path that exists is
 * identified by its device and inode; one that does not exist yet (an output about to be
 * created) by its directory's device and inode plus its last name component. A tool calls
 * qk_paths_check before it writes anything, so that no output can overwrite an input.
 */
#ifndef QK_PATHS_H
#define QK_PATHS_H

#include <stddef.h>

#include "error.h"

/* 0 when no output (NULL and "-" = stdout are skipped) is the same file as an input or as
 * another output; else -1 with err set to one line naming both paths. Paths whose
 * directory does not exist cannot be compared and are not reported here (the tool's own
 * output-path check reports them). */
int qk_paths_check(const char *const *inputs, size_t n_inputs, const char *const *outputs, size_t n_outputs,
                   qk_err *err);

/* Check, before anything is printed or computed, that an output file can be created at
 * path: the path does not name a directory, and its directory (the part before the last
 * '/', "." when there is none) exists, is a directory, and is writable and searchable by
 * this process (access(2) W_OK|X_OK). Returns 0, or -1 with err naming the path or its
 * directory and what to do. It does not create anything; a later create can still fail
 * (disk full, races), and the writers report that. "Before anything": qk_quantize_file
 * calls it right after reading the input header, before its first log line. */
int qk_paths_check_output(const char *path, qk_err *err);

#endif
