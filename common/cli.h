/*
 * cli.h — what every qk-* tool's command line shares: option parsing on glibc's
 * getopt_long, bounded numbers with one error wording, and one error style.
 *
 * Each tool has one `parse_args(argc, argv, &opts)` that fills a struct of its options:
 *
 *     static const struct option LONG[] = {{"threads", required_argument, NULL, 't'}, ...};
 *     int c;
 *     while ((c = qk_cli_next(argc, argv, ":t:h", LONG)) != -1) {
 *         switch (c) {
 *         case 't': if (qk_cli_i32("-t", optarg, 1, QK_CLI_MAX_THREADS, &o->n_threads)) return QK_CLI_ERROR; break;
 *         case 'h': usage(stdout); return QK_CLI_DONE;
 *         default: return QK_CLI_ERROR; // qk_cli_next printed the error
 *         }
 *     }
 *
 * and main() does `int rc = parse_args(...); if (rc) return rc < 0;` (QK_CLI_ERROR = -1:
 * error printed, exit status 1; QK_CLI_DONE = 1: done, e.g. --help, exit status 0).
 *
 * Errors are one line on stderr, "PROG: error: WHAT — WHAT TO DO", PROG as given to
 * qk_tool_init (tool.h). The number parsers print that line themselves (a bad option value
 * always ends the tool) and return -1.
 */
#ifndef QK_CLI_H
#define QK_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

/* Limits the tools apply to -c, -b and -t: n_ctx and n_batch up to 2^24 tokens, threads up
 * to 4096 (larger values only overflow buffers sized from them, or fail to start). */
#define QK_CLI_MAX_TOKENS (1 << 24)
#define QK_CLI_MAX_THREADS 4096

/* What parse_args returns: run the tool, stop with status 0 (--help), stop with status 1. */
enum { QK_CLI_RUN = 0, QK_CLI_DONE = 1, QK_CLI_ERROR = -1 };

/* Print "PROG: error: " + the formatted message + "\n" on stderr; returns 1 (the exit
 * status of a failed tool), so that `return qk_fail(...)` ends main(). */
int qk_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same line; returns QK_CLI_ERROR, for parse_args. */
int qk_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* todo (" — what to do"), or "" when msg already says what to do (holds " — "): for
 * `qk_fail("%s%s", err.msg, qk_hint(err.msg, " — check the path"))`. */
const char *qk_hint(const char *msg, const char *todo);

/* getopt_long with the tools' error handling: shortopts must start with ':'. Returns the
 * option's value (optarg holds its argument), -1 after the last option (optind indexes the
 * first operand), or '?' after printing "unknown option 'X' — run PROG --help",
 * "option 'X' needs a value — ..." or "option 'X' takes no value — ...". A leading '-' before
 * the ':' (operands returned in order as option 1, optarg = the operand) is allowed. */
int qk_cli_next(int argc, char *const argv[], const char *shortopts, const struct option *longopts);

/* A whole decimal number (optional sign, no trailing characters) in [min, max] into *out.
 * Returns 0, or prints "OPT expects an integer from MIN to MAX, got 'V'" and returns -1. */
int qk_cli_int(const char *opt, const char *v, int64_t min, int64_t max, int64_t *out);
/* The same into an int32_t (min and max must fit one). */
int qk_cli_i32(const char *opt, const char *v, int32_t min, int32_t max, int32_t *out);
/* A finite decimal number (strtod syntax, no trailing characters) in [min, max]; prints
 * "OPT expects a number from MIN to MAX, got 'V'" otherwise. */
int qk_cli_double(const char *opt, const char *v, double min, double max, double *out);
/* Append a comma-separated list of integers in [min, max] ("512,1024") to out[*n..cap)
 * (*n counts what out holds: 0 at first, so a repeated option adds up). Prints "OPT expects
 * a comma-separated list of integers from MIN to MAX (up to CAP in all), got 'V'"
 * otherwise, and leaves out and *n as they were. */
int qk_cli_i32_list(const char *opt, const char *v, int32_t min, int32_t max, int32_t *out, size_t cap, size_t *n);

#endif
