/*
 * wikitext.h — loading a WikiText-2 raw split (wiki.test.raw, wiki.valid.raw,
 * wiki.train.raw) or any other UTF-8 text file used as evaluation text.
 *
 * Format (Merity et al. 2016, "Pointer Sentinel Mixture Models"; the `wikitext-2-raw-v1`
 * archive): plain UTF-8 text, LF line endings, one paragraph or heading per line,
 * headings as " = Title = ", empty lines as " \n". wiki.test.raw is 1,290,590 bytes and
 * 4,358 lines (sha256 in ../shared/data/SOURCES.md).
 *
 * The loader reads the whole file and checks that it is non-empty, contains something
 * other than whitespace, has no NUL byte and is valid UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF — utf8proc's definition). An error names the byte
 * offset and line of the first bad byte.
 */
#ifndef QK_WIKITEXT_H
#define QK_WIKITEXT_H

#include <stddef.h>

#include "error.h"

typedef struct qk_text {
    char *data;     /* malloc'd, NUL-terminated */
    size_t len;     /* bytes, excluding the NUL */
    size_t n_lines; /* '\n'-terminated lines, plus one if the last line has no '\n' */
} qk_text;

/* Load and validate a text file. On error *t is left empty (nothing to free). */
int qk_wikitext_load(const char *path, qk_text *t, qk_err *err);
void qk_text_free(qk_text *t);

/* Validate len bytes as UTF-8 without NUL bytes. Returns 0, or -1 with *bad_offset set
 * to the offset of the first invalid byte (bad_offset may be NULL). */
int qk_utf8_validate(const char *s, size_t len, size_t *bad_offset);

/* Number of Unicode code points in len bytes of valid UTF-8 (bytes that are not a
 * UTF-8 lead byte's continuation are each counted once, so invalid input still gives a
 * finite count). */
size_t qk_utf8_count(const char *s, size_t len);

#endif
