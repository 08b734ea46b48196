/*
 * wikitext.c — load and validate a WikiText-2 raw file (or any UTF-8 evaluation text).
 * Validation rules: wikitext.h. UTF-8 decoding is utf8proc's (utf8proc_iterate).
 */
#include "wikitext.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "fileio.h"

int qk_utf8_validate(const char *s, size_t len, size_t *bad_offset) {
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            if (p[i] == 0) break; /* NUL: not text */
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        size_t left = len - i;
        utf8proc_ssize_t n = utf8proc_iterate(p + i, left > 4 ? 4 : (utf8proc_ssize_t)left, &cp);
        if (n <= 0) break;
        i += (size_t)n;
    }
    if (i == len) return 0;
    if (bad_offset) *bad_offset = i;
    return -1;
}

size_t qk_utf8_count(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) n++;
    return n;
}

static size_t line_of(const char *s, size_t off) {
    size_t line = 1;
    for (size_t i = 0; i < off; i++)
        if (s[i] == '\n') line++;
    return line;
}

int qk_wikitext_load(const char *path, qk_text *t, qk_err *err) {
    memset(t, 0, sizeof *t);
    size_t len = 0;
    qk_err e;
    char *data = qk_file_read(path, &len, &e);
    if (!data) return qk_errf(err, "%s", e.msg);
    if (len == 0) {
        free(data);
        return qk_errf(err, "'%s' is empty", path);
    }
    size_t bad = 0;
    if (qk_utf8_validate(data, len, &bad) != 0) {
        qk_errf(err, "'%s' is not valid UTF-8 text: bad byte 0x%02x at offset %zu (line %zu)",
                path, (unsigned char)data[bad], bad, line_of(data, bad));
        free(data);
        return -1;
    }
    size_t lines = 0, nonspace = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c == '\n') lines++;
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f') nonspace++;
    }
    if (data[len - 1] != '\n') lines++;
    if (nonspace == 0) {
        free(data);
        return qk_errf(err, "'%s' contains only whitespace", path);
    }
    t->data = data;
    t->len = len;
    t->n_lines = lines;
    return 0;
}

void qk_text_free(qk_text *t) {
    if (!t) return;
    free(t->data);
    memset(t, 0, sizeof *t);
}
