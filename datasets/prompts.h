/*
 * prompts.h — the case study's prompt set: selected lines of a WikiText split, one prompt
 * per line, used by `qk-perplexity --prompts FILE` for per-prompt PPL comparisons.
 *
 * Selection rule (the first n_max lines, in file order, that pass all of):
 *   - the line is taken without its terminating "\n" (and without one '\r' before it);
 *   - it is not blank: it contains at least one character other than space, tab, '\r',
 *     '\v', '\f';
 *   - its length in characters is > min_chars and < max_chars (defaults 100 and 1000),
 *     where characters are Unicode code points of the UTF-8 text — not bytes — so that
 *     a line of accented or non-Latin text is judged by what a reader sees.
 *     A line of exactly 100 or exactly 1000 code points is excluded.
 * Selected lines are kept verbatim (WikiText's leading and trailing spaces included), so
 * each prompt is exactly a substring of the source text.
 *
 * Prompt-set file format: UTF-8, one prompt per line, each line terminated by "\n",
 * nothing else (no header). Written atomically.
 */
#ifndef QK_PROMPTS_H
#define QK_PROMPTS_H

#include <stddef.h>

#include "error.h"

#define QK_PROMPTS_DEFAULT_N 100
#define QK_PROMPTS_DEFAULT_MIN 100
#define QK_PROMPTS_DEFAULT_MAX 1000

typedef struct qk_prompt_rules {
    int n_max;        /* how many prompts to take (>= 1) */
    size_t min_chars; /* exclusive lower bound on code points */
    size_t max_chars; /* exclusive upper bound on code points */
} qk_prompt_rules;

/* The defaults above. */
qk_prompt_rules qk_prompt_rules_default(void);

typedef struct qk_prompt_set {
    int n;
    char **text;      /* n NUL-terminated prompts, without line terminator */
    size_t *line_no;  /* 1-based source line of each prompt (0 when loaded from a set file) */
} qk_prompt_set;

/* Select prompts from len bytes of UTF-8 text. Errors: invalid rules, text not valid
 * UTF-8, no line passing the rule. Fewer than n_max matches is not an error (the caller
 * sees out->n). */
int qk_prompts_build(const char *text, size_t len, const qk_prompt_rules *rules,
                     qk_prompt_set *out, qk_err *err);

/* Write the set (format above) atomically. Errors: a prompt containing '\n' or '\r', I/O. */
int qk_prompts_write(const char *path, const qk_prompt_set *set, qk_err *err);

/* Read a prompt-set file: every line is one prompt ("\r\n" tolerated). Errors: missing
 * file, invalid UTF-8, no prompts, a blank line, a line holding '\r'. */
int qk_prompts_load(const char *path, qk_prompt_set *out, qk_err *err);

void qk_prompts_free(qk_prompt_set *set);

#endif
