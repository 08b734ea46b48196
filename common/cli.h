/*
 * cli.h — command-line values the tools share: bounded integers with one error wording.
 */
#ifndef QK_CLI_H
#define QK_CLI_H

#include <stdint.h>

#include "error.h"

/* A whole decimal number (optional sign, no trailing characters) in [min, max] into *out.
 * Returns 0, or -1 with err "OPT expects an integer from MIN to MAX, got 'V'". */
int qk_cli_int(const char *opt, const char *v, int64_t min, int64_t max, int64_t *out, qk_err *err);

/* The same into an int32_t (min and max must fit one). */
int qk_cli_i32(const char *opt, const char *v, int32_t min, int32_t max, int32_t *out, qk_err *err);

/* Limits the tools apply to -c, -b and -t: n_ctx and n_batch up to 2^24 tokens, threads up
 * to 4096 (larger values only overflow buffers sized from them, or fail to start). */
#define QK_CLI_MAX_TOKENS (1 << 24)
#define QK_CLI_MAX_THREADS 4096

#endif
