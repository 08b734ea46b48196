/* error.c — formatting of engine error messages (see error.h).
 *
 * A message is one line by contract, but it often quotes text taken from an input file
 * (a GGUF key, a tensor name, a token): control characters in that text (newline, ESC,
 * ...) are replaced by '?' so that a hostile file cannot break the one-line rule or send
 * terminal escape sequences through a tool's error output. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

int qk_errf(qk_err *e, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        for (char *p = e->msg; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    }
    return -1;
}
