/*
 * tensor_rules.c — --tensor-type / --tensor-type-file rules: parse, compile, free (see
 * tensor_rules.h for the syntax and how it compares with llama-quantize's).
 */
#include "tensor_rules.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A weight storage type (the activation-only Q8_1 and Q8_K are not). */
static int storage_type(qk_type t) { return qk_type_get(t) != NULL && t != QK_TYPE_Q8_1 && t != QK_TYPE_Q8_K; }

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* The hint that ends each parse error: what a rule looks like. */
static const char *hint(const char *origin) {
    return strcmp(origin, "--tensor-type") == 0 ? "write REGEX=TYPE, e.g. --tensor-type 'ffn_down=q6_k'"
                                                : "write one REGEX=TYPE per line, e.g. ffn_down=q6_k";
}

int qk_rules_add(qk_rule_list *L, const char *text, const char *origin, qk_err *err) {
    const char *eq = strchr(text, '=');
    if (!eq) return qk_errf(err, "%s: '%s' has no '=' — %s", origin, text, hint(origin));
    if (eq == text)
        return qk_errf(err, "%s: '%s' has no tensor name pattern before '=' — %s", origin, text, hint(origin));
    if (!eq[1]) return qk_errf(err, "%s: '%s' has no type after '=' — %s", origin, text, hint(origin));
    qk_type type;
    if (qk_type_from_name(eq + 1, &type) != 0)
        return qk_errf(err, "%s: '%s': unknown ggml type '%s' — use a name such as q8_0, q6_K, q4_K, f16", origin,
                       text, eq + 1);
    if (!storage_type(type))
        return qk_errf(err, "%s: '%s': %s is an activation type, not one a weight can be stored in — use q8_0",
                       origin, text, qk_type_name(type));
    if (L->n == L->cap) {
        size_t cap = L->cap ? 2 * L->cap : 8;
        qk_mix_rule *v = realloc(L->v, cap * sizeof *v);
        if (!v) return qk_errf(err, "out of memory");
        L->v = v;
        L->cap = cap;
    }
    qk_mix_rule *r = &L->v[L->n];
    memset(r, 0, sizeof *r);
    r->text = dup_n(text, strlen(text));
    r->origin = dup_n(origin, strlen(origin));
    char *pattern = dup_n(text, (size_t)(eq - text));
    if (!r->text || !r->origin || !pattern) {
        free(r->text);
        free(r->origin);
        free(pattern);
        return qk_errf(err, "out of memory");
    }
    /* lower-cased, as llama-quantize does (std::transform tolower on the name part) */
    for (char *p = pattern; *p; p++) *p = (char)tolower((unsigned char)*p);
    int rc = regcomp(&r->re, pattern, REG_EXTENDED | REG_NOSUB);
    free(pattern);
    if (rc != 0) {
        char why[256];
        regerror(rc, &r->re, why, sizeof why);
        qk_errf(err, "%s: '%s': bad regular expression (%s) — patterns are POSIX extended regular expressions",
                origin, text, why);
        free(r->text);
        free(r->origin);
        return -1;
    }
    r->type = type;
    L->n++;
    return 0;
}

/* One line of a rules file: comment stripped, trimmed; "" when nothing is left. */
static char *rule_text(char *line) {
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    while (isspace((unsigned char)*line)) line++;
    size_t n = strlen(line);
    while (n > 0 && isspace((unsigned char)line[n - 1])) line[--n] = 0;
    return line;
}

int qk_rules_add_file(qk_rule_list *L, const char *path, qk_err *err) {
    FILE *f = fopen(path, "r");
    if (!f) return qk_errf(err, "--tensor-type-file: cannot open '%s': %s — check the path", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    long lineno = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        char origin[4200];
        snprintf(origin, sizeof origin, "%s:%ld", path, lineno);
        if ((size_t)len != strlen(line)) { /* a NUL byte: not a text file */
            rc = qk_errf(err, "%s: a NUL byte — a rules file is text, one REGEX=TYPE per line", origin);
            break;
        }
        char *t = rule_text(line);
        if (!*t) continue;
        if (t[strcspn(t, " \t\r\v\f")]) {
            rc = qk_errf(err, "%s: '%s' has white space in it — write one REGEX=TYPE per line, without spaces",
                         origin, t);
            break;
        }
        if ((rc = qk_rules_add(L, t, origin, err)) != 0) break;
    }
    if (rc == 0 && ferror(f)) rc = qk_errf(err, "--tensor-type-file: cannot read '%s': %s", path, strerror(errno));
    free(line);
    fclose(f);
    return rc;
}

void qk_rules_free(qk_rule_list *L) {
    for (size_t i = 0; i < L->n; i++) {
        regfree(&L->v[i].re);
        free(L->v[i].text);
        free(L->v[i].origin);
    }
    free(L->v);
    memset(L, 0, sizeof *L);
}
