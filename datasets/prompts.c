/*
 * prompts.c — selecting, writing and reading the case study's prompt set.
 * Selection rule and file format: prompts.h.
 */
#include "prompts.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "wikitext.h"

qk_prompt_rules qk_prompt_rules_default(void) {
    qk_prompt_rules r = {QK_PROMPTS_DEFAULT_N, QK_PROMPTS_DEFAULT_MIN, QK_PROMPTS_DEFAULT_MAX};
    return r;
}

static bool is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\v' && c != '\f') return false;
    }
    return true;
}

static int push(qk_prompt_set *set, int *cap, const char *s, size_t n, size_t line_no,
                qk_err *err) {
    if (set->n == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        char **nt = realloc(set->text, sizeof(char *) * (size_t)nc);
        if (!nt) return qk_errf(err, "out of memory");
        set->text = nt;
        size_t *nl = realloc(set->line_no, sizeof(size_t) * (size_t)nc);
        if (!nl) return qk_errf(err, "out of memory");
        set->line_no = nl;
        *cap = nc;
    }
    char *copy = malloc(n + 1);
    if (!copy) return qk_errf(err, "out of memory");
    memcpy(copy, s, n);
    copy[n] = 0;
    set->text[set->n] = copy;
    set->line_no[set->n] = line_no;
    set->n++;
    return 0;
}

/* Length of the line starting at s (at most `left` bytes) without its "\n" / "\r\n";
 * *next receives the bytes to skip to the next line. */
static size_t line_len(const char *s, size_t left, size_t *next) {
    const char *nl = memchr(s, '\n', left);
    size_t n = nl ? (size_t)(nl - s) : left;
    *next = nl ? n + 1 : n;
    if (n > 0 && s[n - 1] == '\r') n--;
    return n;
}

int qk_prompts_build(const char *text, size_t len, const qk_prompt_rules *rules,
                     qk_prompt_set *out, qk_err *err) {
    memset(out, 0, sizeof *out);
    if (rules->n_max < 1) return qk_errf(err, "the number of prompts must be >= 1");
    if (rules->max_chars <= rules->min_chars + 1)
        return qk_errf(err, "no length can satisfy %zu < chars < %zu", rules->min_chars,
                       rules->max_chars);
    size_t bad;
    if (qk_utf8_validate(text, len, &bad) != 0)
        return qk_errf(err, "text is not valid UTF-8 (offset %zu)", bad);
    int cap = 0;
    size_t off = 0, line_no = 0;
    while (off < len && out->n < rules->n_max) {
        size_t next;
        size_t n = line_len(text + off, len - off, &next);
        line_no++;
        const char *s = text + off;
        off += next;
        if (is_blank(s, n)) continue;
        size_t chars = qk_utf8_count(s, n);
        if (chars <= rules->min_chars || chars >= rules->max_chars) continue;
        if (push(out, &cap, s, n, line_no, err) != 0) {
            qk_prompts_free(out);
            return -1;
        }
    }
    if (out->n == 0) {
        qk_prompts_free(out);
        return qk_errf(err, "no line is non-blank with %zu < characters < %zu", rules->min_chars,
                       rules->max_chars);
    }
    return 0;
}

int qk_prompts_write(const char *path, const qk_prompt_set *set, qk_err *err) {
    qk_sb sb = {0};
    for (int i = 0; i < set->n; i++) {
        if (strpbrk(set->text[i], "\r\n")) {
            qk_sb_free(&sb);
            return qk_errf(err, "prompt %d contains a line break", i + 1);
        }
        qk_sb_puts(&sb, set->text[i]);
        qk_sb_append(&sb, "\n", 1);
    }
    if (!qk_sb_ok(&sb)) {
        qk_sb_free(&sb);
        return qk_errf(err, "out of memory");
    }
    int rc = qk_afile_write_all(path, qk_sb_str(&sb), sb.len, err);
    qk_sb_free(&sb);
    return rc;
}

int qk_prompts_load(const char *path, qk_prompt_set *out, qk_err *err) {
    memset(out, 0, sizeof *out);
    size_t len;
    qk_err e;
    char *data = qk_file_read(path, &len, &e);
    if (!data) return qk_errf(err, "%s", e.msg);
    size_t bad;
    if (qk_utf8_validate(data, len, &bad) != 0) {
        free(data);
        return qk_errf(err, "'%s' is not valid UTF-8 (offset %zu)", path, bad);
    }
    int cap = 0;
    size_t off = 0, line_no = 0;
    while (off < len) {
        size_t next;
        size_t n = line_len(data + off, len - off, &next);
        line_no++;
        if (is_blank(data + off, n)) {
            qk_prompts_free(out);
            free(data);
            return qk_errf(err, "'%s' line %zu is blank (a prompt set has one prompt per line)",
                           path, line_no);
        }
        /* what qk_prompts_write cannot write back (a NUL is not valid UTF-8 here, above) */
        if (memchr(data + off, '\r', n)) {
            qk_prompts_free(out);
            free(data);
            return qk_errf(err, "'%s' line %zu holds a carriage return inside the line — a prompt set is "
                           "plain text, one prompt per line", path, line_no);
        }
        if (push(out, &cap, data + off, n, 0, err) != 0) {
            qk_prompts_free(out);
            free(data);
            return -1;
        }
        off += next;
    }
    free(data);
    if (out->n == 0) return qk_errf(err, "'%s' holds no prompts", path);
    return 0;
}

void qk_prompts_free(qk_prompt_set *set) {
    if (!set) return;
    for (int i = 0; i < set->n; i++) free(set->text[i]);
    free(set->text);
    free(set->line_no);
    memset(set, 0, sizeof *set);
}
