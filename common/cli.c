/* cli.c — bounded integer options (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>

int qk_cli_int(const char *opt, const char *v, int64_t min, int64_t max, int64_t *out, qk_err *err) {
    char *end;
    errno = 0;
    const long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < min || x > max)
        return qk_errf(err, "%s expects an integer from %lld to %lld, got '%s'", opt, (long long)min, (long long)max, v);
    *out = x;
    return 0;
}

int qk_cli_i32(const char *opt, const char *v, int32_t min, int32_t max, int32_t *out, qk_err *err) {
    int64_t x;
    if (qk_cli_int(opt, v, min, max, &x, err)) return -1;
    *out = (int32_t)x;
    return 0;
}
