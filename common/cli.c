/* cli.c — the tools' option parsing, bounded numbers and error line (see cli.h). */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static void vfail(const char *fmt, va_list ap) {
    fprintf(stderr, "%s: error: ", qk_tool_prog());
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int qk_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(fmt, ap);
    va_end(ap);
    return 1;
}

int qk_cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(fmt, ap);
    va_end(ap);
    return QK_CLI_ERROR;
}

const char *qk_hint(const char *msg, const char *todo) { return strstr(msg, " — ") ? "" : todo; }

int qk_cli_next(int argc, char *const argv[], const char *shortopts, const struct option *longopts) {
    opterr = 0;
    const int prev = optind;
    const int c = getopt_long(argc, argv, shortopts, longopts, NULL);
    if (c != '?' && c != ':') return c;
    /* the option as written: a long option's whole word, else "-X" */
    char shortname[3] = {'-', (char)optopt, 0};
    const char *arg = prev < argc ? argv[prev] : "";
    const char *name = optopt && strncmp(arg, "--", 2) != 0 ? shortname : arg;
    char word[128];
    snprintf(word, sizeof word, "%.*s", (int)strcspn(name, "="), name);
    bool known = false; /* "--name=value" for a long option that takes no value */
    for (const struct option *o = longopts; o && o->name && name == arg && strchr(arg, '='); o++)
        known |= strcmp(word + 2, o->name) == 0;
    if (c == ':') qk_cli_error("option '%s' needs a value — run %s --help", word, qk_tool_prog());
    else if (known) qk_cli_error("option '%s' takes no value — run %s --help", word, qk_tool_prog());
    else qk_cli_error("unknown option '%s' — run %s --help", word, qk_tool_prog());
    return '?';
}

/* Leading white space, which strtoll and strtod skip, is refused too. */
static int parse_ll(const char *v, long long *x) {
    char *end;
    if (isspace((unsigned char)*v)) return -1;
    errno = 0;
    *x = strtoll(v, &end, 10);
    return errno || end == v || *end ? -1 : 0;
}

int qk_cli_int(const char *opt, const char *v, int64_t min, int64_t max, int64_t *out) {
    long long x;
    if (parse_ll(v, &x) || x < min || x > max)
        return qk_cli_error("%s expects an integer from %lld to %lld, got '%s'", opt, (long long)min, (long long)max, v);
    *out = x;
    return 0;
}

int qk_cli_i32(const char *opt, const char *v, int32_t min, int32_t max, int32_t *out) {
    int64_t x = 0;
    if (qk_cli_int(opt, v, min, max, &x)) return -1;
    *out = (int32_t)x;
    return 0;
}

int qk_cli_double(const char *opt, const char *v, double min, double max, double *out) {
    char *end;
    errno = 0;
    const double x = strtod(v, &end);
    if (errno || end == v || *end || isspace((unsigned char)*v) || !isfinite(x) || x < min || x > max)
        return qk_cli_error("%s expects a number from %g to %g, got '%s'", opt, min, max, v);
    *out = x;
    return 0;
}

int qk_cli_i32_list(const char *opt, const char *v, int32_t min, int32_t max, int32_t *out, size_t cap, size_t *n) {
    size_t k = *n;
    for (const char *p = v;; p++) {
        char item[32];
        const size_t len = strcspn(p, ",");
        long long x;
        if (len == 0 || len >= sizeof item || k == cap) goto bad;
        memcpy(item, p, len);
        item[len] = 0;
        if (parse_ll(item, &x) || x < min || x > max) goto bad;
        out[k++] = (int32_t)x;
        p += len;
        if (!*p) break;
    }
    *n = k;
    return 0;
bad:
    return qk_cli_error("%s expects a comma-separated list of integers from %d to %d (up to %zu in all), got '%s'", opt,
                        min, max, cap, v);
}
