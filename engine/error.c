/* error.c — formatting of engine error messages (see error.h). */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

int qk_errf(qk_err *e, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}
